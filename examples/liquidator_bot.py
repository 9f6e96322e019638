"""A liquidator bot with limited capital competing with the built-in liquidators for the queue.

The ETH lending market falls 25 % over 30 steps. The built-in liquidators can repay only
$150,000 of debt per step (gas and block space), so breached accounts wait in the queue
between steps. Before each step the bot looks at the accounts now liquidatable, takes the
worst ones it can pay for under the protocol's close factor, sells the seized collateral on
the same book, and counts its profit: the bonus, less what its own sale moves the price.

Run: ``python examples/liquidator_bot.py``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

import deleverage as dl


def main(capital: float = 400_000.0) -> dict[str, float]:
    sc = dl.examples.eth_lending(n_accounts=3_000, seed=5, steps=30)
    sc = sc.with_liquidators(dl.Liquidators(budget_notional=150_000.0))
    p0 = sc.assets[0].price
    path = p0 * np.linspace(1.0, 0.75, 30)
    eng = dl.Engine(sc, seed=2)
    paid = received = 0.0
    taken = 0
    for price in path:
        eng.step({"ETH": float(price)})
        cash = capital
        queued = (
            eng.state()
            .accounts.filter(pl.col("health") < 1.0, pl.col("debt_value") > 0)
            .sort("health")
        )
        for acc in queued.iter_rows(named=True):
            if cash <= 0:
                break
            # Aave v3.3: positions under $2,000 close whole; larger ones half the debt above
            # HF 0.95. Ask for what the close factor allows, within the cash left.
            half = acc["health"] > 0.95 and acc["debt_value"] >= 2_000.0
            amount = min(cash, acc["debt_value"] * (0.5 if half else 1.0))
            try:
                liq = eng.liquidate(acc["account"], "USDC", "ETH", amount)
            except dl.ScenarioError:
                continue  # the rules refuse this size (the dust rule, say): next account
            fill = eng.submit("ETH", "sell", liq["seized"])
            cash -= liq["repaid_value"]
            paid += liq["repaid_value"]
            received += fill.notional
            taken += 1
    eng.run_to_quiet()
    res = eng.result()
    kinds = res.events["kind"].cast(pl.String)
    out = {
        "bot_liquidations": float(taken),
        "builtin_liquidations": float((kinds == "liquidation").sum()),
        "bot_paid": paid,
        "bot_received": received,
        "bot_profit": received - paid,
    }
    print(f"the bot liquidated {taken} times, the built-in liquidators "
          f"{out['builtin_liquidations']:.0f}")  # fmt: skip
    print(f"bot: paid ${paid:,.0f} of debt, sold the collateral for ${received:,.0f}: "
          f"profit ${received - paid:,.0f}")  # fmt: skip
    return out


if __name__ == "__main__":
    main()
