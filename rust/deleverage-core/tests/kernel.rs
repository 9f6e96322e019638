//! The single-purpose cascade kernel of `benches/kernel.rs` against `Engine` (issue 14, item 4):
//! on the same accounts it liquidates the same accounts, in the same steps, rounds and order,
//! for the same amounts. A kernel that ran a different cascade would be no yardstick.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "this file uses the scenario builders and one float check"
)]
mod common;

#[path = "../benches/kernel.rs"]
#[allow(dead_code, reason = "the test uses the kernel, not the bench's main")]
mod kernel;

use common::{
    aave_v3, eth_usdc, instant_path, lending_accounts, lending_family, linear_book, reserve,
    scenario_of,
};
use deleverage_core::{AaveVersion, AccountTable, BookDynamics, Engine, EventKind, QueueConfig};
use kernel::{Liquidation, Market};

/// The engine's liquidations of `m`'s market over the accounts, and its bad debt.
fn engine(collateral: &[f64], debt: &[f64], m: &Market) -> (Vec<Liquidation>, f64) {
    let (rows, bad_debt, _) = engine_with_table(collateral, debt, m);
    (rows, bad_debt)
}

/// [`engine`] with the final account table.
fn engine_with_table(
    collateral: &[f64],
    debt: &[f64],
    m: &Market,
) -> (Vec<Liquidation>, f64, AccountTable) {
    let interleave = |a: &[f64], first: bool| -> Vec<f64> {
        a.iter()
            .flat_map(|&x| if first { [x, 0.0] } else { [0.0, x] })
            .collect()
    };
    let accounts = lending_accounts(
        &[0, 1],
        interleave(collateral, true),
        interleave(debt, false),
        2,
    );
    let aave = aave_v3(
        AaveVersion::V3_3,
        vec![
            reserve(m.threshold, m.bonus, m.protocol_fee),
            reserve(0.0, 0.0, 0.0),
        ],
    );
    let book = linear_book(
        m.depth_per_level,
        m.mid,
        m.tick,
        m.levels,
        BookDynamics::default(),
    );
    let queue = QueueConfig {
        max_rounds_per_step: m.max_rounds_per_step,
        ..QueueConfig::default()
    };
    let sc = scenario_of(
        eth_usdc(m.mid, vec![book.into()]),
        vec![lending_family(vec![aave], accounts)],
        queue,
    );
    let mut e = Engine::new(sc, 1).expect("engine");
    let path = instant_path(vec![m.shock, 0.0], &[m.mid, 1.0], 1);
    e.run(&path, 10_000, || false).expect("run");
    let ev = &e.events();
    let rows = (0..ev.len())
        .map(|k| {
            assert_eq!(ev.kind[k], EventKind::Liquidation as u8);
            Liquidation {
                step: ev.step[k],
                round: ev.round[k],
                account: ev.account[k],
                repaid: ev.debt_repaid[k],
                seized: ev.collateral_seized[k],
                price_after: ev.price_after[k],
                bad_debt: ev.bad_debt[k],
            }
        })
        .collect();
    let table = e
        .lending()
        .expect("a lending family")
        .account_table(e.shared());
    (rows, e.cumulative_bad_debt(), table)
}

/// The kernel's liquidations, checked against the engine's.
fn check(collateral: &[f64], debt: &[f64], m: &Market) -> Vec<Liquidation> {
    let (want, bad_debt) = engine(collateral, debt, m);
    let mut got = Vec::new();
    let totals = kernel::run(collateral, debt, m, |l| got.push(*l));
    assert_eq!(got.len(), want.len());
    assert_eq!(totals.liquidations, want.len() as u64);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.step, g.round, g.account), (w.step, w.round, w.account));
        assert_close!(g.repaid, w.repaid);
        assert_close!(g.seized, w.seized);
        assert_close!(g.price_after, w.price_after);
        assert_close!(g.bad_debt, w.bad_debt, floor = 1.0);
    }
    assert_close!(totals.bad_debt, bad_debt);
    got
}

#[test]
fn the_kernel_liquidates_as_the_engine_does() {
    let (collateral, debt) = kernel::positions(10_000, 1);
    let got = check(&collateral, &debt, &Market::BENCHMARK);
    // Thousands of liquidations over three rounds, and bad debt.
    assert!(got.len() > 5_000);
    assert!(got.iter().any(|l| l.round > 1));
    assert!(got.iter().any(|l| l.bad_debt > 0.0));
}

#[test]
fn the_kernel_follows_the_engine_through_a_thin_book_and_the_round_cap() {
    // 3 ETH a level and a 5 % shock: the cascade feeds on itself, accounts are liquidated again
    // after a partial liquidation, and two rounds a step spread it over several steps.
    let m = Market {
        depth_per_level: 3.0,
        shock: -0.05,
        max_rounds_per_step: 2,
        ..Market::BENCHMARK
    };
    let (collateral, debt) = kernel::positions(2_000, 1);
    let got = check(&collateral, &debt, &m);
    let mut times = vec![0; 2_000];
    for l in &got {
        times[l.account as usize] += 1;
    }
    assert!(times.iter().any(|&t| t > 1));
    assert!(got.iter().any(|l| l.step > 0));
}

#[test]
fn the_kernel_serves_worst_health_first_where_rounding_reorders_the_triggers() {
    // τ₀ = 2,496.7713065907706 > τ₁ = 2,496.77130659077, yet at the shocked mid (2,250) the
    // rounded health factors come out HF₀ = 0.9011638326908982 > HF₁ = 0.9011638326908981: the
    // queue is in health order, so account 1 goes first although the kernel's buckets hand
    // account 0 over first. Both repay in full (HF ≤ 0.95; collateral worth more than debt·1.05).
    let collateral = [5.521_327_914_745_936, 11.340_355_280_623_085];
    let debt = [11_441.959_282_807_533, 23_500.847_147_100_016];
    let tau = |k: usize| debt[k] / (collateral[k] * 0.83);
    let hf = |k: usize| collateral[k] * 2_250.0 * 0.83 / debt[k];
    assert!(tau(0) > tau(1) && hf(0) > hf(1));
    let got = check(&collateral, &debt, &Market::BENCHMARK);
    assert_eq!(got.iter().map(|l| l.account).collect::<Vec<_>>(), [1, 0]);
    assert_eq!(got[0].repaid, debt[1]);
}

/// At a size whose account table is scattered into original order through runs, every
/// account's row is its own: its liquidations counted from the kernel's, and its collateral
/// value what the kernel left it (initial collateral less everything seized) at one final price.
#[test]
fn a_large_account_table_is_in_the_original_order() {
    let n = 200_000;
    let (collateral, debt) = kernel::positions(n, 3);
    let m = Market::BENCHMARK;
    let (_, _, table) = engine_with_table(&collateral, &debt, &m);
    let (mut times, mut left) = (vec![0u32; n], collateral.clone());
    kernel::run(&collateral, &debt, &m, |l| {
        times[l.account as usize] += 1;
        left[l.account as usize] -= l.seized;
    });
    assert_eq!(table.times_liquidated, times);
    assert!(times.iter().filter(|&&t| t > 0).count() > n / 2);
    assert!(times.contains(&0));
    let k = (0..n)
        .find(|&k| left[k] > 1.0)
        .expect("an account with collateral");
    let price = table.collateral_value[k] / left[k];
    assert!(price > 1_000.0 && price < m.mid, "final price {price}");
    for (value, left) in table.collateral_value.iter().zip(&left) {
        assert_close!(*value, left * price, floor = 1e-6);
    }
}
