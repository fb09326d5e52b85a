//! The search and heuristic frameworks MARLIN is compared with (its section 6), each an
//! [`Allocator`](verdant::allocator::Allocator) over a scenario, each scored by the shared simulator.
//! The learning ones (Q-learning, Double DQN, Actor-Critic) are in `verdant-agents`.
//!
//! Each module's documentation says which idea of the original it keeps and what it simplifies.
//! All decide per epoch and request class (fractions over datacenters, the core's
//! [`EpochPlanner`](verdant::sim::planner::EpochPlanner)) and respect its capacity projection.

pub mod genome;
pub mod helix;
pub mod nsga2;
pub mod perllm;
pub mod slit;
pub mod splitwise;

pub use genome::{Genome, Scalariser};
pub use helix::{max_flow, Helix};
pub use nsga2::{Nsga2, Nsga2Params};
pub use perllm::{PerLlm, PerLlmParams};
pub use slit::{Slit, SlitParams};
pub use splitwise::Splitwise;
