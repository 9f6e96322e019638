"""Sweeps spread out and streamed: the frame is the same whatever runs the chunks (threads,
chunking, a process pool, Ray), a streamed sweep reads back as the in-memory one, and a killed
sweep resumes without rewriting what it had written."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import deleverage as dl
from deleverage.cli import main

SHOCK = dl.Shock.jump_diffusion(
    sigma={"ETH": 2.0}, jump_intensity={"ETH": 2_000.0}, jump_mean={"ETH": -0.08}, per="year"
)


def variants() -> dict[str, dl.Scenario]:
    base = dl.examples.eth_lending(n_accounts=300, seed=2, steps=40)
    return dl.grid(base, {"protocols.aave_v3.reserves.ETH.liquidation_bonus": [0.05, 0.12]})


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return dl.sweep(variants(), SHOCK, runs=14, seed=5, threads=1, chunk=14)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="Ray cannot be installed on this platform")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_threads_and_chunks_change_nothing(reference: pl.DataFrame) -> None:
    # 14 runs in chunks of 2: seven chunks per variant, on two threads each.
    got = dl.sweep(variants(), SHOCK, runs=14, seed=5, threads=2, chunk=2)
    assert got.equals(reference)
    assert reference.height == 28
    assert reference["liquidations"].sum() > 0
    # The variants see the same paths and differ in what the bonus changes.
    a, b = (
        reference.filter(pl.col("scenario") == k)
        for k in reference["scenario"].unique(maintain_order=True)
    )
    assert a["exogenous_drawdown_ETH"].equals(b["exogenous_drawdown_ETH"])


def test_a_process_pool_gives_the_in_process_frame(reference: pl.DataFrame) -> None:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        got = dl.sweep(variants(), SHOCK, runs=14, seed=5, chunk=2, executor=pool)
    assert got.equals(reference)
    got = dl.sweep(variants(), SHOCK, runs=14, seed=5, chunk=7, executor="processes")
    assert got.equals(reference)


def test_ray_gives_the_in_process_frame(reference: pl.DataFrame, ray_local: Any) -> None:
    got = dl.sweep(variants(), SHOCK, runs=14, seed=5, chunk=2, executor="ray")
    assert got.equals(reference)
    got = dl.sweep(variants(), SHOCK, runs=14, seed=5, chunk=14, executor="ray", threads=2)
    assert got.equals(reference)


def test_a_streamed_sweep_reads_back_as_the_in_memory_one(
    reference: pl.DataFrame, tmp_path: Path
) -> None:
    lazy = dl.sweep(variants(), SHOCK, runs=14, seed=5, chunk=2, out=tmp_path / "s")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(reference)
    # One file per chunk, the whole folder readable by one glob.
    files = sorted((tmp_path / "s").glob("**/*.parquet"))
    assert len(files) == 14
    assert pl.scan_parquet(tmp_path / "s" / "**" / "*.parquet").collect().equals(reference)


def test_streamed_on_a_process_pool_too(reference: pl.DataFrame, tmp_path: Path) -> None:
    lazy = dl.sweep(variants(), SHOCK, runs=14, seed=5, chunk=3, out=tmp_path, executor="processes")
    assert lazy.collect().equals(reference)


def test_kept_series_are_the_runs_of_their_rows(tmp_path: Path) -> None:
    # The step series and events kept for the runs with liquidations add up to their rows.
    sc = dl.examples.eth_lending(n_accounts=300, seed=2, steps=40)
    chosen = pl.col("liquidations") > 0
    lazy = dl.sweep(
        sc, SHOCK, runs=8, seed=5, chunk=3, out=tmp_path, keep=["steps", "events"], keep_runs=chosen
    )
    rows = lazy.collect()
    want = rows.filter(chosen)
    assert 0 < want.height < rows.height
    steps = pl.read_parquet(tmp_path / "steps" / "**" / "*.parquet")
    events = pl.read_parquet(tmp_path / "events" / "**" / "*.parquet")
    assert sorted(steps["run"].unique()) == sorted(want["run"])
    for row in want.iter_rows(named=True):
        ev = events.filter(pl.col("run") == row["run"], pl.col("kind") == "liquidation")
        assert ev.height == row["liquidations"]
        run = steps.filter(pl.col("run") == row["run"])
        assert run["liquidation_count"].sum() == row["liquidations"]
        assert run["liquidated_notional"].sum() == pytest.approx(
            row["liquidated_notional"], rel=1e-12
        )
        eth = run.filter(pl.col("asset") == "ETH")
        assert eth.height == row["steps_run"]
        assert eth["mid"].min() / 3_000.0 - 1 == pytest.approx(row["drawdown_ETH"], abs=1e-12)
    # Run indices choose too.
    dl.sweep(sc, SHOCK, runs=8, seed=5, chunk=3, out=tmp_path / "b", keep="steps", keep_runs=[6])
    assert pl.read_parquet(tmp_path / "b" / "steps" / "**" / "*.parquet")[
        "run"
    ].unique().to_list() == [6]


_KILLED = """
import sys
import deleverage as dl
from tests.test_scale import SHOCK
sc = dl.examples.eth_lending(n_accounts=100, seed=2, steps=30)
dl.sweep(sc, SHOCK, runs=1_000, seed=5, chunk=4, threads=1, out=sys.argv[1])
"""


def test_a_killed_sweep_resumes_without_rewriting_what_it_wrote(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(folder)], cwd=root)
    runs = folder / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(runs.glob("**/*.parquet"))) < 5:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in runs.glob("**/*.parquet")}
    assert 5 <= len(before) < 250, "the sweep must be killed part way"
    sc = dl.examples.eth_lending(n_accounts=100, seed=2, steps=30)
    lazy = dl.sweep(sc, SHOCK, runs=1_000, seed=5, chunk=4, threads=1, out=folder)
    after = list(runs.glob("**/*.parquet"))
    assert len(after) == 250
    assert not list(folder.glob("**/*.tmp"))
    for p, (ino, mtime) in before.items():
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == (ino, mtime), f"{p.name} rewritten"
    assert lazy.collect().equals(dl.sweep(sc, SHOCK, runs=1_000, seed=5, chunk=4))


def test_a_folder_of_another_sweep_is_refused(tmp_path: Path) -> None:
    sc = dl.examples.eth_lending(n_accounts=100, seed=2, steps=10)
    dl.sweep(sc, SHOCK, runs=4, seed=5, out=tmp_path / "s")
    with pytest.raises(dl.ScenarioError, match=r"holds another sweep \(it differs in \['runs'\]"):
        dl.sweep(sc, SHOCK, runs=5, seed=5, out=tmp_path / "s")
    with pytest.raises(dl.ScenarioError, match=r"differs in \['fingerprint'\]"):
        dl.sweep(sc, SHOCK, runs=4, seed=5, max_extra_steps=9, out=tmp_path / "s")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(dl.ScenarioError, match=r"holds files but no sweep\.json"):
        dl.sweep(sc, SHOCK, runs=4, seed=5, out=tmp_path / "other")
    with pytest.raises(dl.ScenarioError, match="out must be a folder"):
        dl.sweep(sc, SHOCK, runs=4, seed=5, out=tmp_path / "other" / "notes.txt")


def test_bad_executor_and_keep_arguments_are_named() -> None:
    sc = dl.examples.eth_lending(n_accounts=100, seed=2, steps=10)
    with pytest.raises(dl.ScenarioError, match=r"executor must be .* got 'dask'"):
        dl.sweep(sc, SHOCK, runs=2, executor="dask")
    with pytest.raises(dl.ScenarioError, match="keep must be 'steps', 'events' or both"):
        dl.sweep(sc, SHOCK, runs=2, keep="accounts", out="x")  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match="give out a folder"):
        dl.sweep(sc, SHOCK, runs=2, keep="steps")
    with pytest.raises(dl.ScenarioError, match="keep_runs must be"):
        dl.sweep(sc, SHOCK, runs=2, keep="steps", keep_runs="bad", out="x")  # type: ignore[arg-type]


def test_cli_sweep_on_processes_streams_and_prints_the_risk_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = dl.examples.eth_lending(n_accounts=200, seed=2, steps=30)
    sc = dl.Scenario(**{**sc.__dict__, "shock": SHOCK, "seed": 4})
    sc.to_toml(tmp_path / "eth.toml")
    args = ["sweep", str(tmp_path / "eth.toml"), "--runs", "6", "--levels=0.9"]
    out = tmp_path / "out"
    assert main([*args, "--executor", "processes", "--stream", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bad_debt_var_0.9 " in printed
    assert "drawdown_ETH_q01" in printed
    assert "USDC" not in printed  # the quote never falls
    streamed = pl.read_parquet(out / "sweep" / "runs" / "**" / "*.parquet")
    assert streamed.equals(dl.sweep({"eth": dl.Scenario.from_toml(tmp_path / "eth.toml")}, runs=6))
    risk = pl.read_parquet(out / "risk.parquet")
    assert risk.equals(dl.risk(streamed.drop(pl.selectors.contains("USDC")), levels=[0.9]))
    assert os.path.exists(out / "sweep" / "sweep.json")


def test_the_read_back_takes_the_chunks_in_run_order_and_nothing_else(tmp_path: Path) -> None:
    # Files are named, not globbed: a stray file in the folder is not read, and numpy or float
    # spellings of the same seed resume the same sweep.
    import numpy as np

    sc = dl.examples.eth_lending(n_accounts=100, seed=2, steps=10)
    want = dl.sweep(sc, SHOCK, runs=6, seed=3, chunk=2)
    lazy = dl.sweep(sc, SHOCK, runs=6, seed=np.int64(3), chunk=2, out=tmp_path)
    want.head(1).write_parquet(tmp_path / "runs" / "v0000" / "stray.parquet")
    assert lazy.collect().equals(want)
    again = dl.sweep(sc, SHOCK, runs=6, seed=3.0, chunk=2, out=tmp_path)  # type: ignore[arg-type]
    assert again.collect().equals(want)


def test_a_bad_keep_runs_expression_is_named_before_anything_runs(tmp_path: Path) -> None:
    sc = dl.examples.eth_lending(n_accounts=100, seed=2, steps=10)
    for expr in (pl.col("nope") > 0, pl.col("bad_debt")):
        with pytest.raises(dl.ScenarioError, match="keep_runs must be a row-wise boolean"):
            dl.sweep(sc, SHOCK, runs=2, keep="steps", keep_runs=expr, out=tmp_path / "x")
        assert not (tmp_path / "x" / "sweep.json").exists()
