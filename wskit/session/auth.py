"""Token authentication: HS256 JWTs whose `sub` is the user id and whose `exp` is required.

A server also bounds how long a token may last (`exp - iat`, so `iat` is then required): a
revocation is kept for that long, which covers every token issued before it.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from wskit.core.context import validate_id
from wskit.core.errors import AuthenticationError, InvalidUserContext

__all__ = [
    "MIN_SECRET_BYTES",
    "TokenClaims",
    "generate_secret",
    "load_secret",
    "mint_token",
    "verify_claims",
    "verify_token",
]

MIN_SECRET_BYTES = 32
"""HS256 keys shorter than the hash output (32 bytes) weaken the signature (RFC 7518 3.2)."""

_ALGORITHM = "HS256"


def _check_secret(secret: object) -> bytes:
    if not isinstance(secret, str | bytes):
        raise TypeError(f"secret must be str or bytes; got {type(secret).__name__}")
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(
            f"secret must be at least {MIN_SECRET_BYTES} bytes (got {len(raw)});"
            " generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return raw


def generate_secret() -> str:
    """A fresh random secret suitable for `mint_token` and `verify_token`."""
    return secrets.token_urlsafe(MIN_SECRET_BYTES)


def load_secret(secret_file: str | os.PathLike[str] | None = None, *, environ: dict[str, str] | None = None) -> str:
    """Read the signing secret from `secret_file`, else from `WSKIT_SECRET`; raise `ValueError` if neither."""
    if secret_file is not None:
        path = Path(secret_file)
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read --secret-file {str(path)!r}: {exc.strerror or exc}") from None
    else:
        secret = (os.environ if environ is None else environ).get("WSKIT_SECRET", "").strip()
        if not secret:
            raise ValueError("no secret: set WSKIT_SECRET or pass --secret-file (or --dev for a throwaway secret)")
    _check_secret(secret)
    return secret


def mint_token(user_id: str, secret: str | bytes, *, ttl_seconds: float = 3600.0) -> str:
    """Return a signed token for `user_id` that expires after `ttl_seconds`."""
    validate_id("user_id", user_id)
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float) or not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be a positive number of seconds; got {ttl_seconds!r}")
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + int(max(1, ttl_seconds))}
    return jwt.encode(claims, _check_secret(secret), algorithm=_ALGORITHM)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says: the user (`sub`), when it was issued (`iat`, None if absent) and
    when it expires (`exp`), in seconds since the epoch as the token states them."""

    user_id: str
    issued_at: float | None
    expires_at: float


def verify_token(token: object, secret: str | bytes) -> str:
    """Return the user id a valid token was issued for; raise `AuthenticationError` saying why not."""
    return verify_claims(token, secret).user_id


def verify_claims(token: object, secret: str | bytes, *, max_lifetime: float | None = None) -> TokenClaims:
    """Return the claims of a valid token; raise `AuthenticationError` saying why not.

    With `max_lifetime` (seconds), the token must also carry `iat` and last at most that long.
    """
    key = _check_secret(secret)
    if not isinstance(token, str) or not token:
        raise AuthenticationError(
            "missing token: send 'Authorization: Bearer <token>', subprotocols ['wskit', <token>] or '?token=<token>'"
        )
    try:
        claims = jwt.decode(token, key, algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("token expired: mint a new one") from None
    except jwt.InvalidSignatureError:
        raise AuthenticationError("bad token signature: the token was not signed with this server's secret") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthenticationError(f"token lacks the required {exc.claim!r} claim") from None
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"malformed token: {exc}") from None
    try:
        user_id = validate_id("sub", claims["sub"])
    except InvalidUserContext as exc:
        raise AuthenticationError(f"token subject is not a valid user id: {exc}") from None
    for name in ("exp", "iat"):
        value = claims.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):  # PyJWT also takes "123" and true
            raise AuthenticationError(f"malformed token: {name} must be a number of seconds; got {value!r:.40}")
    verified = TokenClaims(user_id, claims.get("iat"), claims["exp"])
    if max_lifetime is not None:
        if verified.issued_at is None:
            raise AuthenticationError("token lacks the required 'iat' claim (when it was issued)")
        lifetime = verified.expires_at - verified.issued_at
        if lifetime > max_lifetime:
            raise AuthenticationError(
                f"token lasts {lifetime:g} s (exp - iat), longer than this server's limit of {max_lifetime:g} s:"
                " mint a shorter-lived token"
            )
    return verified
