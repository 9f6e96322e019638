"""What labels the engine's columns in the result frames: the core's enum names, the run's
context, and the column helpers the frame builders share."""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core

# The labels of the engine's code columns come from the core, which owns them.
EVENT_KINDS: list[str] = list(_core.ENUM_NAMES["event_kind"])
POOL_STATUS: list[str] = list(_core.ENUM_NAMES["pool_status"])
ACCOUNT_STATUS: list[str] = list(_core.ENUM_NAMES["account_status"])
VAULT_STATUS: list[str] = list(_core.ENUM_NAMES["vault_status"])
FUND_STATUS: list[str] = list(_core.ENUM_NAMES["fund_status"])
SEQUENCER: list[str] = list(_core.ENUM_NAMES["sequencer"])
ORDER_SIDE: list[str] = list(_core.ENUM_NAMES["order_side"])
_NONE = 2**32 - 1


@dataclass(frozen=True)
class _Context:
    """What labels the engine's columns: names of assets, protocols and accounts, the families,
    and the run's shape."""

    asset_names: list[str]
    initial_prices: list[float]
    protocol_names: list[str]
    account_labels: pl.DataFrame
    n_lending: int | None
    families: Sequence[Any]
    path_steps: int | None


def _plain(v: Any) -> Any:
    """A ledger value as plain Python (a list for an array)."""
    return v.tolist() if isinstance(v, np.ndarray) else v


def _table(family: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A family's final-state table ``name`` from the core: a finished engine hands a lending
    family's accounts and a perp exchange's positions over pending (``_core.PendingTable``),
    computed here when first read and kept in its place (the core's family dicts are dicts)."""
    t = family[name]
    if isinstance(t, _core.PendingTable):
        t = cast(dict[str, Any], family)[name] = t.build()
    return cast(Mapping[str, Any], t)


def _repeated(a: Any) -> bool:
    """Whether a column from the core is one value repeated: the core hands such a column out
    as a read-only numpy view of its one value (stride 0, no memory per row)."""
    return isinstance(a, np.ndarray) and a.ndim == 1 and a.size > 1 and a.strides[0] == 0


def _frame_of(columns: Mapping[str, Any]) -> pl.DataFrame:
    """The core's columns as a frame, in their order. A column that is one value repeated
    becomes a literal column, which Polars holds as the one value (as the core did) until an
    operation needs its rows."""
    cols = dict(columns)
    rows = {k: v for k, v in cols.items() if not _repeated(v)}
    if not rows and cols:
        # The frame's height needs one column of rows.
        first = next(iter(cols))
        rows[first] = np.ascontiguousarray(cols[first])
    frame = pl.DataFrame(rows)
    one = {k: v for k, v in cols.items() if k not in rows}
    if not one:
        return frame
    return frame.with_columns(
        pl.lit(v[0].item(), dtype=pl.Series(v[:1]).dtype).alias(k) for k, v in one.items()
    ).select(list(cols))


def _coded(column: str, names: list[str], raw: Any = None) -> pl.Expr:
    """The core's integer codes of ``column`` as the Enum of ``names`` (code ``k`` is
    ``names[k]``): one gather, not a lookup per row; one literal if ``raw``, the core's column,
    is one value repeated."""
    if _repeated(raw):
        return pl.lit(names[int(raw[0])], dtype=pl.Enum(names)).alias(column)
    return pl.lit(pl.Series(names, dtype=pl.Enum(names))).gather(pl.col(column)).alias(column)


def _name_of(names: pl.Series, column: str, raw: Any = None) -> pl.Expr:
    """Integer ids of ``column`` → labels by position, the engine's "none" id null; one
    literal if ``raw``, the core's column, is one value repeated."""
    if _repeated(raw):
        k = int(raw[0])
        return pl.lit(None if k == _NONE else names[k], dtype=names.dtype)
    idx = pl.when(pl.col(column) == _NONE).then(None).otherwise(pl.col(column))
    return pl.lit(names).gather(idx)


#: Polars sums a float column in blocks of this many values, pairwise; the values before the
#: first whole block (all of them in a shorter column) it adds one after another, from zero
#: (``polars-compute``'s ``float_sum``). ``test_a_short_column_sums_as_polars_sums_it`` holds the
#: installed Polars to it.
_POLARS_SUM_BLOCK = 128


def _fsum(x: npt.ArrayLike) -> float:
    """A float column's sum as the frames' ``sum`` gives it (Polars' summation, bit for bit)."""
    a = np.asarray(x, dtype=np.float64)
    if a.size < _POLARS_SUM_BLOCK:
        # In order from zero, as Polars adds a column shorter than a block, without building a
        # Series for it (the summary of a small run has several such sums).
        return functools.reduce(operator.add, a.tolist(), 0.0)
    return float(pl.Series(values=a).sum())


def _fmin(x: npt.ArrayLike) -> float:
    """A float column's minimum as the frames' ``min`` gives it (NaN ignored)."""
    return float(pl.Series(values=np.asarray(x, dtype=np.float64)).min())  # type: ignore[arg-type]
