//! Maps core errors to the Python exception hierarchy of `deleverage.exceptions`.
//!
//! The orphan rule forbids `impl From<deleverage_core::Error> for PyErr` here, so errors pass
//! through the local wrapper `BindingError`. The exception classes are defined in Python (so that
//! `ScenarioError` can subclass both `DeleverageError` and `ValueError`) and looked up once.

use deleverage_core::Error as CoreError;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
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
    /// An argument of the wrong type, before its name is known: the message starts with
    /// "must be"; PyO3 then notes the argument and `ScenarioError.add_note` names it.
    Argument(String),
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

/// Where an error points: the attributes every `DeleverageError` carries (`None` where they do
/// not apply), set here from the core's structured error, so that Python never parses messages.
#[derive(Debug, Default)]
struct Location {
    field: Option<String>,
    value: Option<f64>,
    protocol: Option<u32>,
    index: Option<usize>,
    /// The message without its place in a list (a reserve's own error).
    detail: Option<String>,
}

impl Location {
    fn of(e: &CoreError) -> Self {
        let (protocol, index) = e.location();
        Location {
            field: e.field().map(str::to_owned),
            value: e.value(),
            protocol,
            index,
            detail: Some(e.detail()),
        }
    }
}

fn raise(
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    msg: String,
    fallback: fn(String) -> PyErr,
    at: Location,
) -> PyErr {
    Python::attach(|py| match exception_type(py, cell, name) {
        Some(ty) => {
            let err = PyErr::from_type(ty, msg);
            let v = err.value(py);
            // Setting attributes on a fresh exception instance cannot fail in practice; if it
            // did, the exception still carries its message.
            let _ = v.setattr("field", at.field);
            let _ = v.setattr("value", at.value);
            let _ = v.setattr("protocol", at.protocol);
            let _ = v.setattr("index", at.index);
            let _ = v.setattr("detail", at.detail);
            err
        }
        // Only when `_core` is used without its Python package.
        None => fallback(msg),
    })
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> PyErr {
        match e {
            BindingError::Core(core) => match core {
                CoreError::Interrupted => {
                    pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")
                }
                CoreError::Diverged { .. } => raise(
                    &DELEVERAGE_ERROR,
                    "DeleverageError",
                    core.to_string(),
                    PyRuntimeError::new_err,
                    Location::of(&core),
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
                | CoreError::UnknownName { .. }
                | CoreError::Row { .. }
                | CoreError::State { .. }
                | CoreError::Refused { .. }
                | CoreError::Take { .. }
                | CoreError::DuplicateVenue { .. }
                | CoreError::TooLarge { .. } => raise(
                    &SCENARIO_ERROR,
                    "ScenarioError",
                    core.to_string(),
                    PyValueError::new_err,
                    Location::of(&core),
                ),
            },
            BindingError::Scenario(msg) => raise(
                &SCENARIO_ERROR,
                "ScenarioError",
                msg,
                PyValueError::new_err,
                Location::default(),
            ),
            BindingError::Argument(msg) => {
                let err = raise(
                    &SCENARIO_ERROR,
                    "ScenarioError",
                    msg,
                    PyTypeError::new_err,
                    Location::default(),
                );
                Python::attach(|py| {
                    let _ = err.value(py).setattr("_argument", true);
                });
                err
            }
            BindingError::Internal(msg) => raise(
                &DELEVERAGE_ERROR,
                "DeleverageError",
                msg,
                PyRuntimeError::new_err,
                Location::default(),
            ),
        }
    }
}

/// Result type of binding functions.
pub type BindingResult<T> = Result<T, BindingError>;
