//! Pegged assets (issue 18): a constant-product pool's depeg under a sale beyond the redemption
//! channel's capacity and its recovery at the channel's pace, worked by hand; values in quote;
//! and the checks of a peg (a cycle, a negative capacity).

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{asset, scenario_of};
use deleverage_core::{
    AnyVenue, Channel, ConstantProductPool, Engine, Error, OracleKind, Peg, QueueConfig, Scenario,
    Side,
};

const ETH: f64 = 2_000.0;

/// ETH at 2,000 without venues; stETH pegged to it on a fee-free 1,000/1,000 pool.
fn lst(redeem: Option<Channel>) -> Scenario {
    let pool = ConstantProductPool::new(1_000.0, 1_000.0, 0.0).unwrap();
    let mut steth = asset("stETH", 1.0, vec![AnyVenue::Pool(pool)], OracleKind::Spot);
    steth.peg = Some(Peg {
        underlying: Some(0),
        redeem,
        mint: None,
    });
    scenario_of(
        vec![asset("ETH", ETH, vec![], OracleKind::Reference), steth],
        vec![],
        QueueConfig::default(),
    )
}

#[test]
fn the_channel_pulls_a_depeg_back_at_its_capacity() {
    let redeem = Channel {
        capacity: 20.0,
        delay: 2,
        fee: 0.0,
    };
    let mut e = Engine::new(lst(Some(redeem)), 0).unwrap();
    e.step(&[ETH, 1.0]).unwrap();
    // 100 stETH into x = y = 1,000: y = 10⁶/1,100 ETH for x = 1,100, worth 2,000 each.
    let f = e.submit(1, Side::Sell, 100.0, None, None).unwrap();
    assert_close!(f.notional, 100.0 * 1_000.0 / 1_100.0 * ETH);
    assert_close!(e.market().spot(1), (1_000.0f64 / 1_100.0).powi(2) * ETH);
    for s in 1..=6u32 {
        e.step(&[ETH, 1.0]).unwrap();
        // 20 redeemed a step while below the peg: x = 1,100 − 20·s, price (1,000/x)².
        let x = (1_100.0 - 20.0 * f64::from(s)).max(1_000.0);
        assert_close!(e.market().peg_ratio(1).unwrap(), (1_000.0 / x).powi(2));
        assert_close!(e.market().spot(1), (1_000.0 / x).powi(2) * ETH);
        let st = e.market().peg_state(1).unwrap();
        assert_close!(st.redeemed, if s <= 5 { 20.0 } else { 0.0 }, floor = 1e-9);
    }
    // Steps 1–5 redeemed 20 each, paid two steps later (steps 3–7): after step 6 only step 5's
    // redemption, due at step 7, is owed.
    assert_close!(e.market().peg_state(1).unwrap().queued(), 20.0);
    // The arbitrage is no forced flow.
    assert_eq!(e.market().flows(1).sold, 0.0);
}

#[test]
fn a_peg_cycle_and_a_negative_capacity_are_named() {
    let mut sc = lst(None);
    sc.assets[0].peg = Some(Peg {
        underlying: Some(1),
        redeem: None,
        mint: None,
    });
    let err = Engine::new(sc, 0).unwrap_err();
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(err.to_string().contains("ETH → stETH → ETH"), "{err}");
    let sc = lst(Some(Channel {
        capacity: -1.0,
        delay: 0,
        fee: 0.0,
    }));
    let err = Engine::new(sc, 0).unwrap_err();
    assert_eq!(err.field(), Some("stETH.peg.redeem.capacity"), "{err}");
}

#[test]
fn a_halted_book_resumes_with_the_permanent_impact_the_other_book_made() {
    use common::linear_book;
    use deleverage_core::BookDynamics;
    use deleverage_core::market::Market;
    let dynamics = BookDynamics {
        resilience_half_life: None,
        permanent_impact: 0.5,
    };
    let books = vec![
        AnyVenue::Book(linear_book(10.0, 100.0, 0.5, 100, dynamics)),
        AnyVenue::Book(linear_book(10.0, 100.0, 0.5, 100, dynamics)),
    ];
    let mut m = Market::new(vec![100.0], vec![books]);
    m.set_halted(0, 1, true);
    assert_eq!(m.halted_count(0), 1);
    // The sale walks book 0 alone (book 1 quotes nothing): 40 units down four levels.
    let f = m.trade(0, Side::Sell, 40.0);
    assert_close!(f.filled, 40.0);
    let factor = |v: &AnyVenue| match v.inner() {
        AnyVenue::Book(b) => b.permanent_factor(),
        _ => unreachable!("both venues are books"),
    };
    let moved = factor(&m.venues(0)[0]);
    assert!(
        moved < 1.0,
        "a sale with θ = 0.5 moves the anchor down: {moved}"
    );
    // Halted, book 1 kept its own anchor; resumed, it takes the asset's Π.
    assert_eq!(factor(&m.venues(0)[1]), 1.0);
    m.set_halted(0, 1, false);
    assert_close!(factor(&m.venues(0)[1]), moved);
}

#[test]
fn an_unknown_underlying_further_down_a_chain_is_named_not_a_panic() {
    // stETH (checked first) is pegged to ETH, whose own peg names an asset that does not exist.
    let mut sc = lst(None);
    sc.assets[0].peg = Some(Peg {
        underlying: Some(99),
        redeem: None,
        mint: None,
    });
    let err = Engine::new(sc, 0).unwrap_err();
    assert_eq!(err.field(), Some("ETH.peg.underlying"), "{err}");
}
