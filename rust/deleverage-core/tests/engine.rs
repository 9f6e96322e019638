//! The step loop against cascades derived by hand.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{
    aave_v3, asset, eth_usdc, instant_path, lending_accounts, lending_family, linear_book, reserve,
    scenario_of,
};
use deleverage_core::{
    AaveVersion, Accounts, AnyVenue, BookDynamics, Engine, Execution, ImpactCurve, Lending,
    OracleKind, Priority, QueueConfig, Reserve, RoundMode, Rules, Scenario, Status,
};

/// Aave v3.3, ETH (asset 0) with LT 0.8, bonus 5 %, no fee; USDC (asset 1) borrowable.
fn aave() -> Lending {
    aave_v3(
        AaveVersion::V3_3,
        vec![reserve(0.8, 0.05, 0.0), reserve(0.0, 0.0, 0.0)],
    )
}

/// 10 ETH of collateral and `debts[i]` USDC for each account.
fn accounts(debts: &[f64]) -> Accounts {
    lending_accounts(
        &[0, 1],
        debts.iter().flat_map(|_| [10.0, 0.0]).collect(),
        debts.iter().flat_map(|&d| [0.0, d]).collect(),
        2,
    )
}

fn scenario(eth_venue: AnyVenue, debts: &[f64], queue: QueueConfig) -> Scenario {
    scenario_of(
        eth_usdc(100.0, vec![eth_venue]),
        vec![lending_family(vec![aave()], accounts(debts))],
        queue,
    )
}

fn shock(eth: f64, steps: usize) -> Vec<f64> {
    instant_path(vec![eth, 0.0], &[100.0, 1.0], steps)
}

#[test]
fn cascade_on_a_linear_curve_stops_at_a_computable_price() {
    // Trigger prices D/(10·0.8): 97.5, 95, 90. Positions under $2,000: Aave v3.3 closes the whole
    // debt, seizing D·1.05/S of ETH, worth q = 1.05·D of quote at the pre-trade price: the curve
    // moves S → S(1 − ℓ·1.05·D). A −3 % shock puts S at 97 < 97.5:
    //   round 0: account 0 → S1 = 97(1 − 819ℓ) = 94.6167… < 95
    //   round 1: account 1 → S2 = S1(1 − 798ℓ) = 92.3516… > 90: the chain stops.
    let l = 3e-5;
    let curve = ImpactCurve::linear(100.0, l, Execution::Integral)
        .unwrap()
        .into();
    let mut e = Engine::new(
        scenario(curve, &[780.0, 760.0, 720.0], QueueConfig::default()),
        1,
    )
    .unwrap();
    e.run(&shock(-0.03, 3), 10, || false).unwrap();
    let s1 = 97.0 * (1.0 - 819.0 * l);
    let s2 = s1 * (1.0 - 798.0 * l);
    assert_close!(e.market().spot(0), s2);
    let ev = &e.events();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev.account, vec![0, 1]);
    assert_eq!(ev.round, vec![0, 1]);
    assert_close!(ev.collateral_seized[0], 780.0 * 1.05 / 97.0);
    assert_close!(ev.collateral_seized[1], 760.0 * 1.05 / s1);
    assert_close!(ev.debt_repaid[0], 780.0);
    // Exact-integral VWAP on the linear curve: S(1 − ℓq/2).
    assert_close!(
        ev.notional[0],
        780.0 * 1.05 / 97.0 * 97.0 * (1.0 - 819.0 * l / 2.0)
    );
    assert_close!(ev.price_after[0], s1);
    let acc = e.lending().unwrap().account_table(e.shared());
    assert_eq!(
        acc.status,
        vec![Status::Closed, Status::Closed, Status::Active]
    );
    let (_, coll, _) = e.lending().unwrap().holdings_of(0).unwrap();
    assert_close!(coll[0], 10.0 - 780.0 * 1.05 / 97.0);
    assert_eq!(e.first_liquidation_step(), Some(0));
    assert_eq!(e.last_liquidation_step(), Some(0));
    assert_eq!(e.cumulative_bad_debt(), 0.0);
}

#[test]
fn cascade_on_a_linear_book_by_ticks() {
    // A linear book around 100, tick 1, one ETH per level. After the −3 % shock the book is
    // re-anchored at 97: bid k at 97(1 − k/100), ask k at 97(1 + k/100), mid 97.
    //   account 0 (trigger 97.5) sells 780·1.05/97 = 8.4433 ETH: 8 levels and part of the 9th;
    //     best bid 97·0.91, mid 97(0.91 + 1.01)/2 = 93.12 < 95;
    //   account 1 sells 760·1.05/93.12 = 8.5696 ETH: the rest of level 9 (0.5567), levels
    //     10–17 and part of 18; mid 97(0.82 + 1.01)/2 = 88.755 < 90;
    //   account 2 sells 720·1.05/88.755 = 8.5178 ETH: the rest of level 18 (0.9871) and
    //     levels 19–25 and part of 26; mid 97(0.74 + 1.01)/2 = 84.875 > 80: account 3 is safe.
    let book = linear_book(1.0, 100.0, 1.0, 99, BookDynamics::default()).into();
    let mut e = Engine::new(
        scenario(book, &[780.0, 760.0, 720.0, 640.0], QueueConfig::default()),
        1,
    )
    .unwrap();
    e.run(&shock(-0.03, 1), 10, || false).unwrap();
    let ev = &e.events();
    assert_eq!(ev.account, vec![0, 1, 2]);
    assert_eq!(ev.round, vec![0, 1, 2]);
    assert_close!(ev.price_after[0], 93.12);
    assert_close!(ev.price_after[1], 88.755);
    assert_close!(ev.price_after[2], 84.875);
    assert_close!(ev.collateral_seized[1], 760.0 * 1.05 / 93.12);
    assert_close!(ev.collateral_seized[2], 720.0 * 1.05 / 88.755);
    assert_close!(e.market().spot(0), 84.875);
    assert_eq!(
        e.lending().unwrap().account_table(e.shared()).status[3],
        Status::Active
    );
    // The first sale: 8 full levels at 97(1 − k/100), k = 1…8, and 0.4433 at 97·0.91.
    let seized = 780.0 * 1.05 / 97.0;
    let full: f64 = (1..=8).map(|k| 97.0 * (1.0 - k as f64 / 100.0)).sum();
    assert_close!(ev.notional[0], full + (seized - 8.0) * 97.0 * 0.91);
}

#[test]
fn sequential_and_batch_agree_with_one_liquidation_per_round() {
    let make = |mode| {
        let curve = ImpactCurve::linear(100.0, 3e-5, Execution::Integral)
            .unwrap()
            .into();
        let q = QueueConfig {
            mode,
            ..QueueConfig::default()
        };
        let mut e = Engine::new(scenario(curve, &[780.0, 760.0, 720.0], q), 1).unwrap();
        e.run(&shock(-0.03, 1), 10, || false).unwrap();
        e
    };
    let seq = make(RoundMode::Sequential);
    let bat = make(RoundMode::Batch);
    assert_eq!(seq.market().spot(0), bat.market().spot(0));
    assert_eq!(
        seq.lending().unwrap().account_table(seq.shared()),
        bat.lending().unwrap().account_table(bat.shared())
    );
    // Batch records the sale as its own row: the same quantities and quote.
    let sold = |e: &Engine| e.events().qty.iter().sum::<f64>();
    let quote = |e: &Engine| e.events().notional.iter().sum::<f64>();
    assert_eq!(sold(&seq), sold(&bat));
    assert_eq!(quote(&seq), quote(&bat));
}

#[test]
fn budget_limits_liquidations_per_step_and_queued_accounts_wait() {
    // Three accounts breach at once (shock −10 %, a deep curve); one liquidation per step.
    let curve = ImpactCurve::linear(100.0, 1e-9, Execution::Integral)
        .unwrap()
        .into();
    let q = QueueConfig {
        budget_count: 1,
        priority: Priority::WorstHealth,
        ..QueueConfig::default()
    };
    let mut e = Engine::new(scenario(curve, &[780.0, 760.0, 720.0], q), 1).unwrap();
    e.run(&shock(-0.10, 1), 10, || false).unwrap();
    let ev = &e.events();
    // Worst health first (the largest debt), one per step.
    assert_eq!(ev.account, vec![0, 1, 2]);
    assert_eq!(ev.step, vec![0, 1, 2]);
}

#[test]
fn exhausting_collateral_leaves_bad_debt() {
    // Account 0: 10 ETH and 990 USDC. A −40 % shock: S = 60, HF = 480/990. Seizing the whole
    // debt would take 990·1.05/60 = 17.3 ETH > 10: all 10 ETH go, repaid = 10·60/1.05 = 571.43;
    // 418.57 USDC are left without collateral and v3.3 writes them off.
    let curve = ImpactCurve::linear(100.0, 1e-9, Execution::Integral)
        .unwrap()
        .into();
    let mut e = Engine::new(scenario(curve, &[990.0], QueueConfig::default()), 1).unwrap();
    e.run(&shock(-0.40, 1), 10, || false).unwrap();
    let repaid = 10.0 * 60.0 / 1.05;
    assert_close!(e.events().debt_repaid[0], repaid);
    assert_close!(e.cumulative_bad_debt(), 990.0 - repaid);
    assert_close!(
        e.lending().unwrap().protocols()[0].deficit[1],
        990.0 - repaid
    );
    assert_eq!(
        e.lending().unwrap().account_table(e.shared()).status[0],
        Status::BadDebt
    );
    assert_eq!(e.lending().unwrap().holdings_of(0).unwrap().2[1], 0.0);
}

#[test]
fn same_seed_same_result_and_random_priority_is_seeded() {
    let run = |seed| {
        let curve = ImpactCurve::linear(100.0, 1e-6, Execution::Integral)
            .unwrap()
            .into();
        let q = QueueConfig {
            priority: Priority::Random,
            budget_count: 2,
            ..QueueConfig::default()
        };
        let debts: Vec<f64> = (0..40).map(|i| 700.0 + 2.0 * i as f64).collect();
        let mut e = Engine::new(scenario(curve, &debts, q), seed).unwrap();
        e.run(&shock(-0.2, 1), 100, || false).unwrap();
        e.events().clone()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5).account, run(6).account);
}

#[test]
fn comet_absorb_and_storefront_worked_example_4() {
    // MECHANICS worked example 4. Debt 10,400 USDC; 3.2 WETH at 2,480 (liquidate CF 0.87,
    // liquidation factor 0.92); 0.05 WBTC at 61,200 (0.80, 0.90); storefront factor 0.6;
    // reserves 1,200,000, target 3,000,000. Liquidity −10,400 + 7,936·0.87 + 3,060·0.80
    // = −1,047.68 < 0 → absorb. Δ = 7,936·0.92 + 3,060·0.90 = 10,055.12 → bad debt 344.88 and
    // reserves 1,189,600. Keepers then buy at 2,480·(1 − 0.6·0.08) = 2,360.96 and
    // 61,200·(1 − 0.6·0.10) = 57,528 on venues that pay the reference: all of it, 10,431.472.
    let comet_reserve = |threshold, liquidation_factor| {
        Some(Reserve {
            threshold,
            bonus: 0.0,
            protocol_fee: 0.0,
            liquidation_factor,
        })
    };
    let comet = Lending::new(
        Rules::CompoundV3 {
            base: 2,
            store_front_price_factor: 0.6,
            target_reserves: 3_000_000.0,
            reserves: 1_200_000.0,
        },
        vec![comet_reserve(0.87, 0.92), comet_reserve(0.80, 0.90), None],
    )
    .unwrap();
    let deep = |p: f64| {
        ImpactCurve::linear(p, 1e-15, Execution::Integral)
            .unwrap()
            .into()
    };
    let accounts = lending_accounts(
        &[0, 1, 2],
        vec![3.2, 0.05, 0.0],
        vec![0.0, 0.0, 10_400.0],
        3,
    );
    let sc = scenario_of(
        vec![
            asset("WETH", 2_480.0, vec![deep(2_480.0)], OracleKind::Reference),
            asset(
                "WBTC",
                61_200.0,
                vec![deep(61_200.0)],
                OracleKind::Reference,
            ),
            asset("USDC", 1.0, vec![], OracleKind::Reference),
        ],
        vec![lending_family(vec![comet], accounts)],
        QueueConfig::default(),
    );
    let mut e = Engine::new(sc, 0).unwrap();
    e.run(&[2_480.0, 61_200.0, 1.0], 10, || false).unwrap();
    assert_close!(e.cumulative_bad_debt(), 344.88);
    assert_eq!(
        e.lending().unwrap().account_table(e.shared()).status[0],
        Status::BadDebt
    );
    let ev = &e.events();
    // Two absorb rows (WETH, WBTC), then two storefront purchases.
    assert_eq!(ev.kind, vec![3, 3, 4, 4]);
    assert_close!(ev.collateral_seized[0], 3.2);
    assert_close!(ev.debt_repaid[0], 10_400.0);
    assert_close!(ev.bad_debt[0], 344.88);
    assert_close!(ev.collateral_seized[2], 3.2);
    assert_close!(ev.debt_repaid_value[2], 3.2 * 2_360.96);
    assert_close!(ev.debt_repaid_value[3], 0.05 * 57_528.0);
    assert_close!(e.ledger().keepers_paid, 10_431.472);
    match e.lending().unwrap().protocols()[0].rules {
        Rules::CompoundV3 { reserves, .. } => assert_close!(reserves, 1_189_600.0 + 10_431.472),
        ref r => panic!("{r:?}"),
    }
    assert_eq!(
        e.lending().unwrap().protocols()[0].treasury,
        vec![0.0, 0.0, 0.0]
    );
}

#[test]
fn comet_storefront_stops_at_target_reserves() {
    // Reserves already at target: absorbed collateral stays with the protocol.
    let comet = Lending::new(
        Rules::CompoundV3 {
            base: 1,
            store_front_price_factor: 0.5,
            target_reserves: 100.0,
            reserves: 20_000.0,
        },
        vec![
            Some(Reserve {
                threshold: 0.8,
                bonus: 0.0,
                protocol_fee: 0.0,
                liquidation_factor: 0.9,
            }),
            None,
        ],
    )
    .unwrap();
    let mut sc = scenario(
        ImpactCurve::linear(100.0, 1e-12, Execution::Integral)
            .unwrap()
            .into(),
        &[900.0],
        QueueConfig::default(),
    );
    sc.families = vec![lending_family(vec![comet], accounts(&[900.0]))];
    let mut e = Engine::new(sc, 0).unwrap();
    e.run(&shock(0.0, 1), 10, || false).unwrap();
    // 10 ETH·100·0.8 = 800 < 900 → absorb; Δ = 900 = debt: no bad debt, no credit;
    // reserves 20,000 − 900 = 19,100 ≥ 100: no storefront sale.
    assert_eq!(e.events().kind, vec![3]);
    assert_eq!(e.cumulative_bad_debt(), 0.0);
    assert_close!(e.lending().unwrap().protocols()[0].treasury[0], 10.0);
}

#[test]
fn sequential_liquidations_see_the_moved_price_batch_ones_do_not() {
    // Two accounts breached at once by a −3 % shock (S = 97): τ = 790/8 = 98.75 and 780/8 = 97.5.
    // Positions under $2,000 close their whole debt, seizing 1.05·D/S of ETH.
    // Sequential (worst first): the first sale, q = 1.05·790 = 829.5 of quote, moves the curve to
    // S1 = 97(1 − 829.5ℓ); the spot oracle follows, so the second account is seized at S1:
    // 1.05·780/S1 ETH, and the curve ends at S1(1 − 819ℓ).
    // Batch: both are seized at 97 and sold together, q = 1.05·(790 + 780) = 1,648.5 at the
    // pre-trade price 97, so the curve ends at 97(1 − 1,648.5ℓ).
    let l = 2e-5;
    let run = |mode| {
        let curve = ImpactCurve::linear(100.0, l, Execution::Integral)
            .unwrap()
            .into();
        let q = QueueConfig {
            mode,
            ..QueueConfig::default()
        };
        let mut e = Engine::new(scenario(curve, &[790.0, 780.0], q), 1).unwrap();
        e.run(&shock(-0.03, 1), 10, || false).unwrap();
        e
    };
    let seq = run(RoundMode::Sequential);
    let s1 = 97.0 * (1.0 - 829.5 * l);
    assert_eq!(seq.events().round, vec![0, 0]);
    assert_close!(seq.events().collateral_seized[0], 1.05 * 790.0 / 97.0);
    assert_close!(seq.events().collateral_seized[1], 1.05 * 780.0 / s1);
    assert_close!(seq.market().spot(0), s1 * (1.0 - 819.0 * l));
    let bat = run(RoundMode::Batch);
    assert_close!(bat.events().collateral_seized[1], 1.05 * 780.0 / 97.0);
    assert_close!(bat.market().spot(0), 97.0 * (1.0 - 1_648.5 * l));
}

#[test]
fn a_rise_then_a_fall_still_finds_the_account() {
    // τ = 97.5 and 95. The path 96 → 99 → 94 liquidates the first account at step 0; the second
    // is still safe at 96 and 99 and must be found when the price falls through 95 at step 2.
    let curve = ImpactCurve::linear(100.0, 1e-12, Execution::Integral)
        .unwrap()
        .into();
    let mut e = Engine::new(scenario(curve, &[780.0, 760.0], QueueConfig::default()), 1).unwrap();
    e.run(&[96.0, 1.0, 99.0, 1.0, 94.0, 1.0], 10, || false)
        .unwrap();
    let ev = &e.events();
    assert_eq!(ev.account, vec![0, 1]);
    assert_eq!(ev.step, vec![0, 2]);
}

#[test]
fn contagion_across_two_protocols_sharing_a_venue() {
    // An Aave v3.3 account (10 ETH, 780 USDC: τ = 97.5) and a Compound v2 account (10 ETH,
    // 760 USDC, collateral factor 0.8: τ = 95) on the same ETH curve. A −3 % shock (S = 97)
    // breaches only the Aave account; its sale, q = 1.05·780 = 819 of quote, moves the curve to
    // S1 = 97(1 − 819ℓ) = 94.617 < 95, which breaches the Compound account in the next round:
    // it repays half, 380, and 380·1.08/S1 ETH is seized.
    let l = 3e-5;
    let aave = aave();
    let compound = Lending::new(
        Rules::CompoundV2 {
            close_factor: 0.5,
            incentive: 1.08,
            protocol_seize_share: 0.028,
        },
        vec![reserve(0.8, 0.0, 0.0), reserve(0.0, 0.0, 0.0)],
    )
    .unwrap();
    let mut sc = scenario(
        ImpactCurve::linear(100.0, l, Execution::Integral)
            .unwrap()
            .into(),
        &[780.0, 760.0],
        QueueConfig::default(),
    );
    let accounts = Accounts::new(
        vec![0, 1],
        vec![0, 2, 4],
        vec![0, 1, 0, 1],
        vec![10.0, 0.0, 10.0, 0.0],
        vec![0.0, 780.0, 0.0, 760.0],
        2,
        2,
    )
    .unwrap();
    sc.families = vec![lending_family(vec![aave, compound], accounts)];
    let mut e = Engine::new(sc, 1).unwrap();
    e.run(&shock(-0.03, 1), 10, || false).unwrap();
    let ev = &e.events();
    let s1 = 97.0 * (1.0 - 819.0 * l);
    assert_eq!(ev.protocol, vec![0, 1]);
    assert_eq!(ev.round, vec![0, 1]);
    assert_close!(ev.debt_repaid[1], 380.0);
    assert_close!(ev.collateral_seized[1], 380.0 * 1.08 / s1);
    assert_close!(
        e.lending().unwrap().protocols()[1].treasury[0],
        0.028 * 380.0 * 1.08 / s1,
        floor = 1.0
    );
}
