"""The `[tool.wskit.ssot]` section of a proposal as commented TOML, and writing it into a pyproject.toml.

`render_section` turns a `Proposal` into text a person reviews: every path says what it is,
where it is bound and, when it looks deprecated, why. `write_section` puts that text into a
pyproject.toml without touching anything else in it: it appends the section, creates the file,
or (only with `force`) replaces an existing section; the result is parsed back and compared with
the original before anything is written.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from wskit.ssot.adopt.proposal import Family, Probe, Proposal, ProposedPath
from wskit.ssot.checks.config import ConfigError, parse_config
from wskit.ssot.render.scan_report import CLASSIFICATIONS, ClassRecord

__all__ = ["SectionExists", "render_section", "write_section"]

TABLE = "tool.wskit.ssot"
_HEADER = re.compile(r"^[ \t]*\[\[?[ \t]*([^\[\]#]+?)[ \t]*\]\]?[ \t]*(?:#.*)?$")
_MULTILINE_STRING = re.compile(r'"""|\'\'\'')


class SectionExists(ValueError):
    """The pyproject.toml already has a `[tool.wskit.ssot]` section (and `force` was not given)."""


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _value(value: object) -> str:
    """A TOML value for a string, a number or a boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _string(value) if isinstance(value, str) else repr(value)


def _probe(probe: Probe) -> str:
    """`{ call = "...", args = [...], kwargs = { ... } }` (empty parts left out, kwargs kept)."""
    parts = [f"call = {_string(probe.call)}"]
    if probe.args:
        parts.append(f"args = [{', '.join(_value(v) for v in probe.args)}]")
    if probe.kwargs or not probe.args:
        parts.append("kwargs = { " + ", ".join(f"{k} = {_value(v)}" for k, v in probe.kwargs) + " }")
    return "{ " + ", ".join(parts) + " }"


def _relative(path: Path, start: Path) -> str:
    """`path` relative to `start` when it is inside it (POSIX separators), else absolute."""
    try:
        return path.relative_to(start).as_posix() or "."
    except ValueError:
        return path.as_posix()


def _class(record: ClassRecord) -> str:
    return f"{record.module}.{record.qualname} ({record.defined_at})"


def _array(key: str, items: list[tuple[str, str]]) -> list[str]:
    """`key = [ ... ]`, one string a line with its comment aligned."""
    width = max(len(_string(value)) for value, _ in items) + 1
    lines = [f"{key} = ["]
    for value, comment in items:
        text = f"    {_string(value) + ',':<{width + 1}}"
        lines.append(f"{text} # {comment}" if comment else text.rstrip())
    return [*lines, "]"]


def _described(path: ProposedPath, preferred: str) -> str:
    parts = [path.kind, path.defined_at]
    if path.importers:
        parts.append(f"{path.importers} importer{'s' if path.importers != 1 else ''}")
    if path.path == preferred:
        parts.append("preferred")
    if path.deprecated:
        parts.append(f"deprecated: {path.deprecated}")
    if path.why:
        parts.append(path.why)
    return ", ".join(parts)


def _family(family: Family) -> list[str]:
    record = family.implementation
    how = "; its __init__ always raises, so code must use a factory" if family.factory_only else ""
    lines = [
        "",
        "[[tool.wskit.ssot.symbols]]",
        f"# The implementation: {_class(record)}{how}.",
        f"name = {_string(family.name)}",
        f"canonical = {_string(family.canonical)}",
        *_array("paths", [(p.path, _described(p, family.preferred)) for p in family.paths]),
    ]
    if family.interfaces:
        lines += _array(
            "interfaces", [(i.path, f"Protocol or all-abstract class, {i.defined_at}") for i in family.interfaces]
        )
    else:
        lines.append("# interfaces = []  # no Protocol or all-abstract class of the role goes with it")
    if family.deprecated:
        lines += _array("deprecated", [(p.path, p.deprecated) for p in family.deprecated])
    else:
        lines.append("# deprecated = []  # nothing says a path is deprecated: list those code should stop using")
    lines.append(f"preferred = {_string(family.preferred)}")
    lines += [f"# {note}" for note in family.notes]
    if family.private:
        lines.append(
            f"# Private paths to it (imports of them are audited as import-private): {', '.join(family.private)}"
        )
    if family.probe is not None:
        lines.append("# Runtime mode calls the factories for real with a probe that builds their first argument:")
        lines.append(f"# probe = {_probe(family.probe)}" + ("" if family.probe.complete else "  # put a real value in"))
    return lines


def render_section(proposal: Proposal, *, config_dir: Path, command: str) -> str:
    """The commented `[tool.wskit.ssot]` section for a pyproject.toml in `config_dir`.

    `command` is how the proposal was asked for (quoted in the first comment). Paths in the
    tree are written relative to `config_dir` when they are inside it.
    """
    scan = proposal.scan
    counts = Counter(c.classification for c in scan.classes)
    kinds = ", ".join(f"{counts[k]} {k}" for k in CLASSIFICATIONS if counts[k])
    lines = [
        f"[{TABLE}]",
        f"# Proposed by `{command}`: a static scan, nothing was imported.",
        f"# {scan.files_scanned} files scanned; {len(scan.classes)} classes match /{proposal.role}/ ({kinds}).",
        "# Review it, then run `wskit ssot check` and `wskit ssot notebook -o notebooks/ssot.ipynb` (a CI guard).",
    ]
    notes = [
        ("Not checked, test doubles", [_class(c) for c in proposal.test_doubles]),
        ("Not checked, base classes of an implementation", [_class(c) for c in proposal.bases]),
        ("Not checked, classes outside the tree", [_class(c) for c in proposal.outside]),
        ("Interfaces that go with no implementation", [i.path for i in proposal.loose_interfaces]),
        ("Shadowed (dead) classes", [_class(c) for c in scan.classes if c.shadowed]),
        ("Files that do not parse", [path for path, _ in scan.skipped]),
    ]
    lines += [f"# {label}: {'; '.join(items)}" for label, items in notes if items]
    config_dir = config_dir.resolve()
    lines += [
        f"search_path = [{_string(_relative(proposal.base, config_dir))}]  # where its packages live",
        f"root = {_string(_relative(proposal.root, config_dir))}  # the tree `wskit ssot notebook` scans and audits",
        f"role = {_string(proposal.role)}  # the role scan's regular expression (class names)",
    ]
    if proposal.missing:
        lines += [
            f"# Runtime mode imports the paths for real; they import {_some(proposal.missing)},"
            " which cannot be imported",
            "# where init ran: check statically, or install the project's dependencies and remove this line.",
        ]
    if proposal.unannotated:
        lines += [
            "# Runtime mode calls a factory only with a probe, else reads the class its return annotation names",
            "# at run time; these name none: check statically, or annotate them (-> TheClass) or configure a",
            "# probe, and remove this line:",
            f"# {_some(proposal.unannotated)}.",
        ]
    if proposal.missing or proposal.unannotated:
        lines.append('mode = "static"')
    for family in proposal.families:
        lines += _family(family)
    return "\n".join(lines) + "\n"


def _some(items: tuple[str, ...]) -> str:
    """The first eight of `items`, and how many more."""
    more = len(items) - 8
    return ", ".join(items[:8]) + (f" and {more} more" if more > 0 else "")


def _table_spans(text: str) -> list[tuple[int, int]]:
    """(first, end) line ranges of every table of `tool.wskit.ssot` (and its sub-tables) in `text`.

    A range ends before the next other table's header, without the comment lines right above
    that header (they are about it) and the blank lines before them. Headers inside multi-line
    strings are skipped.
    """
    lines = text.splitlines()
    spans: list[tuple[int, int]] = []
    start: int | None = None
    in_string = False
    for index, line in enumerate(lines):
        header = None if in_string else _HEADER.match(line)
        if len(_MULTILINE_STRING.findall(line)) % 2:
            in_string = not in_string
        if header is None:
            continue
        name = re.sub(r"[ \t]*\.[ \t]*", ".", header[1])
        ours = name == TABLE or name.startswith(TABLE + ".")
        if ours and start is None:
            start = index
        elif not ours and start is not None:
            end = index
            while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
                end -= 1  # the comments right above the next header are about it
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1
            spans.append((start, end))
            start = None
    if start is not None:
        spans.append((start, len(lines)))
    return spans


def _without_ours(data: dict[str, Any]) -> dict[str, Any]:
    tool = dict(data.get("tool", {}))
    wskit = {k: v for k, v in tool.get("wskit", {}).items() if k != "ssot"}
    tool = {k: v for k, v in tool.items() if k != "wskit"} | ({"wskit": wskit} if wskit else {})
    return {k: v for k, v in data.items() if k != "tool"} | ({"tool": tool} if tool else {})


def write_section(pyproject: Path, section: str, *, force: bool = False) -> str:
    """Put `section` into `pyproject` and return what was done: "created", "added" or "replaced".

    Raises `SectionExists` when the file has the section already and `force` is false, and
    `ConfigError` when the file is not valid TOML, when the section cannot be replaced without
    touching anything else, or when the result is not a valid configuration.
    """
    if not pyproject.exists():
        text, action = section, "created"
    else:
        try:
            original = pyproject.read_text(encoding="utf-8")
            before = tomllib.loads(original)
        except OSError as exc:
            raise ConfigError(f"cannot read {pyproject}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject} is not valid TOML ({exc}); fix it or use --print") from None
        present = "ssot" in before.get("tool", {}).get("wskit", {})
        if present and not force:
            raise SectionExists(
                f"{pyproject} already has [{TABLE}]; pass --force to replace it, or --print to see the proposal"
            )
        if present:
            text, action = _replaced(original, section, pyproject), "replaced"
        else:
            separator = "" if not original.strip() else "\n" if original.endswith("\n") else "\n\n"
            text, action = original + separator + section, "added"
        if _without_ours(tomllib.loads(text)) != _without_ours(before):
            raise ConfigError(f"cannot write [{TABLE}] into {pyproject} without changing other settings; use --print")
    parse_config(text, pyproject)  # the result must be a valid configuration
    pyproject.write_text(text, encoding="utf-8")
    return action


def _replaced(original: str, section: str, pyproject: Path) -> str:
    spans = _table_spans(original)
    if not spans:
        # Set with dotted keys or inline tables (`[tool.wskit] ssot = {...}`): not ours to rewrite.
        raise ConfigError(
            f"{pyproject} sets [{TABLE}] in a form --force cannot replace; edit it by hand or use --print"
        )
    lines = original.splitlines()
    kept = lines[: spans[0][0]] + section.rstrip("\n").splitlines()
    for (_, end), (start, _) in zip(spans, [*spans[1:], (len(lines), 0)], strict=True):
        kept += lines[end:start]
    return "\n".join(kept) + "\n"
