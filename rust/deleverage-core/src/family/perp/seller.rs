//! The exchange as a forced seller of the step loop (the [`ForcedSeller`] interface every family
//! implements): its round, what breaches at given prices, liquidation prices, tables and
//! ledger.

use super::{CollateralUnits, Exchange, PoolStatus};
use crate::error::Result;
use crate::family::shared::{
    Breach, Breaches, Budget, ForcedSeller, LiquidationPrices, RoundOutcome, Shared,
};
use crate::recorder::{Table, Value, Values};

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
                    out.push(
                        at,
                        Breach {
                            row: self.row[j],
                            notional: s.abs() * prices[self.asset(j)],
                            margin: e,
                            requirement: mm,
                            ..Breach::default()
                        },
                    );
                }
            }
        }
    }

    fn liquidation_prices(&self, a: usize, px: &[f64], moves: &[f64], out: &mut LiquidationPrices) {
        // The positions table's liquidation price: where the pool's equity meets its MM with
        // this market's mark moving and the others fixed, except the pool's margin assets
        // pegged to the market's asset, which move with it.
        let t = self.table(px);
        // Position of each caller's row, when margin assets can move with `a`.
        let mut of_row = Vec::new();
        if !self.held.is_empty() {
            of_row = vec![0usize; self.row.len()];
            for (j, &r) in self.row.iter().enumerate() {
                of_row[r as usize] = j;
            }
        }
        for r in 0..t.size.len() {
            if t.asset[r] as usize == a && t.size[r] != 0.0 {
                let mut price = t.liquidation_price[r];
                if let Some(&j) = of_row.get(r) {
                    let p = self.pool_of[j] as usize;
                    let slope = self.held_slope(p, moves);
                    if slope > 0.0 {
                        let mm_j = self.pos_mm(j, px);
                        let (e, mm) = self.pool_state(p, px);
                        price =
                            self.cross_liquidation_price(t.size[r], px[a], e, mm - mm_j, j, slope);
                    }
                }
                out.push(t.account[r], r as u32, price, t.size[r] > 0.0);
            }
        }
        // Pools without a position in `a` whose margin moves with it: their equity is linear in
        // its price, `e + slope·(P − px)`, and breaches below `P = px + (MM − e)/slope`.
        for p in 0..self.owner.len() {
            if self.held(p).is_empty()
                || matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped)
            {
                continue;
            }
            let range = self.offsets[p] as usize..self.offsets[p + 1] as usize;
            let Some(j) = range.clone().find(|&j| self.size[j] != 0.0) else {
                continue;
            };
            if range
                .clone()
                .any(|k| self.size[k] != 0.0 && self.asset(k) == a)
            {
                continue;
            }
            let slope = self.held_slope(p, moves);
            if slope <= 0.0 {
                continue;
            }
            let (e, mm) = self.pool_state(p, px);
            out.push(self.owner[p], self.row[j], px[a] + (mm - e) / slope, true);
        }
    }

    fn tables(&self, _sh: &Shared, px: &[f64]) -> Vec<(&'static str, Table)> {
        vec![("positions", self.table(px).into_table())]
    }

    fn ledger(&self) -> Values {
        let l = &self.ledger;
        let units =
            |f: fn(&CollateralUnits) -> f64| Value::F64s(l.collateral.iter().map(f).collect());
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
            ("collateral_quote_in", Value::F64(l.collateral_quote_in)),
            ("written_off", Value::F64(l.written_off)),
            ("collateral_initial", units(|c| c.initial)),
            ("collateral_sold", units(|c| c.sold)),
            ("collateral_withdrawn", units(|c| c.withdrawn)),
            ("collateral_backstop", units(|c| c.backstop)),
            ("collateral_held", Value::F64s(self.collateral_held())),
        ]
    }
}
