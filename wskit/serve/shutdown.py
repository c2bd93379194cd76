"""Close wskit's connections with 1001 before an ASGI server's own shutdown gets to them.

ASGI servers close WebSockets their own way on SIGTERM (uvicorn sends 1012, hypercorn drops
them after its grace period) and only then run the application's lifespan shutdown. So that a
client sees the same 1001 "going away" whatever the server, `close_first_on_signals` puts a
handler in front of the server's: it starts wskit's close, and hands the signal on to the
server's handler when that close has finished (a second signal is handed on at once).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType
from typing import Any

__all__ = ["close_first_on_signals"]

logger = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def close_first_on_signals(
    close: Callable[[], Awaitable[None]], signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
) -> Callable[[], None]:
    """Run `close()` on the first of `signals`, then the handler installed before; returns `restore()`.

    Must be called from a coroutine. Outside the main thread (where Python cannot install signal
    handlers, e.g. a server run in a notebook's thread) it installs nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Handler] = {int(sig): signal.getsignal(sig) for sig in signals}
    closing: asyncio.Task[None] | None = None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(begin, signum, frame)

    def begin(signum: int, frame: FrameType | None) -> None:
        nonlocal closing
        if closing is not None:  # asked twice: do not wait any longer
            _hand_on(previous[signum], signum, frame)
            return
        closing = loop.create_task(_run(close))
        closing.add_done_callback(lambda _: _hand_on(previous[signum], signum, frame))

    for sig in signals:
        signal.signal(sig, on_signal)

    def restore() -> None:
        for signum, handler in previous.items():
            if signal.getsignal(signum) is on_signal:
                signal.signal(signum, handler)

    return restore


async def _run(close: Callable[[], Awaitable[None]]) -> None:
    try:
        await close()
    except Exception:
        logger.exception("closing connections on shutdown failed")


def _hand_on(handler: Handler, signum: int, frame: FrameType | None) -> None:
    """Do what would have happened without us."""
    if callable(handler):
        handler(signum, frame)
    elif handler in (signal.SIG_DFL, None):
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
