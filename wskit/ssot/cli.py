"""`wskit ssot init | notebook | check | paths | scan | audit | fix`: the analyzer for CI.

Exit codes: 0 consolidated (scan: at most one implementation and nothing shadowed; audit: no
row of a `--fail-on` kind; fix: nothing left to change; init: a section proposed; notebook:
generated and executed), 1 violation found (init: nothing matches the role; notebook: a cell
failed), 2 usage or configuration error (one line naming the bad key or value), 3 (check and
paths, runtime mode) nothing could be checked: this environment lacks a dependency of the paths,
4 the analyzer itself failed (a bug, not a finding: its traceback is printed).
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wskit.ssot.model import CALL_ERRORS, KINDS, MODES
from wskit.usage import UsageError

if TYPE_CHECKING:
    from wskit.ssot.checks.config import SsotConfig

__all__ = ["register"]

FORMATS = ("text", "json", "markdown")
_FORMAT_HELP = "how to print the result (default %(default)s)"


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


class _Report(Protocol):
    def to_json(self) -> dict[str, Any]: ...
    def to_markdown(self) -> str: ...
    def summary(self) -> str: ...


_ENVIRONMENT = 3
"""Exit code: nothing could be checked here, the environment lacks a dependency (runtime mode)."""
_ANALYZER_FAILED = 4
"""Exit code: the analyzer itself failed; kept apart from 1, which CI reads as findings."""


def _telling_failures(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`command`, where an exception of the analyzer itself prints its traceback and exits 4."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (UsageError, BrokenPipeError):
            raise  # exit 2 with one line; a closed pipe ends the output quietly
        except Exception:
            import traceback  # only on a failure: 4 ms of every start

            traceback.print_exc()
            print(
                f"wskit ssot {args.ssot_command}: the analyzer failed (traceback above); this is a bug, please"
                f" report it (exit {_ANALYZER_FAILED})",
                file=sys.stderr,
            )
            return _ANALYZER_FAILED

    return run


def _render(report: _Report, fmt: str) -> str:
    """A path report or a scan report in the requested --format."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    if fmt == "markdown":
        return report.to_markdown()
    return report.summary()


def _load(path: Path) -> SsotConfig:
    """The `[tool.wskit.ssot]` of `path`; a bad one is a usage error naming the key (exit 2)."""
    from wskit.ssot.checks.config import ConfigError, load_config  # tomllib: not for scan and paths

    try:
        return load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _cmd_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    mode = args.mode or config.mode
    reports = []
    for symbol in config.symbols:
        try:
            reports.append(config.check(symbol, mode=mode))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"symbol {symbol.name!r}: {exc}") from None
    consolidated = all(r.consolidated for r in reports)
    undetermined = any(r.undetermined for r in reports) and not any(r.violations for r in reports)
    if args.format == "json":
        document: dict[str, Any] = {
            "consolidated": consolidated,
            "mode": mode,
            "symbols": [
                {"name": s.name, "canonical": s.canonical, **r.to_json()}
                for s, r in zip(config.symbols, reports, strict=True)
            ],
        }
        _emit(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _emit("\n\n".join(_render(r, args.format) for r in reports))
    return 0 if consolidated else _ENVIRONMENT if undetermined else 1


def _cmd_paths(args: argparse.Namespace) -> int:
    probe = None
    if args.probe is not None:
        try:
            kwargs = json.loads(args.probe_kwargs)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--probe-kwargs is not valid JSON: {exc}") from None
        if not isinstance(kwargs, dict):
            raise UsageError(f"--probe-kwargs must be a JSON object; got {args.probe_kwargs}")
        from wskit.ssot.resolve.runtime import call_by_path

        probe = functools.partial(call_by_path, args.probe, **kwargs)
    from wskit.ssot.checks.paths import check_import_paths

    try:
        report = check_import_paths(
            args.paths, mode=args.mode, search_path=args.search_path or None, probe=probe, title=args.title
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    _emit(_render(report, args.format))
    return 0 if report.consolidated else _ENVIRONMENT if report.undetermined else 1


def _cmd_scan(args: argparse.Namespace) -> int:
    from wskit.ssot.checks.scan import scan_tree

    try:
        report = scan_tree(args.root, args.role, include_tests=args.include_tests)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    _emit(_render(report, args.format))
    shadowed = any(c.shadowed for c in report.classes)
    return 0 if len(report.implementations) <= 1 and not shadowed else 1


def _fail_on(text: str) -> tuple[str, ...]:
    """`--fail-on`: comma-separated kinds, `call-errors` (the default) or `none`."""
    kinds: list[str] = []
    for word in filter(None, (w.strip() for w in text.split(","))):
        if word == "call-errors":
            kinds += CALL_ERRORS
        elif word in KINDS:
            kinds.append(word)
        elif word != "none":
            raise UsageError(f"--fail-on: unknown kind {word!r}; use call-errors, none or any of: {', '.join(KINDS)}")
    return tuple(dict.fromkeys(kinds))


def _cmd_audit(args: argparse.Namespace) -> int:
    from wskit.ssot.checks.audit import audit_calls  # the call-site stages: only for this command

    fail_on = _fail_on(args.fail_on)
    config = _load(args.config)
    try:
        report = audit_calls(config, args.root, search_path=args.search_path or ())
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    _emit(_render(report, args.format))
    return 1 if report.failing(fail_on) else 0


def _cmd_fix(args: argparse.Namespace) -> int:
    from wskit.ssot.checks.fix import fix_imports  # libcst is only imported when a fix is asked for

    config = _load(args.config)
    try:
        report = fix_imports(config, args.root, search_path=args.search_path or (), write=args.write)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if args.format == "text":
        _emit(report.summary() + ("" if args.write or not report.changes else "\n\n" + report.diff()))
    else:
        _emit(_render(report, args.format))
    return 0 if report.done else 1


def _cmd_init(args: argparse.Namespace) -> int:
    from wskit.ssot.adopt.proposal import propose_config
    from wskit.ssot.adopt.tomlsection import SectionExists, render_section, write_section
    from wskit.ssot.checks.config import ConfigError

    try:
        proposal = propose_config(args.path, args.role, package=args.package)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not proposal.families:
        found = (
            f"{len(proposal.scan.classes)} class(es) match but none is an implementation"
            if proposal.scan.classes
            else "no class matches"
        )
        print(
            f"wskit ssot init: {found} /{args.role}/ under {proposal.scan.root}"
            f" ({proposal.scan.files_scanned} files scanned); nothing written",
            file=sys.stderr,
        )
        return 1
    words = [
        "wskit",
        "ssot",
        "init",
        args.path,
        "--role",
        args.role,
        *(["--package", args.package] if args.package else []),
    ]
    section = render_section(proposal, config_dir=args.config.parent, command=shlex.join(words))
    if args.print:
        _emit(section)
        return 0
    try:
        action = write_section(args.config, section, force=args.force)
    except (SectionExists, ConfigError) as exc:
        raise UsageError(str(exc)) from None
    symbols = ", ".join(f"{f.name} ({len(f.paths)} paths, {len(f.deprecated)} deprecated)" for f in proposal.families)
    _emit(
        f"{action} [tool.wskit.ssot] in {args.config}: {len(proposal.families)} symbol(s): {symbols}\n"
        f"next: review it, then 'wskit ssot check --config {args.config}' and"
        f" 'wskit ssot notebook --config {args.config} -o notebooks/ssot.ipynb'"
    )
    return 0


def _cmd_notebook(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds; got {args.timeout}")
    _load(args.config)  # a bad configuration is told before the notebook machinery loads
    from wskit.ssot.adopt.notebook import generate_notebook  # nbformat, nbclient, libcst: only for this command

    try:
        result = generate_notebook(args.config, args.output, timeout=args.timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run = result.run
    if not run.ok:
        where = f"cell {run.failed_cell}: {run.error}" if run.failed_cell is not None else "a check printed [FAIL]"
        print(
            f"wskit ssot notebook: {result.notebook} failed at {where}; saved with its outputs, open it to see why",
            file=sys.stderr,
        )
        return 1
    sanitize = "wrote" if result.sanitize_written else "kept your"
    _emit(
        f"wrote {result.notebook} (executed in {run.seconds:.1f} s, {len(result.verdicts)} verdicts guarded)"
        f" and {sanitize} {result.sanitize}\n"
        f"CI, from the project directory:\n  {result.ci_line}"
    )
    return 0


def _tree_command(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], name: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand reading ROOT with the symbols of --config (audit, fix)."""
    command = verbs.add_parser(name, help=description)
    command.add_argument("root", metavar="ROOT", help="the source tree to read")
    command.add_argument("--config", type=Path, default=Path("pyproject.toml"), metavar="FILE",
                         help="pyproject.toml to read (default %(default)s)")  # fmt: skip
    command.add_argument("--search-path", action="append", metavar="DIR", help="where the symbols' modules live")
    return command


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `ssot` and its subcommands to the `wskit` parser."""
    ssot = commands.add_parser("ssot", help="prove import-path consolidation; find duplicate implementations")
    verbs = ssot.add_subparsers(dest="ssot_command", required=True, metavar="VERB")

    init = verbs.add_parser("init", help="propose [tool.wskit.ssot] for a tree from a role scan")
    init.add_argument("path", metavar="PATH", help="the project or source directory to scan")
    init.add_argument("--role", required=True, metavar="REGEX", help="regular expression matched against class names")
    init.add_argument("--package", metavar="NAME", help="scan only this package under PATH (or PATH/src)")
    init.add_argument("--config", type=Path, default=Path("pyproject.toml"), metavar="FILE",
                      help="pyproject.toml to write (default %(default)s)")  # fmt: skip
    init.add_argument("--print", action="store_true", help="print the section instead of writing it")
    init.add_argument("--force", action="store_true", help="replace an existing [tool.wskit.ssot] section")
    init.set_defaults(func=_telling_failures(_cmd_init))

    notebook = verbs.add_parser("notebook", help="generate and execute an analysis notebook guarding the config")
    notebook.add_argument("--config", type=Path, default=Path("pyproject.toml"), metavar="FILE",
                          help="pyproject.toml to read (default %(default)s)")  # fmt: skip
    notebook.add_argument("-o", "--output", type=Path, required=True, metavar="NOTEBOOK", help="the .ipynb to write")
    notebook.add_argument("--timeout", type=int, default=120, metavar="SECONDS",
                          help="time allowed per cell (default %(default)s)")  # fmt: skip
    notebook.set_defaults(func=_telling_failures(_cmd_notebook))

    check = verbs.add_parser("check", help="check the symbols declared in [tool.wskit.ssot]")
    check.add_argument("--config", type=Path, default=Path("pyproject.toml"), metavar="FILE",
                       help="pyproject.toml to read (default %(default)s)")  # fmt: skip
    check.add_argument("--mode", choices=MODES, help="override the configured mode")
    check.add_argument("--format", choices=FORMATS, default="text", help=_FORMAT_HELP)
    check.set_defaults(func=_telling_failures(_cmd_check))

    paths = verbs.add_parser("paths", help="check ad-hoc import paths (pkg.module:Name)")
    paths.add_argument("paths", nargs="+", metavar="PATH", help="the import paths that must reach one object")
    paths.add_argument("--mode", choices=MODES, default="runtime",
                       help="import the paths, or read the source without importing (default %(default)s)")  # fmt: skip
    paths.add_argument("--search-path", action="append", metavar="DIR", help="look for packages here first")
    paths.add_argument("--probe", metavar="MODULE:CALLABLE", help="runtime: call factories with what this returns")
    paths.add_argument("--probe-kwargs", default="{}", metavar="JSON", help="keyword arguments for --probe")
    paths.add_argument("--title", default="SSOT", help="heading of the text summary (default %(default)s)")
    paths.add_argument("--format", choices=FORMATS, default="text", help=_FORMAT_HELP)
    paths.set_defaults(func=_telling_failures(_cmd_paths))

    scan = verbs.add_parser("scan", help="find and classify the classes playing a role under ROOT")
    scan.add_argument("root", metavar="ROOT", help="the source tree to read")
    scan.add_argument("--role", required=True, metavar="REGEX", help="regular expression matched against class names")
    scan.add_argument("--include-tests", action="store_true", help="also scan test directories (as test doubles)")
    scan.add_argument("--format", choices=FORMATS, default="text", help=_FORMAT_HELP)
    scan.set_defaults(func=_telling_failures(_cmd_scan), exits_when_done=True)

    audit = _tree_command(verbs, "audit", "list every import and call of the configured symbols under ROOT")
    audit.add_argument(
        "--fail-on",
        default="call-errors",
        metavar="KINDS",
        help="exit 1 when a row of one of these kinds exists: comma-separated kinds, call-errors (the default) or none",
    )
    audit.add_argument("--format", choices=FORMATS, default="text", help=_FORMAT_HELP)
    audit.set_defaults(func=_telling_failures(_cmd_audit), exits_when_done=True)

    fix = _tree_command(verbs, "fix", "rewrite deprecated and private imports to the preferred path")
    fix.add_argument("--write", action="store_true", help="apply the changes (default: print a unified diff)")
    fix.add_argument("--format", choices=FORMATS, default="text", help=_FORMAT_HELP)
    fix.set_defaults(func=_telling_failures(_cmd_fix))
