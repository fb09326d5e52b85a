//! The discrete-event simulator: every request through its datacenter's nodes.
//!
//! Per datacenter, independently:
//! - A request reaches the datacenter half a round trip after it left its origin. The local
//!   balancer offers it to the nodes that can host its model in the order of a smooth weighted
//!   round-robin sequence (each node weighted by its instances of the model times, under the
//!   default [`LocalBalancer::WeightedRoundRobin`], an instance's throughput: the fluid
//!   simulator's shares), starting after the entry that took the previous request of that
//!   model, and gives it to the first whose
//!   memory holds the request's KV cache for all its tokens (eq. 1) and, if the model is not
//!   resident, its weights (idle models are evicted to make room). If no node has room the request
//!   waits in the datacenter's FIFO queue, and is offered again whenever a request completes; a
//!   request too large for any node, or one arriving at a full queue, is dropped.
//! - A node of g GPUs runs `g / min_gpus` prefill lanes (groups of `min_gpus` consecutive GPUs;
//!   models of different `min_gpus` share the GPUs); a request takes the lane that frees first, after its model's weights are loaded (`weights / weight-load bandwidth`, once per node
//!   while resident). Prefill takes `input / prefill speed`; the first token leaves then, and
//!   reaches the origin half a round trip later (TTFT, eq. 3). Decode takes `output / batch-1
//!   decode speed` (memory-bound: concurrent requests do not slow each other), then the KV cache
//!   is freed.
//! - Power: a prefill lane draws its model's prefill fraction of TDP on `min_gpus` GPUs; a
//!   decoding request draws the decode fraction on `min_gpus` GPUs times its share of an
//!   instance's KV-cache room ([`Scenario::token_room`]: decode is memory-bound, a full batch
//!   draws the decode power); loading weights counts as decode; everything else idles
//!   (accounted in [`super::accounting`]). Work after the horizon (draining) is attributed to
//!   the last epoch.
//!
//! With `node_fraction < 1` only that share of each pool's nodes is simulated (at least one), and
//! their activity is scaled back to the whole pool; feed it a matching share of the requests
//! ([`DiscreteEventSimulator::plan_requests`] draws them, and spaces their arrivals so that each
//! simulated node sees the gaps a node of the whole fleet does).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::accounting::{Accountant, Activity};
use super::{FractionPlan, LatencySummary, Outcome, PlanError, SimParams};
use crate::scenario::{memory_share, LocalBalancer, Scenario};
use crate::trace::Request;

/// The fate of one request, for per-request records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRecord {
    /// Index into the request slice.
    pub index: usize,
    /// The datacenter the request was sent to.
    pub datacenter: usize,
    /// Node inside the datacenter (among the simulated ones); `None` when dropped.
    pub node: Option<usize>,
    /// Time to first token, seconds (0 when dropped).
    pub ttft_s: f64,
    /// End-to-end latency, seconds (0 when dropped).
    pub e2e_s: f64,
    /// No node could hold it, or the queue was full.
    pub dropped: bool,
}

impl RequestRecord {
    /// A request dropped by datacenter `datacenter`.
    pub fn dropped(index: usize, datacenter: usize) -> Self {
        RequestRecord {
            index,
            datacenter,
            node: None,
            ttft_s: f64::NAN,
            e2e_s: f64::NAN,
            dropped: true,
        }
    }

    /// The header of [`Self::write_csv`]'s rows.
    pub const CSV_HEADER: &'static str = "request,datacenter,node,ttft_s,e2e_s,dropped";

    /// Writes the record as one CSV row.
    pub fn write_csv(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        match self.node {
            Some(n) => writeln!(
                out,
                "{},{},{n},{},{},{}",
                self.index, self.datacenter, self.ttft_s, self.e2e_s, self.dropped
            ),
            None => writeln!(
                out,
                "{},{},,,,{}",
                self.index, self.datacenter, self.dropped
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Node {
    /// Index of the node's pool in its datacenter's.
    pool: usize,
    gpu: usize,
    gpus: u32,
    memory_mb: f64,
    used_mb: f64,
    /// Activity of this node counts this many times (node_fraction < 1).
    weight: f64,
    /// First lane index in `lanes`.
    lane0: usize,
}

/// A pending completion: (time bits, node, request).
type Completion = Reverse<(u64, u32, u32)>;

/// The discrete-event simulator of one scenario.
pub struct DiscreteEventSimulator<'a> {
    scenario: &'a Scenario,
    params: SimParams,
    /// Per datacenter and model: the balancer's order of the simulated nodes that can host the
    /// model ([`dispatch_sequence`]), built once.
    sequences: Vec<Vec<Vec<u32>>>,
    /// Per datacenter and model: the simulated nodes that can host it (the distinct nodes of
    /// its sequence).
    hosts: Vec<Vec<usize>>,
    /// Per datacenter and model: the largest memory of a simulated node that can host it, MB
    /// (a request that needs more is dropped on arrival).
    largest_memory_mb: Vec<Vec<f64>>,
    /// Per datacenter, `[pool * models + m]`: [`Scenario::token_room`] of an instance of m on a
    /// node of the pool.
    token_room: Vec<Vec<f64>>,
}

struct DcState {
    nodes: Vec<Node>,
    lanes: Vec<f64>,
    /// `ready_at[node * models + m]`: when m's weights are usable on the node (INFINITY: absent).
    ready_at: Vec<f64>,
    /// Active (admitted, unfinished) requests per node and model.
    active: Vec<u32>,
    /// Per model: the position in the balancer's order of the nodes (the simulator's
    /// `sequences`) after the entry that took the last request.
    round_robin: Vec<usize>,
    /// Per node: the admission search that last asked it (`asked_round`, counting searches).
    asked: Vec<u32>,
    asked_round: u32,
    activity: Vec<Activity>,
}

impl<'a> DiscreteEventSimulator<'a> {
    /// A simulator of `scenario` with `params`.
    pub fn new(scenario: &'a Scenario, params: SimParams) -> Self {
        let mut sim = DiscreteEventSimulator {
            scenario,
            params,
            sequences: Vec::new(),
            hosts: Vec::new(),
            largest_memory_mb: Vec::new(),
            token_room: scenario
                .datacenters
                .iter()
                .map(|dc| {
                    dc.node_pools
                        .iter()
                        .flat_map(|p| (0..scenario.models.len()).map(|m| scenario.token_room(m, p)))
                        .collect()
                })
                .collect(),
        };
        for d in 0..scenario.datacenters.len() {
            let (nodes, _, eligible) = sim.layout(d);
            let sequences = sim.dispatch_sequences(d, &nodes, &eligible);
            sim.hosts.push(
                sequences
                    .iter()
                    .map(|q| {
                        let mut distinct = q.clone();
                        distinct.sort_unstable();
                        distinct.dedup();
                        distinct.len()
                    })
                    .collect(),
            );
            sim.sequences.push(sequences);
            sim.largest_memory_mb.push(
                eligible
                    .iter()
                    .map(|e| {
                        e.iter()
                            .map(|&n| nodes[n].memory_mb)
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .collect(),
            );
        }
        sim
    }

    /// Scores a fraction plan: the requests of [`Self::plan_requests`], simulated. Returns the
    /// outcome and the number of requests simulated.
    pub fn simulate_plan(
        &self,
        plan: &FractionPlan,
        rng: &mut impl rand::Rng,
        record: impl FnMut(&RequestRecord),
    ) -> Result<(Outcome, usize), PlanError> {
        let (requests, to) = self.plan_requests(plan, rng);
        let outcome = self.simulate(&requests, &to, record)?;
        Ok((outcome, requests.len()))
    }

    /// The requests a discrete-event run of `plan` simulates, and the datacenter of each: the
    /// day's requests drawn for `params.node_fraction` of the nodes ([`Scenario::draw_requests`]
    /// with `rng`), each sent where the plan's documented rule ([`FractionPlan::assign`]) says,
    /// a node sample's arrivals then spaced as the whole fleet's, with `rng`: per datacenter,
    /// model and epoch, the gaps of every (1 / `node_fraction`)-th request of a Poisson stream,
    /// which a node of the whole fleet sees behind the round robin (docs/validation.md).
    pub fn plan_requests(
        &self,
        plan: &FractionPlan,
        rng: &mut impl rand::Rng,
    ) -> (Vec<Request>, Vec<u16>) {
        let mut requests = self.scenario.draw_requests(self.params.node_fraction, rng);
        let to = plan.assign(&requests, self.scenario.time.epoch_s);
        self.space_like_the_fleet(&mut requests, &to, rng);
        (requests, to)
    }

    /// Gives a node sample's requests the arrival times that a node of the whole fleet sees.
    ///
    /// A datacenter's requests of one model arrive as a Poisson stream and the round robin
    /// hands a node every (1/s)-th of them (s its share of the model's requests), so the gaps a
    /// node sees have squared coefficient of variation s. Simulating a share f of the nodes on
    /// a random (Poisson) share f of the requests gives each simulated node the share s / f of
    /// its datacenter's sample: arrivals 1/f times as variable, and waits too long (up to 8% of
    /// the mean TTFT near a datacenter's cap on the geo fleets with one node per pool). The
    /// fleet's simulated nodes see what its real ones do when the sample is every (1/f)-th
    /// request of the stream instead: gaps of a Gamma distribution of shape 1/f. So, per
    /// datacenter, model and epoch (by arrival at the datacenter), the n requests drawn keep
    /// their order and take the times of such a renewal process, scaled to fill the epoch,
    /// from a uniformly random phase; each request leaves its origin its one-way network delay
    /// before. Nothing changes with `node_fraction = 1`.
    fn space_like_the_fleet(&self, requests: &mut [Request], to: &[u16], rng: &mut impl rand::Rng) {
        use rand_distr::Distribution;
        let f = self.params.node_fraction;
        let s = self.scenario;
        if !(f > 0.0 && f < 1.0) || to.len() != requests.len() {
            return;
        }
        let Ok(gap) = rand_distr::Gamma::new(1.0 / f, f) else {
            return;
        };
        let (nd, nm, ne, epoch_s) = (
            s.datacenters.len(),
            s.models.len(),
            s.time.epochs,
            s.time.epoch_s,
        );
        let horizon = s.time.horizon_s();
        let mut groups: Vec<Vec<(f64, u32)>> = vec![Vec::new(); nd * nm * ne];
        for (i, r) in requests.iter().enumerate() {
            let d = usize::from(to[i]);
            let model = s.classes.get(usize::from(r.class)).and_then(|c| c.model);
            let at = if d < nd { self.arrival_at(r, d) } else { None };
            let (Some(m), Some(at)) = (model, at) else {
                continue;
            };
            let e = ((at / epoch_s) as usize).min(ne - 1);
            groups[(d * nm + m) * ne + e].push((at, i as u32));
        }
        let mut at: Vec<f64> = Vec::new();
        for (k, group) in groups.iter_mut().enumerate() {
            if group.is_empty() {
                continue;
            }
            group.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let (d, e) = (k / (nm * ne), k % ne);
            // Cumulative gaps: a stationary process's first point a uniform share of a gap in,
            // the window closing a uniform share of a gap after the last.
            let phase: f64 = rng.gen();
            at.clear();
            let mut t = phase * gap.sample(rng);
            for _ in 0..group.len() {
                at.push(t);
                t += gap.sample(rng);
            }
            // t is one gap past the last point; the window closes (1 - phase) of it after.
            let last = at[at.len() - 1];
            let length = last + (1.0 - phase) * (t - last);
            let scale = epoch_s / length.max(f64::MIN_POSITIVE);
            for (&(_, i), &x) in group.iter().zip(&at) {
                let one_way = self.one_way_s(&requests[i as usize], d);
                let r = &mut requests[i as usize];
                let left = e as f64 * epoch_s + x * scale - one_way;
                r.arrival_s = left.clamp(0.0, horizon * (1.0 - f64::EPSILON));
            }
        }
    }

    /// When request `r` reaches datacenter `d` (half a round trip after it left its origin), if
    /// the simulator takes it: inside the horizon, of a known origin and class.
    fn arrival_at(&self, r: &Request, d: usize) -> Option<f64> {
        let s = self.scenario;
        let inside = r.arrival_s >= 0.0
            && r.arrival_s < s.time.horizon_s()
            && usize::from(r.origin) < s.origins.len()
            && usize::from(r.class) < s.classes.len();
        inside.then(|| r.arrival_s + self.one_way_s(r, d))
    }

    /// Half of request `r`'s round trip to datacenter `d` (its origin must be known).
    fn one_way_s(&self, r: &Request, d: usize) -> f64 {
        self.scenario.network.round_trip_s[usize::from(r.origin)][d] / 2.0
    }

    /// Simulates `requests` (arrival times from the scenario's start) sent to `datacenter_of`
    /// each; `record` receives every request's fate (pass `|_| {}` to keep none).
    pub fn simulate(
        &self,
        requests: &[Request],
        datacenter_of: &[u16],
        mut record: impl FnMut(&RequestRecord),
    ) -> Result<Outcome, PlanError> {
        let s = self.scenario;
        let (nd, ne) = (s.datacenters.len(), s.time.epochs);
        if datacenter_of.len() != requests.len() {
            return Err(PlanError::Requests {
                got: datacenter_of.len(),
                want: requests.len(),
            });
        }
        if let Some((index, &d)) = datacenter_of
            .iter()
            .enumerate()
            .find(|(_, &d)| usize::from(d) >= nd)
        {
            return Err(PlanError::Datacenter {
                index,
                datacenter: usize::from(d),
                datacenters: nd,
            });
        }
        let mut out = Outcome::default();
        out.reset(nd, ne);
        let mut ttft: Vec<f64> = Vec::with_capacity(requests.len());
        let mut e2e: Vec<f64> = Vec::with_capacity(requests.len());
        let mut latency = LatencySummary::default();
        let mut violating = 0usize;
        let accountant = Accountant::new(s, self.params.blowdown);
        // Requests of each datacenter, by arrival there.
        let mut by_dc: Vec<Vec<(f64, u32)>> = vec![Vec::new(); nd];
        for (i, r) in requests.iter().enumerate() {
            let d = usize::from(datacenter_of[i]);
            let Some(at) = self.arrival_at(r, d) else {
                latency.outside_horizon += 1.0;
                continue;
            };
            by_dc[d].push((at, i as u32));
        }
        for (d, arrivals) in by_dc.iter_mut().enumerate() {
            arrivals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut state = self.dc_state(d);
            let mut on_done = |rec: &RequestRecord| {
                if rec.dropped {
                    latency.dropped += 1.0;
                } else {
                    ttft.push(rec.ttft_s);
                    e2e.push(rec.e2e_s);
                    if rec.ttft_s > s.ttft_slo_s {
                        violating += 1;
                    }
                }
                record(rec);
            };
            self.run_dc(d, requests, arrivals, &mut state, &mut on_done);
            let available: f64 = accountant.available_gpu_s(d).iter().sum();
            for e in 0..ne {
                let i = d * ne + e;
                out.dc_epochs[i] = accountant.account(d, e, &state.activity[e]);
                let busy = state.activity[e].busy_total();
                out.utilisation[i] = if available > 0.0 {
                    busy / available
                } else {
                    0.0
                };
            }
            for &(_, idx) in arrivals.iter() {
                let r = &requests[idx as usize];
                let e = ((r.arrival_s / s.time.epoch_s) as usize).min(ne - 1);
                out.requests[d * ne + e] += 1.0;
            }
        }
        out.sum_totals();
        latency.served = ttft.len() as f64;
        if !ttft.is_empty() {
            let n = ttft.len() as f64;
            latency.mean_ttft_s = ttft.iter().sum::<f64>() / n;
            latency.mean_e2e_s = e2e.iter().sum::<f64>() / n;
            latency.slo_violation_rate = violating as f64 / n;
            let [p50, p95, p99] = percentiles(&mut ttft);
            (latency.p50_ttft_s, latency.p95_ttft_s, latency.p99_ttft_s) = (p50, p95, p99);
            let [p50, p95, p99] = percentiles(&mut e2e);
            (latency.p50_e2e_s, latency.p95_e2e_s, latency.p99_e2e_s) = (p50, p95, p99);
        }
        // Requests counted per epoch include the dropped ones; served requests are in `latency`.
        out.latency = latency;
        Ok(out)
    }

    /// The simulated nodes of datacenter `d`, its number of prefill lanes, and the nodes that can
    /// host each model.
    fn layout(&self, d: usize) -> (Vec<Node>, usize, Vec<Vec<usize>>) {
        let s = self.scenario;
        let dc = &s.datacenters[d];
        let nm = s.models.len();
        let mut nodes = Vec::new();
        let mut lanes = 0;
        for (pool, p) in dc.node_pools.iter().enumerate() {
            if p.nodes == 0 {
                continue;
            }
            let simulated =
                ((f64::from(p.nodes) * self.params.node_fraction).round() as u32).clamp(1, p.nodes);
            let weight = f64::from(p.nodes) / f64::from(simulated);
            for _ in 0..simulated {
                nodes.push(Node {
                    pool,
                    gpu: p.gpu,
                    gpus: p.gpus_per_node,
                    memory_mb: f64::from(p.gpus_per_node) * s.gpus[p.gpu].memory_gb * 1000.0,
                    used_mb: 0.0,
                    weight,
                    lane0: lanes,
                });
                lanes += p.gpus_per_node as usize;
            }
        }
        let eligible: Vec<Vec<usize>> = (0..nm)
            .map(|m| {
                (0..nodes.len())
                    .filter(|&n| {
                        s.models[m].speed[nodes[n].gpu].is_some()
                            && nodes[n].gpus >= s.models[m].min_gpus
                    })
                    .collect()
            })
            .collect();
        (nodes, lanes, eligible)
    }

    /// The balancer's order of `nodes` per model (node weight: its instances of the model times,
    /// under the weighted round robin, an instance's throughput for the model's mean request).
    fn dispatch_sequences(
        &self,
        d: usize,
        nodes: &[Node],
        eligible: &[Vec<usize>],
    ) -> Vec<Vec<u32>> {
        let s = self.scenario;
        let dc = &s.datacenters[d];
        let nm = s.models.len();
        (0..nm)
            .map(|m| {
                let mean = s.mean_request(&s.demand, m);
                let weights: Vec<f64> = eligible[m]
                    .iter()
                    .map(|&n: &usize| {
                        let node = &nodes[n];
                        let instances = f64::from(node.gpus / s.models[m].min_gpus);
                        instances
                            * match (dc.local_balancer, mean) {
                                (LocalBalancer::WeightedRoundRobin, Some((i, o))) => {
                                    let pool = &dc.node_pools[node.pool];
                                    s.instance_throughput(m, pool, i, o).unwrap_or(0.0)
                                }
                                _ => 1.0,
                            }
                    })
                    .collect();
                dispatch_sequence(&weights, sequence_len(&weights))
                    .into_iter()
                    .map(|k| eligible[m][k] as u32)
                    .collect()
            })
            .collect()
    }

    fn dc_state(&self, d: usize) -> DcState {
        let nm = self.scenario.models.len();
        let (nodes, lanes, _) = self.layout(d);
        DcState {
            ready_at: vec![f64::INFINITY; nodes.len() * nm],
            active: vec![0; nodes.len() * nm],
            lanes: vec![0.0; lanes],
            asked: vec![0; nodes.len()],
            nodes,
            round_robin: vec![0; nm],
            asked_round: 0,
            activity: (0..self.scenario.time.epochs)
                .map(|_| Activity::default())
                .collect(),
        }
    }

    fn run_dc(
        &self,
        d: usize,
        requests: &[Request],
        arrivals: &[(f64, u32)],
        st: &mut DcState,
        done: &mut impl FnMut(&RequestRecord),
    ) {
        let s = self.scenario;
        let mut completions: BinaryHeap<Completion> =
            BinaryHeap::with_capacity(arrivals.len().min(1 << 16));
        let mut waiting: VecDeque<u32> = VecDeque::new();
        let mut next = 0;
        loop {
            let arrival_t = arrivals.get(next).map_or(f64::INFINITY, |a| a.0);
            let completion_t = completions
                .peek()
                .map_or(f64::INFINITY, |Reverse((t, _, _))| f64::from_bits(*t));
            if arrival_t.is_infinite() && completion_t.is_infinite() {
                break;
            }
            if completion_t <= arrival_t {
                let Reverse((t, node, idx)) = completions.pop().expect("peeked");
                let t = f64::from_bits(t);
                self.finish(st, node as usize, &requests[idx as usize]);
                // Offer the queue head(s) again now that memory is free.
                while let Some(&idx) = waiting.front() {
                    if self.try_admit(d, st, requests, idx, t, &mut completions, done) {
                        waiting.pop_front();
                    } else {
                        break;
                    }
                }
            } else {
                let (at, idx) = arrivals[next];
                next += 1;
                let r = &requests[idx as usize];
                let m = s.classes[usize::from(r.class)].model;
                let fits_somewhere = m.is_some_and(|m| {
                    let need = s.models[m].weights_gb * 1000.0 + kv_mb(s, m, r);
                    self.largest_memory_mb[d][m] >= need
                });
                if !fits_somewhere {
                    done(&RequestRecord::dropped(idx as usize, d));
                    continue;
                }
                if !waiting.is_empty()
                    || !self.try_admit(d, st, requests, idx, at, &mut completions, done)
                {
                    if waiting.len() >= self.params.max_waiting_per_datacenter {
                        done(&RequestRecord::dropped(idx as usize, d));
                    } else {
                        waiting.push_back(idx);
                    }
                }
            }
        }
        // Whatever still waits can never be admitted (nothing runs any more): dropped.
        for idx in waiting {
            done(&RequestRecord::dropped(idx as usize, d));
        }
    }

    /// Tries to place request `idx` (already at the datacenter) at time `now`.
    #[allow(clippy::too_many_arguments)]
    fn try_admit(
        &self,
        d: usize,
        st: &mut DcState,
        requests: &[Request],
        idx: u32,
        now: f64,
        completions: &mut BinaryHeap<Completion>,
        done: &mut impl FnMut(&RequestRecord),
    ) -> bool {
        let s = self.scenario;
        let r = &requests[idx as usize];
        let m = s.classes[usize::from(r.class)]
            .model
            .expect("checked on arrival");
        let model = &s.models[m];
        let nm = s.models.len();
        let kv = kv_mb(s, m, r);
        let weights_mb = model.weights_gb * 1000.0;
        let sequence = &self.sequences[d][m];
        let count = sequence.len();
        // Each node is asked once: the sequence lists nodes many times, and when none has room
        // (an overloaded datacenter) the search ends after the last distinct one. The first
        // node asked usually has room; the search marks nodes from the first refusal on.
        let mut asked = 0;
        for step in 0..count {
            let pos = (st.round_robin[m] + step) % count;
            let n = sequence[pos] as usize;
            if step > 0 && st.asked[n] == st.asked_round {
                continue;
            }
            let resident = st.ready_at[n * nm + m].is_finite();
            let need = kv + if resident { 0.0 } else { weights_mb };
            if st.nodes[n].memory_mb - st.nodes[n].used_mb < need && !self.evict_for(st, n, m, need)
            {
                if step == 0 {
                    st.asked_round = st.asked_round.wrapping_add(1);
                    if st.asked_round == 0 {
                        st.asked.fill(0);
                        st.asked_round = 1;
                    }
                }
                st.asked[n] = st.asked_round;
                asked += 1;
                if asked == self.hosts[d][m] {
                    break;
                }
                continue;
            }
            st.round_robin[m] = (pos + 1) % count;
            // Admit on node n.
            let gpu = st.nodes[n].gpu;
            let weight = st.nodes[n].weight;
            let min_gpus = f64::from(model.min_gpus);
            if !resident {
                let load_s = model.weights_gb / s.gpus[gpu].weight_load_gb_per_s;
                st.ready_at[n * nm + m] = now + load_s;
                st.nodes[n].used_mb += weights_mb;
                add_interval(
                    &mut st.activity,
                    s.time.epoch_s,
                    gpu,
                    now,
                    now + load_s,
                    min_gpus * weight,
                    model.decode_tdp_fraction,
                );
            }
            st.nodes[n].used_mb += kv;
            st.active[n * nm + m] += 1;
            let speed = model.speed[gpu].expect("eligible nodes have a speed");
            // Prefill runs on a group of min_gpus GPUs (the node's GPUs in consecutive groups):
            // the group free first, which is free when all its GPUs are.
            let group = model.min_gpus as usize;
            let groups = st.nodes[n].gpus as usize / group;
            let lane0 = st.nodes[n].lane0;
            let (mut lane, mut free_at) = (0, f64::INFINITY);
            for k in 0..groups {
                let gpus = &st.lanes[lane0 + k * group..lane0 + (k + 1) * group];
                let t = gpus.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if t < free_at {
                    (lane, free_at) = (k, t);
                }
            }
            let start = now.max(free_at).max(st.ready_at[n * nm + m]);
            let prefill_end = start + f64::from(r.input_tokens) / speed.prefill_tokens_per_s;
            st.lanes[lane0 + lane * group..lane0 + (lane + 1) * group].fill(prefill_end);
            // Prefill past the horizon is the drain: it extends the last epoch's GPU-seconds.
            let horizon = s.time.horizon_s();
            if prefill_end > horizon {
                let last = st.activity.len() - 1;
                st.activity[last].overtime_gpu_s[gpu] +=
                    (prefill_end - start.max(horizon)) * min_gpus * weight;
            }
            add_interval(
                &mut st.activity,
                s.time.epoch_s,
                gpu,
                start,
                prefill_end,
                min_gpus * weight,
                model.prefill_tdp_fraction,
            );
            let decode_end = prefill_end + f64::from(r.output_tokens) / speed.decode_tokens_per_s;
            add_interval(
                &mut st.activity,
                s.time.epoch_s,
                gpu,
                prefill_end,
                decode_end,
                min_gpus
                    * memory_share(
                        self.token_room[d][st.nodes[n].pool * nm + m],
                        r.total_tokens() as f64,
                    )
                    * weight,
                model.decode_tdp_fraction,
            );
            let one_way_back = self.one_way_s(r, d);
            let ttft = prefill_end + one_way_back - r.arrival_s;
            let e2e = decode_end + one_way_back - r.arrival_s;
            debug_assert!(ttft >= 0.0);
            completions.push(Reverse((decode_end.to_bits(), n as u32, idx)));
            done(&RequestRecord {
                index: idx as usize,
                datacenter: d,
                node: Some(n),
                ttft_s: ttft,
                e2e_s: e2e,
                dropped: false,
            });
            return true;
        }
        false
    }

    fn finish(&self, st: &mut DcState, n: usize, r: &Request) {
        let s = self.scenario;
        let m = s.classes[usize::from(r.class)]
            .model
            .expect("admitted requests have a model");
        let nm = s.models.len();
        let node = &mut st.nodes[n];
        node.used_mb -= kv_mb(s, m, r);
        st.active[n * nm + m] -= 1;
    }

    /// Evicts idle resident models from node `n` until `need` MB are free; false if it cannot.
    fn evict_for(&self, st: &mut DcState, n: usize, keep: usize, need: f64) -> bool {
        let s = self.scenario;
        let nm = s.models.len();
        let evictable: f64 = (0..nm)
            .filter(|&m| {
                m != keep && st.ready_at[n * nm + m].is_finite() && st.active[n * nm + m] == 0
            })
            .map(|m| s.models[m].weights_gb * 1000.0)
            .sum();
        if st.nodes[n].memory_mb - st.nodes[n].used_mb + evictable < need {
            return false;
        }
        for m in 0..nm {
            if st.nodes[n].memory_mb - st.nodes[n].used_mb >= need {
                break;
            }
            if m != keep && st.ready_at[n * nm + m].is_finite() && st.active[n * nm + m] == 0 {
                st.ready_at[n * nm + m] = f64::INFINITY;
                st.nodes[n].used_mb -= s.models[m].weights_gb * 1000.0;
            }
        }
        true
    }
}

/// The longest [`dispatch_sequence`] the simulator builds (256 KiB of node indices).
const MAX_SEQUENCE_LEN: usize = 1 << 16;

/// Picks of a balancer's sequence over items of `weights`: enough that each item's share of a
/// whole sequence is within 1% of its weight (the stride schedule gives an item of share `w`
/// within one pick of `len x w`, so `len >= 100 / w` for the smallest positive share), at least
/// eight per item, at most [`MAX_SEQUENCE_LEN`]. A short sequence rounds a small node's share up
/// to one pick: with eight picks per node, a node of share 0.011 among six took 1/48 = 0.021 of
/// the requests, twice its weight.
fn sequence_len(weights: &[f64]) -> usize {
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    let smallest = weights
        .iter()
        .filter(|w| w.is_finite() && **w > 0.0)
        .fold(f64::INFINITY, |a, &w| a.min(w / total));
    // `as` saturates: a tiny share asks for more than the most.
    let for_shares = if smallest.is_finite() {
        (100.0 / smallest).ceil() as usize
    } else {
        0
    };
    for_shares.max(8 * weights.len()).min(MAX_SEQUENCE_LEN)
}

/// A smooth weighted round-robin sequence of `len` picks (at least one per item with a weight)
/// among items of `weights`, by stride scheduling: each item has a pass, starting at half its stride `1 / w`;
/// each pick takes the item of smallest pass (the first on ties) and advances its pass by its
/// stride. Every prefix is within about one pick of its share of each item, and the picks of an
/// item are spread evenly; `O(len log n)`. Items of weight 0 are never picked (equal weights if
/// all are 0).
pub fn dispatch_sequence(weights: &[f64], len: usize) -> Vec<usize> {
    let positive = weights.iter().any(|&w| w > 0.0);
    let stride: Vec<f64> = weights
        .iter()
        .map(|&w| {
            let w = if positive { w } else { 1.0 };
            if w > 0.0 && w.is_finite() {
                1.0 / w
            } else {
                f64::INFINITY
            }
        })
        .collect();
    // Passes are positive, so their bit patterns order as the numbers do.
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = stride
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_finite())
        .map(|(k, &s)| Reverse(((s / 2.0).to_bits(), k)))
        .collect();
    let picks = len.max(heap.len());
    let mut out = Vec::with_capacity(picks);
    while out.len() < picks {
        let Some(Reverse((pass, k))) = heap.pop() else {
            break;
        };
        out.push(k);
        heap.push(Reverse(((f64::from_bits(pass) + stride[k]).to_bits(), k)));
    }
    out
}

fn kv_mb(s: &Scenario, m: usize, r: &Request) -> f64 {
    s.models[m].kv_cache_mb_per_token * (r.total_tokens() as f64)
}

/// Adds `[t0, t1)` on `gpus` GPUs of kind `gpu` at `fraction` of TDP to the epochs it spans;
/// time past the horizon goes to the last epoch.
fn add_interval(
    activity: &mut [Activity],
    epoch_s: f64,
    gpu: usize,
    t0: f64,
    t1: f64,
    gpus: f64,
    fraction: f64,
) {
    if t1 <= t0 {
        return;
    }
    let last = activity.len() - 1;
    let mut t = t0;
    while t < t1 {
        let e = ((t / epoch_s) as usize).min(last);
        let end = if e == last {
            t1
        } else {
            t1.min((e + 1) as f64 * epoch_s)
        };
        activity[e].add_busy(gpu, (end - t) * gpus, fraction);
        t = end;
    }
}

/// The 50th, 95th and 99th percentiles of `v` (nearest rank; `v` is reordered): each selected
/// among the values above the previous one, so the three cost little more than the first.
fn percentiles(v: &mut [f64]) -> [Option<f64>; 3] {
    let mut out = [None; 3];
    let (mut from, n) = (0, v.len());
    for (slot, p) in out.iter_mut().zip([0.50, 0.95, 0.99]) {
        if n == 0 {
            break;
        }
        let k = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        let k = k.max(from);
        let x = *v[from..].select_nth_unstable_by(k - from, f64::total_cmp).1;
        *slot = Some(x);
        from = k;
    }
    out
}

/// Bytes a discrete-event run holds per simulated request: the requests, their datacenters, the
/// arrival orders and the latency samples (measured: 5.5 GB for a run of 85.8 M requests).
pub const BYTES_PER_REQUEST: f64 = 65.0;

/// Memory the runs may use, bytes: `VERDANT_MEMORY_BYTES` where set, else what Linux reports
/// available (`MemAvailable`); `None` where neither is known.
fn available_memory_bytes() -> Option<f64> {
    if let Ok(v) = std::env::var("VERDANT_MEMORY_BYTES") {
        return v.trim().parse().ok();
    }
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb * 1024.0)
}

/// Refuses, before drawing anything, discrete-event runs of `scenario` at `node_fraction` of its
/// nodes that would not fit in memory, `at_once` of them side by side: a clear error instead of
/// the operating system killing the run.
pub fn check_memory(scenario: &Scenario, node_fraction: f64, at_once: usize) -> Result<(), String> {
    let requests = scenario.demand.total_requests() * node_fraction;
    let need = requests * BYTES_PER_REQUEST * at_once.max(1) as f64;
    match available_memory_bytes() {
        Some(available) if need > available => Err(format!(
            "the discrete-event run of {} would simulate about {:.0} M requests ({:.1} GB{}), more than the {:.1} GB available: score its held-out days (a [split]) or a shorter horizon, or use the fluid fidelity only (fidelity = \"fluid\", discrete_event = false)",
            scenario.name,
            requests / 1e6,
            need / 1e9,
            if at_once > 1 {
                format!(", {at_once} runs at once")
            } else {
                String::new()
            },
            available / 1e9
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{dispatch_sequence, percentiles, sequence_len};

    #[test]
    fn percentiles_are_the_nearest_ranks_of_the_sorted_values() {
        for n in [0usize, 1, 2, 3, 19, 20, 101, 1000] {
            // A scrambled sequence with ties.
            let v: Vec<f64> = (0..n).map(|i| ((i * 7919) % 97) as f64).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let want = [0.50, 0.95, 0.99].map(|p: f64| {
                (n > 0).then(|| sorted[((p * n as f64).ceil() as usize).clamp(1, n) - 1])
            });
            assert_eq!(percentiles(&mut v.clone()), want, "n = {n}");
        }
    }

    #[test]
    fn the_sequence_follows_the_weights_at_every_prefix() {
        let weights = [1.0, 3.0, 0.0, 12.0, 2.5];
        let total: f64 = weights.iter().sum();
        let sequence = dispatch_sequence(&weights, 400);
        assert_eq!(sequence.len(), 400);
        let mut counts = [0.0; 5];
        for (n, &k) in sequence.iter().enumerate() {
            counts[k] += 1.0;
            for (j, &w) in weights.iter().enumerate() {
                let share = (n + 1) as f64 * w / total;
                assert!((counts[j] - share).abs() <= 1.0, "item {j} after {}", n + 1);
            }
        }
        assert_eq!(counts[2], 0.0);
        // All weights 0: equal shares; nothing to pick from: nothing.
        assert_eq!(dispatch_sequence(&[0.0, 0.0], 4), vec![0, 1, 0, 1]);
        assert!(dispatch_sequence(&[], 4).is_empty());
    }

    #[test]
    fn a_whole_sequence_gives_every_item_its_weight_within_one_percent() {
        // Six pools of one datacenter, one node each: the smallest has about 1% of the weight.
        let weights = [0.011, 0.085, 0.189, 0.020, 0.208, 0.487];
        let len = sequence_len(&weights);
        let sequence = dispatch_sequence(&weights, len);
        let total: f64 = weights.iter().sum();
        for (k, &w) in weights.iter().enumerate() {
            let share = sequence.iter().filter(|&&x| x == k).count() as f64 / len as f64;
            let want = w / total;
            assert!(
                (share - want).abs() <= 0.01 * want,
                "item {k}: {share} vs {want}"
            );
        }
        // Eight picks per item at least; no weight: the minimum.
        assert_eq!(sequence_len(&[1.0, 1.0]), 200);
        assert_eq!(sequence_len(&[0.0, 0.0, 0.0]), 24);
        assert_eq!(sequence_len(&[1.0, 1e-12]), super::MAX_SEQUENCE_LEN);
    }
}
