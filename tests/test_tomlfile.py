"""Scenario files: round trips, generated positions, and errors that name the key and place."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import deleverage as dl
from deleverage.cli import main

MINIMAL = """
[run]
steps = 5
seed = 3

[[assets]]
name = "ETH"
price = 100.0
oracle = { kind = "reference" }
venues = [{ kind = "curve_linear", price = 100.0, slope = 3e-5 }]

[[assets]]
name = "USDC"
price = 1.0
oracle = { kind = "reference" }

[[protocols]]
kind = "aave_v3"
positions = "positions.csv"
reserves = { ETH = { liquidation_threshold = 0.8, liquidation_bonus = 0.05 } }

[shock]
kind = "instant"
returns = { ETH = -0.03 }
"""


def _write(tmp_path: Path, text: str = MINIMAL) -> Path:
    pl.DataFrame(
        {
            "account": ["a0", "a1", "a2"],
            "collateral_asset": ["ETH"] * 3,
            "collateral": [10.0] * 3,
            "debt_asset": ["USDC"] * 3,
            "debt": [780.0, 760.0, 720.0],
        }
    ).write_csv(tmp_path / "positions.csv")
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def test_file_scenario_runs_the_hand_derived_cascade(tmp_path: Path) -> None:
    # The cascade of the engine tests with a reference oracle: only account a0 (trigger 97.5)
    # is liquidated at 97; its sale of 1.05·780 = 819 of quote moves the curve to 97(1 − 819ℓ).
    sc = dl.Scenario.from_toml(_write(tmp_path))
    assert sc.steps == 5
    assert sc.seed == 3
    res = dl.simulate(sc)
    assert res.events["account"].to_list() == ["a0"]
    eth = res.steps.filter(pl.col("asset") == "ETH")
    assert eth["mid"][-1] == pytest.approx(97 * (1 - 819 * 3e-5))


def test_round_trip_gives_the_same_run(tmp_path: Path) -> None:
    sc = dl.examples.eth_lending(n_accounts=300, seed=4, steps=10)
    sc = dl.Scenario(
        assets=[
            *sc.assets,
            dl.Asset(
                "WBTC",
                60_000.0,
                [dl.ImpactCurve.exponential(60_000.0, 30_000.0, 5e6, alpha=0.5)],
                dl.Oracle.twap(600),
            ),
        ],
        steps=sc.steps,
        liquidators=dl.Liquidators(budget_count=50, priority="largest", mode="batch"),
        lending=sc.lending,
        shock=dl.Shock.gbm(
            {"ETH": 0.8, "WBTC": 0.6}, corr=[[1, 0, 0.5], [0, 1, 0], [0.5, 0, 1]], per="year"
        ),
        seed=9,
    )
    path = tmp_path / "out" / "eth.toml"
    sc.to_toml(path)
    back = dl.Scenario.from_toml(path)
    assert back.asset_names == sc.asset_names
    assert back.liquidators == sc.liquidators
    assert back.seed == 9
    a, b = dl.simulate(sc), dl.simulate(back)
    assert a.events.equals(b.events)
    assert a.steps.equals(b.steps)
    assert a.accounts.equals(b.accounts)
    # Writing the read-back scenario gives the same file.
    path2 = tmp_path / "again" / "eth.toml"
    back.to_toml(path2)
    assert path2.read_text() == path.read_text()


def test_generated_positions(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'positions = "positions.csv"',
        'generate = { accounts = 1000, collateral_asset = "ETH", debt_asset = "USDC", seed = 7,'
        " health_min = 1.05 }",
    )
    sc = dl.Scenario.from_toml(_write(tmp_path, text))
    pos = sc.lending[0].positions
    assert pos.height == 1_000
    # Every generated health factor is at least health_min: C·100·0.8/D >= 1.05.
    hf = pos["collateral"].to_numpy() * 100 * 0.8 / pos["debt"].to_numpy()
    assert np.all(hf >= 1.05 - 1e-12)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("[run]", "[run]\nstepz = 3"), r"scenario\.toml: run\.stepz: unknown key"),
        (("steps = 5", 'steps = "five"'), r"run\.steps: expected a whole number, got str 'five'"),
        (
            ('kind = "curve_linear"', 'kind = "curve_cubic"'),
            r"assets\[0\]\.venues\[0\]\.kind: expected one of",
        ),
        (("slope = 3e-5", "slop = 3e-5"), r"assets\[0\]\.venues\[0\]\.slop: unknown key"),
        (
            ('oracle = { kind = "reference" }\nvenues', 'oracle = { kind = "psh" }\nvenues'),
            r"assets\[0\]\.oracle\.kind: expected one of spot, push",
        ),
        (
            ('positions = "positions.csv"', 'positions = "missing.csv"'),
            r"protocols\[0\]\.positions: file '.*missing\.csv' does not exist",
        ),
        (("returns = { ETH = -0.03 }", "returns = { BTC = -0.03 }"), r"unknown asset 'BTC'"),
        (("price = 100.0", "price = -100.0"), r"assets\[0\]: ETH\.price must be > 0"),
        (("[[protocols]]", "[[protocol]]"), r"protocol: unknown key"),
        # A volatility without its period would be read as annual when it is daily.
        (
            ('kind = "instant"\nreturns = { ETH = -0.03 }', 'kind = "gbm"\nsigma = { ETH = 0.04 }'),
            r"shock\.per: missing; expected 'year', 'day' or 'hour'",
        ),
        (
            (
                'kind = "instant"\nreturns = { ETH = -0.03 }',
                'kind = "gbm"\nper = "week"\nsigma = { ETH = 1.0 }',
            ),
            r"shock\.per: per must be 'year', 'day' or 'hour' .*, got 'week'",
        ),
    ],
)
def test_errors_name_the_key_and_place(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = MINIMAL.replace(*edit, 1)
    assert text != MINIMAL
    path = _write(tmp_path, text)
    with pytest.raises(dl.ScenarioError, match=message):
        _load_and_run(path)


def _load_and_run(path: Path) -> dl.Result:
    # Some mistakes only show when the scenario meets its shock: a shock naming an unknown asset.
    return dl.simulate(dl.Scenario.from_toml(path))


def test_a_daily_volatility_in_a_file_is_stored_per_year(tmp_path: Path) -> None:
    # per = "day": 4 % a day is 0.04·sqrt(365.25) a year, 2 jumps a day 730.5 a year.
    text = MINIMAL.replace(
        'kind = "instant"\nreturns = { ETH = -0.03 }',
        'kind = "jump_diffusion"\nper = "day"\nsigma = { ETH = 0.04 }\n'
        "jump_intensity = { ETH = 2.0 }\njump_mean = { ETH = -0.1 }",
    )
    shock = dl.Scenario.from_toml(_write(tmp_path, text)).shock
    assert shock is not None
    assert shock.sigma["ETH"] == pytest.approx(0.04 * math.sqrt(365.25), rel=1e-12)
    assert shock.jump_intensity["ETH"] == pytest.approx(730.5, rel=1e-12)
    assert shock.jump_mean["ETH"] == -0.1


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(dl.ScenarioError, match="not valid TOML"):
        dl.Scenario.from_toml(_write(tmp_path, "[run\nsteps = 1"))
    with pytest.raises(dl.ScenarioError, match="does not exist"):
        dl.Scenario.from_toml(tmp_path / "nope.toml")


def test_cli_run_and_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path)
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 0
    assert pl.read_parquet(tmp_path / "out" / "events.parquet")["account"].to_list() == ["a0"]
    assert main(["map", str(path), "--asset", "ETH", "--moves=-0.01,-0.06", "--no-cascade"]) == 0
    out = capsys.readouterr().out
    # 10 ETH at 100 against 780, 760 and 720 USDC at a threshold of 0.8: liquidatable below
    # 97.5, 95 and 90, so at 94 (−6 %) the first two, 1,540 of debt; at 99 none.
    table = [line for line in out.splitlines() if line.startswith(("│", "┌", "└", "╞"))]
    header, *rows = (
        [c.strip() for c in line.strip("│").split("┆")] for line in table if "┆" in line
    )
    assert header == ["move (%)", "price", "at risk", "accounts"]
    assert rows == [["-1.0", "99", "0", "0"], ["-6.0", "94", "1,540", "2"]]
    assert "amounts in quote" in out
    # One line per move: every line of the table is as wide as the next, within 140 characters.
    assert len({len(line) for line in table}) == 1
    assert len(table[0]) <= 140
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "error" in capsys.readouterr().err
    # The moves may follow the option as its own word, and a log gets no progress bar (stderr
    # is not a terminal here); each move's row stays on one line.
    assert main(["map", str(path), "--asset", "ETH", "--moves", "-0.01,-0.06"]) == 0
    got = capsys.readouterr()
    assert got.err == ""
    table = [line for line in got.out.splitlines() if line.startswith(("│", "┌", "└", "╞"))]
    assert len(table) == 2 + 4  # the borders, the header and its rule, one line per move
    assert len({len(line) for line in table}) == 1
    assert len(table[0]) <= 140
    assert "amplif. (x)" in table[1]


def test_families_round_trip_and_name_bad_keys(tmp_path: Path) -> None:
    # Perps, Maker vaults and funds in one file: the run read back is identical, and so is the
    # re-written file.
    book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=20.0)
    perp_book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=5.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[book]),
            dl.Asset("ETH-PERP", 2_000.0, venues=[perp_book], oracle=dl.Oracle.blend(0.5)),
        ],
        steps=20,
        shock=dl.Shock.instant({"ETH": -0.2, "ETH-PERP": -0.2}),
        seed=3,
    )
    ex = dl.PerpExchange(
        [dl.PerpMarket("ETH-PERP", dl.Brackets([50_000.0, math.inf], [0.005, 0.01]))],
        insurance_fund=1_000.0,
        partial=dl.PartialLiquidation(50_000.0, 0.25, 24.0, True),
        backstop=True,
        adl="dydx",
    )
    perps = pl.DataFrame({"account": ["p", "q"], "market": ["ETH-PERP"] * 2,
                          "size": [40.0, -40.0], "entry_price": [2_000.0] * 2,
                          "margin": [10_000.0, 10_000.0],
                          "mode": ["cross", "isolated"]})  # fmt: skip
    vaults = pl.DataFrame({"account": ["v"], "collateral_asset": ["ETH"], "ink": [10.0],
                           "art": [12_000.0]})  # fmt: skip
    funds = pl.DataFrame({"account": ["f", "f"], "holding": ["ETH", "debt"],
                          "amount": [50.0, 80_000.0]})  # fmt: skip
    sc = (
        sc.add_perps(ex, perps)
        .add_vaults(dl.Vaults([dl.Clipper("ETH", curve="exponential", cut=0.999)]), vaults)
        .add_funds(dl.Funds.threshold(8.0, 6.0, illiquid={"loans": 0.05}), funds)
    )
    sc.to_toml(tmp_path / "mixed.toml")
    back = dl.Scenario.from_toml(tmp_path / "mixed.toml")
    a, b = dl.simulate(sc), dl.simulate(back)
    assert a.events.equals(b.events)
    assert a.positions.equals(b.positions)
    assert a.auctions.equals(b.auctions)
    assert a.funds.equals(b.funds)
    back.to_toml(tmp_path / "again.toml")
    text = (tmp_path / "mixed.toml").read_text().replace("mixed.", "")
    assert text == (tmp_path / "again.toml").read_text().replace("again.", "")
    # A bad key in a family's table is named with its place.
    bad = (tmp_path / "mixed.toml").read_text().replace('adl = "dydx"', 'adl = "dydx"\nadll = 1')
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(dl.ScenarioError, match=r"bad\.toml: perps\[0\]\.adll: unknown key"):
        dl.Scenario.from_toml(tmp_path / "bad.toml")
    bad = (tmp_path / "mixed.toml").read_text().replace('curve = "exponential"', "curve = 3")
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(
        dl.ScenarioError, match=r"vaults\[0\]\.clippers\[0\]\.curve: expected a str"
    ):
        dl.Scenario.from_toml(tmp_path / "bad.toml")
