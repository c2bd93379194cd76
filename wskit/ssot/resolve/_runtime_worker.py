"""Resolve ONE import path by importing it, in a fresh interpreter; stdlib only.

Run as a script by file name with `python -P` (so neither wskit nor this directory is imported
before the target): `python -P _runtime_worker.py REQUEST.json RESULT.json`. The request holds
`module`, `name`, `search_path` and an optional pickled `probe`; the result is the JSON row data.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import functools
import importlib
import inspect
import json
import os
import pickle
import sys
import types
import typing
import warnings
from typing import Any


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text[:200]}"


def _deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [" ".join(str(w.message).split())[:200] for w in caught if issubclass(w.category, DeprecationWarning)]


def _unwrap_member(value: object) -> object:
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, property):
        value = value.fget
    try:
        return inspect.unwrap(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return value


def _class_file(cls: type) -> str | None:
    prefix = cls.__qualname__ + "."
    for value in vars(cls).values():
        func = _unwrap_member(value)
        code = getattr(func, "__code__", None)
        if code is not None and getattr(func, "__qualname__", "").startswith(prefix):
            return str(code.co_filename)
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    return str(file) if file else None


def _module_of_file(file: str, preferred: str) -> str | None:
    candidates = [preferred, *sorted(sys.modules)]
    for name in candidates:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) == file:
            return name
    return None


@functools.lru_cache(maxsize=64)
def _class_lines(file: str) -> dict[str, list[int]]:
    """Line of every class definition in `file`, by qualified name (nested classes too)."""
    try:
        with open(file, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[str, list[int]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                lines.setdefault(prefix + node.name, []).append(node.lineno)
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body, prefix)
                visit(node.orelse, prefix)

    visit(tree.body, "")
    return lines


def identify(cls: type) -> tuple[str, str | None]:
    """(qualified name where defined, `relative/file.py:line`) of a class."""
    file = _class_file(cls)
    module = _module_of_file(file, cls.__module__) if file else None
    if file is None or module is None or not file.endswith(".py"):
        return f"{cls.__module__}.{cls.__qualname__}", None
    relative = module.replace(".", "/") + ("/__init__.py" if file.endswith("__init__.py") else ".py")
    found = _class_lines(file).get(cls.__qualname__)
    line = getattr(cls, "__firstlineno__", None) or (found[-1] if found else None)
    return f"{module}.{cls.__qualname__}", relative if line is None else f"{relative}:{line}"


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _is_interface(cls: type) -> bool:
    if getattr(cls, "_is_protocol", False):
        return True
    abstract: frozenset[str] = getattr(cls, "__abstractmethods__", frozenset())
    if not abstract:
        return False
    own = [n for n, v in vars(cls).items() if callable(_unwrap_member(v)) and not _is_dunder(n)]
    return all(name in abstract for name in own)


def _strip_annotation(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _strip_annotation(args[0])
    if origin is not None and getattr(origin, "__name__", "") in {"Awaitable", "Coroutine"} and args:
        return _strip_annotation(args[-1])
    return annotation


def _return_annotation(func: Any) -> tuple[Any, str]:
    try:
        annotation = inspect.signature(func, eval_str=True).return_annotation
    except Exception as exc:
        return None, f"return annotation not evaluable ({_one_line(exc)})"
    if annotation is inspect.Signature.empty:
        return None, "no return annotation"
    return _strip_annotation(annotation), ""


def _probe_arguments(blob: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    probe = pickle.loads(base64.b64decode(blob))
    value = probe() if callable(probe) else probe
    if type(value).__name__ == "ProbeCall":
        return tuple(value.args), dict(value.kwargs)
    return (value,), {}


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _describe(result: dict[str, Any], cls: type) -> None:
    result["resolved"], result["defined_at"] = identify(cls)
    if _is_interface(cls):
        result["status"] = "interface"


def _missing_dependency(exc: BaseException, search_path: list[str]) -> str | None:
    """The top-level module a failed import lacked, when it lies outside the searched tree (a
    third-party dependency not installed here, not a broken path); None otherwise."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ModuleNotFoundError) and error.name:
            top = error.name.partition(".")[0]
            inside = any(os.path.exists(os.path.join(root, top)) or os.path.exists(os.path.join(root, top + ".py"))
                         for root in search_path)  # fmt: skip
            return None if inside else top
        error = error.__cause__ or error.__context__
    return None


def resolve(module_name: str, name: str, probe: str | None, search_path: list[str] | None = None) -> dict[str, Any]:
    """Import `module_name`, look up `name` and resolve it as described in `wskit.ssot`."""
    result: dict[str, Any] = {
        "kind": "unknown",
        "status": "failed",
        "resolved": None,
        "defined_at": None,
        "deprecated": False,
        "detail": "",
        "warnings": [],
        "findings": [],
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            module = importlib.import_module(module_name)
            try:
                obj = getattr(module, name)
            except AttributeError:
                # `from package import name` falls back to a submodule; a plain module has none.
                if not hasattr(module, "__path__"):
                    raise AttributeError(f"module {module_name} has no attribute {name!r}") from None
                obj = importlib.import_module(f"{module_name}.{name}")
        except BaseException as exc:
            missing = _missing_dependency(exc, search_path or [])
            if missing is not None:
                result["status"] = "environment"
                result["detail"] = (
                    f"runtime mode needs {missing}, a dependency of {module_name} that this environment lacks:"
                    ' install the project\'s dependencies where the check runs, or use mode = "static"'
                )
            else:
                result["detail"] = f"import failed: {_one_line(exc)}"
            result["warnings"] = _deprecations(caught)
            result["deprecated"] = bool(result["warnings"])
            return result
    result["warnings"] = _deprecations(caught)
    result["status"] = "resolved"
    if isinstance(obj, types.ModuleType):
        result.update(kind="module", resolved=obj.__name__, detail="the path names a module")
    elif isinstance(obj, type):
        result["kind"] = "class"
        _describe(result, obj)
        if result["status"] == "interface":
            result.update(kind="interface", detail="interface only (Protocol or all-abstract class)")
        else:
            result["detail"] = "class"
    elif callable(obj):
        _resolve_factory(result, obj, probe)
    else:
        result["kind"] = "instance"
        _describe(result, type(obj))
        result["detail"] = f"an instance of {type(obj).__qualname__}"
    result["deprecated"] = bool(result["warnings"])
    return result


def _resolve_factory(result: dict[str, Any], factory: Any, probe: str | None) -> None:
    is_async = inspect.iscoroutinefunction(factory)
    annotation, why = _return_annotation(factory)
    result["kind"] = "async factory" if is_async else "factory"
    if probe is None:
        if isinstance(annotation, type):
            _describe(result, annotation)
            if result["status"] == "interface":
                result.update(status="unresolved", detail="annotated to return an interface; pass a probe to call it")
            else:
                result["detail"] = "from the return annotation (not called: no probe)"
        else:
            result.update(status="unresolved", detail=f"{why or 'annotation is not a class'}; pass a probe to call it")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            args, kwargs = _probe_arguments(probe)
            produced = factory(*args, **kwargs)
            if inspect.isawaitable(produced):
                is_async = True
                produced = asyncio.run(_await(produced))
        except BaseException as exc:
            result["warnings"] += _deprecations(caught)
            result.update(status="failed", detail=f"probe call failed: {_one_line(exc)}")
            return
    result["warnings"] += _deprecations(caught)
    actual = type(produced)
    _describe(result, actual)
    notes = [f"called with the probe; returned {actual.__qualname__}"]
    if is_async:
        result["kind"] = "async factory"
        notes.append("async: callers must await it")
        result["findings"].append(["async factory", "callers must await it; without await it yields a coroutine"])
    if isinstance(annotation, type) and annotation is not actual and not _is_interface(annotation):
        mismatch = f"annotated to return {annotation.__qualname__} but returned {actual.__qualname__}"
        notes.append(mismatch)
        result["findings"].append(["annotation mismatch", mismatch])
    result["detail"] = "; ".join(notes)


def main(argv: list[str]) -> int:
    """Read the request file, resolve, write the result file."""
    with open(argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    sys.path[:0] = request.get("search_path") or []
    result = resolve(request["module"], request["name"], request.get("probe"), request.get("search_path") or [])
    with open(argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
