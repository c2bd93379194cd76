"""A configuration's analysis as verdicts (numbers of problems), and a guard that none of them grows.

`analyze(config)` runs what a generated notebook runs (runtime and static checks of each symbol,
the role scan, the call-site audit and a dry-run import migration); `collect_verdicts` turns
those reports into counts of problems, lower being better; `compare_with_baseline` compares them
with the counts recorded when the notebook was generated. The notebook's last cell fails when
a count grows: a new path to another class, a second implementation, one more import of a
deprecated path or one more call error. A count that shrinks passes (lower the baseline by
regenerating the notebook).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wskit.ssot.checks.audit import audit_calls
from wskit.ssot.checks.config import SsotConfig
from wskit.ssot.checks.paths import ImportPathReport
from wskit.ssot.checks.scan import scan_tree
from wskit.ssot.render.audit_report import CALL_ERRORS, AuditReport
from wskit.ssot.render.scan_report import ScanReport

if TYPE_CHECKING:
    from wskit.ssot.checks.fix import FixReport

__all__ = ["Analysis", "Guard", "Verdict", "analyze", "collect_verdicts", "compare_with_baseline", "tree_root"]

PASS_MARK, FAIL_MARK = "✅", "❌"


@dataclass(frozen=True)
class Verdict:
    """One count of problems: its value now, the value it must not exceed, and its goal."""

    name: str
    value: int
    baseline: int | None
    goal: int = 0

    @property
    def ok(self) -> bool:
        """True when there is a baseline and the value does not exceed it."""
        return self.baseline is not None and self.value <= self.baseline

    @property
    def line(self) -> str:
        """`[OK] name: value (baseline N)` or `[FAIL] ...` with what grew."""
        if self.baseline is None:
            return f"[FAIL] {self.name}: {self.value}, not in the baseline (regenerate the notebook)"
        if not self.ok:
            return f"[FAIL] {self.name}: {self.value}, up from {self.baseline}"
        return f"[OK] {self.name}: {self.value} (baseline {self.baseline})"


@dataclass(frozen=True)
class Guard:
    """Every verdict against its baseline, and the baseline entries no verdict matched."""

    verdicts: tuple[Verdict, ...]
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no verdict grew and the baseline names no verdict that is gone."""
        return all(v.ok for v in self.verdicts) and not self.missing

    @property
    def regressions(self) -> list[str]:
        """What got worse, one line each (empty when nothing did)."""
        grew = [f"{v.name}: {v.value} > {v.baseline}" for v in self.verdicts if v.baseline is not None and not v.ok]
        new = [f"{v.name}: not in the baseline" for v in self.verdicts if v.baseline is None]
        return grew + new + [f"{name}: in the baseline, no longer computed" for name in self.missing]

    def summary(self) -> str:
        """One `[OK]`/`[FAIL]` line per verdict, the headline, then the debt the baseline accepts."""
        lines = [v.line for v in self.verdicts] + [f"[FAIL] {name}: gone from the analysis" for name in self.missing]
        if self.ok:
            lines.append(f"{PASS_MARK} NO REGRESSION: {len(self.verdicts)} verdicts at or below their baseline")
        else:
            lines.append(f"{FAIL_MARK} REGRESSION: {'; '.join(self.regressions)}")
        debt = [f"{v.name} {v.value} (goal {v.goal})" for v in self.verdicts if v.value > v.goal]
        if debt:
            lines.append("Accepted by the baseline, still to fix: " + "; ".join(debt))
        return "\n".join(lines)


@dataclass(frozen=True)
class Analysis:
    """The reports a generated notebook shows, computed in one go."""

    runtime: dict[str, ImportPathReport]
    static: dict[str, ImportPathReport]
    scan: ScanReport | None
    audit: AuditReport
    migration: FixReport


def tree_root(config: SsotConfig, pyproject: str | os.PathLike[str]) -> Path:
    """The tree the analysis reads: `root` when configured, else the pyproject.toml's directory."""
    return config.root or Path(pyproject).resolve().parent


def analyze(config: SsotConfig, root: str | os.PathLike[str]) -> Analysis:
    """Run every check a generated notebook runs, on the tree at `root` (imports libcst for the migration)."""
    from wskit.ssot.checks.fix import fix_imports

    return Analysis(
        runtime={s.name: config.check(s, mode="runtime") for s in config.symbols} if config.mode == "runtime" else {},
        static={s.name: config.check(s, mode="static") for s in config.symbols},
        scan=scan_tree(root, config.role, include_tests=True) if config.role else None,
        audit=audit_calls(config, root),
        migration=fix_imports(config, root),
    )


def collect_verdicts(
    *,
    runtime: Mapping[str, ImportPathReport],
    static: Mapping[str, ImportPathReport],
    scan: ScanReport | None,
    audit: AuditReport,
    migration: FixReport,
) -> list[Verdict]:
    """The counts of problems in these reports, each with its goal (no baseline yet).

    Per symbol and mode: the violations (a path to another object, an unresolved path, an
    interface that is not one). The role scan: implementations (goal 1) and shadowed classes.
    The audit: call errors, imports of deprecated paths and of private ones (not counting the
    imports that define a configured path, which the migration keeps). The migration: imports
    still to rewrite and changes a person must make.
    """
    verdicts = []
    for name in sorted(runtime):
        verdicts.append(Verdict(f"{name}: runtime violations", len(runtime[name].violations), None))
    for name in sorted(static):
        verdicts.append(Verdict(f"{name}: static violations", len(static[name].violations), None))
    if scan is not None:
        shadowed = sum(1 for c in scan.classes if c.shadowed)
        verdicts.append(Verdict(f"role /{scan.role}/: implementations", len(scan.implementations), None, goal=1))
        verdicts.append(Verdict(f"role /{scan.role}/: shadowed classes", shadowed, None))
    # An import the migration keeps defines a configured path (`Name = _Impl` needs its import).
    kept = {(item.file, item.line) for item in migration.items if item.status == "kept"}
    left = Counter(row.kind for row in audit.rows if (row.file, row.line) not in kept)
    verdicts += [
        Verdict("audit: call errors", sum(left[kind] for kind in CALL_ERRORS), None),
        Verdict("audit: deprecated imports", left["import-deprecated"], None),
        Verdict("audit: private imports", left["import-private"], None),
        Verdict("migration: imports to rewrite", migration.count("rewritten"), None),
        Verdict("migration: manual changes", migration.count("manual"), None),
    ]
    return verdicts


def compare_with_baseline(verdicts: list[Verdict], baseline: Mapping[str, int]) -> Guard:
    """Each verdict with its baseline value (None when the baseline has none)."""
    names = {v.name for v in verdicts}
    return Guard(
        verdicts=tuple(Verdict(v.name, v.value, baseline.get(v.name), v.goal) for v in verdicts),
        missing=tuple(sorted(set(baseline) - names)),
    )
