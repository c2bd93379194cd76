"""One connection's protocol, the same for every adapter: no sockets, no server, no backplane in sight.

An adapter (`wskit.serve.server` for `websockets`, `wskit.serve.asgi` for Starlette/FastAPI) only translates:
it awaits `SessionHost.handshake()` to accept or refuse an upgrade request, hands the accepted
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
  registry closes the new connection with 1013; shutdown closes every session with 1001;
- the token: a revoked one is refused at the handshake (401; 503 while the backplane cannot say);
  `token_expiry_warning` seconds before its `exp` (halfway through a shorter token's life) the
  connection is sent `{"type": "token_expiring", "exp": ...}`, and at `exp` it is closed with
  4001 "token expired", unless `{"type": "refresh", "token": ...}` brought a valid token of the
  same user first (answered `{"type": "token_refreshed", "exp": ...}`; a refused one gets an error
  event, and another user's token also a 1008 close). `disconnect_user()` closes with 4003.

After a close has been started, frames are read and discarded, so that the peer's reply to the
close frame is still seen (a reader that stops reading would stall the closing handshake).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wskit.backplane import Position, Revocation
from wskit.core.context import UserContext
from wskit.core.errors import AuthenticationError, BackplaneUnavailable, RegistryFullError
from wskit.protocols import WebSocketProtocol
from wskit.registry import USER_DISCONNECTED, ManagerRegistry
from wskit.session.agent import run_reference_agent
from wskit.session.auth import TokenClaims, mint_token, verify_claims
from wskit.session.handshake import Handshake, HandshakeRefused, accept_handshake
from wskit.session.inbound import (
    DEFAULT_FRAME_BURST,
    DEFAULT_FRAMES_PER_SECOND,
    FrameError,
    FrameRateLimiter,
    Inbound,
    Ping,
    Refresh,
    Resume,
    UserMessage,
    parse_frame,
)
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation as Manager

__all__ = [
    "DEFAULT_MAX_CONNECTIONS_PER_USER",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_RESUME_GRACE",
    "DEFAULT_TOKEN_EXPIRY_WARNING",
    "GOING_AWAY",
    "MESSAGE_TOO_BIG",
    "POLICY_VIOLATION",
    "TOKEN_EXPIRED",
    "TRY_AGAIN_LATER",
    "USER_DISCONNECTED",
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

TOKEN_EXPIRED = 4001
"""Close code when the connection's token expires (an application code, RFC 6455 7.4.2; 401-like:
get a new token, then reconnect with it)."""

DEFAULT_TOKEN_EXPIRY_WARNING = 60.0
"""Seconds before its token's `exp` a connection is sent `token_expiring` (halfway through the life
of a token shorter than twice this)."""


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
        token_expiry_warning: seconds before its token's `exp` a connection is sent
            `token_expiring` (0: never warned, only closed at `exp`).
    """

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER
    max_frames_per_second: float = DEFAULT_FRAMES_PER_SECOND
    frame_burst: int = DEFAULT_FRAME_BURST
    resume_grace: float = DEFAULT_RESUME_GRACE
    close_timeout: float = 5.0
    token_expiry_warning: float = DEFAULT_TOKEN_EXPIRY_WARNING

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
        warning = self.token_expiry_warning
        if isinstance(warning, bool) or not isinstance(warning, int | float) or not 0 <= warning < math.inf:
            raise ValueError(f"token_expiry_warning must be a number of seconds >= 0; got {warning!r}")


class SessionHost:
    """What the sessions of one server share: the registry, the token secret, the limits, agent runs.

    Args:
        registry: where each user's manager lives (its `max_token_lifetime` bounds the tokens
            accepted, and its backplane keeps the revocations).
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
        self._deadlines = _Deadlines(lambda due: self.spawn(self._deadlines_reached(due)))

    @property
    def sessions(self) -> frozenset[Session]:
        """The sessions open now."""
        return frozenset(self._sessions)

    async def handshake(self, *, authorization: str | None, subprotocols: Sequence[str], query: str) -> Handshake:
        """Accept or refuse an upgrade request: `wskit.session.handshake.accept_handshake`, with this
        server's longest token lifetime, then a revoked token is refused (401), and so is any token
        while the backplane cannot say whether it was revoked (503). A connection without a resume
        point is owed every envelope published after this (`Handshake.since`)."""
        try:
            if self._closing:
                raise HandshakeRefused(503, "server shutting down: reconnect in a moment")
            handshake = accept_handshake(
                secret=self.secret,
                authorization=authorization,
                subprotocols=subprotocols,
                query=query,
                max_token_lifetime=self.registry.max_token_lifetime,
            )
            try:
                revoked = await self._revocation_of(handshake.claims)
                if revoked is None and handshake.last_seq is None:
                    # Read before the upgrade is accepted: what is sent once the client sees it
                    # accepted comes after this, even if another connection of the user took it
                    # before this one joined the user's manager.
                    since = await self.registry.backplane.position(handshake.user_id)
                    handshake = replace(handshake, since=since)
            except BackplaneUnavailable as exc:
                logger.error("refused a connection of user %r: %s", handshake.user_id, exc)
                raise HandshakeRefused(503, str(exc)) from None
            if revoked is not None:
                raise HandshakeRefused(401, _revoked(revoked))
        except HandshakeRefused:
            self.rejected_handshakes += 1
            raise
        return handshake

    async def authenticate(self, token: str) -> TokenClaims:
        """Verify `token` as a handshake does (signature, `exp`, lifetime, revocation) and return its claims.

        Raises `AuthenticationError` saying why it is refused, `BackplaneUnavailable` when the
        backplane cannot say whether it was revoked.
        """
        claims = self._verify(token)
        revoked = await self._revocation_of(claims)
        if revoked is not None:
            raise AuthenticationError(_revoked(revoked))
        return claims

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
            # Held until the revocation was asked again, now that this process hears the user's
            # disconnects: one sent after the handshake's question but before that was not heard.
            connection_id = await manager.add_connection(
                connection, user_id=handshake.user_id, last_seq=handshake.last_seq, epoch=handshake.epoch, hold=True
            )
        except BackplaneUnavailable as exc:
            await _refuse_unavailable(connection, handshake.user_id, exc)
            return None
        try:
            revoked = await self._revocation_of(handshake.claims)
            if revoked is None and handshake.last_seq is not None:
                await manager.resume(connection_id, handshake.last_seq, handshake.epoch)
            elif revoked is None and not held:
                await manager.go_live(connection_id, since=handshake.since)
        except BackplaneUnavailable as exc:
            await manager.remove_connection(connection_id)
            await _refuse_unavailable(connection, handshake.user_id, exc)
            return None
        if revoked is not None:
            await manager.close_connection(connection_id, USER_DISCONNECTED, revoked.reason)
            return None
        session = Session(self, manager, connection_id, handshake.claims, held=held, since=handshake.since)
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
        self._deadlines.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._idle_task = None

    def _verify(self, token: str) -> TokenClaims:
        return verify_claims(token, self.secret, max_lifetime=self.registry.max_token_lifetime)

    async def _revocation_of(self, claims: TokenClaims) -> Revocation | None:
        """The revocation that refuses this token, if any (`BackplaneUnavailable` if it cannot be read)."""
        revocation = await self.registry.backplane.revocation(claims.user_id)
        if revocation is None or (claims.issued_at is not None and claims.issued_at >= revocation.before):
            return None
        return revocation

    async def _deadlines_reached(self, sessions: list[Session]) -> None:
        now = time.time()
        for session in sessions:
            await session._deadline_reached(now)

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

    __slots__ = (
        "_claims",
        "_closing",
        "_deadline",
        "_host",
        "_limiter",
        "_manager",
        "_since",
        "_timer",
        "_waiting",
        "_warned",
        "connection_id",
    )

    def __init__(
        self,
        host: SessionHost,
        manager: Manager,
        connection_id: str,
        claims: TokenClaims,
        *,
        held: bool,
        since: Position | None = None,
    ) -> None:
        self._host = host
        self._manager = manager
        self.connection_id = connection_id
        limits = host.limits
        self._limiter = FrameRateLimiter(limits.max_frames_per_second, limits.frame_burst)
        self._closing = False
        # While waiting, the first frame decides: a resume replays first, anything else goes live.
        self._waiting = held
        self._since = since  # where the user's stream stood at the handshake (a fresh connection)
        self._timer = asyncio.get_running_loop().call_later(limits.resume_grace, self._go_live) if held else None
        self._claims = claims
        self._warned: float | None = None  # the `exp` that `token_expiring` was sent for
        self._deadline: int | None = None  # the tick of the `_Deadlines` bucket it waits in
        host._deadlines.schedule(self, self._next_deadline())

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

    @property
    def expires_at(self) -> float:
        """The `exp` of the connection's token (a refresh moves it)."""
        return self._claims.expires_at

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
            resume = request if isinstance(request, Resume) else None
            if not await self._catch_up(resume) or resume is not None:
                return
        if not self._limiter.allow():
            rate = self._host.limits.max_frames_per_second
            await self._error("rate_limited", f"more than {rate:g} frames per second; slow down")
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
        self._host._deadlines.cancel(self)
        self._host._forget(self)
        await self._manager.remove_connection(self.connection_id)

    def _go_live(self) -> None:
        if self._waiting:
            self._waiting = False
            self._host.spawn(self._catch_up(None))

    async def _catch_up(self, resume: Resume | None) -> bool:
        """Leave the hold: replay after the resume point, else what no connection was written yet
        and everything sent since the handshake read the user's position. False when the backplane
        could not be read (the connection is then closed with 1013)."""
        try:
            if resume is not None:
                await self._manager.resume(self.connection_id, resume.last_seq, resume.epoch)
            else:
                await self._manager.go_live(self.connection_id, since=self._since)
        except BackplaneUnavailable as exc:
            logger.error("closed a connection of user %r that could not catch up: %s", self.user_id, exc)
            self._start_close(TRY_AGAIN_LATER, "backplane unavailable: try again later")
            return False
        return True

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
        elif isinstance(request, Refresh):
            await self._refresh(request.token)
        elif isinstance(request, Resume):
            await self._error("resume_too_late", "resume must be the first frame; or reconnect with ?last_seq=N")
        elif isinstance(request, FrameError):
            await manager.reply(self.connection_id, request.as_message())

    async def _refresh(self, token: str) -> None:
        """Go on with a new token of the same user, checked as at the handshake."""
        try:
            claims = self._host._verify(token)
        except AuthenticationError as exc:
            await self._error("refresh_refused", str(exc))
            return
        if claims.user_id != self.user_id:
            await self._error("refresh_refused", "the token is another user's; a connection keeps its user")
            self._start_close(POLICY_VIOLATION, "refresh with another user's token")
            return
        try:
            revoked = await self._host._revocation_of(claims)
        except BackplaneUnavailable as exc:
            logger.error("refused a token refresh of user %r: %s", self.user_id, exc)
            await self._error("refresh_unavailable", f"{exc}; the current token stays in force: try again later")
            return
        if revoked is not None:
            await self._error("refresh_refused", _revoked(revoked))
        elif not self._closing:  # it may have expired meanwhile
            self._claims = claims
            self._host._deadlines.schedule(self, self._next_deadline())
            await self._manager.reply(self.connection_id, {"type": "token_refreshed", "exp": claims.expires_at})

    def _next_deadline(self) -> float:
        """When the token needs attention next: its warning, or once warned of this `exp`, the `exp`."""
        claims = self._claims
        if self._warned == claims.expires_at:
            return claims.expires_at
        warning = self._host.limits.token_expiry_warning
        if claims.issued_at is not None:  # a token shorter than twice the warning is warned halfway
            warning = min(warning, (claims.expires_at - claims.issued_at) / 2)
        return claims.expires_at - warning

    async def _deadline_reached(self, now: float) -> None:
        """Called by the host's `_Deadlines`: warn of the token's end, or close at its `exp`."""
        if self._closing:
            return
        claims = self._claims
        if now >= claims.expires_at:
            self._start_close(TOKEN_EXPIRED, "token expired")
            return
        if self._warned != claims.expires_at and now >= self._next_deadline():
            self._warned = claims.expires_at
            await self._manager.reply(self.connection_id, {"type": "token_expiring", "exp": claims.expires_at})
        self._host._deadlines.schedule(self, self._next_deadline())

    async def _error(self, code: str, detail: str) -> None:
        await self._manager.reply(self.connection_id, {"type": "error", "code": code, "detail": detail})

    async def _run_agent(self, request: UserMessage, run_id: str) -> None:
        try:
            await run_reference_agent(self._manager, request.payload, thread_id=request.thread_id, run_id=run_id)
        except Exception as exc:
            # The user who asked is told; the operator sees the cause.
            logger.error("agent run %s of user %r failed", run_id, self.user_id, exc_info=exc)
            await self._error("agent_failed", f"agent run {run_id} failed: {exc}"[:200])


_TICKS_PER_SECOND = 10
"""Deadlines are kept to a tenth of a second: a token is warned and closed at most that late."""


class _Deadlines:
    """When each session's token needs attention next (its warning, then its `exp`), for every
    session of a host, without a task or timer per connection: sessions due within the same tick
    (a tenth of a second) share a bucket, a heap orders the buckets, and one event-loop timer, set
    for the earliest, hands what is due to `on_due` (wall-clock time, as tokens count it)."""

    __slots__ = ("_buckets", "_on_due", "_ticks", "_timer", "_timer_at")

    def __init__(self, on_due: Callable[[list[Session]], object]) -> None:
        self._on_due = on_due
        self._buckets: dict[int, set[Session]] = {}
        self._ticks: list[int] = []  # a heap of bucket ticks (one may stay after its bucket emptied)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None

    def schedule(self, session: Session, at: float) -> None:
        """Hand `session` to `on_due` within a tick after `at` (replacing what it waited for)."""
        self.cancel(session)
        tick = math.ceil(at * _TICKS_PER_SECOND)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = set()
            heapq.heappush(self._ticks, tick)
        bucket.add(session)
        session._deadline = tick
        if self._timer_at is None or tick < self._timer_at:
            self._arm(tick)

    def cancel(self, session: Session) -> None:
        """Forget `session` (its connection ended)."""
        tick, session._deadline = session._deadline, None
        if tick is None:
            return
        bucket = self._buckets[tick]  # a session's tick always names its bucket
        bucket.discard(session)
        if not bucket:
            del self._buckets[tick]

    def close(self) -> None:
        """Forget every session and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None
        for bucket in self._buckets.values():
            for session in bucket:
                session._deadline = None
        self._buckets.clear()
        self._ticks.clear()

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = tick
        delay = tick / _TICKS_PER_SECOND - time.time()
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)  # past: at once

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        now = time.time() * _TICKS_PER_SECOND
        due: list[Session] = []
        ticks = self._ticks
        while ticks and ticks[0] <= now:
            bucket = self._buckets.pop(heapq.heappop(ticks), None)
            if bucket:
                for session in bucket:
                    session._deadline = None
                due.extend(bucket)
        while ticks and ticks[0] not in self._buckets:  # emptied buckets
            heapq.heappop(ticks)
        if ticks:  # also when the timer fired a little before the wall clock reached the tick
            self._arm(ticks[0])
        if due:
            self._on_due(due)


async def _refuse_unavailable(connection: WebSocketProtocol, user_id: str, exc: BackplaneUnavailable) -> None:
    logger.error("refused a connection of user %r: %s", user_id, exc)
    await connection.close(TRY_AGAIN_LATER, "backplane unavailable: try again later")


def _revoked(revocation: Revocation) -> str:
    """Why a revoked token is refused, in one line."""
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(revocation.before))
    return f"token revoked ({revocation.reason}): tokens of this user issued before {before} are refused; sign in again"


def _size_over(data: str | bytes, limit: int) -> bool:
    """True when the frame's payload is over `limit` bytes (text counted as UTF-8)."""
    if isinstance(data, bytes):
        return len(data) > limit
    # At most 4 bytes per character: most frames are decided without encoding them.
    if len(data) * 4 <= limit:
        return False
    return len(data) > limit or len(data.encode("utf-8", "surrogatepass")) > limit
