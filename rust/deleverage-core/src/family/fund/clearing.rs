//! Fire-sale clearing equilibria of a fund group (MECHANICS §7.5: Cifuentes–Ferrucci–Shin,
//! Breuer–Summer–Urosevic): instead of the round-by-round cascade, the prices that are a fixed
//! point of `p = Φ(p) = impact(S(p))` from the initial balance sheets.
//!
//! - `S(p)`, the sale function: the units each fund sells at prices `p` by the group's own rule
//!   ([`Funds::decide`] on a copy of the state at step 0: threshold, target, default), summed
//!   per asset; a target rule's purchases count as negative sales.
//! - `impact(s)`: the routed mid of each asset, in quote, after `s` of every asset is sold (or,
//!   negative, bought) on its venues through the market's routing, from the market as it stands
//!   before the first step (a fresh copy per evaluation).
//!
//! `Φ` is non-decreasing for these rules as long as a fund's debt outweighs the loss its
//! illiquid holdings can still take (lower prices → more sales → a lower impact price). Then
//! (Tarski) iterating from the prices now, `p₀`, descends to the greatest fixed point, and
//! iterating from the all-sold prices (every fund sells every unit) climbs to the least.
//! With a single asset held, `g(p) = Φ(p) − p` is also scanned on a grid between the two for
//! sign changes, each refined by bisection; a fixed point is stable when `Φ'(p*) < 1`, i.e.
//! when `g` falls through zero as `p` rises (`+` below, `−` above).

use super::Funds;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::fill::Side;
use crate::market::Market;

/// The iterations stop when no price moved by more than this, relatively.
pub const CLEARING_TOLERANCE: f64 = 1e-13;
/// The largest `grid` [`Engine::clearing`] takes.
pub const MAX_GRID: usize = 1_000_000;
/// Two fixed points closer than this (relatively) are one.
const SAME: f64 = 1e-9;
/// A bisection's end is a fixed point when `|Φ(p) − p|` is within this of `p` (relatively);
/// otherwise the sign change was a jump of `Φ` across the diagonal (a threshold's trigger).
const ROOT: f64 = 1e-9;
/// The stability probe: this fraction of the distance between the least and greatest points.
const PROBE: f64 = 1e-6;
/// Bisection halvings at most (a float interval is exhausted long before).
const MAX_BISECTIONS: u32 = 2_100;

/// Where a clearing equilibrium stands among those found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EquilibriumKind {
    /// The least fixed point: reached by iterating from the all-sold prices.
    Least,
    /// A fixed point between the least and the greatest (one asset held only), found by the
    /// grid scan and bisection.
    Interior,
    /// The greatest fixed point: reached by iterating from the prices now.
    Greatest,
    /// The least and the greatest coincide.
    Unique,
}

impl EquilibriumKind {
    /// Its name in results: `least`, `interior`, `greatest` or `unique`.
    pub fn name(self) -> &'static str {
        match self {
            EquilibriumKind::Least => "least",
            EquilibriumKind::Interior => "interior",
            EquilibriumKind::Greatest => "greatest",
            EquilibriumKind::Unique => "unique",
        }
    }
}

/// One fire-sale clearing equilibrium `p* = Φ(p*)` of a fund group.
#[derive(Debug, Clone, PartialEq)]
pub struct Equilibrium {
    pub kind: EquilibriumKind,
    /// Price of every scenario asset in quote (its routed mid after the sales).
    pub prices: Vec<f64>,
    /// Units of every asset the group sells at those prices, net (negative: bought).
    pub sold: Vec<f64>,
    /// Each fund's equity `H + I − D` at those prices (its holdings before the sales, illiquid
    /// ones after their shock: a sale at the clearing price leaves equity as it is). Not floored
    /// at zero: a negative equity is what the fund's creditors lose.
    pub equity: Vec<f64>,
    /// Whether each fund defaulted there (`E ≤ 0`, everything sold).
    pub defaulted: Vec<bool>,
    /// Σ over funds of the equity lost against the prices now, `Σ_i E_i(p₀) − E_i(p*)`
    /// (BSU's systemic loss: the fire sale's part, the illiquid shock excluded).
    pub systemic_loss: f64,
    /// Whether the fixed point attracts prices on both sides (`Φ'(p*) < 1` for one asset).
    pub stable: bool,
    /// Applications of `Φ` (least, greatest, unique: from its starting prices, the last one
    /// confirming) or bisection halvings (interior) it took.
    pub iterations: u32,
    /// Whether the iteration met [`CLEARING_TOLERANCE`] within `max_iter` (interior: whether
    /// the bisection ended on a fixed point, always true for a reported one).
    pub converged: bool,
}

impl Engine {
    /// The fire-sale clearing equilibria of fund group `family` (its index in the engine's
    /// families) from the state before the first step: the fixed points `p* = Φ(p*)` with
    /// `Φ(p) = impact(S(p))` (see the module documentation; MECHANICS §7.5).
    ///
    /// Returns the least and the greatest fixed point, or one `Unique` point when they
    /// coincide, each after at most `max_iter` applications of `Φ` (`converged` says whether it
    /// met [`CLEARING_TOLERANCE`]). When the group holds a single asset and both converged,
    /// `g(p) = Φ(p) − p` is also scanned at `grid − 1` points evenly inside the interval between
    /// them, and each sign change refined by bisection: a change that ends on a fixed point is
    /// an `Interior` equilibrium (a jump of `Φ` across the diagonal, a threshold's trigger, is
    /// not a fixed point and is not reported). Fixed points within one grid cell of the least or
    /// greatest are not told apart from them. With several assets held only the least and the
    /// greatest are reported. Sorted by price (several assets: the least first).
    ///
    /// Errors: `family` not a fund group; `grid` outside `[2, MAX_GRID]`; `max_iter` 0; a step
    /// already run (the equilibria start from the initial balance sheets); a target group whose
    /// purchases run away ([`Error::Diverged`]).
    pub fn clearing(&self, family: usize, grid: usize, max_iter: u32) -> Result<Vec<Equilibrium>> {
        let Some(Family::Funds(funds)) = self.families.get(family) else {
            return Err(Error::OutOfRange {
                field: "family".to_owned(),
                value: family as f64,
                expected: "the index of a fund group of the scenario",
            });
        };
        if !(2..=MAX_GRID).contains(&grid) {
            return Err(Error::OutOfRange {
                field: "grid".to_owned(),
                value: grid as f64,
                expected: "in [2, 1000000]",
            });
        }
        if max_iter == 0 {
            return Err(Error::OutOfRange {
                field: "max_iter".to_owned(),
                value: 0.0,
                expected: ">= 1",
            });
        }
        if self.sh.step > 0 {
            return Err(Error::Incompatible {
                field: "clearing".to_owned(),
                why: "clearing equilibria start from the initial balance sheets: find them \
                      before the first step",
            });
        }
        let mut start = funds.clone();
        start.protocol = self.first_id[family];
        if !start.started {
            start.start(&self.sh);
        }
        let view = self.sh.views.get(family).map_or(&[][..], Vec::as_slice);
        let problem = Problem::new(&self.sh.market, start, view);
        problem.solve(grid, max_iter)
    }
}

/// One group's clearing problem: the market before any sale, the funds at step 0.
struct Problem<'a> {
    market: &'a Market,
    funds: Funds,
    /// Pegged assets the group reads at the peg, underlyings first.
    view: &'a [usize],
    /// Assets some fund holds.
    held: Vec<usize>,
    /// Prices now (routed mids in quote).
    p0: Vec<f64>,
    /// Σ of the funds' equity at `p0`.
    equity0: f64,
}

impl<'a> Problem<'a> {
    fn new(market: &'a Market, funds: Funds, view: &'a [usize]) -> Self {
        let n = market.n_assets();
        let p0: Vec<f64> = (0..n).map(|a| market.spot(a)).collect();
        let held = (0..n)
            .filter(|&a| (0..funds.n_funds).any(|i| funds.row(i)[a] > 0.0))
            .collect();
        let mut p = Problem {
            market,
            funds,
            view,
            held,
            p0,
            equity0: 0.0,
        };
        p.equity0 = p.equities(&p.p0).iter().sum();
        p
    }

    /// The prices the funds value their holdings at: `p`, with the assets the group reads at
    /// the peg at their peg times their underlying's price.
    fn valuation(&self, p: &[f64]) -> Vec<f64> {
        let mut v = p.to_vec();
        for &a in self.view {
            v[a] = self.market.par(a) * self.market.underlying(a).map_or(1.0, |u| v[u]);
        }
        v
    }

    /// Each fund's equity `H + I − D` at prices `p`.
    fn equities(&self, p: &[f64]) -> Vec<f64> {
        let v = self.valuation(p);
        (0..self.funds.n_funds)
            .map(|i| {
                let (h, il) = self.funds.values(i, &v);
                h + il - self.funds.debt[i]
            })
            .collect()
    }

    /// `S(p)`: net units of every asset the group sells at prices `p` by its own rule.
    fn sales(&self, p: &[f64]) -> Result<Vec<f64>> {
        let v = self.valuation(p);
        let mut f = self.funds.clone();
        let na = f.n_assets;
        let mut sold = vec![0.0; na];
        for i in 0..f.n_funds {
            f.decide(i, &v);
            for (a, s) in sold.iter_mut().enumerate() {
                *s -= f.orders[i * na + a];
            }
        }
        match f.diverged {
            Some(e) => Err(e),
            None => Ok(sold),
        }
    }

    /// The routed mid of every asset after `sold` of each is sold (bought, when negative) on
    /// its venues, from the market before any sale.
    fn impact(&self, sold: &[f64]) -> Vec<f64> {
        let mut m = self.market.clone();
        for (a, &s) in sold.iter().enumerate() {
            if s > 0.0 {
                m.trade(a, Side::Sell, s);
            } else if s < 0.0 {
                m.trade(a, Side::Buy, -s);
            }
        }
        (0..m.n_assets()).map(|a| m.spot(a)).collect()
    }

    fn phi(&self, p: &[f64]) -> Result<Vec<f64>> {
        Ok(self.impact(&self.sales(p)?))
    }

    /// `p ← Φ(p)` from `p` until no price moves by more than [`CLEARING_TOLERANCE`]
    /// (relatively), at most `max_iter` times: the prices, the applications and whether it met
    /// the tolerance.
    fn iterate(&self, mut p: Vec<f64>, max_iter: u32) -> Result<(Vec<f64>, u32, bool)> {
        for k in 1..=max_iter {
            let q = self.phi(&p)?;
            let change = p
                .iter()
                .zip(&q)
                .map(|(&x, &y)| {
                    let scale = x.abs().max(y.abs());
                    if scale > 0.0 {
                        (y - x).abs() / scale
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f64::max);
            p = q;
            if change < CLEARING_TOLERANCE {
                return Ok((p, k, true));
            }
        }
        Ok((p, max_iter, false))
    }

    fn solve(&self, grid: usize, max_iter: u32) -> Result<Vec<Equilibrium>> {
        // Every fund sells everything: no price is lower than Φ's there.
        let na = self.funds.n_assets;
        let mut all = vec![0.0; na];
        for i in 0..self.funds.n_funds {
            for (a, s) in all.iter_mut().enumerate() {
                *s += self.funds.row(i)[a];
            }
        }
        let bottom = self.impact(&all);
        let (mut lo, mut lo_iter, mut lo_ok) = self.iterate(bottom, max_iter)?;
        let (mut hi, mut hi_iter, mut hi_ok) = self.iterate(self.p0.clone(), max_iter)?;
        let same = self
            .held
            .iter()
            .all(|&a| (hi[a] - lo[a]).abs() <= SAME * hi[a].abs().max(lo[a].abs()));
        if same {
            return Ok(vec![self.equilibrium(
                EquilibriumKind::Unique,
                hi,
                true,
                hi_iter,
                lo_ok && hi_ok,
            )?]);
        }
        if let [a] = self.held[..]
            && lo[a] > hi[a]
        {
            // Φ was not monotone here: the lower one is the least found.
            std::mem::swap(&mut lo, &mut hi);
            std::mem::swap(&mut lo_iter, &mut hi_iter);
            std::mem::swap(&mut lo_ok, &mut hi_ok);
        }
        // Stability: the least attracts from above when Φ(p + δ) < p + δ; the greatest from
        // below when Φ(p − δ) > p − δ (each attracts from its own side by construction).
        let delta: Vec<f64> = (0..na)
            .map(|a| {
                if self.held.contains(&a) {
                    PROBE * (hi[a] - lo[a]).abs()
                } else {
                    0.0
                }
            })
            .collect();
        let probe = |p: &[f64], sign: f64| -> Result<bool> {
            let q: Vec<f64> = p.iter().zip(&delta).map(|(x, d)| x + sign * d).collect();
            let f = self.phi(&q)?;
            Ok((0..na)
                .filter(|&a| delta[a] > 0.0)
                .all(|a| sign * (f[a] - q[a]) < 0.0))
        };
        let lo_stable = probe(&lo, 1.0)?;
        let hi_stable = probe(&hi, -1.0)?;
        let mut out = Vec::new();
        if let [a] = self.held[..]
            && lo_ok
            && hi_ok
        {
            for (x, stable, halvings) in self.scan(a, lo[a], hi[a], grid)? {
                let mut p = self.p0.clone();
                p[a] = x;
                let mut prices = self.phi(&p)?;
                prices[a] = x;
                out.push(self.equilibrium(
                    EquilibriumKind::Interior,
                    prices,
                    stable,
                    halvings,
                    true,
                )?);
            }
        }
        out.insert(
            0,
            self.equilibrium(EquilibriumKind::Least, lo, lo_stable, lo_iter, lo_ok)?,
        );
        out.push(self.equilibrium(EquilibriumKind::Greatest, hi, hi_stable, hi_iter, hi_ok)?);
        Ok(out)
    }

    /// The fixed points of `Φ` in asset `a`'s price strictly inside `(lo, hi)`: `g = Φ − p` at
    /// `grid − 1` evenly spaced points, each sign change bisected to the end of the floats. Each
    /// as (price, stable, halvings), by price.
    fn scan(&self, a: usize, lo: f64, hi: f64, grid: usize) -> Result<Vec<(f64, bool, u32)>> {
        let g = |x: f64| -> Result<f64> {
            let mut p = self.p0.clone();
            p[a] = x;
            Ok(self.phi(&p)?[a] - x)
        };
        let xs: Vec<f64> = (1..grid)
            .map(|k| lo + (hi - lo) * (k as f64 / grid as f64))
            .collect();
        let gs = xs.iter().map(|&x| g(x)).collect::<Result<Vec<f64>>>()?;
        let mut out = Vec::new();
        for k in 0..xs.len() {
            if gs[k] == 0.0 {
                let below = k == 0 || gs[k - 1] > 0.0;
                let above = k + 1 == xs.len() || gs[k + 1] < 0.0;
                out.push((xs[k], below && above, 0));
                continue;
            }
            let Some(&next) = gs.get(k + 1) else { break };
            if next == 0.0 || (gs[k] > 0.0) == (next > 0.0) {
                continue;
            }
            let (mut l, mut r) = (xs[k], xs[k + 1]);
            let (mut gl, mut gr) = (gs[k], next);
            let mut halvings = 0;
            while halvings < MAX_BISECTIONS {
                let m = 0.5 * (l + r);
                if m <= l || m >= r {
                    break;
                }
                halvings += 1;
                let gm = g(m)?;
                if gm == 0.0 {
                    (l, r, gl, gr) = (m, m, 0.0, 0.0);
                    break;
                }
                if (gm > 0.0) == (gl > 0.0) {
                    (l, gl) = (m, gm);
                } else {
                    (r, gr) = (m, gm);
                }
            }
            let (x, gx) = if gl.abs() <= gr.abs() {
                (l, gl)
            } else {
                (r, gr)
            };
            if gx.abs() <= ROOT * x.abs() {
                // + below and − above: Φ crosses the diagonal from above, Φ'(p*) < 1.
                out.push((x, gs[k] > 0.0, halvings));
            }
        }
        Ok(out)
    }

    fn equilibrium(
        &self,
        kind: EquilibriumKind,
        prices: Vec<f64>,
        stable: bool,
        iterations: u32,
        converged: bool,
    ) -> Result<Equilibrium> {
        let sold = self.sales(&prices)?;
        let equity = self.equities(&prices);
        let defaulted = equity.iter().map(|&e| e <= 0.0).collect();
        let systemic_loss = self.equity0 - equity.iter().sum::<f64>();
        Ok(Equilibrium {
            kind,
            prices,
            sold,
            equity,
            defaulted,
            systemic_loss,
            stable,
            iterations,
            converged,
        })
    }
}
