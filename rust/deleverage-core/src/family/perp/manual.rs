//! A perp liquidation taken by the engine's user between steps (a dYdX-style liquidation
//! taker, MECHANICS §6.3, §6.6).

use super::{Exchange, PoolStatus, settle};
use crate::error::{Error, Result};
use crate::family::shared::Shared;
use crate::recorder::EventKind;

impl Exchange {
    /// The engine's user taking the liquidation order of position row `row` between steps
    /// (a dYdX-style liquidation taker; MECHANICS §6.3, §6.6): `qty` of the position closed at
    /// `price`, which must be at or better than the position's bankruptcy price for the
    /// exchange (a long's order sells: the user buys at `price ≥ BP`; a short's buys: the user
    /// sells at `price ≤ BP`), so the insurance fund takes its clearance fee from the surplus
    /// and pays no deficit. The pool must breach its maintenance margin now. The user holds the
    /// position it took; the row is a `user_liquidation` event. Returns the quantity closed and
    /// the clearance fee.
    pub(crate) fn liquidate_manual(
        &mut self,
        sh: &mut Shared,
        id: u32,
        row: u32,
        qty: f64,
        price: f64,
    ) -> Result<(f64, f64)> {
        let Some(j) = self.row.iter().position(|&r| r == row) else {
            return Err(Error::OutOfRange {
                field: "row".to_owned(),
                value: f64::from(row),
                expected: "the row of one of the exchange's positions",
            });
        };
        let p = self.pool_of[j] as usize;
        let account = self.owner[p];
        let refuse = |why: String| Error::Refused { account, why };
        let s = self.size[j];
        if s == 0.0 {
            return Err(refuse("has no open position in that row".to_owned()));
        }
        let (e, mm) = self.pool_state(p, &sh.px);
        if !self.breached(e, mm) {
            return Err(refuse(format!(
                "is not liquidatable: equity {e} against maintenance margin {mm}"
            )));
        }
        if !(qty > 0.0 && qty.is_finite()) || qty > s.abs() * (1.0 + 1e-12) {
            return Err(refuse(format!(
                "qty must be positive and at most the position's {}, got {qty}",
                s.abs()
            )));
        }
        let qty = qty.min(s.abs());
        let side = s.signum();
        let a = self.asset(j);
        let mark = sh.px[a];
        let bp = mark - e * self.share(p, j, &sh.px, e, mm) / s;
        if !(price.is_finite() && price > 0.0) {
            return Err(refuse(format!(
                "price must be a positive price, got {price}"
            )));
        }
        if side * (price - bp) < 0.0 {
            return Err(refuse(format!(
                "price {price} is worse for the exchange than the bankruptcy price {bp}"
            )));
        }
        let n = qty * price;
        let realized = side * (n - qty * self.entry[j]);
        self.index.touch(p);
        self.book_close(p, j, qty, realized);
        self.liquidated_qty[j] += qty;
        let st = settle(side, qty, bp, n, self.cfg.fee_rate);
        // At or better than BP: a surplus, so a fee (never a deficit).
        let fee = st.fund_change.max(0.0);
        self.fund += fee;
        self.wallet[p] -= fee;
        self.ledger.fees += fee;
        let mut ev = sh.event(0, EventKind::UserLiquidation, id, account, a);
        ev.qty = qty;
        ev.notional = n;
        ev.realized_pnl = realized;
        ev.insurance_change = fee;
        sh.events.push(&ev);
        let open =
            (self.offsets[p] as usize..self.offsets[p + 1] as usize).any(|k| self.size[k] != 0.0);
        self.status[p] = PoolStatus::Liquidated;
        if !open {
            // Closed, unless it owes quote against margin assets (sold in the next round).
            self.close_pool(p);
        }
        Ok((qty, fee))
    }
}
