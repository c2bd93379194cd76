from __future__ import annotations

import dataclasses

import pytest

from wskit import UserContext
from wskit.core.errors import InvalidUserContext


def test_valid_context_keeps_its_fields() -> None:
    context = UserContext(user_id="alice@example.com", thread_id="t-1", run_id="run:2", request_id="r.3")
    assert (context.user_id, context.thread_id, context.run_id, context.request_id) == (
        "alice@example.com",
        "t-1",
        "run:2",
        "r.3",
    )


def test_context_is_frozen() -> None:
    context = UserContext(user_id="alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.user_id = "mallory"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user_id": ""}, "user_id"),
        ({"user_id": "a" * 129}, "user_id"),
        ({"user_id": "has space"}, "user_id"),
        ({"user_id": "semi;colon"}, "user_id"),
        ({"user_id": 42}, "user_id"),
        ({"user_id": None}, "user_id"),
        ({"user_id": "ok", "thread_id": ""}, "thread_id"),
        ({"user_id": "ok", "run_id": "x/y"}, "run_id"),
        ({"user_id": "ok", "request_id": 7}, "request_id"),
    ],
)
def test_invalid_ids_name_the_field_and_rule(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidUserContext) as info:
        UserContext(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"{field} must be")
    assert "[A-Za-z0-9._:@-]" in message and "128" in message
    assert isinstance(info.value, ValueError)


def test_longest_allowed_id_is_accepted() -> None:
    assert UserContext(user_id="a" * 128).user_id == "a" * 128
