//! The shared simulator: one scorer for every plan of every method.
//!
//! Two fidelities feed one accounting ([`Accountant::account`]):
//! - [`fluid`]: per epoch and datacenter from the demand table and a [`FractionPlan`] (what the LP
//!   and the papers' equations use); fast enough to sit inside training loops;
//! - [`des`]: per request, a discrete-event simulation of each datacenter's nodes with KV-cache
//!   memory, the local load balancer, weight loading, prefill and decode, and queueing.
//!
//! Both return an [`Outcome`]: per datacenter x epoch figures, totals, latency statistics and the
//! objective vector. docs/metrics.md lists every metric with its equation.

pub mod accounting;
pub mod analytic;
pub mod des;
pub mod fluid;
pub mod plan;
mod plan_csv;
pub mod planner;
pub mod queue;

use serde::{Deserialize, Serialize};

pub use accounting::{Accountant, Activity, BlowdownReading, DcEpoch};
pub use plan::{FractionPlan, PlanError};
pub use plan_csv::{plan_csv, read_plan_csv};

/// Simulator settings that the papers leave open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimParams {
    #[serde(default)]
    /// How blowdown water is read from the paper's equation.
    pub blowdown: BlowdownReading,
    /// Discrete-event: fraction of each node pool simulated (at least one node per pool); the
    /// activity of the simulated nodes is scaled back to the whole pool. 1 simulates every node.
    #[serde(default = "one")]
    pub node_fraction: f64,
    /// Discrete-event: requests waiting in one datacenter beyond this are dropped.
    #[serde(default = "default_queue")]
    pub max_waiting_per_datacenter: usize,
}

fn one() -> f64 {
    1.0
}

fn default_queue() -> usize {
    100_000
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            blowdown: BlowdownReading::default(),
            node_fraction: 1.0,
            max_waiting_per_datacenter: default_queue(),
        }
    }
}

/// Latency statistics of a simulation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Requests served (fractional in the fluid model).
    pub served: f64,
    /// Requests dropped (discrete-event: no node could ever hold them, or the queue was full).
    pub dropped: f64,
    /// Requests outside the horizon (or of an unknown origin or class), not simulated.
    pub outside_horizon: f64,
    /// Mean time to first token over served requests, seconds.
    pub mean_ttft_s: f64,
    /// Percentiles of TTFT (discrete-event only; the fluid model has one TTFT per cell).
    pub p50_ttft_s: Option<f64>,
    /// 95th percentile TTFT (discrete-event only), seconds.
    pub p95_ttft_s: Option<f64>,
    /// 99th percentile TTFT (discrete-event only), seconds.
    pub p99_ttft_s: Option<f64>,
    /// End-to-end latency: TTFT plus decoding.
    pub mean_e2e_s: f64,
    /// Median end-to-end latency (discrete-event only), seconds.
    pub p50_e2e_s: Option<f64>,
    /// 95th percentile end-to-end latency (discrete-event only), seconds.
    pub p95_e2e_s: Option<f64>,
    /// 99th percentile end-to-end latency (discrete-event only), seconds.
    pub p99_e2e_s: Option<f64>,
    /// Share of served requests whose TTFT exceeds the scenario's SLO.
    pub slo_violation_rate: f64,
}

/// The objective vector every method is compared on (all minimised).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    /// Mean time to first token, s.
    pub ttft_s: f64,
    /// Carbon, kg CO2.
    pub carbon_kg: f64,
    /// Water, L.
    pub water_l: f64,
    /// Energy cost, USD.
    pub cost_usd: f64,
    /// Facility energy, kWh.
    pub energy_kwh: f64,
    /// Share of served requests whose TTFT exceeds the SLO.
    pub slo_violation_rate: f64,
}

impl Objectives {
    /// (TTFT s, carbon kg, water L, energy cost USD): the four objectives every comparison
    /// ranks plans by, in [`Objective::ALL`]'s order.
    pub fn compared(&self) -> ObjectiveVector {
        ObjectiveVector([self.ttft_s, self.carbon_kg, self.water_l, self.cost_usd])
    }

    /// The value of one compared objective.
    pub fn get(&self, objective: Objective) -> f64 {
        self.compared()[objective]
    }
}

/// One value per compared objective, in [`Objective::ALL`]'s order; indexed by [`Objective`]
/// (or by position, for arithmetic over all four).
///
/// ```
/// use verdant::sim::{Objective, Objectives};
///
/// let o = Objectives { carbon_kg: 2.0, ..Objectives::default() };
/// assert_eq!(o.compared()[Objective::Carbon], 2.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectiveVector(pub [f64; 4]);

impl ObjectiveVector {
    /// `f` applied to each value.
    pub fn map(self, f: impl FnMut(f64) -> f64) -> Self {
        ObjectiveVector(self.0.map(f))
    }

    /// The values in order.
    pub fn iter(&self) -> std::slice::Iter<'_, f64> {
        self.0.iter()
    }

    /// The values as a slice (a point for [`crate::pareto`]).
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// Every value is finite.
    pub fn is_finite(&self) -> bool {
        self.0.iter().all(|v| v.is_finite())
    }
}

impl std::ops::Index<Objective> for ObjectiveVector {
    type Output = f64;
    fn index(&self, o: Objective) -> &f64 {
        &self.0[o.index()]
    }
}

impl std::ops::Index<usize> for ObjectiveVector {
    type Output = f64;
    fn index(&self, k: usize) -> &f64 {
        &self.0[k]
    }
}

impl From<ObjectiveVector> for [f64; 4] {
    fn from(v: ObjectiveVector) -> Self {
        v.0
    }
}

/// One of the four objectives every comparison ranks plans by (all minimised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Objective {
    /// Mean time to first token, s.
    Ttft,
    /// Carbon, kg CO2.
    Carbon,
    /// Water, L.
    Water,
    /// Energy cost, USD.
    Cost,
}

impl Objective {
    /// The four, in the order of [`Objectives::compared`].
    pub const ALL: [Objective; 4] = [
        Objective::Ttft,
        Objective::Carbon,
        Objective::Water,
        Objective::Cost,
    ];

    /// Position in [`Objectives::compared`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Name in tables: `TTFT`, `carbon`, `water`, `energy cost`.
    pub fn label(self) -> &'static str {
        match self {
            Objective::Ttft => "TTFT",
            Objective::Carbon => "carbon",
            Objective::Water => "water",
            Objective::Cost => "energy cost",
        }
    }

    /// CSV column with its unit: `ttft_s`, `carbon_kg`, `water_l`, `cost_usd`.
    pub fn column(self) -> &'static str {
        match self {
            Objective::Ttft => "ttft_s",
            Objective::Carbon => "carbon_kg",
            Objective::Water => "water_l",
            Objective::Cost => "cost_usd",
        }
    }
}

/// What a simulation gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Number of datacenters.
    pub datacenters: usize,
    /// Number of epochs.
    pub epochs: usize,
    /// Per datacenter and epoch, index `d * epochs + e`.
    pub dc_epochs: Vec<DcEpoch>,
    /// Busy share of the datacenter's GPU-seconds, same index.
    pub utilisation: Vec<f64>,
    /// Fluid only (empty from the discrete-event simulator): busy share of each GPU kind's
    /// GPU-seconds in each datacenter-epoch, `[(d * epochs + e) * kinds + g]` (0 where a
    /// datacenter has none of a kind). Above 1 the accounting caps busy time.
    pub kind_utilisation: Vec<f64>,
    /// Requests served, same index.
    pub requests: Vec<f64>,
    /// Sums over datacenters and epochs.
    pub totals: DcEpoch,
    /// Latency statistics.
    pub latency: LatencySummary,
}

impl Outcome {
    /// The figures of datacenter `d` in epoch `e`.
    pub fn dc_epoch(&self, d: usize, e: usize) -> &DcEpoch {
        &self.dc_epochs[d * self.epochs + e]
    }

    /// The objective vector.
    pub fn objectives(&self) -> Objectives {
        Objectives {
            ttft_s: self.latency.mean_ttft_s,
            carbon_kg: self.totals.carbon_kg(),
            water_l: self.totals.water_l(),
            cost_usd: self.totals.energy_cost_usd,
            energy_kwh: self.totals.facility_kwh,
            slo_violation_rate: self.latency.slo_violation_rate,
        }
    }

    /// Sets the shape, keeping allocations; zeroes what accumulates.
    fn reset(&mut self, datacenters: usize, epochs: usize) {
        self.datacenters = datacenters;
        self.epochs = epochs;
        let n = datacenters * epochs;
        // Simulators write every entry of `dc_epochs` and `utilisation`; `requests` accumulates.
        self.dc_epochs.resize(n, DcEpoch::default());
        self.utilisation.resize(n, 0.0);
        self.requests.clear();
        self.requests.resize(n, 0.0);
        self.totals = DcEpoch::default();
        self.latency = LatencySummary::default();
    }

    fn sum_totals(&mut self) {
        let mut t = DcEpoch::default();
        for x in &self.dc_epochs {
            t.add(x);
        }
        self.totals = t;
    }

    /// Writes the per datacenter x epoch series as CSV (atomically where `out` is an
    /// [`crate::run::AtomicFile`]).
    pub fn write_series_csv(
        &self,
        scenario: &crate::scenario::Scenario,
        out: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "datacenter,epoch,requests,utilisation,it_kwh,facility_kwh,grid_kwh,energy_cost_usd,carbon_tax_usd,water_evaporative_l,water_blowdown_l,water_grid_l,carbon_grid_kg,carbon_water_kg"
        )?;
        for d in 0..self.datacenters {
            for e in 0..self.epochs {
                let i = d * self.epochs + e;
                let x = &self.dc_epochs[i];
                writeln!(
                    out,
                    "{},{e},{},{},{},{},{},{},{},{},{},{},{},{}",
                    scenario.datacenters[d].name,
                    self.requests[i],
                    self.utilisation[i],
                    x.it_kwh,
                    x.facility_kwh,
                    x.grid_kwh,
                    x.energy_cost_usd,
                    x.carbon_tax_usd,
                    x.water_evaporative_l,
                    x.water_blowdown_l,
                    x.water_grid_l,
                    x.carbon_grid_kg,
                    x.carbon_water_kg
                )?;
            }
        }
        Ok(())
    }
}
