"""The command line's sweep commands: ``deleverage sweep FILE`` (risk statistics over seeded
runs and a parameter grid) and ``deleverage frontier FILE`` (where a statistic crosses a
limit), with the grid and bracket arguments they parse."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from deleverage.cli import _output_dir, _print_table, _progress, _save_with_plot
from deleverage.exceptions import ScenarioError
from deleverage.scenario import Scenario


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
