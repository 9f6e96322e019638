"""The perp cascade against the closest open peer: lrvx 0.11's C++ ``LiquidationEngine``
(issue 14), on the same isolated BTC-PERP positions through a 15 % fall of the mark in 5 ticks.

Run: ``pytest benches/test_peer_bench.py --benchmark-enable --benchmark-columns=median,iqr,rounds``
(add ``--benchmark-json=out.json`` to keep ``extra_info``: both medians and the ratio
lrvx/deleverage). lrvx is a measuring stick, never a dependency of the package: install it by
hand (``pip install lrvx==0.11.0``) into the venv; without it this file skips.

For each N (10,000, 100,000, 200,000) the positions are built once; a module fixture runs each
engine once and checks, before anything is timed, that both liquidate what their rules say and
that they agree where their models agree (below). Then each engine is timed over the same
number of rounds, lrvx's test first and deleverage's right after it:

- deleverage: ``dl.simulate`` end to end (the spec from Polars frames, the core, and every
  result frame read, since a result builds its frames when they are first read);
- lrvx: its five ``on_mark`` calls, each returning the liquidated and ADL'd ids and the fund's
  change as Python objects. Its engine is filled by ``open_position`` once per position, in a
  Python loop, in ``setup`` (untimed, as a run consumes the engine): lrvx's build is outside its
  time, deleverage's (checking and converting the frames) inside.

What is the same in both:

- The positions: one seeded set (``btc_perps``'s generator, every position isolated): 60 %
  long, log-normal sizes (median 0.5 BTC), leverage log-uniform in 2×–50× on a $100,000 mark,
  entries within ±3 % of it, the margin covering any unrealised loss. In lrvx every position is
  its own account with the margin as its equity, which for one position is isolated margin.
- Binance's BTCUSDT brackets (``examples.BTC_BRACKETS``; in lrvx one tier per bracket, its lower
  bound the previous cap), the trigger equity ≤ MM, an insurance fund of 0.2 % of open interest,
  ADL on with Binance's ranking, no partial liquidation (lrvx closes whole positions), no backstop.
- The mark: 97,000, 94,000, 91,000, 88,000, 85,000. lrvx's mark is an input (its mark-impact
  models are off by default and need an attached executor and book), so deleverage's mark is the
  index too (``Oracle.reference()``) and liquidation sales do not move it in either engine: what
  is liquidated depends on the mark path and the maintenance-margin rule alone.

Where the models differ, so only the liquidations are compared, and not fills, fund or ADL:

- Maintenance margin: lrvx's is ``N·rate`` of the tier of ``N``, without Binance's maintenance
  amount; deleverage's is Binance's ``N·rate − cum`` (MECHANICS §6.1). lrvx's is never lower, so
  it liquidates every position deleverage does, on the same tick or earlier, plus those whose
  equity at a tick lies in ``(N·rate − cum, N·rate]``: at 200,000 positions, 56 more positions
  (74,301 against 74,245) and 531 a tick earlier, 0.2 % more notional.
- Fills: deleverage sells each liquidation into the ``btc_perps`` square-root book (150,000 BTC
  of daily volume, $1 tick), walking its levels; lrvx fills at the mark less a fixed 15 bps
  (its Binance preset's slippage). The deficits, and so the fund and ADL, differ.
- Fees: deleverage takes Binance's 1.25 % clearance fee from the surplus over the bankruptcy
  price into the fund; lrvx takes none (a liquidation above bankruptcy leaves the fund as it is).
- Bankruptcy: in deleverage the fund pays fills below the bankruptcy price while it can; the
  part of an order it cannot pay for is deleveraged at the bankruptcy price against shorts cut
  by quantity, ``min(rest, |s|)`` each, down the ranking computed once per round. lrvx's fund
  pays what it can of the deficit in quote and ADL covers the rest by closing whole positions of
  the other side, so its ADL counts (283 closeouts at 200,000 positions) and deleverage's (98,106
  cuts) measure different things. lrvx's "binance" ranking formula is not documented.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

import deleverage as dl
from deleverage.examples import BTC_BRACKETS

lrvx = pytest.importorskip("lrvx")

PRICE = 100_000.0
MARKET = "BTC-PERP"
SYMBOL = 1  # lrvx's id of the one market
MARKS = np.linspace(PRICE, 0.85 * PRICE, 6)[1:]  # a 15 % fall in 5 ticks
FUND_SHARE = 0.002  # the insurance fund, of open interest (as ``btc_perps``)
FEE_RATE = 0.0125  # Binance's BTCUSDT clearance fee (deleverage only)
LRVX_SLIPPAGE_BPS = 15.0  # lrvx's Binance preset's liquidation slippage
ROUNDS = {10_000: 20, 100_000: 5, 200_000: 3}
SEED = 1
# Cross-engine tolerance: liquidation counts and the notional liquidated (at the mark of the
# tick) may differ by this fraction, the positions in the maintenance-amount band.
TOLERANCE = 0.01

Array = npt.NDArray[np.float64]


def peer_positions(n: int, seed: int = SEED) -> tuple[Array, Array, Array]:
    """Signed sizes, entry prices and isolated margins: ``btc_perps``'s generator."""
    rng = np.random.default_rng(seed)
    size = 0.5 * np.exp(1.2 * rng.standard_normal(n))
    side = np.where(rng.random(n) < 0.6, 1.0, -1.0)
    leverage = np.exp(rng.uniform(np.log(2.0), np.log(50.0), n))
    entry = PRICE * (1.0 + rng.uniform(-0.03, 0.03, n))
    margin = size * PRICE / leverage + np.maximum(0.0, side * size * (entry - PRICE))
    return side * size, entry, margin


def deleverage_scenario(size: Array, entry: Array, margin: Array) -> dl.Scenario:
    """The positions on a Binance-style exchange whose mark is the index."""
    n = size.size
    positions = pl.DataFrame(
        {
            "account": np.arange(n, dtype=np.int64),
            "market": [MARKET] * n,
            "size": size,
            "entry_price": entry,
            "margin": margin,
            "mode": ["isolated"] * n,
        }
    )
    book = dl.OrderBook.sqrt(
        mid=PRICE, tick=1.0, levels=20_000, sigma=0.025, volume=150_000.0,
        resilience_half_life=300.0,
    )  # fmt: skip
    sc = dl.Scenario(
        assets=[dl.Asset(MARKET, PRICE, venues=[book], oracle=dl.Oracle.reference())],
        step_seconds=1.0,
        steps=len(MARKS),
    )
    exchange = dl.PerpExchange(
        [dl.PerpMarket(MARKET, BTC_BRACKETS)],
        fee_rate=FEE_RATE,
        insurance_fund=FUND_SHARE * float(np.abs(size).sum() * PRICE),
        adl="binance",
        trigger="at_or_below",
        name="binance_perps",
    )
    return sc.add_perps(exchange, positions)


def lrvx_engine(size: Array, entry: Array, margin: Array) -> Any:
    """A fresh lrvx engine holding the positions, one account each. The bare engine, set up as
    lrvx's Binance preset but for the tiers: ``add_tier`` on the preset merges with its own."""
    eng = lrvx.LiquidationEngine()
    lows = (0.0, *BTC_BRACKETS.caps[:-1])
    for low, rate in zip(lows, BTC_BRACKETS.rates, strict=True):
        eng.add_tier(low, rate)
    eng.set_adl_enabled(True)
    eng.set_adl_ranking("binance")
    eng.set_insurance_fund_capital(FUND_SHARE * float(np.abs(size).sum() * PRICE))
    eng.set_liquidation_slippage_bps(LRVX_SLIPPAGE_BPS)
    for i, (s, e, m) in enumerate(zip(size.tolist(), entry.tolist(), margin.tolist(), strict=True)):
        eng.open_position(i, SYMBOL, s, e, m)
    return eng


def run_deleverage(sc: dl.Scenario) -> dl.Result:
    """``dl.simulate`` through the fall, every result frame built."""
    res = dl.simulate(sc, shock=dl.Shock.path({MARKET: MARKS}))
    # Read, a frame is built (the perp results are events, steps and positions).
    for frame in (res.events, res.steps, res.accounts, res.positions, res.funds):
        assert frame is not None
    return res


def run_lrvx(eng: Any) -> list[dict[str, Any]]:
    """lrvx through the fall: one ``on_mark`` per tick."""
    return [eng.on_mark(SYMBOL, mark) for mark in MARKS.tolist()]


def maintenance_margins(notional: Array) -> tuple[Array, Array]:
    """Binance's maintenance margin (deleverage's) and lrvx's ``N·rate`` without the maintenance
    amount, of each notional."""
    binance = BTC_BRACKETS.maintenance_margin(notional)
    caps = np.asarray(BTC_BRACKETS.caps)
    rates = np.asarray(BTC_BRACKETS.rates)
    return binance, notional * rates[np.searchsorted(caps, notional, side="left")]


def predicted_ticks(size: Array, entry: Array, margin: Array) -> tuple[Any, Any, Any]:
    """The tick each position is liquidated at (−1: never) by Binance's rule and by lrvx's, in
    closed form (the mark is exogenous and positions are isolated), and whether a position's
    equity lies between the two rules' margins at lrvx's tick."""
    n = size.size
    binance, flat = np.full(n, -1), np.full(n, -1)
    band = np.zeros(n, dtype=bool)
    for k, mark in enumerate(MARKS):
        notional = np.abs(size) * mark
        equity = margin + size * (mark - entry)
        mm_binance, mm_flat = maintenance_margins(notional)
        new_flat = (equity <= mm_flat) & (flat < 0)
        band |= new_flat & (equity > mm_binance)
        binance[(equity <= mm_binance) & (binance < 0)] = k
        flat[new_flat] = k
    return binance, flat, band


def notional_by_tick(size: Array, ticks: Any) -> Array:
    """The notional liquidated at each tick, at that tick's mark."""
    return np.array([np.abs(size[ticks == k]).sum() * m for k, m in enumerate(MARKS)])


@dataclass
class Case:
    """One N: the inputs of both engines, what they did, and the medians timed so far."""

    n: int
    size: Array
    entry: Array
    margin: Array
    scenario: dl.Scenario
    info: dict[str, Any]
    medians: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def make_lrvx(self) -> tuple[tuple[Any], dict[str, Any]]:
        """``benchmark.pedantic``'s setup: a fresh lrvx engine."""
        return (lrvx_engine(self.size, self.entry, self.margin),), {}


def check_agreement(
    size: Array, entry: Array, margin: Array, res: dl.Result, out: list[dict[str, Any]]
) -> dict[str, Any]:
    """Asserts that each engine liquidates what its rule says and that the two agree up to the
    maintenance amount; returns the figures for ``extra_info``."""
    n = size.size
    want_dl, want_lrvx, band = predicted_ticks(size, entry, margin)
    assert not (size[want_lrvx >= 0] < 0).any(), "a 15 % fall liquidates no short"
    # lrvx: each position on the tick its rule says.
    got_lrvx = np.full(n, -1)
    for k, o in enumerate(out):
        got_lrvx[np.asarray(o["liquidated"], dtype=np.int64)] = k
    assert np.array_equal(got_lrvx, want_lrvx), "lrvx liquidated other positions than N·rate says"
    # deleverage: a long whose order filled on the book, went to ADL or was absorbed is closed;
    # no short is liquidated (shorts are only ADL counterparties); the notional liquidated at
    # each tick, at its mark, is the rule's.
    pos = res.positions
    closed = (pos["liquidated_qty"] + pos["adl_qty"] + pos["absorbed_qty"]).to_numpy() > 0
    got_dl = closed & (size > 0)
    shorts = size < 0
    assert not (pos["liquidated_qty"] + pos["absorbed_qty"]).to_numpy()[shorts].any()
    assert np.array_equal(got_dl, want_dl >= 0), "deleverage liquidated other positions"
    steps = res.steps["liquidated_notional"].to_numpy()[: len(MARKS)]
    np.testing.assert_allclose(steps, notional_by_tick(size, want_dl), rtol=1e-9)
    # Across the engines: lrvx's margin is never below Binance's, so it liquidates a superset,
    # each position on deleverage's tick or earlier; a different tick or an extra position only
    # where the equity is within the maintenance amount.
    both = (want_dl >= 0) & (got_lrvx >= 0)
    assert np.array_equal(both, want_dl >= 0), "deleverage liquidated a position lrvx did not"
    differs = (got_lrvx >= 0) & (got_lrvx != want_dl)
    assert (got_lrvx[both] <= want_dl[both]).all()
    assert band[differs].all(), "the engines part outside the maintenance-amount band"
    dl_count, lrvx_count = int(got_dl.sum()), int((got_lrvx >= 0).sum())
    dl_notional = float(notional_by_tick(size, want_dl).sum())
    lrvx_notional = float(notional_by_tick(size, got_lrvx).sum())
    assert lrvx_count == pytest.approx(dl_count, rel=TOLERANCE)
    assert lrvx_notional == pytest.approx(dl_notional, rel=TOLERANCE)
    s = res.summary
    return {
        "n": n,
        "deleverage_liquidated": dl_count,
        "lrvx_liquidated": lrvx_count,
        "lrvx_only": int(((got_lrvx >= 0) & (want_dl < 0)).sum()),
        "lrvx_a_tick_earlier": int((both & (got_lrvx != want_dl)).sum()),
        "deleverage_liquidated_notional": dl_notional,
        "lrvx_liquidated_notional": lrvx_notional,
        "deleverage_summary_liquidations": int(s["liquidations"].item()),
        "deleverage_book_fills": int(s["perp_liquidations"].item()),
        "deleverage_adl_cuts": int(s["adl_count"].item()),
        "deleverage_fund_end": float(s["insurance_fund_end"].item()),
        "lrvx_adl_closeouts": sum(len(o["adl_closed_out"]) for o in out),
    }


@pytest.fixture(scope="module", params=sorted(ROUNDS))
def case(request: pytest.FixtureRequest) -> Case:
    """The positions of one N, both engines' inputs, and their agreement checked once."""
    n = request.param
    size, entry, margin = peer_positions(n)
    sc = deleverage_scenario(size, entry, margin)
    start = time.perf_counter()
    eng = lrvx_engine(size, entry, margin)
    build = time.perf_counter() - start
    # The checking run also warms both engines up before they are timed.
    info = check_agreement(size, entry, margin, run_deleverage(sc), run_lrvx(eng))
    info["lrvx_fund_end"] = eng.insurance_fund_balance()
    info["lrvx_build_s"] = build
    return Case(n, size, entry, margin, sc, info)


def lrvx_median(case: Case) -> float:
    """lrvx's median over as many rounds, each on a fresh engine (when its test did not run)."""
    times = []
    for _ in range(ROUNDS[case.n]):
        eng = lrvx_engine(case.size, case.entry, case.margin)
        start = time.perf_counter()
        run_lrvx(eng)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def record(benchmark: Any, case: Case, engine: str) -> None:
    """This engine's median in ``extra_info``, and once both engines' are known, in every row
    of this N, both medians and the ratio lrvx/deleverage."""
    benchmark.extra_info.update(case.info)
    case.rows.append(benchmark.extra_info)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # benchmarks disabled: nothing was timed
        return
    case.medians[engine] = stats.stats.median
    if engine == "deleverage" and "lrvx" not in case.medians:
        case.medians["lrvx"] = lrvx_median(case)
    if len(case.medians) == 2:
        lrvx_s, dl_s = case.medians["lrvx"], case.medians["deleverage"]
        for row in case.rows:
            row.update(lrvx_median_s=lrvx_s, deleverage_median_s=dl_s)
            row["lrvx_over_deleverage"] = lrvx_s / dl_s


def test_lrvx_15pct_fall(benchmark: Any, case: Case) -> None:
    """lrvx 0.11's ``LiquidationEngine`` through the fall (five ``on_mark`` calls)."""
    benchmark.group = f"peer, {case.n:,} isolated positions"
    out = benchmark.pedantic(run_lrvx, setup=case.make_lrvx, rounds=ROUNDS[case.n])
    assert sum(len(o["liquidated"]) for o in out) == case.info["lrvx_liquidated"]
    record(benchmark, case, "lrvx")


def test_deleverage_15pct_fall(benchmark: Any, case: Case) -> None:
    """``dl.simulate`` through the fall, result frames built."""
    benchmark.group = f"peer, {case.n:,} isolated positions"
    res = benchmark.pedantic(run_deleverage, args=(case.scenario,), rounds=ROUNDS[case.n])
    liquidated = res.summary["liquidated_notional"].item()
    assert liquidated == pytest.approx(case.info["deleverage_liquidated_notional"], rel=1e-9)
    record(benchmark, case, "deleverage")
