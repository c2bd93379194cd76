"""An independent oracle for `wskit ssot audit`: every call site of the configured symbols, by plain `ast`.

    python benchmarks/audit_oracle.py ROOT --config PYPROJECT [--search-path DIR]... [--no-wrappers]
        [--json PATH]

    from audit_oracle import Oracle, load_symbols        # the benchmarks directory on sys.path
    sites = Oracle(root, load_symbols(config), search_path=[root]).run()

It imports nothing of the tree and nothing of `wskit`: it was written apart from the analyzer, from
Python's semantics, so that the two can be compared (benchmarks/bench_audit_real.py does). A symbol is
read from `[tool.wskit.ssot]` (`canonical`, `paths`, `deprecated`; interfaces are not call sites).
Output: one `Site` per call site and verdict (file relative to ROOT, line and column of the call,
the callee as written, the target `module:qualname`, the symbol, kind, shape, reason, how the name
was reached, test or product).

Resolution (a path `pkg.mod:Name`, or a name at a call site):
- Modules are files under the search path (and ROOT), `a/b.py` -> `a.b`, `a/__init__.py` -> `a`;
  namespace directories count. A module outside them is "external" and never a symbol.
- A module-level name is bound by `def`/`class`, `import`, `from ... import` (relative ones made
  absolute), `X = Y` / `X = m.Y` (alias), or `from m import *` (when nothing else binds it). If it
  is bound more than once, the last binding in the file wins, except that a binding in an `except`
  handler of a `try` only counts when the `try` body binds nothing, or binds it by an import of a
  module that is not in the tree (`try: from .fast import X` / `except ImportError: from .slow
  import X`). Bindings under `if TYPE_CHECKING:` are ignored. Any other binding (a call result, a
  loop variable, a conditional expression) is "bound at run time".
- At a call site, the enclosing function scopes are searched first (function-level imports and
  aliases: the last binding at or before the call line, else the first one after it, since the
  name is local to the whole function; a parameter shadows everything), class
  bodies are skipped, then the module (its final binding). `m.Y(...)` resolves `Y` in the module
  `m` names; `Cls.method(...)` is a call of a factory method when the method is a
  `@classmethod`/`@staticmethod` of a symbol class whose return annotation names the class (or
  `Self`), or whose body returns `cls(...)`/`Cls(...)`.
- Wrappers (on unless --no-wrappers): a module-level function (undecorated, or with only the
  decorators listed under "unknown" below) with a `return f(...)` or `return await f(...)` of a
  symbol callable (or `return Cls(...)` of its class) becomes a factory of the symbol itself,
  repeatedly, until no new one appears. Their call sites carry `via` "wrapper". It returns a
  coroutine if it is `async def`, or a plain `def` returning an un-awaited coroutine.

Classification of a site (one row per error found, else one `call` or `unknown` row):
- await-sync: `await f(...)` (or `asyncio.create_task/gather/wait_for/...(f(...))`, or
  `x = f(...)` then `await x`) where f does not return a coroutine: a plain `def` (whose return
  annotation is not a class defining `__await__`) or a class without `__await__`.
- missing-await: f returns a coroutine (an `async def`, or a wrapper as above) and the
  coroutine is not awaited or scheduled. Followed through containers (list/tuple/set/dict
  displays, starred, `a if c else b`, comprehensions) to the first other parent:
  `await` -> fits; a scheduling call (create_task, ensure_future, gather, wait_for, shield,
  wait, as_completed, run, run_until_complete, run_coroutine_threadsafe, start_soon, spawn) ->
  fits; an argument of a function of the tree that awaits that parameter -> fits; `return` from
  a plain `def` or a lambda (a pass-through) -> fits; `return`/`yield` from an `async def` ->
  missing; an expression statement -> "dropped"; `x = ...` -> fits only if, somewhere in that
  function, `await x`, or `x` (alone, starred, or in a list/tuple display) is an argument of a
  scheduling call or of an awaited call, or a plain `def` does `return x`; `self.x = ...` -> fits
  only if `self.x` is awaited or scheduled somewhere in the class; any other use (an argument,
  an attribute, a comparison, `with`) -> missing.
- bad-arguments: the call's positional count and keyword names are bound to the target's
  parameters with Python's rules (too many positional, unexpected keyword, a value given twice,
  a required parameter missing). Classes: `__init__` and `__new__` found in the class or its
  static bases (resolved like names, first found left to right, depth first); a dataclass /
  attrs class (`@dataclass` under any module alias, `@attr.s`, `@define`, ...) without its own
  `__init__` takes its annotated fields (bases' first; `field(init=False)` skipped; `default`/
  `default_factory`/`factory` or a plain value give a default; `kw_only`; attrs strips a leading
  underscore);
  `NamedTuple` subclasses take their annotated fields. A callee with `**kwargs` accepts any
  keyword unless it rejects them (`if kwargs: raise ...`) or obviously forwards them: `kwargs` is
  used only once, as `**kwargs` in a call of a function or class the oracle resolves, whose
  parameters then bind the extra keywords.
- direct-instantiation: the class's `__init__` or `__new__` (its own, or the first base's that has
  an `__init__`) raises outside any `try`, either unconditionally, or inside a chain of `if`s
  whose tests say something about its defaulted parameters: `p is None`, `p == None`, `not p`,
  `p`, `p is not None`, `isinstance(p, T)` / `not isinstance(p, T)`, `p == X` / `p != X` (X a
  literal or a dotted name, compared as written; not once the parameter has been assigned a new
  value earlier in the function), combined with and/or (other conditions, such as a test-context
  check, are taken as possibly true). A construction whose
  literal arguments, or the defaults it leaves, make one such chain certainly true is a direct
  instantiation (`_token=None` or no `_token` at all, for `if _token is None: raise`), except
  inside the symbol's configured factory functions and the class's own methods.
- unknown: `*args`/`**kwargs` at the call (when no other error is certain), a callee decorated
  by anything but staticmethod/classmethod/lru_cache/cache/deprecated/abstractmethod/override/
  final/wraps, a class whose `__init__` comes from a base outside the tree or that has a
  metaclass, `getattr(module, "name")(...)`, a name bound to `a if c else b` of a symbol or a
  parameter whose default is the symbol.
- call: none of the above.

Known limits: flow-insensitive (a name rebound in a loop, an `if` that makes a binding
conditional, `global`); methods reached through instances (`self.factory()`) are not sites;
class-level factory methods only when declared on the symbol class itself; decorators that keep
the signature but are not in the list above make a site "unknown"; `functools.partial`,
`__call__` of a metaclass, `__signature__` and `__init_subclass__` are not modelled; pydantic
models (external base) are "unknown"; a coroutine passed to a function outside the tree is
"missing-await" even when that function awaits it; direct-instantiation ignores run-time escapes
(such as a test-context check before the `raise`); a file that does not parse on this Python is
skipped (listed in `skipped`). For speed, only files whose text calls (`name(`) one of the names
of interest are parsed for sites: the targets' names and their aliases, found to a fixed point by
one-line text patterns (`N as X` in imports, `X = N`, `X = m.N`, `X = A if c else B`); an alias
written over several lines is missed.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import json
import keyword
import os
import re
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CALL_ERRORS = ("bad-arguments", "await-sync", "missing-await", "direct-instantiation")
KINDS = ("call", *CALL_ERRORS, "unknown")
SCHEDULERS = frozenset(
    {"create_task", "ensure_future", "gather", "wait_for", "shield", "wait", "as_completed", "run",
     "run_until_complete", "run_coroutine_threadsafe", "start_soon", "spawn"}
)  # fmt: skip
TRANSPARENT_DECORATORS = frozenset(
    {"staticmethod", "classmethod", "lru_cache", "cache", "deprecated", "abstractmethod", "override", "final",
     "wraps", "overload"}
)  # fmt: skip
ATTRS_DECORATORS = frozenset(
    {"attr.s", "attr.attrs", "attrs", "attr.define", "attr.frozen", "attr.mutable", "attr.dataclass", "attrs.define",
     "attrs.frozen", "attrs.mutable", "define", "frozen", "mutable"}
)  # fmt: skip
FIELD_SPECIFIERS = frozenset({"field", "ib", "attrib"})
# Bases outside the tree whose constructor is object's (or takes nothing more than the class says).
PLAIN_BASES = frozenset({"object", "ABC", "abc.ABC", "Generic", "typing.Generic", "Protocol", "typing.Protocol"})
MAX_DEPTH = 40
_PREDICATE_WORDS = {
    "none": "is None", "falsy": "is falsy", "notnone": "is not None", "truthy": "is truthy",
    "notinstance": "is None (not an instance)", "instance": "is an instance", "eq": "==", "ne": "!=",
}  # fmt: skip
_ARGUMENT_SHAPES = [
    ("forwarded", "forwarded"),
    ("unexpected", "unexpected-keyword"),
    ("positional", "too-many-positional"),
    ("multiple values", "duplicate"),
    ("missing", "missing"),
]
_WORD = re.compile(r"[A-Za-z_]\w*")
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE)
_AS = re.compile(r"\b([A-Za-z_]\w*)\s+as\s+([A-Za-z_]\w*)")
_ASSIGN = re.compile(r"^[ \t]*([A-Za-z_]\w*)[ \t]*(?::[^=\n]+)?=(?!=)[ \t]*([^\n(\[{]+)$", re.MULTILINE)
_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")
_GETATTR = re.compile(r"getattr\([^,()]+,\s*[\"']([A-Za-z_]\w*)[\"']")


# -- the configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symbol:
    """One `[[tool.wskit.ssot.symbols]]` entry: its name and the `module:Name` paths to look for."""

    name: str
    canonical: str
    paths: tuple[str, ...]
    deprecated: tuple[str, ...] = ()

    @property
    def all_paths(self) -> tuple[str, ...]:
        return (self.canonical, *self.paths, *self.deprecated)


def load_symbols(config: str | os.PathLike[str]) -> list[Symbol]:
    """The symbols of a pyproject.toml (or a snippet holding `[tool.wskit.ssot]`)."""
    table = tomllib.loads(Path(config).read_text())["tool"]["wskit"]["ssot"]
    return [
        Symbol(s["name"], s["canonical"], tuple(s.get("paths", ())), tuple(s.get("deprecated", ())))
        for s in table["symbols"]
    ]


# -- what a name resolves to --------------------------------------------------------------------------

FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, eq=False)
class Def:
    """A `def`/`async def`/`class` of the tree; methods have a dotted qualname."""

    module: str
    qualname: str
    node: FuncNode | ast.ClassDef

    @property
    def key(self) -> str:
        return f"{self.module}:{self.qualname}"

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, ast.ClassDef)


@dataclass(frozen=True)
class Mod:
    name: str


@dataclass(frozen=True)
class Ext:
    """Something outside the tree (a module the search path does not hold, or an attribute of one)."""

    dotted: str


@dataclass(frozen=True)
class Opaque:
    """Only run time knows; `maybe` names a symbol target it may be (for an `unknown` site)."""

    reason: str
    maybe: str = ""


Value = Def | Mod | Ext | Opaque | None


@dataclass(frozen=True)
class Hit:
    value: Value
    via: frozenset[str] = frozenset()

    def tagged(self, *tags: str) -> Hit:
        return Hit(self.value, self.via | frozenset(tags))


MISSING = Hit(None)


# -- modules and their bindings -------------------------------------------------------------------------


@dataclass
class Binding:
    name: str
    kind: str  # def, class, import, from, assign, other
    lineno: int
    handler: bool = False  # in an `except` clause
    guarded: bool = False  # in a `try` body that has handlers
    type_only: bool = False
    source: str = ""  # import / from: the absolute module
    attr: str = ""  # from: the name imported
    value: ast.expr | None = None  # assign: the right-hand side
    node: ast.AST | None = None


@dataclass
class Module:
    name: str
    path: Path | None  # None: a namespace directory
    is_package: bool
    tree: ast.Module | None = None
    error: str = ""
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    _parents: dict[int, ast.AST] | None = None

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The node's parent in this module's tree (mapped one top-level statement at a time, on demand)."""
        if self._parents is None:
            self._parents = {}
        found = self._parents.get(id(node))
        line = getattr(node, "lineno", None)
        if found is not None or line is None or self.tree is None:
            return found
        for stmt in self.tree.body:
            start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
            if start <= line <= (stmt.end_lineno or stmt.lineno) and id(stmt) not in self._parents:
                self._parents[id(stmt)] = self.tree
                for parent in ast.walk(stmt):
                    for child in ast.iter_child_nodes(parent):
                        self._parents[id(child)] = parent
        return self._parents.get(id(node))


def iter_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones (in functions, classes, blocks) included; expressions are not walked."""
    for stmt in body:
        yield stmt
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from iter_statements(inner)
        for handler in getattr(stmt, "handlers", []):
            yield from iter_statements(handler.body)
        for case in getattr(stmt, "cases", []):
            yield from iter_statements(case.body)


def absolute_module(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of `from {'.' * level}{name} import ...` written in `module`."""
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, *([name] if name else [])])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def collect_bindings(
    body: list[ast.stmt], module: str, is_package: bool, out: dict[str, list[Binding]], stars: list[str],
    *, handler: bool = False, guarded: bool = False, type_only: bool = False,
) -> None:  # fmt: skip
    """Record every name the statements bind at this scope level (not inside nested defs/classes)."""
    flags = {"handler": handler, "guarded": guarded, "type_only": type_only}

    def add(name: str, kind: str, lineno: int, **more: Any) -> None:
        out.setdefault(name, []).append(Binding(name, kind, lineno, handler, guarded, type_only, **more))

    def nested(statements: list[ast.stmt], **changed: bool) -> None:
        collect_bindings(statements, module, is_package, out, stars, **{**flags, **changed})

    for stmt in body:
        if not _simple_binding(stmt, module, is_package, add, stars):
            _compound_binding(stmt, nested, add, guarded=guarded, type_only=type_only)


def _store_targets(node: ast.expr, lineno: int, add: Any) -> None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            add(sub.id, "other", lineno)


def _simple_binding(stmt: ast.stmt, module: str, is_package: bool, add: Any, stars: list[str]) -> bool:
    """Record what a simple statement binds; False for a compound statement (or one binding nothing)."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        add(stmt.name, "def", stmt.lineno, node=stmt)
    elif isinstance(stmt, ast.ClassDef):
        add(stmt.name, "class", stmt.lineno, node=stmt)
    elif isinstance(stmt, ast.Import):
        for alias in stmt.names:
            name = alias.asname or alias.name.split(".")[0]
            add(name, "import", stmt.lineno, source=alias.name if alias.asname else name, node=stmt)
    elif isinstance(stmt, ast.ImportFrom):
        source = absolute_module(module, is_package, stmt.level, stmt.module)
        for alias in stmt.names:
            if alias.name == "*":
                stars.append(source)
            else:
                add(alias.asname or alias.name, "from", stmt.lineno, source=source, attr=alias.name, node=stmt)
    elif isinstance(stmt, ast.Assign | ast.AnnAssign):
        value = stmt.value
        for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
            if isinstance(target, ast.Name) and value is not None:
                add(target.id, "assign", stmt.lineno, value=value, node=stmt)
            elif not isinstance(target, ast.Name):
                _store_targets(target, stmt.lineno, add)
    elif isinstance(stmt, ast.AugAssign):
        _store_targets(stmt.target, stmt.lineno, add)
    else:
        return False
    return True


def _compound_binding(stmt: ast.stmt, nested: Any, add: Any, *, guarded: bool, type_only: bool) -> None:
    if isinstance(stmt, ast.For | ast.AsyncFor):
        _store_targets(stmt.target, stmt.lineno, add)
        nested(stmt.body + stmt.orelse)
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        for item in stmt.items:
            if item.optional_vars is not None:
                _store_targets(item.optional_vars, stmt.lineno, add)
        nested(stmt.body)
    elif isinstance(stmt, ast.If):
        nested(stmt.body, type_only=type_only or _is_type_checking(stmt.test))
        nested(stmt.orelse)
    elif isinstance(stmt, ast.While):
        nested(stmt.body + stmt.orelse)
    elif isinstance(stmt, ast.Try | ast.TryStar):
        nested(stmt.body, guarded=bool(stmt.handlers) or guarded)
        for handler_node in stmt.handlers:
            if handler_node.name:
                add(handler_node.name, "other", handler_node.lineno)
            nested(handler_node.body, handler=True)
        nested(stmt.orelse + stmt.finalbody)
    elif isinstance(stmt, ast.Match):
        for case in stmt.cases:
            nested(case.body)


class ModuleIndex:
    """Module name -> file over the search path; files parsed once, on demand."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.files: dict[str, Path | None] = {}
        self.packages: set[str] = set()
        self.module_of: dict[Path, str] = {}
        self.cache: dict[str, Module | None] = {}
        for root in roots:
            self._walk(Path(root).resolve())

    def _walk(self, root: Path) -> None:
        for directory, dirnames, filenames in os.walk(root):
            here = Path(directory)
            parts = here.relative_to(root).parts
            dirnames[:] = sorted(d for d in dirnames if d.isidentifier() and d != "__pycache__")
            if not all(p.isidentifier() for p in parts):
                continue
            for index in range(1, len(parts) + 1):
                self.packages.add(".".join(parts[:index]))
                self.files.setdefault(".".join(parts[:index]), None)
            for filename in filenames:
                stem, _, ext = filename.partition(".")
                if ext != "py" or not stem.isidentifier():
                    continue
                name = ".".join(parts) if stem == "__init__" else ".".join((*parts, stem))
                if not name:
                    continue
                path = here / filename
                if self.files.get(name) is None:
                    self.files[name] = path
                self.module_of.setdefault(path, name)

    def module(self, name: str) -> Module | None:
        if name in self.cache:
            return self.cache[name]
        if name not in self.files:
            self.cache[name] = None
            return None
        path = self.files[name]
        is_package = name in self.packages
        module = Module(name, path, is_package)
        if path is not None:
            try:
                module.tree = ast.parse(path.read_bytes(), filename=str(path))
            except (SyntaxError, ValueError) as exc:
                module.error = f"{type(exc).__name__}: {exc}"
            else:
                collect_bindings(module.tree.body, name, is_package, module.bindings, module.stars)
        self.cache[name] = module
        return module


# -- signatures -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # posonly, pos, varpos, kwonly, varkw
    default: bool


@dataclass
class Signature:
    params: list[Param]
    label: str
    forward: Signature | None = None  # where **kwargs obviously go
    forward_name: str = ""
    rejects_extra: bool = False  # `if kwargs: raise ...`: **kwargs only to reject

    def render(self) -> str:
        return self.label + (f", **kwargs -> {self.forward_name}" if self.forward else "")


def params_of(args: ast.arguments, drop_first: bool) -> list[Param]:
    positional = [*args.posonlyargs, *args.args]
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    params = [
        Param(a.arg, "posonly" if i < len(args.posonlyargs) else "pos", d)
        for i, (a, d) in enumerate(zip(positional, defaults, strict=True))
    ]
    if drop_first and params:
        params = params[1:]
    if args.vararg:
        params.append(Param(args.vararg.arg, "varpos", True))
    params += [Param(a.arg, "kwonly", d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg:
        params.append(Param(args.kwarg.arg, "varkw", True))
    return params


def label_of(name: str, params: list[Param]) -> str:
    parts: list[str] = []
    star = False
    for p in params:
        if p.kind == "kwonly" and not star:
            parts.append("*")
            star = True
        prefix = {"varpos": "*", "varkw": "**"}.get(p.kind, "")
        star = star or p.kind == "varpos"
        parts.append(f"{prefix}{p.name}{'=...' if p.default and not prefix else ''}")
    return f"{name}({', '.join(parts)})"


def bind(sig: Signature, positional: int, keywords: list[str], depth: int = 0) -> list[str]:
    """Problems binding `positional` arguments and these keywords (Python's rules); [] when it fits."""
    slots = [p for p in sig.params if p.kind in ("posonly", "pos")]
    has_varpos = any(p.kind == "varpos" for p in sig.params)
    has_varkw = any(p.kind == "varkw" for p in sig.params)
    problems: list[str] = []
    if positional > len(slots) and not has_varpos:
        problems.append(f"{positional} positional arguments where at most {len(slots)} are taken")
    bound = {p.name for p in slots[:positional]}
    by_name = {p.name: p for p in sig.params if p.kind in ("pos", "kwonly")}
    posonly = {p.name for p in sig.params if p.kind == "posonly"}
    extra: list[str] = []
    for name in keywords:
        if name in by_name:
            if name in bound:
                problems.append(f"multiple values for {name}")
            bound.add(name)
        elif has_varkw:
            extra.append(name)
        elif name in posonly:
            problems.append(f"positional-only {name} passed by keyword")
        else:
            problems.append(f"unexpected keyword {name}=")
    problems += [
        f"missing {p.name}"
        for p in sig.params
        if p.kind in ("posonly", "pos", "kwonly") and not p.default and p.name not in bound
    ]
    if extra and sig.rejects_extra:
        problems += [f"unexpected keyword {name}= (its **kwargs raises when not empty)" for name in extra]
    elif extra and sig.forward is not None and depth < 5:
        problems += [
            f"{m} (forwarded by **kwargs to {sig.forward_name})" for m in bind(sig.forward, 0, extra, depth + 1)
        ]
    return problems


# -- sites ------------------------------------------------------------------------------------------------


@dataclass
class Site:
    file: str
    line: int
    col: int
    callee: str
    target: str
    symbol: str
    kind: str
    shape: str
    reason: str
    via: list[str]
    scope: str


@dataclass
class Target:
    """A callable that yields the symbol: its class, a configured factory, a factory method, a wrapper."""

    definition: Def
    symbol: Symbol
    role: str  # class, factory, method, wrapper
    coroutine: bool = False  # calling it returns a coroutine
    wrapper_of: str = ""


class Frame:
    """A function's scope: its parameters (with defaults) and the names its body binds (built on first use)."""

    def __init__(self, info: Module, node: ast.AST) -> None:
        self.info = info
        self.node = node
        self._bindings: dict[str, list[Binding]] | None = None
        self._params: dict[str, ast.expr | None] | None = None

    @property
    def params(self) -> dict[str, ast.expr | None]:
        if self._params is None:
            self._params = {}
            node = self.node
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                args = node.args
                positional = [*args.posonlyargs, *args.args]
                defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + [*args.defaults]
                self._params = {a.arg: d for a, d in zip(positional, defaults, strict=True)}
                self._params.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)})
                self._params.update({a.arg: None for a in (args.vararg, args.kwarg) if a is not None})
        return self._params

    @property
    def bindings(self) -> dict[str, list[Binding]]:
        if self._bindings is None:
            self._bindings = {}
            if isinstance(self.node, ast.FunctionDef | ast.AsyncFunctionDef):
                collect_bindings(self.node.body, self.info.name, self.info.is_package, self._bindings, [])
        return self._bindings


def dotted(expr: ast.expr) -> str:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = dotted(expr.value)
        return f"{base}.{expr.attr}" if base else ""
    if isinstance(expr, ast.Call):
        return dotted(expr.func)
    return ""


def is_test_file(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


class Oracle:
    """Resolve the symbols, find their call sites under `root`, classify each (rules: module docstring)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        symbols: list[Symbol],
        *,
        search_path: Iterable[str | os.PathLike[str]] = (),
        wrappers: bool = True,
    ) -> None:
        self.root = Path(root).resolve()
        roots = [Path(p).resolve() for p in search_path] or [self.root]
        if not any(self.root.is_relative_to(r) for r in roots):
            roots.append(self.root)
        self.index = ModuleIndex(roots)
        self.symbols = symbols
        self.wrappers = wrappers
        self.targets: dict[str, Target] = {}
        self.unresolved: list[dict[str, str]] = []
        self.skipped: list[dict[str, str]] = []
        self.memo: dict[tuple[str, str], Hit] = {}
        self.signatures: dict[str, Signature | Opaque] = {}
        self.guards: dict[str, Guard | None] = {}
        self.files_scanned = 0
        self.files_read = 0
        self.loose: dict[Path, Module] = {}  # tree files outside the search path's modules
        self.names: set[str] = set()  # every name by which a target may be reached
        self.edges: dict[Path, list[tuple[str, set[str]]]] = {}
        self.texts: dict[Path, str] = {}

    # ---- name resolution

    def resolve_name(self, module: str, name: str, depth: int = 0) -> Hit:
        key = (module, name)
        if key in self.memo:
            return self.memo[key]
        if depth > MAX_DEPTH:
            return Hit(Opaque("alias chain too deep"))
        self.memo[key] = Hit(Opaque(f"{module}.{name} refers to itself"))
        hit = self._resolve_name(module, name, depth)
        self.memo[key] = hit
        return hit

    def _resolve_name(self, module: str, name: str, depth: int) -> Hit:
        info = self.index.module(module)
        if info is None:
            return Hit(Ext(f"{module}.{name}"))
        if info.error:
            return Hit(Opaque(f"{module} does not parse"))
        bindings = [b for b in info.bindings.get(name, []) if not b.type_only]
        main = [b for b in bindings if not b.handler]
        fallback = [b for b in bindings if b.handler]
        tag = ("reexport",) if info.is_package else ()
        if main:
            last = max(main, key=lambda b: b.lineno)
            hit = self.resolve_binding(info, last, depth)
            if last.guarded and fallback and (hit.value is None or isinstance(hit.value, Ext)):
                return self.resolve_binding(info, max(fallback, key=lambda b: b.lineno), depth).tagged(
                    "try-import", *tag
                )
            return hit.tagged(*tag, *(("try-import",) if last.guarded and last.kind in ("import", "from") else ()))
        if fallback:
            return self.resolve_binding(info, max(fallback, key=lambda b: b.lineno), depth).tagged("try-import", *tag)
        if f"{module}.{name}" in self.index.files:
            return Hit(Mod(f"{module}.{name}"))
        if "__getattr__" in info.bindings:
            return Hit(Opaque(f"{module} has a module __getattr__"))
        for star in reversed(info.stars):
            hit = self.resolve_name(star, name, depth + 1)
            if hit.value is not None and not (isinstance(hit.value, Ext) and self.index.module(star) is not None):
                return hit.tagged("star-import")
        return MISSING

    def resolve_binding(self, info: Module, binding: Binding, depth: int, scope: list[Frame] | None = None) -> Hit:
        if binding.kind in ("def", "class"):
            assert isinstance(binding.node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            return Hit(Def(info.name, binding.name, binding.node))
        if binding.kind == "import":
            value: Value = Mod(binding.source) if binding.source in self.index.files else Ext(binding.source)
            return Hit(value, frozenset({"module-import"}))
        if binding.kind == "from":
            level = binding.node.level if isinstance(binding.node, ast.ImportFrom) else 0
            tags = ("relative-import",) if level else ()
            if binding.source == info.name and binding.attr == binding.name and scope is None:
                return Hit(Opaque(f"{info.name}.{binding.name} imports itself"))
            hit = self.resolve_name(binding.source, binding.attr, depth + 1)
            if hit.value is None and f"{binding.source}.{binding.attr}" in self.index.files:
                hit = Hit(Mod(f"{binding.source}.{binding.attr}"))
            if hit.value is None and binding.source not in self.index.files:
                hit = Hit(Ext(f"{binding.source}.{binding.attr}"))
            return hit.tagged(*tags, *(("renamed",) if binding.attr != binding.name else ()))
        if binding.kind == "assign" and binding.value is not None:
            if scope is not None:
                return self.resolve_expr(info, scope, binding.value, binding.lineno - 1, depth + 1).tagged("alias")
            return self.resolve_expr(info, [], binding.value, binding.lineno - 1, depth + 1).tagged("alias")
        return Hit(Opaque(f"{binding.name} is bound at run time (line {binding.lineno})"))

    def resolve_attr(self, hit: Hit, attr: str, depth: int) -> Hit:
        value = hit.value
        if isinstance(value, Mod):
            found = self.resolve_name(value.name, attr, depth + 1)
            if found.value is None and f"{value.name}.{attr}" in self.index.files:
                found = Hit(Mod(f"{value.name}.{attr}"))
            return found.tagged(*hit.via, "module-attr")
        if isinstance(value, Ext):
            return Hit(Ext(f"{value.dotted}.{attr}"), hit.via)
        if isinstance(value, Def) and isinstance(value.node, ast.ClassDef):
            for stmt in value.node.body:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == attr:
                    return Hit(Def(value.module, f"{value.qualname}.{attr}", stmt), hit.via | {"class-attr"})
            return MISSING
        if isinstance(value, Opaque):
            return hit
        return MISSING

    def resolve_expr(self, info: Module, scope: list[Frame], expr: ast.expr, line: int, depth: int = 0) -> Hit:
        if depth > MAX_DEPTH:
            return Hit(Opaque("alias chain too deep"))
        if isinstance(expr, ast.Name):
            return self.lookup(info, scope, expr.id, line, depth + 1)
        if isinstance(expr, ast.Attribute):
            return self.resolve_attr(self.resolve_expr(info, scope, expr.value, line, depth + 1), expr.attr, depth + 1)
        maybe = ""
        if isinstance(expr, ast.IfExp | ast.BoolOp):
            for sub in ast.walk(expr):
                if isinstance(sub, ast.Name | ast.Attribute):
                    found = self.resolve_expr(info, scope, sub, line, depth + 1).value
                    if isinstance(found, Def) and found.key in self.targets:
                        maybe = found.key
        return Hit(Opaque(f"bound to an expression ({ast.unparse(expr)[:60]})", maybe))

    def lookup(self, info: Module, scope: list[Frame], name: str, line: int, depth: int = 0) -> Hit:
        """A name at `line` inside the function frames `scope` (innermost last) of module `info`."""
        for index in range(len(scope) - 1, -1, -1):
            frame = scope[index]
            if name in frame.params:
                default = frame.params[name]
                maybe = ""
                if default is not None:
                    found = self.resolve_expr(info, scope[:index], default, line, depth + 1).value
                    maybe = found.key if isinstance(found, Def) and found.key in self.targets else ""
                return Hit(Opaque(f"{name} is a parameter", maybe))
            bindings = [b for b in frame.bindings.get(name, []) if not b.type_only]
            before = [b for b in bindings if b.lineno <= line and not b.handler] or [
                b for b in bindings if b.lineno <= line
            ]
            if bindings and not before:
                # Bound only later in the function: the name is still local (a loop, or UnboundLocalError).
                first = min(bindings, key=lambda b: b.lineno)
                return self.resolve_binding(info, first, depth + 1, scope[: index + 1]).tagged("bound-later")
            if before:
                binding = max(before, key=lambda b: b.lineno)
                hit = self.resolve_binding(info, binding, depth + 1, scope[: index + 1])
                if binding.guarded and (hit.value is None or isinstance(hit.value, Ext)):
                    handlers = [b for b in bindings if b.handler and b.lineno <= line]
                    if handlers:
                        hit = self.resolve_binding(info, max(handlers, key=lambda b: b.lineno), depth + 1, scope)
                return hit.tagged("function-import" if binding.kind in ("import", "from") else "local")
        return self.resolve_name(info.name, name, depth + 1)

    def resolve_path(self, path: str) -> Hit:
        module, _, name = path.partition(":")
        hit = self.resolve_name(module.strip(), name.strip())
        if hit.value is None and f"{module}.{name}" in self.index.files:
            return Hit(Mod(f"{module}.{name}"))
        return hit

    # ---- the targets

    def build_targets(self) -> None:
        for symbol in self.symbols:
            for path in symbol.all_paths:
                hit = self.resolve_path(path)
                if not isinstance(hit.value, Def):
                    reason = hit.value.reason if isinstance(hit.value, Opaque) else f"resolves to {hit.value!r}"
                    self.unresolved.append({"symbol": symbol.name, "path": path, "reason": reason})
                    continue
                definition = hit.value
                if definition.key in self.targets:
                    continue
                role = "class" if definition.is_class else "factory"
                self.targets[definition.key] = Target(
                    definition, symbol, role, coroutine=isinstance(definition.node, ast.AsyncFunctionDef)
                )
                if definition.is_class:
                    self._add_factory_methods(definition, symbol)

    def _add_factory_methods(self, cls: Def, symbol: Symbol) -> None:
        assert isinstance(cls.node, ast.ClassDef)
        for stmt in cls.node.body:
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = {dotted(d).rsplit(".", 1)[-1] for d in stmt.decorator_list}
            if not decorators & {"classmethod", "staticmethod"}:
                continue
            returns = ast.unparse(stmt.returns) if stmt.returns else ""
            names = {cls.node.name, "Self", "typing.Self", "typing_extensions.Self"}
            annotated = returns.strip("'\"") in names or any(returns.strip("'\"").endswith(f"[{n}]") for n in ("Self",))
            builds = any(
                isinstance(sub, ast.Return) and isinstance(sub.value, ast.Call | ast.Await)
                and dotted(sub.value.value if isinstance(sub.value, ast.Await) else sub.value) in ("cls", cls.node.name)
                for sub in ast.walk(stmt)
            )  # fmt: skip
            if annotated or builds:
                method = Def(cls.module, f"{cls.qualname}.{stmt.name}", stmt)
                self.targets.setdefault(
                    method.key, Target(method, symbol, "method", coroutine=isinstance(stmt, ast.AsyncFunctionDef))
                )

    def names_of_interest(self) -> set[str]:
        """Every name by which a target may be reached: its own, and (to a fixed point) every alias."""
        names = {t.definition.qualname.split(".")[0] for t in self.targets.values()}
        names |= {t.definition.qualname.rsplit(".", 1)[-1] for t in self.targets.values()}
        return names

    # ---- the scan

    def tree_files(self) -> list[Path]:
        files = []
        for directory, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git", "node_modules"))
            files += [Path(directory) / f for f in sorted(filenames) if f.endswith(".py")]
        return files

    def module_for(self, path: Path) -> Module | None:
        name = self.index.module_of.get(path)
        if name is not None and self.index.files.get(name) == path:
            return self.index.module(name)
        if path in self.loose:
            return self.loose[path]
        module = Module(f"__file__{path}", path, False)
        try:
            module.tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError) as exc:
            module.error = f"{type(exc).__name__}: {exc}"
        else:
            collect_bindings(module.tree.body, module.name, False, module.bindings, module.stars)
        self.loose[path] = module
        return module

    def run(self) -> list[Site]:
        """All sites, sorted by file, line, column and kind."""
        self.build_targets()
        files = self.tree_files()
        self.files_scanned = len(files)
        texts: dict[Path, str] = {}
        for path in files:
            try:
                texts[path] = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
        # Cheap indexes of the text: the identifiers a file mentions, and those it calls (`name(`,
        # `getattr(x, "name")(`); only files calling a name of interest are parsed for sites.
        self.texts = texts
        words = {path: set(_WORD.findall(text)) for path, text in texts.items()}
        called = {path: set(_CALLED.findall(text)) | set(_GETATTR.findall(text)) for path, text in texts.items()}
        sites: dict[tuple[str, int, int, str, str], Site] = {}
        self.names = self._alias_closure(words, self.names_of_interest())
        pending = set(self.names)
        for _round in range(6):
            new_wrappers: list[Target] = []
            for path, text in texts.items():
                if called[path].isdisjoint(pending):
                    continue
                for site, wrapper in self.scan_file(path, text):
                    sites[(site.file, site.line, site.col, site.kind, site.target)] = site
                    if wrapper is not None and wrapper.definition.key not in self.targets:
                        new_wrappers.append(wrapper)
            if not self.wrappers or not new_wrappers:
                break
            for wrapper in new_wrappers:
                self.targets.setdefault(wrapper.definition.key, wrapper)
            pending = self._alias_closure(words, {w.definition.qualname for w in new_wrappers})
            self.names |= pending
        self.files_read = len(self.loose) + sum(1 for m in self.index.cache.values() if m and m.tree)
        return sorted(sites.values(), key=lambda s: (s.file, s.line, s.col, s.kind))

    def _alias_closure(self, words: dict[Path, set[str]], names: set[str]) -> set[str]:
        """`names` and every name bound (anywhere in the tree) by `from m import N as X` or `X = ...N...`."""
        known = set(names)
        frontier = set(names)
        while frontier:
            current, frontier = frontier, set()
            for path, mentioned in words.items():
                if mentioned.isdisjoint(current):
                    continue
                for new, refers_to in self._alias_edges(path):
                    if new not in known and not refers_to.isdisjoint(current):
                        known.add(new)
                        frontier.add(new)
        return known

    def _alias_edges(self, path: Path) -> list[tuple[str, set[str]]]:
        """(name bound, names it is bound from), read from the text without parsing: `N as X` (imports;
        `except E as e` too, harmlessly), and one-line `X = N`, `X = m.N`, `X = A if c else B`."""
        if path in self.edges:
            return self.edges[path]
        text = self.texts.get(path, "")
        edges = [(m[2], {m[1]}) for block in _IMPORT.finditer(text) for m in _AS.finditer(block[1]) if m[1] != m[2]]
        for m in _ASSIGN.finditer(text):
            value = m[2].split("#")[0].strip()
            if " if " in value and " else " in value:
                branches = [value.split(" if ")[0], value.rsplit(" else ", 1)[1]]
            else:
                branches = [value]
            refers_to = set()
            for branch in branches:
                parts = branch.strip().split(".")
                if all(p.isidentifier() and not keyword.iskeyword(p) for p in parts) and parts[0] not in (
                    "self",
                    "cls",
                ):
                    refers_to.add(parts[-1])
            if refers_to:
                edges.append((m[1], refers_to))
        self.edges[path] = edges
        return edges

    def scan_file(self, path: Path, text: str) -> list[tuple[Site, Target | None]]:
        module = self.module_for(path)
        rel = path.relative_to(self.root).as_posix()
        if module is None:
            return []
        if module.tree is None:
            if not any(s["file"] == rel for s in self.skipped):
                self.skipped.append({"file": rel, "reason": module.error})
            return []
        names = self.names
        lines = [n for n, line in enumerate(text.splitlines(), 1) if not names.isdisjoint(_WORD.findall(line))]
        finder = SiteFinder(self, module, rel, lines)
        finder.visit(module.tree)
        return finder.found

    # ---- facts about targets

    def signature(self, target: Def) -> Signature | Opaque:
        if target.key not in self.signatures:
            self.signatures[target.key] = Opaque("signature being computed")
            self.signatures[target.key] = self._signature(target)
        return self.signatures[target.key]

    def _signature(self, target: Def) -> Signature | Opaque:
        node = target.node
        if isinstance(node, ast.ClassDef):
            return self.class_signature(target)
        odd = [dotted(d) for d in node.decorator_list if dotted(d).rsplit(".", 1)[-1] not in TRANSPARENT_DECORATORS]
        if odd:
            return Opaque(f"decorated with {odd[0] or ast.unparse(node.decorator_list[0])}")
        decorators = {dotted(d).rsplit(".", 1)[-1] for d in node.decorator_list}
        in_class = "." in target.qualname
        drop = in_class and "staticmethod" not in decorators
        params = params_of(node.args, drop_first=drop)
        sig = Signature(params, label_of(target.qualname, params))
        if node.args.kwarg:
            sig.rejects_extra = rejects_kwargs(node, node.args.kwarg.arg)
            if not sig.rejects_extra:
                self._follow_kwargs(target, node, node.args.kwarg.arg, sig)
        return sig

    def _follow_kwargs(self, target: Def, node: FuncNode, kwarg: str, sig: Signature) -> None:
        uses = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == kwarg]
        calls = [
            c for c in ast.walk(node)
            if isinstance(c, ast.Call) and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwarg
                                               for k in c.keywords)
        ]  # fmt: skip
        if len(uses) != 1 or len(calls) != 1:
            return
        info = self.index.module(target.module)
        if info is None:
            return
        scope = self.frames_to(info, node)
        callee = self.resolve_expr(info, scope, calls[0].func, calls[0].lineno).value
        if not isinstance(callee, Def):
            return
        inner = self.signature(callee)
        if isinstance(inner, Opaque):
            return
        call = calls[0]
        given = {k.arg for k in call.keywords if k.arg}
        npos = sum(1 for a in call.args if not isinstance(a, ast.Starred))
        slots = [p.name for p in inner.params if p.kind in ("posonly", "pos")][:npos]
        remaining = [p for p in inner.params if p.name not in given and p.name not in slots and p.kind != "varpos"]
        if any(isinstance(a, ast.Starred) for a in call.args):
            remaining = [p for p in remaining if p.kind != "pos"]
        sig.forward = Signature(remaining, inner.label, inner.forward, inner.forward_name, inner.rejects_extra)
        sig.forward_name = callee.qualname

    def frames_to(self, info: Module, node: ast.AST) -> list[Frame]:
        """The function frames enclosing `node` itself (the outermost first), for resolving in its body."""
        chain: list[ast.AST] = []
        current: ast.AST | None = node
        while current is not None:
            if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                chain.append(current)
            current = info.parent(current)
        return [frame_of(info, f) for f in reversed(chain)]

    def class_mro(self, cls: Def, seen: set[str] | None = None) -> list[Def | Ext | Opaque]:
        """The class, then its static bases depth first (left to right), each once."""
        seen = seen if seen is not None else set()
        if cls.key in seen:
            return []
        seen.add(cls.key)
        assert isinstance(cls.node, ast.ClassDef)
        order: list[Def | Ext | Opaque] = [cls]
        info = self.index.module(cls.module)
        if info is None:
            return order
        scope = self.frames_to(info, cls.node)
        for base in cls.node.bases:
            expr = base.value if isinstance(base, ast.Subscript) else base
            written = dotted(expr)
            hit = self.resolve_expr(info, scope, expr, cls.node.lineno).value
            if isinstance(hit, Def) and hit.is_class:
                order += self.class_mro(hit, seen)
            elif written in PLAIN_BASES or (isinstance(hit, Ext) and hit.dotted in ("abc.ABC", "typing.Generic")):
                continue
            elif isinstance(hit, Ext):
                order.append(hit)
            else:
                order.append(Opaque(f"base {written or ast.unparse(base)} does not resolve"))
        return order

    def class_signature(self, cls: Def) -> Signature | Opaque:
        assert isinstance(cls.node, ast.ClassDef)
        if any(k.arg == "metaclass" for k in cls.node.keywords):
            return Opaque("class with a metaclass")
        init: Signature | None = None
        new: Signature | None = None
        for entry in self.class_mro(cls):
            if isinstance(entry, Ext | Opaque):
                if isinstance(entry, Ext) and entry.dotted.rsplit(".", 1)[-1] == "NamedTuple":
                    return fields_signature(cls, self, namedtuple=True)
                if init is None:
                    reason = entry.reason if isinstance(entry, Opaque) else f"base {entry.dotted} is outside the tree"
                    return Opaque(reason)
                break
            assert isinstance(entry.node, ast.ClassDef)
            methods = {s.name: s for s in entry.node.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)}
            if init is None and "__init__" in methods:
                found = self.signature(Def(entry.module, f"{entry.qualname}.__init__", methods["__init__"]))
                if isinstance(found, Opaque):
                    return found
                init = found
            elif init is None and dataclass_like(entry.node):
                init = fields_signature(entry, self)
            if new is None and "__new__" in methods:
                found = self.signature(Def(entry.module, f"{entry.qualname}.__new__", methods["__new__"]))
                if isinstance(found, Opaque):
                    return found
                new = found
            if init is not None and new is not None:
                break
        if init is None and new is None:
            return Signature([], f"{cls.qualname}()")
        if init is None or new is None:
            chosen = init or new
            assert chosen is not None
            return Signature(chosen.params, chosen.label.replace(".__init__", "").replace(".__new__", ""),
                             chosen.forward, chosen.forward_name)  # fmt: skip
        # Both: bind against the stricter one (the one without *args/**kwargs), as Python checks both.
        loose = {p.kind for p in new.params} >= {"varpos", "varkw"}
        chosen = init if loose else new
        return Signature(chosen.params, chosen.label.replace(".__init__", "").replace(".__new__", ""),
                         chosen.forward, chosen.forward_name)  # fmt: skip

    def coroutine_returning(self, target: Target) -> bool | None:
        """True: calling it gives a coroutine; False: a plain value; None: cannot tell."""
        node = target.definition.node
        if target.role == "wrapper" or isinstance(node, ast.AsyncFunctionDef):
            return target.coroutine
        if isinstance(node, ast.ClassDef):
            awaitable = self.has_await_method(target.definition)
            return None if awaitable is None else False
        odd = [d for d in node.decorator_list if dotted(d).rsplit(".", 1)[-1] not in TRANSPARENT_DECORATORS]
        return None if odd else False

    def result_awaitable(self, target: Target) -> bool | None:
        """Whether the (non-coroutine) result defines `__await__`: the class itself, or a plain def's
        return annotation naming a class of the tree."""
        definition = target.definition
        if definition.is_class:
            return self.has_await_method(definition)
        node = definition.node
        if isinstance(node, ast.ClassDef) or node.returns is None:
            return False
        info = self.index.module(definition.module)
        if info is None:
            return False
        returns = node.returns
        if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
            try:
                returns = ast.parse(returns.value, mode="eval").body
            except SyntaxError:
                return False
        if not isinstance(returns, ast.Name | ast.Attribute):
            return False
        found = self.resolve_expr(info, self.frames_to(info, node)[:-1], returns, node.lineno).value
        return self.has_await_method(found) if isinstance(found, Def) and found.is_class else False

    def has_await_method(self, cls: Def) -> bool | None:
        for entry in self.class_mro(cls):
            if not isinstance(entry, Def):
                return None
            assert isinstance(entry.node, ast.ClassDef)
            if any(
                isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name == "__await__" for s in entry.node.body
            ):
                return True
        return False

    def guard(self, cls: Def) -> Guard | None:
        """When constructing the class raises: from its own (or the first base's) `__init__` and `__new__`."""
        if cls.key in self.guards:
            return self.guards[cls.key]
        result: Guard | None = None
        for entry in self.class_mro(cls):
            if not isinstance(entry, Def):
                break
            assert isinstance(entry.node, ast.ClassDef)
            for stmt in entry.node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name in ("__init__", "__new__"):
                    found = raising_guard(stmt)
                    if found is not None and result is None:
                        result = found
                    elif found is not None and result is not None:
                        result.always = result.always or found.always
                        result.clauses += found.clauses
            if any(isinstance(s, ast.FunctionDef) and s.name == "__init__" for s in entry.node.body):
                break
        self.guards[cls.key] = result
        return result

    def awaits_param(self, callee: Def, position: int | None, keyword: str | None) -> bool:
        node = callee.node
        if isinstance(node, ast.ClassDef):
            return False
        params = params_of(node.args, drop_first="." in callee.qualname)
        name = keyword
        if position is not None:
            slots = [p.name for p in params if p.kind in ("posonly", "pos")]
            name = slots[position] if position < len(slots) else None
        if name is None:
            return False
        return any(
            isinstance(n, ast.Await) and any(isinstance(m, ast.Name) and m.id == name for m in ast.walk(n.value))
            for n in ast.walk(node)
        ) or any(
            isinstance(n, ast.Call) and dotted(n.func).rsplit(".", 1)[-1] in SCHEDULERS
            and any(isinstance(m, ast.Name) and m.id == name for a in n.args for m in ast.walk(a))
            for n in ast.walk(node)
        )  # fmt: skip


def frame_of(info: Module, node: ast.AST) -> Frame:
    return Frame(info, node)


def decorator_style(decorator: ast.expr) -> str:
    """ "dataclass" for `@dataclass`/`@dataclasses.dataclass(...)` under any module alias (`dc.dataclass`,
    `pydantic.dataclasses.dataclass`), "attrs" for `@attr.s`/`@define`/`@attrs.frozen`/..., else ""."""
    written = dotted(decorator)
    if written.rsplit(".", 1)[-1] == "dataclass" and written != "attr.dataclass":
        return "dataclass"
    return "attrs" if written in ATTRS_DECORATORS else ""


def dataclass_like(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        if decorator_style(decorator):
            return not (
                isinstance(decorator, ast.Call)
                and any(
                    k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
                    for k in decorator.keywords
                )
            )
    return False


def _decorator_flag(node: ast.ClassDef, flag: str) -> bool:
    return any(
        isinstance(d, ast.Call) and any(
            k.arg == flag and isinstance(k.value, ast.Constant) and k.value.value is True for k in d.keywords
        )
        for d in node.decorator_list if decorator_style(d)
    )  # fmt: skip


def fields_signature(cls: Def, oracle: Oracle, *, namedtuple: bool = False) -> Signature:
    """The generated `__init__` of a dataclass / attrs class / NamedTuple (bases' fields first)."""
    chain = [e for e in oracle.class_mro(cls) if isinstance(e, Def)]
    classes = [cls] if namedtuple else [e for e in chain if isinstance(e.node, ast.ClassDef) and dataclass_like(e.node)]
    params: dict[str, Param] = {}
    for entry in reversed(classes):
        assert isinstance(entry.node, ast.ClassDef)
        attrs_style = any(decorator_style(d) == "attrs" for d in entry.node.decorator_list)
        kw_only = _decorator_flag(entry.node, "kw_only")
        seen_kw_only_marker = False
        for stmt in entry.node.body:
            name, annotation, value = None, None, None
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                name, annotation, value = stmt.target.id, ast.unparse(stmt.annotation), stmt.value
            elif (
                isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Call) and dotted(stmt.value.func).rsplit(".", 1)[-1] in ("ib", "attrib")
            ):  # fmt: skip
                name, annotation, value = stmt.targets[0].id, "", stmt.value
            if name is None or annotation is None:
                continue
            if "KW_ONLY" in annotation:
                seen_kw_only_marker = True
                continue
            if annotation.startswith(("ClassVar", "typing.ClassVar")):
                continue
            default, keyword_only, init = value is not None, kw_only or seen_kw_only_marker, True
            if isinstance(value, ast.Call) and dotted(value.func).rsplit(".", 1)[-1] in FIELD_SPECIFIERS:
                words = {k.arg: k.value for k in value.keywords if k.arg}
                default = bool({"default", "default_factory", "factory"} & set(words))
                init = not (isinstance(words.get("init"), ast.Constant) and words["init"].value is False)
                keyword_only = keyword_only or (
                    isinstance(words.get("kw_only"), ast.Constant) and words["kw_only"].value is True
                )
            if not init:
                continue
            public = name.lstrip("_") if attrs_style else name
            params.pop(public, None)
            params[public] = Param(public, "kwonly" if keyword_only else "pos", default)
    ordered = [p for p in params.values() if p.kind == "pos"] + [p for p in params.values() if p.kind == "kwonly"]
    return Signature(ordered, label_of(cls.qualname, ordered))


UNKNOWN = object()  # a parameter's value that is not a literal at the call
# (parameter, predicate, operand); predicates: none, falsy, notnone, truthy, instance, notinstance,
# eq, ne (the operand: a literal, or the text of a dotted name such as `Mode.UNIFIED`).
Atom = tuple[str, str, object]


@dataclass
class Guard:
    """When a class's `__init__`/`__new__` raises: always, or when every atom of one clause holds."""

    always: bool
    clauses: list[list[Atom]]
    positions: dict[str, int]  # positional parameters (after self/cls)
    defaults: dict[str, object]  # literal defaults (UNKNOWN when not a literal)

    def fires(self, call: ast.Call) -> list[Atom] | None:
        """The clause this call makes true (its literal arguments, or the defaults it leaves), if any."""
        values = dict(self.defaults)
        for name, position in self.positions.items():
            if position < len(call.args):
                values[name] = _literal(call.args[position])
        values.update({k.arg: _literal(k.value) for k in call.keywords if k.arg in values})
        for clause in self.clauses:
            if all(_holds(predicate, values.get(name, UNKNOWN), operand) for name, predicate, operand in clause):
                return clause
        return None


@dataclass(frozen=True)
class Dotted:
    """A value written as a dotted name (`Mode.UNIFIED`, `NOT_SET`): equal to the same text."""

    text: str


def _literal(expr: ast.expr | None) -> object:
    if isinstance(expr, ast.Constant):
        return expr.value
    written = dotted(expr) if isinstance(expr, ast.Name | ast.Attribute) else ""
    return Dotted(written) if written else UNKNOWN


def _holds(predicate: str, value: object, operand: object = None) -> bool:
    """Whether the predicate is certainly true of the value (False when the value is unknown)."""
    if value is UNKNOWN or (isinstance(value, Dotted) and predicate not in ("eq", "ne")):
        return False
    if predicate in ("eq", "ne"):
        comparable = operand is not UNKNOWN and isinstance(value, Dotted) == isinstance(operand, Dotted)
        return comparable and ((value == operand) == (predicate == "eq"))
    return {
        "none": value is None, "falsy": not value, "notnone": value is not None, "truthy": bool(value),
        "notinstance": value is None, "instance": False,
    }[predicate]  # fmt: skip


def _atoms(test: ast.expr) -> list[list[Atom]]:
    """The test as clauses (an OR of ANDs) of atoms about names; [[]] when nothing is known (may be true)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return [clause for value in test.values for clause in _atoms(value)]
    if isinstance(test, ast.BoolOp):
        clauses: list[list[Atom]] = [[]]
        for value in test.values:
            clauses = [a + b for a in clauses for b in _atoms(value)]
        return clauses
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    inner = test.operand if isinstance(test, ast.UnaryOp) and negated else test
    if isinstance(inner, ast.Name):
        return [[(inner.id, "falsy" if negated else "truthy", None)]]
    if isinstance(inner, ast.Call) and dotted(inner.func) == "isinstance" and inner.args:
        first = inner.args[0]
        if isinstance(first, ast.Name):
            return [[(first.id, "notinstance" if negated else "instance", None)]]
    if not negated and isinstance(inner, ast.Compare) and isinstance(inner.left, ast.Name) and len(inner.ops) == 1:
        name, op, other = inner.left.id, inner.ops[0], inner.comparators[0]
        if _is_none(other) and isinstance(op, ast.Is | ast.Eq):
            return [[(name, "none", None)]]
        if _is_none(other) and isinstance(op, ast.IsNot | ast.NotEq):
            return [[(name, "notnone", None)]]
        if isinstance(op, ast.Is | ast.Eq | ast.IsNot | ast.NotEq):
            return [[(name, "eq" if isinstance(op, ast.Is | ast.Eq) else "ne", _literal(other))]]
    return [[]]


def raising_guard(func: ast.FunctionDef) -> Guard | None:
    """When `func` (an `__init__`/`__new__`) raises outside any `try`: unconditionally, or under a chain
    of `if`s whose tests are known about its parameters (other conditions are taken as possibly true)."""
    params = params_of(func.args, drop_first=True)
    positional = [p.name for p in params if p.kind in ("posonly", "pos")]
    args = func.args
    defaults: dict[str, object] = {}
    all_positional = [*args.posonlyargs, *args.args][1:]
    for arg, default in zip(reversed(all_positional), reversed(args.defaults), strict=False):
        defaults[arg.arg] = _literal(default)
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if kw_default is not None:
            defaults[arg.arg] = _literal(kw_default)
    always = False
    clauses: list[list[Atom]] = []

    def walk(body: list[ast.stmt], chain: list[list[Atom]], conditional: bool) -> None:
        nonlocal always
        for stmt in body:
            if isinstance(stmt, ast.Raise):
                if not conditional:
                    always = True
                for clause in chain:
                    known = [atom for atom in clause if atom[0] in defaults and atom[0] not in reassigned]
                    if known and known not in clauses:
                        clauses.append(known)
                return
            if isinstance(stmt, ast.Return) and not conditional:
                return
            if isinstance(stmt, ast.If):
                walk(stmt.body, [a + b for a in chain for b in _atoms(stmt.test)], True)
                walk(stmt.orelse, chain, True)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                walk(stmt.body, chain, conditional)
            else:  # a parameter given a new value is no longer what the caller passed
                reassigned.update(
                    n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                )

    reassigned: set[str] = set()
    walk(func.body, [[]], False)
    if not always and not clauses:
        return None
    return Guard(always, clauses, {name: i for i, name in enumerate(positional)}, defaults)


# -- classifying one call ---------------------------------------------------------------------------------


class SiteFinder(ast.NodeVisitor):
    """Walk one file with its function scopes; resolve every call's callee; classify the symbol's ones."""

    def __init__(self, oracle: Oracle, module: Module, rel: str, lines: list[int]) -> None:
        self.lines = lines  # the lines that mention a name of interest: other statements are skipped
        self.oracle = oracle
        self.module = module
        self.rel = rel
        self.scope = "test" if is_test_file(rel) else "product"
        self.frames: list[Frame] = []
        self.functions: list[ast.AST] = []
        self.classes: list[ast.ClassDef] = []
        self.found: list[tuple[Site, Target | None]] = []

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.module.parent(node)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            index = bisect.bisect_left(self.lines, start)
            if index == len(self.lines) or self.lines[index] > (node.end_lineno or node.lineno):
                return
        super().visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(expr)
        self.frames.append(frame_of(self.module, node))
        self.functions.append(node)
        for stmt in node.body:
            self.visit(stmt)
        self.functions.pop()
        self.frames.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.frames.append(frame_of(self.module, node))
        self.functions.append(node)
        self.visit(node.body)
        self.functions.pop()
        self.frames.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node)
        self.generic_visit(node)
        self.classes.pop()

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Call) and dotted(func.func) == "getattr" and len(func.args) >= 2:
            name = func.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value in self.oracle.names:
                base = self.oracle.resolve_expr(self.module, self.frames, func.args[0], node.lineno)
                hit = self.oracle.resolve_attr(base, name.value, 0)
                if isinstance(hit.value, Def) and hit.value.key in self.oracle.targets:
                    target = self.oracle.targets[hit.value.key]
                    self.emit(node, target, ("unknown", "getattr", f"{hit.value.key} is looked up with getattr"), hit)
            return
        if not isinstance(func, ast.Name | ast.Attribute):
            return
        if (func.id if isinstance(func, ast.Name) else func.attr) not in self.oracle.names:
            return
        hit = self.oracle.resolve_expr(self.module, self.frames, func, node.lineno)
        value = hit.value
        if isinstance(value, Opaque) and value.maybe in self.oracle.targets:
            target = self.oracle.targets[value.maybe]
            self.emit(node, target, ("unknown", "runtime-bound", value.reason), hit)
        elif isinstance(value, Def) and value.key in self.oracle.targets:
            self.classify(node, self.oracle.targets[value.key], hit)

    def emit(self, node: ast.Call, target: Target, verdict: tuple[str, str, str], hit: Hit) -> None:
        kind, shape, reason = verdict
        via = set(hit.via) | ({"wrapper"} if target.role == "wrapper" else set())
        if target.role == "method":
            via.add("factory-method")
        site = Site(self.rel, node.lineno, node.col_offset, ast.unparse(node.func), target.definition.key,
                    target.symbol.name, kind, shape, reason, sorted(via), self.scope)  # fmt: skip
        self.found.append((site, self.wrapper_for(node, target)))

    def wrapper_for(self, node: ast.Call, target: Target) -> Target | None:
        """The enclosing module-level function, as a wrapper, if it returns this call's result."""
        if not self.functions or len(self.functions) != 1 or self.classes:
            return None
        function = self.functions[0]
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) or any(
            dotted(d).rsplit(".", 1)[-1] not in TRANSPARENT_DECORATORS for d in function.decorator_list
        ):
            return None  # a decorator (a pytest fixture, a route...) decides what calling it gives
        parent = self.parent(node)
        awaited = isinstance(parent, ast.Await)
        if awaited:
            parent = self.parent(parent)
        if not isinstance(parent, ast.Return):
            return None
        definition = Def(self.module.name, function.name, function)
        if definition.key in self.oracle.targets:
            return None
        is_async = isinstance(function, ast.AsyncFunctionDef)
        gives_coroutine = bool(self.oracle.coroutine_returning(target)) and not awaited
        return Target(definition, target.symbol, "wrapper", coroutine=is_async or gives_coroutine,
                      wrapper_of=target.definition.key)  # fmt: skip

    def classify(self, node: ast.Call, target: Target, hit: Hit) -> None:
        errors: list[tuple[str, str, str]] = []
        errors += self.await_errors(node, target)
        errors += self.instantiation_errors(node, target)
        starred = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
        arguments = None if starred else self.argument_errors(node, target)
        if arguments:
            errors.append(arguments)
        for verdict in errors:
            self.emit(node, target, verdict, hit)
        if errors:
            return
        if starred:
            self.emit(node, target, ("unknown", "star-args", "arguments from *args/**kwargs at the call"), hit)
            return
        signature = self.oracle.signature(target.definition)
        if isinstance(signature, Opaque) and arguments is None:
            self.emit(node, target, ("unknown", "signature", signature.reason), hit)
            return
        self.emit(node, target, ("call", "fits", ""), hit)

    def argument_errors(self, node: ast.Call, target: Target) -> tuple[str, str, str] | None:
        signature = self.oracle.signature(target.definition)
        if isinstance(signature, Opaque):
            return None
        keywords = [k.arg for k in node.keywords if k.arg]
        problems = bind(signature, len(node.args), keywords)
        if not problems:
            return None
        text = "; ".join(problems)
        shape = next(name for word, name in _ARGUMENT_SHAPES if word in text)
        return "bad-arguments", shape, f"{'; '.join(problems)}: it takes {signature.render()}"

    def instantiation_errors(self, node: ast.Call, target: Target) -> list[tuple[str, str, str]]:
        definition = target.definition
        if not definition.is_class:
            return []
        guard = self.oracle.guard(definition)
        if guard is None:
            return []
        for function in self.functions:
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                key = f"{self.module.name}:{function.name}"
                factory = self.oracle.targets.get(key)
                if factory is not None and factory.role == "factory" and factory.symbol is target.symbol:
                    return []
        if any(c is definition.node for c in self.classes):
            return []
        if guard.always:
            reason = f"{definition.qualname} raises when constructed directly"
            return [("direct-instantiation", "always-raises", reason)]
        clause = guard.fires(node)
        if clause is None:
            return []
        said = " and ".join(
            f"{name} {_PREDICATE_WORDS[predicate]}{'' if predicate not in ('eq', 'ne') else ' ' + repr(operand)}"
            for name, predicate, operand in clause
        )
        reason = f"{definition.qualname} raises when {said}, as in this call"
        return [("direct-instantiation", "guarded-parameter", reason)]

    def await_errors(self, node: ast.Call, target: Target) -> list[tuple[str, str, str]]:
        coroutine = self.oracle.coroutine_returning(target)
        if coroutine is None:
            return []
        parent = self.parent(node)
        if not coroutine:
            if self.oracle.result_awaitable(target) is not False:
                return []
            if isinstance(parent, ast.Await):
                return [("await-sync", "awaited", f"{target.definition.qualname} does not return a coroutine")]
            if self.is_scheduler_arg(node, parent):
                return [("await-sync", "scheduled", f"{target.definition.qualname}'s result is not a coroutine")]
            name = self.assigned_name(parent, node)
            if name and self.name_awaited_directly(name):
                reason = f"{name} = {target.definition.qualname}(...) is awaited later; it is not a coroutine"
                return [("await-sync", "stored-then-awaited", reason)]
            return []
        fate = self.coroutine_fate(node)
        if fate is None:
            return []
        shape, reason = fate
        return [("missing-await", shape, reason)]

    # ---- following a coroutine

    def is_scheduler_arg(self, node: ast.AST, parent: ast.AST | None) -> bool:
        if isinstance(parent, ast.keyword):
            parent = self.parent(parent)
        return (
            isinstance(parent, ast.Call)
            and node is not parent.func
            and (dotted(parent.func).rsplit(".", 1)[-1] in SCHEDULERS)
        )

    def assigned_name(self, parent: ast.AST | None, node: ast.AST) -> str:
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
            return parent.targets[0].id
        if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name) and parent.value is node:
            return parent.target.id
        return ""

    def function_body(self) -> ast.AST:
        return self.functions[-1] if self.functions else self.module.tree

    def name_awaited_directly(self, name: str) -> bool:
        return any(
            isinstance(n, ast.Await) and isinstance(n.value, ast.Name) and n.value.id == name
            for n in ast.walk(self.function_body())
        )

    def name_consumed(self, name: str) -> bool:
        """`name` appears under an await, in a scheduling call, or is returned from a plain def."""
        body = self.function_body()
        plain = not isinstance(body, ast.AsyncFunctionDef)
        for n in ast.walk(body):
            if isinstance(n, ast.Await) and _is_name(n.value, name):
                return True
            if isinstance(n, ast.Call) and any(
                _is_name(a.value if isinstance(a, ast.Starred) else a, name) or _in_display(a, name)
                for a in [*n.args, *(k.value for k in n.keywords)]
            ):
                scheduled = dotted(n.func).rsplit(".", 1)[-1] in SCHEDULERS
                if scheduled or isinstance(self.parent(n), ast.Await):
                    return True
            if plain and isinstance(n, ast.Return) and n.value is not None and _is_name(n.value, name):
                return True
        return False

    def attribute_consumed(self, attr: str) -> bool:
        scope: ast.AST | None = self.classes[-1] if self.classes else self.module.tree
        assert scope is not None
        for n in ast.walk(scope):
            values = []
            if isinstance(n, ast.Await):
                values = [n.value]
            elif isinstance(n, ast.Call) and dotted(n.func).rsplit(".", 1)[-1] in SCHEDULERS:
                values = [
                    a.value if isinstance(a, ast.Starred) else a for a in [*n.args, *(k.value for k in n.keywords)]
                ]
            if any(isinstance(v, ast.Attribute) and v.attr == attr and dotted(v.value) == "self" for v in values):
                return True
        return False

    def coroutine_fate(self, node: ast.Call) -> tuple[str, str] | None:
        """None when the coroutine is awaited, scheduled or passed through; else (shape, reason)."""
        current: ast.AST = node
        container = ""
        while True:
            parent = self.parent(current)
            if isinstance(parent, ast.List | ast.Tuple | ast.Set | ast.Starred | ast.IfExp | ast.Dict):
                if isinstance(parent, ast.IfExp) and current is parent.test:
                    break
                container = container or ("dict" if isinstance(parent, ast.Dict) else "list")
            elif isinstance(parent, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
                container = "comprehension"
            elif isinstance(parent, ast.comprehension):
                return "comprehension", "a coroutine used as an iterable in a comprehension"
            else:
                break
            current = parent
        parent = self.parent(current)
        where = f" in a {container}" if container else ""
        if isinstance(parent, ast.Await):
            return None
        if isinstance(parent, ast.keyword):
            parent = self.parent(parent)
        if isinstance(parent, ast.Call) and current is not parent.func:
            return self.argument_fate(current, parent, where)
        if isinstance(parent, ast.Return | ast.Yield | ast.Lambda):
            function = self.functions[-1] if self.functions else None
            if isinstance(function, ast.AsyncFunctionDef):
                return (
                    f"returned{'-' + container if container else ''}",
                    f"the coroutine{where} is returned from an async def: its caller gets a coroutine",
                )
            return (
                None if not container else (f"returned-{container}", f"the coroutine is returned{where}, not awaited")
            )
        if isinstance(parent, ast.Expr):
            return "dropped", f"the coroutine{where} is created and dropped"
        if isinstance(parent, ast.Assign | ast.AnnAssign):
            return self.stored_fate(parent, current, where)
        return "used", f"the coroutine{where} is used as a value ({type(parent).__name__}) without await"

    def argument_fate(self, current: ast.AST, call: ast.Call, where: str) -> tuple[str, str] | None:
        if dotted(call.func).rsplit(".", 1)[-1] in SCHEDULERS:
            return None
        callee = self.oracle.resolve_expr(self.module, self.frames, call.func, call.lineno).value
        if isinstance(callee, Def):
            position = next((i for i, a in enumerate(call.args) if a is current), None)
            keyword = next((k.arg for k in call.keywords if k.value is current), None)
            if self.oracle.awaits_param(callee, position, keyword):
                return None
        return (
            "argument",
            f"the coroutine{where} is passed to {dotted(call.func) or 'a call'}(), which does not await it",
        )

    def stored_fate(
        self, statement: ast.Assign | ast.AnnAssign, current: ast.AST, where: str
    ) -> tuple[str, str] | None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        target = targets[0]
        if len(targets) == 1 and isinstance(target, ast.Name):
            if self.name_consumed(target.id):
                return None
            return (
                f"stored{'-' + where.rsplit(maxsplit=1)[-1] if where else ''}",
                f"assigned{where} to {target.id}, never awaited or scheduled",
            )
        if len(targets) == 1 and isinstance(target, ast.Attribute) and dotted(target.value) == "self":
            if self.attribute_consumed(target.attr):
                return None
            return "self-attribute", f"self.{target.attr} = the coroutine{where}, never awaited in the class"
        return "stored-elsewhere", f"the coroutine{where} is stored in {ast.unparse(target)[:40]}, never awaited"


def _is_none(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


def _is_name(expr: ast.AST, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def _in_display(expr: ast.AST, name: str) -> bool:
    """`name` is an element of a list/tuple/set display (`gather(*[a, b])`, `wait([a, b])`)."""
    expr = expr.value if isinstance(expr, ast.Starred) else expr
    return isinstance(expr, ast.List | ast.Tuple | ast.Set) and any(_is_name(e, name) for e in expr.elts)


def rejects_kwargs(node: FuncNode, kwarg: str) -> bool:
    """The body starts (after a docstring) with checks, one of them `if kwarg: raise ...`."""
    for stmt in node.body:
        if isinstance(stmt, ast.If) and _is_name(stmt.test, kwarg) and any(isinstance(s, ast.Raise) for s in stmt.body):
            return True
    return False


# -- command line ---------------------------------------------------------------------------------------


def run_oracle(
    root: str | os.PathLike[str], config: str | os.PathLike[str], search_path: Iterable[str | os.PathLike[str]] = (),
    *, wrappers: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The oracle as a JSON-ready document: sites, counts, unresolved paths, skipped files, seconds."""
    start = time.perf_counter()
    oracle = Oracle(root, load_symbols(config), search_path=search_path, wrappers=wrappers)
    sites = oracle.run()
    return {
        "root": str(root),
        "symbols": [s.name for s in oracle.symbols],
        "targets": {
            k: {"role": t.role, "coroutine": t.coroutine, "symbol": t.symbol.name, "wrapper_of": t.wrapper_of}
            for k, t in sorted(oracle.targets.items())
        },
        "counts": dict(Counter(s.kind for s in sites)),
        "sites": [asdict(s) for s in sites],
        "unresolved": oracle.unresolved,
        "skipped": oracle.skipped,
        "files_scanned": oracle.files_scanned,
        "files_read": oracle.files_read,
        "seconds": round(time.perf_counter() - start, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--config", type=Path, required=True, help="pyproject.toml (or snippet) with [tool.wskit.ssot]")
    parser.add_argument(
        "--search-path", type=Path, action="append", default=[], help="where modules live (default: ROOT)"
    )
    parser.add_argument("--no-wrappers", action="store_true", help="do not treat wrapper functions as factories")
    parser.add_argument("--json", type=Path, help="write the whole document here")
    args = parser.parse_args(argv)
    document = run_oracle(args.root, args.config, args.search_path, wrappers=not args.no_wrappers)
    for site in document["sites"]:
        if site["kind"] != "call":
            print(f"{site['file']}:{site['line']}:{site['col']} {site['kind']} [{site['shape']}] {site['callee']}"
                  f" -> {site['target']}: {site['reason']}")  # fmt: skip
    print(f"{len(document['sites'])} sites in {document['files_scanned']} files ({document['files_read']} read),"
          f" {document['seconds']} s: {document['counts']}; unresolved paths: {len(document['unresolved'])}",
          file=sys.stderr)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
