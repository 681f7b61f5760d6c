//! `ccx._native`: the Rust hot paths of ccx. This file only registers modules.

use pyo3::prelude::*;

// Parsing builds many small maps and strings; mimalloc is ~15% faster than glibc malloc here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod errors;
pub mod ratelimit;
pub mod schema;
pub mod signing;
pub mod template;

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::init_pymodule(m)?;
    schema::init_pymodule(m)?;
    signing::init_pymodule(m)?;
    template::init_pymodule(m)?;
    ratelimit::init_pymodule(m)?;
    Ok(())
}
