"""The handshake's rules, without a server: where the token comes from, the resume point, refusals."""

from __future__ import annotations

import time

import jwt
import pytest

from wskit.session.auth import generate_secret, mint_token, verify_claims
from wskit.session.handshake import SUBPROTOCOL, Handshake, HandshakeRefused, accept_handshake, select_subprotocol

SECRET = generate_secret()
ALICE = mint_token("alice", SECRET)
BOB = mint_token("bob", SECRET)
ALICE_CLAIMS = verify_claims(ALICE, SECRET)


def accept(authorization: str | None = None, subprotocols: tuple[str, ...] = (), query: str = "") -> Handshake:
    return accept_handshake(secret=SECRET, authorization=authorization, subprotocols=subprotocols, query=query)


def refusal(**request: object) -> tuple[int, str]:
    with pytest.raises(HandshakeRefused) as info:
        accept(**request)  # type: ignore[arg-type]
    assert str(info.value) == f"HTTP {info.value.status}: {info.value.reason}"
    return info.value.status, info.value.reason


def test_token_from_each_place() -> None:
    assert accept(f"Bearer {ALICE}") == Handshake(ALICE_CLAIMS, None, None)
    assert accept(f"bearer   {ALICE}  ") == Handshake(ALICE_CLAIMS, None, None)
    assert accept(subprotocols=(SUBPROTOCOL, ALICE)) == Handshake(ALICE_CLAIMS, None, "wskit")
    assert accept(subprotocols=(ALICE, SUBPROTOCOL)) == Handshake(ALICE_CLAIMS, None, "wskit")
    assert accept(query=f"token={ALICE}") == Handshake(ALICE_CLAIMS, None, None)


def test_the_header_wins_over_the_subprotocol_and_the_query() -> None:
    assert accept(f"Bearer {ALICE}", (SUBPROTOCOL, BOB), f"token={BOB}").user_id == "alice"
    assert accept(None, (SUBPROTOCOL, ALICE), f"token={BOB}").user_id == "alice"
    # A header that is there but wrong is refused, not skipped for the next place.
    assert refusal(authorization=f"Basic {ALICE}", query=f"token={ALICE}")[1] == (
        "malformed Authorization header: expected 'Bearer <token>'"
    )


def test_wskit_is_selected_whenever_it_is_offered() -> None:
    assert accept(f"Bearer {ALICE}", (SUBPROTOCOL, BOB)).subprotocol == "wskit"
    assert accept(f"Bearer {ALICE}", ("chat",)).subprotocol is None
    assert select_subprotocol(["chat", "wskit"]) == "wskit"
    assert select_subprotocol(["chat"]) is None
    assert select_subprotocol([]) is None


@pytest.mark.parametrize(
    ("request_", "status", "reason"),
    [
        ({}, 401, "missing token"),
        ({"authorization": "Bearer "}, 401, "malformed Authorization header"),
        ({"authorization": "Bearer"}, 401, "malformed Authorization header"),
        ({"authorization": "Token abc"}, 401, "malformed Authorization header"),
        ({"authorization": "Bearer not-a-jwt"}, 401, "malformed token"),
        ({"subprotocols": (SUBPROTOCOL,)}, 401, "offer exactly two subprotocols, 'wskit' and the token; got 0"),
        ({"subprotocols": (SUBPROTOCOL, ALICE, BOB)}, 401, "got 2 besides 'wskit'"),
        ({"subprotocols": (ALICE,)}, 401, "missing token"),  # without 'wskit' it is not a token
        ({"query": "token="}, 401, "missing token"),
        ({"query": f"token={mint_token('alice', generate_secret())}"}, 401, "bad token signature"),
    ],
)
def test_refusals_say_why_in_one_line(request_: dict[str, object], status: int, reason: str) -> None:
    got_status, got_reason = refusal(**request_)
    assert got_status == status
    assert reason in got_reason and "\n" not in got_reason


def test_expired_and_foreign_tokens_are_refused() -> None:
    expired = jwt.encode({"sub": "alice", "exp": int(time.time()) - 5}, SECRET, algorithm="HS256")
    foreign = mint_token("alice", generate_secret())
    assert refusal(authorization=f"Bearer {expired}") == (401, "token expired: mint a new one")
    assert refusal(authorization=f"Bearer {foreign}")[1].startswith("bad token signature")


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("17", 17), ("007", 7)])
def test_last_seq_is_the_resume_point(value: str, expected: int) -> None:
    assert accept(f"Bearer {ALICE}", query=f"last_seq={value}") == Handshake(ALICE_CLAIMS, expected, None)
    assert accept(query=f"token={ALICE}&last_seq={value}").last_seq == expected


@pytest.mark.parametrize("value", ["-1", "x", "1.5", "\u0661", "%20"])
def test_a_bad_last_seq_is_a_400(value: str) -> None:
    status, reason = refusal(authorization=f"Bearer {ALICE}", query=f"last_seq={value}")
    assert status == 400
    assert reason.startswith("last_seq must be a non-negative integer; got ")


def test_the_token_is_checked_before_last_seq() -> None:
    assert refusal(query="last_seq=x")[0] == 401


def test_epoch_goes_with_last_seq() -> None:
    assert accept(f"Bearer {ALICE}", query="last_seq=4&epoch=ab12-3") == Handshake(ALICE_CLAIMS, 4, None, "ab12-3")
    assert refusal(authorization=f"Bearer {ALICE}", query="epoch=ab12") == (
        400, "epoch only means something with last_seq; send both or neither",
    )  # fmt: skip
    status, reason = refusal(authorization=f"Bearer {ALICE}", query="last_seq=4&epoch=no%20spaces")
    assert status == 400 and reason.startswith("epoch must be the epoch of an envelope the client received")
