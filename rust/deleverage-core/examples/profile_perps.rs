//! The 200,000-position perp benchmark, phase by phase (`cargo run --release -p deleverage-core
//! --example profile_perps`): prints what the cascade did (liquidation fills, ADL reductions,
//! insurance fund, positions closed) and the best of three runs of the engine build and of the
//! cascade to quiet, with liquidations per second.

#[path = "../benches/perps.rs"]
#[allow(
    dead_code,
    reason = "the bench's own main and bench functions are not used here"
)]
mod perps;

use std::time::{Duration, Instant};

use deleverage_core::{Engine, EventKind, PoolStatus};
use perps::common::exchange_of;

const N: usize = 200_000;

fn main() {
    let path = perps::path();
    let (mut build, mut run) = (Duration::MAX, Duration::MAX);
    let (mut liquidations, mut counted) = (0, 0);
    for k in 0..3 {
        let inputs = perps::inputs(N, 1);
        let t = Instant::now();
        let mut e = Engine::new(perps::build(inputs), 1).expect("engine");
        let b = t.elapsed();
        e.run(&path, perps::EXTRA_STEPS, || false).expect("run");
        build = build.min(b);
        run = run.min(t.elapsed() - b);
        let ev = e.events();
        let count = |kind: EventKind| ev.kind.iter().filter(|&&x| x == kind as u8).count();
        liquidations = count(EventKind::PerpLiquidation);
        counted = e.step_rows().liquidation_count.iter().sum::<u32>();
        if k == 0 {
            let x = exchange_of(&e, 0);
            let l = x.ledger();
            let t = x.table(e.oracle_prices());
            let status = |s: PoolStatus| t.status.iter().filter(|&&x| x == s as u8).count();
            let longs = t.size.iter().filter(|&&s| s > 0.0).count();
            println!(
                "positions {N}: PerpLiquidation rows {liquidations}, InsurancePayment rows {}, \
                 ADL rows {} (bankrupt qty {:.1} BTC sent to ADL, unresolved {:.3e}), \
                 liquidations counted by the engine {counted}",
                count(EventKind::InsurancePayment),
                count(EventKind::Adl),
                l.adl_bankrupt_qty,
                l.unresolved_qty,
            );
            println!(
                "insurance fund {:.0} -> {:.0} (fees {:.0}, deficits paid {:.0})",
                l.fund_initial,
                x.insurance_fund(),
                l.fees,
                l.deficits
            );
            println!(
                "pools closed {}, partly liquidated/deleveraged {}, longs still open {longs}; \
                 steps {}, rounds {}, mark {:.1}, perp mid {:.1}",
                status(PoolStatus::Closed),
                status(PoolStatus::Liquidated),
                e.current_step(),
                e.step_rows()
                    .rounds
                    .iter()
                    .map(|&r| u64::from(r))
                    .sum::<u64>(),
                e.oracle_prices()[0],
                e.market().spot(0),
            );
        }
    }
    let total = build + run;
    println!(
        "best of 3: build (exchange + engine) {build:?}, cascade to quiet {run:?}, total {total:?}; \
         {:.0} PerpLiquidation rows/s, {:.0} engine-counted liquidations/s",
        liquidations as f64 / total.as_secs_f64(),
        f64::from(counted) / total.as_secs_f64()
    );
}
