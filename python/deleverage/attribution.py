"""Who propagated the cascade (issue 19, item 2): the forced flow of each group, knock-out
counterfactuals, exact Shapley values of bad debt and drawdown, and a DebtRank-style ranking.

A **group** is a set of position rows: ``by="protocol"``, ``"family"``, ``"fund"`` (each fund
of a fund group), ``"owner"`` (the positions' ``owner`` column; rows without one belong to no
group), ``"account"``, ``"venue"`` (each venue of each asset, named ``"ETH[0]"``; all positions
stay), or a Polars frame mapping ``account`` (and optionally ``protocol``) to ``group``: any
account column of the user's (accounts it does not list belong to no group). Rows in no group
are always present. A **coalition** is the scenario with the rows of its groups and
the rows in no group (for venues: with its venues only); families left without rows are left
out, and so are the policies of owners left without accounts.

:func:`attribute` returns an :class:`Attribution`:

- ``flow``: from one run of the whole scenario: each group's forced sales and purchases of each
  asset in quote (lending and keepers' sales, perp liquidation orders by side, funds' sales and
  purchases, owners' sales, perp margin-asset sales; a batch round's sales split over the
  round's liquidations by the collateral they seized), its ``share`` of the asset's net forced
  flow, the asset's ``endogenous_drawdown`` (its lowest mid's fall beyond its lowest
  reference's) and ``drawdown_share``, the share times it (a first-order split; Shapley is the
  exact one). With ``by="venue"`` the groups are the venues the flow went to.
- ``venue_flow``: the same flow split over the venues it went to (``venue`` named
  ``"ETH[0]"``), from the router's split of each order (:attr:`~deleverage.Result.fills`;
  an order shared by several rows, a batch round's or funds' net order, is split over
  them by each venue's share of it), and each row's ``share`` of the venue's net forced flow.
- ``knockout``: for each group removed, every other group's liquidated accounts and bad debt,
  and their change from the whole scenario (one run each).
- ``shapley``: exact Shapley values of ``bad_debt`` and of each asset's ``drawdown_<asset>``
  over all 2ⁿ coalitions (at most 10 groups), each coalition's value the mean over ``runs``
  seeded runs of :func:`~deleverage.sweep` (common random numbers: every coalition runs the
  same paths, on ``threads``). The values sum to v(all) − v(none): exactly in rational
  arithmetic on the runs' values, to rounding in floats. ``totals`` holds v(all) and v(none).
- ``ranking``: DebtRank-style systemic importance: ``R_i = Σ_{j≠i} v_j (h_j − h_j^{−i})``, with
  ``h_j = min(1, loss_j/E_j)`` group j's relative equity loss over the run (E_j its starting
  equity, positive), ``h_j^{−i}`` the same without group i, and ``v_j = E_j/Σ_{k≠i} E_k``: the
  equity-weighted distress of the others that group i's presence causes (not for venues).

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.lst_loop_unwind(n_loopers=100)
>>> att = dl.attribute(sc, by="protocol", shock=dl.Shock.instant({"stETH": -0.05}), threads=1)
>>> att.shapley.filter(metric="bad_debt")["group"].to_list()
['spark', 'lst_fund', 'eth_perps']
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING

import polars as pl

from deleverage.exceptions import ScenarioError

if TYPE_CHECKING:
    from deleverage.owners import Owner
    from deleverage.result import Result
    from deleverage.scenario import Scenario
    from deleverage.shock import Shock

__all__ = ["Attribution", "attribute"]

#: The most groups exact Shapley values enumerate (2¹⁰ coalitions).
MAX_SHAPLEY_GROUPS = 10
_REST = "(unassigned)"
_SELLS = ("liquidation", "storefront", "auction_take", "fund_sale", "owner_sale",
          "collateral_sale")  # fmt: skip
_LIQUIDATED = ("liquidation", "absorb", "perp_liquidation", "backstop", "auction_kick",
               "default", "bad_debt")  # fmt: skip


@dataclass(frozen=True)
class Attribution:
    """Attribution of a run to groups of positions (see :mod:`deleverage.attribution`).

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.lst_loop_unwind(n_loopers=100)
    >>> att = dl.attribute(sc, by="family", shock=dl.Shock.instant({"stETH": -0.05}),
    ...                    shapley=False)
    >>> att.groups["group"].to_list()
    ['lending', 'funds', 'perps']
    """

    by: str
    groups: pl.DataFrame
    flow: pl.DataFrame
    venue_flow: pl.DataFrame
    knockout: pl.DataFrame
    shapley: pl.DataFrame
    totals: pl.DataFrame
    ranking: pl.DataFrame
    runs: int


def attribute(
    scenario: Scenario,
    by: str | pl.DataFrame = "protocol",
    *,
    shock: Shock | None = None,
    runs: int = 1,
    seed: int | None = None,
    threads: int | None = None,
    shapley: bool = True,
    progress: bool = False,
) -> Attribution:
    """Attributes the run of ``scenario`` under ``shock`` to the groups ``by`` names (see
    :mod:`deleverage.attribution` for the frames).

    Parameters
    ----------
    scenario:
        The scenario.
    by:
        ``"protocol"``, ``"family"``, ``"fund"``, ``"owner"``, ``"account"``, ``"venue"``, or a
        frame of ``account`` (optionally ``protocol``) and ``group``.
    shock, seed:
        As :func:`~deleverage.simulate`'s (the scenario's own by default).
    runs:
        Seeded runs per coalition for the Shapley values.
    threads:
        Threads of the sweep that runs the coalitions (default: one per core).
    shapley:
        Whether to enumerate the 2ⁿ coalitions (n ≤ 10).
    progress:
        A progress bar for the coalitions' sweep.

    Returns
    -------
    Attribution

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.lst_loop_unwind(n_loopers=100)
    >>> att = dl.attribute(sc, by="protocol", shock=dl.Shock.instant({"stETH": -0.05}),
    ...                    threads=1)
    >>> v = att.totals.filter(metric="bad_debt").row(0, named=True)
    >>> total = att.shapley.filter(metric="bad_debt")["value"].sum()
    >>> abs(total - (v["all"] - v["none"])) <= 1e-9 * max(1.0, abs(v["all"]))
    True
    """
    from deleverage.engine import simulate
    from deleverage.scenario import Scenario
    from deleverage.sweep import sweep

    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    if not isinstance(by, pl.DataFrame) and (not isinstance(by, str) or not by):
        raise ScenarioError(
            f"by must name a grouping or be a frame of account and group, got {by!r}"
        )
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ScenarioError(f"runs must be a whole number >= 1, got {runs!r}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ScenarioError(f"threads must be a whole number >= 1 or None, got {threads!r}")
    labels = _labels(scenario, by)
    groups = _group_names(scenario, by, labels)
    if not groups:
        raise ScenarioError(f"by={by!r} names no group in the scenario's positions")
    if shapley and len(groups) > MAX_SHAPLEY_GROUPS:
        raise ScenarioError(
            f"exact Shapley values enumerate 2^n coalitions: at most {MAX_SHAPLEY_GROUPS} groups, "
            f"by={by!r} gives {len(groups)} (pass shapley=False for the rest)"
        )
    full = simulate(scenario, shock, seed=seed)
    who = _membership(scenario, by, labels)
    outcome = _outcomes(full, who)
    flow, venue_flow = _flow(scenario, full, who, by)
    knock_parts = []
    sheets0 = None if isinstance(by, str) and by == "venue" else _equity(scenario, None, who)
    distress_full = _distress(scenario, full, who, sheets0) if sheets0 is not None else None
    ranking_rows = []
    for g in groups:
        sc_g = _coalition(scenario, by, labels, [x for x in groups if x != g])
        res_g = simulate(sc_g, shock, seed=seed)
        out_g = _outcomes(res_g, who).filter(pl.col("group") != g)
        knock_parts.append(
            outcome.filter(pl.col("group") != g)
            .join(out_g, on="group", how="left", suffix="_without")
            .fill_null(0)
            .select(
                pl.lit(g).alias("removed"),
                "group",
                pl.col("liquidated_without").alias("liquidated"),
                pl.col("bad_debt_without").alias("bad_debt"),
                (
                    pl.col("liquidated_without").cast(pl.Int64)
                    - pl.col("liquidated").cast(pl.Int64)
                ).alias("liquidated_change"),
                (pl.col("bad_debt_without") - pl.col("bad_debt")).alias("bad_debt_change"),
            )
        )
        if sheets0 is not None and distress_full is not None:
            h_without = _distress(sc_g, res_g, who, sheets0)
            ranking_rows.append((g, _debtrank(g, sheets0, distress_full, h_without)))
    knockout = (
        pl.concat(knock_parts)
        if knock_parts
        else pl.DataFrame(
            schema={
                "removed": pl.String,
                "group": pl.String,
                "liquidated": pl.UInt32,
                "bad_debt": pl.Float64,
                "liquidated_change": pl.Int64,
                "bad_debt_change": pl.Float64,
            }
        )
    )
    ranking = pl.DataFrame(
        ranking_rows, schema={"group": pl.String, "importance": pl.Float64}, orient="row"
    ).sort("importance", descending=True)
    ranking = ranking.with_columns(pl.int_range(1, ranking.height + 1).alias("rank"))
    if shapley:
        coalitions = {
            _mask_label(mask, len(groups)): _coalition(
                scenario, by, labels, [g for k, g in enumerate(groups) if mask >> k & 1]
            )
            for mask in range(1 << len(groups))
        }
        # Coalitions side by side, each on one thread: one coalition's few runs would leave
        # the other cores idle (the engine releases the GIL while it runs).
        workers = threads if threads is not None else (os.cpu_count() or 1)
        with cf.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            table = sweep(
                coalitions, shock, runs, seed=seed, threads=1, progress=progress, executor=pool
            )
        values, totals = _shapley(table, groups, scenario)
    else:
        values = pl.DataFrame(schema={"group": pl.String, "metric": pl.String, "value": pl.Float64})
        totals = pl.DataFrame(schema={"metric": pl.String, "all": pl.Float64, "none": pl.Float64})
    group_frame = pl.DataFrame(
        {"group": groups, "rows": [_rows_of(who, g, by, scenario) for g in groups]},
        schema={"group": pl.String, "rows": pl.UInt32},
    )
    return Attribution(
        by=by if isinstance(by, str) else "groups",
        groups=group_frame,
        flow=flow,
        venue_flow=venue_flow,
        knockout=knockout,
        shapley=values,
        totals=totals,
        ranking=ranking,
        runs=runs,
    )


# Groups -----------------------------------------------------------------------------------------


def _frames(sc: Scenario) -> list[tuple[str, str, pl.DataFrame]]:
    """(family, protocol, positions) of every lending book and other family, in order."""
    from deleverage.funds import Funds
    from deleverage.perps import PerpExchange
    from deleverage.vaults import Vaults

    out = [("lending", b.protocol.name, b.positions) for b in sc.lending]
    for f in sc.families:
        kind = (
            "perps"
            if isinstance(f.protocol, PerpExchange)
            else "vaults"
            if isinstance(f.protocol, Vaults)
            else "funds"
            if isinstance(f.protocol, Funds)
            else "other"
        )
        out.append((kind, f.protocol.name, f.positions))
    return out


def _labels(sc: Scenario, by: str | pl.DataFrame) -> list[pl.Series]:
    """Each frame's group label per row (null: in no group)."""
    out = []
    frames = _frames(sc)
    if isinstance(by, pl.DataFrame):
        return _mapped(frames, by)
    if by not in ("protocol", "family", "fund", "owner", "account", "venue") and not any(
        by in df.columns for _, _, df in frames
    ):
        known = sorted({c for _, _, df in frames for c in df.columns})
        raise ScenarioError(
            f"by={by!r} is neither protocol, family, fund, owner, account, venue nor a column of "
            f"the positions frames {known}"
        )
    for family, protocol, df in frames:
        n = df.height
        if by == "protocol":
            s = pl.Series([protocol] * n, dtype=pl.String)
        elif by == "family":
            s = pl.Series([family] * n, dtype=pl.String)
        elif by == "account" or (by == "fund" and family == "funds"):
            s = df.select(pl.lit(protocol + "/") + pl.col("account").cast(pl.String)).to_series()
        elif by in ("fund", "venue"):
            s = pl.Series([None] * n, dtype=pl.String)
        else:
            s = (
                df[by].cast(pl.String)
                if by in df.columns
                else pl.Series([None] * n, dtype=pl.String)
            )
        out.append(s.alias("group"))
    return out


def _mapped(frames: list[tuple[str, str, pl.DataFrame]], by: pl.DataFrame) -> list[pl.Series]:
    missing = [c for c in ("account", "group") if c not in by.columns]
    if missing:
        raise ScenarioError(
            f"by: a groups frame needs the columns account and group; lacks {missing}"
        )
    keys = ["protocol", "account"] if "protocol" in by.columns else ["account"]
    m = by.select(*(pl.col(k).cast(pl.String) for k in keys), pl.col("group").cast(pl.String))
    twice = m.filter(pl.struct(keys).is_duplicated())
    if twice.height:
        raise ScenarioError(f"by: {twice.select(keys).row(0)} is given two groups")
    out = []
    for _, protocol, df in frames:
        rows = df.select(pl.col("account").cast(pl.String)).with_columns(
            pl.lit(protocol).alias("protocol")
        )
        out.append(rows.join(m, on=keys, how="left", maintain_order="left")["group"])
    return out


def _group_names(sc: Scenario, by: str | pl.DataFrame, labels: list[pl.Series]) -> list[str]:
    if isinstance(by, str) and by == "venue":
        return [f"{a.name}[{k}]" for a in sc.assets for k in range(len(a.venues))]
    seen: dict[str, None] = {}
    for s in labels:
        for x in s.drop_nulls().unique(maintain_order=True).to_list():
            seen.setdefault(x, None)
    return list(seen)


def _membership(sc: Scenario, by: str | pl.DataFrame, labels: list[pl.Series]) -> pl.DataFrame:
    """(protocol, account) → group for every account (``(unassigned)`` outside every group)."""
    parts = []
    for (_, protocol, df), s in zip(_frames(sc), labels, strict=True):
        parts.append(
            pl.DataFrame({"account": df["account"].cast(pl.String), "group": s}).with_columns(
                pl.lit(protocol).alias("protocol"), pl.col("group").fill_null(_REST)
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={"account": pl.String, "group": pl.String, "protocol": pl.String}
        )
    return pl.concat(parts).unique(["protocol", "account"], keep="first", maintain_order=True)


def _rows_of(who: pl.DataFrame, g: str, by: str | pl.DataFrame, sc: Scenario) -> int:
    if isinstance(by, str) and by == "venue":
        return 0
    return int(who.filter(group=g).height)


def _coalition(
    sc: Scenario, by: str | pl.DataFrame, labels: list[pl.Series], keep: list[str]
) -> Scenario:
    """The scenario with the rows of the groups in ``keep`` and the rows in no group."""
    if isinstance(by, str) and by == "venue":
        kept = set(keep)
        # Each venue's new index, for the outages and replayed snapshots that name venues.
        index: dict[tuple[str, int], int] = {}
        assets = []
        for a in sc.assets:
            left = [k for k in range(len(a.venues)) if f"{a.name}[{k}]" in kept]
            index.update({(a.name, k): n for n, k in enumerate(left)})
            assets.append(replace(a, venues=[a.venues[k] for k in left]))
        outages = tuple(
            o if o.kind != "venue_halt" else replace(o, venue=index[(o.asset or "", o.venue)])
            for o in sc.outages
            if o.kind != "venue_halt" or (o.asset or "", o.venue) in index
        )
        names = sc.asset_names
        replay = tuple(
            replace(s, venue=index[(names[s.asset], s.venue)])
            for s in sc.replay
            if (names[s.asset], s.venue) in index
        )
        return replace(sc, assets=assets, outages=outages, replay=replay)
    keep_set = set(keep)
    n_books = len(sc.lending)
    books = []
    for b, s in zip(sc.lending, labels[:n_books], strict=True):
        mask = s.is_null() | s.is_in(list(keep_set))
        p = b.positions.filter(mask)
        if p.height:
            books.append(replace(b, positions=p))
    fams = []
    for f, s in zip(sc.families, labels[n_books:], strict=True):
        mask = s.is_null() | s.is_in(list(keep_set))
        p = f.positions.filter(mask)
        if p.height:
            fams.append(replace(f, positions=p))
    frames: list[pl.DataFrame] = [b.positions for b in books] + [f.positions for f in fams]
    columns = [p["owner"].cast(pl.String) for p in frames if "owner" in p.columns]
    owners: tuple[tuple[str, Owner], ...] = ()
    if sc.owners and columns:
        policy = pl.Series([n for n, _ in sc.owners], dtype=pl.String)
        held = policy.is_in(pl.concat(columns).unique().implode()).to_list()
        owners = tuple(o for o, has in zip(sc.owners, held, strict=True) if has)
    # A peg read by a protocol left out is read by the others only.
    present = {b.protocol.name for b in books} | {f.protocol.name for f in fams}
    assets = [
        replace(a, peg=replace(a.peg, read_at_peg_by=tuple(
            p for p in a.peg.read_at_peg_by if p in present)))
        if a.peg is not None
        else a
        for a in sc.assets
    ]  # fmt: skip
    return replace(sc, assets=assets, lending=tuple(books), families=tuple(fams), owners=owners)


# After a run ----------------------------------------------------------------------------------


def _outcomes(res: Result, who: pl.DataFrame) -> pl.DataFrame:
    """Each group's liquidated accounts and bad debt in one run."""
    ev = res.events.with_columns(
        pl.col("kind").cast(pl.String),
        pl.col("account").cast(pl.String),
        pl.col("protocol").cast(pl.String),
    )
    named = ev.filter(pl.col("account").is_not_null()).join(
        who, on=["protocol", "account"], how="left"
    )
    named = named.with_columns(pl.col("group").fill_null(_REST))
    liq = (
        named.filter(pl.col("kind").is_in(list(_LIQUIDATED)))
        .group_by("group")
        .agg(pl.struct("protocol", "account").n_unique().cast(pl.UInt32).alias("liquidated"))
    )
    bad = named.group_by("group").agg(pl.col("bad_debt").sum())
    groups = who.select("group").unique()
    return (
        groups.join(liq, on="group", how="left")
        .join(bad, on="group", how="left")
        .with_columns(pl.col("liquidated").fill_null(0), pl.col("bad_debt").fill_null(0.0))
        .sort("group")
    )


def _flow(
    sc: Scenario, res: Result, who: pl.DataFrame, by: str | pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    from deleverage.market import quote_prices
    from deleverage.perps import PerpExchange

    ev = res.events.with_row_index("i").with_columns(
        pl.col("kind").cast(pl.String),
        pl.col("account").cast(pl.String),
        pl.col("protocol").cast(pl.String),
        pl.col("asset").cast(pl.String),
    )
    sells = ev.filter(pl.col("kind").is_in(list(_SELLS))).select(
        "i", "protocol", "account", "asset", pl.col("notional").alias("sold"),
        pl.lit(0.0).alias("bought"),
    )  # fmt: skip
    buys = ev.filter(kind="fund_purchase").select(
        "i", "protocol", "account", "asset", pl.lit(0.0).alias("sold"),
        pl.col("notional").abs().alias("bought"),
    )  # fmt: skip
    # Perp liquidation orders: a long's sells, a short's buys.
    sides = [
        f.positions.select(
            pl.col("account").cast(pl.String), pl.col("market").alias("asset"),
            pl.col("size").sign().alias("sign"),
        ).with_columns(pl.lit(f.protocol.name).alias("protocol"))
        for f in sc.families
        if isinstance(f.protocol, PerpExchange)
    ]  # fmt: skip
    perp = ev.filter(kind="perp_liquidation")
    parts = [sells, buys]
    if sides and perp.height:
        side = pl.concat(sides).unique(["protocol", "account", "asset"], keep="first")
        perp = perp.join(side, on=["protocol", "account", "asset"], how="left")
        parts.append(
            perp.select(
                "i",
                "protocol",
                "account",
                "asset",
                pl.when(pl.col("sign") > 0).then(pl.col("notional")).otherwise(0.0).alias("sold"),
                pl.when(pl.col("sign") < 0).then(pl.col("notional")).otherwise(0.0).alias("bought"),
            )
        )
    # A batch round's sales name no account: split them over the round's liquidations of the
    # asset by the collateral each seized.
    batch = ev.filter(kind="sale")
    if batch.height:
        seized = ev.filter(kind="liquidation").select(
            "step", "round", "asset", "protocol", "account", "collateral_seized"
        )
        split = batch.select("i", "step", "round", "asset", pl.col("notional").alias("lot")).join(
            seized, on=["step", "round", "asset"], how="inner"
        )
        split = split.with_columns(
            (
                pl.col("lot")
                * pl.col("collateral_seized")
                / pl.col("collateral_seized").sum().over("step", "round", "asset")
            ).alias("sold")
        )
        parts.append(
            split.select("i", "protocol", "account", "asset", "sold", pl.lit(0.0).alias("bought"))
        )
    rows = pl.concat(parts, how="vertical_relaxed")
    split = _on_venues(sc, res, rows)
    if isinstance(by, str) and by == "venue":
        flows = split = split.with_columns(pl.col("venue").alias("group"))
    else:
        flows, split = (
            x.join(who, on=["protocol", "account"], how="left").with_columns(
                pl.col("group").fill_null(_REST)
            )
            for x in (rows, split)
        )
    venue_total = pl.col("net").sum().over("venue")
    venue_flow = (
        split.group_by("group", "asset", "venue")
        .agg(pl.col("sold").sum(), pl.col("bought").sum())
        .with_columns((pl.col("sold") - pl.col("bought")).alias("net"))
        .with_columns(
            pl.when(venue_total != 0)
            .then(pl.col("net") / venue_total)
            .otherwise(None)
            .alias("share")
        )
        .sort("asset", "venue", "group")
        .select("group", "asset", "venue", "sold", "bought", "net", "share")
    )
    per = (
        flows.group_by("group", "asset")
        .agg(pl.col("sold").sum(), pl.col("bought").sum())
        .with_columns((pl.col("sold") - pl.col("bought")).alias("net"))
    )
    # Endogenous drawdown: the lowest mid's fall beyond the lowest reference's, in quote.
    p0 = quote_prices(sc.assets, [a.price for a in sc.assets])
    start = pl.DataFrame({"asset": [a.name for a in sc.assets], "p0": p0})
    dd = (
        res.steps.with_columns(pl.col("asset").cast(pl.String))
        .group_by("asset")
        .agg(pl.col("mid").min(), pl.col("reference").min())
        .join(start, on="asset")
        .select(
            "asset",
            (
                (pl.col("mid") / pl.col("p0") - 1.0).clip(upper_bound=0.0)
                - (pl.col("reference") / pl.col("p0") - 1.0).clip(upper_bound=0.0)
            )
            .clip(upper_bound=0.0)
            .alias("endogenous_drawdown"),
        )
    )
    total = pl.col("net").sum().over("asset")
    flow = (
        per.join(dd, on="asset", how="left")
        .with_columns(
            pl.when(total != 0).then(pl.col("net") / total).otherwise(None).alias("share")
        )
        .with_columns((pl.col("share") * pl.col("endogenous_drawdown")).alias("drawdown_share"))
        .sort("asset", "group")
        .select(
            "group",
            "asset",
            "sold",
            "bought",
            "net",
            "share",
            "endogenous_drawdown",
            "drawdown_share",
        )
    )
    return flow, venue_flow


def _on_venues(sc: Scenario, res: Result, flows: pl.DataFrame) -> pl.DataFrame:
    """The flow rows (with their event row ``i``) split over the venues their orders filled on:
    an asset with one venue takes all of it there; on an asset with several, each row belongs
    to its asset's last order at or before it in :attr:`~deleverage.Result.fills` and takes
    each venue's share of that order's quote (of its units for an order filled at no price)."""
    venues = pl.DataFrame(
        {
            "asset": [a.name for a in sc.assets],
            "n_venues": [len(a.venues) for a in sc.assets],
        },
        schema={"asset": pl.String, "n_venues": pl.UInt32},
    )
    flows = flows.join(venues, on="asset", how="left")
    one = flows.filter(pl.col("n_venues") <= 1).with_columns(
        (pl.col("asset") + "[0]").alias("venue"), pl.lit(1.0).alias("part")
    )
    many = flows.filter(pl.col("n_venues") > 1)
    fills = res.fills
    if many.height and fills.height:
        by_order = fills.select(
            pl.col("sequence").alias("order"),
            "asset",
            (pl.col("asset") + "[" + pl.col("venue").cast(pl.String) + "]").alias("venue"),
            pl.when(pl.col("notional").sum().over("asset", "sequence") > 0)
            .then(pl.col("notional") / pl.col("notional").sum().over("asset", "sequence"))
            .otherwise(pl.col("qty") / pl.col("qty").sum().over("asset", "sequence"))
            .alias("part"),
        )
        orders = by_order.select("asset", "order").unique().sort("order")
        matched = (
            many.with_columns(pl.col("i").cast(pl.UInt32))
            .sort("i")
            .join_asof(
                orders,
                left_on="i",
                right_on="order",
                by="asset",
                strategy="backward",
                check_sortedness=False,  # both sorted above; polars cannot check with `by`
            )
        )
        many = matched.join(by_order, on=["asset", "order"], how="inner").drop("order")
    else:
        many = many.with_columns(
            (pl.col("asset") + "[0]").alias("venue"), pl.lit(1.0).alias("part")
        ).filter(pl.lit(False))
    cols = ["i", "protocol", "account", "asset", "venue"]
    return pl.concat(
        [
            part.select(
                *cols,
                (pl.col("sold") * pl.col("part")).alias("sold"),
                (pl.col("bought") * pl.col("part")).alias("bought"),
            )
            for part in (one, many)
        ],
        how="vertical_relaxed",
    )


def _equity(sc: Scenario, res: Result | None, who: pl.DataFrame) -> pl.DataFrame:
    """Each group's equity (assets − liabilities, quote) at the start or the run's end."""
    from deleverage.owners import balance_sheets

    sheet = balance_sheets(sc, res)
    return (
        sheet.join(who, on=["account", "protocol"], how="left")
        .with_columns(pl.col("group").fill_null(_REST))
        .group_by("group")
        .agg((pl.col("assets") - pl.col("liabilities")).sum().alias("equity"))
    )


def _distress(
    sc: Scenario, res: Result, who: pl.DataFrame, start: pl.DataFrame
) -> dict[str, float]:
    """h_j = min(1, loss_j/E_j) of each group with positive starting equity E_j."""
    end = dict(_equity(sc, res, who).iter_rows())
    out = {}
    for g, e0 in start.iter_rows():
        if e0 > 0:
            loss = e0 - end.get(g, e0)
            out[g] = min(1.0, max(0.0, loss) / e0)
    return out


def _debtrank(
    g: str, start: pl.DataFrame, h: dict[str, float], h_without: dict[str, float]
) -> float:
    weights = {j: e for j, e in start.iter_rows() if e > 0 and j != g}
    total = math.fsum(weights.values())
    if total <= 0:
        return 0.0
    return math.fsum(
        (e / total) * (h.get(j, 0.0) - h_without.get(j, 0.0)) for j, e in weights.items()
    )


# Shapley ----------------------------------------------------------------------------------------


def _mask_label(mask: int, n: int) -> str:
    return format(mask, f"0{n}b")[::-1]


def _shapley(
    table: pl.DataFrame, groups: list[str], sc: Scenario
) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = len(groups)
    metrics = ["bad_debt", *[f"drawdown_{a.name}" for a in sc.assets]]
    means = table.group_by("scenario").agg(pl.col(m).mean() for m in metrics)
    v = {row["scenario"]: row for row in means.iter_rows(named=True)}
    weight = [Fraction(math.factorial(s) * math.factorial(n - s - 1), math.factorial(n))
              for s in range(n)]  # fmt: skip
    rows: list[tuple[str, str, float]] = []
    totals: list[tuple[str, float, float]] = []
    full, empty = _mask_label((1 << n) - 1, n), _mask_label(0, n)
    for m in metrics:
        val = {k: Fraction(float(r[m])) for k, r in v.items() if r[m] is not None}
        if len(val) < (1 << n):
            continue
        for i, g in enumerate(groups):
            phi = Fraction(0)
            for mask in range(1 << n):
                if mask >> i & 1:
                    continue
                s = bin(mask).count("1")
                phi += weight[s] * (val[_mask_label(mask | 1 << i, n)] - val[_mask_label(mask, n)])
            rows.append((g, m, float(phi)))
        totals.append((m, float(val[full]), float(val[empty])))
    return (
        pl.DataFrame(rows, schema={"group": pl.String, "metric": pl.String, "value": pl.Float64},
                     orient="row"),
        pl.DataFrame(totals, schema={"metric": pl.String, "all": pl.Float64, "none": pl.Float64},
                     orient="row"),
    )  # fmt: skip
