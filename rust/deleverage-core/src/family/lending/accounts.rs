//! Accounts as struct-of-arrays with flat holdings (CSR offsets): no heap object per account.

use super::rules::Holdings;
use crate::error::{Error, Result};
use crate::recorder::named_enum;

named_enum! {
    /// Where an account stands.
    pub enum Status {
        /// Never liquidated.
        Active = 0 => "active",
        /// Liquidated at least once and still holds debt.
        Liquidated = 1 => "liquidated",
        /// All debt repaid through liquidations.
        Closed = 2 => "closed",
        /// Collateral ran out with debt left: bad debt.
        BadDebt = 3 => "bad_debt",
    }
}

/// All accounts of a scenario. Holding `k` of account `i` is at `offsets[i] + k`.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Accounts {
    pub protocol: Vec<u32>,
    pub offsets: Vec<u32>,
    pub asset: Vec<u32>,
    pub collateral: Vec<f64>,
    pub debt: Vec<f64>,
    pub status: Vec<Status>,
    /// Collateral seized, valued at the oracle price at the time, in quote.
    pub liquidated_notional: Vec<f64>,
    /// Liquidations so far (an absorb counts once), tallied as their event rows are written.
    pub times_liquidated: Vec<u32>,
    /// Bad debt so far, the sum of the account's event rows' bad debt in row order.
    pub bad_debt: Vec<f64>,
}

crate::reuse::clone_reusing!(Accounts {
    protocol,
    offsets,
    asset,
    collateral,
    debt,
    status,
    liquidated_notional,
    times_liquidated,
    bad_debt,
});

/// Sizes from which a scatter of every account goes through runs ([`scatter_in_runs`]): below
/// it, the direct scatter's writes stay within what the TLB and the caches cover. Measured with
/// `profile_cascade` (best of 3): the storage layout 34 against 45 ms at 3·10^5 accounts, 85
/// against 170 ms at 10^6; the account table 30 against 55 ms at 3·10^5, 101 against 137 ms at
/// 10^6, 1.8 against 3.0 s at 10^7; the two alike at 10^5.
pub(crate) const SCATTER_IN_RUNS: usize = 1 << 17;

/// `put(to[i], make(i))` for every `i`, `to` a permutation of `0..to.len()`, in two passes that
/// keep the TLB and the caches: each record is appended to one of at most 256 runs by the range
/// of its destination (the source read in order, 256 sequential streams written), then each run
/// is put into its range, a window small enough to stay in cache. A direct scatter of n records
/// misses the TLB on every write once n is large.
pub(crate) fn scatter_in_runs<R: Copy>(
    to: &[u32],
    make: impl Fn(usize) -> R,
    put: impl FnMut(usize, R),
) {
    scatter_in_windows(to, 1, make, put);
}

/// [`scatter_in_runs`] one window of destinations at a time, in `windows` windows: the runs
/// hold one window's records at a time (a `windows`-th of them) for one more read of `to` and a
/// sparser read of the sources per window.
pub(crate) fn scatter_in_windows<R: Copy>(
    to: &[u32],
    windows: usize,
    make: impl Fn(usize) -> R,
    mut put: impl FnMut(usize, R),
) {
    let n = to.len();
    if n == 0 {
        return;
    }
    let window = n.div_ceil(windows.max(1));
    for lo in (0..n).step_by(window) {
        let m = window.min(n - lo);
        let width = m.div_ceil(256);
        let mut runs: Vec<Vec<(u32, R)>> = (0..m.div_ceil(width))
            .map(|r| Vec::with_capacity(width.min(m - r * width)))
            .collect();
        for (i, &j) in to.iter().enumerate() {
            let k = (j as usize).wrapping_sub(lo);
            if k < m {
                runs[k / width].push((j, make(i)));
            }
        }
        for run in runs {
            for (j, r) in run {
                put(j as usize, r);
            }
        }
    }
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
        AccountColumns {
            protocol: &protocol,
            offsets: &offsets,
            asset: &asset,
            collateral: &collateral,
            debt: &debt,
        }
        .check(n_protocols, n_assets)?;
        Ok(Accounts::fresh(protocol, offsets, asset, collateral, debt))
    }

    /// The holdings columns, borrowed.
    pub fn columns(&self) -> AccountColumns<'_> {
        AccountColumns {
            protocol: &self.protocol,
            offsets: &self.offsets,
            asset: &self.asset,
            collateral: &self.collateral,
            debt: &self.debt,
        }
    }

    /// See [`AccountColumns::laid_out`].
    pub fn laid_out(&self, dest: &[u32], extra: &[f64]) -> (Accounts, Vec<u32>, Vec<f64>) {
        self.columns().laid_out(dest, extra)
    }

    /// Accounts of these holdings before any liquidation: the outcomes at their initial values.
    fn fresh(
        protocol: Vec<u32>,
        offsets: Vec<u32>,
        asset: Vec<u32>,
        collateral: Vec<f64>,
        debt: Vec<f64>,
    ) -> Accounts {
        let n = protocol.len();
        Accounts {
            protocol,
            offsets,
            asset,
            collateral,
            debt,
            status: vec![Status::Active; n],
            liquidated_notional: vec![0.0; n],
            times_liquidated: vec![0; n],
            bad_debt: vec![0.0; n],
        }
    }

    pub fn len(&self) -> usize {
        self.columns().len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns().is_empty()
    }

    #[inline]
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.columns().range(i)
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

    /// See [`AccountColumns::single_pair`].
    #[inline]
    pub fn single_pair(&self, i: usize) -> Option<(usize, usize)> {
        self.columns().single_pair(i)
    }
}

/// The holdings of every account as columns the caller owns (CSR, as in [`Accounts`]): what an
/// engine's accounts are validated and laid out from, so that a caller's arrays (the bindings'
/// numpy columns) are read where they are instead of being copied first.
#[derive(Debug, Clone, Copy)]
pub struct AccountColumns<'a> {
    pub protocol: &'a [u32],
    pub offsets: &'a [u32],
    pub asset: &'a [u32],
    pub collateral: &'a [f64],
    pub debt: &'a [f64],
}

impl AccountColumns<'_> {
    /// Checks the columns: `offsets` has one more element than `protocol` and runs from 0 to
    /// the number of holdings, protocols and assets are the scenario's, amounts finite and
    /// `>= 0`.
    pub fn check(&self, n_protocols: usize, n_assets: usize) -> Result<()> {
        let AccountColumns {
            protocol,
            offsets,
            asset,
            collateral,
            debt,
        } = *self;
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
            let fine = 0.0..=crate::error::MAX_AMOUNT;
            if !fine.contains(&collateral[k]) {
                crate::error::amount(&format!("collateral of holding {k}"), collateral[k])?;
            }
            if !fine.contains(&debt[k]) {
                crate::error::amount(&format!("debt of holding {k}"), debt[k])?;
            }
        }
        Ok(())
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

    /// The accounts laid out for storage, before any liquidation: account `i` goes to position
    /// `dest[i]` (a permutation). Returns them, the original id at each position, and `extra`
    /// (one value per account) in the same order.
    pub fn laid_out(&self, dest: &[u32], extra: &[f64]) -> (Accounts, Vec<u32>, Vec<f64>) {
        let n = dest.len();
        debug_assert_eq!(n, self.len());
        debug_assert_eq!(n, extra.len());
        if n > 0
            && self.asset.len() == 2 * n
            && self
                .offsets
                .iter()
                .enumerate()
                .all(|(i, &o)| o as usize == 2 * i)
        {
            return self.laid_out_pairs(dest, extra);
        }
        let mut order = vec![0u32; n];
        for (i, &j) in dest.iter().enumerate() {
            order[j as usize] = i as u32;
        }
        let stored = self.permuted(&order);
        let extra = order.iter().map(|&i| extra[i as usize]).collect();
        (stored, order, extra)
    }

    /// The same accounts, before any liquidation, in another order: account `j` of the result
    /// is account `order[j]`.
    fn permuted(&self, order: &[u32]) -> Accounts {
        let n = order.len();
        let h = self.asset.len();
        // One simple pass per column: independent loads let the processor overlap the cache
        // misses of this random gather instead of taking them one at a time.
        let protocol = order.iter().map(|&i| self.protocol[i as usize]).collect();
        let starts: Vec<u32> = order.iter().map(|&i| self.offsets[i as usize]).collect();
        let lens: Vec<u32> = order
            .iter()
            .map(|&i| self.offsets[i as usize + 1] - self.offsets[i as usize])
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut end = 0u32;
        offsets.extend(lens.iter().map(|&l| {
            end += l;
            end
        }));
        fn gather<T: Copy>(col: &[T], starts: &[u32], lens: &[u32], h: usize) -> Vec<T> {
            let mut v = Vec::with_capacity(h);
            for (&s0, &l) in starts.iter().zip(lens) {
                v.extend((s0..s0 + l).map(|k| col[k as usize]));
            }
            v
        }
        // Outcomes start from their initial values: nothing to gather.
        Accounts::fresh(
            protocol,
            offsets,
            gather(self.asset, &starts, &lens, h),
            gather(self.collateral, &starts, &lens, h),
            gather(self.debt, &starts, &lens, h),
        )
    }

    /// `laid_out` when every account has exactly two holdings (one collateral, one debt: the
    /// common case). Reads the source in order and scatters each account to its place:
    /// independent stores overlap their cache misses better than a random gather's loads. From
    /// [`SCATTER_IN_RUNS`] accounts the scatter goes through runs ([`scatter_in_runs`]).
    fn laid_out_pairs(&self, dest: &[u32], extra: &[f64]) -> (Accounts, Vec<u32>, Vec<f64>) {
        self.laid_out_pairs_by(dest, extra, dest.len() >= SCATTER_IN_RUNS)
    }

    /// [`Self::laid_out_pairs`], scattering directly or through runs as `in_runs` says.
    fn laid_out_pairs_by(
        &self,
        dest: &[u32],
        extra: &[f64],
        in_runs: bool,
    ) -> (Accounts, Vec<u32>, Vec<f64>) {
        #[derive(Clone, Copy)]
        struct Record {
            from: u32,
            protocol: u32,
            asset: [u32; 2],
            collateral: [f64; 2],
            debt: [f64; 2],
            extra: f64,
        }
        let n = dest.len();
        let mut protocol = vec![0u32; n];
        let mut original = vec![0u32; n];
        let mut stored_extra = vec![0.0; n];
        let mut asset = vec![0u32; 2 * n];
        let mut collateral = vec![0.0; 2 * n];
        let mut debt = vec![0.0; 2 * n];
        if in_runs {
            let make = |i: usize| {
                let k = 2 * i;
                Record {
                    from: i as u32,
                    protocol: self.protocol[i],
                    asset: [self.asset[k], self.asset[k + 1]],
                    collateral: [self.collateral[k], self.collateral[k + 1]],
                    debt: [self.debt[k], self.debt[k + 1]],
                    extra: extra[i],
                }
            };
            scatter_in_runs(dest, make, |j, r| {
                let j2 = 2 * j;
                protocol[j] = r.protocol;
                original[j] = r.from;
                stored_extra[j] = r.extra;
                asset[j2..j2 + 2].copy_from_slice(&r.asset);
                collateral[j2..j2 + 2].copy_from_slice(&r.collateral);
                debt[j2..j2 + 2].copy_from_slice(&r.debt);
            });
        } else {
            // Straight from the columns: going through a record per account costs 2 % of the
            // guard's whole workload.
            for (i, &j) in dest.iter().enumerate() {
                let (j, i2, j2) = (j as usize, 2 * i, 2 * j as usize);
                protocol[j] = self.protocol[i];
                original[j] = i as u32;
                stored_extra[j] = extra[i];
                asset[j2..j2 + 2].copy_from_slice(&self.asset[i2..i2 + 2]);
                collateral[j2..j2 + 2].copy_from_slice(&self.collateral[i2..i2 + 2]);
                debt[j2..j2 + 2].copy_from_slice(&self.debt[i2..i2 + 2]);
            }
        }
        let offsets = (0..=n as u32).map(|i| 2 * i).collect();
        let stored = Accounts::fresh(protocol, offsets, asset, collateral, debt);
        (stored, original, stored_extra)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random permutation of `0..n` (Fisher–Yates on a xorshift from `seed`).
    fn shuffled(n: usize, seed: u64) -> Vec<u32> {
        let mut to: Vec<u32> = (0..n as u32).collect();
        let mut x = seed;
        for i in (1..n).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            to.swap(i, (x % (i as u64 + 1)) as usize);
        }
        to
    }

    #[test]
    fn a_scatter_in_windows_puts_every_record_once_where_it_goes() {
        for n in [1usize, 3, 255, 257, 5_000] {
            let to = shuffled(n, 0x9E37_79B9_7F4A_7C15);
            for windows in [1, 2, 3, 4, 7, n + 1] {
                let mut out = vec![u32::MAX; n];
                let mut puts = 0;
                scatter_in_windows(
                    &to,
                    windows,
                    |i| i as u32,
                    |j, r| {
                        assert_eq!(out[j], u32::MAX, "n = {n}, {windows} windows: {j} twice");
                        out[j] = r;
                        puts += 1;
                    },
                );
                assert_eq!(puts, n);
                for (i, &j) in to.iter().enumerate() {
                    assert_eq!(out[j as usize], i as u32, "n = {n}, {windows} windows");
                }
            }
        }
    }

    #[test]
    fn the_scatter_in_runs_is_the_direct_scatter() {
        // A pseudo-random permutation of accounts of two holdings each, at sizes around the
        // run width (n/256 rounded up): both layouts give the same columns, bit for bit.
        for n in [1usize, 255, 256, 257, 5_000] {
            let to = shuffled(n, 0x2545_F491_4F6C_DD1D);
            let acc = Accounts::new(
                (0..n as u32).map(|i| i % 3).collect(),
                (0..=n as u32).map(|i| 2 * i).collect(),
                (0..2 * n as u32).map(|k| k % 2).collect(),
                (0..2 * n)
                    .map(|k| if k % 2 == 0 { 1.0 + k as f64 } else { 0.0 })
                    .collect(),
                (0..2 * n)
                    .map(|k| if k % 2 == 1 { 0.5 * k as f64 } else { 0.0 })
                    .collect(),
                3,
                2,
            )
            .unwrap();
            let extra: Vec<f64> = (0..n).map(|i| i as f64 * 0.25).collect();
            let direct = acc.columns().laid_out_pairs_by(&to, &extra, false);
            let runs = acc.columns().laid_out_pairs_by(&to, &extra, true);
            assert_eq!(direct, runs, "n = {n}");
            // And what either means: account i is stored at to[i].
            for (i, &j) in to.iter().enumerate() {
                assert_eq!(runs.1[j as usize], i as u32);
                assert_eq!(runs.0.collateral[2 * j as usize], acc.collateral[2 * i]);
                assert_eq!(runs.2[j as usize], extra[i]);
            }
        }
    }

    #[test]
    fn permutation_moves_whole_accounts() {
        // Pairs (the scatter path) and mixed lengths (the gather path) give the same layout rule:
        // stored account j is original account order[j], holdings and all.
        let pairs = Accounts::new(
            vec![0, 1, 0],
            vec![0, 2, 4, 6],
            vec![0, 1, 0, 1, 0, 1],
            vec![1.0, 0.0, 2.0, 0.0, 3.0, 0.0],
            vec![0.0, 10.0, 0.0, 20.0, 0.0, 30.0],
            2,
            2,
        )
        .unwrap();
        // Account i goes to dest[i]: stored order [2, 0, 1].
        let (p, original, extra) = pairs.laid_out(&[1, 2, 0], &[10.0, 20.0, 30.0]);
        assert_eq!(original, vec![2, 0, 1]);
        assert_eq!(extra, vec![30.0, 10.0, 20.0]);
        assert_eq!(p.protocol, vec![0, 0, 1]);
        assert_eq!(p.offsets, vec![0, 2, 4, 6]);
        assert_eq!(p.collateral, vec![3.0, 0.0, 1.0, 0.0, 2.0, 0.0]);
        assert_eq!(p.debt, vec![0.0, 30.0, 0.0, 10.0, 0.0, 20.0]);
        let mixed = Accounts::new(
            vec![0, 1],
            vec![0, 3, 5],
            vec![0, 1, 2, 0, 1],
            vec![1.0, 5.0, 0.0, 2.0, 0.0],
            vec![0.0, 0.0, 7.0, 0.0, 9.0],
            2,
            3,
        )
        .unwrap();
        let (m, original, extra) = mixed.laid_out(&[1, 0], &[1.5, 2.5]);
        assert_eq!(original, vec![1, 0]);
        assert_eq!(extra, vec![2.5, 1.5]);
        assert_eq!(m.protocol, vec![1, 0]);
        assert_eq!(m.offsets, vec![0, 2, 5]);
        assert_eq!(m.asset, vec![0, 1, 0, 1, 2]);
        assert_eq!(m.collateral, vec![2.0, 0.0, 1.0, 5.0, 0.0]);
        assert_eq!(m.debt, vec![0.0, 9.0, 0.0, 0.0, 7.0]);
    }
}
