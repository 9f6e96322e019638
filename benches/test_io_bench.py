"""Loading real data (issue 20): a 1,000,000-row Aave v3 ``userReserves`` CSV export (500,000
users, a WETH collateral row and a USDC debt row each) with ``dl.io.read_aave_v3``, and a
100-snapshot Tardis ``book_snapshot_25`` CSV with ``dl.io.read_book_snapshots``; wall time, and
the peak resident memory of a child process that loads the export once (``extra_info``). The
files are written outside the timing.

Run: ``pytest benches/test_io_bench.py --benchmark-enable --benchmark-json=out.json``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import deleverage as dl

USERS = 500_000
SNAPSHOTS = 100


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(1)
    users = [f"0x{k:040x}" for k in range(USERS)]
    # Balances in the tokens' smallest units, as the subgraph gives them (up to ~1e21 wei).
    weth = np.char.mod("%.0f", np.floor(rng.lognormal(1.0, 1.5, USERS) * 1e18))
    usdc = np.char.mod("%.0f", np.floor(rng.lognormal(8.0, 1.5, USERS) * 1e6))
    frame = pl.DataFrame({
        "user": users * 2,
        "symbol": ["WETH"] * USERS + ["USDC"] * USERS,
        "decimals": [18] * USERS + [6] * USERS,
        "currentATokenBalance": np.concatenate([weth, np.full(USERS, "0")]),
        "currentVariableDebt": np.concatenate([np.full(USERS, "0"), usdc]),
        "currentStableDebt": ["0"] * (2 * USERS),
        "reserveLiquidationThreshold": ["8300"] * USERS + ["7800"] * USERS,
        "reserveLiquidationBonus": ["10500"] * USERS + ["10450"] * USERS,
        "usageAsCollateralEnabledOnUser": ["true"] * USERS + ["false"] * USERS,
    })  # fmt: skip
    path = tmp_path_factory.mktemp("io") / "user_reserves.csv"
    frame.write_csv(path)
    return path


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cols: dict[str, Any] = {
        "exchange": ["binance-futures"] * SNAPSHOTS,
        "symbol": ["ETHUSDT"] * SNAPSHOTS,
        "timestamp": [1_767_225_600_000_000 + 1_000_000 * s for s in range(SNAPSHOTS)],
        "local_timestamp": [1_767_225_600_001_000 + 1_000_000 * s for s in range(SNAPSHOTS)],
    }
    for k in range(25):
        cols[f"asks[{k}].price"] = [3_000.5 + 0.5 * k] * SNAPSHOTS
        cols[f"asks[{k}].amount"] = [1.0 + k] * SNAPSHOTS
        cols[f"bids[{k}].price"] = [2_999.5 - 0.5 * k] * SNAPSHOTS
        cols[f"bids[{k}].amount"] = [1.0 + k] * SNAPSHOTS
    path = tmp_path_factory.mktemp("io") / "book_snapshot_25.csv"
    pl.DataFrame(cols).write_csv(path)
    return path


def test_read_a_million_row_aave_export(benchmark: Any, export: Path) -> None:
    pos, reserves = benchmark.pedantic(lambda: dl.io.read_aave_v3(export), rounds=3, iterations=1)
    assert pos.height == 2 * USERS
    assert set(reserves) == {"WETH", "USDC"}
    child = (
        "import deleverage as dl\n"
        "def hwm():\n"
        "    with open('/proc/self/status') as f:\n"
        "        return next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))\n"
        "base = hwm()\n"
        f"pos, _ = dl.io.read_aave_v3({str(export)!r})\n"
        "print(base, hwm(), pos.height)\n"
    )
    base, peak, rows = (int(x) for x in subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True
    ).stdout.split())  # fmt: skip
    benchmark.extra_info["file_mib"] = export.stat().st_size / 2**20
    benchmark.extra_info["peak_rss_mib"] = peak / 1024
    benchmark.extra_info["peak_rss_mib_above_the_import"] = (peak - base) / 1024
    benchmark.extra_info["rows"] = rows


def test_read_100_book_snapshots(benchmark: Any, snapshots: Path) -> None:
    snaps = benchmark.pedantic(lambda: dl.io.read_book_snapshots(snapshots), rounds=5, iterations=1)
    assert snaps.height == SNAPSHOTS * 50
    benchmark.extra_info["file_mib"] = snapshots.stat().st_size / 2**20
