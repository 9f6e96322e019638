//! Conversions at the boundary: dict items, sides, optional numbers, numeric columns. Every
//! reader of a spec (`spec/`) goes through these, so a wrong type names its place.

use deleverage_core::{Side, error};
use numpy::PyArray1;
use numpy::prelude::*;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

use crate::errors::{BindingError, BindingResult};

/// `"bid"`/`"sell"` → `Side::Sell`, `"ask"`/`"buy"` → `Side::Buy`.
pub fn side(name: &str) -> BindingResult<Side> {
    match name {
        "bid" | "sell" => Ok(Side::Sell),
        "ask" | "buy" => Ok(Side::Buy),
        other => Err(BindingError::Scenario(format!(
            "side must be 'bid' or 'ask', got {other:?}"
        ))),
    }
}

/// A numpy array's elements: one copy of the memory when it is contiguous, element by element
/// when it is a strided view.
fn to_vec<T: numpy::Element + Copy>(ro: &numpy::PyReadonlyArray1<'_, T>) -> Vec<T> {
    match ro.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => ro.as_array().iter().copied().collect(),
    }
}

/// A 1-D numeric column as an owned vector. Float64 arrays (read-only ones included, as Polars'
/// zero-copy `to_numpy()` gives) are read directly; lists and other numeric arrays are converted.
pub fn column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<f64>> {
    if let Ok(arr) = obj.cast::<PyArray1<f64>>() {
        return Ok(to_vec(&arr.readonly()));
    }
    obj.extract::<Vec<f64>>().map_err(|e| {
        BindingError::Scenario(format!(
            "{field} must be a 1-D sequence of numbers (a numpy array, list or Polars Series): {e}"
        ))
    })
}

/// A quantity argument: finite and `>= 0`.
pub fn qty(field: &str, v: f64) -> BindingResult<f64> {
    Ok(error::non_negative(field, v)?)
}

/// An optional strictly positive argument.
pub fn opt_positive(field: &str, v: Option<f64>) -> BindingResult<Option<f64>> {
    v.map(|x| error::positive(field, x))
        .transpose()
        .map_err(Into::into)
}

/// A count argument: a whole number >= 1.
pub fn count(field: &str, v: i64) -> BindingResult<usize> {
    if v >= 1 {
        usize::try_from(v).map_err(|_| BindingError::Scenario(format!("{field} is too large: {v}")))
    } else {
        Err(BindingError::Scenario(format!(
            "{field} must be >= 1, got {v}"
        )))
    }
}

pub fn item<'py>(
    d: &Bound<'py, PyDict>,
    key: &str,
    place: &str,
) -> BindingResult<Bound<'py, PyAny>> {
    d.get_item(key)
        .map_err(|e| BindingError::Scenario(format!("{place}: {e}")))?
        .ok_or_else(|| BindingError::Scenario(format!("{place} has no '{key}'")))
}

pub fn get<'py, T>(d: &Bound<'py, PyDict>, key: &str, place: &str) -> BindingResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    item(d, key, place)?
        .extract::<T>()
        .map_err(|e| BindingError::Scenario(format!("{place}.{key}: {e}")))
}

pub fn dict<'py>(obj: &Bound<'py, PyAny>, place: &str) -> BindingResult<Bound<'py, PyDict>> {
    obj.cast::<PyDict>()
        .cloned()
        .map_err(|_| BindingError::Scenario(format!("{place} must be a dict")))
}

/// A numeric column read where it is when it is a contiguous numpy array of the element type
/// (the spec's are), converted into a vector of its own otherwise.
pub enum Borrowed<'py, T: numpy::Element> {
    Array(numpy::PyReadonlyArray1<'py, T>),
    Owned(Vec<T>),
}

impl<T: numpy::Element> Borrowed<'_, T> {
    /// The elements. An array checked contiguous when borrowed can only have stopped being
    /// so if Python code reshaped it in place since (a later column's conversion calling back
    /// into Python): an error then, not a panic.
    pub fn slice(&self, field: &str) -> BindingResult<&[T]> {
        match self {
            Borrowed::Array(a) => a.as_slice().map_err(|_| {
                BindingError::Internal(format!("{field} stopped being contiguous while read"))
            }),
            Borrowed::Owned(v) => Ok(v),
        }
    }
}

/// [`column`] (`f64`) or [`u32_column`] (`u32`), borrowed when it can be.
pub fn borrowed<'py, T>(
    obj: &Bound<'py, PyAny>,
    field: &str,
    owned: fn(&Bound<'py, PyAny>, &str) -> BindingResult<Vec<T>>,
) -> BindingResult<Borrowed<'py, T>>
where
    T: numpy::Element,
{
    if let Ok(arr) = obj.cast::<PyArray1<T>>() {
        let ro = arr.readonly();
        if ro.as_slice().is_ok() {
            return Ok(Borrowed::Array(ro));
        }
    }
    owned(obj, field).map(Borrowed::Owned)
}

pub fn u32_column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<u32>> {
    if let Ok(arr) = obj.cast::<PyArray1<u32>>() {
        return Ok(to_vec(&arr.readonly()));
    }
    obj.extract::<Vec<u32>>()
        .map_err(|e| BindingError::Scenario(format!("{field} must be a 1-D array of uint32: {e}")))
}

pub fn bool_column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<bool>> {
    if let Ok(arr) = obj.cast::<PyArray1<bool>>() {
        return Ok(to_vec(&arr.readonly()));
    }
    obj.extract::<Vec<bool>>()
        .map_err(|e| BindingError::Scenario(format!("{field} must be a 1-D array of bool: {e}")))
}

pub fn list<'py>(obj: &Bound<'py, PyAny>, place: &str) -> BindingResult<Bound<'py, PyList>> {
    obj.cast::<PyList>()
        .cloned()
        .map_err(|_| BindingError::Scenario(format!("{place} must be a list")))
}

/// A user's argument of the wrong type: `must be <what>, got <value> (<type>)`. PyO3 notes the
/// argument's name on the exception, and `ScenarioError.add_note` puts it at the front of the
/// message, so that every such error reads `qty must be a number, got '1' (str)`.
fn wrong_type(ob: &Bound<'_, PyAny>, what: &str) -> PyErr {
    let shown = shown(ob);
    let ty = ob
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    BindingError::Argument(format!("must be {what}, got {shown} ({ty})")).into()
}

/// A value for a message: its `repr`, cut at 60 characters.
fn shown(ob: &Bound<'_, PyAny>) -> String {
    let shown = ob
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    if shown.chars().count() > 60 {
        format!("{}...", shown.chars().take(57).collect::<String>())
    } else {
        shown
    }
}

/// Python's `bool` or numpy's `bool_`: a truth value, not a number.
fn is_bool(ob: &Bound<'_, PyAny>) -> bool {
    ob.is_instance_of::<PyBool>()
        || ob
            .get_type()
            .name()
            .is_ok_and(|n| n == "bool" || n == "bool_")
}

/// A side argument (`"bid"`/`"sell"` or `"ask"`/`"buy"`), as a string.
pub fn side_arg(ob: &Bound<'_, PyAny>) -> PyResult<String> {
    ob.extract::<String>()
        .map_err(|_| wrong_type(ob, "'bid' or 'ask' (a string)"))
}

/// A number argument (`#[pyo3(from_py_with = convert::num)]`): an int or a float (numpy's
/// included), not a bool or a string.
pub fn num(ob: &Bound<'_, PyAny>) -> PyResult<f64> {
    if is_bool(ob) {
        return Err(wrong_type(ob, "a number"));
    }
    ob.extract::<f64>().map_err(|_| wrong_type(ob, "a number"))
}

/// An optional number argument: `None` or what [`num`] takes.
pub fn opt_num(ob: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if ob.is_none() {
        Ok(None)
    } else {
        num(ob).map(Some)
    }
}

/// A whole-number argument: an int (numpy's included), not a float, a bool or a string.
pub fn whole(ob: &Bound<'_, PyAny>) -> PyResult<i64> {
    if is_bool(ob) {
        return Err(wrong_type(ob, "a whole number"));
    }
    ob.extract::<i64>()
        .map_err(|_| wrong_type(ob, "a whole number"))
}

/// A float with no fraction within ±2^127, as an integer.
fn whole_float(f: f64) -> Option<i128> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38).then_some(f as i128)
}

/// A whole number that may exceed 2^63 (a liquidity, a `liquidityNet`): an int (numpy's
/// included), a float with no fraction, or a string of digits as the subgraph gives them.
pub fn big_int(ob: &Bound<'_, PyAny>, field: &str) -> BindingResult<i128> {
    let bad = || {
        BindingError::Scenario(format!(
            "{field} must be a whole number (an int, a float with no fraction or a string of \
             digits) within ±2^127, got {}",
            shown(ob)
        ))
    };
    if is_bool(ob) {
        return Err(bad());
    }
    if let Ok(s) = ob.cast::<PyString>() {
        let text = s.to_string();
        let t = text.trim();
        return match t.parse::<i128>() {
            Ok(v) => Ok(v),
            Err(_) => t.parse::<f64>().ok().and_then(whole_float).ok_or_else(bad),
        };
    }
    if let Ok(v) = ob.extract::<i128>() {
        return Ok(v);
    }
    ob.extract::<f64>()
        .ok()
        .and_then(whole_float)
        .ok_or_else(bad)
}

/// A 1-D column of whole numbers that may exceed 2^63 ([`big_int`] for each element): a numpy
/// array, a list or a Polars Series, of ints, whole floats or strings of digits.
pub fn big_int_column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<i128>> {
    if let Ok(arr) = obj.cast::<PyArray1<i64>>() {
        return Ok(arr
            .readonly()
            .as_array()
            .iter()
            .map(|&v| i128::from(v))
            .collect());
    }
    let not_a_column = || {
        BindingError::Scenario(format!(
            "{field} must be a 1-D sequence of whole numbers (a numpy array, list or Polars \
             Series), got {}",
            shown(obj)
        ))
    };
    if obj.cast::<PyString>().is_ok() || obj.cast::<PyDict>().is_ok() {
        return Err(not_a_column());
    }
    let items = obj.try_iter().map_err(|_| not_a_column())?;
    let mut out = Vec::new();
    for (k, item) in items.enumerate() {
        let item = item.map_err(|_| not_a_column())?;
        out.push(big_int(&item, &format!("{field}[{k}]"))?);
    }
    Ok(out)
}

/// A 1-D column of whole numbers within ±2^63 (ticks): as [`big_int_column`].
pub fn int_column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<i64>> {
    big_int_column(obj, field)?
        .into_iter()
        .enumerate()
        .map(|(k, v)| {
            i64::try_from(v).map_err(|_| {
                BindingError::Core(error::Error::OutOfRange {
                    field: format!("{field}[{k}]"),
                    value: v as f64,
                    expected: "a whole number within ±2^63",
                })
            })
        })
        .collect()
}

/// A number argument that may come as a string of digits (a `sqrtPriceX96` from the subgraph):
/// what [`num`] takes, or a string that parses as a number.
pub fn num_or_digits(ob: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(s) = ob.cast::<PyString>() {
        return s
            .to_string()
            .trim()
            .parse::<f64>()
            .map_err(|_| wrong_type(ob, "a number or a string of digits"));
    }
    num(ob)
}
