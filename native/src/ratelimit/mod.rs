//! The local first stage of rate limiting: token buckets per key (phone number, tenant, …).

pub mod core;

use std::sync::OnceLock;
use std::time::Instant;

use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

use self::core::{check_n, check_now, Buckets, Limits};

fn value_error(msg: &str) -> PyErr {
    PyValueError::new_err(msg.to_owned())
}

/// Seconds on a process-wide monotonic clock.
fn monotonic() -> f64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Thread-safe token buckets keyed by string.
#[pyclass(frozen, module = "ccx._native", name = "TokenBuckets")]
pub struct TokenBuckets {
    state: Mutex<Buckets>,
    clock: Option<Py<PyAny>>,
}

impl TokenBuckets {
    fn now(&self, py: Python<'_>, now: Option<f64>) -> PyResult<f64> {
        let t = match (now, &self.clock) {
            (Some(t), _) => t,
            (None, Some(clock)) => clock.bind(py).call0()?.extract::<f64>()?,
            (None, None) => monotonic(),
        };
        check_now(t).map_err(value_error)
    }
}

#[pymethods]
impl TokenBuckets {
    #[new]
    #[pyo3(signature = (rate, burst, *, clock=None))]
    fn new(rate: f64, burst: f64, clock: Option<Py<PyAny>>) -> PyResult<Self> {
        let limits = Limits::new(rate, burst).map_err(value_error)?;
        Ok(TokenBuckets {
            state: Mutex::new(Buckets::new(limits)),
            clock,
        })
    }

    #[pyo3(signature = (key, rate, burst, *, now=None))]
    fn configure(
        &self,
        py: Python<'_>,
        key: &str,
        rate: f64,
        burst: f64,
        now: Option<f64>,
    ) -> PyResult<()> {
        let limits = Limits::new(rate, burst).map_err(value_error)?;
        let now = self.now(py, now)?;
        self.state.lock().configure(key, limits, now);
        Ok(())
    }

    #[pyo3(signature = (key, n=1.0, *, now=None))]
    fn try_acquire(
        &self,
        py: Python<'_>,
        key: &str,
        n: f64,
        now: Option<f64>,
    ) -> PyResult<(bool, f64)> {
        let n = check_n(n).map_err(value_error)?;
        let now = self.now(py, now)?;
        Ok(self.state.lock().try_acquire(key, n, now))
    }

    #[pyo3(signature = (requests, *, now=None))]
    fn try_acquire_batch(
        &self,
        py: Python<'_>,
        requests: Vec<(PyBackedStr, f64)>,
        now: Option<f64>,
    ) -> PyResult<Vec<(bool, f64)>> {
        for (_, n) in &requests {
            check_n(*n).map_err(value_error)?;
        }
        let now = self.now(py, now)?;
        let mut state = self.state.lock();
        Ok(requests
            .iter()
            .map(|(key, n)| state.try_acquire(key, *n, now))
            .collect())
    }

    #[pyo3(signature = (key, *, now=None))]
    fn tokens(&self, py: Python<'_>, key: &str, now: Option<f64>) -> PyResult<f64> {
        let now = self.now(py, now)?;
        Ok(self.state.lock().tokens(key, now))
    }

    fn remove(&self, key: &str) {
        self.state.lock().remove(key);
    }

    fn __len__(&self) -> usize {
        self.state.lock().len()
    }

    #[pyo3(signature = (idle_s, *, now=None))]
    fn evict_idle(&self, py: Python<'_>, idle_s: f64, now: Option<f64>) -> PyResult<usize> {
        if idle_s.is_nan() || idle_s < 0.0 {
            return Err(value_error("idle_s must be a number >= 0"));
        }
        let now = self.now(py, now)?;
        Ok(self.state.lock().evict_idle(idle_s, now))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(clock) = &self.clock {
            visit.call(clock)?;
        }
        Ok(())
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TokenBuckets>()
}
