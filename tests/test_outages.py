"""Downtime and outages (issue 18, item 5): a liquidator outage that holds a breached account until
it ends, an oracle freeze that hides a fall until it ends, Aave's PriceOracleSentinel (only below
HF 0.95 while the sequencer is down and in its grace period; not in v3.7), the steps frame's
flags, and bad outages named."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError


def market(debts: list[float], version: str = "3.3", steps: int = 10) -> dl.Scenario:
    # ETH read at the reference (liquidations do not move the oracle), 10 ETH each, LT 0.8.
    book = dl.OrderBook.linear(mid=3_000.0, tick=1.0, levels=2_000, depth_per_level=50.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 3_000.0, venues=[book], oracle=dl.Oracle.reference()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
        ],
        steps=steps,
    )
    n = len(debts)
    pos = pl.DataFrame(
        {
            "account": [f"a{i}" for i in range(n)],
            "collateral_asset": ["ETH"] * n,
            "collateral": [10.0] * n,
            "debt_asset": ["USDC"] * n,
            "debt": debts,
        }
    )
    return sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}, version=version), pos)


def first_liquidation_step(res: dl.Result, account: str) -> int | None:
    ev = res.events.filter((pl.col("kind") == "liquidation") & (pl.col("account") == account))
    return None if ev.height == 0 else int(ev["step"].min())  # type: ignore[arg-type]


def test_a_liquidator_outage_holds_the_queue_until_it_ends() -> None:
    # HF at 2,000 = 10·2,000·0.8/18,000 = 0.889: breached from step 0, served at step 4.
    sc = market([18_000.0]).with_outages(dl.Outage.liquidators(start=0, end=4))
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-1 / 3), max_extra_steps=0)
    assert first_liquidation_step(res, "a0") == 4
    flags = res.steps.filter(asset="ETH")["liquidators_out"].to_list()
    assert flags == [True] * 4 + [False] * 6
    # The queue waits with the account in it.
    assert res.steps.filter(asset="ETH", step=2)["queue_length"].item() == 1


def test_an_oracle_freeze_hides_the_fall_until_it_ends() -> None:
    # The reference falls to 2,000 at step 2; the oracle holds 3,000 over steps 2–4 and reads
    # 2,000 at step 5, when the account (HF 0.889 there) is liquidated.
    sc = market([18_000.0]).with_outages(dl.Outage.oracle_freeze("ETH", start=2, end=5))
    path = [3_000.0, 3_000.0] + [2_000.0] * 8
    res = dl.simulate(sc, shock=dl.Shock.path({"ETH": path}), max_extra_steps=0)
    eth = res.steps.filter(asset="ETH")
    assert eth["oracle"].to_list() == [3_000.0] * 5 + [2_000.0] * 5
    assert eth["oracle_frozen"].to_list() == [False] * 2 + [True] * 3 + [False] * 5
    assert first_liquidation_step(res, "a0") == 5


@pytest.mark.parametrize(("version", "waits"), [("3.3", True), ("3.6", True), ("3.7", False)])
def test_the_sentinel_lets_only_hf_below_095_through(version: str, waits: bool) -> None:
    # At 2,000: a0 has HF 16,000/16,494.85 = 0.97, a1 HF 16,000/17,777.78 = 0.90. The sequencer
    # is down over steps 0–1 and in its grace period over 2–4: a1 (< 0.95) is liquidated at
    # once, a0 waits until step 5 — unless the release (3.7) dropped the check.
    sc = market([16_000.0 / 0.97, 16_000.0 / 0.90], version=version).with_outages(
        dl.Outage.sequencer(start=0, end=2, grace_steps=3)
    )
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-1 / 3), max_extra_steps=0)
    assert first_liquidation_step(res, "a1") == 0
    assert first_liquidation_step(res, "a0") == (5 if waits else 0)
    seq = res.steps.filter(asset="ETH")["sequencer"].cast(pl.String).to_list()
    assert seq == ["down"] * 2 + ["grace"] * 3 + ["up"] * 5


def test_no_outage_leaves_every_flag_down() -> None:
    res = dl.simulate(market([18_000.0]), shock=dl.Shock.instant(ETH=-1 / 3), max_extra_steps=0)
    assert first_liquidation_step(res, "a0") == 0
    assert res.steps.select(
        pl.col("oracle_frozen").any(),
        pl.col("liquidators_out").any(),
        (pl.col("sequencer") != "up").any(),
    ).row(0) == (False, False, False)


@pytest.mark.parametrize(
    ("outage", "message"),
    [
        (dl.Outage.liquidators(start=5, end=3), r"outages\[0\]\.end.*3"),
        (dl.Outage.liquidators(start=4, end=4), r"outages\[0\]\.end.*4"),
        (dl.Outage.oracle_freeze("BTC", start=0, end=3), "BTC"),
        (dl.Outage.venue_halt("ETH", start=0, end=3, venue=1), r"outages\[0\]\.venue.*1"),
        (dl.Outage.venue_halt("BTC", start=0, end=3), "BTC"),
    ],
)
def test_bad_outages_are_named(outage: dl.Outage, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        dl.simulate(market([18_000.0]).with_outages(outage))


def test_bad_outage_arguments_are_named() -> None:
    with pytest.raises(ScenarioError, match="start"):
        dl.Outage.liquidators(start=-1, end=3)
    with pytest.raises(ScenarioError, match="venue halt names its asset"):
        dl.Outage("venue_halt", 0, 3)
    with pytest.raises(ScenarioError, match="venue"):
        dl.Outage.venue_halt("ETH", start=0, end=3, venue=-1)
    with pytest.raises(ScenarioError, match="grace_steps"):
        dl.Outage.sequencer(start=0, end=3, grace_steps=1.5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="outages"):
        dl.Scenario(assets=[dl.Asset("ETH", 1.0)], outages=("x",))  # type: ignore[arg-type]


def test_outages_round_trip_through_a_scenario_file(tmp_path: object) -> None:
    from pathlib import Path

    sc = market([18_000.0]).with_outages(
        dl.Outage.oracle_freeze("ETH", start=2, end=5),
        dl.Outage.liquidators(start=0, end=1),
        dl.Outage.sequencer(start=3, end=6, grace_steps=2),
        dl.Outage.venue_halt("ETH", start=1, end=2, venue=0),
    )
    path = Path(str(tmp_path)) / "outages.toml"
    sc.to_toml(path)
    assert dl.Scenario.from_toml(path).outages == sc.outages
    bad = path.read_text().replace('kind = "liquidators"', 'kind = "meteor"')
    path.write_text(bad)
    with pytest.raises(ScenarioError, match=r"outages.*meteor"):
        dl.Scenario.from_toml(path)


def test_a_manual_liquidation_meets_the_sentinel_too() -> None:
    # The engine's user as the only liquidator (the others are out) in the sequencer's grace
    # period: a0 (HF 0.97 at 2,000) is refused, naming the 0.95 rule; a1 (HF 0.90) is
    # liquidated.
    sc = market([16_000.0 / 0.97, 16_000.0 / 0.90]).with_outages(
        dl.Outage.sequencer(start=0, end=1, grace_steps=5), dl.Outage.liquidators(0, 10)
    )
    eng = dl.Engine(sc, shock=dl.Shock.path({"ETH": [2_000.0] * 10}), max_extra_steps=0)
    eng.step()
    with pytest.raises(ScenarioError, match=r"only below 0\.95"):
        eng.liquidate("a0", "USDC", "ETH", 1_000.0)
    got = eng.liquidate("a1", "USDC", "ETH", 1_000.0)
    assert got["repaid"] == pytest.approx(1_000.0)


def test_a_freeze_that_outlasts_the_path_holds_the_run_open_until_it_ends() -> None:
    # Found in review: the run stopped at the end of the path, "quiet", with the oracle still
    # frozen at 3,000. It now runs on until the oracle reads 2,000 again (step 12) and
    # liquidates there (HF 0.889).
    sc = market([18_000.0], steps=5).with_outages(dl.Outage.oracle_freeze("ETH", start=0, end=12))
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-1 / 3))
    assert first_liquidation_step(res, "a0") == 12
    assert res.summary["quiet"].item()
    assert res.steps.filter(asset="ETH", step=12)["oracle"].item() == pytest.approx(2_000.0)


def test_an_account_that_recovers_under_the_sentinel_leaves_the_queue() -> None:
    # Found in review: breached at 2,000 (HF 0.97) while the sequencer is down, healthy again at
    # 3,000 from step 2: it leaves the queue then, not when the outage ends.
    sc = market([16_000.0 / 0.97]).with_outages(dl.Outage.sequencer(start=0, end=8, grace_steps=0))
    path = [2_000.0, 2_000.0] + [3_000.0] * 8
    res = dl.simulate(sc, shock=dl.Shock.path({"ETH": path}), max_extra_steps=0)
    assert res.steps.filter(asset="ETH")["queue_length"].to_list() == [1, 1] + [0] * 8
    assert res.events.height == 0


def halted_market(halt: dl.Outage | None, extra: tuple[dl.Venue, ...] = ()) -> dl.Scenario:
    # Bids 1 ETH at 3,000, 1 at 2,500, 100 at 2,000; asks 100 at 3,001: mid 3,000.5, read by a
    # spot oracle. LT 0.8, bonus 5 %, 10 ETH each.
    book = dl.OrderBook.from_levels(
        np.array([3_000.0, 2_500.0, 2_000.0]),
        np.array([1.0, 1.0, 100.0]),
        np.array([3_001.0]),
        np.array([100.0]),
    )
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 3_000.5, venues=[book, *extra], oracle=dl.Oracle.spot()),
            dl.Asset("USDC", 1.0, oracle=dl.Oracle.reference()),
        ],
        steps=4,
    )
    pos = pl.DataFrame(
        {
            "account": ["a0", "a1"],
            "collateral_asset": ["ETH", "ETH"],
            "collateral": [10.0, 10.0],
            "debt_asset": ["USDC", "USDC"],
            "debt": [25_000.0, 22_000.0],
        }
    )
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}, version="3.3"), pos)
    return sc if halt is None else sc.with_outages(halt)


def test_a_venue_halt_stops_the_cascade() -> None:
    # At 3,000.5, a0 has HF 10·3,000.5·0.8/25,000 = 0.960 (breached, ≥ 0.95: half its debt is
    # repaid), a1 HF 24,004/22,000 = 1.091 (healthy). a0's liquidation seizes
    # 12,500·1.05/3,000.5 = 4.3743 ETH, and its sale eats the levels at 3,000 and 2,500: the mid
    # falls to (2,000 + 3,001)/2 = 2,500.5, where a1 has HF 20,004/22,000 = 0.909 and falls too.
    free = dl.simulate(halted_market(None), max_extra_steps=0)
    assert set(free.events.filter(kind="liquidation")["account"].to_list()) == {"a0", "a1"}
    # The book halted over steps 0–1: a0 is liquidated, the liquidator's sale fills nothing, the
    # mid holds at 3,000.5, a0 is healthy again at HF (10 − 4.3743)·3,000.5·0.8/12,500 = 1.080,
    # and a1 never falls; when the book resumes nothing is left to sell.
    res = dl.simulate(halted_market(dl.Outage.venue_halt("ETH", start=0, end=2)), max_extra_steps=0)
    liq = res.events.filter(kind="liquidation")
    assert liq["account"].to_list() == ["a0"]
    assert liq["collateral_seized"].item() == pytest.approx(12_500 * 1.05 / 3_000.5, rel=1e-12)
    assert liq["qty"].item() == 0.0
    assert liq["notional"].item() == 0.0
    eth = res.steps.filter(asset="ETH")
    assert eth["venues_halted"].to_list() == [1, 1, 0, 0]
    assert eth["mid"].to_list()[:2] == [3_000.5, 3_000.5]
    assert eth["mid_held"].to_list() == [True, True, False, False]
    assert eth["best_bid"].to_list()[:2] == [None, None]
    # Resumed, the book quotes its own levels again.
    assert eth["best_bid"].to_list()[2:] == [3_000.0, 3_000.0]
    assert res.accounts.filter(account="a1")["times_liquidated"].item() == 0


def test_a_halt_of_one_venue_routes_the_sale_to_the_others() -> None:
    # A deep curve beside the book, halted: the whole sale goes to the book, as in a market with
    # the book alone; the curve resumes untouched.
    curve = dl.ImpactCurve.linear(3_000.5, 1e-9)
    alone = dl.simulate(halted_market(None), max_extra_steps=0)
    sc = halted_market(dl.Outage.venue_halt("ETH", start=0, end=4, venue=1), extra=(curve,))
    res = dl.simulate(sc, max_extra_steps=0)
    cols = ["account", "qty", "notional", "collateral_seized"]
    assert res.events.select(cols).equals(alone.events.select(cols))
    assert res.steps.filter(asset="ETH")["venues_halted"].to_list() == [1] * 4
    # Open, the curve takes the sale at about 3,000 and a1 stays healthy.
    open_ = dl.simulate(halted_market(None, extra=(curve,)), max_extra_steps=0)
    assert open_.events.filter(kind="liquidation")["account"].unique().to_list() == ["a0"]
