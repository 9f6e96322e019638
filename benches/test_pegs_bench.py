"""The ``lst_loop_unwind`` example at 100,000 loopers (issue 18): wall time of ``simulate``
(the scenario built outside the timing, every frame built inside it) and the peak resident
memory of a child process that builds and runs it once.

Run: ``pytest benches/test_pegs_bench.py --benchmark-enable --benchmark-json=out.json``; the
peak memory is in ``extra_info``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import deleverage as dl

N = 100_000
SHOCK = dl.Shock.instant(ETH=-0.25, **{"ETH-PERP": -0.25})

# The child's own high-water mark (VmHWM, kB): getrusage's maxrss survives the exec from a
# forked parent, so it would report the test runner's memory.
CHILD = f"""
import deleverage as dl
def hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
base = hwm()
sc = dl.examples.lst_loop_unwind(n_loopers={N})
built = hwm()
res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25, **{{"ETH-PERP": -0.25}}))
_ = (res.events, res.steps, res.accounts, res.positions, res.funds)
peak = hwm()
print(base, built, peak, res.events.height)
"""


def test_lst_loop_unwind_at_100k_loopers(benchmark: Any) -> None:
    sc = dl.examples.lst_loop_unwind(n_loopers=N)

    def run() -> int:
        res = dl.simulate(sc, shock=SHOCK)
        return res.events.height + res.steps.height + res.accounts.height + res.positions.height

    rows = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert rows > N
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout.split()
    base, built, peak, events = (int(x) for x in out)
    benchmark.extra_info["peak_rss_mib"] = peak / 1024
    benchmark.extra_info["peak_rss_mib_above_the_import"] = (peak - base) / 1024
    benchmark.extra_info["peak_rss_mib_above_the_built_scenario"] = (peak - built) / 1024
    benchmark.extra_info["events"] = events
