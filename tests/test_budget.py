"""The process's memory budget: histories and outbound buffers together, evictions from the users holding the most."""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import MemoryConnection, ctx

from wskit import ManagerRegistry
from wskit.core.budget import LOW_WATER, MemoryBudget
from wskit.core.history import History
from wskit.serve.server import WskitServer


def fill(history: History, sizes: list[int]) -> None:
    for size in sizes:
        history.append(history.next_seq(), b"x" * size)


def test_counting_without_a_limit_never_evicts() -> None:
    budget = MemoryBudget()
    history = History("e", budget=budget)
    budget.track("ann", history)
    fill(history, [100] * 50)
    assert budget.admit(10_000) and budget.used == 15_000
    budget.release(10_000)
    assert budget.stats() == {"history_bytes": 5000, "buffer_bytes": 0, "memory_budget": None, "evictions": 0,
                              "evicted_bytes": 0}  # fmt: skip


def test_the_users_holding_the_most_lose_their_oldest_first(caplog: pytest.LogCaptureFixture) -> None:
    budget = MemoryBudget(10_000)
    big, small = History("b", budget=budget), History("s", budget=budget)
    budget.track("big", big)
    budget.track("small", small)
    fill(small, [100] * 10)  # 1,000 bytes, within any fair share
    with caplog.at_level(logging.WARNING, logger="wskit.core.budget"):
        fill(big, [1000] * 9)  # 10,000 in all: at the limit, not over
        assert budget.evictions == 0
        fill(big, [1000])  # over: a round frees down to the low-water mark
    assert budget.used <= 10_000 * LOW_WATER
    assert (len(small), small.oldest_seq) == (10, 1)  # untouched
    assert big.oldest_seq == 3 and big.latest_seq == 10  # its two oldest went
    assert (budget.evictions, budget.evicted_bytes) == (2, 2000)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "memory budget of 10000 bytes reached (11000 in histories, 0 in buffers)"
    ]


def test_when_all_hold_alike_the_oldest_go_round_robin() -> None:
    budget = MemoryBudget(3000)
    histories = [History(str(i), budget=budget) for i in range(3)]
    for i, history in enumerate(histories):
        budget.track(f"u{i}", history)
    for _ in range(10):
        for history in histories:
            fill(history, [100])
    assert budget.used <= 3000
    assert max(h.size_bytes for h in histories) - min(h.size_bytes for h in histories) <= 100


def test_a_buffer_is_admitted_by_evicting_history_or_refused() -> None:
    budget = MemoryBudget(5000)
    history = History("e", budget=budget)
    budget.track("ann", history)
    fill(history, [1000] * 4)
    assert budget.admit(2000)  # evicts history to make room: buffers are live traffic
    assert budget.buffer_bytes == 2000 and history.size_bytes <= 2500
    assert budget.admit(2500)
    assert not budget.admit(1000)  # nothing left to evict: refused, the process does not grow
    assert budget.used <= 5000
    budget.release(2500)
    assert budget.admit(1000)


def test_forget_and_age_give_bytes_back() -> None:
    now = [0.0]
    budget = MemoryBudget(10_000)
    history = History("e", budget=budget, max_age=10, clock=lambda: now[0])
    budget.track("ann", history)
    fill(history, [300, 300])
    now[0] = 20
    assert len(history) == 0 and budget.history_bytes == 0
    fill(history, [300])
    budget.forget("ann")
    assert budget.history_bytes == 0


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "1"])
def test_a_bad_limit_is_refused(limit: object) -> None:
    with pytest.raises(ValueError, match="memory budget must be a positive number of bytes or None"):
        MemoryBudget(limit)  # type: ignore[arg-type]


def test_the_registry_refuses_a_budget_that_cannot_hold_one_history_and_one_buffer() -> None:
    with pytest.raises(ValueError) as info:
        ManagerRegistry(memory_budget=1000, history_max_bytes=4000, max_buffered_bytes=6000)
    assert str(info.value) == (
        "memory_budget must be at least 10000 bytes (one user's history, 4000, and one connection's buffer, 6000);"
        " got 1000"
    )
    ManagerRegistry(memory_budget=10_000, history_max_bytes=4000, max_buffered_bytes=6000)


def test_users_over_their_share_lose_only_their_own_oldest_and_a_resume_there_is_a_resync() -> None:
    registry = ManagerRegistry(memory_budget=200_000, history_max_bytes=150_000, max_buffered_bytes=20_000)
    chatty = [registry.get_or_create(ctx(f"chatty{i}")) for i in range(2)]
    quiet = registry.get_or_create(ctx("quiet"))

    async def scenario() -> None:
        for i in range(20):
            await quiet.send({"type": "n", "payload": i})
        for _ in range(60):  # 240 kB each wanted, 150 kB each allowed, 200 kB for everyone
            for manager in chatty:
                await manager.send({"type": "n", "payload": "z" * 4000})
        stats = registry.stats()
        assert stats["history_bytes"] is not None and stats["history_bytes"] <= 200_000
        assert stats["evictions"] and stats["evicted_bytes"]
        # The quiet user's history is whole; the chatty ones' oldest are gone, theirs only.
        back = MemoryConnection("quiet")
        await quiet.add_connection(back, user_id="quiet", last_seq=0)
        assert [m["seq"] for m in back.messages] == list(range(1, 21))
        for manager in chatty:
            late = MemoryConnection(manager.user_id)
            await manager.add_connection(late, user_id=manager.user_id, last_seq=10)
            assert len(late.messages) == 1 and late.messages[0]["type"] == "resync_required"
            assert late.messages[0]["oldest_seq"] > 11 and late.messages[0]["latest_seq"] == 60

    asyncio.run(scenario())


def test_a_buffer_the_budget_cannot_admit_makes_a_slow_consumer() -> None:
    registry = ManagerRegistry(memory_budget=40_000, history_max_bytes=10_000, max_buffered_bytes=30_000)
    manager = registry.get_or_create(ctx("ann"))
    stalled = [MemoryConnection("stalled1"), MemoryConnection("stalled2")]
    steady = MemoryConnection("steady")
    peak = 0

    async def scenario() -> None:
        nonlocal peak
        for connection in stalled:
            connection.stall()
            await manager.add_connection(connection, user_id="ann")
        await manager.add_connection(steady, user_id="ann")
        for _ in range(20):  # each stalled one would queue 40 kB: over its own 30 kB, and both over 40 kB
            await manager.send({"type": "n", "payload": "y" * 2000})
            peak = max(peak, registry.budget.used)
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert peak <= 40_000
    reasons = sorted(c.closed_with[1] for c in stalled if c.closed_with is not None and c.closed_with[0] == 1013)
    assert len(reasons) == 2
    assert "memory budget (40000 bytes) is used up" in reasons[1]  # the first to hit the shared bound
    assert "outbound buffer full" in reasons[0]  # the other then hit its own
    assert len(steady.messages) == 20
    assert registry.budget.buffer_bytes == 0  # the closed ones' queues were given back


@pytest.mark.parametrize("payload_bytes", [1000, 60_000])
def test_a_stalled_reader_never_costs_more_than_its_bound_whatever_the_payload(payload_bytes: int) -> None:
    """Small payloads: the kernel's socket buffers absorb megabytes first, the process holds at
    most the connection's bound; then the bound is exceeded and the reader is closed 1013."""
    from servers import raw_upgrade

    bound = 64 * 1024

    async def scenario() -> None:
        registry = ManagerRegistry(max_buffered_bytes=bound, send_timeout=30)
        async with WskitServer(registry=registry, resume_grace=0) as server:
            sock = await asyncio.to_thread(raw_upgrade, server.port, server.mint_token("joe"))
            manager = registry.get_or_create(ctx("joe"))
            while len(manager.connections) < 1:  # noqa: ASYNC110 - server-side state has no event
                await asyncio.sleep(0.01)
            connection = next(iter(manager.connections.values()))
            held = 0
            sent = 0
            while manager.connections:
                await manager.send({"type": "n", "payload": "p" * payload_bytes})
                sent += payload_bytes
                held = max(held, registry.budget.buffer_bytes)
                assert sent < 256 * 2**20, "never closed"
                await asyncio.sleep(0)
            assert held <= bound
            assert sent > bound  # it took more than the bound: the rest sat in the kernel, not here
            await asyncio.sleep(0.05)
            assert connection.close_code == 1013 or connection.state.name in ("CLOSING", "CLOSED")
            sock.close()

    asyncio.run(scenario())


def test_tracking_adds_and_forgetting_removes_what_a_history_already_holds() -> None:
    budget = MemoryBudget()
    first, second = History("a"), History("b")
    fill(first, [100, 100])
    fill(second, [50])
    budget.track("a", first)
    budget.track("b", second)
    assert budget.history_bytes == 250
    budget.forget("a")
    budget.forget("a")  # twice: nothing more to remove
    assert budget.history_bytes == 50


def test_exactly_at_the_limit_is_within_it() -> None:
    budget = MemoryBudget(1000)
    history = History("e", budget=budget)
    budget.track("ann", history)
    fill(history, [600])
    assert budget.admit(400) and budget.evictions == 0  # 1,000 of 1,000
    budget.release(400)
    fill(history, [400])  # 1,000 in history: still no eviction
    assert budget.evictions == 0
    fill(history, [1])  # one byte over: a round down to 900 at most, oldest first
    assert (budget.evictions, budget.evicted_bytes, budget.used) == (1, 600, 401)


def test_a_round_frees_down_to_the_low_water_mark_not_more() -> None:
    budget = MemoryBudget(10_000)
    history = History("e", budget=budget)
    budget.track("ann", history)
    fill(history, [100] * 100)  # exactly 10,000
    fill(history, [100])  # 10,100: frees 1,100 to reach 9,000
    assert (budget.evictions, budget.evicted_bytes, budget.used) == (11, 1100, 9000)


def test_the_warning_comes_once_a_minute_while_evicting(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    budget = MemoryBudget(1000, clock=lambda: now[0])
    history = History("e", budget=budget)
    budget.track("ann", history)
    with caplog.at_level(logging.WARNING, logger="wskit.core.budget"):
        for step in (0, 30, 59, 60.5, 121, 250):  # two rounds at each step
            now[0] = step
            fill(history, [600, 600])
    # When evictions start, and again when they start after a minute without any.
    assert len(caplog.records) == 3
