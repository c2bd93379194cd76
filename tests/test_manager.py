"""The manager's rules, driven directly (no sockets): factory, isolation, envelopes, delivery."""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import subprocess
import sys
import time
import warnings

import pytest
from conftest import MemoryConnection, ctx

import wskit
from wskit import AGENT_EVENTS, ManagerRegistry, UserContext, get_websocket_manager
from wskit.backplane import InProcessBackplane
from wskit.core.envelope import ENVELOPE_KEYS
from wskit.core.errors import FactoryOnlyError, IsolationError
from wskit.protocols import WebSocketProtocol
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation
from wskit.websocket_manager import WebSocketManager

# --- one implementation, several paths -------------------------------------------------------


def test_every_public_path_is_the_one_implementation() -> None:
    factory_module = importlib.import_module("wskit.websocket_manager_factory")
    assert wskit.WebSocketManager is WebSocketManager is _UnifiedWebSocketManagerImplementation
    assert wskit.get_websocket_manager is get_websocket_manager
    assert factory_module.create_websocket_manager is not get_websocket_manager


def test_factory_returns_the_implementation_synchronously(registry: ManagerRegistry) -> None:
    manager = get_websocket_manager(ctx("alice"), registry=registry)
    assert type(manager) is _UnifiedWebSocketManagerImplementation
    assert not asyncio.iscoroutine(manager)
    assert manager.user_context == ctx("alice")


def test_direct_instantiation_is_refused() -> None:
    for args, kwargs in [((), {}), ((ctx("alice"),), {}), ((), {"user_context": ctx("alice")})]:
        with pytest.raises(FactoryOnlyError, match=r"call get_websocket_manager\(user_context\)"):
            WebSocketManager(*args, **kwargs)
    assert issubclass(FactoryOnlyError, TypeError)


def test_the_implementation_cannot_be_subclassed() -> None:
    with pytest.raises(TypeError, match="single manager implementation"):
        type("Shadow", (_UnifiedWebSocketManagerImplementation,), {})


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {"user_id": "u1"}),
        (("u1",), {}),
        ((None,), {}),
        ((), {}),
        (({"user_id": "u1"},), {}),
        ((ctx("u1"),), {"user_id": "u1"}),
    ],
)
def test_wrong_factory_arguments_say_what_to_pass(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError, match=r"pass user_context=UserContext\(user_id=\.\.\.\)"):
        get_websocket_manager(*args, **kwargs)  # type: ignore[arg-type]


def test_deprecated_path_warns_on_call_only_and_returns_the_same_manager(registry: ManagerRegistry) -> None:
    code = (
        "import warnings; warnings.simplefilter('error');"
        "import wskit.websocket_manager_factory; print('imported quietly')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported quietly"

    from wskit.websocket_manager_factory import create_websocket_manager

    with pytest.warns(DeprecationWarning, match="get_websocket_manager") as record:
        old = create_websocket_manager(ctx("alice"), registry=registry)
    assert record[0].filename == __file__  # the warning points at the caller
    assert old is get_websocket_manager(ctx("alice"), registry=registry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="pass user_context="):
            create_websocket_manager(user_id="alice")


# --- one manager per user, nothing shared ----------------------------------------------------


def test_same_user_same_manager_and_different_users_share_nothing(registry: ManagerRegistry) -> None:
    a1 = get_websocket_manager(ctx("alice"), registry=registry)
    a2 = get_websocket_manager(ctx("alice", thread_id="other"), registry=registry)
    b = get_websocket_manager(ctx("bob"), registry=registry)
    assert a1 is a2
    assert a1 is not b
    for slot in ("_connections", "_outboxes", "_view"):  # (the set of closing tasks is made when first needed)
        assert getattr(a1, slot) is not getattr(b, slot)
    assert registry.users() == ["alice", "bob"]


def test_default_registry_serves_calls_without_a_registry() -> None:
    manager = get_websocket_manager(UserContext(user_id="default-user"))
    assert manager is get_websocket_manager(user_context=UserContext(user_id="default-user"))
    assert manager is wskit.default_registry().get("default-user")


def test_connection_view_is_read_only(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice"))

    async def scenario() -> None:
        connection_id = await manager.add_connection(MemoryConnection(), user_id="alice")
        with pytest.raises(TypeError):
            manager.connections[connection_id] = MemoryConnection()  # type: ignore[index]
        assert list(manager.connections) == [connection_id]

    asyncio.run(scenario())


# --- isolation ---------------------------------------------------------------------------------


def test_connection_of_another_user_is_refused(registry: ManagerRegistry) -> None:
    alice = registry.get_or_create(ctx("alice"))
    bob = registry.get_or_create(ctx("bob"))

    async def scenario() -> None:
        with pytest.raises(IsolationError, match="authenticated as 'bob'"):
            await alice.add_connection(MemoryConnection(), user_id="bob")
        shared = MemoryConnection()
        await alice.add_connection(shared, user_id="alice")
        with pytest.raises(IsolationError, match="already belongs to user 'alice'"):
            await bob.add_connection(shared, user_id="bob")
        assert len(alice.connections) == 1 and len(bob.connections) == 0

    asyncio.run(scenario())


def test_non_connections_are_refused(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice"))
    with pytest.raises(TypeError, match="WebSocketProtocol"):
        asyncio.run(manager.add_connection(object(), user_id="alice"))  # type: ignore[arg-type]


def test_sends_reach_only_the_senders_connections(registry: ManagerRegistry) -> None:
    users = ["alice", "bob", "carol"]
    connections = {user: [MemoryConnection(f"{user}{i}") for i in range(3)] for user in users}

    async def scenario() -> None:
        for user in users:
            manager = registry.get_or_create(ctx(user))
            for connection in connections[user]:
                await manager.add_connection(connection, user_id=user)
        for user in users:
            manager = registry.get_or_create(ctx(user))
            for i in range(4):
                assert await manager.send({"type": "notice", "payload": {"n": i, "for": user}}) == 3
            await manager.flush()

    asyncio.run(scenario())
    for user in users:
        for connection in connections[user]:
            received = connection.messages
            assert [m["user_id"] for m in received] == [user] * 4
            assert [m["payload"]["for"] for m in received] == [user] * 4
            assert [m["seq"] for m in received] == [1, 2, 3, 4]


# --- envelopes and events ------------------------------------------------------------------------


def test_envelope_shape_and_seq(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice", thread_id="t0"))
    connection = MemoryConnection()

    async def scenario() -> None:
        await manager.add_connection(connection, user_id="alice")
        await manager.send({"type": "notice", "payload": "hi"})
        await manager.send({"type": "notice", "payload": [1, 2], "thread_id": "t9", "run_id": "r1"})
        await manager.flush()

    asyncio.run(scenario())
    first, second = connection.messages
    assert tuple(first) == ENVELOPE_KEYS
    assert first["seq"] == 1 and second["seq"] == 2
    assert (first["thread_id"], first["run_id"]) == ("t0", None)  # defaults come from the context
    assert (second["thread_id"], second["run_id"]) == ("t9", "r1")
    assert first["user_id"] == "alice" and second["payload"] == [1, 2]
    assert isinstance(first["ts"], float) and math.isfinite(first["ts"])
    assert all(json.loads(frame) for frame in connection.frames)  # each frame is one JSON object


def test_emit_accepts_exactly_the_five_agent_events(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice"))
    connection = MemoryConnection()

    async def scenario() -> None:
        await manager.add_connection(connection, user_id="alice")
        for event in AGENT_EVENTS:
            assert await manager.emit(event, {"step": event}, thread_id="t1", run_id="r1") == 1
        for bad in ["agent_failed", "AGENT_STARTED", "", "tool_executed"]:
            with pytest.raises(ValueError, match="event_type must be one of agent_started"):
                await manager.emit(bad, {})
        await manager.flush()

    asyncio.run(scenario())
    assert [m["type"] for m in connection.messages] == list(AGENT_EVENTS)
    assert [m["seq"] for m in connection.messages] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("payload", [object(), {1, 2}, float("nan"), b"bytes", {"deep": float("inf")}])
def test_unencodable_payload_raises_before_anything_is_sent(registry: ManagerRegistry, payload: object) -> None:
    manager = registry.get_or_create(ctx("alice"))
    connection = MemoryConnection()

    async def scenario() -> None:
        await manager.add_connection(connection, user_id="alice")
        with pytest.raises(TypeError, match="payload is not JSON-encodable"):
            await manager.send({"type": "notice", "payload": payload})
        with pytest.raises(TypeError, match="payload is not JSON-encodable"):
            await manager.emit("agent_started", payload)
        await manager.send({"type": "notice", "payload": "after"})
        await manager.flush()

    asyncio.run(scenario())
    assert [(m["seq"], m["payload"]) for m in connection.messages] == [(1, "after")]  # no seq was spent


@pytest.mark.parametrize(
    ("message", "error", "text"),
    [
        ("notice", TypeError, "message must be a mapping"),
        ({"payload": 1}, ValueError, r"message\['type'\]"),
        ({"type": ""}, ValueError, r"message\['type'\]"),
        ({"type": "a b"}, ValueError, r"message\['type'\]"),
        ({"type": "x", "seq": 99}, ValueError, "unexpected keys \\['seq'\\]"),
        ({"type": "x", "user_id": "bob"}, ValueError, "put custom fields under 'payload'"),
        ({"type": "x", "thread_id": "bad id"}, ValueError, "thread_id must be"),
    ],
)
def test_bad_messages_are_refused_clearly(
    registry: ManagerRegistry, message: object, error: type[Exception], text: str
) -> None:
    manager = registry.get_or_create(ctx("alice"))
    with pytest.raises(error, match=text):
        asyncio.run(manager.send(message))  # type: ignore[arg-type]
    assert manager.stats()["messages_sent"] == 0


# --- delivery: concurrent, failure-tolerant --------------------------------------------------------


def test_failing_connection_is_removed_and_counted_without_hurting_others(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice"))
    good = [MemoryConnection("good1"), MemoryConnection("good2")]
    bad = MemoryConnection("bad", fail=True)

    async def scenario() -> None:
        for connection in [good[0], bad, good[1]]:
            await manager.add_connection(connection, user_id="alice")
        await manager.send({"type": "notice", "payload": 1})
        await manager.flush()
        assert len(manager.connections) == 2
        assert await manager.send({"type": "notice", "payload": 2}) == 2
        await manager.flush()

    asyncio.run(scenario())
    for connection in good:
        assert [m["payload"] for m in connection.messages] == [1, 2]
    stats = manager.stats()
    assert stats["failed_deliveries"] == 1 and stats["connections"] == 2
    assert registry.stats()["connections"] == 2


def test_stalled_connection_never_delays_the_others(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice"))
    stalled, fast = MemoryConnection("stalled"), MemoryConnection("fast")

    async def scenario() -> None:
        stalled.stall()
        await manager.add_connection(stalled, user_id="alice")
        fast_id = await manager.add_connection(fast, user_id="alice")
        async with asyncio.timeout(2):
            for i in range(50):
                assert await manager.send({"type": "notice", "payload": i}) == 2
            await manager._outboxes[fast_id].flush()
        assert len(fast.frames) == 50
        assert stalled.frames == []
        stalled.resume()
        await manager.flush()

    asyncio.run(scenario())
    assert [m["payload"] for m in fast.messages] == list(range(50))
    assert [m["payload"] for m in stalled.messages] == list(range(50))


def test_slow_consumer_overflow_closes_only_that_connection() -> None:
    registry = ManagerRegistry(max_buffered_messages=5)
    manager = registry.get_or_create(ctx("alice"))
    stalled, fast = MemoryConnection("stalled"), MemoryConnection("fast")

    async def scenario() -> None:
        stalled.stall()
        await manager.add_connection(stalled, user_id="alice")
        await manager.add_connection(fast, user_id="alice")
        counts = []
        for i in range(10):
            counts.append(await manager.send({"type": "notice", "payload": i}))
            await asyncio.sleep(0)  # a healthy peer drains between messages; the stalled one never does
        await manager.flush()
        await asyncio.sleep(0.01)  # the close runs beside the sender
        assert counts[:5] == [2] * 5 and counts[6:] == [1] * 4

    asyncio.run(scenario())
    assert [m["payload"] for m in fast.messages] == list(range(10))
    assert stalled.closed_with is not None and stalled.closed_with[0] == 1013
    assert "slow consumer" in stalled.closed_with[1]
    assert len(manager.connections) == 1 and manager.stats()["failed_deliveries"] == 1


def test_remove_connection(registry: ManagerRegistry) -> None:
    manager = registry.get_or_create(ctx("alice"))
    connection = MemoryConnection()

    async def scenario() -> None:
        connection_id = await manager.add_connection(connection, user_id="alice")
        assert await manager.remove_connection(connection_id) is True
        assert await manager.remove_connection(connection_id) is False
        assert await manager.send({"type": "notice"}) == 0
        with pytest.raises(TypeError, match="connection_id must be the str"):
            await manager.remove_connection(1)  # type: ignore[arg-type]

    asyncio.run(scenario())
    assert connection.frames == []


def test_connection_protocol_is_satisfied_by_memory_and_real_connections() -> None:
    from websockets.asyncio.server import ServerConnection

    assert isinstance(MemoryConnection(), WebSocketProtocol)
    assert issubclass(ServerConnection, WebSocketProtocol)
    assert not isinstance(object(), WebSocketProtocol)


# --- registry: broadcast, idle release, bound ------------------------------------------------------


def test_broadcast_is_explicit_and_reaches_every_user(registry: ManagerRegistry) -> None:
    connections = {user: MemoryConnection(user) for user in ["alice", "bob"]}

    async def scenario() -> None:
        for user, connection in connections.items():
            await registry.get_or_create(ctx(user)).add_connection(connection, user_id=user)
        await registry.get_or_create(ctx("alice")).send({"type": "private"})
        assert await registry.broadcast({"type": "maintenance", "payload": "at noon"}) == 2
        for user in connections:
            await registry.get_or_create(ctx(user)).flush()

    asyncio.run(scenario())
    assert [(m["type"], m["user_id"]) for m in connections["alice"].messages] == [
        ("private", "alice"),
        ("maintenance", "alice"),
    ]
    assert [(m["type"], m["user_id"], m["seq"]) for m in connections["bob"].messages] == [("maintenance", "bob", 1)]


def test_broadcast_fills_each_users_own_ids_unless_the_message_names_them(registry: ManagerRegistry) -> None:
    ann, bob, cid = MemoryConnection("ann"), MemoryConnection("bob"), MemoryConnection("cid")

    async def scenario() -> tuple[int, int]:
        await registry.get_or_create(ctx("ann", thread_id="t-ann", run_id="r-ann")).add_connection(ann, user_id="ann")
        await registry.get_or_create(ctx("bob")).add_connection(bob, user_id="bob")
        registry.get_or_create(ctx("cid"))  # held, with no connection: gets a seq, reaches no socket
        before = registry.stats()["messages_sent"]
        reached = await registry.broadcast({"type": "notice", "payload": {"a": [1, "x"]}, "thread_id": "t9"})
        assert await registry.broadcast({"type": "later", "run_id": "r9"}) == 2
        for manager in (registry.get_or_create(ctx("ann")), registry.get_or_create(ctx("bob"))):
            await manager.flush()
        sent = registry.stats()["messages_sent"]
        assert before is not None and sent is not None
        late = registry.get_or_create(ctx("cid"))
        await late.add_connection(cid, user_id="cid", last_seq=0)  # what it was owed is replayed
        await late.flush()
        return reached, sent - before

    start = time.time()
    reached, counted = asyncio.run(scenario())
    assert (reached, counted) == (2, 6)
    assert [(m["type"], m["thread_id"], m["run_id"], m["payload"]) for m in ann.messages] == [
        ("notice", "t9", "r-ann", {"a": [1, "x"]}),
        ("later", "t-ann", "r9", None),
    ]
    assert [(m["type"], m["thread_id"], m["run_id"], m["seq"]) for m in bob.messages] == [
        ("notice", "t9", None, 1),
        ("later", None, "r9", 2),
    ]
    assert all(start - 1 <= m["ts"] <= time.time() + 1 for m in ann.messages + bob.messages)
    assert [(m["type"], m["thread_id"], m["seq"]) for m in cid.messages] == [("notice", "t9", 1), ("later", None, 2)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_idle_managers_are_released_and_busy_ones_kept() -> None:
    clock = FakeClock()
    registry = ManagerRegistry(idle_timeout=60, clock=clock)
    busy = registry.get_or_create(ctx("busy"))
    registry.get_or_create(ctx("idle"))
    asyncio.run(busy.add_connection(MemoryConnection(), user_id="busy"))
    clock.now += 59
    assert registry.release_idle() == 0
    clock.now += 2
    assert registry.release_idle() == 1
    assert registry.users() == ["busy"]
    assert "idle" not in registry


def test_released_manager_still_referenced_stays_the_users_manager() -> None:
    clock = FakeClock()
    registry = ManagerRegistry(idle_timeout=1, clock=clock)
    held = registry.get_or_create(ctx("alice"))
    clock.now += 5
    registry.release_idle()
    assert "alice" not in registry
    assert registry.get_or_create(ctx("alice")) is held  # never two managers for one user
    assert "alice" in registry


def test_manager_bound_evicts_the_longest_idle_then_refuses() -> None:
    clock = FakeClock()
    registry = ManagerRegistry(max_managers=2, clock=clock)
    registry.get_or_create(ctx("first"))
    clock.now += 1
    registry.get_or_create(ctx("second"))
    registry.get_or_create(ctx("third"))
    assert registry.users() == ["second", "third"]

    for user in ["second", "third"]:
        asyncio.run(registry.get_or_create(ctx(user)).add_connection(MemoryConnection(), user_id=user))
    with pytest.raises(wskit.core.errors.RegistryFullError, match="max_managers=2"):
        registry.get_or_create(ctx("fourth"))


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"idle_timeout": 0}, "idle_timeout must be a positive number"),
        ({"max_managers": 0}, "max_managers must be a positive int"),
        ({"max_managers": 2.5}, "max_managers must be a positive int"),
        ({"idle_timeout": True}, r"idle_timeout must be a positive number; got True$"),
        ({"idle_timeout": "5"}, r"idle_timeout must be a positive number; got '5'$"),
        ({"max_buffered_bytes": -1}, r"^max_buffered_bytes must be a positive int; got -1$"),
        ({"max_buffered_messages": 0}, r"^max_buffered_messages must be a positive int; got 0$"),
        ({"send_timeout": 0.0}, r"^send_timeout must be a positive number; got 0.0$"),
        ({"backplane": InProcessBackplane(), "history_max_messages": 5}, "history limits belong to the backplane"),
        ({"backplane": InProcessBackplane(), "history_max_bytes": 5}, "history limits belong to the backplane"),
        ({"backplane": InProcessBackplane(), "history_max_age": 5.0}, "history limits belong to the backplane"),
    ],
)
def test_registry_options_are_validated(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(ValueError, match=text):
        ManagerRegistry(**kwargs)  # type: ignore[arg-type]


def test_registry_keeps_the_options_it_was_given() -> None:
    registry = ManagerRegistry(idle_timeout=7, max_managers=3, max_buffered_messages=4, max_buffered_bytes=5000,
                               send_timeout=2)  # fmt: skip
    assert (registry.idle_timeout, registry.max_managers, registry.max_buffered_messages) == (7.0, 3, 4)
    assert (registry.max_buffered_bytes, registry.send_timeout) == (5000, 2.0)
    assert isinstance(registry.idle_timeout, float) and isinstance(registry.send_timeout, float)
    ManagerRegistry(idle_timeout=0.5, send_timeout=0.25)  # fractions are fine where a number is asked


def test_registry_refuses_a_backplane_that_is_not_one() -> None:
    with pytest.raises(TypeError, match=r"^backplane must implement wskit.backplane.Backplane; got dict$"):
        ManagerRegistry(backplane={})  # type: ignore[arg-type]


def test_with_a_backplane_the_budget_must_hold_one_buffer_only() -> None:
    with pytest.raises(ValueError, match=r"at least 6000 bytes \(one connection's buffer, 6000\); got 5999$"):
        ManagerRegistry(backplane=InProcessBackplane(), memory_budget=5999, max_buffered_bytes=6000)
    ManagerRegistry(backplane=InProcessBackplane(), memory_budget=6000, max_buffered_bytes=6000)


def test_a_broadcast_draft_is_byte_for_byte_a_single_draft() -> None:
    from wskit.core.envelope import SharedDraft, draft_envelope

    shared = SharedDraft(event_type="tick", ts=12.5, payload_json=b'{"n":1}')
    for user, thread, run in (("ann", None, None), ("bob", "t1", None), ("cid", None, "r9"), ("ann", "t", "r")):
        single = draft_envelope(event_type="tick", ts=12.5, user_id=user, thread_id=thread, run_id=run,
                                payload_json=b'{"n":1}')  # fmt: skip
        assert shared.for_user(user, thread, run).number(7, "e-1") == single.number(7, "e-1")
        assert shared.for_user(user, thread, run).tail == single.tail
        assert json.loads(single.number(7, "e-1")) == {
            "type": "tick", "seq": 7, "epoch": "e-1", "ts": 12.5, "user_id": user, "thread_id": thread,
            "run_id": run, "payload": {"n": 1},
        }  # fmt: skip


# --- counters, closing, replies, resume points (found by mutation testing) -----------------------


def test_manager_stats_count_what_happened() -> None:
    registry = ManagerRegistry()
    manager = registry.get_or_create(ctx("ann"))
    good, failing, other = MemoryConnection("good"), MemoryConnection("failing", fail=True), MemoryConnection("o")

    async def scenario() -> None:
        await manager.add_connection(good, user_id="ann")
        await manager.add_connection(failing, user_id="ann")
        other_id = await manager.add_connection(other, user_id="ann")
        for n in range(3):
            await manager.send({"type": "n", "payload": n})
        await manager.flush()
        assert await manager.remove_connection(other_id)

    asyncio.run(scenario())
    assert manager.stats() == {
        "user_id": "ann",
        "connections": 1,
        "messages_sent": 3,
        "last_seq": 3,
        "failed_deliveries": 1,
        "dropped_connections": 2,
        "buffered_frames": 0,
    }
    assert registry.stats()["connections"] == 1 and registry.users() == ["ann"]


def test_each_failed_write_is_counted() -> None:
    registry = ManagerRegistry()
    manager = registry.get_or_create(ctx("ann"))

    async def scenario() -> None:
        for name in ("a", "b"):
            await manager.add_connection(MemoryConnection(name, fail=True), user_id="ann")
        await manager.send({"type": "n"})
        await manager.flush()

    asyncio.run(scenario())
    assert (manager.stats()["failed_deliveries"], manager.stats()["dropped_connections"]) == (2, 2)
    assert manager.stats()["connections"] == 0


def test_close_connection_writes_what_it_was_given_then_closes_with_1000_by_default() -> None:
    registry = ManagerRegistry()
    manager = registry.get_or_create(ctx("ann"))
    closing, staying = MemoryConnection("closing"), MemoryConnection("staying")

    async def scenario() -> None:
        closing_id = await manager.add_connection(closing, user_id="ann")
        await manager.add_connection(staying, user_id="ann")
        await manager.send({"type": "bye"})
        assert await manager.close_connection(closing_id) is True
        assert await manager.close_connection(closing_id) is False  # already gone
        assert await manager.close_connection("no-such-id") is False
        assert await manager.reply(closing_id, {"type": "late"}) is False

    asyncio.run(scenario())
    assert [m["type"] for m in closing.messages] == ["bye"] and closing.closed_with == (1000, "")
    assert staying.closed_with is None and manager.stats()["connections"] == 1
    assert registry.users() == ["ann"]  # one connection left: not idle


def test_the_last_connection_leaving_makes_the_user_idle() -> None:
    clock = FakeClock()
    registry = ManagerRegistry(idle_timeout=10, clock=clock)
    manager = registry.get_or_create(ctx("ann"))

    async def scenario() -> None:
        first = await manager.add_connection(MemoryConnection("1"), user_id="ann")
        second = await manager.add_connection(MemoryConnection("2"), user_id="ann")
        await manager.remove_connection(first)
        clock.now += 11
        assert registry.release_idle() == 0  # still has a connection
        await manager.remove_connection(second)
        clock.now += 9.5
        assert registry.release_idle() == 0
        clock.now += 0.5
        assert registry.release_idle() == 1  # idle for idle_timeout: released

    asyncio.run(scenario())
    assert registry.users() == []
    assert registry.get("ann") is manager  # released but still referenced: still the user's manager
    assert registry.get("nobody") is None


def test_release_idle_returns_how_many_it_released() -> None:
    clock = FakeClock()
    registry = ManagerRegistry(idle_timeout=1, clock=clock)
    for user in ("a", "b", "c"):
        registry.get_or_create(ctx(user))
    clock.now += 2
    assert registry.release_idle() == 3


def test_a_released_manager_that_connects_again_is_held_again() -> None:
    clock = FakeClock()
    registry = ManagerRegistry(idle_timeout=1, clock=clock)
    manager = registry.get_or_create(ctx("ann"))
    clock.now += 2
    registry.release_idle()
    assert registry.users() == []
    connection = MemoryConnection()
    asyncio.run(manager.add_connection(connection, user_id="ann"))
    assert registry.users() == ["ann"] and registry.get("ann") is manager
    assert registry.deliver("ann", [(1, b'{"type":"n","seq":1}')]) == 1
    assert registry.deliver("nobody", [(1, b'{"type":"n","seq":1}')]) == 0


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"thread_id": "bad id"}, r"^thread_id must be"),
        ({"run_id": "bad id"}, r"^run_id must be"),
    ],
)
def test_emit_names_the_bad_id(kwargs: dict[str, str], text: str) -> None:
    manager = ManagerRegistry().get_or_create(ctx("ann"))
    with pytest.raises(ValueError, match=text):
        asyncio.run(manager.emit("agent_started", {}, **kwargs))


def test_send_names_a_bad_run_id() -> None:
    manager = ManagerRegistry().get_or_create(ctx("ann"))
    with pytest.raises(ValueError, match=r"^run_id must be"):
        asyncio.run(manager.send({"type": "x", "run_id": "bad id"}))


def test_a_resume_point_with_a_bad_epoch_is_refused() -> None:
    manager = ManagerRegistry().get_or_create(ctx("ann"))

    async def scenario() -> None:
        with pytest.raises(ValueError, match=r"^epoch must be the epoch of an envelope"):
            await manager.add_connection(MemoryConnection(), user_id="ann", last_seq=0, epoch="bad epoch!")
        held = await manager.add_connection(MemoryConnection(), user_id="ann", hold=True)
        with pytest.raises(ValueError, match=r"^epoch must be the epoch of an envelope"):
            await manager.resume(held, 0, "bad epoch!")
        with pytest.raises(ValueError, match=r"^last_seq must be"):
            await manager.resume(held, -1, None)

    asyncio.run(scenario())


@pytest.mark.parametrize("on", ["connect", "resume"])
def test_a_resume_point_of_another_epoch_gets_resync_required(on: str) -> None:
    manager = ManagerRegistry().get_or_create(ctx("ann"))
    connection = MemoryConnection()

    async def scenario() -> None:
        for n in range(3):
            await manager.send({"type": "n", "payload": n})
        if on == "connect":
            await manager.add_connection(connection, user_id="ann", last_seq=1, epoch="another-epoch")
        else:
            held = await manager.add_connection(connection, user_id="ann", hold=True)
            await manager.resume(held, 1, "another-epoch")
        await manager.flush()

    asyncio.run(scenario())
    assert connection.messages[0]["type"] == "resync_required"
    assert [m["seq"] for m in connection.messages[1:]] == []


def test_the_default_registry_gives_one_manager_per_user() -> None:
    first = get_websocket_manager(UserContext(user_id="default-registry-user"))
    assert first is get_websocket_manager(UserContext(user_id="default-registry-user"))
    assert first is not get_websocket_manager(UserContext(user_id="default-registry-other"))


def test_wskit_names_are_imported_on_first_use_and_then_kept() -> None:
    """`import wskit` loads no runtime module until a name is used (`wskit ssot` never uses one)."""
    probe = (
        "import sys, wskit\n"
        "print('wskit.registry' in sys.modules, 'ManagerRegistry' in vars(wskit))\n"
        "registry = wskit.ManagerRegistry\n"
        "print(registry.__module__, wskit.ManagerRegistry is registry, sorted(set(wskit.__all__) - set(dir(wskit))))\n"
        "try:\n    wskit.Nope\nexcept AttributeError as exc:\n    print(exc)\n"
        "print('wskit.session' in sys.modules, wskit.session.__name__, hasattr(wskit, '__wrapped__'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.splitlines() == [
        "False False",
        "wskit.registry True []",
        "module 'wskit' has no attribute 'Nope'",
        "False wskit.session False",  # a submodule too, as `import wskit` made it reachable before
    ], done.stderr
