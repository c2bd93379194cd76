"""Fan-out throughput: wskit against raw `websockets.asyncio.server.broadcast`, same connections, same run.

    python benchmarks/bench_fanout.py [--connections 1000] [--messages 200] [--repeat 3] [--json PATH]

Two layouts: one user with --connections connections, and --connections users with one
connection each. The clients run in a separate process (benchmarks/_clients.py) and only count
frames. Both sides deliver the same stream: message n carries n in its payload, as any real
stream differs from one message to the next. (Broadcasting one identical frame over and over
would flatter the reference: per-connection deflate compresses an exact repeat almost for free.)
For each layout, phases alternate between raw `broadcast()` of the message serialized once and
wskit (`manager.send()` for one user, `registry.broadcast()` for many users, which gives each user
its own envelope and `seq`); the time runs until the client process confirms every connection
received every message. Reported: delivered messages per second (best of --repeat),
the ratio wskit / raw (target >= 0.9), and the server's CPU time per delivered message.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import LineProcess, emit_result, start_clients  # benchmarks/ is on sys.path when run as a script
from websockets.asyncio.server import broadcast

from wskit import ManagerRegistry, UserContext
from wskit.core.envelope import encode_json, render_envelope
from wskit.serve.server import WskitServer

PAYLOAD = {"event": "tick", "text": "x" * 120}


async def timed_phase(client: LineProcess, messages: int, send: Any) -> tuple[float, float]:
    """(wall seconds until every connection had every message, server CPU seconds)."""
    await client.tell(f"expect {messages}")
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(messages):
        await send(n)
        await asyncio.sleep(0)  # both phases yield to the loop once per message
    line = await client.line(600)
    assert line == "done", line
    return time.perf_counter() - wall, time.process_time() - cpu


async def layout(name: str, users: list[str], connections: int, messages: int, repeat: int) -> dict[str, Any]:
    registry = ManagerRegistry(max_managers=len(users) + 10)
    async with WskitServer(
        registry=registry, resume_grace=0, max_connections_per_user=connections + 1, ping_interval=None
    ) as server:
        tokens = [server.mint_token(users[i % len(users)]) for i in range(connections)]
        with tempfile.TemporaryDirectory() as work:
            client = await start_clients(server.url, tokens, Path(work))
            sockets = list(server.websockets_server.connections)
            managers = [registry.get_or_create(UserContext(user_id=u)) for u in users]

            async def raw(n: int) -> None:
                frame = render_envelope(
                    event_type="tick", seq=n + 1, epoch="bench-1", ts=time.time(), user_id=users[0],
                    thread_id=None, run_id=None, payload_json=encode_json({**PAYLOAD, "n": n}),
                )  # fmt: skip
                broadcast(sockets, frame)

            async def wskit(n: int) -> None:
                message = {"type": "tick", "payload": {**PAYLOAD, "n": n}}
                if len(managers) == 1:
                    await managers[0].send(message)
                else:
                    await registry.broadcast(message)

            results: dict[str, list[tuple[float, float]]] = {"raw": [], "wskit": []}
            await timed_phase(client, messages // 4, raw)  # warm-up
            for _ in range(repeat):
                results["raw"].append(await timed_phase(client, messages, raw))
                results["wskit"].append(await timed_phase(client, messages, wskit))
            await client.stop()
    delivered = connections * messages
    best = {kind: min(runs) for kind, runs in results.items()}
    rate = {kind: delivered / best[kind][0] for kind in best}
    ratio = rate["wskit"] / rate["raw"]
    cpu_us = {kind: 1e6 * min(cpu for _, cpu in runs) / delivered for kind, runs in results.items()}
    print(
        f"{name}: raw broadcast {rate['raw']:,.0f} msg/s, wskit {rate['wskit']:,.0f} msg/s,"
        f" ratio {ratio:.2f}x (target >= 0.90x); server CPU per delivered message:"
        f" raw {cpu_us['raw']:.1f} us, wskit {cpu_us['wskit']:.1f} us"
    )
    return {
        "connections": connections,
        "users": len(users),
        "messages": messages,
        "raw_messages_per_second": round(rate["raw"]),
        "wskit_messages_per_second": round(rate["wskit"]),
        "ratio": round(ratio, 3),
        "server_cpu_us_per_message": {k: round(v, 2) for k, v in cpu_us.items()},
        "met": ratio >= 0.9,
    }


async def run(connections: int, messages: int, repeat: int) -> dict[str, Any]:
    one_user = await layout(f"1 user x {connections} connections", ["fan"], connections, messages, repeat)
    many = [f"user{i:05d}" for i in range(connections)]
    many_users = await layout(f"{connections} users x 1 connection", many, connections, messages, repeat)
    return {"benchmark": "fanout", "one_user": one_user, "many_users": many_users, "target_ratio": 0.9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    emit_result(asyncio.run(run(args.connections, args.messages, args.repeat)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
