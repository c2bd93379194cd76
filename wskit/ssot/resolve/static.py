"""Static resolution: follow a name through imports, aliases and re-exports to its definition.

Only the modules on the resolution chain are parsed; nothing is imported or executed. Where
the answer depends on running code (module `__getattr__`, namespace rewriting, computed or
conditional assignments, unreadable star imports, compiled modules) the result is
`unresolved` with the reason, never a guess.
"""

from __future__ import annotations

import ast
import builtins
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from wskit.ssot.model import Finding
from wskit.ssot.read.bindings import Binding, ModuleInfo, skim_module, warns_deprecation
from wskit.ssot.read.sources import SourceFinder, relative_source_name

__all__ = ["Definition", "Resolution", "StaticResolver"]

_PROTOCOL_BASES = {"typing.Protocol", "typing_extensions.Protocol"}
_ENUM_BASES = {f"enum.{n}" for n in ("Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum")}
_MAX_DEPTH = 50


@dataclass(frozen=True, slots=True)
class Definition:
    """What a name statically resolves to: a class, a function, a module or a builtin."""

    kind: str
    module: str
    qualname: str
    relative: str | None = None
    line: int | None = None
    node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef | None = field(default=None, compare=False)

    @property
    def identity(self) -> str:
        """Qualified name of the definition, e.g. `pkg.mod.Class` (a module: its own name)."""
        return self.module if self.kind == "module" else f"{self.module}.{self.qualname}"

    @property
    def defined_at(self) -> str | None:
        """`pkg/mod.py:LINE`, or None for builtins and namespace packages."""
        if self.relative is None:
            return None
        return self.relative if self.line is None else f"{self.relative}:{self.line}"


class Resolution(NamedTuple):
    """The outcome of following one name: a definition, or why there is none."""

    definition: Definition | None
    status: str  # "resolved", "unresolved" or "missing"
    reason: str = ""
    chain: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    assumed: tuple[str, ...] = ()
    """Choices made where run time decides (a `try` import taken over its `except` fallback)."""


class _Stop(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class _Walk:
    chain: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    assumed: list[str] = field(default_factory=list)


class StaticResolver:
    """Resolves names in modules found under `search_path` (default: `sys.path`), parsing lazily.

    `files_parsed` counts the modules parsed so far; `findings` collects shadowed names seen
    on the way.
    """

    def __init__(self, search_path: Sequence[str | os.PathLike[str]] | None = None) -> None:
        self.finder = SourceFinder(search_path)
        self.files_parsed = 0
        self._modules: dict[str, ModuleInfo | _Stop] = {}
        self._findings: dict[tuple[str, str], Finding] = {}
        self._resolved: dict[tuple[str, str], Resolution] = {}

    @property
    def findings(self) -> list[Finding]:
        """Findings so far, sorted."""
        return sorted(self._findings.values())

    def module(self, name: str) -> ModuleInfo:
        """The parsed module `name`; raises `LookupError` when it cannot be found or read."""
        try:
            return self._load(name)
        except _Stop as stop:
            raise LookupError(stop.reason) from None

    def add_module(self, info: ModuleInfo) -> None:
        """Register an already read module (used by tree walks that read files themselves)."""
        self._modules.setdefault(info.name, info)

    def loaded(self, name: str) -> ModuleInfo | None:
        """The module `name` if it was read already (None when not yet, or when it failed)."""
        found = self._modules.get(name)
        return found if isinstance(found, ModuleInfo) else None

    def resolve(self, module: str, name: str) -> Resolution:
        """Follow `module:name` to the definition it is bound to (each answer is remembered)."""
        known = self._resolved.get((module, name))
        if known is not None:
            return known
        walk = _Walk()
        try:
            definition = self._name(module, name, walk, type_only_ok=False)
        except _Stop as stop:
            resolution = Resolution(None, stop.status, stop.reason, tuple(walk.chain), tuple(walk.modules))
        else:
            chain, modules, assumed = tuple(walk.chain), tuple(walk.modules), tuple(walk.assumed)
            resolution = Resolution(definition, "resolved", "", chain, modules, assumed)
        self._resolved[module, name] = resolution
        return resolution

    def resolve_expression(self, module: str, node: ast.expr) -> Resolution:
        """Follow a name or dotted expression as module `module` would see it at module level."""
        walk = _Walk()
        try:
            definition = self._expr(self._load(module), node, walk, type_only_ok=False)
        except _Stop as stop:
            return Resolution(None, stop.status, stop.reason, tuple(walk.chain), tuple(walk.modules))
        return Resolution(definition, "resolved", "", tuple(walk.chain), tuple(walk.modules), tuple(walk.assumed))

    def resolve_return(self, function: Definition, *, run_time: bool = False) -> Resolution:
        """Follow a function's return annotation to the class it names; `run_time`: only through
        names bound when the module runs, as evaluating the annotation would (a class imported for
        type checkers only then names nothing)."""
        node = function.node
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        where = f"{function.identity} ({function.defined_at})"
        if node.returns is None:
            return Resolution(None, "unresolved", f"{where} has no return annotation")
        annotation: ast.expr = node.returns
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            text = annotation.value
            try:
                annotation = ast.parse(text, mode="eval").body
            except SyntaxError:
                return Resolution(None, "unresolved", f"{where} has an unparsable annotation {text!r}")
        annotation = _strip_optional(annotation)
        walk = _Walk()
        try:
            info = self._load(function.module)
            definition = self._expr(info, annotation, walk, type_only_ok=not run_time)
        except _Stop as stop:
            return Resolution(None, stop.status, f"return annotation: {stop.reason}", tuple(walk.chain))
        if definition.kind != "class":
            return Resolution(
                None, "unresolved", f"return annotation {ast.unparse(annotation)} is a {definition.kind}, not a class"
            )
        return Resolution(definition, "resolved", "", tuple(walk.chain), tuple(walk.modules))

    def base_origins(self, definition: Definition) -> list[str]:
        """The dotted names a class's bases (and metaclass) are imported as, e.g. `typing.Protocol`."""
        node = definition.node
        assert isinstance(node, ast.ClassDef)
        info = self._load(definition.module)
        exprs = [*node.bases, *(k.value for k in node.keywords if k.arg == "metaclass")]
        return [origin for expr in exprs if (origin := self._origin(info, expr)) is not None]

    def class_traits(self, definition: Definition, *, inherited: bool = True, _depth: int = 0) -> set[str]:
        """Traits of a class read from its bases: protocol, abstract, interface, enum, exception.

        `inherited=False` skips reading the base classes' modules (enum and exception traits of
        indirect bases are then missed; protocol, abstract and interface do not depend on them).
        """
        node = definition.node
        if not isinstance(node, ast.ClassDef):
            return set()
        origins = set(self.base_origins(definition))
        traits: set[str] = set()
        if origins & _PROTOCOL_BASES:
            traits |= {"protocol", "interface"}
        if origins & _ENUM_BASES:
            traits.add("enum")
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        abstract = [m for m in methods if any(_last(d) == "abstractmethod" for d in m.decorator_list)]
        if "abc.ABC" in origins or "abc.ABCMeta" in origins or abstract:
            traits.add("abstract")
            concrete = [m for m in methods if m not in abstract and not _is_dunder(m.name)]
            if abstract and not concrete:
                traits.add("interface")
        for origin in origins:
            name = origin.removeprefix("builtins.")
            value = getattr(builtins, name, None) if origin.startswith("builtins.") else None
            if isinstance(value, type) and issubclass(value, BaseException):
                traits.add("exception")
        if inherited and _depth < 10:
            info = self._load(definition.module)
            for base in node.bases:
                try:
                    parent = self._expr(info, base, _Walk(), type_only_ok=False)
                except _Stop:
                    continue
                if parent.kind == "class" and parent.node is not None:
                    traits |= self.class_traits(parent, _depth=_depth + 1) & {"exception", "enum"}
        return traits

    def complete(self, definition: Definition) -> Definition:
        """`definition` with its whole class body (big classes are first read header-only)."""
        if definition.node is None or definition.kind != "class":
            return definition
        node = self._load(definition.module).full_node(definition.node)
        if node is definition.node:
            return definition
        assert isinstance(node, ast.ClassDef)
        return Definition(
            definition.kind, definition.module, definition.qualname, definition.relative, definition.line, node
        )

    def is_deprecated(self, definition: Definition) -> bool:
        """True when a function warns `DeprecationWarning` or is decorated `@deprecated`."""
        node = definition.node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return False
        if any(_last(d) == "deprecated" for d in node.decorator_list):
            return True
        return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and warns_deprecation(node.body) is not None

    # -- internals ---------------------------------------------------------------------------

    def _load(self, module: str) -> ModuleInfo:
        cached = self._modules.get(module)
        if cached is None:
            cached = self._parse(module)
            self._modules[module] = cached
        if isinstance(cached, ModuleInfo):
            try:
                cached.read_structure()
            except (SyntaxError, ValueError) as exc:
                reason = f"{relative_source_name(module, cached.is_package)} does not parse: {exc}"
                cached = self._modules[module] = _Stop("unresolved", reason)
        if isinstance(cached, _Stop):
            raise _Stop(cached.status, cached.reason)  # a fresh one: the cached one keeps no traceback
        return cached

    def _parse(self, module: str) -> ModuleInfo | _Stop:
        source = self.finder.find(module)
        if source is None:
            return _Stop("missing", f"module {module} not found on the search path")
        if source.kind == "extension":
            return _Stop(
                "unresolved", f"{module} is a compiled extension module ({source.file.name if source.file else '?'})"
            )
        if source.file is None:
            return ModuleInfo(name=module, file=Path(relative_source_name(module, True)), is_package=True)
        try:
            info = skim_module(module, source.file, source.is_package)
        except (SyntaxError, ValueError) as exc:
            return _Stop("unresolved", f"{relative_source_name(module, source.is_package)} does not parse: {exc}")
        except OSError as exc:
            return _Stop("unresolved", f"cannot read {source.file}: {exc.strerror or exc}")
        self.files_parsed += 1
        return info

    def _bound(self, info: ModuleInfo, name: str) -> list[Binding]:
        """`info.bound(name)`, with a file that turns out not to parse stopping the walk."""
        # Exceptions are raised outside `except` blocks here and below: one raised inside would
        # keep the handling frame, and every tree it references, in a reference cycle.
        try:
            return info.bound(name)
        except (SyntaxError, ValueError) as exc:
            reason = f"{relative_source_name(info.name, info.is_package)} does not parse: {exc}"
        self._modules[info.name] = _Stop("unresolved", reason)
        raise _Stop("unresolved", reason)

    def _importable(self, binding: Binding) -> bool:
        """Whether an import binding's module can be found (other bindings: True)."""
        if binding.kind not in ("import", "module") or binding.module is None:
            return True
        return self.finder.find(binding.module) is not None

    def _type_checking_only(self, info: ModuleInfo, name: str) -> list[Binding]:
        """The unconditional bindings of `name` made for type checkers only; none when it has a run-time one."""
        bound = self._bound(info, name)
        return [] if any(not b.type_only for b in bound) else [b for b in bound if not b.conditional]

    def _hop(self, info: ModuleInfo, line: int, text: str) -> str:
        return f"{relative_source_name(info.name, info.is_package)}:{line} {text}"

    def _name(self, module: str, name: str, walk: _Walk, *, type_only_ok: bool) -> Definition:
        if (module, name) in walk.seen or len(walk.seen) > _MAX_DEPTH:
            raise _Stop("unresolved", f"import cycle through {module}:{name}")
        walk.seen.add((module, name))
        info = self._load(module)
        walk.modules.append(module)
        bindings = [b for b in self._bound(info, name) if not b.type_only]
        if not bindings and type_only_ok:
            bindings = self._bound(info, name)
        unconditional = [b for b in bindings if not b.conditional]
        winner = unconditional[-1] if unconditional else None
        late = [b for b in bindings if b.conditional and (winner is None or b.line > winner.line)]
        if late:
            attempted = _attempted(late)
            if attempted is None:
                lines = ", ".join(str(b.line) for b in bindings)
                raise _Stop(
                    "unresolved",
                    f"{name} is bound conditionally in {module} (lines {lines});"
                    " which binding wins depends on run time",
                )
            winner, fallbacks = attempted
            if fallbacks and not self._importable(winner):
                # The try's import finds no module here, so the except branch is what runs.
                tried, winner = winner, fallbacks[-1]
                walk.assumed.append(
                    f"{module}:{name} is taken from the except branch at line {winner.line} of {module}: the try's"
                    f" {_describe(tried)} (line {tried.line}) finds no such module"
                )
            elif fallbacks:
                walk.assumed.append(
                    f"{module}:{name} is taken from the try at line {winner.attempt} of {module}, not from its"
                    f" except branch ({'; '.join(f'line {b.line}: {_describe(b)}' for b in fallbacks)})"
                )
            unconditional = [*unconditional, winner]
        self._note_shadowing(info, name, unconditional)
        for dynamic in info.dynamic:
            if (winner is None or dynamic.line > winner.line) and (dynamic.names is None or name in dynamic.names):
                raise _Stop(
                    "unresolved",
                    f"{module} rewrites its namespace at line {dynamic.line} ({dynamic.code});"
                    f" {name} is set at run time",
                )
        for star in reversed(info.star_imports):
            if winner is not None and star.line < winner.line:
                break
            if star.conditional:
                raise _Stop(
                    "unresolved", f"{module} has a conditional 'from {star.module} import *' (line {star.line})"
                )
            if self._exports(star.module, name):
                walk.chain.append(self._hop(info, star.line, f"from {star.module} import *"))
                return self._name(star.module, name, walk, type_only_ok=False)
        if winner is not None:
            walk.chain.append(self._hop(info, winner.line, _describe(winner)))
            return self._follow(info, winner, walk, type_only_ok=type_only_ok)
        if info.is_package and self.finder.submodule_exists(module, name):
            return self._module_definition(f"{module}.{name}")
        hook = next((b for b in self._bound(info, "__getattr__") if not b.type_only), None)
        if hook is None:
            raise _Stop("missing", f"{module} has no module-level name {name!r}")
        typed = self._type_checking_only(info, name)
        if not typed or name not in (info.all_names or ()):
            raise _Stop(
                "unresolved",
                f"{module} has no binding for {name}; its module __getattr__ (line {hook.line}) decides at run time",
            )
        # A lazy export (PEP 562): exported in `__all__`, imported for type checkers, supplied by the
        # module's __getattr__ at run time. Read as mypy reads it, and the assumption said.
        walk.assumed.append(
            f"{module}'s module __getattr__ (line {hook.line}) returns the {name} that its `__all__` lists"
            f" and its `if TYPE_CHECKING:` block imports (line {typed[-1].line})"
        )
        walk.chain.append(self._hop(info, typed[-1].line, _describe(typed[-1])))
        if typed[-1].kind == "alias":
            assert isinstance(typed[-1].node, ast.expr)
            return self._expr(info, typed[-1].node, walk, type_only_ok=False, typed_head=True)
        return self._follow(info, typed[-1], walk, type_only_ok=False)

    def _follow(self, info: ModuleInfo, binding: Binding, walk: _Walk, *, type_only_ok: bool) -> Definition:
        relative = relative_source_name(info.name, info.is_package)
        if binding.kind in ("class", "function"):
            node = binding.node
            assert isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            return Definition(binding.kind, info.name, binding.name, relative, binding.line, node)
        if binding.kind == "import":
            assert binding.module is not None and binding.attr is not None
            source = self._load(binding.module)
            if not self._bound(source, binding.attr) and self.finder.submodule_exists(binding.module, binding.attr):
                return self._module_definition(f"{binding.module}.{binding.attr}")
            return self._name(binding.module, binding.attr, walk, type_only_ok=type_only_ok)
        if binding.kind == "module":
            assert binding.module is not None
            return self._module_definition(binding.module)
        if binding.kind == "alias":
            assert isinstance(binding.node, ast.expr)
            return self._expr(info, binding.node, walk, type_only_ok=type_only_ok)
        code = ast.unparse(binding.node) if binding.node is not None else "?"
        code = code if len(code) <= 60 else code[:57] + "..."
        raise _Stop(
            "unresolved",
            f"{binding.name} is bound to an expression at {relative}:{binding.line} ({binding.name} = {code});"
            " only run time knows its value",
        )

    def _expr(
        self, info: ModuleInfo, node: ast.expr, walk: _Walk, *, type_only_ok: bool, typed_head: bool = False
    ) -> Definition:
        """What `node` (a name or dotted name) in `info` refers to. With `typed_head` (`X = mod.X` in
        the `if TYPE_CHECKING:` block of a lazy export), its first name may be one that block imports
        for type checkers; what that import names is followed as at run time."""
        if isinstance(node, ast.Name):
            typed = self._type_checking_only(info, node.id) if typed_head else []
            if typed:
                walk.chain.append(self._hop(info, typed[-1].line, _describe(typed[-1])))
                return self._follow(info, typed[-1], walk, type_only_ok=False)
            if self._bound(info, node.id) or info.star_imports:
                return self._name(info.name, node.id, walk, type_only_ok=type_only_ok)
            if hasattr(builtins, node.id):
                return Definition(
                    "class" if isinstance(getattr(builtins, node.id), type) else "builtin", "builtins", node.id
                )
            raise _Stop("missing", f"{info.name} has no name {node.id!r}")
        if isinstance(node, ast.Attribute):
            base = self._expr(info, node.value, walk, type_only_ok=type_only_ok, typed_head=typed_head)
            if base.kind != "module":
                raise _Stop("unresolved", f"{ast.unparse(node)} is an attribute of {base.kind} {base.identity}")
            if self.finder.submodule_exists(base.module, node.attr) and not self._bound(
                self._load(base.module), node.attr
            ):
                return self._module_definition(f"{base.module}.{node.attr}")
            return self._name(base.module, node.attr, walk, type_only_ok=type_only_ok)
        raise _Stop("unresolved", f"{ast.unparse(node)[:60]} is computed at run time")

    def _module_definition(self, module: str) -> Definition:
        source = self.finder.find(module)
        relative = relative_source_name(module, source.is_package) if source and source.file else None
        return Definition("module", module, module.rpartition(".")[2], relative)

    def _exports(self, module: str, name: str, depth: int = 0) -> bool:
        try:
            info = self._load(module)
        except _Stop as stop:
            reason = stop.reason
        else:
            if info.all_names is not None:
                return name in info.all_names
            if name.startswith("_"):
                return False
            if any(not b.type_only for b in self._bound(info, name)):
                return True
            return depth < 10 and any(self._exports(star.module, name, depth + 1) for star in info.star_imports)
        raise _Stop("unresolved", f"star import from {module}, which cannot be read: {reason}")

    def _origin(self, info: ModuleInfo, node: ast.expr) -> str | None:
        if isinstance(node, ast.Subscript):
            return self._origin(info, node.value)
        if isinstance(node, ast.Attribute):
            inner = self._origin(info, node.value)
            return None if inner is None else f"{inner}.{node.attr}"
        if not isinstance(node, ast.Name):
            return None
        try:
            bindings = self._bound(info, node.id)
        except _Stop:
            return None
        if not bindings:
            return f"builtins.{node.id}" if hasattr(builtins, node.id) else None
        binding = bindings[-1]
        if binding.kind == "import":
            return f"{binding.module}.{binding.attr}"
        if binding.kind == "module":
            return binding.module
        if binding.kind == "class":
            return f"{info.name}.{binding.name}"
        return None

    def _note_shadowing(self, info: ModuleInfo, name: str, unconditional: list[Binding]) -> None:
        distinct = {_signature(b): b for b in unconditional}
        if len(distinct) < 2:
            return
        lines = [b.line for b in unconditional]
        relative = relative_source_name(info.name, info.is_package)
        message = (
            f"{info.name}.{name} is bound {len(lines)} times at module level (lines "
            f"{', '.join(map(str, lines))}); the last one, line {lines[-1]}, wins"
        )
        self._findings[(info.name, name)] = Finding("shadowed", f"{relative}:{lines[-1]}", message)


def _attempted(late: list[Binding]) -> tuple[Binding, list[Binding]] | None:
    """(the binding, the fallbacks) when every conditional binding comes from one `try`: its body
    binds the name and its `except` branches at most bind a fallback. Code runs the `try` first and
    falls back only where an import fails (a dependency missing from that environment), so the
    body's binding is the one to resolve; None when some other condition decides."""
    tries = {b.attempt for b in late}
    if len(tries) != 1 or 0 in tries:
        return None
    attempts = [b for b in late if not b.fallback]
    if not attempts:
        return None
    return attempts[-1], [b for b in late if b.fallback]


def _signature(binding: Binding) -> tuple[object, ...]:
    if binding.kind in ("class", "function"):
        return (binding.kind, binding.line)
    code = ast.unparse(binding.node) if binding.kind in ("alias", "dynamic") and binding.node is not None else ""
    return (binding.kind, binding.module, binding.attr, code)


def _describe(binding: Binding) -> str:
    if binding.kind == "class":
        return f"class {binding.name}"
    if binding.kind == "function":
        prefix = "async def" if isinstance(binding.node, ast.AsyncFunctionDef) else "def"
        return f"{prefix} {binding.name}"
    if binding.kind == "import":
        alias = f" as {binding.name}" if binding.name != binding.attr else ""
        return f"from {binding.module} import {binding.attr}{alias}"
    if binding.kind == "module":
        return f"import {binding.module}"
    code = ast.unparse(binding.node) if binding.node is not None else "?"
    return f"{binding.name} = {code[:60]}"


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name != "__call__"


def _last(decorator: ast.expr) -> str:
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _strip_optional(node: ast.expr) -> ast.expr:
    """`X | None`, `Optional[X]`, `Union[X, None]` -> `X` (other shapes unchanged)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [s for s in (node.left, node.right) if not (isinstance(s, ast.Constant) and s.value is None)]
        return _strip_optional(sides[0]) if len(sides) == 1 else node
    if isinstance(node, ast.Subscript):
        head = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head in {"Optional", "Awaitable", "Coroutine"} or (
            head == "Union" and sum(1 for i in items if not (isinstance(i, ast.Constant) and i.value is None)) == 1
        ):
            kept = [i for i in items if not (isinstance(i, ast.Constant) and i.value is None)]
            return _strip_optional(kept[-1])
    return node
