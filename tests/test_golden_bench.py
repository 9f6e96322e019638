"""The benchmark scenarios' results stay identical through optimisations: the lending cascade of
``benches/`` at 100,000 accounts, the perp cascade at 50,000 positions, and the static breach and
liquidation-price tables of the lending market, compared exactly with digests saved in
``tests/golden/bench.json``.

These frames are too large to commit as Parquet, so each is reduced to a SHA-256 of its columns'
bytes (names, types, null masks, the raw bits of every number, the text of every label): any
change of any value, order or type changes the digest. The digests were written by this file on
main before the issue-14 optimisations (``python tests/test_golden_bench.py --write``); a change
that alters one changes the model and must say so.

The last bits depend on the machine's float environment as well (``tests/test_golden.py``,
:func:`float_environment`), so the fixture holds one set of digests per recorded environment
(``--write`` records the current one; the set written before environments were recorded is kept
under ``"unrecorded"``). On a recorded environment the frames must match its digests; on another
they must match one of the recorded sets, or the test is skipped, saying which environment it
could not check.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import deleverage as dl
from test_golden import digest, float_environment

FIXTURE = Path(__file__).parent / "golden" / "bench.json"
FRAMES = ["events", "steps", "accounts", "positions", "summary"]


def _benchmark_market() -> Callable[[int], dl.Scenario]:
    """``benchmark_market`` of ``benches/test_engine_bench.py`` (the benchmark's own scenario),
    loaded by path: ``benches`` is not a package."""
    path = Path(__file__).resolve().parents[1] / "benches" / "test_engine_bench.py"
    spec = importlib.util.spec_from_file_location("deleverage_engine_bench", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    market: Callable[[int], dl.Scenario] = module.benchmark_market
    return market


lending_market = _benchmark_market()


def _lending() -> dict[str, pl.DataFrame]:
    res = dl.simulate(lending_market(100_000), shock=dl.Shock.instant(ETH=-0.25))
    return {name: getattr(res, name) for name in FRAMES}


def _perps() -> dict[str, pl.DataFrame]:
    sc = dl.examples.btc_perps(n_accounts=50_000, seed=1)
    res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": -0.15}))
    return {name: getattr(res, name) for name in FRAMES}


def _static() -> dict[str, pl.DataFrame]:
    # Sums over breach rows depend on their order: the map is compared bit for bit too.
    sc = lending_market(100_000)
    eng = dl.Engine(sc)
    out = {
        "map": dl.liquidation_map(sc, "ETH", [-0.05, -0.15, -0.3], cascade=False),
        "prices_before": eng.liquidation_prices("ETH"),
    }
    eng.step({"ETH": 2_400.0})
    out["prices_after"] = eng.liquidation_prices("ETH")
    return out


CASES: dict[str, Callable[[], dict[str, pl.DataFrame]]] = {
    "lending_100k": _lending,
    "btc_perps_50k": _perps,
    "lending_static_100k": _static,
}


def _digests(case: str) -> dict[str, str]:
    return {name: digest(f) for name, f in CASES[case]().items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_benchmark_frames_identical_to_the_saved_ones(case: str) -> None:
    table = json.loads(FIXTURE.read_text())
    got, env = _digests(case), float_environment()
    if env in table:
        assert got == table[env][case]
    elif not any(got == sets.get(case) for sets in table.values()):
        pytest.skip(f"float environment {env} has no recorded digests (recorded: {sorted(table)})")


def test_the_digest_sees_one_ulp_and_the_row_order() -> None:
    f = pl.DataFrame({"x": [1.0, 2.0], "k": ["a", "b"]})
    assert digest(f) == digest(f.clone())
    assert digest(f) != digest(f.with_columns(pl.col("x").cast(pl.Float32)))
    assert digest(f) != digest(f.reverse())
    bumped = np.nextafter(np.array([1.0, 2.0]), np.inf)
    assert digest(f) != digest(f.with_columns(x=pl.Series(bumped)))
    assert digest(f) != digest(f.with_columns(pl.col("k").replace("b", None)))


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    table = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
    table[float_environment()] = {c: _digests(c) for c in CASES}
    FIXTURE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print("recorded the digests of float environment", float_environment(), "in", FIXTURE)
