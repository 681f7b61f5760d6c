//! Python exception types raised by the native module.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    _native,
    NativeError,
    PyValueError,
    "Base class of every error raised by ccx._native."
);
create_exception!(
    _native,
    SchemaError,
    NativeError,
    "The JSON Schema itself is invalid."
);
create_exception!(
    _native,
    ValidationError,
    NativeError,
    "The document does not match the schema; `.errors` lists (path, message)."
);
create_exception!(
    _native,
    TemplateError,
    NativeError,
    "A template definition is invalid."
);
create_exception!(
    _native,
    HydrationError,
    NativeError,
    "Variables do not fit the template; `.errors` lists (path, message)."
);

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("NativeError", py.get_type::<NativeError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("ValidationError", py.get_type::<ValidationError>())?;
    m.add("TemplateError", py.get_type::<TemplateError>())?;
    m.add("HydrationError", py.get_type::<HydrationError>())?;
    Ok(())
}
