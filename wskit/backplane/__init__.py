"""Backplanes: where envelopes are numbered, kept and fanned out (see `wskit.backplane.base`).

`InProcessBackplane` is the embedded default; `RedisBackplane` (in `wskit.backplane.redis`,
which needs the `redis` package) serves several processes. `backplane_from_url()` builds either
from a command-line value.
"""

from wskit.backplane.base import Backplane, DeliverySink, Position, Published, Revocation
from wskit.backplane.memory import InProcessBackplane
from wskit.core.history import DEFAULT_HISTORY_MAX_AGE, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_MAX_MESSAGES

__all__ = [
    "Backplane",
    "DeliverySink",
    "InProcessBackplane",
    "Position",
    "Published",
    "Revocation",
    "backplane_from_url",
]


def backplane_from_url(
    url: str | None,
    *,
    history_max_messages: int = DEFAULT_HISTORY_MAX_MESSAGES,
    history_max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
    history_max_age: float = DEFAULT_HISTORY_MAX_AGE,
) -> Backplane:
    """`InProcessBackplane` for None or `memory://`, `RedisBackplane` for `redis://HOST:PORT/DB`.

    Raises `ValueError` (one line, password redacted) for anything else or a malformed URL.
    """
    limits = {"history_max_messages": history_max_messages, "history_max_bytes": history_max_bytes,
              "history_max_age": history_max_age}  # fmt: skip
    if url is None or url == "memory://":
        return InProcessBackplane(**limits)  # type: ignore[arg-type]
    if url.startswith("redis://"):
        from wskit.backplane.redis import RedisBackplane  # needs the redis package: only when asked for

        return RedisBackplane(url, **limits)  # type: ignore[arg-type]
    from wskit.backplane.redis import redact

    raise ValueError(f"bad backplane URL {redact(url)!r}: expected redis://HOST:PORT/DB (or memory://)")
