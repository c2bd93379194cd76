"""One user's history and the replay rule: every kept envelope after a point, or a resync, never a partial replay."""

from __future__ import annotations

import pytest

from wskit.core.history import History, ResyncRequired, replay_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def filled(count: int, size: int = 0, **options: object) -> History:
    history = History("e1", **options)  # type: ignore[arg-type]
    for seq in range(1, count + 1):
        history.append(history.next_seq(), f"frame {seq}".encode().ljust(size, b"."))
    return history


def test_since_returns_every_later_envelope_in_order() -> None:
    history = filled(5)
    assert [seq for seq, _ in history.since(2)] == [3, 4, 5]
    assert history.since(2)[0][1] == b"frame 3"
    assert history.since(5) == []
    assert [seq for seq, _ in history.since(0)] == [1, 2, 3, 4, 5]
    assert history.since(3, "e1") == history.since(3)
    assert (history.latest_seq, history.next_seq(), history.size_bytes) == (5, 6, 35)


def test_count_bound_drops_the_oldest_and_an_older_gap_needs_a_resync() -> None:
    history = filled(10, max_messages=4)
    assert len(history) == 4 and history.oldest_seq == 7
    assert [seq for seq, _ in history.since(6)] == [7, 8, 9, 10]
    with pytest.raises(ResyncRequired) as info:
        history.since(5)
    assert info.value.as_message() == {"type": "resync_required", "epoch": "e1", "oldest_seq": 7, "latest_seq": 10}


def test_byte_bound_drops_the_oldest_but_keeps_the_newest_even_if_alone_too_big() -> None:
    history = filled(10, size=100, max_bytes=350)
    assert (len(history), history.oldest_seq, history.size_bytes) == (3, 8, 300)
    with pytest.raises(ResyncRequired):
        history.since(6)
    big = History("e", max_bytes=50)
    big.append(1, b"x" * 80)
    big.append(2, b"y" * 80)
    assert [seq for seq, _ in big.since(1)] == [2] and big.size_bytes == 80


def test_age_bound() -> None:
    clock = Clock()
    history = History("e", max_age=10, clock=clock)
    history.append(1, b"a")
    clock.now += 6
    history.append(2, b"bb")
    clock.now += 6
    assert history.oldest_seq == 2 and history.size_bytes == 2
    with pytest.raises(ResyncRequired):
        history.since(0)
    assert [seq for seq, _ in history.since(1)] == [2]
    clock.now += 20
    assert len(history) == 0 and history.since(2) == [] and history.size_bytes == 0
    with pytest.raises(ResyncRequired):
        history.since(1)


def test_a_client_ahead_of_the_server_or_of_another_epoch_must_resync() -> None:
    history = filled(3)
    with pytest.raises(ResyncRequired) as info:
        history.since(9)
    assert (info.value.latest_seq, info.value.oldest_seq, info.value.epoch) == (3, 1, "e1")
    with pytest.raises(ResyncRequired) as info:
        history.since(1, "e0")  # the same numbers in another history mean other envelopes
    assert info.value.as_message()["epoch"] == "e1"
    with pytest.raises(ResyncRequired):
        history.since(3, "e0")


def test_seq_must_be_the_next_one() -> None:
    history = filled(2)
    with pytest.raises(ValueError, match="seq 2 is not the next seq 3"):
        history.append(2, b"x")
    with pytest.raises(ValueError, match="seq 4 is not the next seq 3"):
        history.append(4, b"x")


def test_undelivered_is_what_follows_the_delivered_mark() -> None:
    history = filled(5)
    assert [seq for seq, _ in history.undelivered()] == [1, 2, 3, 4, 5]
    history.delivered_seq = 3
    assert [seq for seq, _ in history.undelivered()] == [4, 5]
    history.delivered_seq = 5
    assert history.undelivered() == []


def test_evict_oldest_frees_its_bytes() -> None:
    history = filled(3, size=10)
    assert history.evict_oldest() == 10 and history.oldest_seq == 2 and history.size_bytes == 20
    assert History("e").evict_oldest() == 0


def test_replay_after_a_range_read_from_a_store() -> None:
    kept = [(4, b"d"), (5, b"e"), (6, b"f")]
    assert replay_after(3, None, epoch="x", latest_seq=6, kept=kept) == kept
    assert replay_after(4, "x", epoch="x", latest_seq=6, kept=kept) == kept[1:]
    assert replay_after(6, None, epoch="x", latest_seq=6, kept=[]) == []
    for last_seq, epoch in ((2, None), (7, None), (4, "y")):
        with pytest.raises(ResyncRequired):
            replay_after(last_seq, epoch, epoch="x", latest_seq=6, kept=kept)
    with pytest.raises(ResyncRequired) as info:
        replay_after(3, None, epoch="x", latest_seq=6, kept=[])  # all of it is gone
    assert info.value.oldest_seq is None


def test_a_history_exactly_at_its_bounds_keeps_everything() -> None:
    history = filled(3, size=100, max_messages=3, max_bytes=300)
    assert (len(history), history.size_bytes) == (3, 300)
    history.append(4, b"x" * 100)
    assert (history.oldest_seq, history.size_bytes) == (2, 300)


def test_append_reports_only_its_net_growth_to_the_budget() -> None:
    from wskit.core.budget import MemoryBudget

    budget = MemoryBudget()
    history = History("e", max_messages=2, budget=budget)
    budget.track("ann", history)
    for size in (100, 200, 300):
        history.append(history.next_seq(), b"x" * size)
    assert budget.history_bytes == history.size_bytes == 500


def test_append_takes_the_time_it_is_given_and_ages_by_it() -> None:
    clock = Clock()
    history = History("e", max_age=10, clock=clock)
    history.append(1, b"a", now=50.0)  # already 50 s old by the clock
    history.append(2, b"b")
    assert history.oldest_seq == 2
    clock.now += 10  # exactly max_age old: still kept
    assert history.oldest_seq == 2


def test_the_resync_names_what_was_asked_and_what_is_kept() -> None:
    kept = [(4, b"d"), (5, b"e")]
    with pytest.raises(ResyncRequired) as info:
        replay_after(2, None, epoch="x", latest_seq=5, kept=kept)
    assert (info.value.epoch, info.value.oldest_seq, info.value.latest_seq) == ("x", 4, 5)
    assert str(info.value) == "cannot replay after seq 2: epoch x, oldest kept is 4, latest is 5"
