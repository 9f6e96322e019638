//! What the integration tests and the benchmarks share: one float comparison, and the builders of
//! the assets, venues, accounts, scenarios and proptest queues that more than one file needs.
//!
//! A test file includes it with `#[macro_use] mod common;` (the macro brings `assert_close!`); a
//! bench with `#[path = "../tests/common/mod.rs"] mod common;` (and the examples reach it through
//! the bench they include). No file uses all of it, so each include carries
//! `#[allow(dead_code, unused_macros, reason = "...")]`. The mixed-family proptest case of
//! `conservation_mixed.rs`, some 500 lines no other file needs, is `mixed.rs` next to this file
//! and is included from there alone.
//!
//! # Float comparisons: the scale rule
//!
//! Every comparison is `|a − b| ≤ rtol · scale`, with `b` the expected value and `rtol` the
//! default [`RTOL`] = 1e-9 unless a check names another:
//!
//! - [`close`] and `assert_close!(a, b)`, `assert_close!(a, b, rtol)`: the scale is `|b|`, floored
//!   at 1e-300 (so an expected 0 asks for 0, give or take `rtol`·1e-300): a relative check.
//! - `assert_close!(a, b, floor = f)`, `assert_close!(a, b, rtol, floor = f)`: the scale is
//!   `max(|b|, f)`. With `floor = 1.0` the check is relative above 1 and absolute (± `rtol`)
//!   below, for values that may come out at or near 0.
//! - [`close_at`]: the scale the caller names, for identities between sums, measured against the
//!   total they are drawn from rather than against either side.

use deleverage_core::{
    AaveVersion, Accounts, AdlOrder, AnyVenue, AssetSpec, BookDynamics, Brackets, Engine, Exchange,
    ExchangeConfig, Family, Funds, ImpactCurve, Lending, LendingMarket, OracleKind, OrderBook,
    PathSpec, PerpMarket, Priority, Profile, QueueConfig, Reserve, RoundMode, Rules, Scenario,
    Trigger, Vaults,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Float comparisons.

/// The relative tolerance of a check that names none.
pub const RTOL: f64 = 1e-9;

/// The least scale of a relative check (see the module documentation).
const TINY: f64 = 1e-300;

/// Whether `a` is within `rtol` of the expected value `b`, relative to it:
/// `|a − b| ≤ rtol · max(|b|, 1e-300)`.
pub fn close(a: f64, b: f64, rtol: f64) -> bool {
    close_at(a, b, rtol, b.abs().max(TINY))
}

/// Whether `a` and `b` differ by at most `rtol` of `scale`: `|a − b| ≤ rtol · scale`.
pub fn close_at(a: f64, b: f64, rtol: f64, scale: f64) -> bool {
    (a - b).abs() <= rtol * scale
}

/// Asserts that the first expression is close to the second, the expected value, under the scale
/// rule of the module documentation: `assert_close!(a, b)`, `assert_close!(a, b, rtol)`,
/// `assert_close!(a, b, floor = f)`, `assert_close!(a, b, rtol, floor = f)`.
macro_rules! assert_close {
    ($a:expr, $b:expr, floor = $floor:expr $(,)?) => {
        assert_close!($a, $b, $crate::common::RTOL, floor = $floor)
    };
    ($a:expr, $b:expr, $rtol:expr, floor = $floor:expr $(,)?) => {{
        let (a, b, rtol, floor): (f64, f64, f64, f64) = ($a, $b, $rtol, $floor);
        assert!(
            $crate::common::close_at(a, b, rtol, b.abs().max(floor)),
            "{} = {a}, expected {b} (rtol {rtol}, floor {floor})",
            stringify!($a)
        );
    }};
    ($a:expr, $b:expr $(,)?) => {
        assert_close!($a, $b, $crate::common::RTOL)
    };
    ($a:expr, $b:expr, $rtol:expr $(,)?) => {{
        let (a, b, rtol): (f64, f64, f64) = ($a, $b, $rtol);
        assert!(
            $crate::common::close(a, b, rtol),
            "{} = {a}, expected {b} (rtol {rtol})",
            stringify!($a)
        );
    }};
}

// ---------------------------------------------------------------------------------------------
// Assets, venues, paths and scenarios.

/// An asset named `name` at `price` on `venues`, read by `oracle`.
pub fn asset(name: &str, price: f64, venues: Vec<AnyVenue>, oracle: OracleKind) -> AssetSpec {
    AssetSpec {
        name: name.into(),
        price,
        venues,
        oracle,
        peg: None,
    }
}

/// ETH (asset 0) at `price` on `venues` with a spot oracle, and USDC (asset 1) at 1 without
/// venues, read at the reference.
pub fn eth_usdc(price: f64, venues: Vec<AnyVenue>) -> Vec<AssetSpec> {
    vec![
        asset("ETH", price, venues, OracleKind::Spot),
        asset("USDC", 1.0, vec![], OracleKind::Reference),
    ]
}

/// A scenario of 12-second steps.
pub fn scenario_of(assets: Vec<AssetSpec>, families: Vec<Family>, queue: QueueConfig) -> Scenario {
    Scenario {
        assets,
        families,
        queue,
        step_seconds: 12.0,
        outages: Vec::new(),
        reads_peg: Vec::new(),
        owners: Vec::new(),
        owner_of: Vec::new(),
    }
}

/// A book of `levels` levels a side, `depth_per_level` units each, `tick` apart around `mid`.
pub fn linear_book(
    depth_per_level: f64,
    mid: f64,
    tick: f64,
    levels: usize,
    dynamics: BookDynamics,
) -> OrderBook {
    OrderBook::from_profile(
        Profile::Linear { depth_per_level },
        mid,
        tick,
        levels,
        dynamics,
    )
    .expect("valid book")
}

/// The reference path of an instant shock: `returns` from `initial` at step 0, held for `steps`
/// steps of 12 s (seed 0).
pub fn instant_path(returns: Vec<f64>, initial: &[f64], steps: usize) -> Vec<f64> {
    PathSpec::Instant { returns }
        .generate(initial, steps, 12.0, 0)
        .expect("valid path")
}

/// The proptest strategy of a queue: any priority and round mode, budgets drawn from
/// `budget_notional` and `budget_count`, any sell fraction, at most 16 rounds a step, keepers'
/// margin from `keeper_margin`. The draws come in that order; a `Just` draws nothing, so
/// `Just(0.0)` for the margin leaves a five-part queue's draws (and its saved seeds) as they were.
pub fn queue_config(
    budget_notional: impl Strategy<Value = f64>,
    budget_count: impl Strategy<Value = u64>,
    keeper_margin: impl Strategy<Value = f64>,
) -> impl Strategy<Value = QueueConfig> {
    let priority = prop_oneof![
        Just(Priority::WorstHealth),
        Just(Priority::Largest),
        Just(Priority::Fifo),
        Just(Priority::Random)
    ];
    let mode = prop_oneof![Just(RoundMode::Sequential), Just(RoundMode::Batch)];
    (
        priority,
        mode,
        budget_notional,
        budget_count,
        0.0f64..=1.0,
        keeper_margin,
    )
        .prop_map(
            |(priority, mode, budget_notional, budget_count, sell_fraction, keeper_margin)| {
                QueueConfig {
                    priority,
                    mode,
                    budget_notional,
                    budget_count,
                    sell_fraction,
                    max_rounds_per_step: 16,
                    keeper_margin,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Lending.

/// A reserve with a liquidation threshold, bonus and protocol fee (and no Compound v3
/// liquidation factor).
pub fn reserve(threshold: f64, bonus: f64, protocol_fee: f64) -> Option<Reserve> {
    Some(Reserve {
        threshold,
        bonus,
        protocol_fee,
        liquidation_factor: 0.0,
    })
}

/// An Aave v3 protocol of `version`, one reserve per asset.
pub fn aave_v3(version: AaveVersion, reserves: Vec<Option<Reserve>>) -> Lending {
    Lending::new(Rules::AaveV3 { version }, reserves).expect("valid protocol")
}

/// Accounts of protocol 0 that each hold every one of `assets`, in that order: `collateral` and
/// `debt` list an account's amounts asset after asset, account after account. The scenario has
/// `n_assets` assets.
pub fn lending_accounts(
    assets: &[u32],
    collateral: Vec<f64>,
    debt: Vec<f64>,
    n_assets: usize,
) -> Accounts {
    let width = assets.len();
    let n = collateral.len() / width;
    Accounts::new(
        vec![0; n],
        (0..=n as u32).map(|i| width as u32 * i).collect(),
        (0..n).flat_map(|_| assets.iter().copied()).collect(),
        collateral,
        debt,
        1,
        n_assets,
    )
    .expect("valid accounts")
}

/// The lending family of `protocols` and their `accounts`.
pub fn lending_family(protocols: Vec<Lending>, accounts: Accounts) -> Family {
    Family::Lending(LendingMarket::new(protocols, accounts).expect("valid lending market"))
}

// ---------------------------------------------------------------------------------------------
// Perps, vaults and funds.

/// An exchange of one market on asset 0 with `brackets`: whole liquidations (no partial rule),
/// no backstop vault, liquidation strictly below maintenance margin.
pub fn exchange_config(
    brackets: Brackets,
    fee_rate: f64,
    insurance_fund: f64,
    adl: AdlOrder,
) -> ExchangeConfig {
    ExchangeConfig {
        markets: vec![PerpMarket { asset: 0, brackets }],
        fee_rate,
        insurance_fund,
        adl,
        partial: None,
        backstop: false,
        trigger: Trigger::Below,
        margin_assets: Vec::new(),
    }
}

/// The perp exchange that is family `family` of the engine's scenario.
pub fn exchange_of(e: &Engine, family: usize) -> &Exchange {
    match &e.families()[family] {
        Family::Perps(x) => x,
        _ => unreachable!("family {family} is a perp exchange"),
    }
}

/// The Maker system that is family `family` of the engine's scenario.
pub fn vaults_of(e: &Engine, family: usize) -> &Vaults {
    e.families()[family]
        .as_vaults()
        .unwrap_or_else(|| unreachable!("family {family} is a Maker system"))
}

/// The fund group that is family `family` of the engine's scenario.
pub fn funds_of(e: &Engine, family: usize) -> &Funds {
    match &e.families()[family] {
        Family::Funds(f) => f,
        _ => unreachable!("family {family} is a fund group"),
    }
}

/// An engine (seed 0) of `funds` alone, on one asset per curve (`asset0`, `asset1`, … at 1,
/// spot oracle), rounds in `mode`, at most `max_rounds` a step.
pub fn funds_engine(
    curves: Vec<ImpactCurve>,
    funds: Funds,
    mode: RoundMode,
    max_rounds: u32,
) -> Engine {
    let assets = curves
        .into_iter()
        .enumerate()
        .map(|(k, c)| asset(&format!("asset{k}"), 1.0, vec![c.into()], OracleKind::Spot))
        .collect();
    let queue = QueueConfig {
        mode,
        max_rounds_per_step: max_rounds,
        ..QueueConfig::default()
    };
    Engine::new(scenario_of(assets, vec![Family::Funds(funds)], queue), 0).expect("engine")
}
