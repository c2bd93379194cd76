from __future__ import annotations

import pytest

from wskit.history import History, ResyncRequired


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def filled(count: int, **options: object) -> History:
    history = History(**options)  # type: ignore[arg-type]
    for seq in range(1, count + 1):
        history.record(seq, f"frame {seq}".encode())
    return history


def test_since_returns_every_later_envelope_in_order() -> None:
    history = filled(5)
    assert [seq for seq, _ in history.since(2)] == [3, 4, 5]
    assert history.since(2)[0][1] == b"frame 3"
    assert history.since(5) == []
    assert [seq for seq, _ in history.since(0)] == [1, 2, 3, 4, 5]


def test_count_bound_drops_the_oldest_and_an_older_gap_needs_a_resync() -> None:
    history = filled(10, max_messages=4)
    assert len(history) == 4 and history.oldest_seq == 7
    assert [seq for seq, _ in history.since(6)] == [7, 8, 9, 10]
    with pytest.raises(ResyncRequired) as info:
        history.since(5)
    assert info.value.as_message() == {"type": "resync_required", "oldest_seq": 7, "latest_seq": 10}


def test_age_bound() -> None:
    clock = Clock()
    history = History(max_age=10, clock=clock)
    history.record(1, b"a")
    clock.now += 6
    history.record(2, b"b")
    clock.now += 6
    assert history.oldest_seq == 2
    with pytest.raises(ResyncRequired):
        history.since(0)
    assert [seq for seq, _ in history.since(1)] == [2]
    clock.now += 20
    assert len(history) == 0 and history.since(2) == []
    with pytest.raises(ResyncRequired):
        history.since(1)


def test_a_client_ahead_of_the_server_must_resync() -> None:
    history = filled(3)
    with pytest.raises(ResyncRequired) as info:
        history.since(9)
    assert info.value.latest_seq == 3


def test_history_started_mid_stream_knows_its_latest_seq() -> None:
    history = History(latest_seq=57)
    assert history.since(57) == []
    with pytest.raises(ResyncRequired):
        history.since(50)  # envelopes 51..57 were never kept here
    with pytest.raises(ValueError, match="not above the latest recorded seq 57"):
        history.record(57, b"x")
