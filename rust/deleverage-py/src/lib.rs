//! PyO3 bindings of `deleverage-core`, compiled as `deleverage._core`.
//!
//! Bindings only convert: validate and convert the arguments, release the GIL, call the core,
//! convert the result. No mechanics live here.
#![forbid(unsafe_code)]

mod columns;
mod convert;
mod engine;
mod errors;
mod fill;
mod pools;
mod router;
mod simulate;
mod spec;
mod sweep;
mod venues;

use pyo3::prelude::*;

#[pymodule]
mod _core {
    #[pymodule_export]
    use super::columns::PendingTable;
    #[pymodule_export]
    use super::engine::{PyEngine, PyStepReport};
    #[pymodule_export]
    use super::fill::PyFill;
    #[pymodule_export]
    use super::pools::{PyConcentrated, PyPool, PyStableSwap};
    #[pymodule_export]
    use super::router::{PyArbTrade, PyRouter};
    #[pymodule_export]
    use super::simulate::simulate;
    #[pymodule_export]
    use super::spec::breached;
    #[pymodule_export]
    use super::spec::check_lending;
    #[pymodule_export]
    use super::spec::maintenance_margin;
    #[pymodule_export]
    use super::sweep::sweep;
    #[pymodule_export]
    use super::venues::{_venue_from_bytes, PyCurve, PyOrderBook, PyVenue};

    use super::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        // The labels of every code column the core writes (event kinds, statuses), by enum.
        let names = pyo3::types::PyDict::new(m.py());
        for (name, labels) in deleverage_core::enum_names() {
            names.set_item(name, labels.to_vec())?;
        }
        m.add("ENUM_NAMES", names)?;
        // The year a shock's annual volatility, drift and jump intensity are per (24/7 trading).
        m.add("SECONDS_PER_YEAR", deleverage_core::path::SECONDS_PER_YEAR)?;
        Ok(())
    }
}
