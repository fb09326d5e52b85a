//! Allocators: anything that turns a scenario into a plan. Green-LLM, MARLIN, the load balancer
//! and the heuristics all implement [`Allocator`]; the simple rules here are the sanity checks.

use super::{FractionPlan, PlanError};
use crate::scenario::Scenario;

/// A method that produces a plan for a scenario.
pub trait Allocator {
    /// A short name for tables and file names.
    fn name(&self) -> &str;
    /// The plan for `scenario`.
    fn allocate(&mut self, scenario: &Scenario) -> Result<FractionPlan, PlanError>;
}

/// Every request split evenly over all datacenters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Even;

impl Allocator for Even {
    fn name(&self) -> &str {
        "even"
    }

    fn allocate(&mut self, s: &Scenario) -> Result<FractionPlan, PlanError> {
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

/// Every request to the datacenter with the shortest round trip from its origin (lowest index
/// on ties), whatever the load.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nearest;

impl Allocator for Nearest {
    fn name(&self) -> &str {
        "nearest"
    }

    fn allocate(&mut self, s: &Scenario) -> Result<FractionPlan, PlanError> {
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
