//! MARLIN: two-phase multi-agent SAC with FiLM and hindsight replay, capital-weighted voting
//! and vetoes (the MARLIN paper's Algorithms 1 and 2; docs/marlin.md for our readings).
//!
//! - [`game`]: phase 2's arithmetic (utility loss, veto, performance, bonus, capital);
//! - [`params`]: every constant, checked; the five schemes and the ablation switches;
//! - [`sac`]: SAC with a FiLM-modulated actor;
//! - [`replay`]: replay buffers, 30/70 batches and hindsight relabelling;
//! - [`world`]: state, action-to-plan mapping and feasibility projection on a scenario;
//! - [`trainer`]: the two phases epoch by epoch, the archive, exact checkpoints.

pub mod game;
pub mod params;
pub mod replay;
pub mod sac;
pub mod trainer;
pub mod world;

pub use params::{ActorInit, Components, Execution, MarlinParams, MarlinSettings, Scheme};
pub use trainer::{
    ArchivePoint, Deployment, EpochLog, Marlin, MarlinLearner, MarlinPolicy, MARLIN_CHECKPOINT,
};
