"""Helpers shared by the benchmark scripts: child processes driven by lines, results as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sys
from pathlib import Path
from typing import Any

CLIENTS = Path(__file__).with_name("_clients.py")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_file_limit() -> None:
    """Allow as many sockets as the hard limit permits (10,000 connections need it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class LineProcess:
    """A child Python process that takes one command per stdin line and answers on stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> LineProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env
        )
        return cls(process)

    async def line(self, timeout: float = 600) -> str:
        """The next line the process prints."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            return (await self.process.stdout.readline()).decode().strip()

    async def tell(self, command: str) -> None:
        """Send one command line."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()

    async def stop(self) -> None:
        """Say `quit` and wait for the process to end."""
        await self.tell("quit")
        await self.process.wait()


async def start_clients(
    url: str, tokens: list[str], work: Path, name: str = "clients", *, latency: bool = False
) -> LineProcess:
    """Start benchmarks/_clients.py with one connection per token (spread over the comma-separated
    URLs); return once all are connected. With `latency`, `done` lines carry p50 and p99 in ms."""
    tokens_file = work / f"{name}.json"
    tokens_file.write_text(json.dumps(tokens))
    process = await LineProcess.start(str(CLIENTS), url, str(tokens_file), *(["latency"] if latency else []))
    line = await process.line()
    assert line == f"connected {len(tokens)}", line
    return process


def emit_result(result: dict[str, Any], json_path: Path | None) -> None:
    """Print the result as one JSON line, and write it to `json_path` if given."""
    print(json.dumps(result))
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
