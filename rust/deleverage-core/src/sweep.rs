//! Sweeps (DESIGN §6): many runs of one scenario on independently seeded paths, on a rayon pool
//! of the caller's size. Run `i`'s seed is derived from (base seed, i) alone and results are
//! collected in run order, so they do not depend on the number of threads. Each run records a
//! one-row summary, not its event frames.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::family::ForcedSeller;
use crate::memory;
use crate::path::PathSpec;
use crate::scenario::Scenario;

/// What every run of a sweep shares besides the scenario.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SweepSpec {
    pub path: PathSpec,
    pub steps: usize,
    /// Base seed; run `i` uses [`run_seed`]`(seed, i)` for its path and its queue.
    pub seed: u64,
    /// Steps the last reference is held until the market is quiet, at most.
    pub max_extra_steps: u32,
}

/// One row per run, in run order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepColumns {
    pub run: Vec<u32>,
    pub seed: Vec<u64>,
    pub liquidations: Vec<u64>,
    pub liquidated_notional: Vec<f64>,
    pub bad_debt: Vec<f64>,
    /// Lowest total of the insurance funds over the run (their start included).
    pub insurance_fund_min: Vec<f64>,
    pub steps_run: Vec<u32>,
    pub quiet: Vec<bool>,
    /// Lowest mid and lowest reference per run and asset, row-major `runs × assets`.
    pub min_mid: Vec<f64>,
    pub min_reference: Vec<f64>,
}

/// The seed of run `run` of a sweep with base seed `base` (SplitMix64 of the pair): distinct
/// runs get unrelated streams, and a run's seed does not depend on how runs are scheduled.
pub fn run_seed(base: u64, run: u64) -> u64 {
    let mut z = base
        .wrapping_add(run.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Row {
    run: u32,
    seed: u64,
    liquidations: u64,
    liquidated_notional: f64,
    bad_debt: f64,
    insurance_fund_min: f64,
    steps_run: u32,
    quiet: bool,
    min_mid: Vec<f64>,
    min_reference: Vec<f64>,
}

/// Run `run` of the sweep. `pristine` is the scenario's engine before any step, built once per
/// sweep; `arena` is the engine of the last run of the same piece of work (rayon's `map_init`
/// keeps one per piece it hands a thread: at least one per thread, more when work is split or
/// stolen), into which `pristine` is copied so that the run's buffers are the last run's (see
/// [`crate::reuse`]): memory already mapped instead of fresh pages every run. The copy is
/// exactly the engine `Engine::new(sc, seed)` builds, since the seed is only that of the
/// queue's generator.
fn one_run(
    sc: &Scenario,
    pristine: &Engine,
    arena: &mut Option<Engine>,
    spec: &SweepSpec,
    run: u32,
    stop: &AtomicBool,
) -> Result<Row> {
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let seed = run_seed(spec.seed, u64::from(run));
    let initial = sc.initial_prices();
    let path = spec
        .path
        .generate(&initial, spec.steps, sc.step_seconds, seed)?;
    let start_fund: f64 = sc.families.iter().map(|f| f.insurance_fund()).sum();
    let engine = match arena {
        Some(e) => {
            e.clone_from(pristine);
            e
        }
        None => arena.insert(pristine.clone()),
    };
    engine.reseed(seed);
    engine.run(&path, spec.max_extra_steps, || stop.load(Ordering::Relaxed))?;
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let n = initial.len();
    let st = engine.step_rows();
    // The step rows are in quote: a pegged asset's starting price in quote is its peg's
    // value, not its own price (in units of its underlying).
    let m = engine.market();
    let unit = |a: usize| match sc.assets[a].peg.as_ref().and_then(|p| p.underlying) {
        Some(u) => m.initial(u as usize),
        None => 1.0,
    };
    let mut min_mid: Vec<f64> = (0..n).map(|a| initial[a] * unit(a)).collect();
    let mut min_reference: Vec<f64> = (0..n)
        .map(|a| {
            if sc.assets[a].peg.is_some() {
                m.initial(a)
            } else {
                initial[a]
            }
        })
        .collect();
    let mut liquidations = 0u64;
    let mut notional = 0.0;
    let mut fund_min = start_fund;
    for k in 0..st.len() {
        let a = st.asset[k] as usize;
        min_mid[a] = min_mid[a].min(st.mid[k]);
        min_reference[a] = min_reference[a].min(st.reference[k]);
        liquidations += u64::from(st.liquidation_count[k]);
        notional += st.liquidated_notional[k];
        if a == 0 {
            fund_min = fund_min.min(st.insurance_fund[k]);
        }
    }
    debug_assert_eq!(min_mid.len(), n);
    Ok(Row {
        run,
        seed,
        liquidations,
        liquidated_notional: notional,
        bad_debt: engine.cumulative_bad_debt(),
        insurance_fund_min: fund_min,
        steps_run: engine.current_step(),
        quiet: engine.is_quiet(),
        min_mid,
        min_reference,
    })
}

/// Runs `runs` of `sc` (run indices, so that a long sweep can be done in chunks) on a pool of
/// `threads` threads (`None`: rayon's default, one per core).
pub fn sweep(
    sc: &Scenario,
    spec: &SweepSpec,
    runs: Range<u32>,
    threads: Option<usize>,
) -> Result<SweepColumns> {
    sweep_until(sc, spec, runs, threads, &AtomicBool::new(false))
}

/// [`sweep`] that stops as soon as `stop` is set (every run polls it before each step): it
/// returns [`Error::Interrupted`] then. The bindings set it when Python sees Ctrl-C.
pub fn sweep_until(
    sc: &Scenario,
    spec: &SweepSpec,
    runs: Range<u32>,
    threads: Option<usize>,
    stop: &AtomicBool,
) -> Result<SweepColumns> {
    if threads == Some(0) {
        return Err(Error::OutOfRange {
            field: "threads".to_owned(),
            value: 0.0,
            expected: ">= 1",
        });
    }
    // Each run in flight holds its path and steps table; the sweep holds a row per run.
    crate::session::check_run_size(sc.assets.len(), spec.steps, spec.max_extra_steps)?;
    memory::check(
        "runs",
        u64::from(runs.end.saturating_sub(runs.start)),
        (8 * 8 + 16 * sc.assets.len()) as u64,
        "the sweep's summary rows",
    )?;
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        builder = builder.num_threads(t);
    }
    let pool = builder.build().map_err(|_| Error::Missing {
        field: "threads".to_owned(),
        why: "a thread pool the system can start",
    })?;
    if runs.is_empty() {
        return Ok(SweepColumns::default());
    }
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    // As each run does, the first run's path before the scenario's engine: a path that cannot
    // be generated is the error reported, as it was when every run built its own engine.
    let initial = sc.initial_prices();
    spec.path.generate(
        &initial,
        spec.steps,
        sc.step_seconds,
        run_seed(spec.seed, u64::from(runs.start)),
    )?;
    let pristine = Engine::new(sc.clone(), 0)?;
    let rows: Vec<Row> = pool.install(|| {
        runs.into_par_iter()
            .map_init(
                || None,
                |arena, r| one_run(sc, &pristine, arena, spec, r, stop),
            )
            .collect::<Result<Vec<_>>>()
    })?;
    let mut c = SweepColumns::default();
    for r in rows {
        c.run.push(r.run);
        c.seed.push(r.seed);
        c.liquidations.push(r.liquidations);
        c.liquidated_notional.push(r.liquidated_notional);
        c.bad_debt.push(r.bad_debt);
        c.insurance_fund_min.push(r.insurance_fund_min);
        c.steps_run.push(r.steps_run);
        c.quiet.push(r.quiet);
        c.min_mid.extend(r.min_mid);
        c.min_reference.extend(r.min_reference);
    }
    Ok(c)
}
