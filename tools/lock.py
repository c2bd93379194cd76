"""The development environment's lock: compile it from pyproject.toml, check it still fits, show a pin.

    python tools/lock.py compile [--upgrade]   regenerate requirements-dev.lock with uv (make lock)
    python tools/lock.py check                  the lock satisfies pyproject.toml (make lint)
    python tools/lock.py pin NAME               the lock's entry for NAME, hashes included

The lock holds every package of `pip install -e '.[dev]'` plus the build backend (wskit is installed
from it without build isolation), for every platform, with their hashes. `check` and `pin` need only
the standard library and `packaging`; `pin` runs before anything else is installed (pip vendors
packaging, so the bare venv's interpreter can run it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip carries its own copy
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement  # type: ignore[assignment]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment]

TOP = Path(__file__).resolve().parent.parent
PYPROJECT = TOP / "pyproject.toml"
LOCK = TOP / "requirements-dev.lock"
EXTRA = "dev"
PYTHON_VERSION = "3.11"
"""The oldest Python the project supports; the lock is universal from there on."""
FIX = "run make lock"


class LockError(Exception):
    """The lock does not fit pyproject.toml; the message is one line that says what to do."""


@dataclass(frozen=True)
class Pin:
    """One entry of the lock: `name==version ; marker` and the lines that follow it (hashes)."""

    name: str
    version: str
    text: str


def read_lock(path: Path = LOCK) -> list[Pin]:
    """The entries of a lock written by `uv pip compile --generate-hashes`."""
    if not path.exists():
        raise LockError(f"{path.name} is missing: {FIX}")
    pins: list[Pin] = []
    entry: list[str] = []
    for line in [*path.read_text().splitlines(), ""]:
        if line.startswith((" ", "\t")) and entry:
            if not line.strip().startswith("#"):
                entry.append(line)
            continue
        if entry:
            head = entry[0].rstrip(" \\")
            try:
                requirement = Requirement(head)
            except InvalidRequirement as exc:
                raise LockError(f"{path.name}: cannot read {head!r} ({exc}): {FIX}") from None
            version = next((s.version for s in requirement.specifier if s.operator == "=="), "")
            if not version:
                raise LockError(f"{path.name}: {head!r} is not pinned with ==: {FIX}")
            pins.append(Pin(canonicalize_name(requirement.name), version, "\n".join(entry)))
            entry = []
        if line and not line.startswith("#") and not line[0].isspace():
            entry = [line]
    return pins


def declared(path: Path = PYPROJECT) -> list[tuple[Requirement, str]]:
    """What pyproject.toml asks for in the locked environment, each with where it says so."""
    data = tomllib.loads(path.read_text())
    found = [(r, "[build-system] requires") for r in data.get("build-system", {}).get("requires", [])]
    project = data.get("project", {})
    found += [(r, "[project] dependencies") for r in project.get("dependencies", [])]
    found += [(r, f"[project.optional-dependencies] {EXTRA}") for r in project["optional-dependencies"][EXTRA]]
    return [(Requirement(text), where) for text, where in found]


def check(pyproject: Path = PYPROJECT, lock: Path = LOCK) -> list[str]:
    """One line per requirement of pyproject.toml the lock does not satisfy; empty when it fits."""
    pins: dict[str, list[Pin]] = {}
    for pin in read_lock(lock):
        pins.setdefault(pin.name, []).append(pin)
    problems: list[str] = []
    for requirement, where in declared(pyproject):
        name = canonicalize_name(requirement.name)
        if name == "wskit":
            continue  # the project's own extras (none today) come from the tree, not the lock
        locked = pins.get(name, [])
        if not locked:
            problems.append(f"{lock.name}: {requirement} ({pyproject.name}, {where}) is not locked: {FIX}")
            continue
        outside = [p.version for p in locked if not requirement.specifier.contains(p.version, prereleases=True)]
        if outside:
            problems.append(
                f"{lock.name}: {requirement.name} is locked at {', '.join(outside)}, outside "
                f"{requirement.specifier} ({pyproject.name}, {where}): {FIX}"
            )
    return problems


def pin(name: str, lock: Path = LOCK) -> str:
    """The lock's entry for `name` (for the current platform when it has several), as pip reads it."""
    wanted = canonicalize_name(name)
    for entry in read_lock(lock):
        head = entry.text.splitlines()[0].rstrip(" \\")
        marker = Requirement(head).marker
        if entry.name == wanted and (marker is None or marker.evaluate()):
            return entry.text
    raise LockError(f"{lock.name} has no entry for {name}: {FIX}")


def compile_lock(*, upgrade: bool) -> int:
    """Regenerate the lock with uv; `upgrade` moves every pin to the newest release its range allows."""
    build = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    command = [
        str(Path(sys.executable).parent / "uv"), "pip", "compile", str(PYPROJECT.name), "-",
        "--extra", EXTRA, "--universal", "--python-version", PYTHON_VERSION, "--generate-hashes",
        "--quiet", "--output-file", LOCK.name, "--custom-compile-command", "make lock",
    ]  # fmt: skip
    if upgrade:
        command.append("--upgrade")
    return subprocess.run(command, input="\n".join(build), text=True, cwd=TOP, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/lock.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compiling = commands.add_parser("compile", help="regenerate the lock")
    compiling.add_argument("--upgrade", action="store_true", help="move every pin to its newest allowed release")
    commands.add_parser("check", help="fail with one line per requirement the lock does not satisfy")
    pinning = commands.add_parser("pin", help="print the lock's entry for a package")
    pinning.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "compile":
            return compile_lock(upgrade=args.upgrade)
        if args.command == "pin":
            print(pin(args.name))
            return 0
        problems = check()
    except LockError as exc:
        print(exc, file=sys.stderr)
        return 1
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
