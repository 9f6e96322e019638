//! The shared market state: every asset's venues, reference price, permanent-impact factor and
//! spot, and the pegs' channels. All protocol families trade against this one state.
//!
//! A pegged asset ([`Peg`]) keeps its reference, its venues and its spot in units of its
//! underlying; everything this state hands to the families (spot, quotes, fills, capacities,
//! flows) is in quote, the local price times the underlying's spot.

use std::collections::VecDeque;

use crate::fill::{Fill, Side};
use crate::scenario::{Channel, Peg};
use crate::venue::router;
use crate::venue::{AnyVenue, Venue};

/// Clearings of cross-venue arbitrage per call; one normally suffices (see `router::arbitrage`).
const ARB_ROUNDS: usize = 8;

/// How far (relatively) a pegged asset's marginal price must be past a channel's price for the
/// channel to trade: a pool at rest sits within rounding of it.
const PEG_TOLERANCE: f64 = 1e-9;

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
    /// Per asset: the asset it is pegged to (its prices here are in that asset's units).
    #[serde(default)]
    unit: Vec<Option<usize>>,
    /// Per asset: the assets pegged to it directly.
    #[serde(default)]
    dependents: Vec<Vec<usize>>,
    /// Per asset: its peg's channels and their state.
    #[serde(default)]
    pegs: Vec<Option<PegState>>,
    /// Whether any asset is pegged to another; then `spot_in_quote` holds every spot in quote.
    #[serde(default)]
    pegged: bool,
    #[serde(default)]
    spot_in_quote: Vec<f64>,
    /// Each venue's part of the last order routed across more than one venue (venue units).
    #[serde(skip)]
    parts: Vec<Fill>,
}

/// A pegged asset's channels and what went through them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PegState {
    pub redeem: Option<Channel>,
    pub mint: Option<Channel>,
    /// Redemptions waiting to be paid: (step due, units of the underlying).
    queue: VecDeque<(u32, f64)>,
    /// Units of the asset redeemed and minted in the current step.
    pub redeemed: f64,
    pub minted: f64,
    /// Units of the underlying paid out of the queue in the current step.
    pub paid: f64,
    /// Whether the redemption channel is paused in the current step.
    pub paused: bool,
}

impl PegState {
    /// Units of the underlying requested and not yet paid.
    pub fn queued(&self) -> f64 {
        self.queue.iter().map(|q| q.1).sum()
    }
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
            unit: vec![None; n],
            dependents: vec![Vec::new(); n],
            pegs: vec![None; n],
            pegged: false,
            spot_in_quote: Vec::new(),
            parts: Vec::new(),
            initial,
        };
        for a in 0..n {
            m.refresh_spot(a);
        }
        m
    }

    /// The market with the assets' pegs (one per asset, `None` for an unpegged one; the
    /// scenario has checked them: no cycle).
    pub fn with_pegs(mut self, pegs: &[Option<Peg>]) -> Self {
        for (a, p) in pegs.iter().enumerate() {
            let Some(p) = p else { continue };
            if let Some(u) = p.underlying {
                self.unit[a] = Some(u as usize);
                self.dependents[u as usize].push(a);
                self.pegged = true;
            }
            self.pegs[a] = Some(PegState {
                redeem: p.redeem,
                mint: p.mint,
                queue: VecDeque::new(),
                redeemed: 0.0,
                minted: 0.0,
                paid: 0.0,
                paused: false,
            });
        }
        if self.pegged {
            self.spot_in_quote = self.spot.clone();
            // Underlyings first: each pass settles one more link of every chain.
            for _ in 0..self.n_assets() {
                for a in 0..self.n_assets() {
                    self.carry_spot(a);
                }
            }
        }
        self
    }

    /// Sets asset `a`'s spot in quote from its local spot, and its dependents' after it.
    fn carry_spot(&mut self, a: usize) {
        let k = match self.unit[a] {
            Some(u) => self.spot_in_quote[u],
            None => 1.0,
        };
        self.spot_in_quote[a] = self.spot[a] * k;
        for j in 0..self.dependents[a].len() {
            let d = self.dependents[a][j];
            self.carry_spot(d);
        }
    }

    pub fn n_assets(&self) -> usize {
        self.initial.len()
    }

    /// The quote value of one unit of the asset a pegged asset's prices are counted in (1 for
    /// an unpegged asset or one pegged to the quote): its spot.
    #[inline]
    fn unit_value(&self, a: usize) -> f64 {
        match self.unit[a] {
            Some(u) => self.spot(u),
            None => 1.0,
        }
    }

    /// Initial reference price in quote.
    pub fn initial(&self, a: usize) -> f64 {
        match self.unit.get(a).copied().flatten() {
            Some(u) => self.initial[a] * self.initial(u),
            None => self.initial[a],
        }
    }

    /// Exogenous reference price in quote (a pegged asset's peg times its underlying's
    /// reference).
    pub fn reference(&self, a: usize) -> f64 {
        match self.unit.get(a).copied().flatten() {
            Some(u) => self.reference[a] * self.reference(u),
            None => self.reference[a],
        }
    }

    /// A pegged asset's peg: its reference in units of its underlying (of the quote when it is
    /// pegged to the quote).
    pub fn par(&self, a: usize) -> f64 {
        self.reference[a]
    }

    /// Routed mid in quote.
    #[inline]
    pub fn spot(&self, a: usize) -> f64 {
        if self.pegged {
            self.spot_in_quote[a]
        } else {
            self.spot[a]
        }
    }

    /// A pegged asset's routed mid over its peg (1 at the peg); `None` for an unpegged asset.
    pub fn peg_ratio(&self, a: usize) -> Option<f64> {
        self.pegs[a]
            .as_ref()
            .map(|_| self.spot[a] / self.reference[a])
    }

    /// The channels of a pegged asset and what went through them this step.
    pub fn peg_state(&self, a: usize) -> Option<&PegState> {
        self.pegs.get(a).and_then(Option::as_ref)
    }

    /// Whether any asset is pegged to another.
    #[inline]
    pub fn is_pegged(&self) -> bool {
        self.pegged
    }

    /// Whether a peg's channel redeemed or minted in the current step.
    pub fn pegs_trading(&self) -> bool {
        self.pegs
            .iter()
            .flatten()
            .any(|p| p.redeemed > 0.0 || p.minted > 0.0)
    }

    /// The assets pegged directly to asset `a`.
    #[inline]
    pub fn dependents(&self, a: usize) -> &[usize] {
        self.dependents.get(a).map_or(&[], Vec::as_slice)
    }

    /// The asset a pegged asset is pegged to (`None`: unpegged, or pegged to the quote).
    pub fn underlying(&self, a: usize) -> Option<usize> {
        self.unit.get(a).copied().flatten()
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
        self.refresh_local_spot(a);
        if self.pegged {
            self.carry_spot(a);
        }
        self.spot(a)
    }

    /// [`Market::refresh_spot`] in the venues' units.
    fn refresh_local_spot(&mut self, a: usize) {
        if self.venues[a].is_empty() {
            self.spot[a] = self.reference[a];
            self.spot_held[a] = false;
            return;
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
    }

    /// Best bid and ask over the asset's venues, in quote.
    pub fn best_quotes(&self, a: usize) -> (Option<f64>, Option<f64>) {
        let (bid, ask) = self.local_quotes(a);
        if !self.pegged || self.unit[a].is_none() {
            return (bid, ask);
        }
        let k = self.unit_value(a);
        (bid.map(|b| b * k), ask.map(|x| x * k))
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
            // its impact in its price: both take the exogenous X. A pool (constant-product,
            // StableSwap or concentrated liquidity) is arbitraged to the anchor X·Π.
            // A pegged asset's pools are pulled to the peg by its channels alone.
            let target = if matches!(
                v,
                AnyVenue::Pool(_) | AnyVenue::StableSwap(_) | AnyVenue::Concentrated(_)
            ) {
                self.pegs[a].is_none().then_some(anchor)
            } else {
                Some(x)
            };
            v.advance(dt, target);
        }
        if self.venues[a].len() > 1 {
            self.synced(a, |vs| router::arbitrage(vs, ARB_ROUNDS));
        }
        self.refresh_spot(a);
    }

    /// What `trade(a, side, qty)` would give, without changing anything.
    pub fn quote(&self, a: usize, side: Side, qty: f64) -> Fill {
        let f = match &self.venues[a][..] {
            [] => Fill::empty(side, qty),
            [v] => v.quote(side, qty),
            vs => router::quote(vs, side, qty).total,
        };
        self.in_quote(a, f)
    }

    /// A fill of asset `a`'s venues with its prices in quote.
    #[inline]
    fn in_quote(&self, a: usize, f: Fill) -> Fill {
        if !self.pegged || self.unit[a].is_none() {
            return f;
        }
        let k = self.unit_value(a);
        Fill {
            notional: f.notional * k,
            first_price: f.first_price.map(|p| p * k),
            last_price: f.last_price.map(|p| p * k),
            ..f
        }
    }

    /// Sells (or buys) `qty` of asset `a` across its venues at best execution, then carries the
    /// permanent impact of any book to the other venues and aligns them. Without venues nothing
    /// fills.
    pub fn trade(&mut self, a: usize, side: Side, qty: f64) -> Fill {
        if self.venues[a].is_empty() || qty <= 0.0 {
            return Fill::empty(side, qty);
        }
        let fill = self.route(a, side, qty);
        let fill = self.in_quote(a, fill);
        self.record_flow(a, side, &fill);
        self.refresh_spot(a);
        fill
    }

    /// Each venue's part, in quote, of the last order [`Market::trade`] routed on asset `a`, when
    /// `a` has more than one venue and that order filled (the caller knows it did).
    pub fn last_parts(&self, a: usize) -> impl Iterator<Item = (usize, Fill)> + '_ {
        self.parts
            .iter()
            .enumerate()
            .filter(|(_, f)| f.filled > 0.0)
            .map(move |(k, f)| (k, self.in_quote(a, *f)))
    }

    /// Trades `qty` on asset `a`'s venues at best execution (prices in the venues' units) and
    /// keeps Π one factor; records nothing.
    fn route(&mut self, a: usize, side: Side, qty: f64) -> Fill {
        if let [v] = &self.venues[a][..]
            && v.is_halted()
        {
            // Nothing fills, and the asset's Π stays where it is.
            Fill::empty(side, qty)
        } else if self.venues[a].len() == 1 {
            let f = self.venues[a][0].execute(side, qty);
            self.permanent[a] = permanent_of(&self.venues[a][0]);
            f
        } else {
            self.route_across(a, side, qty)
        }
    }

    /// [`Market::route`] over more than one venue: the router's split, each venue's part kept
    /// for [`Market::last_parts`], then the arbitrage that aligns the venues.
    #[inline(never)]
    fn route_across(&mut self, a: usize, side: Side, qty: f64) -> Fill {
        let routed = self.synced(a, |vs| router::execute(vs, side, qty));
        self.synced(a, |vs| router::arbitrage(vs, ARB_ROUNDS));
        self.parts = routed.parts;
        routed.total
    }

    /// The arbitrage through a pegged asset's channels at the start of step `step`, after its
    /// venues' upkeep: below the peg less the redemption fee,
    /// arbitrageurs buy on the venues (up to the channel's capacity, to where the marginal ask
    /// reaches that price) and redeem, paid `delay` steps later; above the peg plus the mint fee
    /// they mint and sell. A paused redemption channel takes and pays nothing. Not a forced
    /// flow: it is not in [`Market::flows`].
    pub fn peg_upkeep(&mut self, a: usize, step: u32, paused: bool) {
        let Some(st) = self.pegs[a].as_mut() else {
            return;
        };
        st.redeemed = 0.0;
        st.minted = 0.0;
        st.paid = 0.0;
        st.paused = paused;
        let (redeem, mint) = (st.redeem, st.mint);
        let par = self.reference[a];
        // The marginal price must be off the channel's price by more than rounding: at rest a
        // pool's capacity to its own price is a few ulps, not a trade.
        let (bid, ask) = self.local_quotes(a);
        if let Some(ch) = redeem
            && !paused
            && ask.is_some_and(|x| x < par * (1.0 - ch.fee) * (1.0 - PEG_TOLERANCE))
        {
            let limit = par * (1.0 - ch.fee);
            let q = ch.capacity.min(self.local_capacity(a, Side::Buy, limit));
            if q > 0.0 {
                let f = self.route(a, Side::Buy, q);
                if let Some(st) = self.pegs[a].as_mut()
                    && f.filled > 0.0
                {
                    st.redeemed = f.filled;
                    st.queue
                        .push_back((step.saturating_add(ch.delay), f.filled * limit));
                }
            }
        }
        if let Some(ch) = mint
            && bid.is_some_and(|x| x > par * (1.0 + ch.fee) * (1.0 + PEG_TOLERANCE))
        {
            let limit = par * (1.0 + ch.fee);
            let q = ch.capacity.min(self.local_capacity(a, Side::Sell, limit));
            if q > 0.0 {
                let f = self.route(a, Side::Sell, q);
                if let Some(st) = self.pegs[a].as_mut() {
                    st.minted = f.filled;
                }
            }
        }
        // The queue pays what is due, this step's redemptions too when the delay is zero.
        if let Some(st) = self.pegs[a].as_mut()
            && !paused
        {
            while let Some(&(due, amount)) = st.queue.front()
                && due <= step
            {
                st.paid += amount;
                st.queue.pop_front();
            }
        }
        self.refresh_spot(a);
    }

    /// Best bid and ask over asset `a`'s venues, in the venues' units.
    fn local_quotes(&self, a: usize) -> (Option<f64>, Option<f64>) {
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

    /// Most one order on `side` trades across the asset's venues before its marginal price
    /// passes `limit` (in the venues' units).
    fn local_capacity(&self, a: usize, side: Side, limit: f64) -> f64 {
        self.venues[a]
            .iter()
            .map(|v| v.capacity_to(side, limit))
            .sum()
    }

    /// Most that one order on `side` can trade across the asset's venues (or on venue `venue`
    /// alone) before its marginal price passes `limit`.
    /// `limit` is in quote.
    pub fn capacity_to(&self, a: usize, venue: Option<usize>, side: Side, limit: f64) -> f64 {
        let limit = self.local_limit(a, limit);
        match venue {
            Some(k) => self.venues[a][k].capacity_to(side, limit),
            None => self.local_capacity(a, side, limit),
        }
    }

    /// A limit in quote as a price in asset `a`'s own units (a pegged asset's in its
    /// underlying's).
    #[inline]
    fn local_limit(&self, a: usize, limit: f64) -> f64 {
        if !self.pegged || self.unit[a].is_none() {
            limit
        } else {
            limit / self.unit_value(a)
        }
    }

    /// [`Market::capacity_to`] across the asset's venues at each of `limits` (in quote), each
    /// venue answering them all at once: for sorted limits a book finds each from the last.
    pub fn capacities_to(&self, a: usize, side: Side, limits: &[f64]) -> Vec<f64> {
        let local: Vec<f64>;
        let limits = if !self.pegged || self.unit[a].is_none() {
            limits
        } else {
            local = limits.iter().map(|&l| self.local_limit(a, l)).collect();
            &local
        };
        let mut venues = self.venues[a].iter().map(|v| v.capacities_to(side, limits));
        // Summed venue by venue in order, as `local_capacity` sums them.
        let Some(mut total) = venues.next() else {
            return limits
                .iter()
                .map(|&l| self.local_capacity(a, side, l))
                .collect();
        };
        for caps in venues {
            for (t, c) in total.iter_mut().zip(caps) {
                *t += c;
            }
        }
        total
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
        let fill = self.in_quote(a, fill);
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
        // Each venue's Π before, on the stack for the usual few venues: a routed order calls
        // this twice, and two vectors each time were a good part of its allocations.
        let (mut few, mut many) = ([0.0; 8], Vec::new());
        let before: &mut [f64] = if venues.len() <= few.len() {
            &mut few[..venues.len()]
        } else {
            many.resize(venues.len(), 0.0);
            &mut many
        };
        for (b, v) in before.iter_mut().zip(venues.iter()) {
            *b = permanent_of(v);
        }
        let out = f(venues);
        // The product of the ratios in venue order, from 1 (as `Iterator::product`).
        let total = venues
            .iter()
            .zip(before.iter())
            .fold(1.0, |t, (v, b)| t * (permanent_of(v) / b));
        if total != 1.0 {
            for (v, b) in venues.iter_mut().zip(before.iter()) {
                // Its own ratio, taken before its own Π changes.
                let r = permanent_of(v) / b;
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
