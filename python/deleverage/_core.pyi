"""Type stubs of the native module ``deleverage._core`` (checked by ``mypy.stubtest``)."""

from collections.abc import Iterable, Sequence
from typing import Any, Literal, NotRequired, TypedDict, final

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

__all__ = [
    "ENUM_NAMES",
    "SECONDS_PER_YEAR",
    "ArbTrade",
    "ConcentratedPool",
    "ConstantProductPool",
    "Engine",
    "Fill",
    "ImpactCurve",
    "OrderBook",
    "PendingTable",
    "Router",
    "StableSwapPool",
    "StepReport",
    "Venue",
    "__version__",
    "_venue_from_bytes",
    "breached",
    "check_lending",
    "maintenance_margin",
    "simulate",
    "sweep",
]

__version__: str

# The labels of every code column the engine writes, by enum ("event_kind", "account_status",
# "pool_status", "vault_status", "fund_status", "order_side", …): label = ENUM_NAMES[enum][code].
ENUM_NAMES: dict[str, list[str]]

# The year (365.25 days of 24/7 trading) a shock's sigma, mu and jump_intensity are stored per.
SECONDS_PER_YEAR: float

_Side = Literal["bid", "ask", "sell", "buy"]
_Column = npt.ArrayLike | Sequence[float]
_F64Array = np.ndarray[tuple[int], np.dtype[np.float64]]

@final
class Fill:
    @property
    def side(self) -> Literal["sell", "buy"]: ...
    @property
    def requested(self) -> float: ...
    @property
    def filled(self) -> float: ...
    @property
    def unfilled(self) -> float: ...
    @property
    def notional(self) -> float: ...
    @property
    def vwap(self) -> float | None: ...
    @property
    def first_price(self) -> float | None: ...
    @property
    def last_price(self) -> float | None: ...
    @property
    def levels(self) -> int: ...
    @property
    def status(self) -> Literal["filled", "partial", "empty"]: ...
    @property
    def parts(self) -> list[Fill]: ...
    def to_dict(self) -> dict[str, float | int | str | None]: ...

@disjoint_base
class Venue:
    def sell(self, qty: float) -> Fill: ...
    def buy(self, qty: float) -> Fill: ...
    def quote_sell(self, qty: float) -> Fill: ...
    def quote_buy(self, qty: float) -> Fill: ...
    @property
    def mid(self) -> float | None: ...
    @property
    def best_bid(self) -> float | None: ...
    @property
    def best_ask(self) -> float | None: ...
    def depth(self, side: _Side, within: float) -> float: ...
    def advance(self, dt: float, reference: float | None = None) -> Fill | None: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...

def _venue_from_bytes(data: bytes) -> Venue: ...

@final
class OrderBook(Venue):
    @staticmethod
    def from_levels(
        bid_px: _Column,
        bid_qty: _Column,
        ask_px: _Column,
        ask_qty: _Column,
        *,
        reference: float | None = None,
        resilience_half_life: float | None = None,
        permanent_impact: float = 0.0,
    ) -> OrderBook: ...
    @staticmethod
    def linear(
        mid: float,
        tick: float,
        levels: int,
        depth_per_level: float,
        *,
        resilience_half_life: float | None = None,
        permanent_impact: float = 0.0,
    ) -> OrderBook: ...
    @staticmethod
    def sqrt(
        mid: float,
        tick: float,
        levels: int,
        sigma: float,
        volume: float,
        y: float = 1.0,
        *,
        resilience_half_life: float | None = None,
        permanent_impact: float = 0.0,
    ) -> OrderBook: ...
    @staticmethod
    def exponential(
        mid: float,
        tick: float,
        levels: int,
        total_depth: float,
        scale: float,
        *,
        resilience_half_life: float | None = None,
        permanent_impact: float = 0.0,
    ) -> OrderBook: ...
    def levels(self, side: _Side) -> tuple[_F64Array, _F64Array]: ...
    def consumed(self, side: _Side) -> float: ...
    @property
    def reference(self) -> float: ...
    @property
    def anchor(self) -> float: ...
    @property
    def permanent_factor(self) -> float: ...
    @property
    def resilience_half_life(self) -> float | None: ...
    @property
    def permanent_impact(self) -> float: ...

@final
class ConstantProductPool(Venue):
    def __new__(
        cls, base_reserve: float, quote_reserve: float, fee: float = 0.003
    ) -> ConstantProductPool: ...
    @property
    def base_reserve(self) -> float: ...
    @property
    def quote_reserve(self) -> float: ...
    @property
    def fee(self) -> float: ...

@final
class StableSwapPool(Venue):
    def __new__(
        cls,
        balances: Sequence[float] | npt.ArrayLike,
        amplification: float,
        fee: float = 0.0004,
        admin_fee: float = 0.5,
    ) -> StableSwapPool: ...
    @property
    def balances(self) -> list[float]: ...
    @property
    def amplification(self) -> float: ...
    @property
    def fee(self) -> float: ...
    @property
    def admin_fee(self) -> float: ...
    @property
    def admin_collected(self) -> list[float]: ...
    @property
    def invariant(self) -> float: ...
    def get_dy(self, i: int, j: int, dx: float) -> float: ...
    def marginal_price(self, i: int, j: int) -> float: ...

@final
class ConcentratedPool(Venue):
    def __new__(
        cls,
        ticks: Sequence[int] | npt.ArrayLike,
        liquidity_net: Sequence[int | str] | npt.ArrayLike,
        *,
        sqrt_price_x96: float | str,
        liquidity: int | str,
        tick: int | None = None,
        fee: float = 0.003,
        decimals0: int = 18,
        decimals1: int = 18,
        base_is_token0: bool = True,
    ) -> ConcentratedPool: ...
    @staticmethod
    def from_frame(
        frame: Any,
        *,
        sqrt_price_x96: float | str,
        liquidity: int | str,
        tick: int | None = None,
        fee: float = 0.003,
        decimals0: int = 18,
        decimals1: int = 18,
        base_is_token0: bool = True,
    ) -> ConcentratedPool: ...
    @staticmethod
    def sqrt_price_x96_at_tick(tick: int) -> float: ...
    @property
    def ticks(self) -> list[int]: ...
    @property
    def liquidity_net(self) -> list[int]: ...
    @property
    def sqrt_price_x96(self) -> float: ...
    @property
    def tick(self) -> int: ...
    @property
    def liquidity(self) -> int: ...
    @property
    def fee(self) -> float: ...
    @property
    def fee_pips(self) -> int: ...
    @property
    def decimals0(self) -> int: ...
    @property
    def decimals1(self) -> int: ...
    @property
    def base_is_token0(self) -> bool: ...
    @property
    def price(self) -> float: ...

@final
class ImpactCurve(Venue):
    @staticmethod
    def linear(price: float, slope: float, *, alpha: float | None = None) -> ImpactCurve: ...
    @staticmethod
    def exponential(
        price: float, floor: float, depth: float, *, alpha: float | None = None
    ) -> ImpactCurve: ...
    @staticmethod
    def sqrt(
        price: float, sigma: float, volume: float, y: float = 1.0, *, alpha: float | None = None
    ) -> ImpactCurve: ...
    @property
    def price(self) -> float: ...
    @property
    def kind(self) -> Literal["linear", "exponential", "sqrt"]: ...
    @property
    def alpha(self) -> float | None: ...
    @property
    def parameters(self) -> dict[str, float]: ...

@final
class ArbTrade:
    @property
    def buy_venue(self) -> int: ...
    @property
    def sell_venue(self) -> int: ...
    @property
    def qty(self) -> float: ...
    @property
    def cost(self) -> float: ...
    @property
    def proceeds(self) -> float: ...
    @property
    def profit(self) -> float: ...

@final
class Router:
    def __new__(cls, venues: Iterable[Venue]) -> Router: ...
    @property
    def venues(self) -> list[Venue]: ...
    def sell(self, qty: float) -> Fill: ...
    def buy(self, qty: float) -> Fill: ...
    def quote_sell(self, qty: float) -> Fill: ...
    def quote_buy(self, qty: float) -> Fill: ...
    @property
    def best_bid(self) -> float | None: ...
    @property
    def best_ask(self) -> float | None: ...
    def depth(self, side: _Side, within: float) -> float: ...
    def arbitrage(self, max_rounds: int = 100) -> list[ArbTrade]: ...
    def __len__(self) -> int: ...

# What crosses the boundary. The spec is built by `deleverage._spec.build_spec`; the family
# dicts by each family module's `_spec` (their keys are read by `rust/deleverage-py/src/spec/`).
_Array = np.ndarray[tuple[int], np.dtype[Any]]

class _OracleSpec(TypedDict, total=False):
    kind: Literal["spot", "push", "twap", "delayed", "reference", "blend"]
    deviation: float
    heartbeat: float
    window: float
    delay: float
    weight: float

class _ChannelSpec(TypedDict):
    capacity: float
    delay: int
    fee: float

class _PegSpec(TypedDict):
    # The index of the asset it is pegged to; None: the quote.
    underlying: int | None
    redeem: _ChannelSpec | None
    mint: _ChannelSpec | None

class _AssetSpec(TypedDict):
    name: str
    price: float
    venues: list[Venue]
    oracle: _OracleSpec
    peg: _PegSpec | None

class _AccountsSpec(TypedDict):
    """Lending accounts as CSR columns: account i holds ``asset[offsets[i]:offsets[i+1]]``."""

    protocol: _Array
    offsets: _Array
    asset: _Array
    collateral: _Array
    debt: _Array

class _QueueSpec(TypedDict):
    priority: Literal["worst_health", "largest", "fifo", "random"]
    mode: Literal["sequential", "batch"]
    budget_notional: float
    budget_count: int
    sell_fraction: float
    max_rounds_per_step: int
    keeper_margin: float

class _ShockSpec(TypedDict, total=False):
    kind: Literal["instant", "levels", "diffusion"]
    returns: _Array
    prices: _Array
    mu: _Array
    sigma: _Array
    corr: _Array
    jump_intensity: _Array
    jump_mean: _Array
    jump_std: _Array

class _LendingSpec(TypedDict):
    """The lending family: protocol dicts (`kind`: aave_v3 | compound_v2 | compound_v3, `listed`,
    reserve columns per asset) and their accounts' holdings."""

    kind: Literal["lending"]
    name: str
    protocols: list[dict[str, Any]]
    accounts: _AccountsSpec

class _ScenarioSpec(TypedDict):
    assets: list[_AssetSpec]
    # Every family in the order it acts: the lending family (a `_LendingSpec`) first, then the
    # perps, vaults and funds dicts (`kind`: perps | vaults | funds) in scenario order.
    families: list[dict[str, Any]]
    queue: _QueueSpec
    shock: _ShockSpec
    steps: int
    step_seconds: float
    seed: int
    max_extra_steps: int
    # Recorded book snapshots (`Scenario.replay`): step, asset, venue and the levels.
    replay: NotRequired[list[dict[str, Any]]]
    # Outages (`Scenario.outages`): kind, start, end, and asset, venue or grace_steps.
    outages: NotRequired[list[dict[str, Any]]]
    # Per family in order: the pegged assets its oracle reads at the peg.
    reads_peg: NotRequired[list[list[int]]]
    # Owners' policies (cash, margin_buffer, target_health) and, per account id, the owner's
    # index (2**32 - 1: none).
    owners: NotRequired[list[dict[str, float | None]]]
    owner_of: NotRequired[_Array]

class _RawFamily(TypedDict, total=False):
    """One family's final state: its tables (numpy columns under the core's names) and ledger.
    ``kind`` is lending (``accounts``), perps (``positions``), vaults (``vaults``, ``auctions``)
    or funds (``funds``)."""

    kind: Literal["lending", "perps", "vaults", "funds"]
    ledger: dict[str, Any]
    # A finished engine's lending accounts and perp positions are pending until first read.
    accounts: dict[str, _Array] | PendingTable
    accounts_liquidated: NotRequired[int]
    positions: dict[str, _Array] | PendingTable
    vaults: dict[str, _Array]
    auctions: dict[str, _Array]
    funds: dict[str, _Array]

class _RawResult(TypedDict):
    events: dict[str, _Array]
    steps: dict[str, _Array]
    fills: dict[str, _Array]
    families: list[_RawFamily]
    meta: dict[str, Any]

class _RawBreaches(TypedDict):
    kind: Literal["lending", "perps", "vaults", "funds"]
    at: _Array
    row: _Array
    debt: _Array
    collateral_value: _Array
    notional: _Array
    margin: _Array
    requirement: _Array

@final
class PendingTable:
    """A finished family's final-state table (lending accounts, perp positions), computed when
    it is first read."""

    def build(self) -> dict[str, _Array]: ...

@final
class StepReport:
    """What one step of an :class:`Engine` did: counts and prices, no frames."""

    @property
    def step(self) -> int: ...
    @property
    def liquidations(self) -> int: ...
    @property
    def liquidated_notional(self) -> float: ...
    @property
    def family_liquidations(self) -> list[int]: ...
    @property
    def family_notional(self) -> list[float]: ...
    @property
    def bad_debt(self) -> float: ...
    @property
    def cumulative_bad_debt(self) -> float: ...
    @property
    def rounds(self) -> int: ...
    @property
    def queue_length(self) -> int: ...
    @property
    def insurance_funds(self) -> list[float]: ...
    @property
    def mids(self) -> list[float]: ...
    @property
    def oracle(self) -> list[float]: ...

class _Equilibrium(TypedDict):
    """One fire-sale clearing equilibrium of a fund group (``Engine.clearing``)."""

    kind: Literal["least", "interior", "greatest", "unique"]
    prices: list[float]
    sold: list[float]
    equity: list[float]
    defaulted: list[bool]
    systemic_loss: float
    stable: bool
    iterations: int
    converged: bool

@final
class Engine:
    def __new__(cls, spec: _ScenarioSpec) -> Engine: ...
    def step(self, reference: _Column | None = None) -> StepReport: ...
    def run(self, references: _Column) -> int: ...
    def run_to_quiet(self, max_extra_steps: int | None = None) -> bool: ...
    def submit(
        self,
        asset: int,
        side: str,
        qty: float,
        venue: int | None = None,
        limit: float | None = None,
    ) -> Fill: ...
    def quote(self, asset: int, side: str, qty: float) -> Fill: ...
    def capacity_to(
        self, asset: int, side: str, limits: Sequence[float] | npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]: ...
    def liquidate(
        self, account: int, debt_asset: int, collateral_asset: int, amount: float
    ) -> dict[str, float]: ...
    def take(
        self, family: int, auction: int, amount: float, max_price: float
    ) -> tuple[float, float]: ...
    def liquidate_position(
        self, family: int, row: int, qty: float, price: float
    ) -> tuple[float, float]: ...
    def records(self) -> _RawResult: ...
    def finish(self) -> _RawResult: ...
    def fork(self) -> Engine: ...
    def market(self) -> dict[str, Any]: ...
    def next_reference(self) -> _F64Array: ...
    def liquidation_prices(self, asset: int) -> list[dict[str, Any]]: ...
    def clearing(
        self, family: int, grid: int = 512, max_iter: int = 10_000
    ) -> list[_Equilibrium]: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> Engine: ...
    @property
    def steps_run(self) -> int: ...
    @property
    def quiet(self) -> bool: ...
    @property
    def path_steps(self) -> int: ...

def simulate(spec: _ScenarioSpec) -> _RawResult: ...
def breached(spec: _ScenarioSpec, prices: _Column) -> list[_RawBreaches]: ...
def check_lending(protocol: dict[str, Any], n_assets: int) -> None: ...
def maintenance_margin(caps: _Column, mmr: _Column, notional: _Column) -> _F64Array: ...
def sweep(
    spec: _ScenarioSpec, first: int, last: int, threads: int | None = None
) -> dict[str, Any]: ...
