//! Worlds no method can serve: demand beyond the fleet, or a water budget below the least water
//! any plan uses. Checked once and the same way for every method ([`Problem::feasible`], called
//! on the scoring path of the comparisons and by every command that allocates), so that an
//! infeasible world is named by its constraint and the scenario field behind it, not reported in
//! a different way by whichever method meets it first (an LP's "infeasible", a learner's
//! saturated queues). A class whose model no datacenter hosts is refused earlier, when the
//! scenario is loaded.
//!
//! The checks are necessary conditions, each a bound every plan obeys: a world that passes may
//! still be infeasible for a method's own tighter constraints (the exact front's utilisation
//! cap, Green-LLM's per-datacenter capacities), which that method then reports itself.
//!
//! [`Problem::feasible`]: super::Problem::feasible

use crate::scenario::{Facility, Scenario};

/// Why no plan can serve a world.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("infeasible world {scenario}: {constraint}: {message} (scenario field {field})")]
pub struct Infeasible {
    /// The scenario's name.
    pub scenario: String,
    /// The constraint no plan meets (`fleet capacity`, `resource capacity`, `water budget`).
    pub constraint: &'static str,
    /// The scenario field that sets it.
    pub field: &'static str,
    /// By how much, where.
    pub message: String,
}

/// How far above a bound a world may be before it is infeasible (rounding).
const SLACK: f64 = 1e-9;

/// Checks `s` against every bound of this module.
pub fn check(s: &Scenario) -> Result<(), Infeasible> {
    let infeasible = |constraint, field, message| Infeasible {
        scenario: s.name.clone(),
        constraint,
        field,
        message,
    };
    let has_nodes = s.datacenters.iter().any(|d| !d.node_pools.is_empty());
    if has_nodes {
        for e in 0..s.time.epochs {
            let load = s.nominal_load(&s.demand, e);
            if load > 1.0 + SLACK {
                let how = if load.is_finite() {
                    format!("{load:.3} times the fleet's GPU time")
                } else {
                    "GPU time no node pool has (no pool holds a batch of a class's model)"
                        .to_owned()
                };
                return Err(infeasible(
                    "fleet capacity",
                    "demand.peak_utilisation",
                    format!(
                        "epoch {e}'s requests need {how}, at most 1 (lower demand.peak_utilisation, or add nodes to datacenters[].node_pools)"
                    ),
                ));
            }
        }
    }
    if let Some(g) = &s.green_llm {
        let d = &s.demand;
        // Resources: every datacenter's capacity together bounds each slot's demand.
        for (r, name) in g.resources.iter().enumerate() {
            let capacity: f64 = s
                .datacenters
                .iter()
                .map(|dc| dc.resource_capacity.get(r).copied().unwrap_or(0.0))
                .sum();
            for t in 0..s.time.epochs {
                let mut used = 0.0;
                for (k, class) in s.classes.iter().enumerate() {
                    let units = class
                        .resource_units_per_token
                        .get(r)
                        .copied()
                        .unwrap_or(0.0);
                    for i in 0..d.origins() {
                        used += units * (d.input_tokens(i, k, t) + d.output_tokens(i, k, t));
                    }
                }
                if used > capacity * (1.0 + SLACK) {
                    return Err(infeasible(
                        "resource capacity",
                        "datacenters[].resource_capacity",
                        format!(
                            "slot {t} needs {used:.6e} units of {name}, the datacenters have {capacity:.6e} together"
                        ),
                    ));
                }
            }
        }
        // Water: each request's IT energy at the datacenter of least water per kWh that slot,
        // capacity aside, is the least water any plan can use.
        let mut least_l = 0.0;
        for t in 0..s.time.epochs {
            let hour = s.time.hour_of_epoch(t);
            let per_kwh = s
                .datacenters
                .iter()
                .filter_map(|dc| match dc.facility {
                    Facility::Pue { pue } => {
                        let wue = dc
                            .grid
                            .onsite_wue_l_per_kwh
                            .get(hour)
                            .copied()
                            .unwrap_or(0.0);
                        let ewif = dc.grid.water_l_per_kwh.get(hour).copied().unwrap_or(0.0);
                        Some((wue / pue + ewif) * pue)
                    }
                    Facility::Cop { .. } => None,
                })
                .fold(f64::INFINITY, f64::min);
            if !per_kwh.is_finite() {
                continue;
            }
            for (k, class) in s.classes.iter().enumerate() {
                let (Some(e_in), Some(e_out)) = (
                    class.energy_kwh_per_input_token,
                    class.energy_kwh_per_output_token,
                ) else {
                    continue;
                };
                for i in 0..d.origins() {
                    let energy = e_in * d.input_tokens(i, k, t) + e_out * d.output_tokens(i, k, t);
                    least_l += per_kwh * energy;
                }
            }
        }
        if least_l > g.water_budget_l * (1.0 + SLACK) {
            return Err(infeasible(
                "water budget",
                "green_llm.water_budget_l (Green-LLM's Z)",
                format!(
                    "every plan uses at least {least_l:.6e} L of water over the horizon, the budget is {:.6e} L",
                    g.water_budget_l
                ),
            ));
        }
    }
    Ok(())
}
