"""Scenario files: a scenario, its shock and its run settings in TOML.

Positions and explicit order-book levels live in side files (Parquet or CSV) named relative to the
TOML file; positions can also be generated from a seeded description. Unknown keys and wrong types
are errors that name the key, its place in the file and the expected form.

This module reads and writes the file, its ``[run]``, ``[liquidators]``, ``[shock]`` and
``[[assets]]`` (with their venues and oracles) tables and the side files; each family reads and
writes its own tables (``[[protocols]]``: :mod:`deleverage.lending`; ``[[perps]]``,
``[[vaults]]``, ``[[funds]]``: :mod:`deleverage.perps`, :mod:`deleverage.vaults`,
:mod:`deleverage.funds`).

Examples
--------
>>> import tempfile, pathlib
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=50, seed=1, steps=10)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "eth.toml"
>>> sc.to_toml(path)
>>> dl.Scenario.from_toml(path).n_accounts
50
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl
import tomli_w

from deleverage._checks import (
    Place,
    get_int,
    get_num,
    get_num_list,
    get_opt_num,
    get_str,
    read_frame,
    table,
    wrap,
)
from deleverage._core import (
    ConcentratedPool,
    ConstantProductPool,
    ImpactCurve,
    OrderBook,
    StableSwapPool,
    Venue,
)
from deleverage.exceptions import ScenarioError
from deleverage.funds import Funds
from deleverage.io._files import _positions_from_toml
from deleverage.lending import Lending
from deleverage.market import Asset, Channel, Oracle, Peg, quote_prices
from deleverage.outages import Outage
from deleverage.owners import Owner
from deleverage.perps import PerpExchange
from deleverage.scenario import Liquidators, Scenario
from deleverage.shock import Per, Shock, _periods
from deleverage.vaults import Vaults

__all__ = ["load", "save"]

#: The scenario-file key of each family besides lending, and its class: each reads
#: (``_from_toml``) and writes (``_to_toml``) its own table.
_FAMILY_TABLES: dict[str, type[PerpExchange] | type[Vaults] | type[Funds]] = {
    "perps": PerpExchange,
    "vaults": Vaults,
    "funds": Funds,
}


_VENUE_KINDS = {
    "book": {"file", "format", "reference", "resilience_half_life", "permanent_impact"},
    "book_linear": {
        "mid",
        "tick",
        "levels",
        "depth_per_level",
        "resilience_half_life",
        "permanent_impact",
    },
    "book_sqrt": {
        "mid",
        "tick",
        "levels",
        "sigma",
        "volume",
        "y",
        "resilience_half_life",
        "permanent_impact",
    },
    "book_exponential": {
        "mid",
        "tick",
        "levels",
        "total_depth",
        "scale",
        "resilience_half_life",
        "permanent_impact",
    },
    "pool": {"base_reserve", "quote_reserve", "fee"},
    "stableswap": {"balances", "amplification", "fee", "admin_fee"},
    "concentrated": {
        "ticks",
        "liquidity_net",
        "file",
        "sqrt_price_x96",
        "tick",
        "liquidity",
        "fee",
        "decimals0",
        "decimals1",
        "base_is_token0",
    },
    "curve_linear": {"price", "slope", "alpha"},
    "curve_exponential": {"price", "floor", "depth", "alpha"},
    "curve_sqrt": {"price", "sigma", "volume", "y", "alpha"},
}


def _oracle(v: Any, place: Place) -> Oracle:
    t = table(v, place, {"kind", "deviation", "heartbeat", "window", "delay", "weight"})
    kind = get_str(t, "kind", place)
    if kind == "spot":
        return Oracle.spot()
    if kind == "reference":
        return Oracle.reference()
    if kind == "push":
        return Oracle.push(get_num(t, "deviation", place), get_num(t, "heartbeat", place))
    if kind == "twap":
        return Oracle.twap(get_num(t, "window", place))
    if kind == "delayed":
        return Oracle.delayed(get_num(t, "delay", place))
    if kind == "blend":
        return Oracle.blend(get_num(t, "weight", place))
    raise (place / "kind").error(
        f"expected one of spot, push, twap, delayed, reference, blend, got {kind!r}"
    )


def _peg(v: Any, place: Place) -> Peg:
    t = table(v, place, {"to", "redeem", "mint", "read_at_peg_by"})

    def channel(key: str) -> Channel | None:
        if key not in t:
            return None
        c = table(t[key], place / key, {"capacity", "delay", "fee"})
        cp = place / key
        return Channel(
            get_num(c, "capacity", cp), get_int(c, "delay", cp, 0), get_num(c, "fee", cp, 0.0)
        )

    by = t.get("read_at_peg_by", [])
    if not isinstance(by, list) or not all(isinstance(n, str) for n in by):
        raise (place / "read_at_peg_by").error("expected an array of protocol names")
    to = get_str(t, "to", place) if "to" in t else None
    return Peg(to, redeem=channel("redeem"), mint=channel("mint"), read_at_peg_by=tuple(by))


def _peg_table(p: Peg) -> dict[str, Any]:
    t: dict[str, Any] = {}
    if p.to is not None:
        t["to"] = p.to
    for key in ("redeem", "mint"):
        c = getattr(p, key)
        if c is not None:
            t[key] = {"capacity": c.capacity, "delay": c.delay, "fee": c.fee}
    if p.read_at_peg_by:
        t["read_at_peg_by"] = list(p.read_at_peg_by)
    return t


def _big_int(v: Any, place: Place) -> int | str:
    """A whole number of a Uniswap v3 pool's state: a TOML integer, or a string of digits for
    one beyond TOML's 64 bits (the pool checks it)."""
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise place.error(
            f"expected an integer or a string of digits, got {type(v).__name__} {v!r}"
        )
    return v


def _concentrated(t: Mapping[str, Any], place: Place, base: Path) -> ConcentratedPool:
    """A ``kind = "concentrated"`` venue: its ticks inline (``ticks``, ``liquidity_net``) or in
    a side file (``file``: columns ``tick`` or ``tickIdx``, ``liquidityNet`` or
    ``liquidity_net``)."""
    if "file" in t:
        if "ticks" in t or "liquidity_net" in t:
            raise (place / "file").error("give either file or ticks and liquidity_net, not both")
        frame = read_frame(base / get_str(t, "file", place), place / "file")
        tick_col = next((c for c in ("tick", "tickIdx") if c in frame.columns), None)
        net_col = next((c for c in ("liquidityNet", "liquidity_net") if c in frame.columns), None)
        if tick_col is None or net_col is None:
            raise (place / "file").error(
                "ticks file lacks its columns; expected tick (or tickIdx) and liquidityNet "
                "(or liquidity_net)"
            )
        ticks: list[Any] = frame[tick_col].to_list()
        nets: list[Any] = frame[net_col].to_list()
    else:
        for key in ("ticks", "liquidity_net"):
            if not isinstance(t.get(key), list):
                raise (place / key).error("missing; expected an array of integers (or a file)")
        ticks = [_big_int(x, place / "ticks" / i) for i, x in enumerate(t["ticks"])]
        nets = [_big_int(x, place / "liquidity_net" / i) for i, x in enumerate(t["liquidity_net"])]
    if "sqrt_price_x96" not in t:
        raise (place / "sqrt_price_x96").error("missing; expected a number or a string of digits")
    sqrt = t["sqrt_price_x96"]
    if isinstance(sqrt, bool) or not isinstance(sqrt, int | float | str):
        raise (place / "sqrt_price_x96").error(
            f"expected a number or a string of digits, got {type(sqrt).__name__} {sqrt!r}"
        )
    if "liquidity" not in t:
        raise (place / "liquidity").error("missing; expected an integer or a string of digits")
    flag = t.get("base_is_token0", True)
    if not isinstance(flag, bool):
        raise (place / "base_is_token0").error(
            f"expected true or false, got {type(flag).__name__} {flag!r}"
        )
    return ConcentratedPool(
        ticks,
        nets,
        sqrt_price_x96=sqrt,
        liquidity=_big_int(t["liquidity"], place / "liquidity"),
        tick=get_int(t, "tick", place) if "tick" in t else None,
        fee=get_num(t, "fee", place, 0.003),
        decimals0=get_int(t, "decimals0", place, 18),
        decimals1=get_int(t, "decimals1", place, 18),
        base_is_token0=flag,
    )


def _venue(v: Any, place: Place, base: Path) -> Venue:
    if not isinstance(v, dict) or "kind" not in v:
        raise place.error("expected a table with a 'kind'")
    kind = get_str(v, "kind", place)
    if kind not in _VENUE_KINDS:
        raise (place / "kind").error(f"expected one of {sorted(_VENUE_KINDS)}, got {kind!r}")
    t = table(v, place, _VENUE_KINDS[kind] | {"kind"})
    dyn: dict[str, Any] = {
        "resilience_half_life": get_opt_num(t, "resilience_half_life", place),
        "permanent_impact": get_num(t, "permanent_impact", place, 0.0),
    }
    try:
        if kind == "book":
            from deleverage.io._files import _levels_from_toml

            fmt = get_str(t, "format", place, "levels")
            levels = _levels_from_toml(base / get_str(t, "file", place), fmt, place)
            missing = {"side", "price", "qty"} - set(levels.columns)
            if missing:
                raise (place / "file").error(
                    f"levels file lacks column(s) {sorted(missing)}; expected side, price, qty"
                )
            bids = levels.filter(pl.col("side") == "bid")
            asks = levels.filter(pl.col("side") == "ask")
            return OrderBook.from_levels(
                bids["price"].to_numpy(),
                bids["qty"].to_numpy(),
                asks["price"].to_numpy(),
                asks["qty"].to_numpy(),
                reference=get_opt_num(t, "reference", place),
                **dyn,
            )
        grid = (
            get_num(t, "mid", place) if kind.startswith("book_") else 0.0,
            get_num(t, "tick", place) if kind.startswith("book_") else 0.0,
            get_int(t, "levels", place) if kind.startswith("book_") else 0,
        )
        if kind == "book_linear":
            return OrderBook.linear(*grid, get_num(t, "depth_per_level", place), **dyn)
        if kind == "book_sqrt":
            return OrderBook.sqrt(
                *grid,
                get_num(t, "sigma", place),
                get_num(t, "volume", place),
                get_num(t, "y", place, 1.0),
                **dyn,
            )
        if kind == "book_exponential":
            return OrderBook.exponential(
                *grid, get_num(t, "total_depth", place), get_num(t, "scale", place), **dyn
            )
        if kind == "pool":
            return ConstantProductPool(
                get_num(t, "base_reserve", place),
                get_num(t, "quote_reserve", place),
                get_num(t, "fee", place, 0.003),
            )
        if kind == "concentrated":
            return _concentrated(t, place, base)
        if kind == "stableswap":
            return StableSwapPool(
                get_num_list(t, "balances", place),
                get_num(t, "amplification", place),
                get_num(t, "fee", place, 0.0004),
                get_num(t, "admin_fee", place, 0.5),
            )
        alpha = get_opt_num(t, "alpha", place)
        price = get_num(t, "price", place)
        if kind == "curve_linear":
            return ImpactCurve.linear(price, get_num(t, "slope", place), alpha=alpha)
        if kind == "curve_exponential":
            return ImpactCurve.exponential(
                price, get_num(t, "floor", place), get_num(t, "depth", place), alpha=alpha
            )
        return ImpactCurve.sqrt(
            price,
            get_num(t, "sigma", place),
            get_num(t, "volume", place),
            get_num(t, "y", place, 1.0),
            alpha=alpha,
        )
    except ScenarioError as e:
        if str(e).startswith(place.file):
            raise
        raise place.error(str(e)) from None


def _shock(v: Any, place: Place, base: Path) -> Shock:
    if not isinstance(v, dict) or "kind" not in v:
        raise place.error("expected a table with a 'kind'")
    kind = get_str(v, "kind", place)
    allowed = {
        "instant": {"kind", "returns"},
        "path": {"kind", "prices", "file"},
        "gbm": {"kind", "per", "sigma", "mu", "corr"},
        "jump_diffusion": {
            "kind",
            "per",
            "sigma",
            "mu",
            "corr",
            "jump_intensity",
            "jump_mean",
            "jump_std",
        },
    }
    if kind not in allowed:
        raise (place / "kind").error(f"expected one of {sorted(allowed)}, got {kind!r}")
    t = table(v, place, allowed[kind])

    def per_asset(key: str) -> dict[str, float]:
        m = table(t.get(key, {}), place / key, set(t.get(key, {})))
        return {a: get_num(m, a, place / key) for a in m}

    if kind == "instant":
        return Shock.instant(per_asset("returns"))
    if kind == "path":
        if "file" in t:
            frame = read_frame(base / get_str(t, "file", place), place / "file")
            columns = {c: frame[c] for c in frame.columns}
            path: Shock = wrap(place / "file", lambda: Shock.path(columns))
            return path
        if "prices" not in t:
            raise (place / "prices").error("missing; expected a table of price arrays by asset")
        prices = table(t["prices"], place / "prices", set(t["prices"]))
        levels: Shock = wrap(place / "prices", lambda: Shock.path(prices))
        return levels
    corr = np.asarray(t["corr"], dtype=np.float64) if "corr" in t else None
    if "per" not in t:
        raise (place / "per").error(
            "missing; expected 'year', 'day' or 'hour', the period sigma, mu and jump_intensity "
            "are given per"
        )
    got = get_str(t, "per", place)
    wrap(place / "per", lambda: _periods(got))  # the shock's own check of the period
    per = cast("Per", got)
    if kind == "gbm":
        return Shock.gbm(per_asset("sigma"), mu=per_asset("mu"), corr=corr, per=per)
    return Shock.jump_diffusion(
        per_asset("sigma"),
        mu=per_asset("mu"),
        corr=corr,
        jump_intensity=per_asset("jump_intensity"),
        jump_mean=per_asset("jump_mean"),
        jump_std=per_asset("jump_std"),
        per=per,
    )


def read(path: str | Path) -> dict[str, Any]:
    """The parsed TOML document of a scenario file (errors name the file)."""
    path = Path(path)
    if path.is_dir():
        raise ScenarioError(f"{str(path)!r} is a folder; give the scenario file's path")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as e:
        raise ScenarioError(
            f"{path.name}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); "
            "a scenario file is TOML, which is UTF-8"
        ) from None
    except OSError as e:
        raise ScenarioError(f"{path.name}: cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path.name}: not valid TOML: {e}") from None


def load(path: str | Path) -> Scenario:
    """Reads a scenario file (see the module docstring)."""
    path = Path(path)
    return load_document(read(path), path)


#: The tables a file may leave out, and their keys, each with a default: a grid may vary them
#: all the same.
_OPTIONAL: dict[str, set[str]] = {
    "run": {"step_seconds", "steps", "seed"},
    "liquidators": {
        "priority",
        "mode",
        "budget_notional",
        "budget_count",
        "sell_fraction",
        "max_rounds_per_step",
        "keeper_margin",
    },
}


def with_value(doc: Mapping[str, Any], key: str, value: Any, file: str) -> dict[str, Any]:
    """A copy of ``doc`` with the dotted ``key`` (``liquidators.budget_notional``,
    ``protocols.0.reserves.ETH.liquidation_bonus``: array items by index or by their ``name``,
    ``protocols.aave_v3.reserves.ETH.liquidation_bonus``) set to ``value``. The key must
    exist, or be one of the ``[run]`` and ``[liquidators]`` keys a file may leave out."""
    import copy

    out = copy.deepcopy(dict(doc))
    node: Any = out
    parts = key.split(".")
    place = Place(file)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            names = [t.get("name") for t in node if isinstance(t, dict)]
            if not part.isdigit() and part in names:
                # A protocol (or exchange, system, group) by its name.
                part = str(names.index(part))
            if not part.isdigit() or int(part) >= len(node):
                named = [n for n in names if n is not None]
                raise place.error(
                    f"{part!r} is not an index of the array (length {len(node)})"
                    + (f" nor one of its names {named}" if named else "")
                )
            place, part_key = place / int(part), int(part)
        elif isinstance(node, dict):
            optional = _OPTIONAL.get(parts[0], set()) if i == 1 else set()
            if i == 0 and part in _OPTIONAL and part not in node:
                node[part] = {}  # a table left out, all defaults
            elif part not in node and (part not in optional or not last):
                valid = sorted(set(node) | optional | (set(_OPTIONAL) if i == 0 else set()))
                raise (place / part).error(f"no such key to vary; it has {valid}")
            place, part_key = place / part, part  # type: ignore[assignment]
        else:
            raise place.error(f"is a value, not a table: cannot reach {key!r}")
        if last:
            node[part_key] = value
        else:
            node = node[part_key]
    return out


def load_document(doc: Mapping[str, Any], path: str | Path) -> Scenario:
    """Builds the scenario of a parsed scenario file; side files are relative to ``path``."""
    path = Path(path)
    place = Place(path.name)
    base = path.parent
    top = table(
        doc,
        place,
        {
            "run",
            "liquidators",
            "shock",
            "assets",
            "protocols",
            "perps",
            "vaults",
            "funds",
            "outages",
            "owners",
        },
    )
    run = table(top.get("run", {}), place / "run", _OPTIONAL["run"])
    liq = table(top.get("liquidators", {}), place / "liquidators", _OPTIONAL["liquidators"])
    lp = place / "liquidators"
    liquidators = wrap(lp, lambda: Liquidators(
        priority=get_str(liq, "priority", lp, "worst_health"),  # type: ignore[arg-type]
        mode=get_str(liq, "mode", lp, "sequential"),  # type: ignore[arg-type]
        budget_notional=get_num(liq, "budget_notional", lp, math.inf),
        budget_count=get_int(liq, "budget_count", lp) if "budget_count" in liq else None,
        sell_fraction=get_num(liq, "sell_fraction", lp, 1.0),
        max_rounds_per_step=get_int(liq, "max_rounds_per_step", lp, 64),
        keeper_margin=get_num(liq, "keeper_margin", lp, 0.0),
    ))  # fmt: skip
    raw_assets = top.get("assets")
    if not isinstance(raw_assets, list) or not raw_assets:
        raise (place / "assets").error("expected a non-empty array of tables [[assets]]")
    assets = []
    for i, a in enumerate(raw_assets):
        ap = place / "assets" / i
        t = table(a, ap, {"name", "price", "oracle", "venues", "peg"})
        venues = t.get("venues", [])
        if not isinstance(venues, list):
            raise (ap / "venues").error("expected an array of tables [[assets.venues]]")
        try:
            assets.append(
                Asset(
                    get_str(t, "name", ap),
                    get_num(t, "price", ap),
                    [_venue(v, ap / "venues" / k, base) for k, v in enumerate(venues)],
                    _oracle(t["oracle"], ap / "oracle") if "oracle" in t else Oracle.spot(),
                    _peg(t["peg"], ap / "peg") if "peg" in t else None,
                )
            )
        except ScenarioError as e:
            if str(e).startswith(place.file):
                raise
            raise ap.error(str(e)) from None
    shock = _shock(top["shock"], place / "shock", base) if "shock" in top else None
    sc: Scenario = wrap(place / "run", lambda: Scenario(
        assets=assets,
        step_seconds=get_num(run, "step_seconds", place / "run", 12.0),
        steps=get_int(run, "steps", place / "run", 300),
        liquidators=liquidators,
        seed=get_int(run, "seed", place / "run", 0),
    ))  # fmt: skip
    if shock is not None:
        unknown = sorted(
            {
                *shock.returns,
                *shock.prices,
                *shock.sigma,
                *shock.mu,
                *shock.jump_intensity,
                *shock.jump_mean,
                *shock.jump_std,
            }
            - set(sc.asset_names)
        )
        if unknown:
            raise (place / "shock").error(
                f"names unknown asset {unknown[0]!r}; assets are {sc.asset_names}"
            )
        sc = replace(sc, shock=shock)
    # In quote, for generated positions' health factors.
    start = quote_prices(assets, [a.price for a in assets])
    prices = {a.name: float(p) for a, p in zip(assets, start, strict=True)}
    raw_protocols = top.get("protocols", [])
    if not isinstance(raw_protocols, list):
        raise (place / "protocols").error("expected an array of tables [[protocols]]")
    for i, p in enumerate(raw_protocols):
        pp = place / "protocols" / i
        lending, positions = wrap(pp, lambda: Lending._from_toml(p, pp, base, prices))  # noqa: B023
        sc = wrap(pp, lambda: sc.add(lending, positions))  # noqa: B023
    for key, family_class in _FAMILY_TABLES.items():
        entries = top.get(key, [])
        if not isinstance(entries, list):
            raise (place / key).error(f"expected an array of tables [[{key}]]")
        for i, t in enumerate(entries):
            fp = place / key / i
            family, file = wrap(fp, lambda: family_class._from_toml(t, fp))  # noqa: B023
            positions = _positions_from_toml(file, fp / "positions", base, key)
            sc = wrap(fp, lambda: sc.add(family, positions))  # noqa: B023
    raw_outages = top.get("outages", [])
    if not isinstance(raw_outages, list):
        raise (place / "outages").error("expected an array of tables [[outages]]")
    outages = [_outage(o, place / "outages" / i) for i, o in enumerate(raw_outages)]
    if outages:
        sc = sc.with_outages(*outages)
    raw_owners = top.get("owners", [])
    if not isinstance(raw_owners, list):
        raise (place / "owners").error("expected an array of tables [[owners]]")
    owners: dict[str, Owner] = {}
    for i, o in enumerate(raw_owners):
        op = place / "owners" / i
        t = table(o, op, {"name", "cash", "margin_buffer", "target_health"})
        name = get_str(t, "name", op)
        if name in owners:
            raise (op / "name").error(f"owner {name!r} is given twice")
        owners[name] = wrap(
            op,
            lambda: Owner(
                get_num(t, "cash", op, 0.0),  # noqa: B023
                get_opt_num(t, "margin_buffer", op),  # noqa: B023
                get_opt_num(t, "target_health", op),  # noqa: B023
            ),
        )
    if owners:
        sc = sc.with_owners(owners)
    return sc


def _outage(v: Any, place: Place) -> Outage:
    t = table(v, place, {"kind", "start", "end", "asset", "grace_steps", "venue"})
    kind = get_str(t, "kind", place)
    start, end = get_int(t, "start", place), get_int(t, "end", place)

    def build() -> Outage:
        if kind == "oracle_freeze":
            return Outage.oracle_freeze(get_str(t, "asset", place), start, end)
        if kind == "sequencer":
            return Outage.sequencer(start, end, get_int(t, "grace_steps", place, 0))
        if kind == "redemption_pause":
            return Outage.redemption_pause(get_str(t, "asset", place), start, end)
        if kind == "venue_halt":
            return Outage.venue_halt(
                get_str(t, "asset", place), start, end, get_int(t, "venue", place, 0)
            )
        # liquidators, or a kind Outage refuses by name
        return Outage(kind, start, end)  # type: ignore[arg-type]

    out: Outage = wrap(place, build)
    return out


def _venue_table(v: Venue, side_file: Path, base: Path) -> dict[str, Any]:
    if isinstance(v, ConcentratedPool):
        # TOML integers have 64 bits: a liquidity beyond them is written as a string of digits.
        def big(x: int) -> int | str:
            return x if -(2**63) <= x < 2**63 else str(x)

        return {
            "kind": "concentrated",
            "ticks": v.ticks,
            "liquidity_net": [big(x) for x in v.liquidity_net],
            "sqrt_price_x96": v.sqrt_price_x96,
            "tick": v.tick,
            "liquidity": big(v.liquidity),
            "fee": v.fee,
            "decimals0": v.decimals0,
            "decimals1": v.decimals1,
            "base_is_token0": v.base_is_token0,
        }
    if isinstance(v, StableSwapPool):
        return {
            "kind": "stableswap",
            "balances": v.balances,
            "amplification": v.amplification,
            "fee": v.fee,
            "admin_fee": v.admin_fee,
        }
    if isinstance(v, ConstantProductPool):
        return {
            "kind": "pool",
            "base_reserve": v.base_reserve,
            "quote_reserve": v.quote_reserve,
            "fee": v.fee,
        }
    if isinstance(v, ImpactCurve):
        t: dict[str, Any] = {"kind": f"curve_{v.kind}", "price": v.price, **v.parameters}
        if v.alpha is not None:
            t["alpha"] = v.alpha
        return t
    if isinstance(v, OrderBook):
        bp, bq = v.levels("bid")
        ap, aq = v.levels("ask")
        pl.DataFrame(
            {
                "side": ["bid"] * len(bp) + ["ask"] * len(ap),
                "price": np.concatenate([bp, ap]),
                "qty": np.concatenate([bq, aq]),
            }
        ).write_parquet(side_file)
        t = {
            "kind": "book",
            "file": side_file.name,
            "reference": v.anchor,
            "permanent_impact": v.permanent_impact,
        }
        if v.resilience_half_life is not None:
            t["resilience_half_life"] = v.resilience_half_life
        return t
    raise ScenarioError(f"cannot write a venue of type {type(v).__name__}")


def _shock_table(s: Shock, base: Path, stem: str) -> dict[str, Any]:
    if s.kind == "instant":
        return {"kind": "instant", "returns": dict(s.returns)}
    if s.kind == "levels":
        f = base / f"{stem}.path.parquet"
        pl.DataFrame({k: v for k, v in s.prices.items()}).write_parquet(f)
        return {"kind": "path", "file": f.name}
    t: dict[str, Any] = {
        "kind": "jump_diffusion",
        "per": "year",  # a Shock stores its rates per year
        "sigma": dict(s.sigma),
        "mu": dict(s.mu),
        "jump_intensity": dict(s.jump_intensity),
        "jump_mean": dict(s.jump_mean),
        "jump_std": dict(s.jump_std),
    }
    if s.corr is not None:
        t["corr"] = s.corr.tolist()
    return t


def save(sc: Scenario, path: str | Path) -> None:
    """Writes ``sc`` as a scenario file, with its positions and book levels as Parquet side files
    next to it (``<stem>.<protocol>.positions.parquet``, ``<stem>.<asset>.<k>.levels.parquet``)."""
    path = Path(path)
    if path.is_dir():
        raise ScenarioError(f"{str(path)!r} is a folder; give the scenario file's path")
    base, stem = path.parent, path.stem
    base.mkdir(parents=True, exist_ok=True)
    liq = sc.liquidators
    liq_t: dict[str, Any] = {
        "priority": liq.priority,
        "mode": liq.mode,
        "sell_fraction": liq.sell_fraction,
        "max_rounds_per_step": liq.max_rounds_per_step,
        "keeper_margin": liq.keeper_margin,
    }
    if math.isfinite(liq.budget_notional):
        liq_t["budget_notional"] = liq.budget_notional
    if liq.budget_count is not None:
        liq_t["budget_count"] = liq.budget_count
    doc: dict[str, Any] = {
        "run": {"step_seconds": float(sc.step_seconds), "steps": int(sc.steps), "seed": sc.seed},
        "liquidators": liq_t,
        "assets": [],
        "protocols": [],
    }
    if sc.shock is not None:
        doc["shock"] = _shock_table(sc.shock, base, stem)
    for a in sc.assets:
        oracle = {k: v for k, v in a.oracle._spec().items()}
        asset: dict[str, Any] = {
            "name": a.name,
            "price": float(a.price),
            "oracle": oracle,
            "venues": [
                _venue_table(v, base / f"{stem}.{a.name}.{k}.levels.parquet", base)
                for k, v in enumerate(a.venues)
            ],
        }
        if a.peg is not None:
            asset["peg"] = _peg_table(a.peg)
        doc["assets"].append(asset)
    for book in sc.lending:
        lp = book.protocol
        f = base / f"{stem}.{lp.name}.positions.parquet"
        book.positions.write_parquet(f)
        doc["protocols"].append(lp._to_toml(f.name))
    for fam in sc.families:
        f = base / f"{stem}.{fam.protocol.name}.positions.parquet"
        fam.positions.write_parquet(f)
        key = next(k for k, cls in _FAMILY_TABLES.items() if isinstance(fam.protocol, cls))
        doc.setdefault(key, []).append(fam.protocol._to_toml(f.name))
    for o in sc.outages:
        t: dict[str, Any] = {"kind": o.kind, "start": o.start, "end": o.end}
        if o.asset is not None:
            t["asset"] = o.asset
        if o.kind == "sequencer":
            t["grace_steps"] = o.grace_steps
        if o.kind == "venue_halt":
            t["venue"] = o.venue
        doc.setdefault("outages", []).append(t)
    for name, owner in sc.owners:
        ot: dict[str, Any] = {"name": name, "cash": owner.cash}
        if owner.margin_buffer is not None:
            ot["margin_buffer"] = owner.margin_buffer
        if owner.target_health is not None:
            ot["target_health"] = owner.target_health
        doc.setdefault("owners", []).append(ot)
    path.write_text(tomli_w.dumps(doc))
