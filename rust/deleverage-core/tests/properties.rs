//! Invariants of every venue under random states and orders (proptest).

use deleverage_core::venue::router;
use deleverage_core::{
    AnyVenue, BookDynamics, ConstantProductPool, Execution, ImpactCurve, OrderBook, Side, Venue,
};
use proptest::prelude::*;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// A book from random strictly monotone ladders around 100.
fn book() -> impl Strategy<Value = AnyVenue> {
    book_with(prop_oneof![Just(0.0), 0.0f64..1.0])
}

fn book_with(theta: impl Strategy<Value = f64>) -> impl Strategy<Value = AnyVenue> {
    (
        prop::collection::vec((0.01f64..2.0, 0.0f64..50.0), 1..30),
        prop::collection::vec((0.01f64..2.0, 0.0f64..50.0), 1..30),
        prop::option::of(1.0f64..3600.0),
        theta,
    )
        .prop_map(|(bids, asks, h, theta)| {
            let mut px = 99.9;
            let (bp, bq): (Vec<f64>, Vec<f64>) = bids
                .iter()
                .map(|&(gap, q)| {
                    px -= gap;
                    (px, q)
                })
                .unzip();
            let mut px = 100.1;
            let (ap, aq): (Vec<f64>, Vec<f64>) = asks
                .iter()
                .map(|&(gap, q)| {
                    px += gap;
                    (px, q)
                })
                .unzip();
            let d = BookDynamics {
                resilience_half_life: h,
                permanent_impact: theta,
            };
            OrderBook::from_levels(&bp, &bq, &ap, &aq, None, d)
                .expect("valid ladder")
                .into()
        })
}

fn pool() -> impl Strategy<Value = AnyVenue> {
    (1.0f64..1e5, 1.0f64..1e8, 0.0f64..0.05).prop_map(|(x, y, f)| {
        ConstantProductPool::new(x, y, f)
            .expect("valid pool")
            .into()
    })
}

fn curve() -> impl Strategy<Value = AnyVenue> {
    let exec = prop_oneof![
        Just(Execution::Integral),
        (0.0f64..=1.0).prop_map(|alpha| Execution::Weighted { alpha })
    ];
    (0.5f64..500.0, 0usize..3, exec, 1e-6f64..1e-2, 0.0f64..0.9).prop_map(
        |(s, kind, exec, k, floor_frac)| {
            match kind {
                0 => ImpactCurve::linear(s, k, exec),
                1 => ImpactCurve::exponential(s, s * floor_frac, 1.0 / k, exec),
                _ => ImpactCurve::sqrt(s, 0.02, 1.0 / k, 1.0, exec),
            }
            .expect("valid curve")
            .into()
        },
    )
}

fn venue() -> impl Strategy<Value = AnyVenue> {
    prop_oneof![book(), pool(), curve()]
}

/// Venues whose proceeds are the integral of their marginal price. With Cont–Schaanning's
/// α-weighted execution price a curve's proceeds are not, so routing by marginal price (which is
/// what the router does, as MECHANICS §2.8 prescribes) does not maximise their total.
fn integral_venue() -> impl Strategy<Value = AnyVenue> {
    prop_oneof![
        book(),
        pool(),
        curve().prop_filter("exact-integral execution", |v| matches!(
            v,
            AnyVenue::Curve(c) if c.execution() == Execution::Integral
        ))
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Sell), Just(Side::Buy)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fills_account_for_the_request(v in venue(), s in side(), q in 0.0f64..500.0) {
        let f = v.quote(s, q);
        prop_assert!(f.filled >= 0.0);
        prop_assert!(f.filled <= q * (1.0 + 1e-12));
        prop_assert!(rel(f.filled + f.unfilled(), q) <= 1e-12 || q == 0.0);
        prop_assert!(f.notional >= 0.0);
        if f.filled > 0.0 {
            let (a, b) = (f.first_price.unwrap(), f.last_price.unwrap());
            let vwap = f.vwap().unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(vwap >= lo * (1.0 - 1e-12) && vwap <= hi * (1.0 + 1e-12),
                "vwap {} outside [{}, {}]", vwap, lo, hi);
        } else {
            prop_assert!(f.vwap().is_none() && f.first_price.is_none());
        }
    }

    /// Many prices at once are each price alone, bit for bit, in any order: a book searches each
    /// from the last one's levels, which must find the same level (prices on a level included).
    #[test]
    fn capacities_at_once_are_capacities_one_by_one(
        v in venue(),
        s in side(),
        sold in 0.0f64..300.0,
        mut prices in prop::collection::vec(90.0f64..110.0, 0..60),
        sorted in any::<bool>(),
    ) {
        let mut v = v;
        v.execute(s, sold);
        // Prices exactly on levels, and past both ends of the ladder.
        let mut traded = 0.0;
        while let Some((p, q)) = v.level_at(s, traded) {
            prices.push(p);
            traded += q.max(1e-9);
            if prices.len() > 120 {
                break;
            }
        }
        prices.extend([1e-9, 1e9]);
        if sorted {
            prices.sort_by(f64::total_cmp);
        }
        let one_by_one: Vec<u64> = prices.iter().map(|&p| v.capacity_to(s, p).to_bits()).collect();
        let at_once: Vec<u64> = v.capacities_to(s, &prices).iter().map(|c| c.to_bits()).collect();
        prop_assert_eq!(at_once, one_by_one);
    }

    #[test]
    fn more_is_never_better(v in venue(), s in side(), q1 in 0.001f64..200.0, extra in 0.001f64..200.0) {
        let a = v.quote(s, q1);
        let b = v.quote(s, q1 + extra);
        if let (Some(va), Some(vb)) = (a.vwap(), b.vwap()) {
            match s {
                Side::Sell => prop_assert!(vb <= va * (1.0 + 1e-12), "{} > {}", vb, va),
                Side::Buy => prop_assert!(vb >= va * (1.0 - 1e-12), "{} < {}", vb, va),
            }
        }
    }

    #[test]
    fn quotes_do_not_mutate_and_match_execution(v in venue(), s in side(), q in 0.0f64..300.0) {
        let before = v.clone();
        let quoted = v.quote(s, q);
        prop_assert_eq!(&v, &before);
        let mut w = v.clone();
        let done = w.execute(s, q);
        prop_assert_eq!(quoted, done);
    }

    #[test]
    fn depth_is_non_negative_and_monotone(v in venue(), s in side(), w1 in 0.0f64..0.5, w2 in 0.0f64..0.5) {
        let (lo, hi) = (w1.min(w2), w1.max(w2));
        let (d1, d2) = (v.depth(s, lo), v.depth(s, hi));
        prop_assert!(d1 >= 0.0);
        prop_assert!(d2 >= d1 * (1.0 - 1e-12));
    }

    #[test]
    fn books_never_rest_negative_depth(v in book(), orders in prop::collection::vec((side(), 0.0f64..100.0, 0.0f64..600.0), 1..20)) {
        let mut v = v;
        for (s, q, dt) in orders {
            v.execute(s, q);
            v.advance(dt, None);
            if let AnyVenue::Book(b) = &v {
                for side in [Side::Sell, Side::Buy] {
                    let (_, qty) = b.levels(side);
                    prop_assert!(qty.iter().all(|&x| x >= 0.0));
                    prop_assert!(b.consumed(side) >= 0.0);
                }
            }
        }
    }

    #[test]
    fn pool_keeps_the_invariant(v in pool(), s in side(), q in 0.0f64..1000.0) {
        let AnyVenue::Pool(p0) = &v else { unreachable!() };
        let mut p = p0.clone();
        let f = p.execute(s, q);
        let g = 1.0 - p.fee();
        if f.filled > 0.0 {
            // (r_in + g·a_in)(r_out − a_out) = r_in·r_out on the reserves before the swap.
            let lhs = match s {
                Side::Sell => (p0.base_reserve() + g * f.filled) * (p0.quote_reserve() - f.notional),
                Side::Buy => (p0.quote_reserve() + g * f.notional) * (p0.base_reserve() - f.filled),
            };
            prop_assert!(rel(lhs, p0.base_reserve() * p0.quote_reserve()) <= 1e-9);
            prop_assert!(p.base_reserve() * p.quote_reserve() >= p0.base_reserve() * p0.quote_reserve() * (1.0 - 1e-12));
        }
    }

    #[test]
    fn pool_upkeep_lands_in_the_fee_band(v in pool(), r in 0.01f64..1e5) {
        let AnyVenue::Pool(p0) = &v else { unreachable!() };
        let mut p = p0.clone();
        p.advance(12.0, Some(r));
        let g = 1.0 - p.fee();
        let mid = p.mid().unwrap();
        prop_assert!(mid >= g * r * (1.0 - 1e-9) && mid <= r / g * (1.0 + 1e-9), "mid {} band [{}, {}]", mid, g * r, r / g);
    }

    #[test]
    fn routing_is_best_execution(vs in prop::collection::vec(integral_venue(), 1..4), s in side(), q in 0.0f64..300.0) {
        let r = router::quote(&vs, s, q);
        let parts: f64 = r.parts.iter().map(|p| p.filled).sum();
        prop_assert!(rel(parts, r.total.filled) <= 1e-9 || r.total.filled == 0.0);
        prop_assert!(r.total.filled <= q * (1.0 + 1e-12));
        // No single venue does better on the same order when it fills as much.
        for v in &vs {
            let alone = v.quote(s, q);
            if alone.filled >= r.total.filled * (1.0 - 1e-12) && alone.filled <= r.total.filled * (1.0 + 1e-12) {
                match s {
                    Side::Sell => prop_assert!(r.total.notional >= alone.notional * (1.0 - 1e-9),
                        "routed {} < single {}", r.total.notional, alone.notional),
                    Side::Buy => prop_assert!(r.total.notional <= alone.notional * (1.0 + 1e-9),
                        "routed {} > single {}", r.total.notional, alone.notional),
                }
            }
        }
    }

    /// Without permanent impact one clearing uncrosses every venue. (With it, each purchase lifts
    /// the book's anchor and re-offers θ of the volume a level higher, so a rich venue with
    /// unbounded depth above the book, such as a curve with a high floor, keeps trading for
    /// many rounds: the arbitrage is real, bounded by `max_rounds`.)
    #[test]
    fn arbitrage_uncrosses_and_profits(vs in prop::collection::vec(
        prop_oneof![book_with(Just(0.0)), pool(), curve()], 2..4)
    ) {
        let mut vs = vs;
        let trades = router::arbitrage(&mut vs, 100);
        for t in &trades {
            // Up to rounding dust (1e-9 quote) on trades of 1e-14 units.
            prop_assert!(t.proceeds >= t.cost * (1.0 - 1e-9) - 1e-9, "{:?}", t);
        }
        let bid = vs.iter().filter_map(|v| v.best_bid()).fold(f64::NEG_INFINITY, f64::max);
        let ask = vs.iter().filter_map(|v| v.best_ask()).fold(f64::INFINITY, f64::min);
        prop_assert!(bid <= ask * (1.0 + 1e-9), "still crossed: bid {} ask {}", bid, ask);
    }
}
