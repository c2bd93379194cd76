"""Load scenario on loopback: K users x C connections x M messages, with clients dropping and resuming.

    python benchmarks/bench_load.py [--users 20] [--connections 3] [--messages 200] [--drop-every 3] [--json PATH]

Every connection belongs to a client "lineage": some clients (one in --drop-every) close their
connection a third of the way through and reconnect with `?last_seq=` the last `seq` they saw.
The server sends M envelopes to each user while all this happens. At the end every lineage must
have received each of its user's M envelopes exactly once, in order; the script counts missing and
duplicated envelopes, reports p50/p99 delivery latency (envelope `ts` to client receipt), and
prints one JSON document. It exits 1 when any envelope was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit_result  # the benchmarks directory is on sys.path when run as a script

from wskit import UserContext
from wskit.serve.client import AgentClient
from wskit.serve.server import WskitServer


async def lineage(server: WskitServer, user: str, expected: int, drop_after: int | None) -> dict[str, Any]:
    """One client's connections over the run: its received seqs, latencies and reconnects."""
    token = server.mint_token(user)
    client = await AgentClient.connect(server.url, token)
    seqs: list[int] = []
    latencies: list[float] = []
    reconnects = 0
    while len(seqs) < expected:
        message = await client.receive(timeout=30)
        if "seq" not in message:
            continue
        seqs.append(message["seq"])
        latencies.append(time.time() - message["ts"])
        if drop_after is not None and len(seqs) == drop_after:
            await client.close()  # drop mid-stream...
            await asyncio.sleep(0.02)  # ...miss a few envelopes...
            client = await AgentClient.connect(server.url, token, last_seq=seqs[-1])  # ...and resume
            reconnects += 1
            drop_after = None
    await client.close()
    return {"user": user, "seqs": seqs, "latencies": latencies, "reconnects": reconnects}


async def produce(server: WskitServer, users: list[str], messages: int) -> None:
    managers = [server.registry.get_or_create(UserContext(user_id=user)) for user in users]
    for n in range(messages):
        for manager in managers:
            await manager.send({"type": "load", "payload": {"n": n}})
        await asyncio.sleep(0.001)


async def scenario(users: int, connections: int, messages: int, drop_every: int) -> dict[str, Any]:
    names = [f"user{i:03d}" for i in range(users)]
    async with WskitServer(resume_grace=0, max_connections_per_user=connections + 1) as server:
        plans = [
            (name, (messages // 3) if (u * connections + c) % drop_every == 0 else None)
            for u, name in enumerate(names)
            for c in range(connections)
        ]
        started = time.perf_counter()
        tasks = [asyncio.create_task(lineage(server, name, messages, drop)) for name, drop in plans]
        while server.registry.stats()["connections"] < len(plans):  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.01)
        await produce(server, names, messages)
        results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    expected = list(range(1, messages + 1))
    missing = sum(len(set(expected) - set(r["seqs"])) for r in results)
    duplicated = sum(len(r["seqs"]) - len(set(r["seqs"])) for r in results)
    out_of_order = sum(1 for r in results if r["seqs"] != sorted(r["seqs"]))
    latencies = sorted(latency for r in results for latency in r["latencies"])
    cut = statistics.quantiles(latencies, n=100)
    return {
        "benchmark": "load",
        "users": users,
        "connections_per_user": connections,
        "messages_per_user": messages,
        "lineages": len(results),
        "reconnects": sum(r["reconnects"] for r in results),
        "envelopes_expected": len(results) * messages,
        "envelopes_received": sum(len(r["seqs"]) for r in results),
        "missing": missing,
        "duplicated": duplicated,
        "out_of_order_lineages": out_of_order,
        "exactly_once": missing == 0 and duplicated == 0 and out_of_order == 0,
        "latency_ms_p50": round(cut[49] * 1000, 3),
        "latency_ms_p99": round(cut[98] * 1000, 3),
        "seconds": round(elapsed, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--drop-every", type=int, default=3, help="one lineage in N drops and resumes")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    result = asyncio.run(scenario(args.users, args.connections, args.messages, args.drop_every))
    print(
        f"{result['lineages']} client lineages ({result['users']} users x {result['connections_per_user']}),"
        f" {result['reconnects']} drop-and-resume: {result['envelopes_received']}/{result['envelopes_expected']}"
        f" envelopes, {result['missing']} missing, {result['duplicated']} duplicated;"
        f" latency p50 {result['latency_ms_p50']:.2f} ms, p99 {result['latency_ms_p99']:.2f} ms"
        f" ({result['seconds']:.1f} s)"
    )
    emit_result(result, args.json)
    return 0 if result["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
