"""Measure `wskit ssot audit` on real trees against an independent oracle, with grimp in the same run.

    flock /tmp/wskit-bench.lock python benchmarks/bench_audit_real.py [--spec benchmarks/trees.json]
        [--only NAME]... [--tree NAME=ROOT:CONFIG[:ROLE]]... [--labels benchmarks/trees/known_bugs.json]
        [--no-wrappers] [--check-labels] [--examples 3] [--json benchmarks/results/audit_real.json]

For each tree (from the spec file, `--only` to pick some, or given with `--tree`; a spec tree missing
under its `dest` is first extracted from its git mirror with `git archive COMMIT DIRS | tar x`):
1. `wskit ssot audit ROOT --config CONFIG --search-path ROOT --format json --fail-on none`, a fresh
   process, timed (wall);
2. `grimp.build_graph` of the tree's top-level packages, a fresh process, timed (grimp stops at a
   file that does not parse: then it reads a hard-linked copy in which those files are empty);
3. `wskit ssot scan ROOT --role R --format json` (text if json is refused), a fresh process, timed;
4. benchmarks/audit_oracle.py over the same tree and config (in this process, timed; its own rules,
   written apart from wskit's analyzer).
Steps 1-3 are each timed as the median of five runs after a first one, with Python's bytecode
cache as an installed package has it.
Then, per call kind (call, bad-arguments, await-sync, missing-await, direct-instantiation, unknown):
oracle sites, audit rows, matched (the same file and line, the kind being the row's or one its detail
names as "also KIND": one row per call), recall (matched / oracle sites; recall_as_row_kind: the row's kind only;
also "core": without the oracle's wrapper and factory-method sites, which wskit is only now
learning; "product": only sites outside test files), precision (matched / audit rows); call-error
rows per real call-error site (audit rows of the four call-error kinds / distinct oracle call-error
lines); audit / grimp and role scan / grimp time ratios. The misses (the oracle says X, the audit
says Y or nothing) and the audit's rows the oracle has no such site for are printed grouped by
shape, with a few examples. The known bugs (`--labels`) of each tree are looked up in both.
`--check-labels` only re-reads every label's line at its commit in the mirror and checks it
matches its `expect` pattern.

The JSON holds everything per tree (its summary is also printed as one line); nothing of the trees'
source is written (file:line, callee, kinds, the audit's details and the oracle's reasons only).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from _common import emit_result  # the benchmarks directory is on sys.path when run as a script
from audit_oracle import CALL_ERRORS, KINDS, Oracle, Site, load_symbols

BENCHMARKS = Path(__file__).resolve().parent
PROJECT = BENCHMARKS.parent
WSKIT = [sys.executable, "-m", "wskit.cli"]
GRIMP = "import sys, grimp; sys.path.insert(0, sys.argv[1]); grimp.build_graph(*sys.argv[2:], cache_dir=None)"
# Tags of how the oracle reached a site that describe its shape (the rest, like "alias", are common).
SHAPE_TAGS = ("wrapper", "factory-method", "function-import", "try-import", "star-import", "bound-later", "reexport")
EXTENSIONS = ("wrapper", "factory-method")
RUNS = 5


# Each tool is timed in a fresh process as an installed package runs: with Python's bytecode cache,
# after one untimed run of the same command (which writes the cache and reads the tree once); the
# median of RUNS runs (one run of a 0.1 s command varied by up to 30% on this machine; with three
# runs, two slow ones once put mealie's audit at 0.201 s where 21 runs give a median of 0.157 s). This
# machine sets PYTHONDONTWRITEBYTECODE=1, under which every run of a fresh checkout compiles wskit's
# modules and its dependencies again (0.13 s of a 0.44 s scan of a small tree).


def timed(command: list[str], cwd: Path = PROJECT) -> tuple[float, subprocess.CompletedProcess[str]]:
    """The median wall time of RUNS runs of `command`, after one untimed run; the last run's result."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    seconds = []
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), done


# -- the trees ------------------------------------------------------------------------------------------


def load_spec(path: Path, only: list[str]) -> list[dict[str, Any]]:
    spec = json.loads(path.read_text())
    trees = [dict(t, dest=spec["dest"]) for t in spec["trees"] if not only or t["name"] in only]
    missing = sorted(set(only) - {t["name"] for t in trees})
    if missing:
        raise SystemExit(f"no tree named {', '.join(missing)} in {path}")
    return trees


def parse_tree_option(text: str) -> dict[str, Any]:
    """NAME=ROOT:CONFIG[:ROLE] -> a tree whose grimp packages are ROOT's top-level packages."""
    name, _, rest = text.partition("=")
    root, _, rest = rest.partition(":")
    config, _, role = rest.partition(":")
    if not (name and root and config):
        raise SystemExit(f"--tree {text!r}: write NAME=ROOT:CONFIG[:ROLE]")
    packages = sorted(d.name for d in Path(root).iterdir() if (d / "__init__.py").is_file() and d.name.isidentifier())
    return {
        "name": name,
        "path": str(Path(root).resolve()),
        "config": config,
        "role": role or None,
        "packages": packages,
    }


def materialize(tree: dict[str, Any]) -> Path:
    """The tree's directory, extracted from its mirror first if absent; checks the .py count."""
    if "path" in tree:
        return Path(tree["path"])
    dest = Path(tree["dest"]) / tree["name"]
    listed = subprocess.run(
        ["git", f"--git-dir={tree['mirror']}", "ls-tree", "-r", "--name-only", tree["commit"], *tree["dirs"]],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    expected = sum(1 for f in listed if f.endswith(".py"))
    if not dest.is_dir():
        dest.mkdir(parents=True)
        archive = subprocess.Popen(
            ["git", f"--git-dir={tree['mirror']}", "archive", tree["commit"], *tree["dirs"]],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        subprocess.run(["tar", "x", "-C", str(dest)], stdin=archive.stdout, check=True)
        archive.wait()
    found = sum(1 for _ in dest.rglob("*.py"))
    if found != expected:
        raise SystemExit(f"{dest}: {found} .py files, {expected} at {tree['commit']} (delete it to extract again)")
    return dest / tree.get("root", ".")


def check_labels(labels: list[dict[str, Any]], spec: list[dict[str, Any]]) -> int:
    mirrors = {t["repository"]: t["mirror"] for t in spec if "mirror" in t}
    bad = 0
    for label in labels:
        text = subprocess.run(
            ["git", f"--git-dir={mirrors[label['repository']]}", "show", f"{label['commit']}:{label['file']}"],
            capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
        line = text[label["line"] - 1] if label["line"] <= len(text) else ""
        if not re.search(label["expect"], line):
            bad += 1
            print(f"label does not match: {label['tree']} {label['file']}:{label['line']} /{label['expect']}/")
    print(f"{len(labels)} labels read at their commits, {bad} not matching")
    return bad


# -- measuring ------------------------------------------------------------------------------------------


def run_grimp(root: Path, packages: list[str]) -> tuple[float, str]:
    """Seconds of grimp.build_graph in a fresh process, and a note when files had to be emptied."""
    seconds, done = timed([sys.executable, "-c", GRIMP, str(root), *packages])
    if done.returncode == 0:
        return seconds, ""
    if "SourceSyntaxError" not in done.stderr:
        return float("nan"), done.stderr.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="grimp-copy-") as work:
        copy = Path(work) / "tree"
        subprocess.run(["cp", "-al", str(root), str(copy)], check=True)
        emptied = 0
        for path in copy.rglob("*.py"):
            try:
                ast.parse(path.read_bytes())
            except (SyntaxError, ValueError):
                path.unlink()  # a new empty file, not the hard-linked original
                path.write_text("")
                emptied += 1
        seconds, done = timed([sys.executable, "-c", GRIMP, str(copy), *packages])
    note = f"{emptied} files that do not parse emptied in a hard-linked copy"
    return (seconds if done.returncode == 0 else float("nan")), note


def run_scan(root: Path, role: str | None) -> tuple[float | None, str]:
    if not role:
        return None, "no role"
    seconds, done = timed([*WSKIT, "ssot", "scan", str(root), "--role", role, "--format", "json"])
    if done.returncode in (0, 1) and done.stdout.lstrip().startswith("{"):
        classes = len(json.loads(done.stdout).get("classes", []))
        return seconds, f"{classes} classes (json)"
    seconds, done = timed([*WSKIT, "ssot", "scan", str(root), "--role", role])
    return seconds, "text"


def run_audit(root: Path, config: Path) -> tuple[float, dict[str, Any]]:
    command = [*WSKIT, "ssot", "audit", str(root), "--config", str(config), "--search-path", str(root)]
    seconds, done = timed([*command, "--format", "json", "--fail-on", "none"])
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise SystemExit(f"wskit ssot audit failed on {root}: {done.stderr.strip()[-500:]}")
    return seconds, json.loads(done.stdout)


def relative(root: Path, file: str) -> str:
    """Audit rows name files relative to ROOT (or absolute): the oracle's form."""
    path = Path(file)
    return path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else path.as_posix()


def secondary(row: dict[str, Any]) -> set[str]:
    """The other problems an audit row names in its detail ("also KIND: ...")."""
    return set(re.findall(r"\balso ([a-z-]+):", row["detail"])) & set(CALL_ERRORS)


def compare(sites: list[Site], rows: list[dict[str, Any]], root: Path, examples: int) -> dict[str, Any]:
    audit_keys = {(relative(root, r["file"]), r["line"], r["kind"]) for r in rows}
    # One row per call: its worst problem is the row's kind, the others are named in its detail
    # ("also direct-instantiation: ..."). Recall counts a site the row names either way.
    said_keys = audit_keys | {(relative(root, r["file"]), r["line"], k) for r in rows for k in secondary(r)}
    audit_lines: dict[tuple[str, int], set[str]] = defaultdict(set)
    for file, line, kind in audit_keys:
        audit_lines[(file, line)].add(kind)
    oracle_keys = {(s.file, s.line, s.kind) for s in sites}
    oracle_lines: dict[tuple[str, int], set[str]] = defaultdict(set)
    for s in sites:
        oracle_lines[(s.file, s.line)].add(s.kind)
    core_keys = {(s.file, s.line, s.kind) for s in sites if not set(s.via) & set(EXTENSIONS)}
    product_keys = {(s.file, s.line, s.kind) for s in sites if s.scope == "product"}
    per_kind: dict[str, Any] = {}
    for kind in KINDS:
        wanted = {k for k in oracle_keys if k[2] == kind}
        core = {k for k in core_keys if k[2] == kind}
        product = {k for k in product_keys if k[2] == kind}
        got = {k for k in audit_keys if k[2] == kind}
        said = {k for k in said_keys if k[2] == kind}
        matched = wanted & said
        per_kind[kind] = {
            "oracle_sites": len(wanted), "audit_rows": sum(1 for r in rows if r["kind"] == kind),
            "matched": len(matched), "recall": round(len(matched) / len(wanted), 3) if wanted else None,
            "recall_as_row_kind": round(len(wanted & got) / len(wanted), 3) if wanted else None,
            "core_sites": len(core), "core_recall": round(len(core & said) / len(core), 3) if core else None,
            "product_sites": len(product),
            "product_recall": round(len(product & said) / len(product), 3) if product else None,
            "precision": round(len(wanted & got) / len(got), 3) if got else None,
        }  # fmt: skip
    error_rows = sum(1 for r in rows if r["kind"] in CALL_ERRORS)
    error_sites = len({(s.file, s.line) for s in sites if s.kind in CALL_ERRORS})
    misses: dict[str, dict[str, Any]] = {}
    for s in sites:
        if (s.file, s.line, s.kind) in said_keys:
            continue
        said = "/".join(sorted(audit_lines.get((s.file, s.line), set()))) or "nothing"
        tags = "+".join(t for t in SHAPE_TAGS if t in s.via) or "direct"
        group = misses.setdefault(f"oracle {s.kind} [{s.shape}, {tags}] -> audit {said}", {"count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < examples:
            group["examples"].append(f"{s.file}:{s.line} {s.callee}: {s.reason}"[:300])
    extra: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = (relative(root, r["file"]), r["line"])
        if (*key, r["kind"]) in oracle_keys:
            continue
        said = "/".join(sorted(oracle_lines.get(key, set()))) or "no site"
        group = extra.setdefault(f"audit {r['kind']} -> oracle {said}", {"count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < examples:
            group["examples"].append(f"{key[0]}:{key[1]} via {r['via']}: {r['detail']}"[:300])
    order = lambda groups: dict(sorted(groups.items(), key=lambda item: -item[1]["count"]))  # noqa: E731
    return {
        "per_kind": per_kind,
        "call_error_rows": error_rows,
        "call_error_sites": error_sites,
        "call_error_ratio": round(error_rows / error_sites, 3) if error_sites else None,
        "misses": order(misses),
        "audit_rows_without_oracle_site": order(extra),
    }


def known_bugs(
    labels: list[dict[str, Any]], name: str, sites: list[Site], rows: list[dict[str, Any]], root: Path
) -> dict[str, Any]:
    mine = [label for label in labels if label["tree"] == name]
    audit_keys = {(relative(root, r["file"]), r["line"], k) for r in rows for k in {r["kind"], *secondary(r)}}
    oracle_keys = {(s.file, s.line, s.kind) for s in sites}
    found = []
    for label in mine:
        key = (label["file"], label["line"], label["kind"])
        found.append({"where": f"{label['file']}:{label['line']}", "kind": label["kind"], "source": label["source"],
                      "audit": key in audit_keys, "oracle": key in oracle_keys})  # fmt: skip
    return {
        "labels": len(mine),
        "audit_found": sum(f["audit"] for f in found),
        "oracle_found": sum(f["oracle"] for f in found),
        "sites": found,
    }


def measure_tree(
    tree: dict[str, Any], labels: list[dict[str, Any]], *, wrappers: bool, examples: int
) -> dict[str, Any]:
    root = materialize(tree).resolve()
    config = (BENCHMARKS / tree["config"]).resolve() if not Path(tree["config"]).is_absolute() else Path(tree["config"])
    audit_seconds, document = run_audit(root, config)
    grimp_seconds, grimp_note = run_grimp(root, tree["packages"])
    scan_seconds, scan_note = run_scan(root, tree.get("role"))
    start = time.perf_counter()
    oracle = Oracle(root, load_symbols(config), search_path=[root], wrappers=wrappers)
    sites = oracle.run()
    oracle_seconds = time.perf_counter() - start
    rows = [r for r in document["rows"] if r["kind"] in KINDS]
    result = {
        "tree": {k: tree[k] for k in ("name", "repository", "commit", "ref", "role", "config") if k in tree},
        "root": str(root),
        "files_scanned": document["files_scanned"],
        "audit": {"seconds": round(audit_seconds, 3), "counts": document["counts"],
                  "files_parsed": document["files_parsed"],
                  "findings": [f["message"][:200] for f in document["findings"]], "skipped": len(document["skipped"])},
        "grimp": {"seconds": round(grimp_seconds, 3), "packages": tree["packages"], "note": grimp_note},
        "scan": {"seconds": round(scan_seconds, 3) if scan_seconds else None, "role": tree.get("role"),
                 "note": scan_note},
        "audit_over_grimp": round(audit_seconds / grimp_seconds, 2),
        "scan_over_grimp": round(scan_seconds / grimp_seconds, 2) if scan_seconds else None,
        "oracle": {"seconds": round(oracle_seconds, 3), "sites": len(sites),
                   "counts": dict(Counter(s.kind for s in sites)),
                   "targets": {k: t.role for k, t in sorted(oracle.targets.items())},
                   "unresolved": oracle.unresolved, "skipped": len(oracle.skipped), "wrappers": wrappers},
        **compare(sites, rows, root, examples),
        "known_bugs": known_bugs(labels, tree["name"], sites, rows, root),
        "oracle_error_sites": [
            f"{s.file}:{s.line} {s.kind} [{s.shape}] {s.callee} -> {s.target} ({s.scope})"
            for s in sites
            if s.kind in CALL_ERRORS
        ],
    }  # fmt: skip
    report(result)
    return result


def report(result: dict[str, Any]) -> None:
    name = result["tree"]["name"]
    print(f"\n== {name} ({result['files_scanned']} files): audit {result['audit']['seconds']} s, grimp"
          f" {result['grimp']['seconds']} s ({result['audit_over_grimp']}x), scan {result['scan']['seconds']} s"
          f" ({result['scan_over_grimp']}x), oracle {result['oracle']['seconds']} s")  # fmt: skip
    print(
        f"   {'kind':<22}{'oracle':>7}{'audit':>7}{'match':>7}{'recall':>8}{'core':>8}{'product':>9}{'precision':>10}"
    )
    for kind, row in result["per_kind"].items():
        fmt = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
        print(f"   {kind:<22}{row['oracle_sites']:>7}{row['audit_rows']:>7}{row['matched']:>7}{fmt(row['recall']):>8}"
              f"{fmt(row['core_recall']):>8}{fmt(row['product_recall']):>9}{fmt(row['precision']):>10}")  # fmt: skip
    print(f"   call-error rows {result['call_error_rows']} for {result['call_error_sites']} oracle call-error lines"
          f" ({result['call_error_ratio']}x)")  # fmt: skip
    bugs = result["known_bugs"]
    if bugs["labels"]:
        print(
            f"   known bugs: {bugs['labels']} labels, audit finds {bugs['audit_found']}, oracle {bugs['oracle_found']}"
        )
    for title, groups in (("misses", result["misses"]), ("audit rows without such an oracle site",
                                                          result["audit_rows_without_oracle_site"])):  # fmt: skip
        print(f"   {title}:")
        for shape, group in list(groups.items())[:12]:
            print(f"     {group['count']:>5}  {shape}")
            for example in group["examples"][:2]:
                print(f"              {example[:150]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=BENCHMARKS / "trees.json")
    parser.add_argument("--only", action="append", default=[], help="tree names from the spec (default: all)")
    parser.add_argument("--tree", action="append", default=[], help="NAME=ROOT:CONFIG[:ROLE], instead of the spec")
    parser.add_argument("--labels", type=Path, default=BENCHMARKS / "trees" / "known_bugs.json")
    parser.add_argument("--no-wrappers", action="store_true", help="the oracle without its wrapper rule")
    parser.add_argument("--check-labels", action="store_true", help="only check every label against its commit")
    parser.add_argument("--examples", type=int, default=3, help="examples kept per miss shape")
    parser.add_argument("--json", type=Path, default=BENCHMARKS / "results" / "audit_real.json")
    args = parser.parse_args()
    labels = json.loads(args.labels.read_text())["labels"] if args.labels.is_file() else []
    if args.check_labels:
        return 1 if check_labels(labels, load_spec(args.spec, [])) else 0
    trees = [parse_tree_option(t) for t in args.tree] or load_spec(args.spec, args.only)
    results = {}
    for tree in trees:
        results[tree["name"]] = measure_tree(tree, labels, wrappers=not args.no_wrappers, examples=args.examples)
    summary = {
        name: {"recall": {k: v["recall"] for k, v in r["per_kind"].items()},
               "core_recall": {k: v["core_recall"] for k, v in r["per_kind"].items()},
               "product_recall": {k: v["product_recall"] for k, v in r["per_kind"].items()},
               "precision": {k: v["precision"] for k, v in r["per_kind"].items()},
               "call_error_ratio": r["call_error_ratio"], "audit_over_grimp": r["audit_over_grimp"],
               "scan_over_grimp": r["scan_over_grimp"],
               "known_bugs": {k: r["known_bugs"][k] for k in ("labels", "audit_found", "oracle_found")}}
        for name, r in results.items()
    }  # fmt: skip
    timing = f"median of {RUNS} runs after a first, bytecode cache"
    document = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "timed": timing,
                "summary": summary, "trees": results}  # fmt: skip
    print()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    emit_result({"summary": summary}, None)
    args.json.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    shutil.which("git") or sys.exit("git is needed to extract the trees")
    sys.exit(main())
