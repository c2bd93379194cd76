"""Finding a module's source file the way the import system would, without importing anything.

Search roots are tried in order, as `sys.path` entries are: a regular package (`name/__init__.py`)
or a module (`name.py`) wins at once; plain directories are namespace-package portions. Editable
installs made by setuptools keep their package locations in `__editable___*_finder.py` files in
site-packages; their `MAPPING` literal is read (parsed, never executed) as a last resort.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["ModuleSource", "SourceFinder", "default_search_path", "relative_source_name"]

_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


class ModuleSource(NamedTuple):
    """Where a module lives: its file (None for a namespace package) and what kind it is."""

    name: str
    file: Path | None
    is_package: bool
    kind: str  # "source", "extension" (compiled) or "namespace"
    portions: tuple[Path, ...] = ()  # directories searched for submodules (packages only)


def relative_source_name(module: str, is_package: bool) -> str:
    """The conventional relative file name of a module: `pkg/mod.py` or `pkg/__init__.py`."""
    base = module.replace(".", "/")
    return f"{base}/__init__.py" if is_package else f"{base}.py"


def default_search_path() -> list[Path]:
    """This interpreter's `sys.path` directories (the current directory excluded)."""
    return [Path(entry) for entry in sys.path if entry and Path(entry).is_dir()]


def _editable_mappings(roots: Iterable[Path]) -> dict[str, Path]:
    mapping: dict[str, Path] = {}
    for root in roots:
        try:
            finders = sorted(root.glob("__editable___*_finder.py"))
        except OSError:
            continue
        for finder in finders:
            try:
                tree = ast.parse(finder.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError):
                continue
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                value_node = getattr(node, "value", None)
                if value_node is not None and any(isinstance(t, ast.Name) and t.id == "MAPPING" for t in targets):
                    try:
                        value = ast.literal_eval(value_node)
                    except ValueError:
                        continue
                    if isinstance(value, dict):
                        for name, location in value.items():
                            if isinstance(name, str) and isinstance(location, str):
                                mapping.setdefault(name, Path(location))
    return mapping


class SourceFinder:
    """Locates modules under `search_path` (default: this interpreter's `sys.path`)."""

    def __init__(self, search_path: Sequence[str | os.PathLike[str]] | None = None) -> None:
        roots = [Path(p) for p in search_path] if search_path is not None else []
        roots += [p for p in default_search_path() if p not in roots]
        self.roots = roots
        self._editable: dict[str, Path] | None = None
        self._cache: dict[str, ModuleSource | None] = {}

    def find(self, module: str) -> ModuleSource | None:
        """The source of `module`, or None when no root provides it."""
        if module not in self._cache:
            parent, _, leaf = module.rpartition(".")
            if not parent:
                found = self._find_in(module, leaf, self.roots)
                if found is None:
                    found = self._find_editable(module)
            else:
                package = self.find(parent)
                found = self._find_in(module, leaf, package.portions) if package and package.is_package else None
            self._cache[module] = found
        return self._cache[module]

    def submodule_exists(self, package: str, name: str) -> bool:
        """True when `package.name` is a module of its own."""
        return self.find(f"{package}.{name}") is not None

    def _find_editable(self, module: str) -> ModuleSource | None:
        if self._editable is None:
            self._editable = _editable_mappings(self.roots)
        location = self._editable.get(module)
        if location is None:
            return None
        if location.is_dir():
            init = location / "__init__.py"
            if init.is_file():
                return ModuleSource(module, init, True, "source", (location,))
            return ModuleSource(module, None, True, "namespace", (location,))
        if location.is_file():
            return ModuleSource(module, location, False, "source")
        return None

    @staticmethod
    def _find_in(module: str, leaf: str, directories: Iterable[Path]) -> ModuleSource | None:
        namespace: list[Path] = []
        for directory in directories:
            package_dir = directory / leaf
            init = package_dir / "__init__.py"
            if init.is_file():
                return ModuleSource(module, init, True, "source", (package_dir,))
            # Same order as the import system's FileFinder: compiled extensions before sources.
            for suffix in _EXTENSION_SUFFIXES:
                compiled = directory / f"{leaf}{suffix}"
                if compiled.is_file():
                    return ModuleSource(module, compiled, False, "extension")
            single = directory / f"{leaf}.py"
            if single.is_file():
                return ModuleSource(module, single, False, "source")
            if package_dir.is_dir():
                namespace.append(package_dir)
        if namespace:
            return ModuleSource(module, None, True, "namespace", tuple(namespace))
        return None
