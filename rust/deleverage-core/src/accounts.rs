//! Accounts as struct-of-arrays with flat holdings (CSR offsets): no heap object per account.

use crate::error::{Error, Result};
use crate::lending::Holdings;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Never liquidated.
    Active = 0,
    /// Liquidated at least once and still holds debt.
    Liquidated = 1,
    /// All debt repaid through liquidations.
    Closed = 2,
    /// Collateral ran out with debt left: bad debt.
    BadDebt = 3,
}

/// All accounts of a scenario. Holding `k` of account `i` is at `offsets[i] + k`.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounts {
    pub protocol: Vec<u32>,
    pub offsets: Vec<u32>,
    pub asset: Vec<u32>,
    pub collateral: Vec<f64>,
    pub debt: Vec<f64>,
    pub status: Vec<Status>,
    pub times_liquidated: Vec<u32>,
    /// Collateral seized, valued at the oracle price at the time, in quote.
    pub liquidated_notional: Vec<f64>,
    /// Quote value of debt left without collateral.
    pub bad_debt: Vec<f64>,
}

impl Accounts {
    /// Validates and builds the accounts. `offsets` has one more element than `protocol`.
    pub fn new(
        protocol: Vec<u32>,
        offsets: Vec<u32>,
        asset: Vec<u32>,
        collateral: Vec<f64>,
        debt: Vec<f64>,
        n_protocols: usize,
        n_assets: usize,
    ) -> Result<Self> {
        let n = protocol.len();
        if offsets.len() != n + 1 {
            return Err(Error::LengthMismatch {
                field: "offsets".to_owned(),
                got: offsets.len(),
                other: "accounts + 1".to_owned(),
                expected: n + 1,
            });
        }
        let h = asset.len();
        for (field, len) in [("collateral", collateral.len()), ("debt", debt.len())] {
            if len != h {
                return Err(Error::LengthMismatch {
                    field: field.to_owned(),
                    got: len,
                    other: "holding asset".to_owned(),
                    expected: h,
                });
            }
        }
        if offsets[0] != 0 || offsets[n] as usize != h || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(Error::OutOfRange {
                field: "offsets".to_owned(),
                value: offsets[n] as f64,
                expected: "non-decreasing from 0 to the number of holdings",
            });
        }
        if let Some((i, &p)) = protocol
            .iter()
            .enumerate()
            .find(|(_, p)| **p as usize >= n_protocols)
        {
            return Err(Error::OutOfRange {
                field: format!("account {i} protocol"),
                value: p as f64,
                expected: "one of the scenario's protocols",
            });
        }
        for k in 0..h {
            if asset[k] as usize >= n_assets {
                return Err(Error::OutOfRange {
                    field: format!("holding {k} asset"),
                    value: asset[k] as f64,
                    expected: "one of the scenario's assets",
                });
            }
            // Checked inline: formatting a field name per holding would dominate large inputs.
            if !(collateral[k] >= 0.0 && collateral[k].is_finite()) {
                crate::error::non_negative(&format!("collateral of holding {k}"), collateral[k])?;
            }
            if !(debt[k] >= 0.0 && debt[k].is_finite()) {
                crate::error::non_negative(&format!("debt of holding {k}"), debt[k])?;
            }
        }
        Ok(Accounts {
            status: vec![Status::Active; n],
            times_liquidated: vec![0; n],
            liquidated_notional: vec![0.0; n],
            bad_debt: vec![0.0; n],
            protocol,
            offsets,
            asset,
            collateral,
            debt,
        })
    }

    /// The same accounts in another order: account `j` of the result is account `order[j]`.
    /// The engine stores accounts in the order liquidations will visit them, so that a cascade
    /// reads account memory sequentially.
    pub fn permuted(&self, order: &[u32]) -> Accounts {
        let n = order.len();
        let mut out = Accounts {
            protocol: Vec::with_capacity(n),
            offsets: Vec::with_capacity(n + 1),
            asset: Vec::with_capacity(self.asset.len()),
            collateral: Vec::with_capacity(self.asset.len()),
            debt: Vec::with_capacity(self.asset.len()),
            status: Vec::with_capacity(n),
            times_liquidated: Vec::with_capacity(n),
            liquidated_notional: Vec::with_capacity(n),
            bad_debt: Vec::with_capacity(n),
        };
        out.offsets.push(0);
        for &i in order {
            let i = i as usize;
            let r = self.range(i);
            out.protocol.push(self.protocol[i]);
            out.asset.extend_from_slice(&self.asset[r.clone()]);
            out.collateral
                .extend_from_slice(&self.collateral[r.clone()]);
            out.debt.extend_from_slice(&self.debt[r]);
            out.offsets.push(out.asset.len() as u32);
            out.status.push(self.status[i]);
            out.times_liquidated.push(self.times_liquidated[i]);
            out.liquidated_notional.push(self.liquidated_notional[i]);
            out.bad_debt.push(self.bad_debt[i]);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.protocol.len()
    }

    pub fn is_empty(&self) -> bool {
        self.protocol.is_empty()
    }

    #[inline]
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    #[inline]
    pub fn holdings(&self, i: usize) -> Holdings<'_> {
        let r = self.range(i);
        Holdings {
            asset: &self.asset[r.clone()],
            collateral: &self.collateral[r.clone()],
            debt: &self.debt[r],
        }
    }

    /// For an account with exactly one collateral asset and one debt asset, their holding
    /// indices (global), which the trigger index can follow by one price ratio.
    pub fn single_pair(&self, i: usize) -> Option<(usize, usize)> {
        let mut c = None;
        let mut d = None;
        for k in self.range(i) {
            if self.collateral[k] > 0.0 {
                if c.is_some() {
                    return None;
                }
                c = Some(k);
            }
            if self.debt[k] > 0.0 {
                if d.is_some() {
                    return None;
                }
                d = Some(k);
            }
        }
        match (c, d) {
            (Some(c), Some(d)) if c != d => Some((c, d)),
            _ => None,
        }
    }
}
