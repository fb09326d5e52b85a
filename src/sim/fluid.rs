//! The fluid simulator: per epoch and datacenter, from the demand table and fractions.
//!
//! For datacenter d and epoch e, class c receives `R = sum_o x[e][o][c][d] requests(o, c, e)`
//! requests carrying `I` input and `O` output tokens. Inside the datacenter the local balancer
//! shares them among the instances that can host the class's model ([`Scenario::dispatch_shares`]:
//! by instance throughput under the default weighted round robin, so every GPU kind is equally
//! busy); the GPU-seconds an instance is kept busy follow [`Scenario::busy_gpu_s`] (prefill at
//! its speed; decode at the request's share of the instance's KV-cache room, eq. 1). GPU-seconds
//! times the phase's fraction of TDP go to the shared accounting; the rest of the GPU-seconds
//! are idle.
//!
//! Queues follow the dispatch, per datacenter and GPU kind ([`super::queue`]): the prefill work
//! a kind cannot serve in an epoch is carried to the next as a backlog (a fluid Lindley
//! recursion; its energy is charged in the epoch that serves it, and what is left at the end of
//! the horizon in the last epoch, whose GPU-seconds grow by the drain, as the discrete-event
//! simulator drains). Each node pool of a kind carries its own backlog (a pool busier than its
//! kind builds one while the kind has room), bounded by its nodes' KV-cache memory (each queued
//! request holds its cache): past the bound the requests go on to the kind's pools with room,
//! and past the kind's bound to the datacenter's other kinds (`FluidSimulator::spill`), as the
//! discrete-event round robin passes over full nodes. A request waits for the backlog ahead of it plus the stationary G/G/c wait of its
//! node's prefill lanes, each pool at its own prefill utilisation (the kind's times the pool's
//! load factor: the balancer's weights count decode, so pools of one kind are not equally busy;
//! arrivals as smooth as the round robin makes them; every class's wait mixed by prefill work,
//! as they share the lanes first in first out). Where a node serves models of different prefill
//! group sizes, the GPU time lost waiting for a group's partner ([`GroupIdle`], simulated once
//! per kind of node at the day's mix) counts as busy at the lanes and as capacity the backlog
//! cannot use, in proportion to the epoch's own mix at the datacenter and kind. TTFT of a cell (o, c, d) is the round trip, the prefill of a mean
//! request and those waits; one epoch where d hosts no instance of the model. End to end adds the mean
//! decode time. Classes without a model (Green-LLM query types) take round trip + `v x tokens`
//! processing + transfer `KB/token x tokens x 8 / 1000 / Mbps` seconds.
//!
//! Everything that depends only on the scenario is computed once in [`FluidSimulator::new`], so
//! scoring a plan allocates nothing. The backlog that epoch `e` starts with is what the last
//! scoring of epoch `e - 1` left ([`FluidSimulator::score_epoch`] scores epochs one at a time for
//! agents that decide in order); [`FluidSimulator::score_into`] starts empty.

use super::accounting::DcEpoch;
use super::accounting::{Accountant, Activity};
use super::queue::{mean_backlog, GroupIdle, PoolLanes, WaitCurve, WaitTables};
use super::{FractionPlan, Objectives, Outcome, PlanError, SimParams};
use crate::scenario::MAX_GPU_KINDS;
use crate::scenario::{memory_share, Datacenter, GreenLlmTerms, Scenario};

/// How one class's requests meet one GPU kind's prefill lanes at one datacenter
/// ([`FluidSimulator::lane_terms`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneTerms {
    /// Share of the class's requests at the datacenter that the kind takes.
    pub share: f64,
    /// Prefill GPU-seconds per input token of the class at the datacenter that land on the
    /// kind (share-weighted).
    pub prefill_gpu_s_per_input_token: f64,
    /// Seconds of one prefill per input token on the kind.
    pub prefill_s_per_input_token: f64,
}

/// One node pool of a GPU kind at a datacenter, as its prefill queue sees it
/// ([`FluidSimulator::pool_capacities`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolCapacity {
    /// Share of the kind's new prefill work the pool takes (fixed for the day).
    pub share: f64,
    /// The least prefill GPU-seconds it serves in an epoch where it is saturated (at the most
    /// time any mix of models loses to prefill groups).
    pub least_gpu_s: f64,
}

/// Latency sums of one epoch.
#[derive(Debug, Clone, Copy, Default)]
struct EpochLatency {
    served: f64,
    ttft_sum: f64,
    e2e_sum: f64,
    violating: f64,
}

/// How a datacenter serves one model, from its pools. Per GPU kind: the scenario's kinds first,
/// 0 where the datacenter has none that hosts the model.
#[derive(Debug, Clone, Default)]
struct ModelService {
    /// Mean seconds of a request's decode per output token (over the kinds, by share).
    decode_s_per_token: f64,
    /// Share of the model's requests each kind receives (the local balancer's rule).
    share: [f64; MAX_GPU_KINDS],
    /// share / prefill speed: a request's prefill seconds per input token, weighted by share.
    prefill_s_per_token: [f64; MAX_GPU_KINDS],
    /// Prefill GPU-seconds per input token, weighted by share.
    prefill_gpu_s_per_token: [f64; MAX_GPU_KINDS],
    /// share x min_gpus / decode speed: decode GPU-seconds per output token of a request that
    /// holds the whole room ([`Scenario::decode_share`] scales it).
    decode_gpu_s_per_token: [f64; MAX_GPU_KINDS],
    /// [`Scenario::token_room`] of an instance of each kind: over its pools, the harmonic mean
    /// weighted by share (a decoding request's share of the room, `tokens / room`, is then the
    /// pools' mean of it).
    token_room: [f64; MAX_GPU_KINDS],
    /// The stationary wait of each kind's pools, per second of mean prefill, with the time
    /// they lose to prefill groups at the day's mix of models ([`GroupIdle`]), and without.
    wait: [WaitCurve; MAX_GPU_KINDS],
    lossless_wait: [WaitCurve; MAX_GPU_KINDS],
}

impl ModelService {
    /// Model `m` on `dc`'s pools, for the model's mean request `mean` (input, output) and the
    /// squared coefficient of variation of its prompt lengths, the pools' `load_factors`
    /// ([`pool_load_factors`]) and the GPU time they `lost` to prefill groups; `None` where no
    /// pool hosts an instance of it.
    fn new(
        s: &Scenario,
        dc: &Datacenter,
        m: usize,
        (mean, prompt_scv): (Option<(f64, f64)>, f64),
        load_factors: &[f64],
        lost: &[&GroupIdle],
    ) -> Option<Self> {
        let model = &s.models[m];
        let shares = s.dispatch_shares(dc.local_balancer, dc.node_pools.iter(), m, mean);
        if shares.iter().all(|&x| x <= 0.0) {
            return None;
        }
        let mut service = ModelService::default();
        let gpus = f64::from(model.min_gpus);
        for (p, &share) in dc.node_pools.iter().zip(&shares) {
            let Some(speed) = model.speed[p.gpu] else {
                continue;
            };
            if share <= 0.0 {
                continue;
            }
            let g = p.gpu;
            service.share[g] += share;
            service.prefill_gpu_s_per_token[g] += share * gpus / speed.prefill_tokens_per_s;
            service.prefill_s_per_token[g] += share / speed.prefill_tokens_per_s;
            service.decode_s_per_token += share / speed.decode_tokens_per_s;
            service.decode_gpu_s_per_token[g] += share * gpus / speed.decode_tokens_per_s;
            let room = s.token_room(m, p);
            // Summed as share / room here, inverted below.
            service.token_room[g] += if room > 0.0 {
                share / room
            } else {
                f64::INFINITY
            };
        }
        for g in 0..MAX_GPU_KINDS {
            let inverse = service.token_room[g];
            service.token_room[g] = if inverse > 0.0 && inverse.is_finite() {
                service.share[g] / inverse
            } else {
                0.0
            };
        }
        for g in 0..s.gpus.len() {
            let Some(speed) = model.speed[g] else {
                continue;
            };
            if service.share[g] <= 0.0 {
                continue;
            }
            // The round robin hands each node of a pool every (1 / its share)-th request of
            // the model's Poisson stream at the datacenter: inter-arrival times are sums of
            // that many exponential gaps, whose squared coefficient of variation is the
            // node's share (docs/decisions/0007-simulator-fidelity.md).
            let pools: Vec<PoolLanes> = dc
                .node_pools
                .iter()
                .zip(&shares)
                .zip(load_factors)
                .zip(lost)
                .filter(|(((p, &x), _), _)| p.gpu == g && x > 0.0)
                .map(|(((p, &x), &load_factor), &lost)| PoolLanes {
                    lanes: p.gpus_per_node / model.min_gpus,
                    weight: x / service.share[g],
                    arrival_scv: x / f64::from(p.nodes.max(1)),
                    load_factor,
                    lost,
                })
                .collect();
            let mean_prefill_s = mean.map_or(1.0, |(i, _)| i / speed.prefill_tokens_per_s);
            service.wait[g] = WaitCurve::new(&pools, prompt_scv, mean_prefill_s, s.time.epoch_s);
            let lossless: Vec<PoolLanes> = pools
                .iter()
                .map(|p| PoolLanes {
                    lost: GroupIdle::none(),
                    ..*p
                })
                .collect();
            service.lossless_wait[g] =
                WaitCurve::new(&lossless, prompt_scv, mean_prefill_s, s.time.epoch_s);
        }
        Some(service)
    }
}

/// The mean backlog that the requests a queue keeps find over an epoch, when it starts with
/// `start`, `arriving` work comes at a constant rate, `available` is served, and the queue is
/// bounded at `cap`: it grows to the bound; from then on the `sent` work leaves at a constant
/// rate and the rest joins the queue (which stays at the bound when all the excess is sent). The
/// mean is weighted by the rate the queue takes requests at; continuous in `sent`, down to none
/// (then it is [`mean_backlog`]'s). Also returns the share of the kept requests that arrived
/// before the bound was reached.
fn bounded_mean_backlog(
    start: f64,
    arriving: f64,
    available: f64,
    cap: f64,
    sent: f64,
) -> (f64, f64) {
    let net = arriving - available;
    let full_at = if net > 0.0 {
        ((cap - start) / net).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let rest = 1.0 - full_at;
    let leaving = if rest > 0.0 { sent / rest } else { 0.0 };
    let at_bound = start + net * full_at;
    let filling = start * full_at + net * full_at * full_at / 2.0;
    let after = rest * (at_bound + (net - leaving) * rest / 2.0);
    let taken_after = (arriving - leaving).max(0.0);
    let taken = arriving * full_at + taken_after * rest;
    if taken > 0.0 {
        (
            (arriving * filling + taken_after * after) / taken,
            arriving * full_at / taken,
        )
    } else {
        (at_bound, 0.0)
    }
}

/// Per pool of `dc`: its prefill utilisation over its GPU kind's at the datacenter, when the
/// local balancer shares the scenario's demand of every model among the pools (each model's
/// day-mean request, `mean_requests[m]`: its total requests and mean input tokens). The
/// balancer's weights count decode as well as prefill, so pools of one kind whose nodes have
/// less KV-cache room per instance take fewer requests per GPU: their lanes are the less busy.
fn pool_load_factors(s: &Scenario, dc: &Datacenter, mean_requests: &[(f64, f64)]) -> Vec<f64> {
    let mut work = vec![0.0; dc.node_pools.len()];
    for (m, model) in s.models.iter().enumerate() {
        let (requests, input) = mean_requests[m];
        if requests <= 0.0 {
            continue;
        }
        let mean = s.mean_request(&s.demand, m);
        let shares = s.dispatch_shares(dc.local_balancer, dc.node_pools.iter(), m, mean);
        for ((p, x), w) in dc.node_pools.iter().zip(shares).zip(work.iter_mut()) {
            if let Some(speed) = model.speed[p.gpu] {
                *w += x * requests * input / speed.prefill_tokens_per_s * f64::from(model.min_gpus);
            }
        }
    }
    let gpus = |p: &crate::scenario::NodePool| f64::from(p.gpus_per_node) * f64::from(p.nodes);
    dc.node_pools
        .iter()
        .zip(&work)
        .map(|(p, &w)| {
            let (kind_work, kind_gpus) = dc
                .node_pools
                .iter()
                .zip(&work)
                .filter(|(q, _)| q.gpu == p.gpu)
                .fold((0.0, 0.0), |(a, b), (q, &x)| (a + x, b + gpus(q)));
            if w > 0.0 && kind_work > 0.0 && gpus(p) > 0.0 {
                (w / gpus(p)) / (kind_work / kind_gpus)
            } else {
                1.0
            }
        })
        .collect()
}

/// The prefill GPU-seconds a queue can hold when its nodes have `memory_mb` of KV memory and
/// serve `available` GPU-seconds of prefill per epoch of `epoch_s`, for a mean request of
/// `kv_mb` of KV cache, `decode_s` of decode and `prefill_gpu_s` of prefill: each queued request
/// holds its cache, and so do the requests in decode (throughput times decode time).
fn queue_bound_gpu_s(
    memory_mb: f64,
    available: f64,
    epoch_s: f64,
    [kv_mb, decode_s, prefill_gpu_s]: [f64; 3],
) -> f64 {
    let in_decode = available / prefill_gpu_s / epoch_s * decode_s;
    (memory_mb / kv_mb - in_decode).max(0.0) * prefill_gpu_s
}

/// Squared coefficient of variation of the prompt lengths of `model`'s requests in the
/// scenario's request sample (1, as for exponential prefill times, without a sample).
fn prompt_scv(s: &Scenario, model: usize) -> f64 {
    let (mut n, mut sum, mut squares) = (0.0, 0.0, 0.0);
    for x in s.sample_prompt_tokens(model) {
        n += 1.0;
        sum += x;
        squares += x * x;
    }
    if n < 2.0 || sum <= 0.0 {
        return 1.0;
    }
    let mean = sum / n;
    (squares / n - mean * mean).max(0.0) / (mean * mean)
}

/// How a class is served: the tables the fluid step reads for it, each side by side over the
/// datacenters (index `d`), so that the step runs over datacenters in vector lanes.
#[derive(Debug, Clone)]
struct ClassService {
    /// Token energy per input and output token, kWh (0 where not given).
    input_kwh_per_token: f64,
    output_kwh_per_token: f64,
    kind: ClassKind,
}

/// One per class, built once per simulator: its size does not matter, while boxing the model
/// variant's tables would add a pointer to follow in the scoring loops.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum ClassKind {
    /// The class's model runs on the datacenters' pools.
    Model {
        /// Fractions of TDP drawn in prefill and decode.
        prefill_tdp_fraction: f64,
        decode_tdp_fraction: f64,
        /// One epoch where `d` hosts no instance of the model (a request waits that long,
        /// saturated, and draws no energy: the tables below are 0 there), else 0.
        unhosted_s: Vec<f64>,
        /// [`ModelService`] fields per datacenter; the per-kind ones `[g * datacenters + d]`.
        decode_s_per_token: Vec<f64>,
        share: Vec<f64>,
        prefill_s_per_token: Vec<f64>,
        prefill_gpu_s_per_token: Vec<f64>,
        decode_gpu_s_per_token: Vec<f64>,
        token_room: Vec<f64>,
        /// Seconds of a prefill per input token on each kind (0 where the model has no speed).
        prefill_s_per_input_token: Vec<f64>,
        /// Seconds of a decode per output token on each kind (0 where the model has no speed).
        decode_s_per_output_token: Vec<f64>,
        /// KV cache per token, MB.
        kv_mb_per_token: f64,
        /// The wait curve of each kind at each datacenter, `[g * datacenters + d]` (boxed: the
        /// tables' five vectors would make every class this large), with the time lost to
        /// prefill groups at the day's mix of models and without.
        wait: Box<WaitTables>,
        lossless_wait: Box<WaitTables>,
        /// The model prefills on a larger group of GPUs than the scenario's smallest.
        grouped: bool,
    },
    /// A class without a model: processing seconds per token at each datacenter.
    Processing { s_per_token: Vec<f64> },
}

impl ClassService {
    fn new(s: &Scenario, c: usize, models: &[Option<ModelService>]) -> Self {
        let (nd, nm, ng) = (s.datacenters.len(), s.models.len(), s.gpus.len());
        let class = &s.classes[c];
        let (input_kwh_per_token, output_kwh_per_token) = match (
            class.energy_kwh_per_input_token,
            class.energy_kwh_per_output_token,
        ) {
            (Some(a), Some(b)) => (a, b),
            _ => (0.0, 0.0),
        };
        let kind = match class.model {
            Some(m) => {
                let services: Vec<Option<&ModelService>> =
                    (0..nd).map(|d| models[d * nm + m].as_ref()).collect();
                let per_dc = |f: fn(&ModelService) -> f64| -> Vec<f64> {
                    services.iter().map(|x| x.map_or(0.0, f)).collect()
                };
                let per_kind = |f: fn(&ModelService) -> &[f64; MAX_GPU_KINDS]| -> Vec<f64> {
                    (0..ng)
                        .flat_map(|g| services.iter().map(move |x| x.map_or(0.0, |x| f(x)[g])))
                        .collect()
                };
                ClassKind::Model {
                    prefill_tdp_fraction: s.models[m].prefill_tdp_fraction,
                    decode_tdp_fraction: s.models[m].decode_tdp_fraction,
                    unhosted_s: services
                        .iter()
                        .map(|x| if x.is_some() { 0.0 } else { s.time.epoch_s })
                        .collect(),
                    decode_s_per_token: per_dc(|x| x.decode_s_per_token),
                    share: per_kind(|x| &x.share),
                    prefill_s_per_token: per_kind(|x| &x.prefill_s_per_token),
                    prefill_gpu_s_per_token: per_kind(|x| &x.prefill_gpu_s_per_token),
                    decode_gpu_s_per_token: per_kind(|x| &x.decode_gpu_s_per_token),
                    token_room: per_kind(|x| &x.token_room),
                    prefill_s_per_input_token: s.models[m]
                        .speed
                        .iter()
                        .take(ng)
                        .map(|v| v.map_or(0.0, |v| 1.0 / v.prefill_tokens_per_s))
                        .collect(),
                    decode_s_per_output_token: s.models[m]
                        .speed
                        .iter()
                        .take(ng)
                        .map(|v| v.map_or(0.0, |v| 1.0 / v.decode_tokens_per_s))
                        .collect(),
                    kv_mb_per_token: s.models[m].kv_cache_mb_per_token,
                    wait: Box::new(WaitTables::new(
                        &(0..ng)
                            .flat_map(|g| {
                                services
                                    .iter()
                                    .map(move |x| x.map(|x| x.wait[g].clone()).unwrap_or_default())
                            })
                            .collect::<Vec<_>>(),
                    )),
                    lossless_wait: Box::new(WaitTables::new(
                        &(0..ng)
                            .flat_map(|g| {
                                services.iter().map(move |x| {
                                    x.map(|x| x.lossless_wait[g].clone()).unwrap_or_default()
                                })
                            })
                            .collect::<Vec<_>>(),
                    )),
                    grouped: is_grouped(s, m),
                }
            }
            None => ClassKind::Processing {
                s_per_token: s
                    .datacenters
                    .iter()
                    .map(|dc| dc.processing_s_per_token.get(c).copied().unwrap_or(0.0))
                    .collect(),
            },
        };
        ClassService {
            input_kwh_per_token,
            output_kwh_per_token,
            kind,
        }
    }

    /// [`FluidSimulator::service_s`] of this class at `d` receiving `1 / per_request` requests.
    #[inline]
    fn unqueued_s(&self, d: usize, input: f64, output: f64, per_request: f64) -> f64 {
        match &self.kind {
            ClassKind::Model { unhosted_s, .. } if unhosted_s[d] > 0.0 => f64::INFINITY,
            ClassKind::Model {
                unhosted_s,
                prefill_s_per_token,
                ..
            } => {
                // Per kind, `[g * datacenters + d]`: the sum over the kinds at `d`.
                let nd = unhosted_s.len();
                let per_token: f64 = prefill_s_per_token.iter().skip(d).step_by(nd).sum();
                per_token * input * per_request
            }
            ClassKind::Processing { s_per_token } => {
                s_per_token[d] * (input + output) * per_request
            }
        }
    }
}

/// Whether `model` prefills on a larger group of GPUs than the scenario's smallest (its requests
/// are the "grouped" share of a node's mix, [`GroupIdle`]).
fn is_grouped(s: &Scenario, model: usize) -> bool {
    let smallest = s.models.iter().map(|m| m.min_gpus).min().unwrap_or(1);
    s.models[model].min_gpus > smallest
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
    /// How each class is served.
    classes: Vec<ClassService>,
    accountant: Accountant<'a>,
    /// One over the GPU-seconds of each datacenter per epoch (0 for a datacenter without GPUs).
    inverse_available: Vec<f64>,
    /// The same per GPU kind, `[d * kinds + g]`.
    inverse_available_by_kind: Vec<f64>,
    /// Round trips, `[origin * datacenters + d]`.
    round_trip_s: Vec<f64>,
    /// What the datacenters' GPUs did in each epoch, epoch-major so that an epoch writes one
    /// contiguous block (the accounting then reads it datacenter by datacenter and writes the
    /// outcome in its own order): busy and TDP-weighted GPU-seconds
    /// `[(e * kinds + g) * datacenters + d]` (see [`Activity`]); token energy, utilisation and
    /// requests received `[e * datacenters + d]`.
    busy_gpu_s: Vec<f64>,
    tdp_weighted_gpu_s: Vec<f64>,
    token_energy_kwh: Vec<f64>,
    utilisation: Vec<f64>,
    received: Vec<f64>,
    /// GPU-seconds of each kind per epoch, `[g * datacenters + d]`.
    available_by_kind: Vec<f64>,
    /// Same index: the GPU-seconds per epoch the kind's nodes lose to prefill groups when
    /// saturated at the day's mix of models (its pools' `gpu_s x lost / (1 + lost)`).
    lost_by_kind: Vec<f64>,
    /// Per GPU kind: `q (1 - q)` of the day's mix, q the grouped models' share of the kind's
    /// prefill work (what [`GroupIdle`] was simulated at; 0 where nothing is lost).
    day_mix: Vec<f64>,
    /// Whether any pool loses time to prefill groups.
    group_loss: bool,
    /// `[g * datacenters + d]`, for the epoch at hand: the grouped models' prefill GPU-seconds,
    /// and how much of the day mix's lost time the epoch's own mix loses (`q (1 - q)` over the
    /// day's).
    grouped_gpu_s: Vec<f64>,
    loss_scale: Vec<f64>,
    /// Same index: the part of the stationary wait that the time lost to prefill groups adds
    /// at the day's mix (scaled by `loss_scale`).
    lane_wait_excess_s: Vec<f64>,
    /// Per datacenter, for the class at hand: tokens per request received.
    tokens_per_request: Vec<f64>,
    /// Per (class, datacenter) of the current epoch, `c * datacenters + d`: input tokens per
    /// request received.
    input_per_request: Vec<f64>,
    /// Per kind and datacenter of the current epoch, `[g * datacenters + d]`: prefill
    /// GPU-seconds of the requests received, their share of the kind's GPU-seconds (the
    /// prefill utilisation the stationary wait is read at), and the mean wait for the backlog.
    prefill_gpu_s: Vec<f64>,
    prefill_utilisation: Vec<f64>,
    backlog_wait_s: Vec<f64>,
    /// Same index: the stationary wait at the kind's prefill lanes, every class's requests
    /// together (their waits mixed by prefill work).
    lane_wait_s: Vec<f64>,
    /// The largest prefill utilisation of any datacenter, node pool and epoch of the plan
    /// scored.
    peak_prefill_utilisation: f64,
    /// `[g * datacenters + d]`: the largest load factor of the kind's pools there.
    busiest_pool: Vec<f64>,
    /// `[g * datacenters + d]`: prefill GPU-seconds the last epoch leaves past the horizon (its
    /// kind's GPUs drain them after it; [`Activity::overtime_gpu_s`]).
    overtime_gpu_s: Vec<f64>,
    /// What each epoch leaves to the next, `[(e * kinds + g) * datacenters + d]`: prefill
    /// GPU-seconds, busy GPU-seconds and TDP-weighted GPU-seconds not yet served.
    backlog: Vec<[f64; 3]>,
    /// Per datacenter: the nearest and the farthest origin's round trip.
    round_trip_range_s: Vec<(f64, f64)>,
    /// Same index, for the epoch at hand: the kind's queue bound in prefill GPU-seconds where
    /// it spills (else negative), and the prefill GPU-seconds its requests brought before
    /// some went on.
    spill_cap_gpu_s: Vec<f64>,
    arriving_gpu_s: Vec<f64>,
    /// Same index: prefill GPU-seconds (of the kind) of the requests it sent on, and the share
    /// of the requests it kept that arrived before its queue reached the bound (those after
    /// wait for the full queue, the backlog term, and no stationary wait besides: 1 where it
    /// did not spill).
    sent_gpu_s: Vec<f64>,
    before_bound: Vec<f64>,
    /// `[(g * kinds + h) * datacenters + d]`: share of the requests the local balancer sends
    /// to kind g that go on to kind h because g's nodes have no memory left (epoch at hand).
    moved: Vec<f64>,
    /// Whether any kind spilled in the epoch at hand.
    epoch_spilled: bool,
    /// Whether any kind spilled in the epochs scored since the last full scoring began.
    spilled_since_start: bool,
    /// The pools of each kind and datacenter, `pools[pool_start[k]..pool_start[k + 1]]` for
    /// `k = g * datacenters + d`: each pool's share of the kind's prefill work (its load factor
    /// times its GPU-seconds, normalised), its GPU-seconds per epoch, its nodes' KV memory (MB)
    /// and the share of busy time its nodes lose to prefill groups when saturated at the day's
    /// mix ([`GroupIdle`]; it serves `GPU-seconds / (1 + loss_scale x lost)` of prefill).
    pools: Vec<[f64; 4]>,
    pool_start: Vec<usize>,
    /// Per kind and datacenter: the most prefill work its pools take without any being left
    /// over (`min A_i / share_i`).
    pool_headroom: Vec<f64>,
    /// Per pool: the least prefill GPU-seconds it serves in a saturated epoch (at the most time
    /// any mix of models loses to prefill groups).
    pool_least_gpu_s: Vec<f64>,
    /// `[e * pools + i]`: prefill GPU-seconds pool i leaves to epoch e + 1.
    pool_backlog: Vec<f64>,
    /// Per pool, for the kind at hand: start, new work, work left over, and the change by the
    /// bounds (sent on negative, taken positive).
    pool_scratch: Vec<[f64; 4]>,
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
    /// A simulator of `scenario` with `params`; everything that depends only on the scenario is
    /// computed here once.
    pub fn new(scenario: &'a Scenario, params: SimParams) -> Self {
        let s = scenario;
        let (nd, nm, nc) = (s.datacenters.len(), s.models.len(), s.classes.len());
        // Per (datacenter, model), shared by the classes of that model.
        let per_model: Vec<(Option<(f64, f64)>, f64)> = (0..nm)
            .map(|m| (s.mean_request(&s.demand, m), prompt_scv(s, m)))
            .collect();
        let mean_requests: Vec<(f64, f64)> = (0..nm)
            .map(|m| {
                let [requests, ..] = s.model_demand(&s.demand, m);
                (requests, per_model[m].0.map_or(0.0, |(i, _)| i))
            })
            .collect();
        let load_factors: Vec<Vec<f64>> = s
            .datacenters
            .iter()
            .map(|dc| pool_load_factors(s, dc, &mean_requests))
            .collect();
        let busiest_pool = (0..s.gpus.len())
            .flat_map(|g| {
                s.datacenters.iter().zip(&load_factors).map(move |(dc, f)| {
                    dc.node_pools
                        .iter()
                        .zip(f)
                        .filter(|(p, _)| p.gpu == g)
                        .map(|(_, &x)| x)
                        .fold(0.0, f64::max)
                })
            })
            .collect();
        // What each kind of node (GPU kind, GPUs per node) loses to prefill groups, simulated
        // under the discrete-event lanes' rule.
        let group_idle = GroupIdle::of_scenario(s);
        let lost: Vec<Vec<&GroupIdle>> = s
            .datacenters
            .iter()
            .map(|dc| {
                dc.node_pools
                    .iter()
                    .map(|p| {
                        group_idle
                            .iter()
                            .find(|x| (x.0, x.1) == (p.gpu, p.gpus_per_node))
                            .map_or(GroupIdle::none(), |x| &x.2)
                    })
                    .collect()
            })
            .collect();
        let models: Vec<Option<ModelService>> = s
            .datacenters
            .iter()
            .zip(&load_factors)
            .zip(&lost)
            .flat_map(|((dc, load_factors), lost)| {
                per_model
                    .iter()
                    .enumerate()
                    .map(move |(m, &(mean, scv))| {
                        ModelService::new(s, dc, m, (mean, scv), load_factors, lost)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let accountant = Accountant::new(s, params.blowdown);
        let inverse = |x: f64| if x > 0.0 { 1.0 / x } else { 0.0 };
        let inverse_available_by_kind = (0..nd)
            .flat_map(|d| accountant.available_gpu_s(d).iter().map(|&a| inverse(a)))
            .collect();
        let ng = s.gpus.len();
        let available_by_kind = (0..ng)
            .flat_map(|g| (0..nd).map(move |d| (g, d)))
            .map(|(g, d)| accountant.available_gpu_s(d)[g])
            .collect();
        let inverse_available = (0..nd)
            .map(|d| inverse(accountant.available_gpu_s(d).iter().sum()))
            .collect();
        let classes = (0..nc).map(|c| ClassService::new(s, c, &models)).collect();
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
        let (mut pools, mut pool_start) = (Vec::new(), vec![0]);
        for g in 0..ng {
            for ((dc, factors), lost) in s.datacenters.iter().zip(&load_factors).zip(&lost) {
                let first = pools.len();
                for ((p, &factor), lost) in dc.node_pools.iter().zip(factors).zip(lost) {
                    if p.gpu == g && p.nodes > 0 {
                        let gpu_s =
                            f64::from(p.gpus_per_node) * f64::from(p.nodes) * s.time.epoch_s;
                        let kv_mb = f64::from(p.nodes) * s.node_kv_memory_mb(p).0;
                        pools.push([factor * gpu_s, gpu_s, kv_mb, lost.at(1.0)]);
                    }
                }
                let total: f64 = pools[first..].iter().map(|x| x[0]).sum();
                for x in &mut pools[first..] {
                    x[0] = if total > 0.0 { x[0] / total } else { 0.0 };
                }
                pool_start.push(pools.len());
            }
        }
        // The day's mix of grouped and other models on each GPU kind, by prefill work.
        let day_mix: Vec<f64> = (0..ng)
            .map(|g| {
                let (mut grouped, mut all) = (0.0, 0.0);
                for (m, model) in s.models.iter().enumerate() {
                    if let Some(speed) = model.speed[g] {
                        let (requests, input) = mean_requests[m];
                        let work = requests * input / speed.prefill_tokens_per_s
                            * f64::from(model.min_gpus);
                        all += work;
                        grouped += if is_grouped(s, m) { work } else { 0.0 };
                    }
                }
                let q = if all > 0.0 { grouped / all } else { 0.0 };
                q * (1.0 - q)
            })
            .collect();
        // What a saturated pool serves at least: its GPU-seconds at the most loss any mix
        // gives (q = 1/2); and a kind's headroom from its pools'.
        let pool_least_gpu_s: Vec<f64> = pool_start
            .windows(2)
            .enumerate()
            .flat_map(|(k, w)| {
                let g = k / nd;
                let most = if day_mix[g] > 0.0 {
                    0.25 / day_mix[g]
                } else {
                    0.0
                };
                pools[w[0]..w[1]]
                    .iter()
                    .map(move |p| p[1] / (1.0 + most * p[3]))
            })
            .collect();
        let pool_headroom = pool_start
            .windows(2)
            .map(|w| {
                (w[0]..w[1])
                    .map(|i| {
                        if pools[i][0] > 0.0 {
                            pool_least_gpu_s[i] / pools[i][0]
                        } else {
                            f64::INFINITY
                        }
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let lost_by_kind = pool_start
            .windows(2)
            .map(|w| {
                pools[w[0]..w[1]]
                    .iter()
                    .map(|p| p[1] * p[3] / (1.0 + p[3]))
                    .sum()
            })
            .collect();
        let group_loss = pools.iter().any(|p| p[3] > 0.0);
        let pool_backlog = vec![0.0; s.time.epochs * pools.len()];
        let pool_scratch = vec![[0.0; 4]; pools.len()];
        FluidSimulator {
            scenario,
            classes,
            accountant,
            inverse_available,
            inverse_available_by_kind,
            available_by_kind,
            lost_by_kind,
            day_mix,
            group_loss,
            grouped_gpu_s: vec![0.0; ng * nd],
            loss_scale: vec![0.0; ng * nd],
            lane_wait_excess_s: vec![0.0; ng * nd],
            round_trip_s,
            busy_gpu_s: vec![0.0; s.time.epochs * s.gpus.len() * nd],
            tdp_weighted_gpu_s: vec![0.0; s.time.epochs * s.gpus.len() * nd],
            token_energy_kwh: vec![0.0; s.time.epochs * nd],
            utilisation: vec![0.0; s.time.epochs * nd],
            received: vec![0.0; s.time.epochs * nd],
            tokens_per_request: vec![0.0; nd],
            input_per_request: vec![0.0; nd * nc],
            prefill_gpu_s: vec![0.0; ng * nd],
            prefill_utilisation: vec![0.0; ng * nd],
            backlog_wait_s: vec![0.0; ng * nd],
            lane_wait_s: vec![0.0; ng * nd],
            peak_prefill_utilisation: 0.0,
            busiest_pool,
            overtime_gpu_s: vec![0.0; ng * nd],
            backlog: vec![[0.0; 3]; s.time.epochs * ng * nd],
            round_trip_range_s,
            spill_cap_gpu_s: vec![-1.0; ng * nd],
            arriving_gpu_s: vec![0.0; ng * nd],
            sent_gpu_s: vec![0.0; ng * nd],
            before_bound: vec![1.0; ng * nd],
            moved: vec![0.0; ng * ng * nd],
            epoch_spilled: false,
            spilled_since_start: false,
            pools,
            pool_start,
            pool_headroom,
            pool_least_gpu_s,
            pool_backlog,
            pool_scratch,
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
        self.peak_prefill_utilisation = 0.0;
        self.spilled_since_start = false;
        let (l, totals) = self.run(plan, 0..ne, out);
        out.totals = totals;
        out.latency.served = l.served;
        if l.served > 0.0 {
            out.latency.mean_ttft_s = l.ttft_sum / l.served;
            out.latency.mean_e2e_s = l.e2e_sum / l.served;
            out.latency.slo_violation_rate = l.violating / l.served;
        }
        Ok(())
    }

    /// Scores `epochs` of `plan` (of the scenario's shape) into `out` (shaped for it): their
    /// latency sums and the sum of their accounting. The one body, [`Self::run_portable`], is
    /// compiled twice: for the baseline of the target and, on x86-64, with AVX2, which is
    /// chosen at run time where the CPU has it (its wider vectors make scoring about 15% faster
    /// on geo-12dc; the arithmetic and its order are the same, so are the results, bit for bit).
    fn run(
        &mut self,
        plan: &FractionPlan,
        epochs: std::ops::Range<usize>,
        out: &mut Outcome,
    ) -> (EpochLatency, DcEpoch) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            #[allow(unsafe_code)]
            return unsafe { self.run_avx2(plan, epochs, out) };
        }
        self.run_portable(plan, epochs, out)
    }

    /// [`Self::run_portable`] compiled with AVX2.
    ///
    /// # Safety
    /// Only on a CPU with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run_avx2(
        &mut self,
        plan: &FractionPlan,
        epochs: std::ops::Range<usize>,
        out: &mut Outcome,
    ) -> (EpochLatency, DcEpoch) {
        self.run_portable(plan, epochs, out)
    }

    /// See [`Self::run`]. Everything it calls is inlined into it, so that each compilation of
    /// it carries its own code for the whole scoring.
    #[inline(always)]
    fn run_portable(
        &mut self,
        plan: &FractionPlan,
        epochs: std::ops::Range<usize>,
        out: &mut Outcome,
    ) -> (EpochLatency, DcEpoch) {
        let mut total = EpochLatency::default();
        for e in epochs.clone() {
            let l = self.epoch(plan, e);
            total.served += l.served;
            total.ttft_sum += l.ttft_sum;
            total.e2e_sum += l.e2e_sum;
            total.violating += l.violating;
        }
        (total, self.account(epochs, out))
    }

    /// Scores epoch `e` of `plan`: logs what each datacenter's GPUs did, its utilisation and
    /// the requests it received (for [`Self::account`]); returns the epoch's latency sums.
    #[inline(always)]
    fn epoch(&mut self, plan: &FractionPlan, e: usize) -> EpochLatency {
        let s = self.scenario;
        let (no, nc, nd) = (s.origins.len(), s.classes.len(), s.datacenters.len());
        let demand = &s.demand;
        let transfer = transfer_terms(s);
        let (mut served, mut ttft_sum, mut e2e_sum, mut violating) = (0.0, 0.0, 0.0, 0.0);
        let slo = s.ttft_slo_s;
        // Demand each datacenter receives, per class (contiguous over datacenters), and the
        // request-weighted network delay it carries: twelve datacenters at a time while
        // there are as many (with AVX2 its four sums are twelve of the sixteen vector
        // registers), then four, then one.
        for c in 0..nc {
            let mut d0 = 0;
            while d0 + 12 <= nd {
                self.receive::<12>(plan, e, c, d0);
                d0 += 12;
            }
            while d0 + 4 <= nd {
                self.receive::<4>(plan, e, c, d0);
                d0 += 4;
            }
            for d in d0..nd {
                self.receive::<1>(plan, e, c, d);
            }
        }
        // What each datacenter's GPUs do, and the unqueued time at it per cell: class by
        // class, the datacenters side by side.
        let (ng, epoch_s) = (s.gpus.len(), s.time.epoch_s);
        let kinds = e * ng * nd..(e + 1) * ng * nd;
        self.busy_gpu_s[kinds.clone()].fill(0.0);
        self.tdp_weighted_gpu_s[kinds].fill(0.0);
        self.token_energy_kwh[e * nd..(e + 1) * nd].fill(0.0);
        for c in 0..nc {
            self.serve(c, e);
        }
        // How much of the day mix's lost time this epoch's mix of grouped and other models
        // loses at each kind (`q (1 - q)` over the day's; the heavy-traffic loss of one pair is
        // in proportion to it, docs/metrics.md).
        if self.group_loss {
            for g in 0..ng {
                let day = self.day_mix[g];
                let kind = g * nd..(g + 1) * nd;
                let (work, grouped, scale) = (
                    &self.prefill_gpu_s[kind.clone()],
                    &self.grouped_gpu_s[kind.clone()],
                    &mut self.loss_scale[kind],
                );
                for d in 0..nd {
                    let q = if work[d] > 0.0 {
                        grouped[d] / work[d]
                    } else {
                        0.0
                    };
                    scale[d] = if day > 0.0 { q * (1.0 - q) / day } else { 0.0 };
                }
            }
        }
        // A kind whose queue would outgrow its nodes' memory sends the excess on to the
        // datacenter's other kinds, as the discrete-event round robin passes over nodes
        // without room ([`Self::spill`]).
        if self.epoch_spilled {
            self.moved.fill(0.0);
            self.spill_cap_gpu_s.fill(-1.0);
            self.epoch_spilled = false;
        }
        if ng > 1 {
            for d in 0..nd {
                let mut over = false;
                for g in 0..ng {
                    let k = g * nd + d;
                    let carried = if e == 0 {
                        0.0
                    } else {
                        self.backlog[((e - 1) * ng + g) * nd + d][0]
                    };
                    over |= carried + self.prefill_gpu_s[k] > self.useful_gpu_s(k);
                }
                if over {
                    self.spill(e, d);
                }
            }
        }
        // Per kind: the backlog carried in and what the epoch serves (the busy log becomes
        // the GPU-seconds served), the prefill utilisation and the wait for the backlog.
        let last = e + 1 == s.time.epochs;
        for g in 0..ng {
            for d in 0..nd {
                let k = g * nd + d;
                let logged = (e * ng + g) * nd + d;
                let available = self.available_by_kind[k];
                // What the kind serves of prefill when saturated.
                let useful = self.useful_gpu_s(k);
                let new_prefill = self.prefill_gpu_s[k];
                let [carried_prefill, carried_busy, carried_weighted] = if e == 0 {
                    [0.0; 3]
                } else {
                    self.backlog[((e - 1) * ng + g) * nd + d]
                };
                let prefill = carried_prefill + new_prefill;
                let (served_work, overtime, pool_wait_s) =
                    if carried_prefill == 0.0 && new_prefill <= self.pool_headroom[k] {
                        // No pool has work left over (the common case): nothing to carry.
                        (new_prefill, 0.0, 0.0)
                    } else {
                        self.pools_of_kind(e, g, d, last, carried_prefill)
                    };
                // Share of the work present that the epoch serves; the last epoch serves it
                // all (the horizon drains into it, and the accounting caps its busy time).
                let served = if last || prefill <= 0.0 {
                    1.0
                } else {
                    (served_work / prefill).min(1.0)
                };
                let busy = carried_busy + self.busy_gpu_s[logged];
                let weighted = carried_weighted + self.tdp_weighted_gpu_s[logged];
                self.busy_gpu_s[logged] = served * busy;
                self.tdp_weighted_gpu_s[logged] = served * weighted;
                let left = 1.0 - served;
                self.backlog[logged] = [left * prefill, left * busy, left * weighted];
                if last {
                    self.overtime_gpu_s[k] = overtime;
                }
                let (utilisation, wait_s) = if available > 0.0 {
                    let cap = self.spill_cap_gpu_s[k];
                    self.before_bound[k] = 1.0;
                    let backlog = if cap < 0.0 {
                        pool_wait_s * useful / epoch_s
                    } else {
                        // The kind's queue grows to its bound; from then on the requests sent
                        // on leave at a constant rate and the rest join the queue (which
                        // stays at the bound when every excess request finds room elsewhere):
                        // the mean backlog its requests find, weighted by the rate it takes
                        // them at. Continuous in the work sent on, down to none.
                        let (mean, before) = bounded_mean_backlog(
                            carried_prefill,
                            self.arriving_gpu_s[k],
                            useful,
                            cap,
                            self.sent_gpu_s[k],
                        );
                        self.before_bound[k] = before;
                        mean
                    };
                    (new_prefill / available, backlog * epoch_s / useful)
                } else {
                    (0.0, 0.0)
                };
                self.prefill_utilisation[k] = utilisation;
                self.peak_prefill_utilisation = self
                    .peak_prefill_utilisation
                    .max(utilisation * self.busiest_pool[k]);
                self.backlog_wait_s[k] = wait_s;
            }
        }
        // Utilisation served; requests received.
        let busy = &self.busy_gpu_s[e * ng * nd..(e + 1) * ng * nd];
        let utilisation = &mut self.utilisation[e * nd..(e + 1) * nd];
        let received = &mut self.received[e * nd..(e + 1) * nd];
        let inverse_available = &self.inverse_available[..nd];
        for d in 0..nd {
            let mut gpu_s = 0.0;
            for g in 0..ng {
                gpu_s += busy[g * nd + d];
            }
            utilisation[d] = gpu_s * inverse_available[d];
            let mut requests = 0.0;
            for c in 0..nc {
                requests += self.requests[c * nd + d];
            }
            received[d] = requests;
        }
        // Time before the first token of model classes. The requests of every class wait for
        // a kind's prefill lanes together, first in first out, so they wait alike: the
        // stationary wait of the lanes is each class's own wait (per second of its mean
        // prefill, read at the kind's prefill utilisation) mixed by the classes' shares of the
        // prefill work (exact for one lane and Poisson arrivals: Pollaczek-Khinchine's
        // residual work is that mixture). Then per kind, by its share: the prefill of a mean
        // request, that wait, and the wait for the backlog.
        let lane_wait_s = &mut self.lane_wait_s[..ng * nd];
        lane_wait_s.fill(0.0);
        let lane_wait_excess_s = &mut self.lane_wait_excess_s[..ng * nd];
        lane_wait_excess_s.fill(0.0);
        for (c, class) in self.classes.iter().enumerate() {
            let ClassKind::Model {
                prefill_gpu_s_per_token,
                prefill_s_per_input_token,
                wait,
                lossless_wait,
                ..
            } = &class.kind
            else {
                continue;
            };
            let k = c * nd..(c + 1) * nd;
            let (requests, input) = (&self.requests[k.clone()], &self.input[k.clone()]);
            // Input tokens per request (0 in a cell that receives nothing, whose time stays 0).
            let input_per_request = &mut self.input_per_request[k];
            for d in 0..nd {
                let on = requests[d] > 0.0;
                let per_request = 1.0 / if on { requests[d] } else { 1.0 };
                input_per_request[d] = if on { input[d] * per_request } else { 0.0 };
            }
            for (g, &s_per_token) in prefill_s_per_input_token.iter().enumerate() {
                let kind = g * nd..(g + 1) * nd;
                let (gpu_s_per_token, utilisation, mixed, excess) = (
                    &prefill_gpu_s_per_token[kind.clone()],
                    &self.prefill_utilisation[kind.clone()],
                    &mut lane_wait_s[kind.clone()],
                    &mut lane_wait_excess_s[kind],
                );
                if !self.group_loss {
                    for d in 0..nd {
                        let work = gpu_s_per_token[d] * input[d];
                        if work > 0.0 {
                            let prefill_s = s_per_token * input_per_request[d];
                            mixed[d] += work * prefill_s * wait.at(g * nd + d, utilisation[d]);
                        }
                    }
                    continue;
                }
                // The wait without the time lost to prefill groups, and what that time adds
                // at the day's mix.
                for d in 0..nd {
                    let work = gpu_s_per_token[d] * input[d];
                    if work > 0.0 {
                        let prefill_s = s_per_token * input_per_request[d];
                        let lossless = lossless_wait.at(g * nd + d, utilisation[d]);
                        let lossy = wait.at(g * nd + d, utilisation[d]);
                        mixed[d] += work * prefill_s * lossless;
                        excess[d] += work * prefill_s * (lossy - lossless);
                    }
                }
            }
        }
        for ((((mixed, &excess), &scale), &work), &before) in lane_wait_s
            .iter_mut()
            .zip(lane_wait_excess_s.iter())
            .zip(&self.loss_scale)
            .zip(&self.prefill_gpu_s)
            .zip(&self.before_bound)
        {
            *mixed = if work > 0.0 {
                (*mixed + scale * excess) / work * before
            } else {
                0.0
            };
        }
        self.prefill_gpu_s.fill(0.0);
        self.grouped_gpu_s.fill(0.0);
        for (c, class) in self.classes.iter().enumerate() {
            let ClassKind::Model {
                share,
                prefill_s_per_token,
                prefill_s_per_input_token,
                ..
            } = &class.kind
            else {
                continue;
            };
            let k = c * nd..(c + 1) * nd;
            let (local, input_per_request) =
                (&mut self.local_s[k.clone()], &self.input_per_request[k]);
            for g in 0..ng {
                let kind = g * nd..(g + 1) * nd;
                let (share, per_token, lane_wait_s, backlog_s) = (
                    &share[kind.clone()],
                    &prefill_s_per_token[kind.clone()],
                    &self.lane_wait_s[kind.clone()],
                    &self.backlog_wait_s[kind],
                );
                for d in 0..nd {
                    if share[d] > 0.0 {
                        local[d] += per_token[d] * input_per_request[d]
                            + share[d] * (lane_wait_s[d] + backlog_s[d]);
                    }
                }
            }
            if !self.epoch_spilled {
                continue;
            }
            // Requests sent on from kind g to kind h take h's prefill and waits instead of g's.
            let time = |g: usize, d: usize| {
                let k = g * nd + d;
                prefill_s_per_input_token[g] * input_per_request[d]
                    + self.lane_wait_s[k]
                    + self.backlog_wait_s[k]
            };
            for g in 0..ng {
                for h in (0..ng).filter(|&h| h != g) {
                    for d in 0..nd {
                        let moved = self.moved[(g * ng + h) * nd + d];
                        if moved > 0.0 && share[h * nd + d] > 0.0 {
                            local[d] += share[g * nd + d] * moved * (time(h, d) - time(g, d));
                        }
                    }
                }
            }
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
        EpochLatency {
            served,
            ttft_sum,
            e2e_sum,
            violating,
        }
    }

    /// The accounting of `epochs` (scored by [`Self::epoch`]) at every datacenter: writes their
    /// entries of `out` (energy, cost, water, carbon, utilisation, requests), datacenter by
    /// datacenter in the outcome's order, and returns their sum in that order.
    #[inline(always)]
    fn account(&mut self, epochs: std::ops::Range<usize>, out: &mut Outcome) -> DcEpoch {
        let s = self.scenario;
        let (ne, nd, ng) = (s.time.epochs, s.datacenters.len(), s.gpus.len());
        // Slices held in locals: stores into the outcome then need no reload of the logs.
        let (busy_log, weighted_log) = (&self.busy_gpu_s[..], &self.tdp_weighted_gpu_s[..]);
        let (token_log, utilisation_log, received_log) = (
            &self.token_energy_kwh[..],
            &self.utilisation[..],
            &self.received[..],
        );
        let mut activity = Activity::default();
        let mut total = DcEpoch::default();
        for d in 0..nd {
            let accountant = self.accountant.datacenter(d);
            let inverse_available = &self.inverse_available_by_kind[d * ng..(d + 1) * ng];
            let series = d * ne..(d + 1) * ne;
            let dc_epochs = &mut out.dc_epochs[series.clone()];
            let utilisation = &mut out.utilisation[series.clone()];
            let requests = &mut out.requests[series];
            let kind_utilisation = &mut out.kind_utilisation[d * ne * ng..(d + 1) * ne * ng];
            for e in epochs.clone() {
                let j = e * nd + d;
                for g in 0..ng {
                    let logged = (e * ng + g) * nd + d;
                    let busy = busy_log[logged];
                    activity.busy_gpu_s[g] = busy;
                    activity.tdp_weighted_gpu_s[g] = weighted_log[logged];
                    activity.overtime_gpu_s[g] = if e + 1 == ne {
                        self.overtime_gpu_s[g * nd + d]
                    } else {
                        0.0
                    };
                    kind_utilisation[e * ng + g] = busy * inverse_available[g];
                }
                activity.token_energy_kwh = token_log[j];
                let x = accountant.account(e, &activity);
                dc_epochs[e] = x;
                utilisation[e] = utilisation_log[j];
                requests[e] = received_log[j];
                total.add(&x);
            }
        }
        total
    }

    /// The prefill GPU-seconds kind-and-datacenter `k` serves in the epoch at hand when
    /// saturated: its GPU-seconds less what its pools lose to prefill groups at the epoch's mix.
    #[inline]
    fn useful_gpu_s(&self, k: usize) -> f64 {
        self.available_by_kind[k] - self.loss_scale[k] * self.lost_by_kind[k]
    }

    /// The same for pool `i` of kind-and-datacenter `k`.
    #[inline]
    fn pool_useful_gpu_s(&self, k: usize, i: usize) -> f64 {
        let [_, gpu_s, _, lost] = self.pools[i];
        gpu_s / (1.0 + self.loss_scale[k] * lost)
    }

    /// Per kind at datacenter `d` in the epoch at hand: requests received, the MB of KV cache,
    /// the decode seconds and the prefill GPU-seconds they carry (before any spill).
    fn kind_mix(&self, d: usize) -> [[f64; MAX_GPU_KINDS]; 4] {
        let s = self.scenario;
        let (nd, ng) = (s.datacenters.len(), s.gpus.len());
        let mut mix = [[0.0; MAX_GPU_KINDS]; 4];
        for (c, class) in self.classes.iter().enumerate() {
            let ClassKind::Model {
                share,
                decode_s_per_output_token,
                kv_mb_per_token,
                prefill_gpu_s_per_token,
                ..
            } = &class.kind
            else {
                continue;
            };
            let k = c * nd + d;
            let r = self.requests[k];
            if r <= 0.0 {
                continue;
            }
            let (input, output) = (self.input[k], self.output[k]);
            for g in 0..ng {
                let x = share[g * nd + d];
                mix[0][g] += x * r;
                mix[1][g] += x * (input + output) * kv_mb_per_token;
                mix[2][g] += x * output * decode_s_per_output_token[g];
                mix[3][g] += prefill_gpu_s_per_token[g * nd + d] * input;
            }
        }
        mix
    }

    /// The pools of kind `g` at datacenter `d` in epoch `e`: each takes its share of the kind's
    /// prefill work and carries its own backlog, bounded by its nodes' KV memory (as the kind's
    /// is in [`Self::spill`]); what a pool cannot queue goes on to the kind's pools with room, as
    /// the discrete-event round robin passes over full nodes. Returns the prefill GPU-seconds the
    /// pools serve, what is left past the horizon (`last`), and the mean wait for the backlogs
    /// of the kind's requests. (A kind of one pool is bounded by the kind-level spill alone; the
    /// pools of a kind with more than 16 at one datacenter are left unbounded. The requests a full
    /// pool keeps still count the stationary lane wait, which the kind-level bound leaves out.)
    fn pools_of_kind(
        &mut self,
        e: usize,
        g: usize,
        d: usize,
        last: bool,
        carried: f64,
    ) -> (f64, f64, f64) {
        let s = self.scenario;
        let nd = s.datacenters.len();
        let epoch_s = s.time.epoch_s;
        let k = g * nd + d;
        let pools = self.pool_start[k]..self.pool_start[k + 1];
        let np = self.pools.len();
        let new_prefill = self.prefill_gpu_s[k];
        let mut bound = false;
        for i in pools.clone() {
            let (weight, available) = (self.pools[i][0], self.pool_useful_gpu_s(k, i));
            // The kind's backlog is its pools' (a kind that carried none left its pools none).
            let start = if e == 0 || carried == 0.0 {
                0.0
            } else {
                self.pool_backlog[(e - 1) * np + i]
            };
            let work = weight * new_prefill;
            let left = start + work - available;
            self.pool_scratch[i] = [start, work, left, 0.0];
            bound |= left > 0.0;
        }
        // The bounds, where some pool is left with work: the kind's mean request decides how
        // much a pool's memory queues (as in `spill`).
        let mut caps = [f64::INFINITY; 16];
        if bound && pools.len() <= caps.len() && pools.len() > 1 {
            let [requests, kv_mb, decode_s, prefill_gpu_s] = self.kind_mix(d);
            let r = requests[g];
            if r > 0.0 && kv_mb[g] > 0.0 && prefill_gpu_s[g] > 0.0 {
                let mean_request = [kv_mb[g] / r, decode_s[g] / r, prefill_gpu_s[g] / r];
                let (over, room): (f64, f64) = pools
                    .clone()
                    .enumerate()
                    .map(|(j, i)| {
                        let (memory_mb, available) =
                            (self.pools[i][2], self.pool_useful_gpu_s(k, i));
                        caps[j] = queue_bound_gpu_s(memory_mb, available, epoch_s, mean_request);
                        let left = self.pool_scratch[i][2];
                        ((left - caps[j]).max(0.0), (caps[j] - left).max(0.0))
                    })
                    .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
                let moved = over.min(room);
                if moved > 0.0 {
                    for (j, i) in pools.clone().enumerate() {
                        let left = self.pool_scratch[i][2];
                        self.pool_scratch[i][3] = if left > caps[j] {
                            -(left - caps[j]) * moved / over
                        } else {
                            (caps[j] - left) * moved / room
                        };
                    }
                }
            }
        }
        let (mut served, mut overtime, mut wait_s) = (0.0, 0.0, 0.0);
        for (j, i) in pools.enumerate() {
            let [start, work, left, change] = self.pool_scratch[i];
            let available = self.pool_useful_gpu_s(k, i);
            let end = (left + change).max(0.0);
            overtime += end;
            self.pool_backlog[e * np + i] = if last { 0.0 } else { end };
            served += start + work - if last { 0.0 } else { end };
            if available <= 0.0 || new_prefill <= 0.0 {
                continue;
            }
            let kept = work + change;
            let mean = if change < 0.0 {
                bounded_mean_backlog(start, work, available, caps[j], -change).0
            } else {
                mean_backlog(start, kept - available)
            };
            wait_s += kept / new_prefill * mean * epoch_s / available;
        }
        (served, overtime, wait_s)
    }

    /// Datacenter `d` in epoch `e`, where some kind has more prefill work than it can serve:
    /// the queue of a kind is bounded by its nodes' KV-cache memory (each queued request holds
    /// its KV cache; requests in decode, the kind's throughput times their decode time, hold
    /// theirs), and the requests beyond the bound go on to the kinds that still have room, in
    /// proportion to it, with their prefill and decode work and its energy. Writes the moved
    /// shares and each spilling kind's bound and arriving work, which the waits read. (Called
    /// for a datacenter-epoch only where some kind is overloaded: off the common path.)
    fn spill(&mut self, e: usize, d: usize) {
        let s = self.scenario;
        let (nd, ng) = (s.datacenters.len(), s.gpus.len());
        let epoch_s = s.time.epoch_s;
        let [requests, kv_mb, decode_s, _] = self.kind_mix(d);
        // Per kind: prefill and busy work per request, the queue bound, what would be left at
        // the end of the epoch, and the room below the bound.
        let mut per_request = [0.0; MAX_GPU_KINDS];
        let mut busy_per_request = [0.0; MAX_GPU_KINDS];
        let mut weighted_per_request = [0.0; MAX_GPU_KINDS];
        let (mut cap, mut left, mut room) = (
            [0.0; MAX_GPU_KINDS],
            [0.0; MAX_GPU_KINDS],
            [0.0; MAX_GPU_KINDS],
        );
        for g in 0..ng {
            let (k, logged) = (g * nd + d, (e * ng + g) * nd + d);
            let (r, available) = (requests[g], self.useful_gpu_s(k));
            if r <= 0.0 || available <= 0.0 || self.prefill_gpu_s[k] <= 0.0 {
                continue;
            }
            let carried = if e == 0 {
                0.0
            } else {
                self.backlog[((e - 1) * ng + g) * nd + d][0]
            };
            let w = self.prefill_gpu_s[k] / r;
            per_request[g] = w;
            busy_per_request[g] = self.busy_gpu_s[logged] / r;
            weighted_per_request[g] = self.tdp_weighted_gpu_s[logged] / r;
            // The kind's memory is its pools'.
            let memory_mb: f64 = self.pools[self.pool_start[k]..self.pool_start[k + 1]]
                .iter()
                .map(|p| p[2])
                .sum();
            cap[g] = queue_bound_gpu_s(
                memory_mb,
                available,
                epoch_s,
                [kv_mb[g] / r, decode_s[g] / r, w],
            );
            left[g] = carried + self.prefill_gpu_s[k] - available;
            room[g] = (cap[g] - left[g]).max(0.0);
        }
        for g in 0..ng {
            let over = left[g] - cap[g];
            if per_request[g] <= 0.0 || over <= 0.0 {
                continue;
            }
            let others = || (0..ng).filter(move |&h| h != g && per_request[h] > 0.0);
            let takes: f64 = others().map(|h| room[h] / per_request[h]).sum();
            if takes <= 0.0 {
                continue;
            }
            let sent = (over / per_request[g]).min(takes).min(requests[g]);
            let k = g * nd + d;
            self.spill_cap_gpu_s[k] = cap[g];
            self.arriving_gpu_s[k] = self.prefill_gpu_s[k];
            for h in others() {
                let part = sent * room[h] / per_request[h] / takes;
                let (kh, logged) = (h * nd + d, (e * ng + h) * nd + d);
                self.prefill_gpu_s[kh] += part * per_request[h];
                self.busy_gpu_s[logged] += part * busy_per_request[h];
                self.tdp_weighted_gpu_s[logged] += part * weighted_per_request[h];
                room[h] -= part * per_request[h];
                self.moved[(g * ng + h) * nd + d] = part / requests[g];
            }
            let kept = 1.0 - sent / requests[g];
            self.sent_gpu_s[k] = sent * per_request[g];
            let logged = (e * ng + g) * nd + d;
            self.prefill_gpu_s[k] *= kept;
            self.busy_gpu_s[logged] *= kept;
            self.tdp_weighted_gpu_s[logged] *= kept;
            self.epoch_spilled = true;
            self.spilled_since_start = true;
        }
    }

    /// Class `c` in the current epoch at every datacenter: adds its GPU work and token energy
    /// to the datacenters' activity and writes its cells' unqueued times (before the first
    /// token, and decoding). The loops run over the datacenters, which vectorise.
    #[inline(always)]
    fn serve(&mut self, c: usize, e: usize) {
        let s = self.scenario;
        let (nd, ng) = (s.datacenters.len(), s.gpus.len());
        // Every slice below is exactly `nd` long, so that the loops carry no bounds checks.
        let k = c * nd..(c + 1) * nd;
        let (requests, input, output) = (
            &self.requests[k.clone()],
            &self.input[k.clone()],
            &self.output[k.clone()],
        );
        let (local_s, decode_s) = (&mut self.local_s[k.clone()], &mut self.decode_s[k]);
        let token_energy_kwh = &mut self.token_energy_kwh[e * nd..(e + 1) * nd];
        let class = &self.classes[c];
        let (a, b) = (class.input_kwh_per_token, class.output_kwh_per_token);
        for d in 0..nd {
            let kwh = a * input[d] + b * output[d];
            token_energy_kwh[d] += if requests[d] > 0.0 { kwh } else { 0.0 };
        }
        match &class.kind {
            ClassKind::Model {
                prefill_tdp_fraction,
                decode_tdp_fraction,
                unhosted_s,
                decode_s_per_token,
                prefill_gpu_s_per_token,
                decode_gpu_s_per_token,
                token_room,
                grouped,
                ..
            } => {
                let grouped = if *grouped { 1.0 } else { 0.0 };
                let (unhosted_s, decode_s_per_token) =
                    (&unhosted_s[..nd], &decode_s_per_token[..nd]);
                let tokens_per_request = &mut self.tokens_per_request[..nd];
                for d in 0..nd {
                    let (r, i, o) = (requests[d], input[d], output[d]);
                    let on = r > 0.0;
                    // Per-request times multiply by this reciprocal (of 1 in a cell that
                    // receives nothing: its tokens are 0, so are its times). Every lane
                    // computes every value and selects, without branches, so that the loop
                    // can vectorise. The time before the first token is completed by the
                    // queueing step; here it is the unhosted time alone (one epoch where the
                    // datacenter hosts no instance: the tables are 0, no decode, no energy).
                    let per_request = 1.0 / if on { r } else { 1.0 };
                    local_s[d] = if on { unhosted_s[d] } else { 0.0 };
                    decode_s[d] = decode_s_per_token[d] * o * per_request;
                    tokens_per_request[d] = (i + o) * per_request;
                }
                for g in 0..ng {
                    let kind = g * nd..(g + 1) * nd;
                    let logged = (e * ng + g) * nd..(e * ng + g + 1) * nd;
                    let (busy, weighted) = (
                        &mut self.busy_gpu_s[logged.clone()],
                        &mut self.tdp_weighted_gpu_s[logged],
                    );
                    let prefill = &mut self.prefill_gpu_s[kind.clone()];
                    let grouped_gpu_s = &mut self.grouped_gpu_s[kind.clone()];
                    let per_token = &prefill_gpu_s_per_token[kind];
                    for d in 0..nd {
                        let gpu_s = per_token[d] * input[d];
                        let gpu_s = if requests[d] > 0.0 { gpu_s } else { 0.0 };
                        busy[d] += gpu_s;
                        weighted[d] += gpu_s * prefill_tdp_fraction;
                        prefill[d] += gpu_s;
                        grouped_gpu_s[d] += gpu_s * grouped;
                    }
                }
                // Decode draws the request's share of its instance's KV-cache room.
                for g in 0..ng {
                    let kind = g * nd..(g + 1) * nd;
                    let logged = (e * ng + g) * nd..(e * ng + g + 1) * nd;
                    let (busy, weighted) = (
                        &mut self.busy_gpu_s[logged.clone()],
                        &mut self.tdp_weighted_gpu_s[logged],
                    );
                    let (per_token, room) =
                        (&decode_gpu_s_per_token[kind.clone()], &token_room[kind]);
                    for d in 0..nd {
                        let share = memory_share(room[d], tokens_per_request[d]);
                        let gpu_s = per_token[d] * output[d] * share;
                        let gpu_s = if requests[d] > 0.0 { gpu_s } else { 0.0 };
                        busy[d] += gpu_s;
                        weighted[d] += gpu_s * decode_tdp_fraction;
                    }
                }
            }
            ClassKind::Processing { s_per_token } => {
                let s_per_token = &s_per_token[..nd];
                for d in 0..nd {
                    let (r, i, o) = (requests[d], input[d], output[d]);
                    let local = s_per_token[d] * (i + o) * (1.0 / r);
                    local_s[d] = if r > 0.0 { local } else { 0.0 };
                    decode_s[d] = 0.0;
                }
            }
        }
    }

    /// Writes the requests, input and output tokens and the request-weighted network delay that
    /// datacenters `d0 .. d0 + W` receive in class `c` and epoch `e`. The sums over origins are
    /// kept in registers, `W` datacenters side by side (the inner loop vectorises), and run over
    /// the origins in order.
    #[inline(always)]
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
        self.classes[c].unqueued_s(d, input, output, 1.0 / requests)
    }

    /// The prefill GPU-seconds datacenter `d`'s GPUs (all kinds) carried out of epoch `e` into
    /// the next in the plan last scored.
    pub fn carried_prefill_gpu_s(&self, e: usize, d: usize) -> f64 {
        let s = self.scenario;
        let (ng, nd) = (s.gpus.len(), s.datacenters.len());
        (0..ng)
            .map(|g| self.backlog[(e * ng + g) * nd + d][0])
            .sum()
    }

    /// Whether some datacenter carried prefill work out of an epoch into the next in the plan
    /// last scored (the last epoch's leftover is overtime, not carry).
    pub fn carried(&self) -> bool {
        let s = self.scenario;
        (0..s.time.epochs.saturating_sub(1))
            .any(|e| (0..s.datacenters.len()).any(|d| self.carried_prefill_gpu_s(e, d) > 0.0))
    }

    /// What datacenter `d`'s GPUs did in epoch `e` of the plan last scored ([`Activity`]:
    /// busy and TDP-weighted GPU-seconds per kind, token energy; the last epoch's overtime),
    /// as the accounting read it.
    pub fn logged_activity(&self, e: usize, d: usize) -> Activity {
        let s = self.scenario;
        let (ng, nd, ne) = (s.gpus.len(), s.datacenters.len(), s.time.epochs);
        let mut a = Activity::default();
        for g in 0..ng {
            let logged = (e * ng + g) * nd + d;
            a.busy_gpu_s[g] = self.busy_gpu_s[logged];
            a.tdp_weighted_gpu_s[g] = self.tdp_weighted_gpu_s[logged];
            if e + 1 == ne {
                a.overtime_gpu_s[g] = self.overtime_gpu_s[g * nd + d];
            }
        }
        a.token_energy_kwh = self.token_energy_kwh[e * nd + d];
        a
    }

    /// Whether some GPU kind sent requests on to another kind of its datacenter (its queue
    /// outgrew its nodes' KV memory) in the plan last scored by [`Self::score_into`] (and the
    /// epochs scored one by one since).
    pub fn spilled(&self) -> bool {
        self.spilled_since_start
    }

    /// The node pools of GPU kind `g` at datacenter `d`: each takes a fixed share of the kind's
    /// new prefill work and keeps its own backlog; one with more work than it serves in the
    /// epoch serves all it can, and may send work on to the kind's other pools where its queue
    /// meets its KV memory (a pool then left with work served all it could as well).
    pub fn pool_capacities(&self, d: usize, g: usize) -> impl Iterator<Item = PoolCapacity> + '_ {
        let k = g * self.scenario.datacenters.len() + d;
        (self.pool_start[k]..self.pool_start[k + 1]).map(|i| PoolCapacity {
            share: self.pools[i][0],
            least_gpu_s: self.pool_least_gpu_s[i],
        })
    }

    /// The accounting this simulator charges with.
    pub fn accountant(&self) -> &Accountant<'a> {
        &self.accountant
    }

    /// How class `c`'s requests meet the prefill lanes of GPU kind `g` at datacenter `d`: the
    /// share of them the local balancer sends to the kind, the prefill GPU-seconds per input
    /// token they bring it (weighted by that share, as the kind's prefill utilisation counts
    /// them) and a prefill's seconds per input token on the kind. `None` for a class without a
    /// model, or where the kind takes none of its requests.
    pub fn lane_terms(&self, c: usize, d: usize, g: usize) -> Option<LaneTerms> {
        let nd = self.scenario.datacenters.len();
        let ClassKind::Model {
            share,
            prefill_gpu_s_per_token,
            prefill_s_per_input_token,
            ..
        } = &self.classes[c].kind
        else {
            return None;
        };
        let k = g * nd + d;
        (share[k] > 0.0).then(|| LaneTerms {
            share: share[k],
            prefill_gpu_s_per_input_token: prefill_gpu_s_per_token[k],
            prefill_s_per_input_token: prefill_s_per_input_token[g],
        })
    }

    /// The stationary wait of kind `g`'s prefill lanes at datacenter `d` per second of class
    /// `c`'s mean prefill, at the kind's prefill utilisation `rho`, without the time lost to
    /// prefill groups (which only adds to it); 0 for a class without a model.
    pub fn lossless_lane_wait(&self, c: usize, d: usize, g: usize, rho: f64) -> f64 {
        let nd = self.scenario.datacenters.len();
        match &self.classes[c].kind {
            ClassKind::Model { lossless_wait, .. } => lossless_wait.at(g * nd + d, rho),
            ClassKind::Processing { .. } => 0.0,
        }
    }

    /// The largest prefill utilisation (prefill GPU-seconds received over those the GPUs have)
    /// of any datacenter, node pool and epoch of the plan last scored (a pool's is its kind's
    /// times its load factor): above 1 the plan overloads that pool.
    pub fn peak_prefill_utilisation(&self) -> f64 {
        self.peak_prefill_utilisation
    }

    /// Forgets the backlog that scored epochs left: the next [`Self::score_epoch`] of any epoch
    /// starts with none carried in (for probes that score epochs independently of each other).
    pub fn clear_backlog(&mut self) {
        self.backlog.fill([0.0; 3]);
        self.pool_backlog.fill(0.0);
    }

    /// Quantiles `ps` (each in (0, 1)) of the TTFT of `plan`'s requests. The fluid model gives
    /// each cell (epoch, class, datacenter) a mean; within a cell the time at the datacenter is
    /// taken as exponential about its mean (the M/M/1 sojourn's shape) after the cell's mean
    /// network delay, and the quantiles are those of the request-weighted mixture of the
    /// cells (by bisection). An estimate for comparison with the discrete-event fidelity's
    /// percentiles, not part of scoring; it allocates.
    pub fn ttft_quantiles(
        &mut self,
        plan: &FractionPlan,
        ps: &[f64],
    ) -> Result<Vec<f64>, PlanError> {
        let [ne, _, nc, nd] = self.check_shape(plan)?;
        // (requests, network s, local s) of every cell.
        let mut cells: Vec<(f64, f64, f64)> = Vec::new();
        for e in 0..ne {
            self.epoch(plan, e);
            for k in 0..nc * nd {
                let r = self.requests[k];
                if r > 0.0 {
                    cells.push((r, self.network_s[k] / r, self.local_s[k]));
                }
            }
        }
        let total: f64 = cells.iter().map(|c| c.0).sum();
        if total <= 0.0 {
            return Ok(vec![f64::NAN; ps.len()]);
        }
        let below = |t: f64| -> f64 {
            cells
                .iter()
                .map(|&(r, net, local)| {
                    if t <= net {
                        0.0
                    } else if local > 0.0 {
                        r * (1.0 - (-(t - net) / local).exp())
                    } else {
                        r
                    }
                })
                .sum::<f64>()
                / total
        };
        let high = cells
            .iter()
            .map(|&(_, net, local)| net + 50.0 * local)
            .fold(0.0, f64::max);
        Ok(ps
            .iter()
            .map(|&p| {
                let (mut lo, mut hi) = (0.0, high.max(1e-9));
                for _ in 0..100 {
                    let mid = 0.5 * (lo + hi);
                    if below(mid) < p {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                hi
            })
            .collect())
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
        let (l, t) = self.run(plan, e..e + 1, out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::rules::{Even, Greedy, GreedyKey, Nearest};

    #[test]
    fn a_bounded_queue_that_sends_nothing_is_unbounded_and_one_that_sends_all_stays_at_its_bound() {
        // 1.5 units arrive, 1 is served: 0.5 would be left over; the bound is 0.2.
        let (start, arriving, available, cap) = (0.0, 1.5, 1.0, 0.2);
        let (mean, before) = bounded_mean_backlog(start, arriving, available, cap, 0.0);
        assert!((mean - mean_backlog(start, arriving - available)).abs() < 1e-12);
        assert!(before < 1.0);
        // Everything past the bound sent on (0.3): the queue fills for 0.4 of the epoch, then
        // stays at 0.2 and takes requests as fast as it serves them.
        let (full, before) = bounded_mean_backlog(start, arriving, available, cap, 0.3);
        let (filling, taken) = (1.5 * (0.5 * 0.4 * 0.4 / 2.0), 1.5 * 0.4 + 1.0 * 0.6);
        let expected = (filling + 1.0 * 0.6 * 0.2) / taken;
        assert!((full - expected).abs() < 1e-12, "{full} vs {expected}");
        assert!((before - 1.5 * 0.4 / taken).abs() < 1e-12);
        // Continuous in the work sent on, and the less is sent the longer the wait.
        let mut previous = f64::INFINITY;
        for i in 0..=300 {
            let (m, _) =
                bounded_mean_backlog(start, arriving, available, cap, 0.001 * f64::from(i));
            assert!(
                m <= previous + 1e-12 && previous - m < 1e-3 || i == 0,
                "{i}: {m}"
            );
            previous = m;
        }
    }

    /// The compilation chosen at run time (AVX2 where the CPU has it) and the portable one give
    /// the same outcome, bit for bit (`{:?}` of an `f64` tells every value apart), on plans
    /// that use every block width of the demand pass, classes with and without a model, and
    /// transfer times.
    #[test]
    fn both_compilations_agree_bit_for_bit() {
        for name in ["geo-12dc", "geo-10dc", "green-llm-base"] {
            let s = crate::scenario::bundled(name).unwrap();
            let plans = [
                Even.plan(&s).unwrap(),
                Nearest.plan(&s).unwrap(),
                Greedy(GreedyKey::Carbon).plan(&s).unwrap(),
            ];
            for plan in &plans {
                let mut sim = FluidSimulator::new(&s, SimParams::default());
                let mut chosen = Outcome::default();
                sim.score_into(plan, &mut chosen).unwrap();
                let (ne, nd) = (s.time.epochs, s.datacenters.len());
                let mut portable = Outcome::default();
                portable.reset(nd, ne);
                portable
                    .kind_utilisation
                    .resize(nd * ne * s.gpus.len(), 0.0);
                let (latency, totals) = sim.run_portable(plan, 0..ne, &mut portable);
                let series = |o: &Outcome| {
                    format!(
                        "{:?} {:?} {:?} {:?}",
                        o.dc_epochs, o.utilisation, o.kind_utilisation, o.requests
                    )
                };
                assert_eq!(series(&chosen), series(&portable), "{name}");
                assert_eq!(format!("{:?}", chosen.totals), format!("{totals:?}"));
                assert_eq!(chosen.latency.served, latency.served);
                assert_eq!(
                    chosen.latency.mean_ttft_s,
                    latency.ttft_sum / latency.served
                );
                assert_eq!(chosen.latency.mean_e2e_s, latency.e2e_sum / latency.served);
                assert_eq!(
                    chosen.latency.slo_violation_rate,
                    latency.violating / latency.served
                );
            }
        }
    }
}
