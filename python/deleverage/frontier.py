"""The inverse search: the parameter value at which a risk statistic of a sweep crosses a limit.

Risk teams ask the question backwards: not "what is the 99th-percentile bad debt at a 7.5 %
bonus" but "up to which bonus does the 99th-percentile bad debt stay under $1M". :func:`frontier`
answers it by bisection over sweeps: every evaluation runs the same ``runs`` seeded paths (common
random numbers), so the statistic is a deterministic function of the parameter and the bisection
converges on the crossing of the model, not on noise. With two parameters it traces the boundary
curve: for each value of the first, the crossing of the second.

Examples
--------
The largest Aave bonus that leaves no bad debt at a 25 % fall, for one account of 10 ETH
against 20,000 USDC: the collateral (22,500) covers the debt with its bonus while 1 + b ≤ 1.125.

>>> import polars as pl
>>> import deleverage as dl
>>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0, venues=[dl.OrderBook.linear(
...     3_000.0, 1.0, 2_000, 100.0)], oracle=dl.Oracle.reference()), dl.Asset("USDC", 1.0)],
...     steps=1)
>>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pl.DataFrame(
...     {"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
...      "debt_asset": ["USDC"], "debt": [20_000.0]}))
>>> f = dl.frontier(sc, dl.Shock.instant(ETH=-0.25), limit=0.0, runs=1, tol=1e-5,
...                 params={"protocols.aave_v3.reserves.ETH.liquidation_bonus": (0.01, 0.2)})
>>> round(f["safe_value"].item(), 4), f["safe_side"].item()
(0.125, 'below')
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from deleverage._checks import finite, whole
from deleverage.exceptions import ScenarioError
from deleverage.risk import _tail
from deleverage.scenario import Scenario
from deleverage.shock import Shock
from deleverage.sweep import grid, sweep

__all__ = ["frontier"]


def frontier(
    scenario: Scenario,
    shock: Shock | None = None,
    *,
    params: Mapping[str, Any],
    limit: float,
    metric: str = "bad_debt",
    stat: str = "p99",
    runs: int = 100,
    seed: int | None = None,
    tol: float | None = None,
    threads: int | None = None,
    executor: cf.Executor | str | None = None,
    chunk: int = 64,
    max_extra_steps: int = 10_000,
    progress: bool = False,
) -> pl.DataFrame:
    """Where ``stat`` of ``metric`` over ``runs`` seeded runs crosses ``limit`` as a parameter
    of ``scenario`` moves.

    ``params`` maps dotted keys of the scenario file (as :func:`grid` takes them) to what to
    search. With one key, its value is the bracket ``(low, high)``: the statistic must be within
    the limit at one end and beyond it at the other, and bisection narrows the bracket to
    ``tol`` (default: a thousandth of it; whole numbers when both ends are ints, as for
    ``liquidators.budget_count``). With two keys, the first maps to the values of a grid and the
    second to the bracket searched at each of them: the boundary curve. Keys under ``shock.``
    vary the scenario's own shock (then leave ``shock`` out).

    ``metric`` is a column of the :func:`sweep` frame (``bad_debt``, ``liquidations``,
    ``liquidated_notional``, ``drawdown_ETH``, ``amplification_ETH``, …); ``stat`` is ``mean``,
    ``max``, ``min``, ``prob`` (the share of runs with the metric above 0), ``p<q>`` (the q-th
    percentile as :func:`risk` takes value at risk: the k-th smallest for k = ⌈q/100·n⌉, so
    ``p99``, ``p99.9``, ``p5``) or ``es<q>`` (expected shortfall beyond it). "Beyond the limit"
    means above it. The search assumes the statistic crosses the limit once in the bracket.
    ``runs``, ``seed``, ``threads``, ``executor``, ``chunk`` and ``max_extra_steps`` go to each
    :func:`sweep`.

    One row per boundary point: ``parameter``, ``boundary`` (the middle of the final bracket),
    ``safe_value`` (the end of the final bracket within the limit: the recommendation),
    ``bracket_low``/``bracket_high`` and the statistic at them (``stat_low``/``stat_high``),
    ``safe_side`` (``below`` or ``above`` the boundary), ``evaluations`` (sweeps run), ``runs``,
    ``seed``, ``metric``, ``stat``, ``limit``, and ``trace`` (every value tried, with its
    statistic). With two parameters, ``grid_parameter`` and ``grid_value`` lead, and where the
    statistic does not cross the limit inside the bracket ``crossed`` is false and the boundary
    is null. Plot with :func:`deleverage.plot.frontier`.

    Examples
    --------
    One account, 10 ETH against 20,000 USDC of debt, liquidation threshold 80 %, bonus 5 %: the
    liquidator cannot take the bonus on all the debt once 10·p < 20,000·1.05, so bad debt starts
    at a fall of 1 − 2,100/3,000 = 30 %:

    >>> import polars as pl
    >>> import deleverage as dl
    >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0, venues=[dl.OrderBook.linear(
    ...     3_000.0, 1.0, 2_000, 100.0)], oracle=dl.Oracle.reference()), dl.Asset("USDC", 1.0)],
    ...     steps=1, shock=dl.Shock.instant(ETH=-0.5))
    >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pl.DataFrame(
    ...     {"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
    ...      "debt_asset": ["USDC"], "debt": [20_000.0]}))
    >>> f = dl.frontier(sc, params={"shock.returns.ETH": (-0.9, -0.01)}, limit=0.0, runs=1,
    ...                 tol=1e-6)
    >>> round(f["boundary"].item(), 5), f["safe_side"].item()
    (-0.3, 'above')
    """
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    if not isinstance(params, Mapping) or len(params) not in (1, 2):
        raise ScenarioError(
            "params must map one dotted key to its bracket (low, high), or two keys: the first "
            f"to grid values, the second to its bracket; got {params!r}"
        )
    keys = list(params)
    for k in keys:
        if not isinstance(k, str):
            raise ScenarioError(f"params keys must be dotted keys of the scenario file, got {k!r}")
        if k.startswith("shock.") and shock is not None:
            raise ScenarioError(
                f"params[{k!r}] varies the scenario's own shock, which shock= replaces: "
                "leave shock out (or put it in the scenario)"
            )
    search = keys[-1]
    low, high, integer = _bracket(search, params[search])
    grid_key = keys[0] if len(keys) == 2 else None
    grid_values = _grid_values(grid_key, params[grid_key]) if grid_key is not None else [None]
    limit = finite("limit", limit)
    level = _stat(stat)
    runs = whole("runs", runs, low=1)
    if tol is None:
        tol = (high - low) / 1_000
    tol = finite("tol", tol, low=0.0, low_open=True)
    seed_used = scenario.seed if seed is None else whole("seed", seed, low=0)

    bar = tqdm(desc="frontier", unit="sweep", disable=not progress)

    def evaluate(fixed: dict[str, Any], value: float) -> float:
        (variant,) = grid(
            scenario, {**{k: [v] for k, v in fixed.items()}, search: [value]}
        ).values()
        frame = sweep(
            variant,
            shock,
            runs,
            seed=seed,
            threads=threads,
            executor=executor,
            chunk=chunk,
            max_extra_steps=max_extra_steps,
        )
        bar.update()
        if metric not in frame.columns or not frame[metric].dtype.is_numeric():
            numeric = [c for c in frame.columns if frame[c].dtype.is_numeric()]
            raise ScenarioError(f"metric must be a numeric column of the sweep, one of {numeric}")
        return _statistic(frame[metric], stat, level)

    rows = []
    with bar:
        for g in grid_values:
            fixed = {grid_key: g} if grid_key is not None else {}
            row = _search(lambda v, fixed=fixed: evaluate(fixed, v), low, high, integer, tol, limit)
            if grid_key is None and not row["crossed"]:
                raise ScenarioError(
                    f"{stat} of {metric} does not cross the limit {limit:g} over the bracket of "
                    f"{search}: it is {row['stat_low']:g} at {low:g} and {row['stat_high']:g} "
                    f"at {high:g}; widen the bracket"
                )
            lead = {"grid_parameter": grid_key, "grid_value": g} if grid_key is not None else {}
            rows.append(
                lead
                | {"parameter": search}
                | row
                | {"runs": runs, "seed": seed_used, "metric": metric, "stat": stat, "limit": limit}
            )
    frame = pl.DataFrame(
        rows,
        schema_overrides={
            "boundary": pl.Float64,
            "safe_value": pl.Float64,
            "bracket_low": pl.Float64,
            "bracket_high": pl.Float64,
            "stat_low": pl.Float64,
            "stat_high": pl.Float64,
            "trace": pl.List(pl.Struct({"value": pl.Float64, "stat": pl.Float64})),
        },
    )
    return frame if grid_key is not None else frame.drop("crossed")


def _bracket(key: str, value: Any) -> tuple[float, float, bool]:
    if (
        isinstance(value, str | bytes)
        or not isinstance(value, Sequence)
        or len(value) != 2
        or any(isinstance(v, bool) for v in value)
    ):
        raise ScenarioError(f"params[{key!r}] must be a bracket (low, high), got {value!r}")
    integer = all(isinstance(v, int) for v in value)
    low = finite(f"params[{key!r}] low", value[0])
    high = finite(f"params[{key!r}] high", value[1])
    if not low < high:
        raise ScenarioError(f"params[{key!r}] must be a bracket with low < high, got {value!r}")
    return low, high, integer


def _grid_values(key: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) == 0:
        raise ScenarioError(
            f"params[{key!r}] (the first of two parameters) must be a non-empty list of grid "
            f"values, got {value!r}"
        )
    return list(value)


_STAT = re.compile(r"^(p|es)(\d+(?:\.\d+)?)$")


def _stat(stat: str) -> float | None:
    """The level of a ``p<q>``/``es<q>`` statistic, None for the others; checks the name."""
    if stat in ("mean", "max", "min", "prob"):
        return None
    m = _STAT.match(stat) if isinstance(stat, str) else None
    if m is None or not 0 < float(m.group(2)) < 100:
        raise ScenarioError(
            "stat must be 'mean', 'max', 'min', 'prob', 'p<q>' or 'es<q>' with 0 < q < 100 "
            f"(p99, es97.5), got {stat!r}"
        )
    return float(m.group(2)) / 100


def _statistic(values: pl.Series, stat: str, level: float | None) -> float:
    x = values.cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    if len(x) == 0:
        raise ScenarioError(f"the metric {values.name} is null in every run: no {stat} to take")
    if stat == "mean":
        return float(x.mean())
    if stat == "max":
        return float(x.max())
    if stat == "min":
        return float(x.min())
    if stat == "prob":
        return float((x > 0).mean())
    assert level is not None
    var, es = _tail(x, level)
    return var if stat.startswith("p") else es


def _search(
    f: Any, low: float, high: float, integer: bool, tol: float, limit: float
) -> dict[str, Any]:
    """Bisection of ``f(v) > limit`` over ``[low, high]``."""
    trace = [(low, f(int(low) if integer else low)), (high, f(int(high) if integer else high))]
    lo, hi = trace
    beyond_lo, beyond_hi = lo[1] > limit, hi[1] > limit
    if beyond_lo == beyond_hi:
        return {
            "boundary": None,
            "safe_value": None,
            "bracket_low": low,
            "bracket_high": high,
            "stat_low": lo[1],
            "stat_high": hi[1],
            "safe_side": None,
            "crossed": False,
            "evaluations": 2,
            "trace": [{"value": float(v), "stat": float(s)} for v, s in trace],
        }
    while (hi[0] - lo[0] > 1) if integer else (hi[0] - lo[0] > tol):
        mid = float(math.floor((lo[0] + hi[0]) / 2)) if integer else 0.5 * (lo[0] + hi[0])
        point = (mid, f(int(mid) if integer else mid))
        trace.append(point)
        if (point[1] > limit) == beyond_lo:
            lo = point
        else:
            hi = point
    safe = hi if beyond_lo else lo
    return {
        "boundary": 0.5 * (lo[0] + hi[0]),
        "safe_value": safe[0],
        "bracket_low": lo[0],
        "bracket_high": hi[0],
        "stat_low": lo[1],
        "stat_high": hi[1],
        "safe_side": "above" if beyond_lo else "below",
        "crossed": True,
        "evaluations": len(trace),
        "trace": [{"value": float(v), "stat": float(s)} for v, s in trace],
    }
