"""`ManagerRegistry`: one manager per user, bounded, with idle managers released.

A server owns one registry; notebooks and scripts share the process default
(`default_registry()`). The registry is also where isolation is enforced across managers:
a connection belongs to exactly one user at a time, and where its backplane hands envelopes
to this process's connections (it is the backplane's `DeliverySink`).

`disconnect_user()` closes a user's connections in every process that shares the backplane (close
code 4003), and can revoke the user's tokens issued until now for `max_token_lifetime` seconds.
"""

from __future__ import annotations

import collections
import math
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wskit.backplane import Backplane, InProcessBackplane, Revocation
from wskit.core.budget import MemoryBudget
from wskit.core.context import UserContext, validate_id
from wskit.core.envelope import SharedDraft, encode_json
from wskit.core.errors import IsolationError, RegistryFullError
from wskit.core.history import DEFAULT_HISTORY_MAX_AGE, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_MAX_MESSAGES, Entry
from wskit.core.messages import validate_message
from wskit.core.outbox import DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_BUFFERED_MESSAGES, DEFAULT_SEND_TIMEOUT
from wskit.protocols import WebSocketProtocol
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation as _Manager

__all__ = ["DEFAULT_MAX_TOKEN_LIFETIME", "USER_DISCONNECTED", "ManagerRegistry", "default_registry"]

DEFAULT_MAX_TOKEN_LIFETIME = 86_400
"""Longest token lifetime (`exp - iat`, seconds) servers accept, and how long a revocation is kept."""

USER_DISCONNECTED = 4003
"""Close code of `disconnect_user()` (an application code, RFC 6455 7.4.2; 403-like: not your session
any more), with the caller's reason."""

_MAX_REASON_BYTES = 120  # a close frame's reason holds at most 123 bytes


def _require_positive(name: str, value: object, *, integer: bool = True) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:  # type: ignore[operator]
        kind = "int" if integer else "number"
        raise ValueError(f"{name} must be a positive {kind}; got {value!r}")


class ManagerRegistry:
    """Holds the manager of each user: same user, same manager; different users, nothing shared.

    Args:
        idle_timeout: seconds a manager with no connections is kept before it is released.
            A released manager that is still referenced elsewhere stays that user's manager.
        max_managers: most managers held at once; when full, the longest-idle one is released,
            and if every manager has connections `RegistryFullError` is raised.
        backplane: where envelopes are numbered, kept and fanned out (default: a new
            `InProcessBackplane` with the history limits below; a given backplane has its own).
        max_buffered_messages, max_buffered_bytes: per-connection outbox limits; a connection
            that exceeds them is a slow consumer and is closed.
        send_timeout: seconds one write may wait for a connection's socket before that
            connection is a slow consumer and is closed.
        history_max_messages, history_max_bytes, history_max_age: per user, how many envelopes,
            how many bytes of them, and for how many seconds, the default backplane keeps.
        memory_budget: bytes this process may hold in histories and outbound buffers together
            (None: no process-wide bound, only the per-user and per-connection ones); see
            `wskit.core.budget`. It must hold at least one user's history and one connection's buffer.
        max_token_lifetime: seconds a token may last (`exp - iat`) for servers using this
            registry, and how long `disconnect_user(..., revoke=True)` keeps its revocation; use
            the same value in every process that shares a backplane.
        clock: monotonic seconds, injectable for tests of idle release.
    """

    def __init__(
        self,
        *,
        idle_timeout: float = 300.0,
        max_managers: int = 10_000,
        backplane: Backplane | None = None,
        max_buffered_messages: int = DEFAULT_MAX_BUFFERED_MESSAGES,
        max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        history_max_messages: int = DEFAULT_HISTORY_MAX_MESSAGES,
        history_max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
        history_max_age: float = DEFAULT_HISTORY_MAX_AGE,
        memory_budget: int | None = None,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _require_positive("idle_timeout", idle_timeout, integer=False)
        _require_positive("max_token_lifetime", max_token_lifetime, integer=False)
        if max_token_lifetime == math.inf:  # a revocation must end: Redis keeps it with a TTL
            raise ValueError("max_token_lifetime must be a finite number of seconds; got inf")
        _require_positive("max_managers", max_managers)
        _require_positive("max_buffered_messages", max_buffered_messages)
        _require_positive("max_buffered_bytes", max_buffered_bytes)
        _require_positive("send_timeout", send_timeout, integer=False)
        self.budget = MemoryBudget(memory_budget)
        if memory_budget is not None:
            if backplane is None:
                smallest = history_max_bytes + max_buffered_bytes
                what = f"one user's history, {history_max_bytes}, and one connection's buffer, {max_buffered_bytes}"
            else:
                smallest, what = max_buffered_bytes, f"one connection's buffer, {max_buffered_bytes}"
            if memory_budget < smallest:
                raise ValueError(f"memory_budget must be at least {smallest} bytes ({what}); got {memory_budget}")
        if backplane is None:
            backplane = InProcessBackplane(
                history_max_messages=history_max_messages,
                history_max_bytes=history_max_bytes,
                history_max_age=history_max_age,
                budget=self.budget,
                clock=clock,
            )
        elif not isinstance(backplane, Backplane):
            raise TypeError(f"backplane must implement wskit.backplane.Backplane; got {type(backplane).__name__}")
        elif (history_max_messages, history_max_bytes, history_max_age) != (
            DEFAULT_HISTORY_MAX_MESSAGES, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_MAX_AGE,
        ):  # fmt: skip
            raise ValueError("history limits belong to the backplane when one is given; set them on the backplane")
        self.idle_timeout = float(idle_timeout)
        self.max_managers = max_managers
        self.max_buffered_messages = max_buffered_messages
        self.max_buffered_bytes = max_buffered_bytes
        self.send_timeout = float(send_timeout)
        self.max_token_lifetime = max_token_lifetime
        self._clock = clock
        self._backplane: Backplane = backplane
        backplane.attach(self)
        self._managers: dict[str, _Manager] = {}
        self._released: weakref.WeakValueDictionary[str, _Manager] = weakref.WeakValueDictionary()
        self._idle_since: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._owners: dict[int, tuple[str, WebSocketProtocol]] = {}
        self._connection_counter = 0
        self._messages_sent = 0

    @property
    def backplane(self) -> Backplane:
        """The backplane this registry's managers publish through."""
        return self._backplane

    def get_or_create(self, user_context: UserContext) -> _Manager:
        """Return the manager of `user_context.user_id`, creating it on first use."""
        if not isinstance(user_context, UserContext):
            raise TypeError(
                f"pass user_context=UserContext(user_id=...); got {type(user_context).__name__} {user_context!r}"
            )
        self.release_idle()
        user_id = user_context.user_id
        manager = self._managers.get(user_id)
        if manager is None:
            manager = self._released.pop(user_id, None)
        if manager is None:
            self._make_room()
            manager = _Manager._for_registry(user_context, self)
        if user_id not in self._managers:
            self._managers[user_id] = manager
            if not manager.connections:
                self._idle_since[user_id] = self._clock()
        return manager

    def get(self, user_id: str) -> _Manager | None:
        """The manager of `user_id` if one exists, else None (never creates one)."""
        manager = self._managers.get(user_id)
        return self._released.get(user_id) if manager is None else manager

    def release_idle(self) -> int:
        """Release managers idle for `idle_timeout` seconds or more; return how many were released."""
        deadline = self._clock() - self.idle_timeout
        released = 0
        while self._idle_since:
            user_id, since = next(iter(self._idle_since.items()))
            if since > deadline:
                break
            self._release(user_id)
            released += 1
        return released

    async def broadcast(self, message: Mapping[str, Any]) -> int:
        """Send `message` to every user held here (each gets its own `seq`); return connections reached.

        This is the only way to reach more than one user, so nothing broadcasts by accident.
        The message is validated and its payload encoded once for all users.
        """
        event_type, payload, thread_id, run_id = validate_message(message)
        shared = SharedDraft(event_type=event_type, ts=time.time(), payload_json=encode_json(payload).encode("ascii"))
        managers = list(self._managers.items())
        # A generator: each user's draft is made when it is numbered and dropped after, so a
        # broadcast to many users holds one draft at a time, not one per user.
        drafts = (
            (user_id, shared.for_user(
                user_id,
                thread_id if thread_id is not None else manager._user_context.thread_id,
                run_id if run_id is not None else manager._user_context.run_id,
            ))
            for user_id, manager in managers
        )  # fmt: skip
        delivered = await self._backplane.publish_many(drafts)
        self._messages_sent += len(managers)
        return delivered

    async def disconnect_user(self, user_id: str, reason: str, *, revoke: bool = False) -> int:
        """Close every connection of `user_id`, in every process sharing the backplane, with close
        code 4003 (`USER_DISCONNECTED`) and `reason`; return how many processes were told.

        With `revoke=True`, tokens of the user issued (`iat`) before now are also refused, at the
        handshake (401 with `reason`) and at refresh, in every process, for `max_token_lifetime`
        seconds. Raises `ValueError` for a bad user id or reason, `BackplaneUnavailable` when the
        backplane cannot be reached (then nothing was done).
        """
        validate_id("user_id", user_id)
        if (
            not isinstance(reason, str)
            or not reason.isprintable()
            or not reason.strip()
            or (len(reason.encode()) > _MAX_REASON_BYTES)
        ):
            raise ValueError(
                f"reason must be one line of 1 to {_MAX_REASON_BYTES} UTF-8 bytes (it is the close frame's reason);"
                f" got {reason!r:.60}"
            )
        if not isinstance(revoke, bool):
            raise TypeError(f"revoke must be True or False; got {type(revoke).__name__}")
        revocation = Revocation(time.time(), reason) if revoke else None
        return await self._backplane.disconnect(user_id, reason, revoke=revocation, ttl=self.max_token_lifetime)

    def close_user(self, user_id: str, reason: str) -> int:
        """Close the user's connections here with 4003 and `reason` (the backplane calls this); return how many."""
        manager = self._managers.get(user_id)  # a manager with connections is never a released one
        return 0 if manager is None else manager._close_all(USER_DISCONNECTED, reason)

    def deliver(self, user_id: str, entries: Sequence[Entry]) -> int:
        """Hand published envelopes to the user's connections here (the backplane calls this)."""
        manager = self._managers.get(user_id) or self._released.get(user_id)
        return 0 if manager is None else manager._deliver_local(entries)

    def restart(self, user_id: str, notice: dict[str, object]) -> None:
        """The user's history was lost: tell its connections here (the backplane calls this)."""
        manager = self._managers.get(user_id) or self._released.get(user_id)
        if manager is not None:
            manager._restart(notice)

    def health(self) -> str | None:
        """None when the registry can deliver, else one line saying why not (its backplane)."""
        return self._backplane.health()

    def users(self) -> list[str]:
        """The user ids with a manager held here, sorted."""
        return sorted(self._managers)

    def __len__(self) -> int:
        return len(self._managers)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._managers

    def stats(self) -> dict[str, int | None]:
        """Counts across all users: managers held, live connections, messages sent, and the bytes
        held in histories and buffers against the memory budget (with evictions so far)."""
        return {
            "users": len(self._managers),
            "connections": len(self._owners),
            "messages_sent": self._messages_sent,
            **self.budget.stats(),
        }

    def _make_room(self) -> None:
        if len(self._managers) < self.max_managers:
            return
        if not self._idle_since:
            raise RegistryFullError(
                f"registry holds max_managers={self.max_managers} managers and all have connections;"
                " raise max_managers or disconnect users"
            )
        self._release(next(iter(self._idle_since)))

    def _release(self, user_id: str) -> None:
        del self._idle_since[user_id]
        manager = self._managers.pop(user_id)
        self._released[user_id] = manager

    def _claim_connection(self, connection: WebSocketProtocol, user_id: str) -> str:
        owner = self._owners.get(id(connection))
        if owner is not None:
            raise IsolationError(
                f"this connection already belongs to user {owner[0]!r}; remove it there before adding it"
                f" for {user_id!r}"
            )
        self._owners[id(connection)] = (user_id, connection)
        self._connection_counter += 1
        return f"conn-{self._connection_counter}"

    def _release_connection(self, connection: WebSocketProtocol) -> None:
        self._owners.pop(id(connection), None)

    def _note_active(self, manager: _Manager) -> None:
        user_id = manager.user_id
        self._idle_since.pop(user_id, None)
        if user_id not in self._managers:
            # A released manager that someone still held got a connection again: adopt it back.
            self._released.pop(user_id, None)
            self._managers[user_id] = manager

    def _note_idle(self, user_id: str) -> None:
        self._backplane.unsubscribe(user_id)
        if user_id in self._managers:
            self._idle_since[user_id] = self._clock()
            self._idle_since.move_to_end(user_id)


_default_registry: ManagerRegistry | None = None


def default_registry() -> ManagerRegistry:
    """The process-wide registry used when no registry is passed (notebooks, scripts)."""
    global _default_registry
    if _default_registry is None:
        _default_registry = ManagerRegistry()
    return _default_registry
