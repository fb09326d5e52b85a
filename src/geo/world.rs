//! What an agent routing a geo scenario epoch by epoch sees and does (MARLIN's agents, the
//! Python module's environments): the per-epoch state and conditioning, and
//! the mapping from actions to fractions over datacenters per request class (the projection onto
//! the feasible set is the core's [`EpochPlanner`]).

use crate::allocator::rules::even_split_by_epoch;
use crate::allocator::Problem;
use crate::scenario::{Scenario, DAY_S};
use crate::sim::planner::EpochPlanner;
use crate::sim::{ObjectiveVector, PlanError};

/// The four objectives, in agent order (that of [`crate::sim::Objectives::compared`]).
pub const OBJECTIVES: [&str; 4] = ["ttft", "carbon", "water", "cost"];

/// The scenario as MARLIN (and the Python module's geo environments) see it, with what depends only on the scenario precomputed.
#[derive(Debug)]
pub struct GeoWorld<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Capacity, volumes, the fractions mapping and the feasibility projection (core).
    pub planner: EpochPlanner,
    /// Number of datacenters.
    pub datacenters: usize,
    /// Number of request classes.
    pub classes: usize,
    /// Number of epochs.
    pub epochs: usize,
    /// What the state's values are divided by.
    pub scales: Scales,
    /// Per epoch, per datacenter: carbon, water, price normalised by their maxima over the day
    /// and datacenters, and GPU share of the fleet.
    attributes: Vec<Vec<f32>>,
    /// Objectives of the even split per epoch: the scale of rewards.
    pub reference: Vec<ObjectiveVector>,
    /// Softmax temperature from actions in [-1, 1] to fractions.
    pub action_scale: f64,
}

/// What the state's values are divided by: the training world's largest request volume per
/// class and epoch, carbon intensity, water intensity, price and available GPU time. A trained
/// policy deployed on other days keeps its training scales (the held-out days' own maxima are
/// not known ahead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    /// Requests per class and epoch.
    pub volume: f64,
    /// Grid carbon intensity, kg/kWh.
    pub carbon_kg_per_kwh: f64,
    /// Water intensity, L/kWh.
    pub water_l_per_kwh: f64,
    /// Electricity price, USD/kWh.
    pub price_usd_per_kwh: f64,
    /// A datacenter's GPU-seconds per epoch.
    pub gpu_s: f64,
}

impl Scales {
    /// The maxima of `scenario` (each at least 1e-12).
    pub fn of(scenario: &Scenario, planner: &EpochPlanner) -> Scales {
        let s = scenario;
        let positive_max = |values: &mut dyn Iterator<Item = f64>| values.fold(1e-12f64, f64::max);
        let hourly = |f: &dyn Fn(&crate::scenario::GridSignals, usize) -> f64| {
            positive_max(
                &mut s
                    .datacenters
                    .iter()
                    .flat_map(|dc| (0..s.time.hours()).map(move |h| f(&dc.grid, h))),
            )
        };
        Scales {
            volume: positive_max(&mut planner.volumes.iter().flatten().copied()),
            carbon_kg_per_kwh: hourly(&|g, h| g.carbon_kg_per_kwh[h]),
            water_l_per_kwh: hourly(&|g, h| g.water_l_per_kwh[h]),
            price_usd_per_kwh: hourly(&|g, h| g.price_usd_per_kwh[h]),
            gpu_s: positive_max(&mut planner.available_gpu_s.iter().copied()),
        }
    }
}

impl<'a> GeoWorld<'a> {
    /// The world of `problem`; rewards are scaled by the even split's objectives under the
    /// problem's simulator settings; the state by `scales`, or by the problem's own maxima.
    pub fn new(
        problem: &Problem<'a>,
        utilisation_cap: f64,
        action_scale: f64,
        scales: Option<Scales>,
    ) -> Result<Self, PlanError> {
        let s = problem.scenario;
        let planner = EpochPlanner::new(s, utilisation_cap);
        let (nd, ne) = (planner.datacenters, planner.epochs);
        let scales = scales.unwrap_or_else(|| Scales::of(s, &planner));
        let available = &planner.available_gpu_s;
        let attributes = (0..ne)
            .map(|e| {
                let h = s.time.hour_of_epoch(e);
                (0..nd)
                    .flat_map(|k| {
                        let g = &s.datacenters[k].grid;
                        [
                            (g.carbon_kg_per_kwh[h] / scales.carbon_kg_per_kwh) as f32,
                            (g.water_l_per_kwh[h] / scales.water_l_per_kwh) as f32,
                            (g.price_usd_per_kwh[h] / scales.price_usd_per_kwh) as f32,
                            (available[k] / scales.gpu_s) as f32,
                        ]
                    })
                    .collect()
            })
            .collect();
        let reference = even_split_by_epoch(problem, 1e-9)?;
        Ok(GeoWorld {
            scenario: s,
            datacenters: nd,
            classes: planner.classes,
            epochs: ne,
            planner,
            scales,
            attributes,
            reference,
            action_scale,
        })
    }

    /// Length of the state: 4 values per datacenter, one predicted volume per class, and the
    /// time of day (UTC) as sine and cosine.
    pub fn state_len(&self) -> usize {
        4 * self.datacenters + self.classes + 2
    }

    /// Length of the conditioning vector of FiLM: the 4 weights and 3 attributes per datacenter.
    pub fn conditioning_len(&self) -> usize {
        4 + 3 * self.datacenters
    }

    /// Length of an action.
    pub fn action_len(&self) -> usize {
        self.classes * self.datacenters
    }

    /// The state of epoch `e` given the predicted volume per class.
    pub fn state(&self, e: usize, predicted: &[f64]) -> Vec<f32> {
        let mut s = self.attributes[e].clone();
        s.extend(predicted.iter().map(|&v| (v / self.scales.volume) as f32));
        let phase = 2.0 * std::f64::consts::PI * self.scenario.time.time_of_day_s(e) / DAY_S;
        s.push(phase.sin() as f32);
        s.push(phase.cos() as f32);
        s
    }

    /// Bounds of [`state`](Self::state) (`low`, `high`) for a world with its own scales
    /// (`scales` `None`): every value is over its day's largest, in [0, 1], the time of day's sine
    /// and cosine in [-1, 1].
    pub fn state_bounds(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.state_len();
        let mut low = vec![0.0f32; n];
        low[n - 2..].fill(-1.0);
        (low, vec![1.0f32; n])
    }

    /// FiLM's conditioning vector: the weights, then carbon, water and price per datacenter.
    pub fn conditioning(&self, e: usize, weights: &[f64; 4]) -> Vec<f32> {
        let mut z: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        for k in 0..self.datacenters {
            z.extend_from_slice(&self.attributes[e][4 * k..4 * k + 3]);
        }
        z
    }

    /// Fractions from an action: per class, a softmax over the hosting datacenters of
    /// `action_scale x u` ([`EpochPlanner::softmax_fractions`]).
    pub fn fractions(&self, u: &[f32]) -> Vec<f64> {
        let logits: Vec<f64> = u
            .iter()
            .map(|&x| f64::from(x) * self.action_scale)
            .collect();
        self.planner.softmax_fractions(&logits)
    }

    /// The action whose fractions ([`Self::fractions`]) are `fractions`, per class: the
    /// largest share at 1, each other at `1 + ln(share / largest) / action_scale`, raised to -1
    /// (the actor's range) where a share is below `exp(-2 action_scale)` of the largest (-1
    /// where the datacenter does not host the class). What the critics learn from is the plan
    /// executed: the projection of the actor's proposal, as this action.
    pub fn action_of(&self, fractions: &[f64]) -> Vec<f32> {
        let nd = self.datacenters;
        let mut u = vec![-1.0f32; fractions.len()];
        for c in 0..self.classes {
            let row = &fractions[c * nd..(c + 1) * nd];
            let hosted = |k: &usize| self.planner.hosts(c, *k);
            let largest = (0..nd)
                .filter(hosted)
                .map(|k| row[k])
                .fold(0.0f64, f64::max);
            if largest <= 0.0 {
                continue;
            }
            for k in (0..nd).filter(hosted) {
                let v = 1.0 + (row[k] / largest).ln() / self.action_scale;
                u[c * nd + k] = v.clamp(-1.0, 1.0) as f32;
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimParams;

    #[test]
    fn states_with_the_epochs_demand_stay_within_their_bounds() {
        let s = crate::scenario::bundled("geo-4dc").expect("geo-4dc");
        let problem = Problem::new(&s, SimParams::default());
        let world = GeoWorld::new(&problem, 0.95, 1.0, None).expect("world");
        let (low, high) = world.state_bounds();
        let mut reached_one = false;
        for e in 0..world.epochs {
            let volumes: Vec<f64> = (0..world.classes)
                .map(|c| world.planner.volumes[c][e])
                .collect();
            let state = world.state(e, &volumes);
            assert_eq!(state.len(), low.len());
            for (j, v) in state.iter().enumerate() {
                assert!(low[j] <= *v && *v <= high[j], "epoch {e}, value {j}: {v}");
                reached_one |= *v == 1.0;
            }
        }
        assert!(reached_one, "the day's largest values are scaled to 1");
    }
}
