//! MARLIN's two phases over a scenario's day, epoch by epoch (Algorithms 1 and 2 of the paper).
//!
//! Phase 1: each of the four agents (TTFT, carbon, water, cost) explores `k_opt` plans for the
//! epoch from its SAC actor, scores each with the fluid simulator (one epoch), learns from the
//! rewards, then proposes its deterministic plan. Phase 2: the proposals are blended by utility
//! and capital, the blend weights refined by gradient ascent on the aggregate Q, agents with
//! enough capital veto, the consensus is scored, and capital is updated. After each day the
//! day's plans (consensus and proposals) are scored whole and archived, so a front comes out of
//! training.
//!
//! Choices the paper leaves open, and ours (docs/marlin.md):
//! - utilities `q_j = Q_j(s, w_j, a_j*)` are turned into positive blend weights by a softmax;
//! - the initial critic weights are capital times utility, normalised; the scheme's preference
//!   `p` weights the aggregate `Q_tot = sum_j p_j Q_j` and sets the initial capital
//!   `capital_initial x 4 x p_j`;
//! - `Perf_j = 1 - |metric - best| / (worst - best)` over the proposals on agent j's objective,
//!   clipped to [0, 1] (the paper's ratio is undefined when j's own proposal is the best);
//!   `Bonus_j = 1 - |metric_j - metric| / |metric_j|` clipped to [0, 1]; capital is the EMA
//!   `C = decay C + (1 - decay) capital_scale (Perf + bonus_scale Bonus)`.

use std::path::{Path, PathBuf};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};
use verdant::allocator::rules::Even;
use verdant::allocator::{AllocError, Allocator, Fit, FitSession, Problem, Proposal};
use verdant::scenario::{epochs_per_day, Scenario};
use verdant::seed::{MasterSeed, RngState};
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::{FractionPlan, Objectives, Outcome};
use verdant::trace::forecast::EwmaPredictor;

use super::params::{ActorInit, MarlinSettings, Scheme};
use super::replay::{sample_batch, Replay, Transition};
use super::sac::{Batch, SacAgents, SacConfig};
use crate::checkpoint::{self, Layout, TensorsOut};
use crate::AgentError;
use verdant::geo::{game, GeoWorld, Scales, OBJECTIVES};

/// One agent of phase 1 (its networks are a slice of the scheme's [`SacStack`]).
#[derive(Debug)]
struct Agent {
    weights: [f64; 4],
    current: Replay,
    cross: Replay,
    ema: Option<f64>,
    /// Its deterministic proposals, epoch by epoch (today's).
    plan: FractionPlan,
}

/// One epoch's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// Training day.
    pub day: usize,
    /// Epoch of the day.
    pub epoch: usize,
    /// Predicted and actual requests of the epoch (all classes).
    pub predicted_requests: f64,
    /// Requests that came (all classes).
    pub actual_requests: f64,
    /// Each agent's proposal scored on this epoch: TTFT s, carbon kg, water L, cost USD.
    pub proposals: [[f64; 4]; 4],
    /// The consensus plan scored on this epoch: TTFT s, carbon kg, water L, cost USD.
    pub consensus: [f64; 4],
    /// Each agent's capital after the epoch.
    pub capital: [f64; 4],
    /// Vetoes cast.
    pub vetoes: u32,
    /// Mean phase-1 reward of each agent this epoch.
    pub mean_reward: [f64; 4],
    /// Transitions in each agent's current-epoch and cross-epoch buffers after the epoch.
    pub replay: [[usize; 2]; 4],
    /// SAC updates each agent has made so far (over every day).
    pub updates: [i64; 4],
}

/// A whole-day plan of one training day (unscored: whoever compares scores it).
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivePoint {
    /// Training day.
    pub day: usize,
    /// `consensus` or the proposing agent's objective.
    pub source: String,
    /// The plan.
    pub plan: FractionPlan,
}

/// An archived plan's day and source in a checkpoint.
#[derive(Debug, Serialize, Deserialize)]
struct ArchiveRecord {
    day: usize,
    source: String,
}

/// A trained MARLIN: the last day's consensus plan and the archive of every day's plans, with
/// the training log, and the trained agents. On the scenario it trained on it offers those
/// plans (scored by the caller); on any other days of the same world (a scenario's held-out test
/// days) it acts: the trained agents propose, vote and veto epoch by epoch without learning
/// ([`MarlinPolicy::deploy`]).
#[derive(Debug)]
pub struct MarlinPolicy {
    name: String,
    /// The scheme.
    pub scheme: Scheme,
    /// The last day's consensus plan.
    pub consensus: FractionPlan,
    /// Every day's consensus and proposals, in training order.
    pub archive: Vec<ArchivePoint>,
    /// The per-epoch log of every training day.
    pub log: Vec<EpochLog>,
    /// The workload predictor's accuracy (1 - MAPE, one epoch ahead) on the training days.
    pub predictor_accuracy: f64,
    /// The predictor's season in epochs (configured, or learned from the training days).
    pub predictor_season: usize,
    trained_on: TrainedOn,
    trained: Option<Trained>,
}

/// Which scenario a policy trained on.
#[derive(Debug, Clone, PartialEq)]
struct TrainedOn {
    name: String,
    start_unix_s: i64,
    epochs: usize,
}

impl TrainedOn {
    fn of(s: &Scenario) -> Self {
        TrainedOn {
            name: s.name.clone(),
            start_unix_s: s.time.start_unix_s,
            epochs: s.time.epochs,
        }
    }
}

/// What a trained MARLIN carries to other days: its agents, capital, settings, the state's
/// scales, the predictor and the last epochs' volumes it has seen.
#[derive(Debug)]
struct Trained {
    settings: MarlinSettings,
    preference: [f64; 4],
    agents: Vec<Agent>,
    sac: SacAgents,
    capital: [f64; 4],
    rngs: Vec<ChaCha8Rng>,
    scales: Scales,
    predictor: EwmaPredictor,
    lead_in: Vec<Vec<f64>>,
    device: Device,
}

/// The plans of a deployed MARLIN on other days: its consensus and each agent's proposals.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The consensus plan.
    pub consensus: FractionPlan,
    /// Each agent's own plan (agent order of [`OBJECTIVES`]).
    pub proposals: Vec<FractionPlan>,
    /// The per-epoch log of the deployment (day 0).
    pub log: Vec<EpochLog>,
}

impl MarlinPolicy {
    /// Whether `problem` is the scenario this policy trained on.
    pub fn trained_on(&self, problem: &Problem) -> bool {
        self.trained_on == TrainedOn::of(problem.scenario)
    }

    /// Acts on `problem`'s days with the trained agents, without learning: each epoch each
    /// agent proposes its deterministic plan, phase 2 blends and vetoes as in training, and
    /// capital moves with the proposals' scores. The predictor's history before the first epoch
    /// is the last epochs of the training days; the state is scaled as in training.
    /// Deterministic, and the same every time (a deployment leaves the policy as it was).
    pub fn deploy(&mut self, problem: &Problem) -> Result<Deployment, AgentError> {
        let trained = self.trained.take().ok_or_else(|| {
            AgentError::Invalid("a failed deployment lost the trained agents".into())
        })?;
        let p = trained.settings.params();
        let parts = GeoWorld::new(
            problem,
            p.utilisation_cap,
            p.action_scale,
            Some(trained.scales),
        )
        .and_then(|world| Ok((world, Even.plan(problem.scenario)?)));
        let (world, even) = match parts {
            Ok(parts) => parts,
            Err(e) => {
                self.trained = Some(trained);
                return Err(e.into());
            }
        };
        // A deployment changes nothing the next one starts from: capital and the lead-in are
        // put back (acting draws no random numbers and updates no network).
        let (capital, lead_in) = (trained.capital, trained.lead_in.clone());
        let mut m = Marlin::from_trained(problem, world, even, self.scheme, trained);
        let result = (0..m.world.epochs)
            .map(|e| m.epoch(e, Mode::Act))
            .collect::<Result<Vec<_>, _>>();
        let proposals = m.agents.iter().map(|a| a.plan.clone()).collect();
        let consensus = m.consensus.clone();
        let mut trained = m.into_trained();
        (trained.capital, trained.lead_in) = (capital, lead_in);
        self.trained = Some(trained);
        Ok(Deployment {
            consensus,
            proposals,
            log: result?,
        })
    }
}

impl Allocator for MarlinPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    /// On its training scenario, the last day's consensus plan; elsewhere the deployed
    /// consensus.
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        if self.trained_on(problem) {
            return Ok(self.consensus.clone());
        }
        Ok(self
            .deploy(problem)
            .map_err(|e| AllocError::method("marlin", e))?
            .consensus)
    }

    /// On its training scenario: the consensus plan (`consensus`, representative), then the
    /// archive (`day<d>-<source>`). Elsewhere: the deployed consensus (representative) and each
    /// agent's deployed plan (`ttft`, `carbon`, `water`, `cost`).
    fn allocate_front(&mut self, problem: &Problem) -> Result<Vec<Proposal>, AllocError> {
        if !self.trained_on(problem) {
            let d = self
                .deploy(problem)
                .map_err(|e| AllocError::method("marlin", e))?;
            let mut out = vec![Proposal {
                source: "consensus".to_owned(),
                plan: d.consensus,
                representative: true,
            }];
            out.extend(
                d.proposals
                    .into_iter()
                    .enumerate()
                    .map(|(j, plan)| Proposal {
                        source: OBJECTIVES[j].to_owned(),
                        plan,
                        representative: false,
                    }),
            );
            return Ok(out);
        }
        let mut out = vec![Proposal {
            source: "consensus".to_owned(),
            plan: self.consensus.clone(),
            representative: true,
        }];
        out.extend(self.archive.iter().map(|a| Proposal {
            source: format!("day{}-{}", a.day, a.source),
            plan: a.plan.clone(),
            representative: false,
        }));
        Ok(out)
    }
}

/// Whether an epoch learns (training) or only acts (a deployed policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Learn,
    Act,
}

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    scheme: Scheme,
    day: usize,
    capital: [f64; 4],
    emas: [Option<f64>; 4],
    adam_steps: [i64; 3],
    /// Each agent's random stream.
    rngs: Vec<RngState>,
    /// Day and source of each archived plan (the plans are tensors `plan.archive<k>`).
    archive: Vec<ArchiveRecord>,
    log: Vec<EpochLog>,
    replay_next: Vec<[usize; 2]>,
    replay_len: Vec<[usize; 2]>,
}

/// MARLIN for one scheme and seed, before training: [`Fit`] trains it (resuming and
/// checkpointing after every day as the session says) into its [`MarlinPolicy`].
#[derive(Debug, Clone)]
pub struct MarlinLearner {
    /// The checked parameters.
    pub settings: MarlinSettings,
    /// The scheme.
    pub scheme: Scheme,
    /// The run's seed.
    pub seed: MasterSeed,
    /// Where the networks run.
    pub device: Device,
}

impl Fit for MarlinLearner {
    type Policy = MarlinPolicy;

    /// Progress is counted in epochs.
    fn fit(self, problem: &Problem, session: &mut FitSession) -> Result<MarlinPolicy, AllocError> {
        let fail = |e: AgentError| AllocError::method("marlin", e);
        let mut m = Marlin::new(problem, self.settings, self.scheme, self.seed, self.device)
            .map_err(fail)?;
        if let Some(dir) = session.checkpoint_dir {
            if session.resume && checkpoint::exists(dir, layout(self.scheme)) {
                m.resume(dir).map_err(fail)?;
                (session.progress)((m.day() * problem.scenario.time.epochs) as u64);
            }
        }
        let progress = &mut session.progress;
        m.train(session.checkpoint_dir, &mut |_| progress(1))
            .map_err(fail)?;
        Ok(m.into_policy())
    }
}

/// Name of the checkpoint metadata inside its directory.
pub const MARLIN_CHECKPOINT: &str = "marlin-checkpoint.json";

/// Where a scheme's checkpoint lives in its directory: `marlin-checkpoint.json` and tensor
/// files `marlin-<scheme>-day<d>.vt`.
fn layout(scheme: Scheme) -> Layout {
    Layout {
        meta_file: MARLIN_CHECKPOINT,
        tensors_prefix: match scheme {
            Scheme::MinLatency => "marlin-min-latency",
            Scheme::MinCarbon => "marlin-min-carbon",
            Scheme::MinWater => "marlin-min-water",
            Scheme::MinCost => "marlin-min-cost",
            Scheme::Balanced => "marlin-balanced",
        },
    }
}

/// MARLIN on one scenario for one scheme.
pub struct Marlin<'a> {
    settings: MarlinSettings,
    /// What the agents see and do.
    pub world: GeoWorld<'a>,
    scheme: Scheme,
    preference: [f64; 4],
    agents: Vec<Agent>,
    /// The four agents' networks (one stack, or one each: `marlin.execution`).
    sac: SacAgents,
    capital: [f64; 4],
    /// Each agent's random stream: exploration, batches, update noise and relabelling.
    rngs: Vec<ChaCha8Rng>,
    sim: FluidSimulator<'a>,
    out: Outcome,
    consensus: FractionPlan,
    day: usize,
    archive: Vec<ArchivePoint>,
    log: Vec<EpochLog>,
    predictor: EwmaPredictor,
    /// Each class's volumes of the epochs before the first one (a deployment's training days).
    lead_in: Vec<Vec<f64>>,
    device: Device,
}

impl<'a> Marlin<'a> {
    /// Agent `j` initialised from the seed's `marlin.<scheme>.init<j>` stream; its exploration,
    /// batches, update noise and HER from `marlin.<scheme>.agent<j>`.
    pub fn new(
        problem: &Problem<'a>,
        settings: MarlinSettings,
        scheme: Scheme,
        seed: MasterSeed,
        device: Device,
    ) -> Result<Self, AgentError> {
        let p = settings.params().clone();
        let world = GeoWorld::new(problem, p.utilisation_cap, p.action_scale, None)?;
        let mut inits: Vec<ChaCha8Rng> = (0..4)
            .map(|j| seed.rng(&format!("marlin.{}.init{j}", scheme.name())))
            .collect();
        let config = SacConfig {
            state: world.state_len() as i64,
            weights: 4,
            conditioning: world.conditioning_len() as i64,
            action: world.action_len() as i64,
            actor_hidden: p.actor_hidden,
            critic_hidden: p.critic_hidden,
            actor_lr: p.actor_lr,
            critic_lr: p.critic_lr,
            alpha_lr: p.alpha_lr,
            initial_alpha: p.initial_alpha,
            gamma: p.gamma,
            tau: p.tau,
            film: p.components.film,
        };
        let even = Even.plan(problem.scenario)?;
        let agents = (0..4)
            .map(|j| {
                let mut weights = [(1.0 - p.agent_dominant_weight) / 3.0; 4];
                weights[j] = p.agent_dominant_weight;
                Agent {
                    weights,
                    current: Replay::new(p.replay_current),
                    cross: Replay::new(p.replay_cross),
                    ema: None,
                    plan: even.clone(),
                }
            })
            .collect();
        let preference = scheme.preference(p.scheme_dominant_weight);
        let capital = preference.map(|x| p.capital_initial * 4.0 * x);
        let total = problem.scenario.demand.requests_per_epoch();
        let per_day = epochs_per_day(problem.scenario.time.epoch_s).unwrap_or(world.epochs);
        let season =
            p.predictor_season
                .resolve(p.predictor_window, p.predictor_decay, &total, per_day);
        Ok(Marlin {
            predictor: EwmaPredictor {
                window: p.predictor_window,
                decay: p.predictor_decay,
                season,
            },
            lead_in: vec![Vec::new(); world.classes],
            settings,
            sim: problem.fluid(),
            world,
            scheme,
            preference,
            agents,
            sac: {
                let mut sac = SacAgents::new(config, device, &mut inits, p.execution);
                if p.actor_init == ActorInit::Even {
                    sac.zero_actor_output();
                }
                sac
            },
            capital,
            rngs: (0..4)
                .map(|j| seed.rng(&format!("marlin.{}.agent{j}", scheme.name())))
                .collect(),
            out: Outcome::default(),
            consensus: even,
            day: 0,
            archive: Vec::new(),
            log: Vec::new(),
            device,
        })
    }

    /// Training days done.
    pub fn day(&self) -> usize {
        self.day
    }

    /// Each agent's capital.
    pub fn capital(&self) -> [f64; 4] {
        self.capital
    }

    /// A deployment of trained agents on `problem`'s days (its `world`, scaled as in training).
    fn from_trained(
        problem: &Problem<'a>,
        world: GeoWorld<'a>,
        even: FractionPlan,
        scheme: Scheme,
        t: Trained,
    ) -> Self {
        let mut agents = t.agents;
        for a in &mut agents {
            a.plan = even.clone();
        }
        Marlin {
            settings: t.settings,
            sim: problem.fluid(),
            world,
            scheme,
            preference: t.preference,
            agents,
            sac: t.sac,
            capital: t.capital,
            rngs: t.rngs,
            out: Outcome::default(),
            consensus: even,
            day: 0,
            archive: Vec::new(),
            log: Vec::new(),
            predictor: t.predictor,
            lead_in: t.lead_in,
            device: t.device,
        }
    }

    /// What the trained agents carry to other days; the lead-in is the last epochs this world
    /// has seen.
    fn into_trained(self) -> Trained {
        let keep = self.predictor.history_len();
        let lead_in = (0..self.world.classes)
            .map(|c| {
                let mut v = self.lead_in[c].clone();
                v.extend_from_slice(&self.world.planner.volumes[c]);
                v.split_off(v.len().saturating_sub(keep))
            })
            .collect();
        Trained {
            scales: self.world.scales,
            settings: self.settings,
            preference: self.preference,
            agents: self.agents,
            sac: self.sac,
            capital: self.capital,
            rngs: self.rngs,
            predictor: self.predictor,
            lead_in,
            device: self.device,
        }
    }

    /// Predicted requests per class for epoch `e` from the epochs before it: on a one-day
    /// horizon the day wraps (training repeats the day); otherwise the epochs before the first
    /// are the lead-in, where there is one.
    fn predicted(&self, e: usize) -> Vec<f64> {
        let ne = self.world.epochs;
        let one_day = epochs_per_day(self.world.scenario.time.epoch_s) == Some(ne);
        let tw = self.predictor.history_len().max(1);
        (0..self.world.classes)
            .map(|c| {
                let v = &self.world.planner.volumes[c];
                let lead_in = &self.lead_in[c];
                let history: Vec<f64> = (1..=tw)
                    .rev()
                    .filter_map(|back| {
                        if back <= e {
                            Some(v[e - back])
                        } else if one_day {
                            Some(v[(e + ne - back % ne) % ne])
                        } else {
                            lead_in.len().checked_sub(back - e).map(|i| lead_in[i])
                        }
                    })
                    .collect();
                if self.settings.params().components.predictor {
                    self.predictor.predict(&history)
                } else {
                    // Without the predictor: the last epoch's volume.
                    *history.last().unwrap_or(&0.0)
                }
            })
            .collect()
    }

    /// The predictor's accuracy (1 - MAPE) on the scenario's total requests per epoch.
    pub fn predictor_accuracy(&self) -> f64 {
        self.predictor
            .accuracy(&self.world.scenario.demand.requests_per_epoch())
    }

    /// One row per agent, `[rows, 1, width]`.
    fn rows(&self, rows: &[Vec<f32>]) -> Tensor {
        let width = rows.first().map_or(0, Vec::len) as i64;
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat)
            .view([rows.len() as i64, 1, width])
            .to_device(self.device)
    }

    fn to_vec(t: &Tensor) -> Vec<f32> {
        Vec::try_from(t.to_device(Device::Cpu).flatten(0, -1)).unwrap_or_default()
    }

    /// Trains until `days` days are done (the configured number by default), checkpointing into
    /// `checkpoint` after every day; `observer` sees each finished epoch.
    pub fn train(
        &mut self,
        checkpoint: Option<&Path>,
        observer: &mut dyn FnMut(&EpochLog),
    ) -> Result<(), AgentError> {
        let days = self.settings.params().days;
        self.train_until(days, checkpoint, observer)
    }

    /// Trains until day `until` (at most the configured days).
    pub fn train_until(
        &mut self,
        until: usize,
        checkpoint: Option<&Path>,
        observer: &mut dyn FnMut(&EpochLog),
    ) -> Result<(), AgentError> {
        let days = until.min(self.settings.params().days);
        while self.day < days {
            for e in 0..self.world.epochs {
                let log = self.epoch(e, Mode::Learn)?;
                observer(&log);
                self.log.push(log);
                verdant::run::kill_point("train-step");
            }
            self.archive_day();
            self.day += 1;
            if let Some(dir) = checkpoint {
                self.save_checkpoint(dir)?;
            }
        }
        Ok(())
    }

    fn epoch(&mut self, e: usize, mode: Mode) -> Result<EpochLog, AgentError> {
        let p = self.settings.params().clone();
        // The current buffer holds this epoch's transitions only (the paper's split: a batch
        // draws `1 - cross_share` from them, the rest from earlier epochs relabelled).
        if mode == Mode::Learn {
            for agent in &mut self.agents {
                agent.current.clear();
            }
        }
        let ne = self.world.epochs;
        let predicted = self.predicted(e);
        let state = self.world.state(e, &predicted);
        // What the feasibility projection plans for: the forecast with a margin.
        let planned: Vec<f64> = predicted
            .iter()
            .map(|v| v * (1.0 + p.forecast_margin))
            .collect();
        let next_e = (e + 1) % ne;
        let next_state = self.world.state(next_e, &self.predicted(next_e));
        let done = e + 1 == ne;
        let reference = self.world.reference[e];
        // Every agent's inputs, one row each (`[4, 1, ..]`): the agents act and learn in
        // lockstep, their networks one stack.
        let n = self.agents.len();
        let all_weights: Vec<[f64; 4]> = self.agents.iter().map(|a| a.weights).collect();
        let z: Vec<Vec<f32>> = all_weights
            .iter()
            .map(|w| self.world.conditioning(e, w))
            .collect();
        let next_z: Vec<Vec<f32>> = all_weights
            .iter()
            .map(|w| self.world.conditioning(next_e, w))
            .collect();
        let s_t = self.rows(&vec![state.clone(); n]);
        let w_t = self.rows(
            &all_weights
                .iter()
                .map(|w| w.map(|x| x as f32).to_vec())
                .collect::<Vec<_>>(),
        );
        let z_t = self.rows(&z);
        let mut proposals = Vec::with_capacity(n);
        let mut proposal_objectives = [[0.0; 4]; 4];
        let mut reward_sum = [0.0; 4];
        let explorations = if mode == Mode::Learn { p.k_opt } else { 0 };
        for _ in 0..explorations {
            let (u, _) = tch::no_grad(|| self.sac.sample(&s_t, &w_t, &z_t, &mut self.rngs));
            for (j, weights) in all_weights.iter().copied().enumerate() {
                let mut f = self.world.fractions(&Self::to_vec(&u.get(j as i64)));
                self.world.planner.project(e, &mut f, &planned);
                let objectives = self.score(j, e, &f)?;
                let normalised = {
                    let o = objectives.compared();
                    [0, 1, 2, 3].map(|k| o[k] / reference[k])
                };
                let utilisation = self.world.planner.utilisation(e, &f, &predicted);
                let busy: f64 = utilisation.iter().sum();
                let consolidation = if busy > 0.0 {
                    utilisation.iter().map(|u| u * u).sum::<f64>() / busy / p.utilisation_cap
                } else {
                    0.0
                };
                let unweighted = p.eco_weight * consolidation
                    - p.sla_penalty * ((objectives.ttft_s - p.sla_ttft_s) / p.sla_ttft_s).max(0.0);
                let metric = Transition::metric_term(&weights, &normalised);
                let agent = &mut self.agents[j];
                let ema_term = match agent.ema {
                    Some(prev) => p.ema_weight * (metric - prev),
                    None => 0.0,
                };
                agent.ema = Some(match agent.ema {
                    Some(prev) => (1.0 - p.ema_smoothing) * prev + p.ema_smoothing * metric,
                    None => metric,
                });
                let reward = ema_term + metric + unweighted;
                reward_sum[j] += reward;
                // The critics learn the plan that was executed (the projection of the
                // proposal), as the action that gives it.
                agent.current.push(Transition {
                    state: state.clone(),
                    weights,
                    conditioning: z[j].clone(),
                    action: self.world.action_of(&f),
                    reward,
                    next_state: next_state.clone(),
                    next_conditioning: next_z[j].clone(),
                    done,
                    normalised,
                    unweighted,
                });
            }
            self.learn()?;
        }
        let mean_reward = reward_sum.map(|r| r / explorations.max(1) as f64);
        // Exploit the deterministic plans.
        let u = self.sac.act_deterministic(&s_t, &w_t, &z_t);
        for (j, objectives_j) in proposal_objectives.iter_mut().enumerate() {
            let mut f = self.world.fractions(&Self::to_vec(&u.get(j as i64)));
            self.world.planner.project(e, &mut f, &planned);
            *objectives_j = self.score(j, e, &f)?.compared().into();
            proposals.push(f);
        }
        // Hindsight: this epoch's transitions, relabelled with the other agents' weights (or as
        // they are, without HER), go to each agent's cross-epoch buffer.
        for j in (0..n).filter(|_| mode == Mode::Learn) {
            let recent: Vec<Transition> = self.agents[j]
                .current
                .latest(p.k_opt)
                .into_iter()
                .cloned()
                .collect();
            for t in recent {
                if p.components.her {
                    for _ in 0..p.her_relabels {
                        let k = self.rngs[j].gen_range(0..4);
                        self.agents[j].cross.push(t.relabelled(all_weights[k]));
                    }
                } else {
                    self.agents[j].cross.push(t);
                }
            }
        }
        let (consensus, vetoes) = self.phase2(e, &state, &proposals, &planned)?;
        self.world
            .planner
            .write_epoch(&mut self.consensus, e, &consensus)?;
        let bar = self
            .sim
            .score_epoch(&self.consensus, e, &mut self.out)?
            .compared();
        if p.components.capital {
            game::update_capitals(
                &mut self.capital,
                &bar.0,
                &proposal_objectives,
                p.capital_decay,
                p.capital_scale,
                p.bonus_scale,
            );
        }
        Ok(EpochLog {
            day: self.day,
            epoch: e,
            predicted_requests: predicted.iter().sum(),
            actual_requests: (0..self.world.classes)
                .map(|c| self.world.planner.volumes[c][e])
                .sum(),
            proposals: proposal_objectives,
            consensus: bar.into(),
            capital: self.capital,
            vetoes,
            mean_reward,
            replay: [0, 1, 2, 3]
                .map(|j| [self.agents[j].current.len(), self.agents[j].cross.len()]),
            updates: [self.sac.updates(); 4],
        })
    }

    /// Scores fractions for epoch `e` in agent `j`'s plan.
    fn score(&mut self, j: usize, e: usize, f: &[f64]) -> Result<Objectives, AgentError> {
        self.world
            .planner
            .write_epoch(&mut self.agents[j].plan, e, f)?;
        Ok(self
            .sim
            .score_epoch(&self.agents[j].plan, e, &mut self.out)?)
    }

    /// Updates every agent from its own buffers, as one stack (every agent has pushed as many
    /// transitions, so one count decides for all).
    fn learn(&mut self) -> Result<(), AgentError> {
        let p = self.settings.params();
        let available = self.agents[0].current.len() + self.agents[0].cross.len();
        if available < p.batch.min(64) {
            return Ok(());
        }
        let world = &self.world;
        let to_plan = |u: &Tensor| plan_tensor(world, u);
        for _ in 0..p.updates_per_iteration {
            let batches: Vec<Batch> = self
                .agents
                .iter()
                .zip(&mut self.rngs)
                .map(|(agent, rng)| {
                    sample_batch(
                        &agent.current,
                        &agent.cross,
                        p.batch,
                        p.cross_share,
                        rng,
                        self.device,
                    )
                })
                .collect();
            self.sac
                .update(&Batch::stack(&batches), &to_plan, &mut self.rngs);
        }
        Ok(())
    }

    /// Phase 2: utilities, blend, gradient ascent on the critic weights, vetoes. Returns the
    /// consensus fractions and the number of vetoes.
    fn phase2(
        &mut self,
        e: usize,
        state: &[f32],
        proposals: &[Vec<f64>],
        predicted: &[f64],
    ) -> Result<(Vec<f64>, u32), AgentError> {
        let p = self.settings.params().clone();
        let comps = p.components;
        let j_n = proposals.len();
        let a = proposals[0].len();
        let s_t = self.rows(&vec![state.to_vec(); j_n]);
        let w_t = self.rows(
            &self
                .agents
                .iter()
                .map(|ag| ag.weights.map(|w| w as f32).to_vec())
                .collect::<Vec<_>>(),
        );
        let f32s = |plan: &[f64]| plan.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let props = self.rows(&proposals.iter().map(|p| f32s(p)).collect::<Vec<_>>());
        // Every agent's critic at one plan (`[a]` or `[1, a]`): `[agents]`.
        let q_all = |plan: &Tensor| -> Tensor {
            let one = plan
                .view([1, 1, a as i64])
                .expand([j_n as i64, 1, a as i64], false);
            self.sac.q(&s_t, &w_t, &one).squeeze_dim(1)
        };
        // Utilities of the proposals, each by its own agent's critic.
        let q: Vec<f64> = tch::no_grad(|| {
            let own = self.sac.q(&s_t, &w_t, &props).flatten(0, -1);
            Vec::try_from(own.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap_or_default()
        });
        let q_max = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let utility: Vec<f64> = q.iter().map(|v| (v - q_max).exp()).collect();
        let u_sum: f64 = utility.iter().sum();
        let utility: Vec<f64> = utility.iter().map(|u| u / u_sum).collect();
        let capital_share: Vec<f64> = if comps.capital {
            let total: f64 = self.capital.iter().sum::<f64>().max(1e-12);
            self.capital.iter().map(|c| c / total).collect()
        } else {
            vec![1.0 / j_n as f64; j_n]
        };
        let mut omega: Vec<f64> = if comps.blending {
            let raw: Vec<f64> = capital_share
                .iter()
                .zip(&utility)
                .map(|(c, u)| c * u)
                .collect();
            game::normalise_simplex(raw)
        } else {
            // Without blending the consensus is the single proposal of highest utility.
            let best = (0..j_n)
                .max_by(|&x, &y| utility[x].total_cmp(&utility[y]))
                .unwrap_or(0);
            (0..j_n)
                .map(|k| if k == best { 1.0 } else { 0.0 })
                .collect()
        };
        if comps.blending {
            let preference =
                Tensor::from_slice(&self.preference.map(|x| x as f32)).to_device(self.device);
            for _ in 0..p.sgd_steps {
                let w = Tensor::from_slice(&omega.iter().map(|&x| x as f32).collect::<Vec<_>>())
                    .to_device(self.device)
                    .set_requires_grad(true);
                let blend = w.unsqueeze(0).matmul(&props.squeeze_dim(1));
                let q_tot = (q_all(&blend) * &preference).sum(Kind::Float);
                let grad = Tensor::run_backward(&[q_tot], &[&w], false, false);
                let g: Vec<f32> = Self::to_vec(&grad[0]);
                // Gradients of the critics' parameters from this pass are cleared at their next
                // update (zero_grad), so the critics are not changed here.
                omega = game::normalise_simplex(
                    omega
                        .iter()
                        .zip(&g)
                        .map(|(o, &gr)| o + p.sgd_lr * f64::from(gr))
                        .collect(),
                );
            }
        }
        let mut consensus = vec![0.0; a];
        for (j, prop) in proposals.iter().enumerate() {
            for (c, x) in consensus.iter_mut().zip(prop) {
                *c += omega[j] * x;
            }
        }
        self.world.planner.project(e, &mut consensus, predicted);
        let mut vetoes = 0;
        if comps.veto && comps.capital {
            for (j, own_plan) in proposals.iter().enumerate() {
                if self.capital[j] < p.capital_threshold {
                    continue;
                }
                let blend = Tensor::from_slice(&f32s(&consensus)).to_device(self.device);
                let (own, agreed) = (
                    q[j],
                    tch::no_grad(|| q_all(&blend).double_value(&[j as i64])),
                );
                let loss = game::utility_loss(own, agreed);
                if loss > p.veto_loss_threshold {
                    let strength = game::veto_strength(loss, self.capital[j], p.veto_max);
                    game::pull_toward(&mut consensus, own_plan, strength);
                    vetoes += 1;
                }
            }
            self.world.planner.project(e, &mut consensus, predicted);
        }
        Ok((consensus, vetoes))
    }

    /// Adds the day's consensus and proposal plans to the archive.
    fn archive_day(&mut self) {
        self.archive.push(ArchivePoint {
            day: self.day,
            source: "consensus".to_owned(),
            plan: self.consensus.clone(),
        });
        for (j, agent) in self.agents.iter().enumerate() {
            self.archive.push(ArchivePoint {
                day: self.day,
                source: OBJECTIVES[j].to_owned(),
                plan: agent.plan.clone(),
            });
        }
    }

    /// The trained policy: the last consensus plan, the archive, the log and the agents.
    pub fn into_policy(self) -> MarlinPolicy {
        MarlinPolicy {
            name: format!("marlin-{}", self.scheme.name()),
            scheme: self.scheme,
            consensus: self.consensus.clone(),
            archive: self.archive.clone(),
            log: self.log.clone(),
            predictor_accuracy: self.predictor_accuracy(),
            predictor_season: self.predictor.season,
            trained_on: TrainedOn::of(self.world.scenario),
            trained: Some(self.into_trained()),
        }
    }

    /// All weights of all agents, flattened (for tests comparing runs).
    pub fn weights(&self) -> Vec<f32> {
        self.sac
            .tensors()
            .iter()
            .filter(|(name, _)| !name.contains(".adam."))
            .flat_map(|(_, t)| Self::to_vec(t))
            .collect()
    }

    /// Saves everything needed to continue exactly: networks, optimiser moments, replay
    /// buffers, capital, EMAs, the random stream, today's plans, archive and log.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<PathBuf, AgentError> {
        let mut tensors = TensorsOut::default();
        let mut replay_next = Vec::new();
        let mut replay_len = Vec::new();
        tensors.extend_prefixed("sac", self.sac.tensors());
        let adam_steps = self.sac.adam_steps();
        for (j, a) in self.agents.iter().enumerate() {
            for (name, r) in [("current", &a.current), ("cross", &a.cross)] {
                let (f32s, f64s) = pack(r.rows());
                tensors.push(format!("agent{j}.{name}.f32"), f32s);
                tensors.push(format!("agent{j}.{name}.f64"), f64s);
            }
            replay_next.push([a.current.next_index(), a.cross.next_index()]);
            replay_len.push([a.current.len(), a.cross.len()]);
            tensors.f64s(format!("plan.proposal{j}"), a.plan.shares());
        }
        tensors.f64s("plan.consensus", self.consensus.shares());
        for (k, a) in self.archive.iter().enumerate() {
            tensors.f64s(format!("plan.archive{k}"), a.plan.shares());
        }
        let meta = CheckpointMeta {
            scheme: self.scheme,
            day: self.day,
            capital: self.capital,
            emas: [0, 1, 2, 3].map(|j| self.agents[j].ema),
            adam_steps,
            rngs: self.rngs.iter().map(RngState::capture).collect(),
            archive: self
                .archive
                .iter()
                .map(|a| ArchiveRecord {
                    day: a.day,
                    source: a.source.clone(),
                })
                .collect(),
            log: self.log.clone(),
            replay_next,
            replay_len,
        };
        checkpoint::save(
            dir,
            layout(self.scheme),
            &format!("day{}", self.day),
            &meta,
            tensors,
        )
    }

    /// Restores a checkpoint of the same scenario, settings, scheme and seed.
    pub fn resume(&mut self, dir: &Path) -> Result<(), AgentError> {
        let (meta, tensors) =
            checkpoint::load::<CheckpointMeta>(dir, layout(self.scheme), self.device)?;
        let bad = |m: String| tensors.error(m);
        if meta.scheme != self.scheme {
            return Err(bad(format!(
                "made for scheme {}, this run is {}",
                meta.scheme.name(),
                self.scheme.name()
            )));
        }
        let agents = self.agents.len();
        if meta.rngs.len() != agents
            || meta.replay_len.len() != agents
            || meta.replay_next.len() != agents
        {
            return Err(bad(format!("holds state of other than {agents} agents")));
        }
        self.sac.restore(&tensors.under("sac"), meta.adam_steps)?;
        for (j, a) in self.agents.iter_mut().enumerate() {
            for (b, (name, r)) in [("current", &mut a.current), ("cross", &mut a.cross)]
                .into_iter()
                .enumerate()
            {
                let f32s = tensors.get(&format!("agent{j}.{name}.f32"))?;
                let f64s = tensors.get(&format!("agent{j}.{name}.f64"))?;
                let template = self_template(&self.world);
                let rows = unpack(f32s, f64s, template).map_err(&bad)?;
                if rows.len() != meta.replay_len[j][b] {
                    return Err(bad(format!(
                        "agent{j}.{name}: {} rows, expected {}",
                        rows.len(),
                        meta.replay_len[j][b]
                    )));
                }
                r.restore(rows, meta.replay_next[j][b]);
            }
            a.ema = meta.emas[j];
        }
        let shape = self.consensus.shape();
        let len = shape.iter().product();
        let plan = |name: &str| -> Result<FractionPlan, AgentError> {
            let shares = tensors.f64s(name, len)?;
            FractionPlan::new(shape[0], shape[1], shape[2], shape[3], shares)
                .map_err(|e| bad(format!("{name}: {e}")))
        };
        self.consensus = plan("plan.consensus")?;
        for j in 0..agents {
            self.agents[j].plan = plan(&format!("plan.proposal{j}"))?;
        }
        self.capital = meta.capital;
        self.rngs = meta
            .rngs
            .iter()
            .map(|r| r.restore().map_err(&bad))
            .collect::<Result<_, _>>()?;
        self.archive = meta
            .archive
            .iter()
            .enumerate()
            .map(|(k, a)| {
                Ok(ArchivePoint {
                    day: a.day,
                    source: a.source.clone(),
                    plan: plan(&format!("plan.archive{k}"))?,
                })
            })
            .collect::<Result<_, AgentError>>()?;
        self.log = meta.log;
        self.day = meta.day;
        Ok(())
    }
}

/// Row widths of a transition for packing: (state, conditioning, action).
fn self_template(world: &GeoWorld) -> (usize, usize, usize) {
    (
        world.state_len(),
        world.conditioning_len(),
        world.action_len(),
    )
}

/// Packs transitions into an f32 matrix (state, conditioning, action, next state, next
/// conditioning) and an f64 matrix (weights, reward, done, normalised, unweighted): exact.
fn pack(rows: &[Transition]) -> (Tensor, Tensor) {
    let n = rows.len() as i64;
    let f32s: Vec<f32> = rows
        .iter()
        .flat_map(|t| {
            t.state
                .iter()
                .chain(&t.conditioning)
                .chain(&t.action)
                .chain(&t.next_state)
                .chain(&t.next_conditioning)
                .copied()
        })
        .collect();
    let f64s: Vec<f64> = rows
        .iter()
        .flat_map(|t| {
            t.weights
                .into_iter()
                .chain([t.reward, if t.done { 1.0 } else { 0.0 }])
                .chain(t.normalised)
                .chain([t.unweighted])
        })
        .collect();
    let w32 = if n > 0 { f32s.len() as i64 / n } else { 0 };
    (
        Tensor::from_slice(&f32s).view([n, w32]),
        Tensor::from_slice(&f64s).view([n, 11]),
    )
}

fn unpack(
    f32s: &Tensor,
    f64s: &Tensor,
    (s, z, a): (usize, usize, usize),
) -> Result<Vec<Transition>, String> {
    let n = f32s.size().first().copied().unwrap_or(0) as usize;
    if n == 0 {
        return Ok(Vec::new());
    }
    let width = 2 * s + 2 * z + a;
    let v32: Vec<f32> = Vec::try_from(f32s.to_device(Device::Cpu).flatten(0, -1))
        .map_err(|e: tch::TchError| e.to_string())?;
    let v64: Vec<f64> = Vec::try_from(f64s.to_device(Device::Cpu).flatten(0, -1))
        .map_err(|e: tch::TchError| e.to_string())?;
    if v32.len() != n * width || v64.len() != n * 11 {
        return Err(format!(
            "replay rows of {} and {} values, expected {} and {}",
            v32.len() / n.max(1),
            v64.len() / n.max(1),
            width,
            11
        ));
    }
    Ok((0..n)
        .map(|i| {
            let r = &v32[i * width..(i + 1) * width];
            let d = &v64[i * 11..(i + 1) * 11];
            let mut at = 0;
            let mut take = |len: usize| {
                let slice = r[at..at + len].to_vec();
                at += len;
                slice
            };
            Transition {
                state: take(s),
                conditioning: take(z),
                action: take(a),
                next_state: take(s),
                next_conditioning: take(z),
                weights: [d[0], d[1], d[2], d[3]],
                reward: d[4],
                done: d[5] > 0.5,
                normalised: [d[6], d[7], d[8], d[9]],
                unweighted: d[10],
            }
        })
        .collect())
}

/// Fractions from actions as a differentiable tensor: a softmax over datacenters per class of
/// `action_scale x u` (datacenters that cannot host a class get a large negative logit).
pub fn plan_tensor(world: &GeoWorld, u: &Tensor) -> Tensor {
    let (nc, nd) = (world.classes as i64, world.datacenters as i64);
    let b = u.size()[0];
    let logits = (u * world.action_scale).view([b, nc, nd]) + host_mask(world, u.device());
    logits.softmax(-1, Kind::Float).view([b, nc * nd])
}

/// Additive logit mask `[classes, datacenters]`: 0 where the datacenter hosts the class, -1e9
/// where it cannot (the differentiable twin of [`GeoWorld::fractions`]).
fn host_mask(world: &GeoWorld, device: Device) -> Tensor {
    let mask: Vec<f32> = (0..world.classes)
        .flat_map(|c| (0..world.datacenters).map(move |d| (c, d)))
        .map(|(c, d)| if world.planner.hosts(c, d) { 0.0 } else { -1e9 })
        .collect();
    Tensor::from_slice(&mask)
        .view([world.classes as i64, world.datacenters as i64])
        .to_device(device)
}
