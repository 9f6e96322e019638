//! Venues (DESIGN §4.2): what every venue of an asset offers (the [`Venue`] trait, here), the
//! concrete venues (order book, constant-product pool, StableSwap pool, Uniswap v3 concentrated-liquidity
//! pool, impact curve), the closed enum the market
//! state stores them in ([`AnyVenue`]), and the router that splits a forced order across them.

mod any;
pub mod book;
pub mod concentrated;
pub mod curve;
pub mod pool;
pub mod router;
pub mod stableswap;

pub use any::AnyVenue;
pub use book::{BookDynamics, OrderBook, Profile};
pub use concentrated::{ConcentratedPool, TickState};
pub use curve::{Execution, ImpactCurve, Shape};
pub use pool::ConstantProductPool;
pub use router::{ArbTrade, RouteFill};
pub use stableswap::StableSwapPool;

use crate::fill::{Fill, Side};

/// A place where forced orders trade. Quantities are in asset units, prices in quote per unit.
///
/// Routing needs two views beyond plain fills: the *marginal* price of the next unit after a
/// hypothetical order of `traded` units, and the *capacity* down (or up) to a price: how much one
/// order can trade before its marginal price passes that price. Both are computed from the current
/// state without mutating it.
pub trait Venue {
    /// What `execute(side, qty)` would give, without changing anything.
    fn quote(&self, side: Side, qty: f64) -> Fill;

    /// Trades up to `qty` and consumes the depth. `qty` must be finite and `>= 0`; callers
    /// validate (the bindings do, at the boundary).
    fn execute(&mut self, side: Side, qty: f64) -> Fill;

    /// Sells `qty` units into the bids.
    fn sell(&mut self, qty: f64) -> Fill {
        self.execute(Side::Sell, qty)
    }

    /// Buys `qty` units from the asks.
    fn buy(&mut self, qty: f64) -> Fill {
        self.execute(Side::Buy, qty)
    }

    /// Best price a seller gets for the first unit; `None` when the bid side is empty.
    fn best_bid(&self) -> Option<f64>;

    /// Best price a buyer pays for the first unit; `None` when the ask side is empty.
    fn best_ask(&self) -> Option<f64>;

    /// The venue's mid price; `None` when it has none (a book with an empty side).
    fn mid(&self) -> Option<f64>;

    /// Quantity that can be traded on `side` before the marginal price moves more than the
    /// fraction `within` away from the mid: `capacity_to(side, mid·(1 ∓ within))`.
    fn depth(&self, side: Side, within: f64) -> f64;

    /// Marginal price of the next unit after one order of `traded` units; `None` past the
    /// venue's capacity.
    fn marginal(&self, side: Side, traded: f64) -> Option<f64>;

    /// Quantity one order can trade before its marginal price passes `price` (falls below it
    /// for a sale, rises above it for a purchase). For a book, levels priced exactly at `price`
    /// count in full.
    fn capacity_to(&self, side: Side, price: f64) -> f64;

    /// [`Self::capacity_to`] at each of `prices` (a book searches each from the last one's
    /// levels: a sorted list costs a few probes per price).
    fn capacities_to(&self, side: Side, prices: &[f64]) -> Vec<f64> {
        prices.iter().map(|&p| self.capacity_to(side, p)).collect()
    }

    /// Most that one order can trade on `side` (`f64::INFINITY` when unbounded).
    fn max_capacity(&self, side: Side) -> f64;

    /// For a discrete venue (a book): price and remaining quantity of the level that the next
    /// unit after `traded` units would hit. `None` for continuous venues and past the last level.
    fn level_at(&self, side: Side, traded: f64) -> Option<(f64, f64)>;

    /// Whether liquidity comes in discrete price levels.
    fn is_discrete(&self) -> bool;

    /// Upkeep between steps: `dt` seconds pass and the exogenous reference price (if given)
    /// becomes `reference`. Returns the arbitrage trade the upkeep made, if any.
    fn advance(&mut self, dt: f64, reference: Option<f64>) -> Option<Fill>;
}
