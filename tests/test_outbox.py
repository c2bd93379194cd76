"""The outbox of one connection, driven directly: order, limits, replay, budget, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import MemoryConnection

from wskit.core.budget import MemoryBudget
from wskit.core.outbox import Outbox, OutboxOverflow
from wskit.core.writers import EagerWriter


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def frame(n: int, size: int = 20) -> bytes:
    """A JSON text frame of exactly `size` bytes naming `n`."""
    head = f'{{"n":{n},"p":"'
    assert len(head) + 2 <= size
    return (head + "x" * (size - len(head) - 2) + '"}').encode()


class Failures(list[BaseException]):
    def __call__(self, exc: BaseException) -> None:
        self.append(exc)


def make(connection: MemoryConnection, **options: Any) -> tuple[Outbox, Failures]:
    failures = Failures()
    return Outbox(EagerWriter(connection), failures, **options), failures


def texts(connection: MemoryConnection) -> list[int]:
    return [m["n"] for m in connection.messages]


def test_a_socket_that_keeps_up_gets_every_frame_at_once_with_no_task() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        outbox, failures = make(connection)
        assert all(outbox.offer(frame(n), n) for n in (1, 2, 3))
        assert texts(connection) == [1, 2, 3] and outbox.pending == 0 and outbox._task is None
        await outbox.flush()
        assert failures == []

    run(scenario)


def test_a_stalled_socket_queues_in_order_and_gets_everything_once_it_reads() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection)
        assert outbox.offer(frame(1), 1)  # begun, waiting for the socket
        assert outbox.offer(frame(2), 2) and outbox.offer(b'{"n":0}')  # a control frame has no seq
        assert outbox.pending == 2 and connection.frames == []
        connection.resume()
        await asyncio.wait_for(outbox.flush(), 1)
        assert texts(connection) == [1, 2, 0] and outbox.pending == 0 and failures == []
        assert outbox.offer(frame(3), 3) and texts(connection)[-1] == 3  # at once again

    run(scenario)


def test_an_envelope_not_newer_than_the_last_one_passed_is_dropped() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        outbox, _ = make(connection)
        assert outbox.offer(frame(5), 5)
        assert not outbox.offer(frame(5), 5) and not outbox.offer(frame(4), 4)
        assert outbox.offer(frame(6), 6)
        outbox.restart(b'{"n":-1}')  # the history was lost: numbering starts again
        assert outbox.offer(frame(1), 1)
        assert texts(connection) == [5, 6, -1, 1]

    run(scenario)


@pytest.mark.parametrize(("limits", "queued", "message"), [
    ({"max_messages": 3}, 3, "outbound buffer full (3 messages, 60 bytes queued; limits 3 messages, 1048576 bytes)"),
    ({"max_bytes": 59}, 2, "outbound buffer full (2 messages, 40 bytes queued; limits 1000 messages, 59 bytes)"),
    ({"max_bytes": 60}, 3, "outbound buffer full (3 messages, 60 bytes queued; limits 1000 messages, 60 bytes)"),
])  # fmt: skip
def test_a_queue_at_its_limit_fails_the_outbox_once_and_accepts_nothing_more(
    limits: dict[str, int], queued: int, message: str
) -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, **limits)
        assert outbox.offer(frame(0), 0 + 100)  # in flight: not in the queue
        for n in range(1, queued + 1):
            assert outbox.offer(frame(n), n + 100), n
        assert outbox.pending == queued and failures == []
        assert not outbox.offer(frame(99), 199)
        assert len(failures) == 1 and isinstance(failures[0], OutboxOverflow) and str(failures[0]) == message
        assert outbox.pending == 0 and not outbox.offer(b'{"n":0}')
        connection.resume()
        await asyncio.wait_for(outbox.flush(), 1)
        assert len(failures) == 1 and texts(connection) == []  # the write in flight was cancelled

    run(scenario)


def test_a_held_outbox_goes_live_with_notice_then_replay_then_what_the_replay_does_not_cover() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        outbox, failures = make(connection, held=True, max_messages=2)
        assert outbox.held
        assert outbox.offer(frame(3), 3) and outbox.offer(frame(4), 4) and outbox.pending == 2
        assert connection.frames == []
        replay = [(n, frame(n)) for n in range(1, 5)]  # covers the held 3 and 4
        outbox.release_after(b'{"n":0}', replay)
        assert outbox.held is False
        assert outbox.offer(frame(5), 5) and not outbox.offer(frame(4), 4)
        await asyncio.wait_for(outbox.flush(), 1)
        assert texts(connection) == [0, 1, 2, 3, 4, 5] and failures == []
        outbox.release_after(b'{"n":-1}', [(9, frame(9))])  # not held: nothing happens
        assert texts(connection) == [0, 1, 2, 3, 4, 5]

    run(scenario)


def test_a_history_lost_while_held_keeps_its_notice_in_place_and_the_numbering_after_it() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        outbox, failures = make(connection, held=True)
        assert outbox.offer(frame(2), 2) and outbox.offer(frame(3), 3)
        outbox.restart(b'{"n":-1}')  # the stream started over: numbering from 1 again
        assert outbox.offer(frame(101), 1) and outbox.offer(frame(102), 2) and outbox.pending == 5
        assert connection.frames == []  # still held
        # A catch-up read on either side of the loss cannot be merged by seq: it is left out.
        outbox.release_after(None, [(n, frame(200 + n)) for n in range(1, 4)])
        assert outbox.offer(frame(103), 3) and not outbox.offer(frame(102), 2)
        await asyncio.wait_for(outbox.flush(), 1)
        assert texts(connection) == [2, 3, -1, 101, 102, 103] and failures == []
        outbox.close()
        outbox.restart(b'{"n":-2}')  # closed: nothing is queued or written
        assert texts(connection) == [2, 3, -1, 101, 102, 103]

    run(scenario)


def test_a_replay_is_exempt_from_the_limits_but_live_frames_behind_it_are_not() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, held=True, max_messages=2, max_bytes=1000)
        outbox.release_after(None, [(n, frame(n)) for n in range(1, 11)])  # 10 frames over a limit of 2
        assert failures == [] and outbox.pending == 9  # the first is in flight
        assert outbox.offer(frame(11), 11) and outbox.offer(frame(12), 12)
        assert not outbox.offer(frame(13), 13)
        assert str(failures[0]).startswith("outbound buffer full (2 messages, 40 bytes queued;")

    run(scenario)


def test_queued_bytes_are_charged_to_the_budget_and_given_back() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(1000)
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, budget=budget)
        outbox.offer(frame(1, 100), 1)  # in flight: written by the socket, not queued
        outbox.offer(frame(2, 100), 2)
        outbox.offer(frame(3, 50), 3)
        assert budget.buffer_bytes == 150
        connection.resume()
        await asyncio.wait_for(outbox.flush(), 1)
        assert budget.buffer_bytes == 0 and texts(connection) == [1, 2, 3] and failures == []

        connection.stall()
        outbox.offer(frame(4, 100), 4)
        outbox.offer(frame(5, 100), 5)
        outbox.offer(frame(6, 70), 6)
        assert budget.buffer_bytes == 170
        outbox.close()
        assert budget.buffer_bytes == 0 and outbox.pending == 0

    run(scenario)


def test_a_replay_is_not_charged_to_the_budget() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(1000)
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, budget=budget, held=True)
        outbox.release_after(None, [(n, frame(n, 100)) for n in range(1, 4)])
        outbox.offer(frame(4, 60), 4)
        assert budget.buffer_bytes == 60
        connection.resume()
        await asyncio.wait_for(outbox.flush(), 1)
        assert budget.buffer_bytes == 0 and texts(connection) == [1, 2, 3, 4] and failures == []

    run(scenario)


def test_a_frame_the_budget_cannot_admit_fails_the_outbox() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(150)
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, budget=budget)
        outbox.offer(frame(1, 100), 1)
        assert outbox.offer(frame(2, 100), 2)
        assert not outbox.offer(frame(3, 100), 3)
        assert [str(f) for f in failures] == ["the process's memory budget (150 bytes) is used up"]
        assert budget.buffer_bytes == 0

    run(scenario)


def test_a_write_that_waits_longer_than_the_send_timeout_fails_the_outbox() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, send_timeout=0.05)
        outbox.offer(frame(1), 1)
        outbox.offer(frame(2), 2)
        await asyncio.wait_for(outbox.flush(), 2)
        assert [str(f) for f in failures] == ["a write waited more than 0.05 s for the socket; the peer is not reading"]
        assert isinstance(failures[0], OutboxOverflow) and outbox.pending == 0 and not outbox.offer(frame(3), 3)

    run(scenario)


@pytest.mark.parametrize("stalled", [False, True])
def test_a_failing_socket_fails_its_outbox_once(stalled: bool) -> None:
    async def scenario() -> None:
        connection = MemoryConnection(fail=True)
        if stalled:
            connection.stall()
        outbox, failures = make(connection)
        outbox.offer(frame(1), 1)
        if stalled:
            assert outbox.offer(frame(2), 2)
            connection.resume()
            await asyncio.wait_for(outbox.flush(), 1)
        assert len(failures) == 1 and isinstance(failures[0], ConnectionResetError)
        assert not outbox.offer(frame(3), 3) and outbox.pending == 0 and outbox._task is None

    run(scenario)


def test_closing_drops_the_queue_and_ends_a_flush_without_a_failure() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection)
        outbox.offer(frame(1), 1)
        outbox.offer(frame(2), 2)
        flush = asyncio.create_task(outbox.flush())
        await asyncio.sleep(0)
        outbox.close()
        await asyncio.wait_for(flush, 1)
        connection.resume()
        await asyncio.sleep(0.01)
        assert outbox.pending == 0 and failures == [] and connection.frames == []
        assert not outbox.offer(frame(3), 3)

    run(scenario)


class BusyWriter:
    """A `FrameWriter` whose socket buffer is full until `drain()`: `write_nowait` writes nothing."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.drained = asyncio.Event()

    def write_nowait(self, data: bytes) -> bool:
        if self.drained.is_set():
            self.written.append(data)
            return True
        return False

    async def write(self, data: bytes) -> None:
        await self.drained.wait()
        self.written.append(data)


def test_frames_the_socket_cannot_take_now_are_written_by_a_drain_task_in_order() -> None:
    async def scenario() -> None:
        writer = BusyWriter()
        failures = Failures()
        outbox = Outbox(writer, failures, max_messages=2)
        assert outbox.offer(frame(1), 1) and outbox.offer(frame(2), 2)
        assert outbox.pending == 2 and writer.written == []
        assert not outbox.offer(frame(3), 3)  # both queued: the third is over the limit
        assert [str(f) for f in failures] == [
            "outbound buffer full (2 messages, 40 bytes queued; limits 2 messages, 1048576 bytes)"
        ]

        writer2, failures2 = BusyWriter(), Failures()
        outbox2 = Outbox(writer2, failures2)
        outbox2.offer(frame(1), 1)
        outbox2.offer(frame(2), 2)
        writer2.drained.set()
        await asyncio.wait_for(outbox2.flush(), 1)
        assert writer2.written == [frame(1), frame(2)] and outbox2.pending == 0 and failures2 == []

    run(scenario)


def test_after_a_replay_is_written_the_live_limits_count_only_live_frames() -> None:
    async def scenario() -> None:
        connection = MemoryConnection()
        connection.stall()
        outbox, failures = make(connection, held=True, max_bytes=50)
        outbox.release_after(None, [(n, frame(n, 100)) for n in range(1, 4)])  # 300 bytes of replay
        connection.resume()
        await asyncio.wait_for(outbox.flush(), 1)
        connection.stall()
        outbox.offer(frame(4), 4)  # in flight
        assert outbox.offer(frame(5), 5) and outbox.offer(frame(6), 6)  # 40 bytes queued
        assert not outbox.offer(frame(7), 7)  # 60 > 50
        assert [str(f) for f in failures] == [
            "outbound buffer full (2 messages, 40 bytes queued; limits 1000 messages, 50 bytes)"
        ]

    run(scenario)


def test_closing_with_a_replay_queued_gives_back_only_the_live_bytes() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(10_000)
        connection = MemoryConnection()
        connection.stall()
        outbox, _ = make(connection, held=True, budget=budget)
        outbox.release_after(None, [(n, frame(n, 100)) for n in range(1, 4)])
        outbox.offer(frame(4, 60), 4)
        assert budget.buffer_bytes == 60
        outbox.close()
        assert budget.buffer_bytes == 0

    run(scenario)
