//! The issue-3 benchmark: one million single-collateral accounts, one order book, a 25 %
//! instant shock, cascade run to quiet. Run with `cargo bench -p deleverage-core --bench cascade`.
//!
//! Positions: 1e6 accounts with log-normal ETH collateral (median 5, log-sd 1.5) and health
//! factors 1.01 + Exp(mean 0.35) against USDC debt, Aave v3.3 (LT 0.83, bonus 5 %, fee 10 %).
//! ETH at 3,000 on a linear book (tick 0.5, 400 ETH per level, 5,999 levels a side), spot oracle.

#[path = "../tests/common/mod.rs"]
#[allow(
    dead_code,
    unused_macros,
    reason = "the bench uses the scenario builders, not the test helpers"
)]
mod common;

use common::{
    aave_v3, eth_usdc, instant_path, lending_accounts, lending_family, linear_book, reserve,
    scenario_of,
};
use deleverage_core::{
    AaveVersion, Accounts, BookDynamics, Engine, Lending, OrderBook, QueueConfig, Scenario,
};
use divan::Bencher;
use divan::counter::ItemsCount;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};

fn main() {
    divan::main();
}

/// The path: a 25 % fall of ETH at step 0 (then held by `Engine::run`).
pub fn path() -> Vec<f64> {
    instant_path(vec![-0.25, 0.0], &[3_000.0, 1.0], 1)
}

/// What the benchmark starts from: the protocol, the accounts and the book, before the lending
/// family lays the accounts out and indexes their triggers (that build is part of the timing, as
/// it was when it happened in `Engine::new`).
pub struct Inputs {
    pub protocols: Vec<Lending>,
    pub accounts: Accounts,
    pub book: OrderBook,
}

/// The scenario of `inputs`: the lending family (layout and trigger index) is built here.
pub fn build(inputs: Inputs) -> Scenario {
    scenario_of(
        eth_usdc(3_000.0, vec![inputs.book.into()]),
        vec![lending_family(inputs.protocols, inputs.accounts)],
        QueueConfig::default(),
    )
}

pub fn scenario(n: usize, seed: u64) -> Scenario {
    build(inputs(n, seed))
}

pub fn inputs(n: usize, seed: u64) -> Inputs {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let exp = Exp::new(1.0 / 0.35).expect("rate");
    let mut collateral = Vec::with_capacity(2 * n);
    let mut debt = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let z: f64 = StandardNormal.sample(&mut rng);
        let c = 5.0 * (1.5 * z).exp();
        let hf = 1.01 + exp.sample(&mut rng);
        collateral.extend_from_slice(&[c, 0.0]);
        debt.extend_from_slice(&[0.0, c * 3_000.0 * 0.83 / hf]);
    }
    let accounts = lending_accounts(&[0, 1], collateral, debt, 2);
    let aave = aave_v3(
        AaveVersion::V3_3,
        vec![reserve(0.83, 0.05, 0.10), reserve(0.0, 0.0, 0.0)],
    );
    let book = linear_book(400.0, 3_000.0, 0.5, 5_999, BookDynamics::default());
    Inputs {
        protocols: vec![aave],
        accounts,
        book,
    }
}

#[divan::bench(sample_count = 5)]
fn one_million_accounts_25pct_shock(bencher: Bencher) {
    let path = path();
    bencher
        .counter(ItemsCount::new(1_000_000usize))
        .with_inputs(|| inputs(1_000_000, 1))
        .bench_local_values(|inputs| {
            let mut e = Engine::new(build(inputs), 1).expect("engine");
            e.run(&path, 10_000, || false).expect("run");
            e.event_count()
        });
}
