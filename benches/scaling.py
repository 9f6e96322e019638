"""The scaling series of the lending cascade: wall time and peak memory from 10^3 to 10^7
accounts, written to a table and plotted.

Run: ``python benches/scaling.py`` (add ``--max-exponent 6`` for a quick series). Each size runs in
a fresh child process, so that its peak resident memory is its own: the child builds the
benchmark market of ``benches/test_engine_bench.py`` (one linear ETH book, Aave v3.3 accounts
with health factors 1.01 + Exp(0.35), a 25 % instant shock), records its resident memory with
the input frame built, then times ``dl.simulate`` with every result frame built: the first run
(which builds the scenario's spec) and the median of the runs after it (which reuse it). Peak
memory is the child's high-water mark above the resident memory with the input frame, per account.

Writes ``benches/results/scaling.csv`` and ``benches/results/scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from test_engine_bench import benchmark_market
import deleverage as dl

n, runs = int(sys.argv[2]), int(sys.argv[3])
FRAMES = ("events", "steps", "accounts", "positions", "vaults", "auctions", "funds")

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

sc = benchmark_market(n)
shock = dl.Shock.instant(ETH=-0.25)
base = rss_mib()

def one():
    t = time.perf_counter()
    res = dl.simulate(sc, shock=shock)
    for name in FRAMES:
        getattr(res, name)
    return time.perf_counter() - t, res

first, res = one()
liquidations = res.summary["liquidations"].item()
del res
# The child's own high-water mark (getrusage's maxrss survives the exec from the parent).
with open("/proc/self/status") as f:
    peak = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
later = []
for _ in range(runs):
    t, res = one()
    later.append(t)
    del res
print(json.dumps({
    "accounts": n,
    "liquidations": liquidations,
    "first_run_s": first,
    "median_s": statistics.median(later) if later else first,
    "input_rss_mib": base,
    "peak_above_input_mib": peak - base,
}))
"""


def measure(n: int, runs: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), str(n), str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    row: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-exponent", type=int, default=7, help="largest size is 10^this")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--replot", action="store_true", help="redraw the plot from the saved table")
    args = ap.parse_args()
    if args.replot:
        plot(pl.read_csv(args.out / "scaling.csv"), args.out / "scaling.png")
        return
    rows = []
    for e in range(3, args.max_exponent + 1):
        n = 10**e
        # Fewer repeats where one run takes seconds (five still: the machine drifts by 15-20 %
        # within a sitting, and the growth from 10^6 to 10^7 is a ratio of two medians).
        row = measure(n, runs=7 if e <= 6 else 5)
        print(
            f"10^{e}: first {row['first_run_s'] * 1e3:,.1f} ms, median "
            f"{row['median_s'] * 1e3:,.1f} ms, peak +{row['peak_above_input_mib']:,.0f} MiB",
            flush=True,
        )
        rows.append(row)
    table = pl.DataFrame(rows).with_columns(
        (pl.col("median_s") * 1e3).alias("median_ms"),
        (pl.col("first_run_s") * 1e3).alias("first_run_ms"),
        (pl.col("peak_above_input_mib") * 2**20 / pl.col("accounts")).alias(
            "peak_bytes_per_account"
        ),
        (pl.col("median_s") / pl.col("median_s").shift(1)).alias("growth_from_previous"),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    table.write_csv(args.out / "scaling.csv")
    print(table)
    plot(table, args.out / "scaling.png")


def plot(table: pl.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = table["accounts"].to_numpy()
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_t.loglog(n, table["median_ms"], "o-", label="median of repeated runs")
    ax_t.loglog(n, table["first_run_ms"], "s--", label="first run (builds the spec)")
    ref = table["median_ms"][-1] * n / n[-1]
    ax_t.loglog(n, ref, ":", color="grey", label="linear in N")
    ax_t.set_xlabel("accounts")
    ax_t.set_ylabel("dl.simulate, every frame built (ms)")
    ax_t.set_title("Lending cascade, 25 % instant shock")
    ax_t.legend()
    ax_m.loglog(n, table["peak_bytes_per_account"], "o-")
    ax_m.axhline(100, ls=":", color="grey", label="100 B per account")
    ax_m.set_xlabel("accounts")
    ax_m.set_ylabel("peak above the input frame (B per account)")
    ax_m.set_title("Peak resident memory (fixed costs dominate small N)")
    ax_m.legend()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
