"""A cheap index of one source file, read from its text: top-level statements and import statements.

Parsing a whole module costs far more than reading it, and most questions the analyzer asks ("what
does this module bind to `Name`?", "which classes named like the role does it define?", "which
files import `Name`?") concern a few statements. `Skim` splits the text at the lines that start a
top-level statement (column 0, outside triple-quoted strings and backslash continuations), so that
only the statements that mention a name get parsed, each at most once, with their real line
numbers. It also lists the import statements at any depth.

The split is checked, never trusted blindly: a triple quote that may sit in a comment or a
one-line string, a non-UTF-8 coding cookie, or an open bracket before a statement start makes
the file ambiguous, and then callers parse it whole (`Skim.exact` is False, or `parse` raises
`Unsplittable`). A statement that does not parse on its own makes the whole file parsed too.
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
from collections.abc import Iterator
from typing import NamedTuple

from wskit.ssot.read.textsearch import WORD_BYTES

__all__ = ["Chunk", "ImportStatement", "Skim", "Unsplittable"]

_QUOTES = (b'"""', b"'''")  # the two triple quotes
_OPENER_PREFIX = re.compile(rb"[^#\"'\\\n]*")  # what may precede an opening triple quote on its line
_STATEMENT_START = re.compile(rb"\n[^ \t\r\n\f#)\]}]")
_HEAD = re.compile(rb"@|[A-Za-z_][A-Za-z0-9_]*")
_DEFINES = re.compile(rb"(?:async[ \t]+)?(def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
_CONTINUATIONS = {"else", "elif", "except", "finally"}
_COOKIE = re.compile(rb"(?:[^\n]*\n)?[ \t\f]*#[^\n]*?coding[:=][ \t]*([-\w.]+)")
_FROM_PREFIX = re.compile(rb"[ \t]*from[ \t]+[.\w]+[ \t]+")
_FROM_CLAUSE = re.compile(rb"[ \t]*from[ \t]+[.\w]*")  # a line up to a word of a `from` import's module
_BRACKETS = ((b"(", b")"), (b"[", b"]"), (b"{", b"}"))
_STRING_OR_COMMENT = re.compile(rb"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|#[^\n]*")
_ONE_LINE_STRING = re.compile(rb"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
_OPEN_ENDS = frozenset(bytes([c]) for c in b"([{,\\+-/%&|^<>=")  # what a line that goes on may end with
_BODY_LINE = re.compile(rb"\n([ \t]+)[^ \t\r\n\f#]")  # the first line of an indented block


class Unsplittable(Exception):
    """The text cannot be split safely here; parse the whole file instead."""


class Chunk(NamedTuple):
    """One top-level statement (with its decorators, `else`/`except` parts and trailing comments).

    `head` is its first word (`from`, `class`, `if`, a target name, or `@`); `defines` the name a
    `def` or `class` statement binds (None for every other statement), `keyword` which of the two
    it is (decorators or not).
    """

    start: int
    end: int
    line: int
    head: str
    defines: str | None
    keyword: str | None = None


class ImportStatement(NamedTuple):
    """An `import` or `from ... import` statement found in the text, at any depth."""

    start: int
    end: int
    indent: int


class Skim:
    """The index of one file's text; `exact` is False when the file must be parsed whole."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._spans: list[tuple[int, int]] = []
        self._span_starts: list[int] = []
        self._span_scan: Iterator[tuple[int, int]] | None = _string_spans(data)
        self._spans_known_until = -1  # the spans before this offset are all known
        self._ambiguous = False
        self._chunks: list[Chunk] | None = None
        self._starts: list[int] = []
        self._imports: list[ImportStatement] | None = None
        self._depths = [0]  # brackets open at the start of each chunk, computed as far as needed

    def _scan_spans(self, until: int) -> None:
        """Find the triple-quoted strings that start before `until` (they are found in order)."""
        while self._span_scan is not None and self._spans_known_until < until:
            try:
                span = next(self._span_scan)
            except StopIteration:
                self._span_scan, self._spans_known_until = None, len(self.data) + 1
                return
            except _Ambiguous:
                self._span_scan, self._ambiguous, self._spans_known_until = None, True, len(self.data) + 1
                self._spans, self._span_starts = [], []
                return
            self._spans.append(span)
            self._span_starts.append(span[0])
            self._spans_known_until = span[1]

    @property
    def spans(self) -> list[tuple[int, int]] | None:
        """(start, end) of the triple-quoted strings; None when they cannot be told from the text."""
        self._scan_spans(len(self.data) + 1)
        return None if self._ambiguous else self._spans

    @property
    def exact(self) -> bool:
        """True when the text can be split into top-level statements safely."""
        return self.spans is not None and _utf8(self.data)

    @property
    def chunks(self) -> list[Chunk]:
        """The top-level statements, in order ([] when not `exact`)."""
        self._chunk_starts()
        assert self._chunks is not None
        return self._chunks

    def _chunk_starts(self) -> list[int]:
        if self._chunks is None:
            self._chunks = self._split() if self.exact else []
            self._starts = [c.start for c in self._chunks]
        return self._starts

    def _split(self) -> list[Chunk]:
        data = self.data
        starts = [0] if data[:1] not in (b" ", b"\t", b"\n", b"\r", b"#", b"") else []
        starts += [m.start() + 1 for m in _STATEMENT_START.finditer(data)]
        return self._group(starts, 0, len(data))

    def _group(self, starts: list[int], indent: int, end: int) -> list[Chunk]:
        """Statements from the offsets of lines that may start one (at `indent` columns), up to `end`:
        starts in a triple-quoted string or after a backslash are dropped, decorators and
        `else`/`except` parts joined to their statement."""
        data = self.data
        chunks: list[Chunk] = []
        line, counted = 1, 0
        if starts:
            line, counted = self.line_of(starts[0]), starts[0]
        for start in starts:
            if self.in_string(start, strictly=True):
                continue  # inside a triple-quoted string: never split there
            if _continues(data, start):
                continue  # after a backslash continuation
            match = _HEAD.match(data, start + indent)
            head = match.group().decode() if match else ""
            line += data.count(b"\n", counted, start)
            counted = start
            if chunks and (head in _CONTINUATIONS or (chunks[-1].head == "@" and chunks[-1].defines is None)):
                previous = chunks[-1]
                defines, keyword = previous.defines, previous.keyword
                if previous.head == "@" and defines is None:
                    defines, keyword = _definition(data, start + indent)
                chunks[-1] = Chunk(previous.start, previous.end, previous.line, previous.head, defines, keyword)
                continue
            defines = keyword = None
            if head in ("def", "class", "async"):
                defines, keyword = _definition(data, start + indent)
            chunks.append(Chunk(start, start, line, head, defines, keyword))
        # Each chunk ends where the next one starts.
        ends = [c.start for c in chunks[1:]] + [end] * bool(chunks)
        return [c._replace(end=stop) for c, stop in zip(chunks, ends, strict=True)]

    def chunk_at(self, offset: int) -> int:
        """Index of the chunk holding byte `offset` (-1 before the first statement)."""
        return bisect.bisect_right(self._chunk_starts(), offset) - 1

    def mentioning(self, word: bytes) -> Iterator[int]:
        """Indexes of the chunks whose text contains `word` (a plain substring test)."""
        self._chunk_starts()
        data, pos = self.data, self.data.find(word)
        while pos >= 0:
            index = self.chunk_at(pos)
            if index < 0:
                pos = data.find(word, pos + 1)
                continue
            yield index
            pos = data.find(word, self.chunks[index].end)

    def parse(self, index: int, filename: str) -> list[ast.stmt]:
        """The statements of chunk `index`, with their real line numbers.

        Raises `Unsplittable` when the chunk does not parse alone or may not start a statement.
        """
        chunk = self.chunks[index]
        if not self._starts_statement(index):
            raise Unsplittable(f"an open bracket or a continued line before line {chunk.line}")
        source = b"\n" * (chunk.line - 1) + self.data[chunk.start : chunk.end]
        try:
            return ast.parse(source, filename=filename).body
        except (SyntaxError, ValueError) as exc:
            message = str(exc)
        raise Unsplittable(message)  # outside the handler, so that no frame is kept in a cycle

    def parse_header(self, index: int, filename: str) -> ast.ClassDef | None:
        """Chunk `index`'s class statement with its decorators and bases but an empty body.

        None when the header cannot be cut out plainly (strings or comments in it, or it does
        not parse on its own); then the whole chunk has to be parsed.
        """
        chunk = self.chunks[index]
        colon = self._header_colon(chunk)
        if colon is None:
            return None
        source = b"\n" * (chunk.line - 1) + self.data[chunk.start : colon + 1] + b"\n    pass\n"
        try:
            body = ast.parse(source, filename=filename).body
        except (SyntaxError, ValueError):
            return None
        return body[0] if len(body) == 1 and isinstance(body[0], ast.ClassDef) else None

    def _header_colon(self, chunk: Chunk) -> int | None:
        """Offset of the colon that ends a class chunk's header; None when the chunk is no class
        or its header holds strings or comments (then only a parse can tell where it ends)."""
        if chunk.keyword != "class":
            return None
        data = self.data
        keyword = chunk.start if chunk.head == "class" else data.find(b"\nclass", chunk.start, chunk.end) + 1
        if keyword <= 0 and chunk.head != "class":
            return None  # a decorated class whose class line could not be found plainly
        depth = 0
        for position in range(keyword, min(chunk.end, keyword + 4096)):
            char = data[position : position + 1]
            if char in b"\"'#":
                return None
            if char in b"([{":
                depth += 1
            elif char in b")]}":
                depth -= 1
            elif char == b":" and depth == 0:
                return position
        return None

    def only_a_class(self, index: int) -> bool:
        """Whether chunk `index` is a class statement and nothing else (a line that starts with a
        form feed is not split at, so a chunk holding one may hold a statement after the class)."""
        chunk = self.chunks[index]
        return chunk.keyword == "class" and not self._form_feed_line(chunk)

    def _form_feed_line(self, chunk: Chunk) -> bool:
        """Whether a line of the chunk starts with a form feed (which resets the indentation and
        is never split at)."""
        return self.data.find(b"\n\f", chunk.start, chunk.end) >= 0

    def members(self, index: int) -> list[Chunk] | None:
        """The statements of class chunk `index`'s body, split as the top level is (their `start`
        is where their line starts, indentation included).

        None when the body cannot be split safely: no plain header, a body on the header's line,
        or a statement start inside brackets.
        """
        chunk = self.chunks[index]
        colon = self._header_colon(chunk)
        if colon is None or not self._starts_statement(index) or self._form_feed_line(chunk):
            return None
        data = self.data
        first = data.find(b"\n", colon, chunk.end)
        rest = data[colon + 1 : first].strip(b" \t\r")
        if first < 0 or (rest and not rest.startswith(b"#")):
            return None
        body = _BODY_LINE.search(data, first, chunk.end)
        if body is None:
            return None
        indent = body.group(1)
        pattern = _member_start(indent)
        starts = [m.start() + 1 for m in pattern.finditer(data, first, chunk.end)]
        members = self._group(starts, len(indent), chunk.end)
        depth = 0
        for member in members:
            if depth != 0:
                return None  # a line at the body's indentation inside brackets
            depth += self._depth_of(member)
        return members

    def parse_member(self, member: Chunk, filename: str) -> list[ast.stmt]:
        """The statements of one of `members()`, with their real line numbers.

        Raises `Unsplittable` when it does not parse alone or may not start a statement.
        """
        if _left_open(self.data, member.start):
            raise Unsplittable(f"the line before line {member.line} goes on")
        source = b"\n" * (member.line - 2) + b"if 1:\n" + self.data[member.start : member.end]
        try:
            block = ast.parse(source, filename=filename).body
        except (SyntaxError, ValueError) as exc:
            message = str(exc)
        else:
            if len(block) == 1 and isinstance(block[0], ast.If):
                return block[0].body
            message = f"the statement at line {member.line} does not stand alone"
        raise Unsplittable(message)

    def last_code_line(self, chunk: Chunk) -> int:
        """The line of the chunk's last code (trailing blank and comment-only lines left out)."""
        data, end = self.data, chunk.end
        while end > chunk.start:
            start = data.rfind(b"\n", chunk.start, end - 1) + 1 or chunk.start
            text = data[start:end].strip()
            if text and (not text.startswith(b"#") or self.in_string(start, strictly=True)):
                return chunk.line + data.count(b"\n", chunk.start, start)
            end = start
        return chunk.line

    def _starts_statement(self, index: int) -> bool:
        """Whether chunk `index` really starts a statement: every bracket opened before it is
        closed (a line at column 0 inside brackets is not a statement) and the line before it
        does not go on (a backslash, an open bracket, a comma, an operator at its end)."""
        start = self.chunks[index].start
        if index > 0 and (_continues(self.data, start) or _left_open(self.data, start)):
            return False
        while len(self._depths) <= index:
            self._depths.append(self._depths[-1] + self._depth_of(self.chunks[len(self._depths) - 1]))
        return self._depths[index] == 0

    def _depth_of(self, chunk: Chunk) -> int:
        """Brackets the chunk opens minus those it closes (strings and comments left out)."""
        pieces = list(self._code_pieces(chunk.start, chunk.end))
        depth = _depth(self.data, pieces)
        if depth == 0:
            return 0
        # Slower and closer: without one-line strings and comments, which may hold brackets.
        text = b"\n".join(_STRING_OR_COMMENT.sub(b"", self.data[start:end]) for start, end in pieces)
        return _depth(text, [(0, len(text))])

    def _code_pieces(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The parts of [start, end) outside triple-quoted strings."""
        spans = self.spans or []
        index = max(bisect.bisect_right(self._span_starts, start) - 1, 0)
        position = start
        for span_start, span_end in spans[index:]:
            if span_start >= end:
                break
            if span_end <= position:
                continue
            if span_start > position:
                yield position, span_start
            position = max(position, span_end)
        if position < end:
            yield position, end

    # -- code or text --------------------------------------------------------------------------

    def in_string(self, offset: int, *, strictly: bool = False) -> bool:
        """True when `offset` lies in a triple-quoted string (`strictly`: after its first quote).

        False when that cannot be told from the text (not `exact`).
        """
        return self._string_holding(offset, strictly=strictly) is not None

    def _string_holding(self, offset: int, *, strictly: bool = False) -> tuple[int, int] | None:
        """(start, end) of the triple-quoted string `in_string` finds `offset` in, or None."""
        self._scan_spans(offset)
        index = bisect.bisect_right(self._span_starts, offset) - 1
        if index < 0 or self._ambiguous:
            return None
        start, end = self._spans[index]
        return (start, end) if (start < offset if strictly else start <= offset) and offset < end else None

    def is_code(self, offset: int) -> bool:
        """True when `offset` is in code: not in a triple-quoted string, not after a `#` on its line.

        A `#` inside a one-line string before `offset` makes this say False: a missed hit rather
        than a false one.
        """
        if self.in_string(offset):
            return False
        line_start = self.data.rfind(b"\n", 0, offset) + 1
        return self.data.find(b"#", line_start, offset) < 0

    def in_prose(self, offset: int) -> bool:
        """True when `offset` is certainly not in code: in a comment, or in a string that is no
        f-string (triple-quoted, or on one line). The opposite doubt of `is_code`: anything unsure
        (a line with a triple quote or continued by a backslash, a quote after a name that is no
        string prefix, a file whose strings cannot be told) counts as code."""
        data = self.data
        string = self._string_holding(offset, strictly=True)
        if string is not None:
            return self._plain_string_at(string[0])
        start = data.rfind(b"\n", 0, offset) + 1
        string = self._string_holding(start)
        if string is not None:  # a triple-quoted string that ends on this line, before `offset`
            start = string[1]
        elif data[max(start - 3, 0) : start].rstrip(b"\r\n").endswith(b"\\"):
            return False  # the line may go on with a string of the line before
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end
        if any(data.find(quote, start, end) >= 0 for quote in _QUOTES):
            return False
        for found in _STRING_OR_COMMENT.finditer(data, start, end):
            if found.start() > offset:
                return False
            if offset < found.end():
                return data[found.start()] == ord("#") or self._plain_string_at(found.start())
        return False

    def _plain_string_at(self, quote: int) -> bool:
        """Whether the quote at `quote` opens a string that is no f-string (its prefix letters say so)."""
        data, first = self.data, quote
        while first > 0 and data[first - 1] in WORD_BYTES:
            first -= 1
        letters = data[first:quote]
        return len(letters) <= 2 and not letters.strip(b"rbuRBU") and (first == 0 or data[first - 1] not in b"\"'")

    def line_of(self, offset: int) -> int:
        """1-based line number of byte `offset`."""
        return self.data.count(b"\n", 0, offset) + 1

    # -- import statements -----------------------------------------------------------------------

    @property
    def imports(self) -> list[ImportStatement]:
        """Every `import` / `from ... import` statement that starts a line, at any depth (cached).

        Found from the text alone: one inside a triple-quoted string is listed too
        (`import_nodes` leaves it out).
        """
        if self._imports is None:
            self._imports = list(self._find_imports())
        return self._imports

    def in_import(self, offset: int) -> bool:
        """Whether `offset` may lie in an import statement: one of `imports`, or after the word
        `import` on its line (`try: import x`, which `imports` does not list)."""
        statements = self.imports
        index = bisect.bisect_right(statements, offset, key=lambda statement: statement.start) - 1
        if index >= 0 and offset < statements[index].end:
            return True
        return self.data.find(b"import", self.data.rfind(b"\n", 0, offset) + 1, offset) >= 0

    def in_from_module(self, offset: int) -> bool:
        """Whether `offset` lies in the module named by a `from ... import` (`pkg` or `sub` in
        `from pkg.sub import x`), which binds only the names it imports."""
        return _FROM_CLAUSE.fullmatch(self.data, self.data.rfind(b"\n", 0, offset) + 1, offset) is not None

    def _find_imports(self) -> Iterator[ImportStatement]:
        data, pos = self.data, self.data.find(b"import")
        while pos >= 0:
            after = data[pos + 6 : pos + 7]
            line_start = data.rfind(b"\n", 0, pos) + 1
            prefix = data[line_start:pos]
            next_pos = pos + 6
            if after in (b" ", b"\t", b"(", b"\\") and (
                not prefix.strip(b" \t") or _FROM_PREFIX.fullmatch(prefix) is not None
            ):
                end = self._statement_end(pos + 6)
                indent = len(prefix) - len(prefix.lstrip(b" \t"))
                yield ImportStatement(line_start, end, indent)
                next_pos = end
            pos = data.find(b"import", next_pos)

    def _statement_end(self, pos: int) -> int:
        data = self.data
        while True:
            newline = data.find(b"\n", pos)
            if newline < 0:
                return len(data)
            text = data[pos:newline].partition(b"#")[0]
            if b"(" in text and b")" not in text[text.rfind(b"(") :]:
                close = data.find(b")", newline)
                if close < 0:
                    return len(data)
                pos = close
                continue
            if text.rstrip(b" \t\r").endswith(b"\\"):
                pos = newline + 1
                continue
            return newline

    def import_nodes(self, statement: ImportStatement) -> list[ast.Import | ast.ImportFrom]:
        """The parsed import(s) of one statement, with real line numbers.

        [] when it does not parse, or lies in a triple-quoted string.
        """
        if self.in_string(statement.start):
            return []
        line = self.line_of(statement.start)
        source = b"\n" * (line - 1) + self.data[statement.start + statement.indent : statement.end]
        try:
            body = ast.parse(source).body
        except (SyntaxError, ValueError):
            return []
        return [node for node in body if isinstance(node, ast.Import | ast.ImportFrom)]


@functools.lru_cache(maxsize=64)
def _member_start(indent: bytes) -> re.Pattern[bytes]:
    """Lines that may start a statement of a block indented by `indent`."""
    return re.compile(rb"\n" + re.escape(indent) + rb"[^ \t\r\n\f#)\]}]")


def _continues(data: bytes, start: int) -> bool:
    """True when the line before `start` ends with a backslash outside a comment."""
    end = start - 1
    if data[end - 1 : end] == b"\r":
        end -= 1
    if data[end - 1 : end] != b"\\":
        return False
    line = data[data.rfind(b"\n", 0, end) + 1 : end]
    return b"#" not in line or b"#" not in _ONE_LINE_STRING.sub(b"", line)


def _left_open(data: bytes, start: int) -> bool:
    """True when the code line before `start` ends with an opening bracket, a comma or an operator
    (its comment and one-line strings left out): the line at `start` then continues it. A bracket
    in a comment can make the count of brackets before `start` balance where it does not."""
    end = start
    while end > 0:
        line_start = data.rfind(b"\n", 0, end - 1) + 1
        line = _ONE_LINE_STRING.sub(b"s", data[line_start:end]).partition(b"#")[0].rstrip()
        if line:
            return line[-1:] in _OPEN_ENDS
        end = line_start  # a blank or comment-only line: look at the one before
    return False


def _depth(data: bytes, pieces: list[tuple[int, int]]) -> int:
    depth = 0
    for start, end in pieces:
        for opener, closer in _BRACKETS:
            depth += data.count(opener, start, end) - data.count(closer, start, end)
    return depth


def _utf8(data: bytes) -> bool:
    match = _COOKIE.match(data)
    return match is None or match.group(1).lower().replace(b"_", b"-") in (b"utf-8", b"utf8")


class _Ambiguous(Exception):
    """A triple quote whose meaning only the real tokenizer knows."""


def _string_spans(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each triple-quoted string in order; raises `_Ambiguous` where unsure.

    What precedes a triple quote on its line decides: after complete one-line strings are
    removed, a `#` means it is in a comment, an odd quote that it is inside a one-line string
    (both skipped), anything else that it opens a string. A line that holds more than one such
    case, or a line continued with a backslash, is left to the real tokenizer.
    """
    position, known = 0, [-2, -2]
    while True:
        start, quote = _next_triple(data, position, known)
        if start < 0:
            return
        line_start = data.rfind(b"\n", 0, start) + 1
        if _OPENER_PREFIX.fullmatch(data, line_start, start) is None:
            if _continues(data, line_start) and line_start > 0:
                raise _Ambiguous
            prefix = _ONE_LINE_STRING.sub(b"", data[line_start:start])
            if b"#" in prefix or b"'" in prefix or b'"' in prefix:
                line_end = data.find(b"\n", start)
                line_end = len(data) if line_end < 0 else line_end
                if b"#" not in prefix and any(data.find(q, start + 3, line_end) >= 0 for q in _QUOTES):
                    raise _Ambiguous  # inside a one-line string, and more triple quotes follow
                position = line_end
                continue
            # Otherwise only complete one-line strings precede it: it opens a string.
        end = start + 3
        while True:
            end = data.find(quote, end)
            if end < 0:
                raise _Ambiguous
            before = data[max(0, end - 16) : end]
            if (len(before) - len(before.rstrip(b"\\"))) % 2 == 0:
                break
            end += 1  # an escaped quote does not close the string
        yield start, end + 3
        position = end + 3


def _next_triple(data: bytes, position: int, known: list[int]) -> tuple[int, bytes]:
    """The first triple quote at or after `position`, as (offset, quote); offset -1 when there is none.

    `known` holds the offset last found of each quote (-2 before any search): a quote is searched
    for again only once `position` has passed it. Two `bytes.find` are 3x faster than one regular
    expression of both (measured on real trees: 0.15 s against 0.45 s for 72 MB).
    """
    start, quote = -1, b""
    for index, kind in enumerate(_QUOTES):
        at = known[index]
        if at == -2 or -1 < at < position:
            at = known[index] = data.find(kind, position)
        if at >= 0 and (start < 0 or at < start):
            start, quote = at, kind
    return start, quote


def _definition(data: bytes, offset: int) -> tuple[str | None, str | None]:
    """(name, `def` or `class`) of the definition whose line's code starts at `offset`, else (None, None)."""
    found = _DEFINES.match(data, offset)
    return (found.group(2).decode(), found.group(1).decode()) if found else (None, None)
