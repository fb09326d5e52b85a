//! Reading a scenario file with its `include`s, data paths made absolute.

use std::path::Path;

use super::ScenarioError;
use crate::config::{ConfigError, Layered};

/// The most nested `include`s followed before giving up (a cycle, most likely).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Reads `path`, lays it over the file it includes (recursively), and makes every data path
/// absolute relative to the folder of the file that contains it.
pub(super) fn read_with_includes(path: &Path, depth: usize) -> Result<Layered, ScenarioError> {
    let doc = Layered::read(path).map_err(|error| ScenarioError::Config {
        file: path.to_owned(),
        error,
    })?;
    with_includes(doc, path, depth)
}

/// [`read_with_includes`] of a document already read from `path`.
pub(super) fn with_includes(
    mut doc: Layered,
    path: &Path,
    depth: usize,
) -> Result<Layered, ScenarioError> {
    let config_err = |error| ScenarioError::Config {
        file: path.to_owned(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    absolutise_paths(&mut doc, dir);
    match doc.remove("include") {
        None => Ok(doc),
        Some(toml::Value::String(include)) => {
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(config_err(ConfigError::invalid(
                    "include",
                    format!("more than {MAX_INCLUDE_DEPTH} nested includes (a cycle?)"),
                )));
            }
            let mut base = read_with_includes(&dir.join(include), depth + 1)?;
            base.merge(doc);
            Ok(base)
        }
        Some(other) => Err(config_err(ConfigError::invalid(
            "include",
            format!("must be a file name, got {other}"),
        ))),
    }
}

/// The keys that hold data file paths.
fn absolutise_paths(doc: &mut Layered, dir: &Path) {
    fn fix(value: Option<&mut toml::Value>, dir: &Path) {
        if let Some(toml::Value::Table(t)) = value {
            for key in ["file", "sizes_file"] {
                if let Some(toml::Value::String(file)) = t.get_mut(key) {
                    *file = dir.join(&*file).display().to_string();
                }
            }
        }
    }
    fix(doc.get_mut("import"), dir);
    fix(doc.get_mut("demand").and_then(|d| d.get_mut("trace")), dir);
    fix(
        doc.get_mut("datacenter_defaults")
            .and_then(|d| d.get_mut("grid")),
        dir,
    );
    if let Some(toml::Value::Array(dcs)) = doc.get_mut("datacenters") {
        for dc in dcs {
            fix(dc.get_mut("grid"), dir);
        }
    }
}

impl Layered {
    /// Lays the table at `defaults` under every entry of the array of tables at `array`, and
    /// removes `defaults`.
    pub(crate) fn apply_defaults(&mut self, defaults: &str, array: &str) {
        let Some(toml::Value::Table(base)) = self.remove(defaults) else {
            return;
        };
        if let Some(toml::Value::Array(items)) = self.get_mut(array) {
            for item in items.iter_mut() {
                if let toml::Value::Table(t) = item {
                    let mut merged = Layered::from_table(base.clone());
                    merged.merge(Layered::from_table(std::mem::take(t)));
                    *t = merged.into_table();
                }
            }
        }
    }
}
