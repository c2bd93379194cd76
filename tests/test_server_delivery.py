"""Delivery guarantees and limits over real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from typing import Any

import pytest
from servers import raw_upgrade
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wskit import AGENT_EVENTS, ManagerRegistry, UserContext
from wskit.serve.client import AgentClient
from wskit.serve.server import WskitServer


def run(scenario: Any, **options: Any) -> None:
    async def main() -> None:
        async with WskitServer(**options) as server:
            await scenario(server)

    asyncio.run(main())


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - polls server state that has no event
            await asyncio.sleep(0.01)


def seqs(client: AgentClient) -> list[int]:
    return [m["seq"] for m in client.received if "seq" in m]


async def drain(client: AgentClient, count: int) -> None:
    while len(seqs(client)) < count:
        await client.receive(timeout=5)


def test_reconnect_with_last_seq_receives_what_it_missed_then_live_traffic() -> None:
    async def scenario(server: WskitServer) -> None:
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        await client.run_agent("first run", thread_id="t1")
        assert seqs(client) == [1, 2, 3, 4, 5]
        await client.close()
        await wait_for(lambda: server.registry.stats()["connections"] == 0)
        manager = server.registry.get_or_create(UserContext(user_id="alice"))
        for n in range(3):  # sent while alice is away: stored, not delivered
            report = await manager.send({"type": "notice", "payload": n})
            assert (report.delivered, report.stored) == (0, True)
        back = await AgentClient.connect(server.url, server.mint_token("alice"), last_seq=client.last_seq)
        await drain(back, 3)
        await back.run_agent("second run", thread_id="t2")
        assert seqs(back) == [6, 7, 8, 9, 10, 11, 12, 13]
        assert [m["payload"] for m in back.received[:3]] == [0, 1, 2]
        await back.close()

    run(scenario)


def test_first_frame_resume_is_in_order_even_when_live_traffic_raced_it() -> None:
    async def scenario(server: WskitServer) -> None:
        manager = server.registry.get_or_create(UserContext(user_id="alice"))
        for n in range(4):
            await manager.send({"type": "notice", "payload": n})
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        await wait_for(lambda: len(manager.connections) == 1)
        await manager.send({"type": "notice", "payload": "live, before the resume frame"})
        await client.resume(2)
        await drain(client, 3)
        await manager.send({"type": "notice", "payload": "live, after"})
        await drain(client, 4)
        assert seqs(client) == [3, 4, 5, 6]
        await client.close()

    run(scenario)


def test_gap_older_than_history_gets_resync_required() -> None:
    async def scenario(server: WskitServer) -> None:
        manager = server.registry.get_or_create(UserContext(user_id="alice"))
        for n in range(6):
            await manager.send({"type": "notice", "payload": n})
        client = await AgentClient.connect(server.url, server.mint_token("alice"), last_seq=1)
        resync = await client.receive()
        await manager.send({"type": "notice", "payload": "live"})
        live = await client.receive()
        assert resync == {"type": "resync_required", "epoch": live["epoch"], "oldest_seq": 4, "latest_seq": 6}
        assert live["seq"] == 7
        await client.close()

    run(scenario, registry=ManagerRegistry(history_max_messages=3))


def test_bad_last_seq_is_a_400_and_a_late_resume_an_error() -> None:
    async def scenario(server: WskitServer) -> None:
        with pytest.raises(InvalidStatus) as info:
            await connect(
                f"{server.url}?last_seq=-3", additional_headers={"Authorization": f"Bearer {server.mint_token('a')}"}
            )
        assert info.value.response.status_code == 400
        assert b"last_seq must be a non-negative integer" in info.value.response.body
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        await client.send_json({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
        await client.resume(0)
        reply = await client.receive()
        assert (reply["type"], reply["code"]) == ("error", "resume_too_late")
        await client.close()

    run(scenario)


def test_a_resume_after_the_grace_period_is_an_error_not_a_crash() -> None:
    async def scenario(server: WskitServer) -> None:
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        await asyncio.sleep(0.3)  # the connection went live without a first frame
        await client.resume(0)
        reply = await client.receive()
        assert (reply["type"], reply["code"]) == ("error", "resume_too_late")
        await client.send_json({"type": "ping"})
        assert await client.receive() == {"type": "pong"}  # still open
        await client.close()

    run(scenario, resume_grace=0.05)


def stalled_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


def test_a_stalled_client_is_closed_with_1013_and_nobody_else_slows_down() -> None:
    payload = base64.b64encode(os.urandom(12_000)).decode()  # incompressible: deflate must not hide it
    messages = 120

    async def scenario(server: WskitServer) -> None:
        manager = server.registry.get_or_create(UserContext(user_id="alice"))
        stalled = await AgentClient.connect(
            server.url, server.mint_token("alice"), sock=stalled_socket(server.port), max_queue=1
        )
        healthy = [await AgentClient.connect(server.url, server.mint_token("alice")) for _ in range(2)]
        other = await AgentClient.connect(server.url, server.mint_token("bob"))
        for client in [stalled, *healthy, other]:
            await client.send_json({"type": "ping"})  # go live at once
            assert (await client.receive()) == {"type": "pong"}
        server_side = next(iter(manager.connections.values()))  # the stalled one connected first
        server_side.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        bob = server.registry.get_or_create(UserContext(user_id="bob"))
        peak = 0
        for n in range(messages):
            await manager.send({"type": "bulk", "payload": {"n": n, "data": payload}})
            await bob.send({"type": "bulk", "payload": {"n": n}})
            peak = max(peak, manager.stats()["buffered_frames"])
            await asyncio.sleep(0)
        for client in healthy:
            await drain(client, messages + 0)
        await drain(other, messages)  # each receive waits at most 5 s: nobody was held up
        await wait_for(lambda: len(manager.connections) == 2)
        assert server_side.protocol.close_sent is not None and server_side.protocol.close_sent.code == 1013
        assert "slow consumer" in server_side.protocol.close_sent.reason
        for client in healthy:
            assert [m["payload"]["n"] for m in client.received if m.get("type") == "bulk"] == list(range(messages))
        assert manager.stats()["failed_deliveries"] == 1
        limit = server.registry.max_buffered_messages
        assert peak <= limit + 1  # memory stayed bounded by the stalled connection's outbox limit
        for client in [*healthy, other]:
            await client.close()
        stalled.connection.transport.abort()

    run(scenario, registry=ManagerRegistry(max_buffered_messages=50, max_buffered_bytes=400_000))


def test_keepalive_removes_a_peer_that_stops_answering() -> None:
    async def scenario(server: WskitServer) -> None:
        sock = await asyncio.to_thread(raw_upgrade, server.port, server.mint_token("ghost"))
        try:
            await wait_for(lambda: server.registry.stats()["connections"] == 1)
            await wait_for(lambda: server.registry.stats()["connections"] == 0, timeout=5)  # never pongs
        finally:
            sock.close()

    run(scenario, ping_interval=0.2, ping_timeout=0.2, close_timeout=0.5)  # removed within ~1 s


def test_frames_over_the_rate_limit_get_an_error_then_1008() -> None:
    async def scenario(server: WskitServer) -> None:
        bystander = await AgentClient.connect(server.url, server.mint_token("bystander"))
        client = await AgentClient.connect(server.url, server.mint_token("flood"))
        for _ in range(30):
            try:
                await client.send_json({"type": "ping"})
            except ConnectionClosed:
                break
        replies = []
        try:
            while True:
                replies.append(await client.receive())
        except ConnectionClosed:
            pass
        assert replies[:5] == [{"type": "pong"}] * 5
        assert replies[-1]["type"] == "error" and replies[-1]["code"] == "rate_limited"
        assert client.connection.close_code == 1008 and client.connection.close_reason == "rate limit exceeded"
        events = await bystander.run_agent("still served", thread_id="b")
        assert [e["type"] for e in events] == list(AGENT_EVENTS)
        await bystander.close()

    run(scenario, max_frames_per_second=1, frame_burst=5)


def test_server_shutdown_is_bounded_and_says_1001() -> None:
    async def main() -> None:
        server = await WskitServer(close_timeout=0.5).start()
        clients = [await AgentClient.connect(server.url, server.mint_token(f"u{i}")) for i in range(5)]
        sock = await asyncio.to_thread(raw_upgrade, server.port, server.mint_token("silent"))  # never answers
        started = time.perf_counter()
        await server.close()
        assert time.perf_counter() - started < 3
        for client in clients:
            await client.connection.wait_closed()
            assert client.connection.close_code == 1001
        sock.close()

    asyncio.run(main())


def test_envelopes_are_one_json_text_frame_each_with_increasing_seq() -> None:
    async def scenario(server: WskitServer) -> None:
        async with connect(server.url, additional_headers={"Authorization": f"Bearer {server.mint_token('a')}"}) as ws:
            await ws.send(json.dumps({"type": "user_message", "payload": "one two", "thread_id": "t"}))
            frames = [await ws.recv() for _ in range(5)]
        assert all(isinstance(frame, str) for frame in frames)
        assert [json.loads(frame)["seq"] for frame in frames] == [1, 2, 3, 4, 5]

    run(scenario)
