"""The analyzer's data: configured symbols, and results as rows for import paths, findings, statuses."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final, cast

__all__ = [
    "CALL_ERRORS",
    "ENVIRONMENT",
    "FAILED",
    "IMPORT_KINDS",
    "INTERFACE",
    "KINDS",
    "MODES",
    "RESOLVED",
    "STATUSES",
    "UNRESOLVED",
    "Finding",
    "PathRow",
    "Sited",
    "SymbolSpec",
    "compile_role",
    "notes",
]

RESOLVED: Final = "resolved"
"""The path reaches a concrete class (directly, by alias, or as a factory's return type)."""
INTERFACE: Final = "interface"
"""The path reaches a Protocol or an all-abstract class: reported, excluded from the verdict."""
FAILED: Final = "failed"
"""The path does not import or does not exist."""
UNRESOLVED: Final = "unresolved"
"""Static mode cannot follow the path without running code (the detail says why)."""
ENVIRONMENT: Final = "environment"
"""Runtime mode could not import the path because a third-party dependency is missing where it
runs: a fact about the environment, not about the paths (excluded from the verdict)."""
STATUSES: Final = (RESOLVED, INTERFACE, UNRESOLVED, FAILED, ENVIRONMENT)
MODES: Final = ("runtime", "static")
"""How import paths are checked: by importing them, or by reading the source."""

IMPORT_KINDS: Final = ("import-canonical", "import-deprecated", "import-private", "import-alias")
CALL_ERRORS: Final = ("direct-instantiation", "bad-arguments", "await-sync", "missing-await", "isinstance-protocol")
KINDS: Final = (*IMPORT_KINDS, "call", *CALL_ERRORS, "unknown")
"""The kinds of audit rows, in the order reports sort and count them."""


def compile_role(role: object) -> re.Pattern[str]:
    """The role's regular expression (class names); raise `ValueError` saying what is wrong with it."""
    if not isinstance(role, str) or not role:
        raise ValueError(f"role must be a non-empty regular expression such as 'WebSocketManager'; got {role!r}")
    try:
        return re.compile(role)
    except re.error as exc:
        raise ValueError(f"role {role!r} is not a valid regular expression: {exc}") from None


@dataclass(frozen=True, slots=True)
class PathRow:
    """The analysis of one import path.

    kind: what the path names: "class", "factory", "async factory", "interface", "instance",
    "module" or "unknown". `resolved` is the qualified name of the object reached (for a factory,
    the type it returns) and `defined_at` its `file:line`, file relative to its search root.
    """

    path: str
    kind: str
    status: str
    resolved: str | None
    defined_at: str | None
    deprecated: bool
    detail: str
    chain: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The name looked up (the part after the colon)."""
        return self.path.rpartition(":")[2]

    def as_json(self) -> dict[str, Any]:
        """The documented JSON row (the chain is included as a list)."""
        data = asdict(self)
        data["chain"] = list(self.chain)
        return data


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """Something worth knowing beside the verdict, e.g. a shadowed name or an async factory."""

    kind: str
    where: str
    message: str

    def as_json(self) -> dict[str, str]:
        """`{"kind", "where", "message"}`."""
        return {"kind": self.kind, "where": self.where, "message": self.message}


class Sited:
    """For dataclass rows with `file` and `line`: `where` and a JSON object that includes it."""

    __slots__ = ()
    file: str
    line: int

    @property
    def where(self) -> str:
        """`file:line`."""
        return f"{self.file}:{self.line}"

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON object, `where` first."""
        return {"where": self.where, **asdict(cast(Any, self))}


def notes(findings: Iterable[Finding], skipped: Iterable[tuple[str, str]]) -> list[str]:
    """The indented `! ...` lines a text summary ends with: findings, then files skipped."""
    lines = [f"  ! {f.kind} at {f.where}: {f.message}" for f in findings]
    return lines + [f"  ! skipped {path}: {reason}" for path, reason in skipped]


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol: its canonical path, the paths that must reach it, its interfaces, its probe,
    the paths code should stop using (`deprecated`) and the one it should import (`preferred`,
    by default the first of `paths`)."""

    name: str
    canonical: str
    paths: tuple[str, ...]
    interfaces: tuple[str, ...] = ()
    probe: functools.partial[Any] | None = None
    deprecated: tuple[str, ...] = ()
    preferred: str | None = None
    factory_only: bool = False
    """Declared: code outside `factories` (and the symbol's factories) must not create the class."""
    factories: tuple[str, ...] = ()
    """Declared: more functions allowed to create the class (`module:name`)."""

    @property
    def preferred_path(self) -> str:
        """`preferred`, or the first of `paths` when none was given."""
        return self.preferred or self.paths[0]

    @property
    def checked_paths(self) -> tuple[str, ...]:
        """What a check resolves: `paths`, then the `interfaces` not among them."""
        return self.paths + tuple(p for p in self.interfaces if p not in self.paths)
