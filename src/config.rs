//! Configurations: TOML layers merged in order, then validated once into checked types.
//!
//! A run's configuration is assembled from layers, later ones winning key by key:
//! 1. the experiment's built-in defaults (a TOML document shipped with the binary),
//! 2. the file given with `--config`,
//! 3. each `--set key=value` from the command line, in order,
//! 4. dedicated flags such as `--seed`.
//!
//! The merged document is deserialised into a parameter struct (unknown keys are rejected, so a
//! typo never passes silently) and that struct is validated into a checked type; every error names
//! the key it is about (`demo.mlp.steps: must be at least 1`). The merged document is what a run
//! directory stores as `config.resolved.toml`, so a run can be repeated from it alone.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What went wrong while reading, merging or checking a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        #[source]
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The text is not valid TOML.
    #[error("{origin} is not valid TOML: {message}")]
    Syntax {
        /// The file or layer.
        origin: String,
        /// What the TOML parser said.
        message: String,
    },
    /// A `--set` argument is not of the form `key=value` or cannot be applied.
    #[error("--set {assignment:?}: {reason}")]
    Override {
        /// The argument as given.
        assignment: String,
        /// Why it cannot be applied.
        reason: String,
    },
    /// A key holds a value of the wrong type, is unknown, or fails validation.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key.
        key: String,
        /// What is wrong with its value.
        message: String,
    },
}

impl ConfigError {
    /// A validation failure of the value at `key`.
    pub fn invalid(key: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.to_string(),
        }
    }
}

/// Parameters that are checked once into a type that can no longer be wrong.
///
/// `prefix` is the dotted key under which these parameters sit in the document (empty at the
/// root); errors name keys below it.
pub trait Validate {
    /// The checked form.
    type Checked;
    /// Checks `self`, whose keys sit under `prefix`, into its checked form; errors name the key.
    fn validate(self, prefix: &str) -> Result<Self::Checked, ConfigError>;
}

/// Joins a key prefix and a field name with a dot.
pub fn key(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// Checks that `value` at `prefix.field` is a finite number > 0.
pub fn require_positive(prefix: &str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key(prefix, field),
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// Checks that `value` at `prefix.field` is a finite number >= 0.
pub fn require_non_negative(prefix: &str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key(prefix, field),
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// Checks that `value` at `prefix.field` is in [0, 1].
pub fn require_fraction(prefix: &str, field: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key(prefix, field),
            format!("must be in [0, 1], got {value}"),
        ))
    }
}

/// Checks that a count at `prefix.field` is at least 1.
pub fn require_at_least_one(prefix: &str, field: &str, value: u64) -> Result<(), ConfigError> {
    if value >= 1 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key(prefix, field),
            "must be at least 1",
        ))
    }
}

/// A TOML document built from layers; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layered {
    table: toml::Table,
}

/// The largest TOML file read (a configuration, a scenario): 32 MiB. Parsing takes about 20
/// times the text (an 18.7 MB scenario of 100,000 datacenters: 370 MiB); a scenario at the
/// limits of docs/limits.md takes a few MiB.
pub const MAX_CONFIG_FILE_BYTES: u64 = 32 << 20;

impl Layered {
    /// Parses `text`; `origin` names it in errors (a file path, or `built-in defaults`).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax {
                origin: origin.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
        Ok(Layered { table })
    }

    /// Reads and parses a TOML file (at most [`MAX_CONFIG_FILE_BYTES`]).
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let read_error = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let bytes = std::fs::metadata(path).map_err(read_error)?.len();
        if bytes > MAX_CONFIG_FILE_BYTES {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{bytes} bytes: configuration and scenario files are parsed whole, at most {MAX_CONFIG_FILE_BYTES} bytes (32 MiB; docs/limits.md)"
                ),
            )));
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Lays `upper` over this document: tables merge key by key (unless `upper` changes the
    /// table's `mode`, `source` or `kind`: then it replaces the table), any other value is
    /// replaced.
    pub fn merge(&mut self, upper: Layered) {
        merge_tables(&mut self.table, upper.table);
    }

    /// Applies one `key.path=value` override. The value is read as a TOML value (`3`, `0.5`,
    /// `true`, `"text"`, `[1, 2]`); anything that is not valid TOML is taken as a plain string.
    pub fn set(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let fail = |reason: &str| ConfigError::Override {
            assignment: assignment.to_owned(),
            reason: reason.to_owned(),
        };
        let (path, raw) = assignment
            .split_once('=')
            .ok_or_else(|| fail("expected key=value"))?;
        let path = path.trim();
        let parts: Vec<&str> = path.split('.').collect();
        if path.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(fail("empty key"));
        }
        let value = parse_value(raw.trim());
        let mut table = &mut self.table;
        for (depth, part) in parts[..parts.len() - 1].iter().enumerate() {
            let entry = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    let at = parts[..=depth].join(".");
                    return Err(fail(&format!("{at} is a value, not a table")));
                }
            };
        }
        table.insert(parts[parts.len() - 1].to_owned(), value);
        Ok(())
    }

    /// Sets `key.path` to a serialisable value (used for dedicated flags such as `--seed`).
    pub fn set_value<T: Serialize>(&mut self, path: &str, value: T) -> Result<(), ConfigError> {
        let value = toml::Value::try_from(value).map_err(|e| ConfigError::invalid(path, e))?;
        self.set(&format!("{path}={value}"))
    }

    /// The value at a dotted key, if present.
    pub fn get(&self, path: &str) -> Option<&toml::Value> {
        let mut parts = path.split('.');
        let mut value = self.table.get(parts.next()?)?;
        for part in parts {
            value = value.as_table()?.get(part)?;
        }
        Some(value)
    }

    /// Removes the value at a top-level key, returning it.
    pub fn remove(&mut self, key: &str) -> Option<toml::Value> {
        self.table.remove(key)
    }

    /// The value at a top-level key, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut toml::Value> {
        self.table.get_mut(key)
    }

    /// A document from a TOML table.
    pub fn from_table(table: toml::Table) -> Self {
        Layered { table }
    }

    /// The document's table.
    pub fn into_table(self) -> toml::Table {
        self.table
    }

    /// Deserialises the document into `T`; a type error or an unknown key is reported with its
    /// full dotted key.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let value = toml::Value::Table(self.table.clone());
        serde_path_to_error::deserialize(value).map_err(|err| {
            // The path names the offending key (an unknown field included); the message's first
            // line says what is wrong with it.
            let key = match err.path().to_string() {
                p if p == "." => "(top level)".to_owned(),
                p => p,
            };
            let message = err.into_inner().to_string();
            let message = message.lines().next().unwrap_or("invalid value").to_owned();
            ConfigError::Invalid { key, message }
        })
    }

    /// Deserialises and validates in one step.
    pub fn checked<P>(&self) -> Result<P::Checked, ConfigError>
    where
        P: DeserializeOwned + Validate,
    {
        self.deserialize::<P>()?.validate("")
    }

    /// The document as TOML text, keys in a stable order.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(&self.table).expect("a toml::Table always serialises")
    }
}

fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// Keys that select a variant of a table (`mode = "distance"`, `source = "file"`, ...): a table
/// whose variant changes is replaced whole, since the old variant's keys mean nothing in the new.
const VARIANT_KEYS: [&str; 3] = ["mode", "source", "kind"];

fn same_variant(lower: &toml::Table, upper: &toml::Table) -> bool {
    VARIANT_KEYS
        .iter()
        .all(|k| match (lower.get(*k), upper.get(*k)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        })
}

fn merge_tables(lower: &mut toml::Table, upper: toml::Table) {
    for (k, v) in upper {
        match (lower.get_mut(&k), v) {
            (Some(toml::Value::Table(l)), toml::Value::Table(u)) if same_variant(l, &u) => {
                merge_tables(l, u)
            }
            (_, v) => {
                lower.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        seed: u64,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        steps: u32,
        rate: f64,
    }

    struct Checked {
        steps: u32,
    }

    impl Validate for Outer {
        type Checked = Checked;
        fn validate(self, prefix: &str) -> Result<Checked, ConfigError> {
            if self.inner.steps == 0 {
                return Err(ConfigError::invalid(
                    key(&key(prefix, "inner"), "steps"),
                    "must be at least 1",
                ));
            }
            Ok(Checked {
                steps: self.inner.steps,
            })
        }
    }

    fn base() -> Layered {
        Layered::parse("seed = 1\n[inner]\nsteps = 10\nrate = 0.5\n", "defaults").unwrap()
    }

    #[test]
    fn later_layers_win_key_by_key() {
        let mut cfg = base();
        cfg.merge(Layered::parse("[inner]\nsteps = 20\n", "file").unwrap());
        cfg.set("inner.rate=0.25").unwrap();
        cfg.set_value("seed", 7u64).unwrap();
        let outer: Outer = cfg.deserialize().unwrap();
        assert_eq!(
            (outer.seed, outer.inner.steps, outer.inner.rate),
            (7, 20, 0.25)
        );
    }

    #[test]
    fn errors_name_the_key() {
        let mut cfg = base();
        cfg.set("inner.stepz=3").unwrap();
        let err = cfg.deserialize::<Outer>().unwrap_err().to_string();
        assert!(err.starts_with("inner.stepz:"), "{err}");

        let mut cfg = base();
        cfg.set("inner.steps=\"many\"").unwrap();
        let err = cfg.deserialize::<Outer>().unwrap_err().to_string();
        assert!(err.starts_with("inner.steps:"), "{err}");

        let mut cfg = base();
        cfg.set("inner.steps=0").unwrap();
        let err = cfg.checked::<Outer>().err().unwrap().to_string();
        assert_eq!(err, "inner.steps: must be at least 1");
        cfg.set("inner.steps=4").unwrap();
        assert_eq!(cfg.checked::<Outer>().ok().unwrap().steps, 4);
    }

    #[test]
    fn bad_overrides_and_syntax_are_reported() {
        let mut cfg = base();
        assert!(matches!(
            cfg.set("no-equals"),
            Err(ConfigError::Override { .. })
        ));
        assert!(matches!(cfg.set("=3"), Err(ConfigError::Override { .. })));
        assert!(matches!(
            cfg.set("a..b=3"),
            Err(ConfigError::Override { .. })
        ));
        let err = cfg.set("seed.x=3").unwrap_err().to_string();
        assert!(err.contains("seed is a value, not a table"), "{err}");
        let err = Layered::parse("x = = 1", "my.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("my.toml is not valid TOML"), "{err}");
    }

    #[test]
    fn a_table_that_changes_its_variant_is_replaced() {
        let mut cfg = Layered::parse("[net]\nmode = \"a\"\nx = 1\n", "d").unwrap();
        cfg.merge(Layered::parse("[net]\nmode = \"a\"\ny = 2\n", "f").unwrap());
        assert!(cfg.get("net.x").is_some() && cfg.get("net.y").is_some());
        cfg.merge(Layered::parse("[net]\nmode = \"b\"\nz = 3\n", "f").unwrap());
        assert!(cfg.get("net.x").is_none() && cfg.get("net.z").is_some());
    }

    #[test]
    fn unquoted_text_becomes_a_string_and_round_trips() {
        let mut cfg = base();
        cfg.set("name=geo-8dc").unwrap();
        assert_eq!(cfg.get("name").and_then(|v| v.as_str()), Some("geo-8dc"));
        let again = Layered::parse(&cfg.to_toml_string(), "resolved").unwrap();
        assert_eq!(again, cfg);
    }
}
