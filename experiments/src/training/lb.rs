//! The load balancer's configuration (`configs/lb.toml`) and the training of its agents: every
//! (algorithm, seed) in parallel, checkpointed into `<folder>/<algorithm>/seed-<k>/` with its
//! learning curve; and geo mode, where the agents learn to route a geo scenario's requests and
//! each trained agent (and each baseline) becomes a [`GeoRouter`] allocator.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::Device;
use verdant::config::{key, require_positive, ConfigError, Validate};
use verdant::lb::{baseline, GeoRouter, GeoRouting, LbEnvConfig, LbWorkload, BASELINES};
use verdant::scenario::lb::RewardParams;
use verdant::seed::MasterSeed;
use verdant_agents::device::device_name;
use verdant_agents::lb::{Algorithm, LbAgentParams, LbAgentSettings, LbTrainer, CHECKPOINT_FILE};
use verdant_agents::{TorchParams, TorchSettings};

use crate::plots::{line_chart, Chart, Series};
use crate::run::{Days, Run};
use crate::stats::mean_std;

pub const DEFAULTS: &str = include_str!("../../configs/lb.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LbSection {
    pub scenario: String,
    #[serde(default)]
    pub scenario_set: Vec<String>,
    pub seeds: u32,
    pub algorithms: Vec<Algorithm>,
    pub checkpoint_every_steps: u64,
    pub load_samples: usize,
}

/// `[geo]`: geo mode, routing a geo scenario's requests across its datacenters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoSection {
    pub scenario: String,
    /// About this many of the day's requests are drawn (on the same share of the nodes).
    pub requests: f64,
    /// Response-time SLO of the routing episode's reward and metrics, seconds.
    pub slo_s: f64,
    pub queue_capacity: usize,
}

impl Default for GeoSection {
    fn default() -> Self {
        GeoSection {
            scenario: "geo-8dc".to_owned(),
            requests: 50_000.0,
            slo_s: 20.0,
            queue_capacity: 1000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LbDoc {
    pub seed: u64,
    pub lb: LbSection,
    #[serde(default)]
    pub geo: GeoSection,
    pub agent: LbAgentParams,
    #[serde(default)]
    pub torch: TorchParams,
}

pub(crate) struct LbChecked {
    pub seed: u64,
    pub scenario: String,
    pub scenario_set: Vec<String>,
    pub seeds: u32,
    pub algorithms: Vec<Algorithm>,
    pub checkpoint_every_steps: u64,
    pub load_samples: usize,
    pub agent: LbAgentSettings,
    pub torch: TorchSettings,
    pub geo: GeoSection,
}

impl Validate for LbDoc {
    type Checked = LbChecked;
    fn validate(self, prefix: &str) -> Result<LbChecked, ConfigError> {
        let lb = key(prefix, "lb");
        if self.lb.seeds == 0 {
            return Err(ConfigError::invalid(
                key(&lb, "seeds"),
                "must be at least 1",
            ));
        }
        if self.lb.checkpoint_every_steps == 0 {
            return Err(ConfigError::invalid(
                key(&lb, "checkpoint_every_steps"),
                "must be at least 1",
            ));
        }
        let g = &self.geo;
        if !(g.requests.is_finite() && g.requests >= 1.0) {
            return Err(ConfigError::invalid(
                key(&key(prefix, "geo"), "requests"),
                format!("must be a number >= 1, got {}", g.requests),
            ));
        }
        require_positive(&key(prefix, "geo"), "slo_s", g.slo_s)?;
        let mut algorithms = self.lb.algorithms;
        algorithms.dedup();
        Ok(LbChecked {
            seed: self.seed,
            scenario: self.lb.scenario,
            scenario_set: self.lb.scenario_set,
            seeds: self.lb.seeds,
            algorithms,
            checkpoint_every_steps: self.lb.checkpoint_every_steps,
            load_samples: self.lb.load_samples.max(2),
            agent: self.agent.validate(&key(prefix, "agent"))?,
            torch: self.torch.validate(&key(prefix, "torch"))?,
            geo: self.geo,
        })
    }
}

/// The master seed of training seed `k`.
pub(crate) fn job_seed(master: u64, k: u32) -> MasterSeed {
    MasterSeed(MasterSeed(master).derive(&format!("lb.seed.{k}")))
}

/// What agents train on: a workload, its servers, a name and the run subfolder for their
/// checkpoints.
pub(crate) struct TrainingTarget {
    pub name: String,
    pub workload: Arc<LbWorkload>,
    pub env: LbEnvConfig,
    pub folder: &'static str,
}

pub(crate) fn agent_dir(run: &Path, folder: &str, algorithm: Algorithm, k: u32) -> PathBuf {
    run.join(folder)
        .join(algorithm.name())
        .join(format!("seed-{k}"))
}

/// A trained agent of one seed.
pub(crate) struct Trained {
    pub algorithm: Algorithm,
    pub seed: u32,
    pub trainer: LbTrainer,
    /// Environment steps per second of this job's training (0 when nothing was left to train).
    pub steps_per_s: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct TrainSummary {
    pub scenario: String,
    pub device: String,
    pub jobs: usize,
    pub steps_per_job: u64,
    pub wall_s: f64,
    /// Training throughput per algorithm: mean environment steps per second of one job (each
    /// job on one libtorch thread; jobs run in parallel).
    pub steps_per_s: Vec<(String, f64)>,
}

/// Trains every (algorithm, seed), resuming from checkpoints in `run_dir` where `resume`.
pub(crate) fn train_all(
    run: &Run,
    c: &LbChecked,
    target: &TrainingTarget,
    device: Device,
    resume: bool,
) -> anyhow::Result<(Vec<Trained>, TrainSummary)> {
    let jobs: Vec<(Algorithm, u32)> = c
        .algorithms
        .iter()
        .flat_map(|&a| (0..c.seeds).map(move |k| (a, k)))
        .collect();
    let total = c.agent.params().total_steps;
    let bar = run.progress(total * jobs.len() as u64, "training");
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let run_path = run.dir().path().to_owned();
    let trained: Vec<anyhow::Result<Trained>> = jobs
        .par_iter()
        .map(|&(algorithm, k)| {
            let dir = agent_dir(&run_path, target.folder, algorithm, k);
            let mut trainer = new_trainer(c, target, algorithm, k, total, device)?;
            if resume && dir.join(CHECKPOINT_FILE).is_file() {
                trainer.resume(&dir)?;
            }
            let before = trainer.steps();
            done.fetch_add(before, Ordering::Relaxed);
            let mut last = before;
            let t0 = Instant::now();
            trainer.train(Some((&dir, c.checkpoint_every_steps)), &mut |p| {
                done.fetch_add(p.steps - last, Ordering::Relaxed);
                last = p.steps;
                bar.set_position(done.load(Ordering::Relaxed));
            })?;
            let elapsed = t0.elapsed().as_secs_f64();
            let trained_steps = trainer.steps() - before;
            write_curve(&dir, &trainer)?;
            Ok(Trained {
                algorithm,
                seed: k,
                steps_per_s: if elapsed > 0.0 && trained_steps > 0 {
                    trained_steps as f64 / elapsed
                } else {
                    0.0
                },
                trainer,
            })
        })
        .collect();
    bar.finish_and_clear();
    let trained = trained.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    learning_curve_plot(run.dir().path(), target.folder, &trained)?;
    let steps_per_s = c
        .algorithms
        .iter()
        .map(|&a| {
            let rates: Vec<f64> = trained
                .iter()
                .filter(|t| t.algorithm == a && t.steps_per_s > 0.0)
                .map(|t| t.steps_per_s)
                .collect();
            (a.name().to_owned(), mean_std(&rates).0)
        })
        .collect();
    let summary = TrainSummary {
        scenario: target.name.clone(),
        device: device_name(device),
        jobs: trained.len(),
        steps_per_job: total,
        wall_s: started.elapsed().as_secs_f64(),
        steps_per_s,
    };
    Ok((trained, summary))
}

/// A fresh agent of `algorithm` for training seed `k` on `target`, with a budget of
/// `total_steps` environment steps (its schedules follow it).
pub(crate) fn new_trainer(
    c: &LbChecked,
    target: &TrainingTarget,
    algorithm: Algorithm,
    k: u32,
    total_steps: u64,
    device: Device,
) -> anyhow::Result<LbTrainer> {
    Ok(LbTrainer::new(
        c.agent
            .with_algorithm(algorithm)
            .with_total_steps(total_steps),
        target.workload.clone(),
        target.env.clone(),
        job_seed(c.seed, k),
        device,
    )?)
}

fn write_curve(dir: &Path, trainer: &LbTrainer) -> anyhow::Result<()> {
    let mut csv = String::from("step,episode_reward,mean_response_s,slo_violation_pct\n");
    for p in trainer.curve() {
        writeln!(
            csv,
            "{},{},{},{}",
            p.step, p.episode_reward, p.mean_response_s, p.slo_violation_pct
        )?;
    }
    verdant::run::write_atomic(&dir.join("curve.csv"), csv.as_bytes())?;
    Ok(())
}

/// Episode reward over training steps, a moving average over 5 episodes, one line per job.
fn learning_curve_plot(dir: &Path, folder: &str, trained: &[Trained]) -> anyhow::Result<()> {
    let series: Vec<Series> = trained
        .iter()
        .map(|t| {
            let curve = t.trainer.curve();
            let points = curve
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let from = i.saturating_sub(4);
                    let window = &curve[from..=i];
                    let mean =
                        window.iter().map(|q| q.episode_reward).sum::<f64>() / window.len() as f64;
                    (p.step as f64, mean)
                })
                .collect();
            Series {
                name: format!("{} seed {}", t.algorithm.name(), t.seed),
                points,
            }
        })
        .collect();
    let stem = if folder == "agents" {
        "learning_curves".to_owned()
    } else {
        format!("learning_curves_{folder}")
    };
    line_chart(
        dir,
        &stem,
        &Chart {
            title: "Learning curves (episode reward, moving average of 5)",
            x_label: "environment steps",
            y_label: "episode reward",
        },
        &series,
    )
}

/// Geo mode: a geo scenario's training days as the load balancer's workload, the agents trained
/// on it, and the routing every router is evaluated on (the held-out days' requests, where the
/// scenario has them).
pub(crate) struct GeoTraining {
    /// Requests of the training routing (one pass).
    pub training_requests: usize,
    pub evaluation: GeoRouting,
    pub trained: Vec<Trained>,
    pub summary: TrainSummary,
    seed: u64,
    seeds: u32,
}

/// Draws the training days' requests for geo mode and trains every configured algorithm and
/// seed on their routing (checkpoints in `geo-agents/`); the held-out days' requests are drawn
/// at the same node share for the same servers and feature scaling. With `resume`, agents with a
/// checkpoint there continue from it.
pub(crate) fn train_geo(
    run: &Run,
    c: &LbChecked,
    days: &Days,
    device: Device,
    resume: bool,
) -> anyhow::Result<GeoTraining> {
    let (routing, evaluation) = geo_routings(c, days)?;
    let target = geo_target(&routing);
    let (trained, summary) = train_all(run, c, &target, device, resume)?;
    Ok(GeoTraining {
        training_requests: routing.workload.len(),
        evaluation,
        trained,
        summary,
        seed: c.seed,
        seeds: c.seeds,
    })
}

/// What geo-mode agents train on: `routing`'s requests and servers.
pub(crate) fn geo_target(routing: &GeoRouting) -> TrainingTarget {
    TrainingTarget {
        name: routing.workload.name.clone(),
        workload: routing.workload.clone(),
        env: routing.config.clone(),
        folder: "geo-agents",
    }
}

/// Geo mode's two routings: the training days' requests (drawn at the share of the nodes that
/// gives about `geo.requests` requests), and the scoring days' at the same share, servers and
/// feature scaling (the same routing where the scenario holds no days out).
pub(crate) fn geo_routings(c: &LbChecked, days: &Days) -> anyhow::Result<(GeoRouting, GeoRouting)> {
    let scenario = days.training();
    let share = (c.geo.requests / scenario.demand.total_requests()).min(1.0);
    let routing = GeoRouting::new(
        scenario,
        share,
        c.geo.queue_capacity,
        c.geo.slo_s,
        RewardParams::default(),
        &mut MasterSeed(c.seed).rng("lb.geo.requests"),
    )
    .map_err(|reason| verdant::allocator::AllocError::NotApplicable {
        method: "lb (geo mode)".to_owned(),
        scenario: scenario.name.clone(),
        reason,
    })?;
    let evaluation = if days.held_out() {
        routing
            .held_out(
                &days.scoring,
                &mut MasterSeed(c.seed).rng("lb.geo.requests.held-out"),
            )
            .map_err(|e| anyhow::anyhow!("geo mode on {}: {e}", days.scoring.name))?
    } else {
        routing.clone()
    };
    Ok((routing, evaluation))
}

impl GeoTraining {
    /// Each trained agent's greedy routing, then each baseline (that `baselines` keeps) for
    /// every seed, of the evaluation requests, as allocators named by algorithm or baseline,
    /// with their seed. Every routing
    /// of seed k replays the episode seed `lb.seed.k` / `lb.eval`.
    pub fn routers(&self, baselines: impl Fn(&str) -> bool) -> Vec<(u32, GeoRouter<'_>)> {
        let mut out = Vec::new();
        for t in &self.trained {
            out.push((
                t.seed,
                GeoRouter::new(
                    t.algorithm.name(),
                    &self.evaluation,
                    Box::new(t.trainer.greedy()),
                    job_seed(self.seed, t.seed).derive("lb.eval"),
                ),
            ));
        }
        for name in BASELINES.into_iter().filter(|n| baselines(n)) {
            for k in 0..self.seeds {
                let policy = baseline(name).expect("listed baseline");
                out.push((
                    k,
                    GeoRouter::new(
                        name,
                        &self.evaluation,
                        policy,
                        job_seed(self.seed, k).derive("lb.eval"),
                    ),
                ));
            }
        }
        out
    }
}
