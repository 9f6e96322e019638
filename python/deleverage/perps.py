"""Perpetual futures: markets with maintenance-margin brackets, an exchange with its insurance
fund, auto-deleveraging and backstop rules (MECHANICS §6), added to a scenario with
:meth:`Scenario.add_perps <deleverage.Scenario.add_perps>`.

A perp market is an asset of the scenario: its venues are the perp order book, its oracle the
mark price (``Oracle.blend`` mixes the perp mid with the index, ``Oracle.reference`` is the index
alone). Positions are a Polars frame with the columns ``account``, ``market`` (an asset name),
``size`` (signed: + long, − short), ``entry_price``, ``margin`` and optionally ``mode``
(``"cross"`` or ``"isolated"``, default ``"cross"``). Cross rows of one account share one wallet,
the sum of their margins; each isolated row is its own margin pool. With an exchange's
``margin_assets`` (Binance's Multi-Assets Mode), an optional ``margin_asset`` column says what a
cross row's ``margin`` is in: ``"quote"`` (or null) for the quote, or the name of a margin asset
for units of that asset (see ``docs/perps.md``).

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> book = dl.OrderBook.linear(mid=60_000.0, tick=1.0, levels=2_000, depth_per_level=2.0)
>>> sc = dl.Scenario(assets=[dl.Asset("BTC-PERP", 60_000.0, venues=[book],
...                                   oracle=dl.Oracle.blend(0.5))], steps=10)
>>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.005))],
...                      insurance_fund=1e5)
>>> pos = pl.DataFrame({"account": [1, 2], "market": ["BTC-PERP"] * 2, "size": [2.0, -2.0],
...                     "entry_price": [60_000.0, 60_000.0], "margin": [6_000.0, 6_000.0]})
>>> res = dl.simulate(sc.add_perps(ex, pos), shock=dl.Shock.instant({"BTC-PERP": -0.15}))
>>> res.positions["status"].to_list()
['closed', 'active']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core
from deleverage._breach import account_ids, family_breaches
from deleverage._checks import (
    Place,
    finite,
    get_num,
    get_num_list,
    get_str,
    items,
    known_names,
    names,
    numbers,
    one_of,
    positions_frame,
    protocol_name,
    table,
    unique_rows,
    wrap,
)
from deleverage.exceptions import ScenarioError

__all__ = ["Brackets", "PartialLiquidation", "PerpExchange", "PerpMarket"]

#: The ADL rankings of :class:`PerpExchange` (MECHANICS §6.4).
AdlRanking = Literal["bitmex", "binance", "pnl_ratio", "size", "dydx"]

PERP_COLUMNS = ("account", "market", "size", "entry_price", "margin")
#: A row's ``margin_asset`` when its margin is quote (null reads as this too).
QUOTE = "quote"
#: The core's code for a row whose margin is quote (``deleverage_core::QUOTE_MARGIN``).
_QUOTE_CODE = 2**32 - 1
ADL_RULES = names("adl")


@dataclass(frozen=True)
class Brackets:
    """Maintenance-margin brackets (Binance style): notional caps, increasing, and their
    maintenance-margin rates, non-decreasing. ``MM = N·MMR_n − cum_n`` with the maintenance
    amounts ``cum_n = cap_{n−1}·(MMR_n − MMR_{n−1}) + cum_{n−1}`` that keep MM continuous. The
    last cap may be ``math.inf``.

    Examples
    --------
    >>> import deleverage as dl
    >>> b = dl.Brackets([50_000.0, 250_000.0, float("inf")], [0.004, 0.005, 0.01])
    >>> dl.Brackets.hyperliquid(max_leverage=40).rates
    (0.0125,)
    """

    caps: Sequence[float]
    rates: Sequence[float]

    def __post_init__(self) -> None:
        for what, v in (("caps", self.caps), ("rates", self.rates)):
            if isinstance(v, str) or not isinstance(v, Sequence | np.ndarray):
                raise ScenarioError(f"Brackets {what} must be a list of numbers, got {v!r}")
        try:
            caps = tuple(float(c) for c in self.caps)
            rates = tuple(float(r) for r in self.rates)
        except (TypeError, ValueError):
            raise ScenarioError(
                f"Brackets caps and rates must be numbers, got {self.caps!r} and {self.rates!r}"
            ) from None
        if not caps or len(caps) != len(rates):
            raise ScenarioError(
                f"Brackets need as many rates as caps (and at least one), got {len(caps)} caps "
                f"and {len(rates)} rates"
            )
        for i, (c, r) in enumerate(zip(caps, rates, strict=True)):
            if math.isnan(c) or c <= 0:
                raise ScenarioError(f"Brackets caps[{i}] must be > 0, got {c}")
            if not (0.0 <= r < 1.0):
                raise ScenarioError(f"Brackets rates[{i}] must be in [0, 1), got {r}")
            if i and (c <= caps[i - 1] or r < rates[i - 1]):
                raise ScenarioError(
                    f"Brackets must increase in cap and not decrease in rate: bracket {i} "
                    f"({c}, {r}) follows ({caps[i - 1]}, {rates[i - 1]})"
                )
        object.__setattr__(self, "caps", caps)
        object.__setattr__(self, "rates", rates)

    def maintenance_margin(self, notional: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``MM = N·MMR_n − cum_n`` for each notional ``N`` (the bracket of ``N`` is the first
        whose cap is at least ``N``; above every cap, the last).

        Examples
        --------
        >>> import deleverage as dl
        >>> b = dl.Brackets([50_000.0, 250_000.0, 1e6, 5e6], [0.004, 0.005, 0.01, 0.025])
        >>> round(float(b.maintenance_margin([3_500_032.458])[0]), 5)  # Binance's FAQ: 71,200.81
        71200.81145
        """
        # The core's rule, the one the exchange liquidates with.
        n = np.ascontiguousarray(np.asarray(notional, dtype=np.float64).ravel())
        caps = np.asarray(self.caps, dtype=np.float64)
        return _core.maintenance_margin(caps, np.asarray(self.rates, dtype=np.float64), n)

    @classmethod
    def flat(cls, rate: float) -> Brackets:
        """One maintenance-margin rate for every size.

        Examples
        --------
        >>> import deleverage as dl
        >>> b = dl.Brackets.flat(0.004)
        >>> b.caps, b.rates
        ((inf,), (0.004,))
        >>> b.maintenance_margin([10_000.0, 2_000_000.0]).tolist()  # 0.4 % of any notional
        [40.0, 8000.0]
        """
        return cls([math.inf], [rate])

    @classmethod
    def hyperliquid(cls, max_leverage: float) -> Brackets:
        """Hyperliquid: maintenance margin is half the initial margin at maximum leverage
        (1 % at 50×), MECHANICS §6.5.

        Examples
        --------
        >>> import deleverage as dl
        >>> b = dl.Brackets.hyperliquid(max_leverage=50)  # initial margin 2 %
        >>> b.rates
        (0.01,)
        >>> b.maintenance_margin([250_000.0]).tolist()
        [2500.0]
        """
        lev = finite("max_leverage", max_leverage, low=1.0)
        return cls.flat(0.5 / lev)


@dataclass(frozen=True)
class PerpMarket:
    """A perp market: the scenario asset it trades as, and its brackets.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.004)).asset
    'BTC-PERP'
    """

    asset: str
    brackets: Brackets

    def __post_init__(self) -> None:
        if not isinstance(self.asset, str) or not self.asset:
            raise ScenarioError(f"PerpMarket asset must be a non-empty string, got {self.asset!r}")
        if not isinstance(self.brackets, Brackets):
            raise ScenarioError(f"PerpMarket {self.asset!r}: brackets must be deleverage.Brackets")


@dataclass(frozen=True)
class PartialLiquidation:
    """Partial liquidation: a position above ``threshold`` notional sends only ``fraction`` of
    itself to the book, then its account waits ``cooldown`` seconds. With ``repeat=False``
    (Hyperliquid) the next order takes the whole remainder; with ``True`` every order is a slice.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.PartialLiquidation.hyperliquid().fraction
    0.2
    """

    threshold: float = 100_000.0
    fraction: float = 0.2
    cooldown: float = 30.0
    repeat: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "threshold", finite("partial threshold", self.threshold, low=0.0))
        set_(self, "fraction", finite("partial fraction", self.fraction, low=0.0, high=1.0,
                                       low_open=True))  # fmt: skip
        set_(self, "cooldown", finite("partial cooldown", self.cooldown, low=0.0))
        if not isinstance(self.repeat, bool):
            raise ScenarioError(f"partial repeat must be True or False, got {self.repeat!r}")

    @classmethod
    def hyperliquid(cls) -> PartialLiquidation:
        """20 % above 100,000 USDC notional, then a 30 s cooldown (MECHANICS §6.5)."""
        return cls(100_000.0, 0.2, 30.0, False)


@dataclass(frozen=True)
class PerpExchange:
    """A perp exchange: its markets and liquidation rules.

    ``fee_rate``: the clearance fee on a liquidation fill's notional, taken from the surplus over
    the bankruptcy price (``math.inf`` takes the whole surplus, as BitMEX). ``insurance_fund``:
    quote at the start; it pays fills worse than the bankruptcy price and never goes negative:
    what it cannot cover is auto-deleveraged at the bankruptcy price, ranked by ``adl``
    (``"bitmex"`` PnL%·effective leverage, ``"binance"`` LeveragePnl, ``"pnl_ratio"``,
    ``"size"``, or ``"dydx"``: id order from a seeded pseudo-random start). ``partial``: a
    :class:`PartialLiquidation` or None (full closes). ``backstop``: a vault takes over accounts
    whose equity falls below 2/3 of their maintenance margin. ``trigger``: ``"below"``
    (equity < MM, Hyperliquid) or ``"at_or_below"`` (margin ratio ≥ 100 %, Binance).
    ``margin_assets``: scenario assets taken as cross margin besides the quote, each with its
    collateral value ratio in (0, 1] (Binance's Multi-Assets Mode: 0.95 for BTC and ETH): a
    pool's equity counts their units at the exchange's oracle price times the ratio, and when a
    liquidation leaves its quote wallet negative the exchange sells them on their venues to
    cover it, in proportion to their value; the fund pays what the sales do not cover, and the
    rest is bad debt.

    Examples
    --------
    >>> import deleverage as dl
    >>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.004))],
    ...                      fee_rate=0.0125, insurance_fund=5e6, adl="binance")
    >>> ex.name
    'perps'
    >>> dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.005))],
    ...                 margin_assets={"stETH": 0.95}).margin_assets
    {'stETH': 0.95}
    """

    markets: Sequence[PerpMarket]
    fee_rate: float = 0.005
    insurance_fund: float = 0.0
    adl: AdlRanking = "bitmex"
    partial: PartialLiquidation | None = None
    backstop: bool = False
    trigger: Literal["below", "at_or_below"] = "below"
    name: str = "perps"
    margin_assets: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        protocol_name("PerpExchange", self.name)
        markets = items(self.markets, PerpMarket, f"{self.name}: ", "markets")
        assets = [m.asset for m in markets]
        if len(set(assets)) != len(assets):
            raise ScenarioError(f"{self.name}: a market appears twice in {assets}")
        object.__setattr__(self, "markets", markets)
        try:
            fee = float(self.fee_rate)
        except (TypeError, ValueError):
            raise ScenarioError(
                f"{self.name}: fee_rate must be a number, got {self.fee_rate!r}"
            ) from None
        if math.isnan(fee) or fee < 0:
            raise ScenarioError(
                f"{self.name}: fee_rate must be >= 0 (inf: all the surplus), got {fee}"
            )
        object.__setattr__(self, "fee_rate", fee)
        object.__setattr__(
            self,
            "insurance_fund",
            finite(f"{self.name}: insurance_fund", self.insurance_fund, low=0.0),
        )
        if not isinstance(self.backstop, bool):
            raise ScenarioError(
                f"{self.name}: backstop must be True or False, got {self.backstop!r}"
            )
        if self.adl not in ADL_RULES:
            raise ScenarioError(f"{self.name}: adl must be one of {ADL_RULES}, got {self.adl!r}")
        if self.trigger not in names("trigger"):
            raise ScenarioError(
                f"{self.name}: trigger must be {one_of(names('trigger'))}, got {self.trigger!r}"
            )
        if self.partial is not None and not isinstance(self.partial, PartialLiquidation):
            raise ScenarioError(f"{self.name}: partial must be a PartialLiquidation or None")
        if not isinstance(self.margin_assets, Mapping):
            raise ScenarioError(
                f"{self.name}: margin_assets must map asset names to collateral value ratios, "
                f"got {type(self.margin_assets).__name__}"
            )
        ratios = {}
        for a, r in self.margin_assets.items():
            if not isinstance(a, str) or not a or a == QUOTE or a in assets:
                raise ScenarioError(
                    f"{self.name}: margin_assets names {a!r}; a margin asset is a scenario "
                    f"asset other than the exchange's markets {assets} (and not {QUOTE!r})"
                )
            ratios[a] = finite(f"{self.name}: margin_assets[{a!r}]", r, low=0.0, high=1.0,
                               low_open=True)  # fmt: skip
        object.__setattr__(self, "margin_assets", ratios)

    @property
    def assets(self) -> list[str]:
        """The assets of its markets.

        Examples
        --------
        >>> import deleverage as dl
        >>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.004)),
        ...                       dl.PerpMarket("ETH-PERP", dl.Brackets.hyperliquid(25))])
        >>> ex.assets  # each must be an asset of the scenario it is added to
        ['BTC-PERP', 'ETH-PERP']
        """
        return [m.asset for m in self.markets]

    def liquidatable(self, positions: pl.DataFrame, prices: dict[str, float]) -> pl.DataFrame:
        """The positions of margin pools that breach their maintenance margin at ``prices``
        (asset → mark), with nothing traded: what a liquidation heatmap counts, by the engine's
        own rule. Cross rows of an account form one pool; each isolated row is its own. Several
        cross rows of one account in one market are the one position the exchange holds (sizes
        summed, entry price size-weighted, margins summed). Adds the columns ``mark``,
        ``notional`` (of the row), and the pool's ``equity`` and ``maintenance_margin``.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))])
        >>> pos = pl.DataFrame({"account": [1, 2], "market": ["BTC-PERP"] * 2,
        ...                     "size": [1.0, 2.0], "entry_price": [100.0, 100.0],
        ...                     "margin": [10.0, 40.0], "mode": ["isolated"] * 2})
        >>> ex.liquidatable(pos, {"BTC-PERP": 90.0})["account"].to_list()
        [1]
        """
        df = self._check_positions(positions, netting=True).with_row_index("row")
        for a in [*self.assets, *self.margin_assets]:
            if a not in prices:
                what = "market" if a in self.assets else "margin asset"
                raise ScenarioError(f"{self.name}: prices lack the {what} {a!r}")
            finite(f"prices[{a!r}]", prices[a], low=0.0, low_open=True)
        # One engine position per isolated row and per (account, market) of cross rows.
        key = pl.when(pl.col("mode") == "cross").then(pl.lit(-1)).otherwise(pl.col("row"))
        groups = (
            df.with_columns(key.alias("key"))
            .group_by("account", "market", "mode", "key", maintain_order=True)
            .agg(
                pl.col("row"),
                *(
                    [pl.col("margin_asset").unique(maintain_order=True)]
                    if "margin_asset" in df.columns
                    else []
                ),
                pl.col("size").sum(),
                ((pl.col("size") * pl.col("entry_price")).sum() / pl.col("size").sum()).alias(
                    "entry_price"
                ),
                pl.col("margin").sum(),
                (pl.col("size") * pl.col("entry_price")).sum().alias("cost"),
            )
        )
        if "margin_asset" in df.columns:
            two = groups.filter(pl.col("margin_asset").list.len() > 1)
            if two.height:
                acc, market, assets = two.select("account", "market", "margin_asset").row(0)
                raise ScenarioError(
                    f"{self.name}: rows of account {acc!r} in {market!r} post margin in "
                    f"{assets[:2]}; the exchange's position in a market takes one margin asset"
                )
            groups = groups.with_columns(pl.col("margin_asset").list.first())
        # Cross rows that net to nothing hold no position, but their margin and locked-in PnL
        # (Σ s·(mark − e) = −Σ s·e when Σ s = 0) stay in the account's cross wallet: they go to
        # the account's first cross position that is left.
        flat = groups.filter((pl.col("size") == 0) & (pl.col("mode") == "cross"))
        held = groups.filter(pl.col("size") != 0)
        if flat.height and "margin_asset" in df.columns:
            # The margin of rows that net out would join a position of the account: one in
            # the same asset, which it need not have. Summed by the caller, it is unambiguous.
            mixed = flat.join(
                groups.filter(pl.col("margin_asset") != QUOTE).select("account").unique(),
                on="account",
            )
            if mixed.height:
                acc, market = mixed.select("account", "market").row(0)
                raise ScenarioError(
                    f"{self.name}: cross rows of account {acc!r} in {market!r} net to zero while "
                    "the account posts margin in a margin asset; sum its rows per market first"
                )
        if flat.height:
            extra = flat.group_by("account").agg((pl.col("margin") - pl.col("cost")).sum())
            first = (
                held.with_row_index("i")
                .filter(pl.col("mode") == "cross")
                .group_by("account")
                .agg(pl.col("i").min())
                .join(extra, on="account")
            )
            bump = np.zeros(held.height)
            bump[first["i"].to_numpy()] = first["margin"].to_numpy()
            held = held.with_columns(pl.col("margin") + pl.Series(bump))
        held = held.drop("cost").with_row_index("position")
        names = [*self.assets, *self.margin_assets]
        spec = self._spec(names, held.drop("row"), account_ids(held))
        hit = family_breaches(spec, names, prices).select(
            pl.col("row").cast(pl.UInt32).alias("position"),
            pl.col("margin").alias("equity"),
            pl.col("requirement").alias("maintenance_margin"),
        )
        rows = held.select("position", "row").join(hit, on="position").explode("row")
        mark = pl.col("market").replace_strict(prices, return_dtype=pl.Float64)
        return (
            df.join(rows.drop("position"), on="row")
            .sort("row")
            .with_columns(mark.alias("mark"))
            .with_columns((pl.col("size").abs() * pl.col("mark")).alias("notional"))
            .select(*PERP_COLUMNS, "mode", "mark", "notional", "equity", "maintenance_margin")
        )

    def _check_positions(self, positions: pl.DataFrame, *, netting: bool = False) -> pl.DataFrame:
        """The rows checked and typed. The engine takes one cross position per account and
        market; a margin check of rows that net out (:meth:`liquidatable`, ``netting``) takes
        several."""
        where = self.name
        mode = pl.lit("cross")
        if isinstance(positions, pl.DataFrame) and "mode" in positions.columns:
            mode = pl.col("mode")
        extra = [mode.alias("mode")]
        if isinstance(positions, pl.DataFrame) and "margin_asset" in positions.columns:
            extra.append(pl.col("margin_asset").cast(pl.String).fill_null(QUOTE))
        df = positions_frame(positions, where, PERP_COLUMNS, *extra)
        known_names(df, "market", self.assets, where, "market")
        if "margin_asset" in df.columns:
            known_names(df, "margin_asset", [QUOTE, *self.margin_assets], where, "margin asset")
            iso = df.filter((pl.col("mode") == "isolated") & (pl.col("margin_asset") != QUOTE))
            if iso.height:
                acc, asset = iso.select("account", "margin_asset").row(0)
                raise ScenarioError(
                    f"{where}: account {acc!r} posts {asset!r} as the margin of an isolated "
                    "position; margin assets are cross margin (Binance's Multi-Assets Mode), an "
                    "isolated position's margin is quote"
                )
        known_names(df, "mode", ["cross", "isolated"], where, "margin mode")
        numbers(df, "size", where, "non-zero", lambda v: v != 0)
        numbers(df, "entry_price", where, "> 0", lambda v: v > 0)
        numbers(df, "margin", where, ">= 0", lambda v: v >= 0)
        if not netting:
            unique_rows(
                df,
                ["account", "market"],
                where,
                "one cross position per account and market (sum them into one row)",
                only=pl.col("mode") == "cross",
            )
        return df.with_columns(
            pl.col("market").cast(pl.String),
            pl.col("size").cast(pl.Float64),
            pl.col("entry_price").cast(pl.Float64),
            pl.col("margin").cast(pl.Float64),
            pl.col("mode").cast(pl.String),
        )

    def _spec(
        self, asset_names: list[str], positions: pl.DataFrame, account_ids: np.ndarray
    ) -> dict[str, Any]:
        market_of = {m.asset: k for k, m in enumerate(self.markets)}
        margin_of = {QUOTE: _QUOTE_CODE} | {a: k for k, a in enumerate(self.margin_assets)}
        if "margin_asset" in positions.columns:
            margin_asset = (
                positions["margin_asset"].replace_strict(margin_of, return_dtype=pl.UInt32)
            ).to_numpy()
        else:
            margin_asset = np.full(positions.height, _QUOTE_CODE, dtype=np.uint32)
        return {
            "kind": "perps",
            "name": self.name,
            "markets": [
                {
                    "asset": asset_names.index(m.asset),
                    "caps": np.array(m.brackets.caps, dtype=np.float64),
                    "mmr": np.array(m.brackets.rates, dtype=np.float64),
                }
                for m in self.markets
            ],
            "fee_rate": float(self.fee_rate),
            "insurance_fund": float(self.insurance_fund),
            "adl": self.adl,
            "partial": None
            if self.partial is None
            else {
                "threshold": float(self.partial.threshold),
                "fraction": float(self.partial.fraction),
                "cooldown": float(self.partial.cooldown),
                "repeat": bool(self.partial.repeat),
            },
            "backstop": bool(self.backstop),
            "trigger": self.trigger,
            "margin_assets": [
                {"asset": asset_names.index(a), "ratio": float(r)}
                for a, r in self.margin_assets.items()
            ],
            "positions": {
                "account": np.ascontiguousarray(account_ids, dtype=np.uint32),
                "market": positions["market"]
                .replace_strict(market_of, return_dtype=pl.UInt32)
                .to_numpy(),
                "size": positions["size"].to_numpy(),
                "entry_price": positions["entry_price"].to_numpy(),
                "margin": positions["margin"].to_numpy(),
                "cross": (positions["mode"] == "cross").to_numpy(),
                "margin_asset": margin_asset,
            },
        }

    @classmethod
    def _from_toml(cls, v: Any, place: Place) -> tuple[PerpExchange, Any]:
        """A ``[[perps]]`` table of a scenario file: the exchange, and the side file of its
        positions."""
        t = table(
            v,
            place,
            {
                "name",
                "fee_rate",
                "insurance_fund",
                "adl",
                "backstop",
                "trigger",
                "partial",
                "markets",
                "positions",
                "margin_assets",
            },
        )
        markets = t.get("markets")
        if not isinstance(markets, list) or not markets:
            raise (place / "markets").error(
                "expected a non-empty array of tables [[perps.markets]]"
            )
        ms = []
        for k, m in enumerate(markets):
            mp = place / "markets" / k
            m = table(m, mp, {"asset", "caps", "rates"})
            brackets = wrap(
                mp,
                lambda m=m, mp=mp: Brackets(
                    get_num_list(m, "caps", mp), get_num_list(m, "rates", mp)
                ),
            )
            ms.append(PerpMarket(get_str(m, "asset", mp), brackets))
        partial = None
        if "partial" in t:
            pp = place / "partial"
            q = table(t["partial"], pp, {"threshold", "fraction", "cooldown", "repeat"})
            repeat = q.get("repeat", False)
            if not isinstance(repeat, bool):
                raise (pp / "repeat").error(f"expected true or false, got {repeat!r}")
            partial = wrap(
                pp,
                lambda: PartialLiquidation(
                    get_num(q, "threshold", pp, 100_000.0),
                    get_num(q, "fraction", pp, 0.2),
                    get_num(q, "cooldown", pp, 30.0),
                    repeat,
                ),
            )
        backstop = t.get("backstop", False)
        if not isinstance(backstop, bool):
            raise (place / "backstop").error(f"expected true or false, got {backstop!r}")
        margin_assets = t.get("margin_assets", {})
        if not isinstance(margin_assets, dict):
            raise (place / "margin_assets").error(
                f"expected a table of asset = collateral value ratio, got {margin_assets!r}"
            )
        ratios = {a: get_num(margin_assets, a, place / "margin_assets") for a in margin_assets}
        ex = wrap(
            place,
            lambda: cls(
                ms,
                fee_rate=get_num(t, "fee_rate", place, 0.005),
                insurance_fund=get_num(t, "insurance_fund", place, 0.0),
                adl=get_str(t, "adl", place, "bitmex"),  # type: ignore[arg-type]
                partial=partial,
                backstop=backstop,
                trigger=get_str(t, "trigger", place, "below"),  # type: ignore[arg-type]
                name=get_str(t, "name", place, "perps"),
                margin_assets=ratios,
            ),
        )
        if "positions" not in t:
            raise (place / "positions").error("missing; a side file or { file = …, format = … }")
        return ex, t["positions"]

    def _to_toml(self, positions_file: str) -> dict[str, Any]:
        """Its ``[[perps]]`` table, naming the side file of its positions."""
        t: dict[str, Any] = {
            "name": self.name,
            "fee_rate": self.fee_rate,
            "insurance_fund": self.insurance_fund,
            "adl": self.adl,
            "backstop": self.backstop,
            "trigger": self.trigger,
            "markets": [
                {"asset": m.asset, "caps": list(m.brackets.caps), "rates": list(m.brackets.rates)}
                for m in self.markets
            ],
        }
        if self.margin_assets:
            t["margin_assets"] = dict(self.margin_assets)
        if self.partial is not None:
            p = self.partial
            t["partial"] = {
                "threshold": p.threshold,
                "fraction": p.fraction,
                "cooldown": p.cooldown,
                "repeat": p.repeat,
            }
        return t | {"positions": positions_file}
