"""Perp exchanges through the Python surface, against hand-worked numbers (MECHANICS §6)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deleverage as dl

EXAMPLE_BRACKETS = dl.Brackets(
    [25_000.0, 150_000.0, 750_000.0, 3_000_000.0], [0.006, 0.012, 0.025, 0.05]
)


def scenario(price: float, steps: int = 3) -> dl.Scenario:
    # An impact curve that fills at its pre-trade price (α = 0) and a mark at the index: fills
    # and marks are exactly the path's prices.
    curve = dl.ImpactCurve.linear(price, 1e-13, alpha=0.0)
    return dl.Scenario(
        assets=[dl.Asset("BTC-PERP", price, venues=[curve], oracle=dl.Oracle.reference())],
        steps=steps,
    )


def frame(rows: list[tuple[object, float, float, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account": [r[0] for r in rows],
            "market": ["BTC-PERP"] * len(rows),
            "size": [r[1] for r in rows],
            "entry_price": [r[2] for r in rows],
            "margin": [r[3] for r in rows],
            "mode": [r[4] for r in rows],
        }
    )


def test_worked_example_6_liquidation_and_bankruptcy_prices() -> None:
    # Long 3.6 at 58,400, isolated margin 70,080: Binance's LP lands in bracket 2 at
    # (210,240 − 70,080 − 150)/(3.6·0.988) = 39,364.0350877; BP = 58,400 − 70,080/3.6.
    ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", EXAMPLE_BRACKETS)], insurance_fund=1_000.0)
    sc = scenario(58_400.0).add_perps(ex, frame([("t", 3.6, 58_400.0, 70_080.0, "isolated")]))
    res = dl.simulate(sc, shock=dl.Shock.instant())
    p = res.positions.row(0, named=True)
    assert p["liquidation_price"] == pytest.approx(39_364.0350877193, rel=1e-12)
    assert p["bankruptcy_price"] == pytest.approx(38_933.3333333333, rel=1e-12)
    assert p["status"] == "active"
    assert res.summary["perp_liquidations"].item() == 0


@pytest.mark.parametrize(
    ("price", "fund_change", "fund_end", "kinds"),
    [
        # Filled at 39,150: surplus 780, the fund takes 0.5 % of 140,940 = 704.7.
        (39_150.0, 704.7, 1_704.7, ["perp_liquidation"]),
        # Filled at 38,800: 480 short of BP·Q, paid by the fund.
        (38_800.0, -480.0, 520.0, ["perp_liquidation", "insurance_payment"]),
    ],
)
def test_clearance_fee_and_deficit(
    price: float, fund_change: float, fund_end: float, kinds: list[str]
) -> None:
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", EXAMPLE_BRACKETS)], fee_rate=0.005, insurance_fund=1_000.0
    )
    sc = scenario(58_400.0).add_perps(ex, frame([("t", 3.6, 58_400.0, 70_080.0, "isolated")]))
    res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": price / 58_400.0 - 1.0}))
    assert res.events["kind"].cast(pl.String).to_list() == kinds
    assert res.events["insurance_change"].sum() == pytest.approx(fund_change, rel=1e-9)
    s = res.summary.row(0, named=True)
    assert s["insurance_fund_end"] == pytest.approx(fund_end, rel=1e-9)
    assert s["insurance_fund_min"] == pytest.approx(min(1_000.0, fund_end), rel=1e-9)
    assert res.positions["status"].to_list() == ["closed"]
    assert res.positions["liquidation_price"].null_count() == 1
    # The fund's path is in the steps frame.
    assert res.steps["insurance_fund"][-1] == pytest.approx(fund_end, rel=1e-9)


def test_empty_fund_deleverages_in_bitmex_order() -> None:
    # At mark 88 the long (2.5 at 100, margin 25) has equity −5 and BP 90; the empty fund cannot
    # pay the fill at 88, so 2.5 go to ADL at 90. BitMEX scores: B 0.2·176/49 = 0.718,
    # A (32/120)·88/52 = 0.451, C 0.12·44/56 = 0.094: B loses 2, A 0.5.
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))], insurance_fund=0.0, adl="bitmex"
    )
    positions = frame(
        [
            ("L", 2.5, 100.0, 25.0, "isolated"),
            ("A", -1.0, 120.0, 20.0, "isolated"),
            ("B", -2.0, 110.0, 5.0, "isolated"),
            ("C", -0.5, 100.0, 50.0, "isolated"),
        ]
    )
    before = positions.clone()
    sc = scenario(100.0).add_perps(ex, positions)
    res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": -0.12}))
    adl = res.events.filter(pl.col("kind") == "adl")
    assert adl["account"].to_list() == ["B", "A"]
    assert adl["qty"].to_list() == pytest.approx([2.0, 0.5])
    assert adl["vwap"].to_list() == pytest.approx([90.0, 90.0])
    assert adl["realized_pnl"].to_list() == pytest.approx([40.0, 15.0])
    s = res.summary.row(0, named=True)
    assert s["adl_count"] == 2
    assert s["adl_notional"] == pytest.approx(2.5 * 90.0)
    assert s["insurance_fund_min"] == 0.0
    sizes = dict(zip(res.positions["account"], res.positions["size"], strict=True))
    assert sizes == pytest.approx({"L": 0.0, "A": -0.5, "B": 0.0, "C": -0.5})
    assert positions.equals(before)


def test_partial_liquidation_and_backstop_rules() -> None:
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", dl.Brackets.hyperliquid(max_leverage=50))],
        insurance_fund=1e6,
        fee_rate=0.0,
        partial=dl.PartialLiquidation.hyperliquid(),
    )
    # 10 at 20,000 (200,000 notional), margin 20,000; at 18,100 equity 1,000 < MM 1,810:
    # 20 % goes first, the remaining 8 after the 30 s cooldown.
    sc = scenario(20_000.0, steps=6).add_perps(
        ex, frame([("w", 10.0, 20_000.0, 20_000.0, "cross")])
    )
    res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": 18_100.0 / 20_000.0 - 1.0}))
    liq = res.events.filter(pl.col("kind") == "perp_liquidation")
    assert liq["qty"].to_list() == pytest.approx([2.0, 8.0])
    assert liq["step"].to_list() == [0, 3]
    backstopped = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.05))], backstop=True, name="hl"
    )
    # No bids: the book liquidation fills nothing, and with equity 2.5 < 2/3·MM = 2/3·4.625
    # the vault takes over, without a trade.
    sc = dl.Scenario(
        assets=[dl.Asset("BTC-PERP", 100.0, oracle=dl.Oracle.reference())], steps=3
    ).add_perps(backstopped, frame([("x", 1.0, 100.0, 10.0, "isolated")]))
    res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": -0.075}))
    assert res.events["kind"].cast(pl.String).to_list() == ["backstop"]
    assert res.events["protocol"].to_list() == ["hl"]
    assert res.summary["backstop_takeovers"].item() == 1
    assert res.positions["status"].to_list() == ["backstopped"]


def test_bad_perp_input_names_the_field() -> None:
    ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))])
    sc = scenario(100.0)
    with pytest.raises(dl.ScenarioError, match=r"positions\.size must be finite and non-zero"):
        sc.add_perps(ex, frame([("a", 0.0, 100.0, 1.0, "cross")]))
    with pytest.raises(dl.ScenarioError, match=r"positions\.mode"):
        sc.add_perps(ex, frame([("a", 1.0, 100.0, 1.0, "hedge")]))
    with pytest.raises(dl.ScenarioError, match="'ETH-PERP'"):
        dl.Scenario(assets=[dl.Asset("ETH", 1.0)]).add_perps(
            dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.01))]),
            frame([("a", 1.0, 100.0, 1.0, "cross")]),
        )
    with pytest.raises(dl.ScenarioError, match="one cross position per account and market"):
        dl.simulate(
            sc.add_perps(
                ex, frame([("a", 1.0, 100.0, 1.0, "cross"), ("a", 2.0, 100.0, 1.0, "cross")])
            )
        )
    with pytest.raises(dl.ScenarioError, match="adl must be one of"):
        dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))], adl="random")  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match=r"rates\[1\]"):
        dl.Brackets([1.0, 2.0], [0.01, 1.5])
    assert math.isinf(dl.Brackets.flat(0.01).caps[0])


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([-1.0, 1.0]),
            st.floats(0.1, 20.0),
            st.floats(90.0, 110.0),
            st.floats(2.0, 60.0),
            st.sampled_from(["cross", "isolated"]),
        ),
        min_size=2,
        max_size=25,
    ),
    fund=st.sampled_from([0.0, 50.0, 5_000.0]),
    adl=st.sampled_from(["bitmex", "binance", "pnl_ratio", "size", "dydx"]),
    move=st.floats(-0.3, 0.3),
)
@settings(max_examples=60, deadline=None)
def test_perp_identities_hold_through_python(
    rows: list[tuple[float, float, float, float, str]], fund: float, adl: str, move: float
) -> None:
    # Through the bindings: every unit closed is a liquidation fill or an ADL cut, ADL on one
    # side matches the other, and fund_T = fund_0 + fees − deficits ≥ 0.
    frame_ = pl.DataFrame(
        {
            "account": list(range(len(rows))),
            "market": ["BTC-PERP"] * len(rows),
            "size": [side * q for side, q, *_ in rows],
            "entry_price": [r[2] for r in rows],
            "margin": [r[1] * r[2] / r[3] for r in rows],
            "mode": [r[4] for r in rows],
        }
    )
    book = dl.OrderBook.linear(mid=100.0, tick=0.1, levels=300, depth_per_level=0.5)
    sc = dl.Scenario(
        assets=[dl.Asset("BTC-PERP", 100.0, venues=[book], oracle=dl.Oracle.blend(0.5))],
        steps=3,
    )
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", dl.Brackets([500.0, math.inf], [0.01, 0.02]))],
        insurance_fund=fund,
        adl=adl,  # type: ignore[arg-type]
    )
    res = dl.simulate(sc.add_perps(ex, frame_), shock=dl.Shock.instant({"BTC-PERP": move}), seed=1)
    p, ev = res.positions, res.events
    closed = (frame_["size"].abs() - p["size"].abs()).to_numpy()
    closed_by = p["liquidated_qty"] + p["adl_qty"] + p["absorbed_qty"]
    assert closed == pytest.approx(closed_by.to_numpy(), abs=1e-9)
    # What the exchange took itself is one bad-debt row each.
    absorbed = ev.filter(pl.col("kind") == "bad_debt")["qty"].sum()
    assert absorbed == pytest.approx(p["absorbed_qty"].sum(), rel=1e-9, abs=1e-9)
    liq = ev.filter(pl.col("kind") == "perp_liquidation")["qty"].sum()
    assert liq == pytest.approx(p["liquidated_qty"].sum(), rel=1e-9, abs=1e-9)
    adl_rows = ev.filter(pl.col("kind") == "adl")["qty"].sum()
    # Counterparties' cuts (rows) equal the bankrupt side's (positions minus rows).
    assert p["adl_qty"].sum() == pytest.approx(2 * adl_rows, rel=1e-9, abs=1e-9)
    s = res.summary.row(0, named=True)
    assert s["insurance_fund_end"] == pytest.approx(
        fund + s["insurance_fees"] - s["insurance_fund_used"], rel=1e-9, abs=1e-9
    )
    assert s["insurance_fund_min"] >= 0.0
    assert not any(
        ev[c].is_nan().any() for c in ("qty", "notional", "insurance_change", "realized_pnl")
    )


def test_critical_shock_finds_where_the_insurance_fund_runs_dry() -> None:
    # Long 1 at 100 with margin 10 (BP 90), fund 5, fills at the mark: a fall to m leaves a
    # deficit 90 − m, so the fund is exhausted from m = 85, a shock of −15 %.
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))], fee_rate=0.0, insurance_fund=5.0
    )
    sc = scenario(100.0).add_perps(ex, frame([("t", 1.0, 100.0, 10.0, "isolated")]))
    x = dl.critical_shock(sc, "BTC-PERP", metric="insurance_fund_depletion", above=1 - 1e-9,
                          tol=1e-5)  # fmt: skip
    assert x is not None
    assert -0.15 - 1e-5 <= x <= -0.15
    with pytest.raises(dl.ScenarioError, match="needs a perp exchange"):
        dl.critical_shock(
            dl.examples.eth_lending(n_accounts=50, steps=3), "ETH", metric="adl_notional"
        )


def test_liquidation_map_counts_perp_positions_by_hand() -> None:
    # MMR 1 %. Long A 1 @100, margin 10: breaches when 10 + (p − 100) < 0.01p, p < 90.909;
    # long B 2 @100, margin 40: 40 + 2(p − 100) < 0.02p, p < 80.808; short C 1 @100, margin 10:
    # 10 − (p − 100) < 0.01p, p > 108.911.
    ex = dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))])
    pos = frame(
        [
            ("A", 1.0, 100.0, 10.0, "isolated"),
            ("B", 2.0, 100.0, 40.0, "isolated"),
            ("C", -1.0, 100.0, 10.0, "isolated"),
        ]
    )
    sc = scenario(100.0).add_perps(ex, pos)
    m = dl.liquidation_map(sc, "BTC-PERP", [-0.05, -0.1, -0.2, 0.1], cascade=False)
    assert m["perp_liquidatable_positions"].to_list() == [0, 1, 2, 1]
    assert m["perp_liquidatable_notional"].to_list() == pytest.approx([0.0, 90.0, 240.0, 110.0])
    # Cross rows share one pool: A and B together (margin 50, 3 long) breach when
    # 50 + 3(p − 100) < 0.03p, p < 84.536: at 85 nobody, at 80 both.
    cross = pos.head(2).with_columns(pl.lit("cross").alias("mode"), pl.lit("AB").alias("account"))
    assert ex.liquidatable(cross, {"BTC-PERP": 85.0}).height == 0
    assert ex.liquidatable(cross, {"BTC-PERP": 80.0}).height == 2


def test_breakdown_counts_perp_fills() -> None:
    ex = dl.PerpExchange(
        [dl.PerpMarket("BTC-PERP", EXAMPLE_BRACKETS)], fee_rate=0.005, insurance_fund=1_000.0
    )
    sc = scenario(58_400.0).add_perps(ex, frame([("t", 3.6, 58_400.0, 70_080.0, "isolated")]))
    res = dl.simulate(sc, shock=dl.Shock.instant({"BTC-PERP": 39_150.0 / 58_400.0 - 1.0}))
    b = dl.breakdown(res).row(0, named=True)
    assert b["liquidations"] == 1
    assert b["perp_fill_notional"] == pytest.approx(140_940.0)
    assert b["insurance_change"] == pytest.approx(704.7)
    assert b["sale_proceeds"] == 0.0


def test_liquidatable_keeps_the_margin_and_pnl_of_cross_rows_that_net_out() -> None:
    # One cross account: BTC +1 @100 (margin 5), ETH +1 @100 (margin 1) and ETH −1 @110
    # (margin 20). The ETH rows net to no position but keep their margin and the 10 they
    # locked in: equity 26 + 10 + (p − 100) against MM 0.01·p breaches below 64/0.99 = 64.65.
    ex = dl.PerpExchange([dl.PerpMarket("BTC", dl.Brackets.flat(0.01)),
                          dl.PerpMarket("ETH", dl.Brackets.flat(0.01))])  # fmt: skip
    pos = pl.DataFrame({"account": ["a"] * 3, "market": ["BTC", "ETH", "ETH"],
                        "size": [1.0, 1.0, -1.0], "entry_price": [100.0, 100.0, 110.0],
                        "margin": [5.0, 1.0, 20.0], "mode": ["cross"] * 3})  # fmt: skip
    hit = ex.liquidatable(pos, {"BTC": 64.0, "ETH": 100.0})
    assert hit["market"].to_list() == ["BTC"]
    assert hit["equity"].item() == pytest.approx(0.0, abs=1e-9)
    assert hit["maintenance_margin"].item() == pytest.approx(0.64)
    assert ex.liquidatable(pos, {"BTC": 65.0, "ETH": 100.0}).height == 0
