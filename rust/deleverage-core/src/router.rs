//! Best execution of one forced order across the venues of an asset, and the cross-venue
//! arbitrage that carries impact from one venue to the others (MECHANICS §2.8).
//!
//! A sale of `Q` is split so that every venue ends at one marginal price `p*`: each venue absorbs
//! what it can before its marginal bid falls below `p*`, with `Σ_v Q_v(p*) = min(Q, available)`.
//! Proceeds are concave per venue, so equal marginal prices maximise the total. The split is
//! planned from the pre-trade state and each venue then executes its share as one order (a pool
//! swap split in two would retain its fee twice). Ties go in venue order.

use std::borrow::{Borrow, BorrowMut};

use crate::fill::{Fill, Side};
use crate::venue::{AnyVenue, Venue};

/// Bisection steps are capped; 200 halvings exhaust an `f64` interval long before.
const MAX_BISECTIONS: usize = 200;

/// Quotes within this relative distance count as aligned: arbitrage stops instead of chasing
/// rounding residue with dust trades.
const ARB_RTOL: f64 = 1e-12;

/// A routed order: the total and the part of each venue, in venue order.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteFill {
    pub total: Fill,
    pub parts: Vec<Fill>,
}

/// One cross-venue arbitrage trade: `qty` bought on `buy_venue` for `cost`, sold on
/// `sell_venue` for `proceeds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArbTrade {
    pub buy_venue: usize,
    pub sell_venue: usize,
    pub qty: f64,
    pub cost: f64,
    pub proceeds: f64,
}

fn better(side: Side, a: f64, b: f64) -> f64 {
    if side.at_least_as_good(a, b) { a } else { b }
}

/// Bisection for a monotone predicate between a price `good` where it holds and `bad` where it
/// does not; returns the last `good` point.
fn bisect(mut good: f64, mut bad: f64, holds: impl Fn(f64) -> bool) -> f64 {
    for _ in 0..MAX_BISECTIONS {
        let mid = 0.5 * (good + bad);
        if mid == good || mid == bad {
            break;
        }
        if holds(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    good
}

/// Shares the rest `left` among the continuous venues at one marginal price, not beyond `bound`
/// (the next book level, if any). The caller has checked that they can absorb `left` there.
fn split_continuous<V: Borrow<AnyVenue>>(
    venues: &[V],
    side: Side,
    alloc: &mut [f64],
    left: f64,
    bound: Option<f64>,
) {
    let cont: Vec<usize> = (0..venues.len())
        .filter(|&i| !venues[i].borrow().is_discrete())
        .collect();
    let extra = |p: f64| -> f64 {
        cont.iter()
            .map(|&i| (venues[i].borrow().capacity_to(side, p) - alloc[i]).max(0.0))
            .sum()
    };
    // The marginal prices where the continuous venues stand now: no extra capacity there.
    let here = cont
        .iter()
        .filter_map(|&i| venues[i].borrow().marginal(side, alloc[i]))
        .reduce(|a, b| better(side, a, b));
    let Some(here) = here else { return };
    let enough = |p: f64| extra(p) >= left;
    let good = match (side, bound) {
        (_, Some(b)) => b,
        (Side::Sell, None) => 0.0,
        (Side::Buy, None) => {
            let mut hi = here.max(f64::MIN_POSITIVE) * 2.0;
            for _ in 0..2048 {
                if enough(hi) || !hi.is_finite() {
                    break;
                }
                hi *= 2.0;
            }
            hi
        }
    };
    let p = bisect(good, here, enough);
    let mut incs: Vec<f64> = cont
        .iter()
        .map(|&i| {
            let v = venues[i].borrow();
            let cap = v.capacity_to(side, p).min(v.max_capacity(side));
            (cap - alloc[i]).max(0.0)
        })
        .collect();
    let total: f64 = incs.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        // Degenerate bracket: give everything to the venue with the best marginal price.
        if let Some(j) = (0..cont.len()).max_by(|&a, &b| {
            let pa = venues[cont[a]].borrow().marginal(side, alloc[cont[a]]);
            let pb = venues[cont[b]].borrow().marginal(side, alloc[cont[b]]);
            let (pa, pb) = (pa.unwrap_or(f64::NAN), pb.unwrap_or(f64::NAN));
            if side.at_least_as_good(pa, pb) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Less
            }
        }) {
            incs.iter_mut().for_each(|x| *x = 0.0);
            incs[j] = left;
        }
    } else {
        // The bisection stops within one ulp of p*: put the rounding excess on the largest share.
        let excess = total - left;
        if let Some(j) = (0..incs.len()).max_by(|&a, &b| incs[a].total_cmp(&incs[b])) {
            incs[j] = (incs[j] - excess).max(0.0);
        }
    }
    for (k, &i) in cont.iter().enumerate() {
        alloc[i] += incs[k];
    }
}

/// How much of `qty` each venue takes under best execution, in venue order. Nothing changes.
pub fn plan<V: Borrow<AnyVenue>>(venues: &[V], side: Side, qty: f64) -> Vec<f64> {
    let n = venues.len();
    let mut alloc = vec![0.0; n];
    let mut left = qty;
    while left > 0.0 {
        // The best level any book offers next.
        let next_level = (0..n)
            .filter_map(|i| venues[i].borrow().level_at(side, alloc[i]).map(|(p, _)| p))
            .reduce(|a, b| better(side, a, b));
        match next_level {
            Some(b) => {
                let absorb: f64 = (0..n)
                    .filter(|&i| !venues[i].borrow().is_discrete())
                    .map(|i| (venues[i].borrow().capacity_to(side, b) - alloc[i]).max(0.0))
                    .sum();
                if absorb >= left {
                    split_continuous(venues, side, &mut alloc, left, Some(b));
                    break;
                }
                for (i, a) in alloc.iter_mut().enumerate() {
                    let v = venues[i].borrow();
                    if !v.is_discrete() {
                        *a = a.max(v.capacity_to(side, b));
                    }
                }
                left -= absorb;
                // The books' levels at exactly b, in venue order.
                for (i, a) in alloc.iter_mut().enumerate() {
                    if left <= 0.0 {
                        break;
                    }
                    if let Some((p, rest)) = venues[i].borrow().level_at(side, *a)
                        && p == b
                    {
                        let take = rest.min(left);
                        *a += take;
                        left = if take == left { 0.0 } else { left - take };
                    }
                }
            }
            None => {
                let room: f64 = (0..n)
                    .filter(|&i| !venues[i].borrow().is_discrete())
                    .map(|i| (venues[i].borrow().max_capacity(side) - alloc[i]).max(0.0))
                    .sum();
                if room <= left {
                    for (i, a) in alloc.iter_mut().enumerate() {
                        let v = venues[i].borrow();
                        if !v.is_discrete() {
                            *a = v.max_capacity(side);
                        }
                    }
                } else {
                    split_continuous(venues, side, &mut alloc, left, None);
                }
                break;
            }
        }
    }
    alloc
}

/// Relative rounding that the sum of the venues' shares may show against the request.
const SPLIT_RTOL: f64 = 1e-12;

fn combine(side: Side, qty: f64, parts: Vec<Fill>) -> RouteFill {
    let mut total = Fill::empty(side, qty);
    for p in &parts {
        total.absorb(p);
    }
    // The shares are planned to sum to the request; a float sum may miss it by an ulp or two.
    if (total.filled - qty).abs() <= SPLIT_RTOL * qty {
        total.filled = qty;
    }
    RouteFill { total, parts }
}

/// What `execute` would give, without changing any venue.
pub fn quote<V: Borrow<AnyVenue>>(venues: &[V], side: Side, qty: f64) -> RouteFill {
    let alloc = plan(venues, side, qty);
    let parts = venues
        .iter()
        .zip(&alloc)
        .map(|(v, &a)| v.borrow().quote(side, a))
        .collect();
    combine(side, qty, parts)
}

/// Executes `qty` on `side` across `venues` under best execution.
pub fn execute<V: BorrowMut<AnyVenue>>(venues: &mut [V], side: Side, qty: f64) -> RouteFill {
    let alloc = plan(venues, side, qty);
    let parts = venues
        .iter_mut()
        .zip(&alloc)
        .map(|(v, &a)| v.borrow_mut().execute(side, a))
        .collect();
    combine(side, qty, parts)
}

/// Quantity `z` that closes the crossing between buying on `a` and selling on `b`: the point
/// where `b`'s marginal bid after selling `z` stops exceeding `a`'s marginal ask after buying `z`.
fn crossing_size(a: &AnyVenue, b: &AnyVenue) -> f64 {
    let crossed = |z: f64| match (b.marginal(Side::Sell, z), a.marginal(Side::Buy, z)) {
        (Some(bid), Some(ask)) => bid > ask,
        _ => false,
    };
    let cap = a.max_capacity(Side::Buy).min(b.max_capacity(Side::Sell));
    let mut hi = if cap.is_finite() {
        cap
    } else {
        let mut h = 1.0;
        for _ in 0..2048 {
            if !crossed(h) {
                break;
            }
            h *= 2.0;
        }
        h
    };
    let mut lo = 0.0;
    for _ in 0..MAX_BISECTIONS {
        let mid = 0.5 * (lo + hi);
        if mid == lo || mid == hi {
            break;
        }
        if crossed(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // The upper end: it includes a whole level that ends exactly at the crossing.
    hi
}

/// Cross-venue arbitrage: while one venue's best bid exceeds another's best ask, buy on the cheap
/// venue and sell on the rich one until their marginal prices meet. At most `max_trades` trades.
pub fn arbitrage<V: BorrowMut<AnyVenue>>(venues: &mut [V], max_trades: usize) -> Vec<ArbTrade> {
    let mut trades = Vec::new();
    for _ in 0..max_trades {
        let mut cheap: Option<(usize, f64)> = None;
        let mut rich: Option<(usize, f64)> = None;
        for (i, v) in venues.iter().enumerate() {
            let v = v.borrow();
            if let Some(ask) = v.best_ask()
                && cheap.is_none_or(|(_, a)| ask < a)
            {
                cheap = Some((i, ask));
            }
            if let Some(bid) = v.best_bid()
                && rich.is_none_or(|(_, b)| bid > b)
            {
                rich = Some((i, bid));
            }
        }
        let (Some((a, ask)), Some((b, bid))) = (cheap, rich) else {
            break;
        };
        if a == b || bid <= ask * (1.0 + ARB_RTOL) {
            break;
        }
        let z = crossing_size(venues[a].borrow(), venues[b].borrow());
        if z <= 0.0 {
            break;
        }
        let bought = venues[a].borrow_mut().execute(Side::Buy, z);
        if bought.filled <= 0.0 {
            break;
        }
        let sold = venues[b].borrow_mut().execute(Side::Sell, bought.filled);
        trades.push(ArbTrade {
            buy_venue: a,
            sell_venue: b,
            qty: sold.filled,
            cost: bought.notional,
            proceeds: sold.notional,
        });
    }
    trades
}
