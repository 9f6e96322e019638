//! The held-open engine's per-step cost when nothing triggers (`cargo run --release --example
//! profile_quiet_steps`): the issue-3 market with 1,000 accounts stepped 1,000,000 times at an
//! unchanged reference (`STEPS` overrides the count); prints the best of three runs in steps
//! per second.

#[path = "../benches/cascade.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod cascade;

use std::time::{Duration, Instant};

use deleverage_core::Session;

fn main() {
    let steps: usize = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let rows: Vec<f64> = (0..steps).flat_map(|_| [3_000.0, 1.0]).collect();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let sc = cascade::scenario(1_000, 1);
        let mut s = Session::new(sc, 1, Vec::new(), 0).expect("session");
        let t = Instant::now();
        let done = s.run(&rows, || false).expect("run");
        best = best.min(t.elapsed());
        assert_eq!(done as usize, steps);
    }
    println!(
        "best of 3: {steps} quiet steps in {best:?}, {:.2} million steps/s",
        steps as f64 / best.as_secs_f64() / 1e6
    );
}
