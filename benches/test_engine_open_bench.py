"""The held-open engine from Python (pytest-benchmark): a quiet ``step()``, ``run()`` over many
quiet steps, and ``fork()``.

Run: ``pytest benches/test_engine_open_bench.py --benchmark-enable``. The market is the issue-3
benchmark's (one linear ETH book, a spot oracle, Aave v3.3 accounts with health factors
1.01 + Exp(0.35)); nothing moves, so no account triggers: these measure the per-step cost of the
loop itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import deleverage as dl
from test_engine_bench import benchmark_market


def _engine(n: int) -> dl.Engine:
    return dl.Engine(benchmark_market(n))


def test_quiet_step_10k_accounts(benchmark: Any) -> None:
    """One ``step()`` with nothing triggering, 10,000 accounts (target: under 2 µs)."""
    eng = _engine(10_000)
    rep = benchmark(eng.step)
    assert rep.liquidations == 0


def test_quiet_step_with_reference_10k_accounts(benchmark: Any) -> None:
    """One ``step(reference=array)`` with nothing triggering, 10,000 accounts."""
    eng = _engine(10_000)
    row = np.array([3_000.0, 1.0])
    rep = benchmark(eng.step, row)
    assert rep.liquidations == 0


def test_run_1m_quiet_steps(benchmark: Any) -> None:
    """``run()`` over 1,000,000 quiet steps in one call (target: at least 5 million steps/s)."""
    refs = np.tile(np.array([3_000.0, 1.0]), (1_000_000, 1))

    def run() -> int:
        return _engine(1_000).run(refs)

    assert benchmark.pedantic(run, rounds=3) == 1_000_000


@pytest.mark.parametrize("n", [10_000, 1_000_000])
def test_fork(benchmark: Any, n: int) -> None:
    """``fork()`` of an engine with ``n`` accounts (target: under 200 µs at 10,000)."""
    eng = _engine(n)
    eng.step()
    branch = benchmark(eng.fork)
    assert branch.steps_run == 1
