//! What MARLIN's agents see and do in a geo scenario: the per-epoch state, the mapping from
//! actions to fractions over datacenters per request class, and the projection of fractions onto
//! the feasible set (capacity with the utilisation cap).

use verdant::scenario::Scenario;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::rules::Even;
use verdant::sim::{Allocator, FractionPlan, Objectives, Outcome, PlanError, SimParams};

/// The four objectives, in agent order.
pub const OBJECTIVES: [&str; 4] = ["ttft", "carbon", "water", "cost"];

/// An objective vector as an array in [`OBJECTIVES`] order.
pub fn objective_array(o: &Objectives) -> [f64; 4] {
    [o.ttft_s, o.carbon_kg, o.water_l, o.cost_usd]
}

/// The scenario as MARLIN sees it, with what depends only on the scenario precomputed.
#[derive(Debug)]
pub struct MarlinWorld<'a> {
    pub scenario: &'a Scenario,
    pub datacenters: usize,
    pub classes: usize,
    pub epochs: usize,
    /// GPU-seconds one mean request of class c keeps busy in datacenter d, `[c * nd + d]`
    /// (infinite where d cannot host the class).
    gpu_s_per_request: Vec<f64>,
    /// GPU-seconds per epoch of each datacenter.
    available_gpu_s: Vec<f64>,
    /// Requests per class and epoch, `[c][e]` (summed over origins).
    pub volumes: Vec<Vec<f64>>,
    max_volume: f64,
    /// Per epoch, per datacenter: carbon, water, price normalised by their maxima over the day
    /// and datacenters, and GPU share of the fleet.
    attributes: Vec<Vec<f32>>,
    /// Objectives of the even split per epoch: the scale of rewards.
    pub reference: Vec<[f64; 4]>,
    /// Softmax temperature from actions in [-1, 1] to fractions.
    pub action_scale: f64,
    /// Utilisation cap of the feasible set (0.95).
    pub utilisation_cap: f64,
}

impl<'a> MarlinWorld<'a> {
    pub fn new(
        scenario: &'a Scenario,
        utilisation_cap: f64,
        action_scale: f64,
    ) -> Result<Self, PlanError> {
        let s = scenario;
        let (nd, nc, ne) = (s.datacenters.len(), s.classes.len(), s.time.epochs);
        let d = &s.demand;
        let mut volumes = vec![vec![0.0; ne]; nc];
        let (mut input, mut output) = (vec![0.0; nc], vec![0.0; nc]);
        for (c, v) in volumes.iter_mut().enumerate() {
            for (e, x) in v.iter_mut().enumerate() {
                for o in 0..d.origins() {
                    *x += d.requests(o, c, e);
                    input[c] += d.input_tokens(o, c, e);
                    output[c] += d.output_tokens(o, c, e);
                }
            }
        }
        let mut gpu_s_per_request = vec![f64::INFINITY; nc * nd];
        for (c, class) in s.classes.iter().enumerate() {
            let total: f64 = volumes[c].iter().sum();
            let (Some(m), true) = (class.model, total > 0.0) else {
                continue;
            };
            let (mean_in, mean_out) = (input[c] / total, output[c] / total);
            for (k, dc) in s.datacenters.iter().enumerate() {
                let instances: f64 = dc.node_pools.iter().map(|p| s.instances(p, m) as f64).sum();
                if instances <= 0.0 {
                    continue;
                }
                let mut per_request = 0.0;
                for p in &dc.node_pools {
                    let share = s.instances(p, m) as f64 / instances;
                    if let Some((pre, dec)) =
                        s.busy_gpu_s(m, p.gpu, mean_in, mean_out, mean_in + mean_out)
                    {
                        per_request += share * (pre + dec);
                    }
                }
                gpu_s_per_request[c * nd + k] = per_request;
            }
        }
        let available_gpu_s: Vec<f64> = s
            .datacenters
            .iter()
            .map(|dc| dc.gpu_count() as f64 * s.time.epoch_s)
            .collect();
        let max_volume = volumes
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
        let gmax = available_gpu_s
            .iter()
            .copied()
            .fold(0.0f64, f64::max)
            .max(1e-12);
        let attributes = (0..ne)
            .map(|e| {
                let h = s.time.hour_of_epoch(e);
                (0..nd)
                    .flat_map(|k| {
                        [
                            (carbon(k, h) / cmax) as f32,
                            (water(k, h) / wmax) as f32,
                            (price(k, h) / pmax) as f32,
                            (available_gpu_s[k] / gmax) as f32,
                        ]
                    })
                    .collect()
            })
            .collect();
        let even = Even.allocate(s)?;
        let mut sim = FluidSimulator::new(s, SimParams::default());
        let mut out = Outcome::default();
        let reference = (0..ne)
            .map(|e| {
                sim.score_epoch(&even, e, &mut out)
                    .map(|o| objective_array(&o).map(|v| v.abs().max(1e-9)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MarlinWorld {
            scenario,
            datacenters: nd,
            classes: nc,
            epochs: ne,
            gpu_s_per_request,
            available_gpu_s,
            volumes,
            max_volume,
            attributes,
            reference,
            action_scale,
            utilisation_cap,
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

    /// Fractions from an action: per class, a softmax over datacenters of `scale x u`, with
    /// datacenters that cannot host the class left out.
    pub fn fractions(&self, u: &[f32]) -> Vec<f64> {
        let nd = self.datacenters;
        let mut f = vec![0.0; self.action_len()];
        for c in 0..self.classes {
            let row = &u[c * nd..(c + 1) * nd];
            let hosts = |k: usize| self.gpu_s_per_request[c * nd + k].is_finite();
            let m = (0..nd)
                .filter(|&k| hosts(k))
                .map(|k| f64::from(row[k]) * self.action_scale)
                .fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for k in 0..nd {
                if hosts(k) {
                    let v = (f64::from(row[k]) * self.action_scale - m).exp();
                    f[c * nd + k] = v;
                    sum += v;
                }
            }
            if sum > 0.0 {
                for v in &mut f[c * nd..(c + 1) * nd] {
                    *v /= sum;
                }
            } else {
                f[c * nd..(c + 1) * nd].fill(1.0 / nd as f64);
            }
        }
        f
    }

    /// Additive logit mask `[classes, datacenters]`: 0 where the datacenter hosts the class,
    /// -1e9 where it cannot (the differentiable twin of [`fractions`](Self::fractions)).
    pub fn host_mask(&self, device: tch::Device) -> tch::Tensor {
        let mask: Vec<f32> = self
            .gpu_s_per_request
            .iter()
            .map(|g| if g.is_finite() { 0.0 } else { -1e9 })
            .collect();
        tch::Tensor::from_slice(&mask)
            .view([self.classes as i64, self.datacenters as i64])
            .to_device(device)
    }

    /// Projects fractions onto the feasible set for `volumes` (requests per class): no datacenter
    /// above `utilisation_cap` of its GPU-seconds where the fleet has room. Overloaded
    /// datacenters shed load in proportion, which moves to datacenters with room in proportion
    /// to their room; repeated until nothing is over (or no room is left anywhere).
    pub fn project(&self, fractions: &mut [f64], volumes: &[f64]) {
        let (nd, nc) = (self.datacenters, self.classes);
        for _ in 0..20 {
            let mut load = vec![0.0; nd];
            for c in 0..nc {
                for k in 0..nd {
                    let g = self.gpu_s_per_request[c * nd + k];
                    if g.is_finite() {
                        load[k] += fractions[c * nd + k] * volumes[c] * g;
                    }
                }
            }
            let cap: Vec<f64> = self
                .available_gpu_s
                .iter()
                .map(|a| a * self.utilisation_cap)
                .collect();
            if (0..nd).all(|k| load[k] <= cap[k] * (1.0 + 1e-9)) {
                return;
            }
            let room: Vec<f64> = (0..nd).map(|k| (cap[k] - load[k]).max(0.0)).collect();
            let total_room: f64 = room.iter().sum();
            if total_room <= 0.0 {
                return;
            }
            for c in 0..nc {
                let mut moved = 0.0;
                for k in 0..nd {
                    if load[k] > cap[k] {
                        let keep = cap[k] / load[k];
                        let x = &mut fractions[c * nd + k];
                        moved += *x * (1.0 - keep);
                        *x *= keep;
                    }
                }
                if moved <= 0.0 {
                    continue;
                }
                let hosts_room: f64 = (0..nd)
                    .filter(|&k| self.gpu_s_per_request[c * nd + k].is_finite())
                    .map(|k| room[k])
                    .sum();
                for k in 0..nd {
                    if self.gpu_s_per_request[c * nd + k].is_finite() && hosts_room > 0.0 {
                        fractions[c * nd + k] += moved * room[k] / hosts_room;
                    }
                }
                // Keep the row a distribution despite rounding.
                let sum: f64 = fractions[c * nd..(c + 1) * nd].iter().sum();
                if sum > 0.0 {
                    for v in &mut fractions[c * nd..(c + 1) * nd] {
                        *v /= sum;
                    }
                }
            }
        }
    }

    /// Utilisation per datacenter of fractions for `volumes` (GPU-seconds busy / available).
    pub fn utilisation(&self, fractions: &[f64], volumes: &[f64]) -> Vec<f64> {
        let nd = self.datacenters;
        (0..nd)
            .map(|k| {
                let busy: f64 = (0..self.classes)
                    .map(|c| {
                        let g = self.gpu_s_per_request[c * nd + k];
                        if g.is_finite() {
                            fractions[c * nd + k] * volumes[c] * g
                        } else {
                            0.0
                        }
                    })
                    .sum();
                busy / self.available_gpu_s[k].max(1e-12)
            })
            .collect()
    }

    /// Writes fractions (per class over datacenters) into epoch `e` of `plan`.
    pub fn write_epoch(
        &self,
        plan: &mut FractionPlan,
        e: usize,
        fractions: &[f64],
    ) -> Result<(), PlanError> {
        let nd = self.datacenters;
        for c in 0..self.classes {
            plan.set_epoch_class(e, c, &fractions[c * nd..(c + 1) * nd])?;
        }
        Ok(())
    }
}
