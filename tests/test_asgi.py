"""The ASGI adapter at the protocol level: the messages it exchanges with an ASGI server, and the
signal handoff that gives clients a 1001 before the server's own shutdown. (tests/test_adapters.py
runs the same adapter under real uvicorn and hypercorn processes.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest

from wskit import AGENT_EVENTS, ManagerRegistry, UserContext
from wskit.core.writers import ConnectionGone
from wskit.serve.asgi import ASGIConnection, WskitEndpoint
from wskit.serve.shutdown import close_first_on_signals
from wskit.session.auth import generate_secret

Message = dict[str, Any]


class Peer:
    """The server side of one ASGI WebSocket: what the app receives, and what it sent."""

    def __init__(self, *incoming: Message) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        for message in incoming:
            self.incoming.put_nowait(message)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "websocket.close":  # a server answers a close with the disconnect
            self.incoming.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(m["text"]) for m in self.sent if m["type"] == "websocket.send"]


def scope(*, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
          subprotocols: list[str] | None = None,
          extensions: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "websocket", "path": "/ws", "query_string": query, "headers": headers or [],
        "subprotocols": subprotocols or [],
        "extensions": {"websocket.http.response": {}} if extensions is None else extensions,
    }  # fmt: skip


def endpoint(**options: Any) -> WskitEndpoint:
    return WskitEndpoint(secret=generate_secret(), registry=ManagerRegistry(), resume_grace=0, **options)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_a_refusal_is_an_http_401_with_the_reason_when_the_server_can_send_one() -> None:
    async def scenario() -> None:
        app = endpoint()
        peer = Peer({"type": "websocket.connect"})
        await app(scope(headers=[(b"authorization", b"Bearer nope")]), peer.receive, peer.send)
        start, body = peer.sent
        assert start == {"type": "websocket.http.response.start", "status": 401,
                         "headers": [(b"content-type", b"text/plain; charset=utf-8")]}  # fmt: skip
        assert body["type"] == "websocket.http.response.body"
        assert body["body"].decode().startswith("malformed token") and body["body"].endswith(b"\n")
        assert app.sessions.rejected_handshakes == 1 and app.registry.users() == []

    run(scenario)


def test_without_the_extension_a_refusal_is_a_close_before_the_accept() -> None:
    async def scenario() -> None:
        app = endpoint()
        peer = Peer({"type": "websocket.connect"})
        await app(scope(extensions={}, query=b"last_seq=1"), peer.receive, peer.send)
        (close,) = peer.sent
        assert close["type"] == "websocket.close" and close["code"] == 1008
        assert close["reason"].startswith("missing token")  # the server answers 403

    run(scenario)


def test_an_accepted_connection_speaks_the_session_protocol() -> None:
    async def scenario() -> None:
        app = endpoint()
        token = app.mint_token("ann")
        peer = Peer(
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": json.dumps({"type": "ping"})},
            {"type": "websocket.receive", "bytes": b"\x00"},
            {"type": "websocket.receive",
             "text": json.dumps({"type": "user_message", "payload": "a b", "thread_id": "t"})},
        )  # fmt: skip
        serving = asyncio.ensure_future(app(scope(subprotocols=["wskit", token]), peer.receive, peer.send))
        for _ in range(100):
            await asyncio.sleep(0)
        assert peer.sent[0] == {"type": "websocket.accept", "subprotocol": "wskit"}
        frames = peer.frames()
        assert frames[:2] == [{"type": "pong"}, {"type": "error", "code": "binary_frame",
                              "detail": "binary frames are not accepted; send JSON text frames"}]  # fmt: skip
        assert [f["type"] for f in frames[2:]] == list(AGENT_EVENTS)
        assert app.registry.stats()["connections"] == 1
        peer.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await serving
        assert app.registry.stats()["connections"] == 0

    run(scenario)


def test_a_header_token_selects_no_subprotocol_and_a_limit_close_waits_for_the_disconnect() -> None:
    async def scenario() -> None:
        app = endpoint(max_connections_per_user=1)
        headers = [(b"authorization", f"Bearer {app.mint_token('ann')}".encode())]
        first = Peer({"type": "websocket.connect"})
        serving = asyncio.ensure_future(app(scope(headers=headers), first.receive, first.send))
        await asyncio.sleep(0.01)
        assert first.sent == [{"type": "websocket.accept"}]
        second = Peer({"type": "websocket.connect"})
        await app(scope(headers=headers), second.receive, second.send)  # returns once the peer is gone
        assert second.sent[1] == {"type": "websocket.close", "code": 1008,
                                  "reason": "too many connections for this user (limit 1)"}  # fmt: skip
        await app.close()
        await serving
        assert first.sent[-1] == {"type": "websocket.close", "code": 1001, "reason": "server shutting down"}

    run(scenario)


def test_http_and_lifespan_scopes() -> None:
    async def scenario() -> None:
        app = endpoint()
        peer = Peer()
        await app({"type": "http", "path": "/ws"}, peer.receive, peer.send)
        assert peer.sent[0]["status"] == 426 and b"connect with a WebSocket client" in peer.sent[1]["body"]
        quiet = Peer({"type": "lifespan.startup"})
        await app({"type": "lifespan"}, quiet.receive, quiet.send)
        assert quiet.sent == []  # a lifespan is the app's: see WskitEndpoint.lifespan
        ignored = Peer({"type": "websocket.disconnect", "code": 1006})
        await app(scope(), ignored.receive, ignored.send)  # gone before it connected
        assert ignored.sent == []

    run(scenario)


def test_a_lost_socket_ends_the_connection_quietly() -> None:
    async def scenario() -> None:
        app = endpoint()

        async def broken(message: Message) -> None:
            raise OSError("the server lost the socket")

        peer = Peer({"type": "websocket.connect"})
        await app(scope(headers=[(b"authorization", f"Bearer {app.mint_token('ann')}".encode())]), peer.receive, broken)
        assert app.registry.stats()["connections"] == 0

    run(scenario)


def test_the_connection_wrapper_after_the_peer_left() -> None:
    async def scenario() -> None:
        peer = Peer()
        connection = ASGIConnection(peer.send)
        await connection.send("one")
        await connection.close(4000, "bye")
        await connection.close(4001, "again")  # once only
        with pytest.raises(ConnectionGone, match="the client disconnected"):
            await connection.send("two")
        assert peer.sent == [{"type": "websocket.send", "text": "one"}, {"type": "websocket.close", "code": 4000,
                                                                    "reason": "bye"}]  # fmt: skip

        async def refusing(message: Message) -> None:
            raise RuntimeError("Unexpected ASGI message 'websocket.close', after sending 'websocket.close'")

        await ASGIConnection(refusing).close()  # the client left first: nothing to do, no error

    run(scenario)


def test_health_and_routes() -> None:
    async def scenario() -> None:
        app = endpoint()
        response = await app.health(None)  # type: ignore[arg-type]
        assert response.status_code == 200 and json.loads(response.body)["status"] == "ok"
        ws_route, health_route = app.routes("/live", health_path="/up")
        assert (ws_route.path, health_route.path) == ("/live", "/up")  # type: ignore[attr-defined]

    run(scenario)


# -- the signal handoff ---------------------------------------------------------------------------


def test_a_signal_closes_first_then_reaches_the_handler_that_was_there() -> None:
    order: list[str] = []
    frames: list[object] = []

    def servers_handler(signum: int, frame: object) -> None:
        order.append(f"server's handler {signum}")
        frames.append(frame)

    previous = signal.signal(signal.SIGUSR1, servers_handler)

    async def scenario() -> None:
        async def close() -> None:
            await asyncio.sleep(0.05)
            order.append("closed")

        restore = close_first_on_signals(close, signals=(signal.SIGUSR1,))
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(40):
            await asyncio.sleep(0.01)
        restore()
        assert signal.getsignal(signal.SIGUSR1) is not None and order[-1].startswith("server's handler")

    try:
        run(scenario)
    finally:
        handler = signal.getsignal(signal.SIGUSR1)
        signal.signal(signal.SIGUSR1, previous)
    assert order == ["closed", f"server's handler {int(signal.SIGUSR1)}"]
    assert frames[0] is not None  # it gets the interrupted frame, as if it had been called directly
    assert handler is servers_handler  # restore() put the server's back


def test_a_second_signal_does_not_wait_for_the_close() -> None:
    order: list[str] = []

    def servers_handler(signum: int, frame: object) -> None:
        assert signum == signal.SIGUSR2 and frame is not None  # what the signal brought, passed on as it came
        order.append("server's handler")

    previous = signal.signal(signal.SIGUSR2, servers_handler)

    async def scenario() -> None:
        release = asyncio.Event()

        async def close() -> None:
            await release.wait()
            order.append("closed")

        restore = close_first_on_signals(close, signals=(signal.SIGUSR2,))
        os.kill(os.getpid(), signal.SIGUSR2)
        await asyncio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGUSR2)
        await asyncio.sleep(0.05)
        assert order == ["server's handler"]  # passed on at once
        release.set()
        await asyncio.sleep(0.05)
        restore()

    try:
        run(scenario)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert order == ["server's handler", "closed", "server's handler"]


def test_outside_the_main_thread_nothing_is_installed() -> None:
    results: list[object] = []

    def in_a_thread() -> None:
        async def scenario() -> None:
            async def close() -> None:
                results.append("closed")

            before = signal.getsignal(signal.SIGTERM)
            restore = close_first_on_signals(close)
            results.append(signal.getsignal(signal.SIGTERM) is before)
            restore()

        asyncio.run(scenario())

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(5)
    assert results == [True]


def test_with_the_default_handler_the_signal_still_ends_the_process() -> None:
    program = """
import asyncio, os, signal
from wskit.serve.shutdown import close_first_on_signals

async def main():
    async def close():
        print("closed first", flush=True)
    close_first_on_signals(close, signals=(signal.SIGTERM,))
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(5)
    print("still alive", flush=True)

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == -signal.SIGTERM
    assert result.stdout == "closed first\n"


# -- found by mutation testing ---------------------------------------------------------------------


async def http_call(app: Any, method: str, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP request straight into an ASGI app: status, headers, body."""
    peer = Peer({"type": "http.request", "body": b"", "more_body": False})
    request = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"",
               "headers": [], "scheme": "http", "server": ("testserver", 80), "http_version": "1.1"}  # fmt: skip
    await app(request, peer.receive, peer.send)
    start, *bodies = peer.sent
    return start["status"], dict(start["headers"]), b"".join(b.get("body", b"") for b in bodies)


def test_the_default_routes_serve_the_socket_and_a_get_only_health_check() -> None:
    from starlette.applications import Starlette

    async def scenario() -> None:
        app = endpoint()
        web = Starlette(routes=app.routes())
        status, headers, body = await http_call(web, "GET", "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert headers[b"content-type"] == b"application/json"
        assert (await http_call(web, "POST", "/healthz"))[0] == 405
        assert (await http_call(web, "GET", "/elsewhere"))[0] == 404
        peer = Peer({"type": "websocket.connect"})
        await web({**scope(), "path": "/ws"}, peer.receive, peer.send)  # the endpoint answers: no token
        assert peer.sent[0]["type"] == "websocket.http.response.start" and peer.sent[0]["status"] == 401

    run(scenario)


def test_plain_http_on_the_socket_path_is_told_to_use_a_websocket_client() -> None:
    async def scenario() -> None:
        peer = Peer()
        await endpoint()({"type": "http", "path": "/ws"}, peer.receive, peer.send)
        assert peer.sent == [
            {"type": "http.response.start", "status": 426, "headers": [(b"content-type", b"text/plain")]},
            {"type": "http.response.body",
             "body": b"this path serves WebSocket connections; connect with a WebSocket client\n"},
        ]  # fmt: skip

    run(scenario)


def test_a_token_in_the_query_string_is_accepted_with_the_resume_point() -> None:
    async def scenario() -> None:
        app = endpoint()
        manager = app.registry.get_or_create(UserContext(user_id="ann"))
        for n in range(3):
            await manager.send({"type": "n", "payload": n})
        peer = Peer({"type": "websocket.connect"})
        query = f"token={app.mint_token('ann')}&last_seq=1".encode()
        serving = asyncio.ensure_future(app(scope(query=query), peer.receive, peer.send))
        for _ in range(100):
            await asyncio.sleep(0)
        assert peer.sent[0] == {"type": "websocket.accept"}
        assert [(f["seq"], f["payload"]) for f in peer.frames()] == [(2, 1), (3, 2)]
        peer.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await serving

    run(scenario)


def test_an_oversized_binary_frame_closes_with_1009() -> None:
    async def scenario() -> None:
        app = endpoint(max_message_bytes=100)
        peer = Peer({"type": "websocket.connect"}, {"type": "websocket.receive", "bytes": b"x" * 200})
        headers = [(b"authorization", f"Bearer {app.mint_token('ann')}".encode())]
        await asyncio.wait_for(app(scope(headers=headers), peer.receive, peer.send), 5)
        assert peer.sent[-1] == {"type": "websocket.close", "code": 1009, "reason": "frame larger than 100 bytes"}

    run(scenario)


def test_health_is_503_with_the_reason_while_the_backplane_is_down() -> None:
    from wskit.backplane.redis import RedisBackplane
    from wskit.core.errors import BackplaneUnavailable

    async def scenario() -> None:
        backplane = RedisBackplane("redis://127.0.0.1:1/0", command_timeout=1)
        app = WskitEndpoint(secret=generate_secret(), registry=ManagerRegistry(backplane=backplane))
        with pytest.raises(BackplaneUnavailable):
            await backplane.start()
        response = await app.health(None)  # type: ignore[arg-type]
        assert response.status_code == 503
        document = json.loads(response.body)
        assert document["status"] == "unavailable" and document["reason"].startswith("Redis at redis://127.0.0.1:1/0: ")
        await backplane.close()

    run(scenario)


def test_a_connection_closes_with_1000_by_default() -> None:
    async def scenario() -> None:
        peer = Peer()
        await ASGIConnection(peer.send).close()
        assert peer.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]

    run(scenario)


def test_minted_tokens_last_an_hour_by_default() -> None:
    import jwt

    app = endpoint()
    claims = jwt.decode(app.mint_token("ann"), options={"verify_signature": False})
    assert claims["sub"] == "ann" and claims["exp"] - claims["iat"] == 3600


def test_in_process_the_default_handler_is_put_back_and_the_signal_raised_again() -> None:
    # SIGURG's default action is to ignore it: the handoff can be watched without ending the process.
    assert signal.getsignal(signal.SIGURG) is signal.SIG_DFL
    closed: list[str] = []

    async def scenario() -> None:
        async def close() -> None:
            closed.append("closed")

        errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
        close_first_on_signals(close, signals=(signal.SIGURG,))
        assert signal.getsignal(signal.SIGURG) is not signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGURG)
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert errors == []  # the handoff itself did not fail

    try:
        run(scenario)
        assert closed == ["closed"] and signal.getsignal(signal.SIGURG) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGURG, signal.SIG_DFL)


def test_a_close_that_fails_on_a_signal_is_logged_and_the_signal_still_handed_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handed_on: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: handed_on.append(signum))

    async def scenario() -> None:
        async def close() -> None:
            raise RuntimeError("cannot close")

        restore = close_first_on_signals(close, signals=(signal.SIGUSR1,))
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(20):
            await asyncio.sleep(0.01)
        restore()

    try:
        run(scenario)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert handed_on == [int(signal.SIGUSR1)]
    (record,) = [r for r in caplog.records if r.name == "wskit.serve.shutdown"]
    assert record.getMessage() == "closing connections on shutdown failed" and record.exc_info is not None


def test_the_endpoint_applies_the_limits_it_was_given_and_the_default_registry() -> None:
    from wskit.registry import default_registry
    from wskit.session.connection import SessionLimits

    app = WskitEndpoint(secret=generate_secret(), max_message_bytes=1000, max_connections_per_user=2,
                        max_frames_per_second=7.5, frame_burst=9, resume_grace=0.25, close_timeout=1.5,
                        token_expiry_warning=12)  # fmt: skip
    assert app.sessions.limits == SessionLimits(max_message_bytes=1000, max_connections_per_user=2,
                                                max_frames_per_second=7.5, frame_burst=9, resume_grace=0.25,
                                                close_timeout=1.5, token_expiry_warning=12)  # fmt: skip
    assert app.registry is default_registry()
    assert WskitEndpoint(secret=generate_secret()).sessions.limits == SessionLimits()


def test_a_scope_without_headers_or_extensions_is_served() -> None:
    async def scenario() -> None:
        app = endpoint()
        bare = {"type": "websocket", "path": "/ws", "query_string": f"token={app.mint_token('ann')}".encode()}
        peer = Peer({"type": "websocket.connect"})
        serving = asyncio.ensure_future(app(bare, peer.receive, peer.send))
        for _ in range(50):
            await asyncio.sleep(0)
        assert peer.sent[0] == {"type": "websocket.accept"}
        peer.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await serving
        refused = Peer({"type": "websocket.connect"})
        await app({"type": "websocket", "path": "/ws"}, refused.receive, refused.send)  # no token, no extension
        assert refused.sent[0]["type"] == "websocket.close" and refused.sent[0]["code"] == 1008

    run(scenario)


def test_a_connection_is_marked_gone_once_the_client_disconnected() -> None:
    async def scenario() -> None:
        app = endpoint()
        peer = Peer({"type": "websocket.connect"})
        headers = [(b"authorization", f"Bearer {app.mint_token('ann')}".encode())]
        serving = asyncio.ensure_future(app(scope(headers=headers), peer.receive, peer.send))
        for _ in range(50):
            await asyncio.sleep(0)
        manager = app.registry.get("ann")
        assert manager is not None
        (connection,) = manager.connections.values()
        assert isinstance(connection, ASGIConnection) and connection.gone is False
        peer.incoming.put_nowait({"type": "websocket.disconnect", "code": 1001})
        await serving
        assert connection.gone is True
        with pytest.raises(ConnectionGone):
            await connection.send("late")

    run(scenario)


def test_redact_tokens_masks_a_query_token_in_messages_and_arguments() -> None:
    import logging

    from wskit import asgi
    from wskit.serve.asgi import redact_tokens

    assert asgi.redact_tokens is redact_tokens  # the public path
    token = "eyJhbGciOi.eyJzdWIiOiJh.c2lnbmF0dXJl"
    uvicorn_line = logging.LogRecord("uvicorn.error", logging.INFO, "p", 1, '%s - "WebSocket %s" [accepted]',
                                     ("127.0.0.1:5000", f"/ws?token={token}&last_seq=3"), None)  # fmt: skip
    assert redact_tokens(uvicorn_line) is True
    assert uvicorn_line.getMessage() == '127.0.0.1:5000 - "WebSocket /ws?token=***&last_seq=3" [accepted]'
    atoms = {"q": f"token={token}", "s": 101, "r": f"GET /ws?a=1&token={token} HTTP/1.1"}
    hypercorn_line = logging.LogRecord("hypercorn.access", logging.INFO, "p", 1, "%(r)s %(q)s %(s)s", (atoms,), None)
    redact_tokens(hypercorn_line)
    assert hypercorn_line.args is atoms  # changed in place: a mapping of its own kind keeps its lookups
    assert hypercorn_line.getMessage() == "GET /ws?a=1&token=*** HTTP/1.1 token=*** 101"
    plain = logging.LogRecord("x", logging.INFO, "p", 1, f"GET /ws?token={token}#frag, access_token=kept", None, None)
    redact_tokens(plain)
    assert plain.getMessage() == "GET /ws?token=***#frag, access_token=kept"
    other = logging.LogRecord("x", logging.INFO, "p", 1, "%d connections, %s", (3, None), None)
    redact_tokens(other)
    assert other.getMessage() == "3 connections, None"


def test_redact_server_logs_filters_every_server_logger_once(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from wskit.serve.asgi import SERVER_LOGGERS, redact_server_logs, redact_tokens

    assert SERVER_LOGGERS == ("uvicorn.access", "uvicorn.error", "hypercorn.access", "hypercorn.error",
                              "websockets.server")  # fmt: skip
    for name in SERVER_LOGGERS:
        logging.getLogger(name).removeFilter(redact_tokens)  # whatever an earlier test installed
    redact_server_logs()
    redact_server_logs()
    assert redact_tokens not in logging.getLogger().filters  # the servers' loggers, not the root
    for name in SERVER_LOGGERS:
        assert logging.getLogger(name).filters.count(redact_tokens) == 1
    with caplog.at_level(logging.INFO):
        logging.getLogger("websockets.server").info("< GET %s HTTP/1.1", "/ws?token=secret.jwt.value")
    assert [r.getMessage() for r in caplog.records] == ["< GET /ws?token=*** HTTP/1.1"]
    redact_server_logs(("wskit.test.only",))
    assert logging.getLogger("wskit.test.only").filters == [redact_tokens]


def test_the_fastapi_example_checks_its_token_ttl_and_who_may_disconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from wskit.session.auth import mint_token

    monkeypatch.setenv("WSKIT_SECRET", generate_secret())  # the example's module-level app reads it
    from examples.fastapi_app import create_app

    secret = generate_secret()
    endpoint = WskitEndpoint(secret=secret, registry=ManagerRegistry(max_token_lifetime=600))
    for ttl in (0, 601, "soon"):
        message = f"^WSKIT_TOKEN_TTL must be seconds, more than 0 and at most 600; got {ttl!r}$"
        with pytest.raises(RuntimeError, match=message):
            create_app(endpoint, token_ttl=ttl)  # type: ignore[arg-type]
    monkeypatch.setenv("WSKIT_TOKEN_TTL", "30")
    monkeypatch.setenv("WSKIT_ADMINS", " root, ,ops ")

    def bearer(user: str) -> dict[str, str]:
        return {"authorization": f"Bearer {mint_token(user, secret, ttl_seconds=60)}"}

    async def scenario() -> None:
        app = httpx.ASGITransport(app=create_app(endpoint))
        async with httpx.AsyncClient(transport=app, base_url="http://example") as client:
            token = (await client.post("/token/refresh", headers=bearer("ann"))).json()["token"]
            claims = jwt.decode(token, secret, algorithms=["HS256"])
            assert (claims["sub"], claims["exp"] - claims["iat"]) == ("ann", 30)
            refused = await client.post("/token/refresh", headers={"authorization": "Basic x"})
            assert (refused.status_code, refused.json()) == (401, {"detail": "send 'Authorization: Bearer <token>'"})
            for user, status in (("ann", 403), ("root", 200), ("ops", 200)):
                answer = await client.post("/admin/users/bob/disconnect", json={}, headers=bearer(user))
                assert answer.status_code == status, answer.json()
            assert answer.json() == {"user_id": "bob", "processes": 0, "revoked": False}
        nobody = httpx.ASGITransport(app=create_app(endpoint, admins=""))
        async with httpx.AsyncClient(transport=nobody, base_url="http://example") as client:
            answer = await client.post("/admin/users/bob/disconnect", json={}, headers=bearer("root"))
            assert answer.json() == {"detail": "'root' is not an admin: admins are listed in WSKIT_ADMINS"}

    asyncio.run(scenario())
