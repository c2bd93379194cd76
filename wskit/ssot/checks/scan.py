"""`scan_tree`: every class playing a role (by name) in a source tree, classified, without importing.

Cheap first, and every file read once: the text of each file is searched for `class` lines whose
name matches the role and for module-level aliases whose name does; only the top-level
statements holding those classes and aliases are parsed (`wskit.ssot.read.skim`). Aliases of the
classes found are followed to a fixed point (`wskit.ssot.resolve.aliases`), and importers are counted
from the import statements alone. Everything resolves through the same static resolver as
`check_import_paths`, so aliases and imports are followed exactly as there.
"""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wskit.ssot.model import Finding, compile_role
from wskit.ssot.read.bindings import HEADER_ONLY_CLASS_BYTES, absolute_module, dotted_name
from wskit.ssot.read.gcpause import gc_paused
from wskit.ssot.read.textsearch import any_between, required_literals
from wskit.ssot.render.scan_report import CLASSIFICATIONS, ClassRecord, ScanReport
from wskit.ssot.resolve.aliases import find_aliases
from wskit.ssot.resolve.static import Definition
from wskit.ssot.resolve.tree import SourceFile, SourceTree

__all__ = ["CLASSIFICATIONS", "ClassRecord", "ScanReport", "scan_source_tree", "scan_tree"]

_TEST_PREFIXES = ("Mock", "Fake", "Stub", "Dummy", "Test")
# Deliberately loose (not anchored at line starts, which is 5x slower): a false hit only costs a parse.
_CLASS_WORD = re.compile(rb"class[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
# `Name = dotted.name` at module level, and `... as Name` (imports); checked by parsing afterwards.
# NAME is replaced by a pattern of the names worth finding.
_ALIAS_LINE = rb"\n(NAME)[ \t]*=[ \t]*[A-Za-z_][A-Za-z0-9_.]*[ \t]*(?:#[^\n]*)?\r?(?=\n|\Z)"
_AS_NAME = rb" as[ \t]+(NAME)"
_IDENTIFIER_TEXT = rb"[A-Za-z_][A-Za-z0-9_]*"
_IDENTIFIER = re.compile(_IDENTIFIER_TEXT)


@dataclass
class _Found:
    definition: Definition
    file: SourceFile | None  # None for a class outside the tree that a role alias reaches
    classification: str
    aliases: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    paths: Counter[str] = field(default_factory=Counter)
    role_aliases: list[str] = field(default_factory=list)
    fallback: str | None = None  # why the class exists only where a `try` block raises


_Key = tuple[str, str, int | None]


def _key(definition: Definition) -> _Key:
    return (definition.module, definition.qualname, definition.line)


def scan_tree(root: str | os.PathLike[str], role: str, *, include_tests: bool = False) -> ScanReport:
    """Find and classify every class whose name matches the `role` regex under `root`, without importing.

    Test directories (`tests/`, `test/`, `testing/`) and test files are skipped unless
    `include_tests`; then their classes are classified as test doubles. Module-level aliases
    whose name matches the role (`FooManagerProtocol = FooProtocol`) bring in the class they
    reach, classified as what it really is. Files that do not parse are reported in `skipped`.
    """
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a directory path; got {type(root).__name__}")
    root_path = Path(root).resolve()
    if not root_path.exists():
        raise ValueError(f"root {str(root)!r} does not exist; pass a source directory")
    pattern = compile_role(role)
    with gc_paused():
        # Everything parsed is freed when scan_source_tree returns, before the collector is back on.
        return scan_source_tree(SourceTree(root_path, include_tests), str(root), pattern)


def scan_source_tree(tree: SourceTree, root: str, pattern: re.Pattern[str]) -> ScanReport:
    """`scan_tree` over a tree already read (its resolver and parsed modules are then shared with
    whatever reads the tree next); `root` is how the report names it. Call it with the garbage
    collector paused (`gc_paused`) on big trees."""
    found: dict[_Key, _Found] = {}
    findings: list[Finding] = []
    for file in tree.files:
        with tree.reading(file):
            _find_classes(tree, file, pattern, found)
    _find_role_aliases(tree, pattern, found, findings)
    _link_usage(tree, found)
    return _report(tree, root, pattern.pattern, found, findings)


def _find_classes(tree: SourceTree, file: SourceFile, pattern: re.Pattern[str], found: dict[_Key, _Found]) -> None:
    hits = [m.start() for m in _CLASS_WORD.finditer(file.data) if pattern.search(m.group(1).decode())]
    if not hits:
        return
    info = tree.module_info(file)
    if info is None:
        return
    # A very long class is read member by member: its header and the members holding a hit (nested
    # classes), unless it may have abstract methods, whose neighbours then decide its traits. Only
    # classes that resolution reads header-only too: it parses shorter ones whole (to tell whether
    # a binding is live), and a sparse reading of them would be parsed twice.
    sparse = None if b"abstractmethod" in file.data else lambda start, end: any_between(hits, start, end)
    try:
        statements = info.statements_holding(hits, members=sparse, sparse_from=HEADER_ONLY_CLASS_BYTES)
        for qualname, node, fallback in _classes(statements):
            if pattern.search(node.name) and (file.module, qualname, node.lineno) not in found:
                definition = Definition("class", file.module, qualname, file.relative, node.lineno, node)
                _add(tree, file, definition, found).fallback = fallback
    except (SyntaxError, ValueError) as exc:
        tree.fail(file, exc)


def _add(tree: SourceTree, file: SourceFile | None, definition: Definition, found: dict[_Key, _Found]) -> _Found:
    traits = tree.resolver.class_traits(definition)
    is_test = file is not None and file.is_test
    record = _Found(definition, file, _classify(definition.qualname.rpartition(".")[2], is_test, traits))
    found[_key(definition)] = record
    return record


def _classes(body: list[ast.stmt]) -> Iterator[tuple[str, ast.ClassDef, str | None]]:
    """(qualified name, node, fallback) of every class defined in `body`, at any depth of classes
    and blocks; `fallback` says so when an `except` handler defines it (None otherwise)."""
    stack: list[tuple[str, list[ast.stmt], str | None]] = [("", body, None)]
    while stack:
        prefix, statements, fallback = stack.pop()
        for node in statements:
            if isinstance(node, ast.ClassDef):
                yield prefix + node.name, node, fallback
                stack.append((f"{prefix}{node.name}.", node.body, fallback))
            elif isinstance(node, ast.If | ast.Try | ast.TryStar | ast.With):
                blocks = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
                stack.append((prefix, blocks, fallback))
                if isinstance(node, ast.Try | ast.TryStar):
                    stack += [(prefix, handler.body, _fallback(node, handler)) for handler in node.handlers]


def _fallback(block: ast.Try | ast.TryStar, handler: ast.ExceptHandler) -> str:
    caught = ast.unparse(handler.type) if handler.type is not None else "BaseException"
    keyword = "except*" if isinstance(block, ast.TryStar) else "except"
    return (
        f"defined in the `{keyword} {caught}` handler at line {handler.lineno}: it exists only where the `try`"
        f" block at line {block.lineno} raises"
    )


def _classify(name: str, is_test: bool, traits: set[str]) -> str:
    if is_test or name.startswith(_TEST_PREFIXES):
        return "test double"
    for trait in ("protocol", "enum", "exception"):
        if trait in traits:
            return trait
    if "abstract" in traits:
        return "abstract"
    if name.endswith("Factory"):
        return "factory"
    return "implementation"


def _find_role_aliases(
    tree: SourceTree, pattern: re.Pattern[str], found: dict[_Key, _Found], findings: list[Finding]
) -> None:
    """Module-level names matching the role that are aliases of a class whose own name does not."""
    literals = [s.encode() for s in required_literals(pattern.pattern) or []]
    name = (
        rb"[A-Za-z0-9_]*(?:" + b"|".join(re.escape(lit) for lit in literals) + rb")[A-Za-z0-9_]*"
        if literals
        else _IDENTIFIER_TEXT
    )
    alias_line = re.compile(_ALIAS_LINE.replace(b"NAME", name))
    as_name = re.compile(_AS_NAME.replace(b"NAME", name))
    for file in tree.files:
        if literals and not any(literal in file.data for literal in literals):
            continue
        names = {m.group(1).decode() for m in alias_line.finditer(file.data)}
        if b" as " in file.data:
            names.update(m.group(1).decode() for m in as_name.finditer(file.data))
        names = {n for n in names if pattern.search(n)}
        if names:
            with tree.reading(file):
                _role_aliases_of(tree, file, names, pattern, found=found, findings=findings)


def _role_aliases_of(
    tree: SourceTree,
    file: SourceFile,
    names: set[str],
    pattern: re.Pattern[str],
    *,
    found: dict[_Key, _Found],
    findings: list[Finding],
) -> None:
    info = tree.module_info(file)
    if info is None:
        return
    for bound in sorted(names):
        bindings = info.runtime_bindings(bound)
        if not bindings or bindings[-1].kind not in ("alias", "import"):
            continue
        path = f"{file.module}:{bound}"
        resolution = tree.resolver.resolve(file.module, bound)
        definition = resolution.definition
        where = f"{file.relative}:{bindings[-1].line}"
        if definition is None:
            findings.append(Finding("role alias", where, f"{path} is unresolved: {resolution.reason}"))
        elif definition.kind != "class":
            message = f"{path} matches the role but is an alias of the {definition.kind} {definition.identity}"
            findings.append(Finding("role alias", where, message))
        elif not pattern.search(definition.qualname.rpartition(".")[2]):
            record = found.get(_key(definition))
            if record is None:
                owner = next((f for f in tree.files if f.module == definition.module), None)
                record = _add(tree, owner, definition, found)
            record.role_aliases.append(path)


def _link_usage(tree: SourceTree, found: dict[_Key, _Found]) -> None:
    """Record the aliases of each found class and the modules importing it by each path."""
    names = {record.definition.qualname.rpartition(".")[2] for record in found.values()}
    if not names:
        return

    def target_of(definition: Definition | None) -> _Key | None:
        key = _key(definition) if definition is not None else None
        return key if key in found else None

    aliases = find_aliases(tree, names, target_of)
    for path, (key, chain) in aliases.paths.items():
        found[key].aliases.append((path, chain))
    # `module.Name` can only reach a class when `module:Name` is one of its paths.
    exported: dict[str, set[str]] = {}
    for path in [*aliases.paths, *(f"{k[0]}:{k[1]}" for k in found if "." not in k[1])]:
        module, _, name = path.partition(":")
        exported.setdefault(module, set()).add(name)
    leaves = {module.rpartition(".")[2] for module in exported}
    encoded_leaves = {leaf.encode() for leaf in leaves}
    resolved: dict[str, _Key | None] = {}
    held = {name for names in exported.values() for name in names}  # `module.Name` holds Name
    files = {**{f: set() for f in tree.importing(leaves, holding=held)}, **aliases.importing}
    for file in tree.files:
        if file not in files:
            continue
        with tree.reading(file):
            for path in sorted(_imported_paths(file, files[file], exported, encoded_leaves)):
                if path not in resolved:
                    module, _, name = path.partition(":")
                    resolved[path] = target_of(tree.resolver.resolve(module, name).definition)
                target = resolved[path]
                if target is not None and target[0] != file.module:
                    found[target].paths[path] += 1


def _imported_paths(file: SourceFile, names: set[str], exported: dict[str, set[str]], leaves: set[bytes]) -> set[str]:
    """`module:Name` for every name in `names` this file imports (anywhere in it), once per path,
    and for every `module.Name` it uses where `module` is imported whole and exports `Name`.

    Read from the import statements alone (`module.Name` uses from the text), unless the file's
    text is ambiguous; then it is parsed whole.
    """
    skim = file.skim
    if not skim.exact:
        body = file.info.whole_body if file.info is not None else None
        try:
            return _imported_paths_parsed(file, body or ast.parse(file.data).body, names, exported)
        except (SyntaxError, ValueError):
            return set()
    paths: set[str] = set()
    module_aliases: dict[str, str] = {}
    encoded = {name.encode() for name in names}
    for statement in skim.imports:
        words = set(_IDENTIFIER.findall(file.data, statement.start, statement.end))
        if not words & (encoded if b"from" in words else leaves):
            continue
        for node in skim.import_nodes(statement):
            _note_import(file, node, names, paths, module_aliases)
    for alias, module in module_aliases.items():
        for name in sorted(exported.get(module, ())):
            word = f"{alias}.{name}".encode()
            position = file.data.find(word)
            while position >= 0:
                end = position + len(word)
                before, after = file.data[position - 1 : position], file.data[end : end + 1]
                if not _is_word(before) and before != b"." and not _is_word(after) and skim.is_code(position):
                    paths.add(f"{module}:{name}")
                    break
                position = file.data.find(word, end)
    return paths


def _is_word(char: bytes) -> bool:
    return char.isalnum() or char == b"_"


def _note_import(
    file: SourceFile, node: ast.AST, names: set[str], paths: set[str], module_aliases: dict[str, str]
) -> None:
    if isinstance(node, ast.ImportFrom):
        source = absolute_module(file.module, file.is_package, node.level, node.module)
        paths.update(f"{source}:{a.name}" for a in node.names if a.name in names)
    elif isinstance(node, ast.Import):
        for alias in node.names:
            module_aliases[alias.asname or alias.name] = alias.name


def _imported_paths_parsed(
    file: SourceFile, body: list[ast.stmt], names: set[str], exported: dict[str, set[str]]
) -> set[str]:
    paths: set[str] = set()
    module_aliases: dict[str, str] = {}
    for node in _statements(body):
        _note_import(file, node, names, paths, module_aliases)
    # `module.Name` attribute access: only worth a full walk when the text has ".Name".
    wanted = {name for module in module_aliases.values() for name in exported.get(module, ())}
    if any(b"." + name.encode() in file.data for name in wanted):
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Attribute):
                dotted = dotted_name(node.value)
                module = module_aliases.get(dotted or "")
                if module is not None and node.attr in exported.get(module, ()):
                    paths.add(f"{module}:{node.attr}")
    return paths


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement (and except handler), nested ones included, without descending into expressions."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if children:
                stack.extend(reversed(children))


def _report(tree: SourceTree, root: str, role: str, found: dict[_Key, _Found], findings: list[Finding]) -> ScanReport:
    ordered = sorted(found.values(), key=lambda r: (r.definition.module, r.definition.line or 0))
    dead: set[str] = set()
    classes = []
    for record in ordered:
        definition = record.definition
        where = f"{definition.relative}:{definition.line}"
        winner = _live_binding_line(record.file, definition)
        shadowed = None
        if winner is not None and winner != definition.line:
            shadowed = f"rebound at line {winner} of {definition.relative}, which wins"
            dead.add(f"{definition.module}.{definition.qualname} is bound")
            findings.append(Finding("shadowed", where, f"class {definition.qualname} is dead: {shadowed}"))
        if record.fallback is not None:
            findings.append(Finding("fallback", where, f"class {definition.qualname} is a fallback: {record.fallback}"))
        aliases = sorted(set(record.aliases))
        classes.append(
            ClassRecord(
                name=definition.qualname.rpartition(".")[2],
                module=definition.module,
                qualname=definition.qualname,
                defined_at=where,
                classification=record.classification,
                aliases=tuple(a for a, _ in aliases),
                alias_chains=tuple(tuple(c) for _, c in aliases),
                import_paths=tuple(sorted(record.paths.items())),
                shadowed=shadowed,
                role_aliases=tuple(sorted(record.role_aliases)),
            )
        )
    # Shadowing the resolver saw on the way, unless it is the dead class already reported above.
    files = {r.definition.relative for r in ordered}
    findings += [
        f
        for f in tree.resolver.findings
        if f.where.rpartition(":")[0] in files and not any(f.message.startswith(d) for d in dead)
    ]
    return ScanReport(
        root=root,
        role=role,
        classes=tuple(classes),
        skipped=tuple(sorted(tree.skipped.items())),
        findings=tuple(sorted(set(findings))),
        files_scanned=len(tree.files),
        files_parsed=tree.files_read,
    )


def _live_binding_line(file: SourceFile | None, definition: Definition) -> int | None:
    """Line of the binding of a top-level class's name that wins at import (None for nested classes)."""
    if "." in definition.qualname or file is None or file.info is None:
        return None
    try:
        bindings = file.info.runtime_bindings(definition.qualname)
    except (SyntaxError, ValueError):
        return None
    unconditional = [b for b in bindings if not b.conditional]
    return unconditional[-1].line if unconditional else None
