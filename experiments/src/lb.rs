//! `verdant lb train|eval|table`: the single-agent RL load balancer against six rule baselines.
//!
//! - `train` trains every configured algorithm for every seed (in parallel), checkpointing into
//!   `agents/<algorithm>/seed-<k>/`, and writes the learning curves; `--resume RUN_DIR` continues
//!   an interrupted training run exactly where its checkpoints stopped.
//! - `eval RUN_DIR` evaluates a training run's agents (greedy) and the baselines on the held-out
//!   tail, seed by seed, and writes the tables and plots into a new run directory.
//! - `table` does both in one run directory.
//! - `geo` trains the agents on a geo scenario's routing (each datacenter a server) and scores
//!   their plans, the baselines' and the simple rules' with the fluid simulator.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use serde::Serialize;
use tch::Device;
use verdant::allocator::rules::{Even, Nearest};
use verdant::allocator::{Allocator, Problem};
use verdant::config::Layered;
use verdant::lb::{baseline, EpisodeMetrics, LbEnv, LbEnvConfig, LbPolicy, LbWorkload, BASELINES};
use verdant::scenario::lb::LbScenario;
use verdant::sim::{Objectives, SimParams};
use verdant_agents::lb::{Algorithm, LbTrainer, CHECKPOINT_FILE};

use crate::cli::{LbAction, SharedArgs};
use crate::plots::{bar_chart, line_chart, BarGroup, Chart, Series};
use crate::reports::{objective_fields, OBJECTIVE_COLUMNS};
use crate::run::{configure, configure_from_run, resolve_scenario, within, Days, Run};
use crate::stats::{distinct, mean_std, plus_minus};
use crate::training::lb::{
    agent_dir, job_seed, train_all, train_geo, LbChecked, LbDoc, TrainSummary, Trained,
    TrainingTarget, DEFAULTS,
};

/// The scenario with its workloads.
struct World {
    scenario: LbScenario,
    train: Arc<LbWorkload>,
    eval: Arc<LbWorkload>,
    env: LbEnvConfig,
}

fn load_world(c: &LbChecked) -> anyhow::Result<World> {
    let path = resolve_scenario(&c.scenario)?;
    let scenario = LbScenario::load(&path, &c.scenario_set)?;
    if scenario.eval.is_empty() {
        bail!(
            "scenario {}: the held-out tail is empty (trace.eval_tail_fraction too small)",
            scenario.name
        );
    }
    let (train, eval) = LbWorkload::split(&scenario);
    let env = LbEnvConfig::from_scenario(&scenario);
    Ok(World {
        scenario,
        train: Arc::new(train),
        eval: Arc::new(eval),
        env,
    })
}

impl World {
    fn target(&self) -> TrainingTarget {
        TrainingTarget {
            name: self.scenario.name.clone(),
            workload: self.train.clone(),
            env: self.env.clone(),
            folder: "agents",
        }
    }
}

/// One agent's evaluation on one seed.
struct Evaluation {
    agent: String,
    seed: u32,
    metrics: EpisodeMetrics,
    response_times_s: Vec<f64>,
    /// (time s, tokens in flight per server) at evenly spaced decisions.
    load: Vec<(f64, Vec<f64>)>,
}

fn evaluate_policy(
    world: &World,
    policy: &mut dyn LbPolicy,
    agent: &str,
    seed: u32,
    episode_seed: u64,
    samples: usize,
) -> Evaluation {
    let mut env = LbEnv::new(world.eval.clone(), world.env.clone());
    env.reset(episode_seed);
    policy.reset(episode_seed);
    let every = (env.episode_len() / samples).max(1);
    let mut load = Vec::with_capacity(samples + 1);
    while !env.is_done() {
        let a = policy.choose(&env);
        env.step(a);
        if env.routed() % every == 0 {
            let loads = (0..env.server_count())
                .map(|i| env.tokens_in_flight(i))
                .collect();
            load.push((env.now_s(), loads));
        }
    }
    Evaluation {
        agent: agent.to_owned(),
        seed,
        metrics: EpisodeMetrics::of(&env),
        response_times_s: EpisodeMetrics::response_times_s(&env).to_vec(),
        load,
    }
}

/// Evaluates the trained agents and every baseline, seed by seed.
fn evaluate_all(c: &LbChecked, world: &World, trained: &[Trained]) -> Vec<Evaluation> {
    let mut out = Vec::new();
    for t in trained {
        let mut policy = t.trainer.greedy();
        out.push(evaluate_policy(
            world,
            &mut policy,
            t.algorithm.name(),
            t.seed,
            job_seed(c.seed, t.seed).derive("lb.eval"),
            c.load_samples,
        ));
    }
    for name in BASELINES {
        for k in 0..c.seeds {
            let mut policy = baseline(name).expect("listed baseline");
            out.push(evaluate_policy(
                world,
                policy.as_mut(),
                name,
                k,
                job_seed(c.seed, k).derive("lb.eval"),
                c.load_samples,
            ));
        }
    }
    out
}

/// One aggregated table row (mean and sample std over seeds).
#[derive(Debug, Serialize)]
struct TableRow {
    agent: String,
    seeds: usize,
    cumulative_reward: (f64, f64),
    mean_response_s: (f64, f64),
    p95_response_s: (f64, f64),
    p99_response_s: (f64, f64),
    mean_queue_length: (f64, f64),
    slo_violation_pct: (f64, f64),
    dropped: (f64, f64),
}

fn aggregate(evals: &[Evaluation]) -> Vec<TableRow> {
    distinct(evals.iter().map(|e| e.agent.as_str()))
        .into_iter()
        .map(|agent| {
            let rows: Vec<&EpisodeMetrics> = evals
                .iter()
                .filter(|e| e.agent == agent)
                .map(|e| &e.metrics)
                .collect();
            let stat = |f: &dyn Fn(&EpisodeMetrics) -> f64| {
                mean_std(&rows.iter().map(|m| f(m)).collect::<Vec<_>>())
            };
            TableRow {
                agent: agent.to_owned(),
                seeds: rows.len(),
                cumulative_reward: stat(&|m| m.cumulative_reward),
                mean_response_s: stat(&|m| m.mean_response_s),
                p95_response_s: stat(&|m| m.p95_response_s),
                p99_response_s: stat(&|m| m.p99_response_s),
                mean_queue_length: stat(&|m| m.mean_queue_length),
                slo_violation_pct: stat(&|m| m.slo_violation_pct),
                dropped: stat(&|m| m.dropped as f64),
            }
        })
        .collect()
}

/// The markdown report: the table in the shape of the paper's Tables I/II and the comparison
/// with the strongest baseline.
fn markdown(world: &World, rows: &[TableRow]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Load balancing on `{}` (held-out tail: {} requests)\n",
        world.scenario.name,
        world.eval.len()
    );
    let _ = writeln!(
        md,
        "Mean ± sample std over seeds; deterministic evaluation. SLO {} s; dropped requests count as violations.\n",
        world.scenario.slo_s
    );
    md.push_str("| Agent | Cumulative reward | Mean response (s) | p95 (s) | p99 (s) | Mean queue length | SLO violations (%) | Dropped |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.agent,
            plus_minus(r.cumulative_reward, 1),
            plus_minus(r.mean_response_s, 3),
            plus_minus(r.p95_response_s, 3),
            plus_minus(r.p99_response_s, 3),
            plus_minus(r.mean_queue_length, 3),
            plus_minus(r.slo_violation_pct, 2),
            plus_minus(r.dropped, 1),
        );
    }
    if let Some(sed) = rows.iter().find(|r| r.agent == "shortest-expected-delay") {
        md.push_str("\n## Against the strongest baseline (shortest expected delay)\n\n");
        for r in rows
            .iter()
            .filter(|r| Algorithm::ALL.iter().any(|a| a.name() == r.agent))
        {
            let rel = |a: f64, b: f64| 100.0 * (a - b) / b.abs().max(1e-12);
            let _ = writeln!(
                md,
                "- {}: mean response {:+.1}% , p99 {:+.1}%, SLO violations {:.2} vs {:.2} points, cumulative reward {:+.1}% relative to shortest expected delay.",
                r.agent,
                rel(r.mean_response_s.0, sed.mean_response_s.0),
                rel(r.p99_response_s.0, sed.p99_response_s.0),
                r.slo_violation_pct.0,
                sed.slo_violation_pct.0,
                rel(r.cumulative_reward.0, sed.cumulative_reward.0),
            );
        }
    }
    md
}

fn write_evaluation(
    run: &Run,
    world: &World,
    evals: &[Evaluation],
) -> anyhow::Result<Vec<TableRow>> {
    let dir = run.dir();
    let mut csv = String::from(
        "agent,seed,requests,served,dropped,cumulative_reward,mean_response_s,p50_response_s,p95_response_s,p99_response_s,mean_queue_length,slo_violation_pct,duration_s\n",
    );
    let mut per_server =
        String::from("agent,seed,server,served,slo_violations,dropped,utilisation,tokens\n");
    for e in evals {
        let m = &e.metrics;
        writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            e.agent,
            e.seed,
            m.requests,
            m.served,
            m.dropped,
            m.cumulative_reward,
            m.mean_response_s,
            m.p50_response_s,
            m.p95_response_s,
            m.p99_response_s,
            m.mean_queue_length,
            m.slo_violation_pct,
            m.duration_s
        )?;
        for s in &m.per_server {
            writeln!(
                per_server,
                "{},{},{},{},{},{},{},{}",
                e.agent,
                e.seed,
                s.name,
                s.served,
                s.slo_violations,
                s.dropped,
                s.utilisation,
                s.tokens
            )?;
        }
    }
    dir.write("evaluation.csv", csv.as_bytes())?;
    dir.write("per_server.csv", per_server.as_bytes())?;
    let rows = aggregate(evals);
    let md = markdown(world, &rows);
    dir.write("table.md", md.as_bytes())?;
    plots(dir.path(), world, evals)?;
    Ok(rows)
}

fn plots(dir: &Path, world: &World, evals: &[Evaluation]) -> anyhow::Result<()> {
    let first: Vec<&Evaluation> = evals.iter().filter(|e| e.seed == 0).collect();
    // Response-time distributions: the empirical CDF of each agent's first seed.
    let cdf: Vec<Series> = first
        .iter()
        .map(|e| {
            let mut v = e.response_times_s.clone();
            v.sort_by(f64::total_cmp);
            let n = v.len().max(1);
            let step = (n / 200).max(1);
            let points = v
                .iter()
                .enumerate()
                .filter(|(i, _)| i % step == 0 || *i + 1 == n)
                .map(|(i, &x)| (x, (i + 1) as f64 / n as f64))
                .collect();
            Series {
                name: e.agent.clone(),
                points,
            }
        })
        .collect();
    line_chart(
        dir,
        "response_time_cdf",
        &Chart {
            title: "Response-time distribution (seed 0)",
            x_label: "response time (s)",
            y_label: "fraction of requests",
        },
        &cdf,
    )?;
    // Per-server load over time for each learned agent and the strongest baseline.
    for e in first.iter().filter(|e| {
        e.agent == "shortest-expected-delay" || Algorithm::ALL.iter().any(|a| a.name() == e.agent)
    }) {
        let series: Vec<Series> = world
            .scenario
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| Series {
                name: s.name.clone(),
                points: e.load.iter().map(|(t, l)| (*t, l[i] / 1000.0)).collect(),
            })
            .collect();
        line_chart(
            dir,
            &format!("load_over_time_{}", e.agent),
            &Chart {
                title: &format!("Tokens in flight per server: {} (seed 0)", e.agent),
                x_label: "time (s)",
                y_label: "thousand tokens in flight",
            },
            &series,
        )?;
    }
    // SLO violations per server, mean over seeds.
    let agents = distinct(evals.iter().map(|e| e.agent.clone()));
    let groups: Vec<BarGroup> = world
        .scenario
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| BarGroup {
            name: s.name.clone(),
            values: agents
                .iter()
                .map(|a| {
                    let v: Vec<f64> = evals
                        .iter()
                        .filter(|e| &e.agent == a)
                        .map(|e| {
                            let p = &e.metrics.per_server[i];
                            (p.slo_violations + p.dropped) as f64
                        })
                        .collect();
                    mean_std(&v).0
                })
                .collect(),
        })
        .collect();
    let labels: Vec<String> = agents.iter().map(|a| short_name(a).to_owned()).collect();
    bar_chart(
        dir,
        "slo_violations_per_server",
        &Chart {
            title: "SLO violations per server (mean over seeds, drops included)",
            x_label: "agent (RR round robin, LC least connections, LL least loaded, NLL normalised LL, SED shortest expected delay)",
            y_label: "requests over the SLO",
        },
        &labels,
        &groups,
    )
}

/// Short agent names for crowded axes.
fn short_name(agent: &str) -> &str {
    match agent {
        "round-robin" => "RR",
        "least-connections" => "LC",
        "least-loaded" => "LL",
        "normalised-least-loaded" => "NLL",
        "shortest-expected-delay" => "SED",
        other => other,
    }
}

#[derive(Debug, Serialize)]
struct EvalSummary {
    scenario: String,
    eval_requests: usize,
    table: Vec<TableRow>,
}

fn summarise(world: &World, rows: Vec<TableRow>) -> EvalSummary {
    EvalSummary {
        scenario: world.scenario.name.clone(),
        eval_requests: world.eval.len(),
        table: rows,
    }
}

/// Reads a run directory's resolved configuration.
fn config_of(run_dir: &Path) -> anyhow::Result<(Layered, LbChecked)> {
    configure_from_run::<LbDoc>(run_dir, "lb")
}

/// Rebuilds a training run's agents from their final checkpoints.
fn load_trained(
    run_dir: &Path,
    c: &LbChecked,
    world: &World,
    device: Device,
) -> anyhow::Result<Vec<Trained>> {
    let mut out = Vec::new();
    for &algorithm in &c.algorithms {
        for k in 0..c.seeds {
            let dir = agent_dir(run_dir, "agents", algorithm, k);
            if !dir.join(CHECKPOINT_FILE).is_file() {
                bail!(
                    "{}: no checkpoint for {} seed {k}; train first (verdant lb train, or --resume)",
                    dir.display(),
                    algorithm.name()
                );
            }
            let mut trainer = LbTrainer::new(
                c.agent.with_algorithm(algorithm),
                world.train.clone(),
                world.env.clone(),
                job_seed(c.seed, k),
                device,
            )?;
            trainer.resume(&dir)?;
            if trainer.steps() < c.agent.params().total_steps {
                bail!(
                    "{}: {} seed {k} stopped at {} of {} steps; finish it with verdant lb train --resume {}",
                    dir.display(),
                    algorithm.name(),
                    trainer.steps(),
                    c.agent.params().total_steps,
                    run_dir.display()
                );
            }
            out.push(Trained {
                algorithm,
                seed: k,
                trainer,
                steps_per_s: 0.0,
            });
        }
    }
    Ok(out)
}

pub fn run(action: &LbAction, shared: &SharedArgs) -> anyhow::Result<()> {
    match action {
        LbAction::Train { resume: Some(dir) } => {
            let (_, c) = config_of(dir)?;
            let world = load_world(&c)?;
            let device = c.torch.activate()?;
            let run = Run::reopen(dir, shared)?.on_device(device);
            let (summary, path) = within(run, |run| {
                let (_, summary) = train_all(run, &c, &world.target(), device, true)?;
                Ok(summary)
            })?;
            report_training(&summary, &path);
            Ok(())
        }
        LbAction::Train { resume: None } => {
            let Some((config, c)) = configure::<LbDoc>(DEFAULTS, "lb-train", shared)? else {
                return Ok(());
            };
            let world = load_world(&c)?;
            let device = c.torch.activate()?;
            let run = Run::start("lb-train", &config, c.seed, shared)?.on_device(device);
            let (summary, path) = within(run, |run| {
                let (_, summary) = train_all(run, &c, &world.target(), device, false)?;
                Ok(summary)
            })?;
            report_training(&summary, &path);
            Ok(())
        }
        LbAction::Eval { run: source } => {
            let (config, c) = config_of(source)?;
            if shared.print_config {
                print!("{}", config.to_toml_string());
                return Ok(());
            }
            let world = load_world(&c)?;
            let device = c.torch.activate()?;
            let trained = load_trained(source, &c, &world, device)?;
            let run = Run::start("lb-eval", &config, c.seed, shared)?.on_device(device);
            let source = source.display().to_string();
            let (summary, path) = within(run, |run| {
                let evals = evaluate_all(&c, &world, &trained);
                let rows = write_evaluation(run, &world, &evals)?;
                Ok(
                    serde_json::json!({ "trained_in": source, "evaluation": summarise(&world, rows) }),
                )
            })?;
            let _ = summary;
            print_table(&path)?;
            Ok(())
        }
        LbAction::Geo => {
            let Some((config, c)) = configure::<LbDoc>(DEFAULTS, "lb-geo", shared)? else {
                return Ok(());
            };
            // The world first: a scenario that does not load or no plan can serve makes no run.
            let days = Days::load(&c.geo.scenario, c.seed)?;
            days.problems(SimParams::default())?;
            let device = c.torch.activate()?;
            let run = Run::start("lb-geo", &config, c.seed, shared)?.on_device(device);
            let (_, path) = within(run, |run| geo(run, &c, &days, device))?;
            println!("{}", path.display());
            Ok(())
        }
        LbAction::Table => {
            let Some((config, c)) = configure::<LbDoc>(DEFAULTS, "lb", shared)? else {
                return Ok(());
            };
            let world = load_world(&c)?;
            let device = c.torch.activate()?;
            let run = Run::start("lb", &config, c.seed, shared)?.on_device(device);
            let (_, path) = within(run, |run| {
                let (trained, training) = train_all(run, &c, &world.target(), device, false)?;
                let evals = evaluate_all(&c, &world, &trained);
                let rows = write_evaluation(run, &world, &evals)?;
                Ok(
                    serde_json::json!({ "training": training, "evaluation": summarise(&world, rows) }),
                )
            })?;
            print_table(&path)?;
            Ok(())
        }
    }
}

/// One geo-mode method's plan, scored.
#[derive(Debug, Serialize)]
struct GeoRow {
    method: String,
    seed: u32,
    objectives: Objectives,
    /// The routing episode's mean response time in the load balancer's own model, seconds.
    lb_mean_response_s: f64,
    lb_slo_violation_pct: f64,
}

fn geo(run: &Run, c: &LbChecked, days: &Days, device: Device) -> anyhow::Result<serde_json::Value> {
    let scenario = &days.scoring;
    let problem = Problem::new(scenario, SimParams::default());
    let geo = train_geo(run, c, days, device, false)?;
    let routing = &geo.evaluation;
    let share = (c.geo.requests / days.training().demand.total_requests()).min(1.0);
    let mut servers = String::from("datacenter,tokens_per_s,concurrency\n");
    for s in &routing.config.servers {
        writeln!(servers, "{},{},{}", s.name, s.tokens_per_s, s.concurrency)?;
    }
    run.dir().write("geo_servers.csv", servers.as_bytes())?;
    let mut fluid = problem.fluid();
    let mut rows = Vec::new();
    for (seed, mut router) in geo.routers(|_| true) {
        let plan = router.allocate(&problem)?;
        let episode = router.episode.as_ref();
        rows.push(GeoRow {
            method: router.name().to_owned(),
            seed,
            objectives: fluid.score(&plan)?.objectives(),
            lb_mean_response_s: episode.map_or(f64::NAN, |m| m.mean_response_s),
            lb_slo_violation_pct: episode.map_or(f64::NAN, |m| m.slo_violation_pct),
        });
    }
    for mut rule in [Box::new(Even) as Box<dyn Allocator>, Box::new(Nearest)] {
        let plan = rule.allocate(&problem)?;
        rows.push(GeoRow {
            method: rule.name().to_owned(),
            seed: 0,
            objectives: fluid.score(&plan)?.objectives(),
            lb_mean_response_s: f64::NAN,
            lb_slo_violation_pct: f64::NAN,
        });
    }
    let mut csv =
        format!("method,seed,{OBJECTIVE_COLUMNS},lb_mean_response_s,lb_slo_violation_pct\n");
    for r in &rows {
        writeln!(
            csv,
            "{},{},{},{},{}",
            r.method,
            r.seed,
            objective_fields(&r.objectives),
            r.lb_mean_response_s,
            r.lb_slo_violation_pct
        )?;
    }
    run.dir().write("geo_objectives.csv", csv.as_bytes())?;
    let methods = distinct(rows.iter().map(|r| r.method.as_str()));
    let mut md = format!(
        "# Geo mode on `{}`: the load balancer's routing as a plan\n\n{}\n\n{} requests drawn at node share {:.3e}; fluid simulator; mean ± std over seeds.\n\n| Method | TTFT (s) | Carbon (kg) | Water (L) | Cost (USD) | Energy (kWh) | LB mean response (s) |\n|---|---|---|---|---|---|---|\n",
        scenario.name,
        days.note(),
        routing.workload.len(),
        share
    );
    for m in &methods {
        let of = |f: &dyn Fn(&GeoRow) -> f64| {
            mean_std(
                &rows
                    .iter()
                    .filter(|r| r.method == *m)
                    .map(f)
                    .collect::<Vec<_>>(),
            )
        };
        writeln!(
            md,
            "| {m} | {} | {} | {} | {} | {} | {} |",
            plus_minus(of(&|r| r.objectives.ttft_s), 3),
            plus_minus(of(&|r| r.objectives.carbon_kg), 0),
            plus_minus(of(&|r| r.objectives.water_l), 0),
            plus_minus(of(&|r| r.objectives.cost_usd), 0),
            plus_minus(of(&|r| r.objectives.energy_kwh), 0),
            plus_minus(of(&|r| r.lb_mean_response_s), 3),
        )?;
    }
    run.dir().write("geo.md", md.as_bytes())?;
    println!("{md}");
    Ok(
        serde_json::json!({ "training": geo.summary, "node_share": share, "requests": routing.workload.len(), "rows": rows }),
    )
}

fn report_training(summary: &TrainSummary, path: &Path) {
    println!(
        "trained {} jobs of {} steps on {} in {:.1} s",
        summary.jobs, summary.steps_per_job, summary.device, summary.wall_s
    );
    for (a, r) in &summary.steps_per_s {
        println!("  {a}: {r:.0} environment steps/s per job");
    }
    println!("{}", path.display());
}

fn print_table(path: &Path) -> anyhow::Result<()> {
    let md = std::fs::read_to_string(path.join("table.md"))
        .with_context(|| format!("reading {}", path.join("table.md").display()))?;
    println!("{md}");
    println!("{}", path.display());
    Ok(())
}
