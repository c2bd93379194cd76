"""Executing the project's notebooks in fresh kernels, cell by cell, and reading their verdicts.

Used by `wskit report` (execute, then render) and `wskit notebooks` (execute and save in place,
which regenerates the outputs nbval compares against).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

__all__ = ["NotebookRun", "execute_notebook", "find_notebooks", "headlines_of"]

HEADLINE_PREFIXES = ("✅", "❌", "SUCCESS:", "FAILURE:")
"""Printed lines starting with these are a notebook's headline verdicts."""
CHECK_PASSED, CHECK_FAILED = "[OK]", "[FAIL]"


@dataclass
class NotebookRun:
    """The outcome of executing one notebook."""

    path: Path
    notebook: NotebookNode
    seconds: float
    failed_cell: int | None = None
    error: str | None = None
    headlines: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: int = 0

    @property
    def ok(self) -> bool:
        """True when every cell ran without an unexpected error and no check printed [FAIL]."""
        return self.failed_cell is None and self.checks_failed == 0

    @property
    def title(self) -> str:
        """The notebook's first markdown heading, else its file name."""
        for cell in self.notebook.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("# "):
                        return str(line[2:].strip())
        return self.path.stem


def find_notebooks(directory: str | os.PathLike[str]) -> list[Path]:
    """The `*.ipynb` files of `directory`, sorted; raise `ValueError` when there are none."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"notebook directory {str(folder)!r} does not exist")
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise ValueError(f"no .ipynb files in {str(folder)!r}")
    return found


def headlines_of(notebook: NotebookNode) -> tuple[list[str], int, int]:
    """(headline lines, checks passed, checks failed) read from the notebook's printed output."""
    headlines: list[str] = []
    passed = failed = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stdout":
                continue
            for line in output.get("text", "").splitlines():
                stripped = line.strip()
                if stripped.startswith(HEADLINE_PREFIXES):
                    headlines.append(stripped)
                passed += stripped.startswith(CHECK_PASSED)
                failed += stripped.startswith(CHECK_FAILED)
    return headlines, passed, failed


def _error_line(exc: Exception) -> str:
    if isinstance(exc, CellExecutionError):
        name = getattr(exc, "ename", type(exc).__name__)
        value = " ".join(str(getattr(exc, "evalue", "")).split())
        return f"{name}: {value}"[:300]
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def execute_notebook(
    path: str | os.PathLike[str],
    *,
    timeout: int = 120,
    kernel_name: str = "python3",
    on_cell: Callable[[int, int], None] | None = None,
) -> NotebookRun:
    """Run every cell of the notebook at `path` in a fresh kernel started in its directory.

    Execution stops at the first cell that raises (unless it is tagged `raises-exception`);
    `on_cell(index, total)` is called before each code cell. The executed notebook, with its
    outputs, is in the result whether it passed or not.
    """
    notebook_path = Path(path)
    notebook = nbformat.read(notebook_path, as_version=4)
    # A cell this run never reaches must show nothing, not the outputs stored by an earlier run.
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    current = {"index": -1}

    def cell_started(cell: NotebookNode, cell_index: int) -> None:
        current["index"] = cell_index
        if on_cell is not None and cell_index in code_cells:
            on_cell(code_cells.index(cell_index), len(code_cells))

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        record_timing=False,
        on_cell_start=cell_started,
        resources={"metadata": {"path": str(notebook_path.parent.resolve())}},
    )
    started = time.perf_counter()
    failed_cell: int | None = None
    error: str | None = None
    # The kernel process's own log (start-up notices) goes to a file, not the user's terminal;
    # its last line explains a kernel that died or never started.
    with tempfile.TemporaryFile(mode="w+") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except (CellExecutionError, CellTimeoutError) as exc:
            failed_cell, error = current["index"], _error_line(exc)
        except (DeadKernelError, RuntimeError, OSError) as exc:
            kernel_log.seek(0)
            last = (kernel_log.read().strip().splitlines() or ["no kernel output"])[-1]
            failed_cell, error = current["index"], f"kernel failed: {_error_line(exc)} ({last[:200]})"
    headlines, passed, failed = headlines_of(notebook)
    return NotebookRun(
        path=notebook_path,
        notebook=notebook,
        seconds=time.perf_counter() - started,
        failed_cell=failed_cell,
        error=error,
        headlines=headlines,
        checks_passed=passed,
        checks_failed=failed,
    )


def save_in_place(run: NotebookRun) -> None:
    """Write the executed notebook back to its file (the new nbval reference)."""
    nbformat.write(run.notebook, run.path)
