"""Every module-level name in a tree that reaches some targets: aliases and re-exports, to a fixed point.

A name reaches a target when static resolution of `module:name` ends at it: the class or function
itself, `from x import Target as Other`, `Other = Target`, `Other = pkg.mod.Target`, a package
re-export... An alias of an alias is an alias, so each round looks up the names found in the
round before in the tree's index of import statements and alias lines (`SourceTree.importing`),
and parses only the statements of those files that mention them.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from wskit.ssot.read.bindings import Binding, dotted_name
from wskit.ssot.resolve.static import Definition
from wskit.ssot.resolve.tree import SourceFile, SourceTree

__all__ = ["Aliases", "find_aliases"]

T = TypeVar("T")


@dataclass
class Aliases(Generic[T]):
    """What `find_aliases` found.

    `paths`: `module:name` -> (target, resolution chain) for every module-level binding that
    reaches a target; `names`: every name any of them is bound to (the targets' own names too);
    `importing`: each file whose import statements or alias lines mention one of `names`, with
    the names they mention.
    """

    paths: dict[str, tuple[T, tuple[str, ...]]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    importing: dict[SourceFile, set[str]] = field(default_factory=dict)


def find_aliases(
    tree: SourceTree,
    names: set[str],
    target_of: Callable[[Definition | None], T | None],
    *,
    names_only: bool = False,
) -> Aliases[T]:
    """Follow every binding of the tree that may reach a target, starting from the targets' `names`.

    `target_of` maps a resolved definition to its target (None when it is not one). `names_only`:
    only `names` is wanted, so a binding whose name is known already is not resolved (`paths`
    then lacks it: `from m import Target` in a thousand files adds no name).
    """
    found: Aliases[T] = Aliases(names=set(names))
    pending = set(names)
    while pending:
        searched, pending = pending, set()
        for file, seen in tree.importing(searched).items():
            found.importing.setdefault(file, set()).update(seen)
            with tree.reading(file):
                pending |= _follow(tree, file, seen, found, target_of, names_only=names_only)
    return found


def _follow(
    tree: SourceTree,
    file: SourceFile,
    seen: set[str],
    found: Aliases[T],
    target_of: Callable[[Definition | None], T | None],
    *,
    names_only: bool,
) -> set[str]:
    """Record the file's bindings that reach a target; return the names newly found to do so."""
    info = tree.module_info(file)
    if info is None:
        return set()
    new: set[str] = set()
    for bound in sorted(info.names_bound_near(seen)):
        path = f"{file.module}:{bound}"
        if path in found.paths or (names_only and bound in found.names):
            continue
        bindings = info.bound(bound)
        if not bindings or not any(_may_reach(b, found.names) for b in bindings):
            continue  # (any binding: a `try` import may be followed by its `except` fallback)
        if bindings[-1].type_only and not info.runtime_bindings("__getattr__"):
            continue  # only for type checkers, unless a module __getattr__ supplies it (a lazy export)
        resolution = tree.resolver.resolve(file.module, bound)
        target = target_of(resolution.definition)
        if target is not None:
            found.paths[path] = (target, resolution.chain)
            if bound not in found.names:
                found.names.add(bound)
                new.add(bound)
    return new


def _may_reach(binding: Binding, names: set[str]) -> bool:
    """Whether a binding can be an alias of one of `names` (only those are worth resolving)."""
    if binding.kind == "import":
        return binding.attr in names
    if binding.kind == "alias" and isinstance(binding.node, ast.expr):
        return any(part in names for part in (dotted_name(binding.node) or "").split("."))
    return False
