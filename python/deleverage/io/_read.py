"""Reading vendor files: the checks every loader of :mod:`deleverage.io` shares."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl

from deleverage.exceptions import ScenarioError

Source = str | Path | Mapping[str, Any]


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


def _whole_decimals(num: pl.DataFrame, raw: pl.DataFrame, where: str) -> None:
    """A token's ``decimals``: a whole number in [0, 36], the first row that is not named."""
    dec = num["decimals"]
    bad = (dec < 0) | (dec > 36) | (dec != dec.round(0))
    if bad.any():
        i = int(bad.arg_max())  # type: ignore[arg-type]
        raise ScenarioError(
            f"{where}: row {i}: decimals must be a whole number in [0, 36], "
            f"got {raw['decimals'][i]!r}"
        )


def _non_negative(num: pl.DataFrame, raw: pl.DataFrame, cols: Sequence[str], where: str) -> None:
    """The balances ``cols`` of ``num`` are >= 0; the first row that is not is named."""
    for c in cols:
        neg = num[c] < 0
        if neg.any():
            i = int(neg.arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: row {i}: {c} must be >= 0, got {raw[c][i]!r}")
