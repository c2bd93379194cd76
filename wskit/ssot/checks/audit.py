"""`audit_calls`: every import and call of the configured symbols in a tree, classified, without importing.

For each symbol of `[tool.wskit.ssot]` (canonical class, paths, interfaces, `deprecated`,
`preferred`), its paths are resolved statically (`wskit.ssot.resolve.targets`), the tree's aliases of
them found to a fixed point (`wskit.ssot.resolve.aliases`), and every file that mentions one of those
names is read statement by statement (`wskit.ssot.checks.callsites`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from wskit.ssot.checks.callsites import Catalog, audit_file
from wskit.ssot.checks.config import SsotConfig, load_config
from wskit.ssot.model import SymbolSpec
from wskit.ssot.read.forked import map_forked
from wskit.ssot.read.gcpause import gc_paused
from wskit.ssot.read.textsearch import cover
from wskit.ssot.render.audit_report import CALL_ERRORS, KINDS, AuditReport, AuditRow
from wskit.ssot.resolve.aliases import find_aliases
from wskit.ssot.resolve.constructors import defines
from wskit.ssot.resolve.factories import Factory, find_factories
from wskit.ssot.resolve.targets import Symbol, Target, resolve_symbol
from wskit.ssot.resolve.tree import SourceTree

__all__ = ["CALL_ERRORS", "KINDS", "AuditReport", "AuditRow", "audit_calls", "collect", "source_tree", "symbols_of"]

ConfigOrSymbols = SsotConfig | SymbolSpec | Sequence[SymbolSpec] | str | os.PathLike[str]


def symbols_of(config_or_symbols: ConfigOrSymbols) -> tuple[list[SymbolSpec], list[Path]]:
    """The symbols to audit and the configured search path, from any accepted argument."""
    if isinstance(config_or_symbols, str | os.PathLike):
        config_or_symbols = load_config(Path(config_or_symbols))
    if isinstance(config_or_symbols, SsotConfig):
        return list(config_or_symbols.symbols), list(config_or_symbols.search_path)
    if isinstance(config_or_symbols, SymbolSpec):
        return [config_or_symbols], []
    specs = (
        [s for s in config_or_symbols if isinstance(s, SymbolSpec)] if isinstance(config_or_symbols, Sequence) else []
    )
    if specs and len(specs) == len(config_or_symbols):
        return specs, []
    raise TypeError(
        "config_or_symbols must be a pyproject.toml path, an SsotConfig, a SymbolSpec or a non-empty list of them;"
        f" got {type(config_or_symbols).__name__}"
    )


def audit_calls(
    config_or_symbols: ConfigOrSymbols,
    root: str | os.PathLike[str],
    *,
    search_path: Sequence[str | os.PathLike[str]] = (),
) -> AuditReport:
    """List every import and call of the symbols under `root`, classified (see `audit_report`).

    Args:
        config_or_symbols: a pyproject.toml with `[tool.wskit.ssot]` (its `search_path` is
            used too), a loaded `SsotConfig`, or `SymbolSpec`s.
        root: the source tree to read (test files included; rows say "test" or "product").
        search_path: more directories where the symbols' modules may live (then `sys.path`).

    Raises `ValueError` (`ConfigError`) for a bad configuration or a root that does not exist.
    """
    specs, configured = symbols_of(config_or_symbols)
    with gc_paused():
        # Everything parsed is freed when _audit returns, before the collector is back on.
        return _audit(source_tree(root, configured, search_path), str(root), specs)


def source_tree(
    root: str | os.PathLike[str], configured: list[Path], search_path: Sequence[str | os.PathLike[str]]
) -> SourceTree:
    """The tree under `root` (tests included), resolving through `configured` and `search_path` too."""
    if not isinstance(root, str | os.PathLike) or not Path(root).exists():
        raise ValueError(f"root {root!r} does not exist; pass the source directory")
    extra = [Path(p) for p in search_path]
    for entry in extra:
        if not entry.is_dir():
            raise ValueError(f"search_path entry {str(entry)!r} is not a directory")
    return SourceTree(Path(root), True, tuple(configured + extra))


def collect(tree: SourceTree, specs: list[SymbolSpec]) -> tuple[Catalog, list[AuditRow]]:
    """The symbols resolved into a catalog (with the factories found by what they return), and
    every row of the tree: rows that raise at run time in product code first, then by place."""
    symbols = [resolve_symbol(spec, tree.resolver) for spec in specs]
    _add_found_factories(tree, symbols)
    catalog = Catalog(symbols)
    names = {target.definition.qualname.rpartition(".")[2] for _, target in catalog.targets.values()}
    names |= {path.rpartition(":")[2] for symbol in catalog.symbols for path in symbol.path_targets}
    catalog.names = find_aliases(tree, names, catalog.find, names_only=True).names
    pieces = cover(catalog.names)

    def work(index: int) -> tuple[list[AuditRow], bool, str | None]:
        file = tree.files[index]
        found: list[AuditRow] = []
        where = file.occurrences(catalog.names, pieces)  # most files name no symbol: not parsed at all
        if where:
            with tree.reading(file):
                found = audit_file(tree, file, catalog, where)
        return found, file.info is not None, tree.skipped.get(file.relative)

    rows: list[AuditRow] = []
    for file, (found, read, skipped) in zip(tree.files, map_forked(work, len(tree.files)), strict=True):
        rows += found
        tree.note_read(file, read, skipped)  # what a forked worker read or skipped, as if read here
    return catalog, sorted(rows, key=lambda r: (not r.raises_in_product, r.file, r.line, KINDS.index(r.kind), r.via))


def _add_found_factories(tree: SourceTree, symbols: list[Symbol]) -> None:
    """Functions of the tree that return what a symbol's classes or factories make (wrappers,
    compatibility shims) are factories of that symbol too: their calls are audited as such."""
    owner: dict[str, Symbol] = {}
    classes: dict[str, str] = {}
    known: dict[str, Factory] = {}
    for symbol in symbols:
        made = [i for i, t in symbol.targets.items() if t.kind == "class"]
        for identity in made:
            owner.setdefault(identity, symbol)
            classes[identity] = symbol.targets[identity].definition.qualname
        for identity, target in symbol.targets.items():
            if "factory" in target.kind and made:
                awaitable = target.kind == "async factory" or target.returns_awaitable
                known[identity] = Factory(target.definition, made[0], awaitable, "")
    if not classes:
        return
    for factory in find_factories(tree, classes, known).values():
        deprecated = tree.resolver.is_deprecated(factory.definition)
        for class_identity, why in factory.made:  # a dispatcher is a factory of each class it returns
            symbol = owner[class_identity]
            awaitable = defines(tree.resolver, symbol.targets[class_identity].definition, "__await__")
            symbol.targets.setdefault(
                factory.identity,
                Target(factory.definition, factory.kind, deprecated=deprecated, returns_awaitable=awaitable,
                       found_because=why),
            )  # fmt: skip


def _audit(tree: SourceTree, root: str, specs: list[SymbolSpec]) -> AuditReport:
    catalog, rows = collect(tree, specs)
    return AuditReport(
        root=root,
        symbols=tuple(spec.name for spec in specs),
        rows=tuple(rows),
        findings=tuple(sorted({f for symbol in catalog.symbols for f in symbol.findings})),
        skipped=tuple(sorted(tree.skipped.items())),
        files_scanned=len(tree.files),
        files_parsed=tree.files_read,
    )
