//! The step loop (DESIGN §4, §4.5): exogenous move → venue upkeep → oracles → triggers → queue →
//! matching → … until the market is quiet.
//!
//! One `Engine` holds the whole state: the market, oracles and recorder every family shares
//! ([`Shared`]) and the families of forced sellers ([`Family`]), in the order they act. Each
//! round every family first scans for breaches, then acts in turn on the same venues; the step
//! ends when no family acted. `simulate` builds one and runs the path to quiet; a backtest can
//! hold one open and call `step` itself. There is no second loop.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{self, Error, Result};
use crate::family::lending::LendingMarket;
use crate::family::shared::OutageState;
use crate::family::{Budget, Family, ForcedSeller, Ledger, Shared};
use crate::market::Market;
use crate::oracle::{Oracle, OracleKind};
use crate::recorder::{
    EventColumns, EventLog, FillColumns, SequencerState, StepColumns, StepRow, Value, Values,
};
use crate::scenario::{Outage, OutageKind, Scenario};

/// The tables an engine records as it runs: one row per event, per step and asset, and per
/// venue of each order routed across more than one venue.
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub events: EventLog,
    pub steps: StepColumns,
    pub fills: FillColumns,
}

/// What one step did, without building any frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct StepReport {
    pub step: u32,
    pub liquidations: u32,
    pub liquidated_notional: f64,
    pub bad_debt: f64,
    pub rounds: u32,
    pub queue_length: u32,
}

/// The cascade engine.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Engine {
    /// The market state every family trades against, and the recorder.
    pub(crate) sh: Shared,
    /// The families of forced sellers, in scenario order.
    pub(crate) families: Vec<Family>,
    /// First protocol id of each family.
    pub(crate) first_id: Vec<u32>,
    first_liquidation: Option<u32>,
    last_liquidation: Option<u32>,
    /// Steps an oracle may lag behind the venues: quiet needs this many idle steps.
    quiet_steps: u32,
    /// Consecutive steps without liquidation and with nothing pending.
    idle_steps: u32,
    /// The scenario's outages.
    #[serde(default)]
    pub(crate) outages: Vec<Outage>,
    /// The owners of accounts across families, their account map and their free cash now.
    #[serde(default)]
    owners: Owners,
}

crate::reuse::clone_reusing!(Engine {
    sh,
    families,
    first_id,
    first_liquidation,
    last_liquidation,
    quiet_steps,
    idle_steps,
    outages,
    owners,
});

/// Owners across families (issue 18): who owns which account, each owner's policy and the
/// free cash it has left.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Owners {
    pub specs: Vec<crate::scenario::OwnerSpec>,
    /// Per account id: the owner's index, or `u32::MAX`.
    pub owner_of: Vec<u32>,
    /// Free cash per owner, in quote.
    pub cash: Vec<f64>,
    /// Per family: the accounts (lending: storage indices; perps: pools) owned by an owner
    /// with a policy, found once, so that a round visits those alone.
    #[serde(default)]
    pub owned: Vec<Vec<u32>>,
    /// Whether an owner traded (sold collateral) in the current step: the run is not quiet.
    #[serde(default)]
    pub traded: bool,
}

impl Owners {
    /// The owner of account `id`, if it has one.
    #[inline]
    pub fn of(&self, id: u32) -> Option<usize> {
        match self.owner_of.get(id as usize) {
            Some(&o) if o != u32::MAX => Some(o as usize),
            _ => None,
        }
    }
}

impl Engine {
    pub fn new(sc: Scenario, seed: u64) -> Result<Self> {
        sc.validate()?;
        let n = sc.assets.len();
        let mut initial = Vec::with_capacity(n);
        let mut venues = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut pegs = Vec::with_capacity(n);
        for a in sc.assets {
            pegs.push(a.peg);
            initial.push(a.price);
            venues.push(a.venues);
            kinds.push(a.oracle);
        }
        let market = Market::new(initial, venues).with_pegs(&pegs);
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
        let outages = sc.outages;
        let mut owners = Owners {
            cash: sc.owners.iter().map(|o| o.cash).collect(),
            specs: sc.owners,
            owner_of: sc.owner_of,
            owned: Vec::new(),
            traded: false,
        };
        let views = peg_views(&sc.reads_peg, &pegs);
        let mut families = sc.families;
        let mut first_id = Vec::with_capacity(families.len());
        let mut id = 0u32;
        let mut n_acc = 0;
        for f in &mut families {
            first_id.push(id);
            match f {
                Family::Lending(l) => {
                    l.first_id = id;
                    n_acc += l.len();
                }
                // A position's close and the fund's payment for it, or the cuts ADL makes of it.
                Family::Perps(x) => n_acc += x.positions(),
                _ => {}
            }
            id += f.protocol_count();
        }
        if !owners.specs.is_empty() {
            owners.owned = families
                .iter()
                .map(|f| match f {
                    Family::Lending(l) => l.owned_by(&owners),
                    Family::Perps(x) => x.owned_by(&owners),
                    _ => Vec::new(),
                })
                .collect();
        }
        // A cascade liquidates most accounts and positions about once: room for twice that many
        // rows up front
        // (address space only, until written), so the columns never grow by copying.
        let mut events = EventLog::default();
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
                fills: FillColumns::default(),
                steps: StepColumns::default(),
                ledger: Ledger {
                    liquidators_seized: vec![0.0; n],
                    sold: vec![0.0; n],
                    ..Ledger::default()
                },
                cum_bad_debt: 0.0,
                asset_notional: vec![0.0; n],
                owner_sold: vec![0.0; n],
                asset_count: vec![0; n],
                family_notional: vec![0.0; families.len()],
                family_count: vec![0; families.len()],
                acting: 0,
                outage: OutageState {
                    frozen: vec![false; n],
                    redemption_paused: vec![false; n],
                    ..OutageState::default()
                },
                views,
                view: None,
            },
            families,
            first_id,
            first_liquidation: None,
            last_liquidation: None,
            quiet_steps,
            idle_steps: 0,
            outages,
            owners,
        })
    }

    /// The engine `Engine::new` would have built from the same scenario with `seed`: the seed
    /// is that of the queue's generator alone, and `self` has not stepped.
    pub(crate) fn reseed(&mut self, seed: u64) {
        debug_assert_eq!(
            self.sh.step, 0,
            "only an engine that has not stepped is reseeded"
        );
        self.sh.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// The families, in scenario order, each with the prices it reads (its view of pegged
    /// assets): what their final-state tables are computed at, later (see
    /// [`Self::family_tables`]).
    pub fn into_families(self) -> Vec<(Family, Vec<f64>)> {
        let px: Vec<Vec<f64>> = (0..self.families.len())
            .map(|k| self.sh.px_of(k).into_owned())
            .collect();
        self.families.into_iter().zip(px).collect()
    }

    /// Family `k`'s final-state tables at the current prices, as it reads them (its view of
    /// pegged assets).
    pub fn family_tables(&self, k: usize) -> Vec<(&'static str, crate::recorder::Table)> {
        self.families[k].tables(&self.sh, &self.sh.px_of(k))
    }

    /// The outages in force at step `step` (see [`Outage`]).
    pub(crate) fn outage_state(&self, step: u32) -> OutageState {
        let n = self.sh.market.n_assets();
        let mut st = OutageState {
            frozen: vec![false; n],
            redemption_paused: vec![false; n],
            ..OutageState::default()
        };
        for o in &self.outages {
            let on = (o.start..o.end).contains(&step);
            match o.kind {
                OutageKind::OracleFreeze { asset } if on => st.frozen[asset as usize] = true,
                OutageKind::Liquidators if on => st.liquidators_out = true,
                OutageKind::RedemptionPause { asset } if on => {
                    st.redemption_paused[asset as usize] = true;
                }
                OutageKind::Sequencer { grace_steps } => {
                    if on {
                        st.sequencer = SequencerState::Down;
                    } else if step >= o.end
                        && step - o.end < grace_steps
                        && st.sequencer == SequencerState::Up
                    {
                        st.sequencer = SequencerState::Grace;
                    }
                }
                _ => {}
            }
        }
        st
    }

    /// Halts the venues a venue-halt outage covers at step `step` and resumes the others.
    fn apply_halts(&mut self, step: u32) {
        let mut want: Vec<(u32, u32, bool)> = Vec::new();
        for o in &self.outages {
            if let OutageKind::VenueHalt { asset, venue } = o.kind {
                let on = (o.start..o.end).contains(&step);
                match want.iter_mut().find(|w| (w.0, w.1) == (asset, venue)) {
                    Some(w) => w.2 |= on,
                    None => want.push((asset, venue, on)),
                }
            }
        }
        for (a, k, on) in want {
            self.sh.market.set_halted(a as usize, k as usize, on);
        }
    }

    pub fn market(&self) -> &Market {
        &self.sh.market
    }
    /// The families of forced sellers, in scenario order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }
    /// The first lending family, if the scenario has one.
    pub fn lending(&self) -> Option<&LendingMarket> {
        self.families.iter().find_map(Family::as_lending)
    }
    /// The shared market state, oracles and recorder.
    pub fn shared(&self) -> &Shared {
        &self.sh
    }
    /// The events recorded so far, every row written out (a copy: see [`Self::event_count`]
    /// for their number alone).
    pub fn events(&self) -> EventColumns {
        self.sh.events.columns()
    }

    /// The number of events recorded so far.
    pub fn event_count(&self) -> usize {
        self.sh.events.len()
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
    /// Breached accounts waiting in every family's queue.
    pub fn queue_length(&self) -> usize {
        self.families.iter().map(ForcedSeller::queue_length).sum()
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

    /// The run's totals under their result names: steps run, quiet, first and last liquidation
    /// step, bad debt, queue length, and the liquidators' and keepers' flows (MECHANICS §8).
    pub fn totals(&self) -> Values {
        let l = &self.sh.ledger;
        vec![
            ("steps_run", Value::U64(u64::from(self.sh.step))),
            ("quiet", Value::Bool(self.is_quiet())),
            (
                "first_liquidation_step",
                Value::OptU32(self.first_liquidation),
            ),
            (
                "last_liquidation_step",
                Value::OptU32(self.last_liquidation),
            ),
            ("bad_debt", Value::F64(self.sh.cum_bad_debt)),
            ("queue_length", Value::U64(self.queue_length() as u64)),
            ("liquidators_paid", Value::F64(l.liquidators_paid)),
            ("liquidators_received", Value::F64(l.liquidators_received)),
            (
                "liquidators_seized",
                Value::F64s(l.liquidators_seized.clone()),
            ),
            ("sold", Value::F64s(l.sold.clone())),
            ("keepers_paid", Value::F64(l.keepers_paid)),
            ("keepers_received", Value::F64(l.keepers_received)),
            ("owner_cash", Value::F64s(self.owners.cash.clone())),
        ]
    }

    /// Room for `steps` more steps in the step records (one row per asset each), so that a long
    /// run never grows them by copying.
    pub fn reserve_steps(&mut self, steps: usize) {
        let n = self.sh.market.n_assets();
        self.sh.steps.reserve(steps.saturating_mul(n));
    }

    /// A copy of the recorded events, step rows and venue fills so far (the engine keeps its
    /// own).
    pub fn records(&self) -> Records {
        Records {
            events: self.sh.events.clone(),
            steps: self.sh.steps.clone(),
            fills: self.sh.fills.clone(),
        }
    }

    /// Takes the recorded events, step rows and venue fills out of the engine (moved, not
    /// copied). Build the families' tables first: the lending accounts table reads the events.
    pub fn take_records(&mut self) -> Records {
        Records {
            events: std::mem::take(&mut self.sh.events),
            steps: std::mem::take(&mut self.sh.steps),
            fills: std::mem::take(&mut self.sh.fills),
        }
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
        // The field's name is only formatted for an error: a quiet step allocates nothing.
        let (lo, hi) = error::PRICE_RANGE;
        if let Some(a) = reference.iter().position(|x| !(lo..=hi).contains(x)) {
            error::price(&format!("reference[{a}]"), reference[a])?;
        }
        let t = f64::from(self.sh.step) * self.sh.step_seconds;
        let dt = if self.sh.step == 0 {
            0.0
        } else {
            self.sh.step_seconds
        };
        if !self.outages.is_empty() {
            self.sh.outage = self.outage_state(self.sh.step);
            self.apply_halts(self.sh.step);
        }
        self.sh.set_view(None);
        for (a, &x) in reference.iter().enumerate() {
            self.sh.market.advance(a, dt, x);
            let paused = self.sh.outage.redemption_paused.get(a).copied();
            self.sh
                .market
                .peg_upkeep(a, self.sh.step, paused.unwrap_or(false));
        }
        // Every venue is kept up before any oracle reads: a pegged asset's price in quote
        // moves with its underlying's.
        for a in 0..n {
            // A frozen oracle holds its value (and its own clock).
            if !self.sh.outage.frozen[a] {
                let x = self.sh.market.reference(a);
                self.sh.oracles[a].update_step(t, self.sh.market.spot(a), x);
                self.sh.px[a] = self.sh.oracles[a].value();
            }
        }
        self.sh.asset_notional.iter_mut().for_each(|x| *x = 0.0);
        self.sh.owner_sold.iter_mut().for_each(|x| *x = 0.0);
        self.sh.asset_count.iter_mut().for_each(|x| *x = 0);
        self.sh.family_notional.iter_mut().for_each(|x| *x = 0.0);
        self.sh.family_count.iter_mut().for_each(|x| *x = 0);
        let bad_before = self.sh.cum_bad_debt;
        let rounds = self.run_rounds();
        self.sh.set_view(None);
        if let Some(e) = self.families.iter().find_map(ForcedSeller::failure) {
            return Err(e.clone());
        }
        let queue_length = self.queue_length() as u32;
        let mut report = StepReport {
            step: self.sh.step,
            rounds,
            queue_length,
            bad_debt: self.sh.cum_bad_debt - bad_before,
            ..StepReport::default()
        };
        let insurance_fund: f64 = self.families.iter().map(ForcedSeller::insurance_fund).sum();
        for a in 0..n {
            let (bid, ask) = self.sh.market.best_quotes(a);
            report.liquidations += self.sh.asset_count[a];
            report.liquidated_notional += self.sh.asset_notional[a];
            let peg = self.sh.market.peg_state(a);
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
                queue_length,
                cumulative_bad_debt: self.sh.cum_bad_debt,
                insurance_fund,
                oracle_frozen: u8::from(self.sh.outage.frozen[a]),
                liquidators_out: u8::from(self.sh.outage.liquidators_out),
                sequencer: self.sh.outage.sequencer as u8,
                venues_halted: self.sh.market.halted_count(a),
                peg_ratio: self.sh.market.peg_ratio(a).unwrap_or(f64::NAN),
                redeemed: peg.map_or(0.0, |p| p.redeemed),
                minted: peg.map_or(0.0, |p| p.minted),
                redemption_paid: peg.map_or(0.0, |p| p.paid),
                redemption_queue: peg.map_or(0.0, |p| p.queued()),
                redemption_paused: u8::from(peg.is_some_and(|p| p.paused)),
                owner_sold_notional: self.sh.owner_sold.get(a).copied().unwrap_or(0.0),
            });
            if !self.sh.outage.frozen[a] {
                self.sh.oracles[a].end_step(t, self.sh.market.spot(a));
            }
        }
        if report.liquidations > 0 {
            self.first_liquidation.get_or_insert(self.sh.step);
            self.last_liquidation = Some(self.sh.step);
        }
        let owners_traded = std::mem::take(&mut self.owners.traded);
        if report.liquidations == 0
            && !owners_traded
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
        // An outage still to end (a freeze, a grace period) is pending change: not quiet before
        // the first step after it has run.
        // So is a peg whose channels still trade (the price still moves back).
        self.queue_length() == 0
            && self.idle_steps >= self.quiet_steps
            && (self.outages.is_empty() || self.sh.step > self.outages_end())
            && !self.sh.market.pegs_trading()
    }

    /// The first step after every outage and grace period.
    fn outages_end(&self) -> u32 {
        self.outages
            .iter()
            .map(|o| match o.kind {
                OutageKind::Sequencer { grace_steps } => o.end.saturating_add(grace_steps),
                _ => o.end,
            })
            .max()
            .unwrap_or(0)
    }

    /// The owners act before the families scan, each round: first their perp margin calls, in
    /// family order, then their lending accounts' target health, from the cash left.
    #[cold]
    #[inline(never)]
    fn support_owners(&mut self, round: u32) {
        for pass in [0, 1] {
            for (k, (f, &id)) in self.families.iter_mut().zip(&self.first_id).enumerate() {
                self.sh.set_acting(k);
                match (pass, f) {
                    (0, Family::Perps(x)) => {
                        x.support_owners(&mut self.sh, id, round, &mut self.owners, k)
                    }
                    (1, Family::Lending(l)) => {
                        l.support_owners(&mut self.sh, round, &mut self.owners, k)
                    }
                    _ => {}
                }
            }
        }
    }

    fn run_rounds(&mut self) -> u32 {
        // A liquidator outage leaves them no budget: nothing they pay for happens.
        let out = self.sh.outage.liquidators_out;
        let mut budget = Budget {
            notional: if out {
                0.0
            } else {
                self.sh.cfg.budget_notional
            },
            count: if out { 0 } else { self.sh.cfg.budget_count },
        };
        let mut rounds = 0;
        let n = self.sh.market.n_assets();
        loop {
            if rounds > 0 {
                (0..n).for_each(|a| self.sh.reread_spot(a));
            }
            if !self.owners.specs.is_empty() {
                self.support_owners(rounds);
            }
            for (k, f) in self.families.iter_mut().enumerate() {
                self.sh.set_acting(k);
                f.scan(&mut self.sh);
            }
            if rounds >= self.sh.cfg.max_rounds_per_step {
                break;
            }
            let (mut attempted, mut acted) = (false, false);
            for (k, (f, &id)) in self.families.iter_mut().zip(&self.first_id).enumerate() {
                self.sh.set_acting(k);
                let r = f.round(&mut self.sh, id, rounds, &mut budget);
                attempted |= r.attempted;
                acted |= r.acted;
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
}

/// Per family, the pegged assets it reads at the peg, underlyings before the assets pegged to
/// them (each asset's depth in its peg chain); empty when no family reads any.
fn peg_views(reads_peg: &[Vec<u32>], pegs: &[Option<crate::scenario::Peg>]) -> Vec<Vec<usize>> {
    if reads_peg.iter().all(Vec::is_empty) {
        return Vec::new();
    }
    let depth = |mut a: usize| {
        let mut d = 0;
        while let Some(u) = pegs[a].and_then(|p| p.underlying) {
            a = u as usize;
            d += 1;
        }
        d
    };
    reads_peg
        .iter()
        .map(|list| {
            let mut v: Vec<usize> = list.iter().map(|&a| a as usize).collect();
            v.sort_by_key(|&a| (depth(a), a));
            v.dedup();
            v
        })
        .collect()
}
