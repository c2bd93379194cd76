"""`map_forked(work, count)`: per-file work spread over the machine's cores, by fork, when it pays.

A tree walk's per-file step (parse the statements that matter, classify them) is independent from
one file to the next. Forked workers inherit everything read so far (the tree, the resolver's
caches) without copying it, and send back only their results, through a pipe each. It runs in
order, in this process, when there is little to do, one core, no `fork`, other threads (a Jupyter
kernel has some: forking them is unsafe), or `WSKIT_SSOT_WORKERS=1` in the environment.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import TypeVar

__all__ = ["map_forked"]

T = TypeVar("T")
_MINIMUM = 1000  # files below which starting workers costs more than it saves
# (measured: forking 2 workers made the audit of 367 and 536 real files 0.01-0.02 s slower, of
# 4,100-4,450 files 0.5 s faster)


def workers(count: int) -> int:
    """How many processes `map_forked` would use for `count` items."""
    wanted = int(os.environ.get("WSKIT_SSOT_WORKERS", "0") or 0) or (os.cpu_count() or 1)
    if wanted <= 1 or count < _MINIMUM or not hasattr(os, "fork"):
        return 1
    import threading  # only when it may fork

    if threading.active_count() > 1:
        return 1
    return min(wanted, 8)


def map_forked(work: Callable[[int], T], count: int) -> list[T]:
    """`[work(0), ..., work(count - 1)]`, computed by forked workers when that pays (see above).

    The items are cut into batches of neighbouring ones, and each worker takes the next batch as
    soon as it is free, so that a worker given slow files does not keep the others waiting. An
    exception in a worker is raised here (a `RuntimeError` naming it when it cannot be sent back
    as it is).
    """
    processes = workers(count)
    if processes == 1:
        return [work(index) for index in range(count)]
    batches = _batches(count, processes)
    tickets, writer = os.pipe()
    # Every ticket is written before a worker reads one: 4 bytes each, at most 4 KB in all, which
    # a pipe's buffer always holds. A pipe is read by one process at a time, so each read of 4
    # bytes takes one whole ticket; the last read finds the end (no process keeps the writer).
    os.write(writer, b"".join(number.to_bytes(4, "little") for number in range(len(batches))))
    os.close(writer)
    children: list[tuple[int, int]] = []
    try:
        for _ in range(processes):
            children.append(_start(work, batches, tickets))
        results: list[T] = [None] * count  # type: ignore[list-item]
        for pid, reader in children:
            with os.fdopen(reader, "rb", closefd=False) as pipe:
                payload = pipe.read()
            _, status = os.waitpid(pid, 0)
            if status or not payload:
                raise RuntimeError(f"a forked worker died before sending its results (wait status {status})")
            finished, value = pickle.loads(payload)
            if not finished:
                raise value
            for number, values in value:  # a worker that sent its results took tickets until none was left
                results[batches[number].start : batches[number].stop] = values
        return results
    finally:
        os.close(tickets)
        for pid, reader in children:
            os.close(reader)
            try:  # a worker still running after a failure here is stopped, and reaped
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _batches(count: int, processes: int) -> list[range]:
    """`range(count)` cut into neighbouring batches: about 64 a worker, and at most 1,024."""
    size = max(1, -(-count // min(64 * processes, 1024)))
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _start(work: Callable[[int], object], batches: list[range], tickets: int) -> tuple[int, int]:
    """Fork a worker that takes tickets (batch numbers) until none is left and sends back
    `(True, [(number, [work(i) for i in batch]), ...])`, or `(False, exception)`."""
    reader, writer = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        raise
    if pid:
        os.close(writer)
        return pid, reader
    status = 1  # the worker: it leaves by os._exit, running none of the parent's cleanup
    try:
        os.close(reader)
        try:
            done = []
            while ticket := os.read(tickets, 4):
                number = int.from_bytes(ticket, "little")
                done.append((number, [work(index) for index in batches[number]]))
            payload = pickle.dumps((True, done), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # sent to the parent, which raises it
            try:
                payload = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
            except Exception:  # an exception that cannot be pickled: its text
                payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)
