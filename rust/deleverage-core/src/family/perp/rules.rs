//! Perpetual-futures margin rules on one position (MECHANICS §6.1–6.4): maintenance-margin
//! brackets, liquidation and bankruptcy prices, the insurance-fund settlement of a liquidation
//! fill and the ADL ranking scores; and the configuration, input rows, statuses and tables of an
//! [`super::Exchange`].

use crate::error::{self, Error, Result};
use crate::recorder::named_enum;

/// Maintenance-margin brackets: notional caps (increasing) and their rates (non-decreasing).
/// Bracket n covers `cap_{n−1} < N ≤ cap_n`; the last cap may be infinite.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Brackets {
    pub(super) caps: Vec<f64>,
    pub(super) mmr: Vec<f64>,
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
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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

    /// The mark at which equity meets the maintenance margin, for a trigger index: MM is the
    /// largest of the brackets' lines `N·MMR_b − cum_b` (rates non-decreasing, cum making it
    /// continuous), so equity − MM is the smallest of lines increasing in the mark for a long
    /// (decreasing for a short), and it crosses zero at the largest (smallest) of their roots.
    /// The same price as [`Self::liquidation_price`], but for a root within rounding of a cap,
    /// where the per-bracket test there can miss both neighbours; not clamped at 0 (a short
    /// whose root is negative is breached at every price).
    pub fn trigger_price(&self, brackets: &Brackets) -> f64 {
        let q = self.qty;
        let solve = |b: usize| {
            (q * self.entry - self.side * (self.margin + brackets.amount(b)))
                / (q * (1.0 - self.side * brackets.rate(b)))
        };
        let roots = (0..brackets.caps.len()).map(solve);
        if self.side > 0.0 {
            roots.fold(f64::NEG_INFINITY, f64::max)
        } else {
            roots.fold(f64::INFINITY, f64::min)
        }
    }

    /// Liquidatable at `mark` under the engine's rule: equity < MM (MECHANICS §6.1).
    pub fn is_liquidatable(&self, mark: f64, brackets: &Brackets) -> bool {
        self.equity(mark) < brackets.maintenance_margin(self.qty * mark)
    }
}

/// How a liquidation fill settles against the bankruptcy price (MECHANICS §6.3).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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

named_enum! {
    /// ADL ranking scores (higher is deleveraged first), MECHANICS §6.4.
    pub enum AdlRanking {
        /// PnL%·EffLev when in profit, PnL%/EffLev otherwise (BitMEX).
        Bitmex = 0 => "bitmex",
        /// max(0, uPnL)/max(1, WB)·MM/(WB + uPnL), 0 when WB + uPnL ≤ 0 (Binance LeveragePnl).
        Binance = 1 => "binance",
        /// PnL% alone.
        PnlRatio = 2 => "pnl_ratio",
        /// Notional.
        Size = 3 => "size",
    }
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

named_enum! {
    /// When a margin pool is liquidatable (MECHANICS §6.1).
    pub enum Trigger {
        /// `equity < MM` (Hyperliquid, the engine default).
        Below = 0 => "below",
        /// `equity ≤ MM`, margin ratio ≥ 100 % (Binance).
        AtOrBelow = 1 => "at_or_below",
    }
}

/// How the counterparties of an auto-deleveraging are chosen (MECHANICS §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AdlOrder {
    /// Highest score first under a ranking; ties go to the lower account id.
    Ranked(AdlRanking),
    /// dYdX v4: opposite accounts in id order from a seeded pseudo-random start.
    Dydx,
}

impl AdlOrder {
    /// The rule names: the rankings' names, then `"dydx"`.
    pub const NAMES: &'static [&'static str] = &["bitmex", "binance", "pnl_ratio", "size", "dydx"];

    /// The rule called `name`; an error naming `field` and the valid names otherwise.
    pub fn from_name(field: &str, name: &str) -> Result<Self> {
        if name == "dydx" {
            return Ok(AdlOrder::Dydx);
        }
        AdlRanking::from_name(field, name)
            .map(AdlOrder::Ranked)
            .map_err(|_| Error::UnknownName {
                field: field.to_owned(),
                value: name.to_owned(),
                expected: Self::NAMES,
            })
    }
}

/// Partial liquidation (MECHANICS §6.5): a position above `threshold` notional sends only
/// `fraction` of itself to the book, then the account waits `cooldown` seconds. With
/// `repeat = false` (Hyperliquid) the next order takes the whole remainder; with `true` every
/// order is a slice.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartialRule {
    pub threshold: f64,
    pub fraction: f64,
    pub cooldown: f64,
    pub repeat: bool,
}

/// One perpetual market of an exchange: the asset it trades as (its venue is the perp book, its
/// oracle the mark price) and its maintenance-margin brackets.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerpMarket {
    pub asset: u32,
    pub brackets: Brackets,
}

/// The rules of one perp exchange.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Assets the exchange takes as cross margin besides the quote (Binance's Multi-Assets
    /// Mode); empty: quote only.
    #[serde(default)]
    pub margin_assets: Vec<MarginAsset>,
}

/// An asset an exchange takes as cross margin (Binance's Multi-Assets Mode): in a pool's equity
/// at the exchange's oracle price times `ratio`, the collateral value ratio (Binance: 0.95 for
/// BTC, ETH and BNB, 0.9 for XRP, ADA, DOT and SOL). When a liquidation leaves the pool's quote
/// wallet negative, the exchange sells these assets on their venues to cover it ("auto
/// exchange"), each in proportion to its value; what the sales do not cover the insurance fund
/// pays, and the rest is bad debt.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MarginAsset {
    pub asset: u32,
    pub ratio: f64,
}

/// Positions as the caller gives them, one row each: `account` (the caller's id), index into
/// the exchange's markets, signed size, entry price, margin, and whether the row is cross
/// margin. Cross rows of one account share one wallet (the sum of their margins); each isolated
/// row is its own margin pool.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PositionRows {
    pub account: Vec<u32>,
    pub market: Vec<u32>,
    pub size: Vec<f64>,
    pub entry: Vec<f64>,
    pub margin: Vec<f64>,
    pub cross: Vec<bool>,
    /// Per row, what `margin` is in: an index into the exchange's `margin_assets` (the row's
    /// margin is units of that asset), or [`QUOTE_MARGIN`]; empty: every row in the quote.
    #[serde(default)]
    pub margin_asset: Vec<u32>,
}

/// A row's `margin_asset` when its margin is quote.
pub const QUOTE_MARGIN: u32 = u32::MAX;

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
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The exchange's loss on that quantity, marked at the time (also in the engine's bad debt),
    /// and the negative wallets of liquidated pools that neither their margin assets' sales
    /// nor the fund covered.
    pub bad_debt: f64,
    /// Quote the sales of margin assets brought into wallets.
    pub collateral_quote_in: f64,
    /// Quote the exchange wrote off against the negative wallets of liquidated pools (in
    /// `bad_debt`).
    pub written_off: f64,
    /// Units of each margin asset, in the exchange's `margin_assets` order.
    pub collateral: Vec<CollateralUnits>,
}

/// Units of one margin asset of an exchange: posted at the start, sold on the venues,
/// withdrawn with the wallets of pools that closed, and taken over by the backstop vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CollateralUnits {
    pub initial: f64,
    pub sold: f64,
    pub withdrawn: f64,
    pub backstop: f64,
}

/// A position as the positions table reports it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PositionTable {
    pub account: Vec<u32>,
    pub asset: Vec<u32>,
    pub size: Vec<f64>,
    pub entry: Vec<f64>,
    pub mark: Vec<f64>,
    /// The pool's wallet, equity and maintenance margin (cross: the account's).
    pub wallet: Vec<f64>,
    /// The pool's margin assets at the oracle prices times their collateral value ratio (in
    /// `equity`).
    pub collateral_value: Vec<f64>,
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
