"""Checks every family's positions frame goes through: the columns are there, nothing is null,
names are known and numbers are finite and in range, each failure naming the protocol, the
column, the row and the account."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage.exceptions import ScenarioError

__all__ = ["known_names", "numbers", "positions_frame"]


def positions_frame(
    positions: object, where: str, columns: Sequence[str], *extra: pl.Expr
) -> pl.DataFrame:
    """The ``columns`` of ``positions`` (plus the ``extra`` expressions), checked to be a Polars
    frame holding them all, without nulls."""
    if not isinstance(positions, pl.DataFrame):
        raise ScenarioError(f"{where}: positions must be a Polars DataFrame")
    missing = [c for c in columns if c not in positions.columns]
    if missing:
        raise ScenarioError(
            f"{where}: positions lack column(s) {missing}; expected {list(columns)}"
        )
    df = positions.select(*columns, *extra)
    for col in df.columns:
        if df[col].null_count():
            i = int(df[col].is_null().arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: positions.{col} has a null (row {i})")
    return df


def known_names(df: pl.DataFrame, col: str, allowed: Sequence[str], where: str, what: str) -> None:
    """Every value of ``col`` is one of ``allowed`` (``what`` names one of them: "asset")."""
    bad = df.filter(~pl.col(col).cast(pl.String).is_in(list(allowed)))
    if bad.height:
        row = bad.row(0, named=True)
        raise ScenarioError(
            f"{where}: positions.{col} names unknown {what} {row[col]!r} (account "
            f"{row['account']!r}); expected one of {list(allowed)}"
        )


def numbers(
    df: pl.DataFrame,
    col: str,
    where: str,
    rule: str,
    ok: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.bool_]],
) -> None:
    """``col`` is numeric, finite and ``ok`` (``rule`` says how, e.g. ``">= 0"``) in every row."""
    try:
        v = df[col].cast(pl.Float64).to_numpy()
    except Exception as e:  # a string column, say
        raise ScenarioError(f"{where}: positions.{col} must be numeric ({e})") from None
    good = np.isfinite(v) & ok(v)
    if not good.all():
        i = int(np.flatnonzero(~good)[0])
        raise ScenarioError(
            f"{where}: positions.{col} must be finite and {rule}, got {v[i]} "
            f"(row {i}, account {df['account'][i]!r})"
        )
