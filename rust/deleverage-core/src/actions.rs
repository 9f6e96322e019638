//! What the engine's user does between steps (DESIGN §5, `dl.Engine`): own orders on the
//! venues, manual liquidations under each family's own rules (lending, Maker's `take`, a perp
//! liquidation taker), the liquidation prices of open accounts, and a replay's book refreshes.
//! The step loop itself is `engine.rs`.

use crate::engine::Engine;
use crate::error::{self, Error, Result};
use crate::family::lending::ManualLiquidation;
use crate::family::{Family, ForcedSeller, LiquidationPrices};
use crate::fill::{Fill, Side};
use crate::recorder::{EventKind, NONE};
use crate::venue::AnyVenue;

impl Engine {
    /// An order of the engine's user, between steps: `qty` of asset `a` sold or bought across
    /// its venues at best execution (or on venue `venue` alone), as a marketable limit order
    /// when `limit` is given (it trades only while the marginal price is no worse than `limit`).
    /// It moves the venues and a spot oracle like any flow, so the next step's rounds see it;
    /// it is recorded as a `user_sell`/`user_buy` event of the coming step.
    pub fn submit(
        &mut self,
        a: usize,
        side: Side,
        qty: f64,
        venue: Option<usize>,
        limit: Option<f64>,
    ) -> Result<Fill> {
        let n = self.sh.market.n_assets();
        if a >= n {
            return Err(Error::OutOfRange {
                field: "asset".to_owned(),
                value: a as f64,
                expected: "the index of an asset of the scenario",
            });
        }
        error::non_negative("qty", qty)?;
        let venues = self.sh.market.venues(a).len();
        if let Some(k) = venue
            && k >= venues
        {
            return Err(Error::OutOfRange {
                field: "venue".to_owned(),
                value: k as f64,
                expected: "the index of one of the asset's venues",
            });
        }
        let asked = qty;
        let qty = match limit {
            Some(p) => qty.min(self.sh.market.capacity_to(
                a,
                venue,
                side,
                error::positive("limit", p)?,
            )),
            None => qty,
        };
        let kind = match side {
            Side::Sell => EventKind::UserSell,
            Side::Buy => EventKind::UserBuy,
        };
        let mut ev = self.sh.event(0, kind, NONE, NONE, a);
        let fill = match venue {
            Some(k) => {
                let f = self.sh.market.trade_on(a, k, side, qty);
                if f.filled > 0.0 && self.sh.market.venues(a).len() > 1 {
                    let event = self.sh.events.len() as u32;
                    self.sh.record_fill(event, a, k, side, &f);
                }
                self.sh.reread_spot(a);
                f
            }
            None => self.sh.trade(a, side, qty),
        };
        ev.qty = fill.filled;
        ev.notional = fill.notional;
        ev.price_after = self.sh.market.spot(a);
        self.sh.events.push(&ev);
        // A limit order reports against what was asked: the part beyond the limit is unfilled.
        let mut fill = fill;
        fill.requested = asked;
        Ok(fill)
    }

    /// A liquidation by the engine's user between steps, of lending account `account` (its id
    /// in event rows): see `LendingMarket::liquidate_manual`.
    pub fn liquidate(
        &mut self,
        account: u32,
        debt_asset: usize,
        collateral_asset: usize,
        amount: f64,
    ) -> Result<ManualLiquidation> {
        let n = self.sh.market.n_assets();
        for (field, a) in [
            ("debt_asset", debt_asset),
            ("collateral_asset", collateral_asset),
        ] {
            if a >= n {
                return Err(Error::OutOfRange {
                    field: field.to_owned(),
                    value: a as f64,
                    expected: "the index of an asset of the scenario",
                });
            }
        }
        // Between steps the user acts in the coming step, under its outages.
        if !self.outages.is_empty() {
            self.sh.outage = self.outage_state(self.sh.step);
        }
        for (k, f) in self.families.iter_mut().enumerate() {
            if let Family::Lending(l) = f
                && l.holds(account)
            {
                // The protocol reads pegged assets as it does in the step loop.
                self.sh.set_acting(k);
                let out =
                    l.liquidate_manual(&mut self.sh, account, debt_asset, collateral_asset, amount);
                self.sh.set_view(None);
                return out;
            }
        }
        Err(Error::Refused {
            account,
            why: "is not a lending account".to_owned(),
        })
    }

    /// `Clipper.take` by the engine's user of auction `auction` of the Maker system that is
    /// family `family` (its index in the scenario): see `Vaults::take_manual`. Returns the
    /// collateral bought and what it owed.
    pub fn take(
        &mut self,
        family: usize,
        auction: usize,
        amt: f64,
        max_price: f64,
    ) -> Result<(f64, f64)> {
        let id = self.first_id.get(family).copied();
        match (self.families.get_mut(family), id) {
            (Some(Family::Vaults(v)), Some(id)) => {
                self.sh.set_acting(family);
                let out = v.take_manual(&mut self.sh, id, auction, amt, max_price);
                self.sh.set_view(None);
                out
            }
            _ => Err(Error::OutOfRange {
                field: "family".to_owned(),
                value: family as f64,
                expected: "the index of a Maker system of the scenario",
            }),
        }
    }

    /// The engine's user taking the liquidation order of position row `row` of the perp exchange
    /// that is family `family`: see `Exchange::liquidate_manual`. Returns the quantity closed and
    /// the clearance fee.
    pub fn liquidate_position(
        &mut self,
        family: usize,
        row: u32,
        qty: f64,
        price: f64,
    ) -> Result<(f64, f64)> {
        let id = self.first_id.get(family).copied();
        match (self.families.get_mut(family), id) {
            (Some(Family::Perps(x)), Some(id)) => {
                self.sh.set_acting(family);
                let out = x.liquidate_manual(&mut self.sh, id, row, qty, price);
                self.sh.set_view(None);
                out
            }
            _ => Err(Error::OutOfRange {
                field: "family".to_owned(),
                value: family as f64,
                expected: "the index of a perp exchange of the scenario",
            }),
        }
    }

    /// For asset `a`: the price at which every open account exposed to it would breach its
    /// family's rule, the other prices at the oracle's except those of the assets pegged to `a`
    /// (directly or down a chain), which move with it at their peg ratio (one table per
    /// family, in order). A family that reads `a` at its peg does not see `a`'s market price:
    /// none of its accounts breaches by it.
    pub fn liquidation_prices(&self, a: usize) -> Result<Vec<LiquidationPrices>> {
        if a >= self.sh.market.n_assets() {
            return Err(Error::OutOfRange {
                field: "asset".to_owned(),
                value: a as f64,
                expected: "the index of an asset of the scenario",
            });
        }
        Ok(self
            .families
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let mut out = LiquidationPrices::default();
                let px = self.sh.px_of(k);
                let moves = self.moves_with(a, &px, k);
                f.liquidation_prices(a, &px, &moves, &mut out);
                out
            })
            .collect())
    }

    /// How each asset's price, as family `k` reads it at the prices `px`, moves with asset
    /// `a`'s market price: 1 for `a` (0 if the family reads `a` at its peg), `p_b/p_a` for an
    /// asset pegged to `a` down its chain (its price is its peg ratio times `a`'s, at the market
    /// or the peg), 0 for the others.
    fn moves_with(&self, a: usize, px: &[f64], k: usize) -> Vec<f64> {
        let m = &self.sh.market;
        (0..m.n_assets())
            .map(|b| {
                let mut u = Some(b);
                // A chain is at most as long as there are assets (cycles are refused).
                for _ in 0..=m.n_assets() {
                    match u {
                        Some(x) if x == a => {
                            return if b == a {
                                if self.sh.reads_at_peg(k, a) { 0.0 } else { 1.0 }
                            } else if px[a] <= 0.0 {
                                1.0
                            } else {
                                px[b] / px[a]
                            };
                        }
                        Some(x) => u = m.underlying(x),
                        None => break,
                    }
                }
                0.0
            })
            .collect()
    }

    /// Replaces the resting baseline of order book `k` of asset `a` by a recorded snapshot
    /// (see [`crate::venue::OrderBook::refresh`]).
    pub fn refresh_book(&mut self, a: usize, k: usize, r: &crate::scenario::Refresh) -> Result<()> {
        self.sh.market.with_venue(a, k, |v| match v {
            AnyVenue::Book(b) => b.refresh(&r.bid_px, &r.bid_qty, &r.ask_px, &r.ask_qty, r.at),
            _ => Err(Error::OutOfRange {
                field: "venue".to_owned(),
                value: k as f64,
                expected: "the index of one of the asset's order books",
            }),
        })?;
        self.sh.reread_spot(a);
        Ok(())
    }
}
