"""`wskit ssot ...` as CI runs it: real subprocesses, exit codes, stable JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wskit.ssot.checks.config import ConfigError, load_config

PROJECT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "ssot"
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]


def wskit(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WSKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


@pytest.mark.parametrize("mode", ["runtime", "static"])
def test_wskit_checks_itself_from_its_pyproject(mode: str) -> None:
    result = wskit("ssot", "check", "--mode", mode)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "=== WEBSOCKET MANAGER IMPORT CONSOLIDATION ANALYSIS ===",
        "Total import paths tested: 4",
        "Successful imports: 3",
        "Failed imports: 1 (WebSocketProtocol - interface only, expected)",
        "",
        "✅ SSOT CONSOLIDATION VALIDATED: All imports return same underlying type!",
    ]


def test_check_json_is_stable_and_documented() -> None:
    first = wskit("ssot", "check", "--mode", "static", "--format", "json")
    second = wskit("ssot", "check", "--mode", "static", "--format", "json")
    assert first.returncode == 0 and first.stdout == second.stdout
    document = json.loads(first.stdout)
    assert document["consolidated"] is True and document["mode"] == "static"
    (symbol,) = document["symbols"]
    assert symbol["name"] == "WebSocket manager"
    assert symbol["canonical"] == "wskit.unified_manager:_UnifiedWebSocketManagerImplementation"
    assert [row["status"] for row in symbol["rows"]] == ["interface", "resolved", "resolved", "resolved"]


def write_config(tmp_path: Path, body: str) -> Path:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(body)
    return pyproject


def test_check_exits_1_on_a_violation(tmp_path: Path) -> None:
    pyproject = write_config(
        tmp_path,
        f"""
[tool.wskit.ssot]
search_path = [{str(FIXTURES)!r}]
[[tool.wskit.ssot.symbols]]
name = "engine"
canonical = "aliaspkg.impl:Engine"
paths = ["aliaspkg:Exported", "aliaspkg.factories:make_mislabelled"]
probe = {{ call = "builtins:dict", kwargs = {{ size = 1 }} }}
""",
    )
    result = wskit("ssot", "check", "--config", str(pyproject))
    assert result.returncode == 1, result.stderr
    assert "❌ SSOT VIOLATION DETECTED" in result.stdout
    assert "aliaspkg.factories:make_mislabelled resolves to aliaspkg.other.Other, not the canonical" in result.stdout


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tool.other]\n", "has no [tool.wskit.ssot] table"),
        ("[tool.wskit.ssot]\nsymbols = []\n", "symbols must be a non-empty array"),
        ("[tool.wskit.ssot]\nmode = 'fast'\n[[tool.wskit.ssot.symbols]]\nname='a'\ncanonical='a:B'\npaths=['a:B']\n",
         "mode must be 'runtime' or 'static'; got 'fast'"),
        ("[tool.wskit.ssot]\nextra = 1\n", "unknown key 'extra'"),
        ("[[tool.wskit.ssot.symbols]]\nname = 'a'\npaths = ['a:B']\n", "symbols[0].canonical is required"),
        ("[[tool.wskit.ssot.symbols]]\nname='a'\ncanonical='a:B'\npaths=['a.B']\n", "symbols[0].paths: cannot parse"),
        ("[[tool.wskit.ssot.symbols]]\nname='a'\ncanonical='a:B'\npaths='a:B'\n", "paths must be a non-empty list"),
        ("[[tool.wskit.ssot.symbols]]\nname='a'\ncanonical='a:B'\npaths=['a:B']\nprobe={kwargs={}}\n",
         "probe.call is required"),
        ("[[tool.wskit.ssot.symbols]]\nname='a'\ncanonical='a:B'\npaths=['a:B']\ncolour='red'\n",
         "unknown key 'colour'"),
        ("[tool.wskit.ssot]\nsearch_path = ['missing-dir']\n", "search_path entry 'missing-dir' is not a directory"),
        ("[tool.wskit.ssot\n", "is not valid TOML"),
    ],
)  # fmt: skip
def test_configuration_errors_exit_2_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    pyproject = write_config(tmp_path, body)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(pyproject)
    result = wskit("ssot", "check", "--config", str(pyproject))
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_an_unreadable_configuration_is_a_usage_error_for_every_command(tmp_path: Path) -> None:
    """A pyproject.toml that is not UTF-8, or a search_path entry holding a NUL byte: exit 2 and one
    line, for the audit too (a traceback exits 1, which CI would read as rows found)."""
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"[tool.wskit.ssot]\n# caf\xe9\n")
    nul = write_config(tmp_path, '[tool.wskit.ssot]\nsearch_path = ["a\\u0000b"]\n')
    for config, message in ((latin1, "latin1.toml is not UTF-8 text (byte 23); save it as UTF-8"),
                            (nul, "search_path entry 'a\\x00b' is not a directory")):  # fmt: skip
        for command in (["check"], ["audit", str(tmp_path)], ["fix", str(tmp_path)]):
            result = wskit("ssot", *command, "--config", str(config))
            assert result.returncode == 2, (command, result.stderr)
            assert message in result.stderr and result.stderr.count("\n") == 1, (command, result.stderr)


def test_a_failure_of_the_analyzer_itself_exits_4_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug is not a finding: exit 1 means rows found to CI, so an exception of the analyzer
    exits 4 and prints where it happened. Usage errors keep exit 2 and their one line."""
    from wskit import cli
    from wskit.ssot.checks import audit

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the audit")

    monkeypatch.setattr(audit, "audit_calls", broken)
    pyproject = str(PROJECT / "pyproject.toml")
    assert cli.main(["ssot", "audit", str(PROJECT / "wskit"), "--config", pyproject]) == 4
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "RuntimeError: a bug in the audit" in err
    assert err.rstrip().endswith("wskit ssot audit: the analyzer failed (traceback above); this is a bug, please"
                                 " report it (exit 4)")  # fmt: skip
    assert cli.main(["ssot", "audit", str(PROJECT / "wskit"), "--config", "missing.toml"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_paths_command_reports_the_websockets_split() -> None:
    result = wskit("ssot", "paths", "websockets.server:serve", "websockets.asyncio.server:serve", "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["consolidated"] is False
    assert sorted(row["resolved"] for row in document["rows"]) == [
        "websockets.asyncio.server.Server",
        "websockets.legacy.server.Serve",
    ]


def test_paths_command_static_with_search_path_and_markdown() -> None:
    result = wskit(
        "ssot", "paths", "aliaspkg:Exported", "from aliaspkg.chain import Alias2",
        "--mode", "static", "--search-path", str(FIXTURES), "--format", "markdown",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "✅ consolidated" in result.stdout and result.stdout.count("aliaspkg.impl.Engine") == 2


def test_paths_command_with_a_probe_calls_factories() -> None:
    result = wskit(
        "ssot", "paths", "wskit.websocket_manager:get_websocket_manager", "wskit:WebSocketManager",
        "--probe", "wskit.core.context:UserContext", "--probe-kwargs", '{"user_id": "cli-probe"}', "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert rows[0]["detail"].startswith("called with the probe")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ssot", "paths", "not-a-path"], "cannot parse import path 'not-a-path'"),
        (["ssot", "paths", "a:B", "--probe", "x:y", "--probe-kwargs", "[1]"], "--probe-kwargs must be a JSON object"),
        (["ssot", "scan", "wskit", "--role", "("], "is not a valid regular expression"),
        (["ssot", "paths", "a:B", "--search-path", "/nope"], "is not a directory"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = wskit(*args)
    assert result.returncode == 2 and message in result.stderr


def test_scan_and_audit_of_a_small_tree_load_only_what_they_use() -> None:
    """Start-up is a good part of a small tree's scan or audit: argparse's help width without
    `shutil` (and its compression modules), `traceback` only on a failure, `threading` and
    `multiprocessing` only for a tree big enough to fork for."""
    probe = (
        "import contextlib, io, sys\n"
        "from wskit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    codes = [main(['ssot', 'scan', '.', '--role', 'Manager']), main(['ssot', 'audit', '.'])]\n"
        "print(codes, [m for m in ('shutil', 'traceback', 'threading', 'multiprocessing') if m in sys.modules])\n"
    )
    command = [sys.executable, "-c", probe]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=FIXTURES / "auditpkg", timeout=120, check=False
    )
    assert result.stdout.splitlines() == ["[0, 1] []"], result.stdout + result.stderr


def test_the_analyzer_commands_do_not_load_the_runtime() -> None:
    # `wskit ssot ...` runs in CI on every commit: it must not pay for websockets, asyncio and the
    # registry, which it never uses (the server commands still get their defaults from them).
    probe = (
        "import sys\n"
        "from wskit.cli import main\n"
        "code = main(['ssot', 'scan', 'wskit', '--role', 'WebSocketManager', '--format', 'json'])\n"
        "runtime = ('asyncio', 'websockets', 'wskit.registry', 'wskit.core.outbox')\n"
        "loaded = sorted(m for m in runtime if m in sys.modules)\n"
        "print(code, loaded, file=sys.stderr)\n"
        "import wskit\n"
        "print(wskit.WebSocketManager.__name__, 'wskit.registry' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, timeout=120, check=False
    )
    assert result.stderr.splitlines() == ["0 []", "_UnifiedWebSocketManagerImplementation True"], result.stderr
    serve_help = wskit("serve", "--help")
    assert serve_help.returncode == 0 and "envelopes kept per user for resumes (default 1000)" in serve_help.stdout


@pytest.mark.parametrize(
    ("args", "cwd", "code", "key"),
    [
        (["scan", str(FIXTURES / "scanpkg"), "--role", "WebSocketManager"], PROJECT, 1, "implementations"),
        (["audit", "."], FIXTURES / "auditpkg", 1, "counts"),
        (["audit", "app/good.py"], FIXTURES / "auditpkg", 0, "counts"),
    ],
)
def test_scan_and_audit_end_at_once_with_all_their_output(args: list[str], cwd: Path, code: int, key: str) -> None:
    """The executable ends `ssot scan` and `ssot audit` without the interpreter's teardown: what
    they printed into a buffered pipe is all there (the JSON parses) and the exit code is theirs."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    command = [*WSKIT, "ssot", *args, "--format", "json"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False)
    assert result.returncode == code, result.stderr
    assert key in json.loads(result.stdout)


def test_scan_command_exit_codes() -> None:
    clean = wskit("ssot", "scan", "wskit", "--role", "WebSocketManager")
    assert clean.returncode == 0 and "✅ ONE IMPLEMENTATION" in clean.stdout
    messy = wskit("ssot", "scan", str(FIXTURES / "scanpkg"), "--role", "WebSocketManager", "--format", "json")
    assert messy.returncode == 1
    document = json.loads(messy.stdout)
    assert document["implementations"] == 2
    assert {c["classification"] for c in document["classes"]} == {
        "abstract", "enum", "exception", "factory", "implementation", "protocol", "test double",
    }  # fmt: skip
