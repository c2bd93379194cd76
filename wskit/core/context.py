"""`UserContext`: who a manager, a connection or an event belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from wskit.core.errors import InvalidUserContext

__all__ = ["MAX_ID_LENGTH", "UserContext", "validate_id"]

MAX_ID_LENGTH = 128
_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]+")
_ID_RULE = f"a non-empty str of at most {MAX_ID_LENGTH} characters from [A-Za-z0-9._:@-]"


def validate_id(field: str, value: object) -> str:
    """Return `value` if it is a valid identifier, else raise `InvalidUserContext`.

    `field` names the identifier in the error message (e.g. ``"user_id"``).
    """
    if not isinstance(value, str):
        raise InvalidUserContext(f"{field} must be {_ID_RULE}; got {type(value).__name__} {value!r}")
    if not value or len(value) > MAX_ID_LENGTH or not _ID_PATTERN.fullmatch(value):
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise InvalidUserContext(f"{field} must be {_ID_RULE}; got {shown!r} (length {len(value)})")
    return value


@dataclass(frozen=True, slots=True)
class UserContext:
    """The identity of one user and, optionally, the thread, run and request being served.

    Every id given is validated at construction; a bad one raises
    `wskit.core.errors.InvalidUserContext` naming the field and the rule. `user_id` is required.
    """

    user_id: str
    thread_id: str | None = None
    run_id: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        validate_id("user_id", self.user_id)
        for field in fields(self)[1:]:
            value = getattr(self, field.name)
            if value is not None:
                validate_id(field.name, value)
