//! Continuous price-impact curves of the academic fire-sale models (MECHANICS §2.7).
//!
//! A curve holds a price `S` (and a floor `B`). A trade's argument is its value at the pre-trade
//! price, `q = Q·S`. Sales move `S` down, purchases reverse the move. An exogenous return scales
//! `S` and `B` alike. Impact is permanent: there is no refill.

use super::Venue;
use crate::error::{self, Error, Result};
use crate::fill::{Fill, Side};

/// Largest `q/δ` a purchase on an exponential curve may reach (the price then rises by a factor
/// of e^40 ≈ 2e17): beyond that any notional is meaningless and `exp` soon overflows.
const MAX_EXP_ARG: f64 = 40.0;

/// The impact law.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Shape {
    /// `S' = S·max(0, 1 − ℓ·q)`: return `ℓ` per unit of quote sold (GLT).
    Linear { slope: f64 },
    /// `S' = B + (S − B)·exp(−q/δ)` (Cont–Schaanning), `δ = (1 − B/S₀)·D`.
    Exponential { floor: f64, delta: f64 },
    /// `S' = S·max(0, 1 − Y·σ·sqrt(q/V))`, `V` in quote value. `y_sigma` is `Y·σ`.
    Sqrt { y_sigma: f64, volume: f64 },
}

/// How a trade's average price follows from the curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Execution {
    /// VWAP = (1/q)∫₀^q S(s) ds.
    Integral,
    /// VWAP = (1 − α)·S + α·S' (Cont–Schaanning's rule; α ∈ [0, 1]).
    Weighted { alpha: f64 },
}

/// An asset's price under a continuous impact law.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImpactCurve {
    price: f64,
    shape: Shape,
    execution: Execution,
    /// Last exogenous reference, so that a new reference rescales `S` and `B`.
    reference: f64,
}

impl ImpactCurve {
    fn build(price: f64, shape: Shape, execution: Execution) -> Result<Self> {
        error::positive("price", price)?;
        if let Execution::Weighted { alpha } = execution {
            error::in_range("alpha", alpha, 0.0, 1.0, false, "in [0, 1]")?;
        }
        Ok(ImpactCurve {
            price,
            shape,
            execution,
            reference: price,
        })
    }

    /// Linear impact: a sale of quote value `q` lowers the price by the fraction `slope·q`.
    pub fn linear(price: f64, slope: f64, execution: Execution) -> Result<Self> {
        error::positive("slope", slope)?;
        Self::build(price, Shape::Linear { slope }, execution)
    }

    /// Exponential impact with a floor: `Ψ = (1 − B/S)(1 − e^{−q/δ})` with `δ = (1 − B/S)·depth`,
    /// so that `Ψ ≈ q/depth` for small sales. `depth` is Cont–Schaanning's `D = c·ADV/σ·sqrt(τ)`.
    pub fn exponential(price: f64, floor: f64, depth: f64, execution: Execution) -> Result<Self> {
        error::positive("price", price)?;
        error::non_negative("floor", floor)?;
        error::positive("depth", depth)?;
        if floor >= price {
            return Err(Error::OutOfRange {
                field: "floor".to_owned(),
                value: floor,
                expected: "below price",
            });
        }
        let delta = (1.0 - floor / price) * depth;
        Self::build(price, Shape::Exponential { floor, delta }, execution)
    }

    /// Square-root impact: `ΔS/S = y·σ·sqrt(q/V)` with `V` the volume in quote value.
    pub fn sqrt(price: f64, sigma: f64, volume: f64, y: f64, execution: Execution) -> Result<Self> {
        error::positive("sigma", sigma)?;
        error::positive("volume", volume)?;
        error::positive("y", y)?;
        Self::build(
            price,
            Shape::Sqrt {
                y_sigma: y * sigma,
                volume,
            },
            execution,
        )
    }

    /// Current price S.
    pub fn price(&self) -> f64 {
        self.price
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    pub fn execution(&self) -> Execution {
        self.execution
    }

    /// Largest quote value `q` one trade on `side` can have.
    fn max_value(&self, side: Side) -> f64 {
        match (self.shape, side) {
            (Shape::Linear { slope }, Side::Sell) => 1.0 / slope,
            (Shape::Sqrt { y_sigma, volume }, Side::Sell) => volume / (y_sigma * y_sigma),
            (Shape::Exponential { delta, .. }, Side::Buy) => MAX_EXP_ARG * delta,
            _ => f64::INFINITY,
        }
    }

    /// Price after a trade of quote value `q` (within capacity).
    fn price_after(&self, side: Side, q: f64) -> f64 {
        let s = self.price;
        let sign = side.sign();
        match self.shape {
            Shape::Linear { slope } => s * (1.0 + sign * slope * q).max(0.0),
            Shape::Exponential { floor, delta } => floor + (s - floor) * (sign * q / delta).exp(),
            Shape::Sqrt { y_sigma, volume } => {
                s * (1.0 + sign * y_sigma * (q / volume).sqrt()).max(0.0)
            }
        }
    }

    /// Exact average price `(1/q)∫₀^q S(s) ds` of a trade of quote value `q > 0`.
    fn integral_vwap(&self, side: Side, q: f64) -> f64 {
        let s = self.price;
        let sign = side.sign();
        match self.shape {
            Shape::Linear { slope } => s * (1.0 + sign * 0.5 * slope * q),
            Shape::Exponential { floor, delta } => {
                // (δ/q)·(e^{±q/δ} − 1)·(±1), written with expm1 for small q; its limit 1 at
                // q/δ = 0 (a value so small it underflows), where the formula is 0/0.
                let x = q / delta;
                let factor = if x == 0.0 {
                    1.0
                } else {
                    sign * (sign * x).exp_m1() / x
                };
                floor + (s - floor) * factor
            }
            Shape::Sqrt { y_sigma, volume } => {
                s * (1.0 + sign * (2.0 / 3.0) * y_sigma * (q / volume).sqrt())
            }
        }
    }

    fn trade(&self, side: Side, qty: f64) -> (Fill, f64) {
        let mut fill = Fill::empty(side, qty);
        // A curve driven to zero (linear or square-root impact at capacity) has no market left.
        if qty <= 0.0 || self.price <= 0.0 {
            return (fill, self.price);
        }
        let s = self.price;
        let filled = qty.min(self.max_value(side) / s);
        let q = filled * s;
        let after = self.price_after(side, q);
        let vwap = match self.execution {
            Execution::Integral => self.integral_vwap(side, q),
            Execution::Weighted { alpha } => (1.0 - alpha) * s + alpha * after,
        };
        fill.filled = filled;
        fill.notional = filled * vwap;
        fill.first_price = Some(s);
        fill.last_price = Some(after);
        fill.levels = 1;
        (fill, after)
    }
}

impl Venue for ImpactCurve {
    fn quote(&self, side: Side, qty: f64) -> Fill {
        self.trade(side, qty).0
    }

    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        let (fill, after) = self.trade(side, qty);
        self.price = after;
        fill
    }

    fn best_bid(&self) -> Option<f64> {
        (self.price > 0.0).then_some(self.price)
    }

    fn best_ask(&self) -> Option<f64> {
        (self.price > 0.0).then_some(self.price)
    }

    fn mid(&self) -> Option<f64> {
        (self.price > 0.0).then_some(self.price)
    }

    fn depth(&self, side: Side, within: f64) -> f64 {
        self.capacity_to(side, self.price * (1.0 + side.sign() * within))
    }

    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        let q = traded * self.price;
        (self.price > 0.0 && q <= self.max_value(side)).then(|| self.price_after(side, q))
    }

    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        let s = self.price;
        if s <= 0.0 {
            return 0.0;
        }
        // Quote value traded until the marginal price reaches `price`, by inverting the law.
        let q = match (self.shape, side) {
            (_, Side::Sell) if price >= s => 0.0,
            (_, Side::Buy) if price <= s => 0.0,
            (Shape::Linear { slope }, _) => (price / s - 1.0).abs() / slope,
            (Shape::Exponential { floor, delta }, Side::Sell) => {
                if price <= floor {
                    f64::INFINITY
                } else {
                    delta * ((s - floor) / (price - floor)).ln()
                }
            }
            (Shape::Exponential { floor, delta }, Side::Buy) => {
                delta * ((price - floor) / (s - floor)).ln()
            }
            (Shape::Sqrt { y_sigma, volume }, _) => {
                let r = (price / s - 1.0).abs() / y_sigma;
                volume * r * r
            }
        };
        q.min(self.max_value(side)) / s
    }

    fn max_capacity(&self, side: Side) -> f64 {
        if self.price > 0.0 {
            self.max_value(side) / self.price
        } else {
            0.0
        }
    }

    fn level_at(&self, _side: Side, _traded: f64) -> Option<(f64, f64)> {
        None
    }

    fn is_discrete(&self) -> bool {
        false
    }

    fn advance(&mut self, _dt: f64, reference: Option<f64>) -> Option<Fill> {
        if let Some(x) = reference {
            let r = x / self.reference;
            self.price *= r;
            if let Shape::Exponential { floor, .. } = &mut self.shape {
                *floor *= r;
            }
            self.reference = x;
        }
        None
    }
}
