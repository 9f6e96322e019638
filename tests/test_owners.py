"""Owners across protocols (issue 18, item 4, reporting): the ``owner`` column on every family's
positions, each owner's balance sheet per protocol and its leverage across them, worked by hand
before and after a shock; bad owner columns named."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError


def owned(owner: list[str | None] | None = None) -> dl.Scenario:
    # One owner "fund": a lending account (10 ETH against 12,000 USDC), a perp long (5 ETH-PERP
    # at 2,000 on 2,000 of margin) and a fund holding (5 ETH against 5,000 of debt); "other"
    # owns a second lending account. Every price is the reference.
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, oracle=dl.Oracle.reference()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
            dl.Asset("ETH-PERP", 2_000.0, oracle=dl.Oracle.reference()),
        ],
        steps=3,
    )
    lend = pl.DataFrame(
        {
            "account": ["a", "b"],
            "collateral_asset": ["ETH", "ETH"],
            "collateral": [10.0, 1.0],
            "debt_asset": ["USDC", "USDC"],
            "debt": [12_000.0, 500.0],
            "owner": owner or ["fund", "other"],
        }
    )
    perp = pl.DataFrame(
        {
            "account": ["p"],
            "market": ["ETH-PERP"],
            "size": [5.0],
            "entry_price": [2_000.0],
            "margin": [2_000.0],
            "owner": ["fund"],
        }
    )
    fund = pl.DataFrame(
        {
            "account": ["f", "f"],
            "holding": ["ETH", "debt"],
            "amount": [5.0, 5_000.0],
            "owner": ["fund", "fund"],
        }
    )
    venue = dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.examples.BTC_BRACKETS)])
    return (
        sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), lend)
        .add_perps(venue, perp)
        .add_funds(dl.Funds.threshold(10.0, name="hedge"), fund)
    )


def test_exposure_before_the_shock() -> None:
    ex = dl.exposure_by_owner(owned())
    fund = ex.filter(owner="fund")
    assert fund.select("protocol", "family", "assets", "liabilities", "equity").rows() == [
        ("aave_v3", "lending", 20_000.0, 12_000.0, 8_000.0),
        ("hedge", "funds", 10_000.0, 5_000.0, 5_000.0),
        ("perps", "perps", 10_000.0, 8_000.0, 2_000.0),
    ]
    assert fund["leverage"].to_list() == [2.5, 2.0, 5.0]
    # 40,000 of assets on 15,000 of equity across the three protocols.
    assert fund["owner_leverage"].unique().item() == pytest.approx(40_000 / 15_000, rel=1e-15)
    other = ex.filter(owner="other").row(0, named=True)
    assert (other["assets"], other["equity"], other["accounts"]) == (2_000.0, 1_500.0, 1)


def test_exposure_after_a_ten_percent_fall() -> None:
    # At 1,800: lending 18,000 against 12,000; the perp long's equity 2,000 + 5·(1,800 − 2,000)
    # = 1,000 on 9,000 of notional (maintenance 0.4 %: 36, not liquidated); the fund 9,000
    # against 5,000 (leverage 2.25, below its limit of 10).
    sc = owned()
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1, **{"ETH-PERP": -0.1}))
    assert res.events.height == 0
    fund = dl.exposure_by_owner(sc, res).filter(owner="fund")
    assert fund["assets"].to_list() == pytest.approx([18_000.0, 9_000.0, 9_000.0], rel=1e-12)
    assert fund["equity"].to_list() == pytest.approx([6_000.0, 4_000.0, 1_000.0], rel=1e-12)
    assert fund["owner_leverage"].unique().item() == pytest.approx(36_000 / 11_000, rel=1e-12)


def test_an_owner_column_with_nulls_or_two_owners_for_an_account_is_named() -> None:
    with pytest.raises(ScenarioError, match=r"aave_v3: positions\.owner has a null \(row 1\)"):
        owned(["fund", None])
    lend = pl.DataFrame(
        {
            "account": ["a", "a"],
            "collateral_asset": ["ETH", "ETH"],
            "collateral": [1.0, 1.0],
            "debt_asset": ["USDC", "USDC"],
            "debt": [1.0, 1.0],
            "owner": ["x", "y"],
        }
    )
    sc = dl.Scenario(assets=[dl.Asset("ETH", 1.0), dl.Asset("USDC", 1.0)])
    with pytest.raises(ScenarioError, match="account 'a' two owners"):
        sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)


def test_exposure_without_owners_or_with_a_wrong_argument_is_named() -> None:
    sc = dl.examples.eth_lending(n_accounts=10, steps=2)
    with pytest.raises(ScenarioError, match="no positions frame of the scenario has an owner"):
        dl.exposure_by_owner(sc)
    with pytest.raises(ScenarioError, match=r"result must be a deleverage\.Result"):
        dl.exposure_by_owner(owned(), "res")  # type: ignore[arg-type]


def test_owners_round_trip_through_a_scenario_file(tmp_path: Path) -> None:
    sc = owned()
    path = tmp_path / "owned.toml"
    sc.to_toml(path)
    back = dl.Scenario.from_toml(path)
    assert dl.exposure_by_owner(back).equals(dl.exposure_by_owner(sc))


def test_the_owner_column_does_not_change_a_run() -> None:
    sc = owned()
    bare = dl.Scenario(assets=sc.assets, steps=3)
    for b in sc.lending:
        bare = bare.add_lending(b.protocol, b.positions.drop("owner"))
    for f in sc.families:
        bare = bare.add(f.protocol, f.positions.drop("owner"))
    shock = dl.Shock.instant(ETH=-0.3, **{"ETH-PERP": -0.3})
    a, b = dl.simulate(sc, shock=shock), dl.simulate(bare, shock=shock)
    assert a.events.equals(b.events)
    assert a.accounts.equals(b.accounts)
    assert a.positions.equals(b.positions)
