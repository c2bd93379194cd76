"""The committed notebooks are nbval's reference: they must hold real outputs, and nbval must bite."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from wskit.report.runner import CheckCount, Headline, execute_notebook, read_verdicts
from wskit.report.versions import REFERENCE_VERSIONS, record_reference_versions, write_reference_versions

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_the_five_notebooks_are_there() -> None:
    assert [p.name for p in ALL] == [
        "01_import_consolidation.ipynb",
        "02_core_functionality.ipynb",
        "03_isolation_and_security.ipynb",
        "04_performance.ipynb",
        "05_audit_a_real_package.ipynb",
    ]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_code_cell_was_run_and_has_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()]
    assert code
    for index, cell in code:
        assert cell.execution_count is not None, f"{path.name} cell {index} has no execution count"
        assert cell.outputs, f"{path.name} cell {index} has no outputs: nbval would compare nothing"
    counts = [cell.execution_count for _, cell in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name} was not run top to bottom in one kernel"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_stored_errors_and_no_trailing_semicolons(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if "raises-exception" not in tags(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{path.name} cell {index} stores an error: {errors[0].get('ename')}"
        assert not cell.source.rstrip().endswith(";"), f"{path.name} cell {index} ends with ';'"
        for output in cell.outputs:
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert "/tmp/ipykernel_" not in text and "0x7f" not in text, (
                f"{path.name} cell {index} is not deterministic"
            )
            assert output.get("name") != "stderr", f"{path.name} cell {index} writes to stderr (nbval compares it)"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_figures_are_png_not_svg(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    data = [o.get("data", {}) for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not any("image/svg+xml" in d for d in data)
    figures = [d for d in data if str(d.get("text/plain", "")).startswith("<Figure")]
    assert figures, f"{path.name} shows no figure"
    assert all("image/png" in d for d in figures), f"{path.name} shows a figure without its PNG"


def printed(source: str, text: str, count: int | None, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A code cell as a run left it: `count` None means the run never reached it."""
    outputs = [new_output("stream", name="stdout", text=text)] if text else []
    return new_code_cell(source, outputs=outputs, execution_count=count, metadata={"tags": list(tags)})


def test_every_kind_of_check_is_counted_and_a_failure_stops_the_count() -> None:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Title\n\nNo section yet."),
            printed("print('[OK] a')\nprint('[FAIL] b')\nprint('[OK] c')", "[OK] a\n[FAIL] b\n[OK] c\n", 1),
            printed("%matplotlib inline\nasync with open_it() as it:\n    assert await it.ready()", "", 2),
            printed("if broken:\n    raise AssertionError('broken')", "", 3),
            printed("x = 1  # assert nothing\nprint('assert x')", "assert x\n", 4),  # not a check
            printed("report.raise_for_violations()", "", 5, tags=("verdict",)),
            printed("assert 1 / 0", "", 6, tags=("raises-exception",)),  # its error is expected
            printed("assert False", "", 7),  # the cell the run failed at
            printed("assert later", "", None),  # never reached
            printed("check()", "", None, tags=("verdict",)),
        ]
    )
    _, checks = read_verdicts(notebook, failed_cell=7)
    assert checks == (
        CheckCount("[OK] lines", passed=2, failed=1),
        CheckCount("asserting cells", passed=2, failed=1, not_run=1),
        CheckCount("verdict cells", passed=1, not_run=1),
    )
    assert read_verdicts(new_notebook(cells=[printed("x = 1", "", 1)]))[1] == ()  # no check at all


def test_headlines_say_which_section_printed_them() -> None:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            printed("...", "SUCCESS: ALL GOOD\n", 1),
            new_markdown_cell("## Runtime `mode`\n\nText."),
            printed("...", "summary\n  ✅ VALIDATED: same type\n", 2),
            new_markdown_cell("Text without a heading keeps the section."),
            printed("...", "❌ SPLIT: two types\n", 3),
            new_markdown_cell("## Static mode\n### Details"),
            printed("...", "✅ VALIDATED: same type\nFAILURE: ['x']\n", 4),
            printed("...", "❌ CALL ERRORS: 4 (the messy example's)\n  details\n✅ AUDIT: all 4 found\n", 5),
        ]
    )
    headlines, _ = read_verdicts(notebook)
    assert headlines == [  # one per cell: the verdict it ends with
        Headline("SUCCESS: ALL GOOD", passed=True, section=""),
        Headline("VALIDATED: same type", passed=True, section="Runtime mode"),
        Headline("SPLIT: two types", passed=False, section="Runtime mode"),
        Headline("FAILURE: ['x']", passed=False, section="Details"),
        Headline("AUDIT: all 4 found", passed=True, section="Details"),
    ]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_each_committed_notebook_makes_checks_and_says_where_each_verdict_comes_from(path: Path) -> None:
    headlines, checks = read_verdicts(nbformat.read(path, as_version=4))
    assert sum(count.passed for count in checks) > 0
    assert not any(count.failed or count.not_run for count in checks)
    assert headlines, f"{path.name} prints no headline verdict"
    where = [(h.section, h.text) for h in headlines]
    assert len(where) == len(set(where)), f"{path.name} repeats a verdict in one section: {where}"


def run_nbval(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", str(SANITIZE), str(path)],
        capture_output=True, text=True, cwd=path.parent, timeout=300, check=False,
    )  # fmt: skip


def test_nbval_fails_on_a_broken_expectation(tmp_path: Path) -> None:
    source = NOTEBOOKS / "02_core_functionality.ipynb"
    intact = tmp_path / "intact.ipynb"
    shutil.copy(source, intact)
    assert run_nbval(intact).returncode == 0  # the control: the committed reference passes

    notebook = nbformat.read(source, as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    stream = next(o for o in first.outputs if o.output_type == "stream")
    assert "[OK] SSOT Type correct: True" in stream.text
    stream.text = stream.text.replace("[OK] SSOT Type correct: True", "[OK] SSOT Type correct: False")
    broken = tmp_path / "broken.ipynb"
    nbformat.write(notebook, broken)
    result = run_nbval(broken)
    assert result.returncode != 0
    assert "SSOT Type correct" in result.stdout and "failed" in result.stdout


def test_notebook_05_says_in_one_line_that_its_reference_was_made_with_another_redis(tmp_path: Path) -> None:
    installed = importlib.metadata.version("redis")
    assert json.loads((NOTEBOOKS / REFERENCE_VERSIONS).read_text()) == {"redis": installed}
    copy = tmp_path / "05.ipynb"
    shutil.copy(NOTEBOOKS / "05_audit_a_real_package.ipynb", copy)
    write_reference_versions(tmp_path, {"redis": "7.0.0"})
    run = execute_notebook(copy, timeout=60)
    assert (run.failed_cell, run.error) == (
        1,
        f"RuntimeError: notebook 05's reference was made with redis-py 7.0.0; this environment has {installed}: "
        "run make notebooks",
    )


def test_reference_versions_are_the_installed_ones_after_a_rerun(tmp_path: Path) -> None:
    assert record_reference_versions(tmp_path) is None  # no file: nothing is recorded
    write_reference_versions(tmp_path, {"redis": "7.0.0", "pandas": "1.0"})
    assert record_reference_versions(tmp_path) == {"pandas": "1.0", "redis": "7.0.0"}
    assert json.loads((tmp_path / REFERENCE_VERSIONS).read_text()) == {
        "pandas": importlib.metadata.version("pandas"),
        "redis": importlib.metadata.version("redis"),
    }
    write_reference_versions(tmp_path, {"no-such-distribution": "1"})
    with pytest.raises(ValueError, match="lists no-such-distribution, which is not installed here"):
        record_reference_versions(tmp_path)
    (tmp_path / REFERENCE_VERSIONS).write_text("[1]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        record_reference_versions(tmp_path)


def test_the_versions_file_is_written_the_same_way_every_time(tmp_path: Path) -> None:
    """Committed beside the notebooks: sorted, indented, ending in a newline, so a rerun diffs by line."""
    write_reference_versions(tmp_path, {"redis": "7.0.0", "pandas": "1.0"})
    assert (tmp_path / REFERENCE_VERSIONS).read_text() == '{\n  "pandas": "1.0",\n  "redis": "7.0.0"\n}\n'


def test_a_failed_rerun_keeps_the_versions_the_reference_was_made_with(tmp_path: Path) -> None:
    notebook = new_notebook(cells=[new_code_cell("1 / 0")])
    nbformat.write(notebook, tmp_path / "failing.ipynb")
    write_reference_versions(tmp_path, {"redis": "7.0.0"})
    done = subprocess.run([sys.executable, "-m", "wskit.cli", "notebooks", "--notebooks", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1 and "failing.ipynb failed at cell 0: ZeroDivisionError" in done.stderr
    assert json.loads((tmp_path / REFERENCE_VERSIONS).read_text()) == {"redis": "7.0.0"}
    nbformat.write(new_notebook(cells=[new_code_cell("print(1)")]), tmp_path / "failing.ipynb")
    done = subprocess.run([sys.executable, "-m", "wskit.cli", "notebooks", "--notebooks", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / REFERENCE_VERSIONS).read_text()) == {"redis": importlib.metadata.version("redis")}
