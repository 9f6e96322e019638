//! Errors of the engine. Every variant names the offending field and carries the value, so that the
//! bindings can raise a Python exception that tells the user exactly what to fix.

use thiserror::Error;

/// Everything the core can refuse. Validation happens once, when a venue or scenario is built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// NaN or an infinity where a real number is needed.
    #[error("{field} must be a finite number, got {}", show(*value))]
    NotFinite { field: String, value: f64 },

    /// A quantity, price or parameter that must be strictly positive.
    #[error("{field} must be > 0, got {}", show(*value))]
    NotPositive { field: String, value: f64 },

    /// A quantity that may be zero but not negative.
    #[error("{field} must be >= 0, got {}", show(*value))]
    Negative { field: String, value: f64 },

    /// A parameter outside its admissible range; `expected` says the range in words.
    #[error("{field} must be {expected}, got {}", show(*value))]
    OutOfRange {
        field: String,
        value: f64,
        expected: &'static str,
    },

    /// A price ladder that is not strictly monotone in the direction its side requires.
    #[error("{field} must be strictly {order}: element {index} is {value} after {previous}")]
    Unsorted {
        field: String,
        index: usize,
        value: f64,
        previous: f64,
        order: &'static str,
    },

    /// A book whose best bid is not below its best ask.
    #[error("book is crossed: best bid {best_bid} must be below best ask {best_ask}")]
    Crossed { best_bid: f64, best_ask: f64 },

    /// Two arrays that describe the same levels have different lengths.
    #[error("{field} has length {got}, but {other} has length {expected}")]
    LengthMismatch {
        field: String,
        got: usize,
        other: String,
        expected: usize,
    },

    /// A collection that must not be empty.
    #[error("{field} must not be empty")]
    Empty { field: String },

    /// A parameter that must be given in this context (for example a reference price for a book
    /// with one empty side, which has no mid to anchor to).
    #[error("{field} is required: {why}")]
    Missing { field: String, why: &'static str },

    /// A setting that cannot be combined with another one; `why` says which and what to use.
    #[error("{field} is not allowed here: {why}")]
    Incompatible { field: String, why: &'static str },

    /// A feedback loop without a finite end: leverage-targeting purchases that feed their own
    /// price gains (a gain of 1 or more).
    #[error(
        "{field}: target-leverage trades run away (a trade of {value} quote, beyond {limit}, \
         1e6 times the fund's starting assets): its purchases raise the prices that call for \
         more purchases with a gain of 1 or more; lower the target leverage or deepen the venues"
    )]
    Diverged {
        field: String,
        value: f64,
        limit: f64,
        /// The fund group's protocol id and the fund's row in it.
        protocol: u32,
        index: usize,
    },

    /// A name that is not one of an enum's labels.
    #[error("{field} must be one of {}, got {value:?}", expected.join(", "))]
    UnknownName {
        field: String,
        value: String,
        expected: &'static [&'static str],
    },

    /// An error in row `index` of a list (`what`): a reserve of a protocol, say. The message is
    /// the row's error with its place in front (`reserves[2].liquidation_bonus must be …`).
    #[error("{what}[{index}].{source}")]
    Row {
        what: &'static str,
        index: usize,
        source: Box<Error>,
    },

    /// A request the protocol's rules refuse for an account (its contract would revert); the
    /// account is its id in event rows.
    #[error("account {account} {why}")]
    Refused { account: u32, why: String },

    /// A take of a Maker auction the Clipper refuses.
    #[error("auction {auction} {why}")]
    Take { auction: usize, why: String },

    /// A long call stopped on request (Ctrl-C in Python).
    #[error("interrupted")]
    Interrupted,

    /// Saved engine state that cannot be written or read back.
    #[error("engine state: {why}")]
    State { why: String },

    /// A size the user chose that would need more memory than the machine has.
    #[error(
        "{field} = {value} would need {} for {what}, more than this machine's {} of memory",
        crate::memory::human(*bytes),
        crate::memory::human(u128::from(*limit))
    )]
    TooLarge {
        field: String,
        value: u64,
        bytes: u128,
        limit: u64,
        what: &'static str,
    },

    /// The same venue passed twice to a router.
    #[error("venues[{index}] is the same venue as venues[{first}]; pass each venue once")]
    DuplicateVenue { index: usize, first: usize },
}

impl Error {
    /// The field (argument, column or parameter path) the error is about, if it names one; for
    /// an error in a row of a list, the field within the row.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Row { source, .. } => source.field(),
            Error::NotFinite { field, .. }
            | Error::NotPositive { field, .. }
            | Error::Negative { field, .. }
            | Error::OutOfRange { field, .. }
            | Error::Unsorted { field, .. }
            | Error::LengthMismatch { field, .. }
            | Error::Empty { field }
            | Error::Missing { field, .. }
            | Error::Incompatible { field, .. }
            | Error::Diverged { field, .. }
            | Error::UnknownName { field, .. }
            | Error::TooLarge { field, .. } => Some(field),
            Error::Crossed { .. } => Some("book"),
            Error::State { .. } => Some("state"),
            Error::Interrupted => None,
            Error::Refused { .. } => Some("account"),
            Error::Take { .. } => Some("auction"),
            Error::DuplicateVenue { .. } => Some("venues"),
        }
    }

    /// The offending value, where it is a number.
    pub fn value(&self) -> Option<f64> {
        match self {
            Error::Row { source, .. } => source.value(),
            Error::NotFinite { value, .. }
            | Error::NotPositive { value, .. }
            | Error::Negative { value, .. }
            | Error::OutOfRange { value, .. }
            | Error::Unsorted { value, .. }
            | Error::Diverged { value, .. } => Some(*value),
            Error::LengthMismatch { got, .. } => Some(*got as f64),
            Error::TooLarge { value, .. } => Some(*value as f64),
            Error::Crossed { best_bid, .. } => Some(*best_bid),
            Error::DuplicateVenue { index, .. } => Some(*index as f64),
            Error::Empty { .. }
            | Error::Missing { .. }
            | Error::Incompatible { .. }
            | Error::UnknownName { .. }
            | Error::State { .. }
            | Error::Interrupted => None,
            Error::Refused { account, .. } => Some(f64::from(*account)),
            Error::Take { auction, .. } => Some(*auction as f64),
        }
    }

    /// The protocol id (a runaway fund) and the row (a fund, a reserve) the error is about.
    pub fn location(&self) -> (Option<u32>, Option<usize>) {
        match self {
            Error::Diverged {
                protocol, index, ..
            } => (Some(*protocol), Some(*index)),
            Error::Row { index, .. } => (None, Some(*index)),
            Error::Refused { account, .. } => (None, Some(*account as usize)),
            Error::Take { auction, .. } => (None, Some(*auction)),
            _ => (None, None),
        }
    }

    /// The message without its place in a list (for an error in a row, the row's own error).
    pub fn detail(&self) -> String {
        match self {
            Error::Row { source, .. } => source.detail(),
            Error::Refused { why, .. } | Error::Take { why, .. } => why.clone(),
            e => e.to_string(),
        }
    }
}

/// A number for a message: as Rust prints it, but in scientific notation beyond 1e16 (where the
/// plain form is a screen of zeros) and below 1e-6.
pub fn show(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-6..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The prices the engine takes, reference or initial: within 1e-100 and 1e100 of the quote, so
/// that an amount times a price, or a price squared, stays a finite number.
pub const PRICE_RANGE: (f64, f64) = (1e-100, 1e100);

/// Checks that `value` is a price the engine takes ([`PRICE_RANGE`]).
pub fn price(field: &str, value: f64) -> Result<f64> {
    finite(field, value)?;
    positive(field, value)?;
    if !(PRICE_RANGE.0..=PRICE_RANGE.1).contains(&value) {
        return Err(Error::OutOfRange {
            field: field.to_owned(),
            value,
            expected: "a price between 1e-100 and 1e100",
        });
    }
    Ok(value)
}

/// The largest amount (units of an asset) the engine takes in a position: an amount times the
/// largest price ([`PRICE_RANGE`]), summed over accounts, stays a finite number.
pub const MAX_AMOUNT: f64 = 1e150;

/// Checks that `value` is an amount the engine takes: finite, `>= 0` and at most
/// [`MAX_AMOUNT`].
pub fn amount(field: &str, value: f64) -> Result<f64> {
    non_negative(field, value)?;
    if value > MAX_AMOUNT {
        return Err(Error::OutOfRange {
            field: field.to_owned(),
            value,
            expected: "an amount of at most 1e150",
        });
    }
    Ok(value)
}

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is finite.
pub fn finite(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NotFinite {
            field: field.to_owned(),
            value,
        })
    }
}

/// Checks that `value` is finite and strictly positive.
pub fn positive(field: &str, value: f64) -> Result<f64> {
    finite(field, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(Error::NotPositive {
            field: field.to_owned(),
            value,
        })
    }
}

/// Checks that `value` is finite and not negative.
pub fn non_negative(field: &str, value: f64) -> Result<f64> {
    finite(field, value)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::Negative {
            field: field.to_owned(),
            value,
        })
    }
}

/// Checks that `lo <= value <= hi` (or `< hi` when `hi_open`), after the finiteness check.
pub fn in_range(
    field: &str,
    value: f64,
    lo: f64,
    hi: f64,
    hi_open: bool,
    expected: &'static str,
) -> Result<f64> {
    finite(field, value)?;
    let above_hi = if hi_open { value >= hi } else { value > hi };
    if value < lo || above_hi {
        Err(Error::OutOfRange {
            field: field.to_owned(),
            value,
            expected,
        })
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_and_value() {
        let e = positive("fee", -0.5).unwrap_err();
        assert_eq!(e.to_string(), "fee must be > 0, got -0.5");
        let e = finite("qty", f64::NAN).unwrap_err();
        assert_eq!(e.to_string(), "qty must be a finite number, got NaN");
        let e = in_range("fee", 1.0, 0.0, 1.0, true, "in [0, 1)").unwrap_err();
        assert_eq!(e.to_string(), "fee must be in [0, 1), got 1");
        assert!(in_range("fee", 0.0, 0.0, 1.0, true, "in [0, 1)").is_ok());
        assert!(non_negative("qty", 0.0).is_ok());
        assert!(non_negative("qty", -0.0).is_ok());
    }
}
