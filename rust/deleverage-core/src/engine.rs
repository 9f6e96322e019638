//! The step loop (DESIGN §4, §4.5): exogenous move → venue upkeep → oracles → triggers → queue →
//! matching → … until the market is quiet.
//!
//! One `Engine` holds the whole state (market, oracles, protocols, accounts, the trigger index,
//! the liquidation queue and the recorder). `simulate` builds one and runs the path to quiet; a
//! backtest can hold one open and call `step` itself. There is no second loop.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::accounts::{Accounts, Status};
use crate::error::{self, Error, Result};
use crate::family::{Budget, Family, Shared};
use crate::fill::Side;
use crate::lending::{AaveVersion, Lending, Rules, comet_delta_value};
use crate::market::Market;
use crate::oracle::{Oracle, OracleKind};
use crate::recorder::{Event, EventColumns, EventKind, NONE, StepColumns, StepRow};
use crate::trigger::TriggerIndex;
use crate::venue::AnyVenue;

/// Which queued account a liquidator serves first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Lowest health factor first (the default).
    WorstHealth,
    /// Largest debt value first.
    Largest,
    /// First breached, first served.
    Fifo,
    /// Seeded random order.
    Random,
}

/// How a round's forced sales meet the venues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundMode {
    /// Each liquidation's sale executes at once; the next one sees the moved price (DeFi).
    Sequential,
    /// A round's sales are summed per asset and executed together (fire-sale models).
    Batch,
}

/// The liquidation queue's rules and the liquidators' capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueConfig {
    pub priority: Priority,
    pub mode: RoundMode,
    /// Debt value liquidators can repay per step, in quote (keeper capital).
    pub budget_notional: f64,
    /// Liquidations per step (gas, block space).
    pub budget_count: u64,
    /// Share of seized collateral liquidators sell on the venues at once.
    pub sell_fraction: f64,
    pub max_rounds_per_step: u32,
    /// Profit margin keepers require: they buy collateral at a discount only when the venues
    /// would pay at least `price / (1 − keeper_margin)` for it (Comet storefront).
    pub keeper_margin: f64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            priority: Priority::WorstHealth,
            mode: RoundMode::Sequential,
            budget_notional: f64::INFINITY,
            budget_count: u64::MAX,
            sell_fraction: 1.0,
            max_rounds_per_step: 64,
            keeper_margin: 0.0,
        }
    }
}

impl QueueConfig {
    fn validate(&self) -> Result<()> {
        if self.budget_notional.is_nan() || self.budget_notional < 0.0 {
            return Err(Error::Negative {
                field: "budget_notional".to_owned(),
                value: self.budget_notional,
            });
        }
        error::in_range(
            "sell_fraction",
            self.sell_fraction,
            0.0,
            1.0,
            false,
            "in [0, 1]",
        )?;
        if self.max_rounds_per_step == 0 {
            return Err(Error::OutOfRange {
                field: "max_rounds_per_step".to_owned(),
                value: 0.0,
                expected: ">= 1",
            });
        }
        Ok(())
    }
}

/// The final state of every account, in the original order (see [`Engine::account_table`]).
#[derive(Debug, Clone, PartialEq)]
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

/// One asset of a scenario.
#[derive(Debug, Clone)]
pub struct AssetSpec {
    pub name: String,
    pub price: f64,
    pub venues: Vec<AnyVenue>,
    pub oracle: OracleKind,
}

/// Everything an engine starts from.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub assets: Vec<AssetSpec>,
    pub protocols: Vec<Lending>,
    pub accounts: Accounts,
    /// Perp exchanges, vault systems and funds; their protocol ids follow the lending ones.
    pub families: Vec<Family>,
    pub queue: QueueConfig,
    pub step_seconds: f64,
}

/// What one step did, without building any frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepReport {
    pub step: u32,
    pub liquidations: u32,
    pub liquidated_notional: f64,
    pub bad_debt: f64,
    pub rounds: u32,
    pub queue_length: u32,
}

/// Quote and asset flows of the run, for the conservation identities of MECHANICS §8.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// Quote liquidators paid to repay debt.
    pub liquidators_paid: f64,
    /// Quote liquidators received from the venues.
    pub liquidators_received: f64,
    /// Units of each asset liquidators received (seized less the protocol fee).
    pub liquidators_seized: Vec<f64>,
    /// Units of each asset liquidators and keepers sold on the venues.
    pub sold: Vec<f64>,
    /// Quote keepers paid Comet for storefront purchases.
    pub keepers_paid: f64,
    /// Quote keepers received selling those purchases on the venues.
    pub keepers_received: f64,
}

#[derive(Debug, Clone, Copy)]
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

/// The cascade engine.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The market state every family trades against, and the recorder.
    sh: Shared,
    protocols: Vec<Lending>,
    /// The other families of forced sellers (perps, vaults, funds), in scenario order.
    families: Vec<Family>,
    /// Accounts in the engine's storage order (see `TriggerIndex::memory_order`).
    acc: Accounts,
    /// Original id of each stored account: results speak in original ids.
    original: Vec<u32>,
    index: TriggerIndex,
    queue: Vec<Entry>,
    in_queue: Vec<bool>,
    /// Random priority keys per account (empty unless the priority is random).
    random_key: Vec<u32>,
    seq: u32,
    triggered: Vec<u32>,
    first_liquidation: Option<u32>,
    last_liquidation: Option<u32>,
    /// Steps an oracle may lag behind the venues: quiet needs this many idle steps.
    quiet_steps: u32,
    /// Consecutive steps without liquidation and with an empty queue.
    idle_steps: u32,
}

impl Engine {
    pub fn new(sc: Scenario, seed: u64) -> Result<Self> {
        error::positive("step_seconds", sc.step_seconds)?;
        sc.queue.validate()?;
        let n = sc.assets.len();
        if n == 0 {
            return Err(Error::Empty {
                field: "assets".to_owned(),
            });
        }
        let mut initial = Vec::with_capacity(n);
        let mut venues = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        for a in sc.assets {
            error::positive(&format!("{}.price", a.name), a.price)?;
            a.oracle.validate(&a.name)?;
            initial.push(a.price);
            venues.push(a.venues);
            kinds.push(a.oracle);
        }
        for (p, l) in sc.protocols.iter().enumerate() {
            if l.reserves.len() != n {
                return Err(Error::LengthMismatch {
                    field: format!("protocols[{p}].reserves"),
                    got: l.reserves.len(),
                    other: "assets".to_owned(),
                    expected: n,
                });
            }
        }
        for f in &sc.families {
            f.check(n)?;
        }
        let families = sc.families;
        let market = Market::new(initial, venues);
        let oracles: Vec<Oracle> = kinds
            .iter()
            .enumerate()
            .map(|(a, &k)| Oracle::new(k, market.spot(a)))
            .collect();
        let px = oracles.iter().map(Oracle::value).collect();
        let lag = kinds
            .iter()
            .map(|k| match *k {
                OracleKind::Push { heartbeat, .. } => heartbeat,
                OracleKind::Twap { window } => window,
                OracleKind::Delayed { delay } => delay,
                _ => 0.0,
            })
            .fold(0.0, f64::max);
        // `as` saturates: an absurd lag means waiting as long as max_extra_steps allows.
        let quiet_steps = ((lag / sc.step_seconds).ceil() as u32).saturating_add(1);
        let plan = TriggerIndex::memory_order(&sc.accounts, &sc.protocols);
        let accounts = sc.accounts.permuted(&plan.order);
        drop(sc.accounts);
        let index = TriggerIndex::build_ordered(&accounts, &sc.protocols, &plan);
        let original = plan.order;
        let n_acc = accounts.len();
        // A cascade liquidates most accounts about once: room for twice that many rows up front
        // (address space only, until written), so the columns never grow by copying.
        let mut events = EventColumns::default();
        events.reserve(2 * n_acc + 1024);
        Ok(Engine {
            sh: Shared {
                market,
                oracles,
                px,
                cfg: sc.queue,
                step_seconds: sc.step_seconds,
                step: 0,
                rng: ChaCha8Rng::seed_from_u64(seed),
                events,
                steps: StepColumns::default(),
                ledger: Ledger {
                    liquidators_seized: vec![0.0; n],
                    sold: vec![0.0; n],
                    ..Ledger::default()
                },
                cum_bad_debt: 0.0,
                asset_notional: vec![0.0; n],
                asset_count: vec![0; n],
                batch_qty: vec![0.0; n],
            },
            protocols: sc.protocols,
            families,
            index,
            queue: Vec::new(),
            in_queue: vec![false; n_acc],
            random_key: if sc.queue.priority == Priority::Random {
                vec![0; n_acc]
            } else {
                Vec::new()
            },
            acc: accounts,
            original,
            seq: 0,
            triggered: Vec::new(),
            first_liquidation: None,
            last_liquidation: None,
            quiet_steps,
            idle_steps: 0,
        })
    }

    pub fn market(&self) -> &Market {
        &self.sh.market
    }
    pub fn protocols(&self) -> &[Lending] {
        &self.protocols
    }
    /// The perp exchanges, vault systems and funds, in scenario order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }
    /// The shared market state, oracles and recorder.
    pub fn shared(&self) -> &Shared {
        &self.sh
    }
    pub fn events(&self) -> &EventColumns {
        &self.sh.events
    }
    pub fn step_rows(&self) -> &StepColumns {
        &self.sh.steps
    }
    pub fn ledger(&self) -> &Ledger {
        &self.sh.ledger
    }
    pub fn oracle_prices(&self) -> &[f64] {
        &self.sh.px
    }
    pub fn current_step(&self) -> u32 {
        self.sh.step
    }
    pub fn queue_length(&self) -> usize {
        self.queue.len()
    }
    pub fn first_liquidation_step(&self) -> Option<u32> {
        self.first_liquidation
    }
    pub fn last_liquidation_step(&self) -> Option<u32> {
        self.last_liquidation
    }
    pub fn cumulative_bad_debt(&self) -> f64 {
        self.sh.cum_bad_debt
    }

    /// The state of every account, in the original order, at the current oracle prices.
    pub fn account_table(&self) -> AccountTable {
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
        for (i, &o) in self.original.iter().enumerate() {
            let o = o as usize;
            let h = self.acc.holdings(i);
            let (mut c, mut d) = (0.0, 0.0);
            for k in 0..h.asset.len() {
                let p = self.sh.px[h.asset[k] as usize];
                c += h.collateral[k] * p;
                d += h.debt[k] * p;
            }
            t.status[o] = self.acc.status[i];
            t.health[o] = self.health(i);
            t.collateral_value[o] = c;
            t.debt_value[o] = d;
            t.liquidated_notional[o] = self.acc.liquidated_notional[i];
        }
        // Counts and bad debt per account come from the events (one pass), not from per-account
        // state kept through the run.
        let ev = &self.sh.events;
        let lending = self.protocols.len() as u32;
        for k in 0..ev.len() {
            let o = ev.account[k];
            // Rows of other families (vault owners, traders) speak in their own ids.
            if o == NONE || ev.protocol[k] >= lending {
                continue;
            }
            let o = o as usize;
            let kind = ev.kind[k];
            // A liquidation, or the first row of an absorb (the one with the debt asset).
            if kind == EventKind::Liquidation as u8
                || (kind == EventKind::Absorb as u8 && ev.debt_asset[k] != NONE)
            {
                t.times_liquidated[o] += 1;
            }
            t.bad_debt[o] += ev.bad_debt[k];
        }
        t
    }

    /// Collateral and debt units of an account (by original id), per holding asset.
    pub fn holdings_of(&self, original: usize) -> Option<(Vec<u32>, Vec<f64>, Vec<f64>)> {
        let i = self.original.iter().position(|&o| o as usize == original)?;
        let h = self.acc.holdings(i);
        Some((h.asset.to_vec(), h.collateral.to_vec(), h.debt.to_vec()))
    }

    /// Takes the recorded events and step rows out of the engine (moved, not copied). Build the
    /// [`Engine::account_table`] first: it reads the events.
    pub fn take_records(&mut self) -> (EventColumns, StepColumns) {
        (
            std::mem::take(&mut self.sh.events),
            std::mem::take(&mut self.sh.steps),
        )
    }

    /// Health of stored account `i` at the current oracle prices.
    fn health(&self, i: usize) -> f64 {
        let l = &self.protocols[self.acc.protocol[i] as usize];
        l.health(&self.acc.holdings(i), &self.sh.px)
    }

    /// Runs one step with the exogenous reference prices `reference` (one per asset).
    pub fn step(&mut self, reference: &[f64]) -> Result<StepReport> {
        let n = self.sh.market.n_assets();
        if reference.len() != n {
            return Err(Error::LengthMismatch {
                field: "reference".to_owned(),
                got: reference.len(),
                other: "assets".to_owned(),
                expected: n,
            });
        }
        for (a, &x) in reference.iter().enumerate() {
            error::positive(&format!("reference[{a}]"), x)?;
        }
        let t = f64::from(self.sh.step) * self.sh.step_seconds;
        let dt = if self.sh.step == 0 {
            0.0
        } else {
            self.sh.step_seconds
        };
        for (a, &x) in reference.iter().enumerate() {
            self.sh.market.advance(a, dt, x);
            self.sh.oracles[a].update_step(t, self.sh.market.spot(a), x);
            self.sh.px[a] = self.sh.oracles[a].value();
        }
        self.sh.asset_notional.iter_mut().for_each(|x| *x = 0.0);
        self.sh.asset_count.iter_mut().for_each(|x| *x = 0);
        let bad_before = self.sh.cum_bad_debt;
        let rounds = self.run_rounds();
        if let Some(e) = self.families.iter().find_map(Family::failure) {
            return Err(e.clone());
        }
        let mut report = StepReport {
            step: self.sh.step,
            rounds,
            queue_length: self.queue.len() as u32,
            bad_debt: self.sh.cum_bad_debt - bad_before,
            ..StepReport::default()
        };
        let insurance_fund: f64 = self.families.iter().map(Family::insurance_fund).sum();
        for a in 0..n {
            let (bid, ask) = self.sh.market.best_quotes(a);
            report.liquidations += self.sh.asset_count[a];
            report.liquidated_notional += self.sh.asset_notional[a];
            self.sh.steps.push(&StepRow {
                step: self.sh.step,
                asset: a as u32,
                reference: self.sh.market.reference(a),
                mid: self.sh.market.spot(a),
                mid_held: u8::from(self.sh.market.spot_held(a)),
                oracle: self.sh.px[a],
                best_bid: bid.unwrap_or(f64::NAN),
                best_ask: ask.unwrap_or(f64::NAN),
                bid_depth_2pct: self.sh.market.bid_depth(a, 0.02),
                liquidated_notional: self.sh.asset_notional[a],
                liquidation_count: self.sh.asset_count[a],
                rounds,
                queue_length: self.queue.len() as u32,
                cumulative_bad_debt: self.sh.cum_bad_debt,
                insurance_fund,
            });
            self.sh.oracles[a].end_step(t, self.sh.market.spot(a));
        }
        if report.liquidations > 0 {
            self.first_liquidation.get_or_insert(self.sh.step);
            self.last_liquidation = Some(self.sh.step);
        }
        if report.liquidations == 0
            && self.queue.is_empty()
            && !self.families.iter().any(|f| f.busy(self.sh.now()))
        {
            self.idle_steps += 1;
        } else {
            self.idle_steps = 0;
        }
        self.sh.step += 1;
        Ok(report)
    }

    /// Runs the path (`steps` rows of one reference per asset), then holds the last reference
    /// until the market is quiet (see [`Engine::settle`]), at most `max_extra_steps` more.
    /// `interrupted` is polled between steps; when it returns true the run stops where it is.
    pub fn run(
        &mut self,
        path: &[f64],
        max_extra_steps: u32,
        mut interrupted: impl FnMut() -> bool,
    ) -> Result<()> {
        let n = self.sh.market.n_assets();
        if path.is_empty() || !path.len().is_multiple_of(n) {
            return Err(Error::LengthMismatch {
                field: "path".to_owned(),
                got: path.len(),
                other: "a positive multiple of the assets".to_owned(),
                expected: n,
            });
        }
        for row in path.chunks(n) {
            if interrupted() {
                return Ok(());
            }
            self.step(row)?;
        }
        let last = &path[path.len() - n..];
        for _ in 0..max_extra_steps {
            if interrupted() || self.settle(last, 1)? {
                break;
            }
        }
        Ok(())
    }

    /// Holds the reference `last` for up to `max_steps` steps, stopping as soon as the market
    /// is quiet: the queue empty and no liquidation for as many steps as the slowest oracle lags
    /// (so a delayed or averaging oracle has caught up). Returns whether it is quiet.
    pub fn settle(&mut self, last: &[f64], max_steps: u32) -> Result<bool> {
        for _ in 0..max_steps {
            if self.is_quiet() {
                break;
            }
            self.step(last)?;
        }
        Ok(self.is_quiet())
    }

    /// Whether the market is quiet: nothing queued and no liquidation for as many steps as the
    /// slowest oracle lags.
    pub fn is_quiet(&self) -> bool {
        self.queue.is_empty() && self.idle_steps >= self.quiet_steps
    }

    fn run_rounds(&mut self) -> u32 {
        let mut budget = Budget {
            notional: self.sh.cfg.budget_notional,
            count: self.sh.cfg.budget_count,
        };
        let mut rounds = 0;
        let n = self.sh.market.n_assets();
        let first_family = self.protocols.len() as u32;
        loop {
            if rounds > 0 {
                (0..n).for_each(|a| self.sh.reread_spot(a));
            }
            self.collect_triggers();
            if rounds >= self.sh.cfg.max_rounds_per_step {
                break;
            }
            let mut acted = false;
            let attempted = !self.queue.is_empty();
            if attempted && !budget.spent() {
                acted |= self.serve_queue(rounds, &mut budget);
            }
            if self.sh.cfg.mode == RoundMode::Batch {
                self.execute_batch(rounds);
            }
            if self.storefront(rounds, &mut budget) {
                acted = true;
            }
            for (k, f) in self.families.iter_mut().enumerate() {
                acted |= f.round(&mut self.sh, first_family + k as u32, rounds, &mut budget);
            }
            if attempted || acted {
                rounds += 1;
            }
            if !acted {
                break;
            }
        }
        rounds
    }

    /// One round of the lending queue: serve entries in priority order while the budget lasts.
    fn serve_queue(&mut self, round: u32, budget: &mut Budget) -> bool {
        self.order_queue();
        let mut acted = false;
        // Served entries leave; the rest are compacted in place (no second queue).
        let mut queue = std::mem::take(&mut self.queue);
        let mut kept = 0;
        for r in 0..queue.len() {
            let mut e = queue[r];
            let keep = if budget.spent() || e.stuck_step == self.sh.step {
                true
            } else {
                let i = e.account as usize;
                match self.liquidate(i, round, &mut budget.notional) {
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
                        e.stuck_step = self.sh.step;
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

    fn collect_triggers(&mut self) {
        let mut found = std::mem::take(&mut self.triggered);
        found.clear();
        self.index.collect(&self.sh.px, &mut found);
        self.index
            .collect_multi(&self.acc, &self.protocols, &self.sh.px, &mut found);
        self.queue.reserve(found.len());
        for &i in &found {
            let iu = i as usize;
            if self.in_queue[iu] {
                continue;
            }
            // The index hands over accounts whose ratio crossed τ; the rule decides.
            let l = &self.protocols[self.acc.protocol[iu] as usize];
            if l.health(&self.acc.holdings(iu), &self.sh.px) >= 1.0 {
                self.index.reinsert(&self.acc, &self.protocols, iu);
                continue;
            }
            self.in_queue[iu] = true;
            if self.sh.cfg.priority == Priority::Random {
                // Drawn at enqueue, in enqueue order: seeded and independent of the thread count.
                self.random_key[iu] = self.sh.rng.next_u32();
            }
            self.queue.push(Entry {
                account: i,
                breach_step: self.sh.step,
                seq: self.seq,
                stuck_step: u32::MAX,
            });
            self.seq = self.seq.wrapping_add(1);
        }
        self.triggered = found;
    }

    /// The sort key of a queued entry under the configured priority (ties: enqueue order).
    fn priority_key(&self, e: &Entry) -> (f64, u32) {
        let k = match self.sh.cfg.priority {
            Priority::Fifo => f64::from(e.breach_step),
            Priority::Random => f64::from(self.random_key[e.account as usize]),
            Priority::WorstHealth | Priority::Largest => {
                let i = e.account as usize;
                let l = &self.protocols[self.acc.protocol[i] as usize];
                let (w, b) = l.weighted(&self.acc.holdings(i), &self.sh.px);
                match self.sh.cfg.priority {
                    Priority::WorstHealth if b > 0.0 => w / b,
                    Priority::WorstHealth => f64::INFINITY,
                    _ => -b,
                }
            }
        };
        (k, e.seq)
    }

    fn order_queue(&mut self) {
        // Keys with the enqueue sequence as the tie-break: a total order, so the result is
        // deterministic. Accounts usually arrive in order already (the trigger index hands them
        // over worst first and stores them in that order): check that first, without storing keys.
        let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let mut prev: Option<(f64, u32)> = None;
        let sorted = self.queue.iter().all(|e| {
            let k = self.priority_key(e);
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
            .map(|(pos, e)| (self.priority_key(e), pos as u32))
            .collect();
        // Nearly sorted as a rule (rounding can swap neighbours whose τ are close): the stable
        // sort finds the long runs and merges them in about linear time.
        keyed.sort_by(|a, b| cmp(&a.0, &b.0));
        let old = std::mem::take(&mut self.queue);
        self.queue = keyed.iter().map(|k| old[k.1 as usize]).collect();
    }

    fn liquidate(&mut self, i: usize, round: u32, budget: &mut f64) -> Outcome {
        let p = self.acc.protocol[i] as usize;
        let l = &self.protocols[p];
        let h = self.acc.holdings(i);
        if let Rules::CompoundV3 { base, .. } = l.rules {
            return self.absorb(i, round, base as usize);
        }
        let Some(liq) = l.liquidation(&h, &self.sh.px, *budget) else {
            return if l.health(&h, &self.sh.px) >= 1.0 {
                Outcome::Healthy
            } else if l.has_collateral(&h) {
                Outcome::Stuck
            } else {
                self.record_bad_debt(i, round);
                Outcome::Finished
            };
        };
        let base = self.acc.offsets[i] as usize;
        let (dk, ck) = (base + liq.debt_slot, base + liq.coll_slot);
        let (da, ca) = (self.acc.asset[dk] as usize, self.acc.asset[ck] as usize);
        // Repaying or seizing everything clears the balance exactly (no float dust left behind).
        self.acc.debt[dk] = clear_dust(self.acc.debt[dk] - liq.repaid, self.acc.debt[dk]);
        self.acc.collateral[ck] = clear_dust(
            self.acc.collateral[ck] - liq.seized,
            self.acc.collateral[ck],
        );
        self.protocols[p].treasury[ca] += liq.protocol_fee;
        let repaid_value = liq.repaid * self.sh.px[da];
        let seized_value = liq.seized * self.sh.px[ca];
        *budget -= repaid_value;
        self.acc.liquidated_notional[i] += seized_value;
        self.acc.status[i] = Status::Liquidated;
        self.sh.asset_notional[ca] += seized_value;
        self.sh.asset_count[ca] += 1;
        let to_liquidator = liq.seized - liq.protocol_fee;
        let sell = self.sh.cfg.sell_fraction * to_liquidator;
        self.sh.ledger.liquidators_paid += repaid_value;
        self.sh.ledger.liquidators_seized[ca] += to_liquidator;
        let mut ev = Event::new(self.sh.step, round, EventKind::Liquidation);
        ev.account = self.original[i];
        ev.protocol = p as u32;
        ev.asset = ca as u32;
        ev.debt_asset = da as u32;
        ev.debt_repaid = liq.repaid;
        ev.debt_repaid_value = repaid_value;
        ev.collateral_seized = liq.seized;
        ev.bonus = liq.bonus;
        ev.protocol_fee = liq.protocol_fee;
        ev.price_before = self.sh.market.spot(ca);
        match self.sh.cfg.mode {
            RoundMode::Sequential => {
                // The next liquidation sees the moved price: a spot oracle follows at once.
                let fill = self.sh.trade(ca, Side::Sell, sell);
                ev.qty = fill.filled;
                ev.notional = fill.notional;
                self.sh.ledger.sold[ca] += fill.filled;
                self.sh.ledger.liquidators_received += fill.notional;
            }
            RoundMode::Batch => self.sh.batch_qty[ca] += sell,
        }
        ev.price_after = self.sh.market.spot(ca);

        let l = &self.protocols[p];
        let h = self.acc.holdings(i);
        let debt_left = h.debt.iter().any(|&d| d > 0.0);
        let outcome = if !debt_left {
            self.acc.status[i] = Status::Closed;
            Outcome::Done { still: false }
        } else if !l.has_collateral(&h) {
            // The liquidation took the last collateral: its row carries the bad debt.
            ev.bad_debt = self.write_off(i, true);
            Outcome::Done { still: false }
        } else {
            Outcome::Done {
                still: l.health(&h, &self.sh.px) < 1.0,
            }
        };
        self.sh.events.push(&ev);
        outcome
    }

    /// Debt left without collateral, found without a liquidation (nothing left to seize): a row
    /// of its own.
    fn record_bad_debt(&mut self, i: usize, round: u32) {
        let value = self.write_off(i, false);
        if value > 0.0 {
            let mut ev = Event::new(self.sh.step, round, EventKind::BadDebt);
            ev.account = self.original[i];
            ev.protocol = self.acc.protocol[i];
            ev.bad_debt = value;
            self.sh.events.push(&ev);
        }
    }

    /// Debt left without collateral: Aave v3.3+ writes it off into the reserves' deficits when a
    /// liquidation took the last collateral (MECHANICS §4.4); otherwise it stays on the account.
    /// Either way it is bad debt, counted once per account; returns its value.
    fn write_off(&mut self, i: usize, in_liquidation: bool) -> f64 {
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
                value += d * self.sh.px[a];
                if write_off {
                    self.protocols[p].deficit[a] += d;
                    self.acc.debt[k] = 0.0;
                }
            }
        }
        if value > 0.0 {
            self.acc.status[i] = Status::BadDebt;
            self.sh.cum_bad_debt += value;
        }
        value
    }

    /// Comet's `absorb` (MECHANICS §4.6): the protocol takes all collateral, credits
    /// `Σ coll·p·liquidationFactor` against the debt, pays any excess to the account in base and
    /// books the shortfall as bad debt; reserves fall by the debt and the credit. One row per
    /// collateral asset; the first carries the debt and the bad debt.
    fn absorb(&mut self, i: usize, round: u32, base: usize) -> Outcome {
        let p = self.acc.protocol[i] as usize;
        let l = &self.protocols[p];
        let h = self.acc.holdings(i);
        if l.health(&h, &self.sh.px) >= 1.0 {
            return Outcome::Healthy;
        }
        let delta = comet_delta_value(l, &h, &self.sh.px);
        let pb = self.sh.px[base];
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
            seized_value += c * self.sh.px[a];
            self.sh.asset_notional[a] += c * self.sh.px[a];
            let mut ev = Event::new(self.sh.step, round, EventKind::Absorb);
            ev.account = self.original[i];
            ev.protocol = p as u32;
            ev.asset = a as u32;
            ev.collateral_seized = c;
            ev.price_before = self.sh.market.spot(a);
            ev.price_after = ev.price_before;
            if first {
                self.sh.asset_count[a] += 1;
                ev.debt_asset = base as u32;
                ev.debt_repaid = debt;
                ev.debt_repaid_value = debt * pb;
                ev.bad_debt = bad;
                first = false;
            }
            self.sh.events.push(&ev);
        }
        if let Rules::CompoundV3 { reserves, .. } = &mut self.protocols[p].rules {
            *reserves -= debt + credit;
        }
        self.acc.liquidated_notional[i] += seized_value;
        if bad > 0.0 {
            self.acc.status[i] = Status::BadDebt;
            self.sh.cum_bad_debt += bad;
        } else {
            self.acc.status[i] = Status::Closed;
        }
        Outcome::Done { still: false }
    }

    /// Comet's storefront (MECHANICS §4.6): while a protocol's reserves are below target, keepers
    /// buy absorbed collateral at `p·(1 − storeFrontPriceFactor·(1 − liquidationFactor))` when
    /// the venues would pay at least that plus their margin, and sell it there. A purchase checks
    /// the target at its start and is not capped by it. Returns whether anything was bought.
    fn storefront(&mut self, round: u32, budget: &mut Budget) -> bool {
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
            for a in 0..self.sh.market.n_assets() {
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
                let price = self.sh.px[a] * (1.0 - store_front_price_factor * (1.0 - lf));
                let need = price / (1.0 - self.sh.cfg.keeper_margin);
                let pays = |q: f64| {
                    let f = self.sh.market.quote(a, Side::Sell, q);
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
                    *reserves += paid / self.sh.px[base];
                }
                let mut ev = Event::new(self.sh.step, round, EventKind::Storefront);
                ev.protocol = p as u32;
                ev.asset = a as u32;
                ev.debt_asset = base as u32;
                ev.collateral_seized = q;
                ev.debt_repaid_value = paid;
                ev.price_before = self.sh.market.spot(a);
                let fill = self.sh.trade(a, Side::Sell, q);
                ev.qty = fill.filled;
                ev.notional = fill.notional;
                ev.price_after = self.sh.market.spot(a);
                self.sh.ledger.keepers_paid += paid;
                self.sh.ledger.keepers_received += fill.notional;
                self.sh.ledger.sold[a] += fill.filled;
                self.sh.events.push(&ev);
                bought = true;
            }
        }
        bought
    }

    fn execute_batch(&mut self, round: u32) {
        for a in 0..self.sh.market.n_assets() {
            let q = std::mem::take(&mut self.sh.batch_qty[a]);
            if q <= 0.0 {
                continue;
            }
            let mut ev = Event::new(self.sh.step, round, EventKind::Sale);
            ev.asset = a as u32;
            ev.price_before = self.sh.market.spot(a);
            let fill = self.sh.trade(a, Side::Sell, q);
            ev.qty = fill.filled;
            ev.notional = fill.notional;
            ev.price_after = self.sh.market.spot(a);
            self.sh.ledger.sold[a] += fill.filled;
            self.sh.ledger.liquidators_received += fill.notional;
            self.sh.events.push(&ev);
        }
    }
}

/// `left` as what remains of `before` after a subtraction, with float residue below 1e-12 of the
/// original cleared to zero.
#[inline]
fn clear_dust(left: f64, before: f64) -> f64 {
    if left <= 1e-12 * before { 0.0 } else { left }
}
