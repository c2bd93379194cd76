"""Token expiry at scale: 10,000 idle connections whose tokens expire across a minute, against the same
connections with tokens that outlast the run, in the same run.

    python benchmarks/bench_expiry.py [--connections 10000] [--window 60] [--warning 10] [--json PATH]

1. "lasting": a wskit server process (one user per connection, no resume grace, no keepalive
   pings) holds --connections idle connections from a client process, each with a token valid
   for a day. Measured: RSS before and after connecting, the peak RSS and the CPU time (user +
   system) of the server over the measuring span that follows, the loop's timers and tasks.
2. "lasting+frame": the same, and each connection is sent one small control message first, as
   each expiring one is sent its warning: the first frame a connection sends makes its
   compressor's buffers (permessage-deflate) resident, whatever the frame.
3. "expiring": the same as 1, with tokens whose `exp` is spread evenly over a --window second
   window starting once all are connected; each connection gets `token_expiring` --warning
   seconds before its `exp`, then is closed with 4001. Measured over a span that ends after the
   last close: the same figures, and the clients' close codes.

Both servers track every token's deadline in the same per-process structure (`_Deadlines`:
buckets of a tenth of a second, one heap, one timer), whose size is read in the server. Reported:
RSS growth per connection and the ratio expiring / lasting once connected and at the peak (target
<= 1.05), the same at the peak against "lasting+frame", the CPU
rate of each (CPU seconds per second) and what each expiry cost on top (the warning, the close
and its handshake, in server CPU microseconds per connection), and the event loop's timers and
tasks in both (a timer or task per connection would show here). One JSON document at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (  # benchmarks/ is on sys.path
    LineProcess,
    cpu_seconds,
    emit_result,
    raise_file_limit,
    rss_bytes,
    start_clients,
)

# --- the server process --------------------------------------------------------------------------


async def serve(warning: float) -> None:
    """Run a wskit server; obey `stats` (prints `stats {...}`), `frame` (a control message to every
    connection, as a warning is; prints `framed N`) and `quit` on stdin."""
    raise_file_limit()
    from wskit import ManagerRegistry
    from wskit.serve.server import WskitServer

    registry = ManagerRegistry(max_managers=100_000)
    # No keepalive pings: the connections are idle, and what the server spends is what expiry costs.
    server = WskitServer(secret=os.environ["WSKIT_SECRET"], registry=registry, resume_grace=0, ping_interval=None,
                         token_expiry_warning=warning)  # fmt: skip
    await server.start()
    print(f"port {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "stats":
            deadlines = server.sessions._deadlines
            buckets = deadlines._buckets
            structure = sys.getsizeof(buckets) + sys.getsizeof(deadlines._ticks)
            structure += sum(sys.getsizeof(bucket) for bucket in buckets.values())
            stats = {
                "sessions": len(server.sessions.sessions),
                "tracked": sum(len(bucket) for bucket in buckets.values()),
                "buckets": len(buckets),
                "structure_bytes": structure,
                "loop_timers": len(loop._scheduled),  # type: ignore[attr-defined]
                "tasks": len(asyncio.all_tasks()),
            }
            print(f"stats {json.dumps(stats)}", flush=True)
        if line[0] == "frame":
            framed = 0
            for manager in list(registry._managers.values()):
                for connection_id in list(manager.connections):
                    framed += await manager.reply(connection_id, {"type": "notice", "exp": time.time()})
            print(f"framed {framed}", flush=True)
    await server.close()


# --- the orchestrating parent --------------------------------------------------------------------


async def stats(server: LineProcess) -> dict[str, Any]:
    await server.tell("stats")
    line = await server.line()
    assert line.startswith("stats "), line
    document: dict[str, Any] = json.loads(line.split(" ", 1)[1])
    return document


async def measure(
    kind: str,
    tokens_for: Callable[[], list[str]],
    span: Callable[[float], float],
    *,
    warning: float,
    env: dict[str, str],
    work: Path,
    frame: bool = False,
) -> dict[str, Any]:
    """Connect one client per token to a fresh server (`frame`: then send each one frame); measure it
    over `span(connected_at)` seconds."""
    server = await LineProcess.start(__file__, "--serve", str(warning), env=env)
    port = int((await server.line()).split()[1])
    pid = server.process.pid
    await asyncio.sleep(0.5)
    before = rss_bytes(pid)
    tokens = tokens_for()
    started = time.perf_counter()
    clients = await start_clients(f"ws://127.0.0.1:{port}/ws", tokens, work, kind)
    connect_seconds = time.perf_counter() - started
    connected_at = time.time()
    if frame:
        await server.tell("frame")
        assert await server.line() == f"framed {len(tokens)}"
        await clients.tell("expect 1")
        assert await clients.line() == "done"
    await asyncio.sleep(1.0)
    after = rss_bytes(pid)
    held = await stats(server)
    seconds = span(connected_at) - (time.time() - connected_at)
    cpu_start, clock_start, peak = cpu_seconds(pid), time.time(), after
    deadline = clock_start + seconds
    while time.time() < deadline:
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.time())))
        peak = max(peak, rss_bytes(pid))
    cpu = cpu_seconds(pid) - cpu_start
    measured = time.time() - clock_start
    end = await stats(server)
    await clients.tell("closes")
    closes = json.loads((await clients.line()).split(" ", 1)[1])
    await clients.stop()
    await server.stop()
    n = len(tokens)
    result = {
        "connect_seconds": round(connect_seconds, 1),
        "rss_before": before,
        "rss_connected": after,
        "rss_peak": peak,
        "bytes_per_connection": round((peak - before) / n),
        "cpu_seconds": round(cpu, 2),
        "measured_seconds": round(measured, 1),
        "cpu_rate": round(cpu / measured, 4),
        "held": held,
        "end": end,
        "client_closes": closes,
    }
    print(f"{kind}: {n} connections in {connect_seconds:.1f} s; RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB"
          f" (peak {peak / 2**20:.1f}), {result['bytes_per_connection'] / 1024:.1f} KiB per connection; CPU"
          f" {cpu:.2f} s over {measured:.0f} s; {held['loop_timers']} loop timers, {held['tasks']} tasks with"
          f" {held['tracked']} deadlines in {held['buckets']} buckets ({held['structure_bytes'] / 1024:.0f} KiB);"
          f" at the end {end['sessions']} sessions, client closes {closes}")  # fmt: skip
    return result


async def run(connections: int, window: float, warning: float) -> dict[str, Any]:
    from wskit.session.auth import generate_secret, mint_token

    raise_file_limit()
    secret = generate_secret()
    env = {**os.environ, "WSKIT_SECRET": secret}
    users = [f"user{i:05d}" for i in range(connections)]
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        plan: dict[str, float] = {}

        def lasting_tokens() -> list[str]:
            return [mint_token(user, secret, ttl_seconds=86_400) for user in users]

        def lasting_span(connected_at: float) -> float:
            plan["lasting_connected"] = connected_at
            return window + warning + 10.0

        lasting = await measure("lasting", lasting_tokens, lasting_span, warning=warning, env=env, work=work)
        framed = await measure("lasting+frame", lasting_tokens, lasting_span, warning=warning, env=env, work=work,
                               frame=True)  # fmt: skip
        # The expiring tokens' window starts once all can be connected (twice the lasting run's time).
        lead = 2 * lasting["connect_seconds"] + warning + 10.0

        def expiring_tokens() -> list[str]:
            import jwt

            now = int(time.time())
            plan["first_exp"] = now + lead
            return [
                jwt.encode({"sub": user, "iat": now, "exp": now + lead + window * i / connections}, secret)
                for i, user in enumerate(users)
            ]

        def expiring_span(connected_at: float) -> float:
            assert connected_at < plan["first_exp"] - warning, "connecting took longer than the lead: raise it"
            return plan["first_exp"] + window + 2.0 - connected_at

        expiring = await measure("expiring", expiring_tokens, expiring_span, warning=warning, env=env, work=work)
    ratio = expiring["bytes_per_connection"] / lasting["bytes_per_connection"]
    same_traffic = expiring["bytes_per_connection"] / framed["bytes_per_connection"]

    def grown(run: dict[str, Any]) -> int:
        return int(run["rss_connected"] - run["rss_before"])

    at_connect = grown(expiring) / grown(lasting)
    extra_cpu = (expiring["cpu_rate"] - lasting["cpu_rate"]) * expiring["measured_seconds"]
    per_expiry_us = 1e6 * extra_cpu / connections
    print(f"memory per connection: expiring / lasting = {at_connect:.3f}x once connected, {ratio:.3f}x at the peak"
          f" (target <= 1.05x); {same_traffic:.3f}x at the peak against lasting connections sent one frame each,"
          " as each expiring one is sent its warning")  # fmt: skip
    print(f"CPU: {lasting['cpu_rate']:.4f} s/s idle with lasting tokens, {expiring['cpu_rate']:.4f} s/s while"
          f" {connections} tokens expired over {window:g} s: {per_expiry_us:.0f} us of server CPU per expiry"
          " (warning, close, closing handshake)")  # fmt: skip
    return {
        "benchmark": "expiry",
        "connections": connections,
        "window_seconds": window,
        "warning_seconds": warning,
        "lasting": lasting,
        "lasting_one_frame": framed,
        "expiring": expiring,
        "memory_ratio_connected": round(at_connect, 3),
        "memory_ratio": round(ratio, 3),
        "memory_ratio_same_traffic": round(same_traffic, 3),
        "met": ratio <= 1.05,
        "met_same_traffic": same_traffic <= 1.05,
        "cpu_us_per_expiry": round(per_expiry_us, 1),
        "all_expired": expiring["end"]["sessions"] == 0 and expiring["client_closes"] == {"4001": connections},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the tokens expire")
    parser.add_argument("--warning", type=float, default=10.0, help="the servers' token_expiry_warning")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    parser.add_argument("--serve", type=float, metavar="WARNING", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        return 0
    emit_result(asyncio.run(run(args.connections, args.window, args.warning)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
