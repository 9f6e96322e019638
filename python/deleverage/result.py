"""The result of a simulation: events, steps and accounts as Polars frames, plus a summary.

Examples
--------
>>> import deleverage as dl
>>> res = dl.simulate(dl.examples.eth_lending(n_accounts=200), shock=dl.Shock.instant(ETH=-0.2))
>>> res.events.columns[:6]
['step', 'round', 'sequence', 'kind', 'account', 'protocol']
>>> res.summary["liquidations"].item() > 0
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core

__all__ = ["Result"]

# The labels of the engine's code columns come from the core, which owns them.
EVENT_KINDS: list[str] = list(_core.ENUM_NAMES["event_kind"])
POOL_STATUS: list[str] = list(_core.ENUM_NAMES["pool_status"])
ACCOUNT_STATUS: list[str] = list(_core.ENUM_NAMES["account_status"])
VAULT_STATUS: list[str] = list(_core.ENUM_NAMES["vault_status"])
FUND_STATUS: list[str] = list(_core.ENUM_NAMES["fund_status"])
_NONE = 2**32 - 1


@dataclass(frozen=True)
class Result:
    """What a run produced.

    Attributes
    ----------
    events:
        In the order they happened (``sequence``): one row per liquidation (with its sale in
        sequential mode and any bad debt it leaves), batch sale, bad-debt recognition, Comet
        absorb (one row per collateral asset) and storefront purchase: step, round, kind,
        account, protocol, asset, quantities and quote.
    steps:
        One row per step and asset: reference, mid, oracle, best bid and ask (null when a side is
        empty), bid depth within 2 %, liquidated notional and count, rounds, queue length,
        cumulative bad debt.
    accounts:
        The final state of every lending account: status, health factor (null without debt),
        collateral and debt value, equity, liquidated notional, times liquidated, bad debt.
    positions:
        The final state of every perp position (empty without perp exchanges): size, entry,
        mark, the margin pool's wallet, equity and maintenance margin, liquidation and
        bankruptcy prices (null once closed), status, quantity liquidated, deleveraged and taken
        by the exchange at the bankruptcy price when nobody else could, realised PnL.
    vaults:
        The final state of every Maker vault: ink, art, status, collateral auctioned and
        returned, DAI recovered, bad debt.
    auctions:
        Every Dutch auction: the vault's account, kick and end step, due, tab and lot at the
        kick, what is left, DAI recovered, collateral sold and returned, bad debt, keeper
        coins, resets, and the last price.
    funds:
        The final state of every fund: marketable and illiquid value, debt, equity, leverage
        (null once equity is gone), status, notional sold and bought, bad debt.
    summary:
        One row: totals, bad debt, drawdown and amplification per asset, first liquidation step,
        steps to quiet.

    Examples
    --------
    >>> import polars as pl
    >>> import deleverage as dl
    >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)], steps=5)
    >>> pos = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH"] * 2,
    ...                     "collateral": [10.0, 10.0], "debt_asset": ["USDC"] * 2,
    ...                     "debt": [20_000.0, 23_000.0]})
    >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
    >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1))
    >>> res  # b (health 0.97 at 2,700) loses 4.47 ETH: 11,500 of debt plus the 5 % bonus
    Result(liquidations=1, liquidated_notional=12075, bad_debt=0, steps_run=5)
    >>> res.accounts.select("account", "status", "debt_value").rows()
    [('a', 'active', 20000.0), ('b', 'liquidated', 11500.0)]
    >>> res.steps.height  # 5 steps × 2 assets
    10
    """

    events: pl.DataFrame
    steps: pl.DataFrame
    accounts: pl.DataFrame
    summary: pl.DataFrame
    meta: Mapping[str, Any]
    positions: pl.DataFrame = field(default_factory=pl.DataFrame)
    vaults: pl.DataFrame = field(default_factory=pl.DataFrame)
    auctions: pl.DataFrame = field(default_factory=pl.DataFrame)
    funds: pl.DataFrame = field(default_factory=pl.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dict.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 3_000.0), dl.Asset("USDC", 1.0)], steps=5)
        >>> pos = pl.DataFrame({"account": ["a", "b"], "collateral_asset": ["ETH"] * 2,
        ...                     "collateral": [10.0, 10.0], "debt_asset": ["USDC"] * 2,
        ...                     "debt": [20_000.0, 23_000.0]})
        >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), pos)
        >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.1))
        >>> s = res.to_dict()
        >>> s["liquidations"], s["debt_repaid_value"], s["bad_debt"], s["amplification_ETH"]
        (1, 11500.0, 0.0, 1.0)
        """
        return self.summary.row(0, named=True)

    def plot(self, asset: str | None = None) -> Any:
        """The price path of ``asset`` with the oracle and the liquidations per step, as a
        matplotlib ``Figure`` (see :func:`deleverage.plot.result`).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import deleverage as dl
        >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=100, steps=20),
        ...                   shock=dl.Shock.instant(ETH=-0.25))
        >>> fig = res.plot("ETH")
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['ETH price', 'collateral liquidated (quote)']
        """
        from deleverage import plot

        return plot.result(self, asset)

    def __repr__(self) -> str:
        s = self.to_dict()
        return (
            f"Result(liquidations={s['liquidations']}, "
            f"liquidated_notional={s['liquidated_notional']:.6g}, bad_debt={s['bad_debt']:.6g}, "
            f"steps_run={s['steps_run']})"
        )


def build_result(
    raw: Mapping[str, Any],
    asset_names: list[str],
    initial_prices: list[float],
    protocol_names: list[str],
    account_labels: pl.DataFrame,
    *,
    n_lending: int | None = None,
    families: Sequence[Any] = (),
    path_steps: int | None = None,
) -> Result:
    """Wraps the engine's numpy columns (no copy) in frames and joins the labels back."""
    asset_names_s = pl.Series("asset", asset_names, dtype=pl.String)
    protocol_names_s = pl.Series("protocol", protocol_names, dtype=pl.String)
    label_s = account_labels["account"]
    kinds = pl.Enum(EVENT_KINDS)

    def name_of(names: pl.Series, column: str) -> pl.Expr:
        # Integer ids → labels by position; the engine's "none" id becomes null.
        idx = pl.when(pl.col(column) == _NONE).then(None).otherwise(pl.col(column))
        return pl.lit(names).gather(idx)

    ev = pl.DataFrame(dict(raw["events"]))
    events = ev.with_row_index("sequence").select(
        "step",
        "round",
        "sequence",
        pl.col("kind").replace_strict(dict(enumerate(EVENT_KINDS)), return_dtype=kinds),
        name_of(label_s, "account").alias("account"),
        name_of(protocol_names_s, "protocol").alias("protocol"),
        name_of(asset_names_s, "asset").alias("asset"),
        name_of(asset_names_s, "debt_asset").alias("debt_asset"),
        "qty",
        "notional",
        pl.when(pl.col("qty") > 0)
        .then(pl.col("notional") / pl.col("qty"))
        .otherwise(None)
        .alias("vwap"),
        "price_before",
        "price_after",
        "debt_repaid",
        "debt_repaid_value",
        "collateral_seized",
        "bonus",
        "protocol_fee",
        "bad_debt",
        "insurance_change",
        "realized_pnl",
        pl.when(pl.col("account") == _NONE)
        .then(None)
        .otherwise(pl.col("account"))
        .alias("account_id"),
    )

    st = pl.DataFrame(dict(raw["steps"]))
    steps = st.with_columns(
        name_of(asset_names_s, "asset").alias("asset"),
        pl.col("best_bid").fill_nan(None),
        pl.col("best_ask").fill_nan(None),
        pl.col("mid_held").cast(pl.Boolean),
        # Without a perp exchange there is no insurance fund: null, not 0.
        pl.col("insurance_fund")
        if any(f["kind"] == "perps" for f in raw["families"])
        else pl.lit(None, dtype=pl.Float64).alias("insurance_fund"),
    ).select(
        "step",
        "asset",
        "reference",
        "mid",
        "mid_held",
        "oracle",
        "best_bid",
        "best_ask",
        "bid_depth_2pct",
        "liquidated_notional",
        "liquidation_count",
        "rounds",
        "queue_length",
        "cumulative_bad_debt",
        "insurance_fund",
    )

    # The lending family comes first and carries the accounts table and the protocols' books;
    # the other families follow in scenario order.
    fams = [f for f in raw["families"] if f["kind"] != "lending"]
    lending = next(f for f in raw["families"] if f["kind"] == "lending")
    ac = pl.DataFrame(dict(lending["accounts"]))
    n_lending = ac.height if n_lending is None else n_lending
    accounts = (
        pl.concat([account_labels.head(n_lending), ac], how="horizontal")
        .with_columns(
            pl.col("status").replace_strict(
                dict(enumerate(ACCOUNT_STATUS)), return_dtype=pl.Enum(ACCOUNT_STATUS)
            ),
            pl.when(pl.col("health").is_infinite())
            .then(None)
            .otherwise(pl.col("health"))
            .alias("health"),
            (pl.col("collateral_value") - pl.col("debt_value")).alias("equity"),
        )
        .select(
            "account",
            "protocol",
            "status",
            "health",
            "collateral_value",
            "debt_value",
            "equity",
            "liquidated_notional",
            "times_liquidated",
            "bad_debt",
        )
    )

    meta = dict(raw["meta"]) | dict(lending["ledger"])
    row: dict[str, Any] = {
        # An absorb has a row per collateral asset; its first row carries the debt asset.
        # Every family's forced liquidations (lending liquidations and absorbs, perp fills,
        # deleveraged and backstopped positions, barks, fund sales), as the engine counted them.
        "liquidations": int(steps["liquidation_count"].sum()),
        "accounts_liquidated": int((accounts["times_liquidated"] > 0).sum()),
        "liquidated_notional": float(steps["liquidated_notional"].sum()),
        # Storefront rows record what keepers paid the protocol, not debt repaid.
        "debt_repaid_value": float(
            events.filter(pl.col("kind").is_in(["liquidation", "absorb"]))[
                "debt_repaid_value"
            ].sum()
        ),
        "bad_debt": float(meta["bad_debt"]),
        "first_liquidation_step": meta["first_liquidation_step"],
        "steps_to_quiet": (
            0 if meta["last_liquidation_step"] is None else meta["last_liquidation_step"] + 1
        ),
        "steps_run": int(meta["steps_run"]),
        # Steps beyond the path, run to reach quiet (at most max_extra_steps).
        "extra_steps": max(0, int(meta["steps_run"]) - path_steps) if path_steps is not None else 0,
        "quiet": bool(meta["quiet"]),
    }
    for a, (name, p0) in enumerate(zip(asset_names, initial_prices, strict=True)):
        rows = steps.filter(pl.col("asset") == name)
        low = float(rows["mid"].min()) if rows.height else p0  # type: ignore[arg-type]
        exo = float(rows["reference"].min()) if rows.height else p0  # type: ignore[arg-type]
        drawdown = min(low / p0 - 1.0, 0.0)
        exogenous = min(exo / p0 - 1.0, 0.0)
        row[f"drawdown_{name}"] = drawdown
        row[f"exogenous_drawdown_{name}"] = exogenous
        row[f"amplification_{name}"] = (
            float(amplification(np.array(drawdown), np.array(exogenous))) if exogenous < 0 else None
        )
        del a
    positions = _positions(fams, families, account_labels, asset_names)
    vaults, auctions = _vaults(fams, families, account_labels, asset_names)
    funds = _funds(fams, families, account_labels)
    row |= _perp_summary(fams, events, steps)
    if any(f["kind"] == "vaults" for f in fams):
        row |= {
            "auctions": auctions.height,
            # Ended auctions only: a running one may still be taken.
            "auctions_zero_recovery": int(
                ((auctions["recovered"] == 0) & ~auctions["running"]).sum()
            ),
            "auctions_partial_recovery": int(
                ((auctions["recovered"] > 0) & (auctions["bad_debt"] > 0)).sum()
            ),
            "auction_bad_debt": float(auctions["bad_debt"].sum()),
            "keeper_coins": float(auctions["coins"].sum()),
        }
    if any(f["kind"] == "funds" for f in fams):
        row |= {
            "fund_sales_notional": float(funds["sold_notional"].sum()),
            "fund_purchases_notional": float(funds["bought_notional"].sum()),
            "fund_defaults": int((funds["status"] == "defaulted").sum()),
        }
    # Typed columns even when a value is undefined (no exogenous fall: no amplification), so
    # summaries of different runs stack.
    summary = pl.DataFrame([row]).with_columns(
        pl.col(c).cast(pl.Float64) for c in row if c.startswith("amplification_")
    )
    return Result(
        events=events,
        steps=steps,
        accounts=accounts,
        summary=summary,
        meta=meta,
        positions=positions,
        vaults=vaults,
        auctions=auctions,
        funds=funds,
    )


def amplification(
    drawdown: npt.NDArray[np.float64], exogenous: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """How much further the market fell than the exogenous path: the fall of the lower of the
    mid and the reference (the lowest of either) over the exogenous fall, so ``max(1,
    drawdown / exogenous)``. 1 when forced flow added nothing: a venue whose mid lags above the
    reference (a pool inside its fee band, a book refilling) is not a dampening. NaN where there
    was no exogenous fall (null in frames)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exogenous < 0, drawdown / np.where(exogenous < 0, exogenous, 1.0), np.nan)
    return np.where(np.isnan(ratio), np.nan, np.maximum(ratio, 1.0))


def _label(labels: pl.Series) -> pl.Expr:
    return pl.lit(labels).gather(pl.col("account_id")).alias("account")


def _vaults(
    raw: Sequence[Mapping[str, Any]],
    families: Sequence[Any],
    account_labels: pl.DataFrame,
    asset_names: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Vaults in each system's input row order, and its auctions in kick order."""

    labels = account_labels["account"]
    assets = pl.Series("asset", asset_names, dtype=pl.String)
    vs, aus = [], []
    for out, fam in zip(raw, families, strict=True):
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
                pl.col("status").replace_strict(
                    dict(enumerate(VAULT_STATUS)), return_dtype=pl.Enum(VAULT_STATUS)
                ),
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


def _funds(
    raw: Sequence[Mapping[str, Any]], families: Sequence[Any], account_labels: pl.DataFrame
) -> pl.DataFrame:
    """Funds of every group, in account order of first appearance."""

    frames = []
    for out, fam in zip(raw, families, strict=True):
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
                pl.col("status").replace_strict(
                    dict(enumerate(FUND_STATUS)), return_dtype=pl.Enum(FUND_STATUS)
                ),
                "sold_notional",
                "bought_notional",
                "bad_debt",
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def _positions(
    raw: Sequence[Mapping[str, Any]],
    families: Sequence[Any],
    account_labels: pl.DataFrame,
    asset_names: list[str],
) -> pl.DataFrame:
    """The perp positions of every exchange, labelled, in each exchange's input row order."""
    frames = []
    labels = account_labels["account"]
    assets = pl.Series("market", asset_names, dtype=pl.String)
    for out, fam in zip(raw, families, strict=True):
        if out["kind"] != "perps":
            continue
        df = pl.DataFrame(dict(out["positions"]))
        frames.append(
            df.select(
                pl.lit(labels).gather(pl.col("account_id")).alias("account"),
                pl.lit(fam.name).alias("protocol"),
                pl.lit(assets).gather(pl.col("asset")).alias("market"),
                "size",
                "entry_price",
                "mark",
                "wallet",
                "equity",
                "maintenance_margin",
                pl.col("liquidation_price").fill_nan(None),
                pl.col("bankruptcy_price").fill_nan(None),
                pl.col("status")
                .replace_strict(dict(enumerate(POOL_STATUS)), return_dtype=pl.Enum(POOL_STATUS))
                .alias("status"),
                "liquidated_qty",
                "adl_qty",
                "absorbed_qty",
                "realized_pnl",
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def _perp_summary(
    raw: Sequence[Mapping[str, Any]], events: pl.DataFrame, steps: pl.DataFrame
) -> dict[str, Any]:
    """Insurance fund path and ADL totals, when the scenario has perp exchanges."""
    ledgers = [f["ledger"] for f in raw if f["kind"] == "perps"]
    if not ledgers:
        return {}
    start = sum(float(x["fund_initial"]) for x in ledgers)
    path = steps.group_by("step").agg(pl.col("insurance_fund").first())["insurance_fund"]
    low = min(start, float(path.min())) if path.len() else start  # type: ignore[arg-type]
    kinds = events["kind"]
    return {
        "perp_liquidations": int((kinds == "perp_liquidation").sum()),
        "insurance_fund_start": start,
        "insurance_fund_end": sum(float(x["insurance_fund"]) for x in ledgers),
        "insurance_fund_min": low,
        "insurance_fund_used": sum(float(x["deficits"]) for x in ledgers),
        "insurance_fees": sum(float(x["fees"]) for x in ledgers),
        "adl_count": sum(int(x["adl_count"]) for x in ledgers),
        "adl_notional": sum(float(x["adl_notional"]) for x in ledgers),
        "backstop_takeovers": int((kinds == "backstop").sum()),
    }
