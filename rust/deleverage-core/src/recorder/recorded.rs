//! The recorder's columns: [`Recorded`] (one value and a count while every row is that value)
//! and [`Written`] (every row), and the event log built of them.

use super::{Column, Event, IntoColumn, Table};
use crate::reuse::with_room;

/// A value of a [`Recorded`] column, compared bit for bit: `-0.0` is not `0.0`, and a NaN is
/// the same as a NaN of the same bits.
pub trait Cell: Copy + Default {
    fn same(self, other: Self) -> bool;
}

impl Cell for f64 {
    #[inline]
    fn same(self, other: Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

macro_rules! exact_cell {
    ($($t:ty),*) => {
        $(impl Cell for $t {
            #[inline]
            fn same(self, other: Self) -> bool {
                self == other
            }
        })*
    };
}
exact_cell!(u64, u32, u8, bool);

/// Rows from which a column that is one value leaves the core as [`Column::Repeated`]; a shorter
/// one is written out, which costs less than the view the bindings make of a repeated value (a
/// call into numpy, about 3 µs: a 100-account run has a dozen such columns).
pub const REPEATED_FROM: usize = 1 << 14;

/// A column as it is recorded: while every row holds the same value (bit for bit), that value
/// and the number of rows alone; every row from the first that differs on. A column that stays
/// one value through a run (the protocol and asset of a one-market scenario, the perp fields of
/// lending rows, the debt fields of perp rows) costs no memory per row, here or in the frame it
/// becomes ([`Column::Repeated`]).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Recorded<T> {
    /// The rows, once one differed from the first (empty until then).
    vals: Vec<T>,
    /// While `vals` is empty: how many rows there are, each of them `value`.
    same: usize,
    value: T,
}

impl<T: Cell> Recorded<T> {
    /// Room for `n` more rows, should the column stop being one value (address space only
    /// until written).
    pub fn reserve(&mut self, n: usize) {
        self.vals.reserve(n);
    }

    #[inline]
    pub fn push(&mut self, x: T) {
        if !self.vals.is_empty() {
            self.vals.push(x);
        } else if x.same(self.value) {
            // (In an empty column too: `value` is then whatever it holds, and `x` is it.)
            self.same += 1;
        } else {
            self.differ(x);
        }
    }

    /// `x` differs from `value` with no row written out: the first row of an empty column, or
    /// the first that ends the one value (all rows are written out, and `x` after them).
    #[cold]
    fn differ(&mut self, x: T) {
        if self.same == 0 {
            self.value = x;
            self.same = 1;
            return;
        }
        self.vals.reserve(self.same + 1);
        self.vals.extend(std::iter::repeat_n(self.value, self.same));
        self.vals.push(x);
        self.same = 0;
    }

    pub fn len(&self) -> usize {
        self.same + self.vals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every row.
    pub fn to_vec(&self) -> Vec<T> {
        if self.vals.is_empty() {
            vec![self.value; self.same]
        } else {
            self.vals.clone()
        }
    }

    /// The column, as one value repeated while it is one and has [`REPEATED_FROM`] rows or more.
    pub fn into_column(self) -> Column
    where
        Vec<T>: IntoColumn,
    {
        if self.vals.is_empty() && self.same >= REPEATED_FROM {
            Column::Repeated(Box::new(vec![self.value].into_column()), self.same)
        } else if self.vals.is_empty() {
            self.to_vec().into_column()
        } else {
            self.vals.into_column()
        }
    }
}

/// A clone keeps the room the rows have (an engine cloned before its run records without
/// regrowing); `clone_from` copies into the target's own buffer (see [`crate::reuse`]).
impl<T: Copy> Clone for Recorded<T> {
    fn clone(&self) -> Self {
        Recorded {
            vals: with_room(&self.vals),
            same: self.same,
            value: self.value,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.vals.clone_from(&source.vals);
        self.same = source.same;
        self.value = source.value;
    }
}

/// The recorder of a row type: one [`Recorded`] column per field, and what it is read as (the
/// columns every row written out).
/// A recorder's column whose rows nearly always differ (an account, a quantity, a price): its
/// rows, without the test of each row against the one value that a [`Recorded`] column makes.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Written<T>(Vec<T>);

impl<T: Cell> Written<T> {
    pub fn reserve(&mut self, n: usize) {
        self.0.reserve(n);
    }

    #[inline]
    pub fn push(&mut self, x: T) {
        self.0.push(x);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_vec(&self) -> Vec<T> {
        self.0.clone()
    }

    pub fn into_column(self) -> Column
    where
        Vec<T>: IntoColumn,
    {
        self.0.into_column()
    }
}

/// As [`Recorded`]'s: a clone keeps the room, `clone_from` the target's buffer.
impl<T: Copy> Clone for Written<T> {
    fn clone(&self) -> Self {
        Written(with_room(&self.0))
    }

    fn clone_from(&mut self, source: &Self) {
        self.0.clone_from(&source.0);
    }
}

/// The recorder of a row type: per field a [`Recorded`] or a [`Written`] column, and what it
/// is read as (the columns every row written out).
macro_rules! recorded {
    (
        $log:ident as $name:ident from $row:ident {
            $($field:ident : $ty:ty as $store:ident),* $(,)?
        }
    ) => {
        columns!($name from $row { $($field: $ty),* });

        /// The rows recorded, a [`Recorded`] or [`Written`] column per field.
        #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
        pub struct $log {
            $($field: $store<$ty>,)*
        }

        $crate::reuse::clone_reusing!($log { $($field),* });

        columns!(@rows $log from $row { $($field),* });

        impl $log {
            /// Every row, written out.
            pub fn columns(&self) -> $name {
                $name {
                    $($field: self.$field.to_vec(),)*
                }
            }
        }
    };
}

// The account, quantities and prices of event rows differ from row to row in any cascade; the
// rest is often one value through a run (one protocol, one asset pair, one kind, one step, the
// fields of the other families).
recorded!(EventLog as EventColumns from Event {
    step: u32 as Recorded, round: u32 as Recorded, kind: u8 as Recorded,
    account: u32 as Written, protocol: u32 as Recorded, asset: u32 as Recorded,
    debt_asset: u32 as Recorded, qty: f64 as Written, notional: f64 as Written,
    price_before: f64 as Written, price_after: f64 as Written, debt_repaid: f64 as Recorded,
    debt_repaid_value: f64 as Recorded, collateral_seized: f64 as Recorded,
    bonus: f64 as Recorded, protocol_fee: f64 as Recorded, bad_debt: f64 as Recorded,
    insurance_change: f64 as Recorded, realized_pnl: f64 as Recorded,
});

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Rows drawn from a few values, so that runs of one value and changes both occur; the
    /// two zeros and a NaN among them, which only a bit-for-bit comparison tells apart.
    fn cells() -> impl Strategy<Value = Vec<f64>> {
        let one = prop_oneof![Just(0.0), Just(-0.0), Just(f64::NAN), Just(1.5), Just(-2.0)];
        prop::collection::vec(one, 0..40)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #[test]
        fn a_recorded_column_gives_back_every_row_bit_for_bit(rows in cells(), reserve in 0usize..64) {
            let mut c = Recorded::<f64>::default();
            c.reserve(reserve);
            for &x in &rows {
                c.push(x);
            }
            prop_assert_eq!(c.len(), rows.len());
            prop_assert_eq!(bits(&c.to_vec()), bits(&rows));
            let one_value = rows.windows(2).all(|w| w[0].to_bits() == w[1].to_bits());
            match c.clone().into_column() {
                Column::Repeated(inner, n) => {
                    prop_assert!(one_value && rows.len() >= REPEATED_FROM);
                    prop_assert_eq!(n, rows.len());
                    let Column::F64(v) = *inner else { panic!("an f64 column") };
                    prop_assert_eq!(bits(&v), bits(&rows[..1]));
                }
                Column::F64(v) => {
                    prop_assert!(!one_value || rows.len() < REPEATED_FROM);
                    prop_assert_eq!(bits(&v), bits(&rows));
                }
                other => panic!("{other:?}"),
            }
            // A column copied into one that recorded other rows is the copy alone.
            let mut target = Recorded::<f64>::default();
            for x in [3.0, 4.0, 3.0] {
                target.push(x);
            }
            target.clone_from(&c);
            prop_assert_eq!(bits(&target.to_vec()), bits(&rows));
        }
    }

    #[test]
    fn a_long_column_of_one_value_is_that_value_repeated() {
        let n = REPEATED_FROM;
        let mut c = Recorded::<f64>::default();
        for _ in 0..n {
            c.push(-0.0);
        }
        let Column::Repeated(one, len) = c.clone().into_column() else {
            panic!("one value repeated")
        };
        assert_eq!((*one, len), (Column::F64(vec![-0.0]), n));
        assert_eq!(bits(&c.to_vec()), vec![(-0.0f64).to_bits(); n]);
        // A zero after negative zeros is another value: the column is written out.
        c.push(0.0);
        let Column::F64(v) = c.into_column() else {
            panic!("written out")
        };
        assert_eq!(v.len(), n + 1);
        assert!(v[..n].iter().all(|x| x.to_bits() == (-0.0f64).to_bits()));
        assert_eq!(v[n].to_bits(), 0.0f64.to_bits());
        // One row short of the threshold, written out too.
        let mut short = Recorded::<u32>::default();
        for _ in 1..n {
            short.push(7);
        }
        assert_eq!(short.into_column(), Column::U32(vec![7; n - 1]));
    }
}
