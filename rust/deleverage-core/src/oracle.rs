//! Price oracles that margin engines read (MECHANICS §3). Margin engines never read venues
//! directly: each asset has one oracle.
//!
//! Choice (MECHANICS §3): push, TWAP and delayed oracles update once per step, after venue upkeep
//! and before triggers; `spot` is re-read after every round; `reference` follows the exogenous path.

use std::collections::VecDeque;

use crate::error::{self, Result};

/// How an asset's oracle turns market prices into the price margin engines read.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum OracleKind {
    /// The current routed mid, re-read after every round.
    Spot,
    /// Chainlink-style: publish the spot when it moved by more than `deviation` (a fraction) since
    /// the last publication, or when `heartbeat` seconds passed.
    Push { deviation: f64, heartbeat: f64 },
    /// Arithmetic time-weighted mean of the spot over the last `window` seconds.
    Twap { window: f64 },
    /// Maker OSM-style: the end-of-step spot of the last step at or before `t − delay`.
    Delayed { delay: f64 },
    /// The exogenous reference path, without endogenous impact.
    Reference,
    /// A perp mark price: `weight·spot + (1 − weight)·reference` (the perp mid blended with the
    /// index), re-read after every round like the spot.
    Blend { weight: f64 },
}

impl OracleKind {
    pub fn validate(&self, asset: &str) -> Result<()> {
        match *self {
            OracleKind::Push {
                deviation,
                heartbeat,
            } => {
                error::non_negative(&format!("{asset}.oracle.deviation"), deviation)?;
                error::positive(&format!("{asset}.oracle.heartbeat"), heartbeat)?;
            }
            OracleKind::Twap { window } => {
                error::positive(&format!("{asset}.oracle.window"), window)?;
            }
            OracleKind::Delayed { delay } => {
                error::positive(&format!("{asset}.oracle.delay"), delay)?;
            }
            OracleKind::Blend { weight } => {
                error::in_range(
                    &format!("{asset}.oracle.weight"),
                    weight,
                    0.0,
                    1.0,
                    false,
                    "in [0, 1]",
                )?;
            }
            OracleKind::Spot | OracleKind::Reference => {}
        }
        Ok(())
    }

    /// Whether the oracle follows the venues within a step (re-read after every round).
    pub fn is_spot(&self) -> bool {
        matches!(self, OracleKind::Spot | OracleKind::Blend { .. })
    }
}

/// One asset's oracle and the history it needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Oracle {
    kind: OracleKind,
    value: f64,
    /// Time of the last publication (push).
    published_at: f64,
    /// The spot before t₀, used for TWAP and delayed windows that reach before the start.
    initial: f64,
    /// The reference price of the current step (blend).
    reference: f64,
    /// End-of-step spots `(t_i, p_i)`: p holds over `[t_i, t_i + step)`. Oldest first; trimmed to
    /// what the window or the delay still needs.
    history: VecDeque<(f64, f64)>,
}

impl Oracle {
    pub fn new(kind: OracleKind, initial: f64) -> Self {
        Oracle {
            kind,
            value: initial,
            published_at: 0.0,
            initial,
            reference: initial,
            history: VecDeque::new(),
        }
    }

    pub fn kind(&self) -> OracleKind {
        self.kind
    }

    /// The price margin engines read now.
    #[inline]
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The once-per-step update at time `t`, after venue upkeep: `spot` is the routed mid now and
    /// `reference` the exogenous price.
    pub fn update_step(&mut self, t: f64, spot: f64, reference: f64) {
        self.reference = reference;
        match self.kind {
            OracleKind::Blend { weight } => self.value = weight * spot + (1.0 - weight) * reference,
            OracleKind::Spot => self.value = spot,
            OracleKind::Reference => self.value = reference,
            OracleKind::Push {
                deviation,
                heartbeat,
            } => {
                let moved = (spot - self.value).abs() / self.value;
                if moved > deviation || t - self.published_at >= heartbeat {
                    self.value = spot;
                    self.published_at = t;
                }
            }
            OracleKind::Twap { window } => self.value = self.twap(t, window),
            OracleKind::Delayed { delay } => self.value = self.delayed(t, delay),
        }
    }

    /// Re-read after a round: only the spot oracle follows the venues within a step.
    #[inline]
    pub fn update_round(&mut self, spot: f64) {
        match self.kind {
            OracleKind::Spot => self.value = spot,
            OracleKind::Blend { weight } => {
                self.value = weight * spot + (1.0 - weight) * self.reference;
            }
            _ => {}
        }
    }

    /// Records the spot at the end of the step that started at `t`: it holds over `[t, t + dt)`.
    pub fn end_step(&mut self, t: f64, spot: f64) {
        let keep = match self.kind {
            OracleKind::Twap { window } => window,
            OracleKind::Delayed { delay } => delay,
            _ => return,
        };
        self.history.push_back((t, spot));
        // Keep the newest segment that starts at or before `t − keep`, and everything after.
        while self.history.len() >= 2 && self.history[1].0 <= t - keep {
            self.history.pop_front();
        }
    }

    /// `(1/W)∫_{t−W}^{t} p(s) ds` over the recorded segments, the initial spot before t₀.
    fn twap(&self, t: f64, window: f64) -> f64 {
        let from = t - window;
        let mut acc = 0.0;
        // Segment j spans [t_j, t_{j+1}) (the last one up to t); before the first, the initial spot.
        let first_start = self.history.front().map_or(t, |s| s.0);
        if from < first_start {
            acc += self.initial * (first_start.min(t) - from);
        }
        for (j, &(start, p)) in self.history.iter().enumerate() {
            let end = self.history.get(j + 1).map_or(t, |s| s.0).min(t);
            let lo = start.max(from);
            if end > lo {
                acc += p * (end - lo);
            }
        }
        acc / window
    }

    /// End-of-step spot of the last step at or before `t − delay`; the initial spot before t₀.
    fn delayed(&self, t: f64, delay: f64) -> f64 {
        let cutoff = t - delay;
        self.history
            .iter()
            .rev()
            .find(|s| s.0 <= cutoff)
            .map_or(self.initial, |s| s.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_weights_the_perp_mid_and_the_index() {
        // Mark = 0.3·mid + 0.7·index: 0.3·90 + 0.7·100 = 97; after a round moves the mid to 80,
        // 0.3·80 + 0.7·100 = 94 (the index holds within the step).
        let mut o = Oracle::new(OracleKind::Blend { weight: 0.3 }, 100.0);
        o.update_step(12.0, 90.0, 100.0);
        assert!((o.value() - 97.0).abs() < 1e-12);
        o.update_round(80.0);
        assert!((o.value() - 94.0).abs() < 1e-12);
        assert!(OracleKind::Blend { weight: 1.5 }.validate("X").is_err());
    }

    #[test]
    fn push_publishes_on_deviation_or_heartbeat() {
        let mut o = Oracle::new(
            OracleKind::Push {
                deviation: 0.005,
                heartbeat: 3600.0,
            },
            100.0,
        );
        o.update_step(12.0, 100.5, 100.0); // exactly 0.5 %: not strictly more
        assert_eq!(o.value(), 100.0);
        o.update_step(24.0, 100.51, 100.0);
        assert_eq!(o.value(), 100.51);
        o.update_step(36.0, 100.6, 100.0); // 0.09 % since the last publication
        assert_eq!(o.value(), 100.51);
        o.update_step(24.0 + 3600.0, 100.6, 100.0); // heartbeat: t − t_last ≥ 3600
        assert_eq!(o.value(), 100.6);
    }

    #[test]
    fn twap_integrates_end_of_step_spots() {
        // Steps of 12 s; window 36 s. Spots at the end of steps 0, 1, 2: 90, 80, 70.
        let mut o = Oracle::new(OracleKind::Twap { window: 36.0 }, 100.0);
        o.update_step(0.0, 100.0, 100.0);
        assert_eq!(o.value(), 100.0);
        o.end_step(0.0, 90.0);
        o.update_step(12.0, 90.0, 100.0);
        // [−24, 0): 100; [0, 12): 90 → (24·100 + 12·90)/36
        assert!((o.value() - (2400.0 + 1080.0) / 36.0).abs() < 1e-12);
        o.end_step(12.0, 80.0);
        o.end_step(24.0, 70.0);
        o.update_step(36.0, 70.0, 100.0);
        assert!((o.value() - (90.0 + 80.0 + 70.0) / 3.0).abs() < 1e-12);
        o.end_step(36.0, 60.0);
        o.update_step(48.0, 60.0, 100.0);
        assert!((o.value() - (80.0 + 70.0 + 60.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn delayed_reads_the_past() {
        let mut o = Oracle::new(OracleKind::Delayed { delay: 3600.0 }, 100.0);
        for i in 0..400 {
            let t = 12.0 * i as f64;
            o.update_step(t, 0.0, 0.0);
            let want = if t - 3600.0 < 0.0 {
                100.0
            } else {
                // the last step j with 12·j ≤ t − 3600 ended at spot 1000 + j
                1000.0 + ((t - 3600.0) / 12.0).floor()
            };
            assert_eq!(o.value(), want, "t = {t}");
            o.end_step(t, 1000.0 + i as f64);
        }
    }
}
