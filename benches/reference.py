"""A pure-Python reference implementation of the benchmark lending cascade (issue 14, item 4).

What it models is the market of ``benchmark_market`` in ``test_engine_bench.py``, and nothing
else: one collateral asset (ETH) against one debt asset priced at 1 (USDC), Aave v3.3 accounts
with one collateral and one debt balance each, a linear order book for ETH, an instant shock, the
default liquidators (worst health first, sequential rounds, unlimited budget, each liquidator
sells what it seized less the protocol fee at once), run to quiet. The rules are the engine's
(``MECHANICS.md`` §2.4–2.5, §3, §4.1–4.4; ``DESIGN.md`` §4.5):

- **Book.** Bid level k = 1…K sits at ``mid·(1 − k·η)`` (η = tick/mid; levels at or below 0
  dropped) and rests ``depth_per_level``. The shock moves the reference to ``mid·(1 + shock)``
  and every level by the same factor. A sale walks the bids from the best down, each level
  filling what it rests at its own price; consumed depth never refills.
- **Oracle.** ETH's oracle is the book's mid, (best bid + best ask)/2, re-read after every sale;
  with the bid side empty the last mid is held. The debt asset is read at 1.
- **Aave v3.3.** ``HF = C·p·LT/D``, liquidatable below 1. The whole debt may be repaid, or half
  of it when collateral and debt are both worth at least $2,000 and HF > 0.95. The liquidator
  seizes ``repaid·(1 + bonus)/p`` of collateral, or all of it (repaying ``C·p/(1 + bonus)``); the
  treasury takes ``protocol_fee`` of the bonus. The $1,000 dust rule lowers the repayment when
  it applies, and debt left without collateral is written off as a deficit: bad debt.
- **Queue.** Each round, the accounts whose trigger ratio ``τ = D/(C·LT)`` exceeds the price
  are popped from a heap keyed by τ, and those with HF < 1 join the queue. The queue is served
  in order of health at the round's opening price (ties: order of arrival), each liquidation at
  the price its predecessors' sales left. An account healthy again goes back to the heap with
  its new τ; one still below 1 stays queued for the next round; one without debt or collateral
  left is done. A round without liquidations ends the step, as do ``max_rounds_per_step``
  rounds; the run ends after a step without liquidations with the queue empty.

The price does not move between steps (no refill, a held reference), so steps matter only for
the round cap. With an unlimited budget the dust rule never blocks a liquidation: it can only
bite on a half repayment, whose collateral and debt are both worth $2,000 or more, and then the
lowered repayment is still positive.

Every floating-point expression is evaluated in the engine's order of operations, so the
amounts come out bit for bit equal to the engine's (``tests/test_reference.py`` checks the
liquidations against ``dl.simulate`` and a hand-computed case). Exact ties are the one place
where the two could part: here a tie of τ goes to the lower account index and a tie of health to
the earlier arrival, the accounts of a round arriving in τ order; the engine breaks a tie of τ
between re-queued accounts by storage position and lets fresh accounts arrive before re-queued
ones. With continuous random balances no two accounts tie.

This file is a measuring stick for the engine, never imported by the ``deleverage`` package;
the tests and ``test_reference_bench.py`` load it by path.
"""

from __future__ import annotations

import gc
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

# A level is exhausted once consumption is within this relative distance of its cumulative edge.
EXHAUSTED_RTOL = 1e-12
# A balance within this fraction of its previous value of zero after a liquidation is zero.
CLEAR_RTOL = 1e-12
# Aave v3.3's thresholds in quote (MECHANICS §4.2, §4.4).
MIN_BASE_MAX_CLOSE_FACTOR = 2_000.0
MIN_LEFTOVER_BASE = 1_000.0
CLOSE_FACTOR_HF_THRESHOLD = 0.95


class Liquidation(NamedTuple):
    """One liquidation: where it happened, what it did and the price it left."""

    step: int
    round: int
    account: int
    debt_repaid: float
    collateral_seized: float
    price_after: float
    bad_debt: float


@dataclass
class Cascade:
    """The liquidations in the order they happened, and the run's totals."""

    liquidations: list[Liquidation] = field(default_factory=list)
    bad_debt: float = 0.0
    steps: int = 0
    price: float = math.nan

    @property
    def count(self) -> int:
        """Number of liquidations."""
        return len(self.liquidations)


class BidLadder:
    """The bid side of a linear book after the shock, and the oracle price it sets.

    Parameters
    ----------
    mid, tick, levels, depth_per_level
        The book: ``levels`` levels a side, ``tick`` apart around ``mid``, each resting
        ``depth_per_level`` units.
    reference
        The reference price after the shock; every level moves by ``reference/mid``.
    """

    def __init__(
        self, mid: float, tick: float, levels: int, depth_per_level: float, reference: float
    ) -> None:
        eta = tick / mid
        n = min(levels, math.ceil(1.0 / eta) - 1)
        scale = 1.0 if reference == mid else reference / mid
        self.price = [scale * (mid * (1.0 - k * eta)) for k in range(1, n + 1)]
        self.cum = [depth_per_level * k for k in range(1, n + 1)]
        self.best_ask = scale * (mid * (1.0 + eta))
        self.consumed = 0.0
        self.open = 0  # the first level that still rests something
        self.spot = 0.5 * (self.price[0] + self.best_ask)

    def sell(self, qty: float) -> float:
        """Sells ``qty`` into the bids, best first, and returns the quantity filled."""
        cum, n = self.cum, len(self.cum)
        pos, k, left, filled = self.consumed, self.open, qty, 0.0
        while left > 0.0 and k < n:
            avail = cum[k] - max(pos, cum[k - 1] if k else 0.0)
            exhaust = left >= avail * (1.0 - EXHAUSTED_RTOL)
            # An order matching the level to rounding takes exactly what was asked for.
            take = avail if exhaust and left > avail * (1.0 + EXHAUSTED_RTOL) else left
            filled += take
            left = 0.0 if take == left else left - take
            if not exhaust:
                pos += take
                break
            pos = cum[k]
            k += 1
        self.consumed = pos
        while self.open < n and pos >= cum[self.open] - EXHAUSTED_RTOL * cum[self.open]:
            self.open += 1
        if self.open < n:  # with the bid side empty the mid is held
            self.spot = 0.5 * (self.price[self.open] + self.best_ask)
        return qty if left == 0.0 else min(filled, qty)


def _clear(left: float, before: float) -> float:
    """``left`` of ``before`` after a subtraction, with float residue cleared to 0."""
    return 0.0 if left <= CLEAR_RTOL * before else left


def _seizure(
    cover: float, c: float, d: float, p: float, bonus: float, fee: float
) -> tuple[float, float, float]:
    """Aave's seizure for ``cover`` of debt (MECHANICS §4.3): repaid, seized, protocol fee.
    The debt's price, 1, drops out of the engine's expressions exactly."""
    cover = d if d < cover else cover
    max_coll = cover / p * (1.0 + bonus)
    if max_coll > c:
        seized, repaid = c, c * p / (1.0 + bonus)
    else:
        seized, repaid = max_coll, cover
    return repaid, seized, (seized - seized / (1.0 + bonus)) * fee


def _liquidation(
    c: float, d: float, p: float, threshold: float, bonus: float, fee: float
) -> tuple[float, float, float]:
    """What a liquidator with unlimited budget does to an account with HF < 1 at price ``p``
    (MECHANICS §4.2–4.4): repaid, seized, protocol fee."""
    hf = c * p * threshold / d
    half = c * p >= MIN_BASE_MAX_CLOSE_FACTOR and d >= MIN_BASE_MAX_CLOSE_FACTOR
    cover = 0.5 * d if half and hf > CLOSE_FACTOR_HF_THRESHOLD else d
    repaid, seized, protocol_fee = _seizure(cover, c, d, p, bonus, fee)
    leaves_dust = (d - repaid) < MIN_LEFTOVER_BASE or (c - seized) * p < MIN_LEFTOVER_BASE
    if repaid < d and seized < c and leaves_dust:
        # The engine's choice: the largest cover that leaves $1,000 of both.
        cover = min(d - MIN_LEFTOVER_BASE, (c - MIN_LEFTOVER_BASE / p) * p / (1.0 + bonus), cover)
        repaid, seized, protocol_fee = _seizure(cover, c, d, p, bonus, fee)
    return repaid, seized, protocol_fee


def cascade(
    collateral: Sequence[float],
    debt: Sequence[float],
    *,
    mid: float = 3_000.0,
    tick: float = 0.5,
    levels: int = 5_999,
    depth_per_level: float = 400.0,
    threshold: float = 0.83,
    bonus: float = 0.05,
    protocol_fee: float = 0.10,
    shock: float = -0.25,
    max_rounds_per_step: int = 64,
    max_extra_steps: int = 10_000,
) -> Cascade:
    """Runs the cascade after an instant ``shock`` of the collateral's price to quiet.

    Parameters
    ----------
    collateral, debt
        Per account: collateral units (ETH) and debt units (USDC, priced at 1).
    mid, tick, levels, depth_per_level
        The linear order book (``dl.OrderBook.linear``); ``mid`` is also the initial price.
    threshold, bonus, protocol_fee
        The collateral's Aave reserve: liquidation threshold, bonus, the treasury's share of
        the bonus.
    shock
        The collateral's simple return at step 0 (−0.25: a 25 % fall).
    max_rounds_per_step, max_extra_steps
        The liquidators' round cap per step and the most steps run after the first.

    Returns
    -------
    Cascade
        The liquidations in order and the totals (bad debt, steps run, final oracle price).
    """
    # Millions of small tuples and no reference cycles: the cyclic garbage collector would
    # only scan them again and again (half the run time at 10^6 accounts).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(
            [float(x) for x in collateral],
            [float(x) for x in debt],
            BidLadder(mid, tick, levels, depth_per_level, mid * (1.0 + shock)),
            threshold,
            bonus,
            protocol_fee,
            max_rounds_per_step,
            max_extra_steps,
        )
    finally:
        if enabled:
            gc.enable()


def _run(
    coll: list[float],
    owed: list[float],
    book: BidLadder,
    threshold: float,
    bonus: float,
    protocol_fee: float,
    max_rounds_per_step: int,
    max_extra_steps: int,
) -> Cascade:
    """The cascade of :func:`cascade` on the balances ``coll`` and ``owed`` (changed in place)
    and the shocked ``book``."""
    out = Cascade()
    # The trigger heap: (−τ, account) for every account with something to liquidate.
    heap = [
        (-(d / (c * threshold)), i)
        for i, (c, d) in enumerate(zip(coll, owed, strict=True))
        if c > 0.0 and d > 0.0
    ]
    heapq.heapify(heap)
    queue: list[tuple[int, int]] = []  # (arrival, account)
    arrivals = 0

    def health(i: int) -> float:
        return coll[i] * book.spot * threshold / owed[i]

    def leave(i: int) -> None:
        if coll[i] > 0.0 and owed[i] > 0.0:
            heapq.heappush(heap, (-(owed[i] / (coll[i] * threshold)), i))

    for step in range(1 + max_extra_steps):
        liquidations = 0
        rounds = 0
        while True:
            # Hand over every account whose τ exceeds the price; the health factor decides.
            found = []
            while heap and -heap[0][0] > book.spot:
                found.append(heapq.heappop(heap))
            for entry in found:
                if health(entry[1]) >= 1.0:
                    heapq.heappush(heap, entry)  # τ above the price by rounding only
                else:
                    queue.append((arrivals, entry[1]))
                    arrivals += 1
            if rounds >= max_rounds_per_step:
                break
            attempted, acted = bool(queue), False
            queue.sort(key=lambda e: (health(e[1]), e[0]))
            kept = []
            for entry in queue:
                i = entry[1]
                if health(i) >= 1.0:
                    leave(i)
                    continue
                c, d = coll[i], owed[i]
                repaid, seized, fee = _liquidation(c, d, book.spot, threshold, bonus, protocol_fee)
                owed[i] = _clear(d - repaid, d)
                coll[i] = _clear(c - seized, c)
                if seized - fee > 0.0:
                    book.sell(seized - fee)
                bad = 0.0
                if owed[i] > 0.0 and coll[i] == 0.0:
                    bad, owed[i] = owed[i], 0.0  # the v3.3 deficit write-off
                    out.bad_debt += bad
                out.liquidations.append(
                    Liquidation(step, rounds, i, repaid, seized, book.spot, bad)
                )
                acted = True
                liquidations += 1
                if owed[i] > 0.0 and health(i) < 1.0:
                    kept.append(entry)
                else:
                    leave(i)
            queue = kept
            rounds += attempted or acted
            if not acted:
                break
        out.steps = step + 1
        if liquidations == 0 and not queue:
            break
    out.price = book.spot
    return out
