//! The lending benchmark at 100,000 accounts, built and run to quiet once: small enough to run
//! under callgrind (`valgrind --tool=callgrind target/ci/examples/profile_lending_small`).

#[path = "../benches/cascade.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod cascade;

use deleverage_core::Engine;

fn main() {
    let inputs = cascade::inputs(100_000, 1);
    let mut e = Engine::new(cascade::build(inputs), 1).expect("engine");
    e.run(&cascade::path(), 10_000, || false).expect("run");
    let table = e.lending().map(|l| l.account_table(e.shared()));
    assert!(table.is_some());
    println!("events {}, steps {}", e.event_count(), e.current_step());
}
