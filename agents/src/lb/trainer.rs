//! Training PPO, A2C and DQN on the load balancer's environment, with exact checkpoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{Module, VarStore};
use tch::{Device, Kind, Tensor};
use verdant::lb::{LbEnv, LbEnvConfig, LbPolicy, LbWorkload};
use verdant::seed::{MasterSeed, RngState};

use super::params::{ActorCriticParams, Algorithm, LbAgentSettings};
use crate::adam::Adam;
use crate::checkpoint::{self, Layout, TensorsIn, TensorsOut};
use crate::mlp::Mlp;
use crate::{argmax, AgentError};
use verdant::lb::{CurvePoint, ObsNormaliser, VecEnv, VecEnvState};

/// Name of a checkpoint's metadata file inside its directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";

/// Where the trainer's checkpoint lives in its directory.
const CHECKPOINT: Layout = Layout {
    meta_file: CHECKPOINT_FILE,
    tensors_prefix: "checkpoint",
};

/// DQN's replay buffer (normalised observations, as the agent saw them).
#[derive(Debug)]
struct Replay {
    dim: usize,
    capacity: usize,
    obs: Vec<f32>,
    next_obs: Vec<f32>,
    actions: Vec<i64>,
    rewards: Vec<f32>,
    dones: Vec<f32>,
    len: usize,
    next: usize,
}

impl Replay {
    fn new(capacity: usize, dim: usize) -> Self {
        Replay {
            dim,
            capacity,
            obs: vec![0.0; capacity * dim],
            next_obs: vec![0.0; capacity * dim],
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            dones: vec![0.0; capacity],
            len: 0,
            next: 0,
        }
    }

    fn push(&mut self, obs: &[f32], action: usize, reward: f32, next_obs: &[f32], done: f32) {
        let i = self.next;
        let d = self.dim;
        self.obs[i * d..(i + 1) * d].copy_from_slice(obs);
        self.next_obs[i * d..(i + 1) * d].copy_from_slice(next_obs);
        self.actions[i] = action as i64;
        self.rewards[i] = reward;
        self.dones[i] = done;
        self.next = (i + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        let n = self.len;
        let d = self.dim as i64;
        vec![
            (
                "replay.obs".into(),
                Tensor::from_slice(&self.obs[..n * self.dim]).view([n as i64, d]),
            ),
            (
                "replay.next_obs".into(),
                Tensor::from_slice(&self.next_obs[..n * self.dim]).view([n as i64, d]),
            ),
            (
                "replay.actions".into(),
                Tensor::from_slice(&self.actions[..n]),
            ),
            (
                "replay.rewards".into(),
                Tensor::from_slice(&self.rewards[..n]),
            ),
            ("replay.dones".into(), Tensor::from_slice(&self.dones[..n])),
        ]
    }

    fn restore(&mut self, t: &TensorsIn, len: usize, next: usize) -> Result<(), AgentError> {
        let n = len.min(self.capacity);
        let copy_f32 = |dst: &mut [f32], k: &str| -> Result<(), AgentError> {
            let src = t.get(k)?.flatten(0, -1);
            let v: Vec<f32> = Vec::try_from(&src).map_err(|e| t.error(format!("{k}: {e}")))?;
            if v.len() != dst.len() {
                return Err(t.error(format!("{k}: {} values, expected {}", v.len(), dst.len())));
            }
            dst.copy_from_slice(&v);
            Ok(())
        };
        copy_f32(&mut self.obs[..n * self.dim], "replay.obs")?;
        copy_f32(&mut self.next_obs[..n * self.dim], "replay.next_obs")?;
        copy_f32(&mut self.rewards[..n], "replay.rewards")?;
        copy_f32(&mut self.dones[..n], "replay.dones")?;
        let a: Vec<i64> = Vec::try_from(t.get("replay.actions")?)
            .map_err(|e| t.error(format!("replay.actions: {e}")))?;
        if a.len() != n {
            return Err(t.error(format!("replay.actions: {} values, expected {n}", a.len())));
        }
        self.actions[..n].copy_from_slice(&a);
        self.len = n;
        self.next = next % self.capacity;
        Ok(())
    }
}

/// The scalar part of a checkpoint (tensors live in the file it names).
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    algorithm: Algorithm,
    observation_len: usize,
    actions: usize,
    adam_steps: i64,
    rng: RngState,
    venv: VecEnvState,
    normaliser: ObsNormaliser,
    replay_len: usize,
    replay_next: usize,
    dqn_pending: u64,
    last_target_sync: u64,
    next_checkpoint: u64,
}

/// A learning agent and its training state.
#[derive(Debug)]
pub struct LbTrainer {
    settings: LbAgentSettings,
    device: Device,
    vs: VarStore,
    /// Policy logits (PPO, A2C) or action values (DQN).
    actor: Mlp,
    critic: Option<Mlp>,
    target_vs: Option<VarStore>,
    target: Option<Mlp>,
    adam: Adam,
    normaliser: ObsNormaliser,
    venv: VecEnv,
    rng: ChaCha8Rng,
    replay: Option<Replay>,
    dqn_pending: u64,
    last_target_sync: u64,
    next_checkpoint: u64,
}

/// Progress reported to the caller while training.
#[derive(Debug, Clone, Copy)]
pub struct TrainProgress<'a> {
    /// Environment steps done.
    pub steps: u64,
    /// Environment steps to do.
    pub total_steps: u64,
    /// The learning curve so far.
    pub curve: &'a [CurvePoint],
}

impl LbTrainer {
    /// A fresh agent: weights from the `lb.init` stream, episodes from `lb.episodes`, action
    /// sampling and minibatches from `lb.agent`.
    pub fn new(
        settings: LbAgentSettings,
        workload: Arc<LbWorkload>,
        mut env_config: LbEnvConfig,
        seed: MasterSeed,
        device: Device,
    ) -> Result<Self, AgentError> {
        let p = settings.params().clone();
        env_config.episode_requests = p.episode_requests;
        if workload.is_empty() {
            return Err(AgentError::Invalid(format!(
                "workload {} has no requests to train on",
                workload.name
            )));
        }
        let venv = VecEnv::new(workload, env_config, p.envs, seed.rng("lb.episodes"));
        let dim = venv.observation_len() as i64;
        let actions = venv.actions() as i64;
        let mut init = seed.rng("lb.init");
        let vs = VarStore::new(device);
        let root = vs.root();
        let mut actor = Mlp::new(&(&root / "actor"), dim, &p.hidden, actions);
        actor.reinitialise(&mut init);
        let (critic, target_vs, target, replay) = match p.algorithm {
            Algorithm::Ppo | Algorithm::A2c => {
                let mut critic = Mlp::new(&(&root / "critic"), dim, &p.hidden, 1);
                critic.reinitialise(&mut init);
                (Some(critic), None, None, None)
            }
            Algorithm::Dqn => {
                let mut tvs = VarStore::new(device);
                let target = Mlp::new(&(tvs.root() / "actor"), dim, &p.hidden, actions);
                tvs.copy(&vs)?;
                tvs.freeze();
                (
                    None,
                    Some(tvs),
                    Some(target),
                    Some(Replay::new(p.dqn.buffer, dim as usize)),
                )
            }
        };
        let adam = Adam::new(&vs, p.learning_rate);
        Ok(LbTrainer {
            normaliser: ObsNormaliser::new(dim as usize, p.normalise_observations),
            settings,
            device,
            vs,
            actor,
            critic,
            target_vs,
            target,
            adam,
            venv,
            rng: seed.rng("lb.agent"),
            replay,
            dqn_pending: 0,
            last_target_sync: 0,
            next_checkpoint: 0,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &LbAgentSettings {
        &self.settings
    }

    /// Environment steps done.
    pub fn steps(&self) -> u64 {
        self.venv.steps
    }

    /// Finished training episodes so far.
    pub fn curve(&self) -> &[CurvePoint] {
        &self.venv.curve
    }

    /// Trains until the configured step budget, saving a checkpoint into `checkpoint_dir` every
    /// `checkpoint_every` steps (at the first update boundary past each multiple) and at the end.
    pub fn train(
        &mut self,
        checkpoint: Option<(&Path, u64)>,
        observer: &mut dyn FnMut(TrainProgress<'_>),
    ) -> Result<(), AgentError> {
        self.train_until(self.settings.params().total_steps, checkpoint, observer)
    }

    /// Trains until `steps` (at most the budget; schedules such as DQN's epsilon still follow the
    /// full budget), so a run can be stopped early and resumed from its checkpoint.
    pub fn train_until(
        &mut self,
        steps: u64,
        checkpoint: Option<(&Path, u64)>,
        observer: &mut dyn FnMut(TrainProgress<'_>),
    ) -> Result<(), AgentError> {
        let total = self.settings.params().total_steps;
        while self.venv.steps < steps.min(total) {
            match self.settings.actor_critic().cloned() {
                Some(ac) => self.actor_critic_iteration(&ac)?,
                None => self.dqn_iteration()?,
            }
            verdant::run::kill_point("train-step");
            observer(TrainProgress {
                steps: self.venv.steps,
                total_steps: total,
                curve: &self.venv.curve,
            });
            if let Some((dir, every)) = checkpoint {
                if self.venv.steps >= self.next_checkpoint || self.venv.steps >= steps.min(total) {
                    self.next_checkpoint = (self.venv.steps / every + 1) * every;
                    self.save_checkpoint(dir)?;
                }
            }
        }
        Ok(())
    }

    /// The current observations, normalised (statistics updated first when `update`).
    fn observations(
        normaliser: &mut ObsNormaliser,
        venv: &VecEnv,
        update: bool,
        out: &mut Vec<f32>,
    ) {
        let raw = venv.raw_observations();
        if update {
            normaliser.update(raw);
        }
        out.clear();
        out.extend_from_slice(raw);
        normaliser.apply(out);
    }

    fn to_tensor(&self, rows: &[f32], dim: usize) -> Tensor {
        Tensor::from_slice(rows)
            .view([(rows.len() / dim) as i64, dim as i64])
            .to_device(self.device)
    }

    fn actor_critic_iteration(&mut self, ac: &ActorCriticParams) -> Result<(), AgentError> {
        let n = self.venv.len();
        let dim = self.venv.observation_len();
        let actions_n = self.venv.actions();
        let t_len = ac.rollout_steps;
        let gamma = self.settings.params().gamma as f32;
        let scale = self.settings.params().reward_scale as f32;
        let mut obs_all = Vec::with_capacity(t_len * n * dim);
        let mut actions = vec![0usize; t_len * n];
        let mut logps = vec![0f32; t_len * n];
        let mut values = vec![0f32; t_len * n];
        let mut rewards = vec![0f32; t_len * n];
        let mut dones = vec![0f32; t_len * n];
        let mut obs = Vec::with_capacity(n * dim);
        let critic = self.critic.as_ref().expect("actor-critic has a critic");
        for t in 0..t_len {
            Self::observations(&mut self.normaliser, &self.venv, true, &mut obs);
            obs_all.extend_from_slice(&obs);
            let x = self.to_tensor(&obs, dim);
            let (probs, v) = tch::no_grad(|| {
                let probs = self.actor.forward(&x).softmax(-1, Kind::Float);
                let v = critic.forward(&x).view([-1]);
                (probs, v)
            });
            let probs: Vec<f32> = Vec::try_from(probs.to_device(Device::Cpu).flatten(0, -1))?;
            let v: Vec<f32> = Vec::try_from(v.to_device(Device::Cpu))?;
            for i in 0..n {
                let row = &probs[i * actions_n..(i + 1) * actions_n];
                let a = sample(row, &mut self.rng);
                actions[t * n + i] = a;
                logps[t * n + i] = row[a].max(1e-12).ln();
                values[t * n + i] = v[i];
            }
            self.venv.step(
                &actions[t * n..(t + 1) * n],
                &mut rewards[t * n..(t + 1) * n],
                &mut dones[t * n..(t + 1) * n],
            );
            for r in &mut rewards[t * n..(t + 1) * n] {
                *r *= scale;
            }
        }
        Self::observations(&mut self.normaliser, &self.venv, false, &mut obs);
        let x = self.to_tensor(&obs, dim);
        let last: Vec<f32> =
            Vec::try_from(tch::no_grad(|| critic.forward(&x).view([-1])).to_device(Device::Cpu))?;
        // Generalised advantage estimation, backwards in time per environment.
        let lambda = ac.gae_lambda as f32;
        let mut advantages = vec![0f32; t_len * n];
        for (i, &bootstrap) in last.iter().enumerate().take(n) {
            let mut gae = 0.0f32;
            for t in (0..t_len).rev() {
                let k = t * n + i;
                let not_done = 1.0 - dones[k];
                let next_value = if t + 1 == t_len {
                    bootstrap
                } else {
                    values[k + n]
                };
                let delta = rewards[k] + gamma * next_value * not_done - values[k];
                gae = delta + gamma * lambda * not_done * gae;
                advantages[k] = gae;
            }
        }
        let returns: Vec<f32> = advantages.iter().zip(&values).map(|(a, v)| a + v).collect();
        let batch = t_len * n;
        let obs_t = self.to_tensor(&obs_all, dim);
        let act_t = Tensor::from_slice(&actions.iter().map(|&a| a as i64).collect::<Vec<_>>())
            .to_device(self.device);
        let logp_t = Tensor::from_slice(&logps).to_device(self.device);
        let adv_t = Tensor::from_slice(&advantages).to_device(self.device);
        let ret_t = Tensor::from_slice(&returns).to_device(self.device);
        let minibatch = if ac.minibatch == 0 {
            batch
        } else {
            ac.minibatch.min(batch)
        };
        let mut order: Vec<i64> = (0..batch as i64).collect();
        for _ in 0..ac.epochs {
            if minibatch < batch {
                shuffle(&mut order, &mut self.rng);
            }
            for chunk in order.chunks(minibatch) {
                let idx = Tensor::from_slice(chunk).to_device(self.device);
                let x = obs_t.index_select(0, &idx);
                let a = act_t.index_select(0, &idx);
                let old_logp = logp_t.index_select(0, &idx);
                let mut adv = adv_t.index_select(0, &idx);
                let ret = ret_t.index_select(0, &idx);
                if ac.normalise_advantages && chunk.len() > 1 {
                    adv = (&adv - adv.mean(Kind::Float)) / (adv.std(true) + 1e-8);
                }
                let log_probs = self.actor.forward(&x).log_softmax(-1, Kind::Float);
                let logp = log_probs.gather(1, &a.unsqueeze(1), false).squeeze_dim(1);
                let entropy = -(log_probs.exp() * &log_probs)
                    .sum_dim_intlist(-1, false, Kind::Float)
                    .mean(Kind::Float);
                let policy_loss = match ac.clip_range {
                    Some(clip) => {
                        let ratio = (&logp - old_logp).exp();
                        let unclipped = &ratio * &adv;
                        let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * &adv;
                        -unclipped.min_other(&clipped).mean(Kind::Float)
                    }
                    None => -(logp * adv).mean(Kind::Float),
                };
                let v = critic.forward(&x).view([-1]);
                let value_loss = (ret - v).square().mean(Kind::Float);
                let loss = policy_loss + value_loss * ac.value_coef - entropy * ac.entropy_coef;
                self.adam.zero_grad();
                loss.backward();
                self.adam.clip_grad_norm(ac.max_grad_norm);
                self.adam.step();
            }
        }
        Ok(())
    }

    fn epsilon(&self) -> f64 {
        let d = &self.settings.params().dqn;
        let total = self.settings.params().total_steps as f64;
        let span = (d.exploration_fraction * total).max(1.0);
        let progress = (self.venv.steps as f64 / span).min(1.0);
        1.0 + (d.final_epsilon - 1.0) * progress
    }

    fn dqn_iteration(&mut self) -> Result<(), AgentError> {
        let p = self.settings.params().clone();
        let d = &p.dqn;
        let n = self.venv.len();
        let dim = self.venv.observation_len();
        let actions_n = self.venv.actions();
        let mut obs = Vec::with_capacity(n * dim);
        Self::observations(&mut self.normaliser, &self.venv, true, &mut obs);
        let eps = self.epsilon();
        let x = self.to_tensor(&obs, dim);
        let q: Vec<f32> = Vec::try_from(
            tch::no_grad(|| self.actor.forward(&x))
                .to_device(Device::Cpu)
                .flatten(0, -1),
        )?;
        let mut actions = vec![0usize; n];
        for (i, a) in actions.iter_mut().enumerate() {
            *a = if self.rng.gen::<f64>() < eps {
                self.rng.gen_range(0..actions_n)
            } else {
                argmax(&q[i * actions_n..(i + 1) * actions_n])
            };
        }
        let mut rewards = vec![0f32; n];
        let mut dones = vec![0f32; n];
        self.venv.step(&actions, &mut rewards, &mut dones);
        let mut next = Vec::with_capacity(n * dim);
        Self::observations(&mut self.normaliser, &self.venv, false, &mut next);
        let replay = self.replay.as_mut().expect("DQN has a replay buffer");
        for i in 0..n {
            replay.push(
                &obs[i * dim..(i + 1) * dim],
                actions[i],
                rewards[i] * p.reward_scale as f32,
                &next[i * dim..(i + 1) * dim],
                dones[i],
            );
        }
        if self.venv.steps >= d.learning_starts {
            self.dqn_pending += n as u64;
            while self.dqn_pending >= d.train_every {
                self.dqn_pending -= d.train_every;
                self.dqn_update(d.batch, p.gamma, d.max_grad_norm)?;
            }
        }
        if self.venv.steps - self.last_target_sync >= d.target_update_every {
            self.last_target_sync = self.venv.steps;
            if let Some(tvs) = self.target_vs.as_mut() {
                tvs.copy(&self.vs)?;
            }
        }
        Ok(())
    }

    fn dqn_update(
        &mut self,
        batch: usize,
        gamma: f64,
        max_grad_norm: f64,
    ) -> Result<(), AgentError> {
        let replay = self.replay.as_ref().expect("DQN has a replay buffer");
        let dim = replay.dim;
        let b = batch.min(replay.len);
        let mut obs = Vec::with_capacity(b * dim);
        let mut next = Vec::with_capacity(b * dim);
        let mut actions = Vec::with_capacity(b);
        let mut rewards = Vec::with_capacity(b);
        let mut dones = Vec::with_capacity(b);
        for _ in 0..b {
            let k = self.rng.gen_range(0..replay.len);
            obs.extend_from_slice(&replay.obs[k * dim..(k + 1) * dim]);
            next.extend_from_slice(&replay.next_obs[k * dim..(k + 1) * dim]);
            actions.push(replay.actions[k]);
            rewards.push(replay.rewards[k]);
            dones.push(replay.dones[k]);
        }
        let x = self.to_tensor(&obs, dim);
        let x_next = self.to_tensor(&next, dim);
        let a = Tensor::from_slice(&actions).to_device(self.device);
        let r = Tensor::from_slice(&rewards).to_device(self.device);
        let done = Tensor::from_slice(&dones).to_device(self.device);
        let target_net = self.target.as_ref().expect("DQN has a target network");
        let target = tch::no_grad(|| {
            let next_q = target_net.forward(&x_next).amax(-1, false);
            r + (1.0 - done) * next_q * gamma
        });
        let q = self
            .actor
            .forward(&x)
            .gather(1, &a.unsqueeze(1), false)
            .squeeze_dim(1);
        let loss = q.smooth_l1_loss(&target, tch::Reduction::Mean, 1.0);
        self.adam.zero_grad();
        loss.backward();
        self.adam.clip_grad_norm(max_grad_norm);
        self.adam.step();
        Ok(())
    }

    /// The deterministic (greedy) policy of the current weights, for evaluation.
    pub fn greedy(&self) -> GreedyPolicy<'_> {
        GreedyPolicy {
            trainer: self,
            obs: Vec::new(),
        }
    }

    /// Writes the checkpoint into `dir` (created if missing): the tensors to a new file, then the
    /// metadata that names it, each atomically; older tensor files are removed afterwards. An
    /// interrupted save leaves the previous checkpoint intact.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<PathBuf, AgentError> {
        let mut tensors = TensorsOut::default();
        tensors.vars(&self.vs, "net");
        if let Some(t) = &self.target_vs {
            tensors.vars(t, "target");
        }
        tensors.extend(self.adam.state_tensors());
        if let Some(r) = &self.replay {
            tensors.extend(r.tensors());
        }
        let meta = CheckpointMeta {
            algorithm: self.settings.params().algorithm,
            observation_len: self.venv.observation_len(),
            actions: self.venv.actions(),
            adam_steps: self.adam.steps(),
            rng: RngState::capture(&self.rng),
            venv: self.venv.state(),
            normaliser: self.normaliser.clone(),
            replay_len: self.replay.as_ref().map_or(0, |r| r.len),
            replay_next: self.replay.as_ref().map_or(0, |r| r.next),
            dqn_pending: self.dqn_pending,
            last_target_sync: self.last_target_sync,
            next_checkpoint: self.next_checkpoint,
        };
        checkpoint::save(
            dir,
            CHECKPOINT,
            &self.venv.steps.to_string(),
            &meta,
            tensors,
        )
    }

    /// Restores the state saved in `dir` into this trainer (built with the same settings,
    /// workload and seed); training then continues exactly as if it had never stopped.
    pub fn resume(&mut self, dir: &Path) -> Result<(), AgentError> {
        let (meta, tensors) = checkpoint::load::<CheckpointMeta>(dir, CHECKPOINT, self.device)?;
        let bad = |m: String| tensors.error(m);
        if meta.algorithm != self.settings.params().algorithm
            || meta.observation_len != self.venv.observation_len()
            || meta.actions != self.venv.actions()
        {
            return Err(bad(format!(
                "made by {} with {} observations and {} servers; this run is {} with {} and {}",
                meta.algorithm.name(),
                meta.observation_len,
                meta.actions,
                self.settings.params().algorithm.name(),
                self.venv.observation_len(),
                self.venv.actions()
            )));
        }
        tensors.restore_vars(&self.vs, "net")?;
        if let Some(t) = &self.target_vs {
            tensors.restore_vars(t, "target")?;
        }
        self.adam.restore(&tensors, meta.adam_steps)?;
        if let Some(r) = self.replay.as_mut() {
            r.restore(&tensors, meta.replay_len, meta.replay_next)?;
        }
        self.venv.restore(meta.venv).map_err(bad)?;
        self.rng = meta.rng.restore().map_err(bad)?;
        self.normaliser = meta.normaliser;
        self.dqn_pending = meta.dqn_pending;
        self.last_target_sync = meta.last_target_sync;
        self.next_checkpoint = meta.next_checkpoint;
        Ok(())
    }

    /// All weights flattened, for tests that compare two runs.
    pub fn weights(&self) -> Vec<f32> {
        let mut named: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (_, t) in named {
            let v: Vec<f32> =
                Vec::try_from(t.to_device(Device::Cpu).flatten(0, -1)).expect("float weights");
            out.extend(v);
        }
        out
    }
}

/// Draws an index from probabilities `p` (which sum to about 1).
fn sample(p: &[f32], rng: &mut ChaCha8Rng) -> usize {
    let u: f32 = rng.gen::<f32>() * p.iter().sum::<f32>();
    let mut acc = 0.0;
    for (i, &x) in p.iter().enumerate() {
        acc += x;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

fn shuffle(v: &mut [i64], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

/// The greedy action of a trained agent, through the same observation and normalisation as in
/// training (statistics frozen).
#[derive(Debug)]
pub struct GreedyPolicy<'a> {
    trainer: &'a LbTrainer,
    obs: Vec<f32>,
}

impl LbPolicy for GreedyPolicy<'_> {
    fn name(&self) -> &str {
        self.trainer.settings.params().algorithm.name()
    }

    fn choose(&mut self, env: &LbEnv) -> usize {
        self.obs.resize(env.observation_len(), 0.0);
        env.observe(&mut self.obs);
        self.trainer.normaliser.apply(&mut self.obs);
        let x = self.trainer.to_tensor(&self.obs, self.obs.len());
        let out = tch::no_grad(|| self.trainer.actor.forward(&x));
        out.argmax(-1, false).int64_value(&[0]) as usize
    }
}
