"""`Outbox`: the ordered, bounded queue of frames on their way to one connection.

Each connection gets its own outbox, so one slow or failing socket never delays the others:
a frame is written at once while the socket keeps up (see `wskit.core.writers`), and otherwise
queued for a drain task that exists only while frames are waiting. A queue that reaches its
limits means the peer is not keeping up: the outbox fails with `OutboxOverflow` and the
manager closes that connection (its frames stay in the user's history for a resume).

Envelopes carry their `seq`; an outbox never passes a `seq` that is not above the last one
it passed, so a connection sees each envelope at most once and in order, even when a replay
and live delivery overlap.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Iterable

from wskit.core.budget import MemoryBudget
from wskit.core.writers import FrameWriter

__all__ = [
    "DEFAULT_MAX_BUFFERED_BYTES",
    "DEFAULT_MAX_BUFFERED_MESSAGES",
    "DEFAULT_SEND_TIMEOUT",
    "Outbox",
    "OutboxOverflow",
]

logger = logging.getLogger(__name__)

_RESTART = -1
"""The `seq` a held outbox queues a history-lost notice under (no envelope has it)."""

DEFAULT_MAX_BUFFERED_MESSAGES = 1000
"""Frames a connection may have queued before it counts as a slow consumer."""

DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
"""Bytes a connection may have queued before it counts as a slow consumer (1 MiB); the
socket's own write buffer (32 KiB high-water mark in `websockets`) comes on top."""

DEFAULT_SEND_TIMEOUT = 10.0
"""Seconds one write may wait for the socket before the peer counts as a slow consumer. Whether a
server's `send` waits for the socket at all differs between servers and versions; this bound and
the queue limits hold either way."""


_NO_FRAMES: collections.deque[tuple[int | None, bytes]] = collections.deque()
"""The queue of every outbox that never queued anything (shared, always empty: never appended to)."""


class OutboxOverflow(Exception):
    """The peer is not keeping up: the outbox reached its message or byte limit, or one write
    waited longer than the send timeout."""


class Outbox:
    """Frames for one connection, written in order.

    `on_failure` is called once, with the exception, when a write fails, waits longer than
    `send_timeout` seconds, or the outbox overflows; after that the outbox accepts nothing more.
    A held outbox queues frames without writing them until `release_after()`.
    """

    __slots__ = (
        "_budget",
        "_bytes",
        "_closed",
        "_empty",
        "_frames",
        "_held",
        "_last_seq",
        "_max_bytes",
        "_max_messages",
        "_on_failure",
        "_replay_bytes",
        "_replay_frames",
        "_send_timeout",
        "_task",
        "_writer",
    )

    def __init__(
        self,
        writer: FrameWriter,
        on_failure: Callable[[BaseException], None],
        *,
        max_messages: int = DEFAULT_MAX_BUFFERED_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        held: bool = False,
        budget: MemoryBudget | None = None,
    ) -> None:
        self._writer = writer
        self._budget = budget
        self._send_timeout = send_timeout
        self._on_failure = on_failure
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._frames = _NO_FRAMES  # most connections keep up and never queue: no deque until one does
        self._bytes = 0
        # A replay sits at the head of the queue and does not count against the limits: it is
        # bounded by the user's history, whose frames it shares rather than copies.
        self._replay_frames = 0
        self._replay_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._held = held
        self._last_seq = 0
        self._empty: asyncio.Event | None = None

    @property
    def pending(self) -> int:
        """Frames accepted but not yet handed to the socket."""
        return len(self._frames)

    @property
    def held(self) -> bool:
        """True while frames are queued but not written (see `release_after`)."""
        return self._held

    def offer(self, data: bytes, seq: int | None = None, *, replay: bool = False) -> bool:
        """Pass `data` on (an envelope if `seq` is given, else a control message).

        Returns False when the outbox is closed, when it just overflowed, or when the envelope
        is not newer than the last one passed (a duplicate from an overlapping replay).
        `replay=True` marks catch-up frames, exempt from the limits.
        """
        if self._closed:
            return False
        if seq is not None:
            if seq <= self._last_seq:
                return False
            self._last_seq = seq
        if not self._frames and self._task is None and not self._held:
            try:
                written = self._writer.write_nowait(data)
            except Exception as exc:  # this socket's failure is this socket's problem
                self._fail(exc)
                return False
            if written is True:
                return True
            if written is not False:  # begun: finish it before writing anything else
                self._task = asyncio.get_running_loop().create_task(self._drain(written))
                return True
        return self._enqueue(seq, data, replay)

    def release_after(self, notice: bytes | None, replay: Iterable[tuple[int, bytes]]) -> None:
        """Go live: write `notice` (if any), then the `replay` envelopes, then what was held, by `seq`.

        Held envelopes that the replay already covers are dropped, so a catch-up read while live
        traffic kept arriving has no gap and no duplicate. The catch-up is exempt from the limits.
        If the history was lost while held (`restart()`), the replay is left out: it may have been
        read on either side of the loss, and what follows the loss's notice is all held already.
        """
        if not self._held:
            return
        held = list(self._frames)
        restarted = any(seq == _RESTART for seq, _ in held)
        self._drop_queue()
        self._last_seq = 0
        self._held = False
        if notice is not None:
            self.offer(notice, replay=True)
        for seq, data in () if restarted else replay:
            self.offer(data, seq, replay=True)
        for seq_or_mark, data in held:
            if seq_or_mark == _RESTART:
                self._last_seq = 0  # the envelopes after the notice are numbered from 1 again
                self.offer(data)
            else:
                self.offer(data, seq_or_mark)

    def restart(self, notice: bytes) -> None:
        """The envelopes' history was lost: pass `notice`, then accept `seq` from 1 again.

        A held outbox keeps the notice in its place in the queue (see `release_after`)."""
        self._last_seq = 0
        if self._held and not self._closed:
            self._enqueue(_RESTART, notice, False)
            return
        self.offer(notice)

    async def flush(self) -> None:
        """Wait until every accepted frame was handed to the socket (or the outbox closed)."""
        if self._task is None:
            return
        if self._empty is None:
            self._empty = asyncio.Event()
        await self._empty.wait()

    def close(self) -> None:
        """Stop accepting frames and drop the waiting ones."""
        self._closed = True
        self._drop_queue()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._signal_empty()

    def _enqueue(self, seq: int | None, data: bytes, replay: bool) -> bool:
        size = len(data)
        if replay:
            self._replay_frames += 1
            self._replay_bytes += size
        else:
            live_frames = len(self._frames) - self._replay_frames
            live_bytes = self._bytes - self._replay_bytes
            if live_frames >= self._max_messages or live_bytes + size > self._max_bytes:
                self._fail(
                    OutboxOverflow(
                        f"outbound buffer full ({live_frames} messages, {live_bytes} bytes queued;"
                        f" limits {self._max_messages} messages, {self._max_bytes} bytes)"
                    )
                )
                return False
            if self._budget is not None and not self._budget.admit(size):
                self._fail(OutboxOverflow(f"the process's memory budget ({self._budget.limit} bytes) is used up"))
                return False
        if self._frames is _NO_FRAMES:
            self._frames = collections.deque()
        self._frames.append((seq, data))
        self._bytes += size
        self._start_drain()
        return True

    def _start_drain(self) -> None:
        if self._task is None and self._frames and not self._held and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self, in_flight: Awaitable[None] | None = None) -> None:
        try:
            if in_flight is not None:
                await self._finish(in_flight)
            frames = self._frames  # read after the write in flight: frames queued meanwhile are in it
            while frames:
                data = frames[0][1]
                await self._finish(self._writer.write(data))
                # The outbox may have been closed while the write was awaited.
                if frames:
                    frames.popleft()
                    self._bytes -= len(data)
                    if self._replay_frames:
                        self._replay_frames -= 1
                        self._replay_bytes -= len(data)
                    elif self._budget is not None:
                        self._budget.release(len(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # this socket's failure is this socket's problem
            logger.debug("write failed: %r", exc)
            self._task = None
            self._fail(exc)
        finally:
            self._task = None
            self._signal_empty()

    def _drop_queue(self) -> None:
        """Forget every queued frame (and give their bytes back to the budget)."""
        if self._budget is not None:
            self._budget.release(self._bytes - self._replay_bytes)
        self._frames.clear()
        self._bytes = self._replay_frames = self._replay_bytes = 0

    async def _finish(self, write: Awaitable[None]) -> None:
        try:
            async with asyncio.timeout(self._send_timeout):
                await write
        except TimeoutError:
            raise OutboxOverflow(
                f"a write waited more than {self._send_timeout:g} s for the socket; the peer is not reading"
            ) from None

    def _signal_empty(self) -> None:
        if self._empty is not None:
            self._empty.set()
            self._empty = None

    def _fail(self, exc: BaseException) -> None:
        if self._closed:
            return
        self.close()
        self._on_failure(exc)
