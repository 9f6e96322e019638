"""Resident memory over many runs (pytest-benchmark records the time; the figures are the
child process's peak RSS before and after).

Run: ``pytest benches/test_memory_bench.py --benchmark-enable --benchmark-json=out.json``; the
figures are in ``extra_info``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_runtime import peak_growth


def test_peak_rss_over_ten_thousand_runs(benchmark: Any) -> None:
    warm, end = benchmark.pedantic(peak_growth, args=(1_000, 9_000), rounds=1)
    benchmark.extra_info["peak_rss_mib_after_1000_runs"] = warm
    benchmark.extra_info["peak_rss_mib_after_10000_runs"] = end
    assert end - warm < 20
