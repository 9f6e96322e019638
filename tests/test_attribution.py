"""Attribution of a cascade to groups of positions (issue 19, item 2): the Shapley invariants
(efficiency, dummy, symmetry, a single group), knock-outs, the forced flow by group, and the
DebtRank-style ranking."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError

SHOCK = dl.Shock.instant({"ETH": -0.25, "ETH-PERP": -0.25})


def cohorts(extra_idle: bool = False, curve: dl.Venue | None = None) -> dl.Scenario:
    # An ETH lending market on a thin linear book: four accounts in cohorts x, y (each the
    # same two accounts: a symmetric pair), z (more leveraged); "idle" holds ETH and owes
    # nothing (never liquidated, never sells).
    book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=0.5)
    venues = [book] if curve is None else [book, curve]
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 2_000.0, venues=venues), dl.Asset("USDC", 1.0)], steps=20
    )
    rows = {
        "account": ["x1", "x2", "y1", "y2", "z1"],
        "collateral_asset": ["ETH"] * 5,
        "collateral": [10.0, 12.0, 10.0, 12.0, 20.0],
        "debt_asset": ["USDC"] * 5,
        "debt": [14_000.0, 16_000.0, 14_000.0, 16_000.0, 31_000.0],
        "cohort": ["x", "x", "y", "y", "z"],
    }
    if extra_idle:
        for k, v in {"account": "idle1", "collateral_asset": "ETH", "collateral": 5.0,
                     "debt_asset": "USDC", "debt": 0.0, "cohort": "idle"}.items():  # fmt: skip
            rows[k].append(v)  # type: ignore[attr-defined]
    pos = pl.DataFrame(rows)
    return sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pos.drop("cohort"))


def cohort_of(sc: dl.Scenario) -> pl.DataFrame:
    # The user's own account column: the cohort is the account's first letter(s).
    acc = sc.lending[0].positions["account"]
    return pl.DataFrame({"account": acc, "group": acc.str.strip_chars("0123456789")})


def test_shapley_values_sum_to_the_whole_and_symmetric_groups_are_equal() -> None:
    sc = cohorts()
    att = dl.attribute(sc, by=cohort_of(sc), shock=dl.Shock.instant(ETH=-0.2), threads=1)
    assert att.groups["group"].to_list() == ["x", "y", "z"]
    for metric in ("bad_debt", "drawdown_ETH"):
        t = att.totals.filter(metric=metric).row(0, named=True)
        phi = dict(att.shapley.filter(metric=metric).select("group", "value").iter_rows())
        # Efficiency: exactly in rationals; in floats to a few ulps of the total.
        assert sum(phi.values()) == pytest.approx(t["all"] - t["none"], rel=1e-12, abs=1e-15)
        # Symmetry: x and y hold the same positions.
        assert phi["x"] == pytest.approx(phi["y"], rel=1e-12, abs=1e-15)
    # The cascade happens: something to attribute.
    dd = att.totals.filter(metric="drawdown_ETH").row(0, named=True)
    assert dd["all"] < dd["none"] <= 0.0


def test_a_group_that_never_acts_gets_nothing_and_its_knockout_changes_nothing() -> None:
    sc = cohorts(extra_idle=True)
    att = dl.attribute(sc, by=cohort_of(sc), shock=dl.Shock.instant(ETH=-0.2), threads=1)
    idle = att.shapley.filter(group="idle")
    assert idle["value"].to_list() == [0.0] * idle.height
    ko = att.knockout.filter(removed="idle")
    assert ko["liquidated_change"].to_list() == [0] * ko.height
    assert ko["bad_debt_change"].to_list() == [0.0] * ko.height
    assert att.ranking.filter(group="idle")["importance"].item() == 0.0
    # Its flow is nil: it sold nothing.
    assert att.flow.filter(group="idle").height == 0


def test_a_single_group_gets_everything() -> None:
    att = dl.attribute(cohorts(), by="protocol", shock=dl.Shock.instant(ETH=-0.2), threads=1)
    assert att.groups["group"].to_list() == ["aave_v3"]
    for metric, value in att.shapley.select("metric", "value").iter_rows():
        t = att.totals.filter(metric=metric).row(0, named=True)
        assert value == t["all"] - t["none"]


def test_knockouts_and_flows_of_the_lst_example() -> None:
    sc = dl.examples.lst_loop_unwind(n_loopers=400)
    att = dl.attribute(sc, by="protocol", shock=SHOCK, threads=1)
    res = dl.simulate(sc, SHOCK)
    # The flow frame accounts for every forced sale of stETH in the events, by quote.
    ev = res.events.with_columns(pl.col("kind").cast(pl.String))
    kinds = ["liquidation", "fund_sale", "owner_sale"]
    sold = ev.filter(pl.col("asset") == "stETH", pl.col("kind").is_in(kinds))
    flow = att.flow.filter(asset="stETH")
    assert flow["sold"].sum() == pytest.approx(sold["notional"].sum(), rel=1e-12)
    assert set(att.flow["group"].to_list()) <= {"spark", "lst_fund", "eth_perps"}
    assert flow["share"].sum() == pytest.approx(1.0, rel=1e-12)
    # Knock-outs: each run without a group gives the others' outcomes of that scenario run
    # alone (rerun here independently for the fund).
    # The scenario without the fund, built here by hand (not by the coalition code): its
    # family dropped, and its name out of stETH's peg readers.
    import dataclasses

    assets = [
        dataclasses.replace(a, peg=dataclasses.replace(
            a.peg, read_at_peg_by=tuple(p for p in a.peg.read_at_peg_by if p != "lst_fund")))
        if a.peg is not None else a
        for a in sc.assets
    ]  # fmt: skip
    families = tuple(f for f in sc.families if f.protocol.name != "lst_fund")
    without = dl.simulate(dataclasses.replace(sc, assets=assets, families=families), SHOCK)
    liq = without.events.with_columns(pl.col("kind").cast(pl.String)).filter(
        pl.col("protocol") == "spark", pl.col("kind") == "liquidation"
    )
    ko = att.knockout.filter(removed="lst_fund", group="spark")
    assert ko["liquidated"].item() == liq["account"].n_unique()
    # Bad debt of the whole run, group by group, is the run's.
    full = att.knockout.filter(removed="spark")
    assert att.totals.filter(metric="bad_debt")["all"].item() == pytest.approx(
        res.summary["bad_debt"].item(), rel=1e-12
    )
    assert full.height == 2


def test_venues_as_groups() -> None:
    # Two venues for ETH: a book and a deep curve; without the curve the drawdown is deeper.
    sc = cohorts(curve=dl.ImpactCurve.linear(2_000.0, 1e-7))
    att = dl.attribute(sc, by="venue", shock=dl.Shock.instant(ETH=-0.2), threads=1)
    assert att.groups["group"].to_list() == ["ETH[0]", "ETH[1]"]
    phi = att.shapley.filter(metric="drawdown_ETH")["value"].to_numpy()
    t = att.totals.filter(metric="drawdown_ETH").row(0, named=True)
    assert np.sum(phi) == pytest.approx(t["all"] - t["none"], rel=1e-12, abs=1e-15)
    assert att.ranking.height == 0


def test_bad_arguments_are_named() -> None:
    sc = cohorts()
    with pytest.raises(ScenarioError, match="'nope' is neither"):
        dl.attribute(sc, by="nope")
    with pytest.raises(ScenarioError, match="runs"):
        dl.attribute(sc, by="protocol", runs=0)
    with pytest.raises(ScenarioError, match="lacks"):
        dl.attribute(sc, by=pl.DataFrame({"account": ["x1"]}))
    with pytest.raises(ScenarioError, match="two groups"):
        dl.attribute(sc, by=pl.DataFrame({"account": ["x1", "x1"], "group": ["a", "b"]}))
    one_each = pl.DataFrame({"account": [f"a{k}" for k in range(11)],
                             "group": [f"g{k}" for k in range(11)]})  # fmt: skip
    many = dl.Scenario(assets=sc.assets).add_lending(
        sc.lending[0].protocol,
        pl.DataFrame({"account": one_each["account"], "collateral_asset": ["ETH"] * 11,
                      "collateral": [1.0] * 11, "debt_asset": ["USDC"] * 11,
                      "debt": [100.0] * 11}),
    )  # fmt: skip
    with pytest.raises(ScenarioError, match="at most 10 groups"):
        dl.attribute(many, by=one_each)
    assert dl.attribute(many, by=one_each, shapley=False).shapley.height == 0


def test_the_command_line_attributes_and_maps_a_scenario_file(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses
    from pathlib import Path

    from deleverage.cli import main

    folder = Path(str(tmp_path))
    sc = dataclasses.replace(dl.examples.lst_loop_unwind(n_loopers=200), shock=SHOCK)
    sc.to_toml(folder / "lst.toml")
    assert main(["attribute", str(folder / "lst.toml"), "--threads", "1", "-o",
                 str(folder / "att")]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "3 groups by protocol" in printed
    assert "Knock-outs" in printed
    for name in ("flow", "knockout", "shapley", "totals", "ranking"):
        assert (folder / "att" / f"{name}.parquet").exists()
    assert (folder / "att" / "knockout.png").exists()
    # The frames written are the attribution's.
    att = dl.attribute(sc, threads=1)
    written = pl.read_parquet(folder / "att" / "shapley.parquet").sort("group", "metric")
    assert written.equals(att.shapley.sort("group", "metric"))
    assert main(["exposure", str(folder / "lst.toml"), "--by", "protocol", "-o",
                 str(folder / "ex")]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "Overlap index" in printed
    assert (folder / "ex" / "exposure_network.png").exists()
    assert (folder / "ex" / "leverage_stETH.png").exists()
    ex = dl.exposure(sc, by="protocol")
    assert pl.read_parquet(folder / "ex" / "overlap.parquet").equals(ex.overlap)
    # A bad grouping is one line, not a traceback.
    assert main(["attribute", str(folder / "lst.toml"), "--by", "desk", "--no-write"]) == 2
    assert "'desk' is neither" in capsys.readouterr().err


def test_venue_coalitions_keep_outages_on_their_venue() -> None:
    # The book (ETH[0]) halted over the run: a coalition without the book has no halt left,
    # and the coalition of the curve alone does not halt the curve.
    sc = cohorts(curve=dl.ImpactCurve.linear(2_000.0, 1e-7)).with_outages(
        dl.Outage.venue_halt("ETH", start=0, end=20, venue=0)
    )
    labels = dl.attribution._labels(sc, "venue")
    curve_only = dl.attribution._coalition(sc, "venue", labels, ["ETH[1]"])
    assert curve_only.outages == ()
    res = dl.simulate(curve_only, dl.Shock.instant(ETH=-0.2))
    assert res.steps.filter(asset="ETH")["venues_halted"].max() == 0
    both = dl.attribution._coalition(sc, "venue", labels, ["ETH[0]", "ETH[1]"])
    assert [o.venue for o in both.outages] == [0]
    att = dl.attribute(sc, by="venue", shock=dl.Shock.instant(ETH=-0.2), threads=1)
    assert att.shapley.height > 0


def test_flow_split_over_venues_by_the_routers_split() -> None:
    # ETH on two fee-less constant-product pools at 2,000, of 100 and 300 ETH. Best execution
    # ends both at one marginal price y·x/(x+d)² (MECHANICS §2.8), so each pool takes the same
    # fraction r = d/x of its reserve: a quarter of every order's units goes to the first,
    # three quarters to the second, and each pool's proceeds are P·x·r/(1 + r) at price P — a
    # quarter and three quarters again. Both pools move alike, so every order splits the same.
    pools = [
        dl.ConstantProductPool(base_reserve=x, quote_reserve=2_000.0 * x, fee=0.0)
        for x in (100.0, 300.0)
    ]
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 2_000.0, venues=pools), dl.Asset("USDC", 1.0)], steps=10
    )
    pos = pl.DataFrame({
        "account": ["x1", "x2", "y1"], "collateral_asset": ["ETH"] * 3,
        "collateral": [10.0, 12.0, 10.0], "debt_asset": ["USDC"] * 3,
        "debt": [14_000.0, 16_000.0, 14_500.0],
    })  # fmt: skip
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pos)
    groups = pl.DataFrame({"account": ["x1", "x2", "y1"], "group": ["x", "x", "y"]})
    shock = dl.Shock.instant(ETH=-0.15)
    res = dl.simulate(sc, shock)
    ev = res.events.filter(pl.col("kind") == "liquidation")
    assert ev.height >= 3
    fills = res.fills
    assert fills.height == 2 * ev.height
    first = fills.filter(sequence=ev["sequence"][0]).sort("venue")
    q = ev["qty"][0]
    assert first["qty"].to_list() == pytest.approx([q / 4, 3 * q / 4], rel=1e-12)
    # The shock's arbitrage took both pools to 1,700 along x·y = k: x' = x·√(2,000/1,700).
    # The first order, at that price, sells d = q·x/400 into each.
    s = math.sqrt(2_000.0 / 1_700.0)
    want = [1_700.0 * x * s * (q * x / 400) / (x * s + q * x / 400) for x in (100.0, 300.0)]
    assert first["notional"].to_list() == pytest.approx(want, rel=1e-12)
    att = dl.attribute(sc, by=groups, shock=shock, shapley=False)
    vf = att.venue_flow
    for g in ("x", "y"):
        sold = att.flow.filter(group=g)["sold"].item()
        on = dict(vf.filter(group=g).select("venue", "sold").iter_rows())
        assert on["ETH[0]"] == pytest.approx(sold / 4, rel=1e-12)
        assert on["ETH[1]"] == pytest.approx(3 * sold / 4, rel=1e-12)
    assert vf.filter(venue="ETH[1]")["share"].sum() == pytest.approx(1.0, rel=1e-12)
    # By venue, the groups are where the flow went.
    by_venue = dl.attribute(sc, by="venue", shock=shock, shapley=False).flow
    total = att.flow["sold"].sum()
    assert dict(by_venue.select("group", "sold").iter_rows()) == pytest.approx(
        {"ETH[0]": total / 4, "ETH[1]": 3 * total / 4}, rel=1e-12
    )


def test_venue_flow_adds_up_to_the_flow_in_batch_rounds_and_with_a_book() -> None:
    # A batch round's one sale per asset, shared by the round's liquidations, and a book beside
    # a curve: each group's flow over the venues is its flow, and each order's fills are its
    # sale's units and quote.
    sc = cohorts(curve=dl.ImpactCurve.linear(2_000.0, 1e-6))
    sc = dataclasses.replace(sc, liquidators=dl.Liquidators(mode="batch"))
    shock = dl.Shock.instant(ETH=-0.2)
    res = dl.simulate(sc, shock)
    sales = res.events.filter(pl.col("kind") == "sale")
    assert sales.height >= 1
    per = res.fills.group_by("sequence").agg(pl.col("qty").sum(), pl.col("notional").sum())
    got = sales.join(per, on="sequence", suffix="_fills")
    assert got.height == sales.height
    assert got["qty_fills"].to_list() == pytest.approx(got["qty"].to_list(), rel=1e-12)
    assert got["notional_fills"].to_list() == pytest.approx(got["notional"].to_list(), rel=1e-12)
    att = dl.attribute(sc, by=cohort_of(sc), shock=shock, shapley=False)
    summed = att.venue_flow.group_by("group").agg(pl.col("sold").sum()).sort("group")
    want = att.flow.sort("group")
    assert summed["group"].to_list() == want["group"].to_list()
    assert summed["sold"].to_list() == pytest.approx(want["sold"].to_list(), rel=1e-12)
    assert set(att.venue_flow["venue"].to_list()) == {"ETH[0]", "ETH[1]"}
