"""The examples in the docstrings of every public object run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest

import deleverage

# By import_module, not attribute: ``deleverage.sweep``, ``deleverage.risk`` and
# ``deleverage.frontier`` are the functions, which hide their modules' docstrings.
MODULES = [deleverage] + [
    importlib.import_module(f"deleverage.{m}")
    for m in (
        "exceptions", "cli", "market", "shock", "lending", "scenario", "engine", "result",
        "risk", "examples", "perps", "vaults", "funds", "plot", "sweep", "frontier",
        "owners", "structure", "attribution", "equilibria", "io", "io.books", "io.prices",
        "io.liquidations", "io.positions", "_october_2025",
    )
]  # fmt: skip


def _docstring_owners() -> list[tuple[str, object]]:
    owners: list[tuple[str, object]] = [(m.__name__, m) for m in MODULES]
    for name in deleverage.__all__:
        obj = getattr(deleverage, name)
        if inspect.isclass(obj):
            owners.append((f"deleverage.{name}", obj))
    return owners


@pytest.mark.parametrize(("name", "obj"), _docstring_owners(), ids=lambda x: str(x))
def test_docstring_examples(name: str, obj: object) -> None:
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(obj, name, globs={})
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_every_public_class_and_method_has_an_example_or_doc() -> None:
    for name in deleverage.__all__:
        obj = getattr(deleverage, name)
        if not inspect.isclass(obj):
            continue
        assert obj.__doc__, f"{name} has no docstring"
        for attr, member in vars(obj).items():
            # Methods, properties and constructors; dataclass defaults are data, not API.
            if attr.startswith("_") or not (
                callable(member) or isinstance(member, property | classmethod | staticmethod)
            ):
                continue
            assert getattr(member, "__doc__", None), f"{name}.{attr} has no docstring"


def test_classes_with_examples() -> None:
    # Every entry point a user starts from shows a runnable example.
    for cls in [
        deleverage.Scenario,
        deleverage.Asset,
        deleverage.Oracle,
        deleverage.Lending,
        deleverage.Reserve,
        deleverage.Liquidators,
        deleverage.Shock,
        deleverage.OrderBook,
        deleverage.ConstantProductPool,
        deleverage.ImpactCurve,
        deleverage.Router,
        deleverage.Fill,
        deleverage.Engine,
    ]:
        assert ">>>" in (cls.__doc__ or ""), cls.__name__


def test_scenario_module_still_exposes_the_classes_that_moved_out() -> None:
    # Asset/Oracle live in market, Shock in shock, Lending/Reserve in lending: the old import
    # path keeps working and names the same objects as the package does.
    from deleverage.scenario import Asset, Lending, Liquidators, Oracle, Reserve, Scenario, Shock

    assert sorted(deleverage.scenario.__all__) == [
        "Asset", "Lending", "Liquidators", "Oracle", "Reserve", "Scenario", "Shock"
    ]  # fmt: skip
    for cls in (Asset, Lending, Liquidators, Oracle, Reserve, Scenario, Shock):
        assert getattr(deleverage, cls.__name__) is cls


@pytest.mark.parametrize(
    "page",
    ["sweeps.md", "pegs.md", "interconnected.md", "cases/black-thursday.md",
     "cases/october-2025.md"],
)  # fmt: skip
def test_docs_page_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each ```python block of the page runs, in order, in one namespace; their asserts hold.
    import matplotlib

    matplotlib.use("Agg")
    text = (Path(__file__).resolve().parent.parent / "docs" / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks
    monkeypatch.chdir(tmp_path)
    ns: dict[str, object] = {}
    try:
        for i, block in enumerate(blocks):
            if 'executor="ray"' in block and importlib.util.find_spec("ray") is None:
                continue  # the ray extra is not installed here (CI installs it)
            exec(compile(block, f"docs/{page} block {i + 1}", "exec"), ns)
    finally:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            ray.shutdown()
