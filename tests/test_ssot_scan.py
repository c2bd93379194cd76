"""`scan_tree` on a messy fixture tree and on wskit itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from wskit.ssot import scan_tree

FIXTURES = Path(__file__).parent / "fixtures" / "ssot"
SCANPKG = FIXTURES / "scanpkg"
PROJECT = Path(__file__).parent.parent


def classified(report: object) -> dict[str, str]:
    return {f"{c.module}.{c.qualname}": c.classification for c in report.classes}  # type: ignore[attr-defined]


def test_every_matching_class_is_found_and_classified() -> None:
    report = scan_tree(SCANPKG, "WebSocketManager")
    assert classified(report) == {
        "scanpkg.base.BaseWebSocketManager": "abstract",
        "scanpkg.core.WebSocketManager": "implementation",
        "scanpkg.dup.WebSocketManager": "implementation",
        "scanpkg.errors.WebSocketManagerError": "exception",
        "scanpkg.errors.WebSocketManagerTimeout": "exception",
        "scanpkg.factory.WebSocketManagerFactory": "factory",
        "scanpkg.kinds.WebSocketManagerState": "enum",
        "scanpkg.legacy.LegacyWebSocketManager": "implementation",
        "scanpkg.mocks.MockWebSocketManager": "test double",
        "scanpkg.protocols.WebSocketManagerProtocol": "protocol",
    }
    assert [f"{c.module}.{c.qualname}" for c in report.implementations] == [
        "scanpkg.core.WebSocketManager",
        "scanpkg.legacy.LegacyWebSocketManager",
    ]


def test_dead_shadowed_class_and_unparsable_file_are_reported() -> None:
    report = scan_tree(SCANPKG, "WebSocketManager")
    dead = next(c for c in report.classes if c.module == "scanpkg.dup")
    assert dead.shadowed == "rebound at line 5 of scanpkg/dup.py, which wins"
    assert [(f.kind, f.where) for f in report.findings] == [("shadowed", "scanpkg/dup.py:1")]
    assert report.skipped == (("scanpkg/broken.py", "does not parse: SyntaxError: invalid syntax (broken.py, line 1)"),)


def test_aliases_and_importers_are_counted_by_path() -> None:
    report = scan_tree(SCANPKG, "WebSocketManager")
    core = next(c for c in report.classes if c.module == "scanpkg.core")
    assert core.aliases == (
        "scanpkg.dup:WebSocketManager",
        "scanpkg.factory:WebSocketManager",
        "scanpkg.user:Manager",
        "scanpkg.user:WSM",
        "scanpkg.user:WebSocketManager",
        "scanpkg:Manager",
        "scanpkg:WebSocketManager",
    )
    chain = dict(zip(core.aliases, core.alias_chains, strict=True))["scanpkg:Manager"]
    assert [hop.partition(" ")[0] for hop in chain] == [
        "scanpkg/__init__.py:3",
        "scanpkg/__init__.py:1",
        "scanpkg/core.py:1",
    ]
    assert dict(core.import_paths) == {
        "scanpkg.core:WebSocketManager": 4,  # __init__, dup, factory, user (twice in user: counted once)
        "scanpkg:Manager": 1,
        "scanpkg:WebSocketManager": 1,
    }
    assert core.importers == 6
    legacy = next(c for c in report.classes if c.module == "scanpkg.legacy")
    assert dict(legacy.import_paths) == {"scanpkg.legacy:LegacyWebSocketManager": 1}  # a function-level import


def test_a_module_imported_whole_counts_the_class_it_is_used_for(tmp_path: Path) -> None:
    """`import pkg.core` then `pkg.core.Name`: the file imports `pkg.core:Name`, found though no
    import statement names the class; a file using another attribute of the module does not."""
    package = tmp_path / "wholepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text("class WebSocketManager:\n    pass\n\n\nVERSION = 1\n")
    (package / "whole.py").write_text(
        "import wholepkg.core\n\n\ndef build():\n    return wholepkg.core.WebSocketManager()\n"
    )
    (package / "aliased.py").write_text(
        "import wholepkg.core as c\n\n\ndef build():\n    return c.WebSocketManager()\n"
    )
    (package / "other.py").write_text("import wholepkg.core\n\nprint(wholepkg.core.VERSION)\n")
    core = next(c for c in scan_tree(package, "WebSocketManager").classes if c.module == "wholepkg.core")
    assert dict(core.import_paths) == {"wholepkg.core:WebSocketManager": 2}
    assert core.importers == 2


def test_a_class_defined_in_an_except_handler_is_an_implementation_said_to_be_a_fallback(tmp_path: Path) -> None:
    """`try: from fast import X` / `except ImportError: class X: ...`: the fallback is a second
    implementation (it runs where the import fails), and a finding says it is one; the path
    through the try reaches the first."""
    package = tmp_path / "excpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fast.py").write_text("class WebSocketManager:\n    def send(self):\n        pass\n")
    fallback = "    class WebSocketManager:\n        def send(self):\n            pass\n"
    (package / "compat.py").write_text(
        f"try:\n    from excpkg.fast import WebSocketManager\nexcept ImportError:\n{fallback}"
    )
    (package / "star.py").write_text(f"try:\n    import missing_module\nexcept* ImportError:\n{fallback}")
    report = scan_tree(package, "WebSocketManager")
    assert [(c.module, c.defined_at, c.classification) for c in report.classes] == [
        ("excpkg.compat", "excpkg/compat.py:4", "implementation"),
        ("excpkg.fast", "excpkg/fast.py:1", "implementation"),
        ("excpkg.star", "excpkg/star.py:4", "implementation"),
    ]
    fast = next(c for c in report.classes if c.module == "excpkg.fast")
    assert fast.aliases == ("excpkg.compat:WebSocketManager",)
    # Each fallback is said to be one, with the handler that defines it and the try block.
    assert [(f.kind, f.where, f.message) for f in report.findings] == [
        ("fallback", "excpkg/compat.py:4", "class WebSocketManager is a fallback: defined in the `except ImportError`"
         " handler at line 3: it exists only where the `try` block at line 1 raises"),
        ("fallback", "excpkg/star.py:4", "class WebSocketManager is a fallback: defined in the `except* ImportError`"
         " handler at line 3: it exists only where the `try` block at line 1 raises"),
    ]  # fmt: skip
    assert "! fallback at excpkg/compat.py:4: class WebSocketManager is a fallback" in report.summary()


def test_tests_are_skipped_unless_asked_and_then_are_test_doubles() -> None:
    without = scan_tree(SCANPKG, "WebSocketManager")
    assert not any(c.module.startswith("scanpkg.tests") for c in without.classes)
    with_tests = scan_tree(SCANPKG, "WebSocketManager", include_tests=True)
    doubles = {c.qualname for c in with_tests.classes if c.module == "scanpkg.tests.test_fakes"}
    assert doubles == {"FakeWebSocketManager", "WebSocketManagerForTests"}
    assert all(c.classification == "test double" for c in with_tests.classes if c.module.startswith("scanpkg.tests"))
    assert len(with_tests.implementations) == len(without.implementations) == 2


def test_wskit_has_exactly_one_manager_implementation() -> None:
    report = scan_tree(PROJECT / "wskit", "WebSocketManager|WebSocketProtocol")
    assert [(c.qualname, c.classification) for c in report.classes] == [
        ("WebSocketProtocol", "protocol"),
        ("_UnifiedWebSocketManagerImplementation", "implementation"),
    ]
    (only,) = report.implementations
    assert only.module == "wskit.unified_manager"
    assert "wskit:WebSocketManager" in only.aliases and "wskit.websocket_manager:WebSocketManager" in only.aliases
    assert "✅ ONE IMPLEMENTATION" in report.summary()


def test_renderings_of_a_scan() -> None:
    report = scan_tree(SCANPKG, "WebSocketManager")
    frame = report.frame
    assert list(frame.columns) == [
        "name", "module", "defined_at", "classification", "aliases", "importers", "import_paths", "shadowed",
    ]  # fmt: skip
    assert len(frame) == 10 and frame["shadowed"].sum() == 1
    document = report.to_json()
    assert document["implementations"] == 2 and len(document["classes"]) == 10
    assert document["classes"][0]["aliases"] == [] and "import_paths" in document["classes"][0]
    assert isinstance(report.plot(), Figure)
    assert "<table" in report._repr_html_() and "❌ 2 IMPLEMENTATIONS" in report.summary()
    assert report.to_markdown().count("\n| ") == 11


@pytest.mark.parametrize(
    ("root", "role", "error", "text"),
    [
        (SCANPKG, "", ValueError, "role must be a non-empty regular expression"),
        (SCANPKG, "Web(Socket", ValueError, "is not a valid regular expression"),
        (FIXTURES / "nope", "X", ValueError, "does not exist"),
        (42, "X", TypeError, "root must be a directory path"),
    ],
)
def test_bad_scan_arguments(root: object, role: str, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        scan_tree(root, role)  # type: ignore[arg-type]


def test_scan_copes_with_a_large_generated_tree(tmp_path: Path) -> None:
    package = tmp_path / "big"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for index in range(400):
        body = "\n".join(f"def helper_{index}_{i}(x):\n    return x + {i}\n" for i in range(20))
        (package / f"module_{index}.py").write_text(body + f"\nclass Thing{index}:\n    pass\n")
    (package / "module_7.py").write_text(
        "from big.target import SessionManager\n\nclass LocalSessionManager:\n    pass\n"
    )
    (package / "target.py").write_text("class SessionManager:\n    pass\n")
    report = scan_tree(package, "SessionManager")
    assert report.files_scanned == 402
    assert report.files_parsed == 2  # the text filter kept the other 400 files unparsed
    assert [c.qualname for c in report.implementations] == ["LocalSessionManager", "SessionManager"]


def test_names_matching_the_role_only_as_aliases_are_reported_as_what_they_point_to(tmp_path: Path) -> None:
    package = tmp_path / "aliased"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "impl.py").write_text(
        "import typing\n\n\nclass Concrete:\n    def send(self) -> None:\n        pass\n\n\n"
        "class Shape(typing.Protocol):\n    def send(self) -> None: ...\n"
    )
    (package / "api.py").write_text(
        "from aliased.impl import Concrete, Shape\n"
        "from aliased.impl import Concrete as SessionManagerImpl\n\n"
        "SessionManagerProtocol = Concrete  # a concrete class under a protocol's name\n"
        "SessionManagerShape = Shape\n"
    )
    report = scan_tree(package, "SessionManager")
    by_name = {c.qualname: c for c in report.classes}
    assert set(by_name) == {"Concrete", "Shape"}
    assert by_name["Concrete"].classification == "implementation"
    assert by_name["Concrete"].role_aliases == ("aliased.api:SessionManagerImpl", "aliased.api:SessionManagerProtocol")
    assert by_name["Shape"].classification == "protocol"
    assert [c.qualname for c in report.implementations] == ["Concrete"]
    summary = report.summary()
    one = "✅ ONE IMPLEMENTATION: aliased.impl.Concrete (aliased/impl.py:4) via alias aliased.api:SessionManagerImpl"
    assert one in summary
    assert "  alias aliased.api:SessionManagerShape -> aliased.impl.Shape (protocol, aliased/impl.py:9)" in summary
    assert report.to_json()["classes"][0]["role_aliases"] == [
        "aliased.api:SessionManagerImpl",
        "aliased.api:SessionManagerProtocol",
    ]


def test_long_classes_keep_their_nested_classes_and_their_abstract_methods(tmp_path: Path) -> None:
    """A class longer than 4 KB is read member by member (only the members holding a match),
    except where abstract methods may decide what it is."""
    method = "    def method_{0}(self, value: int) -> int:\n        return value + {0}\n\n"
    methods = "".join(method.format(i) for i in range(300))
    assert len(methods) > 16_384
    (tmp_path / "long.py").write_text(
        "import abc\n\n\n"
        "class OuterManager(RuntimeError):\n"
        f"{methods}"
        "    class InnerManager:\n        pass\n\n"
        "    if True:\n        class GuardedManager:\n            pass\n\n"
        f"{methods.replace('method_', 'later_')}"
    )
    abstract = methods.replace("    def method_0", "    @abc.abstractmethod\n    def method_0")
    (tmp_path / "shape.py").write_text(f"import abc\n\n\nclass ShapeManager:\n{abstract}")
    report = scan_tree(tmp_path, "Manager$")
    assert classified(report) == {
        "long.OuterManager": "exception",
        "long.OuterManager.InnerManager": "implementation",
        "long.OuterManager.GuardedManager": "implementation",
        "shape.ShapeManager": "abstract",
    }
    assert [c.defined_at for c in report.classes if c.qualname.endswith("InnerManager")] == ["long.py:905"]
