//! Perpetual-futures margin mechanics (MECHANICS §6): maintenance-margin brackets, liquidation
//! and bankruptcy prices, the insurance-fund settlement of a liquidation fill, and the ADL
//! ranking scores on one position, and the [`Exchange`] that runs them in the step loop: margin
//! pools (cross accounts, isolated positions), liquidation orders on the perp book, the
//! insurance fund, auto-deleveraging and the backstop vault.

use rand::RngExt;

use crate::error::{self, Error, Result};
use crate::family::shared::{Breaches, Budget, ForcedSeller, RoundOutcome, Shared};
use crate::fill::Side;
use crate::recorder::{EventKind, Table, Value, Values, named_enum, table};

/// Maintenance-margin brackets: notional caps (increasing) and their rates (non-decreasing).
/// Bracket n covers `cap_{n−1} < N ≤ cap_n`; the last cap may be infinite.
#[derive(Debug, Clone, PartialEq)]
pub struct Brackets {
    caps: Vec<f64>,
    mmr: Vec<f64>,
    /// Maintenance amounts: `cum_1 = 0`, `cum_n = cap_{n−1}·(MMR_n − MMR_{n−1}) + cum_{n−1}`, so
    /// that `MM = N·MMR_n − cum_n` is continuous in N.
    cum: Vec<f64>,
}

impl Brackets {
    pub fn new(caps: Vec<f64>, mmr: Vec<f64>) -> Result<Self> {
        if caps.is_empty() {
            return Err(Error::Empty {
                field: "brackets".to_owned(),
            });
        }
        if caps.len() != mmr.len() {
            return Err(Error::LengthMismatch {
                field: "mmr".to_owned(),
                got: mmr.len(),
                other: "caps".to_owned(),
                expected: caps.len(),
            });
        }
        for (n, (&c, &m)) in caps.iter().zip(&mmr).enumerate() {
            if c.is_nan() || c <= 0.0 {
                return Err(Error::NotPositive {
                    field: format!("caps[{n}]"),
                    value: c,
                });
            }
            error::in_range(&format!("mmr[{n}]"), m, 0.0, 1.0, true, "in [0, 1)")?;
            if n > 0 && (c <= caps[n - 1] || m < mmr[n - 1]) {
                return Err(Error::Unsorted {
                    field: "brackets".to_owned(),
                    index: n,
                    value: c,
                    previous: caps[n - 1],
                    order: "increasing in cap and non-decreasing in rate",
                });
            }
        }
        let mut cum = vec![0.0; caps.len()];
        for n in 1..caps.len() {
            cum[n] = caps[n - 1] * (mmr[n] - mmr[n - 1]) + cum[n - 1];
        }
        Ok(Brackets { caps, mmr, cum })
    }

    /// Index of the bracket of notional `n` (the last one above every cap).
    pub fn bracket_of(&self, notional: f64) -> usize {
        self.caps
            .partition_point(|&c| c < notional)
            .min(self.caps.len() - 1)
    }

    pub fn rate(&self, b: usize) -> f64 {
        self.mmr[b]
    }

    pub fn amount(&self, b: usize) -> f64 {
        self.cum[b]
    }

    /// `MM = N·MMR_n − cum_n` for the bracket of N.
    pub fn maintenance_margin(&self, notional: f64) -> f64 {
        let b = self.bracket_of(notional);
        notional * self.mmr[b] - self.cum[b]
    }
}

/// An isolated position: `side` +1 long / −1 short, `qty` units (> 0), entry price, margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub side: f64,
    pub qty: f64,
    pub entry: f64,
    pub margin: f64,
}

impl Position {
    /// Equity at `mark`: margin + side·qty·(mark − entry).
    pub fn equity(&self, mark: f64) -> f64 {
        self.margin + self.side * self.qty * (mark - self.entry)
    }

    /// Price at which equity is zero: `EP − side·M/Q`.
    pub fn bankruptcy_price(&self) -> f64 {
        self.entry - self.side * self.margin / self.qty
    }

    /// Binance's isolated one-way liquidation price, where equity equals the maintenance margin,
    /// `long (Q·EP − M − cum)/(Q(1 − MMR))`, `short (Q·EP + M + cum)/(Q(1 + MMR))`, solved per
    /// bracket and kept where `Q·LP` falls inside that bracket (exactly one does).
    pub fn liquidation_price(&self, brackets: &Brackets) -> f64 {
        let q = self.qty;
        let solve = |b: usize| {
            (q * self.entry - self.side * (self.margin + brackets.amount(b)))
                / (q * (1.0 - self.side * brackets.rate(b)))
        };
        let n = brackets.caps.len();
        for b in 0..n {
            let lp = solve(b);
            if lp > 0.0 && brackets.bracket_of(q * lp) == b {
                return lp;
            }
        }
        // Equity never meets MM at a positive price (an over-collateralised long): no liquidation.
        0.0_f64.max(solve(brackets.bracket_of(q * self.entry)))
    }

    /// Liquidatable at `mark` under the engine's rule: equity < MM (MECHANICS §6.1).
    pub fn is_liquidatable(&self, mark: f64, brackets: &Brackets) -> bool {
        self.equity(mark) < brackets.maintenance_margin(self.qty * mark)
    }
}

/// How a liquidation fill settles against the bankruptcy price (MECHANICS §6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settlement {
    /// Change of the insurance fund: the clearance fee from a surplus, or minus the deficit.
    pub fund_change: f64,
    /// What the trader keeps of a surplus after the fee.
    pub trader_keeps: f64,
}

/// A fill of `qty` for `notional` closing a position of `side` with bankruptcy price `bp`:
/// `deficit = side·(qty·BP − notional)`; a surplus pays the fund `min(surplus, φ·notional)`.
pub fn settle(side: f64, qty: f64, bp: f64, notional: f64, fee_rate: f64) -> Settlement {
    let deficit = side * (qty * bp - notional);
    if deficit > 0.0 {
        Settlement {
            fund_change: -deficit,
            trader_keeps: 0.0,
        }
    } else {
        let surplus = -deficit;
        let fee = surplus.min(fee_rate * notional);
        Settlement {
            fund_change: fee,
            trader_keeps: surplus - fee,
        }
    }
}

/// ADL ranking scores (higher is deleveraged first), MECHANICS §6.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdlRanking {
    /// PnL%·EffLev when in profit, PnL%/EffLev otherwise (BitMEX).
    Bitmex,
    /// max(0, uPnL)/max(1, WB)·MM/(WB + uPnL), 0 when WB + uPnL ≤ 0 (Binance LeveragePnl).
    Binance,
    /// PnL% alone.
    PnlRatio,
    /// Notional.
    Size,
}

/// The score of an isolated position at `mark` (wallet balance = margin).
pub fn adl_score(rule: AdlRanking, p: &Position, mark: f64, brackets: &Brackets) -> f64 {
    let pnl_pct = p.side * (mark - p.entry) / p.entry;
    let notional = p.qty * mark;
    let upnl = p.side * p.qty * (mark - p.entry);
    match rule {
        AdlRanking::Bitmex => {
            let equity = p.equity(mark);
            let eff_lev = if equity > 0.0 {
                notional / equity
            } else {
                f64::INFINITY
            };
            if pnl_pct > 0.0 {
                pnl_pct * eff_lev
            } else {
                pnl_pct / eff_lev
            }
        }
        AdlRanking::Binance => {
            let wb = p.margin;
            if wb + upnl <= 0.0 {
                0.0
            } else {
                upnl.max(0.0) / wb.max(1.0) * brackets.maintenance_margin(notional) / (wb + upnl)
            }
        }
        AdlRanking::PnlRatio => pnl_pct,
        AdlRanking::Size => notional,
    }
}

/// When a margin pool is liquidatable (MECHANICS §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `equity < MM` (Hyperliquid, the engine default).
    Below,
    /// `equity ≤ MM`, margin ratio ≥ 100 % (Binance).
    AtOrBelow,
}

/// How the counterparties of an auto-deleveraging are chosen (MECHANICS §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdlOrder {
    /// Highest score first under a ranking; ties go to the lower account id.
    Ranked(AdlRanking),
    /// dYdX v4: opposite accounts in id order from a seeded pseudo-random start.
    Dydx,
}

/// Partial liquidation (MECHANICS §6.5): a position above `threshold` notional sends only
/// `fraction` of itself to the book, then the account waits `cooldown` seconds. With
/// `repeat = false` (Hyperliquid) the next order takes the whole remainder; with `true` every
/// order is a slice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartialRule {
    pub threshold: f64,
    pub fraction: f64,
    pub cooldown: f64,
    pub repeat: bool,
}

/// One perpetual market of an exchange: the asset it trades as (its venue is the perp book, its
/// oracle the mark price) and its maintenance-margin brackets.
#[derive(Debug, Clone, PartialEq)]
pub struct PerpMarket {
    pub asset: u32,
    pub brackets: Brackets,
}

/// The rules of one perp exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeConfig {
    pub markets: Vec<PerpMarket>,
    /// Clearance fee rate φ on a liquidation fill's notional, taken from the surplus over the
    /// bankruptcy price; infinite takes the whole surplus (BitMEX).
    pub fee_rate: f64,
    pub insurance_fund: f64,
    pub adl: AdlOrder,
    pub partial: Option<PartialRule>,
    /// A backstop vault takes over accounts whose equity falls below 2/3 of their MM.
    pub backstop: bool,
    pub trigger: Trigger,
}

/// Positions as the caller gives them, one row each: `account` (the caller's id), index into
/// the exchange's markets, signed size, entry price, margin, and whether the row is cross
/// margin. Cross rows of one account share one wallet (the sum of their margins); each isolated
/// row is its own margin pool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PositionRows {
    pub account: Vec<u32>,
    pub market: Vec<u32>,
    pub size: Vec<f64>,
    pub entry: Vec<f64>,
    pub margin: Vec<f64>,
    pub cross: Vec<bool>,
}

named_enum! {
    /// State of a margin pool (an account's cross wallet, or one isolated position).
    pub enum PoolStatus {
        Active = 0 => "active",
        /// Partly liquidated or deleveraged, still open.
        Liquidated = 1 => "liquidated",
        /// Every position closed by liquidation.
        Closed = 2 => "closed",
        /// Taken over by the backstop vault.
        Backstopped = 3 => "backstopped",
    }
}

/// Quote flows of an exchange, for the identities of MECHANICS §8.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerpLedger {
    pub fund_initial: f64,
    pub fees: f64,
    pub deficits: f64,
    /// Quantity of bankrupt orders left unfilled and sent to ADL.
    pub adl_bankrupt_qty: f64,
    /// Quantity counterparties were cut by.
    pub adl_counterparty_qty: f64,
    pub adl_count: u64,
    /// Σ r·BP of the ADL reductions.
    pub adl_notional: f64,
    /// PnL realised by traders (book closes and ADL, both sides).
    pub realized_pnl: f64,
    /// Quote venue makers paid for liquidation sells minus what they received for buys.
    pub venue_quote_out: f64,
    /// Margin of isolated positions returned to the trader's wallet by ADL, and wallets left in
    /// pools that closed.
    pub withdrawn: f64,
    /// Wallet quote the backstop vault took over.
    pub backstop_wallet: f64,
    /// Bankrupt quantity that neither the book, the fund nor ADL took: the exchange took it at
    /// the bankruptcy price.
    pub unresolved_qty: f64,
    /// The exchange's loss on that quantity, marked at the time (also in the engine's bad debt).
    pub bad_debt: f64,
}

/// A position as the positions table reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PositionTable {
    pub account: Vec<u32>,
    pub asset: Vec<u32>,
    pub size: Vec<f64>,
    pub entry: Vec<f64>,
    pub mark: Vec<f64>,
    /// The pool's wallet, equity and maintenance margin (cross: the account's).
    pub wallet: Vec<f64>,
    pub equity: Vec<f64>,
    pub maintenance_margin: Vec<f64>,
    /// Price of this market at which the pool's equity meets its MM (other marks fixed);
    /// NaN for a closed position.
    pub liquidation_price: Vec<f64>,
    /// Price at which the position's share of the pool's equity is zero (other marks fixed:
    /// for an isolated position `EP − M/s`), the price its liquidation settles against; NaN
    /// when closed.
    pub bankruptcy_price: Vec<f64>,
    pub status: Vec<u8>,
    pub liquidated_qty: Vec<f64>,
    pub adl_qty: Vec<f64>,
    /// Quantity the exchange took at the bankruptcy price when nobody else could.
    pub absorbed_qty: Vec<f64>,
    pub realized_pnl: Vec<f64>,
}

/// A perp exchange in the step loop: markets, margin pools, positions, the insurance fund, ADL
/// and the backstop vault (MECHANICS §6).
#[derive(Debug, Clone)]
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
}

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
            let s = rows.size[r];
            error::finite(&format!("size[{r}]"), s)?;
            if s == 0.0 {
                return Err(Error::OutOfRange {
                    field: format!("size[{r}]"),
                    value: s,
                    expected: "non-zero (signed: + long, − short)",
                });
            }
            error::positive(&format!("entry_price[{r}]"), rows.entry[r])?;
            error::non_negative(&format!("margin[{r}]"), rows.margin[r])?;
            error::finite(&format!("margin[{r}]"), rows.margin[r])?;
        }
        // Pools: one per cross account, one per isolated row, ordered by first appearance.
        let mut order: Vec<usize> = (0..n).collect();
        let key = |r: usize| {
            (
                rows.account[r],
                !rows.cross[r],
                if rows.cross[r] { 0 } else { r },
            )
        };
        order.sort_by_key(|&r| key(r));
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
            owner: Vec::new(),
            cross: Vec::new(),
            wallet: Vec::new(),
            offsets: vec![0],
            status: Vec::new(),
            cooldown_until: Vec::new(),
            partial_done: Vec::new(),
            market: Vec::with_capacity(n),
            size: Vec::with_capacity(n),
            entry: Vec::with_capacity(n),
            row: Vec::with_capacity(n),
            pool_of: Vec::with_capacity(n),
            liquidated_qty: vec![0.0; n],
            adl_qty: vec![0.0; n],
            pnl: vec![0.0; n],
        };
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
                wallet += rows.margin[r];
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
    /// Whether a pool waits out a partial-liquidation cooldown at time `now`.
    pub fn cooling(&self, now: f64) -> bool {
        self.status
            .iter()
            .zip(&self.cooldown_until)
            .any(|(s, &t)| matches!(s, PoolStatus::Active | PoolStatus::Liquidated) && t > now)
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
        Ok(())
    }

    #[inline]
    fn asset(&self, j: usize) -> usize {
        self.cfg.markets[self.market[j] as usize].asset as usize
    }

    #[inline]
    fn pos_mm(&self, j: usize, px: &[f64]) -> f64 {
        let m = &self.cfg.markets[self.market[j] as usize];
        m.brackets
            .maintenance_margin(self.size[j].abs() * px[m.asset as usize])
    }

    /// Equity and maintenance margin of pool `p` at the oracle prices `px`.
    fn pool_state(&self, p: usize, px: &[f64]) -> (f64, f64) {
        let (mut e, mut mm) = (self.wallet[p], 0.0);
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
        for p in 0..self.owner.len() {
            if matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped) {
                continue;
            }
            let (e, mm) = self.pool_state(p, &sh.px);
            if self.breached(e, mm) {
                // Worst first: the lowest equity per unit of MM (a pool without MM, bankrupt,
                // goes first).
                let key = if mm > 0.0 { e / mm } else { f64::NEG_INFINITY };
                found.push((key, p as u32));
            }
        }
        self.ranking.iter_mut().for_each(|r| *r = None);
        self.cursor.iter_mut().for_each(|c| *c = 0);
        if found.is_empty() {
            return false;
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut acted = false;
        for &(_, p) in &found {
            let p = p as usize;
            let (e, mm) = self.pool_state(p, &sh.px);
            if !self.breached(e, mm) {
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
        self.status[p] = PoolStatus::Backstopped;
    }

    /// Book liquidation of pool `p`: each open position (largest MM first) sends a market order
    /// for the whole position or a partial slice.
    fn liquidate(&mut self, sh: &mut Shared, id: u32, round: u32, p: usize) -> bool {
        let range = self.offsets[p] as usize..self.offsets[p + 1] as usize;
        let mut order: Vec<(f64, usize)> = range
            .filter(|&j| self.size[j] != 0.0)
            .map(|j| (self.pos_mm(j, &sh.px), j))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut acted = false;
        let mut sliced = false;
        for &(_, j) in &order {
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
                self.cooldown_until[p] = sh.now() + r.cooldown;
            }
        }
        let open =
            (self.offsets[p] as usize..self.offsets[p + 1] as usize).any(|j| self.size[j] != 0.0);
        if open {
            if acted {
                self.status[p] = PoolStatus::Liquidated;
            }
        } else {
            self.status[p] = PoolStatus::Closed;
            self.ledger.withdrawn += self.wallet[p];
            self.wallet[p] = 0.0;
        }
        acted
    }

    /// Closes `q` of position `j` of pool `p` by a market order (MECHANICS §6.3): the largest
    /// prefix whose deficit the fund can pay executes on the book; the rest is deleveraged at
    /// the bankruptcy price. The position's bankruptcy price is where its share of the pool's
    /// equity (by maintenance margin) is zero.
    fn close(&mut self, sh: &mut Shared, id: u32, round: u32, p: usize, j: usize, q: f64) -> bool {
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
            // Deficit is convex in the size with deficit(0) = 0: bisect for the largest prefix.
            let (mut lo, mut hi) = (0.0, full.filled);
            for _ in 0..64 {
                let mid = 0.5 * (lo + hi);
                if deficit(&sh.market.quote(a, order_side, mid)) <= fund {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        let mut acted = false;
        if x > 0.0 {
            let before = sh.market.spot(a);
            let fill = sh.trade(a, order_side, x);
            let filled = fill.filled;
            let n = fill.notional;
            let realized = side * (n - filled * self.entry[j]);
            self.wallet[p] += realized;
            self.size[j] = shrink(s, filled);
            self.liquidated_qty[j] += filled;
            self.pnl[j] += realized;
            self.ledger.realized_pnl += realized;
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

    /// Auto-deleveraging of `rest` of position `j` at `bp` against opposite positions of the
    /// same market, down the ranking (MECHANICS §6.4).
    #[allow(clippy::too_many_arguments)]
    fn deleverage(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        p: usize,
        j: usize,
        rest: f64,
        bp: f64,
    ) -> bool {
        let s = self.size[j];
        let side = s.signum();
        let m = self.market[j] as usize;
        let a = self.asset(j);
        let slot = 2 * m + usize::from(side > 0.0);
        if self.ranking[slot].is_none() {
            self.ranking[slot] = Some(self.rank(m, -side, &sh.px));
        }
        let list = self.ranking[slot].take().unwrap_or_default();
        let start = match self.cfg.adl {
            AdlOrder::Dydx if !list.is_empty() => sh.rng.random_range(0..list.len()),
            _ => {
                let mut c = self.cursor[slot];
                while c < list.len() && self.size[list[c] as usize] == 0.0 {
                    c += 1;
                }
                self.cursor[slot] = c;
                c
            }
        };
        let mut left = rest;
        let mut cut_total = 0.0;
        for t in 0..list.len() {
            if left <= 0.0 {
                break;
            }
            let k = list[(start + t) % list.len()] as usize;
            let sk = self.size[k];
            if sk == 0.0 || sk.signum() == side || self.pool_of[k] as usize == p {
                continue;
            }
            let cut = left.min(sk.abs());
            let pk = self.pool_of[k] as usize;
            let realized = sk.signum() * cut * (bp - self.entry[k]);
            if !self.cross[pk] {
                // The closed fraction's margin returns to the trader's wallet (§6.4 Choice).
                let back = self.wallet[pk] * cut / sk.abs();
                self.wallet[pk] -= back;
                self.ledger.withdrawn += back;
            }
            self.wallet[pk] += realized;
            self.size[k] = shrink(sk, cut);
            self.adl_qty[k] += cut;
            self.pnl[k] += realized;
            self.ledger.realized_pnl += realized;
            if self.size[k] == 0.0
                && (self.offsets[pk] as usize..self.offsets[pk + 1] as usize)
                    .all(|i| self.size[i] == 0.0)
            {
                self.status[pk] = PoolStatus::Closed;
                self.ledger.withdrawn += self.wallet[pk];
                self.wallet[pk] = 0.0;
            }
            left -= cut;
            cut_total += cut;
            self.ledger.adl_counterparty_qty += cut;
            self.ledger.adl_count += 1;
            self.ledger.adl_notional += cut * bp;
            let mut ev = sh.event(round, EventKind::Adl, id, self.owner[pk], a);
            ev.qty = cut;
            ev.notional = cut * bp;
            ev.realized_pnl = realized;
            sh.events.push(&ev);
        }
        self.ranking[slot] = Some(list);
        if cut_total > 0.0 {
            // The bankrupt side closes what was matched at BP: its equity share there is zero.
            let realized = side * cut_total * (bp - self.entry[j]);
            self.wallet[p] += realized;
            self.size[j] = shrink(s, cut_total);
            self.adl_qty[j] += cut_total;
            self.pnl[j] += realized;
            self.ledger.realized_pnl += realized;
            self.ledger.adl_bankrupt_qty += cut_total;
            sh.count_liquidation(a, cut_total * sh.px[a]);
        }
        if left > 1e-12 * rest {
            self.absorb(sh, id, round, p, j, left, bp);
        }
        true
    }

    /// What neither the book, the fund nor ADL could take: the exchange itself takes the rest of
    /// the position at the bankruptcy price (the trader's share of equity there is zero) and
    /// carries its loss to the mark, `side·q·(BP − mark)`, as bad debt.
    #[allow(clippy::too_many_arguments)]
    fn absorb(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        p: usize,
        j: usize,
        q: f64,
        bp: f64,
    ) {
        let s = self.size[j];
        let side = s.signum();
        let a = self.asset(j);
        let m = self.market[j] as usize;
        let realized = side * q * (bp - self.entry[j]);
        self.wallet[p] += realized;
        self.size[j] = shrink(s, q);
        self.pnl[j] += realized;
        self.unresolved[j] += q;
        self.ledger.realized_pnl += realized;
        self.ledger.unresolved_qty += q;
        self.absorbed_size[m] += side * q;
        self.absorbed_cost[m] += side * q * bp;
        let loss = (side * q * (bp - sh.px[a])).max(0.0);
        self.ledger.bad_debt += loss;
        sh.cum_bad_debt += loss;
        sh.count_liquidation(a, q * sh.px[a]);
        let mut ev = sh.event(round, EventKind::BadDebt, id, self.owner[p], a);
        ev.qty = q;
        ev.notional = q * bp;
        ev.realized_pnl = realized;
        ev.bad_debt = loss;
        sh.events.push(&ev);
    }

    /// Open positions of market `m` on side `side`, highest ADL priority first.
    fn rank(&self, m: usize, side: f64, px: &[f64]) -> Vec<u32> {
        let mut v: Vec<(f64, u32, u32)> = (0..self.size.len())
            .filter(|&k| self.market[k] as usize == m && self.size[k] * side > 0.0)
            .map(|k| {
                let p = self.pool_of[k] as usize;
                let score = match self.cfg.adl {
                    AdlOrder::Ranked(rule) => self.score(rule, k, px),
                    AdlOrder::Dydx => 0.0,
                };
                (score, self.owner[p], k as u32)
            })
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        v.into_iter().map(|t| t.2).collect()
    }

    /// ADL score of position `k` (§6.4); in a cross pool the position's equity is its share of
    /// the pool's equity by maintenance margin, and Binance's WB, uPnL and MM are the pool's.
    fn score(&self, rule: AdlRanking, k: usize, px: &[f64]) -> f64 {
        let p = self.pool_of[k] as usize;
        let a = self.asset(k);
        let mark = px[a];
        let s = self.size[k];
        let (e, mm) = self.pool_state(p, px);
        let share = self.share(p, k, px, e, mm);
        let pos = Position {
            side: s.signum(),
            qty: s.abs(),
            entry: self.entry[k],
            // Margin such that the position's equity at `mark` is its share of the pool's.
            margin: e * share - s * (mark - self.entry[k]),
        };
        let brackets = &self.cfg.markets[self.market[k] as usize].brackets;
        match rule {
            AdlRanking::Binance => {
                let wb = self.wallet[p];
                let upnl = e - wb;
                if wb + upnl <= 0.0 {
                    0.0
                } else {
                    upnl.max(0.0) / wb.max(1.0) * mm / (wb + upnl)
                }
            }
            _ => adl_score(rule, &pos, mark, brackets),
        }
    }

    /// Every position in the caller's row order, at the oracle prices `px`.
    pub fn table(&self, px: &[f64]) -> PositionTable {
        let n = self.size.len();
        let mut t = PositionTable {
            account: vec![0; n],
            asset: vec![0; n],
            size: vec![0.0; n],
            entry: vec![0.0; n],
            mark: vec![0.0; n],
            wallet: vec![0.0; n],
            equity: vec![0.0; n],
            maintenance_margin: vec![0.0; n],
            liquidation_price: vec![f64::NAN; n],
            bankruptcy_price: vec![f64::NAN; n],
            status: vec![0; n],
            liquidated_qty: vec![0.0; n],
            adl_qty: vec![0.0; n],
            absorbed_qty: vec![0.0; n],
            realized_pnl: vec![0.0; n],
        };
        for j in 0..n {
            let r = self.row[j] as usize;
            let p = self.pool_of[j] as usize;
            let a = self.asset(j);
            let (e, mm) = self.pool_state(p, px);
            t.account[r] = self.owner[p];
            t.asset[r] = a as u32;
            t.size[r] = self.size[j];
            t.entry[r] = self.entry[j];
            t.mark[r] = px[a];
            t.wallet[r] = self.wallet[p];
            t.equity[r] = e;
            t.maintenance_margin[r] = mm;
            t.status[r] = self.status[p] as u8;
            t.liquidated_qty[r] = self.liquidated_qty[j];
            t.adl_qty[r] = self.adl_qty[j];
            t.absorbed_qty[r] = self.unresolved[j];
            t.realized_pnl[r] = self.pnl[j];
            let s = self.size[j];
            if s != 0.0 {
                let mark = px[a];
                let mm_j = self.pos_mm(j, px);
                t.bankruptcy_price[r] = mark - e * self.share(p, j, px, e, mm) / s;
                t.liquidation_price[r] = self.cross_liquidation_price(s, mark, e, mm - mm_j, j);
            }
        }
        t
    }

    /// Binance's general liquidation price for one position with the rest of the pool fixed
    /// (TMM1 = `mm_other`, UPNL1 inside `equity`): solve `E + s(P − mark) = MM_other + |s|·P·MMR_b
    /// − cum_b` per bracket and keep the one where `|s|·P` lies in bracket b. Isolated, this is
    /// [`Position::liquidation_price`].
    fn cross_liquidation_price(
        &self,
        s: f64,
        mark: f64,
        equity: f64,
        mm_other: f64,
        j: usize,
    ) -> f64 {
        let br = &self.cfg.markets[self.market[j] as usize].brackets;
        let q = s.abs();
        let solve = |b: usize| (equity - s * mark - mm_other + br.amount(b)) / (q * br.rate(b) - s);
        for b in 0..br.caps.len() {
            let lp = solve(b);
            if lp > 0.0 && br.bracket_of(q * lp) == b {
                return lp;
            }
        }
        0.0_f64.max(solve(br.bracket_of(q * mark)))
    }
}

/// `s` reduced towards zero by `by` (≤ |s|), with float residue cleared.
#[inline]
fn shrink(s: f64, by: f64) -> f64 {
    let left = s.abs() - by;
    if left <= 1e-12 * s.abs() {
        0.0
    } else {
        s.signum() * left
    }
}

table!(PositionTable {
    account as "account_id",
    asset,
    size,
    entry as "entry_price",
    mark,
    wallet,
    equity,
    maintenance_margin,
    liquidation_price,
    bankruptcy_price,
    status,
    liquidated_qty,
    adl_qty,
    absorbed_qty,
    realized_pnl,
});

impl ForcedSeller for Exchange {
    fn kind(&self) -> &'static str {
        "perps"
    }

    fn check(&self, n_assets: usize) -> Result<()> {
        Exchange::check(self, n_assets)
    }

    fn round(&mut self, sh: &mut Shared, id: u32, round: u32, _: &mut Budget) -> RoundOutcome {
        // The exchange's own liquidation engine: no keeper capital involved.
        RoundOutcome::acted(self.round_pools(sh, id, round))
    }

    fn busy(&self, now: f64) -> bool {
        self.cooling(now)
    }

    fn insurance_fund(&self) -> f64 {
        self.fund
    }

    fn breached_at(&self, prices: &[f64], at: u32, out: &mut Breaches) {
        // The rule of `round_pools`: a pool whose equity at these marks is below its MM.
        for p in 0..self.owner.len() {
            if matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped) {
                continue;
            }
            let (e, mm) = self.pool_state(p, prices);
            if !self.breached(e, mm) {
                continue;
            }
            for j in self.offsets[p] as usize..self.offsets[p + 1] as usize {
                let s = self.size[j];
                if s != 0.0 {
                    out.push(at, self.row[j], 0.0, 0.0, s.abs() * prices[self.asset(j)]);
                }
            }
        }
    }

    fn tables(&self, sh: &Shared) -> Vec<(&'static str, Table)> {
        vec![("positions", self.table(&sh.px).into_table())]
    }

    fn ledger(&self) -> Values {
        let l = &self.ledger;
        vec![
            ("insurance_fund", Value::F64(self.fund)),
            ("fund_initial", Value::F64(l.fund_initial)),
            ("fees", Value::F64(l.fees)),
            ("deficits", Value::F64(l.deficits)),
            ("adl_bankrupt_qty", Value::F64(l.adl_bankrupt_qty)),
            ("adl_counterparty_qty", Value::F64(l.adl_counterparty_qty)),
            ("adl_count", Value::U64(l.adl_count)),
            ("adl_notional", Value::F64(l.adl_notional)),
            ("realized_pnl", Value::F64(l.realized_pnl)),
            ("venue_quote_out", Value::F64(l.venue_quote_out)),
            ("withdrawn", Value::F64(l.withdrawn)),
            ("backstop_wallet", Value::F64(l.backstop_wallet)),
            ("unresolved_qty", Value::F64(l.unresolved_qty)),
            ("bad_debt", Value::F64(l.bad_debt)),
            ("backstop_size", Value::F64s(self.backstop_size.clone())),
            ("backstop_cost", Value::F64s(self.backstop_cost.clone())),
            ("wallets_total", Value::F64(self.wallet.iter().sum())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn brackets() -> Brackets {
        // Worked example 6's brackets: 25,000 / 0.6 %, 150,000 / 1.2 %, 750,000 / 2.5 %,
        // 3,000,000 / 5 %.
        Brackets::new(
            vec![25_000.0, 150_000.0, 750_000.0, 3_000_000.0],
            vec![0.006, 0.012, 0.025, 0.05],
        )
        .unwrap()
    }

    #[test]
    fn maintenance_amounts_worked_example_6() {
        let b = brackets();
        // cum = 0; 25,000·0.006 = 150; 150,000·0.013 + 150 = 2,100; 750,000·0.025 + 2,100 = 20,850
        assert!(close(b.amount(0), 0.0));
        assert!(close(b.amount(1), 150.0));
        assert!(close(b.amount(2), 2_100.0));
        assert!(close(b.amount(3), 20_850.0));
        // MM is continuous at the caps.
        for (cap, lo, hi) in [(25_000.0, 0, 1), (150_000.0, 1, 2), (750_000.0, 2, 3)] {
            let below = cap * b.rate(lo) - b.amount(lo);
            let above = cap * b.rate(hi) - b.amount(hi);
            assert!(close(below, above), "{cap}: {below} vs {above}");
        }
        assert_eq!(b.bracket_of(25_000.0), 0);
        assert_eq!(b.bracket_of(25_000.01), 1);
        assert_eq!(b.bracket_of(1e12), 3);
    }

    #[test]
    fn liquidation_and_bankruptcy_prices_worked_example_6() {
        // Long 3.6 at 58,400, isolated margin 70,080. Bracket 3's price puts Q·LP = 141,600 in
        // bracket 2, so bracket 2's holds: LP = (210,240 − 70,080 − 150)/(3.6·0.988).
        let p = Position {
            side: 1.0,
            qty: 3.6,
            entry: 58_400.0,
            margin: 70_080.0,
        };
        let b = brackets();
        let lp = p.liquidation_price(&b);
        assert!(close(lp, 39_364.035_087_7), "{lp}");
        assert!(close(p.equity(lp), 1_550.526_315_79));
        assert!(close(p.equity(lp), b.maintenance_margin(3.6 * lp)));
        assert!(close(p.bankruptcy_price(), 38_933.333_333_3));
        assert!(p.is_liquidatable(39_364.0, &b));
        assert!(!p.is_liquidatable(39_364.1, &b));
        // A short mirrors it: equity = MM at LP = (Q·EP + M + cum)/(Q(1 + MMR)).
        let s = Position {
            side: -1.0,
            qty: 2.0,
            entry: 50_000.0,
            margin: 20_000.0,
        };
        let lp = s.liquidation_price(&b);
        assert!(close(s.equity(lp), b.maintenance_margin(2.0 * lp)));
        assert!(close(s.bankruptcy_price(), 60_000.0));
    }

    #[test]
    fn settlement_worked_example_6() {
        // Fill 3.6 at 39,150: surplus 3.6·(39,150 − 38,933.33) = 780; fee 0.5 % of 140,940 =
        // 704.7 to the fund, 75.3 to the trader. Fill at 38,800: deficit 480 paid by the fund.
        let bp = 70_080.0f64.mul_add(-1.0 / 3.6, 58_400.0);
        let s = settle(1.0, 3.6, bp, 3.6 * 39_150.0, 0.005);
        assert!(close(s.fund_change, 704.7));
        assert!(close(s.trader_keeps, 75.3));
        let s = settle(1.0, 3.6, bp, 3.6 * 38_800.0, 0.005);
        assert!(close(s.fund_change, -480.0));
        assert_eq!(s.trader_keeps, 0.0);
    }

    #[test]
    fn adl_scores_rank_by_hand() {
        // Two shorts against a bankrupt long at mark 100: A entered at 120 with margin 20 on 1
        // unit (PnL% = 1/6, equity 40, EffLev 100/40 = 2.5 → 0.41667); B entered at 110 with
        // margin 5 on 2 units (PnL% = 1/11, equity 25, EffLev 200/25 = 8 → 0.72727). B first.
        let b = brackets();
        let a = Position {
            side: -1.0,
            qty: 1.0,
            entry: 120.0,
            margin: 20.0,
        };
        let bb = Position {
            side: -1.0,
            qty: 2.0,
            entry: 110.0,
            margin: 5.0,
        };
        let sa = adl_score(AdlRanking::Bitmex, &a, 100.0, &b);
        let sb = adl_score(AdlRanking::Bitmex, &bb, 100.0, &b);
        assert!(close(sa, (1.0 / 6.0) * 2.5));
        assert!(close(sb, (1.0 / 11.0) * 8.0));
        assert!(sb > sa);
        // By PnL ratio A comes first; by size B.
        assert!(
            adl_score(AdlRanking::PnlRatio, &a, 100.0, &b)
                > adl_score(AdlRanking::PnlRatio, &bb, 100.0, &b)
        );
        assert!(
            adl_score(AdlRanking::Size, &bb, 100.0, &b)
                > adl_score(AdlRanking::Size, &a, 100.0, &b)
        );
        // Binance LeveragePnl: uPnL/max(1, WB)·MM/(WB + uPnL); A: 20/20·(100·0.006)/40 = 0.015.
        assert!(close(
            adl_score(AdlRanking::Binance, &a, 100.0, &b),
            0.6 / 40.0
        ));
    }

    #[test]
    fn bad_brackets_are_refused() {
        assert!(Brackets::new(vec![], vec![]).is_err());
        assert!(Brackets::new(vec![10.0, 5.0], vec![0.01, 0.02]).is_err());
        assert!(Brackets::new(vec![10.0, 20.0], vec![0.02, 0.01]).is_err());
        assert!(Brackets::new(vec![10.0], vec![1.0]).is_err());
    }
}
