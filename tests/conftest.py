"""Shared test helpers: an in-memory connection for driving the manager without sockets, and Chromium."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wskit import ManagerRegistry, UserContext
from wskit.session.connection import SessionHost

# The analyzer's fixture trees hold messy code (test files included) to be read, never run.
collect_ignore = ["fixtures"]


class MemoryConnection:
    """A `WebSocketProtocol` that records frames in memory; it can be told to fail or stall."""

    def __init__(self, name: str = "c", *, fail: bool = False) -> None:
        self.name = name
        self.frames: list[str] = []
        self.fail = fail
        self.stalled: asyncio.Event | None = None
        self.closed_with: tuple[int, str] | None = None
        self.closed_at: float | None = None  # wall-clock time of the close

    def stall(self) -> None:
        """Make every send block until `resume()` (a peer that stopped reading)."""
        self.stalled = asyncio.Event()

    def resume(self) -> None:
        assert self.stalled is not None
        self.stalled.set()

    async def send(self, message: str) -> None:
        if self.stalled is not None:
            await self.stalled.wait()
        if self.fail:
            raise ConnectionResetError("peer went away")
        self.frames.append(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = (code, reason)
        self.closed_at = time.time()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(frame) for frame in self.frames]

    def last_written_seq(self) -> int:
        """What a client on this connection would resume from."""
        return max((m["seq"] for m in self.messages if "seq" in m), default=0)


@pytest.fixture
def registry() -> ManagerRegistry:
    return ManagerRegistry()


def ctx(user_id: str, **ids: str) -> UserContext:
    return UserContext(user_id=user_id, **ids)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium, driven by Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing at /usr/bin/chromium; run 'make system-deps' (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


async def settle(sessions: SessionHost, user: str = "alice") -> None:
    """Let background work (agent runs, closes) finish and every outbox drain."""
    for _ in range(20):
        await asyncio.sleep(0)
    manager = sessions.registry.get(user)
    if manager is not None:
        await manager.flush()
