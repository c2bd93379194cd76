"""`gc_paused()`: keep Python's cyclic garbage collector out of the way while syntax trees pile up.

Parsing allocates millions of small objects and no reference cycles; each allocation burst
triggers collections that walk every live tree again, which made the collector the largest
single cost of a scan (mypy's build turns it off for the same reason). Memory is still freed by
reference counting; the collector is switched back on when the block ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
