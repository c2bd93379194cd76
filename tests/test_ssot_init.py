"""`wskit ssot init`: a role scan turned into a reviewed `[tool.wskit.ssot]` section, written safely."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from wskit.ssot import audit_calls, load_config
from wskit.ssot.adopt.proposal import Probe, find_root, propose_config
from wskit.ssot.adopt.tomlsection import _table_spans, render_section

SHOP = Path(__file__).parent / "fixtures" / "shop"
WSKIT = [shutil.which("wskit") or sys.executable, *([] if shutil.which("wskit") else ["-m", "wskit.cli"])]


def wskit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WSKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_fixture_shop_gets_one_family_with_its_paths_factories_interface_and_deprecated_path() -> None:
    proposal = propose_config(SHOP, "SessionManager")
    assert [c.qualname for c in proposal.test_doubles] == ["InMemorySessionManager"]  # tests/helpers.py
    (family,) = proposal.families
    assert family.name == "SessionManager"
    assert family.canonical == "shop._sessions:_SessionManagerImpl"
    assert family.factory_only  # its __init__ raises: the preferred path is a factory
    assert family.preferred == "shop:get_session_manager"
    assert [(p.path, p.kind, p.defined_at) for p in family.paths] == [
        ("shop:get_session_manager", "factory", "shop/__init__.py:3"),
        ("shop.sessions:SessionManager", "class", "shop/sessions.py:6"),
        ("shop.sessions:get_session_manager", "factory", "shop/sessions.py:10"),
        ("shop:SessionManager", "class", "shop/__init__.py:3"),
        ("shop.legacy:create_session_manager", "factory", "shop/legacy.py:9"),
    ]
    # legacy.py and carts.py import SessionManager too, but only to use it: those are not paths.
    assert [(p.path, p.deprecated) for p in family.deprecated] == [
        ("shop.legacy:create_session_manager", "warns DeprecationWarning (shop/legacy.py:9)")
    ]
    assert [i.path for i in family.interfaces] == ["shop.protocols:SessionManagerProtocol"]
    assert family.probe == Probe("shop.context:RequestContext", kwargs=(("user_id", "ssot-probe"),))


def test_families_bases_renamed_imports_and_what_says_deprecated(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import AManager\nfrom pkg.b import *\n",
            "pkg/base.py": "class BaseManager:\n    def run(self) -> None:\n        raise NotImplementedError\n",
            "pkg/a.py": "from pkg.base import BaseManager\n\n\nclass AManager(BaseManager):\n    pass\n",
            "pkg/b.py": (
                "from pkg.base import BaseManager\n\n__all__ = ['BManager', 'make_b']\n\n\n"
                "class BManager(BaseManager):\n    pass\n\n\n"
                "def make_b() -> BManager:\n    '''Deprecated: create BManager() directly.'''\n    return BManager()\n"
            ),
            "pkg/users.py": "from pkg.a import AManager\n\n\ndef use(manager: AManager) -> str:\n    return 'used'\n",
            "pkg/reexport.py": "from pkg.a import AManager as PrimaryManager\n",
            "pkg/legacy.py": "'''Kept for backward compatibility.'''\nfrom pkg.b import BManager as OldManager\n",
            "pkg/interfaces.py": (
                "from typing import Protocol\n\n\nclass AManagerProtocol(Protocol):\n    def run(self) -> None: ...\n"
            ),
        },
    )
    proposal = propose_config(root, "Manager")
    assert [c.qualname for c in proposal.bases] == ["BaseManager"]  # subclassed by both: not a family
    a, b = proposal.families
    assert (a.name, a.canonical, a.preferred) == ("AManager", "pkg.a:AManager", "pkg:AManager")
    # users.py only uses AManager; reexport.py renames it and never uses it: a re-export.
    assert [p.path for p in a.paths] == ["pkg:AManager", "pkg.a:AManager", "pkg.reexport:PrimaryManager"]
    assert [i.path for i in a.interfaces] == ["pkg.interfaces:AManagerProtocol"]  # named after it
    assert not b.interfaces and not proposal.loose_interfaces
    assert [(p.path, p.kind, p.deprecated) for p in b.paths] == [
        ("pkg:BManager", "class", ""),  # star re-export from pkg.b
        ("pkg.b:BManager", "class", ""),
        ("pkg.b:make_b", "factory", "its docstring says 'Deprecated' (pkg/b.py:10)"),
        # 'backward compatibility' in a docstring is no deprecation; the module's name is
        ("pkg.legacy:OldManager", "class", "named like a legacy path (legacy)"),
        ("pkg:make_b", "factory", "its docstring says 'Deprecated' (pkg/b.py:10)"),  # same object, same verdict
    ]


def test_a_lazy_export_of_a_package_is_a_path_and_an_import_only_for_type_checkers_is_not(tmp_path: Path) -> None:
    lazy_getattr = (
        "def __getattr__(name):\n    import importlib\n\n"
        "    return getattr(importlib.import_module('pkg.impl'), name)\n"
    )
    root = write(
        tmp_path,
        {
            # PEP 562: the names exist at run time through __getattr__, and for type checkers.
            "pkg/__init__.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.impl import Client, get_client\n\n"
                "__all__ = ['Client', 'get_client']\n\n\n" + lazy_getattr
            ),
            "pkg/impl.py": "class Client:\n    pass\n\n\ndef get_client() -> Client:\n    return Client()\n",
            # No __getattr__: these imports exist only for type checkers.
            "pkg/typed.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.impl import Client, get_client\n"
            ),
            "pkg/use.py": "from pkg import Client, get_client\n\n\ndef run() -> Client:\n    return get_client()\n",
        },
    )
    (family,) = propose_config(root, "Client").families
    assert [(p.path, p.kind) for p in family.paths] == [
        ("pkg:Client", "class"), ("pkg.impl:Client", "class"),
        ("pkg.impl:get_client", "factory"), ("pkg.use:run", "factory"), ("pkg:get_client", "factory"),
    ]  # fmt: skip
    # pkg/typed.py has the same imports but no __getattr__: they exist for type checkers only.


def test_a_dispatcher_is_proposed_for_each_class_it_returns_and_check_accepts_both(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "disp/__init__.py": "",
            "disp/clients.py": (
                "class AsyncClient:\n    pass\n\n\nclass SyncClient:\n    pass\n\n\n"
                "def get_client(sync_client=False):\n"
                "    if sync_client:\n        return SyncClient()\n    return AsyncClient()\n"
            ),
            "disp/use.py": "from disp.clients import get_client\n\n\ndef run():\n    return get_client().send()\n",
        },
    )
    families = {f.name: f for f in propose_config(root, "Client$").families}
    for name, line in (("AsyncClient", 12), ("SyncClient", 11)):
        (factory,) = [p for p in families[name].paths if p.kind == "factory"]
        assert factory.path == "disp.clients:get_client"
        assert f"(disp/clients.py:{line})" in factory.why
    assert wskit("ssot", "init", ".", "--role", "Client$", cwd=root).returncode == 0
    assert '\nmode = "static"\n' in (root / "pyproject.toml").read_text()  # at run time it would need a probe
    checked = wskit("ssot", "check", cwd=root)
    assert checked.returncode == 0, checked.stdout


def test_an_unannotated_factory_makes_init_propose_static_mode_so_check_passes_unedited(tmp_path: Path) -> None:
    """Everything imports here, yet runtime mode calls a factory only with a probe: `check` right
    after `init` reported a violation ("no return annotation; pass a probe") on a one-class project."""
    root = write(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/client.py": "class OneClient:\n    pass\n\n\ndef get_client():\n    return OneClient()\n",
            "shop/use.py": "from shop.client import get_client\n\nclient = get_client()\n",
        },
    )
    assert wskit("ssot", "init", ".", "--role", "OneClient", cwd=root).returncode == 0
    section = (root / "pyproject.toml").read_text()
    assert (
        "# Runtime mode calls a factory only with a probe, else reads the class its return annotation names\n"
        "# at run time; these name none: check statically, or annotate them (-> TheClass) or configure a\n"
        "# probe, and remove this line:\n"
        "# shop.client:get_client.\n"
        'mode = "static"\n'
    ) in section
    checked = wskit("ssot", "check", cwd=root)
    assert checked.returncode == 0 and "✅ SSOT CONSOLIDATION VALIDATED" in checked.stdout, checked.stdout
    at_run_time = wskit("ssot", "check", "--mode", "runtime", cwd=root)
    assert at_run_time.returncode == 1 and "no return annotation; pass a probe" in at_run_time.stdout
    # Annotated with a class imported for type checkers only, it cannot be evaluated at run time.
    (root / "shop/make.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from shop.client import OneClient\n\n\n"
        'def make_client() -> "OneClient":\n    from shop.client import OneClient\n\n    return OneClient()\n'
    )
    assert wskit("ssot", "init", ".", "--role", "OneClient", "--force", cwd=root).returncode == 0
    assert "# shop.client:get_client, shop.make:make_client.\n" in (root / "pyproject.toml").read_text()
    at_run_time = wskit("ssot", "check", "--mode", "runtime", cwd=root)
    assert "return annotation not evaluable (NameError: name 'OneClient' is not defined)" in at_run_time.stdout
    # Annotated with the class itself, a factory needs no probe: init proposes runtime mode, and check passes in it.
    (root / "shop/make.py").unlink()
    (root / "shop/client.py").write_text(
        "class OneClient:\n    pass\n\n\ndef get_client() -> OneClient:\n    return OneClient()\n"
    )
    assert wskit("ssot", "init", ".", "--role", "OneClient", "--force", cwd=root).returncode == 0
    assert "mode =" not in (root / "pyproject.toml").read_text()
    checked = wskit("ssot", "check", cwd=root)
    assert checked.returncode == 0 and "✅ SSOT CONSOLIDATION VALIDATED" in checked.stdout, checked.stdout


def test_init_writes_a_section_check_accepts_and_leaves_the_rest_of_the_file_alone(shop: Path) -> None:
    before = (shop / "pyproject.toml").read_text()
    result = wskit("ssot", "init", ".", "--role", "SessionManager", cwd=shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added [tool.wskit.ssot] in pyproject.toml: 1 symbol(s): SessionManager (5 paths")
    after = (shop / "pyproject.toml").read_text()
    assert after.startswith(before) and "# Proposed by `wskit ssot init . --role SessionManager`" in after
    assert "# Not checked, test doubles: tests.helpers.InMemorySessionManager (tests/helpers.py:4)" in after
    config = load_config(shop / "pyproject.toml")
    assert (config.root, config.role, config.search_path) == (shop, "SessionManager", (shop,))
    (symbol,) = config.symbols
    assert symbol.deprecated == ("shop.legacy:create_session_manager",)
    assert symbol.interfaces == ("shop.protocols:SessionManagerProtocol",)
    assert symbol.probe is None  # proposed in a comment only: calling factories is the user's choice
    for mode in ("static", "runtime"):
        check = wskit("ssot", "check", "--mode", mode, cwd=shop)
        assert check.returncode == 0 and "✅ SSOT CONSOLIDATION VALIDATED" in check.stdout, check.stdout


def test_an_existing_section_is_kept_unless_forced(shop: Path) -> None:
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.wskit.ssot]\nsearch_path = ["."]\n\n[[tool.wskit.ssot.symbols]]\nname = "old"\n'
        + 'canonical = "shop.cache:SessionCache"\npaths = [\n    "shop.cache:SessionCache",\n]\n\n'
        + '# Lint settings follow.\n[tool.ruff]\nline-length = 99\ntext = """\n[tool.wskit.ssot]\n"""\n'
    )
    before = pyproject.read_text()
    refused = wskit("ssot", "init", ".", "--role", "SessionManager", cwd=shop)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "already has [tool.wskit.ssot]; pass --force to replace it" in refused.stderr
    assert pyproject.read_text() == before

    printed = wskit("ssot", "init", ".", "--role", "SessionManager", "--print", cwd=shop)
    assert printed.returncode == 0 and printed.stdout.startswith("[tool.wskit.ssot]\n# Proposed by")
    assert pyproject.read_text() == before

    forced = wskit("ssot", "init", ".", "--role", "SessionManager", "--force", cwd=shop)
    assert forced.returncode == 0 and forced.stdout.startswith("replaced [tool.wskit.ssot]"), forced.stderr
    text = pyproject.read_text()
    assert '"old"' not in text and text.count("[tool.wskit.ssot]") == 2  # the new one, and the string's
    ruff = '# Lint settings follow.\n[tool.ruff]\nline-length = 99\ntext = """\n[tool.wskit.ssot]\n"""\n'
    assert '"ssot-probe" } }\n\n' + ruff in text
    assert text.count("# probe = ") == 1
    data = tomllib.loads(text)
    assert data["tool"]["ruff"] == {"line-length": 99, "text": "[tool.wskit.ssot]\n"}
    assert printed.stdout.strip() in text


def test_a_missing_pyproject_is_created(shop: Path) -> None:
    (shop / "pyproject.toml").unlink()
    result = wskit("ssot", "init", ".", "--role", "SessionManager", "--package", "shop", cwd=shop)
    assert result.returncode == 0 and result.stdout.startswith("created [tool.wskit.ssot] in pyproject.toml")
    config = load_config(shop / "pyproject.toml")
    assert config.root == shop / "shop" and config.search_path == (shop,)
    assert "test doubles" not in (shop / "pyproject.toml").read_text()  # tests/ is outside the package


def test_no_match_says_so_in_one_line_and_exits_1(shop: Path) -> None:
    before = (shop / "pyproject.toml").read_text()
    result = wskit("ssot", "init", ".", "--role", "Basket", cwd=shop)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "wskit ssot init: no class matches /Basket/ under . (12 files scanned); nothing written\n"
    only_protocol = wskit("ssot", "init", ".", "--role", "Protocol$", cwd=shop)
    assert only_protocol.returncode == 1
    assert "1 class(es) match but none is an implementation /Protocol$/" in only_protocol.stderr
    assert (shop / "pyproject.toml").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-dir", "--role", "X"], "'missing-dir' does not exist"),
        ([".", "--role", "Sess("], "role 'Sess(' is not a valid regular expression"),
        ([".", "--role", "X", "--package", "nope"], "no package 'nope' under '.'"),
        ([".", "--role", "X", "--package", "a-b"], "--package must be an importable name"),
    ],
)
def test_usage_errors_exit_2_with_one_line(shop: Path, args: list[str], message: str) -> None:
    result = wskit("ssot", "init", *args, cwd=shop)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_init_imports_no_heavy_module(shop: Path) -> None:
    code = (
        "import sys\nfrom wskit.cli import main\n"
        "assert main(['ssot', 'init', '.', '--role', 'SessionManager', '--print']) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'matplotlib', 'libcst', 'nbformat'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=shop, check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_table_spans_skip_strings_and_give_trailing_comments_to_the_next_table() -> None:
    text = (
        '[project]\nname = "x"\n\n[tool.wskit.ssot]\nroot = "."\n\n[[tool.wskit.ssot.symbols]]\nname = "a"\n'
        '# probe = {}\n\n# about ruff\n[tool.ruff]\nx = """\n[tool.wskit.ssot]\n"""\n'
        "[tool . wskit . ssot.extra]\ny = 1\n"
    )
    lines = text.splitlines()
    assert [(lines[a], lines[b - 1]) for a, b in _table_spans(text)] == [
        ("[tool.wskit.ssot]", "# probe = {}"),
        ("[tool . wskit . ssot.extra]", "y = 1"),
    ]


def test_a_package_is_found_under_path_or_its_src(tmp_path: Path) -> None:
    write(tmp_path, {"src/app/core/__init__.py": "", "tool.py": ""})
    assert find_root(tmp_path, "app.core") == tmp_path / "src" / "app" / "core"
    assert find_root(tmp_path, "tool") == tmp_path / "tool.py"
    assert find_root(tmp_path) == tmp_path


@pytest.mark.parametrize(
    ("package", "role"),
    [
        ("tornado", r"\w*Handler"),  # init crashed here: the role's name in a module docstring
        ("jupyter_server", r"\w*Handler"),  # init refused its own proposal: preferred and deprecated
        ("IPython", r"\w*Manager"),  # the same
        ("redis", "Redis$"),
        ("httpx", r"\w*Client$"),
        ("starlette", r"\w*Response$"),
    ],
)
def test_init_proposes_what_check_and_audit_accept_unedited_on_real_packages(
    tmp_path: Path, package: str, role: str
) -> None:
    """Installed code nobody here wrote: the proposal parses, every symbol checks (static mode,
    nothing imported, and the mode it proposes: runtime where everything imports here, unless a
    factory could only be called), and the audit reads the tree with it, skipping no file for an
    analyzer error."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    proposal = propose_config(root.parent, role, package=package)
    assert proposal.families, f"{package}: nothing proposed for /{role}/"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(render_section(proposal, config_dir=tmp_path, command=f"wskit ssot init --role {role}"))
    config = load_config(pyproject)  # the validator that refused init's own output before
    assert len(config.symbols) == len(proposal.families)
    for index, symbol in enumerate(config.symbols):
        assert symbol.preferred_path not in symbol.deprecated
        report = config.check(symbol, mode="static")
        assert report.rows and not [r for r in report.rows if r.status == "failed"], report.summary()
        # What `wskit ssot check` does right after init; each path imported in a fresh interpreter,
        # so only the first eight symbols (jupyter_server's 41 take 21 s).
        if config.mode == "runtime" and index < 8:
            report = config.check(symbol)
            assert report.consolidated and not [r for r in report.rows if r.status != "resolved"], report.summary()
    audit = audit_calls(config, root)
    assert not [reason for _, reason in audit.skipped if "analyzer error" in reason]
    assert not [reason for _, reason in proposal.scan.skipped if "analyzer error" in reason]
