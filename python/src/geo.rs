//! A geo scenario routed epoch by epoch, from Python: `_GeoCore`, what `GeoRoutingEnv`
//! (Gymnasium) and `MarlinEnv` (PettingZoo) step. One step writes one epoch's fractions per class
//! over the datacenters into a day's plan (projected onto the utilisation cap where asked, as
//! MARLIN's proposals are) and scores that epoch with the fluid simulator, the same code as a
//! whole-day score; the finished plan scores as `score_plan` and the CLI score it.

use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArray4, PyArrayMethods, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use verdant::allocator::rules::Even;
use verdant::allocator::Problem;
use verdant::geo::GeoWorld;
use verdant::scenario::Scenario;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::{FractionPlan, Objectives, Outcome, PlanError};

use crate::verdant_error;
use crate::world::{objectives_dict, plan_array, sim_params, PyScenario};

/// What a geo episode holds beside its scenario.
struct GeoParts<'a> {
    world: GeoWorld<'a>,
    sim: FluidSimulator<'a>,
    plan: FractionPlan,
    out: Outcome,
    /// The even split's plan: every epoch's starting point, and the plan's state after reset.
    even: FractionPlan,
}

self_cell::self_cell!(
    struct GeoCell {
        owner: Arc<Scenario>,
        #[not_covariant]
        dependent: GeoParts,
    }
);

/// `_GeoCore(scenario, utilisation_cap, project, blowdown, max_waiting_per_datacenter)`.
#[pyclass(name = "_GeoCore", module = "verdant")]
pub struct GeoCore {
    cell: GeoCell,
    project: bool,
    /// One epoch's fractions, reused.
    fractions: Vec<f64>,
}

impl GeoCore {
    /// Fractions from `weights` (shape (classes, datacenters)), per class: the non-negative
    /// weights of the datacenters hosting it, normalised (all zero: an even split over them),
    /// then projected onto the utilisation cap for epoch `e`'s demand where asked.
    fn fractions_of(&mut self, e: usize, weights: &PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        let view = weights.as_array();
        let project = self.project;
        let fractions = &mut self.fractions;
        self.cell.with_dependent(|_, p| {
            let (nc, nd) = (p.world.classes, p.world.datacenters);
            if e >= p.world.epochs {
                return Err(PyValueError::new_err(format!(
                    "epoch {e} out of range: 0..{}",
                    p.world.epochs
                )));
            }
            if view.dim() != (nc, nd) {
                return Err(PyValueError::new_err(format!(
                    "action has shape {:?}; it needs (classes, datacenters) = ({nc}, {nd})",
                    view.dim()
                )));
            }
            if let Some(((c, d), v)) = view.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(PyValueError::new_err(format!(
                    "action[{c}, {d}] is {v}: every value must be finite"
                )));
            }
            let planner = &p.world.planner;
            for c in 0..nc {
                let row = &mut fractions[c * nd..(c + 1) * nd];
                for (d, f) in row.iter_mut().enumerate() {
                    *f = if planner.hosts(c, d) {
                        view[(c, d)].max(0.0)
                    } else {
                        0.0
                    };
                }
                let sum: f64 = row.iter().sum();
                let hosts = (0..nd).filter(|&d| planner.hosts(c, d)).count();
                for (d, f) in row.iter_mut().enumerate() {
                    *f = if sum > 0.0 {
                        *f / sum
                    } else if planner.hosts(c, d) {
                        1.0 / hosts.max(1) as f64
                    } else {
                        0.0
                    };
                }
            }
            if project {
                let volumes: Vec<f64> = (0..nc).map(|c| planner.volumes[c][e]).collect();
                planner.project(e, fractions, &volumes);
            }
            Ok(())
        })
    }
}

#[pymethods]
impl GeoCore {
    #[new]
    #[pyo3(signature = (scenario, utilisation_cap, project, blowdown, max_waiting_per_datacenter))]
    fn new(
        scenario: &PyScenario,
        utilisation_cap: f64,
        project: bool,
        blowdown: &str,
        max_waiting_per_datacenter: usize,
    ) -> PyResult<Self> {
        if !(utilisation_cap.is_finite() && utilisation_cap > 0.0 && utilisation_cap <= 1.0) {
            return Err(PyValueError::new_err(format!(
                "utilisation_cap: must be in (0, 1], got {utilisation_cap}"
            )));
        }
        let params = sim_params(blowdown, max_waiting_per_datacenter)?;
        let cell = GeoCell::try_new(scenario.inner.clone(), |s| -> Result<_, PlanError> {
            let problem = Problem::new(s, params);
            let world = GeoWorld::new(&problem, utilisation_cap, 1.0, None)?;
            let even = Even.plan(s)?;
            Ok(GeoParts {
                world,
                sim: problem.fluid(),
                plan: even.clone(),
                out: Outcome::default(),
                even,
            })
        })
        .map_err(verdant_error)?;
        let len = cell.with_dependent(|_, p| p.world.action_len());
        Ok(GeoCore {
            cell,
            project,
            fractions: vec![0.0; len],
        })
    }

    /// (epochs, classes, datacenters, observation length).
    #[getter]
    fn dims(&self) -> (usize, usize, usize, usize) {
        self.cell.with_dependent(|_, p| {
            let w = &p.world;
            (w.epochs, w.classes, w.datacenters, w.state_len())
        })
    }

    /// Bounds of every observation value: (low, high).
    fn observation_bounds<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
        let (low, high) = self.cell.with_dependent(|_, p| p.world.state_bounds());
        (PyArray1::from_vec(py, low), PyArray1::from_vec(py, high))
    }

    /// The plan back to the even split in every epoch.
    fn reset(&mut self) {
        self.cell
            .with_dependent_mut(|_, p| p.plan.clone_from(&p.even));
    }

    /// The observation of epoch `e`: per datacenter its carbon, water and price (each over the
    /// day's largest) and its share of the fleet's GPUs, then each class's requests in the
    /// epoch (over the day's largest), then the time of day as sine and cosine (MARLIN's
    /// state, with the epoch's demand in place of its forecast).
    fn observation<'py>(&self, py: Python<'py>, e: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let state = self.cell.with_dependent(|_, p| {
            let w = &p.world;
            (e < w.epochs).then(|| {
                let volumes: Vec<f64> = (0..w.classes).map(|c| w.planner.volumes[c][e]).collect();
                w.state(e, &volumes)
            })
        });
        state
            .map(|s| PyArray1::from_vec(py, s))
            .ok_or_else(|| PyValueError::new_err(format!("epoch {e} out of range")))
    }

    /// The even split's (TTFT s, carbon kg, water L, cost USD) in epoch `e` (floored at 1e-9):
    /// what rewards are measured against.
    fn reference<'py>(&self, py: Python<'py>, e: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let r = self
            .cell
            .with_dependent(|_, p| p.world.reference.get(e).map(|r| r.0.to_vec()));
        r.map(|v| PyArray1::from_vec(py, v))
            .ok_or_else(|| PyValueError::new_err(format!("epoch {e} out of range")))
    }

    /// Writes `weights` (shape (classes, datacenters); see the environment's action) as epoch
    /// `e`'s fractions and scores the epoch: (objectives dict, fractions written, shape
    /// (classes, datacenters)). Scoring an epoch again overwrites it.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        e: usize,
        weights: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyArray2<f64>>)> {
        self.fractions_of(e, &weights)?;
        let fractions = &self.fractions;
        let scored: Result<(Objectives, usize), PlanError> =
            self.cell.with_dependent_mut(|_, p| {
                p.world.planner.write_epoch(&mut p.plan, e, fractions)?;
                let o = p.sim.score_epoch(&p.plan, e, &mut p.out)?;
                Ok((o, p.world.datacenters))
            });
        let (o, nd) = scored.map_err(verdant_error)?;
        let executed = PyArray1::from_slice(py, fractions).reshape([fractions.len() / nd, nd])?;
        Ok((objectives_dict(py, &o)?, executed))
    }

    /// The whole plan scored by the fluid simulator (as `score_plan` with these settings).
    fn day_objectives<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let o = self
            .cell
            .with_dependent_mut(|_, p| p.sim.score(&p.plan).map(|o| o.objectives()))
            .map_err(verdant_error)?;
        objectives_dict(py, &o)
    }

    /// The plan so far, shape (epochs, origins, classes, datacenters).
    fn plan<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray4<f64>> {
        self.cell.with_dependent(|_, p| plan_array(py, &p.plan))
    }
}

/// One epoch's capital update of MARLIN's game (`verdant::geo::game`): the new capital of each
/// agent given the consensus's objectives, each proposal's objectives (agent j's proposal in
/// row j, objectives in agent order) and the game's constants.
#[pyfunction]
fn capital_update(
    mut capital: Vec<f64>,
    consensus: Vec<f64>,
    proposals: Vec<Vec<f64>>,
    decay: f64,
    scale: f64,
    bonus_scale: f64,
) -> PyResult<Vec<f64>> {
    let n = capital.len();
    if consensus.len() != n || proposals.len() != n || proposals.iter().any(|p| p.len() != n) {
        return Err(PyValueError::new_err(format!(
            "capital_update: {n} agents need a consensus of {n} objectives and {n} proposals of {n}"
        )));
    }
    verdant::geo::game::update_capitals(
        &mut capital,
        &consensus,
        &proposals,
        decay,
        scale,
        bonus_scale,
    );
    Ok(capital)
}

/// Adds the class and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<GeoCore>()?;
    m.add_function(wrap_pyfunction!(capital_update, m)?)?;
    Ok(())
}
