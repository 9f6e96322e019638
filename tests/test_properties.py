"""Hypothesis properties of every venue and of the router, on random valid venues and orders."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import deleverage as dl

REL = 1e-12
SETTINGS = settings(max_examples=100, deadline=None)

# --------------------------------------------------------------------------------------------
# Strategies: each venue strategy gives (venue, scale), scale a natural order size in units
# --------------------------------------------------------------------------------------------

prices = st.floats(0.01, 1e4)
alphas = st.none() | st.floats(0.0, 1.0)
# order sizes as fractions of a venue's natural size: zero, or not absurdly small (the router
# ignores orders below ~1e-30 units, and subnormal quantities lose the VWAP to rounding)
fractions = st.just(0.0) | st.floats(1e-9, 1.5)


@st.composite
def ladder_books(draw: st.DrawFn) -> tuple[dl.OrderBook, float]:
    mid = draw(prices)
    half_spread = draw(st.floats(1e-4, 0.02))
    n_bid = draw(st.integers(1, 8))
    n_ask = draw(st.integers(1, 8))
    bid_gaps = draw(st.lists(st.floats(1e-4, 0.05), min_size=n_bid - 1, max_size=n_bid - 1))
    ask_gaps = draw(st.lists(st.floats(1e-4, 0.05), min_size=n_ask - 1, max_size=n_ask - 1))
    bid_px = [mid * (1 - half_spread)]
    for g in bid_gaps:
        bid_px.append(bid_px[-1] * (1 - g))
    ask_px = [mid * (1 + half_spread)]
    for g in ask_gaps:
        ask_px.append(ask_px[-1] * (1 + g))
    qty = st.just(0.0) | st.floats(1e-6, 1e3)
    bid_qty = draw(st.lists(qty, min_size=n_bid, max_size=n_bid))
    ask_qty = draw(st.lists(qty, min_size=n_ask, max_size=n_ask))
    as_numpy = draw(st.booleans())
    cols = [bid_px, bid_qty, ask_px, ask_qty]
    if as_numpy:
        cols = [np.array(c) for c in cols]
    book = dl.OrderBook.from_levels(
        *cols,
        resilience_half_life=draw(st.none() | st.floats(1.0, 1e4)),
        permanent_impact=draw(st.sampled_from([0.0, 0.3, 1.0])),
    )
    scale = max(sum(bid_qty), sum(ask_qty), 1e-3)
    return book, scale


@st.composite
def parametric_books(draw: st.DrawFn) -> tuple[dl.OrderBook, float]:
    mid = draw(prices)
    levels = draw(st.integers(1, 200))
    tick = mid * draw(st.floats(1e-4, 0.01))
    kind = draw(st.sampled_from(["linear", "sqrt", "exponential"]))
    extra = {
        "resilience_half_life": draw(st.none() | st.floats(1.0, 1e4)),
        "permanent_impact": draw(st.sampled_from([0.0, 0.5])),
    }
    if kind == "linear":
        book = dl.OrderBook.linear(mid, tick, levels, draw(st.floats(0.01, 1e3)), **extra)
    elif kind == "sqrt":
        book = dl.OrderBook.sqrt(
            mid,
            tick,
            levels,
            draw(st.floats(0.005, 0.1)),
            draw(st.floats(1e3, 1e8)),
            draw(st.floats(0.5, 2.0)),
            **extra,
        )
    else:
        book = dl.OrderBook.exponential(
            mid, tick, levels, draw(st.floats(1.0, 1e5)), draw(st.floats(1e-3, 0.1)), **extra
        )
    scale = max(float(book.levels("bid")[1].sum()), float(book.levels("ask")[1].sum()), 1e-3)
    return book, scale


@st.composite
def pools(draw: st.DrawFn) -> tuple[dl.ConstantProductPool, float]:
    x = draw(st.floats(1.0, 1e6))
    y = x * draw(prices)
    fee = draw(st.sampled_from([0.0, 0.003, 0.01]) | st.floats(0.0, 0.1))
    return dl.ConstantProductPool(x, y, fee), x


@st.composite
def curves(draw: st.DrawFn) -> tuple[dl.ImpactCurve, float]:
    price = draw(prices)
    alpha = draw(alphas)
    kind = draw(st.sampled_from(["linear", "exponential", "sqrt"]))
    if kind == "linear":
        capacity = draw(st.floats(1.0, 1e6))  # units sold before the price reaches 0
        return dl.ImpactCurve.linear(price, 1 / (capacity * price), alpha=alpha), capacity
    if kind == "exponential":
        depth = draw(st.floats(1.0, 1e7))
        floor = price * draw(st.floats(0.0, 0.95))
        return dl.ImpactCurve.exponential(price, floor, depth, alpha=alpha), depth / price
    sigma = draw(st.floats(1e-3, 0.2))
    volume = draw(st.floats(1e3, 1e9))
    y = draw(st.floats(0.5, 2.0))
    capacity = volume / (y * sigma) ** 2 / price
    return dl.ImpactCurve.sqrt(price, sigma, volume, y, alpha=alpha), capacity


venues = ladder_books() | parametric_books() | pools() | curves()
orders = st.lists(st.tuples(st.sampled_from(["sell", "buy"]), fractions), min_size=1, max_size=6)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def state(v: dl.Venue) -> tuple:
    """Everything observable about a venue, for before/after comparisons."""
    common = (v.mid, v.best_bid, v.best_ask)
    if isinstance(v, dl.OrderBook):
        bp, bq = v.levels("bid")
        ap, aq = v.levels("ask")
        return (
            *common,
            tuple(bp),
            tuple(bq),
            tuple(ap),
            tuple(aq),
            v.consumed("bid"),
            v.consumed("ask"),
            v.reference,
            v.anchor,
        )
    if isinstance(v, dl.ConstantProductPool):
        return (*common, v.base_reserve, v.quote_reserve)
    assert isinstance(v, dl.ImpactCurve)
    return (*common, v.price)


def fill_fields(f: dl.Fill) -> tuple:
    return (
        f.side,
        f.requested,
        f.filled,
        f.unfilled,
        f.notional,
        f.vwap,
        f.first_price,
        f.last_price,
        f.levels,
        f.status,
        tuple(fill_fields(p) for p in f.parts),
    )


def size(v: dl.Venue, side: str, frac: float, scale: float) -> float:
    """An order of ``frac`` times the natural size; for a book, times what rests on the side the
    order takes (so that fractions 1.0 and above walk the whole side)."""
    if isinstance(v, dl.OrderBook):
        resting = float(v.levels("bid" if side == "sell" else "ask")[1].sum())
        if resting > 0.0:
            return frac * resting
    return frac * scale


def trade(v: dl.Venue, side: str, qty: float) -> dl.Fill:
    return v.sell(qty) if side == "sell" else v.buy(qty)


def quote(v: dl.Venue | dl.Router, side: str, qty: float) -> dl.Fill:
    return v.quote_sell(qty) if side == "sell" else v.quote_buy(qty)


def check_fill(f: dl.Fill, side: str, qty: float) -> None:
    assert f.side == side
    assert f.requested == qty
    assert 0.0 <= f.filled <= qty
    assert f.unfilled >= 0.0
    assert f.filled + f.unfilled == pytest.approx(qty, rel=REL, abs=0.0)
    assert f.notional >= 0.0
    if f.filled > 0.0:
        assert f.status in ("filled", "partial")
        assert f.vwap is not None
        assert f.first_price is not None
        assert f.last_price is not None
        lo, hi = sorted((f.first_price, f.last_price))
        assert lo * (1 - REL) <= f.vwap <= hi * (1 + REL)
        if side == "sell":
            assert f.last_price <= f.first_price * (1 + REL)
        else:
            assert f.last_price >= f.first_price * (1 - REL)
        assert f.vwap == pytest.approx(f.notional / f.filled, rel=REL)
        assert f.levels >= 1
    else:
        # nothing filled: "empty", unless nothing was asked for (then nothing is missing)
        assert f.status == ("empty" if qty > 0.0 else "filled")
        assert f.vwap is None
        assert f.first_price is None
        assert f.last_price is None
        assert f.notional == 0.0
        assert f.levels == 0
    if f.status == "filled":
        assert f.unfilled <= qty * REL
    if f.status == "partial":
        assert f.unfilled > 0.0


# --------------------------------------------------------------------------------------------
# Properties of single venues
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(venue=venues, orders=orders)
def test_fill_accounting_and_vwap_between_first_and_last(
    venue: tuple[dl.Venue, float], orders: list[tuple[str, float]]
) -> None:
    v, scale = venue
    for side, frac in orders:
        qty = size(v, side, frac, scale)
        f = trade(v, side, qty)
        check_fill(f, side, qty)


@SETTINGS
@given(venue=venues, a=st.floats(1e-6, 1.5), b=st.floats(1e-6, 1.5))
def test_larger_orders_never_get_a_better_vwap(
    venue: tuple[dl.Venue, float], a: float, b: float
) -> None:
    v, scale = venue
    q1, q2 = sorted((a * scale, b * scale))
    assume(q1 < q2)
    s1, s2 = v.quote_sell(q1), v.quote_sell(q2)
    if s1.vwap is not None and s2.vwap is not None:
        assert s2.vwap <= s1.vwap * (1 + REL)
    assert s2.filled >= s1.filled * (1 - REL)
    b1, b2 = v.quote_buy(q1), v.quote_buy(q2)
    if b1.vwap is not None and b2.vwap is not None:
        assert b2.vwap >= b1.vwap * (1 - REL)


@SETTINGS
@given(venue=venues, orders=orders)
def test_quotes_never_mutate_and_match_the_trade(
    venue: tuple[dl.Venue, float], orders: list[tuple[str, float]]
) -> None:
    v, scale = venue
    for side, frac in orders:
        qty = size(v, side, frac, scale)
        before = state(v)
        q_sell = v.quote_sell(qty)
        q_buy = v.quote_buy(qty)
        v.depth("bid", 0.01)
        v.depth("ask", 0.01)
        assert state(v) == before
        q = q_sell if side == "sell" else q_buy
        f = trade(v, side, qty)
        assert fill_fields(f) == fill_fields(q)


@SETTINGS
@given(
    venue=venues,
    orders=orders,
    within=st.lists(st.floats(0.0, 2.0), min_size=2, max_size=6),
)
def test_depth_is_non_negative_and_non_decreasing(
    venue: tuple[dl.Venue, float], orders: list[tuple[str, float]], within: list[float]
) -> None:
    v, scale = venue
    for side, frac in orders[:2]:
        trade(v, side, size(v, side, frac, scale))
    for book_side in ("bid", "ask"):
        depths = [v.depth(book_side, w) for w in sorted(within)]
        # (a pool's or an exponential curve's bid depth is infinite once within reaches the
        # whole way down, which is correct: they never run dry)
        assert all(d >= 0.0 for d in depths)
        for lo, hi in itertools.pairwise(depths):
            assert lo <= hi * (1 + REL)


@SETTINGS
@given(
    pool=pools(),
    orders=orders,
    reference=st.floats(0.01, 1e5),
    dt=st.floats(0.0, 1e4),
)
def test_pool_mid_inside_the_fee_band_after_upkeep(
    pool: tuple[dl.ConstantProductPool, float],
    orders: list[tuple[str, float]],
    reference: float,
    dt: float,
) -> None:
    p, scale = pool
    for side, frac in orders:
        trade(p, side, frac * scale)
    g = 1 - p.fee
    k = p.base_reserve * p.quote_reserve
    p.advance(dt, reference=reference)
    # exact to 1e-9 relative (MECHANICS §1.3); k never falls (fee kept in the pool)
    assert g * reference * (1 - 1e-9) <= p.mid <= reference / g * (1 + 1e-9)
    assert p.base_reserve * p.quote_reserve >= k * (1 - 1e-9)


# --------------------------------------------------------------------------------------------
# Router
# --------------------------------------------------------------------------------------------

router_venues = st.lists(venues, min_size=1, max_size=3)


@SETTINGS
@given(members=router_venues, frac=fractions, side=st.sampled_from(["sell", "buy"]))
def test_router_parts_add_up_and_beat_every_single_venue(
    members: list[tuple[dl.Venue, float]], frac: float, side: str
) -> None:
    vs = [v for v, _ in members]
    qty = frac * sum(s for _, s in members) / len(members)
    router = dl.Router(vs)
    before = [state(v) for v in vs]
    f = quote(router, side, qty)
    assert [state(v) for v in vs] == before
    check_fill(f, side, qty)
    assert len(f.parts) == len(vs)
    assert sum(p.filled for p in f.parts) == pytest.approx(f.filled, rel=REL, abs=1e-300)
    assert sum(p.notional for p in f.parts) == pytest.approx(f.notional, rel=REL, abs=1e-300)
    # Best execution is by marginal price (MECHANICS §2.8), which maximises proceeds when every
    # venue's proceeds are the integral of its marginal price. An alpha-weighted curve's are not
    # (alpha = 0 sells everything at the pre-trade price), so no such bound holds with one.
    exact = all(not isinstance(v, dl.ImpactCurve) or v.alpha is None for v in vs)
    for v in vs if exact else []:
        alone = quote(v, side, qty)
        if side == "sell":
            # best execution: never less quote than selling everything on one venue
            assert f.filled >= alone.filled * (1 - 1e-9)
            assert f.notional >= alone.notional * (1 - 1e-9)
        elif alone.filled >= qty * (1 - REL) and f.filled >= qty * (1 - REL):
            # a full purchase never costs more than buying everything on one venue
            assert f.notional <= alone.notional * (1 + 1e-9)
    g = router.sell(qty) if side == "sell" else router.buy(qty)
    assert fill_fields(g) == fill_fields(f)


# --------------------------------------------------------------------------------------------
# The summary's sums are the frames' sums
# --------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64)
        | st.sampled_from([0.0, -0.0, 1e300, -1e300, 1e-300, 3.0]),
        max_size=300,
    )
)
def test_a_short_column_sums_as_polars_sums_it(values: list[float]) -> None:
    """The summary adds a column shorter than Polars' block without a Series: bit for bit what
    the installed Polars' ``sum`` gives (a Polars that summed short columns otherwise fails
    here), and longer columns go through Polars itself. Cancellations, signed zeros and
    overflow to infinity included."""
    import math

    import polars as pl

    from deleverage._columns import _fsum

    want = pl.Series(values=np.array(values, dtype=np.float64)).sum()
    got = _fsum(values)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert np.float64(got).tobytes() == np.float64(want).tobytes(), (got, want)
