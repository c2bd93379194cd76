"""`WskitServer`: the manager served for real over a `websockets` asyncio server.

Handshake: `process_request` answers `GET /healthz`, and authenticates every other request
with a JWT (`Authorization: Bearer` header, or `?token=` for browsers) before a connection or a
manager exists; failures get HTTP 401 with a one-line reason. After the handshake each frame is
parsed by `wskit.inbound` and answered, or runs the reference agent for that user only.

Reconnecting loses nothing: a client that connects with `?last_seq=N`, or whose first frame is
`{"type": "resume", "last_seq": N}`, first receives every envelope after `N` still kept (or
`{"type": "resync_required", ...}`), then live traffic. So that a first-frame resume can still be
honored in order, a connection without `?last_seq` receives live traffic after its first frame
or after `resume_grace` seconds, whichever comes first.

Limits: inbound frames over `max_message_bytes` close with 1009; more than
`max_connections_per_user` connections close the newest with 1008; a connection sending faster
than `max_frames_per_second` (after a burst of `frame_burst`) gets a `rate_limited` error and is
closed with 1008; a slow consumer whose outbound buffer fills is closed with 1013; keepalive
pings every `ping_interval` seconds remove peers that do not answer within `ping_timeout`.

Use it as an async context manager, e.g. in a notebook or a test::

    async with WskitServer(port=0) as server:
        token = server.mint_token("alice")
        ...  # connect to server.url with the token
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import urllib.parse
import weakref
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from wskit.agent import run_reference_agent
from wskit.auth import generate_secret, mint_token, verify_token
from wskit.context import UserContext
from wskit.envelope import encode_json
from wskit.errors import AuthenticationError, RegistryFullError
from wskit.inbound import (
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
from wskit.registry import ManagerRegistry
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation as Manager

__all__ = [
    "DEFAULT_MAX_CONNECTIONS_PER_USER",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_RESUME_GRACE",
    "RATE_LIMIT_CLOSE_CODE",
    "WskitServer",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
"""Largest inbound frame; bigger ones close the connection with 1009 (message too big)."""

DEFAULT_MAX_CONNECTIONS_PER_USER = 10
"""Connections one user may hold; the next one is closed with 1008 (policy violation)."""

DEFAULT_RESUME_GRACE = 0.5
"""Seconds a connection without `?last_seq` waits for a first-frame resume before going live."""

RATE_LIMIT_CLOSE_CODE = 1008
"""Close code (policy violation) after the `rate_limited` error event."""

WEBSOCKET_PATHS = frozenset({"/", "/ws"})


class WskitServer:
    """A WebSocket server for wskit managers, started with `async with` or `start()`.

    Args:
        secret: HS256 signing secret (at least 32 bytes); a random one when None.
        host, port: where to listen; port 0 picks a free port (see `url`).
        registry: the managers' registry (default: a new `ManagerRegistry` for this server).
        max_message_bytes: largest inbound frame before closing with 1009.
        max_connections_per_user: connections per user before closing the newest with 1008.
        ping_interval, ping_timeout: keepalive, in seconds (None disables).
        max_frames_per_second, frame_burst: inbound rate limit per connection.
        resume_grace: seconds a connection without `?last_seq` is held for a first-frame resume
            (0 disables first-frame resume: such connections go live at once).
        close_timeout: seconds to wait for a peer's closing handshake (bounds shutdown).
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: ManagerRegistry | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_frames_per_second: float = DEFAULT_FRAMES_PER_SECOND,
        frame_burst: int = DEFAULT_FRAME_BURST,
        resume_grace: float = DEFAULT_RESUME_GRACE,
        close_timeout: float = 5.0,
    ) -> None:
        for name, value in (
            ("max_message_bytes", max_message_bytes),
            ("max_connections_per_user", max_connections_per_user),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535 (0 picks a free one); got {port!r}")
        self.secret = secret if secret is not None else generate_secret()
        mint_token("probe", self.secret)  # validates the secret now rather than at the first client
        self.host = host
        self.port = port
        self.registry = registry if registry is not None else ManagerRegistry()
        self.max_message_bytes = max_message_bytes
        self.max_connections_per_user = max_connections_per_user
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        FrameRateLimiter(max_frames_per_second, frame_burst)  # validates both now
        self.max_frames_per_second = max_frames_per_second
        self.frame_burst = frame_burst
        if not resume_grace >= 0 or not close_timeout > 0:
            raise ValueError(
                f"resume_grace must be >= 0 and close_timeout > 0; got {resume_grace!r}, {close_timeout!r}"
            )
        self.resume_grace = resume_grace
        self.close_timeout = close_timeout
        self._resume_points: weakref.WeakKeyDictionary[ServerConnection, int] = weakref.WeakKeyDictionary()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._run_ids = itertools.count(1)
        self.rejected_handshakes = 0

    @property
    def websockets_server(self) -> Server:
        """The underlying `websockets` server (its `.connections` are the live sockets)."""
        if self._server is None:
            raise RuntimeError("server is not running; use 'async with WskitServer(...) as server'")
        return self._server

    @property
    def url(self) -> str:
        """`ws://host:port/ws` of the running server."""
        return f"ws://{self._authority()}/ws"

    def http_url(self, path: str = "/healthz") -> str:
        """`http://host:port/<path>` of the running server."""
        return f"http://{self._authority()}{path}"

    def mint_token(self, user_id: str, *, ttl_seconds: float = 3600.0) -> str:
        """A token this server accepts for `user_id`."""
        return mint_token(user_id, self.secret, ttl_seconds=ttl_seconds)

    async def start(self) -> Self:
        """Start listening; returns self. Prefer `async with`."""
        if self._server is not None:
            raise RuntimeError("server already started")
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            max_size=self.max_message_bytes,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._release_idle_periodically())
        return self

    async def close(self, code: int = 1001) -> None:
        """Stop accepting, close every connection (1001 "going away" by default), end background tasks."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close(close_connections=False)
        await asyncio.gather(
            *(ws.close(code, "server shutting down") for ws in server.connections), return_exceptions=True
        )
        await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _authority(self) -> str:
        if self._server is None:
            raise RuntimeError("server is not running; use 'async with WskitServer(...) as server'")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        if url.path == "/healthz":
            response = connection.respond(200, encode_json({"status": "ok", **self.registry.stats()}, "health") + "\n")
            response.headers["Content-Type"] = "application/json"
            return response
        if url.path not in WEBSOCKET_PATHS:
            return self._reject(connection, 404, f"unknown path {url.path!r}; connect to /ws")
        try:
            connection.username = verify_token(_token_from(request.headers, url.query), self.secret)
        except AuthenticationError as exc:
            return self._reject(connection, 401, str(exc))
        last_seq = urllib.parse.parse_qs(url.query).get("last_seq")
        if last_seq is not None:
            if not last_seq[0].isdigit() or not last_seq[0].isascii():
                return self._reject(connection, 400, f"last_seq must be a non-negative integer; got {last_seq[0]!r}")
            self._resume_points[connection] = int(last_seq[0])
        return None

    def _reject(self, connection: ServerConnection, status: int, reason: str) -> Response:
        self.rejected_handshakes += 1
        return connection.respond(status, reason + "\n")

    async def _handle(self, ws: ServerConnection) -> None:
        user_id = ws.username
        try:
            manager = self.registry.get_or_create(UserContext(user_id=user_id))
        except RegistryFullError:
            await ws.close(1013, "server full: try again later")
            return
        if len(manager.connections) >= self.max_connections_per_user:
            await ws.close(1008, f"too many connections for this user (limit {self.max_connections_per_user})")
            return
        last_seq = self._resume_points.pop(ws, None)
        held = last_seq is None and self.resume_grace > 0
        connection_id = await manager.add_connection(ws, user_id=user_id, last_seq=last_seq, hold=held)
        waiting = held  # for a first-frame resume, until the first frame or the grace period ends

        def end_wait() -> None:
            nonlocal waiting
            waiting = False
            manager.go_live(connection_id)

        timer = asyncio.get_running_loop().call_later(self.resume_grace, end_wait) if held else None
        limiter = FrameRateLimiter(self.max_frames_per_second, self.frame_burst)
        closing = False
        try:
            async for data in ws:
                if closing:
                    # Keep reading (and discarding) so that the peer's reply to our close frame is
                    # seen; a paused reader would stall the closing handshake until close_timeout.
                    continue
                request = parse_frame(data)
                if waiting and timer is not None:  # the first frame ends the wait; a later resume is an error
                    waiting = False
                    timer.cancel()
                    if isinstance(request, Resume) and connection_id in manager.connections:
                        await manager.resume(connection_id, request.last_seq)
                        continue
                    manager.go_live(connection_id)
                if not limiter.allow():
                    detail = f"more than {self.max_frames_per_second:g} frames per second; slow down"
                    await manager.reply(connection_id, {"type": "error", "code": "rate_limited", "detail": detail})
                    self._spawn(manager.close_connection(connection_id, RATE_LIMIT_CLOSE_CODE, "rate limit exceeded"))
                    closing = True
                    continue
                await self._route(manager, connection_id, request)
        except ConnectionClosed:
            pass
        finally:
            if timer is not None:
                timer.cancel()  # harmless once it has run
            await manager.remove_connection(connection_id)

    async def _route(self, manager: Manager, connection_id: str, request: Inbound) -> None:
        if isinstance(request, Ping):
            await manager.reply(connection_id, {"type": "pong"})
        elif isinstance(request, UserMessage):
            run_id = request.run_id or f"run-{next(self._run_ids)}"
            self._spawn(run_reference_agent(manager, request.payload, thread_id=request.thread_id, run_id=run_id))
        elif isinstance(request, Resume):
            detail = "resume must be the first frame; or reconnect with ?last_seq=N"
            await manager.reply(connection_id, {"type": "error", "code": "resume_too_late", "detail": detail})
        elif isinstance(request, FrameError):
            await manager.reply(connection_id, request.as_message())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    async def _release_idle_periodically(self) -> None:
        interval = min(30.0, self.registry.idle_timeout / 2)
        while True:
            await asyncio.sleep(interval)
            self.registry.release_idle()


def _token_from(headers: Headers, query: str) -> str | None:
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("malformed Authorization header: expected 'Bearer <token>'")
        return token.strip()
    tokens = urllib.parse.parse_qs(query).get("token")
    return tokens[0] if tokens else None
