//! The metrics of an episode, computed the same way for every agent.

use serde::Serialize;

use super::env::LbEnv;
use crate::features::quantile_sorted;

/// One server's share of an episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerMetrics {
    /// The server's name.
    pub name: String,
    /// Requests it served.
    pub served: u64,
    /// Served requests whose response time exceeded the SLO.
    pub slo_violations: u64,
    /// Requests its full queue dropped.
    pub dropped: u64,
    /// Time-averaged running requests / concurrency over the episode.
    pub utilisation: f64,
    /// Tokens of the requests it started.
    pub tokens: f64,
}

/// What the tables report for one episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeMetrics {
    /// Requests in the episode.
    pub requests: u64,
    /// Requests served.
    pub served: u64,
    /// Requests dropped.
    pub dropped: u64,
    /// Sum of the step rewards.
    pub cumulative_reward: f64,
    /// Response time = completion - arrival, queueing included, over served requests.
    pub mean_response_s: f64,
    /// Median response time, seconds.
    pub p50_response_s: f64,
    /// 95th percentile response time, seconds.
    pub p95_response_s: f64,
    /// 99th percentile response time, seconds.
    pub p99_response_s: f64,
    /// Requests that missed the SLO, dropped ones included (a dropped request never meets it),
    /// as a percentage of all requests.
    pub slo_violation_pct: f64,
    /// Time-averaged number of queued (waiting, not running) requests, summed over servers.
    pub mean_queue_length: f64,
    /// From the first arrival to the last completion.
    pub duration_s: f64,
    /// Per server.
    pub per_server: Vec<ServerMetrics>,
}

impl EpisodeMetrics {
    /// The metrics of `env`'s episode so far (call after it is done for complete numbers).
    pub fn of(env: &LbEnv) -> Self {
        let mut sorted = env.record.response_times_s.clone();
        sorted.sort_by(f64::total_cmp);
        let served = sorted.len() as u64;
        let duration_s = (env.now_s() - env.record.start_s).max(0.0);
        let mut violations = 0;
        let mut queue_area = 0.0;
        let per_server = (0..env.server_count())
            .map(|i| {
                let (served, slo, dropped, active_area, q_area, tokens) = env.server_counters(i);
                violations += slo + dropped;
                queue_area += q_area;
                let server = &env.config().servers[i];
                ServerMetrics {
                    name: server.name.clone(),
                    served,
                    slo_violations: slo,
                    dropped,
                    utilisation: if duration_s > 0.0 {
                        active_area / (duration_s * f64::from(server.concurrency))
                    } else {
                        0.0
                    },
                    tokens,
                }
            })
            .collect();
        let requests = served + env.record.dropped;
        let mean = if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().sum::<f64>() / sorted.len() as f64
        };
        EpisodeMetrics {
            requests,
            served,
            dropped: env.record.dropped,
            cumulative_reward: env.record.cumulative_reward,
            mean_response_s: mean,
            p50_response_s: quantile_sorted(&sorted, 0.50),
            p95_response_s: quantile_sorted(&sorted, 0.95),
            p99_response_s: quantile_sorted(&sorted, 0.99),
            slo_violation_pct: if requests > 0 {
                100.0 * violations as f64 / requests as f64
            } else {
                0.0
            },
            mean_queue_length: if duration_s > 0.0 {
                queue_area / duration_s
            } else {
                0.0
            },
            duration_s,
            per_server,
        }
    }

    /// The served requests' response times in completion order.
    pub fn response_times_s(env: &LbEnv) -> &[f64] {
        &env.record.response_times_s
    }
}
