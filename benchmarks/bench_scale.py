"""Scale: memory per connection at 10,000 connections, and targeted send cost with 10 vs 10,000 users.

    python benchmarks/bench_scale.py [--connections 10000] [--sends 20000] [--json PATH]

1. Memory: a server process (raw `websockets` echo-less server, then a wskit server) is
   measured (VmRSS) before and after a separate client process opens --connections connections
   (one user per connection for wskit, so each has its own manager and history). Reported: bytes
   per connection for each and the ratio wskit / raw (target <= 1.25).
2. Routing: in the wskit server, the mean cost of `await manager.send()` to 10 target users,
   first with only those 10 users connected, then with --connections users connected. Reported:
   microseconds per send and the ratio (target <= 1.2: routing must not scan).
Both servers use the same `websockets` settings (its defaults). One JSON document at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import LineProcess, emit_result, raise_file_limit, rss_bytes, start_clients  # benchmarks/ is on sys.path

TARGETS = 10


# --- the server process --------------------------------------------------------------------------


async def serve(kind: str) -> None:
    """Run a raw or wskit server; obey `send_cost USERS SENDS` and `quit` on stdin."""
    raise_file_limit()
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as ws_serve
    from websockets.exceptions import ConnectionClosed

    from wskit import ManagerRegistry, UserContext
    from wskit.serve.server import WskitServer

    registry = ManagerRegistry(max_managers=100_000)
    if kind == "raw":

        async def hold(ws: ServerConnection) -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass

        raw = await ws_serve(hold, "127.0.0.1", 0)
        port = raw.sockets[0].getsockname()[1]
    else:
        wskit = await WskitServer(secret=os.environ["WSKIT_SECRET"], registry=registry, resume_grace=0).start()
        port = wskit.port
    print(f"port {port}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "send_cost":
            users, sends = int(line[1]), int(line[2])
            managers = [registry.get_or_create(UserContext(user_id=f"user{i:05d}")) for i in range(users)]
            assert all(len(m.connections) == 1 for m in managers), "targets must be connected"
            message = {"type": "tick", "payload": {"n": 0}}
            for m in managers:  # warm-up
                await m.send(message)
            await asyncio.sleep(0.2)
            best = float("inf")
            for _ in range(5):
                started = time.perf_counter()
                for n in range(sends):
                    await managers[n % users].send(message)
                best = min(best, (time.perf_counter() - started) / sends)
                await asyncio.sleep(0.2)  # let the clients read
            print(f"cost {best * 1e6:.3f}", flush=True)


# --- the orchestrating parent --------------------------------------------------------------------


async def memory(kind: str, connections: int, env: dict[str, str], work: Path) -> dict[str, Any]:
    from wskit.session.auth import mint_token

    server = await LineProcess.start(__file__, "--serve", kind, env=env)
    port = int((await server.line()).split()[1])
    await asyncio.sleep(0.5)
    before = rss_bytes(server.process.pid)
    tokens = [mint_token(f"user{i:05d}", env["WSKIT_SECRET"]) for i in range(connections)]
    started = time.perf_counter()
    held = await start_clients(f"ws://127.0.0.1:{port}/ws", tokens, work, f"{kind}-memory")
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(1.0)
    after = rss_bytes(server.process.pid)
    await held.stop()
    await server.stop()
    per_connection = (after - before) / connections
    print(f"{kind}: {connections} connections in {connect_seconds:.1f} s, RSS {before / 2**20:.1f} ->"
          f" {after / 2**20:.1f} MiB, {per_connection / 1024:.1f} KiB per connection")  # fmt: skip
    return {"rss_before": before, "rss_after": after, "bytes_per_connection": round(per_connection)}


async def routing(connections: int, sends: int, env: dict[str, str], work: Path) -> dict[str, Any]:
    from wskit.session.auth import mint_token

    secret = env["WSKIT_SECRET"]
    server = await LineProcess.start(__file__, "--serve", "wskit", env=env)
    port = int((await server.line()).split()[1])
    url = f"ws://127.0.0.1:{port}/ws"
    targets = await start_clients(url, [mint_token(f"user{i:05d}", secret) for i in range(TARGETS)], work, "targets")
    await server.tell(f"send_cost {TARGETS} {sends}")
    few = float((await server.line()).split()[1])
    rest = [mint_token(f"user{i:05d}", secret) for i in range(TARGETS, connections)]
    crowd = await start_clients(url, rest, work, "crowd")
    await asyncio.sleep(1.0)
    await server.tell(f"send_cost {TARGETS} {sends}")
    many = float((await server.line()).split()[1])
    for process in (targets, crowd, server):
        await process.stop()
    ratio = many / few
    print(f"send(): {few:.2f} us with {TARGETS} users connected, {many:.2f} us with {connections};"
          f" ratio {ratio:.2f}x (target <= 1.20x)")  # fmt: skip
    return {"us_per_send_10_users": few, f"us_per_send_{connections}_users": many, "ratio": round(ratio, 3),
            "met": ratio <= 1.2}  # fmt: skip


async def run(connections: int, sends: int) -> dict[str, Any]:
    from wskit.session.auth import generate_secret

    raise_file_limit()
    env = {**os.environ, "WSKIT_SECRET": generate_secret()}
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        raw = await memory("raw", connections, env, work)
        wskit = await memory("wskit", connections, env, work)
        ratio = wskit["bytes_per_connection"] / raw["bytes_per_connection"]
        print(f"memory per connection: wskit / raw = {ratio:.2f}x (target <= 1.25x)")
        route = await routing(connections, sends, env, work)
    return {
        "benchmark": "scale",
        "connections": connections,
        "memory": {"raw": raw, "wskit": wskit, "ratio": round(ratio, 3), "met": ratio <= 1.25},
        "targeted_send": route,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--sends", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    parser.add_argument("--serve", choices=["raw", "wskit"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    emit_result(asyncio.run(run(args.connections, args.sends)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
