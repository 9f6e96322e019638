"""``dl.risk`` on hand-made sweep frames: historical VaR and ES by their order statistics, the
probabilities, the quantiles, and the grouping; then on a real sweep."""

from __future__ import annotations

import polars as pl
import pytest

import deleverage as dl


def test_var_es_and_probabilities_by_hand() -> None:
    # Group a: bad debts 0 … 19 (n = 20). At 0.9: k = ⌈18⌉ = 18 → VaR the 18th smallest, 17;
    # ES the mean of 17, 18, 19 = 18. P(bad debt > 0) = 19/20. Group b: no bad debt at all.
    frame = pl.DataFrame(
        {
            "scenario": ["a"] * 20 + ["b"] * 4,
            "bad_debt": [float(i) for i in range(20)] + [0.0] * 4,
            "insurance_fund_min": [0.0] * 5 + [50.0] * 15 + [100.0] * 4,
            "insurance_fund_start": [100.0] * 24,
            "drawdown_ETH": [-0.01 * i for i in range(20)] + [0.0] * 4,
            "amplification_ETH": [1.0 + 0.1 * i for i in range(20)] + [None] * 4,
        }
    )
    r = {row["scenario"]: row for row in dl.risk(frame, levels=[0.9]).iter_rows(named=True)}
    a, b = r["a"], r["b"]
    assert (a["runs"], a["p_bad_debt"], a["bad_debt_mean"]) == (20, 0.95, 9.5)
    assert (a["bad_debt_var_0.9"], a["bad_debt_es_0.9"]) == (17.0, 18.0)
    assert a["p_fund_depleted"] == 0.25  # 5 of 20 runs ended with an empty fund
    # Linear quantiles of −0.00 … −0.19: the median −0.095, q05 at index 0.95 → −0.1805.
    assert a["drawdown_ETH_q50"] == pytest.approx(-0.095)
    assert a["drawdown_ETH_q05"] == pytest.approx(-0.1805)
    assert a["amplification_ETH_q50"] == pytest.approx(1.95)
    assert (b["p_bad_debt"], b["bad_debt_var_0.9"], b["p_fund_depleted"]) == (0.0, 0.0, 0.0)
    assert b["amplification_ETH_q50"] is None  # undefined in every run of b


def test_bad_input_is_named() -> None:
    frame = pl.DataFrame({"scenario": ["a"], "bad_debt": [1.0]})
    with pytest.raises(dl.ScenarioError, match=r"levels must be numbers in \(0, 1\), got 1.5"):
        dl.risk(frame, levels=[1.5])
    with pytest.raises(dl.ScenarioError, match=r"frame lacks the columns \['variant'\]"):
        dl.risk(frame, by="variant")
    with pytest.raises(dl.ScenarioError, match="frame has no runs"):
        dl.risk(frame.clear())


def test_on_a_real_sweep_the_tail_is_ordered() -> None:
    sc = dl.examples.eth_lending(n_accounts=300, steps=50)
    runs = dl.sweep(sc, dl.Shock.gbm(sigma={"ETH": 4.0}, per="year"), runs=40, seed=2)
    r = dl.risk(runs).row(0, named=True)
    assert r["runs"] == 40
    assert r["bad_debt_var_0.95"] <= r["bad_debt_es_0.95"] <= runs["bad_debt"].max()
    assert r["bad_debt_var_0.95"] <= r["bad_debt_var_0.99"]
    assert r["drawdown_ETH_q01"] <= r["drawdown_ETH_q05"] <= r["drawdown_ETH_q50"] <= 0.0
