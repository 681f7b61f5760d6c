//! Signing hot path: Meta's `X-Hub-Signature-256` and Standard Webhooks, as thin PyO3 wrappers
//! over the Python-free functions in `core`.

pub mod core;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyString};

use self::core::{HubKey, SecretInput, StandardSigner};
use crate::errors::NativeError;

#[pyfunction]
fn hmac_sha256<'py>(py: Python<'py>, key: &[u8], message: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &core::hmac_sha256(key, message))
}

#[pyfunction]
fn hub_signature(app_secret: &[u8], body: &[u8]) -> String {
    core::hub_signature(app_secret, body)
}

#[pyfunction]
#[pyo3(signature = (app_secret, body, header))]
fn verify_hub_signature(app_secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    core::verify_hub_signature(app_secret, body, header)
}

#[pyfunction]
fn verify_hub_signature_batch(
    py: Python<'_>,
    app_secret: &[u8],
    items: Vec<(PyBackedBytes, Option<PyBackedStr>)>,
) -> Vec<bool> {
    let key = HubKey::new(app_secret);
    py.detach(|| {
        items
            .iter()
            .map(|(body, header)| key.verify(body, header.as_deref()))
            .collect()
    })
}

#[pyfunction]
fn generate_webhook_secret() -> PyResult<String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)
        .map_err(|e| NativeError::new_err(format!("no OS randomness: {e}")))?;
    Ok(format!("{}{}", core::SECRET_PREFIX, STANDARD.encode(raw)))
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Standard Webhooks signer with secret rotation; the secrets never leave Rust.
#[pyclass(frozen, module = "ccx._native")]
pub struct WebhookSigner {
    inner: StandardSigner,
    count: usize,
}

#[pymethods]
impl WebhookSigner {
    #[new]
    fn new(secrets: &Bound<'_, PyAny>) -> PyResult<Self> {
        if secrets.is_instance_of::<PyString>() || secrets.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err(
                "secrets must be a sequence of str | bytes, not a single secret",
            ));
        }
        let items: Vec<Bound<'_, PyAny>> = secrets.try_iter()?.collect::<PyResult<_>>()?;
        let mut inputs = Vec::with_capacity(items.len());
        for item in &items {
            if let Ok(text) = item.cast::<PyString>() {
                inputs.push(SecretInput::Text(text.to_str()?));
            } else if let Ok(raw) = item.cast::<PyBytes>() {
                inputs.push(SecretInput::Raw(raw.as_bytes()));
            } else {
                return Err(PyTypeError::new_err("each secret must be str or bytes"));
            }
        }
        let count = inputs.len();
        let inner = StandardSigner::new(inputs).map_err(|e| NativeError::new_err(e.to_string()))?;
        Ok(Self { inner, count })
    }

    fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        self.inner.sign(msg_id, timestamp, body)
    }

    #[pyo3(signature = (msg_id, timestamp, body, signature_header, *, now = None, tolerance_s = 300))]
    fn verify(
        &self,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
        signature_header: &str,
        now: Option<i64>,
        tolerance_s: i64,
    ) -> PyResult<bool> {
        let tolerance = u64::try_from(tolerance_s)
            .map_err(|_| PyValueError::new_err("tolerance_s must be >= 0"))?;
        let now = now.unwrap_or_else(unix_now);
        Ok(self
            .inner
            .verify(msg_id, timestamp, body, signature_header, now, tolerance))
    }

    fn sign_batch(
        &self,
        py: Python<'_>,
        items: Vec<(PyBackedStr, i64, PyBackedBytes)>,
    ) -> Vec<String> {
        py.detach(|| {
            items
                .iter()
                .map(|(msg_id, ts, body)| self.inner.sign(msg_id, *ts, body))
                .collect()
        })
    }

    fn __repr__(&self) -> String {
        format!("WebhookSigner(<{} secret(s)>)", self.count)
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hmac_sha256, m)?)?;
    m.add_function(wrap_pyfunction!(hub_signature, m)?)?;
    m.add_function(wrap_pyfunction!(verify_hub_signature, m)?)?;
    m.add_function(wrap_pyfunction!(verify_hub_signature_batch, m)?)?;
    m.add_function(wrap_pyfunction!(generate_webhook_secret, m)?)?;
    m.add_class::<WebhookSigner>()?;
    Ok(())
}
