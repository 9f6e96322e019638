//! The positions table of an exchange: every position's final state in the caller's row order,
//! with its liquidation and bankruptcy prices (MECHANICS §6.1, §6.3).

use super::{Exchange, PositionTable};
use crate::recorder::table;

impl Exchange {
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
            collateral_value: vec![0.0; n],
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
            t.collateral_value[r] = self.held_value(p, px);
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
                t.liquidation_price[r] =
                    self.cross_liquidation_price(s, mark, e, mm - mm_j, j, 0.0);
            }
        }
        t
    }

    /// Binance's general liquidation price for one position with the rest of the pool fixed
    /// (TMM1 = `mm_other`, UPNL1 inside `equity`): solve `E + s(P − mark) = MM_other + |s|·P·MMR_b
    /// − cum_b` per bracket and keep the one where `|s|·P` lies in bracket b. Isolated, this is
    /// [`Position::liquidation_price`]. `slope`: how much the pool's margin assets' value moves
    /// per unit of the mark (those pegged to the market's asset; 0 with the other prices
    /// fixed), which moves the equity as a long does; NaN where the equity is then level in
    /// the mark.
    pub(super) fn cross_liquidation_price(
        &self,
        s: f64,
        mark: f64,
        equity: f64,
        mm_other: f64,
        j: usize,
        slope: f64,
    ) -> f64 {
        let br = &self.cfg.markets[self.market[j] as usize].brackets;
        let q = s.abs();
        let d = s + slope;
        let solve = |b: usize| (equity - d * mark - mm_other + br.amount(b)) / (q * br.rate(b) - d);
        for b in 0..br.caps.len() {
            let lp = solve(b);
            if lp > 0.0 && br.bracket_of(q * lp) == b {
                return lp;
            }
        }
        let lp = solve(br.bracket_of(q * mark));
        if lp.is_finite() {
            lp.max(0.0)
        } else {
            f64::NAN
        }
    }
}

table!(PositionTable {
    account as "account_id",
    asset,
    size,
    entry as "entry_price",
    mark,
    wallet,
    collateral_value,
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
