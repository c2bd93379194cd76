from __future__ import annotations

import time

import jwt
import pytest

from wskit.core.errors import AuthenticationError
from wskit.session.auth import TokenClaims, generate_secret, load_secret, mint_token, verify_claims, verify_token

SECRET = "s" * 40


def test_minted_token_verifies_to_its_user() -> None:
    assert verify_token(mint_token("alice@example.com", SECRET), SECRET) == "alice@example.com"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing token"),
        ("", "missing token"),
        ("not-a-jwt", "malformed token"),
        (mint_token("alice", "x" * 40), "bad token signature"),
        (jwt.encode({"sub": "alice", "exp": int(time.time()) - 5}, SECRET, algorithm="HS256"), "token expired"),
        (jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"), "lacks the required 'exp' claim"),
        (jwt.encode({"exp": int(time.time()) + 3600}, SECRET, algorithm="HS256"), "lacks the required 'sub' claim"),
        (jwt.encode({"sub": "bad id", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256"), "not a valid user"),
        (jwt.encode({"sub": "alice", "exp": int(time.time()) + 999}, SECRET * 2, algorithm="HS384"), "malformed token"),
    ],
)
def test_bad_tokens_say_why(token: object, reason: str) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        verify_token(token, SECRET)


def test_unsigned_alg_none_token_is_refused() -> None:
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(AuthenticationError):
        verify_token(token, SECRET)


def test_short_secrets_and_bad_ttl_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        mint_token("alice", "short")
    with pytest.raises(ValueError, match="ttl_seconds must be a positive"):
        mint_token("alice", SECRET, ttl_seconds=0)
    assert len(generate_secret()) >= 32


def test_load_secret_prefers_file_then_environment(tmp_path: pytest.TempPathFactory) -> None:
    secret_file = tmp_path / "secret"  # type: ignore[operator]
    secret_file.write_text(SECRET + "\n")
    assert load_secret(secret_file, environ={}) == SECRET
    assert load_secret(None, environ={"WSKIT_SECRET": "e" * 32}) == "e" * 32
    with pytest.raises(ValueError, match="set WSKIT_SECRET or pass --secret-file"):
        load_secret(None, environ={})
    with pytest.raises(ValueError, match="cannot read --secret-file"):
        load_secret(tmp_path / "missing", environ={})  # type: ignore[operator]


def test_claims_say_who_when_issued_and_until_when() -> None:
    minted = verify_claims(mint_token("alice", SECRET, ttl_seconds=60), SECRET)
    assert minted.user_id == "alice" and minted.issued_at is not None
    assert 0 <= time.time() - minted.issued_at < 2 and minted.expires_at - minted.issued_at == 60
    now = int(time.time())
    fractional = jwt.encode({"sub": "bob", "iat": now + 0.5 - 1, "exp": now + 30.25}, SECRET, algorithm="HS256")
    assert verify_claims(fractional, SECRET) == TokenClaims("bob", now - 0.5, now + 30.25)
    no_iat = jwt.encode({"sub": "bob", "exp": now + 30}, SECRET, algorithm="HS256")
    assert verify_claims(no_iat, SECRET) == TokenClaims("bob", None, now + 30)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": "99999999999"}, "malformed token: exp must be a number of seconds; got '99999999999'"),
        ({"exp": 9999999999, "iat": True}, "malformed token: iat must be a number of seconds; got True"),
        ({"exp": 9999999999, "iat": "1"}, "malformed token: iat must be a number of seconds; got '1'"),
    ],
)
def test_time_claims_must_be_numbers(claims: dict[str, object], reason: str) -> None:
    with pytest.raises(AuthenticationError, match=f"^{reason}$"):
        verify_claims(jwt.encode({"sub": "alice", **claims}, SECRET, algorithm="HS256"), SECRET)


def test_a_lifetime_bound_needs_iat_and_holds_at_the_bound() -> None:
    now = int(time.time())
    at_bound = jwt.encode({"sub": "a", "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")
    assert verify_claims(at_bound, SECRET, max_lifetime=600).expires_at == now + 600
    over = jwt.encode({"sub": "a", "iat": now, "exp": now + 600.5}, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match=r"^token lasts 600.5 s \(exp - iat\), longer than this server's limit"
                       r" of 600 s: mint a shorter-lived token$"):  # fmt: skip
        verify_claims(over, SECRET, max_lifetime=600)
    assert verify_claims(over, SECRET).user_id == "a"  # no bound, no refusal
    no_iat = jwt.encode({"sub": "a", "exp": now + 10}, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match=r"^token lacks the required 'iat' claim \(when it was issued\)$"):
        verify_claims(no_iat, SECRET, max_lifetime=600)
