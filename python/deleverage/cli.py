"""The ``deleverage`` command line.

Examples
--------
>>> from deleverage.cli import main
>>> main(["demo", "--qty", "50"])  # doctest: +ELLIPSIS
Forced sale of 50 ETH ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from deleverage import ConstantProductPool, DeleverageError, OrderBook, Router
from deleverage._core import Fill


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _row(name: str, f: Fill) -> str:
    return (
        f"{name:<22}{_fmt(f.filled, 4):>12}{_fmt(f.notional):>16}{_fmt(f.vwap):>12}"
        f"{_fmt(f.first_price):>12}{_fmt(f.last_price):>12}{f.levels:>8}"
    )


def demo(qty: float) -> int:
    """Routes a forced ETH sale across an order book and a Uniswap v2 pool and prints the fills.

    The book is a square-root profile (2 % daily volatility, 400,000 ETH daily volume) around
    $3,000 with a $0.10 tick; the pool holds 2,500 ETH against $7.5 M with a 0.3 % fee. After the
    sale, arbitrage aligns the venues and the pool's upkeep pulls it back toward the book.
    """
    book = OrderBook.sqrt(
        mid=3_000.0,
        tick=0.1,
        levels=20_000,
        sigma=0.02,
        volume=400_000.0,
        resilience_half_life=600.0,
    )
    pool = ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_500_000.0, fee=0.003)
    router = Router([book, pool])
    fill = router.sell(qty)
    print(f"Forced sale of {qty:,.4g} ETH routed across an order book and a Uniswap v2 pool")
    print(
        f"{'venue':<22}{'filled':>12}{'notional':>16}{'vwap':>12}{'first':>12}{'last':>12}"
        f"{'levels':>8}"
    )
    for name, part in zip(["order book (sqrt)", "pool (x*y=k, 0.3%)"], fill.parts, strict=True):
        print(_row(name, part))
    print(_row("total", fill))
    trades = router.arbitrage()
    print(
        f"cross-venue arbitrage: {len(trades)} trade(s), "
        f"{_fmt(sum(t.qty for t in trades), 4)} ETH, profit {_fmt(sum(t.profit for t in trades))}"
    )
    print(f"after: book mid {_fmt(book.mid)}, pool mid {_fmt(pool.mid)}")
    book.advance(600.0)
    print(f"one resilience half-life later: book best bid {_fmt(book.best_bid)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deleverage",
        description="Systemic deleveraging risk: liquidation cascades on real depth.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo",
        help="run the built-in example",
        description="Route a forced ETH sale across an order book and a pool, print the fills.",
    )
    d.add_argument("--qty", type=float, default=1_000.0, help="ETH to sell (default: 1000)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return demo(args.qty)
    except DeleverageError as e:
        print(f"deleverage: error: {e}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
