from __future__ import annotations

import pytest

from wskit.inbound import FrameError, Ping, UserMessage, parse_frame


def test_valid_frames() -> None:
    assert parse_frame('{"type": "ping"}') == Ping()
    assert parse_frame('{"type": "user_message", "payload": "hi", "thread_id": "t1"}') == UserMessage("hi", "t1")
    assert parse_frame('{"type": "user_message", "payload": {"a": 1}, "thread_id": "t1", "run_id": "r"}') == (
        UserMessage({"a": 1}, "t1", "r")
    )


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01", "binary_frame"),
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('"text"', "invalid_frame"),
        ('{"type": "shutdown"}', "unknown_type"),
        ('{"payload": 1}', "unknown_type"),
        ('{"type": "ping", "extra": 1}', "unknown_field"),
        ('{"type": "user_message", "thread_id": "t1"}', "missing_field"),
        ('{"type": "user_message", "payload": "x"}', "missing_field"),
        ('{"type": "user_message", "payload": "x", "thread_id": "bad id"}', "invalid_field"),
        ('{"type": "user_message", "payload": "x", "thread_id": 5}', "invalid_field"),
    ],
)
def test_bad_frames_get_a_code_and_a_detail(frame: str | bytes, code: str) -> None:
    result = parse_frame(frame)
    assert isinstance(result, FrameError)
    assert result.code == code
    assert result.detail and "\n" not in result.detail
    assert result.as_message() == {"type": "error", "code": code, "detail": result.detail}
