//! Scenario files: the TOML schema and its checked loading, in stages.
//!
//! - [`include`](self): read a file with its `include`s (laid under it, key by key; includes
//!   nest), make data paths absolute, lay `[datacenter_defaults]` under every datacenter;
//! - `schema`: the raw document as typed, unchecked structs (unknown keys rejected);
//! - `build`: every key checked, names resolved to indices, into a [`Scenario`]; with `grid`
//!   (hourly signals cut to the horizon) and `demand` (the trace, classes, origins, scaling).
//!
//! A [`Scenario`] is only obtained through these stages (or a checked transform of one); its
//! fields can be read but the type cannot be built elsewhere.
//!
//! A scenario file may start with `include = "other.toml"` (laid under it, key by key; includes
//! nest) and may give `[datacenter_defaults]` (laid under every `[[datacenters]]` entry). Data file
//! paths (`file` keys) are relative to the folder of the file that contains them. A file with `[import]` builds the whole scenario from a foreign
//! format instead (`format = "green-llm-params"`: the Green-LLM base case's `params.json`).
//!
//! Keys (units in names): `name`, `description`, `ttft_slo_s`, `[time]` (`start_utc`, `epoch_s`,
//! `epochs`), `[[gpus]]`, `[[models]]` (with `[models.speed.<gpu>]`), `[[classes]]`,
//! `[[origins]]`, `[[datacenters]]` (with `node_pools`, `facility`, `grid`), `[network]`,
//! `[demand]`, `[water_treatment]`. See datasets/scenarios/ for complete examples and
//! docs/parameters.md for the sources of the values.

mod build;
mod demand;
mod grid;
mod include;
mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::ConfigError;
use crate::data_error::DataError;
use crate::seed::MasterSeed;

/// Why a scenario could not be built.
#[derive(Debug)]
pub enum ScenarioError {
    /// A key of the scenario file is missing, unknown or out of range.
    Config {
        /// The scenario file.
        file: PathBuf,
        /// The key and what is wrong.
        error: ConfigError,
    },
    /// A data file the scenario reads is malformed.
    Data(DataError),
    /// Parts given to [`Scenario::from_parts`] do not make a valid scenario.
    Parts {
        /// The scenario's name.
        scenario: String,
        /// The part, as a path (`datacenters[2].grid.price_usd_per_kwh`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A transform of a checked scenario was asked for something it cannot give.
    Transform {
        /// The scenario transformed.
        scenario: String,
        /// The transform and its argument.
        what: String,
        /// Why it cannot be done.
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Config { file, error } => {
                write!(f, "scenario {}: {error}", file.display())
            }
            ScenarioError::Data(e) => write!(f, "{e}"),
            ScenarioError::Parts {
                scenario,
                key,
                message,
            } => write!(f, "scenario {scenario}: {key}: {message}"),
            ScenarioError::Transform {
                scenario,
                what,
                message,
            } => write!(f, "scenario {scenario}: {what}: {message}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl From<DataError> for ScenarioError {
    fn from(e: DataError) -> Self {
        ScenarioError::Data(e)
    }
}

impl Scenario {
    /// Loads and checks the scenario file at `path`; random choices (class and origin of trace
    /// requests) draw from streams of `seed`.
    pub fn load(path: &Path, seed: MasterSeed) -> Result<Scenario, ScenarioError> {
        let doc = include::read_with_includes(path, 0)?;
        Scenario::from_document(doc, path, seed)
    }

    /// Checks the scenario whose file text is `text`, as if read from `path` (its includes and
    /// data paths are relative to `path`'s folder; errors name `path`).
    pub fn parse(text: &str, path: &Path, seed: MasterSeed) -> Result<Scenario, ScenarioError> {
        let doc =
            crate::config::Layered::parse(text, &path.display().to_string()).map_err(|error| {
                ScenarioError::Config {
                    file: path.to_owned(),
                    error,
                }
            })?;
        let doc = include::with_includes(doc, path, 0)?;
        Scenario::from_document(doc, path, seed)
    }

    fn from_document(
        mut doc: crate::config::Layered,
        path: &Path,
        seed: MasterSeed,
    ) -> Result<Scenario, ScenarioError> {
        let config_err = |error| ScenarioError::Config {
            file: path.to_owned(),
            error,
        };
        if let Some(import) = doc.get("import").cloned() {
            return green_llm::import(path, &doc, &import);
        }
        // Counted before the datacenter defaults are copied into each.
        let datacenters = doc
            .get("datacenters")
            .and_then(|v| v.as_array())
            .map_or(0, Vec::len);
        if datacenters > crate::scenario::MAX_DATACENTERS {
            return Err(config_err(ConfigError::invalid(
                "datacenters",
                format!(
                    "{datacenters}: at most {} (docs/limits.md): every plan has a share per datacenter, the network a latency per origin and datacenter",
                    crate::scenario::MAX_DATACENTERS
                ),
            )));
        }
        doc.apply_defaults("datacenter_defaults", "datacenters");
        let spec: schema::ScenarioFile = doc.deserialize().map_err(config_err)?;
        build::build(spec, path, seed)
    }
}
