"""Client side of the socket benchmarks, run in its own process so the server has a core to itself.

    python benchmarks/_clients.py URL TOKENS_JSON

Opens one connection per token (a list in the JSON file; repeat a token for several connections
of one user), prints `connected N`, then obeys commands on stdin, one per line:
`expect M` (each connection must receive M more text frames; prints `done` when all have),
`quit`. Frames are only counted, never parsed, to keep the client side cheap.
"""

from __future__ import annotations

import asyncio
import json
import sys

from _common import raise_file_limit  # the benchmarks directory is on sys.path when run as a script
from websockets.asyncio.client import ClientConnection, connect


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


async def read_forever(ws: ClientConnection, counter: Counter, index: int) -> None:
    async for _ in ws:
        counter.hit(index)


async def main(url: str, tokens: list[str]) -> None:
    counter = Counter()
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(100)  # connect 100 at a time

    async def open_one(token: str) -> None:
        async with gate:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60,
                               ping_interval=None, max_queue=None)  # fmt: skip
        connections.append(ws)
        readers.append(asyncio.create_task(read_forever(ws, counter, counter.add())))

    await asyncio.gather(*(open_one(token) for token in tokens))
    print(f"connected {len(connections)}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line.startswith("expect "):
            counter.expect(int(line.split()[1]))
            await counter.reached.wait()
            print("done", flush=True)
        elif line in ("quit", ""):
            break
    for ws in connections:
        ws.transport.abort()


if __name__ == "__main__":
    raise_file_limit()
    with open(sys.argv[2], encoding="utf-8") as handle:
        asyncio.run(main(sys.argv[1], json.load(handle)))
