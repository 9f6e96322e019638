"""Exact Shapley values over 8 groups (256 coalitions) of a 100,000-account mixed scenario
(issue 19): ``dl.attribute`` on the ``lst_loop_unwind`` example with 66,667 loopers (66,667
Spark accounts, 33,333 perp traders and the stETH fund: 100,001 accounts), grouped into 8
cohorts (loopers by id mod 4, traders by id mod 3, the fund), with 1 and 2 threads for the
coalitions' sweep. The time includes the run of the whole scenario, the 8 knock-out runs and
the 256 coalition runs; the scenario is built outside it.

Run: ``pytest benches/test_attribution_bench.py --benchmark-enable``.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

import deleverage as dl

LOOPERS = 66_667
SHOCK = dl.Shock.instant(ETH=-0.25, **{"ETH-PERP": -0.25})


def cohorts(sc: dl.Scenario) -> pl.DataFrame:
    parts = []
    for book in sc.lending:
        acc = book.positions["account"].cast(pl.String).unique(maintain_order=True)
        parts.append(pl.DataFrame({"protocol": book.protocol.name, "account": acc}))
    for fam in sc.families:
        acc = fam.positions["account"].cast(pl.String).unique(maintain_order=True)
        parts.append(pl.DataFrame({"protocol": fam.protocol.name, "account": acc}))
    rows = pl.concat(parts).with_row_index("k")
    group = (
        pl.when(pl.col("protocol") == "spark")
        .then(pl.lit("loopers") + (pl.col("k") % 4).cast(pl.String))
        .when(pl.col("protocol") == "eth_perps")
        .then(pl.lit("traders") + (pl.col("k") % 3).cast(pl.String))
        .otherwise(pl.lit("fund"))
    )
    return rows.select("protocol", "account", group.alias("group"))


@pytest.mark.parametrize("threads", [1, 2])
def test_shapley_over_8_groups_of_100k_accounts(benchmark: Any, threads: int) -> None:
    sc = dl.examples.lst_loop_unwind(n_loopers=LOOPERS)
    by = cohorts(sc)
    assert by.height == 100_001
    assert by["group"].n_unique() == 8

    def run() -> dl.Attribution:
        return dl.attribute(sc, by=by, shock=SHOCK, threads=threads)

    att = benchmark.pedantic(run, rounds=1, iterations=1)
    t = att.totals.filter(metric="drawdown_stETH").row(0, named=True)
    total = att.shapley.filter(metric="drawdown_stETH")["value"].sum()
    assert total == pytest.approx(t["all"] - t["none"], rel=1e-12)
    benchmark.extra_info["coalitions"] = 2**att.groups.height
    benchmark.extra_info["threads"] = threads
