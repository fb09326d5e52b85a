//! Verdant's learning agents on libtorch through `tch`.
//!
//! - [`device`]: the compute device (CUDA when present, CPU otherwise, the same code either way)
//!   and libtorch's thread count;
//! - [`mlp`]: the multilayer perceptron every agent builds on;
//! - [`regression`]: supervised fitting of an MLP to a known function, the smallest complete
//!   training loop (used by `verdant demo` and the toolchain tests).
//!
//! Later issues add the load balancer's PPO/A2C/DQN and MARLIN's SAC agents here.

pub mod device;
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
}
