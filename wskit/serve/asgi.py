"""wskit served from Starlette or FastAPI (any ASGI server: uvicorn, hypercorn, ...).

A thin adapter around `wskit.session.connection`, which holds the protocol every adapter shares. Mount it
in a FastAPI (or Starlette) app::

    wskit = WskitEndpoint(secret=os.environ["WSKIT_SECRET"])
    app = FastAPI(lifespan=wskit.lifespan, routes=wskit.routes())   # /ws and /healthz

(or ``app.router.routes.extend(wskit.routes())`` on an existing app, and ``async with
wskit.running():`` inside an existing lifespan). The lifespan closes every connection with 1001
on SIGTERM/SIGINT, before the server's own shutdown, and runs the endpoint's background work.

The upgrade request is authenticated before it is accepted: a refused one gets HTTP 401 (400 for
a bad `last_seq`, 503 while shutting down or while the backplane cannot say whether the token was
revoked) with a one-line reason when the server offers the ASGI `websocket.http.response`
extension (uvicorn, hypercorn and granian do), else it is closed before the accept, which the
server answers with 403. Frames go to the connection's `Session`;
writes go through the connection's bounded outbox with a send timeout, so a client that cannot
keep up is closed with 1013 whether or not the server's `send` waits for the socket.

Servers log request paths with their query (uvicorn prints `/ws?token=...` for every connection):
`redact_server_logs()` installs `redact_tokens`, a logging filter that masks them as `token=***`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute

from wskit.core.writers import ConnectionGone
from wskit.registry import ManagerRegistry, default_registry
from wskit.serve.shutdown import close_first_on_signals
from wskit.session.auth import mint_token
from wskit.session.connection import (
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_RESUME_GRACE,
    DEFAULT_TOKEN_EXPIRY_WARNING,
    GOING_AWAY,
    SessionHost,
    SessionLimits,
)
from wskit.session.handshake import Handshake, HandshakeRefused
from wskit.session.inbound import DEFAULT_FRAME_BURST, DEFAULT_FRAMES_PER_SECOND

__all__ = ["SERVER_LOGGERS", "WskitEndpoint", "redact_server_logs", "redact_tokens"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HTTP_RESPONSE = "websocket.http.response"

SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "hypercorn.access", "hypercorn.error", "websockets.server")
"""The loggers that print request paths: uvicorn logs each WebSocket's path to `uvicorn.error`."""

_TOKEN = re.compile(r"(?<![\w%-])(token=)[^&#\s\"']+")


class WskitEndpoint:
    """The wskit WebSocket endpoint as an ASGI application, bound to a registry and a secret.

    Args:
        secret: HS256 secret of the tokens clients present (at least 32 bytes).
        registry: where the managers live (default: the process-wide `default_registry()`, the
            one `get_websocket_manager(ctx)` uses, so REST handlers reach the same managers).
        max_message_bytes, max_connections_per_user, max_frames_per_second, frame_burst,
        resume_grace, close_timeout, token_expiry_warning: the same limits as `WskitServer` (see
            `SessionLimits`); the longest token lifetime accepted is the registry's `max_token_lifetime`.
    """

    def __init__(
        self,
        *,
        secret: str,
        registry: ManagerRegistry | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER,
        max_frames_per_second: float = DEFAULT_FRAMES_PER_SECOND,
        frame_burst: int = DEFAULT_FRAME_BURST,
        resume_grace: float = DEFAULT_RESUME_GRACE,
        close_timeout: float = 5.0,
        token_expiry_warning: float = DEFAULT_TOKEN_EXPIRY_WARNING,
    ) -> None:
        limits = SessionLimits(
            max_message_bytes=max_message_bytes,
            max_connections_per_user=max_connections_per_user,
            max_frames_per_second=max_frames_per_second,
            frame_burst=frame_burst,
            resume_grace=resume_grace,
            close_timeout=close_timeout,
            token_expiry_warning=token_expiry_warning,
        )
        self.sessions = SessionHost(
            registry=default_registry() if registry is None else registry, secret=secret, limits=limits
        )

    @property
    def registry(self) -> ManagerRegistry:
        """The registry holding this endpoint's managers."""
        return self.sessions.registry

    def routes(self, path: str = "/ws", *, health_path: str = "/healthz") -> list[BaseRoute]:
        """Starlette routes: the WebSocket endpoint at `path`, `GET health_path` for health checks."""
        return [WebSocketRoute(path, self), Route(health_path, self.health, methods=["GET"])]

    def mint_token(self, user_id: str, *, ttl_seconds: float = 3600.0) -> str:
        """A token this endpoint accepts for `user_id`."""
        return mint_token(user_id, self.sessions.secret, ttl_seconds=ttl_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one WebSocket connection (the ASGI entry point)."""
        if scope["type"] == "http":
            await _plain_response(send, 426, "this path serves WebSocket connections; connect with a WebSocket client")
            return
        if scope["type"] != "websocket":  # e.g. lifespan: use `lifespan` or `running()` instead
            return
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            handshake = await self.sessions.handshake(
                authorization=_header(scope, b"authorization"),
                subprotocols=scope.get("subprotocols") or (),
                query=scope.get("query_string", b"").decode("latin-1"),
            )
        except HandshakeRefused as refused:
            await _refuse(scope, send, refused)
            return
        accept: Message = {"type": "websocket.accept"}
        if handshake.subprotocol is not None:
            accept["subprotocol"] = handshake.subprotocol
        connection = ASGIConnection(send)
        try:
            await send(accept)
            await self._serve(connection, handshake, receive)
        except OSError as exc:  # the server lost the socket under us; the session, if any, is finished
            logger.debug("connection lost: %r", exc)

    async def _serve(self, connection: ASGIConnection, handshake: Handshake, receive: Receive) -> None:
        session = await self.sessions.open(connection, handshake)
        if session is None:
            await _until_disconnect(receive)
            return
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    text = message.get("text")
                    await session.receive(text if text is not None else message.get("bytes") or b"")
                elif kind == "websocket.disconnect":
                    break
        finally:
            connection.gone = True
            await session.finish()

    async def health(self, request: Request) -> JSONResponse:
        """`GET /healthz`: counts of users, connections and messages (a Starlette endpoint)."""
        status, document = self.sessions.health()
        return JSONResponse(document, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """A Starlette/FastAPI `lifespan`: runs the endpoint for as long as the app (see `running`)."""
        async with self.running():
            yield

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start background work; on SIGTERM/SIGINT and on exit, close every connection with 1001.

        Use it inside an application's own lifespan when it has one.
        """
        await self.registry.backplane.start()
        self.sessions.start()
        restore = close_first_on_signals(self.close)
        try:
            yield
        finally:
            restore()
            await self.close()

    async def close(self, code: int = GOING_AWAY) -> None:
        """Refuse new connections and close every open one with `code` (1001 by default)."""
        await self.sessions.close(code)


class ASGIConnection:
    """One accepted ASGI WebSocket as the manager sees it: `send(text)` and `close(code, reason)`."""

    __slots__ = ("_send", "gone")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.gone = False

    async def send(self, message: str) -> None:
        """Write one text frame; raises `ConnectionGone` (or the server's error) once the peer left."""
        if self.gone:
            raise ConnectionGone("the client disconnected")
        await self._send({"type": "websocket.send", "text": message})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send the close frame (once); a connection that is already gone is left alone."""
        if self.gone:
            return
        self.gone = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except (OSError, RuntimeError) as exc:  # the client left first: nothing left to close
            logger.debug("close after disconnect: %r", exc)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None


async def _refuse(scope: Scope, send: Send, refused: HandshakeRefused) -> None:
    if _HTTP_RESPONSE in scope.get("extensions", {}):
        await send(
            {
                "type": f"{_HTTP_RESPONSE}.start",
                "status": refused.status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": f"{_HTTP_RESPONSE}.body", "body": f"{refused.reason}\n".encode()})
        # Let the server see its transport close before the app returns: uvicorn's default
        # (websockets-sansio) implementation otherwise logs a spurious "returned without completing
        # handshake" error for every refusal (Kludex/uvicorn#3138).
        await asyncio.sleep(0)
    else:  # closing before the accept: the server answers 403
        await send({"type": "websocket.close", "code": 1008, "reason": refused.reason[:120]})


async def _plain_response(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"{text}\n".encode()})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "websocket.disconnect":
        pass


def redact_tokens(record: logging.LogRecord) -> bool:
    """A logging filter that masks `token=<value>` (a query parameter) as `token=***` in a record's
    message and arguments; it drops nothing. Install it with `redact_server_logs()`, or on a logger
    or handler (`addFilter(redact_tokens)`)."""
    if isinstance(record.msg, str):
        record.msg = _TOKEN.sub(r"\1***", record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_TOKEN.sub(r"\1***", arg) if isinstance(arg, str) else arg for arg in args)
    elif isinstance(args, dict):  # in place: a mapping of its own kind keeps its lookups (hypercorn's atoms)
        for key, value in args.items():
            if isinstance(value, str):
                args[key] = _TOKEN.sub(r"\1***", value)
    return True


def redact_server_logs(names: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Install `redact_tokens` on the loggers `names` (the servers wskit runs under, by default); idempotent."""
    for name in names:
        logging.getLogger(name).addFilter(redact_tokens)
