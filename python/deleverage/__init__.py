"""deleverage: systemic deleveraging risk, liquidation by liquidation.

The venues that forced orders trade against, exact to the protocols' published formulas:

- :class:`OrderBook`: L2 ladders or parametric depth profiles, anchored to a reference price, with
  resilience and permanent impact;
- :class:`ConstantProductPool`: Uniswap v2 with its fee, and arbitrage back to the reference;
- :class:`StableSwapPool`: Curve's StableSwap (the invariant D, ``get_y``, the fee and admin
  fee), with the same arbitrage;
- :class:`ImpactCurve`: the linear, exponential and square-root impact of fire-sale models;
- :class:`Router`: best execution across the venues of an asset, and cross-venue arbitrage.

Examples
--------
>>> import deleverage as dl
>>> book = dl.OrderBook.linear(mid=3_000.0, tick=0.5, levels=400, depth_per_level=4.0)
>>> pool = dl.ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_500_000.0, fee=0.003)
>>> fill = dl.Router([book, pool]).sell(100.0)
>>> fill.status, fill.filled
('filled', 100.0)
"""

from __future__ import annotations

from deleverage import examples, io, plot
from deleverage._core import (
    ArbTrade,
    ConcentratedPool,
    ConstantProductPool,
    Fill,
    ImpactCurve,
    OrderBook,
    Router,
    StableSwapPool,
    Venue,
    __version__,
)
from deleverage.analysis import amplification_curve, breakdown, critical_shock, liquidation_map
from deleverage.attribution import Attribution, attribute
from deleverage.engine import Engine, EngineState, StepReport, simulate
from deleverage.equilibria import clearing_equilibria
from deleverage.exceptions import DeleverageError, ScenarioError
from deleverage.frontier import frontier
from deleverage.funds import Funds
from deleverage.lending import Lending, Reserve, looped_positions
from deleverage.market import Asset, Channel, Oracle, Peg
from deleverage.outages import Outage
from deleverage.owners import Owner, exposure_by_owner
from deleverage.perps import Brackets, PartialLiquidation, PerpExchange, PerpMarket
from deleverage.result import Result
from deleverage.risk import risk
from deleverage.scenario import Liquidators, Scenario
from deleverage.shock import Shock
from deleverage.structure import Exposure, exposure
from deleverage.sweep import grid, sweep
from deleverage.vaults import Clipper, Vaults

__all__ = [
    "ArbTrade",
    "Asset",
    "Attribution",
    "Brackets",
    "Channel",
    "Clipper",
    "ConcentratedPool",
    "ConstantProductPool",
    "DeleverageError",
    "Engine",
    "EngineState",
    "Exposure",
    "Fill",
    "Funds",
    "ImpactCurve",
    "Lending",
    "Liquidators",
    "Oracle",
    "OrderBook",
    "Outage",
    "Owner",
    "PartialLiquidation",
    "Peg",
    "PerpExchange",
    "PerpMarket",
    "Reserve",
    "Result",
    "Router",
    "Scenario",
    "ScenarioError",
    "Shock",
    "StableSwapPool",
    "StepReport",
    "Vaults",
    "Venue",
    "__version__",
    "amplification_curve",
    "attribute",
    "breakdown",
    "clearing_equilibria",
    "critical_shock",
    "examples",
    "exposure",
    "exposure_by_owner",
    "frontier",
    "grid",
    "io",
    "liquidation_map",
    "looped_positions",
    "plot",
    "risk",
    "simulate",
    "sweep",
]
