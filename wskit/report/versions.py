"""The versions a set of notebooks' reference outputs were made with (`reference_versions.json`).

A notebook whose outputs show a third-party package's code (notebook 05 reads redis-py) holds
for one release of it. `wskit notebooks` records the installed versions of the packages the file
lists before it re-executes the notebooks; a notebook compares them with its environment first.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

__all__ = ["REFERENCE_VERSIONS", "record_reference_versions", "write_reference_versions"]

REFERENCE_VERSIONS = "reference_versions.json"
"""Beside the notebooks: package name -> the version their reference outputs were made with."""


def record_reference_versions(directory: str | os.PathLike[str]) -> dict[str, str] | None:
    """Set every package listed in `directory`'s reference_versions.json to its installed version.

    Called before notebooks are re-executed to become nbval's reference. Returns the file's previous
    contents (to put back if the run fails), or None when the directory has no such file. Raises
    `ValueError` when the file cannot be read or lists a package that is not installed.
    """
    path = Path(directory) / REFERENCE_VERSIONS
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text())
        assert isinstance(previous, dict)
    except (ValueError, AssertionError):
        raise ValueError(f"{path} must hold a JSON object of package names and versions") from None
    try:
        current = {name: importlib.metadata.version(name) for name in previous}
    except importlib.metadata.PackageNotFoundError as exc:
        raise ValueError(f"{path} lists {exc.name}, which is not installed here: install it or remove it") from None
    write_reference_versions(directory, current)
    return {str(name): str(version) for name, version in previous.items()}


def write_reference_versions(directory: str | os.PathLike[str], versions: dict[str, str]) -> None:
    """Write `versions` (package name to version) as `directory`'s reference_versions.json."""
    (Path(directory) / REFERENCE_VERSIONS).write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
