//! The shared market state: every asset's venues, reference price, permanent-impact factor and
//! spot. All protocol families trade against this one state.

use crate::fill::{Fill, Side};
use crate::venue::router;
use crate::venue::{AnyVenue, Venue};

/// Clearings of cross-venue arbitrage per call; one normally suffices (see `router::arbitrage`).
const ARB_ROUNDS: usize = 8;

/// Venues and prices of all assets.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Market {
    venues: Vec<Vec<AnyVenue>>,
    /// Initial reference price X₀ per asset.
    initial: Vec<f64>,
    /// Exogenous reference X_t per asset.
    reference: Vec<f64>,
    /// Accumulated permanent impact Π per asset: venue anchors are `X_t·Π_t`.
    permanent: Vec<f64>,
    /// Last routed mid per asset (held when a side is empty).
    spot: Vec<f64>,
    /// Whether the spot is held because a side was empty.
    spot_held: Vec<bool>,
    /// What the venues of each asset took and gave in the forced orders of [`Market::trade`].
    flows: Vec<VenueFlows>,
}

/// Units and quote the venues of one asset exchanged with forced orders ([`Market::trade`]) over
/// the run, from the venues' side; upkeep arbitrage is not included. For the identities of
/// MECHANICS §8: what sellers received is what the venues paid.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct VenueFlows {
    /// Units the venues bought from sellers, and the quote they paid for them.
    pub bought: f64,
    pub paid: f64,
    /// Units the venues sold to buyers, and the quote they received for them.
    pub sold: f64,
    pub received: f64,
}

impl Market {
    pub fn new(initial: Vec<f64>, venues: Vec<Vec<AnyVenue>>) -> Self {
        let n = initial.len();
        let mut m = Market {
            venues,
            reference: initial.clone(),
            permanent: vec![1.0; n],
            spot: initial.clone(),
            spot_held: vec![false; n],
            flows: vec![VenueFlows::default(); n],
            initial,
        };
        for a in 0..n {
            m.refresh_spot(a);
        }
        m
    }

    pub fn n_assets(&self) -> usize {
        self.initial.len()
    }

    pub fn initial(&self, a: usize) -> f64 {
        self.initial[a]
    }

    pub fn reference(&self, a: usize) -> f64 {
        self.reference[a]
    }

    pub fn spot(&self, a: usize) -> f64 {
        self.spot[a]
    }

    pub fn spot_held(&self, a: usize) -> bool {
        self.spot_held[a]
    }

    /// Units and quote the venues of asset `a` exchanged with forced orders so far.
    pub fn flows(&self, a: usize) -> VenueFlows {
        self.flows[a]
    }

    pub fn venues(&self, a: usize) -> &[AnyVenue] {
        &self.venues[a]
    }

    pub fn has_venues(&self, a: usize) -> bool {
        !self.venues[a].is_empty()
    }

    /// Spot: (max bid + min ask)/2 over the venues, each quoting its marginal prices (a pool
    /// `g·y/x` and `y/(g·x)`, its fee included). MECHANICS §3 has pools and curves quote their
    /// mid on both sides; after upkeep a pool rests at the edge of its fee band, so its mid sits
    /// a fee above or below the reference, and as a bid or ask it crossed the book and pulled
    /// the spot off the reference (a drawdown below the exogenous one with nothing sold). With
    /// no bid or no ask the last value is held. Without venues, the reference price.
    pub fn refresh_spot(&mut self, a: usize) -> f64 {
        if self.venues[a].is_empty() {
            self.spot[a] = self.reference[a];
            self.spot_held[a] = false;
            return self.spot[a];
        }
        let mut bid = f64::NEG_INFINITY;
        let mut ask = f64::INFINITY;
        for v in &self.venues[a] {
            let (b, k) = (v.best_bid(), v.best_ask());
            if let Some(b) = b {
                bid = bid.max(b);
            }
            if let Some(k) = k {
                ask = ask.min(k);
            }
        }
        if bid.is_finite() && ask.is_finite() {
            self.spot[a] = 0.5 * (bid + ask);
            self.spot_held[a] = false;
        } else {
            self.spot_held[a] = true;
        }
        self.spot[a]
    }

    /// Best bid and ask over the asset's venues.
    pub fn best_quotes(&self, a: usize) -> (Option<f64>, Option<f64>) {
        let bid = self.venues[a]
            .iter()
            .filter_map(|v| v.best_bid())
            .reduce(f64::max);
        let ask = self.venues[a]
            .iter()
            .filter_map(|v| v.best_ask())
            .reduce(f64::min);
        (bid, ask)
    }

    /// What all venues absorb on the bid side within `within` of their mids.
    pub fn bid_depth(&self, a: usize, within: f64) -> f64 {
        self.venues[a]
            .iter()
            .map(|v| v.depth(Side::Sell, within))
            .sum()
    }

    /// The exogenous move and upkeep of one step: the reference becomes `x`, venues re-anchor to
    /// `x·Π` and refill over `dt`, pools are arbitraged to it, then venues are aligned.
    pub fn advance(&mut self, a: usize, dt: f64, x: f64) {
        self.reference[a] = x;
        let anchor = x * self.permanent[a];
        for v in &mut self.venues[a] {
            // A book keeps its own Π (kept equal to the asset's by `trade`) and a curve carries
            // its impact in its price: both take the exogenous X. A pool (constant-product or
            // StableSwap) is arbitraged to the anchor X·Π.
            let target = if matches!(v, AnyVenue::Pool(_) | AnyVenue::StableSwap(_)) {
                anchor
            } else {
                x
            };
            v.advance(dt, Some(target));
        }
        if self.venues[a].len() > 1 {
            self.synced(a, |vs| router::arbitrage(vs, ARB_ROUNDS));
        }
        self.refresh_spot(a);
    }

    /// What `trade(a, side, qty)` would give, without changing anything.
    pub fn quote(&self, a: usize, side: Side, qty: f64) -> Fill {
        match &self.venues[a][..] {
            [] => Fill::empty(side, qty),
            [v] => v.quote(side, qty),
            vs => router::quote(vs, side, qty).total,
        }
    }

    /// Sells (or buys) `qty` of asset `a` across its venues at best execution, then carries the
    /// permanent impact of any book to the other venues and aligns them. Without venues nothing
    /// fills.
    pub fn trade(&mut self, a: usize, side: Side, qty: f64) -> Fill {
        if self.venues[a].is_empty() || qty <= 0.0 {
            return Fill::empty(side, qty);
        }
        let fill = if let [v] = &self.venues[a][..]
            && v.is_halted()
        {
            // Nothing fills, and the asset's Π stays where it is.
            Fill::empty(side, qty)
        } else if self.venues[a].len() == 1 {
            let f = self.venues[a][0].execute(side, qty);
            self.permanent[a] = permanent_of(&self.venues[a][0]);
            f
        } else {
            let f = self.synced(a, |vs| router::execute(vs, side, qty).total);
            self.synced(a, |vs| router::arbitrage(vs, ARB_ROUNDS));
            f
        };
        self.record_flow(a, side, &fill);
        self.refresh_spot(a);
        fill
    }

    /// Most that one order on `side` can trade across the asset's venues (or on venue `venue`
    /// alone) before its marginal price passes `limit`.
    pub fn capacity_to(&self, a: usize, venue: Option<usize>, side: Side, limit: f64) -> f64 {
        match venue {
            Some(k) => self.venues[a][k].capacity_to(side, limit),
            None => self.venues[a]
                .iter()
                .map(|v| v.capacity_to(side, limit))
                .sum(),
        }
    }

    /// Like [`Market::trade`] on venue `k` of asset `a` alone; the other venues then follow it
    /// through cross-venue arbitrage.
    pub fn trade_on(&mut self, a: usize, k: usize, side: Side, qty: f64) -> Fill {
        if qty <= 0.0 {
            return Fill::empty(side, qty);
        }
        let fill = self.synced(a, |vs| vs[k].execute(side, qty));
        if self.venues[a].len() > 1 {
            self.synced(a, |vs| router::arbitrage(vs, ARB_ROUNDS));
        }
        self.record_flow(a, side, &fill);
        self.refresh_spot(a);
        fill
    }

    /// Halts venue `k` of asset `a` (it accepts no orders and is not kept up) or resumes it.
    /// A book that resumes takes the permanent impact the asset's other venues made meanwhile,
    /// so that Π stays one factor per asset (MECHANICS §2.6).
    pub fn set_halted(&mut self, a: usize, k: usize, halted: bool) {
        if self.venues[a][k].is_halted() == halted {
            return;
        }
        let v = self.venues[a].remove(k);
        let v = match v {
            AnyVenue::Halted(inner) => {
                let mut v = *inner;
                if let AnyVenue::Book(b) = &mut v {
                    b.apply_permanent(self.permanent[a] / b.permanent_factor());
                }
                v
            }
            v => AnyVenue::Halted(Box::new(v)),
        };
        self.venues[a].insert(k, v);
        self.refresh_spot(a);
    }

    /// How many of asset `a`'s venues are halted.
    pub fn halted_count(&self, a: usize) -> u32 {
        self.venues[a].iter().filter(|v| v.is_halted()).count() as u32
    }

    fn record_flow(&mut self, a: usize, side: Side, fill: &Fill) {
        let flow = &mut self.flows[a];
        match side {
            Side::Sell => {
                flow.bought += fill.filled;
                flow.paid += fill.notional;
            }
            Side::Buy => {
                flow.sold += fill.filled;
                flow.received += fill.notional;
            }
        }
    }

    /// Mutable access to venue `k` of asset `a`, for a replay's refresh (see
    /// [`crate::venue::OrderBook::refresh`]); the spot follows.
    /// A halted venue's state is reached through its halt (a replay still records the book).
    pub fn with_venue<R>(&mut self, a: usize, k: usize, f: impl FnOnce(&mut AnyVenue) -> R) -> R {
        let out = f(self.venues[a][k].inner_mut());
        self.refresh_spot(a);
        out
    }

    /// Runs `f` on the venues of asset `a`, then makes Π one factor again (MECHANICS §2.6: P is
    /// per asset): the asset's Π moves by the product of every book's own change, and each book
    /// takes the part the others made.
    fn synced<R>(&mut self, a: usize, f: impl FnOnce(&mut [AnyVenue]) -> R) -> R {
        let venues = &mut self.venues[a];
        let before: Vec<f64> = venues.iter().map(permanent_of).collect();
        let out = f(venues);
        let ratios: Vec<f64> = venues
            .iter()
            .zip(&before)
            .map(|(v, b)| permanent_of(v) / b)
            .collect();
        let total: f64 = ratios.iter().product();
        if total != 1.0 {
            for (v, r) in venues.iter_mut().zip(&ratios) {
                if let AnyVenue::Book(book) = v {
                    book.apply_permanent(total / r);
                }
            }
            self.permanent[a] *= total;
        }
        out
    }
}

fn permanent_of(v: &AnyVenue) -> f64 {
    match v {
        AnyVenue::Book(b) => b.permanent_factor(),
        _ => 1.0,
    }
}
