//! `serde_json::Value` → Python objects (dict/list/str/int/float/bool/None).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::Value;

use super::core::is_lossy_float;

enum Stop {
    Py(PyErr),
    /// A number whose text serde_json could not keep exactly (see `is_lossy_float`).
    Lossy,
}

impl From<PyErr> for Stop {
    fn from(err: PyErr) -> Self {
        Self::Py(err)
    }
}

/// The parsed document as a Python object, equal to what `json.loads(raw)` returns.
///
/// Integers beyond 64 bits and `-0` are rare; when one occurs the document is re-read with
/// `json.loads` so that it keeps Python's exact integers.
pub fn document<'py>(py: Python<'py>, value: &Value, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match to_py(py, value) {
        Ok(obj) => Ok(obj),
        Err(Stop::Py(err)) => Err(err),
        Err(Stop::Lossy) => py
            .import("json")?
            .getattr("loads")?
            .call1((PyBytes::new(py, raw),)),
    }
}

// Recursion is bounded: serde_json refuses documents nested 128 deep.
fn to_py<'py>(py: Python<'py>, value: &Value) -> Result<Bound<'py, PyAny>, Stop> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                PyInt::new(py, i).into_any()
            } else if let Some(u) = n.as_u64() {
                PyInt::new(py, u).into_any()
            } else {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if is_lossy_float(x) {
                    return Err(Stop::Lossy);
                }
                PyFloat::new(py, x).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let objs = items
                .iter()
                .map(|item| to_py(py, item))
                .collect::<Result<Vec<_>, Stop>>()?;
            PyList::new(py, objs)?.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(PyString::new(py, key), to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
