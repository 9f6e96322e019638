"""The reconstruction of 10–11 October 2025 (docs/cases/october-2025.md): the laws each run must
obey, worked out by hand from the stated inputs, and the comparison with the public record
within stated bands for the calibrated figures."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import deleverage as dl

# The inputs as the case page states them, typed here by hand.
HIGH, LOW = 122_574.46, 104_782.88  # CoinShares: BTC's high and low
EXOGENOUS_LOW = 0.90  # the calibrated exogenous fall
HL_MMR = 0.5 / 40  # Hyperliquid: 40× maximum leverage, maintenance margin half of 1/40
USDE_RATIO = 0.95  # the assumed collateral value ratio of USDe
STEPS = 240  # an hour of 15-second steps


@pytest.fixture(scope="module")
def oct25() -> tuple[dl.Scenario, dl.Result]:
    sc = dl.examples.october_2025()
    return sc, dl.examples.october_2025_run(sc)


def _initial(sc: dl.Scenario, k: int) -> pl.DataFrame:
    p = sc.families[k].positions
    return p.select(
        pl.col("account").cast(pl.String),
        pl.col("size").alias("size0"),
        pl.col("entry_price").alias("entry0"),
        pl.col("margin").alias("margin0"),
    )


def _kind(res: dl.Result, protocol: str | None, kind: str) -> pl.DataFrame:
    ev = res.events.filter(pl.col("kind") == kind)
    if protocol is not None:
        ev = ev.filter(pl.col("protocol") == protocol)
    return ev.with_columns(pl.col("account").cast(pl.String))


def test_the_path_runs_from_the_high_to_the_calibrated_low() -> None:
    path = dl.examples.october_2025_shock().prices["BTC"]
    assert len(path) == STEPS
    assert path[0] == pytest.approx(HIGH, rel=1e-12)
    # Log-linear to 0.90 of the high at 20 minutes (step 80), flat after.
    assert path[80] == pytest.approx(HIGH * EXOGENOUS_LOW, rel=1e-12)
    assert path[40] == pytest.approx(HIGH * EXOGENOUS_LOW**0.5, rel=1e-12)
    np.testing.assert_allclose(path[80:], HIGH * EXOGENOUS_LOW, rtol=1e-12)


def test_the_population_is_the_stated_one(oct25: tuple[dl.Scenario, dl.Result]) -> None:
    sc, _ = oct25
    hl, bn = (sc.families[k].positions for k in (0, 1))
    # $13.8 B of open interest at the high, scaled 1/1,000; the makers short 15 % of it.
    assert float((hl["size"].abs() * HIGH).sum()) == pytest.approx(13.8e6, rel=1e-9)
    mm = hl.filter(pl.col("account").str.starts_with("mm"))
    assert (mm["size"] < 0).all()
    assert float((mm["size"].abs() * HIGH).sum()) == pytest.approx(0.15 * 13.8e6, rel=1e-9)
    # The makers' hedges are at 30×.
    np.testing.assert_allclose(mm["margin"], mm["size"].abs() * HIGH / 30.0, rtol=1e-12)
    # Binance: $900 M of USDe-margined longs, every one safe at the high.
    assert (bn["size"] > 0).all()
    assert float((bn["size"] * HIGH).sum()) == pytest.approx(0.9e6, rel=1e-9)
    assert (bn["margin_asset"] == "USDe").all()


def test_adl_closes_at_the_bankruptcy_price(oct25: tuple[dl.Scenario, dl.Result]) -> None:
    # Each counterparty cut by r at BP realises side·r·(BP − EP) on its own entry price (an
    # ADL's partial close leaves the rest at its EP), with BP = notional/qty of the event.
    sc, res = oct25
    adl = _kind(res, "hyperliquid", "adl").join(_initial(sc, 0), on="account")
    assert adl.height > 100
    bp = adl["notional"] / adl["qty"]
    want = np.sign(adl["size0"]) * adl["qty"] * (bp - adl["entry0"])
    np.testing.assert_allclose(adl["realized_pnl"], want, rtol=1e-9, atol=1e-6)
    # The bankrupt side is the longs (BTC fell): every counterparty is a short, and the BP of
    # a bankrupt long is below the high, so every counterparty gains.
    assert (adl["size0"] < 0).all()
    assert (bp < HIGH).all()
    assert (adl["realized_pnl"] > 0).all()


def test_a_bankrupt_long_is_closed_at_its_own_bankruptcy_price(
    oct25: tuple[dl.Scenario, dl.Result],
) -> None:
    # A cross account with one position and no earlier fill has equity W + s·(mark − EP), so
    # its bankruptcy price is mark − E/s = EP − W/s whatever the mark. A long the book never
    # filled and ADL closed whole must be closed at that price, by hand from its inputs, and
    # the counterparties' cuts at that price must add up to its size.
    sc, res = oct25
    pos = res.positions.filter(pl.col("protocol") == "hyperliquid").join(
        _initial(sc, 0), on="account"
    )
    whole = pos.filter(
        (pl.col("size0") > 0) & (pl.col("liquidated_qty") == 0.0) & (pl.col("adl_qty") > 0.0)
    )
    assert whole.height > 20
    adl = _kind(res, "hyperliquid", "adl").with_columns(
        (pl.col("notional") / pl.col("qty")).alias("price")
    )
    price, qty = adl["price"].to_numpy(), adl["qty"].to_numpy()
    for size0, entry0, margin0 in whole.select("size0", "entry0", "margin0").iter_rows():
        bp = entry0 - margin0 / size0
        at = np.abs(price - bp) <= 1e-9 * bp
        assert qty[at].sum() == pytest.approx(size0, rel=1e-9)


def test_ranked_by_profit_adl_closes_shorts_in_order_of_entry() -> None:
    # Ranked by PnL % alone, a short's score is (EP − mark)/EP = 1 − mark/EP: the order is the
    # entry prices', highest first, at every mark. So the shorts ADL ever reached are the
    # highest entries among the shorts it could still reach: no short left untouched (and never
    # liquidated) entered above one that was cut.
    sc = dl.examples.october_2025(adl="pnl_ratio")
    res = dl.examples.october_2025_run(sc)
    pos = res.positions.filter(pl.col("protocol") == "hyperliquid").join(
        _initial(sc, 0), on="account"
    )
    shorts = pos.filter(pl.col("size0") < 0)
    cut = shorts.filter(pl.col("adl_qty") > 0)
    spared = shorts.filter((pl.col("adl_qty") == 0) & (pl.col("liquidated_qty") == 0))
    assert cut.height > 50
    assert spared.height > 50
    assert cut["entry0"].min() >= spared["entry0"].max()
    # The makers entered at the high, below the shorts cut: none of them is reached.
    assert (spared["account"].str.starts_with("mm")).sum() == 20


def test_adl_only_where_no_fund_could_pay(oct25: tuple[dl.Scenario, dl.Result]) -> None:
    # Hyperliquid's book stage has no fund and no fee: nothing is paid in or out, so every
    # deficit is ADL'd. Binance's fund ($1 B scaled) pays every deficit and is never ADL'd.
    _, res = oct25
    ledgers = res.meta["perp_ledgers"]
    hl, bn = ledgers["hyperliquid"], ledgers["binance"]
    assert hl["fund_initial"] == hl["insurance_fund"] == hl["fees"] == hl["deficits"] == 0.0
    assert _kind(res, "hyperliquid", "insurance_payment").height == 0
    assert (_kind(res, "hyperliquid", "perp_liquidation")["insurance_change"] == 0.0).all()
    assert hl["adl_count"] > 0
    assert bn["adl_count"] == 0
    assert _kind(res, "binance", "adl").height == 0
    paid = -float(_kind(res, "binance", "insurance_payment")["insurance_change"].sum())
    assert paid > 0.0
    assert bn["insurance_fund"] == pytest.approx(1e6 - paid + bn["fees"], rel=1e-9)
    assert bn["insurance_fund"] > 0.0


def test_adl_conserves_position_size(oct25: tuple[dl.Scenario, dl.Result]) -> None:
    # What ADL closes on the bankrupt side it closes on the counterparties: the same quantity.
    sc, res = oct25
    adl = _kind(res, "hyperliquid", "adl")
    led = res.meta["perp_ledgers"]["hyperliquid"]
    total = float(adl["qty"].sum())
    assert led["adl_bankrupt_qty"] == pytest.approx(total, rel=1e-9)
    assert led["adl_counterparty_qty"] == pytest.approx(total, rel=1e-9)
    pos = res.positions.filter(pl.col("protocol") == "hyperliquid").join(
        _initial(sc, 0), on="account"
    )
    longs, shorts = pos.filter(pl.col("size0") > 0), pos.filter(pl.col("size0") < 0)
    assert float(longs["adl_qty"].sum()) == pytest.approx(total, rel=1e-9)
    assert float(shorts["adl_qty"].sum()) == pytest.approx(total, rel=1e-9)
    # Every position's size went only where the frames say: the book, ADL, the exchange.
    closed = pos["liquidated_qty"] + pos["adl_qty"] + pos["absorbed_qty"]
    np.testing.assert_allclose(pos["size0"].abs() - pos["size"].abs(), closed, atol=1e-9)


def test_hyperliquid_maintenance_is_one_and_a_quarter_percent(
    oct25: tuple[dl.Scenario, dl.Result],
) -> None:
    _, res = oct25
    live = res.positions.filter(
        (pl.col("protocol") == "hyperliquid") & (pl.col("status") == "active")
    )
    assert live.height > 100
    np.testing.assert_allclose(
        live["maintenance_margin"], HL_MMR * live["size"].abs() * live["mark"], rtol=1e-9
    )


def test_usde_margin_is_valued_at_the_exchange_s_own_book(
    oct25: tuple[dl.Scenario, dl.Result],
) -> None:
    # A Binance pool never liquidated still holds its USDe: its collateral value is the units
    # times the exchange's oracle for USDe (the mid of its own book) times 0.95, and its
    # equity that plus its uPnL (its quote wallet is empty).
    sc, res = oct25
    last = res.steps.filter(pl.col("step") == pl.col("step").max())
    usde = float(last.filter(pl.col("asset") == "USDe")["oracle"].item())
    usde_mid = float(last.filter(pl.col("asset") == "USDe")["mid"].item())
    assert usde == pytest.approx(usde_mid, rel=1e-12)  # a spot oracle over its book
    assert usde < 0.9  # and that book is still depegged at the end
    pos = res.positions.filter(
        (pl.col("protocol") == "binance") & (pl.col("liquidated_qty") == 0.0)
    ).join(_initial(sc, 1), on="account")
    assert pos.height > 50
    np.testing.assert_allclose(pos["collateral_value"], pos["margin0"] * usde * USDE_RATIO)
    np.testing.assert_allclose(pos["wallet"], 0.0, atol=1e-9)
    upnl = pos["size"] * (pos["mark"] - pos["entry0"])
    np.testing.assert_allclose(pos["equity"], pos["collateral_value"] + upnl, rtol=1e-9)


def test_the_depeg_is_on_the_exchange_s_book_not_the_pool() -> None:
    # Cut off (the default), every forced USDe sale hits Binance's book; connected, the router
    # sends most of it to the deep pool, and the depeg is a fraction as deep. (A smaller
    # population of the same totals: the router's split into the pool is slow per sale.)
    cut, joined = (
        dl.examples.october_2025_run(dl.examples.october_2025(200, 50, 5, connected=c))
        for c in (False, True)
    )
    sales = _kind(cut, "binance", "collateral_sale")
    assert sales.height > 0
    assert (sales["asset"] == "USDe").all()
    assert cut.fills.filter((pl.col("asset") == "USDe") & (pl.col("venue") == 1)).height == 0
    pool = joined.fills.filter((pl.col("asset") == "USDe") & (pl.col("venue") == 1))
    book = joined.fills.filter((pl.col("asset") == "USDe") & (pl.col("venue") == 0))
    assert pool["qty"].sum() > book["qty"].sum() > 0.0
    low_cut = cut.steps.filter(pl.col("asset") == "USDe")["mid"].min()
    low_joined = joined.steps.filter(pl.col("asset") == "USDe")["mid"].min()
    assert isinstance(low_cut, float)
    assert isinstance(low_joined, float)
    assert 1.0 - low_joined < 0.2 * (1.0 - low_cut)


def test_the_makers_sell_exactly_what_adl_took_from_their_hedges(
    oct25: tuple[dl.Scenario, dl.Result],
) -> None:
    _, res = oct25
    adl = _kind(res, "hyperliquid", "adl").filter(pl.col("account").str.starts_with("mm"))
    sells = res.events.filter(pl.col("kind") == "user_sell")
    assert adl.height > 0
    assert (sells["asset"] == "BTC").all()
    # A sale submitted after step k is an event of step k + 1, for the quantity cut in k.
    cut = adl.group_by("step").agg(pl.col("qty").sum()).with_columns(pl.col("step") + 1)
    got = sells.group_by("step").agg(pl.col("qty").sum())
    both = cut.join(got, on="step", how="full", coalesce=True, suffix="_sold").sort("step")
    np.testing.assert_allclose(both["qty_sold"], both["qty"], rtol=1e-9)


def test_without_the_hedge_sales_spot_follows_the_path() -> None:
    # Nobody else trades the spot book: without the makers' sales its mid is the path, and the
    # perp index is the path too.
    res = dl.examples.october_2025_run(dl.examples.october_2025(), hedge_sales=False)
    spot = res.steps.filter(pl.col("asset") == "BTC").sort("step")
    np.testing.assert_allclose(spot["mid"], spot["reference"], rtol=1e-12)
    assert res.summary["drawdown_BTC"].item() == pytest.approx(EXOGENOUS_LOW - 1.0, abs=1e-9)
    perp = res.steps.filter(pl.col("asset") == "BTC-PERP").sort("step")
    np.testing.assert_allclose(perp["reference"], spot["reference"], rtol=1e-12)


def test_the_reconstruction_lands_near_the_public_record(
    oct25: tuple[dl.Scenario, dl.Result],
) -> None:
    # Calibrated figures within stated bands: BTC's spot low (public 104,782.88, CoinShares)
    # within ±1 %, and USDe's low on Binance (public ≈ $0.65) within 0.62–0.68.
    _, res = oct25
    spot_low = res.steps.filter(pl.col("asset") == "BTC")["mid"].min()
    assert isinstance(spot_low, float)
    assert abs(spot_low / LOW - 1.0) <= 0.01
    usde_low = res.steps.filter(pl.col("asset") == "USDe")["mid"].min()
    assert isinstance(usde_low, float)
    assert 0.62 <= usde_low <= 0.68


def test_the_record_table_names_its_scale_free_figures(
    oct25: tuple[dl.Scenario, dl.Result],
) -> None:
    sc, res = oct25
    t = dl.examples.october_2025_record(res)
    assert t["basis"].to_list()[:2] == ["calibrated", "calibrated"]
    assert set(t["basis"].to_list()[2:]) == {"predicted"}
    row = dict(zip(t["figure"], t["engine"], strict=True))
    # Scaled back up by 1,000, and counted from the frames: the ADL events per liquidation
    # event, and the share of the 2,020 Hyperliquid positions ADL reached.
    ev = res.events.filter(pl.col("protocol") == "hyperliquid")
    adl = ev.filter(pl.col("kind") == "adl")
    fills = ev.filter(pl.col("kind") == "perp_liquidation")
    assert row["ADL notional, Hyperliquid (USD)"] == pytest.approx(adl["notional"].sum() * 1e3)
    assert row["ADL events per liquidation event"] == adl.height / fills.height
    assert sc.families[0].positions.height == 2_020
    assert row["positions ADL'd, share"] == adl["account"].n_unique() / 2_020
    assert row["BTC fall to its low"] == pytest.approx(
        res.steps.filter(pl.col("asset") == "BTC")["mid"].min() / HIGH - 1.0
    )
    with pytest.raises(dl.ScenarioError, match="no Hyperliquid events"):
        dl.examples.october_2025_record(dl.simulate(dl.examples.black_thursday(n_vaults=50)))
