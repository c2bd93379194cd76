"""`audit_calls` and `wskit ssot audit`: every import and call of a symbol, classified, on a fixture
package with known answers (each kind present and absent), on wskit itself and on websockets."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import websockets
from call_walker import calls

from wskit.ssot import AuditReport, SymbolSpec, audit_calls, load_config
from wskit.ssot.checks import callsites
from wskit.ssot.checks.config import ConfigError
from wskit.ssot.read.forked import workers
from wskit.ssot.render.audit_report import CALL_ERRORS, COLUMNS, KINDS
from wskit.ssot.resolve.aliases import find_aliases
from wskit.ssot.resolve.static import Definition, StaticResolver
from wskit.ssot.resolve.tree import SourceFile, SourceTree

FIXTURES = Path(__file__).parent / "fixtures" / "ssot"
AUDITPKG = FIXTURES / "auditpkg"
PROJECT = Path(__file__).parent.parent
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return audit_calls(AUDITPKG / "pyproject.toml", AUDITPKG)


def sites(report: AuditReport, file: str) -> list[tuple[int, str, str]]:
    return sorted((row.line, row.kind, row.via) for row in report.rows if row.file == f"auditpkg/{file}")


def test_every_kind_is_found_where_the_fixture_has_it(report: AuditReport) -> None:
    assert sites(report, "app/bad.py") == [
        (3, "import-deprecated", "old.get_manager"),
        (4, "import-alias", "app.make_manager"),
        (5, "import-private", "_ManagerImpl"),
        (7, "import-deprecated", "create_manager"),
        (7, "import-deprecated", "get_manager"),
        (8, "import-canonical", "Manager"),
        (8, "import-canonical", "open_manager"),
        (9, "import-canonical", "ManagerProtocol"),
        (13, "direct-instantiation", "Manager"),
        (17, "direct-instantiation", "_ManagerImpl"),
        (21, "bad-arguments", "get_manager"),
        (25, "bad-arguments", "old.get_manager"),
        (29, "bad-arguments", "create_manager"),
        (33, "await-sync", "get_manager"),
        (37, "missing-await", "open_manager"),
        (41, "missing-await", "open_manager"),
        (46, "isinstance-protocol", "ManagerProtocol"),
        (50, "unknown", "getattr(old, 'get_manager')"),
        (54, "unknown", "get_manager"),
        (59, "unknown", "factory"),
        (63, "call", "app.make_manager"),
    ]
    assert {row.scope for row in report.rows if row.file == "auditpkg/app/bad.py"} == {"product"}


def test_no_problem_is_reported_where_there_is_none(report: AuditReport) -> None:
    good = sites(report, "app/good.py")
    assert {kind for _, kind, _ in good} == {"import-canonical", "call"}
    assert [line for line, kind, _ in good if kind == "call"] == [11, 16, 20, 25]  # awaited, scheduled, awaited later


def test_rows_say_what_is_wrong_and_what_to_call(report: AuditReport) -> None:
    by_line = {row.line: row for row in report.rows if row.file == "auditpkg/app/bad.py"}
    assert by_line[21].detail == (
        "unexpected keyword user_id= (get_manager raises on keywords it does not take); missing user_context:"
        " it takes get_manager(user_context, *, registry=..., **unexpected)"
    )
    assert by_line[21].code == 'return get_manager(user_id="u1")'
    assert by_line[29].detail.startswith("unexpected keyword user_id= (get_manager raises")  # forwarded by **kwargs
    assert "create it with auditpkg.manager:get_manager" in by_line[13].detail
    assert by_line[13].target == "auditpkg._impl._ManagerImpl"
    assert (
        by_line[59].detail
        == "factory is bound at run time (line 58: factory = get_manager if flag else create_manager)"
    )
    assert "looked up with getattr at run time" in by_line[50].detail
    assert by_line[54].detail.startswith("arguments from **kwargs are only known at run time")


def test_test_code_is_told_apart(report: AuditReport) -> None:
    assert sites(report, "tests/check_calls.py") == [
        (4, "import-canonical", "get_manager"),
        (9, "bad-arguments", "get_manager"),
        (13, "call", "get_manager"),
    ]
    assert {row.scope for row in report.rows if "/tests/" in row.file} == {"test"}


def test_counts_and_renderings_are_complete_and_stable(report: AuditReport) -> None:
    assert list(report.counts) == list(KINDS) and sum(report.counts.values()) == len(report.rows)
    assert report.counts["bad-arguments"] == 4 and report.counts["await-sync"] == 1
    assert len(report.failing()) == sum(report.counts[k] for k in CALL_ERRORS) == 10
    assert list(report.frame.columns) == list(COLUMNS) and len(report.frame) == len(report.rows)
    again = audit_calls(AUDITPKG / "pyproject.toml", AUDITPKG)
    assert json.dumps(again.to_json()) == json.dumps(report.to_json())
    summary = report.summary()
    assert "❌ CALL ERRORS: 10 (7 raise at run time in product code)" in summary
    assert "auditpkg/app/bad.py:21 bad-arguments RAISES [product]" in summary
    assert report.to_markdown().count("\n| auditpkg/") == len(report.rows)
    assert "<table" in report._repr_html_()


def test_symbols_can_be_given_directly() -> None:
    spec = SymbolSpec(
        name="factory only",
        canonical="auditpkg.manager:get_manager",
        paths=("auditpkg.manager:get_manager",),
    )
    report = audit_calls([spec], AUDITPKG / "app", search_path=[FIXTURES])
    # create_manager is another function, not part of this symbol: its bad call is not counted.
    assert report.counts["bad-arguments"] == 2 and report.counts["direct-instantiation"] == 0
    assert report.symbols == ("factory only",)


def test_wskit_audits_itself() -> None:
    source = PROJECT / "tests" / "test_manager.py"
    report = audit_calls(PROJECT / "pyproject.toml", source)
    lines = source.read_text().splitlines()

    def line_of(code: str) -> int:
        (number,) = [n for n, line in enumerate(lines, 1) if line.strip() == code]
        return number

    wrong = [(row.line, row.kind, row.via) for row in report.failing()]
    assert wrong == [  # the two misuses test_manager.py makes on purpose, and nothing else
        (line_of("WebSocketManager(*args, **kwargs)"), "direct-instantiation", "WebSocketManager"),
        (line_of('create_websocket_manager(user_id="alice")'), "bad-arguments", "create_websocket_manager"),
    ]


def test_a_real_package_websockets() -> None:
    spec = SymbolSpec(
        name="websockets connect",
        canonical="websockets.asyncio.client:connect",
        paths=("websockets.asyncio.client:connect",),
        deprecated=("websockets.legacy.client:connect",),
    )
    report = audit_calls(spec, Path(websockets.__file__).parent)
    # Checked by hand against the source: the docstring examples are not code, the sync and trio
    # `connect` are other objects, and `__init__` imports it for type checkers only. `connect` is a
    # class: its three calls pass **kwargs on, so only run time knows whether they fit its __init__;
    # `unix_connect` returns connect(...), so it is a factory of the symbol, imported by `__init__`.
    assert [(row.file, row.kind, row.via) for row in report.rows] == [
        ("websockets/__init__.py", "import-canonical", "connect"),
        ("websockets/__init__.py", "import-alias", "unix_connect"),
        ("websockets/asyncio/client.py", "unknown", "connect"),
        ("websockets/cli.py", "import-canonical", "connect"),
        ("websockets/cli.py", "unknown", "connect"),
        ("websockets/legacy/client.py", "unknown", "connect"),
    ]
    assert all("connect(" in row.code or "import" in row.code for row in report.rows)
    assert report.findings == ()


def wskit(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WSKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def test_audit_command_exit_codes_and_json() -> None:
    failing = wskit("ssot", "audit", ".", "--format", "json", cwd=AUDITPKG)
    assert failing.returncode == 1, failing.stderr
    assert json.loads(failing.stdout)["counts"]["missing-await"] == 2
    clean = wskit("ssot", "audit", "app/good.py", cwd=AUDITPKG)
    assert clean.returncode == 0 and "✅ CALL ERRORS: 0" in clean.stdout
    strict = wskit("ssot", "audit", "app/good.py", "--fail-on", "call-errors,import-canonical", cwd=AUDITPKG)
    assert strict.returncode == 1
    relaxed = wskit("ssot", "audit", ".", "--fail-on", "none", "--format", "markdown", cwd=AUDITPKG)
    assert relaxed.returncode == 0 and relaxed.stdout.startswith("### Call-site audit of manager: 10 call error(s)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "bogus"], "--fail-on: unknown kind 'bogus'"),
        (["--config", "missing.toml"], "cannot read missing.toml"),
    ],
)
def test_audit_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = wskit("ssot", "audit", ".", *args, cwd=AUDITPKG)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("deprecated = 'a:B'", "symbols[0].deprecated must be a list of strings"),
        ("deprecated = ['a.B']", "symbols[0].deprecated: cannot parse import path 'a.B'"),
        ("preferred = 3", "symbols[0].preferred must be a string 'pkg.module:Name'; got 3"),
        ("preferred = 'a:B'\ndeprecated = ['a:B']", "symbols[0].preferred 'a:B' is also listed in"),
    ],
)
def test_new_keys_are_validated(tmp_path: Path, lines: str, message: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[[tool.wskit.ssot.symbols]]\nname = 'a'\ncanonical = 'a:B'\npaths = ['a:B']\n{lines}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(pyproject)
    result = wskit("ssot", "audit", ".", "--config", str(pyproject), cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


def test_preferred_defaults_to_the_first_path() -> None:
    (symbol,) = load_config(AUDITPKG / "pyproject.toml").symbols
    assert symbol.preferred_path == "auditpkg.manager:get_manager"
    assert symbol.deprecated[0] == "auditpkg.legacy:get_manager"
    assert SymbolSpec("x", "a:B", ("a:C", "a:D")).preferred_path == "a:C"


def test_local_names_follow_python_scoping(tmp_path: Path) -> None:
    (tmp_path / "scoping.py").write_text(
        "from auditpkg.context import UserContext\n"
        "from auditpkg.manager import get_manager\n"
        "\n"
        "\n"
        "def shadowed(get_manager):\n"
        "    return get_manager(user_id='x')  # a parameter, not the factory\n"
        "\n"
        "\n"
        "def walrus():\n"
        "    if (make := get_manager) is not None:\n"
        "        return make(user_id='x')\n"
        "\n"
        "\n"
        "def default(make=get_manager):\n"
        "    return make(UserContext('x'))\n"
        "\n"
        "\n"
        "def outer():\n"
        "    alias = get_manager\n"
        "\n"
        "    def inner():\n"
        "        return alias(UserContext('x'), 'extra')\n"
        "\n"
        "    return inner\n"
    )
    report = audit_calls(AUDITPKG / "pyproject.toml", tmp_path, search_path=[FIXTURES])
    assert sorted((row.line, row.kind, row.via) for row in report.rows) == [
        (2, "import-canonical", "get_manager"),
        (11, "bad-arguments", "make"),
        (15, "unknown", "make"),
        (22, "bad-arguments", "alias"),
    ]
    (unknown,) = [row for row in report.rows if row.kind == "unknown"]
    assert unknown.detail == "make is a parameter (default get_manager): callers decide at run time"


BACKEND = FIXTURES / "backend"


@pytest.fixture(scope="module")
def backend() -> AuditReport:
    return audit_calls(BACKEND / "pyproject.toml", BACKEND)


def test_the_shapes_of_a_real_back_end_are_found(backend: AuditReport) -> None:
    """Each form the audit of a real 4,000-file back end missed, in a small fixture of its own."""
    found = {(row.file.removeprefix("backend/"), row.line): (row.kind, row.raises) for row in backend.rows}
    expected = {
        ("app/routes/handlers.py", 12): ("direct-instantiation", True),  # guard: no token, under try/except
        ("app/routes/handlers.py", 19): ("await-sync", True),  # the package __init__'s sync wrapper, awaited
        ("app/routes/handlers.py", 24): ("bad-arguments", True),  # Manager(redis=client)
        ("app/routes/handlers.py", 28): ("bad-arguments", True),  # a dataclass field misspelt
        ("app/routes/handlers.py", 32): ("missing-await", False),  # the coroutine in a returned dict
        ("app/routes/handlers.py", 40): ("missing-await", False),  # passed to a function that never awaits it
        ("app/routes/handlers.py", 44): ("missing-await", False),  # a list comprehension never awaited
        ("app/routes/handlers.py", 49): ("call", False),  # gather(*[...]): scheduled
        ("app/routes/handlers.py", 54): ("missing-await", False),  # self.manager = ..., used in another method
        ("app/routes/handlers.py", 61): ("missing-await", False),  # the async wrapper of a deprecated module
        ("app/routes/handlers.py", 66): ("call", False),
        ("tests/test_manager.py", 15): ("direct-instantiation", True),  # after Manager._instance = None
        ("tests/test_manager.py", 19): ("await-sync", True),  # imported under try/except ImportError
        ("tests/test_manager.py", 28): ("await-sync", True),  # the same in a function, with a fallback
    }
    assert {key: found.get(key) for key in expected} == expected
    by_line = {row.line: row.detail for row in backend.rows if row.file.endswith("test_manager.py")}
    assert by_line[19].endswith(
        "; assumes tests.test_manager:create_websocket_manager is taken from the try at line 1 of tests.test_manager,"
        " not from its except branch (line 4: create_websocket_manager = None)"
    )
    assert by_line[28].endswith("; assumes make is the import in the try, not the except branch's fallback (line 27)")


def test_what_raises_in_product_code_comes_first_and_says_why(backend: AuditReport) -> None:
    raising = [row for row in backend.rows if row.raises_in_product]
    assert backend.rows[: len(raising)] == tuple(raising) and len(raising) == 4
    guarded = next(row for row in backend.rows if row.line == 12 and row.file.endswith("handlers.py"))
    assert guarded.detail.startswith(
        "_UnifiedWebSocketManagerImplementation(...) without _ssot_authorization_token: it raises"
        " FactoryBypassDetected when _ssot_authorization_token is missing (app/ws/unified_manager.py:21,"
        " unless is_test_context); create it with app.ws.unified_manager:get_websocket_manager; the try at line 11"
        " swallows it (except Exception: manager = None)"
    )
    summary = backend.summary()
    assert "CALL ERRORS: 12 (4 raise at run time in product code)" in summary
    assert summary.index("handlers.py:12 direct-instantiation RAISES") < summary.index("handlers.py:32 missing-await")
    assert [row["where"] for row in backend.to_json()["rows"][:4]] == [row.where for row in raising]


def test_a_wrapper_is_audited_as_the_factory_it_wraps(backend: AuditReport) -> None:
    awaited = next(row for row in backend.rows if row.line == 19 and row.file.endswith("handlers.py"))
    assert awaited.target == "app.ws.create_websocket_manager" and awaited.symbol == "WebSocket manager"
    assert "create_websocket_manager is a factory: it returns WebSocketManager(" in awaited.detail
    stored = next(row for row in backend.rows if row.line == 54)
    assert stored.detail == (
        "the coroutine is stored on self.manager and used as the object at line 57 (self.manager.send) without"
        " await: await it where it is stored"
    )


def test_a_declared_factory_only_class_flags_constructions_outside_its_factories(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(
        "class Service:\n    def __init__(self, name=None):\n        self.name = name\n\n\n"
        "def make_service(name):\n    return Service(name)\n\n\n"
        "def build_pool():\n    return [Service('a'), Service('b')]\n\n\n"
        "def elsewhere():\n    service = Service('x')\n    return service.name\n"
    )
    spec = SymbolSpec("service", "svc:Service", ("svc:Service", "svc:make_service"), factory_only=True,
                      factories=("svc:build_pool",))  # fmt: skip
    rows = audit_calls(spec, tmp_path).rows
    assert sorted((row.line, row.kind, row.raises) for row in rows if row.via == "Service") == [
        (7, "call", False),  # inside the factory
        (11, "call", False),  # inside a declared factory
        (11, "call", False),
        (15, "direct-instantiation", False),  # not a factory (it returns no Service): a finding, not a raise
    ]


CALL_KINDS = {"call", "unknown", *CALL_ERRORS}


def assert_every_call_has_one_row(report: AuditReport, root: Path, base: Path, targets: set[str]) -> int:
    """The completeness invariant, against `call_walker` (an independent AST pass)."""
    resolver = StaticResolver([base])
    rows = Counter((row.file, row.line, row.column) for row in report.rows if row.kind in CALL_KINDS)
    walked = 0
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(base).as_posix()
        for line, column, callee in calls(file, base, resolver, targets):
            walked += 1
            count = rows[(relative, line, column)]
            assert count == 1, f"{relative}:{line}:{column} {callee}: {count} rows"
    return walked


def test_every_call_of_a_symbol_has_exactly_one_row_in_the_back_end_fixture(backend: AuditReport) -> None:
    catalog_targets = {
        "app.ws.unified_manager._UnifiedWebSocketManagerImplementation",
        "app.ws.unified_manager.get_websocket_manager",
        "app.ws.unified_manager.get_websocket_manager_async",
        "app.ws.unified_manager.ManagerConfig",
        "app.ws.create_websocket_manager",
        "app.ws.factory_compat.create_websocket_manager",
    }
    assert assert_every_call_has_one_row(backend, BACKEND, BACKEND, catalog_targets) >= 15


INSTALLED = [
    ("starlette", ["responses:Response", "responses:JSONResponse", "routing:Route", "requests:Request",
                   "datastructures:Headers", "datastructures:URL"]),
    ("httpx", ["_models:Request", "_models:Response", "_urls:URL", "_models:Headers"]),
    ("nbformat", ["notebooknode:NotebookNode", "notebooknode:from_dict"]),
]  # fmt: skip


def installed(package: str, paths: list[str]) -> tuple[Path, list[SymbolSpec]]:
    """An installed package's directory, and each of `paths` in it as a symbol of its own."""
    root = Path(importlib.util.find_spec(package).origin).parent  # type: ignore[union-attr, arg-type]
    return root, [SymbolSpec(path, f"{package}.{path}", (f"{package}.{path}",)) for path in paths]


@pytest.mark.parametrize(("package", "paths"), INSTALLED)
def test_every_call_of_a_symbol_has_exactly_one_row_in_installed_code(package: str, paths: list[str]) -> None:
    """Real code: each path a symbol of its own, the whole installed package audited."""
    root, specs = installed(package, paths)
    report = audit_calls(specs, root)
    targets = {f"{package}.{path}".replace(":", ".") for path in paths}
    assert assert_every_call_has_one_row(report, root, root.parent, targets) >= 15


MODULE_REACHED = (
    '"""Uses of the manager module that name no symbol: the factory is reached through the module."""\n'
    "\n"
    "from auditpkg.context import UserContext\n"
    "\n"
    "\n"
    "class Service:\n"
    "    def start(self, name):\n"
    "        from auditpkg import manager\n"
    "        return getattr(manager, name)(UserContext('x'))\n"
    "\n"
    "    def start_listed(self, name):\n"
    "        from auditpkg import (\n"
    "            context,\n"
    "            manager,  # the module\n"
    "        )\n"
    "        return getattr(manager, name)(context.UserContext('x'))\n"
    "\n"
    "    def start_dotted(self, name):\n"
    "        import auditpkg.manager\n"
    "        return getattr(auditpkg.manager, name)(UserContext('x'))\n"
    "\n"
    "    def start_one_line(self, name):\n"
    "        try: from auditpkg import manager as handle\n"
    "        except ImportError: return None\n"
    "        return getattr(handle, name)(UserContext('x'))\n"
    "\n"
    "    def manager(self):\n"
    '        """The manager of this service: prose, and a method and an attribute named like the module."""\n'
    "        self.manager = None\n"
    "        return self.get_manager(UserContext('x'))\n"
    "\n"
    "    def get_manager(self, context):\n"
    "        return self.manager\n"
) + "".join(
    f"\n    def other_{i}(self):\n        # More of the service: the class is long, read member by member.\n"
    f"        return {i}\n"
    for i in range(14)
)


def test_a_module_reached_without_a_symbol_s_name_keeps_its_rows_and_other_uses_of_its_name_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`manager` names the module `auditpkg.manager` only in an import or after a dot: elsewhere it is
    prose, a method, `self.manager`; `self.get_manager` is not the factory either."""
    (tmp_path / "uses.py").write_text(MODULE_REACHED)
    report = audit_calls(AUDITPKG / "pyproject.toml", tmp_path, search_path=[FIXTURES])
    detail = "an attribute of auditpkg.manager named at run time (name) may be a symbol"
    assert [(row.line, row.kind, row.detail) for row in report.rows] == [
        (9, "unknown", detail), (16, "unknown", detail), (20, "unknown", detail), (25, "unknown", detail)
    ]  # fmt: skip
    kept: list[int] = []
    references = callsites._references

    def recorded(file: SourceFile, where: dict[str, set[int]], module_words: set[str]) -> dict[str, set[int]]:
        found = references(file, where, module_words)
        kept.extend(file.data.count(b"\n", 0, offset) + 1 for offset in found.get("manager", ()))
        return found

    monkeypatch.setattr(callsites, "_references", recorded)
    assert audit_calls(AUDITPKG / "pyproject.toml", tmp_path, search_path=[FIXTURES]).rows == report.rows
    assert sorted(set(kept)) == [8, 14, 19, 20, 23]  # the imports, and `auditpkg.manager`
    # Every occurrence read, the rows are the same: what is left out holds no reference.
    monkeypatch.setattr(callsites, "_references", lambda file, where, module_words: where)
    assert audit_calls(AUDITPKG / "pyproject.toml", tmp_path, search_path=[FIXTURES]).rows == report.rows


# redis-py: module names that are common words (`client`, `connection`), and renamed imports.
REDIS = ("redis", ["client:Redis", "client:Pipeline", "asyncio.client:Redis", "cluster:RedisCluster",
                   "connection:SSLConnection", "asyncio.connection:SSLConnection"])  # fmt: skip


@pytest.mark.parametrize(("package", "paths"), [REDIS, INSTALLED[0]])
def test_occurrences_left_out_change_no_row_of_installed_code(
    package: str, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real code, where the modules' last names (`client`, `connection`, `responses`) are common words."""
    root, specs = installed(package, paths)
    report = audit_calls(specs, root)
    dropped: list[int] = []
    references = callsites._references

    def counted(file: SourceFile, where: dict[str, set[int]], module_words: set[str]) -> dict[str, set[int]]:
        found = references(file, where, module_words)
        dropped.append(sum(map(len, where.values())) - sum(map(len, found.values())))
        return found

    monkeypatch.setattr(callsites, "_references", counted)
    assert audit_calls(specs, root) == report
    assert sum(dropped) >= 10  # the rule was exercised (redis: 3,124 occurrences; starlette: 12)
    monkeypatch.setattr(callsites, "_references", lambda file, where, module_words: where)
    assert audit_calls(specs, root) == report


@pytest.mark.parametrize(("package", "paths", "renamed"), [(*REDIS, 7), (*INSTALLED[0], 0)])
def test_aliases_for_names_only_are_the_same_names_with_fewer_resolutions(
    package: str, paths: list[str], renamed: int
) -> None:
    root, _ = installed(package, paths)
    targets = {f"{package}.{path}".replace(":", ".") for path in paths}
    names = {path.rpartition(":")[2] for path in paths}

    def target_of(definition: Definition | None) -> str | None:
        return definition.identity if definition is not None and definition.identity in targets else None

    every = find_aliases(SourceTree(root), names, target_of)
    only = find_aliases(SourceTree(root), names, target_of, names_only=True)
    assert only.names == every.names and len(every.names - names) == renamed  # AsyncRedis, SyncRedis...
    assert set(only.paths) < set(every.paths)


def test_awaiting_a_plain_function_that_returns_an_awaitable_object_is_fine(tmp_path: Path) -> None:
    """A fix commit in a real back end removed `await create_redis()` although it worked: redis-py's
    asyncio client defines `__await__`. Awaiting such a result is not a TypeError."""
    (tmp_path / "cache.py").write_text(
        "class Client:\n    def __await__(self):\n        return iter(())\n\n\n"
        "class Plain:\n    pass\n\n\n"
        "def create_client() -> Client:\n    return Client()\n\n\n"
        "def create_plain():\n    return Plain()\n\n\n"
        "async def use():\n    a = await create_client()\n    b = await create_plain()\n    return a, b\n"
    )
    specs = [
        SymbolSpec("client", "cache:Client", ("cache:create_client",)),
        SymbolSpec("plain", "cache:Plain", ("cache:Plain",)),
    ]
    rows = {(row.line, row.via): row.kind for row in audit_calls(specs, tmp_path).rows}
    assert rows[(19, "create_client")] == "call"
    assert rows[(20, "create_plain")] == "await-sync"  # found as a factory by what it returns


def test_a_coroutine_held_in_a_local_and_handed_on_by_an_async_function_is_not_awaited(tmp_path: Path) -> None:
    """A real back end's async pytest fixture did `handler = get_handler()` (an async factory) and
    `yield handler`: the test received a coroutine. Returned or yielded by a plain function, the
    coroutine reaches a caller that awaits it; by an async function, it does not."""
    (tmp_path / "handlers.py").write_text(
        "class Handler:\n    pass\n\n\n"
        "async def get_handler() -> Handler:\n    return Handler()\n\n\n"
        "async def fixture():\n    handler = get_handler()\n    yield handler\n\n\n"
        "async def returned():\n    handler = get_handler()\n    return handler\n\n\n"
        "def plain():\n    handler = get_handler()\n    return handler\n\n\n"
        "async def awaited():\n    handler = get_handler()\n    return await handler\n"
    )
    specs = [SymbolSpec("handler", "handlers:Handler", ("handlers:get_handler",))]
    rows = {row.line: row for row in audit_calls(specs, tmp_path).rows if row.via == "get_handler"}
    assert {line: row.kind for line, row in rows.items()} == {
        10: "missing-await",
        15: "missing-await",
        20: "call",
        25: "call",
    }
    assert "yielded at line 11 by the async function fixture" in rows[10].detail


def test_a_guard_counts_only_when_leaving_the_parameter_out_trips_it(tmp_path: Path) -> None:
    """tornado's `Queue.__init__(self, maxsize=0)` raises when `maxsize is None`: `Queue()` is fine
    (the signature oracle on installed code caught 25 such sites called factory-only)."""
    (tmp_path / "q.py").write_text(
        "_SENTINEL = object()\n\n\n"
        "class Queue:\n    def __init__(self, maxsize: int = 0) -> None:\n"
        "        if maxsize is None:\n            raise TypeError('maxsize')\n\n\n"
        "class Named:\n    def __init__(self, name: str = '') -> None:\n"
        "        if not name:\n            raise ValueError('name')\n\n\n"
        "class Guarded:\n    def __init__(self, *, _token=None) -> None:\n"
        "        if _token is None:\n            raise RuntimeError('use the factory')\n\n\n"
        "class Sentinel:\n    def __init__(self, token=_SENTINEL) -> None:\n"
        "        if token is None:\n            raise RuntimeError('token')\n\n\n"
        "def use():\n    return Queue(), Named(), Guarded(), Sentinel(), Queue(None), Named('n')\n"
    )
    names = ("Queue", "Named", "Guarded", "Sentinel")
    specs = [SymbolSpec(name, f"q:{name}", (f"q:{name}",)) for name in names]
    rows = [(row.via, row.kind) for row in audit_calls(specs, tmp_path).rows if row.line == 29]
    assert rows == [
        ("Guarded", "direct-instantiation"), ("Named", "direct-instantiation"),
        ("Named", "call"), ("Queue", "call"), ("Queue", "call"), ("Sentinel", "call"),
    ]  # fmt: skip


def test_constructors_behind_module_aliases_and_builtin_exception_bases_are_read(tmp_path: Path) -> None:
    """Shapes the signature oracle found called `unknown` in installed code: `@dc.dataclass` after
    `import dataclasses as dc` (markdown_it, pydantic), and an exception whose mixin base defines
    `__init__` before the builtin base (pydantic's errors); a builtin exception takes positional
    arguments only; a `str` subclass stays unknown."""
    (tmp_path / "e.py").write_text(
        "import dataclasses as dc\n\n\n"
        "class Mixin:\n    def __init__(self, message, *, code):\n        self.code = code\n\n\n"
        "class UserError(Mixin, TypeError):\n    pass\n\n\n"
        "class Plain(RuntimeError):\n    pass\n\n\n"
        "class Text(str):\n    pass\n\n\n"
        "@dc.dataclass(slots=True)\nclass Token:\n    type: str\n    tag: str = ''\n\n\n"
        "def use():\n    return (UserError('m', code='c'), UserError('m'), Plain('a', 'b'), Plain(x=1), Text('a'),\n"
        "            Token(type='t'), Token(kind='k'))\n"
    )
    specs = [SymbolSpec(name, f"e:{name}", (f"e:{name}",)) for name in ("UserError", "Plain", "Text", "Token")]
    rows = sorted((row.via, row.kind, row.detail) for row in audit_calls(specs, tmp_path).rows if row.line in (28, 29))
    assert [(via, kind) for via, kind, _ in rows] == [
        ("Plain", "bad-arguments"), ("Plain", "call"), ("Text", "unknown"), ("Token", "bad-arguments"),
        ("Token", "call"), ("UserError", "bad-arguments"), ("UserError", "call"),
    ]  # fmt: skip
    details = [detail for _, kind, detail in rows if kind != "call"]
    assert details[0].startswith("unexpected keyword x=: it takes Plain(*args)")
    assert details[1].endswith("Text's base str is a builtin class")
    assert details[2].startswith("unexpected keyword kind=; missing type: it takes Token(type, tag=...)")
    assert details[3].startswith("missing code: it takes UserError(message, *, code)")


def test_calls_bound_by_a_try_with_a_fallback_or_in_a_main_block_have_their_row(tmp_path: Path) -> None:
    """ipykernel binds `now` by `from jupyter_client.session import utcnow as now` under `try:` with
    `now = datetime.now` in the `except`; rich imports `print` inside `if __name__ == "__main__":`
    and calls it there. The oracle bound both; the audit gave those calls no row."""
    (tmp_path / "lib.py").write_text("def utcnow():\n    return 1\n\n\ndef show(*args):\n    return args\n")
    (tmp_path / "app.py").write_text(
        "import datetime\n\ntry:\n    from lib import utcnow as now\nexcept ImportError:\n"
        "    now = datetime.datetime.now\n\n\ndef started():\n    return {'started': now()}\n\n\n"
        "if __name__ == '__main__':\n    from lib import show\n\n    show(started())\n"
    )
    specs = [SymbolSpec(name, f"lib:{name}", (f"lib:{name}",)) for name in ("utcnow", "show")]
    rows = {(row.line, row.kind): row.detail for row in audit_calls(specs, tmp_path).rows if row.file == "app.py"}
    assert sorted(rows) == [(4, "import-canonical"), (10, "call"), (14, "import-canonical"), (16, "call")]
    assert rows[(10, "call")].startswith("assumes app:now is taken from the try at line 3")


def test_a_plain_factory_handed_to_an_asyncio_scheduler_raises(tmp_path: Path) -> None:
    """A real compatibility wrapper did `loop.run_until_complete(get_websocket_manager(ctx))` with a
    plain `def get_websocket_manager`: run_until_complete raises on a manager (under a bare except)."""
    (tmp_path / "m.py").write_text(
        "import asyncio\n\n\nclass Manager:\n    pass\n\n\n"
        "def get_manager(ctx=None) -> Manager:\n    return Manager()\n\n\n"
        "def compat(ctx):\n    loop = asyncio.get_event_loop()\n"
        "    return loop.run_until_complete(get_manager(ctx))\n\n\n"
        "def fine(runner):\n    return runner.run(get_manager())\n"
    )
    specs = [SymbolSpec("manager", "m:Manager", ("m:get_manager",))]
    rows = {row.line: row for row in audit_calls(specs, tmp_path).rows if row.via == "get_manager"}
    assert {line: row.kind for line, row in rows.items()} == {14: "await-sync", 18: "call"}
    assert "run_until_complete() takes a coroutine or an awaitable" in rows[14].detail


def test_a_failure_on_one_file_is_named_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the analyzer fails on one file; that file is skipped with the reason and
    every other file is still audited (the CLI prints the skipped file, it does not crash)."""
    import wskit.ssot.checks.audit as audit_module

    real = audit_module.audit_file

    def failing(tree: object, file: object, catalog: object, held: object) -> object:
        if str(getattr(file, "relative", "")).endswith("app/bad.py"):
            raise AssertionError("an internal invariant broke")
        return real(tree, file, catalog, held)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_module, "audit_file", failing)
    report = audit_calls(AUDITPKG / "pyproject.toml", AUDITPKG)
    assert report.skipped == (
        (
            "auditpkg/app/bad.py",
            "could not be analyzed (AssertionError: an internal invariant broke at test_ssot_audit.py:"
            f"{failing.__code__.co_firstlineno + 2}): an analyzer error, please report it",
        ),
    )
    assert not [row for row in report.rows if row.file == "auditpkg/app/bad.py"]
    assert [row.line for row in report.rows if row.file == "auditpkg/tests/check_calls.py"] == [4, 9, 13]
    assert "! skipped auditpkg/app/bad.py: could not be analyzed" in report.summary()


def test_a_classmethod_that_returns_the_class_is_a_factory_and_a_missing_optional_module_is_skipped(
    tmp_path: Path,
) -> None:
    """letta's fix e93a0e80 added the await to `LettuceClient.create()`: an async classmethod factory,
    imported from a package whose try imports a module the public tree lacks (its except imports
    the base class, which is what runs)."""
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text(
        "try:\n    from .private_client import Client\nexcept ImportError:\n    from .client_base import Client\n"
    )
    (package / "client_base.py").write_text(
        "class Client:\n    @classmethod\n    async def create(cls) -> 'Client':\n        return cls()\n\n"
        "    @staticmethod\n    def default(name):\n        return Client()\n\n    def step(self):\n        return 1\n"
    )
    (tmp_path / "routes.py").write_text(
        "from svc import Client\n\n\n"
        "async def good():\n    client = await Client.create()\n    return client.step()\n\n\n"
        "async def bad():\n    client = Client.create()\n    return client.step()\n\n\n"
        "async def worse():\n    return await Client.default('x')\n"
    )
    spec = SymbolSpec("client", "svc.client_base:Client", ("svc.client_base:Client",))
    rows = {row.line: row for row in audit_calls(spec, tmp_path).rows if row.file == "routes.py"}
    assert (rows[5].kind, rows[10].kind, rows[15].kind) == ("call", "missing-await", "await-sync")
    assert rows[10].target == "svc.client_base.Client.create"
    assert rows[10].detail.endswith(
        "assumes svc:Client is taken from the except branch at line 4 of svc: the try's"
        " from svc.private_client import Client (line 2) finds no such module"
    )


def test_a_coroutine_in_a_long_class_is_followed_through_members_that_do_not_name_the_factory(tmp_path: Path) -> None:
    """A long class is read member by member (only those that name a symbol); a coroutine stored
    on `self`, or in a module-level name, is still followed into the members left unread."""
    padding = "".join(f"\n    def filler_{n}(self):\n        return {n} + {n} + {n} + {n}\n" for n in range(80))
    text = (
        "class Handler:\n    def send(self):\n        pass\n\n\n"
        "async def get_handler() -> Handler:\n    return Handler()\n\n\n"
        "shared = get_handler()\n\n\n"
        f"class Long:{padding}\n"
        "    def __init__(self):\n        self.handler = get_handler()\n\n"
        "    def use(self):\n        self.handler.send()\n        shared.send()\n"
    )
    (tmp_path / "svc.py").write_text(text)
    lines = [line.strip() for line in text.splitlines()]
    stored, used = lines.index("self.handler = get_handler()") + 1, lines.index("self.handler.send()") + 1
    assert len(text) > 4096 and used - stored > 2
    specs = [SymbolSpec("handler", "svc:Handler", ("svc:get_handler",))]
    rows = {row.line: row for row in audit_calls(specs, tmp_path).rows if row.via == "get_handler"}
    assert rows[10].detail == (
        f"the coroutine is assigned to shared, used as the object at line {used + 1} (shared.send) without await:"
        " add await"
    )
    assert rows[stored].detail == (
        f"the coroutine is stored on self.handler and used as the object at line {used} (self.handler.send) without"
        " await: await it where it is stored"
    )


PADDING = "".join(f"\n    def filler_{n}(self):\n        return {n} + {n} + {n} + {n}\n" for n in range(80))


def rows_of(tmp_path: Path, files: dict[str, str], spec: SymbolSpec) -> list[tuple[str, int, str, str]]:
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode())
    return [(row.file, row.line, row.kind, row.via) for row in audit_calls(spec, tmp_path).rows]


def test_a_builtin_rebound_in_a_class_body_counts_there_and_not_in_its_methods(tmp_path: Path) -> None:
    """A class-level `getattr = ...` shadows the builtin for the class body only (also when the
    rebinding sits in a member of a long class that names no symbol, and is not read)."""
    use = (
        f"import svc\n\n\nclass Long:\n    getattr = staticmethod(lambda o, n: None)\n{PADDING}\n"
        '    h = getattr(svc, "Handler")\n\n    def m(self):\n        return getattr(svc, "Handler")\n'
    )
    files = {"svc.py": "class Handler:\n    pass\n", "use.py": use}
    rows = rows_of(tmp_path, files, SymbolSpec("h", "svc:Handler", ("svc:Handler",)))
    method = use.splitlines().index('        return getattr(svc, "Handler")') + 1
    assert [row for row in rows if row[0] == "use.py"] == [("use.py", method, "unknown", "getattr(svc, 'Handler')")]


def test_a_form_feed_or_a_byte_order_mark_does_not_hide_a_statement(tmp_path: Path) -> None:
    """A line that starts with a form feed is not split at: the chunk before it holds what follows
    (here a function after a long class, and a factory after an import); a BOM starts the file."""
    factory = "def make():\n    return Handler()\n\n\nclass Handler:\n    pass\n"
    for prefix in ("\ufeff", "import os\n\f"):
        rows = rows_of(tmp_path, {"svc.py": prefix + factory, "use.py": "from svc import make\n\n\nmake()\n"},
                       SymbolSpec("h", "svc:Handler", ("svc:Handler",)))  # fmt: skip
        assert ("use.py", 4, "call", "make") in rows, (prefix, rows)  # found as a factory by what it returns
    svc = "class Handler:\n    pass\n\n\nasync def get_handler() -> Handler:\n    return Handler()\n"
    use = f"from svc import get_handler\n\n\nclass Long:{PADDING}\n"
    use += "\fasync def use():\n    h = get_handler()\n    await h\n"
    rows = rows_of(tmp_path, {"svc.py": svc, "use.py": use}, SymbolSpec("h", "svc:Handler", ("svc:get_handler",)))
    assert ("use.py", use.split("\n").index("    h = get_handler()") + 1, "call", "get_handler") in rows


def test_a_tree_walked_by_forked_workers_gets_the_rows_of_a_walk_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large trees are walked by forked workers (`wskit.ssot.read.forked`): the same rows, in order."""
    package = tmp_path / "auditpkg"
    shutil.copytree(AUDITPKG, package)
    copies = package / "app" / "copies"
    copies.mkdir()
    (copies / "__init__.py").write_text("")
    bad, good = (AUDITPKG / "app" / "bad.py").read_text(), (AUDITPKG / "app" / "good.py").read_text()
    for index in range(600):
        (copies / f"bad_{index}.py").write_text(bad)
        (copies / f"good_{index}.py").write_text(good)
    # Read before the walk (its module-level names, when aliases are searched), then skipped by it:
    # the function that mentions the module does not parse. Not counted as read, either way.
    broken = "from auditpkg import manager\nfrom auditpkg.manager import Manager\n\nALIAS = Manager\n\n\n"
    (package / "app" / "broken.py").write_text(broken + "def use():\n    return manager.thing)\n")
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "2")
    assert workers(1215) == (2 if (os.cpu_count() or 1) > 1 else 1)
    forked = audit_calls(package / "pyproject.toml", package)
    monkeypatch.setenv("WSKIT_SSOT_WORKERS", "1")
    assert workers(1215) == 1
    in_order = audit_calls(package / "pyproject.toml", package)
    assert forked.files_parsed == in_order.files_parsed >= 1200
    assert [path for path, _ in forked.skipped] == [path for path, _ in in_order.skipped] == ["auditpkg/app/broken.py"]
    assert forked.rows == in_order.rows and forked.to_json() == in_order.to_json()
    assert forked.counts["await-sync"] == in_order.counts["await-sync"] > 600


def test_calls_through_names_that_hold_no_symbol_name_get_their_rows(tmp_path: Path) -> None:
    """Only a call whose callee's text holds a symbol's name, a module holding one, or a name bound
    to either is resolved (`json.dumps(x)` beside a symbol is not): callees that hold none of the
    symbol's own names but such a bound name still get their rows."""
    svc = "class Handler:\n    pass\n\n\ndef get_handler() -> Handler:\n    return Handler()\n"
    use = (
        "import json\n\nimport svc as s\nfrom svc import get_handler as fetch\n\nmake = s.get_handler\n\n\n"
        "def use():\n    local = make\n"
        "    return json.dumps([local(), fetch(), make(), s.get_handler(), s.Handler()])\n"
    )
    rows = rows_of(tmp_path, {"svc.py": svc, "use.py": use}, SymbolSpec("h", "svc:Handler", ("svc:get_handler",)))
    line = use.splitlines().index("def use():") + 3
    assert sorted(via for file, at, kind, via in rows if file == "use.py" and at == line and kind == "call") == [
        "fetch", "local", "make", "s.Handler", "s.get_handler"
    ]  # fmt: skip


def test_a_statement_that_names_a_symbol_only_in_comments_and_docstrings_is_not_read(tmp_path: Path) -> None:
    """Its syntax error (here a line that does not parse) does not cost the file its other rows."""
    svc = "class Handler:\n    pass\n\n\ndef get_handler() -> Handler:\n    return Handler()\n"
    use = (
        "from svc import get_handler\n\nhandler = get_handler()\n\n\n"
        'def documented():\n    """Call get_handler() for one."""\n    # get_handler() is the factory\n    return 1 +\n'
    )
    (tmp_path / "svc.py").write_text(svc)
    (tmp_path / "use.py").write_text(use)
    spec = SymbolSpec("h", "svc:Handler", ("svc:get_handler",))
    report = audit_calls(spec, tmp_path)
    assert [(row.file, row.line, row.kind) for row in report.rows if row.file == "use.py"] == [
        ("use.py", 1, "import-canonical"), ("use.py", 3, "call")
    ]  # fmt: skip
    assert report.skipped == ()
    (tmp_path / "use.py").write_text(use.replace("# get_handler()", "get_handler()"))  # now in code: read
    assert [path for path, _ in audit_calls(spec, tmp_path).skipped] == ["use.py"]
