"""`wskit ssot notebook` end to end, as a team would use it: init -> notebook -> nbval in CI, a
regression caught by the right cells, a clean-up that passes again. Real processes throughout."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from wskit.ssot.adopt.guard import Verdict, compare_with_baseline
from wskit.ssot.adopt.notebook import sanitize_rules

SHOP = Path(__file__).parent / "fixtures" / "shop"
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]
CI_LINE = "pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/ssot.sanitize.cfg notebooks/ssot.ipynb"
FAILED_CELL = re.compile(r"^FAILED notebooks/ssot\.ipynb::Cell (\d+)", re.MULTILINE)
COLORS = re.compile(r"\x1b\[[0-9;]*m")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def ci(project: Path) -> subprocess.CompletedProcess[str]:
    """The printed CI line, run with this interpreter's pytest (its report without colours)."""
    words = shlex.split(CI_LINE)
    assert words[0] == "pytest"
    result = run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *words[1:], cwd=project)
    result.stdout = COLORS.sub("", result.stdout)
    return result


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture shop after `wskit ssot init` and `wskit ssot notebook`, as a user runs them."""
    project = tmp_path_factory.mktemp("generated") / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    init = run(*WSKIT, "ssot", "init", ".", "--role", "SessionManager", cwd=project)
    assert init.returncode == 0, init.stderr
    notebook = run(*WSKIT, "ssot", "notebook", "-o", "notebooks/ssot.ipynb", cwd=project)
    assert notebook.returncode == 0, notebook.stdout + notebook.stderr
    lines = notebook.stdout.splitlines()
    assert re.fullmatch(
        r"wrote notebooks/ssot\.ipynb \(executed in \d+\.\d s, 9 verdicts guarded\) and wrote"
        r" notebooks/ssot\.sanitize\.cfg",
        lines[0],
    )
    assert lines[1:] == ["CI, from the project directory:", f"  {CI_LINE}"]
    return project


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    """A copy of the generated project that a test may break (every path in it is relative)."""
    copy = tmp_path / "shop"
    shutil.copytree(generated, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def code_cells(project: Path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(project / "notebooks" / "ssot.ipynb", as_version=4)
    return [c for c in notebook.cells if c.cell_type == "code"]


def cell_index(project: Path, start: str) -> int:
    """nbval's number of the code cell whose source starts with `start`."""
    (index,) = [i for i, c in enumerate(code_cells(project)) if c.source.startswith(start)]
    return index


def test_the_generated_notebook_is_a_reference_nbval_can_trust(generated: Path) -> None:
    cells = code_cells(generated)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    outputs = [o for c in cells for o in c.outputs]
    assert all(c.outputs for c in cells), "a cell without outputs compares nothing"
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert not any(c.source.rstrip().endswith(";") for c in cells)
    data = [o.get("data", {}) for o in outputs]
    assert not any("image/svg+xml" in d for d in data)
    assert sum("image/png" in d for d in data) == 3  # runtime paths, role scan, call sites
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert str(generated) not in text and "0x7f" not in text  # nothing specific to this machine
    (verdict,) = [c for c in cells if "verdict" in c.get("metadata", {}).get("tags", [])]
    assert verdict is cells[-1] and "BASELINE = {" in verdict.source
    printed = verdict.outputs[0].text
    assert "'role /SessionManager/: implementations': 1," in verdict.source
    assert "✅ NO REGRESSION: 9 verdicts at or below their baseline" in printed
    assert "[OK] audit: deprecated imports: 1 (baseline 1)" in printed  # carts.py imports the legacy path
    sanitize = (generated / "notebooks" / "ssot.sanitize.cfg").read_text()
    assert sanitize.startswith("# nbval sanitize rules written by `wskit ssot notebook` for ssot.ipynb.")

    replay = ci(generated)
    assert replay.returncode == 0, replay.stdout
    assert f"{len(cells)} passed" in replay.stdout


def test_an_alias_to_a_second_class_fails_the_right_cells_and_a_clean_up_passes_again(project: Path) -> None:
    init = project / "shop" / "__init__.py"
    clean = init.read_text()
    init.write_text(clean + "\nfrom shop.cache import SessionCache as SessionManager  # faster, added in a hurry\n")
    broken = ci(project)
    assert broken.returncode == 1
    failed = {int(n) for n in FAILED_CELL.findall(broken.stdout)}
    # The cells whose answer depends on what shop:SessionManager is, and the verdicts; not the
    # set-up, the figures (PNG is not compared) or the migration (no deprecated import moved).
    assert failed == {
        cell_index(project, "runtime['SessionManager'] = "),
        cell_index(project, "runtime['SessionManager'].frame"),
        cell_index(project, "static['SessionManager'] = "),
        cell_index(project, "scan = "),
        cell_index(project, "scan.frame"),
        cell_index(project, "audit = "),
        cell_index(project, "audit.frame"),
        cell_index(project, "BASELINE = "),
    }, broken.stdout
    assert "SSOT VIOLATION DETECTED" in broken.stdout  # the difference, in the runtime cell's diff
    assert (
        "AssertionError: SessionManager: runtime violations: 2 > 0; SessionManager: static violations: 2 > 0;"
        " role /SessionManager/: implementations: 2 > 1"
    ) in broken.stdout

    init.write_text(clean)  # the clean-up
    again = ci(project)
    assert again.returncode == 0, again.stdout


@pytest.mark.parametrize(
    ("file", "code", "grew"),
    [
        (
            "shop/orders.py",
            "\n\ndef legacy_order(user_id: str) -> None:\n    from shop.legacy import create_session_manager\n\n"
            "    create_session_manager(RequestContext(user_id)).open('legacy')\n",
            "audit: deprecated imports: 2 > 1; migration: manual changes: 2 > 1",
        ),
        (
            "shop/fast.py",
            "class FastSessionManager:\n    def open(self, session_id: str) -> dict[str, object]:\n        return {}\n",
            "role /SessionManager/: implementations: 2 > 1",
        ),
    ],
    ids=["an-import-of-the-deprecated-path", "a-second-implementation"],
)
def test_other_regressions_fail_the_verdicts(project: Path, file: str, code: str, grew: str) -> None:
    path = project / file
    path.write_text((path.read_text() if path.exists() else "") + code)
    broken = ci(project)
    assert broken.returncode == 1
    assert cell_index(project, "BASELINE = ") in {int(n) for n in FAILED_CELL.findall(broken.stdout)}
    assert f"AssertionError: {grew}\n" in broken.stdout, broken.stdout


def test_notebook_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = run(*WSKIT, "ssot", "notebook", "-o", "nb.ipynb", cwd=tmp_path)
    assert (
        missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot read pyproject.toml" in missing.stderr
    )
    shutil.copy(SHOP / "pyproject.toml", tmp_path)
    bare = run(*WSKIT, "ssot", "notebook", "-o", "nb.ipynb", cwd=tmp_path)
    assert bare.returncode == 2 and "has no [tool.wskit.ssot] table" in bare.stderr
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.wskit.ssot.symbols]]\nname = "a"\ncanonical = "a:B"\npaths = ["a:B"]\n'
    )
    wrong = run(*WSKIT, "ssot", "notebook", "-o", "nb.txt", cwd=tmp_path)
    assert wrong.returncode == 2 and "must be a .ipynb file; got 'nb.txt'" in wrong.stderr
    assert not (tmp_path / "nb.txt").exists()


def test_the_guard_fails_on_growth_and_on_a_changed_set_of_verdicts() -> None:
    now = [Verdict("a", 0, None), Verdict("b", 3, None), Verdict("c", 1, None, goal=1)]
    same = compare_with_baseline(now, {"a": 0, "b": 3, "c": 1})
    assert same.ok and same.summary().splitlines() == [
        "[OK] a: 0 (baseline 0)",
        "[OK] b: 3 (baseline 3)",
        "[OK] c: 1 (baseline 1)",
        "✅ NO REGRESSION: 3 verdicts at or below their baseline",
        "Accepted by the baseline, still to fix: b 3 (goal 0)",
    ]
    assert compare_with_baseline(now, {"a": 0, "b": 4, "c": 1}).ok  # better than the baseline passes
    worse = compare_with_baseline(now, {"a": 0, "b": 2, "d": 0})
    assert not worse.ok
    assert worse.regressions == ["b: 3 > 2", "c: not in the baseline", "d: in the baseline, no longer computed"]
    assert "[FAIL] b: 3, up from 2" in worse.summary() and "❌ REGRESSION: b: 3 > 2;" in worse.summary()


def test_the_sanitize_rules_mask_machines_and_line_numbers_but_not_what_changed() -> None:
    rules = get_sanitize_patterns(sanitize_rules("ssot.ipynb"))

    def sanitize(text: str) -> str:
        for regex, replace in rules:
            text = re.sub(regex, replace, text)
        return text

    assert sanitize("/home/ann/work/shop/shop/x.py:12 and ../shop/y.py:3") == "<dir>/x.py:N and ../shop/y.py:N"
    assert (
        sanitize("bound conditionally (lines 3, 7); warns at line 12")
        == "bound conditionally (lines N); warns at line N"
    )
    assert sanitize("@@ -1,4 +1,5 @@\n-from a import b") == "@@ -N +N @@\n-from a import b"
    assert sanitize("<function f at 0x7f3a2b>") == "<function f at 0x...>"
    assert sanitize("shop.cache.SessionCache (shop/cache.py:4)") == "shop.cache.SessionCache (shop/cache.py:N)"


def test_a_cell_that_fails_at_generation_exits_1_and_keeps_the_notebook_to_read(tmp_path: Path) -> None:
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "__init__.py").write_text("import time\n\ntime.sleep(12)\n\n\nclass Engine:\n    pass\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wskit.ssot]\nsearch_path = ["."]\n[[tool.wskit.ssot.symbols]]\nname = "engine"\n'
        'canonical = "slow:Engine"\npaths = ["slow:Engine"]\n'
    )
    result = run(*WSKIT, "ssot", "notebook", "-o", "nb/guard.ipynb", "--timeout", "6", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("wskit ssot notebook: nb/guard.ipynb failed at cell 4: CellTimeoutError")
    assert result.stderr.endswith("saved with its outputs, open it to see why\n") and result.stderr.count("\n") == 1
    assert nbformat.read(tmp_path / "nb" / "guard.ipynb", as_version=4).cells[1].outputs  # the set-up ran
