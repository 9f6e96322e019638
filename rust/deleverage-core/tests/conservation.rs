//! Conservation identities of MECHANICS §8 on random cascades (proptest): nothing created or
//! destroyed — collateral, debt and quote all accounted for.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{
    RTOL, asset, close_at, instant_path, lending_accounts, lending_family, linear_book,
    queue_config, reserve, scenario_of,
};
use deleverage_core::{
    AaveVersion, Accounts, AnyVenue, BookDynamics, ConstantProductPool, Engine, Execution,
    ImpactCurve, Lending, OracleKind, QueueConfig, Rules, Side, Venue,
};
use proptest::prelude::*;

fn rules() -> impl Strategy<Value = Rules> {
    prop_oneof![
        Just(Rules::AaveV3 {
            version: AaveVersion::V3_0
        }),
        Just(Rules::AaveV3 {
            version: AaveVersion::V3_3
        }),
        Just(Rules::CompoundV2 {
            close_factor: 0.5,
            incentive: 1.08,
            protocol_seize_share: 0.028
        }),
    ]
}

fn venues() -> impl Strategy<Value = Vec<AnyVenue>> {
    let book =
        (1.0f64..50.0, prop::option::of(60.0f64..3600.0), 0.0f64..0.5).prop_map(|(d, h, theta)| {
            AnyVenue::from(linear_book(
                d,
                100.0,
                0.5,
                150,
                BookDynamics {
                    resilience_half_life: h,
                    permanent_impact: theta,
                },
            ))
        });
    let pool = (100.0f64..10_000.0)
        .prop_map(|x| AnyVenue::from(ConstantProductPool::new(x, 100.0 * x, 0.003).unwrap()));
    let curve = (1e-7f64..1e-4)
        .prop_map(|l| AnyVenue::from(ImpactCurve::linear(100.0, l, Execution::Integral).unwrap()));
    prop::collection::vec(prop_oneof![book, pool, curve], 1..3)
}

#[derive(Debug, Clone)]
struct Case {
    rules: Rules,
    venues: Vec<AnyVenue>,
    accounts: Vec<(f64, f64, f64)>, // ETH collateral, USDC debt, DAI debt
    queue: QueueConfig,
    shock: f64,
    oracle: OracleKind,
}

fn case() -> impl Strategy<Value = Case> {
    let queue = queue_config(
        prop_oneof![Just(f64::INFINITY), 500.0f64..50_000.0],
        prop_oneof![Just(u64::MAX), 1u64..20],
        Just(0.0),
    );
    let account = (0.1f64..50.0, 1.0f64..2.0, 0.0f64..1.0).prop_map(|(c, hf, split)| {
        // Debt value from a health factor at the initial price 100 and LT 0.8.
        let d = c * 100.0 * 0.8 / hf;
        (c, d * split, d * (1.0 - split))
    });
    (
        rules(),
        venues(),
        prop::collection::vec(account, 1..40),
        queue,
        -0.6f64..0.0,
        prop_oneof![
            Just(OracleKind::Spot),
            Just(OracleKind::Reference),
            Just(OracleKind::Twap { window: 60.0 })
        ],
    )
        .prop_map(|(rules, venues, accounts, queue, shock, oracle)| Case {
            rules,
            venues,
            accounts,
            queue,
            shock,
            oracle,
        })
}

fn run(c: &Case) -> (Engine, Accounts) {
    let mut collateral = Vec::new();
    let mut debt = Vec::new();
    for &(e, u, d) in &c.accounts {
        collateral.extend_from_slice(&[e, 0.0, 0.0]);
        debt.extend_from_slice(&[0.0, u, d]);
    }
    let accounts = lending_accounts(&[0, 1, 2], collateral, debt, 3);
    let lending = Lending::new(
        c.rules.clone(),
        vec![
            reserve(0.8, 0.05, 0.1),
            reserve(0.0, 0.0, 0.1),
            reserve(0.0, 0.0, 0.1),
        ],
    )
    .unwrap();
    let sc = scenario_of(
        vec![
            asset("ETH", 100.0, c.venues.clone(), c.oracle),
            asset("USDC", 1.0, vec![], OracleKind::Reference),
            asset("DAI", 1.0, vec![], OracleKind::Reference),
        ],
        vec![lending_family(vec![lending], accounts.clone())],
        c.queue,
    );
    let path = instant_path(vec![c.shock, 0.0, 0.0], &[100.0, 1.0, 1.0], 5);
    let mut e = Engine::new(sc, 3).unwrap();
    e.run(&path, 200, || false).unwrap();
    (e, accounts)
}

// Each identity holds to RTOL of the total its two sides are drawn from (at least 1).
proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn collateral_debt_and_quote_are_conserved(c in case()) {
        let (e, initial) = run(&c);
        let ev = &e.events();
        let l = &e.lending().unwrap().protocols()[0];
        let ledger = e.ledger();
        let n = initial.len();
        for a in 0..3usize {
            let (mut coll0, mut debt0, mut coll1, mut debt1) = (0.0, 0.0, 0.0, 0.0);
            for i in 0..n {
                let r = initial.range(i);
                coll0 += initial.collateral[r.clone()][a];
                debt0 += initial.debt[r][a];
                let (_, c1, d1) = e.lending().unwrap().holdings_of(i).unwrap();
                coll1 += c1[a];
                debt1 += d1[a];
            }
            let rows = |pick: &dyn Fn(usize) -> bool, col: &[f64]| -> f64 {
                (0..ev.len()).filter(|&k| pick(k)).map(|k| col[k]).sum()
            };
            let seized = rows(&|k| ev.asset[k] as usize == a && ev.kind[k] == 0, &ev.collateral_seized);
            let fees = rows(&|k| ev.asset[k] as usize == a && ev.kind[k] == 0, &ev.protocol_fee);
            let repaid = rows(&|k| ev.debt_asset[k] as usize == a && ev.kind[k] == 0, &ev.debt_repaid);
            let sold = rows(&|k| ev.asset[k] as usize == a, &ev.qty);
            // Collateral: what accounts lost is what was seized; seized = liquidators' + treasury.
            prop_assert!(close_at(coll0 - coll1, seized, RTOL, coll0.max(1.0)), "asset {}: {} − {} vs seized {}", a, coll0, coll1, seized);
            prop_assert!(close_at(seized, ledger.liquidators_seized[a] + l.treasury[a], RTOL, coll0.max(1.0)));
            prop_assert!(close_at(fees, l.treasury[a], RTOL, coll0.max(1.0)));
            // Liquidators sell at most what they received.
            prop_assert!(sold <= ledger.liquidators_seized[a] * (1.0 + 1e-9) + 1e-12);
            prop_assert!(close_at(sold, ledger.sold[a], RTOL, coll0.max(1.0)));
            // Debt: initial = final + repaid + written off.
            prop_assert!(close_at(debt0, debt1 + repaid + l.deficit[a], RTOL, debt0.max(1.0)), "asset {}: {} vs {} + {} + {}", a, debt0, debt1, repaid, l.deficit[a]);
        }
        // Quote: what the venues paid is what liquidators received; what they paid, the debt.
        let notional: f64 = ev.notional.iter().sum();
        prop_assert!(close_at(notional, ledger.liquidators_received, RTOL, notional.max(1.0)));
        let paid: f64 = ev.debt_repaid_value.iter().sum();
        prop_assert!(close_at(paid, ledger.liquidators_paid, RTOL, paid.max(1.0)));
        // Venue side: one book without resilience or permanent impact is walked the same whether
        // sales come one by one or all at once (the anchor stays at the shocked price after step
        // 0), so all the quote liquidators received equals one sale of everything they sold on a
        // fresh copy of the book anchored there.
        if let [AnyVenue::Book(b)] = &c.venues[..]
            && b.dynamics() == BookDynamics::default()
        {
            let mut fresh = AnyVenue::Book(b.clone());
            fresh.advance(0.0, Some(100.0 * (1.0 + c.shock)));
            let total_sold: f64 = ledger.sold.iter().sum();
            let once = fresh.quote(Side::Sell, total_sold);
            prop_assert!(close_at(once.notional, ledger.liquidators_received, RTOL, once.notional.max(1.0)),
                "venue {} vs liquidators {}", once.notional, ledger.liquidators_received);
        }
        // Bad debt adds up.
        let bad: f64 = ev.bad_debt.iter().sum();
        let table = e.lending().unwrap().account_table(e.shared());
        prop_assert!(close_at(bad, e.cumulative_bad_debt(), RTOL, bad.max(1.0)));
        prop_assert!(close_at(table.bad_debt.iter().sum::<f64>(), bad, RTOL, bad.max(1.0)));
        // No NaN anywhere in the recorded floats.
        for col in [&ev.qty, &ev.notional, &ev.price_before, &ev.price_after, &ev.debt_repaid, &ev.collateral_seized, &ev.bad_debt] {
            prop_assert!(col.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn same_seed_same_run(c in case()) {
        let (a, _) = run(&c);
        let (b, _) = run(&c);
        prop_assert_eq!(a.events(), b.events());
        prop_assert_eq!(a.step_rows().mid.clone(), b.step_rows().mid.clone());
    }
}
