//! Leverage-targeting funds through the engine in small cascades derived by hand, and the
//! checks of their inputs; `fund_worked_examples.rs` has MECHANICS §7.2 worked example 7 (GLT)
//! and §7.3 worked example 8 (Cont–Schaanning). Every expected value is computed here from the
//! published formulas, not by the fund code.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{asset, funds_engine, funds_of, scenario_of};
use deleverage_core::{
    Accounting, AnyVenue, Engine, Error, EventKind, Execution, Family, FundStatus, Funds,
    ImpactCurve, NONE, OracleKind, QueueConfig, RoundMode, Rule,
};

#[test]
fn target_fund_buys_after_a_gain() {
    // 10 units at 1, debt 5: λ = 2. +10 %: H = 11, E = 6, trade 2·6 − 11 = +1 → buy 1/11 of the
    // holdings (10/11 units, value 1 at 1.1). Linear curve, α = 0: pays 1.0, S → 1.1(1 + ℓ).
    let l = 0.01;
    for leverage in [Some(2.0), None] {
        let funds = Funds::new(
            vec![10.0],
            1,
            vec![],
            vec![],
            vec![5.0],
            Rule::Target { leverage },
            Accounting::MarkToMarket,
        )
        .unwrap();
        let curve = ImpactCurve::linear(1.0, l, Execution::Weighted { alpha: 0.0 }).unwrap();
        let mut e = funds_engine(vec![curve], funds, RoundMode::Batch, 1);
        let rep = e.step(&[1.1]).unwrap();
        let ev = &e.events();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev.kind[0], EventKind::FundPurchase as u8);
        assert_close!(ev.qty[0], 10.0 / 11.0);
        assert_close!(ev.notional[0], 1.0);
        assert_close!(ev.debt_repaid[0], -1.0);
        assert_close!(ev.price_before[0], 1.1);
        // The purchase mirrors a sale: S' = S(1 + ℓq).
        assert_close!(ev.price_after[0], 1.1 * (1.0 + l * 1.0));
        // Purchases are not liquidations.
        assert_eq!(rep.liquidations, 0);
        let t = funds_of(&e, 0).table(e.oracle_prices());
        assert_close!(t.debt[0], 6.0);
        assert_close!(t.marketable_value[0], (10.0 + 10.0 / 11.0) * 1.1 * 1.01);
        assert_close!(t.bought_notional[0], 1.0);
        assert_eq!(t.status[0], FundStatus::Active);
    }
}

#[test]
fn default_sells_everything_and_books_bad_debt() {
    // 10 units at 1, illiquid 2 (shock 50 % → 1), debt 10.5: E₀ = 1.5. A −10 % move gives
    // H = 9, E = 9 + 1 − 10.5 = −0.5 ≤ 0: default. Sell all 10 units, q = 9, on a linear curve
    // with exact-integral execution: VWAP = 0.9(1 − ℓ·9/2), S' = 0.9(1 − 9ℓ).
    let l = 0.01;
    let funds = Funds::new(
        vec![10.0],
        1,
        vec![2.0],
        vec![0.5],
        vec![10.5],
        Rule::Threshold {
            lambda_max: 25.0,
            lambda_b: 20.0,
        },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let curve = ImpactCurve::linear(1.0, l, Execution::Integral).unwrap();
    let mut e = funds_engine(vec![curve], funds, RoundMode::Batch, 64);
    let rep = e.step(&[0.9]).unwrap();
    let proceeds = 10.0 * 0.9 * (1.0 - l * 4.5);
    let bad = 10.5 - proceeds - 1.0;
    let ev = &e.events();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev.kind[0], EventKind::FundSale as u8);
    assert_close!(ev.qty[0], 10.0);
    assert_close!(ev.notional[0], proceeds);
    assert_close!(ev.debt_repaid[0], proceeds);
    assert_close!(ev.price_after[0], 0.9 * (1.0 - 9.0 * l));
    assert_eq!(ev.kind[1], EventKind::Default as u8);
    assert_eq!(ev.asset[1], NONE);
    assert_eq!(ev.account[1], 0);
    assert_close!(ev.bad_debt[1], bad);
    assert_close!(e.cumulative_bad_debt(), bad);
    assert_close!(rep.bad_debt, bad);
    assert_close!(rep.liquidated_notional, 9.0);
    let t = funds_of(&e, 0).table(e.oracle_prices());
    assert_eq!(t.status[0], FundStatus::Defaulted);
    assert_eq!(t.leverage[0], f64::INFINITY);
    assert_eq!(t.marketable_value[0], 0.0);
    assert_close!(t.illiquid_value[0], 1.0);
    assert_close!(t.equity[0], -bad);
    assert_close!(t.bad_debt[0], bad);
    // Frozen afterwards: a further fall changes nothing.
    e.step(&[0.5]).unwrap();
    assert_eq!(e.events().len(), 2);
}

/// Two identical threshold funds (100 units at 1, debt 95: λ = 20), λ_max 20, λ_b 18, a −1 %
/// move (S = 0.99: H = 99, E = 4, λ = 24.75), linear curve ℓ = 1e-3, α = 0 (VWAP = pre-trade S).
fn twin_engine(mode: RoundMode) -> Engine {
    let funds = Funds::new(
        vec![100.0, 100.0],
        1,
        vec![],
        vec![],
        vec![95.0, 95.0],
        Rule::Threshold {
            lambda_max: 20.0,
            lambda_b: 18.0,
        },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let curve = ImpactCurve::linear(1.0, 1e-3, Execution::Weighted { alpha: 0.0 }).unwrap();
    let mut e = funds_engine(vec![curve], funds, mode, 1);
    e.step(&[0.99]).unwrap();
    e
}

#[test]
fn batch_and_sequential_rounds_differ_as_expected() {
    let l = 1e-3;
    // Each sells H − λ_b E = 99 − 72 = 27 of value: Γ = 27/99.
    let g = 27.0 / 99.0;

    // Batch: both decide at 0.99, one net sale of 54, both at the same price.
    let e = twin_engine(RoundMode::Batch);
    let s_batch = 0.99 * (1.0 - l * 54.0);
    let ev = &e.events();
    assert_eq!(ev.len(), 2);
    for j in 0..2 {
        assert_eq!(ev.account[j], j as u32);
        assert_close!(ev.qty[j], g * 100.0);
        assert_close!(ev.notional[j], 27.0);
        assert_close!(ev.price_before[j], 0.99);
        assert_close!(ev.price_after[j], s_batch);
    }
    assert_close!(e.market().spot(0), s_batch);
    let t = funds_of(&e, 0).table(e.oracle_prices());
    assert_eq!(t.equity[0], t.equity[1]);
    assert_close!(t.equity[0], 100.0 * (1.0 - g) * s_batch - 68.0);

    // Sequential: fund 0 sells 27 at 0.99; fund 1 then sees S₁ = 0.99(1 − 27ℓ) and its own
    // leverage on it, and sells H₁ − λ_b E₁ at S₁.
    let e = twin_engine(RoundMode::Sequential);
    let s1 = 0.99 * (1.0 - l * 27.0);
    let h1 = 100.0 * s1;
    let e1 = h1 - 95.0;
    assert!(h1 / e1 > 20.0);
    let v1 = h1 - 18.0 * e1;
    let s2 = s1 * (1.0 - l * v1);
    let ev = &e.events();
    assert_eq!(ev.len(), 2);
    assert_close!(ev.notional[0], 27.0);
    assert_close!(ev.price_after[0], s1);
    assert_close!(ev.price_before[1], s1);
    assert_close!(ev.qty[1], v1 / s1);
    assert_close!(ev.notional[1], v1);
    assert_close!(ev.price_after[1], s2);
    assert_close!(e.market().spot(0), s2);
    // The later seller sells more, and the price ends lower than in a batch.
    assert!(v1 > 27.0 && s2 < s_batch);
    let t = funds_of(&e, 0).table(e.oracle_prices());
    assert_close!(t.equity[0], 100.0 * (1.0 - g) * s2 - 68.0);
    assert_close!(t.equity[1], (100.0 - v1 / s1) * s2 - (95.0 - v1));
}

#[test]
fn batch_nets_opposite_orders_at_one_price() {
    // Two target funds (own starting leverage) whose illiquid classes move apart:
    // Fund 0: 10 units, illiquid 10 with class 0 (ε = 0.5), debt 10: E₀ = 10, λ₀ = 2.
    //   after the shock: H = 10, I = 5, E = 5 → trade 2·5 − 15 = −5 (sell 5 units).
    // Fund 1: 10 units, illiquid 10 with class 1 (ε = −0.2, a gain), debt 10: E₀ = 10, λ₀ = 2.
    //   after: H = 10, I = 12, E = 12 → trade 24 − 22 = +2 (buy 2 units).
    // Net: sell 3 units on a linear curve (ℓ = 0.01, α = 0.5): S' = 1 − 0.03, VWAP = 1 − 0.015.
    let funds = Funds::new(
        vec![10.0, 10.0],
        1,
        vec![10.0, 0.0, 0.0, 10.0],
        vec![0.5, -0.2],
        vec![10.0, 10.0],
        Rule::Target { leverage: None },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let curve = ImpactCurve::linear(1.0, 0.01, Execution::Weighted { alpha: 0.5 }).unwrap();
    let mut e = funds_engine(vec![curve], funds, RoundMode::Batch, 1);
    let rep = e.step(&[1.0]).unwrap();
    let vwap = 1.0 - 0.015;
    let ev = &e.events();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev.kind[0], EventKind::FundSale as u8);
    assert_close!(ev.qty[0], 5.0);
    assert_close!(ev.notional[0], 5.0 * vwap);
    assert_eq!(ev.kind[1], EventKind::FundPurchase as u8);
    assert_close!(ev.qty[1], 2.0);
    assert_close!(ev.notional[1], 2.0 * vwap);
    assert_close!(ev.price_after[0], 0.97);
    assert_close!(e.market().spot(0), 0.97);
    // Quote: what the venue paid for the net 3 units = sellers' proceeds − buyers' cost.
    assert_close!(ev.notional[0] - ev.notional[1], 3.0 * vwap);
    // Only the sale counts as liquidated notional.
    assert_close!(rep.liquidated_notional, 5.0);
    let f = funds_of(&e, 0);
    assert_close!(f.sold_units()[0], 5.0);
    assert_close!(f.bought_units()[0], 2.0);
}

#[test]
fn validation_names_field_and_value() {
    let err = Funds::new(
        vec![1.0, -2.0],
        2,
        vec![],
        vec![],
        vec![1.0],
        Rule::Target {
            leverage: Some(2.0),
        },
        Accounting::MarkToMarket,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "units[0][1] must be >= 0, got -2");
    let err = Funds::new(
        vec![1.0],
        1,
        vec![],
        vec![],
        vec![1.0],
        Rule::Threshold {
            lambda_max: 10.0,
            lambda_b: 12.0,
        },
        Accounting::MarkToMarket,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lambda_b must be in [1, lambda_max], got 12"
    );
    let err = Funds::new(
        vec![1.0],
        1,
        vec![],
        vec![],
        vec![1.0],
        Rule::Threshold {
            lambda_max: 10.0,
            lambda_b: 9.0,
        },
        Accounting::Linear,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Incompatible { ref field, .. } if field == "rule"));
    assert!(err.to_string().contains("Linear accounting"));
    let err = Funds::new(
        vec![1.0],
        1,
        vec![3.0],
        vec![0.1],
        vec![1.0],
        Rule::Target { leverage: None },
        Accounting::Linear,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Incompatible { ref field, .. } if field == "illiquid[0][0]"));
    let err = Funds::new(
        vec![1.0],
        1,
        vec![1.0],
        vec![1.5],
        vec![1.0],
        Rule::Target { leverage: None },
        Accounting::MarkToMarket,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "illiquid_shock[0] must be at most 1, got 1.5"
    );
    // Holdings two assets wide in a one-asset scenario.
    let funds = Funds::new(
        vec![1.0, 1.0],
        2,
        vec![],
        vec![],
        vec![1.0],
        Rule::Target { leverage: None },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let curve = ImpactCurve::linear(1.0, 0.01, Execution::Integral).unwrap();
    let sc = scenario_of(
        vec![asset("asset0", 1.0, vec![curve.into()], OracleKind::Spot)],
        vec![Family::Funds(funds)],
        QueueConfig::default(),
    );
    let err = Engine::new(sc, 0).unwrap_err();
    assert!(matches!(
        err,
        Error::LengthMismatch {
            got: 2,
            expected: 1,
            ..
        }
    ));
}

#[test]
fn runaway_target_purchases_stop_with_an_error() {
    // 93.59 ETH at 100 with debt 1,559.9 (leverage 1.2, equity 7,799.5) and a target of 11.2:
    // the fund buys; on a steep linear curve each purchase raises the price enough that the
    // next round's target buys more (a feedback gain above 1).
    // Instead of trading towards infinity the step stops with `Diverged`.
    let funds = Funds::new(
        vec![93.594_512_693_589_2],
        1,
        vec![],
        vec![],
        vec![1_559.9],
        Rule::Target {
            leverage: Some(11.205_8),
        },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let curve = ImpactCurve::linear(100.0, 1.641e-5, Execution::Integral).unwrap();
    let queue = QueueConfig {
        mode: RoundMode::Sequential,
        ..QueueConfig::default()
    };
    let sc = scenario_of(
        vec![asset(
            "ETH",
            100.0,
            vec![AnyVenue::Curve(curve)],
            OracleKind::Spot,
        )],
        vec![Family::Funds(funds)],
        queue,
    );
    let mut e = Engine::new(sc, 0).unwrap();
    let err = e.step(&[95.0]).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("funds[0] of protocol 0"), "{err}");
    // Everything recorded before the stop is finite.
    let ev = &e.events();
    assert!(ev.notional.iter().chain(&ev.qty).all(|x| x.is_finite()));
}
