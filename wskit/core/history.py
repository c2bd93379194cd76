"""`History`: one user's numbered envelopes in this process (the in-process backplane's store).

It is what makes a reconnect lossless: a client that says which `seq` (of which `epoch`) it saw
last gets every later envelope still kept, in order (`replay_after`). When the envelopes it
missed are no longer all kept (by count, bytes or age), or its `epoch` is not this history's, it
is told so (`ResyncRequired`) instead of being given a partial or wrong replay. The same rule
serves the Redis backplane, whose history is a Redis stream.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence

from wskit.core.budget import MemoryBudget

__all__ = [
    "DEFAULT_HISTORY_MAX_AGE",
    "DEFAULT_HISTORY_MAX_BYTES",
    "DEFAULT_HISTORY_MAX_MESSAGES",
    "History",
    "ResyncRequired",
    "replay_after",
]

DEFAULT_HISTORY_MAX_MESSAGES = 1000
"""Envelopes kept per user."""

DEFAULT_HISTORY_MAX_AGE = 300.0
"""Seconds an envelope is kept (the registry's default idle timeout is the same 5 minutes)."""

DEFAULT_HISTORY_MAX_BYTES = 1024 * 1024
"""Bytes of envelopes kept per user (1 MiB): the count alone does not bound memory."""

Entry = tuple[int, bytes]
"""`(seq, envelope bytes)`."""


class ResyncRequired(Exception):
    """The envelopes after `last_seq` are no longer all kept (or belong to another epoch)."""

    def __init__(self, last_seq: int, epoch: str | None, oldest_seq: int | None, latest_seq: int) -> None:
        super().__init__(
            f"cannot replay after seq {last_seq}: epoch {epoch}, oldest kept is {oldest_seq}, latest is {latest_seq}"
        )
        self.epoch = epoch
        self.oldest_seq = oldest_seq
        self.latest_seq = latest_seq

    def as_message(self) -> dict[str, object]:
        """The control message sent to the client."""
        return {
            "type": "resync_required",
            "epoch": self.epoch,
            "oldest_seq": self.oldest_seq,
            "latest_seq": self.latest_seq,
        }


def replay_after(
    last_seq: int, client_epoch: str | None, *, epoch: str, latest_seq: int, kept: Sequence[Entry]
) -> list[Entry]:
    """The envelopes a client that saw `last_seq` of `client_epoch` missed, or `ResyncRequired`.

    `kept` is the history's oldest-first entries after some point at or before `last_seq + 1`
    (all of them, or a range read from the store); `latest_seq` the highest `seq` ever given.
    A client that names no epoch is trusted to speak of the current one.
    """
    oldest = kept[0][0] if kept else None
    if client_epoch is not None and client_epoch != epoch:
        raise ResyncRequired(last_seq, epoch, oldest, latest_seq)
    if last_seq == latest_seq:
        return []
    if last_seq > latest_seq or oldest is None or last_seq + 1 < oldest:
        raise ResyncRequired(last_seq, epoch, oldest, latest_seq)
    return [entry for entry in kept if entry[0] > last_seq]


class History:
    """The envelopes of one user, oldest first, trimmed to a count, a byte size and an age.

    `append()` numbers an envelope (`seq` = latest + 1) and keeps it; `delivered_seq` is the
    highest `seq` written to any connection of the user (what a fresh connection need not get).
    With a `budget`, every change of its size is reported there (which may evict from it).
    """

    __slots__ = (
        "_budget",
        "_bytes",
        "_clock",
        "_entries",
        "_latest",
        "delivered_seq",
        "epoch",
        "max_age",
        "max_bytes",
        "max_messages",
    )

    def __init__(
        self,
        epoch: str,
        *,
        max_messages: int = DEFAULT_HISTORY_MAX_MESSAGES,
        max_age: float = DEFAULT_HISTORY_MAX_AGE,
        max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        budget: MemoryBudget | None = None,
    ) -> None:
        self.epoch = epoch
        self._budget = budget
        self.max_messages = max_messages
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: collections.deque[tuple[int, float, bytes]] = collections.deque()
        self._latest = 0
        self._bytes = 0
        self.delivered_seq = 0

    @property
    def latest_seq(self) -> int:
        """The highest `seq` ever given (kept or not)."""
        return self._latest

    @property
    def oldest_seq(self) -> int | None:
        """The lowest `seq` still kept, or None when nothing is kept."""
        self._trim_age()
        return self._entries[0][0] if self._entries else None

    @property
    def size_bytes(self) -> int:
        """Bytes of the envelopes kept."""
        return self._bytes

    def __len__(self) -> int:
        self._trim_age()
        return len(self._entries)

    def next_seq(self) -> int:
        """The `seq` the next envelope gets."""
        return self._latest + 1

    def append(self, seq: int, data: bytes, now: float | None = None) -> None:
        """Keep envelope `seq`, which must be `next_seq()`; trim to the count and byte bounds.

        `now` is the clock's time if the caller read it already (a broadcast reads it once).
        """
        if seq != self._latest + 1:
            raise ValueError(f"seq {seq} is not the next seq {self._latest + 1}")
        entries = self._entries
        entries.append((seq, self._clock() if now is None else now, data))
        self._latest = seq
        grown = len(data)
        self._bytes += grown
        if len(entries) > self.max_messages or self._bytes > self.max_bytes:
            while len(entries) > self.max_messages or (self._bytes > self.max_bytes and len(entries) > 1):
                freed = len(entries.popleft()[2])
                self._bytes -= freed
                grown -= freed
        # Entries past their age are dropped when the history is read (the bounds above hold memory).
        if self._budget is not None:
            self._budget.grew(grown)

    def evict_oldest(self) -> int:
        """Drop the oldest kept envelope (to free memory for others); returns the bytes freed."""
        if not self._entries:
            return 0
        size = len(self._entries.popleft()[2])
        self._bytes -= size
        if self._budget is not None:
            self._budget.grew(-size)
        return size

    def since(self, last_seq: int, client_epoch: str | None = None) -> list[Entry]:
        """Every kept envelope after `last_seq`, in order; `ResyncRequired` if some were dropped."""
        self._trim_age()
        kept = [(seq, data) for seq, _, data in self._entries]
        return replay_after(last_seq, client_epoch, epoch=self.epoch, latest_seq=self._latest, kept=kept)

    def undelivered(self, since: int | None = None) -> list[Entry]:
        """Kept envelopes no connection was written yet (after `delivered_seq`), and every kept one
        after `since` if it is lower; without a resync notice."""
        self._trim_age()
        after = self.delivered_seq if since is None else min(since, self.delivered_seq)
        return [(seq, data) for seq, _, data in self._entries if seq > after]

    def _trim_age(self) -> None:
        entries = self._entries
        deadline = self._clock() - self.max_age
        freed = 0
        while entries and entries[0][1] < deadline:
            freed += len(entries.popleft()[2])
        if freed:
            self._bytes -= freed
            if self._budget is not None:
                self._budget.grew(-freed)
