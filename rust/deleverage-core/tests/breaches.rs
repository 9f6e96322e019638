//! `Scenario::breached_at`: the no-feedback view of every family's rule at chosen prices, against
//! thresholds worked out by hand (the same rules the step loop applies).

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{aave_v3, asset, exchange_config, lending_accounts, lending_family, reserve};
use deleverage_core::{
    AaveVersion, Accounting, AdlOrder, Brackets, Exchange, Family, Funds, Ilk, OracleKind,
    PositionRows, PriceCurve, QueueConfig, Rule, Scenario, Vaults,
};

fn scenario(families: Vec<Family>) -> Scenario {
    Scenario {
        assets: vec![
            asset("ETH", 100.0, vec![], OracleKind::Reference),
            asset("USDC", 1.0, vec![], OracleKind::Reference),
        ],
        families,
        queue: QueueConfig::default(),
        step_seconds: 12.0,
        outages: Vec::new(),
        reads_peg: Vec::new(),
        owners: Vec::new(),
        owner_of: Vec::new(),
    }
}

#[test]
fn lending_breaches_below_health_one() {
    // 10 ETH against 800 and 700 USDC, LT 0.8: HF = 10·p·0.8/D < 1 below p = 100 and 87.5.
    let aave = aave_v3(
        AaveVersion::V3_3,
        vec![reserve(0.8, 0.05, 0.1), reserve(0.0, 0.0, 0.0)],
    );
    let acc = lending_accounts(
        &[0, 1],
        vec![10.0, 0.0, 10.0, 0.0],
        vec![0.0, 800.0, 0.0, 700.0],
        2,
    );
    let sc = scenario(vec![lending_family(vec![aave], acc)]);
    // Rows: p = 100 (nobody: HF exactly 1 is not below), 99, 87.5 (only the first), 87.
    let b = sc
        .breached_at(&[100.0, 1.0, 99.0, 1.0, 87.5, 1.0, 87.0, 1.0])
        .unwrap()
        .remove(0);
    assert_eq!(b.at, vec![1, 2, 3, 3]);
    assert_eq!(b.row, vec![0, 0, 0, 1]);
    assert_eq!(b.debt, vec![800.0, 800.0, 800.0, 700.0]);
    assert_close!(b.collateral_value[0], 990.0);
    // margin = Σ coll·p·θ, requirement = debt value.
    assert_close!(b.margin[3], 10.0 * 87.0 * 0.8);
    assert_eq!(b.requirement[3], 700.0);
}

#[test]
fn perp_pools_breach_below_maintenance_margin() {
    // Isolated long 1 @100 with margin 10 and MMR 1 %: 10 + (p − 100) < 0.01p ⇔ p < 90/0.99
    // = 90.909…; a short 1 @100 with margin 10 breaches above 110/1.01 = 108.91….
    let cfg = exchange_config(
        Brackets::new(vec![f64::INFINITY], vec![0.01]).unwrap(),
        0.0,
        0.0,
        AdlOrder::Dydx,
    );
    let rows = PositionRows {
        account: vec![0, 1],
        market: vec![0, 0],
        size: vec![1.0, -1.0],
        entry: vec![100.0; 2],
        margin: vec![10.0, 10.0],
        cross: vec![false, false],
        margin_asset: Vec::new(),
    };
    let sc = scenario(vec![Family::Perps(Exchange::new(cfg, &rows).unwrap())]);
    let long_at = 90.0 / 0.99;
    let b = sc
        .breached_at(&[
            91.0,
            1.0,
            long_at * (1.0 + 1e-12),
            1.0,
            90.0,
            1.0,
            109.0,
            1.0,
        ])
        .unwrap()
        .remove(0);
    assert_eq!(b.at, vec![2, 3]);
    assert_eq!(b.row, vec![0, 1]);
    assert_close!(b.notional[0], 90.0);
    assert_close!(b.margin[0], 0.0, floor = 1.0); // equity 10 + (90 − 100)
    assert_close!(b.requirement[0], 0.9);
    assert_close!(b.margin[1], 1.0); // 10 − (109 − 100)
    assert_close!(b.requirement[1], 1.09);
}

#[test]
fn vaults_are_unsafe_below_the_liquidation_ratio() {
    // ink 10, art 1,000, rate 1.02, mat 1.5: unsafe ⇔ 10·p/1.5 < 1,020 ⇔ p < 153.
    let ilk = Ilk {
        asset: 0,
        mat: 1.5,
        rate: 1.02,
        chop: 1.13,
        dust: 0.0,
        hole: f64::INFINITY,
        dirt: 0.0,
        buf: 1.2,
        curve: PriceCurve::Linear { tau: 3_600.0 },
        tail: f64::INFINITY,
        cusp: 0.4,
        chip: 0.0,
        tip: 0.0,
    };
    let v = Vaults::new(
        f64::INFINITY,
        0.0,
        vec![ilk],
        vec![7],
        vec![0],
        vec![10.0],
        vec![1_000.0],
    )
    .unwrap();
    let sc = scenario(vec![Family::Vaults(v)]);
    let b = sc.breached_at(&[153.0, 1.0, 152.0, 1.0]).unwrap().remove(0);
    assert_eq!(b.at, vec![1]);
    assert_eq!(b.row, vec![0]);
    assert_close!(b.debt[0], 1_020.0);
    assert_close!(b.collateral_value[0], 1_520.0);
    assert_close!(b.margin[0], 1_520.0 / 1.5);
}

#[test]
fn funds_breach_at_default_only() {
    // 10 ETH against debt 800: equity 10p − 800 ≤ 0 ⇔ p ≤ 80. Its leverage rule (λ > 3 above
    // p ≈ 88.9) is deleveraging, not a breach.
    let f = Funds::new(
        vec![10.0, 0.0],
        2,
        vec![],
        vec![],
        vec![800.0],
        Rule::Threshold {
            lambda_max: 3.0,
            lambda_b: 2.0,
        },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let sc = scenario(vec![Family::Funds(f)]);
    let b = sc
        .breached_at(&[85.0, 1.0, 80.0, 1.0, 70.0, 1.0])
        .unwrap()
        .remove(0);
    assert_eq!(b.at, vec![1, 2]);
    assert_eq!(b.margin, vec![0.0, -100.0]);
}

#[test]
fn bad_prices_are_refused_by_name() {
    let sc = scenario(vec![]);
    let e = sc.breached_at(&[100.0, 1.0, 100.0]).unwrap_err();
    assert!(e.to_string().contains("prices has length 3"), "{e}");
    let e = sc.breached_at(&[100.0, -1.0]).unwrap_err();
    assert_eq!(e.to_string(), "prices[0][1] must be > 0, got -1");
}

#[test]
fn liquidation_prices_solve_each_rule_for_one_price() {
    // Lending: 10 ETH against 800 USDC, LT 0.8: ETH below 100; USDC above 1 (at ETH 100).
    let aave = aave_v3(
        AaveVersion::V3_3,
        vec![reserve(0.8, 0.05, 0.1), reserve(0.0, 0.0, 0.0)],
    );
    let acc = lending_accounts(&[0, 1], vec![10.0, 0.0], vec![0.0, 800.0], 2);
    let sc = scenario(vec![lending_family(vec![aave], acc)]);
    let e = deleverage_core::Engine::new(sc, 0).unwrap();
    let eth = e.liquidation_prices(0).unwrap().remove(0);
    assert_eq!(
        (eth.account.clone(), eth.below.clone()),
        (vec![0], vec![true])
    );
    assert_close!(eth.price[0], 100.0);
    let usdc = e.liquidation_prices(1).unwrap().remove(0);
    assert_eq!(usdc.below, vec![false]);
    assert_close!(usdc.price[0], 1.0);
    assert!(e.liquidation_prices(2).is_err());
}
