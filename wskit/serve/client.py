"""`AgentClient`: a small real `websockets` client for notebooks, tests and scripts.

async with await AgentClient.connect(server.url, token) as client:
    events = await client.run_agent("hello world", thread_id="t1")

With `refresh=` (an async callable returning a new token), the client answers the server's
`token_expiring` with a `refresh` frame while it receives, so the connection outlives its token.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from wskit.core.errors import ConnectionRejected
from wskit.session.handshake import SUBPROTOCOL

__all__ = ["AgentClient"]


class AgentClient:
    """One client connection; every JSON message received is kept in `received`, in order.

    `refresh`: called for a new token when the server says `token_expiring` (see `connect`).
    """

    def __init__(self, connection: ClientConnection, *, refresh: Callable[[], Awaitable[str]] | None = None) -> None:
        self.connection = connection
        self.received: list[dict[str, Any]] = []
        self.refresh = _check_refresh(refresh)

    @property
    def last_seq(self) -> int:
        """The `seq` of the last envelope received (0 before the first): what to resume from."""
        envelopes = [m for m in self.received if isinstance(m.get("seq"), int)]
        return envelopes[-1]["seq"] if envelopes else 0

    @property
    def epoch(self) -> str | None:
        """The epoch of the last envelope received (None before the first): resume with it."""
        envelopes = [m for m in self.received if isinstance(m.get("seq"), int)]
        return envelopes[-1]["epoch"] if envelopes else None

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str,
        *,
        token_in: Literal["header", "subprotocol", "query"] = "header",
        last_seq: int | None = None,
        epoch: str | None = None,
        open_timeout: float = 5.0,
        refresh: Callable[[], Awaitable[str]] | None = None,
        **options: Any,
    ) -> Self:
        """Open a connection authenticated by `token`: a Bearer header, subprotocols `["wskit", token]`
        (what browsers can send) or `?token=`.

        With `last_seq` (and its `epoch`), the server first replays every envelope after it
        (`?last_seq=&epoch=`), or says `resync_required` when it no longer can.
        With `refresh`, an async callable returning a new token of the same user, each
        `token_expiring` the client receives is answered with `{"type": "refresh", "token": ...}`.
        Other keyword arguments go to `websockets.asyncio.client.connect` (e.g. `max_queue`).
        Raises `ConnectionRejected` (with the HTTP status and the server's reason) on refusal.
        """
        if token_in not in ("header", "subprotocol", "query"):
            raise ValueError(f"token_in must be 'header', 'subprotocol' or 'query'; got {token_in!r}")
        _check_refresh(refresh)  # before connecting
        headers = {"Authorization": f"Bearer {token}"} if token_in == "header" else None
        if token_in == "subprotocol":
            options["subprotocols"] = [SUBPROTOCOL, token]
        query = {"token": token} if token_in == "query" else {}
        if last_seq is not None:
            query["last_seq"] = str(last_seq)
        if epoch is not None:
            query["epoch"] = epoch
        if query:
            url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(query)}"
        try:
            connection = await connect(url, additional_headers=headers, open_timeout=open_timeout, **options)
        except InvalidStatus as exc:
            response = exc.response
            raise ConnectionRejected(response.status_code, response.body.decode(errors="replace").strip()) from None
        return cls(connection, refresh=refresh)

    async def send_json(self, message: Any) -> None:
        """Send any JSON value as one text frame."""
        await self.connection.send(json.dumps(message))

    async def resume(self, last_seq: int, epoch: str | None = None) -> None:
        """Ask for every envelope after `last_seq` of `epoch` (must be this connection's first frame)."""
        frame: dict[str, Any] = {"type": "resume", "last_seq": last_seq}
        if epoch is not None:
            frame["epoch"] = epoch
        await self.send_json(frame)

    async def send_user_message(self, payload: Any, *, thread_id: str, run_id: str | None = None) -> None:
        """Ask the server's reference agent to run on `payload` in `thread_id`."""
        message: dict[str, Any] = {"type": "user_message", "payload": payload, "thread_id": thread_id}
        if run_id is not None:
            message["run_id"] = run_id
        await self.send_json(message)

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message from the server (also appended to `received`).

        A `token_expiring` is first answered with a new token from `refresh`, if given (a
        `TypeError` if it returns anything but a non-empty str; its own errors propagate).
        """
        async with asyncio.timeout(timeout):
            data = await self.connection.recv()
        message: dict[str, Any] = json.loads(data)
        self.received.append(message)
        if message.get("type") == "token_expiring" and self.refresh is not None:
            await self.send_refresh(await self.refresh())
        return message

    async def send_refresh(self, token: str) -> None:
        """Go on with `token`, a new token of the same user (the server answers `token_refreshed` or an error)."""
        if not isinstance(token, str) or not token:
            raise TypeError(f"a refresh needs the new token as a non-empty str; got {type(token).__name__}")
        await self.send_json({"type": "refresh", "token": token})

    async def receive_until(
        self, event_type: str, *, thread_id: str | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Receive until a message of `event_type` (in `thread_id`, if given) arrives; return them all."""
        messages: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                message = await self.receive(timeout=timeout)
                messages.append(message)
                if message.get("type") == event_type and thread_id in (None, message.get("thread_id")):
                    return messages

    async def run_agent(self, payload: Any, *, thread_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Send a user message and return the events received up to its `agent_completed`."""
        await self.send_user_message(payload, thread_id=thread_id)
        return await self.receive_until("agent_completed", thread_id=thread_id, timeout=timeout)

    async def close(self) -> None:
        """Close the connection normally (1000)."""
        await self.connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _check_refresh(refresh: Callable[[], Awaitable[str]] | None) -> Callable[[], Awaitable[str]] | None:
    if refresh is not None and not callable(refresh):
        raise TypeError(f"refresh must be an async callable returning a new token; got {type(refresh).__name__}")
    return refresh
