"""The fan-out seam: managers allocate `seq` and publish envelopes through a backplane.

The in-process backplane delivers straight to the managers of this process. A cross-process
backplane (e.g. over Redis) implements the same three methods; the manager does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Backplane", "DeliverySink", "InProcessBackplane"]

DeliverySink = Callable[[str, int, str], int]
"""`sink(user_id, seq, frame) -> connections reached`: hands a frame to local connections."""


@runtime_checkable
class Backplane(Protocol):
    """Allocates per-user sequence numbers and carries frames to wherever the user is connected."""

    def attach(self, sink: DeliverySink) -> None:
        """Register the local delivery function that published frames are handed to."""
        ...

    async def next_seq(self, user_id: str) -> int:
        """Return the user's next sequence number (1, 2, 3, ... with no gaps or repeats)."""
        ...

    async def publish(self, user_id: str, seq: int, frame: str) -> int:
        """Deliver `frame` to the user's connections; return how many local connections took it."""
        ...


class InProcessBackplane:
    """Delivers in this process; sequence numbers are plain per-user counters."""

    __slots__ = ("_seqs", "_sink")

    def __init__(self) -> None:
        self._seqs: dict[str, int] = {}
        self._sink: DeliverySink | None = None

    def attach(self, sink: DeliverySink) -> None:
        """Register the local delivery function (one per backplane)."""
        if self._sink is not None and self._sink != sink:
            raise RuntimeError("this backplane already delivers to another registry; create one per registry")
        self._sink = sink

    async def next_seq(self, user_id: str) -> int:
        """Return the user's next sequence number; counters outlive released managers."""
        seq = self._seqs.get(user_id, 0) + 1
        self._seqs[user_id] = seq
        return seq

    async def publish(self, user_id: str, seq: int, frame: str) -> int:
        """Hand the frame to the attached registry; 0 when nothing is attached."""
        if self._sink is None:
            return 0
        return self._sink(user_id, seq, frame)
