"""The ASGI adapter under uvicorn: against raw Starlette `send_text` on the same connections, and against
the `websockets` adapter, all in the same run.

    python benchmarks/bench_asgi.py [--connections 500] [--messages 100] [--repeat 3] [--json PATH]

uvicorn (its default WebSocket implementation) runs in this process, serving a `WskitEndpoint`; a
thin recorder in front of the endpoint keeps each connection's ASGI `send`, so the reference can
write to exactly the connections wskit writes to: a Starlette `WebSocket.send_text()` per
connection per message, awaited in a loop (what a hand-written FastAPI fan-out does). The clients
run in a separate process (benchmarks/_clients.py) and only count frames. Layouts:

- fan-out: one user with --connections connections (`manager.send()`), and --connections users
  with one connection each (`registry.broadcast()`, a `seq` and an envelope per user);
- targeted: `manager.send()` to one user with one connection, message after message (20x --messages).

Each phase ends when the client process confirms every connection received every message;
best of --repeat. Reported per layout, in messages per second: raw Starlette; the adapter's own
write path (the same pre-rendered frame offered to each connection's outbox, which writes it
through the ASGI connection: what the adapter adds, target >= 0.9x raw); all of wskit over ASGI
(numbering, history and a per-user envelope on top: where the rest of the difference goes); and
wskit over its `websockets` adapter (its own server, same clients, same layout).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from _common import LineProcess, emit_result, start_clients  # benchmarks/ is on sys.path when run as a script
from starlette.websockets import WebSocket, WebSocketState

from wskit import ManagerRegistry, UserContext
from wskit.asgi import WskitEndpoint
from wskit.core.envelope import encode_json, render_envelope
from wskit.serve.server import WskitServer
from wskit.session.auth import generate_secret

PAYLOAD = {"event": "tick", "text": "x" * 120}
Send = Callable[[int], Awaitable[None]]


class Recorder:
    """An ASGI app in front of the endpoint that keeps every WebSocket's (scope, receive, send)."""

    def __init__(self, endpoint: WskitEndpoint) -> None:
        self.endpoint = endpoint
        self.connections: list[tuple[MutableMapping[str, Any], Any, Any]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            self.connections.append((scope, receive, send))
        await self.endpoint(scope, receive, send)


def starlette_socket(scope: MutableMapping[str, Any], receive: Any, send: Any) -> WebSocket:
    """Starlette's WebSocket over a connection wskit accepted."""
    socket = WebSocket(scope, receive, send)
    socket.client_state = socket.application_state = WebSocketState.CONNECTED
    return socket


async def timed_phase(client: LineProcess, messages: int, send: Send) -> float:
    """Wall seconds until every connection had every message."""
    await client.tell(f"expect {messages}")
    started = time.perf_counter()
    for n in range(messages):
        await send(n)
        await asyncio.sleep(0)  # every phase yields to the loop once per message
    line = await client.line(600)
    assert line == "done", line
    return time.perf_counter() - started


def frame(n: int, user: str) -> str:
    return render_envelope(
        event_type="tick", seq=n + 1, epoch="bench-1", ts=time.time(), user_id=user, thread_id=None, run_id=None,
        payload_json=encode_json({**PAYLOAD, "n": n}),
    )  # fmt: skip


def wskit_sender(registry: ManagerRegistry, users: list[str]) -> Send:
    managers = [registry.get_or_create(UserContext(user_id=u)) for u in users]

    async def send(n: int) -> None:
        message = {"type": "tick", "payload": {**PAYLOAD, "n": n}}
        if len(managers) == 1:
            await managers[0].send(message)
        else:
            await registry.broadcast(message)

    return send


async def over_asgi(users: list[str], connections: int, messages: int, repeat: int, work: Path) -> dict[str, float]:
    registry = ManagerRegistry(max_managers=len(users) + 10)
    endpoint = WskitEndpoint(
        secret=generate_secret(), registry=registry, resume_grace=0, max_connections_per_user=connections + 1
    )
    recorder = Recorder(endpoint)
    config = uvicorn.Config(
        recorder, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    tokens = [endpoint.mint_token(users[i % len(users)]) for i in range(connections)]
    client = await start_clients(f"ws://127.0.0.1:{port}/ws", tokens, work, "asgi")
    sockets = [starlette_socket(*connection) for connection in recorder.connections]

    async def raw(n: int) -> None:
        text = frame(n, users[0])
        for socket in sockets:
            await socket.send_text(text)

    wskit = wskit_sender(registry, users)
    # The adapter alone: the same pre-rendered frame through each connection's outbox, writer and
    # ASGI connection (what wskit does per connection), without numbering or keeping anything.
    managers = [registry.get_or_create(UserContext(user_id=user)) for user in users]
    outboxes = [outbox for manager in managers for outbox in manager._outboxes.values()]

    async def adapter(n: int) -> None:
        data = frame(n, users[0]).encode("ascii")
        for outbox in outboxes:
            outbox.offer(data)

    results: dict[str, list[float]] = {"raw": [], "adapter": [], "wskit": []}
    await timed_phase(client, max(1, messages // 4), raw)  # warm-up
    for _ in range(repeat):
        results["raw"].append(await timed_phase(client, messages, raw))
        results["adapter"].append(await timed_phase(client, messages, adapter))
        results["wskit"].append(await timed_phase(client, messages, wskit))
    await client.stop()
    server.should_exit = True
    await serving
    return {kind: min(times) for kind, times in results.items()}


async def over_websockets(users: list[str], connections: int, messages: int, repeat: int, work: Path) -> float:
    registry = ManagerRegistry(max_managers=len(users) + 10)
    async with WskitServer(
        registry=registry, resume_grace=0, max_connections_per_user=connections + 1, ping_interval=None
    ) as server:
        tokens = [server.mint_token(users[i % len(users)]) for i in range(connections)]
        client = await start_clients(server.url, tokens, work, "websockets")
        send = wskit_sender(registry, users)
        await timed_phase(client, max(1, messages // 4), send)
        best = min([await timed_phase(client, messages, send) for _ in range(repeat)])
        await client.stop()
    return best


async def layout(name: str, users: list[str], connections: int, messages: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        asgi = await over_asgi(users, connections, messages, repeat, Path(work))
        ws = await over_websockets(users, connections, messages, repeat, Path(work))
    delivered = connections * messages
    rate = {"raw_starlette": delivered / asgi["raw"], "adapter": delivered / asgi["adapter"],
            "wskit_asgi": delivered / asgi["wskit"], "wskit_websockets": delivered / ws}  # fmt: skip
    ratio_adapter = rate["adapter"] / rate["raw_starlette"]
    ratio_raw = rate["wskit_asgi"] / rate["raw_starlette"]
    ratio_ws = rate["wskit_asgi"] / rate["wskit_websockets"]
    print(
        f"{name}: raw Starlette send_text {rate['raw_starlette']:,.0f} msg/s; the adapter's write path"
        f" {rate['adapter']:,.0f} msg/s ({ratio_adapter:.2f}x raw, target >= 0.90x); all of wskit over ASGI"
        f" {rate['wskit_asgi']:,.0f} msg/s ({ratio_raw:.2f}x raw); wskit over websockets"
        f" {rate['wskit_websockets']:,.0f} msg/s (ASGI/websockets {ratio_ws:.2f}x)"
    )
    return {
        "connections": connections,
        "users": len(users),
        "messages": messages,
        **{f"{k}_messages_per_second": round(v) for k, v in rate.items()},
        "ratio_adapter_vs_raw_starlette": round(ratio_adapter, 3),
        "ratio_asgi_vs_raw_starlette": round(ratio_raw, 3),
        "ratio_asgi_vs_websockets_adapter": round(ratio_ws, 3),
        "met": ratio_adapter >= 0.9,
    }


async def run(connections: int, messages: int, repeat: int) -> dict[str, Any]:
    one_user = await layout(f"fan-out, 1 user x {connections} connections", ["fan"], connections, messages, repeat)
    many = [f"user{i:05d}" for i in range(connections)]
    many_users = await layout(f"fan-out, {connections} users x 1 connection", many, connections, messages, repeat)
    targeted = await layout("targeted send, 1 user x 1 connection", ["solo"], 1, messages * 20, repeat)
    return {"benchmark": "asgi", "server": f"uvicorn {uvicorn.__version__} (websockets-sansio)",
            "one_user": one_user, "many_users": many_users, "targeted": targeted, "target_ratio": 0.9}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    emit_result(asyncio.run(run(args.connections, args.messages, args.repeat)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
