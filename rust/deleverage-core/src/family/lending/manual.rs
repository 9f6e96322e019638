//! A liquidation the engine's user makes by hand (a liquidator bot in a backtest), under the
//! protocol's own rules, as its contract would accept or revert it (MECHANICS §4.2–4.6): the
//! account must be liquidatable, the debt and collateral reserves must be the account's, and the
//! amount may not pass the close factor (nor, from Aave v3.3, leave dust behind).

use super::accounts::Status;
use super::rules::{
    AAVE_MIN_LEFTOVER_BASE, Holdings, Lending, Liquidation, Rules, aave_leaves_dust, aave_max_debt,
    aave_seizure, compound_v2_seizure,
};
use super::{Entry, LendingMarket};
use crate::error::{Error, Result};
use crate::family::shared::Shared;
use crate::recorder::EventKind;

/// What a manual liquidation did, in the debt's and the collateral's units (and the debt's
/// value, and any bad debt it left, in quote).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ManualLiquidation {
    pub repaid: f64,
    pub repaid_value: f64,
    pub seized: f64,
    pub bonus: f64,
    pub protocol_fee: f64,
    pub bad_debt: f64,
}

/// Why the protocol refuses a manual liquidation (its contract would revert).
pub(crate) type Refusal = String;

impl Lending {
    /// The liquidation covering `amount` units of the debt in slot `r` with the collateral in
    /// slot `c` of an account with holdings `h`, or why the protocol refuses it.
    pub(crate) fn manual_liquidation(
        &self,
        h: &Holdings<'_>,
        prices: &[f64],
        r: usize,
        c: usize,
        amount: f64,
    ) -> Result<Liquidation, Refusal> {
        let (pr, pc) = (prices[h.asset[r] as usize], prices[h.asset[c] as usize]);
        let (debt_r, coll_c) = (h.debt[r], h.collateral[c]);
        if debt_r <= 0.0 {
            return Err("has no debt in that asset".to_owned());
        }
        if coll_c <= 0.0 || self.threshold(h.asset[c]) <= 0.0 {
            return Err("has no collateral the protocol can seize in that asset".to_owned());
        }
        let hf = self.health(h, prices);
        if hf >= 1.0 {
            return Err(format!("is not liquidatable: health factor {hf} >= 1"));
        }
        if !(amount > 0.0 && amount.is_finite()) {
            return Err(format!(
                "amount must be a positive number of debt units, got {amount}"
            ));
        }
        // Relative slack for an amount computed from the same numbers (max_debt · (1 + 1e-12)).
        let fits = |max: f64| amount <= max * (1.0 + 1e-12);
        match &self.rules {
            Rules::AaveV3 { version } => {
                let Some(res) = self.reserves[h.asset[c] as usize] else {
                    return Err("has no collateral the protocol can seize in that asset".to_owned());
                };
                let max_debt = aave_max_debt(*version, h, prices, hf, r, c);
                if !fits(max_debt) {
                    return Err(format!(
                        "amount {amount} passes the close factor: at most {max_debt} of that debt \
                         at health factor {hf}"
                    ));
                }
                let cover = amount.min(max_debt);
                let liq = aave_seizure(
                    r,
                    c,
                    cover,
                    debt_r,
                    coll_c,
                    pr,
                    pc,
                    res.bonus,
                    res.protocol_fee,
                );
                if aave_leaves_dust(*version, &liq, debt_r, coll_c, pr, pc) {
                    // Aave v3.3's MUST_NOT_LEAVE_DUST: both sides keep $1,000, or one goes.
                    return Err(format!(
                        "amount {amount} would leave less than ${AAVE_MIN_LEFTOVER_BASE} of debt \
                         or collateral (Aave v3.3's dust rule): cover all of it or leave more"
                    ));
                }
                Ok(liq)
            }
            Rules::CompoundV2 {
                close_factor,
                incentive,
                protocol_seize_share,
            } => {
                let max = close_factor * debt_r;
                if !fits(max) {
                    return Err(format!(
                        "amount {amount} passes the close factor: at most {max} of that debt"
                    ));
                }
                let repay = amount.min(max);
                let seized = repay * incentive * pr / pc;
                if seized > coll_c * (1.0 + 1e-12) {
                    // Comptroller's LIQUIDATE_SEIZE_TOO_MUCH.
                    return Err(format!(
                        "amount {amount} would seize {seized} of collateral, more than the \
                         account's {coll_c}"
                    ));
                }
                let seized = seized.min(coll_c);
                Ok(compound_v2_seizure(
                    r,
                    c,
                    repay,
                    seized,
                    *incentive,
                    *protocol_seize_share,
                ))
            }
            Rules::CompoundV3 { .. } => {
                Err("is on Compound III, which absorbs: call absorb, not a liquidation".to_owned())
            }
        }
    }
}

impl LendingMarket {
    /// A liquidation by the engine's user (a backtest's liquidator bot) between steps: `amount`
    /// units of the debt of asset `debt_asset` of account `account` (its id in event rows)
    /// repaid, its collateral of `collateral_asset` seized with the bonus, under the protocol's
    /// rules (see `manual.rs`). The user keeps the collateral (nothing is sold); the row is a
    /// `user_liquidation` event of the coming step. Refused with the account and the rule.
    pub(crate) fn liquidate_manual(
        &mut self,
        sh: &mut Shared,
        account: u32,
        debt_asset: usize,
        collateral_asset: usize,
        amount: f64,
    ) -> Result<ManualLiquidation> {
        let refuse = |why: String| Error::Refused { account, why };
        let i = self
            .original
            .iter()
            .position(|&o| o == account)
            .ok_or_else(|| refuse("is not a lending account".to_owned()))?;
        let p = self.acc.protocol[i] as usize;
        let slot = |a: usize| {
            self.acc
                .range(i)
                .position(|k| self.acc.asset[k] as usize == a)
        };
        let r = slot(debt_asset).ok_or_else(|| refuse("has no debt in that asset".to_owned()))?;
        let c = slot(collateral_asset)
            .ok_or_else(|| refuse("has no collateral in that asset".to_owned()))?;
        let l = &self.protocols[p];
        if l.sentinel && sh.outage.sentinel() {
            let hf = l.health(&self.acc.holdings(i), &sh.px);
            if hf >= super::SENTINEL_HEALTH {
                return Err(refuse(format!(
                    "has health factor {hf}: while the sequencer is down or in its grace period \
                     the PriceOracleSentinel allows a liquidation only below 0.95"
                )));
            }
        }
        let liq = self.protocols[p]
            .manual_liquidation(&self.acc.holdings(i), &sh.px, r, c, amount)
            .map_err(refuse)?;
        self.apply(i, &liq, &sh.px);
        let repaid_value = liq.repaid * sh.px[debt_asset];
        let mut ev = sh.event(
            0,
            EventKind::UserLiquidation,
            self.first_id + p as u32,
            account,
            collateral_asset,
        );
        ev.debt_asset = debt_asset as u32;
        ev.debt_repaid = liq.repaid;
        ev.debt_repaid_value = repaid_value;
        ev.collateral_seized = liq.seized;
        ev.bonus = liq.bonus;
        ev.protocol_fee = liq.protocol_fee;
        let h = self.acc.holdings(i);
        let l = &self.protocols[p];
        if !h.debt.iter().any(|&d| d > 0.0) {
            self.acc.status[i] = Status::Closed;
        } else if !l.has_collateral(&h) {
            ev.bad_debt = self.write_off(sh, i, true);
        } else if !self.in_queue[i] && l.health(&h, &sh.px) < 1.0 {
            // Still breached: the queue serves it in the next round like any breached account.
            self.in_queue[i] = true;
            self.queue.push(Entry {
                account: i as u32,
                breach_step: sh.step,
                seq: self.seq,
                stuck_step: u32::MAX,
            });
            self.seq = self.seq.wrapping_add(1);
        }
        self.push_event(sh, i, &ev);
        Ok(ManualLiquidation {
            repaid: liq.repaid,
            repaid_value,
            seized: liq.seized,
            bonus: liq.bonus,
            protocol_fee: liq.protocol_fee,
            bad_debt: ev.bad_debt,
        })
    }
}
