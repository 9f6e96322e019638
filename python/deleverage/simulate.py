"""``simulate``: run a scenario through the Rust engine to quiet.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=500)
>>> res = dl.simulate(sc, shock=dl.Shock.instant(ETH=-0.25), seed=7)
>>> res.summary["bad_debt"].item() >= 0
True
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import polars as pl

from deleverage import _core
from deleverage.exceptions import DeleverageError, ScenarioError
from deleverage.result import Result, build_result
from deleverage.scenario import Scenario
from deleverage.shock import Shock

__all__ = ["simulate"]


def _unique(s: pl.Series) -> bool:
    """Whether every value of ``s`` is distinct; a strictly increasing integer column (the usual
    account numbering) is recognised without hashing."""
    if s.dtype.is_integer() and s.is_sorted():
        return bool((s.diff().drop_nulls() > 0).all())
    return bool(s.n_unique() == s.len())


def _accounts_spec(
    sc: Scenario,
) -> tuple[dict[str, Any], pl.DataFrame, list[dict[str, Any]]]:
    """Flattens every lending protocol's positions into CSR holdings (one row per account and
    asset), and gives the other families' accounts the ids after them. Returns the lending
    spec, the labels of every account id, and the families' specs."""
    protocol_ids: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    h_asset: list[np.ndarray] = []
    h_coll: list[np.ndarray] = []
    h_debt: list[np.ndarray] = []
    labels: list[pl.DataFrame] = []
    for p, book in enumerate(sc.lending):
        df = book.positions
        n = df.height
        # Asset names → ids: an Enum over the scenario's names has exactly those ids as codes.
        names = pl.Enum(sc.asset_names)
        coll_id = df["collateral_asset"].cast(names).to_physical().cast(pl.UInt32)
        debt_id = df["debt_asset"].cast(names).to_physical().cast(pl.UInt32)
        if _unique(df["account"]) and (coll_id != debt_id).all():
            # One row per account (the common case): two holdings each, built directly.
            ids = df.select("account").with_row_index("local")
            counts.append(np.full(n, 2, dtype=np.int64))
            h_asset.append(np.column_stack([coll_id.to_numpy(), debt_id.to_numpy()]).ravel())
            zeros = np.zeros(n)
            h_coll.append(np.column_stack([df["collateral"].to_numpy(), zeros]).ravel())
            h_debt.append(np.column_stack([zeros, df["debt"].to_numpy()]).ravel())
        else:
            # Several rows per account: sum per (account, asset).
            ids = df.select(pl.col("account").unique(maintain_order=True)).with_row_index("local")
            long = pl.concat(
                [
                    pl.DataFrame(
                        {
                            "account": df["account"],
                            "asset": coll_id,
                            "collateral": df["collateral"],
                            "debt": 0.0,
                        }
                    ),
                    pl.DataFrame(
                        {
                            "account": df["account"],
                            "asset": debt_id,
                            "collateral": 0.0,
                            "debt": df["debt"],
                        }
                    ),
                ]
            )
            long = (
                long.group_by("account", "asset")
                .agg(pl.col("collateral").sum(), pl.col("debt").sum())
                .filter((pl.col("collateral") > 0) | (pl.col("debt") > 0))
                .join(ids, on="account")
                .sort("local", "asset")
            )
            counts.append(np.bincount(long["local"].to_numpy(), minlength=ids.height))
            h_asset.append(long["asset"].to_numpy())
            h_coll.append(long["collateral"].to_numpy())
            h_debt.append(long["debt"].to_numpy())
        protocol_ids.append(np.full(ids.height, p, dtype=np.uint32))
        labels.append(ids.select("account", pl.lit(book.protocol.name).alias("protocol")))
    families = []
    next_id = sum(f.height for f in labels)
    for fam in sc.families:
        df = fam.positions
        ids = df.select(pl.col("account").unique(maintain_order=True)).with_row_index("local")
        local = (
            df.select("account")
            .join(ids, on="account", how="left", maintain_order="left")["local"]
            .to_numpy()
        )
        families.append(fam.protocol._spec(sc.asset_names, df, local + next_id))
        next_id += ids.height
        labels.append(ids.select("account", pl.lit(fam.protocol.name).alias("protocol")))
    if labels:
        dtypes = {f.schema["account"] for f in labels}
        if len(dtypes) > 1:
            labels = [f.with_columns(pl.col("account").cast(pl.String)) for f in labels]
        label_frame = pl.concat(labels)
    else:
        label_frame = pl.DataFrame(
            {"account": [], "protocol": []}, schema={"account": pl.String, "protocol": pl.String}
        )
    label_frame = label_frame.with_row_index("account_id").with_columns(
        pl.col("account_id").cast(pl.UInt32)
    )
    cnt = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(cnt) + 1, dtype=np.uint32)
    np.cumsum(cnt, out=offsets[1:])

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        if not parts:
            return np.zeros(0, dtype=dtype)
        return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)

    spec = {
        "protocol": cat(protocol_ids, np.uint32),
        "offsets": offsets,
        "asset": cat(h_asset, np.uint32),
        "collateral": cat(h_coll, np.float64),
        "debt": cat(h_debt, np.float64),
    }
    return spec, label_frame, families


def _protocol_spec(sc: Scenario) -> list[dict[str, Any]]:
    out = []
    for book in sc.lending:
        lp = book.protocol
        reserves = [lp.reserves.get(n) for n in sc.asset_names]
        out.append(
            {
                "kind": lp.kind,
                "name": lp.name,
                "version": lp.version,
                "close_factor": lp.close_factor,
                "liquidation_incentive": lp.liquidation_incentive,
                "protocol_seize_share": lp.protocol_seize_share,
                "base_asset": (0 if lp.base_asset is None else sc.asset_names.index(lp.base_asset)),
                "store_front_price_factor": lp.store_front_price_factor,
                "target_reserves": lp.target_reserves,
                "initial_reserves": lp.initial_reserves,
                # Assets a protocol does not list can still be borrowed from it.
                "listed": [True] * len(reserves),
                "threshold": np.array(
                    [0.0 if r is None else r.liquidation_threshold for r in reserves]
                ),
                "bonus": np.array([0.0 if r is None else r.liquidation_bonus for r in reserves]),
                "protocol_fee": np.array([0.0 if r is None else r.protocol_fee for r in reserves]),
                "liquidation_factor": np.array(
                    [0.0 if r is None else r.liquidation_factor for r in reserves]
                ),
            }
        )
    return out


def _named(e: DeleverageError, sc: Scenario, labels: pl.DataFrame) -> DeleverageError:
    """The engine's error relabelled from its attributes: a fund named by its group and account
    instead of the engine's protocol id and row."""
    if e.protocol is None or e.index is None or e.field is None:
        return e
    group = sc.protocol_names[e.protocol]
    accounts = labels.filter(pl.col("protocol") == group)["account"]
    account = str(accounts[e.index])
    # The core's message starts with its field; the rest is kept as it is.
    out = type(e)(f"{group}: fund {account!r}" + str(e)[len(e.field) :])
    out.field, out.value, out.protocol, out.index = e.field, e.value, e.protocol, e.index
    out.family, out.account = group, account
    return out


def build_spec(
    scenario: Scenario, shock: Shock | None, seed: int | None, max_extra_steps: int
) -> tuple[_core._ScenarioSpec, pl.DataFrame, int]:
    """The engine's spec for a run of ``scenario`` (its own shock and seed unless others are
    given), the labels of its account ids, and how many of them are lending accounts."""
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    # The scenario's own shock and seed (from a scenario file, say) unless others are given.
    shock = shock if shock is not None else scenario.shock or Shock.instant()
    seed = scenario.seed if seed is None else seed
    if not isinstance(shock, Shock):
        raise ScenarioError(f"shock must be a deleverage.Shock, got {type(shock).__name__}")
    if int(seed) != seed or seed < 0:
        raise ScenarioError(f"seed must be a whole number >= 0, got {seed}")
    if int(max_extra_steps) != max_extra_steps or max_extra_steps < 0:
        raise ScenarioError(f"max_extra_steps must be a whole number >= 0, got {max_extra_steps}")
    accounts, labels, families = _accounts_spec(scenario)
    spec: _core._ScenarioSpec = {
        "assets": [
            {
                "name": a.name,
                "price": float(a.price),
                "venues": list(a.venues),
                "oracle": cast("_core._OracleSpec", a.oracle._spec()),
            }
            for a in scenario.assets
        ],
        "protocols": _protocol_spec(scenario),
        "accounts": cast("_core._AccountsSpec", accounts),
        "families": families,
        "queue": cast("_core._QueueSpec", scenario.liquidators._spec()),
        "shock": cast("_core._ShockSpec", shock._spec(scenario.assets)),
        "steps": shock.steps(int(scenario.steps)),
        "step_seconds": float(scenario.step_seconds),
        "seed": int(seed),
        "max_extra_steps": int(max_extra_steps),
    }
    return spec, labels, int(accounts["protocol"].shape[0])


def simulate(
    scenario: Scenario,
    shock: Shock | None = None,
    *,
    seed: int | None = None,
    max_extra_steps: int = 10_000,
) -> Result:
    """Runs ``scenario`` under ``shock`` to quiet and returns the :class:`Result`.

    ``shock`` and ``seed`` default to the scenario's own (``Shock.instant()`` and 0 if it has
    none). The path has ``scenario.steps`` steps (or the length of a :meth:`Shock.path`);
    afterwards the last reference price is held until the market is quiet (no queued account
    and no liquidation for as long as the slowest oracle lags), at most ``max_extra_steps``
    more. The same inputs and seed give the same result. The GIL is released while the engine
    runs, and Ctrl-C stops it.

    Examples
    --------
    >>> import deleverage as dl
    >>> res = dl.simulate(dl.examples.eth_lending(n_accounts=300),
    ...                   shock=dl.Shock.instant(ETH=-0.3), seed=1)
    >>> res.accounts.height
    300
    """
    spec, labels, n_lending = build_spec(scenario, shock, seed, max_extra_steps)
    try:
        raw = _core.simulate(spec)
    except DeleverageError as e:
        raise _named(e, scenario, labels) from None
    return build_result(
        raw,
        scenario.asset_names,
        [float(a.price) for a in scenario.assets],
        scenario.protocol_names,
        labels,
        n_lending=n_lending,
        families=[f.protocol for f in scenario.families],
    )
