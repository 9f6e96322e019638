"""The engine against the pure-Python reference cascade of ``benches/reference.py`` (issue 14,
item 4), and both against a two-account cascade worked by hand from the Aave v3.3 formulas.

The reference is written from ``MECHANICS.md`` §2.4–2.5, §3 and §4.1–4.4 without the engine's
code paths (a heap of trigger ratios, an explicit walk of the bids). Agreement on benchmark-style
markets shows the engine does what the rules say at scale; the hand-worked case shows the two
do not share a mistake.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

import deleverage as dl
from deleverage.examples import eth_positions

REL = 1e-9  # MECHANICS §1.3: "exact to 1e-9 relative"


def _load_reference() -> ModuleType:
    """``benches/reference.py``, loaded by path (``benches`` is not a package)."""
    path = Path(__file__).resolve().parents[1] / "benches" / "reference.py"
    spec = importlib.util.spec_from_file_location("deleverage_reference_cascade", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


reference = _load_reference()
COLUMNS = list(reference.Liquidation._fields)


def simulate(
    positions: pl.DataFrame,
    *,
    shock: float,
    depth_per_level: float = 400.0,
    levels: int = 5_999,
    max_rounds_per_step: int = 64,
) -> dl.Result:
    """The benchmark market (``benches/test_engine_bench.py``) with the book and round cap
    given, through ``dl.simulate`` to quiet."""
    book = dl.OrderBook.linear(
        mid=3_000.0, tick=0.5, levels=levels, depth_per_level=depth_per_level
    )
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", price=3_000.0, venues=[book]),
            dl.Asset("USDC", price=1.0, oracle=dl.Oracle.reference()),
        ],
        steps=1,
        liquidators=dl.Liquidators(max_rounds_per_step=max_rounds_per_step),
    )
    aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05, 0.10)})
    return dl.simulate(sc.add_lending(aave, positions), shock=dl.Shock.instant(ETH=shock))


def positions(collateral: list[float], debt: list[float]) -> pl.DataFrame:
    """ETH collateral against USDC debt, accounts numbered from 0."""
    n = len(collateral)
    return pl.DataFrame(
        {
            "account": list(range(n)),
            "collateral_asset": ["ETH"] * n,
            "collateral": collateral,
            "debt_asset": ["USDC"] * n,
            "debt": debt,
        }
    )


def engine_rows(res: dl.Result) -> list[dict[str, Any]]:
    return res.events.filter(pl.col("kind") == "liquidation").select(COLUMNS).to_dicts()


# --------------------------------------------------------------------------------------------
# Worked by hand
# --------------------------------------------------------------------------------------------

# The book: 4 ETH per level. After −25 % every level is at 0.75 of its place: bids
# 2,250 − 0.375·k (2,249.625, 2,249.25, 2,248.875, …), best ask 2,250.375, mid 2,250.
#
# Account 0: 10 ETH, 22,000 USDC. HF = 10·2,250·0.83/22,000 = 0.8489 ≤ 0.95: the whole debt.
#   22,000/2,250 = 9.7778 ETH, ·1.05 = 10.2667 > 10: all 10 ETH are seized, for
#   10·2,250/1.05 = 21,428.5714285714 repaid; no collateral left, so the rest,
#   22,000 − 22,500/1.05 = 600/1.05 = 571.428571428571, is the deficit (bad debt).
#   Bonus 10 − 10/1.05 = 0.476190476190; fee 10 % of it = 0.0476190476190; the liquidator sells
#   9.95238095238 ETH: 4 @ 2,249.625, 4 @ 2,249.25, 1.95238 @ 2,248.875. Best bid 2,248.875,
#   mid (2,248.875 + 2,250.375)/2 = 2,249.625.
# Account 1: 4 ETH, 7,469.5 USDC: τ = 7,469.5/(4·0.83) = 2,249.849. At 2,250 HF = 7,470/7,469.5
#   > 1: not in round 0. At 2,249.625 (round 1) HF = 7,468.755/7,469.5 = 0.9999 > 0.95 with
#   $8,998.5 of collateral and 7,469.5 of debt (both ≥ $2,000): half the debt, 3,734.75, for
#   3,734.75·1.05/2,249.625 = 3,921.4875/2,249.625 = 1.74317386231 ETH. The liquidator's
#   1.74317·(1 − 0.1·0.05/1.05) = 1.73487 ETH fit in the 2.04762 left at 2,248.875: the mid
#   stays 2,249.625. HF' = 2·HF − 0.83·1.05 = 1.1283 (MECHANICS §8 with r = B/2): done.
HAND_COLLATERAL = [10.0, 4.0]
HAND_DEBT = [22_000.0, 7_469.5]
HAND = [
    {"round": 0, "account": 0, "debt_repaid": 21_428.5714286, "collateral_seized": 10.0,
     "price_after": 2_249.625, "bad_debt": 571.428571429},
    {"round": 1, "account": 1, "debt_repaid": 3_734.75, "collateral_seized": 1.74317386231,
     "price_after": 2_249.625, "bad_debt": 0.0},
]  # fmt: skip


def check_hand(rows: list[dict[str, Any]]) -> None:
    assert [(r["round"], r["account"]) for r in rows] == [(h["round"], h["account"]) for h in HAND]
    for r, h in zip(rows, HAND, strict=True):
        for k in ("debt_repaid", "collateral_seized", "price_after", "bad_debt"):
            # The hand values carry 12 significant digits.
            assert r[k] == pytest.approx(h[k], rel=1e-11, abs=1e-9), (h["account"], k)


def test_engine_two_accounts_by_hand() -> None:
    res = simulate(positions(HAND_COLLATERAL, HAND_DEBT), shock=-0.25, depth_per_level=4.0)
    check_hand(engine_rows(res))
    first = res.events.row(0, named=True)
    assert first["qty"] == pytest.approx(10.0 - 0.1 * (10.0 - 10.0 / 1.05), rel=REL)
    assert first["protocol_fee"] == pytest.approx(0.0476190476190, rel=1e-11)
    assert res.summary["bad_debt"].item() == pytest.approx(600.0 / 1.05, rel=REL)
    assert res.accounts["status"].to_list() == ["bad_debt", "liquidated"]


def test_reference_two_accounts_by_hand() -> None:
    ref = reference.cascade(HAND_COLLATERAL, HAND_DEBT, depth_per_level=4.0, shock=-0.25)
    check_hand([r._asdict() for r in ref.liquidations])
    assert ref.count == 2
    assert ref.bad_debt == pytest.approx(600.0 / 1.05, rel=REL)
    assert ref.price == pytest.approx(2_249.625, rel=REL)


def test_worst_health_first_where_rounding_reorders_the_triggers() -> None:
    # τ₀ = 2,496.7713065907706 > τ₁ = 2,496.77130659077, yet at the shocked mid (2,250) the
    # rounded health factors come out HF₀ = 0.9011638326908982 > HF₁ = 0.9011638326908981: the
    # queue goes by health, so account 1 is served first. Both repay in full (HF ≤ 0.95, and the
    # collateral is worth more than the debt plus the 5 % bonus).
    collateral = [5.521327914745936, 11.340355280623085]
    debt = [11_441.959282807533, 23_500.847147100016]
    tau = [d / (c * 0.83) for c, d in zip(collateral, debt, strict=True)]
    hf = [c * 2_250.0 * 0.83 / d for c, d in zip(collateral, debt, strict=True)]
    assert tau[0] > tau[1]
    assert hf[0] > hf[1]
    rows = engine_rows(simulate(positions(collateral, debt), shock=-0.25))
    ref = reference.cascade(collateral, debt, shock=-0.25)
    assert [r["account"] for r in rows] == [1, 0]
    assert [r.account for r in ref.liquidations] == [1, 0]
    assert [r["debt_repaid"] for r in rows] == [r.debt_repaid for r in ref.liquidations]
    assert rows[0]["debt_repaid"] == debt[1]


# --------------------------------------------------------------------------------------------
# Engine against reference
# --------------------------------------------------------------------------------------------

# (accounts, shock, ETH per level, bid levels, round cap)
CASES = {
    # A mild fall into the benchmark's deep book: partial liquidations, no bad debt.
    "200_minus10": (200, -0.10, 400.0, 5_999, 64),
    # The benchmark itself, scaled down.
    "2000_minus25": (2_000, -0.25, 400.0, 5_999, 64),
    # A thin book: a 5 % shock becomes a 52 % fall, accounts are liquidated again after a
    # partial liquidation, and collateral runs out (bad debt).
    "2000_minus5_thin": (2_000, -0.05, 3.0, 5_999, 64),
    # The same with two rounds a step: the cascade spills over into later steps.
    "2000_minus5_thin_capped": (2_000, -0.05, 3.0, 5_999, 2),
    # 200 levels of 5 ETH: the bid side runs dry and the oracle holds the last mid.
    "2000_minus25_dry": (2_000, -0.25, 5.0, 200, 64),
}


@pytest.mark.parametrize("case", list(CASES))
def test_engine_matches_reference(case: str) -> None:
    n, shock, depth, levels, cap = CASES[case]
    pos = eth_positions(n, seed=1)
    res = simulate(pos, shock=shock, depth_per_level=depth, levels=levels, max_rounds_per_step=cap)
    ref = reference.cascade(
        pos["collateral"].to_numpy(),
        pos["debt"].to_numpy(),
        shock=shock,
        depth_per_level=depth,
        levels=levels,
        max_rounds_per_step=cap,
    )
    rows = engine_rows(res)
    want = [r._asdict() for r in ref.liquidations]
    # The same accounts, in the same order, in the same steps and rounds.
    key = ("step", "round", "account")
    assert [tuple(r[k] for k in key) for r in rows] == [tuple(w[k] for k in key) for w in want]
    for r, w in zip(rows, want, strict=True):
        for k in ("debt_repaid", "collateral_seized", "price_after", "bad_debt"):
            assert r[k] == pytest.approx(w[k], rel=REL, abs=1e-9), (r["account"], k)
    summary = res.summary.row(0, named=True)
    assert summary["liquidations"] == ref.count
    assert summary["bad_debt"] == pytest.approx(ref.bad_debt, rel=REL)
    assert summary["steps_run"] == ref.steps
    assert res.steps.filter(pl.col("asset") == "ETH")["mid"][-1] == pytest.approx(ref.price)
    # Each case exercises what its comment says.
    times = Counter(w["account"] for w in want)
    if "thin" in case:
        assert ref.bad_debt > 0
        assert max(times.values()) > 1
        assert ref.price < 0.6 * 3_000.0 * (1 + shock)
    if "capped" in case:
        assert ref.steps > 2
    if "dry" in case:
        # Every bid level sold: the oracle holds the mid with the last one,
        # 0.75·(3,000·(1 − 200·0.5/3,000) + 3,000·(1 + 0.5/3,000))/2 = 0.75·2,950.25.
        assert ref.price == pytest.approx(0.75 * 2_950.25, rel=REL)
        assert res.steps.filter(pl.col("asset") == "ETH")["best_bid"][-1] is None
