//! Parameters of the load balancer's learning agents, checked once.

use serde::{Deserialize, Serialize};
use verdant::config::{
    key, require_at_least_one, require_fraction, require_non_negative, require_positive,
    ConfigError, Validate,
};

/// Which learning algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Proximal policy optimisation.
    Ppo,
    /// Advantage actor-critic.
    A2c,
    /// Deep Q-network.
    Dqn,
}

impl Algorithm {
    /// The three, in table order.
    pub const ALL: [Algorithm; 3] = [Algorithm::Ppo, Algorithm::A2c, Algorithm::Dqn];

    /// Name in tables and configs (`ppo`, `a2c`, `dqn`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ppo => "ppo",
            Algorithm::A2c => "a2c",
            Algorithm::Dqn => "dqn",
        }
    }
}

/// Actor-critic updates. PPO: several epochs of clipped minibatch updates; A2C: the same code
/// with one epoch over the whole rollout and no clipping.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActorCriticParams {
    /// Steps per environment between updates.
    pub rollout_steps: usize,
    /// Passes over each rollout.
    pub epochs: usize,
    /// Transitions per minibatch; 0 = the whole rollout.
    pub minibatch: usize,
    /// PPO's clip range; absent = no clipping (A2C).
    pub clip_range: Option<f64>,
    /// GAE's lambda.
    pub gae_lambda: f64,
    /// Weight of the entropy bonus.
    pub entropy_coef: f64,
    /// Weight of the value loss.
    pub value_coef: f64,
    /// Gradient norm clip.
    pub max_grad_norm: f64,
    /// Normalise advantages per minibatch (PPO does, A2C does not).
    pub normalise_advantages: bool,
}

/// DQN with a replay buffer and a hard-updated target network.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DqnParams {
    /// Replay buffer capacity.
    pub buffer: usize,
    /// Transitions per update.
    pub batch: usize,
    /// Transitions collected before the first update.
    pub learning_starts: u64,
    /// One gradient update per this many environment steps.
    pub train_every: u64,
    /// Environment steps between copies of the online network into the target.
    pub target_update_every: u64,
    /// Fraction of the training steps over which epsilon falls linearly from 1.
    pub exploration_fraction: f64,
    /// Epsilon after the exploration fraction.
    pub final_epsilon: f64,
    /// Gradient norm clip.
    pub max_grad_norm: f64,
}

/// Everything an agent's training needs (`[agent]` in `experiments/configs/lb.toml`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LbAgentParams {
    /// Which algorithm.
    pub algorithm: Algorithm,
    /// Environment steps (decisions) in all environments together.
    pub total_steps: u64,
    /// Units per hidden layer.
    pub hidden: Vec<i64>,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Environments stepped in lockstep.
    pub envs: usize,
    /// Requests per training episode (a window at a random start of the training trace); absent
    /// = the whole training trace.
    pub episode_requests: Option<usize>,
    /// Rewards are multiplied by this before learning (reported rewards are never scaled).
    pub reward_scale: f64,
    /// Normalise observations by running mean and variance.
    pub normalise_observations: bool,
    /// PPO's settings.
    pub ppo: ActorCriticParams,
    /// A2C's settings.
    pub a2c: ActorCriticParams,
    /// DQN's settings.
    pub dqn: DqnParams,
}

/// Checked [`LbAgentParams`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LbAgentSettings(LbAgentParams);

impl LbAgentSettings {
    /// The checked parameters.
    pub fn params(&self) -> &LbAgentParams {
        &self.0
    }

    /// The same settings with another algorithm (all sections are checked already).
    pub fn with_algorithm(&self, algorithm: Algorithm) -> Self {
        let mut p = self.0.clone();
        p.algorithm = algorithm;
        LbAgentSettings(p)
    }

    /// The same settings with another step budget.
    pub fn with_total_steps(&self, total_steps: u64) -> Self {
        let mut p = self.0.clone();
        p.total_steps = total_steps.max(1);
        LbAgentSettings(p)
    }

    /// The actor-critic section for the configured algorithm (None for DQN).
    pub fn actor_critic(&self) -> Option<&ActorCriticParams> {
        match self.0.algorithm {
            Algorithm::Ppo => Some(&self.0.ppo),
            Algorithm::A2c => Some(&self.0.a2c),
            Algorithm::Dqn => None,
        }
    }
}

impl ActorCriticParams {
    fn check(&self, prefix: &str) -> Result<(), ConfigError> {
        require_at_least_one(prefix, "rollout_steps", self.rollout_steps as u64)?;
        require_at_least_one(prefix, "epochs", self.epochs as u64)?;
        if let Some(c) = self.clip_range {
            require_positive(prefix, "clip_range", c)?;
        }
        require_fraction(prefix, "gae_lambda", self.gae_lambda)?;
        for (field, v) in [
            ("entropy_coef", self.entropy_coef),
            ("value_coef", self.value_coef),
        ] {
            require_non_negative(prefix, field, v)?;
        }
        require_positive(prefix, "max_grad_norm", self.max_grad_norm)
    }
}

impl Validate for LbAgentParams {
    type Checked = LbAgentSettings;
    fn validate(self, prefix: &str) -> Result<LbAgentSettings, ConfigError> {
        require_at_least_one(prefix, "total_steps", self.total_steps)?;
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h < 1) {
            return Err(ConfigError::invalid(
                key(prefix, "hidden"),
                format!(
                    "must list at least one layer size >= 1, got {:?}",
                    self.hidden
                ),
            ));
        }
        require_positive(prefix, "learning_rate", self.learning_rate)?;
        require_fraction(prefix, "gamma", self.gamma)?;
        require_at_least_one(prefix, "envs", self.envs as u64)?;
        if let Some(n) = self.episode_requests {
            require_at_least_one(prefix, "episode_requests", n as u64)?;
        }
        require_positive(prefix, "reward_scale", self.reward_scale)?;
        self.ppo.check(&key(prefix, "ppo"))?;
        self.a2c.check(&key(prefix, "a2c"))?;
        let d = &self.dqn;
        let dp = key(prefix, "dqn");
        require_at_least_one(&dp, "buffer", d.buffer as u64)?;
        require_at_least_one(&dp, "batch", d.batch as u64)?;
        require_at_least_one(&dp, "train_every", d.train_every)?;
        require_at_least_one(&dp, "target_update_every", d.target_update_every)?;
        require_fraction(&dp, "exploration_fraction", d.exploration_fraction)?;
        require_fraction(&dp, "final_epsilon", d.final_epsilon)?;
        require_positive(&dp, "max_grad_norm", d.max_grad_norm)?;
        Ok(LbAgentSettings(self))
    }
}
