//! Perpetual-futures margin mechanics (MECHANICS §6): maintenance-margin brackets, liquidation
//! and bankruptcy prices, the insurance-fund settlement of a liquidation fill, and the ADL
//! ranking scores on one position, and the [`Exchange`] that runs them in the step loop: margin
//! pools (cross accounts, isolated positions), liquidation orders on the perp book, the
//! insurance fund, auto-deleveraging and the backstop vault.

mod adl;
mod bankrupt;
mod collateral;
mod manual;
mod owners;
pub mod rules;
mod seller;
mod table;
mod trigger;

pub use rules::*;

use crate::error::{self, Error, Result};
use crate::family::shared::Shared;
use crate::fill::Side;
use crate::recorder::EventKind;
use bankrupt::bankrupt_prefix;
use collateral::Held;
use trigger::{Placement, PoolIndex, Threshold};
/// A perp exchange in the step loop: markets, margin pools, positions, the insurance fund, ADL
/// and the backstop vault (MECHANICS §6).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    cfg: ExchangeConfig,
    fund: f64,
    // Pools (SoA). Positions of pool p are pos[offsets[p]..offsets[p + 1]].
    owner: Vec<u32>,
    cross: Vec<bool>,
    wallet: Vec<f64>,
    offsets: Vec<u32>,
    status: Vec<PoolStatus>,
    cooldown_until: Vec<f64>,
    partial_done: Vec<bool>,
    // Positions (SoA), in pool order; `row` is the caller's row.
    market: Vec<u32>,
    size: Vec<f64>,
    entry: Vec<f64>,
    row: Vec<u32>,
    pool_of: Vec<u32>,
    liquidated_qty: Vec<f64>,
    adl_qty: Vec<f64>,
    pnl: Vec<f64>,
    // Scratch per round: the ADL rankings.
    ranking: Vec<Option<Vec<u32>>>,
    cursor: Vec<usize>,
    backstop_size: Vec<f64>,
    backstop_cost: Vec<f64>,
    /// Positions the exchange took itself when nobody else could (per market, size and cost).
    absorbed_size: Vec<f64>,
    absorbed_cost: Vec<f64>,
    unresolved: Vec<f64>,
    ledger: PerpLedger,
    /// Which pools a round tests (see [`trigger`]).
    index: Box<PoolIndex>,
    /// Pools that were given a partial-liquidation cooldown (for [`Self::cooling`]).
    cooled: Vec<u32>,
    /// Margin assets the pools hold, by pool (see [`collateral`]); empty on a quote-only
    /// exchange.
    held: Vec<Held>,
}

crate::reuse::clone_reusing!(Exchange {
    cfg,
    fund,
    owner,
    cross,
    wallet,
    offsets,
    status,
    cooldown_until,
    partial_done,
    market,
    size,
    entry,
    row,
    pool_of,
    liquidated_qty,
    adl_qty,
    pnl,
    ranking,
    cursor,
    backstop_size,
    backstop_cost,
    absorbed_size,
    absorbed_cost,
    unresolved,
    ledger,
    index,
    cooled,
    held,
});

impl Exchange {
    pub fn new(cfg: ExchangeConfig, rows: &PositionRows) -> Result<Self> {
        if cfg.markets.is_empty() {
            return Err(Error::Empty {
                field: "markets".to_owned(),
            });
        }
        if cfg.fee_rate.is_nan() || cfg.fee_rate < 0.0 {
            return Err(Error::Negative {
                field: "fee_rate".to_owned(),
                value: cfg.fee_rate,
            });
        }
        error::non_negative("insurance_fund", cfg.insurance_fund)?;
        error::finite("insurance_fund", cfg.insurance_fund)?;
        if let Some(p) = cfg.partial {
            error::non_negative("partial.threshold", p.threshold)?;
            error::in_range("partial.fraction", p.fraction, 0.0, 1.0, false, "in (0, 1]")?;
            if p.fraction <= 0.0 {
                return Err(Error::NotPositive {
                    field: "partial.fraction".to_owned(),
                    value: p.fraction,
                });
            }
            error::non_negative("partial.cooldown", p.cooldown)?;
        }
        for (k, m) in cfg.margin_assets.iter().enumerate() {
            let field = format!("margin_assets[{k}].ratio");
            error::in_range(&field, m.ratio, 0.0, 1.0, false, "in (0, 1]")?;
            if m.ratio <= 0.0 {
                return Err(Error::NotPositive {
                    field,
                    value: m.ratio,
                });
            }
            if cfg.markets.iter().any(|mk| mk.asset == m.asset) {
                return Err(Error::OutOfRange {
                    field: format!("margin_assets[{k}].asset"),
                    value: f64::from(m.asset),
                    expected: "a spot asset, not one of the exchange's markets",
                });
            }
            if cfg.margin_assets[..k].iter().any(|o| o.asset == m.asset) {
                return Err(Error::OutOfRange {
                    field: format!("margin_assets[{k}].asset"),
                    value: f64::from(m.asset),
                    expected: "an asset no other margin asset of the exchange names",
                });
            }
        }
        for (k, m) in cfg.markets.iter().enumerate() {
            if cfg.markets[..k].iter().any(|o| o.asset == m.asset) {
                return Err(Error::OutOfRange {
                    field: format!("markets[{k}].asset"),
                    value: f64::from(m.asset),
                    expected: "an asset no other market of the exchange trades as",
                });
            }
        }
        let n = rows.account.len();
        for (name, len) in [
            ("market", rows.market.len()),
            ("size", rows.size.len()),
            ("entry_price", rows.entry.len()),
            ("margin", rows.margin.len()),
            ("cross", rows.cross.len()),
            (
                "margin_asset",
                if rows.margin_asset.is_empty() {
                    n
                } else {
                    rows.margin_asset.len()
                },
            ),
        ] {
            if len != n {
                return Err(Error::LengthMismatch {
                    field: name.to_owned(),
                    got: len,
                    other: "account".to_owned(),
                    expected: n,
                });
            }
        }
        for r in 0..n {
            let m = rows.market[r];
            if m as usize >= cfg.markets.len() {
                return Err(Error::OutOfRange {
                    field: format!("market[{r}]"),
                    value: f64::from(m),
                    expected: "an index into the exchange's markets",
                });
            }
            let (s, entry, margin) = (rows.size[r], rows.entry[r], rows.margin[r]);
            let fine = s.is_finite()
                && s != 0.0
                && entry.is_finite()
                && entry > 0.0
                && margin.is_finite()
                && margin >= 0.0;
            if !fine {
                // The named error (a field name is formatted only for a row that fails: formatting
                // one per row took a third of a 200,000-position run).
                error::finite(&format!("size[{r}]"), s)?;
                if s == 0.0 {
                    return Err(Error::OutOfRange {
                        field: format!("size[{r}]"),
                        value: s,
                        expected: "non-zero (signed: + long, − short)",
                    });
                }
                error::positive(&format!("entry_price[{r}]"), entry)?;
                error::non_negative(&format!("margin[{r}]"), margin)?;
            }
        }
        for (r, &k) in rows.margin_asset.iter().enumerate() {
            if k == QUOTE_MARGIN {
                continue;
            }
            if k as usize >= cfg.margin_assets.len() {
                return Err(Error::OutOfRange {
                    field: format!("margin_asset[{r}]"),
                    value: f64::from(k),
                    expected: "an index into the exchange's margin_assets",
                });
            }
            if !rows.cross[r] {
                return Err(Error::OutOfRange {
                    field: format!("margin_asset[{r}]"),
                    value: f64::from(k),
                    expected: "the quote for an isolated position (margin assets are cross \
                               margin, as Binance's Multi-Assets Mode)",
                });
            }
        }
        // Pools: one per cross account, one per isolated row, ordered by first appearance.
        // By (account, cross first, row): a cross account's rows stay in row order; the row
        // makes the key total, so an unstable sort gives the stable sort's order.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by_key(|&r| (rows.account[r], !rows.cross[r], r));
        let mut ex = Exchange {
            fund: cfg.insurance_fund,
            ledger: PerpLedger {
                fund_initial: cfg.insurance_fund,
                ..PerpLedger::default()
            },
            ranking: vec![None; 2 * cfg.markets.len()],
            cursor: vec![0; 2 * cfg.markets.len()],
            backstop_size: vec![0.0; cfg.markets.len()],
            backstop_cost: vec![0.0; cfg.markets.len()],
            absorbed_size: vec![0.0; cfg.markets.len()],
            absorbed_cost: vec![0.0; cfg.markets.len()],
            unresolved: vec![0.0; n],
            cfg,
            // At most one pool per row: room for all of them, so that none grows by copying.
            owner: Vec::with_capacity(n),
            cross: Vec::with_capacity(n),
            wallet: Vec::with_capacity(n),
            offsets: Vec::with_capacity(n + 1),
            status: Vec::with_capacity(n),
            cooldown_until: Vec::with_capacity(n),
            partial_done: Vec::with_capacity(n),
            market: Vec::with_capacity(n),
            size: Vec::with_capacity(n),
            entry: Vec::with_capacity(n),
            row: Vec::with_capacity(n),
            pool_of: Vec::with_capacity(n),
            liquidated_qty: vec![0.0; n],
            adl_qty: vec![0.0; n],
            pnl: vec![0.0; n],
            index: Box::default(),
            cooled: Vec::new(),
            held: Vec::new(),
        };
        ex.offsets.push(0);
        ex.ledger.collateral = vec![CollateralUnits::default(); ex.cfg.margin_assets.len()];
        let mut k = 0;
        while k < order.len() {
            let r0 = order[k];
            let mut end = k + 1;
            if rows.cross[r0] {
                while end < order.len()
                    && rows.cross[order[end]]
                    && rows.account[order[end]] == rows.account[r0]
                {
                    end += 1;
                }
            }
            let pool = ex.owner.len() as u32;
            let mut wallet = 0.0;
            for (j, &r) in order[k..end].iter().enumerate() {
                if order[k..k + j]
                    .iter()
                    .any(|&o| rows.market[o] == rows.market[r])
                {
                    return Err(Error::OutOfRange {
                        field: format!("market[{r}]"),
                        value: f64::from(rows.market[r]),
                        expected: "one cross position per account and market",
                    });
                }
                match rows.margin_asset.get(r) {
                    Some(&k) if k != QUOTE_MARGIN => ex.hold(pool, k, rows.margin[r]),
                    _ => wallet += rows.margin[r],
                }
                ex.market.push(rows.market[r]);
                ex.size.push(rows.size[r]);
                ex.entry.push(rows.entry[r]);
                ex.row.push(r as u32);
                ex.pool_of.push(pool);
            }
            ex.owner.push(rows.account[r0]);
            ex.cross.push(rows.cross[r0]);
            ex.wallet.push(wallet);
            ex.offsets.push(ex.market.len() as u32);
            ex.status.push(PoolStatus::Active);
            ex.cooldown_until.push(f64::NEG_INFINITY);
            ex.partial_done.push(false);
            k = end;
        }
        Ok(ex)
    }

    /// Number of positions.
    pub fn positions(&self) -> usize {
        self.size.len()
    }
    pub fn config(&self) -> &ExchangeConfig {
        &self.cfg
    }
    pub fn insurance_fund(&self) -> f64 {
        self.fund
    }
    pub fn ledger(&self) -> &PerpLedger {
        &self.ledger
    }
    /// Net position and cost basis (Σ size·entry) of the backstop vault per market.
    pub fn backstop(&self) -> (&[f64], &[f64]) {
        (&self.backstop_size, &self.backstop_cost)
    }
    /// Net position and cost basis the exchange took itself at bankruptcy prices per market.
    pub fn absorbed(&self) -> (&[f64], &[f64]) {
        (&self.absorbed_size, &self.absorbed_cost)
    }
    /// Wallets of the margin pools (quote), in pool order.
    pub fn wallets(&self) -> &[f64] {
        &self.wallet
    }
    /// Units of each margin asset (the config's `margin_assets` order) the pools hold now.
    pub fn collateral_held(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.cfg.margin_assets.len()];
        for h in &self.held {
            out[h.k as usize] += h.units;
        }
        out
    }
    /// Whether a pool waits out a partial-liquidation cooldown at time `now`.
    pub fn cooling(&self, now: f64) -> bool {
        // Only pools that were ever given a cooldown can be waiting one out.
        self.cooled.iter().any(|&p| {
            let p = p as usize;
            matches!(self.status[p], PoolStatus::Active | PoolStatus::Liquidated)
                && self.cooldown_until[p] > now
        })
    }

    pub(crate) fn check(&self, n_assets: usize) -> Result<()> {
        for (k, m) in self.cfg.markets.iter().enumerate() {
            if m.asset as usize >= n_assets {
                return Err(Error::OutOfRange {
                    field: format!("markets[{k}].asset"),
                    value: f64::from(m.asset),
                    expected: "an index into the scenario's assets",
                });
            }
        }
        for (k, m) in self.cfg.margin_assets.iter().enumerate() {
            if m.asset as usize >= n_assets {
                return Err(Error::OutOfRange {
                    field: format!("margin_assets[{k}].asset"),
                    value: f64::from(m.asset),
                    expected: "an index into the scenario's assets",
                });
            }
        }
        Ok(())
    }

    #[inline]
    fn asset(&self, j: usize) -> usize {
        self.cfg.markets[self.market[j] as usize].asset as usize
    }

    /// Books the close of `q` units of position `j` of pool `p` that realised `realized`: the
    /// pool's wallet, the position's size and PnL, and the ledger (the callers price the close:
    /// a fill, the bankruptcy price, a manual price).
    #[inline]
    fn book_close(&mut self, p: usize, j: usize, q: f64, realized: f64) {
        self.index.touch(p);
        self.wallet[p] += realized;
        self.size[j] = shrink(self.size[j], q);
        self.pnl[j] += realized;
        self.ledger.realized_pnl += realized;
    }

    #[inline]
    fn pos_mm(&self, j: usize, px: &[f64]) -> f64 {
        let m = &self.cfg.markets[self.market[j] as usize];
        m.brackets
            .maintenance_margin(self.size[j].abs() * px[m.asset as usize])
    }

    /// Equity and maintenance margin of pool `p` at the oracle prices `px`.
    fn pool_state(&self, p: usize, px: &[f64]) -> (f64, f64) {
        let mut e = self.wallet[p];
        if !self.held.is_empty() {
            e += self.held_value(p, px);
        }
        let mut mm = 0.0;
        for j in self.offsets[p] as usize..self.offsets[p + 1] as usize {
            let s = self.size[j];
            if s == 0.0 {
                continue;
            }
            let mark = px[self.asset(j)];
            e += s * (mark - self.entry[j]);
            mm += self.pos_mm(j, px);
        }
        (e, mm)
    }

    /// How the trigger index follows pool `p`: by the liquidation price of its one open
    /// position (MECHANICS §6.1, [`Position::liquidation_price`] with the pool's wallet as its
    /// margin), or by a test every round.
    fn placement(&self, p: usize) -> Placement {
        if matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped) {
            return Placement::None;
        }
        if !self.held.is_empty() && self.holds_assets(p) {
            // Its equity moves with its margin assets' prices too.
            return Placement::Always;
        }
        let mut open = (self.offsets[p] as usize..self.offsets[p + 1] as usize)
            .filter(|&j| self.size[j] != 0.0);
        let (Some(j), None) = (open.next(), open.next()) else {
            // Several markets, or none left (an empty pool is breached by a negative wallet).
            return Placement::Always;
        };
        let s = self.size[j];
        let m = self.market[j];
        let position = Position {
            side: s.signum(),
            qty: s.abs(),
            entry: self.entry[j],
            margin: self.wallet[p],
        };
        let price = position.trigger_price(&self.cfg.markets[m as usize].brackets);
        if !price.is_finite() {
            return Placement::Always;
        }
        // Handed over within a band of the root: relative to the price, and to the entry for
        // the equity's own rounding (one ulp of q·entry, large against a price near zero).
        let slack = trigger::BAND * (price.abs() + self.entry[j]);
        Placement::Single(Threshold {
            market: m,
            long: s > 0.0,
            price: if s > 0.0 {
                price + slack
            } else {
                price - slack
            },
        })
    }

    #[inline]
    fn breached(&self, e: f64, mm: f64) -> bool {
        if mm > 0.0 {
            match self.cfg.trigger {
                Trigger::Below => e < mm,
                Trigger::AtOrBelow => e <= mm,
            }
        } else {
            // Without maintenance margin (MMR 0) the margin ratio is infinite once equity is
            // negative (§6.1); an empty pool has none.
            e < 0.0
        }
    }

    /// One round (MECHANICS §6.3–6.5): every breached pool, worst margin ratio first, is taken
    /// over by the backstop (equity < 2/3·MM, when enabled) or sends its liquidation orders to
    /// the perp book; what the fund cannot cover or the book cannot fill is deleveraged.
    fn round_pools(&mut self, sh: &mut Shared, id: u32, round: u32) -> bool {
        let now = sh.now();
        let mut found: Vec<(f64, u32)> = Vec::new();
        // The pools that can be breached (their mark reached their liquidation price, they
        // changed, or they span several markets), each tested by the rule itself: the breached
        // pools of a scan of every pool, found at the cost of those that moved.
        let mut index = std::mem::take(&mut self.index);
        let markets = self.cfg.markets.len();
        let candidates = index.candidates(
            self.owner.len(),
            markets,
            |m| sh.px[self.cfg.markets[m].asset as usize],
            |p| self.placement(p),
        );
        for &p in &candidates {
            let p = p as usize;
            if matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped) {
                index.release(p, Placement::None);
                continue;
            }
            let (e, mm) = self.pool_state(p, &sh.px);
            if self.breached(e, mm) || (!self.held.is_empty() && self.awaits_cover(p)) {
                // Worst first: the lowest equity per unit of MM (a pool without MM, bankrupt,
                // goes first).
                let key = if mm > 0.0 { e / mm } else { f64::NEG_INFINITY };
                found.push((key, p as u32));
            } else {
                index.release(p, self.placement(p));
            }
        }
        index.compact(candidates);
        self.index = index;
        #[cfg(debug_assertions)]
        {
            // The index's promise, checked against a scan of every pool in debug builds (every
            // `cargo test`, the fuzzers): the same breached pools.
            let mut got: Vec<u32> = found.iter().map(|f| f.1).collect();
            got.sort_unstable();
            let want: Vec<u32> = (0..self.owner.len() as u32)
                .filter(|&p| {
                    let p = p as usize;
                    !matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped) && {
                        let (e, mm) = self.pool_state(p, &sh.px);
                        self.breached(e, mm) || self.awaits_cover(p)
                    }
                })
                .collect();
            debug_assert_eq!(got, want, "the trigger index and a full scan disagree");
        }
        self.ranking.iter_mut().for_each(|r| *r = None);
        self.cursor.iter_mut().for_each(|c| *c = 0);
        if found.is_empty() {
            return false;
        }
        // A total order (ties by pool): the unstable sort gives the stable one's result.
        found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut acted = false;
        for &(_, p) in &found {
            let p = p as usize;
            let (e, mm) = self.pool_state(p, &sh.px);
            if !self.breached(e, mm) && (self.held.is_empty() || !self.awaits_cover(p)) {
                continue;
            }
            if self.cooldown_until[p] <= now {
                acted |= self.liquidate(sh, id, round, p);
            }
            // §6.5: below 2/3 of MM without a successful book liquidation (the orders left
            // the pool open, or it waits out a cooldown), the backstop vault takes over.
            if self.cfg.backstop && self.is_open(p) {
                let (e, mm) = self.pool_state(p, &sh.px);
                if e < mm * (2.0 / 3.0) {
                    self.take_over(sh, id, round, p, e);
                    acted = true;
                }
            }
        }
        acted
    }

    /// Whether pool `p` still holds a position.
    fn is_open(&self, p: usize) -> bool {
        (self.offsets[p] as usize..self.offsets[p + 1] as usize).any(|j| self.size[j] != 0.0)
    }

    /// Position `j`'s share of its pool's equity `e` (MM `mm`), which sets its bankruptcy price
    /// `mark − e·share/s`. A surplus is shared by maintenance margin; a deficit by the positions'
    /// own losses, so a position is never closed below its own entry because another one lost
    /// (and a bankruptcy price stays positive).
    fn share(&self, p: usize, j: usize, px: &[f64], e: f64, mm: f64) -> f64 {
        let range = self.offsets[p] as usize..self.offsets[p + 1] as usize;
        if range.len() == 1 {
            // The pool's one position (every isolated pool) has all of it: each rule below is
            // a number over itself, exactly 1.
            return 1.0;
        }
        if e < 0.0 {
            let loss = |k: usize| {
                let s = self.size[k];
                (-(s * (px[self.asset(k)] - self.entry[k]))).max(0.0)
            };
            let total: f64 = range.clone().map(loss).sum();
            if total > 0.0 {
                return loss(j) / total;
            }
        }
        if mm > 0.0 {
            self.pos_mm(j, px) / mm
        } else {
            let open = range.filter(|&k| self.size[k] != 0.0).count().max(1);
            1.0 / open as f64
        }
    }

    /// The backstop vault takes the pool's positions and wallet without a trade (§6.5).
    fn take_over(&mut self, sh: &mut Shared, id: u32, round: u32, p: usize, equity: f64) {
        self.index.touch(p);
        let range = self.offsets[p] as usize..self.offsets[p + 1] as usize;
        let mut first = true;
        for j in range {
            let s = self.size[j];
            if s == 0.0 {
                continue;
            }
            let a = self.asset(j);
            let m = self.market[j] as usize;
            self.backstop_size[m] += s;
            self.backstop_cost[m] += s * self.entry[j];
            self.size[j] = 0.0;
            self.liquidated_qty[j] += s.abs();
            sh.count_liquidation(a, s.abs() * sh.px[a]);
            let mut ev = sh.event(round, EventKind::Backstop, id, self.owner[p], a);
            ev.qty = s.abs();
            ev.notional = s.abs() * sh.px[a];
            if first {
                // The equity the vault takes over (negative: a loss it absorbs).
                ev.realized_pnl = equity;
                ev.collateral_seized = self.wallet[p];
                first = false;
            }
            sh.events.push(&ev);
        }
        self.ledger.backstop_wallet += self.wallet[p];
        self.wallet[p] = 0.0;
        self.hand_over_assets(p);
        self.status[p] = PoolStatus::Backstopped;
    }

    /// Book liquidation of pool `p`: each open position (largest MM first) sends a market order
    /// for the whole position or a partial slice.
    fn liquidate(&mut self, sh: &mut Shared, id: u32, round: u32, p: usize) -> bool {
        self.index.touch(p);
        let range = self.offsets[p] as usize..self.offsets[p + 1] as usize;
        // One position (every isolated pool) needs no order, nor a vector to hold it; several
        // go largest maintenance margin first.
        let one: [(f64, usize); 1];
        let mut several: Vec<(f64, usize)>;
        let order: &[(f64, usize)] = if range.len() == 1 {
            one = [(0.0, range.start)];
            &one[..usize::from(self.size[range.start] != 0.0)]
        } else {
            several = range
                .filter(|&j| self.size[j] != 0.0)
                .map(|j| (self.pos_mm(j, &sh.px), j))
                .collect();
            several.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            &several
        };
        let mut acted = false;
        let mut sliced = false;
        for &(_, j) in order {
            let s = self.size[j];
            let a = self.asset(j);
            let notional = s.abs() * sh.px[a];
            let q = match self.cfg.partial {
                Some(r) if notional > r.threshold && (r.repeat || !self.partial_done[p]) => {
                    sliced = true;
                    s.abs() * r.fraction
                }
                _ => s.abs(),
            };
            acted |= self.close(sh, id, round, p, j, q);
        }
        if sliced {
            self.partial_done[p] = true;
            if let Some(r) = self.cfg.partial {
                if self.cooldown_until[p] == f64::NEG_INFINITY {
                    self.cooled.push(p as u32); // its first cooldown
                }
                self.cooldown_until[p] = sh.now() + r.cooldown;
            }
        }
        if !self.held.is_empty() && !self.held(p).is_empty() {
            // Margin assets cover a negative wallet (Binance's auto exchange).
            acted |= self.cover_wallet(sh, id, round, p);
        }
        if acted {
            self.status[p] = PoolStatus::Liquidated;
        }
        if !self.is_open(p) {
            self.close_pool(p);
        }
        acted
    }

    /// Closes `q` of position `j` of pool `p` by a market order (MECHANICS §6.3): the largest
    /// prefix whose deficit the fund can pay executes on the book; the rest is deleveraged at
    /// the bankruptcy price. The position's bankruptcy price is where its share of the pool's
    /// equity (by maintenance margin) is zero.
    fn close(&mut self, sh: &mut Shared, id: u32, round: u32, p: usize, j: usize, q: f64) -> bool {
        self.index.touch(p);
        let s = self.size[j];
        let side = s.signum();
        let a = self.asset(j);
        let mark = sh.px[a];
        let (e, mm) = self.pool_state(p, &sh.px);
        let bp = mark - e * self.share(p, j, &sh.px, e, mm) / s;
        let order_side = if side > 0.0 { Side::Sell } else { Side::Buy };
        let deficit = |f: &crate::fill::Fill| side * (f.filled * bp - f.notional);
        let full = sh.market.quote(a, order_side, q);
        let fund = self.fund;
        let x = if deficit(&full) <= fund {
            full.filled
        } else {
            bankrupt_prefix(full.filled, |x| {
                deficit(&sh.market.quote(a, order_side, x)) <= fund
            })
        };
        let mut acted = false;
        if x > 0.0 {
            let before = sh.market.spot(a);
            let fill = sh.trade(a, order_side, x);
            let filled = fill.filled;
            let n = fill.notional;
            let realized = side * (n - filled * self.entry[j]);
            self.book_close(p, j, filled, realized);
            self.liquidated_qty[j] += filled;
            self.ledger.venue_quote_out += side * n;
            sh.count_liquidation(a, filled * mark);
            let st = settle(side, filled, bp, n, self.cfg.fee_rate);
            let mut ev = sh.event(round, EventKind::PerpLiquidation, id, self.owner[p], a);
            ev.qty = filled;
            ev.notional = n;
            ev.price_before = before;
            ev.price_after = sh.market.spot(a);
            ev.realized_pnl = realized;
            if st.fund_change >= 0.0 {
                self.fund += st.fund_change;
                self.wallet[p] -= st.fund_change;
                self.ledger.fees += st.fund_change;
                ev.insurance_change = st.fund_change;
                sh.events.push(&ev);
            } else {
                let paid = -st.fund_change;
                sh.events.push(&ev);
                self.fund = (self.fund - paid).max(0.0);
                self.wallet[p] += paid;
                self.ledger.deficits += paid;
                let mut pay = sh.event(round, EventKind::InsurancePayment, id, self.owner[p], a);
                pay.insurance_change = -paid;
                sh.events.push(&pay);
            }
            acted = true;
        }
        let rest = q - x.min(q);
        let rest = if rest <= 1e-12 * q { 0.0 } else { rest };
        // With a backstop vault the rest waits for it (§6.5); otherwise it is deleveraged.
        if rest > 0.0 && !self.cfg.backstop {
            acted |= self.deleverage(sh, id, round, p, j, rest, bp);
        }
        acted
    }
}

/// `s` reduced towards zero by `by` (≤ |s|), with float residue cleared.
#[inline]
pub(super) fn shrink(s: f64, by: f64) -> f64 {
    let left = s.abs() - by;
    if left <= 1e-12 * s.abs() {
        0.0
    } else {
        s.signum() * left
    }
}
