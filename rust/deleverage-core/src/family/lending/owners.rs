//! Owners keeping their lending accounts at a target health factor (issue 18): they repay
//! debt from their free cash and, without it, sell collateral to repay.

use super::LendingMarket;
use super::accounts::Status;
use crate::engine::Owners;
use crate::family::shared::Shared;
use crate::fill::Side;
use crate::recorder::{Event, EventKind, SequencerState};

/// How far below its target (relatively) an account must be for its owner to act: rounding is
/// not a shortfall.
const TARGET_TOLERANCE: f64 = 1e-9;
/// Halvings of a sale that would lower the account's health before the owner gives up.
const SALE_HALVINGS: u32 = 30;

/// The slot of the largest of `values` (the first of equals).
fn largest(values: impl Iterator<Item = f64>) -> Option<usize> {
    values
        .enumerate()
        .filter(|&(_, v)| v > 0.0)
        .fold(None, |best: Option<(usize, f64)>, (k, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((k, v)),
        })
        .map(|(k, _)| k)
}

impl LendingMarket {
    /// The accounts (storage indices) whose owner has a lending policy.
    pub fn owned_by(&self, owners: &Owners) -> Vec<u32> {
        (0..self.acc.len() as u32)
            .filter(|&i| {
                owners
                    .of(self.original[i as usize])
                    .is_some_and(|o| owners.specs[o].target_health.is_some())
            })
            .collect()
    }

    /// Before the round's scan, for every owned account below its owner's target health factor
    /// `h*` (at the oracle prices, as the protocol reads them), with `W` the threshold-weighted
    /// collateral and `B` the debt, both in quote:
    ///
    /// 1. the owner repays `R = B − W/h*` of its largest debt from its free cash (as much as it
    ///    has), which brings the account to `h*`;
    /// 2. if the cash fell short, it sells `q = (h*·B' − W)/(p·(h* − LT))` units of its largest
    ///    collateral (price `p`, threshold `LT`, `B'` the debt left) on the venues and repays
    ///    with what the sale brings (any excess goes to its cash). The sale is sized so that, by
    ///    the venues' quote, the account's health after it, with the collateral left valued at
    ///    the lower of the oracle and the sale's last price, is no lower than before: `q` is
    ///    halved until it is (a sale that cannot be made so is left to the liquidators).
    ///
    /// At fixed prices both raise the health factor (for one collateral and one debt, a sale
    /// raises it exactly when it lowers τ), so the trigger index's τ stays conservative. While
    /// an L2 sequencer is down the owner of an account on a protocol behind the
    /// PriceOracleSentinel cannot transact either. `k` is the family's index.
    pub fn support_owners(&mut self, sh: &mut Shared, round: u32, owners: &mut Owners, k: usize) {
        for n in 0..owners.owned.get(k).map_or(0, Vec::len) {
            let i = owners.owned[k][n] as usize;
            let id = self.original[i];
            let Some(o) = owners.of(id) else { continue };
            let Some(target) = owners.specs[o].target_health else {
                continue;
            };
            if matches!(self.acc.status[i], Status::Closed | Status::BadDebt) {
                continue;
            }
            let l = &self.protocols[self.acc.protocol[i] as usize];
            if l.sentinel && sh.outage.sequencer == SequencerState::Down {
                continue;
            }
            let h = self.acc.holdings(i);
            let (w, b) = l.weighted(&h, &sh.px);
            if b <= 0.0 || w / b >= target * (1.0 - TARGET_TOLERANCE) {
                continue;
            }
            let Some(dk) =
                largest((0..h.asset.len()).map(|k| h.debt[k] * sh.px[h.asset[k] as usize]))
            else {
                continue;
            };
            let base = self.acc.offsets[i] as usize;
            let da = h.asset[dk] as usize;
            let pd = sh.px[da];
            // 1. Cash.
            let need = b - w / target;
            let cash = need.min(owners.cash[o]).min(h.debt[dk] * pd);
            if cash > 0.0 {
                owners.cash[o] -= cash;
                let units = cash / pd;
                self.acc.debt[base + dk] = (self.acc.debt[base + dk] - units).max(0.0);
                let mut ev = Event::new(sh.step, round, EventKind::OwnerRepay);
                ev.account = id;
                ev.protocol = self.first_id + self.acc.protocol[i];
                ev.asset = da as u32;
                ev.debt_asset = da as u32;
                ev.debt_repaid = units;
                ev.debt_repaid_value = cash;
                ev.price_before = sh.market.spot(da);
                ev.price_after = ev.price_before;
                sh.events.push(&ev);
            }
            if cash >= need * (1.0 - TARGET_TOLERANCE) {
                continue;
            }
            // 2. A sale of collateral, repaid with its proceeds.
            let l = &self.protocols[self.acc.protocol[i] as usize];
            let h = self.acc.holdings(i);
            let (w, b) = l.weighted(&h, &sh.px);
            let Some(ck) =
                largest((0..h.asset.len()).map(|k| {
                    h.collateral[k] * sh.px[h.asset[k] as usize] * l.threshold(h.asset[k])
                }))
            else {
                continue;
            };
            let ca = h.asset[ck] as usize;
            let (p, lt) = (sh.px[ca], l.threshold(ca as u32));
            let mut q = ((target * b - w) / (p * (target - lt))).min(h.collateral[ck]);
            if q.is_nan() || q <= 0.0 {
                continue;
            }
            // The health after the sale, the collateral left at the lower of the oracle and
            // the sale's last price (an oracle that follows the market falls with the sale).
            let health_after = |quote: &crate::fill::Fill| {
                let p1 = quote.last_price.map_or(p, |x| x.min(p));
                let w1 =
                    w - h.collateral[ck] * p * lt + (h.collateral[ck] - quote.filled) * p1 * lt;
                let b1 = b - quote.notional.min(h.debt[dk] * pd);
                if b1 > 0.0 { w1 / b1 } else { f64::INFINITY }
            };
            let mut ok = false;
            for _ in 0..SALE_HALVINGS {
                let quote = sh.market.quote(ca, Side::Sell, q);
                if quote.filled > 0.0 && health_after(&quote) > w / b {
                    ok = true;
                    break;
                }
                q *= 0.5;
            }
            if !ok {
                continue;
            }
            let before = sh.market.spot(ca);
            let fill = sh.trade(ca, Side::Sell, q);
            let repaid_value = fill.notional.min(self.acc.debt[base + dk] * pd);
            self.acc.collateral[base + ck] =
                (self.acc.collateral[base + ck] - fill.filled).max(0.0);
            self.acc.debt[base + dk] = (self.acc.debt[base + dk] - repaid_value / pd).max(0.0);
            owners.cash[o] += fill.notional - repaid_value;
            owners.traded = true;
            if let Some(x) = sh.owner_sold.get_mut(ca) {
                *x += fill.notional;
            }
            let mut ev = Event::new(sh.step, round, EventKind::OwnerSale);
            ev.account = id;
            ev.protocol = self.first_id + self.acc.protocol[i];
            ev.asset = ca as u32;
            ev.debt_asset = da as u32;
            ev.qty = fill.filled;
            ev.notional = fill.notional;
            ev.debt_repaid = repaid_value / pd;
            ev.debt_repaid_value = repaid_value;
            ev.price_before = before;
            ev.price_after = sh.market.spot(ca);
            sh.events.push(&ev);
        }
    }
}
