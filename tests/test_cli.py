"""The `wskit` command, run as a real subprocess where it serves."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from wskit import AGENT_EVENTS
from wskit.serve.client import AgentClient
from wskit.session.auth import verify_token

SECRET = "c" * 40
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "WSKIT_SECRET"}
    env = {**base, **(env or {})}
    return subprocess.run([*WSKIT, *args], check=False, capture_output=True, text=True, env=env, timeout=60)


def test_token_prints_a_token_for_the_user(tmp_path: Path) -> None:
    result = run_cli("token", "alice", "--ttl", "60", env={"WSKIT_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert verify_token(result.stdout.strip(), SECRET) == "alice"
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    result = run_cli("token", "bob", "--secret-file", str(secret_file))
    assert verify_token(result.stdout.strip(), SECRET) == "bob"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve"], "no secret: set WSKIT_SECRET or pass --secret-file"),
        (["token", "alice"], "no secret: set WSKIT_SECRET or pass --secret-file"),
        (["token", "bad id"], "user_id must be"),
        (["serve", "--secret-file", "/nonexistent/secret"], "cannot read --secret-file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    env = {"WSKIT_SECRET": SECRET} if args == ["token", "bad id"] else None
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_option_values_are_usage_errors() -> None:
    result = run_cli("serve", "--port", "99999", "--dev")
    assert result.returncode == 2 and "expected a port number 0-65535" in result.stderr


def test_serve_dev_serves_clients_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [*WSKIT, "serve", "--dev", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = re.search(r"(ws://\S+)", banner)
        assert url, banner
        instructions = "".join(process.stdout.readline() for _ in range(3))
        assert "wskit token alice" in instructions
        token = re.search(r"example token for 'alice': (\S+)", instructions)
        assert token, instructions

        async def use_then_signal() -> int | None:
            client = await AgentClient.connect(url.group(1), token.group(1))
            events = await client.run_agent("hi there", thread_id="cli")
            assert [e["type"] for e in events] == list(AGENT_EVENTS)
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(client.connection.wait_closed(), 10)
            return client.connection.close_code

        assert asyncio.run(use_then_signal()) == 1001
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backplane", "http://cache:6379"], "bad backplane URL 'http://cache:6379': expected redis://HOST:PORT/DB"),
        (["--backplane", "redis://user:hunter2@cache:port/0"], "bad backplane URL 'redis://user:***@cache:port/0'"),
        (["--backplane", "redis://127.0.0.1:1/0"], "cannot connect to the backplane: Redis at redis://127.0.0.1:1/0"),
        (["--backplane", "redis://:hunter2@127.0.0.1:1/0"], "Redis at redis://:***@127.0.0.1:1/0 failed"),
        (["--memory-budget", "1MiB"], "memory_budget must be at least 2097152 bytes (one user's history"),
        (["--memory-budget", "lots"], "expected a size in bytes such as 536870912, 512MiB or 512M"),
    ],
)
def test_backplane_and_budget_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run_cli("serve", "--port", "0", *args, env={"WSKIT_SECRET": SECRET})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1], result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_memory_budget_sizes_are_read_in_the_units_people_write() -> None:
    from wskit.cli import _byte_size

    assert [_byte_size(t) for t in ("536870912", "512MiB", "512M", "2gib", "64 KiB")] == [
        536870912, 512 * 2**20, 512 * 10**6, 2 * 2**30, 64 * 1024,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["alice"], {}, 2, "the servers are reached through their shared backplane: pass --backplane redis://"),
        (["alice", "--backplane", "memory://"], {}, 2, "--backplane redis://HOST:PORT/DB (or set WSKIT_BACKPLANE)"),
        (["alice", "--backplane", "http://cache:6379"], {}, 2, "bad backplane URL 'http://cache:6379'"),
        (["bad id", "--backplane", "redis://127.0.0.1:1/0"], {}, 2, "user_id must be a non-empty str"),
        (["alice", "--reason", "a\nb"], {"WSKIT_BACKPLANE": "redis://127.0.0.1:1/0"}, 2, "reason must be one line"),
        (["alice"], {"WSKIT_BACKPLANE": "redis://:hunter2@127.0.0.1:1/0"}, 1,
         "wskit disconnect: error: cannot connect to the backplane: Redis at redis://:***@127.0.0.1:1/0 failed"),
    ],
)  # fmt: skip
def test_disconnect_errors_say_what_was_wrong_in_one_line(
    args: list[str], env: dict[str, str], code: int, message: str
) -> None:
    result = run_cli("disconnect", *args, env=env)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == "" and "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--token-expiry-warning", "-1"], "--token-expiry-warning: expected a positive number, got '-1'"),
        (["serve", "--dev", "--max-token-lifetime", "x"], "--max-token-lifetime: expected a positive number, got 'x'"),
        (["disconnect", "a", "--max-token-lifetime", "0"], "--max-token-lifetime: expected a positive number, got '0'"),
    ],
)
def test_token_options_are_checked(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].endswith(message), result.stderr


def test_disconnect_in_process_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis_servers import RedisServer

    from wskit.cli import main

    monkeypatch.delenv("WSKIT_BACKPLANE", raising=False)
    with RedisServer(tmp_path / "redis") as redis_server:
        revoke = ["disconnect", "zoe", "--backplane", redis_server.url, "--revoke", "--max-token-lifetime", "120"]
        assert main(revoke) == 0
        assert capsys.readouterr().out.splitlines() == [
            "disconnected 'zoe': 0 server processes held connections (close 4003: disconnected by an administrator)",
            "revoked: tokens of 'zoe' issued until now are refused for 120 s",
        ]
        kept = redis_server.client().get("wskit:{u:zoe}:revoked")
        assert kept is not None and kept.endswith(b" disconnected by an administrator")
        assert 110 < redis_server.client().ttl("wskit:{u:zoe}:revoked") <= 120
        monkeypatch.setenv("WSKIT_BACKPLANE", redis_server.url)
        assert main(["disconnect", "zoe", "--reason", "later"]) == 0
        assert capsys.readouterr().out.endswith("held connections (close 4003: later)\n")
        assert redis_server.client().get("wskit:{u:zoe}:revoked") == kept  # no --revoke: it stays as it was
    assert main(["disconnect", "zoe"]) == 1  # $WSKIT_BACKPLANE, now stopped
    assert capsys.readouterr().err.startswith("wskit disconnect: error: cannot connect to the backplane: Redis at ")
    monkeypatch.delenv("WSKIT_BACKPLANE")
    assert main(["disconnect", "zoe"]) == 2
    assert capsys.readouterr().err == (
        "wskit disconnect: error: the servers are reached through their shared backplane: pass --backplane"
        " redis://HOST:PORT/DB (or set WSKIT_BACKPLANE)\n"
    )
    for nowhere in (["--backplane", "memory://"], ["--backplane", ""]):
        assert main(["disconnect", "zoe", *nowhere]) == 2
        assert "through their shared backplane" in capsys.readouterr().err
    assert main(["disconnect", "zoe", "--backplane", "http://cache:6379"]) == 2
    assert capsys.readouterr().err == (
        "wskit disconnect: error: bad backplane URL 'http://cache:6379': expected redis://HOST:PORT/DB (or memory://)\n"
    )
    assert main(["disconnect", "bad id", "--backplane", "redis://127.0.0.1:1/0"]) == 2
    assert "user_id must be" in capsys.readouterr().err


def test_serve_buffer_history_and_budget_options_reach_the_registry() -> None:
    """Mutation testing showed `wskit serve`'s options reach the registry untested in process (the
    server tests run `wskit serve` as a subprocess, out of the tool's sight)."""
    from wskit.backplane import InProcessBackplane
    from wskit.cli import _registry, build_parser
    from wskit.usage import UsageError

    args = build_parser().parse_args([
        "serve", "--max-buffered-bytes", "70000", "--send-timeout", "3.5", "--memory-budget", "64MiB",
        "--history-size", "7", "--history-bytes-per-user", "9000", "--history-age", "42",
    ])  # fmt: skip
    registry = _registry(args, None)
    assert (registry.max_buffered_bytes, registry.send_timeout, registry.budget.limit) == (70_000, 3.5, 64 << 20)
    own = registry.backplane
    assert isinstance(own, InProcessBackplane)
    assert (own.history_max_messages, own.history_max_bytes, own.history_max_age) == (7, 9000, 42.0)
    given = InProcessBackplane()
    assert _registry(build_parser().parse_args(["serve"]), given).backplane is given  # its own limits stand
    limited = build_parser().parse_args(["serve", "--history-size", "7", "--history-age", "42"])
    other = InProcessBackplane()
    assert _registry(limited, other).backplane is other  # they went to the backplane's URL, not to the registry
    with pytest.raises(UsageError, match="memory_budget"):
        _registry(build_parser().parse_args(["serve", "--memory-budget", "1KiB"]), None)


def test_serve_token_options_reach_the_registry() -> None:
    from wskit.cli import _registry, build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.max_token_lifetime, args.token_expiry_warning) == (86_400, 60.0)
    args = build_parser().parse_args(["serve", "--max-token-lifetime", "600", "--token-expiry-warning", "0"])
    assert (_registry(args, None).max_token_lifetime, args.token_expiry_warning) == (600, 0.0)


def test_each_command_parses_its_options_to_the_documented_defaults_and_types() -> None:
    """In process, where mutation testing sees it: the server tests run `wskit serve` as a subprocess."""
    from wskit import cli

    parse = cli.build_parser().parse_args
    defaults = vars(parse(["serve"]))
    assert defaults.pop("func") is cli._cmd_serve
    assert defaults == {
        "command": "serve", "host": "127.0.0.1", "port": 8765, "secret_file": None, "dev": False,
        "max_message_bytes": 65536, "max_connections_per_user": 10, "max_frames_per_second": 20.0,
        "frame_burst": 40, "ping_interval": 20.0, "ping_timeout": 20.0, "history_size": 1000,
        "history_bytes_per_user": 1 << 20, "memory_budget": None, "backplane": None, "history_age": 300.0,
        "max_buffered_bytes": 1 << 20, "send_timeout": 10.0, "resume_grace": 0.5, "token_expiry_warning": 60.0,
        "max_token_lifetime": 86400,
    }  # fmt: skip
    given = vars(parse([
        "serve", "--host", "0.0.0.0", "--port", "0", "--secret-file", "s", "--dev", "--max-message-bytes", "5",
        "--max-connections-per-user", "6", "--max-frames-per-second", "7.5", "--frame-burst", "8",
        "--ping-interval", "9.5", "--ping-timeout", "10.5", "--history-size", "11", "--history-bytes-per-user", "12",
        "--memory-budget", "1KiB", "--backplane", "redis://h:1/0", "--history-age", "13.5",
        "--max-buffered-bytes", "14", "--send-timeout", "15.5", "--resume-grace", "0", "--token-expiry-warning",
        "16.5", "--max-token-lifetime", "17.5",
    ]))  # fmt: skip
    assert [given[key] for key in defaults if key != "command"] == [
        "0.0.0.0", 0, "s", True, 5, 6, 7.5, 8, 9.5, 10.5, 11, 12, 1024, "redis://h:1/0", 13.5, 14, 15.5, 0.0, 16.5,
        17.5,
    ]  # fmt: skip
    token = vars(parse(["token", "alice", "--ttl", "60", "--secret-file", "s"]))
    assert (token.pop("func"), token) == (cli._cmd_token, {"command": "token", "user_id": "alice", "ttl": 60,
                                                          "secret_file": "s"})  # fmt: skip
    assert parse(["token", "alice"]).ttl == 3600
    disconnect = vars(parse(["disconnect", "zoe"]))
    assert disconnect.pop("func") is cli._cmd_disconnect
    assert disconnect == {"command": "disconnect", "user_id": "zoe", "reason": "disconnected by an administrator",
                          "revoke": False, "backplane": None, "max_token_lifetime": 86400}  # fmt: skip
    assert vars(parse(["disconnect", "zoe", "--revoke", "--reason", "r", "--backplane", "b"]))["revoke"] is True
    report = vars(parse(["report"]))
    assert report.pop("func") is cli._cmd_report
    assert report == {
        "command": "report",
        "notebooks": "notebooks",
        "output": "reports",
        "timeout": 120,
        "quiet": False,
    }
    given = vars(parse(["report", "--notebooks", "n", "--output", "o", "--timeout", "9", "--quiet"]))
    assert [given[key] for key in ("notebooks", "output", "timeout", "quiet")] == ["n", "o", 9, True]
    notebooks = vars(parse(["notebooks", "--notebooks", "n", "--timeout", "9"]))
    assert notebooks.pop("func") is cli._cmd_notebooks
    assert notebooks == {"command": "notebooks", "notebooks": "n", "timeout": 9}
    assert (parse(["notebooks"]).notebooks, parse(["notebooks"]).timeout) == ("notebooks", 120)


@pytest.mark.parametrize(
    ("check", "text", "message"),
    [
        ("_positive_int", "0", "expected a positive integer, got '0'"),
        ("_positive_int", "1.5", "expected a positive integer, got '1.5'"),
        ("_positive_float", "0", "expected a positive number, got '0'"),
        ("_positive_float", "inf", "expected a positive number, got 'inf'"),
        ("_positive_float", "x", "expected a positive number, got 'x'"),
        ("_non_negative_float", "-1", "expected a positive number, got '-1'"),
        ("_byte_size", "0", "expected a size in bytes such as 536870912, 512MiB or 512M; got '0'"),
        ("_byte_size", "5XB", "expected a size in bytes such as 536870912, 512MiB or 512M; got '5XB'"),
        ("_byte_size", "lots", "expected a size in bytes such as 536870912, 512MiB or 512M; got 'lots'"),
        ("_port", "65536", "expected a port number 0-65535, got '65536'"),
        ("_port", "p", "expected a port number 0-65535, got 'p'"),
    ],
)
def test_option_values_are_checked_with_a_message_naming_the_value(check: str, text: str, message: str) -> None:
    import argparse

    from wskit import cli

    with pytest.raises(argparse.ArgumentTypeError) as raised:
        getattr(cli, check)(text)
    assert str(raised.value) == message
    assert (cli._positive_int("1"), cli._positive_float("1e-3"), cli._port("0"), cli._port("65535")) == (
        1,
        0.001,
        0,
        65535,
    )
    assert (cli._non_negative_float(" 0 "), cli._non_negative_float("0.0"), cli._non_negative_float("2")) == (0, 0, 2)


def test_the_command_line_in_process_lists_its_commands_and_fills_only_the_one_that_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wskit import cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: wskit [-h] COMMAND ...\n\nOne WebSocket manager, served and proven.\n")
    for line in ("serve     run the WebSocket server", "token     print a token for USER_ID",
                 "close every connection of USER_ID on every server process", "report    execute the notebooks",
                 "ssot      prove import-path consolidation"):  # fmt: skip
        assert line in out
    for argv, error in (
        ([], "wskit: error: the following arguments are required: COMMAND"),
        (["bogus"], "wskit: error: argument COMMAND: invalid choice: 'bogus'"),
    ):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 2 and error in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser("ssot").parse_args(["serve", "--port", "1"])  # the server's options were left out
    assert "unrecognized arguments: --port 1" in capsys.readouterr().err
    asked: list[str | None] = []
    real = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda command=None: asked.append(command) or real(command))
    monkeypatch.setattr(sys, "argv", ["wskit", "token", "alice", "--ttl", "60"])
    monkeypatch.setenv("WSKIT_SECRET", SECRET)
    assert cli.main() == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert verify_token(token, SECRET) == "alice" and claims["exp"] - claims["iat"] == 60
    assert cli.main(["disconnect", "zoe", "--backplane", ""]) == 2  # an empty URL is no backplane either
    assert "pass --backplane redis://HOST:PORT/DB" in capsys.readouterr().err
    assert cli.main(["ssot", "paths", "--mode", "static", "wskit.websocket_manager:WebSocketManager"]) == 0
    assert asked == ["token", "disconnect", "ssot"]


HELP_PAGES = Path(__file__).parent / "fixtures" / "cli_help.txt"
HELP_COMMANDS = [[], ["serve"], ["token"], ["disconnect"], ["report"], ["notebooks"], ["ssot"]] + [
    ["ssot", verb] for verb in ("init", "notebook", "check", "paths", "scan", "audit", "fix")
]


def _help_pages(capsys: pytest.CaptureFixture[str]) -> str:
    from wskit import cli

    pages = []
    for words in HELP_COMMANDS:
        with pytest.raises(SystemExit) as done:
            cli.main([*words, "--help"])
        assert done.value.code == 0
        pages.append(f"$ wskit {' '.join([*words, '--help'])}\n{capsys.readouterr().out}")
    return "\n".join(pages)


def test_every_help_page_reads_as_reviewed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The `--help` of every command, as a user reads it, is tests/fixtures/cli_help.txt. After a
    deliberate change: `WSKIT_WRITE_HELP=1 pytest tests/test_cli.py -k help_page`, then review the diff."""
    monkeypatch.setenv("COLUMNS", "100")
    pages = _help_pages(capsys)
    if os.environ.get("WSKIT_WRITE_HELP") == "1":
        HELP_PAGES.write_text(pages)
    assert pages == HELP_PAGES.read_text()


def test_every_server_option_that_takes_a_value_names_its_unit_and_default() -> None:
    from wskit import cli

    checked = 0
    for command in ("serve", "token", "disconnect", "report", "notebooks"):
        commands = next(a for a in cli.build_parser(command)._actions if isinstance(a, argparse._SubParsersAction))
        for action in commands.choices[command]._actions:
            if not action.option_strings or action.nargs == 0:
                continue  # positionals and flags
            checked += 1
            shown = action.metavar or action.dest.upper()  # HOST, PORT, BYTES, SECONDS: not MAX_MESSAGE_BYTES
            assert isinstance(shown, str) and "_" not in shown, f"{command} {action.option_strings[0]}: {shown}"
            assert action.help and "(default" in action.help, f"{command} {action.option_strings[0]}: {action.help}"
    assert checked == 29  # 19 of serve, 2 of token, 3 of disconnect, 3 of report, 2 of notebooks


class _Terminal:
    """A real pseudo-terminal of a given width standing in for the process's stdout."""

    def __init__(self, columns: int) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.main, self.side = pty.openpty()
        fcntl.ioctl(self.side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def fileno(self) -> int:
        return self.side

    def close(self) -> None:
        os.close(self.main)
        os.close(self.side)


@pytest.mark.parametrize(
    ("columns_env", "terminal"),
    [(None, 123), ("0", 123), ("1", 123), ("97", 123), (None, None), ("x", None), (None, "none")],
)
def test_help_is_as_wide_as_shutil_would_say(
    monkeypatch: pytest.MonkeyPatch, columns_env: str | None, terminal: int | str | None
) -> None:
    """The help width is read without importing shutil, and is what `shutil.get_terminal_size()`
    says: $COLUMNS when it is a positive number, else the terminal's width, else 80."""
    from wskit import cli

    if columns_env is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns_env)
    monkeypatch.delenv("LINES", raising=False)
    with contextlib.ExitStack() as stack:
        stdout: object = None  # "none": no stdout at all
        if isinstance(terminal, int):
            stdout = _Terminal(terminal)
            stack.callback(stdout.close)
        elif terminal is None:
            stdout = stack.enter_context(open(os.devnull, "w"))  # a file: no terminal size
        with monkeypatch.context() as only_here:  # pytest itself writes to sys.__stdout__ between tests
            only_here.setattr(sys, "__stdout__", stdout)
            expected = shutil.get_terminal_size().columns  # the oracle: what argparse asks without wskit
            columns = cli._terminal_columns()
            only_here.delitem(sys.modules, "shutil")
            formatter = cli._HelpFormatter("wskit")
            imported_shutil = "shutil" in sys.modules
        assert columns == expected and not imported_shutil
        assert formatter._width == expected - 2  # what argparse's own default gives
        assert cli._HelpFormatter("wskit", width=50)._width == 50


def test_only_scan_and_audit_end_the_process_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main(exit_when_done=True)` (the executable) ends `ssot scan` and `ssot audit` with their
    own exit code once the output is flushed; every other command returns, and so does `main()`."""
    from wskit import cli

    class Ended(Exception):
        pass

    ended: list[int] = []

    def end(code: int) -> None:
        ended.append(code)
        raise Ended

    monkeypatch.setattr(os, "_exit", end)
    scanpkg = str(Path(__file__).parent / "fixtures" / "ssot" / "scanpkg")
    for args, code in [
        (["scan", scanpkg, "--role", "WebSocketManager"], 1),
        (["scan", "wskit", "--role", "Nothing"], 0),
    ]:
        with pytest.raises(Ended):
            cli.main(["ssot", *args], exit_when_done=True)
        assert ended.pop() == code
    monkeypatch.chdir(Path(__file__).parent / "fixtures" / "ssot" / "auditpkg")
    with pytest.raises(Ended):
        cli.main(["ssot", "audit", "."], exit_when_done=True)
    assert ended.pop() == 1
    assert cli.main(["ssot", "audit", "."]) == 1
    monkeypatch.chdir(Path(__file__).parent.parent)
    assert cli.main(["ssot", "check", "--mode", "static"], exit_when_done=True) == 0
    assert ended == []
    assert "ROLE SCAN" in capsys.readouterr().out

    class ClosedPipe:  # what `| head` leaves once head has exited
        def flush(self) -> None:
            raise BrokenPipeError

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    with pytest.raises(Ended):
        cli._exit_now(0)
    assert ended == [1]  # as the normal exit reports a closed pipe
