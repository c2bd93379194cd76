"""The `wskit` command: `serve`, `token`, `disconnect` (and the analyzer and report commands).

Exit codes: 0 success, 1 a check found a problem (`disconnect`: the backplane could not be
reached), 2 usage or configuration error (one line on stderr naming what was wrong).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from wskit.core.errors import BackplaneUnavailable  # a plain module: no runtime import
from wskit.usage import UsageError

if TYPE_CHECKING:
    from wskit.backplane import Backplane
    from wskit.registry import ManagerRegistry
    from wskit.serve.server import WskitServer

__all__ = ["build_parser", "main", "run"]

Command = Callable[[argparse.Namespace], int]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else _positive_float(text)


_UNITS = {"": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3}  # fmt: skip


def _byte_size(text: str) -> int:
    number = text.rstrip("kKmMgGiIbB ")
    unit = text[len(number) :].strip().lower()
    if not number.isdigit() or unit not in _UNITS or int(number) == 0:
        raise argparse.ArgumentTypeError(f"expected a size in bytes such as 536870912, 512MiB or 512M; got {text!r}")
    return int(number) * _UNITS[unit]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from wskit.backplane import backplane_from_url
    from wskit.serve.asgi import redact_server_logs
    from wskit.serve.server import WskitServer
    from wskit.session.auth import generate_secret, load_secret

    if args.dev:
        secret = generate_secret()
    else:
        try:
            secret = load_secret(args.secret_file)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    backplane = None
    if args.backplane is not None:
        try:
            backplane = backplane_from_url(
                args.backplane,
                history_max_messages=args.history_size,
                history_max_bytes=args.history_bytes_per_user,
                history_max_age=args.history_age,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    redact_server_logs()  # websockets logs request paths (?token=) at DEBUG
    server = WskitServer(
        secret=secret,
        host=args.host,
        port=args.port,
        registry=_registry(args, backplane),
        max_message_bytes=args.max_message_bytes,
        max_connections_per_user=args.max_connections_per_user,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        max_frames_per_second=args.max_frames_per_second,
        frame_burst=args.frame_burst,
        resume_grace=args.resume_grace,
        token_expiry_warning=args.token_expiry_warning,
    )
    return asyncio.run(_serve_until_signal(server, dev=args.dev))


def _registry(args: argparse.Namespace, backplane: Backplane | None) -> ManagerRegistry:
    from wskit.registry import ManagerRegistry

    # In this process, the history limits go to the registry's own backplane, which the memory
    # budget then covers; with another backplane they went to it, and the budget covers buffers.
    history = {} if backplane is not None else {
        "history_max_messages": args.history_size,
        "history_max_bytes": args.history_bytes_per_user,
        "history_max_age": args.history_age,
    }  # fmt: skip
    try:
        return ManagerRegistry(
            backplane=backplane,
            max_buffered_bytes=args.max_buffered_bytes,
            send_timeout=args.send_timeout,
            memory_budget=args.memory_budget,
            max_token_lifetime=args.max_token_lifetime,
            **history,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


async def _serve_until_signal(server: WskitServer, *, dev: bool) -> int:
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
    except BackplaneUnavailable as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {server.host}:{server.port}: {exc.strerror or exc}") from None
    print(f"wskit serving on {server.url} (health: {server.http_url()})", flush=True)
    if dev:
        print(
            "dev mode: random secret for this run only. Mint a token with:\n"
            f"  WSKIT_SECRET={server.secret} wskit token alice\n"
            f"example token for 'alice': {server.mint_token('alice')}",
            flush=True,
        )
    await stop.wait()
    print("shutting down", flush=True)
    await server.close(1001)
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from wskit.session.auth import load_secret, mint_token

    try:
        secret = load_secret(args.secret_file)
        print(mint_token(args.user_id, secret, ttl_seconds=args.ttl))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _cmd_disconnect(args: argparse.Namespace) -> int:
    import asyncio

    from wskit.backplane import backplane_from_url
    from wskit.registry import ManagerRegistry

    url = args.backplane or os.environ.get("WSKIT_BACKPLANE")
    if url is None or url in ("", "memory://"):
        raise UsageError(
            "the servers are reached through their shared backplane: pass --backplane redis://HOST:PORT/DB"
            " (or set WSKIT_BACKPLANE)"
        )
    try:
        registry = ManagerRegistry(backplane=backplane_from_url(url), max_token_lifetime=args.max_token_lifetime)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return asyncio.run(_disconnect(registry, args.user_id, args.reason, revoke=args.revoke))


async def _disconnect(registry: ManagerRegistry, user_id: str, reason: str, *, revoke: bool) -> int:
    from wskit.registry import USER_DISCONNECTED

    try:
        told = await registry.disconnect_user(user_id, reason, revoke=revoke)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except BackplaneUnavailable as exc:
        print(f"wskit disconnect: error: {exc}", file=sys.stderr)
        return 1
    finally:
        await registry.backplane.close()
    print(f"disconnected {user_id!r}: {told} server processes held connections (close {USER_DISCONNECTED}: {reason})")
    if revoke:
        print(f"revoked: tokens of {user_id!r} issued until now are refused for {registry.max_token_lifetime:g} s")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from wskit.report.html import build_report

    try:
        result = build_report(args.notebooks, args.output, timeout=args.timeout, progress=not args.quiet)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for line in result.failures():
        print(f"wskit report: {line}", file=sys.stderr)
    passed = sum(run.ok for run in result.runs)
    print(f"{passed}/{len(result.runs)} notebooks passed; report: {result.index}")
    return 0 if result.ok else 1


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from wskit.report.runner import execute_notebook, find_notebooks, save_in_place
    from wskit.report.versions import record_reference_versions, write_reference_versions

    try:
        paths = find_notebooks(args.notebooks)
        previous = record_reference_versions(args.notebooks)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    failed = 0
    for path in paths:
        run = execute_notebook(path, timeout=args.timeout)
        if run.ok:
            save_in_place(run)
            print(f"re-executed {path} ({run.seconds:.1f} s)")
        else:
            failed += 1
            where = f"cell {run.failed_cell}: {run.error}" if run.failed_cell is not None else "a check printed [FAIL]"
            print(f"wskit notebooks: {path} failed at {where}; left unchanged", file=sys.stderr)
    if failed and previous is not None:
        # The notebooks that failed keep their old outputs, so the versions they were made with stay too.
        write_reference_versions(args.notebooks, previous)
    return 1 if failed else 0


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as the terminal, told without `shutil`: argparse imports
    it (with zlib, bz2 and lzma) for the width, 5 ms of every start, since each option makes one."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


def _terminal_columns() -> int:
    """What `shutil.get_terminal_size().columns` says: $COLUMNS, else the terminal's width, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` formatting with `_HelpFormatter`; its subcommands' parsers are `_Parser`s too."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"formatter_class": _HelpFormatter, **kwargs})


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the `wskit` command.

    With `command` (the word after `wskit`), a server command's options are added only when it is
    that command, so that `wskit ssot ...` does not import the runtime for its defaults.
    """
    parser: argparse.ArgumentParser = _Parser(prog="wskit", description="One WebSocket manager, served and proven.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, fill in (
        ("serve", "run the WebSocket server", _serve_options),
        ("token", "print a token for USER_ID", _token_options),
        ("disconnect", "close every connection of USER_ID on every server process", _disconnect_options),
    ):
        runtime = commands.add_parser(name, help=help_text)
        if command not in _OTHER_COMMANDS:
            fill(runtime)
    _other_commands(commands)
    return parser


_OTHER_COMMANDS = ("report", "notebooks", "ssot")
"""The commands that are not a server's: their parsers never need the runtime's defaults."""


def _serve_options(serve: argparse.ArgumentParser) -> None:
    from wskit.core.history import DEFAULT_HISTORY_MAX_AGE, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_MAX_MESSAGES
    from wskit.core.outbox import DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_SEND_TIMEOUT
    from wskit.serve.server import DEFAULT_MAX_CONNECTIONS_PER_USER, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RESUME_GRACE
    from wskit.session.connection import DEFAULT_TOKEN_EXPIRY_WARNING
    from wskit.session.inbound import DEFAULT_FRAME_BURST, DEFAULT_FRAMES_PER_SECOND

    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default %(default)s)")
    serve.add_argument("--port", type=_port, default=8765, help="port (default %(default)s; 0 picks a free one)")
    serve.add_argument("--secret-file", metavar="FILE", help="file holding the token secret (default: $WSKIT_SECRET)")
    serve.add_argument("--dev", action="store_true", help="use a random throwaway secret and print how to mint tokens")
    serve.add_argument("--max-message-bytes", type=_positive_int, default=DEFAULT_MAX_MESSAGE_BYTES, metavar="BYTES",
                       help="largest inbound frame; a larger one closes with 1009 (default %(default)s)")  # fmt: skip
    serve.add_argument("--max-connections-per-user", type=_positive_int, default=DEFAULT_MAX_CONNECTIONS_PER_USER,
                       metavar="N", help="connections per user; the next one closes with 1008"
                       " (default %(default)s)")  # fmt: skip
    serve.add_argument("--max-frames-per-second", type=_positive_float, default=DEFAULT_FRAMES_PER_SECOND,
                       metavar="RATE", help="inbound rate limit per connection (default %(default)s)")  # fmt: skip
    serve.add_argument("--frame-burst", type=_positive_int, default=DEFAULT_FRAME_BURST, metavar="N",
                       help="frames allowed at once before the rate applies (default %(default)s)")  # fmt: skip
    serve.add_argument("--ping-interval", type=_positive_float, default=20.0, metavar="SECONDS",
                       help="keepalive ping interval (default %(default)s)")  # fmt: skip
    serve.add_argument("--ping-timeout", type=_positive_float, default=20.0, metavar="SECONDS",
                       help="close a peer that does not answer a ping within it (default %(default)s)")  # fmt: skip
    serve.add_argument("--history-size", type=_positive_int, default=DEFAULT_HISTORY_MAX_MESSAGES, metavar="N",
                       help="envelopes kept per user for resumes (default %(default)s)")  # fmt: skip
    serve.add_argument("--history-bytes-per-user", type=_positive_int, default=DEFAULT_HISTORY_MAX_BYTES,
                       metavar="BYTES", help="bytes of envelopes kept per user for resumes"
                       " (default %(default)s)")  # fmt: skip
    serve.add_argument("--memory-budget", type=_byte_size, metavar="BYTES",
                       help="bytes of histories and buffers this process may hold, e.g. 512MiB"
                       " (default: none)")  # fmt: skip
    serve.add_argument("--backplane", metavar="URL",
                       help="redis://HOST:PORT/DB, to serve with other processes (default: none)")  # fmt: skip
    serve.add_argument("--history-age", type=_positive_float, default=DEFAULT_HISTORY_MAX_AGE, metavar="SECONDS",
                       help="how long envelopes are kept for resumes (default %(default)s)")  # fmt: skip
    serve.add_argument("--max-buffered-bytes", type=_positive_int, default=DEFAULT_MAX_BUFFERED_BYTES, metavar="BYTES",
                       help="bytes queued for a connection before it is closed 1013 (default %(default)s)")  # fmt: skip
    serve.add_argument("--send-timeout", type=_positive_float, default=DEFAULT_SEND_TIMEOUT, metavar="SECONDS",
                       help="how long a write may wait before closing 1013 (default %(default)s)")  # fmt: skip
    serve.add_argument("--resume-grace", type=_non_negative_float, default=DEFAULT_RESUME_GRACE, metavar="SECONDS",
                       help="how long a new connection waits for a first-frame resume (default %(default)s;"
                       " 0: none)")  # fmt: skip
    serve.add_argument("--token-expiry-warning", type=_non_negative_float, default=DEFAULT_TOKEN_EXPIRY_WARNING,
                       metavar="SECONDS", help="how long before exp a connection is sent token_expiring"
                       " (default %(default)s)")  # fmt: skip
    _max_token_lifetime_option(serve)
    serve.set_defaults(func=_cmd_serve)


def _token_options(token: argparse.ArgumentParser) -> None:
    token.add_argument("user_id", metavar="USER_ID", help="the token's subject")
    token.add_argument("--ttl", type=_positive_int, default=3600, metavar="SECONDS",
                       help="lifetime (default %(default)s)")  # fmt: skip
    token.add_argument("--secret-file", metavar="FILE", help="file holding the token secret (default: $WSKIT_SECRET)")
    token.set_defaults(func=_cmd_token)


def _disconnect_options(disconnect: argparse.ArgumentParser) -> None:
    disconnect.add_argument("user_id", metavar="USER_ID", help="the user whose connections are closed")
    disconnect.add_argument("--reason", default="disconnected by an administrator",
                            help="the close reason the user's clients get (default: %(default)s)")  # fmt: skip
    disconnect.add_argument("--revoke", action="store_true",
                            help="also refuse the user's tokens issued until now, on every process")  # fmt: skip
    disconnect.add_argument("--backplane", metavar="URL",
                            help="redis://HOST:PORT/DB the servers share (default: $WSKIT_BACKPLANE)")  # fmt: skip
    _max_token_lifetime_option(disconnect)
    disconnect.set_defaults(func=_cmd_disconnect)


def _other_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="execute the notebooks and write HTML reports")
    report.add_argument("--notebooks", default="notebooks", metavar="DIR",
                        help="directory of .ipynb files (default %(default)s)")  # fmt: skip
    report.add_argument("--output", default="reports", metavar="DIR",
                        help="where to write the HTML (default %(default)s)")  # fmt: skip
    report.add_argument("--timeout", type=_positive_int, default=120, metavar="SECONDS",
                        help="time allowed per cell (default %(default)s)")  # fmt: skip
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    report.set_defaults(func=_cmd_report)

    notebooks = commands.add_parser("notebooks", help="re-execute the notebooks in place (new nbval references)")
    notebooks.add_argument("--notebooks", default="notebooks", metavar="DIR",
                           help="directory of .ipynb files (default %(default)s)")  # fmt: skip
    notebooks.add_argument("--timeout", type=_positive_int, default=120, metavar="SECONDS",
                           help="time allowed per cell (default %(default)s)")  # fmt: skip
    notebooks.set_defaults(func=_cmd_notebooks)

    for register in _extra_commands():
        register(commands)


def _max_token_lifetime_option(parser: argparse.ArgumentParser) -> None:
    from wskit.registry import DEFAULT_MAX_TOKEN_LIFETIME

    parser.add_argument("--max-token-lifetime", type=_positive_float, default=DEFAULT_MAX_TOKEN_LIFETIME,
                        metavar="SECONDS", help="longest token lifetime (exp - iat) servers accept, and how long a"
                        " revocation is kept: the same for every process (default %(default)s)")  # fmt: skip


def _extra_commands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    # Imported here so that `wskit serve` does not pay for the analyzer's imports.
    from wskit.ssot.cli import register as register_ssot

    return [register_ssot]


def main(argv: Sequence[str] | None = None, *, exit_when_done: bool = False) -> int:
    """Run the `wskit` command; returns its exit code.

    With `exit_when_done` (the `wskit` executable, `run`), a command that only reads and prints
    (`ssot scan`, `ssot audit`: `exits_when_done` on its parser) ends the process as soon as its
    output is flushed, without the interpreter's teardown: freeing the syntax trees it read cost
    5-10 ms of a 0.1-0.2 s run (mypy ends the same way).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((word for word in argv if not word.startswith("-")), None))
    args = parser.parse_args(argv)
    func: Command = args.func
    try:
        code = func(args)
    except UsageError as exc:
        print(f"wskit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if exit_when_done and getattr(args, "exits_when_done", False):
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """Flush the output, then end the process with `code` at once (no atexit work, no teardown)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = 1  # the reader went away (`| head`): what the normal exit reports too
    os._exit(code)


def run() -> None:
    """The `wskit` executable (and `python -m wskit`): `main`, ending at once where it can."""
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main(exit_when_done=True))


if __name__ == "__main__":
    run()
