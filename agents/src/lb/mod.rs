//! The single-agent RL load balancer: PPO, A2C and DQN on [`verdant::lb::LbEnv`].
//!
//! - [`params`]: the agents' parameters, checked once;
//! - [`trainer`]: the three algorithms, greedy evaluation and exact checkpoints.
//!
//! Determinism: weights are drawn from the seed's `lb.init` stream; episode windows come
//! from `lb.episodes`; action sampling, exploration and minibatch order from `lb.agent` (a ChaCha
//! stream in Rust, not libtorch's generator), so a checkpoint captures every random state and a
//! resumed run continues bit for bit on the CPU.

pub mod params;
pub mod trainer;

pub use params::{ActorCriticParams, Algorithm, DqnParams, LbAgentParams, LbAgentSettings};
pub use trainer::{GreedyPolicy, LbTrainer, TrainProgress, CHECKPOINT_FILE};
pub use verdant::lb::{CurvePoint, ObsNormaliser, VecEnv};
