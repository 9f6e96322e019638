"""Seeing the structure before any shock (issue 19, item 1): who holds what, how far each holder
is from liquidation, how concentrated each asset is, and how holders overlap through the assets
they would all sell.

:func:`exposure` reads a scenario at its starting prices (the oracle prices of
:meth:`Engine.state <deleverage.Engine.state>`) and returns an :class:`Exposure` of Polars frames:

- ``holdings``: one row per family, protocol, account and asset: ``units`` and ``value`` (quote,
  at the oracle) and ``side``. Long: lending collateral, a perp long, a perp pool's margin
  assets, a vault's ``ink``, a fund's marketable holdings and illiquid classes (``value`` only).
  Short: lending debt, a perp short. ``exposure`` is the signed value (long +, short −). Quote
  margin, a vault's DAI debt and a fund's debt are quote, not assets, and are left out.
- ``liquidation``: for every account exposed to an asset, the price of that asset at which it
  breaches its family's rule with the other prices held (:meth:`Engine.liquidation_prices
  <deleverage.Engine.liquidation_prices>`: the core's own margin rules), its ``distance`` to it
  (``price/oracle − 1``: −0.2 breaches after a 20 % fall; 0 when already breached) and the
  account's ``notional`` in the asset (the value of its holdings of it, both sides). A perp
  account with several isolated positions in one market shows the nearest one's price.
- ``leverage``: that notional summed in bins of ``distance`` per asset, family, protocol and
  direction: the liquidation heatmap, exact.
- ``concentration``: each asset's long holdings: the shares of its top 1, 10 and 100 holders
  and the Herfindahl index Σ s², within each protocol (holders: accounts) and across protocols
  (``scope = "all"``; holders: owners where the positions name one, else accounts).
- ``depth``: each asset's ``D``: the quote its venues absorb on the bid before their marginal
  prices fall by ``within`` (units × oracle price).
- ``overlap``: the liquidity-weighted overlap Ω_ij = Σ_μ Π_iμ Π_jμ / D_μ between holders
  (Cont–Schaanning's indirect-contagion kernel, MECHANICS §7.3: to first order, the loss a
  sale of all of i's holdings inflicts on j per unit of depth), with Π what a holder's forced
  sales would trade: its long holdings, and a perp short as a negative one (lending debt, which
  no liquidation buys on the venues, is left out); and
  ``index``: each holder's Σ_{j≠i} Ω_ij. Holders, ``by="holder"``: an account's owner where the
  positions name one, each fund of a fund group, else the protocol; or ``"protocol"``,
  ``"owner"``, ``"account"``. Assets without depth are left out of Ω (named in ``depth``).
- ``holders``: each of those holders' assets, liabilities, equity and leverage at the start
  (the per-account balance sheets of :func:`deleverage.owners.balance_sheets`, summed).

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> curve = dl.ImpactCurve.linear(2_000.0, 1e-8)
>>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0, venues=[curve]), dl.Asset("USDC", 1.0)])
>>> lend = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH", "ETH"],
...                      "collateral": [10.0, 30.0], "debt_asset": ["USDC", "USDC"],
...                      "debt": [12_000.0, 20_000.0]})
>>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)
>>> ex = dl.exposure(sc)
>>> ex.liquidation.filter(asset="ETH").select("account", "price", "distance").rows()
[('a', 1500.0, -0.25), ('b', 833.3333333333334, -0.5833333333333333)]
>>> # a: 10·p·0.8 = 12,000 at p = 1,500, 25 % below 2,000
>>> ex.concentration.filter(scope="all", asset="ETH")["top1"].item()  # b holds 30 of 40
0.75
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from deleverage.exceptions import ScenarioError

if TYPE_CHECKING:
    from deleverage.scenario import Scenario

__all__ = ["Exposure", "exposure"]

Holder = Literal["holder", "protocol", "owner", "account"]
_HOLDERS = ("holder", "protocol", "owner", "account")
#: Default bins of the distance to liquidation: −100 % to +100 % in steps of 5 %.
DISTANCE_BINS = tuple(round(-1.0 + 0.05 * k, 10) for k in range(41))

_HOLDING_SCHEMA = {
    "family": pl.String,
    "protocol": pl.String,
    "account": pl.String,
    "owner": pl.String,
    "asset": pl.String,
    "side": pl.String,
    "units": pl.Float64,
    "value": pl.Float64,
}


@dataclass(frozen=True)
class Exposure:
    """The structure of a scenario before any shock (see :mod:`deleverage.structure`).

    Examples
    --------
    >>> import deleverage as dl
    >>> ex = dl.exposure(dl.examples.eth_lending(n_accounts=50))
    >>> ex.holdings.columns[:6]
    ['family', 'protocol', 'account', 'owner', 'asset', 'side']
    """

    holdings: pl.DataFrame
    liquidation: pl.DataFrame
    leverage: pl.DataFrame
    concentration: pl.DataFrame
    depth: pl.DataFrame
    overlap: pl.DataFrame
    index: pl.DataFrame
    #: Each overlap holder's balance sheet at the start: assets, liabilities, equity, leverage.
    holders: pl.DataFrame
    #: The ``within`` of ``depth`` and the holder level of ``overlap``.
    within: float
    by: str


def exposure(
    scenario: Scenario,
    *,
    within: float = 0.02,
    by: Holder = "holder",
    bins: Sequence[float] = DISTANCE_BINS,
) -> Exposure:
    """Holdings, distance to liquidation, concentration and overlap of ``scenario`` at its
    starting prices (the frames are described in :mod:`deleverage.structure`).

    Parameters
    ----------
    scenario:
        The scenario.
    within:
        The price move (a fraction, > 0) that defines each asset's depth ``D``.
    by:
        The holders of the overlap matrix: ``"holder"`` (owner, else fund, else protocol),
        ``"protocol"``, ``"owner"`` (accounts without one are left out) or ``"account"``.
    bins:
        Increasing edges of the distance to liquidation for ``leverage``.

    Returns
    -------
    Exposure

    Examples
    --------
    >>> import deleverage as dl
    >>> ex = dl.exposure(dl.examples.lst_loop_unwind(n_loopers=200), by="protocol")
    >>> sorted(ex.index["holder"].to_list())
    ['eth_perps', 'lst_fund', 'spark']
    """
    from deleverage.engine import Engine
    from deleverage.scenario import Scenario

    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    if isinstance(within, bool) or not isinstance(within, int | float) or not 0 < within < 1:
        raise ScenarioError(f"within must be a fraction in (0, 1), got {within!r}")
    if by not in _HOLDERS:
        raise ScenarioError(f"by must be one of {list(_HOLDERS)}, got {by!r}")
    try:
        edges = [float(b) for b in bins]
    except (TypeError, ValueError):
        raise ScenarioError(f"bins must be numbers, got {bins!r}") from None
    if len(edges) < 2 or any(not b < c for b, c in itertools.pairwise(edges)):
        raise ScenarioError(f"bins must be at least two increasing edges, got {list(bins)!r}")
    eng = Engine(scenario)
    st = eng.state()
    oracle = dict(zip(st.assets["asset"].to_list(), st.assets["oracle"].to_list(), strict=True))
    held = holdings(scenario, oracle)
    liq = _liquidation(eng, held, oracle, scenario)
    depth = _depth(scenario, oracle, float(within))
    overlap, index = _overlap(held, depth, by)
    sheets = _holders(scenario, held, by)
    return Exposure(
        holdings=held,
        liquidation=liq,
        leverage=_distribution(liq, edges),
        concentration=_concentration(held),
        depth=depth,
        overlap=overlap,
        index=index,
        holders=sheets,
        within=float(within),
        by=by,
    )


def holdings(scenario: Scenario, oracle: dict[str, float]) -> pl.DataFrame:
    """Every family's holdings of ``scenario`` valued at ``oracle`` (asset → quote price), one
    row per family, protocol, account, asset and side (see :mod:`deleverage.structure`).

    Examples
    --------
    >>> import polars as pl
    >>> import deleverage as dl
    >>> from deleverage.structure import holdings
    >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0)])
    >>> lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [2.0],
    ...                      "debt_asset": ["USDC"], "debt": [1_000.0]})
    >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)
    >>> holdings(sc, {"ETH": 2_000.0, "USDC": 1.0}).select("asset", "side", "value").rows()
    [('ETH', 'long', 4000.0), ('USDC', 'short', 1000.0)]
    """
    from deleverage.funds import Funds
    from deleverage.perps import QUOTE, PerpExchange
    from deleverage.vaults import Vaults

    def owner(df: pl.DataFrame) -> pl.Expr:
        if "owner" in df.columns:
            return pl.col("owner").cast(pl.String)
        return pl.lit(None, pl.String)

    parts: list[pl.DataFrame] = []

    def add(df: pl.DataFrame, family: str, protocol: str) -> None:
        parts.append(
            df.with_columns(
                pl.lit(family).alias("family"),
                pl.lit(protocol).alias("protocol"),
                pl.col("account").cast(pl.String),
            ).select(list(_HOLDING_SCHEMA))
        )

    for book in scenario.lending:
        p = book.positions
        rows = [
            p.select(
                "account", owner(p).alias("owner"),
                pl.col("collateral_asset").alias("asset"), pl.lit("long").alias("side"),
                pl.col("collateral").cast(pl.Float64).alias("units"),
            ),
            p.select(
                "account", owner(p).alias("owner"),
                pl.col("debt_asset").alias("asset"), pl.lit("short").alias("side"),
                pl.col("debt").cast(pl.Float64).alias("units"),
            ),
        ]  # fmt: skip
        add(_valued(pl.concat(rows), oracle), "lending", book.protocol.name)
    for fam in scenario.families:
        proto, p = fam.protocol, fam.positions
        if isinstance(proto, PerpExchange):
            pos = p.select(
                "account", owner(p).alias("owner"), pl.col("market").alias("asset"),
                pl.when(pl.col("size") > 0).then(pl.lit("long")).otherwise(pl.lit("short"))
                .alias("side"),
                pl.col("size").abs().alias("units"),
            )  # fmt: skip
            rows = [pos]
            if "margin_asset" in p.columns:
                rows.append(
                    p.filter(pl.col("margin_asset") != QUOTE).select(
                        "account",
                        owner(p).alias("owner"),
                        pl.col("margin_asset").alias("asset"),
                        pl.lit("long").alias("side"),
                        pl.col("margin").alias("units"),
                    )
                )
            add(_valued(pl.concat(rows), oracle), "perps", proto.name)
        elif isinstance(proto, Vaults):
            v = p.select(
                "account", owner(p).alias("owner"), pl.col("collateral_asset").alias("asset"),
                pl.lit("long").alias("side"), pl.col("ink").cast(pl.Float64).alias("units"),
            )  # fmt: skip
            add(_valued(v, oracle), "vaults", proto.name)
        elif isinstance(proto, Funds):
            f = p.filter(pl.col("holding") != "debt")
            marketable = f.filter(pl.col("holding").is_in(list(oracle)))
            illiquid = f.filter(~pl.col("holding").is_in(list(oracle)))
            rows = [
                _valued(
                    marketable.select(
                        "account", owner(p).alias("owner"), pl.col("holding").alias("asset"),
                        pl.lit("long").alias("side"),
                        pl.col("amount").cast(pl.Float64).alias("units"),
                    ),
                    oracle,
                ),
                illiquid.select(
                    "account", owner(p).alias("owner"), pl.col("holding").alias("asset"),
                    pl.lit("long").alias("side"), pl.lit(None, pl.Float64).alias("units"),
                    pl.col("amount").cast(pl.Float64).alias("value"),
                ),
            ]  # fmt: skip
            add(pl.concat(rows), "funds", proto.name)
    if not parts:
        return pl.DataFrame(schema=_HOLDING_SCHEMA | {"exposure": pl.Float64})
    out = (
        pl.concat(parts)
        .filter(pl.col("value") != 0)
        .group_by("family", "protocol", "account", "asset", "side", maintain_order=True)
        .agg(
            pl.col("owner").first(),
            pl.col("units").sum(),
            pl.col("value").sum(),
        )
        .select(list(_HOLDING_SCHEMA))
    )
    # An illiquid class has a value and no units.
    out = out.with_columns(
        pl.when(pl.col("asset").is_in(list(oracle))).then(pl.col("units")).otherwise(None)
    )
    sign = pl.when(pl.col("side") == "long").then(1.0).otherwise(-1.0)
    return out.with_columns((sign * pl.col("value")).alias("exposure"))


def _holders(scenario: Scenario, held: pl.DataFrame, by: str) -> pl.DataFrame:
    """Each holder's assets, liabilities, equity and leverage (assets/equity, null unless the
    equity is positive) at the start, from the core's tables (:func:`balance_sheets
    <deleverage.owners.balance_sheets>`)."""
    from deleverage.owners import balance_sheets

    owner = held.select("protocol", "account", "owner").unique(["protocol", "account"])
    sheet = (
        balance_sheets(scenario)
        .join(owner, on=["protocol", "account"], how="left")
        .with_columns(_holder(by).alias("holder"))
        .filter(pl.col("holder").is_not_null())
        .group_by("holder")
        .agg(pl.col("assets").sum(), pl.col("liabilities").sum())
        .with_columns((pl.col("assets") - pl.col("liabilities")).alias("equity"))
    )
    return sheet.with_columns(
        pl.when(pl.col("equity") > 0)
        .then(pl.col("assets") / pl.col("equity"))
        .otherwise(None)
        .alias("leverage")
    ).sort("holder")


def _valued(df: pl.DataFrame, oracle: dict[str, float]) -> pl.DataFrame:
    price = pl.col("asset").replace_strict(oracle, return_dtype=pl.Float64)
    return df.with_columns((pl.col("units") * price).alias("value"))


def _moving_with(scenario: Scenario, asset: str) -> list[str]:
    """``asset`` and the assets pegged to it down a chain (their prices move with it)."""
    peg = {a.name: a.peg.to for a in scenario.assets if a.peg is not None and a.peg.to}
    out = []
    for a in scenario.asset_names:
        u: str | None = a
        for _ in range(len(peg) + 1):
            if u == asset:
                out.append(a)
                break
            u = peg.get(u) if u is not None else None
    return out


def _liquidation(
    eng: object, held: pl.DataFrame, oracle: dict[str, float], scenario: Scenario
) -> pl.DataFrame:
    """Each exposed account's liquidation price in each asset, its distance and its notional
    on the side that breaches: for a fall, the value of what it holds in the asset and in the
    assets pegged to it; for a rise, of what it owes or is short in them."""
    from deleverage.engine import Engine

    assert isinstance(eng, Engine)
    schema = {
        "asset": pl.String,
        "family": pl.String,
        "protocol": pl.String,
        "account": pl.String,
        "owner": pl.String,
        "direction": pl.String,
        "price": pl.Float64,
        "distance": pl.Float64,
        "notional": pl.Float64,
    }
    marketable = held.filter(pl.col("units").is_not_null())
    frames = []
    for asset in oracle:
        side = pl.col("side")
        notional = (
            marketable.filter(pl.col("asset").is_in(_moving_with(scenario, asset)))
            .group_by("family", "protocol", "account")
            .agg(
                pl.col("value").filter(side == "long").sum().alias("long"),
                pl.col("value").filter(side == "short").sum().alias("short"),
                pl.col("owner").first(),
            )
        )
        lp = eng.liquidation_prices(asset)
        if lp.height == 0:
            continue
        near = (
            lp.filter(pl.col("price").is_not_null())
            .with_columns(pl.col("account").cast(pl.String), pl.col("protocol").cast(pl.String))
            .group_by("family", "protocol", "account", "direction", maintain_order=True)
            .agg(
                pl.when(pl.col("direction").first() == "below")
                .then(pl.col("price").max())
                .otherwise(pl.col("price").min())
                .alias("price")
            )
        )
        p0 = oracle[asset]
        frames.append(
            near.with_columns(pl.lit(asset).alias("asset"))
            .join(notional, on=["family", "protocol", "account"], how="left")
            .with_columns(
                pl.when(pl.col("direction") == "below")
                .then(pl.col("long"))
                .otherwise(pl.col("short"))
                .alias("notional")
            )
            .with_columns(
                # Breached now (0: every price breaches; or the price is already past).
                pl.when(
                    (pl.col("price") == 0)
                    | ((pl.col("direction") == "below") & (pl.col("price") >= p0))
                    | ((pl.col("direction") == "above") & (pl.col("price") <= p0))
                )
                .then(0.0)
                .otherwise(pl.col("price") / p0 - 1.0)
                .alias("distance"),
                pl.col("notional").fill_null(0.0),
            )
            .select(list(schema))
        )
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)


def _distribution(liq: pl.DataFrame, edges: list[float]) -> pl.DataFrame:
    """Notional by bin of distance to liquidation, per asset, family, protocol and direction."""
    lo = np.asarray(edges[:-1])
    hi = np.asarray(edges[1:])
    d = liq["distance"].to_numpy()
    k = np.searchsorted(np.asarray(edges), d, side="right") - 1
    inside = (k >= 0) & (k < len(lo))
    # The last edge closes its bin: a distance exactly on it is in.
    on_last = d == edges[-1]
    k = np.where(on_last, len(lo) - 1, k)
    inside |= on_last
    binned = liq.with_columns(pl.Series("bin", k)).filter(pl.Series(inside))
    return (
        binned.group_by("asset", "family", "protocol", "direction", "bin")
        .agg(pl.col("notional").sum(), pl.len().alias("accounts"))
        .with_columns(
            pl.lit(pl.Series(lo)).gather(pl.col("bin")).alias("distance_low"),
            pl.lit(pl.Series(hi)).gather(pl.col("bin")).alias("distance_high"),
        )
        .sort("asset", "family", "protocol", "direction", "bin")
        .select(
            "asset",
            "family",
            "protocol",
            "direction",
            "distance_low",
            "distance_high",
            "notional",
            pl.col("accounts").cast(pl.UInt32),
        )
    )


def _shares(frame: pl.DataFrame, scope: str) -> pl.DataFrame:
    """Top-1/10/100 shares and the Herfindahl index of the ``value`` of each asset's holders."""
    return (
        frame.group_by("asset")
        .agg(
            pl.len().alias("holders"),
            pl.col("value").sum().alias("total"),
            pl.col("value").sort(descending=True).alias("v"),
        )
        .with_columns(
            *[
                (pl.col("v").list.head(n).list.sum() / pl.col("total")).alias(f"top{n}")
                for n in (1, 10, 100)
            ],
            (pl.col("v").list.eval(pl.element() ** 2).list.sum() / pl.col("total") ** 2).alias(
                "hhi"
            ),
            pl.lit(scope).alias("scope"),
        )
        .drop("v")
    )


def _concentration(held: pl.DataFrame) -> pl.DataFrame:
    longs = held.filter((pl.col("side") == "long") & (pl.col("value") > 0))
    cols = ["scope", "asset", "holders", "total", "top1", "top10", "top100", "hhi"]
    if longs.height == 0:
        return pl.DataFrame(
            schema={c: pl.String if c in ("scope", "asset") else pl.Float64 for c in cols}
        )
    parts = [
        _shares(
            longs.filter(protocol=proto).group_by("asset", "account").agg(pl.col("value").sum()),
            proto,
        )
        for proto in longs["protocol"].unique(maintain_order=True).to_list()
    ]
    entity = pl.coalesce(
        pl.col("owner"), pl.concat_str(pl.col("protocol"), pl.lit("/"), pl.col("account"))
    )
    across = longs.with_columns(entity.alias("entity")).group_by("asset", "entity")
    parts.append(_shares(across.agg(pl.col("value").sum()), "all"))
    return (
        pl.concat(parts)
        .with_columns(pl.col("holders").cast(pl.UInt32))
        .select(cols)
        .sort("scope", "asset")
    )


def _depth(scenario: Scenario, oracle: dict[str, float], within: float) -> pl.DataFrame:
    from deleverage import _core

    rows = []
    for a in scenario.assets:
        units = _core.Router(list(a.venues)).depth("bid", within) if a.venues else 0.0
        rows.append((a.name, float(units), float(units) * oracle[a.name]))
    return pl.DataFrame(
        rows, schema={"asset": pl.String, "units": pl.Float64, "depth": pl.Float64}, orient="row"
    ).with_columns(pl.lit(within).alias("within"))


def _holder(by: str) -> pl.Expr:
    fund = pl.concat_str(pl.col("protocol"), pl.lit("/"), pl.col("account"))
    if by == "protocol":
        return pl.col("protocol")
    if by == "owner":
        return pl.col("owner")
    if by == "account":
        return fund
    return pl.coalesce(
        pl.col("owner"),
        pl.when(pl.col("family") == "funds").then(fund).otherwise(pl.col("protocol")),
    )


def _overlap(held: pl.DataFrame, depth: pl.DataFrame, by: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    deep = depth.filter(pl.col("depth") > 0).select("asset", "depth")
    # What a holder's forced sales would sell (or a perp short's buy back): not lending debt,
    # which no liquidation buys on the venues.
    sold = held.filter(~((pl.col("family") == "lending") & (pl.col("side") == "short")))
    pi = (
        sold.join(deep, on="asset", how="inner")
        .with_columns(_holder(by).alias("holder"))
        .filter(pl.col("holder").is_not_null())
        .group_by("holder", "asset")
        .agg(pl.col("exposure").sum(), pl.col("depth").first())
    )
    holders = sorted(pi["holder"].unique().to_list())
    assets = sorted(pi["asset"].unique().to_list())
    m = np.zeros((len(holders), len(assets)))
    d = np.ones(len(assets))
    hi = {h: i for i, h in enumerate(holders)}
    ai = {a: i for i, a in enumerate(assets)}
    for h, a, x, dep in pi.select("holder", "asset", "exposure", "depth").iter_rows():
        m[hi[h], ai[a]] = x
        d[ai[a]] = dep
    omega = (m / d) @ m.T
    n = len(holders)
    overlap = pl.DataFrame(
        {
            "holder": [holders[i] for i in range(n) for _ in range(n)],
            "other": [holders[j] for _ in range(n) for j in range(n)],
            "overlap": omega.ravel(),
        },
        schema={"holder": pl.String, "other": pl.String, "overlap": pl.Float64},
    )
    index = pl.DataFrame(
        {
            "holder": holders,
            "exposure": m.sum(axis=1),
            "index": omega.sum(axis=1) - np.diag(omega),
        },
        schema={"holder": pl.String, "exposure": pl.Float64, "index": pl.Float64},
    ).sort("index", descending=True)
    return overlap, index
