"""Where the time of `wskit ssot audit` goes on real trees, beside grimp.build_graph of the same tree.

    flock /tmp/wskit-bench.lock python benchmarks/audit_stages.py [--only NAME]...
        [--json benchmarks/results/audit_stages.json]

For each tree of benchmarks/trees.json (extracted from its mirror first if absent, as
bench_audit_real.py does), in one run:
1. grimp.build_graph and the audit command, each the median of five fresh processes after a first
   (bench_audit_real.py's own measurement);
2. the audit run in a fresh process with its stages timed, wall clock, with the machine's workers
   (three runs; the one with the median total is kept): start-up (wskit's imports; Python's own
   start counts only in the command's time),
   reading the tree, resolving the symbols, factory discovery (with the import index, built by forked
   workers, inside it), the alias search, the walk over the files (forked workers), the rest;
3. the same in one process (`WSKIT_SSOT_WORKERS=1`), with the CPU seconds of each stage and what
   it parsed: the seconds spent in `ast.parse` and the bytes parsed.
It prints, per tree, the stages against the budget the target allows (2x grimp) and the floor
that parsing alone sets: the walk's `ast.parse` seconds over the workers. The JSON holds the same.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()  # a child's start-up (wskit's imports, after the standard library's) counts from here
BENCHMARKS = Path(__file__).resolve().parent

STAGES = ("start-up", "read", "symbols", "factories", "index", "aliases", "walk", "rest")
STAGE_RUNS = 3


def stages_in_this_process(root: str, config: str, started: float) -> dict[str, Any]:
    """Run the audit here with its stages wrapped; seconds per stage (wall, CPU) and parses."""
    import ast
    import functools

    from wskit.ssot.checks import audit
    from wskit.ssot.read.forked import workers
    from wskit.ssot.resolve.tree import SourceTree

    imported = time.perf_counter()
    wall: dict[str, float] = {name: 0.0 for name in STAGES}
    cpu: dict[str, float] = {name: 0.0 for name in STAGES}
    parsed: dict[str, list[float]] = {}
    current = ["rest"]

    def timing(owner: Any, attribute: str, stage: str, *, only_index: bool = False) -> None:
        """Wrap `owner.attribute` so that its calls count as `stage` (with `only_index`: only the
        call of `SourceTree.importing` that builds the index, which stays part of its caller's stage)."""
        function = getattr(owner, attribute)

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            building = only_index and args[0]._index is None
            outer = current[0]
            if not only_index:
                current[0] = stage
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                current[0] = outer
                if not only_index or (building and args[0]._index is not None):
                    wall[stage] += time.perf_counter() - wall_start
                    cpu[stage] += time.process_time() - cpu_start

        setattr(owner, attribute, timed)

    parse = ast.parse

    def timed_parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return parse(source, *args, **kwargs)
        finally:
            seconds = time.perf_counter() - start
            size = len(source.lstrip(b"\n" if isinstance(source, bytes) else "\n"))
            totals = parsed.setdefault(current[0], [0.0, 0])
            totals[0] += seconds
            totals[1] += size

    ast.parse = timed_parse
    timing(audit, "source_tree", "read")
    timing(audit, "resolve_symbol", "symbols")
    timing(audit, "_add_found_factories", "factories")
    timing(SourceTree, "importing", "index", only_index=True)
    timing(audit, "find_aliases", "aliases")
    timing(audit, "map_forked", "walk")
    report = audit.audit_calls(config, root, search_path=[root])
    finished = time.perf_counter()
    wall["start-up"] = imported - started
    wall["rest"] = finished - imported - sum(wall[s] for s in ("read", "symbols", "factories", "aliases", "walk"))
    return {
        "total": round(finished - started, 3),
        "wall": {k: round(v, 3) for k, v in wall.items()},
        "cpu": {k: round(v, 3) for k, v in cpu.items() if k not in ("start-up", "rest")},
        "parsed": {k: {"seconds": round(v[0], 3), "megabytes": round(v[1] / 1e6, 2)} for k, v in parsed.items()},
        "rows": len(report.rows),
        "files_parsed": report.files_parsed,
        "workers": workers(report.files_scanned),  # what the walk used (map_forked's own rule)
    }


def run_stages(root: Path, config: Path, *, workers: str | None) -> dict[str, Any]:
    """`stages_in_this_process` in a fresh process (after Python's own start-up)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if workers:
        env["WSKIT_SSOT_WORKERS"] = workers
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(root), str(config)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=BENCHMARKS.parent, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the staged audit failed on {root}: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(tree: dict[str, Any]) -> dict[str, Any]:
    from bench_audit_real import materialize, run_audit, run_grimp  # the benchmarks directory is on sys.path

    root = materialize(tree).resolve()
    config = (BENCHMARKS / tree["config"]).resolve()
    audit_seconds, _ = run_audit(root, config)
    grimp_seconds, grimp_note = run_grimp(root, tree["packages"])
    runs = sorted((run_stages(root, config, workers=None) for _ in range(STAGE_RUNS)), key=lambda r: r["total"])
    staged = runs[len(runs) // 2]
    single = run_stages(root, config, workers="1")
    walk_parse = single["parsed"].get("walk", {"seconds": 0.0, "megabytes": 0.0})
    result = {
        "tree": tree["name"],
        "audit_seconds": round(audit_seconds, 3),
        "grimp_seconds": round(grimp_seconds, 3),
        "grimp_note": grimp_note,
        "audit_over_grimp": round(audit_seconds / grimp_seconds, 2),
        "budget_seconds": round(2 * grimp_seconds, 3),
        "stages": staged,
        "stage_totals": [r["total"] for r in runs],
        "one_process": single,
        "walk_parse_over_workers": round(walk_parse["seconds"] / staged["workers"], 3),
    }
    report(result)
    return result


def report(result: dict[str, Any]) -> None:
    staged, single = result["stages"], result["one_process"]
    print(
        f"\n{result['tree']}: audit {result['audit_seconds']:.2f} s = {result['audit_over_grimp']:.2f}x grimp"
        f" {result['grimp_seconds']:.2f} s (2x grimp: {result['budget_seconds']:.2f} s);"
        f" staged runs {', '.join(f'{t:.2f}' for t in result['stage_totals'])} s; {staged['rows']} rows,"
        f" {staged['files_parsed']} files parsed"
    )
    print(f"  {'stage':<10} {'wall':>6} {'1 process':>10} {'CPU':>6} {'parse s':>8} {'parsed MB':>10}")
    for stage in STAGES:
        parsed = single["parsed"].get(stage, {})
        cpu = single["cpu"].get(stage)
        print(
            f"  {stage:<10} {staged['wall'][stage]:>6.3f} {single['wall'][stage]:>10.3f}"
            f" {cpu if cpu is not None else '':>6} {parsed.get('seconds', ''):>8} {parsed.get('megabytes', ''):>10}"
        )
    print(f"  the walk's parsing alone, over the workers: {result['walk_parse_over_workers']:.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=BENCHMARKS / "trees.json")
    parser.add_argument("--only", action="append", default=[], help="tree names from the spec (default: all)")
    parser.add_argument("--json", type=Path, default=BENCHMARKS / "results" / "audit_stages.json")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(stages_in_this_process(args.child[0], args.child[1], STARTED)))
        return 0
    from bench_audit_real import load_spec  # (not in a child: its imports would count as start-up)

    results = [measure(tree) for tree in load_spec(args.spec, args.only)]
    summary = {
        r["tree"]: {"audit_over_grimp": r["audit_over_grimp"], "walk_wall": r["stages"]["wall"]["walk"],
                    "walk_parse_over_workers": r["walk_parse_over_workers"], "budget_seconds": r["budget_seconds"]}
        for r in results
    }  # fmt: skip
    document = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "stage_runs": STAGE_RUNS,
                "summary": summary, "trees": results}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=1) + "\n")
    from _common import emit_result

    emit_result({"summary": summary}, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
