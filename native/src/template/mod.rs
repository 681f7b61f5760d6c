//! Template hydration: compile a Meta template definition once, then turn request variables
//! into the `components` of a template send (ref §1.3) plus a text preview.

mod definition;
mod hydrate;
mod json;
mod limits;
mod output;
mod py;
mod vars;

#[cfg(test)]
mod tests;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

pub use definition::Template;
pub use hydrate::Errors;

use crate::errors::TemplateError;

impl Template {
    /// Hydrates variables given as JSON: (components JSON, preview) or every problem.
    pub fn hydrate_json(&self, variables: &[u8]) -> Result<(Vec<u8>, String), Errors> {
        let value = json::Json::parse(variables)
            .map_err(|e| vec![(String::new(), format!("invalid JSON: {e}"))])?;
        let rendered = self.hydrate(&&value)?;
        Ok((rendered.components_json(), rendered.preview))
    }
}

/// A template definition compiled once; rendering is cheap and thread-safe.
#[pyclass(frozen, module = "ccx._native", name = "CompiledTemplate")]
pub struct CompiledTemplate {
    inner: Template,
}

#[pymethods]
impl CompiledTemplate {
    #[new]
    fn new(definition: &Bound<'_, PyAny>) -> PyResult<Self> {
        let compiled = if let Ok(s) = definition.cast::<PyString>() {
            match s.to_str() {
                Ok(text) => Template::compile(text.as_bytes()),
                Err(_) => Err("invalid JSON: the definition is not valid unicode".to_owned()),
            }
        } else if let Ok(b) = definition.cast::<PyBytes>() {
            Template::compile(b.as_bytes())
        } else {
            return Err(PyTypeError::new_err("definition must be str or bytes"));
        };
        compiled
            .map(|inner| CompiledTemplate { inner })
            .map_err(TemplateError::new_err)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    #[getter]
    fn language(&self) -> &str {
        &self.inner.language
    }

    #[getter]
    fn category(&self) -> &str {
        &self.inner.category
    }

    #[getter]
    fn parameter_format(&self) -> &'static str {
        self.inner.format.as_str()
    }

    fn placeholders<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (key, names) in self.inner.placeholders() {
            d.set_item(key, PyList::new(py, names)?)?;
        }
        Ok(d)
    }

    fn render<'py>(
        &self,
        py: Python<'py>,
        variables: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyList>, String)> {
        let owned;
        let vars = if !variables.is_instance_of::<PyDict>()
            && variables.is_instance(&py.import("collections.abc")?.getattr("Mapping")?)?
        {
            owned = py.get_type::<PyDict>().call1((variables,))?;
            &owned
        } else {
            variables
        };
        match self.inner.hydrate(vars) {
            Ok(rendered) => Ok((py::components(py, &rendered)?, rendered.preview)),
            Err(errors) => Err(py::hydration_error(py, &errors)),
        }
    }

    fn render_json<'py>(
        &self,
        py: Python<'py>,
        variables_json: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, String)> {
        match self.inner.hydrate_json(variables_json) {
            Ok((json, preview)) => Ok((PyBytes::new(py, &json), preview)),
            Err(errors) => Err(py::hydration_error(py, &errors)),
        }
    }

    #[allow(clippy::type_complexity)]
    fn render_batch<'py>(
        &self,
        py: Python<'py>,
        variables: Vec<PyBackedBytes>,
    ) -> PyResult<
        Vec<(
            Option<Bound<'py, PyBytes>>,
            Option<String>,
            Bound<'py, PyList>,
        )>,
    > {
        let results: Vec<_> = py.detach(|| {
            variables
                .iter()
                .map(|v| self.inner.hydrate_json(v))
                .collect()
        });
        results
            .into_iter()
            .map(|r| match r {
                Ok((json, preview)) => Ok((
                    Some(PyBytes::new(py, &json)),
                    Some(preview),
                    PyList::empty(py),
                )),
                Err(errors) => Ok((None, None, py::errors_list(py, &errors)?)),
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "<CompiledTemplate {:?} language={:?} format={}>",
            self.inner.name,
            self.inner.language,
            self.inner.format.as_str()
        )
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CompiledTemplate>()
}
