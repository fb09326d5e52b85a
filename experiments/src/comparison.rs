//! The configuration that `verdant compare` and `verdant learn` share: the compare document
//! (the sections of marlin.toml and lb.toml, the methods compared, and `verdant learn`'s axes),
//! its defaults, and the simulator settings every comparison scores with.

use std::collections::BTreeMap;

use serde::Deserialize;
use verdant::config::{key, ConfigError, Layered, Validate};
use verdant::sim::SimParams;
use verdant_agents::lb::LbAgentParams;
use verdant_agents::marlin::{MarlinParams, MarlinSettings, Scheme};
use verdant_agents::TorchParams;

use crate::methods::{self, MethodsSection};
use crate::training::lb::{self as lb_training, GeoSection, LbChecked, LbDoc, LbSection};
use crate::training::marlin::{self as marlin_training, CompareSection, MarlinChecked, MarlinDoc};

pub const DEFAULTS: &str = include_str!("../configs/compare.toml");

/// `verdant learn`'s own defaults (laid over compare's).
pub const LEARN_DEFAULTS: &str = include_str!("../configs/learn.toml");

/// The compare document: the sections of marlin.toml and lb.toml (their defaults are laid under
/// compare.toml), and the list of methods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompareDoc {
    seed: u64,
    scenario: String,
    schemes: Vec<Scheme>,
    seeds: u32,
    discrete_event: bool,
    marlin: MarlinParams,
    #[serde(default)]
    torch: TorchParams,
    #[serde(default)]
    compare: CompareSection,
    methods: MethodsSection,
    /// The methods compared: registry names, in the order the tables list them.
    compared: Vec<String>,
    lb: LbSection,
    #[serde(default)]
    geo: GeoSection,
    agent: LbAgentParams,
    /// `verdant learn`'s axes (its defaults add them; `verdant compare` refuses them).
    #[serde(default)]
    learn: Option<LearnSection>,
}

/// The compare document, checked (also `verdant learn`'s).
pub(crate) struct CompareChecked {
    pub marlin: MarlinChecked,
    pub lb: LbChecked,
    /// The methods, registry names in table order.
    pub methods: Vec<String>,
    pub learn: Option<LearnChecked>,
}

impl Validate for CompareDoc {
    type Checked = CompareChecked;
    fn validate(self, prefix: &str) -> Result<CompareChecked, ConfigError> {
        for name in &self.compared {
            if methods::method(name).is_none() {
                let known: Vec<&str> = methods::REGISTRY.iter().map(|m| m.name).collect();
                return Err(ConfigError::invalid(
                    key(prefix, "compared"),
                    format!("unknown method {name:?} (known: {})", known.join(", ")),
                ));
            }
        }
        if !self.compared.iter().any(|m| m == "exact") {
            return Err(ConfigError::invalid(
                key(prefix, "compared"),
                "must include \"exact\": every indicator is relative to it",
            ));
        }
        // The load balancer routes the same scenario with the same seeds.
        let lb = LbDoc {
            seed: self.seed,
            lb: LbSection {
                seeds: self.seeds,
                ..self.lb
            },
            geo: GeoSection {
                scenario: self.scenario.clone(),
                ..self.geo
            },
            agent: self.agent,
            torch: self.torch.clone(),
        }
        .validate(prefix)?;
        let marlin = MarlinDoc {
            seed: self.seed,
            scenario: self.scenario,
            schemes: self.schemes,
            seeds: self.seeds,
            discrete_event: self.discrete_event,
            marlin: self.marlin,
            torch: self.torch,
            compare: self.compare,
            methods: self.methods,
        }
        .validate(prefix)?;
        let learn = match self.learn {
            Some(l) => Some(l.validate(&key(prefix, "learn"), &marlin.marlin)?),
            None => None,
        };
        Ok(CompareChecked {
            marlin,
            lb,
            methods: self.compared,
            learn,
        })
    }
}

/// Paper-scale budgets for `verdant compare --full`.
const FULL: &str = r#"
seeds = 3
[marlin]
days = 10
k_opt = 8
[agent]
total_steps = 200000
[methods.exact]
front_grid = 5
"#;

/// The defaults of `verdant compare`: marlin.toml, then lb.toml, then compare.toml (then the
/// paper-scale budgets with `--full`).
pub(crate) fn defaults(full: bool) -> anyhow::Result<String> {
    let mut doc = Layered::parse(marlin_training::DEFAULTS, "built-in defaults of marlin")?;
    doc.merge(Layered::parse(
        lb_training::DEFAULTS,
        "built-in defaults of lb",
    )?);
    doc.merge(Layered::parse(DEFAULTS, "built-in defaults of compare")?);
    if full {
        doc.merge(Layered::parse(FULL, "--full budgets")?);
    }
    Ok(doc.to_toml_string())
}

/// The one place that decides the simulator's settings for every method and every score of
/// `verdant compare` and `verdant learn`. The discrete-event queue keeps every request, as the
/// fluid backlog does: with the default bound the plans that overload a datacenter dropped most
/// of their requests there, and their discrete-event TTFT counted only the ones served.
pub(crate) fn scoring_sim() -> SimParams {
    SimParams {
        max_waiting_per_datacenter: KEEP_EVERY_REQUEST,
        ..SimParams::default()
    }
}

/// The discrete-event simulator's queue bound per datacenter in `verdant compare`: large enough
/// that no request is dropped at the bundled scenarios' loads (one node of the largest pool
/// receives a few hundred thousand requests a day).
const KEEP_EVERY_REQUEST: usize = 10_000_000;

/// `[learn]`: the study's axes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LearnSection {
    /// Budgets in passes over the training days (log-spaced; the untrained control is added).
    pub passes: Vec<usize>,
    /// MARLIN's exploration iterations per epoch and agent: one curve each for the schemes of
    /// `k_opt_schemes`, the first for every scheme.
    pub k_opt: Vec<usize>,
    /// Schemes trained at every `k_opt` (the others at the first only).
    #[serde(default)]
    pub k_opt_schemes: Vec<Scheme>,
    /// Schemes that also train from the even split (`marlin.actor_init = "even"`).
    #[serde(default)]
    pub even_init: Vec<Scheme>,
    /// Training runs side by side (each one libtorch thread).
    pub jobs: usize,
    /// The sensitivity study: one scheme trained with other `[marlin]` values.
    #[serde(default)]
    pub sensitivity: Option<SensitivitySection>,
}

/// `[learn.sensitivity]`: one scheme at the first `k_opt`, trained at `passes` (and
/// untrained) under each variant's `[marlin]` values, for the study's seeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SensitivitySection {
    pub scheme: Scheme,
    pub passes: Vec<usize>,
    /// Variant name -> the `[marlin]` keys it changes (`components` merges key by key).
    pub variants: BTreeMap<String, toml::Table>,
}

/// `[learn]`, checked: budgets ascending and distinct.
#[derive(Debug, Clone)]
pub(crate) struct LearnChecked {
    pub passes: Vec<usize>,
    pub k_opt: Vec<usize>,
    pub k_opt_schemes: Vec<Scheme>,
    pub even_init: Vec<Scheme>,
    pub jobs: usize,
    pub sensitivity: Option<SensitivityChecked>,
}

/// `[learn.sensitivity]`, checked: every variant's settings valid.
#[derive(Debug, Clone)]
pub(crate) struct SensitivityChecked {
    pub scheme: Scheme,
    pub passes: Vec<usize>,
    pub variants: Vec<Variant>,
}

/// One variant of the sensitivity study.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub name: String,
    /// What it changes, as TOML (`action_scale = 1.0`).
    pub changes: String,
    pub settings: MarlinSettings,
}

impl SensitivityChecked {
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// Budgets ascending, distinct, each at least one pass; the error names `at`.
fn budgets(at: String, mut passes: Vec<usize>) -> Result<Vec<usize>, ConfigError> {
    passes.sort_unstable();
    passes.dedup();
    if passes.is_empty() || passes[0] == 0 {
        return Err(ConfigError::invalid(
            at,
            "needs at least one budget, each at least 1 pass (the untrained control is added)",
        ));
    }
    Ok(passes)
}

/// `table`'s values as `key.path = value` lines.
fn dotted(prefix: &str, table: &toml::Table) -> Vec<String> {
    table
        .iter()
        .flat_map(|(k, v)| match v {
            toml::Value::Table(t) => dotted(&key(prefix, k), t),
            v => vec![format!("{} = {v}", key(prefix, k))],
        })
        .collect()
}

impl SensitivitySection {
    /// Checks the budgets and lays each variant over `marlin`; errors name keys under `at`.
    fn validate(
        self,
        at: &str,
        marlin: &MarlinSettings,
    ) -> Result<SensitivityChecked, ConfigError> {
        let passes = budgets(key(at, "passes"), self.passes)?;
        let mut variants = Vec::new();
        let at_variants = key(at, "variants");
        for (name, changes) in self.variants {
            // The name becomes part of file names and table keys.
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(ConfigError::invalid(
                    key(&at_variants, &name),
                    "a variant's name is letters, digits, '-' and '_'",
                ));
            }
            let settings = marlin.with_changes(&key(&at_variants, &name), &changes)?;
            let changes = dotted("", &changes).join(", ");
            variants.push(Variant {
                name,
                changes,
                settings,
            });
        }
        Ok(SensitivityChecked {
            scheme: self.scheme,
            passes,
            variants,
        })
    }
}

impl LearnSection {
    /// Checks the axes; the sensitivity study's variants are laid over `marlin`.
    fn validate(self, prefix: &str, marlin: &MarlinSettings) -> Result<LearnChecked, ConfigError> {
        let passes = budgets(key(prefix, "passes"), self.passes)?;
        let mut k_opt = self.k_opt;
        k_opt.dedup();
        if k_opt.is_empty() || k_opt.contains(&0) {
            return Err(ConfigError::invalid(
                key(prefix, "k_opt"),
                "needs at least one value, each at least 1",
            ));
        }
        if self.jobs == 0 {
            return Err(ConfigError::invalid(
                key(prefix, "jobs"),
                "must be at least 1",
            ));
        }
        let sensitivity = match self.sensitivity {
            Some(s) => Some(s.validate(&key(prefix, "sensitivity"), marlin)?),
            None => None,
        };
        Ok(LearnChecked {
            passes,
            k_opt,
            k_opt_schemes: self.k_opt_schemes,
            even_init: self.even_init,
            jobs: self.jobs,
            sensitivity,
        })
    }
}

/// The defaults of `verdant learn`: compare's (marlin.toml, lb.toml, compare.toml), then
/// learn.toml.
pub(crate) fn learn_defaults() -> anyhow::Result<String> {
    let mut doc = Layered::parse(&defaults(false)?, "built-in defaults of compare")?;
    doc.merge(Layered::parse(
        LEARN_DEFAULTS,
        "built-in defaults of learn",
    )?);
    Ok(doc.to_toml_string())
}
