"""The reference agent flow: the five agent events, in order, to one user only."""

from __future__ import annotations

from typing import Any

from wskit.core.envelope import encode_json
from wskit.unified_manager import _UnifiedWebSocketManagerImplementation as Manager

__all__ = ["run_reference_agent"]


async def run_reference_agent(manager: Manager, payload: Any, *, thread_id: str, run_id: str) -> str:
    """Answer `payload` with a deterministic one-tool run; emits all five events; returns the answer.

    The tool counts the words of the input (a str, or the JSON of anything else), so every run
    is reproducible and its events can be checked exactly.
    """
    text = payload if isinstance(payload, str) else encode_json(payload)
    words = len(text.split())
    ids = {"thread_id": thread_id, "run_id": run_id}
    await manager.emit("agent_started", {"agent": "reference", "input": payload}, **ids)
    await manager.emit("agent_thinking", {"thought": "counting the words of the input"}, **ids)
    await manager.emit("tool_executing", {"tool": "word_count", "args": {"text": text}}, **ids)
    await manager.emit("tool_completed", {"tool": "word_count", "result": {"words": words}}, **ids)
    answer = f"your message has {words} word{'' if words == 1 else 's'}"
    await manager.emit("agent_completed", {"result": answer}, **ids)
    return answer
