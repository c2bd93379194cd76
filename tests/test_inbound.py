from __future__ import annotations

import pytest

from wskit.session.inbound import FrameError, FrameRateLimiter, Ping, Refresh, Resume, UserMessage, parse_frame


def test_valid_frames() -> None:
    assert parse_frame('{"type": "ping"}') == Ping()
    assert parse_frame('{"type": "resume", "last_seq": 7}') == Resume(7)
    assert parse_frame('{"type": "resume", "last_seq": 7, "epoch": "a1-2"}') == Resume(7, "a1-2")
    assert parse_frame('{"type": "user_message", "payload": "hi", "thread_id": "t1"}') == UserMessage("hi", "t1")
    assert parse_frame('{"type": "user_message", "payload": {"a": 1}, "thread_id": "t1", "run_id": "r"}') == (
        UserMessage({"a": 1}, "t1", "r")
    )
    assert parse_frame('{"type": "refresh", "token": "a.b.c"}') == Refresh("a.b.c")
    assert "a.b.c" not in repr(Refresh("a.b.c"))  # a token never reaches a log line through a repr


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01", "binary_frame"),
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('"text"', "invalid_frame"),
        ('{"type": "shutdown"}', "unknown_type"),
        ('{"payload": 1}', "unknown_type"),
        ('{"type": ["ping"]}', "unknown_type"),  # found by tests/test_fuzz.py: unhashable types
        ('{"type": {"a": 1}}', "unknown_type"),
        ('{"type": "resume", "last_seq": -1}', "invalid_field"),
        ('{"type": "resume", "last_seq": true}', "invalid_field"),
        ('{"type": "resume"}', "invalid_field"),
        ('{"type": "resume", "last_seq": 1, "epoch": 5}', "invalid_field"),
        ('{"type": "resume", "last_seq": 1, "epoch": "a b"}', "invalid_field"),
        ('{"type": "ping", "extra": 1}', "unknown_field"),
        ('{"type": "user_message", "thread_id": "t1"}', "missing_field"),
        ('{"type": "user_message", "payload": "x"}', "missing_field"),
        ('{"type": "user_message", "payload": "x", "thread_id": "bad id"}', "invalid_field"),
        ('{"type": "user_message", "payload": "x", "thread_id": 5}', "invalid_field"),
        ('{"type": "refresh"}', "invalid_field"),
        ('{"type": "refresh", "token": ""}', "invalid_field"),
        ('{"type": "refresh", "token": 5}', "invalid_field"),
        ('{"type": "refresh", "token": "t", "user": "bob"}', "unknown_field"),
    ],
)
def test_bad_frames_get_a_code_and_a_detail(frame: str | bytes, code: str) -> None:
    result = parse_frame(frame)
    assert isinstance(result, FrameError)
    assert result.code == code
    assert result.detail and "\n" not in result.detail
    assert result.as_message() == {"type": "error", "code": code, "detail": result.detail}


def test_rate_limiter_allows_a_burst_then_the_sustained_rate() -> None:
    now = [0.0]
    limiter = FrameRateLimiter(per_second=2, burst=3, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [limiter.allow() for _ in range(2)] == [True, False]
    with pytest.raises(ValueError, match="rate limit needs"):
        FrameRateLimiter(per_second=0)
