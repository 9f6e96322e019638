"""The exogenous shock: the reference price path before endogenous impact.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0)], steps=2)
>>> dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1)).steps["reference"].to_list()
[2700.0, 2700.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage._checks import finite
from deleverage._core import SECONDS_PER_YEAR
from deleverage.exceptions import ScenarioError
from deleverage.market import Asset

__all__ = ["Shock"]

Per = Literal["year", "day", "hour"]

#: Periods in a year of 24/7 trading (the core's year, 365.25 days): what ``per`` converts
#: ``sigma``, ``mu`` and ``jump_intensity`` from. The shock stores them per year.
PERIODS_PER_YEAR: dict[str, float] = {
    "year": 1.0,
    "day": SECONDS_PER_YEAR / 86_400.0,
    "hour": SECONDS_PER_YEAR / 3_600.0,
}


def _periods(per: object) -> float:
    if not isinstance(per, str) or per not in PERIODS_PER_YEAR:
        raise ScenarioError(
            "per must be 'year', 'day' or 'hour' (the period sigma, mu and jump_intensity are "
            f"given per; a year is 365.25 days of 24/7 trading), got {_short(per)}"
        )
    return PERIODS_PER_YEAR[per]


@dataclass(frozen=True)
class Shock:
    """The exogenous price path, before endogenous impact.

    Use :meth:`instant` (one move at step 0), :meth:`path` (reference prices per step),
    :meth:`gbm` (correlated geometric Brownian motion) or :meth:`jump_diffusion`. Random paths are
    drawn from ``simulate``'s seed. The fields ``sigma``, ``mu`` and ``jump_intensity`` are per
    year of 24/7 trading (365.25 days), whatever ``per`` the constructor was given; build a
    diffusion with :meth:`gbm` or :meth:`jump_diffusion`, which state the period, rather than
    from the fields.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Shock.instant(ETH=-0.2).returns
    {'ETH': -0.2}
    """

    kind: Literal["instant", "levels", "diffusion"]
    returns: Mapping[str, float] = field(default_factory=dict)
    prices: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    mu: Mapping[str, float] = field(default_factory=dict)
    sigma: Mapping[str, float] = field(default_factory=dict)
    corr: npt.NDArray[np.float64] | None = None
    jump_intensity: Mapping[str, float] = field(default_factory=dict)
    jump_mean: Mapping[str, float] = field(default_factory=dict)
    jump_std: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def instant(cls, returns: Mapping[str, float] | None = None, **by_asset: float) -> Shock:
        """Moves each named asset by a simple return at step 0 (``ETH=-0.2`` is a 20 % fall).

        Examples
        --------
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("BTC", 60_000.0)], steps=3)
        >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
        >>> res.steps.filter(step=0)["reference"].to_list()  # BTC is not named: it stays
        [2400.0, 60000.0]
        >>> dl.Shock.instant({"ETH": -0.2}, BTC=-0.1).returns
        {'ETH': -0.2, 'BTC': -0.1}
        """
        r = {**(returns or {}), **by_asset}
        for k, v in r.items():
            finite(f"shock {k}", v, low=-1.0, low_open=True)
        return cls("instant", returns=r)

    @classmethod
    def path(cls, prices: Mapping[str, npt.ArrayLike]) -> Shock:
        """Reference prices per step for the named assets (all the same length: the number of
        steps). Unnamed assets keep their initial price.

        Examples
        --------
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("BTC", 60_000.0)])
        >>> res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [2_900.0, 2_800.0, 2_850.0]}))
        >>> res.summary["steps_run"].item()  # the path's length, not sc.steps
        3
        >>> res.steps.filter(asset="ETH")["reference"].to_list()
        [2900.0, 2800.0, 2850.0]
        >>> res.steps.filter(asset="BTC")["reference"].to_list()
        [60000.0, 60000.0, 60000.0]
        """
        if not isinstance(prices, Mapping) or not prices:
            raise ScenarioError(
                "Shock.path needs the prices of at least one asset, as a mapping of asset names "
                f"to arrays, got {prices!r}"
            )
        arrays = {}
        for k, v in prices.items():
            try:
                arrays[k] = np.asarray(v, dtype=np.float64).copy()
            except (TypeError, ValueError):
                raise ScenarioError(
                    f"shock path {k} must be an array of prices, got {_short(v)}"
                ) from None
        lengths = {len(a) if a.ndim == 1 else -1 for a in arrays.values()}
        if len(lengths) > 1:
            raise ScenarioError(f"shock paths must all have the same length, got {sorted(lengths)}")
        for k, a in arrays.items():
            if a.ndim != 1 or a.size == 0:
                raise ScenarioError(f"shock path {k} must be a non-empty 1-D array")
            if not np.all(np.isfinite(a)) or np.any(a <= 0):
                bad = int(np.flatnonzero(~np.isfinite(a) | (a <= 0))[0])
                raise ScenarioError(
                    f"shock path {k}[{bad}] must be a positive number, got {a[bad]}"
                )
        return cls("levels", prices=arrays)

    @classmethod
    def replay(
        cls,
        prices: pl.DataFrame,
        *,
        step_seconds: float,
        time: str = "timestamp",
        start: Any = None,
        steps: int | None = None,
    ) -> Shock:
        """A reference path replayed from a recorded market: a frame of timestamped prices (a
        mark-price or kline export: a ``time`` column and one price column per asset) resampled
        to the scenario's ``step_seconds``. Step ``k`` takes the last price recorded at or
        before ``start + k·step_seconds`` (before the first record, the first). ``start``
        defaults to the first record; ``steps`` to as many as the records span. ``time`` is a
        datetime column or seconds.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> marks = pl.DataFrame({"timestamp": [0.0, 30.0, 60.0],
        ...                       "ETH": [3_000.0, 2_950.0, 2_900.0]})
        >>> dl.Shock.replay(marks, step_seconds=12.0).prices["ETH"].tolist()  # t = 0, 12, …, 60
        [3000.0, 3000.0, 3000.0, 2950.0, 2950.0, 2900.0]
        """
        if not isinstance(prices, pl.DataFrame):
            raise ScenarioError(f"prices must be a Polars frame, got {type(prices).__name__}")
        dt = finite("step_seconds", step_seconds, low=0.0, low_open=True)
        if time not in prices.columns:
            raise ScenarioError(f"prices has no time column {time!r}; columns are {prices.columns}")
        assets = [c for c in prices.columns if c != time]
        if not assets or prices.height == 0:
            raise ScenarioError("prices must have rows and at least one price column")
        t = _seconds(prices[time], "prices")
        order = np.argsort(t, kind="stable")
        t = t[order]
        t0 = t[0] if start is None else float(_seconds(pl.Series([start]), "start")[0])
        n = int((t[-1] - t0) // dt) + 1 if steps is None else int(steps)
        if n > _MAX_STEPS:
            raise ScenarioError(
                f"the replay would have {n:,} steps (step_seconds {dt} over "
                f"{t[-1] - t0:,.0f} s): at most {_MAX_STEPS:,}"
            )
        if n < 1:
            raise ScenarioError(f"the replay has no step: start {start!r} is after the last record")
        grid = t0 + dt * np.arange(n)
        out: dict[str, npt.NDArray[np.float64]] = {}
        for a in assets:
            try:
                col = prices[a].cast(pl.Float64).to_numpy()[order]
            except pl.exceptions.PolarsError:
                raise ScenarioError(
                    f"prices[{a!r}] must be numbers, got {prices[a].dtype}"
                ) from None
            # The last record of this asset at or before each step's time (gaps, nulls, are
            # skipped); before its first record, the first.
            have = ~np.isnan(col)
            if not have.any():
                raise ScenarioError(f"prices[{a!r}] has no price at all")
            ta, ca = t[have], col[have]
            at = np.clip(np.searchsorted(ta, grid, side="right") - 1, 0, len(ta) - 1)
            out[a] = ca[at]
        return cls.path(out)

    @classmethod
    def gbm(
        cls,
        sigma: Mapping[str, float],
        mu: Mapping[str, float] | None = None,
        corr: npt.ArrayLike | None = None,
        *,
        per: Per,
    ) -> Shock:
        """Correlated geometric Brownian motion: volatility ``sigma`` and drift ``mu`` per asset
        over the period ``per`` (``"year"``, ``"day"`` or ``"hour"``; required, so that a daily
        volatility is never read as an annual one), correlation matrix ``corr`` over the assets
        in scenario order (identity by default). The shock stores them per year of 24/7
        trading: ``sigma·sqrt(n)`` and ``mu·n`` with ``n`` = 1, 365.25 or 8,766 periods a year.
        The scenario's ``step_seconds`` sets how much of a year one step is.

        Examples
        --------
        >>> import deleverage as dl
        >>> round(dl.Shock.gbm({"ETH": 0.04}, per="day").sigma["ETH"], 6)  # 0.04·sqrt(365.25)
        0.764461
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("BTC", 60_000.0)], steps=20)
        >>> gbm = dl.Shock.gbm({"ETH": 0.8, "BTC": 0.8}, corr=[[1.0, 1.0], [1.0, 1.0]], per="year")
        >>> ref = dl.simulate(sc, shock=gbm, seed=7).steps
        >>> eth, btc = (ref.filter(asset=a)["reference"] for a in ("ETH", "BTC"))
        >>> bool((eth / 3_000 - btc / 60_000).abs().max() < 1e-12)  # correlation 1: in lockstep
        True
        >>> again = dl.simulate(sc, shock=gbm, seed=7).steps  # the seed fixes the path
        >>> again["reference"].equals(ref["reference"]), eth.len()
        (True, 20)
        """
        return cls.jump_diffusion(sigma, mu=mu, corr=corr, per=per)

    @classmethod
    def jump_diffusion(
        cls,
        sigma: Mapping[str, float],
        mu: Mapping[str, float] | None = None,
        corr: npt.ArrayLike | None = None,
        jump_intensity: Mapping[str, float] | None = None,
        jump_mean: Mapping[str, float] | None = None,
        jump_std: Mapping[str, float] | None = None,
        *,
        per: Per,
    ) -> Shock:
        """GBM plus Merton jumps: ``sigma``, ``mu`` and ``jump_intensity`` (jumps) over the
        period ``per`` (``"year"``, ``"day"`` or ``"hour"``; required), log-sizes per jump
        Normal(``jump_mean``, ``jump_std``). Stored per year, as :meth:`gbm`.

        Examples
        --------
        >>> import deleverage as dl
        >>> daily = dl.Shock.jump_diffusion({"ETH": 0.04}, jump_intensity={"ETH": 2.0}, per="day")
        >>> daily.jump_intensity  # two jumps a day: 730.5 a year
        {'ETH': 730.5}
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0)], steps=20)
        >>> crash = dl.Shock.jump_diffusion({"ETH": 0.0}, jump_intensity={"ETH": 1e6},
        ...                                 jump_mean={"ETH": -0.1}, jump_std={"ETH": 0.0},
        ...                                 per="year")
        >>> ref = dl.simulate(sc, shock=crash, seed=1).steps["reference"]
        >>> bool((ref.diff().drop_nulls() <= 0).all())  # no volatility: only the jumps move it
        True
        >>> round(ref[2] / ref[1], 6)  # one jump of log-size -0.1: exp(-0.1)
        0.904837
        """
        if corr is not None:
            if isinstance(corr, str | bytes):
                raise ScenarioError(f"corr must be a square matrix of numbers, got {corr!r}")
            try:
                corr = np.asarray(corr, dtype=np.float64).copy()
            except (TypeError, ValueError):
                raise ScenarioError(
                    f"corr must be a square matrix of numbers, got {_short(corr)}"
                ) from None
            if corr.ndim != 2 or corr.shape[0] != corr.shape[1]:
                raise ScenarioError(f"corr must be a square matrix, got shape {corr.shape}")
        n = _periods(per)
        return cls(
            "diffusion",
            sigma={
                k: v * float(np.sqrt(n)) for k, v in _per_asset("sigma", sigma, low=0.0).items()
            },
            mu={k: v * n for k, v in _per_asset("mu", mu or {}).items()},
            corr=corr,
            jump_intensity={
                k: v * n
                for k, v in _per_asset("jump_intensity", jump_intensity or {}, low=0.0).items()
            },
            jump_mean=_per_asset("jump_mean", jump_mean or {}),
            jump_std=_per_asset("jump_std", jump_std or {}, low=0.0),
        )

    def steps(self, default: int) -> int:
        """The number of steps the path has (``default`` for paths without a length)."""
        if self.kind == "levels":
            return len(next(iter(self.prices.values())))
        return default

    def _spec(self, assets: Sequence[Asset]) -> dict[str, Any]:
        names = [a.name for a in assets]
        known = set(names)

        def vec(m: Mapping[str, float], what: str, default: float = 0.0) -> npt.NDArray[np.float64]:
            unknown = sorted(set(m) - known)
            if unknown:
                raise ScenarioError(
                    f"{what} names unknown asset {unknown[0]!r}; assets are {names}"
                )
            return np.array([float(m.get(n, default)) for n in names], dtype=np.float64)

        if self.kind == "instant":
            return {"kind": "instant", "returns": vec(self.returns, "shock")}
        if self.kind == "levels":
            vec({k: 0.0 for k in self.prices}, "shock path")
            steps = self.steps(0)
            cols = [
                self.prices[a.name] if a.name in self.prices else np.full(steps, a.price)
                for a in assets
            ]
            return {"kind": "levels", "prices": np.column_stack(cols).ravel()}
        n = len(names)
        corr = np.eye(n) if self.corr is None else self.corr
        if corr.shape != (n, n):
            raise ScenarioError(f"corr must be {n}×{n} (one row per asset), got {corr.shape}")
        return {
            "kind": "diffusion",
            "mu": vec(self.mu, "mu"),
            "sigma": vec(self.sigma, "sigma"),
            "corr": np.ascontiguousarray(corr, dtype=np.float64).ravel(),
            "jump_intensity": vec(self.jump_intensity, "jump_intensity"),
            "jump_mean": vec(self.jump_mean, "jump_mean"),
            "jump_std": vec(self.jump_std, "jump_std"),
        }


_MAX_STEPS = 100_000_000


def _seconds(col: pl.Series, where: str) -> npt.NDArray[np.float64]:
    """A time column as seconds (datetimes from the epoch; numbers as they are)."""
    if col.dtype.is_temporal():
        if col.dtype == pl.Date:
            col = col.cast(pl.Datetime("ms"))
        return col.dt.epoch("ms").cast(pl.Float64).to_numpy() / 1000.0
    if col.dtype.is_numeric():
        out = col.cast(pl.Float64).to_numpy()
        if not np.all(np.isfinite(out)):
            raise ScenarioError(f"{where}: times must be finite")
        return out
    raise ScenarioError(f"{where}: times must be datetimes or seconds, got {col.dtype}")


def _short(v: object) -> str:
    """``repr`` of a value, cut to 60 characters for a message."""
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _per_asset(name: str, values: Any, *, low: float | None = None) -> dict[str, float]:
    """A mapping of asset names to finite numbers (at least ``low``), as plain floats."""
    if not isinstance(values, Mapping):
        raise ScenarioError(
            f"{name} must be a mapping of asset names to numbers, got {_short(values)}"
        )
    out = {}
    for k, v in values.items():
        if not isinstance(k, str):
            raise ScenarioError(f"{name} keys must be asset names, got {k!r}")
        out[k] = finite(f"{name}[{k!r}]", v, low=low)
    return out
