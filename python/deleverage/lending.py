"""Lending protocols (MECHANICS §4): Aave v3, Compound v2 and Compound III, with their reserves,
added to a scenario with :meth:`Scenario.add_lending <deleverage.Scenario.add_lending>`.

Positions are a Polars frame with the columns ``account``, ``collateral_asset``, ``collateral``,
``debt_asset`` and ``debt`` (asset units); an account may have several rows, summed per asset.
In a scenario file, a protocol is a ``[[protocols]]`` table whose positions are a side file or
generated from a seeded description.

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> sc = dl.Scenario(assets=[dl.Asset("WETH", 3_000.0), dl.Asset("USDC", 1.0)])
>>> comet = dl.Lending.compound_v3("USDC", {"WETH": dl.Reserve(0.9, liquidation_factor=0.95)})
>>> pos = pl.DataFrame({"account": ["a", "a", "b"], "collateral_asset": ["WETH"] * 3,
...                     "collateral": [1.0, 0.5, 2.0], "debt_asset": ["USDC"] * 3,
...                     "debt": [1_000.0, 500.0, 4_000.0]})
>>> res = dl.simulate(sc.add(comet, pos), shock=dl.Shock.instant(WETH=-0.3))
>>> res.accounts.select("account", "status").rows()  # b: 2·2,100·0.9 = 3,780 < 4,000
[('a', 'active'), ('b', 'bad_debt')]
>>> res.summary["bad_debt"].item()  # absorb credits 2·2,100·0.95 = 3,990 of b's 4,000
10.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core
from deleverage._checks import (
    Place,
    finite,
    get_int,
    get_num,
    get_str,
    known_names,
    named_table,
    names,
    numbers,
    positions_frame,
    table,
)
from deleverage.exceptions import ScenarioError

__all__ = ["Lending", "Reserve"]

POSITION_COLUMNS = ("account", "collateral_asset", "collateral", "debt_asset", "debt")


@dataclass(frozen=True)
class Reserve:
    """One asset's parameters in a lending protocol.

    ``liquidation_threshold`` is Aave's LT, Compound v2's collateral factor or Comet's liquidate
    collateral factor; ``liquidation_bonus`` Aave's bonus (0.05 = 5 %); ``protocol_fee`` Aave's
    liquidation protocol fee (a share of the bonus); ``liquidation_factor`` Comet's share of
    collateral value credited on absorb. A debt-only asset has ``liquidation_threshold=0``.

    Examples
    --------
    >>> import deleverage as dl
    >>> r = dl.Reserve(liquidation_threshold=0.83, liquidation_bonus=0.05, protocol_fee=0.1)
    >>> r.liquidation_threshold * (1 + r.liquidation_bonus) <= 1
    True
    """

    liquidation_threshold: float
    liquidation_bonus: float = 0.0
    protocol_fee: float = 0.0
    liquidation_factor: float = 0.0

    def __post_init__(self) -> None:
        finite("liquidation_threshold", self.liquidation_threshold, low=0.0, high=1.0)
        finite("liquidation_bonus", self.liquidation_bonus, low=0.0)
        finite("protocol_fee", self.protocol_fee, low=0.0, high=1.0)
        finite("liquidation_factor", self.liquidation_factor, low=0.0, high=1.0)


def _check_reserves(reserves: Any, name: str) -> None:
    if not isinstance(reserves, Mapping):
        raise ScenarioError(
            f"{name}: reserves must be a mapping of asset name to Reserve, got "
            f"{type(reserves).__name__}"
        )
    for asset, r in reserves.items():
        if not isinstance(r, Reserve):
            raise ScenarioError(
                f"{name}: reserves[{asset!r}] must be a deleverage.Reserve, got {type(r).__name__}"
            )


@dataclass(frozen=True)
class Lending:
    """A lending protocol instance and its rule set.

    Build it with :meth:`aave_v3`, :meth:`compound_v2` or :meth:`compound_v3`. Reserves are keyed
    by asset name;
    assets that are not listed cannot back debt (but can be borrowed).

    Examples
    --------
    >>> import deleverage as dl
    >>> aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05, 0.1)}, version="3.2")
    >>> aave.kind, aave.version
    ('aave_v3', '3.2')
    """

    kind: Literal["aave_v3", "compound_v2", "compound_v3"]
    reserves: Mapping[str, Reserve]
    name: str
    version: str = "3.3"
    close_factor: float = 0.5
    liquidation_incentive: float = 1.08
    protocol_seize_share: float = 0.028
    base_asset: str | None = None
    store_front_price_factor: float = 0.5
    target_reserves: float = 5_000_000.0
    initial_reserves: float = 0.0

    def __post_init__(self) -> None:
        _check_reserves(self.reserves, self.name)
        # The rule set's bounds (Aave's configurator, Compound's setters) are the core's.
        assets = list(self.reserves)
        if self.base_asset is not None and self.base_asset not in assets:
            assets.append(self.base_asset)
        try:
            _core.check_lending(self._spec(assets), len(assets))
        except ScenarioError as e:
            if e.index is not None:
                out = ScenarioError(f"{self.name} reserve {assets[e.index]}: {e.detail}")
            else:
                out = ScenarioError(f"{self.name}: {e}")
            out.field, out.value, out.index, out.detail = e.field, e.value, e.index, e.detail
            raise out from None

    @classmethod
    def aave_v3(
        cls, reserves: Mapping[str, Reserve], *, version: str = "3.3", name: str = "aave_v3"
    ) -> Lending:
        """Aave v3: health factor, close factor 50 %/100 % around HF 0.95 (v3.0–3.2), and from
        v3.3 the $2,000 position threshold, the $1,000 dust rule and the deficit write-off.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)], steps=2)
        >>> pos = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH"] * 2,
        ...                     "collateral": [10.0, 10.0], "debt_asset": ["USDC"] * 2,
        ...                     "debt": [20_000.0, 23_000.0]})
        >>> aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)})
        >>> res = dl.simulate(sc.add_lending(aave, pos), shock=dl.Shock.instant(ETH=-0.1))
        >>> res.accounts["status"].to_list()  # HF at 2,700: a 1.12, b 10·2,700·0.83/23,000 = 0.97
        ['active', 'liquidated']
        >>> ev = res.events.row(0, named=True)  # HF >= 0.95: half the debt, 5 % bonus
        >>> ev["debt_repaid"], round(ev["collateral_seized"], 6)  # 11,500·1.05 / 2,700 ETH
        (11500.0, 4.472222)
        """
        releases = names("aave_release")
        if version not in releases:
            raise ScenarioError(
                f"Aave version must be one of {releases[0]}–{releases[-1]}, got {version!r}"
            )
        _check_reserves(reserves, name)
        return cls("aave_v3", dict(reserves), name, version=version)

    @classmethod
    def compound_v2(
        cls,
        reserves: Mapping[str, Reserve],
        *,
        close_factor: float = 0.5,
        liquidation_incentive: float = 1.08,
        protocol_seize_share: float = 0.028,
        name: str = "compound_v2",
    ) -> Lending:
        """Compound v2: shortfall below the collateral factors, a fixed close factor, the seize
        multiplier ``liquidation_incentive`` and the protocol's share of every seizure.
        ``liquidation_threshold`` of each reserve is its collateral factor.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)], steps=2)
        >>> pos = pl.DataFrame({"account": ["b"], "collateral_asset": ["ETH"], "collateral": [10.0],
        ...                     "debt_asset": ["USDC"], "debt": [23_000.0]})
        >>> v2 = dl.Lending.compound_v2({"ETH": dl.Reserve(0.8)})  # collateral factor 80 %
        >>> res = dl.simulate(sc.add_lending(v2, pos), shock=dl.Shock.instant(ETH=-0.1))
        >>> ev = res.events.row(0, named=True)  # 10·2,700·0.8 = 21,600 < 23,000: a shortfall
        >>> ev["debt_repaid"], round(ev["collateral_seized"], 6)  # 0.5·23,000; 11,500·1.08/2,700
        (11500.0, 4.6)
        """
        return cls(
            "compound_v2",
            dict(reserves),
            name,
            close_factor=close_factor,
            liquidation_incentive=liquidation_incentive,
            protocol_seize_share=protocol_seize_share,
        )

    @classmethod
    def compound_v3(
        cls,
        base_asset: str,
        reserves: Mapping[str, Reserve],
        *,
        store_front_price_factor: float = 0.5,
        target_reserves: float = 5_000_000.0,
        initial_reserves: float = 0.0,
        name: str = "compound_v3",
    ) -> Lending:
        """Compound III (Comet): accounts are liquidatable when
        ``Σ coll·p·liquidation_threshold < debt·p_base``; ``absorb`` takes all their collateral,
        credits ``Σ coll·p·liquidation_factor`` and books the rest as bad debt; keepers then buy
        the collateral at ``p·(1 − store_front_price_factor·(1 − liquidation_factor))`` while
        the reserves (in base units) are below ``target_reserves``. Debt is in ``base_asset``.

        Examples
        --------
        >>> import deleverage as dl
        >>> comet = dl.Lending.compound_v3(
        ...     "USDC", {"WETH": dl.Reserve(0.87, liquidation_factor=0.92)},
        ...     store_front_price_factor=0.6, target_reserves=3e6, initial_reserves=1.2e6)
        >>> comet.base_asset
        'USDC'
        """
        if base_asset in reserves:
            raise ScenarioError(f"{name}: the base asset {base_asset!r} cannot be a collateral")
        return cls(
            "compound_v3",
            dict(reserves),
            name,
            base_asset=base_asset,
            store_front_price_factor=store_front_price_factor,
            target_reserves=target_reserves,
            initial_reserves=initial_reserves,
        )

    def _check_positions(self, positions: pl.DataFrame, assets: set[str]) -> pl.DataFrame:
        """Its positions, checked against the scenario's ``assets``."""
        where = self.name
        df = positions_frame(positions, where, POSITION_COLUMNS)
        for col in ("collateral_asset", "debt_asset"):
            known_names(df, col, sorted(assets), where, "asset")
        for col in ("collateral", "debt"):
            numbers(df, col, where, ">= 0", lambda v: v >= 0)
        return df.with_columns(
            pl.col("collateral_asset").cast(pl.String),
            pl.col("debt_asset").cast(pl.String),
            pl.col("collateral").cast(pl.Float64),
            pl.col("debt").cast(pl.Float64),
        )

    def _spec(self, asset_names: list[str]) -> dict[str, Any]:
        """This protocol instance as the engine reads it (rule set, reserve columns per asset)."""
        lp = self
        reserves = [lp.reserves.get(n) for n in asset_names]
        return {
            "kind": lp.kind,
            "name": lp.name,
            "version": lp.version,
            "close_factor": lp.close_factor,
            "liquidation_incentive": lp.liquidation_incentive,
            "protocol_seize_share": lp.protocol_seize_share,
            "base_asset": (0 if lp.base_asset is None else asset_names.index(lp.base_asset)),
            "store_front_price_factor": lp.store_front_price_factor,
            "target_reserves": lp.target_reserves,
            "initial_reserves": lp.initial_reserves,
            # Assets a protocol does not list can still be borrowed from it.
            "listed": [True] * len(reserves),
            "threshold": np.array(
                [0.0 if r is None else r.liquidation_threshold for r in reserves]
            ),
            "bonus": np.array([0.0 if r is None else r.liquidation_bonus for r in reserves]),
            "protocol_fee": np.array([0.0 if r is None else r.protocol_fee for r in reserves]),
            "liquidation_factor": np.array(
                [0.0 if r is None else r.liquidation_factor for r in reserves]
            ),
        }

    @classmethod
    def _from_toml(
        cls, v: Any, place: Place, base: Path, prices: Mapping[str, float]
    ) -> tuple[Lending, pl.DataFrame]:
        """A ``[[protocols]]`` table of a scenario file: the protocol, and its positions read
        from the side file it names (relative to ``base``) or generated from its ``generate``
        table at the assets' ``prices``."""
        lending = _read_protocol(v, place)
        if ("positions" in v) == ("generate" in v):
            raise place.error("give exactly one of 'positions' (a file) and 'generate' (a table)")
        if "positions" in v:
            from deleverage.io._files import _positions_from_toml

            positions = _positions_from_toml(
                v["positions"], place / "positions", base, "lending", lending.base_asset
            )
            lending = _reserves_from_file(lending, v["positions"], place, base)
        else:
            positions = _generate(v["generate"], place / "generate", prices, lending.reserves)
        return lending, positions

    def _to_toml(self, positions_file: str) -> dict[str, Any]:
        """Its ``[[protocols]]`` table, naming the side file of its positions."""
        t: dict[str, Any] = {"kind": self.kind, "name": self.name, "positions": positions_file}
        if self.kind == "aave_v3":
            t["version"] = self.version
        elif self.kind == "compound_v2":
            t |= {
                "close_factor": self.close_factor,
                "liquidation_incentive": self.liquidation_incentive,
                "protocol_seize_share": self.protocol_seize_share,
            }
        else:
            t |= {
                "base_asset": self.base_asset,
                "store_front_price_factor": self.store_front_price_factor,
                "target_reserves": self.target_reserves,
                "initial_reserves": self.initial_reserves,
            }
        t["reserves"] = {
            a: {
                "liquidation_threshold": r.liquidation_threshold,
                "liquidation_bonus": r.liquidation_bonus,
                "protocol_fee": r.protocol_fee,
                "liquidation_factor": r.liquidation_factor,
            }
            for a, r in self.reserves.items()
        }
        return t


_PROTOCOL_KEYS = {
    "aave_v3": {"kind", "name", "version", "reserves", "positions", "generate"},
    "compound_v2": {
        "kind",
        "name",
        "close_factor",
        "liquidation_incentive",
        "protocol_seize_share",
        "reserves",
        "positions",
        "generate",
    },
    "compound_v3": {
        "kind",
        "name",
        "base_asset",
        "store_front_price_factor",
        "target_reserves",
        "initial_reserves",
        "reserves",
        "positions",
        "generate",
    },
}
_GENERATE_KEYS = {
    "accounts",
    "collateral_asset",
    "debt_asset",
    "seed",
    "collateral_median",
    "collateral_log_sd",
    "health_min",
    "health_mean_excess",
}


def _unique(s: pl.Series) -> bool:
    """Whether every value of ``s`` is distinct; a strictly increasing integer column (the usual
    account numbering) is recognised without hashing."""
    if s.dtype.is_integer() and s.is_sorted():
        return bool((s.diff().drop_nulls() > 0).all())
    return bool(s.n_unique() == s.len())


def _asset_ids(s: pl.Series, names: pl.Enum) -> pl.Series:
    """Asset names → ids (the codes of an Enum over the scenario's names). A column holding one
    name (the usual single-market frame) is recognised by one comparison per row instead of
    hashing every row."""
    if s.len() and s.dtype == pl.String and not s.has_nulls() and bool((s == s[0]).all()):
        code = pl.Series([s[0]]).cast(names).to_physical().item()
        return pl.Series(s.name, np.full(s.len(), code, dtype=np.uint32))
    return s.cast(names).to_physical().cast(pl.UInt32)


def _interleave(n: int, first: npt.ArrayLike, second: npt.ArrayLike, dtype: type) -> np.ndarray:
    """``[first[0], second[0], first[1], second[1], …]`` (``n`` of each; a scalar repeats) in
    one allocation."""
    out: np.ndarray = np.empty(2 * n, dtype=dtype)
    out[0::2] = first
    out[1::2] = second
    return out


def lending_spec(
    protocols: Sequence[Lending], positions: Sequence[pl.DataFrame], asset_names: list[str]
) -> tuple[dict[str, Any], pl.DataFrame]:
    """The engine's spec of the lending family: every protocol instance (its rule set and the
    reserve columns per asset) and every account's holdings as CSR columns (one row per account
    and asset); and the labels of the account ids ``0..n`` it gives the accounts, in order."""
    protocol_ids: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    h_asset: list[np.ndarray] = []
    h_coll: list[np.ndarray] = []
    h_debt: list[np.ndarray] = []
    labels: list[pl.DataFrame] = []
    for p, (lp, df) in enumerate(zip(protocols, positions, strict=True)):
        n = df.height
        # Asset names → ids: an Enum over the scenario's names has exactly those ids as codes.
        names = pl.Enum(asset_names)
        coll_id = _asset_ids(df["collateral_asset"], names)
        debt_id = _asset_ids(df["debt_asset"], names)
        if _unique(df["account"]) and (coll_id != debt_id).all():
            # One row per account (the common case): two holdings each, built directly.
            ids = df.select("account").with_row_index("local")
            counts.append(np.full(n, 2, dtype=np.int64))
            h_asset.append(_interleave(n, coll_id.to_numpy(), debt_id.to_numpy(), np.uint32))
            h_coll.append(_interleave(n, df["collateral"].to_numpy(), 0.0, np.float64))
            h_debt.append(_interleave(n, 0.0, df["debt"].to_numpy(), np.float64))
        else:
            # Several rows per account: sum per (account, asset).
            ids = df.select(pl.col("account").unique(maintain_order=True)).with_row_index("local")
            long = pl.concat(
                [
                    pl.DataFrame(
                        {
                            "account": df["account"],
                            "asset": coll_id,
                            "collateral": df["collateral"],
                            "debt": 0.0,
                        }
                    ),
                    pl.DataFrame(
                        {
                            "account": df["account"],
                            "asset": debt_id,
                            "collateral": 0.0,
                            "debt": df["debt"],
                        }
                    ),
                ]
            )
            long = (
                long.group_by("account", "asset")
                .agg(pl.col("collateral").sum(), pl.col("debt").sum())
                .filter((pl.col("collateral") > 0) | (pl.col("debt") > 0))
                .join(ids, on="account")
                .sort("local", "asset")
            )
            counts.append(np.bincount(long["local"].to_numpy(), minlength=ids.height))
            h_asset.append(long["asset"].to_numpy())
            h_coll.append(long["collateral"].to_numpy())
            h_debt.append(long["debt"].to_numpy())
        protocol_ids.append(np.full(ids.height, p, dtype=np.uint32))
        labels.append(ids.select("account", pl.lit(lp.name).alias("protocol")))
    if len({f.schema["account"] for f in labels}) > 1:
        labels = [f.with_columns(pl.col("account").cast(pl.String)) for f in labels]
    label_frame = (
        pl.concat(labels)
        if labels
        else pl.DataFrame(
            {"account": [], "protocol": []}, schema={"account": pl.String, "protocol": pl.String}
        )
    )
    cnt = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(cnt) + 1, dtype=np.uint32)
    np.cumsum(cnt, out=offsets[1:])

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        if not parts:
            return np.zeros(0, dtype=dtype)
        # One protocol (the usual case): its column as it is, without a concatenation's copy.
        whole = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return np.ascontiguousarray(whole, dtype=dtype)

    spec = {
        "kind": "lending",
        "name": "lending",
        "protocols": [lp._spec(asset_names) for lp in protocols],
        "accounts": {
            "protocol": cat(protocol_ids, np.uint32),
            "offsets": offsets,
            "asset": cat(h_asset, np.uint32),
            "collateral": cat(h_coll, np.float64),
            "debt": cat(h_debt, np.float64),
        },
    }
    return spec, label_frame


def _generate(
    v: Any, place: Place, prices: Mapping[str, float], reserves: Mapping[str, Reserve]
) -> pl.DataFrame:
    t = table(v, place, _GENERATE_KEYS)
    n = get_int(t, "accounts", place)
    if n < 0:
        raise (place / "accounts").error(f"must be >= 0, got {n}")
    ca = get_str(t, "collateral_asset", place)
    da = get_str(t, "debt_asset", place)
    for key, a in (("collateral_asset", ca), ("debt_asset", da)):
        if a not in prices:
            raise (place / key).error(f"unknown asset {a!r}; assets are {sorted(prices)}")
    if ca not in reserves or reserves[ca].liquidation_threshold <= 0:
        raise (place / "collateral_asset").error(f"{ca!r} has no reserve with a threshold > 0")
    seed = get_int(t, "seed", place, 0)
    median = get_num(t, "collateral_median", place, 5.0)
    log_sd = get_num(t, "collateral_log_sd", place, 1.5)
    health_min = get_num(t, "health_min", place, 1.01)
    excess = get_num(t, "health_mean_excess", place, 0.35)
    for key, v, ok, rule in (
        ("seed", seed, seed >= 0, ">= 0"),
        ("collateral_median", median, median > 0 and math.isfinite(median), "> 0"),
        ("collateral_log_sd", log_sd, log_sd >= 0 and math.isfinite(log_sd), ">= 0"),
        ("health_min", health_min, health_min > 0 and math.isfinite(health_min), "> 0"),
        ("health_mean_excess", excess, excess >= 0 and math.isfinite(excess), ">= 0"),
    ):
        if not ok:
            raise (place / key).error(f"must be {rule}, got {v}")
    rng = np.random.default_rng(seed)
    coll = median * np.exp(log_sd * rng.standard_normal(n))
    health = health_min + rng.exponential(excess, n)
    debt = coll * prices[ca] * reserves[ca].liquidation_threshold / health / prices[da]
    return pl.DataFrame(
        {
            "account": np.arange(n, dtype=np.int64),
            "collateral_asset": [ca] * n,
            "collateral": coll,
            "debt_asset": [da] * n,
            "debt": debt,
        }
    )


def _read_protocol(v: Any, place: Place) -> Lending:
    """The protocol of a ``[[protocols]]`` table: its kind, rule-set parameters and reserves."""
    if not isinstance(v, dict) or "kind" not in v:
        raise place.error("expected a table with a 'kind'")
    kind = get_str(v, "kind", place)
    if kind not in _PROTOCOL_KEYS:
        raise (place / "kind").error(f"expected one of {sorted(_PROTOCOL_KEYS)}, got {kind!r}")
    t = table(v, place, _PROTOCOL_KEYS[kind])
    rt = named_table(t, "reserves", place)
    reserves = {}
    for asset, r in rt.items():
        p = place / "reserves" / asset
        rr = table(
            r,
            p,
            {"liquidation_threshold", "liquidation_bonus", "protocol_fee", "liquidation_factor"},
        )
        reserves[asset] = Reserve(
            get_num(rr, "liquidation_threshold", p),
            get_num(rr, "liquidation_bonus", p, 0.0),
            get_num(rr, "protocol_fee", p, 0.0),
            get_num(rr, "liquidation_factor", p, 0.0),
        )
    name = get_str(t, "name", place, kind)
    if kind == "aave_v3":
        return Lending.aave_v3(reserves, version=get_str(t, "version", place, "3.3"), name=name)
    if kind == "compound_v2":
        return Lending.compound_v2(
            reserves,
            close_factor=get_num(t, "close_factor", place, 0.5),
            liquidation_incentive=get_num(t, "liquidation_incentive", place, 1.08),
            protocol_seize_share=get_num(t, "protocol_seize_share", place, 0.028),
            name=name,
        )
    return Lending.compound_v3(
        get_str(t, "base_asset", place),
        reserves,
        store_front_price_factor=get_num(t, "store_front_price_factor", place, 0.5),
        target_reserves=get_num(t, "target_reserves", place, 5_000_000.0),
        initial_reserves=get_num(t, "initial_reserves", place, 0.0),
        name=name,
    )


def looped_positions(
    initial_collateral: npt.ArrayLike,
    ltv: float | npt.ArrayLike,
    *,
    collateral_asset: str,
    debt_asset: str,
    price: float,
    loops: int | npt.ArrayLike | None = None,
    target_leverage: float | npt.ArrayLike | None = None,
    accounts: Sequence[Any] | None = None,
) -> pl.DataFrame:
    """Looped (recursive) leverage as the equivalent lending positions.

    Each account deposits ``initial_collateral`` units of ``collateral_asset``, then repeats a
    loop: borrow ``ltv`` of the value of the collateral it last deposited in ``debt_asset``, buy
    collateral with it at ``price`` (the collateral's price in the debt asset, with no slippage
    or fee: the positions as they stand once built), and deposit it. After ``n`` loops it holds
    ``c0·Σ_{k=0..n} ltv^k`` units of collateral against ``c0·price·Σ_{k=1..n} ltv^k`` of debt: its
    equity is still ``c0·price`` and its leverage (collateral over equity) ``Σ_{k=0..n} ltv^k``.

    Give either ``loops`` (whole loops) or ``target_leverage`` (the loops it takes, the last one
    partial; below ``1/(1 − ltv)``, the limit of infinitely many loops). Every argument but the
    assets and ``price`` may be one value or one per account.

    Parameters
    ----------
    initial_collateral:
        Collateral each account starts with (units of ``collateral_asset``, > 0).
    ltv:
        Share of the deposited collateral's value borrowed in each loop, in ``[0, 1)``.
    collateral_asset, debt_asset:
        The assets (names of the scenario's assets).
    price:
        Price of one unit of collateral in the debt asset at which the loops buy (> 0).
    loops, target_leverage:
        Exactly one of them.
    accounts:
        Account labels (default ``loop0``, ``loop1``, …).

    Returns
    -------
    polars.DataFrame
        The lending position columns (``account``, ``collateral_asset``, ``collateral``,
        ``debt_asset``, ``debt``) with ``loops`` and ``leverage``; ``Scenario.add_lending`` reads
        the first five.

    Examples
    --------
    >>> import deleverage as dl
    >>> pos = dl.looped_positions([10.0], 0.8, loops=3, collateral_asset="wstETH",
    ...                           debt_asset="WETH", price=1.0)
    >>> [round(x, 9) for x in pos.row(0)[2::2]]  # collateral, debt, leverage: 1 + .8 + .64 + .512
    [29.52, 19.52, 2.952]
    >>> pos["loops"].item()
    3
    """
    c0 = np.atleast_1d(np.asarray(initial_collateral, dtype=np.float64))
    n = c0.size
    if not (np.all(np.isfinite(c0)) and np.all(c0 > 0)):
        raise ScenarioError(f"initial_collateral must be finite and > 0, got {c0.tolist()}")
    lam = np.broadcast_to(np.asarray(ltv, dtype=np.float64), (n,))
    if not (np.all(lam >= 0) and np.all(lam < 1)):
        raise ScenarioError(f"ltv must be in [0, 1), got {np.unique(lam).tolist()}")
    p = finite("price", price, low=0.0, low_open=True)
    if (loops is None) == (target_leverage is None):
        raise ScenarioError("give exactly one of loops and target_leverage")
    if loops is not None:
        k = np.broadcast_to(np.asarray(loops), (n,))
        if k.dtype.kind not in "iu" or np.any(k < 0):
            raise ScenarioError(f"loops must be whole numbers >= 0, got {np.unique(k).tolist()}")
        k = k.astype(np.int64)
        # Σ_{j=0..k} λ^j, summed loop by loop (as the loops build it).
        lev = np.ones(n)
        term = np.ones(n)
        for j in range(1, int(k.max(initial=0)) + 1):
            term = term * lam
            lev = np.where(j <= k, lev + term, lev)
    else:
        lev = np.broadcast_to(np.asarray(target_leverage, dtype=np.float64), (n,)).copy()
        # The limit of infinitely many loops, 1/(1 − ltv), is never reached: a target must stay
        # a margin below it that the running sums of the loops can meet in floating point.
        cap = np.where(lam > 0, 1.0 / (1.0 - lam), 1.0)
        fine = np.isfinite(lev) & (lev >= 1.0) & ((lev == 1.0) | (lev < cap * (1 - 1e-9)))
        if not np.all(fine):
            raise ScenarioError(
                "target_leverage must be in [1, 1/(1 - ltv)) (the limit of infinitely many "
                f"loops, less 1e-9 of it), got {np.unique(lev[~fine]).tolist()}"
            )
        # Whole loops of Σ λ^j below the target, plus the partial one that reaches it.
        k = np.zeros(n, dtype=np.int64)
        total = np.ones(n)
        term = np.ones(n)
        short = total < lev * (1 - 1e-15)
        while np.any(short):
            term = term * lam
            k = np.where(short, k + 1, k)
            total = np.where(short, total + term, total)
            short = total < lev * (1 - 1e-15)
    collateral = c0 * lev
    debt = c0 * p * (lev - 1.0)
    labels = list(accounts) if accounts is not None else [f"loop{i}" for i in range(n)]
    if len(labels) != n:
        raise ScenarioError(f"accounts must have {n} labels, got {len(labels)}")
    return pl.DataFrame(
        {
            "account": labels,
            "collateral_asset": [collateral_asset] * n,
            "collateral": collateral,
            "debt_asset": [debt_asset] * n,
            "debt": debt,
            "loops": k,
            "leverage": lev,
        }
    )


def _reserves_from_file(lending: Lending, value: Any, place: Place, base: Path) -> Lending:
    """A protocol whose positions come from an Aave subgraph file or a Comet export takes the
    file's reserve parameters for the reserves its table does not give; one the table gives
    differently is refused (neither may silently win)."""
    fmt = value.get("format") if isinstance(value, dict) else None
    if fmt not in ("aave_v3_subgraph", "compound_v3_export"):
        return lending
    from deleverage.io.positions import read_aave_v3, read_compound_v3

    path = base / str(value.get("file"))
    if fmt == "aave_v3_subgraph":
        _, found = read_aave_v3(path)
    else:
        _, found = read_compound_v3(path, str(lending.base_asset))
    merged = dict(lending.reserves)
    for asset, r in found.items():
        mine = merged.get(asset)
        if mine is None:
            merged[asset] = r
        elif (mine.liquidation_threshold, mine.liquidation_bonus, mine.liquidation_factor) != (
            r.liquidation_threshold,
            r.liquidation_bonus,
            r.liquidation_factor,
        ):
            raise (place / "reserves" / asset).error(
                f"{mine} differs from the file's {r} (the subgraph's or the export's); give the "
                "parameters once"
            )
    return replace(lending, reserves=merged)
