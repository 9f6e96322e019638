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
        for n in (
            "events",
            "steps",
            "accounts",
            "positions",
            "vaults",
            "auctions",
            "funds",
            "depth",
        )
        if getattr(res, n).height or n in ("events", "steps", "accounts")
    ] + ["summary"]
    for name in names:
        getattr(res, name).write_parquet(out / f"{name}.parquet")
    return names


EXAMPLES = ("eth_lending_thin", "eth_lending", "btc_perps", "bank_fire_sale", "lst_loop_unwind")


def demo(
    accounts: int,
    shock: float | None,
    seed: int,
    out: Path | None,
    example: str = "eth_lending_thin",
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
        thin = example == "eth_lending_thin"
        make = examples.eth_lending_thin if thin else examples.eth_lending
        sc = make(n_accounts=accounts, seed=seed)
        asset = "ETH"
        res = simulate(sc, shock=Shock.instant(ETH=shock), seed=seed)
        depth = "$17.5M" if thin else "$450M"
        title = (
            f"ETH lending market, {depth} of bids within 2 %: {accounts:,} Aave v3.3 accounts, "
            f"ETH {shock:+.0%} at step 0, seed {seed}"
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
    if example in ("eth_lending_thin", "eth_lending", "btc_perps"):
        from deleverage.analysis import amplification_curve, liquidation_map

        step = 0.0125 if example == "btc_perps" else 0.025
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


CASES = ("black_thursday", "october_2025")


def case(name: str, seed: int, out: Path | None) -> int:
    """Replays a historical reconstruction (``docs/cases/``) and prints it against the public
    record: each figure's public value, the engine's, and whether it was calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    from deleverage import plot

    if name == "black_thursday":
        res = simulate(examples.black_thursday(seed=seed))
        table = examples.black_thursday_record(res)
        title = (
            f"Black Thursday, 12–13 March 2020: Maker ETH-A vaults, keepers out 12:00–03:00 UTC, "
            f"seed {seed} (Liquidations 2.0 in place of 1.2; docs/cases/black-thursday.md)"
        )
        figures = {"price_and_liquidations": plot.result(res, "ETH")}
    else:
        res = examples.october_2025_run(examples.october_2025(seed=seed), seed=seed)
        table = examples.october_2025_record(res)
        title = (
            f"10–11 October 2025 at 1/1,000 scale, amounts scaled back up, seed {seed} "
            "(docs/cases/october-2025.md)"
        )
        figures = {
            "spot_price_and_sales": plot.result(res, "BTC"),
            "perp_price_and_liquidations": plot.result(res, "BTC-PERP"),
            "usde_peg": plot.peg(res, "USDe"),
        }
    print(title)
    _print_table(table.select("figure", "record", pl.col("shown").alias("engine"), "basis"))
    print("sources:")
    for fig_name, source in table.select("figure", "source").iter_rows():
        print(f"  {fig_name}: {source}")
    if out is None:
        return 0
    names = _write_frames(res, out)
    table.write_parquet(out / "record.parquet")
    for fname, fig in figures.items():
        fig.savefig(out / f"{fname}.png", dpi=110)
    print(f"written to {out}/: {', '.join([*names, 'record'])} (.parquet); "
          f"{', '.join(figures)} (.png)")  # fmt: skip
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


def map_(path: Path, asset: str, moves: list[float], cascade: bool, out: Path | None) -> int:
    """Prints the liquidation map of a scenario file for ``asset``."""
    from deleverage.analysis import liquidation_map

    sc = Scenario.from_toml(path)
    m = liquidation_map(sc, asset, moves, seed=sc.seed, cascade=cascade, progress=_progress())
    print(f"{asset} moved; amounts in quote. at risk: debt of the accounts liquidatable at the "
          "moved price, prices held; no / with feedback: notional liquidated by the engine "
          "without venues (prices held) and in the cascade")  # fmt: skip
    _print_table(_map_table(m), align="RIGHT")
    if out is not None:
        _save_with_plot(out, "liquidation_map", m)
    return 0


def _map_table(m: pl.DataFrame) -> pl.DataFrame:
    """The liquidation map for a terminal: a move per line, units in every header, amounts in
    whole quote with thousands separators, so no number switches to exponent notation."""

    def amount(col: str) -> pl.Expr:
        return pl.col(col).map_elements(lambda v: f"{v:,.0f}", return_dtype=pl.String)

    def count(col: str) -> pl.Expr:
        return pl.col(col).map_elements(lambda v: f"{v:,}", return_dtype=pl.String)

    cols = [
        (pl.col("move") * 100).round(2).alias("move (%)"),
        amount("price").alias("price"),
        amount("liquidatable_debt").alias("at risk"),
        count("liquidatable_accounts").alias("accounts"),
    ]
    if "liquidated_notional" in m.columns:
        cols += [
            amount("no_feedback_liquidated_notional").alias("no feedback"),
            amount("liquidated_notional").alias("with feedback"),
            count("liquidations").alias("liquidations"),
            amount("bad_debt").alias("bad debt"),
            amount("final_mid").alias("final mid"),
            pl.col("amplification").round(3).alias("amplif. (x)"),
        ]
    return m.select(cols)


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
    """A table whole, without its shape and dtypes, at most 200 characters wide, no text cut."""
    with pl.Config(
        fmt_str_lengths=200,
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


def _structure_commands(sub: Any) -> None:
    """``exposure`` and ``attribute`` (their own module: issue 19's commands)."""
    from deleverage._cli_structure import add_commands

    add_commands(sub)


def _parser() -> argparse.ArgumentParser:
    from deleverage._cli_sweeps import _bracket_arg, _grid_values

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
            "and plots (PNG). eth_lending_thin (the default): Aave v3.3 positions on a thin "
            "order book ($17.5M of bids within 2 %, a third of impact permanent) and a Uniswap "
            "v2 pool with a Chainlink-style oracle, instant ETH shock: the cascade amplifies it. "
            "eth_lending: the same accounts on a deep book ($450M within 2 %), for contrast. "
            "btc_perps: cross-margin "
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
        default="eth_lending_thin",
        help="which built-in example (default: eth_lending_thin)",
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
    c = sub.add_parser(
        "case",
        help="replay a historical reconstruction against the public record",
        description=(
            "Replay a historical reconstruction and print each figure against the public "
            "record (its value and source, the engine's, calibrated or predicted); write the "
            "frames, the table (Parquet) and the plots (PNG). black_thursday: Maker on 12–13 "
            "March 2020 (docs/cases/black-thursday.md). october_2025: 10–11 October 2025, "
            "cross-margin ADL and USDe on one exchange's book (docs/cases/october-2025.md)."
        ),
    )
    c.add_argument("name", choices=CASES, help="which reconstruction")
    c.add_argument(
        "--seed", type=_count(0), default=0,
        help="seed of the synthetic positions (default: 0, the one the pages quote)",
    )  # fmt: skip
    _output_options(c, "the Parquet frames, the comparison and the PNG plots")
    r = sub.add_parser(
        "run",
        help="run a scenario file to quiet",
        description="Run a scenario file (TOML) with its own shock and seed to quiet; print the "
        "summary and write the frames (Parquet) and the price plot (PNG).",
    )
    r.add_argument("scenario", type=Path, help="the scenario file (.toml)")
    _output_options(r, "the outputs")
    _structure_commands(sub)
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
    from deleverage._cli_sweeps import frontier_, sweep_

    args = _parser().parse_args(_join_negative(sys.argv[1:] if argv is None else argv))
    try:
        out_arg = getattr(args, "out", None)
        # Before any long run: an output path that is a file fails now, not at the end.
        if out_arg is not None and not getattr(args, "no_write", False) and out_arg.is_file():
            _output_dir(out_arg)
        if args.command == "demo":
            out = None if args.no_write else args.out
            return demo(args.accounts, args.shock, args.seed, out, args.example)
        if args.command == "case":
            return case(args.name, args.seed, None if args.no_write else args.out)
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
        if args.command in ("exposure", "attribute"):
            from deleverage._cli_structure import run_command

            return run_command(args)
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
