"""The built-in examples and ``deleverage demo``: every example runs, writes its frames and
plots, and the frames load back with Polars."""

from __future__ import annotations

import runpy
from pathlib import Path

import polars as pl
import pytest

import deleverage as dl
from deleverage.cli import main


@pytest.mark.parametrize(
    ("example", "frames", "plots"),
    [
        ("eth_lending_thin", ["events", "steps", "accounts", "summary"], ["amplification"]),
        ("eth_lending", ["events", "steps", "accounts", "summary"], ["liquidation_map"]),
        ("btc_perps", ["events", "steps", "positions", "summary"], ["price_and_liquidations"]),
        ("bank_fire_sale", ["events", "steps", "funds", "summary"], ["fire_sale_rounds"]),
        (
            "lst_loop_unwind",
            ["events", "steps", "accounts", "positions", "funds", "summary"],
            ["peg", "price_and_liquidations", "perp_price_and_liquidations"],
        ),
    ],
)
def test_demo_writes_frames_that_load_back(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    example: str,
    frames: list[str],
    plots: list[str],
) -> None:
    assert main(["demo", "--example", example, "--accounts", "400", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "liquidations" in out
    for name in frames:
        assert pl.read_parquet(tmp_path / f"{name}.parquet").width > 0
    for name in plots:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_btc_perps_example_is_calibrated_as_documented() -> None:
    sc = dl.examples.btc_perps(n_accounts=2_000, seed=3)
    pos = sc.families[0].positions
    # 60 % long on average; nobody below maintenance at the start (equity ≥ notional/50).
    longs = (pos["size"] > 0).mean()
    assert 0.55 < longs < 0.65  # type: ignore[operator]
    res = dl.simulate(sc, shock=dl.Shock.instant(), max_extra_steps=0)
    assert res.summary["perp_liquidations"].item() == 0
    equity = res.positions["equity"]
    notional = res.positions["size"].abs() * res.positions["mark"]
    assert ((equity / notional) >= 1 / 50 - 1e-12).all()


def test_bank_fire_sale_crosses_the_leverage_limit() -> None:
    # 1.5 % of loans lost: the most levered banks cross λ = 33 and sell; the least levered
    # (bank_6, leverage 18 with 70 % loans) stays under the limit and never sells.
    res = dl.simulate(dl.examples.bank_fire_sale())
    sold = dict(zip(res.funds["account"], res.funds["sold_notional"], strict=True))
    assert sold["bank_3"] > 0
    assert sold["bank_6"] == 0.0


def test_delta_hedger_example_pays_for_trading_behind_the_cascade() -> None:
    # examples/delta_hedger.py: the liquidators' sales into the same book make the hedger's
    # fills worse than in the market where nobody liquidates.
    ns = runpy.run_path(str(Path(__file__).parent.parent / "examples" / "delta_hedger.py"))
    out = ns["main"]()
    assert out["liquidations"] > 0
    assert out["slippage_with_cascade"] > out["slippage_without_cascade"] > 0
    assert out["cost_of_the_cascade_quote"] > 0


def test_liquidator_bot_example_competes_within_its_capital() -> None:
    # examples/liquidator_bot.py: with the built-in liquidators capped at $150k a step, the bot
    # finds queued accounts every step and spends at most its $400k a step on them.
    ns = runpy.run_path(str(Path(__file__).parent.parent / "examples" / "liquidator_bot.py"))
    out = ns["main"]()
    assert out["bot_liquidations"] > 0
    assert out["builtin_liquidations"] > 0
    assert 0 < out["bot_paid"] <= 30 * 400_000.0 + 1e-6
    # The bonus (5 %) outweighs the slippage of selling the seized collateral on a deep book.
    assert out["bot_profit"] > 0


def test_replay_example_liquidates_only_after_the_injected_shock() -> None:
    # examples/replay.py on the shipped sample: the recorded four hours move ETH by under 2 %,
    # which breaches nobody; the injected −15 % does.
    ns = runpy.run_path(str(Path(__file__).parent.parent / "examples" / "replay.py"))
    out = ns["main"]()
    assert out["steps"] >= 1_196
    assert out["liquidated_without_shock"] == 0.0
    assert out["liquidated_before_shock"] == 0.0
    assert out["liquidated_after_shock"] > 0.0


LST_SHOCK = dl.Shock.instant(ETH=-0.25, **{"ETH-PERP": -0.25})


def test_lst_loop_unwind_depegs_and_recovers_at_the_queues_pace() -> None:
    res = dl.simulate(dl.examples.lst_loop_unwind(n_loopers=2_000), shock=LST_SHOCK)
    st = res.steps.filter(asset="stETH").sort("step")
    ratio = st["peg_ratio"].to_numpy()
    # The holder's sale and the loopers' liquidations depeg it by more than the pool's fee...
    assert 0.9 < ratio.min() < 0.99
    assert res.events.filter(kind="liquidation", protocol="spark").height > 0
    # ... and the queue, 1,000 stETH a step, buys it back: never more than its capacity, and
    # back within the pool's 4 bp fee of the peg by the end.
    assert st["redeemed"].max() == pytest.approx(1_000.0)
    assert abs(ratio[-1] - 1) < 4e-4
    # Once the pool rests at the peg the queue stops and the run is quiet on its path.
    assert res.summary["quiet"].item()
    assert res.summary["steps_run"].item() == 200
    # The desks pay their perp margin calls from their cash, then repay their loops or, with the
    # cash gone, sell stETH.
    kinds = res.events["kind"].cast(pl.String)
    assert {"owner_top_up", "owner_repay", "owner_sale"} <= set(kinds.to_list())
    sales = res.events.filter(kind="owner_sale")
    assert (sales["account"].cast(pl.String).str.starts_with("loop")).all()
    # Liquidators keep the ETH their stETH sales bring: nobody sells ETH, whose drawdown is the
    # shock's.
    eth = res.steps.filter(asset="ETH")
    assert eth["liquidated_notional"].sum() == 0.0


def test_lst_loop_unwind_without_withdrawals_drains_the_pool() -> None:
    sc = dl.examples.lst_loop_unwind(n_loopers=2_000, redemption_capacity=0.0)
    res = dl.simulate(sc, shock=LST_SHOCK)
    assert res.steps.filter(asset="stETH")["peg_ratio"].min() < 0.5
    assert res.summary["bad_debt"].item() > 1e6


def test_lst_loop_unwind_on_the_peg_oracle_liquidates_no_looper() -> None:
    # Read at the peg, a looper's health is 0.95·L/(L − 1) > 1 for every leverage L ≤ 14,
    # whatever the pool does.
    sc = dl.examples.lst_loop_unwind(n_loopers=2_000, oracle="peg")
    res = dl.simulate(sc, shock=LST_SHOCK)
    assert res.events.filter(kind="liquidation", protocol="spark").height == 0
    assert res.accounts["health"].min() > 0.95 * 14 / 13 - 1e-9  # type: ignore[operator]


def test_thin_eth_market_holds_the_stated_depth() -> None:
    # The sum of the bid levels within 2 % against the closed form. A square-root book walks
    # sigma·sqrt(Q/V): the bids within u of the mid are V·(u/sigma)², so within 2 % at
    # sigma = 2 % they are V; V was set to $17.5 M / $3,000.
    book = dl.examples.eth_lending_thin(n_accounts=0).assets[0].venues[0]
    px, qty = book.levels("bid")
    within = qty[px >= 3_000.0 * 0.98].sum()
    assert within * 3_000.0 == pytest.approx(17_500_000.0, rel=2e-3)  # up to the last tick
    assert book.depth("bid", 0.01) * 3_000.0 == pytest.approx(17_500_000.0 / 4, rel=2e-3)


def test_default_demo_market_amplifies_a_20pct_fall_by_over_1_3() -> None:
    # The amplification is recomputed from the steps frame: the lowest of the mid and the
    # reference against the exogenous -20 %; the deep market beside it barely amplifies.
    def amplification(sc: dl.Scenario) -> float:
        eth = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2)).steps.filter(asset="ETH")
        low = min(eth["mid"].min(), eth["reference"].min())  # type: ignore[type-var]
        return (1.0 - low / 3_000.0) / 0.2  # type: ignore[operator]

    thin, deep = dl.examples.eth_lending_thin(), dl.examples.eth_lending()
    assert amplification(thin) > 1.3
    assert amplification(deep) < 1.1
    # A third of each impact moves the book's anchor: the book refills to a mid that stays
    # below the exogenous level (the exogenous reference itself stays at 2,400).
    eth = dl.simulate(thin, shock=dl.Shock.instant(ETH=-0.2)).steps.filter(asset="ETH")
    assert eth["mid"][-1] < 2_400.0 * 0.95
    assert eth["reference"][-1] == 2_400.0


def test_cli_demo_defaults_to_the_thin_market(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--accounts", "10000"]) == 0
    out = capsys.readouterr().out
    assert "$17.5M of bids within 2 %" in out
