//! A tight single-purpose kernel of the benchmark lending cascade (issue 14, item 4): what a
//! performance-minded engineer writes for exactly this one case, to measure the engine against.
//! Run with `cargo bench -p deleverage-core --bench kernel`; `tests/kernel.rs` checks that it
//! liquidates the same accounts in the same order, for the same amounts, as `Engine`.
//!
//! The case is `cascade.rs`'s market, from the same generator: accounts with one ETH collateral
//! and one USDC debt balance (USDC at 1), Aave v3.3 (LT 0.83, bonus 5 %, fee 10 % of the bonus),
//! ETH on a linear book (tick 0.5, 400 ETH per level, 5,999 levels a side) read by a spot oracle,
//! a 25 % instant shock, the default liquidators (worst health first, sequential rounds, no
//! budget limit), run to quiet. The rules are the engine's, evaluated with the same
//! floating-point expressions (MECHANICS §2.4, §3, §4.2–4.4; DESIGN §4.5): each round, every
//! account whose trigger ratio τ = D/(C·LT) exceeds the price and whose HF is below 1 joins the
//! queue; the queue is served in order of HF at the round's opening price (ties: arrival), each
//! liquidation at the price its predecessors' sales left; an account healthy again waits for a
//! lower price with its new τ, one still below 1 is served again next round.
//!
//! What makes it fast (DESIGN §6): each account is one 32-byte entry (τ, collateral, debt, id)
//! that carries its state through the cascade, so the loop reads memory in order. Trigger
//! ratios are counting-sorted once into coarse buckets, and a bucket is sorted (a second
//! counting sort and small sorts, in cache) only when the price reaches it: in a falling market
//! the accounts are handed over in decreasing τ, and a tail the price never reaches is never
//! sorted. The few accounts a partial liquidation leaves healthy wait in a small heap. The bids
//! are two flat arrays (level price, cumulative depth) and a consumed volume. Nothing is
//! recorded but counters; a caller's closure sees each liquidation (a no-op in the bench,
//! compiled away). What it keeps, to stay exact, is the engine's arithmetic, divisions
//! included, and the sequential rule: each liquidation waits for the price the one before left,
//! a chain of dependent divisions that bounds the serving loop.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Range;

use divan::Bencher;
use divan::counter::ItemsCount;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};

fn main() {
    divan::main();
}

#[divan::bench(args = [1_000_000, 10_000_000], sample_count = 5)]
fn kernel_25pct_shock(bencher: Bencher, n: usize) {
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| positions(n, 1))
        .bench_local_refs(|(collateral, debt)| {
            run(collateral, debt, &Market::BENCHMARK, |_| {}).liquidations
        });
}

/// The generator of `cascade.rs` (the same draws in the same order): collateral log-normal
/// (median 5 ETH, log-sd 1.5), health factors 1.01 + Exp(mean 0.35) at 3,000 with LT 0.83.
/// Returns collateral and debt per account.
pub fn positions(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let exp = Exp::new(1.0 / 0.35).expect("rate");
    let mut collateral = Vec::with_capacity(n);
    let mut debt = Vec::with_capacity(n);
    for _ in 0..n {
        let z: f64 = StandardNormal.sample(&mut rng);
        let c = 5.0 * (1.5 * z).exp();
        let hf = 1.01 + exp.sample(&mut rng);
        collateral.push(c);
        debt.push(c * 3_000.0 * 0.83 / hf);
    }
    (collateral, debt)
}

/// The book, the collateral's Aave reserve, the shock and the round cap.
#[derive(Debug, Clone, Copy)]
pub struct Market {
    pub mid: f64,
    pub tick: f64,
    pub levels: usize,
    pub depth_per_level: f64,
    pub threshold: f64,
    pub bonus: f64,
    pub protocol_fee: f64,
    pub shock: f64,
    pub max_rounds_per_step: u32,
}

impl Market {
    pub const BENCHMARK: Market = Market {
        mid: 3_000.0,
        tick: 0.5,
        levels: 5_999,
        depth_per_level: 400.0,
        threshold: 0.83,
        bonus: 0.05,
        protocol_fee: 0.10,
        shock: -0.25,
        max_rounds_per_step: 64,
    };
}

/// One liquidation, as the engine's event row has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liquidation {
    pub step: u32,
    pub round: u32,
    pub account: u32,
    pub repaid: f64,
    pub seized: f64,
    pub price_after: f64,
    pub bad_debt: f64,
}

/// What the run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub liquidations: u64,
    pub bad_debt: f64,
    /// The oracle price at the end.
    pub price: f64,
    pub steps: u32,
}

/// Relative tolerances of the engine: a level counts as exhausted within this of its edge, and
/// a balance within this of its previous value of zero is zero.
const RTOL: f64 = 1e-12;
/// Aave v3.3's thresholds in quote and its close-factor health factor.
const MIN_BASE_MAX_CLOSE_FACTOR: f64 = 2_000.0;
const MIN_LEFTOVER_BASE: f64 = 1_000.0;
const CLOSE_FACTOR_HF_THRESHOLD: f64 = 0.95;
/// The most steps after the first (the engine's default `max_extra_steps`).
const MAX_EXTRA_STEPS: u32 = 10_000;

/// An account on its way through the cascade. `key` is τ while it waits for the price, and its
/// health factor at the round's opening price while it is queued.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: f64,
    c: f64,
    d: f64,
    id: u32,
    /// Arrival in the queue: the tie-break of equal health.
    seq: u32,
}

/// Highest τ first, ties by account id: the order accounts are handed over in.
fn by_tau(a: &Entry, b: &Entry) -> Ordering {
    b.key.total_cmp(&a.key).then(a.id.cmp(&b.id))
}

/// Lowest health first, ties by arrival: the order the queue is served in.
fn by_health(a: &Entry, b: &Entry) -> Ordering {
    a.key.total_cmp(&b.key).then(a.seq.cmp(&b.seq))
}

/// A healthy-again account in the heap: highest τ on top, ties lowest id.
struct Waiting(Entry);

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        by_tau(&other.0, &self.0)
    }
}

/// Accounts not yet handed over, in coarse buckets by τ (highest first), a bucket sorted only
/// when the cursor reaches it.
struct Fresh {
    entries: Vec<Entry>,
    /// End of each bucket in `entries`.
    ends: Vec<usize>,
    /// `entries[..sorted]` is in hand-over order; `next` is the first bucket not yet sorted.
    sorted: usize,
    next: usize,
    cursor: usize,
    /// The second level's buffers, reused from bucket to bucket.
    scratch: Vec<Entry>,
    keys: Vec<f64>,
    counts: Vec<usize>,
}

/// Buckets of equal τ width between two extremes, highest τ first. `of` is monotone
/// (subtraction, multiplication and truncation all are), so bucket order is τ order.
#[derive(Clone, Copy)]
struct Buckets {
    hi: f64,
    scale: f64,
    n: usize,
}

impl Buckets {
    /// `n` buckets spanning the finite `keys`; `counts` becomes each bucket's start. Returns the
    /// buckets and the number of keys counted.
    fn count(keys: &[f64], n: usize, counts: &mut Vec<usize>) -> (Self, usize) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &t in keys {
            // NaN (nothing to liquidate) compares false: skipped.
            if t < lo {
                lo = t;
            }
            if t > hi {
                hi = t;
            }
        }
        let scale = if hi > lo { n as f64 / (hi - lo) } else { 0.0 };
        let b = Buckets { hi, scale, n };
        counts.clear();
        counts.resize(n, 0);
        for &t in keys {
            if !t.is_nan() {
                counts[b.of(t)] += 1;
            }
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        (b, sum)
    }

    #[inline]
    fn of(self, t: f64) -> usize {
        (((self.hi - t) * self.scale) as usize).min(self.n - 1)
    }
}

impl Fresh {
    /// Every account with collateral and debt, counting-sorted by τ into about one bucket per
    /// 2,048 accounts (at most 512: few write streams for the scatter).
    fn new(collateral: &[f64], debt: &[f64], threshold: f64) -> Self {
        let taus: Vec<f64> = collateral
            .iter()
            .zip(debt)
            .map(|(&c, &d)| {
                if c > 0.0 && d > 0.0 {
                    d / (c * threshold)
                } else {
                    f64::NAN // nothing to liquidate
                }
            })
            .collect();
        let mut ends = Vec::new();
        let n = (taus.len() / 2_048).clamp(1, 512);
        let (bucket, len) = Buckets::count(&taus, n, &mut ends);
        let mut entries = vec![Entry::default(); len];
        for (i, &t) in taus.iter().enumerate() {
            if !t.is_nan() {
                let slot = &mut ends[bucket.of(t)];
                entries[*slot] = Entry {
                    key: t,
                    c: collateral[i],
                    d: debt[i],
                    id: i as u32,
                    seq: 0,
                };
                *slot += 1;
            }
        }
        Fresh {
            entries,
            ends,
            sorted: 0,
            next: 0,
            cursor: 0,
            scratch: Vec::new(),
            keys: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// τ of the next account to hand over, sorting buckets as the cursor reaches them.
    #[inline]
    fn peek_tau(&mut self) -> Option<f64> {
        while self.cursor == self.sorted {
            let end = *self.ends.get(self.next)?;
            self.sort_bucket(self.sorted, end);
            self.sorted = end;
            self.next += 1;
        }
        Some(self.entries[self.cursor].key)
    }

    /// Sorts `entries[start..end]` into hand-over order: a second counting sort into buckets of
    /// about `FINE` accounts, in cache, then a small sort of each.
    fn sort_bucket(&mut self, start: usize, end: usize) {
        const FINE: usize = 8;
        let s = &mut self.entries[start..end];
        if s.len() <= 4 * FINE {
            s.sort_unstable_by(by_tau);
            return;
        }
        self.keys.clear();
        self.keys.extend(s.iter().map(|e| e.key));
        let (bucket, _) = Buckets::count(&self.keys, s.len() / FINE, &mut self.counts);
        self.scratch.clear();
        self.scratch.resize(s.len(), Entry::default());
        for e in s.iter() {
            let slot = &mut self.counts[bucket.of(e.key)];
            self.scratch[*slot] = *e;
            *slot += 1;
        }
        let mut from = 0;
        for &to in &self.counts {
            self.scratch[from..to].sort_unstable_by(by_tau);
            from = to;
        }
        s.copy_from_slice(&self.scratch);
    }
}

/// The bid side of the book after the shock, and the spot oracle it sets.
struct Bids {
    price: Vec<f64>,
    cum: Vec<f64>,
    consumed: f64,
    /// The first level that still rests something.
    open: usize,
    best_ask: f64,
    /// (best bid + best ask)/2; held when the bids are gone.
    spot: f64,
}

impl Bids {
    fn new(m: &Market) -> Self {
        let eta = m.tick / m.mid;
        let n = m
            .levels
            .min(((1.0 / eta).ceil() as usize).saturating_sub(1));
        let reference = m.mid * (1.0 + m.shock);
        let scale = if reference == m.mid {
            1.0
        } else {
            reference / m.mid
        };
        let price: Vec<f64> = (1..=n)
            .map(|k| scale * (m.mid * (1.0 - k as f64 * eta)))
            .collect();
        let best_ask = scale * (m.mid * (1.0 + eta));
        Bids {
            spot: 0.5 * (price[0] + best_ask),
            cum: (1..=n).map(|k| m.depth_per_level * k as f64).collect(),
            price,
            consumed: 0.0,
            open: 0,
            best_ask,
        }
    }

    /// Sells `qty` into the bids, best first (MECHANICS §2.4), and moves the spot.
    #[inline]
    fn sell(&mut self, qty: f64) {
        let n = self.cum.len();
        let (mut pos, mut k, mut left) = (self.consumed, self.open, qty);
        while left > 0.0 && k < n {
            let lower = if k == 0 { 0.0 } else { self.cum[k - 1] };
            let avail = self.cum[k] - pos.max(lower);
            let exhaust = left >= avail * (1.0 - RTOL);
            // An order matching the level to rounding takes exactly what was asked for.
            let take = if exhaust && left > avail * (1.0 + RTOL) {
                avail
            } else {
                left
            };
            left = if take == left { 0.0 } else { left - take };
            if !exhaust {
                pos += take;
                break;
            }
            pos = self.cum[k];
            k += 1;
        }
        self.consumed = pos;
        while self.open < n && pos >= self.cum[self.open] - RTOL * self.cum[self.open] {
            self.open += 1;
        }
        if self.open < n {
            self.spot = 0.5 * (self.price[self.open] + self.best_ask);
        }
    }
}

/// Aave's seizure for `cover` of debt (MECHANICS §4.3): repaid, seized, protocol fee. The
/// debt's price, 1, drops out of the engine's expressions exactly.
#[inline]
fn seizure(cover: f64, c: f64, d: f64, p: f64, m: &Market) -> (f64, f64, f64) {
    let cover = cover.min(d);
    let max_coll = cover / p * (1.0 + m.bonus);
    let (seized, repaid) = if max_coll > c {
        (c, c * p / (1.0 + m.bonus))
    } else {
        (max_coll, cover)
    };
    let bonus = seized - seized / (1.0 + m.bonus);
    (repaid, seized, bonus * m.protocol_fee)
}

/// What an unlimited liquidator does to an account with HF `hf` < 1 at price `p` (MECHANICS
/// §4.2–4.4). The dust rule can only bite on a half repayment, where collateral and debt are
/// both worth $2,000 or more, so its lowered cover is positive: no account is ever skipped.
#[inline]
fn liquidation(c: f64, d: f64, p: f64, hf: f64, m: &Market) -> (f64, f64, f64) {
    let half = c * p >= MIN_BASE_MAX_CLOSE_FACTOR
        && d >= MIN_BASE_MAX_CLOSE_FACTOR
        && hf > CLOSE_FACTOR_HF_THRESHOLD;
    let cover = if half { 0.5 * d } else { d };
    let (repaid, seized, fee) = seizure(cover, c, d, p, m);
    if repaid < d
        && seized < c
        && (d - repaid < MIN_LEFTOVER_BASE || (c - seized) * p < MIN_LEFTOVER_BASE)
    {
        let cover = (d - MIN_LEFTOVER_BASE)
            .min((c - MIN_LEFTOVER_BASE / p) * p / (1.0 + m.bonus))
            .min(cover);
        return seizure(cover, c, d, p, m);
    }
    (repaid, seized, fee)
}

#[inline]
fn clear_dust(left: f64, before: f64) -> f64 {
    if left <= RTOL * before { 0.0 } else { left }
}

/// The cascade between rounds: the accounts not yet handed over, the bids, the accounts
/// healthy again, and the queue. The queue has three parts, each in order of health at the
/// round's opening price (ties: arrival), served as one merged sequence: the accounts kept from
/// the last round, the fresh ones handed over (a range of [`Fresh::entries`], in order as a
/// rule), and those back from the heap.
struct Cascade<'m> {
    m: &'m Market,
    fresh: Fresh,
    bids: Bids,
    heap: BinaryHeap<Waiting>,
    kept: Vec<Entry>,
    range: Range<usize>,
    /// Whether `range` came out of the hand-over in health order.
    in_order: bool,
    back: Vec<Entry>,
    /// Buffers reused from round to round.
    healthy: Vec<Entry>,
    next_kept: Vec<Entry>,
    seq: u32,
    bad_debt: f64,
}

impl<'m> Cascade<'m> {
    fn new(collateral: &[f64], debt: &[f64], m: &'m Market) -> Self {
        Cascade {
            m,
            fresh: Fresh::new(collateral, debt, m.threshold),
            bids: Bids::new(m),
            heap: BinaryHeap::new(),
            kept: Vec::new(),
            range: 0..0,
            in_order: true,
            back: Vec::new(),
            healthy: Vec::new(),
            next_kept: Vec::new(),
            seq: 0,
            bad_debt: 0.0,
        }
    }

    /// HF of `e` at price `p`.
    #[inline]
    fn health(&self, e: &Entry, p: f64) -> f64 {
        e.c * p * self.m.threshold / e.d
    }

    /// Whether anything is queued.
    fn queued(&self) -> bool {
        !(self.kept.is_empty() && self.range.is_empty() && self.back.is_empty())
    }

    /// `e` with its health factor `hf` joins the queue.
    #[inline]
    fn arrive(&mut self, e: &mut Entry, hf: f64) {
        (e.key, e.seq) = (hf, self.seq);
        self.seq = self.seq.wrapping_add(1);
    }

    /// The start of a round: every account whose τ exceeds the price is handed over, fresh ones
    /// first, and joins the queue if its HF is below 1 (else it waits in the heap).
    fn hand_over(&mut self) {
        let p = self.bids.spot;
        if !self.range.is_empty() {
            // Left queued by the round cap: it joins the kept accounts.
            self.kept
                .extend_from_slice(&self.fresh.entries[self.range.clone()]);
        }
        let start = self.fresh.cursor;
        let mut write = start;
        let mut last = f64::NEG_INFINITY;
        self.in_order = true;
        while self.fresh.peek_tau().is_some_and(|t| t > p) {
            let mut e = self.fresh.entries[self.fresh.cursor];
            self.fresh.cursor += 1;
            let hf = self.health(&e, p);
            if hf >= 1.0 {
                self.healthy.push(e); // τ above the price by rounding only
                continue;
            }
            self.arrive(&mut e, hf);
            self.in_order &= last <= hf;
            last = hf;
            self.fresh.entries[write] = e;
            write += 1;
        }
        self.range = start..write;
        while self.heap.peek().is_some_and(|w| w.0.key > p) {
            let Some(Waiting(mut e)) = self.heap.pop() else {
                break;
            };
            let hf = self.health(&e, p);
            if hf >= 1.0 {
                self.healthy.push(e);
                continue;
            }
            self.arrive(&mut e, hf);
            self.back.push(e);
        }
        self.heap.extend(self.healthy.drain(..).map(Waiting));
    }

    /// Puts each part of the queue in order of health at the price now, the round's opening.
    fn order(&mut self) {
        let p = self.bids.spot;
        for k in 0..self.kept.len() {
            self.kept[k].key = self.health(&self.kept[k], p);
        }
        self.kept.sort_by(by_health);
        self.back.sort_by(by_health);
        if !self.in_order {
            self.fresh.entries[self.range.clone()].sort_by(by_health);
        }
    }

    /// The next account of the merged queue, if any.
    #[inline]
    fn next(&mut self, kept: &mut usize, back: &mut usize) -> Option<Entry> {
        let fresh = (!self.range.is_empty()).then(|| self.fresh.entries[self.range.start]);
        let mut pick = fresh;
        let mut from = 0;
        for (src, cand) in [(1, self.kept.get(*kept)), (2, self.back.get(*back))] {
            if let Some(&c) = cand
                && pick.is_none_or(|x| by_health(&c, &x).is_lt())
            {
                (pick, from) = (Some(c), src);
            }
        }
        match from {
            0 => self.range.start += usize::from(pick.is_some()),
            1 => *kept += 1,
            _ => *back += 1,
        }
        pick
    }

    /// One round: serves the queue in order, each account at the price its predecessors'
    /// sales left. Returns the number of liquidations.
    fn serve(
        &mut self,
        step: u32,
        round: u32,
        on_liquidation: &mut impl FnMut(&Liquidation),
    ) -> u64 {
        let (mut kept, mut back, mut liquidations) = (0, 0, 0);
        while let Some(mut e) = self.next(&mut kept, &mut back) {
            let p = self.bids.spot;
            let hf = self.health(&e, p);
            if hf < 1.0 {
                let (repaid, seized, fee) = liquidation(e.c, e.d, p, hf, self.m);
                let (c0, d0) = (e.c, e.d);
                e.d = clear_dust(d0 - repaid, d0);
                e.c = clear_dust(c0 - seized, c0);
                if seized - fee > 0.0 {
                    self.bids.sell(seized - fee);
                }
                let mut bad_debt = 0.0;
                if e.d > 0.0 && e.c == 0.0 {
                    // The v3.3 deficit write-off.
                    (bad_debt, e.d) = (e.d, 0.0);
                    self.bad_debt += bad_debt;
                }
                on_liquidation(&Liquidation {
                    step,
                    round,
                    account: e.id,
                    repaid,
                    seized,
                    price_after: self.bids.spot,
                    bad_debt,
                });
                liquidations += 1;
                if e.d > 0.0 && self.health(&e, self.bids.spot) < 1.0 {
                    self.next_kept.push(e); // served again next round
                    continue;
                }
            }
            if e.c > 0.0 && e.d > 0.0 {
                // Healthy (again): it waits for the price to fall below its new τ.
                e.key = e.d / (e.c * self.m.threshold);
                self.heap.push(Waiting(e));
            }
        }
        self.kept.clear();
        self.back.clear();
        std::mem::swap(&mut self.kept, &mut self.next_kept);
        liquidations
    }
}

/// Runs the cascade of `m` over the accounts (`collateral` and `debt` units) to quiet, calling
/// `on_liquidation` for each liquidation in order.
pub fn run(
    collateral: &[f64],
    debt: &[f64],
    m: &Market,
    mut on_liquidation: impl FnMut(&Liquidation),
) -> Totals {
    let mut c = Cascade::new(collateral, debt, m);
    let mut totals = Totals {
        liquidations: 0,
        bad_debt: 0.0,
        price: c.bids.spot,
        steps: 0,
    };
    for step in 0..=MAX_EXTRA_STEPS {
        let mut liquidations = 0;
        let mut round = 0;
        loop {
            c.hand_over();
            if round >= m.max_rounds_per_step {
                break; // the queue waits for the next step
            }
            let attempted = c.queued();
            c.order();
            let done = c.serve(step, round, &mut on_liquidation);
            liquidations += done;
            if attempted || done > 0 {
                round += 1;
            }
            if done == 0 {
                break;
            }
        }
        totals.liquidations += liquidations;
        totals.steps = step + 1;
        if liquidations == 0 && !c.queued() {
            break;
        }
    }
    totals.bad_debt = c.bad_debt;
    totals.price = c.bids.spot;
    totals
}
