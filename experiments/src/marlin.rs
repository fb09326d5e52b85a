//! `verdant marlin train|eval`: MARLIN's five schemes on a geo scenario (geo-8dc by default).
//!
//! `train` runs every (scheme, seed) in parallel, checkpointing after every day into
//! `schemes/<scheme>/seed-<k>/`, with the per-epoch log (`epochs.csv`) beside it; then scores
//! each final consensus plan with the fluid and discrete-event simulators and writes
//! `schemes.csv`, the archive of whole-day plans (`archive.csv`), its non-dominated front with
//! PHV (`front.csv`), `marlin.md` and plots. `--resume RUN_DIR` continues an interrupted run.
//! `eval RUN_DIR` re-scores a finished run's final plans into a new run directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::bail;
use rayon::prelude::*;
use serde::Deserialize;
use tch::Device;
use verdant::config::{key, ConfigError, Layered, Validate};
use verdant::pareto::{hypervolume, nondominated, ReferencePoint};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::des::DiscreteEventSimulator;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::rules::Even;
use verdant::sim::{Allocator, FractionPlan, Objectives, SimParams};
use verdant_agents::marlin::{
    ArchivePoint, EpochLog, Marlin, MarlinParams, MarlinSettings, Scheme, MARLIN_CHECKPOINT,
};
use verdant_agents::{TorchParams, TorchSettings};

use crate::cli::{MarlinAction, SharedArgs};
use crate::inspect::resolve_scenario;
use crate::marlin_compare::{self, CompareSection};
use crate::plots::{bar_chart, line_chart, BarGroup, Chart, Series};
use crate::run::{configure, configure_from_run, within, Run};
use crate::stats::{mean_ci, plus_minus};

pub const DEFAULTS: &str = include_str!("../configs/marlin.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    seed: u64,
    scenario: String,
    schemes: Vec<Scheme>,
    seeds: u32,
    discrete_event: bool,
    marlin: MarlinParams,
    #[serde(default)]
    torch: TorchParams,
    #[serde(default)]
    compare: CompareSection,
}

pub(crate) struct Checked {
    pub seed: u64,
    pub scenario: String,
    pub schemes: Vec<Scheme>,
    pub seeds: u32,
    pub discrete_event: bool,
    pub marlin: MarlinSettings,
    pub torch: TorchSettings,
    pub compare: CompareSection,
}

impl Validate for Params {
    type Checked = Checked;
    fn validate(self, prefix: &str) -> Result<Checked, ConfigError> {
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
            if !marlin_compare::FRAMEWORKS.contains(&name.as_str())
                && !marlin_compare::RULES.contains(&name.as_str())
            {
                return Err(ConfigError::invalid(
                    key(&key(prefix, "compare"), "frameworks"),
                    format!(
                        "unknown framework {name:?} (known: {}, {})",
                        marlin_compare::FRAMEWORKS.join(", "),
                        marlin_compare::RULES.join(", ")
                    ),
                ));
            }
        }
        let mut schemes = self.schemes;
        schemes.dedup();
        Ok(Checked {
            seed: self.seed,
            scenario: self.scenario,
            schemes,
            seeds: self.seeds,
            discrete_event: self.discrete_event,
            marlin: self.marlin.validate(&key(prefix, "marlin"))?,
            torch: self.torch.validate(&key(prefix, "torch"))?,
            compare: self.compare,
        })
    }
}

/// Reads one objective from a vector.
pub(crate) type Metric = fn(&Objectives) -> f64;

/// The four compared objectives with their labels, in MARLIN's order.
pub(crate) const METRICS: [(&str, Metric); 4] = [
    ("TTFT", |o| o.ttft_s),
    ("carbon", |o| o.carbon_kg),
    ("water", |o| o.water_l),
    ("energy cost", |o| o.cost_usd),
];

/// The master seed of seed `k` of a scheme run.
pub(crate) fn run_seed(master: u64, k: u32) -> MasterSeed {
    MasterSeed(MasterSeed(master).derive(&format!("marlin.seed.{k}")))
}

fn scheme_dir(run: &Path, scheme: Scheme, k: u32) -> PathBuf {
    run.join("schemes")
        .join(scheme.name())
        .join(format!("seed-{k}"))
}

/// One finished (scheme, seed).
pub(crate) struct SchemeResult {
    pub scheme: Scheme,
    pub seed: u32,
    pub plan: FractionPlan,
    pub fluid: Objectives,
    pub discrete_event: Option<Objectives>,
    pub archive: Vec<ArchivePoint>,
    pub log: Vec<EpochLog>,
    pub predictor_accuracy: f64,
    pub wall_s: f64,
}

/// Trains (or resumes) every (scheme, seed) of `c` in `run_dir`, in parallel.
/// Which runs to train: schemes x seeds from a master seed, into `folder` of the run directory.
pub(crate) struct Jobs<'a> {
    pub master_seed: u64,
    pub schemes: &'a [Scheme],
    pub seeds: u32,
    pub folder: &'a str,
    pub resume: bool,
}

pub(crate) fn train_schemes(
    run: &Run,
    jobs_spec: &Jobs,
    scenario: &Scenario,
    settings: &MarlinSettings,
    device: Device,
) -> anyhow::Result<Vec<SchemeResult>> {
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
    let results: Vec<anyhow::Result<SchemeResult>> = jobs
        .par_iter()
        .map(|&(scheme, k)| {
            let dir = scheme_dir(&root, scheme, k);
            let started = Instant::now();
            let mut m = Marlin::new(
                scenario,
                settings.clone(),
                scheme,
                run_seed(master, k),
                device,
            )?;
            if resume && dir.join(MARLIN_CHECKPOINT).is_file() {
                m.resume(&dir)?;
                done.fetch_add((m.day() * scenario.time.epochs) as u64, Ordering::Relaxed);
            }
            m.train(Some(&dir), &mut |_| {
                bar.set_position(done.fetch_add(1, Ordering::Relaxed) + 1);
            })?;
            let outcome = m.outcome()?;
            write_epoch_log(&dir, &outcome.log)?;
            Ok(SchemeResult {
                scheme,
                seed: k,
                plan: outcome.plan,
                fluid: outcome.objectives,
                discrete_event: None,
                archive: outcome.archive,
                log: outcome.log,
                predictor_accuracy: outcome.predictor_accuracy,
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
        csv.push('\n');
    }
    verdant::run::write_atomic(&dir.join("epochs.csv"), csv.as_bytes())?;
    Ok(())
}

/// Scores a plan with the discrete-event simulator on one node of the largest pool (the same
/// share as `verdant simulate`), requests drawn from `seed`.
pub(crate) fn discrete_event(
    scenario: &Scenario,
    plan: &FractionPlan,
    seed: MasterSeed,
) -> anyhow::Result<Objectives> {
    let params = SimParams {
        node_fraction: scenario.one_node_fraction(),
        ..SimParams::default()
    };
    let (outcome, _) = DiscreteEventSimulator::new(scenario, params).simulate_plan(
        plan,
        &mut seed.rng("marlin.discrete_event"),
        |_| {},
    )?;
    Ok(outcome.objectives())
}

/// Writes the tables, the archive with its front and PHV, and the plots; returns the summary.
fn report(
    run: &Run,
    scenario: &Scenario,
    results: &[SchemeResult],
    c: &Checked,
) -> anyhow::Result<serde_json::Value> {
    let dir = run.dir();
    let mut csv = String::from("scheme,seed,fidelity,ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,slo_violation_rate,predictor_accuracy,wall_s\n");
    for r in results {
        for (fidelity, o) in [
            ("fluid", Some(&r.fluid)),
            ("discrete-event", r.discrete_event.as_ref()),
        ] {
            if let Some(o) = o {
                writeln!(
                    csv,
                    "{},{},{fidelity},{},{},{},{},{},{},{},{}",
                    r.scheme.name(),
                    r.seed,
                    o.ttft_s,
                    o.carbon_kg,
                    o.water_l,
                    o.cost_usd,
                    o.energy_kwh,
                    o.slo_violation_rate,
                    r.predictor_accuracy,
                    r.wall_s
                )?;
            }
        }
    }
    dir.write("schemes.csv", csv.as_bytes())?;
    // Archive: every whole-day plan of every scheme, seed and day.
    let mut archive_csv = String::from(
        "scheme,seed,day,source,ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,slo_violation_rate\n",
    );
    let mut points: Vec<f64> = Vec::new();
    for r in results {
        for a in &r.archive {
            let o = a.objectives;
            writeln!(
                archive_csv,
                "{},{},{},{},{},{},{},{},{},{}",
                r.scheme.name(),
                r.seed,
                a.day,
                a.source,
                o[0],
                o[1],
                o[2],
                o[3],
                a.energy_kwh,
                a.slo_violation_rate
            )?;
            if o.iter().all(|v| v.is_finite()) {
                points.extend_from_slice(&o);
            }
        }
    }
    dir.write("archive.csv", archive_csv.as_bytes())?;
    let front_idx = nondominated(&points, 4);
    let front: Vec<f64> = front_idx
        .iter()
        .flat_map(|&i| points[i * 4..(i + 1) * 4].iter().copied())
        .collect();
    let reference = ReferencePoint::WorstObserved.resolve([points.as_slice()], 4);
    let phv = if front.is_empty() {
        0.0
    } else {
        hypervolume(&front, 4, &reference)
    };
    let mut front_csv =
        String::from("ttft_s:s:min,carbon_kg:kg:min,water_l:L:min,cost_usd:USD:min\n");
    for p in front.chunks_exact(4) {
        writeln!(front_csv, "{},{},{},{}", p[0], p[1], p[2], p[3])?;
    }
    dir.write("front.csv", front_csv.as_bytes())?;
    // The even split, for scale.
    let even = FluidSimulator::new(scenario, SimParams::default())
        .score(&Even.allocate(scenario)?)?
        .objectives();
    let mut md = format!(
        "# MARLIN on `{}` ({} days of training, k_opt {}, {} seed(s) per scheme)\n\nFinal consensus plan of each scheme scored by the fluid simulator{}; mean ± 95% CI over seeds.\n\n| Scheme | TTFT (s) | Carbon (kg) | Water (L) | Energy cost (USD) | Energy (kWh) |\n|---|---|---|---|---|---|\n",
        scenario.name,
        c.marlin.params().days,
        c.marlin.params().k_opt,
        c.seeds,
        if c.discrete_event { " (discrete-event below)" } else { "" }
    );
    let row = |md: &mut String,
               name: &str,
               sel: &dyn Fn(&SchemeResult) -> Option<Objectives>|
     -> anyhow::Result<()> {
        let of = |f: &dyn Fn(&Objectives) -> f64| {
            mean_ci(
                &results
                    .iter()
                    .filter(|r| r.scheme.name() == name)
                    .filter_map(sel)
                    .map(|o| f(&o))
                    .collect::<Vec<_>>(),
            )
        };
        writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} |",
            plus_minus(of(&|o| o.ttft_s), 3),
            plus_minus(of(&|o| o.carbon_kg), 0),
            plus_minus(of(&|o| o.water_l), 0),
            plus_minus(of(&|o| o.cost_usd), 0),
            plus_minus(of(&|o| o.energy_kwh), 0)
        )?;
        Ok(())
    };
    for s in &c.schemes {
        row(&mut md, s.name(), &|r| Some(r.fluid))?;
    }
    writeln!(
        md,
        "| even split (reference) | {:.3} | {:.0} | {:.0} | {:.0} | {:.0} |",
        even.ttft_s, even.carbon_kg, even.water_l, even.cost_usd, even.energy_kwh
    )?;
    if c.discrete_event {
        md.push_str("\nDiscrete-event simulator (one node of the largest pool, the same plans):\n\n| Scheme | TTFT (s) | Carbon (kg) | Water (L) | Energy cost (USD) | Energy (kWh) |\n|---|---|---|---|---|---|\n");
        for s in &c.schemes {
            row(&mut md, s.name(), &|r| r.discrete_event)?;
        }
    }
    let accuracy = results.first().map_or(f64::NAN, |r| r.predictor_accuracy);
    writeln!(
        md,
        "\nArchive: {} whole-day plans, {} non-dominated; PHV {:.6e} (reference: worst observed per objective). Workload predictor accuracy (1 - MAPE, one epoch ahead): {:.1}%.",
        points.len() / 4,
        front.len() / 4,
        phv,
        100.0 * accuracy
    )?;
    dir.write("marlin.md", md.as_bytes())?;
    plots(dir.path(), results, &even, c)?;
    Ok(serde_json::json!({
        "scenario": scenario.name,
        "archive_points": points.len() / 4,
        "front_points": front.len() / 4,
        "phv": phv,
        "predictor_accuracy": accuracy,
        "schemes": results.iter().map(|r| serde_json::json!({
            "scheme": r.scheme.name(), "seed": r.seed, "fluid": r.fluid,
            "discrete_event": r.discrete_event, "wall_s": r.wall_s,
        })).collect::<Vec<_>>(),
    }))
}

fn plots(
    dir: &Path,
    results: &[SchemeResult],
    even: &Objectives,
    c: &Checked,
) -> anyhow::Result<()> {
    // Each scheme's objectives relative to the even split (mean over seeds).
    let names: Vec<String> = c.schemes.iter().map(|s| s.name().to_owned()).collect();
    let groups: Vec<BarGroup> = METRICS
        .iter()
        .map(|(label, f)| BarGroup {
            name: (*label).to_owned(),
            values: c
                .schemes
                .iter()
                .map(|s| {
                    let v: Vec<f64> = results
                        .iter()
                        .filter(|r| r.scheme == *s)
                        .map(|r| f(&r.fluid) / f(even).abs().max(1e-12))
                        .collect();
                    mean_ci(&v).0
                })
                .collect(),
        })
        .collect();
    bar_chart(
        dir,
        "schemes_vs_even",
        &Chart {
            title: "MARLIN schemes relative to the even split (fluid, mean over seeds)",
            x_label: "scheme",
            y_label: "objective / even split",
        },
        &names,
        &groups,
    )?;
    // Capital of the four agents over the epochs of the first run.
    if let Some(r) = results.first() {
        let series: Vec<Series> = ["TTFT", "carbon", "water", "cost"]
            .iter()
            .enumerate()
            .map(|(j, n)| Series {
                name: format!("{n} agent"),
                points: r
                    .log
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as f64, l.capital[j]))
                    .collect(),
            })
            .collect();
        line_chart(
            dir,
            "capital",
            &Chart {
                title: &format!("Capital per agent ({}, seed {})", r.scheme.name(), r.seed),
                x_label: "epoch (all training days)",
                y_label: "capital",
            },
            &series,
        )?;
    }
    Ok(())
}

fn config_of(run_dir: &Path) -> anyhow::Result<(Layered, Checked)> {
    configure_from_run::<Params>(run_dir, "marlin")
}

fn load_scenario(c: &Checked) -> anyhow::Result<Scenario> {
    let path = resolve_scenario(&c.scenario)?;
    Ok(Scenario::load(&path, MasterSeed(c.seed))?)
}

/// Scores the final plans with the discrete-event simulator where configured.
fn score_discrete_event(
    c: &Checked,
    scenario: &Scenario,
    results: &mut [SchemeResult],
) -> anyhow::Result<()> {
    if !c.discrete_event {
        return Ok(());
    }
    if scenario.datacenters.iter().all(|d| d.node_pools.is_empty()) {
        bail!("scenario {} has no node pools for the discrete-event simulator; set discrete_event = false", scenario.name);
    }
    let scored: Vec<anyhow::Result<Objectives>> = results
        .par_iter()
        .map(|r| discrete_event(scenario, &r.plan, run_seed(c.seed, r.seed)))
        .collect();
    for (r, o) in results.iter_mut().zip(scored) {
        r.discrete_event = Some(o?);
    }
    Ok(())
}

pub fn run(action: &MarlinAction, shared: &SharedArgs) -> anyhow::Result<()> {
    let (config, c, resume_dir, experiment) = match action {
        MarlinAction::Train { resume: Some(dir) } => {
            let (config, c) = config_of(dir)?;
            (config, c, Some(dir.clone()), "marlin")
        }
        MarlinAction::Train { resume: None } => {
            let Some((config, c)) = configure::<Params>(DEFAULTS, "marlin", shared)? else {
                return Ok(());
            };
            (config, c, None, "marlin")
        }
        MarlinAction::Compare | MarlinAction::Scale | MarlinAction::Ablation => {
            let name = match action {
                MarlinAction::Compare => "marlin-compare",
                MarlinAction::Scale => "marlin-scale",
                _ => "marlin-ablation",
            };
            let Some((config, c)) = configure::<Params>(DEFAULTS, name, shared)? else {
                return Ok(());
            };
            let section = c.compare.clone();
            return match action {
                MarlinAction::Compare => marlin_compare::compare(&c, &section, &config, shared),
                MarlinAction::Scale => marlin_compare::scale(&c, &section, &config, shared),
                _ => marlin_compare::ablation(&c, &section, &config, shared),
            };
        }
        MarlinAction::Eval { run: source } => {
            let (config, c) = config_of(source)?;
            if shared.print_config {
                print!("{}", config.to_toml_string());
                return Ok(());
            }
            return eval(source, config, c, shared);
        }
    };
    let scenario = load_scenario(&c)?;
    let device = c.torch.activate()?;
    let run = match &resume_dir {
        Some(dir) => Run::reopen(dir, shared)?,
        None => Run::start(experiment, &config, c.seed, shared)?,
    }
    .on_device(device);
    let (_, path) = within(run, |run| {
        let started = Instant::now();
        let jobs = Jobs {
            master_seed: c.seed,
            schemes: &c.schemes,
            seeds: c.seeds,
            folder: "",
            resume: resume_dir.is_some(),
        };
        let mut results = train_schemes(run, &jobs, &scenario, &c.marlin, device)?;
        let train_s = started.elapsed().as_secs_f64();
        score_discrete_event(&c, &scenario, &mut results)?;
        let mut summary = report(run, &scenario, &results, &c)?;
        summary["train_wall_s"] = serde_json::json!(train_s);
        Ok(summary)
    })?;
    print!("{}", std::fs::read_to_string(path.join("marlin.md"))?);
    println!("{}", path.display());
    Ok(())
}

/// Re-scores a finished training run's final plans into a new run directory.
fn eval(source: &Path, config: Layered, c: Checked, shared: &SharedArgs) -> anyhow::Result<()> {
    let scenario = load_scenario(&c)?;
    let device = c.torch.activate()?;
    let mut results = Vec::new();
    for &scheme in &c.schemes {
        for k in 0..c.seeds {
            let dir = scheme_dir(&source.join(""), scheme, k);
            if !dir.join(MARLIN_CHECKPOINT).is_file() {
                bail!(
                    "{}: no checkpoint for {} seed {k}; train first",
                    dir.display(),
                    scheme.name()
                );
            }
            let mut m = Marlin::new(
                &scenario,
                c.marlin.clone(),
                scheme,
                run_seed(c.seed, k),
                device,
            )?;
            m.resume(&dir)?;
            if m.day() < c.marlin.params().days {
                bail!(
                    "{}: {} seed {k} stopped after day {} of {}; finish it with verdant marlin train --resume {}",
                    dir.display(),
                    scheme.name(),
                    m.day(),
                    c.marlin.params().days,
                    source.display()
                );
            }
            let o = m.outcome()?;
            results.push(SchemeResult {
                scheme,
                seed: k,
                plan: o.plan,
                fluid: o.objectives,
                discrete_event: None,
                archive: o.archive,
                log: o.log,
                predictor_accuracy: o.predictor_accuracy,
                wall_s: 0.0,
            });
        }
    }
    let run = Run::start("marlin-eval", &config, c.seed, shared)?.on_device(device);
    let source_name = source.display().to_string();
    let (_, path) = within(run, |run| {
        score_discrete_event(&c, &scenario, &mut results)?;
        let mut summary = report(run, &scenario, &results, &c)?;
        summary["trained_in"] = serde_json::json!(source_name);
        Ok(summary)
    })?;
    print!("{}", std::fs::read_to_string(path.join("marlin.md"))?);
    println!("{}", path.display());
    Ok(())
}
