//! Margin rules of lending protocols (MECHANICS §4): Aave v3 (v3.0–v3.2 and v3.3+), Compound v2
//! and Compound III (Comet).
//!
//! All three share one health measure, `HF = Σ coll·p·θ / Σ debt·p` with θ the asset's threshold
//! (Aave liquidation threshold, Compound v2 collateral factor, Comet liquidate collateral factor),
//! and all three liquidate strictly below 1. They differ in what a liquidation does.

use crate::error::{self, Error, Result};

/// The Aave v3 liquidation rules in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AaveVersion {
    /// v3.0–v3.2: close factor 50 % above HF 0.95, 100 % at or below; debt left without
    /// collateral stays on the account.
    V3_0,
    /// v3.3+: whole debt reserve by default, 50 % of total debt for positions of $2,000 or more
    /// above HF 0.95, the $1,000 dust rule and the deficit write-off.
    V3_3,
}

impl AaveVersion {
    /// The Aave v3 releases the engine models; 3.0–3.2 run the v3.0 rules, 3.3 and later v3.3's.
    pub const RELEASES: &'static [&'static str] =
        &["3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7"];

    /// Whether release `release`'s liquidation checks the PriceOracleSentinel: v3.0–v3.6 do,
    /// v3.7 removed the check (MECHANICS §2.11, §4.2).
    pub fn checks_sentinel(release: &str) -> bool {
        Self::RELEASES
            .iter()
            .position(|r| *r == release)
            .is_some_and(|k| k < 7)
    }

    /// The rules of Aave release `release`; an error naming `field` and the releases otherwise.
    pub fn from_release(field: &str, release: &str) -> Result<Self> {
        match Self::RELEASES.iter().position(|r| *r == release) {
            Some(k) if k < 3 => Ok(AaveVersion::V3_0),
            Some(_) => Ok(AaveVersion::V3_3),
            None => Err(Error::UnknownName {
                field: field.to_owned(),
                value: release.to_owned(),
                expected: Self::RELEASES,
            }),
        }
    }
}

/// Aave v3.3's thresholds in quote (the deployed 2000e8 and 1000e8 base-currency constants).
pub const AAVE_MIN_BASE_MAX_CLOSE_FACTOR: f64 = 2_000.0;
pub const AAVE_MIN_LEFTOVER_BASE: f64 = 1_000.0;
/// Health factor at or below which Aave liquidates the whole debt reserve.
pub const AAVE_CLOSE_FACTOR_HF_THRESHOLD: f64 = 0.95;

/// What a protocol instance does when an account breaches.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Rules {
    AaveV3 {
        version: AaveVersion,
    },
    /// `incentive` is the seize multiplier (1.08 = 8 % bonus); `protocol_seize_share` the part of
    /// the whole seizure that goes to reserves (0.028).
    CompoundV2 {
        close_factor: f64,
        incentive: f64,
        protocol_seize_share: f64,
    },
    /// `absorb` takes all collateral; keepers buy it at a storefront discount while reserves are
    /// below `target_reserves` (in base units).
    CompoundV3 {
        base: u32,
        store_front_price_factor: f64,
        target_reserves: f64,
        reserves: f64,
    },
}

/// Per-asset parameters of a protocol instance.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reserve {
    /// θ: Aave liquidation threshold, Compound v2 collateral factor, Comet liquidate CF.
    pub threshold: f64,
    /// Aave liquidation bonus (0.05 = 5 %). Unused by Compound v2 (global incentive).
    pub bonus: f64,
    /// Aave liquidation protocol fee: the share of the bonus the treasury takes.
    pub protocol_fee: f64,
    /// Comet liquidation factor: the share of collateral value credited on absorb.
    pub liquidation_factor: f64,
}

/// A lending protocol instance: its rules, its reserves' parameters and its books.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lending {
    pub rules: Rules,
    /// Parameters per asset id; `None` for assets the instance does not list.
    pub reserves: Vec<Option<Reserve>>,
    /// Debt written off per asset (Aave v3.3+ deficits), in asset units.
    pub deficit: Vec<f64>,
    /// Collateral the treasury (Aave fee, Compound v2 reserves) or the protocol (Comet absorb)
    /// holds, per asset, in units.
    pub treasury: Vec<f64>,
    /// Whether liquidations check Aave's PriceOracleSentinel (MECHANICS §2.11: v3.0–v3.6 on
    /// an L2): while the sequencer is down or in its grace period, only below HF 0.95.
    #[serde(default)]
    pub sentinel: bool,
}

/// One liquidation's effect on an account, in asset units (slots index the account's holdings).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Liquidation {
    pub debt_slot: usize,
    pub coll_slot: usize,
    /// Debt repaid by the liquidator.
    pub repaid: f64,
    /// Collateral taken from the account (bonus and protocol fee included).
    pub seized: f64,
    /// Part of `seized` that is bonus.
    pub bonus: f64,
    /// Part of `seized` that goes to the treasury.
    pub protocol_fee: f64,
}

/// An account's holdings: parallel slices of asset ids, collateral and debt units.
#[derive(Debug, Clone, Copy)]
pub struct Holdings<'a> {
    pub asset: &'a [u32],
    pub collateral: &'a [f64],
    pub debt: &'a [f64],
}

fn argmax_value(
    h: &Holdings<'_>,
    prices: &[f64],
    units: &[f64],
    eligible: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (k, &u) in units.iter().enumerate() {
        if u > 0.0 && eligible(k) {
            let v = u * prices[h.asset[k] as usize];
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((k, v));
            }
        }
    }
    best.map(|(k, _)| k)
}

impl Lending {
    pub fn new(rules: Rules, reserves: Vec<Option<Reserve>>) -> Result<Self> {
        let n = reserves.len();
        match &rules {
            Rules::AaveV3 { .. } => {}
            Rules::CompoundV2 {
                close_factor,
                incentive,
                protocol_seize_share,
            } => {
                // Comptroller._setCloseFactor bounds (MECHANICS §4.5).
                error::in_range(
                    "close_factor",
                    *close_factor,
                    0.05,
                    0.9,
                    false,
                    "in [0.05, 0.9]",
                )?;
                error::in_range(
                    "liquidation_incentive",
                    *incentive,
                    1.0,
                    f64::MAX,
                    false,
                    ">= 1 (a multiplier)",
                )?;
                error::in_range(
                    "protocol_seize_share",
                    *protocol_seize_share,
                    0.0,
                    1.0,
                    true,
                    "in [0, 1)",
                )?;
            }
            Rules::CompoundV3 {
                base,
                store_front_price_factor,
                target_reserves,
                reserves,
            } => {
                if *base as usize >= n {
                    return Err(Error::OutOfRange {
                        field: "base_asset".to_owned(),
                        value: *base as f64,
                        expected: "a listed asset",
                    });
                }
                error::in_range(
                    "store_front_price_factor",
                    *store_front_price_factor,
                    0.0,
                    1.0,
                    false,
                    "in [0, 1]",
                )?;
                error::non_negative("target_reserves", *target_reserves)?;
                error::finite("reserves", *reserves)?;
            }
        }
        for (a, r) in reserves.iter().enumerate() {
            let Some(r) = r else { continue };
            check_reserve(&rules, r).map_err(|e| Error::Row {
                what: "reserves",
                index: a,
                source: Box::new(e),
            })?;
        }
        Ok(Lending {
            sentinel: false,
            rules,
            reserves,
            deficit: vec![0.0; n],
            treasury: vec![0.0; n],
        })
    }

    #[inline]
    pub fn threshold(&self, asset: u32) -> f64 {
        self.reserves[asset as usize].map_or(0.0, |r| r.threshold)
    }

    /// Threshold-weighted collateral value and debt value.
    pub fn weighted(&self, h: &Holdings<'_>, prices: &[f64]) -> (f64, f64) {
        let mut w = 0.0;
        let mut b = 0.0;
        for k in 0..h.asset.len() {
            let a = h.asset[k];
            let p = prices[a as usize];
            w += h.collateral[k] * p * self.threshold(a);
            b += h.debt[k] * p;
        }
        (w, b)
    }

    /// `HF = W/B`; `f64::INFINITY` without debt.
    pub fn health(&self, h: &Holdings<'_>, prices: &[f64]) -> f64 {
        let (w, b) = self.weighted(h, prices);
        if b > 0.0 { w / b } else { f64::INFINITY }
    }

    /// Whether any collateral the rules can seize is left.
    pub fn has_collateral(&self, h: &Holdings<'_>) -> bool {
        (0..h.asset.len()).any(|k| h.collateral[k] > 0.0 && self.threshold(h.asset[k]) > 0.0)
    }

    /// The liquidation a liquidator with `budget` of quote would make now, or `None` when the
    /// account is healthy, has nothing left to seize, or the dust rule leaves no admissible size.
    pub fn liquidation(
        &self,
        h: &Holdings<'_>,
        prices: &[f64],
        budget: f64,
    ) -> Option<Liquidation> {
        let hf = self.health(h, prices);
        if hf >= 1.0 || budget <= 0.0 {
            return None;
        }
        let r = argmax_value(h, prices, h.debt, |_| true)?;
        let c = argmax_value(h, prices, h.collateral, |k| {
            self.threshold(h.asset[k]) > 0.0
        })?;
        let (pr, pc) = (prices[h.asset[r] as usize], prices[h.asset[c] as usize]);
        let (debt_r, coll_c) = (h.debt[r], h.collateral[c]);
        match &self.rules {
            Rules::AaveV3 { version } => {
                let res = self.reserves[h.asset[c] as usize]?;
                let bonus = res.bonus;
                let max_debt = aave_max_debt(*version, h, prices, hf, r, c);
                let cover = max_debt.min(budget / pr);
                let mut liq =
                    aave_seizure(r, c, cover, debt_r, coll_c, pr, pc, bonus, res.protocol_fee);
                if aave_leaves_dust(*version, &liq, debt_r, coll_c, pr, pc) {
                    // Choice (MECHANICS §4.4 step 3): the largest cover that leaves $1,000 of both.
                    let cover = (debt_r - AAVE_MIN_LEFTOVER_BASE / pr)
                        .min((coll_c - AAVE_MIN_LEFTOVER_BASE / pc) * pc / (pr * (1.0 + bonus)))
                        .min(cover);
                    if cover <= 0.0 {
                        return None;
                    }
                    liq =
                        aave_seizure(r, c, cover, debt_r, coll_c, pr, pc, bonus, res.protocol_fee);
                }
                Some(liq)
            }
            Rules::CompoundV2 {
                close_factor,
                incentive,
                protocol_seize_share,
            } => {
                // Choice (MECHANICS §4.5): min(closeFactor·borrow, the repay that seizes it all).
                let all = coll_c * pc / (incentive * pr);
                let repay = (close_factor * debt_r).min(all).min(budget / pr);
                let seized = if repay == all {
                    coll_c
                } else {
                    repay * incentive * pr / pc
                };
                Some(compound_v2_seizure(
                    r,
                    c,
                    repay,
                    seized,
                    *incentive,
                    *protocol_seize_share,
                ))
            }
            Rules::CompoundV3 { .. } => None,
        }
    }
}

/// Aave v3's close factor (MECHANICS §4.2, §4.4): the most debt of slot `r` one liquidation may
/// cover with collateral slot `c`, at health factor `hf`.
pub(crate) fn aave_max_debt(
    version: AaveVersion,
    h: &Holdings<'_>,
    prices: &[f64],
    hf: f64,
    r: usize,
    c: usize,
) -> f64 {
    let (pr, pc) = (prices[h.asset[r] as usize], prices[h.asset[c] as usize]);
    let (debt_r, coll_c) = (h.debt[r], h.collateral[c]);
    match version {
        AaveVersion::V3_0 => {
            if hf > AAVE_CLOSE_FACTOR_HF_THRESHOLD {
                0.5 * debt_r
            } else {
                debt_r
            }
        }
        AaveVersion::V3_3 => {
            let total_debt: f64 = (0..h.asset.len())
                .map(|k| h.debt[k] * prices[h.asset[k] as usize])
                .sum();
            if coll_c * pc >= AAVE_MIN_BASE_MAX_CLOSE_FACTOR
                && debt_r * pr >= AAVE_MIN_BASE_MAX_CLOSE_FACTOR
                && hf > AAVE_CLOSE_FACTOR_HF_THRESHOLD
                && debt_r * pr > 0.5 * total_debt
            {
                0.5 * total_debt / pr
            } else {
                debt_r
            }
        }
    }
}

/// The bounds the protocols' configurators put on one reserve (MECHANICS §4.1, §4.5).
fn check_reserve(rules: &Rules, r: &Reserve) -> Result<()> {
    error::in_range(
        "liquidation_threshold",
        r.threshold,
        0.0,
        1.0,
        false,
        "in [0, 1]",
    )?;
    error::non_negative("liquidation_bonus", r.bonus)?;
    error::in_range("protocol_fee", r.protocol_fee, 0.0, 1.0, false, "in [0, 1]")?;
    error::in_range(
        "liquidation_factor",
        r.liquidation_factor,
        0.0,
        1.0,
        false,
        "in [0, 1]",
    )?;
    if let Rules::CompoundV2 { .. } = rules {
        // Comptroller._setCollateralFactor: at most 0.9.
        error::in_range(
            "collateral_factor",
            r.threshold,
            0.0,
            0.9,
            false,
            "in [0, 0.9]",
        )?;
    }
    if let Rules::AaveV3 { .. } = rules
        && r.threshold > 0.0
    {
        // Aave's configurator: bonus > 0 and LT·(1 + bonus) ≤ 1 (MECHANICS §4.1).
        error::positive("liquidation_bonus", r.bonus)?;
        if r.threshold * (1.0 + r.bonus) > 1.0 {
            return Err(Error::OutOfRange {
                field: "liquidation_threshold".to_owned(),
                value: r.threshold * (1.0 + r.bonus),
                expected: "such that liquidation_threshold·(1 + liquidation_bonus) <= 1",
            });
        }
    }
    Ok(())
}

/// MECHANICS §4.3: the collateral seized for `cover` of debt, capped by the balance.
#[allow(clippy::too_many_arguments, reason = "the formula's own inputs")]
pub(crate) fn aave_seizure(
    r: usize,
    c: usize,
    cover: f64,
    debt_r: f64,
    coll_c: f64,
    pr: f64,
    pc: f64,
    bonus: f64,
    fee: f64,
) -> Liquidation {
    let cover = cover.min(debt_r);
    let base = cover * pr / pc;
    let max_coll = base * (1.0 + bonus);
    let (seized, repaid) = if max_coll > coll_c {
        (coll_c, coll_c * pc / pr / (1.0 + bonus))
    } else {
        (max_coll, cover)
    };
    let bonus_units = seized - seized / (1.0 + bonus);
    Liquidation {
        debt_slot: r,
        coll_slot: c,
        repaid,
        seized,
        bonus: bonus_units,
        protocol_fee: bonus_units * fee,
    }
}

/// Aave v3.3's `MUST_NOT_LEAVE_DUST` (MECHANICS §4.4): a liquidation that closes neither side
/// must leave at least `AAVE_MIN_LEFTOVER_BASE` of value of both the debt and the collateral.
pub(crate) fn aave_leaves_dust(
    version: AaveVersion,
    liq: &Liquidation,
    debt_r: f64,
    coll_c: f64,
    pr: f64,
    pc: f64,
) -> bool {
    version == AaveVersion::V3_3
        && liq.repaid < debt_r
        && liq.seized < coll_c
        && ((debt_r - liq.repaid) * pr < AAVE_MIN_LEFTOVER_BASE
            || (coll_c - liq.seized) * pc < AAVE_MIN_LEFTOVER_BASE)
}

/// A Compound v2 seizure (MECHANICS §4.5): `repay` of debt slot `r` for `seized` of collateral
/// slot `c`, of which `seized − seized/incentive` is the bonus and `protocol_seize_share·seized`
/// goes to the reserves.
pub(crate) fn compound_v2_seizure(
    r: usize,
    c: usize,
    repay: f64,
    seized: f64,
    incentive: f64,
    protocol_seize_share: f64,
) -> Liquidation {
    Liquidation {
        debt_slot: r,
        coll_slot: c,
        repaid: repay,
        seized,
        bonus: seized - seized / incentive,
        protocol_fee: protocol_seize_share * seized,
    }
}

/// Comet's absorb of an account (MECHANICS §4.6): the value credited for its collateral,
/// `Σ coll·p·liquidationFactor`.
pub fn comet_delta_value(l: &Lending, h: &Holdings<'_>, prices: &[f64]) -> f64 {
    (0..h.asset.len())
        .map(|k| {
            let a = h.asset[k];
            let lf = l.reserves[a as usize].map_or(0.0, |r| r.liquidation_factor);
            h.collateral[k] * prices[a as usize] * lf
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aave(version: AaveVersion) -> Lending {
        let eth = Reserve {
            threshold: 0.80,
            bonus: 0.07,
            protocol_fee: 0.15,
            liquidation_factor: 0.0,
        };
        let stable = Reserve {
            threshold: 0.0,
            bonus: 0.0,
            protocol_fee: 0.0,
            liquidation_factor: 0.0,
        };
        Lending::new(
            Rules::AaveV3 { version },
            vec![Some(eth), Some(stable), Some(stable)],
        )
        .unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn worked_example_3a_deficit() {
        // 4.2 ETH at 2,450; 9,800 USDC debt; LT 0.80, bonus 0.07, fee 0.15.
        let l = aave(AaveVersion::V3_3);
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[4.2, 0.0],
            debt: &[0.0, 9_800.0],
        };
        let prices = [2_450.0, 1.0, 1.0];
        assert!(close(l.health(&h, &prices), 0.84));
        let liq = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        assert_eq!((liq.debt_slot, liq.coll_slot), (1, 0));
        assert!(close(liq.seized, 4.2));
        assert!(close(liq.repaid, 9_616.822_429_91));
        assert!(close(liq.bonus, 0.274_766_355_140));
        assert!(close(liq.protocol_fee, 0.041_214_953_271_0));
        assert!(close(liq.seized - liq.protocol_fee, 4.158_785_046_73));
    }

    #[test]
    fn worked_example_3b_close_factor_on_total_debt() {
        // 60 ETH at 2,450; debts 80,000 USDC and 39,000 DAI.
        let h = Holdings {
            asset: &[0, 1, 2],
            collateral: &[60.0, 0.0, 0.0],
            debt: &[0.0, 80_000.0, 39_000.0],
        };
        let prices = [2_450.0, 1.0, 1.0];
        let l = aave(AaveVersion::V3_3);
        assert!(close(l.health(&h, &prices), 0.988_235_294));
        let liq = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        assert!(close(liq.repaid, 59_500.0));
        assert!(close(liq.seized, 25.985_714_285_7));
        assert!(close(liq.bonus, 1.7));
        assert!(close(liq.protocol_fee, 0.255));
        // v3.0–v3.2: 50 % of the largest debt reserve.
        let liq = aave(AaveVersion::V3_0)
            .liquidation(&h, &prices, f64::INFINITY)
            .unwrap();
        assert!(close(liq.repaid, 40_000.0));
    }

    #[test]
    fn close_factor_boundary_at_095() {
        // HF exactly 0.95 liquidates 100 %; just above, 50 % (v3.0).
        let l = aave(AaveVersion::V3_0);
        let prices = [1_000.0, 1.0, 1.0];
        // W = 10·1000·0.8 = 8,000; debt 8,000/0.95 → HF = 0.95.
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[10.0, 0.0],
            debt: &[0.0, 8_000.0 / 0.95],
        };
        let hf = l.health(&h, &prices);
        assert!(hf <= 0.95, "{hf}");
        // At 0.95 the whole 8,421.05 is covered: it needs $9,010.5 of the $10,000 collateral.
        let full = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        assert!(close(full.repaid, 8_000.0 / 0.95));
        // Just above 0.95: half.
        let h2 = Holdings {
            asset: &[0, 1],
            collateral: &[10.0, 0.0],
            debt: &[0.0, 8_000.0 / 0.9501],
        };
        let half = l.liquidation(&h2, &prices, f64::INFINITY).unwrap();
        assert!(close(half.repaid, 0.5 * 8_000.0 / 0.9501));
    }

    #[test]
    fn dust_rule_lowers_the_cover() {
        let l = aave(AaveVersion::V3_3);
        let prices = [2_000.0, 1.0, 1.0];
        // 1.5 ETH ($3,000) against 2,500 USDC: HF = 0.96 > 0.95, both sides ≥ $2,000 → maxDebt
        // = 0.5·2,500 = 1,250; seized 1,250·1.07/2,000 = 0.66875 ETH; $1,662.5 and 1,250 USDC
        // stay, both ≥ $1,000: the dust rule passes.
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[1.5, 0.0],
            debt: &[0.0, 2_500.0],
        };
        let liq = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        assert!(close(liq.repaid, 1_250.0));
        assert!(close(liq.seized, 0.668_75));
        // 1.6 ETH ($3,200) against 3,400 USDC: HF 0.7529 → whole reserve. A liquidator with only
        // $2,500 covers 2,500: seized 1.3375 ETH leaves 0.2625 ETH = $525 < $1,000, so the cover
        // is lowered to min(3,400 − 1,000, (1.6 − 0.5)·2,000/1.07) = 2,056.07: seized 1.1 ETH.
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[1.6, 0.0],
            debt: &[0.0, 3_400.0],
        };
        let liq = l.liquidation(&h, &prices, 2_500.0).unwrap();
        assert!(close(liq.repaid, 1.1 * 2_000.0 / 1.07));
        assert!(close(liq.seized, 1.1));
        // v3.0 has no dust rule: the budget is the cover.
        let liq = aave(AaveVersion::V3_0)
            .liquidation(&h, &prices, 2_500.0)
            .unwrap();
        assert!(close(liq.repaid, 2_500.0));
        // 0.8 ETH ($1,600) against 1,400 USDC (HF 0.914) with a $500 budget would leave 900 USDC
        // of debt: lowered to min(1,400 − 1,000, (0.8 − 0.5)·2,000/1.07) = 400.
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[0.8, 0.0],
            debt: &[0.0, 1_400.0],
        };
        let liq = l.liquidation(&h, &prices, 500.0).unwrap();
        assert!(close(liq.repaid, 400.0));
        assert!(close(liq.seized, 0.214));
        // 0.5 ETH ($1,000) against 850 USDC (HF 0.941): no cover leaves $1,000 of both: skipped.
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[0.5, 0.0],
            debt: &[0.0, 850.0],
        };
        assert!(l.liquidation(&h, &prices, 300.0).is_none());
        // With budget for all of it, the whole reserve goes and the rule does not apply.
        let liq = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        assert!(close(liq.repaid, 850.0));
    }

    #[test]
    fn partial_liquidation_lowers_health_below_lt_times_bonus() {
        // MECHANICS §8: HF' − HF = r(HF − LT(1+β))/(B − r). HF = 0.99 > 0.95 → r = B/2 (v3.0).
        let l = aave(AaveVersion::V3_0);
        let prices = [1_000.0, 1.0, 1.0];
        let b = 8_000.0 / 0.99;
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[10.0, 0.0],
            debt: &[0.0, b],
        };
        let hf = l.health(&h, &prices);
        let liq = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        let r = liq.repaid;
        let h2 = Holdings {
            asset: &[0, 1],
            collateral: &[10.0 - liq.seized, 0.0],
            debt: &[0.0, b - r],
        };
        let hf2 = l.health(&h2, &prices);
        let want = hf + r * (hf - 0.8 * 1.07) / (b - r);
        assert!(close(hf2, want));
        assert!(hf2 > hf); // 0.99 > LT(1 + β) = 0.856: this one raises it
        // Below 0.856 a partial liquidation lowers HF: HF 0.96 (still 50 %)? 0.96 > 0.856 too.
        // Use a bonus-heavy reserve where LT(1+β) = 0.8·1.25 = 1.0 > HF.
        let heavy = Lending::new(
            Rules::AaveV3 {
                version: AaveVersion::V3_0,
            },
            vec![
                Some(Reserve {
                    threshold: 0.8,
                    bonus: 0.25,
                    protocol_fee: 0.0,
                    liquidation_factor: 0.0,
                }),
                None,
                None,
            ],
        )
        .unwrap();
        let liq = heavy.liquidation(&h, &prices, f64::INFINITY).unwrap();
        let h3 = Holdings {
            asset: &[0, 1],
            collateral: &[10.0 - liq.seized, 0.0],
            debt: &[0.0, b - liq.repaid],
        };
        let hf3 = heavy.health(&h3, &prices);
        assert!(hf3 < hf);
        assert!(close(hf3, hf + liq.repaid * (hf - 1.0) / (b - liq.repaid)));
    }

    #[test]
    fn aave_rejects_bonus_that_breaks_solvency() {
        let e = Lending::new(
            Rules::AaveV3 {
                version: AaveVersion::V3_3,
            },
            vec![Some(Reserve {
                threshold: 0.95,
                bonus: 0.1,
                protocol_fee: 0.1,
                liquidation_factor: 0.0,
            })],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("liquidation_threshold·(1 + liquidation_bonus) <= 1"),
            "{e}"
        );
    }

    #[test]
    fn compound_v2_seize() {
        // Borrow 1,000 USDC against 1 ETH at 1,150 with CF 0.825: shortfall = 1000 − 948.75 > 0.
        // close factor 0.5 → repay 500; seize 500·1.08/1,150 ETH; protocol 2.8 % of it.
        let l = Lending::new(
            Rules::CompoundV2 {
                close_factor: 0.5,
                incentive: 1.08,
                protocol_seize_share: 0.028,
            },
            vec![
                Some(Reserve {
                    threshold: 0.825,
                    bonus: 0.0,
                    protocol_fee: 0.0,
                    liquidation_factor: 0.0,
                }),
                Some(Reserve {
                    threshold: 0.0,
                    bonus: 0.0,
                    protocol_fee: 0.0,
                    liquidation_factor: 0.0,
                }),
            ],
        )
        .unwrap();
        let prices = [1_150.0, 1.0];
        let h = Holdings {
            asset: &[0, 1],
            collateral: &[1.0, 0.0],
            debt: &[0.0, 1_000.0],
        };
        let liq = l.liquidation(&h, &prices, f64::INFINITY).unwrap();
        assert!(close(liq.repaid, 500.0));
        assert!(close(liq.seized, 540.0 / 1_150.0));
        assert!(close(liq.protocol_fee, 0.028 * 540.0 / 1_150.0));
        // Underwater: 1 ETH at 400 cannot back 500·1.08 of seizure: repay = 400/1.08, all seized.
        let liq = l.liquidation(&h, &[400.0, 1.0], f64::INFINITY).unwrap();
        assert!(close(liq.seized, 1.0));
        assert!(close(liq.repaid, 400.0 / 1.08));
    }
}
