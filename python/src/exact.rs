//! The exact front from Python: `verdant compare`'s `exact` method (the reference LP's
//! epsilon-constraint front, or Green-LLM's on a scenario with its terms), solved by HiGHS.

use numpy::PyArray4;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use verdant::allocator::{Allocator, Problem};
use verdant::config::Validate;
use verdant_solvers::methods::ExactFront;
use verdant_solvers::options::SolverParams;

use crate::verdant_error;
use crate::world::{plan_array, sim_params, PyScenario};

/// _exact_front(scenario, front_grid, utilisation_cap, time_limit_s, blowdown,
///              max_waiting_per_datacenter) -> list of (source, representative, plan)
///
/// The exact front's plans (shape (epochs, origins, classes, datacenters) each), as `verdant
/// compare` builds them with the same keys (`methods.exact.*`); score them with `score_plan`.
#[pyfunction]
#[pyo3(signature = (scenario, front_grid, utilisation_cap, time_limit_s, blowdown, max_waiting_per_datacenter))]
#[allow(clippy::type_complexity)]
fn _exact_front<'py>(
    py: Python<'py>,
    scenario: &PyScenario,
    front_grid: usize,
    utilisation_cap: f64,
    time_limit_s: Option<f64>,
    blowdown: &str,
    max_waiting_per_datacenter: usize,
) -> PyResult<Vec<(String, bool, Bound<'py, PyArray4<f64>>)>> {
    if front_grid == 0 {
        return Err(PyValueError::new_err("front_grid: must be at least 1"));
    }
    if !(utilisation_cap.is_finite() && utilisation_cap > 0.0 && utilisation_cap <= 1.0) {
        return Err(PyValueError::new_err(format!(
            "utilisation_cap: must be in (0, 1], got {utilisation_cap}"
        )));
    }
    let solver = SolverParams {
        time_limit_s,
        ..SolverParams::default()
    }
    .validate("solver")
    .map_err(verdant_error)?;
    let params = sim_params(blowdown, max_waiting_per_datacenter)?;
    let s = &scenario.inner;
    let mut method = ExactFront {
        utilisation_cap,
        front_grid,
        solver,
    };
    let proposals = py
        .allow_threads(|| method.allocate_front(&Problem::new(s, params)))
        .map_err(verdant_error)?;
    Ok(proposals
        .into_iter()
        .map(|p| (p.source, p.representative, plan_array(py, &p.plan)))
        .collect())
}

/// Adds the function to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_exact_front, m)?)?;
    Ok(())
}
