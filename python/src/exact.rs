//! The exact front from Python: `verdant compare`'s `exact` method (the reference LP's
//! epsilon-constraint front, or Green-LLM's on a scenario with its terms), solved by HiGHS.

use numpy::PyArray4;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use verdant::allocator::{Allocator, Problem};
use verdant::config::Validate;
use verdant::sim::ObjectiveVector;
use verdant_solvers::certify::{certify, front_phv, Coverage, Settings};
use verdant_solvers::methods::ExactFront;
use verdant_solvers::options::SolverParams;
use verdant_solvers::SolverOptions;

use crate::verdant_error;
use crate::world::{plan_array, sim_params, PyScenario};

/// The exact front's method and the solver's options, checked.
fn exact_method(
    front_grid: usize,
    utilisation_cap: f64,
    time_limit_s: Option<f64>,
) -> PyResult<(ExactFront, SolverOptions)> {
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
    let method = ExactFront {
        utilisation_cap,
        front_grid,
        solver: solver.clone(),
    };
    Ok((method, solver))
}

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
    let (mut method, _) = exact_method(front_grid, utilisation_cap, time_limit_s)?;
    let params = sim_params(blowdown, max_waiting_per_datacenter)?;
    let s = &scenario.inner;
    let proposals = py
        .allow_threads(|| method.allocate_front(&Problem::new(s, params)))
        .map_err(verdant_error)?;
    Ok(proposals
        .into_iter()
        .map(|p| (p.source, p.representative, plan_array(py, &p.plan)))
        .collect())
}

/// _certified_front(scenario, front_grid, utilisation_cap, time_limit_s, plan_time_limit_s,
///                  front_budget_s, plans_budget_s, blowdown, max_waiting_per_datacenter) -> dict
///
/// `verdant compare`'s exact front certified by the bound model ([`certify`]): `plans`, a list
/// of (source, representative, plan, coverage, bounds or None, bound statuses or None, carries
/// or None), the exact front's plans then those the certification added; `least` and
/// `least_status` (the front's bound per compared objective); `stop`, `steps`, `cuts`;
/// `reference` (the worst value of each objective over the front, TTFT's at the scenario's
/// service level), `front_phv` and `outer_phv` at it (the optimal PHV's interval); `seconds`.
#[pyfunction]
#[pyo3(signature = (scenario, front_grid, utilisation_cap, time_limit_s, plan_time_limit_s, front_budget_s, plans_budget_s, blowdown, max_waiting_per_datacenter))]
#[allow(clippy::too_many_arguments)]
fn _certified_front<'py>(
    py: Python<'py>,
    scenario: &PyScenario,
    front_grid: usize,
    utilisation_cap: f64,
    time_limit_s: Option<f64>,
    plan_time_limit_s: f64,
    front_budget_s: f64,
    plans_budget_s: f64,
    blowdown: &str,
    max_waiting_per_datacenter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    for (name, v) in [
        ("plan_time_limit_s", plan_time_limit_s),
        ("front_budget_s", front_budget_s),
        ("plans_budget_s", plans_budget_s),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(PyValueError::new_err(format!(
                "{name}: must be a number of seconds > 0, got {v}"
            )));
        }
    }
    let (mut method, solver) = exact_method(front_grid, utilisation_cap, time_limit_s)?;
    let params = sim_params(blowdown, max_waiting_per_datacenter)?;
    let settings = Settings {
        plan_time_limit_s,
        front_budget_s,
        plans_budget_s,
    };
    let s = &scenario.inner;
    let (proposals, certified) = py
        .allow_threads(|| -> Result<_, String> {
            let problem = Problem::new(s, params);
            let proposals = method.allocate_front(&problem).map_err(|e| e.to_string())?;
            let mut fluid = problem.fluid();
            let front = proposals
                .iter()
                .map(|p| {
                    fluid
                        .score(&p.plan)
                        .map(|o| (p.plan.clone(), o.objectives().compared()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let certified =
                certify(&problem, &front, &[], &solver, &settings).map_err(|e| e.to_string())?;
            let objectives: Vec<ObjectiveVector> = front
                .iter()
                .map(|(_, o)| *o)
                .chain(certified.added_objectives.iter().copied())
                .collect();
            Ok((proposals, (certified, objectives)))
        })
        .map_err(verdant_error)?;
    let (certified, objectives) = certified;
    let c = &certified.certification;
    let status = |st: verdant_solvers::SolveStatus| format!("{st:?}");
    let plans = PyList::empty(py);
    let all = proposals
        .iter()
        .map(|p| (p.source.clone(), p.representative, &p.plan))
        .chain(
            certified
                .added
                .iter()
                .map(|p| (p.source.clone(), false, &p.plan)),
        );
    for (i, (source, representative, plan)) in all.enumerate() {
        let coverage = c.plans.iter().find(|(j, _)| *j == i).map(|(_, cov)| cov);
        let (label, bounds, statuses, carries) = match coverage {
            Some(cov @ Coverage::Bounded { bounds, carries }) => (
                cov.label(),
                Some(bounds.lower.to_vec()),
                Some(bounds.status.map(status).to_vec()),
                Some(*carries),
            ),
            Some(cov) => (cov.label(), None, None, None),
            None => ("none", None, None, None),
        };
        plans.append((
            source,
            representative,
            plan_array(py, plan),
            label,
            bounds,
            statuses,
            carries,
        ))?;
    }
    let (phv, reference) = front_phv(&objectives, &objectives, &[], s.ttft_slo_s);
    let d = PyDict::new(py);
    d.set_item("plans", plans)?;
    d.set_item(
        "bound_objectives",
        verdant_solvers::bound::BOUND_OBJECTIVES.to_vec(),
    )?;
    d.set_item("least", c.least.to_vec())?;
    d.set_item("least_status", c.least_status.map(status).to_vec())?;
    d.set_item("stop", format!("{:?}", c.stop).to_lowercase())?;
    d.set_item("steps", c.steps)?;
    d.set_item("cuts", c.cuts.len())?;
    d.set_item("front_phv", phv)?;
    d.set_item("outer_phv", c.outer_phv(&reference))?;
    d.set_item("reference", reference)?;
    d.set_item("seconds", (c.anchors_s, c.front_s, c.plans_s))?;
    Ok(d)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_exact_front, m)?)?;
    m.add_function(wrap_pyfunction!(_certified_front, m)?)?;
    Ok(())
}
