"""Factories found by what they return (`wskit.ssot.resolve.factories.find_factories`), read from
small trees written for each shape: where a `return` may sit, what a function's own imports and
assignments make of a name, which results must be awaited, and what the reason says."""

from __future__ import annotations

from pathlib import Path

from wskit.ssot.resolve.factories import Factory, find_factories
from wskit.ssot.resolve.tree import SourceTree

MODELS = (
    "from typing import Protocol\n\n\n"
    "class Widget:\n    pass\n\n\n"
    "class Gadget:\n    pass\n\n\n"
    "class Shape(Protocol):\n    def area(self) -> float: ...\n\n\n"
    "class Square(Shape):\n    def area(self) -> float:\n        return 1.0\n"
)
CLASSES = {"pkg.models.Widget": "Widget", "pkg.models.Square": "Square"}


def found(tmp_path: Path, files: dict[str, str], classes: dict[str, str] = CLASSES) -> dict[str, Factory]:
    for name, text in {"pkg/__init__.py": "", "pkg/models.py": MODELS, **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return find_factories(SourceTree(tmp_path), classes)


def test_a_return_in_any_block_of_the_function_counts(tmp_path: Path) -> None:
    blocks = {
        "in_if": "    if flag:\n        return Widget()\n    return None\n",
        "in_else": "    if flag:\n        pass\n    else:\n        return Widget()\n",
        "in_try": "    try:\n        return Widget()\n    except ValueError:\n        pass\n",
        "in_except": "    try:\n        pass\n    except ValueError:\n        return Widget()\n",
        "in_try_else": (
            "    try:\n        pass\n    except ValueError:\n        pass\n    else:\n        return Widget()\n"
        ),
        "in_finally": "    try:\n        pass\n    finally:\n        return Widget()\n",
        "in_with": "    with open(flag):\n        return Widget()\n",
        "in_for_else": "    for _ in flag:\n        pass\n    else:\n        return Widget()\n",
        "in_while": "    while flag:\n        return Widget()\n",
        "in_match": "    match flag:\n        case 1:\n            return Widget()\n",
    }
    text = "from pkg.models import Widget\n\n\n" + "".join(f"def {n}(flag):\n{b}\n\n" for n, b in blocks.items())
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(factories) == sorted(f"pkg.makers.{name}" for name in blocks)
    assert {f.target for f in factories.values()} == {"pkg.models.Widget"}


def test_a_nested_function_or_class_does_not_make_its_outer_function_a_factory(tmp_path: Path) -> None:
    text = (
        "from pkg.models import Widget\n\n\n"
        "def outer():\n    def inner():\n        return Widget()\n\n    return inner\n\n\n"
        "def holder():\n    class Local:\n        def make(self):\n            return Widget()\n\n"
        "    return Local\n\n\n"
        "def lam():\n    return lambda: Widget()\n"
    )
    assert found(tmp_path, {"pkg/makers.py": text}) == {}


def test_the_reason_names_the_return_statement_or_the_annotation(tmp_path: Path) -> None:
    text = (
        "from pkg.models import Widget\n\n\n"
        "def plain():\n    return Widget()\n\n\n"
        "def annotated() -> Widget:\n    return make_it_somehow()\n\n\n"
        "def long_call():\n"
        "    return Widget(first_argument_that_is_long=1, second_argument_that_is_even_longer=2)\n\n\n"
        "def exactly_seventy():\n    return Widget(a_keyword_argument_sized_to_reach_seventy_chars_xxxxxxxxxxxx=1)\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert factories["pkg.makers.plain"].why == "it returns Widget() (pkg/makers.py:5)"
    assert factories["pkg.makers.plain"].wraps is None
    assert factories["pkg.makers.annotated"].why == "its return annotation names Widget (pkg/makers.py:8)"
    # The returned code is cut to 70 characters in all: 67 and "...".
    assert factories["pkg.makers.long_call"].why == (
        "it returns Widget(first_argument_that_is_long=1, second_argument_that_is_even_... (pkg/makers.py:13)"
    )
    returned = "Widget(a_keyword_argument_sized_to_reach_seventy_chars_xxxxxxxxxxxx=1)"
    assert len(returned) == 70
    assert factories["pkg.makers.exactly_seventy"].why == f"it returns {returned} (pkg/makers.py:17)"


def test_what_callers_must_await_follows_from_the_function_and_what_it_wraps(tmp_path: Path) -> None:
    text = (
        "from pkg.models import Widget\n\n\n"
        "def build():\n    return Widget()\n\n\n"
        "async def build_async():\n    return Widget()\n\n\n"
        "def sync_of_sync():\n    return build()\n\n\n"
        "def hands_back_the_coroutine():\n    return build_async()\n\n\n"
        "async def awaits_it():\n    return await build_async()\n\n\n"
        "async def async_of_sync():\n    return build()\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    awaitable = {name.rpartition(".")[2]: f.awaitable for name, f in factories.items()}
    assert awaitable == {
        "build": False, "build_async": True, "sync_of_sync": False,
        "hands_back_the_coroutine": True, "awaits_it": True, "async_of_sync": True,
    }  # fmt: skip
    assert {f.kind for f in factories.values()} == {"factory", "async factory"}
    wrapper = factories["pkg.makers.hands_back_the_coroutine"]
    assert wrapper.wraps == "pkg.makers.build_async"
    assert wrapper.why == "it returns build_async() (pkg/makers.py:17)"
    assert factories["pkg.makers.awaits_it"].why == "it returns await build_async() (pkg/makers.py:21)"


def test_the_functions_own_imports_and_single_assignments_come_first(tmp_path: Path) -> None:
    text = (
        "Widget = None  # module level: not the class\n\n\n"
        "def local_from_import():\n    from pkg.models import Widget\n    return Widget()\n\n\n"
        "def local_module_alias():\n    import pkg.models as m\n    return m.Widget()\n\n\n"
        "def assigned_then_returned():\n    from pkg.models import Gadget as G, Widget as W\n"
        "    made = W()\n    return made\n\n\n"
        "def cast_of_a_local():\n    from typing import cast\n    from pkg.models import Widget as W\n"
        "    made = W()\n    return cast(W, made)\n\n\n"
        "def rebound_to_calls():\n    from pkg.models import Widget as W\n"
        "    made = W()\n    made = W()\n    return made\n\n\n"
        "def none_first(flag):\n    from pkg.models import Widget as W\n"
        "    made = None\n    if flag:\n        made = W()\n    return made\n\n\n"
        "def rebound_to_other_values():\n    from pkg.models import Widget as W\n"
        "    made = W()\n    made = made or None\n    return made\n\n\n"
        "def rebound_to_a_string():\n    from pkg.models import Widget as W\n"
        "    made = W()\n    made = str(made)\n    return made\n\n\n"
        "def imported_twice():\n    try:\n        from pkg.models import Widget as Thing\n"
        "    except ImportError:\n        from pkg.models import Gadget as Thing\n    return Thing()\n\n\n"
        "def a_local_variable_is_not_a_class(klass):\n    return klass()\n\n\n"
        "def called_through_a_local():\n    from pkg.models import Widget as W\n    factory = W\n    return factory()\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(name.rpartition(".")[2] for name in factories) == [
        "assigned_then_returned", "cast_of_a_local", "imported_twice", "local_from_import", "local_module_alias",
        "none_first", "rebound_to_calls",
    ]  # fmt: skip
    assert factories["pkg.makers.assigned_then_returned"].why == "it returns made (pkg/makers.py:17)"


def test_a_relative_import_inside_a_package_init_is_read_from_that_package(tmp_path: Path) -> None:
    text = "def get_widget():\n    from .models import Widget\n    return Widget()\n"
    factories = found(tmp_path, {"pkg/__init__.py": text})
    assert list(factories) == ["pkg.get_widget"]
    assert factories["pkg.get_widget"].target == "pkg.models.Widget"


def test_other_returns_are_read_when_one_says_nothing(tmp_path: Path) -> None:
    # The returns are read last block first: in each function below, the first one read says
    # nothing (not a call, a callee that cannot be resolved, an interface), and the next is read.
    text = (
        "from pkg.models import Shape, Square, Widget\n\n\n"
        "def not_a_call(flag):\n    if flag:\n        return Widget()\n    return flag\n\n\n"
        "def unresolved(flag):\n    if flag:\n        return Widget()\n    return somewhere_else()\n\n\n"
        "def an_interface(flag):\n    if flag:\n        return Square()\n    return Shape()\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(factories) == ["pkg.makers.an_interface", "pkg.makers.not_a_call", "pkg.makers.unresolved"]
    # Square implements the Shape protocol: it is not an interface itself.
    assert factories["pkg.makers.an_interface"].target == "pkg.models.Square"


def test_wrappers_chain_across_modules_and_rounds_and_known_factories_are_left_out(tmp_path: Path) -> None:
    files = {
        "pkg/core.py": "from pkg.models import Widget\n\n\ndef build():\n    return Widget()\n",
        "pkg/compat.py": "from pkg.core import build as make\n\n\nasync def get_widget():\n    return make()\n",
        "pkg/api.py": (
            "from pkg import compat\n\n\ndef public():\n    return compat.get_widget()\n\n\n"
            "def mentions_only():\n    '''public() and get_widget() are named here in prose only.'''\n    return None\n"
        ),
        "tests/test_api.py": "from pkg.core import build\n\n\ndef helper():\n    return build()\n",
    }
    everything = found(tmp_path, files)
    assert sorted(everything) == ["pkg.api.public", "pkg.compat.get_widget", "pkg.core.build"]
    assert everything["pkg.api.public"].wraps == "pkg.compat.get_widget"
    assert everything["pkg.api.public"].awaitable  # it hands back get_widget's coroutine
    tree = SourceTree(tmp_path)
    known = {"pkg.core.build": everything["pkg.core.build"]}
    assert sorted(find_factories(tree, CLASSES, known)) == ["pkg.api.public", "pkg.compat.get_widget"]


def test_a_function_that_returns_itself_is_not_followed_forever(tmp_path: Path) -> None:
    text = (
        "from pkg.models import Widget\n\n\n"
        "def again(n):\n    return again(n - 1)\n\n\n"
        "def ping():\n    return pong()\n\n\n"
        "def pong():\n    return ping()\n\n\n"
        "def real():\n    return Widget()\n\n\n"
        "def retry(flag):\n    if flag:\n        return Widget()\n    return retry(True)\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(factories) == ["pkg.makers.real", "pkg.makers.retry"]
    assert factories["pkg.makers.retry"].made == (("pkg.models.Widget", "it returns Widget() (pkg/makers.py:22)"),)


def test_a_module_imported_inside_the_function_is_followed_attribute_by_attribute(tmp_path: Path) -> None:
    text = (
        "def through_the_package():\n    import pkg as p\n    return p.models.Widget()\n\n\n"
        "def through_a_module_imported_from_its_package():\n    from pkg import models as mod\n"
        "    return mod.Widget()\n\n\n"
        "def an_attribute_of_a_class_is_not_followed():\n    from pkg.models import Widget as W\n"
        "    return W.anything()\n\n\n"
        "def a_subscript_is_not_a_name():\n    from pkg.models import Widget\n"
        "    return {'widget': Widget}['widget']()\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(factories) == [
        "pkg.makers.through_a_module_imported_from_its_package",
        "pkg.makers.through_the_package",
    ]
    assert {f.target for f in factories.values()} == {"pkg.models.Widget"}


def test_only_the_definition_that_wins_at_import_is_read_and_the_cut_starts_above_70(tmp_path: Path) -> None:
    text = (
        "from pkg.models import Widget\n\n\n"
        "def make():\n    return Widget()\n\n\n"
        "def make():\n    return None\n\n\n"
        "def other():\n    return Widget(a_keyword_argument_sized_to_reach_seventy_one_chars_xxxxxxxxx=1)\n\n\n"
        "async def annotated_async() -> Widget:\n    return make_it_somehow()\n"
    )
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(factories) == ["pkg.makers.annotated_async", "pkg.makers.other"]  # the first make() is replaced
    code = "Widget(a_keyword_argument_sized_to_reach_seventy_one_chars_xxxxxxxxx=1)"
    assert len(code) == 71
    assert factories["pkg.makers.other"].why == f"it returns {code[:67]}... (pkg/makers.py:13)"
    assert factories["pkg.makers.annotated_async"].awaitable


def test_wrappers_in_test_files_are_not_factories_wherever_they_sort(tmp_path: Path) -> None:
    files = {
        "conftest.py": "from pkg.core import build\n\n\ndef helper():\n    return build()\n",  # the first file read
        "pkg/core.py": "from pkg.models import Widget\n\n\ndef build():\n    return Widget()\n",
    }
    assert list(found(tmp_path, files)) == ["pkg.core.build"]


def test_a_dispatcher_is_a_factory_of_each_class_it_returns(tmp_path: Path) -> None:
    text = (
        "from pkg.models import Gadget, Widget\n\n\n"
        "def get(sync=False):\n    if sync:\n        return Widget()\n    return Gadget()\n\n\n"
        "async def get_async(sync=False):\n    return get(sync)\n"
    )
    both = {"pkg.models.Widget": "Widget", "pkg.models.Gadget": "Gadget"}
    factories = found(tmp_path, {"pkg/makers.py": text}, both)
    # Read last block first: the plain `return Gadget()` before the one inside the `if`.
    get = factories["pkg.makers.get"]
    assert (get.target, get.why) == ("pkg.models.Gadget", "it returns Gadget() (pkg/makers.py:7)")
    assert get.also == (("pkg.models.Widget", "it returns Widget() (pkg/makers.py:6)"),)
    assert [target for target, _ in factories["pkg.makers.get_async"].made] == [
        "pkg.models.Gadget",
        "pkg.models.Widget",
    ]
    assert factories["pkg.makers.get_async"].awaitable
    # Searching for Widget alone: the dispatcher is one of its factories, whatever it returns first.
    only_widget = find_factories(SourceTree(tmp_path), {"pkg.models.Widget": "Widget"})
    assert {name: (f.target, f.also) for name, f in only_widget.items()} == {
        "pkg.makers.get": ("pkg.models.Widget", ()),
        "pkg.makers.get_async": ("pkg.models.Widget", ()),
    }


def test_every_one_of_twenty_factories_in_a_module_is_found(tmp_path: Path) -> None:
    """One reader reads them all, one after another: none is taken for a deeper chain than allowed."""
    text = "from pkg.models import Widget\n\n\n" + "".join(
        f"def make_{i}():\n    return Widget()\n\n\n" for i in range(20)
    )
    text += "def wrap():\n    return make_19()\n"
    factories = found(tmp_path, {"pkg/makers.py": text})
    assert sorted(factories) == sorted([f"pkg.makers.make_{i}" for i in range(20)] + ["pkg.makers.wrap"])
    assert factories["pkg.makers.wrap"].wraps == "pkg.makers.make_19"
