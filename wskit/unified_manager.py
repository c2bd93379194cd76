"""`_UnifiedWebSocketManagerImplementation`: THE WebSocket manager, one per user.

This is the only class in wskit that implements the manager role. Public code reaches it as
`wskit.WebSocketManager` and creates it only with `wskit.get_websocket_manager(user_context)`.
The manager is plain Python over its connections: it never opens sockets itself, so the rules
below are testable without a network:

- it only accepts connections authenticated as its own user, and only ever writes to those;
- every message becomes one envelope with the user's next `seq`, serialized once;
- each connection has its own outbox, so a slow or failing socket never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, final

from wskit.context import UserContext, validate_id
from wskit.envelope import AGENT_EVENTS, encode_json, render_envelope
from wskit.errors import FactoryOnlyError, IsolationError
from wskit.outbox import Outbox, OutboxOverflow
from wskit.protocols import WebSocketProtocol

if TYPE_CHECKING:
    from wskit.registry import ManagerRegistry

__all__ = ["SLOW_CONSUMER_CLOSE_CODE", "_UnifiedWebSocketManagerImplementation"]

logger = logging.getLogger(__name__)

SLOW_CONSUMER_CLOSE_CODE = 1013
"""Close code ("try again later") for a connection whose outbound buffer overflowed."""

_MESSAGE_KEYS = frozenset({"type", "payload", "thread_id", "run_id"})
_TYPE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


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
        "_view",
    )

    _user_context: UserContext
    _registry: ManagerRegistry
    _connections: dict[str, WebSocketProtocol]
    _view: types.MappingProxyType[str, WebSocketProtocol]
    _outboxes: dict[str, Outbox]
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
        self._registry = registry
        self._connections = {}
        self._view = types.MappingProxyType(self._connections)
        self._outboxes = {}
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
        return self._user_context.user_id

    @property
    def connections(self) -> Mapping[str, WebSocketProtocol]:
        """Read-only live view of this user's connections by connection id."""
        return self._view

    async def add_connection(self, connection: WebSocketProtocol, *, user_id: str) -> str:
        """Start delivering to `connection`, authenticated as `user_id`; return its connection id.

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
        connection_id = self._registry._claim_connection(connection, self.user_id)
        outbox = Outbox(
            connection,
            lambda exc: self._on_outbox_failure(connection_id, exc),
            max_messages=self._registry.max_buffered_messages,
            max_bytes=self._registry.max_buffered_bytes,
        )
        self._connections[connection_id] = connection
        self._outboxes[connection_id] = outbox
        self._registry._note_active(self)
        return connection_id

    async def remove_connection(self, connection_id: str) -> bool:
        """Stop delivering to a connection (it is not closed); False if it was not here."""
        if not isinstance(connection_id, str):
            raise TypeError(
                f"connection_id must be the str add_connection() returned; got {type(connection_id).__name__}"
            )
        return self._drop(connection_id)

    async def send(self, message: Mapping[str, Any]) -> int:
        """Send `{"type": ..., "payload": ...}` (optionally `thread_id`, `run_id`) to this user.

        Returns how many of the user's connections accepted the envelope for delivery.
        Raises `TypeError` for a payload JSON cannot encode, before anything is sent.
        """
        event_type, payload, thread_id, run_id = _parse_message(message)
        return await self._publish(event_type, payload, thread_id, run_id)

    async def emit(
        self,
        event_type: str,
        payload: Any,
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Send one of the five agent events (see `wskit.envelope.AGENT_EVENTS`) to this user."""
        if event_type not in AGENT_EVENTS:
            raise ValueError(f"event_type must be one of {', '.join(AGENT_EVENTS)}; got {event_type!r}")
        if thread_id is not None:
            validate_id("thread_id", thread_id)
        if run_id is not None:
            validate_id("run_id", run_id)
        return await self._publish(event_type, payload, thread_id, run_id)

    async def reply(self, connection_id: str, message: Mapping[str, Any]) -> bool:
        """Send a control message (e.g. an error or pong, no envelope, no `seq`) to one connection.

        Only this user's connections can be addressed; False if the connection is gone.
        """
        outbox = self._outboxes.get(connection_id)
        if outbox is None:
            return False
        return outbox.offer(encode_json(dict(message), "message"))

    async def close_connection(self, connection_id: str, code: int = 1000, reason: str = "") -> bool:
        """Stop delivering to one of this user's connections and close it with `code` and `reason`."""
        connection = self._connections.get(connection_id)
        if connection is None:
            return False
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
        }

    async def _publish(self, event_type: str, payload: Any, thread_id: str | None, run_id: str | None) -> int:
        payload_json = encode_json(payload)
        context = self._user_context
        backplane = self._registry.backplane
        seq = await backplane.next_seq(self.user_id)
        frame = render_envelope(
            event_type=event_type,
            seq=seq,
            ts=time.time(),
            user_id=self.user_id,
            thread_id=thread_id if thread_id is not None else context.thread_id,
            run_id=run_id if run_id is not None else context.run_id,
            payload_json=payload_json,
        )
        self._sent += 1
        self._last_seq = seq
        self._registry._count_message()
        return await backplane.publish(self.user_id, seq, frame)

    def _deliver_local(self, seq: int, frame: str) -> int:
        """Offer a published frame to each local connection; return how many accepted it."""
        # A snapshot: an overflowing outbox drops its connection while we iterate.
        return sum(outbox.offer(frame) for outbox in tuple(self._outboxes.values()))

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


def _parse_message(message: object) -> tuple[str, Any, str | None, str | None]:
    if not isinstance(message, Mapping):
        raise TypeError(
            f"message must be a mapping like {{'type': 'notice', 'payload': {{...}}}}; got {type(message).__name__}"
        )
    unexpected = set(message) - _MESSAGE_KEYS
    if unexpected:
        raise ValueError(
            f"message has unexpected keys {sorted(map(str, unexpected))}; put custom fields under 'payload'"
            f" (allowed keys: {', '.join(sorted(_MESSAGE_KEYS))})"
        )
    event_type = message.get("type")
    if not isinstance(event_type, str) or not _TYPE_PATTERN.fullmatch(event_type):
        raise ValueError(
            f"message['type'] must be 1-64 characters from [A-Za-z0-9._:-], such as 'notice'; got {event_type!r}"
        )
    thread_id = message.get("thread_id")
    run_id = message.get("run_id")
    if thread_id is not None:
        validate_id("thread_id", thread_id)
    if run_id is not None:
        validate_id("run_id", run_id)
    return event_type, message.get("payload"), thread_id, run_id


async def _close_quietly(connection: WebSocketProtocol, code: int, reason: str) -> None:
    try:
        await connection.close(code, reason)
    except Exception as exc:  # the peer may already be gone; nothing left to clean up
        logger.debug("close failed: %r", exc)
