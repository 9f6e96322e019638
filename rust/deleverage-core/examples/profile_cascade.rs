//! The million-account cascade benchmark, phase by phase, for profilers and quick checks
//! (`cargo run --release --example profile_cascade`; `PROFILE_N=10000000` for another size):
//! prints the best of three runs of the engine build, of the cascade to quiet, and of the final
//! account table.

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
    let n: usize = std::env::var("PROFILE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (mut build, mut run, mut table) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let inputs = cascade::inputs(n, 1);
        let t = Instant::now();
        let mut e = Engine::new(cascade::build(inputs), 1).expect("engine");
        let b = t.elapsed();
        e.run(&path, 10_000, || false).expect("run");
        build = build.min(b);
        let r = t.elapsed() - b;
        run = run.min(r);
        let t = Instant::now();
        let accounts = e.lending().map(|l| l.account_table(e.shared()));
        table = table.min(t.elapsed());
        assert!(accounts.is_some_and(|a| a.status.len() == n));
        println!(
            "liquidations {}, steps {}, bad debt {:.6e}",
            e.event_count(),
            e.current_step(),
            e.cumulative_bad_debt()
        );
    }
    println!(
        "best of 3: build {build:?}, cascade to quiet {run:?}, account table {table:?}, total {:?}",
        build + run + table
    );
}
