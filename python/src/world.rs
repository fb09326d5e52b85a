//! Scenarios, plans and scoring from Python: `Scenario`, `score_plan`, `rule_plan`,
//! `read_plan`, `write_plan`. Scoring is the CLI's: `verdant simulate`'s settings and random
//! streams, so a plan scored here equals `verdant simulate --set plan=FILE.csv` to the bit.

use std::path::PathBuf;
use std::sync::Arc;

use numpy::ndarray::Array4;
use numpy::{IntoPyArray, PyArray2, PyArray4, PyReadonlyArray4};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use verdant::allocator::rules::{Even, Nearest};
use verdant::allocator::{Allocator, Problem};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{BlowdownReading, FractionPlan, Objectives, SimParams};

use crate::verdant_error;

/// Scenario(scenario, seed=0)
///
/// A checked scenario: `scenario` is a bundled name (`geo-4dc` ... `geo-12dc`,
/// `green-llm-base`, ...) or a path to a scenario file; `seed` is the master seed of its random
/// parts (trace demand), as `--seed` of the CLI. A bad file raises `VerdantError` naming the
/// file, line and key.
#[pyclass(frozen, name = "Scenario", module = "verdant")]
pub struct PyScenario {
    pub(crate) inner: Arc<Scenario>,
    path: PathBuf,
    seed: u64,
}

#[pymethods]
impl PyScenario {
    #[new]
    #[pyo3(signature = (scenario, seed = 0))]
    fn new(py: Python<'_>, scenario: &str, seed: u64) -> PyResult<Self> {
        let path = verdant::scenario::resolve(scenario).map_err(verdant_error)?;
        let inner = py
            .allow_threads(|| Scenario::load(&path, MasterSeed(seed)))
            .map_err(verdant_error)?;
        Ok(PyScenario {
            inner: Arc::new(inner),
            path,
            seed,
        })
    }

    /// The scenario's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The file it was read from.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The master seed it was loaded with.
    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of epochs.
    #[getter]
    fn epochs(&self) -> usize {
        self.inner.time.epochs
    }

    /// Length of an epoch, seconds.
    #[getter]
    fn epoch_s(&self) -> f64 {
        self.inner.time.epoch_s
    }

    /// The datacenters' names, in plan order.
    #[getter]
    fn datacenters(&self) -> Vec<String> {
        self.inner
            .datacenters
            .iter()
            .map(|d| d.name.clone())
            .collect()
    }

    /// The request classes' names, in plan order.
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.inner.classes.iter().map(|c| c.name.clone()).collect()
    }

    /// The origins' names, in plan order.
    #[getter]
    fn origins(&self) -> Vec<String> {
        self.inner.origins.iter().map(|o| o.name.clone()).collect()
    }

    /// The shape of a plan: (epochs, origins, classes, datacenters).
    #[getter]
    fn plan_shape(&self) -> (usize, usize, usize, usize) {
        shape(&self.inner)
    }

    /// hosts() -> numpy.ndarray of bool, shape (classes, datacenters): where each class can run.
    fn hosts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<bool>> {
        let planner = EpochPlanner::new(&self.inner, 1.0);
        let (nc, nd) = (planner.classes, planner.datacenters);
        let rows: Vec<Vec<bool>> = (0..nc)
            .map(|c| (0..nd).map(|d| planner.hosts(c, d)).collect())
            .collect();
        PyArray2::from_vec2(py, &rows).expect("rows of equal length")
    }

    fn __repr__(&self) -> String {
        let (ne, no, nc, nd) = shape(&self.inner);
        format!(
            "Scenario({:?}, seed={}): {ne} epochs of {} s, {no} origins, {nc} classes, {nd} datacenters",
            self.inner.name, self.seed, self.inner.time.epoch_s
        )
    }
}

pub(crate) fn shape(s: &Scenario) -> (usize, usize, usize, usize) {
    (
        s.time.epochs,
        s.origins.len(),
        s.classes.len(),
        s.datacenters.len(),
    )
}

/// `shares` (shape (epochs, origins, classes, datacenters)) as a checked plan of `s`.
pub(crate) fn plan_of(s: &Scenario, shares: &PyReadonlyArray4<'_, f64>) -> PyResult<FractionPlan> {
    let view = shares.as_array();
    let want = shape(s);
    let got = view.dim();
    if got != want {
        return Err(PyValueError::new_err(format!(
            "plan has shape {got:?}; scenario {} needs (epochs, origins, classes, datacenters) = {want:?}",
            s.name
        )));
    }
    let x: Vec<f64> = view.iter().copied().collect();
    FractionPlan::new(want.0, want.1, want.2, want.3, x)
        .map_err(|e| PyValueError::new_err(format!("plan: {e}")))
}

/// `plan` as a numpy array of shape (epochs, origins, classes, datacenters).
pub(crate) fn plan_array<'py>(py: Python<'py>, plan: &FractionPlan) -> Bound<'py, PyArray4<f64>> {
    let [ne, no, nc, nd] = plan.shape();
    Array4::from_shape_vec((ne, no, nc, nd), plan.shares().to_vec())
        .expect("a plan's shares fill its shape")
        .into_pyarray(py)
}

/// `o` as a dict keyed by the objectives' names with units (`ttft_s`, `carbon_kg`, `water_l`,
/// `cost_usd`, `energy_kwh`, `slo_violation_rate`).
pub(crate) fn objectives_dict<'py>(
    py: Python<'py>,
    o: &Objectives,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let value = serde_json::to_value(o).expect("objectives serialise");
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            d.set_item(k, v.as_f64().unwrap_or(f64::NAN))?;
        }
    }
    Ok(d)
}

/// The simulator's settings from Python's keyword arguments (the CLI's `[sim]`).
pub(crate) fn sim_params(blowdown: &str, max_waiting_per_datacenter: usize) -> PyResult<SimParams> {
    let blowdown: BlowdownReading =
        serde_json::from_value(serde_json::Value::String(blowdown.to_owned())).map_err(|_| {
            PyValueError::new_err(format!(
                "blowdown: {blowdown:?} is not \"blowdown-only\" or \"paper-literal\""
            ))
        })?;
    if max_waiting_per_datacenter == 0 {
        return Err(PyValueError::new_err(
            "max_waiting_per_datacenter: must be at least 1",
        ));
    }
    Ok(SimParams {
        blowdown,
        node_fraction: 1.0,
        max_waiting_per_datacenter,
    })
}

/// score_plan(scenario, plan, fidelity="fluid", seed=42, blowdown="blowdown-only",
///            node_fraction=None, max_waiting_per_datacenter=100000) -> dict
///
/// Scores `plan` (shares, shape (epochs, origins, classes, datacenters)) on `scenario` with the
/// fluid or the discrete-event simulator, as `verdant simulate` does with the same settings
/// (its defaults are these; `seed` draws the discrete-event requests from the stream
/// `simulate.requests`; `node_fraction` None simulates one node of the largest pool). Returns the
/// objectives: ttft_s, carbon_kg, water_l, cost_usd, energy_kwh, slo_violation_rate.
#[pyfunction]
#[pyo3(signature = (scenario, plan, fidelity = "fluid", seed = 42, blowdown = "blowdown-only", node_fraction = None, max_waiting_per_datacenter = 100_000))]
#[allow(clippy::too_many_arguments)]
fn score_plan<'py>(
    py: Python<'py>,
    scenario: &PyScenario,
    plan: PyReadonlyArray4<'_, f64>,
    fidelity: &str,
    seed: u64,
    blowdown: &str,
    node_fraction: Option<f64>,
    max_waiting_per_datacenter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let s = &scenario.inner;
    let plan = plan_of(s, &plan)?;
    let params = sim_params(blowdown, max_waiting_per_datacenter)?;
    let objectives = match fidelity {
        "fluid" => py
            .allow_threads(|| {
                Problem::new(s, params)
                    .fluid()
                    .score(&plan)
                    .map(|o| o.objectives())
            })
            .map_err(verdant_error)?,
        "discrete-event" => {
            if s.datacenters.iter().all(|d| d.node_pools.is_empty()) {
                return Err(verdant_error(format!(
                    "scenario {} has no node pools: the discrete-event fidelity needs nodes; use fidelity=\"fluid\"",
                    s.name
                )));
            }
            if let Some(f) = node_fraction {
                if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                    return Err(PyValueError::new_err(format!(
                        "node_fraction: must be in (0, 1], got {f}"
                    )));
                }
            }
            let params = SimParams {
                node_fraction: node_fraction.unwrap_or_else(|| s.one_node_fraction()),
                ..params
            };
            verdant::sim::des::check_memory(s, params.node_fraction, 1).map_err(verdant_error)?;
            py.allow_threads(|| {
                Problem::new(s, params)
                    .discrete_event()
                    .simulate_plan(
                        &plan,
                        &mut MasterSeed(seed).rng("simulate.requests"),
                        |_| {},
                    )
                    .map(|(o, _)| o.objectives())
            })
            .map_err(verdant_error)?
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "fidelity: {other:?} is not \"fluid\" or \"discrete-event\""
            )))
        }
    };
    objectives_dict(py, &objectives)
}

/// rule_plan(scenario, rule) -> numpy.ndarray
///
/// A simple rule's plan: `"even"` (every class split over its hosting datacenters) or
/// `"nearest"` (the shortest round trip), as `verdant simulate`'s `plan` key.
#[pyfunction]
fn rule_plan<'py>(
    py: Python<'py>,
    scenario: &PyScenario,
    rule: &str,
) -> PyResult<Bound<'py, PyArray4<f64>>> {
    let s = &scenario.inner;
    let problem = Problem::new(s, SimParams::default());
    let plan = match rule {
        "even" => Even.allocate(&problem),
        "nearest" => Nearest.allocate(&problem),
        other => {
            return Err(PyValueError::new_err(format!(
                "rule: {other:?} is not \"even\" or \"nearest\""
            )))
        }
    }
    .map_err(verdant_error)?;
    Ok(plan_array(py, &plan))
}

/// read_plan(scenario, path) -> numpy.ndarray
///
/// A plan file (CSV: `epoch,origin,class,<datacenter names>`, what `verdant compare` writes to
/// `plans/`) as shares of shape (epochs, origins, classes, datacenters). A bad file raises
/// `VerdantError` naming the file, line and column.
#[pyfunction]
fn read_plan<'py>(
    py: Python<'py>,
    scenario: &PyScenario,
    path: PathBuf,
) -> PyResult<Bound<'py, PyArray4<f64>>> {
    let plan = verdant::sim::read_plan_csv(&path, &scenario.inner).map_err(verdant_error)?;
    Ok(plan_array(py, &plan))
}

/// write_plan(scenario, plan, path)
///
/// Writes `plan` (shape (epochs, origins, classes, datacenters)) as a plan file, atomically,
/// every digit kept: `verdant simulate --set plan=PATH` scores it.
#[pyfunction]
fn write_plan(
    scenario: &PyScenario,
    plan: PyReadonlyArray4<'_, f64>,
    path: PathBuf,
) -> PyResult<()> {
    let s = &scenario.inner;
    let plan = plan_of(s, &plan)?;
    let text = verdant::sim::plan_csv(&plan, s);
    verdant::run::write_atomic(&path, text.as_bytes()).map_err(verdant_error)
}

/// Adds the class and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScenario>()?;
    m.add_function(wrap_pyfunction!(score_plan, m)?)?;
    m.add_function(wrap_pyfunction!(rule_plan, m)?)?;
    m.add_function(wrap_pyfunction!(read_plan, m)?)?;
    m.add_function(wrap_pyfunction!(write_plan, m)?)?;
    Ok(())
}
