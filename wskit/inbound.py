"""Parsing and validation of frames clients send; no I/O, so every rule is unit-testable.

Accepted frames (JSON text): `{"type": "ping"}`, `{"type": "user_message", "payload": ...,
"thread_id": ...}` (optional `run_id`). Anything else becomes a `FrameError` whose `code` and
`detail` are sent back as `{"type": "error", "code": ..., "detail": ...}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wskit.context import validate_id
from wskit.errors import InvalidUserContext

__all__ = ["FrameError", "Ping", "UserMessage", "parse_frame"]


@dataclass(frozen=True, slots=True)
class Ping:
    """`{"type": "ping"}`: answered with `{"type": "pong"}`."""


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A message to the reference agent; its run's events go to every connection of the user."""

    payload: Any
    thread_id: str
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class FrameError:
    """Why a frame was refused: a stable machine `code` and a one-line human `detail`."""

    code: str
    detail: str

    def as_message(self) -> dict[str, str]:
        """The error event sent back to the connection."""
        return {"type": "error", "code": self.code, "detail": self.detail}


Inbound = Ping | UserMessage | FrameError

_FIELDS = {"ping": {"type"}, "user_message": {"type", "payload", "thread_id", "run_id"}}


def parse_frame(data: str | bytes) -> Inbound:
    """Turn one received frame into a request, or a `FrameError` saying what was wrong."""
    if not isinstance(data, str):
        return FrameError("binary_frame", "binary frames are not accepted; send JSON text frames")
    try:
        obj = json.loads(data)
    except ValueError as exc:
        return FrameError("invalid_json", f"frame is not valid JSON ({exc.args[0] if exc.args else exc})")
    if not isinstance(obj, dict):
        return FrameError("invalid_frame", f"frame must be a JSON object; got {type(obj).__name__}")
    kind = obj.get("type")
    if kind not in _FIELDS:
        return FrameError("unknown_type", f"unknown type {kind!r}; expected one of {', '.join(sorted(_FIELDS))}")
    unexpected = set(obj) - _FIELDS[kind]
    if unexpected:
        return FrameError("unknown_field", f"{kind} does not take {', '.join(sorted(unexpected))}")
    if kind == "ping":
        return Ping()
    for field in ("payload", "thread_id"):
        if field not in obj:
            return FrameError("missing_field", f"user_message needs {field!r}")
    try:
        thread_id = validate_id("thread_id", obj["thread_id"])
        run_id = None if obj.get("run_id") is None else validate_id("run_id", obj["run_id"])
    except InvalidUserContext as exc:
        return FrameError("invalid_field", str(exc))
    return UserMessage(payload=obj["payload"], thread_id=thread_id, run_id=run_id)
