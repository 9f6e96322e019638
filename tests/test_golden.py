"""Results stay identical through refactors and optimisations: the three built-in examples and
two mixed-family scenarios (every family, every lending rule set, sequential and batch rounds) are
run and every result frame is compared exactly with the frames saved in ``tests/golden/``.

The saved frames were written by this file on main before the "one shape for every family"
restructuring (``python tests/test_golden.py --write``); a change that alters any of them changes
the model and must say so. Float columns are compared bit for bit (NaN and nulls included).

The last bit of a float depends on the machine as well as the model: numpy picks its ``exp`` and
``log`` by the CPU's vector units, and glibc's ``exp``, ``exp2`` and ``pow`` (which the core's
``f64`` calls use) pick an FMA variant where the CPU has FMA, so the same code writes frames a
few ulps apart on two kinds of machine. :func:`float_environment` names the machine's results of
those functions; ``tests/golden/digests.json`` holds each recorded environment's digests of the
frames (``python tests/test_golden.py --record`` adds the current one, on main, before a
change). On a recorded environment the frames must match its digests bit for bit; on another,
every non-float column must equal the saved frame's exactly and every float be within 1e-9
relative (1e-6 absolute) of it, and the test says which environment it could not check exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import deleverage as dl

GOLDEN = Path(__file__).parent / "golden"
DIGESTS = GOLDEN / "digests.json"
FRAMES = [
    "events",
    "steps",
    "fills",
    "accounts",
    "positions",
    "vaults",
    "auctions",
    "funds",
    "summary",
]


Case = tuple[dl.Scenario, dl.Shock, int]


def float_environment() -> str:
    """A short digest of this machine's results of the functions the frames' last bits depend
    on: numpy's vectorised ``exp``, ``log``, ``expm1`` and ``power``, its generator's normal and
    log-normal draws, and the C library's scalar ``exp``, ``exp2``, ``log``, ``pow`` and
    ``expm1`` (through :mod:`math`, the same functions the core's ``f64`` methods call)."""
    x = np.linspace(-20.0, 20.0, 40_001)
    pos = np.exp(np.linspace(-30.0, 30.0, 40_001))
    h = hashlib.sha256()
    for a in (np.exp(x), np.log(pos), np.expm1(x), np.power(pos, 0.37), np.log1p(pos)):
        h.update(a.tobytes())
    rng = np.random.default_rng(0)
    h.update(rng.standard_normal(20_000).tobytes())
    h.update(rng.lognormal(0.0, 1.5, 20_000).tobytes())
    scalar = [
        f(v) for v in x[::7] for f in (math.exp, math.exp2, math.expm1, lambda t: math.pow(1.37, t))
    ] + [math.log(v) for v in pos[::7]]
    h.update(np.array(scalar).tobytes())
    return h.hexdigest()[:16]


def digest(frame: pl.DataFrame) -> str:
    """A SHA-256 of every column's name, type, null mask and values (numbers bit for bit)."""
    h = hashlib.sha256()
    h.update(str(frame.height).encode())
    for s in frame.get_columns():
        h.update(f"{s.name}\x00{s.dtype}\x00".encode())
        h.update(np.packbits(s.is_null().to_numpy()).tobytes())
        if s.dtype.is_numeric() or s.dtype == pl.Boolean:
            h.update(np.ascontiguousarray(s.fill_null(0).to_numpy()).tobytes())
        else:
            h.update("\x1f".join(s.cast(pl.String).fill_null("").to_list()).encode())
    return h.hexdigest()


def _assert_close(case: str, name: str, got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Non-float columns equal; floats within 1e-9 relative (1e-6 absolute), nulls and NaN in
    the same places."""
    assert got.height == want.height, (case, name)
    for a, b in zip(got.get_columns(), want.get_columns(), strict=True):
        if not a.dtype.is_float():
            assert a.equals(b, null_equal=True), (case, name, a.name)
            continue
        assert a.is_null().equals(b.is_null()), (case, name, a.name)
        x, y = a.fill_null(0.0).to_numpy(), b.fill_null(0.0).to_numpy()
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-6, err_msg=f"{case}.{name}.{a.name}")


def _eth_lending() -> Case:
    sc = dl.examples.eth_lending(n_accounts=2_000, seed=0)
    return sc, dl.Shock.instant(ETH=-0.2), 7


def _btc_perps() -> Case:
    sc = dl.examples.btc_perps(n_accounts=2_000, seed=0)
    p0 = sc.assets[0].price
    path = [p0] * 5 + [p0 * (1 - 0.015 * k) for k in range(1, 11)] + [p0 * 0.85] * 45
    return sc, dl.Shock.path({"BTC-PERP": path}), 7


def _bank_fire_sale() -> Case:
    sc = dl.examples.bank_fire_sale()
    return sc, dl.Shock.instant({a: -0.02 for a in sc.asset_names}), 7


def mixed(
    mode: str,
    n: int = 120,
    m: int = 60,
    fall: float = 0.012,
    perp_fall: float = 0.011,
    priority: str = "largest",
) -> Case:
    # Lending (Aave v3.3 and v3.2, Compound v2, Comet with its storefront), a perp exchange with
    # partial liquidations, a backstop and ADL, Maker vaults and threshold funds, all on one
    # ETH book and pool, through a falling path.
    book = dl.OrderBook.linear(
        mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=6.0, resilience_half_life=120.0
    )
    pool = dl.ConstantProductPool(base_reserve=2_000.0, quote_reserve=4_000_000.0, fee=0.003)
    perp_book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=3.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[book, pool], oracle=dl.Oracle.spot()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
            dl.Asset("ETH-PERP", 2_000.0, venues=[perp_book], oracle=dl.Oracle.blend(0.5)),
        ],
        steps=30,
        step_seconds=12.0,
    )
    lend = pl.DataFrame(
        {
            "account": [f"l{i}" for i in range(n)],
            "collateral_asset": ["ETH"] * n,
            "collateral": [1.0 + (i % 17) * 0.7 for i in range(n)],
            "debt_asset": ["USDC"] * n,
            "debt": [(1.0 + (i % 17) * 0.7) * 2_000.0 * 0.8 / (1.02 + 0.004 * i) for i in range(n)],
        }
    )
    reserves = {"ETH": dl.Reserve(0.83, 0.05, 0.1)}
    sc = (
        sc.add_lending(dl.Lending.aave_v3(reserves), lend[:40])
        .add_lending(dl.Lending.aave_v3(reserves, version="3.2", name="aave32"), lend[40:70])
        .add_lending(dl.Lending.compound_v2({"ETH": dl.Reserve(0.82)}), lend[70:95])
        .add_lending(
            dl.Lending.compound_v3(
                "USDC",
                {"ETH": dl.Reserve(0.83, liquidation_factor=0.93)},
                target_reserves=1e7,
            ),
            lend[95:].with_columns(pl.col("debt") * 1.12),
        )
    )
    perps = pl.DataFrame(
        {
            "account": [f"p{i}" for i in range(m)],
            "market": ["ETH-PERP"] * m,
            "size": [(4.0 + i % 5) * (1 if i % 3 else -1) for i in range(m)],
            "entry_price": [2_000.0] * m,
            "margin": [(4.0 + i % 5) * 2_000.0 / (3 + i % 20) for i in range(m)],
            "mode": ["cross" if i % 2 else "isolated" for i in range(m)],
        }
    )
    ex = dl.PerpExchange(
        [dl.PerpMarket("ETH-PERP", dl.Brackets([50_000.0, math.inf], [0.005, 0.01]))],
        insurance_fund=2_000.0,
        partial=dl.PartialLiquidation(20_000.0, 0.25, 24.0, True),
        backstop=True,
        adl="bitmex",
    )
    vaults = pl.DataFrame(
        {
            "account": [f"v{i}" for i in range(12)],
            "collateral_asset": ["ETH"] * 12,
            "ink": [10.0 + i for i in range(12)],
            "art": [(10.0 + i) * 2_000.0 / (1.5 + 0.03 * i) for i in range(12)],
        }
    )
    funds = pl.DataFrame(
        {
            "account": ["f", "f", "g", "g"],
            "holding": ["ETH", "debt", "ETH", "debt"],
            "amount": [50.0, 80_000.0, 30.0, 52_000.0],
        }
    )
    # A second exchange on the same market, without a backstop and with a small fund: ADL.
    adl = dl.PerpExchange(
        [dl.PerpMarket("ETH-PERP", dl.Brackets([math.inf], [0.01]))],
        insurance_fund=50.0,
        adl="binance",
        name="adl_venue",
    )
    sc = (
        sc.add_perps(ex, perps)
        .add_perps(adl, perps.with_columns(pl.col("margin") * 0.8))
        .add_vaults(dl.Vaults([dl.Clipper("ETH", curve="exponential", cut=0.995)]), vaults)
        .add_funds(dl.Funds.threshold(8.0, 6.0, illiquid={"loans": 0.05}), funds)
        .with_liquidators(dl.Liquidators(mode=mode, budget_notional=400_000.0, priority=priority))  # type: ignore[arg-type]
    )
    eth = [2_000.0 * (1 - fall * min(k, 20)) for k in range(30)]
    perp = [2_000.0 * (1 - perp_fall * min(k, 20)) for k in range(30)]
    usdc = [1.0] * 30
    return sc, dl.Shock.path({"ETH": eth, "USDC": usdc, "ETH-PERP": perp}), 5


CASES: dict[str, Callable[[], Case]] = {
    "eth_lending": _eth_lending,
    "btc_perps": _btc_perps,
    "bank_fire_sale": _bank_fire_sale,
    "mixed_sequential": lambda: mixed("sequential"),
    "mixed_batch": lambda: mixed("batch"),
}


def run(case: str) -> dl.Result:
    sc, shock, seed = CASES[case]()
    return dl.simulate(sc, shock=shock, seed=seed)


def _frames(res: dl.Result) -> dict[str, pl.DataFrame]:
    return {name: getattr(res, name) for name in FRAMES}


def _normalised(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    # Event kinds added since extend the Enum; compare and digest their labels.
    return frame.with_columns(pl.col("kind").cast(pl.String)) if name == "events" else frame


@pytest.mark.parametrize("case", sorted(CASES))
def test_frames_identical_to_the_saved_ones(case: str) -> None:
    got = _frames(run(case))
    env = float_environment()
    recorded = (json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}).get(env)
    for name, frame in got.items():
        path = GOLDEN / case / f"{name}.parquet"
        want = pl.read_parquet(path)
        assert frame.columns == want.columns, (case, name)
        if name == "events":
            # Event kinds added since (the engine user's own orders) extend the Enum after the
            # saved ones; the codes and labels of every saved kind are unchanged.
            new, old = frame.schema["kind"], want.schema["kind"]
            assert isinstance(new, pl.Enum)
            assert isinstance(old, pl.Enum)
            assert new.categories.to_list()[: old.categories.len()] == old.categories.to_list()
            frame, want = _normalised(name, frame), _normalised(name, want)
        assert frame.schema == want.schema, (case, name)
        if recorded is not None:
            assert digest(frame) == recorded[case][name], (case, name, env)
        elif not frame.equals(want, null_equal=True):
            _assert_close(case, name, frame, want)
            warnings.warn(
                f"{case}.{name}: float environment {env} has no recorded digests, so floats "
                "were compared to 1e-9, not bit for bit (python tests/test_golden.py --record)",
                stacklevel=1,
            )


def test_off_a_recorded_environment_only_last_bits_may_differ() -> None:
    f = pl.DataFrame({"x": [1_000.0, 2.5e6, None], "n": [1, 2, 3], "k": ["a", "b", "c"]})
    ulps = np.nextafter(np.array([1_000.0, 2.5e6]), np.inf)
    _assert_close("c", "f", f.with_columns(x=pl.Series([*ulps, None])), f)  # a few ulps: fine
    with pytest.raises(AssertionError):  # a model change of one part in a million is not
        _assert_close("c", "f", f.with_columns(x=pl.Series([1_000.001, 2.5e6, None])), f)
    with pytest.raises(AssertionError):  # nor any change of a count or a label
        _assert_close("c", "f", f.with_columns(n=pl.Series([1, 2, 4])), f)
    with pytest.raises(AssertionError):
        _assert_close("c", "f", f.with_columns(pl.col("k").replace("c", "d")), f)
    with pytest.raises(AssertionError):  # nor a null moved
        _assert_close("c", "f", f.with_columns(x=pl.Series([1_000.0, None, 2.5e6])), f)
    # The environment's name is a pure function of the machine: the same twice.
    assert float_environment() == float_environment()


def test_the_mixed_cases_exercise_every_family() -> None:
    # The guard above is only as good as what the scenarios do: every family acts.
    want = {
        "liquidation",
        "absorb",
        "storefront",
        "perp_liquidation",
        "adl",
        "auction_kick",
        "auction_take",
        "fund_sale",
    }
    seen: set[str] = set()
    for case in ("mixed_sequential", "mixed_batch"):
        ev = pl.read_parquet(GOLDEN / case / "events.parquet")
        seen |= set(ev["kind"].cast(pl.String).to_list())
    assert want <= seen, want - seen
    batch = pl.read_parquet(GOLDEN / "mixed_batch" / "events.parquet")
    assert "sale" in set(batch["kind"].cast(pl.String).to_list())


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    for case in CASES:
        (GOLDEN / case).mkdir(parents=True, exist_ok=True)
        for name, frame in _frames(run(case)).items():
            frame.write_parquet(GOLDEN / case / f"{name}.parquet")
        print("wrote", case)
if __name__ == "__main__" and sys.argv[1:] in (["--write"], ["--record"]):
    table = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    env = float_environment()
    table[env] = {
        case: {name: digest(_normalised(name, f)) for name, f in _frames(run(case)).items()}
        for case in CASES
    }
    DIGESTS.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print("recorded the digests of float environment", env, "in", DIGESTS)
