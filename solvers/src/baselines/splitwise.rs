//! Splitwise-style phase splitting.
//!
//! Kept from Splitwise: prefill (compute-bound) and decode (memory-bound) are served by different
//! GPU pools, each phase on the pool kind best at it, and the KV cache crosses between them at a
//! cost. Simplified: the split is inside each datacenter and decides only where requests go: a
//! datacenter's per-request time is its best prefill pool's prefill time plus its best decode
//! pool's decode time plus the KV transfer (`kv_cache_mb_per_token x tokens` over
//! `kv_link_gbps`), and requests are routed in proportion to the throughput this phase-split
//! datacenter offers (its GPU-seconds over the split time), then projected onto capacity. The
//! shared simulator still serves each request whole on the datacenter's pools (it does not model
//! split phases), so the plan is scored like every other.

use verdant::allocator::{AllocError, Allocator, Problem};
use verdant::scenario::Scenario;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{FractionPlan, PlanError};

#[derive(Debug, Clone, Copy)]
/// Splitwise-style phase split: prefill and decode capacity sized separately.
pub struct Splitwise {
    /// Utilisation cap of every datacenter.
    pub utilisation_cap: f64,
    /// Bandwidth between the prefill and decode pools, Gbit/s.
    pub kv_link_gbps: f64,
}

impl Default for Splitwise {
    fn default() -> Self {
        Splitwise {
            utilisation_cap: 0.95,
            kv_link_gbps: 100.0,
        }
    }
}

impl Allocator for Splitwise {
    fn name(&self) -> &str {
        "splitwise"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        Ok(self.plan(problem.scenario)?)
    }
}

impl Splitwise {
    /// The plan for `s` (the method needs no simulator).
    pub fn plan(&self, s: &Scenario) -> Result<FractionPlan, PlanError> {
        let planner = EpochPlanner::new(s, self.utilisation_cap);
        let (nc, nd) = (planner.classes, planner.datacenters);
        let d = &s.demand;
        // Per class: mean input and output tokens over the day.
        let mut weights = vec![0.0; nc * nd];
        for (c, class) in s.classes.iter().enumerate() {
            let (mut r, mut i, mut o) = (0.0, 0.0, 0.0);
            for e in 0..d.epochs() {
                for origin in 0..d.origins() {
                    r += d.requests(origin, c, e);
                    i += d.input_tokens(origin, c, e);
                    o += d.output_tokens(origin, c, e);
                }
            }
            let (mean_in, mean_out) = if r > 0.0 { (i / r, o / r) } else { (0.0, 0.0) };
            for (k, dc) in s.datacenters.iter().enumerate() {
                if !planner.hosts(c, k) {
                    continue;
                }
                let Some(m) = class.model else {
                    weights[c * nd + k] = planner.available_gpu_s[k];
                    continue;
                };
                let model = &s.models[m];
                let speeds = dc
                    .node_pools
                    .iter()
                    .filter(|p| s.instances(p, m) > 0)
                    .filter_map(|p| model.speed[p.gpu]);
                let best_prefill = speeds
                    .clone()
                    .map(|sp| sp.prefill_tokens_per_s)
                    .fold(0.0f64, f64::max);
                let best_decode = speeds
                    .map(|sp| sp.decode_tokens_per_s)
                    .fold(0.0f64, f64::max);
                if best_prefill <= 0.0 || best_decode <= 0.0 {
                    continue;
                }
                let transfer_s = model.kv_cache_mb_per_token * (mean_in + mean_out) * 8.0
                    / 1000.0
                    / self.kv_link_gbps;
                let time_s = mean_in / best_prefill + mean_out / best_decode + transfer_s;
                weights[c * nd + k] = planner.available_gpu_s[k] / time_s.max(1e-12);
            }
        }
        let decisions: Vec<Vec<f64>> = (0..planner.epochs)
            .map(|e| {
                let mut f = vec![0.0; nc * nd];
                for c in 0..nc {
                    let row = &weights[c * nd..(c + 1) * nd];
                    let total: f64 = row.iter().sum();
                    for k in 0..nd {
                        f[c * nd + k] = if total > 0.0 {
                            row[k] / total
                        } else {
                            1.0 / nd as f64
                        };
                    }
                }
                let volumes: Vec<f64> = planner.volumes.iter().map(|v| v[e]).collect();
                planner.project(e, &mut f, &volumes);
                f
            })
            .collect();
        planner.plan(s, &decisions)
    }
}
