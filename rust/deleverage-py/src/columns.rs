//! Any table the core hands out ([`Table`]: events, steps, every family's final state) into a
//! dict of numpy columns, moved out of Rust without copying, under the names the core gave them;
//! and named values ([`Values`]: totals, ledgers) into a dict of Python numbers and lists.

use deleverage_core::{Column, Engine, ForcedSeller, Table, Value, Values};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

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
/// "ledger": values}`.
pub fn families<'py>(py: Python<'py>, engine: &Engine) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (k, f) in engine.families().iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("kind", f.kind())?;
        for (name, t) in engine.family_tables(k) {
            d.set_item(name, table(py, t)?)?;
        }
        d.set_item("ledger", values(py, f.ledger())?)?;
        out.append(d)?;
    }
    Ok(out)
}
