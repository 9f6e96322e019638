"""The venues through the Python API, against numbers computed independently of the code.

Every expected value below is either a published worked example of ``MECHANICS.md`` §2, a closed
form of §2.2-2.8 evaluated here, or arithmetic done by hand (shown in the comments). None is a
copy of what the library printed.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import deleverage as dl

REL = 1e-12

# MECHANICS worked example 2: bids 101.50 x 3, 101.25 x 5, 100.90 x 2.5, 100.40 x 4; ask 102.00.
EX2_BID_PX = [101.50, 101.25, 100.90, 100.40]
EX2_BID_QTY = [3.0, 5.0, 2.5, 4.0]
EX2_ASK_PX = [102.0]
EX2_ASK_QTY = [10.0]


def approx(x: float, rel: float = REL, abs: float = 0.0):
    return pytest.approx(x, rel=rel, abs=abs)


def ex2_book() -> dl.OrderBook:
    return dl.OrderBook.from_levels(EX2_BID_PX, EX2_BID_QTY, EX2_ASK_PX, EX2_ASK_QTY)


# --------------------------------------------------------------------------------------------
# Order book walking (MECHANICS §2.4, worked example 2)
# --------------------------------------------------------------------------------------------


def test_book_worked_example_2_sell_9_then_8() -> None:
    book = ex2_book()
    assert book.best_bid == approx(101.50)
    assert book.best_ask == approx(102.00)
    assert book.mid == approx(101.75)  # (101.50 + 102.00) / 2

    # sell 9: 3 @ 101.50 + 5 @ 101.25 + 1 @ 100.90 = 304.50 + 506.25 + 100.90 = 911.65
    fill = book.sell(9.0)
    assert fill.side == "sell"
    assert fill.requested == 9.0
    assert fill.filled == approx(9.0)
    assert fill.unfilled == approx(0.0, abs=1e-12)
    assert fill.notional == approx(911.65)
    assert fill.vwap == approx(18_233 / 180)  # 911.65 / 9 = 101.294444...
    assert fill.first_price == approx(101.50)
    assert fill.last_price == approx(100.90)
    assert fill.levels == 3
    assert fill.status == "filled"
    assert fill.parts == []
    # 1.5 left at 100.90; mid (100.90 + 102.00) / 2
    assert book.best_bid == approx(100.90)
    assert book.mid == approx(101.45)
    px, qty = book.levels("bid")
    assert isinstance(px, np.ndarray)
    assert isinstance(qty, np.ndarray)
    assert px.dtype == np.float64
    assert qty.dtype == np.float64
    np.testing.assert_allclose(px, [100.90, 100.40], rtol=REL)
    np.testing.assert_allclose(qty, [1.5, 4.0], rtol=REL)
    ask_px, ask_qty = book.levels("ask")
    np.testing.assert_allclose(ask_px, [102.0], rtol=REL)
    np.testing.assert_allclose(ask_qty, [10.0], rtol=REL)

    # sell 8: 1.5 @ 100.90 + 4 @ 100.40 = 151.35 + 401.60 = 552.95, 2.5 unfilled
    fill = book.sell(8.0)
    assert fill.requested == 8.0
    assert fill.filled == approx(5.5)
    assert fill.unfilled == approx(2.5)
    assert fill.filled + fill.unfilled == approx(8.0)
    assert fill.notional == approx(552.95)
    assert fill.vwap == approx(11_059 / 110)  # 552.95 / 5.5 = 100.536364
    assert fill.first_price == approx(100.90)
    assert fill.last_price == approx(100.40)
    assert fill.levels == 2
    assert fill.status == "partial"

    # bid side empty: no best bid, no mid, nothing fills below 100.40
    assert book.best_bid is None
    assert book.mid is None
    assert book.best_ask == approx(102.0)
    px, qty = book.levels("bid")
    assert px.shape == (0,)
    assert qty.shape == (0,)
    assert book.depth("bid", 0.5) == 0.0

    fill = book.sell(1.0)
    assert fill.filled == 0.0
    assert fill.unfilled == 1.0
    assert fill.notional == 0.0
    assert fill.vwap is None
    assert fill.first_price is None
    assert fill.last_price is None
    assert fill.levels == 0
    assert fill.status == "empty"


def test_book_buy_walks_the_asks() -> None:
    # asks 102 x 1, 102.5 x 2, 103 x 4; buy 4: 102 + 2 * 102.5 + 1 * 103 = 410
    book = dl.OrderBook.from_levels([101.0], [1.0], [102.0, 102.5, 103.0], [1.0, 2.0, 4.0])
    fill = book.buy(4.0)
    assert fill.side == "buy"
    assert fill.filled == approx(4.0)
    assert fill.notional == approx(410.0)
    assert fill.vwap == approx(102.5)
    assert fill.first_price == approx(102.0)
    assert fill.last_price == approx(103.0)
    assert fill.levels == 3
    assert book.best_ask == approx(103.0)
    np.testing.assert_allclose(book.levels("ask")[1], [3.0], rtol=REL)
    # 3 more rest at 103: buying 5 fills 3
    fill = book.buy(5.0)
    assert fill.filled == approx(3.0)
    assert fill.unfilled == approx(2.0)
    assert fill.status == "partial"
    assert book.best_ask is None
    assert book.mid is None


@pytest.mark.parametrize(
    ("bid_qty", "qty"),
    [
        # 0.3 @ 100 + 0.2 @ 99 + 0.35 @ 98: exactly the whole side, 0.3 + 0.2 + 0.35 == 0.85
        ([0.3, 0.2, 0.35], 0.85),
        # a walk ending inside the second level (found by the property tests)
        ([291.978615987851, 871.1391497935891, 275.3743769480771], 808.1588661034651),
    ],
)
def test_book_walk_never_fills_more_than_requested(bid_qty: list[float], qty: float) -> None:
    book = dl.OrderBook.from_levels([100.0, 99.0, 98.0], bid_qty, [101.0], [1.0])
    assert qty <= sum(bid_qty)
    fill = book.sell(qty)
    assert fill.status == "filled"
    assert fill.unfilled == 0.0
    assert fill.filled <= qty
    assert fill.filled == approx(qty)


def test_zero_order_fills_nothing_and_misses_nothing() -> None:
    for venue in (
        ex2_book(),
        dl.ConstantProductPool(10.0, 1_000.0),
        dl.ImpactCurve.linear(1.0, 1.0),
    ):
        for fill in (venue.sell(0.0), venue.buy(0.0)):
            assert fill.requested == 0.0
            assert fill.filled == 0.0
            assert fill.unfilled == 0.0
            assert fill.notional == 0.0
            assert fill.vwap is None
            assert fill.levels == 0
            assert fill.status == "filled"


def test_fill_to_dict_matches_the_attributes() -> None:
    fill = ex2_book().sell(9.0)
    d = fill.to_dict()
    for key in (
        "side",
        "requested",
        "filled",
        "unfilled",
        "notional",
        "vwap",
        "first_price",
        "last_price",
        "levels",
        "status",
    ):
        assert d[key] == getattr(fill, key)
    assert "parts" not in d


def test_book_depth_by_hand() -> None:
    # mid 101.75; within w admits bids >= 101.75 (1 - w) and asks <= 101.75 (1 + w)
    book = ex2_book()
    assert book.depth("bid", 0.0) == 0.0
    assert book.depth("bid", 0.0025) == approx(3.0)  # >= 101.495625: 101.50
    assert book.depth("bid", 0.005) == approx(8.0)  # >= 101.24125: + 101.25
    assert book.depth("bid", 0.01) == approx(10.5)  # >= 100.7325: + 100.90
    assert book.depth("bid", 0.02) == approx(14.5)  # >= 99.715: everything
    assert book.depth("ask", 0.001) == 0.0  # <= 101.85175
    assert book.depth("ask", 0.0025) == approx(10.0)  # <= 102.004375


def test_levels_returns_copies() -> None:
    book = ex2_book()
    px, qty = book.levels("bid")
    if px.flags.writeable:
        px[:] = 0.0
        qty[:] = 0.0
    np.testing.assert_allclose(book.levels("bid")[0], EX2_BID_PX, rtol=REL)
    np.testing.assert_allclose(book.levels("bid")[1], EX2_BID_QTY, rtol=REL)


# --------------------------------------------------------------------------------------------
# Input columns: lists, numpy float and int arrays, read-only arrays; never mutated
# --------------------------------------------------------------------------------------------


def _columns(kind: str) -> tuple[object, object, object, object]:
    if kind == "list":
        return EX2_BID_PX, EX2_BID_QTY, EX2_ASK_PX, EX2_ASK_QTY
    if kind == "float":
        return (
            np.array(EX2_BID_PX),
            np.array(EX2_BID_QTY),
            np.array(EX2_ASK_PX),
            np.array(EX2_ASK_QTY),
        )
    if kind == "int":
        # integer ladders: bids 101 x 3, 100 x 5, 99 x 2, 98 x 4; ask 102 x 10
        return (
            np.array([101, 100, 99, 98], dtype=np.int64),
            np.array([3, 5, 2, 4], dtype=np.int64),
            np.array([102], dtype=np.int64),
            np.array([10], dtype=np.int64),
        )
    if kind == "readonly":
        cols = [np.array(c) for c in (EX2_BID_PX, EX2_BID_QTY, EX2_ASK_PX, EX2_ASK_QTY)]
        for c in cols:
            c.flags.writeable = False
        return tuple(cols)  # type: ignore[return-value]
    if kind == "strided":
        # every other element of a longer array: a non-contiguous view
        def strided(v: list[float]) -> np.ndarray:
            a = np.zeros(2 * len(v))
            a[::2] = v
            return a[::2]

        return tuple(strided(c) for c in (EX2_BID_PX, EX2_BID_QTY, EX2_ASK_PX, EX2_ASK_QTY))  # type: ignore[return-value]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["list", "float", "readonly", "strided"])
def test_from_levels_accepts_columns(kind: str) -> None:
    cols = _columns(kind)
    before = [np.array(c, copy=True) for c in cols]
    book = dl.OrderBook.from_levels(*cols)
    fill = book.sell(9.0)
    assert fill.notional == approx(911.65)
    assert fill.vwap == approx(18_233 / 180)
    assert book.mid == approx(101.45)
    book.sell(3.0)
    book.buy(4.0)
    book.advance(10.0, reference=50.0)
    for b, c in zip(before, cols, strict=True):
        np.testing.assert_array_equal(np.asarray(c), b)


def test_from_levels_accepts_int_arrays() -> None:
    cols = _columns("int")
    before = [np.array(c, copy=True) for c in cols]
    book = dl.OrderBook.from_levels(*cols)
    assert book.mid == approx(101.5)  # (101 + 102) / 2
    # sell 9: 3 @ 101 + 5 @ 100 + 1 @ 99 = 303 + 500 + 99 = 902
    fill = book.sell(9.0)
    assert fill.notional == approx(902.0)
    assert fill.last_price == approx(99.0)
    for b, c in zip(before, cols, strict=True):
        np.testing.assert_array_equal(c, b)
        assert c.dtype == np.int64


# --------------------------------------------------------------------------------------------
# Parametric profiles (MECHANICS §2.5)
# --------------------------------------------------------------------------------------------


def test_linear_profile_levels() -> None:
    mid, tick, k_max, d = 100.0, 0.5, 40, 4.0
    book = dl.OrderBook.linear(mid=mid, tick=tick, levels=k_max, depth_per_level=d)
    k = np.arange(1, k_max + 1)
    bid_px, bid_qty = book.levels("bid")
    ask_px, ask_qty = book.levels("ask")
    np.testing.assert_allclose(bid_px, mid * (1 - k * tick / mid), rtol=REL)
    np.testing.assert_allclose(ask_px, mid * (1 + k * tick / mid), rtol=REL)
    np.testing.assert_allclose(bid_qty, np.full(k_max, d), rtol=REL)
    np.testing.assert_allclose(ask_qty, np.full(k_max, d), rtol=REL)
    assert book.mid == approx(mid)
    assert book.best_bid == approx(99.5)
    assert book.best_ask == approx(100.5)


def test_linear_profile_drops_bids_at_or_below_zero() -> None:
    # mid 10, tick 1: bids 9, 8, ..., 1 (u_k = k/10 < 1); u = 1 (price 0) and beyond dropped
    book = dl.OrderBook.linear(mid=10.0, tick=1.0, levels=15, depth_per_level=1.0)
    np.testing.assert_allclose(book.levels("bid")[0], np.arange(9.0, 0.0, -1.0), rtol=REL)
    np.testing.assert_allclose(book.levels("ask")[0], np.arange(11.0, 26.0), rtol=REL)


def _linear_sell_by_hand(mid: float, tick: float, d: float, q: float) -> tuple[int, float]:
    """ceil(q/d) levels: the first n-1 full at mid - k tick, the rest at mid - n tick."""
    n = math.ceil(q / d)
    notional = sum(d * (mid - k * tick) for k in range(1, n)) + (q - (n - 1) * d) * (mid - n * tick)
    return n, notional


@pytest.mark.parametrize(
    ("q", "levels", "notional"),
    [
        (4.0, 1, 398.0),  # 4 @ 99.5
        (10.0, 3, 991.0),  # 4 @ 99.5 + 4 @ 99 + 2 @ 98.5 = 398 + 396 + 197
        (13.5, 4, 1335.0),  # + 4 @ 98.5 + 1.5 @ 98 = 398 + 396 + 394 + 147
        (40.0, 10, 3890.0),  # 4 * (99.5 + 99 + ... + 95) = 4 * 972.5
    ],
)
def test_linear_profile_sell(q: float, levels: int, notional: float) -> None:
    mid, tick, d = 100.0, 0.5, 4.0
    assert _linear_sell_by_hand(mid, tick, d, q) == (levels, pytest.approx(notional))
    book = dl.OrderBook.linear(mid=mid, tick=tick, levels=40, depth_per_level=d)
    fill = book.sell(q)
    assert fill.filled == approx(q)
    assert fill.levels == levels == math.ceil(q / d)
    assert fill.notional == approx(notional)
    assert fill.first_price == approx(99.5)
    assert fill.last_price == approx(mid - levels * tick)
    assert book.consumed("bid") == approx(q)
    assert book.consumed("ask") == 0.0


@pytest.mark.parametrize("y", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("q", [2_500.0, 5_000.0, 20_000.0, 100_000.0, 1_000_000.0])
def test_sqrt_profile_follows_the_square_root_law(q: float, y: float) -> None:
    # tick 0.001 at mid 100: eta = 1e-5. The last fill is at the first level edge at or beyond
    # the law u = Y sigma sqrt(Q/V), i.e. at most one tick further out. Here u >= 5e-4 (50
    # ticks); below 100 ticks the cases are on an edge (y = 0.5, Q = 2,500: u = 50 eta exactly)
    # or round 70.7 ticks up to 71 (0.4 %).
    mid, sigma, volume = 100.0, 0.02, 1e6
    book = dl.OrderBook.sqrt(mid=mid, tick=0.001, levels=20_000, sigma=sigma, volume=volume, y=y)
    fill = book.quote_sell(q)
    assert fill.filled == approx(q)
    law = y * sigma * math.sqrt(q / volume)
    move = (mid - fill.last_price) / mid
    assert move == pytest.approx(law, rel=0.01)
    # the level quantities are V eta^2 (2k - 1) / (Y^2 sigma^2)
    eta = 0.001 / mid
    _, qty = book.levels("bid")
    k = np.arange(1, 6)
    np.testing.assert_allclose(qty[:5], volume * eta**2 * (2 * k - 1) / (y * sigma) ** 2, rtol=1e-9)


def test_exponential_profile_total_depth() -> None:
    # W(u) = W_inf (1 - exp(-u/u0)); with u_K = K eta the bids hold W(u_K) in total
    mid, tick, k_max, w_inf, u0 = 100.0, 0.1, 500, 1_000.0, 0.01
    book = dl.OrderBook.exponential(mid=mid, tick=tick, levels=k_max, total_depth=w_inf, scale=u0)
    eta = tick / mid
    _, qty = book.levels("bid")
    assert qty.sum() == approx(w_inf * (1 - math.exp(-k_max * eta / u0)), rel=1e-9)
    assert qty[0] == approx(w_inf * (1 - math.exp(-eta / u0)), rel=1e-9)


# --------------------------------------------------------------------------------------------
# Anchoring, resilience, permanent impact (MECHANICS §2.6)
# --------------------------------------------------------------------------------------------


def test_resilience_halves_consumed_depth_every_half_life() -> None:
    # linear book, mid 100, tick 1, d = 10: bids 99, 98, 97, ...
    book = dl.OrderBook.linear(
        mid=100.0, tick=1.0, levels=50, depth_per_level=10.0, resilience_half_life=60.0
    )
    assert book.resilience_half_life == 60.0
    book.sell(30.0)  # consumes 99, 98, 97
    assert book.consumed("bid") == approx(30.0)
    assert book.best_bid == approx(96.0)

    # E = 15: level 99 still empty, 5 of 10 back at 98
    assert book.advance(60.0) is None
    assert book.consumed("bid") == approx(15.0)
    assert book.best_bid == approx(98.0)
    np.testing.assert_allclose(book.levels("bid")[1][:3], [5.0, 10.0, 10.0], rtol=REL)
    # E = 7.5: 2.5 back at 99
    book.advance(60.0)
    assert book.consumed("bid") == approx(7.5)
    assert book.best_bid == approx(99.0)
    np.testing.assert_allclose(book.levels("bid")[1][:2], [2.5, 10.0], rtol=REL)
    # E = 3.75: 6.25 at 99
    book.advance(60.0)
    assert book.consumed("bid") == approx(3.75)
    assert book.best_bid == approx(99.0)
    np.testing.assert_allclose(book.levels("bid")[1][:2], [6.25, 10.0], rtol=REL)
    assert book.consumed("ask") == 0.0


def test_resilience_one_long_step_equals_several_short_ones() -> None:
    book = dl.OrderBook.linear(
        mid=100.0, tick=1.0, levels=50, depth_per_level=10.0, resilience_half_life=60.0
    )
    book.sell(30.0)
    book.advance(180.0)  # 30 * 2^-3
    assert book.consumed("bid") == approx(3.75)
    book.advance(30.0)  # 3.75 * 2^-0.5
    assert book.consumed("bid") == approx(3.75 / math.sqrt(2.0))
    book.advance(0.0)
    assert book.consumed("bid") == approx(3.75 / math.sqrt(2.0))


def test_no_resilience_without_half_life() -> None:
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=10.0)
    assert book.resilience_half_life is None
    book.sell(30.0)
    book.advance(1e9)
    assert book.consumed("bid") == approx(30.0)
    assert book.best_bid == approx(96.0)


def test_reference_move_reprices_all_levels_and_keeps_consumed_depth() -> None:
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=10.0)
    assert book.reference == approx(100.0)
    book.sell(30.0)
    bid_px, bid_qty = book.levels("bid")
    ask_px, ask_qty = book.levels("ask")
    book.advance(0.0, reference=110.0)  # every price x 110/100
    assert book.reference == approx(110.0)
    assert book.anchor == approx(110.0)
    assert book.consumed("bid") == approx(30.0)
    np.testing.assert_allclose(book.levels("bid")[0], bid_px * 1.1, rtol=REL)
    np.testing.assert_allclose(book.levels("bid")[1], bid_qty, rtol=REL)
    np.testing.assert_allclose(book.levels("ask")[0], ask_px * 1.1, rtol=REL)
    np.testing.assert_allclose(book.levels("ask")[1], ask_qty, rtol=REL)
    assert book.best_bid == approx(96.0 * 1.1)
    assert book.best_ask == approx(101.0 * 1.1)
    assert book.mid == approx((96.0 + 101.0) / 2 * 1.1)
    # a second move is relative to the new reference: x 88/110
    book.advance(0.0, reference=88.0)
    assert book.best_bid == approx(96.0 * 0.88)


def test_from_levels_reference_defaults_to_mid_and_reprices() -> None:
    book = ex2_book()
    assert book.reference == approx(101.75)
    book.advance(0.0, reference=101.75 * 0.8)
    np.testing.assert_allclose(book.levels("bid")[0], np.array(EX2_BID_PX) * 0.8, rtol=REL)
    assert book.best_ask == approx(102.0 * 0.8)


def test_permanent_impact_moves_the_anchor() -> None:
    # linear, mid 100, tick 1, d = 10, theta = 0.5; sell 20 takes 99 and 98, best bid 99 -> 97
    # I = 97/99 - 1 = -2/99; P = 100 (1 + 0.5 I) = 100 (1 - 1/99); E = (1 - 0.5) 20 = 10
    book = dl.OrderBook.linear(
        mid=100.0, tick=1.0, levels=50, depth_per_level=10.0, permanent_impact=0.5
    )
    assert book.permanent_impact == 0.5
    assert book.permanent_factor == 1.0
    fill = book.sell(20.0)
    assert fill.notional == approx(10 * 99.0 + 10 * 98.0)  # the walk uses the old anchor
    anchor = 100.0 * (1 - 1 / 99)
    assert book.anchor == approx(anchor)
    assert book.permanent_factor == approx(98 / 99)
    assert book.reference == approx(100.0)
    assert book.consumed("bid") == approx(10.0)
    # E = 10 empties level 1 exactly: best bid at level 2, anchor (1 - 2/100)
    assert book.best_bid == approx(anchor * 0.98)
    assert book.best_ask == approx(anchor * 1.01)
    # an exogenous move multiplies the reference; the anchor keeps the permanent factor
    book.advance(0.0, reference=50.0)
    assert book.anchor == approx(50.0 * 98 / 99)


def test_full_permanent_impact_keeps_no_consumed_depth() -> None:
    # theta = 1: P = 100 (97/99), E = 0, the full ladder re-appears around the new anchor
    book = dl.OrderBook.linear(
        mid=100.0, tick=1.0, levels=50, depth_per_level=10.0, permanent_impact=1.0
    )
    book.sell(20.0)
    anchor = 100.0 * 97 / 99
    assert book.anchor == approx(anchor)
    assert book.consumed("bid") == approx(0.0, abs=1e-12)
    assert book.best_bid == approx(anchor * 0.99)


# --------------------------------------------------------------------------------------------
# Constant-product pool (MECHANICS §2.2-2.3, worked example 1)
# --------------------------------------------------------------------------------------------

X0, Y0, FEE = 2_500.0, 7_450_000.0, 0.003
G = 1 - FEE


def test_pool_worked_example_1_sell() -> None:
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    assert pool.fee == FEE
    assert pool.mid == approx(2_980.0)
    assert pool.best_bid == approx(2_971.06)  # 0.997 * 2980
    assert pool.best_ask == approx(2_980.0 / 0.997)

    # getAmountOut, exactly in rationals: 36 * 0.997 * 7,450,000 / (2,500 + 36 * 0.997)
    g = Fraction(997, 1000)
    dy = 36 * g * 7_450_000 / (2_500 + 36 * g)
    assert dy == Fraction(66_848_850_000, 633_973)
    fill = pool.sell(36.0)
    assert fill.filled == 36.0
    assert fill.status == "filled"
    assert fill.levels == 1
    assert fill.notional == approx(float(dy))
    assert fill.notional == pytest.approx(105_444.317029, abs=5e-7)
    assert fill.vwap == pytest.approx(2_929.00880637, abs=5e-9)
    assert pool.base_reserve == approx(2_536.0)
    y1 = 7_450_000 - dy
    assert pool.quote_reserve == approx(float(y1))
    assert pool.quote_reserve == pytest.approx(7_344_555.68297, abs=5e-6)
    assert pool.mid == pytest.approx(2_896.11817152, abs=5e-9)
    k_ratio = 2_536 * y1 / (2_500 * 7_450_000)
    assert pool.base_reserve * pool.quote_reserve / (X0 * Y0) == approx(float(k_ratio))
    assert float(k_ratio) == pytest.approx(1.0000425886, abs=5e-11)
    # Choice: first and last price are the best bid before and after
    assert fill.first_price == approx(2_971.06)
    assert fill.last_price == approx(float(g * y1 / 2_536))


def test_pool_worked_example_1_upkeep_arbitrage() -> None:
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    pool.sell(36.0)
    x, y = pool.base_reserve, pool.quote_reserve
    p = 2_980.0
    # mid < g P: pay dy = [-(1+g) y + sqrt(f^2 y^2 + 4 g^2 P x y)] / (2g)
    dy = (-(1 + G) * y + math.sqrt(FEE**2 * y**2 + 4 * G**2 * p * x * y)) / (2 * G)
    dx = G * dy * x / (y + G * dy)
    assert dy == pytest.approx(94_561.1688632, abs=5e-7)
    assert dx == pytest.approx(32.1404845968, abs=5e-10)
    trade = pool.advance(12.0, reference=p)
    assert trade is not None
    assert trade.side == "buy"  # the arbitrageur buys base
    assert trade.filled == approx(dx, rel=1e-10)
    assert trade.notional == approx(dy, rel=1e-10)
    assert trade.notional == pytest.approx(94_561.1688632, abs=5e-7)
    assert trade.filled == pytest.approx(32.1404845968, abs=5e-10)
    assert pool.mid == approx(G * p, rel=1e-11)  # 2,971.06
    assert pool.base_reserve == approx(x - dx, rel=1e-11)
    assert pool.quote_reserve == approx(y + dy, rel=1e-11)
    # inside the band now: a second upkeep does nothing
    assert pool.advance(12.0, reference=p) is None
    assert pool.mid == approx(G * p, rel=1e-11)


def test_pool_upkeep_from_above_sells_to_the_upper_edge() -> None:
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    p = 2_900.0  # mid 2,980 > P/g = 2,908.73
    x, y = X0, Y0
    dx = (-(1 + G) * x + math.sqrt(FEE**2 * x**2 + 4 * G**2 * x * y / p)) / (2 * G)
    trade = pool.advance(12.0, reference=p)
    assert trade is not None
    assert trade.side == "sell"
    assert trade.filled == approx(dx, rel=1e-10)
    assert trade.notional == approx(dx * G * y / (x + dx * G), rel=1e-10)
    assert pool.mid == approx(p / G, rel=1e-11)
    assert pool.base_reserve == approx(x + dx, rel=1e-11)


def test_pool_upkeep_inside_the_band_does_nothing() -> None:
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    # band for P = 2,975: [2,966.075, 2,983.95]: mid 2,980 inside
    assert pool.advance(12.0, reference=2_975.0) is None
    assert pool.base_reserve == X0
    assert pool.quote_reserve == Y0


@pytest.mark.parametrize(
    "reference", [1.0, 100.0, 2_900.0, 2_971.0, 2_975.0, 2_980.0, 2_990.0, 3_100.0, 1e5, 1e7]
)
@pytest.mark.parametrize("fee", [0.0, 0.003, 0.01, 0.3])
def test_pool_mid_inside_the_fee_band_after_advance(reference: float, fee: float) -> None:
    g = 1 - fee
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=fee)
    before = pool.mid
    pool.advance(1.0, reference=reference)
    mid = pool.mid
    assert g * reference * (1 - REL) <= mid <= reference / g * (1 + REL)
    if before < g * reference:
        assert mid == approx(g * reference, rel=1e-10)
    elif before > reference / g:
        assert mid == approx(reference / g, rel=1e-10)
    else:
        assert mid == before
    # the constant-product invariant with the fee kept in the pool: k never falls
    assert pool.base_reserve * pool.quote_reserve >= X0 * Y0 * (1 - REL)


def test_pool_buy_is_get_amount_in() -> None:
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    best_ask = Y0 / (G * X0)
    # getAmountIn(10, y, x) = y * 10 / ((x - 10) g)
    dy = Y0 * 10.0 / ((X0 - 10.0) * G)
    fill = pool.buy(10.0)
    assert fill.side == "buy"
    assert fill.filled == 10.0
    assert fill.notional == approx(dy)
    assert fill.vwap == approx(dy / 10.0)
    assert fill.first_price == approx(best_ask)
    assert pool.base_reserve == approx(X0 - 10.0)
    assert pool.quote_reserve == approx(Y0 + dy)
    assert fill.last_price == approx((Y0 + dy) / (G * (X0 - 10.0)))
    assert pool.best_ask == approx((Y0 + dy) / (G * (X0 - 10.0)))


@pytest.mark.parametrize(
    ("quote_reserve", "buys", "reference"),
    [
        # three buys of 1/3 leave x ~ 1.1e-16 base against y ~ 9.0e15 quote (x y ~ 1)
        (1.0, [1 / 3, 1 / 3, 1 / 3], 1.0),
        # one buy of 0.99999 leaves x ~ 1e-5 against y ~ 3e8; the upkeep brings y to ~27
        (2_981.5, [0.99999], 0.25),
    ],
)
def test_pool_upkeep_after_buying_nearly_the_whole_reserve(
    quote_reserve: float, buys: list[float], reference: float
) -> None:
    # fee 0: the band is the single point P, and upkeep sells dx = sqrt(x y / P) - x
    # (MECHANICS §2.3 with g = 1), leaving x' = x + dx, y' = x y / x' and the mid y'/x' = P.
    # Both cases were found by the property tests.
    pool = dl.ConstantProductPool(base_reserve=1.0, quote_reserve=quote_reserve, fee=0.0)
    for qty in buys:
        assert pool.buy(qty).status == "filled"
    x, y = pool.base_reserve, pool.quote_reserve
    assert x > 0.0
    dx = math.sqrt(x * y / reference) - x
    pool.advance(0.0, reference=reference)
    assert pool.base_reserve == approx(x + dx, rel=1e-9)
    assert pool.quote_reserve > 0.0
    assert pool.quote_reserve == approx(x * y / (x + dx), rel=1e-9)
    assert pool.mid == approx(reference, rel=1e-9)


@pytest.mark.parametrize("qty", [X0, 3_000.0])
def test_pool_buy_of_whole_reserve_fills_nothing(qty: float) -> None:
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    fill = pool.buy(qty)
    assert fill.filled == 0.0
    assert fill.unfilled == qty
    assert fill.status == "empty"
    assert fill.vwap is None
    assert pool.base_reserve == X0
    assert pool.quote_reserve == Y0


@pytest.mark.parametrize("fee", [0.0, 0.003, 0.05])
def test_pool_swap_invariant_on_random_swaps(fee: float) -> None:
    g = 1 - fee
    rng = np.random.default_rng(20240611)
    pool = dl.ConstantProductPool(base_reserve=1_000.0, quote_reserve=2_000_000.0, fee=fee)
    for _ in range(60):
        x, y = pool.base_reserve, pool.quote_reserve
        assert pool.mid == approx(y / x)
        assert pool.best_bid == approx(g * y / x)
        assert pool.best_ask == approx(y / (g * x))
        if rng.random() < 0.5:
            dx = float(rng.uniform(0.0, 0.3) * x)
            fill = pool.sell(dx)
            dy = fill.notional
            assert fill.filled == dx
            # (x + g dx)(y - dy) = x y; reserves x + dx, y - dy
            assert (x + g * dx) * (y - dy) == approx(x * y, rel=1e-11)
            assert dy == approx(dx * g * y / (x + dx * g))
            assert pool.base_reserve == approx(x + dx)
            assert pool.quote_reserve == approx(y - dy)
        else:
            dx = float(rng.uniform(0.0, 0.3) * x)
            fill = pool.buy(dx)
            dy = fill.notional
            assert fill.filled == dx
            # (y + g dy)(x - dx) = x y; reserves x - dx, y + dy
            assert (y + g * dy) * (x - dx) == approx(x * y, rel=1e-11)
            assert dy == approx(y * dx / ((x - dx) * g))
            assert pool.base_reserve == approx(x - dx)
            assert pool.quote_reserve == approx(y + dy)
        k_new = pool.base_reserve * pool.quote_reserve
        if fee == 0.0:
            assert k_new == approx(x * y, rel=1e-11)
        else:
            assert k_new > x * y


def test_pool_depth_by_hand() -> None:
    # bid: g x y / (x + g z)^2 >= mid (1 - w)  =>  z = x (sqrt(g / (1 - w)) - 1) / g
    # ask: x y / (g (x - z)^2) <= mid (1 + w)  =>  z = x (1 - 1 / sqrt(g (1 + w)))
    pool = dl.ConstantProductPool(base_reserve=X0, quote_reserve=Y0, fee=FEE)
    w = 0.01
    assert pool.depth("bid", w) == approx(X0 * (math.sqrt(G / (1 - w)) - 1) / G, rel=1e-9)
    assert pool.depth("ask", w) == approx(X0 * (1 - 1 / math.sqrt(G * (1 + w))), rel=1e-9)
    # within the fee: nothing trades that close to the mid
    assert pool.depth("bid", 0.002) == 0.0
    assert pool.depth("ask", 0.002) == 0.0


# --------------------------------------------------------------------------------------------
# Impact curves (MECHANICS §2.7)
# --------------------------------------------------------------------------------------------


def test_linear_curve_sale_and_purchase() -> None:
    # S = 100, l = 1e-4 per unit of quote; sell 10: q = 1,000, S' = 100 (1 - 0.1) = 90,
    # exact VWAP S (1 - l q / 2) = 95
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-4)
    assert curve.kind == "linear"
    assert curve.alpha is None
    fill = curve.sell(10.0)
    assert fill.filled == 10.0
    assert fill.levels == 1
    assert fill.vwap == approx(95.0)
    assert fill.notional == approx(950.0)
    assert fill.first_price == approx(100.0)
    assert fill.last_price == approx(90.0)
    assert curve.price == approx(90.0)
    # buy 10 at 90: q = 900, S' = 90 (1 + 0.09) = 98.1, VWAP 90 (1 + 0.045) = 94.05
    fill = curve.buy(10.0)
    assert fill.last_price == approx(98.1)
    assert fill.vwap == approx(94.05)
    assert curve.price == approx(98.1)


@pytest.mark.parametrize(("alpha", "vwap"), [(0.0, 100.0), (0.25, 97.5), (0.5, 95.0), (1.0, 90.0)])
def test_linear_curve_alpha_weighted(alpha: float, vwap: float) -> None:
    # (1 - alpha) 100 + alpha 90
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-4, alpha=alpha)
    assert curve.alpha == alpha
    fill = curve.sell(10.0)
    assert fill.vwap == approx(vwap)
    assert curve.price == approx(90.0)


def test_linear_curve_capacity_partial_fill() -> None:
    # l q <= 1: q = 10,000 at S = 100, i.e. 100 units; the whole curve averages S/2
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-4)
    fill = curve.sell(200.0)
    assert fill.status == "partial"
    assert fill.filled == approx(100.0)
    assert fill.unfilled == approx(100.0)
    assert fill.notional == approx(5_000.0)
    assert fill.vwap == approx(50.0)
    assert curve.price == approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: dl.ImpactCurve.linear(price=100.0, slope=1e-4), id="linear"),
        pytest.param(lambda: dl.ImpactCurve.sqrt(price=100.0, sigma=0.02, volume=1e6), id="sqrt"),
    ],
)
def test_exhausted_curve_has_no_depth_and_fills_nothing(make) -> None:
    # Selling past the capacity drives the price to 0: the curve has run dry. Its depth is 0
    # (never NaN) and, like a book with an empty side, a further sale fills nothing instead of
    # "filling" at price 0 (README: a venue that runs dry fills partially, never invents a price).
    curve = make()
    assert curve.sell(1e9).status == "partial"
    assert curve.price == approx(0.0, abs=1e-9)
    for side in ("bid", "ask"):
        for within in (0.0, 0.1, 1.0):
            depth = curve.depth(side, within)
            assert not math.isnan(depth)
            assert depth >= 0.0
    assert curve.depth("bid", 0.5) == 0.0
    fill = curve.sell(1.0)
    assert fill.filled == 0.0
    assert fill.status == "empty"
    assert fill.vwap is None


def test_exponential_curve_worked_example_8() -> None:
    # D = c ADV / sigma sqrt(tau) = 0.5 * 120 / 0.015 * sqrt(10); delta = (1 - B/S0) D
    depth = 0.5 * 120 / 0.015 * math.sqrt(10)
    assert depth == pytest.approx(12_649.1106, abs=5e-5)
    delta = (1 - 0.4) * depth
    assert delta == pytest.approx(7_589.46638, abs=5e-6)
    q = 25.4805
    psi = (1 - 0.4) * (1 - math.exp(-q / delta))
    assert psi == pytest.approx(0.00201103264, abs=5e-12)

    curve = dl.ImpactCurve.exponential(price=1.0, floor=0.4, depth=depth, alpha=0.5)
    assert curve.kind == "exponential"
    fill = curve.sell(q)
    assert curve.price == approx(1 - psi)
    assert curve.price == pytest.approx(0.997988967, abs=5e-10)
    assert fill.last_price == approx(1 - psi)
    assert fill.vwap == approx(1 - 0.5 * psi)
    assert fill.notional == approx(q * (1 - 0.5 * psi))


def test_exponential_curve_exact_integral() -> None:
    # VWAP = B + (S - B)(delta/q)(1 - exp(-q/delta)); q = Q S
    s, b, depth = 50.0, 20.0, 10_000.0
    delta = (1 - b / s) * depth
    curve = dl.ImpactCurve.exponential(price=s, floor=b, depth=depth)
    qty = 300.0
    q = qty * s
    fill = curve.sell(qty)
    assert fill.vwap == approx(b + (s - b) * (delta / q) * (1 - math.exp(-q / delta)))
    s1 = b + (s - b) * math.exp(-q / delta)
    assert curve.price == approx(s1)
    # a second sale starts from S1 with the same delta, valued at S1
    q2 = 100.0 * s1
    curve.sell(100.0)
    assert curve.price == approx(b + (s1 - b) * math.exp(-q2 / delta))


def test_exponential_curve_never_falls_below_the_floor() -> None:
    curve = dl.ImpactCurve.exponential(price=1.0, floor=0.4, depth=1_000.0)
    fill = curve.sell(1e9)
    assert fill.filled == 1e9
    assert curve.price >= 0.4
    assert fill.vwap > 0.4


def test_sqrt_curve_exact_and_alpha() -> None:
    # V in quote value. sell 100 at S = 100: q = 1e4, Y sigma sqrt(q/V) = 0.02 * 0.1 = 0.002
    curve = dl.ImpactCurve.sqrt(price=100.0, sigma=0.02, volume=1e6)
    assert curve.kind == "sqrt"
    fill = curve.sell(100.0)
    assert curve.price == approx(99.8)
    assert fill.vwap == approx(100.0 * (1 - 2 / 3 * 0.002))
    # sell 1e6 units: q = 1e8, psi = 0.02 * 1.5 * 10 = 0.3 with Y = 1.5
    curve = dl.ImpactCurve.sqrt(price=100.0, sigma=0.02, volume=1e6, y=1.5)
    fill = curve.sell(1e6)
    assert curve.price == approx(70.0)
    assert fill.vwap == approx(100.0 * (1 - 2 / 3 * 0.3))
    curve = dl.ImpactCurve.sqrt(price=100.0, sigma=0.02, volume=1e6, y=1.5, alpha=0.5)
    fill = curve.sell(1e6)
    assert fill.vwap == approx(100.0 * (1 - 0.5 * 0.3))


def test_sqrt_curve_capacity_partial_fill() -> None:
    # Y sigma sqrt(q/V) = 1 at q = V/(Y sigma)^2 = 1e6 / 4e-4 = 2.5e9, i.e. 2.5e7 units at 100;
    # the whole curve averages S (1 - 2/3)
    curve = dl.ImpactCurve.sqrt(price=100.0, sigma=0.02, volume=1e6)
    fill = curve.sell(3e7)
    assert fill.status == "partial"
    assert fill.filled == approx(2.5e7)
    assert fill.unfilled == approx(0.5e7)
    assert fill.vwap == approx(100.0 / 3)
    assert curve.price == approx(0.0, abs=1e-9)


def test_curve_depth_by_hand() -> None:
    # linear: S (1 - l q) >= S (1 - w)  =>  q = w / l = 1,000 quote = 10 units at 100
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-4)
    assert curve.depth("bid", 0.1) == approx(10.0, rel=1e-9)
    # sqrt: sigma sqrt(q/V) = w  =>  q = V w^2 / sigma^2 = 1e6 * 0.01 / 4e-4 = 2.5e7 quote
    curve = dl.ImpactCurve.sqrt(price=100.0, sigma=0.02, volume=1e6)
    assert curve.depth("bid", 0.1) == approx(2.5e5, rel=1e-9)


def test_curve_reference_rescales_price_and_floor() -> None:
    curve = dl.ImpactCurve.exponential(price=10.0, floor=4.0, depth=1_000.0)
    curve.advance(1.0, reference=5.0)  # x 0.5: S = 5, B = 2
    assert curve.price == approx(5.0)
    # a sale so large that the price goes to the (halved) floor
    curve.sell(1e9)
    assert curve.price == approx(2.0, rel=1e-9)


# --------------------------------------------------------------------------------------------
# Router (MECHANICS §2.8)
# --------------------------------------------------------------------------------------------


def test_router_two_pools_closed_form() -> None:
    # equal marginal prices g x y / (x + g z)^2 = p  =>  x_i + g z_i = c sqrt(x_i y_i),
    # with sum z_i = Q:  c = (g Q + sum x_i) / sum sqrt(x_i y_i)
    g, q = 0.997, 50.0
    reserves = [(100.0, 10_000.0), (400.0, 30_000.0)]
    pools = [dl.ConstantProductPool(x, y, fee=0.003) for x, y in reserves]
    c = (g * q + sum(x for x, _ in reserves)) / sum(math.sqrt(x * y) for x, y in reserves)
    z = [(c * math.sqrt(x * y) - x) / g for x, y in reserves]
    assert all(zi > 0 for zi in z)
    assert sum(z) == approx(q)
    proceeds = [zi * g * y / (x + zi * g) for zi, (x, y) in zip(z, reserves, strict=True)]

    fill = dl.Router(pools).sell(q)
    assert fill.filled == approx(q)
    assert fill.status == "filled"
    assert len(fill.parts) == 2
    for part, zi, pi in zip(fill.parts, z, proceeds, strict=True):
        assert part.filled == approx(zi, rel=1e-9)
        assert part.notional == approx(pi, rel=1e-9)
    assert fill.notional == approx(sum(proceeds), rel=1e-12)
    # each swap's own last marginal price g x y / (x + g z)^2 is the same p* = g / c^2
    for part, (x, y) in zip(fill.parts, reserves, strict=True):
        assert g * x * y / (x + g * part.filled) ** 2 == approx(g / c**2, rel=1e-9)


def _book_pool() -> tuple[dl.OrderBook, dl.ConstantProductPool]:
    book = dl.OrderBook.from_levels([99.5, 99.0, 98.0], [1.0, 1.0, 5.0], [101.0], [1.0])
    pool = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=10_000.0, fee=0.0)
    return book, pool


def _book_proceeds(z: float) -> float:
    """Selling z into bids 99.5 x 1, 99 x 1, 98 x 5 (z <= 7)."""
    out, rest = 0.0, z
    for px, qty in ((99.5, 1.0), (99.0, 1.0), (98.0, 5.0)):
        take = min(rest, qty)
        out += take * px
        rest -= take
    return out


def _pool_proceeds(z: float) -> float:
    return 10_000.0 * z / (100.0 + z)  # fee 0


def test_router_book_and_pool_split_by_hand() -> None:
    # p* with book 2 (levels 99.5, 99 >= p*) and pool z: 10,000 * 100 / (100 + z)^2 = p*.
    # book 2 + pool 1 = 3 gives p* = 1e6 / 101^2 = 98.03, between 98 and 99: consistent.
    book, pool = _book_pool()
    router = dl.Router([book, pool])
    fill = router.sell(3.0)
    expected = 99.5 + 99.0 + 10_000.0 / 101.0
    assert fill.filled == approx(3.0)
    assert fill.notional == approx(expected, rel=1e-10)
    assert fill.vwap == approx(expected / 3.0, rel=1e-10)
    book_part, pool_part = fill.parts
    assert book_part.filled == approx(2.0, rel=1e-9)
    assert book_part.notional == approx(198.5, rel=1e-9)
    assert pool_part.filled == approx(1.0, rel=1e-9)
    assert pool_part.notional == approx(10_000.0 / 101.0, rel=1e-9)
    # the router moved the venues themselves
    assert router.venues[0] is book
    assert router.venues[1] is pool
    assert len(router) == 2
    np.testing.assert_allclose(book.levels("bid")[0], [98.0], rtol=REL)
    assert pool.base_reserve == approx(101.0, rel=1e-9)
    assert pool.quote_reserve == approx(10_000.0 * 100.0 / 101.0, rel=1e-9)


@pytest.mark.parametrize("dz", [-0.5, -0.1, -1e-3, 1e-3, 0.1, 0.5, 1.0])
def test_router_beats_any_other_split(dz: float) -> None:
    book, pool = _book_pool()
    routed = dl.Router([book, pool]).quote_sell(3.0).notional
    z_book = 2.0 + dz
    other = _book_proceeds(z_book) + _pool_proceeds(3.0 - z_book)
    # proceeds are strictly concave: any move away from the equal-marginal split loses
    assert routed > other


def test_router_partial_fill_when_books_run_dry() -> None:
    # 2 + 0.5 available: 99.5 + 99 + 0.5 * 99.7 = 248.35
    a = dl.OrderBook.from_levels([99.5, 99.0], [1.0, 1.0], [101.0], [1.0])
    b = dl.OrderBook.from_levels([99.7], [0.5], [101.0], [1.0])
    fill = dl.Router([a, b]).sell(5.0)
    assert fill.status == "partial"
    assert fill.filled == approx(2.5)
    assert fill.unfilled == approx(2.5)
    assert fill.notional == approx(248.35)
    assert [p.filled for p in fill.parts] == [approx(2.0), approx(0.5)]
    assert a.best_bid is None
    assert b.best_bid is None


def test_router_quote_leaves_every_venue_unchanged() -> None:
    book, pool = _book_pool()
    curve = dl.ImpactCurve.linear(price=100.0, slope=1e-3)
    router = dl.Router([book, pool, curve])

    def state() -> tuple:
        bp, bq = book.levels("bid")
        ap, aq = book.levels("ask")
        return (
            tuple(bp),
            tuple(bq),
            tuple(ap),
            tuple(aq),
            book.consumed("bid"),
            pool.base_reserve,
            pool.quote_reserve,
            curve.price,
        )

    before = state()
    quote = router.quote_sell(4.0)
    assert state() == before
    router.quote_buy(4.0)
    assert state() == before
    fill = router.sell(4.0)
    assert state() != before
    assert fill.notional == quote.notional
    assert fill.filled == quote.filled
    assert [p.filled for p in fill.parts] == [p.filled for p in quote.parts]


def test_router_buy_splits_evenly_across_identical_pools() -> None:
    pools = [dl.ConstantProductPool(100.0, 10_000.0, fee=0.0) for _ in range(2)]
    fill = dl.Router(pools).buy(10.0)
    # 5 from each: getAmountIn(5, 10,000, 100) = 10,000 * 5 / 95
    for part in fill.parts:
        assert part.filled == approx(5.0, rel=1e-9)
        assert part.notional == approx(10_000.0 * 5 / 95, rel=1e-9)
    assert fill.notional == approx(2 * 10_000.0 * 5 / 95, rel=1e-9)


def test_router_quotes_and_depth() -> None:
    book, pool = _book_pool()
    router = dl.Router([book, pool])
    assert router.best_bid == approx(100.0)  # the pool's y/x (fee 0)
    assert router.best_ask == approx(100.0)
    # depth: book mid 100.25 -> bids >= 98.245 -> 2; pool: 100 (sqrt(1 / 0.98) - 1)
    assert router.depth("bid", 0.02) == approx(2.0 + 100.0 * (math.sqrt(1 / 0.98) - 1), rel=1e-9)


def test_router_arbitrage_between_two_no_fee_pools() -> None:
    # buy q on a (mid 100), sell q on b (mid 121): 1e6/(100 - q)^2 = 1.21e6/(100 + q)^2
    # => (100 + q)/(100 - q) = 1.1  =>  q = 10/2.1; both mids 1e6 / (2000/21)^2 = 110.25
    a = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=10_000.0, fee=0.0)
    b = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=12_100.0, fee=0.0)
    trades = dl.Router([a, b]).arbitrage()
    assert len(trades) == 1
    (t,) = trades
    assert t.buy_venue == 0
    assert t.sell_venue == 1
    assert t.qty == approx(10 / 2.1, rel=1e-9)
    # cost 1e6/(2000/21) - 1e4 = 500; proceeds 12,100 - 1.21e6/(2200/21) = 550
    assert t.cost == approx(500.0, rel=1e-9)
    assert t.proceeds == approx(550.0, rel=1e-9)
    assert t.profit == approx(50.0, rel=1e-9)
    assert a.mid == approx(110.25, rel=1e-9)
    assert b.mid == approx(110.25, rel=1e-9)
    # aligned: nothing more to do
    assert dl.Router([a, b]).arbitrage() == []


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

NAN = float("nan")
INF = float("inf")
B_PX, B_QTY, A_PX, A_QTY = [101.5, 101.25], [3.0, 5.0], [102.0], [10.0]


def _pool() -> dl.ConstantProductPool:
    return dl.ConstantProductPool(base_reserve=10.0, quote_reserve=1_000.0)


def _same_twice() -> object:
    pool = _pool()
    return dl.Router([pool, pool])


ERROR_CASES = [
    pytest.param(
        lambda: dl.OrderBook.from_levels([NAN, 101.25], B_QTY, A_PX, A_QTY),
        r"bid_px\[0\].*NaN",
        id="nan-bid-price",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, [INF], A_QTY),
        r"ask_px\[0\].*inf",
        id="inf-ask-price",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, [3.0, NAN], A_PX, A_QTY),
        r"bid_qty\[1\].*NaN",
        id="nan-bid-qty",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, A_PX, [INF]),
        r"ask_qty\[0\].*inf",
        id="inf-ask-qty",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, [3.0, -5.0], A_PX, A_QTY),
        r"bid_qty\[1\].*-5",
        id="negative-bid-qty",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, A_PX, [-1.5]),
        r"ask_qty\[0\].*-1\.5",
        id="negative-ask-qty",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels([101.25, 101.5], B_QTY, A_PX, A_QTY),
        r"bid_px.*decreasing.*101\.5",
        id="unsorted-bids",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels([101.5, 101.5], B_QTY, A_PX, A_QTY),
        r"bid_px.*decreasing.*101\.5",
        id="repeated-bid",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, [103.0, 102.0], [1.0, 1.0]),
        r"ask_px.*increasing.*102",
        id="unsorted-asks",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, [101.0], A_QTY),
        r"crossed.*101\.5.*101",
        id="crossed-book",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, [101.5], A_QTY),
        r"crossed.*101\.5",
        id="locked-book",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, [3.0], A_PX, A_QTY),
        r"bid_qty.*length 1.*bid_px.*length 2",
        id="mismatched-bid-lengths",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, A_PX, [1.0, 2.0]),
        r"ask_qty.*length 2.*ask_px.*length 1",
        id="mismatched-ask-lengths",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(np.array([B_PX]), B_QTY, A_PX, A_QTY),
        r"bid_px.*1-D",
        id="2d-bid-px",
    ),
    pytest.param(
        lambda: dl.ConstantProductPool(10.0, 1_000.0, fee=1.0),
        r"fee.*\[0, 1\).*got 1\b",
        id="fee-one",
    ),
    pytest.param(
        lambda: dl.ConstantProductPool(10.0, 1_000.0, fee=-0.1),
        r"fee.*got -0\.1",
        id="fee-negative",
    ),
    pytest.param(
        lambda: dl.ConstantProductPool(0.0, 1_000.0),
        r"base_reserve.*got 0",
        id="zero-base-reserve",
    ),
    pytest.param(lambda: ex2_book().sell(-1.0), r"qty.*>= 0.*got -1", id="negative-sell"),
    pytest.param(lambda: _pool().buy(-2.0), r"qty.*>= 0.*got -2", id="negative-buy"),
    pytest.param(lambda: ex2_book().sell(NAN), r"qty.*finite.*NaN", id="nan-sell"),
    pytest.param(lambda: _pool().quote_sell(NAN), r"qty.*finite.*NaN", id="nan-quote"),
    pytest.param(lambda: ex2_book().sell(INF), r"qty.*finite.*inf", id="inf-sell"),
    pytest.param(lambda: ex2_book().depth("up", 0.1), r"side.*'bid' or 'ask'.*up", id="bad-side"),
    pytest.param(lambda: ex2_book().levels("x"), r"side.*x", id="bad-side-levels"),
    pytest.param(
        lambda: ex2_book().advance(1.0, reference=0.0),
        r"reference.*> 0.*got 0",
        id="zero-reference-book",
    ),
    pytest.param(
        lambda: _pool().advance(1.0, reference=-5.0),
        r"reference.*> 0.*got -5",
        id="negative-reference-pool",
    ),
    pytest.param(
        lambda: dl.ImpactCurve.linear(100.0, 1e-4).advance(1.0, reference=-1.0),
        r"reference.*got -1",
        id="negative-reference-curve",
    ),
    pytest.param(lambda: ex2_book().advance(-1.0), r"dt.*>= 0.*got -1", id="negative-dt"),
    pytest.param(lambda: _pool().advance(-3.0), r"dt.*got -3", id="negative-dt-pool"),
    pytest.param(
        lambda: dl.OrderBook.linear(100.0, 1.0, 10, 1.0, permanent_impact=1.5),
        r"permanent_impact.*\[0, 1\].*1\.5",
        id="permanent-impact-above-one",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, A_PX, A_QTY, permanent_impact=-0.1),
        r"permanent_impact.*-0\.1",
        id="permanent-impact-negative",
    ),
    pytest.param(
        lambda: dl.OrderBook.linear(100.0, 1.0, 10, 1.0, resilience_half_life=0.0),
        r"resilience_half_life.*> 0.*got 0",
        id="half-life-zero",
    ),
    pytest.param(
        lambda: dl.OrderBook.from_levels(B_PX, B_QTY, A_PX, A_QTY, resilience_half_life=-1.0),
        r"resilience_half_life.*got -1",
        id="half-life-negative",
    ),
    pytest.param(
        lambda: dl.ImpactCurve.exponential(price=1.0, floor=1.0, depth=100.0),
        r"floor.*price.*got 1",
        id="floor-equals-price",
    ),
    pytest.param(
        lambda: dl.ImpactCurve.exponential(price=1.0, floor=1.2, depth=100.0),
        r"floor.*price.*got 1\.2",
        id="floor-above-price",
    ),
    pytest.param(
        lambda: dl.ImpactCurve.linear(100.0, 1e-4, alpha=1.5),
        r"alpha.*\[0, 1\].*1\.5",
        id="alpha-above-one",
    ),
    pytest.param(
        lambda: dl.ImpactCurve.sqrt(100.0, 0.02, 1e6, alpha=-0.1),
        r"alpha.*-0\.1",
        id="alpha-negative",
    ),
    pytest.param(lambda: dl.Router([_pool(), "x"]), r"venues\[1\].*str", id="router-not-venue"),
    pytest.param(_same_twice, r"venues\[1\].*same venue.*venues\[0\]", id="router-twice"),
    pytest.param(lambda: dl.Router([]), r"venues.*empty", id="router-empty"),
]


@pytest.mark.parametrize(("make", "match"), ERROR_CASES)
def test_bad_input_raises_scenario_error(make, match: str) -> None:
    with pytest.raises(dl.ScenarioError, match=match) as info:
        make()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, dl.DeleverageError)


def test_failed_call_leaves_the_venue_unchanged() -> None:
    book = ex2_book()
    with pytest.raises(dl.ScenarioError):
        book.sell(NAN)
    with pytest.raises(dl.ScenarioError):
        book.advance(-1.0, reference=50.0)
    assert book.reference == approx(101.75)
    np.testing.assert_allclose(book.levels("bid")[1], EX2_BID_QTY, rtol=REL)
