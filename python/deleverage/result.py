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

import contextlib
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage._columns import (
    _NONE,
    ACCOUNT_STATUS,
    EVENT_KINDS,
    FUND_STATUS,
    ORDER_SIDE,
    SEQUENCER,
    _coded,
    _Context,
    _frame_of,
    _fsum,
    _name_of,
    _plain,
    _table,
)
from deleverage._depth import COLUMNS as _DEPTH_COLUMNS
from deleverage._family_frames import _funds, _others, _perp_summary, _positions, _vaults
from deleverage.exceptions import ScenarioError

__all__ = ["Result"]

_FRAMES = (
    "events", "steps", "fills", "accounts", "positions", "vaults", "auctions", "funds", "depth",
)  # fmt: skip

#: What the summary's numbers are in, said under it in a notebook and a report.
_UNITS = (
    "<p><small>Amounts (notional, debt, bad debt, insurance fund, sales) are in the scenario's "
    "quote unit; <code>drawdown_*</code> are returns from the pre-shock price, "
    "<code>amplification_*</code> the ratio of the drawdown to the exogenous move; counts are "
    "events or accounts; steps are the scenario's steps.</small></p>"
)


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
    fills:
        The router's split of every order on an asset with more than one venue (MECHANICS
        §2.8): one row per order and venue it filled on, with the step, the ``sequence`` of the
        order's first own row in ``events`` (its rows are the asset's trading rows from there up
        to the asset's next order in this frame), the asset, the venue's index among the
        asset's venues, the side, the units and their quote. Empty when no asset has more than
        one venue: there the whole order is on the one venue.
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
    depth:
        The depth of each traded asset's venues at fixed prices, before the shock and at the
        end of the run: one row per asset and price (40 % to 120 % of the pre-shock price in
        steps of 0.5 %), with the units the venues together take from one sale before its
        marginal price falls below the price (``bids_before``, ``bids_after``) and from one buy
        before it rises above it (``asks_before``, ``asks_after``). Fixed prices, unlike the
        steps frame's depth within 2 % of the moving mid: the liquidity the cascade consumed,
        the refill and a moved anchor show level for level.
    summary:
        One row: totals, bad debt, drawdown and amplification per asset, first liquidation step,
        steps to quiet.

    The summary is computed when the run ends, from the engine's columns; every other frame is
    built from those columns the first time it is read (a sweep or a search that reads only the
    summary never pays for them), and is the same frame whenever it is built. A result is
    read-only and pickles with its frames.

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

    __slots__ = ("_built", "_ctx", "_raw", "meta", "summary")

    summary: pl.DataFrame
    meta: Mapping[str, Any]
    _raw: dict[str, Any]
    _ctx: _Context | None
    _built: dict[str, pl.DataFrame]

    def __init__(
        self,
        raw: Mapping[str, Any],
        ctx: _Context,
        summary: pl.DataFrame,
        meta: Mapping[str, Any],
    ) -> None:
        object.__setattr__(self, "_raw", dict(raw))
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_built", {})
        object.__setattr__(self, "summary", summary)
        object.__setattr__(self, "meta", meta)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Result is read-only: cannot set {name!r}")

    def _frame(self, name: str) -> pl.DataFrame:
        built: dict[str, pl.DataFrame] = self._built
        if name not in built:
            raw, ctx = self._raw, self._ctx
            assert ctx is not None  # an unpickled result holds every frame
            if name in ("vaults", "auctions"):
                built["vaults"], built["auctions"] = _vaults(raw, ctx)
            else:
                built[name] = _BUILD[name](raw, ctx)
        return built[name]

    @property
    def events(self) -> pl.DataFrame:
        """Every event row, in the order they happened (see the class docstring)."""
        return self._frame("events")

    @property
    def steps(self) -> pl.DataFrame:
        """One row per step and asset (see the class docstring)."""
        return self._frame("steps")

    @property
    def fills(self) -> pl.DataFrame:
        """Each order's part on each venue of an asset with several (see the class docstring).

        Examples
        --------
        >>> import deleverage as dl
        >>> sc = dl.examples.eth_lending(n_accounts=200)  # a book and a pool
        >>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.2))
        >>> sorted(res.fills["venue"].unique().to_list())
        [0, 1]
        """
        return self._frame("fills")

    @property
    def accounts(self) -> pl.DataFrame:
        """The final state of every lending account (see the class docstring)."""
        return self._frame("accounts")

    @property
    def positions(self) -> pl.DataFrame:
        """The final state of every perp position (see the class docstring)."""
        return self._frame("positions")

    @property
    def vaults(self) -> pl.DataFrame:
        """The final state of every Maker vault (see the class docstring)."""
        return self._frame("vaults")

    @property
    def auctions(self) -> pl.DataFrame:
        """Every Dutch auction (see the class docstring)."""
        return self._frame("auctions")

    @property
    def funds(self) -> pl.DataFrame:
        """The final state of every fund (see the class docstring)."""
        return self._frame("funds")

    @property
    def depth(self) -> pl.DataFrame:
        """Each traded asset's bids and asks at fixed prices before and after (see the class
        docstring).

        Examples
        --------
        >>> import deleverage as dl
        >>> book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=1.0)
        >>> sc = dl.Scenario(assets=[dl.Asset("X", 100.0, venues=[book]), dl.Asset("USD", 1.0)])
        >>> res = dl.simulate(sc)
        >>> res.depth.filter(price=90.0).select("bids_before", "bids_after").row(0)
        (10.0, 10.0)
        """
        return self._frame("depth")

    def __getstate__(self) -> dict[str, Any]:
        # Pickled as its frames: the engine's raw columns and labels stay behind.
        return {
            "frames": {name: self._frame(name) for name in _FRAMES},
            "summary": self.summary,
            "meta": dict(self.meta),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_raw", {})
        object.__setattr__(self, "_ctx", None)
        object.__setattr__(self, "_built", dict(state["frames"]))
        object.__setattr__(self, "summary", state["summary"])
        object.__setattr__(self, "meta", state["meta"])

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
        ['ETH price (quote)', 'forced flow (quote, M)']
        """
        from deleverage import plot

        return plot.result(self, asset)

    def _repr_html_(self) -> str:
        """A notebook's view: the summary as a table, then the head of each non-empty frame
        (Polars' own HTML)."""
        parts = [f"<h4>{html.escape(repr(self))}</h4>", self.summary._repr_html_(), _UNITS]
        for name in _FRAMES:
            frame = self._frame(name)
            if frame.height:
                parts.append(
                    f"<h5>{name} ({frame.height:,} rows)</h5>{frame.head(5)._repr_html_()}"
                )
        return "\n".join(parts)

    def report(self, path: str | os.PathLike[str], *, title: str = "deleverage run") -> Path:
        """Writes one self-contained HTML file: the summary, the head of every non-empty
        frame and every plot that applies (the price path and forced flow of each asset with
        forced sales, the depth at fixed prices before and after, a pegged asset's depeg, the
        first step's rounds), embedded as PNG, so that it opens offline. Returns the path written.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import deleverage as dl
        >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=100, steps=20),
        ...                   shock=dl.Shock.instant(ETH=-0.25))
        >>> out = res.report(pathlib.Path(tempfile.mkdtemp()) / "run.html")
        >>> text = out.read_text()
        >>> "data:image/png;base64," in text and "<table" in text
        True
        """
        import base64
        import io as _io

        # The figures are plain matplotlib Figures (no pyplot): saving them needs no backend,
        # so a notebook's own backend is left alone.
        from deleverage import plot

        figures: list[tuple[str, Any]] = []
        ev = self._frame("events")
        traded = (
            ev.filter(pl.col("notional") != 0)["asset"]
            .cast(pl.String)
            .drop_nulls()
            .unique(maintain_order=True)
            if ev.height
            else pl.Series([], dtype=pl.String)
        )
        steps = self._frame("steps")
        for asset in traded.to_list():
            figures.append((f"{asset}: price path and forced flow", plot.result(self, asset)))
            rows = steps.filter(pl.col("asset") == asset)
            if rows.height and rows["peg_ratio"].is_not_null().any():
                figures.append((f"{asset}: depeg", plot.peg(self, asset)))
            elif rows.height and (self._frame("depth")["asset"] == asset).any():
                figures.append((f"{asset}: depth at fixed prices", plot.depth(self, asset)))
        if ev.height and (ev["step"] == 0).any():
            with contextlib.suppress(ScenarioError):  # no forced sale at step 0
                figures.append(("round by round, step 0", plot.rounds(self)))
        images = []
        for caption, fig in figures:
            buf = _io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            data = base64.b64encode(buf.getvalue()).decode("ascii")
            images.append(
                f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        body = "\n".join([f"<h1>{html.escape(title)}</h1>", self._repr_html_(), "<h2>Plots</h2>",
                          *images])  # fmt: skip
        style = (
            "body{font-family:sans-serif;margin:2em;max-width:80em}"
            "table{border-collapse:collapse;font-size:0.85em}td,th{padding:2px 6px}"
            "img{max-width:100%}figure{margin:1em 0}"
        )
        doc = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>{body}</body></html>"
        )
        out = Path(path)
        out.write_text(doc, encoding="utf-8")
        return out

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
    """The result of the engine's columns: the summary now, the frames when they are read."""
    ctx = _Context(
        list(asset_names),
        list(initial_prices),
        list(protocol_names),
        account_labels,
        n_lending,
        families,
        path_steps,
    )
    lending = next(f for f in raw["families"] if f["kind"] == "lending")
    meta = dict(raw["meta"]) | dict(lending["ledger"])
    # Each asset's price in quote before the shock: the state the plots start from.
    meta["initial_prices"] = dict(zip(ctx.asset_names, map(float, ctx.initial_prices), strict=True))
    perps = {
        fam.name: {k: _plain(v) for k, v in out["ledger"].items()}
        for out, fam in _others(raw, ctx)
        if out["kind"] == "perps"
    }
    if perps:
        # Each exchange's ledger (MECHANICS §8): fund, fees, deficits, ADL, and with margin
        # assets the units posted, sold, withdrawn and taken over, and the quote written off.
        meta["perp_ledgers"] = perps
    return Result(raw, ctx, _summary(raw, ctx, meta), meta)


def _events(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    asset_names_s = pl.Series("asset", ctx.asset_names, dtype=pl.String)
    protocol_names_s = pl.Series("protocol", ctx.protocol_names, dtype=pl.String)
    label_s = ctx.account_labels["account"]
    cols = raw["events"]
    ev = _frame_of(cols)
    return ev.with_row_index("sequence").select(
        "step",
        "round",
        "sequence",
        _coded("kind", EVENT_KINDS, cols["kind"]),
        _name_of(label_s, "account", cols["account"]).alias("account"),
        _name_of(protocol_names_s, "protocol", cols["protocol"]).alias("protocol"),
        _name_of(asset_names_s, "asset", cols["asset"]).alias("asset"),
        _name_of(asset_names_s, "debt_asset", cols["debt_asset"]).alias("debt_asset"),
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


def _steps(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    asset_names_s = pl.Series("asset", ctx.asset_names, dtype=pl.String)
    st = pl.DataFrame(dict(raw["steps"]))
    return st.with_columns(
        _name_of(asset_names_s, "asset").alias("asset"),
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
        pl.col("oracle_frozen").cast(pl.Boolean),
        pl.col("liquidators_out").cast(pl.Boolean),
        _coded("sequencer", SEQUENCER),
        "venues_halted",
        pl.col("peg_ratio").fill_nan(None),
        "redeemed",
        "minted",
        "redemption_paid",
        "redemption_queue",
        pl.col("redemption_paused").cast(pl.Boolean),
        "owner_sold_notional",
    )


def _fills(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    asset_names_s = pl.Series("asset", ctx.asset_names, dtype=pl.String)
    fl = pl.DataFrame(dict(raw["fills"]))
    return fl.select(
        "step",
        pl.col("event").alias("sequence"),
        _name_of(asset_names_s, "asset").alias("asset"),
        "venue",
        _coded("side", ORDER_SIDE),
        "qty",
        "notional",
    )


def _accounts(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    # The lending family comes first and carries the accounts table.
    lending = next(f for f in raw["families"] if f["kind"] == "lending")
    ac = pl.DataFrame(dict(_table(lending, "accounts")))
    n_lending = ac.height if ctx.n_lending is None else ctx.n_lending
    return (
        pl.concat([ctx.account_labels.head(n_lending), ac], how="horizontal")
        .with_columns(
            _coded("status", ACCOUNT_STATUS),
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


def _summary(raw: Mapping[str, Any], ctx: _Context, meta: Mapping[str, Any]) -> pl.DataFrame:
    """The summary row, from the engine's columns (no frame is built for it)."""
    ev, st = raw["events"], raw["steps"]
    lending = next(f for f in raw["families"] if f["kind"] == "lending")
    code = _EVENT_CODE
    kind = np.asarray(ev["kind"])
    row: dict[str, Any] = {
        # An absorb has a row per collateral asset; its first row carries the debt asset.
        # Every family's forced liquidations (lending liquidations and absorbs, perp fills,
        # deleveraged and backstopped positions, barks, fund sales), as the engine counted them.
        "liquidations": int(np.asarray(st["liquidation_count"]).sum()),
        "accounts_liquidated": int(lending["accounts_liquidated"]),
        "liquidated_notional": _fsum(st["liquidated_notional"]),
        # Storefront rows record what keepers paid the protocol, not debt repaid.
        "debt_repaid_value": _fsum(
            np.asarray(ev["debt_repaid_value"])[
                (kind == code["liquidation"]) | (kind == code["absorb"])
            ]
        ),
        "bad_debt": float(meta["bad_debt"]),
        "first_liquidation_step": meta["first_liquidation_step"],
        "steps_to_quiet": (
            0 if meta["last_liquidation_step"] is None else meta["last_liquidation_step"] + 1
        ),
        "steps_run": int(meta["steps_run"]),
        # Steps beyond the path, run to reach quiet (at most max_extra_steps).
        "extra_steps": (
            max(0, int(meta["steps_run"]) - ctx.path_steps) if ctx.path_steps is not None else 0
        ),
        "quiet": bool(meta["quiet"]),
    }
    lows = _lowest(st, len(ctx.asset_names))
    falls: list[tuple[float, float]] = []
    for a, (name, p0) in enumerate(zip(ctx.asset_names, ctx.initial_prices, strict=True)):
        lowest = lows[a]
        low, exo = lowest if lowest is not None else (p0, p0)
        falls.append((min(low / p0 - 1.0, 0.0), min(exo / p0 - 1.0, 0.0)))
        row[f"drawdown_{name}"], row[f"exogenous_drawdown_{name}"] = falls[-1]
        row[f"amplification_{name}"] = None  # its place among the columns; set below
    # Every asset's amplification in one call (NaN, no exogenous fall: null).
    amp = amplification(*np.array(falls, dtype=np.float64).reshape(-1, 2).T).tolist()
    for name, x in zip(ctx.asset_names, amp, strict=True):
        row[f"amplification_{name}"] = None if np.isnan(x) else x
    fams = raw["families"]
    row |= _perp_summary(fams, kind, st, len(ctx.asset_names))
    vaults = [f for f in fams if f["kind"] == "vaults"]
    if vaults:
        au = {
            c: np.concatenate([np.asarray(f["auctions"][c]) for f in vaults])
            for c in ("running", "recovered", "bad_debt", "coins")
        }
        row |= {
            "auctions": int(au["running"].size),
            # Ended auctions only: a running one may still be taken.
            "auctions_zero_recovery": int(((au["recovered"] == 0) & ~au["running"]).sum()),
            "auctions_partial_recovery": int(((au["recovered"] > 0) & (au["bad_debt"] > 0)).sum()),
            "auction_bad_debt": _fsum(au["bad_debt"]),
            "keeper_coins": _fsum(au["coins"]),
        }
    funds = [f for f in fams if f["kind"] == "funds"]
    if funds:
        fu = {
            c: np.concatenate([np.asarray(f["funds"][c]) for f in funds])
            for c in ("sold_notional", "bought_notional", "status")
        }
        row |= {
            "fund_sales_notional": _fsum(fu["sold_notional"]),
            "fund_purchases_notional": _fsum(fu["bought_notional"]),
            "fund_defaults": int((fu["status"] == FUND_STATUS.index("defaulted")).sum()),
        }
    # Typed columns even when a value is undefined (no exogenous fall: no amplification), so
    # summaries of different runs stack.
    return pl.DataFrame(
        [row],
        schema_overrides={c: pl.Float64 for c in row if c.startswith("amplification_")},
    )


def _lowest(st: Mapping[str, Any], n: int) -> list[tuple[float, float] | None]:
    """Each asset's lowest mid and reference over the steps rows (None for an asset without
    rows). Prices are positive and finite, so NumPy's minimum is the frames' exactly."""
    asset = np.asarray(st["asset"])
    mid, ref = np.asarray(st["mid"]), np.asarray(st["reference"])
    # The usual layout, a row per asset every step in asset order: one reduction each.
    if n and asset.size and asset.size % n == 0 and (asset.reshape(-1, n) == np.arange(n)).all():
        lo_mid, lo_ref = mid.reshape(-1, n).min(axis=0), ref.reshape(-1, n).min(axis=0)
        return list(zip(lo_mid.tolist(), lo_ref.tolist(), strict=True))
    out: list[tuple[float, float] | None] = []
    for a in range(n):
        here = asset == a
        out.append((float(mid[here].min()), float(ref[here].min())) if here.any() else None)
    return out


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


def _depth(raw: Mapping[str, Any], ctx: _Context) -> pl.DataFrame:
    depth = raw.get("depth")
    cols = depth.columns() if depth is not None else {k: [] for k in _DEPTH_COLUMNS}
    return pl.DataFrame(
        {k: cols[k] for k in _DEPTH_COLUMNS},
        schema={"asset": pl.String} | {k: pl.Float64 for k in _DEPTH_COLUMNS[1:]},
    )


_EVENT_CODE = {k: i for i, k in enumerate(EVENT_KINDS)}

_BUILD = {
    "depth": _depth,
    "events": _events,
    "steps": _steps,
    "fills": _fills,
    "accounts": _accounts,
    "positions": _positions,
    "funds": _funds,
}
