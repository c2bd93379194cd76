"""The cheap index (`wskit.ssot.read.skim`): reading a module statement by statement must give exactly
what parsing it whole gives, on tricky text and on real installed code."""

from __future__ import annotations

import ast
import concurrent.futures
import gc
import importlib.util
import io
import itertools
import os
import re
import sysconfig
import threading
import tokenize
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from wskit.ssot.read import textsearch
from wskit.ssot.read.bindings import ModuleInfo, parse_module, skim_module
from wskit.ssot.read.forked import workers
from wskit.ssot.read.skim import Skim, Unsplittable
from wskit.ssot.read.textsearch import any_between, attribute_base, cover, occurrences_by_name, required_literals
from wskit.ssot.resolve.tree import SourceTree

PROJECT = Path(__file__).parent.parent

TRICKY = '''"""Module docstring that shows code:

from elsewhere import Shown
Shown = 1
"""
import os, sys as system
from typing import (
    Protocol,
)  # closing bracket at column 0 above

# a comment ending in a backslash \\
Alias = os.path

@decorator
class Decorated(Protocol):
    text = """
Inner = 2
"""

def function():
    from inner import NotModuleLevel
    return f"""
value = {NotModuleLevel}
"""

try:
    from fast import Parser
except ImportError:
    from slow import Parser
else:
    Extra = Parser
finally:
    pass

if TYPE_CHECKING:
    from typing_only import Hint

CALL = dict(
    key=1,
)
x = '"""'  # a triple quote in a one-line string
y = 1  # and one in a comment: """
Z = x
'''


def as_rows(info: ModuleInfo, name: str) -> list[tuple[object, ...]]:
    return [(b.name, b.line, b.kind, b.conditional, b.type_only, b.module, b.attr) for b in info.bound(name)]


def assert_same(file: Path, data: bytes | None = None) -> None:
    data = file.read_bytes() if data is None else data
    eager = parse_module("m", file, False, ast.parse(data))
    lazy = skim_module("m", file, False, skim=Skim(data))
    for name in sorted(set(eager._bindings) | {"Shown", "Inner", "NotModuleLevel", "value"}):
        assert as_rows(lazy, name) == as_rows(eager, name), (file, name)
    for attribute in ("star_imports", "dynamic", "all_names", "deprecated_at"):
        assert getattr(lazy, attribute) == getattr(eager, attribute), (file, attribute)


def test_tricky_text_reads_like_a_full_parse(tmp_path: Path) -> None:
    file = tmp_path / "tricky.py"
    file.write_text(TRICKY)
    skim = Skim(TRICKY.encode())
    assert skim.exact
    heads = [(c.line, c.head, c.defines) for c in skim.chunks]
    assert heads[:5] == [
        (1, "", None),  # the module docstring is a statement too
        (6, "import", None),
        (7, "from", None),
        (12, "Alias", None),
        (14, "@", "Decorated"),
    ]
    assert (26, "try", None) in heads and not any(head in ("else", "except", "finally") for _, head, _ in heads)
    assert_same(file)
    lazy = skim_module("m", file, False, skim=Skim(TRICKY.encode()))
    assert lazy.bound("Shown") == [] and lazy.bound("Inner") == [] and lazy.bound("NotModuleLevel") == []
    assert [(b.line, b.conditional) for b in lazy.bound("Parser")] == [(27, True), (29, True)]
    assert [b.type_only for b in lazy.bound("Hint")] == [True]


@pytest.mark.parametrize(
    "text",
    [
        'x = """a"""  # fine\ns = \'"""\' + """b"""\n',  # a triple quote in a one-line string, then another
        "# -*- coding: latin-1 -*-\nx = 1\n",  # not UTF-8: chunks would lose the coding cookie
        'x = """unterminated\n',
    ],
)
def test_ambiguous_text_is_parsed_whole(text: str) -> None:
    assert not Skim(text.encode()).exact


def test_string_spans_of_both_triple_quotes_are_the_tokenizer_s() -> None:
    double, single = '"' * 3, "'" * 3
    text = (
        f"x = {double}a {single} inside{double}\n"  # the other quote inside a string
        f"y = {single}b {double} inside{single}\n"
        f"# a comment with {single} and {double}\n"  # passed over: the next of each kind is searched again
        f"z = {double}c{double}\nw = {single}d{single}\n"
        f"v = {single}\n{double}\n{single}\nu = {double}{double}\n"
    )
    lines = [0]
    for line in text.splitlines(keepends=True):
        lines.append(lines[-1] + len(line))
    expected = [
        (lines[token.start[0] - 1] + token.start[1], lines[token.end[0] - 1] + token.end[1])
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.STRING and token.string[:3] in (double, single)
    ]
    assert len(expected) == 6
    assert Skim(text.encode()).spans == expected


def test_a_statement_split_wrongly_falls_back_to_a_whole_parse(tmp_path: Path) -> None:
    text = "VALUES = (\nFirst,\n3)\nName = VALUES\n"  # column-0 lines inside brackets
    file = tmp_path / "table.py"
    file.write_text(text)
    info = skim_module("m", file, False)
    assert [b.line for b in info.bound("Name")] == [4]  # after the brackets close: read alone
    assert info.whole_body is None
    assert info.bound("First") == []  # `First,` inside them is no statement: the file is parsed whole
    assert info.whole_body is not None
    assert_same(file)


def test_a_syntax_error_in_a_statement_that_is_read_is_reported(tmp_path: Path) -> None:
    file = tmp_path / "broken.py"
    file.write_text("import os\n\ndef broken(:\n    pass\n")
    info = skim_module("m", file, False)
    assert [b.kind for b in info.bound("os")] == ["module"]  # the broken statement was not needed
    with pytest.raises(SyntaxError):
        info.bound("broken")


def test_import_statements_are_found_at_any_depth_but_not_in_strings() -> None:
    skim = Skim(TRICKY.encode())
    found = [node for statement in skim.imports for node in skim.import_nodes(statement)]
    modules = [getattr(node, "module", None) or node.names[0].name for node in found]
    assert modules == ["os", "typing", "inner", "fast", "slow", "typing_only"]
    assert found[2].lineno == 21


def _installed_sources(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    return sorted(Path(spec.origin).parent.rglob("*.py"))


@pytest.mark.parametrize("package", ["wskit", "websockets", "jwt"])
def test_real_packages_read_lazily_exactly_as_parsed_whole(package: str) -> None:
    files = _installed_sources(package)
    assert len(files) > 5
    for file in files:
        assert_same(file)


@pytest.mark.parametrize("package", ["websockets", "pydantic"])
def test_importing_answers_alike_from_the_files_holding_the_names_and_from_the_full_index(package: str) -> None:
    """`SourceTree.importing` reads only the files whose text holds a name when few do; the index
    of every file's import words must give the same files and names, for single names and groups."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    indexed = SourceTree(root)
    indexed.importing(["import"])  # a word of nearly every file: the index is built
    assert indexed._index is not None
    words = sorted({word.decode() for file in indexed.files for word in file.words})
    questions = [[w] for w in words[:: max(1, len(words) // 400)]] + [
        words[i :: len(words) // 3][:4] for i in range(0, len(words), max(1, len(words) // 60))
    ]
    lazy, read_selectively = SourceTree(root), 0
    for names in questions:
        by_path = {f.relative: seen for f, seen in lazy.importing(names).items()}
        read_selectively += lazy._index is None
        lazy._index = None  # the next question again chooses its way
        assert by_path == {f.relative: seen for f, seen in indexed.importing(names).items()}, names
        assert by_path or not any(n.encode() in f.words for f in indexed.files for n in names)
    assert read_selectively > len(questions) // 2
    held = words[1 :: len(words) // 5][:3]
    for names in questions:
        holding = {f.relative: seen for f, seen in lazy.importing(names, holding=held).items()}
        expected = {f.relative: seen for f, seen in indexed.importing(names).items()}
        assert holding.items() <= expected.items(), names
        holds = [p for p in expected if any(h.encode() in (root.parent / p).read_bytes() for h in held)]
        assert set(holds) <= holding.keys(), names  # left out only where the text holds none of them
    assert lazy._index is None


def test_the_index_read_by_forked_workers_is_the_index_read_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 1,000 files (pandas), forked workers read every file's words for the index: the
    same words per file and the same files per word as when one process reads them all."""
    root = Path(str(importlib.util.find_spec("pandas").origin)).parent  # type: ignore[union-attr]
    indexes = {}
    for count in ("2", "1"):
        monkeypatch.setenv("WSKIT_SSOT_WORKERS", count)
        tree = SourceTree(root)
        assert workers(len(tree.files)) == (min(int(count), os.cpu_count() or 1))
        tree.importing(["import"])  # a word of nearly every file: the index is built
        assert tree._index is not None
        indexes[count] = (
            {word: [f.relative for f in files] for word, files in tree._index.items()},
            {f.relative: f.words for f in tree.files},
        )
    assert indexes["2"] == indexes["1"]
    assert len(indexes["1"][1]) > 1000 and len(indexes["1"][0]) > 1000
    # Files whose words a selective reading has read already are not read again by the workers.
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "2")
    tree = SourceTree(root)
    first = tree.importing(["Categorical"], holding=["Categorical"])
    read = {f.relative: f._words for f in tree.files if f._words is not None}
    assert first and 100 < len(read) < len(tree.files) // 2
    tree.importing(["import"])
    assert all(f._words is read[f.relative] for f in tree.files if f.relative in read)  # not read again
    assert all(tree._index[word] == [f for f in tree.files if word in f.words] for word in (b"Categorical", b"numpy"))
    assert {word: [f.relative for f in files] for word, files in tree._index.items()} == indexes["1"][0]


def test_the_index_is_built_when_each_worker_reads_less_than_the_files_holding_the_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A question whose names about a third of the files hold: one process reads those files only;
    two forked workers build the index (half of the files each, and every later question is free)."""
    root = Path(str(importlib.util.find_spec("pandas").origin)).parent  # type: ignore[union-attr]
    built = {}
    for count in ("1", "2"):
        monkeypatch.setenv("WSKIT_SSOT_WORKERS", count)
        tree = SourceTree(root)
        holding = sum(1 for f in tree.files[::8] if b"Times" in f.data) / len(tree.files[::8])
        assert 0.25 < holding < 0.5
        tree.importing(["Timestamp"])
        built[count] = tree._index is not None
    assert built == {"1": False, "2": True}


def test_a_file_longer_than_its_size_says_is_read_to_its_end(tmp_path: Path) -> None:
    """A named pipe has size 0 to `fstat`, as a file that grows after it: its bytes are read to the end."""
    pipe = tmp_path / "piped.py"
    os.mkfifo(pipe)
    text = b"Manager = 1\n" * 50_000  # more than a pipe holds at once
    writer = threading.Thread(target=pipe.write_bytes, args=(text,))
    writer.start()
    tree = SourceTree(tmp_path)
    writer.join()
    assert [(f.relative, f.data, f.path) for f in tree.files] == [("piped.py", text, pipe)]


def test_a_file_searches_each_name_once_and_finds_what_a_fresh_search_finds(tmp_path: Path) -> None:
    """`SourceFile.occurrences` remembers what each name's search found: a later call searches only
    the names not searched yet, with the pieces that cover them, and answers as a fresh search would."""
    text = b"from m import WebSocketManager, Client\nManager = WebSocketManager\nx = ClientX(Manager)\n"
    (tmp_path / "m.py").write_bytes(text)
    (file,) = SourceTree(tmp_path).files
    fresh = {"WebSocketManager": {14, 49}, "Manager": {39, 78}, "Client": {32}}
    assert file.occurrences({"WebSocketManager", "Nowhere"}, cover({"WebSocketManager", "Nowhere"})) == {
        "WebSocketManager": fresh["WebSocketManager"]
    }
    for names in ({"WebSocketManager", "Manager"}, {"Client", "Nowhere", "Manager"}, set(fresh)):
        assert file.occurrences(names, cover(names)) == {n: fresh[n] for n in names if n in fresh}, names
    file.data = text.replace(b"Client", b"Server")  # names searched already are not searched again
    assert file.occurrences({"Client", "Server"}, cover({"Client", "Server"})) == {"Client": {32}, "Server": {32}}


def test_cover_pieces_are_each_the_longest_text_their_names_share() -> None:
    """Every name holds one of a few pieces, and each piece is the longest text common to the names
    it was chosen for: as many searches as with 5-character pieces, each one faster."""
    textsearch._cover.cache_clear()  # computed here, not remembered from another test
    leaves = {"migration_adapter", "reconnection_handler", "unified_init", "unified_manager", "utils"}
    leaves |= {"websocket_core", "websocket_manager", "websocket_manager_factory"}  # zen's module names
    assert cover(leaves) == [b"_manager", b"tion_", b"websocket_core", b"unified_init", b"utils"]
    classes = {"ErrorRecoveryHandler", "ReconnectionHandler", "get_reconnection_handler", "WebSocketManager"}
    assert cover(classes | {"get_manager", "BroadcastCore"}) == [b"andler", b"anager", b"BroadcastCore"]
    assert cover({"ab", "abc"}) == [b"ab"] and cover({"x"}) == [b"x"]
    names = set()
    for file in _installed_sources("websockets"):
        names |= {node.name for node in ast.walk(ast.parse(file.read_bytes())) if isinstance(node, ast.FunctionDef)}
    pieces = [piece.decode() for piece in cover(names)]
    assert len(names) > 200 and all(any(piece in name for piece in pieces) for name in names)
    assert all(len(piece) >= 5 or piece in names for piece in pieces) and len(pieces) < len(names) / 2


def test_names_are_found_as_whole_identifiers_only() -> None:
    names = {"WebSocketManager", "Manager"}
    data = b"from x import WebSocketManagerFactory, Manager\n# WebSocketManager in a comment\nManagers = 1\n"
    assert occurrences_by_name(data, names, cover(names)).keys() == {"Manager", "WebSocketManager"}
    assert occurrences_by_name(b"ManagerX = WebSocketManagers", names, cover(names)).keys() == set()
    pair = {"get_manager_sync", "get_manager_async"}  # the piece is their common start: the rest is read on
    assert cover(pair) == [b"get_manager_"]
    assert occurrences_by_name(b"m = get_manager_async()\nget_manager_syncs()", pair, cover(pair)).keys() == {
        "get_manager_async"
    }
    # At the very start and the very end of the text, next to other words.
    assert occurrences_by_name(b"Manager = x", {"Manager"}, [b"Manag"]).keys() == {"Manager"}
    assert occurrences_by_name(b"x = Manager", {"Manager"}, [b"nager"]).keys() == {"Manager"}
    assert occurrences_by_name(b"Manager = x", {"Manager"}, [b"nager"]).keys() == {"Manager"}  # back to the first byte
    assert occurrences_by_name(b"Managerial = x", {"Manager"}, [b"Manag"]).keys() == set()


def test_an_offset_counts_between_start_and_end_but_not_at_end() -> None:
    offsets = [3, 8]
    assert any_between(offsets, 0, 4) and any_between(offsets, 3, 4) and any_between(offsets, 4, 9)
    assert not any_between(offsets, 0, 3) and not any_between(offsets, 4, 8) and not any_between(offsets, 9, 20)


@pytest.mark.parametrize(
    ("text", "base"),
    [
        (b"manager", None),
        (b"x = manager", None),
        (b"self.manager", b"self"),
        (b"cls.manager", b"cls"),
        (b"self.factory.manager", b"self"),
        (b"pkg.sub.manager", b"pkg"),
        (b"return pkg .  manager", b""),  # spaces around the dot: an attribute of something unread
        (b"make().manager", b""),
        (b"items[0].manager", b""),
        (b"from .manager", b""),  # a relative import
        (b"from ..sub.manager", b""),
        (b"\tx.\tmanager", b"x"),
        (b"obj.X manager", None),  # only spaces and tabs may stand between the dot and the name
        (b"manager.", None),  # the word starts the text: nothing before it is read
        (b"  manager. ", None),
    ],
)
def test_the_base_of_an_attribute_is_its_dotted_name_s_first_name(text: bytes, base: bytes | None) -> None:
    assert attribute_base(text, text.rindex(b"manager")) == base


def test_a_word_in_an_import_statement_is_told_from_one_elsewhere() -> None:
    data = (
        b"from pkg import manager\n"
        b"import pkg.manager as alias, other\n"
        b"from pkg import (\n"
        b"    context,\n"
        b"    manager,  # the module\n"
        b")\n"
        b"from pkg import a, \\\n"
        b"    manager\n"
        b"manager = None\n"
        b"def f():\n"
        b"    try: from pkg import manager\n"
        b"    except ImportError: manager = None\n"
        b'    """The manager, imported below."""\n'
        b"    return manager\n"
    )
    found = _per_occurrence(data, b"manager", Skim(data).in_import)
    assert found == [
        (1, True), (2, True), (5, True), (8, True), (9, False), (11, True), (12, False), (13, False), (14, False)
    ]  # fmt: skip


def _per_occurrence(data: bytes, word: bytes, check: Callable[[int], bool]) -> list[tuple[int, bool]]:
    """(line, check(offset)) for each occurrence of `word` in `data`."""
    found = []
    position = data.find(word)
    while position >= 0:
        found.append((data.count(b"\n", 0, position) + 1, check(position)))
        position = data.find(word, position + 1)
    return found


def test_a_word_in_the_module_a_from_import_names_is_told_apart_from_the_names_it_binds() -> None:
    data = (
        b"from pkg.sub import pkg\n"
        b"import pkg.sub\n"
        b"def f():\n"
        b"    from .pkg import x as pkg\n"
        b"    return pkg.sub\n"
        b"from pkg import (\n"
        b"    pkg,\n"
        b")\n"
    )
    found = _per_occurrence(data, b"pkg", Skim(data).in_from_module)
    assert found == [(1, True), (1, False), (2, False), (4, True), (4, False), (5, False), (6, True), (7, False)]


@pytest.mark.parametrize(
    ("regex", "literals"),
    [
        ("WebSocketManager", ["WebSocketManager"]),
        (r"WebSocket\w*Manager|Manager\w*WebSocket", ["WebSocket"]),
        ("Error$", ["Error"]),
        ("^(Foo|Bar)Manager$", ["Manager"]),
        ("Managers?", ["Manager"]),
        (r"Data[Ff]rame", ["Data"]),
        ("(?i)manager", None),  # case-insensitive: any spelling
        (".*", None),
        ("Ab|Manager", None),  # one alternative without a usable literal
        ("Abc|Manager", ["Abc", "Manager"]),  # three characters are enough
        ("(?:Foo|Bar)Manager", ["Manager"]),  # groups that change no flag
        ("(?P<kind>Web)SocketManager", ["SocketManager"]),
        ("Manager(?=Impl)", ["Manager"]),
        ("Manager(?!Factory)", ["Manager"]),
        ("(WebSocketManager|Other)Impl", ["Impl"]),  # what is in a group is never required
        ("((Foo|Bar))Manager|Client", ["Client", "Manager"]),  # only a top-level | splits
        ("(Foo|Bar)Manager|Client", ["Client", "Manager"]),
        (r"Web\|SocketManager", ["SocketManager"]),  # an escaped | does not split
        ("[|]Manager", ["Manager"]),  # nor one in a class
        ("[Ww]ebSocketManager", ["ebSocketManager"]),
        ("[^]]Manager", ["Manager"]),
        ("[]a]Manager", ["Manager"]),
        (r"[\]x]Manager", ["Manager"]),
        (r"(a\)LongerName)X", None),  # an escaped ) does not close the group
        (r"Web\.Socket", ["Socket"]),
        ("Managers?Impl", ["Manager"]),  # an optional character ends a literal
        ("Managers{0,1}", ["Manager"]),
        ("ab*cdManager", ["cdManager"]),
        (r"\dManager", ["Manager"]),  # an escape is never part of a literal
        ("XyzManager", ["XyzManager"]),
        # What a class or a group holds is skipped, however it ends: a long name inside is never taken.
        ("Ab[^]LongName]X", None),
        ("Ab[]LongName]X", None),
        (r"Ab[\]LongName]X", None),
        (r"Ab[\]]LongName]X", ["LongName"]),  # the class is [\]]
        (r"(\)()LongName)X", None),
        ("Manager[abc", ["Manager"]),  # unterminated: skipped to the end
        ("Manager(abc", ["Manager"]),
    ],
)
def test_required_literals_of_a_role(regex: str, literals: list[str] | None) -> None:
    assert required_literals(regex) == literals


def differences(file: Path) -> list[str]:
    """What reading `file` statement by statement gets wrong against `ast.parse` of the whole file:
    the statements at each chunk's offsets, every name's bindings, the module's structure, and
    `statements_holding` anywhere in the text (docstrings and comments included)."""
    data = file.read_bytes()
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return []  # not Python this interpreter reads: both paths refuse it
    problems: list[str] = []
    whole = {_where(s) for s in tree.body}
    skim = Skim(data)
    if skim.exact:
        chunked: set[tuple[object, ...]] | None = set()
        for index in range(len(skim.chunks)):
            try:
                statements = skim.parse(index, str(file))
            except Unsplittable:
                chunked = None  # the caller parses the file whole: nothing can differ
                break
            chunked.update(_where(s) for s in statements)
        if chunked is not None and chunked != whole:
            problems.append(f"{file}: the chunks' statements differ from the whole parse")
        problems += _member_differences(file, skim, tree)
    eager = parse_module("m", file, False, tree)
    lazy = skim_module("m", file, False, skim=Skim(data))
    for name in sorted(eager._bindings):
        if as_rows(lazy, name) != as_rows(eager, name):
            problems.append(f"{file}: bindings of {name} differ")
    for attribute in ("star_imports", "dynamic", "all_names", "deprecated_at"):
        if getattr(lazy, attribute) != getattr(eager, attribute):
            problems.append(f"{file}: {attribute} differs")
    located = skim_module("m", file, False, skim=Skim(data))
    spans = [(_first_line(s), s.end_lineno or s.lineno, _where(s)) for s in tree.body]
    for offset in range(0, len(data), max(1, len(data) // 16)):
        line = data.count(b"\n", 0, offset) + 1
        found = {_where(s) for s in located.statements_holding([offset])}
        holder = {where for first, last, where in spans if first <= line <= last}
        if not found <= whole or not holder <= found:
            problems.append(f"{file}: statements_holding([{offset}]) misses line {line}'s statement")
    return problems


def _member_differences(file: Path, skim: Skim, tree: ast.Module) -> list[str]:
    """Every long class read member by member must give the body and the end line of the whole parse."""
    classes = {node.lineno: node for node in tree.body if isinstance(node, ast.ClassDef)}
    problems: list[str] = []
    for index, chunk in enumerate(skim.chunks):
        members = skim.members(index) if chunk.end - chunk.start >= 2048 else None
        header = skim.parse_header(index, str(file)) if members is not None else None
        if members is None or header is None:
            continue  # the class is parsed whole
        whole = classes.get(header.lineno)
        try:
            parsed = [_where(s) for member in members for s in skim.parse_member(member, str(file))]
        except Unsplittable:
            continue  # parsed whole too
        if whole is None or parsed != [_where(s) for s in whole.body]:
            problems.append(f"{file}: the members of the class at line {header.lineno} differ from its body")
        elif skim.last_code_line(chunk) != whole.end_lineno:
            problems.append(f"{file}: the class at line {header.lineno} ends at {whole.end_lineno}, not there")
    return problems


def _where(statement: ast.stmt) -> tuple[object, ...]:
    """A statement by its kind and position: parses of the same text agree on all of it or on none."""
    position = (statement.lineno, statement.col_offset, statement.end_lineno, statement.end_col_offset)
    return (type(statement).__name__, *position)


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", [])
    return min([statement.lineno, *(d.lineno for d in decorators)])


def _differences_of(files: list[Path]) -> list[str]:
    return [problem for file in files for problem in differences(file)]


def _every_file(roots: list[Path]) -> list[Path]:
    return sorted(file for root in roots for file in root.rglob("*.py"))


def test_every_installed_file_reads_lazily_exactly_as_parsed_whole() -> None:
    """The differential test of the fast path: every `.py` file of this environment's site-packages
    (and of the trees in $WSKIT_SKIM_TREES, e.g. fetched back ends), in two processes."""
    roots = [Path(sysconfig.get_paths()["purelib"])]
    roots += [Path(p) for p in os.environ.get("WSKIT_SKIM_TREES", "").split(os.pathsep) if p]
    files = _every_file(roots)
    assert len(files) > 5000
    halves = [files[0::2], files[1::2]]
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        problems = [p for found in pool.map(_differences_of, halves) for p in found]
    assert problems == [], f"{len(problems)} of {len(files)} files read differently: {problems[:20]}"


def test_a_module_docstring_and_a_leading_comment_hold_no_statement_but_their_own(tmp_path: Path) -> None:
    """init crashed where a role's name sat in a module docstring (an offset in no statement)."""
    text = b'# a comment\n"""Uses WebSocketManager a lot."""\nimport os\n\ndef make() -> "WebSocketManager": ...\n'
    file = tmp_path / "m.py"
    file.write_bytes(text)
    info = skim_module("m", file, False)
    assert info.statements_holding([0]) == []  # the comment: no statement
    docstring = info.statements_holding([text.index(b"WebSocketManager")])
    assert [type(s).__name__ for s in docstring] == ["Expr"] and docstring[0].lineno == 2
    assert [type(s).__name__ for s in info.statements_holding([text.index(b"def")])] == ["FunctionDef"]
    assert info.whole_body is None  # read lazily all along


def test_a_name_alone_on_a_line_inside_brackets_is_not_a_statement(tmp_path: Path) -> None:
    """A column-0 line inside an import's brackets once parsed alone as an expression statement,
    and the import's binding was lost."""
    text = "from m import (\nfirst as renamed,\nSecond,\n)\nx = 1\n"
    file = tmp_path / "m.py"
    file.write_text(text)
    info = skim_module("m", file, False)
    assert [(b.kind, b.attr) for b in info.bound("Second")] == [("import", "Second")]
    assert_same(file)


LONG_CLASS = '''@decorator(
    option=1,
)
class Long(Base):  # a comment after the header
# a comment at column 0 inside the body

    """The docstring.
    x = 1 looks like a member but is text
"""

    @property
    def first(self):
        return (
            1
    )

    if FLAG:
        value = 1
    else:
        value = 2

    try:
        import fast
    except ImportError:
        fast = None

    def second(self):
        return self.value \\
            + 1
    class Inner:
        pass
    PADDING = "%s"

    # trailing comment

# a comment after the class
'''


def test_a_long_class_reads_member_by_member_as_parsed_whole(tmp_path: Path) -> None:
    text = (LONG_CLASS % ("x" * 2100)).encode()
    skim = Skim(text)
    members = skim.members(0)
    assert members is not None
    assert [(m.line, m.head, m.defines) for m in members] == [
        (7, "", None), (11, "@", "first"), (17, "if", None), (22, "try", None), (27, "def", "second"),
        (30, "class", "Inner"), (32, "PADDING", None),
    ]  # fmt: skip
    whole = ast.parse(text).body[0]
    assert isinstance(whole, ast.ClassDef)
    parsed = [statement for member in members for statement in skim.parse_member(member, "long.py")]
    assert [_where(s) for s in parsed] == [_where(s) for s in whole.body]
    assert skim.last_code_line(skim.chunks[0]) == whole.end_lineno == 32
    file = tmp_path / "long.py"
    file.write_bytes(text)
    info = skim_module("long", file, False)
    wanted = text.index(b"def second")
    sparse = info.statements_holding([wanted], members=lambda start, end: start <= wanted < end)
    assert [type(s).__name__ for s in sparse] == ["ClassDef"] and isinstance(sparse[0], ast.ClassDef)
    assert [_where(s) for s in sparse[0].body] == [_where(whole.body[4])]
    assert sparse[0].end_lineno == 32 and [d.lineno for d in sparse[0].decorator_list] == [1]
    full = info.full_node(sparse[0])
    assert [_where(s) for s in full.body] == [_where(s) for s in whole.body]
    assert info.bound("Long")[0].node is not sparse[0]  # the sparse class is nobody's binding


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        ("    x = f(\n    1)\n    y = 2\n", None),  # a line at the body's indentation inside brackets
        ("    x = 1; y = 2\n", [2, 3]),  # two statements on one line are one member
    ],
)
def test_a_member_split_is_refused_where_brackets_hold_it(body: str, lines: list[int] | None) -> None:
    members = Skim(f"class C:\n{body}    z = '{'x' * 2100}'\n".encode()).members(0)
    assert (None if members is None else [m.line for m in members]) == lines


def test_a_class_with_its_body_on_the_header_line_is_not_split() -> None:
    assert Skim(f"class C: x = '{'x' * 2100}'\n".encode()).members(0) is None
    assert Skim(b"class C(\n    'a'):\n    x = 1\n").members(0) is None  # a string in the header


def test_a_sparse_class_keeps_its_identity_after_it_is_dropped(tmp_path: Path) -> None:
    """`full_node` knows sparse classes by id(): a dropped one must stay alive while its module info
    does, or a class parsed later may take its id and be mistaken for it (then `full_node` gave the
    dropped class's chunk, here one that does not even parse)."""
    padding = "".join(f"\n    def filler_{n}(self):\n        return {n}\n" for n in range(60))
    text = f"class A:\n    def broken(self):\n        print 'old'\n{padding}\n    def hit(self):\n        return H()\n"
    text += "\n\nclass B:\n    pass\n"
    file = tmp_path / "m.py"
    file.write_text(text)
    offset = text.index("H()")
    info = skim_module("m", file, False)
    sparse = info.statements_holding([offset], members=lambda start, end: start <= offset < end)
    assert [len(s.body) for s in sparse if isinstance(s, ast.ClassDef)] == [1]
    dropped = weakref.ref(sparse[0])
    del sparse
    gc.collect()
    assert dropped() is not None  # its id cannot be taken by another node
    later = info.statements_holding([text.index("class B")])
    assert info.full_node(later[0]) is later[0]


@pytest.mark.parametrize(
    "lines",
    [
        ["x = foo(  # step 1)", "get_handler(),", "bar=1)"],  # a bracket in a comment balances the count
        ['tag = "#" and \\', "get_handler()"],  # a backslash after a string that holds a #
    ],
)
@pytest.mark.parametrize("indent", ["", "    "])
def test_a_line_that_continues_the_one_before_is_never_read_as_a_statement(
    tmp_path: Path, lines: list[str], indent: str
) -> None:
    """At the top level and in a long class's body: whatever is read must be the statement the
    whole parse has there, never the continued line parsed alone."""
    padding = "".join(f"\n    def filler_{n}(self):\n        return {n}\n" for n in range(100))
    body = "".join(f"{indent}{line}\n" for line in lines)
    text = f"class Long:\n{padding}\n{body}" if indent else f"import os\n\n{body}"
    file = tmp_path / "m.py"
    file.write_text(text)
    offset = text.index("get_handler")
    line = text.count("\n", 0, offset) + 1
    whole = [s for s in ast.walk(ast.parse(text)) if isinstance(s, ast.stmt) and not isinstance(s, ast.ClassDef)]
    wanted = {_where(s) for s in whole if s.lineno <= line <= (s.end_lineno or s.lineno)}
    read = skim_module("m", file, False).statements_holding([offset], members=lambda s, e: s <= offset < e)
    found = {_where(s) for s in ast.walk(ast.Module(read, [])) if isinstance(s, ast.stmt)}
    assert wanted and wanted <= found


@pytest.mark.parametrize(
    ("text", "word", "prose"),
    [
        (b"x = 1  # Manager is made by get_manager\n", b"get_manager", True),  # a comment
        (b'def f():\n    """Call get_manager() for one."""\n', b"get_manager", True),  # a docstring
        (b"s = '''\nget_manager\n'''\n", b"get_manager", True),
        (b'x = f"""{get_manager()}"""\n', b"get_manager", False),  # an f-string's expression is code
        (b'x = rF"""{get_manager()}"""\n', b"get_manager", False),
        (b'x = "#"; get_manager()\n', b"get_manager", False),  # a `#` in a string: code after it
        (b'x = "get_manager"\n', b"get_manager", True),  # a one-line string
        (b"x = b'it is get_manager'\n", b"get_manager", True),
        (b'x = "a" + get_manager() + "b"\n', b"get_manager", False),  # between two strings
        (b"print(\"it's\", get_manager())  # it's\n", b"get_manager", False),
        (b"x = f'{get_manager()}'\n", b"get_manager", False),  # an f-string on one line
        (b"x = 'a' + \\\n  'get_manager'\n", b"get_manager", False),  # a line after a backslash: unsure
        (b'x = """a""" + "get_manager"\n', b"get_manager", False),  # a triple quote on the line: unsure
        (b"get_manager()  # get_manager\n", b"get_manager", False),  # the first one, before the `#`
        (b'"""a\n"""  # get_manager\n', b"get_manager", True),  # after a string that ends on the line
        (b"x = 'a'  # get_manager\n", b"get_manager", True),
    ],
)
def test_prose_is_a_comment_or_a_string_that_is_no_f_string(text: bytes, word: bytes, prose: bool) -> None:
    assert Skim(text).in_prose(text.find(word)) is prose


def test_prose_is_never_a_name_of_the_code_in_real_files() -> None:
    """Every name the tokenizer reads as code, in this environment's stdlib (asyncio, email, json,
    importlib), websockets and starlette, is not prose; the words of comments and strings mostly are."""
    roots = [Path(sysconfig.get_paths()["stdlib"]) / name for name in ("asyncio", "email", "json", "importlib")]
    roots += [Path(importlib.util.find_spec(name).origin or "").parent for name in ("websockets", "starlette")]
    code = prose = text_words = 0
    for file in _every_file(roots):
        data = file.read_bytes()
        skim, lines = Skim(data), data.splitlines(keepends=True)
        starts = [0, *itertools.accumulate(len(line) for line in lines)]
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            row, column = token.start
            if not 0 < row <= len(lines):
                continue
            offset = starts[row - 1] + len(lines[row - 1].decode("utf-8")[:column].encode())
            if token.type == tokenize.NAME:
                code += 1
                assert not skim.in_prose(offset), (str(file), row, token.string)
            elif token.type in (tokenize.COMMENT, tokenize.STRING):
                for word in re.finditer(rb"[A-Za-z_]\w+", token.string.encode()):
                    text_words += 1
                    prose += skim.in_prose(offset + len(token.string[: word.start()].encode()))
    assert code > 100_000 and prose > 0.5 * text_words


DECORATED = b"""import functools

@functools.cache
def make_client():
    return Client()

@dataclass(frozen=True)
class Settings:
    client: str = "make_client"

@app.command(help="class Client")
async def run():
    return make_client()

class Plain:
    name = "make_client"

@decorator
\fclass WithFormFeed:
    pass
x = make_client()
"""


def test_decorated_chunks_say_whether_they_define_a_class_or_a_function(tmp_path: Path) -> None:
    """Factory discovery leaves class chunks unparsed; a decorated class is one (prefect's dataclasses)."""
    skim = Skim(DECORATED)
    rows = [(c.line, c.head, c.defines, c.keyword, skim.only_a_class(i)) for i, c in enumerate(skim.chunks)]
    assert rows == [
        (1, "import", None, None, False),
        (3, "@", "make_client", "def", False),
        (7, "@", "Settings", "class", True),
        (11, "@", "run", "def", False),
        (15, "class", "Plain", "class", True),
        (18, "@", None, None, False),  # a line starting with a form feed is never split at: not known
    ]
    file = tmp_path / "m.py"
    file.write_bytes(DECORATED)
    info = skim_module("m", file, False)
    everywhere = [m.start() for m in re.finditer(rb"make_client|Client|class", DECORATED)]
    assert [(f.name, f.lineno) for f in info.functions_holding(everywhere)] == [("make_client", 4), ("run", 12)]
    assert [b.line for b in info.bound("x")] == [21]


def test_a_class_longer_than_4_kb_is_bound_header_only_until_its_body_is_asked_for(tmp_path: Path) -> None:
    """Resolving a name parses what binds it; a long class's body is parsed only when a caller needs it."""
    method = "    def method_{0}(self, value: int) -> int:\n        return value + {0}\n\n"

    def long_class(name: str, count: int, first: str = "") -> str:
        return f"class {name}(Base):\n{first}" + "".join(method.format(i) for i in range(count))

    decorated = "@decorator\n" + long_class("Decorated", 60)
    function = '@decorator\ndef function():\n    """An example:\n\nclass Example:\n"""\n' + "    x = 1\n" * 600
    text = "\n".join(
        [long_class("Short", 40), long_class("Long", 60), long_class("Shape", 60, "    @abstractmethod\n"), decorated]
    )
    text += "\n" + function
    file = tmp_path / "m.py"
    file.write_text(text)
    lengths = {c.defines: c.end - c.start for c in Skim(text.encode()).chunks}
    assert lengths["Short"] < 4096 < lengths["Long"] and lengths["Shape"] > 4096
    info = skim_module("m", file, False)
    bodies = {}
    for name in ("Short", "Long", "Shape", "Decorated"):
        node = info.bound(name)[0].node
        assert isinstance(node, ast.ClassDef)
        bodies[name] = len(node.body)
    assert bodies == {"Short": 40, "Long": 1, "Shape": 60, "Decorated": 1}  # `pass` in place of 60 methods
    function_node = info.bound("function")[0].node  # a long function whose docstring holds a class line
    assert isinstance(function_node, ast.FunctionDef) and len(function_node.body) == 601
    whole = info.full_node(info.bound("Long")[0].node)
    parsed = ast.parse(text).body[1]
    assert isinstance(whole, ast.ClassDef) and [_where(s) for s in whole.body] == [_where(s) for s in parsed.body]


def test_a_decorated_function_has_no_class_members_even_with_a_class_line_in_its_docstring() -> None:
    """Only a class chunk (by its keyword) is split into members; this function was split from the
    `class` line of its docstring on."""
    text = '@decorator\ndef function():\n    """An example:\n\nclass Example:\n    x = 1\n"""\n' + "    y = 1\n" * 600
    skim = Skim(text.encode())
    assert skim.chunks[0].keyword == "def" and skim.members(0) is None
    decorated = Skim(("@decorator\nclass Example:\n" + "    y = 1\n" * 600).encode())
    members = decorated.members(0)
    assert members is not None and [m.line for m in members[:2]] == [3, 4]
