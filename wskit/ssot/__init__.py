"""wskit.ssot: prove that import paths reach one object, and find duplicate implementations.

- `check_import_paths(paths, mode="runtime" | "static", ...)` -> `ImportPathReport`
- `scan_tree(root, role)` -> `ScanReport`
- `audit_calls(config_or_symbols, root)` -> `AuditReport`: every import and call of the symbols
- `fix_imports(config_or_symbols, root)`: migrate deprecated imports (libcst is imported on first use)
- `collect_verdicts`, `compare_with_baseline`, `tree_root`: the verdicts a generated notebook guards
- `wskit.ssot.adopt.proposal.propose_config(...)`: the symbols a tree suggests (`wskit ssot init`)
- `wskit.ssot.adopt.notebook.generate_notebook(...)`: the analysis notebook that guards a configuration
  in CI (`wskit ssot notebook`)

The stages live in folders, each importing only the ones below it: `read` (sources, never
imported) -> `resolve` (names to definitions) -> `render` (reports as data, and their renderers)
-> `checks` (configuration, paths, scan, audit, fix) -> `adopt` (init, notebook, guard) -> `cli`.
- `wskit ssot init | notebook | check | paths | scan | audit | fix` on the command line (see `wskit.ssot.cli`).
"""

from typing import TYPE_CHECKING

from wskit.exports import lazy_exports

if TYPE_CHECKING:
    from wskit.ssot.adopt.guard import collect_verdicts, compare_with_baseline, tree_root
    from wskit.ssot.checks.audit import AuditReport, AuditRow, audit_calls
    from wskit.ssot.checks.config import SsotConfig, load_config
    from wskit.ssot.checks.fix import fix_imports
    from wskit.ssot.checks.paths import ImportPathReport, check_import_paths
    from wskit.ssot.checks.scan import ClassRecord, ScanReport, scan_tree
    from wskit.ssot.model import Finding, PathRow, SymbolSpec
    from wskit.ssot.resolve.import_path import ImportPath, parse_import_path
    from wskit.ssot.resolve.runtime import ProbeCall

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
    "collect_verdicts",
    "compare_with_baseline",
    "fix_imports",
    "load_config",
    "parse_import_path",
    "scan_tree",
    "tree_root",
]

_MODULES = {
    "wskit.ssot.adopt.guard": ("collect_verdicts", "compare_with_baseline", "tree_root"),
    "wskit.ssot.checks.audit": ("AuditReport", "AuditRow", "audit_calls"),
    "wskit.ssot.checks.config": ("SsotConfig", "load_config"),
    "wskit.ssot.checks.fix": ("fix_imports",),  # libcst: imported only by a fix
    "wskit.ssot.checks.paths": ("ImportPathReport", "check_import_paths"),
    "wskit.ssot.checks.scan": ("ClassRecord", "ScanReport", "scan_tree"),
    "wskit.ssot.model": ("Finding", "PathRow", "SymbolSpec"),
    "wskit.ssot.resolve.import_path": ("ImportPath", "parse_import_path"),
    "wskit.ssot.resolve.runtime": ("ProbeCall",),
}
_HOMES = {name: module for module, names in _MODULES.items() for name in names}
"""Where each public name is defined."""

if not TYPE_CHECKING:  # mypy reads the names above, and reports a misspelled one
    __getattr__, __dir__ = lazy_exports(__name__, _HOMES)
