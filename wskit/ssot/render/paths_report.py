"""`ImportPathReport`, the answer of `check_import_paths`, and its renderers: text, JSON, Markdown,
DataFrame, HTML, plot.

Each renderer sorts what it shows, so output is diffable and safe as an nbval reference.
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wskit.ssot.model import ENVIRONMENT, FAILED, INTERFACE, MODES, RESOLVED, STATUSES, UNRESOLVED, Finding, PathRow

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "COLUMNS",
    "DEFAULT_TITLE",
    "MODES",
    "ImportPathReport",
    "as_json",
    "frame",
    "html",
    "markdown",
    "plot",
    "summary",
]

DEFAULT_TITLE = "SSOT"

COLUMNS = ("path", "kind", "status", "resolved", "defined_at", "deprecated", "detail")
VALIDATED = "✅ SSOT CONSOLIDATION VALIDATED: All imports return same underlying type!"
VIOLATION = "❌ SSOT VIOLATION DETECTED"
STATUS_COLORS = {
    RESOLVED: "#2e7d32",
    INTERFACE: "#1565c0",
    UNRESOLVED: "#ef6c00",
    FAILED: "#c62828",
    ENVIRONMENT: "#757575",
}
UNDETERMINED = "⚠️ NOT CHECKED: this environment cannot import the paths (a missing dependency, not an SSOT violation)"


def _sorted_rows(report: ImportPathReport) -> list[PathRow]:
    return sorted(report.rows, key=lambda row: row.path)


def _failure_note(row: PathRow) -> str:
    if row.status == INTERFACE:
        return f"{row.name} - interface only, expected"
    if row.status == UNRESOLVED:
        return f"{row.name} - unresolved: {row.detail}"
    return f"{row.name} - {row.detail}"


def summary(report: ImportPathReport, title: str) -> str:
    """The original analysis block: counts, failures with reasons, then the verdict."""
    successful = [row for row in report.rows if row.status == RESOLVED]
    others = [row for row in report.rows if row.status != RESOLVED]
    failed_line = f"Failed imports: {len(others)}"
    if others:
        failed_line += f" ({'; '.join(_failure_note(row) for row in others)})"
    lines = [
        f"=== {title.upper()} IMPORT CONSOLIDATION ANALYSIS ===",
        f"Total import paths tested: {len(report.rows)}",
        f"Successful imports: {len(successful)}",
        failed_line,
        "",
    ]
    if report.undetermined:
        lines += [UNDETERMINED, *(f"  - {line}" for line in report.environment)]
        return "\n".join(lines)
    if report.consolidated:
        lines.append(VALIDATED)
        return "\n".join(lines)
    lines.append(VIOLATION)
    lines += [f"  - {problem}" for problem in report.violations]
    for target, paths in report.targets.items():
        defined_at = next(row.defined_at for row in report.rows if row.resolved == target)
        lines.append(f"Target: {target}" + (f" ({defined_at})" if defined_at else ""))
        lines += [f"  <- {path}" for path in paths]
    return "\n".join(lines)


def as_json(report: ImportPathReport) -> dict[str, Any]:
    """The documented JSON document of a report."""
    return {
        "consolidated": report.consolidated,
        "mode": report.mode,
        "title": report.title,
        "rows": [row.as_json() for row in _sorted_rows(report)],
        "findings": [finding.as_json() for finding in sorted(report.findings)],
        "violations": report.violations,
        "undetermined": report.undetermined,
        "environment": report.environment,
        "canonical_row": report.canonical.as_json() if report.canonical is not None else None,
        "files_parsed": report.files_parsed,
    }


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: ImportPathReport) -> str:
    """A Markdown section: heading, verdict, violations, table of rows, findings."""
    verdict = "✅ consolidated" if report.consolidated else "❌ violation"
    lines = [f"### {report.title} import consolidation ({report.mode} mode): {verdict}", ""]
    lines += [f"- {problem}" for problem in report.violations]
    if report.violations:
        lines.append("")
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for row in _sorted_rows(report):
        lines.append("| " + " | ".join(_cell(getattr(row, column)) for column in COLUMNS) + " |")
    if report.findings:
        lines += ["", "Findings:"] + [f"- {f.kind} at {_cell(f.where)}: {_cell(f.message)}" for f in report.findings]
    return "\n".join(lines) + "\n"


def frame(report: ImportPathReport) -> pd.DataFrame:
    """The rows as a pandas DataFrame with the documented columns, sorted by path."""
    import pandas as pd

    records = [{column: getattr(row, column) for column in COLUMNS} for row in _sorted_rows(report)]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def html(report: ImportPathReport) -> str:
    """A self-contained HTML block (no scripts, no external styles) for notebooks and reports."""
    esc = _escape
    color = "#2e7d32" if report.consolidated else "#c62828"
    verdict = "consolidated" if report.consolidated else "SSOT violation"
    parts = [
        '<div class="wskit-ssot-report">',
        f"<p><strong>{esc(report.title)} import consolidation</strong> ({esc(report.mode)} mode): "
        f'<strong style="color:{color}">{esc(verdict)}</strong></p>',
    ]
    if report.violations:
        parts.append("<ul>" + "".join(f"<li>{esc(p)}</li>" for p in report.violations) + "</ul>")
    parts.append("<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in COLUMNS) + "</tr></thead><tbody>")
    for row in _sorted_rows(report):
        cells = "".join(
            f'<td style="color:{STATUS_COLORS[row.status]}">{esc(row.status)}</td>'
            if column == "status"
            else f"<td>{esc(getattr(row, column))}</td>"
            for column in COLUMNS
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    if report.findings:
        items = "".join(f"<li>{esc(f.kind)} at {esc(f.where)}: {esc(f.message)}</li>" for f in report.findings)
        parts.append(f"<p>Findings:</p><ul>{items}</ul>")
    parts.append("</div>")
    return "\n".join(parts)


def _escape(value: object) -> str:
    return "" if value is None else _html.escape(str(value))


def plot(report: ImportPathReport) -> Figure:
    """Two panels: how many paths have each status, and how many paths reach each target."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.2), layout="constrained")
    by_status, by_target = figure.subplots(1, 2, width_ratios=[1, 1.6])
    counts = [sum(1 for row in report.rows if row.status == status) for status in STATUSES]
    by_status.barh(STATUSES, counts, color=[STATUS_COLORS[s] for s in STATUSES])
    by_status.invert_yaxis()
    by_status.set_title("paths per status")
    by_status.set_xlabel("import paths")
    by_status.xaxis.get_major_locator().set_params(integer=True)
    targets = report.targets
    labels = [target.rpartition(".")[2] for target in targets] or ["(none)"]
    values = [len(paths) for paths in targets.values()] or [0]
    bar_color = STATUS_COLORS[RESOLVED] if len(targets) == 1 else STATUS_COLORS[FAILED]
    by_target.barh(labels, values, color=bar_color, height=0.5)
    by_target.invert_yaxis()
    by_target.set_title("paths per resolved target" + ("" if len(targets) == 1 else f" ({len(targets)} targets)"))
    by_target.set_xlabel("import paths")
    by_target.xaxis.get_major_locator().set_params(integer=True)
    verdict = "consolidated" if report.consolidated else "SSOT violation"
    figure.suptitle(f"{report.title}: {verdict} ({report.mode} mode)")
    return figure


@dataclass(frozen=True)
class ImportPathReport:
    """The answer for a set of import paths; computing is done, everything here renders it.

    `rows` are in the order the paths were given; `frame` and all renderings are sorted by path.
    `canonical` is the row of the expected target when one was declared.
    """

    rows: tuple[PathRow, ...]
    findings: tuple[Finding, ...]
    mode: str
    title: str = DEFAULT_TITLE
    canonical: PathRow | None = None
    expected_interfaces: tuple[str, ...] = ()
    files_parsed: int | None = None

    @property
    def targets(self) -> dict[str, list[str]]:
        """Each distinct resolved object and the paths reaching it (interfaces and failures excluded)."""
        targets: dict[str, list[str]] = {}
        for row in sorted(self.rows, key=lambda r: r.path):
            if row.status == RESOLVED and row.resolved is not None:
                targets.setdefault(row.resolved, []).append(row.path)
        return dict(sorted(targets.items()))

    @property
    def violations(self) -> list[str]:
        """Why the paths are not consolidated, one line each (empty when they are)."""
        problems: list[str] = []
        counted = [r for r in self.rows if r.status not in (INTERFACE, FAILED, ENVIRONMENT)]
        if not any(r.status == RESOLVED for r in self.rows) and not self.undetermined:
            problems.append("no import path resolved")
        for row in counted:
            if row.status == UNRESOLVED:
                problems.append(f"{row.path} is unresolved: {row.detail}")
        if len(self.targets) > 1:
            problems.append(f"paths resolve to {len(self.targets)} different objects")
        if self.canonical is not None and self.canonical.status != ENVIRONMENT:
            expected = self.canonical.resolved if self.canonical.status == RESOLVED else None
            if expected is None:
                problems.append(f"canonical {self.canonical.path} does not resolve: {self.canonical.detail}")
            for row in counted:
                if row.status == RESOLVED and expected is not None and row.resolved != expected:
                    problems.append(f"{row.path} resolves to {row.resolved}, not the canonical {expected}")
        for path in self.expected_interfaces:
            row = next(r for r in self.rows if r.path == path)
            if row.status not in (INTERFACE, ENVIRONMENT):
                problems.append(f"{path} was declared an interface but is {row.status} ({row.kind})")
        return problems

    @property
    def environment(self) -> list[str]:
        """What this environment lacks to import the paths (runtime mode), one line per path."""
        rows = sorted(self.rows, key=lambda r: r.path)
        return [f"{row.path}: {row.detail}" for row in rows if row.status == ENVIRONMENT]

    @property
    def undetermined(self) -> bool:
        """True when no path resolved because the environment lacks a dependency: nothing was
        checked, which is neither a violation nor a consolidation."""
        return bool(self.environment) and not any(r.status == RESOLVED for r in self.rows)

    @property
    def consolidated(self) -> bool:
        """True only if a path resolved and every non-interface, non-failed path reaches the same object."""
        return not self.violations and not self.undetermined

    @property
    def frame(self) -> pd.DataFrame:
        """One row per path: path, kind, status, resolved, defined_at, deprecated, detail (sorted by path)."""
        return frame(self)

    def summary(self, title: str | None = None) -> str:
        """The analysis as the original text block (title defaults to the report's title)."""
        return summary(self, title or self.title)

    def to_json(self) -> dict[str, Any]:
        """`{"consolidated", "rows": [...], "findings": [...]}` (plus mode, title and counts)."""
        return as_json(self)

    def to_markdown(self) -> str:
        """A Markdown section with the verdict and a table of rows."""
        return markdown(self)

    def plot(self) -> Figure:
        """A matplotlib figure: paths per status, and paths per resolved target."""
        return plot(self)

    def _repr_html_(self) -> str:
        return html(self)

    def __str__(self) -> str:
        return self.summary()
