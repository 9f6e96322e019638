"""The depth frame of a result: each traded asset's resting bids at or above and asks at or
below fixed prices, taken before the shock and at the end of the run, so that the two compare
level for level (a window around a moving mid slides into the thicker book after a crash)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from deleverage import _core

#: The fixed prices as fractions of each asset's pre-shock price: 40 % to 120 % in steps of
#: 0.5 % (k/200 for k = 80..240).
K = np.arange(80.0, 241.0)

#: The depth frame's columns, in order.
COLUMNS = ("asset", "price", "bids_before", "bids_after", "asks_before", "asks_after")

Snapshot = list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]


def prices(p0: float) -> npt.NDArray[np.float64]:
    """The fixed prices of an asset whose pre-shock price is ``p0``."""
    return p0 * K / 200.0


def snapshot(core: _core.Engine, traded: Sequence[int], initial: Sequence[float]) -> Snapshot:
    """The bids and asks of each traded asset (by index) at its fixed prices, now."""
    out: Snapshot = []
    for k in traded:
        at = _fixed(initial[k])
        out.append((core.capacity_to(k, "bid", at), core.capacity_to(k, "ask", at)))
    return out


@functools.lru_cache(maxsize=1024)
def _fixed(p0: float) -> npt.NDArray[np.float64]:
    # Every run of a scenario asks for the same prices: computed once, read-only.
    at = prices(p0)
    at.flags.writeable = False
    return at


class Depth(NamedTuple):
    """What the depth frame is built from, kept until the frame is read (the summary needs
    none of it)."""

    names: Sequence[str]
    traded: Sequence[int]
    initial: Sequence[float]
    before: Snapshot
    after: Snapshot

    def columns(self) -> dict[str, Any]:
        """The depth frame's columns from the snapshots before and after."""

        def cat(parts: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
            return np.concatenate(parts) if parts else np.empty(0)

        return {
            "asset": [self.names[k] for k in self.traded for _ in range(len(K))],
            "price": cat([prices(self.initial[k]) for k in self.traded]),
            "bids_before": cat([b for b, _ in self.before]),
            "bids_after": cat([b for b, _ in self.after]),
            "asks_before": cat([a for _, a in self.before]),
            "asks_after": cat([a for _, a in self.after]),
        }
