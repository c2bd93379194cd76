"""`History`: the bounded record of the envelopes sent to one user, keyed by `seq`.

It is what makes a reconnect lossless: a client that says which `seq` it saw last gets every
later envelope still kept, in order. When the envelopes it missed are older than what is kept
(by count or by age), it is told so (`ResyncRequired`) instead of being given a partial replay.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

__all__ = ["DEFAULT_HISTORY_MAX_AGE", "DEFAULT_HISTORY_MAX_MESSAGES", "History", "ResyncRequired"]

DEFAULT_HISTORY_MAX_MESSAGES = 1000
"""Envelopes kept per user."""

DEFAULT_HISTORY_MAX_AGE = 300.0
"""Seconds an envelope is kept (the registry's default idle timeout is the same 5 minutes)."""


class ResyncRequired(Exception):
    """The envelopes after `last_seq` are no longer all kept; the client must reload its state."""

    def __init__(self, last_seq: int, oldest_seq: int | None, latest_seq: int) -> None:
        super().__init__(f"cannot replay after seq {last_seq}: oldest kept is {oldest_seq}, latest is {latest_seq}")
        self.oldest_seq = oldest_seq
        self.latest_seq = latest_seq

    def as_message(self) -> dict[str, object]:
        """The control message sent to the client."""
        return {"type": "resync_required", "oldest_seq": self.oldest_seq, "latest_seq": self.latest_seq}


class History:
    """Envelopes of one user, oldest first, trimmed to `max_messages` and `max_age` seconds."""

    __slots__ = ("_clock", "_entries", "_latest", "max_age", "max_messages")

    def __init__(
        self,
        *,
        latest_seq: int = 0,
        max_messages: int = DEFAULT_HISTORY_MAX_MESSAGES,
        max_age: float = DEFAULT_HISTORY_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_messages = max_messages
        self.max_age = max_age
        self._clock = clock
        self._entries: collections.deque[tuple[int, float, bytes]] = collections.deque()
        self._latest = latest_seq

    @property
    def latest_seq(self) -> int:
        """The highest `seq` ever recorded (kept or not)."""
        return self._latest

    @property
    def oldest_seq(self) -> int | None:
        """The lowest `seq` still kept, or None when nothing is kept."""
        self._trim()
        return self._entries[0][0] if self._entries else None

    def __len__(self) -> int:
        self._trim()
        return len(self._entries)

    def record(self, seq: int, data: bytes) -> None:
        """Keep envelope `seq`; sequence numbers must increase."""
        if seq <= self._latest:
            raise ValueError(f"seq {seq} is not above the latest recorded seq {self._latest}")
        entries = self._entries
        entries.append((seq, self._clock(), data))
        self._latest = seq
        if len(entries) > self.max_messages:
            entries.popleft()
        # Entries past their age are dropped when the history is read (the count bounds memory).

    def since(self, last_seq: int) -> list[tuple[int, bytes]]:
        """Every kept envelope after `last_seq`, in order; `ResyncRequired` if some were dropped."""
        self._trim()
        if last_seq > self._latest:
            raise ResyncRequired(last_seq, self.oldest_seq, self._latest)
        if last_seq == self._latest:
            return []
        oldest = self._entries[0][0] if self._entries else self._latest + 1
        if last_seq + 1 < oldest:
            raise ResyncRequired(last_seq, self.oldest_seq, self._latest)
        return [(seq, data) for seq, _, data in self._entries if seq > last_seq]

    def _trim(self) -> None:
        entries = self._entries
        while len(entries) > self.max_messages:
            entries.popleft()
        deadline = self._clock() - self.max_age
        while entries and entries[0][1] < deadline:
            entries.popleft()
