//! Leverage-targeting funds through the engine against MECHANICS §7.2 worked example 7 (GLT)
//! and §7.3 worked example 8 (Cont–Schaanning); `fund.rs` has the small cascades. Every expected
//! value is computed here from the published formulas, not by the fund code.
#![allow(
    clippy::needless_range_loop,
    reason = "matrix algebra written as plain index loops, on purpose: it reads like the formulas"
)]

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{funds_engine, funds_of};
use deleverage_core::{
    Accounting, Engine, EventKind, Execution, FundStatus, Funds, ImpactCurve, RoundMode, Rule,
    Venue,
};

/// `x` equals the printed decimal `s` to its last printed digit (half a unit, with slack for
/// the printed value's own rounding).
fn printed(x: f64, s: &str) {
    let v: f64 = s.parse().unwrap();
    let decimals = s.split('.').nth(1).map_or(0, str::len) as i32;
    let tol = 0.5 * 10f64.powi(-decimals) * 1.0001;
    assert!((x - v).abs() <= tol, "{x} does not print as {s}");
}

/// Each of `xs` prints as the matching figure of `figures` (MECHANICS prints a row at a time).
fn printed_all(xs: &[f64], figures: &[&str]) {
    assert_eq!(xs.len(), figures.len());
    for (&x, s) in xs.iter().zip(figures) {
        printed(x, s);
    }
}

// ---------------------------------------------------------------------------------------------
// GLT, worked example 7 (MECHANICS §7.2). Units $bn.

const A: [f64; 3] = [150.0, 90.0, 60.0];
const EQ: [f64; 3] = [10.0, 5.0, 4.0];
const M: [[f64; 2]; 3] = [[0.6, 0.4], [0.3, 0.7], [0.75, 0.25]];
const ELL: [f64; 2] = [5e-5, 1e-4];
const F: [f64; 2] = [-0.025, -0.005];

fn glt_engine(max_rounds: u32) -> Engine {
    let units: Vec<f64> = (0..3)
        .flat_map(|n| (0..2).map(move |k| A[n] * M[n][k]))
        .collect();
    let debt: Vec<f64> = (0..3).map(|n| A[n] - EQ[n]).collect();
    let funds = Funds::new(
        units,
        2,
        vec![],
        vec![],
        debt,
        Rule::Target { leverage: None },
        Accounting::Linear,
    )
    .unwrap();
    let curves = (0..2)
        .map(|k| ImpactCurve::linear(1.0, ELL[k], Execution::Weighted { alpha: 0.0 }).unwrap())
        .collect();
    funds_engine(curves, funds, RoundMode::Batch, max_rounds)
}

/// y = X v for an N×K matrix given by rows.
fn mat_vec<const K: usize>(x: &[[f64; K]], v: &[f64; K]) -> Vec<f64> {
    x.iter()
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

/// M' v (K-vector from an N-vector).
fn mt_vec(v: &[f64]) -> [f64; 2] {
    let mut out = [0.0; 2];
    for (n, row) in M.iter().enumerate() {
        for k in 0..2 {
            out[k] += row[k] * v[n];
        }
    }
    out
}

fn b() -> [f64; 3] {
    [0, 1, 2].map(|n| (A[n] - EQ[n]) / EQ[n])
}

/// R_fs = M L M' B A M F, written out as plain products.
fn r_fs_by_hand() -> Vec<f64> {
    let r = mat_vec(&M, &F);
    let b = b();
    let bar: Vec<f64> = (0..3).map(|n| b[n] * A[n] * r[n]).collect();
    let q = mt_vec(&bar);
    let f_fs = [ELL[0] * q[0], ELL[1] * q[1]];
    mat_vec(&M, &f_fs)
}

#[test]
fn glt_example_7_round_one_returns_are_m_l_mt_b_a_m_f() {
    let mut e = glt_engine(2);
    e.step(&[1.0 + F[0], 1.0 + F[1]]).unwrap();

    // Round 0 trades φ = B A M F, netted per asset: q = M'φ at the pre-trade prices.
    let r = mat_vec(&M, &F);
    let b = b();
    let phi: Vec<f64> = (0..3).map(|n| b[n] * A[n] * r[n]).collect();
    let q = mt_vec(&phi);
    let ev = &e.events();
    for k in 0..2 {
        let value: f64 = (0..ev.len())
            .filter(|&j| ev.round[j] == 0 && ev.asset[j] == k as u32)
            .map(|j| {
                assert_eq!(ev.kind[j], EventKind::FundSale as u8);
                ev.qty[j] * ev.price_before[j]
            })
            .sum();
        assert_close!(-value, q[k]);
        // The linear curve moves S by ℓ·q exactly: F_fs = L q.
        let j = (0..ev.len())
            .find(|&j| ev.round[j] == 0 && ev.asset[j] == k as u32)
            .unwrap();
        assert_close!(ev.price_after[j] / ev.price_before[j] - 1.0, ELL[k] * q[k]);
    }
    printed(phi[0], "-35.7");
    printed(phi[1], "-16.83");
    printed(phi[2], "-16.8");
    printed(q[0], "-39.069");
    printed(q[1], "-30.261");

    // Round 1 reads the returns since round 0's decision: R_fs.
    let f = funds_of(&e, 0);
    let r_fs = r_fs_by_hand();
    for n in 0..3 {
        assert_close!(f.last_return()[n], r_fs[n]);
    }
    printed(r_fs[0], "-0.00238251");
    printed(r_fs[1], "-0.002704305");
    printed(r_fs[2], "-0.0022216125");
    // Booked equity after two rounds: E + A(R + R_fs).
    let t = f.table(e.oracle_prices());
    for n in 0..3 {
        assert_close!(t.equity[n], EQ[n] + A[n] * (r[n] + r_fs[n]));
    }

    // AV and its two decompositions (§7.2, §8), from the engine's R_fs.
    let rf = f.last_return();
    let e_tot: f64 = EQ.iter().sum();
    let av: f64 = (0..3).map(|n| A[n] * rf[n]).sum::<f64>() / e_tot;
    let c: Vec<f64> = (0..3)
        .map(|n| {
            (0..2)
                .map(|k| ELL[k] * (0..3).map(|m| A[m] * M[m][k]).sum::<f64>() * M[n][k])
                .sum()
        })
        .collect();
    let s: Vec<f64> = (0..3).map(|n| A[n] / e_tot * b[n] * r[n] * c[n]).collect();
    let iv: Vec<f64> = (0..3).map(|n| A[n] * rf[n] / EQ[n]).collect();
    assert_close!(s.iter().sum::<f64>(), av);
    assert_close!((0..3).map(|n| EQ[n] * iv[n]).sum::<f64>() / e_tot, av);
    printed(av, "-0.0386347737");
    printed(c[0], "0.01038");
    printed(c[1], "0.01209");
    printed(c[2], "0.009525");
    printed(s[0], "-0.0195034737");
    printed(s[1], "-0.0107091947");
    printed(s[2], "-0.00842210526");
    printed(iv[0], "-0.03573765");
    printed(iv[1], "-0.04867749");
    printed(iv[2], "-0.0333241875");
}

#[test]
fn glt_example_7_rounds_sum_to_the_inverse_of_i_minus_k() {
    let mut e = glt_engine(64);
    let rep = e.step(&[1.0 + F[0], 1.0 + F[1]]).unwrap();
    // ρ(K) ≈ 0.164: the rounds die out (below the dust threshold) well before the cap.
    assert!(rep.rounds < 40, "{} rounds", rep.rounds);
    // K = M L M' B A, solved (I − K) x = M F by Gaussian elimination.
    let b = b();
    let mut k = [[0.0; 3]; 3];
    for n in 0..3 {
        for m in 0..3 {
            k[n][m] = (0..2).map(|j| M[n][j] * ELL[j] * M[m][j]).sum::<f64>() * b[m] * A[m];
        }
    }
    printed(k[0][0], "0.0714");
    printed(k[0][1], "0.05661");
    printed(k[1][1], "0.081855");
    printed(k[2][1], "0.0439875");
    let r = mat_vec(&M, &F);
    let mut a = [[0.0; 4]; 3];
    for n in 0..3 {
        for m in 0..3 {
            a[n][m] = f64::from(u8::from(n == m)) - k[n][m];
        }
        a[n][3] = r[n];
    }
    for p in 0..3 {
        for row in p + 1..3 {
            let f = a[row][p] / a[p][p];
            for col in p..4 {
                a[row][col] -= f * a[p][col];
            }
        }
    }
    let mut x = [0.0; 3];
    for p in (0..3).rev() {
        x[p] = (a[p][3] - (p + 1..3).map(|c| a[p][c] * x[c]).sum::<f64>()) / a[p][p];
    }
    let f = funds_of(&e, 0);
    let t = f.table(e.oracle_prices());
    for n in 0..3 {
        let cumulative = (t.equity[n] - EQ[n]) / A[n];
        assert_close!(cumulative, x[n]);
    }
    printed_all(&x, &["-0.0198416", "-0.0142552", "-0.0226348"]);
    printed_all(
        &(0..3).map(|n| x[n] - r[n]).collect::<Vec<_>>(),
        &["-0.00284161", "-0.00325518", "-0.00263482"],
    );
}

#[test]
fn linear_curve_purchases_mirror_sales() {
    // §2.7: a purchase of value q moves S by +ℓq where a sale moves it by −ℓq.
    let l = 1e-3;
    let mut up = ImpactCurve::linear(2.0, l, Execution::Weighted { alpha: 0.0 }).unwrap();
    let mut down = up.clone();
    up.buy(50.0);
    down.sell(50.0);
    assert_close!(up.price() / 2.0 - 1.0, l * 100.0);
    assert_close!(down.price() / 2.0 - 1.0, -l * 100.0);
}

// ---------------------------------------------------------------------------------------------
// Cont–Schaanning, worked example 8 (MECHANICS §7.3).

const PI: [[f64; 2]; 3] = [[55.0, 25.0], [30.0, 45.0], [20.0, 12.0]];
const THETA: [f64; 3] = [18.0, 9.0, 6.0];
const C0: [f64; 3] = [5.2, 3.6, 2.4];
const EPS: f64 = 0.12;
const LMAX: f64 = 25.0;
const LB: f64 = 23.75;
const ALPHA: f64 = 0.5;
const FLOOR: f64 = 0.4;
const ADV: [f64; 2] = [120.0, 40.0];
const SIGMA: [f64; 2] = [0.015, 0.025];

fn depth(k: usize) -> f64 {
    0.5 * ADV[k] / SIGMA[k] * 10f64.sqrt()
}

fn debt0(i: usize) -> f64 {
    PI[i][0] + PI[i][1] + THETA[i] - C0[i]
}

fn cs_engine(max_rounds: u32) -> Engine {
    let funds = Funds::new(
        PI.iter().flatten().copied().collect(),
        2,
        THETA.to_vec(),
        vec![EPS],
        (0..3).map(debt0).collect(),
        Rule::Threshold {
            lambda_max: LMAX,
            lambda_b: LB,
        },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let curves = (0..2)
        .map(|k| {
            ImpactCurve::exponential(1.0, FLOOR, depth(k), Execution::Weighted { alpha: ALPHA })
                .unwrap()
        })
        .collect();
    funds_engine(curves, funds, RoundMode::Batch, max_rounds)
}

#[test]
fn cont_schaanning_example_8_first_round() {
    let mut e = cs_engine(1);
    e.step(&[1.0, 1.0]).unwrap();

    // By hand, §7.3 (S⁰ = 1, so values are units).
    let h: Vec<f64> = PI.iter().map(|p| p[0] + p[1]).collect();
    let ill: Vec<f64> = THETA.iter().map(|t| t * (1.0 - EPS)).collect();
    let c: Vec<f64> = (0..3).map(|i| C0[i] - EPS * THETA[i]).collect();
    let lam: Vec<f64> = (0..3).map(|i| (h[i] + ill[i]) / c[i]).collect();
    let gamma: Vec<f64> = (0..3)
        .map(|i| {
            if lam[i] > LMAX {
                ((h[i] + ill[i] - LB * c[i]) / h[i]).min(1.0)
            } else {
                0.0
            }
        })
        .collect();
    let q: Vec<f64> = (0..2)
        .map(|k| (0..3).map(|i| gamma[i] * PI[i][k]).sum())
        .collect();
    let delta: Vec<f64> = (0..2).map(|k| (1.0 - FLOOR) * depth(k)).collect();
    let psi: Vec<f64> = (0..2)
        .map(|k| (1.0 - FLOOR) * (1.0 - (-q[k] / delta[k]).exp()))
        .collect();
    let s: Vec<f64> = psi.iter().map(|p| 1.0 - p).collect();
    let loss: Vec<f64> = (0..3)
        .map(|i| (1.0 - (1.0 - ALPHA) * gamma[i]) * (0..2).map(|k| PI[i][k] * psi[k]).sum::<f64>())
        .collect();
    let c1: Vec<f64> = (0..3).map(|i| (c[i] - loss[i]).max(0.0)).collect();
    let proceeds: Vec<f64> = (0..3)
        .map(|i| {
            gamma[i]
                * (0..2)
                    .map(|k| PI[i][k] * (1.0 - ALPHA * psi[k]))
                    .sum::<f64>()
        })
        .collect();
    let pi1: Vec<[f64; 2]> = (0..3)
        .map(|i| [0, 1].map(|k| (1.0 - gamma[i]) * PI[i][k] * (1.0 - psi[k])))
        .collect();
    let lam1: Vec<f64> = (0..3)
        .map(|i| (pi1[i][0] + pi1[i][1] + ill[i]) / c1[i])
        .collect();

    // The printed example.
    for (i, s_) in ["15.84", "7.92", "5.28"].iter().enumerate() {
        printed(ill[i], s_);
    }
    printed_all(&lam, &["31.5263158", "32.9047619", "22.1904762"]);
    printed(depth(0), "12649.1106");
    printed(depth(1), "2529.82213");
    printed(delta[0], "7589.46638");
    printed(delta[1], "1517.89328");

    // The engine.
    let ev = &e.events();
    let mut sold = [[0.0; 2]; 3];
    let mut repaid = [0.0; 3];
    for j in 0..ev.len() {
        assert_eq!(ev.kind[j], EventKind::FundSale as u8);
        assert_eq!(ev.round[j], 0);
        assert_eq!(ev.protocol[j], 0);
        let (i, k) = (ev.account[j] as usize, ev.asset[j] as usize);
        sold[i][k] += ev.qty[j];
        repaid[i] += ev.debt_repaid[j];
        assert_close!(ev.price_before[j], 1.0);
        assert_close!(ev.price_after[j], s[k]);
        assert_close!(ev.notional[j], ev.debt_repaid[j]);
    }
    assert_eq!(
        ev.len(),
        4,
        "banks 1 and 2 sell both assets, bank 3 nothing"
    );
    for (i, g) in gamma.iter().enumerate() {
        for k in 0..2 {
            if *g > 0.0 {
                assert_close!(sold[i][k] / PI[i][k], *g);
            } else {
                assert_eq!(sold[i][k], 0.0);
            }
        }
    }
    printed(gamma[0], "0.2955");
    printed(gamma[1], "0.3076");
    assert_eq!(gamma[2], 0.0);
    for k in 0..2 {
        assert_close!(sold.iter().map(|r| r[k]).sum::<f64>(), q[k]);
        assert_close!(e.market().spot(k), s[k]);
        assert_close!(1.0 - e.market().spot(k), psi[k]);
    }
    printed(q[0], "25.4805");
    printed(q[1], "21.2295");
    printed(psi[0], "0.00201103264");
    printed(psi[1], "0.00833328552");
    printed(s[0], "0.997988967");
    printed(s[1], "0.991666714");

    let f = funds_of(&e, 0);
    let t = f.table(e.oracle_prices());
    for i in 0..3 {
        assert_close!(c[i] - t.equity[i], loss[i]);
        assert_close!(t.equity[i], c1[i]);
        if proceeds[i] > 0.0 {
            assert_close!(repaid[i], proceeds[i]);
        } else {
            assert_eq!(repaid[i], 0.0);
        }
        assert_close!(t.leverage[i], lam1[i]);
        assert_close!(t.illiquid_value[i], ill[i]);
        // §8 C–S identity: C' = Σ Π' + I − (D − Γ Σ Π (1 − αΨ)).
        assert_close!(
            t.equity[i],
            pi1[i][0] + pi1[i][1] + ill[i] - (debt0(i) - proceeds[i])
        );
        assert_close!(t.marketable_value[i], pi1[i][0] + pi1[i][1]);
        assert_eq!(t.status[i], FundStatus::Active);
    }
    printed_all(&loss, &["0.271815706", "0.368375254", "0.140220079"]);
    printed_all(&c1, &["2.76818429", "2.15162475", "1.53977992"]);
    printed(proceeds[0], "23.5928768");
    printed(proceeds[1], "23.0030464");
    printed_all(&lam1, &["26.0009089", "27.6760985", "24.1201872"]);

    // Forced sales count as liquidated notional at the oracle price (1 before the round).
    let row = e.step_rows();
    for k in 0..2 {
        assert_close!(row.liquidated_notional[k], q[k]);
        assert_eq!(row.liquidation_count[k], 2);
    }

    // Next round (the next step here, max one round per step): banks 1 and 2 sell again.
    e.step(&[1.0, 1.0]).unwrap();
    let ev = &e.events();
    let again: Vec<u32> = (4..ev.len()).map(|j| ev.account[j]).collect();
    assert_eq!(again, vec![0, 1, 0, 1]);
}
