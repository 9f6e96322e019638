//! deleverage-core: the cascade engine of `deleverage`, with no Python in it.
//!
//! The venues forced orders trade against (`book`, `pool`, `curve`, `router`, in `market`), the
//! oracles (`oracle`), exogenous paths (`path`), the lending margin rules (`lending`), Maker vaults
//! and their auctions (`auction`), accounts as struct-of-arrays (`accounts`), the trigger index
//! (`trigger`), the step loop with the liquidation queue (`engine`) and the columnar recorder
//! (`recorder`). Formulas and their sources are in `shared/reference/MECHANICS.md`; each module
//! names the section it implements.
#![forbid(unsafe_code)]

pub mod book;
pub mod curve;
pub mod error;
pub mod fill;
pub mod pool;
pub mod router;
pub mod venue;

pub use book::{BookDynamics, OrderBook, Profile};
pub use curve::{Execution, ImpactCurve, Shape};
pub use error::{Error, Result};
pub use fill::{Fill, Side};
pub use pool::ConstantProductPool;
pub use router::{ArbTrade, RouteFill};
pub use venue::{AnyVenue, Venue};
pub mod accounts;
pub mod auction;
pub mod engine;
pub mod family;
pub mod fund;
pub mod lending;
pub mod market;
pub mod oracle;
pub mod path;
pub mod perp;
pub mod recorder;
pub mod sweep;
pub mod trigger;
