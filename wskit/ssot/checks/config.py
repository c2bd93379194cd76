"""`[tool.wskit.ssot]` in a project's pyproject.toml: the symbols whose paths must stay consolidated.

[tool.wskit.ssot]
search_path = ["."]              # optional, relative to the pyproject.toml
mode = "runtime"                 # optional default: "runtime" or "static"
timeout = 60                     # optional, seconds per path in runtime mode
root = "src/pkg"                 # optional: the tree `wskit ssot notebook` scans and audits (default ".")
role = "Manager$"                # optional: the role scan's regular expression (class names)

[[tool.wskit.ssot.symbols]]
name = "WebSocket manager"       # heading of the report
canonical = "pkg.impl:Manager"   # the one implementation
paths = ["pkg:Manager", "pkg.factory:get_manager"]
interfaces = ["pkg.protocols:ManagerProtocol"]                          # optional
probe = { call = "pkg.context:Context", kwargs = { user_id = "probe" } }  # optional
deprecated = ["pkg.legacy:create_manager"]   # optional: paths code should stop using
preferred = "pkg.factory:get_manager"         # optional: the path code should import (default: paths[0])
factory_only = true              # optional: only its factories may create the class (the audit flags the rest)
factories = ["pkg.pool:build_manager"]        # optional: more functions allowed to create it
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wskit.ssot.model import MODES, SymbolSpec, compile_role
from wskit.ssot.resolve.import_path import parse_import_path

if TYPE_CHECKING:
    from wskit.ssot.render.paths_report import ImportPathReport

__all__ = ["ConfigError", "SsotConfig", "SymbolSpec", "load_config", "parse_config"]

_TOP_KEYS = {"search_path", "mode", "timeout", "root", "role", "symbols"}
_SYMBOL_KEYS = {
    "name", "canonical", "paths", "interfaces", "probe", "deprecated", "preferred", "factory_only", "factories",
}  # fmt: skip
_PROBE_KEYS = {"call", "args", "kwargs"}


class ConfigError(ValueError):
    """The configuration is missing or has a bad key or value (the message names it)."""


@dataclass(frozen=True)
class SsotConfig:
    """The whole `[tool.wskit.ssot]` table.

    `root` (absolute) is the source tree the notebook scans and audits, `role` the regular
    expression of its role scan (None: no role scan).
    """

    symbols: tuple[SymbolSpec, ...]
    search_path: tuple[Path, ...] = ()
    mode: str = "runtime"
    timeout: float = 60.0
    root: Path | None = None
    role: str | None = None

    def symbol(self, name: str) -> SymbolSpec:
        """The symbol called `name`; raise `KeyError` naming the ones there are."""
        for spec in self.symbols:
            if spec.name == name:
                return spec
        raise KeyError(f"no symbol {name!r}; configured: {', '.join(repr(s.name) for s in self.symbols)}")

    def check(self, symbol: str | SymbolSpec, *, mode: str | None = None) -> ImportPathReport:
        """`check_import_paths` of one symbol as configured (its paths, interfaces, canonical
        path, probe in runtime mode, search path and timeout); `mode` defaults to the configured one."""
        from wskit.ssot.checks.paths import check_import_paths  # not loaded by the audit and the scan

        spec = self.symbol(symbol) if isinstance(symbol, str) else symbol
        mode = mode or self.mode
        return check_import_paths(
            list(spec.checked_paths),
            mode=mode,
            search_path=list(self.search_path),
            probe=spec.probe if mode == "runtime" else None,
            canonical=spec.canonical,
            interfaces=spec.interfaces,
            title=spec.name,
            timeout=self.timeout,
        )


def _strings(value: object, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (not value and not allow_empty):
        raise ConfigError(f"{key} must be a {'' if allow_empty else 'non-empty '}list of strings; got {value!r}")
    return tuple(value)


def _path(value: str, key: str) -> str:
    try:
        return str(parse_import_path(value))
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _probe(value: object, key: str) -> functools.partial[Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table like {{ call = 'pkg.mod:factory', kwargs = {{...}} }}; got {value!r}")
    unknown = sorted(set(value) - _PROBE_KEYS)
    if unknown:
        raise ConfigError(f"{key} has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_PROBE_KEYS))}")
    if "call" not in value:
        raise ConfigError(f"{key}.call is required ('pkg.module:callable' building the factory argument)")
    call = _path(value["call"], f"{key}.call") if isinstance(value["call"], str) else None
    if call is None:
        raise ConfigError(f"{key}.call must be a string 'pkg.module:callable'; got {value['call']!r}")
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not isinstance(args, list):
        raise ConfigError(f"{key}.args must be a list; got {args!r}")
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{key}.kwargs must be a table; got {kwargs!r}")
    from wskit.ssot.resolve.runtime import call_by_path  # imports what it calls: only with a probe

    return functools.partial(call_by_path, call, *args, **kwargs)


def _symbol(value: object, index: int) -> SymbolSpec:
    key = f"tool.wskit.ssot.symbols[{index}]"
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table")
    unknown = sorted(set(value) - _SYMBOL_KEYS)
    if unknown:
        raise ConfigError(f"{key} has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_SYMBOL_KEYS))}")
    for required in ("name", "canonical", "paths"):
        if required not in value:
            raise ConfigError(f"{key}.{required} is required")
    if not isinstance(value["name"], str) or not value["name"].strip():
        raise ConfigError(f"{key}.name must be a non-empty string; got {value['name']!r}")
    if not isinstance(value["canonical"], str):
        raise ConfigError(f"{key}.canonical must be a string 'pkg.module:Name'; got {value['canonical']!r}")
    paths = tuple(_path(p, f"{key}.paths") for p in _strings(value["paths"], f"{key}.paths"))
    interfaces = tuple(
        _path(p, f"{key}.interfaces")
        for p in _strings(value.get("interfaces", []), f"{key}.interfaces", allow_empty=True)
    )
    deprecated = tuple(
        _path(p, f"{key}.deprecated")
        for p in _strings(value.get("deprecated", []), f"{key}.deprecated", allow_empty=True)
    )
    preferred = None
    if "preferred" in value:
        if not isinstance(value["preferred"], str):
            raise ConfigError(f"{key}.preferred must be a string 'pkg.module:Name'; got {value['preferred']!r}")
        preferred = _path(value["preferred"], f"{key}.preferred")
        if preferred in deprecated:
            raise ConfigError(f"{key}.preferred {preferred!r} is also listed in {key}.deprecated")
    only = value.get("factory_only", False)
    if not isinstance(only, bool):
        raise ConfigError(f"{key}.factory_only must be true or false; got {only!r}")
    factories = tuple(
        _path(p, f"{key}.factories") for p in _strings(value.get("factories", []), f"{key}.factories", allow_empty=True)
    )
    return SymbolSpec(
        name=value["name"],
        canonical=_path(value["canonical"], f"{key}.canonical"),
        paths=paths,
        interfaces=interfaces,
        probe=_probe(value["probe"], f"{key}.probe") if "probe" in value else None,
        deprecated=deprecated,
        preferred=preferred,
        factory_only=only,
        factories=factories,
    )


def load_config(pyproject: str | Path) -> SsotConfig:
    """Read and validate `[tool.wskit.ssot]`; raise `ConfigError` naming the bad key or value."""
    file = Path(pyproject)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file} is not UTF-8 text (byte {exc.start}); save it as UTF-8, as TOML requires") from None
    return parse_config(text, file)


def parse_config(text: str, file: Path) -> SsotConfig:
    """Validate `[tool.wskit.ssot]` in the TOML `text` of `file` (relative paths are read from
    its directory); raise `ConfigError` naming the bad key or value."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("wskit", {}).get("ssot")
    if not isinstance(table, dict):
        raise ConfigError(f"{file} has no [tool.wskit.ssot] table; see 'wskit ssot check --help'")
    unknown = sorted(set(table) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"tool.wskit.ssot has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    mode = table.get("mode", "runtime")
    if mode not in MODES:
        raise ConfigError(f"tool.wskit.ssot.mode must be 'runtime' or 'static'; got {mode!r}")
    timeout = table.get("timeout", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"tool.wskit.ssot.timeout must be a positive number of seconds; got {timeout!r}")
    search_path = []
    for entry in _strings(table.get("search_path", []), "tool.wskit.ssot.search_path", allow_empty=True):
        directory = file.parent / entry
        if not directory.is_dir():  # (before resolve(), which raises on a NUL byte)
            raise ConfigError(f"tool.wskit.ssot.search_path entry {entry!r} is not a directory")
        search_path.append(directory.resolve())
    root = None
    if "root" in table:
        if not isinstance(table["root"], str) or not (file.parent / table["root"]).exists():
            raise ConfigError(f"tool.wskit.ssot.root must name an existing directory; got {table['root']!r}")
        root = (file.parent / table["root"]).resolve()
    role = table.get("role")
    if role is not None:
        try:
            compile_role(role)
        except ValueError as exc:
            raise ConfigError(f"tool.wskit.ssot.{exc}") from None
    symbols = table.get("symbols")
    if not isinstance(symbols, list) or not symbols:
        raise ConfigError("tool.wskit.ssot.symbols must be a non-empty array of tables ([[tool.wskit.ssot.symbols]])")
    return SsotConfig(
        symbols=tuple(_symbol(s, i) for i, s in enumerate(symbols)),
        search_path=tuple(search_path),
        mode=mode,
        timeout=float(timeout),
        root=root,
        role=role,
    )
