"""The WebSocket handshake's rules, the same for every adapter: who is connecting, and from where on.

A client proves who it is with an HS256 JWT in one of three places, looked up in this order:

- ``Authorization: Bearer <token>`` (servers, CLI clients);
- the ``Sec-WebSocket-Protocol`` header, offering ``wskit`` and the token as two subprotocols
  (browsers: ``new WebSocket(url, ["wskit", token])``); the server then selects ``wskit``;
- ``?token=<token>`` (last resort: query strings end up in access logs).

``?last_seq=N`` (with ``&epoch=E``, the epoch of envelope ``N``) asks for a replay of everything
after envelope ``N``. A refusal is a
`HandshakeRefused` with an HTTP status and a one-line reason; nothing here logs a token.
Whether the token was revoked is asked of the backplane by `wskit.session.connection.SessionHost`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from wskit.backplane.base import Position
from wskit.core.envelope import validate_epoch
from wskit.core.errors import AuthenticationError
from wskit.session.auth import TokenClaims, verify_claims

__all__ = ["SUBPROTOCOL", "Handshake", "HandshakeRefused", "accept_handshake", "select_subprotocol"]

SUBPROTOCOL = "wskit"
"""The subprotocol a browser offers beside its token; the server selects it."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """An accepted handshake: the verified token, the resume point, the subprotocol to select, and
    (without a resume point) where the user's stream stood before the upgrade was accepted."""

    claims: TokenClaims
    last_seq: int | None = None
    subprotocol: str | None = None
    epoch: str | None = None
    since: Position | None = None

    @property
    def user_id(self) -> str:
        """The authenticated user (the token's `sub`)."""
        return self.claims.user_id


class HandshakeRefused(Exception):
    """The handshake must be refused with HTTP `status` and the one-line `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


def select_subprotocol(offered: Sequence[str]) -> str | None:
    """`wskit` when the client offered it, else None (no subprotocol)."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def accept_handshake(
    *,
    secret: str | bytes,
    authorization: str | None,
    subprotocols: Sequence[str],
    query: str,
    max_token_lifetime: float | None = None,
) -> Handshake:
    """Authenticate a WebSocket upgrade request; raise `HandshakeRefused` saying why not.

    Args:
        secret: the HS256 secret tokens are signed with.
        authorization: the `Authorization` header, if sent.
        subprotocols: the subprotocols the client offered, in order.
        query: the raw query string of the request URL (without `?`).
        max_token_lifetime: if given, the longest `exp - iat` accepted, in seconds (`iat` required).
    """
    params = urllib.parse.parse_qs(query)
    try:
        token = _token_from(authorization, subprotocols, params)
        claims = verify_claims(token, secret, max_lifetime=max_token_lifetime)
    except AuthenticationError as exc:
        raise HandshakeRefused(401, str(exc)) from None
    last_seq = None
    values = params.get("last_seq")
    if values is not None:
        text = values[0]
        if not (text.isascii() and text.isdigit()):
            raise HandshakeRefused(400, f"last_seq must be a non-negative integer; got {text!r}")
        last_seq = int(text)
    epoch = None
    epochs = params.get("epoch")
    if epochs is not None:
        try:
            epoch = validate_epoch(epochs[0])
        except ValueError as exc:
            raise HandshakeRefused(400, str(exc)) from None
        if last_seq is None:
            raise HandshakeRefused(400, "epoch only means something with last_seq; send both or neither")
    return Handshake(claims, last_seq, select_subprotocol(subprotocols), epoch)


def _token_from(authorization: str | None, subprotocols: Sequence[str], params: dict[str, list[str]]) -> str | None:
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("malformed Authorization header: expected 'Bearer <token>'")
        return token.strip()
    if SUBPROTOCOL in subprotocols:
        others = [value for value in subprotocols if value != SUBPROTOCOL]
        if len(others) != 1:
            raise AuthenticationError(
                f"offer exactly two subprotocols, {SUBPROTOCOL!r} and the token; got {len(others)} besides"
                f" {SUBPROTOCOL!r}"
            )
        return others[0]
    tokens = params.get("token")
    return tokens[0] if tokens else None
