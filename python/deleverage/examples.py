"""Built-in example scenarios.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=1_000, seed=3)
>>> sc.n_accounts, sc.asset_names
(1000, ['ETH', 'USDC'])
"""

from __future__ import annotations

import numpy as np
import polars as pl

from deleverage._core import ConstantProductPool, OrderBook
from deleverage.exceptions import ScenarioError
from deleverage.scenario import Asset, Lending, Oracle, Reserve, Scenario

__all__ = ["eth_lending", "eth_positions"]


def eth_positions(
    n_accounts: int = 10_000,
    *,
    price: float = 3_000.0,
    seed: int = 0,
    liquidation_threshold: float = 0.83,
) -> pl.DataFrame:
    """Seeded ETH-collateral, USDC-debt positions.

    Collateral is log-normal (median 5 ETH, log-sd 1.5); health factors are 1.01 plus an
    exponential with mean 0.35, so liquidation prices spread below the current price the way
    public liquidation heatmaps show them: dense just below, thinning further out.
    """
    if n_accounts < 0:
        raise ScenarioError(f"n_accounts must be >= 0, got {n_accounts}")
    rng = np.random.default_rng(seed)
    collateral = 5.0 * np.exp(1.5 * rng.standard_normal(n_accounts))
    health = 1.01 + rng.exponential(0.35, n_accounts)
    debt = collateral * price * liquidation_threshold / health
    return pl.DataFrame(
        {
            "account": np.arange(n_accounts, dtype=np.int64),
            "collateral_asset": ["ETH"] * n_accounts,
            "collateral": collateral,
            "debt_asset": ["USDC"] * n_accounts,
            "debt": debt,
        }
    )


def eth_lending(n_accounts: int = 10_000, *, seed: int = 0, steps: int = 300) -> Scenario:
    """An ETH lending market with Aave v3.3 parameters.

    ETH at $3,000 trades on a square-root order book (2 % daily volatility, 150,000 ETH of daily
    volume, $0.50 tick, refilling with a 10-minute half-life) and a Uniswap v2 ETH/USDC pool
    (20,000 ETH, 0.3 % fee). The Aave oracle is a Chainlink-style push feed (0.5 % deviation,
    1-hour heartbeat). WETH reserve: liquidation threshold 83 %, bonus 5 %, protocol fee 10 %
    (Aave v3 Ethereum market parameters). USDC is borrowed; its price is the reference (1).
    """
    price = 3_000.0
    book = OrderBook.sqrt(
        mid=price,
        tick=0.5,
        levels=5_999,
        sigma=0.02,
        volume=150_000.0,
        resilience_half_life=600.0,
    )
    pool = ConstantProductPool(base_reserve=20_000.0, quote_reserve=20_000.0 * price, fee=0.003)
    sc = Scenario(
        assets=[
            Asset("ETH", price=price, venues=[book, pool], oracle=Oracle.push(0.005, 3_600.0)),
            Asset("USDC", price=1.0, oracle=Oracle.reference()),
        ],
        step_seconds=12.0,
        steps=steps,
    )
    aave = Lending.aave_v3(
        {"ETH": Reserve(liquidation_threshold=0.83, liquidation_bonus=0.05, protocol_fee=0.10)}
    )
    return sc.add_lending(aave, eth_positions(n_accounts, price=price, seed=seed))
