//! MARLIN: two-phase multi-agent SAC with FiLM and hindsight replay, capital-weighted voting
//! and vetoes (the MARLIN paper's Algorithms 1 and 2; docs/marlin.md for our readings). The
//! world it acts in (state, actions to plans) and phase 2's arithmetic are the core's
//! [`verdant::geo`].
//!
//! - [`params`]: every constant, checked; the five schemes and the ablation switches;
//! - [`sac`]: SAC with a FiLM-modulated actor;
//! - [`replay`]: replay buffers, 30/70 batches and hindsight relabelling;
//! - [`trainer`]: the two phases epoch by epoch, the archive, exact checkpoints.

pub mod params;
pub mod replay;
pub mod sac;
pub mod trainer;

pub use params::{ActorInit, Components, Execution, MarlinParams, MarlinSettings, Scheme};
pub use trainer::{
    ArchivePoint, Deployment, EpochLog, Marlin, MarlinLearner, MarlinPolicy, MARLIN_CHECKPOINT,
};
