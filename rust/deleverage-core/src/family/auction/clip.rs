//! Maker's rules and records (MECHANICS §5.1–5.3): the Clipper's price curves (`abaci`), an
//! ilk's Dog and Clipper parameters (`Ilk`), the vault and auction statuses, and the tables of a
//! [`super::Vaults`] system.

use crate::error::{self, Error, Result};
use crate::recorder::{named_enum, table};

/// A Clipper's price curve (`abaci`, MECHANICS §5.3). `dur` is the time since `tic`, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PriceCurve {
    /// `LinearDecrease`: `top·(tau − dur)/tau` while `dur < tau`, then 0.
    Linear { tau: f64 },
    /// `StairstepExponentialDecrease`: `top·cut^floor(dur/step)` (`cut` = 1 − the drop per step).
    StairstepExponential { step: f64, cut: f64 },
    /// `ExponentialDecrease`: `top·cut^dur` (`cut` per second).
    Exponential { cut: f64 },
}

impl PriceCurve {
    /// The auction price `dur` seconds after `tic` for a starting price `top` (MECHANICS §5.3).
    pub fn price(&self, top: f64, dur: f64) -> f64 {
        match *self {
            PriceCurve::Linear { tau } => {
                if dur < tau {
                    top * (tau - dur) / tau
                } else {
                    0.0
                }
            }
            PriceCurve::StairstepExponential { step, cut } => top * cut.powf((dur / step).floor()),
            PriceCurve::Exponential { cut } => top * cut.powf(dur),
        }
    }

    pub(super) fn validate(&self, ilk: usize) -> Result<()> {
        let cut_range = |cut: f64| {
            error::in_range(
                &format!("ilks[{ilk}].curve.cut"),
                cut,
                0.0,
                1.0,
                false,
                "in [0, 1]",
            )
        };
        match *self {
            PriceCurve::Linear { tau } => {
                error::positive(&format!("ilks[{ilk}].curve.tau"), tau)?;
            }
            PriceCurve::StairstepExponential { step, cut } => {
                error::positive(&format!("ilks[{ilk}].curve.step"), step)?;
                cut_range(cut)?;
            }
            PriceCurve::Exponential { cut } => {
                cut_range(cut)?;
            }
        }
        Ok(())
    }
}

/// One collateral type: its `Vat`/`Spotter`/`Jug` numbers, its `Dog` limits and its `Clipper`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ilk {
    /// The asset the ilk's collateral is (an index into the scenario's assets).
    pub asset: u32,
    /// Liquidation ratio: `spot = OSM price / par / mat` (MECHANICS §5.1).
    pub mat: f64,
    /// Accumulated stability rate: a vault owes `art·rate` DAI.
    pub rate: f64,
    /// Liquidation penalty multiplier: `tab = due·chop`.
    pub chop: f64,
    /// Minimum debt of a vault (DAI).
    pub dust: f64,
    /// The ilk's limit on DAI in its auctions (may be infinite).
    pub hole: f64,
    /// DAI in the ilk's auctions now (starts at the given value).
    pub dirt: f64,
    /// Starting price multiplier: `top = feed·buf`.
    pub buf: f64,
    pub curve: PriceCurve,
    /// Seconds after which an auction needs a reset (may be infinite).
    pub tail: f64,
    /// Fraction of `top` below which an auction needs a reset.
    pub cusp: f64,
    /// Keeper incentive proportional to the tab.
    pub chip: f64,
    /// Flat keeper incentive (DAI).
    pub tip: f64,
}

impl Ilk {
    /// `chost = dust·chop` (MECHANICS §5.2): the smallest tab a partial take may leave.
    #[inline]
    pub fn chost(&self) -> f64 {
        self.dust * self.chop
    }

    /// Keeper incentive `tip + chip·tab` when either is set (MECHANICS §5.2 kick).
    #[inline]
    pub(super) fn coin(&self, tab: f64) -> f64 {
        if self.tip > 0.0 || self.chip > 0.0 {
            self.tip + self.chip * tab
        } else {
            0.0
        }
    }

    pub(super) fn validate(&self, k: usize) -> Result<()> {
        let f = |name: &str| format!("ilks[{k}].{name}");
        error::positive(&f("mat"), self.mat)?;
        error::positive(&f("rate"), self.rate)?;
        error::positive(&f("chop"), self.chop)?;
        error::non_negative(&f("dust"), self.dust)?;
        limit(&f("hole"), self.hole)?;
        error::non_negative(&f("dirt"), self.dirt)?;
        error::positive(&f("buf"), self.buf)?;
        self.curve.validate(k)?;
        limit(&f("tail"), self.tail)?;
        error::in_range(&f("cusp"), self.cusp, 0.0, 1.0, false, "in [0, 1]")?;
        error::non_negative(&f("chip"), self.chip)?;
        error::non_negative(&f("tip"), self.tip)?;
        Ok(())
    }
}

/// A value that is `>= 0` and may be `+inf` (a limit that does not bind).
pub(super) fn limit(field: &str, value: f64) -> Result<f64> {
    if value.is_nan() || value < 0.0 {
        Err(Error::OutOfRange {
            field: field.to_owned(),
            value,
            expected: ">= 0 (or +inf)",
        })
    } else {
        Ok(value)
    }
}

/// Whether a `Dog` limit has room: `cap > dirt` (MECHANICS §5.1, strict), with float residue
/// below 1e-12 of a finite cap counted as none, so that the last bark that filled the limit does
/// not leave a sliver of room behind (§1.3: the chain leaves none in real arithmetic either).
#[inline]
pub(super) fn has_room(cap: f64, dirt: f64) -> bool {
    let room = cap - dirt;
    room > 0.0 && (cap.is_infinite() || room > 1e-12 * cap)
}

named_enum! {
    /// A vault's state in [`VaultTable::status`].
    pub enum VaultStatus {
        /// Never barked.
        Active = 0 => "active",
        /// An auction of its collateral is running.
        InAuction = 1 => "in_auction",
        /// Barked in part (debt left), no auction running.
        Liquidated = 2 => "liquidated",
        /// All its debt was barked and its auctions ended without bad debt.
        Closed = 3 => "closed",
        /// An auction of it ended with bad debt (`due > Σ owe`).
        BadDebt = 4 => "bad_debt",
    }
}

/// One Clipper auction (a `sale`), kept after it ends for the record.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Auction {
    /// Vault index (the caller's row) and the ilk.
    pub vault: u32,
    pub ilk: u32,
    /// The vault's owner id (`usr`).
    pub owner: u32,
    pub running: bool,
    /// DAI still to raise and collateral still for sale.
    pub tab: f64,
    pub lot: f64,
    /// At the bark: the debt taken from the vault (`due = dart·rate`), `tab = due·chop` and
    /// `lot = dink`.
    pub due: f64,
    pub tab0: f64,
    pub lot0: f64,
    /// Starting price and start time (seconds) of the current price curve.
    pub top: f64,
    pub tic: f64,
    pub kick_step: u32,
    /// Step in which it ended (`u32::MAX` while running).
    pub end_step: u32,
    /// Σ owe keepers paid, Σ slices they took, collateral returned to the owner.
    pub owe: f64,
    pub sliced: f64,
    pub returned: f64,
    /// The tab left: the live tab while the auction runs, and once it ended the tab left when
    /// the lot ran out (unrecovered, penalty included; 0 when the tab was raised), so that
    /// `tab0 = Σ owe + tab_left` always; and the bad debt `max(0, due − Σ owe)` (MECHANICS §5.4).
    pub tab_left: f64,
    pub bad_debt: f64,
    /// Keeper incentives paid at the kick and the redos.
    pub coins: f64,
    pub redos: u32,
    /// Σ of what `digs` took off `Dirt` for this auction (equals `tab0` once it ended).
    pub dug: f64,
    /// What keepers sold of their slices on the venues and received for it.
    pub sold: f64,
    pub received: f64,
    /// Step of the last redo (`u32::MAX` if none): at most one per step.
    pub(super) last_redo_step: u32,
}

/// The state of every vault, in the caller's order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaultTable {
    pub owner: Vec<u32>,
    pub ilk: Vec<u32>,
    pub ink: Vec<f64>,
    pub art: Vec<f64>,
    /// [`VaultStatus`] as `u8`.
    pub status: Vec<u8>,
    /// Σ dink of its barks.
    pub collateral_auctioned: Vec<f64>,
    /// Σ lot returned to the owner after auctions that raised their tab.
    pub collateral_returned: Vec<f64>,
    /// Σ owe keepers paid in its auctions.
    pub owe_recovered: Vec<f64>,
    pub bad_debt: Vec<f64>,
}

/// Every auction so far (running and ended), in kick order, as columns.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct AuctionTable {
    pub vault: Vec<u32>,
    pub owner: Vec<u32>,
    pub ilk: Vec<u32>,
    pub asset: Vec<u32>,
    pub running: Vec<bool>,
    pub kick_step: Vec<u32>,
    /// `u32::MAX` while running.
    pub end_step: Vec<u32>,
    pub due: Vec<f64>,
    pub tab0: Vec<f64>,
    pub lot0: Vec<f64>,
    pub tab: Vec<f64>,
    pub lot: Vec<f64>,
    pub top: Vec<f64>,
    pub tic: Vec<f64>,
    /// The curve's price at the `now` given (0 for ended auctions).
    pub price: Vec<f64>,
    pub needs_redo: Vec<bool>,
    pub owe: Vec<f64>,
    pub sliced: Vec<f64>,
    pub returned: Vec<f64>,
    pub tab_left: Vec<f64>,
    pub bad_debt: Vec<f64>,
    pub coins: Vec<f64>,
    pub redos: Vec<u32>,
    pub sold: Vec<f64>,
    pub received: Vec<f64>,
}

impl Ilk {
    /// MECHANICS §5.2 status: the price now and whether the auction needs a redo
    /// (`now − tic > tail` or `price/top < cusp`, both strict).
    pub(super) fn status(&self, a: &Auction, now: f64) -> (f64, bool) {
        let dur = now - a.tic;
        let price = self.curve.price(a.top, dur);
        (price, dur > self.tail || price / a.top < self.cusp)
    }
}

table!(VaultTable {
    owner as "account_id",
    ilk,
    ink,
    art,
    status,
    collateral_auctioned,
    collateral_returned,
    owe_recovered,
    bad_debt,
});

table!(AuctionTable {
    owner as "account_id",
    asset,
    running,
    kick_step,
    end_step,
    due,
    tab0 as "tab",
    lot0 as "lot",
    tab_left,
    lot as "lot_left",
    owe as "recovered",
    sliced,
    returned,
    bad_debt,
    coins,
    redos,
    price,
});
