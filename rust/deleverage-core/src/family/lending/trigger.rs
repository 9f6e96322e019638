//! The trigger index (DESIGN §6): accounts whose health depends on one price ratio are kept
//! sorted by the ratio at which they breach, so a price move costs O(k log n) for the k accounts
//! it triggers instead of a scan of everyone.
//!
//! For an account with collateral `C` of asset c and debt `D` of asset d under threshold θ,
//! `HF = C·p_c·θ / (D·p_d) < 1 ⇔ p_c/p_d < τ = D/(C·θ)`. Each (protocol, c, d) group keeps its
//! accounts sorted by τ, highest first, with a cursor: everything before the cursor has been
//! handed to the liquidation queue. Accounts that come back from the queue with a new τ go
//! through a small heap, not the sorted array.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::accounts::{AccountColumns, Accounts};
use super::rules::Lending;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Keyed(f64, u32);

impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest τ first; ties by account id (lowest first) so the order is deterministic.
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Group {
    coll: u32,
    debt: u32,
    /// Bucket `b` of the group is stored at positions `buckets[b]..buckets[b + 1]`: buckets by
    /// τ descending, accounts in id order within a bucket.
    buckets: Vec<u32>,
    /// The next bucket to sort (every bucket before it has been sorted into `current` in turn).
    next_bucket: usize,
    /// The order key and position of each account of the last sorted bucket, by τ descending
    /// then position; everything before `cursor` has been handed to the liquidation queue.
    current: Vec<(u64, u32)>,
    cursor: usize,
    heap: BinaryHeap<Keyed>,
}

crate::reuse::clone_reusing!(Group {
    coll,
    debt,
    buckets,
    next_bucket,
    current,
    cursor,
    heap,
});

/// A storage order for accounts and the trigger groups it lays out (see
/// [`TriggerIndex::memory_order`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemoryOrder {
    /// The position at which each account (by original id) is stored.
    pub dest: Vec<u32>,
    /// τ of each account (by original id; single-pair accounts, NaN elsewhere).
    pub taus: Vec<f64>,
    /// (protocol, collateral asset, debt asset) and the starts of its buckets' positions, the
    /// last element the group's end.
    pub groups: Vec<((u32, u32, u32), Vec<u32>)>,
}

/// Accounts laid out in storage order (see `TriggerIndex::memory_order`), before the index.
pub(crate) struct Layout {
    pub acc: Accounts,
    pub original: Vec<u32>,
    pub taus: Vec<f64>,
    pub groups: Vec<((u32, u32, u32), Vec<u32>)>,
}

impl Layout {
    pub fn of(protocols: &[Lending], accounts: AccountColumns<'_>) -> Result<Self> {
        if let Some(&p) = accounts
            .protocol
            .iter()
            .find(|&&p| p as usize >= protocols.len())
        {
            return Err(Error::OutOfRange {
                field: "accounts.protocol".to_owned(),
                value: f64::from(p),
                expected: "the index of a lending protocol of the scenario",
            });
        }
        let plan = TriggerIndex::memory_order(accounts, protocols);
        let (acc, original, taus) = accounts.laid_out(&plan.dest, &plan.taus);
        Ok(Layout {
            acc,
            original,
            taus,
            groups: plan.groups,
        })
    }
}

/// Accounts followed by price ratio, plus the few followed by a full re-check.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TriggerIndex {
    groups: Vec<Group>,
    group_of: HashMap<(u32, u32, u32), usize>,
    /// τ at each stored position of the groups, as the accounts were laid out.
    taus: Vec<f64>,
    /// Accounts with several collateral or debt assets, re-checked in full when an asset they
    /// hold moved, or when their own state changed.
    multi: Vec<u32>,
    /// Per account: whether it is in `multi`.
    watched: Vec<bool>,
    /// Per account: whether it changed since the last re-check.
    dirty: Vec<bool>,
    any_dirty: bool,
    /// Oracle prices at the last re-check (NaN before the first: everything counts as moved).
    last_px: Vec<f64>,
    /// [`Self::visit_order`], computed on first use (the layout it follows never changes).
    #[serde(skip)]
    visit: std::sync::OnceLock<Vec<u32>>,
}

crate::reuse::clone_reusing!(TriggerIndex {
    groups,
    group_of,
    taus,
    multi,
    watched,
    dirty,
    any_dirty,
    last_px,
    visit,
});

/// τ of a single-pair account, or `None` if it is not one.
fn trigger_ratio(
    acc: AccountColumns<'_>,
    protocols: &[Lending],
    i: usize,
) -> Option<(u32, u32, f64)> {
    let (c, d) = acc.single_pair(i)?;
    let theta = protocols[acc.protocol[i] as usize].threshold(acc.asset[c]);
    let tau = if theta > 0.0 {
        acc.debt[d] / (acc.collateral[c] * theta)
    } else {
        f64::INFINITY
    };
    Some((acc.asset[c], acc.asset[d], tau))
}

/// `x`'s bits as an unsigned integer in `f64::total_cmp`'s order.
#[inline]
fn total_order_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// The order key of τ within a group: ascending keys are τ descending (`-τ` by `total_cmp`).
#[inline]
fn order_key(tau: f64) -> u64 {
    total_order_bits(-tau)
}

/// Accounts per bucket the layout aims at: a bucket is sorted when the price first reaches it,
/// in cache; the scatter that lays accounts out writes one stream per bucket.
const BUCKET_TARGET: usize = 16;

/// How a group's keys map to buckets: `(key.clamp(lo, hi) - lo) >> shift`, monotone in the key.
/// The range is that of the finite, non-zero τ (infinite τ, thresholds of zero, clamp into the
/// first bucket and zero τ into the last: outliers do not stretch the buckets of everyone else).
#[derive(Clone, Copy)]
struct Buckets {
    lo: u64,
    hi: u64,
    shift: u32,
}

impl Buckets {
    fn new(lo: u64, hi: u64, count: usize) -> Self {
        let (lo, hi) = if lo > hi { (0, 0) } else { (lo, hi) };
        let want = (count / BUCKET_TARGET).clamp(1, 1 << 20) as u64;
        let mut shift = 0;
        while ((hi - lo) >> shift) >= want {
            shift += 1;
        }
        Buckets { lo, hi, shift }
    }

    fn len(&self) -> usize {
        ((self.hi - self.lo) >> self.shift) as usize + 1
    }

    #[inline]
    fn of(&self, key: u64) -> usize {
        ((key.clamp(self.lo, self.hi) - self.lo) >> self.shift) as usize
    }
}

impl TriggerIndex {
    /// The order in which a falling market visits the accounts: group by group, highest τ
    /// first; multi-asset accounts and accounts with nothing to liquidate after them, in id
    /// order. Storing accounts in this order makes a cascade read their memory sequentially.
    ///
    /// Linear in the accounts (DESIGN §6): a counting sort into buckets of about
    /// [`BUCKET_TARGET`] accounts by τ, each bucket sorted only when the price first reaches
    /// it ([`Self::collect`]). Bucket by bucket, the accounts come out in the order a full sort
    /// by (τ descending, id) would give, which the hand-over keeps.
    pub fn memory_order(acc: AccountColumns<'_>, protocols: &[Lending]) -> MemoryOrder {
        let n = acc.len();
        let mut keys_of: Vec<(u32, u32, u32)> = Vec::new();
        // Per group: accounts, and the range of the keys of finite non-zero τ.
        let mut stats: Vec<(usize, u64, u64)> = Vec::new();
        let mut last: Option<((u32, u32, u32), u32)> = None;
        let mut group = vec![u32::MAX; n];
        let mut taus = vec![f64::NAN; n];
        for i in 0..n {
            let Some((c, d, tau)) = trigger_ratio(acc, protocols, i) else {
                continue;
            };
            let key = (acc.protocol[i], c, d);
            // Almost every account shares its neighbour's group: no hashing needed.
            let g = match last {
                Some((k, g)) if k == key => g,
                _ => {
                    let g = keys_of.iter().position(|k| *k == key).unwrap_or_else(|| {
                        keys_of.push(key);
                        stats.push((0, u64::MAX, 0));
                        keys_of.len() - 1
                    }) as u32;
                    last = Some((key, g));
                    g
                }
            };
            group[i] = g;
            taus[i] = tau;
            let s = &mut stats[g as usize];
            s.0 += 1;
            if tau.is_finite() && tau != 0.0 {
                let k = order_key(tau);
                s.1 = s.1.min(k);
                s.2 = s.2.max(k);
            }
        }
        // Buckets of every group in turn, then one for the accounts outside the groups.
        let maps: Vec<Buckets> = stats
            .iter()
            .map(|&(count, lo, hi)| Buckets::new(lo, hi, count))
            .collect();
        let mut base = Vec::with_capacity(maps.len() + 1);
        let mut total = 0;
        for m in &maps {
            base.push(total);
            total += m.len();
        }
        let rest = total;
        let bucket_of = |i: usize| match group[i] {
            u32::MAX => rest,
            g => base[g as usize] + maps[g as usize].of(order_key(taus[i])),
        };
        let mut dest: Vec<u32> = (0..n).map(|i| bucket_of(i) as u32).collect();
        drop(group);
        let mut next = vec![0u32; total + 2];
        for &b in &dest {
            next[b as usize + 1] += 1;
        }
        for b in 1..next.len() {
            next[b] += next[b - 1];
        }
        let groups = keys_of
            .iter()
            .enumerate()
            .map(|(g, &key)| (key, next[base[g]..=base[g] + maps[g].len()].to_vec()))
            .collect();
        // The stable counting sort: within a bucket, accounts keep their id order. Each account's
        // bucket becomes its position in place (the data moves later, in one go).
        for b in &mut dest {
            let j = next[*b as usize];
            next[*b as usize] += 1;
            *b = j;
        }
        MemoryOrder { dest, taus, groups }
    }

    /// The index of accounts already stored in `plan`'s order (ids are positions in it), with
    /// `taus` the τ of each stored position.
    pub fn build_ordered(
        acc: &Accounts,
        protocols: &[Lending],
        groups: Vec<((u32, u32, u32), Vec<u32>)>,
        taus: Vec<f64>,
    ) -> Self {
        let mut idx = TriggerIndex {
            watched: vec![false; acc.len()],
            dirty: vec![false; acc.len()],
            ..TriggerIndex::default()
        };
        let mut covered = 0;
        for (key, buckets) in groups {
            covered = covered.max(*buckets.last().unwrap_or(&0) as usize);
            // Single-pair accounts: one collateral and one debt asset, both non-zero.
            idx.group(key).buckets = buckets;
        }
        let mut taus = taus;
        taus.truncate(covered);
        idx.taus = taus;
        for j in covered..acc.len() {
            idx.place(acc, protocols, j);
        }
        idx
    }

    /// Every stored position in the order of a full sort by (group, τ descending, id), then
    /// the accounts outside the groups: the order in which `memory_order` would have stored
    /// them all sorted. Used where rows are reported for every account, so that their order
    /// (and sums over them) does not depend on the buckets.
    pub fn visit_order(&self, n: usize) -> &[u32] {
        self.visit.get_or_init(|| self.full_order(n))
    }

    fn full_order(&self, n: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(n);
        let mut covered = 0;
        for g in &self.groups {
            let mut keyed = Vec::new();
            for w in g.buckets.windows(2) {
                keyed.clear();
                keyed.extend((w[0]..w[1]).map(|j| (order_key(self.taus[j as usize]), j)));
                keyed.sort_unstable();
                out.extend(keyed.iter().map(|k| k.1));
                covered = covered.max(w[1] as usize);
            }
        }
        out.extend(covered as u32..n as u32);
        out
    }

    fn group(&mut self, key: (u32, u32, u32)) -> &mut Group {
        let next = self.groups.len();
        let g = *self.group_of.entry(key).or_insert(next);
        if g == next {
            self.groups.push(Group {
                coll: key.1,
                debt: key.2,
                buckets: Vec::new(),
                next_bucket: 0,
                current: Vec::new(),
                cursor: 0,
                heap: BinaryHeap::new(),
            });
        }
        &mut self.groups[g]
    }

    fn place(&mut self, acc: &Accounts, protocols: &[Lending], i: usize) {
        let has_debt = acc.debt[acc.range(i)].iter().any(|&d| d > 0.0);
        let l = &protocols[acc.protocol[i] as usize];
        if !has_debt || !l.has_collateral(&acc.holdings(i)) {
            return; // nothing to liquidate, or nothing left the rules can seize
        }
        match trigger_ratio(acc.columns(), protocols, i) {
            Some((c, d, tau)) => {
                let g = self.group((acc.protocol[i], c, d));
                // Outside the storage order's ranges every account goes through the heap.
                g.heap.push(Keyed(tau, i as u32));
            }
            None => {
                if !self.watched[i] {
                    self.watched[i] = true;
                    self.multi.push(i as u32);
                }
                self.dirty[i] = true;
                self.any_dirty = true;
            }
        }
    }

    /// Puts an account that left the liquidation queue back under watch with its new state.
    pub fn reinsert(&mut self, acc: &Accounts, protocols: &[Lending], i: usize) {
        self.place(acc, protocols, i);
    }

    /// Hands over every single-pair account whose τ exceeds its group's current price ratio,
    /// highest τ first (ties by position, which is id order).
    pub fn collect(&mut self, prices: &[f64], out: &mut Vec<u32>) {
        let taus = &self.taus;
        for g in &mut self.groups {
            let ratio = prices[g.coll as usize] / prices[g.debt as usize];
            loop {
                while let Some(&(_, j)) = g.current.get(g.cursor) {
                    if taus[j as usize] <= ratio {
                        break;
                    }
                    out.push(j);
                    g.cursor += 1;
                }
                if g.cursor < g.current.len() || g.next_bucket + 1 >= g.buckets.len() {
                    break;
                }
                // The sorted bucket is used up: sort the next one (a bucket the price never
                // reaches is never sorted).
                let (from, to) = (g.buckets[g.next_bucket], g.buckets[g.next_bucket + 1]);
                g.next_bucket += 1;
                g.current.clear();
                g.current
                    .extend((from..to).map(|j| (order_key(taus[j as usize]), j)));
                g.current.sort_unstable();
                g.cursor = 0;
            }
            while g.heap.peek().is_some_and(|k| k.0 > ratio) {
                if let Some(k) = g.heap.pop() {
                    out.push(k.1);
                }
            }
        }
    }

    /// Accounts followed by a full re-check.
    #[cfg(test)]
    pub fn multi(&self) -> &[u32] {
        &self.multi
    }

    /// Hands over the multi-asset accounts that breach at prices `px`, checking only those that
    /// hold an asset whose price moved since the last call, or whose own state changed.
    pub fn collect_multi(
        &mut self,
        acc: &Accounts,
        protocols: &[Lending],
        px: &[f64],
        out: &mut Vec<u32>,
    ) {
        if self.last_px.len() != px.len() {
            self.last_px = vec![f64::NAN; px.len()];
        }
        if self.multi.is_empty() {
            // Nobody to re-check (the common case): nothing to allocate either.
            self.last_px.copy_from_slice(px);
            return;
        }
        let moved: Vec<bool> = px.iter().zip(&self.last_px).map(|(a, b)| a != b).collect();
        let any_moved = moved.iter().any(|&m| m);
        if !any_moved && !self.any_dirty {
            self.last_px.copy_from_slice(px);
            return;
        }
        self.last_px.copy_from_slice(px);
        let mut keep = Vec::with_capacity(self.multi.len());
        for &i in &self.multi {
            let iu = i as usize;
            let check = self.dirty[iu]
                || (any_moved && acc.range(iu).any(|k| moved[acc.asset[k] as usize]));
            self.dirty[iu] = false;
            let l = &protocols[acc.protocol[iu] as usize];
            if check && l.health(&acc.holdings(iu), px) < 1.0 {
                self.watched[iu] = false;
                out.push(i);
            } else {
                keep.push(i);
            }
        }
        self.multi = keep;
        self.any_dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::{AaveVersion, Reserve, Rules};
    use super::*;

    /// A reserve of threshold `t` (bonus 5 %).
    fn lt(t: f64) -> Option<Reserve> {
        Some(Reserve {
            threshold: t,
            bonus: 0.05,
            protocol_fee: 0.0,
            liquidation_factor: 0.0,
        })
    }

    #[test]
    fn buckets_hand_over_in_the_order_of_a_full_sort() {
        // Random single-pair accounts in three groups (two protocols, two collateral assets),
        // with τ ties, infinite τ (a zero threshold), τ far out in both tails, and accounts
        // outside the groups (two collateral assets, or no debt). The bucketed layout must give
        // what a comparison sort by (group in first-seen order, τ descending, id) gives, both
        // in `visit_order` and in what `collect` hands over as the price ratio falls.
        let protocol = |t2| {
            Lending::new(
                Rules::AaveV3 {
                    version: AaveVersion::V3_3,
                },
                vec![lt(0.8), lt(0.0), lt(t2)],
            )
            .unwrap()
        };
        let protocols = [protocol(0.7), protocol(0.0)];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [300usize, 5_000, 40_000] {
            let (mut prot, mut offsets, mut asset, mut coll, mut debt) =
                (vec![], vec![0u32], vec![], vec![], vec![]);
            for _ in 0..n {
                let r = next();
                let p = (r % 2) as u32;
                let ca = if (r >> 2) % 3 == 0 { 2 } else { 0 };
                let c = match (r >> 4) % 10 {
                    0 => 1e12, // τ near zero
                    1 => 4.0,  // ties: the same collateral and debt
                    _ => 1.0 + ((r >> 8) % 1000) as f64 * 0.01,
                };
                let d = match (r >> 20) % 10 {
                    0 => 0.0, // nothing to liquidate
                    1 => 100.0,
                    _ => 10.0 + ((r >> 24) % 100_000) as f64 * 0.003,
                };
                prot.push(p);
                if (r >> 40) % 20 == 0 {
                    // Two collateral assets: followed by full re-checks.
                    asset.extend([0, 2, 1]);
                    coll.extend([c, c, 0.0]);
                    debt.extend([0.0, 0.0, d]);
                } else {
                    asset.extend([ca, 1]);
                    coll.extend([c, 0.0]);
                    debt.extend([0.0, d]);
                }
                offsets.push(asset.len() as u32);
            }
            let acc = Accounts::new(prot, offsets, asset, coll, debt, 2, 3).unwrap();
            // The independent answer: τ by the definition, one comparison sort.
            let mut groups: Vec<(u32, u32, u32)> = vec![];
            let mut keys: Vec<(usize, f64, u32)> = (0..n)
                .map(|i| match acc.single_pair(i) {
                    Some((c, d)) => {
                        let key = (acc.protocol[i], acc.asset[c], acc.asset[d]);
                        let g = groups.iter().position(|k| *k == key).unwrap_or_else(|| {
                            groups.push(key);
                            groups.len() - 1
                        });
                        let th = protocols[acc.protocol[i] as usize].threshold(acc.asset[c]);
                        let tau = if th > 0.0 {
                            acc.debt[d] / (acc.collateral[c] * th)
                        } else {
                            f64::INFINITY
                        };
                        (g, tau, i as u32)
                    }
                    None => (usize::MAX, 0.0, i as u32),
                })
                .collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
            let plan = TriggerIndex::memory_order(acc.columns(), &protocols);
            let (stored, original, taus) = acc.laid_out(&plan.dest, &plan.taus);
            let mut idx = TriggerIndex::build_ordered(&stored, &protocols, plan.groups, taus);
            let visit: Vec<u32> = idx
                .visit_order(n)
                .iter()
                .map(|&j| original[j as usize])
                .collect();
            let want: Vec<u32> = keys.iter().map(|k| k.2).collect();
            assert_eq!(visit, want, "n = {n}");
            // The hand-over as the ratio falls (one price for both collateral assets): each
            // group's accounts above the ratio, τ descending, none twice.
            let mut handed: Vec<Vec<u32>> = vec![vec![]; groups.len()];
            let mut out = Vec::new();
            for ratio in [1e6, 200.0, 40.0, 39.0, 25.0, 12.0, 3.0, 1e-3, 0.0] {
                out.clear();
                idx.collect(&[ratio, 1.0, ratio], &mut out);
                let mut prev: Option<(usize, f64)> = None;
                for &j in &out {
                    let o = original[j as usize];
                    let (g, tau, _) = *keys.iter().find(|k| k.2 == o).unwrap();
                    assert!(tau > ratio, "n = {n}: τ {tau} handed over at {ratio}");
                    if let Some((pg, pt)) = prev {
                        assert!(pg < g || (pg == g && pt >= tau));
                    }
                    prev = Some((g, tau));
                    handed[g].push(o);
                }
                for (g, h) in handed.iter().enumerate() {
                    let above: Vec<u32> = keys
                        .iter()
                        .filter(|k| k.0 == g && k.1 > ratio)
                        .map(|k| k.2)
                        .collect();
                    assert_eq!(h, &above, "n = {n}, group {g}, ratio {ratio}");
                }
            }
        }
    }

    #[test]
    fn hands_over_exactly_the_breached_accounts_worst_first() {
        // LT 0.8; 10 ETH each; debts 700, 760, 790, 500 → τ = D/(10·0.8) = 87.5, 95, 98.75, 62.5.
        // Account 4 has two collateral assets: followed by full re-checks.
        let aave = Lending::new(
            Rules::AaveV3 {
                version: AaveVersion::V3_3,
            },
            vec![lt(0.8), lt(0.0), lt(0.8)],
        )
        .unwrap();
        let acc = Accounts::new(
            vec![0; 5],
            vec![0, 2, 4, 6, 8, 11],
            vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2],
            vec![10.0, 0.0, 10.0, 0.0, 10.0, 0.0, 10.0, 0.0, 5.0, 0.0, 5.0],
            vec![
                0.0, 700.0, 0.0, 760.0, 0.0, 790.0, 0.0, 500.0, 0.0, 700.0, 0.0,
            ],
            1,
            3,
        )
        .unwrap();
        let protocols = [aave];
        let plan = TriggerIndex::memory_order(acc.columns(), &protocols);
        // Storage order: the single-pair group (one bucket at this size: id order), then the
        // multi-asset account; visited by τ descending.
        assert_eq!(plan.dest, vec![0, 1, 2, 3, 4]);
        let (stored, _, taus) = acc.laid_out(&plan.dest, &plan.taus);
        let mut idx = TriggerIndex::build_ordered(&stored, &protocols, plan.groups, taus);
        assert_eq!(idx.visit_order(5), &[2, 1, 0, 3, 4]);
        assert_eq!(idx.multi(), &[4]);
        let mut out = Vec::new();
        idx.collect(&[96.0, 1.0, 1.0], &mut out); // ETH/USDC = 96: τ 98.75 only
        assert_eq!(out, vec![2]);
        out.clear();
        idx.collect(&[90.0, 1.0, 1.0], &mut out); // now τ 95 too, not again τ 98.75
        assert_eq!(out, vec![1]);
        out.clear();
        idx.collect(&[90.0, 1.0, 1.0], &mut out);
        assert!(out.is_empty());
        // Back from the queue with its old τ: handed over again only below it.
        idx.reinsert(&stored, &protocols, 1);
        idx.collect(&[96.0, 1.0, 1.0], &mut out);
        assert!(out.is_empty());
        idx.collect(&[94.0, 1.0, 1.0], &mut out);
        assert_eq!(out, vec![1]);
        // The multi-asset account (5 ETH + 5 of asset 2, LT 0.8, 700 USDC): HF = 4·(p0 + p2)/700.
        out.clear();
        idx.collect_multi(&stored, &protocols, &[90.0, 1.0, 90.0], &mut out);
        assert!(out.is_empty()); // HF = 4·180/700 = 1.029
        idx.collect_multi(&stored, &protocols, &[90.0, 1.0, 80.0], &mut out);
        assert_eq!(out, vec![4]); // HF = 4·170/700 = 0.971
        assert!(idx.multi().is_empty());
    }
}
