//! A liquidation by the engine's user under the protocol's rules (`Engine::liquidate`), against
//! MECHANICS worked example 3a, and the refusals a contract would revert with.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{aave_v3, asset, lending_accounts, lending_family, reserve, scenario_of};
use deleverage_core::{AaveVersion, Engine, Error, EventKind, OracleKind, QueueConfig};

fn engine(collateral: f64, debt: f64, price: f64) -> Engine {
    let aave = aave_v3(
        AaveVersion::V3_3,
        vec![reserve(0.80, 0.07, 0.15), reserve(0.0, 0.0, 0.0)],
    );
    let acc = lending_accounts(&[0, 1], vec![collateral, 0.0], vec![0.0, debt], 2);
    let sc = scenario_of(
        vec![
            asset("ETH", price, vec![], OracleKind::Reference),
            asset("USDC", 1.0, vec![], OracleKind::Reference),
        ],
        vec![lending_family(vec![aave], acc)],
        QueueConfig::default(),
    );
    Engine::new(sc, 0).unwrap()
}

#[test]
fn worked_example_3a_by_hand() {
    // 4.2 ETH at 2,450 against 9,800 USDC: HF 0.84; the collateral caps the seizure: 4.2 ETH
    // for 9,616.82 repaid, 183.18 left written off (v3.3).
    let mut e = engine(4.2, 9_800.0, 2_450.0);
    let m = e.liquidate(0, 1, 0, 9_800.0).unwrap();
    assert_close!(m.seized, 4.2);
    assert_close!(m.repaid, 9_616.822_429_91);
    assert_close!(m.protocol_fee, 0.041_214_953_271_0);
    assert_close!(m.bad_debt, 9_800.0 - 9_616.822_429_91);
    assert_close!(e.cumulative_bad_debt(), m.bad_debt);
    assert_eq!(e.events().kind, vec![EventKind::UserLiquidation as u8]);
    assert_eq!(e.events().qty, vec![0.0]);
}

#[test]
fn refusals_name_the_account_and_change_nothing() {
    // 10 ETH at 2,450 against 9,800: HF 2.0, healthy.
    let mut e = engine(10.0, 9_800.0, 2_450.0);
    let err = e.liquidate(0, 1, 0, 100.0).unwrap_err();
    assert!(matches!(err, Error::Refused { account: 0, .. }), "{err}");
    assert!(
        err.to_string().starts_with("account 0 is not liquidatable"),
        "{err}"
    );
    assert!(e.events().is_empty());
    let err = e.liquidate(5, 1, 0, 100.0).unwrap_err();
    assert_eq!(err.to_string(), "account 5 is not a lending account");
    let err = e.liquidate(0, 1, 7, 100.0).unwrap_err();
    assert_eq!(err.field(), Some("collateral_asset"));
}
