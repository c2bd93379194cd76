"""The seam between the managers and wherever envelopes are numbered, kept and fanned out.

A manager never numbers or stores an envelope itself: it hands a `Draft` to the backplane, which
numbers it (`seq` in the user's `epoch`), keeps it in the user's history, and hands it to every
process holding a connection of that user; the registry of each such process delivers it to its
local connections (`DeliverySink`), once and in `seq` order. "Accepted" means `publish()`
returned; a backplane that cannot store an envelope raises `BackplaneUnavailable`.

It also carries the control of a user's connections: `disconnect()` reaches every process holding
a connection of the user (each closes them through its sink), and keeps a `Revocation` (tokens
of the user issued before a moment are refused) for as long as such a token could be valid.

`InProcessBackplane` (`wskit.backplane.memory`) does it all in this process, the embedded
default; `RedisBackplane` (`wskit.backplane.redis`) across processes and machines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from wskit.core.envelope import Draft
from wskit.core.history import Entry

__all__ = ["Backplane", "DeliverySink", "Position", "Published", "Revocation"]


class Published(NamedTuple):
    """An accepted envelope: its `seq` and `epoch`, and how many connections of this process took it."""

    seq: int
    epoch: str
    delivered: int


class Position(NamedTuple):
    """Where a user's stream stands: its `epoch` (None while nothing is kept) and its latest `seq`."""

    epoch: str | None
    seq: int


class Revocation(NamedTuple):
    """Tokens of a user issued (`iat`) before `before` (seconds since the epoch) are refused, for `reason`."""

    before: float
    reason: str


class DeliverySink(Protocol):
    """Where a backplane hands envelopes to this process's connections (the registry)."""

    def deliver(self, user_id: str, entries: Sequence[Entry]) -> int:
        """Offer envelopes, in `seq` order, to the user's local connections; return how many took the last.

        The backplane records the user's seen mark when any took them."""
        ...

    def restart(self, user_id: str, notice: dict[str, object]) -> None:
        """The user's history was lost (a new epoch): tell the local connections, then start over at seq 1."""
        ...

    def close_user(self, user_id: str, reason: str) -> int:
        """Close every local connection of the user (a `disconnect()`); return how many."""
        ...


@runtime_checkable
class Backplane(Protocol):
    """Numbers, keeps and fans out each user's envelopes."""

    def attach(self, sink: DeliverySink) -> None:
        """Register this process's delivery sink (one per backplane)."""
        ...

    async def start(self) -> None:
        """Connect (if there is anything to connect to); raise `BackplaneUnavailable` if it cannot."""
        ...

    async def publish(self, user_id: str, draft: Draft) -> Published:
        """Number, keep and deliver one envelope; raise `BackplaneUnavailable` when it cannot be kept."""
        ...

    async def publish_many(self, drafts: Iterable[tuple[str, Draft]]) -> int:
        """Publish one envelope to each of several users (each at most once); return local deliveries."""
        ...

    async def replay(self, user_id: str, last_seq: int, epoch: str | None) -> list[Entry]:
        """The envelopes after `last_seq` (of `epoch`, if given), or `ResyncRequired`."""
        ...

    async def position(self, user_id: str) -> Position:
        """The user's stream now: a connection accepted after this read is owed every envelope after it."""
        ...

    async def undelivered(self, user_id: str, since: Position | None = None) -> list[Entry]:
        """Kept envelopes that no connection of the user was written yet; with `since` (a `position()`),
        also every kept one after it, whoever else was written it (all of them if the epoch changed)."""
        ...

    def note_delivered(self, user_id: str, seq: int) -> None:
        """Envelope `seq` was written to a connection of the user (cheap; may be recorded later)."""
        ...

    async def subscribe(self, user_id: str) -> None:
        """This process holds a connection of the user from now on: deliver the user's envelopes here."""
        ...

    def unsubscribe(self, user_id: str) -> None:
        """The user's last connection in this process is gone."""
        ...

    async def disconnect(self, user_id: str, reason: str, *, revoke: Revocation | None, ttl: float) -> int:
        """Close the user's connections in every process; with `revoke`, keep it for `ttl` seconds (the
        later of two revocations wins). Returns the processes told; raises `BackplaneUnavailable`."""
        ...

    async def revocation(self, user_id: str) -> Revocation | None:
        """The user's revocation in force, if any; raises `BackplaneUnavailable` when it cannot be read."""
        ...

    def health(self) -> str | None:
        """None when healthy, else one line saying what is wrong."""
        ...

    async def close(self) -> None:
        """Release connections and background tasks."""
        ...
