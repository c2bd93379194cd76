"""Executing the project's notebooks in fresh kernels, cell by cell, and reading their verdicts.

Used by `wskit report` (execute, then render) and `wskit notebooks` (execute and save in place,
which regenerates the outputs nbval compares against).
"""

from __future__ import annotations

import ast
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

__all__ = [
    "CheckCount",
    "Headline",
    "NotebookRun",
    "execute_notebook",
    "find_notebooks",
    "read_verdicts",
]


VERDICT_PREFIXES = (("✅", True), ("❌", False), ("SUCCESS:", True), ("FAILURE:", False))
"""Printed lines starting with these are a notebook's headline verdicts (True: a pass)."""
EMOJI_PREFIXES = ("✅", "❌")
"""Prefixes that are only a mark: the headline's text is the rest of the line."""
CHECK_PASSED, CHECK_FAILED = "[OK]", "[FAIL]"
VERDICT_TAG = "verdict"
"""A code cell tagged with this is one check: it passes when it runs to the end."""
OK_LINES, ASSERTING_CELLS, VERDICT_CELLS = "[OK] lines", "asserting cells", "verdict cells"
_HEADING = re.compile(r"^#{2,6}\s+(.+?)(?:\s+#+)?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Headline:
    """A verdict line a notebook printed, without its mark, and the section that printed it."""

    text: str
    passed: bool
    section: str = ""
    """The nearest markdown heading (level 2 or deeper) above the cell; empty before the first."""


@dataclass(frozen=True)
class CheckCount:
    """The checks of one kind a run made: how many passed, failed, or were never reached."""

    kind: str
    passed: int = 0
    failed: int = 0
    not_run: int = 0

    @property
    def total(self) -> int:
        """Every check of this kind the notebook holds or printed."""
        return self.passed + self.failed + self.not_run


@dataclass
class NotebookRun:
    """The outcome of executing one notebook."""

    path: Path
    notebook: NotebookNode
    seconds: float
    failed_cell: int | None = None
    error: str | None = None
    headlines: list[Headline] = field(default_factory=list)
    checks: tuple[CheckCount, ...] = ()

    @property
    def checks_passed(self) -> int:
        """Checks of every kind that passed."""
        return sum(count.passed for count in self.checks)

    @property
    def checks_failed(self) -> int:
        """Checks of every kind that failed ([FAIL] lines, the asserting or verdict cell that raised)."""
        return sum(count.failed for count in self.checks)

    @property
    def checks_not_run(self) -> int:
        """Checking cells after a failure, which never ran."""
        return sum(count.not_run for count in self.checks)

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


def _asserts(source: str) -> bool:
    """True when the cell's code has an `assert` statement or raises `AssertionError`."""
    try:
        # IPython magics (%matplotlib, !cmd) become plain calls; IPython ships no hints for this class.
        code = TransformerManager().transform_cell(source)  # type: ignore[no-untyped-call]
        tree = compile(code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id == "AssertionError":
                return True
    return False


def _stdout_lines(cell: NotebookNode) -> list[str]:
    lines: list[str] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            lines.extend(line.strip() for line in output.get("text", "").splitlines())
    return lines


def _headline(line: str, section: str) -> Headline | None:
    for prefix, passed in VERDICT_PREFIXES:
        if line.startswith(prefix):
            text = line[len(prefix) :].strip() if prefix in EMOJI_PREFIXES else line
            return Headline(text, passed, section)
    return None


def read_verdicts(
    notebook: NotebookNode, failed_cell: int | None = None
) -> tuple[list[Headline], tuple[CheckCount, ...]]:
    """The headline verdicts and the checks of an executed notebook, read from its cells and outputs.

    A cell's headline is the last verdict line it prints (✅, ❌, `SUCCESS:`, `FAILURE:`).

    Three kinds of check are counted: printed `[OK]`/`[FAIL]` lines, code cells that assert
    (an `assert` statement or `raise AssertionError`) and cells tagged `verdict`; a cell that is
    both counts once, as a verdict cell. A checking cell passed when it ran and is not
    `failed_cell`; it did not run when it has no execution count. Cells tagged
    `raises-exception` are not checks (their error is expected). Kinds with no check are left out.
    """
    headlines: list[Headline] = []
    outcomes: list[tuple[str, str]] = []  # (kind, "passed" | "failed" | "not_run"), one per check
    section = ""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            headings = _HEADING.findall(cell.source)
            section = headings[-1].replace("`", "") if headings else section
            continue
        if cell.cell_type != "code":
            continue
        conclusion = None
        for line in _stdout_lines(cell):
            headline = _headline(line, section)
            if headline is not None:
                conclusion = headline
            if line.startswith((CHECK_PASSED, CHECK_FAILED)):
                outcomes.append((OK_LINES, "passed" if line.startswith(CHECK_PASSED) else "failed"))
        # A cell's headline is the verdict it ends with: lines before it (an analyzer's own ✅/❌
        # summary of a deliberately broken example, say) are its evidence, not its conclusion.
        if conclusion is not None:
            headlines.append(conclusion)
        tags = cell.get("metadata", {}).get("tags", [])
        if "raises-exception" in tags:
            continue
        kind = VERDICT_CELLS if VERDICT_TAG in tags else ASSERTING_CELLS if _asserts(cell.source) else None
        if kind is not None:
            outcome = "failed" if index == failed_cell else "not_run" if cell.execution_count is None else "passed"
            outcomes.append((kind, outcome))
    tally = Counter(outcomes)
    counts = [
        CheckCount(kind, tally[kind, "passed"], tally[kind, "failed"], tally[kind, "not_run"])
        for kind in (OK_LINES, ASSERTING_CELLS, VERDICT_CELLS)
    ]
    return headlines, tuple(count for count in counts if count.total)


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
    headlines, checks = read_verdicts(notebook, failed_cell)
    return NotebookRun(
        path=notebook_path,
        notebook=notebook,
        seconds=time.perf_counter() - started,
        failed_cell=failed_cell,
        error=error,
        headlines=headlines,
        checks=checks,
    )


def save_in_place(run: NotebookRun) -> None:
    """Write the executed notebook back to its file (the new nbval reference)."""
    nbformat.write(run.notebook, run.path)
