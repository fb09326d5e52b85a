//! `verdant` for Python (issue 22): the extension module `verdant._verdant` under the Python
//! package `python/verdant/` (maturin's mixed layout). It holds what must be fast or must equal
//! the CLI to the bit: the Pareto functions, scenarios and plans, scoring by either fidelity,
//! and the stepping of the environments; the Gymnasium and PettingZoo classes are thin Python
//! wrappers over it (`python/verdant/envs.py`).
//!
//! Errors: bad arguments (shape, NaN, out-of-range values) raise `ValueError`; errors of
//! Verdant's own checks on user data (a scenario file, a plan file, a key) raise
//! `verdant.VerdantError` (a `ValueError`) carrying the same message as the CLI prints (file,
//! line, field; key; constraint). Nothing here panics on user data.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod exact;
mod geo;
mod lb;
mod pareto;
mod world;

create_exception!(
    verdant,
    VerdantError,
    PyValueError,
    "An error of Verdant's own checks on user data: a scenario or plan file (file, line, field), a key, or a constraint; the message is the CLI's."
);

/// `error` as a [`VerdantError`] with its message.
pub(crate) fn verdant_error(error: impl std::fmt::Display) -> PyErr {
    VerdantError::new_err(error.to_string())
}

/// The extension module.
#[pymodule(name = "_verdant")]
fn verdant_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VerdantError", m.py().get_type::<VerdantError>())?;
    pareto::register(m)?;
    world::register(m)?;
    lb::register(m)?;
    geo::register(m)?;
    exact::register(m)?;
    Ok(())
}
