"""The checks every part of a scenario goes through, in one place (private: the public
classes call them).

- Values: :func:`finite` and :func:`whole` numbers, non-empty :func:`items` lists of one class,
  a protocol's :func:`protocol_name`.
- Positions frames, which every family's go through: the columns are there, nothing is null
  (:func:`positions_frame`), names are known (:func:`known_names`) and numbers are finite and in
  range (:func:`numbers`), each failure naming the protocol, the column, the row and the account.
- Scenario-file tables, which every part reads its own of: a :class:`Place` in the file names
  each error; :func:`table` checks the keys, ``get_*`` read one key of the expected type,
  :func:`read_frame` a side file, and :func:`wrap` names the table in a constructor's errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core
from deleverage.exceptions import ScenarioError

__all__ = [
    "Place",
    "finite",
    "get_int",
    "get_num",
    "get_num_list",
    "get_opt_num",
    "get_str",
    "items",
    "known_names",
    "named_table",
    "numbers",
    "positions_frame",
    "protocol_name",
    "read_frame",
    "table",
    "whole",
    "wrap",
]


def finite(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """``value`` as a finite float, at least ``low`` (above it if ``low_open``) and at most
    ``high``; ``name`` starts the error message. A string or a bool is not a number, even one
    that ``float`` would read."""
    if isinstance(value, str | bytes | bool | np.bool_):
        raise ScenarioError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ScenarioError(f"{name} must be a finite number, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ScenarioError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and v > high:
        raise ScenarioError(f"{name} must be <= {high}, got {v}")
    return v


def items(value: Any, kind: type, where: str, what: str) -> tuple[Any, ...]:
    """``value`` as a non-empty tuple of ``kind`` (a list of them, not one alone)."""
    if isinstance(value, kind) or not isinstance(value, Sequence) or isinstance(value, str):
        raise ScenarioError(
            f"{where}{what} must be a list of {kind.__name__}, got {type(value).__name__}"
        )
    out = tuple(value)
    if not out:
        raise ScenarioError(f"{where}{what} must not be empty")
    for i, x in enumerate(out):
        if not isinstance(x, kind):
            raise ScenarioError(
                f"{where}{what}[{i}] must be a deleverage.{kind.__name__}, got {type(x).__name__}"
            )
    return out


def protocol_name(cls: str, value: Any) -> str:
    """A protocol's name: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{cls} name must be a non-empty string, got {value!r}")
    return value


def whole(name: str, value: Any, *, low: int) -> int:
    """A whole number >= ``low`` (numpy integers included), as a plain ``int``."""
    is_whole = isinstance(value, int | np.integer) or (
        isinstance(value, float | np.floating) and float(value).is_integer()
    )
    if isinstance(value, bool | np.bool_) or not is_whole:
        raise ScenarioError(f"{name} must be a whole number >= {low}, got {value!r}")
    v = int(value)
    if v < low:
        raise ScenarioError(f"{name} must be a whole number >= {low}, got {v}")
    return v


def positions_frame(
    positions: object, where: str, columns: Sequence[str], *extra: pl.Expr
) -> pl.DataFrame:
    """The ``columns`` of ``positions`` (plus the ``extra`` expressions, and its optional
    ``owner`` column: the entity an account belongs to across protocols, one per account),
    checked to be a Polars frame holding them all, without nulls."""
    if not isinstance(positions, pl.DataFrame):
        raise ScenarioError(f"{where}: positions must be a Polars DataFrame")
    missing = [c for c in columns if c not in positions.columns]
    if missing:
        raise ScenarioError(
            f"{where}: positions lack column(s) {missing}; expected {list(columns)}"
        )
    owner = ["owner"] if "owner" in positions.columns else []
    df = positions.select(*columns, *extra, *owner)
    for col in df.columns:
        if df[col].null_count():
            i = int(df[col].is_null().arg_max())  # type: ignore[arg-type]
            raise ScenarioError(f"{where}: positions.{col} has a null (row {i})")
    if owner:
        two = (
            df.group_by("account", maintain_order=True)
            .agg(pl.col("owner").unique(maintain_order=True))
            .filter(pl.col("owner").list.len() > 1)
        )
        if two.height:
            acc, owners = two.row(0)
            raise ScenarioError(
                f"{where}: positions.owner gives account {acc!r} two owners "
                f"{owners[:2]}; an account belongs to one owner"
            )
    return df


def unique_rows(
    df: pl.DataFrame, keys: Sequence[str], where: str, rule: str, only: pl.Expr | None = None
) -> None:
    """No two rows (among those ``only`` keeps) share ``keys``; the first pair that does is
    named, with its key values and rows."""
    rows = df.with_row_index("_row")
    if only is not None:
        rows = rows.filter(only)
    dup = (
        rows.group_by(keys, maintain_order=True)
        .agg(pl.col("_row"))
        .filter(pl.col("_row").list.len() > 1)
    )
    if dup.height:
        first = dup.row(0, named=True)
        named = ", ".join(f"{k} {first[k]!r}" for k in keys)
        a, b = first["_row"][:2]
        raise ScenarioError(f"{where}: rows {a} and {b} are both {named}: {rule}")


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
    dtype = df.schema[col]
    if not dtype.is_numeric():
        # A column of strings, even of digits, is a wrong export, not numbers.
        raise ScenarioError(f"{where}: positions.{col} must be numeric, got a {dtype} column")
    v = df[col].cast(pl.Float64).to_numpy()
    good = np.isfinite(v) & ok(v)
    if not good.all():
        i = int(np.flatnonzero(~good)[0])
        raise ScenarioError(
            f"{where}: positions.{col} must be finite and {rule}, got {v[i]} "
            f"(row {i}, account {df['account'][i]!r})"
        )


def returns(name: str, values: Any) -> npt.NDArray[np.float64]:
    """``values`` as a non-empty 1-D array of simple returns: finite and above −1."""
    if isinstance(values, str | bytes):
        raise ScenarioError(f"{name} must be a list of returns, got {values!r}")
    try:
        arr = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        shown = repr(values) if len(repr(values)) <= 60 else repr(values)[:57] + "..."
        raise ScenarioError(f"{name} must be a list of returns (numbers), got {shown}") from None
    if arr.size == 0:
        raise ScenarioError(f"{name} must not be empty")
    bad = ~np.isfinite(arr) | (arr <= -1.0)
    if bad.any():
        raise ScenarioError(f"{name} must be finite returns > -1, got {arr[bad][0]}")
    return arr


# Scenario-file tables: each part of a scenario reads its own with these.


class Place:
    """Where in the file a value sits, for error messages."""

    def __init__(self, file: str, path: str = "") -> None:
        self.file, self.path = file, path

    def __truediv__(self, key: str | int) -> Place:
        if isinstance(key, int):
            return Place(self.file, f"{self.path}[{key}]")
        return Place(self.file, f"{self.path}.{key}" if self.path else key)

    def error(self, msg: str) -> ScenarioError:
        """``file: place: msg``, the one format of file errors."""
        err = ScenarioError(f"{self.file}: {self.path or 'top level'}: {msg}")
        err._placed = True  # type: ignore[attr-defined]
        return err


def table(v: Any, place: Place, allowed: set[str]) -> dict[str, Any]:
    """``v`` as a table whose keys are all ``allowed``."""
    if not isinstance(v, dict):
        raise place.error(f"expected a table, got {type(v).__name__}")
    unknown = sorted(set(v) - allowed)
    if unknown:
        raise (place / unknown[0]).error(f"unknown key; expected one of {sorted(allowed)}")
    return v


def get_num(t: Mapping[str, Any], key: str, place: Place, default: float | None = None) -> float:
    """``t[key]`` as a float (``default`` if absent; without one it is required)."""
    if key not in t:
        if default is None:
            raise (place / key).error("missing; expected a number")
        return default
    v = t[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise (place / key).error(f"expected a number, got {type(v).__name__} {v!r}")
    return float(v)


def get_int(t: Mapping[str, Any], key: str, place: Place, default: int | None = None) -> int:
    """``t[key]`` as a whole number (``default`` if absent; without one it is required)."""
    if key not in t:
        if default is None:
            raise (place / key).error("missing; expected a whole number")
        return default
    v = t[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise (place / key).error(f"expected a whole number, got {type(v).__name__} {v!r}")
    return v


def get_str(t: Mapping[str, Any], key: str, place: Place, default: str | None = None) -> str:
    """``t[key]`` as a string (``default`` if absent; without one it is required)."""
    if key not in t:
        if default is None:
            raise (place / key).error("missing; expected a string")
        return default
    v = t[key]
    if not isinstance(v, str):
        raise (place / key).error(f"expected a string, got {type(v).__name__} {v!r}")
    return v


def get_opt_num(t: Mapping[str, Any], key: str, place: Place) -> float | None:
    return get_num(t, key, place) if key in t else None


def read_frame(path: Path, place: Place) -> pl.DataFrame:
    """A side file (Parquet or CSV) that the table at ``place`` names."""
    if not path.exists():
        raise place.error(f"file {str(path)!r} does not exist")
    if path.suffix not in (".parquet", ".csv"):
        raise place.error(f"file {str(path)!r} must be .parquet or .csv")
    try:
        return pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    except Exception as e:  # Polars' ComputeError and friends: a corrupt or malformed file
        raise place.error(f"cannot read {str(path)!r}: {e}") from None


def named_table(t: Mapping[str, Any], key: str, place: Place) -> dict[str, Any]:
    """A table of named entries (reserves by asset, illiquid classes): any keys allowed."""
    v = t.get(key, {})
    if not isinstance(v, dict):
        raise (place / key).error(f"expected a table, got {type(v).__name__} {v!r}")
    return v


def wrap(place: Place, build: Any) -> Any:
    """Builds a family object, naming the table of the file in its errors."""
    try:
        return build()
    except ScenarioError as e:
        if getattr(e, "_placed", False):
            raise  # it names its place in the file already
        raise place.error(str(e)) from None


def get_num_list(t: Mapping[str, Any], key: str, place: Place) -> list[float]:
    """``t[key]``, required, as an array of numbers."""
    v = t.get(key)
    if not isinstance(v, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in v
    ):
        raise (place / key).error("expected an array of numbers")
    return [float(x) for x in v]


def names(enum: str) -> tuple[str, ...]:
    """The labels of one of the core's named enums (``_core.ENUM_NAMES``): the core owns them."""
    return tuple(_core.ENUM_NAMES[enum])


def one_of(labels: Sequence[str]) -> str:
    """``"a, b or c"``: the labels as a message lists them."""
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]
