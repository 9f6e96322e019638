"""Python-surface throughput of the cascade engine (pytest-benchmark).

Run: ``pytest benches --benchmark-enable``. Wall times include the engine run and building every
result frame (a result builds its frames when they are read: the benchmarks read them all). The
scenario's spec is built on its first run and reused by the runs after it, so the rounds after
the first measure a run of a scenario already seen (``benches/scaling.py`` reports both).
"""

from __future__ import annotations

from typing import Any

import pytest

import deleverage as dl
from deleverage.examples import eth_positions


def benchmark_market(n: int) -> dl.Scenario:
    """The issue-3 benchmark market: one linear book (tick 0.5, 400 ETH per level), a spot
    oracle, Aave v3.3 positions with health factors 1.01 + Exp(0.35)."""
    book = dl.OrderBook.linear(mid=3_000.0, tick=0.5, levels=5_999, depth_per_level=400.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", price=3_000.0, venues=[book]),
            dl.Asset("USDC", price=1.0, oracle=dl.Oracle.reference()),
        ],
        steps=1,
    )
    aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05, 0.10)})
    return sc.add_lending(aave, eth_positions(n, seed=1))


FRAMES = ("events", "steps", "accounts", "positions", "vaults", "auctions", "funds")


def simulate_all_frames(sc: dl.Scenario, shock: dl.Shock) -> dl.Result:
    """``dl.simulate`` with every result frame built."""
    res = dl.simulate(sc, shock=shock)
    for name in FRAMES:
        getattr(res, name)
    return res


@pytest.mark.parametrize("n", [100_000, 1_000_000])
def test_simulate_25pct_shock(benchmark: Any, n: int) -> None:
    """One run to quiet of ``n`` accounts after a 25 % instant ETH shock, every frame built."""
    sc = benchmark_market(n)
    res = benchmark.pedantic(
        simulate_all_frames, args=(sc, dl.Shock.instant(ETH=-0.25)), rounds=5, warmup_rounds=1
    )
    assert res.summary["liquidations"].item() > 0


def test_small_simulate(benchmark: Any) -> None:
    """The fixed cost: 100 accounts, exactly 10 steps (no extra steps to quiet), a 20 % instant
    shock, the summary only (target: under 0.5 ms)."""
    sc = dl.examples.eth_lending(n_accounts=100, steps=10, seed=1)
    res = benchmark(dl.simulate, sc, shock=dl.Shock.instant(ETH=-0.2), max_extra_steps=0)
    assert res.summary["steps_run"].item() == 10
    assert res.summary["liquidations"].item() > 0


def test_eth_lending_example(benchmark: Any) -> None:
    """The built-in example (10,000 accounts, book + pool, push oracle) through −20 %."""
    sc = dl.examples.eth_lending(n_accounts=10_000, seed=7)
    res = benchmark(dl.simulate, sc, shock=dl.Shock.instant(ETH=-0.2), seed=7)
    assert res.summary["quiet"].item()


@pytest.mark.parametrize("n", [20_000, 200_000])
def test_btc_perps_example(benchmark: Any, n: int) -> None:
    """The BTC perp example (cross margin, six brackets, Binance ADL) through an instant −15 %."""
    sc = dl.examples.btc_perps(n_accounts=n, seed=1)
    res = benchmark.pedantic(
        dl.simulate, args=(sc,), kwargs={"shock": dl.Shock.instant({"BTC-PERP": -0.15})}, rounds=3
    )
    assert res.summary["perp_liquidations"].item() > 0


def test_bank_fire_sale_example(benchmark: Any) -> None:
    """The Cont–Schaanning bank system to quiet (batch rounds on exponential curves)."""
    sc = dl.examples.bank_fire_sale()
    res = benchmark(dl.simulate, sc)
    assert res.summary["fund_sales_notional"].item() > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_sweep_64_runs(benchmark: Any, threads: int) -> None:
    """64 jump-diffusion runs of the ETH example (2,000 accounts, 300 steps) on 1 and 2 threads."""
    sc = dl.examples.eth_lending(n_accounts=2_000, seed=1)
    shock = dl.Shock.jump_diffusion(
        sigma={"ETH": 1.0}, jump_intensity={"ETH": 500.0}, jump_mean={"ETH": -0.08}, per="year"
    )
    out = benchmark.pedantic(
        dl.sweep, args=(sc, shock), kwargs={"runs": 64, "seed": 1, "threads": threads}, rounds=3
    )
    assert out.height == 64
