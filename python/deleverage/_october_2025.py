"""10–11 October 2025, reconstructed (``docs/cases/october-2025.md``): a Hyperliquid-like perp
venue with a thin book and cross-margin ADL, a Binance-like venue that prices USDe from its own
book while the deep Curve pool is out of reach, and market makers whose hedge shorts the ADL
closes and who then sell the spot the hedges covered.

Every dollar amount is scaled by :data:`OCTOBER_2025_SCALE` (1/1,000): positions, depths, the
insurance fund and the partial-liquidation threshold alike, so the run is the record's market in
miniature and its scale-free figures (shares, ratios, the depeg depth, the drawdown) compare
with the record directly.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.october_2025()
>>> sc.protocol_names, sc.asset_names
(['hyperliquid', 'binance'], ['BTC', 'BTC-PERP', 'BTCUSDT', 'USDe'])
>>> res = dl.examples.october_2025_run(sc)
>>> round(res.steps.filter(asset="USDe")["mid"].min(), 2)  # the record: about $0.65
0.64
"""

from __future__ import annotations

import numpy as np
import polars as pl

from deleverage._checks import finite
from deleverage._core import OrderBook, StableSwapPool
from deleverage.engine import Engine
from deleverage.exceptions import ScenarioError
from deleverage.market import Asset, Oracle, Peg
from deleverage.outages import Outage
from deleverage.perps import AdlRanking, Brackets, PartialLiquidation, PerpExchange, PerpMarket
from deleverage.result import Result
from deleverage.scenario import Scenario
from deleverage.shock import Shock

__all__ = [
    "OCTOBER_2025_BTC_HIGH",
    "OCTOBER_2025_BTC_LOW",
    "OCTOBER_2025_EXOGENOUS_LOW",
    "OCTOBER_2025_SCALE",
    "RECORD_COLUMNS",
    "october_2025",
    "october_2025_record",
    "october_2025_run",
    "october_2025_shock",
]

#: The columns of a reconstruction's comparison with the public record.
RECORD_COLUMNS = ["figure", "record", "source", "engine", "shown", "basis"]

#: Every dollar amount of the reconstruction is the record's times this.
OCTOBER_2025_SCALE = 1e-3
#: BTC's high and low over the crash (CoinShares, via MECHANICS §9): −14.5 %.
OCTOBER_2025_BTC_HIGH = 122_574.46
OCTOBER_2025_BTC_LOW = 104_782.88
#: The exogenous low of :func:`october_2025_shock` over the high: **calibrated** so that, with
#: the market makers' spot sales, BTC's lowest spot mid lands near the record's low on every
#: seed (on 10 seeds −14.8 % to −15.3 %, against −14.5 %). The other 5 points of the fall are
#: the cascade's. The run has two states: a fall that leaves the makers' hedges out of ADL's
#: reach stays near the exogenous one; at 0.905 three seeds in ten stay there, at 0.90 none.
OCTOBER_2025_EXOGENOUS_LOW = 0.90
#: Hyperliquid's open interest before the crash, $13.8 B (The Block, "Hyperliquid trading volume
#: before and after latest liquidation event", mirrored at bitget.ng/news/detail/12560605024886).
HYPERLIQUID_OPEN_INTEREST = 13.8e9
#: Bids within 2 % of the mid, in dollars before scaling. All three are **assumptions** (no
#: public depth figure of 10 October for these books was found); the Hyperliquid book's is
#: **calibrated** with the exogenous low (see the case page).
HYPERLIQUID_DEPTH_2PCT = 3e9
SPOT_DEPTH_2PCT = 1e8
BINANCE_DEPTH_2PCT = 5e8
#: Units of USDe bid within 2 % of $1 on Binance's own USDe/USDT book: **calibrated** so that
#: the depeg bottoms near the record's $0.65. The book then holds about $46 M of bids down to
#: $0.65 (before scaling); Ethena put Binance's USDe liquidity "in the tens of millions" against
#: more than $300 M on DEXs (usheadlinenews.com, 13 October 2025).
USDE_DEPTH_2PCT = 1.5e5
#: The Curve-like USDe/USDT pool: $300 M (Ethena's "more than $300 million" of DEX liquidity,
#: same source), A = 1,000 (an assumption), 1 bp fee.
CURVE_USDE_LIQUIDITY = 3e8
#: USDe's collateral value ratio in Binance's Multi-Assets Mode: an **assumption** (the ratio
#: Binance's FAQ gives BTC, ETH and BNB; no published USDe figure was found).
USDE_COLLATERAL_RATIO = 0.95

_MINUTES = 60.0
_FALL_MINUTES = 20.0
_MAKER_SHARE = 0.15
_MAKER_LEVERAGE = 30.0
_LONG_SHARE = 0.7
_BINANCE_NOTIONAL = 9e8
_EXTRA_STEPS = 240


def october_2025_shock(
    step_seconds: float = 15.0, *, exogenous_low: float = OCTOBER_2025_EXOGENOUS_LOW
) -> Shock:
    """The exogenous path of 10 October 2025 from 21:00 UTC, one price a step over an hour:
    BTC at :data:`OCTOBER_2025_BTC_HIGH`, falling log-linearly to ``exogenous_low`` of it at
    21:20 (the hour of the record's peak minute, 21:15, and of Hyperliquid's ADL, 21:15–21:27;
    the shape between is an assumption), then flat. The same path is the index of both perp
    markets (:func:`october_2025_run` moves it with the spot's own impact).

    Examples
    --------
    >>> import deleverage as dl
    >>> btc = dl.examples.october_2025_shock().prices["BTC"]  # 15-second steps
    >>> len(btc), round(float(btc[0]), 2), round(float(btc.min() / btc[0]), 3)
    (240, 122574.46, 0.9)
    """
    dt = finite("step_seconds", step_seconds, low=0.0, low_open=True)
    low = finite("exogenous_low", exogenous_low, low=0.0, high=1.0, low_open=True)
    minutes = np.arange(round(_MINUTES * 60.0 / dt)) * dt / 60.0
    path = OCTOBER_2025_BTC_HIGH * np.exp(
        np.interp(minutes, [0.0, _FALL_MINUTES, _MINUTES], [0.0, np.log(low), np.log(low)])
    )
    return Shock.path({"BTC": path, "BTC-PERP": path, "BTCUSDT": path})


def _book(mid: float, tick: float, levels: int, depth_units: float, permanent: float) -> OrderBook:
    """A square-root book with ``depth_units`` bid within 2 % of ``mid`` (σ = 2 %)."""
    return OrderBook.sqrt(
        mid=mid, tick=tick, levels=levels, sigma=0.02, volume=depth_units,
        resilience_half_life=300.0 if permanent == 0.0 else 600.0, permanent_impact=permanent,
    )  # fmt: skip


def october_2025(
    n_traders: int = 2_000,
    n_binance: int = 500,
    n_makers: int = 20,
    *,
    seed: int = 0,
    step_seconds: float = 15.0,
    exogenous_low: float = OCTOBER_2025_EXOGENOUS_LOW,
    connected: bool = False,
    adl: AdlRanking = "bitmex",
) -> Scenario:
    """10–11 October 2025 on two venues, scaled by :data:`OCTOBER_2025_SCALE`; run it with
    :func:`october_2025_run` (the market makers' spot sales) or ``dl.simulate`` (without them).

    - **BTC spot** at :data:`OCTOBER_2025_BTC_HIGH` on a thin square-root book ($100 M of bids
      within 2 % before scaling, an assumption) of which a third of every impact stays (Bucci
      et al. 2019, as ``eth_lending_thin``). Only the market makers trade it.
    - **Hyperliquid** (``BTC-PERP``): a book of $3 B within 2 % (assumption, calibrated), the
      mark half perp mid, half index; 40× maximum leverage, so maintenance margin 1.25 %
      (``Brackets.hyperliquid(40)``; Hyperliquid's BTC margin table, "tiered 40x", as an SDK
      test quotes its docs: docs.rs/crate/df-hyperliquid-core); partial liquidation 20 % above
      $100,000 (scaled) then a 30 s cooldown; no insurance fund and no clearance fee on the
      book stage (MECHANICS §6.3), so every fill worse than the bankruptcy price goes to
      cross-margin ADL, ranked PnL% × effective leverage (the engine's Hyperliquid choice,
      §6.4). Open interest: $13.8 B (:data:`HYPERLIQUID_OPEN_INTEREST`). ``n_traders``
      cross-margin traders hold 85 % of it, 70 % of them long (an assumption), log-normal
      sizes (log-sd 1.2), leverage log-uniform in 2×–40× on entries within ±3 % of the high.
    - **Market makers**: ``n_makers`` accounts (``mm0``, …) short 15 % of the open interest at
      30× (assumptions): the hedges of spot inventory they hold off-venue.
    - **Binance** (``BTCUSDT``): a book of $500 M within 2 % (assumption), Binance-style
      brackets (``BTC_BRACKETS``), 1.25 % clearance fee, an insurance fund of $1 B (an
      assumption), Binance's ADL ranking, margin ratio ≥ 100 %. ``n_binance`` longs worth
      $900 M of notional in all (an assumption), leverage log-uniform in 3×–20×, post their
      margin in **USDe** (Multi-Assets Mode, ratio :data:`USDE_COLLATERAL_RATIO`), which the
      exchange reads at its own book's mid (``Oracle.spot``): a liquidation's negative wallet
      is covered by selling their USDe into that book.
    - **USDe**, pegged to the dollar, on two venues: Binance's USDe/USDT book
      (:data:`USDE_DEPTH_2PCT`, calibrated; a third of its impact stays until arbitrage
      returns) and the Curve-like pool (:data:`CURVE_USDE_LIQUIDITY`). With ``connected=False``
      the pool is out of Binance's reach for the hour (``Outage.venue_halt``: the deposits and
      withdrawals that would carry the arbitrage were congested), so the exchange's sales and
      its price are its own book's; ``connected=True`` routes them to both venues at best
      execution, with cross-venue arbitrage: the counterfactual of a venue that reaches the
      deep market.

    ``adl`` is the Hyperliquid-like venue's ADL ranking (``PerpExchange``'s: ``"bitmex"``, PnL %
    × effective leverage, the engine's stand-in for Hyperliquid's unpublished index; or
    ``"pnl_ratio"``, ``"size"``, ``"binance"``, ``"dydx"``).

    Left out (see the case page): the 161 other assets, Hyperliquid's HLP liquidator vault
    (the engine's backstop and ADL are exclusive: with ``backstop=True`` nothing is ADL'd),
    wBETH and BNSOL, Binance's ADL and its other margin products, the timing of the depeg
    (21:36–22:16 UTC in the record; here it falls with BTC).

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.october_2025(n_traders=200, n_binance=50, n_makers=5)
    >>> hl, bn = sc.families
    >>> round(float((hl.positions["size"].abs() * 122_574.46).sum()) / 1e6, 1)  # $13.8 B / 1,000
    13.8
    >>> bn.protocol.margin_assets, sc.outages[0].asset
    ({'USDe': 0.95}, 'USDe')
    """
    for what, n in (("n_traders", n_traders), ("n_binance", n_binance), ("n_makers", n_makers)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ScenarioError(f"{what} must be an integer >= 1, got {n!r}")
    if not isinstance(connected, bool):
        raise ScenarioError(f"connected must be True or False, got {connected!r}")
    shock = october_2025_shock(step_seconds, exogenous_low=exogenous_low)
    dt = float(step_seconds)
    s, p0 = OCTOBER_2025_SCALE, OCTOBER_2025_BTC_HIGH
    rng = np.random.default_rng(seed)
    oi = HYPERLIQUID_OPEN_INTEREST * s
    size = np.exp(1.2 * rng.standard_normal(n_traders))
    size *= (1.0 - _MAKER_SHARE) * oi / (size.sum() * p0)
    side = np.where(rng.random(n_traders) < _LONG_SHARE, 1.0, -1.0)
    lev = np.exp(rng.uniform(np.log(2.0), np.log(40.0), n_traders))
    entry = p0 * (1.0 + rng.uniform(-0.03, 0.03, n_traders))
    # The margin covers any unrealised loss at the high: nobody starts below maintenance.
    margin = size * p0 / lev + np.maximum(0.0, side * size * (entry - p0))
    mm = np.full(n_makers, _MAKER_SHARE * oi / n_makers / p0)
    hyper_positions = pl.DataFrame(
        {
            "account": [f"t{k}" for k in range(n_traders)] + [f"mm{k}" for k in range(n_makers)],
            "market": ["BTC-PERP"] * (n_traders + n_makers),
            "size": np.concatenate([side * size, -mm]),
            "entry_price": np.concatenate([entry, np.full(n_makers, p0)]),
            "margin": np.concatenate([margin, mm * p0 / _MAKER_LEVERAGE]),
        }
    )
    bsize = np.exp(rng.standard_normal(n_binance))
    bsize *= _BINANCE_NOTIONAL * s / (bsize.sum() * p0)
    blev = np.exp(rng.uniform(np.log(3.0), np.log(20.0), n_binance))
    binance_positions = pl.DataFrame(
        {
            "account": [f"b{k}" for k in range(n_binance)],
            "market": ["BTCUSDT"] * n_binance,
            "size": bsize,
            "entry_price": [p0] * n_binance,
            # USDe units whose collateral value (at $1, times the ratio) is the initial margin.
            "margin": bsize * p0 / blev / USDE_COLLATERAL_RATIO,
            "margin_asset": ["USDe"] * n_binance,
        }
    )
    half = CURVE_USDE_LIQUIDITY * s / 2.0
    usde_venues = [
        _book(1.0, 1e-3, 900, USDE_DEPTH_2PCT * s, 1.0 / 3.0),
        StableSwapPool([half, half], amplification=1_000, fee=0.0001),
    ]
    sc = Scenario(
        assets=[
            Asset("BTC", p0, venues=[_book(p0, 1.0, 30_000, SPOT_DEPTH_2PCT * s / p0, 1.0 / 3.0)],
                  oracle=Oracle.spot()),
            Asset("BTC-PERP", p0, venues=[_book(p0, 1.0, 30_000, HYPERLIQUID_DEPTH_2PCT * s / p0,
                                                0.0)], oracle=Oracle.blend(0.5)),
            Asset("BTCUSDT", p0, venues=[_book(p0, 1.0, 30_000, BINANCE_DEPTH_2PCT * s / p0,
                                               0.0)], oracle=Oracle.blend(0.5)),
            Asset("USDe", 1.0, venues=usde_venues, oracle=Oracle.spot(), peg=Peg(None)),
        ],
        step_seconds=dt,
        steps=len(shock.prices["BTC"]),
        shock=shock,
    )  # fmt: skip
    hyperliquid = PerpExchange(
        [PerpMarket("BTC-PERP", Brackets.hyperliquid(40))],
        fee_rate=0.0,
        insurance_fund=0.0,
        adl=adl,
        partial=PartialLiquidation(100_000.0 * s, 0.2, 30.0, False),
        name="hyperliquid",
    )
    from deleverage.examples import _binance_btc

    binance = _binance_btc("BTCUSDT", 1e9 * s, "binance", {"USDe": USDE_COLLATERAL_RATIO})
    sc = sc.add_perps(hyperliquid, hyper_positions).add_perps(binance, binance_positions)
    if connected:
        return sc
    return sc.with_outages(Outage.venue_halt("USDe", 0, sc.steps, venue=1))


def october_2025_run(
    scenario: Scenario | None = None, *, hedge_sales: bool = True, seed: int = 0
) -> Result:
    """Runs :func:`october_2025` (the default one if ``scenario`` is None) on an
    :class:`~deleverage.Engine`, with two rules the scenario alone cannot state:

    1. **Hedges closed by ADL are sold as spot.** After each step, for every ``mm…`` account
       of ``hyperliquid`` the ADL cut by ``q`` BTC in that step, the maker is left long ``q``
       BTC of the inventory the short hedged, and sells it at once on the BTC spot book
       (``Engine.submit``, a ``user_sell`` event). ``hedge_sales=False`` leaves the inventory
       alone (the counterfactual; the ADL itself is the same rule).
    2. **The index is the spot.** Each step the perp markets' index (their reference) is the
       path's price times the spot book's mid over its reference after the previous step, so
       the makers' sales, and their impact that stays, reach both perp marks.

    After the path the engine holds its last price (times the spot's impact) until 20 steps
    in a row liquidate nothing, at most 240 more steps. Without ``hedge_sales`` the spot book
    is never traded, so the index is the path.

    Examples
    --------
        >>> import deleverage as dl
        >>> res = dl.examples.october_2025_run(dl.examples.october_2025(), hedge_sales=False)
    >>> res.events.filter(kind="user_sell").height, round(res.summary["drawdown_BTC"].item(), 3)
    (0, -0.1)
    """
    sc = october_2025() if scenario is None else scenario
    if not isinstance(sc, Scenario):
        raise ScenarioError(
            f"scenario must be a Scenario built by october_2025(), got {type(sc).__name__}"
        )
    if sc.shock is None or "BTC" not in sc.shock.prices:
        raise ScenarioError(
            "scenario has no shock path for 'BTC' (october_2025_run replays the path "
            "october_2025() sets)"
        )
    path = np.asarray(sc.shock.prices["BTC"], dtype=np.float64)
    eng = Engine(sc, seed=seed)
    makers = pl.col("account").cast(pl.String).str.starts_with("mm")
    ratio, quiet, k = 1.0, 0, 0
    # The path, then its last price held (times the spot's impact) until 20 quiet steps.
    while k < len(path) or (quiet < 20 and k < len(path) + _EXTRA_STEPS):
        price = float(path[min(k, len(path) - 1)])
        index = price * ratio
        rep = eng.step(reference={"BTC-PERP": index, "BTCUSDT": index})
        mid = rep.mids[0]
        if hedge_sales and rep.liquidations:
            ev = eng.events(since=k)
            q = float(
                ev.filter(
                    (pl.col("kind") == "adl") & (pl.col("protocol") == "hyperliquid") & makers
                )["qty"].sum()
            )
            if q > 0.0:
                eng.submit("BTC", "sell", q)
                mid = float(eng.state().assets["mid"][0])
        ratio = mid / price
        quiet = 0 if rep.liquidations or rep.queue_length else quiet + 1
        k += 1
    return eng.result()


def october_2025_record(res: Result) -> pl.DataFrame:
    """The run of :func:`october_2025_run` against the public record of 10–11 October 2025:
    one row per figure with the record's value and source, the engine's value (``engine``, in
    the figure's unit, dollar amounts scaled back up by 1/:data:`OCTOBER_2025_SCALE`), the two
    shown side by side, and whether the figure was calibrated or predicted (``basis``).
    ``docs/cases/october-2025.md`` discusses them.

    Examples
    --------
    >>> import deleverage as dl
    >>> t = dl.examples.october_2025_record(dl.examples.october_2025_run())
    >>> t.filter(figure="ADL notional, Hyperliquid (USD)").select("record", "shown").row(0)
    ('~$2.1B', '$2.27B')
    """
    if not isinstance(res, Result):
        raise ScenarioError(f"res must be the Result of a run, got {type(res).__name__}")
    ev = res.events.with_columns(pl.col("account").cast(pl.String))
    hl = ev.filter(pl.col("protocol") == "hyperliquid")
    if hl.height == 0 or "USDe" not in res.steps["asset"].cast(pl.String).unique().to_list():
        raise ScenarioError("res has no Hyperliquid events: run dl.examples.october_2025_run()")
    up = 1.0 / OCTOBER_2025_SCALE
    fills = hl.filter(pl.col("kind") == "perp_liquidation")
    adl = hl.filter(pl.col("kind") == "adl")
    adl_notional = float(adl["notional"].sum())
    liquidated = float(fills["notional"].sum()) + adl_notional
    btc = float(res.steps.filter(pl.col("asset") == "BTC")["mid"].to_numpy().min())
    usde = float(res.steps.filter(pl.col("asset") == "USDe")["mid"].to_numpy().min())
    n_pos = res.positions.filter(pl.col("protocol") == "hyperliquid").height
    sold = float(ev.filter(pl.col("kind") == "collateral_sale")["qty"].sum()) * up
    fund = float(res.summary["insurance_fund_used"].item()) * up
    conejo = "github.com/ConejoCapital/HyperMultiAssetedADL"
    fall = btc / OCTOBER_2025_BTC_HIGH - 1.0
    rows = [
        ("BTC fall to its low", "-14.5 %", "CoinShares", fall,
         f"{fall:+.1%}".replace("%", " %"), "calibrated"),
        ("USDe low on the exchange's book (USD)", "~0.65", "10x Research", usde,
         f"{usde:.3f}", "calibrated"),
        ("liquidated notional, Hyperliquid (USD)", "$9.297B in 4 h, all assets", "binance.bh",
         liquidated * up, f"${liquidated * up / 1e9:.2f}B (BTC only)", "predicted"),
        ("ADL notional, Hyperliquid (USD)", "~$2.1B", conejo, adl_notional * up,
         f"${adl_notional * up / 1e9:.2f}B", "predicted"),
        ("ADL events per liquidation event", "0.55 (34,983 / 63,637)", conejo,
         adl.height / max(fills.height, 1), f"{adl.height / max(fills.height, 1):.2f}",
         "predicted"),
        ("positions ADL'd, share", "25 % (1,759 of 6,925 BTC)",
         "github.com/ConejoCapital/HyperAnalyzeADL", adl["account"].n_unique() / max(n_pos, 1),
         f"{adl['account'].n_unique() / max(n_pos, 1):.0%}".replace("%", " %"), "predicted"),
        ("USDe sold into the exchange's book", "~90M", "usheadlinenews.com", sold,
         f"{sold / 1e6:.1f}M", "predicted"),
        ("insurance fund paid, Binance (USD)", "$184M, every market", "10x Research", fund,
         f"${fund / 1e6:.1f}M", "predicted"),
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=RECORD_COLUMNS, orient="row")
