//! Owners' margin calls on a perp exchange (issue 18): an owner posts free cash to its pools.

use super::{Exchange, PoolStatus};
use crate::engine::Owners;
use crate::family::shared::Shared;
use crate::recorder::EventKind;

/// How far below its level (relatively) a pool must be for a margin call: rounding is not one.
const CALL_TOLERANCE: f64 = 1e-9;

impl Exchange {
    /// The pools whose account has an owner with a policy.
    pub fn owned_by(&self, owners: &Owners) -> Vec<u32> {
        (0..self.owner.len() as u32)
            .filter(|&p| {
                owners
                    .of(self.owner[p as usize])
                    .is_some_and(|o| owners.specs[o].margin_buffer.is_some())
            })
            .collect()
    }

    /// Before the round's scan: every owned pool whose equity is below `(1 + margin_buffer)·MM`
    /// at the oracle prices gets the owner's free cash up to that level (as much as is left).
    /// More margin only moves a pool's liquidation price away, so the trigger index's
    /// placement stays conservative until the pool is re-placed. `k` is the family's index.
    pub fn support_owners(
        &mut self,
        sh: &mut Shared,
        id: u32,
        round: u32,
        owners: &mut Owners,
        k: usize,
    ) {
        for n in 0..owners.owned.get(k).map_or(0, Vec::len) {
            let p = owners.owned[k][n] as usize;
            let Some(o) = owners.of(self.owner[p]) else {
                continue;
            };
            let Some(buffer) = owners.specs[o].margin_buffer else {
                continue;
            };
            if matches!(self.status[p], PoolStatus::Closed | PoolStatus::Backstopped) {
                continue;
            }
            let (e, mm) = self.pool_state(p, &sh.px);
            let target = (1.0 + buffer) * mm;
            let pay = (target - e).min(owners.cash[o]);
            if !(mm > 0.0 && target - e > CALL_TOLERANCE * target && pay > 0.0) {
                continue;
            }
            owners.cash[o] -= pay;
            self.wallet[p] += pay;
            self.index.touch(p);
            let a = self.first_asset(p);
            let mut ev = sh.event(round, EventKind::OwnerTopUp, id, self.owner[p], a);
            ev.notional = pay;
            sh.events.push(&ev);
        }
    }
}
