//! Conservation identities of MECHANICS §8 across families (proptest): one scenario holds an Aave
//! protocol, a perp exchange, a Maker system and a fund group at once, on shared assets (ETH
//! spot, USDC, ETH-PERP), and an instant fall of ETH and ETH-PERP sets them all off. After the
//! run no unit or quote was created or destroyed: what every family sold is what the venues
//! bought and paid for, row by row and in total; the insurance fund, its deficits and the ADL
//! transfers balance; auctions and funds account for every unit and every unit of debt.
//!
//! The case, its strategies and its run are in `common/mixed.rs`; this file holds the property
//! (and so keys `conservation_mixed.proptest-regressions`).

use std::collections::HashMap;

#[macro_use]
#[allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a part of the shared helpers"
)]
mod common;
#[path = "common/mixed.rs"]
mod mixed;

use common::{RTOL, close_at, exchange_of, funds_of, vaults_of};
use deleverage_core::market::VenueFlows;
use deleverage_core::recorder::Value;
use deleverage_core::{EventKind, RoundMode, Side, Venue};
use mixed::{ETH, FUND0, FUNDS, LENDING, PERP, PERPS, STETH, TRADER0, USDC, VAULTS, case, run};
use proptest::prelude::*;

/// `prop_assert!` that `a` and `b` agree to RTOL of the identity's scale: the largest of
/// |`scale`| (the total the two sides sum over), |a| and |b|, and at least 1. A format string and
/// its arguments, if given, say which row or group failed.
macro_rules! check {
    ($a:expr, $b:expr, $scale:expr) => {
        check!($a, $b, $scale, "{} vs {}", stringify!($a), stringify!($b))
    };
    ($a:expr, $b:expr, $scale:expr, $($what:tt)+) => {{
        let (a, b, s): (f64, f64, f64) = ($a, $b, $scale);
        prop_assert!(
            close_at(a, b, RTOL, s.abs().max(a.abs()).max(b.abs()).max(1.0)),
            "{}: {a} vs {b} (scale {s})",
            format!($($what)+)
        );
    }};
}

const fn k(kind: EventKind) -> u8 {
    kind as u8
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn four_families_conserve_units_quote_and_debt(c in case()) {
        let (e, initial, stopped) = run(&c);
        let ev = &e.events();
        let rows = 0..ev.len();
        let sum = |pick: &dyn Fn(usize) -> bool, col: &[f64]| -> f64 {
            rows.clone().filter(|&r| pick(r)).map(|r| col[r]).sum()
        };
        let x = exchange_of(&e, PERPS as usize);
        let pl = x.ledger();
        let v = vaults_of(&e, VAULTS as usize);
        let f = funds_of(&e, FUNDS as usize);
        // The side of each perp trader (one position row per account).
        let side_of = |acc: u32| c.perp.positions[(acc - TRADER0) as usize].0;

        // No NaN or infinity anywhere in the recorded floats.
        for (name, col) in [("qty", &ev.qty), ("notional", &ev.notional),
            ("price_before", &ev.price_before), ("price_after", &ev.price_after),
            ("debt_repaid", &ev.debt_repaid), ("debt_repaid_value", &ev.debt_repaid_value),
            ("collateral_seized", &ev.collateral_seized), ("bad_debt", &ev.bad_debt),
            ("insurance_change", &ev.insurance_change), ("realized_pnl", &ev.realized_pnl)]
        {
            let bad = col.iter().position(|x| !x.is_finite());
            prop_assert!(bad.is_none(), "{}[{:?}] not finite: kind {:?}",
                name, bad, bad.map(|r| (ev.kind[r], ev.step[r], col[r])));
        }

        // ---- Venues: every forced order's units and quote, from both sides, per asset. ----
        // Sell rows: lending sales, keepers' sales of auction slices, funds' sales, and the
        // liquidation orders of perp longs; buy rows: funds' purchases and perp shorts' orders.
        let is_sell = |r: usize| match ev.kind[r] {
            x if x == k(EventKind::Liquidation) || x == k(EventKind::Sale)
                || x == k(EventKind::Storefront) || x == k(EventKind::AuctionTake)
                || x == k(EventKind::FundSale) || x == k(EventKind::OwnerSale)
                || x == k(EventKind::CollateralSale) => true,
            x if x == k(EventKind::PerpLiquidation) => side_of(ev.account[r]) > 0.0,
            _ => false,
        };
        let is_buy = |r: usize| match ev.kind[r] {
            x if x == k(EventKind::FundPurchase) => true,
            x if x == k(EventKind::PerpLiquidation) => side_of(ev.account[r]) < 0.0,
            _ => false,
        };
        for a in [ETH, USDC, PERP, STETH] {
            let on = |r: usize| ev.asset[r] as usize == a;
            let fl = e.market().flows(a);
            let scale = fl.paid + fl.received;
            let (sq, sn) = (sum(&|r| on(r) && is_sell(r), &ev.qty), sum(&|r| on(r) && is_sell(r), &ev.notional));
            let (bq, bn) = (sum(&|r| on(r) && is_buy(r), &ev.qty), sum(&|r| on(r) && is_buy(r), &ev.notional));
            // Net: a batch round crosses funds' sales and purchases before the venue sees them.
            check!(sq - bq, fl.bought - fl.sold, fl.bought + fl.sold);
            check!(sn - bn, fl.paid - fl.received, scale);
            // Gross, when no fund bought this asset (nothing crossed).
            if !rows.clone().any(|r| on(r) && ev.kind[r] == k(EventKind::FundPurchase)) {
                check!(sq, fl.bought, fl.bought);
                check!(sn, fl.paid, fl.paid);
                check!(bq, fl.sold, fl.sold);
                check!(bn, fl.received, fl.received);
            }
            // Any row that trades carries a finite positive price.
            for r in rows.clone().filter(|&r| on(r) && (is_sell(r) || is_buy(r)) && ev.qty[r] > 0.0) {
                prop_assert!(ev.notional[r] >= 0.0 && ev.price_before[r] > 0.0);
            }
        }
        prop_assert_eq!(e.market().flows(USDC), VenueFlows::default());
        // Quote across families: what each family's ledger says it received is what the
        // venues paid. ETH and stETH (whose pool pays in ETH, valued in quote): lending
        // liquidators, Maker keepers, funds; ETH-PERP: the exchange.
        let mut eth = e.market().flows(ETH);
        let steth = e.market().flows(STETH);
        eth.paid += steth.paid;
        eth.received += steth.received;
        let fund_sold: f64 = f.table(e.oracle_prices()).sold_notional.iter().sum();
        let fund_bought: f64 = f.table(e.oracle_prices()).bought_notional.iter().sum();
        let owner_sold = sum(&|r| ev.kind[r] == k(EventKind::OwnerSale), &ev.notional);
        // The perp exchange's sales of stETH margin (issue 18).
        let margin_sold = sum(&|r| ev.kind[r] == k(EventKind::CollateralSale), &ev.notional);
        check!(
            e.ledger().liquidators_received + v.keepers_received() + fund_sold - fund_bought
                + owner_sold + margin_sold,
            eth.paid - eth.received,
            eth.paid + eth.received
        );
        let perp_flows = e.market().flows(PERP);
        check!(pl.venue_quote_out, perp_flows.paid - perp_flows.received,
            perp_flows.paid + perp_flows.received);

        // Row by row, on an impact curve (whose whole state is its price): each fill row is
        // what that curve gives at the row's price_before, and leaves it at price_after. Funds'
        // rows of one batch round share one net order and are replayed together.
        for (spec, a) in [(&c.eth, ETH), (&c.perp_venue, PERP)] {
            let mut groups: HashMap<(u32, u32), (f64, f64, f64, f64)> = HashMap::new();
            for r in rows.clone().filter(|&r| ev.asset[r] as usize == a && (is_sell(r) || is_buy(r))) {
                let sign = if is_sell(r) { 1.0 } else { -1.0 };
                let fund_row = ev.protocol[r] == FUNDS;
                if fund_row && c.queue.mode == RoundMode::Batch {
                    let g = groups.entry((ev.step[r], ev.round[r])).or_insert((0.0, 0.0, ev.price_before[r], ev.price_after[r]));
                    g.0 += sign * ev.qty[r];
                    g.1 += sign * ev.notional[r];
                    continue;
                }
                if let Some(mut curve) = spec.curve_at(ev.price_before[r]) {
                    let side = if sign > 0.0 { Side::Sell } else { Side::Buy };
                    let fill = curve.execute(side, ev.qty[r]);
                    check!(fill.filled, ev.qty[r], ev.qty[r], "row {}: filled", r);
                    check!(fill.notional, ev.notional[r], ev.notional[r], "row {} kind {}: notional", r, ev.kind[r]);
                    check!(curve.price(), ev.price_after[r], ev.price_before[r], "row {}: price", r);
                }
            }
            for ((step, round), (q, n, before, after)) in groups {
                if let Some(mut curve) = spec.curve_at(before) {
                    let side = if q >= 0.0 { Side::Sell } else { Side::Buy };
                    let fill = curve.execute(side, q.abs());
                    check!(fill.notional, n.abs(), n.abs(), "funds {}/{}: notional", step, round);
                    check!(curve.price(), after, before);
                }
            }
        }

        // ---- Lending (Aave): collateral, debt, treasury, deficits. ----
        let l = &e.lending().unwrap().protocols()[0];
        let lend = |r: usize| ev.protocol[r] == LENDING;
        // Each account holds ETH, USDC and stETH, in that order.
        for (at, a) in [ETH, USDC, STETH].into_iter().enumerate() {
            let (mut coll0, mut debt0, mut coll1, mut debt1) = (0.0, 0.0, 0.0, 0.0);
            for i in 0..initial.len() {
                let rg = initial.range(i);
                coll0 += initial.collateral[rg.clone()][at];
                debt0 += initial.debt[rg][at];
                let (_, c1, d1) = e.lending().unwrap().holdings_of(i).unwrap();
                coll1 += c1[at];
                debt1 += d1[at];
            }
            let liq = |r: usize| lend(r) && ev.kind[r] == k(EventKind::Liquidation);
            let seized = sum(&|r| liq(r) && ev.asset[r] as usize == a, &ev.collateral_seized);
            let fees = sum(&|r| liq(r) && ev.asset[r] as usize == a, &ev.protocol_fee);
            let repaid = sum(&|r| liq(r) && ev.debt_asset[r] as usize == a, &ev.debt_repaid);
            // The owner's own repayments and collateral sales (issue 18).
            let owner = |r: usize| ev.kind[r] == k(EventKind::OwnerRepay) || ev.kind[r] == k(EventKind::OwnerSale);
            let owner_sold = sum(&|r| ev.kind[r] == k(EventKind::OwnerSale) && ev.asset[r] as usize == a, &ev.qty);
            let owner_repaid = sum(&|r| owner(r) && ev.debt_asset[r] as usize == a, &ev.debt_repaid);
            check!(coll0 - coll1 - owner_sold, seized, coll0);
            check!(seized, e.ledger().liquidators_seized[a] + l.treasury[a], coll0);
            check!(fees, l.treasury[a], coll0);
            check!(debt0, debt1 + repaid + owner_repaid + l.deficit[a], debt0);
        }
        // Lending sales (with a batch round's Sale rows, which name no protocol) plus keepers'
        // sales are the ledger's units sold, per asset.
        let lending_sale = |r: usize| {
            (lend(r) && ev.kind[r] == k(EventKind::Liquidation)) || ev.kind[r] == k(EventKind::Sale)
        };
        for a in [ETH, USDC, PERP, STETH] {
            let on = |r: usize| ev.asset[r] as usize == a;
            let lending_sold = sum(&|r| on(r) && lending_sale(r), &ev.qty);
            let keepers = sum(&|r| on(r) && ev.kind[r] == k(EventKind::AuctionTake), &ev.qty);
            check!(lending_sold + keepers, e.ledger().sold[a], e.ledger().sold[a]);
            prop_assert!(lending_sold <= e.ledger().liquidators_seized[a] * (1.0 + 1e-9) + 1e-12);
        }
        let lending_notional = sum(&lending_sale, &ev.notional);
        check!(lending_notional, e.ledger().liquidators_received, lending_notional);
        // Liquidators paid the debt of lending rows other than the owner's own (issue 18).
        let owners_own = |r: usize| ev.kind[r] == k(EventKind::OwnerRepay) || ev.kind[r] == k(EventKind::OwnerSale);
        check!(sum(&|r| lend(r) && !owners_own(r), &ev.debt_repaid_value), e.ledger().liquidators_paid, e.ledger().liquidators_paid);

        // ---- Perps: insurance fund, ADL, wallets, positions. ----
        let perp = |r: usize| ev.protocol[r] == PERPS;
        let of = |kind: EventKind| move |r: usize| ev.protocol[r] == PERPS && ev.kind[r] == k(kind);
        let fund_t = x.insurance_fund();
        let fund_scale = pl.fund_initial + pl.fees + pl.deficits;
        prop_assert!(fund_t >= 0.0);
        check!(fund_t, pl.fund_initial + pl.fees - pl.deficits, fund_scale);
        check!(sum(&|r| perp(r), &ev.insurance_change), fund_t - pl.fund_initial, fund_scale);
        check!(sum(&of(EventKind::PerpLiquidation), &ev.insurance_change), pl.fees, pl.fees);
        check!(-sum(&of(EventKind::InsurancePayment), &ev.insurance_change), pl.deficits, pl.deficits);
        if !stopped {
            let last = e.step_rows().insurance_fund.last().copied().unwrap_or(pl.fund_initial);
            check!(last, fund_t, fund_scale);
        }
        // ADL: the bankrupt side's quantity is the counterparties'.
        let adl_q = sum(&of(EventKind::Adl), &ev.qty);
        check!(pl.adl_bankrupt_qty, pl.adl_counterparty_qty, pl.adl_bankrupt_qty);
        check!(adl_q, pl.adl_counterparty_qty, adl_q);
        check!(sum(&of(EventKind::Adl), &ev.notional), pl.adl_notional, pl.adl_notional);
        let t = x.table(e.oracle_prices());
        let n_pos = c.perp.positions.len();
        let adl_side = |s: f64| (0..n_pos).filter(|&j| c.perp.positions[j].0 == s).map(|j| t.adl_qty[j]).sum::<f64>();
        check!(adl_side(1.0), adl_side(-1.0), adl_q);
        check!(adl_side(1.0) + adl_side(-1.0), 2.0 * adl_q, adl_q);
        // Each counterparty realises side·cut·(BP − EP) at the row's BP = notional/qty.
        for r in rows.clone().filter(|&r| of(EventKind::Adl)(r)) {
            let (s, _, entry, _, _) = c.perp.positions[(ev.account[r] - TRADER0) as usize];
            let bp = ev.notional[r] / ev.qty[r];
            check!(ev.realized_pnl[r], s * ev.qty[r] * (bp - entry), ev.notional[r]);
        }
        // A book close realises side·(notional − qty·EP).
        for r in rows.clone().filter(|&r| of(EventKind::PerpLiquidation)(r)) {
            let (s, _, entry, _, _) = c.perp.positions[(ev.account[r] - TRADER0) as usize];
            check!(ev.realized_pnl[r], s * (ev.notional[r] - ev.qty[r] * entry), ev.notional[r]);
        }
        // Positions: what closed is what was liquidated (book or backstop), deleveraged, or
        // taken by the exchange at the bankruptcy price (one bad-debt row each).
        let mut book_q = 0.0;
        for j in 0..n_pos {
            let (s, q0, _, _, _) = c.perp.positions[j];
            prop_assert!(t.size[j] == 0.0 || t.size[j].signum() == s);
            check!(
                q0 - t.size[j].abs(),
                t.liquidated_qty[j] + t.adl_qty[j] + t.absorbed_qty[j],
                q0
            );
            book_q += t.liquidated_qty[j];
        }
        let absorbed_q: f64 = t.absorbed_qty.iter().sum();
        check!(absorbed_q, sum(&of(EventKind::BadDebt), &ev.qty), absorbed_q);
        check!(absorbed_q, x.ledger().unresolved_qty, absorbed_q);
        // Bankruptcy prices are positive and nobody withdraws a negative wallet.
        for r in rows.clone().filter(|&r| of(EventKind::Adl)(r)) {
            prop_assert!(ev.notional[r] > 0.0, "ADL at a non-positive price: {}", ev.notional[r]);
        }
        prop_assert!(x.ledger().withdrawn >= -1e-9 * x.ledger().fund_initial.max(1.0));
        let liq_q = sum(&of(EventKind::PerpLiquidation), &ev.qty);
        let backstop_q = sum(&of(EventKind::Backstop), &ev.qty);
        check!(liq_q + backstop_q, book_q, book_q);
        // The venue absorbed exactly the liquidation orders (net of longs' sales and shorts'
        // purchases), and paid the exchange's venue_quote_out.
        let signed = |r: usize| side_of(ev.account[r]);
        let liq_rows: Vec<usize> = rows.clone().filter(|&r| of(EventKind::PerpLiquidation)(r)).collect();
        let net_q: f64 = liq_rows.iter().map(|&r| signed(r) * ev.qty[r]).sum();
        check!(net_q, perp_flows.bought - perp_flows.sold, liq_q);
        let net_n: f64 = liq_rows.iter().map(|&r| signed(r) * ev.notional[r]).sum();
        check!(net_n, pl.venue_quote_out, perp_flows.paid + perp_flows.received);
        // Backstop vault: the positions and wallets it took over.
        let (bs, bc) = x.backstop();
        let bs_rows: Vec<usize> = rows.clone().filter(|&r| of(EventKind::Backstop)(r)).collect();
        check!(bs[0], bs_rows.iter().map(|&r| signed(r) * ev.qty[r]).sum::<f64>(), backstop_q);
        let cost: f64 = bs_rows.iter().map(|&r| {
            let (s, _, entry, _, _) = c.perp.positions[(ev.account[r] - TRADER0) as usize];
            s * ev.qty[r] * entry
        }).sum();
        check!(bc[0], cost, cost);
        check!(pl.backstop_wallet, bs_rows.iter().map(|&r| ev.collateral_seized[r]).sum::<f64>(), pl.backstop_wallet);
        // Traders' quote: realised PnL is the only quote that enters; it ends in wallets, in
        // withdrawals, with the backstop vault, or in the insurance fund.
        let wallets0: f64 = (0..n_pos).filter(|&j| !c.perp.in_steth[j]).map(|j| c.perp.quote_margin(j)).sum();
        let wallets_t: f64 = x.wallets().iter().sum();
        let pnl_scale = wallets0 + pl.realized_pnl.abs() + pl.withdrawn + fund_scale + perp_flows.paid + perp_flows.received;
        // An owner's margin calls are the one other quote that enters (issue 18).
        let top_ups = sum(&|r| ev.kind[r] == k(EventKind::OwnerTopUp), &ev.notional);
        // So are the proceeds of stETH margin sold, and what the exchange wrote off.
        check!(
            wallets_t + pl.withdrawn + pl.backstop_wallet + (fund_t - pl.fund_initial),
            wallets0 + pl.realized_pnl + top_ups + pl.collateral_quote_in + pl.written_off,
            pnl_scale + top_ups + pl.collateral_quote_in + pl.written_off
        );
        // stETH margin: every unit posted is still held, was sold, withdrawn, or is with the
        // backstop vault; the sales are the exchange's collateral_sale rows.
        let units0: f64 = (0..n_pos).filter(|&j| c.perp.in_steth[j]).map(|j| c.perp.quote_margin(j) / mixed::STETH_PRICE).sum();
        check!(pl.collateral[0].initial, units0, units0);
        let held = x.collateral_held()[0];
        prop_assert!(held >= 0.0);
        check!(units0, held + pl.collateral[0].sold + pl.collateral[0].withdrawn + pl.collateral[0].backstop, units0);
        let sale = |r: usize| ev.kind[r] == k(EventKind::CollateralSale);
        check!(sum(&sale, &ev.qty), pl.collateral[0].sold, units0);
        check!(sum(&sale, &ev.notional), pl.collateral_quote_in, pl.collateral_quote_in);
        for r in rows.clone().filter(|&r| sale(r)) {
            prop_assert_eq!(ev.asset[r] as usize, STETH);
        }
        // The owner's cash: what it had, less its top-ups and repayments, plus what its sales
        // brought beyond the debt they repaid.
        if let Some((cash0, _, _)) = c.owner {
            let paid = sum(&|r| ev.kind[r] == k(EventKind::OwnerRepay), &ev.debt_repaid_value);
            let sold_n = sum(&|r| ev.kind[r] == k(EventKind::OwnerSale), &ev.notional);
            let sold_repaid = sum(&|r| ev.kind[r] == k(EventKind::OwnerSale), &ev.debt_repaid_value);
            let Some(Value::F64s(cash)) = e.totals().into_iter().find(|v| v.0 == "owner_cash").map(|v| v.1) else {
                panic!("owner_cash is in the totals")
            };
            prop_assert!(cash[0] >= -1e-9 * cash0.max(1.0));
            check!(cash[0], cash0 - top_ups - paid + sold_n - sold_repaid, cash0 + top_ups + sold_n);
        }
        check!(t.realized_pnl.iter().sum::<f64>(), pl.realized_pnl, pnl_scale);

        // ---- Maker: per auction, lot and tab accounted for; Dirt back when auctions end. ----
        let auctions = v.auctions();
        let mut running_tab = 0.0;
        let tab_scale: f64 = auctions.iter().map(|a| a.tab0).sum::<f64>() + c.vaults.dirt + c.vaults.ilk.dirt;
        for a in auctions {
            check!(a.lot0, a.sliced + a.returned + a.lot, a.lot0);
            // The tab left is the live tab while an auction runs, what it left unraised after.
            check!(a.tab0, a.owe + a.tab_left, a.tab0);
            if a.running {
                check!(a.tab_left, a.tab, a.tab0);
                check!(a.dug, a.owe, a.tab0);
                running_tab += a.tab;
            } else {
                check!(a.dug, a.tab0, a.tab0);
                prop_assert!(a.lot == 0.0);
                prop_assert!(a.tab_left == 0.0 || a.returned == 0.0);
            }
            prop_assert!(a.sold <= a.sliced * (1.0 + 1e-9) + 1e-12);
        }
        // Dirt returns to its pre-bark value by what running auctions still have out.
        check!(v.dirt(), c.vaults.dirt + running_tab, tab_scale);
        check!(v.ilks()[0].dirt, c.vaults.ilk.dirt + running_tab, tab_scale);
        if v.running_auctions() == 0 {
            check!(v.dirt(), c.vaults.dirt, tab_scale);
        }
        let vt = v.table();
        let (ink0, art0) = (c.vaults.ink(), c.vaults.art());
        for i in 0..ink0.len() {
            check!(ink0[i], vt.ink[i] + vt.collateral_auctioned[i], ink0[i]);
            let due: f64 = auctions.iter().filter(|a| a.vault as usize == i).map(|a| a.due).sum();
            check!((art0[i] - vt.art[i]) * c.vaults.ilk.rate, due, art0[i] * c.vaults.ilk.rate);
        }
        let take = |r: usize| ev.protocol[r] == VAULTS && ev.kind[r] == k(EventKind::AuctionTake);
        let kick = |r: usize| ev.protocol[r] == VAULTS && ev.kind[r] == k(EventKind::AuctionKick);
        let sliced: f64 = auctions.iter().map(|a| a.sliced).sum();
        let owe: f64 = auctions.iter().map(|a| a.owe).sum();
        check!(sum(&take, &ev.collateral_seized), sliced, sliced);
        check!(v.keepers_took()[0], sliced, sliced);
        check!(sum(&take, &ev.debt_repaid), owe, owe);
        check!(v.keepers_paid(), owe, owe);
        check!(vt.owe_recovered.iter().sum::<f64>(), owe, owe);
        check!(sum(&take, &ev.qty), v.keepers_sold()[0], sliced);
        check!(sum(&take, &ev.notional), v.keepers_received(), v.keepers_received());
        check!(sum(&kick, &ev.collateral_seized), auctions.iter().map(|a| a.lot0).sum::<f64>(), sliced);
        check!(sum(&kick, &ev.debt_repaid_value), auctions.iter().map(|a| a.tab0).sum::<f64>(), tab_scale);
        check!(v.collateral_returned()[0], auctions.iter().map(|a| a.returned).sum::<f64>(), sliced);
        let vault_bad: f64 = auctions.iter().map(|a| a.bad_debt).sum();
        check!(sum(&take, &ev.bad_debt), vault_bad, tab_scale);
        check!(vt.bad_debt.iter().sum::<f64>(), vault_bad, tab_scale);

        // ---- Funds: debt repaid by sales, units sold or bought. ----
        let debt0 = c.funds.debt();
        let units0 = c.funds.units();
        let fund_rows = |i: usize, kind: EventKind| move |r: usize| {
            ev.protocol[r] == FUNDS && ev.account[r] == FUND0 + i as u32 && ev.kind[r] == k(kind)
        };
        for i in 0..debt0.len() {
            let repaid = sum(&fund_rows(i, EventKind::FundSale), &ev.debt_repaid)
                + sum(&fund_rows(i, EventKind::FundPurchase), &ev.debt_repaid);
            check!(f.debt()[i], debt0[i] - repaid, debt0[i] + units0[4 * i] * 100.0);
            let sold = sum(&fund_rows(i, EventKind::FundSale), &ev.qty);
            let bought = sum(&fund_rows(i, EventKind::FundPurchase), &ev.qty);
            let now = f.units_of(i).unwrap();
            check!(units0[4 * i] - now[ETH], sold - bought, units0[4 * i]);
            prop_assert!(now[USDC] == 0.0 && now[PERP] == 0.0);
            check!(sum(&fund_rows(i, EventKind::Default), &ev.bad_debt), f.bad_debt()[i], debt0[i]);
        }
        let all = |kind: EventKind| move |r: usize| ev.protocol[r] == FUNDS && ev.kind[r] == k(kind);
        check!(f.sold_units()[ETH], sum(&all(EventKind::FundSale), &ev.qty), f.sold_units()[ETH]);
        check!(f.bought_units()[ETH], sum(&all(EventKind::FundPurchase), &ev.qty), f.bought_units()[ETH]);
        check!(fund_sold, sum(&all(EventKind::FundSale), &ev.notional), fund_sold);
        check!(fund_bought, sum(&all(EventKind::FundPurchase), &ev.notional), fund_bought);

        // ---- Bad debt: the run's total is the rows'. ----
        let bad: f64 = ev.bad_debt.iter().sum();
        check!(bad, e.cumulative_bad_debt(), bad);
    }
}
