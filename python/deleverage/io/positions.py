"""Positions from exchanges and chains: Hyperliquid, Aave v3's subgraph, Compound III."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from deleverage.exceptions import ScenarioError
from deleverage.io._read import (
    Source,
    _columns,
    _csv,
    _json,
    _non_negative,
    _numbers,
    _where,
    _whole_decimals,
)

if TYPE_CHECKING:
    from deleverage.lending import Reserve
    from deleverage.perps import PerpExchange


def read_hyperliquid(
    source: Source, *, market: str = "{coin}-PERP"
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Hyperliquid ``clearinghouseState`` answers (``POST /info {"type": "clearinghouseState",
    "user": …}``), a JSON object mapping each user to its answer, as a perp positions frame
    (``account``, ``market`` (``market`` formatted with the coin), ``size`` (``szi``, signed),
    ``entry_price``, ``margin``, ``mode``, and the exchange's own ``liquidation_px``), and each
    coin's ``maxLeverage`` (for :meth:`Brackets.hyperliquid <deleverage.Brackets.hyperliquid>`).

    Margin, in the engine's convention (a wallet without unrealised PnL): a cross account's
    wallet is its ``crossMarginSummary.accountValue`` less the unrealised PnL of its cross
    positions, put on its first cross row (the engine sums a cross account's rows); an isolated
    position's is its ``marginUsed`` less its ``unrealizedPnl``.

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, lev = dl.io.read_hyperliquid(dl.io.sample("hyperliquid_clearinghouse.json"))
    >>> pos.select("account", "market", "size", "mode").rows()[0]
    ('0x1111111111111111111111111111111111111111', 'ETH-PERP', 2.0, 'cross')
    """
    where = _where(source)
    if not isinstance(source, str | Path | Mapping):
        raise ScenarioError(
            f"expected a file or a dict of users to clearinghouseState, got {type(source).__name__}"
        )
    doc = _json(source)
    if not isinstance(doc, Mapping) or not doc:
        raise ScenarioError(f"{where}: expected an object mapping users to clearinghouseState")
    rows: list[dict[str, Any]] = []
    leverage: dict[str, float] = {}
    for user, state in doc.items():
        if user.startswith("_"):
            continue  # a comment field of the sample
        w = f"{where}: user {user}"
        if not isinstance(state, Mapping) or "assetPositions" not in state:
            raise ScenarioError(f"{w}: not a clearinghouseState (no assetPositions)")
        cross_upnl = 0.0
        first_cross = None
        for k, ap in enumerate(state["assetPositions"]):
            p = ap.get("position") if isinstance(ap, Mapping) else None
            if not isinstance(p, Mapping):
                raise ScenarioError(f"{w}: assetPositions[{k}] has no position")
            f = f"{w}: assetPositions[{k}].position"
            try:
                size = float(p["szi"])
                entry = float(p["entryPx"])
                upnl = float(p.get("unrealizedPnl", 0.0))
                used = float(p.get("marginUsed", 0.0))
                lev = p["leverage"]
                kind = lev["type"]
                coin = p["coin"]
                lp = p.get("liquidationPx")
                lp = None if lp in (None, "") else float(lp)
                max_lev = float(p["maxLeverage"]) if "maxLeverage" in p else None
            except (KeyError, TypeError, ValueError) as e:
                raise ScenarioError(f"{f}: missing or bad field ({e})") from None
            for name, v in (("szi", size), ("unrealizedPnl", upnl), ("marginUsed", used),
                            ("liquidationPx", lp if lp is not None else 0.0),
                            ("maxLeverage", max_lev if max_lev is not None else 1.0)):  # fmt: skip
                if not np.isfinite(v):
                    raise ScenarioError(f"{f}.{name} must be a finite number, got {v!r}")
            if not isinstance(coin, str) or not coin:
                raise ScenarioError(f"{f}.coin must be a coin's name, got {coin!r}")
            if size == 0:
                continue
            if not (np.isfinite(entry) and entry > 0):
                raise ScenarioError(f"{f}.entryPx must be a positive number, got {p['entryPx']!r}")
            if kind not in ("cross", "isolated"):
                raise ScenarioError(f"{f}.leverage.type must be cross or isolated, got {kind!r}")
            if max_lev is not None:
                leverage[market.format(coin=coin)] = max_lev
            row = {
                "account": user,
                "market": market.format(coin=coin),
                "size": size,
                "entry_price": entry,
                "margin": 0.0,
                "mode": kind,
                "liquidation_px": lp,
            }
            if kind == "cross":
                cross_upnl += upnl
                if first_cross is None:
                    first_cross = len(rows)
            else:
                row["margin"] = used - upnl
            rows.append(row)
        if first_cross is not None:
            try:
                value = float(state["crossMarginSummary"]["accountValue"])
            except (KeyError, TypeError, ValueError) as e:
                raise ScenarioError(f"{w}: crossMarginSummary.accountValue missing ({e})") from None
            if not np.isfinite(value):
                raise ScenarioError(
                    f"{w}: crossMarginSummary.accountValue must be finite, got {value}"
                )
            rows[first_cross]["margin"] = value - cross_upnl
    if not rows:
        raise ScenarioError(f"{where}: no open position")
    frame = pl.DataFrame(
        rows,
        schema={
            "account": pl.String,
            "market": pl.String,
            "size": pl.Float64,
            "entry_price": pl.Float64,
            "margin": pl.Float64,
            "mode": pl.String,
            "liquidation_px": pl.Float64,
        },
    )
    neg = frame.filter(pl.col("margin") < 0)
    if neg.height:
        acc, m, v = neg.select("account", "market", "margin").row(0)
        raise ScenarioError(f"{where}: user {acc} {m}: its margin comes out negative ({v})")
    return frame, leverage


def check_liquidation_prices(
    exchange: PerpExchange, positions: pl.DataFrame, prices: Mapping[str, float]
) -> pl.DataFrame:
    """The exchange's own liquidation price of each position (``liquidation_px``, as
    :func:`read_hyperliquid` reads it) beside the engine's at ``prices`` (asset → mark), and
    their difference (absolute and relative to the engine's).

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, lev = dl.io.read_hyperliquid(dl.io.sample("hyperliquid_clearinghouse.json"))
    >>> ex = dl.PerpExchange([dl.PerpMarket(m, dl.Brackets.hyperliquid(v)) for m, v in lev.items()])
    >>> chk = dl.io.check_liquidation_prices(ex, pos, {"ETH-PERP": 3_000.0, "BTC-PERP": 60_000.0})
    >>> chk.columns[-3:]
    ['engine_liquidation_px', 'difference', 'relative_difference']
    """
    from deleverage.engine import Engine
    from deleverage.market import Asset
    from deleverage.scenario import Scenario

    if "liquidation_px" not in positions.columns:
        raise ScenarioError("positions lack liquidation_px (read them with dl.io.read_hyperliquid)")
    missing = [a for a in exchange.assets if a not in prices]
    if missing:
        raise ScenarioError(f"prices lack the market(s) {missing}")
    sc = Scenario(assets=[Asset(a, float(prices[a])) for a in exchange.assets]).add_perps(
        exchange, positions
    )
    st = Engine(sc).state().positions
    return positions.with_columns(
        st["liquidation_price"].alias("engine_liquidation_px")
    ).with_columns(
        (pl.col("liquidation_px") - pl.col("engine_liquidation_px")).alias("difference"),
        (
            (pl.col("liquidation_px") - pl.col("engine_liquidation_px"))
            / pl.col("engine_liquidation_px")
        ).alias("relative_difference"),
    )


_AAVE_FIELDS = (
    "user",
    "symbol",
    "decimals",
    "currentATokenBalance",
    "currentVariableDebt",
    "currentStableDebt",
    "reserveLiquidationThreshold",
    "reserveLiquidationBonus",
)


def read_aave_v3(path: Source) -> tuple[pl.DataFrame, dict[str, Reserve]]:
    """Aave v3 ``userReserves`` from the subgraph as lending positions and reserves.

    Either the GraphQL answer as JSON (``{"data": {"userReserves": [{"user": {"id"},
    "reserve": {"symbol", "decimals", "reserveLiquidationThreshold", "reserveLiquidationBonus"},
    "currentATokenBalance", "currentVariableDebt", "currentStableDebt",
    "usageAsCollateralEnabledOnUser"}, …]}}``) or its flat CSV (columns ``user, symbol,
    decimals, currentATokenBalance, currentVariableDebt, currentStableDebt,
    reserveLiquidationThreshold, reserveLiquidationBonus[, usageAsCollateralEnabledOnUser]``).

    Units converted: balances are integers in the token's smallest unit (divided by
    10^decimals; as floats, about 16 significant digits); thresholds and bonuses in basis points
    (LT 8250 → 0.825; bonus 10500 → 0.05, the bonus over par). A supply the user does not use as
    collateral is left out (it cannot be seized). Returns the positions frame (``account``,
    ``collateral_asset``, ``collateral``, ``debt_asset``, ``debt``: one row per user and reserve)
    and a :class:`Reserve` per symbol for :meth:`Lending.aave_v3 <deleverage.Lending.aave_v3>`.

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, reserves = dl.io.read_aave_v3(dl.io.sample("aave_v3_user_reserves.json"))
    >>> reserves["WETH"].liquidation_threshold, round(reserves["WETH"].liquidation_bonus, 10)
    (0.83, 0.05)
    """
    from deleverage.lending import Reserve

    where = _where(path)
    if isinstance(path, Mapping) or str(path).endswith(".json"):
        doc = _json(path)
        try:
            items = doc["data"]["userReserves"]
        except (KeyError, TypeError):
            raise ScenarioError(
                f"{where}: expected {{'data': {{'userReserves': [...]}}}}"
            ) from None
        if not isinstance(items, list):
            raise ScenarioError(f"{where}: data.userReserves must be a list")

        def flat(k: int, it: Any) -> dict[str, Any]:
            if not isinstance(it, Mapping) or not isinstance(it.get("reserve"), Mapping):
                raise ScenarioError(f"{where}: userReserves[{k}] has no reserve object")
            user = it.get("user")
            own = ("currentATokenBalance", "currentVariableDebt", "currentStableDebt",
                   "usageAsCollateralEnabledOnUser")  # fmt: skip
            of_reserve = ("symbol", "decimals", "reserveLiquidationThreshold",
                          "reserveLiquidationBonus")  # fmt: skip
            row = {f: it.get(f) for f in own} | {f: it["reserve"].get(f) for f in of_reserve}
            row["user"] = user.get("id") if isinstance(user, Mapping) else user
            # Big integers may come as JSON numbers: as text, like the subgraph's strings.
            return {k2: None if v is None else str(v) for k2, v in row.items()}

        try:
            raw = pl.DataFrame(
                [flat(k, it) for k, it in enumerate(items)], infer_schema_length=None
            )
        except (pl.exceptions.PolarsError, TypeError) as e:
            raise ScenarioError(
                f"{where}: userReserves do not have the subgraph's fields ({e})"
            ) from None
    else:
        raw = _csv(path, infer_schema=False)
    _columns(raw, list(_AAVE_FIELDS), where)
    raw = raw.with_row_index("row").with_columns(pl.col(c).cast(pl.String) for c in _AAVE_FIELDS)
    num = _numbers(raw, [c for c in _AAVE_FIELDS if c not in ("user", "symbol")], where)
    _non_negative(
        num, raw, ("currentATokenBalance", "currentVariableDebt", "currentStableDebt"), where
    )
    _whole_decimals(num, raw, where)
    # Aave enables a first supply as collateral: a flag the file does not give counts as on.
    collateral_on = pl.lit(True)
    if "usageAsCollateralEnabledOnUser" in num.columns:
        flag = pl.col("usageAsCollateralEnabledOnUser").cast(pl.String).str.to_lowercase()
        collateral_on = flag.is_null() | (flag == "true")
    scale = pl.lit(10.0).pow(pl.col("decimals"))
    positions = num.select(
        pl.col("user").alias("account"),
        pl.col("symbol").alias("collateral_asset"),
        pl.when(collateral_on)
        .then(pl.col("currentATokenBalance") / scale)
        .otherwise(0.0)
        .alias("collateral"),
        pl.col("symbol").alias("debt_asset"),
        ((pl.col("currentVariableDebt") + pl.col("currentStableDebt")) / scale).alias("debt"),
    ).filter((pl.col("collateral") > 0) | (pl.col("debt") > 0))
    reserves: dict[str, Reserve] = {}
    params = num.select("symbol", "reserveLiquidationThreshold", "reserveLiquidationBonus").unique(
        "symbol", keep="first", maintain_order=True
    )
    for sym, lt, bonus in params.iter_rows():
        if lt == 0:
            continue  # not collateral: no reserve of its own needed
        if not (1 <= lt <= 10_000 and 10_000 <= bonus <= 20_000):
            raise ScenarioError(
                f"{where}: reserve {sym}: reserveLiquidationThreshold {lt:g} and "
                f"reserveLiquidationBonus {bonus:g} must be basis points (LT in [1, 10000], "
                "the bonus over par in [10000, 20000], e.g. 8300 and 10500)"
            )
        reserves[sym] = Reserve(lt / 10_000, (bonus - 10_000) / 10_000)
    twice = (
        num.group_by("symbol")
        .agg(
            pl.col("reserveLiquidationThreshold").n_unique().alias("lt"),
            pl.col("reserveLiquidationBonus").n_unique().alias("bonus"),
        )
        .filter((pl.col("lt") > 1) | (pl.col("bonus") > 1))
    )
    if twice.height:
        raise ScenarioError(
            f"{where}: reserve {twice['symbol'][0]} has different parameters on different rows"
        )
    return positions, reserves


_COMET_FIELDS = ("account", "asset", "decimals", "collateralBalance", "borrowBalance",
                 "liquidateCollateralFactor", "liquidationFactor")  # fmt: skip


def read_compound_v3(path: str | Path, base: str) -> tuple[pl.DataFrame, dict[str, Reserve]]:
    """A Compound III (Comet) account export as lending positions and reserves for
    :meth:`Lending.compound_v3 <deleverage.Lending.compound_v3>`.

    The export is a CSV of what the Comet contract answers, one row per account and asset:
    ``account, asset, decimals, collateralBalance, borrowBalance, liquidateCollateralFactor,
    liquidationFactor``. Collateral rows carry ``collateralBalanceOf(account, asset)``, the base
    asset's row (``asset == base``) carries ``borrowBalanceOf(account)`` (the present value of
    the borrow, interest included), both in the token's smallest unit; the factors are
    ``getAssetInfoByAddress(asset)``'s, scaled by 1e18 (0.83 is ``830000000000000000``).

    Units converted: balances divided by 10^decimals; factors divided by 1e18. Returns the
    positions (``account``, ``collateral_asset``, ``collateral``, ``debt_asset``, ``debt``) and a
    :class:`Reserve` per collateral asset (``liquidation_threshold`` =
    ``liquidateCollateralFactor``, ``liquidation_factor`` = ``liquidationFactor``).

    Examples
    --------
    >>> import deleverage as dl
    >>> pos, reserves = dl.io.read_compound_v3(dl.io.sample("compound_v3_accounts.csv"), "USDC")
    >>> reserves["WETH"].liquidation_threshold, reserves["WETH"].liquidation_factor
    (0.83, 0.93)
    """
    from deleverage.lending import Reserve

    where = str(path)
    raw = _csv(path, infer_schema=False)
    _columns(raw, list(_COMET_FIELDS), where)
    raw = raw.with_columns(pl.col(c).fill_null("0") for c in _COMET_FIELDS[3:])
    num = _numbers(raw, list(_COMET_FIELDS[2:]), where)
    _non_negative(num, raw, ("collateralBalance", "borrowBalance"), where)
    _whole_decimals(num, raw, where)
    twice = num.filter(pl.struct("account", "asset").is_duplicated())
    if twice.height:
        acc, asset = twice.select("account", "asset").row(0)
        raise ScenarioError(f"{where}: account {acc!r} has two rows of {asset!r}")
    is_base = pl.col("asset") == base
    for c in ("liquidateCollateralFactor", "liquidationFactor"):
        small = num.filter(~is_base & (pl.col(c) > 0) & (pl.col(c) < 1e9))
        if small.height:
            raise ScenarioError(
                f"{where}: {c} of {small['asset'][0]!r} is {small[c][0]:g}; the contract's factors "
                "are scaled by 1e18 (0.83 is 830000000000000000)"
            )
    odd = num.filter(~is_base & (pl.col("borrowBalance") > 0))
    if odd.height:
        acc, asset = odd.select("account", "asset").row(0)
        raise ScenarioError(
            f"{where}: account {acc!r} borrows {asset!r}; a Comet market lends its base "
            f"{base!r} only"
        )
    scale = pl.lit(10.0).pow(pl.col("decimals"))
    positions = num.select(
        "account",
        pl.col("asset").alias("collateral_asset"),
        pl.when(is_base).then(0.0).otherwise(pl.col("collateralBalance") / scale)
        .alias("collateral"),
        pl.lit(base).alias("debt_asset"),
        pl.when(is_base).then(pl.col("borrowBalance") / scale).otherwise(0.0).alias("debt"),
    ).filter((pl.col("collateral") > 0) | (pl.col("debt") > 0))  # fmt: skip
    # A base row's collateral_asset is the base, which a Comet market cannot take as
    # collateral: its collateral is 0, so it names one of the account's own collateral assets
    # (or any of the market's).
    real = pl.col("collateral_asset").filter(pl.col("collateral_asset") != base)
    positions = positions.with_columns(
        pl.when(pl.col("collateral_asset") == base)
        .then(real.first().over("account").fill_null(real.first()))
        .otherwise(pl.col("collateral_asset"))
        .alias("collateral_asset")
    )
    if positions["collateral_asset"].is_null().any():
        raise ScenarioError(
            f"{where}: accounts borrow {base!r} but no row names a collateral asset"
        )
    reserves: dict[str, Reserve] = {}
    params = num.filter(~is_base).unique("asset", keep="first", maintain_order=True)
    for a, lcf, lf in params.select(
        "asset", "liquidateCollateralFactor", "liquidationFactor"
    ).iter_rows():
        reserves[a] = Reserve(lcf / 1e18, liquidation_factor=lf / 1e18)
    return positions, reserves
