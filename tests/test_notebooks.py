"""The committed notebooks are nbval's reference: they must hold real outputs, and nbval must bite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_the_four_notebooks_are_there() -> None:
    assert [p.name for p in ALL] == [
        "01_import_consolidation.ipynb",
        "02_core_functionality.ipynb",
        "03_isolation_and_security.ipynb",
        "04_performance.ipynb",
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
