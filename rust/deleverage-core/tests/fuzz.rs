//! Fuzzing whole random scenarios (proptest): every family at once (lending under any of the
//! rule sets, perps, Maker vaults, funds) on every kind of venue (order books of the three
//! profiles, constant-product pools, impact curves of the three shapes, several per asset or
//! none), every oracle, any queue, accounts from dust (1e-18) to huge (1e9 units), and a random
//! path of falls, jumps and rebounds. The run must end (no panic, no hang: within the path and
//! the extra steps allowed), refuse only with an error, record no NaN or infinity where a number
//! is defined, keep bad debt non-negative and non-decreasing, and conserve the units the venues
//! took from the forced sellers of the spot asset.
//!
//! `PROPTEST_CASES=20000 cargo test --profile ci -p deleverage-core --test fuzz` runs it long;
//! failures found are kept in `fuzz.proptest-regressions` and replayed first on every run.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;
#[path = "common/mixed.rs"]
#[allow(dead_code, reason = "the fuzz case uses the families' strategies only")]
mod mixed;

use common::{RTOL, asset, close_at, lending_accounts, lending_family, scenario_of};
use deleverage_core::venue::Profile;
use deleverage_core::{
    AaveVersion, AnyVenue, BookDynamics, ConstantProductPool, Engine, Error, EventKind, Execution,
    Family, ImpactCurve, Lending, OracleKind, OrderBook, Reserve, Rules,
};
use mixed::{ETH, USDC};
use proptest::prelude::*;

/// One venue of an asset priced at 100.
#[derive(Debug, Clone)]
enum VenueSpec {
    Book {
        profile: Profile,
        levels: usize,
        half_life: Option<f64>,
        theta: f64,
    },
    Pool {
        base: f64,
        fee: f64,
    },
    Curve {
        shape: u8,
        a: f64,
        b: f64,
        execution: Execution,
    },
}

impl VenueSpec {
    fn build(&self) -> AnyVenue {
        match *self {
            VenueSpec::Book {
                profile,
                levels,
                half_life,
                theta,
            } => OrderBook::from_profile(
                profile,
                100.0,
                0.5,
                levels,
                BookDynamics {
                    resilience_half_life: half_life,
                    permanent_impact: theta,
                },
            )
            .expect("valid book")
            .into(),
            VenueSpec::Pool { base, fee } => ConstantProductPool::new(base, base * 100.0, fee)
                .expect("valid pool")
                .into(),
            VenueSpec::Curve {
                shape,
                a,
                b,
                execution,
            } => match shape {
                0 => ImpactCurve::linear(100.0, a, execution),
                1 => ImpactCurve::exponential(100.0, 100.0 * b, a * 1e4, execution),
                _ => ImpactCurve::sqrt(100.0, a, 1e4 * b, 1.0, execution),
            }
            .expect("valid curve")
            .into(),
        }
    }
}

fn venue() -> impl Strategy<Value = VenueSpec> {
    let profile = prop_oneof![
        (0.1f64..500.0).prop_map(|d| Profile::Linear { depth_per_level: d }),
        (0.005f64..0.1, 10.0f64..1e6).prop_map(|(sigma, volume)| Profile::Sqrt {
            sigma,
            volume,
            y: 1.0
        }),
        (10.0f64..1e5, 0.001f64..0.5)
            .prop_map(|(total_depth, scale)| Profile::Exponential { total_depth, scale }),
    ];
    let book = (
        profile,
        1usize..400,
        prop_oneof![Just(None), (1.0f64..3_600.0).prop_map(Some)],
        0.0f64..1.0,
    )
        .prop_map(|(profile, levels, half_life, theta)| VenueSpec::Book {
            profile,
            levels,
            half_life,
            theta,
        });
    let pool = (
        prop_oneof![1e-6f64..1.0, 1.0f64..1e6],
        prop_oneof![Just(0.0), 0.0f64..0.05],
    )
        .prop_map(|(base, fee)| VenueSpec::Pool { base, fee });
    let execution = prop_oneof![
        Just(Execution::Integral),
        (0.0f64..=1.0).prop_map(|alpha| Execution::Weighted { alpha }),
    ];
    let curve =
        (0u8..3, 1e-6f64..0.5, 0.01f64..0.9, execution).prop_map(|(shape, a, b, execution)| {
            VenueSpec::Curve {
                shape,
                a,
                b,
                execution,
            }
        });
    prop_oneof![3 => book, 2 => pool, 2 => curve]
}

fn oracle() -> impl Strategy<Value = OracleKind> {
    prop_oneof![
        Just(OracleKind::Spot),
        Just(OracleKind::Reference),
        (0.0f64..0.05, 12.0f64..7_200.0).prop_map(|(deviation, heartbeat)| OracleKind::Push {
            deviation,
            heartbeat
        }),
        (12.0f64..1_800.0).prop_map(|window| OracleKind::Twap { window }),
        (1.0f64..3_600.0).prop_map(|delay| OracleKind::Delayed { delay }),
    ]
}

fn rules() -> impl Strategy<Value = Rules> {
    prop_oneof![
        Just(Rules::AaveV3 {
            version: AaveVersion::V3_0
        }),
        Just(Rules::AaveV3 {
            version: AaveVersion::V3_3
        }),
        (0.05f64..=1.0, 1.0f64..1.2, 0.0f64..0.1).prop_map(|(close_factor, incentive, share)| {
            Rules::CompoundV2 {
                close_factor,
                incentive,
                protocol_seize_share: share,
            }
        }),
        (0.5f64..1.0, 0.0f64..1e6, 0.0f64..1e6).prop_map(|(factor, target, reserves)| {
            Rules::CompoundV3 {
                base: USDC as u32,
                store_front_price_factor: factor,
                target_reserves: target,
                reserves,
            }
        }),
    ]
}

#[derive(Debug, Clone)]
struct Fuzz {
    families: mixed::Case,
    rules: Rules,
    /// ETH collateral and USDC debt per account.
    accounts: Vec<(f64, f64)>,
    eth: Vec<VenueSpec>,
    perp: Vec<VenueSpec>,
    eth_oracle: OracleKind,
    /// Per step, the simple return of ETH (ETH-PERP follows it; USDC stays at 1).
    returns: Vec<f64>,
    max_extra: u32,
}

fn fuzz() -> impl Strategy<Value = Fuzz> {
    let size = prop_oneof![1 => 1e-18f64..1e-12, 6 => 0.01f64..50.0, 1 => 1e6f64..1e9];
    let account = (size, 0.3f64..2.5).prop_map(|(c, hf)| (c, c * 100.0 * 0.8 / hf));
    let step = prop_oneof![6 => -0.15f64..0.1, 1 => -0.95f64..-0.5, 1 => 0.1f64..1.0];
    (
        mixed::case(),
        rules(),
        prop::collection::vec(account, 0..16),
        prop::collection::vec(venue(), 0..4),
        prop::collection::vec(venue(), 1..3),
        oracle(),
        prop::collection::vec(step, 1..24),
        0u32..400,
    )
        .prop_map(
            |(families, rules, accounts, eth, perp, eth_oracle, returns, max_extra)| Fuzz {
                families,
                rules,
                accounts,
                eth,
                perp,
                eth_oracle,
                returns,
                max_extra,
            },
        )
}

/// The path: ETH and ETH-PERP compound the returns from 100; USDC stays at 1, and so does
/// stETH's peg (in ETH).
fn path(returns: &[f64]) -> Vec<f64> {
    let mut p = 100.0;
    let mut out = Vec::with_capacity(4 * returns.len());
    for r in returns {
        p *= 1.0 + r;
        out.extend([p, 1.0, p, 1.0]);
    }
    out
}

fn lending(f: &Fuzz) -> Option<Family> {
    let threshold = match f.rules {
        Rules::CompoundV2 { .. } => 0.75,
        _ => 0.8,
    };
    let eth = Reserve {
        threshold,
        bonus: 0.05,
        protocol_fee: 0.1,
        liquidation_factor: 0.9,
    };
    let base = Reserve {
        threshold: 0.0,
        bonus: 0.0,
        protocol_fee: 0.0,
        liquidation_factor: 0.0,
    };
    let protocol = Lending::new(f.rules.clone(), vec![Some(eth), Some(base), None, None]).ok()?;
    let accounts = lending_accounts(
        &[ETH as u32, USDC as u32],
        f.accounts.iter().flat_map(|&(e, _)| [e, 0.0]).collect(),
        f.accounts.iter().flat_map(|&(_, u)| [0.0, u]).collect(),
        4,
    );
    Some(lending_family(vec![protocol], accounts))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_scenarios_end_cleanly_finite_and_conserving(f in fuzz()) {
        let c = &f.families;
        let mut families = Vec::new();
        families.extend(lending(&f));
        families.push(Family::Perps(c.perp.build()));
        families.push(Family::Vaults(c.vaults.build()));
        families.push(Family::Funds(c.funds.build()));
        let sc = scenario_of(
            vec![
                asset("ETH", 100.0, f.eth.iter().map(VenueSpec::build).collect(), f.eth_oracle),
                asset("USDC", 1.0, vec![], OracleKind::Reference),
                asset(
                    "ETH-PERP",
                    100.0,
                    f.perp.iter().map(VenueSpec::build).collect(),
                    c.perp_oracle,
                ),
                c.lst.asset(),
            ],
            families,
            c.queue,
        );
        let prices = path(&f.returns);
        // The strategies draw valid scenarios only: the core must take every one.
        let built = Engine::new(sc, 5);
        prop_assert!(built.is_ok(), "refused: {}", built.unwrap_err());
        let mut e = built.unwrap();
        let outcome = e.run(&prices, f.max_extra, || false);
        if let Err(err) = &outcome {
            // Runaway target funds stop a run; nothing else may.
            prop_assert!(matches!(err, Error::Diverged { .. }), "{err}");
        }
        // It ended within the path and the extra steps.
        prop_assert!(e.current_step() as usize <= f.returns.len() + f.max_extra as usize);

        let ev = &e.events();
        for (name, col) in [("qty", &ev.qty), ("notional", &ev.notional),
            ("debt_repaid", &ev.debt_repaid), ("debt_repaid_value", &ev.debt_repaid_value),
            ("collateral_seized", &ev.collateral_seized), ("bad_debt", &ev.bad_debt),
            ("insurance_change", &ev.insurance_change), ("realized_pnl", &ev.realized_pnl)]
        {
            let bad = col.iter().position(|x| !x.is_finite());
            prop_assert!(bad.is_none(), "events.{}[{:?}] is not finite", name, bad);
        }
        prop_assert!(ev.bad_debt.iter().all(|&b| b >= 0.0));
        let st = e.step_rows();
        for k in 0..st.len() {
            prop_assert!(st.reference[k].is_finite() && st.reference[k] > 0.0);
            prop_assert!(st.mid[k].is_finite() && st.mid[k] > 0.0, "mid {} at row {}", st.mid[k], k);
            prop_assert!(st.oracle[k].is_finite() && st.oracle[k] > 0.0);
            // Infinite where no sale can move the price 2 % (an impact curve within 2 % of its
            // floor): true, not a lapse; never NaN or negative.
            prop_assert!(st.bid_depth_2pct[k] >= 0.0, "depth {} at row {}", st.bid_depth_2pct[k], k);
            prop_assert!(st.liquidated_notional[k].is_finite());
            prop_assert!(st.cumulative_bad_debt[k] >= 0.0);
            if k >= 3 {
                prop_assert!(st.cumulative_bad_debt[k] >= st.cumulative_bad_debt[k - 3]);
            }
        }
        prop_assert!(e.cumulative_bad_debt().is_finite() && e.cumulative_bad_debt() >= 0.0);

        // Units of spot ETH: what the forced sellers sold, net of the funds' purchases, is what
        // the venues took.
        let k = |kind: EventKind| kind as u8;
        let (mut sold, mut bought) = (0.0, 0.0);
        for r in 0..ev.len() {
            if ev.asset[r] as usize != ETH {
                continue;
            }
            let kind = ev.kind[r];
            if [k(EventKind::Liquidation), k(EventKind::Sale), k(EventKind::Storefront),
                k(EventKind::AuctionTake), k(EventKind::FundSale)].contains(&kind)
            {
                sold += ev.qty[r];
            } else if kind == k(EventKind::FundPurchase) {
                bought += ev.qty[r];
            }
        }
        let fl = e.market().flows(ETH);
        let scale = (fl.bought + fl.sold).max(1.0);
        prop_assert!(close_at(sold - bought, fl.bought - fl.sold, RTOL, scale),
            "sold {} − bought {} vs the venues' {} − {}", sold, bought, fl.bought, fl.sold);
    }
}

#[test]
fn every_venue_kind_is_drawn() {
    // The strategies above reach what they claim: a few hundred draws hold each venue kind.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut books, mut pools, mut curves) = (0, 0, 0);
    for _ in 0..300 {
        match venue().new_tree(&mut runner).unwrap().current() {
            VenueSpec::Book { .. } => books += 1,
            VenueSpec::Pool { .. } => pools += 1,
            VenueSpec::Curve { .. } => curves += 1,
        }
    }
    assert!(books > 0 && pools > 0 && curves > 0);
}
