//! Unit tests of the concentrated-liquidity pool's internals (`concentrated.rs`).
use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

/// MECHANICS §2.10's worked example: L = 1000, √P = 10, f = 0.003, whole-token units.
fn worked() -> ConcentratedPool {
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

#[test]
fn the_worked_example_of_mechanics() {
    let mut p = worked();
    assert_eq!(p.mid(), Some(100.0));
    let fill = p.sell(1.0);
    assert!(close(fill.notional, 98.715_803_439_7, 1e-11));
    assert!(close(p.sqrt_price_x96() / Q96, 9.901_284_196_6, 1e-11));
    assert_eq!(fill.filled, 1.0);
    assert_eq!(p.tick(), tick_at_sqrt_ratio(p.sqrt_price));
}

#[test]
fn ticks_price_at_powers_of_1_0001() {
    for t in [-887_272, -500_000, -1, 0, 1, 50_000, 887_272] {
        let want = 1.0001_f64.powf(t as f64 / 2.0);
        // powf's own error grows with |t|·ε; the split exponent keeps ours within ulps.
        assert!(close(sqrt_ratio_at_tick(t), want, 1e-11), "{t}");
    }
    assert_eq!(sqrt_ratio_at_tick(0), 1.0);
    for t in [-887_272, -3, 0, 7, 46_054, 887_271] {
        assert_eq!(tick_at_sqrt_ratio(sqrt_ratio_at_tick(t)), t);
    }
}

#[test]
fn capacity_is_the_inverse_of_marginal_and_arbitrage_reaches_the_reference() {
    let p = worked();
    for side in [Side::Sell, Side::Buy] {
        let target = p.mid().unwrap() * (1.0 + side.sign() * 0.05);
        let q = p.capacity_to(side, target);
        assert!(q > 0.0);
        assert!(close(p.marginal(side, q).unwrap(), target, 1e-12));
    }
    let mut v = p.clone();
    let fill = v.arbitrage_to(90.0).unwrap();
    assert_eq!(fill.side, Side::Sell);
    assert!(close(v.best_bid().unwrap(), 90.0, 1e-12));
    assert!(v.arbitrage_to(90.0).is_none());
}

#[test]
fn bad_state_is_refused_by_name() {
    let base = worked().state();
    let err = |f: &dyn Fn(&mut TickState)| {
        let mut s = base.clone();
        f(&mut s);
        ConcentratedPool::new(s).unwrap_err().to_string()
    };
    assert!(err(&|s| s.ticks = vec![50_000, 40_000]).contains("ticks"));
    assert!(err(&|s| s.ticks = vec![40_000, 900_000]).contains("ticks[1]"));
    assert!(err(&|s| s.liquidity_net = vec![1_000, -2_000]).contains("liquidity_net[1]"));
    assert!(err(&|s| s.liquidity_net = vec![2_000, -1_000]).contains("liquidity_net[0]"));
    assert!(err(&|s| s.fee = 0.002).contains("fee"));
    assert!(err(&|s| s.fee = 1.5).contains("fee"));
    assert!(err(&|s| s.sqrt_price_x96 = 0.0).contains("sqrt_price_x96"));
    assert!(err(&|s| s.tick = Some(46_060)).contains("tick"));
    assert!(err(&|s| s.liquidity = -1).contains("liquidity"));
    assert!(err(&|s| s.decimals1 = 40).contains("decimals1"));
    assert!(err(&|s| s.liquidity_net = vec![1]).contains("liquidity_net"));
}
