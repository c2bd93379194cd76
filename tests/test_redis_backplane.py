"""The Redis backplane against a real redis-server: several registries (processes) share each user's stream.

Each registry here stands for one server process (or a worker without sockets) with its own
Redis connections; the connections are in-memory, the Redis is real (started per test).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import MemoryConnection
from redis_servers import RedisClusterServers, RedisServer, StallingProxy

from wskit import ManagerRegistry, UserContext
from wskit.backplane import Position, Revocation
from wskit.backplane.redis import RedisBackplane, redact
from wskit.core.errors import BackplaneUnavailable
from wskit.core.history import ResyncRequired


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 60) -> None:
    """Run one scenario; one that hangs fails after `timeout` seconds instead of hanging the suite."""
    asyncio.run(asyncio.wait_for(scenario(), timeout))


@asynccontextmanager
async def processes(url: str, count: int, **options: Any) -> AsyncIterator[list[ManagerRegistry]]:
    """`count` registries, each with its own Redis backplane: what `count` server processes hold."""
    registries = [ManagerRegistry(backplane=RedisBackplane(url, **options)) for _ in range(count)]
    try:
        yield registries
    finally:
        for registry in registries:
            await registry.backplane.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - polls state that has no event
            await asyncio.sleep(0.01)


async def connect(registry: ManagerRegistry, user: str, **resume: Any) -> MemoryConnection:
    connection = MemoryConnection(user)
    await registry.get_or_create(UserContext(user_id=user)).add_connection(connection, user_id=user, **resume)
    return connection


def wake_subscribers(redis_server: RedisServer, user: str) -> int:
    """How many pub/sub connections Redis has subscribed to the user's wake-up channel."""
    count: int = redis_server.client().execute_command("PUBSUB", "SHARDNUMSUB", f"wskit:{{u:{user}}}:wake")[1]
    return count


def seqs(connection: MemoryConnection) -> list[int]:
    return [m["seq"] for m in connection.messages if "seq" in m]


def send(registry: ManagerRegistry, user: str, payload: object) -> Awaitable[Any]:
    return registry.get_or_create(UserContext(user_id=user)).send({"type": "n", "payload": payload})


def test_every_connection_on_every_process_gets_every_seq_once_in_order(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 3) as (a, b, worker):
            connections = [await connect(a, "alice"), await connect(a, "alice"), await connect(b, "alice")]
            bystander = await connect(b, "bob")
            reports = await asyncio.gather(*(send(r, "alice", i) for i in range(60) for r in (a, b, worker)))
            assert sorted(r.seq for r in reports) == list(range(1, 181))
            assert {r.delivered for r in reports if r.seq} <= {0, 1, 2}
            await until(lambda: all(len(seqs(c)) == 180 for c in connections))
            await asyncio.sleep(0.1)  # a duplicate would have arrived by now
            for connection in connections:
                assert seqs(connection) == list(range(1, 181))
                assert len({m["epoch"] for m in connection.messages}) == 1
            assert bystander.frames == []
            # A worker with no sockets holds no subscription; the processes hold only their users.
            assert wake_subscribers(redis_server, "alice") == 2

    run(scenario)


def test_a_killed_pubsub_connection_loses_nothing(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (server, worker):
            connection = await connect(server, "alice")
            for i in range(300):
                await send(worker, "alice", i)
                if i == 100:
                    killed = redis_server.client().client_kill_filter(_type="pubsub")
                    assert killed == 1
            await until(lambda: len(seqs(connection)) == 300)
            assert seqs(connection) == list(range(1, 301))
            await until(lambda: server.health() is None)

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)
    assert any("Redis pub/sub at" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    assert any("is back after" in r.getMessage() for r in caplog.records)


def test_a_wedged_subscriber_is_replaced_within_two_probe_intervals(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        proxy = await StallingProxy(redis_server.port).start()
        async with (
            processes(proxy.url, 1, probe_interval=0.3) as (server,),
            processes(redis_server.url, 1) as (worker,),
        ):
            connection = await connect(server, "alice")
            await send(worker, "alice", "before")
            await until(lambda: seqs(connection) == [1])
            assert proxy.stall(sent=b"SSUBSCRIBE") == 1  # the subscriber hears nothing now, and is not told
            stalled_at = asyncio.get_running_loop().time()
            for i in range(20):
                await send(worker, "alice", i)
            await until(lambda: server.health() is not None, timeout=2)
            detected = asyncio.get_running_loop().time() - stalled_at
            assert detected <= 2 * 0.3 + 0.2, detected
            assert "no answer to a PING within 0.3 s" in (server.health() or "")
            await until(lambda: len(seqs(connection)) == 21)
            assert seqs(connection) == list(range(1, 22))
            await until(lambda: server.health() is None)
        await proxy.close()

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)


@pytest.mark.parametrize("persist", [True, False])
def test_redis_down_then_back(tmp_path: Path, persist: bool) -> None:
    async def scenario() -> None:
        redis = RedisServer(tmp_path / "redis", persist=persist).start()
        try:
            async with processes(redis.url, 2, probe_interval=0.2, reconnect_max=0.2) as (server, worker):
                connection = await connect(server, "alice")
                for i in range(5):
                    await send(worker, "alice", i)
                await until(lambda: len(seqs(connection)) == 5)
                epoch = connection.messages[0]["epoch"]
                redis.stop(signal.SIGKILL)
                with pytest.raises(BackplaneUnavailable, match=f"cannot store the envelope: Redis at {redis.url}"):
                    await send(worker, "alice", "lost?")
                await until(lambda: server.health() is not None)
                assert f"Redis pub/sub at 127.0.0.1:{redis.port}" in (server.health() or "")
                with pytest.raises(BackplaneUnavailable):  # no new connections while down
                    await connect(server, "carol")
                redis.start()
                await until(lambda: server.health() is None and worker.health() is None, timeout=10)
                report = await send(worker, "alice", "after")
                await until(lambda: len(connection.messages) >= 6)
                if persist:  # appendfsync always: everything accepted is still there, same epoch
                    assert (report.seq, seqs(connection)) == (6, [1, 2, 3, 4, 5, 6])
                    assert connection.messages[-1]["epoch"] == epoch
                else:  # the state is gone: the client is told, and the stream starts over
                    await until(lambda: len(connection.messages) == 7)
                    notice, after = connection.messages[5:7]
                    assert notice["type"] == "resync_required" and notice["epoch"] != epoch
                    assert (after["seq"], after["epoch"], after["payload"]) == (1, notice["epoch"], "after")
        finally:
            redis.stop(signal.SIGKILL)

    run(scenario)


def test_resume_on_another_process_with_last_seq_and_epoch(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (a, b):
            first = await connect(a, "alice")
            for i in range(6):
                await send(a, "alice", i)
            epoch = first.messages[-1]["epoch"]
            moved = await connect(b, "alice", last_seq=4, epoch=epoch)
            await send(b, "alice", 6)
            await until(lambda: len(seqs(moved)) == 3)
            assert seqs(moved) == [5, 6, 7]
            other = await connect(b, "alice", last_seq=4, epoch="not-it")
            ahead = await connect(b, "alice", last_seq=99)
            resync = {"type": "resync_required", "epoch": epoch, "oldest_seq": 5, "latest_seq": 7}
            assert other.messages[0] == {**resync, "oldest_seq": 5}
            assert ahead.messages[0] == {**resync, "oldest_seq": None}
            stranger = await connect(b, "zed", last_seq=3)  # nothing was ever stored for zed
            assert stranger.messages == [{"type": "resync_required", "epoch": None, "oldest_seq": None,
                                          "latest_seq": 0}]  # fmt: skip

    run(scenario)


def test_a_fresh_connection_gets_what_no_connection_anywhere_was_written(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 3) as (a, b, worker):
            for i in range(3):
                await send(worker, "alice", i)  # alice is nowhere: stored
            first = await connect(a, "alice")
            assert seqs(first) == [1, 2, 3]
            await send(worker, "alice", 3)
            await until(lambda: seqs(first) == [1, 2, 3, 4])
            await asyncio.sleep(0.7)  # the seen mark is written twice a second
            second = await connect(b, "alice")
            await send(worker, "alice", 4)
            await until(lambda: seqs(second) == [5])

    run(scenario)


def test_a_process_subscribes_only_while_it_holds_the_user(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1) as (server,):
            manager = server.get_or_create(UserContext(user_id="alice"))
            connection_id = await manager.add_connection(MemoryConnection(), user_id="alice")
            assert wake_subscribers(redis_server, "alice") == 1
            await manager.remove_connection(connection_id)
            await until(lambda: wake_subscribers(redis_server, "alice") == 0)

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == []  # unsubscribed, not dropped and reconnected


def test_each_users_stream_is_bounded_in_redis(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1, history_max_messages=5, history_max_bytes=2000) as (worker,):
            for i in range(20):
                await send(worker, "small", i)
            for _ in range(20):
                await send(worker, "big", "x" * 500)
        client = redis_server.client()
        assert client.xlen("wskit:{u:small}:log") == 5
        assert client.xlen("wskit:{u:big}:log") == 3  # about 2000 bytes of ~600-byte envelopes
        assert client.ttl("wskit:{u:small}:log") > 0 and client.ttl("wskit:{u:small}:meta") > 0

    run(scenario)


def test_bad_urls_and_an_unreachable_redis_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"^bad backplane URL 'http://h:1': .*; expected redis://HOST:PORT/DB$"):
        RedisBackplane("http://h:1")
    with pytest.raises(ValueError, match=r"^bad backplane URL 'redis://u:\*\*\*@h:x'"):
        RedisBackplane("redis://u:secret@h:x")
    with pytest.raises(TypeError, match="must be a str"):
        RedisBackplane(6379)  # type: ignore[arg-type]
    assert redact("redis://u:secret@h:1/0") == "redis://u:***@h:1/0"
    assert redact("redis://h:1/0") == "redis://h:1/0"

    async def scenario() -> None:
        from servers import free_port

        backplane = RedisBackplane(f"redis://:hunter2@127.0.0.1:{free_port()}/0", command_timeout=1)
        with pytest.raises(BackplaneUnavailable) as info:
            await backplane.start()
        message = str(info.value)
        assert message.startswith("cannot connect to the backplane: Redis at redis://:***@127.0.0.1:")
        assert "hunter2" not in message
        assert "\n" not in message and backplane.health() is not None
        await backplane.close()

    run(scenario)


def test_a_three_master_redis_cluster(tmp_path: Path) -> None:
    users = [f"user{i}" for i in range(12)]

    async def scenario(cluster: RedisClusterServers) -> None:
        async with processes(cluster.url, 3) as (a, b, worker):
            backplane = a.backplane
            assert isinstance(backplane, RedisBackplane)
            connections = {u: (await connect(a, u), await connect(b, u)) for u in users}
            nodes = {backplane._node_of(backplane._key(u, "wake")) for u in users}
            assert len(nodes) >= 2, nodes  # the users' shards really are spread over the masters
            await asyncio.gather(*(send(r, u, i) for u in users for i in range(10) for r in (a, worker)))
            await worker.broadcast({"type": "all", "payload": "from the worker"})  # it holds all 12 managers
            await a.broadcast({"type": "all", "payload": "from a"})
            await until(lambda: all(len(seqs(c)) == 22 for pair in connections.values() for c in pair))
            for pair in connections.values():
                for connection in pair:
                    assert seqs(connection) == list(range(1, 23))
                    assert [m["payload"] for m in connection.messages[-2:]] == ["from the worker", "from a"]
            for user in users[:3]:  # a disconnect travels on the user's own shard
                assert await worker.disconnect_user(user, "bye", revoke=True) == 2
                assert (await a.backplane.revocation(user)) is not None
            await until(lambda: all(c.closed_with == (4003, "bye") for u in users[:3] for c in connections[u]))
            assert all(c.closed_with is None for u in users[3:] for c in connections[u])

    with RedisClusterServers(tmp_path / "cluster") as cluster:
        run(lambda: scenario(cluster))


def test_a_broadcast_reaches_every_held_user_on_every_process(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (a, b):
            connections = {user: (await connect(a, user), await connect(b, user)) for user in ("ann", "ben", "cid")}
            reached = await a.broadcast({"type": "all", "payload": "to everyone a holds"})
            assert reached == 3  # a's own connections; b's get theirs through Redis
            await until(lambda: all(len(seqs(c)) == 1 for pair in connections.values() for c in pair))
            for user, pair in connections.items():
                assert [(m["user_id"], m["seq"], m["payload"]) for m in pair[1].messages] == [
                    (user, 1, "to everyone a holds")
                ]

    run(scenario)


def test_what_a_failed_publish_says(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1, command_timeout=1) as (worker,):
            await send(worker, "ann", "stored")
            redis_server.stop(signal.SIGKILL)
            with pytest.raises(BackplaneUnavailable) as single:
                await send(worker, "ann", "lost")
            url = re.escape(redis_server.url)
            assert re.fullmatch(rf"cannot store the envelope: Redis at {url} failed \(ConnectionError: .+\)",
                                str(single.value))  # fmt: skip
            with pytest.raises(BackplaneUnavailable) as many:
                await worker.broadcast({"type": "all", "payload": None})
            assert re.fullmatch(rf"cannot store the envelopes: Redis at {url} failed \(ConnectionError: .+\)",
                                str(many.value))  # fmt: skip
            assert (worker.health() or "").startswith(f"Redis at {redis_server.url}: ")
            backplane = worker.backplane
        assert backplane.health() == "backplane closed"

    run(scenario)


def test_health_clears_once_redis_answers_again(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1, command_timeout=1, reconnect_max=0.1) as (worker,):
            await send(worker, "ann", 1)
            redis_server.stop(signal.SIGKILL)
            with pytest.raises(BackplaneUnavailable):
                await send(worker, "ann", 2)
            await asyncio.sleep(0.3)
            assert worker.health() is not None  # still down: the probe keeps trying
            redis_server.start()
            await until(lambda: worker.health() is None)
            assert (await send(worker, "ann", 3)).seq == 1  # no persistence: a new history

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)
    assert f"Redis at {redis_server.url} answers again" in [r.getMessage() for r in caplog.records]


def test_replay_of_a_user_nothing_was_stored_for(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1) as (server,):
            backplane = server.backplane
            assert await backplane.replay("nobody", 0, None) == []
            for last_seq, epoch in ((0, "e1"), (4, None)):
                with pytest.raises(ResyncRequired) as info:
                    await backplane.replay("nobody", last_seq, epoch)
                assert info.value.as_message() == {"type": "resync_required", "epoch": None, "oldest_seq": None,
                                                   "latest_seq": 0}  # fmt: skip
                assert str(info.value).startswith(f"cannot replay after seq {last_seq}:")
            assert await backplane.undelivered("nobody") == []

    run(scenario)


def test_a_subscriber_away_longer_than_the_stream_tells_its_connections_to_resync(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        proxy = await StallingProxy(redis_server.port).start()
        async with (
            processes(proxy.url, 1, probe_interval=0.3, history_max_messages=5) as (server,),
            processes(redis_server.url, 1, history_max_messages=5) as (worker,),
        ):
            connection = await connect(server, "ann")
            await send(worker, "ann", 0)
            await until(lambda: seqs(connection) == [1])
            proxy.stall(sent=b"SSUBSCRIBE")
            for i in range(1, 20):  # seq 2..20 while the subscriber hears nothing; the stream keeps 16..20
                await send(worker, "ann", i)
            await until(lambda: seqs(connection)[-1:] == [20], timeout=5)
            notice = next(m for m in connection.messages if m["type"] == "resync_required")
            assert notice == {"type": "resync_required", "epoch": connection.messages[0]["epoch"], "oldest_seq": 16,
                              "latest_seq": 20}  # fmt: skip
            assert seqs(connection) == [1, 16, 17, 18, 19, 20]  # told, then what is still there: no gap pretended
        await proxy.close()

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)
    assert any(r.getMessage().startswith("user 'ann' lost envelopes after seq 1;") for r in caplog.records)


def test_unsubscribing_stops_a_pending_gap_fill(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        # A long grace: the fill is still waiting for the gap to close when the user leaves.
        async with processes(redis_server.url, 1, probe_interval=10, gap_grace=5.0) as (server,):
            manager = server.get_or_create(UserContext(user_id="ann"))
            connection_id = await manager.add_connection(MemoryConnection(), user_id="ann")
            backplane = server.backplane
            assert isinstance(backplane, RedisBackplane)
            await until(lambda: not backplane._fills)  # the read after the subscriber connected is over
            backplane._accept("ann", "e", 5, b"{}")  # a gap the channel has not confirmed: a slow fill is pending
            fill = backplane._fills["ann"]
            await manager.remove_connection(connection_id)
            await asyncio.wait({fill}, timeout=2)
            assert fill.cancelled() and "ann" not in backplane._fills and "ann" not in backplane._cursors

    run(scenario)


def test_a_publish_redis_does_not_answer_fails_after_the_command_timeout(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        proxy = await StallingProxy(redis_server.port).start()
        async with processes(proxy.url, 1, command_timeout=0.5) as (worker,):
            await send(worker, "ann", "stored")
            assert proxy.stall(sent=b"EVALSHA") == 1
            started = asyncio.get_running_loop().time()
            with pytest.raises(BackplaneUnavailable) as info:
                await send(worker, "ann", "unanswered")
            assert asyncio.get_running_loop().time() - started < 3
            assert str(info.value) == f"cannot store the envelope: Redis at {proxy.url} failed (TimeoutError)"
            assert worker.health() == f"Redis at {proxy.url}: TimeoutError"
        await proxy.close()

    run(scenario)


def test_a_publish_under_way_when_the_backplane_closes_is_told_so(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        proxy = await StallingProxy(redis_server.port).start()
        async with processes(proxy.url, 1, command_timeout=30) as (worker,):
            await send(worker, "ann", "stored")
            proxy.stall(sent=b"EVALSHA")
            publish = asyncio.ensure_future(send(worker, "ann", "under way"))
            await asyncio.sleep(0.2)
            assert not publish.done()
            await worker.backplane.close()
            with pytest.raises(BackplaneUnavailable) as info:
                await asyncio.wait_for(publish, 5)
            assert str(info.value) == f"cannot store the envelope: the backplane for {proxy.url} was closed"
        await proxy.close()

    run(scenario)


def test_health_clears_after_each_outage(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1, command_timeout=1, reconnect_max=0.1) as (worker,):
            for outage in (1, 2):
                redis_server.stop(signal.SIGKILL)
                with pytest.raises(BackplaneUnavailable):
                    await send(worker, "ann", outage)
                assert worker.health() is not None
                redis_server.start()
                await until(lambda: worker.health() is None)
                assert (await send(worker, "ann", outage)).seq == 1

    run(scenario)


def test_a_connection_is_owed_what_was_sent_after_its_position_even_if_another_process_delivered_it(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 3) as (one, other, worker):
            assert await other.backplane.position("ann") == Position(None, 0)
            first = await connect(one, "ann")
            await send(worker, "ann", 1)
            at_handshake = await other.backplane.position("ann")  # the other process accepts an upgrade
            epoch = redis_server.client().hget("wskit:{u:ann}:meta", "epoch").decode()
            assert at_handshake == Position(epoch, 1)
            for n in (2, 3):
                await send(worker, "ann", n)
            await until(lambda: seqs(first) == [1, 2, 3])
            await asyncio.sleep(0.7)  # the seen mark (3) is written within half a second
            assert await other.backplane.undelivered("ann") == []
            owed = await other.backplane.undelivered("ann", since=at_handshake)
            assert [seq for seq, _ in owed] == [2, 3]
            # From before anything was stored, or of an epoch that is gone: all that is kept.
            for since in (Position(None, 0), Position("gone", 3)):
                assert [seq for seq, _ in await other.backplane.undelivered("ann", since=since)] == [1, 2, 3]
            # A seen mark lower than the position: everything after the seen mark.
            manager = one.get_or_create(UserContext(user_id="ann"))
            await send(worker, "ann", 4)
            await until(lambda: seqs(first)[-1:] == [4])
            await manager.remove_connection(next(iter(manager.connections)))
            await send(worker, "ann", "taken by nobody")
            await asyncio.sleep(0.7)  # the seen mark stays at 4
            owed = await other.backplane.undelivered("ann", since=Position(epoch, 5))
            assert [seq for seq, _ in owed] == [5]

    run(scenario)


def test_a_held_connection_across_a_lost_stream_gets_the_old_then_the_notice_then_the_new(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (one, worker):
            manager = one.get_or_create(UserContext(user_id="ann"))
            live = await connect(one, "ann")
            await send(worker, "ann", "before")
            since = await one.backplane.position("ann")  # what a handshake reads
            held = MemoryConnection("held")
            connection_id = await manager.add_connection(held, user_id="ann", hold=True)
            for n in (2, 3):
                await send(worker, "ann", n)
            await until(lambda: seqs(live) == [1, 2, 3])
            redis_server.client().delete("wskit:{u:ann}:meta", "wskit:{u:ann}:log")  # Redis lost the state
            await send(worker, "ann", "new epoch")
            await until(lambda: any(m.get("type") == "resync_required" for m in live.messages))
            await asyncio.sleep(0.7)  # the new epoch's seen mark (1) is written
            await manager.go_live(connection_id, since=since)
            for n in range(3):
                await send(worker, "ann", n)
            await until(lambda: seqs(held)[-1:] == [4])
            new = live.messages[-1]["epoch"]
            got = [("notice" if m["type"] == "resync_required" else m["seq"], m["epoch"] == new) for m in held.messages]
            assert got == [(2, False), (3, False), ("notice", True), (1, True), (2, True), (3, True), (4, True)]

    run(scenario)


class SlowSubscribe(RedisBackplane):
    """Subscribing takes longer than the seen mark takes to be written (a loaded process)."""

    async def subscribe(self, user_id: str) -> None:
        await asyncio.sleep(0.8)
        await super().subscribe(user_id)


def test_what_is_sent_while_a_connection_joins_reaches_it_even_if_another_process_took_it(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (one, worker):
            joining = ManagerRegistry(backplane=SlowSubscribe(redis_server.url))
            try:
                first = await connect(one, "ann")
                await send(worker, "ann", 0)
                second = MemoryConnection("second")
                manager = joining.get_or_create(UserContext(user_id="ann"))
                join = asyncio.ensure_future(manager.add_connection(second, user_id="ann"))
                await asyncio.sleep(0.1)  # it is joining
                await send(worker, "ann", 1)  # the other process's connection takes it; marked seen
                await join
                await send(worker, "ann", 2)
                await until(lambda: seqs(second) == [2, 3] and seqs(first) == [1, 2, 3])
            finally:
                await joining.backplane.close()

    run(scenario)


def test_every_delivery_is_marked_seen_in_redis_not_only_the_first(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (server, worker):
            connection = await connect(server, "ann")
            for n in (1, 2, 3):
                await send(worker, "ann", n)
                await until(lambda n=n: seqs(connection)[-1:] == [n])  # type: ignore[misc]
                await asyncio.sleep(0.7)  # the seen mark is written within half a second
                assert await worker.backplane.undelivered("ann") == [], n

    run(scenario)


def test_a_user_whose_stored_state_is_lost_after_its_connection_joined_is_told_to_resync(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    epochs: list[str] = []

    async def scenario() -> None:
        async with processes(redis_server.url, 2) as (server, worker):
            for n in (1, 2, 3):
                await send(worker, "ann", n)
            connection = await connect(server, "ann")  # gets 1..3 (no connection had them) and stands at 3
            await until(lambda: seqs(connection) == [1, 2, 3])
            epochs.append(redis_server.client().hget("wskit:{u:ann}:meta", "epoch").decode())
            redis_server.client().flushall()  # Redis lost the user's state
            assert (await send(worker, "ann", "after the loss")).seq == 1
            epochs.append(redis_server.client().hget("wskit:{u:ann}:meta", "epoch").decode())
            assert epochs[0] != epochs[1]
            await until(lambda: seqs(connection) == [1, 2, 3, 1])
            notice = {"type": "resync_required", "epoch": epochs[1], "oldest_seq": None, "latest_seq": 1}
            assert connection.messages[3] == notice
            assert [(m["seq"], m["epoch"], m["payload"]) for m in connection.messages[4:]] == [
                (1, epochs[1], "after the loss")
            ]

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records if "lost envelopes" in r.getMessage()] == [
        "user 'ann' lost envelopes after seq 3; its connections here were told to resync: {'type': 'resync_required',"
        f" 'epoch': '{epochs[1]}', 'oldest_seq': None, 'latest_seq': 1}}"
    ]


def test_a_wake_up_lost_on_the_way_is_read_back_from_the_stream_at_once(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        # A long probe interval: only the channel going past the missing seq can make the fill quick.
        async with processes(redis_server.url, 2, probe_interval=20, gap_grace=0.05) as (server, worker):
            connection = await connect(server, "ann")
            await send(worker, "ann", 1)
            await until(lambda: seqs(connection) == [1])
            backplane = worker.backplane
            assert isinstance(backplane, RedisBackplane)
            draft = worker.get_or_create(UserContext(user_id="ann"))._draft("n", b"2", None, None)
            keys_and_args = backplane._publish_keys_and_args("ann", draft)
            keys_and_args[2] = "wskit:{u:ann}:nowhere"  # stored, but its wake-up goes to no one
            await backplane._publish(keys=keys_and_args[:3], args=keys_and_args[3:])
            await send(worker, "ann", 3)
            await until(lambda: seqs(connection) == [1, 2, 3], timeout=2)
            assert [m["payload"] for m in connection.messages] == [1, 2, 3]

    run(scenario)


def test_a_redis_that_wants_a_user_and_password_gets_them_on_every_connection(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "acl", user=("wskit", "s3cret")) as server:

        async def scenario() -> None:
            async with processes(server.url, 2) as (a, worker):
                connection = await connect(a, "ann")  # the pub/sub connection logs in too
                await send(worker, "ann", "hello")
                await until(lambda: seqs(connection) == [1])
                assert a.health() is None

        run(scenario)


def test_a_gap_that_cannot_be_read_back_says_so(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1, command_timeout=1, gap_grace=0.05) as (server,):
            await connect(server, "ann")
            backplane = server.backplane
            assert isinstance(backplane, RedisBackplane)
            await until(lambda: not backplane._fills)
            redis_server.stop(signal.SIGKILL)
            backplane._accept("ann", "e", 3, b"{}", ordered=True)  # the channel went past 1 and 2
            await until(lambda: not backplane._fills)

    with caplog.at_level(logging.WARNING, logger="wskit.backplane.redis"):
        run(scenario)
    messages = [r.getMessage() for r in caplog.records if "to fill a gap" in r.getMessage()]
    url = re.escape(redis_server.url)
    assert len(messages) == 1 and re.fullmatch(
        rf"could not read the stream of user 'ann' to fill a gap: cannot read the history: Redis at {url} failed"
        r" \(ConnectionError: .+\)",
        messages[0],
    ), messages


def test_a_position_that_cannot_be_read_refuses_the_connection_and_unsubscribes(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        proxy = await StallingProxy(redis_server.port).start()
        async with processes(proxy.url, 1, command_timeout=0.5) as (server,):
            await send(server, "ann", "stored")  # the command connection is open now; the next read uses it
            assert proxy.stall(sent=b"EVALSHA") == 1
            with pytest.raises(BackplaneUnavailable) as info:
                await connect(server, "ann")
            assert str(info.value) == (
                f"cannot read the user's position: Redis at {proxy.url} failed"
                f" (TimeoutError: Timeout reading from 127.0.0.1:{proxy.port})"
            )
            await until(lambda: wake_subscribers(redis_server, "ann") == 0)
            assert server.stats()["connections"] == 0
        await proxy.close()

    run(scenario)


def test_a_disconnect_closes_the_user_on_every_process_holding_it_and_keeps_the_later_revocation(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 3) as (a, b, worker):
            alices = [await connect(a, "alice"), await connect(b, "alice")]
            bob = await connect(b, "bob")
            await send(worker, "alice", "before")  # the stream's order: delivered, then closed
            assert await worker.disconnect_user("alice", "account blocked ✋") == 2
            await until(lambda: all(c.closed_with is not None for c in alices))
            for connection in alices:
                assert connection.closed_with == (4003, "account blocked ✋")
                assert seqs(connection) == [1]
            assert bob.closed_with is None
            assert await worker.backplane.revocation("alice") is None  # no revoke: nothing kept
            assert await worker.disconnect_user("alice", "nobody left") == 0
            backplane = worker.backplane
            await backplane.disconnect("alice", "r", revoke=Revocation(1000.5, "first ✋"), ttl=90.2)
            assert await a.backplane.revocation("alice") == Revocation(1000.5, "first ✋")
            assert redis_server.client().ttl("wskit:{u:alice}:revoked") == 91  # whole seconds, never shorter
            await backplane.disconnect("alice", "r", revoke=Revocation(999.0, "older"), ttl=30)
            assert await b.backplane.revocation("alice") == Revocation(1000.5, "first ✋")  # the later one stays
            assert redis_server.client().ttl("wskit:{u:alice}:revoked") > 30
            await backplane.disconnect("alice", "r", revoke=Revocation(2000.25, "later"), ttl=30)
            assert await a.backplane.revocation("alice") == Revocation(2000.25, "later")
            assert redis_server.client().ttl("wskit:{u:alice}:revoked") <= 30
            assert await a.backplane.revocation("bob") is None

    run(scenario)


def test_a_disconnect_or_a_revocation_check_without_redis_raises_with_the_reason(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with processes(redis_server.url, 1) as (worker,):
            await worker.backplane.start()
            redis_server.stop()
            with pytest.raises(
                BackplaneUnavailable, match=r"^cannot disconnect the user: Redis at redis://127\.0\.0\.1"
            ):
                await worker.disconnect_user("alice", "bye", revoke=True)
            with pytest.raises(BackplaneUnavailable, match=r"^cannot check whether the token was revoked: Redis at "):
                await worker.backplane.revocation("alice")
            assert worker.health() is not None  # said there too, until Redis answers again
            redis_server.start()
            await until(lambda: worker.health() is None, timeout=10)
            assert await worker.disconnect_user("alice", "bye", revoke=True) == 0
            assert (await worker.backplane.revocation("alice")) is not None

    run(scenario)
