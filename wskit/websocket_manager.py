"""The canonical import path of the manager: `WebSocketManager` and its factory.

`WebSocketManager` is not a second class: it is the very class object
`wskit.unified_manager._UnifiedWebSocketManagerImplementation`, exported under its public name.
"""

from __future__ import annotations

from wskit.core.context import UserContext
from wskit.registry import ManagerRegistry, default_registry
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation

__all__ = ["WebSocketManager", "get_websocket_manager"]

WebSocketManager = _UnifiedWebSocketManagerImplementation


def get_websocket_manager(
    user_context: UserContext | None = None,
    *,
    registry: ManagerRegistry | None = None,
    **unexpected: object,
) -> WebSocketManager:
    """Return the one manager of `user_context.user_id` (synchronous: do not await it).

    Args:
        user_context: a `wskit.UserContext`; the same user always gets the same manager.
        registry: the registry to use (default: the process-wide `default_registry()`).

    Raises:
        TypeError: for anything other than `user_context=UserContext(user_id=...)`.
    """
    if unexpected or not isinstance(user_context, UserContext):
        given = (
            f"keyword argument(s) {', '.join(sorted(unexpected))}"
            if unexpected
            else f"{type(user_context).__name__} {user_context!r}"
        )
        raise TypeError(
            f"get_websocket_manager() takes user_context; pass user_context=UserContext(user_id=...), not {given}"
        )
    if registry is not None and not isinstance(registry, ManagerRegistry):
        raise TypeError(f"registry must be a wskit.ManagerRegistry or None; got {type(registry).__name__}")
    return (default_registry() if registry is None else registry).get_or_create(user_context)
