"""`wskit report`: execute every notebook in a fresh kernel and write shareable offline HTML.

Writes one standalone HTML file per notebook (figures embedded, no network fetches) and an
`index.html` linking them with pass/fail, duration, checks and headline verdicts.
"""

from __future__ import annotations

import datetime
import html
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from nbconvert import HTMLExporter
from tqdm import tqdm

import wskit
from wskit.report.runner import VERDICT_TAG, Headline, NotebookRun, execute_notebook, find_notebooks

__all__ = ["ReportResult", "build_report", "render_index_html", "render_notebook_html", "replace_emoji_marks"]

TEMPLATES = Path(__file__).parent / "templates"
MARK_STYLE = """
.verdict-mark { display: inline-block; position: relative; width: 1em; height: 1em; border-radius: 50%;
                vertical-align: -0.15em; margin-right: 0.35em; }
.verdict-mark.pass { background: #2e7d32; }
.verdict-mark.fail { background: #c62828; }
.verdict-mark.pass::after { content: ""; position: absolute; left: 0.34em; top: 0.16em; width: 0.22em;
                            height: 0.48em; border: solid #fff; border-width: 0 0.14em 0.14em 0;
                            transform: rotate(45deg); }
.verdict-mark.fail::before, .verdict-mark.fail::after { content: ""; position: absolute; left: 0.44em;
                            top: 0.2em; width: 0.12em; height: 0.6em; background: #fff; transform: rotate(45deg); }
.verdict-mark.fail::after { transform: rotate(-45deg); }
"""
"""Pass/fail marks drawn by CSS: emoji render as empty boxes where no emoji font is installed."""
EMOJI_MARKS = {"✅": True, "❌": False}
INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1b1b1b; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
.pass td.result { color: #1b5e20; font-weight: bold; }
.fail td.result { color: #b71c1c; font-weight: bold; }
td.result, td.duration, td.checks { white-space: nowrap; }
td.verdicts { width: 50%; overflow-wrap: anywhere; }
ul { margin: 0; padding-left: 0; list-style: none; }
li + li { margin-top: 0.3rem; }
.section { color: #666; }
ul.counted li { margin-top: 0; }
.muted { color: #666; }
"""
_EMOJI_OR_NOT_TEXT = re.compile(
    r"(?P<skip><(?P<element>style|script|title)\b.*?</(?P=element)>|<[^>]*>)|(?P<emoji>" + "|".join(EMOJI_MARKS) + ")",
    re.DOTALL | re.IGNORECASE,
)
"""An emoji mark, or what must stay as it is: a tag, a style, a script or the title (not markup)."""


def mark(passed: bool) -> str:
    """A pass or fail mark as markup (styled by `MARK_STYLE`), readable by screen readers."""
    word = "pass" if passed else "fail"
    return f'<span class="verdict-mark {word}" role="img" aria-label="{word}"></span>'


def replace_emoji_marks(page: str) -> str:
    """`page` with every verdict emoji in its text (not in tags, styles or the title) replaced by `mark`."""
    return _EMOJI_OR_NOT_TEXT.sub(lambda m: m["skip"] or mark(EMOJI_MARKS[m["emoji"]]), page)


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
    """The executed notebook as one standalone HTML page that needs no network nor emoji font."""
    exporter = HTMLExporter(template_name="wskit_offline", extra_template_basedirs=[str(TEMPLATES)])
    resources = {"metadata": {"name": run.title}, "wskit_mark_style": MARK_STYLE}
    body, _ = exporter.from_notebook_node(run.notebook, resources=resources)
    return replace_emoji_marks(str(body))


def _checks_html(run: NotebookRun) -> str:
    """What the checks gave over every kind, then what was counted, kind by kind."""
    if not run.checks:
        return '<span class="muted">no checks</span>'
    outcome = f"{run.checks_passed} passed"
    outcome += f", {run.checks_failed} failed" if run.checks_failed else ""
    outcome += f", {run.checks_not_run} not run" if run.checks_not_run else ""
    kinds = [(count.total, count.kind if count.total != 1 else count.kind.removesuffix("s")) for count in run.checks]
    counted = "".join(f"<li>{total} {html.escape(kind)}</li>" for total, kind in kinds)
    return f'<span class="outcome">{outcome}</span><ul class="muted counted">{counted}</ul>'


def _headline_html(headline: Headline) -> str:
    section = f'<span class="section">{html.escape(headline.section)}:</span> ' if headline.section else ""
    state = "pass" if headline.passed else "fail"
    return f'<li class="{state}">{mark(headline.passed)}{section}{html.escape(headline.text)}</li>'


def render_index_html(runs: tuple[NotebookRun, ...], generated: str) -> str:
    """The index page: per notebook its result, duration, checks (and what was counted) and headline verdicts."""
    esc = html.escape
    passed = sum(run.ok for run in runs)
    rows = []
    for run in runs:
        status = "PASS" if run.ok else "FAIL"
        verdicts = "".join(_headline_html(h) for h in run.headlines) or "<li class='muted'>none</li>"
        if run.failed_cell is not None:
            verdicts += f"<li>{mark(False)}failed at cell {run.failed_cell}: {esc(run.error or '')}</li>"
        rows.append(
            f'<tr class="{status.lower()}"><td><a href="{esc(run.path.stem)}.html">{esc(run.title)}</a>'
            f'<br><span class="muted">{esc(run.path.name)}</span></td>'
            f'<td class="result">{mark(run.ok)}{status}</td><td class="duration">{run.seconds:.1f} s</td>'
            f'<td class="checks">{_checks_html(run)}</td><td class="verdicts"><ul>{verdicts}</ul></td></tr>'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>wskit report</title>\n<style>{INDEX_STYLE}{MARK_STYLE}</style>\n</head>\n<body>\n"
        "<h1>wskit report</h1>\n"
        f'<p id="totals">{len(runs)} notebooks: {passed} passed, {len(runs) - passed} failed.</p>\n'
        f'<p class="muted">Generated {esc(generated)} by wskit {esc(wskit.__version__)}; every notebook'
        " ran in a fresh kernel. Checks counted: printed [OK]/[FAIL] lines, code cells that assert, and"
        f" cells tagged <code>{VERDICT_TAG}</code>; a checking cell passes when it runs to the end.</p>\n"
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
    index.write_text(render_index_html(tuple(runs), generated), encoding="utf-8")
    return ReportResult(tuple(runs), index)
