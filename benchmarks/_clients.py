"""Client side of the socket benchmarks, run in its own process so the server has a core to itself.

    python benchmarks/_clients.py URL[,URL...] TOKENS_JSON [latency]

Opens one connection per token (a list in the JSON file; repeat a token for several connections
of one user), spread round-robin over the URLs, prints `connected N`, then obeys commands on
stdin, one per line: `expect M` (each connection must receive M more text frames; prints `done`
when all have), `closes` (prints `closes {"CODE": N, ...}`: how the server closed connections so
far), `quit`. Frames are only counted, never parsed, to keep the client side cheap;
with `latency`, the envelope's `ts` is read from each frame and `done` is followed by the p50
and p99 of receipt time minus `ts`, in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time

from _common import raise_file_limit  # the benchmarks directory is on sys.path when run as a script
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class Counter:
    def __init__(self) -> None:
        self.counts: list[int] = []
        self.target = 0
        self.reached = asyncio.Event()
        self.remaining = 0

    def add(self) -> int:
        self.counts.append(0)
        return len(self.counts) - 1

    def expect(self, more: int) -> None:
        self.target += more
        self.remaining = sum(1 for c in self.counts if c < self.target)
        self.reached = asyncio.Event()
        if not self.remaining:
            self.reached.set()

    def hit(self, index: int) -> None:
        self.counts[index] += 1
        if self.counts[index] == self.target:
            self.remaining -= 1
            if self.remaining == 0:
                self.reached.set()


TS = re.compile(rb'"ts":([0-9.e+-]+)')


CLOSES: dict[str, int] = {}


async def read_forever(ws: ClientConnection, counter: Counter, index: int, latencies: list[float] | None) -> None:
    try:
        async for frame in ws:
            if latencies is not None:
                found = TS.search(frame if isinstance(frame, bytes) else frame.encode())
                if found:
                    latencies.append(time.time() - float(found.group(1)))
            counter.hit(index)
    except ConnectionClosed:  # a close code other than 1000 or 1001
        pass
    code = str(ws.close_code)
    CLOSES[code] = CLOSES.get(code, 0) + 1


async def main(urls: list[str], tokens: list[str], measure: bool) -> None:
    counter = Counter()
    latencies: list[float] | None = [] if measure else None
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(100)  # connect 100 at a time

    async def open_one(url: str, token: str) -> None:
        async with gate:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60,
                               ping_interval=None, max_queue=None)  # fmt: skip
        connections.append(ws)
        readers.append(asyncio.create_task(read_forever(ws, counter, counter.add(), latencies)))

    await asyncio.gather(*(open_one(urls[i % len(urls)], token) for i, token in enumerate(tokens)))
    print(f"connected {len(connections)}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line.startswith("expect "):
            counter.expect(int(line.split()[1]))
            await counter.reached.wait()
            if latencies:
                cuts = statistics.quantiles(latencies, n=100)
                print(f"done {1000 * cuts[49]:.3f} {1000 * cuts[98]:.3f}", flush=True)
                latencies.clear()
            else:
                print("done", flush=True)
        elif line == "closes":
            print(f"closes {json.dumps(CLOSES, sort_keys=True)}", flush=True)
        elif line in ("quit", ""):
            break
    for ws in connections:
        ws.transport.abort()


if __name__ == "__main__":
    raise_file_limit()
    with open(sys.argv[2], encoding="utf-8") as handle:
        asyncio.run(main(sys.argv[1].split(","), json.load(handle), sys.argv[3:] == ["latency"]))
