"""Leverage-targeting funds and banks (MECHANICS §7): marketable holdings that trade on the
scenario's venues, illiquid holdings that only their exogenous shock moves, and debt. Added to a
scenario with :meth:`Scenario.add_funds <deleverage.Scenario.add_funds>`.

Rules: ``target`` (symmetric: sells after losses, buys after gains, back to a target leverage;
Greenwood–Landier–Thesmar), ``threshold`` (sells only above ``lambda_max``, down to
``lambda_b``; Cont–Schaanning), and in both a default at zero equity (everything sold). Sales are
pro rata to holdings and repay debt. With ``Liquidators(mode="batch")`` every fund decides on the
same prices and the round's orders are netted per asset, as the published models do; with
``accounting="linear"`` a ``target`` group follows GLT's linear bookkeeping exactly (returns on
fixed weights and base assets), so that linear :class:`ImpactCurve` venues reproduce
``M L M' B A M F``.

Positions are a Polars frame with the columns ``account``, ``holding`` and ``amount``: a holding
named after a scenario asset is marketable (units), one named after a class of ``illiquid`` is an
illiquid value, and ``"debt"`` is debt (quote). Rows of the same account and holding are summed.

Examples
--------
>>> import polars as pl
>>> import deleverage as dl
>>> bonds = dl.ImpactCurve.exponential(1.0, 0.4, 1_000.0, alpha=0.5)
>>> sc = dl.Scenario(assets=[dl.Asset("BONDS", 1.0, venues=[bonds])], steps=2,
...                  liquidators=dl.Liquidators(mode="batch"))
>>> banks = dl.Funds.threshold(25.0, 23.75, illiquid={"loans": 0.12})
>>> pos = pl.DataFrame({"account": ["b1", "b1", "b1"], "holding": ["BONDS", "loans", "debt"],
...                     "amount": [80.0, 18.0, 92.8]})
>>> res = dl.simulate(sc.add_funds(banks, pos))
>>> res.funds["status"].to_list()  # a thin market: the spiral sells every bond
['illiquid']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from deleverage._checks import (
    Place,
    finite,
    get_num,
    get_opt_num,
    get_str,
    named_table,
    names,
    numbers,
    one_of,
    positions_frame,
    protocol_name,
    table,
    wrap,
)
from deleverage.exceptions import ScenarioError

__all__ = ["Funds"]

FUND_COLUMNS = ("account", "holding", "amount")
FUND_STATUS = ["active", "defaulted", "illiquid", "insolvent"]


@dataclass(frozen=True)
class Funds:
    """A group of funds (or banks) under one deleveraging rule.

    Build it with :meth:`target` or :meth:`threshold`. ``illiquid`` maps each illiquid class to
    its exogenous shock ε (its value becomes ``value·(1 − ε)`` at the first step).

    Examples
    --------
    >>> import deleverage as dl
    >>> round(dl.Funds.threshold(33.0).lambda_b, 6)
    31.35
    >>> dl.Funds.target(accounting="linear").rule
    'target'
    """

    rule: Literal["target", "threshold"]
    leverage: float | None = None
    lambda_max: float | None = None
    lambda_b: float | None = None
    accounting: Literal["mark_to_market", "linear"] = "mark_to_market"
    illiquid: Mapping[str, float] = field(default_factory=dict)
    name: str = "funds"

    def __post_init__(self) -> None:
        w = protocol_name("Funds", self.name)
        for key in ("leverage", "lambda_max", "lambda_b"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, finite(f"{w}: {key}", v, low=1.0))
        if self.rule not in ("target", "threshold"):
            raise ScenarioError(f"{w}: rule must be target or threshold, got {self.rule!r}")
        if self.accounting not in names("accounting"):
            raise ScenarioError(
                f"{w}: accounting must be {one_of(names('accounting'))}, got {self.accounting!r}"
            )
        if self.rule == "threshold":
            lm, lb = self.lambda_max, self.lambda_b
            if lm is None or not (math.isfinite(lm) and lm >= 1):
                raise ScenarioError(f"{w}: lambda_max must be finite and >= 1, got {lm}")
            if lb is None or not (1 <= lb <= lm):
                raise ScenarioError(f"{w}: lambda_b must be in [1, lambda_max = {lm}], got {lb}")
        elif self.leverage is not None and not (
            math.isfinite(self.leverage) and self.leverage >= 1
        ):
            raise ScenarioError(f"{w}: leverage must be finite and >= 1, got {self.leverage}")
        if not isinstance(self.illiquid, Mapping):
            raise ScenarioError(
                f"{w}: illiquid must map class names to shocks, got {type(self.illiquid).__name__}"
            )
        illiquid = {}
        for k, eps in self.illiquid.items():
            if not isinstance(k, str) or k == "debt":
                raise ScenarioError(f"{w}: illiquid class names must be strings other than 'debt'")
            illiquid[k] = finite(f"{w}: illiquid shock of {k!r}", eps, high=1.0)
        object.__setattr__(self, "illiquid", illiquid)
        if self.accounting == "linear" and (
            self.rule != "target" or self.leverage is not None or illiquid
        ):
            raise ScenarioError(
                f"{w}: accounting='linear' is Greenwood–Landier–Thesmar's bookkeeping: it needs "
                "the target rule with each fund's own leverage (leverage=None) and no illiquid "
                "holdings; use accounting='mark_to_market' otherwise"
            )

    @classmethod
    def target(
        cls,
        leverage: float | None = None,
        *,
        accounting: Literal["mark_to_market", "linear"] = "mark_to_market",
        illiquid: Mapping[str, float] | None = None,
        name: str = "funds",
    ) -> Funds:
        """Trade back to ``leverage`` (assets/equity) after every move, selling after losses and
        buying after gains; ``None`` keeps each fund's initial leverage (GLT's ``b = D/E``).

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> deep = dl.ImpactCurve.exponential(1.0, 0.4, 1e6, alpha=0.5)  # little impact
        >>> sc = dl.Scenario(assets=[dl.Asset("BONDS", 1.0, venues=[deep])], steps=2)
        >>> pos = pl.DataFrame({"account": ["f", "f"], "holding": ["BONDS", "debt"],
        ...                     "amount": [100.0, 90.0]})  # leverage 100 / 10 = 10
        >>> funds = sc.add_funds(dl.Funds.target(), pos)  # target: its own leverage, 10
        >>> down = dl.simulate(funds, shock=dl.Shock.instant(BONDS=-0.05))
        >>> round(down.funds["sold_notional"].item())  # 95 − 10·5: back to leverage 10
        45
        >>> up = dl.simulate(funds, shock=dl.Shock.instant(BONDS=0.05))
        >>> round(up.funds["bought_notional"].item())  # 10·15 − 105
        45
        """
        return cls("target", leverage=leverage, accounting=accounting,
                   illiquid=dict(illiquid or {}), name=name)  # fmt: skip

    @classmethod
    def threshold(
        cls,
        lambda_max: float,
        lambda_b: float | None = None,
        *,
        illiquid: Mapping[str, float] | None = None,
        name: str = "funds",
    ) -> Funds:
        """Sell only when leverage exceeds ``lambda_max`` (strictly), down to ``lambda_b``
        (default ``0.95·lambda_max``, the Cont–Schaanning replication default); never buy.

        Examples
        --------
        >>> import polars as pl
        >>> import deleverage as dl
        >>> deep = dl.ImpactCurve.exponential(1.0, 0.4, 1e6, alpha=0.5)  # little impact
        >>> sc = dl.Scenario(assets=[dl.Asset("BONDS", 1.0, venues=[deep])], steps=2)
        >>> pos = pl.DataFrame({"account": ["f", "f"], "holding": ["BONDS", "debt"],
        ...                     "amount": [100.0, 90.0]})  # leverage 100 / 10 = 10
        >>> banks = dl.Funds.threshold(15.0)
        >>> banks.lambda_max, banks.lambda_b
        (15.0, 14.25)
        >>> down = dl.simulate(sc.add_funds(banks, pos), shock=dl.Shock.instant(BONDS=-0.05))
        >>> round(down.funds["sold_notional"].item(), 2)  # leverage 95/5 = 19: 95 − 14.25·5
        23.75
        >>> up = dl.simulate(sc.add_funds(banks, pos), shock=dl.Shock.instant(BONDS=0.05))
        >>> up.funds["bought_notional"].item()  # leverage 105/15 = 7: no trade
        0.0
        """
        lm = finite(f"{name}: lambda_max", lambda_max, low=1.0)
        lb = 0.95 * lm if lambda_b is None else lambda_b
        return cls("threshold", lambda_max=lm, lambda_b=lb,
                   illiquid=dict(illiquid or {}), name=name)  # fmt: skip

    @property
    def assets(self) -> list[str]:
        """Scenario assets it needs: none beyond those its positions name.

        Examples
        --------
        >>> import deleverage as dl
        >>> dl.Funds.threshold(25.0, illiquid={"loans": 0.1}).assets  # illiquid classes too
        []
        """
        return []

    def _check_positions(self, positions: pl.DataFrame) -> pl.DataFrame:
        df = positions_frame(positions, self.name, FUND_COLUMNS)
        numbers(df, "amount", self.name, ">= 0", lambda v: v >= 0)
        return df.with_columns(pl.col("holding").cast(pl.String), pl.col("amount").cast(pl.Float64))

    def _holdings(self, asset_names: list[str], positions: pl.DataFrame) -> None:
        known = set(asset_names) | set(self.illiquid) | {"debt"}
        bad = positions.filter(~pl.col("holding").is_in(sorted(known)))
        if bad.height:
            row = bad.row(0, named=True)
            raise ScenarioError(
                f"{self.name}: positions.holding {row['holding']!r} (account "
                f"{row['account']!r}) is neither a scenario asset {asset_names}, an illiquid "
                f"class {sorted(self.illiquid)} nor 'debt'"
            )

    def _spec(
        self, asset_names: list[str], positions: pl.DataFrame, account_ids: np.ndarray
    ) -> dict[str, Any]:
        self._holdings(asset_names, positions)
        first = int(account_ids.min()) if len(account_ids) else 0
        local = np.asarray(account_ids, dtype=np.int64) - first
        n = int(local.max()) + 1 if len(local) else 0
        classes = list(self.illiquid)
        units = np.zeros((n, len(asset_names)))
        illiquid = np.zeros((n, len(classes)))
        debt = np.zeros(n)
        amount = positions["amount"].to_numpy()
        for j, h in enumerate(positions["holding"].to_list()):
            i = local[j]
            if h == "debt":
                debt[i] += amount[j]
            elif h in self.illiquid:
                illiquid[i, classes.index(h)] += amount[j]
            else:
                units[i, asset_names.index(h)] += amount[j]
        rule: dict[str, Any] = (
            {"kind": "target", "leverage": self.leverage}
            if self.rule == "target"
            else {"kind": "threshold", "lambda_max": self.lambda_max, "lambda_b": self.lambda_b}
        )
        return {
            "kind": "funds",
            "name": self.name,
            "units": units.ravel(),
            "n_assets": len(asset_names),
            "illiquid": illiquid.ravel(),
            "illiquid_shock": np.array([self.illiquid[c] for c in classes], dtype=np.float64),
            "debt": debt,
            "rule": rule,
            "accounting": self.accounting,
            "first_account": first,
        }

    @classmethod
    def _from_toml(cls, v: Any, place: Place) -> tuple[Funds, Any]:
        """A ``[[funds]]`` table of a scenario file: the group, and the side file of its
        positions."""
        t = table(
            v,
            place,
            {
                "name",
                "rule",
                "leverage",
                "lambda_max",
                "lambda_b",
                "accounting",
                "illiquid",
                "positions",
            },
        )
        illiquid = named_table(t, "illiquid", place)
        shocks = {k: get_num(illiquid, k, place / "illiquid") for k in illiquid}
        funds = wrap(
            place,
            lambda: cls(
                get_str(t, "rule", place),  # type: ignore[arg-type]
                leverage=get_opt_num(t, "leverage", place),
                lambda_max=get_opt_num(t, "lambda_max", place),
                lambda_b=get_opt_num(t, "lambda_b", place),
                accounting=get_str(t, "accounting", place, "mark_to_market"),  # type: ignore[arg-type]
                illiquid=shocks,
                name=get_str(t, "name", place, "funds"),
            ),
        )
        if "positions" not in t:
            raise (place / "positions").error("missing; a side file or { file = …, format = … }")
        return funds, t["positions"]

    def _to_toml(self, positions_file: str) -> dict[str, Any]:
        """Its ``[[funds]]`` table, naming the side file of its positions."""
        t: dict[str, Any] = {"name": self.name, "rule": self.rule, "accounting": self.accounting}
        for key in ("leverage", "lambda_max", "lambda_b"):
            if getattr(self, key) is not None:
                t[key] = getattr(self, key)
        if self.illiquid:
            t["illiquid"] = dict(self.illiquid)
        return t | {"positions": positions_file}
