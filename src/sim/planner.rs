//! Plans decided per epoch and request class: fractions over the datacenters that host each
//! class's model, and their projection onto the feasible set (no datacenter above a utilisation
//! cap of its GPU-seconds). MARLIN and the search baselines decide plans this way.

use super::{FractionPlan, PlanError};
use crate::scenario::Scenario;

/// What a scenario's capacity allows, per epoch and class.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochPlanner {
    /// Number of datacenters.
    pub datacenters: usize,
    /// Number of request classes.
    pub classes: usize,
    /// Number of epochs.
    pub epochs: usize,
    /// GPU-seconds one mean request of class c keeps busy in datacenter d, `[c * nd + d]`
    /// (infinite where d cannot host the class), by [`Scenario::busy_gpu_s`].
    gpu_s_per_request: Vec<f64>,
    /// GPU-seconds per epoch of each datacenter.
    pub available_gpu_s: Vec<f64>,
    /// Requests per class and epoch, `[c][e]` (summed over origins).
    pub volumes: Vec<Vec<f64>>,
    /// Utilisation cap of the feasible set.
    pub utilisation_cap: f64,
}

impl EpochPlanner {
    /// The planner of `scenario`, keeping datacenters below `utilisation_cap`.
    pub fn new(scenario: &Scenario, utilisation_cap: f64) -> Self {
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
            let mean = s.mean_request(&s.demand, m);
            for (k, dc) in s.datacenters.iter().enumerate() {
                let shares = s.dispatch_shares(dc.local_balancer, dc.node_pools.iter(), m, mean);
                if shares.iter().all(|&x| x <= 0.0) {
                    continue;
                }
                let mut per_request = 0.0;
                for (p, &share) in dc.node_pools.iter().zip(&shares) {
                    if let Some((pre, dec)) =
                        s.busy_gpu_s(m, p, mean_in, mean_out, mean_in + mean_out)
                    {
                        per_request += share * (pre + dec);
                    }
                }
                gpu_s_per_request[c * nd + k] = per_request;
            }
        }
        let available_gpu_s = s
            .datacenters
            .iter()
            .map(|dc| dc.gpu_count() as f64 * s.time.epoch_s)
            .collect();
        EpochPlanner {
            datacenters: nd,
            classes: nc,
            epochs: ne,
            gpu_s_per_request,
            available_gpu_s,
            volumes,
            utilisation_cap,
        }
    }

    /// Values per epoch decision: one per (class, datacenter).
    pub fn decision_len(&self) -> usize {
        self.classes * self.datacenters
    }

    /// Whether datacenter `d` can serve class `c` (a class without a model, such as Green-LLM's
    /// query types, is served everywhere).
    pub fn hosts(&self, c: usize, d: usize) -> bool {
        self.gpu_s_per_request[c * self.datacenters + d].is_finite() || self.model_less(c)
    }

    fn model_less(&self, c: usize) -> bool {
        let nd = self.datacenters;
        self.gpu_s_per_request[c * nd..(c + 1) * nd]
            .iter()
            .all(|g| g.is_infinite())
    }

    /// GPU-seconds of one request of class `c` in datacenter `d` (0 for model-less classes,
    /// infinite where `d` cannot host `c`).
    pub fn gpu_s_per_request(&self, c: usize, d: usize) -> f64 {
        if self.model_less(c) {
            0.0
        } else {
            self.gpu_s_per_request[c * self.datacenters + d]
        }
    }

    /// Fractions from scores: per class, a softmax of `logits` over the datacenters that host it.
    pub fn softmax_fractions(&self, logits: &[f64]) -> Vec<f64> {
        let nd = self.datacenters;
        let mut f = vec![0.0; self.decision_len()];
        for c in 0..self.classes {
            let row = &logits[c * nd..(c + 1) * nd];
            let m = (0..nd)
                .filter(|&k| self.hosts(c, k))
                .map(|k| row[k])
                .fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for k in 0..nd {
                if self.hosts(c, k) {
                    let v = (row[k] - m).exp();
                    f[c * nd + k] = v;
                    sum += v;
                }
            }
            if sum > 0.0 && sum.is_finite() {
                for v in &mut f[c * nd..(c + 1) * nd] {
                    *v /= sum;
                }
            } else {
                f[c * nd..(c + 1) * nd].fill(1.0 / nd as f64);
            }
        }
        f
    }

    /// All of class c to one datacenter per class (`choice[c]`).
    pub fn one_hot(&self, choice: &[usize]) -> Vec<f64> {
        let nd = self.datacenters;
        let mut f = vec![0.0; self.decision_len()];
        for (c, &d) in choice.iter().enumerate() {
            f[c * nd + d.min(nd - 1)] = 1.0;
        }
        f
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
                    let g = self.gpu_s_per_request(c, k);
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
                let hosts_room: f64 = (0..nd).filter(|&k| self.hosts(c, k)).map(|k| room[k]).sum();
                for k in 0..nd {
                    if self.hosts(c, k) && hosts_room > 0.0 {
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
                        let g = self.gpu_s_per_request(c, k);
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

    /// Fills each class's `volumes` into datacenters in the given `order` (best first), each up
    /// to the utilisation cap shared by all classes; what no datacenter can take goes to the
    /// first hosting datacenter in the order. Returns fractions.
    pub fn greedy_fill(&self, order: &[usize], volumes: &[f64]) -> Vec<f64> {
        let nd = self.datacenters;
        let mut room: Vec<f64> = self
            .available_gpu_s
            .iter()
            .map(|a| a * self.utilisation_cap)
            .collect();
        let mut f = vec![0.0; self.decision_len()];
        for c in 0..self.classes {
            let mut left = volumes[c].max(0.0);
            let total = left;
            for &d in order {
                if left <= 0.0 || !self.hosts(c, d) {
                    continue;
                }
                let g = self.gpu_s_per_request(c, d);
                let take = if g > 0.0 {
                    left.min((room[d] / g).max(0.0))
                } else {
                    left
                };
                room[d] -= take * g;
                f[c * nd + d] += take;
                left -= take;
            }
            if left > 0.0 {
                if let Some(&d) = order.iter().find(|&&d| self.hosts(c, d)) {
                    f[c * nd + d] += left;
                }
            }
            let row = &mut f[c * nd..(c + 1) * nd];
            if total > 0.0 {
                row.iter_mut().for_each(|v| *v /= total);
            } else if let Some(&d) = order.iter().find(|&&d| self.hosts(c, d)) {
                row[d] = 1.0;
            }
        }
        f
    }

    /// A whole-day plan from one decision per epoch.
    pub fn plan(
        &self,
        scenario: &Scenario,
        decisions: &[Vec<f64>],
    ) -> Result<FractionPlan, PlanError> {
        let mut plan = FractionPlan::from_fn(
            self.epochs,
            scenario.origins.len(),
            self.classes,
            self.datacenters,
            |_, _, _, _| 1.0 / self.datacenters as f64,
        )?;
        for (e, f) in decisions.iter().enumerate() {
            self.write_epoch(&mut plan, e, f)?;
        }
        Ok(plan)
    }
}
