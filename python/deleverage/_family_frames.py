"""The final state of the families after lending, as frames: perp positions, vaults and their
auctions, funds; and the perp exchanges' summary figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from deleverage._columns import (
    EVENT_KINDS,
    FUND_STATUS,
    POOL_STATUS,
    VAULT_STATUS,
    _coded,
    _Context,
    _fmin,
    _table,
)


def _label(labels: pl.Series) -> pl.Expr:
    return pl.lit(labels).gather(pl.col("account_id")).alias("account")


def _others(raw: Mapping[str, Any], ctx: _Context) -> list[tuple[Mapping[str, Any], Any]]:
    """The families after lending, each with its protocol object, in scenario order."""
    fams = [f for f in raw["families"] if f["kind"] != "lending"]
    return list(zip(fams, ctx.families, strict=True))


def _vaults(raw: Mapping[str, Any], ctx: _Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Vaults in each system's input row order, and its auctions in kick order."""

    labels = ctx.account_labels["account"]
    assets = pl.Series("asset", ctx.asset_names, dtype=pl.String)
    vs, aus = [], []
    for out, fam in _others(raw, ctx):
        if out["kind"] != "vaults":
            continue
        ilk_assets = pl.Series("a", fam.assets, dtype=pl.String)
        v = pl.DataFrame(dict(out["vaults"]))
        vs.append(
            v.select(
                _label(labels),
                pl.lit(fam.name).alias("protocol"),
                pl.lit(ilk_assets).gather(pl.col("ilk")).alias("collateral_asset"),
                "ink",
                "art",
                _coded("status", VAULT_STATUS),
                "collateral_auctioned",
                "collateral_returned",
                "owe_recovered",
                "bad_debt",
            )
        )
        a = pl.DataFrame(dict(out["auctions"]))
        aus.append(
            a.select(
                _label(labels),
                pl.lit(fam.name).alias("protocol"),
                pl.lit(assets).gather(pl.col("asset")).alias("asset"),
                "running",
                "kick_step",
                pl.when(pl.col("running"))
                .then(None)
                .otherwise(pl.col("end_step"))
                .alias("end_step"),
                "due",
                "tab",
                "lot",
                "tab_left",
                "lot_left",
                "recovered",
                "sliced",
                "returned",
                "bad_debt",
                "coins",
                "redos",
                "price",
            )
            if a.height
            else pl.DataFrame()
        )
    aus = [a for a in aus if a.height]
    return (
        pl.concat(vs) if vs else pl.DataFrame(),
        pl.concat(aus)
        if aus
        else pl.DataFrame(
            schema={
                "running": pl.Boolean,
                "recovered": pl.Float64,
                "bad_debt": pl.Float64,
                "coins": pl.Float64,
            }
        ),
    )


def _funds(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    """Funds of every group, in account order of first appearance."""

    account_labels = ctx.account_labels
    frames = []
    for out, fam in _others(raw, ctx):
        if out["kind"] != "funds":
            continue
        f = pl.DataFrame(dict(out["funds"]))
        names = account_labels.filter(pl.col("protocol") == fam.name)["account"]
        frames.append(
            f.select(
                pl.lit(names).alias("account"),
                pl.lit(fam.name).alias("protocol"),
                "marketable_value",
                "illiquid_value",
                "debt",
                "equity",
                pl.when(pl.col("leverage").is_infinite())
                .then(None)
                .otherwise(pl.col("leverage"))
                .alias("leverage"),
                _coded("status", FUND_STATUS),
                "sold_notional",
                "bought_notional",
                "bad_debt",
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def _positions(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    """The perp positions of every exchange, labelled, in each exchange's input row order."""
    frames = []
    labels = ctx.account_labels["account"]
    assets = pl.Series("market", ctx.asset_names, dtype=pl.String)
    for out, fam in _others(raw, ctx):
        if out["kind"] != "perps":
            continue
        df = pl.DataFrame(dict(_table(out, "positions")))
        frames.append(
            df.select(
                pl.lit(labels).gather(pl.col("account_id")).alias("account"),
                pl.lit(fam.name).alias("protocol"),
                pl.lit(assets).gather(pl.col("asset")).alias("market"),
                "size",
                "entry_price",
                "mark",
                "wallet",
                "collateral_value",
                "equity",
                "maintenance_margin",
                pl.col("liquidation_price").fill_nan(None),
                pl.col("bankruptcy_price").fill_nan(None),
                _coded("status", POOL_STATUS),
                "liquidated_qty",
                "adl_qty",
                "absorbed_qty",
                "realized_pnl",
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def _perp_summary(
    raw: Sequence[Mapping[str, Any]], kind: np.ndarray, steps: Mapping[str, Any], n_assets: int
) -> dict[str, Any]:
    """Insurance fund path and ADL totals, when the scenario has perp exchanges."""
    ledgers = [f["ledger"] for f in raw if f["kind"] == "perps"]
    if not ledgers:
        return {}
    start = sum(float(x["fund_initial"]) for x in ledgers)
    # The fund's level at each step: the first row of each step (rows are step by step).
    step = np.asarray(steps["step"])
    first = np.ones(step.size, dtype=bool)
    first[1:] = step[1:] != step[:-1]
    path = np.asarray(steps["insurance_fund"])[first]
    low = min(start, _fmin(path)) if path.size else start
    code = {k: i for i, k in enumerate(EVENT_KINDS)}
    return {
        "perp_liquidations": int((kind == code["perp_liquidation"]).sum()),
        "insurance_fund_start": start,
        "insurance_fund_end": sum(float(x["insurance_fund"]) for x in ledgers),
        "insurance_fund_min": low,
        "insurance_fund_used": sum(float(x["deficits"]) for x in ledgers),
        "insurance_fees": sum(float(x["fees"]) for x in ledgers),
        "adl_count": sum(int(x["adl_count"]) for x in ledgers),
        "adl_notional": sum(float(x["adl_notional"]) for x in ledgers),
        "backstop_takeovers": int((kind == code["backstop"]).sum()),
    }
