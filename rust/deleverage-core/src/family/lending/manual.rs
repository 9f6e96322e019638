//! A liquidation the engine's user makes by hand (a liquidator bot in a backtest), under the
//! protocol's own rules, as its contract would accept or revert it (MECHANICS §4.2–4.6): the
//! account must be liquidatable, the debt and collateral reserves must be the account's, and the
//! amount may not pass the close factor (nor, from Aave v3.3, leave dust behind).

use super::rules::{
    AAVE_MIN_LEFTOVER_BASE, AaveVersion, Holdings, Lending, Liquidation, Rules, aave_max_debt,
    aave_seizure,
};

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
                if *version == AaveVersion::V3_3
                    && liq.repaid < debt_r
                    && liq.seized < coll_c
                    && ((debt_r - liq.repaid) * pr < AAVE_MIN_LEFTOVER_BASE
                        || (coll_c - liq.seized) * pc < AAVE_MIN_LEFTOVER_BASE)
                {
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
                Ok(Liquidation {
                    debt_slot: r,
                    coll_slot: c,
                    repaid: repay,
                    seized,
                    bonus: seized - seized / incentive,
                    protocol_fee: protocol_seize_share * seized,
                })
            }
            Rules::CompoundV3 { .. } => {
                Err("is on Compound III, which absorbs: call absorb, not a liquidation".to_owned())
            }
        }
    }
}
