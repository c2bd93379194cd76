"""`propose_config`: the symbols a source tree suggests for `[tool.wskit.ssot]`, read statically.

A role scan (`scan_source_tree`) finds the classes whose names play the role. Each concrete
implementation that no other one subclasses starts a family; the family gets:
- its public paths: the class's definition and the re-exports and aliases that reach it (an alias
  `X = Impl`, a renaming import, an import in a package `__init__` or listed in `__all__`; a plain
  `from m import Impl` elsewhere is a use, not a path);
- its factories: module-level functions whose return annotation resolves to the class, with
  their own re-exports;
- its interfaces: Protocols and all-abstract classes of the scan that it subclasses or is named
  after;
- which paths look deprecated, and why (they warn, a docstring says so, or they are named so);
- the path code should import: a factory when the class may only be created by one.

Nothing is imported: everything resolves through the tree's `StaticResolver`, as `check` does.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from wskit.ssot.checks.scan import scan_source_tree
from wskit.ssot.model import compile_role
from wskit.ssot.read.bindings import absolute_module
from wskit.ssot.read.gcpause import gc_paused
from wskit.ssot.render.scan_report import ClassRecord, ScanReport
from wskit.ssot.resolve.aliases import find_aliases
from wskit.ssot.resolve.factories import Factory, find_factories
from wskit.ssot.resolve.static import Definition, StaticResolver
from wskit.ssot.resolve.targets import factory_only, last_name
from wskit.ssot.resolve.tree import SourceFile, SourceTree

__all__ = ["Family", "Probe", "Proposal", "ProposedPath", "find_root", "propose_config"]

_DEPRECATED_TEXT = re.compile(r"\bdeprecated\b", re.IGNORECASE)
_DEPRECATED_LINE = re.compile(r"^[ \t]*(?:\.\.[ \t]*)?deprecated\b", re.IGNORECASE | re.MULTILINE)
_LEGACY_PARTS = ("legacy", "deprecated", "compat", "_compat")
_MODULE_DOCSTRING = re.compile(rb"\A(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*[rRuU]?(\"\"\"|''')(.*?)\1", re.DOTALL)
_PROBE_VALUES: dict[str, object] = {"str": "ssot-probe", "int": 0, "float": 0.0, "bool": False}
_Factory = tuple[str, tuple[str, ...], str, str]  # kind, resolution chain, why deprecated, why a factory
_INTERFACE_AFFIXES = re.compile(r"^(?:Abstract|Base|I(?=[A-Z]))|(?:Protocol|Interface|ABC|Base)$")


@dataclass(frozen=True)
class ProposedPath:
    """One `module:name` reaching a family's class (or an interface).

    kind: "class", "factory", "async factory" or "interface"; `defined_at`: the binding's
    `file:line`; `importers`: modules importing the class by this path (classes only);
    `deprecated`: why the path looks deprecated ("" when it does not).
    """

    path: str
    kind: str
    defined_at: str
    importers: int = 0
    deprecated: str = ""
    why: str = ""
    """For a factory: what makes it one (its annotation, or what it returns)."""

    @property
    def public(self) -> bool:
        """No `_private` part in the module or the name."""
        return _public(self.path)


@dataclass(frozen=True)
class Probe:
    """A `probe` for runtime mode: `call(*args, **kwargs)` builds a factory's first argument.

    `complete` is False when the values are placeholders a person should replace.
    """

    call: str
    args: tuple[object, ...] = ()
    kwargs: tuple[tuple[str, object], ...] = ()
    complete: bool = True


@dataclass(frozen=True)
class Family:
    """One implementation and every path, factory and interface that goes with it.

    `paths` are public, `preferred` first; `private` are other `_private` paths reaching the class
    (the audit counts imports of them); `probe` builds the first argument of a factory, as its
    annotation says.
    """

    name: str
    implementation: ClassRecord
    canonical: str
    paths: tuple[ProposedPath, ...]
    interfaces: tuple[ProposedPath, ...]
    preferred: str
    factory_only: bool
    private: tuple[str, ...] = ()
    probe: Probe | None = None
    notes: tuple[str, ...] = ()
    """How a rule settled something in this family (written as comments)."""

    @property
    def deprecated(self) -> tuple[ProposedPath, ...]:
        """The paths that look deprecated."""
        return tuple(p for p in self.paths if p.deprecated)


@dataclass(frozen=True)
class Proposal:
    """What `propose_config` found under `root`.

    `base` is the directory module names are relative to (the search path); `bases` are
    implementations that other implementations subclass (not families themselves); `loose_interfaces`
    are interfaces no family could be matched with; `outside` are classes a role alias reaches
    outside the tree.
    """

    root: Path
    base: Path
    role: str
    scan: ScanReport
    families: tuple[Family, ...]
    bases: tuple[ClassRecord, ...] = ()
    loose_interfaces: tuple[ProposedPath, ...] = ()
    outside: tuple[ClassRecord, ...] = ()
    missing: tuple[str, ...] = ()
    """Third-party modules the product code imports at module level that cannot be imported where
    `init` ran: runtime mode would fail there, so the proposal says `mode = "static"`."""
    unannotated: tuple[str, ...] = ()
    """Factory paths whose return annotation names no concrete class at run time: runtime mode calls
    a factory only with a probe, and init writes none, so the proposal says `mode = "static"`."""

    @property
    def test_doubles(self) -> list[ClassRecord]:
        """Classes of test code (and Mock/Fake/Stub/... classes) playing the role."""
        return [c for c in self.scan.classes if c.classification == "test double"]


def find_root(path: str | os.PathLike[str], package: str | None = None) -> Path:
    """The tree to scan: `path`, or the package `package` under it (or under its `src/`)."""
    base = Path(path)
    if not base.exists():
        raise ValueError(f"{str(path)!r} does not exist; pass the project or source directory")
    if package is None:
        return base.resolve()
    if not re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", package):
        raise ValueError(f"--package must be an importable name such as 'shop' or 'shop.core'; got {package!r}")
    relative = Path(*package.split("."))
    for directory in (base, base / "src"):
        for candidate in (directory / relative, (directory / relative).with_suffix(".py")):
            if candidate.exists():
                return candidate.resolve()
    raise ValueError(f"no package {package!r} under {str(path)!r} (looked for {relative} and src/{relative})")


def propose_config(path: str | os.PathLike[str], role: str, *, package: str | None = None) -> Proposal:
    """Scan the tree at `path` (or its package `package`) for `role` and propose the symbols.

    Test code is scanned too: its classes are reported as test doubles, never as families.
    Raises `ValueError` for a path or package that does not exist or a bad regular expression.
    """
    root = find_root(path, package)
    pattern = compile_role(role)
    label = str(Path(path) / Path(*package.split("."))) if package else str(path)
    with gc_paused():
        tree = SourceTree(root, include_tests=True)
        scan = scan_source_tree(tree, label, pattern)
        return _Proposer(tree, scan).propose(role)


class _Proposer:
    """Groups a scan's classes into families, reading the tree through its resolver."""

    def __init__(self, tree: SourceTree, scan: ScanReport) -> None:
        self.tree = tree
        self.resolver: StaticResolver = tree.resolver
        self.scan = scan
        self.files = {f.module: f for f in tree.files}
        self.tests = {f.module for f in tree.files if f.is_test}
        self.definitions: dict[str, Definition] = {}
        for record in scan.classes:
            definition = self._definition(record)
            if definition is not None:
                self.definitions[f"{record.module}.{record.qualname}"] = definition

    def propose(self, role: str) -> Proposal:
        candidates = [
            c
            for c in self.scan.classes
            if c.classification == "implementation" and c.shadowed is None and self._identity(c) in self.definitions
        ]
        outside = [c for c in candidates if c.module not in self.files]
        inside = [c for c in candidates if c.module in self.files]
        parents = {self._identity(c): self._ancestors(self.definitions[self._identity(c)]) for c in inside}
        subclassed = {ancestor for ancestors in parents.values() for ancestor in ancestors}
        factories = self._factories(inside)
        interfaces = self._interfaces()
        families: list[Family] = []
        bases: list[ClassRecord] = []
        for record in inside:
            family = self._family(record, factories.get(self._identity(record), {}))
            # A class others subclass is a base, unless code reaches it by more than its definition
            # (an alias, a re-export, a factory): then it is an implementation in its own right.
            if self._identity(record) in subclassed and not any(p.path != family.canonical for p in family.paths):
                bases.append(record)
            else:
                families.append(family)
        families = _unique_names(families)
        attached: set[str] = set()
        for index, family in enumerate(families):
            ancestors = parents[self._identity(family.implementation)]
            mine = [path for identity, path in interfaces if identity in ancestors or _named_after(path, family)]
            if not mine and len(families) == 1:
                mine = [path for _, path in interfaces]
            attached.update(i.path for i in mine)
            families[index] = dataclasses.replace(family, interfaces=tuple(sorted(mine, key=lambda i: i.path)))
        return Proposal(
            root=self.tree.root,
            base=self.tree.base,
            role=role,
            scan=self.scan,
            families=tuple(families),
            bases=tuple(bases),
            loose_interfaces=tuple(path for _, path in interfaces if path.path not in attached),
            outside=tuple(outside),
            missing=tuple(missing_dependencies(self.tree, _modules_of(families))),
            unannotated=tuple(dict.fromkeys(path for family in families for path in self._unannotated(family))),
        )

    # -- classes -------------------------------------------------------------------------------

    @staticmethod
    def _identity(record: ClassRecord) -> str:
        return f"{record.module}.{record.qualname}"

    def _definition(self, record: ClassRecord) -> Definition | None:
        """The class statement of a top-level class that is live (None for nested or dead ones)."""
        if "." in record.qualname:
            return None
        definition = self.resolver.resolve(record.module, record.qualname).definition
        line = int(record.defined_at.rpartition(":")[2])
        if definition is None or definition.kind != "class" or definition.line != line:
            return None
        return self.resolver.complete(definition)

    def _ancestors(self, definition: Definition, depth: int = 0) -> set[str]:
        """Identities of every class `definition` inherits from, as far as static resolution goes."""
        node = definition.node
        if not isinstance(node, ast.ClassDef) or depth > 10:
            return set()
        found: set[str] = set()
        for base in node.bases:
            parent = self.resolver.resolve_expression(definition.module, base).definition
            if parent is not None and parent.kind == "class" and parent.identity not in found:
                found.add(parent.identity)
                found |= self._ancestors(parent, depth + 1)
        return found

    # -- paths ---------------------------------------------------------------------------------

    def _is_path(self, path: str) -> bool:
        """Whether `module:name` is a path others are meant to import: a definition, an alias
        `X = Y`, or an import in a package `__init__`, listed in `__all__` or not used by the
        module itself (a re-export); or a lazy export (PEP 562): an `if TYPE_CHECKING:` import in a
        package `__init__` or listed in `__all__`, of a module whose `__getattr__` supplies it."""
        module, _, name = path.partition(":")
        file = self.files.get(module)
        info = self.tree.module_info(file) if file is not None and module not in self.tests else None
        if file is None or info is None:
            return False
        try:
            bindings = info.runtime_bindings(name)
            lazy = not bindings and bool(info.bound(name)) and bool(info.runtime_bindings("__getattr__"))
        except (SyntaxError, ValueError):
            return False
        if lazy:
            return file.is_package or name in (info.all_names or ())
        if not bindings:
            return False
        if bindings[-1].kind in ("class", "function", "alias"):
            return True
        if bindings[-1].kind == "import":
            return file.is_package or name in (info.all_names or ()) or _only_imported(file, name)
        return False

    def _star_exports(self, names: set[str], target: str) -> dict[str, tuple[str, ...]]:
        """`package:name` -> chain for package `__init__` modules that re-export a name by `import *`."""
        found: dict[str, tuple[str, ...]] = {}
        for file in self.tree.files:
            if not file.is_package or file.is_test or b"import *" not in file.data:
                continue
            for name in sorted(names):
                resolution = self.resolver.resolve(file.module, name)
                if resolution.definition is not None and resolution.definition.identity == target:
                    found[f"{file.module}:{name}"] = resolution.chain
        return found

    def _where(self, path: str, chain: tuple[str, ...]) -> str:
        return chain[0].partition(" ")[0] if chain else path

    def _object_deprecated(self, definition: Definition) -> str:
        """Why a function (or a class) itself looks deprecated, whatever path reaches it, or ""."""
        node = definition.node
        if node is None:
            return ""
        if self.resolver.is_deprecated(definition):
            decorated = any(last_name(d) == "deprecated" for d in node.decorator_list)
            return "decorated @deprecated" if decorated else f"warns DeprecationWarning ({definition.defined_at})"
        said = _says_deprecated(ast.get_docstring(node) or "") if definition.kind == "function" else None
        return f"its docstring says {said[0]!r} ({definition.defined_at})" if said else ""

    def _path_deprecated(self, path: str) -> str:
        """Why the path itself looks deprecated (its module or its name), or ""."""
        module, _, name = path.partition(":")
        try:
            info = self.resolver.module(module)
        except LookupError:
            return ""
        if info.deprecated_at is not None:
            return f"{module} warns DeprecationWarning on import (line {info.deprecated_at})"
        file = self.files.get(module)
        found = _MODULE_DOCSTRING.match(file.data) if file is not None else None
        said = _says_deprecated(found[2].decode(errors="replace")) if found else None
        if said:
            return f"the docstring of {module} says {said[0]!r}"
        for part in [*module.split("."), name]:
            if part.lower() in _LEGACY_PARTS or part.lower().startswith(("legacy", "deprecated")):
                return f"named like a legacy path ({part})"
        return ""

    def _path(
        self, path: str, kind: str, chain: tuple[str, ...], importers: int = 0, *, because: str = "", why: str = ""
    ) -> ProposedPath:
        because = because or self._path_deprecated(path)
        return ProposedPath(path, kind, self._where(path, chain), importers, because, why)

    # -- factories and interfaces ------------------------------------------------------------------

    def _factories(self, classes: list[ClassRecord]) -> dict[str, dict[str, _Factory]]:
        """For each class identity: `module:name` -> (kind, chain, why deprecated, why a factory) of
        every factory path reaching it: functions found by what they return (annotation, `return
        Cls(...)`, the result of another factory; wrappers chain), their aliases and re-exports."""
        wanted = {self._identity(c): c.qualname for c in classes}
        if not wanted:
            return {}
        found = find_factories(self.tree, wanted)
        result: dict[str, dict[str, _Factory]] = {}

        def add(path: str, factory: Factory, chain: tuple[str, ...]) -> None:
            because = self._object_deprecated(factory.definition)
            for target, why in factory.made:  # a dispatcher is a factory of each class it returns
                result.setdefault(target, {}).setdefault(path, (factory.kind, chain, because, why))

        for factory in found.values():
            own = f"{factory.definition.module}:{factory.definition.qualname}"
            add(own, factory, (factory.definition.defined_at or "",))

        def target_of(definition: Definition | None) -> str | None:
            return definition.identity if definition is not None and definition.identity in found else None

        aliases = find_aliases(self.tree, {f.definition.qualname for f in found.values()}, target_of)
        for path, (identity, chain) in sorted(aliases.paths.items()):
            if self._is_path(path):
                add(path, found[identity], chain)
        for identity, factory in sorted(found.items()):
            for path, chain in self._star_exports({factory.definition.qualname}, identity).items():
                add(path, factory, chain)
        return result

    def _interfaces(self) -> list[tuple[str, ProposedPath]]:
        """(identity, most public path) of each Protocol or all-abstract class of the scan."""
        found = []
        for record in self.scan.classes:
            definition = self.definitions.get(self._identity(record))
            if definition is None or record.module in self.tests or record.classification == "test double":
                continue
            if "interface" not in self.resolver.class_traits(definition, inherited=False):
                continue
            own = f"{record.module}:{record.qualname}"
            paths = [own, *(a for a in record.aliases if self._is_path(a))]
            counts = dict(record.import_paths)
            best = min(paths, key=lambda p: _rank(p, counts.get(p, 0), "interface"))
            found.append(
                (self._identity(record), self._path(best, "interface", (record.defined_at,), counts.get(best, 0)))
            )
        return found

    # -- one family ------------------------------------------------------------------------------

    def _family(self, record: ClassRecord, factories: dict[str, _Factory]) -> Family:
        definition = self.definitions[self._identity(record)]
        canonical = f"{record.module}:{record.qualname}"
        counts = dict(record.import_paths)
        chains = dict(zip(record.aliases, record.alias_chains, strict=True))
        identity = self._identity(record)
        chains = dict(zip(record.aliases, record.alias_chains, strict=True))
        names = {record.qualname, *(a.rpartition(":")[2] for a in record.aliases)}
        class_paths: dict[str, tuple[str, ...]] = {canonical: (record.defined_at,)}
        class_paths |= {path: chain for path, chain in chains.items() if self._is_path(path)}
        class_paths |= {p: c for p, c in self._star_exports(names, identity).items() if p not in chains}
        because = self._object_deprecated(definition)
        every = [
            self._path(path, "class", chain, counts.get(path, 0), because=because)
            for path, chain in class_paths.items()
        ]
        every += [
            self._path(p, kind, chain, because=deprecated, why=why)
            for p, (kind, chain, deprecated, why) in sorted(factories.items())
        ]
        public = [p for p in every if p.public]
        private = sorted({p.path for p in every if not p.public})
        assert isinstance(definition.node, ast.ClassDef)
        only_by_factory = factory_only(definition.node)
        preferred = _preferred(public, only_by_factory) or canonical
        others = sorted((p for p in public if p.path != preferred), key=lambda p: (bool(p.deprecated), p.path))
        chosen = [p for p in public if p.path == preferred] + others
        if not chosen:
            chosen = [p for p in every if p.path == canonical]
        notes: list[str] = []
        flagged = next((p for p in chosen if p.path == preferred and p.deprecated), None)
        if flagged is not None:
            # Rule: the preferred path is never listed as deprecated. When every path looks deprecated,
            # the most public one stays preferred (code must import it from somewhere) and says why.
            notes.append(
                f"Every path looks deprecated; {preferred} ({flagged.deprecated}) stays preferred, code must"
                " import it from somewhere, and is not listed in `deprecated`."
            )
            chosen = [dataclasses.replace(p, deprecated="") if p is flagged else p for p in chosen]
        class_names = [p.path.rpartition(":")[2] for p in chosen if p.kind == "class"]
        name = class_names[0] if class_names else record.qualname.lstrip("_") or record.qualname
        probe = self._probe([p for p in chosen if p.kind == "factory"])
        return Family(
            name=name,
            implementation=record,
            canonical=canonical,
            paths=tuple(chosen),
            interfaces=(),
            preferred=preferred,
            factory_only=only_by_factory,
            private=tuple(p for p in private if p != canonical),
            probe=probe,
            notes=tuple(notes),
        )

    def _unannotated(self, family: Family) -> list[str]:
        """The family's factory paths that runtime mode cannot check without calling them: their
        return annotation names no class when evaluated at run time (none, one naming an interface
        or no class, or one naming a class imported for type checkers only)."""
        found = []
        for proposed in family.paths:
            if proposed.kind not in ("factory", "async factory"):
                continue
            module, _, name = proposed.path.partition(":")
            function = self.resolver.resolve(module, name).definition
            annotated = None
            if function is not None and isinstance(function.node, ast.FunctionDef | ast.AsyncFunctionDef):
                annotated = self.resolver.resolve_return(function, run_time=True).definition
            if annotated is None or "interface" in self.resolver.class_traits(annotated, inherited=False):
                found.append(proposed.path)
        return found

    def _probe(self, factory_paths: list[ProposedPath]) -> Probe | None:
        """What builds the first sync factory's first argument, read from its annotation."""
        for proposed in factory_paths:
            module, _, name = proposed.path.partition(":")
            function = self.resolver.resolve(module, name).definition
            node = function.node if function is not None else None
            if function is None or not isinstance(node, ast.FunctionDef):
                continue
            parameters = [*node.args.posonlyargs, *node.args.args]
            if not parameters or parameters[0].annotation is None:
                return None
            built = self.resolver.resolve_expression(function.module, parameters[0].annotation).definition
            if built is None or built.kind != "class":
                return None
            call = f"{built.module}:{built.qualname}"
            if built.module == "builtins" and built.qualname in _PROBE_VALUES:
                return Probe(call, args=(_PROBE_VALUES[built.qualname],), complete=False)
            if built.module not in self.files:
                return None
            kwargs = _required_fields(self.resolver.complete(built))
            return Probe(call, kwargs=kwargs or (), complete=kwargs is not None)
        return None


def missing_dependencies(tree: SourceTree, modules: set[str]) -> list[str]:
    """Top-level modules that importing `modules` would import (module-level imports, followed
    through the tree) and that are neither in the tree, nor on its search path, nor in the
    standard library, nor importable here (sorted): runtime mode would fail on them."""
    files = {file.module: file for file in tree.files if not file.is_test}
    outside: set[str] = set()
    pending, seen = sorted(modules), set(modules)
    while pending:
        file = files.get(pending.pop())
        if file is None:
            continue
        for statement in file.skim.imports:
            if statement.indent:
                continue  # inside a function or a block: not run on import, or optional
            for node in file.skim.import_nodes(statement):
                for name in _imported_modules(node, file):
                    top = name.partition(".")[0]
                    if name in files or top in files:
                        for module in (name, top):
                            if module in files and module not in seen:
                                seen.add(module)
                                pending.append(module)
                    else:
                        outside.add(top)
    local = {entry.stem for entry in tree.base.iterdir()} if tree.base.is_dir() else set()
    for directory in tree.search_path:
        local |= {entry.stem for entry in directory.iterdir()} if directory.is_dir() else set()
    candidates = sorted(outside - local - set(sys.stdlib_module_names) - {"__future__"})
    return [name for name in candidates if name.isidentifier() and importlib.util.find_spec(name) is None]


def _imported_modules(node: ast.Import | ast.ImportFrom, file: SourceFile) -> list[str]:
    """The modules an import statement imports (`from pkg import sub` may import `pkg.sub`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    source = absolute_module(file.module, file.is_package, node.level, node.module)
    return [source, *(f"{source}.{alias.name}" for alias in node.names if alias.name != "*")]


def _modules_of(families: list[Family]) -> set[str]:
    """The modules runtime mode imports to check these families' paths."""
    return {p.path.partition(":")[0] for family in families for p in (*family.paths, *family.interfaces)}


def _says_deprecated(docstring: str) -> re.Match[str] | None:
    """Where a docstring says its object is deprecated: in its summary (the first paragraph), or
    on a line of its own (`DEPRECATED: ...`, `.. deprecated::`); a parameter described as
    deprecated further down does not count."""
    summary = re.split(r"\n[ \t]*\n", docstring.strip(), maxsplit=1)[0]
    return _DEPRECATED_TEXT.search(summary) or _DEPRECATED_LINE.search(docstring)


def _required_fields(definition: Definition) -> tuple[tuple[str, object], ...] | None:
    """A value for each annotated field without a default of a dataclass-like class (None when
    a field's type is not a simple one)."""
    node = definition.node
    if not isinstance(node, ast.ClassDef):
        return None
    values: list[tuple[str, object]] = []
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value is None:
            annotation = ast.unparse(statement.annotation)
            if annotation not in _PROBE_VALUES:
                return None
            values.append((statement.target.id, _PROBE_VALUES[annotation]))
    return tuple(values) or None


def _only_imported(file: SourceFile, name: str) -> bool:
    """Whether every mention of `name` in the file's text is inside an import statement (a re-export)."""
    word = re.compile(rb"(?<![\w.])" + re.escape(name.encode()) + rb"\b")
    spans = [(s.start, s.end) for s in file.skim.imports]
    return all(any(start <= m.start() < end for start, end in spans) for m in word.finditer(file.data))


def _public(path: str) -> bool:
    module, _, name = path.partition(":")
    return not any(part.startswith("_") and not part.startswith("__") for part in [*module.split("."), name])


def _rank(path: str, importers: int, kind: str) -> tuple[int, int, int, str]:
    """Most public first: fewest module levels, most importers, sync factories before async ones."""
    return (path.partition(":")[0].count("."), -importers, kind == "async factory", path)


def _preferred(paths: list[ProposedPath], factory_only: bool) -> str | None:
    """A factory when the class may only be created by one, else the class's most public path."""
    live = [p for p in paths if not p.deprecated]
    factories = [p for p in live if "factory" in p.kind]
    classes = [p for p in live if p.kind == "class"]
    pool = (factories if factory_only else classes) or factories or classes
    return min(pool, key=lambda p: _rank(p.path, p.importers, p.kind)).path if pool else None


def _named_after(interface: ProposedPath, family: Family) -> bool:
    """Whether the interface's name without its affixes (`Protocol`, `Abstract`, ...) is in the family's name."""
    stem = _INTERFACE_AFFIXES.sub("", interface.path.rpartition(":")[2])
    return bool(stem) and (stem in family.name or stem in family.implementation.qualname)


def _unique_names(families: list[Family]) -> list[Family]:
    """Families sorted by name; two families of the same name are told apart by their class's module."""
    names = [f.name for f in families]
    renamed = [
        dataclasses.replace(f, name=f"{f.name} ({f.implementation.module})") if names.count(f.name) > 1 else f
        for f in families
    ]
    return sorted(renamed, key=lambda f: (f.name, f.canonical))
