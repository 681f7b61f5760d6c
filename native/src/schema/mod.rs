//! Schema hot path: parse raw request bytes and validate them against a compiled JSON Schema
//! (draft 2020-12), as thin PyO3 wrappers over the Python-free `core`.

mod convert;
pub mod core;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use self::core::{Issue, Schema};
use crate::errors::{SchemaError, ValidationError};

/// Documents at least this large are parsed and validated with the GIL released.
const DETACH_BYTES: usize = 64 * 1024;

/// A `ValidationError` whose `.errors` lists every `(path, message)`.
fn validation_error(py: Python<'_>, issues: Vec<Issue>) -> PyErr {
    let summary = match issues.first() {
        Some((path, message)) => {
            let path = if path.is_empty() { "(root)" } else { path };
            let more = match issues.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            format!("{path}: {message}{more}")
        }
        None => "document is invalid".to_owned(),
    };
    let err = ValidationError::new_err(summary);
    match PyList::new(py, issues).and_then(|list| err.value(py).setattr("errors", list)) {
        Ok(()) => err,
        Err(setattr_failed) => setattr_failed,
    }
}

#[pyclass(frozen, module = "ccx._native")]
pub struct CompiledSchema {
    inner: Schema,
}

#[pymethods]
impl CompiledSchema {
    #[new]
    fn new(schema: &Bound<'_, PyAny>) -> PyResult<Self> {
        let text = if let Ok(s) = schema.cast::<PyString>() {
            s.to_str()?.as_bytes()
        } else if let Ok(b) = schema.cast::<PyBytes>() {
            b.as_bytes()
        } else {
            return Err(PyTypeError::new_err(
                "schema must be JSON text (str or bytes)",
            ));
        };
        let inner = Schema::compile(text).map_err(SchemaError::new_err)?;
        Ok(Self { inner })
    }

    fn validate<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let result = if data.len() >= DETACH_BYTES {
            py.detach(|| self.inner.check(data))
        } else {
            self.inner.check(data)
        };
        match result {
            Ok(value) => convert::document(py, &value, data),
            Err(issues) => Err(validation_error(py, issues)),
        }
    }

    fn is_valid(&self, py: Python<'_>, data: &[u8]) -> bool {
        if data.len() >= DETACH_BYTES {
            py.detach(|| self.inner.is_valid(data))
        } else {
            self.inner.is_valid(data)
        }
    }

    fn validate_batch<'py>(
        &self,
        py: Python<'py>,
        items: Vec<PyBackedBytes>,
    ) -> PyResult<Bound<'py, PyList>> {
        let results: Vec<_> = py.detach(|| items.iter().map(|raw| self.inner.check(raw)).collect());
        let mut out = Vec::with_capacity(results.len());
        for (raw, result) in items.iter().zip(results) {
            let pair = match result {
                Ok(value) => (convert::document(py, &value, raw)?, PyList::empty(py)),
                Err(issues) => (py.None().into_bound(py), PyList::new(py, issues)?),
            };
            out.push(PyTuple::new(py, [pair.0, pair.1.into_any()])?);
        }
        PyList::new(py, out)
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CompiledSchema>()?;
    Ok(())
}
