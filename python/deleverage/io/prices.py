"""Recorded price series (Binance klines, Tardis trades) for :meth:`Shock.replay
<deleverage.Shock.replay>`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from deleverage.exceptions import ScenarioError
from deleverage.io._read import (
    _columns,
    _csv,
    _duration,
    _epoch,
    _numbers,
    _one_symbol,
)

if TYPE_CHECKING:
    pass


_KLINES = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
]


def read_marks(
    path: str | Path,
    asset: str,
    format: Literal["binance_klines", "tardis_trades"] = "binance_klines",
    *,
    every: str | None = None,
    symbol: str | None = None,
) -> pl.DataFrame:
    """A recorded price series as the frame :meth:`Shock.replay <deleverage.Shock.replay>`
    takes: ``timestamp`` (UTC) and one column named ``asset``.

    - ``binance_klines``: Binance's kline CSV (``data.binance.vision``, or
      ``/fapi/v1/markPriceKlines`` written as CSV), with or without its header (open time in
      ms, open, high, low, close, volume, close time, …): the close of each kline at its close
      time plus 1 ms (the next open).
    - ``tardis_trades``: Tardis ``trades`` CSV (``exchange, symbol, timestamp, local_timestamp,
      id, side, price, amount``; timestamps in µs): every trade's price, or with ``every``
      (a Polars duration such as ``"1m"``) the last price of each interval.

    Examples
    --------
    >>> import deleverage as dl
    >>> marks = dl.io.read_marks(dl.io.sample("binance_klines.csv"), "ETH")
    >>> marks.columns, marks.height
    (['timestamp', 'ETH'], 6)
    """
    where = str(path)
    if format == "binance_klines":
        first = _csv(path, has_header=False, infer_schema=False, n_rows=1)
        header = first.row(0)[0] in ("open_time", "Open time", "open time")
        df = _csv(path, has_header=header, infer_schema=False)
        if not header:
            df = df.rename(dict(zip(df.columns, _KLINES[: df.width], strict=False)))
        df = df.rename({c: c.lower().replace(" ", "_") for c in df.columns})
        _columns(df, ["close_time", "close"], where)
        df = _numbers(df, ["close_time", "close"], where)
        bad = df["close"] <= 0
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: row {i}: close must be > 0, got {df['close'][i]}")
        # Binance's spot klines are in microseconds from 2025 on, in milliseconds before (and
        # on futures): a time past 1e14 is microseconds (1e14 ms is the year 5138).
        t = df["close_time"]
        odd = (t <= 0) | (t > 1e17)
        if odd.any():
            i = int(odd.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(
                f"{where}: row {i}: close_time is not a time since the epoch, got {t[i]}"
            )
        micro = bool((t > 1e14).all())
        if not micro and (t > 1e14).any():
            raise ScenarioError(f"{where}: close_time mixes milliseconds and microseconds")
        unit: Literal["us", "ms"] = "us" if micro else "ms"
        step = pl.duration(microseconds=1) if micro else pl.duration(milliseconds=1)
        return df.select(
            (_epoch("close_time", unit) + step).alias("timestamp"),
            pl.col("close").alias(asset),
        ).sort("timestamp")
    if format == "tardis_trades":
        df = _csv(path, infer_schema=False)
        _columns(df, ["timestamp", "price"], where)
        df = _one_symbol(df, symbol, where)
        df = _numbers(df, ["timestamp", "price"], where, positive=True)
        out = df.select(_epoch("timestamp", "us").alias("timestamp"), pl.col("price").alias(asset))
        out = out.sort("timestamp")
        if every is not None:
            every = _duration(every, "every")
            out = out.group_by_dynamic("timestamp", every=every, label="right").agg(
                pl.col(asset).last()
            )
        return out
    raise ScenarioError(f"format must be binance_klines or tardis_trades, got {format!r}")
