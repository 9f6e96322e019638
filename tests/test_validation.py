"""Bad input to the engine-II families, the sweep and the analysis gets a ScenarioError naming
the field and the value, never a TypeError from deep inside; good input is stored as plain
numbers so that scenario files can be written."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import deleverage as dl

PERP = dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: dl.PerpExchange(PERP), "markets must be a list of PerpMarket"),  # type: ignore[arg-type]
        (lambda: dl.PerpExchange([PERP], fee_rate="x"), "fee_rate must be a number"),  # type: ignore[arg-type]
        (lambda: dl.PerpExchange([PERP], insurance_fund=None), "insurance_fund"),  # type: ignore[arg-type]
        (lambda: dl.PerpExchange([PERP], backstop="no"), "backstop must be True or False"),  # type: ignore[arg-type]
        (lambda: dl.Brackets(1.0, 0.1), "caps must be a list of numbers"),  # type: ignore[arg-type]
        (lambda: dl.Brackets.hyperliquid("x"), "max_leverage must be a number"),  # type: ignore[arg-type]
        (lambda: dl.PartialLiquidation(fraction=0.0), "partial fraction must be > 0"),
        (lambda: dl.Vaults(dl.Clipper("ETH")), "clippers must be a list of Clipper"),  # type: ignore[arg-type]
        (lambda: dl.Clipper("ETH", chop=0.9), "chop must be >= 1.0"),
        (lambda: dl.Clipper("ETH", mat="1.5"), "mat must be a number"),  # type: ignore[arg-type]
        (lambda: dl.Funds.threshold("x"), "lambda_max must be a number"),  # type: ignore[arg-type]
        (lambda: dl.Funds.target(illiquid={"loans": "x"}), "illiquid shock of 'loans'"),  # type: ignore[dict-item]
        (
            lambda: dl.Funds.target(accounting="linear", illiquid={"loans": 0.1}),
            "accounting='linear'",
        ),
        (lambda: dl.Lending.aave_v3({"ETH": 0.8}), r"reserves\['ETH'\] must be a deleverage"),  # type: ignore[dict-item]
        (lambda: dl.Scenario(assets=dl.Asset("ETH", 1.0)), "assets must be a list of Asset"),  # type: ignore[arg-type]
        (lambda: dl.Liquidators(budget_count=2.5), "budget_count must be a whole number"),
    ],
)
def test_bad_objects_raise_named_errors(build: Any, message: str) -> None:
    with pytest.raises(dl.ScenarioError, match=message):
        build()


def test_nulls_and_negative_debt_in_positions_are_named() -> None:
    sc = dl.Scenario(assets=[dl.Asset("BTC-PERP", 100.0), dl.Asset("ETH", 10.0)])
    perps = pl.DataFrame({"account": [1, 2], "market": [None, "BTC-PERP"], "size": [1.0, 1.0],
                          "entry_price": [100.0] * 2, "margin": [10.0] * 2})  # fmt: skip
    with pytest.raises(dl.ScenarioError, match=r"positions\.market has a null \(row 0\)"):
        sc.add_perps(dl.PerpExchange([PERP]), perps)
    funds = pl.DataFrame({"account": ["f", "f"], "holding": ["ETH", None], "amount": [1.0, 1.0]})
    with pytest.raises(dl.ScenarioError, match=r"positions\.holding has a null \(row 1\)"):
        sc.add_funds(dl.Funds.threshold(10.0), funds)
    funds = pl.DataFrame({"account": ["f", "f"], "holding": ["ETH", "debt"], "amount": [1.0, -5.0]})
    with pytest.raises(dl.ScenarioError, match=r"positions\.amount must be finite and >= 0"):
        sc.add_funds(dl.Funds.threshold(10.0), funds)


def test_add_takes_every_family_and_names_anything_else() -> None:
    # One typed way in: ``add`` dispatches on the protocol's type, and the add_* wrappers give
    # the same scenario as it does.
    sc = dl.Scenario(assets=[dl.Asset("BTC-PERP", 100.0), dl.Asset("ETH", 10.0),
                             dl.Asset("USDC", 1.0)])  # fmt: skip
    lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [1.0],
                         "debt_asset": ["USDC"], "debt": [5.0]})  # fmt: skip
    perps = pl.DataFrame({"account": [1], "market": ["BTC-PERP"], "size": [1.0],
                          "entry_price": [100.0], "margin": [10.0]})  # fmt: skip
    vaults = pl.DataFrame({"account": ["v"], "collateral_asset": ["ETH"], "ink": [1.0],
                           "art": [5.0]})  # fmt: skip
    funds = pl.DataFrame({"account": ["f"], "holding": ["ETH"], "amount": [1.0]})
    family: list[tuple[Any, pl.DataFrame, Any]] = [
        (dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend, sc.add_lending),
        (dl.PerpExchange([PERP]), perps, sc.add_perps),
        (dl.Vaults([dl.Clipper("ETH")]), vaults, sc.add_vaults),
        (dl.Funds.threshold(10.0), funds, sc.add_funds),
    ]
    for protocol, positions, add in family:
        one, two = sc.add(protocol, positions), add(protocol, positions)
        assert one.protocol_names == two.protocol_names == [protocol.name]
        a, b = ([*s.lending, *s.families] for s in (one, two))
        assert len(a) == len(b) == 1
        assert a[0].protocol == b[0].protocol
        assert a[0].positions.equals(b[0].positions)
    every = sc
    for protocol, positions, _ in family:
        every = every.add(protocol, positions)
    assert every.protocol_names == ["aave_v3", "perps", "maker", "funds"]
    assert every.n_accounts == 4
    with pytest.raises(
        dl.ScenarioError,
        match=r"^protocol must be a deleverage\.Lending, PerpExchange, Vaults or Funds, got dict$",
    ):
        sc.add({"kind": "aave_v3"}, lend)  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match=r"^exchange must be a deleverage\.PerpExchange$"):
        sc.add_perps(dl.Vaults([dl.Clipper("ETH")]), perps)  # type: ignore[arg-type]
    # A family's own errors come through add unchanged.
    with pytest.raises(dl.ScenarioError, match="a protocol named 'funds' is already"):
        every.add(dl.Funds.threshold(10.0), funds)


def test_numbers_are_stored_plain_so_scenario_files_can_be_written(tmp_path: Path) -> None:
    c = dl.Clipper("ETH", mat=np.float64(1.5), dust=np.int64(100))  # type: ignore[arg-type]
    assert type(c.mat) is float
    assert type(c.dust) is float
    sc = dl.Scenario(assets=[dl.Asset("ETH", np.float32(2_000.0))], seed=np.int64(3))  # type: ignore[arg-type]
    assert type(sc.seed) is int
    assert type(sc.assets[0].price) is float
    vaults = pl.DataFrame({"account": ["v"], "collateral_asset": ["ETH"], "ink": [1.0],
                           "art": [100.0]})  # fmt: skip
    sc = sc.add_vaults(dl.Vaults([c]), vaults)
    sc.to_toml(tmp_path / "v.toml")
    back = dl.Scenario.from_toml(tmp_path / "v.toml")
    assert back.families[0].protocol == sc.families[0].protocol
    with pytest.raises(dl.ScenarioError, match="is a folder"):
        sc.to_toml(tmp_path)


def test_analysis_and_sweep_arguments_are_named() -> None:
    sc = dl.examples.eth_lending(n_accounts=20, steps=3)
    with pytest.raises(dl.ScenarioError, match="metric must be one of"):
        dl.critical_shock(sc, "ETH", metric="foo")  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match="worst must be"):
        dl.critical_shock(sc, "ETH", worst=-1.5)
    with pytest.raises(dl.ScenarioError, match="runs must be a whole number"):
        dl.sweep(sc, runs=None)  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match=r"expected a deleverage\.Result"):
        dl.plot.result(sc)  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match=r"result must be a deleverage\.Result"):
        dl.breakdown(sc)  # type: ignore[arg-type]
    ex = dl.PerpExchange([PERP])
    pos = pl.DataFrame({"account": [1], "market": ["BTC-PERP"], "size": [1.0],
                        "entry_price": [100.0], "margin": [10.0]})  # fmt: skip
    with pytest.raises(dl.ScenarioError, match="prices lack the market 'BTC-PERP'"):
        ex.liquidatable(pos, {"ETH": 1.0})
    with pytest.raises(dl.ScenarioError, match=r"prices\['BTC-PERP'\] must be a finite"):
        ex.liquidatable(pos, {"BTC-PERP": math.nan})


def test_a_grid_of_scenarios_with_different_assets_stacks() -> None:
    a = dl.examples.eth_lending(n_accounts=50, steps=5)
    a = dl.Scenario(**{**a.__dict__, "shock": dl.Shock.gbm(sigma={"ETH": 1.0}, per="year")})
    b = dl.Scenario(
        assets=[dl.Asset("BTC", 100.0)], steps=5, shock=dl.Shock.gbm({"BTC": 1.0}, per="year")
    )
    out = dl.sweep({"eth": a, "btc": b}, runs=2)
    assert out.height == 4
    assert out.filter(pl.col("scenario") == "btc")["drawdown_ETH"].null_count() == 2


@pytest.mark.parametrize(
    ("make", "message", "field", "value"),
    [
        # Aave's configurator (MECHANICS §4.1): 0.9·(1 + 0.25) = 1.125 > 1; a collateral needs a
        # bonus. Compound v2's setters (§4.5): collateral factor ≤ 0.9, close factor in
        # [0.05, 0.9]. Comet: the storefront factor is a fraction.
        (
            lambda: dl.Lending.aave_v3({"USDC": dl.Reserve(0.0), "ETH": dl.Reserve(0.9, 0.25)}),
            "aave_v3 reserve ETH: liquidation_threshold must be such that "
            "liquidation_threshold·(1 + liquidation_bonus) <= 1, got 1.125",
            "liquidation_threshold",
            1.125,
        ),
        (
            lambda: dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.0)}),
            "aave_v3 reserve ETH: liquidation_bonus must be > 0, got 0",
            "liquidation_bonus",
            0.0,
        ),
        (
            lambda: dl.Lending.compound_v2({"ETH": dl.Reserve(0.95)}),
            "compound_v2 reserve ETH: collateral_factor must be in [0, 0.9], got 0.95",
            "collateral_factor",
            0.95,
        ),
        (
            lambda: dl.Lending.compound_v2({"ETH": dl.Reserve(0.8)}, close_factor=0.01),
            "compound_v2: close_factor must be in [0.05, 0.9], got 0.01",
            "close_factor",
            0.01,
        ),
        (
            lambda: dl.Lending.compound_v3(
                "USDC", {"ETH": dl.Reserve(0.8)}, store_front_price_factor=2.0
            ),
            "compound_v3: store_front_price_factor must be in [0, 1], got 2",
            "store_front_price_factor",
            2.0,
        ),
    ],
)
def test_protocol_bounds_come_from_the_core_with_field_and_value(
    make: Callable[[], object], message: str, field: str, value: float
) -> None:
    with pytest.raises(dl.ScenarioError) as info:
        make()
    assert str(info.value) == message
    assert (info.value.field, info.value.value) == (field, value)


def test_account_columns_are_read_where_they_are_and_left_as_they_were() -> None:
    # The core lays the accounts out straight from the spec's numpy columns (contiguous ones
    # are read in place). Strided views, other integer types and plain lists go through a
    # conversion of their own: every form gives the same run, and none is written to.
    import numpy as np

    from deleverage import _core
    from deleverage._spec import build_spec

    sc = dl.examples.eth_lending(n_accounts=300, seed=3)
    spec, _, _ = build_spec(sc, dl.Shock.instant(ETH=-0.3), 1, 50)
    want = _core.simulate(spec)["events"]
    acc = spec["families"][0]["accounts"]
    before = {k: np.array(v, copy=True) for k, v in acc.items()}
    strided = {k: np.repeat(v, 2)[::2] for k, v in acc.items()}
    assert not strided["collateral"].flags.c_contiguous
    forms = {
        "strided": strided,
        "int64 and lists": {
            k: (v.astype(np.int64) if v.dtype == np.uint32 else v.tolist()) for k, v in acc.items()
        },
    }
    for name, columns in forms.items():
        spec["families"][0]["accounts"] = columns
        got = _core.simulate(spec)["events"]
        for col in want:
            assert np.array_equal(got[col], want[col], equal_nan=True), (name, col)
    for k, v in acc.items():
        assert np.array_equal(v, before[k]), k
