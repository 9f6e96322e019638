//! Columnar results: one buffer per column, filled in the hot loop without allocation per row;
//! the enums whose names label result columns ([`named_enum!`]); and [`Table`], the one shape in
//! which every recorded or final-state table leaves the core, its column names decided here.

/// An enum stored as a `u8` code in result columns, with the label of each code defined once,
/// beside the variant: `NAMES[code]`. The bindings hand `NAMES` to Python, which labels the codes
/// with them; nothing outside the core spells these names.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $E:ident {
            $( $(#[$vmeta:meta])* $V:ident = $code:literal => $label:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[repr(u8)]
        pub enum $E {
            $( $(#[$vmeta])* $V = $code, )*
        }

        impl $E {
            /// The label of each code, in code order.
            pub const NAMES: &'static [&'static str] = &[$($label),*];

            /// This variant's label.
            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }

            /// The variant labelled `name`; an error naming `field` and the valid labels
            /// otherwise.
            pub fn from_name(field: &str, name: &str) -> $crate::error::Result<Self> {
                const ALL: &[$E] = &[$($E::$V),*];
                Self::NAMES
                    .iter()
                    .position(|n| *n == name)
                    .map(|k| ALL[k])
                    .ok_or_else(|| $crate::error::Error::UnknownName {
                        field: field.to_owned(),
                        value: name.to_owned(),
                        expected: Self::NAMES,
                    })
            }
        }

        impl From<$E> for u8 {
            fn from(v: $E) -> u8 {
                v as u8
            }
        }

        impl $crate::recorder::IntoColumn for Vec<$E> {
            fn into_column(self) -> $crate::recorder::Column {
                $crate::recorder::Column::U8(self.into_iter().map(u8::from).collect())
            }
        }

        // Codes are 0, 1, 2, … in order, so that `NAMES[code]` is the label of `code`.
        const _: () = {
            let codes: &[u8] = &[$($code),*];
            let mut i = 0;
            while i < codes.len() {
                assert!(codes[i] as usize == i, "named_enum codes must be 0, 1, 2, … in order");
                i += 1;
            }
        };
    };
}
pub(crate) use named_enum;

named_enum! {
    /// What an event row records.
    pub enum EventKind {
        /// A lending liquidation; in sequential mode it includes the liquidator's sale, and when
        /// it took the last collateral, the bad debt left behind.
        Liquidation = 0 => "liquidation",
        /// A batch-mode sale of a round's seized collateral of one asset.
        Sale = 1 => "sale",
        /// Debt found without collateral outside a liquidation: written off (Aave v3.3+ deficit)
        /// or left as bad debt.
        BadDebt = 2 => "bad_debt",
        /// Comet's absorb: the protocol takes an account's collateral of one asset.
        Absorb = 3 => "absorb",
        /// A keeper's purchase of absorbed collateral at Comet's storefront, and its sale.
        Storefront = 4 => "storefront",
        /// A perp liquidation order's fill on the perp venue (`qty` closed, `notional` its
        /// quote); `insurance_change` is the clearance fee the fund took.
        PerpLiquidation = 5 => "perp_liquidation",
        /// The insurance fund paying the deficit of a fill worse than the bankruptcy price
        /// (`insurance_change` < 0).
        InsurancePayment = 6 => "insurance_payment",
        /// An auto-deleveraging reduction of a counterparty at the bankruptcy price (`account`
        /// is the counterparty, `realized_pnl` what it realised).
        Adl = 7 => "adl",
        /// The backstop vault taking over a position without a trade.
        Backstop = 8 => "backstop",
        /// A Maker `bark` starting a Dutch auction (`collateral_seized` = lot,
        /// `debt_repaid_value` = tab).
        AuctionKick = 9 => "auction_kick",
        /// A keeper's `take` of an auction slice, and its sale.
        AuctionTake = 10 => "auction_take",
        /// An auction reset (`redo`) after `tail` or `cusp`.
        AuctionRedo = 11 => "auction_redo",
        /// A fund's sale of marketable holdings.
        FundSale = 12 => "fund_sale",
        /// A fund's purchase (the symmetric `target` rule after gains).
        FundPurchase = 13 => "fund_purchase",
        /// A fund (or bank) defaulting: equity at zero, everything sold.
        Default = 14 => "default",
        /// An order of the engine's user (`Engine::submit`) selling `qty` on the venues.
        UserSell = 15 => "user_sell",
        /// An order of the engine's user buying `qty` on the venues (`notional` paid).
        UserBuy = 16 => "user_buy",
        /// A liquidation by the engine's user (`Engine::liquidate`): debt repaid, collateral
        /// seized with the bonus and kept (nothing sold).
        UserLiquidation = 17 => "user_liquidation",
        /// A take of a Maker auction by the engine's user (`Engine::take`): the slice bought
        /// (`collateral_seized`) for what it owes (`debt_repaid_value`), kept (nothing sold).
        UserTake = 18 => "user_take",
        /// An owner posting free cash to one of its perp margin pools (`account` the pool's,
        /// `notional` the cash posted).
        OwnerTopUp = 19 => "owner_top_up",
        /// An owner repaying a lending account's debt from its free cash (`debt_repaid`, its
        /// value `debt_repaid_value`).
        OwnerRepay = 20 => "owner_repay",
        /// An owner without the cash deleveraging a lending account: `qty` of collateral sold
        /// on the venues for `notional`, which repays `debt_repaid` of debt.
        OwnerSale = 21 => "owner_sale",
        /// A perp exchange selling a liquidated pool's margin asset on its venues to cover the
        /// pool's negative quote wallet (`qty` units sold for `notional`; Binance's auto
        /// exchange).
        CollateralSale = 22 => "collateral_sale",
    }
}

/// One column of a [`Table`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Column {
    F64(Vec<f64>),
    U64(Vec<u64>),
    U32(Vec<u32>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
    /// One value, `len` times: the inner column holds it, alone (see [`Recorded`]).
    Repeated(Box<Column>, usize),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::U32(v) => v.len(),
            Column::U8(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Repeated(_, n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A vector that becomes a [`Column`] without copying (named enums become their `u8` codes).
pub trait IntoColumn {
    fn into_column(self) -> Column;
}

macro_rules! into_column {
    ($($t:ty => $v:ident),*) => {
        $(impl IntoColumn for Vec<$t> {
            fn into_column(self) -> Column {
                Column::$v(self)
            }
        })*
    };
}
into_column!(f64 => F64, u64 => U64, u32 => U32, u8 => U8, bool => Bool);

/// A table as it leaves the core: named columns of equal length, in order. Every recorded table
/// (events, steps) and every family's final-state table takes this shape, so the bindings turn
/// any of them into numpy columns by one generic path, under the names given here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(&'static str, Column)>,
}

impl Table {
    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
    }
}

/// A table's struct of column vectors, turned into a [`Table`]: each field under its own name or
/// the one given with `as`.
macro_rules! table {
    ($T:ident { $($field:ident $(as $name:literal)?),* $(,)? }) => {
        impl $T {
            /// The columns under their result names, moved out (no copy).
            pub fn into_table(self) -> $crate::recorder::Table {
                use $crate::recorder::IntoColumn;
                $crate::recorder::Table {
                    columns: vec![$(
                        ($crate::recorder::table!(@name $field $($name)?), self.$field.into_column()),
                    )*],
                }
            }
        }
    };
    (@name $field:ident $name:literal) => { $name };
    (@name $field:ident) => { stringify!($field) };
}
pub(crate) use table;

/// A scalar or small vector of a family's ledger or of the run's totals, under its name.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    F64(f64),
    U64(u64),
    Bool(bool),
    OptU32(Option<u32>),
    F64s(Vec<f64>),
    OptF64s(Vec<Option<f64>>),
    Rows(Vec<Vec<f64>>),
}

/// Named values, in order.
pub type Values = Vec<(&'static str, Value)>;

/// Marks "no account" / "no asset" in integer columns.
pub const NONE: u32 = u32::MAX;

/// One event, as the engine fills it before it goes into the columns.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub step: u32,
    pub round: u32,
    pub kind: EventKind,
    pub account: u32,
    pub protocol: u32,
    pub asset: u32,
    pub debt_asset: u32,
    /// Units of `asset` sold on the venues.
    pub qty: f64,
    /// Quote received for them.
    pub notional: f64,
    pub price_before: f64,
    pub price_after: f64,
    pub debt_repaid: f64,
    pub debt_repaid_value: f64,
    pub collateral_seized: f64,
    pub bonus: f64,
    pub protocol_fee: f64,
    pub bad_debt: f64,
    /// Change of the insurance fund (perps): + fees, − deficits paid.
    pub insurance_change: f64,
    /// PnL the account realised in this event (perps: closes and ADL).
    pub realized_pnl: f64,
}

impl Event {
    pub fn new(step: u32, round: u32, kind: EventKind) -> Self {
        Event {
            step,
            round,
            kind,
            account: NONE,
            protocol: NONE,
            asset: NONE,
            debt_asset: NONE,
            qty: 0.0,
            notional: 0.0,
            price_before: 0.0,
            price_after: 0.0,
            debt_repaid: 0.0,
            debt_repaid_value: 0.0,
            collateral_seized: 0.0,
            bonus: 0.0,
            protocol_fee: 0.0,
            bad_debt: 0.0,
            insurance_change: 0.0,
            realized_pnl: 0.0,
        }
    }
}

macro_rules! columns {
    // What a table of rows does, whatever its columns are: `Vec`s, or the recorder's columns
    // (`recorded.rs`), which have the same methods.
    (@rows $name:ident from $row:ident { $($field:ident),* }) => {
        impl $name {
            /// Reserves room for `n` more rows. Capacity that is never written costs address
            /// space only, not memory, so reserving generously saves the copies and page faults
            /// of growing every column by doubling.
            pub fn reserve(&mut self, n: usize) {
                $(self.$field.reserve(n);)*
            }

            #[inline]
            pub fn push(&mut self, r: &$row) {
                $(self.$field.push(r.$field.into());)*
            }

            pub fn len(&self) -> usize {
                self.step.len()
            }

            pub fn is_empty(&self) -> bool {
                self.step.is_empty()
            }

            /// The columns under their field names, moved out (no copy; a recorded column that
            /// is one value, [`Column::Repeated`]).
            pub fn into_table(self) -> Table {
                Table {
                    columns: vec![$((stringify!($field), self.$field.into_column()),)*],
                }
            }
        }
    };
    ($name:ident from $row:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        /// Column buffers, one `Vec` per field.
        #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(pub $field: Vec<$ty>,)*
        }

        $crate::reuse::clone_reusing!($name { $($field),* });

        columns!(@rows $name from $row { $($field),* });
    };
}

mod recorded;

pub use recorded::{Cell, EventColumns, EventLog, REPEATED_FROM, Recorded, Written};

named_enum! {
    /// The side of a forced order (the fills table's `side`), from the taker's side.
    pub enum OrderSide {
        /// Hits bids.
        Sell = 0 => "sell",
        /// Lifts asks.
        Buy = 1 => "buy",
    }
}

impl From<crate::fill::Side> for OrderSide {
    fn from(s: crate::fill::Side) -> Self {
        match s {
            crate::fill::Side::Sell => OrderSide::Sell,
            crate::fill::Side::Buy => OrderSide::Buy,
        }
    }
}

/// One order's part on one venue of an asset with more than one venue (the router's split,
/// MECHANICS §2.8). The order's own rows of the events table are its asset's trading rows from
/// row `event` up to the asset's next fill's `event`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FillRow {
    pub step: u32,
    /// The events table's length when the order traded: its first own row.
    pub event: u32,
    pub asset: u32,
    /// The venue's index among the asset's venues.
    pub venue: u32,
    /// The order's [`OrderSide`] code.
    pub side: u8,
    /// Units of the asset traded on this venue, and their quote.
    pub qty: f64,
    pub notional: f64,
}

columns!(FillColumns from FillRow {
    step: u32, event: u32, asset: u32, venue: u32, side: u8, qty: f64, notional: f64,
});

named_enum! {
    /// Where an L2 sequencer stands in a step (the steps table's `sequencer`).
    #[derive(Default)]
    pub enum SequencerState {
        /// No sequencer outage.
        #[default]
        Up = 0 => "up",
        /// Down.
        Down = 1 => "down",
        /// Back up, within its grace period.
        Grace = 2 => "grace",
    }
}

/// One row of the steps table (per step and asset).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRow {
    pub step: u32,
    pub asset: u32,
    pub reference: f64,
    pub mid: f64,
    /// 1 when the mid is held because a side of the market was empty.
    pub mid_held: u8,
    pub oracle: f64,
    /// NaN when there is no bid (converted to null in Python).
    pub best_bid: f64,
    pub best_ask: f64,
    pub bid_depth_2pct: f64,
    pub liquidated_notional: f64,
    pub liquidation_count: u32,
    pub rounds: u32,
    pub queue_length: u32,
    pub cumulative_bad_debt: f64,
    /// Quote in all insurance funds at the end of the step.
    pub insurance_fund: f64,
    /// 1 when the asset's oracle is frozen in this step.
    pub oracle_frozen: u8,
    /// 1 when no liquidator acts in this step.
    pub liquidators_out: u8,
    /// The sequencer's [`SequencerState`] code.
    pub sequencer: u8,
    /// How many of the asset's venues are halted in this step.
    pub venues_halted: u32,
    /// A pegged asset's routed mid over its peg (NaN, converted to null, for an unpegged one).
    pub peg_ratio: f64,
    /// Units of the asset redeemed and minted through its channels in this step.
    pub redeemed: f64,
    pub minted: f64,
    /// Units of the underlying the redemption queue paid out in this step, and what it still
    /// owes.
    pub redemption_paid: f64,
    pub redemption_queue: f64,
    /// 1 when the asset's redemption channel is paused in this step.
    pub redemption_paused: u8,
    /// Quote the owners' sales of the asset brought in this step (`owner_sale` rows; not
    /// liquidations).
    pub owner_sold_notional: f64,
}

columns!(StepColumns from StepRow {
    step: u32, asset: u32, reference: f64, mid: f64, mid_held: u8, oracle: f64, best_bid: f64,
    best_ask: f64, bid_depth_2pct: f64, liquidated_notional: f64, liquidation_count: u32,
    rounds: u32, queue_length: u32, cumulative_bad_debt: f64, insurance_fund: f64,
    oracle_frozen: u8, liquidators_out: u8, sequencer: u8, venues_halted: u32, peg_ratio: f64,
    redeemed: f64, minted: f64, redemption_paid: f64, redemption_queue: f64,
    redemption_paused: u8, owner_sold_notional: f64,
});
