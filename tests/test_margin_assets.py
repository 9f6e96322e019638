"""Perp margin held in another asset than the quote (issue 18; Binance's Multi-Assets Mode): the
units count in the pool's equity at the exchange's oracle times the collateral value ratio, and a
liquidation that leaves the quote wallet negative sells them on their own venues ("auto
exchange"); the fund pays what the sales do not cover and the rest is bad debt. Every number
below is worked by hand from the books' levels.

The books are symmetric about the asset's price, so an instant shock of r moves every level by
the factor 1 + r (a book follows its reference).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError


def market(
    steth_bids: tuple[tuple[float, float], ...] = ((2_990.0, 1.0), (2_950.0, 100.0)),
    steps: int = 3,
) -> dl.Scenario:
    # ETH-PERP: 100 bid at 2,990, 100 offered at 3,010 (mid 3,000). stETH: the bids given,
    # 100 offered at 3,010 (mid 3,000 with the default bids). Both read their reference.
    perp_book = dl.OrderBook.from_levels(
        np.array([2_990.0]), np.array([100.0]), np.array([3_010.0]), np.array([100.0])
    )
    prices, sizes = zip(*steth_bids, strict=True)
    steth_book = dl.OrderBook.from_levels(
        np.array(prices), np.array(sizes), np.array([3_010.0]), np.array([100.0])
    )
    return dl.Scenario(
        assets=[
            dl.Asset("ETH-PERP", 3_000.0, venues=[perp_book], oracle=dl.Oracle.reference()),
            dl.Asset("stETH", 3_000.0, venues=[steth_book], oracle=dl.Oracle.reference()),
        ],
        steps=steps,
    )


EXCHANGE = dl.PerpExchange(
    [dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.01))], margin_assets={"stETH": 0.95}
)


def long_on_steth(margin: float = 2.0, **cols: list[object]) -> pl.DataFrame:
    # Long 10 ETH-PERP from 3,000 with `margin` stETH as its only margin.
    return pl.DataFrame(
        {
            "account": ["a"],
            "market": ["ETH-PERP"],
            "size": [10.0],
            "entry_price": [3_000.0],
            "margin": [margin],
            "margin_asset": ["stETH"],
            **cols,
        }
    )


def run(sc: dl.Scenario, shock: dict[str, float], pos: pl.DataFrame) -> dl.Result:
    return dl.simulate(
        sc.add_perps(EXCHANGE, pos), shock=dl.Shock.instant(shock), max_extra_steps=0
    )


def test_the_margin_asset_counts_at_its_ratio_and_its_sale_covers_the_wallet() -> None:
    # ETH-PERP −13 % to 2,610, stETH −30 % to 2,100 (its bids at 2,093 and 2,065). Equity
    # 2·2,100·0.95 + 10·(2,610 − 3,000) = 3,990 − 3,900 = 90 < MM 261: liquidated. Bankruptcy
    # price 2,610 − 90/10 = 2,601; the book fills 10 at 2,990·0.87 = 2,601.3: realised
    # 26,013 − 30,000 = −3,987, the fund's fee the surplus 10·0.3 = 3 (under 0.5 % of the fill),
    # so the quote wallet is −3,990. The exchange sells stETH for 3,990: 1 at 2,093, then
    # 1,897/2,065 = 0.918644 at 2,065; the rest, 2 − 1.918644 = 0.081356 stETH, is withdrawn.
    res = run(market(), {"ETH-PERP": -0.13, "stETH": -0.30}, long_on_steth())
    ev = res.events
    liq = ev.filter(kind="perp_liquidation")
    assert liq["notional"].item() == pytest.approx(26_013.0, rel=1e-12)
    assert liq["realized_pnl"].item() == pytest.approx(-3_987.0, rel=1e-12)
    assert liq["insurance_change"].item() == pytest.approx(3.0, rel=1e-9)
    sale = ev.filter(kind="collateral_sale")
    assert sale["asset"].to_list() == ["stETH"]
    assert sale["account"].to_list() == ["a"]
    assert sale["notional"].item() == pytest.approx(3_990.0, rel=1e-12)
    assert sale["qty"].item() == pytest.approx(1 + 1_897 / 2_065, rel=1e-12)
    assert sale["price_before"].item() == pytest.approx(2_100.0 * (3_010 + 2_990) / 6_000)
    assert ev.filter(kind="bad_debt").height == 0
    assert ev.filter(kind="insurance_payment").height == 0
    pos = res.positions
    assert pos["status"].to_list() == ["closed"]
    assert pos["collateral_value"].item() == 0.0
    assert pos["wallet"].item() == 0.0
    # The stETH steps row counts the forced sale (valued at its oracle), not a liquidation.
    st = res.steps.filter(asset="stETH", step=0)
    assert st["liquidated_notional"].item() == pytest.approx(2_100 * (1 + 1_897 / 2_065))
    assert st["liquidation_count"].item() == 0


def test_a_depeg_deeper_than_the_haircut_leaves_bad_debt() -> None:
    # stETH bids 1 at 2,900 and 100 at 2,000 (mid 2,955 against asks at 3,010: every level
    # moves by 1,650/2,955 under stETH's −45 %). ETH-PERP −10 % to 2,700, stETH to 1,650:
    # equity 2·1,650·0.95 − 3,000 = 135 < MM 270. BP 2,700 − 13.5 = 2,686.5; the book fills at
    # 2,691: realised −3,090, fee the surplus 45, wallet −3,135. Both stETH sell, for
    # (2,900 + 2,000)·1,650/2,955 = 2,736.04; the fund pays back its 45 and 3,135 − 2,736.04
    # − 45 = 353.96 is bad debt.
    sc = market(((2_900.0, 1.0), (2_000.0, 100.0)))
    res = run(sc, {"ETH-PERP": -0.10, "stETH": -0.45}, long_on_steth())
    ev = res.events
    proceeds = 4_900.0 * 1_650 / 2_955
    sale = ev.filter(kind="collateral_sale")
    assert sale["qty"].item() == pytest.approx(2.0, rel=1e-12)
    assert sale["notional"].item() == pytest.approx(proceeds, rel=1e-12)
    pay = ev.filter(kind="insurance_payment")
    assert pay["insurance_change"].item() == pytest.approx(-45.0, rel=1e-9)
    bad = ev.filter(kind="bad_debt")
    assert bad["bad_debt"].item() == pytest.approx(3_135.0 - proceeds - 45.0, rel=1e-9)
    assert res.summary["bad_debt"].item() == pytest.approx(3_135.0 - proceeds - 45.0, rel=1e-9)
    assert res.steps.filter(asset="ETH-PERP")["insurance_fund"].to_list()[0] == pytest.approx(0.0)


def test_the_margin_asset_falling_alone_liquidates_the_position() -> None:
    # The perp does not move; stETH −98.5 % to 45: equity 2·45·0.95 = 85.5 < MM 300. BP
    # 3,000 − 8.55 is above the bid at 2,990 and the fund is empty: nothing fills, and with no
    # short to deleverage the exchange takes the position at BP. With quote margin of the same
    # starting value (2·3,000·0.95 = 5,700) nothing happens.
    res = run(market(), {"stETH": -0.985}, long_on_steth())
    assert res.summary["liquidations"].item() == 1
    assert res.positions["absorbed_qty"].item() == 10.0
    quote = long_on_steth(margin=5_700.0).with_columns(margin_asset=pl.lit("quote"))
    calm = run(market(), {"stETH": -0.985}, quote)
    assert calm.events.height == 0
    assert calm.positions["equity"].item() == pytest.approx(5_700.0)


def test_the_positions_frame_values_the_margin_asset() -> None:
    # No shock: equity 2·3,000·0.95 = 5,700, all of it the stETH. Liquidation price: the mark
    # where 5,700 + 10·(P − 3,000) = 0.01·10·P, P = 24,300/9.9 = 2,454.545...
    res = run(market(), {}, long_on_steth())
    pos = res.positions
    assert pos["collateral_value"].item() == pytest.approx(5_700.0, rel=1e-12)
    assert pos["wallet"].item() == 0.0
    assert pos["equity"].item() == pytest.approx(5_700.0, rel=1e-12)
    assert pos["liquidation_price"].item() == pytest.approx(24_300 / 9.9, rel=1e-12)


def test_a_perp_liquidation_depegs_the_lst_it_sells() -> None:
    # stETH pegged to ETH (3,000) on a constant-product pool of 100 stETH + 100 ETH (fee 0.3 %),
    # read at that pool's mid, m = (0.997 + 1/0.997)/2 ETH (the mean of its bid and ask), with no
    # redemption channel. The long's margin is 1.3 stETH: ETH-PERP −12 % to 2,640 leaves equity
    # e = 1.3·3,000·m·0.95 − 3,600 ≈ 105 < MM 264. BP 2,640 − e/10; the fill 10 at 2,631.2
    # realises −3,688 and pays the fund the surplus e − 88: the wallet is −3,600 − e. The sale
    # must bring dy = (3,600 + e)/3,000 ETH out of the pool: x stETH in with
    # 100·0.997x/(100 + 0.997x) = dy, x = 100·dy/(0.997·(100 − dy)); stETH's mid ends at
    # m·(100 − dy)/(100 + x) ETH: the perp liquidation depegged it.
    pool = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=100.0, fee=0.003)
    perp_book = dl.OrderBook.from_levels(
        np.array([2_990.0]), np.array([100.0]), np.array([3_010.0]), np.array([100.0])
    )
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 3_000.0, venues=[dl.ImpactCurve.linear(3_000.0, 1e-12)]),
            dl.Asset("stETH", 1.0, venues=[pool], oracle=dl.Oracle.spot(), peg=dl.Peg("ETH")),
            dl.Asset("ETH-PERP", 3_000.0, venues=[perp_book], oracle=dl.Oracle.reference()),
        ],
        steps=3,
    )
    res = dl.simulate(
        sc.add_perps(EXCHANGE, long_on_steth(margin=1.3)),
        shock=dl.Shock.instant({"ETH-PERP": -0.12}),
        max_extra_steps=0,
    )
    m = (0.997 + 1 / 0.997) / 2
    e = 1.3 * 3_000.0 * m * 0.95 - 3_600.0
    liq = res.events.filter(kind="perp_liquidation")
    assert liq["notional"].item() == pytest.approx(26_312.0, rel=1e-12)
    assert liq["insurance_change"].item() == pytest.approx(e - 88.0, rel=1e-9)
    sale = res.events.filter(kind="collateral_sale")
    dy = (3_600.0 + e) / 3_000.0
    x = 100.0 * dy / (0.997 * (100.0 - dy))
    assert sale["notional"].item() == pytest.approx(3_600.0 + e, rel=1e-12)
    assert sale["qty"].item() == pytest.approx(x, rel=1e-9)
    st = res.steps.filter(asset="stETH", step=0)
    assert st["peg_ratio"].item() == pytest.approx(m * (100.0 - dy) / (100.0 + x), rel=1e-9)
    assert res.positions["status"].to_list() == ["closed"]


def test_margin_assets_in_a_scenario_file_round_trip(tmp_path: Path) -> None:
    sc = market().add_perps(EXCHANGE, long_on_steth())
    path = tmp_path / "sc.toml"
    sc.to_toml(path)
    text = path.read_text()
    assert "margin_assets" in text
    back = dl.Scenario.from_toml(path)
    a = dl.simulate(sc, shock=dl.Shock.instant({"ETH-PERP": -0.13, "stETH": -0.3}))
    b = dl.simulate(back, shock=dl.Shock.instant({"ETH-PERP": -0.13, "stETH": -0.3}))
    assert a.events.equals(b.events)


def test_liquidatable_counts_the_margin_asset() -> None:
    # At ETH-PERP 2,610: stETH at 2,100 gives equity 90 < 261 (listed); at 2,200, 280 > 261.
    pos = long_on_steth()
    hit = EXCHANGE.liquidatable(pos, {"ETH-PERP": 2_610.0, "stETH": 2_100.0})
    assert hit["account"].to_list() == ["a"]
    assert hit["equity"].item() == pytest.approx(90.0, rel=1e-9)
    assert EXCHANGE.liquidatable(pos, {"ETH-PERP": 2_610.0, "stETH": 2_200.0}).height == 0
    with pytest.raises(ScenarioError, match="stETH"):
        EXCHANGE.liquidatable(pos, {"ETH-PERP": 2_610.0})


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: dl.PerpExchange(EXCHANGE.markets, margin_assets={"stETH": 0.0}), r"stETH.*0\.0"),
        (lambda: dl.PerpExchange(EXCHANGE.markets, margin_assets={"stETH": 1.5}), r"1\.5"),
        (lambda: dl.PerpExchange(EXCHANGE.markets, margin_assets={"ETH-PERP": 0.9}), "ETH-PERP"),
        (lambda: dl.PerpExchange(EXCHANGE.markets, margin_assets={"quote": 0.9}), "quote"),
        (lambda: dl.PerpExchange(EXCHANGE.markets, margin_assets=[("stETH", 0.9)]), "list"),
    ],
)
def test_bad_margin_assets_are_named(make: object, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        make()  # type: ignore[operator]


def test_bad_margin_rows_are_named() -> None:
    sc = market()
    with pytest.raises(ScenarioError, match="wstETH"):
        sc.add_perps(EXCHANGE, long_on_steth().with_columns(margin_asset=pl.lit("wstETH")))
    iso = long_on_steth(mode=["isolated"])
    with pytest.raises(ScenarioError, match="'a' posts 'stETH' as the margin of an isolated"):
        sc.add_perps(EXCHANGE, iso)
    no_steth = dl.Scenario(assets=[sc.assets[0]])
    with pytest.raises(ScenarioError, match="stETH"):
        no_steth.add_perps(EXCHANGE, long_on_steth())
    # A null margin asset is the quote.
    nulls = long_on_steth(margin=5_700.0).with_columns(margin_asset=pl.lit(None, pl.String))
    res = dl.simulate(sc.add_perps(EXCHANGE, nulls))
    assert res.positions["collateral_value"].item() == 0.0
    assert res.positions["wallet"].item() == 5_700.0


def test_the_liquidation_price_of_the_margin_asset() -> None:
    # Equity 2·P·0.95 against MM 0.01·10·3,000 = 300 (the perp at 3,000): breached below
    # P = 300/1.9 = 157.89...; the position's own market keeps its liquidation price.
    eng = dl.Engine(market().add_perps(EXCHANGE, long_on_steth()))
    lp = eng.liquidation_prices("stETH")
    assert lp.select("family", "account", "direction").rows() == [("perps", "a", "below")]
    assert lp["price"].item() == pytest.approx(300 / 1.9, rel=1e-12)
    assert eng.liquidation_prices("ETH-PERP")["price"].item() == pytest.approx(24_300 / 9.9)


def test_a_sale_that_finds_no_venue_is_tried_again_when_one_opens() -> None:
    # The covered case of above, with stETH's book halted over steps 0–2: the position is
    # closed at step 0 and its wallet of −3,990 waits on its 2 stETH (no bad debt, no
    # withdrawal); at step 3 the book is back and the sale brings the 3,990.
    sc = market(steps=6).add_perps(EXCHANGE, long_on_steth())
    sc = sc.with_outages(dl.Outage.venue_halt("stETH", start=0, end=3))
    res = dl.simulate(sc, shock=dl.Shock.instant({"ETH-PERP": -0.13, "stETH": -0.30}))
    sale = res.events.filter(kind="collateral_sale")
    assert sale["step"].to_list() == [3]
    assert sale["notional"].item() == pytest.approx(3_990.0, rel=1e-12)
    assert res.events.filter(kind="bad_debt").height == 0
    assert res.positions["status"].to_list() == ["closed"]


def test_an_adl_counterparty_owes_against_its_margin_asset_until_it_falls() -> None:
    # A long 10 from 3,000 on 2,000 quote and a short 10 from 2,000 on 5 stETH; the perp book
    # bids only 100, the fund is empty. At 2,700 the long is bankrupt (equity −1,000): BP
    # 2,800, nothing fills above it, and the short is deleveraged at 2,800: it realises
    # −10·800 = −8,000 and keeps its 5 stETH (worth 5·3,000·0.95 = 14,250: solvent, not sold).
    # When stETH falls to 100 its equity is 475 − 8,000 < 0: liquidated, its 5 stETH sell on
    # stETH's bids scaled by 100/3,000: 1 at 99.667 and 4 at 98.333 (493), and 8,000 − 493 is
    # bad debt.
    thin = dl.OrderBook.from_levels(
        np.array([100.0]), np.array([100.0]), np.array([3_010.0]), np.array([100.0])
    )
    steth = market().assets[1]
    sc = dl.Scenario(
        assets=[dl.Asset("ETH-PERP", 3_000.0, venues=[thin], oracle=dl.Oracle.reference()), steth],
        steps=4,
    )
    pos = pl.DataFrame(
        {
            "account": ["long", "short"],
            "market": ["ETH-PERP"] * 2,
            "size": [10.0, -10.0],
            "entry_price": [3_000.0, 2_000.0],
            "margin": [2_000.0, 5.0],
            "margin_asset": ["quote", "stETH"],
        }
    )
    path = dl.Shock.path({"ETH-PERP": [2_700.0] * 4, "stETH": [3_000.0, 3_000.0, 100.0, 100.0]})
    res = dl.simulate(sc.add_perps(EXCHANGE, pos), shock=path, max_extra_steps=0)
    ev = res.events
    adl = ev.filter(kind="adl")
    assert adl.select("step", "account").rows() == [(0, "short")]
    assert adl["realized_pnl"].item() == pytest.approx(-8_000.0, rel=1e-12)
    sale = ev.filter(kind="collateral_sale")
    assert sale.select("step", "account", "qty").rows() == [(2, "short", 5.0)]
    assert sale["notional"].item() == pytest.approx((2_990 + 4 * 2_950) / 30, rel=1e-12)
    bad = ev.filter(kind="bad_debt", account="short")
    assert bad["bad_debt"].item() == pytest.approx(8_000 - (2_990 + 4 * 2_950) / 30, rel=1e-12)
    ledger = res.meta["perp_ledgers"]["perps"]
    assert ledger["collateral_sold"] == [5.0]
    assert ledger["written_off"] == pytest.approx(8_000 - (2_990 + 4 * 2_950) / 30, rel=1e-12)


def test_liquidatable_will_not_mix_units_with_quote() -> None:
    # Rows of one account that net out in a market leave their margin to another position of
    # the account; with margin assets that would add units to quote: refused, named.
    ex = dl.PerpExchange(
        [
            dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.01)),
            dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01)),
        ],
        margin_assets={"stETH": 0.95},
    )
    pos = pl.DataFrame(
        {
            "account": ["a"] * 3,
            "market": ["BTC-PERP", "ETH-PERP", "ETH-PERP"],
            "size": [10.0, 1.0, -1.0],
            "entry_price": [3_000.0] * 3,
            "margin": [250.0, 1.0, 1.0],
            "margin_asset": ["quote", "stETH", "stETH"],
        }
    )
    prices = {"ETH-PERP": 3_000.0, "BTC-PERP": 3_000.0, "stETH": 3_000.0}
    with pytest.raises(ScenarioError, match="'a' in 'ETH-PERP' net to zero"):
        ex.liquidatable(pos, prices)
