"""The development environment is the lock: it fits pyproject.toml, and this environment is it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

TOP = Path(__file__).parent.parent


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_tool", TOP / "tools" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


lock = load_tool()


def test_the_committed_lock_satisfies_pyproject() -> None:
    assert lock.check() == []


def test_this_environment_is_the_locked_one() -> None:
    """What `make venv` guarantees: every locked package for this platform at its locked version."""
    wrong = []
    for pin in lock.read_lock():
        marker = Requirement(pin.text.splitlines()[0].rstrip(" \\")).marker
        if marker is not None and not marker.evaluate():
            continue
        installed = importlib.metadata.version(pin.name)
        if installed != pin.version:
            wrong.append(f"{pin.name} {installed} (locked {pin.version})")
    assert not wrong, f"installed versions differ from {lock.LOCK.name}: {', '.join(wrong)}: run make venv"


def test_every_pin_is_hashed() -> None:
    pins = lock.read_lock()
    assert len(pins) > 100
    assert all("--hash=sha256:" in pin.text for pin in pins)
    assert {"uv", "setuptools", "redis", "pytest"} <= {pin.name for pin in pins}


def project(tmp_path: Path, dev: list[str], dependencies: tuple[str, ...] = ("websockets>=14.1",)) -> Path:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\n[project]\nname = "x"\n'
        f"dependencies = {list(dependencies)!r}\n[project.optional-dependencies]\ndev = {dev!r}\n".replace("'", '"')
    )
    return pyproject


LOCKED = """# a comment
setuptools==80.0 \\
    --hash=sha256:aa
websockets==17.4 \\
    --hash=sha256:bb
    # via x
numpy==2.4.6 ; python_full_version < '3.12' \\
    --hash=sha256:cc
numpy==2.5.5 ; python_full_version >= '3.12' \\
    --hash=sha256:dd
"""


def test_a_dependency_added_to_pyproject_and_not_locked_is_named(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.lock").write_text(LOCKED)
    problems = lock.check(project(tmp_path, ["httpx>=0.27"]), tmp_path / "requirements-dev.lock")
    assert problems == [
        "requirements-dev.lock: httpx>=0.27 (pyproject.toml, [project.optional-dependencies] dev) "
        "is not locked: run make lock"
    ]


def test_a_locked_version_outside_its_range_is_named(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.lock").write_text(LOCKED)
    problems = lock.check(project(tmp_path, ["numpy>=2.5"], ("websockets>=18",)), tmp_path / "requirements-dev.lock")
    assert problems == [
        "requirements-dev.lock: websockets is locked at 17.4, outside >=18 (pyproject.toml, [project] dependencies): "
        "run make lock",
        "requirements-dev.lock: numpy is locked at 2.4.6, outside >=2.5 (pyproject.toml, "
        "[project.optional-dependencies] dev): run make lock",
    ]


def test_the_build_backend_is_locked_too(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.lock").write_text(LOCKED.replace("setuptools==80.0", "setuptools==60.0"))
    problems = lock.check(project(tmp_path, ["numpy>=2"]), tmp_path / "requirements-dev.lock")
    assert problems == [
        "requirements-dev.lock: setuptools is locked at 60.0, outside >=68 (pyproject.toml, [build-system] requires): "
        "run make lock"
    ]


def test_pin_gives_the_entry_for_this_platform(tmp_path: Path) -> None:
    path = tmp_path / "requirements-dev.lock"
    path.write_text(LOCKED)
    assert lock.pin("numpy", path) == "numpy==2.4.6 ; python_full_version < '3.12' \\\n    --hash=sha256:cc"
    assert lock.pin("WebSockets", path) == "websockets==17.4 \\\n    --hash=sha256:bb"
    with pytest.raises(lock.LockError, match="has no entry for flask: run make lock"):
        lock.pin("flask", path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("websockets>=17 \\\n    --hash=sha256:bb\n", "is not pinned with =="), ("web sockets==1\n", "cannot read")],
)
def test_a_lock_that_cannot_be_read_says_so(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "requirements-dev.lock"
    path.write_text(text)
    with pytest.raises(lock.LockError, match=message):
        lock.read_lock(path)
    with pytest.raises(lock.LockError, match="missing: run make lock"):
        lock.read_lock(tmp_path / "absent.lock")


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "tools/lock.py", *args]
    return subprocess.run(command, cwd=TOP, capture_output=True, text=True, check=False)


def test_the_command_prints_one_line_per_problem_and_fails() -> None:
    done = run_tool("check")
    assert (done.returncode, done.stderr) == (0, "")
    done = run_tool("pin", "no-such-package")
    assert done.returncode == 1
    assert done.stderr == "requirements-dev.lock has no entry for no-such-package: run make lock\n"


def test_conda_installs_the_same_pinned_set() -> None:
    lines = [line.strip() for line in (TOP / "environment.yml").read_text().splitlines()]
    assert "- -r requirements-dev.lock" in lines
    assert not any("[dev]" in line for line in lines), "environment.yml resolves the dev extra instead of the lock"
