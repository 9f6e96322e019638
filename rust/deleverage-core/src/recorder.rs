//! Columnar results: one buffer per column, filled in the hot loop without allocation per row.

/// What an event row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    /// A lending liquidation; in sequential mode it includes the liquidator's sale, and when it
    /// took the last collateral, the bad debt left behind.
    Liquidation = 0,
    /// A batch-mode sale of a round's seized collateral of one asset.
    Sale = 1,
    /// Debt found without collateral outside a liquidation: written off (Aave v3.3+ deficit) or
    /// left as bad debt.
    BadDebt = 2,
    /// Comet's absorb: the protocol takes an account's collateral of one asset.
    Absorb = 3,
    /// A keeper's purchase of absorbed collateral at Comet's storefront, and its sale.
    Storefront = 4,
    /// A perp liquidation order's fill on the perp venue (`qty` closed, `notional` its quote);
    /// `insurance_change` is the clearance fee the fund took.
    PerpLiquidation = 5,
    /// The insurance fund paying the deficit of a fill worse than the bankruptcy price
    /// (`insurance_change` < 0).
    InsurancePayment = 6,
    /// An auto-deleveraging reduction of a counterparty at the bankruptcy price (`account` is the
    /// counterparty, `realized_pnl` what it realised).
    Adl = 7,
    /// The backstop vault taking over a position without a trade.
    Backstop = 8,
    /// A Maker `bark` starting a Dutch auction (`collateral_seized` = lot, `debt_repaid_value` = tab).
    AuctionKick = 9,
    /// A keeper's `take` of an auction slice, and its sale.
    AuctionTake = 10,
    /// An auction reset (`redo`) after `tail` or `cusp`.
    AuctionRedo = 11,
    /// A fund's sale of marketable holdings.
    FundSale = 12,
    /// A fund's purchase (the symmetric `target` rule after gains).
    FundPurchase = 13,
    /// A fund (or bank) defaulting: equity at zero, everything sold.
    Default = 14,
}

/// Marks "no account" / "no asset" in integer columns.
pub const NONE: u32 = u32::MAX;

/// One event, as the engine fills it before it goes into the columns.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    ($name:ident from $row:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        /// Column buffers, one `Vec` per field.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(pub $field: Vec<$ty>,)*
        }

        impl $name {
            /// Reserves room for `n` more rows. Capacity that is never written costs address
            /// space only, not memory, so reserving generously saves the copies and page faults
            /// of growing every column by doubling.
            pub fn reserve(&mut self, n: usize) {
                $(self.$field.reserve(n);)*
            }

            pub fn push(&mut self, r: &$row) {
                $(self.$field.push(r.$field.into());)*
            }

            pub fn len(&self) -> usize {
                self.step.len()
            }

            pub fn is_empty(&self) -> bool {
                self.step.is_empty()
            }
        }
    };
}

columns!(EventColumns from Event {
    step: u32, round: u32, kind: u8, account: u32, protocol: u32, asset: u32, debt_asset: u32,
    qty: f64, notional: f64, price_before: f64, price_after: f64, debt_repaid: f64,
    debt_repaid_value: f64, collateral_seized: f64, bonus: f64, protocol_fee: f64, bad_debt: f64,
    insurance_change: f64, realized_pnl: f64,
});

impl From<EventKind> for u8 {
    fn from(k: EventKind) -> u8 {
        k as u8
    }
}

/// One row of the steps table (per step and asset).
#[derive(Debug, Clone, Copy, PartialEq)]
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
}

columns!(StepColumns from StepRow {
    step: u32, asset: u32, reference: f64, mid: f64, mid_held: u8, oracle: f64, best_bid: f64,
    best_ask: f64, bid_depth_2pct: f64, liquidated_notional: f64, liquidation_count: u32,
    rounds: u32, queue_length: u32, cumulative_bad_debt: f64, insurance_fund: f64,
});
