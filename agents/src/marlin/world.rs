//! What MARLIN's agents see and do in a geo scenario: the per-epoch state and conditioning, and
//! the mapping from actions to fractions over datacenters per request class (the projection onto
//! the feasible set is the core's [`EpochPlanner`]).

use verdant::allocator::rules::even_split_by_epoch;
use verdant::allocator::Problem;
use verdant::scenario::Scenario;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{ObjectiveVector, PlanError};

/// The four objectives, in agent order (that of [`verdant::sim::Objectives::compared`]).
pub const OBJECTIVES: [&str; 4] = ["ttft", "carbon", "water", "cost"];

/// The scenario as MARLIN sees it, with what depends only on the scenario precomputed.
#[derive(Debug)]
pub struct MarlinWorld<'a> {
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
    max_volume: f64,
    /// Per epoch, per datacenter: carbon, water, price normalised by their maxima over the day
    /// and datacenters, and GPU share of the fleet.
    attributes: Vec<Vec<f32>>,
    /// Objectives of the even split per epoch: the scale of rewards.
    pub reference: Vec<ObjectiveVector>,
    /// Softmax temperature from actions in [-1, 1] to fractions.
    pub action_scale: f64,
}

impl<'a> MarlinWorld<'a> {
    /// The world of `problem`; rewards are scaled by the even split's objectives under the
    /// problem's simulator settings.
    pub fn new(
        problem: &Problem<'a>,
        utilisation_cap: f64,
        action_scale: f64,
    ) -> Result<Self, PlanError> {
        let scenario = problem.scenario;
        let s = scenario;
        let planner = EpochPlanner::new(s, utilisation_cap);
        let (nd, ne) = (planner.datacenters, planner.epochs);
        let max_volume = planner
            .volumes
            .iter()
            .flatten()
            .copied()
            .fold(0.0f64, f64::max)
            .max(1e-12);
        let max_of = |f: &dyn Fn(usize, usize) -> f64| {
            let mut m = 0.0f64;
            for k in 0..nd {
                for h in 0..s.time.hours() {
                    m = m.max(f(k, h));
                }
            }
            m.max(1e-12)
        };
        let carbon = |k: usize, h: usize| s.datacenters[k].grid.carbon_kg_per_kwh[h];
        let water = |k: usize, h: usize| s.datacenters[k].grid.water_l_per_kwh[h];
        let price = |k: usize, h: usize| s.datacenters[k].grid.price_usd_per_kwh[h];
        let (cmax, wmax, pmax) = (max_of(&carbon), max_of(&water), max_of(&price));
        let available = &planner.available_gpu_s;
        let gmax = available.iter().copied().fold(0.0f64, f64::max).max(1e-12);
        let attributes = (0..ne)
            .map(|e| {
                let h = s.time.hour_of_epoch(e);
                (0..nd)
                    .flat_map(|k| {
                        [
                            (carbon(k, h) / cmax) as f32,
                            (water(k, h) / wmax) as f32,
                            (price(k, h) / pmax) as f32,
                            (available[k] / gmax) as f32,
                        ]
                    })
                    .collect()
            })
            .collect();
        let reference = even_split_by_epoch(problem, 1e-9)?;
        Ok(MarlinWorld {
            scenario,
            datacenters: nd,
            classes: planner.classes,
            epochs: ne,
            planner,
            max_volume,
            attributes,
            reference,
            action_scale,
        })
    }

    /// Length of the state: 4 values per datacenter, one predicted volume per class, and the
    /// time of day as sine and cosine.
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
        s.extend(predicted.iter().map(|&v| (v / self.max_volume) as f32));
        let phase = 2.0 * std::f64::consts::PI * e as f64 / self.epochs as f64;
        s.push(phase.sin() as f32);
        s.push(phase.cos() as f32);
        s
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

    /// Additive logit mask `[classes, datacenters]`: 0 where the datacenter hosts the class,
    /// -1e9 where it cannot (the differentiable twin of [`fractions`](Self::fractions)).
    pub fn host_mask(&self, device: tch::Device) -> tch::Tensor {
        let mask: Vec<f32> = (0..self.classes)
            .flat_map(|c| (0..self.datacenters).map(move |d| (c, d)))
            .map(|(c, d)| if self.planner.hosts(c, d) { 0.0 } else { -1e9 })
            .collect();
        tch::Tensor::from_slice(&mask)
            .view([self.classes as i64, self.datacenters as i64])
            .to_device(device)
    }
}
