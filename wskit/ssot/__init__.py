"""wskit.ssot: prove that import paths reach one object, and find duplicate implementations.

- `check_import_paths(paths, mode="runtime" | "static", ...)` -> `ImportPathReport`
- `scan_tree(root, role)` -> `ScanReport`
- `wskit ssot check | paths | scan` on the command line (see `wskit.ssot.cli`).
"""

from wskit.ssot.check import ImportPathReport, check_import_paths
from wskit.ssot.model import Finding, PathRow
from wskit.ssot.paths import ImportPath, parse_import_path
from wskit.ssot.runtime import ProbeCall
from wskit.ssot.scan import ClassRecord, ScanReport, scan_tree

__all__ = [
    "ClassRecord",
    "Finding",
    "ImportPath",
    "ImportPathReport",
    "PathRow",
    "ProbeCall",
    "ScanReport",
    "check_import_paths",
    "parse_import_path",
    "scan_tree",
]
