//! Limit order book anchored to a reference price, with resilience and permanent impact
//! (MECHANICS §2.4–2.6).
//!
//! State: a baseline ladder per side (prices at the initial anchor, cumulative baseline depth)
//! plus the volume consumed from the inside, `E`. Level `k` rests `q_k − min(q_k, max(0, E − W_{k−1}))`.
//! An exogenous move re-prices every level and leaves `E` alone; resilience decays `E`; a
//! `permanent_impact` fraction θ of each impact moves the anchor itself.

use super::Venue;
use crate::error::{self, Error, Result};
use crate::fill::{Fill, Side};
use crate::memory;

/// A level counts as exhausted once the consumed volume is within this relative distance of its
/// cumulative edge, so that float sums of fills never leave dust levels behind.
const EXHAUSTED_RTOL: f64 = 1e-12;

/// One side of the book: levels best first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Ladder {
    /// Level prices when the anchor is at its initial value, best first. A level's price is
    /// `base_px · anchor/anchor₀`, so prices are exactly the user's until the anchor moves.
    base_px: Vec<f64>,
    /// Cumulative baseline depth `W_k = q_0 + … + q_k`.
    cum: Vec<f64>,
    /// Volume consumed from the inside, `E >= 0`. Change it through `set_consumed`.
    consumed: f64,
    /// `first_open(consumed)`, kept so that the best quote costs no search.
    open: usize,
}

/// Result of walking one side without touching it.
struct Walk {
    fill: Fill,
    /// Consumed volume after the walk.
    end: f64,
    /// Best price left on the side after the walk.
    next_best: Option<f64>,
}

impl Ladder {
    fn new(base_px: Vec<f64>, cum: Vec<f64>) -> Self {
        let mut l = Ladder {
            base_px,
            cum,
            consumed: 0.0,
            open: 0,
        };
        l.open = l.first_open(0.0);
        l
    }

    #[inline]
    fn exhausted(&self, k: usize, pos: f64) -> bool {
        let w = self.cum[k];
        pos >= w - EXHAUSTED_RTOL * w
    }

    /// `first_open(pos)`, trying `hint` and its successor before a binary search: consumption
    /// mostly moves by less than a level between calls. Always inlined: out of line (which the
    /// compiler's heuristics pick or not as unrelated code changes) it costs 1 % of CI's guard.
    #[inline(always)]
    fn open_from(&self, hint: usize, pos: f64) -> usize {
        let n = self.cum.len();
        let is_first_open = |k: usize| {
            (k == n || !self.exhausted(k, pos)) && (k == 0 || self.exhausted(k - 1, pos))
        };
        if hint <= n && is_first_open(hint) {
            hint
        } else if hint < n && is_first_open(hint + 1) {
            hint + 1
        } else {
            self.first_open(pos)
        }
    }

    #[inline]
    fn set_consumed(&mut self, e: f64) {
        self.consumed = e;
        self.open = self.open_from(self.open, e);
    }

    #[inline]
    fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    #[inline]
    fn lower(&self, k: usize) -> f64 {
        if k == 0 { 0.0 } else { self.cum[k - 1] }
    }

    /// First level that still rests something when `pos` has been consumed.
    #[inline]
    fn first_open(&self, pos: f64) -> usize {
        self.cum.partition_point(|&w| pos >= w - EXHAUSTED_RTOL * w)
    }

    fn walk(&self, side: Side, qty: f64, scale: f64) -> Walk {
        let mut fill = Fill::empty(side, qty);
        let mut pos = self.consumed;
        let mut k = self.open;
        let mut left = qty;
        while left > 0.0 && k < self.cum.len() {
            let avail = self.cum[k] - pos.max(self.lower(k));
            let price = scale * self.base_px[k];
            let exhaust = left >= avail * (1.0 - EXHAUSTED_RTOL);
            // An order that matches the level to rounding takes exactly what was asked for.
            let take = if exhaust && left > avail * (1.0 + EXHAUSTED_RTOL) {
                avail
            } else {
                left
            };
            fill.filled += take;
            fill.notional += take * price;
            fill.levels += 1;
            fill.first_price.get_or_insert(price);
            fill.last_price = Some(price);
            left = if take == left { 0.0 } else { left - take };
            if exhaust {
                pos = self.cum[k];
                k += 1;
            } else {
                pos += take;
                break;
            }
        }
        // Level sizes come from differences of cumulative sums: their float sum can exceed the
        // request by an ulp. A request that found enough depth filled exactly what was asked.
        fill.filled = if left == 0.0 {
            qty
        } else {
            fill.filled.min(qty)
        };
        let open = self.open_from(k, pos);
        Walk {
            fill,
            end: pos,
            next_best: (open < self.cum.len()).then(|| scale * self.base_px[open]),
        }
    }

    /// Number of levels priced at or better than `price` for the taker.
    fn levels_at_or_better(&self, side: Side, scale: f64, price: f64) -> usize {
        self.base_px
            .partition_point(|&r| side.at_least_as_good(scale * r, price))
    }

    /// [`Self::levels_at_or_better`] searched outward from `hint` (the answer for a nearby
    /// price): the same partition point, in a few probes next to the hint instead of a search of
    /// the whole ladder.
    fn levels_at_or_better_near(&self, side: Side, scale: f64, price: f64, hint: usize) -> usize {
        let px = &self.base_px;
        let good = |k: usize| side.at_least_as_good(scale * px[k], price);
        let n = px.len();
        let h = hint.min(n);
        // Every level below `lo` is good, none from `hi` on.
        let (mut lo, mut hi) = (0, n);
        let mut step = 1;
        if h < n && good(h) {
            lo = h + 1;
            while h + step < n {
                if good(h + step) {
                    lo = h + step + 1;
                    step *= 2;
                } else {
                    hi = h + step;
                    break;
                }
            }
        } else {
            hi = h;
            while step <= h {
                if good(h - step) {
                    lo = h - step + 1;
                    break;
                }
                hi = h - step;
                step *= 2;
            }
        }
        lo + px[lo..hi].partition_point(|&r| side.at_least_as_good(scale * r, price))
    }

    fn capacity_to(&self, side: Side, scale: f64, price: f64) -> f64 {
        self.capacity_of(self.levels_at_or_better(side, scale, price))
    }

    /// [`Self::capacity_to`] at each of `prices`, each searched from the last one's levels.
    fn capacities_to(&self, side: Side, scale: f64, prices: &[f64]) -> Vec<f64> {
        let mut n = 0;
        prices
            .iter()
            .map(|&p| {
                n = self.levels_at_or_better_near(side, scale, p, n);
                self.capacity_of(n)
            })
            .collect()
    }

    /// What rests on the first `n` levels.
    fn capacity_of(&self, n: usize) -> f64 {
        if n == 0 {
            0.0
        } else {
            if self.open >= n {
                0.0
            } else {
                (self.cum[n - 1] - self.consumed).max(0.0)
            }
        }
    }

    fn level_at(&self, scale: f64, traded: f64) -> Option<(f64, f64)> {
        let pos = self.consumed + traded;
        let k = if traded == 0.0 {
            self.open
        } else {
            self.open_from(self.open, pos)
        };
        (k < self.cum.len()).then(|| {
            (
                scale * self.base_px[k],
                self.cum[k] - pos.max(self.lower(k)),
            )
        })
    }

    /// Resting quantity of every level that still has some, best first.
    fn resting(&self, scale: f64) -> (Vec<f64>, Vec<f64>) {
        let start = self.open;
        let n = self.cum.len() - start;
        let mut px = Vec::with_capacity(n);
        let mut qty = Vec::with_capacity(n);
        for k in start..self.cum.len() {
            px.push(scale * self.base_px[k]);
            qty.push(self.cum[k] - self.consumed.max(self.lower(k)));
        }
        (px, qty)
    }
}

/// How consumed depth comes back and how much of an impact is permanent.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BookDynamics {
    /// Seconds for consumed depth to refill halfway (Obizhaeva–Wang); `None`: no refill.
    pub resilience_half_life: Option<f64>,
    /// Fraction θ ∈ [0, 1] of each fill's impact on the best quote that moves the anchor.
    pub permanent_impact: f64,
}

impl BookDynamics {
    fn validate(&self) -> Result<()> {
        if let Some(h) = self.resilience_half_life {
            error::positive("resilience_half_life", h)?;
        }
        error::in_range(
            "permanent_impact",
            self.permanent_impact,
            0.0,
            1.0,
            false,
            "in [0, 1]",
        )?;
        Ok(())
    }
}

/// Parametric depth profile around a mid (MECHANICS §2.5). Level `k = 1…K` sits at relative
/// distance `u_k = k·η` with `η = tick/mid` and holds `W(u_k) − W(u_{k−1})`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Profile {
    /// Constant depth per level: linear impact, `W(u) = d·u/η`.
    Linear { depth_per_level: f64 },
    /// `W(u) = V·u²/(Y²σ²)`: walking the book reproduces `ΔP/P = Y·σ·sqrt(Q/V)` at level edges.
    /// `volume` (V) is in asset units over the horizon of `sigma`.
    Sqrt { sigma: f64, volume: f64, y: f64 },
    /// `W(u) = W∞·(1 − exp(−u/u₀))`: finite total depth `total_depth`, decay distance `scale` (u₀).
    Exponential { total_depth: f64, scale: f64 },
}

impl Profile {
    fn validate(&self) -> Result<()> {
        match *self {
            Profile::Linear { depth_per_level } => {
                error::positive("depth_per_level", depth_per_level)?;
            }
            Profile::Sqrt { sigma, volume, y } => {
                error::positive("sigma", sigma)?;
                error::positive("volume", volume)?;
                error::positive("y", y)?;
            }
            Profile::Exponential { total_depth, scale } => {
                error::positive("total_depth", total_depth)?;
                error::positive("scale", scale)?;
            }
        }
        Ok(())
    }

    /// Cumulative depth out to relative distance `k·η`.
    fn cumulative(&self, k: usize, eta: f64) -> f64 {
        let u = k as f64 * eta;
        match *self {
            Profile::Linear { depth_per_level } => depth_per_level * k as f64,
            Profile::Sqrt { sigma, volume, y } => volume * u * u / (y * y * sigma * sigma),
            Profile::Exponential { total_depth, scale } => total_depth * -(-u / scale).exp_m1(),
        }
    }
}

/// A limit order book of one asset, anchored to the reference price `anchor = reference · Π`,
/// where `Π` accumulates the permanent impact of the book's own fills.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderBook {
    bids: Ladder,
    asks: Ladder,
    /// Last exogenous reference price X.
    reference: f64,
    /// Product of the permanent-impact factors `(1 + θ·I)` of the fills so far.
    permanent: f64,
    /// The anchor the base prices refer to.
    anchor0: f64,
    dynamics: BookDynamics,
}

fn check_ladder(
    field_px: &str,
    field_qty: &str,
    px: &[f64],
    qty: &[f64],
    side: Side,
) -> Result<()> {
    if px.len() != qty.len() {
        return Err(Error::LengthMismatch {
            field: field_qty.to_owned(),
            got: qty.len(),
            other: field_px.to_owned(),
            expected: px.len(),
        });
    }
    for (i, (&p, &q)) in px.iter().zip(qty).enumerate() {
        error::positive(&format!("{field_px}[{i}]"), p)?;
        error::non_negative(&format!("{field_qty}[{i}]"), q)?;
        if i > 0 {
            let prev = px[i - 1];
            let ok = match side {
                Side::Sell => p < prev,
                Side::Buy => p > prev,
            };
            if !ok {
                return Err(Error::Unsorted {
                    field: field_px.to_owned(),
                    index: i,
                    value: p,
                    previous: prev,
                    order: match side {
                        Side::Sell => "decreasing (best bid first)",
                        Side::Buy => "increasing (best ask first)",
                    },
                });
            }
        }
    }
    Ok(())
}

fn cumsum(qty: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    qty.iter()
        .map(|&q| {
            acc += q;
            acc
        })
        .collect()
}

impl OrderBook {
    /// Replaces the book's resting baseline by a recorded snapshot (L2 levels best first,
    /// recorded around the price `at`), as a replay of a recorded market refreshes it: the levels
    /// are re-anchored proportionally from `at` to the book's anchor (a shocked scenario keeps
    /// its level; the recorded depth profile is what comes back), the volume consumed from the
    /// inside of each side stays consumed on top of the new levels (at most all of them), and
    /// resilience goes on refilling it.
    pub fn refresh(
        &mut self,
        bid_px: &[f64],
        bid_qty: &[f64],
        ask_px: &[f64],
        ask_qty: &[f64],
        at: f64,
    ) -> Result<()> {
        check_ladder("bid_px", "bid_qty", bid_px, bid_qty, Side::Sell)?;
        check_ladder("ask_px", "ask_qty", ask_px, ask_qty, Side::Buy)?;
        error::positive("at", at)?;
        if let (Some(&b), Some(&a)) = (bid_px.first(), ask_px.first())
            && b >= a
        {
            return Err(Error::Crossed {
                best_bid: b,
                best_ask: a,
            });
        }
        // Base prices refer to anchor₀: a level recorded at p around `at` rests at p·anchor/at.
        let k = self.anchor0 / at;
        let base = |px: &[f64]| -> Vec<f64> { px.iter().map(|&p| p * k).collect() };
        let (eb, ea) = (self.bids.consumed, self.asks.consumed);
        self.bids = Ladder::new(base(bid_px), cumsum(bid_qty));
        self.asks = Ladder::new(base(ask_px), cumsum(ask_qty));
        self.bids.set_consumed(eb.min(self.bids.total()));
        self.asks.set_consumed(ea.min(self.asks.total()));
        Ok(())
    }

    /// A book from explicit L2 levels, best first on each side. The anchor is `reference`, or
    /// the mid when `reference` is `None` (then both sides must be non-empty).
    pub fn from_levels(
        bid_px: &[f64],
        bid_qty: &[f64],
        ask_px: &[f64],
        ask_qty: &[f64],
        reference: Option<f64>,
        dynamics: BookDynamics,
    ) -> Result<Self> {
        check_ladder("bid_px", "bid_qty", bid_px, bid_qty, Side::Sell)?;
        check_ladder("ask_px", "ask_qty", ask_px, ask_qty, Side::Buy)?;
        dynamics.validate()?;
        if bid_px.is_empty() && ask_px.is_empty() {
            return Err(Error::Empty {
                field: "bid_px and ask_px".to_owned(),
            });
        }
        if let (Some(&b), Some(&a)) = (bid_px.first(), ask_px.first())
            && b >= a
        {
            return Err(Error::Crossed {
                best_bid: b,
                best_ask: a,
            });
        }
        let anchor = match reference {
            Some(r) => error::positive("reference", r)?,
            None => match (bid_px.first(), ask_px.first()) {
                (Some(&b), Some(&a)) => 0.5 * (b + a),
                _ => {
                    return Err(Error::Missing {
                        field: "reference".to_owned(),
                        why: "a book with an empty side has no mid to anchor to",
                    });
                }
            },
        };
        Ok(OrderBook {
            bids: Ladder::new(bid_px.to_vec(), cumsum(bid_qty)),
            asks: Ladder::new(ask_px.to_vec(), cumsum(ask_qty)),
            reference: anchor,
            permanent: 1.0,
            anchor0: anchor,
            dynamics,
        })
    }

    /// A book of `levels` levels per side around `mid` with tick `tick`, shaped by `profile`.
    /// Bid levels at or below zero price are dropped.
    pub fn from_profile(
        profile: Profile,
        mid: f64,
        tick: f64,
        levels: usize,
        dynamics: BookDynamics,
    ) -> Result<Self> {
        error::positive("mid", mid)?;
        error::positive("tick", tick)?;
        if tick >= mid {
            return Err(Error::OutOfRange {
                field: "tick".to_owned(),
                value: tick,
                expected: "below mid",
            });
        }
        if levels == 0 {
            return Err(Error::OutOfRange {
                field: "levels".to_owned(),
                value: 0.0,
                expected: ">= 1",
            });
        }
        // Per level and side, a price and a cumulative depth.
        memory::check(
            "levels",
            levels as u64,
            32,
            "the book's two sides (a price and a cumulative depth per level)",
        )?;
        profile.validate()?;
        dynamics.validate()?;
        let eta = tick / mid;
        // Every level a distinct price: a tick below the resolution of `mid` would put several
        // levels (or all) at one price, which no ladder allows.
        let (far, next) = (levels as f64 * eta, (levels as f64 - 1.0) * eta);
        if mid * (1.0 - eta) >= mid || mid * (1.0 + far) <= mid * (1.0 + next) {
            return Err(Error::OutOfRange {
                field: "tick".to_owned(),
                value: tick,
                expected: "large enough against mid that every level has its own price",
            });
        }
        let build = |sign: f64| {
            let n = if sign < 0.0 {
                // Bids with u_k >= 1 would sit at or below zero.
                levels.min(((1.0 / eta).ceil() as usize).saturating_sub(1))
            } else {
                levels
            };
            let px = (1..=n)
                .map(|k| mid * (1.0 + sign * k as f64 * eta))
                .collect::<Vec<_>>();
            let cum = (1..=n)
                .map(|k| profile.cumulative(k, eta))
                .collect::<Vec<_>>();
            Ladder::new(px, cum)
        };
        Ok(OrderBook {
            bids: build(-1.0),
            asks: build(1.0),
            reference: mid,
            permanent: 1.0,
            anchor0: mid,
            dynamics,
        })
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Sell => &self.bids,
            Side::Buy => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Sell => &mut self.bids,
            Side::Buy => &mut self.asks,
        }
    }

    /// The price every level is a ratio of: `reference · Π`.
    #[inline]
    pub fn anchor(&self) -> f64 {
        self.reference * self.permanent
    }

    /// Factor from base prices to current prices: exactly 1 until the anchor moves.
    #[inline]
    fn scale(&self) -> f64 {
        let a = self.anchor();
        if a == self.anchor0 {
            1.0
        } else {
            a / self.anchor0
        }
    }

    /// The last exogenous reference price.
    pub fn reference(&self) -> f64 {
        self.reference
    }

    /// Accumulated permanent-impact factor Π (1 without permanent impact).
    pub fn permanent_factor(&self) -> f64 {
        self.permanent
    }

    /// Multiplies the anchor by `factor`: how the engine carries permanent impact made on
    /// another venue of the same asset to this one.
    pub fn apply_permanent(&mut self, factor: f64) {
        self.permanent *= factor;
    }

    /// Volume consumed from the inside of a side (`Sell`: bids).
    pub fn consumed(&self, side: Side) -> f64 {
        self.ladder(side).consumed
    }

    /// The resilience and permanent-impact settings.
    pub fn dynamics(&self) -> BookDynamics {
        self.dynamics
    }

    /// Prices and resting quantities of the levels that still rest something, best first.
    pub fn levels(&self, side: Side) -> (Vec<f64>, Vec<f64>) {
        self.ladder(side).resting(self.scale())
    }

    /// Total quantity resting on a side.
    pub fn resting_total(&self, side: Side) -> f64 {
        let l = self.ladder(side);
        if l.open >= l.cum.len() {
            0.0
        } else {
            (l.total() - l.consumed).max(0.0)
        }
    }
}

impl Venue for OrderBook {
    fn quote(&self, side: Side, qty: f64) -> Fill {
        self.ladder(side).walk(side, qty, self.scale()).fill
    }

    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        let walk = self.ladder(side).walk(side, qty, self.scale());
        let theta = self.dynamics.permanent_impact;
        let fill = walk.fill;
        if theta > 0.0
            && let (Some(b0), Some(b1)) = (fill.first_price, walk.next_best)
        {
            // I: relative move of the touched best quote. θ of it moves the anchor; the depth
            // between the old and the new best level, ΔW, is the volume behind that move, and θ·ΔW
            // of the consumption goes with it, so that the best quote right after the fill is
            // still b1 (up to the θ(1 − θ)I² term of MECHANICS §2.6). This equals MECHANICS'
            // `E + (1 − θ)·x` when the walk ends on a level edge; inside one level (I = 0) nothing
            // is permanent and all of x stays consumed, so no depth appears from nowhere.
            let ladder = self.ladder(side);
            let k0 = ladder.open;
            let k1 = ladder.open_from(k0, walk.end);
            let passed = ladder.lower(k1) - ladder.lower(k0);
            self.permanent *= 1.0 + theta * (b1 / b0 - 1.0);
            self.ladder_mut(side)
                .set_consumed(walk.end - theta * passed);
        } else if theta > 0.0
            && let (Some(b0), Some(last)) = (fill.first_price, fill.last_price)
        {
            // The walk emptied the side: I runs to the last fill and the side stays empty.
            self.permanent *= 1.0 + theta * (last / b0 - 1.0);
            self.ladder_mut(side).set_consumed(walk.end);
        } else {
            self.ladder_mut(side).set_consumed(walk.end);
        }
        fill
    }

    fn best_bid(&self) -> Option<f64> {
        self.level_at(Side::Sell, 0.0).map(|(p, _)| p)
    }

    fn best_ask(&self) -> Option<f64> {
        self.level_at(Side::Buy, 0.0).map(|(p, _)| p)
    }

    fn mid(&self) -> Option<f64> {
        Some(0.5 * (self.best_bid()? + self.best_ask()?))
    }

    /// Measured from the mid, or from the anchor when one side is empty and there is no mid.
    fn depth(&self, side: Side, within: f64) -> f64 {
        let centre = self.mid().unwrap_or_else(|| self.anchor());
        self.capacity_to(side, centre * (1.0 + side.sign() * within))
    }

    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        self.level_at(side, traded).map(|(p, _)| p)
    }

    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        self.ladder(side).capacity_to(side, self.scale(), price)
    }

    fn capacities_to(&self, side: Side, prices: &[f64]) -> Vec<f64> {
        self.ladder(side).capacities_to(side, self.scale(), prices)
    }

    fn max_capacity(&self, side: Side) -> f64 {
        self.resting_total(side)
    }

    fn level_at(&self, side: Side, traded: f64) -> Option<(f64, f64)> {
        self.ladder(side).level_at(self.scale(), traded)
    }

    fn is_discrete(&self) -> bool {
        true
    }

    fn advance(&mut self, dt: f64, reference: Option<f64>) -> Option<Fill> {
        if let Some(x) = reference {
            self.reference = x;
        }
        if let Some(h) = self.dynamics.resilience_half_life {
            let keep = (-dt / h).exp2();
            let (b, a) = (self.bids.consumed * keep, self.asks.consumed * keep);
            self.bids.set_consumed(b);
            self.asks.set_consumed(a);
        }
        None
    }
}
