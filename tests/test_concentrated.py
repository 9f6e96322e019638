"""Uniswap v3's concentrated-liquidity pool (MECHANICS §2.10): swaps within one range and across
ticks worked by hand from the whitepaper's closed forms (Δ(1/√P) = Δx/L, Δ√P = Δy/L, the fee on
the input, ``liquidityNet`` at each crossing), the distance from the contract's integer swap
(re-implemented here with Python's integers from ``SqrtPriceMath`` and ``SwapMath``), the venue
properties, routing beside a book, a cascade through it, its scenario file and its bad input.

Distance from the contract's integers, on the pools below (18-decimal tokens): outputs and
inputs within 1e-15 relative for trades of a token or more (2e-13 for a micro-token trade,
where the contract's own rounding to wei dominates), and √P at a tick within 3e-15 of
``TickMath.getSqrtRatioAtTick`` (its published values for ticks down to −738,203; at −887,272
its integer, 4295128739, is itself 2e-10 from the exact √(1.0001^tick)·2^96)."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

import deleverage as dl
from deleverage.exceptions import ScenarioError

Q96 = 2**96
WEI = 10**18

# --- the contract's integer arithmetic (Uniswap/v3-core SqrtPriceMath, SwapMath, the swap loop) -
PIPS = 10**6


def _div_up(a: int, d: int) -> int:
    return -(-a // d)


def amount0_delta(sa: int, sb: int, liq: int, up: bool) -> int:
    """Token0 between two √P (Q96) at liquidity ``liq``: L·2^96·(sb − sa)/sb/sa."""
    sa, sb = min(sa, sb), max(sa, sb)
    n1, n2 = liq << 96, sb - sa
    return _div_up(_div_up(n1 * n2, sb), sa) if up else n1 * n2 // sb // sa


def amount1_delta(sa: int, sb: int, liq: int, up: bool) -> int:
    """Token1 between two √P (Q96): L·(sb − sa)/2^96."""
    sa, sb = min(sa, sb), max(sa, sb)
    return _div_up(liq * (sb - sa), Q96) if up else liq * (sb - sa) // Q96


def next_from_input(s: int, liq: int, amount: int, zero_for_one: bool) -> int:
    if zero_for_one:  # token0 in: L·s/(L + amount·s), rounded up
        n1 = liq << 96
        return s if amount == 0 else _div_up(n1 * s, n1 + amount * s)
    return s + (amount << 96) // liq  # token1 in: s + amount/L, rounded down


def next_from_output(s: int, liq: int, amount: int, zero_for_one: bool) -> int:
    if zero_for_one:  # token1 out: s − amount/L, rounded down
        return s - _div_up(amount << 96, liq)
    n1 = liq << 96  # token0 out: L·s/(L − amount·s), rounded up
    return _div_up(n1 * s, n1 - amount * s)


def swap_step(s: int, target: int, liq: int, remaining: int, fee: int) -> tuple[int, int, int, int]:
    """computeSwapStep: (next √P, amount in, amount out, fee); ``remaining`` < 0 is an exact
    output."""
    zfo, exact_in = s >= target, remaining >= 0
    if exact_in:
        less_fee = remaining * (PIPS - fee) // PIPS
        need = amount0_delta(target, s, liq, True) if zfo else amount1_delta(s, target, liq, True)
        nxt = target if less_fee >= need else next_from_input(s, liq, less_fee, zfo)
    else:
        need = amount1_delta(target, s, liq, False) if zfo else amount0_delta(s, target, liq, False)
        nxt = target if -remaining >= need else next_from_output(s, liq, -remaining, zfo)
    full = nxt == target
    if zfo:
        a_in = need if full and exact_in else amount0_delta(nxt, s, liq, True)
        a_out = need if full and not exact_in else amount1_delta(nxt, s, liq, False)
    else:
        a_in = need if full and exact_in else amount1_delta(s, nxt, liq, True)
        a_out = need if full and not exact_in else amount0_delta(s, nxt, liq, False)
    if not exact_in:
        a_out = min(a_out, -remaining)
    f = remaining - a_in if exact_in and not full else _div_up(a_in * fee, PIPS - fee)
    return nxt, a_in, a_out, f


def int_swap(
    sqrt_at: list[int], nets: list[int], s: int, j: int, liq: int, amount: int, zfo: bool, fee: int
) -> tuple[int, int]:
    """UniswapV3Pool.swap over initialised ticks whose √P (Q96) are ``sqrt_at``, from √P ``s`` in
    range ``j`` (between ticks j − 1 and j) at liquidity ``liq``: (total in with the fee, total
    out). ``amount`` < 0 is an exact output. Without the tick bitmap's word-by-word walk, which
    only adds steps at uninitialised ticks (a few wei)."""
    rem, total_in, total_out = amount, 0, 0
    while rem != 0:
        if (zfo and j == 0) or (not zfo and j == len(sqrt_at)):
            break  # nothing beyond the outermost tick in these pools
        target = sqrt_at[j - 1] if zfo else sqrt_at[j]
        if liq > 0:
            s, a_in, a_out, f = swap_step(s, target, liq, rem, fee)
        else:
            s, a_in, a_out, f = target, 0, 0, 0
        rem = rem - (a_in + f) if amount > 0 else rem + a_out
        total_in, total_out = total_in + a_in + f, total_out + a_out
        if s == target:
            liq, j = (liq - nets[j - 1], j - 1) if zfo else (liq + nets[j], j + 1)
    return total_in, total_out


# TickMath.getSqrtRatioAtTick as Uniswap/v3-core's test snapshot publishes it.
TICKMATH = {
    -738_203: 7409801140451,
    -500_000: 1101692437043807371,
    -50_000: 6504256538020985011912221507,
    -5_000: 61703726247759831737814779831,
    -3_000: 68192822843687888778582228483,
    -1_000: 75364347830767020784054125655,
    -50: 79030349367926598376800521322,
    50: 79426470787362580746886972461,
    1_000: 83290069058676223003182343270,
    4_000: 96768528593268422080558758223,
    50_000: 965075977353221155028623082916,
    500_000: 5697689776495288729098254600827762987878,
    738_203: 847134979253254120489401328389043031315994541,
}


def pow_tick(t: float) -> float:
    """1.0001^t to the last digits: ``1.0001 ** t`` carries the float error of 1.0001 (1e-17)
    times t."""
    return math.exp(t * math.log1p(1e-4))


# --- the pools --------------------------------------------------------------------------------

LADDER_TICKS = [-5_000, -3_000, -1_000, 1_000, 4_000]
LADDER_NETS = [1_000, 2_000, 2_000, -3_000, -2_000]


def single_range() -> dl.ConcentratedPool:
    """L = 1000 on [40000, 50000), √P = 10 (P = 100), whole-token units (MECHANICS §2.10)."""
    return dl.ConcentratedPool(
        [40_000, 50_000], [1_000, -1_000], sqrt_price_x96=10 * Q96, tick=46_054,
        liquidity=1_000, fee=0.003, decimals0=0, decimals1=0,
    )  # fmt: skip


def ladder(scale: int = 1, decimals: int = 0, base_is_token0: bool = True) -> dl.ConcentratedPool:
    """√P = 1 at tick 0; the ranges' liquidity (times ``scale``): below −5000: 0,
    [−5000, −3000): 1000, [−3000, −1000): 3000, [−1000, 1000): 5000 (active),
    [1000, 4000): 2000, above 4000: 0."""
    return dl.ConcentratedPool(
        LADDER_TICKS, [n * scale for n in LADDER_NETS], sqrt_price_x96=Q96, tick=0,
        liquidity=5_000 * scale, fee=0.003, decimals0=decimals, decimals1=decimals,
        base_is_token0=base_is_token0,
    )  # fmt: skip


# --- hand-worked numbers ----------------------------------------------------------------------


def test_the_worked_example_of_mechanics() -> None:
    # L = 1000, √P = 10, f = 0.003, sell 1 token0: 1/√P' = 1/10 + 0.997/1000 = 0.100997.
    p = single_range()
    assert p.mid == 100.0
    assert p.tick == 46_054
    fill = p.sell(1.0)
    assert p.sqrt_price_x96 / Q96 == pytest.approx(1 / 0.100997, rel=1e-15)
    assert p.sqrt_price_x96 / Q96 == pytest.approx(9.9012841966, rel=1e-11)
    assert fill.notional == pytest.approx(1_000 * (10 - 1 / 0.100997), rel=1e-13)
    assert fill.notional == pytest.approx(98.7158034397, rel=1e-11)


def test_a_swap_within_one_range_is_the_closed_form_with_the_fee() -> None:
    p = single_range()
    # Sell down to √P = 9: Δx = L(1/9 − 1/10) = 11.1111 before the fee, /0.997 with it;
    # Δy = L(10 − 9) = 1000.
    dx = 1_000 * (1 / 9 - 1 / 10) / 0.997
    assert dx == pytest.approx(11.1445447453, rel=1e-11)
    f = p.quote_sell(dx)
    assert f.notional == pytest.approx(1_000.0, rel=1e-13)
    assert f.first_price == pytest.approx(0.997 * 100.0, rel=1e-15)
    assert f.last_price == pytest.approx(0.997 * 81.0, rel=1e-13)
    # Buy up to √P = 11: Δx out = L(1/10 − 1/11) = 9.0909…, Δy in = L(11 − 10)/0.997.
    f = p.quote_buy(1_000 / 110)
    assert f.notional == pytest.approx(1_000 / 0.997, rel=1e-13)
    assert f.notional == pytest.approx(1_003.0090270812, rel=1e-12)
    assert f.last_price == pytest.approx(121 / 0.997, rel=1e-13)
    assert p.mid == 100.0  # quotes change nothing


def test_a_sale_crossing_two_ticks_by_hand() -> None:
    # Sell 700 token0: 697.9 after the fee.
    # a1 = √P(−1000) = 1.0001^−500 = 0.951231802418721, a2 = √P(−3000) = 0.860714431328764.
    a1, a2 = pow_tick(-500), pow_tick(-1500)
    assert a1 == pytest.approx(0.951231802418721, rel=1e-14)
    assert a2 == pytest.approx(0.860714431328764, rel=1e-14)
    # [−1000, 1000) at L = 5000 down to a1: Δx1 = 5000(1/a1 − 1) = 256.342341883833,
    # Δy1 = 5000(1 − a1) = 243.840987906394. Cross −1000 downward: L = 5000 − 2000 = 3000.
    dx1, dy1 = 5_000 * (1 / a1 - 1), 5_000 * (1 - a1)
    assert (dx1, dy1) == pytest.approx((256.342341883833, 243.840987906394), rel=1e-13)
    # [−3000, −1000) at L = 3000 down to a2: Δx2 = 3000(1/a2 − 1/a1) = 331.671183624725,
    # Δy2 = 3000(a1 − a2) = 271.552113269873. Cross −3000 downward: L = 3000 − 2000 = 1000.
    dx2, dy2 = 3_000 * (1 / a2 - 1 / a1), 3_000 * (a1 - a2)
    assert (dx2, dy2) == pytest.approx((331.671183624725, 271.552113269873), rel=1e-13)
    # [−5000, −3000) at L = 1000: the rest 697.9 − Δx1 − Δx2 = 109.886474491442 (the range holds
    # 1000(1/√P(−5000) − 1/a2) = 122.18), 1/√P' = 1/a2 + rest/1000: √P' = 0.786341559090830,
    # Δy3 = 1000(a2 − √P') = 74.3728722379333.
    rest = 697.9 - dx1 - dx2
    assert rest == pytest.approx(109.886474491442, rel=1e-12)
    s3 = 1 / (1 / a2 + rest / 1_000)
    dy3 = 1_000 * (a2 - s3)
    assert (s3, dy3) == pytest.approx((0.786341559090830, 74.3728722379333), rel=1e-13)
    p = ladder()
    fill = p.sell(700.0)
    assert fill.filled == 700.0
    assert fill.notional == pytest.approx(dy1 + dy2 + dy3, rel=1e-13)
    assert fill.notional == pytest.approx(589.765973414201, rel=1e-13)
    assert fill.levels == 3
    assert p.liquidity == 1_000
    assert -5_000 <= p.tick < -3_000
    assert p.sqrt_price_x96 / Q96 == pytest.approx(0.786341559090830, rel=1e-13)
    assert p.mid == pytest.approx(0.786341559090830**2, rel=1e-13)


def test_a_sale_that_exhausts_the_liquidity_fills_partially() -> None:
    # Nothing rests below −5000: at most (Δx1 + Δx2 + 1000(1/a3 − 1/a2))/0.997 = 712.334366563515
    # sells, for Δy1 + Δy2 + 1000(a2 − a3) = 597.297015011953 (a3 = 1.0001^−2500).
    a1, a2, a3 = pow_tick(-500), pow_tick(-1500), pow_tick(-2500)
    cap = (5_000 * (1 / a1 - 1) + 3_000 * (1 / a2 - 1 / a1) + 1_000 * (1 / a3 - 1 / a2)) / 0.997
    out = 5_000 * (1 - a1) + 3_000 * (a1 - a2) + 1_000 * (a2 - a3)
    assert (cap, out) == pytest.approx((712.334366563515, 597.297015011953), rel=1e-13)
    p = ladder()
    assert p.depth("bid", 0.99) == pytest.approx(cap, rel=1e-13)
    fill = p.sell(1_000.0)
    assert fill.status == "partial"
    assert fill.filled == pytest.approx(cap, rel=1e-13)
    assert fill.unfilled == pytest.approx(1_000.0 - cap, rel=1e-12)
    assert fill.notional == pytest.approx(out, rel=1e-13)
    # The pool stops on the last tick with liquidity above it; no bid is left (no invented price).
    assert p.mid == pytest.approx(pow_tick(-5_000), rel=1e-12)
    assert p.best_bid is None
    assert p.sell(1.0).status == "empty"
    assert p.best_ask == pytest.approx(pow_tick(-5_000) / 0.997, rel=1e-12)


def test_the_price_at_a_tick_is_1_0001_to_the_tick() -> None:
    for t in [-200_000, -46_054, -1, 0, 1, 46_054, 276_324]:
        p = dl.ConcentratedPool(
            [t - 60, t + 60], [10**20, -(10**20)], liquidity=10**20, fee=0.0005,
            sqrt_price_x96=dl.ConcentratedPool.sqrt_price_x96_at_tick(t), decimals0=0, decimals1=0,
        )  # fmt: skip
        assert p.tick == t
        assert p.mid == pytest.approx(pow_tick(t), rel=1e-12)
    # In whole tokens: times 10^(decimals0 − decimals1); tick 0 with 6 and 18 decimals is 1e-12.
    p = dl.ConcentratedPool(
        [-60, 60], [10**20, -(10**20)], sqrt_price_x96=Q96, liquidity=10**20, decimals0=6
    )
    assert p.mid == pytest.approx(1e-12, rel=1e-15)


@pytest.mark.parametrize(("tick", "contract"), sorted(TICKMATH.items()))
def test_sqrt_price_at_a_tick_is_tickmaths(tick: int, contract: int) -> None:
    ours = dl.ConcentratedPool.sqrt_price_x96_at_tick(tick)
    assert abs(ours - contract) <= 3e-15 * contract
    assert ours == pytest.approx(math.sqrt(pow_tick(tick)) * Q96, rel=1e-14)


def test_the_asset_as_token1_and_decimals() -> None:
    # USDC/WETH as the real pool holds it: token0 USDC (6 decimals), token1 WETH (18); the asset
    # is WETH, so base_is_token0=False. ETH at 2,500 USDC: P_raw = 1e18/(2,500·1e6) = 4e8 wei per
    # USDC unit, √P = 20,000, and the asset's price is 10^(18 − 6)/P_raw = 2,500.
    s = 20_000.0
    tick = math.floor(math.log(s * s) / math.log(1.0001))
    pool = dl.ConcentratedPool(
        [tick - 5_000, tick + 5_000], [WEI, -WEI], sqrt_price_x96=s * Q96, tick=tick,
        liquidity=WEI, fee=0.0005, decimals0=6, decimals1=18, base_is_token0=False,
    )  # fmt: skip
    assert pool.mid == pytest.approx(2_500.0, rel=1e-14)
    assert pool.price == pytest.approx(1 / 2_500, rel=1e-14)
    # Selling 1 WETH puts 1e18 wei of token1 in: √P' = 20,000 + 0.9995e18/L = 20,000.9995 and
    # USDC out = L·(1/√P − 1/√P')/1e6 = 0.9995e18/(20,000·20,000.9995)/1e6 = 2,498.62513120907.
    fill = pool.sell(1.0)
    assert fill.notional == pytest.approx(0.9995e18 / (20_000 * 20_000.9995) / 1e6, rel=1e-14)
    assert fill.notional == pytest.approx(2_498.62513120907, rel=1e-13)
    assert pool.sqrt_price_x96 / Q96 == pytest.approx(20_000.9995, rel=1e-15)
    # Buying 1 WETH back takes 1e18 wei of token1 out, √P down by 1e18/L = 1 to 19,999.9995, for
    # L·(1/√P' − 1/√P) = 1e18/(19,999.9995·20,000.9995) USDC units in before the fee.
    cost = pool.quote_buy(1.0).notional
    assert cost == pytest.approx(1e18 / (19_999.9995 * 20_000.9995) / 1e6 / 0.9995, rel=1e-13)
    assert cost > fill.notional


# --- the distance from the contract's integers -------------------------------------------------


@pytest.mark.parametrize("qty", [1e-6, 1.0, 100.0, 700.0, 712.0, 2_000.0])
@pytest.mark.parametrize("base_is_token0", [True, False])
def test_distance_from_the_contracts_integer_swap(qty: float, base_is_token0: bool) -> None:
    # The ladder pool on 18-decimal tokens (liquidity in wei), the contract's ticks at their
    # TickMath √P: exact input (a sale) and exact output (a purchase, where it fills).
    sqrt_at = [TICKMATH[t] for t in LADDER_TICKS]
    nets = [n * WEI for n in LADDER_NETS]
    pool = ladder(scale=WEI, decimals=18, base_is_token0=base_is_token0)
    sold = pool.quote_sell(qty)
    used, out = int_swap(
        sqrt_at, nets, Q96, 3, 5_000 * WEI, round(qty * WEI), base_is_token0, 3_000
    )
    rtol = 2.5e-13 if qty < 1 else 1e-15
    assert sold.notional == pytest.approx(out / WEI, rel=rtol)
    assert sold.filled == pytest.approx(used / WEI, rel=rtol)
    want = min(qty, pool.depth("ask", 10.0))
    if want < pool.depth("ask", 10.0) * 0.999:
        paid, got = int_swap(
            sqrt_at, nets, Q96, 3, 5_000 * WEI, -round(want * WEI), not base_is_token0, 3_000
        )
        bought = pool.quote_buy(want)
        assert got == round(want * WEI)
        assert bought.notional == pytest.approx(paid / WEI, rel=rtol)


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    q=st.floats(1e-3, 600.0),
    more=st.floats(1.001, 3.0),
    base_is_token0=st.booleans(),
    fee=st.sampled_from([0.0001, 0.0005, 0.003, 0.01]),
)
def test_monotone_output_and_no_free_round_trip(
    q: float, more: float, base_is_token0: bool, fee: float
) -> None:
    p = dl.ConcentratedPool(
        LADDER_TICKS, LADDER_NETS, sqrt_price_x96=Q96, tick=0, liquidity=5_000, fee=fee,
        decimals0=0, decimals1=0, base_is_token0=base_is_token0,
    )  # fmt: skip
    assert p.quote_sell(q * more).notional >= p.quote_sell(q).notional
    assert p.quote_buy(min(q * more, 500.0)).notional >= p.quote_buy(min(q, 500.0)).notional
    sold = p.sell(q)
    back = p.buy(sold.filled)
    assert back.notional > sold.notional  # buying back what was sold costs more
    assert p.mid is not None
    assert p.mid > 1.0 - 1e-12  # and leaves the price above where it was


def test_depth_and_capacity_agree_with_quotes() -> None:
    p = ladder()
    for side in ("bid", "ask"):
        for within in (0.01, 0.05, 0.2):
            q = p.depth(side, within)
            target = p.mid * (1 - within if side == "bid" else 1 + within)
            f = p.quote_sell(q) if side == "bid" else p.quote_buy(q)
            assert f.filled == pytest.approx(q, rel=1e-15)
            assert f.last_price == pytest.approx(target, rel=1e-12)
            # A little more passes the target.
            g = p.quote_sell(q * 1.001) if side == "bid" else p.quote_buy(q * 1.001)
            assert (g.last_price < target) if side == "bid" else (g.last_price > target)


def test_upkeep_arbitrages_the_pool_to_the_reference() -> None:
    # As the constant-product pool: the trade that puts the best quote on the reference P
    # (the mid on the fee band's edge, P/g above or g·P below).
    p = ladder()
    arb = p.advance(12.0, reference=0.7)
    assert arb is not None
    assert arb.side == "sell"
    assert p.best_bid == pytest.approx(0.7, rel=1e-12)
    assert p.mid == pytest.approx(0.7 / 0.997, rel=1e-12)
    assert p.advance(12.0, reference=0.7) is None
    arb = p.advance(12.0, reference=1.2)
    assert arb is not None
    assert arb.side == "buy"
    assert p.best_ask == pytest.approx(1.2, rel=1e-12)
    assert p.mid == pytest.approx(1.2 * 0.997, rel=1e-12)
    assert p.advance(12.0, reference=1.2 * 0.999) is None  # inside the band: no trade


# --- in the router, a cascade, a scenario file --------------------------------------------------


def test_a_routed_sale_across_a_book_and_the_pool_ends_at_one_marginal_price() -> None:
    book = dl.OrderBook.linear(mid=1.0, tick=0.0005, levels=800, depth_per_level=2.0)
    pool = ladder()
    fill = dl.Router([book, pool]).sell(400.0)
    assert fill.filled == pytest.approx(400.0)
    book_part, pool_part = fill.parts
    assert book_part.filled > 0
    assert pool_part.filled > 0
    # Both end at one marginal price: the pool's bid within one book tick of the book's last fill.
    assert pool.best_bid == pytest.approx(book_part.last_price, abs=0.0005 + 1e-12)
    assert pool.best_bid == pytest.approx(pool_part.last_price, rel=1e-12)


def eth_pool() -> dl.ConcentratedPool:
    # USDC/WETH-style at ETH = 2,500 (√P = 20,000 raw), L = 1e18 on ±5,000 ticks.
    tick = math.floor(math.log(20_000.0**2) / math.log(1.0001))
    return dl.ConcentratedPool(
        [tick - 5_000, tick + 5_000], [str(WEI), str(-WEI)], sqrt_price_x96=20_000 * Q96,
        liquidity=str(WEI), fee=0.0005, decimals0=6, decimals1=18, base_is_token0=False,
    )  # fmt: skip


def eth_scenario(pool: dl.ConcentratedPool) -> dl.Scenario:
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_500.0, venues=[pool], oracle=dl.Oracle.spot()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
        ],
        steps=3,
    )
    n = 200
    pos = pl.DataFrame(
        {
            "account": [f"a{i}" for i in range(n)],
            "collateral_asset": ["ETH"] * n,
            "collateral": [2.0] * n,
            "debt_asset": ["USDC"] * n,
            "debt": [2.0 * 2_500.0 * 0.83 / (1.05 + 0.001 * i) for i in range(n)],
        }
    )
    return sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05, 0.1)}), pos)


def test_a_cascade_sells_into_the_pool_and_the_units_add_up() -> None:
    pool = eth_pool()
    res = dl.simulate(eth_scenario(pool), shock=dl.Shock.instant(ETH=-0.1), max_extra_steps=0)
    ev = res.events.filter(pl.col("kind") == "liquidation")
    assert ev.height > 0
    # The shock is the pool's upkeep (arbitrage to 2,250); the liquidators' sales push it further:
    # what they sold is the seized collateral less the protocol fee.
    sold = float(ev["qty"].sum())
    seized_net = float((ev["collateral_seized"] - ev["protocol_fee"]).sum())
    assert sold == pytest.approx(seized_net, rel=1e-12)
    assert res.summary["drawdown_ETH"].item() < -0.1
    assert pool.mid == pytest.approx(2_500.0, rel=1e-14)  # the scenario holds its own copy
    state = dl.Engine(eth_scenario(pool)).state()
    assert state.venues["kind"].to_list() == ["concentrated_pool"]


def test_pickles_and_round_trips_through_a_scenario_file(tmp_path: Path) -> None:
    # A liquidity beyond TOML's 64-bit integers is written as a string of digits.
    tick = 0
    big = 12_345_678_901_234_567_890_123
    pool = dl.ConcentratedPool(
        [tick - 600, tick + 600], [big, -big], sqrt_price_x96=Q96, liquidity=big, fee=0.01
    )
    pool.sell(1_000.0)
    back = pickle.loads(pickle.dumps(pool))
    assert isinstance(back, dl.ConcentratedPool)
    assert (back.sqrt_price_x96, back.liquidity, back.tick) == (
        pool.sqrt_price_x96, pool.liquidity, pool.tick
    )  # fmt: skip
    sc = dl.Scenario(assets=[dl.Asset("ETH", pool.mid, venues=[pool]), dl.Asset("USDC", 1.0)])
    path = tmp_path / "sc.toml"
    sc.to_toml(path)
    assert f'"{big}"' in path.read_text()
    v = dl.Scenario.from_toml(path).assets[0].venues[0]
    assert isinstance(v, dl.ConcentratedPool)
    assert v.ticks == pool.ticks
    assert v.liquidity_net == [big, -big]
    assert (v.liquidity, v.tick, v.fee, v.base_is_token0) == (big, pool.tick, 0.01, True)
    assert v.sqrt_price_x96 == pool.sqrt_price_x96
    assert v.quote_sell(10.0).notional == pool.quote_sell(10.0).notional
    # The lending scenario round-trips too, and runs the same.
    sc = eth_scenario(eth_pool())
    sc.to_toml(tmp_path / "eth.toml")
    again = dl.Scenario.from_toml(tmp_path / "eth.toml")
    a = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1), max_extra_steps=0)
    b = dl.simulate(again, shock=dl.Shock.instant(ETH=-0.1), max_extra_steps=0)
    assert a.summary["drawdown_ETH"].item() == b.summary["drawdown_ETH"].item()


def test_a_scenario_file_may_name_a_ticks_file(tmp_path: Path) -> None:
    # The subgraph's columns (tickIdx, liquidityNet as strings) in a CSV side file.
    pl.DataFrame({"tickIdx": [-600, 600], "liquidityNet": [str(10**22), str(-(10**22))]}).write_csv(
        tmp_path / "ticks.csv"
    )
    (tmp_path / "sc.toml").write_text(
        '[[assets]]\nname = "ETH"\nprice = 1.0\n'
        'venues = [{ kind = "concentrated", file = "ticks.csv", '
        f'sqrt_price_x96 = "{Q96}", liquidity = "{10**22}", fee = 0.0005 }}]\n'
        '[[assets]]\nname = "USDC"\nprice = 1.0\n'
    )
    v = dl.Scenario.from_toml(tmp_path / "sc.toml").assets[0].venues[0]
    assert isinstance(v, dl.ConcentratedPool)
    assert (v.ticks, v.liquidity, v.tick, v.mid) == ([-600, 600], 10**22, 0, 1.0)


def test_from_frame_reads_the_subgraphs_columns() -> None:
    ticks = pl.DataFrame({"tickIdx": LADDER_TICKS, "liquidityNet": [str(n) for n in LADDER_NETS]})
    p = dl.ConcentratedPool.from_frame(
        ticks, sqrt_price_x96=str(Q96), liquidity="5000", fee=0.003, decimals0=0, decimals1=0
    )
    assert p.quote_sell(700.0).notional == ladder().quote_sell(700.0).notional
    with pytest.raises(ScenarioError, match="liquidityNet"):
        dl.ConcentratedPool.from_frame(pl.DataFrame({"tick": [0]}), sqrt_price_x96=Q96, liquidity=1)


# --- bad input -------------------------------------------------------------------------------

GOOD: dict[str, object] = {
    "ticks": [40_000, 50_000],
    "liquidity_net": [1_000, -1_000],
    "sqrt_price_x96": 10 * Q96,
    "tick": 46_054,
    "liquidity": 1_000,
    "fee": 0.003,
    "decimals0": 0,
    "decimals1": 0,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ticks": [50_000, 40_000]}, r"ticks must be strictly increasing: element 1 is 40000"),
        ({"ticks": [40_000, 40_000]}, r"ticks must be strictly increasing"),
        ({"ticks": [40_000, 900_000]}, r"ticks\[1\] .*887272.*got 900000"),
        ({"ticks": [-887_273, 50_000]}, r"ticks\[0\] .*got -887273"),
        ({"liquidity_net": [1_000, -2_000]}, r"liquidity_net\[1\] .*>= 0.*got -2000"),
        ({"liquidity_net": [2_000, -1_000]}, r"liquidity_net\[0\] .*got 2000"),
        ({"liquidity": -5}, r"liquidity must be >= 0, got -5"),
        ({"fee": 0.002}, r"fee must be one of Uniswap v3's fee tiers.*got 0.002"),
        ({"fee": 1.0}, r"fee must be in \[0, 1\), got 1"),
        ({"fee": -0.003}, r"fee must be in \[0, 1\), got -0.003"),
        ({"sqrt_price_x96": 0}, r"sqrt_price_x96 must be > 0, got 0"),
        ({"sqrt_price_x96": -(2**96)}, r"sqrt_price_x96 must be > 0, got -7.9"),
        ({"tick": 46_060}, r"tick must be the tick of sqrt_price_x96.*got 46060"),
        ({"tick": 39_000}, r"tick must be the tick of sqrt_price_x96.*got 39000"),
        ({"liquidity_net": [1_000]}, r"liquidity_net has length 1, but ticks has length 2"),
        ({"liquidity": "1e3x"}, r"liquidity must be a whole number.*'1e3x'"),
        ({"liquidity_net": [1.5, -1.5]}, r"liquidity_net\[0\] must be a whole number.*1.5"),
        ({"decimals1": 40}, r"decimals1 must be .* 0 to 36, got 40"),
    ],
)
def test_bad_state_names_the_field_and_value(change: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        dl.ConcentratedPool(**{**GOOD, **change})  # type: ignore[arg-type]


def test_bad_venue_tables_in_a_scenario_file_name_their_place(tmp_path: Path) -> None:
    (tmp_path / "sc.toml").write_text(
        '[[assets]]\nname = "ETH"\nprice = 100.0\n'
        'venues = [{ kind = "concentrated", ticks = [40000, 50000], liquidity_net = [1000, -1000], '
        f"sqrt_price_x96 = {10 * Q96}.0, liquidity = 1000, tick = 46054, fee = 0.002 }}]\n"
    )
    with pytest.raises(ScenarioError, match=r"assets\[0\].venues\[0\].*fee"):
        dl.Scenario.from_toml(tmp_path / "sc.toml")


def test_an_incomplete_tick_list_is_refused_and_a_frame_may_come_unsorted() -> None:
    import polars as pl

    # Liquidity 1000 from tick −1000 to 1000 (+1000 / −1000): cut at its upper tick, the
    # liquidity would run on to TickMath's bound.
    sqrt_x96 = 2**96  # price 1, tick 0
    with pytest.raises(dl.ScenarioError, match=r"ticks\[-1\].*whole tick list"):
        dl.ConcentratedPool([-1_000], [1_000], sqrt_price_x96=sqrt_x96, liquidity=1_000)
    # A frame in the subgraph's id order is sorted by tick.
    frame = pl.DataFrame({"tickIdx": [1_000, -1_000], "liquidityNet": ["-1000", "1000"]})
    pool = dl.ConcentratedPool.from_frame(frame, sqrt_price_x96=sqrt_x96, liquidity=1_000)
    assert pool.ticks == [-1_000, 1_000]
    assert pool.liquidity_net == [1_000, -1_000]
