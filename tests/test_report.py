"""`wskit report` end to end: fresh kernels, offline HTML, and the pages checked in headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from wskit.report.html import render_index_html, replace_emoji_marks
from wskit.report.runner import CheckCount, Headline, NotebookRun

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
EMOJI_MARKS = ("✅", "❌")
MISSING_GLYPHS = r"""
() => {
  // Characters of the visible text that no installed font can draw: Chromium paints them as the
  // same empty box it paints for an unassigned code point (U+0378), in the element's own font.
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const context = canvas.getContext('2d');
  const pixels = (text, font) => {
    context.font = font;
    context.clearRect(0, 0, 64, 64);
    context.fillText(text, 8, 44);
    return context.getImageData(0, 0, 64, 64).data.join(',');
  };
  const missing = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.checkVisibility()) continue;
    const style = getComputedStyle(node.parentElement);
    const font = `${style.fontSize} ${style.fontFamily}`;
    const box = pixels('\u0378', font);
    for (const character of node.textContent) {
      if (/[^\x00-\x7e]/.test(character) && /[\p{L}\p{N}\p{P}\p{S}]/u.test(character)
          && pixels(character, font) === box) missing.add(character);
    }
  }
  return Array.from(missing);
}
"""
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]


def wskit_report(notebooks: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WSKIT, "report", "--notebooks", str(notebooks), "--output", str(output), "--quiet"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("reports")
    result = wskit_report(NOTEBOOKS, output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"5/5 notebooks passed; report: {output / 'index.html'}"
    return output


def test_one_html_file_per_notebook_and_an_index(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == [
        "01_import_consolidation.html",
        "02_core_functionality.html",
        "03_isolation_and_security.html",
        "04_performance.html",
        "05_audit_a_real_package.html",
        "index.html",
    ]
    index = (report_dir / "index.html").read_text()
    assert "5 notebooks: 5 passed, 0 failed." in index
    assert "SSOT CONSOLIDATION VALIDATED: All imports return same underlying type!" in index
    assert "SUCCESS: ALL CORE WEBSOCKET FUNCTIONALITY WORKING!" in index
    assert "ISOLATION HOLDS: only the diagonal of the delivery matrix is non-zero" in index
    assert "REGRESSION CAUGHT: nbval names the cells that changed" in index  # 05, on redis-py
    assert not [mark for mark in EMOJI_MARKS if mark in index]  # pass/fail marks are markup and CSS


def test_pages_reference_nothing_on_the_network(report_dir: Path) -> None:
    for page in report_dir.glob("*.html"):
        text = page.read_text()
        assert "<script" not in text, f"{page.name} carries a script"
        remote = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
        assert not remote, f"{page.name} references {remote[:3]}"
        assert not re.search(r"@import|@font-face", text), f"{page.name} imports styles or fonts"


def open_page(browser: object, url: str) -> tuple[object, list[str], list[str]]:
    page = browser.new_page()  # type: ignore[attr-defined]
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))
    page.goto(url, wait_until="load")
    return page, requested, failed


def test_index_renders_in_chromium(report_dir: Path, browser: object) -> None:
    page, requested, failed = open_page(browser, (report_dir / "index.html").as_uri())
    assert page.title() == "wskit report"  # type: ignore[attr-defined]
    rows = page.locator("#summary tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 5
    assert [rows.nth(i).locator("td.result").inner_text() for i in range(5)] == ["PASS"] * 5
    assert "5 notebooks: 5 passed, 0 failed." in page.locator("#totals").inner_text()  # type: ignore[attr-defined]
    links = page.locator("#summary a")  # type: ignore[attr-defined]
    assert [links.nth(i).get_attribute("href") for i in range(5)] == [
        "01_import_consolidation.html",
        "02_core_functionality.html",
        "03_isolation_and_security.html",
        "04_performance.html",
        "05_audit_a_real_package.html",
    ]
    assert not failed and all(url.startswith("file:") for url in requested)


def makes_checks(notebook: Path) -> bool:
    """Whether a notebook asserts or prints [OK] lines, judged from its committed file alone."""
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    asserts = any(re.search(r"^\s*assert\b|raise AssertionError", c.source, re.MULTILINE) for c in cells)
    return asserts or any("[OK]" in o.get("text", "") for c in cells for o in c.outputs)


def colored_pixels(png: bytes, rgb: tuple[int, int, int]) -> int:
    """How many pixels of a screenshot are `rgb`, give or take anti-aliasing."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colors = image.getcolors(image.width * image.height) or []
    return sum(n for n, color in colors if all(abs(a - b) <= 8 for a, b in zip(color, rgb, strict=True)))


def test_index_as_a_reader_sees_it(report_dir: Path, browser: object, tmp_path: Path) -> None:
    page, _, _ = open_page(browser, (report_dir / "index.html").as_uri())
    screenshot = page.screenshot(path=tmp_path / "index.png", full_page=True)  # type: ignore[attr-defined]
    assert colored_pixels(screenshot, (0x2E, 0x7D, 0x32)) > 100  # the green pass marks are painted
    assert colored_pixels(screenshot, (0xC6, 0x28, 0x28)) == 0  # and no red one

    mark = page.locator("td.result .verdict-mark").first.screenshot()  # type: ignore[attr-defined]
    assert colored_pixels(mark, (0x2E, 0x7D, 0x32)) > 20 and colored_pixels(mark, (255, 255, 255)) > 5  # a tick

    rows = page.locator("#summary tbody tr")  # type: ignore[attr-defined]
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert rows.count() == len(notebooks)
    for i, notebook in enumerate(notebooks):
        checks = rows.nth(i).locator("td.checks").inner_text()
        if makes_checks(notebook):
            passed = re.match(r"(\d+) passed\n", checks)
            assert passed and int(passed[1]) > 0, f"{notebook.name} asserts, yet its row says {checks!r}"
            assert "failed" not in checks and "not run" not in checks
        verdicts = rows.nth(i).locator("td.verdicts li").all_inner_texts()
        assert len(verdicts) == len(set(verdicts)), f"{notebook.name} repeats a headline: {verdicts}"

    first = rows.first.locator("td.verdicts li").all_inner_texts()
    ssot = [line.lower() for line in first if "SSOT CONSOLIDATION VALIDATED" in line]  # one per mode
    assert len(ssot) == 2 and "runtime" in ssot[0] and "static" in ssot[1], ssot

    text = page.locator("body").inner_text()  # type: ignore[attr-defined]
    assert not [mark for mark in EMOJI_MARKS if mark in text]
    assert page.evaluate(MISSING_GLYPHS) == []  # type: ignore[attr-defined]


def test_no_page_shows_a_replacement_glyph(report_dir: Path, browser: object) -> None:
    for report in sorted(report_dir.glob("*.html")):
        page, _, _ = open_page(browser, report.as_uri())
        assert page.evaluate(MISSING_GLYPHS) == [], report.name  # type: ignore[attr-defined]


def test_the_glyph_check_sees_an_emoji_without_a_font(browser: object, tmp_path: Path) -> None:
    # The control: where the emoji have no font (Debian's chromium alone), the check must see them.
    if shutil.which("fc-list") is None:
        pytest.skip("no fc-list to tell whether a font has U+2705")
    if subprocess.run(["fc-list", ":charset=2705"], capture_output=True, text=True, check=True).stdout.strip():
        pytest.skip("this machine has a font with U+2705")
    page_file = tmp_path / "emoji.html"
    page_file.write_text('<!DOCTYPE html><meta charset="utf-8"><p>caf\u00e9 \u00b7 \u2705 ok</p>', encoding="utf-8")
    page, _, _ = open_page(browser, page_file.as_uri())
    assert page.evaluate(MISSING_GLYPHS) == ["\u2705"]  # type: ignore[attr-defined]


def test_notebook_report_renders_with_its_figures(report_dir: Path, browser: object) -> None:
    page, requested, failed = open_page(browser, (report_dir / "index.html").as_uri())
    page.locator("#summary a").first.click()  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    assert page.title() == "01 · Import consolidation: is there one WebSocket manager?"  # type: ignore[attr-defined]
    body = page.locator("body").inner_text()  # type: ignore[attr-defined]
    assert "SSOT CONSOLIDATION VALIDATED: All imports return same underlying type!" in body
    assert not [mark for mark in EMOJI_MARKS if mark in body]
    assert page.locator("pre .verdict-mark.pass").count() >= 2  # type: ignore[attr-defined]
    tables = page.locator("table.dataframe")  # type: ignore[attr-defined]
    assert tables.count() == 2 and tables.first.locator("tbody tr").count() == 4
    images = page.locator("img")  # type: ignore[attr-defined]
    assert images.count() == 2
    loaded = page.evaluate(  # type: ignore[attr-defined]
        "() => Array.from(document.images)"
        ".map(i => i.complete && i.naturalWidth > 0 && i.src.startsWith('data:image/png'))"
    )
    assert loaded == [True, True]
    assert not failed, failed
    assert all(url.startswith(("file:", "data:")) for url in requested), requested


def test_a_failing_notebook_fails_the_report_naming_notebook_and_cell(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    stale = [new_output("stream", name="stdout", text="never reached\n✅ STALE VERDICT: from an earlier run\n")]
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Failing on purpose"),
            new_code_cell("print('first cell runs')\nassert True"),
            new_code_cell("assert 1 / 0"),
            new_code_cell("print('never reached')\nassert True", outputs=stale, execution_count=3),
        ]
    )
    nbformat.write(notebook, notebooks / "failing.ipynb")
    output = tmp_path / "reports"
    result = wskit_report(notebooks, output)
    assert result.returncode == 1
    assert f"{notebooks / 'failing.ipynb'} failed at cell 2: ZeroDivisionError: division by zero" in result.stderr
    index = (output / "index.html").read_text()
    assert "1 notebooks: 0 passed, 1 failed." in index and "FAIL</td>" in index
    assert "1 passed, 1 failed, 1 not run" in index and "3 asserting cells" in index
    assert "STALE" not in index  # what a cell printed in an earlier run is not a verdict of this one
    page = (output / "failing.html").read_text()
    assert "<pre>first cell runs" in page and "<pre>never reached" not in page  # stopped at the failure
    assert "STALE" not in page
    assert "ZeroDivisionError" in page


def test_index_says_what_was_counted_and_marks_verdicts_without_emoji() -> None:
    notebook = new_notebook(cells=[new_markdown_cell("# Counted")])
    runs = (
        NotebookRun(
            Path("a.ipynb"), notebook, 1.0,
            headlines=[Headline("VALIDATED: one type", True, "Runtime mode"), Headline("SPLIT", False)],
            checks=(CheckCount("[OK] lines", passed=6), CheckCount("asserting cells", passed=1)),
        ),
        NotebookRun(Path("b.ipynb"), notebook, 1.0),
    )  # fmt: skip
    index = render_index_html(runs, "today")
    first, second = index.split("<tr", 3)[2:]
    assert '<span class="outcome">7 passed</span>' in first
    assert "<li>6 [OK] lines</li><li>1 asserting cell</li>" in first
    assert '<span class="section">Runtime mode:</span> VALIDATED: one type' in first
    assert first.count('class="verdict-mark pass"') == 2 and first.count('class="verdict-mark fail"') == 1
    assert "no checks" in second and "0 passed" not in index  # a notebook without checks says so
    assert not [mark for mark in EMOJI_MARKS if mark in index]


def test_emoji_marks_become_markup_only_in_text() -> None:
    page = '<title>✅ t</title><style>p::after { content: "✅" }</style><h2 id="✅-x">✅ x</h2><pre>a ❌ b</pre>'
    assert replace_emoji_marks(page) == (
        '<title>✅ t</title><style>p::after { content: "✅" }</style><h2 id="✅-x">'
        '<span class="verdict-mark pass" role="img" aria-label="pass"></span> x</h2>'
        '<pre>a <span class="verdict-mark fail" role="img" aria-label="fail"></span> b</pre>'
    )


def test_report_usage_errors(tmp_path: Path) -> None:
    result = wskit_report(tmp_path / "missing", tmp_path / "out")
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = wskit_report(tmp_path, tmp_path / "out")
    assert result.returncode == 2 and "no .ipynb files" in result.stderr
