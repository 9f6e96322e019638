//! The closed enum over the concrete venues, so that the market state is one flat vector.

use super::{ConcentratedPool, ConstantProductPool, ImpactCurve, OrderBook, StableSwapPool, Venue};
use crate::fill::{Fill, Side};

/// A venue of any kind, stored by value so that the market state is one flat vector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AnyVenue {
    Book(OrderBook),
    Pool(ConstantProductPool),
    Curve(ImpactCurve),
    StableSwap(StableSwapPool),
    Concentrated(ConcentratedPool),
    /// A venue that accepts no orders (a venue-halt outage, [`crate::scenario::OutageKind`]): it
    /// quotes nothing, fills nothing and is not kept up while halted; the market takes it out of
    /// the box again when the halt ends.
    Halted(Box<AnyVenue>),
}

/// Calls `$e` on the concrete venue; a halted venue answers `$halted` instead.
macro_rules! dispatch {
    ($self:ident, $v:ident => $e:expr, halted => $halted:expr) => {
        match $self {
            AnyVenue::Book($v) => $e,
            AnyVenue::Pool($v) => $e,
            AnyVenue::Curve($v) => $e,
            AnyVenue::StableSwap($v) => $e,
            AnyVenue::Concentrated($v) => $e,
            AnyVenue::Halted(_) => $halted,
        }
    };
}

impl Venue for AnyVenue {
    #[inline]
    fn quote(&self, side: Side, qty: f64) -> Fill {
        dispatch!(self, v => v.quote(side, qty), halted => Fill::empty(side, qty))
    }
    #[inline]
    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        dispatch!(self, v => v.execute(side, qty), halted => Fill::empty(side, qty))
    }
    #[inline]
    fn best_bid(&self) -> Option<f64> {
        dispatch!(self, v => v.best_bid(), halted => None)
    }
    #[inline]
    fn best_ask(&self) -> Option<f64> {
        dispatch!(self, v => v.best_ask(), halted => None)
    }
    #[inline]
    fn mid(&self) -> Option<f64> {
        dispatch!(self, v => v.mid(), halted => None)
    }
    fn depth(&self, side: Side, within: f64) -> f64 {
        dispatch!(self, v => v.depth(side, within), halted => 0.0)
    }
    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        dispatch!(self, v => v.marginal(side, traded), halted => None)
    }
    #[inline]
    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        dispatch!(self, v => v.capacity_to(side, price), halted => 0.0)
    }
    fn capacities_to(&self, side: Side, prices: &[f64]) -> Vec<f64> {
        dispatch!(self, v => v.capacities_to(side, prices), halted => vec![0.0; prices.len()])
    }
    fn max_capacity(&self, side: Side) -> f64 {
        dispatch!(self, v => v.max_capacity(side), halted => 0.0)
    }
    fn level_at(&self, side: Side, traded: f64) -> Option<(f64, f64)> {
        dispatch!(self, v => v.level_at(side, traded), halted => None)
    }
    fn is_discrete(&self) -> bool {
        dispatch!(self, v => v.is_discrete(), halted => self.inner().is_discrete())
    }
    fn advance(&mut self, dt: f64, reference: Option<f64>) -> Option<Fill> {
        // No upkeep while halted.
        dispatch!(self, v => v.advance(dt, reference), halted => None)
    }
}

impl AnyVenue {
    /// Whether the venue is halted (accepts no orders).
    #[inline]
    pub fn is_halted(&self) -> bool {
        matches!(self, AnyVenue::Halted(_))
    }

    /// The venue itself, out of a halt's box if it is in one.
    pub fn inner(&self) -> &AnyVenue {
        match self {
            AnyVenue::Halted(v) => v.inner(),
            v => v,
        }
    }

    /// The venue itself, mutably, out of a halt's box if it is in one.
    pub fn inner_mut(&mut self) -> &mut AnyVenue {
        match self {
            AnyVenue::Halted(v) => v.inner_mut(),
            v => v,
        }
    }

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

impl From<ConcentratedPool> for AnyVenue {
    fn from(v: ConcentratedPool) -> Self {
        AnyVenue::Concentrated(v)
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
