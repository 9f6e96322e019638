//! Margin in other assets than the quote (issue 18; Binance's Multi-Assets Mode): a cross pool
//! may hold units of the exchange's margin assets beside its quote wallet. They count in its
//! equity at the exchange's oracle price (for a pegged asset: the market or the peg, as the
//! exchange reads it) times their collateral value ratio, and when a liquidation leaves the
//! quote wallet negative the exchange sells them on their venues ("auto exchange"), each in
//! proportion to its value, so a perp liquidation sells its margin asset into that asset's
//! pools. What the sales do not cover the insurance fund pays; the rest is written off as bad
//! debt.
//!
//! A pool whose positions are all closed withdraws its wallet and its margin assets if the
//! wallet is zero or more. With a negative wallet backed by its assets (a sale that found no
//! venue or depth, an ADL counterparty's loss) it stays open with no position, tested every
//! round: liquidated once its equity is negative, and, once liquidated, its sale is tried again
//! every round.

use super::{Exchange, PoolStatus};
use crate::family::shared::Shared;
use crate::fill::Side;
use crate::recorder::EventKind;

/// Units of one margin asset (index `k` into the exchange's `margin_assets`) in pool `pool`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Held {
    pub pool: u32,
    pub k: u32,
    pub units: f64,
}

impl Exchange {
    /// Adds `units` of margin asset `k` to pool `pool` (pools are built in order: the list stays
    /// sorted by pool, then by first posting).
    pub(super) fn hold(&mut self, pool: u32, k: u32, units: f64) {
        self.ledger.collateral[k as usize].initial += units;
        if let Some(h) = self
            .held
            .iter_mut()
            .rev()
            .take_while(|h| h.pool == pool)
            .find(|h| h.k == k)
        {
            h.units += units;
        } else {
            self.held.push(Held { pool, k, units });
        }
    }

    /// The positions in `held` of pool `p`'s margin assets.
    #[inline]
    fn held_range(&self, p: usize) -> std::ops::Range<usize> {
        if self.held.is_empty() {
            return 0..0;
        }
        let p = p as u32;
        let start = self.held.partition_point(|h| h.pool < p);
        let end = start + self.held[start..].partition_point(|h| h.pool == p);
        start..end
    }

    /// Pool `p`'s margin assets (units of zero included).
    #[inline]
    pub(super) fn held(&self, p: usize) -> &[Held] {
        &self.held[self.held_range(p)]
    }

    /// Whether pool `p` holds units of a margin asset.
    #[inline]
    pub(super) fn holds_assets(&self, p: usize) -> bool {
        self.held(p).iter().any(|h| h.units > 0.0)
    }

    /// Pool `p`'s margin assets at the prices `px` times their collateral value ratio.
    #[inline]
    pub(super) fn held_value(&self, p: usize, px: &[f64]) -> f64 {
        self.held(p)
            .iter()
            .map(|h| {
                let m = &self.cfg.margin_assets[h.k as usize];
                h.units * px[m.asset as usize] * m.ratio
            })
            .sum()
    }

    /// How pool `p`'s equity moves with an asset's price through its margin assets, `moves`
    /// saying how each asset's price moves with it: Σ units·ratio·moves.
    pub(super) fn held_slope(&self, p: usize, moves: &[f64]) -> f64 {
        self.held(p)
            .iter()
            .map(|h| {
                let m = &self.cfg.margin_assets[h.k as usize];
                h.units * m.ratio * moves[m.asset as usize]
            })
            .sum()
    }

    /// The backstop vault takes pool `p`'s margin assets with its wallet.
    pub(super) fn hand_over_assets(&mut self, p: usize) {
        let range = self.held_range(p);
        for h in &mut self.held[range] {
            self.ledger.collateral[h.k as usize].backstop += h.units;
            h.units = 0.0;
        }
    }

    /// Pool `p` holds no position any more: it closes, and its wallet leaves the exchange with
    /// its margin assets, unless the wallet is negative and backed by them: then it stays, a
    /// quote debt against its assets, tested every round (liquidated once its equity is
    /// negative; see the module's note).
    pub(super) fn close_pool(&mut self, p: usize) {
        if !self.held.is_empty() && self.wallet[p] < 0.0 && self.holds_assets(p) {
            return;
        }
        self.status[p] = PoolStatus::Closed;
        self.ledger.withdrawn += self.wallet[p];
        self.wallet[p] = 0.0;
        if self.held.is_empty() {
            return;
        }
        let range = self.held_range(p);
        for h in &mut self.held[range] {
            self.ledger.collateral[h.k as usize].withdrawn += h.units;
            h.units = 0.0;
        }
    }

    /// After pool `p`'s liquidation orders: a negative quote wallet is covered by selling its
    /// margin assets on their venues, each for its share of the deficit by value at the oracle
    /// (Binance's proportional auto exchange), then what is still missing from any asset left.
    /// A pool that holds no position any more and is still short has the insurance fund pay
    /// the rest, and the exchange writes off what the fund cannot.
    /// Whether anything was sold or settled.
    pub(super) fn cover_wallet(&mut self, sh: &mut Shared, id: u32, round: u32, p: usize) -> bool {
        let need0 = -self.wallet[p];
        if need0 <= 0.0 {
            return false;
        }
        let mut acted = false;
        let range = self.held_range(p);
        let values: Vec<f64> = self.held[range.clone()]
            .iter()
            .map(|h| {
                let m = &self.cfg.margin_assets[h.k as usize];
                h.units * sh.px[m.asset as usize] * m.ratio
            })
            .collect();
        let total: f64 = values.iter().sum();
        for pass in 0..2 {
            for (n, i) in range.clone().enumerate() {
                let need = -self.wallet[p];
                // Float residue of the first pass is not a sale.
                if need <= 1e-12 * need0 {
                    break;
                }
                let target = if pass == 0 && total > 0.0 {
                    (need0 * values[n] / total).min(need)
                } else {
                    need
                };
                acted |= self.sell_held(sh, id, round, p, i, target);
            }
        }
        if self.wallet[p] < 0.0 && !self.is_open(p) && !self.holds_assets(p) {
            acted = true;
            let short = -self.wallet[p];
            let paid = short.min(self.fund);
            let a = self.first_asset(p);
            if paid > 0.0 {
                self.fund -= paid;
                self.ledger.deficits += paid;
                let mut pay = sh.event(round, EventKind::InsurancePayment, id, self.owner[p], a);
                pay.insurance_change = -paid;
                sh.events.push(&pay);
            }
            let lost = short - paid;
            if lost > 0.0 {
                self.ledger.bad_debt += lost;
                self.ledger.written_off += lost;
                sh.cum_bad_debt += lost;
                let mut ev = sh.event(round, EventKind::BadDebt, id, self.owner[p], a);
                ev.bad_debt = lost;
                sh.events.push(&ev);
            }
            self.wallet[p] = 0.0;
        }
        acted
    }

    /// Whether pool `p` was liquidated and still owes quote against its margin assets, its
    /// positions all closed (a sale that found no venue, or not enough depth): its sale is
    /// tried again every round, as Binance converts a liquidated account's assets at once.
    #[inline]
    pub(super) fn awaits_cover(&self, p: usize) -> bool {
        !self.held.is_empty()
            && self.status[p] == PoolStatus::Liquidated
            && self.wallet[p] < 0.0
            && self.holds_assets(p)
            && !self.is_open(p)
    }

    /// Sells of `held[i]` (pool `p`'s) the least that brings `target` quote (all of it if it
    /// brings less), on the asset's venues.
    fn sell_held(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        p: usize,
        i: usize,
        target: f64,
    ) -> bool {
        let h = self.held[i];
        if !(h.units > 0.0 && target > 0.0) {
            return false;
        }
        let a = self.cfg.margin_assets[h.k as usize].asset as usize;
        let full = sh.market.quote(a, Side::Sell, h.units);
        let x = if full.notional <= target {
            full.filled
        } else {
            // Proceeds grow with the size: bisect for the least size that brings the target.
            let (mut lo, mut hi) = (0.0, h.units);
            for _ in 0..64 {
                let mid = 0.5 * (lo + hi);
                if sh.market.quote(a, Side::Sell, mid).notional < target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            hi
        };
        if x <= 0.0 {
            return false;
        }
        let before = sh.market.spot(a);
        let fill = sh.trade(a, Side::Sell, x);
        if fill.filled <= 0.0 {
            return false;
        }
        let left = h.units - fill.filled;
        self.held[i].units = if left <= 1e-12 * h.units { 0.0 } else { left };
        self.wallet[p] += fill.notional;
        self.index.touch(p);
        self.ledger.collateral[h.k as usize].sold += fill.filled;
        self.ledger.collateral_quote_in += fill.notional;
        // Forced flow of the asset (valued at its oracle), not a liquidation of its own.
        sh.add_liquidated(a, fill.filled * sh.px[a], 0);
        let mut ev = sh.event(round, EventKind::CollateralSale, id, self.owner[p], a);
        ev.qty = fill.filled;
        ev.notional = fill.notional;
        ev.price_before = before;
        ev.price_after = sh.market.spot(a);
        sh.events.push(&ev);
        true
    }

    /// The asset of pool `p`'s first position (an event's asset when it names none of its own).
    pub(super) fn first_asset(&self, p: usize) -> usize {
        let first = (self.offsets[p] as usize..self.offsets[p + 1] as usize)
            .find(|&j| self.size[j] != 0.0)
            .unwrap_or(self.offsets[p] as usize);
        self.asset(first)
    }
}
