"""The fan-out seam: managers allocate `seq` and publish envelopes through a backplane.

The in-process backplane delivers straight to the managers of this process. A cross-process
backplane (e.g. over Redis) implements the same few methods; the manager does not change. The
batch methods exist for broadcasts, which number and deliver one envelope per user at once (a
networked backplane can pipeline them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Backplane", "DeliverySink", "InProcessBackplane"]

DeliverySink = Callable[[str, int, bytes], int]
"""`sink(user_id, seq, data) -> connections reached`: hands an envelope to local connections."""


@runtime_checkable
class Backplane(Protocol):
    """Allocates per-user sequence numbers and carries frames to wherever the user is connected."""

    def attach(self, sink: DeliverySink) -> None:
        """Register the local delivery function that published frames are handed to."""
        ...

    async def next_seq(self, user_id: str) -> int:
        """Return the user's next sequence number (1, 2, 3, ... with no gaps or repeats)."""
        ...

    async def next_seqs(self, user_ids: Sequence[str]) -> list[int]:
        """The next sequence number of each user, in order (each user at most once)."""
        ...

    async def last_seq(self, user_id: str) -> int:
        """The user's latest allocated sequence number (0 before the first)."""
        ...

    async def publish(self, user_id: str, seq: int, data: bytes) -> int:
        """Deliver envelope `data` to the user's connections; return how many local ones took it."""
        ...

    async def publish_many(self, envelopes: Sequence[tuple[str, int, bytes]]) -> int:
        """Deliver `(user_id, seq, data)` envelopes in order; return how many local connections took them."""
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

    async def next_seqs(self, user_ids: Sequence[str]) -> list[int]:
        """The next sequence number of each user."""
        seqs = self._seqs
        allocated = []
        for user_id in user_ids:
            seq = seqs.get(user_id, 0) + 1
            seqs[user_id] = seq
            allocated.append(seq)
        return allocated

    async def last_seq(self, user_id: str) -> int:
        """The user's latest sequence number (0 before the first)."""
        return self._seqs.get(user_id, 0)

    async def publish(self, user_id: str, seq: int, data: bytes) -> int:
        """Hand the envelope to the attached registry; 0 when nothing is attached."""
        if self._sink is None:
            return 0
        return self._sink(user_id, seq, data)

    async def publish_many(self, envelopes: Sequence[tuple[str, int, bytes]]) -> int:
        """Hand each envelope to the attached registry, in order."""
        sink = self._sink
        if sink is None:
            return 0
        delivered = 0
        for user_id, seq, data in envelopes:
            delivered += sink(user_id, seq, data)
        return delivered
