"""The structure of a scenario before any shock (issue 19, item 1): holdings, the distance to
liquidation of every family by the core's own rules, concentration and the liquidity-weighted
overlap, each checked against numbers worked by hand."""

from __future__ import annotations

import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError


def three_funds() -> dl.Scenario:
    # A at 10 on a linear curve of slope 1e-4 per quote: a 2 % fall takes 0.02/1e-4 = 200 of
    # quote, D_A = 200; B at 20, slope 4e-4: D_B = 50. Funds f1: 10 A; f2: 5 A and 2.5 B;
    # f3: 10 B; so Π = [[100, 0], [50, 50], [0, 200]].
    sc = dl.Scenario(
        assets=[
            dl.Asset("A", 10.0, venues=[dl.ImpactCurve.linear(10.0, 1e-4)]),
            dl.Asset("B", 20.0, venues=[dl.ImpactCurve.linear(20.0, 4e-4)]),
        ]
    )
    pos = pl.DataFrame(
        {
            "account": ["f1", "f1", "f2", "f2", "f2", "f3", "f3"],
            "holding": ["A", "debt", "A", "B", "debt", "B", "debt"],
            "amount": [10.0, 50.0, 5.0, 2.5, 50.0, 10.0, 100.0],
        }
    )
    return sc.add_funds(dl.Funds.threshold(25.0, 23.75), pos)


def test_the_overlap_matrix_of_three_holders_and_two_assets() -> None:
    # Ω_ij = Π_iA Π_jA/200 + Π_iB Π_jB/50: Ω11 = 100²/200 = 50, Ω12 = 100·50/200 = 25,
    # Ω13 = 0, Ω22 = 50²/200 + 50²/50 = 62.5, Ω23 = 50·200/50 = 200, Ω33 = 200²/50 = 800.
    # Each holder's index Σ_{j≠i} Ω_ij: f1 25, f2 225, f3 200.
    ex = dl.exposure(three_funds())
    depth = dict(ex.depth.select("asset", "depth").iter_rows())
    assert depth["A"] == pytest.approx(200.0, rel=1e-12)
    assert depth["B"] == pytest.approx(50.0, rel=1e-12)
    omega = {(i, j): w for i, j, w in ex.overlap.iter_rows()}
    want = {
        ("f1", "f1"): 50.0, ("f1", "f2"): 25.0, ("f1", "f3"): 0.0,
        ("f2", "f2"): 62.5, ("f2", "f3"): 200.0, ("f3", "f3"): 800.0,
    }  # fmt: skip
    for (i, j), w in want.items():
        for a, b in ((i, j), (j, i)):
            assert omega[(f"funds/{a}", f"funds/{b}")] == pytest.approx(w, rel=1e-12, abs=1e-12)
    index = dict(ex.index.select("holder", "index").iter_rows())
    assert index == pytest.approx({"funds/f1": 25.0, "funds/f2": 225.0, "funds/f3": 200.0})
    # By protocol the three are one holder: Ω = (150² /200) + (250²/50) = 112.5 + 1,250.
    one = dl.exposure(three_funds(), by="protocol")
    assert one.overlap["overlap"].to_list() == pytest.approx([1_362.5])
    assert one.index["index"].to_list() == [0.0]


def test_concentration_of_a_small_frame() -> None:
    # ETH collateral of 5, 3 and 2 ETH at 2,000 (50 %, 30 %, 20 %): top 1 0.5, top 10 1,
    # HHI 0.25 + 0.09 + 0.04 = 0.38. Across protocols, a and b belong to one owner X (80 %):
    # top 1 0.8, HHI 0.64 + 0.04 = 0.68. A second protocol's holder of 10 ETH joins "all".
    sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0)])
    pos = pl.DataFrame(
        {
            "account": ["a", "b", "c"],
            "collateral_asset": ["ETH"] * 3,
            "collateral": [5.0, 3.0, 2.0],
            "debt_asset": ["USDC"] * 3,
            "debt": [1_000.0] * 3,
            "owner": ["X", "X", "c"],
        }
    )
    sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pos)
    ex = dl.exposure(sc)
    c = ex.concentration.filter(asset="ETH")
    proto = c.filter(scope="aave_v3").row(0, named=True)
    assert proto["holders"] == 3
    assert proto["total"] == pytest.approx(20_000.0)
    assert (proto["top1"], proto["top10"], proto["top100"]) == pytest.approx((0.5, 1.0, 1.0))
    assert proto["hhi"] == pytest.approx(0.38)
    across = c.filter(scope="all").row(0, named=True)
    assert across["holders"] == 2
    assert across["top1"] == pytest.approx(0.8)
    assert across["hhi"] == pytest.approx(0.68)
    # USDC is only owed: no long holder, no concentration row.
    assert ex.concentration.filter(asset="USDC").height == 0
    held = ex.holdings.filter(account="a").select("asset", "side", "units", "value", "exposure")
    assert held.rows() == [("ETH", "long", 5.0, 10_000.0, 10_000.0),
                           ("USDC", "short", 1_000.0, 1_000.0, -1_000.0)]  # fmt: skip


def every_family() -> dl.Scenario:
    # ETH at 2,000 and ETH-PERP at 2,000; a lending account (10 ETH, 12,000 USDC debt, LT 0.8),
    # an isolated perp long (1 at 2,000, margin 200, MMR 1 %), a Maker vault (ink 10,
    # art 10,000, rate 1, mat 1.5) and a fund (10 ETH, debt 15,000).
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[dl.ImpactCurve.linear(2_000.0, 1e-9)]),
            dl.Asset("USDC", 1.0),
            dl.Asset("ETH-PERP", 2_000.0, venues=[dl.ImpactCurve.linear(2_000.0, 1e-9)]),
        ]
    )
    lend = pl.DataFrame(
        {"account": ["l"], "collateral_asset": ["ETH"], "collateral": [10.0],
         "debt_asset": ["USDC"], "debt": [12_000.0]}
    )  # fmt: skip
    perp = pl.DataFrame(
        {"account": ["p"], "market": ["ETH-PERP"], "size": [1.0], "entry_price": [2_000.0],
         "margin": [200.0], "mode": ["isolated"]}
    )  # fmt: skip
    vault = pl.DataFrame(
        {"account": ["v"], "collateral_asset": ["ETH"], "ink": [10.0], "art": [10_000.0]}
    )
    fund = pl.DataFrame({"account": ["f", "f"], "holding": ["ETH", "debt"],
                         "amount": [10.0, 15_000.0]})  # fmt: skip
    return (
        sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)
        .add_perps(dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.01))]), perp)
        .add_vaults(dl.Vaults([dl.Clipper("ETH", mat=1.5)]), vault)
        .add_funds(dl.Funds.threshold(25.0, 23.75), fund)
    )


def test_the_leverage_distribution_of_one_account_of_each_family() -> None:
    # Lending: 10·P·0.8 = 12,000 at P = 1,500 (−25 %). Vault: bark when 10·P/1.5 < 10,000,
    # P = 1,500 (−25 %). Fund: default when 10·P ≤ 15,000, P = 1,500 (−25 %). Perp: 200 +
    # (P − 2,000) = 0.01·P at P = 1,800/0.99 = 1,818.18 (−9.09 %).
    ex = dl.exposure(every_family())
    liq = ex.liquidation.filter(pl.col("asset") != "USDC").sort("family")
    assert liq.select("family", "account", "direction").rows() == [
        ("funds", "f", "below"), ("lending", "l", "below"), ("perps", "p", "below"),
        ("vaults", "v", "below"),
    ]  # fmt: skip
    assert liq["price"].to_list() == pytest.approx([1_500.0, 1_500.0, 1_800 / 0.99, 1_500.0])
    assert liq["distance"].to_list() == pytest.approx([-0.25, -0.25, 1_800 / 0.99 / 2_000 - 1,
                                                       -0.25])  # fmt: skip
    assert liq["notional"].to_list() == pytest.approx([20_000.0, 20_000.0, 2_000.0, 20_000.0])
    lev = ex.leverage.filter(pl.col("asset") != "USDC")
    rows = lev.select("asset", "family", "distance_low", "distance_high", "notional").rows()
    assert rows == [
        ("ETH", "funds", -0.25, -0.2, 20_000.0),
        ("ETH", "lending", -0.25, -0.2, 20_000.0),
        ("ETH", "vaults", -0.25, -0.2, 20_000.0),
        ("ETH-PERP", "perps", -0.1, -0.05, 2_000.0),
    ]
    assert lev["accounts"].to_list() == [1, 1, 1, 1]


def test_a_pegged_asset_moves_with_its_underlying() -> None:
    # A looper: 10 stETH (pegged to ETH at 1, ETH at 2,000) against 7 ETH of debt, LT 0.9:
    # HF = 10·0.9/7 whatever ETH does, so ETH alone never liquidates it (no price); stETH
    # alone (ETH held) breaches at 10·p·0.9 = 14,000, p = 1,555.56, 22.2 % below 2,000.
    pool = dl.ConstantProductPool(base_reserve=1_000.0, quote_reserve=1_000.0, fee=0.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[dl.ImpactCurve.linear(2_000.0, 1e-9)]),
            dl.Asset("stETH", 1.0, venues=[pool], oracle=dl.Oracle.spot(), peg=dl.Peg("ETH")),
        ]
    )
    pos = pl.DataFrame(
        {"account": ["loop"], "collateral_asset": ["stETH"], "collateral": [10.0],
         "debt_asset": ["ETH"], "debt": [7.0]}
    )  # fmt: skip
    sc = sc.add_lending(
        dl.Lending.aave_v3({"stETH": dl.Reserve(0.9, 0.05), "ETH": dl.Reserve(0.8, 0.05)}), pos
    )
    eng = dl.Engine(sc)
    assert eng.liquidation_prices("ETH")["price"].to_list() == [None]
    assert eng.liquidation_prices("stETH")["price"].item() == pytest.approx(14_000 / 9)
    ex = dl.exposure(sc)
    st = ex.liquidation.filter(asset="stETH")
    assert st["distance"].item() == pytest.approx(14_000 / 9 / 2_000 - 1)
    assert ex.liquidation.filter(asset="ETH").height == 0


def test_bad_arguments_are_named() -> None:
    sc = three_funds()
    with pytest.raises(ScenarioError, match="within"):
        dl.exposure(sc, within=0.0)
    with pytest.raises(ScenarioError, match="by must be one of"):
        dl.exposure(sc, by="venue")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="bins"):
        dl.exposure(sc, bins=[0.0, -0.1])
    with pytest.raises(ScenarioError, match="scenario must be"):
        dl.exposure("sc.toml")  # type: ignore[arg-type]


def test_notional_follows_the_peg_and_the_side() -> None:
    # A fund holds 10 stETH (pegged to ETH at 1, ETH at 2,000) against 15,000 of debt: it
    # defaults when 10·P ≤ 15,000, ETH at 1,500, and its notional in ETH is its 20,000 of
    # stETH. A lending protocol that reads stETH at its peg has no stETH liquidation price.
    pool = dl.ConstantProductPool(base_reserve=1_000.0, quote_reserve=1_000.0, fee=0.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 2_000.0, venues=[dl.ImpactCurve.linear(2_000.0, 1e-9)]),
            dl.Asset("stETH", 1.0, venues=[pool], oracle=dl.Oracle.spot(),
                     peg=dl.Peg("ETH", read_at_peg_by=("aave_v3",))),
            dl.Asset("USDC", 1.0),
        ]
    )  # fmt: skip
    fund = pl.DataFrame({"account": ["f", "f"], "holding": ["stETH", "debt"],
                         "amount": [10.0, 15_000.0]})  # fmt: skip
    lend = pl.DataFrame(
        {"account": ["l"], "collateral_asset": ["stETH"], "collateral": [10.0],
         "debt_asset": ["USDC"], "debt": [12_000.0]}
    )  # fmt: skip
    sc = sc.add_funds(dl.Funds.threshold(25.0, 23.75), fund).add_lending(
        dl.Lending.aave_v3({"stETH": dl.Reserve(0.8, 0.05)}), lend
    )
    ex = dl.exposure(sc)
    eth = ex.liquidation.filter(asset="ETH").sort("family")
    # Lending reads stETH at the peg, which moves with ETH: 10·P·0.8 = 12,000 at P = 1,500.
    assert eth.select("family", "price", "notional").rows() == [
        ("funds", 1_500.0, 20_000.0), ("lending", 1_500.0, 20_000.0),
    ]  # fmt: skip
    st = ex.liquidation.filter(asset="stETH")
    assert st["family"].to_list() == ["funds"]  # the peg reader does not see stETH's market
    # An isolated long and short of 1 ETH-PERP in one account: each side its own notional.
    perp_sc = dl.Scenario(assets=[dl.Asset("ETH-PERP", 2_000.0)]).add_perps(
        dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.Brackets.flat(0.01))]),
        pl.DataFrame({"account": ["p", "p"], "market": ["ETH-PERP"] * 2, "size": [1.0, -1.0],
                      "entry_price": [2_000.0] * 2, "margin": [200.0] * 2,
                      "mode": ["isolated"] * 2}),
    )  # fmt: skip
    liq = dl.exposure(perp_sc).liquidation.sort("direction")
    assert liq.select("direction", "notional").rows() == [("above", 2_000.0), ("below", 2_000.0)]
