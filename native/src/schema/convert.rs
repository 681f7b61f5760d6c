//! `serde_json::Value` → Python objects (dict/list/str/int/float/bool/None).

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::Value;

use super::core::is_lossy_float;

/// Object keys repeat across requests ("to", "type", "template"...): a small direct-mapped cache
/// of their Python strings saves building, hashing and freeing them for every document.
const KEY_SLOTS: usize = 1024;
const MAX_CACHED_KEY: usize = 64;

struct KeyCache {
    slots: Vec<Option<(Box<str>, Py<PyString>)>>,
}

static KEYS: Mutex<KeyCache> = Mutex::new(KeyCache { slots: Vec::new() });

impl KeyCache {
    fn get<'py>(&mut self, py: Python<'py>, key: &str) -> Bound<'py, PyString> {
        if key.len() > MAX_CACHED_KEY {
            return PyString::new(py, key);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(KEY_SLOTS, || None);
        }
        // FNV-1a; a collision only costs a miss.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let slot = &mut self.slots[(hash as usize) & (KEY_SLOTS - 1)];
        if let Some((cached, obj)) = slot {
            if **cached == *key {
                return obj.bind(py).clone();
            }
        }
        let obj = PyString::new(py, key);
        *slot = Some((key.into(), obj.clone().unbind()));
        obj
    }
}

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
    // Never wait for the cache: a finalizer run during conversion may switch threads, and a
    // thread blocked here while attached to Python would deadlock with the holder.
    let converted = match KEYS.try_lock() {
        Some(mut keys) => to_py(py, value, &mut Some(&mut *keys)),
        None => to_py(py, value, &mut None),
    };
    match converted {
        Ok(obj) => Ok(obj),
        Err(Stop::Py(err)) => Err(err),
        Err(Stop::Lossy) => py
            .import("json")?
            .getattr("loads")?
            .call1((PyBytes::new(py, raw),)),
    }
}

// Recursion is bounded: serde_json refuses documents nested 128 deep.
fn to_py<'py>(
    py: Python<'py>,
    value: &Value,
    keys: &mut Option<&mut KeyCache>,
) -> Result<Bound<'py, PyAny>, Stop> {
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
                .map(|item| to_py(py, item, keys))
                .collect::<Result<Vec<_>, Stop>>()?;
            PyList::new(py, objs)?.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                let key = match keys {
                    Some(cache) => cache.get(py, key),
                    None => PyString::new(py, key),
                };
                dict.set_item(key, to_py(py, item, keys)?)?;
            }
            dict.into_any()
        }
    })
}
