"""`fix_imports` and `wskit ssot fix`: deprecated and private imports rewritten to the preferred path,
only where both reach the same object, checked before writing, idempotent."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wskit.ssot import SymbolSpec, audit_calls
from wskit.ssot.checks.fix import fix_imports
from wskit.ssot.checks.namecheck import introduced

MESSY = Path(__file__).parent / "fixtures" / "ssot" / "messy"
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    copy = tmp_path / "messy"
    shutil.copytree(MESSY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def test_dry_run_prints_a_diff_and_changes_nothing(messy: Path) -> None:
    before = {p: p.read_text() for p in messy.rglob("*.py")}
    report = fix_imports(messy / "pyproject.toml", messy)
    assert (report.count("rewritten"), report.count("manual"), report.count("kept")) == (7, 0, 1)
    assert [change.file for change in report.changes] == [
        "notifier/services/__init__.py",
        "notifier/services/alerts.py",
        "notifier/services/billing.py",
        "notifier/services/jobs.py",
    ]
    diff = report.diff()
    assert "-from notifier.compat import get_notifier  # the old path\n" in diff  # comments kept
    assert "+from notifier.api import get_notifier  # the old path\n" in diff
    assert "-from ..compat import make_notifier as build\n+from notifier.api import get_notifier as build\n" in diff
    assert "+from notifier.api import Notifier as _NotifierImpl\n" in diff  # the local name is kept
    assert "-    from notifier.compat import LegacyNotifier, get_notifier\n" in diff  # a function-level import
    assert "+    from notifier.api import Notifier as LegacyNotifier, get_notifier\n" in diff
    assert "-    notifier = compat.get_notifier(UserContext(user_id))\n+    notifier = get_notifier(" in diff
    assert " import notifier.compat as compat\n+from notifier.api import get_notifier\n" in diff  # still used
    kept = [item for item in report.items if item.status == "kept"]
    assert [(k.where, k.via) for k in kept] == [("notifier/api.py:3", "_NotifierImpl")]
    assert {p: p.read_text() for p in messy.rglob("*.py")} == before
    assert not report.done


def test_write_migrates_the_package_which_still_works_and_a_second_run_changes_nothing(messy: Path) -> None:
    written = run(*WSKIT, "ssot", "fix", ".", "--write", cwd=messy)
    assert written.returncode == 0, written.stdout + written.stderr
    assert "Imports rewritten: 7 in 4 file(s); manual: 0; kept: 1" in written.stdout
    audit = audit_calls(messy / "pyproject.toml", messy)
    assert audit.counts["import-deprecated"] == 0
    assert audit.counts["import-private"] == 1  # the one that defines the public path
    imported = run(
        sys.executable,
        "-c",
        "import notifier.services.alerts, notifier.services.billing, notifier.services.jobs",
        cwd=messy,
    )
    assert imported.returncode == 0, imported.stderr
    tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "notifier/tests", cwd=messy)
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout
    again = run(*WSKIT, "ssot", "fix", ".", cwd=messy)
    assert again.returncode == 0 and "Imports to rewrite: 0 in 0 file(s)" in again.stdout
    assert fix_imports(messy / "pyproject.toml", messy).changes == ()


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


SPEC = SymbolSpec(
    name="maker",
    canonical="pkg.api:make",
    paths=("pkg.api:make",),
    deprecated=("pkg.old:make", "pkg.old:build"),
)
BASE = {
    "pkg/__init__.py": "",
    "pkg/api.py": "def make(name: str) -> str:\n    return name\n",
    "pkg/old.py": (
        "import warnings\n\nfrom pkg.api import make\n\n\n"
        "def build(name: str) -> str:\n"
        "    warnings.warn('use make', DeprecationWarning, stacklevel=2)\n"
        "    return make(name)\n"
    ),
}


def test_a_deprecated_function_that_is_another_object_is_left_for_a_human(tmp_path: Path) -> None:
    write_package(tmp_path, {**BASE, "app.py": "from pkg.old import build, make\n\nbuild('a')\nmake('b')\n"})
    report = fix_imports([SPEC], tmp_path)
    by_via = {item.via: item for item in report.items}
    assert by_via["make"].status == "rewritten" and by_via["make"].new == "pkg.api:make"
    assert by_via["build"].status == "manual"
    assert by_via["build"].reason == (
        "pkg.old:build reaches pkg.old.build, which no public path reaches (the preferred pkg.api:make is"
        " pkg.api.make): change it by hand"
    )
    assert "-from pkg.old import build, make\n+from pkg.old import build\n+from pkg.api import make\n" in report.diff()


def test_an_import_the_new_module_depends_on_is_not_made_circular(tmp_path: Path) -> None:
    files = {**BASE, "pkg/api.py": "from pkg import helpers\n\n\ndef make(name: str) -> str:\n    return name\n"}
    write_package(tmp_path, {**files, "pkg/helpers.py": "from pkg.old import make\n"})
    (item,) = fix_imports([SPEC], tmp_path).items
    assert item.status == "manual" and item.reason == "pkg.api imports pkg.helpers: importing it here would be circular"


def test_a_module_import_whose_only_use_moves_is_replaced(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {**BASE, "app.py": "import pkg.old as legacy  # old\n\n\ndef run() -> str:\n    return legacy.make('x')\n"},
    )
    report = fix_imports([SPEC], tmp_path, write=True)
    assert (tmp_path / "app.py").read_text() == (
        "from pkg.api import make  # old\n\n\ndef run() -> str:\n    return make('x')\n"
    )
    assert report.written and report.done


def test_a_new_name_that_would_clash_is_left_for_a_human(tmp_path: Path) -> None:
    app = "import pkg.old as legacy\n\nmake = 'taken'\n\n\ndef run() -> str:\n    return legacy.make('x')\n"
    write_package(tmp_path, {**BASE, "app.py": app})
    (item,) = fix_imports([SPEC], tmp_path).items
    assert item.status == "manual" and "legacy.make would become make, a name this module already binds" in item.reason


def test_the_name_check_finds_what_a_rewrite_would_break() -> None:
    before = "import os\nimport pkg.old as legacy\n\nprint(os.sep, legacy.make)\n"
    assert introduced(before, "import os\nimport pkg.old as legacy\n\nprint(os.sep, make)\n") == [
        "F401 'legacy' imported but unused",
        "F821 undefined name 'make'",
    ]
    assert introduced(before, before.replace("import os\n", "import os  # kept\n")) == []


def test_fix_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run(*WSKIT, "ssot", "fix", "does-not-exist", "--config", str(MESSY / "pyproject.toml"), cwd=tmp_path)
    assert result.returncode == 2 and "root 'does-not-exist' does not exist" in result.stderr
