//! Load-balancer scenarios: a set of heterogeneous servers and the trace they serve.
//!
//! The load-balancing paper's two server sets: nominal, three servers of 5000 tokens/s with 5
//! concurrent requests each, fed a trace at its real arrival times; high load, (3000, 3),
//! (5000, 5), (7000, 7), fed the first 5000 requests compressed into 1000 s (order kept).

use std::path::Path;

use serde::Deserialize;

use super::file::ScenarioError;
use crate::config::{ConfigError, Layered};
use crate::trace::{read_trace, Trace, TraceFormat};

/// One server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The server's name.
    pub name: String,
    /// Tokens per second it processes.
    pub tokens_per_s: f64,
    /// Requests served at once; more wait in the server's queue.
    pub concurrency: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LbFile {
    name: String,
    #[serde(default)]
    description: String,
    servers: Vec<Server>,
    queue_capacity: usize,
    slo_s: f64,
    trace: LbTraceSpec,
    #[serde(default)]
    capacity_model: CapacityModel,
    #[serde(default)]
    reward: RewardParams,
}

/// How a server's token rate is divided among the requests it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityModel {
    /// Processor sharing: the server's tokens/s are split evenly over its running requests (at most
    /// `concurrency`); the server as a whole never exceeds its rate.
    #[default]
    Shared,
    /// The load-balancing paper's literal reading: every running request proceeds at the server's
    /// full tokens/s, so a server runs up to `concurrency` times its stated rate.
    FullRatePerRequest,
}

/// The reward's weights (the load-balancing paper's values by default), as magnitudes: the signs
/// are fixed by what each term is (penalty or bonus).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardParams {
    /// Penalty per second of the request's estimated processing time on the chosen server
    /// (total tokens / tokens_per_s). Paper: 0.01.
    pub processing_time_penalty_per_s: f64,
    /// Penalty per request already queued at the chosen server. Paper: 0.1.
    pub queue_penalty_per_request: f64,
    /// Penalty when the chosen server is at its concurrency limit. Paper: 10.
    pub at_capacity_penalty: f64,
    /// Bonus times the balance metric 1 - std(load)/(mean(load) + eps). Paper: 0.1.
    pub balance_bonus: f64,
    /// Bonus per request admitted (not dropped). Paper: 1.
    pub admitted_bonus: f64,
    /// Penalty per request whose response time exceeds `slo_s`, given when it completes. Paper: 5
    /// under high load, 0 at nominal load.
    pub slo_violation_penalty: f64,
}

impl Default for RewardParams {
    fn default() -> Self {
        RewardParams {
            processing_time_penalty_per_s: 0.01,
            queue_penalty_per_request: 0.1,
            at_capacity_penalty: 10.0,
            balance_bonus: 0.1,
            admitted_bonus: 1.0,
            slo_violation_penalty: 0.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LbTraceSpec {
    file: String,
    /// Told from the first line when left out.
    #[serde(default)]
    format: TraceFormat,
    /// Keep only the first N requests.
    first_requests: Option<usize>,
    /// Keep every n-th request (the paper's 50 for the one-week 2024 trace).
    #[serde(default = "one")]
    every_nth: usize,
    /// Map arrival times linearly into this window, order kept.
    compress_into_s: Option<f64>,
    /// Fraction of requests at the end held out for evaluation.
    eval_tail_fraction: f64,
}

fn one() -> usize {
    1
}

/// A checked load-balancer scenario with its trace loaded and split.
#[derive(Debug, Clone)]
pub struct LbScenario {
    /// The scenario's name.
    pub name: String,
    /// What it is, in words.
    pub description: String,
    /// The servers.
    pub servers: Vec<Server>,
    /// Requests a server's queue holds.
    pub queue_capacity: usize,
    /// Response-time SLO, seconds.
    pub slo_s: f64,
    /// How a server's rate is shared among its requests.
    pub capacity_model: CapacityModel,
    /// The reward's terms.
    pub reward: RewardParams,
    /// The head of the transformed trace (training).
    pub train: Trace,
    /// The held-out tail (evaluation).
    pub eval: Trace,
}

impl LbScenario {
    /// Loads `path`, applying `overrides` (`key=value`, as `--set`) to the file first.
    pub fn load(path: &Path, overrides: &[String]) -> Result<LbScenario, ScenarioError> {
        let fail = |error| ScenarioError::Config {
            file: path.to_owned(),
            error,
        };
        let mut doc = Layered::read(path).map_err(fail)?;
        for o in overrides {
            doc.set(o).map_err(fail)?;
        }
        let spec: LbFile = doc.deserialize().map_err(fail)?;
        let invalid = |key: &str, message: String| fail(ConfigError::invalid(key, message));
        if spec.servers.is_empty() {
            return Err(invalid("servers", "needs at least one server".to_owned()));
        }
        for (i, s) in spec.servers.iter().enumerate() {
            if !(s.tokens_per_s.is_finite() && s.tokens_per_s > 0.0) {
                return Err(invalid(
                    &format!("servers[{i}].tokens_per_s"),
                    format!("must be a finite number > 0, got {}", s.tokens_per_s),
                ));
            }
            if s.concurrency == 0 {
                return Err(invalid(
                    &format!("servers[{i}].concurrency"),
                    "must be at least 1".to_owned(),
                ));
            }
        }
        if !(spec.slo_s.is_finite() && spec.slo_s > 0.0) {
            return Err(invalid(
                "slo_s",
                format!("must be a finite number > 0, got {}", spec.slo_s),
            ));
        }
        let r = &spec.reward;
        for (field, value) in [
            (
                "processing_time_penalty_per_s",
                r.processing_time_penalty_per_s,
            ),
            ("queue_penalty_per_request", r.queue_penalty_per_request),
            ("at_capacity_penalty", r.at_capacity_penalty),
            ("balance_bonus", r.balance_bonus),
            ("admitted_bonus", r.admitted_bonus),
            ("slo_violation_penalty", r.slo_violation_penalty),
        ] {
            if !value.is_finite() {
                return Err(invalid(
                    &format!("reward.{field}"),
                    format!("must be a finite number, got {value}"),
                ));
            }
        }
        if spec.queue_capacity > 1_000_000 {
            return Err(invalid(
                "queue_capacity",
                format!("must be at most 1000000, got {}", spec.queue_capacity),
            ));
        }
        let t = &spec.trace;
        if t.every_nth == 0 {
            return Err(invalid("trace.every_nth", "must be at least 1".to_owned()));
        }
        if !(t.eval_tail_fraction.is_finite() && (0.0..1.0).contains(&t.eval_tail_fraction)) {
            return Err(invalid(
                "trace.eval_tail_fraction",
                format!("must be in [0, 1), got {}", t.eval_tail_fraction),
            ));
        }
        if let Some(w) = t.compress_into_s {
            if !(w.is_finite() && w > 0.0) {
                return Err(invalid(
                    "trace.compress_into_s",
                    format!("must be a finite number > 0, got {w}"),
                ));
            }
        }
        let file = path.parent().unwrap_or(Path::new(".")).join(&t.file);
        let mut trace = read_trace(&file, t.format, false)?.trace;
        if let Some(n) = t.first_requests {
            trace = trace.slice_index(0, n);
        }
        if t.every_nth > 1 {
            trace = trace.every_nth(t.every_nth, 0);
        }
        if let Some(w) = t.compress_into_s {
            trace = trace.compress_into(w);
        }
        let (train, eval) = trace.split_tail(t.eval_tail_fraction);
        Ok(LbScenario {
            name: spec.name,
            description: spec.description,
            servers: spec.servers,
            queue_capacity: spec.queue_capacity,
            slo_s: spec.slo_s,
            capacity_model: spec.capacity_model,
            reward: spec.reward,
            train,
            eval,
        })
    }
}
