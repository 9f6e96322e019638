//! The families of forced sellers and the dispatch over them.
//!
//! [`shared`] is the floor every family stands on (the market state, budget, queue settings,
//! ledger, and the [`ForcedSeller`] interface); each family is one module: [`lending`]
//! (MECHANICS §4), [`perp`] (§6), [`auction`] (Maker, §5), [`fund`] (§7). [`Family`] is the
//! closed enum the engine holds them in, in the order they act in a round; adding a family is
//! one module, one variant here and one arm in [`dispatch!`].

pub mod auction;
pub mod fund;
pub mod lending;
pub mod perp;
pub mod shared;

pub use shared::{
    Breach, Breaches, Budget, ForcedSeller, Ledger, LiquidationPrices, Priority, QueueConfig,
    RoundMode, RoundOutcome, Shared,
};

use crate::error::{Error, Result};
use crate::recorder::{Table, Values};
use auction::Vaults;
use fund::Funds;
use lending::LendingMarket;
use perp::Exchange;

/// A family of forced sellers, as the engine holds it. Its protocol ids in events follow those
/// of the families before it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum Family {
    /// Lending protocols and their accounts, served by the liquidators' queue (MECHANICS §4).
    Lending(LendingMarket),
    /// A perp exchange (MECHANICS §6): its own liquidation engine, no keeper capital involved.
    Perps(Exchange),
    /// A Maker system: Dog, Clippers and vaults (MECHANICS §5). Keepers' takes spend the budget.
    Vaults(Vaults),
    /// Leverage-targeting funds (MECHANICS §7.1–7.3). They do not use the liquidators' budget.
    Funds(Funds),
}

impl Clone for Family {
    fn clone(&self) -> Self {
        match self {
            Family::Lending(x) => Family::Lending(x.clone()),
            Family::Perps(x) => Family::Perps(x.clone()),
            Family::Vaults(x) => Family::Vaults(x.clone()),
            Family::Funds(x) => Family::Funds(x.clone()),
        }
    }

    /// Into the same kind of family, through its own `clone_from` (its buffers reused, see
    /// [`crate::reuse`]); into another kind, a fresh clone.
    fn clone_from(&mut self, source: &Self) {
        match (self, source) {
            (Family::Lending(a), Family::Lending(b)) => a.clone_from(b),
            (Family::Perps(a), Family::Perps(b)) => a.clone_from(b),
            (Family::Vaults(a), Family::Vaults(b)) => a.clone_from(b),
            (Family::Funds(a), Family::Funds(b)) => a.clone_from(b),
            (a, b) => *a = b.clone(),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $f:ident => $e:expr) => {
        match $self {
            Family::Lending($f) => $e,
            Family::Perps($f) => $e,
            Family::Vaults($f) => $e,
            Family::Funds($f) => $e,
        }
    };
}

impl ForcedSeller for Family {
    fn kind(&self) -> &'static str {
        dispatch!(self, f => f.kind())
    }
    fn protocol_count(&self) -> u32 {
        dispatch!(self, f => f.protocol_count())
    }
    fn check(&self, n_assets: usize) -> Result<()> {
        dispatch!(self, f => ForcedSeller::check(f, n_assets))
    }
    fn scan(&mut self, sh: &mut Shared) {
        dispatch!(self, f => f.scan(sh))
    }
    fn round(
        &mut self,
        sh: &mut Shared,
        first_id: u32,
        round: u32,
        budget: &mut Budget,
    ) -> RoundOutcome {
        dispatch!(self, f => ForcedSeller::round(f, sh, first_id, round, budget))
    }
    fn busy(&self, now: f64) -> bool {
        dispatch!(self, f => ForcedSeller::busy(f, now))
    }
    fn queue_length(&self) -> usize {
        dispatch!(self, f => f.queue_length())
    }
    fn insurance_fund(&self) -> f64 {
        dispatch!(self, f => ForcedSeller::insurance_fund(f))
    }
    fn failure(&self) -> Option<&Error> {
        dispatch!(self, f => ForcedSeller::failure(f))
    }
    fn breached_at(&self, prices: &[f64], at: u32, out: &mut Breaches) {
        dispatch!(self, f => f.breached_at(prices, at, out))
    }
    fn liquidation_prices(&self, a: usize, px: &[f64], moves: &[f64], out: &mut LiquidationPrices) {
        dispatch!(self, f => f.liquidation_prices(a, px, moves, out))
    }
    fn tables(&self, sh: &Shared, px: &[f64]) -> Vec<(&'static str, Table)> {
        dispatch!(self, f => f.tables(sh, px))
    }
    fn ledger(&self) -> Values {
        dispatch!(self, f => ForcedSeller::ledger(f))
    }
}

impl Family {
    /// The lending family, if this is one.
    pub fn as_lending(&self) -> Option<&LendingMarket> {
        match self {
            Family::Lending(l) => Some(l),
            _ => None,
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

impl From<LendingMarket> for Family {
    fn from(f: LendingMarket) -> Self {
        Family::Lending(f)
    }
}
impl From<Exchange> for Family {
    fn from(f: Exchange) -> Self {
        Family::Perps(f)
    }
}
impl From<Vaults> for Family {
    fn from(f: Vaults) -> Self {
        Family::Vaults(f)
    }
}
impl From<Funds> for Family {
    fn from(f: Funds) -> Self {
        Family::Funds(f)
    }
}
