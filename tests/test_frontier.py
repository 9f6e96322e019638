"""The inverse search against closed forms: one Aave account has bad debt exactly when its
collateral is worth less than its debt with the bonus, c·p < d·(1 + b); the frontier must find
that threshold in the shock, in the bonus, and as the curve b*(r) = c·P·(1 + r)/d − 1."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import polars as pl
import pytest

import deleverage as dl
from deleverage.cli import main

matplotlib.use("Agg")

P, C, D, B, LT = 3_000.0, 7.0, 13_000.0, 0.075, 0.8
BONUS = "protocols.aave_v3.reserves.ETH.liquidation_bonus"


def one_account(shock: float = -0.5, bonus: float = B) -> dl.Scenario:
    book = dl.OrderBook.linear(P, 1.0, 2_000, 100.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", P, venues=[book], oracle=dl.Oracle.reference()),
            dl.Asset("USDC", 1.0),
        ],
        steps=1,
        shock=dl.Shock.instant(ETH=shock),
    )
    pos = pl.DataFrame(
        {
            "account": ["a"],
            "collateral_asset": ["ETH"],
            "collateral": [C],
            "debt_asset": ["USDC"],
            "debt": [D],
        }
    )
    return sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(LT, bonus)}), pos)


def test_the_shock_that_starts_bad_debt_is_found_to_the_tolerance() -> None:
    r_star = D * (1 + B) / (C * P) - 1  # −0.33452…
    f = dl.frontier(
        one_account(), params={"shock.returns.ETH": (-0.9, -0.01)}, limit=0.0, runs=1, tol=1e-7
    )
    row = f.row(0, named=True)
    assert abs(row["boundary"] - r_star) <= 1e-7
    assert row["bracket_low"] <= r_star <= row["bracket_high"]
    assert row["bracket_high"] - row["bracket_low"] <= 1e-7
    assert row["safe_side"] == "above"
    assert row["safe_value"] == row["bracket_high"]
    assert row["stat_high"] == 0.0
    assert row["stat_low"] > 0.0
    # The bad debt at the unsafe end is what is left after seizing all the collateral.
    p = P * (1 + row["bracket_low"])
    assert row["stat_low"] == pytest.approx(D - C * p / (1 + B), abs=1e-6)
    assert row["evaluations"] == len(row["trace"])


def test_the_largest_safe_bonus_is_found_to_the_tolerance() -> None:
    r = -0.3
    b_star = C * P * (1 + r) / D - 1  # 0.13076…
    f = dl.frontier(
        one_account(), dl.Shock.instant(ETH=r), params={BONUS: (0.01, 0.2)}, limit=0.0, runs=1,
        tol=1e-6,
    )  # fmt: skip
    row = f.row(0, named=True)
    assert abs(row["boundary"] - b_star) <= 1e-6
    assert row["safe_side"] == "below"
    assert row["safe_value"] <= b_star


def test_two_parameters_trace_the_boundary_curve() -> None:
    shocks = [-0.22, -0.26, -0.3, -0.34, -0.5]
    f = dl.frontier(
        one_account(),
        params={"shock.returns.ETH": shocks, BONUS: (0.01, 0.2)},
        limit=0.0,
        runs=1,
        tol=1e-6,
    )
    assert f["grid_value"].to_list() == shocks
    for row in f.iter_rows(named=True):
        b_star = C * P * (1 + row["grid_value"]) / D - 1
        if 0.01 < b_star < 0.2:
            assert row["crossed"]
            assert abs(row["boundary"] - b_star) <= 1e-6
        else:
            assert not row["crossed"]
            assert row["boundary"] is None
            # −0.22: no bad debt at any bonus of the bracket; −0.5: bad debt at every one.
            assert (row["stat_low"] > 0) == (b_star < 0.01)
            assert (row["stat_high"] > 0) == (b_star < 0.2)
    fig = dl.plot.frontier(f)
    assert fig.axes[0].get_xlabel() == "shock.returns.ETH"


def test_on_random_paths_the_safe_value_holds_on_an_independent_sweep() -> None:
    # No closed form here: check the answer against sweeps run separately. A higher
    # liquidation threshold leaves these positions healthier: fewer liquidations.
    sc = dl.examples.eth_lending(n_accounts=300, seed=3, steps=40)
    shock = dl.Shock.jump_diffusion(
        sigma={"ETH": 3.0}, jump_intensity={"ETH": 3_000.0}, jump_mean={"ETH": -0.1}, per="year"
    )
    key = "protocols.aave_v3.reserves.ETH.liquidation_threshold"
    f = dl.frontier(
        sc, shock, params={key: (0.7, 0.9)}, metric="liquidations", stat="mean", limit=50.0,
        runs=6, seed=2, tol=1e-3,
    )  # fmt: skip
    row = f.row(0, named=True)
    assert row["safe_side"] == "above"
    assert row["bracket_high"] - row["bracket_low"] <= 1e-3

    def mean_liquidations(value: float) -> float:
        (variant,) = dl.grid(sc, {key: [value]}).values()
        return float(dl.sweep(variant, shock, runs=6, seed=2)["liquidations"].mean())  # type: ignore[arg-type]

    assert mean_liquidations(row["bracket_high"]) == row["stat_high"] <= 50.0
    assert mean_liquidations(row["bracket_low"]) == row["stat_low"] > 50.0


def test_a_bracket_of_whole_numbers_searches_whole_numbers() -> None:
    # Twenty accounts all under water after the shock, a budget of k liquidations per step and
    # no step beyond the one: min(k, 20) liquidations. At most 7.5: k = 7.
    pos = pl.DataFrame(
        {
            "account": [f"a{i}" for i in range(20)],
            "collateral_asset": ["ETH"] * 20,
            "collateral": [7.0] * 20,
            "debt_asset": ["USDC"] * 20,
            "debt": [13_000.0] * 20,
        }
    )
    sc = dl.Scenario(**{**one_account().__dict__, "lending": ()})
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(LT, B)}), pos)
    f = dl.frontier(
        sc, dl.Shock.instant(ETH=-0.3), params={"liquidators.budget_count": (1, 40)},
        metric="liquidations", stat="max", limit=7.5, runs=1, max_extra_steps=0,
    )  # fmt: skip
    row = f.row(0, named=True)
    assert (row["bracket_low"], row["bracket_high"]) == (7, 8)
    assert row["safe_value"] == 7
    assert (row["stat_low"], row["stat_high"]) == (7, 8)
    assert all(t["value"] == int(t["value"]) for t in row["trace"])


def test_bad_frontier_arguments_are_named() -> None:
    sc = one_account()
    with pytest.raises(dl.ScenarioError, match=r"does not cross the limit 0 .* widen the bracket"):
        dl.frontier(sc, params={"shock.returns.ETH": (-0.2, -0.01)}, limit=0.0, runs=1)
    with pytest.raises(dl.ScenarioError, match="stat must be"):
        dl.frontier(sc, params={"shock.returns.ETH": (-0.9, -0.01)}, limit=0, stat="p100")
    with pytest.raises(dl.ScenarioError, match="metric must be a numeric column"):
        dl.frontier(sc, params={"shock.returns.ETH": (-0.9, -0.01)}, limit=0, metric="x", runs=1)
    with pytest.raises(dl.ScenarioError, match="varies the scenario's own shock"):
        dl.frontier(
            sc, dl.Shock.instant(ETH=-0.1), params={"shock.returns.ETH": (-0.9, 0)}, limit=0
        )
    with pytest.raises(dl.ScenarioError, match="low < high"):
        dl.frontier(sc, params={BONUS: (0.2, 0.01)}, limit=0)
    with pytest.raises(dl.ScenarioError, match="no such key"):
        dl.frontier(sc, params={"protocols.aave_v3.reserves.ETH.bonus": (0.01, 0.2)}, limit=0)
    with pytest.raises(dl.ScenarioError, match="non-empty list of grid values"):
        dl.frontier(sc, params={"shock.returns.ETH": 3, BONUS: (0.01, 0.2)}, limit=0)


def test_cli_frontier_prints_and_writes_the_boundary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_account(-0.3).to_toml(tmp_path / "one.toml")
    bonus = "protocols.0.reserves.ETH.liquidation_bonus=0.01:0.2"
    args = ["frontier", str(tmp_path / "one.toml"), "--param", bonus, "--limit", "0"]
    args += ["--runs", "1", "--tol", "1e-6"]
    assert main([*args, "-o", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "within the limit at or below 0.1307" in printed
    f = pl.read_parquet(tmp_path / "out" / "frontier.parquet")
    assert abs(f["boundary"].item() - (C * P * 0.7 / D - 1)) <= 1e-6
    assert (tmp_path / "out" / "frontier.png").stat().st_size > 10_000
    # An unknown key is named, with what is there, as one line.
    bad = ["frontier", str(tmp_path / "one.toml"), "--param", "protocols.0.bonus=0:1"]
    assert main([*bad, "--limit", "0", "--no-write"]) == 2
    assert "protocols[0].bonus: no such key" in capsys.readouterr().err
