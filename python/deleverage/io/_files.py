"""The vendor formats a scenario file names (``{ file = …, format = … }``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from deleverage.exceptions import ScenarioError
from deleverage.io.books import depth_levels, read_book_snapshots
from deleverage.io.positions import read_aave_v3, read_compound_v3, read_hyperliquid

if TYPE_CHECKING:
    pass


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
