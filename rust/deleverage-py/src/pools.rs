//! The pools: Uniswap v2's `ConstantProductPool` and Curve's `StableSwapPool`, venues of the
//! shared `Venue` interface (see [`crate::venues`]).

use deleverage_core::{AnyVenue, ConstantProductPool, StableSwapPool};
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
