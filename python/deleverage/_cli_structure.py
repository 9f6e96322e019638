"""The command line's structure commands (issue 19): ``deleverage exposure FILE`` and
``deleverage attribute FILE``, which print tables and write Parquet and PNG like the others."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import polars as pl

from deleverage.cli import _count, _output_dir, _output_options, _print_table
from deleverage.scenario import Scenario


def add_commands(sub: Any) -> None:
    """Adds ``exposure`` and ``attribute`` to the command line's subparsers."""
    x = sub.add_parser(
        "exposure",
        help="the structure of a scenario file before any shock",
        description="Holdings, distance to liquidation by the engine's own rules, concentration "
        "and the liquidity-weighted overlap between holders of a scenario file at its starting "
        "prices; print tables and write the frames (Parquet) and plots (PNG).",
    )
    x.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    x.add_argument("--by", choices=["holder", "protocol", "owner", "account"], default="holder",
                   help="the holders of the overlap matrix (default: holder: owner, else fund, "
                   "else protocol)")  # fmt: skip
    x.add_argument(
        "--within",
        type=float,
        default=0.02,
        help="the price move that defines each asset's depth (default: 0.02)",
    )
    _output_options(x, "the frames and plots")
    at = sub.add_parser(
        "attribute",
        help="attribute a scenario file's run to groups of positions",
        description="Run a scenario file with its own shock and seed and attribute the cascade "
        "to groups (protocol, family, fund, owner, account, venue): forced flow, knock-outs, exact "
        "Shapley values of bad debt and drawdown, and a DebtRank-style ranking.",
    )
    at.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    at.add_argument(
        "--by",
        default="protocol",
        help="protocol, family, fund, owner, account or venue (default: protocol)",
    )
    at.add_argument(
        "--runs",
        type=_count(1),
        default=1,
        help="seeded runs per coalition for the Shapley values (default: 1)",
    )
    at.add_argument("--threads", type=_count(1), default=None,
                    help="threads for the coalitions (default: one per core)")  # fmt: skip
    at.add_argument("--no-shapley", action="store_true",
                    help="knock-outs and flows only (more than 10 groups)")  # fmt: skip
    _output_options(at, "the frames and plots")


def run_command(args: argparse.Namespace) -> int:
    """Runs ``exposure`` or ``attribute`` from the parsed arguments."""
    out = None if args.no_write else args.out
    if args.command == "exposure":
        return exposure_(args.scenario, args.by, args.within, out)
    return attribute_(args.scenario, args.by, args.runs, args.threads, not args.no_shapley, out)


def exposure_(path: Path, by: str, within: float, out: Path | None) -> int:
    """The structure of a scenario file before any shock: holdings, distance to liquidation,
    concentration and the overlap between holders."""
    from deleverage.structure import exposure

    sc = Scenario.from_toml(path)
    ex = exposure(sc, by=by, within=within)  # type: ignore[arg-type]
    print(f"{path.name}: {sc.n_accounts:,} accounts; holders by {by}, depth within {within:.1%}")
    print("\nOverlap index Σ_j≠i Ω_ij (quote) and each holder's balance sheet (quote):")
    _print_table(
        ex.index.join(ex.holders, on="holder", how="left").select(
            "holder", pl.col("index").round(2).alias("index (quote)"),
            pl.col("exposure").round(0).alias("net exposure (quote)"),
            pl.col("equity").round(0).alias("equity (quote)"),
            pl.col("leverage").round(2).alias("leverage (x)"),
        )
    )  # fmt: skip
    near = (
        ex.liquidation.filter(pl.col("distance") >= -0.25)
        .group_by("asset", "family", "direction")
        .agg(pl.col("notional").sum().round(0).alias("notional within 25 % (quote)"),
             pl.len().alias("accounts"))
        .sort("asset", "family", "direction")
    )  # fmt: skip
    print("\nNotional that breaches within a 25 % move of one asset, other prices held:")
    _print_table(near)
    print("\nConcentration of long holdings across protocols (shares, HHI):")
    _print_table(
        ex.concentration.filter(scope="all").select(
            "asset", "holders", *(pl.col(c).round(4) for c in ("top1", "top10", "top100", "hhi"))
        )
    )
    if out is None:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    from deleverage import plot

    _output_dir(out)
    frames = ["holdings", "liquidation", "leverage", "concentration", "depth", "overlap",
              "index", "holders"]  # fmt: skip
    for name in frames:
        getattr(ex, name).write_parquet(out / f"{name}.parquet")
    figures = {"exposure_network": plot.exposure_network(ex)}
    if ex.concentration.filter(scope="all").height:
        figures["concentration"] = plot.concentration(ex)
    for asset in ex.leverage["asset"].unique(maintain_order=True).to_list():
        figures[f"leverage_{asset}"] = plot.leverage(ex, asset)
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110)
    print(f"written to {out}/: {', '.join(frames)} (.parquet); {', '.join(figures)} (.png)")
    return 0


def attribute_(
    path: Path, by: str, runs: int, threads: int | None, shapley: bool, out: Path | None
) -> int:
    """A scenario file's run attributed to groups of positions: forced flow, knock-outs,
    Shapley values and the systemic-importance ranking."""
    from deleverage.attribution import attribute

    sc = Scenario.from_toml(path)
    progress = shapley and sys.stderr.isatty()
    att = attribute(sc, by=by, runs=runs, threads=threads, shapley=shapley, progress=progress)
    print(f"{path.name}: {att.groups.height} groups by {by}, seed {sc.seed}")
    if shapley:
        moved = att.totals.filter(pl.col("all") != pl.col("none"))["metric"].to_list()
        table = att.shapley.filter(pl.col("metric").is_in(moved)).pivot(
            on="metric", index="group", values="value"
        )
        print(f"\nShapley values over {2 ** att.groups.height} coalitions × {runs} run(s) "
              "(bad_debt in quote, drawdowns as fractions of the price):")  # fmt: skip
        _print_table(table)
        print("\nTotals: every group (all) and none (the market alone):")
        _print_table(att.totals.filter(pl.col("metric").is_in(moved)))
    if att.venue_flow["venue"].n_unique() > att.venue_flow["asset"].n_unique():
        print("\nForced flow by venue (quote; share: of the venue's net forced flow):")
        _print_table(att.venue_flow.with_columns(pl.col("share").round(4)))
    print("\nKnock-outs: each other group's liquidated accounts and bad debt (quote) without one:")
    _print_table(att.knockout)
    if att.ranking.height:
        print("\nSystemic importance (DebtRank-style: the others' equity-weighted distress):")
        _print_table(att.ranking.with_columns(pl.col("importance").round(6)))
    if out is None:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    from deleverage import plot

    _output_dir(out)
    frames = ["groups", "flow", "venue_flow", "knockout", "shapley", "totals", "ranking"]
    for name in frames:
        getattr(att, name).write_parquet(out / f"{name}.parquet")
    figures = {"knockout": plot.knockout(att)} if att.knockout.height else {}
    if shapley:
        for metric in att.totals.filter(pl.col("all") != pl.col("none"))["metric"].to_list():
            figures[f"shapley_{metric}"] = plot.attribution(att, metric)
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110)
    print(f"written to {out}/: {', '.join(frames)} (.parquet); {', '.join(figures)} (.png)")
    return 0
