"""No input kills the interpreter: sizes beyond the machine's memory are refused with a
ScenarioError naming the field, the value and the memory they would need. The dangerous cases run
in a child process with a timeout, so that a crash fails one test, not the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SETUP = """
import deleverage as dl
def market(steps):
    return dl.Scenario(assets=[dl.Asset("ETH", 3000.0), dl.Asset("USDC", 1.0)], steps=steps)
"""


def run_child(code: str, *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` after SETUP in a fresh interpreter; it must end (30 s) without a signal."""
    body = SETUP + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", body], capture_output=True, text=True, timeout=30, cwd=cwd
    )
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}:\n{proc.stderr[-2000:]}"
    return proc


CATCH = """
try:
    {call}
except dl.ScenarioError as e:
    print("ScenarioError:", e)
else:
    print("accepted")
"""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "dl.OrderBook.linear(3000.0, 1.0, 10**12, 1.0)",
            r"levels = 1000000000000 would need 29.1 TiB for the book's two sides",
        ),
        (
            "dl.OrderBook.sqrt(3000.0, 1.0, 10**13, 0.02, 1e5)",
            r"levels = 10000000000000 would need 291.0 TiB",
        ),
        (
            "dl.simulate(market(2**40), dl.Shock.gbm({'ETH': 0.5}, per='year'))",
            r"steps = 1099511627776 would need .* TiB for the reference path and the steps table",
        ),
        (
            "dl.simulate(market(10**9), dl.Shock.instant(ETH=-0.1))",
            r"steps = 1000000000 would need .* GiB for the reference path and the steps table",
        ),
        (
            "dl.Engine(market(2**40), dl.Shock.gbm({'ETH': 0.5}, per='year'))",
            r"steps = 1099511627776 would need",
        ),
        (
            "dl.simulate(market(5), max_extra_steps=2**31)",
            r"max_extra_steps = 2147483648 would need .* for the steps table of every extra step",
        ),
        (
            "dl.sweep(market(2**40), dl.Shock.gbm({'ETH': 0.5}, per='year'), runs=2)",
            r"steps = 1099511627776 would need",
        ),
        (
            "dl.sweep(market(5), dl.Shock.gbm({'ETH': 0.5}, per='year'), runs=2**32 - 1, "
            "chunk=2**32 - 1)",
            r"runs = 4294967295 would need .* for the sweep's summary rows",
        ),
    ],
)
def test_sizes_beyond_the_machine_are_refused_not_aborted(call: str, message: str) -> None:
    proc = run_child(CATCH.format(call=call))
    out = proc.stdout.strip()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.startswith("ScenarioError:"), out
    assert "more than this machine's" in out
    import re

    assert re.search(message, out), out


def test_a_scenario_file_with_absurd_levels_is_one_line_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        textwrap.dedent(
            """
            [run]
            steps = 2
            [[assets]]
            name = "ETH"
            price = 3000.0
            [[assets.venues]]
            kind = "book_linear"
            mid = 3000.0
            tick = 1.0
            levels = 1000000000000
            depth_per_level = 1.0
            [[assets]]
            name = "USDC"
            price = 1.0
            """
        )
    )
    proc = run_child(
        "from deleverage.cli import main\nraise SystemExit(main(['run', 'x.toml', '--no-write']))",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "levels = 1000000000000 would need 29.1 TiB" in err


BASE = """
[run]
steps = 2
[[assets]]
name = "ETH"
price = 3000.0
[[assets]]
name = "USDC"
price = 1.0
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = [", r"x\.toml: not valid TOML"),
        (BASE + "[foo]\na = 1\n", r"x\.toml: foo: unknown key; expected one of \[.assets"),
        (BASE.replace("steps = 2", 'steps = "x"'), r"x\.toml: run\.steps: .*got str 'x'"),
        (BASE.replace("steps = 2", "steps = 2.5"), r"x\.toml: run\.steps: .*2\.5"),
        (BASE.replace("steps = 2", "steps = -1"), r"x\.toml: run: steps must be .* got -1"),
        ("[run]\nsteps = 2\n", r"x\.toml: assets: expected a non-empty array"),
        (BASE.replace("price = 3000.0", "price = -3000.0"), r"x\.toml: assets\[0\].*-3000"),
        (BASE.replace('name = "USDC"', 'name = "ETH"'), r"x\.toml: .*'ETH' appears twice"),
        (
            BASE + '[[assets.venues]]\nkind = "warp_drive"\n',
            r"x\.toml: assets\[1\]\.venues\[0\]\.kind: .*'warp_drive'",
        ),
        (BASE + '[shock]\nkind = "meteor"\n', r"x\.toml: shock\.kind: .*'meteor'"),
        (BASE + '[shock]\nkind = "path"\nprices = {}\n', r"x\.toml: shock\.prices: .*got \{\}"),
        (
            BASE + '[shock]\nkind = "path"\nprices = {ETH = ["a"]}\n',
            r"x\.toml: shock\.prices: shock path ETH must be an array of prices, got \['a'\]",
        ),
        (
            BASE + '[shock]\nkind = "instant"\nreturns = {DOGE = -0.1}\n',
            r"x\.toml: shock: names unknown asset 'DOGE'",
        ),
        (
            BASE + '[[protocols]]\nkind = "aave_v3"\npositions = "nope.parquet"\n'
            "[protocols.reserves.ETH]\nliquidation_threshold = 0.8\nliquidation_bonus = 0.05\n",
            r"x\.toml: protocols\[0\].*nope\.parquet",
        ),
        (
            BASE + '[[protocols]]\nkind = "aave_v3"\npositions = "p.parquet"\n'
            "[protocols.reserves.ETH]\nliquidation_threshold = 0.95\nliquidation_bonus = 0.1\n",
            r"x\.toml: protocols\[0\]: aave_v3 reserve ETH: .*1\.045",
        ),
        (BASE + "[liquidators]\nsell_fraction = 2.0\n", r"x\.toml: liquidators: .*2\.0"),
        (BASE + '[liquidators]\npriority = "loudest"\n', r"x\.toml: liquidators: .*'loudest'"),
    ],
)
def test_a_bad_scenario_file_is_one_line_naming_the_file_and_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    import re

    import polars as pl

    from deleverage.cli import main

    pl.DataFrame(
        {
            "account": ["a"],
            "collateral_asset": ["ETH"],
            "collateral": [1.0],
            "debt_asset": ["USDC"],
            "debt": [100.0],
        }
    ).write_parquet(tmp_path / "p.parquet")
    (tmp_path / "x.toml").write_text(text)
    assert main(["run", str(tmp_path / "x.toml"), "--no-write"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("deleverage: error: ")
    assert re.search(message, err), err
    # A place is named once, not repeated.
    assert err.count("x.toml") == 1, err


def test_the_cli_refuses_bad_paths_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deleverage.cli import main

    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe not text")
    (tmp_path / "ok.toml").write_text(BASE)
    (tmp_path / "afile").write_text("")
    for args, message in [
        (["run", str(tmp_path)], "is a folder; give the scenario file's path"),
        (["run", str(tmp_path / "missing.toml")], "does not exist"),
        (["run", str(tmp_path / "bin.toml")], "bin.toml: not UTF-8 text (byte 0xff at offset 0)"),
        (["run", str(tmp_path / "ok.toml"), "-o", str(tmp_path / "afile")], "is a file"),
        (["demo", "--accounts", "10", "-o", str(tmp_path / "afile")], "is a file"),
        (
            ["sweep", str(tmp_path / "ok.toml"), "--runs", "2", "--grid", "run.nope=1"],
            "run.nope: no such key",
        ),
    ]:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert message in err, err


def test_a_venue_lagging_the_reference_is_no_dampening() -> None:
    # A lone constant-product pool (fee 0.3 %, g = 0.997) and no positions: after a 10 % fall
    # the arbitrageur stops at the edge of the fee band, where the pool's bid g·y/x is P = 2,700
    # and its ask y/(g·x) is P/g²; the mid between them is 2,708.14, a drawdown of −9.73 %, less
    # than the exogenous −10 %. Nothing was forced: the amplification is 1, not 0.973.
    import deleverage as dl

    pool = dl.ConstantProductPool(10_000.0, 30_000_000.0, fee=0.003)
    sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0, venues=[pool]), dl.Asset("USDC", 1.0)])
    s = dl.simulate(sc, dl.Shock.instant(ETH=-0.1)).summary.row(0, named=True)
    assert s["liquidations"] == 0
    assert s["exogenous_drawdown_ETH"] == pytest.approx(-0.1, rel=1e-12)
    mid = (2_700.0 + 2_700.0 / 0.997**2) / 2
    assert s["drawdown_ETH"] == pytest.approx(mid / 3_000.0 - 1.0, rel=1e-9)
    assert s["amplification_ETH"] == 1.0
