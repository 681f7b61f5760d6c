//! The Python side of hydration: Python objects read through `Var`, results built as Python
//! objects, errors raised as `HydrationError` with `.errors`.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::hydrate::Errors;
use super::output::{ButtonParam, Param, Rendered};
use super::vars::{integral, Kind, Num, Var};
use crate::errors::HydrationError;

/// Strings are copied out: a Python object may change once Python code runs again.
impl Var<'static> for Bound<'_, PyAny> {
    fn kind(&self) -> Kind {
        if self.is_instance_of::<PyString>() {
            Kind::Str
        } else if self.is_none() {
            Kind::Null
        } else if self.is_instance_of::<PyDict>() {
            Kind::Object
        } else if self.is_instance_of::<PyList>() || self.is_instance_of::<PyTuple>() {
            Kind::List
        } else if self.is_instance_of::<PyBool>() {
            Kind::Bool
        } else if self.is_instance_of::<PyInt>() {
            Kind::Int
        } else if self.is_instance_of::<PyFloat>() {
            Kind::Float
        } else {
            Kind::Other
        }
    }

    fn text(&self) -> Option<Option<Cow<'static, str>>> {
        let s = self.cast::<PyString>().ok()?;
        Some(s.to_str().ok().map(|s| Cow::Owned(s.to_owned())))
    }

    fn int(&self) -> Option<i64> {
        match self.kind() {
            Kind::Int => self.extract::<i64>().ok(),
            Kind::Float => self.extract::<f64>().ok().and_then(integral),
            _ => None,
        }
    }

    fn num(&self) -> Option<Num> {
        match self.kind() {
            Kind::Int => self.int().map(Num::Int),
            Kind::Float => self.extract::<f64>().ok().map(Num::Float),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        if let Ok(list) = self.cast::<PyList>() {
            list.len()
        } else if let Ok(tuple) = self.cast::<PyTuple>() {
            tuple.len()
        } else {
            0
        }
    }

    fn item(&self, i: usize) -> Option<Self> {
        if let Ok(list) = self.cast::<PyList>() {
            list.get_item(i).ok()
        } else if let Ok(tuple) = self.cast::<PyTuple>() {
            tuple.get_item(i).ok()
        } else {
            None
        }
    }

    fn get(&self, key: &str) -> Option<Self> {
        let dict = self.cast::<PyDict>().ok()?;
        dict.get_item(key).ok().flatten().filter(|v| !v.is_none())
    }

    fn for_each_key(&self, f: &mut dyn FnMut(Option<&str>)) {
        if let Ok(dict) = self.cast::<PyDict>() {
            for key in dict.keys() {
                match key.cast::<PyString>().ok().and_then(|k| k.to_str().ok()) {
                    Some(k) => f(Some(k)),
                    None => f(None),
                }
            }
        }
    }
}

fn num<'py>(py: Python<'py>, n: Num) -> PyResult<Bound<'py, PyAny>> {
    match n {
        Num::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
        Num::Float(f) => Ok(f.into_pyobject(py)?.into_any()),
    }
}

fn param<'py>(py: Python<'py>, p: &Param<'_>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let inner = PyDict::new(py);
    match p {
        Param::Text { name, text } => {
            d.set_item("type", "text")?;
            if let Some(name) = name {
                d.set_item("parameter_name", name)?;
            }
            d.set_item("text", text)?;
        }
        Param::Currency {
            name,
            fallback,
            code,
            amount_1000,
        } => {
            d.set_item("type", "currency")?;
            if let Some(name) = name {
                d.set_item("parameter_name", name)?;
            }
            inner.set_item("fallback_value", fallback)?;
            inner.set_item("code", code)?;
            inner.set_item("amount_1000", amount_1000)?;
            d.set_item("currency", inner)?;
        }
        Param::DateTime { name, fallback } => {
            d.set_item("type", "date_time")?;
            if let Some(name) = name {
                d.set_item("parameter_name", name)?;
            }
            inner.set_item("fallback_value", fallback)?;
            d.set_item("date_time", inner)?;
        }
        Param::Media {
            kind,
            link,
            id,
            filename,
        } => {
            d.set_item("type", kind.as_str())?;
            for (key, value) in [("link", link), ("id", id), ("filename", filename)] {
                if let Some(v) = value {
                    inner.set_item(key, v)?;
                }
            }
            d.set_item(kind.as_str(), inner)?;
        }
        Param::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            d.set_item("type", "location")?;
            inner.set_item("latitude", num(py, *latitude)?)?;
            inner.set_item("longitude", num(py, *longitude)?)?;
            if let Some(name) = name {
                inner.set_item("name", name)?;
            }
            if let Some(address) = address {
                inner.set_item("address", address)?;
            }
            d.set_item("location", inner)?;
        }
    }
    Ok(d)
}

fn params_component<'py>(
    py: Python<'py>,
    out: &Bound<'py, PyList>,
    kind: &str,
    params: &[Param<'_>],
) -> PyResult<()> {
    if params.is_empty() {
        return Ok(());
    }
    let d = PyDict::new(py);
    d.set_item("type", kind)?;
    let list = PyList::empty(py);
    for p in params {
        list.append(param(py, p)?)?;
    }
    d.set_item("parameters", list)?;
    out.append(d)
}

/// The `components` list as Python objects, the same shape as `components_json`.
pub fn components<'py>(py: Python<'py>, r: &Rendered<'_>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    params_component(py, &out, "header", &r.header)?;
    params_component(py, &out, "body", &r.body)?;
    for b in &r.buttons {
        let d = PyDict::new(py);
        d.set_item("type", "button")?;
        d.set_item("sub_type", b.sub_type())?;
        d.set_item("index", b.index.to_string())?;
        let (kind, value) = match &b.param {
            ButtonParam::Payload(v) => ("payload", v),
            ButtonParam::Coupon(v) => ("coupon_code", v),
            ButtonParam::Text(v) => ("text", v),
        };
        let p = PyDict::new(py);
        p.set_item("type", kind)?;
        p.set_item(kind, value)?;
        d.set_item("parameters", PyList::new(py, [p])?)?;
        out.append(d)?;
    }
    Ok(out)
}

pub fn errors_list<'py>(py: Python<'py>, errors: &Errors) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, errors.iter().map(|(p, m)| (p.as_str(), m.as_str())))
}

/// Shows at most 5 problems, each path cut to 80 characters (paths carry the caller's keys).
fn summary(errors: &Errors) -> String {
    let shown: Vec<String> = errors
        .iter()
        .take(5)
        .map(|(p, m)| {
            let p: String = p.chars().take(80).collect();
            format!("{}: {m}", if p.is_empty() { "/" } else { &p })
        })
        .collect();
    let more = errors.len().saturating_sub(5);
    let tail = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!(
        "variables do not fit the template: {}{tail}",
        shown.join("; ")
    )
}

pub fn hydration_error(py: Python<'_>, errors: &Errors) -> PyErr {
    let err = HydrationError::new_err(summary(errors));
    match errors_list(py, errors).and_then(|list| err.value(py).setattr("errors", list)) {
        Ok(()) => err,
        Err(e) => e,
    }
}
