"""Analysis and plots against hand-derived positions."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import polars as pl
import pytest

import deleverage as dl

approx = pytest.approx


def _scenario(debts: list[float], slope: float = 1e-12) -> dl.Scenario:
    """ETH at 100 on a curve (deep by default), reference oracles, Aave v3.3 with LT 0.8 and a
    5 % bonus; every account has 10 ETH, so its trigger price is debt/8."""
    return dl.Scenario(
        assets=[
            dl.Asset(
                "ETH",
                price=100.0,
                venues=[dl.ImpactCurve.linear(price=100.0, slope=slope)],
                oracle=dl.Oracle.reference(),
            ),
            dl.Asset("USDC", price=1.0, oracle=dl.Oracle.reference()),
        ],
        steps=3,
    ).add_lending(
        dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}),
        pl.DataFrame(
            {
                "account": [f"a{i}" for i in range(len(debts))],
                "collateral_asset": ["ETH"] * len(debts),
                "collateral": [10.0] * len(debts),
                "debt_asset": ["USDC"] * len(debts),
                "debt": debts,
            }
        ),
    )


def test_liquidation_map_without_feedback_by_hand() -> None:
    # Trigger prices 780/8 = 97.5, 760/8 = 95, 720/8 = 90. At 99 nothing; at 97 the first
    # (debt 780, collateral 10·97 = 970); at 94 the first two (1,540; 1,880); at 88 all three
    # (2,260; 2,640).
    m = dl.liquidation_map(_scenario([780.0, 760.0, 720.0]), "ETH", [-0.01, -0.03, -0.06, -0.12])
    assert m["price"].to_list() == approx([99.0, 97.0, 94.0, 88.0])
    assert m["liquidatable_debt"].to_list() == approx([0.0, 780.0, 1_540.0, 2_260.0])
    assert m["liquidatable_collateral"].to_list() == approx([0.0, 970.0, 1_880.0, 2_640.0])
    assert m["liquidatable_accounts"].to_list() == [0, 1, 2, 3]
    # On a deep venue with a reference oracle there is no feedback: the cascade liquidates the
    # same accounts, each closed in full (positions under $2,000): 1.05·D of collateral value.
    assert m["liquidations"].to_list() == [0, 1, 2, 3]
    assert m["liquidated_notional"].to_list() == approx(
        [0.0, 1.05 * 780, 1.05 * 1_540, 1.05 * 2_260], rel=1e-6
    )
    # Without venues nothing moves the price: the same, like for like.
    assert m["no_feedback_liquidations"].to_list() == [0, 1, 2, 3]
    assert m["no_feedback_liquidated_notional"].to_list() == approx(
        [0.0, 1.05 * 780, 1.05 * 1_540, 1.05 * 2_260], rel=1e-6
    )


def test_critical_shock_brackets_the_bad_debt_threshold() -> None:
    # One account, 10 ETH and 790 USDC: liquidated below 98.75, in full (under $2,000). Seizing
    # 790·1.05/P ETH exceeds the 10 ETH held, leaving bad debt, exactly when P < 82.95: a fall of
    # 17.05 %.
    sc = _scenario([790.0])
    x = dl.critical_shock(sc, "ETH", metric="bad_debt", above=0.0, tol=1e-4)
    assert x is not None
    assert -0.1705 - 1e-4 <= x <= -0.1705
    # Liquidations start at the trigger: a fall of 1.25 %.
    y = dl.critical_shock(sc, "ETH", metric="liquidations", above=0.0, tol=1e-4)
    assert y is not None
    assert -0.0125 - 1e-4 <= y <= -0.0125
    # Never crossed: a threshold above all the debt there is.
    assert dl.critical_shock(sc, "ETH", metric="bad_debt", above=1e9, tol=1e-2) is None


def test_amplification_curve_is_one_without_impact() -> None:
    c = dl.amplification_curve(_scenario([780.0, 760.0]), "ETH", [-0.05, -0.2])
    assert c["shock"].to_list() == [-0.05, -0.2]
    assert c["drawdown"].to_list() == approx([-0.05, -0.2], rel=1e-6)
    assert c["amplification"].to_list() == approx([1.0, 1.0], rel=1e-6)


def test_amplification_above_one_with_impact() -> None:
    # The cascade of the engine tests: a −3 % shock on a curve with ℓ = 3e-5 ends at
    # 97(1 − 819ℓ)(1 − 798ℓ) with a spot oracle; with a reference oracle only the first account
    # (τ 97.5) is liquidated: 97(1 − 819ℓ) = 94.617, a drawdown of 5.383 %.
    c = dl.amplification_curve(_scenario([780.0, 760.0, 720.0], slope=3e-5), "ETH", [-0.03])
    assert c["drawdown"][0] == approx(97 * (1 - 819 * 3e-5) / 100 - 1)
    assert c["amplification"][0] == approx((1 - 97 * (1 - 819 * 3e-5) / 100) / 0.03)


def test_breakdown_adds_up() -> None:
    res = dl.simulate(_scenario([780.0, 760.0, 720.0]), shock=dl.Shock.instant(ETH=-0.12))
    b = dl.breakdown(res, by="asset")
    assert b["asset"].to_list() == ["ETH"]
    assert b["liquidations"][0] == 3
    assert b["debt_repaid_value"][0] == approx(780 + 760 + 720)
    with pytest.raises(dl.ScenarioError, match="by must be"):
        dl.breakdown(res, by="venue")  # type: ignore[arg-type]


def test_bad_input() -> None:
    sc = _scenario([780.0])
    with pytest.raises(dl.ScenarioError, match="asset 'BTC' is not in the scenario"):
        dl.liquidation_map(sc, "BTC", [-0.1])
    with pytest.raises(dl.ScenarioError, match="moves must be finite returns > -1"):
        dl.liquidation_map(sc, "ETH", [-1.5])
    with pytest.raises(dl.ScenarioError, match="worst must be"):
        dl.critical_shock(sc, "ETH", worst=-2.0)


def test_plots_draw_the_frames() -> None:
    sc = _scenario([780.0, 760.0, 720.0], slope=3e-5)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.05))
    fig = res.plot()
    price_ax, bars_ax = fig.axes
    mid_line = next(line for line in price_ax.get_lines() if line.get_label() == "mid")
    steps = res.steps.filter(pl.col("asset") == "ETH")
    # From the pre-shock price at step −1, then the mid of every step.
    assert mid_line.get_xdata()[0] == -1
    assert mid_line.get_ydata()[0] == sc.assets[0].price
    assert np.allclose(mid_line.get_ydata()[1:], steps["mid"].to_numpy())
    # The bars: the liquidators' sales per step (quote traded), in the axis' unit.
    div = {"(quote)": 1.0, "(quote, k)": 1e3, "(quote, M)": 1e6}[
        bars_ax.get_ylabel().split(" ", 2)[2]
    ]
    heights = [p.get_height() * div for p in bars_ax.patches]
    ev = res.events.filter(pl.col("kind").cast(pl.String) == "liquidation")
    per_step = ev.group_by("step").agg(pl.col("notional").sum()).sort("step")
    assert sum(heights) == approx(per_step["notional"].sum())
    # The leverage layer: debt reaching its liquidation price in each band. At 98 nothing;
    # between 98 and 95 the account with debt 780 (trigger 97.5; 760's is 95 exactly, health
    # 1 there, not below). Like for like above it: the notional liquidated without feedback
    # and with the cascade, side by side.
    m = dl.liquidation_map(sc, "ETH", [-0.05, -0.02])
    top, bottom = dl.plot.liquidation_map(m).axes
    assert [p.get_height() for p in bottom.patches] == approx([0.0, 780.0])
    assert [p.get_x() + p.get_width() / 2 for p in bottom.patches] == approx([98.0, 95.0])
    flat, cascade = top.patches[:2], top.patches[2:]
    rows = m.sort("price", descending=True)
    assert [p.get_height() for p in flat] == approx(
        rows["no_feedback_liquidated_notional"].to_list()
    )
    assert [p.get_height() for p in cascade] == approx(rows["liquidated_notional"].to_list())
    assert top.get_ylabel() == "liquidated notional (quote)"
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "without feedback (prices held at the move)",
        "with the cascade",
    ]
    cumulative = dl.plot.depth(res, "ETH").axes[1].get_lines()[0].get_ydata()
    assert cumulative.size == res.depth.filter(pl.col("asset") == "ETH").height
    with pytest.raises(dl.ScenarioError, match="no steps for asset"):
        dl.plot.depth(res, "BTC")


def test_without_feedback_the_engine_liquidates_exactly_the_statically_liquidatable() -> None:
    # Prices held at the move: the engine liquidates each account whose health factor is below
    # 1 there (found by the static breach test) once, and no other; on the thin book the
    # cascade's own sales push more accounts under and liquidate more notional.
    sc = dl.examples.eth_lending_thin(n_accounts=2_000)
    m = dl.liquidation_map(sc, "ETH", [-0.1, -0.2])
    assert m["no_feedback_liquidations"].to_list() == m["liquidatable_accounts"].to_list()
    assert (m["liquidations"] > m["no_feedback_liquidations"]).all()
    assert (m["liquidated_notional"] > m["no_feedback_liquidated_notional"]).all()
