//! Any table the core hands out ([`Table`]: events, steps, every family's final state) into a
//! dict of numpy columns, moved out of Rust without copying, under the names the core gave them;
//! and named values ([`Values`]: totals, ledgers) into a dict of Python numbers and lists.

use std::sync::Mutex;

use deleverage_core::{Column, Engine, Family, ForcedSeller, Table, Value, Values};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::BindingError;

/// The columns of `table` as numpy arrays (moved, no copy). Negative zeros (a sum of opposite
/// amounts, a product with −1) become 0: a frame never shows `-0.0`. A column that is one value
/// repeated ([`Column::Repeated`]) becomes a read-only numpy view of that one value (stride 0,
/// no memory per row), which the frames turn into a Polars literal column.
pub fn table<'py>(py: Python<'py>, table: Table) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, col) in table.columns {
        d.set_item(name, array(py, col)?)?;
    }
    Ok(d)
}

fn array<'py>(py: Python<'py>, col: Column) -> PyResult<Bound<'py, PyAny>> {
    Ok(match col {
        Column::F64(mut v) => {
            v.iter_mut().for_each(|x| *x += 0.0);
            v.into_pyarray(py).into_any()
        }
        Column::U64(v) => v.into_pyarray(py).into_any(),
        Column::U32(v) => v.into_pyarray(py).into_any(),
        Column::U8(v) => v.into_pyarray(py).into_any(),
        Column::Bool(v) => v.into_pyarray(py).into_any(),
        Column::Repeated(one, n) => {
            let one = array(py, *one)?;
            py.import("numpy")?
                .getattr("broadcast_to")?
                .call1((one, (n,)))?
        }
    })
}

/// Named values as a dict: numbers, `None`, and numpy arrays or lists for the vectors.
pub fn values<'py>(py: Python<'py>, values: Values) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, v) in values {
        match v {
            Value::F64(x) => d.set_item(name, x + 0.0)?,
            Value::U64(x) => d.set_item(name, x)?,
            Value::Bool(x) => d.set_item(name, x)?,
            Value::OptU32(x) => d.set_item(name, x)?,
            Value::F64s(x) => d.set_item(name, x.into_pyarray(py))?,
            Value::OptF64s(x) => d.set_item(name, x)?,
            Value::Rows(x) => d.set_item(name, x)?,
        }
    }
    Ok(d)
}

/// Every family of `engine`, in scenario order: `{"kind": …, <table name>: columns, …,
/// "ledger": values}`, and for a lending family `"accounts_liquidated"` (the summary's count).
pub fn families<'py>(py: Python<'py>, engine: &Engine) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (k, f) in engine.families().iter().enumerate() {
        let d = family_dict(py, f)?;
        for (name, t) in engine.family_tables(k) {
            d.set_item(name, table(py, t)?)?;
        }
        out.append(d)?;
    }
    Ok(out)
}

/// [`families`] of a finished engine, consumed: a lending family's `"accounts"` and a perp
/// exchange's `"positions"` are [`PendingTable`]s, computed when Python first reads them (the
/// largest part of finishing a large run: every account's health, every position's liquidation
/// and bankruptcy prices, at the final prices, in the caller's order). A run read for its
/// summary alone never computes them.
pub fn finished_families<'py>(py: Python<'py>, engine: Engine) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let mut dicts = Vec::with_capacity(engine.families().len());
    for (k, f) in engine.families().iter().enumerate() {
        let d = family_dict(py, f)?;
        // A lending family's one table is its accounts, a perp exchange's its positions: both
        // left pending below.
        if !matches!(f, Family::Lending(_) | Family::Perps(_)) {
            for (name, t) in engine.family_tables(k) {
                d.set_item(name, table(py, t)?)?;
            }
        }
        dicts.push(d);
    }
    for ((f, px), d) in engine.into_families().into_iter().zip(dicts) {
        match f {
            Family::Lending(market) => {
                let market = market.into_finished();
                let build = move || market.account_table_at(&px).into_table();
                d.set_item("accounts", PendingTable::new(py, Box::new(build))?)?;
            }
            Family::Perps(exchange) => {
                let build = move || exchange.table(&px).into_table();
                d.set_item("positions", PendingTable::new(py, Box::new(build))?)?;
            }
            _ => {}
        }
        out.append(d)?;
    }
    Ok(out)
}

/// A family's kind and ledger (and a lending family's count of accounts liquidated).
fn family_dict<'py>(py: Python<'py>, f: &Family) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", f.kind())?;
    if let Some(l) = f.as_lending() {
        d.set_item("accounts_liquidated", l.accounts_liquidated())?;
    }
    d.set_item("ledger", values(py, f.ledger())?)?;
    Ok(d)
}

/// A finished family's final-state table, computed when it is first read (see
/// [`finished_families`]); `build` gives its columns once and releases the family.
#[pyclass(frozen, name = "PendingTable", module = "deleverage._core")]
pub struct PendingTable {
    build: Mutex<Option<Build>>,
}

/// What computes a pending table: the finished family moved in.
type Build = Box<dyn FnOnce() -> Table + Send>;

impl PendingTable {
    fn new(py: Python<'_>, build: Build) -> PyResult<Py<PendingTable>> {
        Py::new(
            py,
            PendingTable {
                build: Mutex::new(Some(build)),
            },
        )
    }
}

#[pymethods]
impl PendingTable {
    /// The table's columns, as [`table`] gives them.
    fn build<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let build = self
            .build
            .lock()
            .map_err(|_| BindingError::Internal("a pending table's lock was poisoned".to_owned()))?
            .take()
            .ok_or_else(|| BindingError::Internal("this table was built already".to_owned()))?;
        let t = py.detach(build);
        table(py, t)
    }
}
