"""wskit.ssot: prove that import paths reach one object, and find duplicate implementations.

- `check_import_paths(paths, mode="runtime" | "static", ...)` -> `ImportPathReport`
- `scan_tree(root, role)` -> `ScanReport`
- `audit_calls(config_or_symbols, root)` -> `AuditReport`: every import and call of the symbols
- `wskit.ssot.fix.fix_imports(...)`: migrate deprecated imports (kept apart: it needs libcst)
- `wskit.ssot.proposal.propose_config(...)`: the symbols a tree suggests (`wskit ssot init`)
- `wskit.ssot.notebook.generate_notebook(...)`: the analysis notebook that guards a configuration
  in CI, with `wskit.ssot.guard` for its verdicts (`wskit ssot notebook`)
- `wskit ssot init | notebook | check | paths | scan | audit | fix` on the command line (see `wskit.ssot.cli`).
"""

from wskit.ssot.audit import AuditReport, AuditRow, audit_calls
from wskit.ssot.check import ImportPathReport, check_import_paths
from wskit.ssot.config import SsotConfig, SymbolSpec, load_config
from wskit.ssot.model import Finding, PathRow
from wskit.ssot.paths import ImportPath, parse_import_path
from wskit.ssot.runtime import ProbeCall
from wskit.ssot.scan import ClassRecord, ScanReport, scan_tree

__all__ = [
    "AuditReport",
    "AuditRow",
    "ClassRecord",
    "Finding",
    "ImportPath",
    "ImportPathReport",
    "PathRow",
    "ProbeCall",
    "ScanReport",
    "SsotConfig",
    "SymbolSpec",
    "audit_calls",
    "check_import_paths",
    "load_config",
    "parse_import_path",
    "scan_tree",
]
