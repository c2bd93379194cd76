"""Shared test helpers: an in-memory connection for driving the manager without sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from wskit import ManagerRegistry, UserContext


class MemoryConnection:
    """A `WebSocketProtocol` that records frames in memory; it can be told to fail or stall."""

    def __init__(self, name: str = "c", *, fail: bool = False) -> None:
        self.name = name
        self.frames: list[str] = []
        self.fail = fail
        self.stalled: asyncio.Event | None = None
        self.closed_with: tuple[int, str] | None = None

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
