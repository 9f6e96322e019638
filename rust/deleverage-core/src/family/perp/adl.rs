//! Auto-deleveraging (MECHANICS §6.4): what the book and the insurance fund could not take is
//! closed against opposite positions of the same market at the bankruptcy price, down the
//! exchange's ranking; what nobody can take, the exchange absorbs.

use rand::RngExt;

use super::{AdlOrder, AdlRanking, Exchange, Position, adl_score};
use crate::family::shared::Shared;
use crate::recorder::EventKind;

impl Exchange {
    /// Auto-deleveraging of `rest` of position `j` at `bp` against opposite positions of the
    /// same market, down the ranking (MECHANICS §6.4).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn deleverage(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        p: usize,
        j: usize,
        rest: f64,
        bp: f64,
    ) -> bool {
        let s = self.size[j];
        let side = s.signum();
        let m = self.market[j] as usize;
        let a = self.asset(j);
        let slot = 2 * m + usize::from(side > 0.0);
        if self.ranking[slot].is_none() {
            self.ranking[slot] = Some(self.rank(m, -side, &sh.px));
        }
        let list = self.ranking[slot].take().unwrap_or_default();
        let start = match self.cfg.adl {
            AdlOrder::Dydx if !list.is_empty() => sh.rng.random_range(0..list.len()),
            _ => {
                let mut c = self.cursor[slot];
                while c < list.len() && self.size[list[c] as usize] == 0.0 {
                    c += 1;
                }
                self.cursor[slot] = c;
                c
            }
        };
        let mut left = rest;
        let mut cut_total = 0.0;
        for t in 0..list.len() {
            if left <= 0.0 {
                break;
            }
            let k = list[(start + t) % list.len()] as usize;
            let sk = self.size[k];
            if sk == 0.0 || sk.signum() == side || self.pool_of[k] as usize == p {
                continue;
            }
            let pk = self.pool_of[k] as usize;
            // A counterparty is closed at BP; one whose pool would have negative equity at that
            // price is bankrupt there itself (its loss would exceed its margin): it is not a
            // counterparty but a liquidation of its own.
            let solvent = if self.cross[pk] {
                self.solvent_at(pk, m, bp, &sh.px)
            } else {
                // An isolated pool: this one position and no margin asset (`solvent_at`'s sum
                // with one term).
                self.wallet[pk] + sk * (bp - self.entry[k]) >= 0.0
            };
            if !solvent {
                continue;
            }
            let cut = left.min(sk.abs());
            let realized = sk.signum() * cut * (bp - self.entry[k]);
            if !self.cross[pk] {
                // The closed fraction's margin returns to the trader's wallet (§6.4 Choice).
                let back = self.wallet[pk] * cut / sk.abs();
                self.wallet[pk] -= back;
                self.ledger.withdrawn += back;
            }
            self.book_close(pk, k, cut, realized);
            self.adl_qty[k] += cut;
            if self.size[k] == 0.0
                && (self.offsets[pk] as usize..self.offsets[pk + 1] as usize)
                    .all(|i| self.size[i] == 0.0)
            {
                self.close_pool(pk);
            }
            left -= cut;
            cut_total += cut;
            self.ledger.adl_counterparty_qty += cut;
            self.ledger.adl_count += 1;
            self.ledger.adl_notional += cut * bp;
            let mut ev = sh.event(round, EventKind::Adl, id, self.owner[pk], a);
            ev.qty = cut;
            ev.notional = cut * bp;
            ev.realized_pnl = realized;
            sh.events.push(&ev);
        }
        self.ranking[slot] = Some(list);
        if cut_total > 0.0 {
            // The bankrupt side closes what was matched at BP: its equity share there is zero.
            let realized = side * cut_total * (bp - self.entry[j]);
            self.book_close(p, j, cut_total, realized);
            self.adl_qty[j] += cut_total;
            self.ledger.adl_bankrupt_qty += cut_total;
            sh.count_liquidation(a, cut_total * sh.px[a]);
        }
        if left > 1e-12 * rest {
            self.absorb(sh, id, round, p, j, left, bp);
        }
        true
    }

    /// Whether pool `p` keeps a non-negative equity with market `m` marked at `price` (the other
    /// markets at the oracle prices `px`).
    fn solvent_at(&self, p: usize, m: usize, price: f64, px: &[f64]) -> bool {
        let mut e = self.wallet[p] + self.held_value(p, px);
        for i in self.offsets[p] as usize..self.offsets[p + 1] as usize {
            let s = self.size[i];
            if s != 0.0 {
                let mark = if self.market[i] as usize == m {
                    price
                } else {
                    px[self.asset(i)]
                };
                e += s * (mark - self.entry[i]);
            }
        }
        e >= 0.0
    }

    /// What neither the book, the fund nor ADL could take: the exchange itself takes the rest of
    /// the position at the bankruptcy price (the trader's share of equity there is zero) and
    /// carries its loss to the mark, `side·q·(BP − mark)`, as bad debt.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn absorb(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        p: usize,
        j: usize,
        q: f64,
        bp: f64,
    ) {
        let s = self.size[j];
        let side = s.signum();
        let a = self.asset(j);
        let m = self.market[j] as usize;
        let realized = side * q * (bp - self.entry[j]);
        self.book_close(p, j, q, realized);
        self.unresolved[j] += q;
        self.ledger.unresolved_qty += q;
        self.absorbed_size[m] += side * q;
        self.absorbed_cost[m] += side * q * bp;
        let loss = (side * q * (bp - sh.px[a])).max(0.0);
        self.ledger.bad_debt += loss;
        sh.cum_bad_debt += loss;
        sh.count_liquidation(a, q * sh.px[a]);
        let mut ev = sh.event(round, EventKind::BadDebt, id, self.owner[p], a);
        ev.qty = q;
        ev.notional = q * bp;
        ev.realized_pnl = realized;
        ev.bad_debt = loss;
        sh.events.push(&ev);
    }

    /// Open positions of market `m` on side `side`, highest ADL priority first.
    fn rank(&self, m: usize, side: f64, px: &[f64]) -> Vec<u32> {
        // Sorted by one integer key, `score` descending then owner and position ascending, a
        // total order (the positions are distinct): the order of comparing the three in turn.
        let mut v: Vec<u128> = (0..self.size.len())
            .filter(|&k| self.market[k] as usize == m && self.size[k] * side > 0.0)
            .map(|k| {
                let p = self.pool_of[k] as usize;
                let score = match self.cfg.adl {
                    AdlOrder::Ranked(rule) => self.score(rule, k, px),
                    AdlOrder::Dydx => 0.0,
                };
                let descending = !total_order_bits(score);
                (u128::from(descending) << 64) | (u128::from(self.owner[p]) << 32) | k as u128
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|key| key as u32).collect()
    }

    /// ADL score of position `k` (§6.4); in a cross pool the position's equity is its share of
    /// the pool's equity by maintenance margin, and Binance's WB, uPnL and MM are the pool's.
    fn score(&self, rule: AdlRanking, k: usize, px: &[f64]) -> f64 {
        let p = self.pool_of[k] as usize;
        let (e, mm) = self.pool_state(p, px);
        if rule == AdlRanking::Binance {
            // Binance's wallet balance counts the margin assets at their collateral value.
            let wb = self.wallet[p] + self.held_value(p, px);
            let upnl = e - wb;
            return if wb + upnl <= 0.0 {
                0.0
            } else {
                upnl.max(0.0) / wb.max(1.0) * mm / (wb + upnl)
            };
        }
        let a = self.asset(k);
        let mark = px[a];
        let s = self.size[k];
        let share = self.share(p, k, px, e, mm);
        let pos = Position {
            side: s.signum(),
            qty: s.abs(),
            entry: self.entry[k],
            // Margin such that the position's equity at `mark` is its share of the pool's.
            margin: e * share - s * (mark - self.entry[k]),
        };
        adl_score(
            rule,
            &pos,
            mark,
            &self.cfg.markets[self.market[k] as usize].brackets,
        )
    }
}

/// `x`'s bits as an unsigned integer in the order of [`f64::total_cmp`]: negatives (sign bit
/// set) flipped whole, so that more negative is smaller; positives with the sign bit set, so
/// that they follow every negative.
#[inline]
fn total_order_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

#[cfg(test)]
mod tests {
    use super::total_order_bits;

    #[test]
    fn the_bits_order_as_total_cmp_orders() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            1.0,
            2.5,
            f64::INFINITY,
            f64::NAN,
        ];
        for a in xs {
            for b in xs {
                assert_eq!(
                    total_order_bits(a).cmp(&total_order_bits(b)),
                    a.total_cmp(&b),
                    "{a} {b}"
                );
            }
        }
    }
}
