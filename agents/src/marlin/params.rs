//! MARLIN's parameters (`[marlin]` in `experiments/configs/marlin.toml`), checked once. Every
//! constant of the paper is a value here; the defaults are the paper's where it gives one.

use serde::{Deserialize, Serialize};

pub use super::sac::Execution;
use verdant::config::{
    key, require_at_least_one, require_fraction, require_non_negative, require_positive,
    ConfigError, Layered, Validate,
};
use verdant::trace::forecast::Season;

/// The five schemes of the paper: which objective the consensus favours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Favours TTFT.
    MinLatency,
    /// Favours carbon.
    MinCarbon,
    /// Favours water.
    MinWater,
    /// Favours energy cost.
    MinCost,
    /// Weighs the four evenly.
    Balanced,
}

impl Scheme {
    /// The five, in table order.
    pub const ALL: [Scheme; 5] = [
        Scheme::MinLatency,
        Scheme::MinCarbon,
        Scheme::MinWater,
        Scheme::MinCost,
        Scheme::Balanced,
    ];

    /// Name in tables and configs (`min-latency`, ..., `balanced`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::MinLatency => "min-latency",
            Scheme::MinCarbon => "min-carbon",
            Scheme::MinWater => "min-water",
            Scheme::MinCost => "min-cost",
            Scheme::Balanced => "balanced",
        }
    }

    /// The scheme's preference over the four agents (TTFT, carbon, water, cost): `dominant` on
    /// its objective and the rest shared evenly, or equal for Balanced.
    pub fn preference(self, dominant: f64) -> [f64; 4] {
        let favoured = match self {
            Scheme::MinLatency => 0,
            Scheme::MinCarbon => 1,
            Scheme::MinWater => 2,
            Scheme::MinCost => 3,
            Scheme::Balanced => return [0.25; 4],
        };
        let mut p = [(1.0 - dominant) / 3.0; 4];
        p[favoured] = dominant;
        p
    }
}

/// Components that can be switched off for the ablation study (all on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Components {
    /// Agents with enough capital may veto the consensus.
    pub veto: bool,
    /// Proposals are blended by utility and capital (else the richest agent's is taken).
    pub blending: bool,
    /// The actor is conditioned by FiLM.
    pub film: bool,
    /// Hindsight relabelling of the cross-epoch buffer.
    pub her: bool,
    /// Capital weighs the blend and the vetoes.
    pub capital: bool,
    /// The workload predictor (else the last epoch's volume).
    pub predictor: bool,
}

impl Default for Components {
    fn default() -> Self {
        Components {
            veto: true,
            blending: true,
            film: true,
            her: true,
            capital: true,
            predictor: true,
        }
    }
}

/// `[marlin]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarlinParams {
    /// Training passes over the scenario's day (each pass visits every epoch once).
    pub days: usize,
    /// Phase 1 exploration iterations per epoch and agent; also phase 2's gradient steps are
    /// `sgd_steps`.
    pub k_opt: usize,
    /// SAC gradient updates per exploration iteration.
    pub updates_per_iteration: usize,
    /// Transitions per SAC update.
    pub batch: usize,
    /// Actor's step size.
    pub actor_lr: f64,
    /// Critics' step size.
    pub critic_lr: f64,
    /// Entropy temperature's step size.
    pub alpha_lr: f64,
    /// Entropy temperature at the start of training (SAC's alpha; 1 by default, the usual
    /// `log alpha = 0`).
    #[serde(default = "one")]
    pub initial_alpha: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Soft target update rate.
    pub tau: f64,
    /// Units per hidden layer of the actor.
    pub actor_hidden: i64,
    /// Units per hidden layer of the critics.
    pub critic_hidden: i64,
    /// Replay of the current epoch's transitions, and the cross-epoch buffer (HER).
    pub replay_current: usize,
    /// Capacity of the cross-epoch buffer.
    pub replay_cross: usize,
    /// Share of each batch drawn from the cross-epoch buffer (the paper's 30/70 split: 0.7).
    pub cross_share: f64,
    /// Relabelled copies per transition put into the cross-epoch buffer.
    pub her_relabels: usize,
    /// Weight of an agent's own objective in its reward weights (the rest shared evenly).
    pub agent_dominant_weight: f64,
    /// Weight of a scheme's favoured objective in its preference (capital prior, aggregate Q).
    pub scheme_dominant_weight: f64,
    /// Predictor window (epochs) and decay.
    pub predictor_window: usize,
    /// Predictor decay.
    pub predictor_decay: f64,
    /// Season of the predictor: epochs (0: none), or `"auto"`, learned from the training days
    /// ([`verdant::trace::forecast::learn_season`]).
    pub predictor_season: Season,
    /// The feasibility projection plans for the predicted volume times `1 + forecast_margin`.
    pub forecast_margin: f64,
    /// Reward: EMA improvement term weight and smoothing, ECO consolidation bonus weight, SLA
    /// penalty weight and TTFT set point (seconds).
    pub ema_weight: f64,
    /// EMA smoothing of the improvement term.
    pub ema_smoothing: f64,
    /// ECO consolidation bonus weight (0 by default: consolidation has no payoff in the
    /// simulator, whose idle GPUs draw idle power however full their datacenter is).
    pub eco_weight: f64,
    /// SLA penalty weight.
    pub sla_penalty: f64,
    /// SLA TTFT set point, seconds.
    pub sla_ttft_s: f64,
    /// Phase 2: gradient ascent on the critic weights.
    pub sgd_lr: f64,
    /// Gradient ascent steps.
    pub sgd_steps: usize,
    /// Phase 2: capital.
    pub capital_initial: f64,
    /// Capital an agent needs to veto.
    pub capital_threshold: f64,
    /// Capital is an EMA of `capital_scale x (Perf + bonus_scale x Bonus)`; with vetoes and
    /// capital on, `capital_scale x (1 + bonus_scale)` must exceed `capital_threshold`.
    pub capital_scale: f64,
    /// Decay of the capital EMA.
    pub capital_decay: f64,
    /// Weight of the bonus in capital.
    pub bonus_scale: f64,
    /// Phase 2: vetoes.
    pub veto_max: f64,
    /// Loss on its own objective beyond which an agent vetoes.
    pub veto_loss_threshold: f64,
    /// Feasibility: utilisation cap per datacenter and epoch.
    pub utilisation_cap: f64,
    /// Softmax temperature from actions to fractions.
    pub action_scale: f64,
    /// How the actors start: `"random"` (every layer drawn from the agent's stream) or
    /// `"even"` (the output layer zeroed, so each agent first proposes the even split: a
    /// control of the learning-curve study).
    #[serde(default)]
    pub actor_init: ActorInit,
    /// How the four agents' networks run: `"auto"` (batched on CUDA, one at a time on the CPU),
    /// `"batched"` or `"one-at-a-time"`; the same numbers either way.
    #[serde(default)]
    pub execution: Execution,
    #[serde(default)]
    /// Which components are on (ablation switches).
    pub components: Components,
}

fn one() -> f64 {
    1.0
}

/// How MARLIN's actors start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorInit {
    /// Every layer drawn at random (the paper).
    #[default]
    Random,
    /// The output layer zeroed: the first proposals are the even split.
    Even,
}

/// Checked [`MarlinParams`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarlinSettings(MarlinParams);

impl MarlinSettings {
    /// The checked parameters.
    pub fn params(&self) -> &MarlinParams {
        &self.0
    }

    /// The same settings with other components (for the ablation).
    pub fn with_components(&self, components: Components) -> Self {
        let mut p = self.0.clone();
        p.components = components;
        MarlinSettings(p)
    }

    /// The same settings changed by `change`, checked again (`prefix` names the section in
    /// errors).
    pub fn with_params(
        &self,
        prefix: &str,
        change: impl FnOnce(&mut MarlinParams),
    ) -> Result<Self, ConfigError> {
        let mut p = self.0.clone();
        change(&mut p);
        p.validate(prefix)
    }

    /// The same settings with `changes` (keys of `[marlin]`; a nested table such as
    /// `components` merges key by key) laid over them and checked again; an error names
    /// `prefix.<key>`.
    pub fn with_changes(&self, prefix: &str, changes: &toml::Table) -> Result<Self, ConfigError> {
        let base = toml::Table::try_from(&self.0).map_err(|e| ConfigError::invalid(prefix, e))?;
        let mut doc = Layered::from_table(base);
        doc.merge(Layered::from_table(changes.clone()));
        let p: MarlinParams = doc.deserialize().map_err(|e| match e {
            ConfigError::Invalid { key: k, message } => {
                ConfigError::invalid(key(prefix, &k), message)
            }
            other => other,
        })?;
        p.validate(prefix)
    }

    /// The same settings with another number of training days.
    pub fn with_days(&self, days: usize) -> Self {
        let mut p = self.0.clone();
        p.days = days.max(1);
        MarlinSettings(p)
    }
}

impl Validate for MarlinParams {
    type Checked = MarlinSettings;
    fn validate(self, prefix: &str) -> Result<MarlinSettings, ConfigError> {
        for (field, v) in [
            ("days", self.days),
            ("k_opt", self.k_opt),
            ("batch", self.batch),
            ("replay_current", self.replay_current),
            ("replay_cross", self.replay_cross),
            ("predictor_window", self.predictor_window),
            ("actor_hidden", self.actor_hidden.max(0) as usize),
            ("critic_hidden", self.critic_hidden.max(0) as usize),
        ] {
            require_at_least_one(prefix, field, v as u64)?;
        }
        for (field, v) in [
            ("actor_lr", self.actor_lr),
            ("critic_lr", self.critic_lr),
            ("alpha_lr", self.alpha_lr),
            ("initial_alpha", self.initial_alpha),
            ("sgd_lr", self.sgd_lr),
            ("sla_ttft_s", self.sla_ttft_s),
            ("capital_scale", self.capital_scale),
            ("action_scale", self.action_scale),
            ("utilisation_cap", self.utilisation_cap),
        ] {
            require_positive(prefix, field, v)?;
        }
        for (field, v) in [
            ("gamma", self.gamma),
            ("tau", self.tau),
            ("cross_share", self.cross_share),
            ("agent_dominant_weight", self.agent_dominant_weight),
            ("scheme_dominant_weight", self.scheme_dominant_weight),
            ("predictor_decay", self.predictor_decay),
            ("ema_smoothing", self.ema_smoothing),
            ("capital_decay", self.capital_decay),
            ("veto_max", self.veto_max),
        ] {
            require_fraction(prefix, field, v)?;
        }
        for (field, v) in [
            ("ema_weight", self.ema_weight),
            ("eco_weight", self.eco_weight),
            ("sla_penalty", self.sla_penalty),
            ("capital_initial", self.capital_initial),
            ("capital_threshold", self.capital_threshold),
            ("bonus_scale", self.bonus_scale),
            ("forecast_margin", self.forecast_margin),
            ("veto_loss_threshold", self.veto_loss_threshold),
        ] {
            require_non_negative(prefix, field, v)?;
        }
        // Capital is an EMA of `capital_scale (Perf + bonus_scale Bonus)` with Perf and Bonus at
        // most 1: at or below the threshold, no agent can keep enough capital to veto once its
        // initial capital has decayed (the paper's own numbers, 1 + 0.5 against 150, are so).
        let most = self.capital_scale * (1.0 + self.bonus_scale);
        if self.components.veto && self.components.capital && most <= self.capital_threshold {
            return Err(ConfigError::invalid(
                key(prefix, "capital_scale"),
                format!(
                    "capital_scale x (1 + bonus_scale) = {most} is at most capital_threshold \
                     ({}): no agent could veto after its initial capital decays",
                    self.capital_threshold
                ),
            ));
        }
        Ok(MarlinSettings(self))
    }
}
