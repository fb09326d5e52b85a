//! `verdant green-llm`: Green-LLM's weighted models, lexicographic optimisation in all six orders,
//! the epsilon-constraint front with its hypervolume, and the paper's sensitivity sweeps.
//!
//! Writes `models.csv`, `lexicographic.csv`, `front.csv`, `hourly_grid_kw.csv` and
//! `sensitivity.csv`; every solution is also scored by the shared simulator (`sim_*` columns).

use std::fmt::Write as _;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use verdant::allocator::Problem;
use verdant::config::{key, ConfigError, Validate};
use verdant::pareto::{hypervolume, ReferencePoint};
use verdant::scenario::{Scaled, Scenario};
use verdant::seed::MasterSeed;
use verdant::sim::SimParams;
use verdant_solvers::green_llm::{
    GreenLlmModel, GreenLlmSolution, MilpParams, Objective, ServerParams, Weights,
};
use verdant_solvers::{SolverOptions, SolverParams};

use crate::cli::SharedArgs;
use crate::plots::{line_chart, Chart, Series};
use crate::run::{configure, resolve_scenario, within, Run};

pub const NAME: &str = "green-llm";
pub const DEFAULTS: &str = include_str!("../configs/green-llm.toml");

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Sensitivity {
    #[serde(default)]
    renewables: Vec<f64>,
    #[serde(default)]
    carbon_intensity: Vec<f64>,
    #[serde(default)]
    token_energy: Vec<f64>,
    #[serde(default)]
    demand: Vec<f64>,
    #[serde(default)]
    price: Vec<f64>,
    #[serde(default)]
    delay_weight: Vec<f64>,
    #[serde(default)]
    delay_threshold: Vec<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MilpSection {
    enabled: bool,
    download_cost_usd: f64,
    gpu_units_per_server: f64,
    idle_kw_per_server: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GreenLlmParams {
    seed: u64,
    scenario: String,
    models: Vec<String>,
    lexicographic_eps: Vec<f64>,
    absolute_slack: f64,
    front_grid: usize,
    #[serde(default)]
    scaling_sizes: Vec<(usize, usize)>,
    #[serde(default)]
    solver: SolverParams,
    #[serde(default)]
    sensitivity: Sensitivity,
    milp: Option<MilpSection>,
}

struct Checked {
    seed: u64,
    scenario: String,
    models: Vec<(String, Weights)>,
    lexicographic_eps: Vec<f64>,
    absolute_slack: f64,
    front_grid: usize,
    scaling_sizes: Vec<(usize, usize)>,
    solver: SolverOptions,
    sensitivity: Vec<(Scaled, Vec<f64>)>,
    milp: Option<MilpParams>,
}

/// A model name: M0, M1, M2, M3, or custom weights `COST/CARBON/DELAY` (e.g. `0.2/0.5/0.3`).
fn model_weights(name: &str) -> Option<Weights> {
    match name {
        "M0" => Some(Weights::M0),
        "M1" => Some(Weights::M1),
        "M2" => Some(Weights::M2),
        "M3" => Some(Weights::M3),
        custom => {
            let w: Vec<f64> = custom
                .split('/')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            let valid = w.len() == 3
                && w.iter().all(|v| v.is_finite() && *v >= 0.0)
                && w.iter().any(|v| *v > 0.0);
            valid.then(|| Weights {
                cost: w[0],
                carbon: w[1],
                delay: w[2],
            })
        }
    }
}

impl Validate for GreenLlmParams {
    type Checked = Checked;
    fn validate(self, prefix: &str) -> Result<Checked, ConfigError> {
        let mut models = Vec::new();
        for (i, m) in self.models.iter().enumerate() {
            let w = model_weights(m).ok_or_else(|| {
                ConfigError::invalid(
                    format!("{}[{i}]", key(prefix, "models")),
                    format!("{m:?} is not one of M0, M1, M2, M3 or weights COST/CARBON/DELAY (non-negative, not all zero)"),
                )
            })?;
            models.push((m.clone(), w));
        }
        for (i, &e) in self.lexicographic_eps.iter().enumerate() {
            if !(e.is_finite() && e >= 0.0) {
                return Err(ConfigError::invalid(
                    format!("{}[{i}]", key(prefix, "lexicographic_eps")),
                    format!("must be a finite number >= 0, got {e}"),
                ));
            }
        }
        if !(self.absolute_slack.is_finite() && self.absolute_slack >= 0.0) {
            return Err(ConfigError::invalid(
                key(prefix, "absolute_slack"),
                "must be a finite number >= 0",
            ));
        }
        if let Some((i, _)) = self
            .scaling_sizes
            .iter()
            .enumerate()
            .find(|(_, (d, h))| *d == 0 || *h == 0)
        {
            return Err(ConfigError::invalid(
                format!("{}[{i}]", key(prefix, "scaling_sizes")),
                "data centres and hours must be at least 1",
            ));
        }
        if self.front_grid < 2 {
            return Err(ConfigError::invalid(
                key(prefix, "front_grid"),
                "must be at least 2",
            ));
        }
        let milp = match self.milp {
            Some(m) if m.enabled => {
                for (name, v, positive) in [
                    ("download_cost_usd", m.download_cost_usd, false),
                    ("gpu_units_per_server", m.gpu_units_per_server, true),
                    ("idle_kw_per_server", m.idle_kw_per_server, false),
                ] {
                    if !(v.is_finite() && (v > 0.0 || (!positive && v == 0.0))) {
                        return Err(ConfigError::invalid(
                            format!("{}.{name}", key(prefix, "milp")),
                            format!(
                                "must be a finite number {} 0, got {v}",
                                if positive { ">" } else { ">=" }
                            ),
                        ));
                    }
                }
                Some(MilpParams {
                    download_cost_usd: m.download_cost_usd,
                    resident: Vec::new(),
                    servers: Some(ServerParams {
                        gpu_units_per_server: m.gpu_units_per_server,
                        idle_kw_per_server: m.idle_kw_per_server,
                    }),
                })
            }
            _ => None,
        };
        let s = self.sensitivity;
        let sensitivity = vec![
            (Scaled::Renewables, s.renewables),
            (Scaled::CarbonIntensity, s.carbon_intensity),
            (Scaled::TokenEnergy, s.token_energy),
            (Scaled::Demand, s.demand),
            (Scaled::Price, s.price),
            (Scaled::DelayWeight, s.delay_weight),
            (Scaled::DelayThreshold, s.delay_threshold),
        ];
        for (scaled, values) in &sensitivity {
            let name = scaled.name();
            if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                return Err(ConfigError::invalid(
                    format!("{}.{name}", key(prefix, "sensitivity")),
                    format!("scale factors must be finite and > 0, got {v}"),
                ));
            }
        }
        Ok(Checked {
            seed: self.seed,
            scenario: self.scenario,
            models,
            lexicographic_eps: self.lexicographic_eps,
            absolute_slack: self.absolute_slack,
            front_grid: self.front_grid,
            scaling_sizes: self.scaling_sizes,
            solver: self.solver.validate(&key(prefix, "solver"))?,
            sensitivity,
            milp,
        })
    }
}

/// A sensitivity result: (psi, total cost, carbon cost, emissions), and how a plot reads it.
type Pick = fn(&(f64, f64, f64, f64)) -> f64;

const SOLUTION_HEADER: &str = "status,objective,f_e_usd,f_c_usd,f_d_usd,total_cost_usd,emissions_kg,water_l,sim_mean_latency_s,sim_carbon_kg,sim_water_l";

/// A solution's columns, its plan scored by the simulator with the default settings (the one
/// place this command decides them).
fn solution_columns(s: &Scenario, solution: &GreenLlmSolution) -> anyhow::Result<String> {
    let outcome = Problem::new(s, SimParams::default())
        .fluid()
        .score(&solution.plan)?;
    let o = outcome.objectives();
    Ok(format!(
        "{:?},{},{},{},{},{},{},{},{},{},{}",
        solution.status,
        solution.objective,
        solution.f_e,
        solution.f_c,
        solution.f_d,
        solution.f_e + solution.f_c + solution.f_d,
        solution.emissions_kg,
        solution.water_l,
        o.ttft_s,
        o.carbon_kg,
        o.water_l
    ))
}

#[derive(Debug, Serialize)]
struct Summary {
    scenario: String,
    models: Vec<(String, f64, f64, f64, f64)>,
    lexicographic_runs: usize,
    lexicographic_failed_stages: usize,
    front_points: usize,
    front_hypervolume: f64,
    front_reference: Vec<f64>,
    sensitivity_solves: usize,
    sensitivity_failures: usize,
}

/// Checks a resolved configuration of this command (what [`crate::check_configuration`] reads).
pub(crate) fn check_config(config: &verdant::config::Layered) -> anyhow::Result<()> {
    config.checked::<GreenLlmParams>()?;
    Ok(())
}

pub fn run(shared: &SharedArgs) -> anyhow::Result<()> {
    let Some((config, p)) = configure::<GreenLlmParams>(DEFAULTS, NAME, shared)? else {
        return Ok(());
    };
    let scenario = Scenario::load(&resolve_scenario(&p.scenario)?, MasterSeed(p.seed))?;
    Problem::new(&scenario, SimParams::default()).feasible()?;
    if scenario.green_llm.is_none() {
        bail!("scenario {} has no Green-LLM terms; use green-llm-base or a scenario importing a Green-LLM parameter file", scenario.name);
    }
    let mut run = Run::start(NAME, &config, p.seed, shared)?;
    run.manifest_mut().solver = serde_json::to_value(&p.solver)?;
    let (summary, dir) = within(run, |run| execute(&p, &scenario, run))?;
    println!("green-llm on {}:", summary.scenario);
    for (name, obj, f_e, f_c, f_d) in &summary.models {
        println!("  {name}: objective {obj:.4}  F_E {f_e:.4}  F_C {f_c:.5}  F_D {f_d:.3}");
    }
    println!(
        "  lexicographic: {} runs, {} failed stages; front: {} points, hypervolume {:.6e}; sensitivity: {} solves, {} failed",
        summary.lexicographic_runs, summary.lexicographic_failed_stages, summary.front_points, summary.front_hypervolume, summary.sensitivity_solves, summary.sensitivity_failures
    );
    println!("  run directory {}", dir.display());
    Ok(())
}

fn execute(p: &Checked, s: &Scenario, run: &mut Run) -> anyhow::Result<Summary> {
    let model = GreenLlmModel::new(s)?;
    let mut summary = Summary {
        scenario: s.name.clone(),
        models: Vec::new(),
        lexicographic_runs: 0,
        lexicographic_failed_stages: 0,
        front_points: 0,
        front_hypervolume: 0.0,
        front_reference: Vec::new(),
        sensitivity_solves: 0,
        sensitivity_failures: 0,
    };

    // Weighted models, with their hourly grid power.
    let mut models_csv = format!("model,{SOLUTION_HEADER}\n");
    let mut hourly = String::from("model,datacenter,hour,grid_kw\n");
    let mut hourly_series = Vec::new();
    for (name, weights) in &p.models {
        let solution = model.solve_weighted(*weights, &p.solver)?;
        let nt = s.time.epochs;
        hourly_series.push(Series {
            name: name.clone(),
            points: (0..nt)
                .map(|t| {
                    (
                        t as f64,
                        (0..s.datacenters.len())
                            .map(|j| solution.grid_kw[j * nt + t])
                            .sum(),
                    )
                })
                .collect(),
        });
        writeln!(models_csv, "{name},{}", solution_columns(s, &solution)?)?;
        let nt = s.time.epochs;
        for (j, dc) in s.datacenters.iter().enumerate() {
            for t in 0..nt {
                writeln!(
                    hourly,
                    "{name},{},{t},{}",
                    dc.name,
                    solution.grid_kw[j * nt + t]
                )?;
            }
        }
        summary.models.push((
            name.clone(),
            solution.objective,
            solution.f_e,
            solution.f_c,
            solution.f_d,
        ));
    }
    run.dir().write("models.csv", models_csv.as_bytes())?;
    if let Some(milp) = &p.milp {
        let milp_model = GreenLlmModel::new(s)?.with_milp(milp.clone())?;
        let mut milp_csv = format!("model,{SOLUTION_HEADER},build_s,solve_s\n");
        for (name, weights) in &p.models {
            let solution = milp_model.solve_weighted(*weights, &p.solver)?;
            writeln!(
                milp_csv,
                "{name},{},{},{}",
                solution_columns(s, &solution)?,
                solution.build_s,
                solution.solve_s
            )?;
        }
        run.dir().write("models_milp.csv", milp_csv.as_bytes())?;
    }
    run.dir().write("hourly_grid_kw.csv", hourly.as_bytes())?;
    line_chart(
        run.dir().path(),
        "hourly_grid_kw",
        &Chart {
            title: "Grid power bought, all data centres",
            x_label: "hour",
            y_label: "kW",
        },
        &hourly_series,
    )?;

    // Lexicographic, every order and tolerance.
    let mut lex_csv = String::from("order,eps,stage,objective,status,optimum,error\n");
    let runs = p.lexicographic_eps.len() * Objective::ORDERS.len();
    let bar = run.progress(runs as u64, "lexicographic");
    for &eps in &p.lexicographic_eps {
        for order in Objective::ORDERS {
            let lex = model.solve_lexicographic(order, eps, p.absolute_slack, &p.solver);
            let order_name = order
                .iter()
                .map(|o| format!("{o:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(">");
            for (k, stage) in lex.stages.iter().enumerate() {
                let status = stage
                    .status
                    .map_or("failed".to_owned(), |s| format!("{s:?}"));
                let optimum = stage.optimum.map_or(String::new(), |v| v.to_string());
                let error = stage.error.clone().unwrap_or_default().replace(',', ";");
                writeln!(
                    lex_csv,
                    "{order_name},{eps},{},{:?},{status},{optimum},{error}",
                    k + 1,
                    stage.objective
                )?;
            }
            summary.lexicographic_failed_stages +=
                lex.stages.iter().filter(|st| st.error.is_some()).count() + (3 - lex.stages.len());
            summary.lexicographic_runs += 1;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    run.dir().write("lexicographic.csv", lex_csv.as_bytes())?;

    // Epsilon-constraint front and its hypervolume.
    let front = model.epsilon_front(p.front_grid, &p.solver)?;
    let points: Vec<f64> = front.iter().flat_map(|f| [f.f_e, f.f_c, f.f_d]).collect();
    let reference = ReferencePoint::WorstObserved.resolve([points.as_slice()], 3);
    summary.front_points = front.len();
    summary.front_hypervolume = hypervolume(&points, 3, &reference);
    summary.front_reference = reference;
    let mut front_csv = String::from("f_e:usd:min,f_c:usd:min,f_d:usd:min\n");
    for f in &front {
        writeln!(front_csv, "{},{},{}", f.f_e, f.f_c, f.f_d)?;
    }
    run.dir().write("front.csv", front_csv.as_bytes())?;

    // Sensitivity sweeps.
    let mut sens_csv = format!("parameter,psi,model,{SOLUTION_HEADER}\n");
    let total: usize = p.sensitivity.iter().map(|(_, v)| v.len()).sum::<usize>() * p.models.len();
    let bar = run.progress(total as u64, "sensitivity");
    for (parameter, values) in &p.sensitivity {
        // Per model: (psi, total cost, carbon cost, emissions).
        let mut curves: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); p.models.len()];
        for &psi in values {
            let scenario = s.scaled(*parameter, psi)?;
            let m = GreenLlmModel::new(&scenario)?;
            for (index, (name, weights)) in p.models.iter().enumerate() {
                summary.sensitivity_solves += 1;
                match m.solve_weighted(*weights, &p.solver) {
                    Ok(solution) => {
                        writeln!(
                            sens_csv,
                            "{parameter},{psi},{name},{}",
                            solution_columns(&scenario, &solution)?
                        )?;
                        curves[index].push((
                            psi,
                            solution.f_e + solution.f_c + solution.f_d,
                            solution.f_c,
                            solution.emissions_kg,
                        ));
                    }
                    Err(e) => {
                        summary.sensitivity_failures += 1;
                        writeln!(
                            sens_csv,
                            "{parameter},{psi},{name},{},,,,,,,,,,",
                            e.to_string().replace(',', ";")
                        )?;
                    }
                }
                bar.inc(1);
            }
        }
        if values.len() > 1 {
            let panels: [(&str, &str, Pick); 3] = [
                ("total_cost", "total cost F_E + F_C + F_D (USD)", |c| c.1),
                ("carbon_cost", "carbon cost F_C (USD)", |c| c.2),
                ("emissions", "emissions (kg CO2)", |c| c.3),
            ];
            for (stem, y_label, pick) in panels {
                let series: Vec<Series> = p
                    .models
                    .iter()
                    .zip(&curves)
                    .map(|((name, _), c)| Series {
                        name: name.clone(),
                        points: c.iter().map(|v| (v.0, pick(v))).collect(),
                    })
                    .collect();
                let title = format!("Sensitivity to {parameter}");
                line_chart(
                    run.dir().path(),
                    &format!("sensitivity_{parameter}_{stem}"),
                    &Chart {
                        title: &title,
                        x_label: "scale factor psi",
                        y_label,
                    },
                    &series,
                )?;
            }
        }
    }
    bar.finish_and_clear();
    run.dir().write("sensitivity.csv", sens_csv.as_bytes())?;

    // How build and solve times grow with size.
    if !p.scaling_sizes.is_empty() {
        let mut scaling_csv = String::from(
            "datacenters,hours,x_columns,build_s,solve_s,build_share,status,objective\n",
        );
        for &(datacenters, hours) in &p.scaling_sizes {
            let big = s.replicated(datacenters, hours)?;
            let columns = big.origins.len() * datacenters * big.classes.len() * hours;
            let solution = GreenLlmModel::new(&big)?.solve_weighted(Weights::M0, &p.solver)?;
            let share = solution.build_s / (solution.build_s + solution.solve_s);
            writeln!(
                scaling_csv,
                "{datacenters},{hours},{columns},{},{},{share},{:?},{}",
                solution.build_s, solution.solve_s, solution.status, solution.objective
            )?;
            tracing::info!(
                "{datacenters} data centres x {hours} h: build {:.2} s, solve {:.2} s",
                solution.build_s,
                solution.solve_s
            );
        }
        run.dir().write("scaling.csv", scaling_csv.as_bytes())?;
    }
    Ok(summary)
}
