"""Sweeps: many seeded runs of one or several scenarios, one summary row per run.

The runs execute in the Rust core on a thread pool (``threads``, default one per core) with the
GIL released. Run ``i`` draws its path (and its random queue order) from a seed derived from
``(seed, i)`` alone, so the rows do not depend on the number of threads or on the chunking.
Scenarios are compared on the same seeds: run ``i`` of every scenario sees the same path.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=300, steps=100)
>>> runs = dl.sweep(sc, dl.Shock.jump_diffusion(sigma={"ETH": 2.0}, jump_intensity={"ETH": 500.0},
...                                             jump_mean={"ETH": -0.1}), runs=8, seed=1)
>>> runs.height, runs.columns[:4]
(8, ['scenario', 'run', 'seed', 'liquidations'])
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from deleverage import _core
from deleverage._checks import whole
from deleverage._spec import build_spec
from deleverage.exceptions import ScenarioError
from deleverage.perps import PerpExchange
from deleverage.scenario import Scenario
from deleverage.shock import Shock

__all__ = ["grid", "sweep"]


def sweep(
    scenarios: Scenario | Mapping[str, Scenario],
    shock: Shock | None = None,
    runs: int = 100,
    *,
    seed: int | None = None,
    threads: int | None = None,
    max_extra_steps: int = 10_000,
    chunk: int = 64,
    progress: bool = False,
) -> pl.DataFrame:
    """Runs each scenario ``runs`` times on seeded paths of ``shock`` and returns one row per
    (scenario, run).

    ``scenarios`` is one scenario or a mapping of labels to scenarios (a parameter grid: build
    the variants, label them). ``shock`` and ``seed`` default to each scenario's own. Columns:
    ``scenario``, ``run``, ``seed``, ``liquidations``, ``liquidated_notional``, ``bad_debt``,
    ``insurance_fund_min`` and ``insurance_fund_start`` (null without perp exchanges),
    ``steps_run``, ``quiet``, and per
    asset ``drawdown_<asset>`` (lowest mid), ``exogenous_drawdown_<asset>`` (lowest reference)
    and ``amplification_<asset>`` (their ratio; null without an exogenous fall). Runs go in
    chunks of ``chunk``; between chunks Ctrl-C is seen and the progress bar moves.

    Examples
    --------
    >>> import deleverage as dl
    >>> base = dl.examples.eth_lending(n_accounts=200, steps=50)
    >>> grid = {f"sell_fraction={f}": base.with_liquidators(dl.Liquidators(sell_fraction=f))
    ...         for f in (0.5, 1.0)}
    >>> out = dl.sweep(grid, dl.Shock.gbm(sigma={"ETH": 1.5}), runs=4, seed=3, threads=1)
    >>> out.group_by("scenario").len().sort("scenario")["len"].to_list()
    [4, 4]
    """
    if isinstance(scenarios, Scenario):
        scenarios = {"scenario": scenarios}
    if not isinstance(scenarios, Mapping) or not scenarios:
        raise ScenarioError("scenarios must be a Scenario or a non-empty mapping of them")
    runs = whole("runs", runs, low=1)
    if runs > _MAX_RUNS:
        raise ScenarioError(
            f"runs must be at most {_MAX_RUNS:,} (run indices are 32-bit), got {runs}"
        )
    chunk = whole("chunk", chunk, low=1)
    if threads is not None:
        threads = whole("threads", threads, low=1)
        cores = os.cpu_count() or 1
        if threads > cores:
            # More threads than cores only queue for the same cores; a huge count would spend
            # its time starting threads. The results do not depend on the count.
            warnings.warn(
                f"threads={threads} is more than this machine's {cores} cores: using {cores}",
                RuntimeWarning,
                stacklevel=2,
            )
            threads = cores
    frames = []
    total = len(scenarios) * int(runs)
    with tqdm(total=total, desc="sweep", unit="run", disable=not progress) as bar:
        for label, sc in scenarios.items():
            if not isinstance(sc, Scenario):
                raise ScenarioError(
                    f"scenarios[{label!r}] must be a deleverage.Scenario, got {type(sc).__name__}"
                )
            spec, _, _ = build_spec(sc, shock, seed, max_extra_steps)
            parts = []
            for first in range(0, int(runs), int(chunk)):
                last = min(int(runs), first + int(chunk))
                parts.append(_core.sweep(spec, first, last, threads))
                bar.update(last - first)
            frames.append(_frame(str(label), sc, parts))
    # Variants may hold different assets: their per-asset columns are null where absent.
    return pl.concat(frames, how="diagonal")


_MAX_RUNS = 2**32 - 1


def _frame(label: str, sc: Scenario, parts: list[dict[str, Any]]) -> pl.DataFrame:
    def col(k: str) -> np.ndarray:
        return np.concatenate([p[k] for p in parts])

    n = len(sc.assets)
    has_fund = any(isinstance(f.protocol, PerpExchange) for f in sc.families)
    df = pl.DataFrame(
        {
            "scenario": label,
            "run": col("run"),
            "seed": col("seed"),
            "liquidations": col("liquidations"),
            "liquidated_notional": col("liquidated_notional"),
            "bad_debt": col("bad_debt"),
            "insurance_fund_min": col("insurance_fund_min"),
            "steps_run": col("steps_run"),
            "quiet": col("quiet"),
        }
    )
    start = sum(
        float(f.protocol.insurance_fund)
        for f in sc.families
        if isinstance(f.protocol, PerpExchange)
    )
    df = df.with_columns(
        pl.lit(start if has_fund else None, dtype=pl.Float64).alias("insurance_fund_start")
    )
    if not has_fund:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias("insurance_fund_min"))
    low = col("min_mid").reshape(-1, n)
    exo = col("min_reference").reshape(-1, n)
    extra = {}
    for a, asset in enumerate(sc.assets):
        p0 = float(asset.price)
        dd = np.minimum(low[:, a] / p0 - 1.0, 0.0)
        ex = np.minimum(exo[:, a] / p0 - 1.0, 0.0)
        extra[f"drawdown_{asset.name}"] = dd
        extra[f"exogenous_drawdown_{asset.name}"] = ex
        with np.errstate(divide="ignore", invalid="ignore"):
            amp = np.where(ex < 0, dd / np.where(ex < 0, ex, 1.0), np.nan)
        extra[f"amplification_{asset.name}"] = amp
    return df.with_columns(
        *(
            pl.Series(k, v).fill_nan(None) if k.startswith("amplification_") else pl.Series(k, v)
            for k, v in extra.items()
        )
    )


def grid(scenario: Scenario, values: Mapping[str, Sequence[Any]]) -> dict[str, Scenario]:
    """Labelled variants of ``scenario``: one per combination of ``values`` (dotted keys of the
    scenario file, as ``deleverage sweep --grid`` takes them: ``liquidators.budget_notional``,
    ``protocols.aave_v3.reserves.ETH.liquidation_bonus``, with array items by index or by
    name). Unknown keys raise :class:`ScenarioError` naming the key and the valid ones at that
    level. Pass the result to :func:`sweep`.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=200, steps=20)
    >>> variants = dl.grid(sc, {"protocols.aave_v3.reserves.ETH.liquidation_bonus": [0.05, 0.1]})
    >>> list(variants)
    ['liquidation_bonus=0.05', 'liquidation_bonus=0.1']
    >>> variants["liquidation_bonus=0.1"].lending[0].protocol.reserves["ETH"].liquidation_bonus
    0.1
    """
    import itertools
    import tempfile
    from pathlib import Path

    from deleverage import tomlfile

    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    if not isinstance(values, Mapping) or not values:
        raise ScenarioError("values must be a non-empty mapping of dotted keys to lists of values")
    keys = list(values)
    for k in keys:
        v = values[k]
        if isinstance(v, str | bytes) or not isinstance(v, Sequence) or len(v) == 0:
            raise ScenarioError(f"values[{k!r}] must be a non-empty list of values, got {v!r}")
    short = [k.rsplit(".", 1)[-1] for k in keys]
    names = short if len(set(short)) == len(short) else keys
    out: dict[str, Scenario] = {}
    # Through the scenario file's own document: the same keys and checks as the CLI's grid.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.toml"
        scenario.to_toml(path)
        doc = tomlfile.read(path)
        # The file leaves the liquidators' defaults out; a grid may vary them too.
        liq = scenario.liquidators
        table = doc.setdefault("liquidators", {})
        for k in ("priority", "mode", "budget_notional", "sell_fraction", "max_rounds_per_step",
                  "keeper_margin", "budget_count"):  # fmt: skip
            if getattr(liq, k) is not None:
                table.setdefault(k, getattr(liq, k))
        for combo in itertools.product(*(values[k] for k in keys)):
            variant = doc
            for key, value in zip(keys, combo, strict=True):
                variant = tomlfile.with_value(variant, key, value, "scenario")
            label = ", ".join(f"{k}={v}" for k, v in zip(names, combo, strict=True))
            out[label] = tomlfile.load_document(variant, path)
    return out
