"""Benchmark the analyzer against grimp on the same trees, in the same run, start-up included.

    flock /tmp/wskit-bench.lock python benchmarks/bench_ssot.py [--repeat 3] [--json PATH]
        [--modules 3000] [--lines 340] [--seeds 20] [--skip-installed]

1. Static resolution, as a user runs it (`wskit ssot paths ... --mode static`, a fresh process
   each time): wskit's four paths, and a few paths into the installed pandas and matplotlib.
   Target: at most 0.25 s wall. Also checks that the command imports neither pandas nor
   matplotlib (`python -X importtime`).
2. `wskit ssot scan SITE-PACKAGES --role R --include-tests` on the site-packages of this
   environment (thousands of real modules) for several roles, against `grimp.build_graph` of
   every top-level package there that grimp accepts, both as fresh processes. Target: at most
   2x grimp for each role. Then `scan_tree` on a generated tree, in process, as before.
3. `wskit ssot audit` on a copy of those packages into which call sites of a fixture symbol
   (tests/fixtures/ssot/auditpkg) are seeded at known lines, every kind several times, in
   product and test modules: recall per kind (target at least 90%), call-error rows per real
   call-error site (target at most 1.5), and time against grimp on the same copy (at most 3x).
   Also measured once, no target: the audit of pandas' DataFrame and read_csv over all of
   site-packages, where thousands of real call sites make it parse most of pandas' tests.
`--skip-installed` measures only what needs no installed package (wskit's paths and the generated
tree; notebook 04 runs it so). Then one JSON document; its top-level `static_paths`, `tree`,
`scan_tree_seconds`, `grimp_build_graph_seconds` and `ratio` are the generated-tree figures.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import emit_result  # the benchmarks directory is on sys.path when run as a script

from wskit.ssot import check_import_paths, scan_tree

PROJECT = Path(__file__).resolve().parent.parent
SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))
WSKIT = [sys.executable, "-m", "wskit.cli"]
AUDITPKG = PROJECT / "tests" / "fixtures" / "ssot" / "auditpkg"
ROLES = ["WebSocket", r"WebSocket\w*Manager|Manager\w*WebSocket", "Manager$", "Error$", "DataFrame$"]
WSKIT_PATHS = [
    "wskit.websocket_manager:WebSocketManager",
    "wskit.websocket_manager:get_websocket_manager",
    "wskit.websocket_manager_factory:create_websocket_manager",
    "wskit.protocols:WebSocketProtocol",
]
PANDAS_PATHS = [
    "pandas:DataFrame",
    "pandas.core.api:DataFrame",
    "pandas.core.frame:DataFrame",
    "matplotlib.pyplot:Figure",
    "matplotlib.figure:Figure",
]
GRIMP = "import sys, grimp; sys.path.insert(0, sys.argv[1]); grimp.build_graph(*sys.argv[2:], cache_dir=None)"


def wall(repeat: int, command: list[str], cwd: Path = PROJECT) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Best wall time of `repeat` runs of a fresh process, and the last run."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def grimp_packages(root: Path) -> list[str]:
    """The top-level packages under `root` that grimp builds a graph of without error."""
    candidates = sorted(d.name for d in root.iterdir() if (d / "__init__.py").is_file() and d.name.isidentifier())
    code = (
        "import sys, grimp\nsys.path.insert(0, sys.argv[1])\nfor name in sys.argv[2:]:\n"
        "    try:\n        grimp.build_graph(name, cache_dir=None)\n    except Exception:\n        continue\n"
        "    print(name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root), *candidates], capture_output=True, text=True, check=False
    )
    return done.stdout.split()


# -- 1. static resolution ------------------------------------------------------------------------


def measure_static(repeat: int, *, installed: bool) -> dict[str, Any]:
    in_process, report = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        report = check_import_paths(WSKIT_PATHS, mode="static", search_path=[PROJECT])
        in_process = min(in_process, time.perf_counter() - start)
    assert report is not None
    results: dict[str, Any] = {"in_process_wskit_seconds": round(in_process, 4), "files_parsed": report.files_parsed}
    for label, paths in (("wskit", WSKIT_PATHS), ("pandas_matplotlib", PANDAS_PATHS))[: 2 if installed else 1]:
        command = [*WSKIT, "ssot", "paths", *paths, "--mode", "static"]
        seconds, _ = wall(repeat, command)
        imported = subprocess.run(
            [sys.executable, "-X", "importtime", *command[1:]], capture_output=True, text=True, cwd=PROJECT, check=False
        ).stderr
        heavy = sorted({m for m in ("pandas", "matplotlib", "libcst") if re.search(rf"\| +{m}$", imported, re.M)})
        print(f"static resolution, {len(paths)} {label} paths, fresh process: {seconds:.3f} s (target <= 0.25 s);"
              f" imports pandas/matplotlib/libcst: {heavy or 'none'}")  # fmt: skip
        results[label] = {"paths": paths, "wall_seconds": round(seconds, 3), "heavy_imports": heavy}
    print(f"  in process, wskit's 4 paths: {in_process * 1000:.1f} ms, {report.files_parsed} files read")
    return results


# -- 2. role scans ---------------------------------------------------------------------------------


def measure_scans(repeat: int) -> dict[str, Any]:
    packages = grimp_packages(SITE)
    files = list(SITE.rglob("*.py"))
    lines = sum(f.read_bytes().count(b"\n") for f in files)
    grimp_seconds, _ = wall(repeat, [sys.executable, "-c", GRIMP, str(SITE), *packages])
    print(
        f"site-packages: {len(files)} files, {lines:,} lines; grimp.build_graph of {len(packages)} packages"
        f" (fresh process): {grimp_seconds:.3f} s"
    )
    roles = {}
    for role in ROLES:
        seconds, done = wall(repeat, [*WSKIT, "ssot", "scan", str(SITE), "--role", role, "--include-tests"])
        found = re.search(r"Files scanned: (\d+) \(parsed: (\d+)", done.stdout)
        classes = re.search(r"Classes matching the role: (\d+)", done.stdout)
        ratio = seconds / grimp_seconds
        print(f"  scan /{role}/: {seconds:.3f} s, ratio {ratio:.2f}x (target <= 2x);"
              f" {classes[1] if classes else '?'} classes, {found[2] if found else '?'} files read")  # fmt: skip
        roles[role] = {
            "seconds": round(seconds, 3),
            "ratio": round(ratio, 3),
            "classes": int(classes[1]) if classes else None,
            "files_read": int(found[2]) if found else None,
        }
    return {"files": len(files), "lines": lines, "grimp_packages": len(packages),
            "grimp_seconds": round(grimp_seconds, 3), "roles": roles}  # fmt: skip


def generate_tree(root: Path, modules: int, lines: int, seed: int = 7) -> int:
    """Write a package of `modules` modules in 30 subpackages; return the total line count."""
    rng = random.Random(seed)
    package = root / "benchtree"
    names = [f"benchtree.sub{index % 30:02d}.mod{index:05d}" for index in range(modules)]
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Generated benchmark tree."""\n')
    for sub in range(30):
        (package / f"sub{sub:02d}").mkdir()
        (package / f"sub{sub:02d}" / "__init__.py").write_text("")
    total = 0
    for index, name in enumerate(names):
        targets = rng.sample(names[:index] or names[:1], k=min(4, max(1, index)))
        text = ['"""Generated module."""', "from __future__ import annotations", ""]
        text += [f"from {t} import helper_{t.rsplit('mod', 1)[1]}_0" for t in targets if t != name]
        if index % 100 == 7:
            text += ["", f"class SessionManager{index}:", "    def open(self) -> None:", "        pass", ""]
        if index % 100 == 8:
            text += [f"from {names[index - 1]} import SessionManager{index - 1} as Manager{index}", ""]
        function = 0
        while len(text) < lines:
            text += ["", f"def helper_{index:05d}_{function}(value: int) -> int:", f'    """Helper {function}."""',
                     "    total = value", f"    for step in range({function % 7 + 1}):", "        total += step * 2",
                     "    return total", "", f"class Thing{index}_{function}:", "    size = 1"]  # fmt: skip
            function += 1
        (package / name.split(".")[1] / f"{name.rsplit('.', 1)[1]}.py").write_text("\n".join(text) + "\n")
        total += len(text)
    return total


def measure_generated(repeat: int, modules: int, lines: int) -> dict[str, Any]:
    import grimp

    with tempfile.TemporaryDirectory(prefix="wskit-bench-") as work:
        root = Path(work)
        total = generate_tree(root, modules, lines)
        sys.path.insert(0, str(root))
        scan_seconds = grimp_seconds = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            report = scan_tree(root / "benchtree", "SessionManager")
            scan_seconds = min(scan_seconds, time.perf_counter() - start)
            start = time.perf_counter()
            grimp.build_graph("benchtree", cache_dir=None)
            grimp_seconds = min(grimp_seconds, time.perf_counter() - start)
        sys.path.remove(str(root))
    print(f"generated tree, {modules} modules, {total:,} lines, in process: scan_tree {scan_seconds:.3f} s,"
          f" grimp {grimp_seconds:.3f} s, ratio {scan_seconds / grimp_seconds:.2f}x;"
          f" {len(report.implementations)} implementations")  # fmt: skip
    return {"modules": modules, "lines": total, "scan_seconds": round(scan_seconds, 4),
            "grimp_seconds": round(grimp_seconds, 4), "ratio": round(scan_seconds / grimp_seconds, 3)}  # fmt: skip


# -- 3. call-site audit on seeded real code ------------------------------------------------------

# Each seed is a block of lines; a line's trailing "#> kind" marks the row the audit must report
# there (every row of the block is marked, so that a row anywhere else is a false one).
SEEDS = {
    "direct": """
def _seed_{n}():
    from auditpkg.context import UserContext  #>
    from auditpkg.manager import Manager  #> import-canonical
    return Manager(UserContext("x"))  #> direct-instantiation
""",
    "keyword": """
def _seed_{n}():
    from auditpkg.context import UserContext  #>
    from auditpkg.manager import get_manager  #> import-canonical
    return get_manager(user_id="x")  #> bad-arguments
""",
    "arity": """
from auditpkg.manager import get_manager as _seed_factory_{n}  #> import-canonical


def _seed_{n}(context):
    return _seed_factory_{n}(context, {{}})  #> bad-arguments
""",
    "await": """
async def _seed_{n}(context):
    import auditpkg.manager as manager_module  #> import-canonical
    return await manager_module.get_manager(context)  #> await-sync
""",
    "no_await": """
async def _seed_{n}(context):
    from auditpkg.manager import open_manager  #> import-canonical
    pending = open_manager(context)  #> missing-await
    return pending.user_context
""",
    "isinstance": """
def _seed_{n}(value):
    from auditpkg.protocols import ManagerProtocol  #> import-canonical
    return isinstance(value, ManagerProtocol)  #> isinstance-protocol
""",
    "fine": """
def _seed_{n}(context):
    from auditpkg.manager import get_manager  #> import-canonical
    return get_manager(context, registry=None)  #> call
""",
    "deprecated": """
def _seed_{n}(context):
    from auditpkg.legacy import get_manager as old_factory  #> import-deprecated
    return old_factory(context)  #> call
""",
    "private": """
def _seed_{n}():
    from auditpkg._impl import _ManagerImpl  #> import-private
    return _ManagerImpl
""",
    "getattr": """
def _seed_{n}(context):
    import auditpkg.manager as manager_module  #>
    return getattr(manager_module, "get_manager")(context)  #> unknown
""",
    "kwargs": """
def _seed_{n}(**options):
    from auditpkg.manager import get_manager  #> import-canonical
    return get_manager(**options)  #> unknown
""",
    "alias_chain": """
from auditpkg.manager import get_manager as _seed_base_{n}  #> import-canonical
_seed_alias_{n} = _seed_base_{n}


class _Seed{n}:
    def run(self, items):
        return [_seed_alias_{n}(user_id=item) for item in items]  #> bad-arguments
""",
    "nested": """
def _seed_{n}(context):
    from auditpkg.manager import Manager  #> import-canonical

    def inner():
        return Manager(context)  #> direct-instantiation

    return inner
""",
    "tuple_isinstance": """
def _seed_{n}(value):
    from auditpkg import protocols  #> import-canonical
    return isinstance(value, (int, protocols.ManagerProtocol))  #> isinstance-protocol
""",
    "scheduled": """
async def _seed_{n}(context):
    import asyncio

    from auditpkg.manager import open_manager  #> import-canonical
    return await asyncio.gather(open_manager(context))  #> call
""",
    "runtime_bound": """
def _seed_{n}(context, flag):
    from auditpkg.manager import get_manager  #> import-canonical
    factory = get_manager if flag else None
    return factory(context)  #> unknown
""",
}
CALL_ERRORS = ("direct-instantiation", "bad-arguments", "await-sync", "missing-await", "isinstance-protocol")


def seed_tree(root: Path, per_kind: int, seed: int = 11) -> dict[tuple[str, int], str]:
    """Append seeds to real modules of the copied tree; return {(file, line): expected kind}."""
    rng = random.Random(seed)
    modules = sorted(p for p in root.rglob("*.py") if not p.is_relative_to(root / "auditpkg"))
    rng.shuffle(modules)
    expected: dict[tuple[str, int], str] = {}
    chosen = iter(modules)
    count = 0
    for _, template in sorted(SEEDS.items()):
        placed = 0
        while placed < per_kind:
            module = next(chosen)
            text = module.read_text(encoding="utf-8", errors="replace")
            try:
                ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            count += 1
            block = template.format(n=count)
            first = text.count("\n") + (0 if text.endswith("\n") else 1) + 2
            for offset, line in enumerate(block.strip("\n").splitlines()):
                mark = line.partition("#>")[2].strip()
                if mark:
                    expected[(str(module.relative_to(root)), first + offset)] = mark
            module.write_text(text + ("" if text.endswith("\n") else "\n") + "\n" + block.strip("\n") + "\n")
            placed += 1
    return expected


def measure_audit(repeat: int, per_kind: int) -> dict[str, Any]:
    import json

    packages = grimp_packages(SITE)
    with tempfile.TemporaryDirectory(prefix="wskit-audit-bench-") as work:
        root = Path(work)
        for package in packages:
            shutil.copytree(SITE / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(AUDITPKG, root / "auditpkg", ignore=shutil.ignore_patterns("__pycache__", "pyproject.toml"))
        config = (AUDITPKG / "pyproject.toml").read_text().replace('search_path = [".."]', 'search_path = ["."]')
        (root / "pyproject.toml").write_text(config)
        expected = seed_tree(root, per_kind)
        files = list(root.rglob("*.py"))
        audit_seconds, done = wall(repeat, [*WSKIT, "ssot", "audit", ".", "--format", "json", "--fail-on", "none"],
                                   cwd=root)  # fmt: skip
        grimp_seconds, _ = wall(repeat, [sys.executable, "-c", GRIMP, str(root), *packages, "auditpkg"])
    # The symbol's own package (the fixture, with its known answers in tests/) is left out here.
    rows = [row for row in json.loads(done.stdout)["rows"] if not row["file"].startswith("auditpkg/")]
    found: Counter[str] = Counter()
    for row in rows:
        if expected.get((row["file"], row["line"])) == row["kind"]:
            found[row["kind"]] += 1
    wanted = Counter(expected.values())
    recall = {kind: round(found[kind] / wanted[kind], 3) for kind in sorted(wanted)}
    error_rows = sum(1 for row in rows if row["kind"] in CALL_ERRORS)
    error_sites = sum(wanted[kind] for kind in CALL_ERRORS)
    stray = [f"{r['file']}:{r['line']} {r['kind']}" for r in rows if (r["file"], r["line"]) not in expected]
    ratio = audit_seconds / grimp_seconds
    print(f"audit of seeded real code: {len(files)} files, {len(packages) + 1} packages, {sum(wanted.values())}"
          f" known rows; wskit ssot audit {audit_seconds:.3f} s vs grimp {grimp_seconds:.3f} s: {ratio:.2f}x"
          " (target <= 3x)")  # fmt: skip
    for kind in sorted(wanted):
        print(f"  recall {kind:<22} {found[kind]:>4}/{wanted[kind]:<4} {recall[kind]:.0%}")
    print(f"  call-error rows {error_rows} for {error_sites} real sites: {error_rows / error_sites:.2f}x"
          f" (target <= 1.5x); rows outside known sites: {len(stray)} {stray[:5]}")  # fmt: skip
    return {"files": len(files), "known_rows": dict(sorted(wanted.items())), "recall": recall,
            "call_error_rows": error_rows, "call_error_sites": error_sites,
            "call_error_ratio": round(error_rows / error_sites, 3), "stray_rows": stray,
            "audit_seconds": round(audit_seconds, 3), "grimp_seconds": round(grimp_seconds, 3),
            "ratio": round(ratio, 3)}  # fmt: skip


STRESS_CONFIG = """
[tool.wskit.ssot]
[[tool.wskit.ssot.symbols]]
name = "DataFrame"
canonical = "pandas.core.frame:DataFrame"
paths = ["pandas:DataFrame", "pandas.core.api:DataFrame"]
[[tool.wskit.ssot.symbols]]
name = "read_csv"
canonical = "pandas.io.parsers.readers:read_csv"
paths = ["pandas:read_csv"]
"""


def measure_audit_stress(grimp_seconds: float) -> dict[str, Any]:
    import json

    with tempfile.TemporaryDirectory(prefix="wskit-audit-stress-") as work:
        config = Path(work, "pyproject.toml")
        config.write_text(STRESS_CONFIG)
        command = [*WSKIT, "ssot", "audit", str(SITE), "--config", str(config), "--format", "json", "--fail-on", "none"]
        seconds, done = wall(1, command)
    document = json.loads(done.stdout)
    rows = len(document["rows"])
    print(f"audit of pandas DataFrame + read_csv over site-packages: {seconds:.2f} s"
          f" ({seconds / grimp_seconds:.1f}x grimp), {rows} rows, {document['files_parsed']} files read;"
          f" counts {dict((k, v) for k, v in document['counts'].items() if v)}")  # fmt: skip
    return {"seconds": round(seconds, 3), "ratio": round(seconds / grimp_seconds, 3), "rows": rows,
            "files_read": document["files_parsed"], "counts": document["counts"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modules", type=int, default=3000, help="modules of the generated tree")
    parser.add_argument("--lines", type=int, default=340, help="lines per generated module")
    parser.add_argument("--seeds", type=int, default=20, help="seeded sites per kind of seed in the audit")
    parser.add_argument("--skip-installed", action="store_true", help="skip what measures installed packages")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    installed = not args.skip_installed
    scans = measure_scans(args.repeat) if installed else None
    static = measure_static(args.repeat, installed=installed)
    generated = measure_generated(args.repeat, args.modules, args.lines)
    result = {
        "benchmark": "ssot",
        "static_paths": {"paths": len(WSKIT_PATHS), "seconds": static["in_process_wskit_seconds"],
                         "files_parsed": static["files_parsed"]},
        "tree": {"modules": generated["modules"], "lines": generated["lines"]},
        "scan_tree_seconds": generated["scan_seconds"],
        "grimp_build_graph_seconds": generated["grimp_seconds"],
        "ratio": generated["ratio"],
        "static": static,
        "scan_site_packages": scans,
        "scan_generated": generated,
        "audit": measure_audit(args.repeat, args.seeds) if installed else None,
        "audit_stress": measure_audit_stress(scans["grimp_seconds"]) if scans else None,
    }  # fmt: skip
    emit_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
