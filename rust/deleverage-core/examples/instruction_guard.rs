//! The fixed workload of CI's performance guard: the lending benchmark at 20,000 accounts and the
//! perp benchmark at 5,000 positions, each built and run to quiet once, on one thread. CI runs it
//! under valgrind (`--tool=cachegrind --cache-sim=no`) and compares the instructions executed
//! with `benches/instructions.baseline` (`.ci/instruction_guard`): instruction counts, unlike
//! wall time on a shared 2-core machine, move only when the code does.

// Both benchmarks bring the shared test helpers as their own module.
#![allow(
    clippy::duplicate_mod,
    reason = "each bench file includes tests/common itself"
)]

#[path = "../benches/cascade.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod cascade;
#[path = "../benches/perps.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod perps;

use deleverage_core::Engine;

fn main() {
    let mut e = Engine::new(cascade::build(cascade::inputs(20_000, 1)), 1).expect("engine");
    e.run(&cascade::path(), 10_000, || false).expect("run");
    let lending = e.event_count();
    let p = perps::run(perps::inputs(5_000, 1), &perps::path());
    println!(
        "lending events {lending}, perp events {}, steps {} and {}",
        p.event_count(),
        e.current_step(),
        p.current_step()
    );
}
