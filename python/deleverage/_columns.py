"""What labels the engine's columns in the result frames: the core's enum names, the run's
context, and the column helpers the frame builders share."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def _coded(column: str, names: list[str]) -> pl.Expr:
    """The core's integer codes of ``column`` as the Enum of ``names`` (code ``k`` is
    ``names[k]``): one gather, not a lookup per row."""
    return pl.lit(pl.Series(names, dtype=pl.Enum(names))).gather(pl.col(column)).alias(column)


def _name_of(names: pl.Series, column: str) -> pl.Expr:
    # Integer ids → labels by position; the engine's "none" id becomes null.
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
