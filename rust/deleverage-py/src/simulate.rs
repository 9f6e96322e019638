//! `deleverage._core.simulate`: converts a scenario spec, builds an engine and runs it to quiet
//! with the GIL released (the one loop, `Engine::run`; Ctrl-C is seen every few steps), and
//! returns every recorded table as numpy columns moved out of Rust without copying.

use deleverage_core::Engine;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::columns;
use crate::errors::BindingError;
use crate::spec::{Spec, convert_spec};

/// Steps between two looks at Python's signal handlers (Ctrl-C).
const SIGNAL_STEPS: u32 = 32;

/// Runs a scenario spec to quiet and returns its columns.
#[pyfunction]
#[pyo3(signature = (spec))]
pub fn simulate<'py>(py: Python<'py>, spec: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let Spec {
        scenario,
        path,
        steps,
        seed,
        max_extra,
    } = convert_spec(spec)?;
    let initial = scenario.initial_prices();
    let step_seconds = scenario.step_seconds;
    let mut signal: Option<PyErr> = None;
    let engine = py
        .detach(|| -> deleverage_core::Result<Engine> {
            let rows = path.generate(&initial, steps, step_seconds, seed)?;
            let mut engine = Engine::new(scenario, seed)?;
            let mut k = 0u32;
            engine.run(&rows, max_extra, || {
                k = k.wrapping_add(1);
                if k.is_multiple_of(SIGNAL_STEPS) {
                    signal = Python::attach(|py| py.check_signals().err());
                }
                signal.is_some()
            })?;
            Ok(engine)
        })
        .map_err(BindingError::from)?;
    if let Some(e) = signal {
        return Err(e);
    }
    into_dict(py, engine)
}

/// A finished engine's tables and totals: `events`, `steps`, `families` (one dict per family,
/// its final-state tables and ledger) and `meta` (the run's totals).
pub fn into_dict<'py>(py: Python<'py>, mut engine: Engine) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    // The lending accounts table reads the events: build the families' tables first.
    out.set_item("families", columns::families(py, &engine)?)?;
    out.set_item("meta", columns::values(py, engine.totals())?)?;
    let (ev, st) = engine.take_records();
    out.set_item("events", columns::table(py, ev.into_table())?)?;
    out.set_item("steps", columns::table(py, st.into_table())?)?;
    Ok(out)
}
