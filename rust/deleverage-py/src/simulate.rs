//! `deleverage._core.simulate`: converts a scenario spec, builds an engine and runs it to quiet
//! with the GIL released (the one loop, `Engine::run`; Ctrl-C is seen every few steps), and
//! returns every recorded table as numpy columns moved out of Rust without copying.

use deleverage_core::Engine;
use deleverage_core::session::check_run_size;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::columns;
use crate::errors::BindingError;
use crate::spec::{Spec, convert_spec};

/// Steps between two looks at Python's signal handlers (Ctrl-C).
const SIGNAL_STEPS: u32 = 32;

/// Looks at Python's signal handlers every [`SIGNAL_STEPS`] calls, from inside a GIL-released
/// loop, and keeps the error (a `KeyboardInterrupt`) to raise once the loop has stopped.
#[derive(Default)]
pub struct Signals {
    calls: u32,
    error: Option<PyErr>,
}

impl Signals {
    /// Whether the loop should stop (a signal handler raised).
    pub fn interrupted(&mut self) -> bool {
        self.calls = self.calls.wrapping_add(1);
        if self.error.is_none() && self.calls.is_multiple_of(SIGNAL_STEPS) {
            self.error = Python::attach(|py| py.check_signals().err());
        }
        self.error.is_some()
    }

    /// Raises what a signal handler raised, if anything.
    pub fn raise(self) -> PyResult<()> {
        self.error.map_or(Ok(()), Err)
    }
}

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
        ..
    } = convert_spec(spec)?.without_replay()?;
    let initial = scenario.initial_prices();
    let step_seconds = scenario.step_seconds;
    let mut signals = Signals::default();
    let engine = py
        .detach(|| -> deleverage_core::Result<Engine> {
            check_run_size(initial.len(), steps, max_extra)?;
            let rows = path.generate(&initial, steps, step_seconds, seed)?;
            let mut engine = Engine::new(scenario, seed)?;
            engine.run(&rows, max_extra, || signals.interrupted())?;
            Ok(engine)
        })
        .map_err(BindingError::from)?;
    signals.raise()?;
    into_dict(py, engine)
}

/// A finished engine's tables and totals: `events`, `steps`, `families` (one dict per family,
/// its final-state tables and ledger) and `meta` (the run's totals).
pub fn into_dict<'py>(py: Python<'py>, mut engine: Engine) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("meta", columns::values(py, engine.totals())?)?;
    let rec = engine.take_records();
    out.set_item("events", columns::table(py, rec.events.into_table())?)?;
    out.set_item("steps", columns::table(py, rec.steps.into_table())?)?;
    out.set_item("fills", columns::table(py, rec.fills.into_table())?)?;
    // Last: the lending accounts table is left pending on the finished family.
    out.set_item("families", columns::finished_families(py, engine)?)?;
    Ok(out)
}

/// The same dict for an engine that goes on: the records are copied.
pub fn records_dict<'py>(py: Python<'py>, engine: &Engine) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("families", columns::families(py, engine)?)?;
    out.set_item("meta", columns::values(py, engine.totals())?)?;
    let rec = engine.records();
    out.set_item("events", columns::table(py, rec.events.into_table())?)?;
    out.set_item("steps", columns::table(py, rec.steps.into_table())?)?;
    out.set_item("fills", columns::table(py, rec.fills.into_table())?)?;
    Ok(out)
}
