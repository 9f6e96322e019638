"""The ``deleverage`` command line.

``deleverage demo`` runs a built-in example through a price shock, prints the summary and writes
the result frames (Parquet) and plots (PNG); ``deleverage run`` and ``deleverage map`` do the same
for a scenario file; ``deleverage sweep`` runs a scenario file (and a parameter grid of it) on many
seeded paths and prints its risk statistics; ``deleverage frontier`` searches a parameter of a
scenario file for where a statistic of its sweep crosses a limit; ``deleverage venues`` routes
one forced sale across an order book and a pool and prints the fills.

Examples
--------
>>> from deleverage.cli import main
>>> main(["venues", "--qty", "50"])  # doctest: +ELLIPSIS
Forced sale of 50 ETH ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from deleverage import __version__, examples
from deleverage._core import ConstantProductPool, Fill, OrderBook, Router
from deleverage.engine import simulate
from deleverage.exceptions import DeleverageError, ScenarioError
from deleverage.result import Result
from deleverage.scenario import Scenario
from deleverage.shock import Shock


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _row(name: str, f: Fill) -> str:
    return (
        f"{name:<22}{_fmt(f.filled, 4):>12}{_fmt(f.notional):>16}{_fmt(f.vwap):>12}"
        f"{_fmt(f.first_price):>12}{_fmt(f.last_price):>12}{f.levels:>8}"
    )


def venues(qty: float) -> int:
    """Routes a forced ETH sale across an order book and a Uniswap v2 pool and prints the fills.

    The book is a square-root profile (2 % daily volatility, 400,000 ETH daily volume) around
    $3,000 with a $0.10 tick; the pool holds 2,500 ETH against $7.5 M with a 0.3 % fee. After the
    sale, arbitrage aligns the venues.
    """
    book = OrderBook.sqrt(
        mid=3_000.0,
        tick=0.1,
        levels=20_000,
        sigma=0.02,
        volume=400_000.0,
        resilience_half_life=600.0,
    )
    pool = ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_500_000.0, fee=0.003)
    router = Router([book, pool])
    fill = router.sell(qty)
    print(f"Forced sale of {qty:,.4g} ETH routed across an order book and a Uniswap v2 pool")
    print(
        f"{'venue':<22}{'filled':>12}{'notional':>16}{'vwap':>12}{'first':>12}{'last':>12}"
        f"{'levels':>8}"
    )
    for name, part in zip(["order book (sqrt)", "pool (x*y=k, 0.3%)"], fill.parts, strict=True):
        print(_row(name, part))
    print(_row("total", fill))
    trades = router.arbitrage()
    print(
        f"cross-venue arbitrage: {len(trades)} trade(s), "
        f"{_fmt(sum(t.qty for t in trades), 4)} ETH, profit {_fmt(sum(t.profit for t in trades))}"
    )
    print(f"after: book mid {_fmt(book.mid)}, pool mid {_fmt(pool.mid)}")
    book.advance(600.0)
    print(f"one resilience half-life later: book best bid {_fmt(book.best_bid)}")
    return 0


def _progress() -> bool:
    """Progress bars only on a terminal: a log or a pipe gets no carriage-return noise."""
    return sys.stderr.isatty()


def _print_summary(res: Result, title: str) -> None:
    s = res.to_dict()
    print(title)
    rows = [
        ("liquidations", f"{s['liquidations']:,}"),
        ("notional liquidated (quote)", _fmt(s["liquidated_notional"], 0)),
        ("bad debt (quote)", _fmt(s["bad_debt"], 0)),
    ]
    if res.accounts.height:
        rows[1:1] = [
            ("lending accounts liquidated", f"{s['accounts_liquidated']:,}"),
            ("lending debt repaid (quote)", _fmt(s["debt_repaid_value"], 0)),
        ]
    extra = {
        "perp_liquidations": "perp liquidation fills",
        "insurance_fund_start": "insurance fund at start (quote)",
        "insurance_fund_min": "insurance fund minimum (quote)",
        "insurance_fund_used": "insurance fund paid out (quote)",
        "adl_count": "ADL reductions",
        "adl_notional": "ADL notional (quote)",
        "backstop_takeovers": "backstop takeovers",
        "auctions": "auctions",
        "auctions_zero_recovery": "auctions with zero recovery",
        "auction_bad_debt": "auction bad debt (quote)",
        "fund_sales_notional": "fund sales (quote)",
        "fund_defaults": "fund defaults",
    }
    for key, label in extra.items():
        if key in s:
            v = s[key]
            rows.append((label, f"{v:,}" if isinstance(v, int) else _fmt(v, 0)))
    for key in s:
        if key.startswith("drawdown_"):
            a = key.removeprefix("drawdown_")
            if s[f"exogenous_drawdown_{a}"] < 0:
                rows += [
                    (f"exogenous {a} move", f"{s[f'exogenous_drawdown_{a}']:+.2%}"),
                    (f"{a} drawdown with the cascade", f"{s[key]:+.2%}"),
                    (f"{a} amplification", _fmt(s[f"amplification_{a}"], 3)),
                ]
            elif s[key] < 0:
                rows.append((f"{a} drawdown (endogenous only)", f"{s[key]:+.2%}"))
    rows += [
        ("first liquidation step", str(s["first_liquidation_step"])),
        ("last liquidation over by step", str(s["steps_to_quiet"])),
        ("steps run (the path, then to quiet)", str(s["steps_run"])),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v:>20}")


def _write_frames(res: Result, out: Path) -> list[str]:
    _output_dir(out)
    names = [
        n
        for n in ("events", "steps", "accounts", "positions", "vaults", "auctions", "funds")
        if getattr(res, n).height or n in ("events", "steps", "accounts")
    ] + ["summary"]
    for name in names:
        getattr(res, name).write_parquet(out / f"{name}.parquet")
    return names


EXAMPLES = ("eth_lending", "btc_perps", "bank_fire_sale", "lst_loop_unwind")


def demo(
    accounts: int,
    shock: float | None,
    seed: int,
    out: Path | None,
    example: str = "eth_lending",
) -> int:
    """Runs a built-in example through its shock to quiet: the ETH lending market (an instant
    ETH move), the BTC perp venue (BTC-PERP falling over steps 5–14) or the bank fire-sale
    system (its loan-book shock, plus an optional instant move of every marketable class)."""
    import matplotlib

    matplotlib.use("Agg")
    from deleverage import plot

    if example == "btc_perps":
        shock = -0.15 if shock is None else shock
        sc = examples.btc_perps(n_accounts=accounts, seed=seed)
        asset = "BTC-PERP"
        # Five quiet steps at $100,000, the fall over ten one-second steps, then the new level.
        p0 = sc.assets[0].price
        path = (
            [p0] * 5 + [p0 * (1 + shock * k / 10) for k in range(1, 11)] + [p0 * (1 + shock)] * 45
        )
        res = simulate(sc, shock=Shock.path({asset: path}), seed=seed)
        title = (
            f"BTC perp venue: {accounts:,} cross-margin traders, BTC-PERP {shock:+.0%} over "
            f"steps 5–14, seed {seed}"
        )
    elif example == "lst_loop_unwind":
        shock = -0.25 if shock is None else shock
        sc = examples.lst_loop_unwind(n_loopers=accounts, seed=seed)
        asset = "stETH"
        res = simulate(sc, shock=Shock.instant({"ETH": shock, "ETH-PERP": shock}), seed=seed)
        title = (
            f"stETH loop unwind: {accounts:,} stETH/ETH loopers, a 2x stETH holder and "
            f"{max(1, accounts // 2):,} ETH perp traders, ETH {shock:+.0%} at step 0, seed {seed}"
        )
    elif example == "bank_fire_sale":
        shock = 0.0 if shock is None else shock
        sc = examples.bank_fire_sale()
        asset = "CORPORATE"
        res = simulate(sc, shock=Shock.instant({a: shock for a in sc.asset_names}), seed=seed)
        title = (
            f"Bank fire sale: 8 banks (amounts in bn), loans −1.5 %, marketable classes "
            f"{shock:+.0%}"
        )
    else:
        shock = -0.2 if shock is None else shock
        sc = examples.eth_lending(n_accounts=accounts, seed=seed)
        asset = "ETH"
        res = simulate(sc, shock=Shock.instant(ETH=shock), seed=seed)
        title = (
            f"ETH lending market: {accounts:,} Aave v3.3 accounts, ETH {shock:+.0%} at step 0, "
            f"seed {seed}"
        )
    _print_summary(res, title)
    if out is None:
        return 0
    names = _write_frames(res, out)
    if example == "bank_fire_sale":
        figures = {"fire_sale_rounds": plot.rounds(res)}
    elif example == "lst_loop_unwind":
        figures = {
            "peg": plot.peg(res, "stETH"),
            "price_and_liquidations": plot.result(res, "stETH"),
            "perp_price_and_liquidations": plot.result(res, "ETH-PERP"),
        }
    else:
        figures = {
            "price_and_liquidations": plot.result(res, asset),
            "depth": plot.depth(res, asset),
        }
    if example in ("eth_lending", "btc_perps"):
        from deleverage.analysis import amplification_curve, liquidation_map

        step = 0.025 if example == "eth_lending" else 0.0125
        moves = [-step * k for k in range(1, 17)]
        lmap = liquidation_map(sc, asset, moves, seed=seed, progress=_progress())
        lmap.write_parquet(out / "liquidation_map.parquet")
        names.append("liquidation_map")
        figures["liquidation_map"] = plot.liquidation_map(lmap)
        figures["amplification"] = plot.amplification_curve(
            amplification_curve(sc, asset, moves[1::2], seed=seed, progress=_progress())
        )
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110)
    print(f"written to {out}/: {', '.join(names)} (.parquet); {', '.join(figures)} (.png)")
    return 0


def run(path: Path, out: Path | None) -> int:
    """Runs a scenario file with its own shock and seed to quiet."""
    sc = Scenario.from_toml(path)
    res = simulate(sc)
    _print_summary(res, f"{path.name}: {sc.n_accounts:,} accounts, seed {sc.seed}")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        from deleverage import plot

        names = _write_frames(res, out)
        plot.result(res).savefig(out / "price_and_liquidations.png", dpi=110)
        print(f"written to {out}/: {', '.join(names)} (.parquet); price_and_liquidations (.png)")
    return 0


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
    frames = ["groups", "flow", "knockout", "shapley", "totals", "ranking"]
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


def _count(low: int) -> Any:
    """An argparse type: a whole number >= ``low``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {v}")
        return v

    return parse


def _grid_values(text: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,…`` with TOML values (numbers, true/false, quoted strings)."""
    import tomllib

    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,… , got {text!r}")
    try:
        parsed = tomllib.loads(f"v = [{values}]")["v"]
    except tomllib.TOMLDecodeError:
        raise argparse.ArgumentTypeError(
            f"the values of {key.strip()!r} must be TOML values separated by commas "
            f"(numbers, true/false, quoted strings), got {values!r}"
        ) from None
    return key.strip(), parsed


def sweep_(
    path: Path,
    runs: int,
    threads: int | None,
    grid: list[tuple[str, list[Any]]],
    out: Path | None,
    executor: str | None = None,
    levels: Sequence[float] = (0.95, 0.99),
    stream: bool = False,
) -> int:
    """Runs a scenario file (and the variants of a grid) on seeded paths of its shock and prints
    the risk statistics of each variant."""
    from deleverage.risk import risk
    from deleverage.sweep import sweep

    scenarios = _file_variants(path, grid)
    first = next(iter(scenarios.values()))
    if stream and out is None:
        raise ScenarioError("--stream writes the runs into the output folder: drop --no-write")
    if out is not None and stream:
        lazy = sweep(
            scenarios,
            runs=runs,
            threads=threads,
            progress=_progress(),
            executor=executor,
            out=out / "sweep",
        )
        frame = lazy.collect()
    else:
        frame = sweep(
            scenarios, runs=runs, threads=threads, progress=_progress(), executor=executor
        )
    print(f"{path.name}: {len(scenarios)} scenario(s) × {runs} runs, seed {first.seed}")
    # Assets that never fall on any path (the quote) have no drawdown to speak of.
    still = [
        a
        for a in dict.fromkeys(a.name for sc in scenarios.values() for a in sc.assets)
        if not (frame[f"exogenous_drawdown_{a}"].min() or 0.0) < 0  # type: ignore[operator]
    ]
    stats = risk(
        frame.drop(
            f"{k}_{a}" for a in still for k in ("drawdown", "exogenous_drawdown", "amplification")
        ),
        levels=levels,
    )
    # One row per statistic, one column per variant: as wide as the variants, not the stats.
    names = [c for c in stats.columns if c != "scenario"]
    table = pl.DataFrame(
        {"statistic": names}
        | {
            str(row["scenario"]): [_number(row[c]) for c in names]
            for row in stats.iter_rows(named=True)
        }
    )
    _print_table(table, align="RIGHT")
    if out is not None:
        _output_dir(out)
        stats.write_parquet(out / "risk.parquet")
        if stream:
            print(
                f"written to {out}/: sweep/runs/ (one .parquet per chunk of runs), "
                "risk (.parquet), one row per scenario"
            )
        else:
            frame.write_parquet(out / "sweep.parquet")
            print(
                f"written to {out}/: sweep (.parquet), one row per scenario and run; "
                "risk (.parquet), one row per scenario"
            )
    return 0


def frontier_(
    path: Path,
    param: tuple[str, list[Any]],
    grid: list[tuple[str, list[Any]]],
    limit: float,
    metric: str,
    stat: str,
    runs: int,
    tol: float | None,
    threads: int | None,
    executor: str | None,
    out: Path | None,
) -> int:
    """The inverse search on a scenario file: where a statistic of its sweep crosses a limit."""
    from deleverage.frontier import frontier

    if len(grid) > 1:
        raise ScenarioError("frontier takes at most one --grid (the boundary curve's axis)")
    sc = Scenario.from_toml(path)
    params: dict[str, Any] = {k: v for k, v in grid}
    params[param[0]] = tuple(param[1])
    f = frontier(
        sc,
        params=params,
        limit=limit,
        metric=metric,
        stat=stat,
        runs=runs,
        tol=tol,
        threads=threads,
        executor=executor,
        progress=_progress(),
    )
    head = f.row(0, named=True)
    what = f"{stat} of {metric}"
    print(
        f"{path.name}: {what} over {runs} runs (seed {head['seed']}), limit {limit:g}, "
        f"searching {param[0]} in [{param[1][0]}, {param[1][1]}]"
    )
    if not grid:
        side = "at or above" if head["safe_side"] == "above" else "at or below"
        print(
            f"within the limit {side} {head['safe_value']:.8g}; boundary {head['boundary']:.8g} "
            f"(bracket [{head['bracket_low']:.8g}, {head['bracket_high']:.8g}], {what} "
            f"{_number(head['stat_low'])} to {_number(head['stat_high'])}; "
            f"{head['evaluations']} sweeps)"
        )
    else:
        table = f.select(
            pl.col("grid_value").alias(grid[0][0]),
            pl.col("boundary"),
            pl.col("safe_value"),
            pl.col("safe_side"),
            pl.col("stat_low")
            .map_elements(_number, return_dtype=pl.String)
            .alias(f"{stat} at low"),
            pl.col("stat_high")
            .map_elements(_number, return_dtype=pl.String)
            .alias(f"{stat} at high"),
            pl.col("evaluations").alias("sweeps"),
        )
        _print_table(table)
    if out is not None:
        _save_with_plot(out, "frontier", f)
    return 0


def _bracket_arg(text: str) -> tuple[str, list[Any]]:
    import tomllib

    key, sep, values = text.partition("=")
    low, colon, high = values.partition(":")
    if not sep or not key.strip() or not colon or not low.strip() or not high.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=LOW:HIGH, got {text!r}")
    try:
        parsed = tomllib.loads(f"v = [{low}, {high}]")["v"]
    except tomllib.TOMLDecodeError:
        raise argparse.ArgumentTypeError(
            f"the bracket of {key.strip()!r} must be two numbers LOW:HIGH, got {values!r}"
        ) from None
    return key.strip(), parsed


def _number(v: object) -> str:
    """A statistic for the terminal: counts and money with thousands separators, shares and
    returns to four significant digits."""
    if v is None:
        return "–"
    x = float(v)  # type: ignore[arg-type]
    if x == int(x) or abs(x) >= 1_000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _file_variants(path: Path, grid: list[tuple[str, list[Any]]]) -> dict[str, Scenario]:
    """The scenarios of a file and the product of a grid of its dotted keys, labelled by the
    keys' last parts (unless two keys share one) and their values."""
    import itertools

    from deleverage import tomlfile

    doc = tomlfile.read(path)
    scenarios = {}
    keys = [k for k, _ in grid]
    short = [k.rsplit(".", 1)[-1] for k in keys]
    names = short if len(set(short)) == len(short) else keys
    for combo in itertools.product(*(v for _, v in grid)):
        variant = doc
        for key, value in zip(keys, combo, strict=True):
            variant = tomlfile.with_value(variant, key, value, path.name)
        label = ", ".join(f"{k}={v}" for k, v in zip(names, combo, strict=True)) or path.stem
        try:
            scenarios[label] = tomlfile.load_document(variant, path)
        except ScenarioError as e:
            if not grid:
                raise
            raise ScenarioError(f"the variant {label}: {e}") from None
    return scenarios


def map_(path: Path, asset: str, moves: list[float], cascade: bool, out: Path | None) -> int:
    """Prints the liquidation map of a scenario file for ``asset``."""
    from deleverage.analysis import liquidation_map

    sc = Scenario.from_toml(path)
    m = liquidation_map(sc, asset, moves, seed=sc.seed, cascade=cascade, progress=_progress())
    # One line per move, however wide: numbers are never wrapped across lines.
    with pl.Config(
        tbl_rows=len(moves),
        tbl_cols=m.width,
        tbl_width_chars=max(160, 16 * m.width),
        tbl_hide_dataframe_shape=True,
        tbl_formatting="ASCII_MARKDOWN",
    ):
        print(m)
    if out is not None:
        _save_with_plot(out, "liquidation_map", m)
    return 0


def _moves(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated returns like -0.05,-0.1, got {text!r}"
        ) from None


def _executor_option(p: argparse.ArgumentParser) -> None:
    """``--executor processes|ray``, for the commands that run sweeps."""
    p.add_argument(
        "--executor",
        choices=["processes", "ray"],
        default=None,
        help="run the chunks of runs on a process pool (one worker per core) or on Ray (the "
        "cluster of RAY_ADDRESS, or a local one); default: threads in this process",
    )


def _print_table(table: pl.DataFrame, align: str | None = None) -> None:
    """A table whole, without its shape and dtypes, at most 200 characters wide."""
    with pl.Config(
        tbl_rows=table.height,
        tbl_cols=table.width,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_cell_alignment=align,  # type: ignore[arg-type]
    ):
        print(table)


def _save_with_plot(out: Path, name: str, frame: pl.DataFrame) -> None:
    """Writes ``frame`` as ``out/<name>.parquet`` and its plot (``plot.<name>``) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from deleverage import plot

    _output_dir(out)
    frame.write_parquet(out / f"{name}.parquet")
    getattr(plot, name)(frame).savefig(out / f"{name}.png", dpi=110)
    print(f"written to {out}/: {name} (.parquet, .png)")


def _output_dir(out: Path) -> Path:
    """The output folder, made if needed; a path that is a file is refused, naming it."""
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"-o/--out {str(out)!r} is a file; give a folder for the outputs")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScenarioError(f"-o/--out {str(out)!r} cannot be made: {e.strerror}") from None
    return out


def _levels(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out or not all(0.0 < v < 1.0 for v in out):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated levels in (0, 1) like 0.95,0.99, got {text!r}"
        )
    return out


def _output_options(p: argparse.ArgumentParser, what: str) -> None:
    """``-o/--out`` (a folder, ./deleverage-out by default) and ``--no-write``."""
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("deleverage-out"),
        help=f"folder for {what} (default: ./deleverage-out)",
    )
    p.add_argument("--no-write", action="store_true", help="print only, write no files")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deleverage",
        description="Systemic deleveraging risk: liquidation cascades on real depth.",
    )
    p.add_argument("--version", action="version", version=f"deleverage {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo",
        help="run a built-in example through a shock",
        description=(
            "Run a built-in example to quiet, print the summary and write the frames (Parquet) "
            "and plots (PNG). eth_lending: Aave v3.3 positions on an order book and a Uniswap "
            "v2 pool with a Chainlink-style oracle, instant ETH shock. btc_perps: cross-margin "
            "traders on a BTC perp book with Binance-style brackets, an insurance fund and ADL, "
            "BTC-PERP falling over ten one-second steps. bank_fire_sale: eight banks under a "
            "Cont–Schaanning leverage limit after a loan-book loss, batch fire sales on impact "
            "curves. lst_loop_unwind: stETH/ETH loopers, a stETH StableSwap pool with a "
            "withdrawal queue, a leveraged stETH holder and an ETH perp market; ETH and ETH-PERP "
            "fall at step 0 and stETH depegs."
        ),
    )
    d.add_argument(
        "--example",
        choices=EXAMPLES,
        default="eth_lending",
        help="which built-in example (default: eth_lending)",
    )
    d.add_argument(
        "--accounts",
        type=_count(0),
        default=10_000,
        help="lending positions, perp traders or stETH loopers; the bank system has its eight "
        "banks (default: 10000)",
    )
    d.add_argument(
        "--shock",
        type=float,
        default=None,
        help="the move of the example's asset: ETH at step 0 (default -0.2), BTC-PERP over "
        "steps 5–14 (default -0.15), every bank marketable class at step 0 (default 0), ETH "
        "and ETH-PERP at step 0 for lst_loop_unwind (default -0.25)",
    )
    d.add_argument(
        "--seed", type=_count(0), default=7, help="seed of positions and run (default: 7)"
    )
    _output_options(d, "the Parquet frames and PNG plots")
    r = sub.add_parser(
        "run",
        help="run a scenario file to quiet",
        description="Run a scenario file (TOML) with its own shock and seed to quiet; print the "
        "summary and write the frames (Parquet) and the price plot (PNG).",
    )
    r.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    _output_options(r, "the outputs")
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
    m = sub.add_parser(
        "map",
        help="liquidation map of a scenario file",
        description="For a grid of moves of one asset: what is liquidatable with no feedback, "
        "and the outcome with the cascade.",
    )
    m.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    m.add_argument("--asset", required=True, help="the asset to move")
    m.add_argument(
        "--moves",
        type=_moves,
        default=[-0.02 * k for k in range(1, 26)],
        help="comma-separated returns, written --moves=-0.05,-0.1 (default: -0.02 to -0.5 in "
        "steps of 0.02)",
    )
    m.add_argument("--no-cascade", action="store_true", help="only the no-feedback columns")
    m.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help="folder for the map (Parquet) and its plot (PNG); none by default",
    )
    w = sub.add_parser(
        "sweep",
        help="run a scenario file on many seeded paths of its shock",
        description="Run a scenario file (and the variants of a parameter grid) RUNS times on "
        "paths of its shock (use a gbm or jump_diffusion shock), run i with a seed derived from "
        "the file's seed and i, on a thread pool; print per-scenario statistics and write one "
        "row per scenario and run (Parquet).",
    )
    w.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    w.add_argument("--runs", type=_count(1), default=100, help="runs per scenario (default: 100)")
    w.add_argument(
        "--threads", type=_count(1), default=None, help="worker threads (default: one per core)"
    )
    w.add_argument(
        "--grid",
        type=_grid_values,
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="vary a value of the file, named by its dotted key with array items by index, e.g. "
        "--grid protocols.0.reserves.ETH.liquidation_bonus=0.05,0.1 (repeatable: the product)",
    )
    _executor_option(w)
    w.add_argument(
        "--levels",
        type=_levels,
        default=[0.95, 0.99],
        help="levels of value at risk and expected shortfall, written --levels=0.95,0.99 (default)",
    )
    w.add_argument(
        "--stream",
        action="store_true",
        help="write the runs chunk by chunk under the output folder's sweep/ as they finish, "
        "and resume an interrupted sweep of the same arguments there",
    )
    _output_options(w, "sweep.parquet and risk.parquet")
    fr = sub.add_parser(
        "frontier",
        help="the parameter value where a risk statistic of a sweep crosses a limit",
        description="Bisect a parameter of a scenario file (its dotted key, as --grid takes "
        "it) over sweeps of RUNS seeded paths of its shock (the same paths at every value) for "
        "the value where STAT of METRIC crosses LIMIT; with --grid, the boundary curve over the "
        "grid's values. Print it and write the frame (Parquet) and its plot (PNG).",
    )
    fr.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    fr.add_argument(
        "--param",
        type=_bracket_arg,
        required=True,
        metavar="KEY=LOW:HIGH",
        help="the parameter to search and its bracket, e.g. "
        "protocols.0.reserves.ETH.liquidation_bonus=0.01:0.2 (whole numbers search whole "
        "numbers)",
    )
    fr.add_argument(
        "--grid",
        type=_grid_values,
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a second parameter: the boundary at each of its values",
    )
    fr.add_argument("--limit", type=float, required=True, help="the limit on the statistic")
    fr.add_argument(
        "--metric", default="bad_debt", help="a column of the sweep frame (default: bad_debt)"
    )
    fr.add_argument(
        "--stat",
        default="p99",
        help="mean, max, min, prob (share of runs above 0), p<q> or es<q> (default: p99)",
    )
    fr.add_argument("--runs", type=_count(1), default=100, help="runs per sweep (default: 100)")
    fr.add_argument(
        "--tol", type=float, default=None, help="bracket width to stop at (default: 1/1000)"
    )
    fr.add_argument(
        "--threads", type=_count(1), default=None, help="worker threads (default: one per core)"
    )
    _executor_option(fr)
    _output_options(fr, "frontier.parquet and frontier.png")
    v = sub.add_parser(
        "venues",
        help="route one forced sale across a book and a pool",
        description="Route a forced ETH sale across an order book and a pool, print the fills.",
    )
    v.add_argument("--qty", type=float, default=1_000.0, help="ETH to sell (default: 1000)")
    return p


#: Options whose value may start with "-" (a list of negative returns): ``--moves -0.1,-0.2``.
_NEGATIVE_VALUES = ("--moves",)


def _join_negative(argv: Sequence[str]) -> list[str]:
    """``--moves -0.1,-0.2`` as ``--moves=-0.1,-0.2`` (argparse takes a value starting with
    "-" that is not a plain number for an option)."""
    out: list[str] = []
    it = iter(argv)
    for a in it:
        if a in _NEGATIVE_VALUES:
            nxt = next(it, None)
            out.append(a if nxt is None else f"{a}={nxt}")
        else:
            out.append(a)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    args = _parser().parse_args(_join_negative(sys.argv[1:] if argv is None else argv))
    try:
        out_arg = getattr(args, "out", None)
        # Before any long run: an output path that is a file fails now, not at the end.
        if out_arg is not None and not getattr(args, "no_write", False) and out_arg.is_file():
            _output_dir(out_arg)
        if args.command == "demo":
            out = None if args.no_write else args.out
            return demo(args.accounts, args.shock, args.seed, out, args.example)
        if args.command == "run":
            return run(args.scenario, None if args.no_write else args.out)
        if args.command == "sweep":
            out = None if args.no_write else args.out
            return sweep_(
                args.scenario,
                args.runs,
                args.threads,
                args.grid,
                out,
                args.executor,
                args.levels,
                args.stream,
            )
        if args.command == "frontier":
            return frontier_(
                args.scenario,
                args.param,
                args.grid,
                args.limit,
                args.metric,
                args.stat,
                args.runs,
                args.tol,
                args.threads,
                args.executor,
                None if args.no_write else args.out,
            )
        if args.command == "map":
            return map_(args.scenario, args.asset, args.moves, not args.no_cascade, args.out)
        if args.command == "exposure":
            out = None if args.no_write else args.out
            return exposure_(args.scenario, args.by, args.within, out)
        if args.command == "attribute":
            out = None if args.no_write else args.out
            return attribute_(
                args.scenario, args.by, args.runs, args.threads, not args.no_shapley, out
            )
        return venues(args.qty)
    except (DeleverageError, ValueError) as e:
        print(f"deleverage: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        # A file the command could not read or write: one line, not a traceback.
        where = f" {e.filename!r}" if e.filename else ""
        print(f"deleverage: error:{where} {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
