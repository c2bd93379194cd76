"""`_UnifiedWebSocketManagerImplementation`: THE WebSocket manager, one per user.

This is the only class in wskit that implements the manager role. Public code reaches it as
`wskit.WebSocketManager` and creates it only with `wskit.get_websocket_manager(user_context)`.
The manager is plain Python over its connections: it never opens sockets itself, so the rules
below are testable without a network:

- it only accepts connections authenticated as its own user, and only ever writes to those;
- every message becomes one envelope, serialized once, that the registry's backplane numbers
  (the user's next `seq`) and keeps in the user's bounded history, so a reconnecting client can
  resume from the last `seq` it saw, on this process or another;
- each connection has its own outbox, so a slow or failing socket never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, NoReturn, Protocol, final

from wskit.backplane.base import Backplane, Position
from wskit.core.budget import MemoryBudget
from wskit.core.context import UserContext, validate_id
from wskit.core.envelope import AGENT_EVENTS, Draft, draft_envelope, encode_json, validate_epoch
from wskit.core.errors import FactoryOnlyError, IsolationError
from wskit.core.history import Entry, ResyncRequired
from wskit.core.messages import validate_message
from wskit.core.outbox import Outbox, OutboxOverflow
from wskit.core.writers import writer_for
from wskit.protocols import WebSocketProtocol


class ManagerHost(Protocol):
    """What a manager needs from the registry that holds it (`ManagerRegistry` is the one host).

    Spelled out here so that this module does not import the registry, which imports it.
    """

    budget: MemoryBudget
    max_buffered_messages: int
    max_buffered_bytes: int
    send_timeout: float
    _messages_sent: int

    @property
    def backplane(self) -> Backplane: ...

    def _claim_connection(self, connection: WebSocketProtocol, user_id: str) -> str: ...

    def _release_connection(self, connection: WebSocketProtocol) -> None: ...

    def _note_active(self, manager: _UnifiedWebSocketManagerImplementation) -> None: ...

    def _note_idle(self, user_id: str) -> None: ...


__all__ = ["SLOW_CONSUMER_CLOSE_CODE", "DeliveryReport", "_UnifiedWebSocketManagerImplementation"]

logger = logging.getLogger(__name__)

SLOW_CONSUMER_CLOSE_CODE = 1013
"""Close code ("try again later") for a connection whose outbound buffer overflowed; its
envelopes stay in the user's history, so it can reconnect with `last_seq` and lose nothing."""


class DeliveryReport(int):
    """What `send()`/`emit()` return: the number of connections that took the envelope.

    It is an `int` (that count) with `seq` (the envelope's number) and `stored` (kept in the
    user's history). A send to a user with no live connection is `stored` and delivered 0
    times; the envelope reaches the user's next connection.
    """

    seq: int
    stored: bool

    def __new__(cls, delivered: int, *, seq: int, stored: bool) -> DeliveryReport:
        report = super().__new__(cls, delivered)
        report.seq = seq
        report.stored = stored
        return report

    @property
    def delivered(self) -> int:
        """Connections that took the envelope."""
        return int(self)

    def __repr__(self) -> str:
        return f"DeliveryReport(delivered={int(self)}, seq={self.seq}, stored={self.stored})"


@final
class _UnifiedWebSocketManagerImplementation:
    """The WebSocket manager of one user: owns that user's connections and sends to them.

    Do not instantiate it: call `get_websocket_manager(user_context)`, which returns the one
    manager of that user from a `ManagerRegistry`.
    """

    __slots__ = (
        "__weakref__",
        "_background",
        "_connections",
        "_dropped",
        "_failed",
        "_last_seq",
        "_outboxes",
        "_registry",
        "_sent",
        "_user_context",
        "_user_id",
        "_view",
    )

    _user_context: UserContext
    _user_id: str
    _registry: ManagerHost
    _connections: dict[str, WebSocketProtocol]
    _view: types.MappingProxyType[str, WebSocketProtocol]
    _outboxes: dict[str, Outbox]
    _background: set[asyncio.Task[None]] | None
    _sent: int
    _failed: int
    _dropped: int
    _last_seq: int

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise FactoryOnlyError(
            "WebSocketManager cannot be instantiated directly; call"
            " get_websocket_manager(user_context) with user_context=UserContext(user_id=...)"
        )

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        raise TypeError(
            "_UnifiedWebSocketManagerImplementation is the single manager implementation and cannot"
            " be subclassed; wrap a manager from get_websocket_manager() instead"
        )

    @classmethod
    def _for_registry(cls, user_context: UserContext, registry: ManagerHost) -> _UnifiedWebSocketManagerImplementation:
        """Build the manager of `user_context.user_id`; only `ManagerRegistry` calls this."""
        self = object.__new__(cls)
        self._user_context = user_context
        self._user_id = user_context.user_id
        self._registry = registry
        self._connections = {}
        self._view = types.MappingProxyType(self._connections)
        self._outboxes = {}
        self._background = None  # made when a connection is first closed in the background
        self._sent = 0
        self._failed = 0
        self._dropped = 0
        self._last_seq = 0
        return self

    def __repr__(self) -> str:
        return f"<WebSocketManager user_id={self.user_id!r} connections={len(self._connections)}>"

    @property
    def user_context(self) -> UserContext:
        """The context this manager was created for."""
        return self._user_context

    @property
    def user_id(self) -> str:
        """Shorthand for `user_context.user_id`."""
        return self._user_id

    @property
    def connections(self) -> Mapping[str, WebSocketProtocol]:
        """Read-only live view of this user's connections by connection id."""
        return self._view

    async def add_connection(
        self,
        connection: WebSocketProtocol,
        *,
        user_id: str,
        last_seq: int | None = None,
        epoch: str | None = None,
        hold: bool = False,
    ) -> str:
        """Start delivering to `connection`, authenticated as `user_id`; return its connection id.

        With `last_seq` (and the `epoch` it belongs to, if the client knows it), the envelopes
        after it are replayed first, or a `resync_required` message is sent when they are no
        longer all kept or belong to another epoch; without it, envelopes that reached no
        connection yet are delivered, and every one published after this call began. With
        `hold=True` nothing is written until `resume()` or `go_live()`, so a first-frame resume
        can still be honored in order.

        Raises `IsolationError` when `user_id` is not this manager's user or the connection
        already belongs to another user, `TypeError` when it is not a `WebSocketProtocol`, and
        `BackplaneUnavailable` when the backplane cannot be reached (nothing is kept then).
        """
        if not isinstance(connection, WebSocketProtocol):
            raise TypeError(
                f"connection must provide async send() and close() (WebSocketProtocol); got {type(connection).__name__}"
            )
        if user_id != self.user_id:
            raise IsolationError(
                f"connection authenticated as {user_id!r} cannot join the manager of {self.user_id!r};"
                f" use get_websocket_manager(UserContext(user_id={user_id!r}))"
            )
        _check_resume_point(last_seq, epoch)
        connection_id = self._registry._claim_connection(connection, self.user_id)
        # Held from the start: what is delivered while the replay is read waits here, and is
        # merged behind the replay by seq, so there is no gap and no duplicate.
        outbox = Outbox(
            writer_for(connection),
            lambda exc: self._on_outbox_failure(connection_id, exc),
            max_messages=self._registry.max_buffered_messages,
            max_bytes=self._registry.max_buffered_bytes,
            send_timeout=self._registry.send_timeout,
            held=True,
            budget=self._registry.budget,
        )
        self._connections[connection_id] = connection
        self._outboxes[connection_id] = outbox
        self._registry._note_active(self)
        try:
            backplane = self._registry.backplane
            # Read before subscribing: what is published meanwhile may reach another connection
            # of the user first, and is still owed to this one.
            since = await backplane.position(self._user_id) if not hold and last_seq is None else None
            await backplane.subscribe(self._user_id)
            if not hold:
                await self._catch_up(connection_id, last_seq, epoch, since)
        except BaseException:
            self._drop(connection_id)
            raise
        return connection_id

    async def resume(self, connection_id: str, last_seq: int, epoch: str | None = None) -> None:
        """Replay after `last_seq` (of `epoch`) to a held connection, then let live traffic through."""
        _check_resume_point(last_seq, epoch)
        outbox = self._outboxes.get(connection_id)
        if outbox is None:
            raise KeyError(f"no connection {connection_id!r} for user {self.user_id!r}")
        if not outbox.held:
            raise ValueError("this connection is already live; resume by reconnecting with last_seq")
        await self._catch_up(connection_id, last_seq, epoch)

    async def go_live(self, connection_id: str, *, since: Position | None = None) -> None:
        """Release a held connection without a resume: envelopes no connection was written yet come
        first, and with `since` (the backplane's `position()` read before the connection was
        accepted) every envelope after it."""
        if since is not None and not isinstance(since, Position):
            raise TypeError(f"since must be a wskit.backplane.Position or None; got {type(since).__name__}")
        outbox = self._outboxes.get(connection_id)
        if outbox is not None and outbox.held:
            await self._catch_up(connection_id, None, None, since)

    async def remove_connection(self, connection_id: str) -> bool:
        """Stop delivering to a connection (it is not closed); False if it was not here."""
        if not isinstance(connection_id, str):
            raise TypeError(
                f"connection_id must be the str add_connection() returned; got {type(connection_id).__name__}"
            )
        return self._drop(connection_id)

    async def send(self, message: Mapping[str, Any]) -> DeliveryReport:
        """Send `{"type": ..., "payload": ...}` (optionally `thread_id`, `run_id`) to this user.

        Returns a `DeliveryReport`: how many of the user's connections in this process took the
        envelope (0 when none is connected: the envelope is then `stored` for the next one).
        Raises `TypeError` for a payload JSON cannot encode, before anything is sent, and
        `BackplaneUnavailable` when the envelope could not be stored (it was not sent).
        """
        event_type, payload, thread_id, run_id = validate_message(message)
        return await self._publish(event_type, encode_json(payload), thread_id, run_id)

    async def emit(
        self,
        event_type: str,
        payload: Any,
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
    ) -> DeliveryReport:
        """Send one of the five agent events (see `wskit.core.envelope.AGENT_EVENTS`) to this user."""
        if event_type not in AGENT_EVENTS:
            raise ValueError(f"event_type must be one of {', '.join(AGENT_EVENTS)}; got {event_type!r}")
        if thread_id is not None:
            validate_id("thread_id", thread_id)
        if run_id is not None:
            validate_id("run_id", run_id)
        return await self._publish(event_type, encode_json(payload), thread_id, run_id)

    async def reply(self, connection_id: str, message: Mapping[str, Any]) -> bool:
        """Send a control message (e.g. an error or pong, no envelope, no `seq`) to one connection.

        Only this user's connections can be addressed; False if the connection is gone.
        """
        outbox = self._outboxes.get(connection_id)
        if outbox is None:
            return False
        return outbox.offer(encode_json(dict(message), "message").encode("ascii"))

    async def close_connection(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        """Close one of this user's connections with `code` and `reason`, after writing what it
        was already given (waiting at most a second for a slow socket)."""
        connection = self._connections.get(connection_id)
        if connection is None:
            return False
        outbox = self._outboxes[connection_id]
        outbox.release_after(None, ())
        try:
            async with asyncio.timeout(1.0):
                await outbox.flush()
        except TimeoutError:
            pass
        self._drop(connection_id)
        await connection.close(code, reason)
        return True

    def _close_all(self, code: int, reason: str) -> int:
        """Start closing every connection of this user here (as `close_connection`); return how many."""
        connection_ids = list(self._connections)
        for connection_id in connection_ids:
            self._spawn(self._close_quietly(connection_id, code, reason))
        return len(connection_ids)

    async def _close_quietly(self, connection_id: str, code: int, reason: str) -> None:
        try:
            await self.close_connection(connection_id, code, reason)
        except Exception as exc:  # the peer may already be gone; nothing left to clean up
            logger.debug("close failed: %r", exc)

    async def flush(self) -> None:
        """Wait until every accepted frame was written to its connection (or the connection dropped)."""
        await asyncio.gather(*(outbox.flush() for outbox in tuple(self._outboxes.values())))

    def stats(self) -> dict[str, Any]:
        """Counters of this manager: connections, messages sent, failed writes, dropped connections."""
        return {
            "user_id": self.user_id,
            "connections": len(self._connections),
            "messages_sent": self._sent,
            "last_seq": self._last_seq,
            "failed_deliveries": self._failed,
            "dropped_connections": self._dropped,
            "buffered_frames": sum(outbox.pending for outbox in self._outboxes.values()),
        }

    def _draft(self, event_type: str, payload_json: bytes, thread_id: str | None, run_id: str | None) -> Draft:
        """The envelope of one message, before the backplane numbers it."""
        context = self._user_context
        return draft_envelope(
            event_type=event_type,
            ts=time.time(),
            user_id=self._user_id,
            thread_id=thread_id if thread_id is not None else context.thread_id,
            run_id=run_id if run_id is not None else context.run_id,
            payload_json=payload_json,
        )

    async def _publish(
        self, event_type: str, payload_json: str, thread_id: str | None, run_id: str | None
    ) -> DeliveryReport:
        """Draft, publish and count one envelope; the caller validated and encoded everything."""
        draft = self._draft(event_type, payload_json.encode("ascii"), thread_id, run_id)
        published = await self._registry.backplane.publish(self._user_id, draft)
        self._count_sent(published.seq)
        return DeliveryReport(published.delivered, seq=published.seq, stored=True)

    def _count_sent(self, seq: int) -> None:
        self._sent += 1
        self._last_seq = seq
        self._registry._messages_sent += 1

    def _deliver_local(self, entries: Sequence[Entry]) -> int:
        """Offer published envelopes, in order, to each local connection; return how many took the last.

        The backplane, which called this, records that a connection took them (`note_delivered`).
        """
        # A snapshot: an overflowing outbox drops its connection while we iterate.
        outboxes = tuple(self._outboxes.values())
        delivered = 0
        for seq, data in entries:
            delivered = 0
            for outbox in outboxes:
                if outbox.offer(data, seq):
                    delivered += 1
        return delivered

    def _restart(self, notice: dict[str, object]) -> None:
        """The user's history was lost: tell every connection, and let seq start over."""
        data = encode_json(notice, "message").encode("ascii")
        for outbox in list(self._outboxes.values()):
            outbox.restart(data)

    async def _catch_up(
        self, connection_id: str, last_seq: int | None, epoch: str | None, since: Position | None = None
    ) -> None:
        """Write a held connection what it missed, then what was held for it, then let it go live."""
        backplane = self._registry.backplane
        notice = None
        if last_seq is None:
            missed = await backplane.undelivered(self._user_id, since)
        else:
            try:
                missed = await backplane.replay(self._user_id, last_seq, epoch)
            except ResyncRequired as resync:
                missed = []
                notice = encode_json(resync.as_message(), "message").encode("ascii")
        outbox = self._outboxes.get(connection_id)
        if outbox is None or not outbox.held:  # gone, or caught up by someone else meanwhile
            return
        outbox.release_after(notice, missed)
        if missed:
            backplane.note_delivered(self._user_id, missed[-1][0])

    def _on_outbox_failure(self, connection_id: str, exc: BaseException) -> None:
        connection = self._connections.get(connection_id)
        self._failed += 1
        self._drop(connection_id)
        if connection is not None and isinstance(exc, OutboxOverflow):
            # Closing awaits the peer, so it runs beside the sender instead of inside it.
            self._spawn(_close_quietly(connection, SLOW_CONSUMER_CLOSE_CODE, f"slow consumer: {exc}"[:120]))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        if self._background is None:
            self._background = set()
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _drop(self, connection_id: str) -> bool:
        connection = self._connections.pop(connection_id, None)
        if connection is None:
            return False
        self._outboxes.pop(connection_id).close()
        self._dropped += 1
        self._registry._release_connection(connection)
        if not self._connections:
            self._registry._note_idle(self.user_id)
        return True


def _check_resume_point(last_seq: object, epoch: object) -> None:
    if last_seq is not None and (isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0):
        raise ValueError(f"last_seq must be a non-negative int (the last seq the client received); got {last_seq!r}")
    if epoch is not None:
        validate_epoch(epoch)


async def _close_quietly(connection: WebSocketProtocol, code: int, reason: str) -> None:
    try:
        await connection.close(code, reason)
    except Exception as exc:  # the peer may already be gone; nothing left to clean up
        logger.debug("close failed: %r", exc)
