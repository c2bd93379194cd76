"""Finding names in source text without parsing it: the first, cheap filter of every tree walk.

`cover(names)` picks a few substrings that every name contains; `occurrences_by_name(data, names,
pieces)` looks only at their occurrences and returns where each name occurs as a whole identifier;
`required_literals(regex)` tells which text every match of a role pattern must contain, so that
files without it need no regular-expression pass at all.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator

__all__ = [
    "WORD_BYTES", "any_between", "attribute_base", "cover", "occurrences", "occurrences_by_name", "required_literals"
]  # fmt: skip

WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")  # of an identifier
_DOTTED = WORD_BYTES | {ord(".")}
_PIECE = 5  # length of the substrings searched for (shorter names are searched whole)
_IDENTIFIER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_OPTIONAL = ("*", "?", "{")


def cover(names: Iterable[str]) -> list[bytes]:
    """A few substrings such that every name contains one of them (greedy set cover).

    Searching for these with `bytes.find` is much faster than a regular expression over all
    names, and rules out most files at once. Each piece is then the longest text common to the
    names it was chosen for (`_manager` rather than `_mana`): as many passes, each faster, with
    fewer false hits. Remembered: tree walks ask for the same sets often.
    """
    return list(_cover(frozenset(names)))


@functools.lru_cache(maxsize=4096)
def _cover(names: frozenset[str]) -> tuple[bytes, ...]:
    substrings = {name: {name[i : i + _PIECE] for i in range(max(1, len(name) - _PIECE + 1))} for name in names}
    remaining = sorted(names)
    pieces: list[bytes] = []
    while remaining:
        counts = Counter(itertools.chain.from_iterable(substrings[name] for name in remaining))
        best = min(counts, key=lambda piece: (-counts[piece], piece))  # the most common; the first in order on a tie
        pieces.append(_common([name for name in remaining if best in name], best).encode())
        remaining = [name for name in remaining if best not in name]
    return tuple(pieces)


def _common(names: list[str], piece: str) -> str:
    """The longest text that every one of `names` contains (they all contain `piece`)."""
    shortest = min(names, key=len)
    for length in range(len(shortest), len(piece), -1):
        for start in range(len(shortest) - length + 1):
            candidate = shortest[start : start + length]
            if all(candidate in name for name in names):
                return candidate
    return piece


def occurrences(data: bytes, names: set[str], pieces: list[bytes]) -> list[int]:
    """The sorted offsets where one of `names` occurs in `data` as a whole identifier."""
    return sorted({position for _, position in _occurrences(data, names, pieces)})


def occurrences_by_name(data: bytes, names: set[str], pieces: list[bytes]) -> dict[str, set[int]]:
    """The offsets where each of `names` occurs in `data` as a whole identifier, in code, strings or
    comments alike (names found only). `pieces` is `cover(names)`; only their occurrences are looked at."""
    found: dict[str, set[int]] = {}
    for word, position in _occurrences(data, names, pieces):
        found.setdefault(word, set()).add(position)
    return found


def _occurrences(data: bytes, names: set[str], pieces: list[bytes]) -> Iterator[tuple[str, int]]:
    size = len(data)
    for piece in pieces:
        position = data.find(piece)
        while position >= 0:
            first, last = position, position + len(piece)
            while first > 0 and data[first - 1] in WORD_BYTES:
                first -= 1
            while last < size and data[last] in WORD_BYTES:
                last += 1
            word = data[first:last].decode("ascii")  # only ASCII word characters
            if word in names:
                yield word, first
            position = data.find(piece, last)


def any_between(offsets: list[int], start: int, end: int) -> bool:
    """Whether a sorted list of offsets (`occurrences`) has one in [start, end)."""
    index = bisect.bisect_left(offsets, start)
    return index < len(offsets) and offsets[index] < end


def attribute_base(data: bytes, offset: int) -> bytes | None:
    """The first name of the dotted name that the word at `offset` ends (`a` for `a.b.word`; b""
    when a call or a subscript comes before the dot), or None when the word is not an attribute."""
    dot = offset
    while dot > 0 and data[dot - 1] in b" \t":
        dot -= 1
    if dot == 0 or data[dot - 1] != ord("."):
        return None
    start = dot - 1
    while start > 0 and data[start - 1] in _DOTTED:
        start -= 1
    return data[start : dot - 1].partition(b".")[0]


def required_literals(regex: str) -> list[str] | None:
    """Identifier text that every match of `regex` contains, one per top-level alternative.

    None when that cannot be read safely from the pattern (flags, no literal of 3 or more
    characters in some alternative): then every file must be searched with the pattern itself.
    Only plain characters outside groups and classes count, and a character followed by `*`,
    `?` or `{` is treated as optional.
    """
    if "(?" in regex.replace("(?:", "").replace("(?P<", "").replace("(?=", "").replace("(?!", ""):
        return None  # inline flags such as (?i) change what matches
    literals: list[str] = []
    for branch in _top_level_branches(regex):
        runs, run, index = [], "", 0
        while index < len(branch):
            char = branch[index]
            if char == "\\" or char in "([":
                runs.append(run)
                run = ""
                index = _skip(branch, index)
                continue
            following = branch[index + 1 : index + 2]
            if char in _IDENTIFIER and following not in _OPTIONAL:
                run += char
            else:
                runs.append(run)
                run = ""
            index += 1
        runs.append(run)
        best = max(runs, key=len)
        if len(best) < 3:
            return None
        literals.append(best)
    return sorted(set(literals))


def _top_level_branches(regex: str) -> list[str]:
    branches, depth, current, index = [], 0, "", 0
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            current += regex[index : index + 2]
            index += 2
            continue
        if char == "[":
            end = _skip(regex, index)
            current += regex[index:end]
            index = end
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            branches.append(current)
            current = ""
        else:
            current += char
        index += 1
    branches.append(current)
    return branches


def _skip(pattern: str, index: int) -> int:
    """Index just after the escape, group or character class starting at `index`.

    A quantifier after it is skipped too, since what it applies to is never counted.
    """
    char = pattern[index]
    if char == "\\":
        end = index + 2
    elif char == "[":
        end = index + 1
        if pattern[end : end + 1] == "^":
            end += 1
        if pattern[end : end + 1] == "]":
            end += 1
        while end < len(pattern) and pattern[end] != "]":
            end += 2 if pattern[end] == "\\" else 1
        end += 1
    else:
        depth, end = 0, index
        while end < len(pattern):
            if pattern[end] == "\\":
                end += 2
                continue
            depth += {"(": 1, ")": -1}.get(pattern[end], 0)
            end += 1
            if depth == 0:
                break
    return min(end, len(pattern))
