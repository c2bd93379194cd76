"""Several real server processes over one real Redis: `wskit serve --backplane` and the FastAPI app under
uvicorn, real clients, and this test process as a worker that sends without holding any socket."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis_servers import RedisServer
from servers import ServerProcess
from test_adapters import stalled_reader_scenario
from websockets.exceptions import ConnectionClosed

from wskit import AGENT_EVENTS, ManagerRegistry, UserContext, get_websocket_manager
from wskit.backplane.redis import RedisBackplane
from wskit.core.errors import BackplaneUnavailable
from wskit.serve.client import AgentClient
from wskit.session.auth import generate_secret

SECRET = generate_secret()  # one secret for the whole deployment


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis", persist=True) as server:
        yield server


@asynccontextmanager
async def worker(url: str) -> AsyncIterator[ManagerRegistry]:
    """This process as a worker: it sends through Redis and holds no socket."""
    registry = ManagerRegistry(backplane=RedisBackplane(url))
    try:
        yield registry
    finally:
        await registry.backplane.close()


def seqs(client: AgentClient) -> list[int]:
    return [m["seq"] for m in client.received if "seq" in m]


async def receive_until(client: AgentClient, count: int, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while len(seqs(client)) < count:
            await client.receive(timeout=timeout)


def health(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.http_url(), timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_sends_from_two_servers_and_a_worker_reach_every_connection_once_in_order(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    options = {"backplane": redis_server.url, "max_frames_per_second": 100, "frame_burst": 100, "secret": SECRET}
    with (
        ServerProcess("websockets", tmp_path / "a.log", **options) as a,
        ServerProcess("uvicorn", tmp_path / "b.log", **options) as b,
    ):

        async def scenario() -> None:
            on_a = [await AgentClient.connect(a.url, a.mint_token("ann")) for _ in range(2)]
            on_b = await AgentClient.connect(b.url, b.mint_token("ann"))
            other = await AgentClient.connect(b.url, b.mint_token("bob"))
            async with worker(redis_server.url) as sender:
                manager = get_websocket_manager(UserContext(user_id="ann"), registry=sender)

                async def from_worker() -> None:
                    for i in range(50):
                        report = await manager.send({"type": "notice", "payload": i})
                        assert (report.delivered, report.stored) == (0, True)  # no socket here, stored in Redis

                async def runs(client: AgentClient, tag: str) -> None:
                    for i in range(10):
                        await client.send_user_message(f"{tag} {i}", thread_id=f"{tag}{i}")

                await asyncio.gather(from_worker(), runs(on_a[0], "a"), runs(on_b, "b"))
            total = 50 + 2 * 10 * len(AGENT_EVENTS)
            for client in (*on_a, on_b):
                await receive_until(client, total)
            await asyncio.sleep(0.2)  # a duplicate would have arrived by now
            for client in (*on_a, on_b):
                assert seqs(client) == list(range(1, total + 1))
                assert {m["user_id"] for m in client.received} == {"ann"}
                assert len({m["epoch"] for m in client.received}) == 1
            assert other.received == []
            for client in (*on_a, on_b, other):
                await client.close()

        asyncio.run(scenario())


def test_a_killed_pubsub_and_a_killed_server_lose_nothing(redis_server: RedisServer, tmp_path: Path) -> None:
    with (
        ServerProcess("websockets", tmp_path / "a.log", backplane=redis_server.url, secret=SECRET) as a,
        ServerProcess("websockets", tmp_path / "b.log", backplane=redis_server.url, secret=SECRET) as b,
    ):

        async def scenario() -> None:
            moving = await AgentClient.connect(a.url, a.mint_token("cy"))
            staying = await AgentClient.connect(b.url, b.mint_token("cy"))
            async with worker(redis_server.url) as sender:
                manager = get_websocket_manager(UserContext(user_id="cy"), registry=sender)
                for i in range(400):
                    await manager.send({"type": "notice", "payload": i})
                    if i == 100:
                        assert redis_server.client().client_kill_filter(_type="pubsub") == 2  # both servers'
                    if i == 200:
                        await receive_until(moving, 150)
                        a.stop(signal.SIGKILL)  # a crash: its client reconnects to the other server
                        with pytest.raises(ConnectionClosed):  # what was already on the wire, then the end
                            while True:
                                await moving.receive(timeout=5)
                        back = await AgentClient.connect(b.url, b.mint_token("cy"), last_seq=moving.last_seq,
                                                         epoch=moving.epoch)  # fmt: skip
            await receive_until(staying, 400)
            await receive_until(back, 400 - moving.last_seq)
            assert seqs(staying) == list(range(1, 401))
            # Exactly the missing range: nothing twice, nothing skipped.
            assert seqs(moving) + seqs(back) == list(range(1, 401))
            await staying.close()
            await back.close()

        asyncio.run(scenario())


def test_redis_stopped_then_back(redis_server: RedisServer, tmp_path: Path) -> None:
    with ServerProcess("uvicorn", tmp_path / "a.log", backplane=redis_server.url) as server:

        async def scenario() -> None:
            client = await AgentClient.connect(server.url, server.mint_token("di"))
            async with worker(redis_server.url) as sender:
                manager = get_websocket_manager(UserContext(user_id="di"), registry=sender)
                for i in range(5):
                    await manager.send({"type": "notice", "payload": i})
                await receive_until(client, 5)
                redis_server.stop(signal.SIGTERM)
                with pytest.raises(BackplaneUnavailable, match="cannot store the envelope"):
                    await manager.send({"type": "notice", "payload": "refused"})
                async with asyncio.timeout(15):
                    while (status := (await asyncio.to_thread(health, server)))[0] != 503:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                assert status[1]["status"] == "unavailable" and "Redis" in status[1]["reason"]
                # An agent run asked for now cannot be stored: the user is told, not left waiting.
                await client.send_user_message("anyone?", thread_id="down")
                error = await client.receive(timeout=10)
                assert (error["type"], error["code"]) == ("error", "agent_failed")
                redis_server.start()  # appendfsync always: what was accepted is still there
                async with asyncio.timeout(30):
                    while (await asyncio.to_thread(health, server))[0] != 200:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                for i in range(5, 8):
                    await manager.send({"type": "notice", "payload": i})
                await receive_until(client, 8)
                assert seqs(client) == list(range(1, 9))
                assert [m["payload"] for m in client.received if "seq" in m] == list(range(8))
            await client.close()

        asyncio.run(scenario())
    assert "agent run run-1 of user 'di' failed" in server.log()  # and the operator sees why


@pytest.mark.parametrize("adapter", ["websockets", "uvicorn"])
def test_a_stalled_reader_with_the_redis_backplane(adapter: str, redis_server: RedisServer, tmp_path: Path) -> None:
    offered, grew = stalled_reader_scenario(adapter, tmp_path, backplane=redis_server.url)
    assert offered <= 16 * 2**20, offered
    assert grew < 32 * 2**20, grew
