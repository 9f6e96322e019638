"""The structure and attribution plots (issue 19, item 4): what each draws, read back from the
figure, and the clear error for the wrong input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError

SHOCK = dl.Shock.instant({"ETH": -0.25, "ETH-PERP": -0.25})


def unit(label: str) -> float:
    # The axis says what its numbers are in: "(quote)", "(quote, M)", ...
    for name, div in ((", bn)", 1e9), (", M)", 1e6), (", k)", 1e3)):
        if label.endswith(name):
            return div
    assert label.endswith("(quote)"), label
    return 1.0


@pytest.fixture(scope="module")
def ex() -> dl.Exposure:
    return dl.exposure(dl.examples.lst_loop_unwind(n_loopers=200), by="protocol")


@pytest.fixture(scope="module")
def att() -> dl.Attribution:
    return dl.attribute(dl.examples.lst_loop_unwind(n_loopers=200), shock=SHOCK, threads=1)


def test_the_exposure_network_draws_every_edge(ex: dl.Exposure) -> None:
    fig = dl.plot.exposure_network(ex)
    ax = fig.axes[0]
    edges = ex.holdings.filter(ex.holdings["units"].is_not_null())
    n_edges = edges.select("protocol", "asset", "side").unique().height
    assert len(ax.lines) == n_edges
    # Holders are labelled with their leverage.
    labels = [t.get_text() for t in ax.texts]
    assert "lst_fund (2.0x)" in labels


def test_the_leverage_distribution_stacks_the_families(ex: dl.Exposure) -> None:
    fig = dl.plot.leverage(ex, "stETH")
    ax = fig.axes[0]
    heights = sum(p.get_height() for p in ax.patches) * unit(ax.get_ylabel())
    want = ex.leverage.filter(asset="stETH")["notional"].sum()
    assert heights == pytest.approx(want, rel=1e-12)
    assert {t.get_text() for t in ax.get_legend().get_texts()} <= {"lending", "perps", "funds"}
    with pytest.raises(ScenarioError, match="USDT"):
        dl.plot.leverage(ex, "USDT")


def test_concentration_bars_are_the_shares(ex: dl.Exposure) -> None:
    fig = dl.plot.concentration(ex)
    ax = fig.axes[0]
    c = ex.concentration.filter(scope="all").sort("asset")
    got = sorted(p.get_height() for p in ax.patches)
    want = sorted(100 * c.select("top1", "top10", "top100").to_numpy().ravel())
    assert np.allclose(got, want)


def test_attribution_bars_add_up_to_the_total(att: dl.Attribution) -> None:
    fig = dl.plot.attribution(att, "bad_debt")
    ax = fig.axes[0]
    t = att.totals.filter(metric="bad_debt").row(0, named=True)
    total = sum(p.get_height() for p in ax.patches) * unit(ax.get_ylabel())
    assert total == pytest.approx(t["all"] - t["none"])
    with pytest.raises(ScenarioError, match="no Shapley values"):
        dl.plot.attribution(att, "drawdown_BTC")


def test_the_knockout_heat_map_holds_every_change(att: dl.Attribution) -> None:
    fig = dl.plot.knockout(att, "liquidated_change")
    ax = fig.axes[0]
    m = ax.images[0].get_array()
    assert np.nansum(m) == att.knockout["liquidated_change"].sum()
    with pytest.raises(ScenarioError, match="measure"):
        dl.plot.knockout(att, "equity")


def test_wrong_inputs_are_named() -> None:
    with pytest.raises(ScenarioError, match="Exposure"):
        dl.plot.exposure_network("x")
    with pytest.raises(ScenarioError, match="Attribution"):
        dl.plot.knockout(None)
