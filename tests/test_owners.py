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


def margin_call(cash: float, with_perp: bool = True) -> dl.Scenario:
    # "fund" owns a lending account (10 ETH against 11,000 USDC, LT 0.83) and a perp long (10
    # ETH-PERP at 2,000 on 1,000 of margin, MM 0.4 %); ETH and ETH-PERP fall 10 % at step 0.
    # Its policy: perp pools back to 1.1·MM, lending health 1.5. ETH sells on a curve so deep
    # (slope 1e-15) that a sale fills at the oracle to 1e-11.
    eth = dl.ImpactCurve.linear(2_000.0, 1e-15)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[eth], oracle=dl.Oracle.reference()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
            dl.Asset("ETH-PERP", 2_000.0, oracle=dl.Oracle.reference()),
        ],
        steps=2,
    )
    lend = pl.DataFrame(
        {
            "account": ["loan"],
            "collateral_asset": ["ETH"],
            "collateral": [10.0],
            "debt_asset": ["USDC"],
            "debt": [11_000.0],
            "owner": ["fund"],
        }
    )
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), lend)
    if with_perp:
        perp = pl.DataFrame(
            {
                "account": ["long"],
                "market": ["ETH-PERP"],
                "size": [10.0],
                "entry_price": [2_000.0],
                "margin": [1_000.0],
                "owner": ["fund"],
            }
        )
        venue = dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.examples.BTC_BRACKETS)])
        sc = sc.add_perps(venue, perp)
    policy = dl.Owner(cash=cash, margin_buffer=0.1, target_health=1.5)
    return sc.with_owners({"fund": policy})


SHOCK = dl.Shock.instant(ETH=-0.1, **{"ETH-PERP": -0.1})


def test_a_perp_loss_paid_from_cash_forces_the_lending_account_to_deleverage() -> None:
    # The perp long at 1,800: equity 1,000 + 10·(1,800 − 2,000) = −1,000, MM 18,000·0.4 % = 72,
    # so the owner posts 1.1·72 + 1,000 = 1,079.2 and has 920.8 left.
    # The loan at 1,800: W = 10·1,800·0.83 = 14,940, B = 11,000, HF 1.358 < 1.5: it needs
    # R = 11,000 − 14,940/1.5 = 1,040 repaid. Cash pays 920.8 (B' = 10,079.2); the rest comes
    # from selling q = (1.5·10,079.2 − 14,940)/(1,800·(1.5 − 0.83)) = 0.148259 ETH for
    # 266.866, which repays as much debt and leaves the loan at HF 1.5 with no cash left.
    res = dl.simulate(margin_call(2_000.0), shock=SHOCK, max_extra_steps=0)
    ev = res.events
    top = ev.filter(kind="owner_top_up").row(0, named=True)
    assert (top["account"], top["notional"]) == ("long", pytest.approx(1_079.2, rel=1e-12))
    repay = ev.filter(kind="owner_repay").row(0, named=True)
    assert repay["debt_repaid_value"] == pytest.approx(920.8, rel=1e-12)
    sale = ev.filter(kind="owner_sale").row(0, named=True)
    q = (1.5 * 10_079.2 - 14_940) / (1_800 * (1.5 - 0.83))
    assert sale["qty"] == pytest.approx(q, rel=1e-9)
    assert sale["notional"] == pytest.approx(q * 1_800, rel=1e-9)
    assert sale["debt_repaid"] == pytest.approx(q * 1_800, rel=1e-9)
    # The steps frame carries the sale's proceeds apart from liquidations.
    eth = res.steps.filter(asset="ETH", step=0).row(0, named=True)
    assert eth["owner_sold_notional"] == pytest.approx(q * 1_800, rel=1e-9)
    assert eth["liquidated_notional"] == 0.0
    assert res.accounts["health"].item() == pytest.approx(1.5, rel=1e-9)
    assert res.meta["owner_cash"][0] == pytest.approx(0.0, abs=1e-9)
    # Nobody was liquidated: the perp pool stays at 1.1·MM, the loan at 1.5.
    assert ev.filter(pl.col("kind").is_in(["liquidation", "perp_liquidation"])).height == 0
    pos = res.positions.row(0, named=True)
    assert pos["equity"] == pytest.approx(1.1 * 72.0, rel=1e-9)


def test_without_the_perp_loss_the_cash_repays_the_loan() -> None:
    # The same loan alone: 1,040 repaid from 2,000 of cash, 960 left, nothing sold.
    res = dl.simulate(margin_call(2_000.0, with_perp=False), shock=SHOCK, max_extra_steps=0)
    kinds = res.events["kind"].cast(pl.String).to_list()
    assert kinds == ["owner_repay"]
    assert res.events["debt_repaid_value"].item() == pytest.approx(1_040.0, rel=1e-12)
    assert res.meta["owner_cash"][0] == pytest.approx(960.0, rel=1e-12)
    ex = dl.exposure_by_owner(margin_call(2_000.0, with_perp=False), res)
    assert ex["cash"].item() == pytest.approx(960.0, rel=1e-12)


def test_bad_owner_policies_are_named() -> None:
    sc = margin_call(1.0).with_owners({"fund": dl.Owner(target_health=1.0)})
    with pytest.raises(ScenarioError, match=r"owners\[0\]\.target_health.*1"):
        dl.simulate(sc, max_extra_steps=0)
    with pytest.raises(ScenarioError, match=r"owners\[0\]\.cash.*-5"):
        dl.simulate(margin_call(-5.0), max_extra_steps=0)
    with pytest.raises(ScenarioError, match="'ghost' owns no account"):
        dl.simulate(margin_call(1.0).with_owners({"ghost": dl.Owner()}), max_extra_steps=0)
    with pytest.raises(ScenarioError, match="owner cash must be a number"):
        dl.Owner(cash="lots")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="dict of owner name"):
        margin_call(1.0).with_owners([("fund", dl.Owner())])  # type: ignore[arg-type]


def test_owner_policies_round_trip_through_a_scenario_file(tmp_path: Path) -> None:
    sc = margin_call(2_000.0)
    path = tmp_path / "margin_call.toml"
    sc.to_toml(path)
    back = dl.Scenario.from_toml(path)
    assert back.owners == sc.owners
    a = dl.simulate(sc, shock=SHOCK, max_extra_steps=0)
    b = dl.simulate(back, shock=SHOCK, max_extra_steps=0)
    assert a.events.equals(b.events)
    path.write_text(path.read_text().replace("target_health = 1.5", "target_health = 0.5"))
    with pytest.raises(ScenarioError, match=r"target_health.*0\.5"):
        dl.simulate(dl.Scenario.from_toml(path), max_extra_steps=0)


def one_loan(oracle: dl.Oracle, slope: float, steps: int = 2) -> dl.Scenario:
    # The loan of margin_call alone, on a curve of impact `slope`, with no cash: every repayment
    # is a sale of ETH.
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[dl.ImpactCurve.linear(2_000.0, slope)], oracle=oracle),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
        ],
        steps=steps,
    )
    lend = margin_call(0.0, with_perp=False).lending[0]
    return sc.add_lending(lend.protocol, lend.positions).with_owners(
        {"fund": dl.Owner(cash=0.0, target_health=1.5)}
    )


def test_an_owner_never_sells_its_own_account_into_liquidation() -> None:
    # On a spot oracle and a thin curve, the full q would crash the price the collateral left is
    # valued at: the owner sells less, and the account ends healthier than it started the step
    # (HF 14,940/11,000 = 1.358), never liquidated.
    res = dl.simulate(one_loan(dl.Oracle.spot(), 2e-4), shock=dl.Shock.instant(ETH=-0.1))
    assert res.events.filter(kind="liquidation").height == 0
    assert res.accounts["status"].cast(pl.String).item() == "active"
    assert res.accounts["health"].item() >= 14_940 / 11_000


def test_the_run_is_not_quiet_while_an_owner_sells() -> None:
    sc = one_loan(dl.Oracle.twap(120.0), 3e-5, steps=1)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1), max_extra_steps=200)
    sales = res.events.filter(kind="owner_sale")
    assert sales.height > 0
    # Quiet came only after the sales stopped, the TWAP's window (10 steps) later.
    assert res.summary["steps_run"].item() > int(sales["step"].max()) + 10  # type: ignore[arg-type]


def test_rounding_makes_no_owner_rows() -> None:
    res = dl.simulate(margin_call(2_000.0), shock=SHOCK, max_extra_steps=5)
    counts = res.events.group_by(pl.col("kind").cast(pl.String)).len().sort("kind").rows()
    assert counts == [("owner_repay", 1), ("owner_sale", 1), ("owner_top_up", 1)]


def test_owners_behind_the_sentinel_wait_for_the_sequencer() -> None:
    # Aave 3.3 checks the PriceOracleSentinel: with the sequencer down at step 0 the owner
    # cannot repay; it does at step 1, in the grace period.
    sc = margin_call(2_000.0, with_perp=False).with_outages(
        dl.Outage.sequencer(start=0, end=1, grace_steps=2)
    )
    res = dl.simulate(sc, shock=SHOCK, max_extra_steps=0)
    assert res.events.filter(kind="owner_repay")["step"].to_list() == [1]


def test_a_zero_margin_buffer_and_a_twice_named_owner_are_named(tmp_path: Path) -> None:
    sc = margin_call(1.0).with_owners({"fund": dl.Owner(margin_buffer=0.0)})
    with pytest.raises(ScenarioError, match=r"owners\[0\]\.margin_buffer"):
        dl.simulate(sc, max_extra_steps=0)
    path = tmp_path / "twice.toml"
    margin_call(2_000.0).to_toml(path)
    text = path.read_text()
    path.write_text(text.replace("owners = [", 'owners = [\n    { name = "fund", cash = 7.0 },', 1))
    with pytest.raises(ScenarioError, match="'fund' is given twice"):
        dl.Scenario.from_toml(path)
