"""`fix_imports`: rewrite imports of deprecated paths and of the private implementation, with libcst.

The audit (`wskit.ssot.checks.audit`) finds every `import-deprecated` and `import-private` row. Each
is rewritten to the `preferred` path, or else to the first of the symbol's `paths` that reaches
the very same object (static resolution proves it); a path to another object (a deprecated
factory that is a different function) is a manual change, with the reason. Local names are
kept (`from new import Name as OldName`), `import old.module as m` + `m.name` becomes a direct
import when `m` has no other use, relative and function-level imports and re-exports are
handled alike. A module on the new path's own chain keeps its import (it defines the path); a
module the new path imports would make a cycle, so it is left to a human. Every rewritten file
is checked for new undefined names and unused imports before anything is written.
"""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, ScopeProvider

from wskit.ssot.checks.audit import ConfigOrSymbols, collect, source_tree, symbols_of
from wskit.ssot.checks.callsites import Catalog
from wskit.ssot.checks.namecheck import introduced
from wskit.ssot.model import Sited
from wskit.ssot.read.bindings import absolute_module
from wskit.ssot.read.gcpause import gc_paused
from wskit.ssot.read.skim import Skim
from wskit.ssot.render.audit_report import AuditRow
from wskit.ssot.resolve.static import StaticResolver
from wskit.ssot.resolve.tree import SourceFile, SourceTree

__all__ = ["FixItem", "FixReport", "fix_imports"]

STATUSES = ("rewritten", "manual", "kept")


@dataclass(frozen=True, order=True)
class FixItem(Sited):
    """One import of a deprecated or private path: what became of it, and why."""

    file: str
    line: int
    old: str
    via: str
    status: str  # "rewritten", "manual" (a human must change it) or "kept" (it must stay)
    new: str = ""
    reason: str = ""


@dataclass(frozen=True)
class FileChange:
    """A file's text before and after the rewrite."""

    file: str
    path: Path
    before: str
    after: str


@dataclass(frozen=True)
class FixReport:
    """What `fix_imports` changed (or would change: `written` is False for a dry run)."""

    root: str
    items: tuple[FixItem, ...]
    changes: tuple[FileChange, ...]
    written: bool

    def count(self, status: str) -> int:
        """How many imports have `status`."""
        return sum(1 for item in self.items if item.status == status)

    @property
    def done(self) -> bool:
        """True when nothing is left: no rewrite pending (or it was written) and no manual change."""
        return (self.written or not self.changes) and not self.count("manual")

    def diff(self) -> str:
        """A unified diff of every change, file by file in sorted order."""
        return "".join(
            "".join(
                difflib.unified_diff(
                    change.before.splitlines(keepends=True),
                    change.after.splitlines(keepends=True),
                    f"a/{change.file}",
                    f"b/{change.file}",
                )
            )
            for change in self.changes
        )

    def summary(self) -> str:
        """Counts, then each import that is not rewritten with the reason."""
        verb = "rewritten" if self.written else "to rewrite"
        lines = [
            f"=== IMPORT MIGRATION under {self.root} ({'written' if self.written else 'dry run'}) ===",
            f"Imports {verb}: {self.count('rewritten')} in {len(self.changes)} file(s);"
            f" manual: {self.count('manual')}; kept: {self.count('kept')}",
        ]
        for item in self.items:
            if item.status == "rewritten":
                lines.append(f"  {item.where} {item.via}: {item.old} -> {item.new}")
            else:
                lines.append(f"  {item.where} {item.status.upper()} {item.via} ({item.old}): {item.reason}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """`{"root", "written", "counts", "items": [...], "files": [...], "diff"}`."""
        return {
            "root": self.root,
            "written": self.written,
            "counts": {status: self.count(status) for status in STATUSES},
            "items": [item.as_json() for item in self.items],
            "files": [change.file for change in self.changes],
            "diff": self.diff(),
        }

    def to_markdown(self) -> str:
        """The summary, then the diff in a fenced block."""
        return f"```\n{self.summary()}\n```\n\n```diff\n{self.diff()}```\n"


def fix_imports(
    config_or_symbols: ConfigOrSymbols,
    root: str | os.PathLike[str],
    *,
    search_path: Sequence[str | os.PathLike[str]] = (),
    write: bool = False,
) -> FixReport:
    """Plan (and with `write=True` apply) the rewrite of deprecated and private imports under `root`.

    Arguments are those of `audit_calls`. Files are only written when `write` is True and every
    change in them passed the undefined-name and unused-import check.
    """
    specs, configured = symbols_of(config_or_symbols)
    with gc_paused():
        tree = source_tree(root, configured, search_path)
        catalog, rows = collect(tree, specs)
        items, changes = _plan(tree, catalog, rows)
    if write:
        for change in changes:
            change.path.write_text(change.after, encoding="utf-8")
    return FixReport(str(root), tuple(sorted(items)), tuple(sorted(changes, key=lambda c: c.file)), write)


@dataclass
class _FilePlan:
    file: SourceFile
    from_imports: dict[tuple[str, str], str] = field(default_factory=dict)  # (old path, local) -> new path
    module_uses: dict[tuple[int, str], str] = field(default_factory=dict)  # (import line, dotted use) -> new path
    items: list[FixItem] = field(default_factory=list)


def _plan(tree: SourceTree, catalog: Catalog, rows: list[AuditRow]) -> tuple[list[FixItem], list[FileChange]]:
    symbols = {symbol.spec.name: symbol for symbol in catalog.symbols}
    files = {file.relative: file for file in tree.files}
    plans: dict[str, _FilePlan] = {}
    items: list[FixItem] = []
    for row in rows:
        if row.kind not in ("import-deprecated", "import-private"):
            continue
        symbol, target = symbols[row.symbol], catalog.targets[row.target][1]
        file = files[row.file]
        old = row.detail

        def item(status: str, new: str = "", reason: str = "", row: AuditRow = row, old: str = old) -> FixItem:
            return FixItem(row.file, row.line, old, row.via, status, new, reason)

        choices = [symbol.spec.preferred_path, *symbol.spec.paths]
        new = next((p for p in choices if p != old and symbol.path_targets.get(p) is target), None)
        if new is None:
            preferred = symbol.path_targets.get(symbol.spec.preferred_path)
            other = f"the preferred {symbol.spec.preferred_path} is {preferred.identity}" if preferred else ""
            reason = f"{old} reaches {target.identity}, which no public path reaches ({other}): change it by hand"
            items.append(item("manual", reason=reason))
            continue
        module, _, name = new.partition(":")
        chain = tree.resolver.resolve(module, name).modules
        if file.module in chain:
            items.append(item("kept", new, f"{file.relative} is on the chain of {new}: this import defines that path"))
            continue
        if _imports(tree.resolver, module, file.module):
            items.append(item("manual", new, f"{module} imports {file.module}: importing it here would be circular"))
            continue
        plan = plans.setdefault(file.relative, _FilePlan(file))
        if "." in row.via:
            plan.module_uses[(row.line, row.via)] = new
        else:
            plan.from_imports[(old, row.via)] = new
        plan.items.append(item("rewritten", new))
    changes: list[FileChange] = []
    for plan in plans.values():
        before = plan.file.data.decode("utf-8")
        after, problems = _rewrite(before, plan)
        if problems:
            reason = f"the rewrite would introduce: {'; '.join(problems)}"
            items += [FixItem(i.file, i.line, i.old, i.via, "manual", i.new, reason) for i in plan.items]
            continue
        items += plan.items
        if after != before:
            changes.append(FileChange(plan.file.relative, plan.file.path, before, after))
    return items, changes


def _imports(resolver: StaticResolver, start: str, goal: str, limit: int = 500) -> bool:
    """Whether module `start` imports `goal`, directly or through other modules, at module level."""
    seen, pending = {start}, [start]
    while pending and len(seen) < limit:
        module = pending.pop()
        source = resolver.finder.find(module)
        if source is None or source.file is None or source.kind != "source":
            continue
        skim = Skim(source.file.read_bytes())
        for statement in skim.imports:
            if statement.indent:
                continue  # imports inside functions or conditions do not run at import time
            for node in skim.import_nodes(statement):
                found = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom):
                    base = absolute_module(module, source.is_package, node.level, node.module)
                    found = [base, *(f"{base}.{a.name}" for a in node.names)]
                for name in found:
                    parts = name.split(".")
                    for end in range(1, len(parts) + 1):
                        prefix = ".".join(parts[:end])
                        if prefix == goal:
                            return True
                        if prefix not in seen:
                            seen.add(prefix)
                            pending.append(prefix)
    return False


def _rewrite(source: str, plan: _FilePlan) -> tuple[str, list[str]]:
    """The rewritten source, and the problems it would introduce (empty when it is safe)."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    uses = _module_uses(wrapper, plan)
    if isinstance(uses, str):
        return source, [uses]
    replace, removed, added, found = uses
    transformer = _Rewriter(plan, replace, removed, added)
    after = wrapper.module.visit(transformer).code
    missing = [use for line, use in plan.module_uses if (line, use) not in found]
    missing += [f"{local} ({old})" for old, local in plan.from_imports if (old, local) not in transformer.done]
    if missing:
        return source, [f"could not find {', '.join(sorted(missing))} in the source"]
    return after, introduced(source, after)


_Additions = dict[int, list[tuple[str, str]]]  # id(statement line) -> [(new path, local name)]
_Uses = tuple[dict[int, str], set[int], _Additions, set[tuple[int, str]]]


def _module_uses(wrapper: MetadataWrapper, plan: _FilePlan) -> _Uses | str:
    """For `m.name` uses of an imported module: the attribute nodes to replace by a name, the
    import aliases that lose their last use, the imports to add after each import line, and the
    planned uses found. Returns a reason instead when a new name would clash with one the module
    already binds."""
    replace: dict[int, str] = {}
    removed: set[int] = set()
    added: _Additions = {}
    found: set[tuple[int, str]] = set()
    if not plan.module_uses:
        return replace, removed, added, found
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    scopes = {s for s in wrapper.resolve(ScopeProvider).values() if s is not None}
    bound = {assignment.name for scope in scopes for assignment in scope.assignments}
    for scope in scopes:
        for assignment in scope.assignments:
            node = getattr(assignment, "node", None)
            if not isinstance(node, cst.Import | cst.ImportFrom) or node not in positions:
                continue
            line = positions[node].start.line
            wanted = {use: new for (at, use), new in plan.module_uses.items() if at == line}
            if not wanted:
                continue
            left = 0
            for reference in assignment.references:
                use = _dotted_use(reference.node, parents, set(wanted))
                if use is None:
                    left += 1
                    continue
                text, outer = use
                new = wanted[text]
                local = new.partition(":")[2]
                statement = parents[node]
                if local in bound and (new, local) not in added.get(id(statement), []):
                    return f"{text} would become {local}, a name this module already binds"
                replace[id(outer)] = local
                found.add((line, text))
                if (new, local) not in added.setdefault(id(statement), []):
                    added[id(statement)].append((new, local))
            if left == 0:
                removed.add(id(_alias_of(node, assignment.name)))
    return replace, removed, added, found


def _dotted_use(name: cst.CSTNode, parents: Any, wanted: set[str]) -> tuple[str, cst.CSTNode] | None:
    """The attribute chain starting with `name` whose text is one of `wanted` (e.g. `m.get`)."""
    node = name
    while isinstance(parents.get(node), cst.Attribute) and parents[node].value is node:
        node = parents[node]
        text = get_full_name_for_node(node)
        if text in wanted:
            return text, node
    return None


def _alias_of(node: cst.Import | cst.ImportFrom, local: str) -> cst.ImportAlias:
    names = node.names if isinstance(node.names, Sequence) else []
    for alias in names:
        bound = get_full_name_for_node(alias.asname.name if alias.asname is not None else alias.name) or ""
        if local in (bound, bound.partition(".")[0]):
            return alias
    raise LookupError(local)


class _Rewriter(cst.CSTTransformer):
    """Applies a file's plan; `done` collects the (old path, local name) imports it moved."""

    def __init__(self, plan: _FilePlan, replace: dict[int, str], removed: set[int], added: _Additions) -> None:
        super().__init__()
        self.plan = plan
        self.replace = replace
        self.removed = removed
        self.added = added
        self.done: set[tuple[str, str]] = set()
        self._pending: dict[str, list[tuple[str, str]]] = {}

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        local = self.replace.get(id(original_node))
        return cst.Name(local) if local is not None else updated_node

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.BaseSmallStatement | cst.RemovalSentinel:
        pairs = zip(original_node.names, updated_node.names, strict=True)
        return _shrink(updated_node, [new for old, new in pairs if id(old) not in self.removed])

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.BaseSmallStatement | cst.RemovalSentinel:
        if isinstance(original_node.names, cst.ImportStar) or isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        written = get_full_name_for_node(updated_node.module) if updated_node.module is not None else None
        module = absolute_module(self.plan.file.module, self.plan.file.is_package, len(updated_node.relative), written)
        kept: list[cst.ImportAlias] = []
        for old, alias in zip(original_node.names, updated_node.names, strict=True):
            name = get_full_name_for_node(alias.name) or ""
            local = (get_full_name_for_node(alias.asname.name) if alias.asname is not None else None) or name
            new = self.plan.from_imports.get((f"{module}:{name}", local))
            if id(old) in self.removed:
                continue
            if new is None:
                kept.append(alias)
                continue
            self.done.add((f"{module}:{name}", local))
            self._pending.setdefault(new.partition(":")[0], []).append((new.partition(":")[2], local))
        return _shrink(updated_node, kept)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        additions, self._pending = self._pending, {}
        for new, local in self.added.get(id(original_node), []):
            additions.setdefault(new.partition(":")[0], []).append((new.partition(":")[2], local))
        if not additions:
            return updated_node if updated_node.body else cst.RemovalSentinel.REMOVE
        lines: list[cst.BaseStatement] = [updated_node] if updated_node.body else []
        for module, names in additions.items():
            text = ", ".join(name if name == local else f"{name} as {local}" for name, local in dict.fromkeys(names))
            lines.append(cst.parse_statement(f"from {module} import {text}\n"))
        if not updated_node.body:
            first, last = lines[0], lines[-1]
            assert isinstance(first, cst.SimpleStatementLine) and isinstance(last, cst.SimpleStatementLine)
            lines[0] = first.with_changes(leading_lines=updated_node.leading_lines)
            lines[-1] = lines[-1].with_changes(trailing_whitespace=updated_node.trailing_whitespace)
        return cst.FlattenSentinel(lines)


def _shrink(
    node: cst.Import | cst.ImportFrom, names: list[cst.ImportAlias]
) -> cst.BaseSmallStatement | cst.RemovalSentinel:
    """`node` with only `names` (removed when none is left; no trailing comma on the last)."""
    if isinstance(node.names, cst.ImportStar) or len(names) == len(node.names):
        return node
    if not names:
        return cst.RemovalSentinel.REMOVE
    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    if isinstance(node, cst.ImportFrom) and len(names) == 1 and node.lpar is not None:
        return node.with_changes(names=names, lpar=None, rpar=None)
    return node.with_changes(names=names)
