"""`Cursor`: where one process is in one user's stream; envelopes come out once, in `seq` order.

Envelopes reach a process from several directions: the wake-ups of a pub/sub channel, the
replies to its own publishes (which may overtake each other), and reads of the stored stream
after a gap or a reconnect. The cursor is the merge of all of them, plain Python with no I/O:

- `accept()` takes one envelope and returns what can now be delivered: the next `seq`, then
  any that were waiting behind it; an envelope at or below the cursor is a duplicate and is
  dropped; one beyond the next leaves a gap (`gap` is then True). Envelopes from an ordered
  source (the pub/sub channel, which carries a user's envelopes in `seq` order) say more: once
  that source has gone past a missing `seq`, the gap is a loss (`gap_confirmed`) to be filled
  from the stream at once; a gap the ordered source has not reached yet (a reply to one's own
  publish overtook the wake-ups) will most likely close by itself;
- `fill()` takes what was read from the stream after the cursor and delivers the same way;
  envelopes the stream no longer has are reported as `Lost`, never skipped silently;
- an envelope of another epoch means the stream was lost and started over: `EpochChanged`.
"""

from __future__ import annotations

from collections.abc import Sequence

from wskit.core.history import Entry

__all__ = ["MAX_WAITING", "MAX_WAITING_BYTES", "Cursor", "EpochChanged", "Lost"]

MAX_WAITING = 1000
"""Envelopes kept waiting behind a gap; beyond that they are dropped and read back from the stream."""

MAX_WAITING_BYTES = 8 * 1024 * 1024
"""Bytes of envelopes kept waiting behind a gap (large envelopes reach it before the count)."""


class EpochChanged(Exception):
    """An envelope of another epoch arrived: the user's stream was lost and started over."""

    def __init__(self, epoch: str) -> None:
        super().__init__(f"the stream started over with epoch {epoch}")
        self.epoch = epoch


class Lost(Exception):
    """The stream no longer has envelopes after the cursor: they cannot be delivered."""

    def __init__(self, after: int, resumes_at: int | None) -> None:
        super().__init__(f"envelopes after seq {after} are gone from the stream (it continues at {resumes_at})")
        self.after = after
        self.resumes_at = resumes_at


class Cursor:
    """The last `seq` delivered (`seq`) in `epoch` (None until the first envelope is seen)."""

    __slots__ = ("_waiting", "_waiting_bytes", "epoch", "ordered_seq", "seq")

    def __init__(self, epoch: str | None, seq: int) -> None:
        self.epoch = epoch
        self.seq = seq
        self.ordered_seq = seq
        self._waiting: dict[int, bytes] = {}
        self._waiting_bytes = 0

    def __repr__(self) -> str:
        return f"Cursor(epoch={self.epoch!r}, seq={self.seq}, waiting={sorted(self._waiting)})"

    @property
    def gap(self) -> bool:
        """True while envelopes wait behind a missing one (read the stream after `seq`)."""
        return bool(self._waiting)

    @property
    def gap_confirmed(self) -> bool:
        """True when the ordered source went past the next `seq` without it: it was lost on the way."""
        return self.ordered_seq > self.seq

    def accept(self, epoch: str, seq: int, data: bytes, *, ordered: bool = False) -> list[Entry]:
        """Take one envelope (`ordered`: from the source that carries them in `seq` order);
        return those that can be delivered now, in order."""
        self._check_epoch(epoch)
        if ordered and seq > self.ordered_seq:
            self.ordered_seq = seq
        if seq <= self.seq:
            return []
        if seq > self.seq + 1:
            if len(self._waiting) < MAX_WAITING and self._waiting_bytes + len(data) <= MAX_WAITING_BYTES:
                self._waiting[seq] = data
                self._waiting_bytes += len(data)
            return []
        return self._advance([(seq, data)])

    def fill(self, epoch: str | None, entries: Sequence[Entry]) -> list[Entry]:
        """Take envelopes read from the stream after `seq` (oldest first); return the deliverable ones.

        `epoch` is the stream's (None when it has none: nothing was ever stored, or it was lost).
        Raises `Lost` when the stream starts past the next `seq`, `EpochChanged` for another epoch.
        """
        if epoch is None:
            return []
        self._check_epoch(epoch)
        fresh = [entry for entry in entries if entry[0] > self.seq]
        if fresh and fresh[0][0] != self.seq + 1:
            raise Lost(self.seq, fresh[0][0])
        return self._advance(fresh)

    def restart(self, epoch: str, seq: int = 0) -> None:
        """Continue in another epoch (after telling the connections), or past lost envelopes."""
        if epoch != self.epoch:
            self._waiting = {}
            self.ordered_seq = seq
        self.epoch = epoch
        self.seq = seq
        self.ordered_seq = max(self.ordered_seq, seq)
        self._waiting = {s: d for s, d in self._waiting.items() if s > seq}
        self._waiting_bytes = sum(len(d) for d in self._waiting.values())

    def _check_epoch(self, epoch: str) -> None:
        if self.epoch is None:
            self.epoch = epoch
        elif epoch != self.epoch:
            raise EpochChanged(epoch)

    def _advance(self, entries: list[Entry]) -> list[Entry]:
        waiting = self._waiting
        out: list[Entry] = []
        for seq, data in entries:
            if seq == self.seq + 1:
                out.append((seq, data))
                self.seq = seq
                self._unwait(seq)
        while self.seq + 1 in waiting:
            self.seq += 1
            out.append((self.seq, self._unwait(self.seq)))
        for stale in [s for s in waiting if s <= self.seq]:
            self._unwait(stale)
        self.ordered_seq = max(self.ordered_seq, self.seq)
        return out

    def _unwait(self, seq: int) -> bytes:
        data = self._waiting.pop(seq, b"")
        self._waiting_bytes -= len(data)
        return data
