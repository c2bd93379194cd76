"""`scan_tree`: every class playing a role (by name) in a source tree, classified, without importing.

Cheap first: every file is read once and searched with a regular expression for `class` lines
whose name matches the role; only those files, and the files that mention a found class by
name, are parsed. Parsed modules feed the same static resolver as `check_import_paths`, so
aliases and imports are followed exactly as there.
"""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wskit.ssot.bindings import Binding, ModuleInfo, absolute_module, dotted_name, parse_module
from wskit.ssot.model import Finding
from wskit.ssot.static import Definition, StaticResolver

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["CLASSIFICATIONS", "ClassRecord", "ScanReport", "scan_tree"]

CLASSIFICATIONS = ("implementation", "protocol", "abstract", "enum", "exception", "factory", "test double")
_TEST_PREFIXES = ("Mock", "Fake", "Stub", "Dummy", "Test")
_TEST_DIRS = {"tests", "test", "testing"}
_SKIP_DIRS = {"__pycache__", "node_modules"}
# Deliberately loose (not anchored at line starts, which is 5x slower): a false hit only costs a parse.
_CLASS_WORD = re.compile(rb"class[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
_COVER_LENGTH = 6
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
    """One class whose name matches the role.

    `aliases`: module-level bindings elsewhere that reach it (`module:name`), with `alias_chains`;
    `import_paths`: how many modules import it by each path; `shadowed`: why it is dead, if it is.
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
            lines.append(f"✅ ONE IMPLEMENTATION: {real[0].module}.{real[0].qualname} ({real[0].defined_at})")
        else:
            lines.append(f"❌ {len(real)} IMPLEMENTATIONS" + (":" if real else ""))
            lines += [f"  {c.module}.{c.qualname} ({c.defined_at})" for c in real]
        lines += [f"  ! {f.kind} at {f.where}: {f.message}" for f in self.findings]
        lines += [f"  ! skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)

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


def _escape(text: str) -> str:
    import html

    return html.escape(text)


@dataclass
class _File:
    path: Path
    module: str
    is_package: bool
    is_test: bool
    data: bytes
    tree: ast.Module | None = None
    info: ModuleInfo | None = None
    error: str | None = None


@dataclass
class _Scan:
    base: Path
    files: list[_File] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def _source_base(root: Path) -> Path:
    base = root if root.is_dir() else root.parent
    while (base / "__init__.py").is_file() and base.parent != base:
        base = base.parent
    return base


def _is_test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def _walk(root: Path, include_tests: bool) -> Iterator[tuple[Path, bool]]:
    if root.is_file():
        yield root, _is_test_file(root.name)
        return
    for directory, subdirs, files in os.walk(root):
        in_tests = any(part in _TEST_DIRS for part in Path(directory).relative_to(root).parts)
        subdirs[:] = sorted(
            d
            for d in subdirs
            if not d.startswith(".") and d not in _SKIP_DIRS and (include_tests or d not in _TEST_DIRS)
        )
        for name in sorted(files):
            if name.endswith(".py"):
                is_test = in_tests or _is_test_file(name)
                if include_tests or not is_test:
                    yield Path(directory, name), is_test


def _module_name(path: Path, base: Path) -> tuple[str, bool]:
    relative = path.relative_to(base).with_suffix("")
    parts = list(relative.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _parse(scan: _Scan, file: _File, resolver: StaticResolver) -> bool:
    if file.tree is not None or file.error is not None:
        return file.tree is not None
    try:
        file.tree = ast.parse(file.data, filename=str(file.path))
        file.info = parse_module(file.module, file.path, file.is_package, file.tree)
    except (SyntaxError, ValueError) as exc:
        file.error = f"does not parse: {type(exc).__name__}: {exc}".splitlines()[0]
        scan.skipped[str(file.path.relative_to(scan.base))] = file.error
        return False
    resolver.add_module(file.info)
    return True


def _classes(tree: ast.Module) -> Iterator[tuple[str, ast.ClassDef]]:
    stack: list[tuple[str, list[ast.stmt]]] = [("", tree.body)]
    while stack:
        prefix, body = stack.pop()
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield prefix + node.name, node
                stack.append((f"{prefix}{node.name}.", node.body))
            elif isinstance(node, ast.If | ast.Try | ast.With):
                stack.append((prefix, [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]))


def _classify(name: str, file: _File, traits: set[str]) -> str:
    if file.is_test or name.startswith(_TEST_PREFIXES):
        return "test double"
    for trait in ("protocol", "enum", "exception"):
        if trait in traits:
            return trait
    if "abstract" in traits:
        return "abstract"
    if name.endswith("Factory"):
        return "factory"
    return "implementation"


def scan_tree(root: str | os.PathLike[str], role: str, *, include_tests: bool = False) -> ScanReport:
    """Find and classify every class whose name matches the `role` regex under `root`, without importing.

    Test directories (`tests/`, `test/`, `testing/`) and test files are skipped unless
    `include_tests`; then their classes are classified as test doubles. Files that do not
    parse are reported in `skipped`.
    """
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a directory path; got {type(root).__name__}")
    root_path = Path(root).resolve()
    if not root_path.exists():
        raise ValueError(f"root {str(root)!r} does not exist; pass a source directory")
    if not isinstance(role, str) or not role:
        raise ValueError(f"role must be a non-empty regular expression such as 'WebSocketManager'; got {role!r}")
    try:
        pattern = re.compile(role)
    except re.error as exc:
        raise ValueError(f"role {role!r} is not a valid regular expression: {exc}") from None

    scan = _Scan(base=_source_base(root_path))
    resolver = StaticResolver([scan.base])
    candidates: list[_File] = []
    for path, is_test in _walk(root_path, include_tests):
        module, is_package = _module_name(path, scan.base)
        try:
            data = path.read_bytes()
        except OSError as exc:
            scan.skipped[str(path.relative_to(scan.base))] = f"cannot read: {exc.strerror or exc}"
            continue
        file = _File(path, module, is_package, is_test, data)
        scan.files.append(file)
        if any(pattern.search(m.decode()) for m in _CLASS_WORD.findall(data)):
            candidates.append(file)

    records: dict[tuple[str, str, int | None], dict[str, Any]] = {}
    for file in candidates:
        if not _parse(scan, file, resolver):
            continue
        assert file.tree is not None
        for qualname, node in _classes(file.tree):
            if not pattern.search(node.name):
                continue
            relative = str(file.path.relative_to(scan.base))
            definition = Definition("class", file.module, qualname, relative, node.lineno, node)
            records[(file.module, qualname, node.lineno)] = {
                "definition": definition,
                "file": file,
                "classification": _classify(node.name, file, resolver.class_traits(definition)),
                "aliases": [],
                "paths": Counter(),
            }
    _link_usage(scan, resolver, records)
    return _report(scan, str(root), role, resolver, records)


def _substring_cover(names: set[str]) -> list[bytes]:
    """A few substrings such that every name contains one of them (greedy set cover).

    Searching files for these with `bytes.__contains__` is far faster than a regular
    expression alternation of all names, and rules out almost every file.
    """
    remaining = sorted(names)
    cover: list[bytes] = []
    while remaining:
        counts = Counter(
            piece
            for name in remaining
            for piece in {name[i : i + _COVER_LENGTH] for i in range(max(1, len(name) - _COVER_LENGTH + 1))}
        )
        best = max(sorted(counts), key=lambda piece: counts[piece])
        cover.append(best.encode())
        remaining = [name for name in remaining if best not in name]
    return cover


def _mentioning(scan: _Scan, names: set[str]) -> Iterator[_File]:
    """The files that mention any of `names` as a whole word."""
    if not names:
        return
    cover = _substring_cover(names)
    mention = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b")
    for file in scan.files:
        if any(piece in file.data for piece in cover) and mention.search(file.data):
            yield file


def _link_usage(scan: _Scan, resolver: StaticResolver, records: dict[Any, dict[str, Any]]) -> None:
    """Record the aliases of each found class and the modules importing it by each path.

    Aliases are found to a fixed point (an alias of an alias is an alias), so imports through
    any public name of a class are counted, not only imports of its defining name.
    """
    names = {qualname.rpartition(".")[2] for _, qualname, _ in records}
    aliases: dict[str, tuple[Any, tuple[str, ...]]] = {}
    pending = set(names)
    while pending:
        searched, pending = pending, set()
        for file in _mentioning(scan, searched):
            if not _parse(scan, file, resolver):
                continue
            assert file.info is not None
            for bound, bindings in file.info.bindings.items():
                last = bindings[-1]
                path = f"{file.module}:{bound}"
                if path in aliases or last.type_only or not _may_reach(last, names):
                    continue
                resolution = resolver.resolve(file.module, bound)
                record = _record_of(records, resolution.definition)
                if record is not None:
                    aliases[path] = (record, resolution.chain)
                    if bound not in names:
                        names.add(bound)
                        pending.add(bound)
    for path, (record, chain) in aliases.items():
        record["aliases"].append((path, chain))
    for file in _mentioning(scan, names):
        if not _parse(scan, file, resolver):
            continue
        for path in sorted(_imported_paths(file, names)):
            module, _, name = path.partition(":")
            definition = resolver.resolve(module, name).definition
            record = _record_of(records, definition)
            if record is not None and definition is not None and definition.module != file.module:
                record["paths"][path] += 1


def _may_reach(binding: Binding, names: set[str]) -> bool:
    """Whether a binding can be an alias of one of `names` (only those are worth resolving)."""
    if binding.kind == "import":
        return binding.attr in names
    if binding.kind == "alias" and isinstance(binding.node, ast.expr):
        return any(part in names for part in (dotted_name(binding.node) or "").split("."))
    return False


def _record_of(records: dict[Any, dict[str, Any]], definition: Definition | None) -> dict[str, Any] | None:
    if definition is None:
        return None
    return records.get((definition.module, definition.qualname, definition.line))


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement (and except handler), nested ones included, without descending into expressions."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if children:
                stack.extend(reversed(children))


def _imported_paths(file: _File, names: set[str]) -> set[str]:
    """`module:Name` for every name in `names` this file imports (anywhere in it), once per path."""
    assert file.tree is not None
    paths: set[str] = set()
    module_aliases: dict[str, str] = {}
    for node in _statements(file.tree.body):
        if isinstance(node, ast.ImportFrom):
            source = absolute_module(file.module, file.is_package, node.level, node.module)
            paths.update(f"{source}:{a.name}" for a in node.names if a.name in names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module_aliases[alias.asname or alias.name] = alias.name
    # `module.Name` attribute access: only worth a full walk when the text has ".Name".
    if module_aliases and any(b"." + name.encode() in file.data for name in names):
        for sub in ast.walk(file.tree):
            if isinstance(sub, ast.Attribute) and sub.attr in names:
                dotted = dotted_name(sub.value)
                if dotted is not None and dotted in module_aliases:
                    paths.add(f"{module_aliases[dotted]}:{sub.attr}")
    return paths


def _report(
    scan: _Scan, root: str, role: str, resolver: StaticResolver, records: dict[Any, dict[str, Any]]
) -> ScanReport:
    ordered = sorted(records.values(), key=lambda r: (r["definition"].module, r["definition"].line or 0))
    findings: list[Finding] = []
    classes = []
    dead: set[str] = set()
    for record in ordered:
        definition: Definition = record["definition"]
        winner = _live_binding_line(record["file"], definition)
        shadowed = None
        if winner is not None and winner != definition.line:
            shadowed = f"rebound at line {winner} of {definition.relative}, which wins"
            dead.add(f"{definition.module}.{definition.qualname} is bound")
            where = f"{definition.relative}:{definition.line}"
            findings.append(Finding("shadowed", where, f"class {definition.qualname} is dead: {shadowed}"))
        aliases = sorted(record["aliases"])
        classes.append(
            ClassRecord(
                name=definition.qualname.rpartition(".")[2],
                module=definition.module,
                qualname=definition.qualname,
                defined_at=f"{definition.relative}:{definition.line}",
                classification=record["classification"],
                aliases=tuple(a for a, _ in aliases),
                alias_chains=tuple(tuple(c) for _, c in aliases),
                import_paths=tuple(sorted(record["paths"].items())),
                shadowed=shadowed,
            )
        )
    # Shadowing the resolver saw on the way, unless it is the dead class already reported above.
    files = {r["definition"].relative for r in ordered}
    findings += [
        f
        for f in resolver.findings
        if f.where.rpartition(":")[0] in files and not any(f.message.startswith(d) for d in dead)
    ]
    return ScanReport(
        root=root,
        role=role,
        classes=tuple(classes),
        skipped=tuple(sorted(scan.skipped.items())),
        findings=tuple(sorted(set(findings))),
        files_scanned=len(scan.files),
        files_parsed=sum(1 for f in scan.files if f.tree is not None),
    )


def _live_binding_line(file: _File, definition: Definition) -> int | None:
    """Line of the binding of a top-level class's name that wins at import (None for nested classes)."""
    if "." in definition.qualname or file.info is None:
        return None
    unconditional = [b for b in file.info.runtime_bindings(definition.qualname) if not b.conditional]
    return unconditional[-1].line if unconditional else None
