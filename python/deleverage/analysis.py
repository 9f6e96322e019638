"""Analysis on top of the engine: liquidation maps, critical shocks, amplification curves and
breakdowns of a result, all as Polars frames.

Examples
--------
>>> import numpy as np
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=500, seed=1, steps=20)
>>> m = dl.liquidation_map(sc, asset="ETH", moves=np.linspace(0.0, -0.3, 4))
>>> m.columns[:3]
['move', 'price', 'liquidatable_debt']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import polars as pl
from tqdm.auto import tqdm

from deleverage import _breach, _core
from deleverage._checks import finite as _finite
from deleverage._checks import returns
from deleverage._spec import build_spec
from deleverage.attribution import _coalition
from deleverage.engine import simulate
from deleverage.exceptions import ScenarioError
from deleverage.market import quote_prices
from deleverage.perps import PerpExchange
from deleverage.result import Result
from deleverage.scenario import Scenario
from deleverage.shock import Shock
from deleverage.vaults import Vaults

__all__ = [
    "amplification_curve",
    "breakdown",
    "critical_shock",
    "liquidation_map",
]

Metric = Literal[
    "bad_debt",
    "amplification",
    "liquidated_notional",
    "liquidations",
    "insurance_fund_depletion",
    "adl_notional",
]


def _asset_index(sc: Scenario, asset: str) -> int:
    if asset not in sc.asset_names:
        raise ScenarioError(f"asset {asset!r} is not in the scenario; assets are {sc.asset_names}")
    return sc.asset_names.index(asset)


def _static_breaches(sc: Scenario, rows: npt.NDArray[np.float64]) -> list[pl.DataFrame]:
    """What breaches each family's rule at each row of prices (one per asset, the scenario's
    order), with nothing traded: the core's own rules, one frame per family in the order of the
    engine's spec (lending first, then ``sc.families``)."""
    spec, _, _ = build_spec(sc, None, None, 0)
    return _breach.frames(_core.breached(spec, np.ascontiguousarray(rows.ravel())))


def _per_move(frame: pl.DataFrame, n: int, **aggs: pl.Expr) -> dict[str, list[Any]]:
    """Sums per price row (``at``) over a breach frame, for every row ``0..n`` (0 where none)."""
    grid = pl.DataFrame({"at": np.arange(n, dtype=np.uint32)})
    out = grid.join(frame.group_by("at").agg(**aggs), on="at", how="left").sort("at")
    return {k: out[k].fill_null(0).to_list() for k in aggs}


def liquidation_map(
    scenario: Scenario,
    asset: str,
    moves: npt.ArrayLike,
    *,
    seed: int = 0,
    cascade: bool = True,
    progress: bool = False,
) -> pl.DataFrame:
    """What becomes liquidatable as ``asset`` moves, without and with the cascade.

    For each move (a simple return, e.g. ``-0.2``), the no-feedback columns give the debt and
    collateral value of the accounts whose health factor is below 1 at the moved price, with
    nothing sold (what liquidation heatmaps show); with Maker vaults the debt, collateral and
    count of unsafe vaults (``vault_liquidatable_*``); with perp exchanges the notional and
    count of the positions whose margin pool breaches its maintenance margin there
    (``perp_liquidatable_notional``, ``perp_liquidatable_positions``). Funds are not counted:
    their sales are a leverage rule, not a liquidation threshold. With ``cascade=True``
    the scenario is also run through ``Shock.instant`` of that move and the outcome is added:
    final mid, liquidated notional, liquidations, bad debt, amplification; and run once more
    without its venues, where every price stays at the moved one (an asset without venues
    keeps the exogenous price), so that the ``no_feedback_*`` columns give the same engine's
    liquidated notional, liquidations and bad debt with no feedback, like for like with the
    cascade's. ``progress`` shows a progress bar.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=200, seed=2, steps=10)
    >>> m = dl.liquidation_map(sc, "ETH", [-0.1, -0.2], cascade=False)
    >>> bool(m["liquidatable_debt"][1] >= m["liquidatable_debt"][0])
    True
    """
    _asset_index(scenario, asset)
    moves_arr = returns("moves", moves)
    base = {x.name: float(x.price) for x in scenario.assets}
    k = scenario.asset_names.index(asset)
    rows = np.tile(np.array(list(base.values()), dtype=np.float64), (moves_arr.size, 1))
    rows[:, k] = base[asset] * (1.0 + moves_arr)
    # In quote: a pegged asset at its peg moves with its underlying.
    found = _static_breaches(scenario, quote_prices(scenario.assets, rows))
    n = moves_arr.size
    # Funds are not counted: their sales follow a leverage rule, not a liquidation threshold.
    lending = _per_move(
        found[0],
        n,
        debt=pl.col("debt").sum(),
        coll=pl.col("collateral_value").sum(),
        count=pl.len().cast(pl.Int64),
    )
    kinds = [type(f.protocol) for f in scenario.families]
    static: dict[str, list[Any]] = {}
    vault_frames = [f for f, t in zip(found[1:], kinds, strict=True) if t is Vaults]
    if vault_frames:
        v = _per_move(
            pl.concat(vault_frames),
            n,
            debt=pl.col("debt").sum(),
            coll=pl.col("collateral_value").sum(),
            count=pl.len().cast(pl.Int64),
        )
        static |= {
            "vault_liquidatable_debt": v["debt"],
            "vault_liquidatable_collateral": v["coll"],
            "vault_liquidatable_vaults": v["count"],
        }
    perp_frames = [f for f, t in zip(found[1:], kinds, strict=True) if t is PerpExchange]
    if perp_frames:
        p = _per_move(
            pl.concat(perp_frames),
            n,
            notional=pl.col("notional").sum(),
            count=pl.len().cast(pl.Int64),
        )
        static |= {
            "perp_liquidatable_notional": p["notional"],
            "perp_liquidatable_positions": p["count"],
        }
    # Every venue gone: forced sales move no price, the same rules liquidate at the moved one.
    still = _coalition(scenario, "venue", [], []) if cascade else scenario
    rows_out = []
    for i, m in enumerate(tqdm(moves_arr, desc="liquidation map", disable=not progress)):
        row: dict[str, float | int | None] = {
            "move": float(m),
            "price": float(rows[i, k]),
            "liquidatable_debt": float(lending["debt"][i]),
            "liquidatable_collateral": float(lending["coll"][i]),
            "liquidatable_accounts": int(lending["count"][i]),
        }
        row |= {col: values[i] for col, values in static.items()}
        if cascade:
            res = simulate(scenario, shock=Shock.instant({asset: float(m)}), seed=seed)
            s = res.to_dict()
            row.update(
                {
                    "final_mid": float(
                        res.steps.filter(pl.col("asset") == asset)["mid"].tail(1).item()
                    ),
                    "liquidated_notional": s["liquidated_notional"],
                    "liquidations": s["liquidations"],
                    "bad_debt": s["bad_debt"],
                    "amplification": s[f"amplification_{asset}"],
                }
            )
            flat = simulate(still, shock=Shock.instant({asset: float(m)}), seed=seed).to_dict()
            row.update(
                {
                    "no_feedback_liquidated_notional": flat["liquidated_notional"],
                    "no_feedback_liquidations": flat["liquidations"],
                    "no_feedback_bad_debt": flat["bad_debt"],
                }
            )
        rows_out.append(row)
    return pl.DataFrame(rows_out)


def _metric(res: Result, metric: Metric, asset: str) -> float:
    s = res.to_dict()
    if metric == "amplification":
        v = s[f"amplification_{asset}"]
        return 1.0 if v is None else float(v)
    if metric in ("insurance_fund_depletion", "adl_notional"):
        if "insurance_fund_start" not in s:
            raise ScenarioError(f"metric {metric!r} needs a perp exchange in the scenario")
        if metric == "adl_notional":
            return float(s["adl_notional"])
        start = float(s["insurance_fund_start"])
        # The share of the fund used at its lowest point: 1 when it ran dry.
        return 1.0 - float(s["insurance_fund_min"]) / start if start > 0 else 1.0
    return float(s[metric])


def critical_shock(
    scenario: Scenario,
    asset: str,
    metric: Metric = "bad_debt",
    above: float = 0.0,
    *,
    worst: float = -0.99,
    tol: float = 1e-3,
    seed: int = 0,
) -> float | None:
    """The smallest fall of ``asset`` (an instant shock, as a simple return) at which ``metric``
    exceeds ``above``, by bisection on the engine, to within ``tol``. ``None`` when even a fall
    of ``worst`` does not cross it. The metric is assumed monotone in the size of the fall.

    Metrics: ``bad_debt``, ``amplification`` (of ``asset``), ``liquidated_notional``,
    ``liquidations``, and with perp exchanges ``insurance_fund_depletion`` (the share of the
    insurance funds used at their lowest point; exhausted: ``above=1 - 1e-9``) and
    ``adl_notional``.

    Returns the least negative return found to cross (the threshold lies within ``tol`` above it).

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=300, seed=1, steps=5)
    >>> x = dl.critical_shock(sc, "ETH", metric="liquidations", above=0, tol=1e-2)
    >>> x is not None and -1 < x < 0
    True
    """
    _asset_index(scenario, asset)
    if metric not in get_args(Metric):
        raise ScenarioError(f"metric must be one of {get_args(Metric)}, got {metric!r}")
    above = _finite("above", above)
    worst = _finite("worst", worst, low=-1.0, high=0.0, low_open=True)
    if worst == 0.0:
        raise ScenarioError("worst must be a return in (-1, 0), got 0.0")
    tol = _finite("tol", tol, low=0.0, low_open=True)

    def crosses(move: float) -> bool:
        res = simulate(scenario, shock=Shock.instant({asset: move}), seed=seed)
        return _metric(res, metric, asset) > above

    if not crosses(worst):
        return None
    lo, hi = worst, 0.0  # crosses at lo; assume not at 0 (no move)
    if crosses(hi):
        return 0.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if crosses(mid):
            lo = mid
        else:
            hi = mid
    return lo


def amplification_curve(
    scenario: Scenario,
    asset: str,
    shocks: Sequence[float] | npt.ArrayLike,
    *,
    seed: int = 0,
    progress: bool = False,
) -> pl.DataFrame:
    """Drawdown with the cascade against the exogenous shock, over a grid of instant shocks.
    ``progress`` shows a progress bar.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=300, seed=1, steps=5)
    >>> c = dl.amplification_curve(sc, "ETH", [-0.1, -0.3])
    >>> c.columns
    ['shock', 'drawdown', 'amplification', 'liquidated_notional', 'liquidations', 'bad_debt']
    """
    _asset_index(scenario, asset)
    rows = []
    grid = returns("shocks", shocks)
    for x in tqdm(grid, desc="amplification curve", disable=not progress):
        res = simulate(scenario, shock=Shock.instant({asset: float(x)}), seed=seed)
        s = res.to_dict()
        rows.append(
            {
                "shock": float(x),
                "drawdown": s[f"drawdown_{asset}"],
                "amplification": s[f"amplification_{asset}"],
                "liquidated_notional": s["liquidated_notional"],
                "liquidations": s["liquidations"],
                "bad_debt": s["bad_debt"],
            }
        )
    return pl.DataFrame(rows)


def breakdown(result: Result, by: Literal["protocol", "asset"] = "protocol") -> pl.DataFrame:
    """Per protocol (or per asset): forced liquidations of every family, collateral seized, debt
    repaid, bad debt, venue sales, perp fills, ADL and the insurance funds' change.

    ``liquidations`` counts lending liquidations and absorbs, perp liquidation fills and
    backstop takeovers, auction kicks and fund sales; ``collateral_seized`` is the units taken
    by lending liquidations, absorbs and auction kicks; ``debt_repaid_value`` what liquidators
    repaid and auction takes raised; ``sale_proceeds`` the quote forced sellers (liquidators,
    keepers, funds) received on the venues; ``perp_fill_notional`` the notional of perp
    liquidation orders; ``adl_notional`` the notional deleveraged at bankruptcy prices.

    Examples
    --------
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=300, seed=1, steps=5),
    ...                   shock=dl.Shock.instant(ETH=-0.25))
    >>> dl.breakdown(res, by="protocol")["protocol"].to_list()
    ['aave_v3']
    """
    if not isinstance(result, Result):
        raise ScenarioError(f"result must be a deleverage.Result, got {type(result).__name__}")
    if by not in ("protocol", "asset"):
        raise ScenarioError(f"by must be 'protocol' or 'asset', got {by!r}")
    ev = result.events.filter(pl.col(by).is_not_null())
    kind = pl.col("kind")
    absorb_first = (kind == "absorb") & pl.col("debt_asset").is_not_null()
    forced = kind.is_in(
        ["liquidation", "perp_liquidation", "backstop", "auction_kick", "fund_sale"]
    )
    return (
        ev.group_by(by)
        .agg(
            (forced | absorb_first).sum().alias("liquidations"),
            pl.col("collateral_seized")
            .filter(kind.is_in(["liquidation", "absorb", "auction_kick"]))
            .sum()
            .alias("collateral_seized"),
            pl.col("debt_repaid_value")
            .filter(kind.is_in(["liquidation", "absorb", "auction_take"]))
            .sum()
            .alias("debt_repaid_value"),
            pl.col("bad_debt").sum().alias("bad_debt"),
            pl.col("notional")
            .filter(kind.is_in(["liquidation", "sale", "storefront", "auction_take", "fund_sale"]))
            .sum()
            .alias("sale_proceeds"),
            pl.col("notional").filter(kind == "perp_liquidation").sum().alias("perp_fill_notional"),
            pl.col("notional").filter(kind == "adl").sum().alias("adl_notional"),
            pl.col("insurance_change").sum().alias("insurance_change"),
        )
        .sort(by)
    )
