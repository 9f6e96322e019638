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
            "dl.simulate(market(2**40), dl.Shock.gbm({'ETH': 0.5}))",
            r"steps = 1099511627776 would need .* TiB for the reference path and the steps table",
        ),
        (
            "dl.simulate(market(10**9), dl.Shock.instant(ETH=-0.1))",
            r"steps = 1000000000 would need .* GiB for the reference path and the steps table",
        ),
        (
            "dl.Engine(market(2**40), dl.Shock.gbm({'ETH': 0.5}))",
            r"steps = 1099511627776 would need",
        ),
        (
            "dl.simulate(market(5), max_extra_steps=2**31)",
            r"max_extra_steps = 2147483648 would need .* for the steps table of every extra step",
        ),
        (
            "dl.sweep(market(2**40), dl.Shock.gbm({'ETH': 0.5}), runs=2)",
            r"steps = 1099511627776 would need",
        ),
        (
            "dl.sweep(market(5), dl.Shock.gbm({'ETH': 0.5}), runs=2**32 - 1, chunk=2**32 - 1)",
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
