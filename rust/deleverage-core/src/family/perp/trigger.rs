//! The pools' trigger index (DESIGN §6, as lending's): a round of the exchange tests only the
//! pools whose margin changed or whose mark moved past their liquidation price, instead of every
//! pool.
//!
//! A pool with one open position breaches on one side of its liquidation price `L` (where its
//! equity meets its maintenance margin: equity minus MM is monotone in the mark, the brackets
//! making MM continuous): a long as the mark falls to `L`, a short as it rises to it. Such pools
//! wait in a heap per market and side, keyed by `L` widened by a band, and are handed over when
//! the mark reaches it (the band covers the rounding of `L` and of the equity; the engine's own
//! test decides).
//! Pools with positions in several markets, and pools handed over until they test healthy, are
//! tested every round. A pool whose wallet, positions or status change is re-placed with its new
//! `L` at the start of the next round (an entry from before the change is recognised by its
//! version and dropped).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Relative width of the band around `L` within which a pool is handed over for the exact test
/// (see [`super::Exchange`]'s placement: the threshold a heap holds includes the band).
pub(super) const BAND: f64 = 1e-9;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Entry {
    /// `L` for a long, `−L` for a short: the heap's top is the next to trigger either way.
    key: f64,
    pool: u32,
    version: u32,
}

impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then_with(|| other.pool.cmp(&self.pool))
    }
}

/// Where a pool is followed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) enum Placement {
    /// Nothing to follow (closed, taken over, or no open position).
    None,
    /// One open position: handed over by its [`Threshold`].
    Single(Threshold),
    /// Tested every round (positions in several markets, or no usable liquidation price).
    Always,
}

/// The mark at which a pool with one open position is handed over: at or below `price` for a
/// long, at or above it for a short, in market `market` (its liquidation price with the band).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Threshold {
    pub market: u32,
    pub long: bool,
    pub price: f64,
}

/// Hands every entry of `heap` with a key at or above `at` to `take`, removing it: one pop each
/// while few are reached; past [`POPS_BEFORE_PASS`] pops and a 32nd of the heap, one pass over
/// the rest and a heapify in linear time (a large move of the mark reaches a good part of the
/// heap, and popping each costs a walk down the heap). The entries handed over are the same
/// either way, in another order (the round sorts what it finds by a total order).
fn drain_reached(heap: &mut BinaryHeap<Entry>, at: f64, take: &mut impl FnMut(Entry)) {
    let limit = POPS_BEFORE_PASS.max(heap.len() / 32);
    let mut popped = 0;
    while let Some(&e) = heap.peek() {
        if e.key < at {
            return;
        }
        if popped == limit {
            let mut rest = std::mem::take(heap).into_vec();
            rest.retain(|&e| {
                let reached = e.key >= at;
                if reached {
                    take(e);
                }
                !reached
            });
            *heap = BinaryHeap::from(rest);
            return;
        }
        heap.pop();
        popped += 1;
        take(e);
    }
}

/// Adds pool `p` to the pools tested every round, once.
fn check_every_round(in_checked: &mut [bool], checked: &mut Vec<u32>, p: usize) {
    if !in_checked[p] {
        in_checked[p] = true;
        checked.push(p as u32);
    }
}

/// Pops from a heap before [`drain_reached`] considers one pass over it instead.
const POPS_BEFORE_PASS: usize = 64;

/// Files pool `p` (entry `version`) under its threshold's market and side: `falls` (keyed by the
/// price) or `rises` (by its negative). Heaps when placing, plain vectors when building them in
/// one go.
fn file<H: Extend<Entry>>(falls: &mut [H], rises: &mut [H], t: Threshold, p: usize, version: u32) {
    let e = Entry {
        key: if t.long { t.price } else { -t.price },
        pool: p as u32,
        version,
    };
    let side = if t.long { falls } else { rises };
    side[t.market as usize].extend([e]);
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct PoolIndex {
    /// Whether the index was built (on the exchange's first round).
    built: bool,
    /// Per market: pools whose one position is long (by `L`) and short (by `−L`).
    falls: Vec<BinaryHeap<Entry>>,
    rises: Vec<BinaryHeap<Entry>>,
    /// Per pool: the version of its current heap entry.
    version: Vec<u32>,
    /// Pools tested every round.
    checked: Vec<u32>,
    in_checked: Vec<bool>,
    /// Pools changed since the last round.
    touched: Vec<u32>,
    is_touched: Vec<bool>,
}

impl PoolIndex {
    /// Marks pool `p` as changed: it is re-placed at the start of the next round.
    #[inline]
    pub(super) fn touch(&mut self, p: usize) {
        if self.built && !self.is_touched[p] {
            self.is_touched[p] = true;
            self.touched.push(p as u32);
        }
    }

    fn check_every_round(&mut self, p: usize) {
        check_every_round(&mut self.in_checked, &mut self.checked, p);
    }

    /// Follows pool `p` by `place` (its placement now).
    fn place(&mut self, p: usize, place: Placement) {
        self.version[p] = self.version[p].wrapping_add(1);
        match place {
            Placement::None => {}
            Placement::Always => self.check_every_round(p),
            Placement::Single(t) => file(&mut self.falls, &mut self.rises, t, p, self.version[p]),
        }
    }

    /// The pools to test this round: every pool is placed by `placement` on the first call, and
    /// every pool changed since the last one is re-placed; then the pools whose mark
    /// (`marks[m]` for market m) reached their band join the pools tested every round, which
    /// are returned (a pool that tests healthy is handed back with [`Self::release`]).
    pub(super) fn candidates(
        &mut self,
        pools: usize,
        markets: usize,
        marks: impl Fn(usize) -> f64,
        placement: impl Fn(usize) -> Placement,
    ) -> Vec<u32> {
        if !self.built {
            self.built = true;
            self.version = vec![0; pools];
            self.in_checked = vec![false; pools];
            self.is_touched = vec![false; pools];
            let mut falls = vec![Vec::new(); markets];
            let mut rises = vec![Vec::new(); markets];
            for p in 0..pools {
                match placement(p) {
                    Placement::None => {}
                    Placement::Always => self.check_every_round(p),
                    Placement::Single(t) => file(&mut falls, &mut rises, t, p, 0),
                }
            }
            // Heapified in linear time: a market the price never reaches is never sorted.
            self.falls = falls.into_iter().map(BinaryHeap::from).collect();
            self.rises = rises.into_iter().map(BinaryHeap::from).collect();
        }
        for p in std::mem::take(&mut self.touched) {
            let p = p as usize;
            self.is_touched[p] = false;
            let place = placement(p);
            self.place(p, place);
        }
        let (version, in_checked, checked) =
            (&self.version, &mut self.in_checked, &mut self.checked);
        let mut hand_over = |e: Entry| {
            if e.version == version[e.pool as usize] {
                check_every_round(in_checked, checked, e.pool as usize);
            }
        };
        for m in 0..markets {
            let mark = marks(m);
            // A long breaches as the mark falls to L (key L ≥ mark), a short as it rises to it
            // (key −L ≥ −mark).
            drain_reached(&mut self.falls[m], mark, &mut hand_over);
            drain_reached(&mut self.rises[m], -mark, &mut hand_over);
        }
        // Handed out, not copied: `compact` takes the list back.
        std::mem::take(&mut self.checked)
    }

    /// Pool `p` tested healthy (or has nothing left to follow): it leaves the pools tested
    /// every round, placed again by `place` (a pool with positions in several markets stays).
    pub(super) fn release(&mut self, p: usize, place: Placement) {
        if place == Placement::Always {
            return;
        }
        self.in_checked[p] = false;
        self.place(p, place);
    }

    /// Takes back the pools `candidates` handed out, less those released since.
    pub(super) fn compact(&mut self, mut tested: Vec<u32>) {
        let in_checked = &self.in_checked;
        tested.retain(|&p| in_checked[p as usize]);
        tested.append(&mut self.checked);
        self.checked = tested;
    }
}

#[cfg(test)]
mod tests {
    use super::{BinaryHeap, Entry, drain_reached};

    /// A heap of `n` entries with keys 0, 1, …, n−1 filed in a scrambled order.
    fn heap(n: u32) -> BinaryHeap<Entry> {
        (0..n)
            .map(|k| {
                let pool = (k * 7919) % n; // 7919 is prime, so this permutes 0..n
                Entry {
                    key: f64::from(pool),
                    pool,
                    version: 0,
                }
            })
            .collect()
    }

    #[test]
    fn every_entry_at_or_above_the_mark_is_handed_over_once_by_pops_or_one_pass() {
        // Few reached (popped one by one) and most reached (one pass over the heap: more than
        // POPS_BEFORE_PASS and a 32nd of the heap).
        for (n, at) in [(10_000, 9_990.0), (10_000, 500.0), (100, 99.5), (100, 0.0)] {
            let mut h = heap(n);
            let mut got = Vec::new();
            drain_reached(&mut h, at, &mut |e: Entry| got.push(e.key));
            got.sort_by(f64::total_cmp);
            let want: Vec<f64> = (0..n).map(f64::from).filter(|&k| k >= at).collect();
            assert_eq!(got, want);
            // What stays is a heap of the rest: its top is the largest key below the mark.
            assert_eq!(h.len() as u32, n - want.len() as u32);
            let top = h.peek().map(|e| e.key);
            assert_eq!(top, (0..n).map(f64::from).rfind(|&k| k < at));
            assert!(h.into_sorted_vec().windows(2).all(|w| w[0].key < w[1].key));
        }
    }
}
