//! The single-agent load balancer's world: heterogeneous servers, one routing decision per
//! request (the load-balancing paper's environment, with its defects fixed; see
//! `../shared/specs/load-balancer.md` and `docs/load-balancer.md`).
//!
//! Rules of [`LbEnv`]:
//! - one step per arriving request; the action is a server index;
//! - time advances by events, arrivals *and* completions: a queued request starts the instant a
//!   slot frees up;
//! - a server runs at most `concurrency` requests; with [`CapacityModel::Shared`] (default) its
//!   tokens/s are split evenly among them (processor sharing), with
//!   [`CapacityModel::FullRatePerRequest`] each runs at the full rate (the paper's literal
//!   reading); beyond the limit requests wait in a FIFO queue of `queue_capacity`, and overflow is
//!   dropped and counted;
//! - a request's work is its total tokens (context + generated); its response time is completion
//!   minus arrival, queueing included;
//! - after the last request the simulation runs on without arrivals until every request is done,
//!   so every request is counted (served or dropped);
//! - the reward is the paper's composite with every weight a parameter ([`RewardParams`]); the SLO
//!   penalty is paid in the step during which the late request completes.
//!
//! [`CapacityModel::Shared`]: crate::scenario::lb::CapacityModel::Shared
//! [`CapacityModel::FullRatePerRequest`]: crate::scenario::lb::CapacityModel::FullRatePerRequest
//! [`RewardParams`]: crate::scenario::lb::RewardParams

mod env;
mod geo;
mod metrics;
mod policy;
mod vec_env;
mod workload;

pub use env::{LbEnv, LbEnvConfig, LbEnvState, StepOutcome, SERVER_OBS, SERVER_OBS_NAMES};
pub use geo::{GeoRouter, GeoRouting};
pub use metrics::{EpisodeMetrics, ServerMetrics};
pub use policy::{baseline, run_episode, LbPolicy, BASELINES};
pub use vec_env::{CurvePoint, ObsNormaliser, VecEnv, VecEnvState};
pub use workload::LbWorkload;
