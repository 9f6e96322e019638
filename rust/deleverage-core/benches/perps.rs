//! The perp benchmark: 200,000 cross-margin positions on one perpetual market, a 15 % instant
//! shock of the index, cascade run to quiet. Run with `cargo bench -p deleverage-core --bench
//! perps`; `cargo run --release -p deleverage-core --example profile_perps` prints what the
//! cascade did (liquidation fills, ADL rows, insurance fund) and the wall time of a run.
//!
//! Positions: 60 % longs and 40 % shorts of BTC-PERP, one cross account each, log-normal
//! notional at the mark (median 10,000, log-sd 1.5), entries around the mark (log-sd 5 %),
//! leverage at the mark `2·exp(E)` with E ~ Exp(mean 0.7), capped at 50× (median 3.2×; about a
//! fifth of the longs are above the ~6.5× a 15 % fall liquidates, most of those beyond
//! bankruptcy). Brackets 50,000 / 0.4 %, 250,000 / 0.5 %, ∞ / 1 %; clearance fee 0.5 %; a
//! 25,000,000 insurance fund, which the deficits exhaust, then ADL ranked the BitMEX way.
//! BTC-PERP at 60,000 on a linear book (tick 5, 100 BTC per level, 5,999 levels a side, no
//! refill), marked at the blend ½·perp mid + ½·index.

#[path = "../tests/common/mod.rs"]
#[allow(
    dead_code,
    unused_macros,
    reason = "the bench uses the scenario builders, not the test helpers"
)]
pub mod common;

use common::{asset, exchange_config, instant_path, linear_book, scenario_of};
use deleverage_core::{
    AdlOrder, AdlRanking, BookDynamics, Brackets, Engine, Exchange, ExchangeConfig, Family,
    OracleKind, OrderBook, PositionRows, QueueConfig, Scenario,
};
use divan::Bencher;
use divan::counter::ItemsCount;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};

fn main() {
    divan::main();
}

/// BTC-PERP's price before the shock.
pub const PRICE: f64 = 60_000.0;
/// The instant shock of the index.
pub const SHOCK: f64 = -0.15;
/// Steps the shocked index is held after the path, at most, for the cascade to go quiet.
pub const EXTRA_STEPS: u32 = 10_000;
pub const INSURANCE_FUND: f64 = 25_000_000.0;
/// BTC per level of the perp book (tick 5).
pub const DEPTH_PER_LEVEL: f64 = 100.0;

/// The path: one step at the shocked index (then held by `Engine::run`).
pub fn path() -> Vec<f64> {
    instant_path(vec![SHOCK], &[PRICE], 1)
}

/// What a scenario is built from, before the exchange sorts the rows into margin pools.
pub struct Inputs {
    pub config: ExchangeConfig,
    pub rows: PositionRows,
    pub book: OrderBook,
}

/// `n` cross positions (one account each) and the exchange's rules, seeded.
pub fn inputs(n: usize, seed: u64) -> Inputs {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lev_tail = Exp::new(1.0_f64 / 0.7).expect("rate");
    let mut rows = PositionRows {
        account: Vec::with_capacity(n),
        market: vec![0; n],
        size: Vec::with_capacity(n),
        entry: Vec::with_capacity(n),
        margin: Vec::with_capacity(n),
        cross: vec![true; n],
        margin_asset: Vec::new(),
    };
    for i in 0..n {
        let side = if rng.random::<f64>() < 0.6 { 1.0 } else { -1.0 };
        let z: f64 = StandardNormal.sample(&mut rng);
        let notional = 10_000.0 * (1.5 * z).exp();
        let qty = notional / PRICE;
        let z: f64 = StandardNormal.sample(&mut rng);
        let entry = PRICE * (0.05 * z).exp();
        let leverage = (2.0 * lev_tail.sample(&mut rng).exp()).min(50.0);
        // The wallet that leaves equity `notional/leverage` at the mark.
        let margin = (notional / leverage - side * qty * (PRICE - entry)).max(0.0);
        rows.account.push(i as u32);
        rows.size.push(side * qty);
        rows.entry.push(entry);
        rows.margin.push(margin);
    }
    let brackets = Brackets::new(
        vec![50_000.0, 250_000.0, f64::INFINITY],
        vec![0.004, 0.005, 0.01],
    )
    .expect("valid brackets");
    let config = exchange_config(
        brackets,
        0.005,
        INSURANCE_FUND,
        AdlOrder::Ranked(AdlRanking::Bitmex),
    );
    let book = linear_book(DEPTH_PER_LEVEL, PRICE, 5.0, 5_999, BookDynamics::default());
    Inputs { config, rows, book }
}

/// The scenario of `inputs`: the exchange's margin pools are built here.
pub fn build(inputs: Inputs) -> Scenario {
    let exchange = Exchange::new(inputs.config, &inputs.rows).expect("valid exchange");
    scenario_of(
        vec![asset(
            "BTC-PERP",
            PRICE,
            vec![inputs.book.into()],
            OracleKind::Blend { weight: 0.5 },
        )],
        vec![Family::Perps(exchange)],
        QueueConfig::default(),
    )
}

pub fn scenario(n: usize, seed: u64) -> Scenario {
    build(inputs(n, seed))
}

/// Exchange and engine build, then the cascade to quiet. Returns the engine for inspection.
pub fn run(inputs: Inputs, path: &[f64]) -> Engine {
    let mut e = Engine::new(build(inputs), 1).expect("engine");
    e.run(path, EXTRA_STEPS, || false).expect("run");
    e
}

#[divan::bench(sample_count = 5)]
fn two_hundred_thousand_perps_15pct_shock(bencher: Bencher) {
    let path = path();
    bencher
        .counter(ItemsCount::new(200_000usize))
        .with_inputs(|| inputs(200_000, 1))
        .bench_local_values(|inputs| run(inputs, &path).event_count());
}
