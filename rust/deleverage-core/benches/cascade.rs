//! The issue-3 benchmark: one million single-collateral accounts, one order book, a 25 %
//! instant shock, cascade run to quiet. Run with `cargo bench -p deleverage-core --bench cascade`.
//!
//! Positions: 1e6 accounts with log-normal ETH collateral (median 5, log-sd 1.5) and health
//! factors 1.01 + Exp(mean 0.35) against USDC debt, Aave v3.3 (LT 0.83, bonus 5 %, fee 10 %).
//! ETH at 3,000 on a linear book (tick 0.5, 400 ETH per level, 5,999 levels a side), spot oracle.

use deleverage_core::{
    AaveVersion, Accounts, AssetSpec, BookDynamics, Engine, Family, Lending, LendingMarket,
    OracleKind, OrderBook, PathSpec, Profile, QueueConfig, Reserve, Rules, Scenario,
};
use divan::Bencher;
use divan::counter::ItemsCount;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};

fn main() {
    divan::main();
}

pub fn scenario(n: usize, seed: u64) -> Scenario {
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
    let accounts = Accounts::new(
        vec![0; n],
        (0..=n as u32).map(|i| 2 * i).collect(),
        (0..n).flat_map(|_| [0u32, 1]).collect(),
        collateral,
        debt,
        1,
        2,
    )
    .expect("valid accounts");
    let reserve = |threshold, bonus, protocol_fee| {
        Some(Reserve {
            threshold,
            bonus,
            protocol_fee,
            liquidation_factor: 0.0,
        })
    };
    let aave = Lending::new(
        Rules::AaveV3 {
            version: AaveVersion::V3_3,
        },
        vec![reserve(0.83, 0.05, 0.10), reserve(0.0, 0.0, 0.0)],
    )
    .expect("valid protocol");
    let book = OrderBook::from_profile(
        Profile::Linear {
            depth_per_level: 400.0,
        },
        3_000.0,
        0.5,
        5_999,
        BookDynamics::default(),
    )
    .expect("valid book");
    Scenario {
        families: vec![Family::Lending(
            LendingMarket::new(vec![aave], accounts).unwrap(),
        )],
        assets: vec![
            AssetSpec {
                name: "ETH".into(),
                price: 3_000.0,
                venues: vec![book.into()],
                oracle: OracleKind::Spot,
            },
            AssetSpec {
                name: "USDC".into(),
                price: 1.0,
                venues: vec![],
                oracle: OracleKind::Reference,
            },
        ],
        queue: QueueConfig::default(),
        step_seconds: 12.0,
    }
}

#[divan::bench(sample_count = 5)]
fn one_million_accounts_25pct_shock(bencher: Bencher) {
    let path = PathSpec::Instant {
        returns: vec![-0.25, 0.0],
    }
    .generate(&[3_000.0, 1.0], 1, 12.0, 0)
    .expect("path");
    bencher
        .counter(ItemsCount::new(1_000_000usize))
        .with_inputs(|| scenario(1_000_000, 1))
        .bench_local_values(|sc| {
            let mut e = Engine::new(sc, 1).expect("engine");
            e.run(&path, 10_000, || false).expect("run");
            e.events().len()
        });
}
