"""Fire-sale clearing equilibria (MECHANICS §7.5, ``deleverage.equilibria``): one bank on one
asset with linear and exponential impact, the fixed points of ``p = Φ(p) = impact(S(p))``
solved by hand in the comments, two banks on two assets, and bad input."""

from __future__ import annotations

import math

import polars as pl
import pytest

import deleverage as dl
from deleverage.equilibria import clearing_equilibria


def bank(
    sc: dl.Scenario, funds: dl.Funds, units: float, debt: float, **holdings: float
) -> dl.Scenario:
    """``sc`` with one fund ``bank`` holding ``units`` BONDS, ``debt`` and ``holdings``."""
    names = ["BONDS", "debt", *holdings]
    amounts = [float(units), float(debt), *map(float, holdings.values())]
    pos = pl.DataFrame({"account": ["bank"] * len(names), "holding": names, "amount": amounts})
    return sc.add_funds(funds, pos)


def bonds(*venues: dl.Venue) -> dl.Scenario:
    return dl.Scenario(assets=[dl.Asset("BONDS", 1.0, venues=list(venues)), dl.Asset("USDC", 1.0)])


def test_linear_threshold_bank_two_stable_equilibria_and_the_unstable_one_between() -> None:
    # u = 100 bonds at p0 = 1, debt D = 81.6: lambda0 = 100/18.4 = 5.43 > lambda_max = 5.2, so
    # it sells at p0, down to lambda_b = 5: S(p) = (H − 5E)/p = (100p − 5(100p − 81.6))/p =
    # 408/p − 400 units, for default (E = 100p − 81.6 <= 0, p <= 0.816) < p < trigger
    # (lambda > 5.2 below 5.2·81.6/(4.2·100) = 1.0103). Linear impact l = 0.001875, q = S·1:
    # Phi(p) = 1 − l·S(p) = 1.75 − 0.765/p, Phi(p) = p <=> p² − 1.75p + 0.765 = 0
    # <=> (p − 0.9)(p − 0.85) = 0. Phi'(p) = 0.765/p²: 0.944 at 0.9 (< 1, stable), 1.059 at
    # 0.85 (> 1, unstable). At or below 0.816 it defaults and sells all 100:
    # Phi = 1 − 0.001875·100 = 0.8125 <= 0.816, the least fixed point (Phi' = 0, stable).
    sc = bank(bonds(dl.ImpactCurve.linear(1.0, 0.001875)), dl.Funds.threshold(5.2, 5.0), 100, 81.6)
    eq = clearing_equilibria(sc)
    assert eq["equilibrium"].to_list() == ["least", "unstable", "greatest"]
    assert eq["stable"].to_list() == [True, False, True]
    assert eq["converged"].to_list() == [True, True, True]
    assert eq["price_BONDS"].to_list() == pytest.approx([0.8125, 0.85, 0.9], rel=1e-11)
    # S = 100 (all), 408/0.85 − 400 = 80, 408/0.9 − 400 = 53.33.
    assert eq["sold_BONDS"].to_list() == pytest.approx([100.0, 80.0, 408 / 0.9 - 400], rel=1e-9)
    # USDC has no venue and nobody holds it: its price stays at 1.
    assert eq["price_USDC"].to_list() == [1.0, 1.0, 1.0]
    assert eq["sold_USDC"].to_list() == [0.0, 0.0, 0.0]
    # E = 100p − 81.6 = −0.35, 3.4, 8.4; loss against E(1) = 18.4: 100(1 − p).
    assert [e[0] for e in eq["equity"].to_list()] == pytest.approx([-0.35, 3.4, 8.4], rel=1e-9)
    assert eq["defaulted"].to_list() == [[True], [False], [False]]
    assert eq["defaults"].to_list() == [1, 0, 0]
    assert eq["systemic_loss"].to_list() == pytest.approx([18.75, 15.0, 10.0], rel=1e-9)
    # Least: Phi(0.8125) = 0.8125 confirms the all-sold start at once. Greatest, from 1:
    # e_k = p_k − 0.9 obeys e_{k+1} = 0.85·e_k/(0.9 + e_k), so e_k = 1/(30·(18/17)^k − 20);
    # the step e_{k−1}(p_{k−1} − 0.85)/p_{k−1}² first falls below 1e-13 at k = 417.
    its = eq["iterations"].to_list()
    assert (its[0], its[2]) == (1, 417)
    # The unstable one: bisection of a 0.0875/512 cell to about one ulp, at most ~41 halvings.
    assert 1 <= its[1] <= 45
    # Cut short at 5 applications, the greatest stands at 0.9 + e_5, unconverged, unscanned.
    short = clearing_equilibria(sc, max_iter=5)
    assert short["equilibrium"].to_list() == ["least", "greatest"]
    e5 = 1 / (30 * (18 / 17) ** 5 - 20)
    assert short["price_BONDS"][1] == pytest.approx(0.9 + e5, rel=1e-13)
    assert short["converged"].to_list() == [True, False]
    assert short["iterations"].to_list() == [1, 5]


def test_exponential_target_bank_two_stable_equilibria_and_the_unstable_one_between() -> None:
    # Target leverage 5: sells 5E − H quote (buys when negative), u = 100 at 1, debt D.
    # Exponential impact, floor 0, depth = delta: Phi(p) = exp(−S(p)/delta) with
    # S(p) = (H − 5E)/p = 5D/p − 400. ln Phi − ln p = −(5D/p − 400)/delta − ln p rises below
    # 5D/delta and falls above: two crossings p_u < p_s at most, Phi' = 5D/(delta·p) there
    # (> 1 at p_u, < 1 at p_s). Choosing p_s = 0.95, p_u = 0.85, −delta·ln p = 5D/p − 400 at both:
    # D = 400(ln p_u − ln p_s)/(5(ln p_u/p_s − ln p_s/p_u)) = 80.3599,
    # delta = (5D/p_s − 400)/(−ln p_s) = 447.365. Default at p <= D/100 = 0.8036, all 100 sold:
    # Phi = exp(−100/delta) = 0.79969 <= 0.8036, the least (stable). lambda0 = 5.09 > 5.
    ps, pu = 0.95, 0.85
    d = 400 * (math.log(pu) - math.log(ps)) / (5 * (math.log(pu) / ps - math.log(ps) / pu))
    delta = (5 * d / ps - 400) / -math.log(ps)
    assert (d, delta) == pytest.approx((80.3599, 447.365), abs=1e-3)
    curve = dl.ImpactCurve.exponential(1.0, 0.0, delta)
    eq = clearing_equilibria(bank(bonds(curve), dl.Funds.target(5.0), 100, d))
    low = math.exp(-100 / delta)
    assert eq["equilibrium"].to_list() == ["least", "unstable", "greatest"]
    assert eq["stable"].to_list() == [True, False, True]
    assert eq["price_BONDS"].to_list() == pytest.approx([low, pu, ps], rel=1e-11)
    sold = [100.0, 5 * d / pu - 400, 5 * d / ps - 400]
    assert eq["sold_BONDS"].to_list() == pytest.approx(sold, rel=1e-8)
    assert eq["defaults"].to_list() == [1, 0, 0]
    assert [e[0] for e in eq["equity"].to_list()] == pytest.approx(
        [100 * low - d, 100 * pu - d, 100 * ps - d], rel=1e-9
    )
    assert eq["systemic_loss"].to_list() == pytest.approx([100 * (1 - low), 15.0, 5.0], rel=1e-9)
    assert eq["converged"].all()


def test_exponential_default_jump_two_stable_equilibria_and_no_fixed_point_between() -> None:
    # Default only (lambda_max = 1e12): 100 at 1, debt 85. Floor 0.5, depth 200:
    # delta = (1 − 0.5)·200 = 100. Above 0.85 nothing is sold (Phi = 1); at or below, all
    # 100 (q = 100): Phi = 0.5 + 0.5·e^−1 = 0.683940 <= 0.85. Phi − p changes sign at 0.85 only
    # by Phi's jump from 0.684 to 1: no fixed point there, no row.
    curve = dl.ImpactCurve.exponential(1.0, 0.5, 200.0)
    funds = dl.Funds.threshold(1e12, 1e12)
    eq = clearing_equilibria(bank(bonds(curve), funds, 100, 85), grid=64)
    low = 0.5 + 0.5 * math.exp(-1)
    assert eq["equilibrium"].to_list() == ["least", "greatest"]
    assert eq["stable"].to_list() == [True, True]
    assert eq["price_BONDS"].to_list() == pytest.approx([low, 1.0], rel=1e-14)
    assert eq["sold_BONDS"].to_list() == [100.0, 0.0]
    assert eq["systemic_loss"].to_list() == pytest.approx([100 * (1 - low), 0.0], abs=1e-12)
    assert eq["iterations"].to_list() == [1, 1]


def test_a_target_bank_buying_has_a_unique_equilibrium() -> None:
    # Target at its own leverage 110/50 = 2.2 (read before the illiquid shock); loans 10 gain
    # 10 % (→ 11), debt 60: E = 100p − 49, trade 2.2E − (100p + 11) = 120p − 118.8 quote, so
    # S(p) = 118.8/p − 120 (negative above 0.99: it buys). l = 0.001 both ways:
    # Phi(p) = 1 − l·S(p), p² − 1.12p + 0.1188 = 0, p* = (1.12 + sqrt(0.7792))/2 = 1.0013617.
    # The other root (0.119) is in the default region (p <= 0.49, Phi = 0.9): no fixed point.
    funds = dl.Funds.target(illiquid={"loans": -0.1})
    eq = clearing_equilibria(
        bank(bonds(dl.ImpactCurve.linear(1.0, 0.001)), funds, 100, 60, loans=10)
    )
    p = (1.12 + math.sqrt(0.7792)) / 2
    assert eq["equilibrium"].to_list() == ["unique"]
    assert eq["stable"].to_list() == [True]
    assert eq["price_BONDS"][0] == pytest.approx(p, rel=1e-12)
    assert eq["sold_BONDS"][0] == pytest.approx(118.8 / p - 120, rel=1e-9)
    # A gain: E(1) = 51 after the shock, E(p*) = 100p* − 49.
    assert eq["systemic_loss"][0] == pytest.approx(51 - (100 * p - 49), rel=1e-9)


def test_two_banks_on_two_assets_report_the_least_and_greatest() -> None:
    # Bank a: 100 A at 1 and 50 B at 2, debt 180 (E0 = 20); bank b: 10 B, no debt (never sells).
    # Default only. Linear impact 0.002 (A) and 0.001 (B). All sold: A 1·(1 − 0.2) = 0.8,
    # B (60 units, q = 120) 2·(1 − 0.12) = 1.76; there a has 80 + 88 = 168 < 180 and defaults,
    # b sells nothing: Phi = (0.8, 2·(1 − 0.1)) = (0.8, 1.8), where a (170 < 180) still
    # defaults: two applications. Loss (20 − (−10)) + (20 − 18) = 32. From p0 nobody sells.
    sc = dl.Scenario(
        assets=[
            dl.Asset("A", 1.0, venues=[dl.ImpactCurve.linear(1.0, 0.002)]),
            dl.Asset("B", 2.0, venues=[dl.ImpactCurve.linear(2.0, 0.001)]),
        ]
    )
    pos = pl.DataFrame(
        {
            "account": ["a", "a", "a", "b"],
            "holding": ["A", "B", "debt", "B"],
            "amount": [100.0, 50.0, 180.0, 10.0],
        }
    )
    eq = clearing_equilibria(sc.add_funds(dl.Funds.threshold(1e12, 1e12), pos))
    assert eq["equilibrium"].to_list() == ["least", "greatest"]
    assert eq["price_A"].to_list() == pytest.approx([0.8, 1.0], rel=1e-15)
    assert eq["price_B"].to_list() == pytest.approx([1.8, 2.0], rel=1e-15)
    assert eq["sold_A"].to_list() == [100.0, 0.0]
    assert eq["sold_B"].to_list() == [50.0, 0.0]
    assert eq["equity"].to_list() == [pytest.approx([-10.0, 18.0]), [20.0, 20.0]]
    assert eq["defaulted"].to_list() == [[True, False], [False, False]]
    assert eq["systemic_loss"].to_list() == pytest.approx([32.0, 0.0], abs=1e-12)
    assert eq["iterations"].to_list() == [2, 1]
    assert eq["stable"].to_list() == [True, True]


def test_protocol_names_the_funds_group() -> None:
    curve = dl.ImpactCurve.exponential(1.0, 0.5, 200.0)
    pos = pl.DataFrame(
        {"account": ["x", "x"], "holding": ["BONDS", "debt"], "amount": [100.0, 85.0]}
    )
    calm = pl.DataFrame({"account": ["y"], "holding": ["BONDS"], "amount": [10.0]})
    sc = bonds(curve).add_funds(dl.Funds.threshold(1e12, 1e12, name="banks"), pos)
    sc = sc.add_funds(dl.Funds.threshold(1e12, 1e12, name="calm"), calm)
    with pytest.raises(dl.ScenarioError, match=r"one of the Funds groups \['banks', 'calm'\]"):
        clearing_equilibria(sc)
    # The group without debt never sells: one equilibrium, at p0.
    assert clearing_equilibria(sc, "calm")["equilibrium"].to_list() == ["unique"]
    assert clearing_equilibria(sc, "banks")["equilibrium"].to_list() == ["least", "greatest"]
    with pytest.raises(dl.ScenarioError, match="got 'nope'"):
        clearing_equilibria(sc, "nope")
    lent = sc.add_lending(
        dl.Lending.aave_v3({"BONDS": dl.Reserve(0.8, 0.05)}),
        pl.DataFrame(
            {"account": ["l"], "collateral_asset": ["BONDS"], "collateral": [1.0],
             "debt_asset": ["USDC"], "debt": [0.1]}
        ),
    )  # fmt: skip
    # Lending comes first in the engine: the group is still found by name.
    assert clearing_equilibria(lent, "banks")["equilibrium"].to_list() == ["least", "greatest"]
    with pytest.raises(dl.ScenarioError, match=r"got 'aave_v3' \(not a Funds group\)"):
        clearing_equilibria(lent, "aave_v3")


def test_bad_input_raises_scenario_error() -> None:
    curve = dl.ImpactCurve.linear(1.0, 0.001)
    sc = bonds(curve)
    with pytest.raises(dl.ScenarioError, match="no Funds group"):
        clearing_equilibria(sc)
    with pytest.raises(dl.ScenarioError, match=r"scenario must be a deleverage\.Scenario"):
        clearing_equilibria("scenario")  # type: ignore[arg-type]
    funded = bank(sc, dl.Funds.threshold(5.2, 5.0), 100, 81.6)
    for grid in (1, 0, -3, 2.5, "512", True):
        with pytest.raises(dl.ScenarioError, match=r"grid must be a whole number >= 2"):
            clearing_equilibria(funded, grid=grid)  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match=r"grid must be in \[2, 1000000\], got 2000000") as e:
        clearing_equilibria(funded, grid=2_000_000)
    assert (e.value.field, e.value.value) == ("grid", 2_000_000)
    for max_iter in (0, 1.5, None):
        with pytest.raises(dl.ScenarioError, match=r"max_iter must be a whole number >= 1"):
            clearing_equilibria(funded, max_iter=max_iter)  # type: ignore[arg-type]
    with pytest.raises(dl.ScenarioError, match="max_iter must be at most"):
        clearing_equilibria(funded, max_iter=2**32)
    with pytest.raises(dl.ScenarioError, match="protocol must be a string or None, got 3"):
        clearing_equilibria(funded, 3)  # type: ignore[arg-type]
