"""The liquidation-cascade engine through ``dl.simulate``, against numbers derived by hand.

Every expected value is computed here, independently of the engine: from the published formulas of
``MECHANICS.md`` (§2 venues, §3 oracles, §4 lending, §8 identities), its worked examples 3a/3b,
closed forms evaluated in the test, or conservation laws between frames. The arithmetic is in the
comments. No expectation is a copy of what the engine printed.
"""

from __future__ import annotations

import math
import re

import numpy as np
import polars as pl
import pytest

import deleverage as dl

REL = 1e-9  # MECHANICS §1.3 / §8: "exact to 1e-9 relative"


def approx(x: float, rel: float = REL, abs: float = 1e-9) -> object:
    return pytest.approx(x, rel=rel, abs=abs)


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


def market(
    eth_venues: list[dl.Venue],
    *,
    eth_price: float = 100.0,
    eth_oracle: dl.Oracle | None = None,
    stables: tuple[str, ...] = ("USDC",),
    steps: int = 3,
    liquidators: dl.Liquidators | None = None,
) -> dl.Scenario:
    """ETH on ``eth_venues``; stablecoins at 1 on the reference oracle, without venues."""
    assets = [
        dl.Asset("ETH", eth_price, venues=eth_venues, oracle=eth_oracle or dl.Oracle.spot()),
        *(dl.Asset(s, 1.0, oracle=dl.Oracle.reference()) for s in stables),
    ]
    return dl.Scenario(
        assets=assets,
        steps=steps,
        step_seconds=12.0,
        liquidators=liquidators or dl.Liquidators(),
    )


def eth_usdc(accounts: dict[str, tuple[float, float]]) -> pl.DataFrame:
    """One row per account: (ETH collateral, USDC debt)."""
    return pl.DataFrame(
        {
            "account": list(accounts),
            "collateral_asset": ["ETH"] * len(accounts),
            "collateral": [c for c, _ in accounts.values()],
            "debt_asset": ["USDC"] * len(accounts),
            "debt": [d for _, d in accounts.values()],
        }
    )


def aave(
    lt: float = 0.8,
    bonus: float = 0.05,
    fee: float = 0.0,
    *,
    version: str = "3.3",
    name: str = "aave",
) -> dl.Lending:
    return dl.Lending.aave_v3(
        {"ETH": dl.Reserve(liquidation_threshold=lt, liquidation_bonus=bonus, protocol_fee=fee)},
        version=version,
        name=name,
    )


def deep_curve(price: float) -> dl.ImpactCurve:
    """A linear curve so deep (slope 1e-12 per $) that a sale moves the price by < 1e-8."""
    return dl.ImpactCurve.linear(price=price, slope=1e-12)


def liquidations(res: dl.Result) -> pl.DataFrame:
    return res.events.filter(pl.col("kind") == "liquidation")


def eth_steps(res: dl.Result) -> pl.DataFrame:
    return res.steps.filter(pl.col("asset") == "ETH").sort("step")


# Cascade scenario of the Rust engine tests: Aave v3.3, ETH LT 0.8, bonus 5 %, no fee; 10 ETH per
# account. An account with debt D breaches when 10·p·0.8 < D, i.e. below p = D/8:
#   780 → 97.5,  760 → 95,  720 → 90,  640 → 80.
# All positions are below $2,000 of collateral (10 ETH < $1,000), so v3.3 liquidates the whole debt
# reserve (MECHANICS §4.2): seized = D·1.05/p units, worth q = 1.05·D of quote at the oracle price.
ELL = 3e-5
CASCADE = {"a0": (10.0, 780.0), "a1": (10.0, 760.0), "a2": (10.0, 720.0)}


# --------------------------------------------------------------------------------------------
# 1. Cascades with hand-derived outcomes
# --------------------------------------------------------------------------------------------


def test_cascade_on_a_linear_curve_stops_at_a_computable_price() -> None:
    curve = dl.ImpactCurve.linear(price=100.0, slope=ELL)
    sc = market([curve]).add_lending(aave(name="aave_eth"), eth_usdc(CASCADE))
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.03))

    # Shock −3 %: S0 = 97 < 97.5 → a0 breaches (HF = 776/780), a1 (776/760) and a2 do not.
    # Round 0: a0 seized 780·1.05/97 ETH, worth q0 = 819 at 97; linear curve (§2.7):
    #   S1 = 97·(1 − 819·ELL) = 94.61671 < 95 → a1 breaches (HF = 8·S1/760 = 0.99597).
    # Round 1: a1 seized 760·1.05/S1, q1 = 798: S2 = S1·(1 − 798·ELL) = 92.35159 > 90 → a2 safe.
    s0 = 97.0
    s1 = s0 * (1 - 819 * ELL)
    s2 = s1 * (1 - 798 * ELL)
    assert s1 == approx(94.61671)
    assert s2 == approx(92.3515860, rel=1e-8)

    ev = res.events
    assert ev["kind"].cast(pl.String).to_list() == ["liquidation", "liquidation"]
    assert ev["step"].to_list() == [0, 0]
    assert ev["round"].to_list() == [0, 1]
    # labels, protocol name and asset names are joined back onto the engine's ids
    assert ev["account"].to_list() == ["a0", "a1"]
    assert ev["account_id"].to_list() == [0, 1]
    assert ev["protocol"].to_list() == ["aave_eth", "aave_eth"]
    assert ev["asset"].to_list() == ["ETH", "ETH"]
    assert ev["debt_asset"].to_list() == ["USDC", "USDC"]

    seized = [780 * 1.05 / s0, 760 * 1.05 / s1]
    for row, d, c, s_before, s_after, q in zip(
        ev.iter_rows(named=True),
        [780.0, 760.0],
        seized,
        [s0, s1],
        [s1, s2],
        [819.0, 798.0],
        strict=True,
    ):
        assert row["debt_repaid"] == approx(d)
        assert row["debt_repaid_value"] == approx(d)  # USDC at 1
        assert row["collateral_seized"] == approx(c)
        assert row["bonus"] == approx(c - c / 1.05)  # §4.3 bonusCollateral
        assert row["protocol_fee"] == approx(0.0)
        assert row["bad_debt"] == approx(0.0)
        assert row["qty"] == approx(c)  # sell_fraction 1, no fee: all of it is sold
        # exact-integral VWAP of the linear curve (§2.7): S·(1 − ELL·q/2),
        # so notional = q·(1 − ELL·q/2)
        assert row["notional"] == approx(q * (1 - ELL * q / 2))
        assert row["vwap"] == approx(s_before * (1 - ELL * q / 2))
        assert row["vwap"] == approx(row["notional"] / row["qty"])
        assert row["price_before"] == approx(s_before)
        assert row["price_after"] == approx(s_after)

    acc = res.accounts
    assert acc["account"].to_list() == ["a0", "a1", "a2"]
    assert acc["protocol"].to_list() == ["aave_eth"] * 3
    assert acc["status"].cast(pl.String).to_list() == ["closed", "closed", "active"]
    assert acc["times_liquidated"].to_list() == [1, 1, 0]
    # closed accounts have no debt: health is undefined (null), not infinite
    assert acc["health"][0] is None
    assert acc["health"][1] is None
    assert acc["health"][2] == approx(8 * s2 / 720)  # 10·S2·0.8/720
    # final values at the final (spot) oracle S2
    assert acc["collateral_value"].to_list() == [
        approx((10 - seized[0]) * s2),
        approx((10 - seized[1]) * s2),
        approx(10 * s2),
    ]
    assert acc["debt_value"].to_list() == [approx(0.0), approx(0.0), approx(720.0)]
    assert acc["equity"].to_list() == [
        approx(x) for x in (acc["collateral_value"] - acc["debt_value"])
    ]
    # liquidated notional: seized units at the oracle price of the liquidation = 1.05·D
    assert acc["liquidated_notional"].to_list() == [approx(819.0), approx(798.0), approx(0.0)]

    st = eth_steps(res)
    assert st["reference"][0] == approx(97.0)
    assert st["mid"][0] == approx(s2)
    assert st["oracle"][0] == approx(s2)
    assert st["liquidation_count"][0] == 2
    assert st["liquidated_notional"][0] == approx(819.0 + 798.0)
    assert (st["liquidation_count"][1:] == 0).all()
    assert (st["mid"] == st["mid"][0]).all()  # no exogenous move after step 0, no resilience

    s = res.to_dict()
    assert s["liquidations"] == 2
    assert s["accounts_liquidated"] == 2
    assert s["liquidated_notional"] == approx(1617.0)
    assert s["debt_repaid_value"] == approx(1540.0)
    assert s["bad_debt"] == approx(0.0)
    assert s["first_liquidation_step"] == 0
    assert s["steps_to_quiet"] == 1
    assert s["drawdown_ETH"] == approx(s2 / 100 - 1)
    assert s["exogenous_drawdown_ETH"] == approx(-0.03)
    assert s["amplification_ETH"] == approx((s2 / 100 - 1) / -0.03)

    m = res.meta
    assert m["liquidators_paid"] == approx(1540.0)
    assert m["liquidators_received"] == approx(
        819 * (1 - ELL * 819 / 2) + 798 * (1 - ELL * 798 / 2)
    )
    assert m["liquidators_seized"][0] == approx(sum(seized))
    assert m["sold"][0] == approx(sum(seized))


def linear_book_walk(anchor: float, consumed: float, qty: float) -> tuple[float, float]:
    """Independent model of MECHANICS §2.4/§2.5: bids at anchor·(1 − k/100), k = 1…99, one unit
    each, ``consumed`` units already taken from the inside. Returns (notional, new consumed)."""
    notional, left = 0.0, qty
    for k in range(1, 100):
        resting = 1.0 - min(1.0, max(0.0, consumed - (k - 1)))
        take = min(left, resting)
        notional += take * anchor * (1 - k / 100)
        consumed += take
        left -= take
        if left <= 0:
            break
    return notional, consumed


def test_cascade_on_a_linear_book_by_ticks() -> None:
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=99, depth_per_level=1.0)
    debts = {**CASCADE, "a3": (10.0, 640.0)}
    sc = market([book]).add_lending(aave(), eth_usdc(debts))
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.03))

    # The −3 % shock re-anchors the book at 97: bid k at 97(1 − k/100), ask k at 97(1 + k/100).
    # a0 (trigger 97.5) sells 780·1.05/97 = 8.4433 ETH: levels 1–8 and 0.4433 of level 9;
    #   best bid 97·0.91, mid 97·(0.91 + 1.01)/2 = 93.12 < 95.
    # a1 sells 760·1.05/93.12 = 8.5696: rest of level 9, levels 10–17, part of 18;
    #   mid 97·(0.82 + 1.01)/2 = 88.755 < 90.
    # a2 sells 720·1.05/88.755 = 8.5178: rest of level 18, levels 19–25, part of 26;
    #   mid 97·(0.74 + 1.01)/2 = 84.875 > 80: a3 (trigger 80) is safe.
    mids = [97.0, 97 * 0.96, 97 * 0.915, 97 * 0.875]
    assert mids[1:] == [approx(93.12), approx(88.755), approx(84.875)]

    ev = res.events
    assert ev["account"].to_list() == ["a0", "a1", "a2"]
    assert ev["round"].to_list() == [0, 1, 2]
    assert ev["step"].to_list() == [0, 0, 0]
    consumed = 0.0
    for i, (row, d) in enumerate(zip(ev.iter_rows(named=True), [780, 760, 720], strict=True)):
        seized = d * 1.05 / mids[i]
        notional, consumed = linear_book_walk(97.0, consumed, seized)
        assert row["collateral_seized"] == approx(seized)
        assert row["qty"] == approx(seized)
        assert row["notional"] == approx(notional)
        assert row["vwap"] == approx(notional / seized)
        assert row["price_before"] == approx(mids[i])
        assert row["price_after"] == approx(mids[i + 1])
    # the first sale by hand: 8 full levels 97·(0.99 + … + 0.92) + 0.4433·97·0.91
    first = 97 * sum(1 - k / 100 for k in range(1, 9)) + (780 * 1.05 / 97 - 8) * 97 * 0.91
    assert ev["notional"][0] == approx(first)

    acc = res.accounts
    assert acc["status"].cast(pl.String).to_list() == ["closed", "closed", "closed", "active"]
    assert acc["health"][3] == approx(8 * 84.875 / 640)  # 679/640 = 1.0609
    st = eth_steps(res)
    assert st["mid"][0] == approx(84.875)
    assert st["best_bid"][0] == approx(97 * 0.74)
    assert st["best_ask"][0] == approx(97 * 1.01)
    usdc = res.steps.filter(pl.col("asset") == "USDC")
    assert usdc["best_bid"].is_null().all()
    assert usdc["best_ask"].is_null().all()
    assert (usdc["mid"] == 1.0).all()
    assert (usdc["oracle"] == 1.0).all()


# --------------------------------------------------------------------------------------------
# 2. Lending rules: Aave v3 worked examples 3a/3b, Compound v2
# --------------------------------------------------------------------------------------------

ELL_DEEP = 1e-9


def example_3a(version: str) -> dl.Result:
    # ETH on the reference oracle: the path sets the oracle to exactly 2,450 at step 0.
    curve = dl.ImpactCurve.linear(price=2_600.0, slope=ELL_DEEP)
    sc = market([curve], eth_price=2_600.0, eth_oracle=dl.Oracle.reference()).add_lending(
        aave(0.80, 0.07, 0.15, version=version), eth_usdc({"u": (4.2, 9_800.0)})
    )
    return dl.simulate(sc, shock=dl.Shock.path({"ETH": [2_450.0] * 3}))


def test_aave_worked_example_3a_leaves_a_deficit() -> None:
    res = example_3a("3.3")
    # HF = 4.2·2,450·0.8/9,800 = 0.84 ≤ 0.95 → maxDebt 9,800; maxCollateral 4·1.07 = 4.28 > 4.2:
    # seize all 4.2, repaid = 4.2·2,450/1.07; bonus 4.2 − 4.2/1.07; fee 0.15·bonus;
    # deficit 9,800 − repaid (MECHANICS §4.4, worked example 3a).
    repaid = 4.2 * 2_450 / 1.07
    bonus = 4.2 - 4.2 / 1.07
    fee = 0.15 * bonus
    deficit = 9_800 - repaid
    assert repaid == approx(9_616.82242991, rel=1e-11)
    assert bonus == approx(0.274766355140, rel=1e-11)
    assert fee == approx(0.0412149532710, rel=1e-11)
    assert deficit == approx(183.177570093, rel=1e-10)

    # The liquidation that takes the last collateral carries the bad debt it leaves on its row.
    ev = res.events
    assert ev["kind"].cast(pl.String).to_list() == ["liquidation"]
    assert ev["step"].to_list() == [0]
    liq = ev.row(0, named=True)
    assert liq["account"] == "u"
    assert liq["debt_repaid"] == approx(9_616.82242991, rel=1e-11)
    assert liq["debt_repaid_value"] == approx(repaid)
    assert liq["collateral_seized"] == approx(4.2)
    assert liq["bonus"] == approx(bonus)
    assert liq["protocol_fee"] == approx(0.0412149532710, rel=1e-11)
    # the liquidator receives 4.2 − fee = 4.15878504673 and sells it all on the deep curve
    to_liq = 4.2 - fee
    assert to_liq == approx(4.15878504673, rel=1e-11)
    assert liq["qty"] == approx(to_liq)
    q = to_liq * 2_450
    assert liq["notional"] == approx(q * (1 - ELL_DEEP * q / 2))
    assert liq["bad_debt"] == approx(deficit)
    assert liq["protocol"] == "aave"

    assert res.summary["bad_debt"].item() == approx(183.177570093, rel=1e-10)
    acc = res.accounts.row(0, named=True)
    assert acc["status"] == "bad_debt"
    assert acc["bad_debt"] == approx(deficit)
    # v3.3 burns the remaining debt into the reserve's deficit: nothing is left on the account
    assert acc["debt_value"] == approx(0.0)
    assert acc["collateral_value"] == approx(0.0)
    assert acc["liquidated_notional"] == approx(4.2 * 2_450)
    m = res.meta
    assert m["deficit"][0] == [approx(0.0), approx(deficit)]  # [ETH, USDC] of protocol 0
    assert m["treasury"][0] == [approx(fee), approx(0.0)]
    assert eth_steps(res)["cumulative_bad_debt"][-1] == approx(deficit)


def test_aave_3a_before_v33_leaves_the_debt_on_the_account() -> None:
    # v3.2: same seizure (HF 0.84 ≤ 0.95 → close factor 100 %), no deficit write-off (§4.4):
    # the 183.18 USDC stay on the account as bad debt.
    res = example_3a("3.2")
    deficit = 9_800 - 4.2 * 2_450 / 1.07
    assert res.summary["bad_debt"].item() == approx(deficit)
    acc = res.accounts.row(0, named=True)
    assert acc["status"] == "bad_debt"
    assert acc["debt_value"] == approx(deficit)
    assert acc["health"] == approx(0.0)  # no collateral, debt left: HF = 0/B
    assert res.meta["deficit"][0] == [approx(0.0), approx(0.0)]


@pytest.mark.parametrize(
    ("version", "repaid"),
    [
        # v3.3: HF 0.988 > 0.95, coll and USDC debt ≥ $2,000: cap = 0.5·119,000 = 59,500 < 80,000
        ("3.3", 59_500.0),
        # v3.0–3.2: 50 % of the largest debt reserve: 0.5·80,000
        ("3.2", 40_000.0),
    ],
)
def test_aave_worked_example_3b_close_factor(version: str, repaid: float) -> None:
    # 60 ETH at 2,450; debts 80,000 USDC and 39,000 DAI in one account (two position rows).
    positions = pl.DataFrame(
        {
            "account": ["w", "w"],
            "collateral_asset": ["ETH", "ETH"],
            "collateral": [60.0, 0.0],
            "debt_asset": ["USDC", "DAI"],
            "debt": [80_000.0, 39_000.0],
        }
    )
    curve = dl.ImpactCurve.linear(price=2_600.0, slope=ELL_DEEP)
    sc = market(
        [curve], eth_price=2_600.0, eth_oracle=dl.Oracle.reference(), stables=("USDC", "DAI")
    ).add_lending(aave(0.80, 0.07, 0.15, version=version), positions)
    res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [2_450.0] * 3}))

    # HF = 147,000·0.8/119,000 = 0.988235294
    seized = repaid * 1.07 / 2_450  # 3.3: 25.9857142857
    bonus = seized - seized / 1.07  # 3.3: 1.7
    fee = 0.15 * bonus  # 3.3: 0.255
    if version == "3.3":
        assert (seized, bonus, fee) == (approx(25.9857142857), approx(1.7), approx(0.255))
    ev = res.events
    assert ev["kind"].cast(pl.String).to_list() == ["liquidation"]
    row = ev.row(0, named=True)
    assert row["debt_asset"] == "USDC"  # the largest debt reserve
    assert row["asset"] == "ETH"
    assert row["debt_repaid"] == approx(repaid)
    assert row["collateral_seized"] == approx(seized)
    assert row["bonus"] == approx(bonus)
    assert row["protocol_fee"] == approx(fee)
    assert row["qty"] == approx(seized - fee)

    # After: (60 − seized)·2,450 of collateral, 119,000 − repaid of debt.
    # 3.3: 83,335·0.8/59,500 = 1.12047058824 (= HF + r(HF − LT(1+β))/(B − r), §8)
    coll = (60 - seized) * 2_450
    debt = 119_000 - repaid
    hf0 = 117_600 / 119_000
    acc = res.accounts.row(0, named=True)
    assert acc["status"] == "liquidated"
    assert acc["collateral_value"] == approx(coll)
    assert acc["debt_value"] == approx(debt)
    assert acc["health"] == approx(coll * 0.8 / debt)
    assert acc["health"] == approx(hf0 + repaid * (hf0 - 0.8 * 1.07) / (119_000 - repaid))
    if version == "3.3":
        assert acc["health"] == approx(1.12047058824, rel=1e-10)


def compound(positions: pl.DataFrame, price: float) -> dl.Result:
    curve = dl.ImpactCurve.linear(price=1_250.0, slope=ELL_DEEP)
    lending = dl.Lending.compound_v2(
        {"ETH": dl.Reserve(liquidation_threshold=0.825)},
        close_factor=0.5,
        liquidation_incentive=1.08,
        protocol_seize_share=0.028,
    )
    sc = market([curve], eth_price=1_250.0, eth_oracle=dl.Oracle.reference()).add_lending(
        lending, positions
    )
    return dl.simulate(sc, shock=dl.Shock.path({"ETH": [price] * 3}))


def test_compound_v2_seizure() -> None:
    # 1 ETH, 1,000 USDC; at 1,250 healthy (1,031.25 of borrowing power). At 1,150:
    # shortfall = 1,000 − 1·1,150·0.825 = 51.25 > 0.
    # repay = min(0.5·1,000, 1,150/1.08) = 500; seize = 500·1.08/1,150 = 0.4695652 ETH;
    # protocol 2.8 % of the whole seizure; the liquidator gets the rest (MECHANICS §4.5).
    res = compound(eth_usdc({"c": (1.0, 1_000.0)}), 1_150.0)
    seized = 500 * 1.08 / 1_150
    ev = liquidations(res)
    assert ev.height == 1
    row = ev.row(0, named=True)
    assert row["protocol"] == "compound_v2"
    assert row["debt_repaid"] == approx(500.0)
    assert row["collateral_seized"] == approx(seized)
    assert row["protocol_fee"] == approx(0.028 * seized)
    assert row["bonus"] == approx(seized - seized / 1.08)
    assert row["qty"] == approx(seized * (1 - 0.028))
    # After: (1 − 0.4695652)·1,150 = 610 of collateral, 500 of debt: 610·0.825/500 = 1.0065
    acc = res.accounts.row(0, named=True)
    assert acc["status"] == "liquidated"
    assert acc["collateral_value"] == approx(610.0)
    assert acc["debt_value"] == approx(500.0)
    assert acc["health"] == approx(610 * 0.825 / 500)
    assert res.meta["treasury"][0][0] == approx(0.028 * seized)


def test_compound_v2_underwater_keeps_bad_debt_on_the_account() -> None:
    # 1 ETH at 400 cannot back 500·1.08 of seizure: repay = 400/1.08 = 370.37, all 1 ETH seized.
    # 1,000 − 370.37 = 629.63 USDC are left without collateral; Compound v2 has no write-off.
    res = compound(eth_usdc({"c": (1.0, 1_000.0)}), 400.0)
    repaid = 400 / 1.08
    row = liquidations(res).row(0, named=True)
    assert row["debt_repaid"] == approx(repaid)
    assert row["collateral_seized"] == approx(1.0)
    assert row["protocol_fee"] == approx(0.028)
    assert row["bad_debt"] == approx(1_000 - repaid)
    acc = res.accounts.row(0, named=True)
    assert acc["status"] == "bad_debt"
    assert acc["debt_value"] == approx(1_000 - repaid)
    assert acc["bad_debt"] == approx(1_000 - repaid)
    assert res.summary["bad_debt"].item() == approx(1_000 - repaid)
    assert res.meta["deficit"][0] == [approx(0.0), approx(0.0)]


# --------------------------------------------------------------------------------------------
# 3. Oracles
# --------------------------------------------------------------------------------------------

# One account: 10 ETH, 784 USDC → breaches below 784/8 = 98, i.e. at −2 %.
ORACLE_ACCOUNT = {"o": (10.0, 784.0)}


def oracle_run(oracle: dl.Oracle, move: float, steps: int = 320) -> dl.Result:
    sc = market([deep_curve(100.0)], eth_oracle=oracle, steps=steps).add_lending(
        aave(), eth_usdc(ORACLE_ACCOUNT)
    )
    return dl.simulate(sc, shock=dl.Shock.instant(ETH=move))


def test_spot_oracle_liquidates_at_once() -> None:
    res = oracle_run(dl.Oracle.spot(), -0.03, steps=3)
    assert liquidations(res)["step"].to_list() == [0]


def test_push_oracle_waits_for_the_heartbeat() -> None:
    # 3 % < 5 % deviation: nothing is published until t − t_last ≥ 3,600 s, i.e. t = 3,600 =
    # step 300 (12 s steps, last publication at t = 0).
    res = oracle_run(dl.Oracle.push(0.05, 3_600.0), -0.03)
    ev = liquidations(res)
    assert ev["step"].to_list() == [300]
    assert res.summary["first_liquidation_step"].item() == 300
    st = eth_steps(res)
    oracle = st["oracle"].to_list()
    assert oracle[:300] == [approx(100.0)] * 300
    assert oracle[300] == approx(97.0, rel=1e-8)
    assert st["mid"][0] == approx(97.0)  # the venue moved at step 0, the oracle did not
    # seized at the published 97: 784·1.05/97
    assert ev["collateral_seized"][0] == approx(784 * 1.05 / 97)


def test_push_oracle_publishes_a_move_beyond_the_deviation() -> None:
    # 6 % > 5 %: published at step 0
    res = oracle_run(dl.Oracle.push(0.05, 3_600.0), -0.06, steps=3)
    assert liquidations(res)["step"].to_list() == [0]
    assert eth_steps(res)["oracle"][0] == approx(94.0)


def test_delayed_oracle_reads_the_spot_from_delay_ago() -> None:
    # delayed(120): at step i (t = 12i), the end-of-step spot of the last step j with
    # 12j ≤ 12i − 120, i.e. j = i − 10; the initial spot 100 before. Step 0 ended at 97 (no sale
    # in it), so the oracle reads 97 from step 10 on.
    res = oracle_run(dl.Oracle.delayed(120.0), -0.03, steps=20)
    assert liquidations(res)["step"].to_list() == [10]
    oracle = eth_steps(res)["oracle"].to_list()
    assert oracle[:10] == [approx(100.0)] * 10
    assert oracle[10] == approx(97.0, rel=1e-8)


def test_twap_oracle_averages_the_window() -> None:
    # twap(120): (1/120)∫ over [12i − 120, 12i] of the end-of-step spots (97 from step 0 on),
    # 100 before t0: TWAP_i = (12i·97 + (120 − 12i)·100)/120 = 100 − 0.3i for i ≤ 10.
    # It falls below 98 first at i = 7 (97.9); the account is seized at 97.9.
    res = oracle_run(dl.Oracle.twap(120.0), -0.03, steps=20)
    ev = liquidations(res)
    assert ev["step"].to_list() == [7]
    oracle = eth_steps(res)["oracle"].to_list()
    assert oracle[:8] == [approx(100 - 0.3 * i, rel=1e-8) for i in range(8)]
    assert ev["collateral_seized"][0] == approx(784 * 1.05 / 97.9, rel=1e-8)


def test_reference_oracle_ignores_endogenous_impact() -> None:
    # The linear-curve cascade with a reference oracle: a0 is liquidated at 97 and the curve falls
    # to S1 = 97(1 − 819·ELL) = 94.6167 < 95, but the oracle stays at the exogenous 97, so a1
    # (HF = 776/760) is never liquidated.
    curve = dl.ImpactCurve.linear(price=100.0, slope=ELL)
    sc = market([curve], eth_oracle=dl.Oracle.reference(), steps=5).add_lending(
        aave(), eth_usdc(CASCADE)
    )
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.03))
    s1 = 97 * (1 - 819 * ELL)
    ev = res.events
    assert ev["account"].to_list() == ["a0"]
    assert ev["collateral_seized"][0] == approx(780 * 1.05 / 97)
    st = eth_steps(res)
    assert (st["oracle"] == st["reference"]).all()
    assert st["oracle"].to_list() == [approx(97.0)] * st.height
    assert st["mid"].to_list() == [approx(s1)] * st.height
    acc = res.accounts
    assert acc["status"].cast(pl.String).to_list() == ["closed", "active", "active"]
    assert acc["health"][1] == approx(776 / 760)  # valued at the oracle 97, not the mid


# --------------------------------------------------------------------------------------------
# 4. Liquidators
# --------------------------------------------------------------------------------------------

# At 90: x1 10 ETH / 790 → HF 720/790 = 0.9114;  x2 10 ETH / 785 → 720/785 = 0.9172;
#        y  20 ETH / 1,560 → 1,440/1,560 = 0.9231.  Collateral ≤ $1,800 < $2,000: whole debt;
#        seizures 790·1.05/90 = 9.217, 785·1.05/90 = 9.158, 1,560·1.05/90 = 18.2: all close.
# Breach prices: x1 < 98.75, x2 < 98.125, y < 97.5. Input order y, x2, x1 (ids 0, 1, 2).
QUEUE_ACCOUNTS = {"y": (20.0, 1_560.0), "x2": (10.0, 785.0), "x1": (10.0, 790.0)}


def queue_run(liquidators: dl.Liquidators, path: list[float], seed: int = 0) -> dl.Result:
    sc = market(
        [deep_curve(100.0)], eth_oracle=dl.Oracle.reference(), liquidators=liquidators
    ).add_lending(aave(), eth_usdc(QUEUE_ACCOUNTS))
    return dl.simulate(sc, shock=dl.Shock.path({"ETH": path}), seed=seed)


def test_budget_count_serves_one_account_per_step_worst_health_first() -> None:
    res = queue_run(dl.Liquidators(budget_count=1), [90.0] * 5)
    ev = liquidations(res)
    assert ev["account"].to_list() == ["x1", "x2", "y"]  # HF 0.9114 < 0.9172 < 0.9231
    assert ev["step"].to_list() == [0, 1, 2]
    st = eth_steps(res)
    # the two waiting accounts are queued at the end of step 0, one at the end of step 1
    assert st["queue_length"].to_list()[:3] == [2, 1, 0]
    assert res.accounts["status"].cast(pl.String).to_list() == ["closed"] * 3


def test_largest_priority_serves_the_largest_debt_first() -> None:
    res = queue_run(dl.Liquidators(budget_count=1, priority="largest"), [90.0] * 5)
    # debt values 1,560 > 790 > 785
    assert liquidations(res)["account"].to_list() == ["y", "x1", "x2"]
    assert liquidations(res)["step"].to_list() == [0, 1, 2]


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        # step 0 at 98: x1 and x2 breach, y does not (98 ≥ 97.5). One served per step.
        # step 1 at 97: y breaches (HF 1,552/1,560 = 0.9949); x2 (still queued) has
        # 776/785 = 0.9885.
        ("worst_health", [{"x1"}, {"x2"}, {"y"}]),  # step 0: x1 (0.9924 < 0.9987); 1: x2
        ("largest", [{"x1"}, {"y"}, {"x2"}]),  # step 0: 790 > 785; step 1: 1,560 > 785
        # first breached, first served: both x's (breached at step 0) before y (step 1)
        ("fifo", [{"x1", "x2"}, {"x1", "x2"}, {"y"}]),
    ],
)
def test_priority_with_staggered_breaches(priority: str, expected: list[set[str]]) -> None:
    res = queue_run(dl.Liquidators(budget_count=1, priority=priority), [98.0] + [97.0] * 4)
    ev = liquidations(res)
    assert ev["step"].to_list() == [0, 1, 2]
    got = ev["account"].to_list()
    assert all(a in e for a, e in zip(got, expected, strict=True)), got
    assert sorted(got) == ["x1", "x2", "y"]


def test_budget_notional_limits_the_repaid_value_per_step() -> None:
    # v3.2 (no dust rule); one account 10 ETH / 790 at 90 (HF 0.9114 ≤ 0.95 → close factor 100 %).
    # Budget $300/step: step 0 repays 300, seizes 300·1.05/90 = 3.5 → 6.5 ETH, 490 USDC,
    #   HF = 6.5·72/490 = 0.9551 < 1, queued; the budget is spent.
    # Step 1: HF 0.9551 > 0.95 → 50 %: repay min(245, 300) = 245, seize 245·1.05/90 = 2.858333
    #   → 3.641667 ETH, 245 USDC: HF = 3.641667·72/245 = 1.0702 ≥ 1: done.
    sc = market(
        [deep_curve(100.0)],
        eth_oracle=dl.Oracle.reference(),
        liquidators=dl.Liquidators(budget_notional=300.0),
    ).add_lending(aave(version="3.2"), eth_usdc({"b": (10.0, 790.0)}))
    res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [90.0] * 4}))
    ev = liquidations(res)
    assert ev["step"].to_list() == [0, 1]
    assert ev["debt_repaid"].to_list() == [approx(300.0), approx(245.0)]
    assert ev["collateral_seized"].to_list() == [approx(3.5), approx(245 * 1.05 / 90)]
    acc = res.accounts.row(0, named=True)
    left = 10 - 3.5 - 245 * 1.05 / 90
    assert acc["status"] == "liquidated"
    assert acc["times_liquidated"] == 2
    assert acc["health"] == approx(left * 72 / 245)


def test_sell_fraction_half_sells_half_of_what_the_liquidator_receives() -> None:
    # The linear-curve cascade, fee 10 % of the bonus, liquidators sell half.
    # a0: seized 780·1.05/97 = 8.443299, bonus 780·0.05/97, fee 0.1·bonus = 0.040206,
    #   qty = 0.5·(seized − fee) = 4.201546, q = 97·qty = 0.5·(819 − 3.9) = 407.55;
    #   S1 = 97(1 − 407.55·ELL) = 95.81398 > 95: a1 (HF 8·S1/760 = 1.0086) is not liquidated.
    curve = dl.ImpactCurve.linear(price=100.0, slope=ELL)
    sc = market([curve], liquidators=dl.Liquidators(sell_fraction=0.5)).add_lending(
        aave(fee=0.1), eth_usdc(CASCADE)
    )
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.03))
    seized = 780 * 1.05 / 97
    fee = 0.1 * 780 * 0.05 / 97
    qty = 0.5 * (seized - fee)
    q = 97 * qty
    assert q == approx(407.55)
    ev = res.events
    assert ev["account"].to_list() == ["a0"]
    row = ev.row(0, named=True)
    assert row["collateral_seized"] == approx(seized)
    assert row["protocol_fee"] == approx(fee)
    assert row["qty"] == approx(qty)
    assert row["qty"] == approx(0.5 * (row["collateral_seized"] - row["protocol_fee"]))
    assert row["notional"] == approx(q * (1 - ELL * q / 2))
    assert row["price_after"] == approx(97 * (1 - ELL * q))
    assert res.accounts["status"].cast(pl.String).to_list() == ["closed", "active", "active"]
    m = res.meta
    assert m["liquidators_seized"][0] == approx(seized - fee)  # received by the liquidator
    assert m["sold"][0] == approx(qty)  # half of it sold, half kept
    assert m["treasury"][0][0] == approx(fee)


def test_batch_mode_matches_sequential_with_one_liquidation_per_round() -> None:
    def run(mode: str) -> dl.Result:
        curve = dl.ImpactCurve.linear(price=100.0, slope=ELL)
        sc = market([curve], liquidators=dl.Liquidators(mode=mode)).add_lending(
            aave(), eth_usdc(CASCADE)
        )
        return dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.03))

    seq, bat = run("sequential"), run("batch")
    assert bat.accounts.equals(seq.accounts)
    s1 = 97 * (1 - 819 * ELL)
    s2 = s1 * (1 - 798 * ELL)
    ev = bat.events
    assert ev["kind"].cast(pl.String).to_list() == ["liquidation", "sale", "liquidation", "sale"]
    assert ev["round"].to_list() == [0, 0, 1, 1]
    assert ev["account"].to_list() == ["a0", None, "a1", None]
    sales = ev.filter(pl.col("kind") == "sale")
    assert sales["asset"].to_list() == ["ETH", "ETH"]
    assert sales["qty"].to_list() == [approx(780 * 1.05 / 97), approx(760 * 1.05 / s1)]
    assert sales["notional"].to_list() == [
        approx(819 * (1 - ELL * 819 / 2)),
        approx(798 * (1 - ELL * 798 / 2)),
    ]
    assert sales["price_before"].to_list() == [approx(97.0), approx(s1)]
    assert sales["price_after"].to_list() == [approx(s1), approx(s2)]
    # the liquidation rows carry no sale of their own
    liq = ev.filter(pl.col("kind") == "liquidation")
    assert liq["qty"].to_list() == [0.0, 0.0]
    assert liq["vwap"].is_null().all()
    assert liq["collateral_seized"].to_list() == liquidations(seq)["collateral_seized"].to_list()
    assert eth_steps(bat)["mid"][0] == approx(s2)
    assert bat.meta["liquidators_received"] == approx(seq.meta["liquidators_received"])


def test_a_venue_that_runs_dry_leaves_the_rest_with_the_liquidator() -> None:
    # Five bid levels of 1 ETH at 97·(0.99 … 0.95). a0 receives 780·1.05/97 = 8.4433 ETH and can
    # sell only 5: notional 97·4.85 = 470.45; 3.4433 stay with the liquidator. The bid side is
    # empty, so the spot is held at its last value 97 (§3) and a1 (trigger 95) is not liquidated.
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=5, depth_per_level=1.0)
    sc = market([book]).add_lending(aave(), eth_usdc(CASCADE))
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.03))
    seized = 780 * 1.05 / 97
    ev = res.events
    assert ev["account"].to_list() == ["a0"]
    row = ev.row(0, named=True)
    assert row["qty"] == approx(5.0)
    assert row["notional"] == approx(97 * 4.85)
    assert row["vwap"] == approx(97 * 4.85 / 5)
    kept = row["collateral_seized"] - row["protocol_fee"] - row["qty"]
    assert kept == approx(seized - 5)
    assert res.meta["liquidators_seized"][0] - res.meta["sold"][0] == approx(kept)
    st = eth_steps(res)
    assert st["best_bid"][0] is None
    assert st["mid_held"][0] is True
    assert st["mid"][0] == approx(97.0)
    assert res.accounts["status"].cast(pl.String).to_list() == ["closed", "active", "active"]


# --------------------------------------------------------------------------------------------
# 5. Identities on larger random runs (MECHANICS §8)
# --------------------------------------------------------------------------------------------

BIG_SHOCKS = {
    "instant-25": dl.Shock.instant(ETH=-0.25),
    "instant-45": dl.Shock.instant(ETH=-0.45),
    "gbm": dl.Shock.gbm({"ETH": 4.0}, mu={"ETH": -150.0}, per="year"),
    "jumps": dl.Shock.jump_diffusion(
        {"ETH": 1.0},
        mu={"ETH": -20.0},
        jump_intensity={"ETH": 3_000.0},
        jump_mean={"ETH": -0.04},
        jump_std={"ETH": 0.02},
        per="year",
    ),
}


@pytest.fixture(scope="module")
def big_scenario() -> tuple[dl.Scenario, pl.DataFrame]:
    sc = dl.examples.eth_lending(n_accounts=3_000, seed=11)
    return sc, sc.lending[0].positions


@pytest.fixture(scope="module", params=list(BIG_SHOCKS))
def big_run(request: pytest.FixtureRequest, big_scenario: tuple[dl.Scenario, pl.DataFrame]):
    sc, positions = big_scenario
    return request.param, dl.simulate(sc, shock=BIG_SHOCKS[request.param], seed=3), positions


def test_identities_on_a_large_run(big_run: tuple[str, dl.Result, pl.DataFrame]) -> None:
    name, res, positions = big_run
    ev, acc, st, m = res.events, res.accounts, res.steps, res.meta
    liq = liquidations(res)
    assert liq.height > 0, f"{name}: the shock should liquidate someone"

    # per event: seized = sold + kept + fee; sequential mode and sell_fraction 1 keep nothing
    # unless the venue runs dry, and a pool never does (constant product always fills)
    kept = liq["collateral_seized"] - liq["protocol_fee"] - liq["qty"]
    assert (kept.abs() <= 1e-9 * liq["collateral_seized"] + 1e-12).all()
    assert (liq["protocol_fee"] >= 0).all()
    assert (liq["protocol_fee"] <= liq["bonus"]).all()
    # Aave: fee = 10 % of the bonus, bonus = seized − seized/1.05 (§4.3)
    bonus = liq["collateral_seized"] - liq["collateral_seized"] / 1.05
    assert np.allclose(liq["bonus"].to_numpy(), bonus.to_numpy(), rtol=1e-9, atol=1e-12)
    assert np.allclose(
        liq["protocol_fee"].to_numpy(), 0.1 * bonus.to_numpy(), rtol=1e-9, atol=1e-12
    )
    # vwap = notional/qty where something was sold
    sold = liq.filter(pl.col("qty") > 0)
    assert np.allclose(sold["vwap"], sold["notional"] / sold["qty"], rtol=1e-12)

    # quote and asset ledgers of the liquidators
    assert m["liquidators_paid"] == approx(float(ev["debt_repaid_value"].sum()))
    assert m["liquidators_received"] == approx(float(ev["notional"].sum()))
    assert m["liquidators_seized"][0] == approx(
        float((liq["collateral_seized"] - liq["protocol_fee"]).sum())
    )
    assert m["sold"][0] == approx(float(ev["qty"].sum()))
    assert m["treasury"][0][0] == approx(float(liq["protocol_fee"].sum()))

    # per account, in asset units (USDC at 1 on the reference oracle; ETH at its final oracle):
    # debt_initial = debt_final + Σ repaid + written off;  collateral_initial = final + Σ seized
    eth_final = float(eth_steps(res)["oracle"][-1])
    initial = positions.group_by("account").agg(
        pl.col("collateral").sum().alias("coll0"), pl.col("debt").sum().alias("debt0")
    )
    flows = ev.group_by("account").agg(
        pl.col("debt_repaid").sum().alias("repaid"),
        pl.col("collateral_seized").sum().alias("seized"),
        pl.col("bad_debt").sum().alias("written_off"),
        (pl.col("kind") == "liquidation").sum().alias("n_liq"),
    )
    j = (
        acc.join(initial, on="account", how="left")
        .join(flows, on="account", how="left")
        .fill_null(0)
    )
    assert j.height == positions.height == acc.height
    debt_side = j["debt_value"] + j["repaid"] + j["written_off"]
    assert np.allclose(debt_side, j["debt0"], rtol=1e-9, atol=1e-7)
    coll_side = j["collateral_value"] / eth_final + j["seized"]
    assert np.allclose(coll_side, j["coll0"], rtol=1e-9, atol=1e-9)
    assert (j["times_liquidated"].cast(pl.Int64) == j["n_liq"].cast(pl.Int64)).all()
    # v3.3 writes every remaining debt off: bad-debt accounts keep none, and the deficit is the sum
    assert (j.filter(pl.col("status") == "bad_debt")["debt_value"] == 0).all()
    assert np.allclose(j["bad_debt"], j["written_off"], rtol=1e-12, atol=1e-9)
    assert (j.filter(pl.col("written_off") > 0)["status"].cast(pl.String) == "bad_debt").all()
    total_bad = float(ev["bad_debt"].sum())
    assert res.summary["bad_debt"].item() == approx(total_bad)
    assert m["deficit"][0][1] == approx(total_bad)
    assert eth_steps(res)["cumulative_bad_debt"][-1] == approx(total_bad)
    assert float(acc["bad_debt"].sum()) == approx(total_bad)

    # steps: one row per step and asset; per-step counts and notionals add up
    n = m["steps_run"]
    assert st.height == 2 * n
    assert st.select("step", "asset").is_unique().all()
    for a in ("ETH", "USDC"):
        assert st.filter(pl.col("asset") == a)["step"].sort().to_list() == list(range(n))
    per_step = liq.group_by("step").len().rename({"len": "count"})
    jj = eth_steps(res).join(per_step, on="step", how="left").fill_null(0)
    assert (jj["liquidation_count"].cast(pl.Int64) == jj["count"].cast(pl.Int64)).all()
    assert float(st["liquidated_notional"].sum()) == approx(float(acc["liquidated_notional"].sum()))
    s = res.to_dict()
    assert s["liquidations"] == liq.height
    assert s["first_liquidation_step"] == liq["step"].min()
    assert s["steps_to_quiet"] == liq["step"].max() + 1
    assert s["liquidated_notional"] == approx(float(acc["liquidated_notional"].sum()))
    assert s["quiet"] is True

    # no NaN (nor infinity) anywhere: undefined values are nulls
    summary = res.summary
    for frame_name, frame in (
        ("events", ev),
        ("steps", st),
        ("accounts", acc),
        ("summary", summary),
    ):
        for col, dtype in frame.schema.items():
            if dtype.is_float():
                values = frame[col].drop_nulls()
                assert not values.is_nan().any(), f"{name}: NaN in {frame_name}.{col}"
                assert values.is_finite().all(), f"{name}: infinity in {frame_name}.{col}"


# --------------------------------------------------------------------------------------------
# 6. Determinism
# --------------------------------------------------------------------------------------------


def assert_same(a: dl.Result, b: dl.Result) -> None:
    assert a.events.equals(b.events)
    assert a.steps.equals(b.steps)
    assert a.accounts.equals(b.accounts)
    assert a.summary.equals(b.summary)


@pytest.fixture(scope="module")
def small_scenario() -> dl.Scenario:
    return dl.examples.eth_lending(n_accounts=400, seed=5, steps=100)


def test_same_seed_same_gbm_run(small_scenario: dl.Scenario) -> None:
    shock = dl.Shock.gbm({"ETH": 4.0}, mu={"ETH": -150.0}, per="year")
    a = dl.simulate(small_scenario, shock=shock, seed=42)
    b = dl.simulate(small_scenario, shock=shock, seed=42)
    assert_same(a, b)
    c = dl.simulate(small_scenario, shock=shock, seed=43)
    ref_a = eth_steps(a)["reference"].head(100)
    ref_c = eth_steps(c)["reference"].head(100)
    assert not ref_a.equals(ref_c)
    # a GBM path starts at the initial price's neighbourhood and is not flat
    assert ref_a.n_unique() > 50


def test_same_seed_same_random_priority(small_scenario: dl.Scenario) -> None:
    sc = small_scenario.with_liquidators(dl.Liquidators(priority="random", budget_count=2))
    shock = dl.Shock.instant(ETH=-0.2)
    a = dl.simulate(sc, shock=shock, seed=7)
    b = dl.simulate(sc, shock=shock, seed=7)
    assert_same(a, b)
    c = dl.simulate(sc, shock=shock, seed=8)
    assert (
        liquidations(a)["account"].head(20).to_list()
        != liquidations(c)["account"].head(20).to_list()
    )


# --------------------------------------------------------------------------------------------
# 7. Inputs are not mutated
# --------------------------------------------------------------------------------------------


def test_simulate_does_not_mutate_its_inputs() -> None:
    book = dl.OrderBook.linear(mid=100.0, tick=0.5, levels=150, depth_per_level=2.0)
    pool = dl.ConstantProductPool(base_reserve=500.0, quote_reserve=50_000.0, fee=0.003)
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-5)
    positions = eth_usdc({f"p{i}": (10.0, 700.0 + 10 * i) for i in range(10)})
    before = positions.clone()
    book_state = (book.best_bid, book.best_ask, book.anchor, book.consumed("bid"))
    book_bids = [a.copy() for a in book.levels("bid")]
    pool_state = (pool.base_reserve, pool.quote_reserve)
    curve_price = curve.price
    sc = market([book, pool, curve]).add_lending(aave(), positions)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
    assert liquidations(res).height == 10  # everyone is liquidated: the venues were traded on

    assert positions.equals(before)
    assert positions.schema == before.schema
    assert (book.best_bid, book.best_ask, book.anchor, book.consumed("bid")) == book_state
    for got, want in zip(book.levels("bid"), book_bids, strict=True):
        assert np.array_equal(got, want)
    assert (pool.base_reserve, pool.quote_reserve) == pool_state
    assert curve.price == curve_price
    # the scenario can be reused: a second run gives the same result
    assert_same(res, dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2)))


# --------------------------------------------------------------------------------------------
# 8. Errors
# --------------------------------------------------------------------------------------------


def base() -> dl.Scenario:
    return market([deep_curve(100.0)])


def test_positions_missing_a_column() -> None:
    with pytest.raises(dl.ScenarioError, match=re.escape("positions lack column(s) ['debt']")):
        base().add_lending(aave(), eth_usdc({"a": (1.0, 1.0)}).drop("debt"))


def test_positions_unknown_collateral_asset() -> None:
    pos = eth_usdc({"a": (1.0, 1.0)}).with_columns(pl.lit("BTC").alias("collateral_asset"))
    with pytest.raises(
        dl.ScenarioError, match=r"positions\.collateral_asset names unknown asset 'BTC'"
    ):
        base().add_lending(aave(), pos)


@pytest.mark.parametrize(("value", "shown"), [(-1.0, "-1.0"), (math.nan, "nan")])
def test_positions_negative_or_nan_collateral(value: float, shown: str) -> None:
    pos = eth_usdc({"a": (1.0, 1.0), "b": (value, 1.0)})
    with pytest.raises(
        dl.ScenarioError,
        match=re.escape(f"positions.collateral must be finite and >= 0, got {shown} (row 1, "),
    ):
        base().add_lending(aave(), pos)


def test_reserve_for_an_unknown_asset() -> None:
    lending = dl.Lending.aave_v3({"BTC": dl.Reserve(0.7, 0.1)})
    with pytest.raises(dl.ScenarioError, match="reserve for unknown asset 'BTC'"):
        base().add_lending(lending, eth_usdc({"a": (1.0, 1.0)}))


def test_aave_reserve_breaking_lt_times_bonus() -> None:
    # 0.9·(1 + 0.25) = 1.125 > 1 (MECHANICS §4.1): refused when the protocol is built, naming
    # the reserve's asset.
    with pytest.raises(
        dl.ScenarioError, match=r"reserve ETH: liquidation_threshold.*<= 1, .*1\.125"
    ):
        aave(0.9, 0.25)


def test_duplicate_asset_names() -> None:
    with pytest.raises(dl.ScenarioError, match="asset 'ETH' appears twice"):
        dl.Scenario(assets=[dl.Asset("ETH", 1.0), dl.Asset("ETH", 2.0)])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: dl.Oracle.push(-0.01, 3_600.0), "Oracle.push deviation must be >= 0.0, got -0.01"),
        (lambda: dl.Oracle.push(0.01, 0.0), "Oracle.push heartbeat must be > 0.0, got 0.0"),
        (lambda: dl.Oracle.twap(0.0), "Oracle.twap window must be > 0.0, got 0.0"),
        (lambda: dl.Oracle.delayed(-5.0), "Oracle.delayed delay must be > 0.0, got -5.0"),
        (lambda: dl.Shock.instant(ETH=-1.5), "shock ETH must be > -1.0, got -1.5"),
        (
            lambda: dl.Shock.path({"ETH": [100.0, 90.0, -5.0]}),
            "shock path ETH[2] must be a positive number, got -5.0",
        ),
        (
            lambda: dl.Liquidators(priority="nope"),
            "priority must be worst_health, largest, fifo or random, got 'nope'",
        ),
        (lambda: dl.Liquidators(sell_fraction=2.0), "sell_fraction must be <= 1.0, got 2.0"),
        (
            lambda: dl.Asset("ETH", 100.0, venues=["book"]),
            "ETH.venues[0] must be an OrderBook, ConstantProductPool, StableSwapPool, "
            "ConcentratedPool or ImpactCurve, got str",
        ),
        (
            lambda: dl.Lending.aave_v3({}, version="2.0"),
            "Aave version must be one of 3.0–3.7, got '2.0'",
        ),
    ],
)
def test_constructor_errors(make, message: str) -> None:
    with pytest.raises(dl.ScenarioError, match=re.escape(message)):
        make()


def test_shock_naming_an_unknown_asset() -> None:
    sc = base().add_lending(aave(), eth_usdc({"a": (1.0, 1.0)}))
    with pytest.raises(dl.ScenarioError, match="shock names unknown asset 'BTC'"):
        dl.simulate(sc, shock=dl.Shock.instant(BTC=-0.1))


def test_negative_seed() -> None:
    sc = base().add_lending(aave(), eth_usdc({"a": (1.0, 1.0)}))
    with pytest.raises(dl.ScenarioError, match="seed must be a whole number >= 0, got -1"):
        dl.simulate(sc, seed=-1)


def test_quiet_is_false_while_accounts_wait_in_the_queue() -> None:
    # Three accounts breach at once but liquidators serve one per step; with no extra steps the
    # run ends with two still queued, which is not quiet.
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-9)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", price=100.0, venues=[curve]),
            dl.Asset("USDC", price=1.0, oracle=dl.Oracle.reference()),
        ],
        steps=1,
        liquidators=dl.Liquidators(budget_count=1),
    ).add_lending(
        dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}),
        pl.DataFrame(
            {
                "account": ["a", "b", "c"],
                "collateral_asset": ["ETH"] * 3,
                "collateral": [10.0] * 3,
                "debt_asset": ["USDC"] * 3,
                "debt": [780.0, 770.0, 760.0],
            }
        ),
    )
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1), max_extra_steps=0)
    assert res.summary["quiet"].item() is False
    assert res.meta["queue_length"] == 2
    done = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1))
    assert done.summary["quiet"].item() is True
    assert done.summary["liquidations"].item() == 3


def test_comet_absorb_and_storefront_worked_example_4() -> None:
    # MECHANICS worked example 4: liquidity −10,400 + 7,936·0.87 + 3,060·0.80 = −1,047.68 < 0;
    # Δ = 7,936·0.92 + 3,060·0.90 = 10,055.12 → bad debt 10,400 − 10,055.12 = 344.88;
    # reserves 1,200,000 − 10,400 = 1,189,600 < 3,000,000 → storefront at
    # 2,480·(1 − 0.6·0.08) = 2,360.96 and 61,200·(1 − 0.6·0.10) = 57,528: 10,431.472 in all.
    def deep(p: float) -> dl.ImpactCurve:
        return dl.ImpactCurve.linear(price=p, slope=1e-15)

    ref = dl.Oracle.reference()
    sc = dl.Scenario(
        assets=[
            dl.Asset("WETH", 2_480.0, [deep(2_480.0)], ref),
            dl.Asset("WBTC", 61_200.0, [deep(61_200.0)], ref),
            dl.Asset("USDC", 1.0, oracle=ref),
        ],
        steps=1,
    ).add_lending(
        dl.Lending.compound_v3(
            "USDC",
            {
                "WETH": dl.Reserve(0.87, liquidation_factor=0.92),
                "WBTC": dl.Reserve(0.80, liquidation_factor=0.90),
            },
            store_front_price_factor=0.6,
            target_reserves=3_000_000.0,
            initial_reserves=1_200_000.0,
        ),
        pl.DataFrame(
            {
                "account": ["x", "x"],
                "collateral_asset": ["WETH", "WBTC"],
                "collateral": [3.2, 0.05],
                "debt_asset": ["USDC", "USDC"],
                "debt": [10_400.0, 0.0],
            }
        ),
    )
    res = dl.simulate(sc)
    ev = res.events
    assert ev["kind"].cast(pl.String).to_list() == ["absorb", "absorb", "storefront", "storefront"]
    assert ev["bad_debt"][0] == approx(344.88)
    assert ev["debt_repaid"][0] == approx(10_400.0)
    assert ev["debt_repaid_value"][2] == approx(3.2 * 2_360.96)
    assert ev["debt_repaid_value"][3] == approx(0.05 * 57_528.0)
    assert res.meta["keepers_paid"] == approx(10_431.472)
    assert res.meta["reserves"] == [approx(1_189_600.0 + 10_431.472)]
    assert res.summary["liquidations"].item() == 1
    assert res.accounts["status"].cast(pl.String).to_list() == ["bad_debt"]


def test_ctrl_c_stops_a_long_run() -> None:
    # A million-step path takes far longer than the interrupt below; the engine runs detached
    # from the GIL in chunks and checks for signals between them, so the simulated Ctrl-C from a
    # timer thread surfaces as KeyboardInterrupt within a chunk's time.
    import _thread
    import threading
    import time

    sc = dl.Scenario(
        assets=[dl.Asset("ETH", price=100.0), dl.Asset("USDC", price=1.0)],
        steps=1_000_000,
    ).add_lending(
        dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}),
        pl.DataFrame(
            {
                "account": ["a"],
                "collateral_asset": ["ETH"],
                "collateral": [1.0],
                "debt_asset": ["USDC"],
                "debt": [10.0],
            }
        ),
    )
    timer = threading.Timer(0.2, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dl.simulate(sc, shock=dl.Shock.gbm({"ETH": 0.5}, per="year"), seed=1)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 5.0


def test_a_shock_volatility_is_set_per_a_stated_period() -> None:
    # A year of 24/7 trading is 365.25 days: 2 % a day is 0.02·sqrt(365.25) a year, a drift of
    # 0.001 a day 0.36525 a year, and 3 jumps an hour are 3·8,766 a year.
    assert dl.shock.PERIODS_PER_YEAR == {"year": 1.0, "day": 365.25, "hour": 8_766.0}
    assert dl.Shock.gbm({"ETH": 0.02}, per="day").sigma["ETH"] == approx(0.02 * math.sqrt(365.25))
    assert dl.Shock.gbm({"ETH": 0.02}, mu={"ETH": 0.001}, per="day").mu["ETH"] == approx(0.36525)
    hourly = dl.Shock.jump_diffusion({"ETH": 0.0}, jump_intensity={"ETH": 3.0},
                                     jump_mean={"ETH": -0.1}, per="hour")  # fmt: skip
    assert hourly.jump_intensity["ETH"] == approx(3.0 * 8_766)
    assert hourly.jump_mean["ETH"] == -0.1  # a jump's size is per jump
    assert dl.Shock.gbm({"ETH": 0.8}, per="year").sigma["ETH"] == 0.8
    # On one-day steps the log returns of a daily 2 % have a standard deviation of 2 %: over
    # 4,000 steps within 5 % of it (the sample's relative error is about 1/sqrt(8,000)).
    sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0)], step_seconds=86_400.0, steps=4_000)
    ref = dl.simulate(sc, shock=dl.Shock.gbm({"ETH": 0.02}, per="day"), seed=3).steps
    logret = np.diff(np.log(ref["reference"].to_numpy()))
    assert float(np.std(logret)) == approx(0.02, rel=0.05)
    with pytest.raises(dl.ScenarioError, match=r"per must be 'year', 'day' or 'hour'.*'week'"):
        dl.Shock.gbm({"ETH": 0.02}, per="week")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="per"):
        dl.Shock.gbm({"ETH": 0.02})  # type: ignore[call-arg]


def test_an_event_column_of_one_value_is_held_as_that_value() -> None:
    # 30,000 accounts of one Aave protocol on one ETH book, all liquidated in one step: the
    # protocol, both assets, the kind, the step and the perp fields of every row are one
    # value each, which the core hands over once (a stride-0 view) and the frame holds as a
    # literal. The frame reads as the one built from the rows written out.
    from deleverage.result import _events
    from test_golden_bench import _benchmark_market

    sc = _benchmark_market()(30_000)  # the benchmark's market: one protocol, ETH against USDC
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25))
    raw = res._raw["events"]
    n = raw["qty"].size
    assert n >= 2**14  # the core's REPEATED_FROM: shorter columns are written out
    one = ["step", "kind", "protocol", "asset", "debt_asset", "insurance_change", "realized_pnl"]
    assert [k for k, v in raw.items() if v.strides == (0,)] == one
    ev = res.events
    assert ev.height == n
    assert ev["protocol"].unique().to_list() == sc.protocol_names
    assert ev["asset"].unique().to_list() == ["ETH"]
    assert ev["debt_asset"].unique().to_list() == ["USDC"]
    assert ev["kind"].cast(pl.String).unique().to_list() == ["liquidation"]
    assert ev["step"].unique().to_list() == [0]
    assert (ev["insurance_change"] == 0.0).all()
    assert (ev["realized_pnl"] == 0.0).all()
    written_out = {k: np.ascontiguousarray(v) for k, v in raw.items()}
    want = _events({"events": written_out}, res._ctx)
    assert ev.schema == want.schema
    assert ev.equals(want, null_equal=True)
    assert res.summary["liquidations"].item() == n


def test_the_account_table_of_a_finished_run_is_computed_when_read() -> None:
    # A finished run leaves its lending accounts pending: the summary counts the accounts
    # liquidated without the table, and the table, once read, is the one an engine that goes
    # on gives (its result computes every table at once).
    sc = dl.examples.eth_lending(n_accounts=2_000, seed=4)
    shock = dl.Shock.instant(ETH=-0.3)
    res = dl.simulate(sc, shock=shock, seed=2)
    lending = next(f for f in res._raw["families"] if f["kind"] == "lending")
    assert isinstance(lending["accounts"], dl._core.PendingTable)
    liquidated = res.summary["accounts_liquidated"].item()
    assert isinstance(lending["accounts"], dl._core.PendingTable)  # the summary did not need it
    eng = dl.Engine(sc, shock, seed=2)
    eng.run_to_quiet()
    open_run = eng.result()
    assert res.accounts.equals(open_run.accounts, null_equal=True)
    assert liquidated == (res.accounts["times_liquidated"] > 0).sum() > 0
    assert res.summary.equals(open_run.summary, null_equal=True)
    # Built once: the family is released with it.
    from deleverage._spec import build_spec

    pending = dl._core.simulate(build_spec(sc, shock, 2, 50)[0])["families"][0]["accounts"]
    assert set(pending.build()) >= {"status", "health", "times_liquidated"}
    with pytest.raises(dl.DeleverageError, match="built already"):
        pending.build()


def test_the_positions_table_of_a_finished_run_is_computed_when_read() -> None:
    # As the lending accounts: a perp exchange's positions stay pending through the summary
    # and, once read, are the positions an engine that goes on gives.
    sc = dl.examples.btc_perps(n_accounts=2_000, seed=3)
    shock = dl.Shock.instant({"BTC-PERP": -0.15})
    res = dl.simulate(sc, shock=shock, seed=1)
    perps = next(f for f in res._raw["families"] if f["kind"] == "perps")
    assert res.summary["perp_liquidations"].item() > 0
    assert isinstance(perps["positions"], dl._core.PendingTable)
    eng = dl.Engine(sc, shock, seed=1)
    eng.run_to_quiet()
    want = eng.result()
    assert res.positions.height == want.positions.height == 2_000
    assert res.positions.equals(want.positions, null_equal=True)
    assert res.summary.equals(want.summary, null_equal=True)
    assert not isinstance(perps["positions"], dl._core.PendingTable)  # built, in its place
