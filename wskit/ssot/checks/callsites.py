"""The call sites of configured symbols in one file: imports, calls, awaits, `isinstance`, classified.

Names are looked up as Python does: the enclosing function scopes first (parameters, local
assignments and function-level imports), then the module, whose names go through the static
resolver (aliases, re-exports and star imports followed), then builtins. Only the top-level
statements (and members of long classes) that mention one of the symbols' names are parsed, and
only where the name may refer to one: not as an attribute of `self` or `cls`, and a module's last
name (`manager`) only in an import or a dotted name. What depends on run time (a
`getattr` on a module that holds a symbol, `*args`/`**kwargs` at the call, a name bound to a
computed value) becomes an `unknown` row with the reason, never a silent pass.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import NamedTuple

from wskit.ssot.read.bindings import Binding, ModuleInfo, absolute_module
from wskit.ssot.read.textsearch import any_between, attribute_base, cover, occurrences, occurrences_by_name
from wskit.ssot.render.audit_report import AuditRow
from wskit.ssot.resolve.constructors import without_first as _without_first
from wskit.ssot.resolve.signature import FunctionNode, check_call, describe, forwarded_to, rejects_extras
from wskit.ssot.resolve.static import Definition, StaticResolver
from wskit.ssot.resolve.targets import Symbol, Target
from wskit.ssot.resolve.tree import SourceFile, SourceTree

__all__ = ["Catalog", "audit_file"]

# Callables that take a coroutine and await or schedule it.
_SCHEDULERS = {
    "run", "create_task", "ensure_future", "gather", "wait_for", "shield", "run_until_complete",
    "run_coroutine_threadsafe", "wait", "as_completed", "start_soon", "spawn", "timeout",
}  # fmt: skip
# What a coroutine may be put in on its way to being awaited (or not).
_HOLDERS = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Starred, ast.ListComp, ast.SetComp, ast.GeneratorExp,
            ast.DictComp, ast.comprehension)  # fmt: skip
_HOLDER_NAMES: dict[type, str] = {
    ast.List: "list", ast.Tuple: "tuple", ast.Set: "set", ast.Dict: "dict", ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension", ast.GeneratorExp: "generator", ast.DictComp: "dict comprehension",
}  # fmt: skip
# Nested scopes: the names they bind are their own.
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_MAX_DEPTH = 8
# Nodes that hold no call: not worth visiting.
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.alias)
_Extras = Callable[[FunctionNode, list[str]], str | None]
# What calling a class that defines no constructor takes: nothing (object's).
_NO_ARGUMENTS = ast.FunctionDef(
    name="object", args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                                      kwarg=None, defaults=[]),
    body=[ast.Pass()], decorator_list=[], returns=None, lineno=0, col_offset=0,
)  # fmt: skip


@dataclass
class Catalog:
    """Every target of the audited symbols by identity, and the names and modules they are reached by."""

    symbols: list[Symbol]
    targets: dict[str, tuple[Symbol, Target]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    _methods: dict[tuple[str, str], tuple[Symbol, Target] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for symbol in self.symbols:
            for identity, target in symbol.targets.items():
                self.targets.setdefault(identity, (symbol, target))
                self.modules.add(target.definition.module)
            self.modules.update(path.partition(":")[0] for path in symbol.path_targets)

    def find(self, definition: Definition | None) -> tuple[Symbol, Target] | None:
        """The (symbol, target) `definition` is, or None."""
        return self.targets.get(definition.identity) if definition is not None else None

    def method(self, found: tuple[Symbol, Target], name: str, resolver: StaticResolver) -> tuple[Symbol, Target] | None:
        """A classmethod or staticmethod of a symbol's class that returns an instance of it
        (`Client.create()`): a factory of the symbol, sync or async as written; None otherwise."""
        symbol, target = found
        key = (target.identity, name)
        if key not in self._methods:
            self._methods[key] = None
            made = _factory_method(resolver, target, name)
            if made is not None:
                self._methods[key] = (symbol, made)
        return self._methods[key]


class _Ref(NamedTuple):
    """What an expression refers to, as far as the audit cares."""

    found: tuple[Symbol, Target] | None = None
    module: str | None = None
    unknown: str | None = None
    origin: int | None = None  # line of the import statement that bound a module
    assumed: str = ""  # a choice run time makes, taken statically (the try branch of an import)


class _Scope:
    """A function, class or module scope; its own bindings are read on first use."""

    def __init__(self, node: ast.AST | None, kind: str, *, walrus: bool = False) -> None:
        self.node = node
        self.kind = kind  # "module", "function" or "class"
        self.walrus = walrus  # whether its text has `:=` (only then are expressions searched for bindings)
        self.relevant: set[str] | None = None  # names bound to something that mentions a symbol
        self.hits: list[int] | None = None  # where those names occur in the scope's text
        self._bindings: dict[str, list[tuple[str, ast.AST, ast.AST | None]]] | None = None if node else {}

    @property
    def bindings(self) -> dict[str, list[tuple[str, ast.AST, ast.AST | None]]]:
        if self._bindings is None:
            assert self.node is not None
            self._bindings = _local_bindings(self.node, walrus=self.walrus)
        return self._bindings


def audit_file(tree: SourceTree, file: SourceFile, catalog: Catalog, held: dict[str, set[int]]) -> list[AuditRow]:
    """The rows of one file whose text holds some of the catalog's names: `held` maps each of
    them to its offsets (`occurrences_by_name` of the catalog's names)."""
    info = tree.module_info(file)
    if info is None:
        return []
    walker = _FileAudit(tree, file, info, catalog)
    # The catalog's other names do not occur in the file: only the modules' last names are searched.
    mentioned = set(held)
    leaves = {module.rpartition(".")[2] for module in catalog.modules}
    others = leaves - catalog.names
    where = {**occurrences_by_name(file.data, others, cover(others)), **held}
    where = _references(file, where, leaves - mentioned)
    near = walker.module_level_words(mentioned, [offset for found in where.values() for offset in found])
    if near:
        where |= _references(file, occurrences_by_name(file.data, near, cover(near)), set(), near)
    walker.hits = sorted({offset for found in where.values() for offset in found})
    try:
        # A long class's body statements without a hit are not visited (`_mentioned`): not parsed either.
        walker.statements = statements = info.statements_holding(
            [offset for word in mentioned | near for offset in where.get(word, ())],
            members=lambda start, end: any_between(walker.hits, start, end),
        )
    except (SyntaxError, ValueError) as exc:
        tree.fail(file, exc)
        return []
    for statement in statements:
        walker.visit(statement, [], [_Scope(None, "module")])
    return sorted(set(walker.rows))


def _references(
    file: SourceFile,
    where: dict[str, set[int]],
    module_words: set[str],
    bound_words: AbstractSet[str] = frozenset(),
) -> dict[str, set[int]]:
    """The occurrences in `where` that may refer to a symbol or to a module holding one. Not in a
    comment or a string that is no f-string (`Skim.in_prose`), nor an attribute of `self` or `cls`
    (a method's own parameter). A module's last name (`module_words`) only in an import statement or
    after a dot (`pkg.manager`): elsewhere `manager` is a local, a parameter or prose (a name bound
    to the module is found as such: a module-level word, or a function's local). Neither those nor
    names bound in the file (`bound_words`) in the module a `from` import names: `from pkg.sub
    import x` uses no variable `pkg` and binds only `x`, found by its own name."""
    kept: dict[str, set[int]] = {}
    skim = file.skim
    for word, offsets in where.items():
        found = set()
        for offset in offsets:
            if skim.in_prose(offset):
                continue
            base = attribute_base(file.data, offset)
            if base is not None:
                if base not in (b"self", b"cls"):
                    found.add(offset)
            elif word in module_words:
                if skim.in_import(offset) and not skim.in_from_module(offset):
                    found.add(offset)
            elif word not in bound_words or not skim.in_from_module(offset):
                found.add(offset)
        if found:
            kept[word] = found
    return kept


class _FileAudit:
    def __init__(self, tree: SourceTree, file: SourceFile, info: ModuleInfo, catalog: Catalog) -> None:
        self.tree = tree
        self.statements: list[ast.stmt] = []  # the top-level statements read (set once the words are known)
        self.resolver = tree.resolver
        self.file = file
        self.info = info
        self.catalog = catalog
        self.rows: list[AuditRow] = []
        self._module_refs: dict[str, _Ref | None] = {}
        self._lines: list[bytes] | None = None
        self._line_starts: list[int] | None = None
        self._seen_module_imports: set[tuple[int, str]] = set()
        self.hits: list[int] = []  # offsets of the words in the file, sorted

    def module_level_words(self, mentioned: set[str], offsets: list[int]) -> set[str]:
        """Module-level names bound to what may be a symbol at run time, or to a module holding one,
        by the statements holding `offsets` (where the symbols' names and modules occur)."""
        found: set[str] = set()
        try:
            for name in self.info.names_bound_at(offsets):
                for binding in self.info.bound(name):
                    if binding.kind in ("alias", "dynamic"):
                        relevant = binding.node is not None and self._may_be(binding.node)
                    else:
                        module = binding.module if binding.kind == "module" else f"{binding.module}.{binding.attr}"
                        relevant = binding.kind in ("module", "import") and module in self.catalog.modules
                    if relevant:
                        found.add(name)
        except (SyntaxError, ValueError):
            pass  # the caller reads the file again and reports it
        return found - mentioned

    def _mentioned(self, node: ast.AST, scopes: list[_Scope]) -> bool:
        """Whether the source lines of `node` (a statement) mention a word worth looking at: a
        symbol's name, a module holding one, or an enclosing function's local name for either.
        A statement that mentions none holds no call or import of a symbol."""
        return self._holds_a_word(*self._span(node), scopes)

    def _holds_a_word(self, start: int, end: int, scopes: list[_Scope]) -> bool:
        """Whether the text between byte offsets `start` and `end` holds one of those words."""
        if any_between(self.hits, start, end):
            return True
        return any(scope.kind == "function" and any_between(self._local_hits(scope), start, end) for scope in scopes)

    def _local_hits(self, scope: _Scope) -> list[int]:
        """Offsets, in the function's text, of the local names bound to something about a symbol."""
        if scope.hits is None:
            scope.hits = []
            if scope.node is None:
                return scope.hits
            start, end = self._span(scope.node)
            # A local is relevant only when its import or value mentions a word of the file's hits.
            relevant = self._relevant_locals(scope) if any_between(self.hits, start, end) else set()
            if relevant:
                found = occurrences(self.file.data[start:end], relevant, cover(relevant))
                scope.hits = [start + offset for offset in found]
        return scope.hits

    def _relevant_locals(self, scope: _Scope) -> set[str]:
        """The names a function binds to something that mentions a symbol or a module holding one."""
        if scope.relevant is None:
            scope.relevant = set()
            for name, sites in scope.bindings.items():
                for kind, node, value in sites:
                    if kind in ("import", "module") and isinstance(value, ast.alias):
                        module = value.name
                        if isinstance(node, ast.ImportFrom):
                            base = absolute_module(self.file.module, self.file.is_package, node.level, node.module)
                            module = f"{base}.{value.name}"
                        relevant = value.name in self.catalog.names or module in self.catalog.modules
                    else:
                        # The text of the value names a symbol or a module holding one (a few
                        # false friends on the same lines cost a little search, never a row).
                        relevant = value is not None and any_between(self.hits, *self._span(value))
                    if relevant:
                        scope.relevant.add(name)
        return scope.relevant

    def _has_walrus(self, node: ast.AST) -> bool:
        start, end = self._span(node)
        return self.file.data.find(b":=", start, end) >= 0

    def _span(self, node: ast.AST) -> tuple[int, int]:
        """Byte offsets of the lines of `node`, decorators included."""
        starts = self._starts()
        decorators = [d.lineno for d in getattr(node, "decorator_list", [])]
        first = min([getattr(node, "lineno", 1), *decorators])
        last = getattr(node, "end_lineno", None) or len(starts)
        return starts[first - 1], starts[last] if last < len(starts) else len(self.file.data)

    def _starts(self) -> list[int]:
        """Byte offset of each line's start (made on first use, in C: a line's start is the last
        one's plus its length and 1)."""
        if self._line_starts is None:
            lengths = map((1).__add__, map(len, self.file.data.split(b"\n")))
            self._line_starts = list(itertools.accumulate(lengths, initial=0))
            self._line_starts.pop()  # (where a line after the last would start)
        return self._line_starts

    def _expression_span(self, node: ast.expr) -> tuple[int, int]:
        """Byte offsets of the text of `node` itself (its columns are byte offsets too)."""
        starts = self._starts()
        end_line, end_column = node.end_lineno or node.lineno, node.end_col_offset or 0
        return starts[node.lineno - 1] + node.col_offset, starts[end_line - 1] + end_column

    # -- walking ---------------------------------------------------------------------------------

    def visit(self, node: ast.AST, parents: list[ast.AST], scopes: list[_Scope]) -> None:
        if isinstance(node, ast.stmt) and not self._mentioned(node, scopes):
            return  # nothing in it can reach a symbol
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            outer: list[ast.AST] = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                outer += node.decorator_list
            for child in outer:
                self.visit(child, [*parents, node], scopes)
            inner = [*scopes, _Scope(node, "function", walrus=self._has_walrus(node))]
            body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
            for child in body:
                self.visit(child, [node], inner)
            return
        if isinstance(node, ast.ClassDef):
            for child in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.visit(child, [*parents, node], scopes)
            inner = [*scopes, _Scope(node, "class", walrus=self._has_walrus(node))]
            for statement in node.body:
                self.visit(statement, [node], inner)
            return
        if len(scopes) == 1 and _is_main_block(node):
            # `if __name__ == "__main__":` runs only as a script: its imports are not the module's
            # names for an importer, but they are for the calls in the block (a scope of its own here).
            assert isinstance(node, ast.If)
            self.visit(node.test, [node], scopes)
            block = [*scopes, _Scope(node, "function", walrus=self._has_walrus(node))]
            for child in [*node.body, *node.orelse]:
                self.visit(child, [node], block)
            return
        if isinstance(node, ast.ImportFrom):
            self._import_from(node)
        elif isinstance(node, ast.Call):
            self._call(node, parents, scopes)
        skip = _annotations(node)
        parents.append(node)
        for child in ast.iter_child_nodes(node):
            if child not in skip and not isinstance(child, _LEAVES):
                self.visit(child, parents, scopes)
        parents.pop()

    # -- rows ------------------------------------------------------------------------------------

    def _row(
        self,
        line: int,
        kind: str,
        via: str,
        found: tuple[Symbol, Target] | None,
        detail: str = "",
        *,
        raises: bool = False,
        column: int = 0,
    ) -> None:
        if self._lines is None:
            self._lines = self.file.data.splitlines()
        code = self._lines[line - 1].decode("utf-8", "replace").strip() if 0 < line <= len(self._lines) else ""
        symbol, target = found if found is not None else (None, None)
        self.rows.append(
            AuditRow(
                file=self.file.relative,
                line=line,
                kind=kind,
                code=code,
                via=via,
                scope="test" if self.file.is_test else "product",
                symbol=symbol.spec.name if symbol is not None else "",
                target=target.identity if target is not None else "",
                detail=detail,
                raises=raises,
                column=column,
            )
        )

    def _import_row(self, line: int, path: str, found: tuple[Symbol, Target], via: str) -> None:
        symbol, target = found
        kind = "import-" + symbol.path_kind(path, target, self.resolver)
        self._row(line, kind, via, found, path)

    def _import_from(self, node: ast.ImportFrom) -> None:
        module = absolute_module(self.file.module, self.file.is_package, node.level, node.module)
        for alias in node.names:
            if alias.name == "*":
                continue
            found = self.catalog.find(self.resolver.resolve(module, alias.name).definition)
            if found is not None:
                self._import_row(
                    getattr(alias, "lineno", node.lineno), f"{module}:{alias.name}", found, alias.asname or alias.name
                )

    # -- calls -----------------------------------------------------------------------------------

    def _call(self, node: ast.Call, parents: list[ast.AST], scopes: list[_Scope]) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("isinstance", "issubclass") and len(node.args) == 2:
            if self._is_builtin(func.id, scopes):
                self._isinstance(node, scopes)
            return
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
            if self._is_builtin(func.id, scopes):
                ref = self._getattr(node, scopes)
                if ref is not None and ref.unknown:
                    self._row(node.lineno, "unknown", ast.unparse(node), None, ref.unknown, column=node.col_offset)
            return
        if not self._holds_a_word(*self._expression_span(func), scopes):
            return  # (`json.dumps(x)` in a statement that mentions a symbol): the callee cannot be one
        ref = self._resolve(func, scopes)
        if ref is None or ref.module is not None:
            return
        via = ast.unparse(func)
        if ref.unknown is not None:
            if not isinstance(func, ast.Call):  # getattr(...)(...): the inner call has its row
                self._row(node.lineno, "unknown", via, ref.found, ref.unknown, column=node.col_offset)
            return
        if ref.found is not None:
            self._classify(node, ref.found, parents, scopes, via=via, assumed=ref.assumed)

    def _classify(
        self,
        node: ast.Call,
        found: tuple[Symbol, Target],
        parents: list[ast.AST],
        scopes: list[_Scope],
        *,
        via: str,
        assumed: str = "",
    ) -> None:
        """Exactly one row for a call of a symbol: its worst problem, the others said in its detail."""
        symbol, target = found
        if target.kind == "interface":
            self._row(node.lineno, "call", via, found, assumed, column=node.col_offset)
            return
        problems: list[tuple[str, str, bool]] = []  # (kind, detail, raises), worst first
        status, detail = "ok", ""
        if target.kind == "class":
            status, detail = self._check_constructor(node, target)
            if status == "error":
                problems.append(("bad-arguments", detail, True))
            problems += self._construction(node, symbol, target, scopes)
        else:
            function = target.definition.node
            assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            status, detail = check_call(node, function, self._extras_checker(target.definition.module))
            if status == "error":
                problems.append(("bad-arguments", detail, True))
            awaited = bool(parents) and isinstance(parents[-1], ast.Await)
            if awaited and target.kind == "factory" and not target.returns_awaitable:
                why = f"{function.name} is a plain function: awaiting what it returns raises TypeError; drop the await"
                problems.append(("await-sync", why, True))
            scheduler = _scheduler_of(node, parents)
            if scheduler and target.kind == "factory" and not target.returns_awaitable:
                why = (
                    f"{function.name} is a plain function: {scheduler}() takes a coroutine or an awaitable and"
                    f" raises on what it returns; call it without {scheduler}()"
                )
                problems.append(("await-sync", why, True))
            if not awaited and target.kind == "async factory":
                kind, why = self._await_context(node, parents, scopes)
                if kind:
                    problems.append((kind, why, False))
        if target.found_because and problems:
            kind, why, raises = problems[0]
            problems[0] = (kind, f"{why} ({target.definition.qualname} is a factory: {target.found_because})", raises)
        if not problems:
            kind = "unknown" if status == "unknown" else "call"
            self._row(node.lineno, kind, via, found, "; ".join(filter(None, [detail, assumed])), column=node.col_offset)
            return
        kind, why, raises = problems[0]
        also = "; ".join(f"also {k}: {d}" for k, d, _ in problems[1:])
        swallowed = self._swallowed(node, parents) if raises else ""
        text = "; ".join(filter(None, [why, also, swallowed, assumed]))
        self._row(node.lineno, kind, via, found, text, raises=raises, column=node.col_offset)

    def _check_constructor(self, node: ast.Call, target: Target) -> tuple[str, str]:
        """("ok" | "error" | "unknown", detail) for a call of a class against what its construction takes."""
        built = target.constructor
        if built is None:
            return "ok", ""
        if built.unknown:
            return "unknown", f"whether the arguments fit is decided at run time: {built.unknown}"
        functions = built.functions or (_NO_ARGUMENTS,)
        for function, where in zip(functions, built.where or ("object",), strict=True):
            status, detail = check_call(node, function, self._extras_checker(target.definition.module))
            if status != "ok":
                name = target.definition.qualname
                return status, f"{detail.replace(f'{function.name}(', f'{name}(', 1)} ({where})"
        return "ok", ""

    def _construction(
        self, node: ast.Call, symbol: Symbol, target: Target, scopes: list[_Scope]
    ) -> list[tuple[str, str, bool]]:
        """The direct-instantiation problem of a call of a class, if any."""
        name = target.definition.qualname
        create = f"create it with {symbol.factory_path}"
        if target.factory_only:
            why = f"{name} is created only by its factory (its constructor always raises): {create}"
            return [("direct-instantiation", why, True)]
        passed = _passed(node)
        for guard in target.guards:
            if passed is None:
                return []  # **kwargs or *args: whether the guard's parameter is passed is decided at run time
            if guard.parameter in passed or (guard.position is not None and guard.position in passed):
                continue
            why = f"{name}(...) without {guard.parameter}: {guard.describe()}; {create}"
            return [("direct-instantiation", why, True)]
        if symbol.spec.factory_only and self._enclosing_function(scopes) not in symbol.factories:
            declared = f"{name} is declared factory-only (factory_only = true) and this code is none of its factories"
            return [("direct-instantiation", f"{declared}: {create}", False)]
        return []

    def _enclosing_function(self, scopes: list[_Scope]) -> str:
        """The identity of the module-level function (or method's class) the code is in, "" at module level."""
        names = [getattr(scope.node, "name", "") for scope in scopes[1:] if scope.kind in ("function", "class")]
        return f"{self.file.module}.{names[0]}" if names else ""

    def _swallowed(self, node: ast.Call, parents: list[ast.AST]) -> str:
        """Where an enclosing `try` catches what the call raises and goes on without it, said for a reader."""
        inner: ast.AST = node
        for parent in reversed(parents):
            if isinstance(parent, ast.Try | ast.TryStar) and inner in parent.body:
                for handler in parent.handlers:
                    caught = ast.unparse(handler.type) if handler.type is not None else "everything"
                    broad = handler.type is None or any(
                        word in caught for word in ("Exception", "BaseException", "TypeError", "Error")
                    )
                    if broad and not any(isinstance(n, ast.Raise) for n in ast.walk(handler)):
                        body = "; ".join(ast.unparse(s) for s in handler.body)[:60]
                        return (
                            f"the try at line {parent.lineno} swallows it (except {caught}: {body}):"
                            " the code goes on without what the call was to return"
                        )
            inner = parent
        return ""

    def _extras_checker(self, module: str, depth: int = 0) -> _Extras:
        def extras(function: FunctionNode, names: list[str]) -> str | None:
            if rejects_extras(function):
                return f"unexpected keyword {', '.join(names)}= ({function.name} raises on keywords it does not take)"
            for callee in forwarded_to(function):
                definition = self.resolver.resolve_expression(module, callee).definition
                node = definition.node if definition is not None else None
                if definition is None or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                taken = {a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
                rest = [name for name in names if name not in taken]
                if not rest:
                    return None
                if node.args.kwarg is None:
                    return f"unexpected keyword {', '.join(rest)}= (passed on to {describe(node)})"
                if depth < 3:
                    return self._extras_checker(definition.module, depth + 1)(node, rest)
            return None

        return extras

    def _await_context(self, node: ast.Call, parents: list[ast.AST], scopes: list[_Scope]) -> tuple[str, str]:
        """("missing-await" | "unknown" | "", why) for an async factory's call that is not awaited.

        The coroutine is followed through the containers and comprehensions it is put in, to
        where it ends: awaited, scheduled, returned, passed on, stored on `self`, or dropped.
        """
        index = len(parents) - 1
        held = ""  # the container that holds it, if any (a dict if any of them is one)
        while index >= 0 and isinstance(parents[index], _HOLDERS):
            holder = parents[index]
            if isinstance(holder, ast.Dict) or (not held and not isinstance(holder, ast.Starred | ast.comprehension)):
                held = _HOLDER_NAMES.get(type(holder), "container")
            index -= 1
        parent = parents[index] if index >= 0 else None
        child = parents[index + 1] if index + 1 < len(parents) else node
        inside = f"put in a {held} and " if held else ""
        function = next((s.node for s in reversed(scopes) if s.kind == "function"), None)
        if isinstance(parent, ast.keyword):
            child, parent = parent, parents[index - 1] if index >= 1 else None
        if isinstance(parent, ast.Await):
            return "", ""
        if isinstance(parent, ast.Return | ast.Yield | ast.YieldFrom | ast.Lambda):
            if isinstance(function, ast.AsyncFunctionDef) and not isinstance(parent, ast.Lambda):
                return "missing-await", (
                    f"the coroutine is {inside}returned by the async function {function.name}: the caller's"
                    " await gets a coroutine, not the object; await it here"
                )
            if held == "dict":
                return "missing-await", "the coroutine is put in a dict that is returned: nobody awaits it; await it"
            if held:
                return "unknown", f"a {held} of coroutines is returned; whether the caller awaits them is decided there"
            return "", ""  # a plain function handing the coroutine to its caller, which is audited as a factory
        if isinstance(parent, ast.Call) and child is not parent.func:
            return self._passed_to(parent, child, inside)
        if isinstance(parent, ast.Expr):
            return "missing-await", f"the coroutine is {inside}created and dropped: add await"
        if isinstance(parent, ast.Attribute) and not held:
            return "missing-await", f".{parent.attr} is looked up on the coroutine, not on its result: add await"
        if isinstance(parent, ast.Assign | ast.AnnAssign):
            target = _single_target(parent)
            if isinstance(target, ast.Name):
                inner = scopes[-1].node
                scope = self.info.full_node(inner) if inner is not None else ast.Module(self._whole_statements(), [])
                return _followed(scope, target.id, inside)
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                owner = next((s.node for s in reversed(scopes) if s.kind == "class"), None)
                if owner is not None:
                    return _followed_on_self(self.info.full_node(owner), target.attr, inside)
        kind = type(parent).__name__ if parent is not None else "module"
        return "unknown", f"the coroutine is used in a {kind}; whether it is awaited is decided at run time"

    def _whole_statements(self) -> list[ast.stmt]:
        """The statements read, long classes whole (they may have been read member by member)."""
        return [self.info.full_node(statement) for statement in self.statements]

    def _passed_to(self, call: ast.Call, argument: ast.AST, inside: str) -> tuple[str, str]:
        """A coroutine passed to a call: fine for a scheduler or a function that awaits that
        parameter, a finding for one that does not, unknown where the callee cannot be read."""
        name = _last_name(call.func)
        if name in _SCHEDULERS:
            return "", ""
        called = ast.unparse(call.func)
        definition = self.resolver.resolve_expression(self.file.module, call.func).definition
        function = definition.node if definition is not None else None
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) or definition is None:
            return "unknown", f"the coroutine is {inside}passed to {called}; whether it is awaited is decided there"
        parameter = _parameter_for(function, call, argument)
        if parameter is None:
            return "unknown", f"the coroutine is {inside}passed to {called}; whether it is awaited is decided there"
        if _awaited_later(function, parameter, keep_returned=False):
            return "", ""
        return "missing-await", (
            f"the coroutine is {inside}passed to {called} ({definition.defined_at}), which never awaits or"
            f" schedules its parameter {parameter}: add await"
        )

    def _isinstance(self, node: ast.Call, scopes: list[_Scope]) -> None:
        classes = node.args[1]
        for element in classes.elts if isinstance(classes, ast.Tuple) else [classes]:
            ref = self._resolve(element, scopes)
            if ref is None or ref.found is None:
                continue
            target = ref.found[1]
            if target.kind == "interface" and not target.runtime_checkable:
                check = _last_name(node.func)
                detail = (
                    f"{target.definition.qualname} is a Protocol without @runtime_checkable: {check}() raises TypeError"
                )
                self._row(
                    node.lineno, "isinstance-protocol", ast.unparse(element), ref.found, detail, raises=True,
                    column=node.col_offset,
                )  # fmt: skip

    def _getattr(self, node: ast.Call, scopes: list[_Scope]) -> _Ref | None:
        holder = self._resolve(node.args[0], scopes)
        if holder is None or holder.module is None or holder.module not in self.catalog.modules:
            return None
        name = node.args[1]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            reason = f"{holder.module}.{name.value} is looked up with getattr at run time"
        else:
            reason = f"an attribute of {holder.module} named at run time ({ast.unparse(name)}) may be a symbol"
        return _Ref(unknown=reason)

    # -- names -----------------------------------------------------------------------------------

    def _resolve(self, node: ast.expr, scopes: list[_Scope], depth: int = 0) -> _Ref | None:
        if depth > _MAX_DEPTH:
            return None
        if isinstance(node, ast.Name):
            return self._lookup(node.id, scopes, depth)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value, scopes, depth + 1)
            if base is not None and base.found is not None and base.found[1].kind == "class":
                method = self.catalog.method(base.found, node.attr, self.resolver)
                return _Ref(found=method, assumed=base.assumed) if method is not None else None
            if base is None or base.module is None:
                return None
            definition = self.resolver.resolve(base.module, node.attr).definition
            if definition is not None and definition.kind == "module":
                return _Ref(module=definition.module, origin=base.origin)
            found = self.catalog.find(definition)
            if found is None:
                return None
            if base.origin is not None and (base.origin, f"{base.module}:{node.attr}") not in self._seen_module_imports:
                self._seen_module_imports.add((base.origin, f"{base.module}:{node.attr}"))
                self._import_row(base.origin, f"{base.module}:{node.attr}", found, ast.unparse(node))
            return _Ref(found=found)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and self._is_builtin("getattr", scopes)
        ):
            return self._getattr(node, scopes)
        return None

    def _lookup(self, name: str, scopes: list[_Scope], depth: int) -> _Ref | None:
        innermost = scopes[-1]
        for index in range(len(scopes) - 1, 0, -1):
            scope = scopes[index]
            if scope.kind == "class" and scope is not innermost:
                continue  # a class body's names are not visible in its methods
            if name in scope.bindings:
                return self._local(name, scope, scopes[:index], depth)
        return self._module_name(name)

    def _local(self, name: str, scope: _Scope, outer: list[_Scope], depth: int) -> _Ref | None:
        refs: list[_Ref | None] = []
        for kind, node, value in scope.bindings[name]:
            if kind == "import" and isinstance(node, ast.ImportFrom):
                module = absolute_module(self.file.module, self.file.is_package, node.level, node.module)
                attr = value.name if isinstance(value, ast.alias) else name
                definition = self.resolver.resolve(module, attr).definition
                found = self.catalog.find(definition)
                if definition is not None and definition.kind == "module":
                    refs.append(_Ref(module=definition.module, origin=node.lineno))
                else:
                    refs.append(_Ref(found=found) if found is not None else None)
            elif kind == "module" and isinstance(node, ast.Import) and isinstance(value, ast.alias):
                module = value.name if value.asname else value.name.partition(".")[0]
                refs.append(_Ref(module=module, origin=node.lineno))
            elif kind == "assign" and isinstance(value, ast.expr):
                if isinstance(value, ast.Name | ast.Attribute) and not (
                    isinstance(value, ast.Name) and value.id == name
                ):
                    refs.append(self._resolve(value, [*outer, scope], depth + 1))
                elif self._may_be(value):
                    code = ast.unparse(value)[:60]
                    line = getattr(node, "lineno", "?")
                    refs.append(_Ref(unknown=f"{name} is bound at run time (line {line}: {name} = {code})"))
                else:
                    refs.append(None)
            elif kind == "param" and value is not None and self._may_be(value):
                refs.append(
                    _Ref(
                        unknown=f"{name} is a parameter (default {ast.unparse(value)[:60]}): callers decide at run time"
                    )
                )
            else:
                refs.append(None)
        if len({_identity(r) for r in refs}) == 1:
            return refs[0]
        fallbacks = _fallback_ids(scope.node) if scope.node is not None else set()
        tried = [r for r, (_, node, _) in zip(refs, scope.bindings[name], strict=True) if id(node) not in fallbacks]
        if tried and len({_identity(r) for r in tried}) == 1 and tried[0] is not None and len(tried) < len(refs):
            lines = ", ".join(str(getattr(n, "lineno", "?")) for _, n, _ in scope.bindings[name] if id(n) in fallbacks)
            assumed = f"assumes {name} is the import in the try, not the except branch's fallback (line {lines})"
            return tried[0]._replace(assumed=assumed)
        if any(r is not None for r in refs):
            lines = ", ".join(str(getattr(node, "lineno", "?")) for _, node, _ in scope.bindings[name])
            return _Ref(unknown=f"{name} is bound to different values in this scope (lines {lines})")
        return None

    def _module_name(self, name: str) -> _Ref | None:
        if name in self._module_refs:
            return self._module_refs[name]
        ref = None
        try:
            bindings = self.info.bound(name)
        except (SyntaxError, ValueError):
            bindings = []
        if bindings or self.info.star_imports:
            resolution = self.resolver.resolve(self.file.module, name)
            definition = resolution.definition
            if definition is not None and definition.kind == "module":
                origin = next((b.line for b in reversed(bindings) if b.kind in ("module", "import")), None)
                ref = _Ref(module=definition.module, origin=origin)
            elif definition is not None:
                found = self.catalog.find(definition)
                assumed = f"assumes {'; '.join(resolution.assumed)}" if resolution.assumed else ""
                ref = _Ref(found=found, assumed=assumed) if found is not None else None
            elif resolution.status == "unresolved" and any(self._binding_mentions(b) for b in bindings):
                ref = _Ref(unknown=resolution.reason)  # (a module not found at all is not a symbol's)
        self._module_refs[name] = ref
        return ref

    def _is_builtin(self, name: str, scopes: list[_Scope]) -> bool:
        if any(name in scope.bindings for scope in scopes[1:] if scope.kind != "class"):
            return False
        innermost = scopes[-1]  # a class body's names are visible in its own statements, not in its methods
        if innermost.kind == "class" and innermost.node is not None:
            whole = self.info.full_node(innermost.node)  # (the binding may be in a member not read)
            if name in (innermost.bindings if whole is innermost.node else _local_bindings(whole, walrus=True)):
                return False
        try:
            return not self.info.bound(name)
        except (SyntaxError, ValueError):
            return True

    def _may_be(self, node: ast.AST) -> bool:
        """Whether an expression may evaluate to a symbol itself (only run time says which).

        `a if c else b`, `a or b`, an item of a literal container, `functools.partial(a, ...)`
        may; a call's result, a lambda or a comprehension that merely uses a symbol may not.
        """
        if isinstance(node, ast.Name | ast.Attribute):
            return _last_name(node) in self.catalog.names
        if isinstance(node, ast.IfExp):
            return self._may_be(node.body) or self._may_be(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(self._may_be(value) for value in node.values)
        if isinstance(node, ast.NamedExpr):
            return self._may_be(node.value)
        if isinstance(node, ast.Subscript):
            return isinstance(node.value, ast.Dict | ast.List | ast.Tuple) and self._mentions(node.value)
        if isinstance(node, ast.Call) and _last_name(node.func) == "partial" and node.args:
            return self._may_be(node.args[0])
        return False

    def _mentions(self, node: ast.AST) -> bool:
        return any(
            isinstance(n, ast.Name | ast.Attribute) and _last_name(n) in self.catalog.names for n in ast.walk(node)
        )

    def _binding_mentions(self, binding: Binding) -> bool:
        if binding.attr in self.catalog.names:
            return True
        return binding.node is not None and binding.kind in ("alias", "dynamic") and self._mentions(binding.node)


def _factory_method(resolver: StaticResolver, target: Target, name: str) -> Target | None:
    """The classmethod or staticmethod `name` of a class target, as a factory target, when it returns
    an instance of the class (its annotation names the class or `Self`, or it returns `cls(...)`)."""
    cls = resolver.complete(target.definition)
    node = cls.node
    if not isinstance(node, ast.ClassDef):
        return None
    methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name]
    method = methods[-1] if methods else None
    if method is None:
        return None
    decorators = {_last_name(d) for d in method.decorator_list}
    if not decorators & {"classmethod", "staticmethod"}:
        return None
    annotation = ast.unparse(method.returns) if method.returns is not None else ""
    annotated = annotation.strip("'\"").rpartition(".")[2] in ("Self", node.name)
    built = any(
        isinstance(r, ast.Return) and isinstance(r.value, ast.Call) and _last_name(r.value.func) in ("cls", node.name)
        for r in ast.walk(method)
    )
    if not (annotated or built):
        return None
    caller_view = _without_first(method) if "classmethod" in decorators else method
    definition = Definition("function", cls.module, f"{cls.qualname}.{name}", cls.relative, method.lineno, caller_view)
    kind = "async factory" if isinstance(method, ast.AsyncFunctionDef) else "factory"
    return Target(definition, kind, deprecated=resolver.is_deprecated(definition))


def _identity(ref: _Ref | None) -> tuple[object, ...]:
    if ref is None:
        return ()
    return (id(ref.found[1]) if ref.found else None, ref.module, ref.unknown)


def _local_bindings(scope: ast.AST, *, walrus: bool) -> dict[str, list[tuple[str, ast.AST, ast.AST | None]]]:
    """The names a function or class body binds itself: (kind, statement, value or alias).

    `walrus`: also look for `:=` in its expressions (a walk of every node, so only when needed).
    """
    bindings: dict[str, list[tuple[str, ast.AST, ast.AST | None]]] = {}
    outer: set[str] = set()

    def add(name: str, kind: str, node: ast.AST, value: ast.AST | None = None) -> None:
        bindings.setdefault(name, []).append((kind, node, value))

    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = scope.args
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for arg, default in zip(positional, defaults, strict=True):
            add(arg.arg, "param", scope, default)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            add(arg.arg, "param", scope, default)
        for star in (args.vararg, args.kwarg):
            if star is not None:
                add(star.arg, "param", scope)
    body = [scope.body] if isinstance(scope, ast.Lambda) else getattr(scope, "body", [])
    for walrus_node in _walrus_targets(body) if walrus else ():
        for name in _target_names(walrus_node.target):
            add(name, "assign", walrus_node, walrus_node.value)
    for node in _own_nodes(body):
        if isinstance(node, ast.Global | ast.Nonlocal):
            outer.update(node.names)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    add(target.id, "assign", node, node.value)
                else:
                    for name in _target_names(target):
                        add(name, "other", node)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            value = node.value if not isinstance(node, ast.AugAssign) else None
            for name in _target_names(node.target):
                add(name, "assign" if value is not None else "other", node, value)
        elif isinstance(node, ast.For | ast.AsyncFor):
            for name in _target_names(node.target):
                add(name, "other", node)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            for name in _target_names(node.optional_vars):
                add(name, "other", node.optional_vars)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            add(node.name, "other", node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.asname or alias.name.partition(".")[0], "module", node, alias)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    add(alias.asname or alias.name, "import", node, alias)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            add(node.name, "other", node)
    for name in outer:
        bindings.pop(name, None)
    return bindings


# Schedulers that raise when given something that is not awaitable (`run` only as `asyncio.run`).
_STRICT_SCHEDULERS = {"create_task", "ensure_future", "gather", "wait_for", "shield", "run_until_complete",
                      "run_coroutine_threadsafe", "asyncio.run"}  # fmt: skip


def _scheduler_of(node: ast.Call, parents: list[ast.AST]) -> str:
    """The asyncio scheduler the call's result is handed to directly (`loop.run_until_complete(f())`), or ""."""
    if not parents or not isinstance(parents[-1], ast.Call):
        return ""
    outer = parents[-1]
    if node is outer.func or not any(argument is node for argument in outer.args):
        return ""
    name = _last_name(outer.func)
    dotted = ast.unparse(outer.func)
    return dotted if name in _STRICT_SCHEDULERS or dotted in _STRICT_SCHEDULERS else ""


def _is_main_block(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.comparators) != 1:
        return False
    sides = [node.test.left, node.test.comparators[0]]
    return isinstance(node.test.ops[0], ast.Eq) and {
        "name" if isinstance(side, ast.Name) and side.id == "__name__" else
        "main" if isinstance(side, ast.Constant) and side.value == "__main__" else "" for side in sides
    } == {"name", "main"}  # fmt: skip


def _own_nodes(body: list[ast.stmt] | list[ast.expr]) -> Iterator[ast.AST]:
    """The statements of a scope's body (nested blocks included, nested functions and classes
    not), with their `with` items and `except` handlers: where names are bound."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _NESTED) or not isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):
            continue
        children: list[ast.AST] = []
        for name in ("body", "orelse", "finalbody", "handlers", "cases", "items"):
            children += getattr(node, name, None) or []
        stack.extend(reversed(children))


def _fallback_ids(scope: ast.AST) -> set[int]:
    """ids of the statements in the `except` handlers of a scope's `try` blocks (fallbacks)."""
    found: set[int] = set()
    body = getattr(scope, "body", [])
    for node in _own_nodes(body if isinstance(body, list) else [body]):
        if isinstance(node, ast.Try | ast.TryStar):
            for handler in node.handlers:
                found |= {id(n) for n in _own_nodes(handler.body)}
    return found


def _walrus_targets(body: list[ast.stmt] | list[ast.expr]) -> Iterator[ast.NamedExpr]:
    """Every `name := value` of a scope's body (nested functions and classes left out)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.NamedExpr):
            yield node
        if not isinstance(node, _NESTED):
            stack.extend(ast.iter_child_nodes(node))


def _target_names(target: ast.AST) -> list[str]:
    """The names an assignment target binds: `x`, `a, *b`; not `obj.attr = ...` or `d[k] = ...`,
    which bind nothing (the class whose attribute is set stays what it was)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _annotations(node: ast.AST) -> set[ast.AST]:
    """The annotation subtrees of a node: type hints are not calls."""
    if isinstance(node, ast.AnnAssign):
        return {node.annotation}
    if isinstance(node, ast.arg) and node.annotation is not None:
        return {node.annotation}
    return set()


def _single_target(node: ast.Assign | ast.AnnAssign) -> ast.expr | None:
    if isinstance(node, ast.AnnAssign):
        return node.target
    return node.targets[0] if len(node.targets) == 1 else None


def _awaited_later(scope: ast.AST, name: str, *, keep_returned: bool = True) -> bool:
    """Whether `name` (or an element of it) is awaited, scheduled, or returned (`keep_returned`)
    anywhere in `scope`: `await name`, `return name`, `gather(*name)`, `for x in name: await x`."""
    elements = {name}
    for node in ast.walk(scope):
        if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension) and _is_name(node.iter, name):
            elements |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    for node in ast.walk(scope):
        value = getattr(node, "value", None)
        if isinstance(node, ast.Await) and any(_is_name(value, e) for e in elements):
            return True
        if keep_returned and isinstance(node, ast.Return | ast.Yield) and _is_name(value, name):
            return True
        if isinstance(node, ast.Call) and _last_name(node.func) in _SCHEDULERS:
            arguments = [a.value if isinstance(a, ast.Starred) else a for a in node.args]
            arguments += [k.value for k in node.keywords]
            if any(_is_name(a, e) for a in arguments for e in elements):
                return True
    return False


def _followed(scope: ast.AST, name: str, inside: str) -> tuple[str, str]:
    """A coroutine assigned to a local `name`: fine if awaited, returned or scheduled later
    (returned or yielded by an async function, it reaches a caller that awaits the function, not it)."""
    if isinstance(scope, ast.AsyncFunctionDef) and not _awaited_later(scope, name, keep_returned=False):
        handed = next(
            (n for n in ast.walk(scope) if isinstance(n, ast.Return | ast.Yield) and _is_name(n.value, name)), None
        )
        if handed is not None:
            how = "yielded" if isinstance(handed, ast.Yield) else "returned"
            return "missing-await", (
                f"the coroutine is {inside}assigned to {name} and {how} at line {handed.lineno} by the async"
                f" function {scope.name}: what reaches the caller is a coroutine, not the object; await it here"
            )
    if _awaited_later(scope, name):
        return "", ""
    used = next((n for n in ast.walk(scope) if isinstance(n, ast.Attribute) and _is_name(n.value, name)), None)
    if used is not None:
        return "missing-await", (
            f"the coroutine is {inside}assigned to {name}, used as the object at line {used.lineno}"
            f" ({name}.{used.attr}) without await: add await"
        )
    never = "which is never awaited, returned or scheduled"
    return "missing-await", f"the coroutine is {inside}assigned to {name}, {never}"


def _followed_on_self(owner: ast.AST, attribute: str, inside: str) -> tuple[str, str]:
    """A coroutine stored on `self.attribute`: fine if some method of the class awaits or schedules it."""

    def is_it(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == attribute and _is_name(node.value, "self")

    uses = [n for n in ast.walk(owner) if isinstance(n, ast.Attribute) and is_it(n.value)]
    for node in ast.walk(owner):
        if isinstance(node, ast.Await) and is_it(node.value):
            return "", ""
        if (
            isinstance(node, ast.Call)
            and _last_name(node.func) in _SCHEDULERS
            and any(is_it(a.value if isinstance(a, ast.Starred) else a) for a in node.args)
        ):
            return "", ""
    if uses:
        use = min(uses, key=lambda n: n.lineno)
        return "missing-await", (
            f"the coroutine is {inside}stored on self.{attribute} and used as the object at line {use.lineno}"
            f" (self.{attribute}.{use.attr}) without await: await it where it is stored"
        )
    return "missing-await", f"the coroutine is {inside}stored on self.{attribute}, which no method of the class awaits"


def _parameter_for(function: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, argument: ast.AST) -> str | None:
    """The parameter of `function` an argument of `call` is bound to (None when it cannot be told)."""
    if isinstance(argument, ast.keyword):
        return argument.arg
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if positional and positional[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
        positional = positional[1:]
    for index, given in enumerate(call.args):
        if isinstance(given, ast.Starred):
            return None
        if given is argument:
            return positional[index] if index < len(positional) else None
    return None


def _is_name(node: object, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _passed(call: ast.Call) -> set[str | int] | None:
    """The keyword names and positional indexes a call passes (a literal None counts as not
    passed); None when `*args` or `**kwargs` make it a run-time matter."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    passed: set[str | int] = {i for i, a in enumerate(call.args) if not _is_none(a)}
    return passed | {k.arg for k in call.keywords if k.arg is not None and not _is_none(k.value)}


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
