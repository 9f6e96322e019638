"""Owners across protocols (issue 18, item 4, its reporting half): an optional ``owner`` column
on any family's positions ties a lending account, a perp account, a vault and a fund to one
entity, and :func:`exposure_by_owner` reports each owner's exposure per protocol and its
leverage across them, before a shock (from the scenario) or after a run (from its result).

Every family's balance sheet is read the same way, from the core's own final-state tables:

============  ====================================  ==============================
family        assets                                liabilities
============  ====================================  ==============================
lending       collateral value at the oracle        debt value at the oracle
perps         position notional ``|size|·mark``     notional − equity
vaults        ``ink`` × the collateral's oracle     ``art·rate`` (DAI)
funds         marketable + illiquid value           debt
============  ====================================  ==============================

and ``equity = assets − liabilities``, ``leverage = assets / equity`` (null where the equity is
not positive). An owner's ``owner_leverage`` is its assets over its equity summed over every
protocol: the cross-protocol leverage no single protocol sees.

Owners given an :class:`Owner` policy (:meth:`Scenario.with_owners
<deleverage.Scenario.with_owners>`) also act: they pay their perp margin calls from their free
cash and keep their lending accounts at a target health factor, deleveraging them when the cash
runs out. The funds and vaults they own are reported, not supported.

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0)])
>>> lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
...                      "debt_asset": ["USDC"], "debt": [12_000.0], "owner": ["fund"]})
>>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), lend)
>>> dl.exposure_by_owner(sc).select("owner", "assets", "liabilities", "leverage").row(0)
('fund', 20000.0, 12000.0, 2.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from deleverage.exceptions import ScenarioError

if TYPE_CHECKING:
    from deleverage.result import Result
    from deleverage.scenario import Scenario

__all__ = ["Owner", "exposure_by_owner"]


@dataclass(frozen=True)
class Owner:
    """What an owner does across its protocols each round, before the families act
    (:meth:`Scenario.with_owners <deleverage.Scenario.with_owners>`).

    1. **Perp margin calls**, if ``margin_buffer`` is given (> 0): an owned margin pool whose
       equity falls below ``(1 + margin_buffer)·MM`` gets the owner's free cash up to that
       level (an ``owner_top_up`` event), so its perp losses are paid from the cash.
    2. **Lending**, if ``target_health`` is given (> 1): an owned account below that health
       factor gets its largest debt repaid from the cash left, ``R = B − W/h*`` (``W`` the
       threshold-weighted collateral, ``B`` the debt, in quote; an ``owner_repay`` event, at
       most that debt). Without enough cash the owner deleverages: it sells
       ``q = (h*·B' − W)/(p·(h* − LT))`` units of its largest collateral on the venues and
       repays with the proceeds (an ``owner_sale`` event; it moves the venues, but it is not a
       liquidation and is not in ``liquidated_notional``). If, by the venues' quote, the
       account's health after the sale (its collateral left valued at the lower of the oracle
       and the sale's last price) would be lower than before, ``q`` is halved until it is not.
       While an L2 sequencer is down, owners of accounts on protocols behind Aave's
       PriceOracleSentinel cannot act.

    So a perp loss that takes the cash forces the owner's lending position to deleverage in
    the same step. A run is not quiet in a step an owner sold in. ``cash`` is the free cash in
    quote at the start; the core checks the values.

    Examples
    --------
    >>> import deleverage as dl
    >>> dl.Owner(cash=5_000.0, margin_buffer=0.1, target_health=1.25).target_health
    1.25
    """

    cash: float = 0.0
    margin_buffer: float | None = None
    target_health: float | None = None

    def __post_init__(self) -> None:
        for name in ("cash", "margin_buffer", "target_health"):
            v = getattr(self, name)
            if v is None and name != "cash":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ScenarioError(f"owner {name} must be a number, got {v!r}")
            object.__setattr__(self, name, float(v))

    def _spec(self) -> dict[str, float | None]:
        return {
            "cash": self.cash,
            "margin_buffer": self.margin_buffer,
            "target_health": self.target_health,
        }


_SCHEMA = {
    "owner": pl.String,
    "protocol": pl.String,
    "family": pl.String,
    "accounts": pl.UInt32,
    "assets": pl.Float64,
    "liabilities": pl.Float64,
    "equity": pl.Float64,
}


def _owners(sc: Scenario) -> pl.DataFrame:
    """(account, protocol, owner) of every owned account, the account as a string."""
    frames = []
    books = [(b.protocol.name, b.positions) for b in sc.lending]
    books += [(f.protocol.name, f.positions) for f in sc.families]
    for name, df in books:
        if "owner" in df.columns:
            frames.append(
                df.select(
                    pl.col("account").cast(pl.String),
                    pl.lit(name).alias("protocol"),
                    pl.col("owner").cast(pl.String),
                ).unique()
            )
    if not frames:
        raise ScenarioError(
            "no positions frame of the scenario has an owner column: give one to tie accounts "
            "of several protocols to one entity"
        )
    return pl.concat(frames)


def exposure_by_owner(scenario: Scenario, result: Result | None = None) -> pl.DataFrame:
    """Each owner's balance sheet per protocol and its leverage across protocols.

    Parameters
    ----------
    scenario:
        The scenario whose positions frames carry an ``owner`` column (any of them).
    result:
        A run of ``scenario``: the balance sheets at its end. Without it, before any shock (at
        the scenario's starting prices).

    Returns
    -------
    polars.DataFrame
        One row per owner and protocol: ``owner``, ``protocol``, ``family``, ``accounts``,
        ``assets``, ``liabilities``, ``equity``, ``leverage`` (quote; see the module's table),
        the owner's free ``cash`` (owners with an :class:`Owner` policy; null otherwise) and its
        ``owner_assets``, ``owner_equity`` and ``owner_leverage`` over every protocol (cash
        not included). Sorted by owner, then protocol.

    Examples
    --------
    >>> import polars as pl
    >>> import deleverage as dl
    >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0),
    ...                          dl.Asset("ETH-PERP", 2_000.0)])
    >>> lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [10.0],
    ...                      "debt_asset": ["USDC"], "debt": [12_000.0], "owner": ["fund"]})
    >>> perp = pl.DataFrame({"account": ["p"], "market": ["ETH-PERP"], "size": [5.0],
    ...                      "entry_price": [2_000.0], "margin": [2_000.0], "owner": ["fund"]})
    >>> venue = dl.PerpExchange([dl.PerpMarket("ETH-PERP", dl.examples.BTC_BRACKETS)])
    >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.83, 0.05)}), lend)
    >>> ex = dl.exposure_by_owner(sc.add_perps(venue, perp))
    >>> ex.select("protocol", "assets", "equity", "leverage").rows()
    [('aave_v3', 20000.0, 8000.0, 2.5), ('perps', 10000.0, 2000.0, 5.0)]
    >>> ex["owner_leverage"].unique().item()  # 30,000 of assets on 10,000 of equity
    3.0
    """
    from deleverage.result import Result
    from deleverage.scenario import Scenario

    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    if result is not None and not isinstance(result, Result):
        raise ScenarioError(f"result must be a deleverage.Result, got {type(result).__name__}")
    owners = _owners(scenario)
    sheet = balance_sheets(scenario, result)
    by = (
        sheet.join(owners, on=["account", "protocol"], how="inner")
        .group_by("owner", "protocol", "family")
        .agg(
            pl.len().cast(pl.UInt32).alias("accounts"),
            pl.col("assets").sum(),
            pl.col("liabilities").sum(),
        )
        .with_columns(equity=pl.col("assets") - pl.col("liabilities"))
    )
    lev = pl.when(pl.col("equity") > 0).then(pl.col("assets") / pl.col("equity"))
    # Free cash of the owners with a policy: at the start, or what the run left them.
    names = [n for n, _ in scenario.owners]
    left = (
        [o.cash for _, o in scenario.owners]
        if result is None
        else [float(x) for x in result.meta.get("owner_cash", [])]
    )
    cash = pl.DataFrame(
        {"owner": names, "cash": left}, schema={"owner": pl.String, "cash": pl.Float64}
    )
    return (
        by.join(cash, on="owner", how="left")
        .with_columns(
            leverage=lev,
            owner_assets=pl.col("assets").sum().over("owner"),
            owner_equity=pl.col("equity").sum().over("owner"),
        )
        .with_columns(
            owner_leverage=pl.when(pl.col("owner_equity") > 0).then(
                pl.col("owner_assets") / pl.col("owner_equity")
            )
        )
        .sort("owner", "protocol")
    )


def balance_sheets(scenario: Scenario, result: Result | None = None) -> pl.DataFrame:
    """Every account's balance sheet in quote, read from the core's final-state tables the way
    the module's table says: ``account``, ``protocol``, ``family``, ``assets``,
    ``liabilities``. Without ``result``, at the scenario's starting prices.

    Examples
    --------
    >>> import polars as pl
    >>> import deleverage as dl
    >>> from deleverage.owners import balance_sheets
    >>> sc = dl.Scenario(assets=[dl.Asset("ETH", 2_000.0), dl.Asset("USDC", 1.0)])
    >>> lend = pl.DataFrame({"account": ["a"], "collateral_asset": ["ETH"], "collateral": [1.0],
    ...                      "debt_asset": ["USDC"], "debt": [500.0]})
    >>> sc = sc.add_lending(dl.Lending.aave_v3({"ETH": dl.Reserve(0.8, 0.05)}), lend)
    >>> balance_sheets(sc).select("account", "assets", "liabilities").row(0)
    ('a', 2000.0, 500.0)
    """
    from deleverage.engine import Engine
    from deleverage.vaults import Vaults

    if result is None:
        st = Engine(scenario).state()
        accounts, positions, vaults, funds = st.accounts, st.positions, st.vaults, st.funds
        oracle = dict(zip(st.assets["asset"].to_list(), st.assets["oracle"].to_list(), strict=True))
    else:
        accounts, positions = result.accounts, result.positions
        vaults, funds = result.vaults, result.funds
        last = result.steps.filter(pl.col("step") == pl.col("step").max())
        oracle = dict(
            zip(last["asset"].cast(pl.String).to_list(), last["oracle"].to_list(), strict=True)
        )
    sheets = []
    if accounts.height:
        sheets.append(
            accounts.select(
                "account", "protocol", pl.lit("lending").alias("family"),
                pl.col("collateral_value").alias("assets"),
                pl.col("debt_value").alias("liabilities"),
            )
        )  # fmt: skip
    if positions.height:
        notional = pl.col("size").abs() * pl.col("mark")
        sheets.append(
            positions.select(
                "account", "protocol", pl.lit("perps").alias("family"),
                notional.alias("assets"), (notional - pl.col("equity")).alias("liabilities"),
            )
        )  # fmt: skip
    if vaults.height:
        rates = pl.DataFrame(
            [
                (f.protocol.name, c.asset, float(c.rate))
                for f in scenario.families
                if isinstance(f.protocol, Vaults)
                for c in f.protocol.clippers
            ],
            schema={"protocol": pl.String, "collateral_asset": pl.String, "rate": pl.Float64},
            orient="row",
        )
        sheets.append(
            vaults.with_columns(pl.col("protocol").cast(pl.String))
            .join(rates, on=["protocol", "collateral_asset"], how="left")
            .select(
                "account", "protocol", pl.lit("vaults").alias("family"),
                (pl.col("ink") * pl.col("collateral_asset").replace_strict(oracle)).alias("assets"),
                (pl.col("art") * pl.col("rate")).alias("liabilities"),
            )
        )  # fmt: skip
    if funds.height:
        sheets.append(
            funds.select(
                "account", "protocol", pl.lit("funds").alias("family"),
                (pl.col("marketable_value") + pl.col("illiquid_value")).alias("assets"),
                pl.col("debt").alias("liabilities"),
            )
        )  # fmt: skip
    return (
        pl.concat(
            [
                s.with_columns(
                    pl.col("account").cast(pl.String), pl.col("protocol").cast(pl.String)
                )
                for s in sheets
            ]
        )
        if sheets
        else pl.DataFrame(schema=_SHEET_SCHEMA)
    )


_SHEET_SCHEMA = {
    "account": pl.String,
    "protocol": pl.String,
    "family": pl.String,
    "assets": pl.Float64,
    "liabilities": pl.Float64,
}
