//! The report of one market order against a venue (or a router of venues).

/// Direction of a market order, from the taker's side: `Sell` hits bids, `Buy` lifts asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Side {
    Sell,
    Buy,
}

impl Side {
    /// `+1` for a buy (price moves up), `-1` for a sell.
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            Side::Sell => -1.0,
            Side::Buy => 1.0,
        }
    }

    /// The side a market order of this direction consumes, in words (`"bid"` or `"ask"`).
    pub fn book_side(self) -> &'static str {
        match self {
            Side::Sell => "bid",
            Side::Buy => "ask",
        }
    }

    /// Whether price `a` is at least as good as `b` for the taker: a higher bid for a seller,
    /// a lower ask for a buyer.
    #[inline]
    pub fn at_least_as_good(self, a: f64, b: f64) -> bool {
        match self {
            Side::Sell => a >= b,
            Side::Buy => a <= b,
        }
    }
}

/// What a market order got. A venue that runs dry fills partially and reports the rest as
/// unfilled; it never invents a price, so with nothing filled there is no VWAP, first or last price.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fill {
    pub side: Side,
    /// Quantity asked for, in asset units.
    pub requested: f64,
    /// Quantity executed, `0 <= filled <= requested`.
    pub filled: f64,
    /// Quote paid (buy) or received (sell).
    pub notional: f64,
    /// Price of the first unit executed (for a pool: the best quote before the swap).
    pub first_price: Option<f64>,
    /// Price of the last unit executed (for a pool: the best quote after the swap).
    pub last_price: Option<f64>,
    /// Price levels that gave quantity (1 for a pool swap or an impact-curve trade).
    pub levels: u32,
}

impl Fill {
    /// A fill of nothing.
    pub fn empty(side: Side, requested: f64) -> Self {
        Fill {
            side,
            requested,
            filled: 0.0,
            notional: 0.0,
            first_price: None,
            last_price: None,
            levels: 0,
        }
    }

    /// Quantity that found no counterpart.
    #[inline]
    pub fn unfilled(&self) -> f64 {
        (self.requested - self.filled).max(0.0)
    }

    /// Volume-weighted average price; `None` when nothing filled.
    #[inline]
    pub fn vwap(&self) -> Option<f64> {
        (self.filled > 0.0).then(|| self.notional / self.filled)
    }

    /// Whether the whole request filled.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.filled >= self.requested
    }

    /// Adds another fill of the same side (a router's per-venue parts) to this one. First and last
    /// prices become the best first and the worst last price.
    pub fn absorb(&mut self, other: &Fill) {
        debug_assert_eq!(self.side, other.side);
        self.filled += other.filled;
        self.notional += other.notional;
        self.levels += other.levels;
        let better = |a: f64, b: f64| {
            if self.side.at_least_as_good(a, b) {
                a
            } else {
                b
            }
        };
        let worse = |a: f64, b: f64| {
            if self.side.at_least_as_good(a, b) {
                b
            } else {
                a
            }
        };
        self.first_price = match (self.first_price, other.first_price) {
            (Some(a), Some(b)) => Some(better(a, b)),
            (a, b) => a.or(b),
        };
        self.last_price = match (self.last_price, other.last_price) {
            (Some(a), Some(b)) => Some(worse(a, b)),
            (a, b) => a.or(b),
        };
    }
}
