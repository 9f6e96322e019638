"""Curve's StableSwap pool (MECHANICS §2.9): hand-derived numbers for a balanced and an unbalanced
pool, the distance from the contract's integer arithmetic (re-implemented here with Python's
integers, as `StableSwap3Pool.vy` computes it), the limits in A, the venue properties, routing
beside a book, a run of the engine through it, and its bad input."""

from __future__ import annotations

import math
import pickle

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

import deleverage as dl
from deleverage.exceptions import ScenarioError

# --- the contract's integer arithmetic (curvefi/curve-contract, pools/3pool/StableSwap3Pool.vy) -
WEI = 10**18
FEE_DENOMINATOR = 10**10


def int_get_d(xp: list[int], amp: int) -> int:
    s = sum(xp)
    if s == 0:
        return 0
    n = len(xp)
    d, ann = s, amp * n
    for _ in range(255):
        d_p = d
        for x in xp:
            d_p = d_p * d // (x * n)
        prev = d
        d = (ann * s + d_p * n) * d // ((ann - 1) * d + (n + 1) * d_p)
        if abs(d - prev) <= 1:
            break
    return d


def int_get_y(i: int, j: int, x: int, xp: list[int], amp: int) -> int:
    n = len(xp)
    d = int_get_d(xp, amp)
    c, s, ann = d, 0, amp * n
    for k in range(n):
        if k == i:
            xk = x
        elif k != j:
            xk = xp[k]
        else:
            continue
        s += xk
        c = c * d // (xk * n)
    c = c * d // (ann * n)
    b = s + d // ann
    y = d
    for _ in range(255):
        prev = y
        y = (y * y + c) // (2 * y + b - d)
        if abs(y - prev) <= 1:
            break
    return y


def int_get_dy(i: int, j: int, dx: int, xp: list[int], amp: int, fee: int) -> int:
    y = int_get_y(i, j, xp[i] + dx, xp, amp)
    dy = xp[j] - y - 1
    return dy - fee * dy // FEE_DENOMINATOR


# --- hand-derived numbers ------------------------------------------------------------------------


def test_mechanics_worked_examples() -> None:
    # MECHANICS §2.9 (A = 50, f = 0.0003, no admin fee).
    p = dl.StableSwapPool([120.0, 80.0], amplification=50.0, fee=0.0003, admin_fee=0.0)
    assert p.invariant == pytest.approx(199.9183996342, rel=1e-12)
    assert p.get_dy(0, 1, 7.0) == pytest.approx(6.9261956583, rel=1e-10)
    q = dl.StableSwapPool([150.0, 50.0], amplification=50.0, fee=0.0003, admin_fee=0.0)
    assert q.invariant == pytest.approx(199.3526695305, rel=1e-12)
    assert q.get_dy(0, 1, 7.0) == pytest.approx(6.7235911420, rel=1e-10)


def test_a_balanced_pool_by_hand() -> None:
    # (100, 100), A = 50 (Ann = 100): D = Σx = 200 exactly (Newton's first step is a fixed point:
    # D_P = 200³/(2·100·2·100) = 200), the price is 1, and bid/ask are 1 ∓ the fee.
    p = dl.StableSwapPool([100.0, 100.0], amplification=50.0, fee=0.0004, admin_fee=0.5)
    assert p.invariant == 200.0
    assert p.mid == pytest.approx(1.0, abs=1e-15)
    assert p.best_bid == pytest.approx(1.0 - 0.0004, rel=1e-15)
    assert p.best_ask == pytest.approx(1.0 / (1.0 - 0.0004), rel=1e-15)
    # Selling 10: get_y's fixed point solves y² + (b − D)·y = c with c = D³/(x'·n·Ann·n) and
    # b = x' + D/Ann (x' = 110): y² − 88·y − 181.81… = 0, so y = (88 + √(88² + 4c))/2.
    c = 200.0**3 / (110.0 * 2 * 100.0 * 2)
    y = (88.0 + math.sqrt(88.0**2 + 4 * c)) / 2
    dy = 100.0 - y
    # √8471.2727… = 92.039517…, y = 90.019759…: close to 10 out, a flat curve near the peg.
    assert dy == pytest.approx(9.9802414, rel=1e-7)
    assert p.get_dy(0, 1, 10.0) == pytest.approx(dy * (1 - 0.0004), rel=1e-13)
    # The sale keeps the fee in the pool but half of it (the admin share), which leaves.
    fill = p.sell(10.0)
    assert fill.notional == pytest.approx(dy * (1 - 0.0004), rel=1e-13)
    assert p.balances[0] == 110.0
    assert p.balances[1] == pytest.approx(100.0 - dy * (1 - 0.0004) - 0.5 * 0.0004 * dy, rel=1e-13)
    assert p.admin_collected == pytest.approx([0.0, 0.5 * 0.0004 * dy], rel=1e-12)


def test_an_unbalanced_pool_by_hand() -> None:
    # (150, 50), A = 50, no fee: the marginal price is (Ann + D_P/x_0)/(Ann + D_P/x_1) with
    # D_P = D³/(4·x_0·x_1); D is MECHANICS' 199.3526695305. Below the peg: the pool holds more
    # of the asset.
    p = dl.StableSwapPool([150.0, 50.0], amplification=50.0, fee=0.0, admin_fee=0.0)
    d = 199.3526695305
    d_p = d**3 / (4 * 150.0 * 50.0)
    want = (100.0 + d_p / 150.0) / (100.0 + d_p / 50.0)
    assert p.mid == pytest.approx(want, rel=1e-10)
    assert p.mid < 1.0
    # The marginal price is the limit of the output per unit sold.
    assert p.get_dy(0, 1, 1e-6) / 1e-6 == pytest.approx(p.mid, rel=1e-6)
    assert p.marginal_price(0, 1) * p.marginal_price(1, 0) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize(
    ("balances", "amp", "fee", "dx"),
    [
        ([120.0, 80.0], 50, 3_000_000, 7.0),
        ([150.0, 50.0], 50, 3_000_000, 7.0),
        ([1_000_000.0, 1_000_000.0], 2_000, 1_000_000, 50_000.0),
        ([2_500_000.0, 400_000.0], 100, 4_000_000, 125_000.0),
        ([30.0, 45.0, 25.0], 200, 4_000_000, 3.0),
    ],
)
def test_distance_from_the_contracts_integer_results(
    balances: list[float], amp: int, fee: int, dx: float
) -> None:
    # The contract on 18-decimal coins (`get_D`, `get_y`, `get_dy` with its − 1 wei and integer
    # fee), against the floats: within 1e-12 relative on D and on the output (the − 1 wei is 1e-18
    # of a token, below that).
    xp = [round(b * WEI) for b in balances]
    p = dl.StableSwapPool(balances, amplification=float(amp), fee=fee / FEE_DENOMINATOR)
    d = int_get_d(xp, amp) / WEI
    out = int_get_dy(0, 1, round(dx * WEI), xp, amp, fee) / WEI
    assert abs(p.invariant - d) <= 1e-12 * d
    assert abs(p.get_dy(0, 1, dx) - out) <= 1e-12 * out


def test_the_limits_in_a() -> None:
    # A → ∞: constant sum (a sale of 10 gives 10 before the fee, at any balance); A → 0: constant
    # product (dy = y·dx/(x + dx)).
    flat = dl.StableSwapPool([100.0, 60.0], amplification=1e6, fee=0.0, admin_fee=0.0)
    assert flat.get_dy(0, 1, 10.0) == pytest.approx(10.0, rel=1e-4)
    assert flat.mid == pytest.approx(1.0, rel=1e-4)
    cp = dl.StableSwapPool([100.0, 400.0], amplification=1e-9, fee=0.0, admin_fee=0.0)
    assert cp.get_dy(0, 1, 10.0) == pytest.approx(400.0 * 10.0 / 110.0, rel=1e-6)
    assert cp.mid == pytest.approx(4.0, rel=1e-6)


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    x0=st.floats(1.0, 1e7),
    ratio=st.floats(0.05, 20.0),
    amp=st.floats(1.0, 5_000.0),
    fee=st.floats(1e-5, 0.01),
    frac=st.floats(1e-4, 0.5),
)
def test_monotone_no_free_round_trip_and_d_never_falls(
    x0: float, ratio: float, amp: float, fee: float, frac: float
) -> None:
    p = dl.StableSwapPool([x0, x0 * ratio], amplification=amp, fee=fee, admin_fee=0.0)
    q = frac * x0
    assert p.quote_sell(q).notional < p.quote_sell(1.5 * q).notional
    d0 = p.invariant
    sold = p.sell(q)
    assert p.invariant >= d0 * (1 - 1e-14)
    d1 = p.invariant
    back = p.buy(q)
    assert back.notional > sold.notional
    assert p.invariant >= d1 * (1 - 1e-14)


def test_routes_beside_a_book_and_arbitrages_to_the_reference() -> None:
    book = dl.OrderBook.linear(mid=1.0, tick=0.0001, levels=200, depth_per_level=50_000.0)
    pool = dl.StableSwapPool([5e6, 5e6], amplification=200.0, fee=0.0004, admin_fee=0.5)
    fill = dl.Router([book, pool]).sell(3e6)
    assert fill.filled == pytest.approx(3e6)
    # Both venues end at one marginal bid (the book's last level, the pool's bid just above).
    assert pool.best_bid == pytest.approx(book.best_bid, abs=1.5e-4)
    assert pool.balances[0] > 5e6
    # The reference stays at 1: arbitrageurs buy the asset back to the fee band.
    arb = pool.advance(12.0, reference=1.0)
    assert arb is not None
    assert arb.side == "buy"
    assert pool.best_ask == pytest.approx(1.0, rel=1e-9)


def test_a_cascade_sells_into_the_pool_and_the_units_add_up() -> None:
    # A stablecoin as collateral with its only venue a StableSwap pool against the quote.
    pool = dl.StableSwapPool([2e6, 2e6], amplification=100.0, fee=0.0004, admin_fee=0.5)
    sc = dl.Scenario(
        assets=[
            dl.Asset("USDX", 1.0, venues=[pool], oracle=dl.Oracle.spot()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
        ],
        steps=3,
    )
    n = 200
    pos = pl.DataFrame(
        {
            "account": [f"a{i}" for i in range(n)],
            "collateral_asset": ["USDX"] * n,
            "collateral": [10_000.0] * n,
            "debt_asset": ["USDC"] * n,
            "debt": [10_000.0 * 0.9 / (1.005 + 0.0005 * i) for i in range(n)],
        }
    )
    sc = sc.add_lending(dl.Lending.aave_v3({"USDX": dl.Reserve(0.9, 0.01, 0.1)}), pos)
    res = dl.simulate(sc, shock=dl.Shock.instant(USDX=-0.02), max_extra_steps=0)
    ev = res.events.filter(pl.col("kind") == "liquidation")
    assert ev.height > 0
    # The shock itself is the pool's upkeep (arbitrage to 0.98); the liquidators' sales then
    # push it further: the units sold are the seized collateral less the protocol fee.
    sold = float(ev["qty"].sum())
    seized_net = float((ev["collateral_seized"] - ev["protocol_fee"]).sum())
    assert sold == pytest.approx(seized_net, rel=1e-12)
    assert res.summary["drawdown_USDX"].item() < -0.02
    # The caller's pool is untouched: the scenario holds its own copy.
    assert pool.balances == [2e6, 2e6]


def test_pickles_and_round_trips_through_a_scenario_file(tmp_path: object) -> None:
    from pathlib import Path

    pool = dl.StableSwapPool([3e6, 2e6, 1e6], amplification=300.0, fee=0.0001, admin_fee=0.5)
    pool.sell(1e5)
    back = pickle.loads(pickle.dumps(pool))
    assert back.balances == pool.balances
    assert back.admin_collected == pool.admin_collected
    sc = dl.Scenario(assets=[dl.Asset("USDX", 1.0, venues=[pool]), dl.Asset("USDC", 1.0)])
    path = Path(str(tmp_path)) / "sc.toml"
    sc.to_toml(path)
    again = dl.Scenario.from_toml(path)
    v = again.assets[0].venues[0]
    assert isinstance(v, dl.StableSwapPool)
    assert v.balances == pool.balances
    assert (v.amplification, v.fee, v.admin_fee) == (300.0, 0.0001, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"balances": [1.0], "amplification": 10.0}, "balances"),
        ({"balances": [1.0, -2.0], "amplification": 10.0}, "balances[1]"),
        ({"balances": [1.0, 2.0], "amplification": 0.0}, "amplification"),
        ({"balances": [1.0, 2.0], "amplification": -3.0}, "amplification"),
        ({"balances": [1.0, 2.0], "amplification": 2e6}, "amplification"),
        ({"balances": [1.0, 2.0], "amplification": 10.0, "fee": 0.7}, "fee"),
        ({"balances": [1.0, 2.0], "amplification": 10.0, "admin_fee": -0.1}, "admin_fee"),
        ({"balances": [1.0, 2.0], "amplification": "10"}, "amplification"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ScenarioError, match=field.replace("[", r"\[").replace("]", r"\]")):
        dl.StableSwapPool(**kwargs)  # type: ignore[arg-type]


def test_bad_coin_indices_name_the_argument() -> None:
    p = dl.StableSwapPool([1.0, 2.0], amplification=10.0)
    with pytest.raises(ScenarioError, match="j"):
        p.get_dy(0, 2, 1.0)
    with pytest.raises(ScenarioError, match="j"):
        p.get_dy(1, 1, 1.0)
