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

use super::accounts::Accounts;
use super::rules::Lending;

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

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Group {
    coll: u32,
    debt: u32,
    /// Accounts stored at positions `start..start + taus.len()`, by τ descending.
    start: u32,
    taus: Vec<f64>,
    cursor: usize,
    heap: BinaryHeap<Keyed>,
}

/// A storage order for accounts and the trigger groups it lays out (see
/// [`TriggerIndex::memory_order`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemoryOrder {
    /// Original id of the account stored at each position.
    pub order: Vec<u32>,
    /// τ of the account at each position (single-pair accounts).
    pub taus: Vec<f64>,
    /// (protocol, collateral asset, debt asset) and the positions `[start, end)` of its group.
    pub groups: Vec<((u32, u32, u32), usize, usize)>,
}

/// Accounts followed by price ratio, plus the few followed by a full re-check.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TriggerIndex {
    groups: Vec<Group>,
    group_of: HashMap<(u32, u32, u32), usize>,
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
}

/// τ of a single-pair account, or `None` if it is not one.
fn trigger_ratio(acc: &Accounts, protocols: &[Lending], i: usize) -> Option<(u32, u32, f64)> {
    let (c, d) = acc.single_pair(i)?;
    let theta = protocols[acc.protocol[i] as usize].threshold(acc.asset[c]);
    let tau = if theta > 0.0 {
        acc.debt[d] / (acc.collateral[c] * theta)
    } else {
        f64::INFINITY
    };
    Some((acc.asset[c], acc.asset[d], tau))
}

/// The order of [`TriggerIndex::memory_order`]'s keys: group, then `-τ` by `total_cmp`, then
/// account.
fn key_order(a: &(u32, f64, u32), b: &(u32, f64, u32)) -> Ordering {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
}

/// `x`'s bits as an unsigned integer in `f64::total_cmp`'s order.
#[inline]
fn total_order_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// Sorts `keys` (built with their accounts in increasing order) into [`key_order`]: a stable
/// least-significant-digit radix sort of (group, `-τ`) in 16-bit digits, so that accounts keep
/// their order within equal keys, as the comparison would put them. Linear in the accounts, where
/// the comparison sort it replaces took a quarter of a 100,000-account cascade's instructions;
/// the order is the same, account for account. It holds two 32-byte buffers per account while
/// it runs (about 64 B per account at its peak, against 16 B for the sort in place).
fn sort_keys(keys: &mut Vec<(u32, f64, u32)>) {
    let n = keys.len();
    if n < 1 << 10 {
        keys.sort_unstable_by(key_order);
        return;
    }
    // Each key carries its position: the stable sort keeps equal keys in input order, which is
    // account order here, the comparison's last tie-break.
    debug_assert!(keys.windows(2).all(|w| w[0].2 < w[1].2));
    let code = |k: &(u32, f64, u32)| (u128::from(k.0) << 64) | u128::from(total_order_bits(k.1));
    let mut a: Vec<(u128, u32)> = keys
        .iter()
        .enumerate()
        .map(|(pos, k)| (code(k), pos as u32))
        .collect();
    let mut b: Vec<(u128, u32)> = vec![(0, 0); n];
    let mut count = vec![0usize; 1 << 16];
    for shift in (0..96).step_by(16) {
        count.iter_mut().for_each(|c| *c = 0);
        for &(c, _) in &a {
            count[((c >> shift) & 0xFFFF) as usize] += 1;
        }
        if count.contains(&n) {
            continue; // every key has this digit: the pass would change nothing
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        for &(c, i) in &a {
            let d = ((c >> shift) & 0xFFFF) as usize;
            b[count[d]] = (c, i);
            count[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    let original = std::mem::take(keys);
    keys.extend(a.iter().map(|&(_, pos)| original[pos as usize]));
}

impl TriggerIndex {
    /// The order in which a falling market visits the accounts: group by group, highest τ
    /// first; multi-asset accounts and accounts with nothing to liquidate after them. Storing
    /// accounts in this order makes a cascade read their memory sequentially.
    pub fn memory_order(acc: &Accounts, protocols: &[Lending]) -> MemoryOrder {
        let mut keys_of: Vec<(u32, u32, u32)> = Vec::new();
        let mut last: Option<((u32, u32, u32), u32)> = None;
        let mut keys: Vec<(u32, f64, u32)> = (0..acc.len())
            .map(|i| match trigger_ratio(acc, protocols, i) {
                Some((c, d, tau)) => {
                    let key = (acc.protocol[i], c, d);
                    // Almost every account shares its neighbour's group: no hashing needed.
                    let g = match last {
                        Some((k, g)) if k == key => g,
                        _ => {
                            let g = keys_of.iter().position(|k| *k == key).unwrap_or_else(|| {
                                keys_of.push(key);
                                keys_of.len() - 1
                            }) as u32;
                            last = Some((key, g));
                            g
                        }
                    };
                    (g, -tau, i as u32)
                }
                None => (u32::MAX, 0.0, i as u32),
            })
            .collect();
        sort_keys(&mut keys);
        let mut groups = Vec::new();
        let mut start = 0;
        for j in 1..=keys.len() {
            if j == keys.len() || keys[j].0 != keys[start].0 {
                if keys[start].0 != u32::MAX {
                    groups.push((keys_of[keys[start].0 as usize], start, j));
                }
                start = j;
            }
        }
        MemoryOrder {
            taus: keys.iter().map(|k| -k.1).collect(),
            order: keys.into_iter().map(|k| k.2).collect(),
            groups,
        }
    }

    /// The index of accounts already stored in `plan`'s order (ids are positions in it).
    pub fn build_ordered(acc: &Accounts, protocols: &[Lending], plan: &MemoryOrder) -> Self {
        let mut idx = TriggerIndex {
            watched: vec![false; acc.len()],
            dirty: vec![false; acc.len()],
            ..TriggerIndex::default()
        };
        let mut covered = 0;
        for &(key, start, end) in &plan.groups {
            let g = idx.group(key);
            // Single-pair accounts: one collateral and one debt asset, both non-zero.
            g.start = start as u32;
            g.taus = plan.taus[start..end].to_vec();
            covered = covered.max(end);
        }
        for j in covered..acc.len() {
            idx.place(acc, protocols, j);
        }
        idx
    }

    fn group(&mut self, key: (u32, u32, u32)) -> &mut Group {
        let next = self.groups.len();
        let g = *self.group_of.entry(key).or_insert(next);
        if g == next {
            self.groups.push(Group {
                coll: key.1,
                debt: key.2,
                start: 0,
                taus: Vec::new(),
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
        match trigger_ratio(acc, protocols, i) {
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

    /// Hands over every single-pair account whose τ exceeds its group's current price ratio.
    pub fn collect(&mut self, prices: &[f64], out: &mut Vec<u32>) {
        for g in &mut self.groups {
            let ratio = prices[g.coll as usize] / prices[g.debt as usize];
            while g.cursor < g.taus.len() && g.taus[g.cursor] > ratio {
                out.push(g.start + g.cursor as u32);
                g.cursor += 1;
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

    #[test]
    fn the_radix_sort_of_the_keys_is_the_comparison_sort() {
        // Random groups (a few, and the "nothing to liquidate" group), and taus with ties, both
        // zeros, infinities and NaNs of both signs: the same order as the comparison, key for
        // key.
        let specials = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            1.5,
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [1_000usize, 1_024, 1_500, 20_000] {
            let keys: Vec<(u32, f64, u32)> = (0..n)
                .map(|i| {
                    let r = next();
                    let g = match r % 7 {
                        0 => u32::MAX,
                        k => (k % 3) as u32,
                    };
                    let tau = match (r >> 8) % 5 {
                        0 => specials[((r >> 16) % specials.len() as u64) as usize],
                        1 => ((r >> 20) % 16) as f64 * 0.125,
                        _ => -(((r >> 11) as f64) / (1u64 << 53) as f64) * 3.0,
                    };
                    (g, tau, i as u32)
                })
                .collect();
            let mut want = keys.clone();
            want.sort_unstable_by(super::key_order);
            let mut got = keys;
            super::sort_keys(&mut got);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1.to_bits(), g.2), (w.0, w.1.to_bits(), w.2));
            }
        }
    }

    #[test]
    fn hands_over_exactly_the_breached_accounts_worst_first() {
        // LT 0.8; 10 ETH each; debts 700, 760, 790, 500 → τ = D/(10·0.8) = 87.5, 95, 98.75, 62.5.
        // Account 4 has two collateral assets: followed by full re-checks.
        let lt = |t| {
            Some(Reserve {
                threshold: t,
                bonus: 0.05,
                protocol_fee: 0.0,
                liquidation_factor: 0.0,
            })
        };
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
        let plan = TriggerIndex::memory_order(&acc, &protocols);
        // Storage order: the single-pair group by τ descending, then the multi-asset account.
        assert_eq!(plan.order, vec![2, 1, 0, 3, 4]);
        let stored = acc.permuted(&plan.order);
        let mut idx = TriggerIndex::build_ordered(&stored, &protocols, &plan);
        assert_eq!(idx.multi(), &[4]);
        let mut out = Vec::new();
        idx.collect(&[96.0, 1.0, 1.0], &mut out); // ETH/USDC = 96: τ 98.75 only
        assert_eq!(out, vec![0]); // stored position 0 = original account 2
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
