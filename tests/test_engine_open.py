"""``dl.Engine``: the cascade held open. Stepping it gives what ``simulate`` gives; the user's
own orders walk the book as computed by hand and can trigger a liquidation predicted by hand;
forks leave the parent as it was; bad input is refused by name and changes nothing."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deleverage as dl
from test_golden import CASES, FRAMES, mixed


def _frames(res: dl.Result) -> dict[str, pl.DataFrame]:
    return {name: getattr(res, name) for name in FRAMES}


def _assert_same(a: dl.Result, b: dl.Result) -> None:
    for name, frame in _frames(a).items():
        other = getattr(b, name)
        assert frame.schema == other.schema, name
        assert frame.equals(other, null_equal=True), name


def _stepped(sc: dl.Scenario, shock: dl.Shock, seed: int) -> dl.Result:
    # A backtest's loop: one step at a time through the scenario's own path, then to quiet.
    eng = dl.Engine(sc, shock=shock, seed=seed)
    for _ in range(shock.steps(sc.steps)):
        eng.step()
    eng.run_to_quiet()
    return eng.result()


@pytest.mark.parametrize("case", sorted(CASES))
def test_stepping_gives_what_simulate_gives(case: str) -> None:
    sc, shock, seed = CASES[case]()
    _assert_same(_stepped(sc, shock, seed), dl.simulate(sc, shock=shock, seed=seed))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(["sequential", "batch"]),
    priority=st.sampled_from(["worst_health", "largest", "fifo", "random"]),
    n=st.integers(8, 150),
    m=st.integers(2, 60),
    fall=st.floats(0.0, 0.02),
    perp_fall=st.floats(0.0, 0.02),
    seed=st.integers(0, 2**32),
    split=st.integers(0, 30),
)
def test_stepping_run_and_references_agree_with_simulate_on_mixed_scenarios(
    mode: str,
    priority: str,
    n: int,
    m: int,
    fall: float,
    perp_fall: float,
    seed: int,
    split: int,
) -> None:
    # Every family on one market. The path is stepped one step at a time up to `split`, the
    # next rows given explicitly to `run` (the path's own prices: the same run), then to quiet.
    sc, shock, _ = mixed(mode, n=n, m=m, fall=fall, perp_fall=perp_fall, priority=priority)
    want = dl.simulate(sc, shock=shock, seed=seed)
    eng = dl.Engine(sc, shock=shock, seed=seed)
    steps = shock.steps(sc.steps)
    path = np.column_stack([shock.prices[a] for a in sc.asset_names])
    for k in range(min(split, steps)):
        if k % 2:
            eng.step(dict(zip(sc.asset_names, path[k], strict=True)))
        else:
            eng.step()
    done = min(split, steps)
    assert eng.run(path[done:]) == steps - done
    eng.run_to_quiet()
    _assert_same(eng.result(), want)


def _book_scenario(debt: float = 780.0) -> dl.Scenario:
    # One ETH book: bids 99, 98, 97, … with 2 ETH each (asks 101, 102, …), a spot oracle, and
    # one Aave v3.3 account with 10 ETH against `debt` USDC, LT 0.8, bonus 5 %.
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=60, depth_per_level=2.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 100.0, venues=[book], oracle=dl.Oracle.spot()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
        ],
        steps=3,
    )
    pos = pl.DataFrame(
        {
            "account": ["a"],
            "collateral_asset": ["ETH"],
            "collateral": [10.0],
            "debt_asset": ["USDC"],
            "debt": [debt],
        }
    )
    return sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05, 0.1)}), pos)


def test_submit_walks_the_book_by_hand() -> None:
    eng = dl.Engine(_book_scenario())
    f = eng.submit("ETH", "sell", 5.0)
    assert (f.filled, f.notional) == (5.0, 2 * 99 + 2 * 98 + 97)
    assert (f.first_price, f.last_price) == (99.0, 97.0)
    # A marketable limit at 96: what is left at 97 (1) and at 96 (2), then it stops.
    f = eng.submit("ETH", "sell", 10.0, limit=96.0)
    assert (f.filled, f.notional) == (3.0, 97 + 2 * 96)
    buy = eng.submit("ETH", "buy", 3.0, venue=0)
    assert (buy.filled, buy.notional) == (3.0, 2 * 101 + 102)
    st = eng.state()
    # Bids now start at 95, asks at 102 (one left): the routed mid is 98.5.
    assert st.venues["best_bid"].to_list() == [95.0]
    assert st.venues["best_ask"].to_list() == [102.0]
    assert st.assets["mid"].to_list()[0] == 98.5
    ev = eng.events()
    assert ev["kind"].cast(pl.String).to_list() == ["user_sell", "user_sell", "user_buy"]
    assert ev["qty"].to_list() == [5.0, 3.0, 3.0]


def test_a_user_sale_triggers_the_liquidation_computed_by_hand() -> None:
    # HF = 10·mid·0.8/780 < 1 ⇔ mid < 97.5. Selling 10 (2 each at 99 … 95) leaves bids from
    # 94 and asks from 101: mid 97.5, HF exactly 1, no liquidation. Selling 12 (bids from 93):
    # mid 97, HF 0.9949, liquidated in the next step's first round.
    quiet = dl.Engine(_book_scenario())
    quiet.submit("ETH", "sell", 10.0)
    assert quiet.step().liquidations == 0
    eng = dl.Engine(_book_scenario())
    eng.submit("ETH", "sell", 12.0)
    rep = eng.step()
    assert rep.liquidations == 1
    liq = eng.events().filter(pl.col("kind") == "liquidation").row(0, named=True)
    # $970 of collateral < $2,000: the whole debt reserve; 780·1.05/97 ETH seized.
    assert liq["debt_repaid"] == pytest.approx(780.0, rel=1e-12)
    assert liq["collateral_seized"] == pytest.approx(780.0 * 1.05 / 97.0, rel=1e-12)
    assert liq["price_before"] == 97.0
    assert rep.family_liquidations == [1]
    assert rep.family_notional[0] == pytest.approx(780.0 * 1.05, rel=1e-12)


def _snapshot(eng: dl.Engine) -> dict[str, Any]:
    st = eng.state()
    res = eng.result()
    return {
        "steps_run": eng.steps_run,
        "venues": st.venues,
        "assets": st.assets,
        "accounts": st.accounts,
        "events": res.events,
        "steps": res.steps,
    }


def _assert_snapshot(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, pl.DataFrame):
            assert v.equals(b[k], null_equal=True), k
        else:
            assert v == b[k], k


def test_fork_leaves_the_parent_identical() -> None:
    sc, shock, seed = CASES["mixed_sequential"]()
    eng = dl.Engine(sc, shock=shock, seed=seed)
    eng.run(np.column_stack([shock.prices[a] for a in sc.asset_names])[:5])
    before = _snapshot(eng)
    branch = eng.fork()
    branch.submit("ETH", "sell", 500.0)
    branch.run_to_quiet()
    assert branch.steps_run > eng.steps_run
    _assert_snapshot(_snapshot(eng), before)
    # And the parent still runs as if the branch never existed.
    eng.run_to_quiet()
    _assert_same(eng.result(), dl.simulate(sc, shock=shock, seed=seed))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.step({"BTC": 100.0}), "asset 'BTC' is not in the scenario"),
        (lambda e: e.step({"ETH": math.nan}), r"reference\['ETH'\] must be a positive price"),
        (lambda e: e.step({"ETH": -5.0}), r"reference\['ETH'\] must be a positive price, got -5"),
        (lambda e: e.step([100.0]), r"reference must have one price per asset \(2"),
        (lambda e: e.run(np.ones((3, 3))), r"references must have shape \(steps, 2\)"),
        (
            lambda e: e.run(np.array([[100.0, 1.0], [0.0, 1.0]])),
            r"references\[1, 0\] \(ETH\) must be a positive price, got 0",
        ),
        (
            lambda e: e.run(pl.DataFrame({"DAI": [1.0]})),
            r"references has columns \['DAI'\] that are not assets",
        ),
        (lambda e: e.submit("ETH", "sell", -1.0), "qty must be >= 0, got -1"),
        (lambda e: e.submit("ETH", "short", 1.0), "side must be 'sell' or 'buy'"),
        (lambda e: e.submit("ETH", "sell", 1.0, venue=3), "venue must be .*, got 3"),
        (lambda e: e.submit("ETH", "sell", 1.0, limit=0.0), "limit must be a positive price"),
        (lambda e: e.submit("XRP", "buy", 1.0), "asset 'XRP' is not in the scenario"),
    ],
)
def test_bad_input_is_named_and_leaves_the_engine_unchanged(call: Any, message: str) -> None:
    eng = dl.Engine(_book_scenario())
    eng.step()
    before = _snapshot(eng)
    with pytest.raises(dl.ScenarioError, match=message):
        call(eng)
    _assert_snapshot(_snapshot(eng), before)


def test_run_takes_a_frame_by_asset_and_leaves_nulls_to_the_path() -> None:
    sc, shock, seed = CASES["eth_lending"]()
    a = dl.Engine(sc, shock=shock, seed=seed)
    b = dl.Engine(sc, shock=shock, seed=seed)
    # The instant shock's path: ETH at 2,400 from step 0 on; USDC at 1.
    assert a.run(pl.DataFrame({"ETH": [2_400.0, None, 2_400.0]})) == 3
    for _ in range(3):
        b.step()
    _assert_same(a.result(), b.result())


def test_state_before_any_step() -> None:
    eng = dl.Engine(_book_scenario())
    st = eng.state()
    assert st.venues.select("asset", "venue", "kind", "best_bid", "best_ask").rows() == [
        ("ETH", 0, "order_book", 99.0, 101.0)
    ]
    assert st.assets["oracle"].to_list() == [100.0, 1.0]
    assert st.accounts.select("account", "status").rows() == [("a", "active")]
    assert st.accounts["health"].item() == pytest.approx(800.0 / 780.0)


def test_a_pickled_engine_continues_identically() -> None:
    # Mid-cascade (a few steps into the mixed scenario, queue and auctions live), pickled and
    # read back: both run to quiet and give the same frames as the engine never pickled.
    sc, shock, seed = CASES["mixed_batch"]()
    eng = dl.Engine(sc, shock=shock, seed=seed)
    for _ in range(8):
        eng.step()
    back = pickle.loads(pickle.dumps(eng))
    copied = copy.deepcopy(eng)
    assert back.steps_run == eng.steps_run == 8
    _assert_snapshot(_snapshot(back), _snapshot(eng))
    for e in (eng, back, copied):
        e.run_to_quiet()
    want = dl.simulate(sc, shock=shock, seed=seed)
    for e in (eng, back, copied):
        _assert_same(e.result(), want)


def test_corrupt_engine_bytes_are_refused() -> None:
    with pytest.raises(dl.ScenarioError, match="engine state: the bytes are not a saved engine"):
        dl.Engine.__new__(dl.Engine).__setstate__({"_core": b"\x00\x01not an engine"})


def test_liquidation_prices_of_every_family_by_hand() -> None:
    eth = dl.Asset("ETH", 100.0, oracle=dl.Oracle.reference())
    perp = dl.Asset("ETH-PERP", 100.0, oracle=dl.Oracle.reference())
    sc = dl.Scenario(assets=[eth, dl.Asset("USDC", 1.0), perp])
    lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
                         "debt_asset": ["USDC"], "debt": [780.0]})  # fmt: skip
    perps = pl.DataFrame({"account": ["long", "short"], "market": ["ETH-PERP"] * 2,
                          "size": [1.0, -1.0], "entry_price": [100.0, 100.0],
                          "margin": [10.0, 10.0], "mode": ["isolated"] * 2})  # fmt: skip
    vaults = pl.DataFrame({"account": ["v"], "collateral_asset": ["ETH"], "ink": [10.0],
                           "art": [1_000.0]})  # fmt: skip
    funds = pl.DataFrame({"account": ["f", "f"], "holding": ["ETH", "debt"],
                          "amount": [10.0, 800.0]})  # fmt: skip
    sc = (
        sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)
        .add_perps(dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.01))]), perps)
        .add_vaults(dl.Vaults([dl.Clipper("ETH", mat=1.5, rate=1.02)]), vaults)
        .add_funds(dl.Funds.threshold(30.0), funds)
    )
    eng = dl.Engine(sc)
    got = {r[2]: (r[0], r[3], r[4]) for r in eng.liquidation_prices("ETH").rows()}
    # Lending: 10·p·0.8 < 780 ⇔ p < 97.5. Maker: 10·p/1.5 < 1,000·1.02 ⇔ p < 153. The fund
    # defaults at 10·p − 800 ≤ 0 ⇔ p ≤ 80. Perps are on ETH-PERP, not ETH.
    assert got == {
        "a": ("lending", pytest.approx(97.5), "below"),
        "v": ("vaults", pytest.approx(153.0), "below"),
        "f": ("funds", pytest.approx(80.0), "below"),
    }
    got = {r[2]: (r[3], r[4]) for r in eng.liquidation_prices("ETH-PERP").rows()}
    # 10 + (p − 100) = 0.01p ⇔ p = 90/0.99; 10 − (p − 100) = 0.01p ⇔ p = 110/1.01.
    assert got == {
        "long": (pytest.approx(90.0 / 0.99), "below"),
        "short": (pytest.approx(110.0 / 1.01), "above"),
    }
    with pytest.raises(dl.ScenarioError, match="asset 'BTC' is not in the scenario"):
        eng.liquidation_prices("BTC")


def _lending_engine(
    protocol: dl.Lending, positions: dict[str, list[Any]], prices: dict[str, float]
) -> dl.Engine:
    sc = dl.Scenario(assets=[dl.Asset(a, p) for a, p in prices.items()])
    return dl.Engine(sc.add_lending(protocol, pl.DataFrame(positions)), max_extra_steps=0)


def test_liquidate_reproduces_worked_example_3a_with_its_deficit() -> None:
    # MECHANICS worked example 3a: 4.2 ETH at 2,450 against 9,800 USDC, LT 0.80, bonus 7 %,
    # fee 15 %: HF 0.84 ≤ 0.95, so all 9,800 may be covered; the collateral caps the seizure at
    # 4.2 ETH for 4.2·2,450/1.07 = 9,616.82 repaid; the bonus is 0.27477 ETH, the fee 0.041215;
    # v3.3 writes the 183.18 USDC left off as a deficit.
    pos = {"account": ["x"], "collateral_asset": ["ETH"], "collateral": [4.2],
           "debt_asset": ["USDC"], "debt": [9_800.0]}  # fmt: skip
    aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.80, 0.07, 0.15)})
    eng = _lending_engine(aave, pos, {"ETH": 2_450.0, "USDC": 1.0})
    liq = eng.liquidate("x", "USDC", "ETH", 9_800.0)
    assert liq["seized"] == pytest.approx(4.2, rel=1e-12)
    assert liq["repaid"] == pytest.approx(9_616.82242991, rel=1e-10)
    assert liq["bonus"] == pytest.approx(0.274766355140, rel=1e-10)
    assert liq["protocol_fee"] == pytest.approx(0.0412149532710, rel=1e-10)
    assert liq["bad_debt"] == pytest.approx(9_800.0 - 9_616.82242991, rel=1e-9)
    acc = eng.state().accounts.row(0, named=True)
    assert (acc["status"], acc["debt_value"]) == ("bad_debt", 0.0)
    ev = eng.events()
    assert ev["kind"].cast(pl.String).to_list() == ["user_liquidation"]
    assert ev["qty"].to_list() == [0.0]  # the user keeps the collateral


def test_liquidate_keeps_to_the_close_factor_of_worked_example_3b() -> None:
    # Worked example 3b: 60 ETH at 2,450, debts 80,000 USDC and 39,000 DAI (HF 0.988 > 0.95,
    # both sides ≥ $2,000, USDC > half the debt): at most 0.5·119,000 = 59,500 USDC.
    pos = {"account": ["y", "y"], "collateral_asset": ["ETH", "ETH"], "collateral": [60.0, 0.0],
           "debt_asset": ["USDC", "DAI"], "debt": [80_000.0, 39_000.0]}  # fmt: skip
    aave = dl.Lending.aave_v3({"ETH": dl.Reserve(0.80, 0.07, 0.15)})
    eng = _lending_engine(aave, pos, {"ETH": 2_450.0, "USDC": 1.0, "DAI": 1.0})
    before = _snapshot(eng)
    with pytest.raises(dl.ScenarioError, match=r"aave_v3: account 'y' .*at most 59500") as info:
        eng.liquidate("y", "USDC", "ETH", 60_000.0)
    assert (info.value.field, info.value.account) == ("account", "y")
    _assert_snapshot(_snapshot(eng), before)
    liq = eng.liquidate("y", "USDC", "ETH", 59_500.0)
    assert liq["repaid"] == pytest.approx(59_500.0, rel=1e-12)
    assert liq["seized"] == pytest.approx(25.9857142857, rel=1e-10)
    assert liq["bonus"] == pytest.approx(1.7, rel=1e-10)
    assert liq["protocol_fee"] == pytest.approx(0.255, rel=1e-10)


def test_liquidate_on_compound_v2_and_the_refusals() -> None:
    # MECHANICS §4.5: 1 ETH at 1,150 with CF 0.825 against 1,000 USDC: shortfall; close factor
    # 0.5 → at most 500 repaid, seizing 500·1.08/1,150 ETH.
    pos = {"account": ["z", "h"], "collateral_asset": ["ETH", "ETH"], "collateral": [1.0, 5.0],
           "debt_asset": ["USDC", "USDC"], "debt": [1_000.0, 1_000.0]}  # fmt: skip
    eng = _lending_engine(
        dl.Lending.compound_v2({"ETH": dl.Reserve(0.825)}), pos, {"ETH": 1_150.0, "USDC": 1.0}
    )
    with pytest.raises(dl.ScenarioError, match="account 'z' amount 600 passes the close factor"):
        eng.liquidate("z", "USDC", "ETH", 600.0)
    liq = eng.liquidate("z", "USDC", "ETH", 500.0)
    assert liq["seized"] == pytest.approx(540.0 / 1_150.0, rel=1e-12)
    assert liq["protocol_fee"] == pytest.approx(0.028 * 540.0 / 1_150.0, rel=1e-12)
    # What is left, 0.5304 ETH·1,150·0.825 = 503.2 against 500 of debt, is healthy again.
    with pytest.raises(dl.ScenarioError, match="account 'z' is not liquidatable: health factor"):
        eng.liquidate("z", "USDC", "ETH", 100.0)
    with pytest.raises(dl.ScenarioError, match="account 'h' is not liquidatable"):
        eng.liquidate("h", "USDC", "ETH", 10.0)
    with pytest.raises(dl.ScenarioError, match="account 'q' is not a lending account"):
        eng.liquidate("q", "USDC", "ETH", 10.0)
    with pytest.raises(dl.ScenarioError, match="account 'z' has no debt in that asset"):
        eng.liquidate("z", "ETH", "ETH", 10.0)


def test_liquidate_refuses_what_aave_v33_dust_rule_forbids() -> None:
    # 0.8 ETH at 2,000 against 1,400 USDC (HF 0.914): covering 500 would leave 900 USDC of
    # debt, under $1,000 with collateral left: Aave v3.3 reverts (MUST_NOT_LEAVE_DUST).
    pos = {"account": ["d"], "collateral_asset": ["ETH"], "collateral": [0.8],
           "debt_asset": ["USDC"], "debt": [1_400.0]}  # fmt: skip
    eng = _lending_engine(
        dl.Lending.aave_v3({"ETH": dl.Reserve(0.80, 0.07, 0.15)}),
        pos,
        {"ETH": 2_000.0, "USDC": 1.0},
    )
    with pytest.raises(dl.ScenarioError, match="dust rule"):
        eng.liquidate("d", "USDC", "ETH", 500.0)
    assert eng.liquidate("d", "USDC", "ETH", 400.0)["repaid"] == pytest.approx(400.0)


def test_replay_refreshes_the_book_at_the_chosen_steps_and_keeps_consumed_depth() -> None:
    # A 10 s step; snapshots at 0 s (bid 99 × 5, ask 101 × 5) and 15 s (bid 98 × 9, ask
    # 102 × 9): the second applies at step 2 (20 s). Selling 3 before step 0 consumes 3 from
    # the inside; it stays consumed: after the refresh, 6 rest at 98.
    book = dl.OrderBook.from_levels([99.0], [5.0], [101.0], [5.0])
    sc = dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])], step_seconds=10.0)
    snaps = pl.DataFrame({"timestamp": [0.0, 0.0, 15.0, 15.0], "side": ["bid", "ask"] * 2,
                          "price": [99.0, 101.0, 98.0, 102.0],
                          "qty": [5.0, 5.0, 9.0, 9.0]})  # fmt: skip
    sc = sc.with_book_snapshots("ETH", snaps)
    eng = dl.Engine(sc, shock=dl.Shock.path({"ETH": [100.0] * 4}))
    assert eng.submit("ETH", "sell", 3.0).notional == 3 * 99.0
    seen = []
    for _ in range(4):
        eng.step()
        st = eng.state().venues.row(0, named=True)
        seen.append((st["best_bid"], st["bid_depth_2pct"]))
        if len(seen) == 2:
            back = pickle.loads(pickle.dumps(eng))  # the pending snapshot travels with it
    assert seen == [(99.0, 2.0), (99.0, 2.0), (98.0, 6.0), (98.0, 6.0)]
    back.step()
    assert back.state().venues["best_bid"].to_list() == [98.0]
    # Bad snapshots are refused by row when the engine is built.
    crossed = snaps.with_columns(pl.Series("price", [99.0, 101.0, 103.0, 102.0]))
    with pytest.raises(dl.ScenarioError, match=r"replay\[1\]\.book is crossed"):
        dl.Engine(
            dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])], step_seconds=10.0)
            .with_book_snapshots("ETH", crossed)
        )  # fmt: skip


def test_shock_replay_resamples_by_hand() -> None:
    # Marks at 0, 30 and 60 s; 12 s steps from 6 s: t = 6, 18, 30, 42, 54 → 3,000, 3,000,
    # 2,950, 2,950, 2,950 (the last record at or before each step's time).
    marks = pl.DataFrame({"timestamp": [0.0, 30.0, 60.0], "ETH": [3_000.0, 2_950.0, 2_900.0]})
    got = dl.Shock.replay(marks, step_seconds=12.0, start=6.0, steps=5).prices["ETH"]
    assert got.tolist() == [3_000.0, 3_000.0, 2_950.0, 2_950.0, 2_950.0]
    with pytest.raises(dl.ScenarioError, match="no time column 'time'"):
        dl.Shock.replay(marks, step_seconds=12.0, time="time")


def test_take_reproduces_worked_example_5_and_the_clippers_refusals() -> None:
    # MECHANICS worked example 5 with the keepers out (no budget): the kick at step 0 (top
    # 2,208); at t = 1,000 s the stairstep price is 2,208·0.985^11 = 1,869.81. The user takes
    # all 11: owe 20,567.9 overshoots the tab 16,712.7, so it owes the tab for
    # 16,712.7/1,869.81 = 8.93818 ETH, and 2.06182 ETH go back to the owner.
    curve = dl.ImpactCurve.linear(1_840.0, 1e-12, alpha=0.0)
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 1_840.0, venues=[curve], oracle=dl.Oracle.reference())],
        step_seconds=1_000.0,
    )
    clip = dl.Clipper("ETH", mat=1.45, rate=1.02, chop=1.13, dust=7_500.0, hole=20e6,
                      dirt=19.99e6, buf=1.2, curve="stairstep", cut=0.985, step=90.0,
                      tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0)  # fmt: skip
    vault = pl.DataFrame({"account": ["u"], "collateral_asset": ["ETH"], "ink": [11.0],
                          "art": [14_500.0]})  # fmt: skip
    sc = sc.add_vaults(dl.Vaults([clip], hole=50e6, dirt=12e6), vault).with_liquidators(
        dl.Liquidators(budget_notional=0.0)
    )
    eng = dl.Engine(sc, shock=dl.Shock.path({"ETH": [1_840.0]}))
    eng.step()
    price = 2_208.0 * 0.985**11
    before = _snapshot(eng)
    with pytest.raises(dl.ScenarioError, match=r"auction 0 costs .* above the maximum 1800"):
        eng.take(0, 11.0, max_price=1_800.0)
    with pytest.raises(dl.ScenarioError, match="max_price must be a positive price, got nan"):
        eng.take(0, 11.0, max_price=math.nan)
    _assert_snapshot(_snapshot(eng), before)
    slice_, owe = eng.take(0, 11.0, max_price=1_900.0)
    assert owe == pytest.approx(16_712.7, rel=1e-12)
    assert slice_ == pytest.approx(16_712.7 / price, rel=1e-10)
    a = eng.result().auctions.row(0, named=True)
    assert not a["running"]
    assert a["returned"] == pytest.approx(2.06182171702, rel=1e-9)
    assert eng.events()["kind"].cast(pl.String).to_list() == ["auction_kick", "user_take"]
    with pytest.raises(dl.ScenarioError, match="auction 0 is not running"):
        eng.take(0, 1.0, max_price=1_900.0)
    with pytest.raises(dl.ScenarioError, match="auction 3 does not exist"):
        eng.take(3, 1.0, max_price=1_900.0)


def test_liquidate_position_during_a_partial_cooldown_by_hand() -> None:
    # A 1 BTC long @100 with margin 10 and MMR 1 %; the mark falls to 90.5: equity 0.5 < MM
    # 0.905. A partial rule (20 % above $50, then 1,000 s of cooldown) sends 0.2 to a thin
    # book; 0.8 stay with wallet 8: equity 8 + 0.8·(90.5 − 100) = 0.4 < MM 0.724, BP
    # 100 − 8/0.8 = 90. The user takes the rest at 90.5: realised 0.8·(90.5 − 100) = −7.6,
    # surplus 0.8·(90.5 − 90) = 0.4 ≤ 1 % of 72.4, all of it the fund's fee; the pool closes.
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=0.1)
    sc = dl.Scenario(
        assets=[dl.Asset("BTC-PERP", 100.0, venues=[book], oracle=dl.Oracle.reference())],
        step_seconds=10.0,
    )
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))],
        fee_rate=0.01,
        insurance_fund=100.0,
        partial=dl.PartialLiquidation(50.0, 0.2, 1_000.0, False),
    )
    pos = pl.DataFrame({"account": ["t"], "market": ["BTC-PERP"], "size": [1.0],
                        "entry_price": [100.0], "margin": [10.0],
                        "mode": ["isolated"]})  # fmt: skip
    eng = dl.Engine(sc.add_perps(ex, pos), shock=dl.Shock.path({"BTC-PERP": [90.5] * 3}))
    eng.step()
    p = eng.result().positions.row(0, named=True)
    assert (p["size"], p["wallet"], p["bankruptcy_price"]) == (0.8, 8.0, 90.0)
    before = _snapshot(eng)
    with pytest.raises(dl.ScenarioError, match=r"price 89\.5 is worse .* bankruptcy price 90"):
        eng.liquidate_position("t", "BTC-PERP", 0.8, price=89.5)
    with pytest.raises(dl.ScenarioError, match="qty must be positive and at most"):
        eng.liquidate_position("t", "BTC-PERP", 1.0, price=90.5)
    with pytest.raises(dl.ScenarioError, match="price must be a positive price, got -1000"):
        eng.liquidate_position("t", "BTC-PERP", 0.8, price=-1_000.0)
    _assert_snapshot(_snapshot(eng), before)
    qty, fee = eng.liquidate_position("t", "BTC-PERP", 0.8, price=90.5)
    assert qty == 0.8
    assert fee == pytest.approx(0.4, rel=1e-12)
    ev = eng.events().filter(pl.col("kind") == "user_liquidation").row(0, named=True)
    assert ev["notional"] == pytest.approx(72.4, rel=1e-12)
    assert ev["realized_pnl"] == pytest.approx(-7.6, rel=1e-12)
    p = eng.result().positions.row(0, named=True)
    assert (p["size"], p["status"]) == (0.0, "closed")
    with pytest.raises(dl.ScenarioError, match="has no open position"):
        eng.liquidate_position("t", "BTC-PERP", 0.1, price=95.0)


def test_replayed_snapshots_follow_a_shocked_reference() -> None:
    # A snapshot recorded around 110 (bid 108, ask 112) applies at step 2, when the scenario
    # has fallen to 50: it comes back re-anchored to 50, bid 108·50/110 and ask 112·50/110,
    # not at the recorded 108/112 (which would undo the shock).
    book = dl.OrderBook.from_levels([99.0, 98.0], [1.0, 1.0], [101.0, 102.0], [1.0, 1.0])
    sc = dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])], step_seconds=10.0)
    snaps = pl.DataFrame({"timestamp": [20.0, 20.0], "side": ["bid", "ask"],
                          "price": [108.0, 112.0], "qty": [2.0, 2.0]})  # fmt: skip
    eng = dl.Engine(
        sc.with_book_snapshots("ETH", snaps, start=0.0),
        shock=dl.Shock.path({"ETH": [100.0, 50.0, 50.0]}),
    )
    for _ in range(3):
        eng.step()
    v = eng.state().venues.row(0, named=True)
    assert v["best_bid"] == pytest.approx(108.0 * 50.0 / 110.0, rel=1e-12)
    assert v["best_ask"] == pytest.approx(112.0 * 50.0 / 110.0, rel=1e-12)
    one_sided = snaps.filter(pl.col("side") == "bid")
    with pytest.raises(dl.ScenarioError, match="has an empty side"):
        sc.with_book_snapshots("ETH", one_sided)


def test_running_past_the_path_then_to_quiet() -> None:
    # Five steps on a three-step path (the last reference held), then run_to_quiet: no panic,
    # and the engine still answers.
    eng = dl.Engine(
        dl.examples.eth_lending(n_accounts=50, steps=3), shock=dl.Shock.instant(ETH=-0.2)
    )
    for _ in range(5):
        eng.step()
    assert eng.run_to_quiet()
    assert eng.run(np.array([[2_400.0, 1.0]] * 4)) == 4
    assert eng.run_to_quiet()
    assert eng.steps_run >= 9


def test_review_edge_cases_are_refused_by_name() -> None:
    # A limit order reports what was asked; NaN and non-positive prices are refused; account
    # labels of another type are looked up, not crashed on.
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=10, depth_per_level=2.0)
    eng = dl.Engine(dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])]))
    f = eng.submit("ETH", "buy", 1e9, limit=102.0)  # asks 101 and 102, 2 each
    assert (f.requested, f.filled, f.unfilled) == (1e9, 4.0, 1e9 - 4.0)
    eng = _lending_engine(
        dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}),
        {"account": ["x"], "collateral_asset": ["ETH"], "collateral": [1.0],
         "debt_asset": ["USDC"], "debt": [1.0]},
        {"ETH": 100.0, "USDC": 1.0},
    )  # fmt: skip
    with pytest.raises(dl.ScenarioError, match="account 3 is not a lending account"):
        eng.liquidate(3, "USDC", "ETH", 1.0)


def test_replay_inputs_with_gaps_and_impossible_sizes() -> None:
    # A null mark is a gap: the last price before it holds. A step far too small is named;
    # a scenario with snapshots is not silently written without them.
    marks = pl.DataFrame({"timestamp": [0.0, 30.0, 60.0], "ETH": [3_000.0, None, 2_900.0]})
    got = dl.Shock.replay(marks, step_seconds=12.0).prices["ETH"]
    assert got.tolist() == [3_000.0] * 5 + [2_900.0]
    with pytest.raises(dl.ScenarioError, match="would have 60,000,000,000 steps"):
        dl.Shock.replay(marks, step_seconds=1e-9)
    book = dl.OrderBook.from_levels([99.0], [5.0], [101.0], [5.0])
    snaps = pl.DataFrame({"timestamp": [0.0, 0.0], "side": ["bid", "ask"],
                          "price": [99.0, 101.0], "qty": [5.0, 5.0]})  # fmt: skip
    sc = dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[book])]).with_book_snapshots(
        "ETH", snaps
    )
    with pytest.raises(dl.ScenarioError, match="cannot hold book snapshots yet"):
        sc.to_toml("unused.toml")
