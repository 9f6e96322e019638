//! Fire-sale clearing equilibria of a fund group (MECHANICS §7.5, `Engine::clearing`): fixed
//! points `p = Φ(p) = impact(S(p))` solved by hand for one bank on one asset (linear and
//! exponential impact) and for two banks on two assets, and the checks of the inputs. Every
//! expected value is derived here from the rule and the impact law, not read from the code.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{
    aave_v3, asset, funds_engine, lending_accounts, lending_family, reserve, scenario_of,
};
use deleverage_core::{
    AaveVersion, Accounting, Engine, Equilibrium, EquilibriumKind, Error, Execution, Family, Funds,
    ImpactCurve, OracleKind, QueueConfig, RoundMode, Rule,
};

fn one_bank(units: f64, debt: f64, rule: Rule, curve: ImpactCurve) -> Engine {
    let funds = Funds::new(
        vec![units],
        1,
        vec![],
        vec![],
        vec![debt],
        rule,
        Accounting::MarkToMarket,
    )
    .unwrap();
    funds_engine(vec![curve], funds, RoundMode::Batch, 64)
}

fn kinds(eq: &[Equilibrium]) -> Vec<(EquilibriumKind, bool)> {
    eq.iter().map(|e| (e.kind, e.stable)).collect()
}

/// The linear threshold bank: 100 units at 1, debt 81.6, λ_max = 5.2, λ_b = 5, ℓ = 0.001875.
fn linear_threshold_bank() -> Engine {
    let curve = ImpactCurve::linear(1.0, 0.001875, Execution::Integral).unwrap();
    let rule = Rule::Threshold {
        lambda_max: 5.2,
        lambda_b: 5.0,
    };
    one_bank(100.0, 81.6, rule, curve)
}

#[test]
fn linear_threshold_bank_has_two_stable_equilibria_and_an_unstable_one_between() {
    // u = 100 units at p₀ = 1, D = 81.6, I = 0: λ₀ = 100/18.4 = 5.43 > λ_max = 5.2, so it sells
    // at p₀. Between default (E = 100p − 81.6 ≤ 0 ⇔ p ≤ 0.816) and the trigger
    // (λ > 5.2 ⇔ p < 5.2·81.6/(4.2·100) = 1.0103) it sells down to λ_b = 5:
    //   S(p) = (H − 5E)/p = (100p − 5(100p − 81.6))/p = 408/p − 400 units.
    // Linear impact from 1, q = S·1: Φ(p) = 1 − 0.001875·S(p) = 1.75 − 0.765/p, so
    //   Φ(p) = p ⇔ p² − 1.75p + 0.765 = 0 ⇔ (p − 0.9)(p − 0.85) = 0.
    // Φ'(p) = 0.765/p²: 0.765/0.81 = 0.944 < 1 at 0.9 (stable), 0.765/0.7225 = 1.059 > 1 at
    // 0.85 (unstable). At or below 0.816 it defaults and sells all 100: Φ = 1 − 0.1875 =
    // 0.8125 ≤ 0.816, a third (stable, Φ' = 0) fixed point, the least.
    let e = linear_threshold_bank();
    let eq = e.clearing(0, 512, 10_000).unwrap();
    assert_eq!(
        kinds(&eq),
        vec![
            (EquilibriumKind::Least, true),
            (EquilibriumKind::Interior, false),
            (EquilibriumKind::Greatest, true),
        ]
    );
    let [least, unstable, greatest] = &eq[..] else {
        unreachable!()
    };
    // Least: from the all-sold price 0.8125 itself; Φ(0.8125) = 0.8125 confirms at once.
    assert_close!(least.prices[0], 0.8125, 1e-15);
    assert_close!(least.sold[0], 100.0, 1e-15);
    assert_close!(least.equity[0], 81.25 - 81.6, 1e-12);
    assert_eq!(least.defaulted, vec![true]);
    assert_close!(least.systemic_loss, 100.0 * (1.0 - 0.8125), 1e-12);
    assert_eq!((least.iterations, least.converged), (1, true));
    // Unstable: bisected to the end of the floats. S = 408/0.85 − 400 = 80, E = 85 − 81.6.
    assert_close!(unstable.prices[0], 0.85, 1e-14);
    assert_close!(unstable.sold[0], 80.0, 1e-12);
    assert_close!(unstable.equity[0], 3.4, 1e-11);
    assert_eq!(unstable.defaulted, vec![false]);
    assert_close!(unstable.systemic_loss, 15.0, 1e-12);
    assert!(unstable.converged);
    // A 0.0875/512 wide cell halved down to one ulp of 0.85 (1.1e-16): at most about 41
    // halvings, fewer if g is exactly 0 at a midpoint.
    assert!(
        (1..=45).contains(&unstable.iterations),
        "{}",
        unstable.iterations
    );
    // Greatest: S = 408/0.9 − 400 = 53.33…, E = 90 − 81.6 = 8.4, loss 100·0.1.
    assert_close!(greatest.prices[0], 0.9, 1e-11);
    assert_close!(greatest.sold[0], 408.0 / 0.9 - 400.0, 1e-9);
    assert_close!(greatest.equity[0], 8.4, 1e-9);
    assert_eq!(greatest.defaulted, vec![false]);
    assert_close!(greatest.systemic_loss, 10.0, 1e-9);
    // From p₀ = 1, e_k = p_k − 0.9 obeys e_{k+1} = Φ(p_k) − Φ(0.9) = 0.85·e_k/(0.9 + e_k), so
    // 1/e_{k+1} = (18/17)/e_k + 20/17 and e_k = 1/(30·(18/17)^k − 20). The k-th step moves the
    // price by e_{k−1}(p_{k−1} − 0.85)/p_{k−1}², below 1e-13 first at k = 417 (9.70e-14; at
    // k = 416, 1.03e-13).
    assert_eq!((greatest.iterations, greatest.converged), (417, true));
}

#[test]
fn an_iteration_cut_short_reports_where_it_stood() {
    // The same bank with max_iter = 5: the greatest stops at p₅ = 0.9 + e₅ with
    // e₅ = 1/(30·(18/17)⁵ − 20), unconverged, and no scan is made (two points only).
    let e = linear_threshold_bank();
    let eq = e.clearing(0, 512, 5).unwrap();
    assert_eq!(eq.len(), 2);
    let e5 = 1.0 / (30.0 * (18.0f64 / 17.0).powi(5) - 20.0);
    assert_eq!(eq[1].kind, EquilibriumKind::Greatest);
    assert_close!(eq[1].prices[0], 0.9 + e5, 1e-13);
    assert_eq!((eq[1].iterations, eq[1].converged), (5, false));
    // The least still converged at once.
    assert_eq!((eq[0].iterations, eq[0].converged), (1, true));
    assert!(eq.iter().all(|q| q.prices[0].is_finite()));
}

#[test]
fn exponential_target_bank_has_two_stable_equilibria_and_an_unstable_one_between() {
    // Target leverage λ* = 5 (sells λ*·E − H, buys when negative), u = 100 units at 1, debt D;
    // exponential impact with floor 0: Φ(p) = exp(−S(p)/δ), S(p) = (H − 5E)/p = 5D/p − 400.
    // ln Φ(p) − ln p = −(5D/p − 400)/δ − ln p rises below p = 5D/δ and falls above: at most two
    // crossings p_u < 5D/δ < p_s, Φ'(p) = 5D/(δp) there, < 1 at p_s (stable), > 1 at p_u.
    // Choose them, p_s = 0.95 and p_u = 0.85: −δ ln p = 5D/p − 400 at both gives
    //   D = 400(ln p_u − ln p_s) / (5(ln p_u/p_s − ln p_s/p_u)) = 80.3599,
    //   δ = (5D/p_s − 400)/(−ln p_s) = 447.365  (the curve's depth: δ = (1 − 0/1)·depth).
    // Default at p ≤ D/100 = 0.8036, where all 100 units go: Φ = exp(−100/δ) = 0.79969 ≤ 0.8036,
    // the least fixed point (stable, Φ' = 0). λ₀ = 100/(100 − D) = 5.09 > 5: it sells at p₀.
    let (ps, pu) = (0.95f64, 0.85f64);
    let d = 400.0 * (pu.ln() - ps.ln()) / (5.0 * (pu.ln() / ps - ps.ln() / pu));
    let delta = (5.0 * d / ps - 400.0) / -ps.ln();
    assert!((d - 80.3599).abs() < 1e-4 && (delta - 447.365).abs() < 1e-3);
    let curve = ImpactCurve::exponential(1.0, 0.0, delta, Execution::Integral).unwrap();
    let e = one_bank(
        100.0,
        d,
        Rule::Target {
            leverage: Some(5.0),
        },
        curve,
    );
    let eq = e.clearing(0, 512, 10_000).unwrap();
    assert_eq!(
        kinds(&eq),
        vec![
            (EquilibriumKind::Least, true),
            (EquilibriumKind::Interior, false),
            (EquilibriumKind::Greatest, true),
        ]
    );
    let low = (-100.0 / delta).exp();
    assert_close!(eq[0].prices[0], low, 1e-14);
    assert_close!(eq[0].sold[0], 100.0, 1e-15);
    assert_close!(eq[0].equity[0], 100.0 * low - d, 1e-12);
    assert_eq!(eq[0].defaulted, vec![true]);
    assert_eq!(eq[0].iterations, 1);
    assert_close!(eq[1].prices[0], pu, 1e-13);
    assert_close!(eq[1].sold[0], 5.0 * d / pu - 400.0, 1e-11);
    assert_close!(eq[1].systemic_loss, 100.0 * (1.0 - pu), 1e-12);
    // The iteration stops at a step below 1e-13, i.e. within 1e-13/(1 − 0.945) ≈ 2e-12 of
    // 0.95; the equity (100 units) within 2e-10.
    assert_close!(eq[2].prices[0], ps, 1e-11);
    assert_close!(eq[2].sold[0], 5.0 * d / ps - 400.0, 1e-9);
    assert_close!(eq[2].equity[0], 100.0 * ps - d, 1e-9);
    assert_close!(eq[2].systemic_loss, 5.0, 1e-9);
    assert!(eq[2].converged);
    // The count of the closed form Φ(p) = exp(−(5D/p − 400)/δ) iterated from 1 with the same
    // stopping rule (Φ'(0.95) = 0.945: some 450 steps), give or take the last rounding.
    let (mut p, mut k) = (1.0f64, 0u32);
    loop {
        let q = (-(5.0 * d / p - 400.0) / delta).exp();
        k += 1;
        let done = (q - p).abs() / p.max(q) < 1e-13;
        p = q;
        if done {
            break;
        }
    }
    assert!(
        eq[2].iterations.abs_diff(k) <= 1,
        "{} vs {k}",
        eq[2].iterations
    );
}

#[test]
fn a_default_jump_gives_two_stable_equilibria_and_no_fixed_point_between() {
    // Default only (λ_max = 10¹²): 100 units at 1, debt 85, E₀ = 15. Exponential impact, floor
    // 0.5, depth 200: δ = (1 − 0.5)·200 = 100. Above p = 0.85 nothing is sold, Φ = 1; at or
    // below, all 100 are (q = 100): Φ = 0.5 + 0.5·e⁻¹ = 0.683940 ≤ 0.85. Fixed points 1 and
    // 0.683940, each confirmed by one application. g = Φ − p changes sign at 0.85 only by
    // Φ's jump from 0.684 to 1: not a fixed point, not reported.
    let curve = ImpactCurve::exponential(1.0, 0.5, 200.0, Execution::Integral).unwrap();
    let rule = Rule::Threshold {
        lambda_max: 1e12,
        lambda_b: 1e12,
    };
    let e = one_bank(100.0, 85.0, rule, curve);
    let eq = e.clearing(0, 64, 10_000).unwrap();
    assert_eq!(
        kinds(&eq),
        vec![
            (EquilibriumKind::Least, true),
            (EquilibriumKind::Greatest, true)
        ]
    );
    let low = 0.5 + 0.5 * (-1.0f64).exp();
    assert_close!(eq[0].prices[0], low, 1e-15);
    assert_close!(eq[0].systemic_loss, 100.0 * (1.0 - low), 1e-13);
    assert_eq!(eq[0].defaulted, vec![true]);
    assert_eq!(eq[1].prices, vec![1.0]);
    assert_eq!(eq[1].sold, vec![0.0]);
    assert_eq!(eq[1].equity, vec![15.0]);
    assert_eq!(eq[1].systemic_loss, 0.0);
    assert_eq!((eq[0].iterations, eq[1].iterations), (1, 1));
}

#[test]
fn purchases_count_as_negative_sales_and_a_unique_equilibrium_is_one_row() {
    // Target at its own leverage: 100 units at 1, illiquid 10 shocked by −10 % (→ 11), debt 60:
    // λ* = 110/50 = 2.2 (before the shock). After it E = 100p − 49 and the trade
    // 2.2E − (100p + 11) = 120p − 118.8 quote, i.e. S(p) = 118.8/p − 120 units (negative: it
    // buys above 0.99). Linear impact ℓ = 0.001 both ways: Φ(p) = 1 − ℓS(p), so
    // p² − 1.12p + 0.1188 = 0, p* = (1.12 + √0.7792)/2 = 1.0013617; the other root 0.1186 lies
    // in the default region (p ≤ 0.49, where Φ = 0.9 ≠ p) and is no fixed point. From the
    // all-sold price 0.9 and from 1 the iterations meet at p*: one (stable) equilibrium.
    let curve = ImpactCurve::linear(1.0, 0.001, Execution::Integral).unwrap();
    let funds = Funds::new(
        vec![100.0],
        1,
        vec![10.0],
        vec![-0.1],
        vec![60.0],
        Rule::Target { leverage: None },
        Accounting::MarkToMarket,
    )
    .unwrap();
    let e = funds_engine(vec![curve], funds, RoundMode::Batch, 64);
    let eq = e.clearing(0, 512, 10_000).unwrap();
    assert_eq!(kinds(&eq), vec![(EquilibriumKind::Unique, true)]);
    let p = (1.12 + 0.7792f64.sqrt()) / 2.0;
    assert_close!(eq[0].prices[0], p, 1e-12);
    assert_close!(eq[0].sold[0], 118.8 / p - 120.0, 1e-9);
    assert!(eq[0].sold[0] < 0.0);
    assert_close!(eq[0].equity[0], 100.0 * p - 49.0, 1e-12);
    // A gain: E(p₀) = 51 after the illiquid shock, E(p*) = 51.136.
    assert_close!(eq[0].systemic_loss, 51.0 - (100.0 * p - 49.0), 1e-9);
    assert!(eq[0].converged);
}

#[test]
fn two_assets_report_the_least_and_greatest() {
    // Bank 0 holds 100 of asset 0 (at 1) and 50 of asset 1 (at 2), debt 180 (E₀ = 20); bank 1
    // holds 10 of asset 1 and no debt (λ = 1, never sells). Default only (λ_max = 10¹²). Linear
    // impact: ℓ₀ = 0.002, ℓ₁ = 0.001.
    // All sold: asset 0 q = 100 → 1·(1 − 0.2) = 0.8; asset 1 q = 60·2 = 120 → 2(1 − 0.12) = 1.76.
    // There bank 0 has 80 + 88 = 168 < 180 and defaults, bank 1 does not sell: S = (100, 50),
    // Φ = (0.8, 2(1 − 0.1)) = (0.8, 1.8); at (0.8, 1.8) bank 0 has 170 < 180, Φ the same: two
    // applications. Loss (20 − (170 − 180)) + (20 − 18) = 32. From p₀ nobody sells: one.
    let rule = Rule::Threshold {
        lambda_max: 1e12,
        lambda_b: 1e12,
    };
    let funds = Funds::new(
        vec![100.0, 50.0, 0.0, 10.0],
        2,
        vec![],
        vec![],
        vec![180.0, 0.0],
        rule,
        Accounting::MarkToMarket,
    )
    .unwrap();
    let c0 = ImpactCurve::linear(1.0, 0.002, Execution::Integral).unwrap();
    let c1 = ImpactCurve::linear(2.0, 0.001, Execution::Integral).unwrap();
    let assets = vec![
        asset("A", 1.0, vec![c0.into()], OracleKind::Spot),
        asset("B", 2.0, vec![c1.into()], OracleKind::Spot),
    ];
    let sc = scenario_of(assets, vec![Family::Funds(funds)], QueueConfig::default());
    let e = Engine::new(sc, 0).unwrap();
    let eq = e.clearing(0, 512, 10_000).unwrap();
    assert_eq!(
        kinds(&eq),
        vec![
            (EquilibriumKind::Least, true),
            (EquilibriumKind::Greatest, true)
        ]
    );
    assert_close!(eq[0].prices[0], 0.8, 1e-15);
    assert_close!(eq[0].prices[1], 1.8, 1e-15);
    assert_eq!(eq[0].sold, vec![100.0, 50.0]);
    assert_close!(eq[0].equity[0], -10.0, 1e-12);
    assert_close!(eq[0].equity[1], 18.0, 1e-14);
    assert_eq!(eq[0].defaulted, vec![true, false]);
    assert_close!(eq[0].systemic_loss, 32.0, 1e-12);
    assert_eq!((eq[0].iterations, eq[0].converged), (2, true));
    assert_eq!(eq[1].prices, vec![1.0, 2.0]);
    assert_eq!(eq[1].sold, vec![0.0, 0.0]);
    assert_eq!(eq[1].equity, vec![20.0, 20.0]);
    assert_eq!((eq[1].iterations, eq[1].converged), (1, true));
}

#[test]
fn bad_requests_are_refused_with_their_field() {
    let e = linear_threshold_bank();
    let field = |r: Result<Vec<Equilibrium>, Error>| r.unwrap_err().field().map(str::to_owned);
    assert_eq!(field(e.clearing(1, 512, 10)), Some("family".to_owned()));
    assert_eq!(field(e.clearing(0, 1, 10)), Some("grid".to_owned()));
    assert_eq!(field(e.clearing(0, 1_000_001, 10)), Some("grid".to_owned()));
    assert_eq!(field(e.clearing(0, 512, 0)), Some("max_iter".to_owned()));
    // A family that is not a fund group.
    let aave = aave_v3(AaveVersion::V3_3, vec![reserve(0.8, 0.05, 0.1)]);
    let acc = lending_accounts(&[0], vec![10.0], vec![0.0], 1);
    let curve = ImpactCurve::linear(1.0, 0.001, Execution::Integral).unwrap();
    let assets = vec![asset("A", 1.0, vec![curve.into()], OracleKind::Spot)];
    let sc = scenario_of(
        assets,
        vec![lending_family(vec![aave], acc)],
        QueueConfig::default(),
    );
    let lend = Engine::new(sc, 0).unwrap();
    let err = lend.clearing(0, 512, 10).unwrap_err();
    assert_eq!(err.field(), Some("family"));
    assert!(err.to_string().contains("fund group"), "{err}");
    // After a step the initial balance sheets are gone.
    let mut e = linear_threshold_bank();
    e.step(&[1.0]).unwrap();
    assert_eq!(field(e.clearing(0, 512, 10)), Some("clearing".to_owned()));
}
