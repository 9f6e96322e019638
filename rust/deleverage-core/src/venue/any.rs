//! The closed enum over the concrete venues, so that the market state is one flat vector.

use super::{ConstantProductPool, ImpactCurve, OrderBook, StableSwapPool, Venue};
use crate::fill::{Fill, Side};

/// A venue of any kind, stored by value so that the market state is one flat vector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AnyVenue {
    Book(OrderBook),
    Pool(ConstantProductPool),
    Curve(ImpactCurve),
    StableSwap(StableSwapPool),
}

macro_rules! dispatch {
    ($self:ident, $v:ident => $e:expr) => {
        match $self {
            AnyVenue::Book($v) => $e,
            AnyVenue::Pool($v) => $e,
            AnyVenue::Curve($v) => $e,
            AnyVenue::StableSwap($v) => $e,
        }
    };
}

impl Venue for AnyVenue {
    fn quote(&self, side: Side, qty: f64) -> Fill {
        dispatch!(self, v => v.quote(side, qty))
    }
    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        dispatch!(self, v => v.execute(side, qty))
    }
    fn best_bid(&self) -> Option<f64> {
        dispatch!(self, v => v.best_bid())
    }
    fn best_ask(&self) -> Option<f64> {
        dispatch!(self, v => v.best_ask())
    }
    fn mid(&self) -> Option<f64> {
        dispatch!(self, v => v.mid())
    }
    fn depth(&self, side: Side, within: f64) -> f64 {
        dispatch!(self, v => v.depth(side, within))
    }
    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        dispatch!(self, v => v.marginal(side, traded))
    }
    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        dispatch!(self, v => v.capacity_to(side, price))
    }
    fn max_capacity(&self, side: Side) -> f64 {
        dispatch!(self, v => v.max_capacity(side))
    }
    fn level_at(&self, side: Side, traded: f64) -> Option<(f64, f64)> {
        dispatch!(self, v => v.level_at(side, traded))
    }
    fn is_discrete(&self) -> bool {
        dispatch!(self, v => v.is_discrete())
    }
    fn advance(&mut self, dt: f64, reference: Option<f64>) -> Option<Fill> {
        dispatch!(self, v => v.advance(dt, reference))
    }
}

impl AnyVenue {
    /// The venue's whole state as bytes (postcard): for pickling and shipping to workers.
    pub fn to_bytes(&self) -> crate::error::Result<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| crate::error::Error::State {
            why: format!("the venue could not be written: {e}"),
        })
    }

    /// A venue from [`AnyVenue::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> crate::error::Result<Self> {
        postcard::from_bytes(bytes).map_err(|e| crate::error::Error::State {
            why: format!("the bytes are not a saved venue of this version: {e}"),
        })
    }
}

impl From<OrderBook> for AnyVenue {
    fn from(v: OrderBook) -> Self {
        AnyVenue::Book(v)
    }
}
impl From<StableSwapPool> for AnyVenue {
    fn from(v: StableSwapPool) -> Self {
        AnyVenue::StableSwap(v)
    }
}

impl From<ConstantProductPool> for AnyVenue {
    fn from(v: ConstantProductPool) -> Self {
        AnyVenue::Pool(v)
    }
}
impl From<ImpactCurve> for AnyVenue {
    fn from(v: ImpactCurve) -> Self {
        AnyVenue::Curve(v)
    }
}
