"""Does a call fit a function's real signature? Read statically, from both syntax trees.

`check_call(call, function, extras)` binds the call's positional and keyword arguments to the
`def`'s parameters the way Python would and says "ok", "error" (with what is wrong and what the
function takes) or "unknown" (`*args` / `**kwargs` at the call site: only run time knows).
A `**kwargs` parameter accepts any keyword unless the function rejects extras itself (an `if`
on it that always raises, as in `if unexpected: raise TypeError(...)`) or forwards them to
another function, which then decides (`extras` follows that).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from wskit.ssot.resolve.targets import always_raises

__all__ = ["FunctionNode", "check_call", "describe", "forwarded_to", "rejects_extras"]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def describe(function: FunctionNode) -> str:
    """The parameter list as a reader would want it: `(user_context=..., *, registry=..., **extra)`."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = [p.arg + ("=..." if d is not None else "") for p, d in zip(positional, defaults, strict=True)]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        parts.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        parts.append("*")
    parts += [p.arg + ("=..." if d is not None else "") for p, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg is not None:
        parts.append(f"**{args.kwarg.arg}")
    return f"{function.name}({', '.join(parts)})"


def rejects_extras(function: FunctionNode) -> bool:
    """True when the function raises whenever its `**kwargs` parameter is not empty."""
    kwarg = function.args.kwarg
    if kwarg is None:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.If) and _tests_not_empty(node.test, kwarg.arg) and always_raises(node.body):
            return True
    return False


def _tests_not_empty(test: ast.expr, name: str) -> bool:
    """Whether `test` is true exactly when the dict `name` is not empty: `name`, `len(name)`,
    `bool(name)`, `name != {}`, `len(name) > 0` (`name.get("x")` tests one key, not emptiness)."""
    if isinstance(test, ast.Name):
        return test.id == name
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(_tests_not_empty(value, name) for value in test.values)  # true whenever that part is
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id in ("len", "bool"):
        return len(test.args) == 1 and _tests_not_empty(test.args[0], name)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.NotEq | ast.Gt):
        return _tests_not_empty(test.left, name)
    return False


def forwarded_to(function: FunctionNode) -> list[ast.expr]:
    """The callees that receive the function's `**kwargs` as `**name`."""
    kwarg = function.args.kwarg
    if kwarg is None:
        return []
    return [
        node.func
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwarg.arg for k in node.keywords)
    ]


def check_call(
    call: ast.Call, function: FunctionNode, extras: Callable[[FunctionNode, list[str]], str | None]
) -> tuple[str, str]:
    """("ok" | "error" | "unknown", detail) for `call` against `function`'s parameters.

    `extras(function, names)` is asked about keywords that only a `**kwargs` parameter would take:
    it returns why they are refused, or None when they are accepted.
    """
    args = function.args
    positional = [p.arg for p in [*args.posonlyargs, *args.args]]
    positional_only = {p.arg for p in args.posonlyargs}
    required = positional[: len(positional) - len(args.defaults)]
    keyword_only = [p.arg for p in args.kwonlyargs]
    required += [p.arg for p, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    star_args = any(isinstance(a, ast.Starred) for a in call.args)
    star_kwargs = [k for k in call.keywords if k.arg is None]
    given = sum(1 for a in call.args if not isinstance(a, ast.Starred))
    problems: list[str] = []
    if not star_args and given > len(positional) and args.vararg is None:
        problems.append(f"{given} positional arguments where at most {len(positional)} are taken")
    filled = set(positional[:given])
    unexpected: list[str] = []
    for keyword in call.keywords:
        name = keyword.arg
        if name is None:
            continue
        if name in positional_only:
            problems.append(f"{name}= is positional-only")
        elif name in positional or name in keyword_only:
            if name in filled:
                problems.append(f"{name} is given twice")
            filled.add(name)
        else:
            unexpected.append(name)
    if unexpected:
        refused = f"unexpected keyword {', '.join(unexpected)}=" if args.kwarg is None else extras(function, unexpected)
        if refused:
            problems.append(refused)
    if not star_args and not star_kwargs:
        missing = [name for name in required if name not in filled]
        if missing:
            problems.append(f"missing {', '.join(missing)}")
    if problems:
        return "error", f"{'; '.join(problems)}: it takes {describe(function)}"
    if star_args or star_kwargs:
        unpacked = ", ".join(ast.unparse(a) for a in call.args if isinstance(a, ast.Starred))
        unpacked = ", ".join(filter(None, [unpacked, *(f"**{ast.unparse(k.value)}" for k in star_kwargs)]))
        return "unknown", f"arguments from {unpacked} are only known at run time; it takes {describe(function)}"
    return "ok", ""
