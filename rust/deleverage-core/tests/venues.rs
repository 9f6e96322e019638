//! Venue mechanics against numbers worked by hand from MECHANICS.md §2 (worked examples 1, 2, 8)
//! and closed forms derived in the comments.
#![allow(
    clippy::inconsistent_digit_grouping,
    clippy::excessive_precision,
    reason = "numbers are written as MECHANICS.md prints them"
)]

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::linear_book;
use deleverage_core::venue::router;
use deleverage_core::{
    AnyVenue, BookDynamics, ConstantProductPool, Error, Execution, ImpactCurve, OrderBook, Profile,
    Side, Venue,
};

fn example2_book() -> OrderBook {
    OrderBook::from_levels(
        &[101.50, 101.25, 100.90, 100.40],
        &[3.0, 5.0, 2.5, 4.0],
        &[102.00],
        &[10.0],
        None,
        BookDynamics::default(),
    )
    .unwrap()
}

#[test]
fn book_walk_worked_example_2() {
    let mut book = example2_book();
    assert_close!(book.mid().unwrap(), 101.75);
    let f = book.sell(9.0);
    assert_close!(f.filled, 9.0);
    assert_eq!(f.unfilled(), 0.0);
    assert_close!(f.notional, 911.65);
    assert_close!(f.vwap().unwrap(), 18_233.0 / 180.0);
    assert_close!(f.first_price.unwrap(), 101.50);
    assert_close!(f.last_price.unwrap(), 100.90);
    assert_eq!(f.levels, 3);
    let (px, qty) = book.levels(Side::Sell);
    assert_eq!(px.len(), 2);
    assert_close!(px[0], 100.90);
    assert_close!(qty[0], 1.5);
    assert_close!(book.mid().unwrap(), 101.45);

    let f = book.sell(8.0);
    assert_close!(f.filled, 5.5);
    assert_close!(f.unfilled(), 2.5);
    assert_close!(f.notional, 552.95);
    assert_close!(f.vwap().unwrap(), 11_059.0 / 110.0);
    assert_close!(f.first_price.unwrap(), 100.90);
    assert_close!(f.last_price.unwrap(), 100.40);
    assert_eq!(f.levels, 2);
    assert_eq!(book.best_bid(), None);
    assert_eq!(book.mid(), None);
    // Nothing is ever filled below the last level.
    let f = book.sell(1.0);
    assert_eq!(f.filled, 0.0);
    assert_eq!(f.vwap(), None);
    assert_eq!(f.first_price, None);
}

#[test]
fn book_buy_walks_asks_up() {
    let mut book = OrderBook::from_levels(
        &[99.0],
        &[1.0],
        &[100.0, 100.5, 101.0],
        &[2.0, 2.0, 2.0],
        None,
        BookDynamics::default(),
    )
    .unwrap();
    let f = book.buy(5.0);
    // 2 @ 100 + 2 @ 100.5 + 1 @ 101
    assert_close!(f.notional, 200.0 + 201.0 + 101.0);
    assert_close!(f.last_price.unwrap(), 101.0);
    assert_close!(book.best_ask().unwrap(), 101.0);
    assert_close!(book.depth(Side::Buy, 0.1), 1.0);
}

#[test]
fn book_rejects_bad_ladders() {
    let d = BookDynamics::default();
    let e = OrderBook::from_levels(&[100.0, 100.0], &[1.0, 1.0], &[101.0], &[1.0], None, d);
    assert!(matches!(e, Err(Error::Unsorted { index: 1, .. })), "{e:?}");
    let e = OrderBook::from_levels(&[100.0], &[1.0], &[99.0], &[1.0], None, d);
    assert!(matches!(e, Err(Error::Crossed { .. })), "{e:?}");
    let e = OrderBook::from_levels(&[100.0], &[1.0, 2.0], &[101.0], &[1.0], None, d);
    assert!(matches!(e, Err(Error::LengthMismatch { .. })), "{e:?}");
    let e = OrderBook::from_levels(&[100.0], &[-1.0], &[101.0], &[1.0], None, d);
    assert_eq!(
        e.unwrap_err().to_string(),
        "bid_qty[0] must be >= 0, got -1"
    );
    let e = OrderBook::from_levels(&[f64::NAN], &[1.0], &[101.0], &[1.0], None, d);
    assert_eq!(
        e.unwrap_err().to_string(),
        "bid_px[0] must be a finite number, got NaN"
    );
    let e = OrderBook::from_levels(&[100.0], &[1.0], &[], &[], None, d);
    assert!(matches!(e, Err(Error::Missing { .. })), "{e:?}");
    let bad = BookDynamics {
        resilience_half_life: Some(0.0),
        permanent_impact: 0.0,
    };
    let e = OrderBook::from_levels(&[100.0], &[1.0], &[101.0], &[1.0], None, bad);
    assert!(matches!(e, Err(Error::NotPositive { .. })), "{e:?}");
}

/// A linear book: mid 100, tick 1 (η = 0.01), 10 units per level, 50 levels a side.
fn book_at_100(dynamics: BookDynamics) -> OrderBook {
    linear_book(10.0, 100.0, 1.0, 50, dynamics)
}

#[test]
fn linear_profile_levels() {
    let mut book = book_at_100(BookDynamics::default());
    assert_close!(book.best_bid().unwrap(), 99.0);
    assert_close!(book.best_ask().unwrap(), 101.0);
    // 25 units: 10 @ 99, 10 @ 98, 5 @ 97.
    let f = book.sell(25.0);
    assert_close!(f.notional, 990.0 + 980.0 + 485.0);
    assert_close!(f.last_price.unwrap(), 97.0);
    // u(Q) = η·ceil(Q/d): the last fill sits ceil(2.5) = 3 ticks out.
    assert_close!(book.depth(Side::Sell, 0.04), 15.0);
}

#[test]
fn refill_law_after_half_lives() {
    // E ← E·2^(−Δt/h): consume 4 levels (E = 40), then watch them come back from the inside.
    let h = 600.0;
    let mut book = book_at_100(BookDynamics {
        resilience_half_life: Some(h),
        permanent_impact: 0.0,
    });
    book.sell(40.0);
    assert_close!(book.best_bid().unwrap(), 95.0);
    book.advance(h, None);
    assert_close!(book.consumed(Side::Sell), 20.0);
    assert_close!(book.best_bid().unwrap(), 97.0); // levels 1 and 2 still consumed
    book.advance(h, None);
    assert_close!(book.consumed(Side::Sell), 10.0);
    assert_close!(book.best_bid().unwrap(), 98.0);
    book.advance(h, None);
    // E = 5: the best level is half refilled.
    let (px, qty) = book.levels(Side::Sell);
    assert_close!(px[0], 99.0);
    assert_close!(qty[0], 5.0);
    // Half a half-life: E = 5·2^(−1/2).
    book.advance(h / 2.0, None);
    assert_close!(book.consumed(Side::Sell), 5.0 * 0.5f64.sqrt());
    // Without resilience nothing comes back.
    let mut still = book_at_100(BookDynamics::default());
    still.sell(40.0);
    still.advance(1e9, None);
    assert_close!(still.best_bid().unwrap(), 95.0);
}

#[test]
fn anchoring_moves_levels_and_keeps_consumption() {
    let mut book = book_at_100(BookDynamics::default());
    book.sell(15.0);
    book.advance(12.0, Some(80.0));
    // Every level re-priced by 0.8; 5 units left at the second level.
    let (px, qty) = book.levels(Side::Sell);
    assert_close!(px[0], 98.0 * 0.8);
    assert_close!(qty[0], 5.0);
    assert_close!(book.best_ask().unwrap(), 101.0 * 0.8);
}

#[test]
fn permanent_impact_moves_the_anchor() {
    // θ = 0.5, sell 20 = two full levels: b0 = 99, b1 = 97, I = 97/99 − 1 = −2/99.
    // Anchor 100·(1 − 1/99); consumed E = (1 − θ)·20 = 10, so the best bid is level 2 of the
    // moved ladder: anchor·0.98.
    let mut book = book_at_100(BookDynamics {
        resilience_half_life: None,
        permanent_impact: 0.5,
    });
    let f = book.sell(20.0);
    assert_close!(f.notional, 990.0 + 980.0);
    let anchor = 100.0 * (1.0 - 1.0 / 99.0);
    assert_close!(book.anchor(), anchor);
    assert_close!(book.consumed(Side::Sell), 10.0);
    assert_close!(book.best_bid().unwrap(), anchor * 0.98);
    assert_close!(book.best_ask().unwrap(), anchor * 1.01);
    // The permanent part survives a new reference: anchor = X·Π.
    book.advance(12.0, Some(110.0));
    assert_close!(book.anchor(), 110.0 * (1.0 - 1.0 / 99.0));
}

#[test]
fn permanent_impact_inside_a_level_moves_nothing() {
    // Selling 5 of the first level's 10 leaves the best bid at 99: I = 0, so nothing is permanent
    // and the full 5 stay consumed (no depth reappears at 99).
    let mut book = book_at_100(BookDynamics {
        resilience_half_life: None,
        permanent_impact: 0.5,
    });
    book.sell(5.0);
    assert_eq!(book.anchor(), 100.0);
    assert_close!(book.consumed(Side::Sell), 5.0);
    // Sell 25 = two levels and half of the third: b1 = 97, I = −2/99, ΔW = 20 (the two levels
    // passed), E' = 25 − θ·20 = 15; the best bid 100(1 − 1/99)·0.98 = 97.0101 ≈ b1 with 5 resting,
    // as the un-shifted book had 5 resting at 97.
    let mut book = book_at_100(BookDynamics {
        resilience_half_life: None,
        permanent_impact: 0.5,
    });
    book.sell(25.0);
    assert_close!(book.consumed(Side::Sell), 15.0);
    let (px, qty) = book.levels(Side::Sell);
    assert_close!(px[0], 100.0 * (1.0 - 1.0 / 99.0) * 0.98);
    assert_close!(qty[0], 5.0);
}

#[test]
fn permanent_impact_keeps_an_emptied_side_empty() {
    let mut book = OrderBook::from_levels(
        &[99.0],
        &[3.0],
        &[101.0],
        &[3.0],
        None,
        BookDynamics {
            resilience_half_life: None,
            permanent_impact: 0.3,
        },
    )
    .unwrap();
    let f = book.sell(5.0);
    assert_close!(f.filled, 3.0);
    assert_eq!(book.best_bid(), None);
}

#[test]
fn sqrt_profile_reproduces_square_root_law() {
    // ΔP/P = Y·σ·sqrt(Q/V): σ = 2 %, V = 1e6, Y = 0.8, fine tick η = 1e-5.
    let (sigma, volume, y) = (0.02, 1.0e6, 0.8);
    let book = OrderBook::from_profile(
        Profile::Sqrt { sigma, volume, y },
        100.0,
        0.001,
        20_000,
        BookDynamics::default(),
    )
    .unwrap();
    for q in [1.0e3, 1.0e4, 5.0e4, 2.0e5] {
        let f = book.quote(Side::Sell, q);
        let moved = 1.0 - f.last_price.unwrap() / 100.0;
        let law = y * sigma * (q / volume).sqrt();
        assert_close!(moved, law, 0.01);
        // A sweep moves the VWAP by two thirds of that; discrete levels fill at their outer edge,
        // a bias of about half a tick, which is below 1 % once the sweep spans 150 ticks or more.
        if q >= 1.0e4 {
            let vwap_move = 1.0 - f.vwap().unwrap() / 100.0;
            assert_close!(vwap_move, 2.0 / 3.0 * law, 0.01);
        }
    }
}

#[test]
fn exponential_profile_depth() {
    // W(u) = W∞(1 − e^{−u/u₀}): the depth within 1 % is W∞(1 − e^{−0.01/0.005}) at level edges.
    let book = OrderBook::from_profile(
        Profile::Exponential {
            total_depth: 1000.0,
            scale: 0.005,
        },
        100.0,
        0.01,
        5000,
        BookDynamics::default(),
    )
    .unwrap();
    assert_close!(
        book.depth(Side::Sell, 0.01),
        1000.0 * (1.0 - (-2.0f64).exp()),
        1e-6
    );
    // Selling Q lands at u(Q) = −u₀·ln(1 − Q/W∞) to within one tick.
    let f = book.quote(Side::Sell, 500.0);
    let u = 1.0 - f.last_price.unwrap() / 100.0;
    let law = -0.005 * (1.0f64 - 0.5).ln();
    assert!((u - law).abs() <= 1e-4, "{u} vs {law}");
}

#[test]
fn pool_sell_worked_example_1() {
    let mut pool = ConstantProductPool::new(2_500.0, 7_450_000.0, 0.003).unwrap();
    assert_close!(pool.mid().unwrap(), 2_980.0);
    assert_close!(pool.best_bid().unwrap(), 2_971.06);
    let f = pool.sell(36.0);
    assert_close!(f.notional, 66_848_850_000.0 / 633_973.0);
    assert_close!(f.notional, 105_444.317029, 1e-11);
    assert_close!(f.vwap().unwrap(), 2_929.00880637);
    assert_close!(pool.base_reserve(), 2_536.0);
    assert_close!(pool.quote_reserve(), 7_344_555.68297, 1e-11);
    assert_close!(pool.mid().unwrap(), 2_896.11817152);
    assert_close!(
        pool.base_reserve() * pool.quote_reserve() / (2_500.0 * 7_450_000.0),
        1.0000425886
    );
    assert_close!(f.first_price.unwrap(), 2_971.06);
    // Upkeep to P = 2,980: pay 94,561.1688632 USDC, receive 32.1404845968 ETH, mid = g·P.
    let arb = pool.advance(12.0, Some(2_980.0)).unwrap();
    assert_eq!(arb.side, Side::Buy);
    assert_close!(arb.notional, 94_561.1688632);
    assert_close!(arb.filled, 32.1404845968);
    assert_close!(pool.mid().unwrap(), 2_971.06);
    // Inside the band nothing happens.
    assert!(pool.advance(12.0, Some(2_980.0)).is_none());
}

#[test]
fn pool_buy_is_get_amount_in() {
    let mut pool = ConstantProductPool::new(2_500.0, 7_450_000.0, 0.003).unwrap();
    // getAmountIn(10) = 7,450,000·10/((2,500 − 10)·0.997) = 74,500,000/2,482.53
    let f = pool.buy(10.0);
    assert_close!(f.notional, 74_500_000.0 / 2_482.53);
    // (r_in + g·a_in)(r_out − a_out) = r_in·r_out
    assert_close!(
        (7_450_000.0 + 0.997 * f.notional) * (2_500.0 - 10.0),
        7_450_000.0 * 2_500.0
    );
    // The whole reserve cannot be bought (MECHANICS Choice): nothing fills.
    let f = pool.buy(pool.base_reserve());
    assert_eq!(f.filled, 0.0);
    assert_close!(f.unfilled(), 2_490.0);
}

#[test]
fn pool_arbitrage_down_to_upper_band_edge() {
    // mid 3,000 above P/g with P = 2,900: sell base until y'/x' = P/g.
    let mut pool = ConstantProductPool::new(1_000.0, 3_000_000.0, 0.003).unwrap();
    let arb = pool.advance(12.0, Some(2_900.0)).unwrap();
    assert_eq!(arb.side, Side::Sell);
    assert_close!(pool.mid().unwrap(), 2_900.0 / 0.997);
    // The quadratic g·Δx² + (1+g)·x·Δx + x² − g·x·y/P = 0 holds at the trade size.
    let (g, x, y, p, dx) = (0.997, 1_000.0, 3_000_000.0, 2_900.0, arb.filled);
    assert!((g * dx * dx + (1.0 + g) * x * dx + x * x - g * x * y / p).abs() < 1e-6);
}

#[test]
fn pool_rejects_bad_parameters() {
    assert_eq!(
        ConstantProductPool::new(1.0, 1.0, 1.0)
            .unwrap_err()
            .to_string(),
        "fee must be in [0, 1), got 1"
    );
    assert!(ConstantProductPool::new(-1.0, 1.0, 0.0).is_err());
    assert!(ConstantProductPool::new(1.0, f64::INFINITY, 0.0).is_err());
}

#[test]
fn linear_curve_closed_forms() {
    // S = 100, ℓ = 1e-4 per quote unit; selling 10 units: q = 1,000, S' = 90.
    let mut c = ImpactCurve::linear(100.0, 1e-4, Execution::Integral).unwrap();
    let f = c.sell(10.0);
    assert_close!(f.last_price.unwrap(), 90.0);
    assert_close!(f.vwap().unwrap(), 95.0); // S(1 − ℓq/2)
    assert_close!(c.price(), 90.0);
    let post = ImpactCurve::linear(100.0, 1e-4, Execution::Weighted { alpha: 1.0 }).unwrap();
    assert_close!(post.quote(Side::Sell, 10.0).vwap().unwrap(), 90.0);
    // Capacity: q ≤ 1/ℓ, i.e. 100 units at S = 100. More is left unfilled at price 0.
    let f = post.quote(Side::Sell, 150.0);
    assert_close!(f.filled, 100.0);
    assert_close!(f.unfilled(), 50.0);
    // A purchase reverses the move: S' = S(1 + ℓq).
    assert_close!(post.quote(Side::Buy, 10.0).last_price.unwrap(), 110.0);
}

#[test]
fn exponential_curve_worked_example_8() {
    // Cont–Schaanning: S⁰ = 1, B = 0.4, c = 0.5, τ = 10 days.
    for (adv, sigma, q, psi) in [
        (120.0, 0.015, 25.4805, 0.00201103264),
        (40.0, 0.025, 21.2295, 0.00833328552),
    ] {
        let depth: f64 = 0.5 * adv / sigma * 10.0f64.sqrt();
        let mut c =
            ImpactCurve::exponential(1.0, 0.4, depth, Execution::Weighted { alpha: 0.5 }).unwrap();
        let f = c.sell(q);
        assert_close!(1.0 - c.price(), psi, 1e-8);
        assert_close!(f.vwap().unwrap(), 1.0 - 0.5 * psi, 1e-10);
    }
    // Exact integral: B + (S − B)(δ/q)(1 − e^{−q/δ}).
    let c = ImpactCurve::exponential(10.0, 4.0, 1_000.0, Execution::Integral).unwrap();
    let delta: f64 = 0.6 * 1_000.0;
    let q: f64 = 50.0 * 10.0;
    let want = 4.0 + 6.0 * delta / q * (1.0 - (-q / delta).exp());
    assert_close!(c.quote(Side::Sell, 50.0).vwap().unwrap(), want);
}

#[test]
fn sqrt_curve_closed_forms() {
    let c = ImpactCurve::sqrt(50.0, 0.03, 1.0e7, 1.5, Execution::Integral).unwrap();
    // q = 200·50 = 10,000 quote: ΔS/S = 1.5·0.03·sqrt(1e-3)
    let m = 1.5 * 0.03 * (1.0e-3f64).sqrt();
    let f = c.quote(Side::Sell, 200.0);
    assert_close!(f.last_price.unwrap(), 50.0 * (1.0 - m));
    assert_close!(f.vwap().unwrap(), 50.0 * (1.0 - 2.0 / 3.0 * m));
}

#[test]
fn curve_scales_with_reference() {
    let mut c = ImpactCurve::exponential(10.0, 4.0, 1_000.0, Execution::Integral).unwrap();
    c.advance(12.0, Some(8.0));
    assert_close!(c.price(), 8.0);
    match c.shape() {
        deleverage_core::Shape::Exponential { floor, .. } => assert_close!(floor, 3.2),
        s => panic!("{s:?}"),
    }
}

#[test]
fn router_two_pools_closed_form() {
    // Equal marginal prices g·x_i·y_i/(x_i + g·z_i)² ⇒ x_i + g·z_i = c·sqrt(x_i·y_i), and
    // Σ z_i = Q fixes c.
    let g = 0.997;
    let (x1, y1, x2, y2, q) = (1_000.0, 3_000_000.0, 400.0, 1_250_000.0, 150.0);
    let mut venues: Vec<AnyVenue> = vec![
        ConstantProductPool::new(x1, y1, 0.003).unwrap().into(),
        ConstantProductPool::new(x2, y2, 0.003).unwrap().into(),
    ];
    let c = (x1 + x2 + g * q) / ((x1 * y1).sqrt() + (x2 * y2).sqrt());
    let z1 = (c * (x1 * y1).sqrt() - x1) / g;
    let z2 = (c * (x2 * y2).sqrt() - x2) / g;
    let r = router::execute(&mut venues, Side::Sell, q);
    assert_close!(r.parts[0].filled, z1);
    assert_close!(r.parts[1].filled, z2);
    assert_close!(r.total.filled, q);
    let m1 = g * x1 * y1 / (x1 + g * z1).powi(2);
    let m2 = g * x2 * y2 / (x2 + g * z2).powi(2);
    assert_close!(m1, m2, 1e-12);
    // Best execution beats any other split: shift 1 % of the order either way.
    let proceeds = |a: f64| {
        let p1 = ConstantProductPool::new(x1, y1, 0.003).unwrap();
        let p2 = ConstantProductPool::new(x2, y2, 0.003).unwrap();
        p1.quote(Side::Sell, a).notional + p2.quote(Side::Sell, q - a).notional
    };
    assert!(proceeds(z1) > proceeds(z1 * 1.01));
    assert!(proceeds(z1) > proceeds(z1 * 0.99));
    assert_close!(r.total.notional, proceeds(z1));
}

#[test]
fn router_book_and_pool_by_hand() {
    // Pool x = 100, y = 10,000, no fee: marginal bid after z is 1e6/(100 + z)², capacity down to
    // p is 100·(sqrt(100/p) − 1). Book bids 99.5 × 1, 99 × 1, 98 × 5.
    // Sell 3: pool to 99.5 (0.2509), book 1 @ 99.5; pool to 99 (0.5038), book 1 @ 99; level 98
    // is not reached: the pool's capacity to 98 (1.0153) exceeds the 0.4962 still needed, so
    // the pool ends at z = 1 exactly and the book at 2.
    let mut venues: Vec<AnyVenue> = vec![
        OrderBook::from_levels(
            &[99.5, 99.0, 98.0],
            &[1.0, 1.0, 5.0],
            &[101.0],
            &[1.0],
            None,
            BookDynamics::default(),
        )
        .unwrap()
        .into(),
        ConstantProductPool::new(100.0, 10_000.0, 0.0)
            .unwrap()
            .into(),
    ];
    let quoted = router::quote(&venues, Side::Sell, 3.0);
    let r = router::execute(&mut venues, Side::Sell, 3.0);
    assert_eq!(quoted, r);
    assert_close!(r.parts[0].filled, 2.0);
    assert_close!(r.parts[1].filled, 1.0);
    assert_close!(r.total.notional, 99.5 + 99.0 + 10_000.0 / 101.0);
    assert_eq!(r.total.levels, 3);
    // The pool's best bid (100) is where the first unit went.
    assert_close!(r.total.first_price.unwrap(), 100.0);
    assert_close!(venues[0].best_bid().unwrap(), 98.0);
}

#[test]
fn router_partial_when_books_run_dry() {
    let mut venues: Vec<AnyVenue> = vec![
        OrderBook::from_levels(
            &[10.0],
            &[1.0],
            &[11.0],
            &[1.0],
            None,
            BookDynamics::default(),
        )
        .unwrap()
        .into(),
        OrderBook::from_levels(
            &[10.5, 9.0],
            &[1.0, 1.0],
            &[11.0],
            &[1.0],
            None,
            BookDynamics::default(),
        )
        .unwrap()
        .into(),
    ];
    let r = router::execute(&mut venues, Side::Sell, 5.0);
    assert_close!(r.total.filled, 3.0);
    assert_close!(r.total.unfilled(), 2.0);
    assert_close!(r.total.notional, 10.5 + 10.0 + 9.0);
    assert_close!(r.total.first_price.unwrap(), 10.5);
    assert_close!(r.total.last_price.unwrap(), 9.0);
}

#[test]
fn arbitrage_aligns_two_pools() {
    // No fee. A: mid 100, B: mid 121. Buying z on A and selling on B meets where
    // 1e3/(100 − z) = 1.1e3/(100 + z): z = 10/2.1; both mids end at 110.25.
    let mut venues: Vec<AnyVenue> = vec![
        ConstantProductPool::new(100.0, 10_000.0, 0.0)
            .unwrap()
            .into(),
        ConstantProductPool::new(100.0, 12_100.0, 0.0)
            .unwrap()
            .into(),
    ];
    let trades = router::arbitrage(&mut venues, 100);
    assert_eq!(trades.len(), 1);
    assert_close!(trades[0].qty, 10.0 / 2.1);
    assert!(trades[0].proceeds > trades[0].cost);
    assert_close!(venues[0].mid().unwrap(), 110.25);
    assert_close!(venues[1].mid().unwrap(), 110.25);
}

#[test]
fn arbitrage_book_against_pool() {
    // A book whose bid 102 × 5 sits above the pool's ask (mid 100, no fee): the arbitrageur buys
    // from the pool until its marginal ask 1e6/(100 − z)² reaches 102, i.e. z = 100 − 1000/sqrt(102),
    // which is less than the 5 resting.
    let mut venues: Vec<AnyVenue> = vec![
        OrderBook::from_levels(
            &[102.0],
            &[5.0],
            &[106.0],
            &[1.0],
            None,
            BookDynamics::default(),
        )
        .unwrap()
        .into(),
        ConstantProductPool::new(100.0, 10_000.0, 0.0)
            .unwrap()
            .into(),
    ];
    let trades = router::arbitrage(&mut venues, 100);
    let z = 100.0 - 1_000.0 / 102.0f64.sqrt();
    assert_eq!(trades.len(), 1);
    assert_close!(trades[0].qty, z, 1e-12);
    assert_close!(trades[0].proceeds, 102.0 * z, 1e-12);
    assert_close!(venues[0].best_bid().unwrap(), 102.0);
    assert_close!(venues[1].best_ask().unwrap(), 102.0, 1e-12);
}

#[test]
fn a_refreshed_book_keeps_the_depth_already_consumed() {
    // Bids 99 × 5; sell 3: 2 rest. A snapshot of bids 98 × 4, 97 × 5 replaces the baseline;
    // the 3 consumed from the inside stay consumed: 1 rests at 98, 5 at 97.
    let mut b = OrderBook::from_levels(
        &[99.0],
        &[5.0],
        &[101.0],
        &[5.0],
        None,
        BookDynamics::default(),
    )
    .unwrap();
    b.sell(3.0);
    b.refresh(&[98.0, 97.0], &[4.0, 5.0], &[102.0], &[5.0], 100.0)
        .unwrap();
    let (px, qty) = b.levels(Side::Sell);
    assert_eq!(px, vec![98.0, 97.0]);
    assert_eq!(qty, vec![1.0, 5.0]);
    // Recorded around 200 while the book stands at 100: re-anchored to half the prices.
    b.refresh(&[196.0], &[10.0], &[204.0], &[10.0], 200.0)
        .unwrap();
    assert_eq!(b.levels(Side::Sell).0, vec![98.0]);
    assert_eq!(b.levels(Side::Buy).0, vec![102.0]);
    assert!(matches!(
        b.refresh(&[103.0], &[1.0], &[102.0], &[1.0], 100.0),
        Err(Error::Crossed { .. })
    ));
}

#[test]
fn an_exponential_curve_prices_a_sale_too_small_to_register() {
    // Found by fuzzing: a sale whose quote value underflows to 0 against a tiny depth made the
    // integral VWAP 0/0. Its limit is the current price: the sale fills at S, notional ~0.
    let mut c = deleverage_core::ImpactCurve::exponential(
        100.0,
        1e-47,
        1e-279,
        deleverage_core::Execution::Integral,
    )
    .unwrap();
    let fill = deleverage_core::Venue::execute(&mut c, deleverage_core::Side::Sell, 1e-330);
    assert!(fill.notional.is_finite());
    assert!(fill.vwap().is_none_or(|v| v.is_finite()));
    // A normal sale against the same curve still falls to the floor, finitely.
    let fill = deleverage_core::Venue::execute(&mut c, deleverage_core::Side::Sell, 1.0);
    assert!(fill.notional.is_finite() && fill.notional >= 0.0);
}

#[test]
fn a_tick_below_the_resolution_of_the_mid_is_refused() {
    // Found by fuzzing: a tick of 1e-300 at a mid of 100 put every level at 100.0, a ladder no
    // book allows (and a cascade crawled through it for seconds).
    use deleverage_core::venue::Profile;
    let built = deleverage_core::OrderBook::from_profile(
        Profile::Linear {
            depth_per_level: 1.0,
        },
        100.0,
        1e-300,
        160,
        deleverage_core::BookDynamics::default(),
    );
    let err = built.unwrap_err().to_string();
    assert!(
        err.starts_with("tick must be large enough against mid"),
        "{err}"
    );
    // The smallest tick that resolves: every level its own price.
    assert!(
        deleverage_core::OrderBook::from_profile(
            Profile::Linear {
                depth_per_level: 1.0
            },
            100.0,
            1e-9,
            160,
            deleverage_core::BookDynamics::default(),
        )
        .is_ok()
    );
}

#[test]
fn prices_beyond_the_engine_s_range_are_refused() {
    // Found by fuzzing: a reference of 3e267 drove a linear curve's notional to inf − inf. The
    // engine takes prices within 1e-100 and 1e100 of the quote.
    assert!(deleverage_core::error::price("p", 1e100).is_ok());
    assert!(deleverage_core::error::price("p", 1e-100).is_ok());
    let e = deleverage_core::error::price("reference[0]", 3e267).unwrap_err();
    assert_eq!(
        e.to_string(),
        "reference[0] must be a price between 1e-100 and 1e100, got 3e267"
    );
    assert!(deleverage_core::error::price("p", 1e-101).is_err());
}

#[test]
fn pools_and_positions_keep_to_the_engine_s_amounts() {
    // Found by fuzzing: pools of 6e-154 units (whose products underflow) and positions of
    // 4e175 units (whose values overflow) made notional NaN.
    let e = deleverage_core::ConstantProductPool::new(6e-154, 1.0, 0.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "base_reserve must be between 1e-150 and 1e150, got 6e-154"
    );
    let e = deleverage_core::error::amount("collateral of holding 8", 4e175).unwrap_err();
    assert_eq!(
        e.to_string(),
        "collateral of holding 8 must be an amount of at most 1e150, got 4e175"
    );
}
