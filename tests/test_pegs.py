"""Pegged assets (issue 18, item 2): a pool's depeg under a sale larger than the redemption
channel's capacity and its recovery at the channel's pace, worked by hand on a constant-product
pool; the queue's delay and a redemption pause; the mint channel above the peg; the oracle
choice (market price or peg) deciding a looper's liquidation; values in quote following the
underlying; and bad pegs named."""

from __future__ import annotations

import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError

ETH = 2_000.0


def lst_market(
    redeem: dl.Channel | None = None,
    mint: dl.Channel | None = None,
    read_at_peg_by: tuple[str, ...] = (),
    eth_venues: tuple[dl.Venue, ...] = (),
    steps: int = 8,
) -> dl.Scenario:
    # A fee-free stETH/ETH constant-product pool of 1,000 + 1,000: stETH at 1 ETH, ETH at
    # 2,000 USD (no venue: the reference).
    pool = dl.ConstantProductPool(base_reserve=1_000.0, quote_reserve=1_000.0, fee=0.0)
    peg = dl.Peg("ETH", redeem=redeem, mint=mint, read_at_peg_by=read_at_peg_by)
    return dl.Scenario(
        assets=[
            dl.Asset("ETH", ETH, venues=list(eth_venues), oracle=dl.Oracle.spot()),
            dl.Asset("stETH", 1.0, venues=[pool], oracle=dl.Oracle.spot(), peg=peg),
        ],
        steps=steps,
    )


def test_a_sale_beyond_the_capacity_depegs_and_the_channel_pulls_it_back_at_its_pace() -> None:
    # Selling 100 stETH leaves x = 1,100 stETH and y = 10⁶/1,100 ETH: the price y/x is
    # (1,000/1,100)² = 0.8264 ETH. Each step the channel redeems 20 (its capacity, the pool
    # being far from the peg), so x = 1,100 − 20·s after s steps and the price is
    # (1,000/x)², back at 1 after 5 steps; the last purchase stops exactly at the peg.
    eng = dl.Engine(lst_market(redeem=dl.Channel(capacity=20.0, delay=2)))
    eng.step()
    fill = eng.submit("stETH", "sell", 100.0)
    # Proceeds in ETH, valued at 2,000: 100·1,000/1,100 ETH.
    assert fill.notional == pytest.approx(100 * 1_000 / 1_100 * ETH, rel=1e-12)
    for _ in range(7):
        eng.step()
    st = eng.steps().filter(asset="stETH").sort("step")
    ratio = [(1_000 / (1_100 - 20 * s)) ** 2 for s in range(1, 6)] + [1.0, 1.0]
    assert st["peg_ratio"].to_list()[0] == pytest.approx(1.0, rel=1e-15)
    assert st["peg_ratio"].to_list()[1:] == pytest.approx(ratio, rel=1e-12)
    assert st["redeemed"].to_list()[1:] == pytest.approx([20.0] * 5 + [0.0, 0.0], abs=1e-9)
    # The mid in quote is the price in ETH times ETH's.
    assert st["mid"].to_list()[1:] == pytest.approx([r * ETH for r in ratio], rel=1e-12)
    # The redemptions of steps 1–5 pay 20 ETH each two steps later (steps 3–7); the queue
    # owes what was redeemed in the last two steps.
    assert st["redemption_paid"].to_list() == pytest.approx([0, 0, 0, 20, 20, 20, 20, 20])
    assert st["redemption_queue"].to_list() == pytest.approx([0, 20, 40, 40, 40, 40, 20, 0])
    # Arbitrage is not a forced flow: the user's sale is the only event.
    assert eng.events(since=0)["kind"].cast(str).to_list() == ["user_sell"]


def test_without_a_channel_the_depeg_stays() -> None:
    eng = dl.Engine(lst_market())
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    for _ in range(3):
        eng.step()
    ratio = eng.steps().filter(asset="stETH")["peg_ratio"].to_list()
    assert ratio[1:] == pytest.approx([(1_000 / 1_100) ** 2] * 3, rel=1e-12)


def test_a_redemption_pause_stops_the_channel_and_its_queue() -> None:
    sc = lst_market(redeem=dl.Channel(capacity=20.0, delay=1)).with_outages(
        dl.Outage.redemption_pause("stETH", start=2, end=4)
    )
    eng = dl.Engine(sc)
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    for _ in range(7):
        eng.step()
    st = eng.steps().filter(asset="stETH").sort("step")
    assert st["redemption_paused"].to_list() == [False, False, True, True] + [False] * 4
    # 20 at step 1; none at 2–3; 20 a step from 4 until x is back at 1,000 (step 7).
    assert st["redeemed"].to_list() == pytest.approx([0, 20, 0, 0, 20, 20, 20, 20], abs=1e-9)
    # Step 1's redemption is due at step 2 but waits out the pause: paid at step 4.
    assert st["redemption_paid"].to_list() == pytest.approx([0, 0, 0, 0, 20, 20, 20, 20])
    x = [1_000.0, 1_080.0, 1_080.0, 1_080.0, 1_060.0, 1_040.0, 1_020.0, 1_000.0]
    assert st["peg_ratio"].to_list()[1:] == pytest.approx(
        [(1_000 / v) ** 2 for v in x[1:]], rel=1e-12
    )


def test_the_mint_channel_sells_above_the_peg_less_nothing_more_than_its_fee() -> None:
    # Buying 100 stETH leaves x = 900: price (1,000/900)² = 1.2346. Minting at 1 + 1 % sells
    # into the pool until (1,000/x)² = 1.01, x = 1,000/√1.01 (capacity 1,000: not binding).
    eng = dl.Engine(lst_market(mint=dl.Channel(capacity=1_000.0, fee=0.01)))
    eng.step()
    eng.submit("stETH", "buy", 100.0)
    eng.step()
    st = eng.steps().filter(asset="stETH", step=1)
    assert st["peg_ratio"].item() == pytest.approx(1.01, rel=1e-12)
    assert st["minted"].item() == pytest.approx(1_000 / 1.01**0.5 - 900, rel=1e-12)


def test_the_value_in_quote_follows_the_underlying() -> None:
    # ETH falls 25 % on its own curve; stETH, at its peg, is worth 1,500 with nothing traded.
    eth_curve = dl.ImpactCurve.linear(ETH, 1e-9)
    sc = lst_market(eth_venues=(eth_curve,), steps=2)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25), max_extra_steps=0)
    st = res.steps.filter(asset="stETH")
    assert st["mid"].to_list() == pytest.approx([1_500.0, 1_500.0], rel=1e-9)
    assert st["reference"].to_list() == pytest.approx([1_500.0, 1_500.0], rel=1e-12)
    assert st["peg_ratio"].to_list() == pytest.approx([1.0, 1.0], rel=1e-15)
    assert res.steps.filter(asset="ETH")["peg_ratio"].to_list() == [None, None]


def looper(read_at_peg_by: tuple[str, ...]) -> dl.Scenario:
    # A looper with 100 stETH against 85 ETH of debt, LT 0.93 (Aave's E-mode for ETH
    # correlated assets): HF at the peg 100·0.93/85 = 1.094.
    sc = lst_market(read_at_peg_by=read_at_peg_by, steps=4)
    pos = pl.DataFrame(
        {
            "account": ["loop"],
            "collateral_asset": ["stETH"],
            "collateral": [100.0],
            "debt_asset": ["ETH"],
            "debt": [85.0],
        }
    )
    aave = dl.Lending.aave_v3({"stETH": dl.Reserve(0.93, 0.01)}, version="3.3")
    return sc.add_lending(aave, pos)


@pytest.mark.parametrize(("at_peg", "liquidated"), [((), True), (("aave_v3",), False)])
def test_the_oracle_choice_decides_whether_a_depeg_liquidates(
    at_peg: tuple[str, ...], liquidated: bool
) -> None:
    # After a 100-stETH sale the market price is 0.8264 ETH: HF 100·0.8264·0.93/85 = 0.904 on
    # the market price; on the peg (1 ETH × ETH's oracle) it stays 1.094.
    eng = dl.Engine(looper(at_peg))
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    eng.step()
    kinds = eng.events(since=0)["kind"].cast(str).to_list()
    assert ("liquidation" in kinds) is liquidated
    health = eng.state().accounts["health"].item()
    if not liquidated:
        assert health == pytest.approx(100 * 0.93 / 85, rel=1e-12)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: dl.Scenario(
                assets=[
                    dl.Asset("A", 1.0, peg=dl.Peg("B")),
                    dl.Asset("B", 1.0, peg=dl.Peg("A")),
                ]
            ),
            "peg cycle",
        ),
        (lambda: lst_market(redeem=dl.Channel(capacity=-1.0)), r"stETH\.peg\.redeem\.capacity.*-1"),
        (lambda: lst_market(mint=dl.Channel(capacity=1.0, fee=1.0)), r"stETH\.peg\.mint\.fee.*1"),
        (
            lambda: dl.Scenario(assets=[dl.Asset("X", 1.0, peg=dl.Peg("Y"))]),
            "to must be one of the scenario's assets",
        ),
        (lambda: looper(("compound",)), "'compound' is not a protocol"),
        (
            lambda: lst_market().with_outages(dl.Outage.redemption_pause("stETH", 0, 2)),
            "redemption channel",
        ),
    ],
)
def test_bad_pegs_are_named(build: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        dl.simulate(build(), max_extra_steps=0)  # type: ignore[operator]


def test_bad_peg_arguments_are_named() -> None:
    with pytest.raises(ScenarioError, match="delay"):
        dl.Channel(capacity=1.0, delay=-1)
    with pytest.raises(ScenarioError, match="capacity"):
        dl.Channel(capacity="lots")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="redeem"):
        dl.Peg("ETH", redeem=5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="peg"):
        dl.Asset("stETH", 1.0, peg="ETH")  # type: ignore[arg-type]


def test_pegs_round_trip_through_a_scenario_file(tmp_path: object) -> None:
    from pathlib import Path

    sc = looper(("aave_v3",))
    steth = sc.assets[1]
    peg = dl.Peg(
        "ETH",
        redeem=dl.Channel(capacity=20.0, delay=3, fee=0.001),
        mint=dl.Channel(capacity=float("inf")),
        read_at_peg_by=("aave_v3",),
    )
    sc = dl.Scenario(
        assets=[sc.assets[0], dl.Asset("stETH", 1.0, steth.venues, steth.oracle, peg=peg)],
        steps=4,
    ).add_lending(sc.lending[0].protocol, sc.lending[0].positions)
    sc = sc.with_outages(dl.Outage.redemption_pause("stETH", start=1, end=3))
    path = Path(str(tmp_path)) / "pegs.toml"
    sc.to_toml(path)
    back = dl.Scenario.from_toml(path)
    assert back.assets[1].peg == peg
    assert back.outages == sc.outages
    a = dl.simulate(sc, max_extra_steps=0)
    b = dl.simulate(back, max_extra_steps=0)
    assert a.steps.equals(b.steps)
    bad = path.read_text().replace("capacity = 20.0", "capacity = -20.0")
    path.write_text(bad)
    with pytest.raises(ScenarioError, match=r"capacity.*-20"):
        dl.simulate(dl.Scenario.from_toml(path))


def loopers(read_at_peg_by: tuple[str, ...] = ()) -> dl.Scenario:
    # Two stETH/ETH loopers (LT 0.93, bonus 1 %): A with 90 ETH of debt (HF 1.033 at the peg),
    # B with 87 (HF 1.069).
    sc = lst_market(read_at_peg_by=read_at_peg_by, steps=3)
    pos = pl.DataFrame(
        {
            "account": ["A", "B"],
            "collateral_asset": ["stETH", "stETH"],
            "collateral": [100.0, 100.0],
            "debt_asset": ["ETH", "ETH"],
            "debt": [90.0, 87.0],
        }
    )
    aave = dl.Lending.aave_v3({"stETH": dl.Reserve(0.93, 0.01)}, version="3.3")
    return sc.add_lending(aave, pos)


def test_a_loopers_liquidation_depegs_the_lst_for_the_next_looper() -> None:
    # A sale of 30 stETH leaves the pool at x = 1,030: price (1,000/1,030)² = 0.94260 ETH.
    # A: HF 100·0.94260·0.93/90 = 0.974 (≥ 0.95: half its debt, 45 ETH, is repaid), seizing
    # 45·1.01/0.94260 = 48.218 stETH, sold into the pool: x = 1,078.2, price 0.8602.
    # B, healthy at 0.94260 (HF 1.0076), has HF 0.920 at 0.8602 and is liquidated in turn.
    p1 = (1_000 / 1_030) ** 2
    eng = dl.Engine(loopers())
    eng.step()
    eng.submit("stETH", "sell", 30.0)
    eng.step()
    liq = eng.events(since=0).filter(kind="liquidation").sort("round")
    first = liq.row(0, named=True)
    assert first["account"] == "A"
    assert first["debt_repaid"] == pytest.approx(45.0, rel=1e-12)
    seized = 45 * 1.01 / p1
    assert first["collateral_seized"] == pytest.approx(seized, rel=1e-12)
    assert first["qty"] == pytest.approx(seized, rel=1e-12)
    x = 1_030 + seized
    assert first["price_after"] == pytest.approx((1_000 / x) ** 2 * ETH, rel=1e-12)
    assert 100 * p1 * 0.93 / 87 > 1 > 100 * (1_000 / x) ** 2 * 0.93 / 87
    assert "B" in liq["account"].to_list()
    assert liq.filter(account="B")["round"].min() > 0  # type: ignore[operator]


def test_loopers_that_read_the_peg_ride_out_the_depeg() -> None:
    eng = dl.Engine(loopers(read_at_peg_by=("aave_v3",)))
    eng.step()
    eng.submit("stETH", "sell", 30.0)
    eng.step()
    assert eng.events(since=0).filter(kind="liquidation").height == 0
    health = eng.state().accounts.sort("account")["health"].to_list()
    assert health == pytest.approx([93 / 90, 93 / 87], rel=1e-12)


def test_a_redemption_without_delay_is_paid_in_its_own_step() -> None:
    eng = dl.Engine(lst_market(redeem=dl.Channel(capacity=20.0, delay=0)))
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    for _ in range(3):
        eng.step()
    st = eng.steps().filter(asset="stETH").sort("step")
    assert st["redemption_paid"].to_list() == pytest.approx([0, 20, 20, 20])
    assert st["redemption_queue"].to_list() == pytest.approx([0, 0, 0, 0])


def test_a_pool_at_rest_on_the_peg_stops_the_channel_and_the_run_goes_quiet() -> None:
    # Back at the peg, the pool's capacity to its own price is rounding, not a trade.
    eng = dl.Engine(lst_market(redeem=dl.Channel(capacity=20.0, delay=0), steps=8))
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    assert eng.run_to_quiet(max_extra_steps=50)
    st = eng.steps().filter(asset="stETH")
    assert st["redeemed"].to_list()[6:] == [0.0] * (st.height - 6)


def test_a_manual_liquidation_reads_the_protocols_peg_too() -> None:
    # Read at the peg, A's health is 93/90 = 1.033 after the sale: the user cannot liquidate it.
    eng = dl.Engine(loopers(read_at_peg_by=("aave_v3",)))
    eng.step()
    eng.submit("stETH", "sell", 30.0)
    with pytest.raises(dl.DeleverageError, match="health"):
        eng.liquidate("A", "ETH", "stETH", 45.0)


def test_summary_drawdowns_and_the_engine_state_are_in_quote() -> None:
    # ETH −20 %: stETH at its peg follows it in quote (2,000 → 1,600), nothing traded.
    sc = lst_market(eth_venues=(dl.ImpactCurve.linear(ETH, 1e-12),), steps=2)
    res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2), max_extra_steps=0)
    assert res.summary["exogenous_drawdown_stETH"].item() == pytest.approx(-0.2, rel=1e-9)
    assert res.summary["drawdown_stETH"].item() == pytest.approx(-0.2, rel=1e-6)
    eng = dl.Engine(lst_market())
    eng.submit("stETH", "sell", 100.0)
    venue = eng.state().venues.filter(asset="stETH").row(0, named=True)
    assert venue["mid"] == pytest.approx((1_000 / 1_100) ** 2 * ETH, rel=1e-12)


def test_a_liquidation_map_prices_a_pegged_asset_through_its_underlying() -> None:
    # stETH/ETH loopers (HF 1.033 and 1.069 at the peg) do not care where ETH goes.
    m = dl.liquidation_map(loopers(), "ETH", [0.0, -0.5], cascade=False)
    assert m["liquidatable_debt"].to_list() == [0.0, 0.0]


def test_a_chain_of_pegs_that_leaves_the_price_range_is_named() -> None:
    sc = dl.Scenario(
        assets=[
            dl.Asset("A", 1e60),
            dl.Asset("B", 1e60, peg=dl.Peg("A")),
        ]
    )
    with pytest.raises(ScenarioError, match=r"B\.price in quote"):
        dl.simulate(sc, max_extra_steps=0)


def test_a_sweep_measures_a_pegged_assets_drawdown_in_quote() -> None:
    # stETH at 1 ETH, ETH at 3,000 on a deep curve: with no positions, an instant ETH fall of
    # 10 % takes stETH's reference (and mid) in quote from 3,000 to 2,700: drawdown −10 %, the
    # exogenous one too (not 1/3,000 − 1, the ratio of its price in ETH to its value in quote).
    pool = dl.ConstantProductPool(base_reserve=1_000.0, quote_reserve=1_000.0, fee=0.0)
    sc = dl.Scenario(
        assets=[
            dl.Asset("ETH", 3_000.0, venues=[dl.ImpactCurve.linear(3_000.0, 1e-12)]),
            dl.Asset("stETH", 1.0, venues=[pool], oracle=dl.Oracle.spot(), peg=dl.Peg("ETH")),
        ],
        steps=3,
    )
    calm = dl.sweep(sc, runs=1, threads=1).row(0, named=True)
    assert calm["drawdown_stETH"] == 0.0
    assert calm["exogenous_drawdown_stETH"] == 0.0
    fall = dl.sweep(sc, dl.Shock.instant({"ETH": -0.1}), runs=1, threads=1).row(0, named=True)
    assert fall["exogenous_drawdown_stETH"] == pytest.approx(-0.1, rel=1e-12)
    assert fall["drawdown_stETH"] == pytest.approx(-0.1, rel=1e-9)


def test_the_peg_plot_of_an_asset_without_a_channel_says_nothing_was_redeemed() -> None:
    import matplotlib

    matplotlib.use("Agg")
    # The same sale as above: (1,000 / 1,100)² below the peg, and no channel to buy it back.
    eng = dl.Engine(lst_market())
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    eng.step()
    fig = dl.plot.peg(eng.result(), "stETH")
    top, bottom, owed = fig.axes
    assert top.lines[1].get_ydata()[-1] == pytest.approx((1_000 / 1_100) ** 2, rel=1e-12)
    # Amounts: neither panel goes below zero, and the empty one says why it is empty.
    assert bottom.get_ylim()[0] == 0.0
    assert owed.get_ylim()[0] == 0.0
    assert [t.get_text() for t in bottom.texts] == [
        "nothing redeemed: no channel bought stETH back in this run"
    ]
    # With a channel the panel has its bars and no such note.
    sc = lst_market(redeem=dl.Channel(capacity=20.0, delay=1))
    eng = dl.Engine(sc)
    eng.step()
    eng.submit("stETH", "sell", 100.0)
    eng.step()
    fig = dl.plot.peg(eng.result(), "stETH")
    assert len(fig.axes[1].texts) == 0
    assert max(p.get_height() for p in fig.axes[1].patches) == pytest.approx(20.0)
