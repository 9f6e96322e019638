//! What every family of forced sellers shares: the market state, the oracles, the queue's
//! settings and the recorder ([`Shared`]), the liquidators' per-step capacity ([`Budget`]), and
//! the dispatch over the families other than lending ([`Family`]: perp exchanges, Maker-style
//! vaults, leverage-targeting funds). Lending lives in the engine itself, with its trigger index.
//!
//! A family acts once per round, after the lending queue, in scenario order; the step ends when no
//! family acted in a round (or at `max_rounds_per_step`). All families trade on the same venues,
//! so one family's forced sale moves the prices the next one reads.

use rand_chacha::ChaCha8Rng;

use crate::auction::Vaults;
use crate::engine::{Ledger, QueueConfig};
use crate::error::Result;
use crate::fill::{Fill, Side};
use crate::market::Market;
use crate::oracle::Oracle;
use crate::recorder::{Event, EventColumns, EventKind, StepColumns};

/// The state every family reads and moves.
#[derive(Debug, Clone)]
pub struct Shared {
    pub market: Market,
    pub oracles: Vec<Oracle>,
    /// Oracle price per asset, as margin engines read it.
    pub px: Vec<f64>,
    pub cfg: QueueConfig,
    pub step_seconds: f64,
    pub step: u32,
    pub rng: ChaCha8Rng,
    pub events: EventColumns,
    pub steps: StepColumns,
    pub ledger: Ledger,
    pub cum_bad_debt: f64,
    /// Liquidated notional and count per asset in the current step.
    pub asset_notional: Vec<f64>,
    pub asset_count: Vec<u32>,
    /// Units to sell per asset at the end of a batch round (lending liquidators).
    pub batch_qty: Vec<f64>,
}

impl Shared {
    /// Seconds since the start of the run at the current step.
    #[inline]
    pub fn now(&self) -> f64 {
        f64::from(self.step) * self.step_seconds
    }

    /// A spot oracle re-reads the routed mid (other oracles keep their once-per-step value).
    #[inline]
    pub fn reread_spot(&mut self, a: usize) {
        self.oracles[a].update_round(self.market.spot(a));
        self.px[a] = self.oracles[a].value();
    }

    /// Trades `qty` of asset `a` on its venues now, and lets a spot oracle follow.
    pub fn trade(&mut self, a: usize, side: Side, qty: f64) -> Fill {
        let fill = self.market.trade(a, side, qty);
        self.reread_spot(a);
        fill
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
        self.asset_notional[a] += notional;
        self.asset_count[a] += 1;
    }
}

/// What liquidators and keepers can still spend in this step: the debt value they repay or the
/// price they pay (notional), and how many actions (count).
#[derive(Debug, Clone, Copy, PartialEq)]
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

/// A family of forced sellers other than lending, held by the engine next to the lending
/// protocols. Its protocol id in events is its position after the lending protocols.
#[derive(Debug, Clone)]
pub enum Family {
    /// A perp exchange (MECHANICS §6): its own liquidation engine, no keeper capital involved.
    Perps(crate::perp::Exchange),
    /// A Maker system: Dog, Clippers and vaults (MECHANICS §5). Keepers' takes spend the budget.
    Vaults(Vaults),
    /// Leverage-targeting funds (MECHANICS §7.1–7.3). They do not use the liquidators' budget.
    Funds(crate::fund::Funds),
}

impl Family {
    /// Checks the family against the scenario's assets (ids in range, one parameter per asset).
    pub fn check(&self, n_assets: usize) -> Result<()> {
        match self {
            Family::Perps(x) => x.check(n_assets),
            Family::Vaults(v) => v.check(n_assets),
            Family::Funds(f) => f.check(n_assets),
        }
    }

    /// One round: act on everything that breaches its rule now. Returns whether it acted.
    pub fn round(&mut self, sh: &mut Shared, id: u32, round: u32, budget: &mut Budget) -> bool {
        match self {
            Family::Perps(x) => x.round(sh, id, round),
            Family::Vaults(v) => v.round(sh, id, round, budget),
            Family::Funds(f) => f.round(sh, id, round),
        }
    }

    /// Whether it still has work pending at time `now` (an auction running, a cooldown): not quiet.
    pub fn busy(&self, now: f64) -> bool {
        match self {
            Family::Perps(x) => x.cooling(now),
            Family::Vaults(v) => v.busy(),
            Family::Funds(_) => false,
        }
    }

    /// Quote in the family's insurance fund (perp exchanges), else 0.
    pub fn insurance_fund(&self) -> f64 {
        match self {
            Family::Perps(x) => x.insurance_fund(),
            Family::Vaults(_) | Family::Funds(_) => 0.0,
        }
    }

    /// The error that stopped the family, if any (a runaway fund group).
    pub fn failure(&self) -> Option<&crate::error::Error> {
        match self {
            Family::Funds(f) => f.failure(),
            Family::Perps(_) | Family::Vaults(_) => None,
        }
    }

    /// The Maker system, if this family is one.
    pub fn as_vaults(&self) -> Option<&Vaults> {
        match self {
            Family::Vaults(v) => Some(v),
            _ => None,
        }
    }
}
