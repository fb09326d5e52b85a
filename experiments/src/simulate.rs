//! `verdant simulate`: score a simple rule's plan with the fluid and discrete-event simulators.
//!
//! Writes `series_fluid.csv` and `series_discrete_event.csv` (per datacenter and epoch),
//! `requests.csv` (per request, discrete-event) and `objectives.csv` (one row per fidelity).

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use verdant::allocator::rules::{Even, Nearest};
use verdant::allocator::{Allocator, Problem};
use verdant::config::{key, ConfigError, Validate};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::des::RequestRecord;
use verdant::sim::{read_plan_csv, Objectives, Outcome};

use crate::cli::SharedArgs;
use crate::reports::{objective_fields, OBJECTIVE_COLUMNS};
use crate::run::{configure, resolve_scenario, within, Run};
use crate::scoring::{check_discrete_event_memory, SimSection, SimSettings};

pub const NAME: &str = "simulate";
pub const DEFAULTS: &str = include_str!("../configs/simulate.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Fidelity {
    Fluid,
    DiscreteEvent,
    Both,
}

/// The plan scored: a rule's, or one read from a plan file (`verdant::sim::plan_csv`'s layout).
#[derive(Debug, Clone)]
enum PlanSource {
    Even,
    Nearest,
    File(std::path::PathBuf),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateParams {
    seed: u64,
    scenario: String,
    plan: String,
    fidelity: Fidelity,
    write_requests: bool,
    sim: SimSection,
}

struct Simulate {
    seed: u64,
    scenario: String,
    plan: PlanSource,
    fidelity: Fidelity,
    write_requests: bool,
    sim: SimSettings,
}

impl Validate for SimulateParams {
    type Checked = Simulate;
    fn validate(self, prefix: &str) -> Result<Simulate, ConfigError> {
        Ok(Simulate {
            seed: self.seed,
            scenario: self.scenario,
            plan: match self.plan.as_str() {
                "even" => PlanSource::Even,
                "nearest" => PlanSource::Nearest,
                path if path.ends_with(".csv") => {
                    let path = std::path::PathBuf::from(path);
                    if !path.is_file() {
                        return Err(ConfigError::invalid(
                            key(prefix, "plan"),
                            format!("no plan file {}", path.display()),
                        ));
                    }
                    PlanSource::File(path)
                }
                other => {
                    return Err(ConfigError::invalid(
                        key(prefix, "plan"),
                        format!("{other:?} is not \"even\", \"nearest\" or a plan file (.csv)"),
                    ))
                }
            },
            fidelity: self.fidelity,
            write_requests: self.write_requests,
            sim: self.sim.check(prefix)?,
        })
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    scenario: String,
    plan: String,
    fluid: Option<Objectives>,
    discrete_event: Option<Objectives>,
    discrete_event_node_fraction: Option<f64>,
    discrete_event_requests: usize,
}

/// Checks a resolved configuration of this command (what [`crate::check_configuration`] reads).
pub(crate) fn check_config(config: &verdant::config::Layered) -> anyhow::Result<()> {
    config.checked::<SimulateParams>()?;
    Ok(())
}

pub fn run(shared: &SharedArgs) -> anyhow::Result<()> {
    let Some((config, params)) = configure::<SimulateParams>(DEFAULTS, NAME, shared)? else {
        return Ok(());
    };
    let path = resolve_scenario(&params.scenario)?;
    let scenario = Scenario::load(&path, MasterSeed(params.seed))?;
    let run = Run::start(NAME, &config, params.seed, shared)?;
    let (summary, dir) = within(run, |run| execute(&params, &scenario, run))?;
    let show = |o: &Option<Objectives>| {
        o.map_or("-".to_owned(), |o| {
            format!("TTFT {:.3} s, carbon {:.1} kg, water {:.1} L, cost {:.2} USD, SLO violations {:.1}%", o.ttft_s, o.carbon_kg, o.water_l, o.cost_usd, 100.0 * o.slo_violation_rate)
        })
    };
    println!("simulate {} on {}:", summary.plan, summary.scenario);
    println!("  fluid:          {}", show(&summary.fluid));
    println!("  discrete-event: {}", show(&summary.discrete_event));
    println!("  run directory {}", dir.display());
    Ok(())
}

fn execute(p: &Simulate, scenario: &Scenario, run: &mut Run) -> anyhow::Result<Summary> {
    // The simulator's settings, decided here once for both fidelities.
    let params = p.sim.params;
    let (plan, name) = match &p.plan {
        PlanSource::Even => (
            Even.allocate(&Problem::new(scenario, params))?,
            Even.name().to_owned(),
        ),
        PlanSource::Nearest => (
            Nearest.allocate(&Problem::new(scenario, params))?,
            Nearest.name().to_owned(),
        ),
        PlanSource::File(path) => (read_plan_csv(path, scenario)?, path.display().to_string()),
    };
    let mut summary = Summary {
        scenario: scenario.name.clone(),
        plan: name,
        fluid: None,
        discrete_event: None,
        discrete_event_node_fraction: None,
        discrete_event_requests: 0,
    };
    let mut objectives_csv = format!("fidelity,{OBJECTIVE_COLUMNS}\n");
    let mut row =
        |name: &str, o: &Objectives| writeln!(objectives_csv, "{name},{}", objective_fields(o));
    if matches!(p.fidelity, Fidelity::Fluid | Fidelity::Both) {
        let outcome = Problem::new(scenario, params).fluid().score(&plan)?;
        write_series(run, "series_fluid.csv", scenario, &outcome)?;
        row("fluid", &outcome.objectives())?;
        summary.fluid = Some(outcome.objectives());
    }
    if matches!(p.fidelity, Fidelity::DiscreteEvent | Fidelity::Both) {
        if scenario.datacenters.iter().all(|d| d.node_pools.is_empty()) {
            bail!("scenario {} has no node pools: the discrete-event fidelity needs nodes; use fidelity = \"fluid\"", scenario.name);
        }
        let params = p.sim.discrete_event(scenario);
        check_discrete_event_memory(scenario, params.node_fraction, 1)?;
        let simulator = Problem::new(scenario, params).discrete_event();
        let (requests, to) =
            simulator.plan_requests(&plan, &mut MasterSeed(p.seed).rng("simulate.requests"));
        let bar = run.progress(requests.len() as u64, "requests");
        let mut file = if p.write_requests {
            Some(run.dir().create_file("requests.csv")?)
        } else {
            None
        };
        let mut io_error = None;
        if let Some(f) = file.as_mut() {
            writeln!(f, "{}", RequestRecord::CSV_HEADER)?;
        }
        let mut done = 0u64;
        let outcome = simulator.simulate(&requests, &to, |record| {
            done += 1;
            if done % 4096 == 0 {
                bar.set_position(done);
            }
            if let (Some(f), None) = (file.as_mut(), &io_error) {
                if let Err(e) = record.write_csv(f) {
                    io_error = Some(e);
                }
            }
        })?;
        bar.finish_and_clear();
        if let Some(e) = io_error {
            return Err(e).context("writing requests.csv");
        }
        if let Some(f) = file {
            f.commit()?;
        }
        write_series(run, "series_discrete_event.csv", scenario, &outcome)?;
        row("discrete-event", &outcome.objectives())?;
        summary.discrete_event = Some(outcome.objectives());
        summary.discrete_event_node_fraction = Some(params.node_fraction);
        summary.discrete_event_requests = requests.len();
    }
    run.dir()
        .write("objectives.csv", objectives_csv.as_bytes())?;
    Ok(summary)
}

fn write_series(
    run: &Run,
    name: &str,
    scenario: &Scenario,
    outcome: &Outcome,
) -> anyhow::Result<()> {
    let mut file = run.dir().create_file(name)?;
    outcome
        .write_series_csv(scenario, &mut file)
        .with_context(|| format!("writing {name}"))?;
    file.commit()?;
    Ok(())
}
