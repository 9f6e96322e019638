"""The package at run time: simulations on many Python threads at once give what they give one
by one, memory stays flat over thousands of runs, and Ctrl-C stops every long call quickly and
leaves the interpreter usable."""

from __future__ import annotations

import concurrent.futures as cf
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import deleverage as dl


def test_concurrent_simulations_equal_sequential_ones() -> None:
    sc = dl.examples.eth_lending(n_accounts=500, seed=3, steps=40)
    shock = dl.Shock.jump_diffusion(
        sigma={"ETH": 2.0}, jump_intensity={"ETH": 2_000.0}, jump_mean={"ETH": -0.08}, per="year"
    )
    seeds = list(range(8))
    alone = [dl.simulate(sc, shock, seed=s) for s in seeds]
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda s: dl.simulate(sc, shock, seed=s), seeds))
    assert sum(r.summary["liquidations"].item() for r in alone) > 0
    for a, b in zip(alone, together, strict=True):
        for name in ("events", "steps", "accounts", "summary"):
            assert getattr(a, name).equals(getattr(b, name), null_equal=True), name


#: A small run, repeated: after ``warm`` runs the peak RSS is set; ``runs`` more may not add to
#: it beyond a bound. ``benches/test_memory_bench.py`` runs the same for 10,000 runs.
FLAT = """
import resource, sys
import deleverage as dl
book = dl.OrderBook.linear(3000.0, 1.0, 200, 50.0)
sc = dl.Scenario(
    assets=[dl.Asset("ETH", 3000.0, venues=[book], oracle=dl.Oracle.reference()),
            dl.Asset("USDC", 1.0)],
    steps=5,
)
aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)})
sc = sc.add_lending(aave, dl.examples.eth_positions(50, seed=1))
shock = dl.Shock.gbm({"ETH": 5.0}, per="year")
warm, runs = int(sys.argv[1]), int(sys.argv[2])
def peak():
    # The process's own high-water mark: getrusage's maxrss survives the exec from the forked
    # test runner, so it would start at the runner's resident size and hide any growth below it.
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
for i in range(warm):
    dl.simulate(sc, shock, seed=i, max_extra_steps=0)
start = peak()
for i in range(warm, warm + runs):
    dl.simulate(sc, shock, seed=i, max_extra_steps=0)
print(start, peak())
"""


def peak_growth(warm: int, runs: int) -> tuple[float, float]:
    """Peak RSS (MiB) of a child process after ``warm`` runs, and after ``runs`` more."""
    out = subprocess.run(
        [sys.executable, "-c", FLAT, str(warm), str(runs)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def test_resident_memory_stays_flat_over_thousands_of_runs() -> None:
    warm, end = peak_growth(500, 2_500)
    # A leak of a few kB per run would add several MiB over 2,500 runs.
    assert end - warm < 8, (warm, end)


_SETUP = """
import time, deleverage as dl, polars as pl, numpy as np
def long_market(steps):
    book = dl.OrderBook.linear(3000.0, 1.0, 2000, 50.0)
    sc = dl.Scenario(assets=[dl.Asset("ETH", 3000.0, venues=[book]), dl.Asset("USDC", 1.0)],
                     steps=steps)
    aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)})
    return sc.add_lending(aave, dl.examples.eth_positions(2_000, seed=1))
"""

LONG_CALLS = {
    "simulate": "dl.simulate(long_market(2_000_000), dl.Shock.gbm({'ETH': 1.0}, per='year'))",
    "engine_run": "dl.Engine(long_market(10)).run(np.full((3_000_000, 2), [3000.0, 1.0]))",
    "run_to_quiet": (
        "dl.Engine(long_market(3_000_000), dl.Shock.gbm({'ETH': 1.0}, per='year')).run_to_quiet()"
    ),
    "liquidation_map": "dl.liquidation_map(long_market(200_000), 'ETH', [-0.1] * 50)",
    "amplification_curve": "dl.amplification_curve(long_market(200_000), 'ETH', [-0.1] * 50)",
}


@pytest.mark.parametrize("call", sorted(LONG_CALLS))
def test_ctrl_c_stops_a_long_call_and_the_interpreter_goes_on(call: str) -> None:
    code = _SETUP + textwrap.dedent(
        f"""
        print("started", flush=True)
        try:
            {LONG_CALLS[call]}
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
        print("alive", dl.simulate(long_market(3)).summary.height, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    # Soon after the call starts: the fastest of them (Engine.run, about 2.7 million steps a
    # second) takes over a second.
    time.sleep(0.25)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert "finished" not in out, "the call must outlast the test's wait"
    stopped = float(next(ln for ln in out.split("\n") if ln.startswith("interrupted")).split()[1])
    assert "alive 1" in out
    # 0.5 s is the promise; the margin is for a loaded CI machine (here: a few hundredths).
    assert stopped - sent < 1.5, stopped - sent


def test_a_result_builds_its_frames_when_read_and_stays_read_only() -> None:
    # The summary is there when the run ends; the frames are built on first read, the same
    # frame every time, and a pickled result carries them all.
    import pickle

    sc = dl.examples.eth_lending(n_accounts=300, seed=4, steps=15)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25))
    assert res._built == {}  # nothing but the summary so far
    assert res.summary["liquidations"].item() == res.events.height > 0
    assert set(res._built) == {"events"}
    assert res.events is res.events
    assert res.summary["accounts_liquidated"].item() == (res.accounts["times_liquidated"] > 0).sum()
    back = pickle.loads(pickle.dumps(res))
    for name in ("events", "steps", "accounts", "positions", "vaults", "auctions", "funds"):
        assert getattr(back, name).equals(getattr(res, name), null_equal=True), name
    assert back.summary.equals(res.summary)
    with pytest.raises(AttributeError, match="read-only"):
        res.summary = res.summary  # type: ignore[misc]


def test_a_scenario_builds_its_spec_once_and_forgets_it_with_the_scenario() -> None:
    import gc

    from deleverage import _spec

    sc = dl.examples.eth_lending(n_accounts=200, seed=5, steps=10)
    before = len(_spec._SPECS)
    first = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
    assert len(_spec._SPECS) == before + 1
    again = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
    assert len(_spec._SPECS) == before + 1
    assert again.events.equals(first.events)
    assert again.accounts.equals(first.accounts)
    # A scenario with more accounts is another scenario: its own spec, its own result.
    more = sc.add_lending(
        dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}, name="other"),
        dl.examples.eth_positions(50, seed=6, price=sc.assets[0].price),
    )
    bigger = dl.simulate(more, shock=dl.Shock.instant(ETH=-0.2))
    assert bigger.accounts.height == first.accounts.height + 50
    del sc, more
    gc.collect()
    assert len(_spec._SPECS) == before
