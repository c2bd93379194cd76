"""Validation of the messages application code sends (`manager.send()`, `registry.broadcast()`).

A message is a mapping ``{"type": ..., "payload": ...}`` with optional ``thread_id`` and
``run_id``; everything else belongs under ``payload``. No I/O: the rules are unit-testable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wskit.core.context import validate_id

__all__ = ["MESSAGE_KEYS", "validate_message"]

MESSAGE_KEYS = frozenset({"type", "payload", "thread_id", "run_id"})
"""The keys a message may have."""

_TYPE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def validate_message(message: object) -> tuple[str, Any, str | None, str | None]:
    """Return `(type, payload, thread_id, run_id)` of a valid message.

    Raises `TypeError` when `message` is not a mapping, `ValueError` naming the bad key or value.
    """
    if not isinstance(message, Mapping):
        raise TypeError(
            f"message must be a mapping like {{'type': 'notice', 'payload': {{...}}}}; got {type(message).__name__}"
        )
    unexpected = set(message) - MESSAGE_KEYS
    if unexpected:
        raise ValueError(
            f"message has unexpected keys {sorted(map(str, unexpected))}; put custom fields under 'payload'"
            f" (allowed keys: {', '.join(sorted(MESSAGE_KEYS))})"
        )
    event_type = message.get("type")
    if not isinstance(event_type, str) or not _TYPE_PATTERN.fullmatch(event_type):
        raise ValueError(
            f"message['type'] must be 1-64 characters from [A-Za-z0-9._:-], such as 'notice'; got {event_type!r}"
        )
    thread_id = message.get("thread_id")
    run_id = message.get("run_id")
    if thread_id is not None:
        validate_id("thread_id", thread_id)
    if run_id is not None:
        validate_id("run_id", run_id)
    return event_type, message.get("payload"), thread_id, run_id
