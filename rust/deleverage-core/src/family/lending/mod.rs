//! The lending family (MECHANICS §4): the protocol instances of a scenario (Aave v3, Compound
//! v2, Comet), their accounts, the trigger index that finds breaches, and the liquidation queue
//! the liquidators serve under the scenario's priority and budget (DESIGN §4.5).
//!
//! The margin rules live in [`rules`], the struct-of-arrays accounts in [`accounts`], the trigger
//! index in [`trigger`]; this module is the queue service and what a liquidation does to an
//! account: Aave/Compound v2 liquidations with the liquidator's sale (sequential) or the round's
//! batch sale and the Aave v3.3 deficit write-off; Comet's absorb and storefront are in [`comet`].
//!
//! All protocols share one queue: liquidators serve the worst account first whatever its
//! protocol. The family takes one protocol id per instance, in order.

pub mod accounts;
mod comet;
mod manual;
mod owners;

pub use manual::ManualLiquidation;
pub mod rules;
pub(crate) mod trigger;

use rand::Rng;

use crate::error::{Error, Result};
use crate::family::shared::{
    Breach, Breaches, Budget, ForcedSeller, LiquidationPrices, Priority, RoundMode, RoundOutcome,
    Shared,
};
use crate::fill::Side;
use crate::recorder::{Event, EventKind, NONE, Table, Value, Values, table};
use accounts::{AccountColumns, Accounts, SCATTER_IN_RUNS, Status, scatter_in_windows};
use rules::{AaveVersion, Lending, Liquidation, Rules};
use trigger::{Layout, TriggerIndex};

/// Windows of destinations the account table is scattered in: a quarter of the accounts' runs
/// at a time, small enough for the allocator to reuse from one window to the next.
/// `profile_cascade` at 10^7 accounts: 1.68 s in one window, 1.33 s in 2, 1.13 s in 4, 1.23 s in
/// 8; at 10^6 91, 93, 94 and 109 ms.
const TABLE_WINDOWS: usize = 4;

/// Aave's `MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD`: below it the PriceOracleSentinel lets a
/// liquidation through while the sequencer is down or in its grace period.
pub(super) const SENTINEL_HEALTH: f64 = 0.95;

/// The final state of every account, in the original order (see [`Engine::account_table`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountTable {
    pub status: Vec<Status>,
    /// Health factor; infinite without debt.
    pub health: Vec<f64>,
    pub collateral_value: Vec<f64>,
    pub debt_value: Vec<f64>,
    pub liquidated_notional: Vec<f64>,
    pub times_liquidated: Vec<u32>,
    pub bad_debt: Vec<f64>,
}

table!(AccountTable {
    status,
    health,
    collateral_value,
    debt_value,
    liquidated_notional,
    times_liquidated,
    bad_debt
});

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Entry {
    account: u32,
    breach_step: u32,
    /// Enqueue order: the tie-break of every priority.
    seq: u32,
    /// The step in which no admissible liquidation was found (budget or dust): wait for the next.
    stuck_step: u32,
}

enum Outcome {
    /// Liquidated; whether it is still liquidatable at the current oracle prices.
    Done {
        still: bool,
    },
    Healthy,
    /// Liquidatable, but nothing admissible now (budget too small for the dust rule).
    Stuck,
    /// Nothing left to seize: bad debt was recorded.
    Finished,
}

/// The lending protocols of a scenario with their accounts and the liquidation queue.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct LendingMarket {
    protocols: Vec<Lending>,
    /// Accounts in storage order (see `TriggerIndex::memory_order`).
    acc: Accounts,
    /// Original id of each stored account: results speak in original ids.
    original: Vec<u32>,
    index: TriggerIndex,
    queue: Vec<Entry>,
    in_queue: Vec<bool>,
    /// Random priority keys per account (filled at enqueue when the priority is random).
    random_key: Vec<u32>,
    seq: u32,
    triggered: Vec<u32>,
    /// Units to sell per asset at the end of a batch round.
    batch_qty: Vec<f64>,
    /// Protocol id of the first instance (the family's place among the scenario's families).
    pub(crate) first_id: u32,
}

crate::reuse::clone_reusing!(LendingMarket {
    protocols,
    acc,
    original,
    index,
    queue,
    in_queue,
    random_key,
    seq,
    triggered,
    batch_qty,
    first_id,
});

impl LendingMarket {
    /// The protocols and their accounts (`accounts.protocol` indexes `protocols`). Accounts are
    /// laid out in the order a falling market visits them and indexed by trigger price.
    pub fn new(protocols: Vec<Lending>, accounts: Accounts) -> Result<Self> {
        let laid = Layout::of(&protocols, accounts.columns())?;
        drop(accounts); // before the index: not both copies at once
        Ok(Self::indexed(protocols, laid))
    }

    /// [`Self::new`] from the caller's columns, checked first ([`AccountColumns::check`]
    /// against the protocols and `n_assets`) and laid out from where they are: the accounts'
    /// one copy is the engine's, in storage order.
    pub fn from_columns(
        protocols: Vec<Lending>,
        columns: AccountColumns<'_>,
        n_assets: usize,
    ) -> Result<Self> {
        columns.check(protocols.len(), n_assets)?;
        let laid = Layout::of(&protocols, columns)?;
        Ok(Self::indexed(protocols, laid))
    }

    fn indexed(protocols: Vec<Lending>, laid: Layout) -> Self {
        let Layout {
            acc,
            original,
            taus,
            groups,
        } = laid;
        let index = TriggerIndex::build_ordered(&acc, &protocols, groups, taus);
        let n = acc.len();
        let n_assets = protocols.first().map_or(0, |l| l.reserves.len());
        LendingMarket {
            protocols,
            original,
            index,
            queue: Vec::new(),
            in_queue: vec![false; n],
            random_key: vec![0; n],
            acc,
            seq: 0,
            triggered: Vec::new(),
            batch_qty: vec![0.0; n_assets],
            first_id: 0,
        }
    }

    /// The protocol instances, in order.
    pub fn protocols(&self) -> &[Lending] {
        &self.protocols
    }

    /// Whether `account` (an id in event rows) is one of this family's accounts.
    pub fn holds(&self, account: u32) -> bool {
        (account as usize) < self.original.len()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.acc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.acc.is_empty()
    }

    /// The state of every account, in the original order, at the current oracle prices: one
    /// pass over the accounts in storage order (times liquidated and bad debt are tallied as the
    /// event rows are written, see [`Self::push_event`]).
    pub fn account_table(&self, sh: &Shared) -> AccountTable {
        self.account_table_at(&sh.px)
    }

    /// The market with what only the cascade uses released (the trigger index, the queue):
    /// a finished market kept for its account table, computed later.
    pub fn into_finished(mut self) -> Self {
        self.index = TriggerIndex::default();
        self.queue = Vec::new();
        self.in_queue = Vec::new();
        self.random_key = Vec::new();
        self.triggered = Vec::new();
        self
    }

    /// Accounts liquidated at least once (an absorb counts once): the summary's count, which
    /// needs no account table.
    pub fn accounts_liquidated(&self) -> u64 {
        self.acc.times_liquidated.iter().filter(|&&t| t > 0).count() as u64
    }

    /// [`Self::account_table`] at the prices `px` (the family's view of pegged assets).
    pub fn account_table_at(&self, px: &[f64]) -> AccountTable {
        #[derive(Clone, Copy)]
        struct Row {
            status: Status,
            health: f64,
            collateral: f64,
            debt: f64,
            liquidated: f64,
            times: u32,
            bad_debt: f64,
        }
        let n = self.acc.len();
        let mut t = AccountTable {
            status: vec![Status::Active; n],
            health: vec![0.0; n],
            collateral_value: vec![0.0; n],
            debt_value: vec![0.0; n],
            liquidated_notional: vec![0.0; n],
            times_liquidated: vec![0; n],
            bad_debt: vec![0.0; n],
        };
        // One account's row, from its stored index.
        let row = |i: usize| {
            let h = self.acc.holdings(i);
            let (mut c, mut d) = (0.0, 0.0);
            for k in 0..h.asset.len() {
                let p = px[h.asset[k] as usize];
                c += h.collateral[k] * p;
                d += h.debt[k] * p;
            }
            Row {
                status: self.acc.status[i],
                health: self.health(px, i),
                collateral: c,
                debt: d,
                liquidated: self.acc.liquidated_notional[i],
                times: self.acc.times_liquidated[i],
                bad_debt: self.acc.bad_debt[i],
            }
        };
        let mut put = |o: usize, r: Row| {
            t.status[o] = r.status;
            t.health[o] = r.health;
            t.collateral_value[o] = r.collateral;
            t.debt_value[o] = r.debt;
            t.liquidated_notional[o] = r.liquidated;
            t.times_liquidated[o] = r.times;
            t.bad_debt[o] = r.bad_debt;
        };
        if n >= SCATTER_IN_RUNS {
            // Seven columns scattered directly miss the caches and the TLB on every write. In
            // windows: the runs of all accounts at once would add their size to the run's peak
            // memory, which the account table reaches (the event rows are all there by then).
            scatter_in_windows(&self.original, TABLE_WINDOWS, row, put);
        } else {
            for (i, &o) in self.original.iter().enumerate() {
                put(o as usize, row(i));
            }
        }
        t
    }

    /// Writes the event row `ev` of stored account `i`, tallying what the account table counts
    /// from it: a liquidation, or the first row of an absorb (the one with the debt asset),
    /// counts once; every row's bad debt adds to the account's.
    fn push_event(&mut self, sh: &mut Shared, i: usize, ev: &Event) {
        if matches!(ev.kind, EventKind::Liquidation | EventKind::UserLiquidation)
            || (ev.kind == EventKind::Absorb && ev.debt_asset != NONE)
        {
            self.acc.times_liquidated[i] += 1;
        }
        self.acc.bad_debt[i] += ev.bad_debt;
        sh.events.push(ev);
    }

    /// Collateral and debt units of an account (by original id), per holding asset.
    pub fn holdings_of(&self, original: usize) -> Option<(Vec<u32>, Vec<f64>, Vec<f64>)> {
        let i = self.original.iter().position(|&o| o as usize == original)?;
        let h = self.acc.holdings(i);
        Some((h.asset.to_vec(), h.collateral.to_vec(), h.debt.to_vec()))
    }

    /// Health of stored account `i` at the current oracle prices.
    fn health(&self, px: &[f64], i: usize) -> f64 {
        let l = &self.protocols[self.acc.protocol[i] as usize];
        l.health(&self.acc.holdings(i), px)
    }

    /// One round of the lending queue: serve entries in priority order while the budget lasts.
    fn serve_queue(&mut self, sh: &mut Shared, round: u32, budget: &mut Budget) -> bool {
        self.order_queue(&sh.px, sh.cfg.priority);
        let mut acted = false;
        // Served entries leave; the rest are compacted in place (no second queue).
        let mut queue = std::mem::take(&mut self.queue);
        let mut kept = 0;
        for r in 0..queue.len() {
            let mut e = queue[r];
            let keep = if budget.spent() || e.stuck_step == sh.step {
                true
            } else {
                let i = e.account as usize;
                match self.liquidate(sh, i, round, &mut budget.notional) {
                    Outcome::Done { still } => {
                        acted = true;
                        budget.count -= 1;
                        if !still {
                            self.leave_queue(i);
                        }
                        still
                    }
                    Outcome::Healthy => {
                        self.leave_queue(i);
                        false
                    }
                    Outcome::Stuck => {
                        e.stuck_step = sh.step;
                        true
                    }
                    Outcome::Finished => {
                        acted = true;
                        self.in_queue[i] = false;
                        false
                    }
                }
            };
            if keep {
                queue[kept] = e;
                kept += 1;
            }
        }
        queue.truncate(kept);
        self.queue = queue;
        acted
    }

    fn leave_queue(&mut self, i: usize) {
        self.in_queue[i] = false;
        self.index.reinsert(&self.acc, &self.protocols, i);
    }

    fn collect_triggers(&mut self, sh: &mut Shared) {
        let mut found = std::mem::take(&mut self.triggered);
        found.clear();
        self.index.collect(&sh.px, &mut found);
        self.index
            .collect_multi(&self.acc, &self.protocols, &sh.px, &mut found);
        self.queue.reserve(found.len());
        for &i in &found {
            let iu = i as usize;
            if self.in_queue[iu] {
                continue;
            }
            // The index hands over accounts whose ratio crossed τ; the rule decides.
            let l = &self.protocols[self.acc.protocol[iu] as usize];
            if l.health(&self.acc.holdings(iu), &sh.px) >= 1.0 {
                self.index.reinsert(&self.acc, &self.protocols, iu);
                continue;
            }
            self.in_queue[iu] = true;
            if sh.cfg.priority == Priority::Random {
                // Drawn at enqueue, in enqueue order: seeded and independent of the thread count.
                self.random_key[iu] = sh.rng.next_u32();
            }
            self.queue.push(Entry {
                account: i,
                breach_step: sh.step,
                seq: self.seq,
                stuck_step: u32::MAX,
            });
            self.seq = self.seq.wrapping_add(1);
        }
        self.triggered = found;
    }

    /// The sort key of a queued entry under the configured priority (ties: enqueue order).
    fn priority_key(&self, px: &[f64], priority: Priority, e: &Entry) -> (f64, u32) {
        let k = match priority {
            Priority::Fifo => f64::from(e.breach_step),
            Priority::Random => f64::from(self.random_key[e.account as usize]),
            Priority::WorstHealth | Priority::Largest => {
                let i = e.account as usize;
                let l = &self.protocols[self.acc.protocol[i] as usize];
                let (w, b) = l.weighted(&self.acc.holdings(i), px);
                match priority {
                    Priority::WorstHealth if b > 0.0 => w / b,
                    Priority::WorstHealth => f64::INFINITY,
                    _ => -b,
                }
            }
        };
        (k, e.seq)
    }

    fn order_queue(&mut self, px: &[f64], priority: Priority) {
        // Keys with the enqueue sequence as the tie-break: a total order, so the result is
        // deterministic. Accounts usually arrive in order already (the trigger index hands them
        // over worst first and stores them in that order): check that first, without storing keys.
        let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let mut prev: Option<(f64, u32)> = None;
        let sorted = self.queue.iter().all(|e| {
            let k = self.priority_key(px, priority, e);
            let ok = prev.is_none_or(|p| cmp(&p, &k).is_le());
            prev = Some(k);
            ok
        });
        if sorted {
            return;
        }
        let mut keyed: Vec<((f64, u32), u32)> = self
            .queue
            .iter()
            .enumerate()
            .map(|(pos, e)| (self.priority_key(px, priority, e), pos as u32))
            .collect();
        // Nearly sorted as a rule (rounding can swap neighbours whose τ are close): the stable
        // sort finds the long runs and merges them in about linear time.
        keyed.sort_by(|a, b| cmp(&a.0, &b.0));
        let old = std::mem::take(&mut self.queue);
        self.queue = keyed.iter().map(|k| old[k.1 as usize]).collect();
    }

    /// What liquidation `liq` does to account `i` (by the queue or by hand): its debt and
    /// collateral fall, the protocol's fee goes to the treasury, the seized value is counted and
    /// the account is marked liquidated. Returns the debt's and the collateral's assets.
    #[inline]
    fn apply(&mut self, i: usize, liq: &Liquidation, px: &[f64]) -> (usize, usize) {
        let base = self.acc.offsets[i] as usize;
        let (dk, ck) = (base + liq.debt_slot, base + liq.coll_slot);
        let (da, ca) = (self.acc.asset[dk] as usize, self.acc.asset[ck] as usize);
        // Repaying or seizing everything clears the balance exactly (no float dust left behind).
        self.acc.debt[dk] = clear_dust(self.acc.debt[dk] - liq.repaid, self.acc.debt[dk]);
        self.acc.collateral[ck] = clear_dust(
            self.acc.collateral[ck] - liq.seized,
            self.acc.collateral[ck],
        );
        let p = self.acc.protocol[i] as usize;
        self.protocols[p].treasury[ca] += liq.protocol_fee;
        self.acc.liquidated_notional[i] += liq.seized * px[ca];
        self.acc.status[i] = Status::Liquidated;
        (da, ca)
    }

    fn liquidate(&mut self, sh: &mut Shared, i: usize, round: u32, budget: &mut f64) -> Outcome {
        let p = self.acc.protocol[i] as usize;
        let l = &self.protocols[p];
        let h = self.acc.holdings(i);
        if let Rules::CompoundV3 { base, .. } = l.rules {
            return self.absorb(sh, i, round, base as usize);
        }
        if l.sentinel && sh.outage.sentinel() {
            let hf = l.health(&h, &sh.px);
            if hf >= 1.0 {
                return Outcome::Healthy;
            }
            if hf >= SENTINEL_HEALTH {
                // The PriceOracleSentinel allows it only below HF 0.95 (MECHANICS §2.11): it
                // waits in the queue.
                return Outcome::Stuck;
            }
        }
        let Some(liq) = l.liquidation(&h, &sh.px, *budget) else {
            return if l.health(&h, &sh.px) >= 1.0 {
                Outcome::Healthy
            } else if l.has_collateral(&h) {
                Outcome::Stuck
            } else {
                self.record_bad_debt(sh, i, round);
                Outcome::Finished
            };
        };
        let (da, ca) = self.apply(i, &liq, &sh.px);
        let repaid_value = liq.repaid * sh.px[da];
        let seized_value = liq.seized * sh.px[ca];
        *budget -= repaid_value;
        sh.count_liquidation(ca, seized_value);
        let to_liquidator = liq.seized - liq.protocol_fee;
        let sell = sh.cfg.sell_fraction * to_liquidator;
        sh.ledger.liquidators_paid += repaid_value;
        sh.ledger.liquidators_seized[ca] += to_liquidator;
        let mut ev = Event::new(sh.step, round, EventKind::Liquidation);
        ev.account = self.original[i];
        ev.protocol = self.first_id + p as u32;
        ev.asset = ca as u32;
        ev.debt_asset = da as u32;
        ev.debt_repaid = liq.repaid;
        ev.debt_repaid_value = repaid_value;
        ev.collateral_seized = liq.seized;
        ev.bonus = liq.bonus;
        ev.protocol_fee = liq.protocol_fee;
        ev.price_before = sh.market.spot(ca);
        match sh.cfg.mode {
            RoundMode::Sequential => {
                // The next liquidation sees the moved price: a spot oracle follows at once.
                let fill = sh.trade(ca, Side::Sell, sell);
                ev.qty = fill.filled;
                ev.notional = fill.notional;
                sh.ledger.sold[ca] += fill.filled;
                sh.ledger.liquidators_received += fill.notional;
            }
            RoundMode::Batch => self.batch_qty[ca] += sell,
        }
        ev.price_after = sh.market.spot(ca);

        let l = &self.protocols[p];
        let h = self.acc.holdings(i);
        let debt_left = h.debt.iter().any(|&d| d > 0.0);
        let outcome = if !debt_left {
            self.acc.status[i] = Status::Closed;
            Outcome::Done { still: false }
        } else if !l.has_collateral(&h) {
            // The liquidation took the last collateral: its row carries the bad debt.
            ev.bad_debt = self.write_off(sh, i, true);
            Outcome::Done { still: false }
        } else {
            Outcome::Done {
                still: l.health(&h, &sh.px) < 1.0,
            }
        };
        self.push_event(sh, i, &ev);
        outcome
    }

    /// Debt left without collateral, found without a liquidation (nothing left to seize): a row
    /// of its own.
    fn record_bad_debt(&mut self, sh: &mut Shared, i: usize, round: u32) {
        let value = self.write_off(sh, i, false);
        if value > 0.0 {
            let mut ev = Event::new(sh.step, round, EventKind::BadDebt);
            ev.account = self.original[i];
            ev.protocol = self.first_id + self.acc.protocol[i];
            ev.bad_debt = value;
            self.push_event(sh, i, &ev);
        }
    }

    /// Debt left without collateral: Aave v3.3+ writes it off into the reserves' deficits when a
    /// liquidation took the last collateral (MECHANICS §4.4); otherwise it stays on the account.
    /// Either way it is bad debt, counted once per account; returns its value.
    fn write_off(&mut self, sh: &mut Shared, i: usize, in_liquidation: bool) -> f64 {
        if self.acc.status[i] == Status::BadDebt {
            return 0.0;
        }
        let p = self.acc.protocol[i] as usize;
        let write_off = in_liquidation
            && matches!(
                self.protocols[p].rules,
                Rules::AaveV3 {
                    version: AaveVersion::V3_3
                }
            );
        let mut value = 0.0;
        for k in self.acc.range(i) {
            let d = self.acc.debt[k];
            if d > 0.0 {
                let a = self.acc.asset[k] as usize;
                value += d * sh.px[a];
                if write_off {
                    self.protocols[p].deficit[a] += d;
                    self.acc.debt[k] = 0.0;
                }
            }
        }
        if value > 0.0 {
            self.acc.status[i] = Status::BadDebt;
            sh.cum_bad_debt += value;
        }
        value
    }

    fn execute_batch(&mut self, sh: &mut Shared, round: u32) {
        for a in 0..sh.market.n_assets() {
            let q = std::mem::take(&mut self.batch_qty[a]);
            if q <= 0.0 {
                continue;
            }
            let mut ev = Event::new(sh.step, round, EventKind::Sale);
            ev.asset = a as u32;
            ev.price_before = sh.market.spot(a);
            let fill = sh.trade(a, Side::Sell, q);
            ev.qty = fill.filled;
            ev.notional = fill.notional;
            ev.price_after = sh.market.spot(a);
            sh.ledger.sold[a] += fill.filled;
            sh.ledger.liquidators_received += fill.notional;
            sh.events.push(&ev);
        }
    }
}

impl ForcedSeller for LendingMarket {
    fn kind(&self) -> &'static str {
        "lending"
    }

    fn protocol_count(&self) -> u32 {
        self.protocols.len() as u32
    }

    fn check(&self, n_assets: usize) -> Result<()> {
        for (p, l) in self.protocols.iter().enumerate() {
            if l.reserves.len() != n_assets {
                return Err(Error::LengthMismatch {
                    field: format!("protocols[{p}].reserves"),
                    got: l.reserves.len(),
                    other: "assets".to_owned(),
                    expected: n_assets,
                });
            }
        }
        if let Some(&a) = self.acc.asset.iter().find(|&&a| a as usize >= n_assets) {
            return Err(Error::OutOfRange {
                field: "accounts.asset".to_owned(),
                value: f64::from(a),
                expected: "the index of an asset of the scenario",
            });
        }
        Ok(())
    }

    fn scan(&mut self, sh: &mut Shared) {
        self.collect_triggers(sh);
    }

    fn round(
        &mut self,
        sh: &mut Shared,
        first_id: u32,
        round: u32,
        budget: &mut Budget,
    ) -> RoundOutcome {
        self.first_id = first_id;
        if self.batch_qty.len() != sh.market.n_assets() {
            self.batch_qty = vec![0.0; sh.market.n_assets()];
        }
        let mut acted = false;
        let attempted = !self.queue.is_empty();
        if attempted && !budget.spent() {
            acted |= self.serve_queue(sh, round, budget);
        }
        if sh.cfg.mode == RoundMode::Batch {
            self.execute_batch(sh, round);
        }
        if self.storefront(sh, round, budget) {
            acted = true;
        }
        RoundOutcome { attempted, acted }
    }

    fn busy(&self, _now: f64) -> bool {
        !self.queue.is_empty()
    }

    fn queue_length(&self) -> usize {
        self.queue.len()
    }

    fn breached_at(&self, prices: &[f64], at: u32, out: &mut Breaches) {
        // The same health factor the queue uses (`Lending::health` below 1), at `prices`.
        for &i in self.index.visit_order(self.acc.len()) {
            let i = i as usize;
            let l = &self.protocols[self.acc.protocol[i] as usize];
            let h = self.acc.holdings(i);
            if l.health(&h, prices) < 1.0 {
                let (w, b) = l.weighted(&h, prices);
                let c: f64 = (0..h.asset.len())
                    .map(|k| h.collateral[k] * prices[h.asset[k] as usize])
                    .sum();
                out.push(
                    at,
                    Breach {
                        row: self.original[i],
                        debt: b,
                        collateral_value: c,
                        margin: w,
                        requirement: b,
                        ..Breach::default()
                    },
                );
            }
        }
    }

    fn liquidation_prices(&self, a: usize, px: &[f64], moves: &[f64], out: &mut LiquidationPrices) {
        // HF = W/B < 1 with W = W₀ + c·θ·p and B = B₀ + d·p in the price p of asset a:
        // W₀ − B₀ < (d − c·θ)·p. Collateral in a breaches below (B₀ − W₀)/(cθ − d); debt in a,
        // above. An asset pegged to a counts in c and d at its peg ratio m (its price is m·p).
        for &i in self.index.visit_order(self.acc.len()) {
            let i = i as usize;
            let l = &self.protocols[self.acc.protocol[i] as usize];
            let h = self.acc.holdings(i);
            let (mut w0, mut b0, mut ct, mut d) = (0.0, 0.0, 0.0, 0.0);
            let mut exposed = false;
            for k in 0..h.asset.len() {
                let b = h.asset[k];
                let th = l.threshold(b);
                let m = moves[b as usize];
                if m > 0.0 {
                    exposed |= h.collateral[k] > 0.0 || h.debt[k] > 0.0;
                    ct += h.collateral[k] * th * m;
                    d += h.debt[k] * m;
                } else {
                    let p = px[b as usize];
                    w0 += h.collateral[k] * p * th;
                    b0 += h.debt[k] * p;
                }
            }
            if !exposed || b0 + d * px[a] <= 0.0 || ct == d {
                continue;
            }
            let price = (b0 - w0) / (ct - d);
            // Debt in the asset with a non-positive solution breaches at every price: 0.
            let price = if ct < d && price <= 0.0 {
                0.0
            } else if price > 0.0 {
                price
            } else {
                f64::NAN
            };
            out.push_raw(self.original[i], self.original[i], price, ct > d);
        }
    }

    fn tables(&self, _sh: &Shared, px: &[f64]) -> Vec<(&'static str, Table)> {
        vec![("accounts", self.account_table_at(px).into_table())]
    }

    fn ledger(&self) -> Values {
        vec![
            (
                "reserves",
                Value::OptF64s(
                    self.protocols
                        .iter()
                        .map(|p| match p.rules {
                            Rules::CompoundV3 { reserves, .. } => Some(reserves),
                            _ => None,
                        })
                        .collect(),
                ),
            ),
            (
                "deficit",
                Value::Rows(self.protocols.iter().map(|p| p.deficit.clone()).collect()),
            ),
            (
                "treasury",
                Value::Rows(self.protocols.iter().map(|p| p.treasury.clone()).collect()),
            ),
        ]
    }
}

/// `left` as what remains of `before` after a subtraction, with float residue below 1e-12 of the
/// original cleared to zero.
#[inline]
fn clear_dust(left: f64, before: f64) -> f64 {
    if left <= 1e-12 * before { 0.0 } else { left }
}
