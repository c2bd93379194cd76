"""wskit: one WebSocket manager, reached through several import paths, proven to be one.

The public surface: `UserContext`, `WebSocketManager`, `get_websocket_manager`,
`ManagerRegistry`, `default_registry`, `AGENT_EVENTS` and the errors wskit raises; the adapters
live in `wskit.serve` (`wskit.asgi` is the ASGI one's public path), tokens in `wskit.session.auth`,
the import-path analyzer in `wskit.ssot`.

The names are imported on first use, so that `wskit ssot ...` and `import wskit.ssot` do not load
the runtime (websockets, asyncio, the registry).
"""

from typing import TYPE_CHECKING

from wskit.exports import lazy_exports

if TYPE_CHECKING:
    from wskit.core.context import UserContext
    from wskit.core.envelope import AGENT_EVENTS
    from wskit.core.errors import (
        AuthenticationError,
        BackplaneUnavailable,
        ConnectionRejected,
        FactoryOnlyError,
        InvalidUserContext,
        IsolationError,
        RegistryFullError,
        WskitError,
    )
    from wskit.registry import ManagerRegistry, default_registry
    from wskit.websocket_manager import WebSocketManager, get_websocket_manager

__all__ = [
    "AGENT_EVENTS",
    "AuthenticationError",
    "BackplaneUnavailable",
    "ConnectionRejected",
    "FactoryOnlyError",
    "InvalidUserContext",
    "IsolationError",
    "ManagerRegistry",
    "RegistryFullError",
    "UserContext",
    "WebSocketManager",
    "WskitError",
    "__version__",
    "default_registry",
    "get_websocket_manager",
]

__version__ = "0.1.0"

_ERRORS = ("AuthenticationError", "BackplaneUnavailable", "ConnectionRejected", "FactoryOnlyError",
           "InvalidUserContext", "IsolationError", "RegistryFullError", "WskitError")  # fmt: skip
_HOMES = {
    "UserContext": "wskit.core.context",
    "AGENT_EVENTS": "wskit.core.envelope",
    "ManagerRegistry": "wskit.registry",
    "default_registry": "wskit.registry",
    "WebSocketManager": "wskit.websocket_manager",
    "get_websocket_manager": "wskit.websocket_manager",
} | dict.fromkeys(_ERRORS, "wskit.core.errors")
"""Where each public name is defined."""

if not TYPE_CHECKING:  # mypy reads the names above, and reports a misspelled one
    __getattr__, __dir__ = lazy_exports(__name__, _HOMES)
