"""The exceptions wskit raises; each message says what was wrong and what to do instead."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BackplaneUnavailable",
    "ConnectionRejected",
    "FactoryOnlyError",
    "InvalidUserContext",
    "IsolationError",
    "RegistryFullError",
    "WskitError",
]


class WskitError(Exception):
    """Base class of every wskit-specific error."""


class InvalidUserContext(WskitError, ValueError):
    """A `UserContext` field broke its rule (the message names the field and the rule)."""


class FactoryOnlyError(WskitError, TypeError):
    """The manager was instantiated directly instead of through its factory."""


class IsolationError(WskitError):
    """An operation would let one user's manager touch another user's connection."""


class RegistryFullError(WskitError, RuntimeError):
    """The registry holds its maximum number of managers and none of them is idle."""


class BackplaneUnavailable(WskitError, ConnectionError):
    """The backplane (e.g. Redis) could not store or fetch envelopes; nothing was sent."""


class AuthenticationError(WskitError):
    """A token was missing, malformed, wrongly signed or expired (the message says which)."""


class ConnectionRejected(WskitError):
    """The server refused the WebSocket handshake; `status` is its HTTP status code."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"server rejected the connection: HTTP {status}: {reason}")
        self.status = status
        self.reason = reason
