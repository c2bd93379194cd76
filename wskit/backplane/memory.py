"""`InProcessBackplane`: envelopes numbered, kept and delivered in this process (the embedded default).

Each user's envelopes live in a `History` with its own epoch. The epoch is new for every history
this object creates (a random prefix per backplane, then a counter), so a client that resumes
after a server restart, or after its idle history was dropped, is told to resync instead of
being given envelopes of another stream under the same numbers. A disconnect reaches this
process's connections only; revocations are kept here until their time is up.
"""

from __future__ import annotations

import collections
import secrets
import time
from collections.abc import Callable, Iterable

from wskit.backplane.base import DeliverySink, Position, Published, Revocation
from wskit.core.budget import MemoryBudget
from wskit.core.envelope import Draft
from wskit.core.history import (
    DEFAULT_HISTORY_MAX_AGE,
    DEFAULT_HISTORY_MAX_BYTES,
    DEFAULT_HISTORY_MAX_MESSAGES,
    Entry,
    History,
)

__all__ = ["InProcessBackplane"]


class InProcessBackplane:
    """Numbers, keeps and delivers envelopes in this process.

    Args:
        history_max_messages, history_max_bytes, history_max_age: per user, how many envelopes,
            how many bytes of them, and for how many seconds, are kept for reconnecting clients.
        budget: the process's `MemoryBudget`, which every history reports its size to (and
            which evicts from them when it is exceeded); None for none.
        clock: monotonic seconds, injectable for tests of ageing.
    """

    def __init__(
        self,
        *,
        history_max_messages: int = DEFAULT_HISTORY_MAX_MESSAGES,
        history_max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
        history_max_age: float = DEFAULT_HISTORY_MAX_AGE,
        budget: MemoryBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("history_max_messages", history_max_messages), ("history_max_bytes", history_max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if isinstance(history_max_age, bool) or not isinstance(history_max_age, int | float) or not history_max_age > 0:
            raise ValueError(f"history_max_age must be a positive number of seconds; got {history_max_age!r}")
        self.history_max_messages = history_max_messages
        self.history_max_bytes = history_max_bytes
        self.history_max_age = float(history_max_age)
        self._clock = clock
        self._budget = budget
        self._histories: dict[str, History] = {}
        self._epoch_prefix = secrets.token_hex(4)
        self._epochs = 0
        self._subscribed: set[str] = set()
        # Users with no connection here, oldest first: their histories go once nothing is kept.
        self._unheld: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._sink: DeliverySink | None = None
        # Revocations and when each lapses (clock seconds), in the order they were last written.
        self._revocations: collections.OrderedDict[str, tuple[Revocation, float]] = collections.OrderedDict()

    def attach(self, sink: DeliverySink) -> None:
        """Register the local delivery sink (one per backplane)."""
        if self._sink is not None and self._sink is not sink:
            raise RuntimeError("this backplane already delivers to another registry; create one per registry")
        self._sink = sink

    async def start(self) -> None:
        """Nothing to connect to."""

    def history(self, user_id: str) -> History:
        """The user's history, created (with a new epoch) on first use."""
        history = self._histories.get(user_id)
        if history is None:
            self._sweep()
            self._epochs += 1
            history = History(
                f"{self._epoch_prefix}-{self._epochs}",
                max_messages=self.history_max_messages,
                max_age=self.history_max_age,
                max_bytes=self.history_max_bytes,
                clock=self._clock,
                budget=self._budget,
            )
            self._histories[user_id] = history
            if self._budget is not None:
                self._budget.track(user_id, history)
            if user_id not in self._subscribed:
                self._unheld[user_id] = self._clock()
        return history

    async def publish(self, user_id: str, draft: Draft) -> Published:
        """Number and keep the envelope, then hand it to this process's connections."""
        history = self._histories.get(user_id)
        if history is None:
            history = self.history(user_id)
        seq = history.next_seq()
        data = draft.number(seq, history.epoch)
        history.append(seq, data)
        delivered = 0 if self._sink is None else self._sink.deliver(user_id, ((seq, data),))
        if delivered:
            history.delivered_seq = seq
        return Published(seq, history.epoch, delivered)

    async def publish_many(self, drafts: Iterable[tuple[str, Draft]]) -> int:
        """Publish one envelope per user, in order; returns the local deliveries."""
        histories = self._histories
        deliver = self._sink.deliver if self._sink is not None else None
        now = self._clock()
        total = 0
        for user_id, draft in drafts:
            history = histories.get(user_id)
            if history is None:
                history = self.history(user_id)
            seq = history._latest + 1
            data = draft.number(seq, history.epoch)
            history.append(seq, data, now)
            if deliver is not None and (delivered := deliver(user_id, ((seq, data),))):
                history.delivered_seq = seq
                total += delivered
        return total

    async def replay(self, user_id: str, last_seq: int, epoch: str | None) -> list[Entry]:
        """The envelopes after `last_seq`, or `ResyncRequired` (a new user's history starts empty)."""
        return self.history(user_id).since(last_seq, epoch)

    async def position(self, user_id: str) -> Position:
        """The user's epoch and latest `seq` (None and 0 while it has no history here)."""
        history = self._histories.get(user_id)
        return Position(None, 0) if history is None else Position(history.epoch, history.latest_seq)

    async def undelivered(self, user_id: str, since: Position | None = None) -> list[Entry]:
        """Kept envelopes no connection of the user was written yet, and (with `since`) all after it."""
        history = self._histories.get(user_id)
        if history is None:
            return []
        if since is None:
            return history.undelivered()
        return history.undelivered(since.seq if since.epoch == history.epoch else 0)

    def note_delivered(self, user_id: str, seq: int) -> None:
        """Remember that envelope `seq` reached a connection."""
        history = self._histories.get(user_id)
        if history is not None and seq > history.delivered_seq:
            history.delivered_seq = seq

    async def subscribe(self, user_id: str) -> None:
        """Keep the user's history while connections are here."""
        self._subscribed.add(user_id)
        self._unheld.pop(user_id, None)

    def unsubscribe(self, user_id: str) -> None:
        """The user's last connection left: the history may go once it has aged out."""
        self._subscribed.discard(user_id)
        if user_id in self._histories:
            self._unheld[user_id] = self._clock()
            self._unheld.move_to_end(user_id)

    async def disconnect(self, user_id: str, reason: str, *, revoke: Revocation | None, ttl: float) -> int:
        """Close the user's connections here; keep `revoke` for `ttl` seconds. Returns 1 if any were open, else 0."""
        if revoke is not None:
            kept = self._revocation(user_id)
            if kept is None or revoke.before >= kept.before:
                self._revocations[user_id] = (revoke, self._clock() + ttl)
                self._revocations.move_to_end(user_id)
            self._forget_lapsed()
        closed = 0 if self._sink is None else self._sink.close_user(user_id, reason)
        return 1 if closed else 0

    async def revocation(self, user_id: str) -> Revocation | None:
        """The user's revocation, until its time is up."""
        return self._revocation(user_id)

    def health(self) -> str | None:
        """Always healthy: nothing here can be unreachable."""
        return None

    async def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        """Users with a history here."""
        return len(self._histories)

    def _revocation(self, user_id: str) -> Revocation | None:
        kept = self._revocations.get(user_id)
        if kept is None:
            return None
        if kept[1] <= self._clock():
            del self._revocations[user_id]
            return None
        return kept[0]

    def _forget_lapsed(self) -> None:
        """Drop revocations whose time is up, oldest written first (they lapse in that order for one ttl)."""
        now = self._clock()
        while self._revocations:
            user_id, (_, lapses) = next(iter(self._revocations.items()))
            if lapses > now:
                return
            del self._revocations[user_id]

    def _sweep(self) -> None:
        """Forget histories of users gone for longer than the history age (nothing of them is kept)."""
        deadline = self._clock() - self.history_max_age
        while self._unheld:
            user_id, since = next(iter(self._unheld.items()))
            if since > deadline:
                return
            del self._unheld[user_id]
            history = self._histories.get(user_id)
            if history is not None:
                if len(history) == 0:
                    del self._histories[user_id]
                    if self._budget is not None:
                        self._budget.forget(user_id)
                else:  # sent to while away: look again later
                    self._unheld[user_id] = self._clock()
