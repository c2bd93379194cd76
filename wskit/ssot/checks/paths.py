"""`check_import_paths`: do these import paths all reach one and the same object?"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from pathlib import Path

from wskit.ssot.model import FAILED, INTERFACE, RESOLVED, UNRESOLVED, Finding, PathRow
from wskit.ssot.render.paths_report import DEFAULT_TITLE, MODES, ImportPathReport
from wskit.ssot.resolve.factories import ReturnReader
from wskit.ssot.resolve.import_path import ImportPath, parse_import_path
from wskit.ssot.resolve.runtime import resolve_at_runtime
from wskit.ssot.resolve.static import Definition, StaticResolver

__all__ = ["MODES", "ImportPathReport", "check_import_paths"]


def _validate(paths: object, mode: object, search_path: object, timeout: object) -> tuple[list[ImportPath], list[Path]]:
    if isinstance(paths, str | ImportPath) or not isinstance(paths, Sequence):
        raise TypeError(f"paths must be a list of 'pkg.module:Name' strings; got {type(paths).__name__}")
    if not paths:
        raise ValueError("paths is empty; give at least one 'pkg.module:Name'")
    parsed = [parse_import_path(p) for p in paths]
    duplicates = sorted({str(p) for p in parsed if parsed.count(p) > 1})
    if duplicates:
        raise ValueError(f"paths lists {', '.join(duplicates)} more than once")
    if mode not in MODES:
        raise ValueError(f"mode must be 'runtime' or 'static'; got {mode!r}")
    roots: list[Path] = []
    if search_path is not None:
        if isinstance(search_path, str | os.PathLike):
            search_path = [search_path]
        if not isinstance(search_path, Sequence):
            raise TypeError(f"search_path must be a list of directories; got {type(search_path).__name__}")
        for entry in search_path:
            if not isinstance(entry, str | os.PathLike) or not Path(entry).is_dir():
                raise ValueError(f"search_path entry {entry!r} is not a directory")
            roots.append(Path(entry))
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
    return parsed, roots


def check_import_paths(
    paths: Sequence[str],
    *,
    mode: str = "runtime",
    search_path: Sequence[str | os.PathLike[str]] | None = None,
    probe: object = None,
    canonical: str | None = None,
    interfaces: Sequence[str] = (),
    title: str = DEFAULT_TITLE,
    timeout: float = 60.0,
) -> ImportPathReport:
    """Resolve each import path and tell whether they all reach one and the same object.

    Args:
        paths: `pkg.module:Name` (or `from pkg.module import Name`) strings.
        mode: "runtime" imports each path in a fresh subprocess; "static" parses source only.
        search_path: directories searched before `sys.path` (static) / prepended to it (runtime).
        probe: runtime only: the argument for factories (a value, a module-level callable building
            it, or a `ProbeCall` with explicit args); factories are then really called.
        canonical: the path every other path must resolve to (a different target is a violation).
        interfaces: paths that must resolve to interfaces (Protocol or all-abstract classes).
        title: replaces "SSOT" in the summary's heading, e.g. "WEBSOCKET MANAGER".
        timeout: seconds allowed per path in runtime mode.
    """
    interface_paths = [parse_import_path(p) for p in interfaces]
    canonical_path = parse_import_path(canonical) if canonical is not None else None
    all_paths = list(paths) if isinstance(paths, Sequence) and not isinstance(paths, str) else paths
    parsed, roots = _validate(all_paths, mode, search_path, timeout)
    missing = [str(p) for p in interface_paths if p not in parsed]
    if missing:
        raise ValueError(f"interfaces {', '.join(missing)} must also be listed in paths")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"title must be a non-empty str; got {title!r}")
    queries = parsed + ([canonical_path] if canonical_path is not None and canonical_path not in parsed else [])
    if mode == "runtime":
        rows, findings, files_parsed = _runtime_rows(queries, roots, probe, float(timeout))
    else:
        if probe is not None:
            raise ValueError("probe applies to mode='runtime' only; static mode never calls anything")
        rows, findings, files_parsed = _static_rows(queries, roots, canonical_path)
    by_path = {row.path: row for row in rows}
    return ImportPathReport(
        rows=tuple(by_path[str(p)] for p in parsed),
        findings=tuple(sorted(set(findings))),
        mode=mode,
        title=title,
        canonical=by_path[str(canonical_path)] if canonical_path is not None else None,
        expected_interfaces=tuple(str(p) for p in interface_paths),
        files_parsed=files_parsed,
    )


def _runtime_rows(
    paths: list[ImportPath], roots: list[Path], probe: object, timeout: float
) -> tuple[list[PathRow], list[Finding], None]:
    results = resolve_at_runtime(paths, search_path=roots, probe=probe, timeout=timeout)
    rows: list[PathRow] = []
    findings: list[Finding] = []
    for path, data in zip(paths, results, strict=True):
        detail = data["detail"]
        if data["warnings"]:
            detail = f"{detail}; DeprecationWarning: {data['warnings'][0]}" if detail else data["warnings"][0]
            findings.append(Finding("deprecated", str(path), data["warnings"][0]))
        findings += [Finding(kind, str(path), message) for kind, message in data["findings"]]
        rows.append(
            PathRow(
                path=str(path),
                kind=data["kind"],
                status=data["status"],
                resolved=data["resolved"],
                defined_at=data["defined_at"],
                deprecated=bool(data["deprecated"]),
                detail=detail,
            )
        )
    return rows, findings, None


def _static_rows(
    paths: list[ImportPath], roots: list[Path], canonical: ImportPath | None
) -> tuple[list[PathRow], list[Finding], int]:
    resolver = StaticResolver(roots)
    canonical_row = _static_row(resolver, canonical) if canonical is not None else None
    expected = canonical_row.resolved if canonical_row is not None else None
    rows = [
        canonical_row if canonical_row is not None and path == canonical else _static_row(resolver, path, expected)
        for path in paths
    ]
    return rows, resolver.findings, resolver.files_parsed


def _hops(chain: tuple[str, ...]) -> str:
    return " -> ".join(hop.partition(" ")[0] for hop in chain)


def _static_row(resolver: StaticResolver, path: ImportPath, expected: str | None = None) -> PathRow:
    """The path's row; a factory that may return one of several classes (a dispatcher) resolves
    to `expected` (the canonical's identity) when that is one of them."""
    resolution = resolver.resolve(path.module, path.name)

    def row(
        kind: str,
        status: str,
        detail: str,
        target: Definition | None = None,
        *,
        deprecated: bool = False,
        chain: tuple[str, ...] = resolution.chain,
    ) -> PathRow:
        resolved, defined_at = (target.identity, target.defined_at) if target is not None else (None, None)
        if resolution.assumed:
            detail = f"{detail}; assumes {'; '.join(resolution.assumed)}"
        return PathRow(str(path), kind, status, resolved, defined_at, deprecated, detail, chain)

    definition = resolution.definition
    if definition is None:
        return row("unknown", FAILED if resolution.status == "missing" else UNRESOLVED, resolution.reason)
    deprecated = resolver.is_deprecated(definition) or any(
        resolver.module(m).deprecated_at is not None for m in resolution.modules
    )
    if definition.kind == "module":
        return row("module", RESOLVED, "the path names a module", definition, deprecated=deprecated)
    if definition.kind == "class":
        if "interface" in resolver.class_traits(definition, inherited=False):
            detail = "interface only (Protocol or all-abstract class)"
            return row("interface", INTERFACE, detail, definition, deprecated=deprecated)
        return row("class", RESOLVED, f"class via {_hops(resolution.chain)}", definition, deprecated=deprecated)
    if definition.kind != "function":
        return row("unknown", UNRESOLVED, f"{path.name} is the builtin {definition.identity}")
    kind = "async factory" if isinstance(definition.node, ast.AsyncFunctionDef) else "factory"
    returned = resolver.resolve_return(definition)
    chain = resolution.chain + returned.chain
    target = returned.definition
    if target is None:
        # No usable annotation: what its `return` statements produce (a class, or another factory's result).
        reader = ReturnReader(resolver)
        produced = reader.returned(definition)
        if produced is None:
            return row(kind, UNRESOLVED, returned.reason, deprecated=deprecated, chain=chain)
        if expected is not None and produced.target.identity != expected:
            produced = next((r for r in reader.every(definition) if r.target.identity == expected), produced)
        kind = "async factory" if produced.awaitable else kind
        detail = f"factory: {produced.why}, via {_hops(resolution.chain)}"
        return row(kind, RESOLVED, detail, produced.target, deprecated=deprecated)
    if "interface" in resolver.class_traits(target, inherited=False):
        detail = f"annotated to return the interface {target.identity}; the concrete type is only known at run time"
        return row(kind, UNRESOLVED, detail, deprecated=deprecated, chain=chain)
    detail = f"factory annotated -> {target.qualname}, via {_hops(chain)}"
    return row(kind, RESOLVED, detail, target, deprecated=deprecated, chain=chain)
