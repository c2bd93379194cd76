"""An independent walker for the audit's completeness invariant: the calls of configured symbols.

It shares nothing with `wskit.ssot.checks.callsites` but the static resolver (the invariant is
stated in its terms: a call whose callee static resolution binds to a symbol). Its own rules are
plain: a call `Name(...)` where `Name` comes from `from module import name [as Name]` (module or
function level, relative imports included), or `alias.name(...)` where `alias` comes from
`import module [as alias]`; a name assigned or bound as a parameter in the calling function is
skipped (it may be anything there). Every call it finds must have exactly one audit row.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from wskit.ssot.resolve.static import StaticResolver

NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def module_name(file: Path, base: Path) -> tuple[str, bool]:
    parts = list(file.relative_to(base).with_suffix("").parts)
    package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if package else parts), package


def absolute(current: str, package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = current.split(".") if package else current.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, module] if module else parts)


def imports_of(body: list[ast.stmt], current: str, package: bool) -> dict[str, tuple[str, str | None]]:
    """name -> (module, attribute or None for a module) of the imports among these statements
    (not inside nested functions or classes)."""
    found: dict[str, tuple[str, str | None]] = {}
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ImportFrom):
            source = absolute(current, package, node.level, node.module)
            for alias in node.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = (alias.name, None)
        elif not isinstance(node, NESTED):
            stack.extend(ast.iter_child_nodes(node))
    return found


def locally_bound(function: ast.AST) -> set[str]:
    """Names a function assigns or takes as parameters (its imports are read apart)."""
    names: set[str] = set()
    if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        arguments = function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        names |= {a.arg for a in every} | {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if not isinstance(node, NESTED):
            stack.extend(ast.iter_child_nodes(node))
    return names


def calls(file: Path, base: Path, resolver: StaticResolver, targets: set[str]) -> Iterator[tuple[int, int, str]]:
    """(line, column, callee as written) of every call of one of `targets` (identities) in `file`."""
    current, package = module_name(file, base)
    try:
        tree = ast.parse(file.read_bytes())
    except (SyntaxError, ValueError):
        return
    module_imports = imports_of(tree.body, current, package)

    def binds(name: str, scopes: list[tuple[dict[str, tuple[str, str | None]], set[str]]]) -> bool | None:
        """True/False: the name reaches a target or not; None: a local variable (skip)."""
        for imported, bound in reversed(scopes):
            if name in imported:
                module, attribute = imported[name]
                if attribute is None:
                    return False
                definition = resolver.resolve(module, attribute).definition
                return definition is not None and definition.identity in targets
            if name in bound:
                return None
        if name in module_imports:
            module, attribute = module_imports[name]
            if attribute is None:
                return False
            definition = resolver.resolve(module, attribute).definition
            return definition is not None and definition.identity in targets
        return False

    def module_of(name: str, scopes: list[tuple[dict[str, tuple[str, str | None]], set[str]]]) -> str | None:
        for imported, bound in reversed(scopes):
            if name in imported:
                module, attribute = imported[name]
                return module if attribute is None else None
            if name in bound:
                return None
        found = module_imports.get(name)
        return found[0] if found is not None and found[1] is None else None

    Scopes = list[tuple[dict[str, tuple[str, str | None]], set[str]]]

    def visit(node: ast.AST, scopes: Scopes) -> Iterator[tuple[int, int, str]]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            outer: list[ast.AST] = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                outer += node.decorator_list
            for part in outer:
                yield from visit(part, scopes)
            body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
            statements = [s for s in body if isinstance(s, ast.stmt)]
            inner = [*scopes, (imports_of(statements, current, package), locally_bound(node))]
            for part in body:
                yield from visit(part, inner)
            return
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and binds(func.id, scopes):
                yield node.lineno, node.col_offset, func.id
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                module = module_of(func.value.id, scopes)
                if module is not None:
                    definition = resolver.resolve(module, func.attr).definition
                    if definition is not None and definition.identity in targets:
                        yield node.lineno, node.col_offset, f"{func.value.id}.{func.attr}"
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns"):
                continue  # type hints are not calls
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    yield from visit(child, scopes)

    yield from visit(tree, [])
