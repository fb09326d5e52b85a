//! `verdant compare`: the provably optimal allocation beside the learned ones on one world and one
//! simulator, and `verdant report`, which merges the indicators of several compare runs.
//!
//! On a geo scenario (geo-8dc by default): the exact reference front (the fluid accounting as an
//! LP, `verdant_solvers::reference`), MARLIN's five schemes, the load balancer in geo mode (its
//! trained agent and Shortest Expected Delay) and the simple rules. Every plan is scored by the
//! fluid simulator (and the representative plans by the discrete-event one); fronts are compared by
//! PHV with one reference point (the worst observed value per objective), the PHV ratio to the
//! exact front's, and each method's gap per objective to the best the exact front reaches.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rayon::prelude::*;
use serde::Deserialize;
use verdant::config::{ConfigError, Layered, Validate};
use verdant::pareto::{hypervolume, ReferencePoint};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::rules::{Even, Greedy, GreedyKey, Nearest, RoundRobin};
use verdant::sim::{Allocator, FractionPlan, Objectives, SimParams};
use verdant_solvers::green_llm::{GreenLlmModel, Objective, Weights};
use verdant_solvers::reference::ReferenceLp;
use verdant_solvers::{SolverOptions, SolverParams};

use crate::cli::SharedArgs;
use crate::inspect::resolve_scenario;
use crate::marlin::{discrete_event, train_schemes, Jobs, METRICS};
use crate::plots::{bar_chart, line_chart, scatter_chart, BarGroup, Chart, Series};
use crate::run::{configure, within, Run};
use crate::stats::{distinct, mean_ci};
use crate::{lb, marlin};

pub const DEFAULTS: &str = include_str!("../configs/compare.toml");

/// `[exact]`: the reference front.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExactSection {
    utilisation_cap: f64,
    /// The epsilon-constraint lattice has `front_grid`^3 points.
    front_grid: usize,
    #[serde(default)]
    solver: SolverParams,
}

/// The compare configuration: the keys of `marlin.toml` and `lb.toml` (their defaults are laid
/// under `compare.toml`), plus `[exact]`.
struct Checked {
    seed: u64,
    seeds: u32,
    scenario: String,
    discrete_event: bool,
    marlin: marlin::Checked,
    lb: lb::Checked,
    utilisation_cap: f64,
    front_grid: usize,
    solver: SolverOptions,
}

const MARLIN_KEYS: [&str; 8] = [
    "seed",
    "scenario",
    "schemes",
    "seeds",
    "discrete_event",
    "marlin",
    "compare",
    "torch",
];
const LB_KEYS: [&str; 5] = ["seed", "lb", "geo", "agent", "torch"];

/// The document of `keys` only.
fn part(doc: &Layered, keys: &[&str]) -> Layered {
    let table = doc.clone().into_table();
    Layered::from_table(
        table
            .into_iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .collect(),
    )
}

fn check(doc: &Layered) -> anyhow::Result<Checked> {
    let table = doc.clone().into_table();
    let known: Vec<&str> = MARLIN_KEYS
        .iter()
        .chain(&LB_KEYS)
        .copied()
        .chain(["exact"])
        .collect();
    if let Some(k) = table.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ConfigError::invalid(k.clone(), "unknown key").into());
    }
    let marlin = part(doc, &MARLIN_KEYS).checked::<marlin::Params>()?;
    // The load balancer routes the same scenario with the same seeds.
    let mut lb_doc = part(doc, &LB_KEYS);
    lb_doc.set_value("geo.scenario", &marlin.scenario)?;
    lb_doc.set_value("lb.seeds", marlin.seeds)?;
    let lb = lb_doc.checked::<lb::LbParams>()?;
    let exact: ExactSection = Layered::from_table(
        table
            .get("exact")
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default(),
    )
    .deserialize()
    .map_err(|e| anyhow::anyhow!("exact.{e}"))?;
    if !(exact.utilisation_cap > 0.0 && exact.utilisation_cap <= 1.0) {
        return Err(ConfigError::invalid(
            "exact.utilisation_cap",
            format!("must be in (0, 1], got {}", exact.utilisation_cap),
        )
        .into());
    }
    if exact.front_grid < 2 {
        return Err(ConfigError::invalid("exact.front_grid", "must be at least 2").into());
    }
    Ok(Checked {
        seed: marlin.seed,
        seeds: marlin.seeds,
        scenario: marlin.scenario.clone(),
        discrete_event: marlin.discrete_event,
        solver: exact.solver.validate("exact.solver")?,
        marlin,
        lb,
        utilisation_cap: exact.utilisation_cap,
        front_grid: exact.front_grid,
    })
}

/// Paper-scale budgets for `verdant compare --full`.
const FULL: &str = r#"
seeds = 3
[marlin]
days = 10
k_opt = 8
[agent]
total_steps = 200000
[exact]
front_grid = 5
"#;

/// The defaults of `verdant compare`: marlin.toml, then lb.toml, then compare.toml (then the
/// paper-scale budgets with `--full`).
fn defaults(full: bool) -> anyhow::Result<String> {
    let mut doc = Layered::parse(marlin::DEFAULTS, "built-in defaults of marlin")?;
    doc.merge(Layered::parse(lb::DEFAULTS, "built-in defaults of lb")?);
    doc.merge(Layered::parse(DEFAULTS, "built-in defaults of compare")?);
    if full {
        doc.merge(Layered::parse(FULL, "--full budgets")?);
    }
    Ok(doc.to_toml_string())
}

/// One scored plan.
#[derive(Debug, Clone)]
struct Point {
    method: String,
    seed: u32,
    /// What the plan is within its method (`consensus`, `min-carbon`, `lattice-7`, ...).
    source: String,
    fluid: Objectives,
    discrete_event: Option<Objectives>,
    /// The plan stands for its method in the tables (one per method and seed).
    representative: bool,
}

pub fn run(full: bool, shared: &SharedArgs) -> anyhow::Result<()> {
    let defaults = defaults(full)?;
    let Some((config, _)) = configure::<Passthrough>(&defaults, "compare", shared)? else {
        return Ok(());
    };
    let c = check(&config)?;
    let scenario = Scenario::load(&resolve_scenario(&c.scenario)?, MasterSeed(c.seed))?;
    let device = c.marlin.torch.activate()?;
    let mut run = Run::start("compare", &config, c.seed, shared)?.on_device(device);
    run.manifest_mut().solver = serde_json::to_value(&c.solver)?;
    let (_, path) = within(run, |run| compare(run, &c, &scenario, device))?;
    print!("{}", std::fs::read_to_string(path.join("report.md"))?);
    println!("{}", path.display());
    Ok(())
}

/// Accepts any document (checked by [`check`], which splits it by owner).
#[derive(Debug, Deserialize)]
struct Passthrough {}

impl Validate for Passthrough {
    type Checked = ();
    fn validate(self, _: &str) -> Result<(), ConfigError> {
        Ok(())
    }
}

fn compare(
    run: &mut Run,
    c: &Checked,
    scenario: &Scenario,
    device: tch::Device,
) -> anyhow::Result<serde_json::Value> {
    let bar = run.progress(4, "methods");
    let mut points: Vec<Point> = Vec::new();
    let mut plans: Vec<(usize, FractionPlan)> = Vec::new();
    let mut fluid = FluidSimulator::new(scenario, SimParams::default());
    let mut add = |points: &mut Vec<Point>,
                   plans: &mut Vec<(usize, FractionPlan)>,
                   method: &str,
                   seed: u32,
                   source: String,
                   plan: FractionPlan,
                   representative: bool|
     -> anyhow::Result<()> {
        let o = fluid.score(&plan)?.objectives();
        plans.push((points.len(), plan));
        points.push(Point {
            method: method.to_owned(),
            seed,
            source,
            fluid: o,
            discrete_event: None,
            representative,
        });
        Ok(())
    };
    // 1. The exact front: the reference LP, or on a scenario with Green-LLM's terms (on-site
    //    renewables, which the reference LP cannot probe) Green-LLM's own epsilon front, beside
    //    its lexicographic plan.
    let mut notes: Vec<String> = Vec::new();
    let started = std::time::Instant::now();
    let (exact_count, min_carbon) = if scenario.green_llm.is_some() {
        let model = GreenLlmModel::new(scenario)?;
        let front = model.epsilon_front(c.front_grid, &c.solver)?;
        let min_carbon = model.solve_weighted(Weights::M2, &c.solver)?.plan;
        let count = front.len() + 1;
        add(
            &mut points,
            &mut plans,
            "exact",
            0,
            "min-carbon".into(),
            min_carbon.clone(),
            false,
        )?;
        for (i, sol) in front.into_iter().enumerate() {
            add(
                &mut points,
                &mut plans,
                "exact",
                0,
                format!("green-llm-front-{i}"),
                sol.plan,
                i == 0,
            )?;
        }
        let lex = model.solve_lexicographic(Objective::ORDERS[0], 0.001, 1e-6, &c.solver);
        match lex.solution() {
            Some(sol) => add(
                &mut points,
                &mut plans,
                "green-llm",
                0,
                "lexicographic cost > carbon > delay".into(),
                sol.plan.clone(),
                true,
            )?,
            None => notes.push("green-llm: the lexicographic sequence stopped early".into()),
        }
        notes.push(
            "exact: Green-LLM's own epsilon front (its LP is the scenario's accounting)".into(),
        );
        (count, min_carbon)
    } else {
        let lp = ReferenceLp::new(scenario, c.utilisation_cap)?;
        let front = lp.front(c.front_grid, &c.solver)?;
        let min_carbon = front[1].plan.clone();
        let count = front.len();
        for (i, sol) in front.into_iter().enumerate() {
            let source = match i {
                0..=3 => format!("min-{}", ["ttft", "carbon", "water", "cost"][i]),
                _ => format!("lattice-{}", i - 4),
            };
            // The min-cost plan stands for the exact method in the per-method tables.
            add(
                &mut points,
                &mut plans,
                "exact",
                0,
                source,
                sol.plan,
                i == 3,
            )?;
        }
        notes.push(format!(
            "green-llm: not applicable to {} (it has no Green-LLM terms); run it on green-llm-base",
            scenario.name
        ));
        (count, min_carbon)
    };
    let exact_s = started.elapsed().as_secs_f64();
    bar.inc(1);
    // 2. MARLIN's schemes.
    let jobs = Jobs {
        master_seed: c.seed,
        schemes: &c.marlin.schemes,
        seeds: c.seeds,
        folder: "marlin",
        resume: false,
    };
    let marlin = train_schemes(run, &jobs, scenario, &c.marlin.marlin, device)
        .map_err(|e| notes.push(format!("marlin: not run: {e:#}")))
        .unwrap_or_default();
    for r in marlin {
        let method = format!("marlin-{}", r.scheme.name());
        add(
            &mut points,
            &mut plans,
            &method,
            r.seed,
            "consensus".into(),
            r.plan,
            true,
        )?;
        for a in r.archive {
            points.push(Point {
                method: method.clone(),
                seed: r.seed,
                source: format!("day{}-{}", a.day, a.source),
                fluid: Objectives {
                    ttft_s: a.objectives[0],
                    carbon_kg: a.objectives[1],
                    water_l: a.objectives[2],
                    cost_usd: a.objectives[3],
                    energy_kwh: a.energy_kwh,
                    slo_violation_rate: a.slo_violation_rate,
                },
                discrete_event: None,
                representative: false,
            });
        }
    }
    bar.inc(1);
    // 3. The load balancer in geo mode: its agent and the strongest baseline.
    let geo = match lb::geo_plans(run, &c.lb, scenario, device) {
        Ok((_, geo, _)) => geo,
        Err(e) => {
            notes.push(format!("load balancer: not run: {e:#}"));
            Vec::new()
        }
    };
    for g in geo {
        if g.method == "shortest-expected-delay" || !lb_baseline(&g.method) {
            let method = format!("lb-{}", g.method);
            add(
                &mut points,
                &mut plans,
                &method,
                g.seed,
                "routing".into(),
                g.plan,
                true,
            )?;
        }
    }
    bar.inc(1);
    // 4. Simple rules.
    let mut rules: Vec<Box<dyn Allocator>> = vec![
        Box::new(Even),
        Box::new(Nearest),
        Box::new(RoundRobin),
        Box::new(Greedy(GreedyKey::Carbon)),
        Box::new(Greedy(GreedyKey::Price)),
    ];
    for r in &mut rules {
        let name = r.name().to_owned();
        add(
            &mut points,
            &mut plans,
            &name,
            0,
            "rule".into(),
            r.allocate(scenario)?,
            true,
        )?;
    }
    bar.inc(1);
    bar.finish_and_clear();
    let has_nodes = scenario
        .datacenters
        .iter()
        .any(|d| !d.node_pools.is_empty());
    if c.discrete_event && !has_nodes {
        notes.push("discrete-event: the scenario has no node pools; fluid scores only".into());
    }
    if c.discrete_event && has_nodes {
        let des: Vec<anyhow::Result<Objectives>> = plans
            .par_iter()
            .map(|(i, plan)| {
                discrete_event(scenario, plan, MasterSeed(c.seed.wrapping_add(*i as u64)))
            })
            .collect();
        for ((i, _), o) in plans.iter().zip(des) {
            points[*i].discrete_event = Some(o?);
        }
    }
    let exact = ExactSummary {
        plans: exact_count,
        seconds: exact_s,
        min_carbon,
    };
    write_outputs(run, c, scenario, &points, &exact, &notes)
}

/// What the report says of the exact front.
struct ExactSummary {
    plans: usize,
    seconds: f64,
    /// Its min-carbon plan, for the routing plot.
    min_carbon: FractionPlan,
}

/// The load balancer's rule baselines (geo mode routes with them too).
fn lb_baseline(method: &str) -> bool {
    verdant::lb::BASELINES.contains(&method)
}

/// Per (method, seed): PHV, PHV ratio to the exact front, gap per objective to the exact front's
/// best value (percent).
fn indicators(points: &[Point]) -> Vec<(String, u32, String, f64)> {
    let all: Vec<f64> = points
        .iter()
        .flat_map(|p| p.fluid.compared())
        .filter(|v| v.is_finite())
        .collect();
    let reference = ReferencePoint::WorstObserved.resolve([all.as_slice()], 4);
    let phv_of = |sel: &dyn Fn(&Point) -> bool| -> f64 {
        let flat: Vec<f64> = points
            .iter()
            .filter(|p| sel(p))
            .map(|p| p.fluid.compared())
            .filter(|v| v.iter().all(|x| x.is_finite()))
            .flatten()
            .collect();
        if flat.is_empty() {
            0.0
        } else {
            hypervolume(&flat, 4, &reference)
        }
    };
    let exact_phv = phv_of(&|p| p.method == "exact");
    let exact_best: Vec<f64> = (0..4)
        .map(|k| {
            points
                .iter()
                .filter(|p| p.method == "exact")
                .map(|p| p.fluid.compared()[k])
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let keys = distinct(points.iter().map(|p| (p.method.clone(), p.seed)));
    let mut out = Vec::new();
    for (method, seed) in keys {
        let sel = |p: &Point| p.method == method && p.seed == seed;
        let phv = phv_of(&sel);
        out.push((method.clone(), seed, "phv".to_owned(), phv));
        out.push((
            method.clone(),
            seed,
            "phv_ratio_to_exact".to_owned(),
            if exact_phv > 0.0 {
                phv / exact_phv
            } else {
                f64::NAN
            },
        ));
        for (k, (label, _)) in METRICS.iter().enumerate() {
            let best = points
                .iter()
                .filter(|p| sel(p))
                .map(|p| p.fluid.compared()[k])
                .fold(f64::INFINITY, f64::min);
            let gap = 100.0 * (best - exact_best[k]) / exact_best[k].abs().max(1e-12);
            out.push((
                method.clone(),
                seed,
                format!("gap_pct_{}", label.replace(' ', "_")),
                gap,
            ));
        }
    }
    out
}

fn write_outputs(
    run: &Run,
    c: &Checked,
    scenario: &Scenario,
    points: &[Point],
    exact: &ExactSummary,
    notes: &[String],
) -> anyhow::Result<serde_json::Value> {
    let (exact_count, exact_s, min_carbon) = (exact.plans, exact.seconds, &exact.min_carbon);
    let dir = run.dir();
    let mut fronts = String::from("method,seed,source,representative,fidelity,ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,slo_violation_rate\n");
    for p in points {
        for (fidelity, o) in [
            ("fluid", Some(&p.fluid)),
            ("discrete-event", p.discrete_event.as_ref()),
        ] {
            if let Some(o) = o {
                writeln!(
                    fronts,
                    "{},{},{},{},{fidelity},{},{},{},{},{},{}",
                    p.method,
                    p.seed,
                    p.source,
                    p.representative,
                    o.ttft_s,
                    o.carbon_kg,
                    o.water_l,
                    o.cost_usd,
                    o.energy_kwh,
                    o.slo_violation_rate
                )?;
            }
        }
    }
    dir.write("fronts.csv", fronts.as_bytes())?;
    let ind = indicators(points);
    let mut csv = String::from("method,seed,indicator,value\n");
    for (m, s, i, v) in &ind {
        writeln!(csv, "{m},{s},{i},{v}")?;
    }
    dir.write("indicators.csv", csv.as_bytes())?;
    let md = report_table(&parse_indicators(&csv, "indicators.csv")?);
    let mut report = format!(
        "# Optimal versus learned on `{}`\n\nEvery plan scored by the fluid simulator; the exact front has {} plans ({:.1} s to build and solve; the reference LP leaves queueing out of TTFT, the simulator's TTFT is below). PHV reference: the worst observed value of each objective over all plans. Gap: a method's best value of an objective over its plans, relative to the best on the exact front. Seeds: master {}, {} run seed(s).\n\n{md}",
        scenario.name,
        exact_count,
        exact_s,
        c.seed,
        c.seeds
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
    plots(dir.path(), scenario, points, &ind, min_carbon)?;
    Ok(serde_json::json!({
        "scenario": scenario.name,
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
    ind: &[(String, u32, String, f64)],
    min_carbon: &FractionPlan,
) -> anyhow::Result<()> {
    let methods = distinct(points.iter().map(|p| p.method.clone()));
    // Front projections: carbon against TTFT and cost against water.
    for (stem, (xi, xl), (yi, yl)) in [
        ("front_ttft_carbon", (0, "TTFT (s)"), (1, "carbon (kg)")),
        (
            "front_water_cost",
            (2, "water (L)"),
            (3, "energy cost (USD)"),
        ),
    ] {
        let series: Vec<Series> = methods
            .iter()
            .map(|m| Series {
                name: m.clone(),
                points: points
                    .iter()
                    .filter(|p| &p.method == m)
                    .map(|p| {
                        let v = p.fluid.compared();
                        (v[xi], v[yi])
                    })
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect(),
            })
            .collect();
        scatter_chart(
            dir,
            stem,
            &Chart {
                title: "Every method's plans (fluid simulator)",
                x_label: xl,
                y_label: yl,
            },
            &series,
        )?;
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

/// Rows of an indicators.csv: (method, seed, indicator, value).
fn parse_indicators(text: &str, origin: &str) -> anyhow::Result<Vec<(String, u32, String, f64)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 4 {
            bail!(
                "{origin}:{}: expected 4 fields (method,seed,indicator,value), got {}",
                n + 1,
                f.len()
            );
        }
        let seed = f[1]
            .parse()
            .with_context(|| format!("{origin}:{}: field seed {:?}", n + 1, f[1]))?;
        let value = f[3]
            .parse()
            .with_context(|| format!("{origin}:{}: field value {:?}", n + 1, f[3]))?;
        out.push((f[0].to_owned(), seed, f[2].to_owned(), value));
    }
    Ok(out)
}

/// The table "method / PHV / PHV ratio to optimal / gap per objective", mean ± 95% CI over the
/// seeds present.
fn report_table(rows: &[(String, u32, String, f64)]) -> String {
    let methods = distinct(rows.iter().map(|r| r.0.as_str()));
    let mut md = String::from("| Method | seeds | PHV | PHV ratio to optimal | gap TTFT | gap carbon | gap water | gap energy cost |\n|---|---|---|---|---|---|---|---|\n");
    for m in methods {
        let of = |i: &str| {
            mean_ci(
                &rows
                    .iter()
                    .filter(|r| r.0 == m && r.2 == i)
                    .map(|r| r.3)
                    .collect::<Vec<_>>(),
            )
        };
        let seeds = {
            let mut s: Vec<u32> = rows.iter().filter(|r| r.0 == m).map(|r| r.1).collect();
            s.sort();
            s.dedup();
            s.len()
        };
        let (phv, phv_h) = of("phv");
        let (ratio, ratio_h) = of("phv_ratio_to_exact");
        let gap = |i: &str| {
            let (g, h) = of(i);
            format!("{g:+.1}% ± {h:.1}")
        };
        let _ = writeln!(
            md,
            "| {m} | {seeds} | {phv:.4e} ± {phv_h:.1e} | {ratio:.3} ± {ratio_h:.3} | {} | {} | {} | {} |",
            gap("gap_pct_TTFT"),
            gap("gap_pct_carbon"),
            gap("gap_pct_water"),
            gap("gap_pct_energy_cost")
        );
    }
    md
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
        for (m, s, i, v) in parse_indicators(&text, &path.display().to_string())? {
            rows.push((m, s + 1000 * k as u32, i, v));
        }
    }
    println!("# Merged indicators of {} run(s)\n", runs.len());
    print!("{}", report_table(&rows));
    Ok(())
}
