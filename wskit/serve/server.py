"""`WskitServer`: the manager served for real over a `websockets` asyncio server.

A thin adapter around `wskit.session.connection`, which holds the connection protocol every adapter shares
(handshake authentication, first-frame resume, rate limit, limits, routing, shutdown): here
`process_request` answers `GET /healthz` and asks the session host to accept or refuse each
upgrade request (HTTP 401 with a one-line reason before any connection or manager exists), and
each received frame is handed to the connection's `Session`. Inbound frames over
`max_message_bytes` are also refused by `websockets` itself (1009) before they are buffered.

Use it as an async context manager, e.g. in a notebook or a test::

    async with WskitServer(port=0) as server:
        token = server.mint_token("alice")
        ...  # connect to server.url with the token
"""

from __future__ import annotations

import asyncio
import urllib.parse
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.headers import parse_subprotocol
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from wskit.core.envelope import encode_json
from wskit.registry import ManagerRegistry
from wskit.session.auth import generate_secret, mint_token
from wskit.session.connection import (
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_RESUME_GRACE,
    DEFAULT_TOKEN_EXPIRY_WARNING,
    GOING_AWAY,
    SessionHost,
    SessionLimits,
)
from wskit.session.handshake import Handshake, HandshakeRefused, select_subprotocol
from wskit.session.inbound import DEFAULT_FRAME_BURST, DEFAULT_FRAMES_PER_SECOND

__all__ = [
    "DEFAULT_MAX_CONNECTIONS_PER_USER",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_RESUME_GRACE",
    "WskitServer",
]

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
        token_expiry_warning: seconds before its token's `exp` a connection is sent `token_expiring`.
        The longest token lifetime accepted is the registry's `max_token_lifetime`.
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
        token_expiry_warning: float = DEFAULT_TOKEN_EXPIRY_WARNING,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535 (0 picks a free one); got {port!r}")
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
            registry=registry if registry is not None else ManagerRegistry(),
            secret=secret if secret is not None else generate_secret(),
            limits=limits,
        )
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._handshakes: weakref.WeakKeyDictionary[ServerConnection, Handshake] = weakref.WeakKeyDictionary()
        self._server: Server | None = None

    @property
    def registry(self) -> ManagerRegistry:
        """The registry holding this server's managers."""
        return self.sessions.registry

    @property
    def secret(self) -> str:
        """The HS256 secret this server verifies tokens with."""
        return self.sessions.secret

    @property
    def rejected_handshakes(self) -> int:
        """Upgrade requests refused so far (bad token, bad `last_seq`, shutting down)."""
        return self.sessions.rejected_handshakes

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
        await self.registry.backplane.start()
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            max_size=self.sessions.limits.max_message_bytes,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.sessions.limits.close_timeout,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.sessions.start()
        return self

    async def close(self, code: int = GOING_AWAY) -> None:
        """Stop accepting, close every connection (1001 "going away" by default), end background tasks."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close(close_connections=False)
        await self.sessions.close(code)
        # Connections that never became sessions (refused, or still opening) are closed too.
        await asyncio.gather(
            *(ws.close(code, "server shutting down") for ws in server.connections), return_exceptions=True
        )
        await server.wait_closed()

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

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        if url.path == "/healthz":
            status, document = self.sessions.health()
            response = connection.respond(status, encode_json(document, "health") + "\n")
            del response.headers["Content-Type"]  # respond() set text/plain; a second header would not replace it
            response.headers["Content-Type"] = "application/json"
            return response
        if url.path not in WEBSOCKET_PATHS:
            return connection.respond(404, f"unknown path {url.path!r}; connect to /ws\n")
        offered = [p for value in request.headers.get_all("Sec-WebSocket-Protocol") for p in parse_subprotocol(value)]
        try:
            self._handshakes[connection] = await self.sessions.handshake(
                authorization=request.headers.get("Authorization"), subprotocols=offered, query=url.query
            )
        except HandshakeRefused as refused:
            return connection.respond(refused.status, refused.reason + "\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        session = await self.sessions.open(ws, self._handshakes.pop(ws))
        if session is None:
            return
        try:
            async for data in ws:
                await session.receive(data)
        except ConnectionClosed:
            pass
        finally:
            await session.finish()


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    selected = select_subprotocol(offered)
    return None if selected is None else Subprotocol(selected)
