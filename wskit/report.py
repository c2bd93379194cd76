"""`wskit report`: execute every notebook in a fresh kernel and write shareable offline HTML.

Writes one standalone HTML file per notebook (figures embedded, no network fetches) and an
`index.html` linking them with pass/fail, duration, checks and headline verdicts.
"""

from __future__ import annotations

import datetime
import html
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nbconvert import HTMLExporter
from tqdm import tqdm

import wskit
from wskit.notebooks import NotebookRun, execute_notebook, find_notebooks

__all__ = ["ReportResult", "build_report", "render_notebook_html"]

TEMPLATES = Path(__file__).parent / "templates"
INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1b1b1b; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
.pass td.result { color: #1b5e20; font-weight: bold; }
.fail td.result { color: #b71c1c; font-weight: bold; }
ul { margin: 0; padding-left: 1.1rem; }
.muted { color: #666; }
"""


@dataclass(frozen=True)
class ReportResult:
    """What `build_report` produced: the runs and where the index was written."""

    runs: tuple[NotebookRun, ...]
    index: Path

    @property
    def ok(self) -> bool:
        """True when every notebook passed."""
        return all(run.ok for run in self.runs)

    def failures(self) -> list[str]:
        """One line per failed notebook, naming the notebook and the cell."""
        lines = []
        for run in self.runs:
            if run.failed_cell is not None:
                where = "before the first cell" if run.failed_cell < 0 else f"at cell {run.failed_cell}"
                lines.append(f"{run.path} failed {where}: {run.error}")
            elif run.checks_failed:
                lines.append(f"{run.path}: {run.checks_failed} check(s) printed [FAIL]")
        return lines


def render_notebook_html(run: NotebookRun) -> str:
    """The executed notebook as one standalone HTML page that needs no network."""
    exporter = HTMLExporter(template_name="wskit_offline", extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(run.notebook, resources={"metadata": {"name": run.title}})
    return str(body)


def _index_html(runs: tuple[NotebookRun, ...], generated: str) -> str:
    esc = html.escape
    passed = sum(run.ok for run in runs)
    rows = []
    for run in runs:
        status = "PASS" if run.ok else "FAIL"
        checks = f"{run.checks_passed} passed" + (f", {run.checks_failed} failed" if run.checks_failed else "")
        verdicts = "".join(f"<li>{esc(line)}</li>" for line in run.headlines) or "<li class='muted'>none</li>"
        if run.failed_cell is not None:
            verdicts += f"<li>failed at cell {run.failed_cell}: {esc(run.error or '')}</li>"
        rows.append(
            f'<tr class="{status.lower()}"><td><a href="{esc(run.path.stem)}.html">{esc(run.title)}</a>'
            f'<br><span class="muted">{esc(run.path.name)}</span></td><td class="result">{status}</td>'
            f"<td>{run.seconds:.1f} s</td><td>{esc(checks)}</td><td><ul>{verdicts}</ul></td></tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>wskit report</title>\n<style>{INDEX_STYLE}</style>\n</head>\n<body>\n"
        "<h1>wskit report</h1>\n"
        f'<p id="totals">{len(runs)} notebooks: {passed} passed, {len(runs) - passed} failed.</p>\n'
        f'<p class="muted">Generated {esc(generated)} by wskit {esc(wskit.__version__)}; every notebook'
        " ran in a fresh kernel.</p>\n"
        '<table id="summary">\n<thead><tr><th>Notebook</th><th>Result</th><th>Duration</th><th>Checks</th>'
        "<th>Headline verdicts</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


def build_report(
    notebooks: str | os.PathLike[str] = "notebooks",
    output: str | os.PathLike[str] = "reports",
    *,
    timeout: int = 120,
    progress: bool = True,
) -> ReportResult:
    """Execute each notebook in `notebooks` and write `<name>.html` files plus `index.html` to `output`."""
    paths = find_notebooks(notebooks)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    bar = tqdm(paths, desc="notebooks", unit="nb", disable=not progress, file=sys.stderr, mininterval=0.5)
    for path in bar:
        bar.set_postfix_str(path.name)

        def show(position: int, total: int, name: str = path.name) -> None:
            bar.set_postfix_str(f"{name} cell {position + 1}/{total}")

        run = execute_notebook(path, timeout=timeout, on_cell=show)
        (out / f"{path.stem}.html").write_text(render_notebook_html(run), encoding="utf-8")
        runs.append(run)
    bar.close()
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    index = out / "index.html"
    index.write_text(_index_html(tuple(runs), generated), encoding="utf-8")
    return ReportResult(tuple(runs), index)
