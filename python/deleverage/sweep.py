"""Sweeps: many seeded runs of one or several scenarios, one summary row per run.

The runs execute in the Rust core on a thread pool (``threads``, default one per core) with the
GIL released, or in chunks on any :class:`concurrent.futures.Executor` or a Ray cluster. Run ``i``
draws its path (and its random queue order) from a seed derived from ``(seed, i)`` alone, so the
rows do not depend on the number of threads, the chunking or the executor. Scenarios are compared
on the same seeds: run ``i`` of every scenario sees the same path. With ``out=`` the chunks are
written to Parquet as they finish, and an interrupted sweep resumes where it stopped.

Examples
--------
>>> import deleverage as dl
>>> sc = dl.examples.eth_lending(n_accounts=300, steps=100)
>>> shock = dl.Shock.jump_diffusion(sigma={"ETH": 2.0}, jump_intensity={"ETH": 500.0},
...                                 jump_mean={"ETH": -0.1}, per="year")
>>> runs = dl.sweep(sc, shock, runs=8, seed=1)
>>> runs.height, runs.columns[:4]
(8, ['scenario', 'run', 'seed', 'liquidations'])
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import pickle
import warnings
from collections.abc import Callable, Collection, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from deleverage import _core
from deleverage._checks import whole
from deleverage._spec import build_spec
from deleverage.exceptions import ScenarioError
from deleverage.market import quote_prices
from deleverage.perps import PerpExchange
from deleverage.result import amplification
from deleverage.scenario import Scenario
from deleverage.shock import Shock

__all__ = ["grid", "sweep"]

#: What :func:`sweep` can keep for chosen runs besides their summary row.
Keep = Literal["steps", "events"]


@overload
def sweep(
    scenarios: Scenario | Mapping[str, Scenario],
    shock: Shock | None = None,
    runs: int = 100,
    *,
    seed: int | None = None,
    threads: int | None = None,
    max_extra_steps: int = 10_000,
    chunk: int = 64,
    progress: bool = False,
    executor: cf.Executor | str | None = None,
    out: None = None,
    keep: Keep | Sequence[Keep] | None = None,
    keep_runs: pl.Expr | Collection[int] | None = None,
) -> pl.DataFrame: ...


@overload
def sweep(
    scenarios: Scenario | Mapping[str, Scenario],
    shock: Shock | None = None,
    runs: int = 100,
    *,
    seed: int | None = None,
    threads: int | None = None,
    max_extra_steps: int = 10_000,
    chunk: int = 64,
    progress: bool = False,
    executor: cf.Executor | str | None = None,
    out: str | os.PathLike[str],
    keep: Keep | Sequence[Keep] | None = None,
    keep_runs: pl.Expr | Collection[int] | None = None,
) -> pl.LazyFrame: ...


def sweep(
    scenarios: Scenario | Mapping[str, Scenario],
    shock: Shock | None = None,
    runs: int = 100,
    *,
    seed: int | None = None,
    threads: int | None = None,
    max_extra_steps: int = 10_000,
    chunk: int = 64,
    progress: bool = False,
    executor: cf.Executor | str | None = None,
    out: str | os.PathLike[str] | None = None,
    keep: Keep | Sequence[Keep] | None = None,
    keep_runs: pl.Expr | Collection[int] | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Runs each scenario ``runs`` times on seeded paths of ``shock`` and returns one row per
    (scenario, run).

    ``scenarios`` is one scenario or a mapping of labels to scenarios (a parameter grid: build
    the variants with :func:`grid`). ``shock`` and ``seed`` default to each scenario's own.
    Columns: ``scenario``, ``run``, ``seed``, ``liquidations``, ``liquidated_notional``,
    ``bad_debt``, ``insurance_fund_min``, ``steps_run``, ``quiet``, ``insurance_fund_start``
    (the two insurance columns null without perp exchanges), and per asset
    ``drawdown_<asset>`` (lowest mid), ``exogenous_drawdown_<asset>`` (lowest reference) and
    ``amplification_<asset>`` (their ratio, at least 1; null without an exogenous fall, and null
    for variants without the asset).

    The runs go in chunks of ``chunk``, each chunk in the Rust engine on ``threads`` threads
    (default: one per core in-process, one per chunk on an executor). ``executor`` spreads the
    chunks: any :class:`concurrent.futures.Executor` (a ``ProcessPoolExecutor`` included),
    ``"processes"`` (a process pool of one worker per core), ``"ray"`` (the running Ray
    instance, or a new local one) or a Ray client address ``"ray://host:port"``; the merged
    frame is the in-process frame, row for row.

    ``out`` streams the chunks to Parquet as they finish, one file per chunk under
    ``out/runs/``, and returns a :class:`polars.LazyFrame` over them (in run order) instead of
    holding the runs in memory. Run again with the same arguments, it resumes: chunks already
    written are not rerun (``out/sweep.json`` records what the sweep is; another sweep in the
    folder is refused). ``keep="steps"`` (or ``"events"``, or both) also writes the step series
    or the events of the runs ``keep_runs`` chooses (a row-wise Polars expression on the summary
    row, such as ``pl.col("bad_debt") > 0``, evaluated chunk by chunk, or run indices; all runs
    by default) under ``out/steps/`` and ``out/events/``, with ``scenario`` and ``run``
    columns: each is the run :func:`~deleverage.simulate` gives with the row's ``seed``.

    Examples
    --------
    >>> import deleverage as dl
    >>> base = dl.examples.eth_lending(n_accounts=200, steps=50)
    >>> grid = {f"sell_fraction={f}": base.with_liquidators(dl.Liquidators(sell_fraction=f))
    ...         for f in (0.5, 1.0)}
    >>> gbm = dl.Shock.gbm(sigma={"ETH": 1.5}, per="year")
    >>> out = dl.sweep(grid, gbm, runs=4, seed=3, threads=1)
    >>> out.group_by("scenario").len().sort("scenario")["len"].to_list()
    [4, 4]

    Streamed to Parquet, keeping the step series of the runs with bad debt:

    >>> import tempfile, polars as pl
    >>> folder = tempfile.mkdtemp()
    >>> lazy = dl.sweep(base, gbm, runs=4, seed=3, chunk=2,
    ...                 out=folder, keep="steps", keep_runs=pl.col("bad_debt") > 0)
    >>> lazy.collect().equals(dl.sweep(base, gbm, runs=4, seed=3))
    True
    """
    variants = _variants(scenarios)
    # Plain ints: the manifest of a streamed sweep must not tell 3 from 3.0 or numpy's 3.
    seed = None if seed is None else whole("seed", seed, low=0)
    max_extra_steps = whole("max_extra_steps", max_extra_steps, low=0)
    runs = whole("runs", runs, low=1)
    if runs > _MAX_RUNS:
        raise ScenarioError(
            f"runs must be at most {_MAX_RUNS:,} (run indices are 32-bit), got {runs}"
        )
    chunk = whole("chunk", chunk, low=1)
    threads = _threads(threads)
    kinds = _keep(keep, out)
    chosen = _keep_runs(keep_runs)
    if threads is None and executor is not None:
        threads = 1  # the executor supplies the parallelism
    columns = _columns(list(variants.values()))
    jobs = [
        _Job(i, label, sc, shock, seed, max_extra_steps, threads, columns, kinds, chosen)
        for i, (label, sc) in enumerate(variants.items())
    ]
    for job in jobs:
        job.spec()  # every variant's errors, here, before anything runs or is shipped
    tasks = [
        _Task(job.index, first, min(runs, first + chunk))
        for job in jobs
        for first in range(0, runs, chunk)
    ]
    _check_keep_runs(jobs[0])
    store = None
    all_tasks = tasks
    if out is not None:
        if not isinstance(out, str | os.PathLike):
            raise ScenarioError(f"out must be a folder's path, got {out!r}")
        store = _Store(Path(out), _manifest(jobs, shock, seed, runs, chunk, max_extra_steps))
        tasks = [t for t in tasks if not store.done(t)]
    total = len(jobs) * runs
    parts: list[tuple[_Task, pl.DataFrame]] = []
    with (
        tqdm(
            total=total,
            initial=total - sum(t.last - t.first for t in tasks),
            desc="sweep",
            unit="run",
            disable=not progress,
        ) as bar,
        contextlib.closing(_execute(jobs, tasks, executor)) as done,
    ):
        for task, (frame, kept) in done:
            if store is not None:
                store.write(task, frame, kept)
            else:
                parts.append((task, frame))
            bar.update(task.last - task.first)
    if store is not None:
        return store.scan(all_tasks)
    parts.sort(key=lambda p: (p[0].variant, p[0].first))
    return pl.concat([f for _, f in parts])


_MAX_RUNS = 2**32 - 1


def _variants(scenarios: Scenario | Mapping[str, Scenario]) -> dict[str, Scenario]:
    if isinstance(scenarios, Scenario):
        scenarios = {"scenario": scenarios}
    if not isinstance(scenarios, Mapping) or not scenarios:
        raise ScenarioError("scenarios must be a Scenario or a non-empty mapping of them")
    for label, sc in scenarios.items():
        if not isinstance(sc, Scenario):
            raise ScenarioError(
                f"scenarios[{label!r}] must be a deleverage.Scenario, got {type(sc).__name__}"
            )
    return {str(k): v for k, v in scenarios.items()}


def _threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    threads = whole("threads", threads, low=1)
    cores = os.cpu_count() or 1
    if threads > cores:
        # More threads than cores only queue for the same cores; a huge count would spend its
        # time starting threads. The results do not depend on the count.
        warnings.warn(
            f"threads={threads} is more than this machine's {cores} cores: using {cores}",
            RuntimeWarning,
            stacklevel=3,
        )
        threads = cores
    return threads


def _keep(keep: Keep | Sequence[Keep] | None, out: object) -> tuple[Keep, ...]:
    if keep is None:
        return ()
    if not isinstance(keep, str | Sequence):
        raise ScenarioError(f"keep must be 'steps', 'events' or both, got {keep!r}")
    kinds = [keep] if isinstance(keep, str) else list(keep)
    for k in kinds:
        if k not in ("steps", "events"):
            raise ScenarioError(f"keep must be 'steps', 'events' or both, got {k!r}")
    if out is None:
        raise ScenarioError(f"keep={keep!r} writes the runs' series to out=: give out a folder")
    return tuple(sorted(set(kinds)))


def _keep_runs(keep_runs: pl.Expr | Collection[int] | None) -> pl.Expr | tuple[int, ...] | None:
    if keep_runs is None or isinstance(keep_runs, pl.Expr):
        return keep_runs
    if isinstance(keep_runs, str | bytes) or not isinstance(keep_runs, Collection):
        raise ScenarioError(
            "keep_runs must be a Polars expression on the summary row or run indices, "
            f"got {keep_runs!r}"
        )
    return tuple(sorted({whole("keep_runs", r, low=0) for r in keep_runs}))


def _check_keep_runs(job: _Job) -> None:
    """A ``keep_runs`` expression is tried, now, on the sweep's (empty) summary frame: a wrong
    column or a non-boolean predicate is named before anything runs."""
    if not job.keep or not isinstance(job.keep_runs, pl.Expr):
        return
    empty = _conform(_frame(job.label, job.scenario, _core.sweep(job.spec(), 0, 0, 1)), job)
    try:
        empty.filter(job.keep_runs)
    except pl.exceptions.PolarsError as e:
        first = str(e).strip().splitlines()[0]
        raise ScenarioError(
            f"keep_runs must be a row-wise boolean expression on the summary columns "
            f"{list(job.columns)}: {first}"
        ) from None


_BASE = (
    "scenario",
    "run",
    "seed",
    "liquidations",
    "liquidated_notional",
    "bad_debt",
    "insurance_fund_min",
    "steps_run",
    "quiet",
    "insurance_fund_start",
)


def _columns(scenarios: Sequence[Scenario]) -> tuple[str, ...]:
    """The sweep's columns: the run's, then each asset's of any variant, in order."""
    assets = dict.fromkeys(a.name for sc in scenarios for a in sc.assets)
    per = (f"{k}_{a}" for a in assets for k in ("drawdown", "exogenous_drawdown", "amplification"))
    return (*_BASE, *per)


@dataclass(frozen=True, order=True)
class _Task:
    variant: int
    first: int
    last: int


@dataclass
class _Job:
    """One variant of a sweep, as a worker needs it (pickled to process pools and Ray: the
    engine's spec is built again there, not shipped)."""

    index: int
    label: str
    scenario: Scenario
    shock: Shock | None
    seed: int | None
    max_extra_steps: int
    threads: int | None
    columns: tuple[str, ...]
    keep: tuple[Keep, ...]
    keep_runs: pl.Expr | tuple[int, ...] | None
    _spec: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_spec": None}

    def spec(self) -> Any:
        if self._spec is None:
            self._spec = build_spec(self.scenario, self.shock, self.seed, self.max_extra_steps)[0]
        return self._spec


def _chunk(job: _Job, first: int, last: int) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Runs ``first..last`` of ``job``: the summary rows in the sweep's columns, and the kept
    series of the chosen runs. Module-level so that executors can pickle it."""
    frame = _frame(job.label, job.scenario, _core.sweep(job.spec(), first, last, job.threads))
    frame = _conform(frame, job)
    kept: dict[str, pl.DataFrame] = {}
    if job.keep:
        from deleverage.engine import simulate

        if job.keep_runs is None:
            rows = frame
        elif isinstance(job.keep_runs, pl.Expr):
            rows = frame.filter(job.keep_runs)
        else:
            rows = frame.filter(pl.col("run").is_in(job.keep_runs))
        series: dict[str, list[pl.DataFrame]] = {k: [] for k in job.keep}
        for run, run_seed in rows.select("run", "seed").iter_rows():
            res = simulate(
                job.scenario, job.shock, seed=run_seed, max_extra_steps=job.max_extra_steps
            )
            for k in job.keep:
                series[k].append(
                    getattr(res, k).select(
                        pl.lit(job.label).alias("scenario"),
                        pl.lit(run, dtype=pl.UInt32).alias("run"),
                        pl.all(),
                    )
                )
        kept = {k: pl.concat(v) for k, v in series.items() if v}
    return frame, kept


def _conform(frame: pl.DataFrame, job: _Job) -> pl.DataFrame:
    """``frame`` in the sweep's columns: another variant's asset columns are null here."""
    return frame.select(
        pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.Float64).alias(c)
        for c in job.columns
    )


def _frame(label: str, sc: Scenario, raw: dict[str, Any]) -> pl.DataFrame:
    n = len(sc.assets)
    has_fund = any(isinstance(f.protocol, PerpExchange) for f in sc.families)
    df = pl.DataFrame(
        {
            "scenario": label,
            "run": raw["run"],
            "seed": raw["seed"],
            "liquidations": raw["liquidations"],
            "liquidated_notional": raw["liquidated_notional"],
            "bad_debt": raw["bad_debt"],
            "insurance_fund_min": raw["insurance_fund_min"],
            "steps_run": raw["steps_run"],
            "quiet": raw["quiet"],
        }
    )
    start = sum(
        float(f.protocol.insurance_fund)
        for f in sc.families
        if isinstance(f.protocol, PerpExchange)
    )
    df = df.with_columns(
        pl.lit(start if has_fund else None, dtype=pl.Float64).alias("insurance_fund_start")
    )
    if not has_fund:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias("insurance_fund_min"))
    low = raw["min_mid"].reshape(-1, n)
    exo = raw["min_reference"].reshape(-1, n)
    extra = {}
    quote0 = quote_prices(sc.assets, [x.price for x in sc.assets])
    for a, asset in enumerate(sc.assets):
        p0 = float(quote0[a])
        dd = np.minimum(low[:, a] / p0 - 1.0, 0.0)
        ex = np.minimum(exo[:, a] / p0 - 1.0, 0.0)
        extra[f"drawdown_{asset.name}"] = dd
        extra[f"exogenous_drawdown_{asset.name}"] = ex
        extra[f"amplification_{asset.name}"] = amplification(dd, ex)
    return df.with_columns(
        *(
            pl.Series(k, v).fill_nan(None) if k.startswith("amplification_") else pl.Series(k, v)
            for k, v in extra.items()
        )
    )


# Executors ------------------------------------------------------------------------------------

_Done = Generator[tuple[_Task, tuple[pl.DataFrame, dict[str, pl.DataFrame]]], None, None]


def _execute(jobs: list[_Job], tasks: list[_Task], executor: cf.Executor | str | None) -> _Done:
    """Runs the tasks in-process or on ``executor``, yielding each as it finishes."""
    if executor is None:
        for t in tasks:
            yield t, _chunk(jobs[t.variant], t.first, t.last)
    elif isinstance(executor, cf.Executor):
        yield from _on_executor(executor, jobs, tasks)
    elif executor == "processes":
        # Spawned, not forked: the parent holds threads (the engine's pools, the progress bar).
        pool = cf.ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")
        )
        try:
            yield from _on_executor(pool, jobs, tasks)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: do not wait for the workers
            raise
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # no worker outlives the sweep
            raise
        pool.shutdown(wait=True)
    elif isinstance(executor, str) and (executor == "ray" or executor.startswith("ray://")):
        yield from _on_ray(executor, jobs, tasks)
    else:
        raise ScenarioError(
            "executor must be a concurrent.futures.Executor, 'processes', 'ray' or a Ray "
            f"address 'ray://host:port', got {executor!r}"
        )


def _on_executor(ex: cf.Executor, jobs: list[_Job], tasks: list[_Task]) -> _Done:
    window = 2 * (getattr(ex, "_max_workers", None) or os.cpu_count() or 1)
    yield from _in_flight(
        tasks,
        window,
        submit=lambda t: ex.submit(_chunk, jobs[t.variant], t.first, t.last),
        finished=lambda hs: cf.wait(hs, return_when=cf.FIRST_COMPLETED)[0],
        result=lambda f: f.result(),
        cancel=lambda f: f.cancel(),
    )


def _on_ray(address: str, jobs: list[_Job], tasks: list[_Task]) -> _Done:
    try:
        import ray
    except ImportError:
        raise ScenarioError(
            f"executor={address!r} needs Ray: pip install 'deleverage[ray]'"
        ) from None
    if not ray.is_initialized():
        ray.init(address=None if address == "ray" else address)
    threads = jobs[0].threads or 1
    remote = ray.remote(num_cpus=threads)(_chunk)
    refs = [ray.put(job) for job in jobs]
    cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
    yield from _in_flight(
        tasks,
        2 * max(1, int(cpus) // threads),
        submit=lambda t: remote.remote(refs[t.variant], t.first, t.last),
        finished=lambda hs: ray.wait(hs, num_returns=1)[0],
        result=ray.get,
        cancel=ray.cancel,
    )


def _in_flight(
    tasks: list[_Task],
    window: int,
    *,
    submit: Callable[[_Task], Any],
    finished: Callable[[list[Any]], Iterable[Any]],
    result: Callable[[Any], Any],
    cancel: Callable[[Any], Any],
) -> _Done:
    """Runs ``tasks`` on a pool through its handles (futures, Ray references), at most
    ``window`` in flight so that memory stays bounded whatever the number of runs, yielding each
    as it finishes; the handles still pending when it stops (an error, Ctrl-C) are cancelled."""
    todo = iter(tasks)
    pending = {submit(t): t for t in itertools.islice(todo, window)}
    try:
        while pending:
            for h in finished(list(pending)):
                t = pending.pop(h)
                part = result(h)
                nxt = next(todo, None)
                if nxt is not None:
                    pending[submit(nxt)] = nxt
                yield t, part
    finally:
        for h in pending:
            cancel(h)


# Streaming ------------------------------------------------------------------------------------


def _manifest(
    jobs: list[_Job],
    shock: Shock | None,
    seed: int | None,
    runs: int,
    chunk: int,
    max_extra_steps: int,
) -> dict[str, Any]:
    """What a streamed sweep is: resuming needs the same one."""
    what = pickle.dumps(
        (
            [(j.label, j.scenario) for j in jobs],
            shock,
            seed,
            max_extra_steps,
            jobs[0].keep,
            jobs[0].keep_runs,
        )
    )
    return {
        "format": 1,
        "scenarios": [j.label for j in jobs],
        "runs": runs,
        "chunk": chunk,
        "seed": seed,
        "keep": list(jobs[0].keep),
        "fingerprint": hashlib.sha256(what).hexdigest(),
    }


class _Store:
    """A streamed sweep's folder: ``sweep.json``, then ``runs/vNNNN/runs-FIRST-LAST.parquet``
    per chunk (and ``steps/``, ``events/`` likewise). A chunk's runs file is written last and
    atomically, so its presence means the chunk is complete."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        if root.exists() and not root.is_dir():
            raise ScenarioError(f"out must be a folder, got the file {str(root)!r}")
        self.root = root
        path = root / "sweep.json"
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise ScenarioError(f"{str(path)!r} cannot be read: {e}") from None
            if old != manifest:
                diff = [k for k in manifest if old.get(k) != manifest[k]]
                raise ScenarioError(
                    f"{str(root)!r} holds another sweep (it differs in {diff}): resuming needs "
                    "the same scenarios, shock, seed, runs, chunk and keep; use another folder"
                )
        elif root.exists() and any(root.iterdir()):
            raise ScenarioError(
                f"out={str(root)!r} is a folder that holds files but no sweep.json: give an "
                "empty or new folder"
            )
        else:
            root.mkdir(parents=True, exist_ok=True)
            self._atomic(path, lambda p: p.write_text(json.dumps(manifest, indent=1)))
        for stale in root.glob("**/*.tmp"):
            stale.unlink()  # a write the interrupted sweep did not finish

    def path(self, kind: str, t: _Task) -> Path:
        return self.root / kind / f"v{t.variant:04d}" / f"runs-{t.first:010d}-{t.last:010d}.parquet"

    def done(self, t: _Task) -> bool:
        return self.path("runs", t).exists()

    def write(self, t: _Task, frame: pl.DataFrame, kept: dict[str, pl.DataFrame]) -> None:
        for kind, series in kept.items():
            self._atomic(self.path(kind, t), series.write_parquet)
        self._atomic(self.path("runs", t), frame.write_parquet)

    def scan(self, tasks: Sequence[_Task]) -> pl.LazyFrame:
        # The chunks' files by name, in run order: a glob reads folders lexicographically
        # (v10000 before v9999) and would take any stray file.
        return pl.scan_parquet([self.path("runs", t) for t in tasks])

    @staticmethod
    def _atomic(path: Path, write: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        os.replace(tmp, path)


def grid(scenario: Scenario, values: Mapping[str, Sequence[Any]]) -> dict[str, Scenario]:
    """Labelled variants of ``scenario``: one per combination of ``values`` (dotted keys of the
    scenario file, as ``deleverage sweep --grid`` takes them: ``liquidators.budget_notional``,
    ``protocols.aave_v3.reserves.ETH.liquidation_bonus``, with array items by index or by
    name). Unknown keys raise :class:`ScenarioError` naming the key and the valid ones at that
    level. Pass the result to :func:`sweep`.

    Examples
    --------
    >>> import deleverage as dl
    >>> sc = dl.examples.eth_lending(n_accounts=200, steps=20)
    >>> variants = dl.grid(sc, {"protocols.aave_v3.reserves.ETH.liquidation_bonus": [0.05, 0.1]})
    >>> list(variants)
    ['liquidation_bonus=0.05', 'liquidation_bonus=0.1']
    >>> variants["liquidation_bonus=0.1"].lending[0].protocol.reserves["ETH"].liquidation_bonus
    0.1
    """
    import tempfile
    from pathlib import Path

    from deleverage import tomlfile

    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"scenario must be a deleverage.Scenario, got {type(scenario).__name__}"
        )
    if not isinstance(values, Mapping) or not values:
        raise ScenarioError("values must be a non-empty mapping of dotted keys to lists of values")
    keys = list(values)
    for k in keys:
        v = values[k]
        if isinstance(v, str | bytes) or not isinstance(v, Sequence) or len(v) == 0:
            raise ScenarioError(f"values[{k!r}] must be a non-empty list of values, got {v!r}")
    short = [k.rsplit(".", 1)[-1] for k in keys]
    names = short if len(set(short)) == len(short) else keys
    out: dict[str, Scenario] = {}
    # Through the scenario file's own document: the same keys and checks as the CLI's grid.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.toml"
        scenario.to_toml(path)
        doc = tomlfile.read(path)
        for combo in itertools.product(*(values[k] for k in keys)):
            variant = doc
            for key, value in zip(keys, combo, strict=True):
                variant = tomlfile.with_value(variant, key, value, "scenario")
            label = ", ".join(f"{k}={v}" for k, v in zip(names, combo, strict=True))
            try:
                out[label] = tomlfile.load_document(variant, path)
            except ScenarioError as e:
                raise ScenarioError(f"the variant {label}: {e}") from None
    return out
