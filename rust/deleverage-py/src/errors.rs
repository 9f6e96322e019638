//! Maps core errors to the Python exception hierarchy of `deleverage.exceptions`.
//!
//! The orphan rule forbids `impl From<deleverage_core::Error> for PyErr` here, so errors pass
//! through the local wrapper `BindingError`. The exception classes are defined in Python (so that
//! `ScenarioError` can subclass both `DeleverageError` and `ValueError`) and looked up once.

use deleverage_core::Error as CoreError;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Every error a binding function can raise.
#[derive(Debug)]
pub enum BindingError {
    /// Bad input or parameters, refused by the core.
    Core(CoreError),
    /// Bad input detected during conversion (a wrong type, an unknown side).
    Scenario(String),
    /// Internal state that an earlier failure left unusable.
    Internal(String),
}

impl From<CoreError> for BindingError {
    fn from(e: CoreError) -> Self {
        BindingError::Core(e)
    }
}

static SCENARIO_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DELEVERAGE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn exception_type<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> Option<Bound<'py, PyType>> {
    cell.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        let module = py.import("deleverage.exceptions")?;
        Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
    })
    .ok()
    .map(|t| t.bind(py).clone())
}

fn raise(
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    msg: String,
    fallback: fn(String) -> PyErr,
) -> PyErr {
    Python::attach(|py| match exception_type(py, cell, name) {
        Some(ty) => PyErr::from_type(ty, msg),
        // Only when `_core` is used without its Python package.
        None => fallback(msg),
    })
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> PyErr {
        match e {
            BindingError::Core(core) => match core {
                CoreError::Diverged { .. } => raise(
                    &DELEVERAGE_ERROR,
                    "DeleverageError",
                    core.to_string(),
                    PyRuntimeError::new_err,
                ),
                CoreError::NotFinite { .. }
                | CoreError::NotPositive { .. }
                | CoreError::Negative { .. }
                | CoreError::OutOfRange { .. }
                | CoreError::Unsorted { .. }
                | CoreError::Crossed { .. }
                | CoreError::LengthMismatch { .. }
                | CoreError::Empty { .. }
                | CoreError::Missing { .. }
                | CoreError::Incompatible { .. }
                | CoreError::DuplicateVenue { .. } => raise(
                    &SCENARIO_ERROR,
                    "ScenarioError",
                    core.to_string(),
                    PyValueError::new_err,
                ),
            },
            BindingError::Scenario(msg) => {
                raise(&SCENARIO_ERROR, "ScenarioError", msg, PyValueError::new_err)
            }
            BindingError::Internal(msg) => raise(
                &DELEVERAGE_ERROR,
                "DeleverageError",
                msg,
                PyRuntimeError::new_err,
            ),
        }
    }
}

/// Result type of binding functions.
pub type BindingResult<T> = Result<T, BindingError>;
