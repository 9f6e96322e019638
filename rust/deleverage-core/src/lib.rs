//! deleverage-core: the cascade engine of `deleverage`, with no Python in it.
//!
//! The layers, each importing only those above it in this list:
//! - the floor: [`error`], [`memory`] (sizes checked against the machine), [`fill`],
//!   [`recorder`] (columnar tables and the named enums);
//! - [`venue`] (the `Venue` trait, books, pools (constant-product, StableSwap, concentrated
//!   liquidity), impact curves, the router), [`oracle`],
//!   [`path`] (exogenous paths), and [`market`] (the shared market state);
//! - [`family`]: `shared` (what every family stands on and the `ForcedSeller` interface), the
//!   families `lending`, `perp`, `auction` (Maker) and `fund`, and the `Family` dispatch;
//! - [`scenario`], then [`engine`] (the step loop only) with `actions` (what the user does
//!   between steps), [`session`] (an engine held open on its path, serialisable), then [`sweep`].
//!
//! Formulas and their sources are in `shared/reference/MECHANICS.md`; each module names the
//! section it implements. `docs/architecture.md` walks a scenario through these layers.
#![forbid(unsafe_code)]

pub mod recorder;
mod reuse;

mod actions;
pub mod engine;
pub mod error;
pub mod family;
pub mod fill;
pub mod market;
pub mod memory;
pub mod oracle;
pub mod path;
pub mod scenario;
pub mod session;
pub mod sweep;
pub mod venue;

pub use engine::{Engine, Records, StepReport};
pub use error::{Error, Result};
pub use family::auction::{Ilk, PriceCurve, VaultStatus, Vaults};
pub use family::fund::{
    Accounting, CLEARING_TOLERANCE, Equilibrium, EquilibriumKind, FundStatus, Funds, Rule,
};
pub use family::lending::accounts::{AccountColumns, Accounts, Status};
pub use family::lending::rules::{AaveVersion, Lending, Reserve, Rules};
pub use family::lending::{AccountTable, LendingMarket, ManualLiquidation};
pub use family::perp::{
    AdlOrder, AdlRanking, Brackets, CollateralUnits, Exchange, ExchangeConfig, MarginAsset,
    PartialRule, PerpMarket, PoolStatus, PositionRows, QUOTE_MARGIN, Trigger,
};
pub use family::{
    Breach, Breaches, Budget, Family, ForcedSeller, Ledger, LiquidationPrices, Priority,
    QueueConfig, RoundMode, Shared,
};
pub use fill::{Fill, Side};
pub use market::Market;
pub use oracle::OracleKind;
pub use path::PathSpec;
pub use recorder::{Column, EventKind, NONE, OrderSide, SequencerState, Table, Value, Values};
pub use scenario::{AssetSpec, Channel, Outage, OutageKind, OwnerSpec, Peg, Refresh, Scenario};
pub use session::Session;
pub use venue::{
    AnyVenue, ArbTrade, BookDynamics, ConcentratedPool, ConstantProductPool, Execution,
    ImpactCurve, OrderBook, Profile, RouteFill, Shape, StableSwapPool, TickState, Venue,
};

/// The labels of every named enum of the core, by enum: the code columns it writes (event kinds,
/// statuses) and the settings it reads by name (queue priority and mode, perp trigger and ADL
/// rule, fund accounting). The bindings hand them to Python, which labels codes and checks
/// settings with them (one owner for the names).
pub fn enum_names() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("event_kind", EventKind::NAMES),
        ("account_status", Status::NAMES),
        ("pool_status", PoolStatus::NAMES),
        ("vault_status", VaultStatus::NAMES),
        ("fund_status", FundStatus::NAMES),
        ("sequencer", SequencerState::NAMES),
        ("order_side", OrderSide::NAMES),
        ("priority", Priority::NAMES),
        ("round_mode", RoundMode::NAMES),
        ("trigger", Trigger::NAMES),
        ("adl", AdlOrder::NAMES),
        ("accounting", Accounting::NAMES),
        ("aave_release", AaveVersion::RELEASES),
    ]
}
