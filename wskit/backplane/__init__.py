"""Backplanes: where envelopes are numbered, kept and fanned out (see `wskit.backplane.base`).

`InProcessBackplane` is the embedded default; `RedisBackplane` (in `wskit.backplane.redis`,
which needs the `redis` package) serves several processes. `backplane_from_url()` builds either
from a command-line value.
"""

from wskit.backplane.base import Backplane, DeliverySink, Published
from wskit.backplane.memory import InProcessBackplane

__all__ = ["Backplane", "DeliverySink", "InProcessBackplane", "Published"]
