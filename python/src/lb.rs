//! The load balancer's environment from Python: `_LbEnv` (one environment, stepped per request)
//! and `_LbVecEnv` (N environments per call on numpy arrays), both over the CLI's `LbEnv` and
//! the workloads `verdant lb` builds from the same scenario (training slice or held-out tail).

use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use verdant::features::FEATURE_NAMES;
use verdant::lb::{
    baseline, run_episode, EpisodeMetrics, LbEnv, LbEnvConfig, LbWorkload, VecEnv, BASELINES,
    SERVER_OBS_NAMES,
};
use verdant::scenario::lb::LbScenario;

use crate::verdant_error;

/// The workload of `split` and the environment's rules, from a load-balancer scenario, with the
/// bounds of the observations on either split (one observation space for both).
struct Loaded {
    workload: Arc<LbWorkload>,
    config: LbEnvConfig,
    name: String,
    bounds: (Vec<f32>, Vec<f32>),
}

fn load(
    py: Python<'_>,
    scenario: &str,
    scenario_set: Vec<String>,
    split: &str,
    episode_requests: Option<usize>,
) -> PyResult<Loaded> {
    if episode_requests == Some(0) {
        return Err(PyValueError::new_err(
            "episode_requests: must be at least 1 (or None: the whole split)",
        ));
    }
    let path = verdant::scenario::resolve(scenario).map_err(verdant_error)?;
    let s = py
        .allow_threads(|| LbScenario::load(&path, &scenario_set))
        .map_err(verdant_error)?;
    let (train, eval) = py.allow_threads(|| LbWorkload::split(&s));
    let (workload, other) = match split {
        "train" => (train, eval),
        "eval" => (eval, train),
        other => {
            return Err(PyValueError::new_err(format!(
                "split: {other:?} is not \"train\" or \"eval\" (the held-out tail)"
            )))
        }
    };
    if workload.is_empty() {
        return Err(verdant_error(format!(
            "scenario {}: the {split} split has no requests (trace.eval_tail_fraction)",
            s.name
        )));
    }
    let mut config = LbEnvConfig::from_scenario(&s);
    config.episode_requests = episode_requests;
    let workload = Arc::new(workload);
    let (mut low, mut high) = LbEnv::new(workload.clone(), config.clone()).observation_bounds();
    let (low2, high2) = LbEnv::new(Arc::new(other), config.clone()).observation_bounds();
    for (l, o) in low.iter_mut().zip(low2) {
        *l = l.min(o);
    }
    for (h, o) in high.iter_mut().zip(high2) {
        *h = h.max(o);
    }
    Ok(Loaded {
        workload,
        config,
        name: s.name.clone(),
        bounds: (low, high),
    })
}

/// The names of an observation's values: the request's features, then each server's values.
fn observation_names(config: &LbEnvConfig) -> Vec<String> {
    let mut names: Vec<String> = FEATURE_NAMES.iter().map(|&n| n.to_owned()).collect();
    for server in &config.servers {
        for v in SERVER_OBS_NAMES {
            names.push(format!("{}.{v}", server.name));
        }
    }
    names
}

/// (low, high) as numpy arrays.
fn bounds_arrays<'py>(
    py: Python<'py>,
    (low, high): &(Vec<f32>, Vec<f32>),
) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
    (
        PyArray1::from_slice(py, low),
        PyArray1::from_slice(py, high),
    )
}

/// The episode's metrics as JSON (what `verdant lb`'s tables report).
fn metrics_json(env: &LbEnv) -> String {
    serde_json::to_string(&EpisodeMetrics::of(env)).expect("metrics serialise")
}

/// `_LbEnv(scenario, split, episode_requests, scenario_set)`: one load-balancer environment.
#[pyclass(name = "_LbEnv", module = "verdant")]
pub struct LbEnvCore {
    env: LbEnv,
    obs: Vec<f32>,
    name: String,
    bounds: (Vec<f32>, Vec<f32>),
}

#[pymethods]
impl LbEnvCore {
    #[new]
    #[pyo3(signature = (scenario, split, episode_requests, scenario_set))]
    fn new(
        py: Python<'_>,
        scenario: &str,
        split: &str,
        episode_requests: Option<usize>,
        scenario_set: Vec<String>,
    ) -> PyResult<Self> {
        let loaded = load(py, scenario, scenario_set, split, episode_requests)?;
        let env = LbEnv::new(loaded.workload, loaded.config);
        let obs = vec![0.0; env.observation_len()];
        Ok(LbEnvCore {
            env,
            obs,
            name: loaded.name,
            bounds: loaded.bounds,
        })
    }

    /// The scenario's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Length of an observation.
    #[getter]
    fn observation_len(&self) -> usize {
        self.env.observation_len()
    }

    /// Number of actions (servers).
    #[getter]
    fn action_count(&self) -> usize {
        self.env.server_count()
    }

    /// The servers' names, in action order.
    #[getter]
    fn server_names(&self) -> Vec<String> {
        self.env
            .config()
            .servers
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The observation's value names.
    #[getter]
    fn observation_names(&self) -> Vec<String> {
        observation_names(self.env.config())
    }

    /// Bounds of every observation value on either split: (low, high).
    fn observation_bounds<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
        bounds_arrays(py, &self.bounds)
    }

    /// Requests in the current episode.
    #[getter]
    fn episode_len(&self) -> usize {
        self.env.episode_len()
    }

    /// Starts an episode (a window drawn from `seed`, or the whole split); its observation.
    fn reset<'py>(&mut self, py: Python<'py>, seed: u64) -> Bound<'py, PyArray1<f32>> {
        self.env.reset(seed);
        self.env.observe(&mut self.obs);
        PyArray1::from_slice(py, &self.obs)
    }

    /// Routes the current request to server `action`: (observation, reward, terminated).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: i64,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64, bool)> {
        if self.env.is_done() {
            return Err(PyRuntimeError::new_err(
                "step() on a finished episode: call reset()",
            ));
        }
        let n = self.env.server_count();
        let server = usize::try_from(action)
            .ok()
            .filter(|&a| a < n)
            .ok_or_else(|| {
                PyValueError::new_err(format!("action {action} out of range: 0..{n} (servers)"))
            })?;
        let out = self.env.step(server);
        self.env.observe(&mut self.obs);
        Ok((
            PyArray1::from_slice(py, &self.obs),
            out.reward,
            out.terminated,
        ))
    }

    /// The episode's metrics so far, as JSON.
    fn metrics(&self) -> String {
        metrics_json(&self.env)
    }

    /// Runs one whole episode (the environment's split and window rule, reset with `seed`) with
    /// `verdant lb`'s rule baseline `name` (round-robin, least-connections, least-loaded,
    /// random, normalised-least-loaded, shortest-expected-delay), in Rust; its metrics as JSON.
    /// The environment is left at that episode's end.
    fn run_baseline(&mut self, py: Python<'_>, name: &str, seed: u64) -> PyResult<String> {
        let mut policy = baseline(name).ok_or_else(|| {
            PyValueError::new_err(format!(
                "baseline {name:?} is not one of {}",
                BASELINES.join(", ")
            ))
        })?;
        let env = &mut self.env;
        py.allow_threads(|| run_episode(env, policy.as_mut(), seed));
        Ok(metrics_json(&self.env))
    }

    /// The response times of the requests served so far, seconds, in completion order.
    fn response_times_s<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, EpisodeMetrics::response_times_s(&self.env))
    }
}

/// `_LbVecEnv(scenario, num_envs, split, episode_requests, scenario_set, seed)`: N environments
/// stepped in lockstep; an environment whose episode ends starts its next one in the same step.
#[pyclass(name = "_LbVecEnv", module = "verdant")]
pub struct LbVecEnvCore {
    venv: VecEnv,
    bounds: (Vec<f32>, Vec<f32>),
    actions: Vec<usize>,
    rewards: Vec<f32>,
    dones: Vec<f32>,
    names: Vec<String>,
}

#[pymethods]
impl LbVecEnvCore {
    #[new]
    #[pyo3(signature = (scenario, num_envs, split, episode_requests, scenario_set, seed))]
    fn new(
        py: Python<'_>,
        scenario: &str,
        num_envs: usize,
        split: &str,
        episode_requests: Option<usize>,
        scenario_set: Vec<String>,
        seed: u64,
    ) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs: must be at least 1"));
        }
        let loaded = load(py, scenario, scenario_set, split, episode_requests)?;
        let names = observation_names(&loaded.config);
        let venv = VecEnv::new(
            loaded.workload,
            loaded.config,
            num_envs,
            ChaCha8Rng::seed_from_u64(seed),
        );
        Ok(LbVecEnvCore {
            venv,
            bounds: loaded.bounds,
            actions: vec![0; num_envs],
            rewards: vec![0.0; num_envs],
            dones: vec![0.0; num_envs],
            names,
        })
    }

    /// Number of environments.
    #[getter]
    fn num_envs(&self) -> usize {
        self.venv.len()
    }

    /// Length of an observation.
    #[getter]
    fn observation_len(&self) -> usize {
        self.venv.observation_len()
    }

    /// Number of actions (servers).
    #[getter]
    fn action_count(&self) -> usize {
        self.venv.actions()
    }

    /// The observation's value names.
    #[getter]
    fn observation_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// Bounds of every observation value on either split: (low, high).
    fn observation_bounds<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
        bounds_arrays(py, &self.bounds)
    }

    /// Environment steps taken, all environments together.
    #[getter]
    fn steps(&self) -> u64 {
        self.venv.steps
    }

    /// The observations, shape (num_envs, observation_len).
    fn observations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (n, dim) = (self.venv.len(), self.venv.observation_len());
        PyArray1::from_slice(py, self.venv.raw_observations()).reshape([n, dim])
    }

    /// Starts every environment's episode, with seeds drawn from a stream seeded by `seed`.
    fn reset<'py>(&mut self, py: Python<'py>, seed: u64) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.venv.reset_all(ChaCha8Rng::seed_from_u64(seed));
        self.observations(py)
    }

    /// Steps every environment with its action (shape (num_envs,), integers):
    /// (observations, rewards, terminated, finished), `finished` a list of (index, metrics JSON)
    /// of the environments whose episode ended in this step (their observation is already the
    /// next episode's first).
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray1<bool>>,
        Vec<(usize, String)>,
    )> {
        let view = actions.as_array();
        let (n, servers) = (self.venv.len(), self.venv.actions());
        if view.len() != n {
            return Err(PyValueError::new_err(format!(
                "actions has {} entries; there are {n} environments",
                view.len()
            )));
        }
        for (slot, &a) in self.actions.iter_mut().zip(view.iter()) {
            *slot = usize::try_from(a)
                .ok()
                .filter(|&a| a < servers)
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "action {a} out of range: 0..{servers} (servers)"
                    ))
                })?;
        }
        let mut finished = Vec::new();
        let (actions, rewards, dones) = (&self.actions, &mut self.rewards, &mut self.dones);
        py.allow_threads(|| {
            self.venv.step_observed(actions, rewards, dones, |i, env| {
                finished.push((i, metrics_json(env)));
            });
        });
        let terminated: Vec<bool> = self.dones.iter().map(|&d| d > 0.5).collect();
        Ok((
            self.observations(py)?,
            PyArray1::from_slice(py, &self.rewards),
            PyArray1::from_vec(py, terminated),
            finished,
        ))
    }
}

/// Adds the classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LB_BASELINES", BASELINES.to_vec())?;
    m.add_class::<LbEnvCore>()?;
    m.add_class::<LbVecEnvCore>()?;
    Ok(())
}
