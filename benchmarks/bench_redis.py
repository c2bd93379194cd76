"""Cross-process delivery over Redis: two `wskit serve --backplane` processes and a worker, against
`redis-benchmark` running the same Lua script at the same concurrency, in the same run.

    python benchmarks/bench_redis.py [--users 100] [--messages 10000] [--concurrency 50] [--repeat 3] [--json PATH]

A private redis-server (Debian's, no persistence) on a free port; two server processes share it;
every user has one connection on each server (a separate client process counts frames and reads
each envelope's `ts` for latency). This process is the worker: it holds no socket and sends
envelopes round-robin over the users, --concurrency sends in flight at a time, each one the
publish script (number, append to the user's stream, wake the subscribers). Measured, best of
--repeat, all in the same run:

1. accepted: envelopes per second the worker gets stored, to users no server holds, against the
   reference, `redis-benchmark -c CONCURRENCY` running the same script (EVALSHA) on the same
   Redis: the ratio (target >= 0.5) is what wskit's publishing costs over the script itself;
2. delivered: envelopes per second accepted and delivered to both servers' connections, and the
   CPU microseconds per envelope of every process, which says where the time goes (the clients
   and Redis are part of it whatever wskit does);
3. latency: p50/p99 from the envelope's `ts` to receipt, at half the delivered rate (latency at
   saturation only measures the queue).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis
from _common import emit_result, free_port, start_clients  # benchmarks/ is on sys.path when run as a script

from wskit import ManagerRegistry, UserContext
from wskit.backplane.lua import PUBLISH
from wskit.backplane.redis import RedisBackplane
from wskit.core.envelope import draft_envelope, encode_json
from wskit.session.auth import generate_secret, mint_token

PAYLOAD = {"event": "tick", "text": "x" * 120}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("bench_redis: Debian's redis-server is missing (make system-deps)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
         str(directory), "--daemonize", "no"], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    sys.exit("bench_redis: redis-server did not start")


def start_server(port: int, redis_url: str, secret: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WSKIT_SECRET": secret}
    process = subprocess.Popen(
        [sys.executable, "-m", "wskit.cli", "serve", "--port", str(port), "--backplane", redis_url,
         "--max-connections-per-user", "5", "--ping-interval", "600", "--resume-grace", "0"], env=env,
    )  # fmt: skip
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.05)
    sys.exit("bench_redis: wskit serve did not start")


def reference(port: int, messages: int, concurrency: int) -> float:
    """Operations per second of redis-benchmark running the publish script at `concurrency`."""
    sha = redis.Redis(port=port).script_load(PUBLISH)
    draft = draft_envelope(event_type="tick", ts=time.time(), user_id="ref", thread_id=None, run_id=None,
                           payload_json=encode_json({**PAYLOAD, "n": 0}).encode())  # fmt: skip
    # One user's keys: redis-benchmark draws each `__rand_int__` on its own, which would split a
    # user's counter from its stream. The script does the same work whichever user it runs for.
    keys = [f"ref:{{u:ref}}:{kind}" for kind in ("meta", "log", "wake")]
    args = [draft.head.decode(), draft.tail.decode(), "refepoch", f"1000 {1 << 20} 300 86400"]
    result = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", str(concurrency), "-n", str(messages), "--csv",
         "EVALSHA", sha, "3", *keys, *args], capture_output=True, text=True, check=True,
    )  # fmt: skip
    # The CSV's first column repeats the command unescaped (it has quotes); the numbers end the line.
    line = result.stdout.strip().splitlines()[-1]
    return float(line.strip('"').rsplit('","', 7)[-7])


async def phase(worker: ManagerRegistry, users: list[str], clients: Any, messages: int, concurrency: int,
                *, rate: float | None = None) -> tuple[float, float, float]:  # fmt: skip
    """(seconds until both servers' connections had every envelope, p50 ms, p99 ms); `rate`:
    envelopes per second to pace the sends at (default: as fast as they are accepted)."""
    managers = [worker.get_or_create(UserContext(user_id=u)) for u in users]
    await clients.tell(f"expect {messages // len(users)}")
    started = time.perf_counter()
    await senders(managers, messages, concurrency, started, rate)
    line = await clients.line(600)
    elapsed = time.perf_counter() - started
    done, p50, p99 = line.split()
    assert done == "done", line
    return elapsed, float(p50), float(p99)


async def senders(managers: list[Any], messages: int, concurrency: int, started: float, rate: float | None) -> None:
    """`concurrency` loops sending envelopes n = 0, 1, 2, ... round-robin over `managers`
    (paced at `rate` per second if given): that many sends are in flight at any time."""
    counter = iter(range(messages))

    async def loop() -> None:
        for n in counter:
            if rate is not None:
                await asyncio.sleep(started + n / rate - time.perf_counter())
            await managers[n % len(managers)].send({"type": "tick", "payload": {**PAYLOAD, "n": n}})

    await asyncio.gather(*(loop() for _ in range(concurrency)))


async def accepted(worker: ManagerRegistry, messages: int, concurrency: int) -> float:
    """Envelopes per second stored for users no server holds (no delivery work anywhere)."""
    managers = [worker.get_or_create(UserContext(user_id=f"ghost{i}")) for i in range(100)]
    started = time.perf_counter()
    await senders(managers, messages, concurrency, started, None)
    return messages / (time.perf_counter() - started)


async def run(users: int, messages: int, concurrency: int, repeat: int) -> dict[str, Any]:
    messages -= messages % users
    with tempfile.TemporaryDirectory() as work:
        redis_process, redis_port = start_redis(Path(work))
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        secret = generate_secret()
        ports = [free_port(), free_port()]
        servers = [start_server(port, redis_url, secret) for port in ports]
        names = [f"user{i:04d}" for i in range(users)]
        tokens = [mint_token(name, secret) for name in names for _ in range(2)]
        urls = ",".join(f"ws://127.0.0.1:{port}/ws" for port in ports)
        clients = await start_clients(urls, tokens, Path(work), latency=True)
        worker = ManagerRegistry(backplane=RedisBackplane(redis_url), max_managers=users + 200)
        try:
            await phase(worker, names, clients, max(users, messages // 10), concurrency)  # warm-up
            stored = max([await accepted(worker, messages, concurrency) for _ in range(repeat)])
            ops = reference(redis_port, messages, concurrency)
            pids = {"redis-server": redis_process.pid, "server A": servers[0].pid, "server B": servers[1].pid,
                    "clients": clients.process.pid, "worker (this process)": os.getpid()}  # fmt: skip
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            runs = [await phase(worker, names, clients, messages, concurrency) for _ in range(repeat)]
            cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            paced_rate = messages / min(runs)[0] / 2
            paced = min([await phase(worker, names, clients, messages // 2, concurrency, rate=paced_rate)
                         for _ in range(repeat)])  # fmt: skip
        finally:
            await worker.backplane.close()
            await clients.stop()
            for process in [*servers, redis_process]:
                process.terminate()
                process.wait(10)
    best = min(runs)
    rate = messages / best[0]
    ratio = stored / ops
    per_envelope = {name: round(1e6 * seconds / (messages * repeat), 1) for name, seconds in cpu.items()}
    others = per_envelope["redis-server"] + per_envelope["clients"]
    print(
        f"accepted: the worker stores {stored:,.0f} envelopes/s; redis-benchmark runs the same script"
        f" {ops:,.0f}/s at -c {concurrency}: ratio {ratio:.2f}x (target >= 0.50x)"
    )
    print(f"delivered: {rate:,.0f} envelopes/s accepted and delivered to {users} users x 2 connections on 2 servers")
    print("  CPU microseconds per envelope: " + ", ".join(f"{k} {v}" for k, v in per_envelope.items()))
    print(f"  (Redis and the clients alone take {others:.0f} us of the 2 cores' {2e6 / rate:.0f} us per envelope)")
    print(f"latency at {paced_rate:,.0f} envelopes/s: p50 {paced[1]:.2f} ms, p99 {paced[2]:.2f} ms")
    return {
        "benchmark": "redis",
        "users": users,
        "messages": messages,
        "concurrency": concurrency,
        "accepted_per_second": round(stored),
        "redis_benchmark_scripts_per_second": round(ops),
        "ratio": round(ratio, 3),
        "target_ratio": 0.5,
        "met": ratio >= 0.5,
        "delivered_per_second": round(rate),
        "cpu_us_per_envelope": per_envelope,
        "latency_rate_per_second": round(paced_rate),
        "latency_ms": {"p50": paced[1], "p99": paced[2]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    emit_result(asyncio.run(run(args.users, args.messages, args.concurrency, args.repeat)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
