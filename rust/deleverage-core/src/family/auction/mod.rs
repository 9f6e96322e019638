//! Maker Liquidations 2.0 (MECHANICS §5): one Maker system, a `Dog` with its global limit `Hole`
//! and the DAI it has out in auctions `Dirt`, one ilk (collateral type) per asset with its
//! `Clipper`, and the vaults as struct-of-arrays.
//!
//! Each round the Dog barks every unsafe vault (§5.1), then every running auction is reset when
//! it needs it (§5.2 `redo`) or offered to a keeper who takes it when the venues pay enough
//! (§5.2 `take`, §5.4). Prices decay along the Clipper's curve (§5.3). `par = 1`; the OSM price
//! of an ilk is the oracle price of its asset (give the asset a `Delayed` oracle to model the OSM).
//!
//! Amounts are plain floats (MECHANICS §1.2): DAI amounts (`tab`, `dust`, `Hole`, `tip`) in quote,
//! `rate`, `chop`, `buf`, `cut`, `cusp`, `chip` as multipliers or fractions.

mod clip;

pub use clip::*;
use clip::{has_room, limit};

use crate::error::{self, Error, Result};
use crate::family::shared::{
    Breach, Breaches, Budget, ForcedSeller, LiquidationPrices, RoundOutcome, Shared, at_least,
};
use crate::fill::Side;
use crate::recorder::{EventKind, Table, Value, Values};

/// One Maker system: the Dog, its ilks and Clippers, and the vaults (MECHANICS §5).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Vaults {
    /// Dog's global limit and the DAI out in all auctions.
    hole: f64,
    dirt: f64,
    ilks: Vec<Ilk>,
    owner: Vec<u32>,
    ilk: Vec<u32>,
    ink: Vec<f64>,
    art: Vec<f64>,
    /// Per vault: barks, running auctions, Σ dink, Σ lot returned, Σ owe, bad debt.
    barks: Vec<u32>,
    running: Vec<u32>,
    auctioned: Vec<f64>,
    returned: Vec<f64>,
    recovered: Vec<f64>,
    bad_debt: Vec<f64>,
    auctions: Vec<Auction>,
    /// Indices of running auctions, in kick order.
    active: Vec<u32>,
    /// Quote flows: keepers' owe paid to the vow, keepers' venue receipts, coins the vow paid.
    keepers_paid: f64,
    keepers_received: f64,
    coins_paid: f64,
    /// Per ilk: collateral keepers took and sold, and collateral returned to owners.
    keepers_took: Vec<f64>,
    keepers_sold: Vec<f64>,
    collateral_returned: Vec<f64>,
    /// Bark candidates of a round (reused).
    scratch: Vec<(f64, u32, u32)>,
}

impl Vaults {
    /// A Maker system with the Dog's `hole` (global `Hole`, `>= 0`, may be infinite) and current
    /// `dirt`, its `ilks`, and one vault per row: `owner` id, `ilk` index, collateral `ink` and
    /// normalised debt `art` (the vault owes `art·rate`). Every field is checked here; the rounds
    /// never fail.
    pub fn new(
        hole: f64,
        dirt: f64,
        ilks: Vec<Ilk>,
        owner: Vec<u32>,
        ilk: Vec<u32>,
        ink: Vec<f64>,
        art: Vec<f64>,
    ) -> Result<Self> {
        limit("hole", hole)?;
        error::non_negative("dirt", dirt)?;
        for (k, il) in ilks.iter().enumerate() {
            il.validate(k)?;
        }
        let n = owner.len();
        for (field, len) in [("ilk", ilk.len()), ("ink", ink.len()), ("art", art.len())] {
            if len != n {
                return Err(Error::LengthMismatch {
                    field: field.to_owned(),
                    got: len,
                    other: "owner".to_owned(),
                    expected: n,
                });
            }
        }
        for i in 0..n {
            if ilk[i] as usize >= ilks.len() {
                return Err(Error::OutOfRange {
                    field: format!("ilk[{i}]"),
                    value: f64::from(ilk[i]),
                    expected: "an index into ilks",
                });
            }
            error::non_negative(&format!("ink[{i}]"), ink[i])?;
            error::non_negative(&format!("art[{i}]"), art[i])?;
        }
        let m = ilks.len();
        Ok(Vaults {
            hole,
            dirt,
            ilks,
            owner,
            ilk,
            ink,
            art,
            barks: vec![0; n],
            running: vec![0; n],
            auctioned: vec![0.0; n],
            returned: vec![0.0; n],
            recovered: vec![0.0; n],
            bad_debt: vec![0.0; n],
            auctions: Vec::new(),
            active: Vec::new(),
            keepers_paid: 0.0,
            keepers_received: 0.0,
            coins_paid: 0.0,
            keepers_took: vec![0.0; m],
            keepers_sold: vec![0.0; m],
            collateral_returned: vec![0.0; m],
            scratch: Vec::new(),
        })
    }

    /// Checks the ilks' assets against the scenario's `n_assets`.
    pub fn check(&self, n_assets: usize) -> Result<()> {
        for (k, il) in self.ilks.iter().enumerate() {
            if il.asset as usize >= n_assets {
                return Err(Error::OutOfRange {
                    field: format!("ilks[{k}].asset"),
                    value: f64::from(il.asset),
                    expected: "an index into the scenario's assets",
                });
            }
        }
        Ok(())
    }

    /// Whether an auction is running.
    pub fn busy(&self) -> bool {
        !self.active.is_empty()
    }

    /// The Dog's global `Hole` and `Dirt`.
    pub fn hole(&self) -> f64 {
        self.hole
    }
    pub fn dirt(&self) -> f64 {
        self.dirt
    }
    /// The ilks, with their current `dirt`.
    pub fn ilks(&self) -> &[Ilk] {
        &self.ilks
    }
    pub fn len(&self) -> usize {
        self.owner.len()
    }
    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }
    /// Collateral and normalised debt per vault (caller's rows).
    pub fn ink(&self) -> &[f64] {
        &self.ink
    }
    pub fn art(&self) -> &[f64] {
        &self.art
    }
    /// Every auction so far, running or ended, in kick order.
    pub fn auctions(&self) -> &[Auction] {
        &self.auctions
    }
    /// How many auctions are running.
    pub fn running_auctions(&self) -> usize {
        self.active.len()
    }
    /// Σ owe keepers paid to the system (DAI, quote).
    pub fn keepers_paid(&self) -> f64 {
        self.keepers_paid
    }
    /// Σ quote keepers received selling their slices on the venues.
    pub fn keepers_received(&self) -> f64 {
        self.keepers_received
    }
    /// Σ keeper incentives (`coin`) the system paid at kicks and redos.
    pub fn coins_paid(&self) -> f64 {
        self.coins_paid
    }
    /// Collateral keepers took, and sold on the venues, per ilk.
    pub fn keepers_took(&self) -> &[f64] {
        &self.keepers_took
    }
    pub fn keepers_sold(&self) -> &[f64] {
        &self.keepers_sold
    }
    /// Collateral returned to vault owners after auctions that raised their tab, per ilk.
    pub fn collateral_returned(&self) -> &[f64] {
        &self.collateral_returned
    }

    /// Price of auction `k` at time `now` (seconds) and whether it needs a redo then
    /// (MECHANICS §5.2 status). Ended auctions: `(0, false)`; `None` if there is no auction `k`.
    pub fn status(&self, k: usize, now: f64) -> Option<(f64, bool)> {
        let a = self.auctions.get(k)?;
        if !a.running {
            return Some((0.0, false));
        }
        Some(self.ilks[a.ilk as usize].status(a, now))
    }

    /// Every auction, as columns, with prices at `now` (seconds).
    pub fn auction_table(&self, now: f64) -> AuctionTable {
        let mut t = AuctionTable::default();
        for (k, a) in self.auctions.iter().enumerate() {
            let (price, redo) = self.status(k, now).unwrap_or((0.0, false));
            t.vault.push(a.vault);
            t.owner.push(a.owner);
            t.ilk.push(a.ilk);
            t.asset.push(self.ilks[a.ilk as usize].asset);
            t.running.push(a.running);
            t.kick_step.push(a.kick_step);
            t.end_step.push(a.end_step);
            t.due.push(a.due);
            t.tab0.push(a.tab0);
            t.lot0.push(a.lot0);
            t.tab.push(a.tab);
            t.lot.push(a.lot);
            t.top.push(a.top);
            t.tic.push(a.tic);
            t.price.push(price);
            t.needs_redo.push(redo);
            t.owe.push(a.owe);
            t.sliced.push(a.sliced);
            t.returned.push(a.returned);
            t.tab_left.push(a.tab_left);
            t.bad_debt.push(a.bad_debt);
            t.coins.push(a.coins);
            t.redos.push(a.redos);
            t.sold.push(a.sold);
            t.received.push(a.received);
        }
        t
    }

    /// The state of every vault, in the caller's order.
    pub fn table(&self) -> VaultTable {
        let status = (0..self.len())
            .map(|i| {
                let s = if self.bad_debt[i] > 0.0 {
                    VaultStatus::BadDebt
                } else if self.running[i] > 0 {
                    VaultStatus::InAuction
                } else if self.barks[i] == 0 {
                    VaultStatus::Active
                } else if self.art[i] > 0.0 {
                    VaultStatus::Liquidated
                } else {
                    VaultStatus::Closed
                };
                s as u8
            })
            .collect();
        VaultTable {
            owner: self.owner.clone(),
            ilk: self.ilk.clone(),
            ink: self.ink.clone(),
            art: self.art.clone(),
            status,
            collateral_auctioned: self.auctioned.clone(),
            collateral_returned: self.returned.clone(),
            owe_recovered: self.recovered.clone(),
            bad_debt: self.bad_debt.clone(),
        }
    }

    /// One round: bark every unsafe vault, worst collateralisation `ink·spot/(art·rate)` first
    /// (ties: lower owner id, then lower row), then redo or offer every running auction to a
    /// keeper. Returns whether anything happened.
    fn round_vaults(&mut self, sh: &mut Shared, id: u32, round: u32, budget: &mut Budget) -> bool {
        let mut acted = self.bark_all(sh, id, round);
        acted |= self.auctions_round(sh, id, round, budget);
        acted
    }

    /// `Clipper.take` by the engine's user between steps: up to `amt` of auction `k`'s lot at
    /// its current price, if that is no more than `max_price` (MECHANICS §5.2). The user pays
    /// what the slice owes and keeps the collateral. Refused (with the Clipper's reason) when the
    /// auction is not running, needs a reset, is too expensive, or the `chost` rule forbids the
    /// partial purchase. Returns the slice and what it owed.
    pub(crate) fn take_manual(
        &mut self,
        sh: &mut Shared,
        id: u32,
        k: usize,
        amt: f64,
        max_price: f64,
    ) -> Result<(f64, f64)> {
        let refuse = |why: String| Error::Take { auction: k, why };
        let Some(a) = self.auctions.get(k).copied() else {
            return Err(refuse(format!(
                "does not exist: the system has {} auctions",
                self.auctions.len()
            )));
        };
        if !a.running {
            return Err(refuse(
                "is not running (Clipper: not-running-auction)".to_owned(),
            ));
        }
        if !(amt > 0.0 && amt.is_finite()) {
            return Err(refuse(format!(
                "amount must be a positive quantity, got {amt}"
            )));
        }
        let il = self.ilks[a.ilk as usize];
        let (price, needs_redo) = il.status(&a, sh.now());
        if needs_redo {
            return Err(refuse(
                "needs a reset first (Clipper: needs-reset)".to_owned(),
            ));
        }
        // A NaN maximum is no maximum at all: refused like one below the price.
        if max_price.is_nan() || price > max_price {
            return Err(refuse(format!(
                "costs {price} a unit, above the maximum {max_price} (Clipper: too-expensive)"
            )));
        }
        let (slice, owe, tab_after) =
            clip_take(a.lot, a.tab, amt, price, il.chost()).map_err(|w| refuse(w.to_owned()))?;
        if let Taken::Ended = self.settle_take(sh, id, 0, k, slice, owe, tab_after, false) {
            let auctions = &self.auctions;
            self.active.retain(|&j| auctions[j as usize].running);
        }
        Ok((slice, owe))
    }

    /// MECHANICS §5.1: vault `i` is unsafe at OSM prices `px` when spot > 0 and
    /// `ink·spot < art·rate` (strict), spot = OSM/par/mat. Returns `(ink·spot, art·rate)` then.
    fn unsafe_at(&self, i: usize, px: &[f64]) -> Option<(f64, f64)> {
        let art = self.art[i];
        if art <= 0.0 {
            return None;
        }
        let il = &self.ilks[self.ilk[i] as usize];
        let spot = px[il.asset as usize] / il.mat;
        let (coll, debt) = (self.ink[i] * spot, art * il.rate);
        (spot > 0.0 && coll < debt).then_some((coll, debt))
    }

    fn bark_all(&mut self, sh: &mut Shared, id: u32, round: u32) -> bool {
        let mut cand = std::mem::take(&mut self.scratch);
        cand.clear();
        for i in 0..self.len() {
            let art = self.art[i];
            if art <= 0.0 {
                continue;
            }
            if let Some((coll, debt)) = self.unsafe_at(i, &sh.px) {
                cand.push((coll / debt, self.owner[i], i as u32));
            }
        }
        cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut acted = false;
        for &(_, _, i) in &cand {
            acted |= self.bark(sh, id, round, i as usize);
        }
        self.scratch = cand;
        acted
    }

    /// `Dog.bark` and `Clipper.kick` (MECHANICS §5.1, §5.2) of unsafe vault `i`: the DAI room
    /// under `Hole` and the ilk's `hole` caps `dart`; a remnant below `dust` takes the whole vault
    /// (which may exceed `hole`); a partial bark must itself reach `dust` (else the vault is
    /// skipped for now). Returns whether an auction started.
    fn bark(&mut self, sh: &mut Shared, id: u32, round: u32, i: usize) -> bool {
        let k = self.ilk[i] as usize;
        let il = self.ilks[k];
        if !has_room(self.hole, self.dirt) || !has_room(il.hole, il.dirt) {
            return false;
        }
        let (ink, art) = (self.ink[i], self.art[i]);
        let room = (self.hole - self.dirt).min(il.hole - il.dirt);
        let mut dart = art.min(room / il.rate / il.chop);
        if art > dart {
            if (art - dart) * il.rate < il.dust {
                dart = art;
            } else if dart * il.rate < il.dust {
                return false;
            }
        }
        let whole = dart >= art;
        let dink = if whole { ink } else { ink * dart / art };
        let a = il.asset as usize;
        let feed = sh.px[a];
        let top = feed * il.buf;
        // Dog/null-auction and Clipper/zero-top-price.
        if !(dink > 0.0 && dart > 0.0 && top > 0.0 && top.is_finite()) {
            return false;
        }
        if whole {
            self.ink[i] = 0.0;
            self.art[i] = 0.0;
        } else {
            self.ink[i] = ink - dink;
            self.art[i] = art - dart;
        }
        let due = dart * il.rate;
        let tab = due * il.chop;
        self.dirt += tab;
        self.ilks[k].dirt += tab;
        let coin = il.coin(tab);
        self.coins_paid += coin;
        self.barks[i] += 1;
        self.running[i] += 1;
        self.auctioned[i] += dink;
        self.active.push(self.auctions.len() as u32);
        self.auctions.push(Auction {
            vault: i as u32,
            ilk: k as u32,
            owner: self.owner[i],
            running: true,
            tab,
            lot: dink,
            due,
            tab0: tab,
            lot0: dink,
            top,
            tic: sh.now(),
            kick_step: sh.step,
            end_step: u32::MAX,
            owe: 0.0,
            sliced: 0.0,
            returned: 0.0,
            tab_left: tab,
            bad_debt: 0.0,
            coins: coin,
            redos: 0,
            dug: 0.0,
            sold: 0.0,
            received: 0.0,
            last_redo_step: u32::MAX,
        });
        sh.count_liquidation(a, dink * feed);
        let mut ev = sh.event(round, EventKind::AuctionKick, id, self.owner[i], a);
        ev.collateral_seized = dink;
        ev.debt_repaid = due;
        ev.debt_repaid_value = tab;
        ev.bonus = tab - due;
        ev.protocol_fee = coin;
        sh.events.push(&ev);
        true
    }

    /// Every running auction, in kick order: a redo when it needs one (at most one per auction
    /// per step), else a keeper's take when it pays (MECHANICS §5.2, §5.4).
    fn auctions_round(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        budget: &mut Budget,
    ) -> bool {
        let mut acted = false;
        let mut ended = false;
        for j in 0..self.active.len() {
            let k = self.active[j] as usize;
            let il = self.ilks[self.auctions[k].ilk as usize];
            let (price, needs_redo) = il.status(&self.auctions[k], sh.now());
            if needs_redo {
                acted |= self.redo(sh, id, round, k);
            } else if !budget.spent() {
                match self.take(sh, id, round, k, price, budget) {
                    Taken::No => {}
                    Taken::Yes => acted = true,
                    Taken::Ended => {
                        acted = true;
                        ended = true;
                    }
                }
            }
        }
        if ended {
            let auctions = &self.auctions;
            self.active.retain(|&k| auctions[k as usize].running);
        }
        acted
    }

    /// `Clipper.redo` (MECHANICS §5.2): a new curve from `top = feed·buf` now; the keeper's coin
    /// only when `tab ≥ chost` and `lot·feed ≥ chost`.
    fn redo(&mut self, sh: &mut Shared, id: u32, round: u32, k: usize) -> bool {
        let a = &self.auctions[k];
        if a.last_redo_step == sh.step {
            return false;
        }
        let il = self.ilks[a.ilk as usize];
        let asset = il.asset as usize;
        let feed = sh.px[asset];
        let top = feed * il.buf;
        if !(top > 0.0 && top.is_finite()) {
            return false;
        }
        let chost = il.chost();
        let coin = if a.tab >= chost && a.lot * feed >= chost {
            il.coin(a.tab)
        } else {
            0.0
        };
        let a = &mut self.auctions[k];
        a.tic = sh.now();
        a.top = top;
        a.redos += 1;
        a.last_redo_step = sh.step;
        a.coins += coin;
        self.coins_paid += coin;
        let mut ev = sh.event(round, EventKind::AuctionRedo, id, a.owner, asset);
        ev.collateral_seized = a.lot;
        ev.debt_repaid_value = a.tab;
        ev.protocol_fee = coin;
        sh.events.push(&ev);
        true
    }

    /// A keeper's `Clipper.take` of auction `k` at `price` (MECHANICS §5.2, §5.4). The keeper asks
    /// for the whole lot (`amt = lot`: the contract caps `owe` at `tab`, so it gets
    /// `min(lot, tab/price)`), or for what the budget can pay (`amt = budget/price`), subject to
    /// the `chost` rule. It takes when `price ≤ (1 − keeper_margin)·(quote the venues pay for the
    /// slice)/slice`, pays `owe` to the system, and sells `sell_fraction` of the slice at once.
    fn take(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        k: usize,
        price: f64,
        budget: &mut Budget,
    ) -> Taken {
        let a = self.auctions[k];
        let il = self.ilks[a.ilk as usize];
        let asset = il.asset as usize;
        let (lot, tab) = (a.lot, a.tab);
        let full_owe = (lot * price).min(tab);
        // A budget that covers the whole take up to the engine's tolerance asks for the lot: a
        // budget of 110 against a tab of 100 × 1.1 = 110.00000000000001 pays the tab.
        let amt = if at_least(budget.notional, full_owe) {
            lot
        } else {
            budget.notional / price
        };
        let Ok((slice, owe, tab_after)) = clip_take(lot, tab, amt, price, il.chost()) else {
            return Taken::No;
        };
        // MECHANICS §5.4: the keeper values the slice at what the venues pay for it now (any part
        // they cannot absorb at nothing).
        let quote = sh.market.quote(asset, Side::Sell, slice);
        if price > (1.0 - sh.cfg.keeper_margin) * quote.notional / slice {
            return Taken::No;
        }
        budget.notional = (budget.notional - owe).max(0.0);
        budget.count -= 1;
        self.settle_take(sh, id, round, k, slice, owe, tab_after, true)
    }

    /// Books a take of `slice` for `owe` (the tab left `tab_after`): the Dog's `digs`, the
    /// auction's new state, and its row. A keeper (`keeper`) sells `sell_fraction` of the slice
    /// on the venues at once; the engine's user keeps it.
    #[allow(clippy::too_many_arguments, reason = "the take's own quantities")]
    fn settle_take(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        k: usize,
        slice: f64,
        owe: f64,
        tab_after: f64,
        keeper: bool,
    ) -> Taken {
        let a = self.auctions[k];
        let il = self.ilks[a.ilk as usize];
        let asset = il.asset as usize;
        let lot = a.lot;
        let lot_after = if slice >= lot { 0.0 } else { lot - slice };
        // Dog.digs: the whole remaining tab when the lot ran out, else owe.
        let dug = if lot_after == 0.0 {
            tab_after + owe
        } else {
            owe
        };
        self.dirt -= dug;
        self.ilks[a.ilk as usize].dirt -= dug;
        let i = a.vault as usize;
        self.recovered[i] += owe;
        let kind = if keeper {
            EventKind::AuctionTake
        } else {
            EventKind::UserTake
        };
        let mut ev = sh.event(round, kind, id, a.owner, asset);
        ev.collateral_seized = slice;
        ev.debt_repaid = owe;
        ev.debt_repaid_value = owe;
        let fill = if keeper {
            self.keepers_paid += owe;
            self.keepers_took[a.ilk as usize] += slice;
            let fill = sh.trade(asset, Side::Sell, sh.cfg.sell_fraction * slice);
            ev.qty = fill.filled;
            ev.notional = fill.notional;
            ev.price_after = sh.market.spot(asset);
            sh.ledger.sold[asset] += fill.filled;
            self.keepers_received += fill.notional;
            self.keepers_sold[a.ilk as usize] += fill.filled;
            fill
        } else {
            crate::fill::Fill::empty(Side::Sell, 0.0)
        };

        let s = &mut self.auctions[k];
        s.tab = tab_after;
        // The tab still to raise while the auction runs; once it ended, what it left unraised.
        s.tab_left = tab_after;
        s.lot = lot_after;
        s.owe += owe;
        s.sliced += slice;
        s.dug += dug;
        s.sold += fill.filled;
        s.received += fill.notional;
        let ended = if lot_after == 0.0 {
            // The lot ran out: the tab left is unrecovered; bad debt is what the debt itself
            // missed (MECHANICS §5.4).
            // Nothing is left to raise in an ended auction (the Clipper removes the sale): the
            // unrecovered rest is `tab_left` alone, as the lot returned is `returned` alone.
            s.tab = 0.0;
            if tab_after > 0.0 {
                s.bad_debt = (s.due - s.owe).max(0.0);
            }
            true
        } else if tab_after == 0.0 {
            s.returned = lot_after;
            s.lot = 0.0;
            true
        } else {
            false
        };
        if ended {
            s.running = false;
            s.end_step = sh.step;
            let (bad, back) = (s.bad_debt, s.returned);
            self.running[i] -= 1;
            self.returned[i] += back;
            self.collateral_returned[a.ilk as usize] += back;
            if bad > 0.0 {
                self.bad_debt[i] += bad;
                sh.cum_bad_debt += bad;
                ev.bad_debt = bad;
            }
        }
        sh.events.push(&ev);
        if ended { Taken::Ended } else { Taken::Yes }
    }
}

enum Taken {
    No,
    Yes,
    Ended,
}

/// `Clipper.take`'s amounts (MECHANICS §5.2): a purchase of up to `amt` of the lot at `price`
/// against a tab of `tab`: the slice, what it owes, and the tab left; or why the Clipper
/// reverts.
fn clip_take(
    lot: f64,
    tab: f64,
    amt: f64,
    price: f64,
    chost: f64,
) -> Result<(f64, f64, f64), &'static str> {
    let mut slice = lot.min(amt);
    let mut owe = slice * price;
    let tab_after;
    if owe > tab {
        owe = tab;
        slice = (owe / price).min(lot);
        tab_after = 0.0;
    } else if at_least(owe, tab) {
        // A payment within the engine's tolerance of the tab pays the tab.
        owe = tab;
        tab_after = 0.0;
    } else if slice < lot {
        if tab - owe < chost {
            if tab <= chost {
                return Err("no-partial-purchase: the tab left would be under chost");
            }
            owe = tab - chost;
            slice = owe / price;
            tab_after = chost;
        } else {
            tab_after = tab - owe;
        }
    } else {
        tab_after = tab - owe;
    }
    if slice.is_nan() || slice <= 0.0 {
        return Err("nothing to take at that amount");
    }
    Ok((slice, owe, tab_after))
}

impl ForcedSeller for Vaults {
    fn kind(&self) -> &'static str {
        "vaults"
    }

    fn check(&self, n_assets: usize) -> Result<()> {
        Vaults::check(self, n_assets)
    }

    fn round(&mut self, sh: &mut Shared, id: u32, round: u32, budget: &mut Budget) -> RoundOutcome {
        // Keepers' takes spend the liquidators' budget.
        RoundOutcome::acted(self.round_vaults(sh, id, round, budget))
    }

    fn busy(&self, _now: f64) -> bool {
        Vaults::busy(self)
    }

    fn breached_at(&self, prices: &[f64], at: u32, out: &mut Breaches) {
        // The test `bark` applies; the collateral at the OSM price, the debt `art·rate`.
        for i in 0..self.len() {
            if let Some((margin, debt)) = self.unsafe_at(i, prices) {
                let il = &self.ilks[self.ilk[i] as usize];
                out.push(
                    at,
                    Breach {
                        row: i as u32,
                        debt,
                        collateral_value: self.ink[i] * prices[il.asset as usize],
                        margin,
                        requirement: debt,
                        ..Breach::default()
                    },
                );
            }
        }
    }

    fn liquidation_prices(
        &self,
        _a: usize,
        _px: &[f64],
        moves: &[f64],
        out: &mut LiquidationPrices,
    ) {
        // bark's test, ink·p/mat < art·rate, solved for the OSM price p (in a's price p_a, a
        // collateral pegged to a is at m·p_a).
        for i in 0..self.len() {
            let il = &self.ilks[self.ilk[i] as usize];
            let m = moves[il.asset as usize];
            if m > 0.0 && self.art[i] > 0.0 && self.ink[i] > 0.0 {
                let price = self.art[i] * il.rate * il.mat / (self.ink[i] * m);
                out.push(self.owner[i], i as u32, price, true);
            }
        }
    }

    fn tables(&self, sh: &Shared, _px: &[f64]) -> Vec<(&'static str, Table)> {
        vec![
            ("vaults", self.table().into_table()),
            // Prices at the last step run, the time every other final-state column describes.
            (
                "auctions",
                self.auction_table(sh.last_step_time()).into_table(),
            ),
        ]
    }

    fn ledger(&self) -> Values {
        vec![
            ("keepers_paid", Value::F64(self.keepers_paid)),
            ("keepers_received", Value::F64(self.keepers_received)),
            ("coins_paid", Value::F64(self.coins_paid)),
        ]
    }
}
