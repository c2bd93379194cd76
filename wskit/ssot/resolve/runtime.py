"""Runtime resolution: import each path in its own fresh interpreter, in parallel, with a timeout.

A separate process per path means one path's import side effects (monkeypatching, registries,
warnings filters) or crash cannot change another path's answer.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wskit.ssot.resolve.import_path import ImportPath

# subprocess, tempfile, pickle and the thread pool are imported where used: static mode and the
# command line's start-up never need them.

__all__ = ["ProbeCall", "call_by_path", "encode_probe", "resolve_at_runtime"]

_WORKER = Path(__file__).with_name("_runtime_worker.py")


class ProbeCall:
    """Explicit arguments for a factory probe: `ProbeCall(ctx, registry=None)` calls `factory(ctx, registry=None)`.

    Any other probe value is passed as the single positional argument; a callable probe is called
    first (with no arguments) to build that value.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"ProbeCall({', '.join(parts)})"


def call_by_path(target: str, *args: Any, **kwargs: Any) -> Any:
    """Import `module:callable` and call it; the probe a configuration file describes."""
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)(*args, **kwargs)


def encode_probe(probe: object) -> str | None:
    """Pickle a probe for the worker; raise `ValueError` when it cannot travel to another process."""
    if probe is None:
        return None
    import pickle

    try:
        return base64.b64encode(pickle.dumps(probe)).decode()
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"probe cannot be sent to the import subprocess ({exc}); use a value, a module-level callable or"
            " functools.partial of one (not a lambda or a function defined in a notebook)"
        ) from None


def _failed(detail: str) -> dict[str, Any]:
    return {
        "kind": "unknown",
        "status": "failed",
        "resolved": None,
        "defined_at": None,
        "deprecated": False,
        "detail": detail,
        "warnings": [],
        "findings": [],
    }


def _resolve_one(path: ImportPath, search_path: list[str], probe: str | None, timeout: float) -> dict[str, Any]:
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wskit-ssot-") as work:
        request, result = Path(work, "request.json"), Path(work, "result.json")
        request.write_text(
            json.dumps({"module": path.module, "name": path.name, "search_path": search_path, "probe": probe}),
            encoding="utf-8",
        )
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            completed = subprocess.run(
                [sys.executable, "-P", str(_WORKER), str(request), str(result)],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _failed(f"import timed out after {timeout:g} s")
        if not result.is_file():
            tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            return _failed(f"the import ended the interpreter (exit code {completed.returncode}): {tail[:200]}")
        data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        return data


def resolve_at_runtime(
    paths: Sequence[ImportPath],
    *,
    search_path: Sequence[str | os.PathLike[str]] = (),
    probe: object = None,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Resolve every path in its own subprocess; results are in the order of `paths`."""
    from concurrent.futures import ThreadPoolExecutor

    encoded = encode_probe(probe)
    roots = [str(Path(p).resolve()) for p in search_path]
    workers = max(1, min(len(paths), os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: _resolve_one(p, roots, encoded, timeout), paths))
