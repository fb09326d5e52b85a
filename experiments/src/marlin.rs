//! `verdant marlin train|eval`: MARLIN's five schemes on a geo scenario (geo-8dc by default).
//!
//! `train` runs every (scheme, seed) in parallel, checkpointing after every day into
//! `schemes/<scheme>/seed-<k>/`, with the per-epoch log (`epochs.csv`) beside it; then scores
//! each final consensus plan with the fluid and discrete-event simulators and writes
//! `schemes.csv`, the archive of whole-day plans (`archive.csv`), its non-dominated front with
//! PHV (`front.csv`), `marlin.md` and plots. `--resume RUN_DIR` continues an interrupted run.
//! `eval RUN_DIR` re-scores a finished run's final plans into a new run directory.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use rayon::prelude::*;
use verdant::allocator::rules::Even;
use verdant::allocator::{Allocator, Problem};
use verdant::config::Layered;
use verdant::pareto::{hypervolume, nondominated, ReferencePoint};
use verdant::sim::{FractionPlan, Objective, Objectives, SimParams};
use verdant_agents::marlin::{EpochLog, Marlin, Scheme, MARLIN_CHECKPOINT};

use crate::cli::{MarlinAction, SharedArgs};
use crate::plots::{bar_chart, line_chart, BarGroup, Chart, Series};
use crate::reports::{objective_fields, OBJECTIVE_COLUMNS};
use crate::run::{configure, configure_from_run, within, Days, Run};
use crate::scoring;
use crate::stats::{mean_ci, plus_minus};
use crate::training::marlin::{
    run_seed, scheme_dir, train_schemes, Jobs, MarlinChecked, MarlinDoc, TrainedScheme, DEFAULTS,
};

/// One scored (scheme, seed): its final consensus plan's objectives and its archive's.
struct SchemeResult {
    scheme: Scheme,
    seed: u32,
    plan: FractionPlan,
    fluid: Objectives,
    discrete_event: Option<Objectives>,
    /// (day, source, objectives) of every archived whole-day plan.
    archive: Vec<(usize, String, Objectives)>,
    log: Vec<EpochLog>,
    predictor_accuracy: f64,
    predictor_season: usize,
    wall_s: f64,
}

/// Scores a trained scheme: its plan for the scoring days (the deployed consensus on held-out
/// days, else the last training day's consensus) on `problem`, its archive of training-day plans
/// on `training`.
fn score(training: &Problem, problem: &Problem, t: TrainedScheme) -> anyhow::Result<SchemeResult> {
    let mut p = t.policy;
    let mut on_training = training.fluid();
    let archive = p
        .archive
        .iter()
        .map(|a| {
            let o = on_training.score(&a.plan)?.objectives();
            Ok((a.day, a.source.clone(), o))
        })
        .collect::<anyhow::Result<_>>()?;
    let plan = p.allocate(problem)?;
    Ok(SchemeResult {
        scheme: t.scheme,
        seed: t.seed,
        fluid: problem.fluid().score(&plan)?.objectives(),
        plan,
        discrete_event: None,
        archive,
        log: p.log,
        predictor_accuracy: p.predictor_accuracy,
        predictor_season: p.predictor_season,
        wall_s: t.wall_s,
    })
}

/// Writes the tables, the archive with its front and PHV, and the plots; returns the summary.
fn report(
    run: &Run,
    problem: &Problem,
    days: &Days,
    results: &[SchemeResult],
    c: &MarlinChecked,
) -> anyhow::Result<serde_json::Value> {
    let scenario = problem.scenario;
    let dir = run.dir();
    let mut csv = format!("scheme,seed,fidelity,{OBJECTIVE_COLUMNS},predictor_accuracy,wall_s\n");
    for r in results {
        for (fidelity, o) in [
            ("fluid", Some(&r.fluid)),
            ("discrete-event", r.discrete_event.as_ref()),
        ] {
            if let Some(o) = o {
                writeln!(
                    csv,
                    "{},{},{fidelity},{},{},{}",
                    r.scheme.name(),
                    r.seed,
                    objective_fields(o),
                    r.predictor_accuracy,
                    r.wall_s
                )?;
            }
        }
    }
    dir.write("schemes.csv", csv.as_bytes())?;
    // Archive: every whole-day plan of every scheme, seed and day.
    let mut archive_csv = format!("scheme,seed,day,source,{OBJECTIVE_COLUMNS}\n");
    let mut points: Vec<f64> = Vec::new();
    for r in results {
        for (day, source, objectives) in &r.archive {
            let o = objectives.compared();
            writeln!(
                archive_csv,
                "{},{},{day},{source},{}",
                r.scheme.name(),
                r.seed,
                objective_fields(objectives)
            )?;
            if o.iter().all(|v| v.is_finite()) {
                points.extend_from_slice(o.as_slice());
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
    let even = problem
        .fluid()
        .score(&Even.allocate(problem)?)?
        .objectives();
    let mut md = format!(
        "# MARLIN on `{}` ({} days of training, k_opt {}, {} seed(s) per scheme)\n\n{}\n\nEach scheme's consensus plan scored by the fluid simulator{}; mean ± 95% CI over seeds.\n\n| Scheme | TTFT (s) | Carbon (kg) | Water (L) | Energy cost (USD) | Energy (kWh) |\n|---|---|---|---|---|---|\n",
        scenario.name,
        c.marlin.params().days,
        c.marlin.params().k_opt,
        c.seeds,
        days.note(),
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
    let season = results.first().map_or(0, |r| r.predictor_season);
    writeln!(
        md,
        "\nArchive (training days, scored on them): {} whole-horizon plans, {} non-dominated; PHV {:.6e} (reference: worst observed per objective). Workload predictor on the training days (season {season} epochs): accuracy (1 - MAPE, one epoch ahead) {:.1}%; on held-out days see `verdant forecast`.",
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
        "predictor_season": season,
        "trained_on": days.training().name,
        "scored_on": days.scoring.name,
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
    c: &MarlinChecked,
) -> anyhow::Result<()> {
    // Each scheme's objectives relative to the even split (mean over seeds).
    let names: Vec<String> = c.schemes.iter().map(|s| s.name().to_owned()).collect();
    let groups: Vec<BarGroup> = Objective::ALL
        .iter()
        .map(|&objective| BarGroup {
            name: objective.label().to_owned(),
            values: c
                .schemes
                .iter()
                .map(|s| {
                    let v: Vec<f64> = results
                        .iter()
                        .filter(|r| r.scheme == *s)
                        .map(|r| r.fluid.get(objective) / even.get(objective).abs().max(1e-12))
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

fn config_of(run_dir: &Path) -> anyhow::Result<(Layered, MarlinChecked)> {
    configure_from_run::<MarlinDoc>(run_dir, "marlin")
}

/// Scores the final plans with the discrete-event simulator where configured.
fn score_discrete_event(
    c: &MarlinChecked,
    problem: &Problem,
    results: &mut [SchemeResult],
) -> anyhow::Result<()> {
    if !c.discrete_event {
        return Ok(());
    }
    if scoring::has_nodes(problem) {
        scoring::check_discrete_event_memory(
            problem.scenario,
            problem.scenario.one_node_fraction(),
            results.len().min(rayon::current_num_threads()),
        )?;
    }
    let scored: Vec<anyhow::Result<Objectives>> = results
        .par_iter()
        .map(|r| scoring::discrete_event(problem, &r.plan, run_seed(c.seed, r.seed)))
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
            let Some((config, c)) = configure::<MarlinDoc>(DEFAULTS, "marlin", shared)? else {
                return Ok(());
            };
            (config, c, None, "marlin")
        }
        MarlinAction::Compare | MarlinAction::Scale | MarlinAction::Ablation => {
            unreachable!("main dispatches marlin compare|scale|ablation to marlin_compare")
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
    let days = Days::load(&c.scenario, c.seed)?;
    let (training, problem) = days.problems(SimParams::default())?;
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
        let trained = train_schemes(run, &jobs, &training, &c.marlin, device)?;
        let train_s = started.elapsed().as_secs_f64();
        let mut results = trained
            .into_iter()
            .map(|t| score(&training, &problem, t))
            .collect::<anyhow::Result<Vec<_>>>()?;
        score_discrete_event(&c, &problem, &mut results)?;
        let mut summary = report(run, &problem, &days, &results, &c)?;
        summary["train_wall_s"] = serde_json::json!(train_s);
        Ok(summary)
    })?;
    print!("{}", std::fs::read_to_string(path.join("marlin.md"))?);
    println!("{}", path.display());
    Ok(())
}

/// Re-scores a finished training run's final plans into a new run directory.
fn eval(
    source: &Path,
    config: Layered,
    c: MarlinChecked,
    shared: &SharedArgs,
) -> anyhow::Result<()> {
    let days = Days::load(&c.scenario, c.seed)?;
    let (training, problem) = days.problems(SimParams::default())?;
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
                &training,
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
            let trained = TrainedScheme {
                scheme,
                seed: k,
                policy: m.into_policy(),
                wall_s: 0.0,
            };
            results.push(score(&training, &problem, trained)?);
        }
    }
    let run = Run::start("marlin-eval", &config, c.seed, shared)?.on_device(device);
    let source_name = source.display().to_string();
    let (_, path) = within(run, |run| {
        score_discrete_event(&c, &problem, &mut results)?;
        let mut summary = report(run, &problem, &days, &results, &c)?;
        summary["trained_in"] = serde_json::json!(source_name);
        Ok(summary)
    })?;
    print!("{}", std::fs::read_to_string(path.join("marlin.md"))?);
    println!("{}", path.display());
    Ok(())
}
