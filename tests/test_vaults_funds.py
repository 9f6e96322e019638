"""Maker vaults and leverage-targeting funds through the Python surface, against MECHANICS
worked examples 5 (Dog + Clipper) and 8 (Cont–Schaanning), recomputed by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

import deleverage as dl


def test_worked_example_5_bark_kick_and_overshooting_take() -> None:
    # OSM 1,840 (a reference oracle), mat 1.45, rate 1.02, chop 1.13, dust 7,500; room
    # min(50M − 12M, 20M − 19.99M) = 10,000 would bark 8,676.04 art, but the remnant's debt
    # 5,940.44 is below dust, so the whole vault goes: due 14,790, tab 16,712.7, lot 11.
    curve = dl.ImpactCurve.linear(1_840.0, 1e-12, alpha=0.0)
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 1_840.0, venues=[curve], oracle=dl.Oracle.reference())],
        step_seconds=1_000.0,
        steps=2,
    )
    maker = dl.Vaults(
        [
            dl.Clipper(
                "ETH", mat=1.45, rate=1.02, chop=1.13, dust=7_500.0, hole=20e6, dirt=19.99e6,
                buf=1.2, curve="stairstep", cut=0.985, step=90.0, tail=7_200.0, cusp=0.45,
                chip=0.001, tip=250.0,
            )
        ],
        hole=50e6,
        dirt=12e6,
    )  # fmt: skip
    vault = pl.DataFrame(
        {"account": ["u"], "collateral_asset": ["ETH"], "ink": [11.0], "art": [14_500.0]}
    )
    # Step 0 (t = 0): kick at top 2,208, above what the venue pays (1,840): no take. Step 1
    # (t = 1,000 s): price 2,208·0.985^11 = 1,869.81054426 ≤ 1,900 on the venue: the keeper
    # takes all 11, owe 20,567.92 overshoots the tab, so owe = 16,712.7 and the slice is
    # 16,712.7/1,869.81 = 8.93817828298; 2.06182171702 ETH go back to the owner.
    res = dl.simulate(sc.add_vaults(maker, vault), shock=dl.Shock.path({"ETH": [1_840.0, 1_900.0]}))
    kinds = res.events["kind"].cast(pl.String).to_list()
    assert kinds == ["auction_kick", "auction_take"]
    kick, take = res.events.row(0, named=True), res.events.row(1, named=True)
    assert kick["debt_repaid"] == pytest.approx(14_790.0, rel=1e-12)
    assert kick["debt_repaid_value"] == pytest.approx(16_712.7, rel=1e-12)
    assert kick["collateral_seized"] == pytest.approx(11.0, rel=1e-12)
    assert kick["protocol_fee"] == pytest.approx(250.0 + 0.001 * 16_712.7, rel=1e-12)
    price = 2_208.0 * 0.985**11
    assert price == pytest.approx(1_869.81054426, rel=1e-10)
    assert take["debt_repaid_value"] == pytest.approx(16_712.7, rel=1e-12)
    assert take["collateral_seized"] == pytest.approx(16_712.7 / price, rel=1e-10)
    a = res.auctions.row(0, named=True)
    assert a["returned"] == pytest.approx(11.0 - 16_712.7 / price, rel=1e-9)
    assert a["returned"] == pytest.approx(2.06182171702, rel=1e-9)
    assert a["bad_debt"] == 0.0
    assert not a["running"]
    assert a["end_step"] == 1
    s = res.summary.row(0, named=True)
    assert s["auctions"] == 1
    assert s["auctions_zero_recovery"] == 0
    assert res.vaults["status"].to_list() == ["closed"]


def test_an_auction_nobody_can_take_ends_in_zero_recovery() -> None:
    # No venue: keepers can realise nothing, so the linear curve runs to zero without a take
    # and the auction keeps resetting: the vault's debt stays unrecovered.
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 1_000.0, oracle=dl.Oracle.reference())], step_seconds=60, steps=5
    )
    maker = dl.Vaults([dl.Clipper("ETH", dust=0.0, curve="linear", tau=120.0, tail=100.0)])
    vault = pl.DataFrame(
        {"account": [7], "collateral_asset": ["ETH"], "ink": [1.0], "art": [800.0]}
    )
    res = dl.simulate(sc.add_vaults(maker, vault), max_extra_steps=3)
    assert res.auctions["recovered"].to_list() == [0.0]
    assert res.auctions["running"].to_list() == [True]
    assert res.auctions["redos"].item() >= 1
    assert "auction_redo" in res.events["kind"].cast(pl.String).to_list()


def test_cont_schaanning_worked_example_8_first_round() -> None:
    # Banks Π = (55, 25), (30, 45), (20, 12); illiquid Θ = (18, 9, 6) shocked by 12 %; equity
    # C = (5.2, 3.6, 2.4), so debt = Π + Θ − C. λ_max 25, λ_b 23.75, α = 0.5, exponential
    # impact with B = 0.4 and D = c·ADV/σ·sqrt(τ).
    pi = [(55.0, 25.0), (30.0, 45.0), (20.0, 12.0)]
    theta = [18.0, 9.0, 6.0]
    c0 = [5.2, 3.6, 2.4]
    depth = [0.5 * adv / sig * math.sqrt(10.0) for adv, sig in ((120.0, 0.015), (40.0, 0.025))]
    assets = [
        dl.Asset(name, 1.0, venues=[dl.ImpactCurve.exponential(1.0, 0.4, d, alpha=0.5)])
        for name, d in zip(("A1", "A2"), depth, strict=True)
    ]
    sc = dl.Scenario(assets=assets, steps=1, liquidators=dl.Liquidators(mode="batch"))
    rows = []
    for i, (p, t, c) in enumerate(zip(pi, theta, c0, strict=True)):
        rows += [(f"bank{i}", "A1", p[0]), (f"bank{i}", "A2", p[1]), (f"bank{i}", "loans", t)]
        rows += [(f"bank{i}", "debt", p[0] + p[1] + t - c)]
    pos = pl.DataFrame(rows, schema=["account", "holding", "amount"], orient="row")
    banks = dl.Funds.threshold(25.0, 23.75, illiquid={"loans": 0.12})
    res = dl.simulate(sc.add_funds(banks, pos), max_extra_steps=0)
    first = res.events.filter((pl.col("round") == 0) & (pl.col("kind") == "fund_sale"))
    # By hand: C after the shock (3.04, 2.52, 1.68); Γ = ((95.84 − 23.75·3.04)/80,
    # (82.92 − 23.75·2.52)/75, 0) = (0.2955, 0.3076, 0).
    gamma = (0.2955, 0.3076)
    got = {(r["account"], r["asset"]): r["qty"] for r in first.iter_rows(named=True)}
    want = {
        (f"bank{i}", a): gamma[i] * pi[i][k] for i in (0, 1) for k, a in enumerate(("A1", "A2"))
    }
    assert got == pytest.approx(want, rel=1e-9)
    # Ψ_μ = (1 − B)(1 − e^{−q/δ}), δ = (1 − B)·D: the prices after the round.
    for k, a in enumerate(("A1", "A2")):
        q = sum(gamma[i] * pi[i][k] for i in (0, 1))
        psi = 0.6 * (1 - math.exp(-q / (0.6 * depth[k])))
        after = first.filter(pl.col("asset") == a)["price_after"].to_list()
        assert after == pytest.approx([1 - psi] * 2, rel=1e-12)
    assert res.summary["fund_sales_notional"].item() > 0


def test_runaway_target_fund_raises_a_clear_error() -> None:
    # Leverage 1.2 against a target of 11.2 on a steep curve: each purchase lifts the price
    # enough to call for a larger one. The run stops with an error instead of infinite trades.
    curve = dl.ImpactCurve.linear(100.0, 1.641e-5)
    sc = dl.Scenario(assets=[dl.Asset("ETH", 100.0, venues=[curve])], steps=2)
    pos = pl.DataFrame(
        {"account": ["f", "f"], "holding": ["ETH", "debt"], "amount": [93.5945126935892, 1559.9]}
    )
    with pytest.raises(
        dl.DeleverageError, match="funds: fund 'f': target-leverage trades run away"
    ) as info:
        dl.simulate(sc.add_funds(dl.Funds.target(11.2058), pos), shock=dl.Shock.instant(ETH=-0.05))
    # Where it points comes from the core as attributes: the only protocol (id 0) and its
    # first fund, relabelled with the user's names; the value is the runaway trade, beyond
    # 1e6 times the fund's starting assets (93.59… ETH at no less than the shocked 95).
    e = info.value
    assert (e.protocol, e.index, e.family, e.account) == (0, 0, "funds", "f")
    assert e.field == "funds[0] of protocol 0"
    assert e.value is not None
    assert abs(e.value) > 1e6 * 93.5945126935892 * 95.0


def test_breakdown_and_liquidation_map_cover_vaults() -> None:
    # Worked example 5's vault: one bark (lot 11), one take raising the whole tab.
    curve = dl.ImpactCurve.linear(1_840.0, 1e-12, alpha=0.0)
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 1_840.0, venues=[curve], oracle=dl.Oracle.reference())],
        step_seconds=1_000.0,
        steps=2,
    )
    maker = dl.Vaults([dl.Clipper("ETH", mat=1.45, rate=1.02, chop=1.13, dust=7_500.0,
                                  cut=0.985, tip=250.0)])  # fmt: skip
    vault = pl.DataFrame(
        {"account": ["u"], "collateral_asset": ["ETH"], "ink": [11.0], "art": [14_500.0]}
    )
    sc = sc.add_vaults(maker, vault)
    res = dl.simulate(sc, shock=dl.Shock.path({"ETH": [1_840.0, 1_900.0]}))
    b = dl.breakdown(res).row(0, named=True)
    assert b["liquidations"] == 1
    assert b["collateral_seized"] == pytest.approx(11.0)
    assert b["debt_repaid_value"] == pytest.approx(16_712.7)
    # Unsafe when 11·p/1.45 < 14,500·1.02, p < 1,944.4909: safe at +6 %, unsafe at +5 %.
    m = dl.liquidation_map(sc, "ETH", [0.05, 0.06], cascade=False)
    assert m["vault_liquidatable_vaults"].to_list() == [1, 0]
    assert m["vault_liquidatable_debt"][0] == pytest.approx(14_790.0)
    assert m["vault_liquidatable_collateral"][0] == pytest.approx(11 * 1_840.0 * 1.05)
    # The map's plot stacks the vault layer (and leaves out the absent lending one): the vault's
    # debt reaches its liquidation price between +6 % and +5 %, nothing above.
    import matplotlib

    matplotlib.use("Agg")
    (ax,) = dl.plot.liquidation_map(m).axes  # no cascade columns: the leverage layer alone
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["vault debt"]
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == pytest.approx([1_950.4, 1_932.0])
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.0, 14.79])
    assert ax.get_ylabel() == "reaching liquidation in the band (quote, k)"
