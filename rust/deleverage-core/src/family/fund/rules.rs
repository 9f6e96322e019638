//! What a fund group is configured with and reports (MECHANICS §7.1–7.3): its trading rule, its
//! accounting, the fund statuses and the table of a [`super::Funds`] group.

use crate::recorder::{named_enum, table};

/// The trading rule every fund of a group follows (MECHANICS §7.1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Rule {
    /// Trade `λ*·E − (H + I)` at current prices: negative sells, positive buys, sales ≤ H.
    /// `None`: each fund targets its own leverage `(H + I)/E` at the initial prices before any
    /// shock (GLT's b_n = D_n/E_n, §7.2).
    Target { leverage: Option<f64> },
    /// Sell only if `λ > λ_max` (strict), down to `λ_b`: `Γ = min(1, (H + I − λ_b E)/H)`; never
    /// buy (§7.3).
    Threshold { lambda_max: f64, lambda_b: f64 },
}

named_enum! {
    /// How a fund values its positions.
    #[derive(Default)]
    pub enum Accounting {
        /// Units × oracle price; equity `E = H + I − D` (§7.1, §7.3).
        #[default]
        MarkToMarket = 0 => "mark_to_market",
        /// Greenwood–Landier–Thesmar (§7.2): fixed base assets `A_n` and weights `m_nk` (start
        /// values), equity booked as `E_n += A_n R_n`, trades `φ_n = b_n A_n R_n` split by `m_nk`.
        /// Only with `Rule::Target { leverage: None }` and no illiquid holdings.
        Linear = 1 => "linear",
    }
}

named_enum! {
    /// A fund's state in a [`FundTable`].
    pub enum FundStatus {
        Active = 0 => "active",
        /// Defaulted (`E ≤ 0`): sold everything, frozen since.
        Defaulted = 1 => "defaulted",
        /// No marketable holdings left, with positive equity (C–S "illiquid", §7.3).
        Illiquid = 2 => "illiquid",
        /// Equity ≤ 0 at these prices, default not yet processed (it comes in the next round).
        Insolvent = 3 => "insolvent",
    }
}

/// The state of every fund, in the caller's order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FundTable {
    /// Σ units × price.
    pub marketable_value: Vec<f64>,
    pub illiquid_value: Vec<f64>,
    /// Negative: net cash.
    pub debt: Vec<f64>,
    /// `H + I − D` (MarkToMarket) or the booked GLT equity (Linear).
    pub equity: Vec<f64>,
    /// `(H + I)/E`; `f64::INFINITY` when `E ≤ 0`.
    pub leverage: Vec<f64>,
    pub status: Vec<FundStatus>,
    /// Quote received from sales, and paid for purchases, over the run.
    pub sold_notional: Vec<f64>,
    pub bought_notional: Vec<f64>,
    /// Debt not covered at default.
    pub bad_debt: Vec<f64>,
}

table!(FundTable {
    marketable_value,
    illiquid_value,
    debt,
    equity,
    leverage,
    status,
    sold_notional,
    bought_notional,
    bad_debt,
});

/// The divergence error as it is stored in a serialised engine (its fields; the error is
/// always `Error::Diverged`).
pub(super) mod diverged_state {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::error::Error;

    type Fields = (String, f64, f64, u32, usize);

    pub fn serialize<S: Serializer>(e: &Option<Error>, s: S) -> Result<S::Ok, S::Error> {
        let fields: Option<Fields> = match e {
            Some(Error::Diverged {
                field,
                value,
                limit,
                protocol,
                index,
            }) => Some((field.clone(), *value, *limit, *protocol, *index)),
            _ => None,
        };
        fields.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Error>, D::Error> {
        let fields: Option<Fields> = Option::deserialize(d)?;
        Ok(
            fields.map(|(field, value, limit, protocol, index)| Error::Diverged {
                field,
                value,
                limit,
                protocol,
                index,
            }),
        )
    }
}
