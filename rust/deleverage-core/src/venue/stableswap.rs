//! Curve's StableSwap pool (MECHANICS §2.9): n coins, amplification A, a fee on the output and an
//! admin share of it, with the contract's own formulas (`get_D` and `get_y` by Newton iteration,
//! `get_dy`, `_exchange`) in floating point, and the arbitrage upkeep that pulls it back to the
//! reference like the constant-product pool's.
//!
//! The asset trades as coin 0 against the quote as coin 1; further coins, if any, rest in the
//! pool and shape its curve. Balances are whole-token units (after any rate multipliers).
//!
//! Floating point, where the contract uses integers: `get_dy` does not take the contract's
//! `− 1` wei, and the Newton loops stop when successive iterates agree to 4 ulps (the contract:
//! within 1 wei, at most 255 rounds). `tests/test_stableswap.py` states the distance from the
//! contract's integer results, computed there with Python's integers.

use super::Venue;
use crate::error::{self, Error, Result};
use crate::fill::{Fill, Side};

/// Curve's bounds: `MAX_A = 10^6`, at most 8 coins, `MAX_FEE = 0.5` of the output.
const MAX_A: f64 = 1e6;
const MAX_COINS: usize = 8;
const MAX_FEE: f64 = 0.5;
/// Balances the pool takes: Π x and D^{n+1} stay finite (the constant-product pool's range).
const MAX_BALANCE: f64 = 1e150;
/// The asset's and the quote's coins.
const BASE: usize = 0;
const QUOTE: usize = 1;

/// The invariant D of balances `xp` at amplification `amp` (the contract's A, `Ann = A·n`), by
/// the contract's Newton iteration from `D = Σx`.
pub fn get_d(xp: &[f64], amp: f64) -> f64 {
    let n = xp.len() as f64;
    let s: f64 = xp.iter().sum();
    if s <= 0.0 {
        return 0.0;
    }
    let ann = amp * n;
    let mut d = s;
    for _ in 0..255 {
        let mut d_p = d;
        for &x in xp {
            d_p = d_p * d / (x * n);
        }
        let prev = d;
        d = (ann * s + d_p * n) * d / ((ann - 1.0) * d + (n + 1.0) * d_p);
        if converged(d, prev) {
            break;
        }
    }
    d
}

/// The balance of coin `j` that keeps the invariant `d` when coin `i` holds `x` (the others as
/// in `xp`): the contract's `get_y`, Newton from `y = D`.
pub fn get_y(xp: &[f64], amp: f64, i: usize, j: usize, x: f64, d: f64) -> f64 {
    let n = xp.len() as f64;
    let ann = amp * n;
    let mut c = d;
    let mut s = 0.0;
    for (k, &xk) in xp.iter().enumerate() {
        let xk = if k == i {
            x
        } else if k == j {
            continue;
        } else {
            xk
        };
        s += xk;
        c = c * d / (xk * n);
    }
    c = c * d / (ann * n);
    let b = s + d / ann;
    let mut y = d;
    for _ in 0..255 {
        let prev = y;
        y = (y * y + c) / (2.0 * y + b - d);
        if converged(y, prev) {
            break;
        }
    }
    y
}

#[inline]
fn converged(a: f64, b: f64) -> bool {
    (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

/// A Curve StableSwap pool; the asset is coin 0 and the quote coin 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StableSwapPool {
    balances: Vec<f64>,
    amp: f64,
    fee: f64,
    admin_fee: f64,
    /// Admin fees that left the pool, per coin.
    admin_collected: Vec<f64>,
}

impl StableSwapPool {
    /// A pool of `balances` (coin 0 the asset, coin 1 the quote, 2 to 8 coins), amplification
    /// `amp` as the contract's `A()` returns it (the whitepaper's `A·n^(n−1)`), `fee` the
    /// fraction of each output taken (the contract's `fee / 1e10`), `admin_fee` the share of the
    /// fee that leaves the pool.
    pub fn new(balances: Vec<f64>, amp: f64, fee: f64, admin_fee: f64) -> Result<Self> {
        if !(2..=MAX_COINS).contains(&balances.len()) {
            return Err(Error::OutOfRange {
                field: "balances".to_owned(),
                value: balances.len() as f64,
                expected: "2 to 8 coins (the asset, the quote, and any others)",
            });
        }
        for (k, &b) in balances.iter().enumerate() {
            let field = format!("balances[{k}]");
            error::positive(&field, b)?;
            if !(1.0 / MAX_BALANCE..=MAX_BALANCE).contains(&b) {
                return Err(Error::OutOfRange {
                    field,
                    value: b,
                    expected: "between 1e-150 and 1e150",
                });
            }
        }
        error::positive("amplification", amp)?;
        if amp > MAX_A {
            return Err(Error::OutOfRange {
                field: "amplification".to_owned(),
                value: amp,
                expected: "at most 1e6 (Curve's MAX_A)",
            });
        }
        error::in_range(
            "fee",
            fee,
            0.0,
            MAX_FEE,
            false,
            "in [0, 0.5] (Curve's MAX_FEE)",
        )?;
        error::in_range("admin_fee", admin_fee, 0.0, 1.0, false, "in [0, 1]")?;
        let n = balances.len();
        Ok(StableSwapPool {
            balances,
            amp,
            fee,
            admin_fee,
            admin_collected: vec![0.0; n],
        })
    }

    pub fn balances(&self) -> &[f64] {
        &self.balances
    }

    pub fn amplification(&self) -> f64 {
        self.amp
    }

    pub fn fee(&self) -> f64 {
        self.fee
    }

    pub fn admin_fee(&self) -> f64 {
        self.admin_fee
    }

    /// Admin fees that left the pool so far, per coin.
    pub fn admin_collected(&self) -> &[f64] {
        &self.admin_collected
    }

    /// The invariant D of the current balances.
    pub fn invariant(&self) -> f64 {
        get_d(&self.balances, self.amp)
    }

    /// `get_dy(i, j, dx)` before the fee and the fee-free output: what selling `dx` of coin `i`
    /// for coin `j` gives, `(dy, out)` with `out = dy·(1 − fee)`.
    pub fn get_dy(&self, i: usize, j: usize, dx: f64) -> (f64, f64) {
        let d = self.invariant();
        let y = get_y(&self.balances, self.amp, i, j, self.balances[i] + dx, d);
        let dy = self.balances[j] - y;
        (dy, dy * (1.0 - self.fee))
    }

    /// The marginal price of coin `i` in coin `j` before the fee, `−dx_j/dx_i` along the
    /// invariant: `(Ann + D_P/x_i)/(Ann + D_P/x_j)` with `D_P = D^{n+1}/(n^n·Π x)`.
    pub fn marginal_price(&self, i: usize, j: usize) -> f64 {
        price(&self.balances, self.amp, i, j)
    }

    /// Balances after a trade of the asset against the quote and its fill, without applying
    /// them, and the admin fee (in the output coin) that leaves the pool.
    fn trade(&self, side: Side, qty: f64) -> (Fill, Vec<f64>, f64) {
        let mut fill = Fill::empty(side, qty);
        if qty <= 0.0 || !qty.is_finite() {
            return (fill, self.balances.clone(), 0.0);
        }
        let Some((xp, notional, admin)) = self.after(side, qty, get_d(&self.balances, self.amp))
        else {
            return (fill, self.balances.clone(), 0.0);
        };
        fill.notional = notional;
        fill.filled = qty;
        fill.levels = 1;
        let (before, after) = match side {
            Side::Sell => (self.bid_of(&self.balances), self.bid_of(&xp)),
            Side::Buy => (self.ask_of(&self.balances), self.ask_of(&xp)),
        };
        fill.first_price = Some(before);
        fill.last_price = Some(after);
        (fill, xp, admin)
    }

    /// The balances after trading `qty > 0` (finite) of the asset on a pool of invariant `d`
    /// (that of the current balances), the quote paid or received and the admin fee; `None`
    /// for a purchase that would take the whole balance (it fills nothing).
    fn after(&self, side: Side, qty: f64, d: f64) -> Option<(Vec<f64>, f64, f64)> {
        let mut xp = self.balances.clone();
        Some(match side {
            Side::Sell => {
                // `_exchange(0, 1, dx)`: dy = x_1 − get_y(0, 1, x_0 + dx); the fee stays in the
                // pool but its admin share.
                let y = get_y(&xp, self.amp, BASE, QUOTE, xp[BASE] + qty, d);
                let dy = (xp[QUOTE] - y).max(0.0);
                let fee = dy * self.fee;
                let admin = fee * self.admin_fee;
                xp[BASE] += qty;
                xp[QUOTE] -= dy - fee + admin;
                (xp, dy - fee, admin)
            }
            Side::Buy => {
                // `qty` of the asset out: dy = qty/(1 − fee) leaves the curve, paid by dx of the
                // quote with get_y(0, 1, x_0 − dy). Choice (as the constant-product pool's): a
                // purchase that would take the whole balance fills nothing.
                let dy = qty / (1.0 - self.fee);
                if dy >= xp[BASE] {
                    return None;
                }
                let x_quote = get_y(&xp, self.amp, BASE, QUOTE, xp[BASE] - dy, d);
                let fee = dy * self.fee;
                let admin = fee * self.admin_fee;
                let notional = x_quote - xp[QUOTE];
                xp[QUOTE] = x_quote;
                xp[BASE] -= dy - fee + admin;
                (xp, notional, admin)
            }
        })
    }

    /// [`Venue::marginal`] on a pool of invariant `d` (that of the current balances), which a
    /// search over sizes computes once: the bid (ask) after trading `traded`.
    fn marginal_with(&self, side: Side, traded: f64, d: f64) -> Option<f64> {
        if traded > self.max_capacity(side) {
            return None;
        }
        let quoted = |xp: &[f64]| match side {
            Side::Sell => self.bid_of(xp),
            Side::Buy => self.ask_of(xp),
        };
        if traded <= 0.0 || !traded.is_finite() {
            return Some(quoted(&self.balances));
        }
        Some(match self.after(side, traded, d) {
            Some((xp, _, _)) => quoted(&xp),
            None => quoted(&self.balances),
        })
    }

    fn bid_of(&self, xp: &[f64]) -> f64 {
        (1.0 - self.fee) * price(xp, self.amp, BASE, QUOTE)
    }

    fn ask_of(&self, xp: &[f64]) -> f64 {
        price(xp, self.amp, BASE, QUOTE) / (1.0 - self.fee)
    }

    /// The arbitrageur's trade that puts the mid on the nearest edge of the fee band
    /// `[(1 − f)·P, P/(1 − f)]` around the reference `P`, if the mid is outside it.
    pub fn arbitrage_to(&mut self, reference: f64) -> Option<Fill> {
        if !(reference.is_finite() && reference > 0.0) {
            return None;
        }
        let side = if self.bid_of(&self.balances) > reference {
            Side::Sell
        } else if self.ask_of(&self.balances) < reference {
            Side::Buy
        } else {
            return None;
        };
        let q = self.capacity_to(side, reference);
        (q > 0.0).then(|| self.execute(side, q))
    }
}

/// `(Ann + D_P/x_i)/(Ann + D_P/x_j)`, the marginal price of coin `i` in coin `j`.
fn price(xp: &[f64], amp: f64, i: usize, j: usize) -> f64 {
    let n = xp.len() as f64;
    let d = get_d(xp, amp);
    let ann = amp * n;
    let mut d_p = d;
    for &x in xp {
        d_p = d_p * d / (x * n);
    }
    (ann + d_p / xp[i]) / (ann + d_p / xp[j])
}

impl Venue for StableSwapPool {
    fn quote(&self, side: Side, qty: f64) -> Fill {
        self.trade(side, qty).0
    }

    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        let (fill, xp, admin) = self.trade(side, qty);
        let out = match side {
            Side::Sell => QUOTE,
            Side::Buy => BASE,
        };
        self.admin_collected[out] += admin;
        self.balances = xp;
        fill
    }

    fn best_bid(&self) -> Option<f64> {
        Some(self.bid_of(&self.balances))
    }

    fn best_ask(&self) -> Option<f64> {
        Some(self.ask_of(&self.balances))
    }

    fn mid(&self) -> Option<f64> {
        Some(price(&self.balances, self.amp, BASE, QUOTE))
    }

    fn depth(&self, side: Side, within: f64) -> f64 {
        let mid = price(&self.balances, self.amp, BASE, QUOTE);
        self.capacity_to(side, mid * (1.0 + side.sign() * within))
    }

    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        self.marginal_with(side, traded, get_d(&self.balances, self.amp))
    }

    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        // The marginal price is monotone in the size traded: bisect for where it meets `price`.
        let d = get_d(&self.balances, self.amp);
        let reached = |t: f64| match self.marginal_with(side, t, d) {
            Some(p) => match side {
                Side::Sell => p < price,
                Side::Buy => p > price,
            },
            None => true,
        };
        match side {
            Side::Sell if price <= 0.0 => return f64::INFINITY,
            Side::Buy if price <= 0.0 => return 0.0,
            _ => {}
        }
        if reached(0.0) {
            return 0.0;
        }
        let mut hi = match side {
            Side::Sell => {
                let mut hi = self.balances[BASE].max(f64::MIN_POSITIVE);
                while !reached(hi) && hi < MAX_BALANCE {
                    hi *= 2.0;
                }
                hi
            }
            Side::Buy => self.max_capacity(Side::Buy),
        };
        let mut lo = 0.0;
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if reached(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        lo
    }

    fn max_capacity(&self, side: Side) -> f64 {
        match side {
            Side::Sell => f64::INFINITY,
            // What leaves the curve, qty/(1 − fee), stays below the balance.
            Side::Buy => self.balances[BASE] * (1.0 - self.fee),
        }
    }

    fn level_at(&self, _side: Side, _traded: f64) -> Option<(f64, f64)> {
        None
    }

    fn is_discrete(&self) -> bool {
        false
    }

    fn advance(&mut self, _dt: f64, reference: Option<f64>) -> Option<Fill> {
        reference.and_then(|p| self.arbitrage_to(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn the_worked_examples_of_mechanics() {
        // MECHANICS §2.9: A = 50, f = 0.0003, no admin fee.
        let p = StableSwapPool::new(vec![120.0, 80.0], 50.0, 0.0003, 0.0).unwrap();
        assert!(close(p.invariant(), 199.918_399_634_2, 1e-12));
        let (dy, out) = p.get_dy(0, 1, 7.0);
        assert!(close(80.0 - dy, 73.071_725_859_5, 1e-12));
        assert!(close(dy, 6.928_274_140_5, 1e-10));
        assert!(close(out, 6.926_195_658_3, 1e-10));
        let q = StableSwapPool::new(vec![150.0, 50.0], 50.0, 0.0003, 0.0).unwrap();
        assert!(close(q.invariant(), 199.352_669_530_5, 1e-12));
        assert!(close(q.get_dy(0, 1, 7.0).1, 6.723_591_142_0, 1e-10));
        // The sale through the venue gives the same output.
        let mut v = p.clone();
        let fill = v.sell(7.0);
        assert!(close(fill.notional, 6.926_195_658_3, 1e-10));
        assert_eq!(v.balances()[0], 127.0);
    }

    #[test]
    fn the_invariant_solves_the_stableswap_equation() {
        // A·n^n·Σx + D = A·D·n^n + D^{n+1}/(n^n·Πx), with the contract's A = A_wp·n^{n−1}.
        for (xp, amp) in [
            (vec![120.0, 80.0], 50.0),
            (vec![1.0, 3.0, 7.0], 200.0),
            (vec![5e6, 4e6], 2_000.0),
        ] {
            let n = xp.len() as f64;
            let d = get_d(&xp, amp);
            let a_wp = amp / n.powf(n - 1.0);
            let nn = n.powf(n);
            let lhs = a_wp * nn * xp.iter().sum::<f64>() + d;
            let rhs = a_wp * d * nn + d.powf(n + 1.0) / (nn * xp.iter().product::<f64>());
            assert!(close(lhs, rhs, 1e-12), "{xp:?}");
        }
    }

    #[test]
    fn the_limits_in_a_are_constant_sum_and_constant_product() {
        // A → ∞: x + y constant (a balanced sale of dx gives dx before the fee); A → 0: x·y
        // constant (dy = y·dx/(x + dx)).
        let sum = StableSwapPool::new(vec![100.0, 100.0], 1e6, 0.0, 0.0).unwrap();
        assert!(close(sum.get_dy(0, 1, 10.0).0, 10.0, 1e-5));
        assert!(close(sum.marginal_price(0, 1), 1.0, 1e-12));
        let prod = StableSwapPool::new(vec![100.0, 400.0], 1e-9, 0.0, 0.0).unwrap();
        assert!(close(prod.get_dy(0, 1, 10.0).0, 400.0 * 10.0 / 110.0, 1e-6));
        assert!(close(prod.marginal_price(0, 1), 4.0, 1e-6));
    }

    #[test]
    fn the_marginal_price_is_the_limit_of_the_output() {
        let p = StableSwapPool::new(vec![150.0, 50.0, 90.0], 80.0, 0.0, 0.0).unwrap();
        let h = 1e-6;
        let (dy, _) = p.get_dy(0, 1, h);
        assert!(close(dy / h, p.marginal_price(0, 1), 1e-5));
        assert!(close(
            p.marginal_price(0, 1) * p.marginal_price(1, 0),
            1.0,
            1e-12
        ));
    }

    #[test]
    fn swaps_are_monotone_fee_paying_swaps_raise_d_and_a_round_trip_loses() {
        let p = StableSwapPool::new(vec![1_000.0, 900.0], 100.0, 0.0004, 0.5).unwrap();
        let mut last = 0.0;
        for k in 1..50 {
            let out = p.quote(Side::Sell, 10.0 * k as f64).notional;
            assert!(out > last);
            last = out;
        }
        let mut v = p.clone();
        let d0 = v.invariant();
        let sold = v.sell(50.0);
        assert!(v.invariant() > d0, "a fee-paying sale raises D");
        let d1 = v.invariant();
        // Buying the 50 back costs more quote than the sale brought.
        let bought = v.buy(50.0);
        assert!(bought.notional > sold.notional);
        assert!(v.invariant() > d1);
        // The admin shares left the pool: half the fee, in each output coin.
        assert!(v.admin_collected()[1] > 0.0 && v.admin_collected()[0] > 0.0);
    }

    #[test]
    fn capacity_to_is_the_inverse_of_marginal_and_arbitrage_reaches_the_band() {
        let p = StableSwapPool::new(vec![1_000.0, 1_000.0], 100.0, 0.001, 0.0).unwrap();
        for side in [Side::Sell, Side::Buy] {
            let target = p.mid().unwrap() * (1.0 + side.sign() * 0.01);
            let q = p.capacity_to(side, target);
            assert!(q > 0.0);
            assert!(close(p.marginal(side, q).unwrap(), target, 1e-9));
        }
        // The reference falls 2 %: arbitrageurs sell the asset until the bid meets it.
        let mut v = p.clone();
        let fill = v.arbitrage_to(0.98).unwrap();
        assert_eq!(fill.side, Side::Sell);
        assert!(close(v.best_bid().unwrap(), 0.98, 1e-9));
        assert!(v.arbitrage_to(0.98).is_none());
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let err = |r: Result<StableSwapPool>| r.unwrap_err().to_string();
        assert!(err(StableSwapPool::new(vec![1.0], 10.0, 0.0, 0.0)).contains("balances"));
        assert!(err(StableSwapPool::new(vec![1.0, -1.0], 10.0, 0.0, 0.0)).contains("balances[1]"));
        assert!(err(StableSwapPool::new(vec![1.0, 1.0], 0.0, 0.0, 0.0)).contains("amplification"));
        assert!(err(StableSwapPool::new(vec![1.0, 1.0], -5.0, 0.0, 0.0)).contains("amplification"));
        assert!(err(StableSwapPool::new(vec![1.0, 1.0], 2e6, 0.0, 0.0)).contains("amplification"));
        assert!(err(StableSwapPool::new(vec![1.0, 1.0], 10.0, 0.6, 0.0)).contains("fee"));
        assert!(err(StableSwapPool::new(vec![1.0, 1.0], 10.0, 0.0, 1.5)).contains("admin_fee"));
    }
}
