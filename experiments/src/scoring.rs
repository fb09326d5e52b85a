//! Scoring: every plan of every method, by the one simulator the experiment configured (its
//! [`Problem`]). Methods hand back plans; only this module turns them into objectives.

use anyhow::bail;
use rayon::prelude::*;
use serde::Deserialize;
use verdant::allocator::{Allocator, Problem, Proposal};
use verdant::config::{key, ConfigError};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::{BlowdownReading, FractionPlan, Objectives, SimParams};

/// The `[sim]` section of the commands that run both fidelities (`simulate`, `validate`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimSection {
    #[serde(default)]
    blowdown: BlowdownReading,
    /// Discrete-event: share of each pool's nodes; `None`, one node of the largest pool.
    node_fraction: Option<f64>,
    max_waiting_per_datacenter: usize,
}

/// [`SimSection`], checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimSettings {
    /// The simulator's settings for both fidelities (node fraction 1).
    pub params: SimParams,
    node_fraction: Option<f64>,
}

impl SimSection {
    /// Checks the section found under `prefix`.
    pub fn check(self, prefix: &str) -> Result<SimSettings, ConfigError> {
        if let Some(f) = self.node_fraction {
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return Err(ConfigError::invalid(
                    key(prefix, "sim.node_fraction"),
                    format!("must be in (0, 1], got {f}"),
                ));
            }
        }
        if self.max_waiting_per_datacenter == 0 {
            return Err(ConfigError::invalid(
                key(prefix, "sim.max_waiting_per_datacenter"),
                "must be at least 1",
            ));
        }
        Ok(SimSettings {
            params: SimParams {
                blowdown: self.blowdown,
                node_fraction: 1.0,
                max_waiting_per_datacenter: self.max_waiting_per_datacenter,
            },
            node_fraction: self.node_fraction,
        })
    }
}

impl SimSettings {
    /// The settings of a discrete-event run on `scenario`: the configured node share, or one
    /// node of the largest pool.
    pub fn discrete_event(&self, scenario: &Scenario) -> SimParams {
        SimParams {
            node_fraction: self
                .node_fraction
                .unwrap_or_else(|| scenario.one_node_fraction()),
            ..self.params
        }
    }

    /// How the discrete-event runs sample the nodes, in words.
    pub fn node_sample(&self) -> String {
        self.node_fraction
            .map_or("one node of the largest pool".to_owned(), |f| {
                format!("a share {f} of each pool's nodes")
            })
    }
}

/// One scored plan of one method.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    pub method: String,
    pub seed: u32,
    /// What the plan is within its method (`consensus`, `min-carbon`, `lattice-7`, ...).
    pub source: String,
    pub fluid: Objectives,
    pub discrete_event: Option<Objectives>,
    /// The plan stands for its method in the tables (one per method and seed).
    pub representative: bool,
}

/// Scored plans, with the plans kept for a later discrete-event pass.
#[derive(Debug, Default)]
pub(crate) struct Scored {
    pub points: Vec<Point>,
    plans: Vec<FractionPlan>,
}

impl Scored {
    /// Scores each proposal of `method` (seed `seed`) with the fluid simulator of `problem`.
    pub fn add(
        &mut self,
        problem: &Problem,
        method: &str,
        seed: u32,
        proposals: Vec<Proposal>,
    ) -> anyhow::Result<()> {
        let mut fluid = problem.fluid();
        for p in proposals {
            let o = fluid.score(&p.plan)?.objectives();
            self.points.push(Point {
                method: method.to_owned(),
                seed,
                source: p.source,
                fluid: o,
                discrete_event: None,
                representative: p.representative,
            });
            self.plans.push(p.plan);
        }
        Ok(())
    }

    /// Asks `allocator` for its front and scores it as method `method`, seed `seed`.
    pub fn allocate(
        &mut self,
        problem: &Problem,
        method: &str,
        seed: u32,
        allocator: &mut dyn Allocator,
    ) -> anyhow::Result<()> {
        problem.feasible()?;
        let proposals = allocator.allocate_front(problem)?;
        self.add(problem, method, seed, proposals)
    }

    /// The plan of point `i`.
    pub fn plan(&self, i: usize) -> &FractionPlan {
        &self.plans[i]
    }

    /// Scores every point whose plan `select` picks with the discrete-event simulator (in
    /// parallel); point i's requests are drawn from master seed `master + i`.
    pub fn discrete_event(
        &mut self,
        problem: &Problem,
        master: u64,
        select: impl Fn(&Point) -> bool + Sync,
    ) -> anyhow::Result<()> {
        let picked: Vec<usize> = (0..self.points.len())
            .filter(|&i| select(&self.points[i]))
            .collect();
        if has_nodes(problem) && !picked.is_empty() {
            check_discrete_event_memory(
                problem.scenario,
                problem.scenario.one_node_fraction(),
                picked.len().min(rayon::current_num_threads()),
            )?;
        }
        let scored: Vec<anyhow::Result<Objectives>> = picked
            .par_iter()
            .map(|&i| {
                discrete_event(
                    problem,
                    &self.plans[i],
                    MasterSeed(master.wrapping_add(i as u64)),
                )
            })
            .collect();
        for (i, o) in picked.into_iter().zip(scored) {
            self.points[i].discrete_event = Some(o?);
        }
        Ok(())
    }
}

/// [`verdant::sim::des::check_memory`], as this crate's error.
pub(crate) fn check_discrete_event_memory(
    scenario: &Scenario,
    node_fraction: f64,
    at_once: usize,
) -> anyhow::Result<()> {
    verdant::sim::des::check_memory(scenario, node_fraction, at_once).map_err(anyhow::Error::msg)
}

/// Whether `problem`'s scenario has nodes for the discrete-event simulator.
pub(crate) fn has_nodes(problem: &Problem) -> bool {
    problem
        .scenario
        .datacenters
        .iter()
        .any(|d| !d.node_pools.is_empty())
}

/// Scores a plan with the discrete-event simulator on one node of the largest pool (the same
/// share as `verdant simulate`), the other settings the problem's; requests drawn from `seed`.
pub(crate) fn discrete_event(
    problem: &Problem,
    plan: &FractionPlan,
    seed: MasterSeed,
) -> anyhow::Result<Objectives> {
    if !has_nodes(problem) {
        bail!(
            "scenario {} has no node pools for the discrete-event simulator; set discrete_event = false",
            problem.scenario.name
        );
    }
    let one_node = Problem::new(
        problem.scenario,
        SimParams {
            node_fraction: problem.scenario.one_node_fraction(),
            ..problem.sim
        },
    );
    let (outcome, _) = one_node.discrete_event().simulate_plan(
        plan,
        &mut seed.rng("marlin.discrete_event"),
        |_| {},
    )?;
    Ok(outcome.objectives())
}
