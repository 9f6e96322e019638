"""Looped (recursive) leverage: the equivalent position of n loops (leverage Σ LTV^k, equity kept),
the loops a target leverage takes, the position's liquidation price by the engine's own rule
against the hand-derived one, and bad loop specifications."""

from __future__ import annotations

import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError


def test_n_loops_give_the_geometric_sum() -> None:
    # LTV 0.75, 3 loops from 10 ETH at 3,000: 1 + .75 + .5625 + .421875 = 2.734375.
    pos = dl.looped_positions(
        [10.0, 4.0], 0.75, loops=[3, 0], collateral_asset="ETH", debt_asset="USDC", price=3_000.0
    )
    a, b = pos.rows(named=True)
    assert a["leverage"] == pytest.approx(2.734375, rel=1e-15)
    assert a["collateral"] == pytest.approx(27.34375, rel=1e-15)
    assert a["debt"] == pytest.approx(10 * 3_000.0 * 1.734375, rel=1e-15)
    # Equity is what the account brought: 10 ETH at 3,000.
    assert a["collateral"] * 3_000.0 - a["debt"] == pytest.approx(30_000.0, rel=1e-12)
    assert (b["loops"], b["leverage"], b["collateral"], b["debt"]) == (0, 1.0, 4.0, 0.0)


def test_a_target_leverage_takes_the_loops_it_needs() -> None:
    # LTV 0.9: Σ_{0..5} 0.9^k = 4.68559 < 5 ≤ Σ_{0..6} = 5.217031: 6 loops, the last partial.
    pos = dl.looped_positions(
        2.0, 0.9, target_leverage=5.0, collateral_asset="wstETH", debt_asset="WETH", price=1.2
    )
    row = pos.row(0, named=True)
    assert row["loops"] == 6
    assert row["collateral"] == pytest.approx(10.0, rel=1e-15)
    assert row["debt"] == pytest.approx(2.0 * 1.2 * 4.0, rel=1e-15)


def test_the_liquidation_price_of_a_looped_position() -> None:
    # HF = C·p·LT/D < 1 below p* = D/(C·LT) = 3,000·Σ_{1..3}/(LT·Σ_{0..3})
    #    = 3,000·1.734375/(0.83·2.734375) = 2,292.598…
    pos = dl.looped_positions(
        [10.0], 0.75, loops=3, collateral_asset="ETH", debt_asset="USDC", price=3_000.0
    )
    sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)])
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
    got = dl.Engine(sc).liquidation_prices("ETH")
    want = 3_000.0 * 1.734375 / (0.83 * 2.734375)
    assert got["price"].item() == pytest.approx(want, rel=1e-12)
    assert got["direction"].item() == "below"
    # A 24 % fall (to 2,280) liquidates it; a 23 % fall (2,310) does not.
    for move, hit in [(-0.24, True), (-0.23, False)]:
        res = dl.simulate(sc, shock=dl.Shock.instant(ETH=move), max_extra_steps=0)
        assert (res.summary["liquidations"].item() > 0) is hit


def test_extra_columns_ride_along() -> None:
    # add_lending reads the five position columns; loops and leverage stay the caller's.
    pos = dl.looped_positions(
        [1.0], 0.5, loops=2, collateral_asset="ETH", debt_asset="USDC", price=2_000.0
    )
    sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0)])
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pos)
    assert pos.columns[-2:] == ["loops", "leverage"]
    assert dl.simulate(sc).accounts["account"].to_list() == ["loop0"]
    assert isinstance(pos, pl.DataFrame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ltv": 1.0, "loops": 2}, "ltv"),
        ({"ltv": -0.1, "loops": 2}, "ltv"),
        ({"ltv": 0.5, "target_leverage": 2.5}, "target_leverage"),
        ({"ltv": 0.5, "target_leverage": 0.5}, "target_leverage"),
        ({"ltv": 0.5}, "exactly one"),
        ({"ltv": 0.5, "loops": 2, "target_leverage": 1.5}, "exactly one"),
        ({"ltv": 0.5, "loops": 1.5}, "loops"),
        ({"ltv": 0.5, "loops": -1}, "loops"),
    ],
)
def test_bad_loop_specifications_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        dl.looped_positions(
            [1.0],
            collateral_asset="ETH",
            debt_asset="USDC",
            price=1.0,
            **kwargs,  # type: ignore[arg-type]
        )


def test_bad_collateral_and_price_are_named() -> None:
    with pytest.raises(ScenarioError, match="initial_collateral"):
        dl.looped_positions([0.0], 0.5, loops=1, collateral_asset="A", debt_asset="B", price=1.0)
    with pytest.raises(ScenarioError, match="price"):
        dl.looped_positions([1.0], 0.5, loops=1, collateral_asset="A", debt_asset="B", price=0.0)


def test_a_target_near_the_limit_of_infinitely_many_loops() -> None:
    # Found in review: a target just below 1/(1 − ltv) never ended. LTV 0.99: the limit is 100;
    # 99.9999 takes ln(1 − 99.9999·0.01)/ln 0.99 − 1 ≈ 1,374 loops, and a target within 1e-9
    # of the limit is refused by name.
    pos = dl.looped_positions(
        1.0, 0.99, target_leverage=99.9999, collateral_asset="A", debt_asset="B", price=1.0
    )
    assert 1_370 <= pos["loops"].item() <= 1_380
    with pytest.raises(ScenarioError, match="target_leverage"):
        dl.looped_positions(
            1.0,
            0.99,
            target_leverage=99.99999999999,
            collateral_asset="A",
            debt_asset="B",
            price=1.0,
        )
