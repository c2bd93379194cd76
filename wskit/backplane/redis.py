"""`RedisBackplane`: several server processes (and workers without sockets) share each user's stream.

Publishing is one Lua script (`wskit.backplane.lua.PUBLISH`): allocate the user's next `seq`,
append the envelope to the user's bounded stream, wake the subscribers; "accepted" means the
script returned, and a publish that cannot reach Redis raises `BackplaneUnavailable`.

Delivery: each process subscribes (sharded pub/sub) to the users it holds connections of, and
delivers from a per-user `Cursor`. Pub/sub is only a wake-up; the stream is the truth: a gap is
read back from the stream, and after the subscriber reconnects every local user is re-read from
its cursor, so nothing published while it was away is lost (redis-py's own pub/sub resubscribes
silently and loses those). The subscriber connection is our own: a PING every `probe_interval`
seconds that is not answered within the next one means it is dead or wedged, and it is replaced;
reconnects back off up to `reconnect_max` seconds and reset after a success. While it is down,
`health()` says why (`/healthz` answers 503) and new connections are refused.

A disconnect is one script (`wskit.backplane.lua.DISCONNECT`): keep the revocation, if any, then
wake the processes holding the user with a `!<reason>` message, which closes their connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.connection import Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from wskit.backplane.base import DeliverySink, Position, Published, Revocation
from wskit.backplane.cursor import Cursor, EpochChanged, Lost
from wskit.backplane.lua import DISCONNECT, HISTORY, PUBLISH, SEEN
from wskit.core.envelope import Draft
from wskit.core.errors import BackplaneUnavailable
from wskit.core.history import (
    DEFAULT_HISTORY_MAX_AGE,
    DEFAULT_HISTORY_MAX_BYTES,
    DEFAULT_HISTORY_MAX_MESSAGES,
    Entry,
    ResyncRequired,
    replay_after,
)

__all__ = ["RedisBackplane", "redact"]

logger = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


def redact(url: str) -> str:
    """`url` with its password replaced by `***` (for messages and logs), even if it is malformed."""
    return _PASSWORD.sub(r"\1***@", url)


class RedisBackplane:
    """Numbers, keeps and fans out envelopes through Redis (standalone, or a Redis Cluster).

    Args:
        url: `redis://[user:password@]host:port[/db]` (a cluster is recognised by its nodes).
        prefix: the first part of every key and channel name.
        history_max_messages, history_max_bytes, history_max_age: the bounds of each user's
            stream (count; bytes, approximately, from the size of the newest envelope; seconds).
        meta_ttl: seconds a user's epoch and counter outlive the user's last envelope.
        probe_interval: seconds between liveness PINGs of the subscriber connection.
        reconnect_max: longest wait, in seconds, between reconnect attempts.
        command_timeout: seconds one Redis command may take before it counts as a failure.
        gap_grace: seconds a gap the pub/sub channel has gone past may stay open before it is
            read from the stream; a gap it has not reached (one's own publish replies overtook the
            wake-ups) is given half a probe interval to close by itself.
        max_connections: Redis command connections this process may open (publishes beyond
            wait for one); the subscriber has its own.

    Raises `ValueError` (one line naming the URL, password redacted) for a malformed URL.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "wskit",
        history_max_messages: int = DEFAULT_HISTORY_MAX_MESSAGES,
        history_max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
        history_max_age: float = DEFAULT_HISTORY_MAX_AGE,
        meta_ttl: int = 86_400,
        probe_interval: float = 5.0,
        reconnect_max: float = 5.0,
        command_timeout: float = 5.0,
        gap_grace: float = 0.05,
        max_connections: int = 64,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"the backplane URL must be a str like 'redis://HOST:6379/0', not {type(url).__name__}")
        self.url = redact(url)
        try:
            self._connect_kwargs = _connect_kwargs(url)
        except ValueError as exc:
            raise ValueError(f"bad backplane URL {self.url!r}: {exc}; expected redis://HOST:PORT/DB") from None
        for name, value in (("history_max_messages", history_max_messages), ("history_max_bytes", history_max_bytes),
                            ("meta_ttl", meta_ttl), ("max_connections", max_connections)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        for name, seconds in (("history_max_age", history_max_age), ("probe_interval", probe_interval),
                              ("reconnect_max", reconnect_max), ("command_timeout", command_timeout),
                              ("gap_grace", gap_grace)):  # fmt: skip
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
                raise ValueError(f"{name} must be a positive number of seconds; got {seconds!r}")
        self._raw_url = url
        self.prefix = prefix
        self.history_max_messages = history_max_messages
        self.history_max_bytes = history_max_bytes
        self.history_max_age = float(history_max_age)
        self.meta_ttl = meta_ttl
        self.probe_interval = float(probe_interval)
        self.reconnect_max = float(reconnect_max)
        self.command_timeout = float(command_timeout)
        self.gap_grace = float(gap_grace)
        self.max_connections = max_connections
        self._client: Redis | RedisCluster | None = None
        self._starting: asyncio.Future[None] | None = None
        self._sink: DeliverySink | None = None
        self._cursors: dict[str, Cursor] = {}
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._subscribers: dict[str, _Subscriber] = {}
        self._fills: dict[str, asyncio.Task[None]] = {}
        self._fill_again: set[str] = set()  # asked to read at once while a fill was under way
        self._seen: dict[str, tuple[str, int]] = {}
        self._seen_flush: asyncio.Task[None] | None = None
        self._queued: list[tuple[str, Draft, asyncio.Future[tuple[int, str]]]] = []
        self._epoch_prefix = secrets.token_hex(3)
        self._epochs = 0
        self._limits = f"{history_max_messages} {history_max_bytes} {max(1, int(history_max_age))} {meta_ttl}"
        self._evalsha_prefix = b"*10\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n$1\r\n3\r\n" % (
            hashlib.sha1(PUBLISH.encode()).hexdigest().encode()
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._command_failure: str | None = None
        self._prober: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisBackplane({self.url!r})"

    # -- the Backplane interface ------------------------------------------------------------------

    def attach(self, sink: DeliverySink) -> None:
        """Register this process's delivery sink (one per backplane)."""
        if self._sink is not None and self._sink is not sink:
            raise RuntimeError("this backplane already delivers to another registry; create one per registry")
        self._sink = sink

    async def start(self) -> None:
        """Connect and load the scripts; raise `BackplaneUnavailable` (naming the URL) if Redis cannot be reached."""
        if self._client is not None:
            return
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_future()
            try:
                self._client = await self._connect()
                self._starting.set_result(None)
            except BaseException as exc:
                self._starting.set_exception(exc)
                self._starting.exception()  # retrieved: the caller gets it
                self._starting = None
                raise
        else:
            await asyncio.shield(self._starting)

    async def publish(self, user_id: str, draft: Draft) -> Published:
        """Number, store and wake; the envelope reaches this process's connections in `seq` order.

        Publishes issued together (in one turn of the event loop) go to Redis as one pipeline:
        each is still its own script, so each is numbered and stored on its own.
        """
        client = await self._ready()
        if isinstance(client, RedisCluster):
            try:
                seq, epoch = await self._publish_script(user_id, draft)
            except _FAILURES as exc:
                raise self._unavailable("store the envelope", exc) from exc
        else:
            future: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
            self._queued.append((user_id, draft, future))
            if len(self._queued) == 1:
                asyncio.get_running_loop().call_soon(self._spawn_sender, client)
            seq, epoch = await future
        return Published(seq, epoch, self._accept(user_id, epoch, seq, draft.number(seq, epoch)))

    def _spawn_sender(self, client: Redis) -> None:
        self._spawn(self._send_queued(client))

    async def _send_queued(self, client: Redis) -> None:
        batch, self._queued = self._queued, []
        try:
            results = await self._publish_pipelined(client, [(user_id, draft) for user_id, draft, _ in batch])
        except BaseException as exc:
            # Every caller learns what happened to its envelope: none is left waiting, none is
            # told it was stored when it may not have been.
            failure = exc
            if isinstance(exc, _FAILURES):
                failure = BackplaneUnavailable(str(self._unavailable("store the envelope", exc)))
            elif isinstance(exc, asyncio.CancelledError):
                failure = BackplaneUnavailable(f"cannot store the envelope: the backplane for {self.url} was closed")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def publish_many(self, drafts: Iterable[tuple[str, Draft]]) -> int:
        """Publish one envelope per user (pipelined); returns the local deliveries."""
        drafts = list(drafts)
        client = await self._ready()
        try:
            if isinstance(client, RedisCluster):  # users live on several nodes: bounded concurrency
                gate = asyncio.Semaphore(32)

                async def one(user_id: str, draft: Draft) -> tuple[int, str]:
                    async with gate:
                        return await self._publish_script(user_id, draft)

                results = await asyncio.gather(*(one(user_id, draft) for user_id, draft in drafts))
            else:
                results = await self._publish_pipelined(client, drafts)
        except _FAILURES as exc:
            raise self._unavailable("store the envelopes", exc) from exc
        return sum(
            self._accept(user_id, epoch, seq, draft.number(seq, epoch))
            for (user_id, draft), (seq, epoch) in zip(drafts, results, strict=True)
        )

    async def replay(self, user_id: str, last_seq: int, epoch: str | None) -> list[Entry]:
        """The stored envelopes after `last_seq` (of `epoch`), or `ResyncRequired`."""
        stored_epoch, latest, _, entries = await self._read(user_id, str(last_seq + 1))
        if stored_epoch is None:  # nothing stored: a new user, or the state was lost
            if last_seq == 0 and epoch is None:
                return []
            raise ResyncRequired(last_seq, None, None, latest)
        return replay_after(last_seq, epoch, epoch=stored_epoch, latest_seq=latest, kept=entries)

    async def position(self, user_id: str) -> Position:
        """The user's epoch and latest `seq` in Redis (None and 0 while nothing is stored)."""
        client = await self._ready()
        try:
            epoch, seq = await client.hmget(self._key(user_id, "meta"), ["epoch", "seq"])
        except _FAILURES as exc:
            raise self._unavailable("read the user's position", exc) from exc
        self._command_failure = None
        return Position(None if epoch is None else _text(epoch), int(seq or 0))

    async def undelivered(self, user_id: str, since: Position | None = None) -> list[Entry]:
        """Stored envelopes after the user's seen mark (what no connection was written yet), and
        (with `since`) every stored one after it: the read starts at the lower of the two."""
        stored_epoch, _, _, entries = await self._read(user_id, "seen", since)
        return [] if stored_epoch is None else entries

    def note_delivered(self, user_id: str, seq: int) -> None:
        """Raise the user's seen mark (written to Redis by a background flush, twice a second)."""
        cursor = self._cursors.get(user_id)
        if cursor is not None and cursor.epoch is not None:
            self._seen[user_id] = (cursor.epoch, seq)
            if self._seen_flush is None:
                self._seen_flush = self._spawn(self._flush_seen_soon())

    async def subscribe(self, user_id: str) -> None:
        """Receive the user's envelopes in this process from now on (idempotent)."""
        if user_id in self._cursors:
            return
        pending = self._subscribing.get(user_id)
        if pending is not None:
            await asyncio.shield(pending)
            return
        future = asyncio.get_running_loop().create_future()
        self._subscribing[user_id] = future
        try:
            await self._subscribe(user_id)
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._subscribing[user_id]

    def unsubscribe(self, user_id: str) -> None:
        """The user's last connection here is gone: stop receiving its envelopes."""
        if self._cursors.pop(user_id, None) is None:
            return
        self._fill_again.discard(user_id)
        fill = self._fills.pop(user_id, None)
        if fill is not None:
            fill.cancel()
        subscriber = self._subscribers.get(self._node_of(self._key(user_id, "wake")))
        if subscriber is not None:
            subscriber.unsubscribe(self._key(user_id, "wake"))

    async def disconnect(self, user_id: str, reason: str, *, revoke: Revocation | None, ttl: float) -> int:
        """Keep `revoke` (for `ttl` seconds) and wake every process holding the user to close its
        connections, in one script; returns the processes told."""
        client = await self._ready()
        revocation = "" if revoke is None else f"{revoke.before!r} {revoke.reason}"
        try:
            told = await self._disconnect_script(
                keys=[self._key(user_id, "revoked"), self._key(user_id, "wake")],
                args=[revocation, math.ceil(ttl), reason],
                client=client,
            )
        except _FAILURES as exc:
            raise self._unavailable("disconnect the user", exc) from exc
        self._command_failure = None
        return int(told)

    async def revocation(self, user_id: str) -> Revocation | None:
        """The user's revocation kept in Redis, if any (read on every call: every process sees it at once)."""
        client = await self._ready()
        try:
            kept = await client.get(self._key(user_id, "revoked"))
        except _FAILURES as exc:
            raise self._unavailable("check whether the token was revoked", exc) from exc
        self._command_failure = None
        if kept is None:
            return None
        text = kept.decode("utf-8", "replace") if isinstance(kept, bytes) else kept
        before, _, reason = text.partition(" ")
        return Revocation(float(before), reason)

    def health(self) -> str | None:
        """None when Redis answers and every subscriber connection is up, else why not."""
        if self._closed:
            return "backplane closed"
        for subscriber in self._subscribers.values():
            if subscriber.failure is not None:
                return f"Redis pub/sub at {subscriber.name}: {subscriber.failure}"
        return self._command_failure

    async def close(self) -> None:
        """Stop the subscribers and background work, close the connections."""
        self._closed = True
        await self._flush_seen()
        for subscriber in self._subscribers.values():
            await subscriber.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(*_FAILURES):
                await self._client.aclose()

    # -- Redis ------------------------------------------------------------------------------------

    async def _connect(self) -> Redis | RedisCluster:
        # No retries: a publish retried after Redis ran it but before its reply arrived would be
        # stored twice. A failure is raised to the caller, who knows whether to try again.
        timeout, no_retry = self.command_timeout, Retry(NoBackoff(), 0)
        try:
            # Blocking: a burst of publishes waits for one of the pool's connections (up to the
            # command timeout) instead of failing at once.
            pool = BlockingConnectionPool.from_url(
                self._raw_url, max_connections=self.max_connections, timeout=timeout,
                socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry,
            )  # fmt: skip
            client: Redis | RedisCluster = Redis(connection_pool=pool)
            info = await client.info("cluster")
            if info.get("cluster_enabled"):
                await client.aclose()
                client = RedisCluster.from_url(
                    self._raw_url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry
                )
                await client.initialize()
            self._publish = client.register_script(PUBLISH)
            self._history = client.register_script(HISTORY)
            self._seen_script = client.register_script(SEEN)
            self._disconnect_script = client.register_script(DISCONNECT)
            await client.script_load(PUBLISH)
            return client
        except _FAILURES as exc:
            raise self._unavailable("connect to the backplane", exc) from exc

    async def _ready(self) -> Redis | RedisCluster:
        if self._client is None:
            await self.start()
        assert self._client is not None
        return self._client

    def _key(self, user_id: str, kind: str) -> str:
        return f"{self.prefix}:{{u:{user_id}}}:{kind}"

    def _publish_keys_and_args(self, user_id: str, draft: Draft) -> list[Any]:
        # The epoch a user gets if its state is gone: new for every publish of every process (a
        # random prefix, then a counter), so a lost state never comes back under its old epoch.
        self._epochs += 1
        return [
            self._key(user_id, "meta"), self._key(user_id, "log"), self._key(user_id, "wake"),
            draft.head, draft.tail, f"{self._epoch_prefix}{self._epochs:x}", self._limits,
        ]  # fmt: skip

    def _packed_publish(self, user_id: str, draft: Draft) -> bytes:
        """One EVALSHA of the publish script in Redis's wire format (RESP), built directly."""
        args = [arg if isinstance(arg, bytes) else arg.encode() for arg in self._publish_keys_and_args(user_id, draft)]
        return b"".join([self._evalsha_prefix, *(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args)])

    async def _publish_script(self, user_id: str, draft: Draft) -> tuple[int, str]:
        values = self._publish_keys_and_args(user_id, draft)
        seq, epoch = await self._publish(keys=values[:3], args=values[3:])
        self._command_failure = None
        return int(seq), _text(epoch)

    async def _publish_pipelined(self, client: Redis, drafts: Sequence[tuple[str, Draft]]) -> list[tuple[int, str]]:
        """Run the publish script once per draft, all written at once on one connection.

        redis-py's own pipeline spends more time encoding the commands than Redis spends
        running them; the commands are built directly (`_packed_publish`) and the replies read
        back in order, within one command timeout for the whole batch.
        """
        packed = b"".join([self._packed_publish(user_id, draft) for user_id, draft in drafts])
        for attempt in (1, 2):
            pool = client.connection_pool
            connection = await pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                async with asyncio.timeout(self.command_timeout):
                    await connection.send_packed_command(packed, check_health=False)
                    replies = [await connection.read_response(timeout=math.inf) for _ in drafts]
                break
            except NoScriptError:  # Redis restarted and forgot the script: nothing ran; load it once
                await connection.disconnect()
                if attempt == 2:
                    raise
                await client.script_load(PUBLISH)
            except BaseException:
                await connection.disconnect()  # replies may be left unread: never reuse it
                raise
            finally:
                await pool.release(connection)
        self._command_failure = None
        return [(int(seq), _text(epoch)) for seq, epoch in replies]

    async def _read(
        self, user_id: str, first: str, since: Position | None = None
    ) -> tuple[str | None, int, int, list[Entry]]:
        """(epoch or None, latest seq, seen mark, entries from `first` within the age bound);
        `first` "seen" reads after the seen mark, or after `since` if it is lower."""
        client = await self._ready()
        args: list[Any] = [first, self.history_max_messages + 1]
        if since is not None:
            args += [since.epoch or "", since.seq]
        try:
            epoch, latest, seen, raw, now = await self._history(
                keys=[self._key(user_id, "meta"), self._key(user_id, "log")], args=args, client=client
            )
        except _FAILURES as exc:
            raise self._unavailable("read the history", exc) from exc
        self._command_failure = None
        oldest_allowed = int(now) - self.history_max_age
        entries: list[Entry] = []
        for entry_id, fields in raw:
            values = dict(zip(fields[::2], fields[1::2], strict=True))
            if int(values[b"t"]) >= oldest_allowed:
                entries.append((int(entry_id.split(b"-")[0]), values[b"d"]))
            else:
                entries.clear()  # a gap of aged-out envelopes: only what follows it counts
        return (None if not epoch else _text(epoch)), int(latest), int(seen), entries

    def _unavailable(self, doing: str, exc: BaseException) -> BackplaneUnavailable:
        """Record a failed command (health says so until Redis answers again) and describe it."""
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._command_failure = f"Redis at {self.url}: {reason}"
        if self._prober is None and not self._closed:
            self._prober = self._spawn(self._probe_until_back())
        return BackplaneUnavailable(f"cannot {doing}: Redis at {self.url} failed ({reason})")

    async def _probe_until_back(self) -> None:
        """PING Redis, backing off up to `reconnect_max`, until it answers; then health clears."""
        backoff = 0.05
        try:
            while self._command_failure is not None and not self._closed:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.reconnect_max)
                with contextlib.suppress(BackplaneUnavailable, *_FAILURES):
                    await (await self._ready()).ping()  # connects first if it never could
                    logger.warning("Redis at %s answers again", self.url)
                    self._command_failure = None
        finally:
            self._prober = None

    # -- delivery ---------------------------------------------------------------------------------

    async def _subscribe(self, user_id: str) -> None:
        await self._ready()
        channel = self._key(user_id, "wake")
        name = self._node_of(channel)
        subscriber = self._subscribers.get(name)
        if subscriber is None:
            subscriber = _Subscriber(self, name, self._node_kwargs(name))
            self._subscribers[name] = subscriber
            subscriber.start()
        await subscriber.subscribe(channel, user_id)
        try:
            epoch, seq = await self.position(user_id)
        except BackplaneUnavailable:
            subscriber.unsubscribe(channel)
            raise
        self._cursors[user_id] = Cursor(epoch, seq)
        # Anything published after that read but woken before the cursor existed is in the stream.
        self._fill_soon(user_id, at_once=True)

    def _node_of(self, channel: str) -> str:
        client = self._client
        if isinstance(client, RedisCluster):
            node = client.get_node_from_key(channel)
            if node is None:
                raise BackplaneUnavailable(f"Redis Cluster at {self.url} has no node for the slot of {channel!r}")
            return f"{node.host}:{node.port}"
        return "{host}:{port}".format(**{"host": "localhost", "port": 6379, **self._connect_kwargs})

    def _node_kwargs(self, name: str) -> dict[str, Any]:
        host, _, port = name.rpartition(":")
        kwargs = {k: v for k, v in self._connect_kwargs.items() if k in ("username", "password")}
        # RESP2: redis-py's RESP3 parser hands pub/sub pushes to its own handler on some reads, and
        # a message handed there never reaches us; in RESP2 every message is a plain reply.
        timeout = self.command_timeout
        return {**kwargs, "host": host, "port": int(port), "socket_connect_timeout": timeout, "protocol": 2}

    def _on_wake(self, user_id: str, message: bytes) -> None:
        if message.startswith(b"!"):  # not an envelope: close the user's connections here
            if self._sink is not None:
                self._sink.close_user(user_id, message[1:].decode("utf-8", "replace"))
            return
        seq, epoch, data = message.split(b" ", 2)
        self._accept(user_id, epoch.decode("ascii"), int(seq), data, ordered=True)

    def _accept(self, user_id: str, epoch: str, seq: int, data: bytes, *, ordered: bool = False) -> int:
        """Feed one envelope to the user's cursor; deliver what it lets through; return deliveries.

        `ordered`: it came from the pub/sub channel, which carries the user's envelopes in order.
        """
        cursor = self._cursors.get(user_id)
        if cursor is None or self._sink is None:
            return 0
        try:
            entries = cursor.accept(epoch, seq, data, ordered=ordered)
        except EpochChanged:
            self._fill_soon(user_id, at_once=True)  # the fill finds the new epoch and restarts
            return 0
        delivered = self._deliver(user_id, entries) if entries else 0
        if cursor.gap:
            # A loss the channel confirmed is read back now; a gap it has not reached yet (our own
            # reply overtook the wake-ups) is read back only if the wake-ups do not close it.
            self._fill_soon(user_id, delay=self.gap_grace if cursor.gap_confirmed else self.probe_interval / 2)
        return delivered

    def _deliver(self, user_id: str, entries: Sequence[Entry]) -> int:
        """Hand entries to this process's connections; remember the user saw them if any took them."""
        assert self._sink is not None
        delivered = self._sink.deliver(user_id, entries)
        if delivered:
            self.note_delivered(user_id, entries[-1][0])
        return delivered

    def _fill_soon(self, user_id: str, *, at_once: bool = False, delay: float | None = None) -> None:
        if user_id in self._fills:
            # The fill under way closes gaps as it goes, but it may have read the stream before
            # what now asks for a read at once (a new epoch, a reconnect): it reads again after.
            if at_once:
                self._fill_again.add(user_id)
            return
        wait = 0.0 if at_once else (self.gap_grace if delay is None else delay)
        self._fills[user_id] = self._spawn(self._fill(user_id, wait))

    async def _fill(self, user_id: str, delay: float) -> None:
        """Read the stream after the cursor and deliver, until the cursor has no gap."""
        try:
            deadline = asyncio.get_running_loop().time() + delay
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                await asyncio.sleep(min(self.gap_grace, remaining))
                cursor = self._cursors.get(user_id)
                if cursor is None or not cursor.gap:
                    return  # the wake-ups closed it
                if cursor.gap_confirmed:
                    break  # the channel went past the missing one: it is lost on the way, read it now
            for _ in range(1000):
                cursor = self._cursors.get(user_id)
                if cursor is None:
                    return
                epoch, latest, _, entries = await self._read(user_id, str(cursor.seq + 1))
                if self._cursors.get(user_id) is not cursor or epoch is None:
                    return  # unsubscribed meanwhile, or nothing stored (yet) after a loss
                if cursor.epoch not in (None, epoch):
                    self._resync(user_id, cursor, epoch, latest, None, 0)
                    continue  # read the new stream from its start
                try:
                    delivered = cursor.fill(epoch, entries)
                except Lost as lost:
                    self._resync(user_id, cursor, epoch, latest, lost.resumes_at, (lost.resumes_at or 1) - 1)
                    continue
                if delivered:
                    self._deliver(user_id, delivered)
                if len(entries) > self.history_max_messages:
                    continue  # more than one read's worth behind
                if not cursor.gap:
                    return
                await asyncio.sleep(self.gap_grace)
            logger.error("user %r: could not close a gap in its stream after 1000 reads", user_id)
        except BackplaneUnavailable as exc:
            # The subscriber's reconnect reads every cursor again; until then health says why.
            logger.warning("could not read the stream of user %r to fill a gap: %s", user_id, exc)
        finally:
            if self._fills.get(user_id) is asyncio.current_task():
                del self._fills[user_id]
            if user_id in self._fill_again and user_id in self._cursors and not self._closed:
                self._fill_again.discard(user_id)
                self._fill_soon(user_id, at_once=True)

    def _resync(  # noqa: PLR0917 - private, called in two places
        self, user_id: str, cursor: Cursor, epoch: str, latest: int, oldest: int | None, seq: int
    ) -> None:
        """Envelopes this process's connections were owed are gone: tell them, then continue at `seq`."""
        notice = ResyncRequired(cursor.seq, epoch, oldest, latest).as_message()
        logger.warning("user %r lost envelopes after seq %d; its connections here were told to resync: %s",
                       user_id, cursor.seq, notice)  # fmt: skip
        if self._sink is not None:
            self._sink.restart(user_id, notice)
        cursor.restart(epoch, seq)

    def _refill_all(self) -> None:
        """After a reconnect: every local user is read again from its cursor."""
        for user_id in list(self._cursors):
            self._fill_soon(user_id, at_once=True)

    async def _flush_seen_soon(self) -> None:
        try:
            await asyncio.sleep(0.5)
            await self._flush_seen()
        finally:
            self._seen_flush = None

    async def _flush_seen(self) -> None:
        marks, self._seen = self._seen, {}
        if not marks or self._client is None:
            return
        try:
            for user_id, (epoch, seq) in marks.items():
                await self._seen_script(keys=[self._key(user_id, "meta")], args=[seq, epoch], client=self._client)
        except _FAILURES as exc:
            logger.warning("could not record which envelopes were delivered: %s", self._unavailable("write", exc))

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Redis backplane task failed", exc_info=task.exception())


class _Subscriber:
    """One pub/sub connection to one Redis node, replaced when it dies or stops answering."""

    def __init__(self, backplane: RedisBackplane, name: str, kwargs: dict[str, Any]) -> None:
        self.backplane = backplane
        self.name = name
        self.kwargs = kwargs
        self.channels: dict[bytes, str] = {}
        self.failure: str | None = None
        self._connection: Connection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.down_since: float | None = None
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = self.backplane._spawn(self._run())

    async def subscribe(self, channel: str, user_id: str) -> None:
        """Subscribe, and return once Redis confirmed it; `BackplaneUnavailable` if it cannot."""
        down_since = self.down_since
        if down_since is not None and time.monotonic() - down_since > self.backplane.reconnect_max:
            # Down for longer than a blip: say so at once rather than after a timeout.
            raise BackplaneUnavailable(f"cannot subscribe: Redis pub/sub at {self.name} is down ({self.failure})")
        key = channel.encode()
        self.channels[key] = user_id
        try:
            async with asyncio.timeout(self.backplane.command_timeout):
                await self._connected.wait()
                assert self._connection is not None
                confirmed = self._confirmations.setdefault(key, asyncio.get_running_loop().create_future())
                await self._connection.send_command("SSUBSCRIBE", channel)
                await asyncio.shield(confirmed)
        except (TimeoutError, *_FAILURES) as exc:
            self.channels.pop(key, None)
            reason = self.failure or str(exc) or "timed out"
            raise BackplaneUnavailable(f"cannot subscribe: Redis pub/sub at {self.name} failed ({reason})") from exc
        finally:
            self._confirmations.pop(key, None)

    def unsubscribe(self, channel: str) -> None:
        key = channel.encode()
        if self.channels.pop(key, None) is not None and self._connection is not None:
            send = self.backplane._spawn(self._send_quietly("SUNSUBSCRIBE", channel))
            self._sends.add(send)
            send.add_done_callback(self._sends.discard)

    async def _stop_sends(self) -> None:
        # A send still under way when its connection is disconnected fails inside redis-py with an
        # AttributeError (its writer is gone): stop the sends first.
        for send in list(self._sends):
            send.cancel()
        await asyncio.gather(*self._sends, return_exceptions=True)

    async def close(self) -> None:
        # Disconnecting first makes a pending read fail at once; a cancellation alone can be
        # swallowed by the read's own timeout if both happen together.
        self._closing = True
        await self._stop_sends()
        if self._connection is not None:
            await self._connection.disconnect(nowait=True)
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        backoff = 0.05
        while not self._closing:
            connection = Connection(**self.kwargs)
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
                for channel in list(self.channels):  # one per command: a cluster wants one slot each
                    await connection.send_command("SSUBSCRIBE", channel)
                self._connection = connection
                self._connected.set()
                if self.down_since is not None:
                    logger.warning("Redis pub/sub at %s is back after %.1f s; re-reading every local user's stream",
                                   self.name, time.monotonic() - self.down_since)  # fmt: skip
                self.failure = None
                self.down_since = None
                backoff = 0.05
                self.backplane._refill_all()
                await self._pump(connection)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, *_FAILURES) as exc:
                if self._closing:
                    return
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                level = logging.WARNING if self.down_since is None else logging.ERROR
                logger.log(level, "Redis pub/sub at %s failed (%s); reconnecting in %.2f s", self.name, reason, backoff)
                self.failure = reason
                if self.down_since is None:
                    self.down_since = time.monotonic()
            finally:
                self._connection = None
                self._connected.clear()
                for future in self._confirmations.values():
                    if not future.done():
                        future.set_exception(ConnectionError("the pub/sub connection was lost"))
                await self._stop_sends()
                await connection.disconnect(nowait=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backplane.reconnect_max)

    async def _pump(self, connection: Connection) -> None:
        """Read until the connection fails; a PING unanswered for a whole interval means it is wedged."""
        waiting_for_pong = False
        interval = self.backplane.probe_interval
        while not self._closing:
            response = await connection.read_response(timeout=interval)
            if response is None:
                if waiting_for_pong:
                    raise TimeoutError(f"no answer to a PING within {interval:g} s (a dead or wedged connection)")
                await connection.send_command("PING")
                waiting_for_pong = True
                continue
            waiting_for_pong = False
            kind = response[0]
            if kind == b"smessage":
                user_id = self.channels.get(response[1])
                if user_id is not None:
                    self.backplane._on_wake(user_id, response[2])
            elif kind == b"ssubscribe":
                confirmed = self._confirmations.get(response[1])
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)

    async def _send_quietly(self, *command: str) -> None:
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(*_FAILURES):
                await connection.send_command(*command)


def _connect_kwargs(url: str) -> dict[str, Any]:
    kwargs = dict(parse_url(url))
    if urllib.parse.urlsplit(url).scheme != "redis":
        raise ValueError("only redis:// URLs are supported")
    if "host" not in kwargs:
        raise ValueError("it names no host")
    return kwargs


def _text(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value
