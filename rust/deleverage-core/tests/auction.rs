//! Maker Liquidations 2.0 (MECHANICS §5) through the engine, against numbers worked by hand.
//!
//! The common setup is MECHANICS worked example 5: OSM 1,840, mat 1.45, rate 1.02, chop 1.13,
//! dust 7,500; Hole 50,000,000, Dirt 12,000,000, ilk.hole 20,000,000, ilk.dirt 19,990,000; a vault
//! with ink 11 and art 14,500; buf 1.20, stairstep cut 0.985 per 90 s, tail 7,200 s, cusp 0.45,
//! tip 250, chip 0.001. One asset (ETH); the OSM is a `Delayed` oracle whose delay outlasts the
//! test, so it reads 1,840 throughout while the venues move.

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;

use common::{asset, scenario_of, vaults_of};
use deleverage_core::{
    AnyVenue, Engine, Error, EventKind, Execution, Family, ForcedSeller, Ilk, ImpactCurve,
    OracleKind, PriceCurve, QueueConfig, VaultStatus, Vaults,
};

const SLOPE: f64 = 1e-7;
const STAIR: PriceCurve = PriceCurve::StairstepExponential {
    step: 90.0,
    cut: 0.985,
};

fn ilk() -> Ilk {
    Ilk {
        asset: 0,
        mat: 1.45,
        rate: 1.02,
        chop: 1.13,
        dust: 7_500.0,
        hole: 20_000_000.0,
        dirt: 19_990_000.0,
        buf: 1.20,
        curve: STAIR,
        tail: 7_200.0,
        cusp: 0.45,
        chip: 0.001,
        tip: 250.0,
    }
}

fn one_vault(il: Ilk) -> Vaults {
    Vaults::new(
        50_000_000.0,
        12_000_000.0,
        vec![il],
        vec![7],
        vec![0],
        vec![11.0],
        vec![14_500.0],
    )
    .unwrap()
}

/// An ETH market at 1,840 on a linear impact curve (or without venues), with the OSM oracle.
fn engine(vaults: Vaults, venue: bool, oracle: OracleKind, q: QueueConfig, dt: f64) -> Engine {
    let venues: Vec<AnyVenue> = if venue {
        vec![
            ImpactCurve::linear(1_840.0, SLOPE, Execution::Integral)
                .unwrap()
                .into(),
        ]
    } else {
        Vec::new()
    };
    let mut sc = scenario_of(
        vec![asset("ETH", 1_840.0, venues, oracle)],
        vec![Family::Vaults(vaults)],
        q,
    );
    sc.step_seconds = dt;
    Engine::new(sc, 1).unwrap()
}

const OSM: OracleKind = OracleKind::Delayed { delay: 1e9 };

fn kinds(e: &Engine) -> Vec<u8> {
    e.events().kind.clone()
}

/// The §8 Maker identities for an ended auction: dink = Σ slices + lot returned; tab = Σ owe +
/// tab left; all of the tab was dug out of Dirt again.
fn identities(v: &Vaults, k: usize) {
    let a = v.auctions()[k];
    assert!(!a.running);
    assert_close!(a.sliced + a.returned, a.lot0);
    assert_close!(a.owe + a.tab_left, a.tab0);
    assert_close!(a.dug, a.tab0);
}

#[test]
fn worked_example_5() {
    let mut e = engine(one_vault(ilk()), true, OSM, QueueConfig::default(), 1_000.0);
    e.step(&[1_840.0]).unwrap();

    // Unsafe: ink·spot = 11·1,840/1.45 = 13,958.6206897 < art·rate = 14,790.
    assert_close!(11.0 * 1_840.0 / 1.45, 13_958.620_689_655_172);
    assert_close!(14_500.0 * 1.02, 14_790.0);
    // room = min(38,000,000, 10,000) = 10,000; dart = 10,000/1.02/1.13 = 8,676.03678640 leaves a
    // remnant (14,500 − 8,676.03678640)·1.02 = 5,940.44247788 < dust: the whole vault.
    assert_close!(
        (14_500.0 - 8_676.036_786_395_974) * 1.02,
        5_940.442_477_876_106
    );
    let v = vaults_of(&e, 0);
    assert_eq!(v.auctions().len(), 1);
    let a = v.auctions()[0];
    assert_close!(a.lot0, 11.0);
    assert_close!(a.due, 14_790.0);
    assert_close!(a.tab0, 16_712.7);
    assert_close!(a.top, 2_208.0);
    assert_close!(a.coins, 266.7127);
    assert_close!(v.ilks()[0].chost(), 8_475.0);
    assert_close!(v.ilks()[0].dirt, 20_006_712.7);
    assert_close!(v.dirt(), 12_016_712.7);
    assert_eq!(v.ink()[0], 0.0);
    assert_eq!(v.art()[0], 0.0);
    let ev = &e.events();
    assert_eq!(kinds(&e), vec![EventKind::AuctionKick as u8]);
    assert_eq!(ev.account[0], 7);
    assert_eq!(ev.protocol[0], 0);
    assert_close!(ev.collateral_seized[0], 11.0);
    assert_close!(ev.debt_repaid[0], 14_790.0);
    assert_close!(ev.debt_repaid_value[0], 16_712.7);
    assert_close!(ev.bonus[0], 16_712.7 - 14_790.0);
    assert_close!(ev.protocol_fee[0], 266.7127);
    // A bark is a liquidation of 11 ETH at the OSM price.
    assert_close!(e.step_rows().liquidated_notional[0], 11.0 * 1_840.0);
    assert_eq!(e.step_rows().liquidation_count[0], 1);
    assert_eq!(
        vaults_of(&e, 0).table().status[0],
        VaultStatus::InAuction as u8
    );

    // t = 1,000 s: floor(1,000/90) = 11, price = 2,208·0.985^11 = 1,869.81054426; price/top =
    // 0.846834 ≥ cusp. The venues now pay about 2,000 (the OSM still reads 1,840).
    let (p, redo) = vaults_of(&e, 0).status(0, 1_000.0).unwrap();
    assert_close!(p, 1_869.810_544_260_565);
    assert!(!redo);
    e.step(&[2_000.0]).unwrap();
    // take(11): owe = 11·1,869.81054426 = 20,567.9159869 > tab → owe = 16,712.7,
    // slice = 16,712.7/1,869.81054426 = 8.93817828298; 2.06182171702 ETH back to the owner.
    let v = vaults_of(&e, 0);
    let a = v.auctions()[0];
    assert!(!a.running);
    assert_close!(a.owe, 16_712.7);
    assert_close!(a.sliced, 8.938_178_282_98);
    assert_close!(a.returned, 2.061_821_717_02);
    assert_eq!(a.tab, 0.0);
    assert_eq!(a.tab_left, 0.0);
    assert_eq!(a.bad_debt, 0.0);
    // digs 16,712.7: ilk.dirt back to 19,990,000 and Dirt to 12,000,000.
    assert_close!(v.ilks()[0].dirt, 19_990_000.0);
    assert_close!(v.dirt(), 12_000_000.0);
    identities(v, 0);
    assert!(!v.busy());
    let ev = &e.events();
    assert_eq!(
        kinds(&e),
        vec![EventKind::AuctionKick as u8, EventKind::AuctionTake as u8]
    );
    assert_close!(ev.collateral_seized[1], 8.938_178_282_98);
    assert_close!(ev.debt_repaid_value[1], 16_712.7);
    assert_eq!(ev.bad_debt[1], 0.0);
    // The keeper sells the whole slice on the curve at 2,000: VWAP = S(1 − ℓ·q/2), q = slice·S.
    let q = 8.938_178_282_98 * 2_000.0;
    assert_close!(ev.qty[1], 8.938_178_282_98);
    assert_close!(ev.notional[1], q * (1.0 - SLOPE * q / 2.0));
    assert_close!(ev.price_before[1], 2_000.0);
    assert_close!(ev.price_after[1], 2_000.0 * (1.0 - SLOPE * q));
    assert_close!(v.keepers_paid(), 16_712.7);
    assert_close!(v.keepers_received(), ev.notional[1]);
    assert_close!(v.coins_paid(), 266.7127);
    assert_close!(v.collateral_returned()[0], 2.061_821_717_02);
    let t = v.table();
    assert_eq!(t.status[0], VaultStatus::Closed as u8);
    assert_close!(t.collateral_auctioned[0], 11.0);
    assert_close!(t.collateral_returned[0], 2.061_821_717_02);
    assert_close!(t.owe_recovered[0], 16_712.7);
    assert_eq!(e.cumulative_bad_debt(), 0.0);
    assert_close!(e.ledger().sold[0], 8.938_178_282_98);
}

#[test]
fn curve_prices_by_hand() {
    let top = 2_208.0;
    let lin = PriceCurve::Linear { tau: 3_000.0 };
    assert_eq!(lin.price(top, 0.0), top);
    assert_close!(lin.price(top, 600.0), 1_766.4); // 2,208·2,400/3,000
    assert_close!(lin.price(top, 1_800.0), 883.2); // 2,208·1,200/3,000
    assert_eq!(lin.price(top, 3_000.0), 0.0);
    assert_eq!(lin.price(top, 4_000.0), 0.0);
    // Stairstep: the price holds within a step and drops by cut at each multiple of 90 s.
    assert_eq!(STAIR.price(top, 89.9), top);
    assert_close!(STAIR.price(top, 90.0), 2_208.0 * 0.985);
    assert_close!(STAIR.price(top, 900.0), 1_898.284_816_508_188); // 0.985^10
    assert_close!(STAIR.price(top, 989.0), 1_898.284_816_508_188);
    assert_close!(STAIR.price(top, 1_000.0), 1_869.810_544_260_565); // 0.985^11
    assert_close!(STAIR.price(top, 7_200.0), 659.018_352_147_256_9); // 0.985^80
    let exp = PriceCurve::Exponential { cut: 0.9999 };
    assert_eq!(exp.price(top, 0.0), top);
    assert_close!(exp.price(top, 600.0), 2_079.409_851_499_195); // 0.9999^600
    assert_close!(exp.price(top, 1_200.0), 1_958.308_573_601_406);
}

#[test]
fn each_curve_decays_from_the_kick_in_the_engine() {
    // Without venues nobody takes: the price follows the curve from tic = 0, top = 2,208.
    let cases = [
        (PriceCurve::Linear { tau: 3_000.0 }, [1_766.4, 883.2]),
        (STAIR, [2_016.584_626_664_950_5, 1_632.013_244_830_400_6]),
        (
            PriceCurve::Exponential { cut: 0.9999 },
            [2_079.409_851_499_195, 1_844.260_027_274_501_4],
        ),
    ];
    for (curve, want) in cases {
        let il = Ilk {
            curve,
            cusp: 0.0,
            tail: f64::INFINITY,
            ..ilk()
        };
        let mut e = engine(one_vault(il), false, OSM, QueueConfig::default(), 600.0);
        e.step(&[1_840.0]).unwrap();
        // Stairstep at 600 s: floor(600/90) = 6 steps, 0.985^6; at 1,800 s: 20 steps.
        for (t, w) in [(600.0, want[0]), (1_800.0, want[1])] {
            while f64::from(e.current_step()) * 600.0 <= t {
                e.step(&[1_840.0]).unwrap();
            }
            let tab = vaults_of(&e, 0).auction_table(t);
            assert!(tab.running[0]);
            assert_close!(tab.price[0], w);
            assert!(!tab.needs_redo[0]);
        }
        assert_eq!(kinds(&e), vec![EventKind::AuctionKick as u8]);
    }
}

#[test]
fn chost_rule_keeps_a_partial_take_above_chost() {
    // The keepers can pay 10,000 per step. Step 1 (t = 1,000, price p1 = 1,869.81054426): the
    // budget buys 10,000/p1, which would leave 6,712.7 < chost = 8,475, so owe = tab − chost =
    // 8,237.7 and slice = 8,237.7/p1. The rest of the budget (1,762.3) would again leave less than
    // chost, and tab = chost is not above chost: no second take. Step 2 (t = 2,000, p2 =
    // 2,208·0.985^22): the budget covers the tab of 8,475, slice = 8,475/p2, the rest returns.
    let q = QueueConfig {
        budget_notional: 10_000.0,
        ..QueueConfig::default()
    };
    let mut e = engine(one_vault(ilk()), true, OSM, q, 1_000.0);
    e.step(&[1_840.0]).unwrap();
    e.step(&[2_000.0]).unwrap();
    let p1 = 1_869.810_544_260_565;
    let a = vaults_of(&e, 0).auctions()[0];
    assert!(a.running);
    assert_close!(a.owe, 8_237.7);
    assert_close!(a.tab, 8_475.0);
    assert_close!(a.lot, 11.0 - 8_237.7 / p1);
    assert_close!(vaults_of(&e, 0).dirt(), 12_016_712.7 - 8_237.7);
    assert_eq!(
        kinds(&e),
        vec![EventKind::AuctionKick as u8, EventKind::AuctionTake as u8]
    );
    e.step(&[2_000.0]).unwrap();
    let p2 = 1_583.420_050_465_575_5;
    let v = vaults_of(&e, 0);
    let a = v.auctions()[0];
    assert!(!a.running);
    assert_close!(a.owe, 16_712.7);
    assert_close!(a.sliced, 8_237.7 / p1 + 8_475.0 / p2);
    assert_close!(a.returned, 11.0 - 8_237.7 / p1 - 8_475.0 / p2);
    let ev = &e.events();
    assert_close!(ev.debt_repaid_value[2], 8_475.0);
    assert_close!(ev.collateral_seized[2], 8_475.0 / p2);
    assert_close!(v.dirt(), 12_000_000.0);
    assert_close!(v.ilks()[0].dirt, 19_990_000.0);
    identities(v, 0);
}

#[test]
fn hole_caps_a_bark_to_a_partial_dart() {
    // Room under the global Hole is 5,000 (the ilk's is large); dust 1,000. Two unsafe vaults:
    // row 0 (ink 11.5, ratio 0.9867) and row 1 (ink 11, ratio 0.9438): the worse goes first.
    // dart = 5,000/1.02/1.13 = 4,338.01839320; the remnant (14,500 − dart)·1.02 = 10,365.22 is
    // above dust and dart·rate = 4,424.78 reaches it: a partial bark with tab = 5,000 and
    // dink = 11·dart/14,500. Hole is then full: row 0 is not barked.
    let il = Ilk {
        dust: 1_000.0,
        hole: f64::INFINITY,
        dirt: 0.0,
        ..ilk()
    };
    let v = Vaults::new(
        12_005_000.0,
        12_000_000.0,
        vec![il],
        vec![20, 21],
        vec![0, 0],
        vec![11.5, 11.0],
        vec![14_500.0, 14_500.0],
    )
    .unwrap();
    let mut e = engine(v, false, OSM, QueueConfig::default(), 600.0);
    e.step(&[1_840.0]).unwrap();
    let dart = 4_338.018_393_197_987;
    let v = vaults_of(&e, 0);
    assert_eq!(v.auctions().len(), 1);
    let a = v.auctions()[0];
    assert_eq!(a.vault, 1);
    assert_eq!(a.owner, 21);
    assert_close!(a.due, dart * 1.02);
    assert_close!(a.tab0, 5_000.0);
    assert_close!(a.lot0, 11.0 * dart / 14_500.0);
    assert_close!(v.art()[1], 14_500.0 - dart);
    assert_close!(v.ink()[1], 11.0 - 11.0 * dart / 14_500.0);
    assert_eq!(v.art()[0], 14_500.0);
    assert_close!(v.dirt(), 12_005_000.0);
    assert_close!(v.ilks()[0].dirt, 5_000.0);
    assert_eq!(e.events().account, vec![21]);
    assert_eq!(e.events().bonus.len(), 1);
    // Still full in the next steps.
    e.step(&[1_840.0]).unwrap();
    assert_eq!(vaults_of(&e, 0).auctions().len(), 1);
    let t = vaults_of(&e, 0).table();
    assert_eq!(t.status, vec![0, 1]);
}

#[test]
fn dusty_remnant_takes_the_whole_vault_and_a_dusty_partial_is_skipped() {
    // Worked example 5 already shows the remnant rule against the ilk's hole; here the ilk's room
    // is 500: dart = 500/1.02/1.13 = 433.80183932 leaves 14,057.5·1.02 above dust, and
    // dart·rate = 442.48 < dust 7,500: Dog/dusty-auction-from-partial-liquidation, no bark.
    let il = Ilk {
        dirt: 20_000_000.0 - 500.0,
        ..ilk()
    };
    let mut e = engine(one_vault(il), false, OSM, QueueConfig::default(), 600.0);
    e.step(&[1_840.0]).unwrap();
    assert!(e.events().is_empty());
    let v = vaults_of(&e, 0);
    assert_eq!(v.art()[0], 14_500.0);
    assert_eq!(v.dirt(), 12_000_000.0);
    assert_eq!(v.table().status[0], VaultStatus::Active as u8);

    // Room 8,000: dart = 8,000/1.02/1.13 = 6,940.82951 leaves a remnant
    // (14,500 − dart)·1.02 = 7,710.35. With dust 7,000 the remnant stays and the partial
    // dart·rate = 7,079.65 reaches dust: a partial bark of tab 8,000.
    let dart = 8_000.0 / 1.02 / 1.13;
    assert_close!((14_500.0 - dart) * 1.02, 7_710.353_982_300_885);
    let room_8000 = |dust: f64| Ilk {
        dust,
        dirt: 20_000_000.0 - 8_000.0,
        ..ilk()
    };
    let mut e = engine(
        one_vault(room_8000(7_000.0)),
        false,
        OSM,
        QueueConfig::default(),
        600.0,
    );
    e.step(&[1_840.0]).unwrap();
    let v = vaults_of(&e, 0);
    assert_close!(v.auctions()[0].tab0, 8_000.0);
    assert_close!(v.auctions()[0].lot0, 11.0 * dart / 14_500.0);
    assert_close!(v.art()[0], 14_500.0 - dart);
    assert_close!(v.ilks()[0].dirt, 20_000_000.0);
    // With dust 7,800 the remnant is dusty: the whole vault goes, tab 16,712.7 above the room.
    let mut e = engine(
        one_vault(room_8000(7_800.0)),
        false,
        OSM,
        QueueConfig::default(),
        600.0,
    );
    e.step(&[1_840.0]).unwrap();
    let v = vaults_of(&e, 0);
    assert_close!(v.auctions()[0].tab0, 16_712.7);
    assert_eq!(v.auctions()[0].lot0, 11.0);
    assert_eq!(v.art()[0], 0.0);
    assert_close!(v.ilks()[0].dirt, 20_000_000.0 - 8_000.0 + 16_712.7);
}

/// Runs worked example 5 at a flat 1,840 where nobody takes (no venues, or no budget), with
/// steps of 600 s and the given cusp and dust; returns the engine after `steps` steps.
fn stalled(venue: bool, budget: f64, cusp: f64, dust: f64, steps: u32) -> Engine {
    let il = Ilk {
        cusp,
        dust,
        ..ilk()
    };
    let q = QueueConfig {
        budget_notional: budget,
        ..QueueConfig::default()
    };
    let mut e = engine(one_vault(il), venue, OracleKind::Spot, q, 600.0);
    for _ in 0..steps {
        e.step(&[1_840.0]).unwrap();
    }
    e
}

#[test]
fn an_untaken_auction_decays_and_redoes_after_tail() {
    // cusp 0.2 < 0.985^80 = 0.2985: only the tail resets. At t = 7,200 (step 12) now − tic = tail
    // is not above it (strict); at t = 7,800 (step 13) the auction is reset: tic = 7,800,
    // top = 1,840·1.2, coin = 250 + 0.001·16,712.7 since tab = 16,712.7 ≥ chost = 8,475 and
    // lot·feed = 20,240 ≥ chost.
    for (venue, budget) in [(false, f64::INFINITY), (true, 0.0)] {
        let e = stalled(venue, budget, 0.2, 7_500.0, 13);
        let t = vaults_of(&e, 0).auction_table(7_200.0);
        assert_close!(t.price[0], 659.018_352_147_256_9);
        assert!(!t.needs_redo[0]);
        assert_eq!(kinds(&e), vec![EventKind::AuctionKick as u8]);
        let e = stalled(venue, budget, 0.2, 7_500.0, 14);
        let v = vaults_of(&e, 0);
        let a = v.auctions()[0];
        assert!(a.running && v.busy());
        assert_eq!(a.redos, 1);
        assert_eq!(a.tic, 7_800.0);
        assert_close!(a.top, 2_208.0);
        assert_close!(a.coins, 2.0 * 266.7127);
        assert_close!(a.tab, 16_712.7);
        assert_eq!(a.lot, 11.0);
        assert_eq!(
            kinds(&e),
            vec![EventKind::AuctionKick as u8, EventKind::AuctionRedo as u8]
        );
        let ev = &e.events();
        assert_eq!(ev.step[1], 13);
        assert_close!(ev.protocol_fee[1], 266.7127);
        assert_eq!(ev.account[1], 7);
        // 600 s after the redo: 0.985^6 of the new top.
        let (p, redo) = v.status(0, 8_400.0).unwrap();
        assert_close!(p, 2_016.584_626_664_950_5);
        assert!(!redo);
        // Dirt still carries the whole tab while the auction runs.
        assert_close!(v.dirt(), 12_016_712.7);
    }
    // With dust 20,000, chost = 22,600 > tab: the redo pays no coin.
    let e = stalled(false, f64::INFINITY, 0.2, 20_000.0, 14);
    let a = vaults_of(&e, 0).auctions()[0];
    assert_eq!(a.redos, 1);
    assert_close!(a.coins, 266.7127);
    assert_eq!(e.events().protocol_fee[1], 0.0);
}

#[test]
fn cusp_resets_an_auction_in_the_first_step_below_it() {
    // cusp 0.45: at t = 4,200, 0.985^46 = 0.49896 ≥ cusp; at t = 4,800, 0.985^53 = 0.44887 < cusp.
    let e = stalled(false, f64::INFINITY, 0.45, 7_500.0, 8);
    assert_eq!(vaults_of(&e, 0).auctions()[0].redos, 0);
    let (p, redo) = vaults_of(&e, 0).status(0, 4_800.0).unwrap();
    assert_close!(p, 991.104_128_982_510_1);
    assert!(redo);
    let e = stalled(false, f64::INFINITY, 0.45, 7_500.0, 9);
    let a = vaults_of(&e, 0).auctions()[0];
    assert_eq!(a.redos, 1);
    assert_eq!(a.tic, 4_800.0);
    assert_eq!(e.events().step[1], 8);
}

#[test]
fn an_auction_that_runs_out_of_lot_leaves_bad_debt() {
    // The venues fall to 1,000 after the kick while the OSM stays at 1,840; steps of 900 s,
    // cusp 0.3. Prices 2,208·0.985^(10n): n = 5 gives 1,037.08 > what 11 ETH fetch (≈ 999.45);
    // n = 6 gives p6 = 891.605828660 and the keeper takes the whole lot: owe = 11·p6 =
    // 9,807.66 < tab. The lot is gone with tab 16,712.7 − owe unrecovered; bad debt = due − owe =
    // 14,790 − owe. digs(tab + owe) = the whole tab: Dirt is back.
    let il = Ilk { cusp: 0.3, ..ilk() };
    let mut e = engine(one_vault(il), true, OSM, QueueConfig::default(), 900.0);
    e.step(&[1_840.0]).unwrap();
    for _ in 0..5 {
        e.step(&[1_000.0]).unwrap();
    }
    assert!(vaults_of(&e, 0).busy());
    assert_eq!(e.events().len(), 1);
    e.step(&[1_000.0]).unwrap();
    let p6 = 891.605_828_660_023_5;
    let owe = 11.0 * p6;
    let v = vaults_of(&e, 0);
    let a = v.auctions()[0];
    assert!(!a.running && !v.busy());
    assert_eq!(a.lot, 0.0);
    assert_close!(a.owe, owe);
    assert_close!(a.tab_left, 16_712.7 - owe);
    assert_close!(a.bad_debt, 14_790.0 - owe);
    assert_eq!(a.returned, 0.0);
    identities(v, 0);
    assert_close!(v.dirt(), 12_000_000.0);
    assert_close!(v.ilks()[0].dirt, 19_990_000.0);
    let ev = &e.events();
    assert_eq!(ev.kind[1], EventKind::AuctionTake as u8);
    assert_eq!(ev.step[1], 6);
    assert_close!(ev.collateral_seized[1], 11.0);
    assert_close!(ev.bad_debt[1], 14_790.0 - owe);
    assert_close!(e.cumulative_bad_debt(), 14_790.0 - owe);
    let t = v.table();
    assert_eq!(t.status[0], VaultStatus::BadDebt as u8);
    assert_close!(t.bad_debt[0], 14_790.0 - owe);
    // The net deficit of the liquidation: due + Σ coin − Σ owe (MECHANICS §5.4).
    assert_close!(a.due + a.coins - a.owe, 14_790.0 + 266.7127 - owe);
}

#[test]
fn constructor_names_the_bad_field() {
    let bad = |il: Ilk| {
        Vaults::new(1e9, 0.0, vec![il], vec![0], vec![0], vec![1.0], vec![1.0])
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad(Ilk { mat: 0.0, ..ilk() }),
        "ilks[0].mat must be > 0, got 0"
    );
    assert_eq!(
        bad(Ilk { cusp: 1.5, ..ilk() }),
        "ilks[0].cusp must be in [0, 1], got 1.5"
    );
    assert_eq!(
        bad(Ilk {
            curve: PriceCurve::Exponential { cut: 1.01 },
            ..ilk()
        }),
        "ilks[0].curve.cut must be in [0, 1], got 1.01"
    );
    assert_eq!(
        bad(Ilk {
            hole: f64::NAN,
            ..ilk()
        }),
        "ilks[0].hole must be >= 0 (or +inf), got NaN"
    );
    let e = Vaults::new(
        1e9,
        0.0,
        vec![ilk()],
        vec![0, 1],
        vec![0, 1],
        vec![1.0, 1.0],
        vec![1.0, 1.0],
    )
    .unwrap_err();
    assert!(matches!(e, Error::OutOfRange { ref field, .. } if field == "ilk[1]"));
    let e = Vaults::new(
        1e9,
        0.0,
        vec![ilk()],
        vec![0],
        vec![0],
        vec![-1.0],
        vec![1.0],
    );
    assert_eq!(e.unwrap_err().to_string(), "ink[0] must be >= 0, got -1");
    // An ilk on an asset the scenario does not have.
    let v = one_vault(Ilk { asset: 3, ..ilk() });
    assert!(
        v.check(1)
            .unwrap_err()
            .to_string()
            .contains("ilks[0].asset")
    );
}

#[test]
fn a_cascade_keeps_the_maker_identities() {
    // Twenty vaults of 14,000 art at a spot oracle; the ilk's hole leaves room for about three
    // auctions at a time and keepers can pay 30,000 per step, so barks wait for room, takes are
    // partial and keepers' sales push the spot oracle down into further barks. When every auction
    // has ended, each satisfies §8 and Dirt and ilk.dirt are back where they started.
    let n = 20;
    let il = Ilk {
        dust: 2_000.0,
        hole: 50_000.0,
        dirt: 0.0,
        tail: 3_600.0,
        cusp: 0.3,
        ..ilk()
    };
    let v = Vaults::new(
        f64::INFINITY,
        1_000.0,
        vec![il],
        (0..n).map(|i| 100 + i).collect(),
        vec![0; n as usize],
        (0..n).map(|i| 11.0 + 0.1 * f64::from(i)).collect(),
        vec![14_000.0; n as usize],
    )
    .unwrap();
    let q = QueueConfig {
        budget_notional: 30_000.0,
        ..QueueConfig::default()
    };
    let mut e = engine(v, true, OracleKind::Spot, q, 300.0);
    e.step(&[2_000.0]).unwrap();
    assert!(vaults_of(&e, 0).auctions().is_empty());
    let mut quiet = 0;
    for _ in 0..2_000 {
        e.step(&[1_700.0]).unwrap();
        quiet = if vaults_of(&e, 0).busy() {
            0
        } else {
            quiet + 1
        };
        if quiet > 3 {
            break;
        }
    }
    let v = vaults_of(&e, 0);
    assert!(!v.busy());
    assert!(v.auctions().len() >= 3, "{} auctions", v.auctions().len());
    for k in 0..v.auctions().len() {
        identities(v, k);
    }
    assert_close!(v.dirt(), 1_000.0);
    assert!(v.ilks()[0].dirt.abs() <= 1e-9 * 50_000.0);
    // Per vault: everything auctioned was sliced or returned; owe and bad debt add up.
    let t = v.table();
    let auctions = v.auctions();
    for i in 0..n as usize {
        let of = |f: &dyn Fn(&deleverage_core::family::auction::Auction) -> f64| -> f64 {
            auctions
                .iter()
                .filter(|a| a.vault as usize == i)
                .map(f)
                .sum()
        };
        // A vault that was never barked has nothing to compare: 0 to within 1e-9.
        assert_close!(t.collateral_auctioned[i], of(&|a| a.lot0), floor = 1.0);
        assert_close!(
            t.collateral_auctioned[i],
            of(&|a| a.sliced) + t.collateral_returned[i],
            floor = 1.0
        );
        assert_close!(t.owe_recovered[i], of(&|a| a.owe), floor = 1.0);
        assert_close!(t.bad_debt[i], of(&|a| a.bad_debt), floor = 1.0);
    }
    // The events carry the same flows as the state.
    let ev = &e.events();
    let sum = |kind: EventKind, col: &[f64]| -> f64 {
        (0..ev.len())
            .filter(|&k| ev.kind[k] == kind as u8)
            .map(|k| col[k])
            .sum()
    };
    assert_close!(
        sum(EventKind::AuctionKick, &ev.collateral_seized),
        auctions.iter().map(|a| a.lot0).sum()
    );
    assert_close!(
        sum(EventKind::AuctionTake, &ev.debt_repaid_value),
        v.keepers_paid()
    );
    assert_close!(
        sum(EventKind::AuctionTake, &ev.notional),
        v.keepers_received()
    );
    assert_close!(sum(EventKind::AuctionTake, &ev.qty), e.ledger().sold[0]);
    assert_close!(
        sum(EventKind::AuctionKick, &ev.protocol_fee)
            + sum(EventKind::AuctionRedo, &ev.protocol_fee),
        v.coins_paid()
    );
    assert_close!(
        sum(EventKind::AuctionTake, &ev.bad_debt),
        e.cumulative_bad_debt(),
        floor = 1.0
    );
    assert_close!(v.keepers_took()[0], auctions.iter().map(|a| a.sliced).sum());
}

#[test]
fn a_users_take_of_worked_example_5_and_the_clippers_refusals() {
    // Keepers with no budget: the kick at t = 0; at t = 1,000 s the price is 2,208·0.985^11.
    // The user takes 11 at a maximum of 1,900: the tab caps the owe at 16,712.7 for
    // 16,712.7/price ETH; the rest of the lot goes back to the owner.
    let q = QueueConfig {
        budget_notional: 0.0,
        ..QueueConfig::default()
    };
    let mut e = engine(one_vault(ilk()), true, OSM, q, 1_000.0);
    e.step(&[1_840.0]).unwrap();
    let price = 2_208.0 * 0.985_f64.powi(11);
    let err = e.take(0, 0, 11.0, 1_800.0).unwrap_err();
    assert!(err.to_string().contains("too-expensive"), "{err}");
    let (slice, owe) = e.take(0, 0, 11.0, 1_900.0).unwrap();
    assert_close!(owe, 16_712.7);
    assert_close!(slice, 16_712.7 / price);
    assert_eq!(
        kinds(&e),
        vec![EventKind::AuctionKick as u8, EventKind::UserTake as u8]
    );
    identities(vaults_of(&e, 0), 0);
    let err = e.take(0, 0, 1.0, 1_900.0).unwrap_err();
    assert!(err.to_string().contains("not-running-auction"), "{err}");
    assert!(e.take(1, 0, 1.0, 1_900.0).is_err());
}

#[test]
fn a_budget_equal_to_the_tab_pays_it_whole_and_the_tab_left_is_live() {
    // art 100 at rate 1 and chop 1.1: tab = 100 × 1.1, which is 110.00000000000001 in floating
    // point; dust 20, so chost = 22. ink 0.08: 0.08·1,840/1.5 = 98.13 < 100, unsafe. The keepers
    // hold 110 per step: the tab, up to the engine's tolerance. Step 1 (t = 1,000): the price
    // 2,208·0.985^11 = 1,869.81 is above what the venue pays; step 2 (t = 2,000):
    // p2 = 2,208·0.985^22 = 1,583.42 is below it, and the budget pays the whole tab (not
    // tab − chost = 88, as a strict comparison of 110 with 110.00000000000001 would make it).
    let il = Ilk {
        mat: 1.5,
        rate: 1.0,
        chop: 1.1,
        dust: 20.0,
        hole: f64::INFINITY,
        dirt: 0.0,
        ..ilk()
    };
    let v = Vaults::new(
        f64::INFINITY,
        0.0,
        vec![il],
        vec![7],
        vec![0],
        vec![0.08],
        vec![100.0],
    )
    .unwrap();
    let q = QueueConfig {
        budget_notional: 110.0,
        ..QueueConfig::default()
    };
    let mut e = engine(v, true, OSM, q, 1_000.0);
    let tab = 100.0 * 1.1;
    assert!(tab > 110.0, "the float quirk this test is about");
    e.step(&[1_840.0]).unwrap();
    e.step(&[1_840.0]).unwrap();
    let v = vaults_of(&e, 0);
    let a = v.auctions()[0];
    assert!(a.running);
    assert_eq!(a.tab0, tab);
    // While the auction runs, the tab left is its live tab, beside the live lot.
    assert_eq!(a.tab_left, a.tab);
    assert_eq!(a.lot, 0.08);
    // The final-state table prices the auction at the last step run (t = 1,000), not later.
    let tables = v.tables(e.shared(), &e.shared().px);
    let auctions = &tables.iter().find(|(n, _)| *n == "auctions").unwrap().1;
    let Some(deleverage_core::recorder::Column::F64(price)) = auctions.column("price") else {
        panic!("auctions.price is a float column")
    };
    assert_close!(price[0], 2_208.0 * 0.985_f64.powi(11));
    assert_close!(v.status(0, 1_000.0).unwrap().0, price[0]);

    e.step(&[1_840.0]).unwrap();
    let v = vaults_of(&e, 0);
    let a = v.auctions()[0];
    let p2 = 2_208.0 * 0.985_f64.powi(22);
    assert!(!a.running);
    assert_eq!(a.owe, tab);
    assert_eq!(a.tab_left, 0.0);
    assert_close!(a.sliced, tab / p2);
    assert_close!(a.returned, 0.08 - tab / p2);
    identities(v, 0);
}
