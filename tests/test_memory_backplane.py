"""The in-process backplane on its own: numbering, epochs, delivery counts, the seen mark, forgetting idle users."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import pytest

from wskit.backplane import InProcessBackplane, Position
from wskit.core.budget import MemoryBudget
from wskit.core.envelope import draft_envelope
from wskit.core.history import Entry, ResyncRequired


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


class Sink:
    """Records deliveries; `reach` says how many connections each user has here."""

    def __init__(self, **reach: int) -> None:
        self.reach = reach
        self.delivered: list[tuple[str, list[int]]] = []

    def deliver(self, user_id: str, entries: Sequence[Entry]) -> int:
        self.delivered.append((user_id, [seq for seq, _ in entries]))
        return self.reach.get(user_id, 0)

    def restart(self, user_id: str, notice: dict[str, object]) -> None:
        raise AssertionError("the in-process backplane never restarts a history under live connections")


def draft(user: str, payload: bytes = b'"x"') -> object:
    return draft_envelope(event_type="n", ts=1.0, user_id=user, thread_id=None, run_id=None, payload_json=payload)


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"history_max_messages": 0}, "history_max_messages must be a positive int; got 0"),
        ({"history_max_messages": True}, "history_max_messages must be a positive int; got True"),
        ({"history_max_messages": "5"}, "history_max_messages must be a positive int; got '5'"),
        ({"history_max_bytes": -1}, "history_max_bytes must be a positive int; got -1"),
        ({"history_max_bytes": 2.0}, "history_max_bytes must be a positive int; got 2.0"),
        ({"history_max_age": 0}, "history_max_age must be a positive number of seconds; got 0"),
        ({"history_max_age": True}, "history_max_age must be a positive number of seconds; got True"),
        ({"history_max_age": "9"}, "history_max_age must be a positive number of seconds; got '9'"),
    ],
)
def test_bad_limits_are_refused_naming_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        InProcessBackplane(**options)  # type: ignore[arg-type]


def test_the_smallest_limits_are_accepted_and_passed_to_every_history() -> None:
    backplane = InProcessBackplane(history_max_messages=1, history_max_bytes=1, history_max_age=0.5)
    history = backplane.history("ann")
    assert (history.max_messages, history.max_bytes, history.max_age) == (1, 1, 0.5)


def test_one_sink_per_backplane() -> None:
    backplane = InProcessBackplane()
    sink = Sink()
    backplane.attach(sink)
    backplane.attach(sink)  # the same one again is fine
    with pytest.raises(RuntimeError, match=r"^this backplane already delivers to another registry; create one per"):
        backplane.attach(Sink())


def test_every_new_history_gets_a_new_epoch() -> None:
    first, second = InProcessBackplane(), InProcessBackplane()
    epochs = [first.history(user).epoch for user in ("ann", "ben", "cid")]
    prefix = epochs[0].rsplit("-", 1)[0]
    assert epochs == [f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"]
    assert len(prefix) == 8 and re.fullmatch("[0-9a-f]{8}", prefix)
    assert first.history("ann").epoch == epochs[0]  # the same history, not a new one
    assert second.history("ann").epoch.rsplit("-", 1)[0] != prefix  # another process, another prefix
    assert len(first) == 3


def test_publish_numbers_keeps_and_counts_deliveries() -> None:
    backplane = InProcessBackplane()

    async def scenario() -> None:
        alone = await backplane.publish("ann", draft("ann"))  # type: ignore[arg-type]
        assert (alone.seq, alone.delivered) == (1, 0) and alone.epoch == backplane.history("ann").epoch
        sink = Sink(ann=2)
        backplane.attach(sink)
        reached = await backplane.publish("ann", draft("ann"))  # type: ignore[arg-type]
        missed = await backplane.publish("ben", draft("ben"))  # type: ignore[arg-type]
        assert (reached.seq, reached.delivered, missed.seq, missed.delivered) == (2, 2, 1, 0)
        assert sink.delivered == [("ann", [2]), ("ben", [1])]
        assert backplane.history("ann").delivered_seq == 2 and backplane.history("ben").delivered_seq == 0
        assert [seq for seq, _ in await backplane.undelivered("ann")] == []
        assert [seq for seq, _ in await backplane.undelivered("ben")] == [1]
        assert await backplane.undelivered("nobody") == []

    run(scenario())


def test_undelivered_since_a_position_includes_what_other_connections_took() -> None:
    backplane = InProcessBackplane()

    async def scenario() -> None:
        assert await backplane.position("ann") == Position(None, 0)  # no history yet
        backplane.attach(Sink(ann=1))
        for _ in range(3):
            await backplane.publish("ann", draft("ann"))  # type: ignore[arg-type]
        epoch = backplane.history("ann").epoch
        assert await backplane.position("ann") == Position(epoch, 3)
        assert await backplane.undelivered("ann") == []  # a connection took all three
        assert [seq for seq, _ in await backplane.undelivered("ann", since=Position(epoch, 1))] == [2, 3]
        assert await backplane.undelivered("ann", since=Position(epoch, 3)) == []
        # Read before the history existed, or in an epoch that is gone: everything kept is owed.
        for since in (Position(None, 0), Position("gone", 2)):
            assert [seq for seq, _ in await backplane.undelivered("ann", since=since)] == [1, 2, 3]
        assert await backplane.undelivered("nobody", since=Position(None, 0)) == []

    run(scenario())


def test_publish_many_numbers_each_user_once_reads_the_clock_once() -> None:
    clock = Clock()
    backplane = InProcessBackplane(clock=clock)

    async def scenario() -> None:
        assert await backplane.publish_many([("ann", draft("ann"))]) == 0  # type: ignore[list-item]
        sink = Sink(ann=1, ben=3)
        backplane.attach(sink)
        for user in ("ben", "cid"):
            backplane.history(user)  # (making a history reads the clock to sweep)
        reads = clock.reads
        total = await backplane.publish_many([(u, draft(u)) for u in ("ann", "ben", "cid")])  # type: ignore[misc]
        assert clock.reads == reads + 1
        assert total == 4 and sink.delivered == [("ann", [2]), ("ben", [1]), ("cid", [1])]
        assert [backplane.history(u).delivered_seq for u in ("ann", "ben", "cid")] == [2, 1, 0]
        assert [backplane.history(u).latest_seq for u in ("ann", "ben", "cid")] == [2, 1, 1]

    run(scenario())


def test_replay_checks_the_epoch_and_the_seen_mark_only_rises() -> None:
    backplane = InProcessBackplane()

    async def scenario() -> None:
        for _ in range(3):
            await backplane.publish("ann", draft("ann"))  # type: ignore[arg-type]
        epoch = backplane.history("ann").epoch
        assert [seq for seq, _ in await backplane.replay("ann", 1, epoch)] == [2, 3]
        with pytest.raises(ResyncRequired):
            await backplane.replay("ann", 1, "another-epoch")
        backplane.note_delivered("ann", 2)
        backplane.note_delivered("ann", 1)  # never lowers it
        backplane.note_delivered("nobody", 5)  # no history: nothing to mark
        assert backplane.history("ann").delivered_seq == 2
        backplane.note_delivered("ann", 3)
        assert backplane.history("ann").delivered_seq == 3
        assert backplane.health() is None
        await backplane.start()
        await backplane.close()

    run(scenario())


def test_histories_of_users_gone_longer_than_the_age_are_forgotten() -> None:
    clock = Clock()
    budget = MemoryBudget()
    backplane = InProcessBackplane(history_max_age=10, budget=budget, clock=clock)

    async def scenario() -> None:
        await backplane.subscribe("held")
        for user in ("gone", "held", "late"):
            await backplane.publish(user, draft(user))  # type: ignore[arg-type]
        assert budget.history_bytes > 0
        clock.now += 5
        await backplane.publish("late", draft("late"))  # type: ignore[arg-type]  # sent to while away
        clock.now += 6  # "gone" and "late" were last held 11 s ago; late's newest envelope is 6 s old
        backplane.history("newcomer")  # making a history sweeps
        assert "gone" not in backplane._histories
        assert {"held", "late", "newcomer"} <= set(backplane._histories)
        epoch = backplane.history("gone").epoch  # back: a new history, a new epoch
        assert epoch.endswith("-5")
        clock.now += 11  # late's envelopes aged out too
        backplane.history("another")
        assert "late" not in backplane._histories and "held" in backplane._histories
        assert budget.history_bytes == backplane.history("held").size_bytes
        backplane.unsubscribe("held")
        backplane.unsubscribe("never-seen")  # no history: nothing to forget later
        clock.now += 11
        backplane.history("yet-another")
        assert "held" not in backplane._histories and "never-seen" not in backplane._unheld
        await backplane.subscribe("gone")
        assert "gone" not in backplane._unheld

    run(scenario())
