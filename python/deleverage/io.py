"""Real data in (issue 20): loaders for the formats risk teams hold, each returning what the
scenario API already takes, with the vendor's units converted. CSV and JSON-lines files are read
with Polars' readers, JSON documents with the standard library's ``json``; every malformed row is
named with the file, the row and the field in a :class:`~deleverage.ScenarioError`.

========================  ==================================================  ====================
loader                    reads                                               returns
========================  ==================================================  ====================
:func:`read_depth`        a REST depth snapshot: Binance ``{"bids": [["p",    an
                          "q"], …], "asks": …}``, Bybit ``{"result": {"b",    :class:`OrderBook`
                          "a"}}``, OKX ``{"data": [{"bids", "asks"}]}``, or
                          CCXT's ``fetch_order_book`` dict
:func:`read_book_snapshots`  Tardis CSV book snapshots: ``book_snapshot_25``   the frame of
                          wide rows (``asks[0].price``, ``asks[0].amount``,   :meth:`Scenario.
                          …) or long rows (``side,price,amount``)             with_book_snapshots`
:func:`read_marks`        Binance klines CSV (open time, OHLCV, …; mark- or   the frame of
                          last-price klines) or Tardis ``trades`` CSV         :meth:`Shock.replay`
:func:`read_liquidations` Tardis ``liquidations`` CSV or Binance              timestamp, symbol,
                          ``forceOrder`` JSON lines                           side, price, qty,
                                                                              notional
:func:`read_hyperliquid`  Hyperliquid ``clearinghouseState`` JSON per user    a perp positions
                                                                              frame
:func:`read_aave_v3`      Aave v3 subgraph ``userReserves`` (JSON or CSV)     a lending positions
                                                                              frame and reserves
:func:`read_compound_v3`  a Compound III (Comet) account export (CSV)         a lending positions
                                                                              frame and reserves
========================  ==================================================  ====================

:func:`compare_liquidations` sets a run's liquidations beside a feed's, by time bucket and side,
and :func:`check_liquidation_prices` the exchange's own liquidation prices beside the engine's.

Timestamps: Tardis and Binance give microseconds or milliseconds since the epoch; the loaders
return UTC datetimes. Sample files in each vendor's layout ship in ``deleverage/data/io/``
(generated, not recorded: each says so), and :func:`sample` gives their paths.

Examples
--------
>>> import deleverage as dl
>>> book = dl.io.read_depth(dl.io.sample("binance_depth.json"))
>>> book.best_bid, book.best_ask
(2999.5, 3000.5)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from deleverage.exceptions import ScenarioError

if TYPE_CHECKING:
    from deleverage._core import OrderBook
    from deleverage.lending import Reserve
    from deleverage.perps import PerpExchange
    from deleverage.result import Result
    from deleverage.scenario import Scenario

__all__ = [
    "check_liquidation_prices",
    "compare_liquidations",
    "read_aave_v3",
    "read_book_snapshots",
    "read_compound_v3",
    "read_depth",
    "read_hyperliquid",
    "read_liquidations",
    "read_marks",
    "sample",
]

Source = str | Path | Mapping[str, Any]


def sample(name: str) -> Path:
    """The path of a sample file shipped in ``deleverage/data/io/`` (generated in each vendor's
    layout; the file says so).

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.io.sample("binance_depth.json").name
    'binance_depth.json'
    """
    folder = resources.files("deleverage") / "data" / "io"
    path = Path(str(folder / name))
    if not path.is_file():
        known = sorted(p.name for p in Path(str(folder)).iterdir() if p.is_file())
        raise ScenarioError(f"no sample {name!r}; the samples are {known}")
    return path


# Reading ---------------------------------------------------------------------------------------


def _where(source: Source) -> str:
    return str(source) if isinstance(source, str | Path) else "the given dict"


def _json(source: Source) -> Any:
    """A JSON document, from a file (by Polars' reader of the text) or already a dict."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ScenarioError(
            f"{path}: not JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None


def _csv(path: str | Path, **kw: Any) -> pl.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"{p}: no such file")
    try:
        return pl.read_csv(p, comment_prefix="#", **kw)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
        raise ScenarioError(f"{p}: not a CSV file this loader reads ({e})") from None


def _numbers(
    df: pl.DataFrame, cols: Sequence[str], where: str, *, positive: bool = False
) -> pl.DataFrame:
    """The columns cast to floats; the first row that is not a finite number (or not > 0 with
    ``positive``) is named."""
    out = df.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).alias(c)
        for c in cols
    )
    for c in cols:
        bad = out[c].is_null() | ~out[c].is_finite()
        if positive:
            bad = bad | (out[c] <= 0)
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raw = df[c][i]
            row = df["row"][i] if "row" in df.columns else i
            need = "a positive number" if positive else "a finite number"
            raise ScenarioError(f"{where}: row {row}: {c} must be {need}, got {raw!r}")
    return out


def _one_symbol(df: pl.DataFrame, symbol: str | None, where: str) -> pl.DataFrame:
    """The rows of ``symbol``; a file of several symbols without one is refused."""
    if symbol is not None:
        _columns(df, ["symbol"], where)
        df = df.filter(pl.col("symbol") == symbol)
        if df.height == 0:
            raise ScenarioError(f"{where}: no rows of symbol {symbol!r}")
    elif "symbol" in df.columns and df["symbol"].n_unique() > 1:
        raise ScenarioError(
            f"{where}: rows of several symbols {df['symbol'].unique().sort().to_list()[:5]}; "
            "pass symbol="
        )
    return df


def _duration(every: str, name: str) -> str:
    """A Polars duration string, checked (``"1m"``, ``"30s"``, ``"1h"``)."""
    try:
        pl.select(pl.datetime(2026, 1, 1).dt.truncate(every))
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        raise ScenarioError(
            f"{name} must be a duration such as '1m', '30s' or '1h', got {every!r}"
        ) from None
    return every


def _columns(df: pl.DataFrame, cols: Sequence[str], where: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ScenarioError(f"{where}: missing column(s) {missing}; it has {df.columns}")


def _epoch(col: str, unit: Literal["us", "ms"]) -> pl.Expr:
    return pl.from_epoch(pl.col(col).cast(pl.Int64), time_unit=unit).dt.replace_time_zone("UTC")


# Order books -----------------------------------------------------------------------------------


DepthFormat = Literal["binance", "bybit", "okx", "ccxt"]


def _levels(rows: Any, side: str, where: str) -> pl.DataFrame:
    if not isinstance(rows, list) or not rows:
        raise ScenarioError(f"{where}: {side} must be a non-empty list of [price, quantity]")
    bad = next(
        (k for k, r in enumerate(rows) if not isinstance(r, list | tuple) or len(r) < 2), None
    )
    if bad is not None:
        raise ScenarioError(f"{where}: {side}[{bad}] must be [price, quantity], got {rows[bad]!r}")
    frame = pl.DataFrame(
        {"price": [r[0] for r in rows], "qty": [r[1] for r in rows]},
        schema={"price": pl.String, "qty": pl.String},
        strict=False,
    )
    return _numbers(frame, ["price", "qty"], f"{where}: {side}", positive=True)


def depth_levels(
    source: Source, format: DepthFormat = "binance"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The bid and ask levels (``price``, ``qty``) of a REST depth snapshot, best first.

    Examples
    --------
    >>> from deleverage.io import depth_levels
    >>> bids, asks = depth_levels({"bids": [[2999.5, 3.0]], "asks": [[3000.5, 2.0]]}, "ccxt")
    >>> bids.row(0), asks.row(0)
    ((2999.5, 3.0), (3000.5, 2.0))
    """
    where = _where(source)
    doc = _json(source)
    if not isinstance(doc, Mapping):
        raise ScenarioError(f"{where}: a depth snapshot is a JSON object, got {type(doc).__name__}")
    if format in ("binance", "ccxt"):
        bids, asks = doc.get("bids"), doc.get("asks")
    elif format == "bybit":
        res = doc.get("result", doc)
        if not isinstance(res, Mapping):
            raise ScenarioError(f"{where}: Bybit depth has a result object, got {res!r:.60}")
        bids, asks = res.get("b"), res.get("a")
    elif format == "okx":
        data = doc.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], Mapping):
            raise ScenarioError(f"{where}: OKX depth has a data list of book objects")
        bids, asks = data[0].get("bids"), data[0].get("asks")
    else:
        raise ScenarioError(f"format must be binance, bybit, okx or ccxt, got {format!r}")
    b = _levels(bids, "bids", where).sort("price", descending=True)
    a = _levels(asks, "asks", where).sort("price")
    if b["price"][0] >= a["price"][0]:
        raise ScenarioError(
            f"{where}: crossed book: best bid {b['price'][0]} >= best ask {a['price'][0]}"
        )
    return b, a


def read_depth(source: Source, format: DepthFormat = "binance", **book: Any) -> OrderBook:
    """An :class:`OrderBook` from a REST depth snapshot: Binance's ``/api/v3/depth`` (or futures
    ``/fapi/v1/depth``) JSON, Bybit's ``/v5/market/orderbook`` (``result.b``/``result.a``), OKX's
    ``/api/v5/market/books`` (``data[0].bids``; the extra fields of a level are ignored), or the
    dict CCXT's ``fetch_order_book`` returns (``bids``/``asks`` of ``[price, amount]``).
    Prices and quantities may be strings (exchanges) or numbers (CCXT). ``book`` goes to
    :meth:`OrderBook.from_levels` (``resilience_half_life``, ``permanent_impact``, …).

    Examples
    --------
    >>> import deleverage as dl
    >>> book = dl.io.read_depth({"result": {"b": [["99.5", "2"]], "a": [["100.5", "3"]]}},
    ...                         "bybit")
    >>> book.mid
    100.0
    """
    from deleverage._core import OrderBook

    b, a = depth_levels(source, format)
    return OrderBook.from_levels(
        b["price"].to_numpy(),
        b["qty"].to_numpy(),
        a["price"].to_numpy(),
        a["qty"].to_numpy(),
        **book,
    )


def read_book_snapshots(path: str | Path, *, symbol: str | None = None) -> pl.DataFrame:
    """Tardis book snapshots (CSV) as the frame :meth:`Scenario.with_book_snapshots
    <deleverage.Scenario.with_book_snapshots>` takes: ``timestamp`` (UTC), ``side`` (``bid`` /
    ``ask``), ``price``, ``qty``, one row per level. Either layout of Tardis' datasets:

    - wide, ``book_snapshot_25`` / ``book_snapshot_5``: ``exchange, symbol, timestamp,
      local_timestamp, asks[0].price, asks[0].amount, bids[0].price, bids[0].amount, …``;
    - long, ``incremental_book_L2`` rows with ``is_snapshot`` true (or rows without that column):
      ``exchange, symbol, timestamp, local_timestamp, side, price, amount``; ``side`` ``bid``
      or ``ask`` (``buy``/``sell`` accepted); a level of amount 0 is left out.

    ``timestamp`` is microseconds since the epoch (Tardis' exchange time). ``symbol`` keeps one
    symbol's rows when the file holds several.

    Examples
    --------
    >>> import deleverage as dl
    >>> snaps = dl.io.read_book_snapshots(dl.io.sample("tardis_book_snapshot_5.csv"))
    >>> snaps.columns, snaps["timestamp"].n_unique()
    (['timestamp', 'side', 'price', 'qty'], 3)
    """
    where = str(path)
    df = _csv(path, infer_schema=False)
    _columns(df, ["timestamp"], where)
    df = df.with_row_index("row")  # the file's data row, for errors
    df = _one_symbol(df, symbol, where)
    wide = [c for c in df.columns if c.startswith(("bids[", "asks["))]
    if wide:
        # Checked in the file's own columns, so that an error names its row and field; an
        # empty level (a book thinner than its N) is left out.
        filled = [c for c in wide if df[c].drop_nulls().len()]
        probe = df.select("row", *(pl.col(c).fill_null("0") for c in filled))
        _numbers(probe, filled, where)
        parts = []
        for c in wide:
            if not c.endswith(".price"):
                continue
            label = "bid" if c.startswith("bids") else "ask"
            amount = c.removesuffix(".price") + ".amount"
            _columns(df, [amount], where)
            parts.append(
                df.select(
                    "row",
                    "timestamp",
                    pl.lit(label).alias("side"),
                    pl.col(c).alias("price"),
                    pl.col(amount).alias("amount"),
                )
            )
        long = pl.concat(parts).filter(pl.col("price").is_not_null() & (pl.col("price") != ""))
    else:
        _columns(df, ["side", "price", "amount"], where)
        if "is_snapshot" in df.columns:
            df = df.filter(pl.col("is_snapshot").str.to_lowercase() == "true")
        side = (
            pl.col("side").fill_null("").str.to_lowercase().replace({"buy": "bid", "sell": "ask"})
        )
        long = df.select("row", "timestamp", side.alias("side"), "price", "amount")
        bad = ~long["side"].is_in(["bid", "ask"])
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(
                f"{where}: row {long['row'][i]}: side must be bid or ask, got {long['side'][i]!r}"
            )
    long = _numbers(long, ["timestamp", "price", "amount"], where)
    neg = (long["price"] <= 0) | (long["amount"] < 0)
    if neg.any():
        i = int(neg.arg_max())  # type: ignore[arg-type]
        raise ScenarioError(
            f"{where}: row {long['row'][i]}: a level needs price > 0 and amount >= 0, got "
            f"{long['price'][i]} and {long['amount'][i]}"
        )
    return (
        long.filter(pl.col("amount") > 0)
        .with_columns(pl.col("timestamp").cast(pl.Int64))
        .select(
            _epoch("timestamp", "us").alias("timestamp"),
            "side",
            "price",
            pl.col("amount").alias("qty"),
        )
        .sort("timestamp", "side", "price", descending=[False, False, False])
    )


# Prices ----------------------------------------------------------------------------------------

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


# Liquidations ----------------------------------------------------------------------------------

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


# Positions -------------------------------------------------------------------------------------


def read_hyperliquid(
    source: Source, *, market: str = "{coin}-PERP"
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Hyperliquid ``clearinghouseState`` answers (``POST /info {"type": "clearinghouseState",
    "user": …}``), a JSON object mapping each user to its answer, as a perp positions frame
    (``account``, ``market`` (``market`` formatted with the coin), ``size`` (``szi``, signed),
    ``entry_price``, ``margin``, ``mode``, and the exchange's own ``liquidation_px``), and each
    coin's ``maxLeverage`` (for :meth:`Brackets.hyperliquid <deleverage.Brackets.hyperliquid>`).

    Margin, in the engine's convention (a wallet without unrealised PnL): a cross account's
    wallet is its ``crossMarginSummary.accountValue`` less the unrealised PnL of its cross
    positions, put on its first cross row (the engine sums a cross account's rows); an isolated
    position's is its ``marginUsed`` less its ``unrealizedPnl``.

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, lev = dl.io.read_hyperliquid(dl.io.sample("hyperliquid_clearinghouse.json"))
    >>> pos.select("account", "market", "size", "mode").rows()[0]
    ('0x1111111111111111111111111111111111111111', 'ETH-PERP', 2.0, 'cross')
    """
    where = _where(source)
    if not isinstance(source, str | Path | Mapping):
        raise ScenarioError(
            f"expected a file or a dict of users to clearinghouseState, got {type(source).__name__}"
        )
    doc = _json(source)
    if not isinstance(doc, Mapping) or not doc:
        raise ScenarioError(f"{where}: expected an object mapping users to clearinghouseState")
    rows: list[dict[str, Any]] = []
    leverage: dict[str, float] = {}
    for user, state in doc.items():
        if user.startswith("_"):
            continue  # a comment field of the sample
        w = f"{where}: user {user}"
        if not isinstance(state, Mapping) or "assetPositions" not in state:
            raise ScenarioError(f"{w}: not a clearinghouseState (no assetPositions)")
        cross_upnl = 0.0
        first_cross = None
        for k, ap in enumerate(state["assetPositions"]):
            p = ap.get("position") if isinstance(ap, Mapping) else None
            if not isinstance(p, Mapping):
                raise ScenarioError(f"{w}: assetPositions[{k}] has no position")
            f = f"{w}: assetPositions[{k}].position"
            try:
                size = float(p["szi"])
                entry = float(p["entryPx"])
                upnl = float(p.get("unrealizedPnl", 0.0))
                used = float(p.get("marginUsed", 0.0))
                lev = p["leverage"]
                kind = lev["type"]
                coin = p["coin"]
                lp = p.get("liquidationPx")
                lp = None if lp in (None, "") else float(lp)
                max_lev = float(p["maxLeverage"]) if "maxLeverage" in p else None
            except (KeyError, TypeError, ValueError) as e:
                raise ScenarioError(f"{f}: missing or bad field ({e})") from None
            for name, v in (("szi", size), ("unrealizedPnl", upnl), ("marginUsed", used),
                            ("liquidationPx", lp if lp is not None else 0.0),
                            ("maxLeverage", max_lev if max_lev is not None else 1.0)):  # fmt: skip
                if not np.isfinite(v):
                    raise ScenarioError(f"{f}.{name} must be a finite number, got {v!r}")
            if not isinstance(coin, str) or not coin:
                raise ScenarioError(f"{f}.coin must be a coin's name, got {coin!r}")
            if size == 0:
                continue
            if not (np.isfinite(entry) and entry > 0):
                raise ScenarioError(f"{f}.entryPx must be a positive number, got {p['entryPx']!r}")
            if kind not in ("cross", "isolated"):
                raise ScenarioError(f"{f}.leverage.type must be cross or isolated, got {kind!r}")
            if max_lev is not None:
                leverage[market.format(coin=coin)] = max_lev
            row = {
                "account": user,
                "market": market.format(coin=coin),
                "size": size,
                "entry_price": entry,
                "margin": 0.0,
                "mode": kind,
                "liquidation_px": lp,
            }
            if kind == "cross":
                cross_upnl += upnl
                if first_cross is None:
                    first_cross = len(rows)
            else:
                row["margin"] = used - upnl
            rows.append(row)
        if first_cross is not None:
            try:
                value = float(state["crossMarginSummary"]["accountValue"])
            except (KeyError, TypeError, ValueError) as e:
                raise ScenarioError(f"{w}: crossMarginSummary.accountValue missing ({e})") from None
            if not np.isfinite(value):
                raise ScenarioError(
                    f"{w}: crossMarginSummary.accountValue must be finite, got {value}"
                )
            rows[first_cross]["margin"] = value - cross_upnl
    if not rows:
        raise ScenarioError(f"{where}: no open position")
    frame = pl.DataFrame(
        rows,
        schema={
            "account": pl.String,
            "market": pl.String,
            "size": pl.Float64,
            "entry_price": pl.Float64,
            "margin": pl.Float64,
            "mode": pl.String,
            "liquidation_px": pl.Float64,
        },
    )
    neg = frame.filter(pl.col("margin") < 0)
    if neg.height:
        acc, m, v = neg.select("account", "market", "margin").row(0)
        raise ScenarioError(f"{where}: user {acc} {m}: its margin comes out negative ({v})")
    return frame, leverage


def check_liquidation_prices(
    exchange: PerpExchange, positions: pl.DataFrame, prices: Mapping[str, float]
) -> pl.DataFrame:
    """The exchange's own liquidation price of each position (``liquidation_px``, as
    :func:`read_hyperliquid` reads it) beside the engine's at ``prices`` (asset → mark), and
    their difference (absolute and relative to the engine's).

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, lev = dl.io.read_hyperliquid(dl.io.sample("hyperliquid_clearinghouse.json"))
    >>> ex = dl.PerpExchange([dl.PerpMarket(m, dl.Brackets.hyperliquid(v)) for m, v in lev.items()])
    >>> chk = dl.io.check_liquidation_prices(ex, pos, {"ETH-PERP": 3_000.0, "BTC-PERP": 60_000.0})
    >>> chk.columns[-3:]
    ['engine_liquidation_px', 'difference', 'relative_difference']
    """
    from deleverage.engine import Engine
    from deleverage.market import Asset
    from deleverage.scenario import Scenario

    if "liquidation_px" not in positions.columns:
        raise ScenarioError("positions lack liquidation_px (read them with dl.io.read_hyperliquid)")
    missing = [a for a in exchange.assets if a not in prices]
    if missing:
        raise ScenarioError(f"prices lack the market(s) {missing}")
    sc = Scenario(assets=[Asset(a, float(prices[a])) for a in exchange.assets]).add_perps(
        exchange, positions
    )
    st = Engine(sc).state().positions
    return positions.with_columns(
        st["liquidation_price"].alias("engine_liquidation_px")
    ).with_columns(
        (pl.col("liquidation_px") - pl.col("engine_liquidation_px")).alias("difference"),
        (
            (pl.col("liquidation_px") - pl.col("engine_liquidation_px"))
            / pl.col("engine_liquidation_px")
        ).alias("relative_difference"),
    )


_AAVE_FIELDS = (
    "user",
    "symbol",
    "decimals",
    "currentATokenBalance",
    "currentVariableDebt",
    "currentStableDebt",
    "reserveLiquidationThreshold",
    "reserveLiquidationBonus",
)


def read_aave_v3(path: Source) -> tuple[pl.DataFrame, dict[str, Reserve]]:
    """Aave v3 ``userReserves`` from the subgraph as lending positions and reserves.

    Either the GraphQL answer as JSON (``{"data": {"userReserves": [{"user": {"id"},
    "reserve": {"symbol", "decimals", "reserveLiquidationThreshold", "reserveLiquidationBonus"},
    "currentATokenBalance", "currentVariableDebt", "currentStableDebt",
    "usageAsCollateralEnabledOnUser"}, …]}}``) or its flat CSV (columns ``user, symbol,
    decimals, currentATokenBalance, currentVariableDebt, currentStableDebt,
    reserveLiquidationThreshold, reserveLiquidationBonus[, usageAsCollateralEnabledOnUser]``).

    Units converted: balances are integers in the token's smallest unit (divided by
    10^decimals; as floats, about 16 significant digits); thresholds and bonuses in basis points
    (LT 8250 → 0.825; bonus 10500 → 0.05, the bonus over par). A supply the user does not use as
    collateral is left out (it cannot be seized). Returns the positions frame (``account``,
    ``collateral_asset``, ``collateral``, ``debt_asset``, ``debt``: one row per user and reserve)
    and a :class:`Reserve` per symbol for :meth:`Lending.aave_v3 <deleverage.Lending.aave_v3>`.

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, reserves = dl.io.read_aave_v3(dl.io.sample("aave_v3_user_reserves.json"))
    >>> reserves["WETH"].liquidation_threshold, round(reserves["WETH"].liquidation_bonus, 10)
    (0.83, 0.05)
    """
    from deleverage.lending import Reserve

    where = _where(path)
    if isinstance(path, Mapping) or str(path).endswith(".json"):
        doc = _json(path)
        try:
            items = doc["data"]["userReserves"]
        except (KeyError, TypeError):
            raise ScenarioError(
                f"{where}: expected {{'data': {{'userReserves': [...]}}}}"
            ) from None
        if not isinstance(items, list):
            raise ScenarioError(f"{where}: data.userReserves must be a list")

        def flat(k: int, it: Any) -> dict[str, Any]:
            if not isinstance(it, Mapping) or not isinstance(it.get("reserve"), Mapping):
                raise ScenarioError(f"{where}: userReserves[{k}] has no reserve object")
            user = it.get("user")
            own = ("currentATokenBalance", "currentVariableDebt", "currentStableDebt",
                   "usageAsCollateralEnabledOnUser")  # fmt: skip
            of_reserve = ("symbol", "decimals", "reserveLiquidationThreshold",
                          "reserveLiquidationBonus")  # fmt: skip
            row = {f: it.get(f) for f in own} | {f: it["reserve"].get(f) for f in of_reserve}
            row["user"] = user.get("id") if isinstance(user, Mapping) else user
            # Big integers may come as JSON numbers: as text, like the subgraph's strings.
            return {k2: None if v is None else str(v) for k2, v in row.items()}

        try:
            raw = pl.DataFrame(
                [flat(k, it) for k, it in enumerate(items)], infer_schema_length=None
            )
        except (pl.exceptions.PolarsError, TypeError) as e:
            raise ScenarioError(
                f"{where}: userReserves do not have the subgraph's fields ({e})"
            ) from None
    else:
        raw = _csv(path, infer_schema=False)
    _columns(raw, list(_AAVE_FIELDS), where)
    raw = raw.with_row_index("row").with_columns(pl.col(c).cast(pl.String) for c in _AAVE_FIELDS)
    num = _numbers(raw, [c for c in _AAVE_FIELDS if c not in ("user", "symbol")], where)
    for c in ("currentATokenBalance", "currentVariableDebt", "currentStableDebt"):
        neg = num[c] < 0
        if neg.any():
            i = int(neg.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: row {i}: {c} must be >= 0, got {raw[c][i]!r}")
    dec = num["decimals"]
    bad = (dec < 0) | (dec > 36) | (dec != dec.round(0))
    if bad.any():
        i = int(bad.arg_max())  # type: ignore[arg-type]
        raise ScenarioError(
            f"{where}: row {i}: decimals must be a whole number in [0, 36], "
            f"got {raw['decimals'][i]!r}"
        )
    # Aave enables a first supply as collateral: a flag the file does not give counts as on.
    collateral_on = pl.lit(True)
    if "usageAsCollateralEnabledOnUser" in num.columns:
        flag = pl.col("usageAsCollateralEnabledOnUser").cast(pl.String).str.to_lowercase()
        collateral_on = flag.is_null() | (flag == "true")
    scale = pl.lit(10.0).pow(pl.col("decimals"))
    positions = num.select(
        pl.col("user").alias("account"),
        pl.col("symbol").alias("collateral_asset"),
        pl.when(collateral_on)
        .then(pl.col("currentATokenBalance") / scale)
        .otherwise(0.0)
        .alias("collateral"),
        pl.col("symbol").alias("debt_asset"),
        ((pl.col("currentVariableDebt") + pl.col("currentStableDebt")) / scale).alias("debt"),
    ).filter((pl.col("collateral") > 0) | (pl.col("debt") > 0))
    reserves: dict[str, Reserve] = {}
    params = num.select("symbol", "reserveLiquidationThreshold", "reserveLiquidationBonus").unique(
        "symbol", keep="first", maintain_order=True
    )
    for sym, lt, bonus in params.iter_rows():
        if lt == 0:
            continue  # not collateral: no reserve of its own needed
        if not (1 <= lt <= 10_000 and 10_000 <= bonus <= 20_000):
            raise ScenarioError(
                f"{where}: reserve {sym}: reserveLiquidationThreshold {lt:g} and "
                f"reserveLiquidationBonus {bonus:g} must be basis points (LT in [1, 10000], "
                "the bonus over par in [10000, 20000], e.g. 8300 and 10500)"
            )
        reserves[sym] = Reserve(lt / 10_000, (bonus - 10_000) / 10_000)
    twice = (
        num.group_by("symbol")
        .agg(
            pl.col("reserveLiquidationThreshold").n_unique().alias("lt"),
            pl.col("reserveLiquidationBonus").n_unique().alias("bonus"),
        )
        .filter((pl.col("lt") > 1) | (pl.col("bonus") > 1))
    )
    if twice.height:
        raise ScenarioError(
            f"{where}: reserve {twice['symbol'][0]} has different parameters on different rows"
        )
    return positions, reserves


# Scenario files --------------------------------------------------------------------------------

#: ``positions = { file = …, format = … }`` in a scenario file: the formats and their families.
POSITION_FORMATS = {
    "frame": None,
    "aave_v3_subgraph": "lending",
    "compound_v3_export": "lending",
    "hyperliquid": "perps",
}
#: ``format = …`` of a ``kind = "book"`` venue in a scenario file.
BOOK_FORMATS = ("levels", "binance_depth", "bybit_depth", "okx_depth", "ccxt_depth",
                "tardis_snapshot")  # fmt: skip


def _positions_from_toml(
    value: Any, place: Any, base: Path, family: str, base_asset: str | None = None
) -> pl.DataFrame:
    """The positions a scenario file's ``positions`` names: a side file (Parquet or CSV in the
    family's own columns), or ``{ file = …, format = … }`` in a vendor's format."""
    from deleverage._checks import get_str, read_frame, table

    if isinstance(value, str):
        return read_frame(base / value, place)
    t = table(value, place, {"file", "format"})
    fmt = get_str(t, "format", place, "frame")
    if fmt not in POSITION_FORMATS:
        raise (place / "format").error(f"expected one of {sorted(POSITION_FORMATS)}, got {fmt!r}")
    want = POSITION_FORMATS[fmt]
    if want is not None and want != family:
        raise (place / "format").error(f"{fmt!r} holds {want} positions, not {family}")
    path = base / get_str(t, "file", place)
    if fmt == "frame":
        return read_frame(path, place / "file")
    try:
        if fmt == "aave_v3_subgraph":
            return read_aave_v3(path)[0]
        if fmt == "compound_v3_export":
            if base_asset is None:
                raise (place / "format").error("compound_v3_export needs a compound_v3 protocol")
            return read_compound_v3(path, base_asset)[0]
        return read_hyperliquid(path)[0].drop("liquidation_px")
    except ScenarioError as e:
        raise (place / "file").error(str(e)) from None


def _levels_from_toml(path: Path, fmt: str, place: Any) -> pl.DataFrame:
    """A ``kind = "book"`` venue's levels (``side``, ``price``, ``qty``) from its file."""
    from deleverage._checks import read_frame

    if fmt not in BOOK_FORMATS:
        raise (place / "format").error(f"expected one of {list(BOOK_FORMATS)}, got {fmt!r}")
    if fmt == "levels":
        return read_frame(path, place / "file")
    try:
        if fmt == "tardis_snapshot":
            snaps = read_book_snapshots(path)
            first = snaps.filter(pl.col("timestamp") == pl.col("timestamp").min())
            bids = first.filter(side="bid").sort("price", descending=True)
            asks = first.filter(side="ask").sort("price")
            return pl.concat([bids, asks]).drop("timestamp")
        depth_fmt = fmt.removesuffix("_depth")
        bids, asks = depth_levels(path, depth_fmt)  # type: ignore[arg-type]
    except ScenarioError as e:
        raise (place / "file").error(str(e)) from None
    return pl.concat(
        [bids.select(pl.lit("bid").alias("side"), "price", "qty"),
         asks.select(pl.lit("ask").alias("side"), "price", "qty")]
    )  # fmt: skip


_COMET_FIELDS = ("account", "asset", "decimals", "collateralBalance", "borrowBalance",
                 "liquidateCollateralFactor", "liquidationFactor")  # fmt: skip


def read_compound_v3(path: str | Path, base: str) -> tuple[pl.DataFrame, dict[str, Reserve]]:
    """A Compound III (Comet) account export as lending positions and reserves for
    :meth:`Lending.compound_v3 <deleverage.Lending.compound_v3>`.

    The export is a CSV of what the Comet contract answers, one row per account and asset:
    ``account, asset, decimals, collateralBalance, borrowBalance, liquidateCollateralFactor,
    liquidationFactor``. Collateral rows carry ``collateralBalanceOf(account, asset)``, the base
    asset's row (``asset == base``) carries ``borrowBalanceOf(account)`` (the present value of
    the borrow, interest included), both in the token's smallest unit; the factors are
    ``getAssetInfoByAddress(asset)``'s, scaled by 1e18 (0.83 is ``830000000000000000``).

    Units converted: balances divided by 10^decimals; factors divided by 1e18. Returns the
    positions (``account``, ``collateral_asset``, ``collateral``, ``debt_asset``, ``debt``) and a
    :class:`Reserve` per collateral asset (``liquidation_threshold`` =
    ``liquidateCollateralFactor``, ``liquidation_factor`` = ``liquidationFactor``).

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, reserves = dl.io.read_compound_v3(dl.io.sample("compound_v3_accounts.csv"), "USDC")
    >>> reserves["WETH"].liquidation_threshold, reserves["WETH"].liquidation_factor
    (0.83, 0.93)
    """
    from deleverage.lending import Reserve

    where = str(path)
    raw = _csv(path, infer_schema=False)
    _columns(raw, list(_COMET_FIELDS), where)
    raw = raw.with_columns(pl.col(c).fill_null("0") for c in _COMET_FIELDS[3:])
    num = _numbers(raw, list(_COMET_FIELDS[2:]), where)
    for c in ("collateralBalance", "borrowBalance"):
        neg = num[c] < 0
        if neg.any():
            i = int(neg.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: row {i}: {c} must be >= 0, got {raw[c][i]!r}")
    dec = num["decimals"]
    bad = (dec < 0) | (dec > 36) | (dec != dec.round(0))
    if bad.any():
        i = int(bad.arg_max())  # type: ignore[arg-type]
        raise ScenarioError(
            f"{where}: row {i}: decimals must be a whole number in [0, 36], "
            f"got {raw['decimals'][i]!r}"
        )
    twice = num.filter(pl.struct("account", "asset").is_duplicated())
    if twice.height:
        acc, asset = twice.select("account", "asset").row(0)
        raise ScenarioError(f"{where}: account {acc!r} has two rows of {asset!r}")
    is_base = pl.col("asset") == base
    for c in ("liquidateCollateralFactor", "liquidationFactor"):
        small = num.filter(~is_base & (pl.col(c) > 0) & (pl.col(c) < 1e9))
        if small.height:
            raise ScenarioError(
                f"{where}: {c} of {small['asset'][0]!r} is {small[c][0]:g}; the contract's factors "
                "are scaled by 1e18 (0.83 is 830000000000000000)"
            )
    odd = num.filter(~is_base & (pl.col("borrowBalance") > 0))
    if odd.height:
        acc, asset = odd.select("account", "asset").row(0)
        raise ScenarioError(
            f"{where}: account {acc!r} borrows {asset!r}; a Comet market lends its base "
            f"{base!r} only"
        )
    scale = pl.lit(10.0).pow(pl.col("decimals"))
    positions = num.select(
        "account",
        pl.col("asset").alias("collateral_asset"),
        pl.when(is_base).then(0.0).otherwise(pl.col("collateralBalance") / scale)
        .alias("collateral"),
        pl.lit(base).alias("debt_asset"),
        pl.when(is_base).then(pl.col("borrowBalance") / scale).otherwise(0.0).alias("debt"),
    ).filter((pl.col("collateral") > 0) | (pl.col("debt") > 0))  # fmt: skip
    # A base row's collateral_asset is the base, which a Comet market cannot take as
    # collateral: its collateral is 0, so it names one of the account's own collateral assets
    # (or any of the market's).
    real = pl.col("collateral_asset").filter(pl.col("collateral_asset") != base)
    positions = positions.with_columns(
        pl.when(pl.col("collateral_asset") == base)
        .then(real.first().over("account").fill_null(real.first()))
        .otherwise(pl.col("collateral_asset"))
        .alias("collateral_asset")
    )
    if positions["collateral_asset"].is_null().any():
        raise ScenarioError(
            f"{where}: accounts borrow {base!r} but no row names a collateral asset"
        )
    reserves: dict[str, Reserve] = {}
    params = num.filter(~is_base).unique("asset", keep="first", maintain_order=True)
    for a, lcf, lf in params.select(
        "asset", "liquidateCollateralFactor", "liquidationFactor"
    ).iter_rows():
        reserves[a] = Reserve(lcf / 1e18, liquidation_factor=lf / 1e18)
    return positions, reserves
