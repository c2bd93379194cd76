"""One contract, every adapter: the `websockets` server and Starlette under uvicorn (default and wsproto)
and hypercorn, each a real server process on a loopback port, driven by real clients."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from servers import ADAPTERS, ServerProcess, raw_upgrade
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wskit import AGENT_EVENTS
from wskit.core.errors import ConnectionRejected
from wskit.serve.client import AgentClient

OPTIONS: dict[str, Any] = {"max_connections_per_user": 3, "max_message_bytes": 8192, "frame_burst": 30,
                           "token_expiry_warning": 2}  # fmt: skip
# What a server may log without it being a problem we left unhandled.
UNHANDLED = ("Traceback", "ERROR", "Exception in", "exception was never retrieved")


@pytest.fixture(scope="module", params=ADAPTERS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("logs") / f"{request.param}.log"
    with ServerProcess(request.param, log, **OPTIONS) as process:
        yield process
        # Everything the suite did to this server (bad tokens, bad frames, floods, drops) was handled.
        text = process.log()
        assert not any(marker in text for marker in UNHANDLED), text


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def connect_client(server: ServerProcess, user: str, **options: Any) -> AgentClient:
    return await AgentClient.connect(server.url, server.mint_token(user), **options)


def seqs(client: AgentClient) -> list[int]:
    return [m["seq"] for m in client.received if "seq" in m]


async def wait_for_health(server: ServerProcess, key: str, value: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while (await asyncio.to_thread(server.health))[key] != value:  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.05)


def test_agent_runs_reach_every_connection_of_their_user_only(server: ServerProcess) -> None:
    async def scenario() -> None:
        users = ["ann", "ben", "cat"]
        clients = {user: [await connect_client(server, user, token_in=way) for way in ("header", "subprotocol")]
                   for user in users}  # fmt: skip
        for user in users:
            await clients[user][0].send_user_message(f"hello {user}", thread_id=f"{user}-a")
            await clients[user][1].send_user_message([user, 2], thread_id=f"{user}-b")
        for user in users:
            for client in clients[user]:
                while sum(m["type"] == "agent_completed" for m in client.received) < 2:
                    await client.receive(timeout=10)
        await asyncio.sleep(0.1)  # anything misrouted would have arrived by now
        for user in users:
            for client in clients[user]:
                assert {m["user_id"] for m in client.received} == {user}
                assert seqs(client) == list(range(1, 11))
                for thread in (f"{user}-a", f"{user}-b"):
                    assert [m["type"] for m in client.received if m["thread_id"] == thread] == list(AGENT_EVENTS)
            assert clients[user][1].connection.subprotocol == "wskit"
            assert clients[user][0].connection.subprotocol is None
        for user_clients in clients.values():
            for client in user_clients:
                await client.close()

    run(scenario())


def test_every_bad_token_is_refused_before_accept_and_never_logged(server: ServerProcess) -> None:
    expired = jwt.encode({"sub": "eve", "exp": int(time.time()) - 10}, server.secret, algorithm="HS256")
    foreign = jwt.encode({"sub": "eve", "exp": 9999999999}, "x" * 32, algorithm="HS256")
    no_exp = jwt.encode({"sub": "eve"}, server.secret, algorithm="HS256")
    bad_sub = jwt.encode({"sub": "eve smith", "exp": 9999999999}, server.secret, algorithm="HS256")
    no_iat = jwt.encode({"sub": "eve", "exp": int(time.time()) + 60}, server.secret, algorithm="HS256")
    too_long = server.mint_token("eve", ttl_seconds=86_401)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "missing token"),
        ({"additional_headers": {"Authorization": "Bearer not.a.jwt"}}, "malformed token"),
        ({"additional_headers": {"Authorization": f"Basic {expired}"}}, "malformed Authorization header"),
        ({"additional_headers": {"Authorization": f"Bearer {foreign}"}}, "bad token signature"),
        ({"additional_headers": {"Authorization": f"Bearer {expired}"}}, "token expired"),
        ({"additional_headers": {"Authorization": f"Bearer {no_exp}"}}, "token lacks the required 'exp' claim"),
        ({"subprotocols": ["wskit", bad_sub]}, "token subject is not a valid user id"),
        ({"subprotocols": ["wskit"]}, "offer exactly two subprotocols"),
        ({"additional_headers": {"Authorization": f"Bearer {no_iat}"}}, "token lacks the required 'iat' claim"),
        ({"subprotocols": ["wskit", too_long]}, "token lasts 86401 s (exp - iat), longer than this server's limit"),
    ]

    async def scenario() -> None:
        before = await asyncio.to_thread(server.health)
        for options, reason in cases:
            with pytest.raises(InvalidStatus) as info:
                await connect(server.url, **options)
            response = info.value.response
            assert response.status_code == 401
            body = response.body.decode()
            assert reason in body and body.endswith("\n") and body.count("\n") == 1, body
        with pytest.raises(InvalidStatus) as info:
            await connect(f"{server.url}?last_seq=x", additional_headers={"Authorization": f"Bearer {no_exp}"})
        assert info.value.response.status_code == 401  # the token is checked first
        good = server.mint_token("dana")
        with pytest.raises(ConnectionRejected, match="HTTP 400: last_seq must be a non-negative integer"):
            await AgentClient.connect(f"{server.url}?last_seq=-1", good)
        after = await asyncio.to_thread(server.health)
        assert (after["users"], after["connections"]) == (before["users"], before["connections"])

    run(scenario())
    log = server.log()
    for token in (expired, foreign, no_exp, bad_sub, no_iat, too_long):
        assert token not in log and token.split(".")[2] not in log


def test_bad_frames_get_error_events_and_the_connection_stays_open(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = await connect_client(server, "fay")
        frames: list[str | bytes] = [
            "{oops",
            b"\x00\xff",
            "[1]",
            json.dumps({"type": "format_disk"}),
            json.dumps({"type": "ping", "extra": 1}),
            json.dumps({"type": "user_message", "payload": "x"}),
            json.dumps({"type": "user_message", "payload": "x", "thread_id": "bad id"}),
        ]
        codes = []
        for frame in frames:
            await client.connection.send(frame)
            reply = await client.receive()
            assert reply["type"] == "error" and reply["detail"]
            codes.append(reply["code"])
        assert codes == [
            "invalid_json", "binary_frame", "invalid_frame", "unknown_type", "unknown_field", "missing_field",
            "invalid_field",
        ]  # fmt: skip
        await client.resume(0)
        assert (await client.receive())["code"] == "resume_too_late"
        events = await client.run_agent("still here", thread_id="t")
        assert [e["type"] for e in events] == list(AGENT_EVENTS)
        await client.close()

    run(scenario())


def test_limits_close_with_their_codes(server: ServerProcess) -> None:
    async def scenario() -> None:
        keeper = await connect_client(server, "gus")
        big = await connect_client(server, "gus")
        await big.send_json({"type": "user_message", "payload": "x" * 9000, "thread_id": "t"})
        await big.connection.wait_closed()
        assert big.connection.close_code == 1009
        await wait_for_health(server, "connections", 1)
        crowd = [await connect_client(server, "gus") for _ in range(2)]
        over = await connect_client(server, "gus")
        await over.connection.wait_closed()
        assert (over.connection.close_code, over.connection.close_reason) == (
            1008, "too many connections for this user (limit 3)",
        )  # fmt: skip
        flood = await connect_client(server, "hal")
        for _ in range(OPTIONS["frame_burst"] + 10):
            try:
                await flood.send_json({"type": "ping"})
            except ConnectionClosed:
                break
        replies = []
        with pytest.raises(ConnectionClosed):
            while True:
                replies.append(await flood.receive(timeout=10))
        assert replies[: OPTIONS["frame_burst"]] == [{"type": "pong"}] * OPTIONS["frame_burst"]
        assert replies[-1]["code"] == "rate_limited"
        assert flood.connection.close_code == 1008
        events = await keeper.run_agent("others go on", thread_id="k")
        assert [e["type"] for e in events if e.get("thread_id") == "k"] == list(AGENT_EVENTS)
        for client in (keeper, *crowd):
            await client.close()

    run(scenario())


def test_resume_without_loss_with_last_seq_and_first_frame(server: ServerProcess) -> None:
    async def scenario() -> None:
        first = await connect_client(server, "ivy")
        await first.run_agent("one", thread_id="t1")
        await first.close()
        await wait_for_health(server, "connections", 0)
        # Sent while that connection is away: it must come back exactly once, in order.
        helper = await connect_client(server, "ivy")
        await helper.run_agent("two", thread_id="t2")
        await helper.close()
        back = await connect_client(server, "ivy", last_seq=first.last_seq)
        while len(seqs(back)) < 5:
            await back.receive()
        assert seqs(back) == [6, 7, 8, 9, 10]
        again = await connect_client(server, "ivy")
        await again.resume(7)
        while len(seqs(again)) < 3:
            await again.receive()
        assert seqs(again) == [8, 9, 10]
        await back.run_agent("three", thread_id="t3")
        while len(seqs(again)) < 8:
            await again.receive()
        assert seqs(again) == list(range(8, 16)) and seqs(back) == list(range(6, 16))
        epoch = back.epoch
        assert epoch is not None and {m["epoch"] for m in back.received} == {epoch} == {first.epoch}
        resync = {"type": "resync_required", "epoch": epoch, "oldest_seq": 1, "latest_seq": 15}
        await again.close()
        stale = await connect_client(server, "ivy", last_seq=99)
        assert await stale.receive() == resync
        await stale.close()
        await wait_for_health(server, "connections", 1)
        other_epoch = await connect_client(server, "ivy", last_seq=3, epoch="not-this-one")
        assert await other_epoch.receive() == resync  # the same numbers in another history: never replayed
        same_epoch = await connect_client(server, "ivy", last_seq=14, epoch=epoch)
        assert (await same_epoch.receive())["seq"] == 15
        for client in (back, other_epoch, same_epoch):
            await client.close()

    run(scenario())


def exp_of(token: str) -> float:
    exp: float = jwt.decode(token, options={"verify_signature": False})["exp"]
    return exp


def test_a_connection_is_warned_then_closed_4001_within_a_second_of_its_tokens_exp(server: ServerProcess) -> None:
    async def scenario() -> None:
        token = server.mint_token("kai", ttl_seconds=3)
        client = await AgentClient.connect(server.url, token)
        other = await connect_client(server, "lee")
        # 3 s long, shorter than twice the 2 s warning: warned halfway, 1.5 s before exp.
        assert await client.receive(timeout=5) == {"type": "token_expiring", "exp": exp_of(token)}
        assert exp_of(token) - 1.5 - 0.05 <= time.time() < exp_of(token)
        with pytest.raises(ConnectionClosed):
            await client.receive(timeout=5)
        closed = time.time()
        assert (client.connection.close_code, client.connection.close_reason) == (4001, "token expired")
        assert exp_of(token) <= closed < exp_of(token) + 1.0, closed - exp_of(token)
        events = await other.run_agent("still here", thread_id="l")
        assert [e["type"] for e in events] == list(AGENT_EVENTS)
        await other.close()

    run(scenario())


def test_a_refreshed_connection_outlives_its_tokens_and_gets_every_envelope_once(server: ServerProcess) -> None:
    async def scenario() -> None:
        issued: list[str] = []

        async def new_token() -> str:
            issued.append(server.mint_token("mia", ttl_seconds=3))
            return issued[-1]

        first = server.mint_token("mia", ttl_seconds=3)
        client = await AgentClient.connect(server.url, first, refresh=new_token)
        feeder = await connect_client(server, "mia")
        runs = 16  # one every 0.5 s: across the first token's exp and at least one refreshed token's

        async def feed() -> None:
            for n in range(runs):
                await feeder.send_user_message(f"m{n}", thread_id=f"t{n}")
                await asyncio.sleep(0.5)

        async def read() -> None:
            while len(seqs(client)) < 5 * runs:
                await client.receive(timeout=5)

        await asyncio.gather(feed(), read())
        assert time.time() > exp_of(issued[0]) > exp_of(first), "the stream did not outlive two tokens"
        assert seqs(client) == list(range(1, 5 * runs + 1))  # nothing lost, nothing twice
        replies = [m for m in client.received if m["type"] in ("token_expiring", "token_refreshed")]
        assert replies[:2] == [{"type": "token_expiring", "exp": exp_of(first)},
                               {"type": "token_refreshed", "exp": exp_of(issued[0])}]  # fmt: skip
        assert [m["exp"] for m in replies if m["type"] == "token_refreshed"] == [exp_of(t) for t in issued]
        assert client.connection.close_code is None
        await client.close()
        await feeder.close()

    run(scenario())


def test_a_refresh_with_a_bad_token_is_refused_and_with_another_users_closes_1008(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = await connect_client(server, "noa")
        expired = jwt.encode({"sub": "noa", "iat": int(time.time()) - 20, "exp": int(time.time()) - 10},
                             server.secret, algorithm="HS256")  # fmt: skip
        foreign = jwt.encode({"sub": "noa", "iat": int(time.time()), "exp": int(time.time()) + 60}, "x" * 32)
        for token, detail in [
            (expired, "token expired: mint a new one"),
            (foreign, "bad token signature: the token was not signed with this server's secret"),
            (server.mint_token("noa", ttl_seconds=86_401), "token lasts 86401 s (exp - iat)"),
        ]:
            await client.send_refresh(token)
            reply = await client.receive()
            assert (reply["type"], reply["code"]) == ("error", "refresh_refused")
            assert reply["detail"].startswith(detail)
        await client.send_json({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
        await client.send_refresh(server.mint_token("eve"))
        assert await client.receive() == {
            "type": "error", "code": "refresh_refused",
            "detail": "the token is another user's; a connection keeps its user",
        }  # fmt: skip
        with pytest.raises(ConnectionClosed):
            await client.receive()
        assert (client.connection.close_code, client.connection.close_reason) == (
            1008, "refresh with another user's token",
        )  # fmt: skip

    run(scenario())


def test_a_query_token_never_reaches_the_servers_log(server: ServerProcess) -> None:
    async def scenario() -> None:
        token = server.mint_token("oli")
        client = await AgentClient.connect(server.url, token, token_in="query", last_seq=0)
        await client.run_agent("from the query", thread_id="q")
        await client.close()
        with pytest.raises(ConnectionRejected):
            await AgentClient.connect(server.url, server.mint_token("oli", ttl_seconds=86_401), token_in="query")
        return token

    token = run(scenario())
    time.sleep(0.2)  # the server's log lines are written
    log = server.log()
    assert token not in log and token.split(".")[2] not in log
    if server.adapter.startswith("uvicorn"):  # it logs every WebSocket's path with its query
        assert '"WebSocket /ws?token=***&last_seq=0" [accepted]' in log, log[-2000:]


def stalled_reader_scenario(adapter: str, tmp_path: Path, **extra: Any) -> tuple[int, int]:
    """A reader that stops reading, on `adapter`: returns (bytes offered to it before it was closed
    1013, the server's RSS growth meanwhile and over the 12 MB that followed)."""
    payload = "y" * 60_000  # each run carries it twice (agent_started, tool_executing): 120 kB per connection
    options = {"max_buffered_bytes": 256 * 1024, "send_timeout": 2, "max_frames_per_second": 500, "frame_burst": 500,
               "max_message_bytes": 70_000, **extra}  # fmt: skip
    with ServerProcess(adapter, tmp_path / "server.log", **options) as server:

        async def runs_of(client: AgentClient, count: int, first: int) -> None:
            for n in range(first, first + count):
                await client.send_user_message(payload, thread_id=f"r{n}")
            while sum(m["type"] == "agent_completed" for m in client.received) < first + count:
                await client.receive(timeout=10)

        async def scenario() -> tuple[int, int]:
            stalled = await asyncio.to_thread(raw_upgrade, server.port, server.mint_token("joe"))
            reader = await connect_client(server, "joe", max_size=None)
            other = await connect_client(server, "kim")
            await wait_for_health(server, "connections", 3)
            baseline = server.rss_bytes()
            runs = 0
            while (await asyncio.to_thread(server.health))["connections"] == 3:
                # Unbounded buffering would take all of it and never close the stalled reader.
                assert runs * 2 * len(payload) < 64 * 2**20, "the stalled reader was never closed"
                await runs_of(reader, 10, runs)
                runs += 10
            offered = runs * 2 * len(payload)
            # The rest of the same user's traffic goes on, 12 MB more, and other users are not held up.
            await runs_of(reader, 100, runs)
            runs += 100
            events = await other.run_agent("and me?", thread_id="k")
            assert [e["type"] for e in events] == list(AGENT_EVENTS)
            assert seqs(reader) == list(range(1, 5 * runs + 1))
            grew = server.rss_bytes() - baseline
            stalled.settimeout(5)
            tail = b""
            try:
                while chunk := stalled.recv(1 << 20):
                    tail = (tail + chunk)[-4096:]
            except (TimeoutError, ConnectionResetError):
                pass
            stalled.close()
            close = tail.rfind(b"\x88")  # the last frame: close, unmasked, short reason
            assert close >= 0 and int.from_bytes(tail[close + 2 : close + 4], "big") == 1013, tail[-64:]
            await reader.close()
            await other.close()
            return offered, grew

        result: tuple[int, int] = run(scenario())
        return result


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_stalled_reader_is_closed_1013_and_costs_no_one_else(adapter: str, tmp_path: Path) -> None:
    offered, grew = stalled_reader_scenario(adapter, tmp_path)
    # Closed once its bound (plus what the kernel's socket buffers took) was exceeded, and the
    # 12 MB that followed left no trace in the process.
    assert offered <= 16 * 2**20, offered
    assert grew < 32 * 2**20, grew


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_sigterm_closes_every_connection_1001_and_exits(adapter: str, tmp_path: Path) -> None:
    server = ServerProcess(adapter, tmp_path / "server.log").start()

    async def scenario() -> None:
        clients = [await connect_client(server, user) for user in ("lou", "lou", "max")]
        await clients[0].run_agent("before", thread_id="t")
        started = time.monotonic()
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        for client in clients:
            await client.connection.wait_closed()
            assert (client.connection.close_code, client.connection.close_reason) == (1001, "server shutting down")
        assert time.monotonic() - started < 3

    try:
        run(scenario())
        code = server.wait()
    finally:
        server.stop()
    # uvicorn re-raises the signal it handled once it has shut down gracefully.
    assert code == (-signal.SIGTERM if adapter.startswith("uvicorn") else 0), server.log()
    assert not any(marker in server.log() for marker in UNHANDLED), server.log()
