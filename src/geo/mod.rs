//! Geo routing epoch by epoch: the world an agent sees (state, conditioning, actions to
//! fractions) and MARLIN's negotiation arithmetic, shared by MARLIN (`verdant-agents`) and the
//! Python module's `GeoRoutingEnv` and `MarlinEnv`.

pub mod game;
mod world;

pub use world::{GeoWorld, Scales, OBJECTIVES};
