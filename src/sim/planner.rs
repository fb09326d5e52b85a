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
    /// GPU-seconds one request of class c keeps busy in datacenter d in epoch e, at the
    /// epoch's mean input and output tokens (over the origins, as the simulator reads a cell
    /// whose origins are sent alike), `[(e * classes + c) * nd + d]`; infinite where d cannot
    /// host the class. By [`Scenario::busy_gpu_s`] over the datacenter's node pools, at the
    /// local balancer's shares.
    gpu_s_per_request: Vec<f64>,
    /// Whether datacenter d hosts class c's model, `[c * nd + d]`.
    hosted: Vec<bool>,
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
        // Input and output tokens per class and epoch, `[c][e]`.
        let (mut input, mut output) = (vec![vec![0.0; ne]; nc], vec![vec![0.0; ne]; nc]);
        for (c, v) in volumes.iter_mut().enumerate() {
            for (e, x) in v.iter_mut().enumerate() {
                for o in 0..d.origins() {
                    *x += d.requests(o, c, e);
                    input[c][e] += d.input_tokens(o, c, e);
                    output[c][e] += d.output_tokens(o, c, e);
                }
            }
        }
        let mut gpu_s_per_request = vec![f64::INFINITY; ne * nc * nd];
        let mut hosted = vec![false; nc * nd];
        for (c, class) in s.classes.iter().enumerate() {
            let total: f64 = volumes[c].iter().sum();
            let (Some(m), true) = (class.model, total > 0.0) else {
                continue;
            };
            // An epoch without requests of the class costs as the day's mean request.
            let day = (
                input[c].iter().sum::<f64>() / total,
                output[c].iter().sum::<f64>() / total,
            );
            let mean = s.mean_request(&s.demand, m);
            for (k, dc) in s.datacenters.iter().enumerate() {
                let shares = s.dispatch_shares(dc.local_balancer, dc.node_pools.iter(), m, mean);
                if shares.iter().all(|&x| x <= 0.0) {
                    continue;
                }
                hosted[c * nd + k] = true;
                for e in 0..ne {
                    let requests = volumes[c][e];
                    let (mean_in, mean_out) = if requests > 0.0 {
                        (input[c][e] / requests, output[c][e] / requests)
                    } else {
                        day
                    };
                    let mut per_request = 0.0;
                    for (p, &share) in dc.node_pools.iter().zip(&shares) {
                        if let Some((pre, dec)) =
                            s.busy_gpu_s(m, p, mean_in, mean_out, mean_in + mean_out)
                        {
                            per_request += share * (pre + dec);
                        }
                    }
                    gpu_s_per_request[(e * nc + c) * nd + k] = per_request;
                }
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
            hosted,
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
        self.hosted[c * self.datacenters + d] || self.model_less(c)
    }

    fn model_less(&self, c: usize) -> bool {
        let nd = self.datacenters;
        !self.hosted[c * nd..(c + 1) * nd].iter().any(|&h| h)
    }

    /// GPU-seconds of one request of class `c` in datacenter `d` in epoch `e` (0 for
    /// model-less classes, infinite where `d` cannot host `c`).
    pub fn gpu_s_per_request(&self, e: usize, c: usize, d: usize) -> f64 {
        if self.model_less(c) {
            0.0
        } else {
            self.gpu_s_per_request[(e * self.classes + c) * self.datacenters + d]
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

    /// Projects fractions onto the feasible set for `volumes` (requests per class): where the
    /// fleet has room (its load at most `utilisation_cap` of its GPU-seconds), no datacenter
    /// above the cap; where it has none, every datacenter at the fleet's utilisation (the load
    /// spread evenly, so none is busier than it must be). A datacenter over its limit sheds each
    /// class in proportion; the shed requests of a class move to the datacenters under their
    /// limits that host it, each taking GPU-seconds in proportion to its room (exact in one pass
    /// where a class costs the same everywhere); repeated until none is over (to 1e-9) or what
    /// is over cannot move.
    pub fn project(&self, e: usize, fractions: &mut [f64], volumes: &[f64]) {
        const PASSES: usize = 100;
        let (nd, nc) = (self.datacenters, self.classes);
        let total_available: f64 = self.available_gpu_s.iter().sum();
        for _ in 0..PASSES {
            let load = self.load(e, fractions, volumes);
            let total_load: f64 = load.iter().sum();
            let utilisation = if total_load <= self.utilisation_cap * total_available {
                self.utilisation_cap
            } else {
                total_load / total_available.max(1e-300)
            };
            let limit: Vec<f64> = self
                .available_gpu_s
                .iter()
                .map(|a| a * utilisation)
                .collect();
            let shed: Vec<f64> = (0..nd)
                .map(|k| {
                    if load[k] > limit[k] * (1.0 + 1e-9) {
                        (load[k] - limit[k]) / load[k]
                    } else {
                        0.0
                    }
                })
                .collect();
            if shed.iter().all(|&x| x == 0.0) {
                return;
            }
            let room: Vec<f64> = (0..nd).map(|k| (limit[k] - load[k]).max(0.0)).collect();
            let mut moved_any = false;
            for c in 0..nc {
                let row = &mut fractions[c * nd..(c + 1) * nd];
                // Requests per GPU-second of room at each receiver that hosts the class.
                let per_room: Vec<f64> = (0..nd)
                    .map(|k| {
                        let g = self.gpu_s_per_request(e, c, k);
                        if room[k] > 0.0 && g.is_finite() && g > 0.0 {
                            room[k] / g
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let receivers: f64 = per_room.iter().sum();
                if receivers <= 0.0 {
                    continue;
                }
                let mut moved = 0.0;
                for k in 0..nd {
                    if shed[k] > 0.0 && row[k] > 0.0 {
                        moved += row[k] * shed[k];
                        row[k] *= 1.0 - shed[k];
                    }
                }
                if moved <= 0.0 {
                    continue;
                }
                moved_any = true;
                for k in 0..nd {
                    row[k] += moved * per_room[k] / receivers;
                }
                // Keep the row a distribution despite rounding.
                let sum: f64 = row.iter().sum();
                if sum > 0.0 {
                    row.iter_mut().for_each(|v| *v /= sum);
                }
            }
            if !moved_any {
                return;
            }
        }
    }

    /// GPU-seconds of load per datacenter of fractions for `volumes` in epoch `e`.
    fn load(&self, e: usize, fractions: &[f64], volumes: &[f64]) -> Vec<f64> {
        let nd = self.datacenters;
        (0..nd)
            .map(|k| {
                (0..self.classes)
                    .map(|c| {
                        let g = self.gpu_s_per_request(e, c, k);
                        if g.is_finite() {
                            fractions[c * nd + k] * volumes[c] * g
                        } else {
                            0.0
                        }
                    })
                    .sum()
            })
            .collect()
    }

    /// Utilisation per datacenter of fractions for `volumes` in epoch `e` (GPU-seconds busy /
    /// available).
    pub fn utilisation(&self, e: usize, fractions: &[f64], volumes: &[f64]) -> Vec<f64> {
        self.load(e, fractions, volumes)
            .iter()
            .zip(&self.available_gpu_s)
            .map(|(busy, a)| busy / a.max(1e-12))
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

    /// Fills each class's `volumes` of epoch `e` into datacenters in the given `order` (best first), each up
    /// to the utilisation cap shared by all classes; what no datacenter can take goes to the
    /// first hosting datacenter in the order. Returns fractions.
    pub fn greedy_fill(&self, e: usize, order: &[usize], volumes: &[f64]) -> Vec<f64> {
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
                let g = self.gpu_s_per_request(e, c, d);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Fractions that send each class's requests by `weights` (a row per class, normalised).
    fn rows(planner: &EpochPlanner, mut weights: impl FnMut(usize, usize) -> f64) -> Vec<f64> {
        let nd = planner.datacenters;
        let mut f = vec![0.0; planner.decision_len()];
        for c in 0..planner.classes {
            let row = &mut f[c * nd..(c + 1) * nd];
            for (k, v) in row.iter_mut().enumerate() {
                *v = if planner.hosts(c, k) {
                    weights(c, k)
                } else {
                    0.0
                };
            }
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
        f
    }

    #[test]
    fn projection_reaches_the_cap_with_room_and_spreads_load_evenly_without() {
        let s = crate::scenario::bundled("geo-8dc").unwrap();
        let planner = EpochPlanner::new(&s, 0.95);
        let (nd, nc) = (planner.datacenters, planner.classes);
        let peak = (0..planner.epochs)
            .max_by(|&a, &b| planner.volumes[0][a].total_cmp(&planner.volumes[0][b]))
            .unwrap();
        let base: Vec<f64> = (0..nc).map(|c| planner.volumes[c][peak]).collect();
        let fleet = |f: &[f64], v: &[f64]| {
            let busy: f64 = planner.load(peak, f, v).iter().sum();
            busy / planner.available_gpu_s.iter().sum::<f64>()
        };
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut with_room, mut without) = (0, 0);
        for trial in 0..40 {
            // From a tenth of the fleet's cap to well beyond its GPU-seconds, skewed proposals
            // (one datacenter takes most of each class).
            let scale = 0.1 + 3.0 * trial as f64 / 40.0;
            let volumes: Vec<f64> = base.iter().map(|v| v * scale).collect();
            let hot = trial % nd;
            let mut f = rows(&planner, |_, k| if k == hot { 20.0 } else { uniform() });
            let offered = fleet(&f, &volumes);
            planner.project(peak, &mut f, &volumes);
            let u = planner.utilisation(peak, &f, &volumes);
            for c in 0..nc {
                let sum: f64 = f[c * nd..(c + 1) * nd].iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-9,
                    "trial {trial}: row {c} sums to {sum}"
                );
                assert!(f[c * nd..(c + 1) * nd].iter().all(|&x| x >= 0.0));
            }
            if offered <= 0.95 {
                with_room += 1;
                assert!(
                    u.iter().all(|&x| x <= 0.95 * (1.0 + 1e-6)),
                    "trial {trial}: fleet at {offered}, {u:?}"
                );
            } else {
                without += 1;
                // Every datacenter at the fleet's utilisation (every one hosts both classes).
                let fleet_now = fleet(&f, &volumes);
                assert!(
                    u.iter().all(|&x| (x - fleet_now).abs() <= 1e-6 * fleet_now),
                    "trial {trial}: fleet at {fleet_now}, {u:?}"
                );
            }
        }
        assert!(
            with_room >= 5 && without >= 5,
            "{with_room} with room, {without} without"
        );
        // A plan within the cap is left as it is.
        let volumes: Vec<f64> = base.iter().map(|v| v * 0.3).collect();
        let even = rows(&planner, |_, _| 1.0);
        let mut f = even.clone();
        planner.project(peak, &mut f, &volumes);
        assert_eq!(f, even);
    }

    #[test]
    fn the_gpu_seconds_per_request_are_the_simulators_in_every_epoch() {
        let s = crate::scenario::bundled("geo-8dc").unwrap();
        let planner = EpochPlanner::new(&s, 0.95);
        let (nd, nc) = (planner.datacenters, planner.classes);
        // The even split at nominal load: nothing carried, every datacenter below its GPUs, so
        // each epoch's busy GPU-seconds are what its requests bring.
        let plan = crate::allocator::rules::Even.plan(&s).unwrap();
        let mut sim = crate::sim::fluid::FluidSimulator::new(&s, crate::sim::SimParams::default());
        sim.score(&plan).unwrap();
        assert!(!sim.carried() && !sim.spilled());
        let mut spread = 0.0f64;
        for e in 0..planner.epochs {
            let volumes: Vec<f64> = (0..nc).map(|c| planner.volumes[c][e]).collect();
            let f: Vec<f64> = (0..nc * nd)
                .map(|i| plan.row(e, 0, i / nd)[i % nd])
                .collect();
            let load = planner.load(e, &f, &volumes);
            for (d, planned) in load.iter().enumerate() {
                let busy: f64 = sim.logged_activity(e, d).busy_gpu_s.iter().sum();
                let error = (planned - busy).abs() / busy;
                assert!(
                    error < 1e-9,
                    "epoch {e}, datacenter {d}: {planned} against {busy}"
                );
            }
            for c in 0..nc {
                let g = planner.gpu_s_per_request(e, c, 0);
                let first = planner.gpu_s_per_request(0, c, 0);
                spread = spread.max((g / first - 1.0).abs());
            }
        }
        // The epochs' requests differ in size (the day's mean would be off by this much).
        assert!(spread > 0.05, "{spread}");
    }
}
