"""The engine: a scenario held open for a backtest's own loop (:class:`Engine`), and
:func:`simulate`, which runs the same engine to quiet in one call.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=500)
>>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25), seed=7)
>>> res.summary["bad_debt"].item() >= 0
True
>>> eng = dl.Engine(sc, shock=dl.Shock.instant(ETH=-0.25), seed=7)
>>> rep = eng.step()  # step 0: the shock, and the cascade it sets off
>>> rep.liquidations > 0
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core, _depth
from deleverage._core import Fill, StepReport
from deleverage._spec import _named, build_spec
from deleverage.exceptions import DeleverageError, ScenarioError
from deleverage.market import quote_prices
from deleverage.perps import PerpExchange
from deleverage.result import Result, build_result
from deleverage.scenario import Scenario
from deleverage.shock import Shock
from deleverage.vaults import Vaults

__all__ = ["Engine", "EngineState", "StepReport", "simulate"]


@dataclass(frozen=True)
class EngineState:
    """The state of an :class:`Engine` now, as Polars frames.

    Attributes
    ----------
    venues:
        One row per venue: asset, venue index and kind, whether it is halted (a venue-halt
        outage), mid, best bid and ask in quote (null when a side is empty or the venue is
        halted; a pegged asset's venues quote it in its underlying, shown here times the
        underlying's mid), and the quantity within 2 % of the mid on each side.
    assets:
        One row per asset: reference, routed mid, oracle price.
    accounts, positions, vaults, auctions, funds:
        Every family's accounts as in :class:`Result` (health factor, liquidation and
        bankruptcy prices, status, …), at the current prices.
    """

    venues: pl.DataFrame
    assets: pl.DataFrame
    accounts: pl.DataFrame
    positions: pl.DataFrame
    vaults: pl.DataFrame
    auctions: pl.DataFrame
    funds: pl.DataFrame


class Engine:
    """A scenario's engine held open: the loop a backtest drives, on the same Rust engine as
    :func:`simulate` (which is ``Engine(...).run_to_quiet()`` and ``result()``).

    The engine starts at step 0 of the scenario's path (its ``shock``, or the scenario's own).
    :meth:`step` advances one step, taking the path's reference price unless given others;
    :meth:`submit` trades the user's own order against the same depth the liquidations hit;
    :meth:`fork` copies the whole state for a what-if branch. The same inputs and seed give
    the same results as :func:`simulate`, step by step.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=300, steps=20)
    >>> eng = dl.Engine(sc, shock=dl.Shock.instant(ETH=-0.2), seed=7)
    >>> fill = eng.submit("ETH", "sell", 10.0)  # before the shock, on the ETH venues
    >>> fill.filled
    10.0
    >>> rep = eng.step(reference={"ETH": 2_400.0})
    >>> rep.step, rep.liquidations > 0
    (0, True)
    >>> branch = eng.fork()  # a what-if: ETH at 2,000 in the branch only
    >>> branch.step({"ETH": 2_000.0}).step, eng.steps_run
    (1, 1)
    >>> eng.run_to_quiet()
    True
    >>> eng.result().summary["liquidations"].item() > 0
    True
    """

    def __init__(
        self,
        scenario: Scenario,
        shock: Shock | None = None,
        *,
        seed: int | None = None,
        max_extra_steps: int = 10_000,
    ) -> None:
        spec, labels, n_lending = build_spec(scenario, shock, seed, max_extra_steps)
        # What labels the results (not the scenario itself: an engine pickles without it).
        # Starting prices in quote (a pegged asset's through its underlying): the summary's
        # drawdowns are measured from them.
        self._pegs = [a.peg for a in scenario.assets]
        self._prices = [
            float(p) for p in quote_prices(scenario.assets, [a.price for a in scenario.assets])
        ]
        self._protocols = scenario.protocol_names
        self._families = [f.protocol for f in scenario.families]
        self._rows = [
            f.positions.select("account", *_market_of(f.protocol)) for f in scenario.families
        ]
        self._labels = labels
        self._n_lending = n_lending
        self._path_steps = int(spec["steps"])
        self._assets = scenario.asset_names
        self._index = {a: k for k, a in enumerate(self._assets)}
        try:
            self._core = _core.Engine(spec)
        except DeleverageError as e:
            raise _named(e, self._protocols, labels) from None
        self._traded = [k for k, a in enumerate(scenario.assets) if a.venues]
        self._depth_before = _depth.snapshot(self._core, self._traded, self._prices)

    @classmethod
    def _of(cls, parent: Engine, core: _core.Engine) -> Engine:
        eng = cls.__new__(cls)
        eng.__dict__.update(parent.__dict__)
        eng._core = core
        return eng

    @property
    def asset_names(self) -> list[str]:
        """The scenario's assets, in the order of reference arrays."""
        return list(self._assets)

    @property
    def steps_run(self) -> int:
        """Steps run so far (the next step's index)."""
        return self._core.steps_run

    @property
    def quiet(self) -> bool:
        """Whether the market is quiet: nothing queued and no liquidation for as long as the
        slowest oracle lags."""
        return self._core.quiet

    def _asset(self, asset: str) -> int:
        if asset not in self._index:
            raise ScenarioError(
                f"asset {asset!r} is not in the scenario; assets are {self._assets}"
            )
        return self._index[asset]

    def _row(self, reference: Mapping[str, float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """One step's reference prices: NaN for an asset left to the path."""
        n = len(self._assets)
        if isinstance(reference, Mapping):
            row = np.full(n, np.nan)
            for name, price in reference.items():
                k = self._asset(name)
                row[k] = _price(f"reference[{name!r}]", price)
            return row
        try:
            arr = np.asarray(reference, dtype=np.float64)
        except (TypeError, ValueError):
            raise ScenarioError(
                f"reference must be a dict by asset name or an array of {n} prices, got "
                f"{type(reference).__name__}"
            ) from None
        if arr.shape != (n,):
            raise ScenarioError(
                f"reference must have one price per asset ({n}: {self._assets}), got shape "
                f"{arr.shape}"
            )
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            k = int(np.argmax(bad))
            _price(f"reference[{self._assets[k]!r}]", arr[k])
        return arr

    def step(self, reference: Mapping[str, float] | npt.ArrayLike | None = None) -> StepReport:
        """Advances one step. ``reference`` sets this step's exogenous reference price of some
        assets (a dict by name) or all (an array in asset order); the others take the
        scenario's path (or hold its last price once the path has run out). Returns a light
        :class:`StepReport`: liquidations and notional (also per family, in the order of the
        spec: lending first), bad debt, rounds, queue length, insurance funds, mids and oracle
        prices.

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> eng.step().liquidations  # no shock: nothing breaches
        0
        >>> rep = eng.step({"ETH": 2_100.0})
        >>> rep.liquidations > 0, len(rep.mids)
        (True, 2)
        """
        row = None if reference is None else self._row(reference)
        try:
            return self._core.step(row)
        except DeleverageError as e:
            raise _named(e, self._protocols, self._labels) from None

    def run(self, references: npt.ArrayLike | pl.DataFrame) -> int:
        """Runs one step per row of ``references`` in one call with the GIL released: a 2-D
        array (steps × assets, in asset order) or a Polars frame with a column per asset given
        (others follow the path; a null leaves that step's price to the path). Returns the
        number of steps run (fewer only if interrupted).

        Examples
        --------
        >>> import numpy as np
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> eng.run(np.array([[3_000.0, 1.0], [2_900.0, 1.0], [2_800.0, 1.0]]))
        3
        >>> eng.steps_run
        3
        """
        n = len(self._assets)
        if isinstance(references, pl.DataFrame):
            unknown = [c for c in references.columns if c not in self._index]
            if unknown:
                raise ScenarioError(
                    f"references has columns {unknown} that are not assets; assets are "
                    f"{self._assets}"
                )
            rows = np.full((references.height, n), np.nan)
            for c in references.columns:
                try:
                    col = references[c].cast(pl.Float64).to_numpy()
                except pl.exceptions.PolarsError:
                    raise ScenarioError(
                        f"references[{c!r}] must be numbers, got {references[c].dtype}"
                    ) from None
                given = ~np.isnan(col)
                bad = given & ~(np.isfinite(col) & (col > 0))
                if bad.any():
                    i = int(np.argmax(bad))
                    raise ScenarioError(
                        f"references[{c!r}] must be positive prices, got {col[i]} (row {i})"
                    )
                rows[:, self._index[c]] = col
        else:
            try:
                rows = np.asarray(references, dtype=np.float64)
            except (TypeError, ValueError):
                raise ScenarioError(
                    f"references must be a 2-D array (steps × {n} assets) or a Polars frame, "
                    f"got {type(references).__name__}"
                ) from None
            if rows.ndim != 2 or rows.shape[1] != n:
                raise ScenarioError(
                    f"references must have shape (steps, {n}) for the assets {self._assets}, "
                    f"got {rows.shape}"
                )
            bad = ~(np.isfinite(rows) & (rows > 0))
            if bad.any():
                i, k = (int(x) for x in np.argwhere(bad)[0])
                raise ScenarioError(
                    f"references[{i}, {k}] ({self._assets[k]}) must be a positive price, got "
                    f"{rows[i, k]}"
                )
        try:
            return self._core.run(np.ascontiguousarray(rows.ravel()))
        except DeleverageError as e:
            raise _named(e, self._protocols, self._labels) from None

    def run_to_quiet(self, max_extra_steps: int | None = None) -> bool:
        """Runs what is left of the scenario's path, then holds its last reference until the
        market is quiet, at most ``max_extra_steps`` more (the engine's, 10,000 by default).
        Returns whether it is quiet. This is what :func:`simulate` runs.

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5),
        ...                 shock=dl.Shock.instant(ETH=-0.3))
        >>> eng.run_to_quiet(), eng.steps_run >= 5
        (True, True)
        """
        if max_extra_steps is not None and (
            int(max_extra_steps) != max_extra_steps or max_extra_steps < 0
        ):
            raise ScenarioError(
                f"max_extra_steps must be a whole number >= 0, got {max_extra_steps}"
            )
        try:
            return self._core.run_to_quiet(
                None if max_extra_steps is None else int(max_extra_steps)
            )
        except DeleverageError as e:
            raise _named(e, self._protocols, self._labels) from None

    def submit(
        self,
        asset: str,
        side: Literal["sell", "buy"],
        qty: float,
        venue: int | None = None,
        limit: float | None = None,
    ) -> Fill:
        """The user's own market order between steps: ``qty`` of ``asset`` sold or bought
        through the router at best execution across the asset's venues (or on ``venue``, its
        index, alone), as a marketable limit order when ``limit`` is given (it trades only while
        the marginal price is no worse than ``limit``). It consumes the same depth the
        liquidations hit, moves a spot oracle at once, and the next step's rounds see it; it is
        recorded as a ``user_sell``/``user_buy`` event.

        Examples
        --------
        >>> import deleverage as dl
        >>> book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=10, depth_per_level=2.0)
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])], steps=3)
        >>> eng = dl.Engine(sc)
        >>> f = eng.submit("ETH", "sell", 5.0)  # bids 99, 98, 97 … with 2 each
        >>> f.filled, f.notional  # 2·99 + 2·98 + 97
        (5.0, 491.0)
        >>> eng.submit("ETH", "sell", 5.0, limit=96.0).filled  # 1 left at 97 and 2 at 96
        3.0
        """
        k = self._asset(asset)
        if side not in ("sell", "buy"):
            raise ScenarioError(f"side must be 'sell' or 'buy', got {side!r}")
        q = _number("qty", qty)
        if q < 0:
            raise ScenarioError(f"qty must be >= 0, got {q}")
        if venue is not None and (
            isinstance(venue, bool) or not isinstance(venue, int | np.integer) or venue < 0
        ):
            raise ScenarioError(
                f"venue must be the index of one of {asset}'s venues, got {venue!r}"
            )
        lim = None if limit is None else _price("limit", limit)
        return self._core.submit(k, side, q, None if venue is None else int(venue), lim)

    def liquidate(
        self, account: Any, debt_asset: str, collateral_asset: str, amount: float
    ) -> dict[str, float]:
        """The user acting as a liquidator between steps: repays ``amount`` units of lending
        account ``account``'s ``debt_asset`` debt and seizes its ``collateral_asset`` collateral
        with the bonus, under its protocol's rules (the account must be liquidatable; the amount
        may not pass the close factor, nor leave Aave v3.3's dust; Compound III absorbs
        instead). The user keeps the collateral: nothing is sold. Returns ``repaid``,
        ``repaid_value``, ``seized``, ``bonus``, ``protocol_fee`` and ``bad_debt``; a request the
        rules refuse raises :class:`ScenarioError` naming the account and the rule, and changes
        nothing.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_700.0), dl.Asset("USDC", 1.0)])
        >>> pos = pl.DataFrame({"account": ["b"], "collateral_asset": ["ETH"],
        ...                     "collateral": [10.0], "debt_asset": ["USDC"], "debt": [23_000.0]})
        >>> eng = dl.Engine(sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}),
        ...                                pos), max_extra_steps=0)
        >>> liq = eng.liquidate("b", "USDC", "ETH", 11_500.0)  # HF 0.974 > 0.95: half the debt
        >>> liq["repaid"], round(liq["seized"], 6)  # 11,500·1.05/2,700 ETH
        (11500.0, 4.472222)
        """
        lending = self._labels.head(self._n_lending)
        hit = lending.filter(pl.col("account").cast(pl.String) == str(account))
        if hit.height == 0:
            raise ScenarioError(f"account {account!r} is not a lending account of the scenario")
        row = hit.row(0, named=True)
        try:
            return self._core.liquidate(
                int(row["account_id"]),
                self._asset(debt_asset),
                self._asset(collateral_asset),
                _number("amount", amount),
            )
        except ScenarioError as e:
            if e.field != "account" or e.detail is None:
                raise
            out = ScenarioError(f"{row['protocol']}: account {account!r} {e.detail}")
            out.field, out.value, out.detail = "account", e.value, e.detail
            out.account, out.family = str(account), row["protocol"]
            raise out from None

    def take(
        self, auction: int, amount: float, max_price: float, *, protocol: str | None = None
    ) -> tuple[float, float]:
        """The user as a Maker keeper between steps: ``Clipper.take`` of up to ``amount`` of the
        lot of auction ``auction`` (its row among the system's auctions, in kick order, as in
        :attr:`Result.auctions`) at the auction's current price, if that is at most
        ``max_price`` (MECHANICS §5.2: the overshoot and ``chost`` rules apply). The user pays
        what the slice owes and keeps the collateral (a ``user_take`` event). Refused with the
        Clipper's reason (not running, needs a reset, too expensive, no partial purchase) as a
        :class:`ScenarioError`. ``protocol`` names the Maker system when there are several.
        Returns the collateral bought and the DAI it owed.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> curve = dl.ImpactCurve.linear(1_840.0, 1e-12, alpha=0.0)
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 1_840.0, venues=[curve],
        ...                                   oracle=dl.Oracle.reference())], step_seconds=1_000.0)
        >>> maker = dl.Vaults([dl.Clipper("ETH", mat=1.45, rate=1.02, chop=1.13, dust=7_500.0,
        ...                               buf=1.2, curve="stairstep", cut=0.985, step=90.0)])
        >>> vault = pl.DataFrame({"account": ["u"], "collateral_asset": ["ETH"], "ink": [11.0],
        ...                       "art": [14_500.0]})
        >>> sc = sc.add_vaults(maker, vault).with_liquidators(dl.Liquidators(budget_notional=0.0))
        >>> eng = dl.Engine(sc, shock=dl.Shock.path({"ETH": [1_840.0]}))
        >>> _ = eng.step()  # the kick at 2,208; 1,000 s later the price is 2,208·0.985^11
        >>> slice_, owe = eng.take(0, 11.0, max_price=1_900.0)  # the tab caps what it owes
        >>> round(slice_, 6), round(owe, 6)
        (8.938178, 16712.7)
        """
        # The engine's families: lending first, then the scenario's in order.
        kinds = [
            (k, f.name) for k, f in enumerate(self._families, start=1) if isinstance(f, Vaults)
        ]
        if protocol is not None:
            kinds = [(k, n) for k, n in kinds if n == protocol]
        if len(kinds) != 1:
            names = [n for _, n in kinds]
            raise ScenarioError(
                "take needs one Maker system"
                + (f" named {protocol!r}" if protocol is not None else "")
                + f"; the scenario has {names or 'none'}"
                + ("" if protocol is not None or len(kinds) < 2 else ": name it with protocol=")
            )
        family, name = kinds[0]
        if isinstance(auction, bool) or not isinstance(auction, int | np.integer) or auction < 0:
            raise ScenarioError(
                f"auction must be an auction's row (a whole number), got {auction!r}"
            )
        try:
            return self._core.take(
                family, int(auction), _number("amount", amount), _price("max_price", max_price)
            )
        except ScenarioError as e:
            if e.field != "auction" or e.detail is None:
                raise
            out = ScenarioError(f"{name}: auction {auction} {e.detail}")
            out.field, out.value, out.detail, out.family = "auction", e.value, e.detail, name
            raise out from None

    def liquidate_position(
        self,
        account: Any,
        market: str,
        qty: float,
        price: float,
        *,
        protocol: str | None = None,
    ) -> tuple[float, float]:
        """The user taking a perp liquidation between steps (a dYdX-style liquidation taker,
        MECHANICS §6.3, §6.6): ``qty`` of ``account``'s ``market`` position closed at ``price``,
        which must be at or better than its bankruptcy price for the exchange (the user buys a
        liquidated long at ``price ≥ BP`` or sells to a liquidated short at ``price ≤ BP``);
        the insurance fund takes its clearance fee from the surplus. The margin pool must breach
        its maintenance margin now. The user holds the position it took (outside the engine).
        Returns the quantity closed and the fee. ``protocol`` names the exchange when there
        are several.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=0.1)
        >>> sc = dl.Scenario(assets=[dl.Asset("BTC-PERP", 100.0, venues=[book],
        ...                                   oracle=dl.Oracle.reference())], step_seconds=10.0)
        >>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))],
        ...                      fee_rate=0.01, insurance_fund=100.0,
        ...                      partial=dl.PartialLiquidation(50.0, 0.2, 1_000.0, False))
        >>> pos = pl.DataFrame({"account": ["t"], "market": ["BTC-PERP"], "size": [1.0],
        ...                     "entry_price": [100.0], "margin": [10.0], "mode": ["isolated"]})
        >>> eng = dl.Engine(sc.add_perps(ex, pos), shock=dl.Shock.path({"BTC-PERP": [90.5] * 3}))
        >>> _ = eng.step()  # 20 % liquidated on the book, then a cooldown: 0.8 left, BP 90
        >>> qty, fee = eng.liquidate_position("t", "BTC-PERP", 0.8, price=90.5)
        >>> qty, round(fee, 9)  # the surplus over BP, 0.8·0.5, under the 1 % fee cap
        (0.8, 0.4)
        """
        found = [
            (k, f.name, rows)
            for k, (f, rows) in enumerate(zip(self._families, self._rows, strict=True), start=1)
            if isinstance(f, PerpExchange) and (protocol is None or f.name == protocol)
        ]
        if len(found) != 1:
            raise ScenarioError(
                "liquidate_position needs one perp exchange"
                + (f" named {protocol!r}" if protocol is not None else "")
                + f"; the scenario has {[n for _, n, _ in found] or 'none'}"
            )
        family, name, rows = found[0]
        hit = rows.with_row_index("row").filter(
            (pl.col("account").cast(pl.String) == str(account)) & (pl.col("market") == market)
        )
        if hit.height != 1:
            raise ScenarioError(
                f"{name}: account {account!r} has {hit.height} positions in {market!r}; "
                "liquidate_position takes one"
            )
        try:
            return self._core.liquidate_position(
                family, int(hit["row"][0]), _number("qty", qty), _price("price", price)
            )
        except ScenarioError as e:
            if e.field != "account" or e.detail is None:
                raise
            out = ScenarioError(f"{name}: account {account!r} {e.detail}")
            out.field, out.value, out.detail = "account", e.value, e.detail
            out.account, out.family = str(account), name
            raise out from None

    def quote(self, asset: str, side: Literal["sell", "buy"], qty: float) -> Fill:
        """What :meth:`submit` of a market order would fill now, without trading.

        Examples
        --------
        >>> import deleverage as dl
        >>> book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=10, depth_per_level=2.0)
        >>> eng = dl.Engine(dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])]))
        >>> eng.quote("ETH", "buy", 3.0).notional  # asks 101 (2 each) and 102: 2·101 + 102
        304.0
        """
        q = _number("qty", qty)
        if q < 0:
            raise ScenarioError(f"qty must be >= 0, got {q}")
        if side not in ("sell", "buy"):
            raise ScenarioError(f"side must be 'sell' or 'buy', got {side!r}")
        return self._core.quote(self._asset(asset), side, q)

    def result(self) -> Result:
        """Everything recorded so far, as a :class:`Result` (the same frames and summary as
        :func:`simulate`); the engine goes on.

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> _ = eng.step()
        >>> eng.result().steps.height  # one step × two assets
        2
        """
        return self._build(self._core.records())

    def events(self, since: int = 0) -> pl.DataFrame:
        """The events recorded from step ``since`` on (all by default).

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> _ = eng.step({"ETH": 2_000.0})
        >>> eng.events(since=0)["kind"].cast(str).unique().to_list()
        ['liquidation']
        """
        ev = self.result().events
        return ev.filter(pl.col("step") >= since) if since else ev

    def steps(self) -> pl.DataFrame:
        """The steps frame so far (one row per step and asset), as in :class:`Result`.

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> _ = eng.step()
        >>> eng.steps()["asset"].to_list()
        ['ETH', 'USDC']
        """
        return self.result().steps

    def state(self) -> EngineState:
        """The market and every family's accounts now, before any step too.

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> st = eng.state()
        >>> st.assets["asset"].to_list(), st.accounts.height
        (['ETH', 'USDC'], 200)
        """
        res = self.result()
        m = dict(self._core.market())
        names = pl.Series(self._assets, dtype=pl.String)
        # A pegged asset's venues quote it in its underlying: in quote, times the underlying's
        # routed mid (1 for the quote or an unpegged asset).
        unit = pl.Series(
            [
                float(m["mid"][self._assets.index(p.to)]) if p is not None and p.to else 1.0
                for p in self._pegs
            ],
            dtype=pl.Float64,
        )
        in_quote = pl.lit(unit).gather(pl.col("asset"))
        venues = pl.DataFrame(dict(m["venues"])).select(
            pl.lit(names).gather(pl.col("asset")).alias("asset"),
            "venue",
            "kind",
            "halted",
            (pl.col("mid").fill_nan(None) * in_quote).alias("mid"),
            (pl.col("best_bid").fill_nan(None) * in_quote).alias("best_bid"),
            (pl.col("best_ask").fill_nan(None) * in_quote).alias("best_ask"),
            "bid_depth_2pct",
            "ask_depth_2pct",
        )
        assets = pl.DataFrame(
            {
                "asset": self._assets,
                "reference": m["reference"],
                "mid": m["mid"],
                "oracle": m["oracle"],
            }
        )
        return EngineState(
            venues=venues,
            assets=assets,
            accounts=res.accounts,
            positions=res.positions,
            vaults=res.vaults,
            auctions=res.auctions,
            funds=res.funds,
        )

    def liquidation_prices(self, asset: str) -> pl.DataFrame:
        """For every open account, position, vault or fund exposed to ``asset``: the price of
        ``asset`` at which it would breach its family's rule now, the other prices held at
        the oracle's except those of the assets pegged to ``asset``, which move with it at
        their peg ratio (a protocol that reads ``asset`` at its peg does not see its market
        price and has none), by the engine's own rules (what a liquidation heatmap plots,
        exactly).
        ``direction`` says whether the breach comes as the price falls (``"below"``) or rises;
        ``price`` is null where no positive price breaches, 0 where every price does.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)])
        >>> pos = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"],
        ...                     "collateral": [10.0], "debt_asset": ["USDC"], "debt": [20_000.0]})
        >>> eng = dl.Engine(sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pos))
        >>> eng.liquidation_prices("ETH").rows()  # 10·p·0.8 < 20,000 below p = 2,500
        [('lending', 'aave_v3', 'a', 2500.0, 'below')]
        """
        k = self._asset(asset)
        labels = self._labels.select("account_id", "account", "protocol")
        frames = []
        for f in self._core.liquidation_prices(k):
            t = pl.DataFrame({c: f[c] for c in ("account", "price", "below")})
            frames.append(
                t.rename({"account": "account_id"})
                .join(labels, on="account_id", how="left", maintain_order="left")
                .select(
                    pl.lit(f["kind"]).alias("family"),
                    "protocol",
                    "account",
                    pl.col("price").fill_nan(None),
                    pl.when(pl.col("below"))
                    .then(pl.lit("below"))
                    .otherwise(pl.lit("above"))
                    .alias("direction"),
                )
            )
        return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()

    def fork(self) -> Engine:
        """An independent deep copy for a what-if branch: what the branch does leaves this
        engine as it is.

        Examples
        --------
        >>> import deleverage as dl
        >>> eng = dl.Engine(dl.examples.eth_lending(n_accounts=200, steps=5))
        >>> branch = eng.fork()
        >>> _ = branch.step({"ETH": 2_000.0})
        >>> branch.steps_run, eng.steps_run
        (1, 0)
        """
        return Engine._of(self, self._core.fork())

    def _depth_now(self) -> _depth.Depth:
        after = _depth.snapshot(self._core, self._traded, self._prices)
        return _depth.Depth(self._assets, self._traded, self._prices, self._depth_before, after)

    def _build(self, raw: Any, depth: _depth.Depth | None = None) -> Result:
        raw = dict(raw)
        raw["depth"] = self._depth_now() if depth is None else depth
        return build_result(
            raw,
            self._assets,
            self._prices,
            self._protocols,
            self._labels,
            n_lending=self._n_lending,
            families=self._families,
            path_steps=self._path_steps,
        )

    def __getstate__(self) -> dict[str, Any]:
        # The whole engine, state and all, as the core's bytes; the labels beside them.
        state = {k: v for k, v in self.__dict__.items() if k != "_core"}
        state["_core"] = self._core.to_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        core = _core.Engine.from_bytes(state.pop("_core"))
        self.__dict__.update(state)
        self._core = core

    def _finish(self) -> Result:
        depth = self._depth_now()  # the market's state goes with the finished engine
        return self._build(self._core.finish(), depth)

    def __repr__(self) -> str:
        return f"Engine(assets={self._assets}, steps_run={self.steps_run}, quiet={self.quiet})"


def _market_of(protocol: Any) -> list[str]:
    """The market column of a perp exchange's positions (other families have none)."""
    return ["market"] if isinstance(protocol, PerpExchange) else []


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool | str | bytes):
        raise ScenarioError(f"{name} must be a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ScenarioError(f"{name} must be a number, got {v!r}") from None


def _price(name: str, v: Any) -> float:
    x = _number(name, v)
    if not (math.isfinite(x) and x > 0):
        raise ScenarioError(f"{name} must be a positive price, got {x}")
    return x


def simulate(
    scenario: Scenario,
    shock: Shock | None = None,
    *,
    seed: int | None = None,
    max_extra_steps: int = 10_000,
) -> Result:
    """Runs ``scenario`` under ``shock`` to quiet and returns the :class:`Result`.

    ``shock`` and ``seed`` default to the scenario's own (``Shock.instant()`` and 0 if it has
    none). The path has ``scenario.steps`` steps (or the length of a :meth:`Shock.path`);
    afterwards the last reference price is held until the market is quiet (no queued account
    and no liquidation for as long as the slowest oracle lags), at most ``max_extra_steps``
    more. The same inputs and seed give the same result. The GIL is released while the engine
    runs, and Ctrl-C stops it. It is :class:`Engine` run to quiet.

    Examples
    --------
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=300),
    ...                   shock=dl.Shock.instant(ETH=-0.3), seed=1)
    >>> res.accounts.height
    300
    """
    eng = Engine(scenario, shock, seed=seed, max_extra_steps=max_extra_steps)
    eng.run_to_quiet()
    return eng._finish()
