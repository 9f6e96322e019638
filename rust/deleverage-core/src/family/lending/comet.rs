//! Comet (Compound v3, MECHANICS §4.6): `absorb`, which takes a breached account's collateral
//! into the protocol, and the storefront, where keepers buy that collateral at a discount while
//! the reserves are below target and sell it on the venues.

use super::accounts::Status;
use super::rules::{Rules, comet_delta_value};
use super::{LendingMarket, Outcome, clear_dust};
use crate::family::shared::{Budget, Shared};
use crate::fill::Side;
use crate::recorder::{Event, EventKind};

impl LendingMarket {
    /// Comet's `absorb` (MECHANICS §4.6): the protocol takes all collateral, credits
    /// `Σ coll·p·liquidationFactor` against the debt, pays any excess to the account in base and
    /// books the shortfall as bad debt; reserves fall by the debt and the credit. One row per
    /// collateral asset; the first carries the debt and the bad debt.
    pub(super) fn absorb(&mut self, sh: &mut Shared, i: usize, round: u32, base: usize) -> Outcome {
        let p = self.acc.protocol[i] as usize;
        let l = &self.protocols[p];
        let h = self.acc.holdings(i);
        if l.health(&h, &sh.px) >= 1.0 {
            return Outcome::Healthy;
        }
        let delta = comet_delta_value(l, &h, &sh.px);
        let pb = sh.px[base];
        let range = self.acc.range(i);
        let debt: f64 = range
            .clone()
            .filter(|&k| self.acc.asset[k] as usize == base)
            .map(|k| self.acc.debt[k])
            .sum();
        let credit = (delta / pb - debt).max(0.0);
        let bad = (debt * pb - delta).max(0.0);
        let mut first = true;
        let mut seized_value = 0.0;
        for k in range {
            let a = self.acc.asset[k] as usize;
            if a == base {
                self.acc.debt[k] = 0.0;
                self.acc.collateral[k] += credit;
                continue;
            }
            let c = self.acc.collateral[k];
            if c <= 0.0 {
                continue;
            }
            self.acc.collateral[k] = 0.0;
            self.protocols[p].treasury[a] += c;
            seized_value += c * sh.px[a];
            // One absorb counts once (on its first collateral row) but values every collateral.
            sh.add_liquidated(a, c * sh.px[a], u32::from(first));
            let mut ev = Event::new(sh.step, round, EventKind::Absorb);
            ev.account = self.original[i];
            ev.protocol = self.first_id + p as u32;
            ev.asset = a as u32;
            ev.collateral_seized = c;
            ev.price_before = sh.market.spot(a);
            ev.price_after = ev.price_before;
            if first {
                ev.debt_asset = base as u32;
                ev.debt_repaid = debt;
                ev.debt_repaid_value = debt * pb;
                ev.bad_debt = bad;
                first = false;
            }
            self.push_event(sh, i, &ev);
        }
        if let Rules::CompoundV3 { reserves, .. } = &mut self.protocols[p].rules {
            *reserves -= debt + credit;
        }
        self.acc.liquidated_notional[i] += seized_value;
        if bad > 0.0 {
            self.acc.status[i] = Status::BadDebt;
            sh.cum_bad_debt += bad;
        } else {
            self.acc.status[i] = Status::Closed;
        }
        Outcome::Done { still: false }
    }

    /// Comet's storefront (MECHANICS §4.6): while a protocol's reserves are below target, keepers
    /// buy absorbed collateral at `p·(1 − storeFrontPriceFactor·(1 − liquidationFactor))` when
    /// the venues would pay at least that plus their margin, and sell it there. A purchase checks
    /// the target at its start and is not capped by it. Returns whether anything was bought.
    pub(super) fn storefront(&mut self, sh: &mut Shared, round: u32, budget: &mut Budget) -> bool {
        let mut bought = false;
        for p in 0..self.protocols.len() {
            let Rules::CompoundV3 {
                base,
                store_front_price_factor,
                target_reserves,
                ..
            } = self.protocols[p].rules
            else {
                continue;
            };
            let base = base as usize;
            for a in 0..sh.market.n_assets() {
                let held = self.protocols[p].treasury[a];
                let reserves = match self.protocols[p].rules {
                    Rules::CompoundV3 { reserves, .. } => reserves,
                    _ => unreachable!("checked above"),
                };
                if a == base || held <= 0.0 || reserves >= target_reserves {
                    continue;
                }
                if budget.spent() {
                    return bought;
                }
                let lf = self.protocols[p].reserves[a].map_or(0.0, |r| r.liquidation_factor);
                let price = sh.px[a] * (1.0 - store_front_price_factor * (1.0 - lf));
                let need = price / (1.0 - sh.cfg.keeper_margin);
                let pays = |q: f64| {
                    let f = sh.market.quote(a, Side::Sell, q);
                    f.is_complete() && f.vwap().is_some_and(|v| v >= need)
                };
                let cap = held.min(budget.notional / price);
                let q = if pays(cap) {
                    cap
                } else if pays(cap * 1e-9) {
                    // Proceeds per unit fall with size: the largest lot that still pays.
                    let (mut lo, mut hi) = (cap * 1e-9, cap);
                    for _ in 0..64 {
                        let mid = 0.5 * (lo + hi);
                        if pays(mid) { lo = mid } else { hi = mid }
                    }
                    lo
                } else {
                    continue;
                };
                let paid = price * q;
                budget.notional -= paid;
                budget.count -= 1;
                self.protocols[p].treasury[a] = clear_dust(held - q, held);
                if let Rules::CompoundV3 { reserves, .. } = &mut self.protocols[p].rules {
                    *reserves += paid / sh.px[base];
                }
                let mut ev = Event::new(sh.step, round, EventKind::Storefront);
                ev.protocol = self.first_id + p as u32;
                ev.asset = a as u32;
                ev.debt_asset = base as u32;
                ev.collateral_seized = q;
                ev.debt_repaid_value = paid;
                ev.price_before = sh.market.spot(a);
                let fill = sh.trade(a, Side::Sell, q);
                ev.qty = fill.filled;
                ev.notional = fill.notional;
                ev.price_after = sh.market.spot(a);
                sh.ledger.keepers_paid += paid;
                sh.ledger.keepers_received += fill.notional;
                sh.ledger.sold[a] += fill.filled;
                sh.events.push(&ev);
                bought = true;
            }
        }
        bought
    }
}
