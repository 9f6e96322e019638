"""Built-in example scenarios.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=1_000, seed=3)
>>> sc.n_accounts, sc.asset_names
(1000, ['ETH', 'USDC'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources

import numpy as np
import polars as pl

from deleverage._checks import finite
from deleverage._core import ConstantProductPool, ImpactCurve, OrderBook, StableSwapPool
from deleverage._october_2025 import (
    RECORD_COLUMNS,
    october_2025,
    october_2025_record,
    october_2025_run,
    october_2025_shock,
)
from deleverage.exceptions import ScenarioError
from deleverage.funds import Funds
from deleverage.lending import Lending, Reserve, looped_positions
from deleverage.market import Asset, Channel, Oracle, Peg
from deleverage.outages import Outage
from deleverage.owners import Owner
from deleverage.perps import Brackets, PerpExchange, PerpMarket
from deleverage.result import Result
from deleverage.scenario import Liquidators, Scenario
from deleverage.shock import Shock
from deleverage.vaults import Clipper, Vaults

__all__ = [
    "bank_fire_sale",
    "black_thursday",
    "black_thursday_record",
    "black_thursday_shock",
    "btc_perps",
    "eth_lending",
    "eth_lending_thin",
    "eth_positions",
    "lst_loop_unwind",
    "october_2025",
    "october_2025_record",
    "october_2025_run",
    "october_2025_shock",
    "replay_sample",
]


def eth_positions(
    n_accounts: int = 10_000,
    *,
    price: float = 3_000.0,
    seed: int = 0,
    liquidation_threshold: float = 0.83,
) -> pl.DataFrame:
    """Seeded ETH-collateral, USDC-debt positions.

    Collateral is log-normal (median 5 ETH, log-sd 1.5); health factors are 1.01 plus an
    exponential with mean 0.35, so liquidation prices spread below the current price the way
    public liquidation heatmaps show them: dense just below, thinning further out.

    Examples
    --------
    >>> import deleverage as dl
    >>> pos = dl.examples.eth_positions(5, seed=1)
    >>> pos.columns
    ['account', 'collateral_asset', 'collateral', 'debt_asset', 'debt']
    >>> health = pos["collateral"] * 3_000.0 * 0.83 / pos["debt"]
    >>> bool(health.min() >= 1.01)  # every account starts healthy
    True
    """
    if n_accounts < 0:
        raise ScenarioError(f"n_accounts must be >= 0, got {n_accounts}")
    rng = np.random.default_rng(seed)
    collateral = 5.0 * np.exp(1.5 * rng.standard_normal(n_accounts))
    health = 1.01 + rng.exponential(0.35, n_accounts)
    debt = collateral * price * liquidation_threshold / health
    return pl.DataFrame(
        {
            "account": np.arange(n_accounts, dtype=np.int64),
            "collateral_asset": ["ETH"] * n_accounts,
            "collateral": collateral,
            "debt_asset": ["USDC"] * n_accounts,
            "debt": debt,
        }
    )


def eth_lending(n_accounts: int = 10_000, *, seed: int = 0, steps: int = 300) -> Scenario:
    """An ETH lending market with Aave v3.3 parameters on deep depth (the contrast to
    :func:`eth_lending_thin`, where the same accounts set off a spiral).

    ETH at $3,000 trades on a square-root order book (2 % daily volatility, 150,000 ETH of daily
    volume, $0.50 tick, refilling with a 10-minute half-life: $450 M of bids within 2 % of the
    mid) and a Uniswap v2 ETH/USDC pool (20,000 ETH, 0.3 % fee). The Aave oracle is a
    Chainlink-style push feed (0.5 % deviation, 1-hour heartbeat). WETH reserve: liquidation
    threshold 83 %, bonus 5 %, protocol fee 10 % (Aave v3 Ethereum market parameters). USDC is
    borrowed; its price is the reference (1).

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=100, steps=20)
    >>> sc.protocol_names, sc.n_accounts, sc.steps
    (['aave_v3'], 100, 20)
    >>> sc.assets[0].oracle
    Oracle(kind='push', deviation=0.005, heartbeat=3600.0, window=None, delay=None, weight=None)
    >>> sc.lending[0].protocol.reserves["ETH"].liquidation_threshold
    0.83
    """
    book = OrderBook.sqrt(
        mid=_ETH_PRICE,
        tick=0.5,
        levels=5_999,
        sigma=0.02,
        volume=150_000.0,
        resilience_half_life=600.0,
    )
    return _aave_eth_market(book, n_accounts, seed=seed, steps=steps)


#: The bids within 2 % of the mid of :func:`eth_lending_thin`'s book, in dollars: half of the
#: about $35 M of ETH depth within ±2 % on Binance, the deepest venue, in a 2025 market-maker
#: survey (binance.bh, "the three liquidity metrics we track", ETH example).
THIN_BID_DEPTH_2PCT = 17_500_000.0

#: The share of each impact that stays in the price: a metaorder's impact relaxes to about 2/3
#: of its peak by the end of the day and on to about 1/2 of that over the following weeks
#: (Bucci, Benzaquen, Lillo, Bouchaud 2019, arXiv:1901.05332), so about 1/3 of the peak stays.
THIN_PERMANENT_IMPACT = 1.0 / 3.0


def eth_lending_thin(n_accounts: int = 10_000, *, seed: int = 0, steps: int = 300) -> Scenario:
    """The ETH lending market of :func:`eth_lending` on the depth a crash actually meets: the
    cascade feeds on itself (``deleverage demo``'s default market).

    The accounts, the pool, the oracle and the Aave v3.3 reserve are those of
    :func:`eth_lending`; the order book is the one that changes.

    - **Depth.** A square-root book holding $17.5 M of bids within 2 % of the mid
      (:data:`THIN_BID_DEPTH_2PCT`: half of Binance's ~$35 M of ETH depth within ±2 %,
      binance.bh 2025) and so, by the square-root shape, $4.4 M within 1 % (CoinDesk Research
      put ETH's 1 % depth on major venues at just above $8 M, both sides, on 9 October 2025).
      The book's ``sigma`` (2 %) and ``volume`` (5,833 ETH) are over one same horizon and only
      set that depth: impact ``sigma·sqrt(Q/volume)``, so ``volume = (2 %/sigma)²·depth``.
    - **Permanence.** A third of each impact moves the reference
      (:data:`THIN_PERMANENT_IMPACT`, Bucci et al. 2019); the rest refills with the deep book's
      10-minute half-life.
    - **Leverage.** The 10,000 default accounts hold 150,000 ETH ($450 M) at health factors
      1.01 plus an exponential of mean 0.35; a 20 % fall liquidates $185 M here, the order of
      Aave's $210 M of liquidations when ETH fell over 30 % on 2–3 February 2025 (Chaos Labs,
      governance.aave.com, "insights from recent market events 02/03/25").

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending_thin()
    >>> book = sc.assets[0].venues[0]
    >>> round(book.depth("bid", 0.02) * 3_000 / 1e6, 1)  # $ M of bids within 2 % of the mid
    17.5
    >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
    >>> round(res.summary["amplification_ETH"].item(), 2)  # the market fell 1.39 × 20 %
    1.39
    """
    sigma = 0.02
    book = OrderBook.sqrt(
        mid=_ETH_PRICE,
        tick=0.5,
        levels=5_999,
        sigma=sigma,
        volume=(0.02 / sigma) ** 2 * THIN_BID_DEPTH_2PCT / _ETH_PRICE,
        resilience_half_life=600.0,
        permanent_impact=THIN_PERMANENT_IMPACT,
    )
    return _aave_eth_market(book, n_accounts, seed=seed, steps=steps)


_ETH_PRICE = 3_000.0


def _aave_eth_market(book: OrderBook, n_accounts: int, *, seed: int, steps: int) -> Scenario:
    """ETH on ``book`` and a 20,000-ETH Uniswap v2 pool, a push oracle, and Aave v3.3 accounts
    of :func:`eth_positions` borrowing USDC against it."""
    price = _ETH_PRICE
    pool = ConstantProductPool(base_reserve=20_000.0, quote_reserve=20_000.0 * price, fee=0.003)
    sc = Scenario(
        assets=[
            Asset("ETH", price=price, venues=[book, pool], oracle=Oracle.push(0.005, 3_600.0)),
            Asset("USDC", price=1.0, oracle=Oracle.reference()),
        ],
        step_seconds=12.0,
        steps=steps,
    )
    aave = Lending.aave_v3(
        {"ETH": Reserve(liquidation_threshold=0.83, liquidation_bonus=0.05, protocol_fee=0.10)}
    )
    return sc.add_lending(aave, eth_positions(n_accounts, price=price, seed=seed))


#: Maintenance-margin brackets shaped like Binance's published BTCUSDT table (notional cap in
#: USDT, rate). Binance changes its tables; these values are illustrative (MECHANICS §6.1 marks
#: the current table UNCONFIRMED).
BTC_BRACKETS = Brackets(
    [50_000.0, 600_000.0, 3_000_000.0, 12_000_000.0, 70_000_000.0, float("inf")],
    [0.004, 0.005, 0.0065, 0.01, 0.02, 0.05],
)


def btc_perps(n_accounts: int = 20_000, *, seed: int = 0, steps: int = 120) -> Scenario:
    """A BTC perpetual venue with brackets, an insurance fund and ADL.

    BTC-PERP at $100,000 trades on a square-root order book (2.5 % daily volatility, 150,000
    BTC of daily volume, $1 tick, 5-minute refill half-life); the mark blends the perp mid and
    the index half and half. ``n_accounts`` cross-margin traders, 60 % long, hold log-normal
    positions (median 0.5 BTC) at leverage spread from 2× to 50× (log-uniform, as retail
    leverage is) on the current mark, with entry prices within ±3 % of it (the margin covers
    an unrealised loss, so nobody starts below maintenance). Brackets :data:`BTC_BRACKETS`;
    liquidation fee 1.25 % to the insurance fund (Binance's BTCUSDT clearance fee, MECHANICS
    §6.3); the fund starts at 0.2 % of open interest, so a deep fall exhausts it and ADL ranks
    the profitable shorts by Binance's LeveragePnl.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.btc_perps(n_accounts=500)
    >>> sc.protocol_names, sc.n_accounts
    (['binance_perps'], 500)
    """
    if n_accounts < 1:
        raise ScenarioError(f"n_accounts must be >= 1, got {n_accounts}")
    price = 100_000.0
    rng = np.random.default_rng(seed)
    size = 0.5 * np.exp(1.2 * rng.standard_normal(n_accounts))
    side = np.where(rng.random(n_accounts) < 0.6, 1.0, -1.0)
    leverage = np.exp(rng.uniform(np.log(2.0), np.log(50.0), n_accounts))
    entry = price * (1.0 + rng.uniform(-0.03, 0.03, n_accounts))
    # Equity at the current mark is at least notional/leverage: the margin covers any loss.
    margin = size * price / leverage + np.maximum(0.0, side * size * (entry - price))
    positions = pl.DataFrame(
        {
            "account": np.arange(n_accounts, dtype=np.int64),
            "market": ["BTC-PERP"] * n_accounts,
            "size": side * size,
            "entry_price": entry,
            "margin": margin,
        }
    )
    book = OrderBook.sqrt(
        mid=price, tick=1.0, levels=20_000, sigma=0.025, volume=150_000.0,
        resilience_half_life=300.0,
    )  # fmt: skip
    sc = Scenario(
        assets=[Asset("BTC-PERP", price, venues=[book], oracle=Oracle.blend(0.5))],
        step_seconds=1.0,
        steps=steps,
    )
    open_interest = float((size * price).sum())
    exchange = _binance_btc("BTC-PERP", 0.002 * open_interest, "binance_perps")
    return sc.add_perps(exchange, positions)


def _binance_btc(
    market: str,
    insurance_fund: float,
    name: str,
    margin_assets: Mapping[str, float] | None = None,
) -> PerpExchange:
    """A Binance-style venue for one BTC perp ``market``: :data:`BTC_BRACKETS`, the 1.25 %
    liquidation fee, Binance's ADL ranking and its trigger (margin ratio ≥ 100 %; MECHANICS
    §6), with ``margin_assets`` for Multi-Assets Mode."""
    return PerpExchange(
        [PerpMarket(market, BTC_BRACKETS)],
        fee_rate=0.0125,
        insurance_fund=insurance_fund,
        adl="binance",
        trigger="at_or_below",
        name=name,
        margin_assets=dict(margin_assets or {}),
    )


def lst_loop_unwind(
    n_loopers: int = 10_000,
    *,
    seed: int = 0,
    steps: int = 200,
    redemption_capacity: float = 1_000.0,
    oracle: str = "market",
) -> Scenario:
    """A liquid-staking loop market that depegs: stETH/ETH loopers on an Aave-style E-mode
    market, a stETH StableSwap pool, a withdrawal queue, a leveraged stETH holder and an ETH perp
    market, on one ETH price.

    - **ETH** at $3,000 on a square-root order book (2 % daily volatility, 150,000 ETH of daily
      volume, 10-minute refill), read at the routed mid.
    - **stETH**, pegged to ETH 1:1, trades on a Curve-style StableSwap pool of 80,000 stETH and
      80,000 ETH (A = 50, fee 4 bp). Its withdrawal queue redeems at most
      ``redemption_capacity`` stETH a 12-second step at the peg, paid 50 steps later (``0``:
      no withdrawals, as before Ethereum's Shapella upgrade).
    - **Loopers**: ``n_loopers`` accounts looping stETH against ETH debt at 93 % LTV to a
      leverage drawn uniformly in [3, 14] (:func:`deleverage.looped_positions`), their equity
      log-normal and 15,000 stETH in all (so the market is the same whatever ``n_loopers``).
      E-mode parameters: liquidation threshold 95 %, bonus 1 %, protocol fee 10 %. The
      protocol's oracle reads stETH's market price (``oracle="market"``) or the peg
      (``oracle="peg"``: the exchange rate times ETH's oracle, as Aave values wstETH).
    - **A leveraged holder** (a fund targeting 2× leverage on 100,000 stETH, half of it
      borrowed in USDC) values its stETH at the peg: an ETH fall raises its leverage and it
      sells stETH into the pool, which starts the depeg.
    - **Liquidators** spend at most $3 million a step (their capital), so a cascade runs over
      steps and the withdrawal queue competes with it.
    - **ETH-PERP** at $3,000: ``n_loopers // 2`` cross-margin traders (60 % long, 2×–50×)
      on their own book, Binance-style brackets, an insurance fund and ADL; its mark blends the
      perp mid and the index.
    - **Desks** own both (:class:`deleverage.Owner`): one looper in ten (``desk{k}``) also holds
      a 5× ETH-PERP long (trader ``k``). Each has free cash of a tenth of its perp notional,
      pays its perp margin calls from it (back to 1.1·MM), then keeps its loop at health 1.02
      from what is left, and sells stETH into the pool when nothing is: the ETH fall's perp
      losses spill into the LST market.

    The parameters are illustrative, chosen so that one run shows the spiral, not calibrated
    to a date. Shock it with ``Shock.instant(ETH=-0.25, **{"ETH-PERP": -0.25})``: with the
    default queue stETH dips to about 0.97 ETH and recovers as the queue drains the pool's
    excess; with ``redemption_capacity=0`` the loopers' liquidations drain the pool; with
    ``oracle="peg"`` no looper is liquidated.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.lst_loop_unwind(n_loopers=200)
    >>> sc.asset_names, sc.protocol_names
    (['ETH', 'stETH', 'USDC', 'ETH-PERP'], ['spark', 'lst_fund', 'eth_perps'])
    >>> len(sc.owners), sc.owners[0][0]
    (20, 'desk0')
    >>> sc.assets[1].peg.to, sc.assets[1].peg.redeem.capacity
    ('ETH', 1000.0)
    """
    if n_loopers < 2:
        raise ScenarioError(f"n_loopers must be >= 2, got {n_loopers}")
    if oracle not in ("market", "peg"):
        raise ScenarioError(f"oracle must be 'market' or 'peg', got {oracle!r}")
    price = 3_000.0
    rng = np.random.default_rng(seed)
    eth_book = OrderBook.sqrt(
        mid=price, tick=0.5, levels=5_999, sigma=0.02, volume=150_000.0,
        resilience_half_life=600.0,
    )  # fmt: skip
    perp_book = OrderBook.sqrt(
        mid=price, tick=0.5, levels=5_999, sigma=0.02, volume=300_000.0,
        resilience_half_life=300.0,
    )  # fmt: skip
    pool = StableSwapPool([80_000.0, 80_000.0], amplification=50.0, fee=0.0004)
    at_peg = ("lst_fund", "spark") if oracle == "peg" else ("lst_fund",)
    peg = Peg("ETH", redeem=Channel(capacity=redemption_capacity, delay=50), read_at_peg_by=at_peg)
    sc = Scenario(
        assets=[
            Asset("ETH", price, venues=[eth_book], oracle=Oracle.spot()),
            Asset("stETH", 1.0, venues=[pool], oracle=Oracle.spot(), peg=peg),
            Asset("USDC", 1.0, oracle=Oracle.reference()),
            Asset("ETH-PERP", price, venues=[perp_book], oracle=Oracle.blend(0.5)),
        ],
        step_seconds=12.0,
        steps=steps,
        liquidators=Liquidators(budget_notional=3e6),
    )
    weight = np.exp(rng.standard_normal(n_loopers))
    loops = looped_positions(
        15_000.0 * weight / weight.sum(),
        0.93,
        target_leverage=rng.uniform(3.0, 14.0, n_loopers),
        collateral_asset="stETH",
        debt_asset="ETH",
        price=1.0,
    )
    # One looper in ten is a desk that also trades the perp: it owns both accounts.
    desks = n_loopers // 10
    n_perp = max(1, n_loopers // 2)
    owner = [f"desk{k}" if k < min(desks, n_perp) else a for k, a in enumerate(loops["account"])]
    spark = Lending.aave_v3({"stETH": Reserve(0.95, 0.01, 0.10)}, version="3.3", name="spark")
    sc = sc.add_lending(
        spark,
        loops.select(
            "account", "collateral_asset", "collateral", "debt_asset", "debt"
        ).with_columns(owner=pl.Series(owner, dtype=pl.String)),
    )
    holder = pl.DataFrame(
        {
            "account": ["holder"] * 2,
            "holding": ["stETH", "debt"],
            "amount": [100_000.0, 100_000.0 * price / 2],
        }
    )
    sc = sc.add_funds(Funds.target(2.0, name="lst_fund"), holder)
    size = 5.0 * np.exp(1.2 * rng.standard_normal(n_perp))
    side = np.where(rng.random(n_perp) < 0.6, 1.0, -1.0)
    leverage = np.exp(rng.uniform(np.log(2.0), np.log(50.0), n_perp))
    # The desks are long ETH at 5×.
    m = min(desks, n_perp)
    side[:m], leverage[:m] = 1.0, 5.0
    entry = price * (1.0 + rng.uniform(-0.03, 0.03, n_perp))
    margin = size * price / leverage + np.maximum(0.0, side * size * (entry - price))
    perps = pl.DataFrame(
        {
            "account": [f"trader{k}" for k in range(n_perp)],
            "market": ["ETH-PERP"] * n_perp,
            "size": side * size,
            "entry_price": entry,
            "margin": margin,
            "owner": [f"desk{k}" if k < m else f"trader{k}" for k in range(n_perp)],
        }
    )
    exchange = PerpExchange(
        [PerpMarket("ETH-PERP", BTC_BRACKETS)],
        fee_rate=0.0125,
        insurance_fund=0.002 * float((size * price).sum()),
        adl="binance",
        name="eth_perps",
    )
    sc = sc.add_perps(exchange, perps)
    # Each desk's free cash is a tenth of its perp notional: it pays its margin calls first
    # (back to 1.1·MM), then keeps its loop at health 1.02 from what is left, selling stETH
    # when nothing is.
    cash = 0.1 * size[:m] * price
    return sc.with_owners(
        {f"desk{k}": Owner(float(cash[k]), margin_buffer=0.1, target_health=1.02) for k in range(m)}
    )


def bank_fire_sale(*, steps: int = 1) -> Scenario:
    """A Cont–Schaanning banking system: eight banks, three marketable asset classes and one
    illiquid loan book, leverage limit 33 (the 3 % Basel III leverage ratio), deleveraging down
    to 0.95·33.

    Marketable assets trade on exponential impact curves with Cont–Schaanning's depth
    ``D = c·ADV/σ·sqrt(τ)`` (c = 0.5, τ = 10 days, floor 40 % of the price) and α = 0.5 execution:
    sovereign bonds (ADV 400 bn, σ 0.5 %), corporate bonds (ADV 30 bn, σ 1 %) and equities
    (ADV 60 bn, σ 2 %), all priced 1 (values in bn). Balance sheets are stylised after large
    European banks (total assets 200–1,600 bn, leverage 18–31, 45–70 % of assets in loans).
    The illiquid loans take a 1.5 % shock at the first step (``Shock.instant`` can add moves of
    the marketable classes); sales run in batch rounds to quiet.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.bank_fire_sale()
    >>> sc.n_accounts, sc.asset_names
    (8, ['SOVEREIGN', 'CORPORATE', 'EQUITY'])
    """
    classes = {"SOVEREIGN": (400.0, 0.005), "CORPORATE": (30.0, 0.01), "EQUITY": (60.0, 0.02)}
    assets = [
        Asset(
            name,
            1.0,
            venues=[ImpactCurve.exponential(1.0, 0.4, 0.5 * adv / sig * np.sqrt(10.0), alpha=0.5)],
            oracle=Oracle.spot(),
        )
        for name, (adv, sig) in classes.items()
    ]
    # total assets (bn), leverage, loan share, and the marketable split (sov, corp, equity).
    banks = [
        (1_600.0, 24.0, 0.55, (0.6, 0.3, 0.1)),
        (1_400.0, 28.0, 0.50, (0.5, 0.35, 0.15)),
        (1_100.0, 31.0, 0.45, (0.4, 0.4, 0.2)),
        (900.0, 22.0, 0.60, (0.7, 0.2, 0.1)),
        (700.0, 30.0, 0.50, (0.45, 0.35, 0.2)),
        (500.0, 18.0, 0.70, (0.8, 0.15, 0.05)),
        (350.0, 26.0, 0.55, (0.5, 0.3, 0.2)),
        (200.0, 29.0, 0.65, (0.55, 0.3, 0.15)),
    ]
    rows: list[tuple[str, str, float]] = []
    for i, (total, lev, loans, split) in enumerate(banks):
        bank = f"bank_{i + 1}"
        marketable = total * (1.0 - loans)
        for name, w in zip(classes, split, strict=True):
            rows.append((bank, name, marketable * w))
        rows.append((bank, "loans", total * loans))
        rows.append((bank, "debt", total - total / lev))
    positions = pl.DataFrame(rows, schema=["account", "holding", "amount"], orient="row")
    sc = Scenario(assets=assets, steps=steps, liquidators=Liquidators(mode="batch"))
    return sc.add_funds(Funds.threshold(33.0, illiquid={"loans": 0.015}, name="banks"), positions)


def replay_sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The recorded-market sample shipped with the package: four hours of one ETH market,
    generated from a stated model (``examples/make_replay_sample.py``; not recorded from an
    exchange): mark prices every 60 s (``timestamp``, ``ETH``: a GBM from 3,000 with 60 %
    annualised volatility) and an L2 book snapshot every 15 minutes (``timestamp``, ``side``,
    ``price``, ``qty``: 200 levels a side, tick 0.5, square-root depth of 2,000–3,000 ETH within
    2 %). For :meth:`Shock.replay` and :meth:`Scenario.with_book_snapshots`.

    Examples
    --------
    >>> import deleverage as dl
    >>> marks, books = dl.examples.replay_sample()
    >>> marks.height, books["timestamp"].n_unique()
    (240, 16)
    """
    data = resources.files("deleverage") / "data"
    with (
        resources.as_file(data / "eth_marks.parquet") as marks,
        resources.as_file(data / "eth_book_snapshots.parquet") as books,
    ):
        return pl.read_parquet(marks), pl.read_parquet(books)


#: ETH/USD on 12–13 March 2020 as (hours after 12 March 00:00 UTC, dollars): the public points
#: :func:`black_thursday_shock` interpolates (log-linearly) between. Sources, in order:
#: $194.97 at the start of 12 March (DeFi Saver, "Black Thursday at DeFi Saver": "$194.97 at
#: 1am", read as 00:00 UTC; Aave's post-mortem gives $193 from CoinMarketCap); $171 at 1 AM PT
#: = 08:00 UTC (Dragonfly Research, "Daos Ex Machina"); $60 lower, about $135, by 13:30 UTC
#: (Cointelegraph, "How EOS and ETH DeFi made it through market turmoil"; DeFi Saver: $136
#: 12 hours in); −43 % over 12 March, so $111.1 at its close (Glassnode via currencies.ru); the
#: bottom, $95.87, 26 hours after the start (DeFi Saver; Aave: $95); the recovery to $130
#: (DeFi Saver, no time given: placed at the end of 13 March, an assumption).
BLACK_THURSDAY_PRICES: tuple[tuple[float, float], ...] = (
    (0.0, 194.97),
    (8.0, 171.0),
    (13.5, 134.97),
    (24.0, 194.97 * (1.0 - 0.43)),
    (26.0, 95.87),
    (48.0, 130.0),
)

#: The hours (after 12 March 00:00 UTC) over which :func:`black_thursday`'s keepers are out:
#: from 12:00 UTC, where the Maker forum's compensation window for zero-bid liquidations
#: starts (Decrypt / The Defiant, "Maker votes not to compensate Black Thursday victims"), to
#: 03:00 UTC on 13 March, an hour after the bottom: **calibrated** so that the zero-bid share
#: of auctions comes out near the public 36 % (no public record says when bidding recovered).
BLACK_THURSDAY_KEEPERS_OUT: tuple[float, float] = (12.0, 27.0)


def black_thursday_shock(step_seconds: float = 300.0) -> Shock:
    """ETH's path over 12–13 March 2020 (48 hours from 12 March 00:00 UTC), one price a step:
    :data:`BLACK_THURSDAY_PRICES` (public points, sources there) interpolated linearly in the
    log of the price; between the points the path is an interpolation, not data.

    Examples
    --------
    >>> import deleverage as dl
    >>> eth = dl.examples.black_thursday_shock().prices["ETH"]  # 5-minute steps
    >>> len(eth), round(float(eth[0]), 2), round(float(eth.min()), 2)  # 48 h; the bottom
    (576, 194.97, 95.87)
    >>> round(float(eth[288] / eth[0]) - 1, 2)  # 12 March's close: −43 %
    -0.43
    """
    dt = finite("step_seconds", step_seconds, low=0.0, low_open=True)
    hours, prices = zip(*BLACK_THURSDAY_PRICES, strict=True)
    t = np.arange(round(48 * 3_600.0 / dt)) * dt / 3_600.0
    return Shock.path({"ETH": np.exp(np.interp(t, hours, np.log(prices)))})


def black_thursday(
    n_vaults: int = 2_000,
    *,
    seed: int = 0,
    step_seconds: float = 300.0,
    keepers_out: tuple[float, float] | None = BLACK_THURSDAY_KEEPERS_OUT,
) -> Scenario:
    """Black Thursday, 12–13 March 2020, on Maker: ETH-A vaults, the one-hour OSM and keepers
    who stop bidding under gas congestion. The scenario carries :func:`black_thursday_shock`'s
    path as its shock, so ``dl.simulate(sc)`` replays the two days.

    **The engine runs Liquidations 2.0, Black Thursday ran Liquidations 1.2.** In 2020 the
    ``Flipper`` sold each lot by an English auction: keepers bid DAI upwards, a bid stood after
    10 minutes without a better one, and when only one keeper could get a transaction in, a
    bid of 0 DAI won the ETH. The engine has the ``Clipper``'s Dutch auction (MECHANICS §5):
    the price starts at the OSM and falls; a keeper takes when it is below what the venue pays.
    Here the price falls linearly to zero over 6 hours (``tau``, the Flipper's auction length;
    UNCONFIRMED from a primary page) and is never reset (``tail`` = ∞, ``cusp`` = 0), so the
    analogue of "won for 0 DAI" is an auction whose price reached zero while the keepers were
    out, taken for nothing when they return. The Flipper's 50-ETH lots (``lump``) are not
    modelled: one vault is one auction, so counts are per vault, not per lot.

    - **ETH** on :func:`black_thursday_shock`'s path, traded on a square-root order book
      ($0.01 tick, 10-minute refill, no permanent impact, so the market follows the record)
      with $5 M of bids within 2 % of the mid: an assumption, no public figure of 2020 depth
      was found. Keepers sell what they take at once, into that book.
    - **OSM**: ``Oracle.delayed(3600)``, the market price of one hour before (the OSM's
      ``hop``; MECHANICS §3). The public record has the feed about $30 above the market
      (Glassnode via currencies.ru); on this path, smooth between the public points, the lag
      alone puts it at most $7.9 above. The feeds' own gas delays are not modelled.
    - **ETH-A**: liquidation ratio 150 % (``mat``), penalty 13 % (``chop`` 1.13), dust 20 DAI
      (raised to 100 in August 2020, blog.makerdao.com, executive vote 14 August 2020),
      stability fee accrued ``rate`` 1, no keeper reward (the Flipper paid none), no limit on
      DAI in auction (Liquidations 1.2 had no ``hole``).
    - **Vaults** (synthetic, calibrated): ``n_vaults`` vaults owing 90 M DAI in all (ETH-A's
      debt ceiling was 100 M DAI until April 2020, when it was cut to 90 M with the debt within
      2.5 M of it: Maker forum and MKR Holder DAI-gest week 14, 2020), log-normal debts (log-sd
      1.5), collateralisation ratios 150 % plus a log-normal of median 350 % and log-sd 1.0:
      the median **calibrated** so that the ETH sold for nothing comes near the public
      $8.32 M (medium.com/@whiterabbit_hq).
    - **Keepers** bid nothing over ``keepers_out`` (hours after 12 March 00:00 UTC;
      :data:`BLACK_THURSDAY_KEEPERS_OUT`, calibrated to the 36 % zero-bid share) by a
      liquidator outage (``Outage.liquidators``): barks go on, takes wait. ``None``: keepers
      never fail, the Liquidations 2.0 counterfactual.

    Calibrated to the record: the path, the ratio, penalty, dust and OSM delay (public
    inputs), the outage's end and the vaults' spread (fitted to the zero-bid share and the
    value sold for nothing). Predicted: the bad debt, when the first vault is barked, and what
    keepers who never stop bidding would have left (no bad debt). The comparison is in
    ``docs/cases/black-thursday.md``.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.black_thursday()
    >>> sc.n_accounts, sc.assets[0].oracle.delay  # the one-hour OSM
    (2000, 3600.0)
    >>> out = sc.outages[0]
    >>> out.start, out.end  # keepers out 12:00–03:00 UTC, in 5-minute steps
    (144, 324)
    >>> res = dl.simulate(sc)  # on the scenario's own shock: ETH's path over the two days
    >>> a = res.auctions
    >>> zero = a.filter(recovered=0.0)  # taken for nothing when the keepers came back
    >>> a.height, zero.height, zero["end_step"].unique().to_list()
    (443, 156, [324])
    >>> round(zero.height / a.height, 2)  # the public record: 36 % of liquidations
    0.35
    """
    if n_vaults < 1:
        raise ScenarioError(f"n_vaults must be >= 1, got {n_vaults}")
    dt = finite("step_seconds", step_seconds, low=0.0, low_open=True)
    price = BLACK_THURSDAY_PRICES[0][1]
    hour = 3_600.0
    rng = np.random.default_rng(seed)
    debt = np.exp(1.5 * rng.standard_normal(n_vaults))
    debt *= 90e6 / debt.sum()
    ratio = 1.5 + rng.lognormal(np.log(3.5), 1.0, n_vaults)
    vaults = pl.DataFrame(
        {
            "account": np.arange(n_vaults, dtype=np.int64),
            "collateral_asset": ["ETH"] * n_vaults,
            "ink": ratio * debt / price,
            "art": debt,
        }
    )
    book = OrderBook.sqrt(
        mid=price, tick=0.01, levels=4_000, sigma=0.02, volume=5e6 / price,
        resilience_half_life=600.0,
    )  # fmt: skip
    sc = Scenario(
        assets=[Asset("ETH", price, venues=[book], oracle=Oracle.delayed(hour))],
        step_seconds=dt,
        steps=round(48 * hour / dt),
        shock=black_thursday_shock(dt),
    )
    eth_a = Clipper(
        "ETH", mat=1.5, rate=1.0, chop=1.13, dust=20.0, buf=1.0, curve="linear",
        tau=6 * hour, tail=math.inf, cusp=0.0, chip=0.0, tip=0.0,
    )  # fmt: skip
    sc = sc.add_vaults(Vaults([eth_a], name="maker"), vaults)
    if keepers_out is None:
        return sc
    start, end = (round(h * hour / dt) for h in keepers_out)
    return sc.with_outages(Outage.liquidators(start, end))


def black_thursday_record(res: Result) -> pl.DataFrame:
    """The run of :func:`black_thursday` against the public record of 12–13 March 2020: one row
    per figure with the record's value and source, the engine's value (``engine``, in the
    figure's unit), the two shown side by side, and whether the figure was calibrated to the
    record or predicted by the run (``basis``). ``docs/cases/black-thursday.md`` discusses
    them (which were calibrated, which predicted).

    Examples
    --------
    >>> import deleverage as dl
    >>> t = dl.examples.black_thursday_record(dl.simulate(dl.examples.black_thursday()))
    >>> t.select("figure", "record", "shown").rows()[0]
    ('auctions won for nothing, share', '36 %', '35.2 %')
    """
    if not isinstance(res, Result):
        raise ScenarioError(f"res must be the Result of a run, got {type(res).__name__}")
    a = res.auctions
    if a.height == 0:
        raise ScenarioError("res has no auctions: run it on dl.examples.black_thursday()")
    zero = a.filter(pl.col("recovered") == 0.0)
    market = res.steps.sort("step")["reference"]
    nothing = float((zero["lot"] * market.gather(zero["end_step"])).sum())
    bad = float(a["bad_debt"].sum())
    whiterabbit = "medium.com/@whiterabbit_hq"
    rows = [
        ("auctions won for nothing, share", "36 %", whiterabbit, zero.height / a.height,
         f"{zero.height / a.height:.1%}".replace("%", " %"), "calibrated"),
        ("collateral sold for nothing (USD)", "$8.32M", whiterabbit, nothing,
         f"${nothing / 1e6:.2f}M", "calibrated"),
        ("protocol bad debt (DAI)", "5.67M; ~4.5M; 6.65M (UNCONFIRMED which)",
         f"{whiterabbit}; forum.makerdao.com thread 1433; The Bulletin Time", bad,
         f"{bad / 1e6:.2f}M", "predicted"),
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=RECORD_COLUMNS, orient="row")
