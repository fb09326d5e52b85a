//! `verdant compare`: the provably optimal allocation beside the learned ones on one world and one
//! simulator, and `verdant report`, which merges the indicators of several compare runs.
//!
//! On a geo scenario (geo-8dc by default) every method of `[compare] methods` (from the method
//! registry: the exact reference front, Green-LLM where the scenario has its terms, MARLIN's
//! schemes, the load balancer in geo mode, the rules) gives its plans; one loop scores every plan
//! with the fluid simulator (and all but MARLIN's training archive with the discrete-event one).
//! Fronts are compared by PHV with one reference point (the worst observed value per objective),
//! the PHV ratio to the exact front's, and each method's gap per objective to the best the exact
//! front reaches.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use verdant::allocator::{Allocator, Problem};
use verdant::config::{key, ConfigError, Layered, Validate};
use verdant::scenario::Scenario;
use verdant::sim::{FractionPlan, Objective, SimParams};
use verdant_agents::lb::LbAgentParams;
use verdant_agents::marlin::{MarlinParams, Scheme};
use verdant_agents::TorchParams;
use verdant_solvers::methods::ExactFront;

use crate::cli::SharedArgs;
use crate::indicators;
use crate::methods::{self, Build, MethodsSection};
use crate::plots::{bar_chart, line_chart, projection_chart, Axis, BarGroup, Chart, Series};
use crate::reports::{objective_fields, OBJECTIVE_COLUMNS};
use crate::run::{configure, within, Days, Run};
use crate::scoring::{has_nodes, Point, Scored};
use crate::stats::{distinct, mean_ci};
use crate::training::lb::{self as lb_training, GeoSection, LbChecked, LbDoc, LbSection};
use crate::training::marlin::{
    self as marlin_training, CompareSection, Jobs, MarlinChecked, MarlinDoc,
};

pub const DEFAULTS: &str = include_str!("../configs/compare.toml");

/// The compare document: the sections of marlin.toml and lb.toml (their defaults are laid under
/// compare.toml), and the list of methods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareDoc {
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
    methods: MethodsSection,
    /// The methods compared: registry names, in the order the tables list them.
    compared: Vec<String>,
    lb: LbSection,
    #[serde(default)]
    geo: GeoSection,
    agent: LbAgentParams,
}

struct Checked {
    marlin: MarlinChecked,
    lb: LbChecked,
    methods: Vec<String>,
}

impl Validate for CompareDoc {
    type Checked = Checked;
    fn validate(self, prefix: &str) -> Result<Checked, ConfigError> {
        for name in &self.compared {
            if methods::method(name).is_none() {
                let known: Vec<&str> = methods::REGISTRY.iter().map(|m| m.name).collect();
                return Err(ConfigError::invalid(
                    key(prefix, "compared"),
                    format!("unknown method {name:?} (known: {})", known.join(", ")),
                ));
            }
        }
        if !self.compared.iter().any(|m| m == "exact") {
            return Err(ConfigError::invalid(
                key(prefix, "compared"),
                "must include \"exact\": every indicator is relative to it",
            ));
        }
        // The load balancer routes the same scenario with the same seeds.
        let lb = LbDoc {
            seed: self.seed,
            lb: LbSection {
                seeds: self.seeds,
                ..self.lb
            },
            geo: GeoSection {
                scenario: self.scenario.clone(),
                ..self.geo
            },
            agent: self.agent,
            torch: self.torch.clone(),
        }
        .validate(prefix)?;
        let marlin = MarlinDoc {
            seed: self.seed,
            scenario: self.scenario,
            schemes: self.schemes,
            seeds: self.seeds,
            discrete_event: self.discrete_event,
            marlin: self.marlin,
            torch: self.torch,
            compare: self.compare,
            methods: self.methods,
        }
        .validate(prefix)?;
        Ok(Checked {
            marlin,
            lb,
            methods: self.compared,
        })
    }
}

/// Paper-scale budgets for `verdant compare --full`.
const FULL: &str = r#"
seeds = 3
[marlin]
days = 10
k_opt = 8
[agent]
total_steps = 200000
[methods.exact]
front_grid = 5
"#;

/// The defaults of `verdant compare`: marlin.toml, then lb.toml, then compare.toml (then the
/// paper-scale budgets with `--full`).
fn defaults(full: bool) -> anyhow::Result<String> {
    let mut doc = Layered::parse(marlin_training::DEFAULTS, "built-in defaults of marlin")?;
    doc.merge(Layered::parse(
        lb_training::DEFAULTS,
        "built-in defaults of lb",
    )?);
    doc.merge(Layered::parse(DEFAULTS, "built-in defaults of compare")?);
    if full {
        doc.merge(Layered::parse(FULL, "--full budgets")?);
    }
    Ok(doc.to_toml_string())
}

/// The discrete-event simulator's queue bound per datacenter in `verdant compare`: large enough
/// that no request is dropped at the bundled scenarios' loads (one node of the largest pool
/// receives a few hundred thousand requests a day).
const KEEP_EVERY_REQUEST: usize = 10_000_000;

pub fn run(full: bool, shared: &SharedArgs) -> anyhow::Result<()> {
    let defaults = defaults(full)?;
    let Some((config, c)) = configure::<CompareDoc>(&defaults, "compare", shared)? else {
        return Ok(());
    };
    let seed = c.marlin.seed;
    let days = Days::load(&c.marlin.scenario, seed)?;
    // The one place that decides the simulator's settings for every method and every score. The
    // discrete-event queue keeps every request, as the fluid backlog does: with the default bound
    // the plans that overload a datacenter dropped most of their requests there, and their
    // discrete-event TTFT counted only the ones served.
    let sim = SimParams {
        max_waiting_per_datacenter: KEEP_EVERY_REQUEST,
        ..SimParams::default()
    };
    // Every method allocates and is scored on the scoring days; learned methods train on the
    // training days (the same days where the scenario names no split).
    let (training, problem) = days.problems(sim);
    let device = c.marlin.torch.activate()?;
    let mut run = Run::start("compare", &config, seed, shared)?.on_device(device);
    run.manifest_mut().solver = serde_json::to_value(&c.marlin.methods.exact.solver)?;
    let problems = Problems {
        training: &training,
        scoring: &problem,
        days: &days,
    };
    let (_, path) = within(run, |run| compare(run, &c, &problems, device))?;
    print!("{}", std::fs::read_to_string(path.join("report.md"))?);
    println!("{}", path.display());
    Ok(())
}

/// The plans of MARLIN's training archive (its per-day plans): scored by the fluid simulator
/// only.
fn training_archive(p: &Point) -> bool {
    p.method.starts_with("marlin-") && !p.representative
}

/// What learned methods train on and what every method is scored on.
struct Problems<'p> {
    training: &'p Problem<'p>,
    scoring: &'p Problem<'p>,
    days: &'p Days,
}

fn compare(
    run: &mut Run,
    c: &Checked,
    problems: &Problems,
    device: tch::Device,
) -> anyhow::Result<serde_json::Value> {
    let problem = problems.scoring;
    let bar = run.progress(c.methods.len() as u64, "methods");
    let mut scored = Scored::default();
    let mut notes: Vec<String> = Vec::new();
    let mut exact_s = 0.0;
    for name in &c.methods {
        let started = std::time::Instant::now();
        let result = run_method(run, c, problems, device, name, &mut scored);
        if name == "exact" {
            // Every indicator is relative to the exact front: without it there is no report.
            result.context("the exact front")?;
            exact_s = started.elapsed().as_secs_f64();
            notes.push(format!(
                "exact: {} ({} plans)",
                ExactFront::model_name(problem),
                scored.points.iter().filter(|p| p.method == "exact").count()
            ));
        } else if let Err(e) = result {
            notes.push(format!("{name}: not run: {e:#}"));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if c.marlin.discrete_event {
        if has_nodes(problem) {
            scored.discrete_event(problem, c.marlin.seed, |p| !training_archive(p))?;
        } else {
            notes.push("discrete-event: the scenario has no node pools; fluid scores only".into());
        }
    }
    let exact_count = scored.points.iter().filter(|p| p.method == "exact").count();
    let min_carbon = scored
        .points
        .iter()
        .position(|p| p.method == "exact" && p.source == "min-carbon")
        .map(|i| scored.plan(i).clone());
    let exact = ExactSummary {
        plans: exact_count,
        seconds: exact_s,
        min_carbon,
    };
    write_outputs(run, c, problems.days, &scored.points, &exact, &notes)
}

/// Runs one method of the registry and scores its plans: methods built from config allocate
/// straight away; MARLIN and the load balancer train first, then their trained policies allocate.
fn run_method(
    run: &Run,
    c: &Checked,
    problems: &Problems,
    device: tch::Device,
    name: &str,
    scored: &mut Scored,
) -> anyhow::Result<()> {
    let problem = problems.scoring;
    let method = methods::method(name).expect("checked against the registry");
    match (method.build, name) {
        (Build::Allocator(make), _) => {
            let seeds = if method.deterministic {
                1
            } else {
                c.marlin.seeds
            };
            for k in 0..seeds {
                let seed = marlin_training::run_seed(c.marlin.seed, k);
                let mut allocator = make(&c.marlin.methods, seed);
                scored.allocate(problem, name, k, allocator.as_mut())?;
            }
        }
        (Build::Trained, "marlin") => {
            let jobs = Jobs {
                master_seed: c.marlin.seed,
                schemes: &c.marlin.schemes,
                seeds: c.marlin.seeds,
                folder: "marlin",
                resume: false,
            };
            let trained = marlin_training::train_schemes(
                run,
                &jobs,
                problems.training,
                &c.marlin.marlin,
                device,
            )?;
            for mut t in trained {
                let name = t.policy.name().to_owned();
                scored.allocate(problem, &name, t.seed, &mut t.policy)?;
            }
        }
        (Build::Trained, "lb") => {
            // The load balancer in geo mode: its agents and the strongest baseline.
            let geo = lb_training::train_geo(run, &c.lb, problems.days, device)?;
            for (seed, mut router) in geo.routers(|b| b == "shortest-expected-delay") {
                let name = format!("lb-{}", router.name());
                scored.allocate(problem, &name, seed, &mut router)?;
            }
        }
        (Build::Trained, other) => bail!("{other}: the registry lists no training for it"),
    }
    Ok(())
}

/// What the report says of the exact front.
struct ExactSummary {
    plans: usize,
    seconds: f64,
    /// Its min-carbon plan, for the routing plot.
    min_carbon: Option<FractionPlan>,
}

fn write_outputs(
    run: &Run,
    c: &Checked,
    days: &Days,
    points: &[Point],
    exact: &ExactSummary,
    notes: &[String],
) -> anyhow::Result<serde_json::Value> {
    let scenario = &days.scoring;
    let (exact_count, exact_s) = (exact.plans, exact.seconds);
    let dir = run.dir();
    let mut fronts = format!("method,seed,source,representative,fidelity,{OBJECTIVE_COLUMNS}\n");
    for p in points {
        for (fidelity, o) in [
            ("fluid", Some(&p.fluid)),
            ("discrete-event", p.discrete_event.as_ref()),
        ] {
            if let Some(o) = o {
                writeln!(
                    fronts,
                    "{},{},{},{},{fidelity},{}",
                    p.method,
                    p.seed,
                    p.source,
                    p.representative,
                    objective_fields(o)
                )?;
            }
        }
    }
    dir.write("fronts.csv", fronts.as_bytes())?;
    let ind = indicators::indicators(points, "exact");
    let csv = indicators::to_csv(&ind);
    dir.write("indicators.csv", csv.as_bytes())?;
    let md = indicators::table(&indicators::parse(&csv, "indicators.csv")?);
    let mut report = format!(
        "# Optimal versus learned on `{}`\n\n{}\n\nEvery plan scored by the fluid simulator; the exact front has {} plans ({:.1} s to build and solve; the reference LP leaves queueing out of TTFT, the simulator's TTFT is below). PHV reference: the worst observed value of each objective over all plans. Gap: a method's best value of an objective over its plans, relative to the best on the exact front. Seeds: master {}, {} run seed(s).\n\n{md}",
        scenario.name,
        days.note(),
        exact_count,
        exact_s,
        c.marlin.seed,
        c.marlin.seeds
    );
    report.push_str("\n## Representative plans, both fidelities (every plan's scores are in fronts.csv)\n\n| Method | seed | fluid TTFT (s) | carbon (kg) | water (L) | cost (USD) | discrete-event TTFT (s) | carbon (kg) |\n|---|---|---|---|---|---|---|---|\n");
    for p in points.iter().filter(|p| p.representative) {
        let (dt, dc) = p
            .discrete_event
            .map_or(("-".to_owned(), "-".to_owned()), |o| {
                (format!("{:.3}", o.ttft_s), format!("{:.0}", o.carbon_kg))
            });
        writeln!(
            report,
            "| {} | {} | {:.3} | {:.0} | {:.0} | {:.0} | {dt} | {dc} |",
            p.method, p.seed, p.fluid.ttft_s, p.fluid.carbon_kg, p.fluid.water_l, p.fluid.cost_usd
        )?;
    }
    if !notes.is_empty() {
        report.push_str("\n## Notes\n\n");
        for n in notes {
            writeln!(report, "- {n}")?;
        }
    }
    dir.write("report.md", report.as_bytes())?;
    plots(
        dir.path(),
        scenario,
        points,
        &ind,
        exact.min_carbon.as_ref(),
    )?;
    Ok(serde_json::json!({
        "scenario": scenario.name,
        "trained_on": days.training().name,
        "held_out": days.held_out(),
        "exact_plans": exact_count,
        "notes": notes,
        "exact_build_and_solve_s": exact_s,
        "points": points.len(),
    }))
}

fn plots(
    dir: &Path,
    scenario: &Scenario,
    points: &[Point],
    ind: &[indicators::Row],
    min_carbon: Option<&FractionPlan>,
) -> anyhow::Result<()> {
    let methods = distinct(points.iter().map(|p| p.method.clone()));
    // Every pairwise projection of the four objectives, the exact front joined as a line, TTFT
    // on a logarithmic axis.
    let axes = |o: Objective| match o {
        Objective::Ttft => (
            "ttft",
            Axis {
                label: "TTFT (s)",
                log: true,
            },
        ),
        Objective::Carbon => (
            "carbon",
            Axis {
                label: "carbon (kg)",
                log: false,
            },
        ),
        Objective::Water => (
            "water",
            Axis {
                label: "water (L)",
                log: false,
            },
        ),
        Objective::Cost => (
            "cost",
            Axis {
                label: "energy cost (USD)",
                log: false,
            },
        ),
    };
    for (i, &x) in Objective::ALL.iter().enumerate() {
        for &y in &Objective::ALL[i + 1..] {
            let ((x_name, x_axis), (y_name, y_axis)) = (axes(x), axes(y));
            let series = Series::by_name(
                &methods,
                points,
                |p| &p.method,
                |p| {
                    let (x, y) = (p.fluid.get(x), p.fluid.get(y));
                    (x.is_finite() && y.is_finite()).then_some((x, y))
                },
            );
            projection_chart(
                dir,
                &format!("front_{x_name}_{y_name}"),
                "Every method's plans (fluid simulator)",
                (&x_axis, &y_axis),
                &series,
                "exact",
            )?;
        }
    }
    let ratios: Vec<f64> = methods
        .iter()
        .map(|m| {
            mean_ci(
                &ind.iter()
                    .filter(|(mm, _, i, _)| mm == m && i == "phv_ratio_to_exact")
                    .map(|x| x.3)
                    .collect::<Vec<_>>(),
            )
            .0
        })
        .collect();
    bar_chart(
        dir,
        "phv_ratio",
        &Chart {
            title: "PHV relative to the exact front",
            x_label: "method",
            y_label: "PHV / exact PHV",
        },
        &methods,
        &[BarGroup {
            name: "PHV ratio".into(),
            values: ratios,
        }],
    )?;
    // Routing of the exact min-carbon plan per datacenter over the day, beside carbon intensity.
    let Some(min_carbon) = min_carbon else {
        return Ok(());
    };
    let hours = scenario.time.hours();
    let ne = scenario.time.epochs;
    let routing: Vec<Series> = scenario
        .datacenters
        .iter()
        .enumerate()
        .map(|(d, dc)| Series {
            name: dc.name.clone(),
            points: (0..hours)
                .map(|h| {
                    let (mut routed, mut total) = (0.0, 0.0);
                    for e in (0..ne).filter(|&e| scenario.time.hour_of_epoch(e) == h) {
                        for o in 0..scenario.origins.len() {
                            for c in 0..scenario.classes.len() {
                                let r = scenario.demand.requests(o, c, e);
                                routed += r * min_carbon.row(e, o, c)[d];
                                total += r;
                            }
                        }
                    }
                    (h as f64, if total > 0.0 { routed / total } else { 0.0 })
                })
                .collect(),
        })
        .collect();
    line_chart(
        dir,
        "routing_min_carbon",
        &Chart {
            title: "Exact min-carbon plan: share of requests per datacenter by hour",
            x_label: "hour",
            y_label: "share of requests",
        },
        &routing,
    )?;
    let series: Vec<Series> = scenario
        .datacenters
        .iter()
        .map(|dc| Series {
            name: dc.name.clone(),
            points: (0..hours)
                .map(|h| (h as f64, dc.grid.carbon_kg_per_kwh[h]))
                .collect(),
        })
        .collect();
    line_chart(
        dir,
        "carbon_intensity",
        &Chart {
            title: "Grid carbon intensity per datacenter",
            x_label: "hour",
            y_label: "kg CO2 / kWh",
        },
        &series,
    )
}

/// `verdant report RUN_DIR...`: merges the indicators of compare runs (for example the same
/// configuration with different seeds, run on different machines) into one table.
pub fn report(runs: &[PathBuf]) -> anyhow::Result<()> {
    if runs.is_empty() {
        bail!("give at least one run directory of verdant compare");
    }
    let mut rows = Vec::new();
    for (k, dir) in runs.iter().enumerate() {
        let path = dir.join("indicators.csv");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a run directory of verdant compare",
                dir.display()
            )
        })?;
        // Seeds of different runs are kept apart: run k's seed s counts as one more sample.
        for (m, s, i, v) in indicators::parse(&text, &path.display().to_string())? {
            rows.push((m, s + 1000 * k as u32, i, v));
        }
    }
    println!("# Merged indicators of {} run(s)\n", runs.len());
    print!("{}", indicators::table(&rows));
    Ok(())
}
