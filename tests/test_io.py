"""The loaders of ``dl.io`` (issue 20): each on its shipped sample and on small hand-made files
whose converted values are worked out by hand (decimals, basis points, sides, timestamps), and
malformed input named by file, row and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import deleverage as dl
from deleverage.exceptions import ScenarioError

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # 1,767,225,600 s: the samples' first timestamp


def test_depth_snapshots_of_every_exchange_give_the_same_book() -> None:
    # Bids 3.2 @ 2,999.5, 5 @ 2,999, 8.75 @ 2,998.5; asks 2.9 @ 3,000.5, 6.1 @ 3,001, 9 @ 3,001.5.
    binance = dl.io.read_depth(dl.io.sample("binance_depth.json"))
    assert (binance.best_bid, binance.best_ask, binance.mid) == (2_999.5, 3_000.5, 3_000.0)
    # Selling 10 takes 3.2 at 2,999.5, 5 at 2,999 and 1.8 at 2,998.5.
    fill = binance.quote_sell(10.0)
    assert fill.notional == pytest.approx(3.2 * 2_999.5 + 5 * 2_999 + 1.8 * 2_998.5, rel=1e-15)
    bybit = dl.io.read_depth(dl.io.sample("bybit_orderbook.json"), "bybit")
    okx = dl.io.read_depth(dl.io.sample("okx_books.json"), "okx")
    ccxt = dl.io.read_depth(
        {"bids": [[2_999.5, 3.2], [2_998.5, 8.75], [2_999.0, 5.0]],  # any order: sorted
         "asks": [[3_000.5, 2.9], [3_001.0, 6.1], [3_001.5, 9.0]], "timestamp": 0},
        "ccxt",
    )  # fmt: skip
    for book in (bybit, okx, ccxt):
        assert book.quote_sell(10.0).notional == fill.notional
        assert book.quote_buy(10.0).notional == binance.quote_buy(10.0).notional


def test_bad_depth_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ScenarioError, match=r"bids: row 1: price must be a positive number, got 'x'"
    ):
        dl.io.read_depth({"bids": [["1", "1"], ["x", "2"]], "asks": [["2", "1"]]})
    with pytest.raises(ScenarioError, match="crossed book"):
        dl.io.read_depth({"bids": [["3", "1"]], "asks": [["2", "1"]]})
    with pytest.raises(ScenarioError, match="asks must be a non-empty list"):
        dl.io.read_depth({"bids": [["1", "1"]]})
    bad = tmp_path / "depth.json"
    bad.write_text("{not json")
    with pytest.raises(ScenarioError, match=r"depth\.json: not JSON"):
        dl.io.read_depth(bad)
    with pytest.raises(ScenarioError, match="format must be"):
        dl.io.read_depth({"bids": [], "asks": []}, "kraken")  # type: ignore[arg-type]


def test_tardis_wide_snapshots() -> None:
    # Three book_snapshot_5 rows a minute apart; the book drifts down 1 a minute; level k of a
    # snapshot s: ask 3,000.5 − s + 0.5k (2 + k), bid 2,999.5 − s − 0.5k (2.5 + k).
    snaps = dl.io.read_book_snapshots(dl.io.sample("tardis_book_snapshot_5.csv"))
    assert snaps.height == 3 * 10
    assert snaps["timestamp"].unique().sort().to_list() == [
        T0 + timedelta(minutes=m) for m in range(3)
    ]
    last = snaps.filter(pl.col("timestamp") == T0 + timedelta(minutes=2))
    bids = last.filter(side="bid").sort("price", descending=True)
    assert bids["price"].to_list() == [2_997.5, 2_997.0, 2_996.5, 2_996.0, 2_995.5]
    assert bids["qty"].to_list() == [2.5, 3.5, 4.5, 5.5, 6.5]
    # The frame a replay takes.
    book = dl.OrderBook.from_levels([2_999.5], [1.0], [3_000.5], [1.0])
    sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0, venues=[book])], step_seconds=60.0)
    sc.with_book_snapshots("ETH", snaps)


def test_tardis_long_rows_keep_the_snapshot() -> None:
    # Four snapshot rows (one of amount 0, dropped) and one update row (not a snapshot).
    snaps = dl.io.read_book_snapshots(dl.io.sample("tardis_incremental_book_L2.csv"))
    assert snaps.select("side", "price", "qty").rows() == [
        ("ask", 3_000.5, 2.0), ("bid", 2_999.0, 4.0), ("bid", 2_999.5, 3.0),
    ]  # fmt: skip
    assert snaps["timestamp"].unique().to_list() == [T0]


def test_bad_snapshot_rows_are_named(tmp_path: Path) -> None:
    f = tmp_path / "l2.csv"
    f.write_text("exchange,symbol,timestamp,local_timestamp,side,price,amount\n"
                 "x,ETH,1,1,bid,10,1\nx,ETH,1,1,middle,10,1\n")  # fmt: skip
    with pytest.raises(ScenarioError, match=r"l2\.csv: row 1: side must be bid or ask, got 'mid"):
        dl.io.read_book_snapshots(f)
    f.write_text(
        "exchange,symbol,timestamp,local_timestamp,side,price,amount\nx,ETH,1,1,bid,ten,1\n"
    )
    with pytest.raises(ScenarioError, match="row 0: price must be a finite number, got 'ten'"):
        dl.io.read_book_snapshots(f)
    f.write_text("exchange,symbol,timestamp,local_timestamp,side,price,amount\n"
                 "x,ETH,1,1,bid,10,1\nx,BTC,1,1,bid,10,1\n")  # fmt: skip
    with pytest.raises(ScenarioError, match="several symbols"):
        dl.io.read_book_snapshots(f)
    assert dl.io.read_book_snapshots(f, symbol="BTC").height == 1


def test_klines_and_trades_into_a_replayed_path() -> None:
    # Six 1-minute klines from 2026-01-01 00:00: each close at its close time + 1 ms, the next
    # minute: 3,000 at 00:01, 2,990 at 00:02, …
    marks = dl.io.read_marks(dl.io.sample("binance_klines.csv"), "ETH")
    assert marks["timestamp"].to_list() == [T0 + timedelta(minutes=k + 1) for k in range(6)]
    assert marks["ETH"].to_list() == [3_000.0, 2_990.0, 2_975.5, 2_960.0, 2_981.25, 2_970.0]
    shock = dl.Shock.replay(marks, step_seconds=60.0)
    assert shock.prices["ETH"].tolist() == marks["ETH"].to_list()
    # Trades at 0 s (3,000), 20 s (3,000.5), 70 s (2,990), 130 s (2,980); the last of each minute.
    trades = dl.io.read_marks(dl.io.sample("tardis_trades.csv"), "ETH", "tardis_trades", every="1m")
    assert trades.rows() == [(T0 + timedelta(minutes=1), 3_000.5),
                             (T0 + timedelta(minutes=2), 2_990.0),
                             (T0 + timedelta(minutes=3), 2_980.0)]  # fmt: skip


def test_klines_with_a_header_and_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "k.csv"
    f.write_text("open_time,open,high,low,close,volume,close_time\n0,1,1,1,100,1,59999\n")
    assert dl.io.read_marks(f, "X").row(0) == (datetime(1970, 1, 1, 0, 1, tzinfo=UTC), 100.0)
    f.write_text("0,1,1,1,-5,1,59999\n")
    with pytest.raises(ScenarioError, match="row 0: close must be > 0"):
        dl.io.read_marks(f, "X")


def test_liquidation_feeds() -> None:
    # Tardis: sell 4 @ 2,995 (a long liquidated), sell 10 @ 2,990, buy 1 @ 2,985 (a short).
    feed = dl.io.read_liquidations(dl.io.sample("tardis_liquidations.csv"))
    assert feed["side"].to_list() == ["long", "long", "short"]
    assert feed["notional"].to_list() == [11_980.0, 29_900.0, 2_985.0]
    assert feed["timestamp"][0] == T0 + timedelta(seconds=5)
    # Binance forceOrder lines: the filled quantity at the average price, at the trade time (ms).
    bn = dl.io.read_liquidations(dl.io.sample("binance_force_order.jsonl"), "binance_force_order")
    assert bn.select("side", "qty", "notional").rows() == [("long", 4.0, 11_980.0),
                                                           ("short", 1.0, 2_985.0)]  # fmt: skip
    assert bn["timestamp"].to_list() == [T0 + timedelta(seconds=5), T0 + timedelta(seconds=95)]


def test_compare_liquidations_by_bucket() -> None:
    # One lending account liquidated at step 0 (its sale notional from the run's events)
    # against a feed of two liquidations in the first minute and one in the second.
    book = dl.OrderBook.linear(mid=3_000.0, tick=1.0, levels=500, depth_per_level=5.0)
    sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0, venues=[book]), dl.Asset("USDC", 1.0)],
                     steps=5, step_seconds=12.0)  # fmt: skip
    pos = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
                        "debt_asset": ["USDC"], "debt": [25_000.0]})  # fmt: skip
    res = dl.simulate(sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), pos))
    sold = res.events.filter(kind="liquidation")
    feed = dl.io.read_liquidations(dl.io.sample("tardis_liquidations.csv"))
    cmp = dl.io.compare_liquidations(res, feed, asset="ETH", start=T0, step_seconds=12.0)
    first = cmp.filter(pl.col("bucket") == T0, pl.col("side") == "long").row(0, named=True)
    assert first["engine_count"] == sold.height
    assert first["feed_count"] == 2
    assert first["count_diff"] == sold.height - 2
    assert first["engine_notional"] == pytest.approx(sold["notional"].sum(), rel=1e-12)
    assert first["feed_notional"] == 11_980.0 + 29_900.0
    second = cmp.filter(pl.col("bucket") == T0 + timedelta(minutes=1)).row(0, named=True)
    assert (second["side"], second["engine_count"], second["feed_count"]) == ("short", 0, 1)


def test_hyperliquid_positions_and_their_liquidation_prices() -> None:
    pos, lev = dl.io.read_hyperliquid(dl.io.sample("hyperliquid_clearinghouse.json"))
    # Cross: account value 1,000 less uPnL 400 = a wallet of 600. Isolated: margin used 800
    # less uPnL 200 = 600.
    assert pos.select("market", "size", "entry_price", "margin", "mode").rows() == [
        ("ETH-PERP", 2.0, 2_800.0, 600.0, "cross"),
        ("BTC-PERP", -0.1, 62_000.0, 600.0, "isolated"),
    ]
    assert lev == {"ETH-PERP": 25.0, "BTC-PERP": 40.0}
    ex = dl.PerpExchange([dl.PerpMarket(m, dl.Brackets.hyperliquid(v)) for m, v in lev.items()])
    chk = dl.io.check_liquidation_prices(ex, pos, {"ETH-PERP": 3_000.0, "BTC-PERP": 60_000.0})
    # The engine's: 600 + 2(P − 2,800) = 0.04·P, and 600 − 0.1(P − 62,000) = 0.00125·P.
    assert chk["engine_liquidation_px"].to_list() == pytest.approx([5_000 / 1.96, 6_800 / 0.10125])
    # The sample's liquidationPx is rounded to 6 decimals.
    assert chk["difference"].abs().max() < 1e-6


def test_bad_hyperliquid_input_is_named() -> None:
    with pytest.raises(ScenarioError, match="user 0xabc: not a clearinghouseState"):
        dl.io.read_hyperliquid({"0xabc": {"marginSummary": {}}})
    state = {"assetPositions": [{"position": {"coin": "ETH", "szi": "1", "entryPx": "-3",
                                              "leverage": {"type": "cross"}}}]}  # fmt: skip
    with pytest.raises(ScenarioError, match=r"assetPositions\[0\].position.entryPx"):
        dl.io.read_hyperliquid({"0xabc": state})


def test_aave_subgraph_user_reserves(tmp_path: Path) -> None:
    # 0xaaaa: 10 WETH (18 decimals) as collateral, 15,000 + 250 USDC (6 decimals) of debt;
    # 0xbbbb: 50,000 USDC as collateral, 7 WETH of debt and 0.5 WETH supplied but not used as
    # collateral (left out). WETH LT 8300 bp = 0.83, bonus 10500 bp = 5 %; USDC 0.78 and 4.5 %.
    pos, reserves = dl.io.read_aave_v3(dl.io.sample("aave_v3_user_reserves.json"))
    assert pos.rows() == [
        ("0xaaaa", "WETH", 10.0, "WETH", 0.0),
        ("0xaaaa", "USDC", 0.0, "USDC", 15_250.0),
        ("0xbbbb", "USDC", 50_000.0, "USDC", 0.0),
        ("0xbbbb", "WETH", 0.0, "WETH", 7.0),
    ]
    assert reserves["WETH"].liquidation_threshold == 0.83
    assert reserves["WETH"].liquidation_bonus == pytest.approx(0.05, abs=1e-15)
    assert reserves["USDC"].liquidation_threshold == 0.78
    assert reserves["USDC"].liquidation_bonus == pytest.approx(0.045, abs=1e-15)
    csv_pos, csv_reserves = dl.io.read_aave_v3(dl.io.sample("aave_v3_user_reserves.csv"))
    assert csv_pos.equals(pos)
    assert csv_reserves == reserves
    # Into a scenario: 0xaaaa's health factor is 10·3,000·0.83/15,250.
    sc = dl.Scenario(assets=[dl.Asset("WETH", 3_000.0), dl.Asset("USDC", 1.0)])
    sc = sc.add_lending(dl.Lending.aave_v3(reserves), pos)
    acc = dl.simulate(sc).accounts.filter(account="0xaaaa")
    assert acc["health"].item() == pytest.approx(10 * 3_000 * 0.83 / 15_250, rel=1e-12)
    # Malformed rows are named.
    bad = tmp_path / "r.json"
    doc = json.loads(dl.io.sample("aave_v3_user_reserves.json").read_text())
    doc["data"]["userReserves"][2]["reserve"] = dict(doc["data"]["userReserves"][2]["reserve"],
                                                      decimals="six")  # fmt: skip
    bad.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match=r"r\.json: row 2: decimals must be a finite number"):
        dl.io.read_aave_v3(bad)
    doc["data"]["userReserves"][2]["reserve"]["decimals"] = 6
    doc["data"]["userReserves"][1]["currentVariableDebt"] = "-5"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match="row 1: currentVariableDebt must be >= 0"):
        dl.io.read_aave_v3(bad)


def test_samples_say_they_are_generated() -> None:
    folder = dl.io.sample("binance_depth.json").parent
    for p in folder.iterdir():
        head = p.read_text()[:400]
        assert "generated by examples/make_io_samples.py" in head, p.name
    with pytest.raises(ScenarioError, match=r"no sample 'nope\.csv'"):
        dl.io.sample("nope.csv")


def test_a_scenario_file_reads_vendor_files(tmp_path: Path) -> None:
    import shutil

    names = ["aave_v3_user_reserves.json", "binance_depth.json", "hyperliquid_clearinghouse.json",
             "tardis_book_snapshot_5.csv"]  # fmt: skip
    for name in names:
        shutil.copy(dl.io.sample(name), tmp_path / name)
    (tmp_path / "sc.toml").write_text(
        """
[run]
steps = 5
[[assets]]
name = "WETH"
price = 3000.0
[[assets.venues]]
kind = "book"
file = "binance_depth.json"
format = "binance_depth"
[[assets]]
name = "USDC"
price = 1.0
[[assets]]
name = "ETH-PERP"
price = 3000.0
[[assets.venues]]
kind = "book"
file = "tardis_book_snapshot_5.csv"
format = "tardis_snapshot"
[[assets]]
name = "BTC-PERP"
price = 60000.0
[[protocols]]
kind = "aave_v3"
positions = { file = "aave_v3_user_reserves.json", format = "aave_v3_subgraph" }
[protocols.reserves]
WETH = { liquidation_threshold = 0.83, liquidation_bonus = 0.05 }
USDC = { liquidation_threshold = 0.78, liquidation_bonus = 0.045 }
[[perps]]
positions = { file = "hyperliquid_clearinghouse.json", format = "hyperliquid" }
[[perps.markets]]
asset = "ETH-PERP"
caps = [inf]
rates = [0.02]
[[perps.markets]]
asset = "BTC-PERP"
caps = [inf]
rates = [0.0125]
"""
    )
    sc = dl.Scenario.from_toml(tmp_path / "sc.toml")
    # The book is the depth file's; the perp book the Tardis file's first snapshot.
    assert sc.assets[0].venues[0].best_bid == 2_999.5
    assert sc.assets[2].venues[0].best_bid == 2_999.5
    assert sc.lending[0].positions.height == 4
    assert sc.families[0].positions["margin"].to_list() == [600.0, 600.0]
    res = dl.simulate(sc)
    assert res.accounts.filter(account="0xaaaa")["health"].item() == pytest.approx(
        10 * 3_000 * 0.83 / 15_250, rel=1e-12
    )
    (tmp_path / "bad.toml").write_text(
        (tmp_path / "sc.toml")
        .read_text()
        .replace('format = "hyperliquid"', 'format = "aave_v3_subgraph"')
    )
    with pytest.raises(
        ScenarioError, match=r"perps\[0\]\.positions\.format: 'aave_v3_subgraph' holds lending"
    ):
        dl.Scenario.from_toml(tmp_path / "bad.toml")


def test_compound_v3_account_export() -> None:
    # 0xcccc: 5 WETH (18 decimals) against 9,000.5 USDC borrowed (6 decimals); 0xdddd: 0.2 WBTC
    # (8 decimals). Factors scaled by 1e18: WETH 0.83 and 0.93, WBTC 0.8 and 0.9.
    pos, reserves = dl.io.read_compound_v3(dl.io.sample("compound_v3_accounts.csv"), "USDC")
    assert pos.rows() == [
        ("0xcccc", "WETH", 5.0, "USDC", 0.0),
        ("0xcccc", "WETH", 0.0, "USDC", 9_000.5),
        ("0xdddd", "WBTC", 0.2, "USDC", 0.0),
    ]
    assert reserves["WETH"].liquidation_threshold == 0.83
    assert reserves["WETH"].liquidation_factor == 0.93
    assert reserves["WBTC"].liquidation_threshold == 0.8
    sc = dl.Scenario(assets=[dl.Asset("WETH", 3_000.0), dl.Asset("WBTC", 60_000.0),
                             dl.Asset("USDC", 1.0)])  # fmt: skip
    sc = sc.add_lending(dl.Lending.compound_v3("USDC", reserves), pos)
    # Comet's test: 5·3,000·0.83 = 12,450 of liquidation capacity against 9,000.5 of debt.
    acc = dl.simulate(sc).accounts.filter(account="0xcccc")
    assert acc["health"].item() == pytest.approx(5 * 3_000 * 0.83 / 9_000.5, rel=1e-12)


def test_bad_compound_rows_are_named(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    head = ("account,asset,decimals,collateralBalance,borrowBalance,liquidateCollateralFactor,"
            "liquidationFactor\n")  # fmt: skip
    f.write_text(head + "0x1,WETH,18,1,5,830000000000000000,930000000000000000\n")
    with pytest.raises(ScenarioError, match="'0x1' borrows 'WETH'"):
        dl.io.read_compound_v3(f, "USDC")
    f.write_text(head + "0x1,WETH,eighteen,1,,830000000000000000,930000000000000000\n")
    with pytest.raises(ScenarioError, match=r"c\.csv: row 0: decimals must be a finite number"):
        dl.io.read_compound_v3(f, "USDC")


def test_gzipped_tardis_files_read_as_they_ship(tmp_path: Path) -> None:
    # Tardis ships its datasets as .csv.gz: the same rows as the plain file.
    import gzip
    import shutil

    for name, read in [
        ("tardis_book_snapshot_5.csv", dl.io.read_book_snapshots),
        ("tardis_liquidations.csv", dl.io.read_liquidations),
    ]:
        gz = tmp_path / f"{name}.gz"
        with dl.io.sample(name).open("rb") as f, gzip.open(gz, "wb") as g:
            shutil.copyfileobj(f, g)
        assert read(gz).equals(read(dl.io.sample(name)))  # type: ignore[operator]


def test_review_cases_of_the_loaders(tmp_path: Path) -> None:
    # Binance spot klines in microseconds (from 2025): the same minute as in milliseconds.
    k = tmp_path / "k.csv"
    k.write_text("1735689600000000,1,1,1,100,1,1735689659999999\n")
    assert dl.io.read_marks(k, "X")["timestamp"][0] == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
    k.write_text("1735689600000,1,1,1,100,1,1735689659999\n")
    assert dl.io.read_marks(k, "X")["timestamp"][0] == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
    # An empty side is not a side.
    liq = tmp_path / "l.csv"
    liq.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
                   "x,ETH,1,1,0,,10,1\n")  # fmt: skip
    with pytest.raises(ScenarioError, match="row 0: side must be buy or sell"):
        dl.io.read_liquidations(liq)
    # A wide snapshot's bad level names the file's row and column.
    src = dl.io.sample("tardis_book_snapshot_5.csv").read_text().splitlines()
    head, rows = src[1], src[2:]
    cells = rows[1].split(",")
    cells[head.split(",").index("bids[1].amount")] = "lots"
    bad = tmp_path / "w.csv"
    bad.write_text("\n".join([head, rows[0], ",".join(cells), rows[2]]) + "\n")
    with pytest.raises(ScenarioError, match=r"row 1: bids\[1\]\.amount must be a finite number"):
        dl.io.read_book_snapshots(bad)
    # Trades of two symbols need symbol=.
    tr = tmp_path / "t.csv"
    tr.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
                  "x,ETH,1,1,0,buy,3000,1\nx,BTC,2,2,1,buy,60000,1\n")  # fmt: skip
    with pytest.raises(ScenarioError, match="several symbols"):
        dl.io.read_marks(tr, "ETH", "tardis_trades")
    assert dl.io.read_marks(tr, "ETH", "tardis_trades", symbol="ETH")["ETH"].to_list() == [3000.0]
    with pytest.raises(ScenarioError, match="every must be a duration"):
        dl.io.read_marks(tr, "ETH", "tardis_trades", symbol="ETH", every="banana")
    # Hyperliquid: no NaN through, and the wrong shapes named.
    state = json.loads(dl.io.sample("hyperliquid_clearinghouse.json").read_text())
    user = "0x1111111111111111111111111111111111111111"
    state[user]["assetPositions"][0]["position"]["unrealizedPnl"] = "NaN"
    with pytest.raises(ScenarioError, match="unrealizedPnl must be a finite number"):
        dl.io.read_hyperliquid(state)
    with pytest.raises(ScenarioError, match="expected a file or a dict"):
        dl.io.read_hyperliquid([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="Bybit depth has a result object"):
        dl.io.read_depth({"result": None}, "bybit")


def test_review_cases_of_the_lending_loaders(tmp_path: Path) -> None:
    # The subgraph's usual query also asks for ids; big integers may come as JSON numbers.
    doc = json.loads(dl.io.sample("aave_v3_user_reserves.json").read_text())
    for k, it in enumerate(doc["data"]["userReserves"]):
        it["id"] = f"r{k}"
        it["reserve"]["id"] = "0xreserve"
    doc["data"]["userReserves"][0]["currentATokenBalance"] = 10 * 10**18
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    pos, reserves = dl.io.read_aave_v3(f)
    assert pos.row(0) == ("0xaaaa", "WETH", 10.0, "WETH", 0.0)
    assert reserves["WETH"].liquidation_bonus == 0.05  # (10500 − 10000)/10000, exactly
    # A threshold given as a fraction is not basis points.
    doc["data"]["userReserves"][0]["reserve"]["reserveLiquidationThreshold"] = "0.83"
    f.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match="must be basis points"):
        dl.io.read_aave_v3(f)
    # Compound: factors not scaled by 1e18, and duplicate rows, are named.
    c = tmp_path / "c.csv"
    head = ("account,asset,decimals,collateralBalance,borrowBalance,liquidateCollateralFactor,"
            "liquidationFactor\n")  # fmt: skip
    c.write_text(head + "0x1,WETH,18,1,,0.83,0.93\n")
    with pytest.raises(ScenarioError, match="scaled by 1e18"):
        dl.io.read_compound_v3(c, "USDC")
    c.write_text(head + "0x1,WETH,18,1,,83e16,93e16\n0x1,WETH,18,2,,83e16,93e16\n")
    with pytest.raises(ScenarioError, match="two rows of 'WETH'"):
        dl.io.read_compound_v3(c, "USDC")


def test_a_scenario_file_takes_the_subgraphs_reserves(tmp_path: Path) -> None:
    import shutil

    shutil.copy(dl.io.sample("aave_v3_user_reserves.json"), tmp_path / "r.json")
    text = """
[[assets]]
name = "WETH"
price = 3000.0
[[assets]]
name = "USDC"
price = 1.0
[[protocols]]
kind = "aave_v3"
positions = { file = "r.json", format = "aave_v3_subgraph" }
"""
    (tmp_path / "sc.toml").write_text(text)
    sc = dl.Scenario.from_toml(tmp_path / "sc.toml")
    # No reserves table: the file's (WETH LT 0.83), so the health factor is the file's.
    assert sc.lending[0].protocol.reserves["WETH"].liquidation_threshold == 0.83
    acc = dl.simulate(sc).accounts.filter(account="0xaaaa")
    assert acc["health"].item() == pytest.approx(10 * 3_000 * 0.83 / 15_250, rel=1e-12)
    (tmp_path / "sc.toml").write_text(
        text
        + "[protocols.reserves]\nWETH = { liquidation_threshold = 0.5, liquidation_bonus = 0.05 }\n"
    )
    with pytest.raises(ScenarioError, match=r"reserves\.WETH: .* differs from the file's"):
        dl.Scenario.from_toml(tmp_path / "sc.toml")


def test_a_scenario_file_reads_a_comet_export(tmp_path: Path) -> None:
    import shutil

    shutil.copy(dl.io.sample("compound_v3_accounts.csv"), tmp_path / "c.csv")
    (tmp_path / "sc.toml").write_text(
        """
[[assets]]
name = "WETH"
price = 3000.0
[[assets]]
name = "WBTC"
price = 60000.0
[[assets]]
name = "USDC"
price = 1.0
[[protocols]]
kind = "compound_v3"
base_asset = "USDC"
positions = { file = "c.csv", format = "compound_v3_export" }
"""
    )
    sc = dl.Scenario.from_toml(tmp_path / "sc.toml")
    assert sc.lending[0].protocol.reserves["WETH"].liquidation_factor == 0.93
    acc = dl.simulate(sc).accounts.filter(account="0xcccc")
    assert acc["health"].item() == pytest.approx(5 * 3_000 * 0.83 / 9_000.5, rel=1e-12)
