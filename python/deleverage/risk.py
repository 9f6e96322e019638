"""Risk statistics of sweep frames: value at risk and expected shortfall of bad debt, the
probability of any bad debt and of an exhausted insurance fund, and quantiles of drawdown and
amplification, by group.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=300, steps=50)
>>> runs = dl.sweep(sc, dl.Shock.gbm(sigma={"ETH": 3.0}, per="year"), runs=20, seed=1)
>>> r = dl.risk(runs, levels=[0.95])
>>> r.columns[:4]
['scenario', 'runs', 'p_bad_debt', 'bad_debt_mean']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from deleverage.exceptions import ScenarioError

__all__ = ["risk"]


def _tail(losses: np.ndarray, level: float) -> tuple[float, float]:
    """Historical VaR and ES at ``level``: with the losses sorted, VaR is the k-th smallest
    for k = ⌈level·n⌉ and ES the mean of the losses from the k-th on (the worst
    n − k + 1)."""
    s = np.sort(losses)
    k = max(1, math.ceil(level * len(s) - 1e-9))
    return float(s[k - 1]), float(s[k - 1 :].mean())


def risk(
    frame: pl.DataFrame,
    *,
    by: str | Sequence[str] = "scenario",
    levels: Sequence[float] = (0.95, 0.99),
) -> pl.DataFrame:
    """Risk statistics of a :func:`sweep` frame, one row per group of ``by``:

    - ``runs``; ``p_bad_debt`` (the share of runs with any bad debt); ``bad_debt_mean``;
    - ``bad_debt_var_<level>`` and ``bad_debt_es_<level>`` for each level: historical value at
      risk (the k-th smallest bad debt for k = ⌈level·n⌉) and expected shortfall (the mean of
      the bad debts from that one on);
    - with perp exchanges, ``p_fund_depleted``: the share of runs whose insurance funds fell to
      nothing (at most 1e-9 of their start);
    - per asset, ``drawdown_<asset>_q01``/``_q05``/``_q50`` (drawdowns are negative: q01 is the
      worst 1 %) and ``amplification_<asset>_q50``/``_q95``/``_q99``, from the runs where it is
      defined.

    Examples
    --------
    >>> import polars as pl
    >>> import deleverage as dl
    >>> frame = pl.DataFrame({"scenario": ["s"] * 100, "bad_debt": [float(i) for i in range(100)]})
    >>> r = dl.risk(frame, levels=[0.95]).row(0, named=True)
    >>> r["bad_debt_var_0.95"], r["bad_debt_es_0.95"], r["p_bad_debt"]  # 94; mean of 94 … 99
    (94.0, 96.5, 0.99)
    """
    if not isinstance(frame, pl.DataFrame):
        raise ScenarioError(f"frame must be a sweep's Polars frame, got {type(frame).__name__}")
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*keys, "bad_debt"] if c not in frame.columns]
    if missing:
        raise ScenarioError(f"frame lacks the columns {missing}; columns are {frame.columns}")
    lv = []
    for x in levels:
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise ScenarioError(f"levels must be numbers in (0, 1), got {x!r}") from None
        if not 0.0 < v < 1.0:
            raise ScenarioError(f"levels must be numbers in (0, 1), got {x!r}")
        lv.append(v)
    if frame.height == 0:
        raise ScenarioError("frame has no runs")
    assets = [c[len("drawdown_") :] for c in frame.columns if c.startswith("drawdown_")]
    rows = []
    for key, g in frame.group_by(keys, maintain_order=True):
        losses = g["bad_debt"].cast(pl.Float64).to_numpy()
        row: dict[str, object] = dict(zip(keys, key, strict=True))
        row |= {
            "runs": g.height,
            "p_bad_debt": float((losses > 0).mean()),
            "bad_debt_mean": float(losses.mean()),
        }
        for v in lv:
            var, es = _tail(losses, v)
            row[f"bad_debt_var_{v:g}"] = var
            row[f"bad_debt_es_{v:g}"] = es
        if "insurance_fund_min" in g.columns and g["insurance_fund_min"].null_count() < g.height:
            start = g["insurance_fund_start"] if "insurance_fund_start" in g.columns else None
            low = g["insurance_fund_min"].to_numpy()
            base = start.to_numpy() if start is not None else np.ones_like(low)
            row["p_fund_depleted"] = float((low <= 1e-9 * np.maximum(base, 1.0)).mean())
        for a in assets:
            dd = g[f"drawdown_{a}"].drop_nulls()
            for q in (0.01, 0.05, 0.5):
                row[f"drawdown_{a}_q{round(q * 100):02d}"] = (
                    float(dd.quantile(q, "linear")) if dd.len() else None  # type: ignore[arg-type]
                )
            if f"amplification_{a}" in g.columns:
                amp = g[f"amplification_{a}"].drop_nulls().drop_nans()
                for q in (0.5, 0.95, 0.99):
                    row[f"amplification_{a}_q{round(q * 100):02d}"] = (
                        float(amp.quantile(q, "linear")) if amp.len() else None  # type: ignore[arg-type]
                    )
        rows.append(row)
    return pl.DataFrame(rows)
