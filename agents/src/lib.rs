//! Verdant's learning agents on libtorch through `tch`.
//!
//! - [`device`]: the compute device (CUDA when present, CPU otherwise, the same code either way)
//!   and libtorch's thread count;
//! - [`adam`]: Adam whose moments a checkpoint can save and restore;
//! - [`checkpoint`], every agent's checkpoints: metadata and named tensors, atomic, pruned,
//!   shape-checked;
//! - [`lb`]: the load balancer's PPO, A2C and DQN agents;
//! - [`mlp`]: the multilayer perceptron every agent builds on;
//! - [`regression`]: supervised fitting of an MLP to a known function, the smallest complete
//!   training loop (used by `verdant demo` and the toolchain tests).
//!
//! MARLIN's SAC agents come next.

#![warn(missing_docs)]

pub mod adam;
pub mod baselines;
pub mod checkpoint;
pub mod device;
pub mod lb;
pub mod marlin;
pub mod mlp;
pub mod regression;

pub use device::{DevicePreference, TorchParams, TorchSettings};

/// The libtorch version tch 0.26 is built against; torch-sys refuses any other at build time.
pub const LIBTORCH_VERSION: &str = "2.13.0";

/// Why an agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// CUDA was asked for explicitly and is not available.
    #[error("device = \"cuda\" was requested but libtorch sees no CUDA device (use \"auto\" or \"cpu\")")]
    CudaUnavailable,
    /// libtorch raised an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Parameters or data that the agent cannot use.
    #[error("{0}")]
    Invalid(String),
    /// A plan did not fit the scenario.
    #[error(transparent)]
    Plan(#[from] verdant::sim::PlanError),
    /// A file could not be written (atomically).
    #[error(transparent)]
    File(#[from] verdant::run::FileError),
    /// A checkpoint's metadata could not be encoded.
    #[error("encoding checkpoint metadata: {0}")]
    Encode(#[from] serde_json::Error),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(std::path::PathBuf, #[source] std::io::Error),
    /// A checkpoint does not fit this run or is damaged.
    #[error("checkpoint {0}: {1}")]
    Checkpoint(std::path::PathBuf, String),
}

/// Index of the largest value (the first one on ties; 0 for an empty slice).
pub(crate) fn argmax<T: PartialOrd>(v: &[T]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}
