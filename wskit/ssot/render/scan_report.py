"""The result of a role scan: `ClassRecord` rows and the `ScanReport` that renders them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wskit.ssot.model import Finding, notes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["CLASSIFICATIONS", "COLUMNS", "ClassRecord", "ScanReport"]

CLASSIFICATIONS = ("implementation", "protocol", "abstract", "enum", "exception", "factory", "test double")
COLUMNS = (
    "name",
    "module",
    "defined_at",
    "classification",
    "aliases",
    "importers",
    "import_paths",
    "shadowed",
)


@dataclass(frozen=True)
class ClassRecord:
    """One class whose name matches the role, or that a name matching the role is an alias of.

    `aliases`: module-level bindings elsewhere that reach it (`module:name`), with `alias_chains`;
    `import_paths`: how many modules import it by each path; `shadowed`: why it is dead, if it is;
    `role_aliases`: the aliases that matched the role when the class's own name does not (its
    classification is still read from the class itself: an alias named `...Protocol` does not
    make a concrete class a protocol).
    """

    name: str
    module: str
    qualname: str
    defined_at: str
    classification: str
    aliases: tuple[str, ...] = ()
    alias_chains: tuple[tuple[str, ...], ...] = ()
    import_paths: tuple[tuple[str, int], ...] = ()
    shadowed: str | None = None
    role_aliases: tuple[str, ...] = ()

    @property
    def importers(self) -> int:
        """How many modules import this class (by any path)."""
        return sum(count for _, count in self.import_paths)

    def as_json(self) -> dict[str, Any]:
        """One documented JSON row."""
        return {
            "name": self.name,
            "module": self.module,
            "qualname": self.qualname,
            "defined_at": self.defined_at,
            "classification": self.classification,
            "aliases": [{"path": a, "chain": list(c)} for a, c in zip(self.aliases, self.alias_chains, strict=True)],
            "importers": self.importers,
            "import_paths": dict(self.import_paths),
            "shadowed": self.shadowed,
            "role_aliases": list(self.role_aliases),
        }


@dataclass(frozen=True)
class ScanReport:
    """The classes found for a role, sorted by module and line; plus what could not be read.

    `root` is the tree as the caller spelled it; module names and files are relative to the
    first directory above it that is not a package.
    """

    root: str
    role: str
    classes: tuple[ClassRecord, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    findings: tuple[Finding, ...] = ()
    files_scanned: int = 0
    files_parsed: int = 0

    @property
    def implementations(self) -> list[ClassRecord]:
        """The real implementations: not interfaces, enums, exceptions, factories, test doubles or dead code."""
        return [c for c in self.classes if c.classification == "implementation" and c.shadowed is None]

    @property
    def frame(self) -> pd.DataFrame:
        """One row per class with the documented columns."""
        import pandas as pd

        records = [
            {
                "name": c.qualname,
                "module": c.module,
                "defined_at": c.defined_at,
                "classification": c.classification,
                "aliases": ", ".join(c.aliases),
                "importers": c.importers,
                "import_paths": ", ".join(f"{path} ({count})" for path, count in c.import_paths),
                "shadowed": c.shadowed is not None,
            }
            for c in self.classes
        ]
        return pd.DataFrame.from_records(records, columns=list(COLUMNS))

    def summary(self) -> str:
        """A short text verdict: how many real implementations play the role."""
        counts = Counter(c.classification for c in self.classes)
        parts = ", ".join(f"{counts[k]} {k}" for k in CLASSIFICATIONS if counts[k])
        lines = [
            f"=== ROLE SCAN: /{self.role}/ under {self.root} ===",
            f"Files scanned: {self.files_scanned} (parsed: {self.files_parsed}, skipped: {len(self.skipped)})",
            f"Classes matching the role: {len(self.classes)}" + (f" ({parts})" if parts else ""),
        ]
        real = self.implementations
        if len(real) == 1:
            lines.append(f"✅ ONE IMPLEMENTATION: {_described(real[0])}")
        else:
            lines.append(f"❌ {len(real)} IMPLEMENTATIONS" + (":" if real else ""))
            lines += [f"  {_described(c)}" for c in real]
        lines += [
            f"  alias {alias} -> {c.module}.{c.qualname} ({c.classification}, {c.defined_at})"
            for c in self.classes
            if c not in real
            for alias in c.role_aliases
        ]
        return "\n".join(lines + notes(self.findings, self.skipped))

    def to_json(self) -> dict[str, Any]:
        """`{"root", "role", "implementations", "classes": [...], "findings", "skipped", counts}`."""
        return {
            "root": self.root,
            "role": self.role,
            "implementations": len(self.implementations),
            "classes": [c.as_json() for c in self.classes],
            "findings": [f.as_json() for f in self.findings],
            "skipped": [{"file": path, "reason": reason} for path, reason in self.skipped],
            "files_scanned": self.files_scanned,
            "files_parsed": self.files_parsed,
        }

    def to_markdown(self) -> str:
        """A Markdown table of the classes, with the verdict line first."""
        header = self.summary().splitlines()[3]
        lines = [f"### Role scan /{self.role}/: {header}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 8]
        for _, row in self.frame.iterrows():
            lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in COLUMNS) + " |")
        return "\n".join(lines) + "\n"

    def plot(self) -> Figure:
        """Classes per classification, and importers per class (implementations highlighted)."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10, 3.6), layout="constrained")
        kinds, usage = figure.subplots(1, 2)
        counts = Counter(c.classification for c in self.classes)
        kinds.barh(list(CLASSIFICATIONS), [counts[k] for k in CLASSIFICATIONS], color="#546e7a")
        kinds.invert_yaxis()
        kinds.set_title("classes per classification")
        kinds.xaxis.get_major_locator().set_params(integer=True)
        shown = self.classes[:15]
        usage.barh(
            [f"{c.qualname} ({c.module.rpartition('.')[2]})" for c in shown] or ["(none)"],
            [c.importers for c in shown] or [0],
            color=["#2e7d32" if c in self.implementations else "#90a4ae" for c in shown] or ["#90a4ae"],
        )
        usage.invert_yaxis()
        usage.set_title("importing modules per class (green: implementation)")
        usage.xaxis.get_major_locator().set_params(integer=True)
        figure.suptitle(f"role /{self.role}/: {len(self.implementations)} implementation(s)")
        return figure

    def _repr_html_(self) -> str:
        table = self.frame.to_html(index=False, escape=True)
        verdict = _escape(self.summary().splitlines()[3])
        return f'<div class="wskit-ssot-scan"><p><strong>{verdict}</strong></p>{table}</div>'


def _described(record: ClassRecord) -> str:
    via = f" via alias {', '.join(record.role_aliases)}" if record.role_aliases else ""
    return f"{record.module}.{record.qualname} ({record.defined_at}){via}"


def _escape(text: str) -> str:
    import html

    return html.escape(text)
