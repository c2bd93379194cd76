from __future__ import annotations

import time

import jwt
import pytest

from wskit.core.errors import AuthenticationError
from wskit.session.auth import generate_secret, load_secret, mint_token, verify_token

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
        (jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256"), "lacks the required 'sub' claim"),
        (jwt.encode({"sub": "bad id", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"), "not a valid user"),
        (jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET * 2, algorithm="HS384"), "malformed token"),
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
