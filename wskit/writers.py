"""How frames are written to a connection: a fast synchronous path when the socket keeps up.

A `websockets` connection gets `WebsocketsWriter`: while its transport's write buffer is below
the high-water mark, a frame is framed and handed to the transport at once, with no task and
no await (what `websockets.asyncio.server.broadcast` does). Anything else, or a congested
socket, goes through the connection's own `send()` coroutine, awaited by the outbox's drain task.
"""

from __future__ import annotations

from typing import Protocol

from websockets.asyncio.connection import Connection
from websockets.protocol import State

from wskit.protocols import WebSocketProtocol

__all__ = ["FrameWriter", "GenericWriter", "WebsocketsWriter", "writer_for"]


class FrameWriter(Protocol):
    """Writes ASCII-encoded JSON text frames to one connection."""

    def write_nowait(self, data: bytes) -> bool:
        """Write now if the socket is not congested; False means "use `write`"."""
        ...

    async def write(self, data: bytes) -> None:
        """Write, waiting for the socket to drain if needed; raises if the connection is gone."""
        ...


class GenericWriter:
    """Any `WebSocketProtocol`: every frame goes through its `send()` coroutine."""

    __slots__ = ("_connection",)

    def __init__(self, connection: WebSocketProtocol) -> None:
        self._connection = connection

    def write_nowait(self, data: bytes) -> bool:
        """Never: a generic connection can only be written by awaiting `send()`."""
        return False

    async def write(self, data: bytes) -> None:
        """`await connection.send(text)`."""
        await self._connection.send(data.decode("ascii"))


class ConnectionGone(ConnectionError):
    """The connection is closing or closed; nothing more can be written to it."""


class WebsocketsWriter:
    """A `websockets` asyncio connection, written synchronously while its buffer is below the limit."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def write_nowait(self, data: bytes) -> bool:
        """Frame `data` and hand it to the transport unless the socket is congested."""
        connection = self._connection
        # `paused` is set by asyncio while the transport's buffer is above its high-water mark.
        if connection.paused:
            return False
        protocol = connection.protocol
        if protocol.state is not State.OPEN:
            raise ConnectionGone("connection is closing")
        protocol.send_text(data)
        connection.send_data()
        return True

    async def write(self, data: bytes) -> None:
        """Send through `websockets`, which waits for the write buffer to drain."""
        await self._connection.send(data, text=True)


def writer_for(connection: WebSocketProtocol) -> FrameWriter:
    """The fastest correct writer for `connection`."""
    if isinstance(connection, Connection):
        return WebsocketsWriter(connection)
    return GenericWriter(connection)
