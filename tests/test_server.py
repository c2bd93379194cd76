"""Integration tests over real loopback sockets: the `websockets` server and client, real JWTs."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wskit import AGENT_EVENTS
from wskit.core.errors import ConnectionRejected
from wskit.serve.client import AgentClient
from wskit.serve.server import WskitServer

Scenario = Callable[[WskitServer], Awaitable[None]]


def run_with_server(scenario: Scenario, **options: Any) -> None:
    async def main() -> None:
        async with WskitServer(**options) as server:
            await scenario(server)

    asyncio.run(main())


async def http_get(url: str) -> tuple[int, str, str | None]:
    """Status, body and Content-Type of a GET."""

    def fetch() -> tuple[int, str, str | None]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode(), response.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), exc.headers.get("Content-Type")

    return await asyncio.to_thread(fetch)


async def assert_still_served(client: AgentClient, thread_id: str) -> None:
    events = await client.run_agent("still here", thread_id=thread_id)
    assert [e["type"] for e in events if e.get("thread_id") == thread_id] == list(AGENT_EVENTS)


def test_three_users_each_receive_exactly_their_own_events_in_order() -> None:
    users = ["alice", "bob", "carol"]

    async def scenario(server: WskitServer) -> None:
        clients = {
            user: [await AgentClient.connect(server.url, server.mint_token(user)) for _ in range(3)] for user in users
        }
        # Each user starts two runs from different connections, all users at once.
        for user in users:
            await clients[user][0].send_user_message(f"hello from {user}", thread_id=f"{user}-t1")
            await clients[user][2].send_user_message([user, 1], thread_id=f"{user}-t2")
        for user in users:
            for client in clients[user]:
                while sum(1 for m in client.received if m["type"] == "agent_completed") < 2:
                    await client.receive(timeout=5)
        await asyncio.sleep(0.1)  # anything misrouted would have arrived by now
        for user in users:
            for client in clients[user]:
                received = client.received
                assert {m["user_id"] for m in received} == {user}
                assert [m["seq"] for m in received] == list(range(1, 11))
                for thread in (f"{user}-t1", f"{user}-t2"):
                    assert [m["type"] for m in received if m["thread_id"] == thread] == list(AGENT_EVENTS)
                assert client.connection.close_code is None
        stats = server.registry.stats()
        assert (stats["users"], stats["connections"], stats["messages_sent"]) == (3, 9, 30)
        histories = [server.registry.backplane.history(u) for u in users]  # type: ignore[attr-defined]
        assert stats["history_bytes"] == sum(h.size_bytes for h in histories) > 30 * 100
        assert (stats["buffer_bytes"], stats["memory_budget"], stats["evictions"]) == (0, None, 0)
        for user_clients in clients.values():
            for client in user_clients:
                await client.close()

    run_with_server(scenario)


def test_token_in_query_parameter_is_accepted() -> None:
    async def scenario(server: WskitServer) -> None:
        async with await AgentClient.connect(server.url, server.mint_token("alice"), token_in="query") as client:
            events = await client.run_agent("hi", thread_id="t1")
            assert [e["type"] for e in events] == list(AGENT_EVENTS)
            assert events[-1]["payload"] == {"result": "your message has 1 word"}

    run_with_server(scenario)


def test_rejected_handshakes_get_401_and_create_nothing() -> None:
    async def scenario(server: WskitServer) -> None:
        bystander = await AgentClient.connect(server.url, server.mint_token("bystander"))
        expired = jwt.encode({"sub": "eve", "exp": int(time.time()) - 10}, server.secret, algorithm="HS256")
        cases = [
            ({}, "missing token"),
            ({"Authorization": "Bearer not.a.jwt"}, "malformed token"),
            ({"Authorization": "Basic abc"}, "malformed Authorization header"),
            ({"Authorization": f"Bearer {jwt.encode({'sub': 'eve', 'exp': 9999999999}, 'x' * 32)}"}, "signature"),
            ({"Authorization": f"Bearer {expired}"}, "token expired"),
        ]
        for headers, reason in cases:
            with pytest.raises(InvalidStatus) as info:
                await connect(server.url, additional_headers=headers)
            response = info.value.response
            assert response.status_code == 401
            body = response.body.decode()
            assert reason in body and body.count("\n") == 1 and body.endswith("\n")
        assert server.registry.users() == ["bystander"]  # no manager for anyone rejected
        assert server.registry.stats()["connections"] == 1
        with pytest.raises(ConnectionRejected, match="HTTP 401: token expired"):
            await AgentClient.connect(server.url, expired)
        await assert_still_served(bystander, "after-rejections")
        await bystander.close()

    run_with_server(scenario)


def test_bad_frames_get_error_events_and_the_connection_stays_open() -> None:
    async def scenario(server: WskitServer) -> None:
        other = await AgentClient.connect(server.url, server.mint_token("other"))
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        frames: list[str | bytes] = [
            "{oops",
            b"\x00\xff",
            json.dumps({"type": "format_disk"}),
            json.dumps({"type": "user_message", "payload": "x"}),
        ]
        codes = []
        for frame in frames:
            await client.connection.send(frame)
            reply = await client.receive()
            codes.append(reply["code"])
            assert reply["type"] == "error" and reply["detail"]
        assert codes == ["invalid_json", "binary_frame", "unknown_type", "missing_field"]
        await client.send_json({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
        await assert_still_served(client, "after-errors")
        await assert_still_served(other, "other")
        assert all(m["user_id"] == "other" for m in other.received)
        await client.close()
        await other.close()

    run_with_server(scenario)


def test_oversized_frame_closes_with_1009_and_others_keep_going() -> None:
    async def scenario(server: WskitServer) -> None:
        other = await AgentClient.connect(server.url, server.mint_token("alice"))
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        await client.send_json({"type": "user_message", "payload": "x" * 2000, "thread_id": "t"})
        await client.connection.wait_closed()
        assert client.connection.close_code == 1009
        await assert_still_served(other, "after-oversize")
        assert server.registry.stats()["connections"] == 1
        await other.close()

    run_with_server(scenario, max_message_bytes=1024)


def test_connection_over_the_per_user_limit_is_closed_with_1008() -> None:
    async def scenario(server: WskitServer) -> None:
        allowed = [await AgentClient.connect(server.url, server.mint_token("alice")) for _ in range(2)]
        newest = await AgentClient.connect(server.url, server.mint_token("alice"))
        await newest.connection.wait_closed()
        assert newest.connection.close_code == 1008
        assert newest.connection.close_reason == "too many connections for this user (limit 2)"
        bob = await AgentClient.connect(server.url, server.mint_token("bob"))
        await assert_still_served(allowed[0], "t")
        assert [m["type"] for m in allowed[1].received] == []  # not yet read
        await allowed[1].receive_until("agent_completed")
        await assert_still_served(bob, "bob")
        for client in [*allowed, bob]:
            await client.close()

    run_with_server(scenario, max_connections_per_user=2)


def test_healthz_and_unknown_paths() -> None:
    async def scenario(server: WskitServer) -> None:
        async with await AgentClient.connect(server.url, server.mint_token("alice")) as client:
            await client.run_agent("one two", thread_id="t")
            status, body, _ = await http_get(server.http_url("/healthz"))
            assert status == 200
            health = json.loads(body)
            assert {k: health[k] for k in ("status", "users", "connections", "messages_sent", "evictions")} == {
                "status": "ok", "users": 1, "connections": 1, "messages_sent": 5, "evictions": 0,
            }  # fmt: skip
            assert health["history_bytes"] > 5 * 100 and health["memory_budget"] is None
        status, body, _ = await http_get(server.http_url("/admin"))
        assert status == 404 and "unknown path '/admin'" in body

    run_with_server(scenario)


def test_server_close_sends_1001_to_clients() -> None:
    async def main() -> None:
        server = await WskitServer().start()
        client = await AgentClient.connect(server.url, server.mint_token("alice"))
        await server.close()
        await client.connection.wait_closed()
        assert client.connection.close_code == 1001

    asyncio.run(main())


def test_server_options_are_validated() -> None:
    with pytest.raises(ValueError, match="max_message_bytes must be a positive int"):
        WskitServer(max_message_bytes=0)
    with pytest.raises(ValueError, match="port must be an int from 0 to 65535"):
        WskitServer(port=70000)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        WskitServer(secret="short")


# -- found by mutation testing ---------------------------------------------------------------------


def test_a_browser_style_token_in_the_subprotocol_is_accepted_and_wskit_selected() -> None:
    async def scenario(server: WskitServer) -> None:
        offered = ["wskit", server.mint_token("ann")]
        async with connect(server.url, subprotocols=offered) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == "wskit"
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}
        with pytest.raises(InvalidStatus) as info:
            await connect(server.url, subprotocols=["wskit"])  # type: ignore[list-item]
        assert info.value.response.status_code == 401

    run_with_server(scenario)


def test_healthz_is_json() -> None:
    async def scenario(server: WskitServer) -> None:
        status, body, content_type = await http_get(server.http_url())
        assert server.http_url().endswith("/healthz")
        assert status == 200 and content_type == "application/json"
        assert json.loads(body)["status"] == "ok" and body.endswith("}\n")

    run_with_server(scenario)


def test_server_close_says_why() -> None:
    async def main() -> None:
        server = await WskitServer().start()
        headers = {"Authorization": f"Bearer {server.mint_token('ann')}"}
        async with connect(server.url, additional_headers=headers) as ws:
            await server.close()
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1001, "server shutting down")
        await server.close()  # twice: nothing more to do

    asyncio.run(main())


@pytest.mark.parametrize("port", [True, "8000", -1, 65536])
def test_a_bad_port_is_refused(port: object) -> None:
    with pytest.raises(ValueError, match=r"^port must be an int from 0 to 65535"):
        WskitServer(port=port)  # type: ignore[arg-type]


def test_the_highest_port_is_allowed() -> None:
    assert WskitServer(port=65535).port == 65535


def test_a_server_starts_once_and_has_no_address_before() -> None:
    async def main() -> None:
        server = WskitServer()
        with pytest.raises(RuntimeError, match=r"^server is not running; use 'async with WskitServer\(\.\.\.\) as"):
            _ = server.url
        async with server:
            with pytest.raises(RuntimeError, match=r"^server already started$"):
                await server.start()
            assert server.url == f"ws://127.0.0.1:{server.port}/ws" and server.port != 0

    asyncio.run(main())


def test_an_ipv6_host_is_bracketed_in_urls() -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")

    async def scenario(server: WskitServer) -> None:
        assert server.url == f"ws://[::1]:{server.port}/ws"
        status, _, _ = await http_get(server.http_url())
        assert status == 200

    run_with_server(scenario, host="::1")


def test_minted_tokens_last_an_hour_by_default() -> None:
    server = WskitServer()
    claims = jwt.decode(server.mint_token("ann"), options={"verify_signature": False})
    assert claims["sub"] == "ann" and claims["exp"] - claims["iat"] == 3600


def test_server_defaults_and_the_limits_it_was_given() -> None:
    from wskit.session.connection import SessionLimits

    server = WskitServer()
    assert (server.host, server.port, server.ping_interval, server.ping_timeout) == ("127.0.0.1", 0, 20.0, 20.0)
    assert server.sessions.limits == SessionLimits()
    given = WskitServer(max_message_bytes=1000, max_connections_per_user=2, max_frames_per_second=7.5, frame_burst=9,
                        resume_grace=0.25, close_timeout=1.5, token_expiry_warning=0)  # fmt: skip
    assert given.sessions.limits == SessionLimits(max_message_bytes=1000, max_connections_per_user=2,
                                                  max_frames_per_second=7.5, frame_burst=9, resume_grace=0.25,
                                                  close_timeout=1.5, token_expiry_warning=0)  # fmt: skip


def test_a_server_listens_on_the_port_it_was_given() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario(server: WskitServer) -> None:
        assert server.port == port and server.url == f"ws://127.0.0.1:{port}/ws"
        status, _, _ = await http_get(server.http_url())
        assert status == 200

    run_with_server(scenario, port=port)


def test_an_agent_client_refreshes_through_its_callback() -> None:
    async def scenario(server: WskitServer) -> None:
        now = int(time.time())
        # 160 s long, warned 60 s before exp: at once.
        first = jwt.encode({"sub": "ada", "iat": now - 100, "exp": now + 60}, server.secret, algorithm="HS256")
        given: list[str] = []

        async def refresh() -> str:
            given.append(server.mint_token("ada"))
            return given[-1]

        client = await AgentClient.connect(server.url, first, refresh=refresh)
        assert client.refresh is refresh
        assert await client.receive() == {"type": "token_expiring", "exp": now + 60}
        assert len(given) == 1  # asked for while receiving the warning
        new_exp = jwt.decode(given[0], options={"verify_signature": False})["exp"]
        assert await client.receive() == {"type": "token_refreshed", "exp": new_exp}
        plain = await AgentClient.connect(server.url, first)  # no callback: the warning is only received
        assert await plain.receive() == {"type": "token_expiring", "exp": now + 60}
        await plain.send_json({"type": "ping"})
        assert await plain.receive() == {"type": "pong"}
        for bad, kind in ((None, "NoneType"), ("", "str")):
            with pytest.raises(TypeError, match=f"^a refresh needs the new token as a non-empty str; got {kind}$"):
                await client.send_refresh(bad)  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(plain.receive(timeout=0.05), 2)  # nothing more is coming
        assert time.monotonic() - started < 1  # the receive's own timeout, not the guard's
        with pytest.raises(TypeError, match=r"^refresh must be an async callable returning a new token; got str$"):
            await AgentClient.connect(server.url, first, refresh="later")  # type: ignore[arg-type]
        assert server.registry.stats()["connections"] == 2  # refused before connecting
        await client.close()
        await plain.close()

    run_with_server(scenario, token_expiry_warning=60)
