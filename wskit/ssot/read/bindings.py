"""What a module binds at module level, read from its syntax tree (never executed).

For each name: every `class`, `def`, import, and assignment that binds it, with its line, and
whether it runs unconditionally on import, only under some condition (`if`, `try`, loops), or
only for type checkers (`if TYPE_CHECKING:`). Star imports, module `__getattr__` and code that
rewrites the module namespace (`globals()`, `sys.modules[__name__]`) are recorded too, because
they are where static resolution has to stop and say so.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, TypeVar, cast

from wskit.ssot.read.skim import Skim, Unsplittable

__all__ = [
    "HEADER_ONLY_CLASS_BYTES",
    "SPARSE_CLASS_BYTES",
    "Binding",
    "DynamicNamespace",
    "ModuleInfo",
    "StarImport",
    "dotted_name",
    "parse_module",
    "skim_module",
]


_Node = TypeVar("_Node", bound=ast.AST)
HEADER_ONLY_CLASS_BYTES = 4_096  # a class longer than this is read header-only when its body cannot matter
SPARSE_CLASS_BYTES = 2_048  # a class this long is read member by member where only some members matter


class Binding(NamedTuple):
    """One module-level binding of `name`.

    kind: "class", "function", "import" (`from module import attr`), "module" (`import x.y`),
    "alias" (`name = <dotted name>`, value in `node`) or "dynamic" (any other assignment).
    `attempt`: the line of the `try` statement whose body (or `else`) binds it directly, 0 when
    none; `fallback`: bound by one of that `try`'s `except` handlers instead.
    """

    name: str
    line: int
    kind: str
    conditional: bool = False
    type_only: bool = False
    module: str | None = None
    attr: str | None = None
    node: ast.AST | None = None
    attempt: int = 0
    fallback: bool = False


class StarImport(NamedTuple):
    """`from module import *` at `line`."""

    module: str
    line: int
    conditional: bool


class DynamicNamespace(NamedTuple):
    """Module-level code that rewrites the module namespace; `names` are the string literals it
    mentions, or None when it is fed by values that cannot be read statically."""

    line: int
    code: str
    names: frozenset[str] | None


class ModuleInfo:
    """What a module binds at module level, read lazily: `bound(name)` parses only the top-level
    statements that mention `name` (see `wskit.ssot.read.skim`), or the whole file when its text
    cannot be split safely. Star imports, `__all__`, namespace rewriting and module-level
    deprecation warnings are read up front.
    """

    def __init__(self, name: str, file: Path, is_package: bool, skim: Skim | None = None) -> None:
        self.name = name
        self.file = file
        self.is_package = is_package
        self._star_imports: list[StarImport] = []
        self._dynamic: list[DynamicNamespace] = []
        self._all_names: list[tuple[int, tuple[str, ...] | None]] = []
        self._warnings: list[int] = []
        self._structure_read = skim is None
        self._bindings: dict[str, list[Binding]] = {}
        self._skim = skim
        self._body: list[ast.stmt] | None = None if skim is not None else []
        self._parsed: dict[int, list[ast.stmt]] = {}
        self._names_of: dict[int, set[str]] = {}
        self._loaded: set[str] = set()
        # id() of a class read header-only or sparse -> (that node, kept so its id stays its own; its chunk)
        self._headers: dict[int, tuple[ast.ClassDef, int]] = {}

    @property
    def star_imports(self) -> list[StarImport]:
        """`from x import *` statements, in line order."""
        self.read_structure()
        return sorted(self._star_imports, key=lambda star: star.line)

    @property
    def dynamic(self) -> list[DynamicNamespace]:
        """Module-level code that rewrites the namespace, in line order."""
        self.read_structure()
        return sorted(self._dynamic, key=lambda dynamic: dynamic.line)

    @property
    def all_names(self) -> tuple[str, ...] | None:
        """`__all__` when the last assignment to it is a literal list of strings, else None."""
        self.read_structure()
        return max(self._all_names, key=lambda item: item[0])[1] if self._all_names else None

    @property
    def deprecated_at(self) -> int | None:
        """Line of the first unconditional module-level `warnings.warn(..., DeprecationWarning)`."""
        self.read_structure()
        return min(self._warnings, default=None)

    @property
    def whole_body(self) -> list[ast.stmt] | None:
        """The whole module's statements when it was parsed whole (None while read lazily)."""
        return self._body

    def bound(self, name: str) -> list[Binding]:
        """Every module-level binding of `name`, in line order (type-checking-only ones included).

        Raises `SyntaxError` (or `ValueError`) when a statement it must read does not parse.
        """
        if self._skim is not None and name not in self._loaded:
            skim, word = self._skim, name.encode()
            for index in list(skim.mentioning(word)):
                chunk = skim.chunks[index]
                if chunk.defines is None or chunk.defines == name:
                    self._chunk(index, header=chunk.defines == name and _header_is_enough(skim, index))
                    if self._skim is None:
                        break
            self._loaded.add(name)
            if name in self._bindings:
                self._bindings[name].sort(key=lambda b: b.line)
        return self._bindings.get(name, [])

    def runtime_bindings(self, name: str) -> list[Binding]:
        """Bindings of `name` that exist when the module runs (type-checking-only ones excluded)."""
        return [b for b in self.bound(name) if not b.type_only]

    def names_bound_near(self, words: Iterable[str]) -> set[str]:
        """Names bound by the statements that mention any of `words` (def and class excluded)."""
        return self._names_bound_in(self._mentioning(words))

    def names_bound_at(self, offsets: Iterable[int]) -> set[str]:
        """Names bound by the statements holding any of the byte `offsets` (def and class excluded)."""
        return self._names_bound_in(self._holding(offsets))

    def _names_bound_in(self, indexes: list[int]) -> set[str]:
        names: set[str] = set()
        for index in indexes:
            if self._skim is None:
                break
            if self._skim.chunks[index].defines is None:
                self._chunk(index)
                names |= self._names_of.get(index, set())
        return set(self._bindings) if self._skim is None else names

    def _mentioning(self, words: Iterable[str]) -> list[int]:
        """Indexes of the chunks whose text holds any of `words` ([] when read whole)."""
        skim = self._skim
        return sorted({i for word in words for i in skim.mentioning(word.encode())}) if skim is not None else []

    def _holding(self, offsets: Iterable[int]) -> list[int]:
        """Indexes of the chunks holding any of `offsets` ([] when read whole)."""
        skim = self._skim
        return sorted({i for offset in offsets if (i := skim.chunk_at(offset)) >= 0}) if skim is not None else []

    def statements_holding(
        self,
        offsets: Iterable[int],
        *,
        members: Callable[[int, int], bool] | None = None,
        sparse_from: int = SPARSE_CLASS_BYTES,
    ) -> list[ast.stmt]:
        """The top-level statements holding any of the byte `offsets`, in line order: none for an
        offset before the first statement (blank lines, comments), the whole body when the file
        could not be split.

        `members(start, end)`: for a class of `sparse_from` bytes or more not parsed yet, parse
        only the body statements whose byte range it accepts. That class comes back sparse: its
        header, those statements and its real `end_lineno`; `full_node` gives the whole class.
        """
        return self._statements_of(self._holding(offsets), members, sparse_from)

    def functions_holding(self, offsets: Iterable[int]) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The module-level functions holding any of the byte `offsets` (no other statement is parsed)."""
        skim = self._skim
        indexes = [i for i in self._holding(offsets) if skim is not None and not skim.only_a_class(i)]
        found = self._statements_of(indexes, None, SPARSE_CLASS_BYTES) if skim is not None else self._body or []
        return [node for node in found if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]

    def _statements_of(
        self, indexes: list[int], members: Callable[[int, int], bool] | None, sparse_from: int
    ) -> list[ast.stmt]:
        found: list[ast.stmt] = []
        for index in indexes if self._skim is not None else []:
            sparse = self._sparse_class(index, members, sparse_from) if members is not None else None
            found += [sparse] if sparse is not None else self._chunk(index)
            if self._skim is None:
                break
        if self._skim is None:
            assert self._body is not None
            return self._body
        return found

    def _sparse_class(self, index: int, members: Callable[[int, int], bool], sparse_from: int) -> ast.ClassDef | None:
        """Chunk `index` as a sparse class (see `statements_holding`), or None to parse it whole."""
        skim = self._skim
        assert skim is not None
        chunk = skim.chunks[index]
        if chunk.defines is None or chunk.end - chunk.start < sparse_from or index in self._parsed:
            return None
        parts = skim.members(index)
        node = skim.parse_header(index, str(self.file)) if parts is not None else None
        if node is None or parts is None:
            return None
        try:
            wanted = [part for part in parts if members(part.start, part.end)]
            node.body = [statement for part in wanted for statement in skim.parse_member(part, str(self.file))]
        except Unsplittable:
            return None
        node.end_lineno = skim.last_code_line(chunk)
        self._headers[id(node)] = (node, index)
        return node

    def read_structure(self) -> None:
        """Read the statements that set star imports, `__all__`, namespace rewriting and
        deprecation warnings (once, on first need)."""
        if self._structure_read or self._skim is None:
            return
        self._structure_read = True
        indexes: set[int] = set()
        for word in _STRUCTURE_WORDS:
            indexes.update(i for i in self._skim.mentioning(word) if self._skim.chunks[i].defines is None)
        for index in sorted(indexes):
            self._chunk(index)
            if self._skim is None:
                return

    def full_node(self, node: _Node) -> _Node:
        """The complete class statement for a class that was read header-only or sparse (else `node`)."""
        known = self._headers.get(id(node))
        if known is None or known[0] is not node or not isinstance(node, ast.ClassDef):
            return node
        index = known[1]
        statements = self._chunk(index) if self._skim is not None else self._body or []
        for statement in ast.walk(ast.Module(body=statements, type_ignores=[])) if self._skim is None else statements:
            if isinstance(statement, ast.ClassDef) and statement.lineno == node.lineno:
                return cast(_Node, statement)
        return node

    def _chunk(self, index: int, *, header: bool = False) -> list[ast.stmt]:
        skim = self._skim
        assert skim is not None
        if index in self._parsed:
            return self._parsed[index]
        if header:
            if index in self._names_of:
                return []  # its class was read header-only already
            node = skim.parse_header(index, str(self.file))
            if node is not None:
                self._headers[id(node)] = (node, index)
                self._collect(index, [node])
                return [node]
        try:
            statements = skim.parse(index, str(self.file))
        except Unsplittable:
            self._read_whole()
            return []
        self._parsed[index] = statements
        if index not in self._names_of:
            self._collect(index, statements)
        return statements

    def _collect(self, index: int, statements: list[ast.stmt]) -> None:
        collector = _Collector(self)
        collector.block(statements, False, False)
        self._names_of[index] = collector.names

    def _read_whole(self) -> None:
        """Parse the whole file and collect everything (the text could not be split safely)."""
        assert self._skim is not None
        tree = ast.parse(self._skim.data, filename=str(self.file))
        self._skim = None
        self.collect(tree.body)

    def collect(self, body: list[ast.stmt]) -> None:
        """Collect every module-level binding of an already parsed body (replacing any so far)."""
        self._skim = None
        self._body = body
        self._bindings.clear()
        self._star_imports.clear()
        self._dynamic.clear()
        self._all_names.clear()
        self._warnings.clear()
        self._structure_read = True
        _Collector(self).block(body, False, False)


_STRUCTURE_WORDS = (b"*", b"__all__", b"globals", b"vars", b"modules", b"eprecat")


def _header_is_enough(skim: Skim, index: int) -> bool:
    """Whether a class's bases and decorators tell all that resolution needs (no abstract methods)."""
    chunk = skim.chunks[index]
    return (
        chunk.keyword == "class"
        and chunk.end - chunk.start > HEADER_ONLY_CLASS_BYTES
        and skim.data.find(b"abstractmethod", chunk.start, chunk.end) < 0
    )


def absolute_module(current: str, is_package: bool, level: int, module: str | None) -> str:
    """Resolve a (possibly relative) `from` import's module name as seen from `current`."""
    if level == 0:
        return module or ""
    parts = current.split(".")
    base = parts if is_package else parts[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _always_reraises(handlers: list[ast.ExceptHandler]) -> bool:
    return bool(handlers) and all(h.body and isinstance(h.body[-1], ast.Raise) for h in handlers)


def dotted_name(node: ast.expr) -> str | None:
    """`a.b.c` for a name or attribute chain, None for any other expression."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted_name(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


_DEPRECATION_CATEGORIES = {"DeprecationWarning", "PendingDeprecationWarning"}


def warns_deprecation(nodes: list[ast.stmt]) -> int | None:
    """Line of the first `warnings.warn(..., DeprecationWarning)` among `nodes`, else None."""
    for node in nodes:
        for call in ast.walk(node):
            if not isinstance(call, ast.Call) or (dotted_name(call.func) or "").rpartition(".")[2] != "warn":
                continue
            category = call.args[1] if len(call.args) > 1 else None
            for keyword in call.keywords:
                if keyword.arg == "category":
                    category = keyword.value
            if category is not None and (dotted_name(category) or "").rpartition(".")[2] in _DEPRECATION_CATEGORIES:
                return call.lineno
    return None


def _is_namespace_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"globals", "vars"}


def _rewrites_namespace(node: ast.stmt) -> bool:
    for sub in ast.walk(node):
        if _is_namespace_call(sub):
            return True
        if (
            isinstance(sub, ast.Subscript)
            and dotted_name(sub.value) == "sys.modules"
            and isinstance(sub.slice, ast.Name)
            and sub.slice.id == "__name__"
        ):
            return True
    return False


def _literal_names(node: ast.stmt) -> frozenset[str] | None:
    """String literals in `node`, or None if any call in it is fed a value that is not a literal."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            for arg in [*sub.args, *(k.value for k in sub.keywords)]:
                if _is_namespace_call(arg):
                    continue
                try:
                    ast.literal_eval(arg)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    return None
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            names.add(sub.value)
    return frozenset(names)


class _Collector:
    def __init__(self, info: ModuleInfo) -> None:
        self.info = info
        self.names: set[str] = set()
        self.attempt: tuple[int, bool] = (0, False)  # of the statement being collected

    def add(self, binding: Binding) -> None:
        self.info._bindings.setdefault(binding.name, []).append(binding)
        self.names.add(binding.name)

    def block(
        self, body: list[ast.stmt], conditional: bool, type_only: bool, attempt: tuple[int, bool] = (0, False)
    ) -> None:
        for node in body:
            self.statement(node, conditional, type_only, attempt)

    def statement(
        self, node: ast.stmt, conditional: bool, type_only: bool, attempt: tuple[int, bool] = (0, False)
    ) -> None:
        info = self.info
        self.attempt = attempt

        def bind(name: str, kind: str, *, module: str | None = None, attr: str | None = None, value: ast.AST) -> None:
            self.add(Binding(name, node.lineno, kind, conditional, type_only, module, attr, value, *attempt))

        if isinstance(node, ast.ClassDef):
            bind(node.name, "class", value=node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            bind(node.name, "function", value=node)
        elif isinstance(node, ast.ImportFrom):
            source = absolute_module(info.name, info.is_package, node.level, node.module)
            for alias in node.names:
                if alias.name == "*":
                    if not type_only:
                        info._star_imports.append(StarImport(source, node.lineno, conditional))
                    continue
                bind(alias.asname or alias.name, "import", module=source, attr=alias.name, value=node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bind(alias.asname, "module", module=alias.name, value=node)
                else:
                    top = alias.name.partition(".")[0]
                    bind(top, "module", module=top, value=node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            self.assignment(node, conditional, type_only)
        elif isinstance(node, ast.If):
            if _is_main_guard(node.test):
                return
            if _is_type_checking(node.test):
                self.block(node.body, conditional, True)
                self.block(node.orelse, conditional, type_only)
            else:
                self.block(node.body, True, type_only)
                self.block(node.orelse, True, type_only)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.try_statement(node, conditional, type_only)
        elif isinstance(node, ast.With | ast.AsyncWith):
            self.block(node.body, conditional, type_only, attempt)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
            self.block(node.body, True, type_only)
            self.block(node.orelse, True, type_only)
        if not type_only and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if isinstance(node, ast.Expr | ast.Assign | ast.AugAssign) and _rewrites_namespace(node):
                code = ast.unparse(node)
                code = code if len(code) <= 60 else code[:57] + "..."
                info._dynamic.append(DynamicNamespace(node.lineno, code, _literal_names(node)))
            if isinstance(node, ast.Expr) and not conditional:
                line = warns_deprecation([node])
                if line is not None:
                    info._warnings.append(line)

    def try_statement(self, node: ast.Try | ast.TryStar, conditional: bool, type_only: bool) -> None:
        # A try whose every handler re-raises binds its body's names unconditionally; otherwise
        # they are attempts, which static resolution may take as the binding (see `attempt`).
        reraises = _always_reraises(node.handlers)
        tried = (0, False) if conditional or reraises else (node.lineno, False)
        self.block(node.body, conditional or not reraises, type_only, tried)
        for handler in node.handlers:
            self.block(handler.body, True, type_only, (tried[0], True))
        self.block(node.orelse, conditional or not reraises, type_only, tried)
        self.block(node.finalbody, conditional, type_only)

    def assigned(self, name: str, node: ast.stmt, value: ast.expr | None, conditional: bool, type_only: bool) -> None:
        """`name = value` (`value` None: one part of a value that cannot be split, `node.value`)."""
        kind = "alias" if value is not None and dotted_name(value) is not None else "dynamic"
        value = value if value is not None else getattr(node, "value", None)
        self.add(Binding(name, node.lineno, kind, conditional, type_only, None, None, value, *self.attempt))

    def assignment(self, node: ast.Assign | ast.AnnAssign, conditional: bool, type_only: bool) -> None:
        if node.value is None:
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                if target.id == "__all__":
                    self.info._all_names.append((node.lineno, _literal_strings(node.value)))
                self.assigned(target.id, node, node.value, conditional, type_only)
            elif isinstance(target, ast.Tuple | ast.List):
                values = node.value.elts if isinstance(node.value, ast.Tuple | ast.List) else None
                for index, element in enumerate(target.elts):
                    if not isinstance(element, ast.Name):
                        continue
                    value = values[index] if values is not None and len(values) == len(target.elts) else None
                    self.assigned(element.id, node, value, conditional, type_only)


def _literal_strings(node: ast.expr) -> tuple[str, ...] | None:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def parse_module(name: str, file: Path, is_package: bool, tree: ast.Module | None = None) -> ModuleInfo:
    """Read every binding of module `name` from `file` (or from its already parsed `tree`).

    Raises `SyntaxError` (or `ValueError` for null bytes) when the file does not parse.
    """
    if tree is None:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    info = ModuleInfo(name, file, is_package)
    info.collect(tree.body)
    return info


def skim_module(name: str, file: Path, is_package: bool, *, skim: Skim | None = None) -> ModuleInfo:
    """A lazily read `ModuleInfo` of `file` (`skim`: its index when already built).

    Nothing is parsed yet: bindings are read name by name, and the statements that set star
    imports, `__all__`, namespace rewriting and deprecation warnings on first need (either can
    raise `SyntaxError` or `ValueError`). A file whose text cannot be split safely is parsed whole
    now (raising the same). `OSError` when the file cannot be read.
    """
    if skim is None:
        skim = Skim(file.read_bytes())
    if not skim.exact:
        info = ModuleInfo(name, file, is_package)
        info.collect(ast.parse(skim.data, filename=str(file)).body)
        return info
    return ModuleInfo(name, file, is_package, skim)
