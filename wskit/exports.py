"""`lazy_exports`: a package's public names, each imported from its module on first use (PEP 562).

`import wskit` and `import wskit.ssot` then cost nothing until a name is used, so that
`wskit ssot ...` does not load the runtime and each analyzer command loads only its own stages.
The package imports the same names under `if TYPE_CHECKING:` and lists them in `__all__`, which is
how mypy and wskit's static resolver read them; it binds the hooks under `if not TYPE_CHECKING:`, so
that mypy still reports a misspelled name. A submodule (`wskit.registry`) is imported on first use
too, as `import wskit` used to make it reachable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from importlib.util import find_spec
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, whose public names are `homes` (name -> module)."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is not None:
            value = getattr(import_module(home), name)
        elif not name.startswith("__") and find_spec(f"{package}.{name}") is not None:
            value = import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # the next use finds it without this hook
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
