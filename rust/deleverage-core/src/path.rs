//! Exogenous price paths (DESIGN §4.6): the reference price of every asset at every step,
//! before endogenous impact. All random paths are seeded.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson, StandardNormal};

use crate::error::{self, Error, Result};
use crate::memory;

/// Seconds in the year that annualised drifts, volatilities and jump intensities refer to.
pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// An exogenous path specification. Row `s` of a generated path is the reference price of each
/// asset during step `s` (after that step's exogenous move).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PathSpec {
    /// One move at step 0 (simple returns per asset, each > −1), then flat.
    Instant { returns: Vec<f64> },
    /// Reference prices given per step and asset (row-major, `steps × assets`).
    Levels { prices: Vec<f64> },
    /// Geometric Brownian motion with correlated assets: annualised drift `mu` and volatility
    /// `sigma` per asset, correlation matrix `corr` (row-major). Optional Merton jumps: intensity
    /// `jump_intensity` per year, log-jump sizes Normal(`jump_mean`, `jump_std`).
    Diffusion {
        mu: Vec<f64>,
        sigma: Vec<f64>,
        corr: Vec<f64>,
        jump_intensity: Vec<f64>,
        jump_mean: Vec<f64>,
        jump_std: Vec<f64>,
    },
}

/// Cholesky factor `L` (row-major, lower) of a symmetric positive semi-definite matrix.
fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d < -1e-12 {
                    return Err(Error::OutOfRange {
                        field: "corr".to_owned(),
                        value: d,
                        expected: "positive semi-definite (a negative pivot was found)",
                    });
                }
                l[i * n + i] = d.max(0.0).sqrt();
            } else {
                let p = l[j * n + j];
                l[i * n + j] = if p > 0.0 { (a[i * n + j] - s) / p } else { 0.0 };
            }
        }
    }
    Ok(l)
}

fn check_len(field: &str, v: &[f64], n: usize) -> Result<()> {
    if v.len() == n {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            field: field.to_owned(),
            got: v.len(),
            other: "assets".to_owned(),
            expected: n,
        })
    }
}

impl PathSpec {
    /// The reference prices, row-major `steps × assets`.
    pub fn generate(
        &self,
        initial: &[f64],
        steps: usize,
        step_seconds: f64,
        seed: u64,
    ) -> Result<Vec<f64>> {
        let n = initial.len();
        memory::check(
            "steps",
            steps as u64,
            8 * n as u64,
            "the reference path (8 B per step and asset)",
        )?;
        match self {
            PathSpec::Instant { returns } => {
                check_len("shock", returns, n)?;
                for (a, &r) in returns.iter().enumerate() {
                    error::finite(&format!("shock[{a}]"), r)?;
                    if r <= -1.0 {
                        return Err(Error::OutOfRange {
                            field: format!("shock[{a}]"),
                            value: r,
                            expected: "> -1 (a simple return)",
                        });
                    }
                }
                let row: Vec<f64> = initial
                    .iter()
                    .zip(returns)
                    .map(|(p, r)| p * (1.0 + r))
                    .collect();
                for (a, &p) in row.iter().enumerate() {
                    error::price(&format!("shock[{a}] (the price it moves to)"), p)?;
                }
                Ok(row.repeat(steps))
            }
            PathSpec::Levels { prices } => {
                if prices.len() != steps * n {
                    return Err(Error::LengthMismatch {
                        field: "path".to_owned(),
                        got: prices.len(),
                        other: "steps × assets".to_owned(),
                        expected: steps * n,
                    });
                }
                for (i, &p) in prices.iter().enumerate() {
                    error::price(&format!("path[{}][{}]", i / n.max(1), i % n.max(1)), p)?;
                }
                Ok(prices.clone())
            }
            PathSpec::Diffusion {
                mu,
                sigma,
                corr,
                jump_intensity,
                jump_mean,
                jump_std,
            } => {
                check_len("mu", mu, n)?;
                check_len("sigma", sigma, n)?;
                check_len("jump_intensity", jump_intensity, n)?;
                check_len("jump_mean", jump_mean, n)?;
                check_len("jump_std", jump_std, n)?;
                if corr.len() != n * n {
                    return Err(Error::LengthMismatch {
                        field: "corr".to_owned(),
                        got: corr.len(),
                        other: "assets²".to_owned(),
                        expected: n * n,
                    });
                }
                for a in 0..n {
                    error::finite(&format!("mu[{a}]"), mu[a])?;
                    error::non_negative(&format!("sigma[{a}]"), sigma[a])?;
                    error::non_negative(&format!("jump_intensity[{a}]"), jump_intensity[a])?;
                    error::finite(&format!("jump_mean[{a}]"), jump_mean[a])?;
                    error::non_negative(&format!("jump_std[{a}]"), jump_std[a])?;
                    for b in 0..n {
                        let c = error::in_range(
                            &format!("corr[{a}][{b}]"),
                            corr[a * n + b],
                            -1.0,
                            1.0,
                            false,
                            "in [-1, 1]",
                        )?;
                        if (c - corr[b * n + a]).abs() > 1e-12 || (a == b && c != 1.0) {
                            return Err(Error::OutOfRange {
                                field: format!("corr[{a}][{b}]"),
                                value: c,
                                expected: "a symmetric matrix with unit diagonal",
                            });
                        }
                    }
                }
                let l = cholesky(corr, n)?;
                let dt = step_seconds / SECONDS_PER_YEAR;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut out = Vec::with_capacity(steps * n);
                let mut x: Vec<f64> = initial.to_vec();
                let mut z = vec![0.0; n];
                for _ in 0..steps {
                    for zi in z.iter_mut() {
                        *zi = StandardNormal.sample(&mut rng);
                    }
                    for a in 0..n {
                        let w: f64 = (0..=a).map(|k| l[a * n + k] * z[k]).sum();
                        let mut log_ret =
                            (mu[a] - 0.5 * sigma[a] * sigma[a]) * dt + sigma[a] * dt.sqrt() * w;
                        let lambda = jump_intensity[a] * dt;
                        if lambda > 0.0 {
                            let jumps: f64 = Poisson::new(lambda)
                                .map_err(|_| Error::OutOfRange {
                                    field: format!("jump_intensity[{a}]"),
                                    value: jump_intensity[a],
                                    expected: "a finite intensity",
                                })?
                                .sample(&mut rng);
                            if jumps > 0.0 {
                                let size =
                                    Normal::new(jumps * jump_mean[a], jumps.sqrt() * jump_std[a])
                                        .map_err(|_| Error::OutOfRange {
                                        field: format!("jump_std[{a}]"),
                                        value: jump_std[a],
                                        expected: "a finite standard deviation",
                                    })?;
                                log_ret += size.sample(&mut rng);
                            }
                        }
                        x[a] *= log_ret.exp();
                    }
                    let (lo, hi) = error::PRICE_RANGE;
                    for (a, &v) in x.iter().enumerate() {
                        if !(lo..=hi).contains(&v) {
                            return Err(Error::OutOfRange {
                                field: format!("path[{}][{a}]", out.len() / n),
                                value: v,
                                expected: "a positive finite price (lower mu, sigma or the jumps)",
                            });
                        }
                    }
                    out.extend_from_slice(&x);
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbm(n: usize, sigma: f64, corr: Vec<f64>) -> PathSpec {
        PathSpec::Diffusion {
            mu: vec![0.0; n],
            sigma: vec![sigma; n],
            corr,
            jump_intensity: vec![0.0; n],
            jump_mean: vec![0.0; n],
            jump_std: vec![0.0; n],
        }
    }

    #[test]
    fn instant_shock_is_flat_after_step_zero() {
        let p = PathSpec::Instant {
            returns: vec![-0.2, 0.0],
        }
        .generate(&[3000.0, 1.0], 3, 12.0, 0)
        .unwrap();
        assert_eq!(p, vec![2400.0, 1.0, 2400.0, 1.0, 2400.0, 1.0]);
        let e = PathSpec::Instant {
            returns: vec![-1.0],
        }
        .generate(&[1.0], 1, 12.0, 0);
        assert!(e.is_err());
    }

    #[test]
    fn gbm_is_seeded_and_has_the_right_moments() {
        // Daily steps, σ = 0.8/yr, ρ = 0.6: the log-returns' sample variance and correlation
        // converge to σ²·dt and ρ.
        let spec = gbm(2, 0.8, vec![1.0, 0.6, 0.6, 1.0]);
        let n = 20_000;
        let a = spec.generate(&[100.0, 50.0], n, 86_400.0, 7).unwrap();
        let b = spec.generate(&[100.0, 50.0], n, 86_400.0, 7).unwrap();
        assert_eq!(a, b);
        let c = spec.generate(&[100.0, 50.0], n, 86_400.0, 8).unwrap();
        assert_ne!(a, c);
        let r = |i: usize, k: usize| {
            let prev = if i == 0 {
                [100.0, 50.0][k]
            } else {
                a[(i - 1) * 2 + k]
            };
            (a[i * 2 + k] / prev).ln()
        };
        let dt = 86_400.0 / SECONDS_PER_YEAR;
        let (mut s0, mut s1, mut s01, mut m0, mut m1) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            m0 += r(i, 0);
            m1 += r(i, 1);
        }
        m0 /= n as f64;
        m1 /= n as f64;
        for i in 0..n {
            let (x, y) = (r(i, 0) - m0, r(i, 1) - m1);
            s0 += x * x;
            s1 += y * y;
            s01 += x * y;
        }
        let var = s0 / n as f64;
        assert!(
            (var / (0.64 * dt) - 1.0).abs() < 0.05,
            "variance ratio {}",
            var / (0.64 * dt)
        );
        let rho = s01 / (s0 * s1).sqrt();
        assert!((rho - 0.6).abs() < 0.03, "rho {rho}");
        // E[log-return] = −σ²/2·dt
        assert!((m0 - (-0.32 * dt)).abs() < 4.0 * (0.64 * dt / n as f64).sqrt());
    }

    #[test]
    fn bad_correlation_is_refused() {
        let spec = gbm(2, 0.5, vec![1.0, 0.6, 0.5, 1.0]);
        assert!(spec.generate(&[1.0, 1.0], 2, 12.0, 0).is_err());
        // Not positive semi-definite.
        let spec = gbm(3, 0.5, vec![1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0]);
        assert!(spec.generate(&[1.0, 1.0, 1.0], 2, 12.0, 0).is_err());
    }

    #[test]
    fn jumps_happen_at_their_rate() {
        // λ = 365.25 per year with daily steps: one jump a day on average, of −0.1 % in log.
        let spec = PathSpec::Diffusion {
            mu: vec![0.0],
            sigma: vec![0.0],
            corr: vec![1.0],
            jump_intensity: vec![SECONDS_PER_YEAR / 86_400.0],
            jump_mean: vec![-0.001],
            jump_std: vec![0.0],
        };
        let n = 10_000;
        let p = spec.generate(&[1.0], n, 86_400.0, 3).unwrap();
        let total = p[n - 1].ln(); // Σ jumps·(−0.001)
        let jumps = -total / 0.001;
        assert!((jumps / n as f64 - 1.0).abs() < 0.05, "{jumps}");
    }
}
