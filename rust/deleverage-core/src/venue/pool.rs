//! Uniswap v2 constant-product pool with its fee, and the arbitrage upkeep that pulls it back to
//! the reference price (MECHANICS §2.2–2.3).

use super::Venue;
use crate::error::{self, Error, Result};
use crate::fill::{Fill, Side};

/// The largest reserve a pool takes (and the inverse, the smallest): its square and its product
/// with the other reserve stay finite and above underflow.
const MAX_RESERVE: f64 = 1e150;

/// Reserves `x` (base) and `y` (quote) with fee `f`. The whole input, fee included, stays in the
/// pool, so `k = x·y` grows with every swap when `f > 0`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConstantProductPool {
    base: f64,
    quote: f64,
    fee: f64,
}

impl ConstantProductPool {
    /// A pool with `base_reserve` units of the asset and `quote_reserve` of quote; `fee ∈ [0, 1)`.
    pub fn new(base_reserve: f64, quote_reserve: f64, fee: f64) -> Result<Self> {
        error::positive("base_reserve", base_reserve)?;
        error::positive("quote_reserve", quote_reserve)?;
        error::in_range("fee", fee, 0.0, 1.0, true, "in [0, 1)")?;
        // The invariant k = x·y and the arbitrage's x², y² must stay numbers: reserves beyond
        // 1e150 would price trades at 0 or infinity.
        for (field, v) in [
            ("base_reserve", base_reserve),
            ("quote_reserve", quote_reserve),
        ] {
            // Below 1e-150 the products underflow to 0 and prices become 0/0.
            if !(1.0 / MAX_RESERVE..=MAX_RESERVE).contains(&v) {
                return Err(Error::OutOfRange {
                    field: field.to_owned(),
                    value: v,
                    expected: "between 1e-150 and 1e150",
                });
            }
        }
        Ok(ConstantProductPool {
            base: base_reserve,
            quote: quote_reserve,
            fee,
        })
    }

    pub fn base_reserve(&self) -> f64 {
        self.base
    }

    pub fn quote_reserve(&self) -> f64 {
        self.quote
    }

    pub fn fee(&self) -> f64 {
        self.fee
    }

    /// `g = 1 − f`, the share of an input that counts for the invariant.
    #[inline]
    fn g(&self) -> f64 {
        1.0 - self.fee
    }

    /// `getAmountOut`: output of a swap of `amount_in` against reserves `(r_in, r_out)`.
    #[inline]
    fn amount_out(&self, amount_in: f64, r_in: f64, r_out: f64) -> f64 {
        let gi = amount_in * self.g();
        // r_out·(gi/(r_in + gi)), not gi·r_out/(…): the product overflows first for huge inputs.
        r_out * (gi / (r_in + gi))
    }

    /// `getAmountIn`: input needed to take `amount_out < r_out` out of the pool.
    #[inline]
    fn amount_in(&self, amount_out: f64, r_in: f64, r_out: f64) -> f64 {
        r_in * amount_out / ((r_out - amount_out) * self.g())
    }

    /// Reserves after a trade and its fill, without applying them.
    fn trade(&self, side: Side, qty: f64) -> (Fill, f64, f64) {
        let mut fill = Fill::empty(side, qty);
        if qty <= 0.0 {
            return (fill, self.base, self.quote);
        }
        let (x, y) = match side {
            Side::Sell => {
                let out = self.amount_out(qty, self.base, self.quote);
                fill.notional = out;
                // y' = x·y/(x + g·Δx), the same as y − Δy without its cancellation when a swap
                // takes most of the reserve.
                let y = self.base * self.quote / (self.base + self.g() * qty);
                (self.base + qty, y)
            }
            Side::Buy => {
                // Choice (MECHANICS §2.2): a purchase of the whole base reserve or more fills nothing.
                if qty >= self.base {
                    return (fill, self.base, self.quote);
                }
                let paid = self.amount_in(qty, self.quote, self.base);
                fill.notional = paid;
                (self.base - qty, self.quote + paid)
            }
        };
        fill.filled = qty;
        fill.levels = 1;
        let after = ConstantProductPool {
            base: x,
            quote: y,
            fee: self.fee,
        };
        let (before_px, after_px) = match side {
            Side::Sell => (self.best_bid(), after.best_bid()),
            Side::Buy => (self.best_ask(), after.best_ask()),
        };
        fill.first_price = before_px;
        fill.last_price = after_px;
        (fill, x, y)
    }

    /// The arbitrageur's swap that puts the mid on the nearest edge of the fee band
    /// `[g·P, P/g]` around the reference `P`, if the mid is outside it.
    pub fn arbitrage_to(&mut self, reference: f64) -> Option<Fill> {
        let (x, y, g, f) = (self.base, self.quote, self.g(), self.fee);
        let mid = y / x;
        if mid * g > reference {
            // Sell Δx: g·Δx² + (1+g)·x·Δx + x² − g·x·y/P = 0, positive root in its stable form.
            let c = g * x * y / reference - x * x;
            let disc = f * f * x * x + 4.0 * g * g * x * y / reference;
            let dx = 2.0 * c / ((1.0 + g) * x + disc.sqrt());
            (dx > 0.0).then(|| self.execute(Side::Sell, dx))
        } else if mid < g * reference {
            // Pay Δy: the mirror quadratic in the quote reserve.
            let c = g * reference * x * y - y * y;
            let disc = f * f * y * y + 4.0 * g * g * reference * x * y;
            let dy = 2.0 * c / ((1.0 + g) * y + disc.sqrt());
            if dy <= 0.0 {
                return None;
            }
            let out = self.amount_out(dy, y, x);
            let mut fill = Fill::empty(Side::Buy, out);
            fill.first_price = self.best_ask();
            self.quote = y + dy;
            self.base = x * y / (y + g * dy);
            fill.filled = out;
            fill.notional = dy;
            fill.levels = 1;
            fill.last_price = self.best_ask();
            Some(fill)
        } else {
            None
        }
    }
}

impl Venue for ConstantProductPool {
    fn quote(&self, side: Side, qty: f64) -> Fill {
        self.trade(side, qty).0
    }

    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        let (fill, x, y) = self.trade(side, qty);
        self.base = x;
        self.quote = y;
        fill
    }

    fn best_bid(&self) -> Option<f64> {
        Some(self.g() * self.quote / self.base)
    }

    fn best_ask(&self) -> Option<f64> {
        Some(self.quote / (self.g() * self.base))
    }

    fn mid(&self) -> Option<f64> {
        Some(self.quote / self.base)
    }

    fn depth(&self, side: Side, within: f64) -> f64 {
        let mid = self.quote / self.base;
        self.capacity_to(side, mid * (1.0 + side.sign() * within))
    }

    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        let (x, y, g) = (self.base, self.quote, self.g());
        match side {
            Side::Sell => {
                let d = x + g * traded;
                Some(g * x * y / (d * d))
            }
            Side::Buy => (traded < x).then(|| {
                let d = x - traded;
                x * y / (g * d * d)
            }),
        }
    }

    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        let (x, y, g) = (self.base, self.quote, self.g());
        match side {
            Side::Sell if price <= 0.0 => f64::INFINITY,
            Side::Sell => (((g * x * y / price).sqrt() - x) / g).max(0.0),
            Side::Buy if price <= 0.0 => 0.0,
            Side::Buy => (x - (x * y / (g * price)).sqrt()).max(0.0),
        }
    }

    fn max_capacity(&self, side: Side) -> f64 {
        match side {
            Side::Sell => f64::INFINITY,
            Side::Buy => self.base,
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
