"""wskit: one WebSocket manager, reached through several import paths, proven to be one.

The public surface: `UserContext`, `WebSocketManager`, `get_websocket_manager`,
`ManagerRegistry`, `default_registry`, `AGENT_EVENTS` and the errors wskit raises; the adapters
live in `wskit.serve` (`wskit.asgi` is the ASGI one's public path), tokens in `wskit.session.auth`,
the import-path analyzer in `wskit.ssot`.
"""

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
