//! The million-account cascade benchmark, phase by phase, for profilers and quick checks
//! (`cargo run --release --example profile_cascade`): prints the best of three runs of the
//! engine build and of the cascade to quiet.

#[path = "../benches/cascade.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod cascade;

use std::time::{Duration, Instant};

use deleverage_core::Engine;

fn main() {
    let path = cascade::path();
    let (mut build, mut run) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let inputs = cascade::inputs(1_000_000, 1);
        let t = Instant::now();
        let mut e = Engine::new(cascade::build(inputs), 1).expect("engine");
        let b = t.elapsed();
        e.run(&path, 10_000, || false).expect("run");
        build = build.min(b);
        run = run.min(t.elapsed() - b);
        println!(
            "liquidations {}, steps {}, bad debt {:.6e}",
            e.events().len(),
            e.current_step(),
            e.cumulative_bad_debt()
        );
    }
    println!(
        "best of 3: build {build:?}, cascade to quiet {run:?}, total {:?}",
        build + run
    );
}
