"""Writes the recorded-market sample shipped with the package (``deleverage/data/``): four hours
of one ETH market, generated from a stated model, not recorded from any exchange.

- ``eth_marks.parquet``: a mark price every 60 s (``timestamp`` as a UTC datetime, ``ETH``), a
  geometric Brownian motion from 3,000 with 60 % annualised volatility, seed 2026.
- ``eth_book_snapshots.parquet``: an L2 snapshot every 15 minutes (``timestamp``, ``side``,
  ``price``, ``qty``): 200 levels a side, tick 0.5 around the mark, square-root depth whose total
  within 2 % breathes between 2,000 and 3,000 ETH over the four hours (a daily liquidity cycle).

Run: ``python examples/make_replay_sample.py`` (the tests read the files it wrote).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

OUT = Path(__file__).parent.parent / "python" / "deleverage" / "data"


def marks(seed: int = 2026) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n, dt = 240, 60.0
    sigma = 0.60 / np.sqrt(365.0 * 86_400.0)
    z = rng.standard_normal(n - 1)
    log = np.concatenate([[0.0], np.cumsum(sigma * np.sqrt(dt) * z - 0.5 * sigma**2 * dt)])
    t0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    return pl.DataFrame(
        {
            "timestamp": [t0 + timedelta(seconds=dt * k) for k in range(n)],
            "ETH": np.round(3_000.0 * np.exp(log), 2),
        }
    )


def snapshots(m: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for k in range(0, m.height, 15):
        t, mid = m["timestamp"][k], float(m["ETH"][k])
        # Depth within 2 % of the mid: 2,500 ± 500 ETH over the four hours.
        within = 2_500.0 + 500.0 * np.sin(2 * np.pi * k / m.height)
        levels = 200
        ticks = np.arange(1, levels + 1)
        # Square-root profile: cumulative depth ∝ sqrt(distance), scaled to `within` at 2 %.
        dist = ticks * 0.5 / mid
        cum = within * np.sqrt(dist / 0.02)
        qty = np.round(np.diff(np.concatenate([[0.0], cum])), 4)
        best_bid = np.floor(mid * 2) / 2
        for side, px in (("bid", best_bid - 0.5 * (ticks - 1)), ("ask", best_bid + 0.5 * ticks)):
            rows.extend(
                {"timestamp": t, "side": side, "price": float(p), "qty": float(q)}
                for p, q in zip(px, qty, strict=True)
            )
    return pl.DataFrame(rows)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    m = marks()
    m.write_parquet(OUT / "eth_marks.parquet")
    snapshots(m).write_parquet(OUT / "eth_book_snapshots.parquet")
    print("wrote", OUT / "eth_marks.parquet", OUT / "eth_book_snapshots.parquet")
