"""`MemoryBudget`: one byte budget for a process's envelopes, kept histories and outbound buffers together.

Histories grow with every send; outbound buffers with every slow socket. Each is bounded per
user or per connection, but thousands of users within their share can still add up to more than
the machine has. The budget bounds the sum:

- a history that grows past the budget makes room by evicting the oldest envelopes of the users
  holding the most, down to a low-water mark (so evictions come in rounds, not on every send);
  a client that later resumes into an evicted range gets `resync_required`, never a partial replay;
- an outbound buffer that cannot be admitted even after evicting history is refused: its
  connection is a slow consumer (closed 1013, resumable), and the process does not grow.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["LOW_WATER", "MemoryBudget"]

logger = logging.getLogger(__name__)

LOW_WATER = 0.9
"""An eviction round frees memory until this share of the budget is in use."""


class Evictable(Protocol):
    """A user's history as the budget sees it."""

    @property
    def size_bytes(self) -> int:
        """Bytes it holds."""
        ...

    def evict_oldest(self) -> int:
        """Drop its oldest envelope; return the bytes freed (0 when empty)."""
        ...


class MemoryBudget:
    """Bytes held by histories and outbound buffers, against `limit` (None: count, never evict).

    Args:
        limit: the budget in bytes, or None to only count.
        clock: seconds, for the rate of the warning log line (injectable for tests).
    """

    __slots__ = ("_clock", "_histories", "_warned_at", "buffer_bytes", "evicted_bytes", "evictions",
                 "history_bytes", "limit")  # fmt: skip

    def __init__(self, limit: int | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
            raise ValueError(f"memory budget must be a positive number of bytes or None; got {limit!r}")
        self.limit = limit
        self.history_bytes = 0
        self.buffer_bytes = 0
        self.evictions = 0
        self.evicted_bytes = 0
        self._histories: dict[str, Evictable] = {}
        self._clock = clock
        self._warned_at: float | None = None

    @property
    def used(self) -> int:
        """Bytes held now, histories and buffers."""
        return self.history_bytes + self.buffer_bytes

    def track(self, user_id: str, history: Evictable) -> None:
        """Count `history` (of `user_id`) from now on; it reports its growth with `grew()`."""
        self._histories[user_id] = history
        self.history_bytes += history.size_bytes

    def forget(self, user_id: str) -> None:
        """Stop counting the user's history (it is being dropped)."""
        history = self._histories.pop(user_id, None)
        if history is not None:
            self.history_bytes -= history.size_bytes

    def grew(self, delta: int) -> None:
        """A history's size changed by `delta` bytes; evict if the budget is exceeded."""
        self.history_bytes += delta
        if self.limit is not None and delta > 0 and self.used > self.limit:
            self._evict(self.used - int(self.limit * LOW_WATER))

    def admit(self, size: int) -> bool:
        """Reserve `size` bytes for an outbound buffer, evicting history if needed; False if it cannot."""
        if self.limit is not None and self.used + size > self.limit:
            self._evict(self.used + size - int(self.limit * LOW_WATER))
            if self.used + size > self.limit:
                return False
        self.buffer_bytes += size
        return True

    def release(self, size: int) -> None:
        """An outbound buffer gave back `size` bytes (written, or dropped)."""
        self.buffer_bytes -= size

    def stats(self) -> dict[str, int | None]:
        """Bytes held by histories and buffers, the budget, evictions so far."""
        return {
            "history_bytes": self.history_bytes,
            "buffer_bytes": self.buffer_bytes,
            "memory_budget": self.limit,
            "evictions": self.evictions,
            "evicted_bytes": self.evicted_bytes,
        }

    def _evict(self, need: int) -> None:
        """Free at least `need` bytes: the oldest envelopes of the users holding the most, first."""
        now = self._clock()
        if self._warned_at is None or now - self._warned_at > 60:
            logger.warning(
                "memory budget of %d bytes reached (%d in histories, %d in buffers): evicting the oldest"
                " envelopes of the users holding the most; clients resuming into them will be told to resync",
                self.limit, self.history_bytes, self.buffer_bytes,
            )  # fmt: skip
        self._warned_at = now
        heap = [(-history.size_bytes, user_id) for user_id, history in self._histories.items() if history.size_bytes]
        heapq.heapify(heap)
        freed = 0
        while heap and freed < need:
            _, user_id = heapq.heappop(heap)
            history = self._histories[user_id]
            size = history.evict_oldest()  # it reports the change through grew(-size)
            freed += size
            self.evictions += 1
            self.evicted_bytes += size
            if history.size_bytes:
                heapq.heappush(heap, (-history.size_bytes, user_id))
