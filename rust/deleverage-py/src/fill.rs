//! `deleverage.Fill`: the report of one market order.

use deleverage_core::{Fill, Side};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What a market order got on a venue or across a router.
///
/// A venue that runs dry fills partially and reports the rest as ``unfilled``; it never invents a
/// price, so with nothing filled ``vwap``, ``first_price`` and ``last_price`` are ``None``.
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> pool = dl.ConstantProductPool(base_reserve=2_500.0, quote_reserve=7_450_000.0, fee=0.003)
/// >>> fill = pool.sell(36.0)
/// >>> round(fill.notional, 6), round(fill.vwap, 6), fill.unfilled
/// (105444.317029, 2929.008806, 0.0)
#[pyclass(frozen, name = "Fill", module = "deleverage._core")]
pub struct PyFill {
    inner: Fill,
    parts: Vec<Fill>,
}

impl PyFill {
    pub fn new(inner: Fill) -> Self {
        PyFill {
            inner,
            parts: Vec::new(),
        }
    }

    pub fn routed(inner: Fill, parts: Vec<Fill>) -> Self {
        PyFill { inner, parts }
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Sell => "sell",
        Side::Buy => "buy",
    }
}

#[pymethods]
impl PyFill {
    /// ``"sell"`` or ``"buy"``, from the taker's side.
    #[getter]
    fn side(&self) -> &'static str {
        side_name(self.inner.side)
    }

    /// Quantity asked for, in asset units.
    #[getter]
    fn requested(&self) -> f64 {
        self.inner.requested
    }

    /// Quantity executed.
    #[getter]
    fn filled(&self) -> f64 {
        self.inner.filled
    }

    /// Quantity that found no counterpart: ``requested - filled``.
    #[getter]
    fn unfilled(&self) -> f64 {
        self.inner.unfilled()
    }

    /// Quote received (sell) or paid (buy).
    #[getter]
    fn notional(&self) -> f64 {
        self.inner.notional
    }

    /// Volume-weighted average price, ``None`` when nothing filled.
    #[getter]
    fn vwap(&self) -> Option<f64> {
        self.inner.vwap()
    }

    /// Price of the first unit (a pool: its best quote before the swap).
    #[getter]
    fn first_price(&self) -> Option<f64> {
        self.inner.first_price
    }

    /// Price of the last unit (a pool: its best quote after the swap).
    #[getter]
    fn last_price(&self) -> Option<f64> {
        self.inner.last_price
    }

    /// Price levels that gave quantity (1 for a pool swap or an impact-curve trade).
    #[getter]
    fn levels(&self) -> u32 {
        self.inner.levels
    }

    /// ``"filled"``, ``"partial"`` or ``"empty"``.
    #[getter]
    fn status(&self) -> &'static str {
        if self.inner.filled <= 0.0 && self.inner.requested > 0.0 {
            "empty"
        } else if self.inner.is_complete() {
            "filled"
        } else {
            "partial"
        }
    }

    /// For a routed order, the fill of each venue in the router's order; empty otherwise.
    #[getter]
    fn parts(&self) -> Vec<PyFill> {
        self.parts.iter().map(|f| PyFill::new(*f)).collect()
    }

    /// The fields as a plain dict (without ``parts``).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("side", self.side())?;
        d.set_item("requested", self.inner.requested)?;
        d.set_item("filled", self.inner.filled)?;
        d.set_item("unfilled", self.inner.unfilled())?;
        d.set_item("notional", self.inner.notional)?;
        d.set_item("vwap", self.inner.vwap())?;
        d.set_item("first_price", self.inner.first_price)?;
        d.set_item("last_price", self.inner.last_price)?;
        d.set_item("levels", self.inner.levels)?;
        d.set_item("status", self.status())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let opt = |v: Option<f64>| v.map_or_else(|| "None".to_owned(), |x| format!("{x}"));
        format!(
            "Fill(side={:?}, requested={}, filled={}, notional={}, vwap={}, first_price={}, last_price={}, levels={})",
            self.side(),
            self.inner.requested,
            self.inner.filled,
            self.inner.notional,
            opt(self.inner.vwap()),
            opt(self.inner.first_price),
            opt(self.inner.last_price),
            self.inner.levels,
        )
    }
}
