//! The core owns the names of its enums: codes label result columns by `NAMES`, and settings
//! read by name are refused with the field and the valid names.

use deleverage_core::{
    AdlOrder, AdlRanking, EventKind, Priority, RoundMode, Status, Trigger, enum_names,
};

#[test]
fn codes_and_names_round_trip() {
    assert_eq!(EventKind::NAMES.len(), 23);
    assert_eq!(EventKind::NAMES[22], "collateral_sale");
    assert_eq!(EventKind::NAMES[21], "owner_sale");
    assert_eq!(EventKind::NAMES[16], "user_buy");
    assert_eq!(EventKind::PerpLiquidation as u8, 5);
    assert_eq!(EventKind::NAMES[5], "perp_liquidation");
    assert_eq!(Status::BadDebt.name(), "bad_debt");
    for (k, name) in Priority::NAMES.iter().enumerate() {
        assert_eq!(Priority::from_name("p", name).unwrap() as usize, k);
    }
    assert_eq!(
        RoundMode::from_name("m", "batch").unwrap(),
        RoundMode::Batch
    );
    assert_eq!(
        Trigger::from_name("t", "at_or_below").unwrap(),
        Trigger::AtOrBelow
    );
    assert_eq!(AdlOrder::from_name("a", "dydx").unwrap(), AdlOrder::Dydx);
    assert_eq!(
        AdlOrder::from_name("a", "pnl_ratio").unwrap(),
        AdlOrder::Ranked(AdlRanking::PnlRatio)
    );
    let exported: Vec<&str> = enum_names().iter().map(|(n, _)| *n).collect();
    assert!(exported.contains(&"event_kind") && exported.contains(&"adl"));
}

#[test]
fn unknown_names_are_refused_with_the_field_and_the_choices() {
    let e = Priority::from_name("queue.priority", "oldest").unwrap_err();
    assert_eq!(
        e.to_string(),
        "queue.priority must be one of worst_health, largest, fifo, random, got \"oldest\""
    );
    assert_eq!(e.field(), Some("queue.priority"));
    let e = AdlOrder::from_name("perps.adl", "lifo").unwrap_err();
    assert_eq!(
        e.to_string(),
        "perps.adl must be one of bitmex, binance, pnl_ratio, size, dydx, got \"lifo\""
    );
}
