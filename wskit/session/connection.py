"""One connection's protocol, the same for every adapter: no sockets, no server, no backplane in sight.

An adapter (`wskit.serve.server` for `websockets`, `wskit.serve.asgi` for Starlette/FastAPI) only translates:
it asks `SessionHost.handshake()` whether to accept an upgrade request, hands the accepted
connection (anything with async `send(text)` and `close(code, reason)`) to `SessionHost.open()`,
feeds every received frame to `Session.receive()` and calls `Session.finish()` when the
connection ends. Everything else is decided here:

- a frame over `max_message_bytes` closes the connection with 1009;
- the first frame may be `{"type": "resume", "last_seq": N}`: a connection opened without
  `?last_seq` is held for `resume_grace` seconds, or until its first frame, so that the replay
  comes before live traffic; a later resume is an error event;
- more than `max_frames_per_second` (after a burst of `frame_burst`) gets a `rate_limited`
  error event and a 1008 close; bad frames get error events and the connection stays open;
- `ping` is answered with `pong`; `user_message` runs the reference agent for that user only;
- a user's connection beyond `max_connections_per_user` is closed with 1008, and a full
  registry closes the new connection with 1013; shutdown closes every session with 1001.

After a close has been started, frames are read and discarded, so that the peer's reply to the
close frame is still seen (a reader that stops reading would stall the closing handshake).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from wskit.core.context import UserContext
from wskit.core.errors import BackplaneUnavailable, RegistryFullError
from wskit.protocols import WebSocketProtocol
from wskit.registry import ManagerRegistry
from wskit.session.agent import run_reference_agent
from wskit.session.auth import mint_token
from wskit.session.handshake import Handshake, HandshakeRefused, accept_handshake
from wskit.session.inbound import (
    DEFAULT_FRAME_BURST,
    DEFAULT_FRAMES_PER_SECOND,
    FrameError,
    FrameRateLimiter,
    Inbound,
    Ping,
    Resume,
    UserMessage,
    parse_frame,
)
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation as Manager

__all__ = [
    "DEFAULT_MAX_CONNECTIONS_PER_USER",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_RESUME_GRACE",
    "GOING_AWAY",
    "MESSAGE_TOO_BIG",
    "POLICY_VIOLATION",
    "TRY_AGAIN_LATER",
    "Session",
    "SessionHost",
    "SessionLimits",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
"""Largest inbound frame; bigger ones close the connection with 1009 (message too big)."""

DEFAULT_MAX_CONNECTIONS_PER_USER = 10
"""Connections one user may hold; the next one is closed with 1008 (policy violation)."""

DEFAULT_RESUME_GRACE = 0.5
"""Seconds a connection without `?last_seq` waits for a first-frame resume before going live."""

GOING_AWAY = 1001
"""Close code on server shutdown."""

POLICY_VIOLATION = 1008
"""Close code for too many connections of one user and for exceeding the rate limit."""

MESSAGE_TOO_BIG = 1009
"""Close code for an inbound frame over `max_message_bytes`."""

TRY_AGAIN_LATER = 1013
"""Close code when the registry is full (and, in the manager, for slow consumers)."""


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """The limits every session of a server applies (see the module docstring for what each does).

    Args:
        max_message_bytes: largest inbound frame, in bytes, before closing with 1009.
        max_connections_per_user: connections per user before closing the newest with 1008.
        max_frames_per_second, frame_burst: inbound rate limit per connection.
        resume_grace: seconds a connection without `?last_seq` is held for a first-frame resume
            (0 disables first-frame resume: such connections go live at once).
        close_timeout: seconds shutdown waits for connections to close.
    """

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER
    max_frames_per_second: float = DEFAULT_FRAMES_PER_SECOND
    frame_burst: int = DEFAULT_FRAME_BURST
    resume_grace: float = DEFAULT_RESUME_GRACE
    close_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_connections_per_user"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        FrameRateLimiter(self.max_frames_per_second, self.frame_burst)  # validates both
        if not (isinstance(self.resume_grace, int | float) and self.resume_grace >= 0):
            raise ValueError(f"resume_grace must be a number of seconds >= 0; got {self.resume_grace!r}")
        if not (isinstance(self.close_timeout, int | float) and self.close_timeout > 0):
            raise ValueError(f"close_timeout must be a positive number of seconds; got {self.close_timeout!r}")


class SessionHost:
    """What the sessions of one server share: the registry, the token secret, the limits, agent runs.

    Args:
        registry: where each user's manager lives.
        secret: HS256 secret of the tokens clients present (at least 32 bytes).
        limits: the `SessionLimits` every session applies.
    """

    def __init__(self, *, registry: ManagerRegistry, secret: str, limits: SessionLimits) -> None:
        if not isinstance(registry, ManagerRegistry):
            raise TypeError(f"registry must be a wskit.ManagerRegistry; got {type(registry).__name__}")
        if not isinstance(limits, SessionLimits):
            raise TypeError(f"limits must be a wskit.session.connection.SessionLimits; got {type(limits).__name__}")
        mint_token("probe", secret)  # validates the secret now rather than at the first client
        self.registry = registry
        self.secret = secret
        self.limits = limits
        self.rejected_handshakes = 0
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._run_ids = itertools.count(1)
        self._closing = False
        self._idle_task: asyncio.Task[None] | None = None

    @property
    def sessions(self) -> frozenset[Session]:
        """The sessions open now."""
        return frozenset(self._sessions)

    def handshake(self, *, authorization: str | None, subprotocols: Sequence[str], query: str) -> Handshake:
        """Accept or refuse an upgrade request (see `wskit.session.handshake.accept_handshake`)."""
        if self._closing:
            self.rejected_handshakes += 1
            raise HandshakeRefused(503, "server shutting down: reconnect in a moment")
        try:
            return accept_handshake(
                secret=self.secret, authorization=authorization, subprotocols=subprotocols, query=query
            )
        except HandshakeRefused:
            self.rejected_handshakes += 1
            raise

    async def open(self, connection: WebSocketProtocol, handshake: Handshake) -> Session | None:
        """Join an accepted connection to its user's manager; None if it was refused and closed."""
        self.start()
        try:
            manager = self.registry.get_or_create(UserContext(user_id=handshake.user_id))
        except RegistryFullError:
            await connection.close(TRY_AGAIN_LATER, "server full: try again later")
            return None
        limit = self.limits.max_connections_per_user
        if len(manager.connections) >= limit:
            await connection.close(POLICY_VIOLATION, f"too many connections for this user (limit {limit})")
            return None
        held = handshake.last_seq is None and self.limits.resume_grace > 0
        try:
            connection_id = await manager.add_connection(
                connection, user_id=handshake.user_id, last_seq=handshake.last_seq, epoch=handshake.epoch, hold=held
            )
        except BackplaneUnavailable as exc:
            logger.error("refused a connection of user %r: %s", handshake.user_id, exc)
            await connection.close(TRY_AGAIN_LATER, "backplane unavailable: try again later")
            return None
        session = Session(self, manager, connection_id, held=held)
        self._sessions.add(session)
        return session

    def health(self) -> tuple[int, dict[str, Any]]:
        """`(HTTP status, JSON document)` for `/healthz`: 503 with the reason while the backplane is down."""
        reason = self.registry.health()
        if reason is not None:
            return 503, {"status": "unavailable", "reason": reason, **self.registry.stats()}
        return 200, {"status": "ok", **self.registry.stats()}

    def start(self) -> None:
        """Start the periodic release of idle managers (idempotent; needs a running event loop)."""
        if self._idle_task is None:
            self._idle_task = self.spawn(self._release_idle_periodically())

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coroutine` in the background until it ends or `close()` cancels it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    async def close(self, code: int = GOING_AWAY, reason: str = "server shutting down") -> None:
        """Refuse new handshakes, close every session with `code`, then cancel background tasks."""
        self._closing = True
        closes = [asyncio.ensure_future(session.close(code, reason)) for session in list(self._sessions)]
        if closes:
            # Not cancelled at the deadline: each adapter bounds its own closing handshake, and a
            # close cut short could leave a socket half-closed.
            done, pending = await asyncio.wait(closes, timeout=self.limits.close_timeout + 1.0)
            if pending:
                logger.warning("%d of %d connections are still closing after shutdown began", len(pending), len(closes))
            for failed in (c for c in done if c.exception() is not None):
                logger.warning("closing a connection failed: %r", failed.exception())
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._idle_task = None

    def _next_run_id(self) -> str:
        return f"run-{next(self._run_ids)}"

    def _forget(self, session: Session) -> None:
        self._sessions.discard(session)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    async def _release_idle_periodically(self) -> None:
        interval = min(30.0, self.registry.idle_timeout / 2)
        while True:
            await asyncio.sleep(interval)
            self.registry.release_idle()


class Session:
    """The protocol of one accepted connection; created by `SessionHost.open()`."""

    __slots__ = ("_closing", "_host", "_limiter", "_manager", "_timer", "_waiting", "connection_id")

    def __init__(self, host: SessionHost, manager: Manager, connection_id: str, *, held: bool) -> None:
        self._host = host
        self._manager = manager
        self.connection_id = connection_id
        limits = host.limits
        self._limiter = FrameRateLimiter(limits.max_frames_per_second, limits.frame_burst)
        self._closing = False
        # While waiting, the first frame decides: a resume replays first, anything else goes live.
        self._waiting = held
        self._timer = asyncio.get_running_loop().call_later(limits.resume_grace, self._go_live) if held else None

    def __repr__(self) -> str:
        return f"<Session user_id={self.user_id!r} connection_id={self.connection_id!r}>"

    @property
    def user_id(self) -> str:
        """The authenticated user of this connection."""
        return self._manager.user_id

    @property
    def closing(self) -> bool:
        """True once a close was started; later frames are discarded."""
        return self._closing

    async def receive(self, data: str | bytes) -> None:
        """Handle one frame the client sent (text as `str`, binary as `bytes`)."""
        if self._closing:
            return
        limit = self._host.limits.max_message_bytes
        if _size_over(data, limit):
            self._start_close(MESSAGE_TOO_BIG, f"frame larger than {limit} bytes")
            return
        request = parse_frame(data)
        if self._waiting:
            self._waiting = False
            if self._timer is not None:
                self._timer.cancel()
            if isinstance(request, Resume):
                await self._manager.resume(self.connection_id, request.last_seq, request.epoch)
                return
            await self._manager.go_live(self.connection_id)
        if not self._limiter.allow():
            detail = f"more than {self._host.limits.max_frames_per_second:g} frames per second; slow down"
            await self._manager.reply(self.connection_id, {"type": "error", "code": "rate_limited", "detail": detail})
            self._start_close(POLICY_VIOLATION, "rate limit exceeded")
            return
        await self._route(request)

    async def close(self, code: int, reason: str) -> None:
        """Close this connection with `code` after writing what it was already given."""
        self._closing = True
        await self._manager.close_connection(self.connection_id, code, reason)

    async def finish(self) -> None:
        """The connection ended: stop delivering to it (call once, from the adapter's `finally`)."""
        self._closing = True
        self._waiting = False
        if self._timer is not None:
            self._timer.cancel()
        self._host._forget(self)
        await self._manager.remove_connection(self.connection_id)

    def _go_live(self) -> None:
        if self._waiting:
            self._waiting = False
            self._host.spawn(self._manager.go_live(self.connection_id))

    def _start_close(self, code: int, reason: str) -> None:
        # The close runs beside the reader, which keeps reading so that the peer's reply is seen.
        self._closing = True
        self._host.spawn(self._manager.close_connection(self.connection_id, code, reason))

    async def _route(self, request: Inbound) -> None:
        manager = self._manager
        if isinstance(request, Ping):
            await manager.reply(self.connection_id, {"type": "pong"})
        elif isinstance(request, UserMessage):
            run_id = request.run_id or self._host._next_run_id()
            self._host.spawn(self._run_agent(request, run_id))
        elif isinstance(request, Resume):
            detail = "resume must be the first frame; or reconnect with ?last_seq=N"
            await manager.reply(self.connection_id, {"type": "error", "code": "resume_too_late", "detail": detail})
        elif isinstance(request, FrameError):
            await manager.reply(self.connection_id, request.as_message())

    async def _run_agent(self, request: UserMessage, run_id: str) -> None:
        try:
            await run_reference_agent(self._manager, request.payload, thread_id=request.thread_id, run_id=run_id)
        except Exception as exc:
            # The user who asked is told; the operator sees the cause.
            logger.error("agent run %s of user %r failed", run_id, self.user_id, exc_info=exc)
            detail = f"agent run {run_id} failed: {exc}"[:200]
            await self._manager.reply(self.connection_id, {"type": "error", "code": "agent_failed", "detail": detail})


def _size_over(data: str | bytes, limit: int) -> bool:
    """True when the frame's payload is over `limit` bytes (text counted as UTF-8)."""
    if isinstance(data, bytes):
        return len(data) > limit
    # At most 4 bytes per character: most frames are decided without encoding them.
    if len(data) * 4 <= limit:
        return False
    return len(data) > limit or len(data.encode("utf-8", "surrogatepass")) > limit
