"""Everything a run is made of pickles and deep-copies: every venue with its state (consumed
depth, reserves, curve), scenarios of every family, shocks and results; a round trip gives an
identical run."""

from __future__ import annotations

import copy
import pickle

import pytest

import deleverage as dl
from test_golden import CASES, FRAMES


def test_venues_keep_their_state() -> None:
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=10, depth_per_level=2.0,
                               resilience_half_life=60.0)  # fmt: skip
    book.sell(3.0)  # bids 99 (2) and 98 (1 of 2) consumed
    pool = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=10_000.0, fee=0.003)
    pool.sell(5.0)
    curve = dl.ImpactCurve.exponential(100.0, 40.0, 50.0, alpha=0.5)
    for v in (book, pool, curve):
        for back in (pickle.loads(pickle.dumps(v)), copy.deepcopy(v)):
            assert type(back) is type(v)
            assert back is not v
            assert (back.mid, back.best_bid, back.best_ask) == (v.mid, v.best_bid, v.best_ask)
            f, g = back.quote_sell(4.0), v.quote_sell(4.0)
            assert (f.filled, f.notional) == (g.filled, g.notional)
    back = pickle.loads(pickle.dumps(book))
    assert back.consumed("bid") == 3.0
    assert back.best_bid == 98.0
    back.sell(1.0)  # the copy is independent
    assert book.best_bid == 98.0
    assert back.best_bid == 97.0


@pytest.mark.parametrize("case", sorted(CASES))
def test_scenarios_shocks_and_results_round_trip_to_identical_runs(case: str) -> None:
    sc, shock, seed = CASES[case]()
    want = dl.simulate(sc, shock=shock, seed=seed)
    for sc2, shock2 in (
        (pickle.loads(pickle.dumps(sc)), pickle.loads(pickle.dumps(shock))),
        (copy.deepcopy(sc), copy.deepcopy(shock)),
    ):
        got = dl.simulate(sc2, shock=shock2, seed=seed)
        for name in FRAMES:
            a, b = getattr(got, name), getattr(want, name)
            assert a.equals(b, null_equal=True), (case, name)
    res = pickle.loads(pickle.dumps(want))
    assert isinstance(res, dl.Result)
    assert res.events.equals(want.events, null_equal=True)
    assert res.summary.equals(want.summary, null_equal=True)


def test_corrupt_venue_bytes_are_refused() -> None:
    with pytest.raises(dl.ScenarioError, match="not a saved venue"):
        dl._core._venue_from_bytes(b"\xff\xffnope")
