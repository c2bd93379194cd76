"""Real server processes for the tests: `wskit serve`, uvicorn (two WebSocket implementations), hypercorn.

Each runs in its own process on a free loopback port, with its output captured to a file, and is
started by its own command line, as a user would start it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from wskit.session.auth import generate_secret, mint_token

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ("websockets", "uvicorn", "uvicorn-wsproto", "hypercorn")

# Options named as in WskitServer / WskitEndpoint / ManagerRegistry, and their `wskit serve` flags.
_CLI_FLAGS = {
    "max_message_bytes": "--max-message-bytes",
    "max_connections_per_user": "--max-connections-per-user",
    "max_frames_per_second": "--max-frames-per-second",
    "frame_burst": "--frame-burst",
    "resume_grace": "--resume-grace",
    "history_max_messages": "--history-size",
    "max_buffered_bytes": "--max-buffered-bytes",
    "send_timeout": "--send-timeout",
    "backplane": "--backplane",
    "token_expiry_warning": "--token-expiry-warning",
    "max_token_lifetime": "--max-token-lifetime",
}
# Options of the FastAPI example only (tests/contract_app.py): who may disconnect users, refreshed tokens' ttl.
_APP_OPTIONS = {"admins", "token_ttl"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raw_upgrade(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads nor answers."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


class ServerProcess:
    """One server process serving wskit with `options`; `start()` returns once `/healthz` answers."""

    def __init__(self, adapter: str, log_path: Path, *, secret: str | None = None, **options: Any) -> None:
        if adapter not in ADAPTERS:
            raise ValueError(f"adapter must be one of {ADAPTERS}; got {adapter!r}")
        unknown = set(options) - set(_CLI_FLAGS) - (_APP_OPTIONS if adapter != "websockets" else set())
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)} for {adapter}")
        self.adapter = adapter
        self.options = options
        self.log_path = log_path
        self.secret = secret or generate_secret()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def http_url(self, path: str = "/healthz") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def mint_token(self, user_id: str, ttl_seconds: float = 3600.0) -> str:
        return mint_token(user_id, self.secret, ttl_seconds=ttl_seconds)

    def command(self) -> list[str]:
        port = str(self.port)
        if self.adapter == "websockets":
            flags = [item for name, value in self.options.items() for item in (_CLI_FLAGS[name], str(value))]
            return [sys.executable, "-m", "wskit.cli", "serve", "--port", port, *flags]
        if self.adapter.startswith("uvicorn"):
            ws = ["--ws", "wsproto"] if self.adapter == "uvicorn-wsproto" else []
            return [sys.executable, "-m", "uvicorn", "--factory", "contract_app:create_app", "--app-dir", "tests",
                    "--host", "127.0.0.1", "--port", port, *ws]  # fmt: skip
        # One process: hypercorn's master/worker mode stops workers through an event that no
        # signal handler in the application can see (see README, "Serving from FastAPI").
        return [sys.executable, "-m", "hypercorn", "--workers", "0", "--bind", f"127.0.0.1:{port}",
                "tests/contract_app.py:create_app()"]  # fmt: skip

    def start(self, timeout: float = 20.0) -> ServerProcess:
        env = {**os.environ, "WSKIT_SECRET": self.secret, "WSKIT_TEST_OPTIONS": json.dumps(self.options)}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.adapter} server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.http_url(), timeout=1):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.adapter} server did not answer /healthz within {timeout} s:\n{self.log()}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.http_url(), timeout=5) as response:
            document: dict[str, Any] = json.load(response)
            return document

    def rss_bytes(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig`, wait for the process to end; returns its exit code (killed after `timeout`)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def wait(self, timeout: float = 15.0) -> int:
        """Wait for the process to end by itself; returns its exit code."""
        assert self.process is not None
        return self.process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
