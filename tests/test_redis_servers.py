"""Several real server processes over one real Redis: `wskit serve --backplane` and the FastAPI app under
uvicorn, real clients, and this test process as a worker that sends without holding any socket."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import time
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
from test_cli import run_cli
from websockets.exceptions import ConnectionClosed

from wskit import AGENT_EVENTS, ManagerRegistry, UserContext, get_websocket_manager
from wskit.backplane.redis import RedisBackplane
from wskit.core.errors import BackplaneUnavailable, ConnectionRejected
from wskit.serve.client import AgentClient
from wskit.session.auth import generate_secret, verify_token

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
    try:
        async with asyncio.timeout(timeout):
            while len(seqs(client)) < count:
                await client.receive(timeout=timeout)
    except TimeoutError:
        got = seqs(client)
        missing = sorted(set(range(1, max(got, default=0) + 1)) - set(got))
        raise AssertionError(
            f"{len(got)} of {count} envelopes within {timeout:g} s: up to seq {max(got, default=0)}, "
            f"missing {missing[:10]}, {len(got) - len(set(got))} twice"
        ) from None


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


# -- a user's connections, closed everywhere -----------------------------------------------------


async def closed_with(client: AgentClient) -> tuple[int | None, str | None]:
    """Read until the server closes the connection; return its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await client.receive(timeout=10)
    return client.connection.close_code, client.connection.close_reason


async def still_open(client: AgentClient) -> None:
    await client.send_json({"type": "ping"})
    assert await client.receive(timeout=5) == {"type": "pong"}


async def next_second() -> None:
    """Tokens count whole seconds: one minted now after a revocation made in this second would be refused."""
    await asyncio.sleep(math.ceil(time.time()) - time.time() + 0.01)


def test_disconnect_user_from_a_worker_closes_the_user_on_two_servers_and_revokes_its_tokens_on_both(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    options = {"backplane": redis_server.url, "secret": SECRET}
    with (
        ServerProcess("websockets", tmp_path / "a.log", **options) as a,
        ServerProcess("websockets", tmp_path / "b.log", **options) as b,
    ):

        async def scenario() -> None:
            old = a.mint_token("alice")
            alices = [await AgentClient.connect(url, old) for url in (a.url, a.url, b.url)]
            bobs = [await AgentClient.connect(url, a.mint_token("bob")) for url in (a.url, b.url)]
            async with worker(redis_server.url) as admin:
                assert await admin.disconnect_user("alice", "account blocked", revoke=True) == 2  # two processes
                for client in alices:
                    assert await closed_with(client) == (4003, "account blocked")
                for client in bobs:
                    await still_open(client)
                report = await get_websocket_manager(UserContext(user_id="bob"), registry=admin).send(
                    {"type": "notice", "payload": "still yours"}
                )
                assert report.stored
                for client in bobs:
                    await receive_until(client, 1)
            # Refused on both processes, before any socket exists, with the reason.
            for server in (a, b):
                with pytest.raises(ConnectionRejected) as refused:
                    await AgentClient.connect(server.url, old)
                assert refused.value.status == 401
                assert refused.value.reason.startswith("token revoked (account blocked): tokens of this user issued")
            ttl = redis_server.client().ttl("wskit:{u:alice}:revoked")
            assert 86_390 < ttl <= 86_400  # kept as long as a token of before could still be valid
            await next_second()
            fresh = [await AgentClient.connect(url, a.mint_token("alice")) for url in (a.url, b.url)]
            for client in fresh:
                await client.send_refresh(old)
                reply = await client.receive()
                assert (reply["code"], reply["detail"]) == ("refresh_refused", refused.value.reason)
                await still_open(client)
            for client in (*fresh, *bobs):
                await client.close()

        asyncio.run(scenario())
    for server in (a, b):
        assert "Traceback" not in server.log() and "ERROR" not in server.log(), server.log()


def test_wskit_disconnect_and_the_example_admin_route_reach_every_process(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    options = {"backplane": redis_server.url, "secret": SECRET}
    with (
        ServerProcess("websockets", tmp_path / "a.log", **options) as a,
        ServerProcess("uvicorn", tmp_path / "b.log", admins="root", **options) as b,
    ):

        async def scenario() -> None:
            carols = [await AgentClient.connect(url, a.mint_token("carol")) for url in (a.url, b.url)]
            command = ["disconnect", "carol", "--backplane", redis_server.url, "--reason", "signed out"]
            done = await asyncio.to_thread(run_cli, *command)
            assert (done.returncode, done.stderr) == (0, "")
            assert done.stdout == "disconnected 'carol': 2 server processes held connections (close 4003: signed out)\n"
            for client in carols:
                assert await closed_with(client) == (4003, "signed out")
            again = await AgentClient.connect(a.url, a.mint_token("carol"))  # without --revoke, tokens still work
            revoke = ["disconnect", "carol", "--revoke", "--max-token-lifetime", "600", "--reason", "bye"]
            done = await asyncio.to_thread(run_cli, *revoke, env={"WSKIT_BACKPLANE": redis_server.url})
            assert (done.returncode, done.stderr) == (0, "")
            assert done.stdout.splitlines() == [
                "disconnected 'carol': 1 server processes held connections (close 4003: bye)",
                "revoked: tokens of 'carol' issued until now are refused for 600 s",
            ]
            assert await closed_with(again) == (4003, "bye")
            assert 590 < redis_server.client().ttl("wskit:{u:carol}:revoked") <= 600

            old = a.mint_token("dan")
            dans = [await AgentClient.connect(url, old) for url in (a.url, b.url)]
            root = b.mint_token("root")
            for token, body, status in [
                (None, {}, 401), (old, {}, 403), (root, {"reason": ""}, 422), (root, {"revoke": "x"}, 422),
            ]:  # fmt: skip
                code, answer = await asyncio.to_thread(post, b, "/admin/users/dan/disconnect", body, token)
                assert code == status, answer
            code, answer = await asyncio.to_thread(
                post, b, "/admin/users/dan/disconnect", {"reason": "blocked", "revoke": True}, root
            )
            assert (code, answer) == (200, {"user_id": "dan", "processes": 2, "revoked": True})
            for client in dans:
                assert await closed_with(client) == (4003, "blocked")
            with pytest.raises(ConnectionRejected, match=r"HTTP 401: token revoked \(blocked\)"):
                await AgentClient.connect(a.url, old)
            code, answer = await asyncio.to_thread(post, b, "/token/refresh", {}, old)
            assert code == 401 and answer["detail"].startswith("token revoked (blocked)")
            code, answer = await asyncio.to_thread(post, b, "/token/refresh", {}, root)
            assert code == 200 and verify_token(answer["token"], SECRET) == "root"

        asyncio.run(scenario())


def test_while_redis_is_down_a_token_cannot_be_checked_and_is_refused_with_the_reason(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    options = {"backplane": redis_server.url, "secret": SECRET, "resume_grace": 30}  # held until the first frame
    with (
        ServerProcess("websockets", tmp_path / "a.log", **options) as a,
        ServerProcess("uvicorn", tmp_path / "b.log", **options) as b,
    ):

        async def scenario() -> None:
            live = [await AgentClient.connect(server.url, a.mint_token("eli")) for server in (a, b)]
            held = [await AgentClient.connect(server.url, a.mint_token("eli")) for server in (a, b)]
            for client in live:
                await still_open(client)  # its first frame: it is live
            redis_server.stop(signal.SIGTERM)
            for client in held:  # its first frame now: what it missed cannot be read, it is told so
                await client.send_json({"type": "ping"})
                assert await closed_with(client) == (1013, "backplane unavailable: try again later")
            reason = f"cannot check whether the token was revoked: Redis at {redis_server.url} failed ("
            for server, client in zip((a, b), live, strict=True):
                with pytest.raises(ConnectionRejected) as refused:
                    await AgentClient.connect(server.url, a.mint_token("eli"))
                assert refused.value.status == 503 and refused.value.reason.startswith(reason), refused.value.reason
                await client.send_refresh(a.mint_token("eli"))
                reply = await client.receive()
                assert (reply["type"], reply["code"]) == ("error", "refresh_unavailable")
                assert reply["detail"].startswith(reason)
                assert reply["detail"].endswith("; the current token stays in force: try again later")
                await still_open(client)
            done = await asyncio.to_thread(run_cli, "disconnect", "eli", "--backplane", redis_server.url)
            assert done.returncode == 1 and done.stdout == ""
            error = f"wskit disconnect: error: cannot connect to the backplane: Redis at {redis_server.url} failed ("
            assert done.stderr.startswith(error), done.stderr
            redis_server.start()
            async with asyncio.timeout(30):
                while True:
                    try:
                        back = await AgentClient.connect(a.url, a.mint_token("eli"))
                        break
                    except ConnectionRejected:
                        await asyncio.sleep(0.2)
            for client in (*live, back):
                await client.close()

        asyncio.run(scenario())
    for server in (a, b):  # said loudly, in the operator's log
        assert "refused a connection of user 'eli': cannot check whether the token was revoked" in server.log()
        assert "refused a token refresh of user 'eli': cannot check whether the token was revoked" in server.log()
        assert "closed a connection of user 'eli' that could not catch up: cannot read the history" in server.log()
        assert "Traceback" not in server.log(), server.log()


def post(server: ServerProcess, path: str, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(server.http_url(path), data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
