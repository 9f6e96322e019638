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

from importlib import resources
from pathlib import Path

from deleverage.exceptions import ScenarioError
from deleverage.io.books import depth_levels, read_book_snapshots, read_depth
from deleverage.io.liquidations import (
    LIQUIDATION_COLUMNS,
    compare_liquidations,
    read_liquidations,
)
from deleverage.io.positions import (
    check_liquidation_prices,
    read_aave_v3,
    read_compound_v3,
    read_hyperliquid,
)
from deleverage.io.prices import read_marks

__all__ = [
    "LIQUIDATION_COLUMNS",
    "check_liquidation_prices",
    "compare_liquidations",
    "depth_levels",
    "read_aave_v3",
    "read_book_snapshots",
    "read_compound_v3",
    "read_depth",
    "read_hyperliquid",
    "read_liquidations",
    "read_marks",
    "sample",
]


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
