"""The envelope every outgoing message travels in, serialized once per message.

An envelope is one JSON object ``{"type", "seq", "ts", "user_id", "thread_id", "run_id",
"payload"}`` sent as one text frame. `seq` increases by one per message per user; `ts` is
seconds since the Unix epoch (float).
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["AGENT_EVENTS", "ENVELOPE_KEYS", "encode_json", "render_envelope"]

AGENT_EVENTS: Final = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)
"""The five agent events, in the order a run emits them."""

ENVELOPE_KEYS: Final = ("type", "seq", "ts", "user_id", "thread_id", "run_id", "payload")

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


def render_envelope(
    *,
    event_type: str,
    seq: int,
    ts: float,
    user_id: str,
    thread_id: str | None,
    run_id: str | None,
    payload_json: str,
) -> str:
    """Assemble the envelope's JSON text around an already encoded payload.

    The payload is encoded once by the caller (so encoding errors surface before a `seq` is
    spent, and a broadcast encodes it once for all users). The other fields are written
    directly: the type and ids must already be validated, and their character sets
    (`[A-Za-z0-9._:@-]`) need no JSON escaping.
    """
    thread = "null" if thread_id is None else f'"{thread_id}"'
    run = "null" if run_id is None else f'"{run_id}"'
    return (
        f'{{"type":"{event_type}","seq":{seq},"ts":{ts!r},"user_id":"{user_id}",'
        f'"thread_id":{thread},"run_id":{run},"payload":{payload_json}}}'
    )
