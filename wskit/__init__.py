"""wskit: one WebSocket manager, reached through several import paths, proven to be one.

The public surface: `UserContext`, `WebSocketManager`, `get_websocket_manager`,
`ManagerRegistry`, `default_registry`, `AGENT_EVENTS`; servers and clients live in
`wskit.server` and `wskit.client`, the import-path analyzer in `wskit.ssot`.
"""

from wskit.context import UserContext
from wskit.envelope import AGENT_EVENTS
from wskit.registry import ManagerRegistry, default_registry
from wskit.websocket_manager import WebSocketManager, get_websocket_manager

__all__ = [
    "AGENT_EVENTS",
    "ManagerRegistry",
    "UserContext",
    "WebSocketManager",
    "__version__",
    "default_registry",
    "get_websocket_manager",
]

__version__ = "0.1.0"
