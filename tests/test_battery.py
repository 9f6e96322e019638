"""The bad-input battery: every public entry point, the scenario file and the command line, fed
what exports from chains and exchanges contain (NaN and infinity, negative and zero amounts, empty
and null columns, unknown assets, mismatched lengths, unsorted and crossed books, parameters out
of range, dust and huge amounts, wrong types, missing columns). Each case must raise a
ScenarioError whose message names the field and the offending value; the accepted edge cases
must give finite results; nothing the caller passed in may change."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

import deleverage as dl

E = dl.examples


def BOOK() -> dl.OrderBook:  # noqa: N802
    return dl.OrderBook.linear(3000.0, 1.0, 100, 10.0)


def POS() -> pl.DataFrame:  # noqa: N802
    return pl.DataFrame(
        {
            "account": ["a"],
            "collateral_asset": ["ETH"],
            "collateral": [10.0],
            "debt_asset": ["USDC"],
            "debt": [20_000.0],
        }
    )


def SC() -> dl.Scenario:  # noqa: N802
    return dl.Scenario(
        assets=[dl.Asset("ETH", 3000.0, venues=[BOOK()]), dl.Asset("USDC", 1.0)], steps=3
    )


def AAVE() -> dl.Lending:  # noqa: N802
    return dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)})


nan, inf = float("nan"), float("inf")

# fmt: off
CASES: dict[str, Callable[[], Any]] = {
 # venues
 "book mid nan": lambda: dl.OrderBook.linear(nan, 1.0, 10, 1.0),
 "book mid inf": lambda: dl.OrderBook.linear(inf, 1.0, 10, 1.0),
 "book mid 0": lambda: dl.OrderBook.linear(0.0, 1.0, 10, 1.0),
 "book tick neg": lambda: dl.OrderBook.linear(3000.0, -1.0, 10, 1.0),
 "book tick>=mid": lambda: dl.OrderBook.linear(3000.0, 3000.0, 10, 1.0),
 "book levels 0": lambda: dl.OrderBook.linear(3000.0, 1.0, 0, 1.0),
 "book levels neg": lambda: dl.OrderBook.linear(3000.0, 1.0, -5, 1.0),
 "book levels float": lambda: dl.OrderBook.linear(3000.0, 1.0, 10.5, 1.0),
 "book levels str": lambda: dl.OrderBook.linear(3000.0, 1.0, "10", 1.0),
 "book depth neg": lambda: dl.OrderBook.linear(3000.0, 1.0, 10, -1.0),
 "book depth nan": lambda: dl.OrderBook.linear(3000.0, 1.0, 10, nan),
 "book sqrt sigma neg": lambda: dl.OrderBook.sqrt(3000.0, 1.0, 10, -0.02, 1e5),
 "book sqrt volume 0": lambda: dl.OrderBook.sqrt(3000.0, 1.0, 10, 0.02, 0.0),
 "book exp scale 0": lambda: dl.OrderBook.exponential(3000.0, 1.0, 10, 100.0, 0.0),
 "book resil neg": lambda: dl.OrderBook.linear(3000.0, 1.0, 10, 1.0, resilience_half_life=-1.0),
 "book perm nan": lambda: dl.OrderBook.linear(3000.0, 1.0, 10, 1.0, permanent_impact=nan),
 "levels unsorted": lambda: dl.OrderBook.from_levels([100.0, 101.0], [1.0, 1.0], [102.0], [1.0]),
 "levels crossed": lambda: dl.OrderBook.from_levels([101.0], [1.0], [100.0], [1.0]),
 "levels len mismatch": lambda: dl.OrderBook.from_levels([101.0, 100.0], [1.0], [102.0], [1.0]),
 "levels qty neg": lambda: dl.OrderBook.from_levels([101.0], [-1.0], [102.0], [1.0]),
 "levels px nan": lambda: dl.OrderBook.from_levels([nan], [1.0], [102.0], [1.0]),
 "levels strings": lambda: dl.OrderBook.from_levels(["a"], [1.0], [102.0], [1.0]),
 "levels empty both": lambda: dl.OrderBook.from_levels([], [], [], []),
 "levels 2d": lambda: dl.OrderBook.from_levels([[101.0]], [[1.0]], [102.0], [1.0]),
 "sell neg": lambda: BOOK().sell(-1.0),
 "sell nan": lambda: BOOK().sell(nan),
 "sell inf": lambda: BOOK().sell(inf),
 "sell str": lambda: BOOK().sell("1"),
 "sell none": lambda: BOOK().sell(None),
 "buy bool": lambda: BOOK().buy(True),
 "sell numpy bool": lambda: BOOK().sell(np.True_),
 "depth side int": lambda: BOOK().depth(5, 0.02),
 "depth side bad": lambda: BOOK().depth("middle", 0.02),
 "depth within neg": lambda: BOOK().depth("bid", -0.02),
 "advance dt neg": lambda: BOOK().advance(-1.0),
 "pool base 0": lambda: dl.ConstantProductPool(0.0, 1.0),
 "pool base str": lambda: dl.ConstantProductPool("x", 1.0),
 "pool quote nan": lambda: dl.ConstantProductPool(1.0, nan),
 "pool fee 1": lambda: dl.ConstantProductPool(1.0, 1.0, fee=1.0),
 "pool fee neg": lambda: dl.ConstantProductPool(1.0, 1.0, fee=-0.1),
 "pool huge": lambda: dl.ConstantProductPool(1e308, 1e308).sell(1e308),
 "curve slope neg": lambda: dl.ImpactCurve.linear(100.0, -0.1),
 "curve alpha bad": lambda: dl.ImpactCurve.linear(100.0, 0.1, alpha=2.0),
 "curve floor>price": lambda: dl.ImpactCurve.exponential(100.0, 200.0, 10.0),
 "curve alpha str": lambda: dl.ImpactCurve.linear(100.0, 0.1, alpha="a"),
 "router empty": lambda: dl.Router([]),
 "router not venues": lambda: dl.Router([1, 2]),
 "router dup": lambda: (lambda b: dl.Router([b, b]))(BOOK()),
 "router arb neg": lambda: dl.Router([BOOK()]).arbitrage(-1),
 "router sell str": lambda: dl.Router([BOOK()]).sell("x"),
 # assets / oracles / scenario
 "asset price 0": lambda: dl.Asset("ETH", 0.0),
 "asset price nan": lambda: dl.Asset("ETH", nan),
 "asset price str": lambda: dl.Asset("ETH", "3000"),
 "asset name empty": lambda: dl.Asset("", 1.0),
 "asset name int": lambda: dl.Asset(3, 1.0),
 "asset venues not list": lambda: dl.Asset("ETH", 1.0, venues=BOOK()),
 "asset venues junk": lambda: dl.Asset("ETH", 1.0, venues=[1]),
 "oracle push dev neg": lambda: dl.Oracle.push(-0.1, 3600.0),
 "oracle push hb 0": lambda: dl.Oracle.push(0.005, 0.0),
 "oracle twap 0": lambda: dl.Oracle.twap(0.0),
 "oracle delayed neg": lambda: dl.Oracle.delayed(-1.0),
 "oracle push str": lambda: dl.Oracle.push("x", 3600.0),
 "scenario no assets": lambda: dl.Scenario(assets=[]),
 "scenario dup assets": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0), dl.Asset("ETH", 2.0)]),
 "scenario steps 0": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0)], steps=0),
 "scenario steps float": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0)], steps=2.5),
 "scenario steps str": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0)], steps="3"),
 "scenario dt 0": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0)], step_seconds=0.0),
 "scenario dt nan": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0)], step_seconds=nan),
 "scenario seed neg": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1.0)], seed=-1),
 "scenario assets not list": lambda: dl.Scenario(assets=dl.Asset("ETH", 1.0)),
 # liquidators
 "liq budget neg": lambda: dl.Liquidators(budget_notional=-1.0),
 "liq budget nan": lambda: dl.Liquidators(budget_notional=nan),
 "liq budget str": lambda: dl.Liquidators(budget_notional="x"),
 "liq count neg": lambda: dl.Liquidators(budget_count=-1),
 "liq count float": lambda: dl.Liquidators(budget_count=1.5),
 "liq sell_fraction 2": lambda: dl.Liquidators(sell_fraction=2.0),
 "liq priority bad": lambda: dl.Liquidators(priority="random_walk"),
 "liq mode bad": lambda: dl.Liquidators(mode="parallel"),
 "liq rounds 0": lambda: dl.Liquidators(max_rounds_per_step=0),
 "liq margin 1": lambda: dl.Liquidators(keeper_margin=1.0),
 # lending
 "reserve lt 1.5": lambda: dl.Reserve(1.5, 0.05),
 "reserve lt neg": lambda: dl.Reserve(-0.1, 0.05),
 "reserve bonus neg": lambda: dl.Reserve(0.8, -0.05),
 "reserve lt str": lambda: dl.Reserve("x", 0.05),
 "reserve fee 2": lambda: dl.Reserve(0.8, 0.05, protocol_fee=2.0),
 "aave lt*bonus": lambda: dl.Lending.aave_v3({"ETH": dl.Reserve(0.95, 0.1)}),
 "aave empty": lambda: dl.Lending.aave_v3({}),
 "aave reserves not dict": lambda: dl.Lending.aave_v3([dl.Reserve(0.8, 0.05)]),
 "aave version bad": lambda: dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}, version="v9"),
 "compound cf 0.95": lambda: dl.Lending.compound_v2({"ETH": dl.Reserve(0.95, 0.0)}),
 "pos missing col": lambda: SC().add_lending(AAVE(), POS().drop("debt")),
 "pos unknown asset": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit("DOGE").alias("collateral_asset"))),
 "pos debt unknown asset": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit("DAI").alias("debt_asset"))),
 "pos collateral neg": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit(-1.0).alias("collateral"))),
 "pos collateral nan": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit(nan).alias("collateral"))),
 "pos collateral inf": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit(inf).alias("collateral"))),
 "pos collateral null": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit(None, dtype=pl.Float64).alias("collateral"))),
 "pos collateral str": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit("1").alias("collateral"))),
 "pos debt neg": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit(-5.0).alias("debt"))),
 "pos account null": lambda: SC().add_lending(AAVE(), POS().with_columns(pl.lit(None, dtype=pl.String).alias("account"))),
 "pos not frame": lambda: SC().add_lending(AAVE(), {"account": ["a"]}),
 "pos reserve missing": lambda: SC().add_lending(dl.Lending.aave_v3({"USDC": dl.Reserve(0.8, 0.05)}), POS()),
 "pos empty": lambda: SC().add_lending(AAVE(), POS().head(0)),
 "pos dust": lambda: dl.simulate(SC().add_lending(AAVE(), POS().with_columns(pl.lit(1e-18).alias("collateral"), pl.lit(1e-18).alias("debt"))), dl.Shock.instant(ETH=-0.5)).summary["bad_debt"].item(),
 "pos huge": lambda: dl.simulate(SC().add_lending(AAVE(), POS().with_columns(pl.lit(1e18).alias("collateral"), pl.lit(1e18).alias("debt"))), dl.Shock.instant(ETH=-0.5)).summary["bad_debt"].item(),
 # shocks
 "instant -1": lambda: dl.Shock.instant(ETH=-1.0),
 "instant nan": lambda: dl.Shock.instant(ETH=nan),
 "instant str": lambda: dl.Shock.instant(ETH="x"),
 "instant dict bad": lambda: dl.Shock.instant({"ETH": None}),
 "gbm sigma neg": lambda: dl.Shock.gbm({"ETH": -0.5}, per="year"),
 "gbm sigma str": lambda: dl.Shock.gbm({"ETH": "x"}, per="year"),
 "gbm corr str": lambda: dl.Shock.gbm({"ETH": 0.5}, corr="x", per="year"),
 "gbm corr shape": lambda: dl.simulate(SC(), dl.Shock.gbm({"ETH": 0.5}, corr=[[1.0]], per="year")),
 "gbm corr not psd": lambda: dl.simulate(SC(), dl.Shock.gbm({"ETH": 0.5, "USDC": 0.1}, corr=[[1.0, 2.0], [2.0, 1.0]], per="year")),
 "gbm not mapping": lambda: dl.Shock.gbm(0.5, per="year"),
 "jump intensity neg": lambda: dl.Shock.jump_diffusion({"ETH": 0.5}, jump_intensity={"ETH": -1.0}, per="year"),
 "path empty": lambda: dl.Shock.path({}),
 "path strings": lambda: dl.Shock.path({"ETH": ["a"]}),
 "path zero": lambda: dl.Shock.path({"ETH": [1.0, 0.0]}),
 "path unequal": lambda: dl.Shock.path({"ETH": [1.0, 2.0], "USDC": [1.0]}),
 "shock unknown asset": lambda: dl.simulate(SC(), dl.Shock.instant(DOGE=-0.1)),
 "path unknown asset": lambda: dl.simulate(SC(), dl.Shock.path({"DOGE": [1.0]})),
 # simulate / engine
 "simulate not scenario": lambda: dl.simulate("x"),
 "simulate shock junk": lambda: dl.simulate(SC(), shock=3),
 "simulate seed neg": lambda: dl.simulate(SC(), seed=-1),
 "simulate seed float": lambda: dl.simulate(SC(), seed=1.5),
 "simulate max_extra neg": lambda: dl.simulate(SC(), max_extra_steps=-1),
 "engine step ref neg": lambda: dl.Engine(SC()).step(reference={"ETH": -1.0}),
 "engine step ref unknown": lambda: dl.Engine(SC()).step(reference={"DOGE": 1.0}),
 "engine step ref str": lambda: dl.Engine(SC()).step(reference={"ETH": "x"}),
 "engine step array len": lambda: dl.Engine(SC()).step(np.array([1.0])),
 "engine run nan": lambda: dl.Engine(SC()).run(np.array([[nan, 1.0]])),
 "engine submit side": lambda: dl.Engine(SC()).submit("ETH", "hold", 1.0),
 "engine submit qty neg": lambda: dl.Engine(SC()).submit("ETH", "sell", -1.0),
 "engine submit qty str": lambda: dl.Engine(SC()).submit("ETH", "sell", "1"),
 "engine submit asset": lambda: dl.Engine(SC()).submit("DOGE", "sell", 1.0),
 "engine submit venue": lambda: dl.Engine(SC()).submit("ETH", "sell", 1.0, venue=5),
 "engine quote limit nan": lambda: dl.Engine(SC()).submit("ETH", "sell", 1.0, limit=nan),
 # sweep / grid / risk / frontier
 "sweep runs 0": lambda: dl.sweep(SC(), runs=0),
 "sweep runs float": lambda: dl.sweep(SC(), runs=2.5),
 "sweep runs str": lambda: dl.sweep(SC(), runs="2"),
 "sweep threads 0": lambda: dl.sweep(SC(), runs=2, threads=0),
 "sweep chunk 0": lambda: dl.sweep(SC(), runs=2, chunk=0),
 "sweep empty mapping": lambda: dl.sweep({}, runs=2),
 "sweep executor bad": lambda: dl.sweep(SC(), runs=2, executor=3),
 "grid bad key": lambda: dl.grid(SC(), {"nope": [1]}),
 "grid empty values": lambda: dl.grid(SC(), {"run.steps": []}),
 "grid values str": lambda: dl.grid(SC(), {"run.steps": "3"}),
 "grid bad value": lambda: dl.grid(SC(), {"run.steps": [-3]}),
 "risk not frame": lambda: dl.risk({"bad_debt": [1.0]}),
 "risk level 1": lambda: dl.risk(pl.DataFrame({"scenario": ["a"], "bad_debt": [1.0]}), levels=[1.0]),
 "risk missing col": lambda: dl.risk(pl.DataFrame({"scenario": ["a"]})),
 "risk empty": lambda: dl.risk(pl.DataFrame({"scenario": [], "bad_debt": []}, schema={"scenario": pl.String, "bad_debt": pl.Float64})),
 "frontier no params": lambda: dl.frontier(SC(), params={}, limit=0.0),
 "frontier limit nan": lambda: dl.frontier(SC(), params={"run.steps": (1, 3)}, limit=nan),
 # analysis
 "map asset unknown": lambda: dl.liquidation_map(SC(), "DOGE", [-0.1]),
 "map moves str": lambda: dl.liquidation_map(SC(), "ETH", "abc"),
 "map moves empty": lambda: dl.liquidation_map(SC(), "ETH", []),
 "map moves -1": lambda: dl.liquidation_map(SC(), "ETH", [-1.0]),
 "amp shocks x": lambda: dl.amplification_curve(SC(), "ETH", ["x"]),
 "amp empty": lambda: dl.amplification_curve(SC(), "ETH", []),
 "critical worst 0": lambda: dl.critical_shock(SC(), "ETH", worst=0.0),
 "critical metric bad": lambda: dl.critical_shock(SC(), "ETH", metric="x"),
 # perps / vaults / funds
 "perp brackets unsorted": lambda: dl.Brackets([2.0, 1.0], [0.01, 0.02]),
 "perp brackets len": lambda: dl.Brackets([1.0, inf], [0.01]),
 "perp market name": lambda: dl.PerpMarket("", dl.Brackets.flat(0.01)),
 "perp fund neg": lambda: dl.PerpExchange([dl.PerpMarket("BTC-PERP", dl.Brackets.flat(0.01))], insurance_fund=-1.0),
 "vault dup id": lambda: dl.Scenario(assets=[dl.Asset("ETH", 1840.0), dl.Asset("DAI", 1.0)]).add_vaults(dl.Vaults([dl.Clipper("ETH")]), pl.DataFrame({"account": ["v", "v"], "collateral_asset": ["ETH", "ETH"], "ink": [1.0, 1.0], "art": [100.0, 100.0]})),
 "clipper chop <1": lambda: dl.Clipper("ETH", chop=0.9),
 "funds lambda neg": lambda: dl.Funds.threshold(-1.0),
}
# fmt: on

#: Per refused case, what the message must contain: the field (or its place) and the value.
NAMED: dict[str, tuple[str, str]] = {
    "book mid nan": ("mid", "NaN"),
    "book mid inf": ("mid", "inf"),
    "book mid 0": ("mid", "got 0"),
    "book tick neg": ("tick", "-1"),
    "book tick>=mid": ("tick", "3000"),
    "book levels 0": ("levels", "got 0"),
    "book levels neg": ("levels", "-5"),
    "book levels float": ("levels", "10.5"),
    "book levels str": ("levels", "'10'"),
    "book depth neg": ("depth_per_level", "-1"),
    "book depth nan": ("depth_per_level", "NaN"),
    "book sqrt sigma neg": ("sigma", "-0.02"),
    "book sqrt volume 0": ("volume", "got 0"),
    "book exp scale 0": ("scale", "got 0"),
    "book resil neg": ("resilience_half_life", "-1"),
    "book perm nan": ("permanent_impact", "NaN"),
    "levels unsorted": ("bid_px", "101"),
    "levels crossed": ("crossed", "101"),
    "levels len mismatch": ("bid_qty", "length 1"),
    "levels qty neg": ("bid_qty[0]", "-1"),
    "levels px nan": ("bid_px[0]", "NaN"),
    "levels strings": ("bid_px", "str"),
    "levels empty both": ("bid_px", "empty"),
    "levels 2d": ("bid_px", "1-D"),
    "sell neg": ("qty", "-1"),
    "sell nan": ("qty", "NaN"),
    "sell inf": ("qty", "inf"),
    "sell str": ("qty", "'1'"),
    "sell none": ("qty", "None"),
    "buy bool": ("qty", "True"),
    "sell numpy bool": ("qty", "np.True_"),
    "depth side int": ("side", "5 (int)"),
    "depth side bad": ("side", "middle"),
    "depth within neg": ("within", "-0.02"),
    "advance dt neg": ("dt", "-1"),
    "pool base 0": ("base_reserve", "got 0"),
    "pool base str": ("base_reserve", "'x'"),
    "pool quote nan": ("quote_reserve", "NaN"),
    "pool fee 1": ("fee", "got 1"),
    "pool fee neg": ("fee", "-0.1"),
    "pool huge": ("base_reserve", "1e308"),
    "curve slope neg": ("slope", "-0.1"),
    "curve alpha bad": ("alpha", "got 2"),
    "curve floor>price": ("floor", "200"),
    "curve alpha str": ("alpha", "'a'"),
    "router empty": ("venues", "empty"),
    "router not venues": ("venues[0]", "int"),
    "router dup": ("venues[1]", "venues[0]"),
    "router arb neg": ("max_rounds", "-1"),
    "router sell str": ("qty", "'x'"),
    "asset price 0": ("ETH.price", "0.0"),
    "asset price nan": ("ETH.price", "nan"),
    "asset price str": ("ETH.price", "'3000'"),
    "asset name empty": ("name", "''"),
    "asset name int": ("name", "3"),
    "asset venues not list": ("ETH.venues", "OrderBook"),
    "asset venues junk": ("ETH.venues[0]", "int"),
    "oracle push dev neg": ("deviation", "-0.1"),
    "oracle push hb 0": ("heartbeat", "0.0"),
    "oracle twap 0": ("window", "0.0"),
    "oracle delayed neg": ("delay", "-1.0"),
    "oracle push str": ("deviation", "'x'"),
    "scenario no assets": ("assets", "empty"),
    "scenario dup assets": ("asset", "'ETH'"),
    "scenario steps 0": ("steps", "got 0"),
    "scenario steps float": ("steps", "2.5"),
    "scenario steps str": ("steps", "'3'"),
    "scenario dt 0": ("step_seconds", "0.0"),
    "scenario dt nan": ("step_seconds", "nan"),
    "scenario seed neg": ("seed", "-1"),
    "scenario assets not list": ("assets", "Asset"),
    "liq budget neg": ("budget_notional", "-1.0"),
    "liq budget nan": ("budget_notional", "nan"),
    "liq budget str": ("budget_notional", "'x'"),
    "liq count neg": ("budget_count", "-1"),
    "liq count float": ("budget_count", "1.5"),
    "liq sell_fraction 2": ("sell_fraction", "2.0"),
    "liq priority bad": ("priority", "'random_walk'"),
    "liq mode bad": ("mode", "'parallel'"),
    "liq rounds 0": ("max_rounds_per_step", "got 0"),
    "liq margin 1": ("keeper_margin", "1.0"),
    "reserve lt 1.5": ("liquidation_threshold", "1.5"),
    "reserve lt neg": ("liquidation_threshold", "-0.1"),
    "reserve bonus neg": ("liquidation_bonus", "-0.05"),
    "reserve lt str": ("liquidation_threshold", "'x'"),
    "reserve fee 2": ("protocol_fee", "2.0"),
    "aave lt*bonus": ("reserve ETH", "1.045"),
    "aave reserves not dict": ("reserves", "list"),
    "aave version bad": ("version", "'v9'"),
    "compound cf 0.95": ("collateral_factor", "0.95"),
    "pos missing col": ("positions", "'debt'"),
    "pos unknown asset": ("collateral_asset", "'DOGE'"),
    "pos debt unknown asset": ("debt_asset", "'DAI'"),
    "pos collateral neg": ("positions.collateral", "-1.0"),
    "pos collateral nan": ("positions.collateral", "nan"),
    "pos collateral inf": ("positions.collateral", "inf"),
    "pos collateral null": ("positions.collateral", "null"),
    "pos collateral str": ("positions.collateral", "String"),
    "pos debt neg": ("positions.debt", "-5.0"),
    "pos account null": ("positions.account", "null"),
    "pos not frame": ("positions", "DataFrame"),
    "instant -1": ("shock ETH", "-1.0"),
    "instant nan": ("shock ETH", "nan"),
    "instant str": ("shock ETH", "'x'"),
    "instant dict bad": ("shock ETH", "None"),
    "gbm sigma neg": ("sigma['ETH']", "-0.5"),
    "gbm sigma str": ("sigma['ETH']", "'x'"),
    "gbm corr str": ("corr", "'x'"),
    "gbm corr shape": ("corr", "(1, 1)"),
    "gbm corr not psd": ("corr[0][1]", "2"),
    "gbm not mapping": ("sigma", "0.5"),
    "jump intensity neg": ("jump_intensity['ETH']", "-1.0"),
    "path empty": ("Shock.path", "{}"),
    "path strings": ("shock path ETH", "['a']"),
    "path zero": ("shock path ETH[1]", "0.0"),
    "path unequal": ("same length", "[1, 2]"),
    "shock unknown asset": ("shock", "'DOGE'"),
    "path unknown asset": ("shock path", "'DOGE'"),
    "simulate not scenario": ("scenario", "str"),
    "simulate shock junk": ("shock", "int"),
    "simulate seed neg": ("seed", "-1"),
    "simulate seed float": ("seed", "1.5"),
    "simulate max_extra neg": ("max_extra_steps", "-1"),
    "engine step ref neg": ("reference['ETH']", "-1.0"),
    "engine step ref unknown": ("asset", "'DOGE'"),
    "engine step ref str": ("reference['ETH']", "'x'"),
    "engine step array len": ("reference", "(1,)"),
    "engine run nan": ("references[0, 0]", "nan"),
    "engine submit side": ("side", "'hold'"),
    "engine submit qty neg": ("qty", "-1.0"),
    "engine submit qty str": ("qty", "'1'"),
    "engine submit asset": ("asset", "'DOGE'"),
    "engine submit venue": ("venue", "5"),
    "engine quote limit nan": ("limit", "nan"),
    "sweep runs 0": ("runs", "got 0"),
    "sweep runs float": ("runs", "2.5"),
    "sweep runs str": ("runs", "'2'"),
    "sweep threads 0": ("threads", "got 0"),
    "sweep chunk 0": ("chunk", "got 0"),
    "sweep empty mapping": ("scenarios", "mapping"),
    "sweep executor bad": ("executor", "got 3"),
    "grid bad key": ("nope", "no such key"),
    "grid empty values": ("values['run.steps']", "[]"),
    "grid values str": ("values['run.steps']", "'3'"),
    "grid bad value": ("steps", "-3"),
    "risk not frame": ("frame", "dict"),
    "risk level 1": ("levels", "1.0"),
    "risk missing col": ("bad_debt", "columns"),
    "risk empty": ("frame", "no runs"),
    "frontier no params": ("params", "{}"),
    "frontier limit nan": ("limit", "nan"),
    "map asset unknown": ("asset", "'DOGE'"),
    "map moves str": ("moves", "'abc'"),
    "map moves empty": ("moves", "empty"),
    "map moves -1": ("moves", "-1.0"),
    "amp shocks x": ("shocks", "['x']"),
    "amp empty": ("shocks", "empty"),
    "critical worst 0": ("worst", "0.0"),
    "critical metric bad": ("metric", "'x'"),
    "perp brackets unsorted": ("bracket 1", "(2.0, 0.01)"),
    "perp brackets len": ("rates", "1 rates"),
    "perp market name": ("asset", "''"),
    "perp fund neg": ("insurance_fund", "-1.0"),
    "vault dup id": ("account 'v'", "rows 0 and 1"),
    "clipper chop <1": ("chop", "0.9"),
    "funds lambda neg": ("lambda_max", "-1.0"),
}

#: Edge cases that are valid input: zero accounts, a protocol listing no reserve, collateral in
#: an asset without a reserve (it backs nothing, as documented), dust and huge amounts.
ACCEPTED = ["aave empty", "pos dust", "pos empty", "pos huge", "pos reserve missing"]


def test_the_battery_is_large_and_every_case_is_classified() -> None:
    assert len(CASES) >= 150
    assert set(NAMED) | set(ACCEPTED) == set(CASES)


@pytest.mark.parametrize("case", sorted(NAMED))
def test_bad_input_is_refused_naming_the_field_and_the_value(case: str) -> None:
    field, value = NAMED[case]
    with pytest.raises(dl.ScenarioError) as info:
        CASES[case]()
    msg = str(info.value)
    assert field in msg, msg
    assert value in msg, msg
    assert "\n" not in msg
    assert "Traceback" not in msg


@pytest.mark.parametrize("case", ACCEPTED)
def test_edge_cases_are_accepted_and_give_finite_results(case: str) -> None:
    out = CASES[case]()
    if isinstance(out, float):
        assert math.isfinite(out)


def test_nothing_the_caller_passed_in_changes_on_success_or_failure() -> None:
    pos = POS().vstack(POS().with_columns(pl.lit("b").alias("account")))
    pos_copy = pos.clone()
    reserves = {"ETH": dl.Reserve(0.8, 0.05)}
    book = BOOK()
    levels_before = book.levels("bid")
    path = np.array([2_900.0, 2_800.0, 2_700.0])
    path_copy = path.copy()
    returns = {"ETH": -0.3}
    # The caller's own book is the scenario's venue: the cascade below sells into it.
    sc = dl.Scenario(
        assets=[dl.Asset("ETH", 3000.0, venues=[book]), dl.Asset("USDC", 1.0)], steps=3
    ).add_lending(dl.Lending.aave_v3(reserves), pos)
    res = dl.simulate(sc, dl.Shock.instant(returns))
    assert res.summary["liquidations"].item() > 0
    dl.simulate(sc, dl.Shock.path({"ETH": path}))
    bad = pos.with_columns(pl.lit(-1.0).alias("debt"))
    bad_copy = bad.clone()
    with pytest.raises(dl.ScenarioError):
        SC().add_lending(dl.Lending.aave_v3(reserves), bad)
    with pytest.raises(dl.ScenarioError):
        dl.simulate(sc, dl.Shock.instant(returns), seed=-1)
    assert pos.equals(pos_copy)
    assert bad.equals(bad_copy)
    assert reserves == {"ETH": dl.Reserve(0.8, 0.05)}
    assert returns == {"ETH": -0.3}
    assert np.array_equal(path, path_copy)
    # The run sold into a copy of the book: the caller's book keeps its depth.
    assert res.events["qty"].sum() > 0
    after = book.levels("bid")
    assert all(np.array_equal(a, b) for a, b in zip(after, levels_before, strict=True))
    assert sc.lending[0].positions.equals(pos_copy)
