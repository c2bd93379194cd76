"""Private `redis-server` processes for the tests (Debian's package), on free loopback ports.

Nothing here assumes a Redis already running: each `RedisServer` is started by the test that
needs it, in its own directory, and stopped after. `RedisClusterServers` makes a 3-master
Redis Cluster out of three of them. `StallingProxy` sits between a client and Redis and can
stop forwarding without closing anything: a half-open, wedged connection.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis
from servers import free_port

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
MISSING = "Debian's redis-server is missing; run 'make system-deps' (as root) or apt-get install redis-server"


class RedisServer:
    """One `redis-server` on 127.0.0.1; `persist=True` makes it fsync every write (appendfsync always)."""

    def __init__(
        self, directory: Path, *, persist: bool = False, cluster: bool = False, port: int = 0,
        user: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        """`user=(name, password)`: the only user Redis accepts (the default user is turned off)."""
        if REDIS_SERVER is None:
            raise RuntimeError(MISSING)
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persist = persist
        self.cluster = cluster
        self.user = user
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        credentials = "" if self.user is None else f"{self.user[0]}:{self.user[1]}@"
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        assert REDIS_SERVER is not None
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--save", "", "--daemonize", "no", "--protected-mode", "no", "--logfile", "redis.log"]  # fmt: skip
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self.user is not None:
            args += ["--user", "default", "off", "--user", self.user[0], "on", f">{self.user[1]}", "~*", "&*", "+@all"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000", "--cluster-port", str(free_port())]  # fmt: skip
        return args

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start; see {self.directory / 'redis.log'}")

    def client(self) -> redis.Redis:
        username, password = self.user or (None, None)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, username=username, password=password)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGTERM: Redis's own clean shutdown; SIGKILL: a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(signal.SIGKILL)


class RedisClusterServers:
    """Three masters, no replicas, all slots covered: the smallest real Redis Cluster."""

    def __init__(self, directory: Path) -> None:
        self.nodes = [RedisServer(directory / f"node{i}", cluster=True) for i in range(3)]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> RedisClusterServers:
        for node in self.nodes:
            node.start()
        assert REDIS_CLI is not None, MISSING
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in self.nodes], "--cluster-replicas", "0",
             "--cluster-yes"], check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(b"cluster_state:ok" in n.client().execute_command("CLUSTER", "INFO") for n in self.nodes):
                return self
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(signal.SIGKILL)

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StallingProxy:
    """A TCP proxy on loopback in front of Redis; `stall()` stops forwarding on the open connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.stalled: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._sent: dict[asyncio.StreamWriter, bytes] = {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stall(self, sent: bytes = b"") -> int:
        """From now on the open connections whose client sent `sent` forward nothing, and stay open
        (half-open peers); returns how many were stalled."""
        stalled = 0
        for client_writer, server_writer in self._pairs:
            if sent in self._sent.get(server_writer, b""):
                self.stalled.update((client_writer, server_writer))
                stalled += 1
        return stalled

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for a, b in self._pairs:
            a.close()
            b.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pairs.append((client_writer, server_writer))
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if writer in self.stalled:
                continue  # swallowed: the other side never hears of it
            self._sent[writer] = (self._sent.get(writer, b"") + data)[-4096:]
            writer.write(data)
            await writer.drain()
        writer.close()
