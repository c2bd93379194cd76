"""Deprecated import path, kept so old code keeps working: use `wskit.websocket_manager`.

Importing this module is silent; calling `create_websocket_manager` warns.
"""

from __future__ import annotations

import warnings

from wskit.core.context import UserContext
from wskit.registry import ManagerRegistry
from wskit.websocket_manager import WebSocketManager, get_websocket_manager

__all__ = ["create_websocket_manager"]


def create_websocket_manager(
    user_context: UserContext | None = None,
    *,
    registry: ManagerRegistry | None = None,
    **unexpected: object,
) -> WebSocketManager:
    """Deprecated alias of `wskit.get_websocket_manager`; returns exactly what it returns."""
    warnings.warn(
        "create_websocket_manager() is deprecated; call wskit.get_websocket_manager(user_context) instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return get_websocket_manager(user_context, registry=registry, **unexpected)
