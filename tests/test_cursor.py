"""The delivery cursor: wake-ups, own replies and stream reads merge into one ordered, duplicate-free stream."""

from __future__ import annotations

import pytest

from wskit.backplane.cursor import MAX_WAITING, MAX_WAITING_BYTES, Cursor, EpochChanged, Lost


def env(seq: int) -> bytes:
    return f"e{seq}".encode()


def seqs(entries: list[tuple[int, bytes]]) -> list[int]:
    assert all(data == env(seq) for seq, data in entries)
    return [seq for seq, _ in entries]


def test_in_order_envelopes_pass_and_duplicates_are_dropped() -> None:
    cursor = Cursor("a", 3)
    assert seqs(cursor.accept("a", 4, env(4))) == [4]
    assert seqs(cursor.accept("a", 5, env(5))) == [5]
    assert cursor.accept("a", 5, env(5)) == [] and cursor.accept("a", 2, env(2)) == []
    assert (cursor.seq, cursor.gap) == (5, False)


def test_an_envelope_past_the_next_waits_and_leaves_a_gap() -> None:
    cursor = Cursor("a", 0)
    assert cursor.accept("a", 3, env(3)) == [] and cursor.gap
    assert cursor.accept("a", 2, env(2)) == [] and cursor.gap
    assert seqs(cursor.accept("a", 1, env(1))) == [1, 2, 3]
    assert (cursor.seq, cursor.gap) == (3, False)
    assert repr(cursor) == "Cursor(epoch='a', seq=3, waiting=[])"


def test_a_fill_from_the_stream_closes_the_gap_and_lets_the_waiting_through() -> None:
    cursor = Cursor("a", 2)
    cursor.accept("a", 6, env(6))
    assert repr(cursor) == "Cursor(epoch='a', seq=2, waiting=[6])"
    # The stream read starts after the cursor; what it holds twice (6) comes out once.
    assert seqs(cursor.fill("a", [(3, env(3)), (4, env(4)), (5, env(5)), (6, env(6))])) == [3, 4, 5, 6]
    assert (cursor.seq, cursor.gap) == (6, False)
    # A read that overlaps what was delivered already only adds what is new.
    assert seqs(cursor.fill("a", [(5, env(5)), (6, env(6)), (7, env(7))])) == [7]
    assert cursor.fill("a", []) == [] and cursor.seq == 7


def test_a_fill_short_of_the_waiting_keeps_the_gap() -> None:
    cursor = Cursor("a", 0)
    cursor.accept("a", 5, env(5))
    assert seqs(cursor.fill("a", [(1, env(1)), (2, env(2))])) == [1, 2]
    assert cursor.gap and cursor.seq == 2
    assert seqs(cursor.fill("a", [(3, env(3)), (4, env(4))])) == [3, 4, 5]
    assert not cursor.gap


def test_a_stream_that_no_longer_has_the_next_envelope_is_reported_lost() -> None:
    cursor = Cursor("a", 2)
    with pytest.raises(Lost) as info:
        cursor.fill("a", [(5, env(5)), (6, env(6))])
    assert (info.value.after, info.value.resumes_at) == (2, 5)
    assert str(info.value) == "envelopes after seq 2 are gone from the stream (it continues at 5)"
    assert cursor.seq == 2  # nothing was skipped silently
    cursor.restart("a", 4)
    assert seqs(cursor.fill("a", [(5, env(5)), (6, env(6))])) == [5, 6]


def test_another_epoch_means_the_stream_started_over() -> None:
    cursor = Cursor("a", 9)
    cursor.accept("a", 12, env(12))
    with pytest.raises(EpochChanged) as info:
        cursor.accept("b", 1, env(1))
    assert info.value.epoch == "b" and str(info.value) == "the stream started over with epoch b"
    with pytest.raises(EpochChanged):
        cursor.fill("b", [(1, env(1))])
    cursor.restart("b")
    assert (cursor.epoch, cursor.seq, cursor.gap) == ("b", 0, False)  # the old epoch's waiting are gone
    assert seqs(cursor.fill("b", [(1, env(1)), (2, env(2))])) == [1, 2]


def test_restart_in_the_same_epoch_keeps_what_waits_beyond() -> None:
    cursor = Cursor("a", 1)
    cursor.accept("a", 4, env(4))
    cursor.accept("a", 9, env(9))
    cursor.restart("a", 3)
    assert seqs(cursor.fill("a", [])) == [4]
    assert cursor.gap and cursor.seq == 4


def test_a_new_cursor_takes_the_first_epoch_it_sees() -> None:
    cursor = Cursor(None, 0)
    assert cursor.fill(None, [(1, env(1))]) == []  # a stream with no epoch holds nothing
    assert seqs(cursor.accept("z", 1, env(1))) == [1]
    assert cursor.epoch == "z"
    fresh = Cursor(None, 0)
    assert seqs(fresh.fill("y", [(1, env(1))])) == [1] and fresh.epoch == "y"


def test_waiting_is_bounded_and_the_rest_is_read_back() -> None:
    cursor = Cursor("a", 0)
    for seq in range(2, MAX_WAITING + 10):
        cursor.accept("a", seq, env(seq))
    assert len(repr(cursor).split(",")) - 2 == MAX_WAITING
    entries = [(seq, env(seq)) for seq in range(1, MAX_WAITING + 10)]
    assert seqs(cursor.fill("a", entries)) == list(range(1, MAX_WAITING + 10))
    assert not cursor.gap


def test_a_gap_is_confirmed_only_once_the_ordered_source_went_past_it() -> None:
    cursor = Cursor("a", 0)
    cursor.accept("a", 1, env(1), ordered=True)
    cursor.accept("a", 3, env(3))  # our own reply overtook the wake-up of 2
    assert cursor.gap and not cursor.gap_confirmed
    cursor.accept("a", 3, env(3), ordered=True)  # the channel is past 2 and never brought it: lost
    assert cursor.gap and cursor.gap_confirmed and cursor.ordered_seq == 3
    assert seqs(cursor.fill("a", [(2, env(2)), (3, env(3))])) == [2, 3]
    assert not cursor.gap and not cursor.gap_confirmed


def test_the_ordered_source_closing_the_gap_itself() -> None:
    cursor = Cursor("a", 4)
    cursor.accept("a", 6, env(6))
    assert seqs(cursor.accept("a", 5, env(5), ordered=True)) == [5, 6]
    assert (cursor.seq, cursor.ordered_seq, cursor.gap_confirmed) == (6, 6, False)
    cursor.restart("b")
    assert (cursor.ordered_seq, cursor.gap_confirmed) == (0, False)


def test_waiting_is_bounded_in_bytes_too() -> None:
    cursor = Cursor("a", 0)
    big = b"x" * (MAX_WAITING_BYTES // 2 + 1)
    cursor.accept("a", 2, big)
    cursor.accept("a", 3, big)  # would go over the byte bound: not kept, read back later
    assert repr(cursor) == "Cursor(epoch='a', seq=0, waiting=[2])"
    assert [s for s, _ in cursor.fill("a", [(1, b"1"), (2, big), (3, big)])] == [1, 2, 3]
    cursor.accept("a", 5, big)
    assert repr(cursor) == "Cursor(epoch='a', seq=3, waiting=[5])"  # the bytes given back were reused


def test_a_cursor_starts_where_it_is_told() -> None:
    cursor = Cursor("a", 7)
    assert (cursor.epoch, cursor.seq, cursor.ordered_seq, cursor.gap, cursor.gap_confirmed) == ("a", 7, 7, False, False)
    assert seqs(cursor.accept("a", 8, env(8))) == [8]


def test_waiting_bytes_are_counted_exactly() -> None:
    cursor = Cursor("a", 0)
    half = b"x" * (MAX_WAITING_BYTES // 2)
    cursor.accept("a", 3, half)
    cursor.accept("a", 4, half)  # exactly at the byte bound: still kept
    assert repr(cursor) == "Cursor(epoch='a', seq=0, waiting=[3, 4])"
    cursor.accept("a", 5, b"y")  # one byte over: not kept
    assert repr(cursor) == "Cursor(epoch='a', seq=0, waiting=[3, 4])"
    assert [s for s, _ in cursor.fill("a", [(1, b"1"), (2, b"2")])] == [1, 2, 3, 4]
    cursor.accept("a", 7, half)  # all the bytes were given back: room again
    cursor.accept("a", 8, half)
    assert repr(cursor) == "Cursor(epoch='a', seq=4, waiting=[7, 8])"


def test_restart_drops_what_waits_at_or_below_the_new_position() -> None:
    cursor = Cursor("a", 0)
    for seq in (3, 4, 6):
        cursor.accept("a", seq, env(seq))
    cursor.restart("a", 4)
    assert repr(cursor) == "Cursor(epoch='a', seq=4, waiting=[6])"
    assert seqs(cursor.fill("a", [(5, env(5))])) == [5, 6]
