"""The arguments oracle on installed code: `inspect.signature(obj).bind(...)` against `wskit ssot audit`.

    flock /tmp/wskit-bench.lock python benchmarks/bench_signature_oracle.py [--callables 600]
        [--packages pandas,matplotlib,...] [--seed 7] [--batch 100] [--no-bisect]
        [--json benchmarks/results/signature_oracle.json]

1. Callables: the public module-level classes and functions (defined in a .py file, with a
   signature `inspect` can read) of public modules of widely used packages installed here
   (pandas, matplotlib, jinja2, httpx, starlette, fastapi, pydantic, redis, websockets, tornado,
   jupyter_server, nbformat, IPython, click, attrs, rich, ...; every module of theirs that importing
   them loaded). Each gets a form: dataclass, attrs, namedtuple, class, function. All dataclasses,
   attrs classes and NamedTuples are kept, then classes and functions drawn at random (`--seed`) up
   to `--callables`.
2. Sites: every call of them in this venv's site-packages, found by benchmarks/audit_oracle.py's
   resolution (imports, aliases, re-exports, function-level imports; wrappers off; class-level
   factory methods left out).
3. Truth: `inspect.signature(obj).bind(*[None] * positional, **{k: None for k in keywords})` for
   each site: "ok", "error" (TypeError), or "unknown" when the call has `*args`/`**kwargs`.
4. `wskit ssot audit SITE --config C --search-path SITE --format json` with one symbol per callable
   that has sites (canonical = paths = [its defining `module:Name`]), `--batch` symbols per run; a
   run that fails is split in halves down to the symbols that make it fail (`--no-bisect`: not),
   listed in `audit_failures`. Its row at the site: call, bad-arguments, unknown, another kind,
   none, or crash (the symbol's runs failed). The oracle's own verdict (audit_oracle's AST binder)
   is kept too, to show how far that binder is from `inspect`.
Per form: sites, agreement (audit says call where bind is ok, bad-arguments where it raises, over the
sites where both give a verdict), the confusion matrix (bind x audit), and every disagreement
(file:line, the call, both verdicts, the audit's detail) go to the JSON. Disagreements are expected
today: the analyzer does not check constructor calls yet.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from _common import emit_result  # the benchmarks directory is on sys.path when run as a script
from audit_oracle import Oracle, Site, Symbol

PROJECT = Path(__file__).resolve().parent.parent
SITE = Path(next(p for p in sys.path if p.endswith("site-packages"))).resolve()
WSKIT = [sys.executable, "-m", "wskit.cli"]
PACKAGES = [
    "pandas", "matplotlib.pyplot", "jinja2", "httpx", "starlette.applications", "starlette.responses",
    "starlette.routing", "starlette.middleware", "starlette.datastructures", "fastapi", "pydantic", "redis",
    "redis.asyncio", "websockets.asyncio.client", "websockets.asyncio.server", "tornado.web", "tornado.httpclient",
    "jupyter_server.serverapp", "nbformat", "nbformat.v4", "IPython.display", "click", "attr", "attrs",
    "rich.console", "rich.table", "rich.segment", "rich.text", "referencing", "jsonschema", "markdown_it",
    "anyio", "packaging.version", "packaging.requirements", "traitlets", "h11", "httpcore", "jupyter_client",
    "nbclient", "yaml", "bs4", "pygments.lexers", "dateutil.relativedelta", "uvicorn",
]  # fmt: skip
FORMS = ("dataclass", "attrs", "namedtuple", "class", "function")
AUDIT_VERDICTS = ("call", "bad-arguments", "unknown", "other", "none", "crash")
AUDIT_TIMEOUT = 1800
VERDICTS = AUDIT_VERDICTS[:2]  # the audit gives a verdict on the arguments
PLACEHOLDER = None


def form_of(obj: Any) -> str:
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            return "dataclass"
        if hasattr(obj, "__attrs_attrs__"):
            return "attrs"
        if issubclass(obj, tuple) and hasattr(obj, "_fields"):
            return "namedtuple"
        return "class"
    return "function"


def public_module(name: str, roots: set[str]) -> bool:
    parts = name.split(".")
    return parts[0] in roots and not any(p.startswith("_") or p in ("tests", "test", "testing") for p in parts)


def pick_callables(packages: list[str], limit: int, seed: int) -> dict[str, tuple[Any, str]]:
    """{'module:Name': (object, form)} of public module-level classes and functions, defined in .py files."""
    for name in packages:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing or broken package is only left out
            print(f"  skipped {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    roots = {p.split(".")[0] for p in packages}
    found: dict[str, tuple[Any, str]] = {}
    for module_name, module in sorted(sys.modules.items()):
        if module is None or not public_module(module_name, roots):
            continue
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if getattr(obj, "__module__", None) != module_name or getattr(obj, "__qualname__", "") != attr:
                continue
            try:
                source = inspect.getsourcefile(obj)
                inspect.signature(obj)
            except (TypeError, ValueError):
                continue
            if source is None or not source.endswith(".py") or not Path(source).resolve().is_relative_to(SITE):
                continue
            found[f"{module_name}:{attr}"] = (obj, form_of(obj))
    rng = random.Random(seed)
    kept = {k: v for k, v in found.items() if v[1] in ("dataclass", "attrs", "namedtuple")}
    rest = sorted(k for k, v in found.items() if k not in kept)
    for key in rng.sample(rest, k=max(0, min(len(rest), limit - len(kept)))):
        kept[key] = found[key]
    print(f"callables: {len(found)} public ones found, {len(kept)} kept: {dict(Counter(f for _, f in kept.values()))}")
    return dict(sorted(kept.items()))


def bind_verdict(obj: Any, call: ast.Call) -> tuple[str, str]:
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return "unknown", "*args/**kwargs at the call"
    try:
        inspect.signature(obj).bind(
            *[PLACEHOLDER] * len(call.args), **{k.arg: PLACEHOLDER for k in call.keywords if k.arg}
        )
    except TypeError as exc:
        return "error", str(exc)
    return "ok", ""


def find_call(oracle: Oracle, site: Site) -> ast.Call | None:
    """The call node of a site (the file is already parsed by the oracle)."""
    path = oracle.root / site.file
    module = oracle.module_for(path)
    if module is None or module.tree is None:
        return None
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Call)
            and (node.lineno, node.col_offset) == (site.line, site.col)
            and ast.unparse(node.func) == site.callee  # not `f().g()`, which starts at the same place
        ):
            return node
    return None


def audit_once(paths: list[str], work: Path) -> tuple[float, dict[str, Any] | None, str]:
    """One `wskit ssot audit` of site-packages with one symbol per path: seconds, its JSON (None if it
    failed) and the last line of its error output."""
    config = work / "pyproject.toml"
    lines = ["[tool.wskit.ssot]"]
    for path in paths:
        lines += ["[[tool.wskit.ssot.symbols]]", f'name = "{path}"', f'canonical = "{path}"', f'paths = ["{path}"]']
    config.write_text("\n".join(lines) + "\n")
    command = [*WSKIT, "ssot", "audit", str(SITE), "--config", str(config), "--search-path", str(SITE)]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [*command, "--format", "json", "--fail-on", "none"], capture_output=True, text=True, check=False,
            timeout=AUDIT_TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None, f"timed out after {AUDIT_TIMEOUT} s"
    seconds = time.perf_counter() - start
    if not done.stdout.strip().startswith("{"):
        return seconds, None, (done.stderr.strip().splitlines() or ["no output"])[-1]
    return seconds, json.loads(done.stdout), ""


def audit_rows(
    paths: list[str], work: Path, batch: int, *, bisect: bool
) -> tuple[float, dict[tuple[str, int, str], dict[str, Any]], list[dict[str, Any]]]:
    """The audit's call rows by (file, line, target), run `batch` symbols at a time; a batch that fails
    is split in halves (with `bisect`) down to the symbols that make it fail, which are returned."""
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    total = 0.0
    pending = [paths[i : i + batch] for i in range(0, len(paths), batch)]
    while pending:
        chunk = pending.pop(0)
        seconds, document, error = audit_once(chunk, work)
        total += seconds
        print(f"  audit of {len(chunk)} symbols: {seconds:.1f} s{', FAILED: ' + error if document is None else ''}")
        if document is None:
            if bisect and len(chunk) > 1:
                pending[:0] = [chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]]
            else:
                failures.append({"symbols": chunk, "error": error})
            continue
        for row in document["rows"]:
            if row["kind"].startswith("import-"):
                continue
            file = Path(row["file"])
            file_name = file.relative_to(SITE).as_posix() if file.is_absolute() else file.as_posix()
            rows[(file_name, row["line"], row["target"])] = row
    return total, rows, failures


def audit_verdict(row: dict[str, Any] | None, crashed: bool) -> str:
    if row is None:
        return "crash" if crashed else "none"
    return row["kind"] if row["kind"] in ("call", "bad-arguments", "unknown") else "other"


def agreement(matrix: Counter[tuple[str, str]]) -> float | None:
    both = sum(
        n for (truth, said), n in matrix.items() if truth in ("ok", "error") and said in ("call", "bad-arguments")
    )
    agree = matrix[("ok", "call")] + matrix[("error", "bad-arguments")]
    return round(agree / both, 3) if both else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callables", type=int, default=600, help="how many callables at most")
    parser.add_argument("--packages", default=",".join(PACKAGES), help="modules to import (comma-separated)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=100, help="symbols per audit run")
    parser.add_argument("--no-bisect", action="store_true", help="do not split a failing audit run")
    parser.add_argument("--json", type=Path, default=PROJECT / "benchmarks" / "results" / "signature_oracle.json")
    args = parser.parse_args()
    callables = pick_callables(args.packages.split(","), args.callables, args.seed)
    start = time.perf_counter()
    symbols = [Symbol(path, path, (path,)) for path in callables]
    oracle = Oracle(SITE, symbols, search_path=[SITE], wrappers=False)
    sites = [s for s in oracle.run() if s.target in callables]
    oracle_seconds = time.perf_counter() - start
    print(f"oracle: {len(sites)} call sites of {len({s.target for s in sites})} callables in {oracle.files_scanned}"
          f" files, {oracle_seconds:.1f} s")  # fmt: skip
    called = sorted({s.target for s in sites})
    with tempfile.TemporaryDirectory(prefix="wskit-signature-") as work:
        audit_seconds, rows, failures = audit_rows(called, Path(work), args.batch, bisect=not args.no_bisect)
    crashed = {path for failure in failures for path in failure["symbols"]}
    print(f"wskit ssot audit of the {len(called)} callables called: {len(rows)} call rows, {audit_seconds:.1f} s;"
          f" failing symbols: {sorted(crashed) or 'none'}")  # fmt: skip
    per_form: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    mine: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    disagreements: list[dict[str, Any]] = []
    ast_disagreements: list[str] = []
    seen: set[tuple[str, int, int, str]] = set()
    for site in sites:
        key = (site.file, site.line, site.col, site.target)
        call = find_call(oracle, site)
        if key in seen or call is None:
            continue
        seen.add(key)
        obj, form = callables[site.target]
        truth, message = bind_verdict(obj, call)
        row = rows.get((site.file, site.line, site.target.replace(":", ".")))
        said = audit_verdict(row, site.target in crashed)
        per_form[form][(truth, said)] += 1
        oracle_kind = "bad-arguments" if site.kind == "bad-arguments" else site.kind
        mine[form][(truth, oracle_kind if oracle_kind in ("call", "bad-arguments", "unknown") else "other")] += 1
        mine_said = oracle_kind if oracle_kind in ("call", "bad-arguments", "unknown") else "other"
        if (truth, mine_said) not in (("ok", "call"), ("error", "bad-arguments")) and truth != "unknown":
            ast_disagreements.append(
                f"{site.file}:{site.line} {site.target} [{form}] bind {truth} {message[:80]!r};"
                f" oracle {site.kind}: {site.reason[:120]}"
            )
        if (truth == "ok" and said != "call") or (truth == "error" and said != "bad-arguments"):
            disagreements.append({
                "where": f"{site.file}:{site.line}", "callable": site.target, "form": form,
                "code": ast.unparse(call)[:200], "bind": truth, "bind_error": message,
                "audit": said, "audit_detail": (row or {}).get("detail", ""), "oracle": site.kind,
                "oracle_reason": site.reason,
            })  # fmt: skip
    forms: dict[str, Any] = {}
    for form in FORMS:
        matrix = per_form.get(form, Counter())
        forms[form] = {
            "sites": sum(matrix.values()),
            "callables": sum(1 for _, f in callables.values() if f == form),
            "agreement": agreement(matrix),
            "bind_ok_audit_error": matrix[("ok", "bad-arguments")],
            "bind_error_audit_ok": matrix[("error", "call")],
            "bind_error_audit_missed": sum(n for (t, s), n in matrix.items() if t == "error" and s not in VERDICTS),
            "unknown_at_call": sum(n for (t, _), n in matrix.items() if t == "unknown"),
            "audit_no_verdict": sum(n for (t, s), n in matrix.items() if t != "unknown" and s not in VERDICTS),
            "matrix": {f"{t}/{s}": n for (t, s), n in sorted(matrix.items())},
            "ast_oracle_agreement": agreement(mine.get(form, Counter())),
            "ast_oracle_matrix": {f"{t}/{s}": n for (t, s), n in sorted(mine.get(form, Counter()).items())},
        }  # fmt: skip
        print(f"  {form:<10} {forms[form]['sites']:>6} sites, {forms[form]['callables']:>4} callables: agreement"
              f" {forms[form]['agreement']}, bind ok/audit error {forms[form]['bind_ok_audit_error']}, bind error/audit"
              f" ok {forms[form]['bind_error_audit_ok']}, bind error/audit no verdict"
              f" {forms[form]['bind_error_audit_missed']}, unknown at the call {forms[form]['unknown_at_call']};"
              f" AST oracle agreement {forms[form]['ast_oracle_agreement']}")  # fmt: skip
    result = {
        "python": sys.version.split()[0],
        "site_packages_files": oracle.files_scanned,
        "callables": len(callables),
        "sites": len(seen),
        "oracle_seconds": round(oracle_seconds, 2),
        "audit_seconds": round(audit_seconds, 2),
        "audit_batch": args.batch,
        "audit_failures": failures,
        "forms": forms,
        "disagreements": sorted(disagreements, key=lambda d: (d["form"], d["where"])),
        "ast_oracle_disagreements": sorted(ast_disagreements),
        "callable_paths": {k: f for k, (_, f) in callables.items()},
    }
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    emit_result({k: v for k, v in result.items() if "disagreements" not in k and k != "callable_paths"}, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
