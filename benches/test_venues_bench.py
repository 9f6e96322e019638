"""Python-surface throughput of the venues (pytest-benchmark).

Run: ``pytest benches --benchmark-enable`` (the normal test run does not collect this folder).
Each benchmark names what one call does, so calls per second convert to levels or swaps per second.
"""

from __future__ import annotations

from typing import Any

import deleverage as dl

LEVELS = 200_000


def test_book_walk_10k_levels(benchmark: Any) -> None:
    """One quote that walks 10,000 levels of a linear book (1 unit per level)."""
    book = dl.OrderBook.linear(mid=3_000.0, tick=0.01, levels=LEVELS, depth_per_level=1.0)
    fill = benchmark(book.quote_sell, 10_000.0)
    assert fill.levels == 10_000


def test_pool_swap(benchmark: Any) -> None:
    """One Uniswap v2 swap through the Python surface."""
    pool = dl.ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_450_000.0, fee=0.003)

    def round_trip() -> None:
        pool.sell(1.5)
        pool.buy(1.5)

    benchmark(round_trip)


def test_router_book_and_pool(benchmark: Any) -> None:
    """One routed 1,000-unit sale quote across a 20,000-level sqrt book and a pool."""
    book = dl.OrderBook.sqrt(mid=3_000.0, tick=0.1, levels=20_000, sigma=0.02, volume=400_000.0)
    pool = dl.ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_500_000.0, fee=0.003)
    router = dl.Router([book, pool])
    fill = benchmark(router.quote_sell, 1_000.0)
    assert fill.status == "filled"


def test_router_book_and_stableswap(benchmark: Any) -> None:
    """One routed 1,000-unit sale quote of a stablecoin across a 900-level sqrt book ($150 of
    bids within 2 %) and a 150,000 + 150,000 StableSwap pool (A = 1,000, 1 bp): the October
    2025 case's USDe market when the pool is reachable. The pool's capacity to each book level
    is a search over its swap math, so this is the router's most expensive pairing."""
    book = dl.OrderBook.sqrt(
        mid=1.0, tick=1e-3, levels=900, sigma=0.02, volume=150.0, resilience_half_life=600.0,
        permanent_impact=1.0 / 3.0,
    )  # fmt: skip
    pool = dl.StableSwapPool([1.5e5, 1.5e5], amplification=1_000.0, fee=0.0001)
    router = dl.Router([book, pool])
    fill = benchmark(router.quote_sell, 1_000.0)
    assert fill.status == "filled"
