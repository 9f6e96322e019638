"""The engine's spec of a scenario: what crosses into ``deleverage._core`` (every family's dict
in the order they act, lending first; the labels of the account ids), and the relabelling of the
core's errors with the user's names.
"""

from __future__ import annotations

import weakref
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from deleverage import _core
from deleverage.exceptions import DeleverageError, ScenarioError
from deleverage.lending import lending_spec
from deleverage.scenario import Scenario
from deleverage.shock import Shock

_FamiliesSpec = tuple[list[dict[str, Any]], pl.DataFrame, int]

# The families' spec of each live scenario, built once: a scenario is immutable (its frames too),
# and the core only reads the spec, so every run of one scenario (a search over shocks, the moves
# of a liquidation map, a user's loop) shares it. Keyed by identity, dropped with the scenario.
_SPECS: dict[int, tuple[weakref.ref[Scenario], tuple[Any, ...], _FamiliesSpec]] = {}


def _reserves_of(sc: Scenario) -> tuple[Any, ...]:
    """The lending protocols' reserves as they are now (a protocol's ``reserves`` is a plain
    mapping a caller could still change: a changed one builds the spec again)."""
    return tuple(tuple(sorted(b.protocol.reserves.items())) for b in sc.lending)


def _families_spec(sc: Scenario) -> _FamiliesSpec:
    """:func:`_build_families_spec` of ``sc``, built on its first run only (scenarios and their
    position frames are immutable: a frame changed in place after it was added is not seen)."""
    key = id(sc)
    hit = _SPECS.get(key)
    reserves = _reserves_of(sc)
    if hit is not None and hit[0]() is sc and hit[1] == reserves:
        return hit[2]
    out = _build_families_spec(sc)
    ref = weakref.ref(sc, lambda _, key=key: _SPECS.pop(key, None))  # type: ignore[misc]
    _SPECS[key] = (ref, reserves, out)
    return out


def _build_families_spec(sc: Scenario) -> _FamiliesSpec:
    """Every family's spec in the order they act, lending first (its accounts take the ids
    ``0..n``; the other families' accounts the ids after them), the labels of every account id,
    and how many of them are lending accounts."""
    lending, lending_labels = lending_spec(
        [b.protocol for b in sc.lending], [b.positions for b in sc.lending], sc.asset_names
    )
    families: list[dict[str, Any]] = [lending]
    labels = [lending_labels]
    next_id = lending_labels.height
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
    labels = [f for f in labels if f.height] or labels[:1]
    dtypes = {f.schema["account"] for f in labels}
    if len(dtypes) > 1:
        labels = [f.with_columns(pl.col("account").cast(pl.String)) for f in labels]
    label_frame = (
        pl.concat(labels)
        .select("account", "protocol")
        .with_row_index("account_id")
        .with_columns(pl.col("account_id").cast(pl.UInt32))
    )
    return families, label_frame, lending_labels.height


def _named(e: DeleverageError, protocol_names: list[str], labels: pl.DataFrame) -> DeleverageError:
    """The engine's error relabelled from its attributes: a fund named by its group and account
    instead of the engine's protocol id and row."""
    if e.protocol is None or e.index is None or e.field is None:
        return e
    group = protocol_names[e.protocol]
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
    families, labels, n_lending = _families_spec(scenario)
    spec: _core._ScenarioSpec = {
        "assets": [
            {
                "name": a.name,
                "price": float(a.price),
                "venues": list(a.venues),
                "oracle": cast("_core._OracleSpec", a.oracle._spec()),
                "peg": None
                if a.peg is None
                else cast("_core._PegSpec", a.peg._spec(scenario.asset_names, a.name)),
            }
            for a in scenario.assets
        ],
        "families": families,
        "queue": cast("_core._QueueSpec", scenario.liquidators._spec()),
        "shock": cast("_core._ShockSpec", shock._spec(scenario.assets)),
        "steps": shock.steps(int(scenario.steps)),
        "step_seconds": float(scenario.step_seconds),
        "seed": int(seed),
        "max_extra_steps": int(max_extra_steps),
    }
    if scenario.replay:
        spec["replay"] = [b._spec() for b in scenario.replay]
    if scenario.outages:
        spec["outages"] = [o._spec(scenario.asset_names) for o in scenario.outages]
    reads_peg = _reads_peg(scenario)
    if reads_peg:
        spec["reads_peg"] = reads_peg
    if scenario.owners:
        spec["owners"] = [o._spec() for _, o in scenario.owners]
        spec["owner_of"] = _owner_of(scenario, labels)
    return spec, labels, n_lending


def _owner_of(sc: Scenario, labels: pl.DataFrame) -> npt.NDArray[np.uint32]:
    """Per account id: the index of its owner's policy in ``sc.owners``, or 2³² − 1."""
    from deleverage.owners import _owners

    names = pl.Series("owner", [n for n, _ in sc.owners], dtype=pl.String)
    owned = _owners(sc)
    # Vectorised: a scenario can hold 10^5 owned accounts and 10^4 owners with a policy.
    unknown = names.filter(~names.is_in(owned["owner"].unique().implode()))
    if unknown.len():
        raise ScenarioError(
            f"owners: {sorted(unknown.to_list())[0]!r} owns no account (no positions frame "
            "names it in its owner column)"
        )
    index = pl.DataFrame({"owner": names, "index": np.arange(names.len(), dtype=np.uint32)})
    # The policy index of each owned account, then of each engine account id.
    policy = owned.join(index, on="owner", how="inner").select("account", "protocol", "index")
    out = (
        labels.select(pl.col("account").cast(pl.String), "protocol")
        .join(policy, on=["account", "protocol"], how="left", maintain_order="left")
        .select(pl.col("index").fill_null(np.iinfo(np.uint32).max))
    )
    return out["index"].to_numpy().astype(np.uint32)


def _reads_peg(sc: Scenario) -> list[list[int]]:
    """Per family in the engine's order (the lending family, then the others): the pegged
    assets its oracle reads at the peg; empty when no protocol does."""
    pegged = [(k, a) for k, a in enumerate(sc.assets) if a.peg and a.peg.read_at_peg_by]
    if not pegged:
        return []
    lending = [b.protocol.name for b in sc.lending]
    others = [f.protocol.name for f in sc.families]
    out: list[list[int]] = [[] for _ in range(1 + len(others))]
    for k, a in pegged:
        assert a.peg is not None
        names = set(a.peg.read_at_peg_by)
        unknown = sorted(names - set(lending) - set(others))
        if unknown:
            raise ScenarioError(
                f"{a.name}.peg.read_at_peg_by: {unknown[0]!r} is not a protocol of the "
                f"scenario {[*lending, *others]}"
            )
        at_peg = [n for n in lending if n in names]
        if at_peg and len(at_peg) != len(lending):
            raise ScenarioError(
                f"{a.name}.peg.read_at_peg_by names the lending protocols {at_peg} but not "
                f"{[n for n in lending if n not in names]}: the lending protocols of a scenario "
                "share one margin engine and read a pegged asset alike"
            )
        if at_peg:
            out[0].append(k)
        for j, n in enumerate(others):
            if n in names:
                out[1 + j].append(k)
    return out
