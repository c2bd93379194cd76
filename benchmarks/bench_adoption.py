"""Adoption on real back ends, end to end, as a new user runs it: init -> check -> audit -> notebook.

    python benchmarks/bench_adoption.py [--tree NAME]... [--dest DIR] [--skip-notebook] [--json PATH]

For each tree of benchmarks/trees.json (public back ends, materialized from their git mirrors with
`git archive`; the default trees are the ones marked "adoption"): a fresh project (the tree's
"project" directory; its packages may sit under "root", such as src/) whose
pyproject.toml holds nothing but [project], then `wskit ssot init . --role R --package P`, `check`,
`audit` and `notebook`, each a fresh process, timed, with no edit in between. Reported per tree:
files, the time of each step, the symbols and factories init proposed, the audit's rows by kind,
how much of what the tree's hand-written config finds (benchmarks/trees/*.toml, audited the same
way; not for a held-out tree, whose config there is init's own) init's config finds too, per kind
(target >= 95%; the hand-written config's symbols whose class the role does not name, which init
cannot propose, are counted apart), and 20 call-error rows with the verdict a person gave each
after reading the code (benchmarks/trees/adoption_labels.json; rows nobody has read yet are
listed as such).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from _common import emit_result  # the benchmarks directory is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
TREES = HERE / "trees.json"
LABELS = HERE / "trees" / "adoption_labels.json"
WSKIT = [str(Path(sys.executable).parent / "wskit")]
CALL_ERRORS = ("direct-instantiation", "bad-arguments", "await-sync", "missing-await", "isinstance-protocol")
SAMPLE = 20


def run(args: list[str], cwd: Path, timeout: float = 900) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    return done, time.perf_counter() - started


def materialize(tree: dict[str, Any], dest: Path) -> Path:
    """The tree's files at its commit under dest/NAME (extracted once, reused after)."""
    target: Path = dest / str(tree["name"]).replace("@", "-at-")
    marker = target / ".materialized"
    if marker.exists():
        return target
    if not Path(tree["mirror"]).exists():
        raise SystemExit(f"{tree['name']}: its mirror {tree['mirror']} is missing: fetch {tree['repository']} first")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", f"--git-dir={tree['mirror']}", "archive", tree["commit"], *tree["dirs"]],
        capture_output=True, check=False,
    )  # fmt: skip
    subprocess.run(["tar", "x", "-C", str(target)], input=archive.stdout, check=True)
    marker.write_text(tree["commit"] + "\n")
    return target


def audit_rows(project: Path, root: str, config: Path, search: Path) -> tuple[dict[str, Any], float]:
    args = [*WSKIT, "ssot", "audit", root, "--config", str(config), "--search-path", str(search)]
    done, seconds = run([*args, "--format", "json", "--fail-on", "none"], cwd=project)
    if done.returncode != 0:
        raise SystemExit(f"audit failed in {project}: {done.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result, seconds


def sample(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SAMPLE call-error rows spread over the output (its order: what raises in product code first)."""
    errors = [row for row in rows if row["kind"] in CALL_ERRORS]
    if len(errors) <= SAMPLE:
        return errors
    step = len(errors) / SAMPLE
    return [errors[int(i * step)] for i in range(SAMPLE)]


def measure(tree: dict[str, Any], dest: Path, *, notebook: bool, labels: dict[str, Any]) -> dict[str, Any]:
    checkout = materialize(tree, dest)
    project = checkout / tree.get("project", ".")  # the project's directory: init writes its pyproject.toml here
    (project / "pyproject.toml").write_text(f'[project]\nname = "{tree["name"].split("@")[0]}"\nversion = "0"\n')
    shutil.rmtree(project / "notebooks", ignore_errors=True)
    package = tree["packages"][0]
    source = checkout / tree.get("root", ".")  # where the packages live: the project, or its src/
    audited = os.path.relpath(source / package, project)
    files = sum(1 for _ in (source / package).rglob("*.py"))
    steps: dict[str, float] = {}
    init, steps["init"] = run([*WSKIT, "ssot", "init", ".", "--role", tree["role"], "--package", package], project)
    if init.returncode != 0:
        return {"name": tree["name"], "files": files, "init_exit": init.returncode, "init_error": init.stderr.strip()}
    config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["wskit"]["ssot"]
    factories = [p for s in config["symbols"] for p in s["paths"] if _is_factory(source, p)]
    check, steps["check"] = run([*WSKIT, "ssot", "check"], project)
    audit, steps["audit"] = audit_rows(project, audited, project / "pyproject.toml", source)
    result: dict[str, Any] = {
        "name": tree["name"],
        "repository": tree["repository"],
        "commit": tree["commit"],
        "files": files,
        "init_exit": init.returncode,
        "check_exit": check.returncode,
        "symbols": [s["name"] for s in config["symbols"]],
        "paths": sum(len(s["paths"]) for s in config["symbols"]),
        "factories": len(factories),
        "mode": config.get("mode", "runtime"),
        "counts": {kind: count for kind, count in audit["counts"].items() if count},
        "raise_in_product": sum(1 for row in audit["rows"] if row["raises"] and row["scope"] == "product"),
        "skipped": len(audit["skipped"]),
    }
    if notebook:
        made, steps["notebook"] = run([*WSKIT, "ssot", "notebook", "-o", "notebooks/ssot.ipynb"], project, 1800)
        result["notebook_exit"] = made.returncode
        result["notebook_error"] = made.stderr.strip()[-300:] if made.returncode else ""
    result["seconds"] = {step: round(seconds, 2) for step, seconds in steps.items()}
    result["seconds"]["total"] = round(sum(steps.values()), 2)
    # A held-out tree's config in benchmarks/trees is init's own output ("config_from": "init"):
    # nothing hand-written to compare with.
    hand = HERE / tree["config"] if tree.get("config") and tree.get("config_from") != "init" else None
    if hand is not None and hand.exists():
        baseline, _ = audit_rows(project, audited, hand, source)
        # init proposes the classes the role names: the hand-written config's other symbols (a
        # context class, a bridge) are compared apart, so a miss of the role is not hidden by them.
        symbols = tomllib.loads(hand.read_text())["tool"]["wskit"]["ssot"]["symbols"]
        in_role = {s["name"] for s in symbols if re.search(tree["role"], s["canonical"].rpartition(":")[2])}
        rows = baseline["rows"]
        result["versus_hand_config"] = _coverage([r for r in rows if r["symbol"] in in_role], audit["rows"])
        result["hand_config_outside_role"] = _coverage([r for r in rows if r["symbol"] not in in_role], audit["rows"])
    chosen = sample(audit["rows"])
    mine = labels.get(tree["name"], {})
    result["checked_by_hand"] = [
        {"where": row["where"], "kind": row["kind"], "code": row["code"][:100],
         **({"true": mine[_key(row)][0], "reason": mine[_key(row)][1]} if _key(row) in mine else {"true": None})}
        for row in chosen
    ]  # fmt: skip
    return result


def _key(row: dict[str, Any]) -> str:
    return f"{row['where']} {row['kind']}"


def _is_factory(source: Path, path: str) -> bool:
    """Whether a proposed path names a function (a factory), read from its definition line."""
    module, _, name = path.partition(":")
    base = source / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            text = candidate.read_text(errors="replace")
            return f"def {name}(" in text
    return False


def _coverage(hand: list[dict[str, Any]], init: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per call-error kind: sites the hand-written config's audit finds, and how many init's finds too."""
    found = {(row["file"], row["line"], row["kind"]) for row in init}
    found_any = {(row["file"], row["line"]) for row in init if row["kind"] in CALL_ERRORS}
    per_kind: dict[str, dict[str, Any]] = {}
    for kind, count in Counter(row["kind"] for row in hand if row["kind"] in CALL_ERRORS).items():
        same = sum(1 for row in hand if row["kind"] == kind and (row["file"], row["line"], kind) in found)
        flagged = sum(1 for row in hand if row["kind"] == kind and (row["file"], row["line"]) in found_any)
        per_kind[kind] = {"hand": count, "init_same_kind": same, "init_any_error": flagged,
                          "ratio": round(same / count, 3) if count else None}  # fmt: skip
    return per_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", help="names in benchmarks/trees.json (default: the adoption set)")
    parser.add_argument("--dest", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "wskit-adoption")
    parser.add_argument("--skip-notebook", action="store_true", help="init, check and audit only")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    spec = json.loads(TREES.read_text())
    chosen = [t for t in spec["trees"] if (t["name"] in args.tree if args.tree else t.get("adoption"))]
    if not chosen:
        raise SystemExit(f"no such tree; known: {', '.join(t['name'] for t in spec['trees'])}")
    labels = json.loads(LABELS.read_text()) if LABELS.exists() else {}
    results = []
    for tree in chosen:
        result = measure(tree, args.dest, notebook=not args.skip_notebook, labels=labels)
        results.append(result)
        seconds = result.get("seconds", {})
        print(f"{result['name']}: {result['files']} files; init exit {result['init_exit']}; "
              f"{len(result.get('symbols', []))} symbols, {result.get('factories', 0)} factory paths; "
              f"steps {seconds}; rows {result.get('counts', {})}")  # fmt: skip
        parts = (("the role's symbols", "versus_hand_config"), ("outside the role", "hand_config_outside_role"))
        for label, key in parts:
            for kind, cover in result.get(key, {}).items():
                print(f"  {kind:<22} hand-written config ({label}) {cover['hand']:>4}, init's config"
                      f" {cover['init_same_kind']:>4} ({cover['ratio']:.0%})")  # fmt: skip
        checked = result.get("checked_by_hand", [])
        verdicts = Counter(str(row["true"]) for row in checked)
        print(f"  {len(checked)} call-error rows checked by hand: {dict(verdicts)}")
    emit_result({"benchmark": "adoption", "trees": results}, args.json)


if __name__ == "__main__":
    main()
