"""The price plot (issue 21): it starts from the pre-shock price, its lower panel stacks every
family's forced flow (auction takes included), and its axes carry units without offsets. Read
from the figure's data, not its pixels."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import polars as pl
import pytest

import deleverage as dl


def unit(label: str) -> float:
    for name, div in ((", bn)", 1e9), (", M)", 1e6), (", k)", 1e3)):
        if label.endswith(name):
            return div
    assert label.endswith("(quote)"), label
    return 1.0


def test_the_price_plot_starts_before_the_shock_and_stacks_every_family() -> None:
    # A lending market and Maker vaults on one ETH book, ETH −20 % at step 0.
    book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=1_500, depth_per_level=20.0)
    sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0, venues=[book]), dl.Asset("USDC", 1.0)],
                     steps=40)  # fmt: skip
    vaults = pl.DataFrame({"account": ["v1"], "collateral_asset": ["ETH"], "ink": [10.0],
                           "art": [12_000.0]})  # fmt: skip
    lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
                         "debt_asset": ["USDC"], "debt": [15_000.0]})  # fmt: skip
    sc = sc.add_vaults(dl.Vaults([dl.Clipper("ETH", mat=1.45, chop=1.13, dust=7_500.0)]), vaults)
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
    fig = dl.plot.result(res, "ETH")
    top, bottom = fig.axes[:2]
    mid = next(line for line in top.lines if line.get_label() == "mid")
    xs, ys = mid.get_data()
    assert xs[0] == -1  # the pre-shock price
    assert ys[0] == 2_000.0
    assert ys[1] == res.steps.filter(asset="ETH")["mid"][0]
    assert top.get_ylabel() == "ETH price (quote)"
    assert not top.yaxis.get_major_formatter().get_useOffset()
    # The bars: lending's sales and the keepers' auction takes, stacked, in quote.
    ev = res.events.with_columns(pl.col("kind").cast(pl.String))
    sold = ev.filter(pl.col("kind").is_in(["liquidation", "auction_take"]))["notional"].sum()
    assert sold > 0
    heights = sum(p.get_height() for p in bottom.patches) * unit(bottom.get_ylabel())
    assert heights == pytest.approx(sold, rel=1e-12)
    labels = {t.get_text() for t in bottom.get_legend().get_texts()}
    assert labels == {"lending", "vaults"}
    assert np.isclose(bottom.get_xlim()[0], top.get_xlim()[0])


def test_a_driver_s_own_orders_are_drawn_apart_and_an_empty_panel_says_so() -> None:
    # 5 ETH sold through Engine.submit at step 1 on a linear book of 20 ETH a $1 level below
    # 2,000: all at the best level. No family trades, so the only bar is the own order's.
    book = dl.OrderBook.linear(mid=2_000.0, tick=1.0, levels=100, depth_per_level=20.0)
    sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0, venues=[book])], steps=3)
    quiet = dl.plot.result(dl.simulate(sc), "ETH").axes[1]
    assert quiet.get_ylabel() == "forced flow (quote)"
    assert [t.get_text() for t in quiet.texts] == ["no forced flow of ETH in this run"]
    eng = dl.Engine(sc)
    eng.step()
    fill = eng.submit("ETH", "sell", 5.0)
    eng.step()
    assert fill.filled == 5.0
    bottom = dl.plot.result(eng.result(), "ETH").axes[1]
    assert bottom.get_ylabel() == "forced flow and own orders (quote, k)"
    assert {t.get_text() for t in bottom.get_legend().get_texts()} == {"own orders"}
    bars = [p.get_height() * 1e3 for p in bottom.patches if p.get_height() > 0]
    assert len(bars) == 1
    assert bars[0] == pytest.approx(fill.notional, rel=1e-12)
    assert 5.0 * 1_998.0 <= bars[0] <= 5.0 * 2_000.0


def test_the_rounds_plot_starts_before_the_shock_with_whole_rounds() -> None:
    # Every marketable class −2 % at step 0: the price line is 1 before the shock (round −2),
    # 0.98 after it and before the first sale (round −1), then falls round by round.
    sc = dl.examples.bank_fire_sale()
    res = dl.simulate(sc, shock=dl.Shock.instant({a: -0.02 for a in sc.asset_names}))
    fig = dl.plot.rounds(res)
    top, bottom = fig.axes[:2]
    for line in top.lines:
        xs, ys = line.get_data()
        assert list(xs[:2]) == [-2, -1]
        assert ys[0] == 1.0
        assert ys[1] == pytest.approx(0.98, rel=1e-12)
        assert all(b <= a + 1e-12 for a, b in itertools.pairwise(ys[1:]))
    assert top.get_ylabel() == "price / before the shock"
    assert all(float(t).is_integer() for t in top.get_xticks())
    # The bars in the axis' unit add up to the step's sales.
    ev = res.events.filter(pl.col("step") == 0, pl.col("kind").cast(pl.String) == "fund_sale")
    total = sum(p.get_height() for p in bottom.patches) * unit(bottom.get_ylabel())
    assert total == pytest.approx(ev["notional"].sum(), rel=1e-9)


def test_a_result_shows_itself_in_a_notebook_and_writes_a_report(tmp_path: object) -> None:
    import re
    from pathlib import Path

    sc = dl.examples.lst_loop_unwind(n_loopers=100)
    res = dl.simulate(sc, shock=dl.Shock.instant({"ETH": -0.25, "ETH-PERP": -0.25}))
    page = res._repr_html_()
    assert page.count("<table") >= 3  # the summary and the frames' heads
    assert f"events ({res.events.height:,} rows)" in page
    assert "in the scenario's quote unit" in page  # the summary's units, said under it
    # A notebook's backend is its own: writing the report does not switch it.
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        out = res.report(Path(str(tmp_path)) / "run.html", title="stETH unwind")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    text = out.read_text()
    # Self-contained: every image embedded, nothing fetched from elsewhere.
    assert "<h1>stETH unwind</h1>" in text
    assert not re.search(r"(src|href)=['\"]https?:", text)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    assert "stETH: price path and forced flow" in captions
    assert "stETH: depeg" in captions
    assert text.count("data:image/png;base64,") == len(captions)


def test_depth_is_drawn_at_fixed_prices_before_and_after_on_one_axis() -> None:
    # A bid ladder of one unit at each of 99, 98, …, 50. A sale of 5.5 takes 99 to 95 and half
    # of 94; nothing refills. At fixed prices the bids at or above 90 go from 10 to 4.5, at or
    # above 94 from 6 to 0.5, above 94 from 5 to 0: the liquidity consumed, level for level (a
    # window following the mid down to 97.5 would show the deeper levels instead).
    book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=1.0)
    sc = dl.Scenario(assets=[dl.Asset("X", 100.0, venues=[book]), dl.Asset("USD", 1.0)], steps=3)
    eng = dl.Engine(sc)
    eng.submit("X", "sell", 5.5)
    eng.step()
    res = eng.result()
    depth = res.depth.filter(pl.col("asset") == "X")
    at = {p: (b, a) for p, b, a in depth.select("price", "bids_before", "bids_after").rows()}
    assert at[90.0] == (10.0, 4.5)
    assert at[94.0] == (6.0, 0.5)
    assert at[94.5] == (5.0, 0.0)
    assert at[99.0] == (1.0, 0.0)
    assert at[100.0] == (0.0, 0.0)
    assert depth["price"].min() == 40.0
    assert depth["price"].max() == 120.0
    assert depth.height == 161  # 40 % to 120 % of 100 in steps of 0.5 %
    # The asks (101 up) were not touched.
    assert depth.filter(pl.col("price") == 105.0)["asks_after"].item() == 5.0

    fig = dl.plot.depth(res, "X")
    top, bottom = fig.axes
    # The cumulative panel draws both columns on the fixed grid; the band panel their
    # differences; the mid fell to (94 + 101) / 2 = 97.5, so the axes span 97.5 − 5 to 102.5.
    before, after = bottom.get_lines()[:2]
    assert np.array_equal(before.get_xdata(), depth["price"].to_numpy())
    assert np.array_equal(after.get_ydata(), depth["bids_after"].to_numpy())
    assert before.get_label() == "before the shock"
    assert after.get_label() == "after the run (step 0)"
    assert bottom.get_xlim() == (92.5, 102.5)
    assert top.get_xlim() == (92.5, 102.5)
    bands = top.patches[1].get_path().vertices[:, 1]  # the after stairs
    assert max(bands) == pytest.approx(1.0)  # one unit per band from 93.5 down
    marks = [line.get_label() for line in bottom.get_lines()[2:]]
    assert marks == ["pre-shock price 100.00", "lowest mid 97.50", "final mid 97.50"]
    assert bottom.get_ylabel() == "bids at or above the price (X)"
    assert top.get_ylabel() == "resting per 0.5-wide band (X)"
    assert bottom.get_xlabel() == "price (quote)"
    with pytest.raises(dl.ScenarioError, match="no venue depth for asset 'USD'"):
        dl.plot.depth(res, "USD")
    with pytest.raises(dl.ScenarioError, match="side must be 'bid' or 'ask'"):
        dl.plot.depth(res, "X", side="up")
