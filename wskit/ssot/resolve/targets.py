"""What a configured symbol is made of, read statically: its class, factories and interfaces.

`resolve_symbol(spec, resolver)` follows every path of a `SymbolSpec` (canonical, paths,
deprecated, preferred, interfaces) to its definition and records what a call site needs to
know about it: a class that only its factory may create, a factory's signature and whether it
is async or warns that it is deprecated, an interface's `@runtime_checkable`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import NamedTuple

from wskit.ssot.model import Finding, SymbolSpec
from wskit.ssot.resolve.constructors import Constructor, Guard, constructor, defines, guards
from wskit.ssot.resolve.factories import ReturnReader
from wskit.ssot.resolve.import_path import parse_import_path
from wskit.ssot.resolve.static import Definition, StaticResolver

__all__ = ["Symbol", "Target", "always_raises", "factory_only", "last_name", "resolve_symbol"]

_AWAITABLE = {"Awaitable", "Coroutine", "Future", "Task"}


class Target(NamedTuple):
    """One object a symbol's paths reach.

    kind: "class", "factory" (a plain `def`), "async factory" or "interface". `factory_only`:
    a class whose `__init__` or `__new__` always raises; `deprecated`: a factory that warns
    `DeprecationWarning`; `runtime_checkable`: an interface `isinstance` accepts.
    """

    definition: Definition
    kind: str
    factory_only: bool = False
    deprecated: bool = False
    runtime_checkable: bool = False
    returns_awaitable: bool = False
    constructor: Constructor | None = None
    """For a class: the signatures a call must fit (or why they are unknown)."""
    guards: tuple[Guard, ...] = ()
    """For a class: parameters without which its constructor raises."""
    found_because: str = ""
    """For a factory found by what it returns rather than configured: why it is one."""

    @property
    def identity(self) -> str:
        """Qualified name of the object, e.g. `pkg.impl.Manager`."""
        return self.definition.identity


@dataclass
class Symbol:
    """A configured symbol, resolved: its targets by identity and each path's target."""

    spec: SymbolSpec
    targets: dict[str, Target] = field(default_factory=dict)
    path_targets: dict[str, Target] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def target_of(self, definition: Definition | None) -> Target | None:
        """The target `definition` is, or None."""
        return self.targets.get(definition.identity) if definition is not None else None

    @property
    def factories(self) -> set[str]:
        """Identities of every function that creates the symbol: configured, declared in `factories`,
        or found by what it returns."""
        return {identity for identity, target in self.targets.items() if "factory" in target.kind}

    @property
    def factory_path(self) -> str:
        """The path to create the symbol with: `preferred` if it is a factory, else the first factory path."""
        paths = [self.spec.preferred_path, *self.spec.paths]
        factories = [p for p in paths if p in self.path_targets and "factory" in self.path_targets[p].kind]
        return factories[0] if factories else self.spec.preferred_path

    def path_kind(self, path: str, target: Target, resolver: StaticResolver) -> str:
        """How an import by `path` (`module:name`) of `target` is classified.

        "deprecated" (listed as such, a warning factory or a module that warns on import),
        "private" (the canonical path, or a path with a `_private` part), "canonical" (one
        of the symbol's paths or interfaces) or "alias" (any other way to it).
        """
        module, _, name = path.partition(":")
        if path in self.spec.deprecated or target.deprecated or _module_warns(module, resolver):
            return "deprecated"
        parts = [*module.split("."), name]
        if path == self.spec.canonical and path not in self.spec.paths:
            return "private"
        if any(part.startswith("_") and not part.startswith("__") for part in parts):
            return "private"
        if path in self.spec.paths or path in self.spec.interfaces or path == self.spec.preferred_path:
            return "canonical"
        return "alias"


def resolve_symbol(spec: SymbolSpec, resolver: StaticResolver) -> Symbol:
    """Resolve every path of `spec`; paths that do not resolve become findings."""
    symbol = Symbol(spec)
    every = [spec.canonical, *spec.paths, *spec.deprecated, spec.preferred_path, *spec.interfaces, *spec.factories]
    for path in dict.fromkeys(every):
        parsed = parse_import_path(path)
        resolution = resolver.resolve(parsed.module, parsed.name)
        definition = resolution.definition
        if definition is None or definition.kind not in ("class", "function"):
            reason = resolution.reason or f"it names a {definition.kind if definition else 'nothing'}"
            symbol.findings.append(Finding("unresolved path", path, f"{path} does not resolve statically: {reason}"))
            continue
        target = symbol.targets.get(definition.identity) or _target(resolver.complete(definition), resolver)
        symbol.targets[definition.identity] = target
        symbol.path_targets[path] = target
    return symbol


def _target(definition: Definition, resolver: StaticResolver) -> Target:
    node = definition.node
    if isinstance(node, ast.ClassDef):
        traits = resolver.class_traits(definition, inherited=False)
        if "interface" in traits:
            checkable = any(last_name(d) == "runtime_checkable" for d in node.decorator_list)
            return Target(definition, "interface", runtime_checkable=checkable)
        return Target(
            definition,
            "class",
            factory_only=factory_only(node),
            constructor=constructor(resolver, definition),
            guards=tuple(guards(resolver, definition)),
        )
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    kind = "async factory" if isinstance(node, ast.AsyncFunctionDef) else "factory"
    returns = {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node.returns or ast.Pass())
               if isinstance(n, ast.Name | ast.Attribute)}  # fmt: skip
    returns |= {
        word for n in ast.walk(node.returns or ast.Pass()) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        for word in n.value.replace("[", " ").replace(".", " ").split()
    }  # fmt: skip
    awaitable = bool(returns & _AWAITABLE)
    if not awaitable and kind == "factory":
        # A plain function may return something awaitable: an instance of a class with __await__.
        made = ReturnReader(resolver).returned(definition)
        awaitable = made is not None and (made.awaitable or defines(resolver, made.target, "__await__"))
    return Target(definition, kind, deprecated=resolver.is_deprecated(definition), returns_awaitable=awaitable)


def factory_only(node: ast.ClassDef) -> bool:
    """True for a class whose `__init__` or `__new__` always raises: only a factory creates it."""
    constructors = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name in ("__init__", "__new__")]
    return any(always_raises(c.body) for c in constructors)


def always_raises(body: list[ast.stmt]) -> bool:
    """True when a function body raises on every path: a `raise` at its top level, or an `if`
    whose branches both always raise (an early `return` before it is not looked for)."""
    for statement in body:
        if isinstance(statement, ast.Raise):
            return True
        if (
            isinstance(statement, ast.If)
            and statement.orelse
            and always_raises(statement.body)
            and always_raises(statement.orelse)
        ):
            return True
    return False


def _module_warns(module: str, resolver: StaticResolver) -> bool:
    try:
        return resolver.module(module).deprecated_at is not None
    except LookupError:
        return False


def last_name(node: ast.expr) -> str:
    """The last name of a decorator or base: `runtime_checkable` for `typing.runtime_checkable(...)`."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
