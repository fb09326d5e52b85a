//! Environments stepped in lockstep, with observation normalisation and the learning curve:
//! what the load balancer's trainers (`verdant-agents`) and the Python module's vectorised
//! environment step.

use std::sync::Arc;

use super::{EpisodeMetrics, LbEnv, LbEnvConfig, LbEnvState, LbWorkload};
use crate::seed::RngState;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Running mean and variance of observations (parallel Welford), applied as
/// `clip((x - mean) / sqrt(var + 1e-8), -10, 10)`; frozen outside training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsNormaliser {
    /// Whether observations are normalised.
    pub enabled: bool,
    count: f64,
    mean: Vec<f64>,
    var: Vec<f64>,
}

const CLIP: f64 = 10.0;

impl ObsNormaliser {
    /// A normaliser of `dim`-long observations, on or off.
    pub fn new(dim: usize, enabled: bool) -> Self {
        ObsNormaliser {
            enabled,
            count: 1e-4,
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
        }
    }

    /// Adds a batch of rows (`dim` values each) to the statistics.
    pub fn update(&mut self, rows: &[f32]) {
        if !self.enabled || rows.is_empty() {
            return;
        }
        let dim = self.mean.len();
        let n = (rows.len() / dim) as f64;
        for j in 0..dim {
            let mut sum = 0.0;
            for row in rows.chunks_exact(dim) {
                sum += f64::from(row[j]);
            }
            let batch_mean = sum / n;
            let mut sq = 0.0;
            for row in rows.chunks_exact(dim) {
                let d = f64::from(row[j]) - batch_mean;
                sq += d * d;
            }
            let batch_var = sq / n;
            let delta = batch_mean - self.mean[j];
            let total = self.count + n;
            let m2 =
                self.var[j] * self.count + batch_var * n + delta * delta * self.count * n / total;
            self.mean[j] += delta * n / total;
            self.var[j] = m2 / total;
        }
        self.count += n;
    }

    /// Normalises rows in place.
    pub fn apply(&self, rows: &mut [f32]) {
        if !self.enabled {
            return;
        }
        let dim = self.mean.len();
        for row in rows.chunks_exact_mut(dim) {
            for ((x, m), v) in row.iter_mut().zip(&self.mean).zip(&self.var) {
                *x = ((f64::from(*x) - m) / (v + 1e-8).sqrt()).clamp(-CLIP, CLIP) as f32;
            }
        }
    }
}

/// One finished training episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Environment steps taken (all environments together) when the episode ended.
    pub step: u64,
    /// Sum of the episode's rewards.
    pub episode_reward: f64,
    /// Its mean response time, seconds.
    pub mean_response_s: f64,
    /// Its share of SLO violations, percent.
    pub slo_violation_pct: f64,
}

/// `n` environments over one workload, each reset with its own seed drawn from one stream.
#[derive(Debug)]
pub struct VecEnv {
    envs: Vec<LbEnv>,
    episode_seeds: ChaCha8Rng,
    /// Raw observations, one row per environment.
    raw: Vec<f32>,
    /// Environment steps done.
    pub steps: u64,
    /// One point per finished episode.
    pub curve: Vec<CurvePoint>,
}

/// The resumable part of a [`VecEnv`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VecEnvState {
    envs: Vec<LbEnvState>,
    episode_seeds: RngState,
    steps: u64,
    curve: Vec<CurvePoint>,
}

impl VecEnv {
    /// Environments in lockstep over `workload`.
    pub fn new(
        workload: Arc<LbWorkload>,
        config: LbEnvConfig,
        n: usize,
        mut episode_seeds: ChaCha8Rng,
    ) -> Self {
        let mut envs: Vec<LbEnv> = (0..n)
            .map(|_| LbEnv::new(workload.clone(), config.clone()))
            .collect();
        for env in &mut envs {
            env.reset(episode_seeds.next_u64());
        }
        let dim = envs[0].observation_len();
        let mut v = VecEnv {
            envs,
            episode_seeds,
            raw: vec![0.0; n * dim],
            steps: 0,
            curve: Vec::new(),
        };
        v.refresh_raw();
        v
    }

    /// Number of environments.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// No environments.
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Length of one observation.
    pub fn observation_len(&self) -> usize {
        self.envs[0].observation_len()
    }

    /// Number of actions (servers).
    pub fn actions(&self) -> usize {
        self.envs[0].server_count()
    }

    fn refresh_raw(&mut self) {
        let dim = self.observation_len();
        for (env, row) in self.envs.iter().zip(self.raw.chunks_exact_mut(dim)) {
            env.observe(row);
        }
    }

    /// The current observations (raw; normalise a copy with [`ObsNormaliser::apply`]).
    pub fn raw_observations(&self) -> &[f32] {
        &self.raw
    }

    /// Starts every environment's episode again, with seeds drawn from the new stream
    /// `episode_seeds` (the step count and the curve are kept).
    pub fn reset_all(&mut self, episode_seeds: ChaCha8Rng) {
        self.episode_seeds = episode_seeds;
        for env in &mut self.envs {
            env.reset(self.episode_seeds.next_u64());
        }
        self.refresh_raw();
    }

    /// Steps every environment with its action; an environment whose episode ends is reset at
    /// once with the next seed. `rewards` and `dones` get one value per environment.
    pub fn step(&mut self, actions: &[usize], rewards: &mut [f32], dones: &mut [f32]) {
        self.step_observed(actions, rewards, dones, |_, _| {});
    }

    /// [`step`](Self::step), calling `finished(i, env)` for each environment `i` whose episode
    /// ends, before it is reset (its metrics and final observation are read there).
    ///
    /// # Panics
    /// If an action is out of range (the callers check actions from users).
    pub fn step_observed(
        &mut self,
        actions: &[usize],
        rewards: &mut [f32],
        dones: &mut [f32],
        mut finished: impl FnMut(usize, &LbEnv),
    ) {
        for (i, env) in self.envs.iter_mut().enumerate() {
            let out = env.step(actions[i]);
            rewards[i] = out.reward as f32;
            dones[i] = if out.terminated { 1.0 } else { 0.0 };
            self.steps += 1;
            if out.terminated {
                let m = EpisodeMetrics::of(env);
                self.curve.push(CurvePoint {
                    step: self.steps,
                    episode_reward: m.cumulative_reward,
                    mean_response_s: m.mean_response_s,
                    slo_violation_pct: m.slo_violation_pct,
                });
                finished(i, env);
                env.reset(self.episode_seeds.next_u64());
            }
        }
        self.refresh_raw();
    }

    /// Everything needed to resume the environments exactly.
    pub fn state(&self) -> VecEnvState {
        VecEnvState {
            envs: self.envs.iter().map(LbEnv::state).collect(),
            episode_seeds: RngState::capture(&self.episode_seeds),
            steps: self.steps,
            curve: self.curve.clone(),
        }
    }

    /// Restores a state captured by [`Self::state`].
    pub fn restore(&mut self, state: VecEnvState) -> Result<(), String> {
        if state.envs.len() != self.envs.len() {
            return Err(format!(
                "checkpoint has {} environments, the configuration {}",
                state.envs.len(),
                self.envs.len()
            ));
        }
        for (env, s) in self.envs.iter_mut().zip(state.envs) {
            env.restore(s)?;
        }
        self.episode_seeds = state.episode_seeds.restore()?;
        self.steps = state.steps;
        self.curve = state.curve;
        self.refresh_raw();
        Ok(())
    }
}
