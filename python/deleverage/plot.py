"""Plots with matplotlib: each function returns a ``Figure``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import deleverage as dl
>>> res = dl.simulate(dl.examples.eth_lending(n_accounts=300, seed=1, steps=30),
...                   shock=dl.Shock.instant(ETH=-0.25))
>>> fig = dl.plot.result(res, asset="ETH")
>>> len(fig.axes)
2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from deleverage.exceptions import ScenarioError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from deleverage.result import Result

__all__ = [
    "amplification_curve",
    "attribution",
    "concentration",
    "depth",
    "exposure_network",
    "frontier",
    "knockout",
    "leverage",
    "liquidation_map",
    "peg",
    "result",
    "rounds",
]


def _figure(nrows: int = 1, height: float = 4.0) -> tuple[Figure, list]:  # type: ignore[type-arg]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, height * nrows), layout="constrained")
    axes = [fig.add_subplot(nrows, 1, i + 1) for i in range(nrows)]
    return fig, axes


def _check_result(res: object) -> None:
    from deleverage.result import Result

    if not isinstance(res, Result):
        raise ScenarioError(f"expected a deleverage.Result, got {type(res).__name__}")


def _check_frame(frame: object, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pl.DataFrame) or any(c not in frame.columns for c in columns):
        raise ScenarioError(f"expected {what} (a Polars frame with columns {list(columns)})")


def _asset_steps(res: Result, asset: str) -> pl.DataFrame:
    """The steps frame's rows of ``asset``; a clear error for an asset the run does not have."""
    _check_result(res)
    rows = res.steps.filter(pl.col("asset") == asset)
    if rows.height == 0:
        raise ScenarioError(f"no steps for asset {asset!r}")
    return rows


#: Which family each forced-flow event kind belongs to, for the price plot's lower panel.
_FLOW_FAMILY = {
    "liquidation": "lending", "sale": "lending", "storefront": "lending",
    "perp_liquidation": "perps", "collateral_sale": "perps",
    "auction_take": "vaults",
    "fund_sale": "funds",
    "owner_sale": "owners",
    "user_sell": "own orders", "user_buy": "own orders",
}  # fmt: skip
_FLOW_COLORS = {
    "lending": "C0", "perps": "C1", "vaults": "C2", "funds": "C3", "owners": "C4",
    "own orders": "0.6",
}  # fmt: skip


def result(res: Result, asset: str | None = None) -> Figure:
    """The price path of ``asset`` (mid, exogenous reference, oracle) from its pre-shock price
    (drawn at step −1) over the steps, above every family's forced flow of the asset per step,
    stacked by family (quote traded on the venues: lending liquidators' and keepers' sales,
    perp liquidation orders, Maker auction takes sold by keepers, funds' sales, owners' sales),
    and the orders a driver submitted (``Engine.submit``) stacked apart as "own orders", since
    they move the same price. ``asset`` defaults to the first asset with liquidations.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=200, seed=1, steps=20),
    ...                   shock=dl.Shock.instant(ETH=-0.2))
    >>> res.plot().axes[0].get_ylabel()
    'ETH price (quote)'
    """
    _check_result(res)
    steps = res.steps
    if asset is None:
        hit = steps.filter(pl.col("liquidation_count") > 0)["asset"]
        asset = hit[0] if hit.len() else steps["asset"][0]
    rows = _asset_steps(res, asset)
    fig, (top, bottom) = _figure(2, 3.2)
    x = rows["step"].to_numpy()
    p0 = res.meta.get("initial_prices", {}).get(asset)
    xs = np.concatenate([[-1], x]) if p0 is not None else x

    def path(col: str) -> np.ndarray:
        y = rows[col].to_numpy()
        return np.concatenate([[p0], y]) if p0 is not None else y

    top.plot(xs, path("reference"), color="0.55", ls="--", lw=1.2, label="reference")
    top.plot(xs, path("mid"), color="C0", lw=1.6, label="mid")
    top.step(xs, path("oracle"), where="post", color="C3", lw=1.1, label="oracle")
    if p0 is not None:
        top.axvline(-0.5, color="0.3", lw=0.8, ls=":")
        top.annotate("before the shock", (-1, p0), xytext=(4, 4), textcoords="offset points",
                     fontsize=8)  # fmt: skip
    top.set_ylabel(f"{asset} price (quote)")
    top.ticklabel_format(axis="y", useOffset=False, style="plain")
    top.legend(loc="best", frameon=False)
    top.grid(alpha=0.3)
    top.set_title(f"{asset}: price path and forced flow")
    ev = res.events.with_columns(pl.col("kind").cast(pl.String), pl.col("asset").cast(pl.String))
    flow = (
        ev.filter(pl.col("asset") == asset, pl.col("kind").is_in(list(_FLOW_FAMILY)))
        .with_columns(pl.col("kind").replace_strict(_FLOW_FAMILY).alias("family"))
        .group_by("step", "family")
        .agg(pl.col("notional").abs().sum())
    )
    div, unit = _scale(flow.group_by("step").agg(pl.col("notional").sum())["notional"].to_numpy())
    base = np.zeros(len(x))
    index = {int(s): k for k, s in enumerate(x)}
    for fam in _FLOW_COLORS:
        part = flow.filter(family=fam)
        if part.height == 0:
            continue
        y = np.zeros(len(x))
        for s, v in part.select("step", "notional").iter_rows():
            if int(s) in index:
                y[index[int(s)]] = v / div
        bottom.bar(x, y, width=1.0, bottom=base, color=_FLOW_COLORS[fam], label=fam)
        base = base + y
    own = flow.filter(family="own orders").height > 0
    bottom.set_ylabel(f"forced flow{' and own orders' if own else ''} ({unit})")
    if flow.height:
        bottom.legend(loc="best", frameon=False, title="traded by" if own else "sold by")
    else:
        bottom.text(
            0.5, 0.5, f"no forced flow of {asset} in this run", transform=bottom.transAxes,
            ha="center", va="center", color="0.35",
        )  # fmt: skip
    bottom.set_xlabel(f"step ({res.summary['steps_run'].item()} run; −1: before the shock)")
    bottom.set_xlim(top.get_xlim())
    bottom.grid(alpha=0.3)
    return fig


def liquidation_map(frame: pl.DataFrame) -> Figure:
    """A :func:`deleverage.liquidation_map` frame, one quantity per axis. Above (when the frame
    has the cascade's columns): the notional liquidated at each moved price without feedback
    (the same engine, no venues, every price held at the moved one) beside the notional the
    cascade liquidated, like for like. Below: the distribution of leverage, the debt (and perp
    notional) whose liquidation price lies in each band between a moved price and the one
    above it, stacked by family, with no sales.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=200, seed=2, steps=10)
    >>> fig = dl.plot.liquidation_map(dl.liquidation_map(sc, "ETH", [-0.1, -0.2, -0.3]))
    >>> fig.axes[1].get_xlabel()
    'price after the exogenous move (quote)'
    """
    _check_frame(frame, ("price", "liquidatable_debt"), "a liquidation_map frame")
    frame = frame.sort("price", descending=True)
    both = "liquidated_notional" in frame.columns and "no_feedback_liquidated_notional" in frame
    fig, axes = _figure(2 if both else 1, 3.2)
    px = frame["price"].to_numpy()
    gaps = np.abs(np.diff(px))
    width = float(gaps.min()) if len(gaps) else max(abs(px[0]) * 0.01, 1e-9)
    if both:
        top = axes[0]
        flat = frame["no_feedback_liquidated_notional"].to_numpy()
        cascade = frame["liquidated_notional"].to_numpy()
        div, unit = _scale(np.concatenate([flat, cascade]))
        top.bar(px + width * 0.2, flat / div, width=width * 0.4, color="C0",
                label="without feedback (prices held at the move)")  # fmt: skip
        top.bar(px - width * 0.2, cascade / div, width=width * 0.4, color="C3",
                label="with the cascade")  # fmt: skip
        top.set_ylabel(f"liquidated notional ({unit})")
        top.legend(loc="best", frameon=False)
        top.grid(alpha=0.3)
        top.set_title("Liquidation map: liquidated notional at each exogenous move")
    ax = axes[-1]
    # The leverage distribution: what reaches its liquidation price in each band, stacked.
    layers = [
        ("liquidatable_debt", "C0", "lending debt"),
        ("vault_liquidatable_debt", "C2", "vault debt"),
        ("perp_liquidatable_notional", "C1", "perp notional"),
    ]
    present = [(c, k, n) for c, k, n in layers if c in frame.columns and frame[c].to_numpy().any()]
    bands = {c: np.diff(frame[c].to_numpy(), prepend=0.0) for c, _, _ in present}
    div, unit = _scale(sum(bands.values()) if bands else [0.0])
    bottom = np.zeros(len(px))
    for col, color, label in present:
        ax.bar(px, bands[col] / div, width=width * 0.8, bottom=bottom, color=color, alpha=0.7,
               label=label)  # fmt: skip
        bottom = bottom + bands[col] / div
    ax.set_ylabel(f"reaching liquidation in the band ({unit})")
    ax.set_xlabel("price after the exogenous move (quote)")
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    if present:
        ax.legend(loc="best", frameon=False, title="between this price and the one above")
    ax.grid(alpha=0.3)
    ax.set_title("Leverage: liquidation prices of the accounts, no sales")
    if both:
        axes[0].set_xlim(ax.get_xlim())
        axes[0].ticklabel_format(axis="x", style="plain", useOffset=False)
    return fig


def amplification_curve(frame: pl.DataFrame) -> Figure:
    """A :func:`deleverage.amplification_curve` frame: drawdown with the cascade against the
    exogenous shock, with the no-amplification diagonal.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=200, seed=2, steps=10)
    >>> fig = dl.plot.amplification_curve(dl.amplification_curve(sc, "ETH", [-0.1, -0.3]))
    >>> fig.axes[0].get_ylabel()
    'drawdown with the cascade'
    """
    fig, (ax,) = _figure(1, 4.0)
    _check_frame(frame, ("shock", "drawdown"), "an amplification_curve frame")
    shock = -frame["shock"].to_numpy()
    ax.plot(shock, -frame["drawdown"].to_numpy(), "o-", color="C3", label="with the cascade")
    ax.plot(shock, shock, "--", color="0.5", label="exogenous only")
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("exogenous shock (fall from the pre-shock price)")
    ax.set_ylabel("drawdown with the cascade")
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Amplification")
    return fig


def _units(values: object, unit: str) -> tuple[float, str]:
    """A divisor and its name for amounts of ``unit`` on an axis (no offset notation)."""
    top = float(np.max(np.abs(np.asarray(values, dtype=float)), initial=0.0))
    for div, name in ((1e9, "bn "), (1e6, "M "), (1e3, "k ")):
        if top >= div:
            return div, f"{name}{unit}"
    return 1.0, unit


def depth(res: Result, asset: str, side: str = "bid") -> Figure:
    """The depth of ``asset``'s venues at fixed prices before the shock and at the end of the
    run, before and after on the same axes (:attr:`Result.depth`). Above: the units resting in
    each 0.5 % price band; below: for ``side="bid"`` the units one sale takes before its
    marginal price falls below each price (for ``"ask"``, one buy before it rises above it).
    Fixed prices, not a window that follows the mid, so the liquidity the cascade consumed,
    the refill and a moved anchor read level for level. Dashed lines mark the pre-shock price,
    the lowest mid and the final mid; the axes show the prices between them.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=200, seed=1, steps=20),
    ...                   shock=dl.Shock.instant(ETH=-0.2))
    >>> dl.plot.depth(res, "ETH").axes[1].get_ylabel()
    'bids at or above the price (M ETH)'
    """
    rows = _asset_steps(res, asset)
    if side not in ("bid", "ask"):
        raise ScenarioError(f"side must be 'bid' or 'ask', got {side!r}")
    frame = res.depth.filter(pl.col("asset") == asset)
    if frame.height == 0:
        raise ScenarioError(f"no venue depth for asset {asset!r} (it has no venues)")
    px = frame["price"].to_numpy()
    p0 = float(res.meta["initial_prices"][asset])
    mids = rows["mid"].drop_nulls().to_numpy()
    low = float(mids.min()) if len(mids) else p0
    last = float(mids[-1]) if len(mids) else p0
    pad = 0.05 * p0
    lo, hi = min(p0, low, last), max(p0, low, last)
    if side == "bid":
        xlim = (max(float(px[0]), lo - pad), hi + 0.5 * pad)
    else:
        xlim = (lo - 0.5 * pad, min(float(px[-1]), hi + pad))
    shown = (px >= xlim[0]) & (px <= xlim[1])
    before = frame[f"{side}s_before"].to_numpy()
    after = frame[f"{side}s_after"].to_numpy()
    # Units in each band between neighbouring grid prices: the difference of the cumulative.
    bands = [np.abs(np.diff(c)) for c in (before, after)]
    fig, (top, bottom) = _figure(2, 3.2)
    step = res.summary["steps_run"].item() - 1
    labels = ("before the shock", f"after the run (step {step})")
    div, unit = _units(np.concatenate([b[shown[:-1]] for b in bands]), asset)
    for band, color, label in zip(bands, ("C0", "C3"), labels, strict=True):
        top.stairs(band / div, px, color=color, label=label)
    div2, unit2 = _units(np.concatenate([before[shown], after[shown]]), asset)
    where = "post" if side == "bid" else "pre"
    for cum, color, label in zip((before, after), ("C0", "C3"), labels, strict=True):
        bottom.step(px, cum / div2, where=where, color=color, label=label)
    word = "bids at or above" if side == "bid" else "asks at or below"
    marks = ((p0, "--", "pre-shock price"), (low, ":", "lowest mid"), (last, "-.", "final mid"))
    for ax, (d, vals) in ((top, (div, bands)), (bottom, (div2, (before, after)))):
        for x, style, name in marks:
            ax.axvline(x, color="0.4", linestyle=style, linewidth=1.0,
                       label=f"{name} {x:,.2f}")  # fmt: skip
        ax.set_xlim(*xlim)
        visible = [v[shown[: len(v)]] for v in vals]
        ax.set_ylim(0.0, 1.05 * max(float(np.max(v, initial=0.0)) for v in visible) / d or 1.0)
        ax.ticklabel_format(axis="both", style="plain", useOffset=False)
        ax.grid(alpha=0.3)
    top.set_ylabel(f"resting per {0.005 * p0:,.4g}-wide band ({unit})")
    top.legend(loc="best", frameon=False)
    top.set_title(f"{asset}: {side}s at fixed prices, before the shock and after the run")
    bottom.set_ylabel(f"{word} the price ({unit2})")
    bottom.set_xlabel("price (quote)")
    return fig


def peg(res: Result, asset: str) -> Figure:
    """A pegged asset's market price over its peg per step (1 at the peg), above what its
    redemption channel took each step and what its queue still owes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> sc = dl.examples.lst_loop_unwind(n_loopers=200, steps=30)
    >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25, **{"ETH-PERP": -0.25}))
    >>> dl.plot.peg(res, "stETH").axes[0].get_ylabel()
    'stETH price / peg'
    """
    rows = _asset_steps(res, asset)
    if rows["peg_ratio"].is_null().all():
        raise ScenarioError(f"{asset!r} is not pegged (its peg_ratio is null)")
    fig, (top, bottom) = _figure(2, 3.2)
    x = rows["step"].to_numpy()
    top.axhline(1.0, color="0.55", ls="--", lw=1.0, label="peg")
    top.plot(x, rows["peg_ratio"].to_numpy(), color="C0", lw=1.6, label="routed mid / peg")
    top.set_ylabel(f"{asset} price / peg")
    top.legend(loc="best", frameon=False)
    top.grid(alpha=0.3)
    top.set_title(f"{asset}: depeg and redemptions")
    redeemed, queue = rows["redeemed"].to_numpy(), rows["redemption_queue"].to_numpy()
    bottom.bar(x, redeemed, width=1.0, color="C2")
    bottom.set_ylabel(f"{asset} redeemed in the step", color="C2")
    bottom.set_xlabel(f"step ({res.summary['steps_run'].item()} run)")
    bottom.set_ylim(bottom=0.0)  # amounts: an empty panel must not show negative ticks
    bottom.grid(alpha=0.3)
    owed = bottom.twinx()
    owed.plot(x, queue, color="C3", lw=1.2)
    owed.set_ylabel("queue still owed (underlying units)", color="C3")
    owed.set_ylim(bottom=0.0)
    if not (redeemed > 0.0).any() and not (queue > 0.0).any():
        bottom.text(
            0.5, 0.5, f"nothing redeemed: no channel bought {asset} back in this run",
            transform=bottom.transAxes, ha="center", va="center", color="0.35",
        )  # fmt: skip
    return fig


def rounds(res: Result, step: int = 0) -> Figure:
    """Prices after each round of forced sales within one step, per asset, with the notional
    sold per round: how a fire sale (batch rounds of funds and banks) spirals.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.bank_fire_sale())
    >>> dl.plot.rounds(res).axes[0].get_ylabel()
    'price / before the shock'
    """
    _check_result(res)
    # Forced orders only: an owner's top-up or repayment moves no venue.
    moved = ~pl.col("kind").cast(pl.String).is_in(["owner_top_up", "owner_repay"])
    ev = res.events.filter((pl.col("step") == step) & pl.col("asset").is_not_null() & moved)
    if ev.height == 0:
        raise ScenarioError(f"no forced sales in step {step}")
    fig, (top, bottom) = _figure(2, 3.5)
    per = (
        ev.group_by("asset", "round")
        .agg(pl.col("price_before").first(), pl.col("price_after").last(), pl.col("notional").sum())
        .sort("asset", "round")
    )
    from matplotlib.ticker import MaxNLocator

    initial = res.meta.get("initial_prices", {})
    div, unit = _scale(per["notional"].to_numpy())
    for k, (asset,) in enumerate(per.select("asset").unique(maintain_order=True).iter_rows()):
        rows = per.filter(pl.col("asset") == asset)
        # Normalised to the price before the shock (step 0 starts after it): −2 is before the
        # shock, −1 after it and before the first sale.
        p_start = initial.get(asset) if step == 0 else None
        p0 = p_start or rows["price_before"][0]
        x = [-1, *rows["round"].to_list()]
        y = [rows["price_before"][0] / p0, *(rows["price_after"] / p0).to_list()]
        if p_start:
            x, y = [-2, *x], [1.0, *y]
        top.plot(x, y, marker="o", ms=3, color=f"C{k}", label=asset)
        bottom.bar(
            rows["round"].to_numpy() + 0.8 * (k - 1) / 3,
            rows["notional"].to_numpy() / div,
            width=0.8 / 3,
            color=f"C{k}",
            label=asset,
        )
    top.set_ylabel("price / before the shock" if step == 0 else "price / at the step's start")
    top.set_title(f"forced sales round by round (step {step})")
    top.legend()
    top.grid(alpha=0.3)
    bottom.set_ylabel(f"sold per round ({unit})")
    bottom.set_xlabel(
        "round (−2: before the shock, −1: after it, before the first sale)"
        if step == 0
        else "round (−1: before the first sale)"
    )
    bottom.grid(alpha=0.3)
    for ax in (top, bottom):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def frontier(frame: pl.DataFrame) -> Figure:
    """A :func:`deleverage.frontier` frame. One parameter: the statistic at every value the
    bisection tried, the limit, and the boundary with the unsafe side shaded. Two parameters: the
    boundary curve of the searched parameter over the grid one, the safe side shaded, the final
    brackets as error bars, and the grid values where the statistic never crossed the limit
    marked on the axis (within it over the whole bracket, or beyond it).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import polars as pl
    >>> import deleverage as dl
    >>> frame = pl.DataFrame({"parameter": ["liquidation_bonus"], "boundary": [0.125],
    ...     "safe_value": [0.1249], "bracket_low": [0.1249], "bracket_high": [0.1251],
    ...     "safe_side": ["below"], "metric": ["bad_debt"], "stat": ["p99"], "limit": [0.0],
    ...     "trace": [[{"value": 0.01, "stat": 0.0}, {"value": 0.2, "stat": 1_200.0},
    ...                {"value": 0.105, "stat": 0.0}, {"value": 0.1525, "stat": 490.0}]]})
    >>> dl.plot.frontier(frame).axes[0].get_xlabel()
    'liquidation_bonus'
    """
    _check_frame(
        frame,
        ("parameter", "boundary", "safe_side", "metric", "stat", "limit"),
        "a frontier frame",
    )
    fig, (ax,) = _figure(1, 4.5)
    first = frame.row(0, named=True)
    what = f"{first['stat']} of {first['metric']}"
    if "grid_value" not in frame.columns:
        if "trace" not in frame.columns:
            raise ScenarioError("expected a frontier frame with its trace column")
        tried = pl.DataFrame(first["trace"]).sort("value")
        ax.plot(tried["value"], tried["stat"], "o-", color="C0", label=f"{what} (each sweep)")
        ax.axhline(first["limit"], color="C3", ls="--", label=f"limit {first['limit']:g}")
        b = first["boundary"]
        lo, hi = tried["value"].min(), tried["value"].max()
        unsafe = (lo, b) if first["safe_side"] == "above" else (b, hi)
        ax.axvspan(*unsafe, color="C3", alpha=0.08, label="beyond the limit")
        ax.axvline(b, color="k", lw=1)
        ax.annotate(
            f"boundary {b:.6g}",
            (b, first["limit"]),
            xytext=(6, 10),
            textcoords="offset points",
        )
        ax.set_xlabel(first["parameter"])
        ax.set_ylabel(what)
        ax.set_title(f"Where the {what} crosses {first['limit']:g}")
    else:
        crossed = frame.filter(pl.col("boundary").is_not_null()).sort("grid_value")
        x = crossed["grid_value"].cast(pl.Float64).to_numpy()
        y = crossed["boundary"].to_numpy()
        err = np.vstack(
            [y - crossed["bracket_low"].to_numpy(), crossed["bracket_high"].to_numpy() - y]
        )
        ax.errorbar(x, y, yerr=err, fmt="o-", color="k", capsize=3, label="boundary")
        if len(x):
            top, bottom = ax.get_ylim()[1], ax.get_ylim()[0]
            above = crossed["safe_side"].to_numpy() == "above"
            ax.fill_between(x, y, top, where=above, color="C2", alpha=0.15, interpolate=True)
            ax.fill_between(x, bottom, y, where=~above, color="C2", alpha=0.15, interpolate=True)
            ax.fill_between([], [], [], color="C2", alpha=0.15, label=f"{what} within the limit")
            ax.set_ylim(bottom, top)
        never = frame.filter(pl.col("boundary").is_null())
        limit = first["limit"]
        for inside, marker, color, label in (
            (True, "o", "C2", "within the limit over the whole bracket"),
            (False, "x", "C3", "beyond the limit over the whole bracket"),
        ):
            part = never.filter((pl.col("stat_low") <= limit) == inside)
            if part.height:
                ax.plot(
                    part["grid_value"].cast(pl.Float64).to_numpy(),
                    np.full(part.height, ax.get_ylim()[0]),
                    marker,
                    color=color,
                    mfc="none",
                    clip_on=False,
                    label=label,
                )
        ax.set_xlabel(str(first["grid_parameter"]))
        ax.set_ylabel(first["parameter"])
        ax.set_title(f"Boundary where the {what} reaches {first['limit']:g}")
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    return fig


# The structure of a scenario and the attribution of a run (issue 19) ---------------------------

_FAMILY_COLORS = {"lending": "C0", "perps": "C1", "vaults": "C2", "funds": "C3"}


def _scale(values: object) -> tuple[float, str]:
    """A divisor and its name for quote amounts on an axis (no offset notation)."""
    top = float(np.max(np.abs(np.asarray(values, dtype=float)), initial=0.0))
    for div, name in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if top >= div:
            return div, f"quote, {name}"
    return 1.0, "quote"


def _check_exposure(ex: object) -> None:
    from deleverage.structure import Exposure

    if not isinstance(ex, Exposure):
        raise ScenarioError(f"expected a deleverage.Exposure, got {type(ex).__name__}")


def _check_attribution(att: object) -> None:
    from deleverage.attribution import Attribution

    if not isinstance(att, Attribution):
        raise ScenarioError(f"expected a deleverage.Attribution, got {type(att).__name__}")


def exposure_network(ex: object, top: int = 30) -> Figure:
    """The exposure network of a :func:`deleverage.exposure`: holders (left, sized by their
    leverage) and assets (right), an edge for each holder's exposure to an asset, its width by
    notional (long solid, short dashed); the ``top`` holders by exposure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> ex = dl.exposure(dl.examples.lst_loop_unwind(n_loopers=100), by="protocol")
    >>> dl.plot.exposure_network(ex).axes[0].get_title()
    'Exposure network: holders by protocol, edges by notional (quote)'
    """
    from deleverage.structure import Exposure, _holder

    _check_exposure(ex)
    assert isinstance(ex, Exposure)
    edges = (
        ex.holdings.filter(pl.col("units").is_not_null())
        .with_columns(_holder(ex.by).alias("holder"))
        .filter(pl.col("holder").is_not_null())
        .group_by("holder", "asset", "side")
        .agg(pl.col("value").sum())
    )
    size = edges.group_by("holder").agg(pl.col("value").sum().alias("v"))
    keep = size.sort("v", descending=True).head(top)["holder"].to_list()
    edges = edges.filter(pl.col("holder").is_in(keep))
    holders = sorted(keep)
    assets = sorted(edges["asset"].unique().to_list())
    fig, (ax,) = _figure(1, max(3.5, 0.28 * max(len(holders), len(assets))))
    yh = {h: i / max(1, len(holders) - 1) for i, h in enumerate(holders)}
    ya = {a: i / max(1, len(assets) - 1) for i, a in enumerate(assets)}
    vmax = float(np.max(edges["value"].to_numpy(), initial=0.0)) or 1.0
    for h, a, side, v in edges.iter_rows():
        ax.plot([0, 1], [yh[h], ya[a]], color="C0" if side == "long" else "C3",
                ls="-" if side == "long" else "--", lw=0.5 + 6 * v / vmax, alpha=0.5)  # fmt: skip
    lev = dict(ex.holders.select("holder", "leverage").iter_rows())
    sizes = [40 + 20 * min(float(lev.get(h) or 1.0), 30.0) for h in holders]
    ax.scatter([0] * len(holders), [yh[h] for h in holders], s=sizes, color="C7", zorder=3)
    ax.scatter([1] * len(assets), [ya[a] for a in assets], s=120, marker="s", color="C2",
               zorder=3)  # fmt: skip
    for h in holders:
        ax.annotate(f"{h} ({lev[h]:.1f}x)" if lev.get(h) else h, (0, yh[h]),
                    xytext=(-8, 0), textcoords="offset points", ha="right", va="center",
                    fontsize=8)  # fmt: skip
    for a in assets:
        ax.annotate(a, (1, ya[a]), xytext=(8, 0), textcoords="offset points", va="center")
    from matplotlib.lines import Line2D

    ax.legend(
        [Line2D([], [], color="C0"), Line2D([], [], color="C3", ls="--")],
        ["long (holds the asset)", "short (owes it)"],
        loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False,
    )  # fmt: skip
    ax.set_xlim(-0.6, 1.3)
    ax.set_xticks([0, 1], ["holders (size: leverage)", "assets"])
    ax.set_yticks([])
    ax.set_title(f"Exposure network: holders by {ex.by}, edges by notional (quote)")
    return fig


def leverage(ex: object, asset: str) -> Figure:
    """The leverage distribution of a :func:`deleverage.exposure` for ``asset``: the notional
    (quote) that breaches at each distance to liquidation, stacked by family, falls to the
    left and rises to the right of 0.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> ex = dl.exposure(dl.examples.eth_lending(n_accounts=300))
    >>> dl.plot.leverage(ex, "ETH").axes[0].get_xlabel()
    'distance to liquidation (% of the price)'
    """
    from deleverage.structure import Exposure

    _check_exposure(ex)
    assert isinstance(ex, Exposure)
    lev = ex.leverage.filter(asset=asset)
    if lev.height == 0:
        raise ScenarioError(f"no account's liquidation depends on asset {asset!r}")
    fig, (ax,) = _figure(1, 4.0)
    lows = sorted(lev["distance_low"].unique().to_list())
    width = float(np.min((lev["distance_high"] - lev["distance_low"]).to_numpy()))
    bottom = {x: 0.0 for x in lows}
    stacks = lev.group_by("distance_low").agg(pl.col("notional").sum())["notional"]
    div, unit = _scale(stacks.to_numpy())
    for fam in ["lending", "perps", "vaults", "funds"]:
        part = lev.filter(family=fam).group_by("distance_low").agg(pl.col("notional").sum())
        if part.height == 0:
            continue
        xs = part["distance_low"].to_list()
        ys = [y / div for y in part["notional"].to_list()]
        ax.bar([100 * (x + width / 2) for x in xs], ys, width=100 * width * 0.9,
               bottom=[bottom[x] for x in xs], color=_FAMILY_COLORS[fam], label=fam)  # fmt: skip
        for x, y in zip(xs, ys, strict=True):
            bottom[x] += y
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("distance to liquidation (% of the price)")
    ax.set_ylabel(f"notional ({unit})")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title(f"{asset}: notional by distance to liquidation, other prices held")
    return fig


def concentration(ex: object) -> Figure:
    """Each asset's concentration across protocols in a :func:`deleverage.exposure`: the share
    of its top 1, 10 and 100 holders, with the Herfindahl index in the label.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> ex = dl.exposure(dl.examples.eth_lending(n_accounts=300))
    >>> dl.plot.concentration(ex).axes[0].get_ylabel()
    'share of long holdings (%)'
    """
    from deleverage.structure import Exposure

    _check_exposure(ex)
    assert isinstance(ex, Exposure)
    c = ex.concentration.filter(scope="all").sort("asset")
    if c.height == 0:
        raise ScenarioError("no asset has long holders")
    fig, (ax,) = _figure(1, 3.5)
    x = np.arange(c.height)
    for k, (col, name) in enumerate(
        [("top1", "top 1"), ("top10", "top 10"), ("top100", "top 100")]
    ):
        ax.bar(x + (k - 1) * 0.27, 100 * c[col].to_numpy(), width=0.25, label=name)
    ax.set_xticks(x, [f"{a}\nHHI {h:.3f}" for a, h in c.select("asset", "hhi").iter_rows()])
    ax.set_ylabel("share of long holdings (%)")
    ax.set_ylim(0, 105)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title("Concentration across protocols (holders: owners, else accounts)")
    return fig


def attribution(att: object, metric: str = "bad_debt") -> Figure:
    """The Shapley values of ``metric`` in a :func:`deleverage.attribute`, one bar per group,
    with the total they add up to.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> sc = dl.examples.lst_loop_unwind(n_loopers=100)
    >>> att = dl.attribute(sc, shock=dl.Shock.instant({"ETH": -0.25, "ETH-PERP": -0.25}),
    ...                    threads=1)
    >>> dl.plot.attribution(att).axes[0].get_ylabel()
    'Shapley value of bad_debt (quote)'
    """
    from deleverage.attribution import Attribution

    _check_attribution(att)
    assert isinstance(att, Attribution)
    phi = att.shapley.filter(metric=metric)
    if phi.height == 0:
        raise ScenarioError(
            f"no Shapley values of {metric!r} (metrics: {att.totals['metric'].to_list()})"
        )
    t = att.totals.filter(metric=metric).row(0, named=True)
    fig, (ax,) = _figure(1, 3.5)
    if metric.startswith("drawdown_"):
        scale, unit = 100.0, "% of the price"
    else:
        div, unit = _scale(phi["value"].to_numpy())
        scale = 1.0 / div
    ax.bar(phi["group"].to_list(), scale * phi["value"].to_numpy(), color="C0")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel(f"Shapley value of {metric} ({unit})")
    ax.set_title(
        f"{metric} by {att.by}: total {scale * (t['all'] - t['none']):,.4g} {unit} "
        f"(all {scale * t['all']:,.4g}, none {scale * t['none']:,.4g})"
    )
    ax.grid(alpha=0.3, axis="y")
    return fig


def knockout(att: object, measure: str = "bad_debt_change") -> Figure:
    """The knock-out matrix of a :func:`deleverage.attribute` as a heat map: for each group
    removed (rows), the change in every other group's ``measure`` (``bad_debt_change``,
    quote, or ``liquidated_change``, accounts).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> sc = dl.examples.lst_loop_unwind(n_loopers=100)
    >>> att = dl.attribute(sc, shock=dl.Shock.instant({"ETH": -0.25, "ETH-PERP": -0.25}),
    ...                    shapley=False)
    >>> dl.plot.knockout(att, "liquidated_change").axes[0].get_xlabel()
    'group'
    """
    from deleverage.attribution import Attribution

    _check_attribution(att)
    assert isinstance(att, Attribution)
    if measure not in ("bad_debt_change", "liquidated_change"):
        raise ScenarioError(
            f"measure must be bad_debt_change or liquidated_change, got {measure!r}"
        )
    ko = att.knockout
    if ko.height == 0:
        raise ScenarioError("the attribution has no knock-outs")
    rows = ko["removed"].unique(maintain_order=True).to_list()
    cols = sorted(ko["group"].unique().to_list())
    m = np.full((len(rows), len(cols)), np.nan)
    for r, g, v in ko.select("removed", "group", measure).iter_rows():
        m[rows.index(r), cols.index(g)] = v
    fig, (ax,) = _figure(1, max(3.0, 0.5 * len(rows) + 1.5))
    lim = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    im = ax.imshow(m, cmap="RdBu_r", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:,.3g}", ha="center", va="center", fontsize=8)
    unit = "quote" if measure == "bad_debt_change" else "accounts"
    fig.colorbar(im, ax=ax, label=f"{measure} ({unit})")
    ax.set_xlabel("group")
    ax.set_ylabel("removed")
    ax.set_title(f"Knock-outs: change in each group's {measure.removesuffix('_change')}")
    return fig
