//! Raw inputs to the core, as bytes decide them: any float (NaN, infinities, negative, subnormal,
//! huge) for prices, depths, reserves, amounts and parameters, any count, any path. Building a
//! venue, accounts, a protocol or an engine may refuse with an `Error`; nothing may panic, and a
//! run that is taken must end and record only finite amounts.
//!
//! `cargo +nightly fuzz run raw_inputs -O -- -max_total_time=600` from `rust/deleverage-core`;
//! `cargo +nightly fuzz run raw_inputs -O fuzz/regressions/*` replays the inputs that once
//! failed.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use deleverage_core::scenario::{AssetSpec, Scenario};
use deleverage_core::venue::Profile;
use deleverage_core::{
    Accounts, AnyVenue, BookDynamics, ConstantProductPool, Engine, Execution, Family,
    ImpactCurve, Lending, LendingMarket, OracleKind, OrderBook, QueueConfig, Reserve, Rules,
};
use libfuzzer_sys::fuzz_target;

fn venue(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<AnyVenue>> {
    let (a, b, c) = (f64::arbitrary(u)?, f64::arbitrary(u)?, f64::arbitrary(u)?);
    let built = match u.int_in_range(0..=4)? {
        0 => OrderBook::from_profile(
            Profile::Linear { depth_per_level: a },
            100.0,
            b,
            u.int_in_range(0..=300)?,
            BookDynamics {
                resilience_half_life: Option::<f64>::arbitrary(u)?,
                permanent_impact: c,
            },
        )
        .map(AnyVenue::from),
        1 => OrderBook::from_profile(
            Profile::Exponential { total_depth: a, scale: c },
            100.0,
            b,
            u.int_in_range(0..=300)?,
            BookDynamics::default(),
        )
        .map(AnyVenue::from),
        2 => ConstantProductPool::new(a, b, c).map(AnyVenue::from),
        3 => ImpactCurve::linear(100.0, a, Execution::Weighted { alpha: c }).map(AnyVenue::from),
        _ => ImpactCurve::exponential(100.0, b, a, Execution::Integral).map(AnyVenue::from),
    };
    Ok(built.ok())
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let venues: Vec<AnyVenue> = (0..u.int_in_range(0..=3)?)
        .map(|_| venue(u))
        .collect::<arbitrary::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let n: usize = u.int_in_range(0..=8)?;
    let mut collateral = Vec::new();
    let mut debt = Vec::new();
    for _ in 0..n {
        collateral.extend([f64::arbitrary(u)?, 0.0]);
        debt.extend([0.0, f64::arbitrary(u)?]);
    }
    let Ok(accounts) = Accounts::new(
        vec![0; n],
        (0..=n as u32).map(|i| 2 * i).collect(),
        (0..n).flat_map(|_| [0u32, 1]).collect(),
        collateral,
        debt,
        1,
        2,
    ) else {
        return Ok(());
    };
    let reserve = Reserve {
        threshold: f64::arbitrary(u)?,
        bonus: f64::arbitrary(u)?,
        protocol_fee: f64::arbitrary(u)?,
        liquidation_factor: f64::arbitrary(u)?,
    };
    let rules = match u.int_in_range(0..=1)? {
        0 => Rules::AaveV3 {
            version: deleverage_core::AaveVersion::V3_3,
        },
        _ => Rules::CompoundV2 {
            close_factor: f64::arbitrary(u)?,
            incentive: f64::arbitrary(u)?,
            protocol_seize_share: f64::arbitrary(u)?,
        },
    };
    let Ok(protocol) = Lending::new(rules, vec![Some(reserve), None]) else {
        return Ok(());
    };
    let Ok(market) = LendingMarket::new(vec![protocol], accounts) else {
        return Ok(());
    };
    let queue = QueueConfig {
        budget_notional: f64::arbitrary(u)?,
        sell_fraction: f64::arbitrary(u)?,
        keeper_margin: f64::arbitrary(u)?,
        ..QueueConfig::default()
    };
    let sc = Scenario {
        assets: vec![
            AssetSpec {
                name: "ETH".into(),
                price: 100.0,
                venues,
                oracle: OracleKind::Spot,
                peg: None,
            },
            AssetSpec {
                name: "USDC".into(),
                price: 1.0,
                venues: vec![],
                oracle: OracleKind::Reference,
                peg: None,
            },
        ],
        families: vec![Family::Lending(market)],
        queue,
        step_seconds: 12.0,
        outages: Vec::new(),
        reads_peg: Vec::new(),
        owners: Vec::new(),
        owner_of: Vec::new(),
    };
    let shown = format!("{sc:?}");
    if std::env::var_os("FUZZ_SHOW").is_some() {
        eprintln!("{shown}");
    }
    let Ok(mut engine) = Engine::new(sc, 1) else {
        return Ok(());
    };
    let steps: usize = u.int_in_range(1..=20)?;
    let mut path = Vec::with_capacity(2 * steps);
    for _ in 0..steps {
        path.extend([f64::arbitrary(u)?, 1.0]);
    }
    // A path with a NaN or a price at or below zero is refused; the rest runs to quiet.
    if engine.run(&path, 50, || false).is_ok() {
        let ev = engine.events();
        for (name, col) in [
            ("qty", &ev.qty),
            ("notional", &ev.notional),
            ("debt_repaid", &ev.debt_repaid),
            ("bad_debt", &ev.bad_debt),
        ] {
            if let Some(r) = col.iter().position(|x| !x.is_finite()) {
                panic!(
                    "events.{name}[{r}] = {} (kind {}) on the path {path:?} of {shown}",
                    col[r], ev.kind[r]
                );
            }
        }
        assert!(engine.current_step() as usize <= steps + 50);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
