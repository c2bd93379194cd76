"""How frames are written to a connection: at once while the socket keeps up, with no task.

A `websockets` connection gets `WebsocketsWriter`: while its transport's write buffer is below
the high-water mark, a frame is framed and handed to the transport at once, with no await (what
`websockets.asyncio.server.broadcast` does). Any other connection (an ASGI server's, for one)
gets `EagerWriter`: its `send()` coroutine is started at once and usually finishes without
suspending; when it must wait for the socket, the rest of that write is handed back to the
outbox, which finishes it in its drain task before writing anything else.

Either way a burst of frames goes to the socket as fast as the socket takes it, and only what it
cannot take waits in the connection's bounded outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, Protocol

from websockets.asyncio.connection import Connection
from websockets.protocol import State

from wskit.protocols import WebSocketProtocol

__all__ = ["EagerWriter", "FrameWriter", "WebsocketsWriter", "writer_for"]


class FrameWriter(Protocol):
    """Writes ASCII-encoded JSON text frames to one connection."""

    def write_nowait(self, data: bytes) -> bool | Awaitable[None]:
        """Write now if the socket keeps up.

        Returns True when written, False when nothing was written (use `write`), or an awaitable
        that finishes a write already begun (await it before writing anything else).
        """
        ...

    async def write(self, data: bytes) -> None:
        """Write, waiting for the socket to drain if needed; raises if the connection is gone."""
        ...


class EagerWriter:
    """Any `WebSocketProtocol`: `send()` is started at once and most writes finish without a task."""

    __slots__ = ("_connection",)

    def __init__(self, connection: WebSocketProtocol) -> None:
        self._connection = connection

    def write_nowait(self, data: bytes) -> bool | Awaitable[None]:
        """Run `send()` until it finishes (True) or must wait (the awaitable that finishes it)."""
        coroutine = self._connection.send(data.decode("ascii"))
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return True
        return _Resumed(coroutine, waiting_on)

    async def write(self, data: bytes) -> None:
        """`await connection.send(text)`."""
        await self._connection.send(data.decode("ascii"))


class _Resumed:
    """The rest of a coroutine that was stepped once by hand and is now waiting on `waiting_on`.

    Awaiting it hands that wait to the awaiting task and then steps the coroutine on, exactly as
    if the task had run it from the start (a hand-written `yield from`).
    """

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, value = self._coroutine, self._waiting_on
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # cancellation included: the coroutine decides
                try:
                    value = coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    value = coroutine.send(sent)
                except StopIteration:
                    return


class ConnectionGone(ConnectionError):
    """The connection is closing or closed; nothing more can be written to it."""


class WebsocketsWriter:
    """A `websockets` asyncio connection, written synchronously while its buffer is below the limit."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def write_nowait(self, data: bytes) -> bool | Awaitable[None]:
        """Frame `data` and hand it to the transport unless the socket is congested (then False)."""
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
    return EagerWriter(connection)
