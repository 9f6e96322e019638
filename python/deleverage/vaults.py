"""Maker-style vaults liquidated by Dutch auctions (Liquidations 2.0: ``Dog.bark`` and the
``Clipper``, MECHANICS §5), added to a scenario with
:meth:`Scenario.add_vaults <deleverage.Scenario.add_vaults>`.

A :class:`Clipper` holds one collateral type's numbers (the ``Vat``/``Spotter``/``Jug`` rate and
ratio, the ``Dog``'s penalty, dust and limit, and the auction's start, curve, resets and keeper
rewards); :class:`Vaults` holds the clippers and the ``Dog``'s global limit. The OSM price is the
collateral asset's oracle: give the asset ``Oracle.delayed(3600)`` to model the one-hour OSM.
Positions are a Polars frame with the columns ``account``, ``collateral_asset``, ``ink``
(collateral units) and ``art`` (normalised debt: the vault owes ``art·rate`` DAI).

Keepers take an auction slice when its price is at or below what selling it on the venues
returns, less ``Liquidators.keeper_margin``; their takes spend the liquidators' budget.

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=20.0)
>>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0, venues=[book])], steps=40)
>>> maker = dl.Vaults([dl.Clipper("ETH", mat=1.45, chop=1.13, dust=7_500.0)])
>>> vaults = pl.DataFrame({"account": ["v1", "v2"], "collateral_asset": ["ETH", "ETH"],
...                        "ink": [10.0, 10.0], "art": [12_000.0, 9_000.0]})
>>> res = dl.simulate(sc.add_vaults(maker, vaults), shock=dl.Shock.instant(ETH=-0.2))
>>> res.vaults["status"].to_list()  # v1 barked whole and its auction raised the tab
['closed', 'active']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from deleverage._breach import account_ids, family_breaches
from deleverage._checks import (
    Place,
    get_num,
    get_str,
    items,
    known_names,
    numbers,
    positions_frame,
    protocol_name,
    table,
    unique_rows,
    wrap,
)
from deleverage.exceptions import ScenarioError

__all__ = ["Clipper", "Vaults"]

VAULT_COLUMNS = ("account", "collateral_asset", "ink", "art")
#: The clipper numbers a ``[[vaults.clippers]]`` table may give.
_CLIPPER_NUMBERS = ("mat", "rate", "chop", "dust", "hole", "dirt", "buf", "tau", "step", "cut",
                    "tail", "cusp", "chip", "tip")  # fmt: skip


def _number(where: str, name: str, v: Any, *, low: float, open_low: bool, inf: bool) -> float:
    """``v`` as a float that is at least (or above) ``low``, finite unless ``inf``."""
    rule = f"{'>' if open_low else '>='} {low}" + ("" if inf else ", finite")
    if isinstance(v, bool | str):
        raise ScenarioError(f"{where}: {name} must be a number {rule}, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ScenarioError(f"{where}: {name} must be a number {rule}, got {v!r}") from None
    if math.isnan(x) or (math.isinf(x) and not inf) or x < low or (open_low and x == low):
        raise ScenarioError(f"{where}: {name} must be {rule}, got {v}")
    return x


@dataclass(frozen=True)
class Clipper:
    """One collateral type of a Maker system and its auction (MECHANICS §5).

    ``mat``: liquidation ratio (a vault is unsafe when ``ink·OSM/mat < art·rate``); ``rate``:
    the accumulated stability fee; ``chop``: the penalty (``tab = due·chop``); ``dust``: the
    minimum vault debt; ``hole``/``dirt``: the ilk's limit on DAI in auction and what is in
    auction already. Auction: ``buf`` (start at ``OSM·buf``), ``curve`` (``"linear"`` to zero over
    ``tau`` s, ``"stairstep"``: ×``cut`` every ``step`` s, ``"exponential"``: ×``cut`` per second),
    ``tail`` (s) and ``cusp`` (fraction of the start price) after which it is reset, and the
    keeper rewards ``tip`` (DAI) + ``chip``·tab.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Clipper("ETH", curve="linear", tau=3_600.0).curve
    'linear'
    """

    asset: str
    mat: float = 1.45
    rate: float = 1.0
    chop: float = 1.13
    dust: float = 7_500.0
    hole: float = math.inf
    dirt: float = 0.0
    buf: float = 1.2
    curve: Literal["linear", "stairstep", "exponential"] = "stairstep"
    tau: float = 3_600.0
    step: float = 90.0
    cut: float = 0.99
    tail: float = 7_200.0
    cusp: float = 0.45
    chip: float = 0.001
    tip: float = 300.0

    def __post_init__(self) -> None:
        if not isinstance(self.asset, str) or not self.asset:
            raise ScenarioError(f"Clipper asset must be a non-empty string, got {self.asset!r}")
        w = f"Clipper {self.asset!r}"
        for name, low, open_low, inf in (
            ("mat", 0.0, True, False),
            ("rate", 0.0, True, False),
            # chop < 1 would be a negative penalty.
            ("chop", 1.0, False, False),
            ("dust", 0.0, False, False),
            ("hole", 0.0, False, True),
            ("dirt", 0.0, False, False),
            ("buf", 0.0, True, False),
            ("tau", 0.0, True, False),
            ("step", 0.0, True, False),
            ("tail", 0.0, False, True),
            ("chip", 0.0, False, False),
            ("tip", 0.0, False, False),
        ):
            x = _number(w, name, getattr(self, name), low=low, open_low=open_low, inf=inf)
            object.__setattr__(self, name, x)
        if self.curve not in ("linear", "stairstep", "exponential"):
            raise ScenarioError(
                f"{w}: curve must be linear, stairstep or exponential, got {self.curve!r}"
            )
        for name in ("cut", "cusp"):
            v = _number(w, name, getattr(self, name), low=0.0, open_low=False, inf=False)
            if v > 1.0:
                raise ScenarioError(f"{w}: {name} must be in [0, 1], got {v}")
            object.__setattr__(self, name, v)

    def _curve(self) -> dict[str, Any]:
        if self.curve == "linear":
            return {"kind": "linear", "tau": float(self.tau)}
        if self.curve == "stairstep":
            return {"kind": "stairstep", "step": float(self.step), "cut": float(self.cut)}
        return {"kind": "exponential", "cut": float(self.cut)}


@dataclass(frozen=True)
class Vaults:
    """A Maker system: its clippers (one per collateral asset) and the ``Dog``'s global limit on
    DAI in auction (``hole``, with ``dirt`` in auction at the start).

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Vaults([dl.Clipper("ETH"), dl.Clipper("WBTC", mat=1.5)], hole=1e8).assets
    ['ETH', 'WBTC']
    """

    clippers: Sequence[Clipper]
    hole: float = math.inf
    dirt: float = 0.0
    name: str = "maker"

    def __post_init__(self) -> None:
        protocol_name("Vaults", self.name)
        clippers = items(self.clippers, Clipper, f"{self.name}: ", "clippers")
        if len({c.asset for c in clippers}) != len(clippers):
            raise ScenarioError(f"{self.name}: one clipper per collateral asset")
        object.__setattr__(self, "clippers", clippers)
        object.__setattr__(
            self, "hole", _number(self.name, "hole", self.hole, low=0.0, open_low=False, inf=True)
        )
        object.__setattr__(
            self, "dirt", _number(self.name, "dirt", self.dirt, low=0.0, open_low=False, inf=False)
        )

    @property
    def assets(self) -> list[str]:
        """The collateral assets of its clippers.

        Examples
        --------
        >>> import deleverage as dl
        >>> maker = dl.Vaults([dl.Clipper("WBTC", mat=1.5), dl.Clipper("ETH")])
        >>> maker.assets  # in clipper order; each must be an asset of the scenario
        ['WBTC', 'ETH']
        """
        return [c.asset for c in self.clippers]

    def unsafe(self, positions: pl.DataFrame, prices: dict[str, float]) -> pl.DataFrame:
        """The vaults that ``bark`` may liquidate at OSM prices ``prices`` (asset → price):
        ``ink·price/mat < art·rate``, with nothing sold, by the engine's own test. Adds
        ``collateral_value`` and ``debt`` (``art·rate``).

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> maker = dl.Vaults([dl.Clipper("ETH", mat=1.5)])
        >>> v = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH"] * 2,
        ...                   "ink": [10.0, 10.0], "art": [12_000.0, 9_000.0]})
        >>> maker.unsafe(v, {"ETH": 1_500.0})["account"].to_list()
        ['a']
        """
        df = self._check_positions(positions)
        missing = [a for a in self.assets if a not in prices]
        if missing:
            raise ScenarioError(f"{self.name}: prices lack {missing}")
        names = self.assets
        ids = account_ids(df)
        hit = family_breaches(self._spec(names, df, ids), names, prices).select(
            pl.col("row").cast(pl.UInt32), "collateral_value", "debt"
        )
        return df.with_row_index("row").join(hit, on="row").sort("row").drop("row")

    def _check_positions(self, positions: pl.DataFrame) -> pl.DataFrame:
        where = self.name
        df = positions_frame(positions, where, VAULT_COLUMNS)
        known_names(df, "collateral_asset", self.assets, where, "clipper asset")
        numbers(df, "ink", where, ">= 0", lambda v: v >= 0)
        numbers(df, "art", where, ">= 0", lambda v: v >= 0)
        unique_rows(df, ["account"], where, "one row per vault")
        return df.with_columns(
            pl.col("collateral_asset").cast(pl.String),
            pl.col("ink").cast(pl.Float64),
            pl.col("art").cast(pl.Float64),
        )

    def _spec(
        self, asset_names: list[str], positions: pl.DataFrame, account_ids: np.ndarray
    ) -> dict[str, Any]:
        ilk_of = {c.asset: k for k, c in enumerate(self.clippers)}
        return {
            "kind": "vaults",
            "name": self.name,
            "hole": float(self.hole),
            "dirt": float(self.dirt),
            "ilks": [
                {
                    "asset": asset_names.index(c.asset),
                    "mat": float(c.mat),
                    "rate": float(c.rate),
                    "chop": float(c.chop),
                    "dust": float(c.dust),
                    "hole": float(c.hole),
                    "dirt": float(c.dirt),
                    "buf": float(c.buf),
                    "curve": c._curve(),
                    "tail": float(c.tail),
                    "cusp": float(c.cusp),
                    "chip": float(c.chip),
                    "tip": float(c.tip),
                }
                for c in self.clippers
            ],
            "positions": {
                "account": np.ascontiguousarray(account_ids, dtype=np.uint32),
                "ilk": positions["collateral_asset"]
                .replace_strict(ilk_of, return_dtype=pl.UInt32)
                .to_numpy(),
                "ink": positions["ink"].to_numpy(),
                "art": positions["art"].to_numpy(),
            },
        }

    @classmethod
    def _from_toml(cls, v: Any, place: Place) -> tuple[Vaults, Any]:
        """A ``[[vaults]]`` table of a scenario file: the vaults' clippers and limits, and the side
        file of their positions."""
        t = table(v, place, {"name", "hole", "dirt", "clippers", "positions"})
        clippers = t.get("clippers")
        if not isinstance(clippers, list) or not clippers:
            raise (place / "clippers").error(
                "expected a non-empty array of tables [[vaults.clippers]]"
            )
        cs = []
        for k, c in enumerate(clippers):
            cp = place / "clippers" / k
            c = table(c, cp, {"asset", "curve", *_CLIPPER_NUMBERS})
            given = {n: get_num(c, n, cp) for n in _CLIPPER_NUMBERS if n in c}
            cs.append(
                wrap(
                    cp,
                    lambda c=c, cp=cp, given=given: Clipper(
                        get_str(c, "asset", cp),
                        curve=get_str(c, "curve", cp, "stairstep"),  # type: ignore[arg-type]
                        **given,
                    ),
                )
            )
        vaults = wrap(
            place,
            lambda: cls(
                cs,
                hole=get_num(t, "hole", place, math.inf),
                dirt=get_num(t, "dirt", place, 0.0),
                name=get_str(t, "name", place, "maker"),
            ),
        )
        if "positions" not in t:
            raise (place / "positions").error("missing; a side file or { file = …, format = … }")
        return vaults, t["positions"]

    def _to_toml(self, positions_file: str) -> dict[str, Any]:
        """Its ``[[vaults]]`` table, naming the side file of their positions."""
        t: dict[str, Any] = {
            "name": self.name,
            "hole": self.hole,
            "dirt": self.dirt,
            "clippers": [
                {"asset": c.asset, "curve": c.curve} | {n: getattr(c, n) for n in _CLIPPER_NUMBERS}
                for c in self.clippers
            ],
        }
        return t | {"positions": positions_file}
