//! What an engine starts from: the assets (venues and oracles), the families of forced sellers,
//! the liquidation queue's settings and the step length.

use crate::error::{self, Error, Result};
use crate::family::{Breaches, Family, ForcedSeller, QueueConfig};
use crate::oracle::OracleKind;
use crate::venue::AnyVenue;

/// A recorded snapshot of one book, to replace its resting baseline at the start of a step (a
/// replay of a recorded market; see [`crate::venue::OrderBook::refresh`]). `at` is the price
/// the snapshot was recorded around (its mid): the levels are re-anchored from it to the book's
/// anchor when they apply, so a shocked scenario keeps its shocked level.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refresh {
    pub step: u32,
    pub asset: u32,
    /// The venue's index among the asset's venues (an order book).
    pub venue: u32,
    pub bid_px: Vec<f64>,
    pub bid_qty: Vec<f64>,
    pub ask_px: Vec<f64>,
    pub ask_qty: Vec<f64>,
    pub at: f64,
}

/// What an outage stops, from its start step to its end (MECHANICS §2.11 for the sentinel).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum OutageKind {
    /// The asset's oracle stops updating: its value holds (every oracle kind).
    OracleFreeze { asset: u32 },
    /// No liquidator or keeper acts (their budget is zero: lending liquidations, Comet's
    /// storefront, Maker's takes): congestion, as on Black Thursday.
    Liquidators,
    /// An L2 sequencer is down, then up again with a grace period of `grace_steps` steps: Aave
    /// protocols whose release checks the PriceOracleSentinel liquidate only below HF 0.95 over
    /// both.
    Sequencer { grace_steps: u32 },
    /// Venue `venue` of asset `asset` (its index among the asset's venues) accepts no orders:
    /// forced sales route to the asset's other venues, or do not fill; the halted venue quotes
    /// nothing and is not kept up (no refill, no arbitrage) until the halt ends.
    VenueHalt { asset: u32, venue: u32 },
    /// The redemption channel of pegged asset `asset` is paused (a withdrawal queue whose
    /// finalisation stops, a stablecoin's redeem switched off): no new redemption, and nothing
    /// queued is paid out until the pause ends. Minting goes on.
    RedemptionPause { asset: u32 },
}

/// An outage over the steps `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outage {
    pub kind: OutageKind,
    pub start: u32,
    pub end: u32,
}

/// A redemption or mint channel of a pegged asset: at most `capacity` units of the asset a
/// step (`f64::INFINITY`: no limit), exchanged with its issuer at the peg less (redeem) or
/// plus (mint) the fraction `fee`; a redemption pays its underlying out `delay` steps after it
/// is made (a withdrawal queue).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    pub capacity: f64,
    pub delay: u32,
    pub fee: f64,
}

/// How an asset is pegged to another (an LST to ETH, a wrapped token) or to the quote (a
/// stablecoin). The asset's `price`, its path and its venues' prices are then in units of the
/// underlying: its reference is the peg (the exchange rate, 1 for a plain peg; a shock to it is
/// an exogenous depeg, a slashing), its venues trade it against the underlying, and its value in
/// quote is that price times the underlying's. Its pools are not arbitraged to the peg for
/// free: only the channels pull their price back, as fast as their capacity allows, so forced
/// sales larger than the capacity depeg it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Peg {
    /// The index of the asset it is pegged to; `None`: the quote.
    pub underlying: Option<u32>,
    /// Arbitrageurs buy it on its venues below the peg less the fee and redeem it.
    pub redeem: Option<Channel>,
    /// Arbitrageurs mint it at the peg plus the fee and sell it on its venues above that.
    pub mint: Option<Channel>,
}

/// An entity owning accounts in several families (issue 18): its free cash and what it does
/// with it each round, before the families scan (perp margin calls first, then lending).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OwnerSpec {
    /// Free cash in quote.
    pub cash: f64,
    /// Its perp margin pools: when a pool's equity falls below `(1 + margin_buffer)·MM`, the
    /// owner posts cash to bring it back there (`margin_buffer` > 0). `None`: it does not
    /// support them.
    pub margin_buffer: Option<f64>,
    /// Its lending accounts: below this health factor it repays debt from its cash to bring
    /// them back to it, and without the cash sells collateral to repay. `None`: no policy.
    pub target_health: Option<f64>,
}

/// One asset of a scenario.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AssetSpec {
    pub name: String,
    pub price: f64,
    pub venues: Vec<AnyVenue>,
    pub oracle: OracleKind,
    /// What the asset is pegged to, if anything.
    #[serde(default)]
    pub peg: Option<Peg>,
}

/// Everything an engine starts from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Scenario {
    pub assets: Vec<AssetSpec>,
    /// Every family of forced sellers, in the order they act in a round; protocol ids in events
    /// follow this order (a family takes [`ForcedSeller::protocol_count`] ids).
    pub families: Vec<Family>,
    pub queue: QueueConfig,
    pub step_seconds: f64,
    /// Outages over the run, in any order.
    #[serde(default)]
    pub outages: Vec<Outage>,
    /// Per family (empty, or one list per family in order): the pegged assets whose oracle that
    /// family reads at the peg (the peg times the underlying's oracle, as Aave values wstETH)
    /// rather than at the asset's own oracle (its market price).
    #[serde(default)]
    pub reads_peg: Vec<Vec<u32>>,
    /// The owners of accounts across families.
    #[serde(default)]
    pub owners: Vec<OwnerSpec>,
    /// Per account id (the ids of event rows, every family's): the index of its owner in
    /// `owners`, or `u32::MAX`; empty when no account is owned.
    #[serde(default)]
    pub owner_of: Vec<u32>,
}

impl Scenario {
    /// Checks the scenario as a whole: the step, the queue, the assets, and every family against
    /// the assets. [`crate::engine::Engine::new`] calls it; so does [`Scenario::breached_at`].
    pub fn validate(&self) -> Result<()> {
        error::positive("step_seconds", self.step_seconds)?;
        self.queue.validate()?;
        if self.assets.is_empty() {
            return Err(Error::Empty {
                field: "assets".to_owned(),
            });
        }
        for a in &self.assets {
            error::price(&format!("{}.price", a.name), a.price)?;
            a.oracle.validate(&a.name)?;
        }
        for f in &self.families {
            f.check(self.assets.len())?;
        }
        self.validate_pegs()?;
        self.validate_owners()?;
        for (k, o) in self.outages.iter().enumerate() {
            if o.end <= o.start {
                return Err(Error::OutOfRange {
                    field: format!("outages[{k}].end"),
                    value: f64::from(o.end),
                    expected: "a step after the outage's start",
                });
            }
            let (OutageKind::OracleFreeze { asset }
            | OutageKind::VenueHalt { asset, .. }
            | OutageKind::RedemptionPause { asset }) = o.kind
            else {
                continue;
            };
            let Some(spec) = self.assets.get(asset as usize) else {
                return Err(Error::OutOfRange {
                    field: format!("outages[{k}].asset"),
                    value: f64::from(asset),
                    expected: "the index of an asset of the scenario",
                });
            };
            if let OutageKind::VenueHalt { venue, .. } = o.kind
                && venue as usize >= spec.venues.len()
            {
                return Err(Error::OutOfRange {
                    field: format!("outages[{k}].venue"),
                    value: f64::from(venue),
                    expected: "the index of one of the asset's venues",
                });
            }
            if let OutageKind::RedemptionPause { .. } = o.kind
                && spec.peg.and_then(|p| p.redeem).is_none()
            {
                return Err(Error::Incompatible {
                    field: format!("outages[{k}].asset ({})", spec.name),
                    why: "a redemption pause needs a pegged asset with a redemption channel",
                });
            }
        }
        Ok(())
    }

    /// The pegs: an underlying that exists and no cycle, channels with a capacity ≥ 0 and a fee
    /// in [0, 1); `reads_peg` names pegged assets, one list per family.
    fn validate_pegs(&self) -> Result<()> {
        let n = self.assets.len();
        // Every underlying first, so that the chains below only meet valid indices.
        for (k, a) in self.assets.iter().enumerate() {
            if let Some(u) = a.peg.and_then(|p| p.underlying)
                && (u as usize >= n || u as usize == k)
            {
                return Err(Error::OutOfRange {
                    field: format!("{}.peg.underlying", a.name),
                    value: f64::from(u),
                    expected: "the index of another asset of the scenario",
                });
            }
        }
        for (k, a) in self.assets.iter().enumerate() {
            let Some(peg) = a.peg else { continue };
            // Follow the chain: it must end at an unpegged asset (or the quote), and the
            // prices it multiplies must give a price in quote.
            let mut chain = vec![k];
            let mut value = a.price;
            let mut at = peg.underlying;
            while let Some(u) = at {
                let u = u as usize;
                if chain.contains(&u) {
                    chain.push(u);
                    let names: Vec<&str> = chain
                        .iter()
                        .map(|&i| self.assets[i].name.as_str())
                        .collect();
                    return Err(Error::Incompatible {
                        field: format!("{}.peg ({})", a.name, names.join(" → ")),
                        why: "a peg cycle: an asset cannot be pegged, through others, to itself",
                    });
                }
                chain.push(u);
                value *= self.assets[u].price;
                at = self.assets[u].peg.and_then(|p| p.underlying);
            }
            error::price(
                &format!("{}.price in quote (through its pegs)", a.name),
                value,
            )?;
            for (what, ch) in [("redeem", peg.redeem), ("mint", peg.mint)] {
                let Some(ch) = ch else { continue };
                let field = |f: &str| format!("{}.peg.{what}.{f}", a.name);
                if ch.capacity.is_nan() || ch.capacity < 0.0 {
                    return Err(Error::Negative {
                        field: field("capacity"),
                        value: ch.capacity,
                    });
                }
                error::finite(&field("fee"), ch.fee)?;
                if !(0.0..1.0).contains(&ch.fee) {
                    return Err(Error::OutOfRange {
                        field: field("fee"),
                        value: ch.fee,
                        expected: "a fraction in [0, 1)",
                    });
                }
            }
        }
        if !self.reads_peg.is_empty() && self.reads_peg.len() != self.families.len() {
            return Err(Error::LengthMismatch {
                field: "reads_peg".to_owned(),
                got: self.reads_peg.len(),
                other: "families".to_owned(),
                expected: self.families.len(),
            });
        }
        for (f, list) in self.reads_peg.iter().enumerate() {
            for &a in list {
                if self.assets.get(a as usize).and_then(|s| s.peg).is_none() {
                    return Err(Error::OutOfRange {
                        field: format!("reads_peg[{f}]"),
                        value: f64::from(a),
                        expected: "the index of a pegged asset",
                    });
                }
            }
        }
        Ok(())
    }

    /// Owners: cash ≥ 0, a margin buffer > 0, a target health factor above 1; every account's
    /// owner one of them.
    fn validate_owners(&self) -> Result<()> {
        for (k, o) in self.owners.iter().enumerate() {
            error::non_negative(&format!("owners[{k}].cash"), o.cash)?;
            if let Some(b) = o.margin_buffer {
                // Above MM: an exchange that liquidates at equity ≤ MM would take a pool topped
                // up to exactly MM.
                error::positive(&format!("owners[{k}].margin_buffer"), b)?;
            }
            if let Some(h) = o.target_health {
                error::finite(&format!("owners[{k}].target_health"), h)?;
                if h <= 1.0 {
                    return Err(Error::OutOfRange {
                        field: format!("owners[{k}].target_health"),
                        value: h,
                        expected: "a health factor above 1",
                    });
                }
            }
        }
        if let Some(bad) = self
            .owner_of
            .iter()
            .position(|&o| o != u32::MAX && o as usize >= self.owners.len())
        {
            return Err(Error::OutOfRange {
                field: format!("owner_of[{bad}]"),
                value: f64::from(self.owner_of[bad]),
                expected: "the index of an owner of the scenario",
            });
        }
        Ok(())
    }

    /// The starting price of every asset, in order.
    pub fn initial_prices(&self) -> Vec<f64> {
        self.assets.iter().map(|a| a.price).collect()
    }

    /// What breaches each family's rule at each row of `prices` (row-major, one price per asset
    /// per row), with nothing traded: the no-feedback half of a liquidation map, by the same
    /// rules the step loop applies. One [`Breaches`] per family, rows tagged with the price row.
    pub fn breached_at(&self, prices: &[f64]) -> Result<Vec<Breaches>> {
        self.validate()?;
        let n = self.assets.len();
        if !prices.len().is_multiple_of(n) {
            return Err(Error::LengthMismatch {
                field: "prices".to_owned(),
                got: prices.len(),
                other: "a multiple of the assets".to_owned(),
                expected: n,
            });
        }
        for (k, &p) in prices.iter().enumerate() {
            error::positive(&format!("prices[{}][{}]", k / n, k % n), p)?;
        }
        let mut out = vec![Breaches::default(); self.families.len()];
        for (at, row) in prices.chunks(n).enumerate() {
            for (f, o) in self.families.iter().zip(&mut out) {
                f.breached_at(row, at as u32, o);
            }
        }
        Ok(out)
    }
}
