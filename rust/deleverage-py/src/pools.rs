//! The pools: Uniswap v2's `ConstantProductPool`, Curve's `StableSwapPool` and Uniswap v3's
//! `ConcentratedPool`, venues of the shared `Venue` interface (see [`crate::venues`]).

use deleverage_core::venue::concentrated::sqrt_ratio_at_tick;
use deleverage_core::{AnyVenue, ConcentratedPool, ConstantProductPool, StableSwapPool, TickState};
use pyo3::prelude::*;

use crate::convert;
use crate::errors::BindingError;
use crate::venues::{PyVenue, lock};

/// A Uniswap v2 constant-product pool with its fee, exactly.
///
/// ``sell`` is ``getAmountOut`` and ``buy`` is ``getAmountIn``; the whole input, fee included,
/// stays in the pool. ``advance(dt, reference)`` lets arbitrageurs trade the pool back until its
/// mid is inside the fee band ``[g·P, P/g]`` (``g = 1 − fee``).
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> pool = dl.ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_450_000.0, fee=0.003)
/// >>> round(pool.sell(36.0).notional, 6), round(pool.mid, 8)
/// (105444.317029, 2896.11817152)
/// >>> round(pool.advance(12.0, reference=2_980.0).notional, 7), round(pool.mid, 8)
/// (94561.1688632, 2971.06)
#[pyclass(frozen, extends = PyVenue, name = "ConstantProductPool", module = "deleverage._core")]
pub struct PyPool;

fn with_pool<R>(slf: &Bound<'_, PyPool>, f: impl FnOnce(&ConstantProductPool) -> R) -> PyResult<R> {
    let g = lock(&slf.as_super().get().inner)?;
    match &*g {
        AnyVenue::Pool(p) => Ok(f(p)),
        _ => Err(BindingError::Internal(
            "ConstantProductPool holds another kind of venue".to_owned(),
        )
        .into()),
    }
}

#[pymethods]
impl PyPool {
    #[new]
    #[pyo3(signature = (base_reserve, quote_reserve, fee=0.003))]
    fn new(
        #[pyo3(from_py_with = convert::num)] base_reserve: f64,
        #[pyo3(from_py_with = convert::num)] quote_reserve: f64,
        #[pyo3(from_py_with = convert::num)] fee: f64,
    ) -> PyResult<PyClassInitializer<Self>> {
        let pool = ConstantProductPool::new(base_reserve, quote_reserve, fee)
            .map_err(BindingError::from)?;
        Ok(PyClassInitializer::from(PyVenue::new(pool.into())).add_subclass(PyPool))
    }

    /// Units of the asset in the pool.
    #[getter]
    fn base_reserve(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_pool(slf, |p| p.base_reserve())
    }

    /// Units of quote in the pool.
    #[getter]
    fn quote_reserve(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_pool(slf, |p| p.quote_reserve())
    }

    /// Swap fee, a fraction in ``[0, 1)``.
    #[getter]
    fn fee(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_pool(slf, |p| p.fee())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        with_pool(slf, |p| {
            format!(
                "ConstantProductPool(base_reserve={}, quote_reserve={}, fee={})",
                p.base_reserve(),
                p.quote_reserve(),
                p.fee()
            )
        })
    }
}

/// Curve's StableSwap pool, with the contract's formulas in floating point.
///
/// ``balances`` are the coins' balances in whole tokens: the asset first, then the quote, then
/// any other coins of the pool (2 to 8 in all). ``amplification`` is ``A`` as the contract's
/// ``A()`` returns it; ``fee`` is the fraction of each output taken (the contract's
/// ``fee / 1e10``), ``admin_fee`` the share of that fee that leaves the pool. ``sell`` and ``buy``
/// trade the asset against the quote by the contract's ``get_y``; ``advance(dt, reference)`` lets
/// arbitrageurs trade the pool back until its mid is inside the fee band ``[g·P, P/g]``
/// (``g = 1 − fee``).
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> pool = dl.StableSwapPool([120.0, 80.0], amplification=50.0, fee=0.0003, admin_fee=0.0)
/// >>> round(pool.invariant, 10), round(pool.get_dy(0, 1, 7.0), 10)
/// (199.9183996342, 6.9261956583)
/// >>> round(pool.sell(7.0).notional, 10), pool.balances[0]
/// (6.9261956583, 127.0)
#[pyclass(frozen, extends = PyVenue, name = "StableSwapPool", module = "deleverage._core")]
pub struct PyStableSwap;

fn with_stableswap<R>(
    slf: &Bound<'_, PyStableSwap>,
    f: impl FnOnce(&StableSwapPool) -> R,
) -> PyResult<R> {
    let g = lock(&slf.as_super().get().inner)?;
    match &*g {
        AnyVenue::StableSwap(p) => Ok(f(p)),
        _ => Err(
            BindingError::Internal("StableSwapPool holds another kind of venue".to_owned()).into(),
        ),
    }
}

fn coin(field: &str, k: i64, n: usize) -> PyResult<usize> {
    if k < 0 || k as usize >= n {
        return Err(BindingError::from(deleverage_core::Error::OutOfRange {
            field: field.to_owned(),
            value: k as f64,
            expected: "the index of one of the pool's coins",
        })
        .into());
    }
    Ok(k as usize)
}

#[pymethods]
impl PyStableSwap {
    #[new]
    #[pyo3(signature = (balances, amplification, fee=0.0004, admin_fee=0.5))]
    fn new(
        balances: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = convert::num)] amplification: f64,
        #[pyo3(from_py_with = convert::num)] fee: f64,
        #[pyo3(from_py_with = convert::num)] admin_fee: f64,
    ) -> PyResult<PyClassInitializer<Self>> {
        let balances = convert::column(balances, "balances")?;
        let pool = StableSwapPool::new(balances, amplification, fee, admin_fee)
            .map_err(BindingError::from)?;
        Ok(PyClassInitializer::from(PyVenue::new(pool.into())).add_subclass(PyStableSwap))
    }

    /// Balances of the coins, in whole tokens (the asset, the quote, any others).
    #[getter]
    fn balances(slf: &Bound<'_, Self>) -> PyResult<Vec<f64>> {
        with_stableswap(slf, |p| p.balances().to_vec())
    }

    /// ``A`` as the contract's ``A()`` returns it.
    #[getter]
    fn amplification(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_stableswap(slf, |p| p.amplification())
    }

    /// Fraction of each output taken as the fee.
    #[getter]
    fn fee(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_stableswap(slf, |p| p.fee())
    }

    /// Share of the fee that leaves the pool.
    #[getter]
    fn admin_fee(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_stableswap(slf, |p| p.admin_fee())
    }

    /// Admin fees that left the pool so far, per coin.
    #[getter]
    fn admin_collected(slf: &Bound<'_, Self>) -> PyResult<Vec<f64>> {
        with_stableswap(slf, |p| p.admin_collected().to_vec())
    }

    /// The invariant D of the current balances (the contract's ``get_D``).
    #[getter]
    fn invariant(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_stableswap(slf, |p| p.invariant())
    }

    /// The contract's ``get_dy(i, j, dx)``: coin ``j`` out, after the fee, for ``dx`` of coin
    /// ``i`` in (without the contract's 1-wei rounding), the pool unchanged.
    fn get_dy(
        slf: &Bound<'_, Self>,
        #[pyo3(from_py_with = convert::whole)] i: i64,
        #[pyo3(from_py_with = convert::whole)] j: i64,
        #[pyo3(from_py_with = convert::num)] dx: f64,
    ) -> PyResult<f64> {
        let n = with_stableswap(slf, |p| p.balances().len())?;
        let (i, j) = (coin("i", i, n)?, coin("j", j, n)?);
        if i == j {
            return Err(BindingError::from(deleverage_core::Error::OutOfRange {
                field: "j".to_owned(),
                value: j as f64,
                expected: "a coin other than i",
            })
            .into());
        }
        let dx = convert::qty("dx", dx)?;
        with_stableswap(slf, |p| p.get_dy(i, j, dx).1)
    }

    /// Marginal price of coin ``i`` in coin ``j`` before the fee, ``−dx_j/dx_i`` along the
    /// invariant.
    fn marginal_price(
        slf: &Bound<'_, Self>,
        #[pyo3(from_py_with = convert::whole)] i: i64,
        #[pyo3(from_py_with = convert::whole)] j: i64,
    ) -> PyResult<f64> {
        let n = with_stableswap(slf, |p| p.balances().len())?;
        let (i, j) = (coin("i", i, n)?, coin("j", j, n)?);
        with_stableswap(slf, |p| p.marginal_price(i, j))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        with_stableswap(slf, |p| {
            format!(
                "StableSwapPool(balances={:?}, amplification={}, fee={}, admin_fee={})",
                p.balances(),
                p.amplification(),
                p.fee(),
                p.admin_fee()
            )
        })
    }
}

/// A Uniswap v3 concentrated-liquidity pool over its initialised ticks, with the contract's swap
/// math (``SwapMath.computeSwapStep``, ``SqrtPriceMath``) in floating point.
///
/// Built from the pool's tick state as the subgraph or an RPC dump gives it: the initialised
/// ``ticks`` with their ``liquidity_net`` (``liquidityNet``), and ``slot0``'s ``sqrt_price_x96``
/// and ``tick`` with the active ``liquidity``. Within a range the liquidity is constant and a
/// swap follows ``Δ(1/√P) = Δx/L`` (token0 in) or ``Δ√P = Δy/L`` (token1 in), the fee taken on
/// the input; crossing an initialised tick adds its ``liquidity_net`` upward and subtracts it
/// downward. Where no liquidity lies beyond, a swap fills partially.
///
/// The asset is token0 (``base_is_token0=True``, then the quote is token1) or token1, and a sale
/// of it swaps it in. Quantities and prices are in whole tokens: the raw price
/// ``(sqrtPriceX96/2^96)²`` (token1 wei per token0 wei) times ``10^(decimals0 − decimals1)``.
/// ``fee`` is a fee tier as a fraction (``feeTier / 1e6``: 0.0001, 0.0005, 0.003 or 0.01).
/// Big integers may be Python ints or strings of digits; ``tick=None`` takes the tick of
/// ``sqrt_price_x96``. ``advance(dt, reference)`` lets arbitrageurs swap the pool until its bid
/// (or ask) is the reference, the constant-product pool's fee band.
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> pool = dl.ConcentratedPool([40_000, 50_000], [1_000, -1_000], sqrt_price_x96=10 * 2**96,
/// ...                            liquidity=1_000, fee=0.003, decimals0=0, decimals1=0)
/// >>> pool.mid, pool.tick
/// (100.0, 46054)
/// >>> fill = pool.sell(1.0)   # 1/√P' = 1/10 + 0.997/1000
/// >>> round(fill.notional, 10), round(pool.sqrt_price_x96 / 2**96, 10)
/// (98.7158034397, 9.9012841966)
#[pyclass(frozen, extends = PyVenue, name = "ConcentratedPool", module = "deleverage._core")]
pub struct PyConcentrated;

fn with_concentrated<R>(
    slf: &Bound<'_, PyConcentrated>,
    f: impl FnOnce(&ConcentratedPool) -> R,
) -> PyResult<R> {
    let g = lock(&slf.as_super().get().inner)?;
    match &*g {
        AnyVenue::Concentrated(p) => Ok(f(p)),
        _ => Err(
            BindingError::Internal("ConcentratedPool holds another kind of venue".to_owned())
                .into(),
        ),
    }
}

/// The tick argument: `None`, or a whole number.
fn opt_tick(tick: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    match tick {
        None => Ok(None),
        Some(t) if t.is_none() => Ok(None),
        Some(t) => {
            let v = convert::big_int(t, "tick")?;
            Ok(Some(i64::try_from(v).map_err(|_| {
                BindingError::from(deleverage_core::Error::OutOfRange {
                    field: "tick".to_owned(),
                    value: v as f64,
                    expected: "a tick within TickMath's bounds -887272 and 887272",
                })
            })?))
        }
    }
}

/// The pool and its Python object, from converted columns and scalars.
#[allow(clippy::too_many_arguments, reason = "mirrors the Python signature")]
fn new_concentrated(
    py: Python<'_>,
    ticks: Vec<i64>,
    liquidity_net: Vec<i128>,
    sqrt_price_x96: f64,
    tick: Option<i64>,
    liquidity: i128,
    fee: f64,
    decimals: (i64, i64),
    base_is_token0: bool,
) -> PyResult<PyClassInitializer<PyConcentrated>> {
    let state = TickState {
        ticks,
        liquidity_net,
        sqrt_price_x96,
        tick,
        liquidity,
        fee,
        decimals0: decimals.0,
        decimals1: decimals.1,
        base_is_token0,
    };
    let pool = py
        .detach(|| ConcentratedPool::new(state))
        .map_err(BindingError::from)?;
    Ok(PyClassInitializer::from(PyVenue::new(pool.into())).add_subclass(PyConcentrated))
}

/// The first of `names` that `frame` has as a column.
fn frame_column<'py>(
    frame: &Bound<'py, PyAny>,
    names: &[&str],
) -> PyResult<Option<Bound<'py, PyAny>>> {
    for name in names {
        if frame.contains(*name).unwrap_or(false) {
            return Ok(Some(frame.get_item(*name)?));
        }
    }
    Ok(None)
}

#[pymethods]
impl PyConcentrated {
    #[new]
    #[pyo3(signature = (ticks, liquidity_net, *, sqrt_price_x96, liquidity, tick=None, fee=0.003, decimals0=18, decimals1=18, base_is_token0=true))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature")]
    fn new(
        py: Python<'_>,
        ticks: &Bound<'_, PyAny>,
        liquidity_net: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = convert::num_or_digits)] sqrt_price_x96: f64,
        liquidity: &Bound<'_, PyAny>,
        tick: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = convert::num)] fee: f64,
        #[pyo3(from_py_with = convert::whole)] decimals0: i64,
        #[pyo3(from_py_with = convert::whole)] decimals1: i64,
        base_is_token0: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let ticks = convert::int_column(ticks, "ticks")?;
        let net = convert::big_int_column(liquidity_net, "liquidity_net")?;
        let liquidity = convert::big_int(liquidity, "liquidity")?;
        let tick = opt_tick(tick)?;
        new_concentrated(
            py,
            ticks,
            net,
            sqrt_price_x96,
            tick,
            liquidity,
            fee,
            (decimals0, decimals1),
            base_is_token0,
        )
    }

    /// A pool from a frame of its initialised ticks: a Polars DataFrame (or a dict of columns)
    /// with ``tick`` (or the subgraph's ``tickIdx``) and ``liquidityNet`` (or
    /// ``liquidity_net``), plus ``slot0`` and the active liquidity as for the constructor.
    ///
    /// Examples
    /// --------
    /// >>> import polars as pl, deleverage as dl
    /// >>> ticks = pl.DataFrame({"tickIdx": [-600, 600], "liquidityNet": ["10000", "-10000"]})
    /// >>> pool = dl.ConcentratedPool.from_frame(ticks, sqrt_price_x96=str(2**96),
    /// ...                                       liquidity="10000", fee=0.0005)
    /// >>> pool.mid, pool.tick, pool.liquidity
    /// (1.0, 0, 10000)
    #[staticmethod]
    #[pyo3(signature = (frame, *, sqrt_price_x96, liquidity, tick=None, fee=0.003, decimals0=18, decimals1=18, base_is_token0=true))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature")]
    fn from_frame(
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = convert::num_or_digits)] sqrt_price_x96: f64,
        liquidity: &Bound<'_, PyAny>,
        tick: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = convert::num)] fee: f64,
        #[pyo3(from_py_with = convert::whole)] decimals0: i64,
        #[pyo3(from_py_with = convert::whole)] decimals1: i64,
        base_is_token0: bool,
    ) -> PyResult<Py<Self>> {
        let ticks = frame_column(frame, &["tick", "tickIdx"])?.ok_or_else(|| {
            BindingError::Scenario(
                "frame has no 'tick' (or 'tickIdx') column; expected the initialised ticks"
                    .to_owned(),
            )
        })?;
        let net = frame_column(frame, &["liquidityNet", "liquidity_net"])?.ok_or_else(|| {
            BindingError::Scenario(
                "frame has no 'liquidityNet' (or 'liquidity_net') column; expected each \
                 tick's liquidityNet"
                    .to_owned(),
            )
        })?;
        let ticks = convert::int_column(&ticks, "tick")?;
        let net = convert::big_int_column(&net, "liquidityNet")?;
        // A subgraph answers in id order: the ticks in ascending order, with their net.
        let mut pairs: Vec<(i64, i128)> = ticks.into_iter().zip(net).collect();
        pairs.sort_by_key(|p| p.0);
        let (ticks, net): (Vec<i64>, Vec<i128>) = pairs.into_iter().unzip();
        let liquidity = convert::big_int(liquidity, "liquidity")?;
        let tick = opt_tick(tick)?;
        let init = new_concentrated(
            py,
            ticks,
            net,
            sqrt_price_x96,
            tick,
            liquidity,
            fee,
            (decimals0, decimals1),
            base_is_token0,
        )?;
        Py::new(py, init)
    }

    /// ``sqrtPriceX96`` at ``tick``: TickMath's ``getSqrtRatioAtTick``, ``√(1.0001^tick)·2^96``,
    /// in floating point (within 3e-15 of the contract's integer).
    ///
    /// Examples
    /// --------
    /// >>> import deleverage as dl
    /// >>> dl.ConcentratedPool.sqrt_price_x96_at_tick(0) == 2**96
    /// True
    /// >>> round(dl.ConcentratedPool.sqrt_price_x96_at_tick(100) / 2**96, 12)   # 1.0001^50
    /// 1.005012269623
    #[staticmethod]
    fn sqrt_price_x96_at_tick(#[pyo3(from_py_with = convert::whole)] tick: i64) -> PyResult<f64> {
        if !(deleverage_core::venue::concentrated::MIN_TICK
            ..=deleverage_core::venue::concentrated::MAX_TICK)
            .contains(&tick)
        {
            return Err(BindingError::from(deleverage_core::Error::OutOfRange {
                field: "tick".to_owned(),
                value: tick as f64,
                expected: "a tick within TickMath's bounds -887272 and 887272",
            })
            .into());
        }
        Ok(sqrt_ratio_at_tick(tick) * 79_228_162_514_264_337_593_543_950_336.0)
    }

    /// The initialised ticks.
    #[getter]
    fn ticks(slf: &Bound<'_, Self>) -> PyResult<Vec<i64>> {
        with_concentrated(slf, |p| p.ticks().iter().map(|&t| i64::from(t)).collect())
    }

    /// ``liquidityNet`` of each initialised tick, as Python ints.
    #[getter]
    fn liquidity_net(slf: &Bound<'_, Self>) -> PyResult<Vec<i128>> {
        with_concentrated(slf, |p| p.liquidity_net().to_vec())
    }

    /// The current ``sqrtPriceX96`` (a float).
    #[getter]
    fn sqrt_price_x96(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_concentrated(slf, |p| p.sqrt_price_x96())
    }

    /// The current tick, as ``slot0.tick`` reads.
    #[getter]
    fn tick(slf: &Bound<'_, Self>) -> PyResult<i64> {
        with_concentrated(slf, |p| p.tick())
    }

    /// The active liquidity (of the range the price is in), an int.
    #[getter]
    fn liquidity(slf: &Bound<'_, Self>) -> PyResult<i128> {
        with_concentrated(slf, |p| p.liquidity())
    }

    /// The fee tier as a fraction of the input (``feePips / 1e6``).
    #[getter]
    fn fee(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_concentrated(slf, |p| p.fee())
    }

    /// The fee tier in pips, as the contract stores it (100, 500, 3000 or 10000).
    #[getter]
    fn fee_pips(slf: &Bound<'_, Self>) -> PyResult<u32> {
        with_concentrated(slf, |p| p.fee_pips())
    }

    /// Decimals of token0.
    #[getter]
    fn decimals0(slf: &Bound<'_, Self>) -> PyResult<u32> {
        with_concentrated(slf, |p| p.decimals0())
    }

    /// Decimals of token1.
    #[getter]
    fn decimals1(slf: &Bound<'_, Self>) -> PyResult<u32> {
        with_concentrated(slf, |p| p.decimals1())
    }

    /// Whether the asset is the pool's token0 (else token1).
    #[getter]
    fn base_is_token0(slf: &Bound<'_, Self>) -> PyResult<bool> {
        with_concentrated(slf, |p| p.base_is_token0())
    }

    /// The pool's own price: whole token1 per whole token0 (``mid`` is the asset's price in
    /// quote, its inverse when the asset is token1).
    #[getter]
    fn price(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_concentrated(slf, |p| p.price())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        with_concentrated(slf, |p| {
            format!(
                "ConcentratedPool(ticks={}, tick={}, liquidity={}, price={}, fee={}, \
                 decimals0={}, decimals1={}, base_is_token0={})",
                p.ticks().len(),
                p.tick(),
                p.liquidity(),
                p.price(),
                p.fee(),
                p.decimals0(),
                p.decimals1(),
                if p.base_is_token0() { "True" } else { "False" }
            )
        })
    }
}
