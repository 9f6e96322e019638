//! `deleverage._core.sweep`: many seeded runs of one scenario spec on a rayon pool, with the GIL
//! released; one summary row per run, as numpy columns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use deleverage_core::sweep::{SweepSpec, sweep_until};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::BindingError;
use crate::spec::{Spec, convert_spec};

/// Runs `first..last` of a sweep of `spec` (its shock generated with seeds derived from its
/// seed) on `threads` threads (`None`: one per core).
#[pyfunction]
#[pyo3(signature = (spec, first, last, threads=None))]
pub fn sweep<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyDict>,
    first: u32,
    last: u32,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    if last < first {
        return Err(BindingError::Scenario(format!(
            "runs must be first <= last, got {first}..{last}"
        ))
        .into());
    }
    let Spec {
        scenario,
        path,
        steps,
        seed,
        max_extra,
        ..
    } = convert_spec(spec)?.without_replay()?;
    let n = scenario.assets.len();
    let sp = SweepSpec {
        path,
        steps,
        seed,
        max_extra_steps: max_extra,
    };
    // The sweep runs on its own thread with the GIL released; this thread waits for it at most
    // 20 ms at a time, looking at Python's signal handlers in between, and on Ctrl-C sets the
    // flag every run polls before each step, so the sweep stops within a step of every run in
    // flight. A finished sweep wakes it at once (a short chunk costs no 20 ms wait).
    let stop = AtomicBool::new(false);
    let (c, signal) = py.detach(|| {
        let (done, finished) = mpsc::channel();
        let mut signal: Option<PyErr> = None;
        let c = std::thread::scope(|s| {
            let (scenario, sp, stop) = (&scenario, &sp, &stop);
            // The sender moves into the thread: if the sweep panics, unwinding drops it and
            // the wait below ends too.
            let h = s.spawn(move || {
                let out = sweep_until(scenario, sp, first..last, threads, stop);
                // The receiver lives until the scope ends; the send cannot fail.
                let _ = done.send(());
                out
            });
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                finished.recv_timeout(Duration::from_millis(20))
            {
                if signal.is_none()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    signal = Some(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            h.join()
        });
        (c, signal)
    });
    if let Some(e) = signal {
        return Err(e);
    }
    let c = c
        .map_err(|_| BindingError::Internal("the sweep's thread panicked".to_owned()))?
        .map_err(BindingError::from)?;
    let out = PyDict::new(py);
    out.set_item("n_assets", n)?;
    out.set_item("run", c.run.into_pyarray(py))?;
    out.set_item("seed", c.seed.into_pyarray(py))?;
    out.set_item("liquidations", c.liquidations.into_pyarray(py))?;
    out.set_item(
        "liquidated_notional",
        c.liquidated_notional.into_pyarray(py),
    )?;
    out.set_item("bad_debt", c.bad_debt.into_pyarray(py))?;
    out.set_item("insurance_fund_min", c.insurance_fund_min.into_pyarray(py))?;
    out.set_item("steps_run", c.steps_run.into_pyarray(py))?;
    out.set_item("quiet", c.quiet.into_pyarray(py))?;
    out.set_item("min_mid", c.min_mid.into_pyarray(py))?;
    out.set_item("min_reference", c.min_reference.into_pyarray(py))?;
    Ok(out)
}
