"""Order books from exchanges' REST depth snapshots and Tardis book snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from deleverage.exceptions import ScenarioError
from deleverage.io._read import (
    Source,
    _columns,
    _csv,
    _epoch,
    _json,
    _numbers,
    _one_symbol,
    _where,
)

if TYPE_CHECKING:
    from deleverage._core import OrderBook


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
