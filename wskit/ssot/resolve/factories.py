"""Factories found by what they return, to a fixed point.

A module-level function (sync or async, in any module: package `__init__` and deprecated modules
included) is a factory of a class when its return annotation names the class, or when one of its
`return` statements produces an instance of it: `return Cls(...)`, `return Alias(...)`, a local
`x = Cls(...)` returned, or the result of another factory of the class, awaited or not
(`return await real(...)`, `return real(...)`). Wrappers of wrappers chain. A function that returns
one of several classes (a dispatcher: `get_client(sync_client=...)`) is a factory of each. Read
statically: a name is looked up in the function first (its own imports), then at module level
through the resolver, as Python would.

What a caller must do follows from the function, not from its name: an `async def` must be
awaited; so must a plain `def` that returns an async factory's coroutine without awaiting it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import NamedTuple

from wskit.ssot.read.bindings import absolute_module
from wskit.ssot.read.textsearch import cover
from wskit.ssot.resolve.aliases import find_aliases
from wskit.ssot.resolve.static import Definition, StaticResolver
from wskit.ssot.resolve.tree import SourceFile, SourceTree

__all__ = ["Factory", "ReturnReader", "Returned", "find_factories"]

_MAX_ROUNDS = 8
_MAX_DEPTH = 12
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")  # in the order of each node's _fields


class Returned(NamedTuple):
    """What a function returns, read statically: an instance of the class `target`.

    `awaitable`: callers must await the function (an `async def`, or a plain `def` that hands back
    an async function's coroutine); `wraps`: the function whose result it returns (None when it
    builds the class itself or its annotation says so); `why`: one line for a reader.
    """

    target: Definition
    awaitable: bool
    why: str
    wraps: Definition | None = None


class Factory(NamedTuple):
    """A function of a tree that returns an instance of `target` (a class identity).

    `also`: (class identity, why) of the other classes of the search it may return instead (a
    dispatcher such as `get_client(sync_client=...)`): it is a factory of each of them too.
    """

    definition: Definition
    target: str
    awaitable: bool
    why: str
    wraps: str | None = None
    also: tuple[tuple[str, str], ...] = ()

    @property
    def identity(self) -> str:
        """Qualified name of the function."""
        return self.definition.identity

    @property
    def kind(self) -> str:
        """ "async factory" when callers must await it, else "factory"."""
        return "async factory" if self.awaitable else "factory"

    @property
    def made(self) -> tuple[tuple[str, str], ...]:
        """(class identity, why) of every class it returns: `target` first, then `also`."""
        return ((self.target, self.why), *self.also)


class ReturnReader:
    """Reads what functions return, following the functions they return the result of (memoized)."""

    def __init__(self, resolver: StaticResolver) -> None:
        self.resolver = resolver
        self._known: dict[str, Returned | None] = {}
        self._every: dict[str, tuple[Returned, ...]] = {}
        self._reading: set[str] = set()
        self._listing: set[str] = set()

    def returned(self, function: Definition) -> Returned | None:
        """The class an instance of which `function` returns, or None when nothing says so: its
        annotation, else the first of its `return` statements that says (in reading order)."""
        identity = function.identity
        if identity in self._known:
            return self._known[identity]
        if identity in self._reading or len(self._reading) > _MAX_DEPTH:
            return None  # a wrapper of itself, or too deep to follow
        self._reading.add(identity)
        try:
            found = next(self._read(function, self._first), None)
        finally:
            self._reading.discard(identity)
        self._known[identity] = found
        return found

    def every(self, function: Definition) -> tuple[Returned, ...]:
        """Every class `function` may return an instance of, one `Returned` each, in reading order:
        a dispatcher returns one of several (`return Sync(...) if sync else Async(...)`)."""
        identity = function.identity
        if identity in self._every:
            return self._every[identity]
        if identity in self._listing or len(self._listing) > _MAX_DEPTH:
            return ()
        self._listing.add(identity)
        try:
            distinct: dict[str, Returned] = {}
            for returned in self._read(function, self.every):
                distinct.setdefault(returned.target.identity, returned)
        finally:
            self._listing.discard(identity)
        self._every[identity] = found = tuple(distinct.values())
        return found

    def _first(self, function: Definition) -> tuple[Returned, ...]:
        found = self.returned(function)
        return () if found is None else (found,)

    def _read(self, function: Definition, follow: Callable[[Definition], tuple[Returned, ...]]) -> Iterator[Returned]:
        """What `function` returns, statement by statement; `follow` reads a function whose result
        it returns."""
        node = function.node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        is_async = isinstance(node, ast.AsyncFunctionDef)
        if node.returns is not None:
            annotated = self.resolver.resolve_return(function).definition
            if annotated is not None and annotated.kind == "class":
                yield Returned(
                    annotated, is_async, f"its return annotation names {annotated.qualname} ({function.defined_at})"
                )
                return
        try:
            info = self.resolver.module(function.module)
        except LookupError:
            return
        statements = list(_own_statements(node))
        returns = [(s, s.value) for s in statements if isinstance(s, ast.Return) and s.value is not None]
        if not returns:
            return
        local = _Locals(function.module, info.is_package, statements)
        for statement, returned in returns:
            value, awaited = _unwrap(returned, local)
            if not isinstance(value, ast.Call):
                continue
            callee = local.resolve(self.resolver, value.func)
            if callee is None:
                continue
            code = ast.unparse(returned)
            code = code if len(code) <= 70 else code[:67] + "..."
            why = f"it returns {code} ({function.relative}:{statement.lineno})"
            if callee.kind == "class":
                if "interface" not in self.resolver.class_traits(callee, inherited=False):
                    yield Returned(callee, is_async, why)
                continue
            for inner in follow(callee):
                yield Returned(inner.target, is_async or (inner.awaitable and not awaited), why, callee)


def find_factories(
    tree: SourceTree, classes: dict[str, str], known: dict[str, Factory] | None = None
) -> dict[str, Factory]:
    """Every function of the tree's product code that returns an instance of one of `classes`.

    `classes` maps a class identity to its name; `known` are factories already established
    (configured ones), left out of the result. Found to a fixed point: a function that returns a
    factory's result makes the next round look for its own callers' wrappers. Files whose
    analysis fails are recorded in `tree.skipped`.
    """
    reader = ReturnReader(tree.resolver)
    found: dict[str, Factory] = dict(known or {})
    names = _alias_names(tree, found, classes)
    searched: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        pending = names - searched
        if not pending:
            break
        searched |= pending
        pieces = cover(pending)
        before = len(found)
        for file in tree.files:
            if file.is_test:
                continue
            words = file.occurrences(pending, pieces)
            if not words:
                continue
            # Where the names occur in code: a function that names them only in comments and
            # strings returns none of their results by them.
            code = [offset for offsets in words.values() for offset in offsets if not file.skim.in_prose(offset)]
            with tree.reading(file):
                for factory in _factories_in(tree, reader, file, code, classes):
                    found.setdefault(factory.identity, factory)
        if len(found) == before:
            break
        names |= _alias_names(tree, found, classes)
    return {identity: factory for identity, factory in found.items() if known is None or identity not in known}


def _alias_names(tree: SourceTree, found: dict[str, Factory], classes: dict[str, str]) -> set[str]:
    """The names of the classes and factories, and every name they are imported or aliased as."""
    wanted = set(classes) | set(found)

    def target_of(definition: Definition | None) -> str | None:
        return definition.identity if definition is not None and definition.identity in wanted else None

    start = set(classes.values()) | {f.definition.qualname for f in found.values()}
    return find_aliases(tree, start, target_of, names_only=True).names


def _factories_in(
    tree: SourceTree, reader: ReturnReader, file: SourceFile, offsets: list[int], classes: dict[str, str]
) -> Iterator[Factory]:
    info = tree.module_info(file)
    if info is None:
        return
    for statement in info.functions_holding(offsets):
        definition = tree.resolver.resolve(file.module, statement.name).definition
        if definition is None or definition.kind != "function" or definition.line != statement.lineno:
            continue  # not the binding that wins at import
        if reader.returned(definition) is None:
            continue  # it returns no class at all
        made = [returned for returned in reader.every(definition) if returned.target.identity in classes]
        if made:
            first, others = made[0], made[1:]
            wraps = first.wraps.identity if first.wraps is not None else None
            also = tuple((returned.target.identity, returned.why) for returned in others)
            yield Factory(definition, first.target.identity, first.awaitable, first.why, wraps, also)


def _own_statements(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The function's own statements, `except` handlers and `case` blocks (nested functions and
    classes not entered; expressions hold no statement), last block first: the order in which its
    `return` statements have always been read, which decides the one reported."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _NESTED):
            for block in _BLOCKS:
                stack.extend(getattr(node, block, ()))


def _unwrap(value: ast.expr, local: _Locals) -> tuple[ast.expr, bool]:
    """The call a returned expression comes from: through `await`, `cast(T, x)` and a local name
    assigned once; and whether it was awaited."""
    awaited = False
    for _ in range(4):
        if isinstance(value, ast.Await):
            value, awaited = value.value, True
        elif isinstance(value, ast.Call) and _last(value.func) == "cast" and len(value.args) == 2:
            value = value.args[1]
        elif isinstance(value, ast.Name) and value.id in local.assigned:
            value = local.assigned[value.id]
        else:
            break
    return value, awaited


class _Locals:
    """A function's own imports and assignments (from `_own_statements`), looked up before
    module-level names. A name imported twice is the first import's (the one in `try`, not its
    `except ImportError` fallback); a name assigned more than once is followed only when its last
    assignment in the source is a call or an `await`."""

    def __init__(self, module: str, is_package: bool, statements: list[ast.AST]) -> None:
        self.module = module
        self.imports: dict[str, tuple[str, str | None]] = {}  # name -> (module, attribute or None)
        self.assigned: dict[str, ast.expr] = {}
        counts: dict[str, int] = {}
        last: dict[str, tuple[int, int]] = {}  # where the kept assignment of a name is
        for node in statements:
            if isinstance(node, ast.ImportFrom):
                source = absolute_module(module, is_package, node.level, node.module)
                for alias in node.names:
                    if alias.name != "*":
                        self.imports[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = (alias.name, None)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                counts[name] = counts.get(name, 0) + 1
                if (node.lineno, node.col_offset) >= last.get(name, (0, 0)):
                    last[name] = (node.lineno, node.col_offset)
                    self.assigned[name] = node.value
        for name, count in counts.items():
            if count > 1 and not isinstance(self.assigned[name], ast.Call | ast.Await):
                # Rebound, and its last assignment in the source is no call: what is returned is not known.
                del self.assigned[name]

    def resolve(self, resolver: StaticResolver, func: ast.expr) -> Definition | None:
        """What a called expression is: a class or function definition, or None."""
        head = func
        attributes: list[str] = []
        while isinstance(head, ast.Attribute):
            attributes.insert(0, head.attr)
            head = head.value
        if not isinstance(head, ast.Name) or head.id in self.assigned:
            return None  # a local variable: only run time knows what it holds
        if head.id in self.imports:
            module, attribute = self.imports[head.id]
            if attribute is None:
                if not attributes:
                    return None
                attribute = attributes.pop(0)
            definition = resolver.resolve(module, attribute).definition
            for name in attributes:
                if definition is None or definition.kind != "module":
                    return None
                definition = resolver.resolve(definition.module, name).definition
        else:
            definition = resolver.resolve_expression(self.module, func).definition
        return definition if definition is not None and definition.kind in ("class", "function") else None


def _last(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
