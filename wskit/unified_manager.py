"""`_UnifiedWebSocketManagerImplementation`: THE WebSocket manager, one per user.

This is the only class in wskit that implements the manager role. Public code reaches it as
`wskit.WebSocketManager` and creates it only with `wskit.get_websocket_manager(user_context)`.
The manager is plain Python over its connections: it never opens sockets itself, so the rules
below are testable without a network:

- it only accepts connections authenticated as its own user, and only ever writes to those;
- every message becomes one envelope with the user's next `seq`, serialized once, and is kept
  in the user's bounded history, so a reconnecting client can resume from the last `seq` it saw;
- each connection has its own outbox, so a slow or failing socket never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, final

from wskit.context import UserContext, validate_id
from wskit.envelope import AGENT_EVENTS, encode_json, render_envelope
from wskit.errors import FactoryOnlyError, IsolationError
from wskit.history import History, ResyncRequired
from wskit.messages import validate_message
from wskit.outbox import Outbox, OutboxOverflow
from wskit.protocols import WebSocketProtocol
from wskit.writers import writer_for

if TYPE_CHECKING:
    from wskit.registry import ManagerRegistry

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
        "_history",
        "_last_seq",
        "_outboxes",
        "_pending_from",
        "_registry",
        "_sent",
        "_user_context",
        "_user_id",
        "_view",
    )

    _user_context: UserContext
    _user_id: str
    _registry: ManagerRegistry
    _connections: dict[str, WebSocketProtocol]
    _view: types.MappingProxyType[str, WebSocketProtocol]
    _outboxes: dict[str, Outbox]
    _history: History | None
    _pending_from: int | None
    _background: set[asyncio.Task[None]]
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
    def _for_registry(
        cls, user_context: UserContext, registry: ManagerRegistry
    ) -> _UnifiedWebSocketManagerImplementation:
        """Build the manager of `user_context.user_id`; only `ManagerRegistry` calls this."""
        self = object.__new__(cls)
        self._user_context = user_context
        self._user_id = user_context.user_id
        self._registry = registry
        self._connections = {}
        self._view = types.MappingProxyType(self._connections)
        self._outboxes = {}
        self._history = None
        self._pending_from = None
        self._background = set()
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
        hold: bool = False,
    ) -> str:
        """Start delivering to `connection`, authenticated as `user_id`; return its connection id.

        With `last_seq`, the envelopes after it are replayed first (or a `resync_required`
        message is sent when they are no longer all kept); without it, envelopes that reached
        no connection yet are delivered. With `hold=True` nothing is written until `resume()`
        or `go_live()`, so a first-frame resume can still be honored in order.

        Raises `IsolationError` when `user_id` is not this manager's user or the connection
        already belongs to another user, `TypeError` when it is not a `WebSocketProtocol`.
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
        _check_last_seq(last_seq)
        history = await self._ensure_history()
        # From here on nothing awaits: the replay is computed and the connection goes live
        # atomically with respect to other sends, so there is no gap and no reordering.
        connection_id = self._registry._claim_connection(connection, self.user_id)
        outbox = Outbox(
            writer_for(connection),
            lambda exc: self._on_outbox_failure(connection_id, exc),
            max_messages=self._registry.max_buffered_messages,
            max_bytes=self._registry.max_buffered_bytes,
            send_timeout=self._registry.send_timeout,
            held=hold,
        )
        self._connections[connection_id] = connection
        self._outboxes[connection_id] = outbox
        self._registry._note_active(self)
        if not hold:
            self._replay(outbox, history, last_seq)
        return connection_id

    async def resume(self, connection_id: str, last_seq: int) -> None:
        """Replay after `last_seq` to a held connection, then let live traffic through."""
        _check_last_seq(last_seq)
        outbox = self._outboxes.get(connection_id)
        if outbox is None:
            raise KeyError(f"no connection {connection_id!r} for user {self.user_id!r}")
        if not outbox.held:
            raise ValueError("this connection is already live; resume by reconnecting with last_seq")
        history = await self._ensure_history()
        outbox.discard_held()  # everything it held is in the history and comes back in order
        self._replay(outbox, history, last_seq)
        outbox.release()

    def go_live(self, connection_id: str) -> None:
        """Release a held connection without a resume (undelivered envelopes come first)."""
        outbox = self._outboxes.get(connection_id)
        if outbox is not None and outbox.held:
            if self._history is not None:
                self._replay(outbox, self._history, None)
            outbox.release()

    async def remove_connection(self, connection_id: str) -> bool:
        """Stop delivering to a connection (it is not closed); False if it was not here."""
        if not isinstance(connection_id, str):
            raise TypeError(
                f"connection_id must be the str add_connection() returned; got {type(connection_id).__name__}"
            )
        return self._drop(connection_id)

    async def send(self, message: Mapping[str, Any]) -> DeliveryReport:
        """Send `{"type": ..., "payload": ...}` (optionally `thread_id`, `run_id`) to this user.

        Returns a `DeliveryReport`: how many of the user's connections took the envelope (0
        when none is connected: the envelope is then `stored` for the next connection).
        Raises `TypeError` for a payload JSON cannot encode, before anything is sent.
        """
        event_type, payload, thread_id, run_id = validate_message(message)
        delivered, seq = await self._publish(event_type, encode_json(payload), thread_id, run_id)
        return DeliveryReport(delivered, seq=seq, stored=True)

    async def emit(
        self,
        event_type: str,
        payload: Any,
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
    ) -> DeliveryReport:
        """Send one of the five agent events (see `wskit.envelope.AGENT_EVENTS`) to this user."""
        if event_type not in AGENT_EVENTS:
            raise ValueError(f"event_type must be one of {', '.join(AGENT_EVENTS)}; got {event_type!r}")
        if thread_id is not None:
            validate_id("thread_id", thread_id)
        if run_id is not None:
            validate_id("run_id", run_id)
        delivered, seq = await self._publish(event_type, encode_json(payload), thread_id, run_id)
        return DeliveryReport(delivered, seq=seq, stored=True)

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
        outbox.release()
        try:
            async with asyncio.timeout(1.0):
                await outbox.flush()
        except TimeoutError:
            pass
        self._drop(connection_id)
        await connection.close(code, reason)
        return True

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
            "history_size": len(self._history) if self._history is not None else 0,
            "undelivered_from_seq": self._pending_from,
        }

    async def _ensure_history(self) -> History:
        if self._history is None:
            latest = await self._registry.backplane.last_seq(self.user_id)
            if self._history is None:  # another coroutine may have created it meanwhile
                self._history = History(
                    latest_seq=latest,
                    max_messages=self._registry.history_max_messages,
                    max_age=self._registry.history_max_age,
                )
        return self._history

    async def _publish(
        self, event_type: str, payload_json: str, thread_id: str | None, run_id: str | None
    ) -> tuple[int, int]:
        """Number, record and deliver one envelope: (connections reached, seq).

        The caller validated and encoded everything; this is the hot path of every send.
        """
        history = self._history if self._history is not None else await self._ensure_history()
        backplane = self._registry.backplane
        seq = await backplane.next_seq(self._user_id)
        data = self._record(history, seq, event_type, payload_json, thread_id, run_id)
        return await backplane.publish(self._user_id, seq, data), seq

    def _record(  # noqa: PLR0917 - the hot path: positional on purpose
        self, history: History, seq: int, event_type: str, payload_json: str, thread_id: str | None, run_id: str | None
    ) -> bytes:
        """Render envelope `seq` once and keep it in the history; returns its bytes."""
        context = self._user_context
        data = render_envelope(
            event_type=event_type,
            seq=seq,
            ts=time.time(),
            user_id=self._user_id,
            thread_id=thread_id if thread_id is not None else context.thread_id,
            run_id=run_id if run_id is not None else context.run_id,
            payload_json=payload_json,
        ).encode("ascii")
        history.record(seq, data)
        self._sent += 1
        self._last_seq = seq
        self._registry._messages_sent += 1
        return data

    def _deliver_local(self, seq: int, data: bytes) -> int:
        """Offer a published envelope to each local connection; return how many took it."""
        delivered = 0
        # A snapshot: an overflowing outbox drops its connection while we iterate.
        for outbox in list(self._outboxes.values()):
            if outbox.offer(data, seq):
                delivered += 1
        if not delivered and self._pending_from is None:
            self._pending_from = seq
        return delivered

    def _replay(self, outbox: Outbox, history: History, last_seq: int | None) -> None:
        """Queue what `outbox` missed: after `last_seq` if given, else what no connection got."""
        if last_seq is None:
            pending, self._pending_from = self._pending_from, None
            oldest = history.oldest_seq
            if pending is not None and oldest is not None:
                # The client asked for nothing: it gets what is still kept, without a resync notice.
                outbox.offer_all(history.since(max(pending, oldest) - 1))
            return
        self._pending_from = None
        try:
            missed = history.since(last_seq)
        except ResyncRequired as resync:
            outbox.offer(encode_json(resync.as_message(), "message").encode("ascii"))
            return
        outbox.offer_all(missed)

    def _on_outbox_failure(self, connection_id: str, exc: BaseException) -> None:
        connection = self._connections.get(connection_id)
        self._failed += 1
        self._drop(connection_id)
        if connection is not None and isinstance(exc, OutboxOverflow):
            # Closing awaits the peer, so it runs beside the sender instead of inside it.
            task = asyncio.get_running_loop().create_task(
                _close_quietly(connection, SLOW_CONSUMER_CLOSE_CODE, f"slow consumer: {exc}"[:120])
            )
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


def _check_last_seq(last_seq: object) -> None:
    if last_seq is not None and (isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0):
        raise ValueError(f"last_seq must be a non-negative int (the last seq the client received); got {last_seq!r}")


async def _close_quietly(connection: WebSocketProtocol, code: int, reason: str) -> None:
    try:
        await connection.close(code, reason)
    except Exception as exc:  # the peer may already be gone; nothing left to clean up
        logger.debug("close failed: %r", exc)
