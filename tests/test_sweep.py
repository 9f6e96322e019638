"""Sweeps through the Python surface: the rows do not depend on the threads or the chunking,
each row is the run ``simulate`` gives with the run's seed, and a grid compares scenarios on the
same paths."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import deleverage as dl
from deleverage.cli import main

SHOCK = dl.Shock.jump_diffusion(
    sigma={"ETH": 2.0}, jump_intensity={"ETH": 2_000.0}, jump_mean={"ETH": -0.08}, per="year"
)


def scenario(sell_fraction: float = 1.0) -> dl.Scenario:
    return dl.examples.eth_lending(n_accounts=400, seed=2, steps=60).with_liquidators(
        dl.Liquidators(sell_fraction=sell_fraction)
    )


def test_rows_do_not_depend_on_threads_or_chunks() -> None:
    a = dl.sweep(scenario(), SHOCK, runs=12, seed=5, threads=1)
    b = dl.sweep(scenario(), SHOCK, runs=12, seed=5, threads=2, chunk=5)
    assert a.equals(b)
    assert a["seed"].n_unique() == 12
    assert (a["liquidations"] > 0).any()


def test_each_row_is_the_run_simulate_gives_with_its_seed() -> None:
    sc = scenario()
    out = dl.sweep(sc, SHOCK, runs=4, seed=9, threads=2)
    for row in out.iter_rows(named=True):
        res = dl.simulate(sc, SHOCK, seed=row["seed"])
        s = res.summary.row(0, named=True)
        assert row["liquidations"] == s["liquidations"]
        assert row["bad_debt"] == s["bad_debt"]
        assert row["drawdown_ETH"] == pytest.approx(s["drawdown_ETH"], rel=1e-12, abs=1e-15)
        assert row["steps_run"] == s["steps_run"]


def test_a_grid_compares_scenarios_on_the_same_paths() -> None:
    grid = {f"sell={f}": scenario(f) for f in (0.0, 1.0)}
    out = dl.sweep(grid, SHOCK, runs=6, seed=1)
    keep, sell = (out.filter(pl.col("scenario") == k) for k in ("sell=0.0", "sell=1.0"))
    assert keep["seed"].to_list() == sell["seed"].to_list()
    # The same exogenous paths; liquidators who keep the collateral do not push the price.
    assert keep["exogenous_drawdown_ETH"].to_list() == sell["exogenous_drawdown_ETH"].to_list()
    assert (keep["drawdown_ETH"] >= sell["drawdown_ETH"] - 1e-12).all()
    assert out["insurance_fund_min"].null_count() == out.height


def test_bad_sweep_arguments_are_named() -> None:
    with pytest.raises(dl.ScenarioError, match="runs must be"):
        dl.sweep(scenario(), SHOCK, runs=0)
    with pytest.raises(dl.ScenarioError, match="threads must be"):
        dl.sweep(scenario(), SHOCK, runs=2, threads=0)
    with pytest.raises(dl.ScenarioError, match=r"scenarios\['x'\]"):
        dl.sweep({"x": 3}, SHOCK, runs=2)  # type: ignore[dict-item]


def test_cli_sweep_writes_rows_per_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc = scenario()
    sc = dl.Scenario(**{**sc.__dict__, "shock": SHOCK, "seed": 4})
    sc.to_toml(tmp_path / "eth.toml")
    args = ["sweep", str(tmp_path / "eth.toml"), "--runs", "5", "--threads", "2"]
    grid = ["--grid", "protocols.0.reserves.ETH.liquidation_bonus=0.05,0.1"]
    assert main([*args, *grid, "-o", str(tmp_path / "out")]) == 0
    out = pl.read_parquet(tmp_path / "out" / "sweep.parquet")
    assert sorted(out["scenario"].unique()) == [
        "liquidation_bonus=0.05",
        "liquidation_bonus=0.1",
    ]
    assert out.height == 10
    assert "p_bad_debt" in capsys.readouterr().out
    # A key that is not in the file is named, with what is there.
    bad = ["--grid", "protocols.0.reserves.ETH.bonus=0.05"]
    assert main([*args, *bad, "--no-write"]) == 2
    assert "protocols[0].reserves.ETH.bonus: no such key" in capsys.readouterr().err


def test_more_threads_than_cores_are_capped_with_a_warning_and_change_nothing() -> None:
    sc = dl.examples.eth_lending(n_accounts=100, steps=10)
    shock = dl.Shock.gbm(sigma={"ETH": 1.0}, per="year")
    want = dl.sweep(sc, shock, runs=8, seed=3, threads=1)
    with pytest.warns(RuntimeWarning, match=r"threads=1000000 is more than this machine's"):
        got = dl.sweep(sc, shock, runs=8, seed=3, threads=10**6)
    assert got.equals(want)
    with pytest.raises(dl.ScenarioError, match="runs must be at most 4,294,967,295"):
        dl.sweep(sc, shock, runs=2**40)


def test_ctrl_c_stops_a_long_sweep_and_leaves_the_interpreter_usable() -> None:
    # A sweep far longer than the test: SIGINT once it has started. The flag the runs poll
    # before every step stops it; KeyboardInterrupt reaches Python, which goes on.
    code = (
        "import time, deleverage as dl\n"
        "sc = dl.examples.eth_lending(n_accounts=2_000, steps=2_000)\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    shock = dl.Shock.gbm(sigma={'ETH': 1.0}, per='year')\n"
        "    dl.sweep(sc, shock, runs=100_000, threads=1, chunk=100_000)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', time.monotonic(), flush=True)\n"
        "print('alive', dl.simulate(dl.examples.eth_lending(50)).summary.height, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    lines = out.split("\n")
    stopped = float(next(ln for ln in lines if ln.startswith("interrupted")).split()[1])
    assert "alive 1" in out
    # Generous for a loaded CI machine; on this one it stops within about 0.05 s.
    assert stopped - sent < 2.0


def test_grid_by_name_gives_the_variants_the_cli_would() -> None:
    # A protocol by its name and the liquidators' budget: 2 × 2 variants, each the scenario
    # with those values; a sweep of them runs each on the same seeded paths.
    sc = dl.examples.eth_lending(n_accounts=200, steps=20)
    variants = dl.grid(
        sc,
        {
            "protocols.aave_v3.reserves.ETH.liquidation_bonus": [0.05, 0.1],
            "liquidators.budget_notional": [1e5, 1e6],
        },
    )
    assert list(variants) == [
        "liquidation_bonus=0.05, budget_notional=100000.0",
        "liquidation_bonus=0.05, budget_notional=1000000.0",
        "liquidation_bonus=0.1, budget_notional=100000.0",
        "liquidation_bonus=0.1, budget_notional=1000000.0",
    ]
    v = variants["liquidation_bonus=0.1, budget_notional=100000.0"]
    assert v.lending[0].protocol.reserves["ETH"].liquidation_bonus == 0.1
    assert v.liquidators.budget_notional == 1e5
    # The unchanged parts are the scenario's own: same run as the original at the original's
    # values.
    same = dl.grid(sc, {"protocols.0.reserves.ETH.liquidation_bonus": [0.05]})
    shock = dl.Shock.instant(ETH=-0.2)
    a = dl.simulate(sc, shock)
    b = dl.simulate(next(iter(same.values())), shock)
    assert a.events.equals(b.events)
    runs = dl.sweep(variants, dl.Shock.gbm(sigma={"ETH": 2.0}, per="year"), runs=3, seed=1)
    assert runs["scenario"].n_unique() == 4
    with pytest.raises(dl.ScenarioError, match=r"'aave' is not an index .*names \['aave_v3'\]"):
        dl.grid(sc, {"protocols.aave.reserves.ETH.liquidation_bonus": [0.1]})
    with pytest.raises(dl.ScenarioError, match="no such key to vary; it has"):
        dl.grid(sc, {"liquidators.budget": [1.0]})
