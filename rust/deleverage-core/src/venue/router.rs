//! Best execution of one forced order across the venues of an asset, and the cross-venue
//! arbitrage that carries impact from one venue to the others (MECHANICS §2.8).
//!
//! A sale of `Q` is split so that every venue ends at one marginal price `p*`: each venue absorbs
//! what it can before its marginal bid falls below `p*`, with `Σ_v Q_v(p*) = min(Q, available)`.
//! Proceeds are concave per venue, so equal marginal prices maximise the total. The split is
//! planned from the pre-trade state and each venue then executes its share as one order (a pool
//! swap split in two would retain its fee twice). Ties go in venue order.

use std::borrow::{Borrow, BorrowMut};

use super::{AnyVenue, Venue};
use crate::fill::{Fill, Side};

/// Bisection steps are capped; 200 halvings exhaust an `f64` interval long before.
const MAX_BISECTIONS: usize = 200;

/// Quotes within this relative distance count as aligned: arbitrage stops instead of chasing
/// rounding residue with dust trades.
const ARB_RTOL: f64 = 1e-12;

/// A routed order: the total and the part of each venue, in venue order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RouteFill {
    pub total: Fill,
    pub parts: Vec<Fill>,
}

/// Bisection for a monotone predicate between `good`, where it holds, and `bad`, where it does
/// not, for at most `STEPS` halvings; returns the last point where it held. It stops early once
/// the midpoint is one of the two ends (adjacent floats), where the interval cannot move any
/// more, so the answer is that of all `STEPS` halvings. Used by the router's price searches
/// and by the perp exchange's bankrupt prefix.
#[inline]
pub(crate) fn bisect<const STEPS: usize>(
    mut good: f64,
    mut bad: f64,
    holds: impl Fn(f64) -> bool,
) -> f64 {
    for _ in 0..STEPS {
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

/// One cross-venue arbitrage trade: `qty` bought on `buy_venue` for `cost`, sold on
/// `sell_venue` for `proceeds`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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
    let p = bisect::<MAX_BISECTIONS>(good, here, enough);
    let mut incs: Vec<f64> = cont
        .iter()
        .map(|&i| {
            let v = venues[i].borrow();
            let cap = v.capacity_to(side, p).min(v.max_capacity(side));
            (cap - alloc[i]).max(0.0)
        })
        .collect();
    let finite: f64 = incs.iter().filter(|x| x.is_finite()).sum();
    if let Some(j) = incs.iter().position(|x| !x.is_finite()) {
        // p* sits on a curve's floor (or at zero for a pool), where that venue's capacity has no
        // bound: the finite venues take what they hold down to p*, the first unbounded one the rest.
        let rest = left - finite;
        for x in incs.iter_mut() {
            *x = if x.is_finite() && rest < 0.0 {
                *x * left / finite
            } else if x.is_finite() {
                *x
            } else {
                0.0
            };
        }
        incs[j] = rest.max(0.0);
    } else {
        // The bisection stops within one ulp of p*: put the rounding excess on the largest share.
        let excess = finite - left;
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
    let mut caps: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut left = qty;
    while left > 0.0 {
        // The best level any book offers next.
        let next_level = (0..n)
            .filter_map(|i| venues[i].borrow().level_at(side, alloc[i]).map(|(p, _)| p))
            .reduce(|a, b| better(side, a, b));
        match next_level {
            Some(b) => {
                // Each continuous venue's capacity down (up) to the level, solved once: a
                // pool's is a bisection over its swap math.
                caps.clear();
                caps.extend((0..n).map(|i| {
                    let v = venues[i].borrow();
                    (!v.is_discrete()).then(|| v.capacity_to(side, b))
                }));
                let absorb: f64 = (0..n)
                    .filter_map(|i| caps[i].map(|c| (c - alloc[i]).max(0.0)))
                    .sum();
                if absorb >= left {
                    split_continuous(venues, side, &mut alloc, left, Some(b));
                    break;
                }
                for (a, c) in alloc.iter_mut().zip(&caps) {
                    if let Some(c) = *c {
                        *a = a.max(c);
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

/// Buy and sell capacity of all venues at price `p`: what the bids absorb down to `p` and
/// what the asks offer up to `p`.
fn capacities<V: Borrow<AnyVenue>>(venues: &[V], p: f64) -> (f64, f64) {
    venues.iter().fold((0.0, 0.0), |(s, b), v| {
        let v = v.borrow();
        (
            s + v.capacity_to(Side::Sell, p),
            b + v.capacity_to(Side::Buy, p),
        )
    })
}

/// Splits the clearing into pairs of one buy leg and one sell leg (in venue order), with each
/// leg's quote shared pro rata, so that the pairs add up to the legs exactly.
fn pair_legs(buys: &[(usize, Fill)], sells: &[(usize, Fill)], out: &mut Vec<ArbTrade>) {
    let (mut i, mut j) = (0, 0);
    let mut left_b = buys.first().map_or(0.0, |b| b.1.filled);
    let mut left_s = sells.first().map_or(0.0, |s| s.1.filled);
    while i < buys.len() && j < sells.len() {
        let q = left_b.min(left_s);
        let (bi, bf) = &buys[i];
        let (sj, sf) = &sells[j];
        if q > 0.0 {
            out.push(ArbTrade {
                buy_venue: *bi,
                sell_venue: *sj,
                qty: q,
                cost: bf.notional * q / bf.filled,
                proceeds: sf.notional * q / sf.filled,
            });
        }
        left_b -= q;
        left_s -= q;
        if left_b <= 1e-12 * bf.filled {
            i += 1;
            left_b = buys.get(i).map_or(0.0, |b| b.1.filled);
        }
        if left_s <= 1e-12 * sf.filled {
            j += 1;
            left_s = sells.get(j).map_or(0.0, |s| s.1.filled);
        }
    }
}

/// Cross-venue arbitrage. While the best bid of some venue exceeds the best ask of another,
/// arbitrageurs buy on the cheap venues and sell on the rich ones, all at once, up to the price
/// `p*` where the asks offered below it match the bids absorbed above it: every venue then
/// quotes bid ≤ p* ≤ ask. Clearing all venues together (rather than pair by pair) matters when a
/// steep venue sits between a cheap and a rich one. Runs at most `max_rounds` clearings (one
/// normally suffices; permanent impact can leave a residue for a second). Returns the trades as
/// buy/sell pairs.
pub fn arbitrage<V: BorrowMut<AnyVenue>>(venues: &mut [V], max_rounds: usize) -> Vec<ArbTrade> {
    let mut trades = Vec::new();
    for _ in 0..max_rounds {
        let bid = venues
            .iter()
            .filter_map(|v| v.borrow().best_bid())
            .reduce(f64::max);
        let ask = venues
            .iter()
            .filter_map(|v| v.borrow().best_ask())
            .reduce(f64::min);
        let (Some(bid), Some(ask)) = (bid, ask) else {
            break;
        };
        if bid <= ask * (1.0 + ARB_RTOL) {
            break;
        }
        let clears = |p: f64| {
            let (s, b) = capacities(venues, p);
            s >= b
        };
        let (good, bad) = if clears(ask) { (ask, bid) } else { (ask, ask) };
        let p = if good == bad {
            good
        } else {
            bisect::<MAX_BISECTIONS>(good, bad, clears)
        };
        // Step functions (books) jump at p*: take the larger of the two matched sizes around it.
        let (s_lo, b_lo) = capacities(venues, p);
        let (s_hi, b_hi) = capacities(venues, next_up(p));
        let q = s_lo.min(b_lo).max(s_hi.min(b_hi));
        if q <= 0.0 || !q.is_finite() {
            break;
        }
        let mut buy_plan = plan(venues, Side::Buy, q);
        let mut sell_plan = plan(venues, Side::Sell, q);
        // A venue quoting exactly p* can pick up rounding dust on both sides: net it out, which
        // keeps the bought and the sold totals equal.
        for (b, s) in buy_plan.iter_mut().zip(sell_plan.iter_mut()) {
            let both = b.min(*s);
            *b -= both;
            *s -= both;
        }
        let mut buys = Vec::new();
        let mut sells = Vec::new();
        for (i, v) in venues.iter_mut().enumerate() {
            if buy_plan[i] > 0.0 {
                buys.push((i, v.borrow_mut().execute(Side::Buy, buy_plan[i])));
            }
        }
        for (i, v) in venues.iter_mut().enumerate() {
            if sell_plan[i] > 0.0 {
                sells.push((i, v.borrow_mut().execute(Side::Sell, sell_plan[i])));
            }
        }
        let before = trades.len();
        pair_legs(&buys, &sells, &mut trades);
        if trades.len() == before {
            break;
        }
    }
    trades
}

/// The next representable float above a positive `x`.
fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

#[cfg(test)]
mod tests {
    use super::bisect;

    #[test]
    fn bisect_finds_a_square_root_and_stops_after_its_steps() {
        // x² ≤ 2 on [0, 2]: √2 to the last bits within 200 halvings.
        let r = bisect::<200>(0.0, 2.0, |x| x * x <= 2.0);
        assert!((r - std::f64::consts::SQRT_2).abs() <= 2.0 * f64::EPSILON);
        // By hand: 1 holds; 1.5 does not (2.25); 1.25 holds (1.5625).
        assert_eq!(bisect::<1>(0.0, 2.0, |x| x * x <= 2.0), 1.0);
        assert_eq!(bisect::<2>(0.0, 2.0, |x| x * x <= 2.0), 1.0);
        assert_eq!(bisect::<3>(0.0, 2.0, |x| x * x <= 2.0), 1.25);
    }
}
