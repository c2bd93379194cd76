"""The memory budget holds: 10,000 users on one server, histories filled with 4 KiB events, against a raw
`websockets` server holding the same connections, in the same run.

    python benchmarks/bench_memory.py [--connections 10000] [--budget-mib 256] [--event-bytes 4096] [--json PATH]

1. A raw `websockets` server process holds --connections connections from a client process and
   sends each the same events (`broadcast()`, nothing kept): its RSS is the cost of the
   interpreter and of the connections carrying that traffic (their compressors, their buffers).
2. A wskit server process (`ManagerRegistry(memory_budget=...)`, one user per connection) holds the
   same connections, then broadcasts --event-bytes events until twice the budget has been sent
   to every user's history (the clients read everything). Its RSS, and what `registry.stats()`
   says it holds, are read after the last broadcast.

Target: the wskit server's RSS at most the raw server's plus 1.2x the budget (the budget covers
histories and outbound buffers; the interpreter and the sockets are the raw server's cost).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import LineProcess, emit_result, raise_file_limit, rss_bytes, start_clients  # benchmarks/ is on sys.path

# --- the server process --------------------------------------------------------------------------


async def serve(kind: str, budget: int) -> None:
    """Run a raw or wskit server; obey `fill ROUNDS BYTES` and `quit` on stdin."""
    raise_file_limit()
    from websockets.asyncio.server import ServerConnection, broadcast
    from websockets.asyncio.server import serve as ws_serve
    from websockets.exceptions import ConnectionClosed

    from wskit import ManagerRegistry
    from wskit.serve.server import WskitServer

    registry = ManagerRegistry(max_managers=100_000, memory_budget=budget)
    if kind == "raw":

        async def hold(ws: ServerConnection) -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass

        raw = await ws_serve(hold, "127.0.0.1", 0, ping_interval=None)
        port = raw.sockets[0].getsockname()[1]
    else:
        server = WskitServer(secret=os.environ["WSKIT_SECRET"], registry=registry, resume_grace=0, ping_interval=None)
        port = (await server.start()).port
    print(f"port {port}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "fill":
            rounds, size = int(line[1]), int(line[2])
            for n in range(rounds):
                if kind == "raw":
                    broadcast(raw.connections, json.dumps({"type": "event", "payload": {"n": n, "blob": "b" * size}}))
                    await asyncio.sleep(0.5)  # broadcast() does not wait for the sockets: let them drain
                else:
                    await registry.broadcast({"type": "event", "payload": {"n": n, "blob": "b" * size}})
                    for manager in list(registry._managers.values()):
                        await manager.flush()
            print(json.dumps(registry.stats()), flush=True)


# --- the orchestrating parent --------------------------------------------------------------------


async def measure(kind: str, connections: int, budget: int, event_bytes: int, *, env: dict[str, str],
                  work: Path) -> dict[str, Any]:  # fmt: skip
    from wskit.session.auth import mint_token

    server = await LineProcess.start(__file__, "--serve", kind, "--budget", str(budget), env=env)
    port = int((await server.line()).split()[1])
    tokens = [mint_token(f"user{i:05d}", env["WSKIT_SECRET"]) for i in range(connections)]
    clients = await start_clients(f"ws://127.0.0.1:{port}/ws", tokens, work, kind)
    await asyncio.sleep(1.0)
    result: dict[str, Any] = {"rss_connected": rss_bytes(server.process.pid)}
    rounds = max(1, 2 * budget // (connections * event_bytes))
    started = time.perf_counter()
    await clients.tell(f"expect {rounds}")
    await server.tell(f"fill {rounds} {event_bytes}")
    stats = json.loads(await server.line(1800))
    assert await clients.line(1800) == "done"
    await asyncio.sleep(1.0)
    result.update(rounds=rounds, seconds=round(time.perf_counter() - started, 1), stats=stats,
                  rss_filled=rss_bytes(server.process.pid))  # fmt: skip
    await clients.stop()
    await server.stop()
    return result


async def run(connections: int, budget: int, event_bytes: int) -> dict[str, Any]:
    from wskit.session.auth import generate_secret

    raise_file_limit()
    env = {**os.environ, "WSKIT_SECRET": generate_secret()}
    with tempfile.TemporaryDirectory() as directory:
        raw = await measure("raw", connections, budget, event_bytes, env=env, work=Path(directory))
        wskit = await measure("wskit", connections, budget, event_bytes, env=env, work=Path(directory))
    over = wskit["rss_filled"] - raw["rss_filled"]
    ratio = over / budget
    stats = wskit["stats"]
    mib = 2**20
    print(
        f"raw websockets, {connections} connections, the same {raw['rounds']} events each:"
        f" RSS {raw['rss_connected'] / mib:.0f} MiB connected, {raw['rss_filled'] / mib:.0f} MiB after"
    )
    print(f"wskit, {connections} users, {wskit['rounds']} broadcasts of {event_bytes}-byte events"
          f" ({wskit['rounds'] * connections * event_bytes / mib:.0f} MiB sent into histories, {wskit['seconds']} s):"
          f" RSS {wskit['rss_connected'] / mib:.0f} MiB connected, {wskit['rss_filled'] / mib:.0f} MiB filled;"
          f" holds {stats['history_bytes'] / mib:.0f} MiB of history, {stats['buffer_bytes'] / mib:.1f} MiB of"
          f" buffers; {stats['evictions']:,} evictions")  # fmt: skip
    print(
        f"RSS over the raw server: {over / mib:.0f} MiB = {ratio:.2f}x the {budget / mib:.0f} MiB budget"
        " (target <= 1.20x)"
    )
    return {
        "benchmark": "memory",
        "connections": connections,
        "budget_bytes": budget,
        "event_bytes": event_bytes,
        "raw": raw,
        "wskit": wskit,
        "rss_over_raw_bytes": over,
        "ratio_to_budget": round(ratio, 3),
        "target_ratio": 1.2,
        "met": ratio <= 1.2,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--budget-mib", type=int, default=256)
    parser.add_argument("--event-bytes", type=int, default=4096)
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    parser.add_argument("--serve", choices=["raw", "wskit"], help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.budget))
        return 0
    emit_result(asyncio.run(run(args.connections, args.budget_mib * 2**20, args.event_bytes)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
