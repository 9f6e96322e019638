"""A delta hedger trading through a liquidation cascade, against its no-cascade counterfactual.

A market maker holds 2,000 ETH of inventory it hedges as ETH falls: each step it sells a
fraction of what it holds, proportional to the step's fall. The ETH lending market around it
liquidates as the price drops, and the liquidators sell seized collateral into the same book.
The hedger's slippage (VWAP against the reference price of the step) is compared with what the
same orders get on the counterfactual engine whose liquidators have no budget: the same prices,
but its book only carries the hedger's own flow. A fork taken before the first step answers a
what-if on the side: what would dumping the whole inventory at once have cost?

Run: ``python examples/delta_hedger.py``.
"""

from __future__ import annotations

import numpy as np

import deleverage as dl


def hedge(eng: dl.Engine, path: np.ndarray, inventory: float) -> tuple[float, float, float]:
    """Steps ``eng`` along ``path`` (ETH reference per step), selling each step the share of
    the inventory the step's fall calls for. Returns (units sold, quote received, the same units
    at the reference prices)."""
    sold = received = at_reference = 0.0
    prev = path[0]
    for price in path:
        eng.step({"ETH": float(price)})
        fall = max(0.0, (prev - price) / prev)
        qty = min(inventory - sold, inventory * 4.0 * fall)
        if qty > 0:
            fill = eng.submit("ETH", "sell", qty)
            sold += fill.filled
            received += fill.notional
            at_reference += fill.filled * price
        prev = price
    return sold, received, at_reference


def main() -> dict[str, float]:
    sc = dl.examples.eth_lending(n_accounts=5_000, seed=3, steps=40)
    p0 = sc.assets[0].price
    path = p0 * np.concatenate([np.linspace(1.0, 0.8, 20), np.full(20, 0.8)])
    eng = dl.Engine(sc, seed=1)
    # The counterfactual: the same market with nobody liquidating (the liquidators' budget is
    # zero), facing only the hedger's own orders.
    quiet = dl.Engine(sc.with_liquidators(dl.Liquidators(budget_notional=0.0)), seed=1)
    inventory = 2_000.0
    # What if: dump everything now, on a fork (the main engine is left as it is).
    dump = eng.fork().submit("ETH", "sell", inventory)
    assert eng.steps_run == 0
    sold, received, ref = hedge(eng, path, inventory)
    q_sold, q_received, q_ref = hedge(quiet, path, inventory)
    res = eng.result()
    slippage = 1.0 - received / ref
    quiet_slippage = 1.0 - q_received / q_ref
    out = {
        "liquidations": float(res.summary["liquidations"].item()),
        "hedged_units": sold,
        "slippage_with_cascade": slippage,
        "slippage_without_cascade": quiet_slippage,
        "cost_of_the_cascade_quote": (q_received / q_sold - received / sold) * sold,
        "slippage_dumping_at_once": 1.0 - dump.notional / (dump.filled * p0),
    }
    print(f"liquidations around the hedger: {out['liquidations']:.0f}")
    print(f"hedged {sold:,.1f} ETH")
    print(f"slippage against the reference: {slippage:.3%} with the cascade, "
          f"{quiet_slippage:.3%} without")  # fmt: skip
    print(f"cost of trading behind the liquidators: ${out['cost_of_the_cascade_quote']:,.0f}")
    print(f"what if (a fork): dumping {inventory:,.0f} ETH at once: "
          f"{out['slippage_dumping_at_once']:.3%} slippage")  # fmt: skip
    return out


if __name__ == "__main__":
    main()
