//! Scenario files: the TOML schema and its checked loading.
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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::*;
use crate::config::{ConfigError, Layered};
use crate::data_error::DataError;
use crate::grid::{load_eia2022, load_ren2022, EIA_FUELS};
use crate::seed::MasterSeed;
use crate::trace::generate::GeneratorParams;
use crate::trace::{read_trace, EpochDemand, Request, Trace, TraceFormat};
use rand::Rng;

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
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Config { file, error } => {
                write!(f, "scenario {}: {error}", file.display())
            }
            ScenarioError::Data(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl From<DataError> for ScenarioError {
    fn from(e: DataError) -> Self {
        ScenarioError::Data(e)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_slo")]
    ttft_slo_s: f64,
    time: TimeSpec,
    #[serde(default)]
    gpus: Vec<GpuKind>,
    #[serde(default)]
    models: Vec<ModelSpec>,
    classes: Vec<ClassSpec>,
    origins: Vec<OriginSpec>,
    datacenters: Vec<DatacenterSpec>,
    network: NetworkSpec,
    demand: DemandSpec,
    water_treatment: WaterTreatment,
}

fn default_slo() -> f64 {
    2.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeSpec {
    /// `YYYY-MM-DDTHH:MM:SSZ`
    start_utc: String,
    epoch_s: f64,
    epochs: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSpec {
    name: String,
    weights_gb: f64,
    kv_cache_mb_per_token: f64,
    min_gpus: u32,
    prefill_tdp_fraction: f64,
    decode_tdp_fraction: f64,
    speed: BTreeMap<String, ModelSpeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassSpec {
    name: String,
    model: Option<String>,
    /// Share of trace requests assigned to this class (trace demand).
    share: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginSpec {
    name: String,
    latitude_deg: f64,
    longitude_deg: f64,
    #[serde(default = "one")]
    weight: f64,
    #[serde(default)]
    utc_offset_h: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodePoolSpec {
    gpu: String,
    gpus_per_node: u32,
    nodes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatacenterSpec {
    name: String,
    latitude_deg: f64,
    longitude_deg: f64,
    node_pools: Vec<NodePoolSpec>,
    facility: Facility,
    #[serde(default)]
    carbon_tax_usd_per_kg: f64,
    grid: GridSpec,
    #[serde(default)]
    local_balancer: LocalBalancer,
}

/// Two-level time-of-use price: `base` outside the peak window, `base x peak_multiplier` inside.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TouSpec {
    base_usd_per_mwh: f64,
    peak_multiplier: f64,
    peak_start_hour_utc: u32,
    peak_end_hour_utc: u32,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
enum GridSpec {
    /// Carbon, water and price of a ren2022 location.
    Ren2022 { file: String, location: String },
    /// Carbon of an EIA-930 balancing area; water from its fuel mix (per-fuel factors of
    /// `water_l_per_mwh`, MWh-weighted), price from a two-level TOU.
    Eia2022 {
        file: String,
        price: TouSpec,
        water_l_per_kwh_by_fuel: BTreeMap<String, f64>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
enum NetworkSpec {
    /// One-way delay = great-circle km x route_factor x fibre_us_per_km + hops x hop_ms, with
    /// hops = base_hops + km / km_per_hop (rounded up); the round trip is twice that.
    Distance {
        fibre_us_per_km: f64,
        route_factor: f64,
        hop_ms: f64,
        base_hops: u32,
        km_per_hop: f64,
    },
    /// Measured round trips, origin x datacenter, and optionally bandwidths.
    Matrix {
        round_trip_s: Vec<Vec<f64>>,
        bandwidth_mbps: Option<Vec<Vec<f64>>>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
enum TraceSpec {
    File { file: String, format: TraceFormat },
    Generator(GeneratorParams),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemandSpec {
    trace: TraceSpec,
    /// Repeat the trace back to back to fill the horizon.
    #[serde(default)]
    tile: bool,
    /// Relative amplitude of a daily cosine on each origin's local time (0 = flat).
    #[serde(default)]
    diurnal_amplitude: f64,
    #[serde(default = "afternoon")]
    diurnal_peak_hour_local: f64,
    /// Scale all demand so that the busiest epoch loads the fleet to this fraction.
    peak_utilisation: f64,
}

fn afternoon() -> f64 {
    14.0
}

/// Checks, each naming its key.
struct Check<'a> {
    file: &'a Path,
}

impl Check<'_> {
    fn fail(&self, key: impl Into<String>, message: impl fmt::Display) -> ScenarioError {
        ScenarioError::Config {
            file: self.file.to_owned(),
            error: ConfigError::invalid(key, message),
        }
    }

    fn positive(&self, key: impl Into<String>, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.fail(key, format!("must be a finite number > 0, got {v}")))
        }
    }

    fn non_negative(&self, key: impl Into<String>, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.fail(key, format!("must be a finite number >= 0, got {v}")))
        }
    }

    fn fraction(&self, key: impl Into<String>, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.fail(key, format!("must be in [0, 1], got {v}")))
        }
    }

    fn unique<'n>(
        &self,
        key: &str,
        names: impl Iterator<Item = &'n str>,
    ) -> Result<(), ScenarioError> {
        let mut seen: Vec<&str> = Vec::new();
        for (i, n) in names.enumerate() {
            if seen.contains(&n) {
                return Err(self.fail(format!("{key}[{i}].name"), format!("duplicate name {n:?}")));
            }
            seen.push(n);
        }
        Ok(())
    }

    fn series_long_enough(
        &self,
        key: &str,
        series: &[f64],
        needed: usize,
        source: &str,
    ) -> Result<(), ScenarioError> {
        if series.len() < needed {
            return Err(self.fail(
                key,
                format!(
                    "{source} has {} hours from the scenario start, the horizon needs {needed}",
                    series.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (or with a space) into unix seconds.
fn parse_utc(s: &str) -> Option<i64> {
    crate::parse::parse_datetime(s.trim().as_bytes())
        .filter(|(_, frac)| *frac == 0.0)
        .map(|(secs, _)| secs)
}

impl Scenario {
    /// Loads and checks the scenario file at `path`; random choices (class and origin of trace
    /// requests) draw from streams of `seed`.
    pub fn load(path: &Path, seed: MasterSeed) -> Result<Scenario, ScenarioError> {
        let config_err = |error| ScenarioError::Config {
            file: path.to_owned(),
            error,
        };
        let mut doc = read_with_includes(path, 0)?;
        if let Some(import) = doc.get("import").cloned() {
            return green_llm::import(path, &doc, &import);
        }
        doc.apply_defaults("datacenter_defaults", "datacenters");
        let spec: ScenarioFile = doc.deserialize().map_err(config_err)?;
        build(spec, path, seed)
    }
}

/// The most nested `include`s followed before giving up (a cycle, most likely).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Reads `path`, lays it over the file it includes (recursively), and makes every data path
/// absolute relative to the folder of the file that contains it.
fn read_with_includes(path: &Path, depth: usize) -> Result<Layered, ScenarioError> {
    let config_err = |error| ScenarioError::Config {
        file: path.to_owned(),
        error,
    };
    let mut doc = Layered::read(path).map_err(config_err)?;
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
            if let Some(toml::Value::String(file)) = t.get_mut("file") {
                *file = dir.join(&*file).display().to_string();
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

fn build(spec: ScenarioFile, path: &Path, seed: MasterSeed) -> Result<Scenario, ScenarioError> {
    let check = Check { file: path };
    let start_unix_s = parse_utc(&spec.time.start_utc).ok_or_else(|| {
        check.fail(
            "time.start_utc",
            format!(
                "{:?} is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
                spec.time.start_utc
            ),
        )
    })?;
    let epoch_s = check.positive("time.epoch_s", spec.time.epoch_s)?;
    if spec.time.epochs == 0 {
        return Err(check.fail("time.epochs", "must be at least 1"));
    }
    let time = TimeGrid {
        start_unix_s,
        epoch_s,
        epochs: spec.time.epochs,
    };
    check.positive("ttft_slo_s", spec.ttft_slo_s)?;

    check.unique("gpus", spec.gpus.iter().map(|g| g.name.as_str()))?;
    if spec.gpus.len() > super::MAX_GPU_KINDS {
        return Err(check.fail(
            "gpus",
            format!(
                "at most {} GPU kinds are supported, got {}",
                super::MAX_GPU_KINDS,
                spec.gpus.len()
            ),
        ));
    }
    for (i, g) in spec.gpus.iter().enumerate() {
        let k = |f: &str| format!("gpus[{i}].{f}");
        check.positive(k("tdp_w"), g.tdp_w)?;
        check.positive(k("memory_gb"), g.memory_gb)?;
        check.fraction(k("idle_tdp_fraction"), g.idle_tdp_fraction)?;
        check.positive(k("weight_load_gb_per_s"), g.weight_load_gb_per_s)?;
    }
    let gpu_index = |key: String, name: &str| {
        spec.gpus
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| check.fail(key, format!("no GPU kind named {name:?} in [[gpus]]")))
    };

    check.unique("models", spec.models.iter().map(|m| m.name.as_str()))?;
    let mut models = Vec::new();
    for (i, m) in spec.models.iter().enumerate() {
        let k = |f: &str| format!("models[{i}].{f}");
        check.positive(k("weights_gb"), m.weights_gb)?;
        check.positive(k("kv_cache_mb_per_token"), m.kv_cache_mb_per_token)?;
        if m.min_gpus == 0 {
            return Err(check.fail(k("min_gpus"), "must be at least 1"));
        }
        check.fraction(k("prefill_tdp_fraction"), m.prefill_tdp_fraction)?;
        check.fraction(k("decode_tdp_fraction"), m.decode_tdp_fraction)?;
        let mut speed = vec![None; spec.gpus.len()];
        for (gpu, s) in &m.speed {
            let g = gpu_index(format!("models[{i}].speed.{gpu}"), gpu)?;
            check.positive(
                format!("models[{i}].speed.{gpu}.prefill_tokens_per_s"),
                s.prefill_tokens_per_s,
            )?;
            check.positive(
                format!("models[{i}].speed.{gpu}.decode_tokens_per_s"),
                s.decode_tokens_per_s,
            )?;
            speed[g] = Some(*s);
        }
        models.push(LlmProfile {
            name: m.name.clone(),
            weights_gb: m.weights_gb,
            kv_cache_mb_per_token: m.kv_cache_mb_per_token,
            min_gpus: m.min_gpus,
            prefill_tdp_fraction: m.prefill_tdp_fraction,
            decode_tdp_fraction: m.decode_tdp_fraction,
            speed,
        });
    }

    if spec.classes.is_empty() {
        return Err(check.fail("classes", "needs at least one request class"));
    }
    check.unique("classes", spec.classes.iter().map(|c| c.name.as_str()))?;
    let mut classes = Vec::new();
    for (i, c) in spec.classes.iter().enumerate() {
        let model = match &c.model {
            Some(name) => Some(models.iter().position(|m| &m.name == name).ok_or_else(|| {
                check.fail(
                    format!("classes[{i}].model"),
                    format!("no model named {name:?} in [[models]]"),
                )
            })?),
            None => None,
        };
        classes.push(RequestClass {
            name: c.name.clone(),
            model,
            energy_kwh_per_input_token: None,
            energy_kwh_per_output_token: None,
            delay_penalty_usd_per_s: None,
            resource_units_per_token: Vec::new(),
        });
    }

    if spec.origins.is_empty() {
        return Err(check.fail("origins", "needs at least one origin"));
    }
    check.unique("origins", spec.origins.iter().map(|o| o.name.as_str()))?;
    for (i, o) in spec.origins.iter().enumerate() {
        check_lat_lon(
            &check,
            &format!("origins[{i}]"),
            o.latitude_deg,
            o.longitude_deg,
        )?;
        check.non_negative(format!("origins[{i}].weight"), o.weight)?;
        if !(o.utc_offset_h.is_finite() && o.utc_offset_h.abs() <= 14.0) {
            return Err(check.fail(
                format!("origins[{i}].utc_offset_h"),
                format!("must be within +-14 h, got {}", o.utc_offset_h),
            ));
        }
    }
    if spec.origins.iter().all(|o| o.weight == 0.0) {
        return Err(check.fail("origins", "at least one origin needs a weight > 0"));
    }

    if spec.datacenters.is_empty() {
        return Err(check.fail("datacenters", "needs at least one datacenter"));
    }
    check.unique(
        "datacenters",
        spec.datacenters.iter().map(|d| d.name.as_str()),
    )?;
    let hours = time.hours();
    let mut datacenters = Vec::new();
    for (i, d) in spec.datacenters.iter().enumerate() {
        let at = format!("datacenters[{i}]");
        check_lat_lon(&check, &at, d.latitude_deg, d.longitude_deg)?;
        let mut node_pools = Vec::new();
        for (p, pool) in d.node_pools.iter().enumerate() {
            let gpu = gpu_index(format!("{at}.node_pools[{p}].gpu"), &pool.gpu)?;
            if pool.gpus_per_node == 0 {
                return Err(check.fail(
                    format!("{at}.node_pools[{p}].gpus_per_node"),
                    "must be at least 1",
                ));
            }
            node_pools.push(NodePool {
                gpu,
                gpus_per_node: pool.gpus_per_node,
                nodes: pool.nodes,
            });
        }
        check_facility(&check, &format!("{at}.facility"), &d.facility)?;
        check.non_negative(
            format!("{at}.carbon_tax_usd_per_kg"),
            d.carbon_tax_usd_per_kg,
        )?;
        let grid = load_grid(&check, &format!("{at}.grid"), &d.grid, start_unix_s, hours)?;
        datacenters.push(Datacenter {
            name: d.name.clone(),
            latitude_deg: Some(d.latitude_deg),
            longitude_deg: Some(d.longitude_deg),
            node_pools,
            facility: d.facility,
            carbon_tax_usd_per_kg: d.carbon_tax_usd_per_kg,
            grid,
            local_balancer: d.local_balancer,
            resource_capacity: Vec::new(),
            processing_s_per_token: Vec::new(),
        });
    }
    for (c, class) in classes.iter().enumerate() {
        if let Some(m) = class.model {
            let hosts = datacenters.iter().flat_map(|d| &d.node_pools).any(|p| {
                models[m].speed[p.gpu].is_some()
                    && p.gpus_per_node >= models[m].min_gpus
                    && p.nodes > 0
            });
            if !hosts {
                return Err(check.fail(
                    format!("classes[{c}].model"),
                    format!(
                        "no node pool of any datacenter can host model {:?}",
                        models[m].name
                    ),
                ));
            }
        }
    }

    let network = match spec.network {
        NetworkSpec::Distance {
            fibre_us_per_km,
            route_factor,
            hop_ms,
            base_hops,
            km_per_hop,
        } => {
            check.positive("network.fibre_us_per_km", fibre_us_per_km)?;
            if !(route_factor.is_finite() && route_factor >= 1.0) {
                return Err(check.fail(
                    "network.route_factor",
                    format!("must be >= 1, got {route_factor}"),
                ));
            }
            check.non_negative("network.hop_ms", hop_ms)?;
            check.positive("network.km_per_hop", km_per_hop)?;
            let round_trip_s = spec
                .origins
                .iter()
                .map(|o| {
                    spec.datacenters
                        .iter()
                        .map(|d| {
                            let km = great_circle_km(
                                o.latitude_deg,
                                o.longitude_deg,
                                d.latitude_deg,
                                d.longitude_deg,
                            );
                            let hops = f64::from(base_hops) + (km / km_per_hop).ceil();
                            2.0 * (km * route_factor * fibre_us_per_km * 1e-6
                                + hops * hop_ms * 1e-3)
                        })
                        .collect()
                })
                .collect();
            Network {
                round_trip_s,
                bandwidth_mbps: None,
            }
        }
        NetworkSpec::Matrix {
            round_trip_s,
            bandwidth_mbps,
        } => {
            let (rows, cols) = (spec.origins.len(), spec.datacenters.len());
            let check_matrix =
                |key: &str, m: &[Vec<f64>], positive: bool| -> Result<(), ScenarioError> {
                    if m.len() != rows || m.iter().any(|r| r.len() != cols) {
                        return Err(check.fail(
                            format!("network.{key}"),
                            format!("must be {rows} rows (origins) of {cols} values (datacenters)"),
                        ));
                    }
                    for (i, row) in m.iter().enumerate() {
                        for (j, &v) in row.iter().enumerate() {
                            let k = format!("network.{key}[{i}][{j}]");
                            if positive {
                                check.positive(k, v)?;
                            } else {
                                check.non_negative(k, v)?;
                            }
                        }
                    }
                    Ok(())
                };
            check_matrix("round_trip_s", &round_trip_s, false)?;
            if let Some(b) = &bandwidth_mbps {
                check_matrix("bandwidth_mbps", b, true)?;
            }
            Network {
                round_trip_s,
                bandwidth_mbps,
            }
        }
    };

    check.non_negative(
        "water_treatment.potable_kwh_per_m3",
        spec.water_treatment.potable_kwh_per_m3,
    )?;
    check.non_negative(
        "water_treatment.wastewater_kwh_per_m3",
        spec.water_treatment.wastewater_kwh_per_m3,
    )?;

    let origins: Vec<Origin> = spec
        .origins
        .iter()
        .map(|o| Origin {
            name: o.name.clone(),
            latitude_deg: Some(o.latitude_deg),
            longitude_deg: Some(o.longitude_deg),
        })
        .collect();
    let mut scenario = Scenario {
        name: spec.name,
        description: spec.description,
        time,
        gpus: spec.gpus,
        models,
        classes,
        origins,
        datacenters,
        network,
        demand: EpochDemand::zeros(0, 0, 0, 1.0),
        requests: Vec::new(),
        water_treatment: spec.water_treatment,
        ttft_slo_s: spec.ttft_slo_s,
        green_llm: None,
    };
    (scenario.demand, scenario.requests) = build_demand(
        &check,
        &spec.demand,
        &spec.classes,
        &spec.origins,
        &scenario,
        seed,
    )?;
    Ok(scenario)
}

fn check_lat_lon(check: &Check, at: &str, lat: f64, lon: f64) -> Result<(), ScenarioError> {
    if !(lat.is_finite() && lat.abs() <= 90.0) {
        return Err(check.fail(
            format!("{at}.latitude_deg"),
            format!("must be within +-90, got {lat}"),
        ));
    }
    if !(lon.is_finite() && lon.abs() <= 180.0) {
        return Err(check.fail(
            format!("{at}.longitude_deg"),
            format!("must be within +-180, got {lon}"),
        ));
    }
    Ok(())
}

fn check_facility(check: &Check, at: &str, f: &Facility) -> Result<(), ScenarioError> {
    match *f {
        Facility::Cop {
            supply_temperature_c,
            cooling_factor,
            infrastructure_fraction,
            latent_heat_mj_per_kg,
            cycles_of_concentration,
        } => {
            if !(supply_temperature_c.is_finite() && (5.0..=35.0).contains(&supply_temperature_c)) {
                return Err(check.fail(
                    format!("{at}.supply_temperature_c"),
                    format!("must be within 5..35 C, got {supply_temperature_c}"),
                ));
            }
            check.non_negative(format!("{at}.cooling_factor"), cooling_factor)?;
            check.non_negative(
                format!("{at}.infrastructure_fraction"),
                infrastructure_fraction,
            )?;
            check.positive(format!("{at}.latent_heat_mj_per_kg"), latent_heat_mj_per_kg)?;
            if !(cycles_of_concentration.is_finite() && cycles_of_concentration > 1.0) {
                return Err(check.fail(
                    format!("{at}.cycles_of_concentration"),
                    format!("must be > 1, got {cycles_of_concentration}"),
                ));
            }
        }
        Facility::Pue { pue } => {
            if !(pue.is_finite() && pue >= 1.0) {
                return Err(check.fail(format!("{at}.pue"), format!("must be >= 1, got {pue}")));
            }
        }
    }
    Ok(())
}

/// Cuts an hourly series starting at `series_start` to the scenario's hours.
fn align(
    check: &Check,
    key: &str,
    series: &[f64],
    series_start: i64,
    start: i64,
    hours: usize,
    source: &str,
) -> Result<Vec<f64>, ScenarioError> {
    let offset = start - series_start;
    if offset < 0 || offset % 3600 != 0 {
        return Err(check.fail(
            key,
            format!("{source} starts after the scenario start or not on a whole hour before it (offset {offset} s)"),
        ));
    }
    let skip = (offset / 3600) as usize;
    let rest = series.get(skip..).unwrap_or(&[]);
    check.series_long_enough(key, rest, hours, source)?;
    Ok(rest[..hours].to_vec())
}

fn load_grid(
    check: &Check,
    at: &str,
    spec: &GridSpec,
    start: i64,
    hours: usize,
) -> Result<GridSignals, ScenarioError> {
    match spec {
        GridSpec::Ren2022 { file, location } => {
            let path = PathBuf::from(file);
            let s = load_ren2022(&path, location)?;
            let source = format!("{} ({location})", path.display());
            let cut =
                |series: &[f64]| align(check, at, series, s.start_unix_s, start, hours, &source);
            Ok(GridSignals {
                carbon_kg_per_kwh: cut(&s.carbon_kg_per_kwh)?,
                carbon_signal: CarbonSignal::Average,
                price_usd_per_kwh: cut(&s.price_usd_per_kwh)?,
                water_l_per_kwh: cut(&s.water_l_per_kwh)?,
                onsite_wue_l_per_kwh: Vec::new(),
                renewable_kw: vec![0.0; hours],
                grid_import_max_kw: None,
            })
        }
        GridSpec::Eia2022 {
            file,
            price,
            water_l_per_kwh_by_fuel,
        } => {
            let path = PathBuf::from(file);
            let area = load_eia2022(&path)?;
            let source = path.display().to_string();
            let mut factors = [0.0; 8];
            for (name, v) in water_l_per_kwh_by_fuel {
                let k = EIA_FUELS.iter().position(|f| f == name).ok_or_else(|| {
                    check.fail(
                        format!("{at}.water_l_per_kwh_by_fuel.{name}"),
                        format!("unknown fuel; the fuels are {}", EIA_FUELS.join(", ")),
                    )
                })?;
                factors[k] =
                    check.non_negative(format!("{at}.water_l_per_kwh_by_fuel.{name}"), *v)?;
            }
            let water: Vec<f64> = (0..area.hours())
                .map(|h| {
                    let total: f64 = area.generation_mwh.iter().map(|g| g[h]).sum();
                    if total > 0.0 {
                        area.generation_mwh
                            .iter()
                            .zip(&factors)
                            .map(|(g, f)| g[h] * f)
                            .sum::<f64>()
                            / total
                    } else {
                        0.0
                    }
                })
                .collect();
            check.non_negative(
                format!("{at}.price.base_usd_per_mwh"),
                price.base_usd_per_mwh,
            )?;
            check.non_negative(format!("{at}.price.peak_multiplier"), price.peak_multiplier)?;
            if price.peak_start_hour_utc > 24 || price.peak_end_hour_utc > 24 {
                return Err(check.fail(format!("{at}.price"), "peak hours must be within 0..=24"));
            }
            let price_series: Vec<f64> = (0..area.hours())
                .map(|h| {
                    let hour = ((area.start_unix_s / 3600 + h as i64).rem_euclid(24)) as u32;
                    let peak = hour >= price.peak_start_hour_utc && hour < price.peak_end_hour_utc;
                    price.base_usd_per_mwh * if peak { price.peak_multiplier } else { 1.0 } / 1000.0
                })
                .collect();
            let cut =
                |series: &[f64]| align(check, at, series, area.start_unix_s, start, hours, &source);
            Ok(GridSignals {
                carbon_kg_per_kwh: cut(&area.carbon_kg_per_kwh)?,
                carbon_signal: CarbonSignal::Average,
                price_usd_per_kwh: cut(&price_series)?,
                water_l_per_kwh: cut(&water)?,
                onsite_wue_l_per_kwh: Vec::new(),
                renewable_kw: vec![0.0; hours],
                grid_import_max_kw: None,
            })
        }
    }
}

fn build_demand(
    check: &Check,
    spec: &DemandSpec,
    class_specs: &[ClassSpec],
    origin_specs: &[OriginSpec],
    scenario: &Scenario,
    seed: MasterSeed,
) -> Result<(EpochDemand, Vec<Request>), ScenarioError> {
    let target = spec.peak_utilisation;
    if !(target.is_finite() && target > 0.0 && target <= 1.0) {
        return Err(check.fail(
            "demand.peak_utilisation",
            format!("must be in (0, 1], got {target}"),
        ));
    }
    if !(spec.diurnal_amplitude.is_finite() && (0.0..1.0).contains(&spec.diurnal_amplitude)) {
        return Err(check.fail(
            "demand.diurnal_amplitude",
            format!("must be in [0, 1), got {}", spec.diurnal_amplitude),
        ));
    }
    let mut shares = Vec::new();
    for (i, c) in class_specs.iter().enumerate() {
        let share = c.share.ok_or_else(|| {
            check.fail(
                format!("classes[{i}].share"),
                "trace demand needs a share for every class",
            )
        })?;
        shares.push(check.non_negative(format!("classes[{i}].share"), share)?);
        if c.model.is_none() {
            return Err(check.fail(
                format!("classes[{i}].model"),
                "trace demand needs a model for every class",
            ));
        }
    }
    if shares.iter().all(|&s| s == 0.0) {
        return Err(check.fail("classes", "at least one class needs a share > 0"));
    }
    let mut trace: Trace =
        match &spec.trace {
            TraceSpec::File { file, format } => read_trace(Path::new(file), *format, false)?.trace,
            TraceSpec::Generator(params) => {
                use crate::config::Validate;
                let generator = params.clone().validate("demand.trace").map_err(|error| {
                    ScenarioError::Config {
                        file: check.file.to_owned(),
                        error,
                    }
                })?;
                generator.generate(&mut seed.rng("scenario.demand.generator"))
            }
        };
    let class_names = class_specs.iter().map(|c| c.name.clone()).collect();
    trace.assign_classes(
        class_names,
        &shares,
        &mut seed.rng("scenario.demand.classes"),
    );
    let weights: Vec<f64> = origin_specs.iter().map(|o| o.weight).collect();
    trace.assign_origins(&weights, &mut seed.rng("scenario.demand.origins"));
    let first = trace.requests.first().map_or(0.0, |r| r.arrival_s);
    for r in &mut trace.requests {
        r.arrival_s -= first;
    }
    let time = scenario.time;
    if spec.tile {
        trace = trace.tile(time.horizon_s());
    }
    if spec.diurnal_amplitude > 0.0 {
        // Thin the requests by a daily cosine on each origin's local time: a request is kept
        // with probability (1 + a cos(2 pi (h - peak) / 24)) / (1 + a).
        let mut rng = seed.rng("scenario.demand.diurnal");
        let amplitude = spec.diurnal_amplitude;
        trace.requests.retain(|r| {
            let origin = &origin_specs[usize::from(r.origin)];
            let t = time.start_unix_s as f64 + r.arrival_s;
            let local_h = (t / 3600.0 + origin.utc_offset_h).rem_euclid(24.0);
            let phase =
                2.0 * std::f64::consts::PI * (local_h - spec.diurnal_peak_hour_local) / 24.0;
            rng.gen::<f64>() < (1.0 + amplitude * phase.cos()) / (1.0 + amplitude)
        });
    }
    let mut demand = EpochDemand::aggregate(
        &trace.requests,
        origin_specs.len(),
        class_specs.len(),
        time.epochs,
        time.epoch_s,
    )
    .map_err(|e| check.fail("demand", e))?;
    let peak = (0..time.epochs)
        .map(|e| scenario.nominal_load(&demand, e))
        .fold(0.0, f64::max);
    if peak <= 0.0 {
        return Err(check.fail("demand", "the trace puts no request inside the horizon"));
    }
    if !peak.is_finite() {
        return Err(check.fail(
            "demand",
            "some class's requests do not fit any instance's memory (KV cache of a mean request exceeds what the weights leave)",
        ));
    }
    demand.scale(target / peak);
    let horizon = time.horizon_s();
    trace.requests.retain(|r| r.arrival_s < horizon);
    Ok((demand, trace.requests))
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
