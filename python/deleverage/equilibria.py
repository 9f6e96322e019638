"""Fire-sale clearing equilibria of a group of funds (MECHANICS §7.5: Cifuentes–Ferrucci–Shin,
Breuer–Summer–Urosevic): besides the round-by-round cascade of :func:`deleverage.simulate`, the
prices that clear the market in one go, ``p = Φ(p) = impact(S(p))`` from the initial balance
sheets.

``S(p)`` is what the funds sell at prices ``p`` by the group's own rule (threshold, target,
default; a target's purchases count as negative sales), ``impact`` the routed mid of each asset
after those sales on its venues. ``Φ`` is non-decreasing (lower prices, more sales, a lower
impact price), so iterating it from the prices now reaches the greatest fixed point and from the
all-sold prices the least; several fixed points mean the same balance sheets can clear at a mild
or a severe fire sale.

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> from deleverage.equilibria import clearing_equilibria
>>> bonds = dl.ImpactCurve.linear(1.0, 0.001875)
>>> sc = dl.Scenario(assets=[dl.Asset("BONDS", 1.0, venues=[bonds])])
>>> pos = pl.DataFrame({"account": ["bank", "bank"], "holding": ["BONDS", "debt"],
...                     "amount": [100.0, 81.6]})
>>> eq = clearing_equilibria(sc.add_funds(dl.Funds.threshold(5.2, 5.0), pos))
>>> eq.select("equilibrium", "stable", pl.col("price_BONDS").round(9)).rows()
[('least', True, 0.8125), ('unstable', False, 0.85), ('greatest', True, 0.9)]
"""

from __future__ import annotations

from typing import Any

import polars as pl

from deleverage._checks import whole
from deleverage._spec import _named
from deleverage.engine import Engine
from deleverage.exceptions import DeleverageError, ScenarioError
from deleverage.funds import Funds
from deleverage.scenario import Scenario

__all__ = ["clearing_equilibria"]

# The largest iteration count the engine takes (a u32).
_MAX_ITER = 2**32 - 1


def clearing_equilibria(
    scenario: Scenario,
    protocol: str | None = None,
    *,
    grid: int = 512,
    max_iter: int = 10_000,
) -> pl.DataFrame:
    """The fire-sale clearing equilibria of a :class:`~deleverage.Funds` group: the prices
    ``p* = Φ(p*)`` at which what the funds sell by their own rule at ``p*`` moves the market
    to ``p*`` (Cifuentes–Ferrucci–Shin; Breuer–Summer–Urosevic).

    From the initial balance sheets (illiquid holdings after their shock) and the market before
    the first step, ``S(p)`` is the units the group sells at prices ``p`` by its rule (threshold,
    target or default, exactly as in the cascade; a target's purchases count as negative sales),
    and ``Φ(p)`` the routed mid of every asset, in quote, after ``S(p)`` is sold on its venues at
    once. Iterating ``Φ`` from the scenario's prices reaches the greatest fixed point; from the
    prices after every fund sold everything, the least. When the group holds a single asset,
    ``Φ(p) − p`` is also scanned at ``grid − 1`` points between the two and each sign change
    refined by bisection: those that end on a fixed point are reported between them (a jump of
    ``Φ`` across the diagonal, a threshold's trigger, is not a fixed point). With several assets
    held only the least and the greatest are reported.

    Parameters
    ----------
    scenario:
        A scenario with at least one :class:`~deleverage.Funds` group. Its shock is not used:
        the illiquid shocks of the group are the exogenous move.
    protocol:
        The name of the Funds group; by default the scenario's only one.
    grid:
        Intervals of the scan for a single asset (at least 2, at most 1,000,000). Fixed points
        within one interval of the least or the greatest are not told apart from them.
    max_iter:
        Applications of ``Φ`` at most from each starting point; ``converged`` says whether the
        iteration stopped at a relative price change below 1e-13 before.

    Returns
    -------
    polars.DataFrame
        One row per equilibrium, by price (several assets: the least first):

        - ``equilibrium``: ``"least"``, ``"greatest"``, ``"unique"`` (the two coincide), or,
          between them, ``"unstable"`` or ``"stable"``;
        - ``stable``: whether prices near it return to it (one asset: ``Φ'(p*) < 1``, ``Φ``
          crossing the diagonal from above; several: whether a small step towards the other
          extreme comes back);
        - ``iterations``: applications of ``Φ`` (least, greatest, unique: the last one
          confirming; unique counts those from the scenario's prices), or bisection halvings;
        - ``converged``;
        - ``price_<asset>``: every asset's price in quote; ``sold_<asset>``: units the group
          sells there, net (negative: bought);
        - ``systemic_loss``: the equity the funds lose against the scenario's prices,
          ``Σ_i E_i(p₀) − E_i(p*)`` (the fire sale's loss, not the illiquid shock's);
        - ``defaults``: how many funds have ``E ≤ 0`` there (they sell everything);
        - ``equity`` and ``defaulted``: lists, one entry per fund in the order its accounts
          first appear in the group's positions; equity ``H + I − D`` at ``p*`` (not floored:
          below zero it is what creditors lose).

    Raises
    ------
    ScenarioError
        ``scenario`` is not a Scenario or has no Funds group; ``protocol`` names none (or is
        not given and there are several); ``grid`` or ``max_iter`` out of range.

    Examples
    --------
    One bank, 100 bonds at 1 and a debt of 81.6, selling above leverage 5.2 down to 5, on a
    linear curve losing 0.1875 % per unit sold: ``S(p) = 408/p − 400``, ``Φ(p) = 1.75 −
    0.765/p``, fixed at 0.9 and 0.85; below 0.816 it defaults and sells all 100, at 0.8125.

    >>> import polars as pl
    >>> import deleverage as dl
    >>> from deleverage.equilibria import clearing_equilibria
    >>> bonds = dl.ImpactCurve.linear(1.0, 0.001875)
    >>> sc = dl.Scenario(assets=[dl.Asset("BONDS", 1.0, venues=[bonds])])
    >>> pos = pl.DataFrame({"account": ["bank", "bank"], "holding": ["BONDS", "debt"],
    ...                     "amount": [100.0, 81.6]})
    >>> eq = clearing_equilibria(sc.add_funds(dl.Funds.threshold(5.2, 5.0), pos))
    >>> eq.select("equilibrium", "stable", pl.col("sold_BONDS").round(6), "defaults").rows()
    [('least', True, 100.0, 1), ('unstable', False, 80.0, 0), ('greatest', True, 53.333333, 0)]
    >>> eq["systemic_loss"].round(6).to_list()
    [18.75, 15.0, 10.0]
    """
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    grid = whole("grid", grid, low=2)
    max_iter = whole("max_iter", max_iter, low=1)
    if max_iter > _MAX_ITER:
        raise ScenarioError(f"max_iter must be at most {_MAX_ITER}, got {max_iter}")
    k = _funds_family(scenario, protocol)
    eng = Engine(scenario)
    try:
        # The engine's families: the lending family first, then the scenario's in order.
        raw = eng._core.clearing(1 + k, grid, max_iter)
    except DeleverageError as e:
        raise _named(e, eng._protocols, eng._labels) from None
    return _frame(raw, scenario.asset_names)


def _funds_family(scenario: Scenario, protocol: str | None) -> int:
    """The index in ``scenario.families`` of the Funds group ``protocol`` names (the only one
    when ``None``)."""
    funds = [(k, f.protocol.name) for k, f in enumerate(scenario.families)
             if isinstance(f.protocol, Funds)]  # fmt: skip
    names = [n for _, n in funds]
    if not funds:
        raise ScenarioError(
            f"scenario has no Funds group to clear; its protocols are {scenario.protocol_names}"
        )
    if protocol is None:
        if len(funds) > 1:
            raise ScenarioError(f"protocol must name one of the Funds groups {names}, got None")
        return funds[0][0]
    if not isinstance(protocol, str):
        raise ScenarioError(f"protocol must be a string or None, got {protocol!r}")
    for k, name in funds:
        if name == protocol:
            return k
    other = " (not a Funds group)" if protocol in scenario.protocol_names else ""
    raise ScenarioError(
        f"protocol must name one of the Funds groups {names}, got {protocol!r}{other}"
    )


def _frame(raw: list[Any], assets: list[str]) -> pl.DataFrame:
    """One row per equilibrium of the core's list."""

    def label(q: Any) -> str:
        if q["kind"] != "interior":
            return str(q["kind"])
        return "stable" if q["stable"] else "unstable"

    cols: dict[str, Any] = {
        "equilibrium": pl.Series([label(q) for q in raw], dtype=pl.String),
        "stable": pl.Series([q["stable"] for q in raw], dtype=pl.Boolean),
        "iterations": pl.Series([q["iterations"] for q in raw], dtype=pl.UInt32),
        "converged": pl.Series([q["converged"] for q in raw], dtype=pl.Boolean),
    }
    for j, a in enumerate(assets):
        cols[f"price_{a}"] = pl.Series([q["prices"][j] for q in raw], dtype=pl.Float64)
    for j, a in enumerate(assets):
        cols[f"sold_{a}"] = pl.Series([q["sold"][j] for q in raw], dtype=pl.Float64)
    cols["systemic_loss"] = pl.Series([q["systemic_loss"] for q in raw], dtype=pl.Float64)
    cols["defaults"] = pl.Series([sum(q["defaulted"]) for q in raw], dtype=pl.UInt32)
    cols["equity"] = pl.Series([q["equity"] for q in raw], dtype=pl.List(pl.Float64))
    cols["defaulted"] = pl.Series([q["defaulted"] for q in raw], dtype=pl.List(pl.Boolean))
    return pl.DataFrame(cols)
