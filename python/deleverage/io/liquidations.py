"""Feeds of realised liquidations, and a run set beside one."""

from __future__ import annotations

from datetime import datetime
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
)

if TYPE_CHECKING:
    from deleverage.result import Result
    from deleverage.scenario import Scenario


LIQUIDATION_COLUMNS = ("timestamp", "symbol", "side", "price", "qty", "notional")


def read_liquidations(
    path: str | Path, format: Literal["tardis", "binance_force_order"] = "tardis"
) -> pl.DataFrame:
    """A feed of realised liquidations: ``timestamp`` (UTC), ``symbol``, ``side`` (``long``: a
    long position liquidated, its order a sell; ``short``: a buy), ``price``, ``qty``,
    ``notional`` (price × qty).

    - ``tardis``: Tardis ``liquidations`` CSV (``exchange, symbol, timestamp, local_timestamp,
      id, side, price, amount``; ``side`` is the liquidation order's: ``sell`` liquidates a
      long).
    - ``binance_force_order``: Binance's ``forceOrder`` stream as JSON lines
      (``{"e": "forceOrder", "E": …, "o": {"s", "S", "q", "p", "ap", "z", "T", …}}``): the
      filled quantity ``z`` at the average price ``ap``, at the trade time ``T`` (ms).

    Examples
    --------
    >>> import deleverage as dl
    >>> feed = dl.io.read_liquidations(dl.io.sample("tardis_liquidations.csv"))
    >>> feed["side"].to_list()[:2]
    ['long', 'long']
    """
    where = str(path)
    if format == "tardis":
        df = _csv(path, infer_schema=False)
        _columns(df, ["symbol", "timestamp", "side", "price", "amount"], where)
        df = _numbers(df, ["timestamp", "price", "amount"], where, positive=True)
        df = df.with_columns(pl.col("side").fill_null(""))
        side = pl.col("side").str.to_lowercase()
        bad = ~df["side"].str.to_lowercase().is_in(["buy", "sell"])
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(
                f"{where}: row {i}: side must be buy or sell, got {df['side'][i]!r}"
            )
        return df.select(
            _epoch("timestamp", "us").alias("timestamp"),
            "symbol",
            pl.when(side == "sell").then(pl.lit("long")).otherwise(pl.lit("short")).alias("side"),
            "price",
            pl.col("amount").alias("qty"),
            (pl.col("price") * pl.col("amount")).alias("notional"),
        ).sort("timestamp")
    if format == "binance_force_order":
        p = Path(path)
        if not p.is_file():
            raise ScenarioError(f"{p}: no such file")
        try:
            raw = pl.read_ndjson(p)
        except pl.exceptions.ComputeError as e:
            raise ScenarioError(f"{p}: not JSON lines ({e})") from None
        _columns(raw, ["o"], where)
        o = raw.select(pl.col("o").struct.unnest())
        _columns(o, ["s", "S", "ap", "z", "T"], where)
        o = _numbers(o, ["ap", "z", "T"], where, positive=True)
        o = o.with_columns(pl.col("S").cast(pl.String).fill_null(""))
        bad = ~o["S"].is_in(["BUY", "SELL"])
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: row {i}: o.S must be BUY or SELL, got {o['S'][i]!r}")
        return o.select(
            _epoch("T", "ms").alias("timestamp"),
            pl.col("s").alias("symbol"),
            pl.when(pl.col("S") == "SELL")
            .then(pl.lit("long"))
            .otherwise(pl.lit("short"))
            .alias("side"),
            pl.col("ap").alias("price"),
            pl.col("z").alias("qty"),
            (pl.col("ap") * pl.col("z")).alias("notional"),
        ).sort("timestamp")
    raise ScenarioError(f"format must be tardis or binance_force_order, got {format!r}")


def compare_liquidations(
    result: Result,
    feed: pl.DataFrame,
    *,
    asset: str,
    start: datetime,
    step_seconds: float,
    every: str = "1m",
    symbol: str | None = None,
    scenario: Scenario | None = None,
) -> pl.DataFrame:
    """A run's liquidations of ``asset`` beside a feed's (:func:`read_liquidations`), by time
    bucket (``every``, a Polars duration) and side: ``count`` and ``notional`` of each, and
    their differences. Step ``k`` of the run is at ``start + k·step_seconds`` (as
    :meth:`Shock.replay <deleverage.Shock.replay>` lays it). The run's side is the liquidated
    position's: a perp long's liquidation order or a lending liquidation of ``asset`` collateral
    is ``long``, a perp short's is ``short`` (the perp positions of ``scenario`` say which; without
    it, an order that moved the price up is a short's); its notional is the order's (the quote
    of the fill).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=300, steps=20),
    ...                   shock=dl.Shock.instant(ETH=-0.25))
    >>> feed = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)], "symbol": ["ETH"],
    ...                      "side": ["long"], "price": [2_300.0], "qty": [10.0],
    ...                      "notional": [23_000.0]})
    >>> cmp = dl.io.compare_liquidations(res, feed, asset="ETH",
    ...                                  start=datetime(2026, 1, 1, tzinfo=UTC), step_seconds=12)
    >>> cmp.columns[:4]
    ['bucket', 'side', 'engine_count', 'feed_count']
    """
    missing = [c for c in LIQUIDATION_COLUMNS if c not in feed.columns]
    if missing:
        raise ScenarioError(
            f"feed lacks column(s) {missing} (read it with dl.io.read_liquidations)"
        )
    every = _duration(every, "every")
    known = result.steps["asset"].cast(pl.String).unique().to_list()
    if asset not in known:
        raise ScenarioError(f"asset {asset!r} is not in the run; its assets are {sorted(known)}")
    if symbol is None and feed["symbol"].n_unique() > 1:
        raise ScenarioError(
            f"the feed holds several symbols {feed['symbol'].unique().sort().to_list()[:5]}; "
            "pass symbol="
        )
    if symbol is not None:
        feed = feed.filter(pl.col("symbol") == symbol)
    ev = result.events.with_columns(pl.col("kind").cast(pl.String), pl.col("asset").cast(pl.String))
    ev = ev.filter(pl.col("asset") == asset)
    lend = ev.filter(kind="liquidation").select("step", pl.lit("long").alias("side"), "notional")
    perp = ev.filter(kind="perp_liquidation")
    moved_up = pl.when(pl.col("price_after") > pl.col("price_before")).then(pl.lit("short"))
    if scenario is not None:
        perp = perp.join(_perp_sides(scenario), on=["account", "asset"], how="left")
        perp = perp.with_columns(pl.col("side").fill_null(moved_up.otherwise(pl.lit("long"))))
    else:
        perp = perp.with_columns(moved_up.otherwise(pl.lit("long")).alias("side"))
    perp = perp.select("step", "side", "notional")
    run = pl.concat([lend, perp]).with_columns(
        (pl.lit(start) + pl.duration(seconds=pl.col("step").cast(pl.Float64) * step_seconds))
        .dt.cast_time_unit("us")
        .alias("timestamp")
    )
    tz = feed["timestamp"].dtype
    run = run.with_columns(pl.col("timestamp").cast(tz)) if isinstance(tz, pl.Datetime) else run

    def bucket(df: pl.DataFrame, name: str) -> pl.DataFrame:
        return (
            df.with_columns(pl.col("timestamp").dt.truncate(every).alias("bucket"))
            .group_by("bucket", "side")
            .agg(
                pl.len().alias(f"{name}_count"), pl.col("notional").sum().alias(f"{name}_notional")
            )
        )

    e, f = (
        bucket(run.select("timestamp", "side", "notional"), "engine"),
        bucket(feed.select("timestamp", "side", "notional"), "feed"),
    )
    out = e.join(f, on=["bucket", "side"], how="full", coalesce=True).with_columns(
        pl.col("engine_count", "feed_count").fill_null(0).cast(pl.UInt32),
        pl.col("engine_notional", "feed_notional").fill_null(0.0),
    )
    return (
        out.with_columns(
            (pl.col("engine_count").cast(pl.Int64) - pl.col("feed_count").cast(pl.Int64)).alias(
                "count_diff"
            ),
            (pl.col("engine_notional") - pl.col("feed_notional")).alias("notional_diff"),
        )
        .select(
            "bucket",
            "side",
            "engine_count",
            "feed_count",
            "count_diff",
            "engine_notional",
            "feed_notional",
            "notional_diff",
        )
        .sort("bucket", "side")
    )


def _perp_sides(sc: Scenario) -> pl.DataFrame:
    from deleverage.perps import PerpExchange

    parts = [
        f.positions.select(
            pl.col("account").cast(pl.String),
            pl.col("market").cast(pl.String).alias("asset"),
            pl.when(pl.col("size") > 0)
            .then(pl.lit("long"))
            .otherwise(pl.lit("short"))
            .alias("side"),
        )
        for f in sc.families
        if isinstance(f.protocol, PerpExchange)
    ]
    if not parts:
        return pl.DataFrame(schema={"account": pl.String, "asset": pl.String, "side": pl.String})
    return pl.concat(parts).unique(["account", "asset"], keep="first")
