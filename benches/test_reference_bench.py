"""The engine against the pure-Python reference cascade (``reference.py``), both on the
issue-3 benchmark market after a 25 % instant shock, in one run (pytest-benchmark).

Run: ``pytest benches/test_reference_bench.py --benchmark-enable``. The benchmark times
``dl.simulate`` end to end (the spec from Polars frames, the core) and the reading of its event
rows, the counterpart of the reference's list of liquidations (a result builds a frame when it
is first read); the reference, from the same plain arrays, is timed alongside over as many
rounds. ``extra_info`` holds both medians and their ratio (reference / engine).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import deleverage as dl
from deleverage.examples import eth_positions
from reference import cascade
from test_engine_bench import benchmark_market

ROUNDS = 3
T = TypeVar("T")


def simulate_to_events(sc: dl.Scenario, shock: dl.Shock) -> dl.Result:
    """``dl.simulate`` with its event rows built: one liquidation row per liquidation."""
    res = dl.simulate(sc, shock=shock)
    assert res.events.height == res.summary["liquidations"].item()
    return res


def timed(fn: Callable[[], T], rounds: int) -> tuple[float, T]:
    """The median wall time of ``rounds`` calls of ``fn``, and what the last call returned."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_engine_vs_reference_25pct_shock(benchmark: Any, n: int) -> None:
    """``dl.simulate`` and the reference on ``n`` accounts: the same liquidations, and the
    reference's time over the engine's."""
    sc = benchmark_market(n)
    pos = eth_positions(n, seed=1)
    collateral, debt = pos["collateral"].to_numpy(), pos["debt"].to_numpy()
    shock = dl.Shock.instant(ETH=-0.25)
    res = benchmark.pedantic(simulate_to_events, args=(sc, shock), rounds=ROUNDS)
    stats = getattr(benchmark, "stats", None)
    engine_s = (
        stats.stats.median
        if stats is not None
        else timed(lambda: simulate_to_events(sc, shock), ROUNDS)[0]
    )
    reference_s, ref = timed(lambda: cascade(collateral, debt, shock=-0.25), ROUNDS)
    benchmark.extra_info["engine_median_s"] = engine_s
    benchmark.extra_info["reference_median_s"] = reference_s
    benchmark.extra_info["reference_over_engine"] = reference_s / engine_s
    assert res.summary["liquidations"].item() == ref.count
    assert res.summary["bad_debt"].item() == pytest.approx(ref.bad_debt, rel=1e-9)
