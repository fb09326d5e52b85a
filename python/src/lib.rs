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

/// config_defaults(command) -> str
///
/// The built-in configuration of `verdant <command>` (`lb`, `marlin`, `compare`) as JSON: the defaults
/// the environments take theirs from (the same files as the CLI's, read at build time).
#[pyfunction]
fn config_defaults(command: &str) -> PyResult<String> {
    let text = match command {
        "lb" => include_str!("../../experiments/configs/lb.toml"),
        "marlin" => include_str!("../../experiments/configs/marlin.toml"),
        "compare" => include_str!("../../experiments/configs/compare.toml"),
        other => {
            return Err(PyValueError::new_err(format!(
                "config_defaults: {other:?} is not \"lb\", \"marlin\" or \"compare\""
            )))
        }
    };
    let doc: toml::Table = text.parse().map_err(verdant_error)?;
    serde_json::to_string(&doc).map_err(verdant_error)
}

/// The extension module.
#[pymodule(name = "_verdant")]
fn verdant_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VerdantError", m.py().get_type::<VerdantError>())?;
    m.add_function(wrap_pyfunction!(config_defaults, m)?)?;
    pareto::register(m)?;
    world::register(m)?;
    lb::register(m)?;
    geo::register(m)?;
    exact::register(m)?;
    Ok(())
}
