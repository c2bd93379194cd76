"""Undefined names and unused imports of a module (what `ruff --select F821,F401` reports), via libcst.

`introduced(before, after)` lists the problems the second version of a source has that the first
has not: a rewrite is only safe when that list is empty. Counting problems rather than
locating them makes pre-existing ones (a star import, a name defined at run time) cancel out.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst
from libcst.metadata import ImportAssignment, MetadataWrapper, ScopeProvider

__all__ = ["introduced", "problems"]


def problems(source: str) -> Counter[str]:
    """`F821 undefined name 'x'` and `F401 'x' imported but unused`, counted; raises on bad syntax."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    found: Counter[str] = Counter()
    for scope in {s for s in wrapper.resolve(ScopeProvider).values() if s is not None}:
        for access in scope.accesses:
            if not access.referents and isinstance(access.node, cst.Name):
                found[f"F821 undefined name {access.node.value!r}"] += 1
        for assignment in scope.assignments:
            if isinstance(assignment, ImportAssignment) and not assignment.references:
                found[f"F401 {assignment.name!r} imported but unused"] += 1
    return found


def introduced(before: str, after: str) -> list[str]:
    """The problems `after` has beyond those of `before`, sorted."""
    return sorted((problems(after) - problems(before)).elements())
