//! Verdant's core: the world every method reads and the code that scores every plan.
//!
//! This crate holds what all of Verdant shares and nothing that needs a solver or a neural-network
//! library (those live in `verdant-solvers` and `verdant-agents`):
//!
//! - [`config`]: TOML configurations assembled from layers (defaults, file, `--set` overrides) and
//!   validated once into checked types whose errors name the offending key;
//! - [`seed`]: one master seed and the independent random streams derived from it per component;
//! - [`run`]: run directories, atomic file writes and the manifest saved with every run;
//! - [`data_error`]: errors in user data naming file, line and field;
//! - [`trace`]: workload traces (Azure, BurstGPT, generators), transforms, per-epoch demand;
//! - [`features`]: the load balancer's request features and a robust scaler;
//! - [`lb`]: the single-agent load balancer's environment, baselines and metrics;
//! - [`grid`]: hourly grid signals (carbon, water, price, generation mix) from the bundled data;
//! - [`scenario`]: the world every method reads, loaded from TOML and checked once;
//! - [`sim`]: the shared simulator (fluid and discrete-event) that scores every plan;
//! - [`allocator`]: the one interface every method implements ([`allocator::Allocator`]), the
//!   [`allocator::Problem`] it is given, and the simple rules;
//! - [`pareto`]: dominance, fronts, ranks, crowding, exact hypervolume and its I/O.
//!

#![warn(missing_docs)]

pub mod allocator;
pub mod config;
pub mod data_error;
pub mod features;
pub mod geo;
pub mod grid;
pub mod lb;
pub mod pareto;
mod parse;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod sim;
pub mod trace;
