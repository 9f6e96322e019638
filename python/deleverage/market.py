"""The market side of a scenario: its assets, each with the venues forced sales trade on and
the oracle margin engines read.

Examples
--------
>>> import deleverage as dl
>>> book = dl.OrderBook.linear(mid=3_000.0, tick=1.0, levels=2_000, depth_per_level=5.0)
>>> eth = dl.Asset("ETH", price=3_000.0, venues=[book], oracle=dl.Oracle.push(0.005, 3_600))
>>> eth.oracle.kind, len(eth.venues)
('push', 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from deleverage._checks import finite, whole
from deleverage._core import Venue
from deleverage.exceptions import ScenarioError

__all__ = ["Asset", "Channel", "Oracle", "Peg"]


@dataclass(frozen=True)
class Oracle:
    """The price margin engines read for an asset.

    Use the constructors: :meth:`spot` (the routed mid, re-read after every round),
    :meth:`push` (Chainlink: deviation threshold and heartbeat), :meth:`twap` (time-weighted mean
    over a window), :meth:`delayed` (Maker OSM: the price from ``delay`` seconds ago) and
    :meth:`reference` (the exogenous path, without endogenous impact), and for perp marks
    :meth:`blend` (the perp mid blended with the index). Times are in seconds.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Oracle.push(0.005, 3600)
    Oracle(kind='push', deviation=0.005, heartbeat=3600.0, window=None, delay=None, weight=None)
    """

    kind: Literal["spot", "push", "twap", "delayed", "reference", "blend"] = "spot"
    deviation: float | None = None
    heartbeat: float | None = None
    window: float | None = None
    delay: float | None = None
    weight: float | None = None

    @classmethod
    def spot(cls) -> Oracle:
        """The current routed mid of the asset's venues.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> dl.Asset("USDC", 1.0).oracle == dl.Oracle.spot()  # the default
        True
        >>> book = dl.OrderBook.linear(mid=3_000.0, tick=1.0, levels=2_000, depth_per_level=0.5)
        >>> eth = dl.Asset("ETH", 3_000.0, venues=[book], oracle=dl.Oracle.spot())
        >>> sc = dl.Scenario(assets=[eth, dl.Asset("USDC", 1.0)], steps=3)
        >>> pos = pl.DataFrame({"account": ["b"], "collateral_asset": ["ETH"], "collateral": [10.0],
        ...                     "debt_asset": ["USDC"], "debt": [23_000.0]})
        >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
        >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1))  # b's collateral is sold
        >>> res.steps.filter(step=0, asset="ETH").select("reference", "mid", "oracle").row(0)
        (2700.0, 2696.4, 2696.4)
        """
        return cls("spot")

    @classmethod
    def push(cls, deviation: float, heartbeat: float) -> Oracle:
        """Publishes the spot when it moved by more than ``deviation`` (a fraction) since the last
        publication, or every ``heartbeat`` seconds (Chainlink).

        Examples
        --------
        >>> import deleverage as dl
        >>> eth = dl.Asset("ETH", 100.0, oracle=dl.Oracle.push(0.01, 3_600))
        >>> sc = dl.Scenario(assets=[eth], steps=4)
        >>> res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [100.0, 99.5, 98.0, 98.0]}))
        >>> res.steps["oracle"].to_list()[:4]  # a 0.5 % move is not published, a 2 % one is
        [100.0, 100.0, 98.0, 98.0]
        """
        return cls(
            "push",
            deviation=finite("Oracle.push deviation", deviation, low=0.0),
            heartbeat=finite("Oracle.push heartbeat", heartbeat, low=0.0, low_open=True),
        )

    @classmethod
    def twap(cls, window: float) -> Oracle:
        """Arithmetic time-weighted mean of the spot over the last ``window`` seconds.

        Examples
        --------
        >>> import deleverage as dl
        >>> eth = dl.Asset("ETH", 100.0, oracle=dl.Oracle.twap(36))
        >>> sc = dl.Scenario(assets=[eth], step_seconds=12, steps=4)
        >>> res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [100.0, 99.7, 97.0, 97.0]}))
        >>> [round(p, 6) for p in res.steps["oracle"]]  # at step 3: (100 + 99.7 + 97) / 3
        [100.0, 100.0, 99.9, 98.9]
        """
        return cls("twap", window=finite("Oracle.twap window", window, low=0.0, low_open=True))

    @classmethod
    def delayed(cls, delay: float) -> Oracle:
        """The end-of-step spot of the last step at or before ``t − delay`` (Maker OSM).

        Examples
        --------
        >>> import deleverage as dl
        >>> eth = dl.Asset("ETH", 100.0, oracle=dl.Oracle.delayed(24))
        >>> sc = dl.Scenario(assets=[eth], step_seconds=12, steps=4)
        >>> res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [100.0, 99.7, 97.0, 97.0]}))
        >>> res.steps["oracle"].to_list()  # at step 3 (t = 36 s), the spot of step 1 (t = 12 s)
        [100.0, 100.0, 100.0, 99.7]
        """
        return cls("delayed", delay=finite("Oracle.delayed delay", delay, low=0.0, low_open=True))

    @classmethod
    def reference(cls) -> Oracle:
        """The exogenous reference path, without endogenous impact.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> book = dl.OrderBook.linear(mid=3_000.0, tick=1.0, levels=2_000, depth_per_level=0.5)
        >>> eth = dl.Asset("ETH", 3_000.0, venues=[book], oracle=dl.Oracle.reference())
        >>> sc = dl.Scenario(assets=[eth, dl.Asset("USDC", 1.0)], steps=3)
        >>> pos = pl.DataFrame({"account": ["b"], "collateral_asset": ["ETH"], "collateral": [10.0],
        ...                     "debt_asset": ["USDC"], "debt": [23_000.0]})
        >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
        >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1))  # the sale moves the mid only
        >>> res.steps.filter(step=0, asset="ETH").select("reference", "mid", "oracle").row(0)
        (2700.0, 2696.4, 2700.0)
        """
        return cls("reference")

    @classmethod
    def blend(cls, weight: float) -> Oracle:
        """A perp mark price: ``weight·mid + (1 − weight)·reference``, the perp book's mid blended
        with the index (the reference path), re-read after every round.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> book = dl.OrderBook.linear(mid=60_000.0, tick=1.0, levels=2_000, depth_per_level=2.0)
        >>> perp = dl.Asset("BTC-PERP", 60_000.0, venues=[book], oracle=dl.Oracle.blend(0.5))
        >>> ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.005))],
        ...                      insurance_fund=1e5)
        >>> pos = pl.DataFrame({"account": [1, 2], "market": ["BTC-PERP"] * 2, "size": [2.0, -2.0],
        ...                     "entry_price": [60_000.0] * 2, "margin": [6_000.0] * 2})
        >>> sc = dl.Scenario(assets=[perp], steps=2).add_perps(ex, pos)
        >>> res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": -0.15}))
        >>> res.steps.select("reference", "mid", "oracle").row(0)  # mark = (mid + index) / 2
        (51000.0, 50999.575, 50999.7875)
        """
        return cls("blend", weight=finite("Oracle.blend weight", weight, low=0.0, high=1.0))

    def _spec(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Channel:
    """A redemption or mint channel of a pegged asset: at most ``capacity`` units of the asset
    a step (``float("inf")``: no limit), exchanged with its issuer at the peg less (redeem) or
    plus (mint) the fraction ``fee``; a redemption pays its underlying out ``delay`` steps after
    it is made (Lido's withdrawal queue, a stablecoin's redeem). The core checks the values:
    a capacity below zero or a fee outside [0, 1) is a :class:`ScenarioError` naming them.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Channel(capacity=5_000.0, delay=10).fee
    0.0
    """

    capacity: float
    delay: int = 0
    fee: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay", whole("channel delay", self.delay, low=0))
        for name in ("capacity", "fee"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ScenarioError(f"channel {name} must be a number, got {v!r}")
            object.__setattr__(self, name, float(v))

    def _spec(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "delay": self.delay, "fee": self.fee}


@dataclass(frozen=True)
class Peg:
    """How an asset is pegged: to asset ``to`` (an LST to ETH, a wrapped token) or, with
    ``to=None``, to the quote (a stablecoin).

    The pegged asset's ``price``, its path and its venues' prices are then in units of ``to``:
    its reference is the peg (the exchange rate; 1 for a plain peg, and a shock to it is an
    exogenous depeg, a slashing), its venues trade it against ``to`` (a StableSwap or
    constant-product pool of the pair), and its value in quote is that price times ``to``'s.
    Its pools are not arbitraged to the peg for free: only the ``redeem`` and ``mint``
    channels pull their price back, as fast as their capacity allows, so forced sales larger
    than the capacity depeg it. The proceeds of a forced sale into such a pool are units of
    ``to``, valued at its price (the liquidator keeps them: in a loop they are the debt asset).

    A protocol's oracle for the asset reads its market price (its own ``Oracle`` over the
    routed mid in quote) unless the protocol is named in ``read_at_peg_by``: then it reads the
    peg times ``to``'s oracle, as Aave values wstETH (the exchange rate times ETH/USD). The
    lending protocols of a scenario share one margin engine and read it alike.

    Examples
    --------
    >>> import deleverage as dl
    >>> peg = dl.Peg("ETH", redeem=dl.Channel(capacity=1_000.0, delay=5))
    >>> steth = dl.Asset("stETH", 1.0, peg=peg)
    >>> steth.peg.to, steth.peg.redeem.capacity
    ('ETH', 1000.0)
    """

    to: str | None
    redeem: Channel | None = None
    mint: Channel | None = None
    read_at_peg_by: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.to is not None and (not isinstance(self.to, str) or not self.to):
            raise ScenarioError(f"peg to must be an asset name or None, got {self.to!r}")
        for name in ("redeem", "mint"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Channel):
                raise ScenarioError(
                    f"peg {name} must be a deleverage.Channel, got {type(v).__name__}"
                )
        names = self.read_at_peg_by
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ScenarioError(
                f"peg read_at_peg_by must be a list of protocol names, got {names!r}"
            )
        object.__setattr__(self, "read_at_peg_by", tuple(names))

    def _spec(self, asset_names: list[str], owner: str) -> dict[str, Any]:
        if self.to is not None and self.to not in asset_names:
            raise ScenarioError(
                f"{owner}.peg: to must be one of the scenario's assets {asset_names}, "
                f"got {self.to!r}"
            )
        return {
            "underlying": None if self.to is None else asset_names.index(self.to),
            "redeem": None if self.redeem is None else self.redeem._spec(),
            "mint": None if self.mint is None else self.mint._spec(),
        }


@dataclass(frozen=True)
class Asset:
    """An asset: its initial price in quote, the venues forced sales trade on, and its oracle.

    An asset without venues (a stablecoin used as debt, say) keeps the exogenous price.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Asset("USDC", price=1.0).name
    'USDC'
    """

    name: str
    price: float
    venues: Sequence[Venue] = ()
    oracle: Oracle = field(default_factory=Oracle.spot)
    #: What the asset is pegged to (then ``price`` and its venues' prices are in units of the
    #: underlying); see :class:`Peg`.
    peg: Peg | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ScenarioError(f"Asset name must be a non-empty string, got {self.name!r}")
        object.__setattr__(
            self, "price", finite(f"{self.name}.price", self.price, low=0.0, low_open=True)
        )
        if isinstance(self.venues, Venue) or not isinstance(self.venues, Sequence):
            raise ScenarioError(
                f"{self.name}.venues must be a list of venues, got {type(self.venues).__name__}"
            )
        venues = tuple(self.venues)
        for i, v in enumerate(venues):
            if not isinstance(v, Venue):
                raise ScenarioError(
                    f"{self.name}.venues[{i}] must be an OrderBook, ConstantProductPool, "
                    f"StableSwapPool, ConcentratedPool or ImpactCurve, got {type(v).__name__}"
                )
        object.__setattr__(self, "venues", venues)
        if not isinstance(self.oracle, Oracle):
            raise ScenarioError(f"{self.name}.oracle must be a deleverage.Oracle")
        if self.peg is not None and not isinstance(self.peg, Peg):
            raise ScenarioError(
                f"{self.name}.peg must be a deleverage.Peg, got {type(self.peg).__name__}"
            )


def quote_prices(assets: Sequence[Asset], local: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Prices in quote from prices in each asset's own units (``Asset.price``'s: a pegged
    asset's in its underlying's), one row per price vector: a pegged asset's price times its
    underlying's in quote, as the core's market values it (``Market::spot``). For the Python
    layer's static computations (a liquidation map, a generated book of positions, a summary's
    starting prices)."""
    out = np.array(local, dtype=np.float64, copy=True)
    names = [a.name for a in assets]
    pegged = [(k, names.index(a.peg.to)) for k, a in enumerate(assets) if a.peg and a.peg.to]
    # Each pass settles one more link of every chain (the core has refused cycles).
    for _ in range(len(pegged)):
        for k, u in pegged:
            out[..., k] = np.asarray(local, dtype=np.float64)[..., k] * out[..., u]
    return out
