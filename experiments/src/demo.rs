//! `verdant demo`: the toolchain end to end on a small problem, written to a run directory.
//!
//! Solves a four-site dispatch as an LP and as a MILP with HiGHS, fits an MLP with libtorch, and
//! writes `dispatch.csv`, `mlp_curve.csv` and the manifest.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use verdant::config::{key, ConfigError, Validate};
use verdant_agents::device::device_name;
use verdant_agents::regression::{fit_sine, FitParams, FitSettings};
use verdant_agents::{TorchParams, TorchSettings};
use verdant_solvers::dispatch::{DispatchParams, DispatchProblem};
use verdant_solvers::{SolveStatus, SolverOptions, SolverParams};

use crate::cli::SharedArgs;
use crate::run::{configure, within, Run};

pub const NAME: &str = "demo";
pub const DEFAULTS: &str = include_str!("../configs/demo.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoParams {
    seed: u64,
    #[serde(default)]
    torch: TorchParams,
    #[serde(default)]
    solver: SolverParams,
    dispatch: DispatchParams,
    mlp: FitParams,
}

struct Demo {
    seed: u64,
    torch: TorchSettings,
    solver: SolverOptions,
    dispatch: DispatchProblem,
    mlp: FitSettings,
}

impl Validate for DemoParams {
    type Checked = Demo;
    fn validate(self, prefix: &str) -> Result<Demo, ConfigError> {
        Ok(Demo {
            seed: self.seed,
            torch: self.torch.validate(&key(prefix, "torch"))?,
            solver: self.solver.validate(&key(prefix, "solver"))?,
            dispatch: self.dispatch.validate(&key(prefix, "dispatch"))?,
            mlp: self.mlp.validate(&key(prefix, "mlp"))?,
        })
    }
}

/// The headline numbers, printed and stored in the manifest.
#[derive(Debug, Serialize)]
struct DemoSummary {
    lp_cost_usd: f64,
    lp_status: SolveStatus,
    milp_cost_usd: f64,
    milp_status: SolveStatus,
    mlp_initial_loss: f64,
    mlp_final_loss: f64,
    mlp_steps: u32,
    device: String,
}

/// Checks a resolved configuration of this command (what [`crate::check_configuration`] reads).
pub(crate) fn check_config(config: &verdant::config::Layered) -> anyhow::Result<()> {
    config.checked::<DemoParams>()?;
    Ok(())
}

pub fn run(shared: &SharedArgs) -> anyhow::Result<()> {
    let Some((config, demo)) = configure::<DemoParams>(DEFAULTS, NAME, shared)? else {
        return Ok(());
    };
    let mut run = Run::start(NAME, &config, demo.seed, shared)?;
    run.manifest_mut().solver = serde_json::to_value(&demo.solver)?;
    let (summary, dir) = within(run, |run| execute(&demo, run))?;
    println!(
        "demo: dispatch LP {:.4} USD ({:?}), MILP {:.4} USD ({:?}); MLP loss {:.4} -> {:.5} in {} steps on {}; run directory {}",
        summary.lp_cost_usd,
        summary.lp_status,
        summary.milp_cost_usd,
        summary.milp_status,
        summary.mlp_initial_loss,
        summary.mlp_final_loss,
        summary.mlp_steps,
        summary.device,
        dir.display()
    );
    Ok(())
}

fn execute(demo: &Demo, run: &mut Run) -> anyhow::Result<DemoSummary> {
    let lp = demo.dispatch.solve_lp(&demo.solver)?;
    let milp = demo.dispatch.solve_milp(&demo.solver)?;
    let mut csv = String::from("site,price_usd_per_request,capacity_requests,lp_served_requests,milp_served_requests,milp_servers\n");
    for (j, site) in demo.dispatch.sites().iter().enumerate() {
        writeln!(
            csv,
            "{},{},{},{},{},{}",
            site.name,
            site.price_usd_per_request,
            site.capacity_requests,
            lp.served_requests[j],
            milp.served_requests[j],
            milp.servers[j]
        )?;
    }
    run.dir().write("dispatch.csv", csv.as_bytes())?;
    tracing::info!(
        "dispatch: LP {:.4} USD, MILP {:.4} USD",
        lp.cost_usd,
        milp.cost_usd
    );

    let device = demo.torch.activate()?;
    run.manifest_mut().device = Some(device_name(device));
    let bar = run.progress(u64::from(demo.mlp.steps()), "mlp fit");
    let seed = verdant::seed::MasterSeed(demo.seed).derive("demo.mlp");
    let fit = fit_sine(&demo.mlp, seed, device, |step| {
        bar.set_position(u64::from(step))
    })?;
    bar.finish_and_clear();
    let mut curve = String::from("step,heldout_mse\n");
    writeln!(curve, "0,{}", fit.initial_loss)?;
    for (step, loss) in &fit.curve {
        writeln!(curve, "{step},{loss}")?;
    }
    run.dir().write("mlp_curve.csv", curve.as_bytes())?;

    Ok(DemoSummary {
        lp_cost_usd: lp.cost_usd,
        lp_status: lp.status,
        milp_cost_usd: milp.cost_usd,
        milp_status: milp.status,
        mlp_initial_loss: fit.initial_loss,
        mlp_final_loss: fit.final_loss,
        mlp_steps: demo.mlp.steps(),
        device: device_name(device),
    })
}
