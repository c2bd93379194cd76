"""`Outbox`: the ordered, bounded queue of frames waiting to be written to one connection.

Each connection gets its own outbox so that one slow or failing socket never delays the
others: the manager only appends to outboxes, and a drain task per outbox (alive only while
frames are waiting) does the awaiting.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from wskit.protocols import WebSocketProtocol

__all__ = ["DEFAULT_MAX_BUFFERED_BYTES", "DEFAULT_MAX_BUFFERED_MESSAGES", "Outbox", "OutboxOverflow"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BUFFERED_MESSAGES = 1024
"""Frames a connection may have waiting before it counts as a slow consumer."""

DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024
"""Bytes a connection may have waiting before it counts as a slow consumer (4 MiB)."""


class OutboxOverflow(Exception):
    """A connection's outbox reached its message or byte limit: the peer is not keeping up."""


class Outbox:
    """Frames for one connection, written in order by a drain task.

    `on_failure` is called once, with the exception, when a write fails or the outbox
    overflows; after that the outbox accepts nothing more.
    """

    __slots__ = (
        "_bytes",
        "_closed",
        "_connection",
        "_empty",
        "_frames",
        "_max_bytes",
        "_max_messages",
        "_on_failure",
        "_task",
    )

    def __init__(
        self,
        connection: WebSocketProtocol,
        on_failure: Callable[[BaseException], None],
        *,
        max_messages: int = DEFAULT_MAX_BUFFERED_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
    ) -> None:
        self._connection = connection
        self._on_failure = on_failure
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._frames: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def pending(self) -> int:
        """Frames accepted but not yet written."""
        return len(self._frames)

    @property
    def pending_bytes(self) -> int:
        """Bytes accepted but not yet written (frames are ASCII JSON, so characters = bytes)."""
        return self._bytes

    @property
    def closed(self) -> bool:
        """True once the outbox failed, overflowed or was closed; it then accepts nothing."""
        return self._closed

    def offer(self, frame: str) -> bool:
        """Queue `frame` for writing; False when the outbox is closed or just overflowed."""
        if self._closed:
            return False
        size = len(frame)
        if len(self._frames) >= self._max_messages or self._bytes + size > self._max_bytes:
            self._fail(
                OutboxOverflow(
                    f"outbound buffer full ({len(self._frames)} messages, {self._bytes} bytes;"
                    f" limits {self._max_messages} messages, {self._max_bytes} bytes)"
                )
            )
            return False
        self._frames.append(frame)
        self._bytes += size
        if self._task is None:
            self._empty.clear()
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return True

    async def flush(self) -> None:
        """Wait until every accepted frame was written (or the outbox closed)."""
        await self._empty.wait()

    def close(self) -> None:
        """Stop accepting frames and drop the waiting ones."""
        self._closed = True
        self._frames.clear()
        self._bytes = 0
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._empty.set()

    async def _drain(self) -> None:
        frames = self._frames
        try:
            while frames:
                frame = frames[0]
                await self._connection.send(frame)
                # The outbox may have been closed while the write was awaited.
                if frames:
                    frames.popleft()
                    self._bytes -= len(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of this one socket is this socket's problem
            logger.debug("write failed: %r", exc)
            self._task = None
            self._fail(exc)
        finally:
            self._task = None
            self._empty.set()

    def _fail(self, exc: BaseException) -> None:
        if self._closed:
            return
        self.close()
        self._on_failure(exc)
