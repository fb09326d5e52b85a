//! MARLIN's configuration (`configs/marlin.toml`) and the training of its schemes: every
//! (scheme, seed) in parallel, checkpointed after every day into
//! `<folder>/schemes/<scheme>/seed-<k>/` with its per-epoch log (`epochs.csv`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use tch::Device;
use verdant::allocator::{Fit, FitSession, Problem};
use verdant::config::{key, ConfigError, Validate};
use verdant::seed::MasterSeed;
use verdant_agents::marlin::{
    EpochLog, MarlinLearner, MarlinParams, MarlinPolicy, MarlinSettings, Scheme,
};
use verdant_agents::{TorchParams, TorchSettings};

use crate::methods::{self, MethodsChecked, MethodsSection};
use crate::run::Run;

pub const DEFAULTS: &str = include_str!("../../configs/marlin.toml");

/// `[compare]` of configs/marlin.toml: what `verdant marlin compare|scale|ablation` run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CompareSection {
    /// Methods of the registry beside MARLIN: the eight frameworks and the rules by default.
    pub frameworks: Vec<String>,
    /// Scenarios of `marlin scale`, and MARLIN's budget there.
    pub scalability_scenarios: Vec<String>,
    pub scalability_days: usize,
    pub scalability_seeds: u32,
    /// MARLIN's budget in `marlin ablation`.
    pub ablation_days: usize,
    pub ablation_seeds: u32,
}

impl Default for CompareSection {
    fn default() -> Self {
        CompareSection {
            frameworks: methods::names(methods::Kind::Framework)
                .into_iter()
                .chain(methods::names(methods::Kind::Rule))
                .map(str::to_owned)
                .collect(),
            scalability_scenarios: ["geo-4dc", "geo-6dc", "geo-8dc", "geo-10dc", "geo-12dc"]
                .map(str::to_owned)
                .to_vec(),
            scalability_days: 1,
            scalability_seeds: 1,
            ablation_days: 1,
            ablation_seeds: 1,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarlinDoc {
    pub seed: u64,
    pub scenario: String,
    pub schemes: Vec<Scheme>,
    pub seeds: u32,
    pub discrete_event: bool,
    pub marlin: MarlinParams,
    #[serde(default)]
    pub torch: TorchParams,
    #[serde(default)]
    pub compare: CompareSection,
    pub methods: MethodsSection,
}

pub(crate) struct MarlinChecked {
    pub seed: u64,
    pub scenario: String,
    pub schemes: Vec<Scheme>,
    pub seeds: u32,
    pub discrete_event: bool,
    pub marlin: MarlinSettings,
    pub torch: TorchSettings,
    pub compare: CompareSection,
    pub methods: MethodsChecked,
}

impl Validate for MarlinDoc {
    type Checked = MarlinChecked;
    fn validate(self, prefix: &str) -> Result<MarlinChecked, ConfigError> {
        if self.seeds == 0 {
            return Err(ConfigError::invalid(
                key(prefix, "seeds"),
                "must be at least 1",
            ));
        }
        if self.schemes.is_empty() {
            return Err(ConfigError::invalid(
                key(prefix, "schemes"),
                "needs at least one scheme",
            ));
        }
        for name in &self.compare.frameworks {
            methods::check_buildable(name, &key(&key(prefix, "compare"), "frameworks"))?;
        }
        let mut schemes = self.schemes;
        schemes.dedup();
        Ok(MarlinChecked {
            seed: self.seed,
            scenario: self.scenario,
            schemes,
            seeds: self.seeds,
            discrete_event: self.discrete_event,
            marlin: self.marlin.validate(&key(prefix, "marlin"))?,
            torch: self.torch.validate(&key(prefix, "torch"))?,
            compare: self.compare,
            methods: self.methods.validate(&key(prefix, "methods"))?,
        })
    }
}

/// The master seed of seed `k` of a scheme run.
pub(crate) fn run_seed(master: u64, k: u32) -> MasterSeed {
    MasterSeed(MasterSeed(master).derive(&format!("marlin.seed.{k}")))
}

pub(crate) fn scheme_dir(run: &Path, scheme: Scheme, k: u32) -> PathBuf {
    run.join("schemes")
        .join(scheme.name())
        .join(format!("seed-{k}"))
}

/// One trained (scheme, seed).
pub(crate) struct TrainedScheme {
    pub scheme: Scheme,
    pub seed: u32,
    /// The trained policy: its consensus plan, archive and log.
    pub policy: MarlinPolicy,
    pub wall_s: f64,
}

/// Which runs to train: schemes x seeds from a master seed, into `folder` of the run directory.
pub(crate) struct Jobs<'a> {
    pub master_seed: u64,
    pub schemes: &'a [Scheme],
    pub seeds: u32,
    pub folder: &'a str,
    pub resume: bool,
}

/// Trains (or resumes) every (scheme, seed) of `jobs_spec` in the run directory, in parallel.
pub(crate) fn train_schemes(
    run: &Run,
    jobs_spec: &Jobs,
    problem: &Problem,
    settings: &MarlinSettings,
    device: Device,
) -> anyhow::Result<Vec<TrainedScheme>> {
    let scenario = problem.scenario;
    let (resume, folder) = (jobs_spec.resume, jobs_spec.folder);
    let master = jobs_spec.master_seed;
    let jobs: Vec<(Scheme, u32)> = jobs_spec
        .schemes
        .iter()
        .flat_map(|&s| (0..jobs_spec.seeds).map(move |k| (s, k)))
        .collect();
    let epochs_total = (settings.params().days * scenario.time.epochs * jobs.len()) as u64;
    let bar = run.progress(epochs_total, "epochs");
    let done = AtomicU64::new(0);
    let root = run.dir().path().join(folder);
    let results: Vec<anyhow::Result<TrainedScheme>> = jobs
        .par_iter()
        .map(|&(scheme, k)| {
            let dir = scheme_dir(&root, scheme, k);
            let started = Instant::now();
            let learner = MarlinLearner {
                settings: settings.clone(),
                scheme,
                seed: run_seed(master, k),
                device,
            };
            let policy = learner.fit(
                problem,
                &mut FitSession {
                    checkpoint_dir: Some(&dir),
                    resume,
                    progress: &mut |n| {
                        bar.set_position(done.fetch_add(n, Ordering::Relaxed) + n);
                    },
                },
            )?;
            write_epoch_log(&dir, &policy.log)?;
            Ok(TrainedScheme {
                scheme,
                seed: k,
                policy,
                wall_s: started.elapsed().as_secs_f64(),
            })
        })
        .collect();
    bar.finish_and_clear();
    results.into_iter().collect()
}

fn write_epoch_log(dir: &Path, log: &[EpochLog]) -> anyhow::Result<()> {
    let mut csv = String::from("day,epoch,predicted_requests,actual_requests,vetoes");
    for who in ["ttft", "carbon", "water", "cost"] {
        for m in ["ttft_s", "carbon_kg", "water_l", "cost_usd"] {
            write!(csv, ",{who}_agent_{m}")?;
        }
    }
    csv.push_str(",consensus_ttft_s,consensus_carbon_kg,consensus_water_l,consensus_cost_usd");
    for who in ["ttft", "carbon", "water", "cost"] {
        write!(csv, ",{who}_capital")?;
    }
    for who in ["ttft", "carbon", "water", "cost"] {
        write!(csv, ",{who}_mean_reward")?;
    }
    for who in ["ttft", "carbon", "water", "cost"] {
        write!(
            csv,
            ",{who}_replay_current,{who}_replay_cross,{who}_sac_updates"
        )?;
    }
    csv.push('\n');
    for l in log {
        write!(
            csv,
            "{},{},{},{},{}",
            l.day, l.epoch, l.predicted_requests, l.actual_requests, l.vetoes
        )?;
        for p in &l.proposals {
            for v in p {
                write!(csv, ",{v}")?;
            }
        }
        for v in l.consensus.iter().chain(&l.capital).chain(&l.mean_reward) {
            write!(csv, ",{v}")?;
        }
        for ([current, cross], updates) in l.replay.iter().zip(l.updates) {
            write!(csv, ",{current},{cross},{updates}")?;
        }
        csv.push('\n');
    }
    verdant::run::write_atomic(&dir.join("epochs.csv"), csv.as_bytes())?;
    Ok(())
}
