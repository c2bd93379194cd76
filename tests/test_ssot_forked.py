"""`wskit.ssot.read.forked`: when the per-file work of a big tree is spread over forked workers,
how many there are, and that every item is done once, in order, whoever does it."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wskit.ssot.read.forked import map_forked, workers


@pytest.mark.parametrize(
    ("setting", "count", "expected"),
    [
        ("1", 5000, 1),  # asked for one process
        ("2", 999, 1),  # below 1,000 items forking costs more than it saves
        ("2", 1000, 2),
        ("3", 5000, 3),
        ("20", 5000, 8),  # at most 8
        ("", 5000, min(os.cpu_count() or 1, 8)),  # empty or unset: the machine's cores
        (None, 5000, min(os.cpu_count() or 1, 8)),
    ],
)
def test_how_many_workers(monkeypatch: pytest.MonkeyPatch, setting: str | None, count: int, expected: int) -> None:
    if setting is None:
        monkeypatch.delenv("WSKIT_SSOT_WORKERS", raising=False)
    else:
        monkeypatch.setenv("WSKIT_SSOT_WORKERS", setting)
    assert workers(count) == expected


def test_no_workers_while_other_threads_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking a process with other threads (a Jupyter kernel has some) is unsafe: it runs in order."""
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "2")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert workers(5000) == 1
    finally:
        stop.set()
        other.join()
    assert workers(5000) == 2


@pytest.mark.parametrize("setting", ["1", "2", "3"])
def test_every_item_is_done_once_in_order_by_forked_workers_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str
) -> None:
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", setting)
    log = tmp_path / "done"
    count = 1200

    def work(index: int) -> tuple[int, int]:
        with log.open("a") as done:  # a side effect each call leaves, in whichever process
            done.write(f"{index}\n")
        return index * index, os.getpid()

    results = map_forked(work, count)
    assert [square for square, _ in results] == [index * index for index in range(count)]
    assert sorted(int(line) for line in log.read_text().split()) == list(range(count))  # each item once
    pids = {pid for _, pid in results}
    if setting == "1":
        assert pids == {os.getpid()}  # in this process
    else:  # by forked workers (a worker started last may find no batch left), every one reaped once done
        assert os.getpid() not in pids and 1 <= len(pids) <= int(setting)
        with pytest.raises(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)


def test_many_items_in_few_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batches are written to a pipe before any worker reads one: 20,000 items, one a batch,
    would fill its buffer and hang; they are cut into at most 1,024 batches."""
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "2")
    assert map_forked(lambda index: index, 20_000) == list(range(20_000))


def test_a_free_worker_takes_the_next_items_while_another_is_busy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Items are not dealt out in advance: while one worker is held up by item 0, the other one
    does the whole second half (dealt out, half of it would wait for the busy worker forever)."""
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "2")
    log, count = tmp_path / "done", 1200
    second_half = {str(index) for index in range(count // 2, count)}

    def work(index: int) -> int:
        if index == 0:
            deadline = time.monotonic() + 60
            while not (log.exists() and second_half <= set(log.read_text().split())):
                if time.monotonic() > deadline:
                    raise TimeoutError("the second half was not done while item 0 was busy")
                time.sleep(0.01)
        with log.open("a") as done:
            done.write(f"{index}\n")
        return os.getpid()

    pids = map_forked(work, count)
    assert len(set(pids)) == 2 and pids[0] not in pids[count // 2 :]
    assert sorted(int(line) for line in log.read_text().split()) == list(range(count))


class _Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("not picklable")


def _raise_key_error() -> None:
    raise KeyError("item 1100")


def _raise_unpicklable() -> None:
    raise _Unpicklable("no way back")


def _die() -> None:
    os._exit(3)


@pytest.mark.parametrize(
    ("failure", "raised", "message"),
    [
        (_raise_key_error, KeyError, "'item 1100'"),  # sent back as it is
        (_raise_unpicklable, RuntimeError, "_Unpicklable: no way back"),  # its text, when it cannot be
        (_die, RuntimeError, "a forked worker died before sending its results (wait status 768)"),
        (threading.Lock, TypeError, "cannot pickle '_thread.lock' object"),  # a result that cannot go back
    ],
)
def test_a_failure_in_a_worker_is_raised_here_and_every_worker_is_reaped(
    monkeypatch: pytest.MonkeyPatch, failure: Callable[[], object], raised: type[Exception], message: str
) -> None:
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "2")

    def work(index: int) -> object:
        return failure() if index == 1100 else index

    with pytest.raises(raised, match=f"^{re.escape(message)}$"):
        map_forked(work, 1200)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_a_fork_that_fails_is_raised_and_leaves_no_worker_and_no_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the second of three forks fails (as when the process limit is reached); the
    error is raised, the first worker is stopped and reaped, and no pipe is left open."""
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "3")
    real_fork, forks = os.fork, []

    def fork() -> int:
        forks.append(1)
        if len(forks) == 2:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(BlockingIOError, match="Resource temporarily unavailable"):
        map_forked(lambda index: index, 1200)
    assert sorted(os.listdir("/proc/self/fd")) == before and len(forks) == 2
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
