"""The envelope every outgoing message travels in, serialized once per message.

An envelope is one JSON object ``{"type", "seq", "epoch", "ts", "user_id", "thread_id", "run_id",
"payload"}`` sent as one text frame. `seq` increases by one per message per user; `epoch` names
the user's history that `seq` counts in (a new epoch means that history was lost: a client
holding a `seq` of another epoch must resync); `ts` is seconds since the Unix epoch (float).

The sender builds a `Draft` (everything but `seq` and `epoch`, as bytes); the backplane numbers
it when it stores it, so numbering and storing are one step wherever the history lives.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, NamedTuple

__all__ = [
    "AGENT_EVENTS",
    "ENVELOPE_KEYS",
    "Draft",
    "SharedDraft",
    "draft_envelope",
    "encode_json",
    "render_envelope",
    "validate_epoch",
]

AGENT_EVENTS: Final = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
"""The five agent events, in the order a run emits them."""

ENVELOPE_KEYS: Final = ("type", "seq", "epoch", "ts", "user_id", "thread_id", "run_id", "payload")

_EPOCH = re.compile(r"[A-Za-z0-9-]{1,64}")

# ASCII-only output makes len(frame) its exact size in bytes, which the outbox limits rely on.
_encoder = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def encode_json(value: Any, what: str = "payload") -> str:
    """Encode `value` as compact JSON, or raise `TypeError` naming `what` could not be encoded.

    NaN and infinities are refused too: they are not JSON and browsers cannot parse them.
    """
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(
            f"{what} is not JSON-encodable ({exc}); pass dicts, lists, str, int, finite float, bool or None"
        ) from None


def validate_epoch(epoch: object) -> str:
    """Return `epoch` if it can name a history (1-64 of [A-Za-z0-9-]), else raise `ValueError`."""
    if not isinstance(epoch, str) or not _EPOCH.fullmatch(epoch):
        raise ValueError(
            f"epoch must be the epoch of an envelope the client received (1-64 of [A-Za-z0-9-]); got {epoch!r}"
        )
    return epoch


class Draft(NamedTuple):
    """An envelope before it is numbered: its JSON up to `seq` (`head`), and after `epoch` (`parts`).

    The parts stay apart until `number()` joins everything in one allocation, so a broadcast's
    drafts share the part that carries the payload instead of each copying it. (A named tuple:
    one is made per user and per message, and a tuple is the cheapest object to make.)
    """

    head: bytes
    parts: tuple[bytes, ...]

    @property
    def tail(self) -> bytes:
        """The JSON after `epoch`, in one piece."""
        return b"".join(self.parts)

    def number(self, seq: int, epoch: str) -> bytes:
        """The envelope's bytes with `seq` and `epoch` filled in."""
        return b"".join((self.head, b'%d,"epoch":"%s"' % (seq, epoch.encode("ascii")), *self.parts))


def draft_envelope(
    *,
    event_type: str,
    ts: float,
    user_id: str,
    thread_id: str | None,
    run_id: str | None,
    payload_json: bytes,
) -> Draft:
    """Assemble an envelope around an already encoded payload, leaving `seq` and `epoch` open.

    The payload is encoded once by the caller (so encoding errors surface before a `seq` is
    spent). The other fields are written directly: the type and ids must already be validated,
    and their character sets (`[A-Za-z0-9._:@-]`) need no JSON escaping.
    """
    thread = b"null" if thread_id is None else b'"%s"' % thread_id.encode("ascii")
    run = b"null" if run_id is None else b'"%s"' % run_id.encode("ascii")
    return Draft(
        b'{"type":"%s","seq":' % event_type.encode("ascii"),
        (b',"ts":%r,"user_id":"%s","thread_id":%s,"run_id":%s,"payload":' % (ts, user_id.encode("ascii"), thread, run),
         payload_json, b"}"),
    )  # fmt: skip


class SharedDraft:
    """The drafts of one message for many users (a broadcast): what they share is encoded once.

    `for_user()` gives the same bytes as `draft_envelope()` with the same fields.
    """

    __slots__ = ("_ends", "_head", "_payload", "_ts")

    def __init__(self, *, event_type: str, ts: float, payload_json: bytes) -> None:
        self._head = b'{"type":"%s","seq":' % event_type.encode("ascii")
        self._ts = b',"ts":%r,"user_id":"' % ts
        self._payload = payload_json
        self._ends: dict[tuple[str | None, str | None], bytes] = {}

    def for_user(self, user_id: str, thread_id: str | None, run_id: str | None) -> Draft:
        """The draft for `user_id` (ids validated by the caller)."""
        end = self._ends.get((thread_id, run_id))
        if end is None:  # usually one (thread, run) pair for all users
            thread = b"null" if thread_id is None else b'"%s"' % thread_id.encode("ascii")
            run = b"null" if run_id is None else b'"%s"' % run_id.encode("ascii")
            end = self._ends[thread_id, run_id] = b'","thread_id":%s,"run_id":%s,"payload":' % (thread, run)
        return Draft(self._head, (self._ts, user_id.encode("ascii"), end, self._payload, b"}"))


def render_envelope(
    *,
    event_type: str,
    seq: int,
    epoch: str,
    ts: float,
    user_id: str,
    thread_id: str | None,
    run_id: str | None,
    payload_json: str,
) -> str:
    """One numbered envelope as text (benchmarks use it to send the same frames without wskit)."""
    draft = draft_envelope(
        event_type=event_type, ts=ts, user_id=user_id, thread_id=thread_id, run_id=run_id,
        payload_json=payload_json.encode("ascii"),
    )  # fmt: skip
    return draft.number(seq, epoch).decode("ascii")
