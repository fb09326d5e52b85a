//! `verdant validate`: the two fidelities side by side over load, and both against queueing
//! theory (docs/validation.md).
//!
//! For every scenario, load (a multiple of the scenario's nominal demand) and plan: the fluid
//! outcome, and `samples` discrete-event runs (each with its own requests) summarised as mean
//! and 95% confidence interval. Writes `fidelities.csv` (one row per scenario, load, plan and
//! metric, with the relative difference), `analytic.csv`, `report.md` (agreement against the
//! configured targets, ranking agreement, continuity of the fluid TTFT in load, and why the
//! fidelities differ where they do) and one plot per scenario and metric against load.

use std::fmt::Write as _;

use anyhow::Context;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use verdant::allocator::rules::{Even, Greedy, GreedyKey, Nearest};
use verdant::allocator::{Allocator, Problem};
use verdant::config::{key, ConfigError, Validate};
use verdant::scenario::{Scaled, Scenario};
use verdant::seed::MasterSeed;
use verdant::sim::analytic::{
    mg1_wait_checks, mixed_wait_checks, round_robin_wait_checks, saturation_check, AnalyticCheck,
};
use verdant::sim::queue::GroupIdle;
use verdant::sim::Outcome;

use crate::cli::SharedArgs;
use crate::plots::{line_chart, Chart, Series};
use crate::run::{configure, configure_from_run, resolve_scenario, within, Run};
use crate::scoring::{check_discrete_event_memory, SimSection, SimSettings};
use crate::stats::mean_ci;

pub const NAME: &str = "validate";
pub const DEFAULTS: &str = include_str!("../configs/validate.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Rule {
    Even,
    Nearest,
    GreedyCarbon,
    GreedyPrice,
}

impl Rule {
    fn allocator(self) -> Box<dyn Allocator> {
        match self {
            Rule::Even => Box::new(Even),
            Rule::Nearest => Box::new(Nearest),
            Rule::GreedyCarbon => Box::new(Greedy(GreedyKey::Carbon)),
            Rule::GreedyPrice => Box::new(Greedy(GreedyKey::Price)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Rule::Even => "even",
            Rule::Nearest => "nearest",
            Rule::GreedyCarbon => "greedy-carbon",
            Rule::GreedyPrice => "greedy-price",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Agreement {
    up_to_load: f64,
    accounting: f64,
    mean_ttft: f64,
    p95_ttft: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AnalyticSection {
    loads: Vec<f64>,
    requests: usize,
    saturation_load: f64,
    round_robin_nodes: u32,
    tolerance: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateParams {
    seed: u64,
    scenarios: Vec<String>,
    loads: Vec<f64>,
    plans: Vec<Rule>,
    samples: usize,
    continuity_step: f64,
    sim: SimSection,
    agreement: Agreement,
    analytic: AnalyticSection,
}

/// The checked configuration.
struct Checked {
    seed: u64,
    scenarios: Vec<String>,
    loads: Vec<f64>,
    plans: Vec<Rule>,
    samples: usize,
    continuity_step: f64,
    sim: SimSettings,
    agreement: Agreement,
    analytic: AnalyticSection,
}

impl Validate for ValidateParams {
    type Checked = Checked;
    fn validate(self, prefix: &str) -> Result<Checked, ConfigError> {
        let invalid = |k: &str, why: String| ConfigError::invalid(key(prefix, k), why);
        if self.scenarios.is_empty() {
            return Err(invalid("scenarios", "name at least one scenario".into()));
        }
        if self.loads.is_empty() || self.loads.iter().any(|&x| !(x.is_finite() && x > 0.0)) {
            return Err(invalid(
                "loads",
                format!(
                    "must be a non-empty list of numbers > 0, got {:?}",
                    self.loads
                ),
            ));
        }
        if self.plans.is_empty() {
            return Err(invalid("plans", "name at least one plan".into()));
        }
        if self.samples == 0 {
            return Err(invalid("samples", "must be at least 1".into()));
        }
        if !(self.continuity_step.is_finite() && self.continuity_step > 0.0) {
            return Err(invalid(
                "continuity_step",
                format!("must be a number > 0, got {}", self.continuity_step),
            ));
        }
        let a = &self.agreement;
        for (k, v) in [
            ("agreement.up_to_load", a.up_to_load),
            ("agreement.accounting", a.accounting),
            ("agreement.mean_ttft", a.mean_ttft),
            ("agreement.p95_ttft", a.p95_ttft),
            ("analytic.tolerance", self.analytic.tolerance),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(k, format!("must be a number > 0, got {v}")));
            }
        }
        if self.analytic.loads.iter().any(|&x| !(x > 0.0 && x < 1.0)) {
            return Err(invalid(
                "analytic.loads",
                format!("each must be in (0, 1), got {:?}", self.analytic.loads),
            ));
        }
        if !(self.analytic.saturation_load > 1.0 && self.analytic.saturation_load.is_finite()) {
            return Err(invalid(
                "analytic.saturation_load",
                format!("must be above 1, got {}", self.analytic.saturation_load),
            ));
        }
        if self.analytic.round_robin_nodes < 2 {
            return Err(invalid(
                "analytic.round_robin_nodes",
                format!(
                    "must be at least 2, got {}",
                    self.analytic.round_robin_nodes
                ),
            ));
        }
        if self.analytic.requests < 1000 {
            return Err(invalid("analytic.requests", "must be at least 1000".into()));
        }
        Ok(Checked {
            seed: self.seed,
            scenarios: self.scenarios,
            loads: self.loads,
            plans: self.plans,
            samples: self.samples,
            continuity_step: self.continuity_step,
            sim: self.sim.check(prefix)?,
            agreement: self.agreement,
            analytic: self.analytic,
        })
    }
}

/// The metrics compared, with their CSV names.
const METRICS: [&str; 10] = [
    "mean_ttft_s",
    "p50_ttft_s",
    "p95_ttft_s",
    "p99_ttft_s",
    "energy_kwh",
    "carbon_kg",
    "water_l",
    "cost_usd",
    "slo_violation_rate",
    "dropped_share",
];

/// Metrics of the accounting (the agreement target `accounting`).
const ACCOUNTING: [&str; 4] = ["energy_kwh", "carbon_kg", "water_l", "cost_usd"];

/// The folder of the run directory that keeps each finished discrete-event run.
const DES_FOLDER: &str = "discrete-event";

/// A discrete-event run's metrics kept by an earlier (interrupted) validation; `None` if it has
/// not finished. A file that is there but does not hold ten numbers is an error naming it.
fn read_cached(path: &std::path::Path) -> anyhow::Result<Option<[f64; 10]>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let values: Vec<f64> = text
        .lines()
        .enumerate()
        .map(|(n, line)| {
            line.trim().parse::<f64>().with_context(|| {
                format!("{}, line {}: not a number: {line:?}", path.display(), n + 1)
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let m: [f64; 10] = values.try_into().map_err(|v: Vec<f64>| {
        anyhow::anyhow!("{}: {} values, want 10", path.display(), v.len())
    })?;
    Ok(Some(m))
}

fn metrics(o: &Outcome, quantiles: [f64; 3]) -> [f64; 10] {
    let x = o.objectives();
    let l = &o.latency;
    let total = l.served + l.dropped;
    [
        x.ttft_s,
        quantiles[0],
        quantiles[1],
        quantiles[2],
        x.energy_kwh,
        x.carbon_kg,
        x.water_l,
        x.cost_usd,
        x.slo_violation_rate,
        if total > 0.0 { l.dropped / total } else { 0.0 },
    ]
}

/// One (scenario, load, plan) point.
#[derive(Debug, Clone)]
struct PointResult {
    scenario: String,
    load: f64,
    plan: Rule,
    fluid: [f64; 10],
    /// The fluid simulator's largest prefill utilisation of a datacenter's node pool.
    fluid_peak_prefill_utilisation: f64,
    /// Per discrete-event sample; empty where the scenario has no node pools.
    discrete_event: Vec<[f64; 10]>,
}

impl PointResult {
    /// Mean and 95% half-width of metric `m` over the discrete-event samples.
    fn des(&self, m: usize) -> Option<(f64, f64)> {
        if self.discrete_event.is_empty() {
            return None;
        }
        let v: Vec<f64> = self.discrete_event.iter().map(|x| x[m]).collect();
        Some(mean_ci(&v))
    }

    fn relative(&self, m: usize) -> Option<f64> {
        let (d, _) = self.des(m)?;
        let f = self.fluid[m];
        if d.abs() > 0.0 {
            Some((f - d) / d.abs())
        } else if f == 0.0 {
            Some(0.0)
        } else {
            None
        }
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    points: usize,
    discrete_event_runs: usize,
    analytic_checks_passed: bool,
    agreement_up_to_load: f64,
    points_agreeing: usize,
    points_compared: usize,
}

/// Checks a resolved configuration of this command (what [`crate::check_configuration`] reads).
pub(crate) fn check_config(config: &verdant::config::Layered) -> anyhow::Result<()> {
    config.checked::<ValidateParams>()?;
    Ok(())
}

pub fn run(resume: Option<&std::path::Path>, shared: &SharedArgs) -> anyhow::Result<()> {
    let (config, params) = match resume {
        Some(dir) => configure_from_run::<ValidateParams>(dir, NAME)?,
        None => match configure::<ValidateParams>(DEFAULTS, NAME, shared)? {
            Some(x) => x,
            None => return Ok(()),
        },
    };
    if resume.is_some() && shared.print_config {
        print!("{}", config.to_toml_string());
        return Ok(());
    }
    let mut scenarios = Vec::new();
    for name in &params.scenarios {
        let path = resolve_scenario(name)?;
        scenarios.push(Scenario::load(&path, MasterSeed(params.seed))?);
    }
    let run = match resume {
        Some(dir) => Run::reopen(dir, shared)?,
        None => Run::start(NAME, &config, params.seed, shared)?,
    };
    let (summary, dir) = within(run, |run| execute(&params, &scenarios, run))?;
    println!(
        "validate: {} points ({} discrete-event runs); analytic checks {}; {} of {} points agree up to load {}",
        summary.points,
        summary.discrete_event_runs,
        if summary.analytic_checks_passed { "pass" } else { "FAIL" },
        summary.points_agreeing,
        summary.points_compared,
        summary.agreement_up_to_load
    );
    println!("  run directory {}", dir.display());
    Ok(())
}

fn execute(p: &Checked, scenarios: &[Scenario], run: &mut Run) -> anyhow::Result<Summary> {
    // Every (scenario, load): the scaled world; every (world, plan): the plan, decided once.
    struct Job {
        scenario: usize,
        load: f64,
        plan: Rule,
        world: usize,
        fraction_plan: verdant::sim::FractionPlan,
    }
    let (mut worlds, mut jobs) = (Vec::new(), Vec::new());
    for (i, s) in scenarios.iter().enumerate() {
        for &load in &p.loads {
            let world = s
                .scaled(Scaled::Demand, load)
                .with_context(|| format!("scaling {}'s demand by {load}", s.name))?;
            for &plan in &p.plans {
                let fraction_plan = plan
                    .allocator()
                    .allocate(&Problem::new(&world, p.sim.params))
                    .with_context(|| {
                        format!("plan {} on {} at load {load}", plan.name(), s.name)
                    })?;
                jobs.push(Job {
                    scenario: i,
                    load,
                    plan,
                    world: worlds.len(),
                    fraction_plan,
                });
            }
            worlds.push(world);
        }
    }
    let has_nodes = |s: &Scenario| s.datacenters.iter().any(|d| !d.node_pools.is_empty());
    let runs: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| has_nodes(&worlds[j.world]))
        .flat_map(|(i, _)| (0..p.samples).map(move |k| (i, k)))
        .collect();
    // Each finished run is kept in discrete-event/run-<n>.txt (its ten metrics, one per line),
    // so that an interrupted validation resumes where it stopped.
    let cache = run.dir().file(DES_FOLDER);
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let bar = run.progress(runs.len() as u64, "discrete-event runs");
    for s in &worlds {
        let at_once = runs.len().min(rayon::current_num_threads());
        check_discrete_event_memory(s, p.sim.discrete_event(s).node_fraction, at_once)?;
    }
    let des: Vec<anyhow::Result<(usize, [f64; 10])>> = runs
        .par_iter()
        .enumerate()
        .map(|(n, &(i, k))| {
            let cached = cache.join(format!("run-{n}.txt"));
            if let Some(m) = read_cached(&cached)? {
                bar.inc(1);
                return Ok((i, m));
            }
            let j = &jobs[i];
            let s = &worlds[j.world];
            let params = p.sim.discrete_event(s);
            let stream = format!("validate.{}.{}.{}.{k}", s.name, j.load, j.plan.name());
            let (outcome, _) = Problem::new(s, params).discrete_event().simulate_plan(
                &j.fraction_plan,
                &mut MasterSeed(p.seed).rng(&stream),
                |_| {},
            )?;
            let l = &outcome.latency;
            let q = [l.p50_ttft_s, l.p95_ttft_s, l.p99_ttft_s].map(|x| x.unwrap_or(f64::NAN));
            let m = metrics(&outcome, q);
            let text: String = m.iter().map(|x| format!("{x:?}\n")).collect();
            verdant::run::write_atomic(&cached, text.as_bytes())?;
            bar.inc(1);
            Ok((i, m))
        })
        .collect();
    bar.finish_and_clear();
    let mut points: Vec<PointResult> = jobs
        .iter()
        .map(|j| -> anyhow::Result<PointResult> {
            let mut fluid = Problem::new(&worlds[j.world], p.sim.params).fluid();
            let outcome = fluid.score(&j.fraction_plan)?;
            let q = fluid.ttft_quantiles(&j.fraction_plan, &[0.5, 0.95, 0.99])?;
            Ok(PointResult {
                scenario: scenarios[j.scenario].name.clone(),
                load: j.load,
                plan: j.plan,
                fluid: metrics(&outcome, [q[0], q[1], q[2]]),
                fluid_peak_prefill_utilisation: fluid.peak_prefill_utilisation(),
                discrete_event: Vec::new(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    for r in des {
        let (i, m) = r?;
        points[i].discrete_event.push(m);
    }

    // fidelities.csv
    let mut csv = String::from(
        "scenario,load,plan,metric,fluid,discrete_event_mean,discrete_event_ci95,relative_difference,samples\n",
    );
    for x in &points {
        for (m, name) in METRICS.iter().enumerate() {
            let (d, h) = x.des(m).unwrap_or((f64::NAN, f64::NAN));
            let rel = x.relative(m).unwrap_or(f64::NAN);
            writeln!(
                csv,
                "{},{},{},{name},{},{d},{h},{rel},{}",
                x.scenario,
                x.load,
                x.plan.name(),
                x.fluid[m],
                x.discrete_event.len()
            )?;
        }
    }
    run.dir().write("fidelities.csv", csv.as_bytes())?;

    // Analytic checks.
    let analytic_seed = MasterSeed(p.seed);
    let mut checks: Vec<AnalyticCheck> =
        mg1_wait_checks(&p.analytic.loads, p.analytic.requests, analytic_seed)
            .map_err(|e| anyhow::anyhow!("analytic checks: {e}"))?;
    checks.push(
        saturation_check(
            p.analytic.saturation_load,
            p.analytic.requests,
            analytic_seed,
        )
        .map_err(|e| anyhow::anyhow!("saturation check: {e}"))?,
    );
    checks.extend(
        mixed_wait_checks(&p.analytic.loads, p.analytic.requests, analytic_seed)
            .map_err(|e| anyhow::anyhow!("mixed-lane checks: {e}"))?,
    );
    checks.extend(
        round_robin_wait_checks(
            p.analytic.round_robin_nodes,
            &p.analytic.loads,
            p.analytic.requests,
            analytic_seed,
        )
        .map_err(|e| anyhow::anyhow!("round-robin checks: {e}"))?,
    );
    let mut analytic_csv = String::from(
        "check,load,unit,theory,fluid,discrete_event,fluid_relative_error,discrete_event_relative_error\n",
    );
    let mut analytic_pass = true;
    for c in &checks {
        let (f, d) = c.relative_errors();
        analytic_pass &= c.passes(p.analytic.tolerance);
        writeln!(
            analytic_csv,
            "{},{},{},{},{},{},{f},{d}",
            c.name, c.load, c.unit, c.theory, c.fluid, c.discrete_event
        )?;
    }
    run.dir().write("analytic.csv", analytic_csv.as_bytes())?;

    plot(run, scenarios, p, &points)?;
    let sweep = fluid_sweep(run, scenarios, p)?;
    let (mut report, agreeing, compared) = report(p, scenarios, &points, &checks, analytic_pass);
    report.push_str(&continuity_report(p, &sweep));
    report.push_str(&group_idle_report(run, scenarios)?);
    run.dir().write("report.md", report.as_bytes())?;
    Ok(Summary {
        points: points.len(),
        discrete_event_runs: runs.len(),
        analytic_checks_passed: analytic_pass,
        agreement_up_to_load: p.agreement.up_to_load,
        points_agreeing: agreeing,
        points_compared: compared,
    })
}

fn metric_index(name: &str) -> usize {
    METRICS
        .iter()
        .position(|&m| m == name)
        .expect("a known metric")
}

/// One plot per scenario and metric: the metric against load, fluid and discrete-event for
/// each plan.
fn plot(
    run: &Run,
    scenarios: &[Scenario],
    p: &Checked,
    points: &[PointResult],
) -> anyhow::Result<()> {
    let plotted = [
        ("mean_ttft_s", "mean TTFT, s"),
        ("p95_ttft_s", "p95 TTFT, s"),
        ("energy_kwh", "facility energy, kWh"),
        ("carbon_kg", "carbon, kg CO2"),
        ("water_l", "water, L"),
        ("cost_usd", "energy cost, USD"),
    ];
    for s in scenarios {
        for (metric, label) in plotted {
            let m = metric_index(metric);
            let mut series = Vec::new();
            for &plan in &p.plans {
                let of = |x: &&PointResult| x.scenario == s.name && x.plan == plan;
                series.push(Series {
                    name: format!("{} fluid", plan.name()),
                    points: points
                        .iter()
                        .filter(of)
                        .map(|x| (x.load, x.fluid[m]))
                        .collect(),
                });
                let des: Vec<(f64, f64)> = points
                    .iter()
                    .filter(of)
                    .filter_map(|x| x.des(m).map(|(d, _)| (x.load, d)))
                    .collect();
                if !des.is_empty() {
                    series.push(Series {
                        name: format!("{} discrete-event", plan.name()),
                        points: des,
                    });
                }
            }
            against_load(run, &s.name, metric, label, &series)?;
        }
    }
    Ok(())
}

/// `<scenario>_<stem>.svg` and `.png`: `series` against load.
fn against_load(
    run: &Run,
    scenario: &str,
    stem: &str,
    label: &str,
    series: &[Series],
) -> anyhow::Result<()> {
    line_chart(
        run.dir().path(),
        &format!("{scenario}_{stem}"),
        &Chart {
            title: &format!("{scenario}: {label} against load"),
            x_label: "demand / nominal demand",
            y_label: label,
        },
        series,
    )
}

fn percent(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{:+.1}%", 100.0 * v),
        _ => "-".into(),
    }
}

/// The report; also returns how many points agree within the targets, of how many compared.
fn report(
    p: &Checked,
    scenarios: &[Scenario],
    points: &[PointResult],
    checks: &[AnalyticCheck],
    analytic_pass: bool,
) -> (String, usize, usize) {
    let a = p.agreement;
    let mut r = String::new();
    let _ = writeln!(
        r,
        "# Fluid against discrete-event, and both against queueing theory\n"
    );
    let _ = writeln!(
        r,
        "Loads are multiples of each scenario's nominal demand (its busiest epoch keeps the fleet {}% busy under the weighted round robin). Each discrete-event figure is the mean of {} runs with their own requests, ± the 95% confidence interval over them (the sampling error of simulating {}). Relative difference = (fluid - discrete-event) / discrete-event. Fluid percentiles take each cell's time at the datacenter as exponential about its mean (docs/validation.md).\n",
        95,
        p.samples,
        p.sim.node_sample()
    );
    let _ = writeln!(
        r,
        "## Analytic checks ({})\n",
        if analytic_pass { "pass" } else { "FAIL" }
    );
    let _ = writeln!(
        r,
        "| check | load | theory | fluid | discrete-event |\n|---|---|---|---|---|"
    );
    for c in checks {
        let (f, d) = c.relative_errors();
        let _ = writeln!(
            r,
            "| {} | {} | {:.4} {} | {:.4} ({}) | {:.4} ({}) |",
            c.name,
            c.load,
            c.theory,
            c.unit,
            c.fluid,
            percent(Some(f)),
            c.discrete_event,
            percent(Some(d))
        );
    }
    let _ = writeln!(
        r,
        "\nTolerance {}%, for both fidelities.\n",
        100.0 * p.analytic.tolerance
    );

    let (mut agreeing, mut compared) = (0, 0);
    let _ = writeln!(
        r,
        "## Agreement up to load {} (targets: accounting {}%, mean TTFT {}%, p95 TTFT {}%)\n",
        a.up_to_load,
        100.0 * a.accounting,
        100.0 * a.mean_ttft,
        100.0 * a.p95_ttft
    );
    let _ = writeln!(r, "| scenario | load | plan | mean TTFT fluid / DE (s) | rel. | p95 TTFT fluid / DE (s) | rel. | energy rel. | carbon rel. | water rel. | cost rel. | dropped (DE) | agrees |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut explanations: Vec<String> = Vec::new();
    for x in points {
        let Some((ttft_de, ttft_ci)) = x.des(0) else {
            continue;
        };
        let rel = |name: &str| x.relative(metric_index(name));
        let accounting_ok = ACCOUNTING
            .iter()
            .all(|m| rel(m).is_some_and(|v| v.abs() <= a.accounting));
        let ttft_ok = rel("mean_ttft_s").is_some_and(|v| v.abs() <= a.mean_ttft);
        let p95_ok = rel("p95_ttft_s").is_some_and(|v| v.abs() <= a.p95_ttft);
        let ok = accounting_ok && ttft_ok && p95_ok;
        if x.load <= a.up_to_load + 1e-12 {
            compared += 1;
            agreeing += usize::from(ok);
        }
        let p95 = metric_index("p95_ttft_s");
        let dropped = x.des(metric_index("dropped_share")).map_or(0.0, |d| d.0);
        let _ = writeln!(
            r,
            "| {} | {} | {} | {:.3} / {:.3} ± {:.3} | {} | {:.3} / {:.3} | {} | {} | {} | {} | {} | {:.2}% | {} |",
            x.scenario,
            x.load,
            x.plan.name(),
            x.fluid[0],
            ttft_de,
            ttft_ci,
            percent(rel("mean_ttft_s")),
            x.fluid[p95],
            x.des(p95).map_or(f64::NAN, |d| d.0),
            percent(rel("p95_ttft_s")),
            percent(rel("energy_kwh")),
            percent(rel("carbon_kg")),
            percent(rel("water_l")),
            percent(rel("cost_usd")),
            100.0 * dropped,
            if ok { "yes" } else { "no" }
        );
        if !ok {
            explanations.push(explain(x, dropped, a));
        }
    }
    let _ = writeln!(
        r,
        "\n{agreeing} of {compared} points up to load {} agree on every target.\n",
        a.up_to_load
    );
    if !explanations.is_empty() {
        let _ = writeln!(r, "## Where they disagree, and why\n");
        for e in &explanations {
            let _ = writeln!(r, "- {e}");
        }
        let _ = writeln!(r);
    }

    // Ranking agreement and continuity.
    let _ = writeln!(r, "## Do both fidelities rank the plans alike?\n");
    let _ = writeln!(r, "Per scenario and load up to 1.0: the plans ordered by each objective in each fidelity (ties within 0.1% count as agreeing).\n");
    let objectives = ["mean_ttft_s", "carbon_kg", "water_l", "cost_usd"];
    for s in scenarios {
        for &load in &p.loads {
            if load > 1.0 + 1e-12 {
                continue;
            }
            let at: Vec<&PointResult> = points
                .iter()
                .filter(|x| x.scenario == s.name && x.load == load && !x.discrete_event.is_empty())
                .collect();
            if at.len() < 2 {
                continue;
            }
            let mut disagreements = Vec::new();
            for name in objectives {
                let m = metric_index(name);
                let des = |x: &PointResult| x.des(m).map_or(0.0, |v| v.0);
                // Which of a and b is lower, or None within 0.1% (a tie agrees with any order).
                let lower =
                    |a: f64, b: f64| ((a - b).abs() > 1e-3 * a.abs().max(b.abs())).then_some(a < b);
                for i in 0..at.len() {
                    for j in i + 1..at.len() {
                        let fluid = lower(at[i].fluid[m], at[j].fluid[m]);
                        let discrete = lower(des(at[i]), des(at[j]));
                        if let (Some(f), Some(d)) = (fluid, discrete) {
                            if f != d {
                                // How far apart the two plans are in each fidelity: orders
                                // of plans closer than the fidelities agree can swap.
                                let apart = |a: f64, b: f64| {
                                    if b != 0.0 {
                                        format!("{:+.1}%", (a / b - 1.0) * 100.0)
                                    } else {
                                        "n/a".to_owned()
                                    }
                                };
                                disagreements.push(format!(
                                    "{name}: {} vs {} ({} against {}: fluid {}, discrete-event {})",
                                    at[i].plan.name(),
                                    at[j].plan.name(),
                                    at[i].plan.name(),
                                    at[j].plan.name(),
                                    apart(at[i].fluid[m], at[j].fluid[m]),
                                    apart(des(at[i]), des(at[j])),
                                ));
                            }
                        }
                    }
                }
            }
            let _ = writeln!(
                r,
                "- {} at load {load}: {}",
                s.name,
                if disagreements.is_empty() {
                    "same order on every objective".to_owned()
                } else {
                    format!("orders differ on {}", disagreements.join("; "))
                }
            );
        }
    }
    (r, agreeing, compared)
}

/// The fluid mean TTFT of every plan from the lowest to the highest load in steps of
/// `continuity_step` (the plan decided at each load, as the points are): `(scenario, plan, [(load,
/// TTFT)])`; also written to `continuity.csv` and plotted.
type Sweep = Vec<(String, Rule, Vec<(f64, f64)>)>;

fn fluid_sweep(run: &Run, scenarios: &[Scenario], p: &Checked) -> anyhow::Result<Sweep> {
    let lo = p.loads.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = p.loads.iter().copied().fold(0.0, f64::max);
    let steps = ((hi - lo) / p.continuity_step).round() as usize;
    let mut sweep: Sweep = Vec::new();
    let mut csv = String::from("scenario,plan,load,fluid_mean_ttft_s\n");
    for s in scenarios {
        let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); p.plans.len()];
        for k in 0..=steps {
            let load = lo + k as f64 * p.continuity_step;
            let world = s.scaled(Scaled::Demand, load)?;
            let problem = Problem::new(&world, p.sim.params);
            let mut fluid = problem.fluid();
            for (i, &plan) in p.plans.iter().enumerate() {
                let fraction_plan = plan.allocator().allocate(&problem)?;
                let ttft = fluid.score(&fraction_plan)?.latency.mean_ttft_s;
                writeln!(csv, "{},{},{load},{ttft}", s.name, plan.name())?;
                series[i].push((load, ttft));
            }
        }
        let lines: Vec<Series> = p
            .plans
            .iter()
            .zip(&series)
            .map(|(plan, points)| Series {
                name: plan.name().to_owned(),
                points: points
                    .iter()
                    .map(|&(l, t)| (l, t.max(1e-3).log10()))
                    .collect(),
            })
            .collect();
        against_load(
            run,
            &s.name,
            "fluid_ttft_sweep",
            "log10 fluid mean TTFT (s)",
            &lines,
        )?;
        for (plan, points) in p.plans.iter().zip(series) {
            sweep.push((s.name.clone(), *plan, points));
        }
    }
    run.dir().write("continuity.csv", csv.as_bytes())?;
    Ok(sweep)
}

fn continuity_report(p: &Checked, sweep: &Sweep) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "\n## Is the fluid TTFT continuous in load?\n");
    let _ = writeln!(
        r,
        "Fluid mean TTFT at loads {} apart (`continuity.csv`, `<scenario>_fluid_ttft_sweep.svg`): the largest rise from one load to the next, in seconds and as a ratio. An overloaded datacenter's backlog grows by about the same amount per load step, so where TTFT is minutes the rise in seconds is large while the ratio stays small; a cliff (the old model's one epoch the moment utilisation reached 1) shows as a large ratio. Each load's plan is decided at that load, so a rule whose plan changes with load (greedy fills datacenters up to a cap, then spills) can rise faster than the simulator alone would.\n",
        p.continuity_step
    );
    let _ = writeln!(r, "| scenario | plan | TTFT at lowest load (s) | at highest (s) | largest rise in one step (s) | at load | ratio |\n|---|---|---|---|---|---|---|");
    for (scenario, plan, points) in sweep {
        let (mut rise, mut at, mut ratio) = (0.0, f64::NAN, f64::NAN);
        for w in points.windows(2) {
            let d = w[1].1 - w[0].1;
            if d > rise {
                (rise, at, ratio) = (d, w[0].0, w[1].1 / w[0].1);
            }
        }
        let _ = writeln!(
            r,
            "| {scenario} | {} | {:.3} | {:.3} | {rise:.3} | {at:.2} | x{ratio:.3} |",
            plan.name(),
            points.first().map_or(f64::NAN, |x| x.1),
            points.last().map_or(f64::NAN, |x| x.1),
        );
    }
    r
}

/// The GPU time each scenario's nodes lose to prefill groups, as the fluid model counts it
/// ([`GroupIdle::of_scenario`]): writes `group_idle.csv` and
/// returns the report's section.
fn group_idle_report(run: &Run, scenarios: &[Scenario]) -> anyhow::Result<String> {
    let mut csv = String::from("scenario,gpu,gpus_per_node,prefill_utilisation,lost_share\n");
    let mut r = String::new();
    let shown = [0.5, 0.7, 0.9, 0.98];
    let _ = writeln!(r, "\n## GPU time lost to prefill groups\n");
    let _ = writeln!(r, "A model that prefills on a group of GPUs takes the group that frees first and waits for all of it, so where one node serves models of different group sizes (a one-GPU 8B prefill beside a two-GPU 70B one) a GPU can wait idle for its partner. Lost GPU-seconds per busy GPU-second of a node of each kind, simulated under the discrete-event rule for the scenario's mix of models over the day and their prompt lengths at nearly periodic arrivals. The fluid model counts it, in proportion to each epoch's own mix at each datacenter and GPU kind (q (1 - q) over the day's, q the grouped model's share of the prefill work): a pool's lanes wait as at utilisation u (1 + lost(u)), and a saturated pool serves 1 / (1 + lost) of its GPU time as prefill, so its backlog builds sooner (docs/metrics.md, \"Prefill groups\").\n");
    let _ = writeln!(
        r,
        "| scenario | node | {} |",
        shown
            .map(|x| format!("lost at utilisation {x}"))
            .join(" | ")
    );
    let _ = writeln!(r, "|---|---|{}", "---|".repeat(shown.len()));
    let mut any = false;
    for s in scenarios {
        for (gpu, gpus, idle) in GroupIdle::of_scenario(s) {
            any = true;
            let kind = &s.gpus[gpu].name;
            for &u in &GroupIdle::AT {
                writeln!(csv, "{},{kind},{gpus},{u},{}", s.name, idle.at(u))?;
            }
            let _ = writeln!(
                r,
                "| {} | {gpus} x {kind} | {} |",
                s.name,
                shown
                    .map(|u| format!("{:.1}%", 100.0 * idle.at(u)))
                    .join(" | ")
            );
        }
    }
    if !any {
        let _ = writeln!(
            r,
            "| (no node serves models of different group sizes) | | | | | |"
        );
    }
    run.dir().write("group_idle.csv", csv.as_bytes())?;
    Ok(r)
}

/// Why point `x` does not agree, from what the run shows.
fn explain(x: &PointResult, dropped: f64, a: Agreement) -> String {
    let mut why = Vec::new();
    if dropped > 0.0 {
        why.push(format!(
            "the discrete-event simulator dropped {:.2}% of requests (its per-datacenter queue is bounded; the fluid backlog keeps every request, and their waits)",
            100.0 * dropped
        ));
    }
    let ttft = x.relative(0).unwrap_or(f64::NAN);
    let peak = x.fluid_peak_prefill_utilisation;
    if peak > 1.0 {
        let p95 = x.relative(metric_index("p95_ttft_s")).unwrap_or(f64::NAN);
        // The accounting metrics move together; the largest of them.
        let accounting = ["energy_kwh", "carbon_kg", "water_l", "cost_usd"]
            .iter()
            .filter_map(|m| x.relative(metric_index(m)))
            .fold(f64::NAN, f64::max);
        why.push(format!(
            "the plan overloads node pools of a datacenter (fluid prefill utilisation of the busiest pool up to {peak:.2}){}",
            if ttft > a.mean_ttft {
                ": the fluid backlog is per node pool, bounded by the pool's KV memory, while the discrete-event round robin sends requests on from each full node, so its queues drain sooner"
            } else if ttft < -a.mean_ttft || p95 < -a.p95_ttft {
                ": the discrete-event waits are the longer: each overloaded node's queue grows to its memory bound and drains first in first out across epochs, full nodes pass requests on to the next node of the balancer's order with room (in the busiest epochs the other GPU kind's nodes queue too, where the fluid kind still has room), and a datacenter's full queue admits to whichever node frees memory first"
            } else if p95 > a.p95_ttft {
                ": the fluid p95 is the higher: its percentiles spread each cell's time as an exponential about the cell's mean, so a few backlogged cells reach the tail"
            } else {
                ""
            }
        ));
        if accounting > a.accounting {
            why.push("the fluid energy (and its carbon, water and cost) is the higher: where hours of backlog remain, the discrete-event datacenter's full queue admits requests to whichever node frees memory first (mostly the large nodes, whose decode draws a smaller share of the power), not by the balancer's weights, which the fluid model keeps".into());
        }
    } else if ttft.abs() > a.mean_ttft && dropped == 0.0 {
        why.push(if ttft < 0.0 {
            "the fluid TTFT is lower without an overloaded pool: a discrete-event 70B prefill needs its two GPUs free at once and a one-GPU 8B prefill can hold one of them idle; the fluid model counts the time lost (group_idle.csv) as busy time and lost capacity, while the pair request also waits for its partner directly, which at moderate loads makes the discrete-event waits the longer (docs/validation.md)".into()
        } else {
            "the fluid TTFT is higher without an overloaded pool: its stationary wait (Allen-Cunneen with the round robin's arrival variability, the classes mixed by prefill work) is exact for one lane at exponential service (analytic checks) and an approximation for general prompt lengths and several lanes".into()
        });
    }
    if why.is_empty() {
        why.push("percentiles: the fluid model has one mean per cell and an assumed exponential spread within it".into());
    }
    format!(
        "{} at load {}, {}: {}.",
        x.scenario,
        x.load,
        x.plan.name(),
        why.join("; ")
    )
}
