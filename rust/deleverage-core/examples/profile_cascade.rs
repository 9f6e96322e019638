//! One run of the million-account cascade benchmark, for profilers
//! (`cargo run --release --example profile_cascade`). Prints the run's size and wall time.

#[path = "../benches/cascade.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod cascade;

use deleverage_core::engine::Engine;
use deleverage_core::path::PathSpec;

fn main() {
    let sc = cascade::scenario(1_000_000, 1);
    let path = PathSpec::Instant {
        returns: vec![-0.25, 0.0],
    }
    .generate(&[3_000.0, 1.0], 1, 12.0, 0)
    .expect("path");
    let t = std::time::Instant::now();
    let mut e = Engine::new(sc, 1).expect("engine");
    let built = t.elapsed();
    let r = e.step(&path).expect("step");
    println!("step 0: {r:?} after {:?}", t.elapsed());
    e.run(&path, 10_000, || false).expect("run");
    println!(
        "build {:?}, total {:?}, events {}, steps {}",
        built,
        t.elapsed(),
        e.events().len(),
        e.current_step()
    );
}
