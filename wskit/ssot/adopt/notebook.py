"""`wskit ssot notebook`: an executable analysis notebook generated from `[tool.wskit.ssot]`, a CI guard.

The notebook shows, per symbol, the runtime and static consolidation of its paths (summary,
DataFrame, figure), then the role scan, the call-site audit and the import migration still to do
(dry run), and ends with a cell that recomputes the verdicts (`wskit.ssot.adopt.guard`) and asserts
that none is worse than when the notebook was generated. Generating it runs the same analysis
in this process for that baseline, writes the notebook, executes it once in a fresh kernel (its
stored outputs become nbval's reference) and writes a sanitize file for what differs between
machines or moves without changing meaning (absolute paths, line numbers).

What it prints is deterministic: paths are relative to the notebook, reports are sorted,
figures are PNG, no cell ends with `;`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from wskit.report.runner import NotebookRun, execute_notebook, save_in_place
from wskit.ssot.adopt.guard import Verdict, analyze, collect_verdicts, tree_root
from wskit.ssot.checks.config import SsotConfig, load_config

__all__ = ["GuardNotebook", "build_notebook", "ci_command", "generate_notebook", "sanitize_rules"]

SANITIZE_HEADER = "# nbval sanitize rules written by `wskit ssot notebook`"
_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@dataclass(frozen=True)
class GuardNotebook:
    """What `generate_notebook` wrote: the executed notebook, its sanitize file and the CI command."""

    notebook: Path
    sanitize: Path
    sanitize_written: bool
    ci_line: str
    run: NotebookRun
    verdicts: tuple[Verdict, ...]


def _posix(path: str | os.PathLike[str], start: str | os.PathLike[str]) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def ci_command(notebook: str, sanitize: str) -> str:
    """The pytest line that replays the notebook and compares every output with the stored one."""
    return f"pytest --nbval --nbval-current-env --nbval-sanitize-with {sanitize} {notebook}"


def sanitize_rules(notebook_name: str) -> str:
    """The sanitize file: what may differ between machines or move without meaning anything."""
    return f"""{SANITIZE_HEADER} for {notebook_name}.
# Pairs of "regex: " and "replace: " lines, applied to stored and fresh outputs alike; the
# verdicts and counts are compared exactly.

[the directories of absolute paths: they differ from machine to machine]
regex: (?<![\\w.~])/(?:[\\w.+-]+/)+
replace: <dir>/

[memory addresses]
regex: \\bat 0x[0-9a-fA-F]+
replace: at 0x...

[line numbers: code that moves binds the same objects; what it binds is compared]
regex: (\\.py):\\d+
replace: \\1:N

[line numbers in reasons]
regex: \\b(line|lines) \\d+(?:, \\d+)*
replace: \\1 N

[diff hunk headers]
regex: (?m)^@@ -\\d+(?:,\\d+)? \\+\\d+(?:,\\d+)? @@
replace: @@ -N +N @@
"""


def _code(source: str, *, tags: tuple[str, ...] = ()) -> NotebookNode:
    cell: NotebookNode = new_code_cell(source.strip("\n"), metadata={"tags": list(tags)} if tags else {})
    return cell


def _symbol_cells(config: SsotConfig, index: int) -> list[NotebookNode]:
    spec = config.symbols[index]
    name = spec.name
    described = [
        f"- canonical (the one implementation): `{spec.canonical}`",
        f"- paths that must reach it: {', '.join(f'`{p}`' for p in spec.paths)}",
    ]
    if spec.interfaces:
        described.append(f"- interfaces (reported, not counted): {', '.join(f'`{p}`' for p in spec.interfaces)}")
    if spec.deprecated:
        described.append(
            f"- deprecated (code should stop importing them): {', '.join(f'`{p}`' for p in spec.deprecated)}"
        )
    described.append(f"- preferred (what code should import): `{spec.preferred_path}`")
    cells = [new_markdown_cell(f"## `{name}`\n\n" + "\n".join(described))]
    if config.mode == "runtime":
        cells += [
            new_markdown_cell(
                f"### `{name}`: runtime mode\n\nEach path is imported in a fresh interpreter, so that no import's"
                " side effects change another's answer; a factory counts as the type it returns. A path this"
                " environment cannot import for want of a third-party dependency is an environment finding,"
                " not a violation."
            ),
            _code(f"runtime[{name!r}] = CONFIG.check({name!r}, mode='runtime')\nprint(runtime[{name!r}].summary())"),
            _code(f"runtime[{name!r}].frame"),
            _code(f"runtime[{name!r}].plot()"),
        ]
    comparison = (
        f"""
imported = {{r.path: (r.status, r.resolved) for r in runtime[{name!r}].rows if r.status != "environment"}}
if imported:
    agree = all((r.status, r.resolved) == imported[r.path] for r in static[{name!r}].rows if r.path in imported)
    print(f"static agrees with runtime on the {{len(imported)}} path(s) runtime mode could import: {{agree}}")
else:
    print("runtime mode could import no path here: the static verdict stands on its own")
"""
        if config.mode == "runtime"
        else ""
    )
    static_check = f"static[{name!r}] = CONFIG.check({name!r}, mode='static')\nprint(static[{name!r}].summary())\n"
    cells += [
        new_markdown_cell(
            f"### `{name}`: static mode\n\nThe same question answered from source alone: aliases, re-exports and"
            " factories (by annotation or by what they return) followed to the defining `class`, nothing imported."
        ),
        _code(static_check + comparison),
    ]
    return cells


def build_notebook(
    config: SsotConfig,
    *,
    project: str,
    pyproject: str,
    baseline: list[Verdict],
    ci_line: str,
    regenerate: str,
) -> NotebookNode:
    """The guard notebook for `config` (`pyproject`: the config file relative to the notebook)."""
    role = f"the role `/{config.role}/`" if config.role else "no role scan"
    cells = [
        new_markdown_cell(
            f"# SSOT guard: {project}\n\n"
            f"Generated by `wskit ssot notebook` from `[tool.wskit.ssot]` in `{pyproject}`: "
            f"{len(config.symbols)} symbol(s), {role}. It checks that every configured import path reaches the"
            " one implementation (at run time and from source), which classes play the role, every import and"
            " call of the symbols, and which imports `wskit ssot fix` would still migrate. The last cell fails"
            " when a verdict is worse than when the notebook was generated.\n\n"
            f"In CI, from the project directory: `{ci_line}`. nbval also compares every output with the one"
            " stored here, so a change anywhere names its cell and the difference. After an intended change,"
            f" regenerate it: `{regenerate}`."
        ),
        _code(
            f"""
%matplotlib inline
import os
from pathlib import Path

import pandas as pd

from wskit.ssot import (
    audit_calls,
    collect_verdicts,
    compare_with_baseline,
    fix_imports,
    load_config,
    scan_tree,
    tree_root,
)

PYPROJECT = Path({pyproject!r})
CONFIG = load_config(PYPROJECT)
ROOT = os.path.relpath(tree_root(CONFIG, PYPROJECT))  # the tree to scan and audit, from this notebook
runtime, static = {{}}, {{}}
pd.set_option("display.max_colwidth", 80)
print(f"{{len(CONFIG.symbols)}} symbol(s) under {{ROOT}}: {{', '.join(s.name for s in CONFIG.symbols)}}")
"""
        ),
    ]
    for index in range(len(config.symbols)):
        cells += _symbol_cells(config, index)
    if config.role:
        cells += [
            new_markdown_cell(
                f"## Role scan: `/{config.role}/`\n\nEvery class whose name plays the role, read without importing"
                " anything and classified (implementation, protocol, abstract, test double, ...), with the aliases"
                " that reach it and the modules that import it. Test code is scanned too: its classes are test"
                " doubles, never implementations."
            ),
            _code("scan = scan_tree(ROOT, CONFIG.role, include_tests=True)\nprint(scan.summary())"),
            _code("scan.frame"),
            _code("scan.plot()"),
        ]
    else:
        cells += [
            new_markdown_cell("## Role scan\n\nNo `role` in `[tool.wskit.ssot]`: add one for a role scan."),
            _code("scan = None\nprint('no role scan')"),
        ]
    cells += [
        new_markdown_cell(
            "## Call sites\n\nEvery import and call of the symbols in the tree, through aliases and re-exports:"
            " imports of deprecated or private paths, and calls that get the symbol wrong (a factory-only class"
            " created directly, arguments the factory does not take, a sync factory awaited or an async one"
            " not awaited)."
        ),
        _code("audit = audit_calls(CONFIG, ROOT)\nprint(audit.summary())"),
        _code("audit.frame"),
        _code("audit.plot()"),
        new_markdown_cell(
            "## Import migration (dry run)\n\nWhat `wskit ssot fix ROOT --write` would rewrite: imports of deprecated"
            " and private paths moved to the preferred path where static resolution proves both reach the same"
            " object; the others are left to a person, with the reason. Nothing is written here."
        ),
        _code(
            'migration = fix_imports(CONFIG, ROOT)\nprint(migration.summary())\nprint(migration.diff() or "(no diff)")'
        ),
        new_markdown_cell(
            "## Verdicts\n\nEach verdict counts problems and may not grow beyond the value it had when this notebook"
            " was generated (the baseline below). A count that shrinks passes; regenerate the notebook to lower it."
        ),
        _code(_verdict_source(baseline), tags=("verdict",)),
    ]
    for index, cell in enumerate(cells):
        cell.id = f"ssot-{index:02d}"  # stable ids: a regenerated notebook diffs only where it changed
    notebook: NotebookNode = new_notebook(
        cells=cells, metadata={"kernelspec": _KERNELSPEC, "language_info": {"name": "python"}}
    )
    return notebook


def _verdict_source(baseline: list[Verdict]) -> str:
    entries = "\n".join(f"    {v.name!r}: {v.value}," for v in baseline)
    return f"""
BASELINE = {{  # when this notebook was generated
{entries}
}}
verdicts = collect_verdicts(runtime=runtime, static=static, scan=scan, audit=audit, migration=migration)
guard = compare_with_baseline(verdicts, BASELINE)
print(guard.summary())
assert guard.ok, "; ".join(guard.regressions)
"""


def _project_name(pyproject: Path) -> str:
    try:
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        name = None
    return name if isinstance(name, str) and name else pyproject.resolve().parent.name


def generate_notebook(
    pyproject: str | os.PathLike[str], output: str | os.PathLike[str], *, timeout: int = 120
) -> GuardNotebook:
    """Generate the guard notebook for the configuration in `pyproject`, execute it once and save it.

    Also writes `<notebook stem>.sanitize.cfg` beside it, unless a file of that name not written
    by wskit is there. Raises `ConfigError` (a `ValueError`) for a bad configuration. The
    executed notebook is saved even when a cell failed (`run.ok` is then False), so that it can
    be opened and read.
    """
    config_file = Path(pyproject)
    config = load_config(config_file)
    notebook = Path(output)
    if notebook.suffix != ".ipynb":
        raise ValueError(f"the notebook must be a .ipynb file; got {str(output)!r}")
    notebook.parent.mkdir(parents=True, exist_ok=True)
    project_dir = config_file.resolve().parent
    sanitize = notebook.with_name(f"{notebook.stem}.sanitize.cfg")
    ci_line = ci_command(_posix(notebook, project_dir), _posix(sanitize, project_dir))
    regenerate = f"wskit ssot notebook --config {_posix(config_file, project_dir)} -o {_posix(notebook, project_dir)}"
    reports = analyze(config, tree_root(config, config_file))
    baseline = collect_verdicts(
        runtime=reports.runtime,
        static=reports.static,
        scan=reports.scan,
        audit=reports.audit,
        migration=reports.migration,
    )
    node = build_notebook(
        config,
        project=_project_name(config_file),
        pyproject=_posix(config_file.resolve(), notebook.parent.resolve()),
        baseline=baseline,
        ci_line=ci_line,
        regenerate=regenerate,
    )
    nbformat.write(node, notebook)
    written = not sanitize.exists() or sanitize.read_text(encoding="utf-8").startswith(SANITIZE_HEADER)
    if written:
        sanitize.write_text(sanitize_rules(notebook.name), encoding="utf-8")
    run = execute_notebook(notebook, timeout=timeout)
    save_in_place(run)
    return GuardNotebook(notebook, sanitize, written, ci_line, run, tuple(baseline))
