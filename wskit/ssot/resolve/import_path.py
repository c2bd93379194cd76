"""Import paths as users write them: `package.module:name` or `from package.module import name`."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ImportPath", "parse_import_path"]

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_COLON_FORM = re.compile(rf"\s*(?P<module>{_DOTTED})\s*:\s*(?P<name>[A-Za-z_]\w*)\s*")
_FROM_FORM = re.compile(rf"\s*from\s+(?P<module>{_DOTTED})\s+import\s+(?P<name>[A-Za-z_]\w*)\s*")


@dataclass(frozen=True, order=True, slots=True)
class ImportPath:
    """A module and the name looked up in it; `str()` gives `module:name`."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}:{self.name}"


def parse_import_path(text: object) -> ImportPath:
    """Parse `pkg.mod:Name` or `from pkg.mod import Name`; raise `ValueError` saying what is wrong."""
    if isinstance(text, ImportPath):
        return text
    if not isinstance(text, str):
        raise TypeError(f"an import path must be a str like 'pkg.module:Name'; got {type(text).__name__}")
    match = _COLON_FORM.fullmatch(text) or _FROM_FORM.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot parse import path {text!r}; write 'pkg.module:Name' or 'from pkg.module import Name'")
    return ImportPath(match["module"], match["name"])
