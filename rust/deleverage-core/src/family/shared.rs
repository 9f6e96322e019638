//! What every family of forced sellers stands on: the market state, the oracles, the queue's
//! settings and the recorder ([`Shared`]), the liquidators' per-step capacity ([`Budget`]), the
//! run's flow ledger ([`Ledger`]), and the interface every family implements ([`ForcedSeller`]).
//!
//! A family acts once per round, in scenario order; the step ends when no family acted in a
//! round (or at `max_rounds_per_step`). All families trade on the same venues, so one family's
//! forced sale moves the prices the next one reads.

use rand_chacha::ChaCha8Rng;

use crate::error::{self, Error, Result};
use crate::fill::{Fill, Side};
use crate::market::Market;
use crate::oracle::Oracle;
use crate::recorder::{
    Event, EventKind, EventLog, FillColumns, FillRow, StepColumns, Table, Values, named_enum,
};

/// The engine's relative tolerance on amounts: two amounts within `DUST` of the larger are the
/// same amount. Floating point makes `100 × 1.1` come out as 110.00000000000001; a comparison
/// of a budget with a tab, a payment with a debt, or a trade with nothing uses this tolerance so
/// that the rounding of one multiplication never changes which rule applies.
pub const DUST: f64 = 1e-12;

/// `a ≥ b` up to [`DUST`].
#[inline]
pub fn at_least(a: f64, b: f64) -> bool {
    a >= b - DUST * a.abs().max(b.abs())
}

/// The state every family reads and moves.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Shared {
    pub market: Market,
    pub oracles: Vec<Oracle>,
    /// Oracle price per asset, as margin engines read it.
    pub px: Vec<f64>,
    pub cfg: QueueConfig,
    pub step_seconds: f64,
    pub step: u32,
    pub rng: ChaCha8Rng,
    pub events: EventLog,
    /// Each forced order's part on each venue, for assets with more than one venue.
    #[serde(default)]
    pub fills: FillColumns,
    pub steps: StepColumns,
    pub ledger: Ledger,
    pub cum_bad_debt: f64,
    /// Liquidated notional and count per asset in the current step.
    pub asset_notional: Vec<f64>,
    /// Quote owners' sales of each asset brought in the current step (not liquidations).
    #[serde(default)]
    pub owner_sold: Vec<f64>,
    pub asset_count: Vec<u32>,
    /// Liquidated notional and count per family in the current step, and the family acting.
    pub family_notional: Vec<f64>,
    pub family_count: Vec<u32>,
    pub acting: usize,
    /// The outages in force in the current step.
    pub outage: OutageState,
    /// Per family (empty when none does): the pegged assets its oracle reads at the peg, the
    /// underlyings before the assets pegged to them.
    #[serde(default)]
    pub views: Vec<Vec<usize>>,
    /// The family whose view `px` holds now (`None`: every asset at its own oracle).
    #[serde(default)]
    pub view: Option<usize>,
}

crate::reuse::clone_reusing!(Shared {
    market,
    oracles,
    px,
    cfg,
    step_seconds,
    step,
    rng,
    events,
    fills,
    steps,
    ledger,
    cum_bad_debt,
    asset_notional,
    owner_sold,
    asset_count,
    family_notional,
    family_count,
    acting,
    outage,
    views,
    view,
});

/// What the scenario's outages stop in the current step.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct OutageState {
    /// Per asset: its oracle holds its value.
    pub frozen: Vec<bool>,
    /// No liquidator or keeper acts.
    pub liquidators_out: bool,
    /// The L2 sequencer's state.
    pub sequencer: crate::recorder::SequencerState,
    /// Per asset: its redemption channel is paused.
    #[serde(default)]
    pub redemption_paused: Vec<bool>,
}

impl OutageState {
    /// Whether the PriceOracleSentinel restricts liquidations now (the sequencer down or in its
    /// grace period).
    pub fn sentinel(&self) -> bool {
        self.sequencer != crate::recorder::SequencerState::Up
    }
}

/// A pegged asset at the peg: its peg times the underlying's price in `px` (1 for the quote).
fn peg_value(market: &Market, a: usize, px: &[f64]) -> f64 {
    market.par(a) * market.underlying(a).map_or(1.0, |u| px[u])
}

impl Shared {
    /// Seconds since the start of the run at the current step.
    #[inline]
    pub fn now(&self) -> f64 {
        f64::from(self.step) * self.step_seconds
    }

    /// Seconds since the start at the last step run (0 before any): the time the final-state
    /// tables are evaluated at.
    #[inline]
    pub fn last_step_time(&self) -> f64 {
        f64::from(self.step.saturating_sub(1)) * self.step_seconds
    }

    /// A spot oracle re-reads the routed mid (other oracles keep their once-per-step value);
    /// so do the oracles of the assets pegged to it, whose value in quote moved with it.
    #[inline]
    pub fn reread_spot(&mut self, a: usize) {
        // A frozen oracle holds its value.
        if !self.outage.frozen.get(a).copied().unwrap_or(false) {
            self.oracles[a].update_round(self.market.spot(a));
            self.px[a] = self.oracles[a].value();
        }
        if self.market.is_pegged() || !self.views.is_empty() {
            self.reread_links(a);
        }
    }

    /// The rest of [`Shared::reread_spot`] when some asset is pegged: `a` at the peg if the
    /// acting family reads it there, and the assets pegged to it re-read.
    #[inline(never)]
    fn reread_links(&mut self, a: usize) {
        if self.view.is_some() && self.in_view(a) {
            self.px[a] = peg_value(&self.market, a, &self.px);
        }
        for j in 0..self.market.dependents(a).len() {
            let d = self.market.dependents(a)[j];
            self.reread_spot(d);
        }
    }

    /// Family `k` acts now: `px` holds its view of the pegged assets.
    #[inline]
    pub fn set_acting(&mut self, k: usize) {
        self.acting = k;
        if !self.views.is_empty() {
            self.set_view(Some(k));
        }
    }

    /// Makes `px` hold family `k`'s view (`None`: every asset at its own oracle).
    pub fn set_view(&mut self, k: Option<usize>) {
        if self.view == k {
            return;
        }
        if let Some(old) = self.view.take() {
            for j in 0..self.views[old].len() {
                let a = self.views[old][j];
                self.px[a] = self.oracles[a].value();
            }
        }
        let Some(k) = k.filter(|&k| !self.views.get(k).is_none_or(Vec::is_empty)) else {
            return;
        };
        self.view = Some(k);
        for j in 0..self.views[k].len() {
            let a = self.views[k][j];
            self.px[a] = peg_value(&self.market, a, &self.px);
        }
    }

    /// Whether family `k` reads asset `a` at its peg.
    pub fn reads_at_peg(&self, k: usize, a: usize) -> bool {
        self.views.get(k).is_some_and(|v| v.contains(&a))
    }

    /// Whether the family whose view `px` holds reads asset `a` at the peg.
    fn in_view(&self, a: usize) -> bool {
        self.view.is_some_and(|k| self.views[k].contains(&a))
    }

    /// `px` as family `k` reads it (a copy when its view differs from the oracles).
    pub fn px_of(&self, k: usize) -> std::borrow::Cow<'_, [f64]> {
        let view = self.views.get(k).map_or(&[][..], Vec::as_slice);
        if self.view == Some(k) || (self.view.is_none() && view.is_empty()) {
            return std::borrow::Cow::Borrowed(&self.px);
        }
        let mut px: Vec<f64> = (0..self.px.len())
            .map(|a| self.oracles[a].value())
            .collect();
        for &a in view {
            px[a] = peg_value(&self.market, a, &px);
        }
        std::borrow::Cow::Owned(px)
    }

    /// Trades `qty` of asset `a` on its venues now, and lets a spot oracle follow.
    pub fn trade(&mut self, a: usize, side: Side, qty: f64) -> Fill {
        let fill = self.market.trade(a, side, qty);
        if self.market.venues(a).len() > 1 {
            self.record_parts(a, side, &fill);
        }
        self.reread_spot(a);
        fill
    }

    /// Records each venue's part of the order on asset `a` that just filled `fill` (out of the
    /// line of [`Shared::trade`], which single-venue assets run hot).
    #[cold]
    #[inline(never)]
    fn record_parts(&mut self, a: usize, side: Side, fill: &Fill) {
        if fill.filled <= 0.0 {
            return;
        }
        let event = self.events.len() as u32;
        for (k, part) in self.market.last_parts(a) {
            push_fill(&mut self.fills, self.step, event, a, k, side, &part);
        }
    }

    /// Records `part`, venue `k`'s share of an order on asset `a` whose first own event row is
    /// `event`.
    pub fn record_fill(&mut self, event: u32, a: usize, k: usize, side: Side, part: &Fill) {
        push_fill(&mut self.fills, self.step, event, a, k, side, part);
    }

    /// An event of this step on asset `a`, priced at its spot before and after (a row that
    /// trades sets `price_after` again once it has).
    pub fn event(
        &self,
        round: u32,
        kind: EventKind,
        protocol: u32,
        account: u32,
        a: usize,
    ) -> Event {
        let mut ev = Event::new(self.step, round, kind);
        ev.protocol = protocol;
        ev.account = account;
        ev.asset = a as u32;
        ev.price_before = self.market.spot(a);
        ev.price_after = ev.price_before;
        ev
    }

    /// Counts a liquidation of `notional` (oracle value) on asset `a` in this step.
    #[inline]
    pub fn count_liquidation(&mut self, a: usize, notional: f64) {
        self.add_liquidated(a, notional, 1);
    }

    /// Adds `notional` (oracle value) and `count` liquidations on asset `a` in this step, for
    /// the family acting (an absorb values every collateral but counts once).
    #[inline]
    pub fn add_liquidated(&mut self, a: usize, notional: f64, count: u32) {
        self.asset_notional[a] += notional;
        self.asset_count[a] += count;
        self.family_notional[self.acting] += notional;
        self.family_count[self.acting] += count;
    }
}

/// What liquidators and keepers can still spend in this step: the debt value they repay or the
/// price they pay (notional), and how many actions (count).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    pub notional: f64,
    pub count: u64,
}

impl Budget {
    #[inline]
    pub fn spent(&self) -> bool {
        self.notional <= 0.0 || self.count == 0
    }
}

/// What one round of a family did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoundOutcome {
    /// It had breached accounts waiting to be served, whether or not the budget let it serve
    /// any: the round counts in the step's `rounds`.
    pub attempted: bool,
    /// It liquidated, sold, bought or started something: another round follows.
    pub acted: bool,
}

impl RoundOutcome {
    /// A round that acted or not, with nothing queued.
    pub fn acted(acted: bool) -> Self {
        RoundOutcome {
            attempted: false,
            acted,
        }
    }
}

/// Accounts that breach their rule at given prices with nothing traded (the no-feedback view of a
/// liquidation map), one row each: the family's own row id (account, position or vault), the
/// values its rule compares, and the values it puts at risk, in quote at those prices.
///
/// A row breaches because `margin` falls short of `requirement` under the family's rule: lending,
/// threshold-weighted collateral `Σ coll·p·θ` against debt value (HF < 1); Maker, `ink·spot`
/// (spot = price/mat) against `art·rate`; perps, the margin pool's equity against its maintenance
/// margin (below, or at or below, as the exchange triggers); funds, equity against 0 (default).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breaches {
    /// Index of the price row (the move) the breach is found at.
    pub at: Vec<u32>,
    /// The family's row: an account id (lending), a position row (perps), a vault row (vaults),
    /// a fund row (funds).
    pub row: Vec<u32>,
    /// Debt value (lending; vaults: `art·rate`; funds: debt); 0 for perps.
    pub debt: Vec<f64>,
    /// Collateral value at the price (lending, vaults; funds: total assets); 0 for perps.
    pub collateral_value: Vec<f64>,
    /// Position notional `|size|·mark` (perps); 0 otherwise.
    pub notional: Vec<f64>,
    /// What the rule compares with `requirement` (see above).
    pub margin: Vec<f64>,
    pub requirement: Vec<f64>,
}

crate::recorder::table!(Breaches {
    at,
    row,
    debt,
    collateral_value,
    notional,
    margin,
    requirement
});

/// The price of one asset at which open accounts would breach their family's rule, the other
/// prices held: one row per account exposed to the asset (what a liquidation heatmap plots).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiquidationPrices {
    /// The account's id in event rows (a perp pool's owner, a vault's owner, a fund).
    pub account: Vec<u32>,
    /// The family's own row (account, position row, vault row, fund row).
    pub row: Vec<u32>,
    /// The price of the asset at which the rule is breached; NaN where no positive price is,
    /// 0 where every price is (debt in the asset that already outweighs the collateral).
    pub price: Vec<f64>,
    /// Whether the breach comes as the price falls below `price` (else as it rises above).
    pub below: Vec<bool>,
}

crate::recorder::table!(LiquidationPrices {
    account,
    row,
    price,
    below
});

impl LiquidationPrices {
    /// A row whose non-positive `price` means no positive price breaches (NaN).
    pub fn push(&mut self, account: u32, row: u32, price: f64, below: bool) {
        self.push_raw(
            account,
            row,
            if price > 0.0 { price } else { f64::NAN },
            below,
        );
    }

    /// A row with `price` as given.
    pub fn push_raw(&mut self, account: u32, row: u32, price: f64, below: bool) {
        self.account.push(account);
        self.row.push(row);
        self.price.push(price);
        self.below.push(below);
    }
}

/// One row of [`Breaches`].
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breach {
    pub row: u32,
    pub debt: f64,
    pub collateral_value: f64,
    pub notional: f64,
    pub margin: f64,
    pub requirement: f64,
}

impl Breaches {
    pub fn push(&mut self, at: u32, b: Breach) {
        self.at.push(at);
        self.row.push(b.row);
        self.debt.push(b.debt);
        self.collateral_value.push(b.collateral_value);
        self.notional.push(b.notional);
        self.margin.push(b.margin);
        self.requirement.push(b.requirement);
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

/// What every family of forced sellers implements: the whole interface between a family and the
/// step loop (`engine.rs`), the bindings and the analysis. A new family is a type implementing
/// this, one variant of [`crate::family::Family`], one spec reader and one table writer in the
/// bindings, and one Python module.
pub trait ForcedSeller {
    /// The family's name in results (`"lending"`, `"perps"`, `"vaults"`, `"funds"`).
    fn kind(&self) -> &'static str;

    /// How many protocol ids the family takes in events (one per protocol instance it holds).
    fn protocol_count(&self) -> u32 {
        1
    }

    /// Checks the family against the scenario's assets (ids in range, one parameter per asset).
    fn check(&self, n_assets: usize) -> Result<()>;

    /// At the start of every round, the one the round cap stops included: find what breached at
    /// the prices now (lending's trigger index). Most families find it in [`Self::round`].
    fn scan(&mut self, _sh: &mut Shared) {}

    /// One round: act on everything that breaches its rule now. `first_id` is the family's
    /// first protocol id.
    fn round(
        &mut self,
        sh: &mut Shared,
        first_id: u32,
        round: u32,
        budget: &mut Budget,
    ) -> RoundOutcome;

    /// Whether it still has work pending at time `now` (accounts queued, an auction running, a
    /// cooldown): the market is not quiet.
    fn busy(&self, now: f64) -> bool;

    /// Breached accounts waiting in the family's queue.
    fn queue_length(&self) -> usize {
        0
    }

    /// Quote in the family's insurance fund (perp exchanges), else 0.
    fn insurance_fund(&self) -> f64 {
        0.0
    }

    /// The error that stopped the family, if any (a runaway fund group).
    fn failure(&self) -> Option<&Error> {
        None
    }

    /// Appends the rows that breach the family's rule at `prices` (one price per asset) with
    /// nothing traded, tagged with `at`: the same rule the step loop applies.
    fn breached_at(&self, prices: &[f64], at: u32, out: &mut Breaches);

    /// For every open account exposed to asset `a`: the price of `a` at which it would breach
    /// the family's rule, the other prices at `px` (the rule of [`Self::breached_at`], solved
    /// for one price).
    fn liquidation_prices(&self, a: usize, px: &[f64], moves: &[f64], out: &mut LiquidationPrices);

    /// The family's final-state tables under their result names (`"accounts"`, `"positions"`,
    /// …), at the prices `px` (the oracles, with the family's view of pegged assets:
    /// [`Shared::px_of`]) and the time of `sh`.
    fn tables(&self, sh: &Shared, px: &[f64]) -> Vec<(&'static str, Table)>;

    /// The family's totals (ledger), under their result names.
    fn ledger(&self) -> Values;
}

named_enum! {
    /// Which queued account a liquidator serves first.
    pub enum Priority {
        /// Lowest health factor first (the default).
        WorstHealth = 0 => "worst_health",
        /// Largest debt value first.
        Largest = 1 => "largest",
        /// First breached, first served.
        Fifo = 2 => "fifo",
        /// Seeded random order.
        Random = 3 => "random",
    }
}

named_enum! {
    /// How a round's forced sales meet the venues.
    pub enum RoundMode {
        /// Each liquidation's sale executes at once; the next one sees the moved price (DeFi).
        Sequential = 0 => "sequential",
        /// A round's sales are summed per asset and executed together (fire-sale models).
        Batch = 1 => "batch",
    }
}

/// The liquidation queue's rules and the liquidators' capacity.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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
    pub(crate) fn validate(&self) -> Result<()> {
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

/// Quote and asset flows of the run, for the conservation identities of MECHANICS §8.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Appends venue `k`'s part of an order on asset `a` to the fills table.
fn push_fill(
    fills: &mut FillColumns,
    step: u32,
    event: u32,
    a: usize,
    k: usize,
    side: Side,
    part: &Fill,
) {
    fills.push(&FillRow {
        step,
        event,
        asset: a as u32,
        venue: k as u32,
        side: crate::recorder::OrderSide::from(side) as u8,
        qty: part.filled,
        notional: part.notional,
    });
}
