"""Scenarios: the market (assets, venues, oracles), the protocols and their positions, the
liquidators, and the exogenous shock.

The parts live in their own modules, below this one: :mod:`deleverage.market` (``Asset``,
``Oracle``), :mod:`deleverage.shock`, and one module per family of protocols
(:mod:`deleverage.lending`, :mod:`deleverage.perps`, :mod:`deleverage.vaults`,
:mod:`deleverage.funds`), each with its own checks and scenario-file table. This module holds the
scenario, the liquidators and the bookkeeping of which protocols it has (:meth:`Scenario.add`),
and re-exports ``Asset``, ``Oracle``, ``Shock``, ``Lending`` and ``Reserve``.

Everything here is plain, validated Python; :func:`deleverage.simulate` converts it to flat
numeric columns for the Rust engine. Asset and account labels stay on the Python side and are
joined back onto the result frames.

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> book = dl.OrderBook.linear(mid=3_000.0, tick=1.0, levels=2_000, depth_per_level=5.0)
>>> sc = dl.Scenario(assets=[dl.Asset("ETH", price=3_000.0, venues=[book]),
...                          dl.Asset("USDC", price=1.0, oracle=dl.Oracle.reference())])
>>> positions = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH", "ETH"],
...                           "collateral": [10.0, 10.0], "debt_asset": ["USDC", "USDC"],
...                           "debt": [20_000.0, 23_000.0]})
>>> reserves = {"ETH": dl.Reserve(liquidation_threshold=0.83, liquidation_bonus=0.05)}
>>> sc = sc.add_lending(dl.Lending.aave_v3(reserves), positions)
>>> sc.n_accounts
2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage._checks import finite, items, names, one_of, whole
from deleverage.exceptions import ScenarioError
from deleverage.funds import Funds
from deleverage.lending import Lending, Reserve
from deleverage.market import Asset, Oracle
from deleverage.outages import Outage
from deleverage.owners import Owner
from deleverage.perps import PerpExchange
from deleverage.shock import Shock, _seconds
from deleverage.vaults import Vaults

__all__ = [
    "Asset",
    "Lending",
    "Liquidators",
    "Oracle",
    "Reserve",
    "Scenario",
    "Shock",
]


@dataclass(frozen=True)
class Liquidators:
    """The liquidation queue's rules and the liquidators' capacity per step.

    ``priority``: who is served first (``"worst_health"``, ``"largest"``, ``"fifo"``,
    ``"random"``, seeded). ``mode``: ``"sequential"`` (each sale executes at once, DeFi) or
    ``"batch"`` (a round's sales are summed per asset, fire-sale models). ``budget_notional``:
    debt value repaid per step (keeper capital); ``budget_count``: liquidations per step.
    ``sell_fraction``: share of seized collateral sold at once. ``keeper_margin``: the profit
    margin keepers require to buy Comet's absorbed collateral at its storefront.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Liquidators(budget_count=50, priority="largest").priority
    'largest'
    """

    priority: Literal["worst_health", "largest", "fifo", "random"] = "worst_health"
    mode: Literal["sequential", "batch"] = "sequential"
    budget_notional: float = math.inf
    budget_count: int | None = None
    sell_fraction: float = 1.0
    max_rounds_per_step: int = 64
    keeper_margin: float = 0.0

    def __post_init__(self) -> None:
        if self.priority not in names("priority"):
            raise ScenarioError(
                f"priority must be {one_of(names('priority'))}, got {self.priority!r}"
            )
        if self.mode not in names("round_mode"):
            raise ScenarioError(f"mode must be {one_of(names('round_mode'))}, got {self.mode!r}")
        try:
            budget = float(self.budget_notional)
        except (TypeError, ValueError):
            raise ScenarioError(
                f"budget_notional must be a number >= 0, got {self.budget_notional!r}"
            ) from None
        if math.isnan(budget) or budget < 0:
            raise ScenarioError(f"budget_notional must be >= 0, got {budget}")
        object.__setattr__(self, "budget_notional", budget)
        if self.budget_count is not None:
            object.__setattr__(
                self, "budget_count", whole("budget_count", self.budget_count, low=0)
            )
        object.__setattr__(
            self, "sell_fraction", finite("sell_fraction", self.sell_fraction, low=0.0, high=1.0)
        )
        object.__setattr__(
            self, "keeper_margin", finite("keeper_margin", self.keeper_margin, low=0.0, high=1.0)
        )
        if self.keeper_margin >= 1.0:
            raise ScenarioError(f"keeper_margin must be < 1, got {self.keeper_margin}")
        object.__setattr__(
            self,
            "max_rounds_per_step",
            whole("max_rounds_per_step", self.max_rounds_per_step, low=1),
        )

    def _spec(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "mode": self.mode,
            "budget_notional": float(self.budget_notional),
            "budget_count": (2**64 - 1) if self.budget_count is None else int(self.budget_count),
            "sell_fraction": float(self.sell_fraction),
            "max_rounds_per_step": int(self.max_rounds_per_step),
            "keeper_margin": float(self.keeper_margin),
        }


@dataclass(frozen=True)
class _Book:
    protocol: Lending
    positions: pl.DataFrame


@dataclass(frozen=True)
class _Family:
    """A family of forced sellers other than lending (a perp exchange, say) and its positions."""

    #: A PerpExchange, Vaults or Funds (``Scenario.add`` admits no other); typed Any because
    #: its readers (analysis.py) pick one family's methods after filtering a list by type.
    protocol: Any
    positions: pl.DataFrame


@dataclass(frozen=True)
class BookSnapshot:
    """One recorded book snapshot of a replay: applied at ``step`` to venue ``venue`` of asset
    ``asset`` (indices), its levels best first, recorded around the price ``at`` (its mid)."""

    step: int
    asset: int
    venue: int
    bid_px: npt.NDArray[np.float64]
    bid_qty: npt.NDArray[np.float64]
    ask_px: npt.NDArray[np.float64]
    ask_qty: npt.NDArray[np.float64]
    at: float

    def _spec(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "asset": self.asset,
            "venue": self.venue,
            "bid_px": np.ascontiguousarray(self.bid_px, dtype=np.float64),
            "bid_qty": np.ascontiguousarray(self.bid_qty, dtype=np.float64),
            "ask_px": np.ascontiguousarray(self.ask_px, dtype=np.float64),
            "ask_qty": np.ascontiguousarray(self.ask_qty, dtype=np.float64),
            "at": float(self.at),
        }


@dataclass(frozen=True)
class Scenario:
    """A market, its protocols with their positions, the liquidators and the run settings.

    :meth:`add` (and its typed wrappers ``add_lending``, ``add_perps``, ``add_vaults``,
    ``add_funds``) returns a new scenario (scenarios are immutable, so one can be reused as the
    base of many variants).

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.Scenario(assets=[dl.Asset("ETH", price=3_000.0)], step_seconds=12, steps=100)
    >>> sc.asset_names
    ['ETH']
    """

    assets: Sequence[Asset]
    step_seconds: float = 12.0
    steps: int = 300
    liquidators: Liquidators = field(default_factory=Liquidators)
    lending: tuple[_Book, ...] = ()
    #: Perp exchanges (and the other families of forced sellers), in the order they act.
    families: tuple[_Family, ...] = ()
    #: The shock ``simulate`` uses when it is given none.
    shock: Shock | None = None
    #: The seed ``simulate`` uses when it is given none.
    seed: int = 0
    #: Recorded book snapshots replayed at their steps (see :meth:`with_book_snapshots`).
    replay: tuple[BookSnapshot, ...] = ()
    #: Downtime and outages over the run (see :meth:`with_outages`).
    outages: tuple[Outage, ...] = ()
    #: Owners' policies by owner name (see :meth:`with_owners`).
    owners: tuple[tuple[str, Owner], ...] = ()

    def __post_init__(self) -> None:
        assets = items(self.assets, Asset, "", "assets")
        seen: set[str] = set()
        for i, a in enumerate(assets):
            if not isinstance(a, Asset):
                raise ScenarioError(
                    f"assets[{i}] must be a deleverage.Asset, got {type(a).__name__}"
                )
            if a.name in seen:
                raise ScenarioError(f"asset {a.name!r} appears twice")
            seen.add(a.name)
        object.__setattr__(self, "assets", assets)
        object.__setattr__(
            self, "step_seconds", finite("step_seconds", self.step_seconds, low=0.0, low_open=True)
        )
        object.__setattr__(self, "steps", whole("steps", self.steps, low=1))
        if self.shock is not None and not isinstance(self.shock, Shock):
            raise ScenarioError("shock must be a deleverage.Shock")
        object.__setattr__(self, "seed", whole("seed", self.seed, low=0))
        if self.outages:
            object.__setattr__(self, "outages", items(self.outages, Outage, "", "outages"))

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Reads a scenario file: assets, venues, oracles, protocols with their positions (a
        Parquet/CSV file or a seeded generator), liquidators, the shock and the run settings.
        See :mod:`deleverage.tomlfile`.

        Examples
        --------
        >>> import os
        >>> import tempfile
        >>> import deleverage as dl
        >>> path = os.path.join(tempfile.mkdtemp(), "eth.toml")
        >>> dl.examples.eth_lending(n_accounts=50, steps=10).to_toml(path)
        >>> sc = dl.Scenario.from_toml(path)
        >>> sc.asset_names, sc.n_accounts, sc.steps, sc.assets[0].oracle.kind
        (['ETH', 'USDC'], 50, 10, 'push')
        """
        # A local import: tomlfile sits above this module (it builds scenarios).
        from deleverage import tomlfile

        return tomlfile.load(path)

    def to_toml(self, path: str | Path) -> None:
        """Writes this scenario as a file that :meth:`from_toml` reads back, positions and book
        levels as Parquet files beside it.

        Examples
        --------
        >>> import os
        >>> import tempfile
        >>> import deleverage as dl
        >>> sc = dl.examples.eth_lending(n_accounts=50, steps=10)
        >>> path = os.path.join(tempfile.mkdtemp(), "eth.toml")
        >>> sc.to_toml(path)
        >>> sorted(os.listdir(os.path.dirname(path)))
        ['eth.ETH.0.levels.parquet', 'eth.aave_v3.positions.parquet', 'eth.toml']
        >>> back, shock = dl.Scenario.from_toml(path), dl.Shock.instant(ETH=-0.25)
        >>> dl.simulate(back, shock).to_dict() == dl.simulate(sc, shock).to_dict()
        True
        """
        if self.replay:
            raise ScenarioError(
                "a scenario file cannot hold book snapshots yet: save the scenario without "
                "with_book_snapshots, and add them after loading it"
            )
        # A local import: tomlfile sits above this module (it builds scenarios).
        from deleverage import tomlfile

        tomlfile.save(self, path)

    @property
    def asset_names(self) -> list[str]:
        """Asset names in scenario order (their ids in the result frames' ``asset_id``).

        Examples
        --------
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)], steps=2)
        >>> sc.asset_names
        ['ETH', 'USDC']
        >>> dl.simulate(sc).steps["asset"].to_list()  # one row per step and asset, in this order
        ['ETH', 'USDC', 'ETH', 'USDC']
        """
        return [a.name for a in self.assets]

    @property
    def n_accounts(self) -> int:
        """Number of accounts over all protocols.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)])
        >>> pos = pl.DataFrame({"account": ["a", "a", "b"], "collateral_asset": ["ETH"] * 3,
        ...                     "collateral": [1.0, 2.0, 5.0], "debt_asset": ["USDC"] * 3,
        ...                     "debt": [0.0, 1_000.0, 4_000.0]})
        >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
        >>> sc.n_accounts  # the two rows of a are one account
        2
        >>> v2 = dl.Lending.compound_v2({"ETH": dl.Reserve(0.8)})
        >>> sc.add_lending(v2, pos[2:]).n_accounts  # b in another protocol counts again
        3
        """
        return sum(b.positions["account"].n_unique() for b in self.lending) + sum(
            f.positions["account"].n_unique() for f in self.families
        )

    @property
    def protocol_names(self) -> list[str]:
        """Names of the lending protocols, then of the other families, in order.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)])
        >>> funds = pl.DataFrame({"account": ["f"], "holding": ["ETH"], "amount": [1.0]})
        >>> pos = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
        ...                     "debt_asset": ["USDC"], "debt": [23_000.0]})
        >>> sc = sc.add_funds(dl.Funds.target(name="hedge"), funds)
        >>> sc = sc.add_lending(dl.Lending.compound_v2({"ETH": dl.Reserve(0.8)}, name="v2"), pos)
        >>> sc.protocol_names  # lending first, though added last
        ['v2', 'hedge']
        """
        return [b.protocol.name for b in self.lending] + [f.protocol.name for f in self.families]

    def add(
        self, protocol: Lending | PerpExchange | Vaults | Funds, positions: pl.DataFrame
    ) -> Scenario:
        """A new scenario with ``protocol`` and its ``positions`` added, whichever family it is
        of: a :class:`Lending` protocol, a :class:`PerpExchange`, :class:`Vaults` or
        :class:`Funds` (their positions' columns: :meth:`add_lending`, :meth:`add_perps`,
        :meth:`add_vaults`, :meth:`add_funds`). Lending protocols act first, then the other
        families in the order they were added. The frame is not modified.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)])
        >>> lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"],
        ...                      "collateral": [10.0], "debt_asset": ["USDC"], "debt": [2e4]})
        >>> hedge = pl.DataFrame({"account": ["f"], "holding": ["ETH"], "amount": [1.0]})
        >>> sc = sc.add(dl.Funds.target(name="hedge"), hedge)
        >>> sc = sc.add(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), lend)
        >>> sc.protocol_names, sc.n_accounts
        (['aave_v3', 'hedge'], 2)
        >>> try:
        ...     sc.add("aave", lend)  # type: ignore[arg-type]
        ... except dl.ScenarioError as e:
        ...     print(e)
        protocol must be a deleverage.Lending, PerpExchange, Vaults or Funds, got str
        """
        if isinstance(protocol, Lending):
            return self._add_lending(protocol, positions)
        if isinstance(protocol, PerpExchange):
            assets = [*protocol.assets, *protocol.margin_assets]
            return self._add_family(protocol, positions, assets)
        if isinstance(protocol, Vaults):
            return self._add_family(protocol, positions, protocol.assets)
        if isinstance(protocol, Funds):
            sc = self._add_family(protocol, positions, protocol.assets)
            protocol._holdings(self.asset_names, sc.families[-1].positions)
            return sc
        raise ScenarioError(
            "protocol must be a deleverage.Lending, PerpExchange, Vaults or Funds, got "
            f"{type(protocol).__name__}"
        )

    def _add_lending(self, protocol: Lending, positions: pl.DataFrame) -> Scenario:
        names = set(self.asset_names)
        unknown = sorted(set(protocol.reserves) - names)
        if unknown:
            raise ScenarioError(
                f"{protocol.name}: reserve for unknown asset {unknown[0]!r}; assets are "
                f"{self.asset_names}"
            )
        if protocol.base_asset is not None and protocol.base_asset not in names:
            raise ScenarioError(
                f"{protocol.name}: base asset {protocol.base_asset!r} is not one of the assets "
                f"{self.asset_names}"
            )
        if protocol.name in self.protocol_names:
            raise ScenarioError(f"a protocol named {protocol.name!r} is already in the scenario")
        frame = protocol._check_positions(positions, names)
        return replace(self, lending=(*self.lending, _Book(protocol, frame)))

    def _add_family(
        self, protocol: PerpExchange | Vaults | Funds, positions: pl.DataFrame, assets: list[str]
    ) -> Scenario:
        if protocol.name in self.protocol_names:
            raise ScenarioError(f"a protocol named {protocol.name!r} is already in the scenario")
        unknown = [a for a in assets if a not in self.asset_names]
        if unknown:
            raise ScenarioError(
                f"{protocol.name}: asset {unknown[0]!r} is not one of the scenario's assets "
                f"{self.asset_names}"
            )
        frame = protocol._check_positions(positions)
        return replace(self, families=(*self.families, _Family(protocol, frame)))

    def add_lending(self, protocol: Lending, positions: pl.DataFrame) -> Scenario:
        """A new scenario with ``protocol`` and its ``positions`` added.

        ``positions`` has the columns ``account``, ``collateral_asset``, ``collateral``,
        ``debt_asset``, ``debt`` (asset units). An account may have several rows (several
        collateral or debt assets); they are summed per asset. The frame is not modified.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("WBTC", 60_000.0),
        ...                          dl.Asset("USDC", 1.0)])
        >>> pos = pl.DataFrame({"account": ["a", "a"], "collateral_asset": ["ETH", "WBTC"],
        ...                     "collateral": [10.0, 1.0], "debt_asset": ["USDC", "USDC"],
        ...                     "debt": [30_000.0, 0.0]})
        >>> aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05),
        ...                            "WBTC": dl.Reserve(0.78, 0.065)})
        >>> lent = sc.add_lending(aave, pos)
        >>> lent.n_accounts, lent.protocol_names, sc.protocol_names  # sc itself is unchanged
        (1, ['aave_v3'], [])
        >>> health = dl.simulate(lent).accounts["health"].item()
        >>> round(health, 6)  # (10·3,000·0.83 + 1·60,000·0.78) / 30,000
        2.39
        """
        if not isinstance(protocol, Lending):
            raise ScenarioError("protocol must be a deleverage.Lending")
        return self.add(protocol, positions)

    def add_perps(self, exchange: PerpExchange, positions: pl.DataFrame) -> Scenario:
        """A new scenario with the perp ``exchange`` (a :class:`deleverage.PerpExchange`) and its
        ``positions`` added: columns ``account``, ``market`` (an asset name), ``size`` (signed),
        ``entry_price``, ``margin`` and optionally ``mode`` (``"cross"``/``"isolated"``). The
        frame is not modified.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("BTC-PERP", 60_000.0)])
        >>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.004))])
        >>> pos = pl.DataFrame({"account": [1], "market": ["BTC-PERP"], "size": [-1.5],
        ...                     "entry_price": [61_000.0], "margin": [9_000.0]})
        >>> sc.add_perps(ex, pos).n_accounts
        1
        """
        if not isinstance(exchange, PerpExchange):
            raise ScenarioError("exchange must be a deleverage.PerpExchange")
        return self.add(exchange, positions)

    def add_vaults(self, vaults: Vaults, positions: pl.DataFrame) -> Scenario:
        """A new scenario with the Maker-style ``vaults`` (a :class:`deleverage.Vaults`) and
        their ``positions`` added: one row per vault, columns ``account``,
        ``collateral_asset``, ``ink`` (units), ``art`` (normalised debt). The frame is not
        modified.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0)])
        >>> v = pl.DataFrame({"account": [1], "collateral_asset": ["ETH"], "ink": [10.0],
        ...                   "art": [9_000.0]})
        >>> sc.add_vaults(dl.Vaults([dl.Clipper("ETH")]), v).protocol_names
        ['maker']
        """
        if not isinstance(vaults, Vaults):
            raise ScenarioError("vaults must be a deleverage.Vaults")
        return self.add(vaults, positions)

    def add_funds(self, funds: Funds, positions: pl.DataFrame) -> Scenario:
        """A new scenario with the ``funds`` group (a :class:`deleverage.Funds`) and their
        ``positions`` added: columns ``account``, ``holding`` (a scenario asset for marketable
        units, an illiquid class for its value, or ``"debt"``) and ``amount``. The frame is not
        modified.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("BONDS", 1.0)])
        >>> pos = pl.DataFrame({"account": ["b"] * 2, "holding": ["BONDS", "debt"],
        ...                     "amount": [100.0, 95.0]})
        >>> sc.add_funds(dl.Funds.threshold(25.0), pos).n_accounts
        1
        """
        if not isinstance(funds, Funds):
            raise ScenarioError("funds must be a deleverage.Funds")
        return self.add(funds, positions)

    def with_outages(self, *outages: Outage) -> Scenario:
        """A new scenario with ``outages`` added to its own (an oracle freeze, a liquidator
        outage, an L2 sequencer's downtime and grace period; see :class:`deleverage.Outage`).

        Examples
        --------
        >>> import deleverage as dl
        >>> sc = dl.examples.eth_lending(n_accounts=50, steps=10)
        >>> sc.with_outages(dl.Outage.oracle_freeze("ETH", start=1, end=4)).outages[0].kind
        'oracle_freeze'
        """
        return replace(self, outages=tuple(self.outages) + tuple(outages))

    def with_owners(self, owners: dict[str, Owner]) -> Scenario:
        """A new scenario whose owners (the names in the positions' ``owner`` columns) act by
        the given policies: they pay their perp margin calls from their free cash and keep
        their lending accounts at a target health factor (see :class:`deleverage.Owner`).
        Replaces earlier policies of the same owners.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0)])
        >>> lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"],
        ...                      "collateral": [10.0], "debt_asset": ["USDC"],
        ...                      "debt": [12_000.0], "owner": ["fund"]})
        >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), lend)
        >>> sc.with_owners({"fund": dl.Owner(cash=1_000.0, target_health=1.5)}).owners[0][0]
        'fund'
        """
        if not isinstance(owners, dict):
            raise ScenarioError(
                f"owners must be a dict of owner name to deleverage.Owner, got "
                f"{type(owners).__name__}"
            )
        for name, o in owners.items():
            if not isinstance(name, str) or not isinstance(o, Owner):
                raise ScenarioError(
                    f"owners maps owner names to deleverage.Owner, got {name!r}: {o!r}"
                )
        kept = tuple((n, o) for n, o in self.owners if n not in owners)
        return replace(self, owners=kept + tuple(owners.items()))

    def with_book_snapshots(
        self,
        asset: str,
        snapshots: pl.DataFrame,
        *,
        venue: int = 0,
        time: str = "timestamp",
        start: Any = None,
    ) -> Scenario:
        """A new scenario whose order book ``venue`` of ``asset`` is refreshed from recorded L2
        snapshots (a frame with ``time``, ``side`` (``bid``/``ask``), ``price`` and ``qty``
        columns, one row per level). A snapshot taken at time ``t`` replaces the book's
        resting baseline at the first step at or after ``t`` (step ``k`` is at
        ``start + k·step_seconds``, ``start`` by default the first snapshot), its levels
        re-anchored proportionally from the snapshot's mid to the book's anchor then (so after
        an injected shock the recorded depth profile comes back at the shocked level); the
        volume consumed by forced sales stays consumed on top of it, and resilience goes on
        refilling it. Use the same ``start`` as :meth:`Shock.replay`.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> book = dl.OrderBook.from_levels([99.0], [5.0], [101.0], [5.0])
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])], step_seconds=10.0)
        >>> snaps = pl.DataFrame({"timestamp": [0.0, 0.0, 25.0, 25.0],
        ...                       "side": ["bid", "ask"] * 2, "price": [99.0, 101.0, 98.0, 102.0],
        ...                       "qty": [5.0, 5.0, 9.0, 9.0]})
        >>> eng = dl.Engine(sc.with_book_snapshots("ETH", snaps),
        ...                 shock=dl.Shock.path({"ETH": [100.0] * 4}))
        >>> bids = []
        >>> for _ in range(4):
        ...     _ = eng.step()
        ...     bids.append(eng.state().venues["best_bid"].item())
        >>> bids  # the 25 s snapshot applies at step 3 (30 s)
        [99.0, 99.0, 99.0, 98.0]
        """
        names = self.asset_names
        if asset not in names:
            raise ScenarioError(f"asset {asset!r} is not in the scenario; assets are {names}")
        a = names.index(asset)
        if (
            isinstance(venue, bool)
            or not isinstance(venue, int)
            or not (0 <= venue < len(self.assets[a].venues))
        ):
            raise ScenarioError(
                f"venue must be the index of one of {asset}'s venues, got {venue!r}"
            )
        if not isinstance(snapshots, pl.DataFrame):
            raise ScenarioError(f"snapshots must be a Polars frame, got {type(snapshots).__name__}")
        missing = [c for c in (time, "side", "price", "qty") if c not in snapshots.columns]
        if missing:
            raise ScenarioError(f"snapshots lacks the columns {missing}")
        t = _seconds(snapshots[time], "snapshots")
        t0 = t.min() if start is None else float(_seconds(pl.Series([start]), "start")[0])
        df = snapshots.select(
            pl.Series("t", t), pl.col("side").cast(pl.String), "price", "qty"
        ).with_columns(pl.col("price").cast(pl.Float64), pl.col("qty").cast(pl.Float64))
        bad = df.filter(~pl.col("side").is_in(["bid", "ask"]))
        if bad.height:
            raise ScenarioError(f"snapshots.side must be 'bid' or 'ask', got {bad['side'][0]!r}")
        out = list(self.replay)
        for (ts,), g in df.group_by("t", maintain_order=True):
            # The first step at or after the snapshot (a hair of slack for float times).
            step = max(0, math.ceil((float(ts) - t0) / self.step_seconds - 1e-9))
            bids = g.filter(pl.col("side") == "bid").sort("price", descending=True)
            asks = g.filter(pl.col("side") == "ask").sort("price")
            if bids.height == 0 or asks.height == 0:
                raise ScenarioError(
                    f"snapshots: the snapshot at {ts} has an empty side: a replayed snapshot "
                    "needs bids and asks (its mid anchors it)"
                )
            # The levels follow the book's anchor from the snapshot's own mid: the recorded
            # depth profile comes back, at the scenario's (possibly shocked) price level.
            mid = 0.5 * (float(bids["price"][0]) + float(asks["price"][0]))
            out.append(
                BookSnapshot(
                    step, a, venue,
                    bids["price"].to_numpy(), bids["qty"].to_numpy(),
                    asks["price"].to_numpy(), asks["qty"].to_numpy(), mid,
                )
            )  # fmt: skip
        return replace(self, replay=tuple(out))

    def with_liquidators(self, liquidators: Liquidators) -> Scenario:
        """A new scenario with other liquidator settings.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)], steps=3)
        >>> pos = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH"] * 2,
        ...                     "collateral": [10.0, 10.0], "debt_asset": ["USDC"] * 2,
        ...                     "debt": [23_000.0, 23_000.0]})
        >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
        >>> shock = dl.Shock.instant(ETH=-0.1)
        >>> dl.simulate(sc, shock).events["step"].to_list()  # both at once
        [0, 0]
        >>> one = sc.with_liquidators(dl.Liquidators(budget_count=1))  # one a step
        >>> dl.simulate(one, shock).events["step"].to_list(), sc.liquidators.budget_count
        ([0, 1], None)
        """
        return replace(self, liquidators=liquidators)
