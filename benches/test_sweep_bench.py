"""Sweep throughput and streaming memory (pytest-benchmark).

Run: ``pytest benches/test_sweep_bench.py --benchmark-enable``. The throughput cases are the
issue's: 10,000 runs of a 10,000-account Aave v3.3 market (``examples.eth_lending``) on 100 GBM
steps of a stressed ETH (σ = 15 a year, 12-second steps: about 12 % over a run, so a fifth of the
accounts are liquidated in a typical run); runs/s is ``runs / median``. The streaming case runs
sweeps of 20,000 and 200,000 runs in a child process each and reports the child's peak RSS.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import deleverage as dl

RUNS = 10_000


def market() -> dl.Scenario:
    return dl.examples.eth_lending(n_accounts=10_000, seed=1, steps=100)


SHOCK = dl.Shock.gbm(sigma={"ETH": 15.0}, per="year")


@pytest.fixture(scope="module")
def pool() -> Iterator[cf.Executor]:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        # Start the workers (and their imports) before anything is timed.
        dl.sweep(market(), SHOCK, runs=4, seed=1, chunk=1, executor=ex)
        yield ex


@pytest.mark.parametrize("threads", [1, 2])
def test_sweep_runs_per_second(benchmark: Any, threads: int) -> None:
    sc = market()
    out = benchmark.pedantic(
        dl.sweep,
        args=(sc, SHOCK),
        kwargs={"runs": RUNS, "seed": 1, "threads": threads, "chunk": 500},
        rounds=3,
    )
    benchmark.extra_info["runs_per_second"] = RUNS / benchmark.stats.stats.median
    assert out.height == RUNS
    assert out["liquidations"].mean() > 1_000


def test_sweep_on_a_two_worker_process_pool(benchmark: Any, pool: cf.Executor) -> None:
    sc = market()
    out = benchmark.pedantic(
        dl.sweep,
        args=(sc, SHOCK),
        kwargs={"runs": RUNS, "seed": 1, "chunk": 500, "executor": pool},
        rounds=3,
    )
    benchmark.extra_info["runs_per_second"] = RUNS / benchmark.stats.stats.median
    assert out.height == RUNS


_STREAM = """
import sys
import deleverage as dl
sc = dl.examples.eth_lending(n_accounts=300, seed=2, steps=40)
shock = dl.Shock.gbm(sigma={"ETH": 15.0}, per="year")
dl.sweep(sc, shock, runs=int(sys.argv[1]), seed=1, chunk=2_000, out=sys.argv[2])
"""


def _peak_rss_mib(runs: int) -> float:
    """Runs a streamed sweep in a child process; its peak resident set size (MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, "-c", _STREAM, str(runs), tmp])
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.returncode == 0
        files = list(Path(tmp).glob("runs/**/*.parquet"))
        assert len(files) == -(-runs // 2_000)
    return usage.ru_maxrss / 1024  # Linux reports KiB


def test_streaming_memory_is_bounded(benchmark: Any) -> None:
    small = _peak_rss_mib(20_000)
    large = benchmark.pedantic(_peak_rss_mib, args=(200_000,), rounds=1)
    benchmark.extra_info["peak_rss_mib_20k_runs"] = small
    benchmark.extra_info["peak_rss_mib_200k_runs"] = large
    # Ten times the runs, the same memory: the stated bound is 400 MiB.
    assert large < 400
    assert large < 1.25 * small
