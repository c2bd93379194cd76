"""Delivery guarantees of the manager, driven directly: resume, resync, stored sends, holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from conftest import MemoryConnection, ctx

from wskit import ManagerRegistry
from wskit.backplane import InProcessBackplane, Position
from wskit.core.history import Entry
from wskit.unified_manager import DeliveryReport


def payloads(connection: MemoryConnection) -> list[object]:
    return [m.get("payload") for m in connection.messages]


def seqs(connection: MemoryConnection) -> list[int]:
    return [m["seq"] for m in connection.messages if "seq" in m]


async def send_many(manager: object, values: range) -> None:
    for value in values:
        await manager.send({"type": "n", "payload": value})  # type: ignore[attr-defined]


def test_send_reports_delivered_and_stored() -> None:
    registry = ManagerRegistry()
    manager = registry.get_or_create(ctx("alice"))

    async def scenario() -> tuple[DeliveryReport, DeliveryReport]:
        alone = await manager.send({"type": "n", "payload": 0})
        await manager.add_connection(MemoryConnection(), user_id="alice")
        return alone, await manager.send({"type": "n", "payload": 1})

    alone, connected = asyncio.run(scenario())
    assert (alone, alone.stored, alone.seq) == (0, True, 1)
    assert (connected.delivered, connected.seq) == (1, 2)
    assert repr(alone) == "DeliveryReport(delivered=0, seq=1, stored=True)"


def test_envelopes_sent_while_nobody_was_connected_arrive_on_connect() -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))
    first, later = MemoryConnection("first"), MemoryConnection("later")

    async def scenario() -> None:
        await send_many(manager, range(3))  # nobody connected: stored
        await manager.add_connection(first, user_id="alice")
        await manager.send({"type": "n", "payload": 3})
        await manager.flush()
        await manager.add_connection(later, user_id="alice")  # nothing is pending any more
        await manager.send({"type": "n", "payload": 4})
        await manager.flush()

    asyncio.run(scenario())
    assert seqs(first) == [1, 2, 3, 4, 5] and payloads(first) == [0, 1, 2, 3, 4]
    assert seqs(later) == [5]


def test_reconnect_with_last_seq_replays_exactly_the_missed_envelopes_then_live() -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))
    before, after = MemoryConnection("before"), MemoryConnection("after")

    async def scenario() -> None:
        connection_id = await manager.add_connection(before, user_id="alice")
        await send_many(manager, range(5))
        await manager.flush()
        await manager.remove_connection(connection_id)  # the client drops after seq 5...
        await send_many(manager, range(5, 9))  # ...misses 6..9...
        await manager.add_connection(after, user_id="alice", last_seq=3)  # ...and says it saw 3
        await send_many(manager, range(9, 11))
        await manager.flush()

    asyncio.run(scenario())
    assert seqs(before) == [1, 2, 3, 4, 5]
    assert seqs(after) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert payloads(after) == list(range(3, 11))


def test_a_gap_older_than_the_history_gets_resync_required_not_a_partial_replay() -> None:
    manager = ManagerRegistry(history_max_messages=3).get_or_create(ctx("alice"))
    connection = MemoryConnection()

    async def scenario() -> None:
        await send_many(manager, range(10))
        await manager.add_connection(connection, user_id="alice", last_seq=2)
        await manager.send({"type": "n", "payload": "live"})
        await manager.flush()

    asyncio.run(scenario())
    resync, live = connection.messages
    assert resync == {"type": "resync_required", "epoch": live["epoch"], "oldest_seq": 8, "latest_seq": 10}
    assert (live["seq"], live["payload"]) == (11, "live")


def test_a_held_connection_resumes_in_order_even_if_live_traffic_came_first() -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))
    old, new = MemoryConnection("old"), MemoryConnection("new")

    async def scenario() -> None:
        old_id = await manager.add_connection(old, user_id="alice")
        await send_many(manager, range(4))
        await manager.flush()
        await manager.remove_connection(old_id)
        new_id = await manager.add_connection(new, user_id="alice", hold=True)
        await send_many(manager, range(4, 6))  # live traffic before the resume frame arrives
        assert new.frames == []  # held: nothing written yet
        await manager.resume(new_id, 2)
        await manager.send({"type": "n", "payload": 6})
        await manager.flush()
        with pytest.raises(ValueError, match="already live"):
            await manager.resume(new_id, 0)

    asyncio.run(scenario())
    assert seqs(new) == [3, 4, 5, 6, 7]


def test_a_held_connection_without_resume_gets_live_traffic_on_go_live() -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))
    watcher, held = MemoryConnection("watcher"), MemoryConnection("held")

    async def scenario() -> None:
        await manager.add_connection(watcher, user_id="alice")
        held_id = await manager.add_connection(held, user_id="alice", hold=True)
        await send_many(manager, range(2))
        await manager.go_live(held_id)
        await manager.send({"type": "n", "payload": 2})
        await manager.flush()

    asyncio.run(scenario())
    assert seqs(held) == seqs(watcher) == [1, 2, 3]


def test_go_live_refuses_a_since_that_is_not_a_position_and_ignores_unknown_connections() -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))

    async def scenario() -> None:
        with pytest.raises(TypeError, match=r"^since must be a wskit\.backplane\.Position or None; got tuple$"):
            await manager.go_live("conn-1", since=(None, 0))  # type: ignore[arg-type]
        await manager.go_live("conn-404", since=Position(None, 0))  # gone already: nothing to release

    asyncio.run(scenario())


@pytest.mark.parametrize("last_seq", [-1, 1.5, "3", True])
def test_bad_last_seq_is_refused(last_seq: object) -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))
    with pytest.raises(ValueError, match="last_seq must be a non-negative int"):
        asyncio.run(manager.add_connection(MemoryConnection(), user_id="alice", last_seq=last_seq))  # type: ignore[arg-type]
    assert not manager.connections


def test_slow_consumer_keeps_its_envelopes_in_history_for_a_resume() -> None:
    registry = ManagerRegistry(max_buffered_messages=3)
    manager = registry.get_or_create(ctx("alice"))
    stalled, fast, resumed = MemoryConnection("stalled"), MemoryConnection("fast"), MemoryConnection("resumed")

    async def scenario() -> None:
        stalled.stall()
        await manager.add_connection(stalled, user_id="alice")
        await manager.add_connection(fast, user_id="alice")
        for value in range(8):
            await manager.send({"type": "n", "payload": value})
            await asyncio.sleep(0)
        await manager.flush()
        await asyncio.sleep(0.01)
        await manager.add_connection(resumed, user_id="alice", last_seq=stalled.last_written_seq())
        await manager.flush()

    asyncio.run(scenario())
    assert stalled.closed_with is not None and stalled.closed_with[0] == 1013
    assert seqs(fast) == list(range(1, 9))
    assert seqs(resumed) == list(range(1, 9))  # it wrote nothing, so it resumes from 0


def test_control_messages_do_not_disturb_the_seq_order() -> None:
    manager = ManagerRegistry().get_or_create(ctx("alice"))
    connection = MemoryConnection()

    async def scenario() -> None:
        connection_id = await manager.add_connection(connection, user_id="alice")
        await manager.send({"type": "n"})
        await manager.reply(connection_id, {"type": "pong"})
        await manager.send({"type": "n"})
        await manager.flush()

    asyncio.run(scenario())
    assert [json.loads(f).get("seq", "ctl") for f in connection.frames] == [1, "ctl", 2]


class DeferredBackplane(InProcessBackplane):
    """An in-process backplane whose reads and deliveries take a hop, as a networked one's would."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: list[tuple[str, Sequence[Entry]]] = []

    async def replay(self, user_id: str, last_seq: int, epoch: str | None) -> list[Entry]:
        entries = await super().replay(user_id, last_seq, epoch)  # read now, answered later
        await asyncio.sleep(0.01)
        return entries

    def hop(self) -> None:
        """Deliver what was published meanwhile."""
        registry = self._sink
        assert registry is not None
        for user_id, entries in self.in_flight:
            registry.deliver(user_id, entries)
        self.in_flight.clear()


class DeferredSink:
    def __init__(self, backplane: DeferredBackplane, registry: ManagerRegistry) -> None:
        self.backplane, self.registry = backplane, registry

    def deliver(self, user_id: str, entries: Sequence[Entry]) -> int:
        self.backplane.in_flight.append((user_id, entries))
        return 0

    def restart(self, user_id: str, notice: dict[str, object]) -> None:
        self.registry.restart(user_id, notice)


def test_a_replay_overlapping_deliveries_in_flight_has_no_gap_and_no_duplicate() -> None:
    backplane = DeferredBackplane()
    registry = ManagerRegistry(backplane=backplane)
    manager = registry.get_or_create(ctx("alice"))
    resumed = MemoryConnection("resumed")

    async def scenario() -> None:
        await manager.send({"type": "n", "payload": "before"})
        backplane.hop()
        backplane._sink = DeferredSink(backplane, registry)  # deliveries now arrive late
        await manager.send({"type": "n", "payload": "in flight, in the replay too"})
        connecting = asyncio.create_task(manager.add_connection(resumed, user_id="alice", last_seq=0))
        await asyncio.sleep(0.001)  # the replay was read; its answer is on the way
        await manager.send({"type": "n", "payload": "after the read, before the answer"})
        backplane._sink = registry
        for user_id, entries in backplane.in_flight:  # both late deliveries arrive while held
            registry.deliver(user_id, entries)
        backplane.in_flight.clear()
        await connecting
        await manager.send({"type": "n", "payload": "live"})
        await manager.flush()

    asyncio.run(scenario())
    assert seqs(resumed) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("limit", "oldest"),
    [({"history_max_bytes": 600}, 7), ({"history_max_age": 10}, 4)],  # ~126-byte envelopes: 4 fit in 600
)
def test_the_registry_hands_its_history_limits_and_clock_to_its_own_backplane(
    limit: dict[str, float], oldest: int
) -> None:
    now = [0.0]
    manager = ManagerRegistry(clock=lambda: now[0], **limit).get_or_create(ctx("alice"))  # type: ignore[arg-type]
    connection = MemoryConnection()

    async def scenario() -> None:
        await send_many(manager, range(3))
        now[0] = 11.0  # the first three are now older than 10 s
        await send_many(manager, range(3, 10))
        await manager.add_connection(connection, user_id="alice", last_seq=1)
        await manager.flush()

    asyncio.run(scenario())
    resync = connection.messages[0]
    assert (resync["type"], resync["oldest_seq"], resync["latest_seq"]) == ("resync_required", oldest, 10)
