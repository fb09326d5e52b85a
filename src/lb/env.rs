//! The load balancer's environment: heterogeneous servers fed one trace, one routing decision per
//! arriving request, time advanced by arrivals and completions.

use std::collections::VecDeque;
use std::sync::Arc;

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::workload::LbWorkload;
use crate::features::FeatureMatrix;
use crate::scenario::lb::{CapacityModel, LbScenario, RewardParams, Server};

/// Values per server in the observation, after the request's features.
pub const SERVER_OBS: usize = 7;
/// Names of the per-server observation values, in order.
pub const SERVER_OBS_NAMES: [&str; SERVER_OBS] = [
    "queue_length",
    "tokens_in_flight_k",
    "active_fraction",
    "estimated_wait_s",
    "recent_response_mean_s",
    "processing_estimate_s",
    "at_capacity",
];
/// Completions remembered per server for its recent mean response time.
const RECENT: usize = 10;
/// The balance metric's epsilon.
const BALANCE_EPS: f64 = 1e-8;

/// What the environment needs beyond the workload: the servers and the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct LbEnvConfig {
    /// The servers.
    pub servers: Vec<Server>,
    /// Requests a server's queue holds before it drops them.
    pub queue_capacity: usize,
    /// Response-time SLO of the reward and the metrics, seconds.
    pub slo_s: f64,
    /// How a server's token rate is shared among its requests.
    pub capacity_model: CapacityModel,
    /// The reward's terms.
    pub reward: RewardParams,
    /// Requests per training episode, drawn as a contiguous window at a random start on each
    /// reset; `None` replays the whole workload (evaluation).
    pub episode_requests: Option<usize>,
}

impl LbEnvConfig {
    /// The servers and rules of a checked scenario, replaying whole workloads.
    pub fn from_scenario(scenario: &LbScenario) -> Self {
        LbEnvConfig {
            servers: scenario.servers.clone(),
            queue_capacity: scenario.queue_capacity,
            slo_s: scenario.slo_s,
            capacity_model: scenario.capacity_model,
            reward: scenario.reward,
            episode_requests: None,
        }
    }
}

/// A request running on a server: it completes when the server's attained service per request
/// reaches `finish_service`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Running {
    finish_service: f64,
    arrival_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Waiting {
    arrival_s: f64,
    tokens: f64,
}

/// One server's state. Processor sharing is tracked with a virtual clock: `service` is the work
/// (tokens) each running request has received since the server was created, so a request started
/// at service `v` with `w` tokens completes when `service` reaches `v + w`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ServerState {
    tokens_per_s: f64,
    concurrency: usize,
    running: Vec<Running>,
    waiting: VecDeque<Waiting>,
    waiting_tokens: f64,
    /// Sum of `finish_service` over `running`, for the tokens in flight in O(1).
    finish_sum: f64,
    service: f64,
    /// Time up to which `service` and the integrals are brought.
    clock_s: f64,
    /// Derived from the running requests; not saved (JSON has no infinity), recomputed on
    /// restore.
    #[serde(skip, default = "infinity")]
    next_completion_s: f64,
    recent: [f64; RECENT],
    recent_len: usize,
    recent_next: usize,
    // Integrals and counters for the metrics.
    active_area: f64,
    queue_area: f64,
    served: u64,
    slo_violations: u64,
    dropped: u64,
    tokens_served: f64,
}

impl ServerState {
    fn new(server: &Server, queue_capacity: usize) -> Self {
        let concurrency = server.concurrency as usize;
        ServerState {
            tokens_per_s: server.tokens_per_s,
            concurrency,
            running: Vec::with_capacity(concurrency),
            waiting: VecDeque::with_capacity(queue_capacity.min(4096)),
            waiting_tokens: 0.0,
            finish_sum: 0.0,
            service: 0.0,
            clock_s: 0.0,
            next_completion_s: f64::INFINITY,
            recent: [0.0; RECENT],
            recent_len: 0,
            recent_next: 0,
            active_area: 0.0,
            queue_area: 0.0,
            served: 0,
            slo_violations: 0,
            dropped: 0,
            tokens_served: 0.0,
        }
    }

    fn reset(&mut self, start_s: f64) {
        self.running.clear();
        self.waiting.clear();
        self.waiting_tokens = 0.0;
        self.finish_sum = 0.0;
        self.service = 0.0;
        self.clock_s = start_s;
        self.next_completion_s = f64::INFINITY;
        self.recent_len = 0;
        self.recent_next = 0;
        self.active_area = 0.0;
        self.queue_area = 0.0;
        self.served = 0;
        self.slo_violations = 0;
        self.dropped = 0;
        self.tokens_served = 0.0;
    }

    /// Service rate of each running request, tokens/s.
    fn rate_per_request(&self, model: CapacityModel) -> f64 {
        match model {
            CapacityModel::Shared => self.tokens_per_s / self.running.len().max(1) as f64,
            CapacityModel::FullRatePerRequest => self.tokens_per_s,
        }
    }

    /// Brings the virtual clock and the integrals to `t_s`.
    fn advance(&mut self, t_s: f64, model: CapacityModel) {
        let dt = t_s - self.clock_s;
        if dt > 0.0 {
            if !self.running.is_empty() {
                self.service += dt * self.rate_per_request(model);
            }
            self.active_area += dt * self.running.len() as f64;
            self.queue_area += dt * self.waiting.len() as f64;
            self.clock_s = t_s;
        }
    }

    fn refresh_next_completion(&mut self, model: CapacityModel) {
        self.next_completion_s = match self
            .running
            .iter()
            .map(|r| r.finish_service)
            .min_by(f64::total_cmp)
        {
            Some(finish) => {
                self.clock_s + (finish - self.service).max(0.0) / self.rate_per_request(model)
            }
            None => f64::INFINITY,
        };
    }

    fn start(&mut self, arrival_s: f64, tokens: f64) {
        let finish_service = self.service + tokens;
        self.finish_sum += finish_service;
        self.running.push(Running {
            finish_service,
            arrival_s,
        });
        self.tokens_served += tokens;
    }

    /// Tokens still to process: the running requests' remainders and the queue.
    fn tokens_in_flight(&self) -> f64 {
        (self.finish_sum - self.running.len() as f64 * self.service).max(0.0) + self.waiting_tokens
    }

    fn recent_mean_s(&self) -> f64 {
        if self.recent_len == 0 {
            0.0
        } else {
            self.recent[..self.recent_len].iter().sum::<f64>() / self.recent_len as f64
        }
    }

    /// Estimated time until a new request of `tokens` would complete here.
    fn estimated_completion_s(&self, tokens: f64, model: CapacityModel) -> f64 {
        match model {
            // The server is work-conserving at its full rate whenever it has work.
            CapacityModel::Shared => (self.tokens_in_flight() + tokens) / self.tokens_per_s,
            CapacityModel::FullRatePerRequest => {
                let free = self.running.len() < self.concurrency;
                let wait = if free {
                    0.0
                } else {
                    self.tokens_in_flight() / (self.tokens_per_s * self.concurrency as f64)
                };
                wait + tokens / self.tokens_per_s
            }
        }
    }
}

fn infinity() -> f64 {
    f64::INFINITY
}

/// What one step returns (Gymnasium's `(reward, terminated, truncated)`; the observation is read
/// with [`LbEnv::observe`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The step's reward.
    pub reward: f64,
    /// The episode's last request was routed and every request has completed or been dropped.
    pub terminated: bool,
    /// Always false: episodes end only when their requests are done.
    pub truncated: bool,
}

/// Per-episode records for the metrics, preallocated at reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct EpisodeRecord {
    pub response_times_s: Vec<f64>,
    pub cumulative_reward: f64,
    pub start_s: f64,
    pub dropped: u64,
}

/// The environment. See the module documentation of [`crate::lb`] for its rules.
#[derive(Debug, Clone)]
pub struct LbEnv {
    workload: Arc<LbWorkload>,
    config: LbEnvConfig,
    servers: Vec<ServerState>,
    /// Index range of the current episode in the workload.
    first: usize,
    end: usize,
    /// The next request to route.
    cursor: usize,
    now_s: f64,
    done: bool,
    pub(super) record: EpisodeRecord,
}

/// The resumable part of an environment's state (everything but the shared workload and the
/// configuration), for checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbEnvState {
    servers: Vec<ServerState>,
    first: usize,
    end: usize,
    cursor: usize,
    now_s: f64,
    done: bool,
    record: EpisodeRecord,
}

impl LbEnv {
    /// An environment over `workload`; call [`reset`](Self::reset) before stepping.
    pub fn new(workload: Arc<LbWorkload>, config: LbEnvConfig) -> Self {
        let servers = config
            .servers
            .iter()
            .map(|s| ServerState::new(s, config.queue_capacity))
            .collect();
        let end = workload.len();
        LbEnv {
            workload,
            config,
            servers,
            first: 0,
            end,
            cursor: end,
            now_s: 0.0,
            done: true,
            record: EpisodeRecord::default(),
        }
    }

    /// Length of the observation vector: the request features, then [`SERVER_OBS`] per server.
    pub fn observation_len(&self) -> usize {
        FeatureMatrix::COLUMNS + SERVER_OBS * self.servers.len()
    }

    /// Number of servers.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// The configuration.
    pub fn config(&self) -> &LbEnvConfig {
        &self.config
    }

    /// The workload.
    pub fn workload(&self) -> &Arc<LbWorkload> {
        &self.workload
    }

    /// Starts an episode: the whole workload, or a window of `episode_requests` at a start drawn
    /// from `seed`. Servers start empty at the first request's arrival.
    pub fn reset(&mut self, seed: u64) {
        let n = self.workload.len();
        let (first, end) = match self.config.episode_requests {
            Some(len) if len < n => {
                let start = ChaCha8Rng::seed_from_u64(seed).gen_range(0..=n - len);
                (start, start + len)
            }
            _ => (0, n),
        };
        self.first = first;
        self.end = end;
        self.cursor = first;
        let start_s = self
            .workload
            .requests
            .get(first)
            .map_or(0.0, |r| r.arrival_s);
        self.now_s = start_s;
        for s in &mut self.servers {
            s.reset(start_s);
        }
        self.record.response_times_s.clear();
        self.record
            .response_times_s
            .reserve(end.saturating_sub(first));
        self.record.cumulative_reward = 0.0;
        self.record.start_s = start_s;
        self.record.dropped = 0;
        self.done = first >= end;
    }

    /// True once the episode's requests are all done (or before the first reset).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The simulation clock, seconds on the workload's time axis.
    pub fn now_s(&self) -> f64 {
        self.now_s
    }

    /// Tokens of the request waiting for a decision (0 when done).
    pub fn current_tokens(&self) -> f64 {
        self.workload
            .requests
            .get(self.cursor)
            .filter(|_| !self.done)
            .map_or(0.0, |r| r.total_tokens() as f64)
    }

    /// Requests routed so far in this episode.
    pub fn routed(&self) -> usize {
        self.cursor - self.first
    }

    /// Requests in this episode.
    pub fn episode_len(&self) -> usize {
        self.end - self.first
    }

    /// Requests waiting in server `server`'s queue.
    pub fn queue_len(&self, server: usize) -> usize {
        self.servers[server].waiting.len()
    }

    /// Requests in service at server `server`.
    pub fn active(&self, server: usize) -> usize {
        self.servers[server].running.len()
    }

    /// Tokens still to process at server `server`.
    pub fn tokens_in_flight(&self, server: usize) -> f64 {
        self.servers[server].tokens_in_flight()
    }

    /// Estimated completion time of the current request if routed to `server`.
    pub fn estimated_completion_s(&self, server: usize) -> f64 {
        self.servers[server]
            .estimated_completion_s(self.current_tokens(), self.config.capacity_model)
    }

    /// Bounds of every observation value (`low`, `high`), each attained or exceeded by none the
    /// environment can write: the features' extremes over the workload (and 0, the finished
    /// state's), and per server: queue length up to the queue's capacity; tokens in flight and
    /// the estimated wait up to what a full server holds (its concurrency plus its queue, each
    /// request the workload's largest); active fraction and at-capacity in [0, 1]; the
    /// processing estimate up to the largest request's; the recent mean response time up to the
    /// whole workload's tokens at the server's rate (a server works at no less than its rate
    /// while it has requests). Upper bounds carry a relative margin of 1e-6 for rounding.
    pub fn observation_bounds(&self) -> (Vec<f32>, Vec<f32>) {
        let dim = self.observation_len();
        let (mut low, mut high) = (vec![0.0f32; dim], vec![0.0f32; dim]);
        for i in 0..self.workload.len() {
            for (j, &v) in self.workload.features_row(i).iter().enumerate() {
                low[j] = low[j].min(v);
                high[j] = high[j].max(v);
            }
        }
        let tokens = self
            .workload
            .requests
            .iter()
            .map(|r| r.total_tokens() as f64);
        let largest = tokens.clone().fold(0.0, f64::max);
        let total: f64 = tokens.sum();
        let margin = 1.0 + 1e-6;
        let queue = self.config.queue_capacity as f64;
        let servers = high[FeatureMatrix::COLUMNS..].chunks_exact_mut(SERVER_OBS);
        for (server, h) in self.config.servers.iter().zip(servers) {
            let full = (f64::from(server.concurrency) + queue) * largest;
            let rate = server.tokens_per_s;
            let values = [
                queue,
                full / 1000.0,
                1.0,
                full / rate,
                total / rate,
                largest / rate,
                1.0,
            ];
            for (slot, v) in h.iter_mut().zip(values) {
                *slot = (v * margin) as f32;
            }
        }
        (low, high)
    }

    /// Writes the observation of the current decision into `out` (length
    /// [`observation_len`](Self::observation_len)).
    pub fn observe(&self, out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.observation_len(),
            "observation buffer length"
        );
        let (features, servers) = out.split_at_mut(FeatureMatrix::COLUMNS);
        let row = self.cursor.min(self.workload.len().saturating_sub(1));
        if self.done || self.workload.is_empty() {
            features.fill(0.0);
        } else {
            features.copy_from_slice(self.workload.features_row(row));
        }
        let tokens = self.current_tokens();
        let model = self.config.capacity_model;
        for (s, o) in self
            .servers
            .iter()
            .zip(servers.chunks_exact_mut(SERVER_OBS))
        {
            let in_flight = s.tokens_in_flight();
            o[0] = s.waiting.len() as f32;
            o[1] = (in_flight / 1000.0) as f32;
            o[2] = (s.running.len() as f64 / s.concurrency as f64) as f32;
            o[3] = (in_flight / s.tokens_per_s) as f32;
            o[4] = s.recent_mean_s() as f32;
            o[5] = (tokens / s.tokens_per_s) as f32;
            o[6] = if s.running.len() >= s.concurrency {
                1.0
            } else {
                0.0
            };
            // Keep the estimate consistent with the capacity model for the literal reading.
            if model == CapacityModel::FullRatePerRequest {
                o[3] = (s.estimated_completion_s(0.0, model)) as f32;
            }
        }
    }

    /// Routes the current request to `server`, then advances the clock to the next arrival (or,
    /// after the last request, until every request has completed).
    ///
    /// # Panics
    /// If `server` is out of range or the episode is done: both are errors of the calling agent.
    pub fn step(&mut self, server: usize) -> StepOutcome {
        assert!(!self.done, "step() on a finished episode; call reset()");
        assert!(
            server < self.servers.len(),
            "action {server} out of range (servers: {})",
            self.servers.len()
        );
        let model = self.config.capacity_model;
        let w = self.config.reward;
        let request = self.workload.requests[self.cursor];
        let tokens = request.total_tokens() as f64;
        let t = self.now_s;
        let mut reward = 0.0;
        {
            let s = &mut self.servers[server];
            s.advance(t, model);
            reward -= w.processing_time_penalty_per_s * tokens / s.tokens_per_s;
            reward -= w.queue_penalty_per_request * s.waiting.len() as f64;
            let at_capacity = s.running.len() >= s.concurrency;
            if at_capacity {
                reward -= w.at_capacity_penalty;
            }
            let admitted = if !at_capacity {
                s.start(request.arrival_s, tokens);
                s.refresh_next_completion(model);
                true
            } else if s.waiting.len() < self.config.queue_capacity {
                s.waiting.push_back(Waiting {
                    arrival_s: request.arrival_s,
                    tokens,
                });
                s.waiting_tokens += tokens;
                true
            } else {
                s.dropped += 1;
                self.record.dropped += 1;
                false
            };
            if admitted {
                reward += w.admitted_bonus;
            }
        }
        reward += w.balance_bonus * self.balance();
        self.cursor += 1;
        let next_arrival_s = match self.workload.requests.get(self.cursor) {
            Some(r) if self.cursor < self.end => r.arrival_s,
            _ => f64::INFINITY,
        };
        reward -= w.slo_violation_penalty * self.run_until(next_arrival_s) as f64;
        let terminated = self.cursor >= self.end;
        if terminated {
            self.done = true;
        } else {
            self.now_s = next_arrival_s;
        }
        self.record.cumulative_reward += reward;
        StepOutcome {
            reward,
            terminated,
            truncated: false,
        }
    }

    /// Balance metric: 1 - std(load)/(mean(load) + eps), load = tokens in flight / (tokens/s x
    /// concurrency).
    pub fn balance(&self) -> f64 {
        let n = self.servers.len() as f64;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for s in &self.servers {
            let load = s.tokens_in_flight() / (s.tokens_per_s * s.concurrency as f64);
            sum += load;
            sum_sq += load * load;
        }
        let mean = sum / n;
        let std = (sum_sq / n - mean * mean).max(0.0).sqrt();
        1.0 - std / (mean + BALANCE_EPS)
    }

    /// Processes completions up to `until_s` (all of them when infinite); returns how many
    /// completed requests missed the SLO.
    fn run_until(&mut self, until_s: f64) -> u64 {
        let model = self.config.capacity_model;
        let slo_s = self.config.slo_s;
        let mut violations = 0;
        loop {
            let mut next = f64::INFINITY;
            let mut which = usize::MAX;
            for (i, s) in self.servers.iter().enumerate() {
                if s.next_completion_s < next {
                    next = s.next_completion_s;
                    which = i;
                }
            }
            if which == usize::MAX || next > until_s {
                break;
            }
            let s = &mut self.servers[which];
            s.advance(next, model);
            let (k, _) = s
                .running
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.finish_service.total_cmp(&b.1.finish_service))
                .expect("a server with a completion time runs a request");
            let done = s.running.swap_remove(k);
            s.finish_sum -= done.finish_service;
            if s.running.is_empty() {
                s.finish_sum = 0.0;
            }
            let response_s = next - done.arrival_s;
            s.recent[s.recent_next] = response_s;
            s.recent_next = (s.recent_next + 1) % RECENT;
            s.recent_len = (s.recent_len + 1).min(RECENT);
            s.served += 1;
            if response_s > slo_s {
                s.slo_violations += 1;
                violations += 1;
            }
            self.record.response_times_s.push(response_s);
            if let Some(w) = s.waiting.pop_front() {
                s.waiting_tokens -= w.tokens;
                if s.waiting.is_empty() {
                    s.waiting_tokens = 0.0;
                }
                s.start(w.arrival_s, w.tokens);
            }
            s.refresh_next_completion(model);
            if until_s.is_infinite() {
                self.now_s = next;
            }
        }
        if until_s.is_finite() {
            for s in &mut self.servers {
                s.advance(until_s, model);
            }
        } else {
            let end_s = self.now_s;
            for s in &mut self.servers {
                s.advance(end_s, model);
            }
        }
        violations
    }

    /// Per-server counters of the episode so far: (served, SLO violations, dropped, busy
    /// request-seconds, queued request-seconds, tokens started).
    pub(super) fn server_counters(&self, server: usize) -> (u64, u64, u64, f64, f64, f64) {
        let s = &self.servers[server];
        (
            s.served,
            s.slo_violations,
            s.dropped,
            s.active_area,
            s.queue_area,
            s.tokens_served,
        )
    }

    /// The resumable state, for checkpoints.
    pub fn state(&self) -> LbEnvState {
        LbEnvState {
            servers: self.servers.clone(),
            first: self.first,
            end: self.end,
            cursor: self.cursor,
            now_s: self.now_s,
            done: self.done,
            record: self.record.clone(),
        }
    }

    /// Restores a state taken from an environment with the same workload and configuration.
    pub fn restore(&mut self, state: LbEnvState) -> Result<(), String> {
        if state.servers.len() != self.servers.len() || state.end > self.workload.len() {
            return Err(format!(
                "checkpointed environment has {} servers and {} requests; this one {} and {}",
                state.servers.len(),
                state.end,
                self.servers.len(),
                self.workload.len()
            ));
        }
        self.servers = state.servers;
        let model = self.config.capacity_model;
        for s in &mut self.servers {
            s.refresh_next_completion(model);
        }
        self.first = state.first;
        self.end = state.end;
        self.cursor = state.cursor;
        self.now_s = state.now_s;
        self.done = state.done;
        self.record = state.record;
        Ok(())
    }
}
