"""`WebSocketProtocol`: the interface of a connection the manager can deliver to.

Interface only: nothing in this module implements it. A `websockets` server connection
(`websockets.asyncio.server.ServerConnection`) satisfies it as it is.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["WebSocketProtocol"]


@runtime_checkable
class WebSocketProtocol(Protocol):
    """A connection that can be written to and closed; both operations are coroutines."""

    async def send(self, message: str) -> None:
        """Write one text frame."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with a WebSocket close code and a reason."""
        ...
