"""The result of a call-site audit: `AuditRow`s, counts per kind, and their renderers.

Kinds of rows:
- imports: `import-canonical`, `import-deprecated`, `import-private`, `import-alias`;
- calls: `call` (fits), and the call errors `direct-instantiation`, `bad-arguments`,
  `await-sync`, `missing-await`, `isinstance-protocol`;
- `unknown`: only run time knows (getattr, `*args`/`**kwargs`, a name bound at run time).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from wskit.ssot.model import CALL_ERRORS, IMPORT_KINDS, KINDS, Finding, Sited, notes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["CALL_ERRORS", "COLUMNS", "IMPORT_KINDS", "KINDS", "AuditReport", "AuditRow"]

COLUMNS: Final = ("where", "kind", "raises", "code", "via", "scope", "symbol", "target", "detail")
_KIND_COLORS: Final = {
    "import-canonical": "#2e7d32",
    "call": "#2e7d32",
    "import-deprecated": "#ef6c00",
    "import-private": "#ef6c00",
    **{kind: "#c62828" for kind in CALL_ERRORS},
}


@dataclass(frozen=True, slots=True, order=True)
class AuditRow(Sited):
    """One import or call site.

    `code` is the source line, `via` the name or expression it goes through, `scope` "test" or
    "product", `target` the object reached, `detail` what is wrong (or why it is `unknown`).
    """

    file: str
    line: int
    kind: str
    code: str
    via: str
    scope: str
    symbol: str
    target: str
    detail: str = ""
    raises: bool = False
    """The call raises when it runs (a TypeError, a factory guard): unlike a coroutine left unawaited,
    which fails later and elsewhere, or an `unknown`."""
    column: int = 0
    """Where on its line a call starts (two calls on one line are two rows)."""

    @property
    def raises_in_product(self) -> bool:
        """A call that raises at run time in product code: the rows a user must see first."""
        return self.raises and self.scope == "product"


@dataclass(frozen=True)
class AuditReport:
    """Every import and call of the configured symbols under `root`, sorted by file and line."""

    root: str
    symbols: tuple[str, ...]
    rows: tuple[AuditRow, ...]
    findings: tuple[Finding, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    files_scanned: int = 0
    files_parsed: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """Rows per kind, every kind listed (zeros included), in the order of `KINDS`."""
        found = Counter(row.kind for row in self.rows)
        return {kind: found[kind] for kind in KINDS}

    def failing(self, kinds: tuple[str, ...] = CALL_ERRORS) -> list[AuditRow]:
        """The rows of the given kinds (by default the call errors)."""
        return [row for row in self.rows if row.kind in kinds]

    @property
    def frame(self) -> pd.DataFrame:
        """One row per site with the documented columns."""
        import pandas as pd

        records = [{column: getattr(row, column) for column in COLUMNS} for row in self.rows]
        return pd.DataFrame.from_records(records, columns=list(COLUMNS))

    def summary(self) -> str:
        """Counts per kind, then every row that is not a plain canonical import or fitting call."""
        counts = self.counts
        lines = [
            f"=== CALL-SITE AUDIT: {', '.join(self.symbols)} under {self.root} ===",
            f"Files scanned: {self.files_scanned} (read: {self.files_parsed}, skipped: {len(self.skipped)});"
            f" rows: {len(self.rows)}",
        ]
        lines += [f"  {kind:<22}{counts[kind]:>5}" for kind in KINDS]
        errors = sum(counts[kind] for kind in CALL_ERRORS)
        raising = sum(row.raises_in_product for row in self.rows)
        lines.append(f"{'❌' if errors else '✅'} CALL ERRORS: {errors} ({raising} raise at run time in product code)")
        for row in self.rows:
            if row.kind not in ("import-canonical", "call"):
                note = f" ({row.detail})" if row.detail else ""
                mark = " RAISES" if row.raises else ""
                lines.append(f"  {row.where} {row.kind}{mark} [{row.scope}] via {row.via}: {row.code}{note}")
        return "\n".join(lines + notes(self.findings, self.skipped))

    def to_json(self) -> dict[str, Any]:
        """`{"root", "symbols", "counts", "rows", "findings", "skipped", "files_scanned", "files_parsed"}`."""
        return {
            "root": self.root,
            "symbols": list(self.symbols),
            "counts": self.counts,
            "rows": [row.as_json() for row in self.rows],
            "findings": [f.as_json() for f in self.findings],
            "skipped": [{"file": path, "reason": reason} for path, reason in self.skipped],
            "files_scanned": self.files_scanned,
            "files_parsed": self.files_parsed,
        }

    def to_markdown(self) -> str:
        """Counts per kind, then a table of every row."""
        errors = sum(self.counts[kind] for kind in CALL_ERRORS)
        lines = [f"### Call-site audit of {', '.join(self.symbols)}: {errors} call error(s)", ""]
        lines += ["| kind | rows |", "|---|---|"]
        lines += [f"| {kind} | {count} |" for kind, count in self.counts.items()]
        lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(getattr(row, column)) for column in COLUMNS) + " |")
        return "\n".join(lines) + "\n"

    def plot(self) -> Figure:
        """Rows per kind, product code then test code (call errors in red, deprecated and private imports in orange)."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        figure = Figure(figsize=(10, 3.6), layout="constrained")
        axes = figure.subplots()
        kinds = list(KINDS)
        product = Counter(row.kind for row in self.rows if row.scope == "product")
        test = Counter(row.kind for row in self.rows if row.scope == "test")
        colors = [_KIND_COLORS.get(kind, "#546e7a") for kind in kinds]
        axes.barh(kinds, [product[k] for k in kinds], color=colors, label="product code")
        axes.barh(kinds, [test[k] for k in kinds], left=[product[k] for k in kinds], color="#b0bec5", label="test code")
        axes.invert_yaxis()
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("import and call sites")
        axes.legend(loc="lower right")
        errors = sum(self.counts[kind] for kind in CALL_ERRORS)
        figure.suptitle(f"call-site audit of {', '.join(self.symbols)}: {errors} call error(s)")
        return figure

    def _repr_html_(self) -> str:
        import html

        errors = sum(self.counts[kind] for kind in CALL_ERRORS)
        table = self.frame.to_html(index=False, escape=True)
        verdict = html.escape(f"{errors} call error(s)")
        return f'<div class="wskit-ssot-audit"><p><strong>{verdict}</strong></p>{table}</div>'


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
