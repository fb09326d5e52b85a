//! The fluid simulator: per epoch and datacenter, from the demand table and fractions.
//!
//! For datacenter d and epoch e, class c receives `R = sum_o x[e][o][c][d] requests(o, c, e)`
//! requests carrying `I` input and `O` output tokens. Inside the datacenter the local round robin
//! gives every instance that can host the class's model the same share; the GPU-seconds an
//! instance is kept busy follow [`Scenario::busy_gpu_s`] (prefill at its speed, decode batched as
//! far as memory allows, eq. 1). GPU-seconds times the phase's fraction of TDP go to the shared
//! accounting; the rest of the GPU-seconds are idle.
//!
//! Latency of a cell (o, c, d): round trip + prefill of a mean request + a queueing wait
//! `t_prefill x rho / (1 - rho)` at the datacenter's utilisation rho (an M/M/1 approximation),
//! one epoch where rho >= 1 (saturated). End to end adds the mean decode time. Classes without a
//! model (Green-LLM query types) take round trip + `v x tokens` processing + transfer
//! `KB/token x tokens x 8 / 1000 / Mbps` seconds.
//!
//! Everything that depends only on the scenario is computed once in [`FluidSimulator::new`], so
//! scoring a plan allocates nothing and does a few multiplications per cell.

use super::accounting::DcEpoch;
use super::accounting::{Accountant, Activity};
use super::{FractionPlan, Objectives, Outcome, PlanError, SimParams};
use crate::scenario::{batch_in_room, Scenario};

/// Latency sums of one epoch.
#[derive(Debug, Clone, Copy, Default)]
struct EpochLatency {
    served: f64,
    ttft_sum: f64,
    e2e_sum: f64,
    violating: f64,
}

/// The pools of one GPU kind in one datacenter, for a model's batched decode.
#[derive(Debug, Clone, Copy)]
struct DecodeHost {
    gpu: usize,
    /// share x min_gpus / decode speed: GPU-seconds per output token at batch 1.
    gpu_s_per_token: f64,
    /// [`Scenario::token_room`] of an instance: batch = [`batch_in_room`] of mean tokens.
    token_room: f64,
}

/// How a datacenter serves one model, from its pools.
#[derive(Debug, Clone, Default)]
struct ModelInDc {
    /// Prefill GPU-seconds per input token, per GPU kind.
    prefill_gpu_s_per_token: Vec<f64>,
    decode_hosts: Vec<DecodeHost>,
    /// Mean seconds of a request's prefill per input token, and decode per output token.
    prefill_s_per_token: f64,
    decode_s_per_token: f64,
    hosted: bool,
}

/// The fluid simulator of one scenario; reuse it for many plans (its buffers are kept).
pub struct FluidSimulator<'a> {
    scenario: &'a Scenario,
    /// `models[d * models + m]`.
    models: Vec<ModelInDc>,
    accountant: Accountant<'a>,
    /// One over the GPU-seconds of each datacenter per epoch (0 for a datacenter without GPUs).
    inverse_available: Vec<f64>,
    /// Per class: token energy per input and output token (0 where not given).
    token_energy: Vec<(f64, f64)>,
    /// Per (class, datacenter): processing seconds per token of model-less classes.
    processing_s_per_token: Vec<f64>,
    /// Round trips, `[origin * datacenters + d]`.
    round_trip_s: Vec<f64>,
    /// What each datacenter's GPUs did in the current epoch.
    activities: Vec<Activity>,
    /// Per datacenter: the nearest and the farthest origin's round trip.
    round_trip_range_s: Vec<(f64, f64)>,
    /// Per (class, datacenter) of the current epoch, index `c * datacenters + d`: requests,
    /// input and output tokens received.
    requests: Vec<f64>,
    input: Vec<f64>,
    output: Vec<f64>,
    /// Same index: seconds at the datacenter before the first token, and decoding.
    local_s: Vec<f64>,
    decode_s: Vec<f64>,
    /// Same index: sum over the requests of their network delay (round trip and transfer).
    network_s: Vec<f64>,
}

impl<'a> FluidSimulator<'a> {
    pub fn new(scenario: &'a Scenario, params: SimParams) -> Self {
        let s = scenario;
        let (nd, nm, nc, ng) = (
            s.datacenters.len(),
            s.models.len(),
            s.classes.len(),
            s.gpus.len(),
        );
        let mut models = Vec::with_capacity(nd * nm);
        for dc in &s.datacenters {
            for m in 0..nm {
                let model = &s.models[m];
                let total: f64 = dc.node_pools.iter().map(|p| s.instances(p, m) as f64).sum();
                let mut entry = ModelInDc {
                    prefill_gpu_s_per_token: vec![0.0; ng],
                    ..ModelInDc::default()
                };
                if total > 0.0 {
                    entry.hosted = true;
                    let gpus = f64::from(model.min_gpus);
                    for p in &dc.node_pools {
                        let (Some(speed), n) = (model.speed[p.gpu], s.instances(p, m) as f64)
                        else {
                            continue;
                        };
                        if n == 0.0 {
                            continue;
                        }
                        let share = n / total;
                        entry.prefill_gpu_s_per_token[p.gpu] +=
                            share * gpus / speed.prefill_tokens_per_s;
                        entry.prefill_s_per_token += share / speed.prefill_tokens_per_s;
                        entry.decode_s_per_token += share / speed.decode_tokens_per_s;
                        // Pools of one GPU kind share their instances' token room: merge them.
                        let per_token = share * gpus / speed.decode_tokens_per_s;
                        match entry.decode_hosts.iter_mut().find(|h| h.gpu == p.gpu) {
                            Some(h) => h.gpu_s_per_token += per_token,
                            None => entry.decode_hosts.push(DecodeHost {
                                gpu: p.gpu,
                                gpu_s_per_token: per_token,
                                token_room: s.token_room(m, p.gpu),
                            }),
                        }
                    }
                }
                models.push(entry);
            }
        }
        let accountant = Accountant::new(s, params.blowdown);
        let inverse_available = (0..nd)
            .map(|d| {
                let total: f64 = accountant.available_gpu_s(d).iter().sum();
                if total > 0.0 {
                    1.0 / total
                } else {
                    0.0
                }
            })
            .collect();
        let token_energy = s
            .classes
            .iter()
            .map(
                |c| match (c.energy_kwh_per_input_token, c.energy_kwh_per_output_token) {
                    (Some(a), Some(b)) => (a, b),
                    _ => (0.0, 0.0),
                },
            )
            .collect();
        let processing_s_per_token = (0..nc)
            .flat_map(|c| {
                s.datacenters
                    .iter()
                    .map(move |dc| dc.processing_s_per_token.get(c).copied().unwrap_or(0.0))
            })
            .collect();
        let round_trip_s: Vec<f64> = s.network.round_trip_s.iter().flatten().copied().collect();
        let round_trip_range_s = (0..nd)
            .map(|d| {
                (0..s.origins.len())
                    .map(|o| round_trip_s[o * nd + d])
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                        (lo.min(x), hi.max(x))
                    })
            })
            .collect();
        FluidSimulator {
            scenario,
            models,
            accountant,
            inverse_available,
            token_energy,
            processing_s_per_token,
            round_trip_s,
            activities: vec![Activity::default(); nd],
            round_trip_range_s,
            requests: vec![0.0; nd * nc],
            input: vec![0.0; nd * nc],
            output: vec![0.0; nd * nc],
            local_s: vec![0.0; nd * nc],
            decode_s: vec![0.0; nd * nc],
            network_s: vec![0.0; nd * nc],
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
        let [ne, _, _, nd] = self.check_shape(plan)?;
        out.reset(nd, ne);
        out.kind_utilisation.resize(nd * ne * s.gpus.len(), 0.0);
        let mut total = EpochLatency::default();
        for e in 0..ne {
            let l = self.epoch(plan, e, out);
            total.served += l.served;
            total.ttft_sum += l.ttft_sum;
            total.e2e_sum += l.e2e_sum;
            total.violating += l.violating;
        }
        let (served, ttft_sum, e2e_sum, violating) =
            (total.served, total.ttft_sum, total.e2e_sum, total.violating);
        out.sum_totals();
        out.latency.served = served;
        if served > 0.0 {
            out.latency.mean_ttft_s = ttft_sum / served;
            out.latency.mean_e2e_s = e2e_sum / served;
            out.latency.slo_violation_rate = violating / served;
        }
        Ok(())
    }

    /// Scores epoch `e` of `plan` into `out` (which has the plan's shape): its
    /// datacenter-epoch entries, utilisation and requests; returns its latency sums.
    fn epoch(&mut self, plan: &FractionPlan, e: usize, out: &mut Outcome) -> EpochLatency {
        let s = self.scenario;
        let (ne, no, nc, nd, nm) = (
            s.time.epochs,
            s.origins.len(),
            s.classes.len(),
            s.datacenters.len(),
            s.models.len(),
        );
        let demand = &s.demand;
        let transfer = match (&s.network.bandwidth_mbps, &s.green_llm) {
            (Some(b), Some(g)) => Some((b, g)),
            _ => None,
        };
        let (mut served, mut ttft_sum, mut e2e_sum, mut violating) = (0.0, 0.0, 0.0, 0.0);
        {
            let slo = s.ttft_slo_s;
            // Demand each datacenter receives, per class (contiguous over datacenters), and the
            // request-weighted network delay it carries; four datacenters at a time.
            for c in 0..nc {
                let mut d0 = 0;
                while d0 + 4 <= nd {
                    self.receive::<4>(plan, e, c, d0);
                    d0 += 4;
                }
                for d in d0..nd {
                    self.receive::<1>(plan, e, c, d);
                }
            }
            // What each datacenter's GPUs do, and the unqueued time at it per cell.
            // (Taken out of `self` while filled, so that `service_s` can borrow it.)
            let mut activities = std::mem::take(&mut self.activities);
            for (d, activity) in activities.iter_mut().enumerate() {
                activity.clear();
                for c in 0..nc {
                    let k = c * nd + d;
                    let (requests, input, output) =
                        (self.requests[k], self.input[k], self.output[k]);
                    self.local_s[k] = 0.0;
                    self.decode_s[k] = 0.0;
                    if requests <= 0.0 {
                        continue;
                    }
                    let (tin, tout) = self.token_energy[c];
                    activity.token_energy_kwh += tin * input + tout * output;
                    if let Some(m) = s.classes[c].model {
                        let entry = &self.models[d * nm + m];
                        if !entry.hosted {
                            // Nowhere to run: saturated (one epoch), no energy.
                            self.local_s[k] = s.time.epoch_s;
                            continue;
                        }
                        let model = &s.models[m];
                        for (g, per_token) in entry.prefill_gpu_s_per_token.iter().enumerate() {
                            activity.add_busy(g, per_token * input, model.prefill_tdp_fraction);
                        }
                        // One division per cell; the rest multiplies by reciprocals.
                        let per_request = 1.0 / requests;
                        let requests_per_token = requests / (input + output);
                        for h in &entry.decode_hosts {
                            let batch =
                                batch_in_room(h.token_room * requests_per_token, 1.0).max(1.0);
                            activity.add_busy(
                                h.gpu,
                                h.gpu_s_per_token * output / batch,
                                model.decode_tdp_fraction,
                            );
                        }
                        self.decode_s[k] = entry.decode_s_per_token * output * per_request;
                    }
                    self.local_s[k] = self.service_s(c, d, input, output, requests);
                }
            }
            self.activities = activities;
            // The accounting of every datacenter in one tight loop (independent chains overlap).
            for (d, activity) in self.activities.iter().enumerate() {
                out.dc_epochs[d * ne + e] = self.accountant.account(d, e, activity);
            }
            let ng = s.gpus.len();
            for (d, activity) in self.activities.iter().enumerate() {
                let i = d * ne + e;
                let rho = activity.busy_total() * self.inverse_available[d];
                out.utilisation[i] = rho;
                let available = self.accountant.available_gpu_s(d);
                for (g, slot) in out.kind_utilisation[i * ng..(i + 1) * ng]
                    .iter_mut()
                    .enumerate()
                {
                    *slot = if available[g] > 0.0 {
                        activity.busy_gpu_s[g] / available[g]
                    } else {
                        0.0
                    };
                }
                // Queueing wait of model classes at this utilisation: t rho / (1 - rho).
                let wait_per_prefill_s = if rho < 1.0 {
                    rho / (1.0 - rho)
                } else {
                    f64::INFINITY
                };
                let mut received = 0.0;
                for c in 0..nc {
                    let k = c * nd + d;
                    received += self.requests[k];
                    if s.classes[c].model.is_some() && self.requests[k] > 0.0 {
                        let t_pre = self.local_s[k];
                        self.local_s[k] = (t_pre + t_pre * wait_per_prefill_s).min(s.time.epoch_s);
                    }
                }
                out.requests[i] = received;
            }
            // Mean latencies: network delay carried plus time at the datacenter.
            for k in 0..nd * nc {
                let requests = self.requests[k];
                served += requests;
                ttft_sum += self.network_s[k] + requests * self.local_s[k];
                e2e_sum += self.network_s[k] + requests * (self.local_s[k] + self.decode_s[k]);
            }
            // SLO violations: a cell is late when its round trip (plus transfer) and local time
            // exceed the SLO. Without transfer times a cell whose farthest origin is on time has
            // none late, and one whose nearest origin is late has all its requests late; only
            // the cells in between look at each origin.
            for c in 0..nc {
                for d in 0..nd {
                    let k = c * nd + d;
                    let local = self.local_s[k];
                    let (nearest, farthest) = self.round_trip_range_s[d];
                    let late = match transfer {
                        None if farthest + local <= slo => 0.0,
                        None if nearest + local > slo => self.requests[k],
                        _ => {
                            let mut late = 0.0;
                            for o in 0..no {
                                let r = demand.requests(o, c, e);
                                if r <= 0.0 {
                                    continue;
                                }
                                let share = plan.row(e, o, c)[d];
                                let rtt = self.round_trip_s[o * nd + d];
                                let ttft = match transfer {
                                    None => rtt + local,
                                    Some((bandwidth, terms)) => {
                                        let kb = terms.kb_per_token[o][c][e]
                                            * (demand.input_tokens(o, c, e)
                                                + demand.output_tokens(o, c, e))
                                            / r;
                                        rtt + kb * 8.0 / 1000.0 / bandwidth[o][d].max(1e-3) + local
                                    }
                                };
                                late += if ttft > slo { share * r } else { 0.0 };
                            }
                            late
                        }
                    };
                    violating += late;
                }
            }
        }
        EpochLatency {
            served,
            ttft_sum,
            e2e_sum,
            violating,
        }
    }

    /// Writes the requests, input and output tokens and the request-weighted network delay that
    /// datacenters `d0 .. d0 + W` receive in class `c` and epoch `e`. The sums over origins are
    /// kept in registers, `W` datacenters side by side (the inner loop vectorises), and run over
    /// the origins in order.
    #[inline]
    fn receive<const W: usize>(&mut self, plan: &FractionPlan, e: usize, c: usize, d0: usize) {
        let s = self.scenario;
        let (demand, nd) = (&s.demand, s.datacenters.len());
        let transfer = match (&s.network.bandwidth_mbps, &s.green_llm) {
            (Some(b), Some(g)) => Some((b, g)),
            _ => None,
        };
        let (mut rq, mut inp, mut outp, mut net) = ([0.0; W], [0.0; W], [0.0; W], [0.0; W]);
        for o in 0..s.origins.len() {
            let r = demand.requests(o, c, e);
            if r <= 0.0 {
                continue;
            }
            let (i, x) = (demand.input_tokens(o, c, e), demand.output_tokens(o, c, e));
            let row = &plan.row(e, o, c)[d0..d0 + W];
            let rtt = &self.round_trip_s[o * nd + d0..o * nd + d0 + W];
            for j in 0..W {
                rq[j] += row[j] * r;
                inp[j] += row[j] * i;
                outp[j] += row[j] * x;
                net[j] += row[j] * r * rtt[j];
            }
            if let Some((bandwidth, terms)) = transfer {
                let kb = terms.kb_per_token[o][c][e] * (i + x) / r;
                for j in 0..W {
                    net[j] += row[j] * r * kb * 8.0 / 1000.0 / bandwidth[o][d0 + j].max(1e-3);
                }
            }
        }
        let k = c * nd + d0;
        self.requests[k..k + W].copy_from_slice(&rq);
        self.input[k..k + W].copy_from_slice(&inp);
        self.output[k..k + W].copy_from_slice(&outp);
        self.network_s[k..k + W].copy_from_slice(&net);
    }

    /// The plan's shape, if it is the scenario's: (epochs, origins, classes, datacenters).
    fn check_shape(&self, plan: &FractionPlan) -> Result<[usize; 4], PlanError> {
        let s = self.scenario;
        let want = [
            s.time.epochs,
            s.origins.len(),
            s.classes.len(),
            s.datacenters.len(),
        ];
        if plan.shape() == want {
            Ok(want)
        } else {
            Err(PlanError::Shape {
                got: plan.shape(),
                want,
            })
        }
    }

    /// Seconds a mean request of class `c` spends at datacenter `d` before its first token when
    /// nothing queues: the prefill of its input tokens (classes with a model; infinite where `d`
    /// hosts no instance of it), or the processing of its tokens (classes without a model), for a
    /// cell receiving `requests` requests with `input` and `output` tokens in all. The fluid
    /// simulator adds the queueing wait at the datacenter's utilisation to this.
    pub fn service_s(&self, c: usize, d: usize, input: f64, output: f64, requests: f64) -> f64 {
        let s = self.scenario;
        if requests <= 0.0 {
            return 0.0;
        }
        match s.classes[c].model {
            Some(m) => {
                let entry = &self.models[d * s.models.len() + m];
                if entry.hosted {
                    entry.prefill_s_per_token * input / requests
                } else {
                    f64::INFINITY
                }
            }
            None => {
                self.processing_s_per_token[c * s.datacenters.len() + d] * (input + output)
                    / requests
            }
        }
    }

    /// Scores only epoch `e` of `plan` (for agents that decide epoch by epoch): writes that
    /// epoch's entries of `out` (reshaped to the plan if needed) and returns the epoch's
    /// objectives (carbon, water, cost and energy of the epoch; mean TTFT and SLO violation rate
    /// of its requests). The same code as [`score_into`](Self::score_into), one epoch of it.
    pub fn score_epoch(
        &mut self,
        plan: &FractionPlan,
        e: usize,
        out: &mut Outcome,
    ) -> Result<Objectives, PlanError> {
        let s = self.scenario;
        let [ne, _, _, nd] = self.check_shape(plan)?;
        if e >= ne {
            return Err(PlanError::Epoch {
                epoch: e,
                epochs: ne,
            });
        }
        if out.datacenters != nd || out.epochs != ne || out.dc_epochs.len() != nd * ne {
            out.reset(nd, ne);
        }
        out.kind_utilisation.resize(nd * ne * s.gpus.len(), 0.0);
        let l = self.epoch(plan, e, out);
        let mut t = DcEpoch::default();
        for d in 0..nd {
            t.add(out.dc_epoch(d, e));
        }
        let per = if l.served > 0.0 { 1.0 / l.served } else { 0.0 };
        Ok(Objectives {
            ttft_s: l.ttft_sum * per,
            carbon_kg: t.carbon_kg(),
            water_l: t.water_l(),
            cost_usd: t.energy_cost_usd,
            energy_kwh: t.facility_kwh,
            slo_violation_rate: l.violating * per,
        })
    }
}
