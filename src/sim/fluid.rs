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
use super::accounting::{Accountant, Activity, MAX_GPU_KINDS};
use super::{FractionPlan, Objectives, Outcome, PlanError, SimParams};
use crate::scenario::{batch_in_room, Datacenter, GreenLlmTerms, Scenario};

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
#[derive(Debug, Clone, Copy)]
struct ModelService {
    /// Mean seconds of a request's prefill per input token, and decode per output token.
    prefill_s_per_token: f64,
    decode_s_per_token: f64,
    /// Fractions of TDP drawn in prefill and decode.
    prefill_tdp_fraction: f64,
    decode_tdp_fraction: f64,
    /// Prefill GPU-seconds per input token, per GPU kind (the scenario's kinds first).
    prefill_gpu_s_per_token: [f64; MAX_GPU_KINDS],
    /// The GPU kinds that decode it (the first `hosts`).
    decode_hosts: [DecodeHost; MAX_GPU_KINDS],
    hosts: usize,
}

impl ModelService {
    /// Model `m` on `dc`'s pools; `None` where no pool hosts an instance of it.
    fn new(s: &Scenario, dc: &Datacenter, m: usize) -> Option<Self> {
        let model = &s.models[m];
        let total: f64 = dc.node_pools.iter().map(|p| s.instances(p, m) as f64).sum();
        if total <= 0.0 {
            return None;
        }
        let mut service = ModelService {
            prefill_s_per_token: 0.0,
            decode_s_per_token: 0.0,
            prefill_tdp_fraction: model.prefill_tdp_fraction,
            decode_tdp_fraction: model.decode_tdp_fraction,
            prefill_gpu_s_per_token: [0.0; MAX_GPU_KINDS],
            decode_hosts: [DecodeHost {
                gpu: 0,
                gpu_s_per_token: 0.0,
                token_room: 0.0,
            }; MAX_GPU_KINDS],
            hosts: 0,
        };
        let gpus = f64::from(model.min_gpus);
        for p in &dc.node_pools {
            let (Some(speed), n) = (model.speed[p.gpu], s.instances(p, m) as f64) else {
                continue;
            };
            if n == 0.0 {
                continue;
            }
            let share = n / total;
            service.prefill_gpu_s_per_token[p.gpu] += share * gpus / speed.prefill_tokens_per_s;
            service.prefill_s_per_token += share / speed.prefill_tokens_per_s;
            service.decode_s_per_token += share / speed.decode_tokens_per_s;
            // Pools of one GPU kind share their instances' token room: merge them.
            let per_token = share * gpus / speed.decode_tokens_per_s;
            let hosts = &mut service.decode_hosts[..service.hosts];
            match hosts.iter_mut().find(|h| h.gpu == p.gpu) {
                Some(h) => h.gpu_s_per_token += per_token,
                None => {
                    service.decode_hosts[service.hosts] = DecodeHost {
                        gpu: p.gpu,
                        gpu_s_per_token: per_token,
                        token_room: s.token_room(m, p.gpu),
                    };
                    service.hosts += 1;
                }
            }
        }
        Some(service)
    }
}

/// How a cell (class, datacenter) is served: everything the fluid step reads for it, in one
/// place, so that scoring walks one array instead of the scenario's tables.
// The cells live side by side in one vector that scoring walks; boxing the large variant
// would put a pointer chase on that path to save memory nobody is short of.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
enum Service {
    /// The class's model runs here: prefill and decode on the datacenter's pools.
    Model(ModelService),
    /// The class's model has no instance here: saturated (one epoch), no energy.
    Unhosted,
    /// A class without a model: processing seconds per token.
    Processing { s_per_token: f64 },
}

/// One (class, datacenter) cell: its token energy and how it is served.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Token energy per input and output token, kWh (0 where not given).
    input_kwh_per_token: f64,
    output_kwh_per_token: f64,
    service: Service,
}

impl Cell {
    /// [`FluidSimulator::service_s`] of this cell receiving `1 / per_request` requests.
    #[inline]
    fn unqueued_s(&self, input: f64, output: f64, per_request: f64) -> f64 {
        match self.service {
            Service::Model(ref m) => m.prefill_s_per_token * input * per_request,
            Service::Unhosted => f64::INFINITY,
            Service::Processing { s_per_token } => s_per_token * (input + output) * per_request,
        }
    }
}

/// Bandwidths and the Green-LLM terms, where the scenario gives both: then requests also take
/// the time to transfer their tokens.
fn transfer_terms(s: &Scenario) -> Option<(&Vec<Vec<f64>>, &GreenLlmTerms)> {
    match (&s.network.bandwidth_mbps, &s.green_llm) {
        (Some(b), Some(g)) => Some((b, g)),
        _ => None,
    }
}

/// Seconds to transfer `kb` kilobytes at `mbps` (at least 0.001 Mbps).
#[inline]
fn transfer_s(kb: f64, mbps: f64) -> f64 {
    kb * 8.0 / 1000.0 / mbps.max(1e-3)
}

/// The fluid simulator of one scenario; reuse it for many plans (its buffers are kept).
pub struct FluidSimulator<'a> {
    scenario: &'a Scenario,
    /// `cells[c * datacenters + d]`.
    cells: Vec<Cell>,
    accountant: Accountant<'a>,
    /// One over the GPU-seconds of each datacenter per epoch (0 for a datacenter without GPUs).
    inverse_available: Vec<f64>,
    /// The same per GPU kind, `[d * kinds + g]`.
    inverse_available_by_kind: Vec<f64>,
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
        let (nd, nm, nc) = (s.datacenters.len(), s.models.len(), s.classes.len());
        // Per (datacenter, model), shared by the classes of that model.
        let models: Vec<Option<ModelService>> = s
            .datacenters
            .iter()
            .flat_map(|dc| (0..nm).map(move |m| ModelService::new(s, dc, m)))
            .collect();
        let accountant = Accountant::new(s, params.blowdown);
        let inverse = |x: f64| if x > 0.0 { 1.0 / x } else { 0.0 };
        let inverse_available_by_kind = (0..nd)
            .flat_map(|d| accountant.available_gpu_s(d).iter().map(|&a| inverse(a)))
            .collect();
        let inverse_available = (0..nd)
            .map(|d| inverse(accountant.available_gpu_s(d).iter().sum()))
            .collect();
        let cells = (0..nc)
            .flat_map(|c| (0..nd).map(move |d| (c, d)))
            .map(|(c, d)| {
                let class = &s.classes[c];
                let (input_kwh_per_token, output_kwh_per_token) = match (
                    class.energy_kwh_per_input_token,
                    class.energy_kwh_per_output_token,
                ) {
                    (Some(a), Some(b)) => (a, b),
                    _ => (0.0, 0.0),
                };
                let service = match class.model {
                    Some(m) => models[d * nm + m].map_or(Service::Unhosted, Service::Model),
                    None => Service::Processing {
                        s_per_token: s.datacenters[d]
                            .processing_s_per_token
                            .get(c)
                            .copied()
                            .unwrap_or(0.0),
                    },
                };
                Cell {
                    input_kwh_per_token,
                    output_kwh_per_token,
                    service,
                }
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
            cells,
            accountant,
            inverse_available,
            inverse_available_by_kind,
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
        let (ne, no, nc, nd) = (
            s.time.epochs,
            s.origins.len(),
            s.classes.len(),
            s.datacenters.len(),
        );
        let demand = &s.demand;
        let transfer = transfer_terms(s);
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
            let ng = s.gpus.len();
            for (d, activity) in self.activities.iter_mut().enumerate() {
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
                    // Per-request times multiply by this reciprocal.
                    let per_request = 1.0 / requests;
                    let cell = &self.cells[k];
                    activity.token_energy_kwh +=
                        cell.input_kwh_per_token * input + cell.output_kwh_per_token * output;
                    if let Service::Model(ref m) = cell.service {
                        for (g, per_token) in m.prefill_gpu_s_per_token[..ng].iter().enumerate() {
                            activity.add_busy(g, per_token * input, m.prefill_tdp_fraction);
                        }
                        let requests_per_token = requests / (input + output);
                        for h in &m.decode_hosts[..m.hosts] {
                            let batch =
                                batch_in_room(h.token_room * requests_per_token, 1.0).max(1.0);
                            activity.add_busy(
                                h.gpu,
                                h.gpu_s_per_token * output / batch,
                                m.decode_tdp_fraction,
                            );
                        }
                        self.decode_s[k] = m.decode_s_per_token * output * per_request;
                    }
                    self.local_s[k] = match cell.service {
                        // Nowhere to run: saturated (one epoch), no energy.
                        Service::Unhosted => s.time.epoch_s,
                        _ => cell.unqueued_s(input, output, per_request),
                    };
                }
            }
            // The accounting of every datacenter in one tight loop (independent chains overlap).
            for (d, activity) in self.activities.iter().enumerate() {
                out.dc_epochs[d * ne + e] = self.accountant.account(d, e, activity);
            }
            for (d, activity) in self.activities.iter().enumerate() {
                let i = d * ne + e;
                let rho = activity.busy_gpu_s[..ng].iter().sum::<f64>() * self.inverse_available[d];
                out.utilisation[i] = rho;
                let inverse_available = &self.inverse_available_by_kind[d * ng..(d + 1) * ng];
                for ((slot, &busy), &inverse) in out.kind_utilisation[i * ng..(i + 1) * ng]
                    .iter_mut()
                    .zip(&activity.busy_gpu_s)
                    .zip(inverse_available)
                {
                    *slot = busy * inverse;
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
                                        rtt + transfer_s(kb, bandwidth[o][d]) + local
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
        let transfer = transfer_terms(s);
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
                    net[j] += row[j] * r * transfer_s(kb, bandwidth[o][d0 + j]);
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
        if requests <= 0.0 {
            return 0.0;
        }
        self.cells[c * self.scenario.datacenters.len() + d].unqueued_s(
            input,
            output,
            1.0 / requests,
        )
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
