//! Sweeps: seeded runs on a thread pool give the same rows whatever the number of threads, and
//! each row is the run `Engine` gives alone with the run's derived seed.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;
#[allow(dead_code, reason = "each test file uses a part of the shared helpers")]
#[path = "common/mixed.rs"]
mod mixed;

use common::{aave_v3, eth_usdc, lending_accounts, lending_family, reserve, scenario_of};
use deleverage_core::sweep::SweepSpec;
use deleverage_core::sweep::run_seed;
use deleverage_core::sweep::sweep;
use deleverage_core::{
    AaveVersion, AnyVenue, Engine, Execution, ImpactCurve, PathSpec, Priority, QueueConfig,
    Scenario,
};
use proptest::prelude::*;

fn scenario() -> Scenario {
    let n = 200;
    let aave = aave_v3(
        AaveVersion::V3_3,
        vec![reserve(0.83, 0.05, 0.1), reserve(0.0, 0.0, 0.1)],
    );
    // 10 ETH each, debts spreading health factors from 1.02 to 1.6 at 3,000.
    let debts: Vec<f64> = (0..n)
        .map(|i| 10.0 * 3_000.0 * 0.83 / (1.02 + 0.58 * i as f64 / n as f64))
        .collect();
    let accounts = lending_accounts(
        &[0, 1],
        (0..n).flat_map(|_| [10.0, 0.0]).collect(),
        debts.iter().flat_map(|&d| [0.0, d]).collect(),
        2,
    );
    let eth = AnyVenue::Curve(ImpactCurve::linear(3_000.0, 2e-7, Execution::Integral).unwrap());
    scenario_of(
        eth_usdc(3_000.0, vec![eth]),
        vec![lending_family(vec![aave], accounts)],
        QueueConfig::default(),
    )
}

fn spec() -> SweepSpec {
    // ETH: 300 % annual volatility and jumps of −15 % at 2,000 a year; USDC still.
    SweepSpec {
        path: PathSpec::Diffusion {
            mu: vec![0.0, 0.0],
            sigma: vec![3.0, 0.0],
            corr: vec![1.0, 0.0, 0.0, 1.0],
            jump_intensity: vec![2_000.0, 0.0],
            jump_mean: vec![-0.15, 0.0],
            jump_std: vec![0.05, 0.0],
        },
        steps: 300,
        seed: 42,
        max_extra_steps: 100,
    }
}

/// The engine of one run with `seed`, run alone to quiet on the sweep's path for that seed.
fn alone(sc: &Scenario, sp: &SweepSpec, seed: u64) -> Engine {
    let path = sp
        .path
        .generate(&[3_000.0, 1.0], sp.steps, 12.0, seed)
        .unwrap();
    let mut e = Engine::new(sc.clone(), seed).unwrap();
    e.run(&path, sp.max_extra_steps, || false).unwrap();
    e
}

#[test]
fn rows_do_not_depend_on_the_thread_count() {
    let sc = scenario();
    let one = sweep(&sc, &spec(), 0..24, Some(1)).unwrap();
    let two = sweep(&sc, &spec(), 0..24, Some(2)).unwrap();
    assert_eq!(one, two);
    // Chunks give the same rows as one call.
    let mut chunked = sweep(&sc, &spec(), 0..10, Some(2)).unwrap();
    let rest = sweep(&sc, &spec(), 10..24, Some(2)).unwrap();
    chunked.run.extend(rest.run);
    chunked.bad_debt.extend(rest.bad_debt);
    assert_eq!(chunked.run, one.run);
    assert_eq!(chunked.bad_debt, one.bad_debt);
    // The paths differ: some runs liquidate and some do not.
    assert!(one.liquidations.iter().any(|&l| l > 0));
    assert!(one.liquidations.contains(&0));
    let seeds: std::collections::HashSet<u64> = one.seed.iter().copied().collect();
    assert_eq!(seeds.len(), 24);
}

#[test]
fn each_row_is_the_run_alone_with_its_seed() {
    let sc = scenario();
    let sp = spec();
    let rows = sweep(&sc, &sp, 0..8, Some(2)).unwrap();
    for r in 0..8u32 {
        let seed = run_seed(sp.seed, u64::from(r));
        assert_eq!(rows.seed[r as usize], seed);
        let e = alone(&sc, &sp, seed);
        let st = e.step_rows();
        let liq: u64 = st.liquidation_count.iter().map(|&c| u64::from(c)).sum();
        assert_eq!(rows.liquidations[r as usize], liq);
        assert_eq!(rows.bad_debt[r as usize], e.cumulative_bad_debt());
        let low = (0..st.len())
            .filter(|&k| st.asset[k] == 0)
            .map(|k| st.mid[k])
            .fold(3_000.0, f64::min);
        assert_eq!(rows.min_mid[2 * r as usize], low);
        assert_eq!(rows.steps_run[r as usize], e.current_step());
    }
    assert!(sweep(&sc, &sp, 0..1, Some(0)).is_err());
}

#[test]
fn rows_are_the_runs_alone_when_the_queue_draws_random_keys() {
    // Every run of a worker after its first reuses the worker's engine (an arena): with a
    // random priority the queue's generator, seeded per run, decides the order, so a run that
    // kept the last run's generator state (or any of its state) would differ from the run alone.
    let mut sc = scenario();
    sc.queue.priority = Priority::Random;
    let sp = spec();
    let rows = sweep(&sc, &sp, 0..12, Some(1)).unwrap();
    let mut orders = std::collections::HashSet::new();
    for r in 0..12u32 {
        let seed = run_seed(sp.seed, u64::from(r));
        let e = alone(&sc, &sp, seed);
        let st = e.step_rows();
        let liq: u64 = st.liquidation_count.iter().map(|&c| u64::from(c)).sum();
        assert_eq!(rows.liquidations[r as usize], liq);
        assert_eq!(rows.bad_debt[r as usize], e.cumulative_bad_debt());
        assert_eq!(rows.steps_run[r as usize], e.current_step());
        orders.insert(e.events().account.clone());
    }
    // The paths liquidate, in orders that differ from run to run.
    assert!(orders.len() > 6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// `clone_from` (how a sweep's worker resets its engine for the next run) leaves exactly
    /// the state a fresh clone has, whichever engine it copies into: one that has run the whole
    /// mixed scenario (every family, its queue, events and step rows written) or one that has
    /// not. Compared as the serialised state, every field.
    #[test]
    fn an_engine_cloned_into_a_used_one_is_a_fresh_clone(c in mixed::case()) {
        let (sc, _) = mixed::scenario(&c);
        let pristine = Engine::new(sc, 11).unwrap();
        let mut used = pristine.clone();
        let stopped = used.run(&mixed::path(&c), 120, || false).is_err();
        let ran = used.clone();
        prop_assert!(stopped || used.current_step() > 0);
        used.clone_from(&pristine);
        prop_assert_eq!(
            postcard::to_stdvec(&used).unwrap(),
            postcard::to_stdvec(&pristine).unwrap()
        );
        // And the other way: a pristine engine overwritten by one that ran. (A serialised
        // engine is not compared with one deserialised: a hash map's order is its hasher's.)
        let mut target = pristine.clone();
        target.clone_from(&ran);
        prop_assert_eq!(
            postcard::to_stdvec(&target).unwrap(),
            postcard::to_stdvec(&ran).unwrap()
        );
    }
}

#[test]
fn a_path_that_cannot_be_generated_is_the_error_before_the_scenario_s() {
    // Both wrong: a shock for one asset of two, and a step of zero seconds. Each run generates
    // its path before its engine, so the path's error is the one reported.
    let mut sc = scenario();
    sc.step_seconds = 0.0;
    let mut sp = spec();
    sp.path = PathSpec::Instant {
        returns: vec![-0.1],
    };
    let err = sweep(&sc, &sp, 0..4, Some(1)).unwrap_err().to_string();
    assert!(err.contains("shock"), "{err}");
    // The path alone right, the scenario's error.
    let err = sweep(&sc, &spec(), 0..4, Some(1)).unwrap_err().to_string();
    assert!(err.contains("step_seconds"), "{err}");
}
