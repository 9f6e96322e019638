//! `deleverage._core.sweep`: many seeded runs of one scenario spec on a rayon pool, with the GIL
//! released; one summary row per run, as numpy columns.

use deleverage_core::sweep::{SweepSpec, sweep as core_sweep};
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
        replay,
    } = convert_spec(spec)?;
    if !replay.is_empty() {
        return Err(BindingError::Scenario(
            "recorded book snapshots are replayed by deleverage.Engine (and simulate); this \
             entry point does not replay them"
                .to_owned(),
        )
        .into());
    }
    let n = scenario.assets.len();
    let sp = SweepSpec {
        path,
        steps,
        seed,
        max_extra_steps: max_extra,
    };
    let c = py
        .detach(|| core_sweep(&scenario, &sp, first..last, threads))
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
