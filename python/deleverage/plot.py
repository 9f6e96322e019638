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

__all__ = ["amplification_curve", "depth", "frontier", "liquidation_map", "result", "rounds"]


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


def result(res: Result, asset: str | None = None) -> Figure:
    """The price path of ``asset`` (mid, exogenous reference, oracle) over the steps, above the
    collateral liquidated per step as bars. ``asset`` defaults to the first asset with
    liquidations.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=200, seed=1, steps=20),
    ...                   shock=dl.Shock.instant(ETH=-0.2))
    >>> res.plot().axes[0].get_ylabel()
    'ETH price'
    """
    _check_result(res)
    steps = res.steps
    if asset is None:
        hit = steps.filter(pl.col("liquidation_count") > 0)["asset"]
        asset = hit[0] if hit.len() else steps["asset"][0]
    rows = _asset_steps(res, asset)
    fig, (top, bottom) = _figure(2, 3.2)
    x = rows["step"].to_numpy()
    top.plot(x, rows["reference"].to_numpy(), color="0.55", ls="--", lw=1.2, label="reference")
    top.plot(x, rows["mid"].to_numpy(), color="C0", lw=1.6, label="mid")
    top.step(x, rows["oracle"].to_numpy(), where="post", color="C3", lw=1.1, label="oracle")
    top.set_ylabel(f"{asset} price")
    top.legend(loc="best", frameon=False)
    top.grid(alpha=0.3)
    top.set_title(f"{asset}: price path and liquidations")
    bottom.bar(x, rows["liquidated_notional"].to_numpy(), width=1.0, color="C1")
    bottom.set_ylabel("collateral liquidated (quote)")
    bottom.set_xlabel(f"step ({res.summary['steps_run'].item()} run)")
    bottom.grid(alpha=0.3)
    return fig


def liquidation_map(frame: pl.DataFrame) -> Figure:
    """A :func:`deleverage.liquidation_map` frame: the collateral of accounts that are
    liquidatable with no feedback at each moved price (bars), and, when present, the collateral
    the cascade actually liquidated (line).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=200, seed=2, steps=10)
    >>> fig = dl.plot.liquidation_map(dl.liquidation_map(sc, "ETH", [-0.1, -0.2, -0.3]))
    >>> fig.axes[0].get_xlabel()
    'price'
    """
    _check_frame(frame, ("price", "liquidatable_collateral"), "a liquidation_map frame")
    fig, (ax,) = _figure(1, 4.0)
    px = frame["price"].to_numpy()
    width = (abs(px[1] - px[0]) if len(px) > 1 else max(abs(px[0]) * 0.01, 1e-9)) * 0.8
    # Each family's no-feedback exposure stacked on the one before: the heatmap's total.
    layers = [
        ("liquidatable_collateral", "C0", "collateral of liquidatable lending accounts"),
        ("vault_liquidatable_collateral", "C2", "collateral of unsafe vaults"),
        ("perp_liquidatable_notional", "C1", "notional of liquidatable perp positions"),
    ]
    present = [layer for layer in layers if layer[0] in frame.columns]
    bottom = np.zeros(len(px))
    for col, color, label in present:
        values = frame[col].to_numpy()
        if len(present) > 1 and not values.any():
            continue  # a family the scenario does not hold: no empty legend entry
        ax.bar(px, values, width=width, bottom=bottom, color=color, alpha=0.6,
               label=f"{label}, no feedback")  # fmt: skip
        bottom = bottom + values
    if "liquidated_notional" in frame.columns:
        ax.plot(
            px,
            frame["liquidated_notional"].to_numpy(),
            "o-",
            color="C3",
            label="liquidated with the cascade",
        )
    ax.set_xlabel("price")
    ax.set_ylabel("quote")
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Liquidation map")
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
    ax.set_xlabel("exogenous shock (fall)")
    ax.set_ylabel("drawdown with the cascade")
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Amplification")
    return fig


def depth(res: Result, asset: str) -> Figure:
    """Bid depth within 2 % of the mid per step: how the cascade and the refill reshape it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=200, seed=1, steps=20),
    ...                   shock=dl.Shock.instant(ETH=-0.2))
    >>> dl.plot.depth(res, "ETH").axes[0].get_ylabel()
    'bid depth within 2 % (units)'
    """
    rows = _asset_steps(res, asset)
    fig, (ax,) = _figure(1, 3.5)
    ax.plot(rows["step"].to_numpy(), rows["bid_depth_2pct"].to_numpy(), color="C2")
    ax.set_xlabel("step")
    ax.set_ylabel("bid depth within 2 % (units)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{asset}: depth near the mid")
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
    bottom.bar(x, rows["redeemed"].to_numpy(), width=1.0, color="C2")
    bottom.set_ylabel(f"{asset} redeemed in the step", color="C2")
    bottom.set_xlabel(f"step ({res.summary['steps_run'].item()} run)")
    bottom.grid(alpha=0.3)
    owed = bottom.twinx()
    owed.plot(x, rows["redemption_queue"].to_numpy(), color="C3", lw=1.2)
    owed.set_ylabel("queue still owed (underlying units)", color="C3")
    owed.set_ylim(bottom=0.0)
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
    'price / initial'
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
    for k, (asset,) in enumerate(per.select("asset").unique(maintain_order=True).iter_rows()):
        rows = per.filter(pl.col("asset") == asset)
        p0 = rows["price_before"][0]
        x = [-1, *rows["round"].to_list()]
        y = [1.0, *(rows["price_after"] / p0).to_list()]
        top.plot(x, y, marker="o", ms=3, color=f"C{k}", label=asset)
        bottom.bar(
            rows["round"].to_numpy() + 0.8 * (k - 1) / 3,
            rows["notional"].to_numpy(),
            width=0.8 / 3,
            color=f"C{k}",
            label=asset,
        )
    top.set_ylabel("price / initial")
    top.set_title(f"forced sales round by round (step {step})")
    top.legend()
    top.grid(alpha=0.3)
    bottom.set_ylabel("sold per round (quote)")
    bottom.set_xlabel("round (−1: before the first sale)")
    bottom.grid(alpha=0.3)
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
