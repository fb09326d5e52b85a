//! Checking the raw document into a [`Scenario`]: every key checked and named in errors, names
//! resolved to indices.

use std::fmt;
use std::path::Path;

use super::demand::build_demand;
use super::grid::load_grid;
use super::schema::{NetworkSpec, ScenarioFile};
use super::ScenarioError;
use crate::config::ConfigError;
use crate::scenario::*;
use crate::seed::MasterSeed;
use crate::trace::EpochDemand;

/// Checks, each naming its key.
pub(super) struct Check<'a> {
    pub(super) file: &'a Path,
}

impl Check<'_> {
    pub(super) fn fail(&self, key: impl Into<String>, message: impl fmt::Display) -> ScenarioError {
        ScenarioError::Config {
            file: self.file.to_owned(),
            error: ConfigError::invalid(key, message),
        }
    }

    pub(super) fn positive(&self, key: impl Into<String>, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.fail(key, format!("must be a finite number > 0, got {v}")))
        }
    }

    pub(super) fn non_negative(
        &self,
        key: impl Into<String>,
        v: f64,
    ) -> Result<f64, ScenarioError> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.fail(key, format!("must be a finite number >= 0, got {v}")))
        }
    }

    pub(super) fn fraction(&self, key: impl Into<String>, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.fail(key, format!("must be in [0, 1], got {v}")))
        }
    }

    pub(super) fn unique<'n>(
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

    pub(super) fn series_long_enough(
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

/// The scenario's size against the limits (docs/limits.md), before anything of that size is
/// read or allocated.
fn check_size(check: &Check, spec: &ScenarioFile, time: &TimeGrid) -> Result<(), ScenarioError> {
    use crate::scenario::{MAX_EPOCHS, MAX_HOURLY_VALUES, MAX_ORIGINS_OR_CLASSES, MAX_PLAN_SHARES};
    let over = |key: &str, n: usize, most: usize, why: &str| {
        check.fail(key, format!("{n}: at most {most} (docs/limits.md): {why}"))
    };
    if time.epochs > MAX_EPOCHS {
        return Err(over(
            "time.epochs",
            time.epochs,
            MAX_EPOCHS,
            "per-epoch demand, plans and accounts grow with it",
        ));
    }
    for (key, n) in [
        ("origins", spec.origins.len()),
        ("classes", spec.classes.len()),
    ] {
        if n > MAX_ORIGINS_OR_CLASSES {
            return Err(over(
                key,
                n,
                MAX_ORIGINS_OR_CLASSES,
                "every plan has a row per epoch, origin and class",
            ));
        }
    }
    let shares = time
        .epochs
        .saturating_mul(spec.origins.len())
        .saturating_mul(spec.classes.len())
        .saturating_mul(spec.datacenters.len());
    if shares > MAX_PLAN_SHARES {
        return Err(check.fail(
            "time.epochs",
            format!(
                "{} epochs x {} origins x {} classes x {} datacenters = {shares} shares in a plan: at most {MAX_PLAN_SHARES} (docs/limits.md): methods hold many plans at once",
                time.epochs,
                spec.origins.len(),
                spec.classes.len(),
                spec.datacenters.len()
            ),
        ));
    }
    let hours = time.epoch_s * time.epochs as f64 / 3600.0;
    let hourly = (hours.ceil() * spec.datacenters.len() as f64).min(usize::MAX as f64) as usize;
    if hourly > MAX_HOURLY_VALUES {
        return Err(over(
            "time.epoch_s",
            hourly,
            MAX_HOURLY_VALUES,
            "hours of the horizon x datacenters: every datacenter keeps hourly grid and weather series",
        ));
    }
    Ok(())
}

pub(super) fn build(
    spec: ScenarioFile,
    path: &Path,
    seed: MasterSeed,
) -> Result<Scenario, ScenarioError> {
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
    check_size(&check, &spec, &time)?;
    check.positive("ttft_slo_s", spec.ttft_slo_s)?;

    check.unique("gpus", spec.gpus.iter().map(|g| g.name.as_str()))?;
    if spec.gpus.len() > crate::scenario::MAX_GPU_KINDS {
        return Err(check.fail(
            "gpus",
            format!(
                "at most {} GPU kinds are supported, got {}",
                crate::scenario::MAX_GPU_KINDS,
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
    let split = match &spec.split {
        None => None,
        Some(sp) => {
            let range = |key: &str, [first, last]: [usize; 2]| {
                DayRange::numbered(first, last).ok_or_else(|| {
                    check.fail(
                        format!("split.{key}"),
                        format!(
                            "[{first}, {last}] is not a run of days: the first and last day, numbered from 1"
                        ),
                    )
                })
            };
            let split = DaySplit {
                train: range("train_days", sp.train_days)?,
                test: range("test_days", sp.test_days)?,
            };
            if let Some((key, message)) = split.problem(time.epoch_s, time.epochs) {
                return Err(check.fail(key, message));
            }
            Some(split)
        }
    };
    let mut scenario = Scenario {
        parts: ScenarioParts {
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
            demand_source: String::new(),
            water_treatment: spec.water_treatment,
            ttft_slo_s: spec.ttft_slo_s,
            green_llm: None,
            split,
        },
    };
    (
        scenario.parts.demand,
        scenario.parts.requests,
        scenario.parts.demand_source,
    ) = build_demand(
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
    match f.problem() {
        Some((field, message)) => Err(check.fail(format!("{at}.{field}"), message)),
        None => Ok(()),
    }
}
