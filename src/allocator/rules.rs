//! The simple rules: the sanity checks every comparison includes. Each is a plain function of
//! the scenario (`plan`), which other methods also use as a starting point, and an
//! [`Allocator`].

use super::{AllocError, Allocator, Problem};
use crate::scenario::Scenario;
use crate::sim::planner::EpochPlanner;
use crate::sim::{FractionPlan, ObjectiveVector, PlanError};

/// Every request split evenly over all datacenters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Even;

impl Even {
    /// The rule's plan for `s`.
    pub fn plan(&self, s: &Scenario) -> Result<FractionPlan, PlanError> {
        let nd = s.datacenters.len();
        FractionPlan::from_fn(
            s.time.epochs,
            s.origins.len(),
            s.classes.len(),
            nd,
            |_, _, _, _| 1.0 / nd as f64,
        )
    }
}

impl Allocator for Even {
    fn name(&self) -> &str {
        "even"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        Ok(self.plan(problem.scenario)?)
    }
}

/// Every request to the datacenter with the shortest round trip from its origin (lowest index
/// on ties), whatever the load.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nearest;

impl Nearest {
    /// The rule's plan for `s`.
    pub fn plan(&self, s: &Scenario) -> Result<FractionPlan, PlanError> {
        let nearest: Vec<usize> = s
            .network
            .round_trip_s
            .iter()
            .map(|row| (0..row.len()).fold(0, |best, d| if row[d] < row[best] { d } else { best }))
            .collect();
        FractionPlan::from_fn(
            s.time.epochs,
            s.origins.len(),
            s.classes.len(),
            s.datacenters.len(),
            |_, o, _, d| {
                if d == nearest[o] {
                    1.0
                } else {
                    0.0
                }
            },
        )
    }
}

impl Allocator for Nearest {
    fn name(&self) -> &str {
        "nearest"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        Ok(self.plan(problem.scenario)?)
    }
}

/// Each (epoch, class) to one datacenter in turn (epoch e, class c: datacenter (e + c) mod n),
/// then projected onto the capacity limit (utilisation 0.95).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobin;

impl RoundRobin {
    /// The rule's plan for `s`.
    pub fn plan(&self, s: &Scenario) -> Result<FractionPlan, PlanError> {
        let planner = EpochPlanner::new(s, RULE_UTILISATION_CAP);
        let nd = planner.datacenters;
        let decisions: Vec<Vec<f64>> = (0..planner.epochs)
            .map(|e| {
                let choice: Vec<usize> = (0..planner.classes)
                    .map(|c| {
                        (0..nd)
                            .map(|k| (e + c + k) % nd)
                            .find(|&d| planner.hosts(c, d))
                            .unwrap_or(0)
                    })
                    .collect();
                let mut f = planner.one_hot(&choice);
                let volumes: Vec<f64> = planner.volumes.iter().map(|v| v[e]).collect();
                planner.project(e, &mut f, &volumes);
                f
            })
            .collect();
        planner.plan(s, &decisions)
    }
}

impl Allocator for RoundRobin {
    fn name(&self) -> &str {
        "round-robin"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        Ok(self.plan(problem.scenario)?)
    }
}

/// What a greedy rule ranks datacenters by, per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreedyKey {
    /// Grid carbon intensity.
    Carbon,
    /// Electricity price.
    Price,
}

/// Fills the datacenter with the lowest carbon intensity (or price) of the hour first, up to
/// utilisation 0.95, then the next.
#[derive(Debug, Clone, Copy)]
pub struct Greedy(pub GreedyKey);

/// Utilisation cap of the rules that respect capacity.
pub const RULE_UTILISATION_CAP: f64 = 0.95;

impl Greedy {
    /// The rule's plan for `s`.
    pub fn plan(&self, s: &Scenario) -> Result<FractionPlan, PlanError> {
        let planner = EpochPlanner::new(s, RULE_UTILISATION_CAP);
        let decisions: Vec<Vec<f64>> = (0..planner.epochs)
            .map(|e| {
                let h = s.time.hour_of_epoch(e);
                let key = |d: usize| {
                    let g = &s.datacenters[d].grid;
                    match self.0 {
                        GreedyKey::Carbon => g.carbon_kg_per_kwh[h],
                        GreedyKey::Price => g.price_usd_per_kwh[h],
                    }
                };
                let mut order: Vec<usize> = (0..planner.datacenters).collect();
                order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
                let volumes: Vec<f64> = planner.volumes.iter().map(|v| v[e]).collect();
                planner.greedy_fill(e, &order, &volumes)
            })
            .collect();
        planner.plan(s, &decisions)
    }
}

impl Allocator for Greedy {
    fn name(&self) -> &str {
        match self.0 {
            GreedyKey::Carbon => "lowest-carbon",
            GreedyKey::Price => "lowest-price",
        }
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        Ok(self.plan(problem.scenario)?)
    }
}

/// Each epoch's compared objectives ([`crate::sim::Objectives::compared`]) under the even split,
/// floored at `floor` in magnitude: the scale that per-epoch rewards are measured against.
pub fn even_split_by_epoch(
    problem: &Problem,
    floor: f64,
) -> Result<Vec<ObjectiveVector>, PlanError> {
    let s = problem.scenario;
    let even = Even.plan(s)?;
    let mut sim = problem.fluid();
    let mut out = crate::sim::Outcome::default();
    (0..s.time.epochs)
        .map(|e| {
            sim.score_epoch(&even, e, &mut out)
                .map(|o| o.compared().map(|v| v.abs().max(floor)))
        })
        .collect()
}
