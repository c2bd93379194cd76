"""What calling a class does, read statically: the parameters it takes, and the guards that raise.

`constructor(resolver, cls)` finds the `__init__` and `__new__` a call of the class runs, through
statically resolved bases (left to right, depth first, as the MRO of simple hierarchies), or
the fields of a dataclass, an attrs class or a `NamedTuple`; where a metaclass, a class
decorator or a base that does not resolve decides, it says so instead (`unknown`).

`guards(resolver, cls)` finds the parameters without which the constructor raises: an `if` on
the parameter being absent, `None` or falsy whose branch raises (directly, under a further
condition, or in a helper the constructor passes the parameter to). A class is factory-only
for the constructions that do not pass such a parameter.
"""

from __future__ import annotations

import ast
import builtins
import copy
from collections.abc import Iterator
from typing import NamedTuple

from wskit.ssot.resolve.static import Definition, StaticResolver

__all__ = ["Constructor", "Guard", "constructor", "defines", "guards", "without_first"]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_MAX_BASES = 12
# Class decorators that return the class itself (or add an __init__ this module reads itself).
_DATACLASS = {"dataclass", "dataclasses.dataclass", "pydantic.dataclasses.dataclass"}
_ATTRS = {"attr.s", "attr.attrs", "attrs.define", "attrs.frozen", "attrs.mutable", "attr.define", "attr.frozen",
          "attr.mutable", "define", "frozen", "mutable", "attrs"}  # fmt: skip
_HARMLESS = {"final", "total_ordering", "runtime_checkable", "unique", "dataclass_transform", "deprecated",
             "add_metaclass", "six.add_metaclass"}  # fmt: skip
_HARMLESS_METACLASSES = {"ABCMeta", "abc.ABCMeta", "type", "EnumMeta", "enum.EnumMeta", "EnumType"}
# Builtin exceptions whose construction takes any positional arguments and no keyword (not
# ImportError's name=/path=, the Unicode errors' five arguments, or an exception group's two).
_BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, BaseException)
    and not issubclass(value, ImportError | BaseExceptionGroup | UnicodeDecodeError | UnicodeEncodeError)
    and value is not UnicodeTranslateError
)
# What the MRO walk yields for a builtin exception base: its `__init__(*args)` takes positional arguments only.
BUILTIN_EXCEPTION = "a builtin exception"
_EXCEPTION_INIT = ast.parse("def __init__(*args): pass").body[0]


class Constructor(NamedTuple):
    """The signatures a call of a class must fit (`self`/`cls` left out), or why that is unknown.

    `functions`: `__new__` and/or `__init__` as written, or a signature made from dataclass,
    attrs or NamedTuple fields; `where`: `file:line` of each; `unknown`: the reason, when the
    class's construction cannot be read statically.
    """

    functions: tuple[FunctionNode, ...] = ()
    where: tuple[str, ...] = ()
    unknown: str = ""


class Guard(NamedTuple):
    """A parameter without which the constructor raises.

    `line`: where (`file:line`); `raises`: what it raises; `unless`: a further condition under
    which it does not (empty when it always raises), as written in the code.
    """

    parameter: str
    position: int | None
    where: str
    raises: str
    unless: str = ""
    how: str = "missing"

    def describe(self) -> str:
        """`__init__ raises X when p is missing (file:line)`, with its condition."""
        unless = f", unless {self.unless}" if self.unless else ""
        return f"it raises {self.raises} when {self.parameter} is {self.how} ({self.where}{unless})"


def constructor(resolver: StaticResolver, cls: Definition) -> Constructor:
    """The `__new__`/`__init__` (or generated fields) a call of `cls` must fit; none: `object`'s,
    which takes no argument."""
    functions: list[FunctionNode] = []
    where: list[str] = []
    have_new = False
    for owner in _mro(resolver, cls):
        if owner == BUILTIN_EXCEPTION:
            assert isinstance(_EXCEPTION_INIT, ast.FunctionDef)
            functions.append(_EXCEPTION_INIT)
            where.append("builtins")
            break
        if isinstance(owner, str):
            return Constructor(unknown=owner)
        node = owner.node
        assert isinstance(node, ast.ClassDef)
        reason = _opaque(resolver, owner)
        if reason:
            return Constructor(unknown=f"{owner.qualname} {reason}")
        methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        if "__new__" in methods and not have_new:
            have_new = True
            functions.append(without_first(methods["__new__"]))
            where.append(f"{owner.relative}:{methods['__new__'].lineno}")
        if "__init__" in methods and _forwards(methods["__init__"]):
            continue  # `def __init__(self, *args, **kwargs): super().__init__(*args, **kwargs)`: the base decides
        init = without_first(methods["__init__"]) if "__init__" in methods else _generated_init(resolver, owner)
        if init is not None:
            functions.append(init)
            where.append(f"{owner.relative}:{init.lineno}")
            break
    return Constructor(tuple(functions), tuple(where))


def guards(resolver: StaticResolver, cls: Definition) -> list[Guard]:
    """The parameters of the constructor without which it raises (see the module docstring)."""
    for owner in _mro(resolver, cls):
        if isinstance(owner, str):
            return []
        node = owner.node
        assert isinstance(node, ast.ClassDef)
        methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        found: list[Guard] = []
        for name in ("__new__", "__init__"):
            if name in methods:
                function = methods[name]
                inside = _guards_in(resolver, owner, function, _parameters(without_first(function)), depth=0)
                found += [guard for guard in inside if _raises_when_left_out(guard, function)]
        if "__init__" in methods and not _forwards(methods["__init__"]):
            return _unique(found)
        if found:
            return _unique(found)
    return []


def _raises_when_left_out(guard: Guard, function: FunctionNode) -> bool:
    """Whether leaving the guarded parameter out trips the guard: its default is `None` (or falsy,
    for a `not p` test). `def __init__(self, maxsize=0)` testing `maxsize is None` does not raise
    when maxsize is left out; a default that is not a literal is not known here, so no guard."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr | None] = dict.fromkeys(a.arg for a in [*positional, *args.kwonlyargs])
    with_default = [a.arg for a in positional][len(positional) - len(args.defaults) :]
    defaults.update(zip(with_default, args.defaults, strict=True))
    defaults.update((a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True))
    default = defaults.get(guard.parameter)
    if default is None:
        return True  # no default: leaving it out is a TypeError, and the guard is what the class requires
    if isinstance(default, ast.Tuple | ast.List | ast.Set | ast.Dict):
        return guard.how != "missing" and not (default.keys if isinstance(default, ast.Dict) else default.elts)
    if not isinstance(default, ast.Constant):
        return False
    return default.value is None if guard.how == "missing" else not default.value


def _forwards(function: FunctionNode) -> bool:
    """Whether an `__init__` takes only `*args, **kwargs` and hands them to the base's `__init__`."""
    args = function.args
    if args.vararg is None or args.kwarg is None or len([*args.posonlyargs, *args.args]) != 1 or args.kwonlyargs:
        return False
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and any(isinstance(a, ast.Starred) and _name(a.value) == args.vararg.arg for a in node.args)
            and any(k.arg is None and _name(k.value) == args.kwarg.arg for k in node.keywords)
        ):
            return True
    return False


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else ""


def defines(resolver: StaticResolver, cls: Definition, method: str) -> bool:
    """Whether the class or one of its statically resolved bases defines `method` (e.g. `__await__`)."""
    for owner in _mro(resolver, cls):
        if isinstance(owner, str):
            return False
        node = owner.node
        assert isinstance(node, ast.ClassDef)
        if any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == method for n in node.body):
            return True
    return False


# -- the classes a call goes through ------------------------------------------------------------


def _mro(resolver: StaticResolver, cls: Definition) -> Iterator[Definition | str]:
    """The class, then its bases depth first, left to right, each once; a string says where
    reading stops (a base that does not resolve)."""
    seen: set[str] = set()
    stack: list[Definition | str] = [cls]
    while stack and len(seen) < _MAX_BASES:
        popped = stack.pop()
        if isinstance(popped, str):
            yield popped
            return
        current = resolver.complete(popped)
        if current.identity in seen:
            continue
        seen.add(current.identity)
        node = current.node
        if not isinstance(node, ast.ClassDef):
            yield f"the base {current.identity} is not a class statement"
            return
        yield current
        bases: list[Definition | str] = []
        for written in node.bases:
            base = written.value if isinstance(written, ast.Subscript) else written  # Generic[T]: Generic
            resolution = resolver.resolve_expression(current.module, base)
            parent = resolution.definition
            if parent is None or parent.kind != "class":
                reason = resolution.reason or f"it is a {parent.kind if parent else 'nothing'}"
                yield f"{current.qualname}'s base {ast.unparse(base)} is not resolved statically ({reason})"
                return
            if parent.module == "builtins":
                if parent.qualname in _BUILTIN_EXCEPTIONS:
                    bases.append(BUILTIN_EXCEPTION)  # reached in its place: a base before it may define __init__
                elif parent.qualname != "object":
                    bases.append(f"{current.qualname}'s base {parent.qualname} is a builtin class")
                continue
            if parent.node is None:
                yield f"{current.qualname}'s base {parent.identity} has no source here"
                return
            if _last(parent.qualname) in ("Protocol", "Generic", "ABC", "object"):
                continue
            bases.append(parent)
        stack.extend(reversed(bases))


def _opaque(resolver: StaticResolver, owner: Definition) -> str:
    """Why a metaclass or a class decorator may change what calling the class does ("" if none)."""
    node = owner.node
    assert isinstance(node, ast.ClassDef)
    for keyword in node.keywords:
        if keyword.arg == "metaclass" and _dotted(keyword.value) not in _HARMLESS_METACLASSES:
            return f"has the metaclass {ast.unparse(keyword.value)}, which decides what a call does"
    for decorator, names in _decorators(resolver, owner):
        if names & (_DATACLASS | _ATTRS) or any(_last(name) in _HARMLESS for name in names):
            continue
        return f"is decorated @{ast.unparse(decorator)}, which may replace it"
    return ""


def _decorators(resolver: StaticResolver, owner: Definition) -> list[tuple[ast.expr, set[str]]]:
    """Each class decorator with the names it goes by: as written, and what it resolves to
    (`import dataclasses as dc` then `@dc.dataclass` is `dataclasses.dataclass`)."""
    node = owner.node
    assert isinstance(node, ast.ClassDef)
    found: list[tuple[ast.expr, set[str]]] = []
    for decorator in node.decorator_list:
        called = decorator.func if isinstance(decorator, ast.Call) else decorator
        names = {_dotted(called)}
        if names - _DATACLASS - _ATTRS and not any(_last(name) in _HARMLESS for name in names):
            resolved = resolver.resolve_expression(owner.module, called).definition
            if resolved is not None:
                names.add(resolved.identity)
        found.append((decorator, names))
    return found


def _field_kind(resolver: StaticResolver, owner: Definition) -> str | None:
    """ "dataclass", "attrs" or "namedtuple" when the class's fields make its `__init__`."""
    node = owner.node
    assert isinstance(node, ast.ClassDef)
    names = {name for _, written in _decorators(resolver, owner) for name in written}
    if names & _DATACLASS:
        return "dataclass"
    if names & _ATTRS:
        return "attrs"
    if any(_last(_dotted(b)) == "NamedTuple" for b in node.bases):
        return "namedtuple"
    return None


def _generated_init(resolver: StaticResolver, owner: Definition) -> FunctionNode | None:
    """An `__init__` with the fields of a dataclass, an attrs class or a NamedTuple (and of such bases)."""
    node = owner.node
    assert isinstance(node, ast.ClassDef)
    kind = _field_kind(resolver, owner)
    if kind is None:
        return None
    options = next((d for d in node.decorator_list if isinstance(d, ast.Call)), None)
    if options is not None and any(k.arg == "init" and _false(k.value) for k in options.keywords):
        return None
    keyword_only = options is not None and any(k.arg == "kw_only" and not _false(k.value) for k in options.keywords)
    fields: dict[str, tuple[bool, bool]] = {}
    for name, has_default, only_keyword in [*_inherited_fields(resolver, owner), *_fields(node, kind)]:
        fields[name] = (has_default, only_keyword or keyword_only)
    positional = [(n, d) for n, (d, k) in fields.items() if not k]
    keywords = [(n, d) for n, (d, k) in fields.items() if k]
    arguments = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(n) for n, _ in positional],
        vararg=None,
        kwonlyargs=[ast.arg(n) for n, _ in keywords],
        kw_defaults=[ast.Constant(None) if d else None for _, d in keywords],
        kwarg=None,
        defaults=_trailing_defaults([d for _, d in positional]),
    )
    return ast.FunctionDef(name=node.name, args=arguments, body=[ast.Pass()], decorator_list=[], returns=None,
                           lineno=node.lineno, col_offset=0)  # fmt: skip


def _inherited_fields(resolver: StaticResolver, owner: Definition, depth: int = 0) -> list[tuple[str, bool, bool]]:
    """The fields of the bases that are dataclasses, attrs classes or NamedTuples, bases first."""
    node = owner.node
    assert isinstance(node, ast.ClassDef)
    fields: list[tuple[str, bool, bool]] = []
    for base in node.bases:
        parent = resolver.resolve_expression(owner.module, base).definition
        if parent is None or not isinstance(parent.node, ast.ClassDef) or depth > _MAX_BASES:
            continue
        parent = resolver.complete(parent)
        assert isinstance(parent.node, ast.ClassDef)
        kind = _field_kind(resolver, parent)
        if kind is not None:
            fields += _inherited_fields(resolver, parent, depth + 1) + _fields(parent.node, kind)
    return fields


def _fields(node: ast.ClassDef, kind: str) -> list[tuple[str, bool, bool]]:
    """(name, has a default, keyword-only) of each field a class body declares."""
    fields: list[tuple[str, bool, bool]] = []
    only_keyword = False
    for statement in node.body:
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        annotation = ast.unparse(statement.annotation)
        if annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue  # a class attribute, not a field
        if annotation in ("KW_ONLY", "dataclasses.KW_ONLY"):
            only_keyword = True
            continue
        value = statement.value
        has_default = value is not None
        if isinstance(value, ast.Call) and _last(_dotted(value.func)) in ("field", "ib", "attrib"):
            if any(k.arg == "init" and _false(k.value) for k in value.keywords):
                continue
            has_default = any(k.arg in ("default", "default_factory", "factory") for k in value.keywords)
            only = any(k.arg == "kw_only" and not _false(k.value) for k in value.keywords)
            fields.append((statement.target.id.lstrip("_") if kind == "attrs" else statement.target.id,
                           has_default, only_keyword or only))  # fmt: skip
            continue
        fields.append((statement.target.id, has_default, only_keyword))
    return fields


def _trailing_defaults(defaults: list[bool]) -> list[ast.expr]:
    """`defaults` of `ast.arguments` for positional fields (only the trailing ones may have one)."""
    count = 0
    for has_default in reversed(defaults):
        if not has_default:
            break
        count += 1
    return [ast.Constant(None) for _ in range(count)]


def without_first(function: FunctionNode) -> FunctionNode:
    """The function with its first parameter (`self` or `cls`) left out, as a caller sees it."""
    copied = copy.copy(function)
    arguments = copy.copy(function.args)
    if arguments.posonlyargs:
        arguments.posonlyargs = arguments.posonlyargs[1:]
    elif arguments.args:
        arguments.args = arguments.args[1:]
        if len(arguments.defaults) > len(arguments.args):
            arguments.defaults = arguments.defaults[1:]
    copied.args = arguments
    return copied


# -- guards ---------------------------------------------------------------------------------------


def _parameters(function: FunctionNode) -> list[tuple[str, int | None]]:
    """(name, position or None for keyword-only) of every named parameter."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    return [(a.arg, i) for i, a in enumerate(positional)] + [(a.arg, None) for a in args.kwonlyargs]


def _guards_in(
    resolver: StaticResolver, owner: Definition, function: FunctionNode, parameters: list[tuple[str, int | None]],
    *, depth: int,
) -> list[Guard]:  # fmt: skip
    """Guards of `function` on `parameters` (positions as a caller of the class counts them)."""
    names = {name: position for name, position in parameters}
    found: list[Guard] = []
    for node in _top_level(function.body):
        if isinstance(node, ast.If):
            tested = _tested(node.test, names)
            if tested is None:
                continue
            parameter, how, also = tested
            raised = _raised(node.body)
            if raised is None:
                continue
            exception, under, tests = raised
            if any(_mentions(test, set(names) - {parameter}) for test in tests):
                continue  # it raises depending on other arguments too: the caller decides, no guard
            unless = " and ".join(filter(None, [also, under]))
            where = f"{owner.relative}:{node.lineno}"
            found.append(Guard(parameter, names[parameter] if depth == 0 else None, where, exception, unless, how))
        elif isinstance(node, ast.Call) and depth < 2:
            found += _helper_guards(resolver, owner, node, names, depth)
    return found


def _helper_guards(
    resolver: StaticResolver, owner: Definition, call: ast.Call, names: dict[str, int | None], depth: int
) -> list[Guard]:
    """Guards in a helper the constructor hands a parameter to (`self._check(token)`)."""
    passed = {a.id: i for i, a in enumerate(call.args) if isinstance(a, ast.Name) and a.id in names}
    passed_by_keyword = {k.value.id: k.arg for k in call.keywords if isinstance(k.value, ast.Name) and k.arg}
    if not passed and not passed_by_keyword:
        return []
    helper = _helper(resolver, owner, call.func)
    if helper is None:
        return []
    function, is_method = helper
    parameters = [p for p, _ in _parameters(function)][1 if is_method else 0 :]
    mapping: dict[str, str] = {}
    for name, index in passed.items():
        if index < len(parameters):
            mapping[parameters[index]] = name
    for name, keyword in passed_by_keyword.items():
        if name in names:
            mapping[keyword] = name
    inner = _guards_in(resolver, owner, function, [(p, None) for p in mapping], depth=depth + 1)
    return [Guard(mapping[g.parameter], names[mapping[g.parameter]], g.where, g.raises, g.unless, g.how) for g in inner]


def _helper(resolver: StaticResolver, owner: Definition, func: ast.expr) -> tuple[FunctionNode, bool] | None:
    node = owner.node
    assert isinstance(node, ast.ClassDef)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == func.attr:
                static = any(_last(_dotted(d)) == "staticmethod" for d in statement.decorator_list)
                return statement, not static
        return None
    if isinstance(func, ast.Name):
        definition = resolver.resolve_expression(owner.module, func).definition
        if definition is not None and isinstance(definition.node, ast.FunctionDef | ast.AsyncFunctionDef):
            return definition.node, False
    return None


def _tested(test: ast.expr, names: dict[str, int | None]) -> tuple[str, str, str] | None:
    """(parameter, how it is missing, the rest of the condition) when `test` is true for a parameter
    that is `None` or falsy: `p is None`, `p == None`, `not p`, or one of those joined by `or`
    (any other part is irrelevant) or `and` (the other parts must hold too)."""
    if isinstance(test, ast.BoolOp):
        for value in test.values:
            found = _tested(value, names)
            if found is not None:
                if isinstance(test.op, ast.Or):
                    return found
                others = " and ".join(ast.unparse(v) for v in test.values if v is not value)
                return found[0], found[1], f"not ({others})" if others else ""
        return None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name):
        return (test.operand.id, "missing or empty", "") if test.operand.id in names else None
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id in names
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is | ast.Eq)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        return test.left.id, "missing", ""
    return None


def _raised(body: list[ast.stmt], depth: int = 0) -> tuple[str, str, list[ast.expr]] | None:
    """(what is raised, the condition it is not raised under ("" for always), the tests on the
    way) for the first `raise` of an `if` branch: at its top level, or under one further `if`."""
    for statement in body:
        if isinstance(statement, ast.Raise):
            return _exception(statement), "", []
    if depth > 0:
        return None
    for statement in body:
        if isinstance(statement, ast.If):
            for branch, negate in ((statement.body, False), (statement.orelse, True)):
                inner = _raised(branch, depth + 1)
                if inner is not None:
                    test = ast.unparse(statement.test)
                    condition = _negated(test) if not negate else test
                    return inner[0], condition, [statement.test]
    return None


def _mentions(test: ast.expr, names: set[str]) -> bool:
    return any(isinstance(node, ast.Name) and node.id in names for node in ast.walk(test))


def _negated(test: str) -> str:
    return test[4:] if test.startswith("not ") else f"not {test}"


def _exception(statement: ast.Raise) -> str:
    if statement.exc is None:
        return "the exception being handled"
    raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return ast.unparse(raised)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The statements that run on every call (a function's top level, and the bodies of its
    `try` and `with` blocks), and the calls they make: a guard inside another branch is that
    branch's business, not the constructor's."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.Try | ast.TryStar | ast.With | ast.AsyncWith):
            stack.extend(reversed(node.body))
        elif isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
            stack.append(node.value)


def _unique(found: list[Guard]) -> list[Guard]:
    first: dict[str, Guard] = {}
    for guard in found:
        first.setdefault(guard.parameter, guard)
    return list(first.values())


def _false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _last(name: str) -> str:
    return name.rpartition(".")[2]
