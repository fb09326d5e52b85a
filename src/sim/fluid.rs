//! The fluid simulator: per epoch and datacenter, from the demand table and fractions.
//!
//! For datacenter d and epoch e, class c receives `R = sum_o x[e][o][c][d] requests(o, c, e)`
//! requests carrying `I` input and `O` output tokens. Inside the datacenter the local round robin
//! gives every instance that can host the class's model the same share. An instance of pool p
//! spends `I_p / prefill_speed` seconds in prefill and `O_p / (batch x decode_speed)` in decode,
//! where `batch` is how many mean requests its memory holds (eq. 1): decode is memory-bound, so
//! a step serves the whole batch. GPU-seconds times the phase's fraction of TDP go to the shared
//! accounting; the rest of the GPU-seconds are idle.
//!
//! Latency of a cell (o, c, d): round trip + prefill of a mean request + a queueing wait
//! `t_prefill x rho / (1 - rho)` at the datacenter's utilisation rho (an M/M/1 approximation),
//! one epoch where rho >= 1 (saturated). End to end adds the mean decode time. Classes without a
//! model (Green-LLM query types) take round trip + `v x tokens` processing + transfer
//! `KB/token x tokens x 8 / 1000 / Mbps` seconds.

use super::accounting::{account, Activity};
use super::{FractionPlan, Outcome, PlanError, SimParams};
use crate::scenario::{ModelSpeed, Scenario};

/// One pool's instances of one model in one datacenter.
#[derive(Debug, Clone, Copy)]
struct Host {
    gpu: usize,
    instances: f64,
    speed: ModelSpeed,
}

/// The fluid simulator of one scenario; reuse it for many plans (its buffers are kept).
pub struct FluidSimulator<'a> {
    scenario: &'a Scenario,
    params: SimParams,
    /// `hosts[d][m]`: the pools of datacenter d that can host model m.
    hosts: Vec<Vec<Vec<Host>>>,
    /// Available GPU-seconds of each datacenter per epoch.
    available_gpu_s: Vec<f64>,
    activity: Activity,
    cell: Vec<[f64; 3]>,
    prefill_s: Vec<f64>,
    decode_s: Vec<f64>,
}

impl<'a> FluidSimulator<'a> {
    pub fn new(scenario: &'a Scenario, params: SimParams) -> Self {
        let epoch_s = scenario.time.epoch_s;
        let hosts = scenario
            .datacenters
            .iter()
            .map(|dc| {
                (0..scenario.models.len())
                    .map(|m| {
                        dc.node_pools
                            .iter()
                            .filter_map(|p| {
                                let speed = scenario.models[m].speed[p.gpu]?;
                                let instances = scenario.instances(p, m) as f64;
                                (instances > 0.0).then_some(Host {
                                    gpu: p.gpu,
                                    instances,
                                    speed,
                                })
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let available_gpu_s = scenario.datacenters.iter().map(|dc| dc.gpu_count() as f64 * epoch_s).collect();
        let classes = scenario.classes.len();
        FluidSimulator {
            scenario,
            params,
            hosts,
            available_gpu_s,
            activity: Activity::zeros(scenario.gpus.len()),
            cell: vec![[0.0; 3]; classes],
            prefill_s: vec![0.0; classes],
            decode_s: vec![0.0; classes],
        }
    }

    /// Scores `plan` into a new outcome.
    pub fn score(&mut self, plan: &FractionPlan) -> Result<Outcome, PlanError> {
        let mut out = Outcome::default();
        self.score_into(plan, &mut out)?;
        Ok(out)
    }

    /// Scores `plan` into `out`, reusing its buffers (no allocation after the first call).
    pub fn score_into(&mut self, plan: &FractionPlan, out: &mut Outcome) -> Result<(), PlanError> {
        let s = self.scenario;
        let (ne, no, nc, nd) = (s.time.epochs, s.origins.len(), s.classes.len(), s.datacenters.len());
        if plan.shape() != [ne, no, nc, nd] {
            return Err(PlanError::Shape { got: plan.shape(), want: [ne, no, nc, nd] });
        }
        out.reset(nd, ne);
        let demand = &s.demand;
        let (mut served, mut ttft_sum, mut e2e_sum, mut violating) = (0.0, 0.0, 0.0, 0.0);
        for e in 0..ne {
            for d in 0..nd {
                self.activity.clear();
                for c in 0..nc {
                    let mut acc = [0.0; 3];
                    for o in 0..no {
                        let x = plan.row(e, o, c)[d];
                        if x > 0.0 {
                            acc[0] += x * demand.requests(o, c, e);
                            acc[1] += x * demand.input_tokens(o, c, e);
                            acc[2] += x * demand.output_tokens(o, c, e);
                        }
                    }
                    self.cell[c] = acc;
                    self.add_class_activity(d, c, acc);
                }
                let i = d * ne + e;
                out.dc_epochs[i] = account(s, d, e, &self.activity, self.params.blowdown);
                let busy: f64 = self.activity.busy_gpu_s.iter().sum();
                let rho = if self.available_gpu_s[d] > 0.0 { busy / self.available_gpu_s[d] } else { 0.0 };
                out.utilisation[i] = rho;
                // Latency of every (origin, class) cell sent here.
                for c in 0..nc {
                    let [requests, input, output] = self.cell[c];
                    if requests <= 0.0 {
                        continue;
                    }
                    out.requests[i] += requests;
                    let class = &s.classes[c];
                    let (local_s, decode_s) = match class.model {
                        Some(_) => {
                            let t_pre = self.prefill_s[c];
                            let wait = if rho < 1.0 { (t_pre * rho / (1.0 - rho)).min(s.time.epoch_s) } else { s.time.epoch_s };
                            (t_pre + wait, self.decode_s[c])
                        }
                        None => {
                            let dc = &s.datacenters[d];
                            let tokens = (input + output) / requests;
                            let v = dc.processing_s_per_token.get(c).copied().unwrap_or(0.0);
                            (v * tokens, 0.0)
                        }
                    };
                    for o in 0..no {
                        let x = plan.row(e, o, c)[d];
                        let r = x * demand.requests(o, c, e);
                        if r <= 0.0 {
                            continue;
                        }
                        let transfer = self.transfer_s(o, c, d, e, (input + output) / requests);
                        let ttft = s.network.round_trip_s[o][d] + transfer + local_s;
                        served += r;
                        ttft_sum += r * ttft;
                        e2e_sum += r * (ttft + decode_s);
                        if ttft > s.ttft_slo_s {
                            violating += r;
                        }
                    }
                }
            }
        }
        out.sum_totals();
        out.latency.served = served;
        if served > 0.0 {
            out.latency.mean_ttft_s = ttft_sum / served;
            out.latency.mean_e2e_s = e2e_sum / served;
            out.latency.slo_violation_rate = violating / served;
        }
        Ok(())
    }

    /// Adds class c's work in datacenter d to the activity, and records its mean prefill and
    /// decode seconds per request.
    fn add_class_activity(&mut self, d: usize, c: usize, [requests, input, output]: [f64; 3]) {
        self.prefill_s[c] = 0.0;
        self.decode_s[c] = 0.0;
        if requests <= 0.0 {
            return;
        }
        let s = self.scenario;
        let class = &s.classes[c];
        if let (Some(tin), Some(tout)) = (class.energy_kwh_per_input_token, class.energy_kwh_per_output_token) {
            self.activity.token_energy_kwh += tin * input + tout * output;
        }
        let Some(m) = class.model else { return };
        let model = &s.models[m];
        let hosts = &self.hosts[d][m];
        let total: f64 = hosts.iter().map(|h| h.instances).sum();
        if total <= 0.0 {
            // The datacenter cannot host this model: the work has nowhere to run. Count it as
            // saturation (latency of one epoch) with no energy.
            self.prefill_s[c] = s.time.epoch_s;
            return;
        }
        let mean_tokens = (input + output) / requests;
        let (mean_in, mean_out) = (input / requests, output / requests);
        for h in hosts {
            let share = h.instances / total;
            let (prefill_gpu_s, decode_gpu_s) = s
                .busy_gpu_s(m, h.gpu, share * input, share * output, mean_tokens)
                .expect("hosts have a speed");
            self.activity.add_busy(h.gpu, prefill_gpu_s, model.prefill_tdp_fraction);
            self.activity.add_busy(h.gpu, decode_gpu_s, model.decode_tdp_fraction);
            self.prefill_s[c] += share * mean_in / h.speed.prefill_tokens_per_s;
            self.decode_s[c] += share * mean_out / h.speed.decode_tokens_per_s;
        }
    }

    /// Transfer seconds of a request of `tokens` tokens from origin o to datacenter d, where the
    /// scenario gives bandwidths and KB per token (Green-LLM); 0 otherwise.
    fn transfer_s(&self, o: usize, c: usize, d: usize, e: usize, tokens: f64) -> f64 {
        let s = self.scenario;
        match (&s.network.bandwidth_mbps, &s.green_llm) {
            (Some(b), Some(g)) => g.kb_per_token[o][c][e] * tokens * 8.0 / 1000.0 / b[o][d].max(1e-3),
            _ => 0.0,
        }
    }
}
