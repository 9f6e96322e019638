//! Uniswap v3's concentrated-liquidity pool (MECHANICS §2.10) against numbers worked by hand
//! from the whitepaper's closed forms, Δ(1/√P) = Δx/L and Δ√P = Δy/L within a range, with the
//! fee on the input and `liquidityNet` applied at each crossed tick. The literals were computed
//! from those formulas at 40 digits (mpmath); the comments give each step.
#![allow(
    clippy::excessive_precision,
    reason = "hand-worked numbers are written to the digits they were computed to"
)]

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::linear_book;
use deleverage_core::venue::concentrated::{sqrt_ratio_at_tick, tick_at_sqrt_ratio};
use deleverage_core::venue::router;
use deleverage_core::{AnyVenue, BookDynamics, ConcentratedPool, Side, TickState, Venue};

const Q96: f64 = 79_228_162_514_264_337_593_543_950_336.0;

/// One position: L = 1000 on ticks [40000, 50000), √P = 10 (P = 100), whole-token units.
fn single_range() -> ConcentratedPool {
    ConcentratedPool::new(TickState {
        ticks: vec![40_000, 50_000],
        liquidity_net: vec![1_000, -1_000],
        sqrt_price_x96: 10.0 * Q96,
        tick: Some(46_054),
        liquidity: 1_000,
        fee: 0.003,
        decimals0: 0,
        decimals1: 0,
        base_is_token0: true,
    })
    .unwrap()
}

/// Five initialised ticks; √P = 1 at tick 0. The ranges' liquidity, from the active 5000:
/// below −5000: 0 · [−5000, −3000): 1000 · [−3000, −1000): 3000 · [−1000, 1000): 5000 ·
/// [1000, 4000): 2000 · above 4000: 0.
fn ladder(base_is_token0: bool) -> ConcentratedPool {
    ConcentratedPool::new(TickState {
        ticks: vec![-5_000, -3_000, -1_000, 1_000, 4_000],
        liquidity_net: vec![1_000, 2_000, 2_000, -3_000, -2_000],
        sqrt_price_x96: Q96,
        tick: Some(0),
        liquidity: 5_000,
        fee: 0.003,
        decimals0: 0,
        decimals1: 0,
        base_is_token0,
    })
    .unwrap()
}

#[test]
fn a_swap_within_one_range_is_the_closed_form_with_the_fee() {
    let p = single_range();
    assert_eq!(p.mid(), Some(100.0));
    // Down to √P = 9: Δx = L(1/9 − 1/10) = 11.1111… before the fee, /0.997 with it; Δy = L(10 − 9).
    let dx = 1_000.0 * (1.0 / 9.0 - 1.0 / 10.0) / 0.997;
    assert_close!(dx, 11.144_544_745_347_152_568_8, 1e-15);
    let f = p.quote(Side::Sell, dx);
    assert_close!(f.notional, 1_000.0, 1e-13);
    assert_close!(f.first_price.unwrap(), 0.997 * 100.0, 1e-15);
    assert_close!(f.last_price.unwrap(), 0.997 * 81.0, 1e-13);
    // Up to √P = 11: Δx out = L(1/10 − 1/11) = 9.0909…; Δy in = L(11 − 10)/0.997 = 1003.00902708.
    let f = p.quote(Side::Buy, 1_000.0 / 110.0);
    assert_close!(f.notional, 1_003.009_027_081_243_731_193_6, 1e-13);
    assert_close!(f.last_price.unwrap(), 121.0 / 0.997, 1e-13);
    assert_eq!(f.levels, 1);
}

#[test]
fn a_sale_crossing_two_ticks_by_hand() {
    // Sell 700 token0: 697.9 after the fee. a1 = √P(−1000) = 1.0001^−500 = 0.95123180241872,
    // a2 = √P(−3000) = 0.86071443132876, a3 = √P(−5000) = 0.77881051749308.
    // [−1000, 1000), L = 5000: Δx1 = 5000(1/a1 − 1) = 256.34234188383, Δy1 = 5000(1 − a1) = 243.84098790639
    // cross −1000 downward: L = 5000 − 2000 = 3000
    // [−3000, −1000), L = 3000: Δx2 = 3000(1/a2 − 1/a1) = 331.67118362473, Δy2 = 3000(a1 − a2) = 271.55211326987
    // cross −3000 downward: L = 3000 − 2000 = 1000
    // [−5000, −3000), L = 1000: rest = 697.9 − Δx1 − Δx2 = 109.88647449144 (< 122.18 the range holds),
    //   1/√P' = 1/a2 + rest/1000, √P' = 0.78634155909083, Δy3 = 1000(a2 − √P') = 74.372872237933
    let mut p = ladder(true);
    let f = p.sell(700.0);
    assert_eq!(f.filled, 700.0);
    assert_close!(f.notional, 589.765_973_414_200_503_406_2, 1e-13);
    assert_eq!(f.levels, 3);
    assert_close!(
        p.sqrt_price_x96() / Q96,
        0.786_341_559_090_830_222_679,
        1e-14
    );
    assert_close!(p.mid().unwrap(), 0.618_333_047_553_397_638_819_7, 1e-13);
    assert_eq!(p.liquidity(), 1_000);
    assert!((-5_000..-3_000).contains(&p.tick()));
    assert_close!(
        f.last_price.unwrap(),
        0.997 * 0.618_333_047_553_397_638_819_7,
        1e-13
    );
}

#[test]
fn a_sale_that_exhausts_the_liquidity_fills_partially() {
    // Below −5000 nothing rests: at most (Δx1 + Δx2 + 1000(1/a3 − 1/a2))/0.997 = 712.33436656351
    // token0 sells, for Δy1 + Δy2 + 1000(a2 − a3) = 597.29701501195.
    let mut p = ladder(true);
    assert_close!(
        p.max_capacity(Side::Sell),
        712.334_366_563_514_976_020_8,
        1e-13
    );
    let f = p.sell(1_000.0);
    assert_close!(f.filled, 712.334_366_563_514_976_020_8, 1e-13);
    assert_close!(f.unfilled(), 1_000.0 - 712.334_366_563_514_976_020_8, 1e-12);
    assert_close!(f.notional, 597.297_015_011_953_493_669_4, 1e-13);
    // The pool stops at the last tick with liquidity above it: price 1.0001^−5000, no bid left.
    assert_close!(p.mid().unwrap(), 1.0001_f64.powi(-5_000), 1e-12);
    assert_eq!(p.best_bid(), None);
    assert_eq!(p.marginal(Side::Sell, 0.0), None);
    assert_eq!(p.sell(1.0).filled, 0.0);
    // Buying: up through [0, 1000) at L = 5000 and [1000, 4000) at 2000, then nothing:
    // out = 5000(1 − 1/b1) + 2000(1/b1 − 1/b2) = 508.82671298251 with b = √P(1000), √P(4000).
    assert_close!(
        ladder(true).max_capacity(Side::Buy),
        508.826_712_982_508_094_658_6,
        1e-13
    );
}

#[test]
fn the_price_at_a_tick_is_1_0001_to_the_tick() {
    for t in [-60_000_i64, -1, 0, 1, 46_054, 200_000] {
        let p = ConcentratedPool::new(TickState {
            ticks: vec![t - 10, t + 10],
            liquidity_net: vec![1_000_000, -1_000_000],
            sqrt_price_x96: sqrt_ratio_at_tick(t) * Q96,
            tick: Some(t),
            liquidity: 1_000_000,
            fee: 0.0005,
            decimals0: 0,
            decimals1: 0,
            base_is_token0: true,
        })
        .unwrap();
        assert_close!(p.mid().unwrap(), 1.0001_f64.powf(t as f64), 1e-11);
        assert_eq!(p.tick(), t);
        assert_eq!(tick_at_sqrt_ratio(sqrt_ratio_at_tick(t)), t);
    }
}

#[test]
fn the_asset_as_token1_trades_the_other_way() {
    // The same pool with the asset as token1: its price is 1/P = 1; a sale of 100 token1 puts
    // 99.7 in: √P' = 1 + 99.7/5000 = 1.01994, token0 out = 5000(1 − 1/1.01994) = 97.75085…
    let mut p = ladder(false);
    assert_eq!(p.mid(), Some(1.0));
    let f = p.sell(100.0);
    let s = 1.0 + 99.7 / 5_000.0;
    assert_close!(f.notional, 5_000.0 * (1.0 - 1.0 / s), 1e-14);
    assert_close!(p.mid().unwrap(), 1.0 / (s * s), 1e-14);
    // Buying the asset (token1 out) moves √P down: 50 token1 out needs Δ√P = 50/5000.
    let mut q = ladder(false);
    let f = q.buy(50.0);
    let s = 1.0 - 50.0 / 5_000.0;
    assert_close!(f.notional, 5_000.0 * (1.0 / s - 1.0) / 0.997, 1e-13);
}

#[test]
fn decimals_convert_raw_units_to_whole_tokens() {
    // USDC/WETH as the real pool holds it: token0 USDC (6 decimals), token1 WETH (18); the asset
    // is WETH (token1). ETH at 2500 USDC: P_raw = 1e18/(2500·1e6) = 4e8 wei per USDC unit,
    // √P = 20000, and the price of WETH in USDC is 10^(18 − 6)/P_raw = 2500.
    let s = 20_000.0;
    let tick = tick_at_sqrt_ratio(s);
    let l: i128 = 10_i128.pow(18);
    let p = ConcentratedPool::new(TickState {
        ticks: vec![tick - 5_000, tick + 5_000],
        liquidity_net: vec![l, -l],
        sqrt_price_x96: s * Q96,
        tick: Some(tick),
        liquidity: l,
        fee: 0.0005,
        decimals0: 6,
        decimals1: 18,
        base_is_token0: false,
    })
    .unwrap();
    assert_close!(p.mid().unwrap(), 2_500.0, 1e-14);
    assert_close!(p.price(), 1.0 / 2_500.0, 1e-14);
    // Selling 1 WETH = 1e18 wei of token1 in: √P' = s + 0.9995e18/L = 20000.9995;
    // USDC out = L(1/s − 1/√P')/1e6 = 1e18·0.9995/(20000·20000.9995)/1e6 = 2498.6251312090678.
    assert_close!(
        p.quote(Side::Sell, 1.0).notional,
        2_498.625_131_209_067_826_835,
        1e-14
    );
}

#[test]
fn no_free_round_trip_and_monotone_output() {
    for base_is_token0 in [true, false] {
        let p = ladder(base_is_token0);
        let mut last = 0.0;
        for k in 1..=70 {
            let out = p.quote(Side::Sell, 10.0 * k as f64).notional;
            assert!(out >= last, "{k}");
            last = out;
        }
        for q in [1.0, 50.0, 300.0, 500.0] {
            let mut v = p.clone();
            let sold = v.sell(q);
            let back = v.buy(sold.filled);
            assert!(back.notional > sold.notional, "{q}");
            let mut w = p.clone();
            let bought = w.buy(q.min(400.0));
            let resold = w.sell(bought.filled);
            assert!(resold.notional < bought.notional, "{q}");
        }
    }
}

#[test]
fn depth_and_capacity_agree_with_quotes() {
    let p = ladder(true);
    for side in [Side::Sell, Side::Buy] {
        for within in [0.01, 0.05, 0.2] {
            let target = p.mid().unwrap() * (1.0 + side.sign() * within);
            let q = p.depth(side, within);
            assert_close!(q, p.capacity_to(side, target), 1e-15);
            // The fill of that size ends with its last price on the target (past any crossing).
            let f = p.quote(side, q);
            assert_close!(f.last_price.unwrap(), target, 1e-12);
            assert_close!(p.marginal(side, q).unwrap(), target, 1e-12);
        }
    }
    // Beyond all liquidity, capacity is the whole of it.
    assert_eq!(p.capacity_to(Side::Sell, 1e-9), p.max_capacity(Side::Sell));
    assert_eq!(p.capacity_to(Side::Sell, 10.0), 0.0);
}

#[test]
fn upkeep_arbitrages_the_pool_to_the_reference() {
    // The reference falls to 0.7 (inside [−5000, −3000)): arbitrageurs sell until the bid is 0.7;
    // then it rises to 1.2: they buy until the ask is 1.2.
    let mut p = ladder(true);
    let f = p.advance(12.0, Some(0.7)).unwrap();
    assert_eq!(f.side, Side::Sell);
    assert_close!(p.best_bid().unwrap(), 0.7, 1e-12);
    assert_close!(p.mid().unwrap(), 0.7 / 0.997, 1e-12);
    assert!(p.advance(12.0, Some(0.7)).is_none());
    let f = p.advance(12.0, Some(1.2)).unwrap();
    assert_eq!(f.side, Side::Buy);
    assert_close!(p.best_ask().unwrap(), 1.2, 1e-12);
    // Inside the band [g·P, P/g] nothing trades.
    assert!(p.advance(12.0, Some(1.2 * 0.9999)).is_none());
}

#[test]
fn a_routed_sale_across_a_book_and_the_pool_ends_at_one_marginal_price() {
    let book = linear_book(20.0, 1.0, 0.001, 400, BookDynamics::default());
    let mut venues = vec![AnyVenue::from(book), AnyVenue::from(ladder(true))];
    let r = router::execute(&mut venues, Side::Sell, 400.0);
    assert_eq!(r.total.filled, 400.0);
    assert!(r.parts[0].filled > 0.0 && r.parts[1].filled > 0.0);
    let book_last = r.parts[0].last_price.unwrap();
    let pool_bid = venues[1].best_bid().unwrap();
    // The pool's marginal bid sits within one book tick of the book's last level.
    assert!(
        (pool_bid - book_last).abs() <= 0.001 + 1e-12,
        "{pool_bid} {book_last}"
    );
}

#[test]
fn the_state_round_trips_through_bytes_and_its_tick_state() {
    let mut p = ladder(true);
    p.sell(650.0);
    let v = AnyVenue::from(p.clone());
    assert_eq!(AnyVenue::from_bytes(&v.to_bytes().unwrap()).unwrap(), v);
    // Rebuilt from the state it reports (slot0, liquidity, ticks), it stands where it stood.
    let again = ConcentratedPool::new(p.state()).unwrap();
    assert_close!(again.mid().unwrap(), p.mid().unwrap(), 1e-15);
    assert_eq!(again.liquidity(), p.liquidity());
    assert_close!(
        again.quote(Side::Sell, 30.0).notional,
        p.quote(Side::Sell, 30.0).notional,
        1e-14
    );
}

/// A pool from positions `(lower, upper, liquidity)` at tick `at`: each position adds its
/// liquidity at its lower tick and takes it off at its upper one, as the contract's `mint` does.
fn from_positions(
    positions: &[(i64, i64, i128)],
    at: i64,
    base_is_token0: bool,
) -> ConcentratedPool {
    let mut net = std::collections::BTreeMap::new();
    for &(lo, hi, l) in positions {
        *net.entry(lo).or_insert(0) += l;
        *net.entry(hi).or_insert(0) -= l;
    }
    let active: i128 = positions
        .iter()
        .filter(|&&(lo, hi, _)| lo <= at && at < hi)
        .map(|p| p.2)
        .sum();
    ConcentratedPool::new(TickState {
        ticks: net.keys().copied().collect(),
        liquidity_net: net.values().copied().collect(),
        sqrt_price_x96: sqrt_ratio_at_tick(at) * 1.000_01 * Q96,
        tick: Some(at),
        liquidity: active,
        fee: 0.003,
        decimals0: 0,
        decimals1: 0,
        base_is_token0,
    })
    .unwrap()
}

#[test]
fn ticks_at_the_bounds_and_empty_gaps_do_not_break_it() {
    // Full-range liquidity (ticks at ±887272) and a gap with none between two positions.
    let mut p = from_positions(
        &[
            (-887_272, 887_272, 10),
            (-2_000, -1_000, 5_000),
            (1_000, 2_000, 5_000),
        ],
        0,
        true,
    );
    assert_eq!(p.liquidity(), 10);
    // The sale walks through the thin full-range liquidity into the position below.
    let f = p.sell(1e3);
    assert!(f.filled > 0.0 && f.notional > 0.0);
    assert!(p.max_capacity(Side::Sell).is_finite());
    let all = p.max_capacity(Side::Sell);
    let f = p.sell(all * 2.0);
    assert!(f.filled > 0.0);
    assert_eq!(p.best_bid(), None);
    let _ = p.tick();
    assert!(ConcentratedPool::new(p.state()).is_ok());
    let f = p.buy(1e6);
    assert!(f.filled > 0.0);
    let _ = p.tick();
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_pools_and_orders_keep_the_venue_invariants(
        raw in prop::collection::vec((-200_i64..200, 1_i64..60, 1_i128..1_000_000), 1..5),
        at in -250_i64..250,
        base_is_token0 in any::<bool>(),
        orders in prop::collection::vec((any::<bool>(), 0.0_f64..3_000.0, 0.2_f64..5.0), 1..8),
    ) {
        let positions: Vec<(i64, i64, i128)> =
            raw.iter().map(|&(lo, w, l)| (lo * 100, (lo + w) * 100, l)).collect();
        let mut p = from_positions(&positions, at * 100, base_is_token0);
        for (sell, qty, reference) in orders {
            let side = if sell { Side::Sell } else { Side::Buy };
            let cap = p.max_capacity(side);
            let quoted = p.quote(side, qty);
            let f = p.execute(side, qty);
            prop_assert_eq!(quoted, f);
            prop_assert!(f.filled >= 0.0 && f.filled <= qty && f.notional >= 0.0);
            prop_assert!(f.filled <= cap * (1.0 + 1e-12) + 1e-12);
            if let (Some(b), Some(a)) = (p.best_bid(), p.best_ask()) {
                prop_assert!(b < a);
            }
            // Up to its capacity to a price an order's marginal price stays within it; past it,
            // it is beyond (at once where the next liquidity lies past an empty range).
            let mid = p.mid().unwrap();
            for side in [Side::Sell, Side::Buy] {
                let target = mid * (1.0 + side.sign() * 0.01);
                let q = p.capacity_to(side, target);
                if q > 0.0 && q < p.max_capacity(side) * (1.0 - 1e-9) {
                    let last = p.quote(side, q).last_price.unwrap();
                    prop_assert!(side.at_least_as_good(last, target * (1.0 + side.sign() * 1e-9)));
                    if let Some(m) = p.marginal(side, q * (1.0 + 1e-6)) {
                        prop_assert!(side.at_least_as_good(target, m));
                    }
                }
            }
            let _ = p.advance(12.0, Some(mid * reference));
            let _ = p.tick();
            let again = ConcentratedPool::new(p.state());
            prop_assert!(again.is_ok(), "{:?}", again);
        }
    }
}
