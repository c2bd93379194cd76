"""Parsing and validation of frames clients send; no I/O, so every rule is unit-testable.

Accepted frames (JSON text): `{"type": "ping"}`, `{"type": "user_message", "payload": ...,
"thread_id": ...}` (optional `run_id`), `{"type": "refresh", "token": "<new token>"}` and, as a
connection's first frame only, `{"type": "resume", "last_seq": N}` (optionally `"epoch"`, the
epoch of envelope `N`).
Anything else becomes a `FrameError` whose `code` and `detail` are sent back as
`{"type": "error", "code": ..., "detail": ...}`.

Frames are also rate-limited per connection (`FrameRateLimiter`, a token bucket).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wskit.core.context import validate_id
from wskit.core.envelope import validate_epoch
from wskit.core.errors import InvalidUserContext

__all__ = [
    "DEFAULT_FRAMES_PER_SECOND",
    "DEFAULT_FRAME_BURST",
    "FrameError",
    "FrameRateLimiter",
    "Ping",
    "Refresh",
    "Resume",
    "UserMessage",
    "parse_frame",
]

DEFAULT_FRAMES_PER_SECOND = 20.0
"""Sustained inbound frames per second allowed on one connection."""

DEFAULT_FRAME_BURST = 40
"""Frames one connection may send at once before the sustained rate applies."""


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
class Resume:
    """`{"type": "resume", "last_seq": N, "epoch": E}`: replay what came after envelope `N`, then go live."""

    last_seq: int
    epoch: str | None = None


@dataclass(frozen=True, slots=True)
class Refresh:
    """`{"type": "refresh", "token": T}`: the connection goes on with a new token of the same user."""

    token: str = dataclasses.field(repr=False)  # never in a log line


@dataclass(frozen=True, slots=True)
class FrameError:
    """Why a frame was refused: a stable machine `code` and a one-line human `detail`."""

    code: str
    detail: str

    def as_message(self) -> dict[str, str]:
        """The error event sent back to the connection."""
        return {"type": "error", "code": self.code, "detail": self.detail}


Inbound = Ping | UserMessage | Resume | Refresh | FrameError

_FIELDS = {
    "ping": {"type"},
    "user_message": {"type", "payload", "thread_id", "run_id"},
    "resume": {"type", "last_seq", "epoch"},
    "refresh": {"type", "token"},
}


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
    if not isinstance(kind, str) or kind not in _FIELDS:
        return FrameError("unknown_type", f"unknown type {kind!r}; expected one of {', '.join(sorted(_FIELDS))}")
    unexpected = set(obj) - _FIELDS[kind]
    if unexpected:
        return FrameError("unknown_field", f"{kind} does not take {', '.join(sorted(unexpected))}")
    if kind == "ping":
        return Ping()
    if kind == "resume":
        last_seq = obj.get("last_seq")
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            return FrameError("invalid_field", f"resume needs 'last_seq', a non-negative integer; got {last_seq!r}")
        epoch = obj.get("epoch")
        if epoch is not None:
            try:
                validate_epoch(epoch)
            except ValueError as exc:
                return FrameError("invalid_field", str(exc))
        return Resume(last_seq, epoch)
    if kind == "refresh":
        token = obj.get("token")
        if not isinstance(token, str) or not token:
            return FrameError("invalid_field", f"refresh needs 'token', the new token as a string; got {token!r:.40}")
        return Refresh(token)
    for field in ("payload", "thread_id"):
        if field not in obj:
            return FrameError("missing_field", f"user_message needs {field!r}")
    try:
        thread_id = validate_id("thread_id", obj["thread_id"])
        run_id = None if obj.get("run_id") is None else validate_id("run_id", obj["run_id"])
    except InvalidUserContext as exc:
        return FrameError("invalid_field", str(exc))
    return UserMessage(payload=obj["payload"], thread_id=thread_id, run_id=run_id)


class FrameRateLimiter:
    """Token bucket: `burst` frames at once, refilled at `per_second` frames per second."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "per_second")

    def __init__(
        self,
        per_second: float = DEFAULT_FRAMES_PER_SECOND,
        burst: int = DEFAULT_FRAME_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not per_second > 0 or isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"rate limit needs per_second > 0 and burst >= 1; got {per_second!r}, {burst!r}")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def allow(self) -> bool:
        """Take one token for a frame; False when the connection is over its rate."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
