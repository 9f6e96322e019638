//! Core venue throughput: levels walked per second on a book, swaps per second on a pool, routed
//! sales per second. Run with `cargo bench -p deleverage-core` (release profile, fat LTO).

#[path = "../tests/common/mod.rs"]
#[allow(
    dead_code,
    unused_macros,
    reason = "the bench uses the book builder, not the test helpers"
)]
mod common;

use common::linear_book;
use deleverage_core::venue::router;
use deleverage_core::{
    AnyVenue, BookDynamics, ConstantProductPool, OrderBook, Profile, Side, Venue,
};
use divan::counter::ItemsCount;
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

/// A book around 3,000 of `levels` levels a side, one unit each, 0.01 apart.
fn book(levels: usize) -> OrderBook {
    linear_book(1.0, 3_000.0, 0.01, levels, BookDynamics::default())
}

/// A sale that walks `walk` levels of a 200,000-level book (quote: the book is not consumed, so
/// every iteration walks the same levels). Counter: levels walked.
#[divan::bench(args = [10, 1_000, 100_000])]
fn book_walk_levels(bencher: Bencher, walk: usize) {
    let book = book(200_000);
    bencher
        .counter(ItemsCount::new(walk))
        .bench(|| book.quote(Side::Sell, black_box(walk as f64)));
}

/// Sell then refill: the mutating path, including the consumed-depth bookkeeping.
#[divan::bench]
fn book_sell_and_refill(bencher: Bencher) {
    let mut book = book(10_000);
    bencher.counter(ItemsCount::new(100usize)).bench_local(|| {
        let f = book.sell(black_box(100.0));
        book.advance(1e9, None);
        f
    });
}

/// Uniswap v2 swaps: a sell and a buy per iteration (so the pool stays where it is).
#[divan::bench]
fn pool_swaps(bencher: Bencher) {
    let mut pool = ConstantProductPool::new(2_500.0, 7_450_000.0, 0.003).expect("valid pool");
    bencher.counter(ItemsCount::new(2usize)).bench_local(|| {
        let a = pool.sell(black_box(1.5));
        let b = pool.buy(black_box(1.5));
        (a, b)
    });
}

/// A routed sale across a 20,000-level sqrt book and a pool (quote only).
#[divan::bench]
fn router_book_and_pool(bencher: Bencher) {
    let venues: Vec<AnyVenue> = vec![
        OrderBook::from_profile(
            Profile::Sqrt {
                sigma: 0.02,
                volume: 400_000.0,
                y: 1.0,
            },
            3_000.0,
            0.1,
            20_000,
            BookDynamics::default(),
        )
        .expect("valid book")
        .into(),
        ConstantProductPool::new(2_500.0, 7_500_000.0, 0.003)
            .expect("valid pool")
            .into(),
    ];
    bencher.bench(|| router::quote(&venues, Side::Sell, black_box(1_000.0)));
}
