"""What breaches a family's rule at given prices, asked of the core (one owner for every margin
rule): the engine's own lending health factor, perp margin-pool test and Maker ``bark`` test, at
prices chosen by the caller, with nothing traded. Used by the static liquidation map and by
``PerpExchange.liquidatable`` and ``Vaults.unsafe``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from deleverage import _core

BREACH_COLUMNS = ("at", "row", "debt", "collateral_value", "notional", "margin", "requirement")


def frames(raw: Sequence[Mapping[str, Any]]) -> list[pl.DataFrame]:
    """The core's breach columns of each family as frames (``at`` the price row, ``row`` the
    family's own row: account id, position row, vault row)."""
    return [pl.DataFrame({c: f[c] for c in BREACH_COLUMNS}) for f in raw]


def account_ids(positions: pl.DataFrame) -> np.ndarray:
    """Engine account ids of a family's rows: one id per distinct account, in first-seen order
    (cross-margin rows of one account share a pool)."""
    ids = positions.select(pl.col("account").unique(maintain_order=True)).with_row_index("id")
    return (
        positions.select("account")
        .join(ids, on="account", how="left", maintain_order="left")["id"]
        .to_numpy()
        .astype(np.int64)
    )


def family_breaches(
    family_spec: dict[str, Any], asset_names: list[str], prices: Mapping[str, float]
) -> pl.DataFrame:
    """The rows of one family (its engine spec) that breach its rule at ``prices`` (asset → price,
    every one of ``asset_names`` given), as the core's breach columns."""
    n = len(asset_names)
    row = np.array([float(prices[a]) for a in asset_names], dtype=np.float64)
    spec: _core._ScenarioSpec = {
        "assets": [
            {
                "name": a,
                "price": float(p),
                "venues": [],
                "oracle": {"kind": "reference"},
                "peg": None,
            }
            for a, p in zip(asset_names, row, strict=True)
        ],
        "families": [family_spec],
        # Nothing runs: the queue, shock and run settings only need to be valid.
        "queue": {
            "priority": "worst_health",
            "mode": "sequential",
            "budget_notional": float("inf"),
            "budget_count": 2**64 - 1,
            "sell_fraction": 1.0,
            "max_rounds_per_step": 1,
            "keeper_margin": 0.0,
        },
        "shock": {"kind": "instant", "returns": np.zeros(n)},
        "steps": 1,
        "step_seconds": 1.0,
        "seed": 0,
        "max_extra_steps": 0,
    }
    return frames(_core.breached(spec, row))[0]
