//! Leverage-targeting funds (MECHANICS §7.1–7.3): a group of funds that share one rule, trade
//! their marketable holdings on the scenario's venues and repay debt with the proceeds.
//!
//! Per fund: marketable holdings in units per asset, illiquid holdings as values per illiquid
//! class (moved only by the class's exogenous shock, applied once in step 0), and debt. Funds value
//! marketable holdings at the oracle price `Shared::px`.
//!
//! - Rules (§7.1): [`Rule::Target`] trades `λ*·E − (H + I)` (sells pro rata, buys pro rata);
//!   [`Rule::Threshold`] sells only when `λ > λ_max` (strict), down to `λ_b` (§7.3), never buys.
//!   A fund with `E ≤ 0` defaults and sells everything (§7.1).
//! - Accounting: [`Accounting::MarkToMarket`] (units × price; with exponential curves and
//!   α-weighted execution this is Cont–Schaanning, §7.3 and the C–S identity of §8) or
//!   [`Accounting::Linear`] (Greenwood–Landier–Thesmar as published, §7.2).
//! - Round modes (§2.7): `Batch` nets a round's orders per asset and executes them once, every
//!   fund trading that asset at the same average price; `Sequential` lets each fund trade in id
//!   order, the next one seeing the moved price.
//!
//! Sales are forced sales: each counts as liquidated notional (oracle value) for its asset.

mod clearing;
mod rules;

pub use clearing::*;
pub use rules::*;

use crate::error::{self, Error, Result};
use crate::family::shared::{
    Breach, Breaches, Budget, ForcedSeller, LiquidationPrices, RoundMode, RoundOutcome, Shared,
};
use crate::fill::Side;
use crate::recorder::{Event, EventKind, NONE, Table, Values};

// Trades smaller than `DUST` (the engine's tolerance on amounts) of a fund's assets are not
// made (**Choice**): a target fund converges geometrically towards its target and would
// otherwise trade dust forever.
use crate::family::shared::DUST;

/// A target trade larger than this multiple of the fund's starting assets means the group's own
/// purchases feed back with a gain of 1 or more (GLT's ρ(K) ≥ 1): the cascade has no finite
/// end, and the engine stops with [`Error::Diverged`] instead of trading towards infinity.
pub const DIVERGENCE: f64 = 1e6;
/// What a fund decided in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Decision {
    Nothing,
    Trade,
    Default,
}

/// A group of funds sharing one rule (MECHANICS §7.1).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Funds {
    /// Account id of fund 0 in event rows (fund i is `first_account + i`).
    first_account: u32,
    n_funds: usize,
    n_assets: usize,
    n_classes: usize,
    /// Marketable units, `n_funds × n_assets` row-major.
    units: Vec<f64>,
    /// Illiquid values, `n_funds × n_classes` row-major.
    illiquid: Vec<f64>,
    /// Exogenous shock ε_k per illiquid class: value × (1 − ε_k) once, in step 0.
    shock: Vec<f64>,
    debt: Vec<f64>,
    rule: Rule,
    accounting: Accounting,
    /// Whether step 0's shock was applied and the start values read.
    started: bool,
    /// Total assets `H + I` of each fund at the start, the scale of the divergence guard.
    assets0: Vec<f64>,
    /// Set when a target fund's purchases grow without bound (see [`DIVERGENCE`]).
    #[serde(with = "rules::diverged_state")]
    diverged: Option<Error>,
    /// The group's protocol id in the engine (for error messages).
    protocol: u32,
    defaulted: Vec<bool>,
    bad_debt: Vec<f64>,
    /// λ* per fund (target rule), read at the start.
    target: Vec<f64>,
    /// Linear accounting: A_n, m_nk (row-major), b_n, booked E_n, price at the last decision
    /// (row-major), and R_n read at the last decision.
    base: Vec<f64>,
    weights: Vec<f64>,
    ratio: Vec<f64>,
    booked: Vec<f64>,
    last_px: Vec<f64>,
    last_return: Vec<f64>,
    sold_notional: Vec<f64>,
    bought_notional: Vec<f64>,
    sold_units: Vec<f64>,
    bought_units: Vec<f64>,
    /// Scratch of a round: signed units per fund and asset (negative sells), decisions, prices.
    orders: Vec<f64>,
    decisions: Vec<Decision>,
    px0: Vec<f64>,
}

impl Funds {
    /// Builds a group of funds. `units` is `n_funds × n_assets` row-major with
    /// `n_funds = debt.len()`; `illiquid` is `n_funds × n_classes` with
    /// `n_classes = illiquid_shock.len()`. Illiquid shocks must be at most 1 (a total loss).
    pub fn new(
        units: Vec<f64>,
        n_assets: usize,
        illiquid: Vec<f64>,
        illiquid_shock: Vec<f64>,
        debt: Vec<f64>,
        rule: Rule,
        accounting: Accounting,
    ) -> Result<Self> {
        let n_funds = debt.len();
        if n_funds == 0 {
            return Err(Error::Empty {
                field: "debt".to_owned(),
            });
        }
        if n_assets == 0 {
            return Err(Error::OutOfRange {
                field: "n_assets".to_owned(),
                value: 0.0,
                expected: ">= 1",
            });
        }
        let n_classes = illiquid_shock.len();
        if units.len() != n_funds * n_assets {
            return Err(Error::LengthMismatch {
                field: "units".to_owned(),
                got: units.len(),
                other: "n_funds × n_assets".to_owned(),
                expected: n_funds * n_assets,
            });
        }
        if illiquid.len() != n_funds * n_classes {
            return Err(Error::LengthMismatch {
                field: "illiquid".to_owned(),
                got: illiquid.len(),
                other: "n_funds × illiquid classes".to_owned(),
                expected: n_funds * n_classes,
            });
        }
        for (k, &u) in units.iter().enumerate() {
            error::non_negative(&format!("units[{}][{}]", k / n_assets, k % n_assets), u)?;
        }
        for (k, &v) in illiquid.iter().enumerate() {
            error::non_negative(
                &format!("illiquid[{}][{}]", k / n_classes, k % n_classes),
                v,
            )?;
        }
        for (k, &e) in illiquid_shock.iter().enumerate() {
            error::in_range(
                &format!("illiquid_shock[{k}]"),
                e,
                f64::NEG_INFINITY,
                1.0,
                false,
                "at most 1",
            )?;
        }
        for (i, &d) in debt.iter().enumerate() {
            error::non_negative(&format!("debt[{i}]"), d)?;
        }
        match rule {
            Rule::Target { leverage: Some(l) } => {
                error::in_range("leverage", l, 1.0, f64::INFINITY, false, ">= 1")?;
            }
            Rule::Target { leverage: None } => {}
            Rule::Threshold {
                lambda_max,
                lambda_b,
            } => {
                error::in_range("lambda_max", lambda_max, 1.0, f64::INFINITY, false, ">= 1")?;
                error::in_range(
                    "lambda_b",
                    lambda_b,
                    1.0,
                    lambda_max,
                    false,
                    "in [1, lambda_max]",
                )?;
            }
        }
        if accounting == Accounting::Linear {
            if rule != (Rule::Target { leverage: None }) {
                return Err(Error::Incompatible {
                    field: "rule".to_owned(),
                    why: "Linear accounting (GLT, MECHANICS §7.2) trades φ_n = b_n·A_n·R_n with \
                          each fund's starting b_n = D_n/E_n: use Target { leverage: None }, or \
                          MarkToMarket accounting for other rules",
                });
            }
            if let Some(k) = illiquid.iter().position(|&v| v != 0.0) {
                return Err(Error::Incompatible {
                    field: format!("illiquid[{}][{}]", k / n_classes, k % n_classes),
                    why: "Linear accounting (GLT, MECHANICS §7.2) has no illiquid holdings: pass \
                          zeros, or use MarkToMarket accounting",
                });
            }
        }
        let cells = n_funds * n_assets;
        Ok(Funds {
            first_account: 0,
            n_funds,
            n_assets,
            n_classes,
            units,
            illiquid,
            shock: illiquid_shock,
            debt,
            rule,
            accounting,
            started: false,
            assets0: vec![0.0; n_funds],
            diverged: None,
            protocol: 0,
            defaulted: vec![false; n_funds],
            bad_debt: vec![0.0; n_funds],
            target: vec![f64::NAN; n_funds],
            base: vec![0.0; n_funds],
            weights: vec![0.0; cells],
            ratio: vec![0.0; n_funds],
            booked: vec![0.0; n_funds],
            last_px: vec![0.0; cells],
            last_return: vec![0.0; n_funds],
            sold_notional: vec![0.0; n_funds],
            bought_notional: vec![0.0; n_funds],
            sold_units: vec![0.0; n_assets],
            bought_units: vec![0.0; n_assets],
            orders: vec![0.0; cells],
            decisions: vec![Decision::Nothing; n_funds],
            px0: vec![0.0; n_assets],
        })
    }

    /// Checks the holdings' width against the scenario's assets.
    pub fn check(&self, n_assets: usize) -> Result<()> {
        if self.n_assets != n_assets {
            return Err(Error::LengthMismatch {
                field: "funds holdings (units per fund)".to_owned(),
                got: self.n_assets,
                other: "assets".to_owned(),
                expected: n_assets,
            });
        }
        Ok(())
    }

    pub fn n_funds(&self) -> usize {
        self.n_funds
    }
    pub fn n_assets(&self) -> usize {
        self.n_assets
    }
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    pub fn rule(&self) -> Rule {
        self.rule
    }
    pub fn accounting(&self) -> Accounting {
        self.accounting
    }
    /// Marketable units, `n_funds × n_assets` row-major.
    pub fn units(&self) -> &[f64] {
        &self.units
    }
    /// Marketable units of fund `i` (caller order); `None` past the last fund.
    pub fn units_of(&self, i: usize) -> Option<&[f64]> {
        (i < self.n_funds).then(|| self.row(i))
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.units[i * self.n_assets..(i + 1) * self.n_assets]
    }
    /// Illiquid values, `n_funds × n_classes` row-major (after the shock once step 0 ran).
    pub fn illiquid(&self) -> &[f64] {
        &self.illiquid
    }
    pub fn illiquid_shock(&self) -> &[f64] {
        &self.shock
    }
    /// Debt per fund (negative: net cash).
    pub fn debt(&self) -> &[f64] {
        &self.debt
    }
    pub fn defaulted(&self) -> &[bool] {
        &self.defaulted
    }
    /// Debt not covered at default, per fund.
    pub fn bad_debt(&self) -> &[f64] {
        &self.bad_debt
    }
    /// λ* per fund under the target rule (NaN before step 0 and under the threshold rule).
    pub fn target_leverage(&self) -> &[f64] {
        &self.target
    }
    /// Linear accounting: base assets A_n (0 before step 0).
    pub fn base_assets(&self) -> &[f64] {
        &self.base
    }
    /// Linear accounting: weights m_nk, `n_funds × n_assets` row-major.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// Linear accounting: b_n = D_n/E_n at the start.
    pub fn debt_equity(&self) -> &[f64] {
        &self.ratio
    }
    /// Linear accounting: the portfolio return R_n each fund read at its last decision.
    pub fn last_return(&self) -> &[f64] {
        &self.last_return
    }
    /// Units sold and bought per asset over the run, all funds together.
    pub fn sold_units(&self) -> &[f64] {
        &self.sold_units
    }
    pub fn bought_units(&self) -> &[f64] {
        &self.bought_units
    }

    /// The state of every fund at prices `px` (one per asset), in the caller's order.
    /// Numbers the funds' event rows from `id` (fund i is `id + i`), so that they can share an
    /// account numbering with other families.
    pub fn with_first_account(mut self, id: u32) -> Self {
        self.first_account = id;
        self
    }

    pub fn table(&self, px: &[f64]) -> FundTable {
        let n = self.n_funds;
        let mut t = FundTable {
            marketable_value: vec![0.0; n],
            illiquid_value: vec![0.0; n],
            debt: self.debt.clone(),
            equity: vec![0.0; n],
            leverage: vec![0.0; n],
            status: vec![FundStatus::Active; n],
            sold_notional: self.sold_notional.clone(),
            bought_notional: self.bought_notional.clone(),
            bad_debt: self.bad_debt.clone(),
        };
        for i in 0..n {
            let (h, il) = self.values(i, px);
            let e = self.equity(i, h, il);
            t.marketable_value[i] = h;
            t.illiquid_value[i] = il;
            t.equity[i] = e;
            t.leverage[i] = if e > 0.0 { (h + il) / e } else { f64::INFINITY };
            t.status[i] = if self.defaulted[i] {
                FundStatus::Defaulted
            } else if e <= 0.0 {
                FundStatus::Insolvent
            } else if h <= 0.0 {
                FundStatus::Illiquid
            } else {
                FundStatus::Active
            };
        }
        t
    }

    /// Marketable and illiquid value of fund `i` at prices `px`.
    fn values(&self, i: usize, px: &[f64]) -> (f64, f64) {
        let h = self.row(i).iter().zip(px).map(|(u, p)| u * p).sum::<f64>();
        let il = self.illiquid[i * self.n_classes..(i + 1) * self.n_classes]
            .iter()
            .sum::<f64>();
        (h, il)
    }

    fn equity(&self, i: usize, h: f64, il: f64) -> f64 {
        if self.accounting == Accounting::Linear && self.started {
            self.booked[i]
        } else {
            h + il - self.debt[i]
        }
    }

    /// Step 0: reads the start values at the initial prices, then applies the illiquid shock.
    fn start(&mut self, sh: &Shared) {
        let initial: Vec<f64> = (0..self.n_assets).map(|a| sh.market.initial(a)).collect();
        for i in 0..self.n_funds {
            let (h, il) = self.values(i, &initial);
            let e = h + il - self.debt[i];
            self.assets0[i] = h + il;
            self.target[i] = match self.rule {
                Rule::Target { leverage: Some(l) } => l,
                Rule::Target { leverage: None } if e > 0.0 => (h + il) / e,
                // Without positive equity at the start there is no leverage to return to.
                Rule::Target { leverage: None } => f64::INFINITY,
                Rule::Threshold { .. } => f64::NAN,
            };
            if self.accounting == Accounting::Linear {
                self.base[i] = h;
                self.booked[i] = e;
                self.ratio[i] = if e > 0.0 { self.debt[i] / e } else { 0.0 };
                for (a, &p) in initial.iter().enumerate() {
                    let k = i * self.n_assets + a;
                    self.weights[k] = if h > 0.0 { self.units[k] * p / h } else { 0.0 };
                    self.last_px[k] = p;
                }
            }
        }
        for i in 0..self.n_funds {
            for c in 0..self.n_classes {
                self.illiquid[i * self.n_classes + c] *= 1.0 - self.shock[c];
            }
        }
        self.started = true;
    }

    /// Whether a target trade of `value` quote by fund `i` is a runaway: more than
    /// [`DIVERGENCE`] times its starting assets. Records the error the engine then returns.
    fn diverges(&mut self, i: usize, value: f64) -> bool {
        if value.abs() <= DIVERGENCE * self.assets0[i].max(f64::MIN_POSITIVE) {
            return false;
        }
        self.diverged.get_or_insert(Error::Diverged {
            field: format!("funds[{i}] of protocol {}", self.protocol),
            value,
            limit: DIVERGENCE * self.assets0[i],
            protocol: self.protocol,
            index: i,
        });
        true
    }

    /// The error that stopped the group, if its target trades ran away.
    pub fn failure(&self) -> Option<&Error> {
        self.diverged.as_ref()
    }

    /// Fund `i`'s decision at prices `px`; its signed orders go into row `i` of `orders`.
    fn decide(&mut self, i: usize, px: &[f64]) -> Decision {
        let na = self.n_assets;
        let row = i * na..(i + 1) * na;
        self.orders[row.clone()].iter_mut().for_each(|o| *o = 0.0);
        if self.defaulted[i] {
            return Decision::Nothing;
        }
        let (h, il) = self.values(i, px);
        if self.accounting == Accounting::Linear {
            // §7.2: R_n = Σ_k m_nk r_k with r_k the return since the last decision.
            let mut r = 0.0;
            for (a, &p) in px.iter().enumerate() {
                let k = i * na + a;
                if self.last_px[k] > 0.0 {
                    r += self.weights[k] * (p / self.last_px[k] - 1.0);
                }
                self.last_px[k] = p;
            }
            self.last_return[i] = r;
            self.booked[i] += self.base[i] * r;
        }
        let e = self.equity(i, h, il);
        if e <= 0.0 {
            // §7.1: default sells everything.
            for k in row {
                self.orders[k] = -self.units[k];
            }
            return Decision::Default;
        }
        if h <= 0.0 {
            return Decision::Nothing;
        }
        if self.accounting == Accounting::Linear {
            let phi = self.ratio[i] * self.base[i] * self.last_return[i];
            if phi.abs() <= DUST * self.base[i] {
                return Decision::Nothing;
            }
            if self.diverges(i, phi) {
                return Decision::Nothing;
            }
            for (a, &p) in px.iter().enumerate() {
                let k = i * na + a;
                if p > 0.0 {
                    self.orders[k] = (phi * self.weights[k] / p).max(-self.units[k]);
                }
            }
            return Decision::Trade;
        }
        let fraction = match self.rule {
            Rule::Threshold {
                lambda_max,
                lambda_b,
            } => {
                // §7.3: strict λ > λ_max; Γ = min(1, (H + I − λ_b E)/H).
                if (h + il) / e > lambda_max {
                    -((h + il - lambda_b * e) / h).min(1.0)
                } else {
                    0.0
                }
            }
            Rule::Target { .. } => {
                // §7.1: trade λ*·E − (H + I), pro rata; sales at most H.
                let t = self.target[i] * e - (h + il);
                if !t.is_finite() || t.abs() <= DUST * (h + il) {
                    0.0
                } else if self.diverges(i, t) {
                    return Decision::Nothing;
                } else {
                    (t / h).max(-1.0)
                }
            }
        };
        if fraction == 0.0 {
            return Decision::Nothing;
        }
        for k in row {
            self.orders[k] = if fraction == -1.0 {
                -self.units[k]
            } else {
                fraction * self.units[k]
            };
        }
        Decision::Trade
    }

    /// Books a fill of `units` (> 0) of asset `a` for fund `i` at `value` quote and records it.
    #[allow(clippy::too_many_arguments)]
    fn book(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        i: usize,
        a: usize,
        side: Side,
        units: f64,
        value: f64,
        before: f64,
        after: f64,
    ) {
        let k = i * self.n_assets + a;
        let kind = match side {
            Side::Sell => {
                let held = self.units[k];
                let left = held - units;
                self.units[k] = if left <= 1e-12 * held { 0.0 } else { left };
                self.debt[i] -= value;
                self.sold_notional[i] += value;
                self.sold_units[a] += units;
                sh.count_liquidation(a, units * self.px0[a]);
                EventKind::FundSale
            }
            Side::Buy => {
                self.units[k] += units;
                self.debt[i] += value;
                self.bought_notional[i] += value;
                self.bought_units[a] += units;
                EventKind::FundPurchase
            }
        };
        let mut ev = sh.event(round, kind, id, self.first_account + i as u32, a);
        ev.qty = units;
        ev.notional = value;
        ev.price_before = before;
        ev.price_after = after;
        // Sales repay debt; purchases add debt (negative repayment).
        let repaid = match side {
            Side::Sell => value,
            Side::Buy => -value,
        };
        ev.debt_repaid = repaid;
        ev.debt_repaid_value = repaid;
        sh.events.push(&ev);
    }

    /// A defaulted fund's row: the debt its sales and illiquid holdings do not cover.
    fn finish_default(&mut self, sh: &mut Shared, id: u32, round: u32, i: usize) {
        self.defaulted[i] = true;
        let (h, il) = self.values(i, &sh.px);
        let bad = (self.debt[i] - h - il).max(0.0);
        self.bad_debt[i] = bad;
        sh.cum_bad_debt += bad;
        let mut ev = Event::new(sh.step, round, EventKind::Default);
        ev.account = self.first_account + i as u32;
        ev.protocol = id;
        ev.asset = NONE;
        ev.bad_debt = bad;
        sh.events.push(&ev);
    }

    /// One round (MECHANICS §7.1–7.3): every fund that breaches its rule trades, in the round
    /// mode of the queue. Returns whether any fund traded or defaulted.
    fn round_funds(&mut self, sh: &mut Shared, id: u32, round: u32) -> bool {
        // `Engine::new` checked the width; a direct caller with another market gets no trade.
        if sh.px.len() != self.n_assets || sh.market.n_assets() != self.n_assets {
            return false;
        }
        self.protocol = id;
        if !self.started {
            self.start(sh);
        }
        self.px0.copy_from_slice(&sh.px);
        match sh.cfg.mode {
            RoundMode::Batch => self.round_batch(sh, id, round),
            RoundMode::Sequential => self.round_sequential(sh, id, round),
        }
    }

    fn round_batch(&mut self, sh: &mut Shared, id: u32, round: u32) -> bool {
        let na = self.n_assets;
        let px = std::mem::take(&mut self.px0);
        for i in 0..self.n_funds {
            self.decisions[i] = self.decide(i, &px);
        }
        self.px0 = px;
        let mut acted = false;
        for a in 0..na {
            let (mut sells, mut buys) = (0.0, 0.0);
            for i in 0..self.n_funds {
                let o = self.orders[i * na + a];
                if o < 0.0 {
                    sells -= o;
                } else {
                    buys += o;
                }
            }
            if sells <= 0.0 && buys <= 0.0 {
                continue;
            }
            let before = sh.market.spot(a);
            let net = sells - buys;
            // Crossed units trade at the net order's average price (at the spot without one);
            // a partial fill of the net order scales the larger side.
            let (fill_sells, fill_buys, vwap) = if net > 0.0 {
                let f = sh.trade(a, Side::Sell, net);
                let v = f.vwap().unwrap_or(before);
                ((buys + f.filled) / sells, 1.0, v)
            } else if net < 0.0 {
                let f = sh.trade(a, Side::Buy, -net);
                let v = f.vwap().unwrap_or(before);
                (1.0, (sells + f.filled) / buys, v)
            } else {
                (1.0, 1.0, before)
            };
            let after = sh.market.spot(a);
            for i in 0..self.n_funds {
                let o = self.orders[i * na + a];
                let (side, units) = if o < 0.0 {
                    (Side::Sell, -o * fill_sells)
                } else {
                    (Side::Buy, o * fill_buys)
                };
                if units > 0.0 {
                    acted = true;
                    self.book(
                        sh,
                        id,
                        round,
                        i,
                        a,
                        side,
                        units,
                        units * vwap,
                        before,
                        after,
                    );
                }
            }
        }
        for i in 0..self.n_funds {
            if self.decisions[i] == Decision::Default {
                acted = true;
                self.finish_default(sh, id, round, i);
            }
        }
        acted
    }

    fn round_sequential(&mut self, sh: &mut Shared, id: u32, round: u32) -> bool {
        let na = self.n_assets;
        let mut acted = false;
        for i in 0..self.n_funds {
            let px = std::mem::take(&mut sh.px);
            let d = self.decide(i, &px);
            sh.px = px;
            if d == Decision::Nothing {
                continue;
            }
            self.px0.copy_from_slice(&sh.px);
            for a in 0..na {
                let o = self.orders[i * na + a];
                if o == 0.0 {
                    continue;
                }
                let side = if o < 0.0 { Side::Sell } else { Side::Buy };
                let before = sh.market.spot(a);
                let f = sh.trade(a, side, o.abs());
                let after = sh.market.spot(a);
                if f.filled > 0.0 {
                    acted = true;
                    self.book(
                        sh, id, round, i, a, side, f.filled, f.notional, before, after,
                    );
                }
            }
            if d == Decision::Default {
                acted = true;
                self.finish_default(sh, id, round, i);
            }
        }
        acted
    }
}

impl ForcedSeller for Funds {
    fn kind(&self) -> &'static str {
        "funds"
    }

    fn check(&self, n_assets: usize) -> Result<()> {
        Funds::check(self, n_assets)
    }

    fn round(&mut self, sh: &mut Shared, id: u32, round: u32, _: &mut Budget) -> RoundOutcome {
        // Funds trade on their own rule; they do not use the liquidators' budget.
        RoundOutcome::acted(self.round_funds(sh, id, round))
    }

    fn busy(&self, _now: f64) -> bool {
        false
    }

    fn failure(&self) -> Option<&Error> {
        Funds::failure(self)
    }

    fn breached_at(&self, prices: &[f64], at: u32, out: &mut Breaches) {
        // A fund's liquidation is its default (§7.1: equity at or below zero, everything sold);
        // its leverage rule's sales are deleveraging, not a breach. Marked to market at
        // `prices`, illiquid holdings at their value before any shock.
        for i in 0..self.n_funds {
            if self.defaulted[i] {
                continue;
            }
            let (h, il) = self.values(i, prices);
            let equity = h + il - self.debt[i];
            if equity <= 0.0 {
                out.push(
                    at,
                    Breach {
                        row: i as u32,
                        debt: self.debt[i],
                        collateral_value: h + il,
                        margin: equity,
                        ..Breach::default()
                    },
                );
            }
        }
    }

    fn liquidation_prices(&self, a: usize, px: &[f64], moves: &[f64], out: &mut LiquidationPrices) {
        // Default (equity ≤ 0), marked to market: H₀ + u·p + I − D ≤ 0 ⇔ p ≤ (D − I − H₀)/u,
        // u the units of a and of the assets pegged to a at their peg ratio.
        for i in 0..self.n_funds {
            let row = self.row(i);
            let u: f64 = row.iter().zip(moves).map(|(&x, &m)| x * m).sum();
            if self.defaulted[i] || u <= 0.0 {
                continue;
            }
            let (h, il) = self.values(i, px);
            let others = h - u * px[a];
            let price = (self.debt[i] - il - others) / u;
            out.push(self.first_account + i as u32, i as u32, price, true);
        }
    }

    fn tables(&self, _sh: &Shared, px: &[f64]) -> Vec<(&'static str, Table)> {
        vec![("funds", self.table(px).into_table())]
    }

    fn ledger(&self) -> Values {
        Vec::new()
    }
}
