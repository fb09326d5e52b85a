//! Import of the Green-LLM base case (`params.json` of datasets/green-llm-base), exactly.
//!
//! Mapping (Green-LLM symbol -> scenario field):
//! - slots t: 24 epochs of 3600 s from 2024-03-24T00:00Z (the Electricity Maps day of the data);
//! - query types k -> request classes, with tau_in/tau_out, rho and alpha[k][r];
//! - demand areas i -> origins, named after the data centres they sit with (d[i][i] is the
//!   smallest delay of each row: the areas are the data centres' cities);
//! - data centres j: PUE facility, carbon tax delta, capacities C[r][j], processing v[j][k], and
//!   hourly c, theta, P_w, P_max, WUE, EWIF as grid signals;
//! - d[i][j] -> network round trip (measured city-to-city RTTs), B[i][j] -> bandwidth;
//! - lambda[i][k][t] queries of h_k input and f_k output tokens -> demand;
//! - Z, Delta[i][k], beta[i][k][t] -> [`GreenLlmTerms`].
//!
//! Green-LLM counts no water-treatment carbon, so both treatment intensities are 0 here.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::file::ScenarioError;
use super::*;
use crate::config::{ConfigError, Layered};
use crate::data_error::{DataError, DataErrorKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sets {
    #[serde(rename = "I_user_areas")]
    areas: usize,
    #[serde(rename = "J_datacenters")]
    datacenters: usize,
    #[serde(rename = "K_query_types")]
    query_types: usize,
    #[serde(rename = "T_hours")]
    hours: usize,
    #[serde(rename = "R_resources")]
    resources: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    sets: Sets,
    dc_names: Vec<String>,
    query_types: Vec<String>,
    resources: Vec<String>,
    #[serde(rename = "h_input_tokens[k]")]
    h: Vec<f64>,
    #[serde(rename = "f_output_tokens[k]")]
    f: Vec<f64>,
    #[serde(rename = "tau_in_kWh_per_token[k]")]
    tau_in: Vec<f64>,
    #[serde(rename = "tau_out_kWh_per_token[k]")]
    tau_out: Vec<f64>,
    #[serde(rename = "rho[k]")]
    rho: Vec<f64>,
    #[serde(rename = "delta_usd_per_kgCO2[j]")]
    delta: Vec<f64>,
    #[serde(rename = "PUE[j]")]
    pue: Vec<f64>,
    #[serde(rename = "Z_liters")]
    z: f64,
    #[serde(rename = "C[r][j]")]
    capacity: Vec<Vec<f64>>,
    #[serde(rename = "alpha[k][r]")]
    alpha: Vec<Vec<f64>>,
    #[serde(rename = "v_s_per_token[j][k]")]
    v: Vec<Vec<f64>>,
    #[serde(rename = "Delta_s[i][k]")]
    delay_threshold: Vec<Vec<f64>>,
    #[serde(rename = "d_s[i][j]")]
    d: Vec<Vec<f64>>,
    #[serde(rename = "B_Mbps[i][j]")]
    bandwidth: Vec<Vec<f64>>,
    #[serde(rename = "z_prev_unused[j][k]")]
    _z_prev_unused: serde::de::IgnoredAny,
    #[serde(rename = "c_usd_per_kWh[j][t]")]
    price: Vec<Vec<f64>>,
    #[serde(rename = "theta_kg_per_kWh[j][t]")]
    theta: Vec<Vec<f64>>,
    #[serde(rename = "P_w_kW[j][t]")]
    renewable: Vec<Vec<f64>>,
    #[serde(rename = "P_max_kW[j][t]")]
    import_max: Vec<Vec<f64>>,
    #[serde(rename = "WUE_L_per_kWh[j][t]")]
    wue: Vec<Vec<f64>>,
    #[serde(rename = "EWIF_L_per_kWh[j][t]")]
    ewif: Vec<Vec<f64>>,
    #[serde(rename = "lambda[i][k][t]")]
    lambda: Vec<Vec<Vec<f64>>>,
    #[serde(rename = "beta[i][k][t]")]
    beta: Vec<Vec<Vec<f64>>>,
}

/// Checks the shape and values of a nested array, naming the JSON key and index on failure.
struct Shape<'a> {
    file: &'a Path,
}

impl Shape<'_> {
    fn fail(&self, key: &str, message: String) -> ScenarioError {
        ScenarioError::Data(
            DataError::new(DataErrorKind::InvalidValue, self.file, message).in_field(key),
        )
    }

    fn values(&self, key: &str, v: &[f64], len: usize) -> Result<(), ScenarioError> {
        if v.len() != len {
            return Err(self.fail(key, format!("has {} entries, the sets say {len}", v.len())));
        }
        if let Some((i, x)) = v
            .iter()
            .enumerate()
            .find(|(_, x)| !(x.is_finite() && **x >= 0.0))
        {
            return Err(self.fail(key, format!("entry {i} is {x}, not a finite number >= 0")));
        }
        Ok(())
    }

    fn matrix(
        &self,
        key: &str,
        m: &[Vec<f64>],
        rows: usize,
        cols: usize,
    ) -> Result<(), ScenarioError> {
        if m.len() != rows {
            return Err(self.fail(key, format!("has {} rows, the sets say {rows}", m.len())));
        }
        for (i, row) in m.iter().enumerate() {
            self.values(&format!("{key} row {i}"), row, cols)?;
        }
        Ok(())
    }

    fn cube(
        &self,
        key: &str,
        c: &[Vec<Vec<f64>>],
        a: usize,
        b: usize,
        t: usize,
    ) -> Result<(), ScenarioError> {
        if c.len() != a {
            return Err(self.fail(key, format!("has {} rows, the sets say {a}", c.len())));
        }
        for (i, m) in c.iter().enumerate() {
            self.matrix(&format!("{key} [{i}]"), m, b, t)?;
        }
        Ok(())
    }
}

pub(super) fn import(
    path: &Path,
    doc: &Layered,
    import: &toml::Value,
) -> Result<Scenario, ScenarioError> {
    let config = |key: &str, message: String| ScenarioError::Config {
        file: path.to_owned(),
        error: ConfigError::invalid(key, message),
    };
    for key in doc.clone().into_table().keys() {
        if !["name", "description", "import", "ttft_slo_s"].contains(&key.as_str()) {
            return Err(config(
                key,
                "not allowed beside [import]: the imported file defines the whole scenario"
                    .to_owned(),
            ));
        }
    }
    let name = doc
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or_else(|| config("name", "missing".to_owned()))?;
    let description = doc
        .get("description")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let ttft_slo_s = doc
        .get("ttft_slo_s")
        .and_then(|v| v.as_float())
        .unwrap_or(2.0);
    let format = import.get("format").and_then(|v| v.as_str());
    if format != Some("green-llm-params") {
        return Err(config(
            "import.format",
            format!("{format:?}: the only import format is \"green-llm-params\""),
        ));
    }
    let file = import
        .get("file")
        .and_then(|v| v.as_str())
        .ok_or_else(|| config("import.file", "missing".to_owned()))?;
    let json_path = PathBuf::from(file);
    let text = std::fs::read_to_string(&json_path).map_err(|e| DataError::io(&json_path, &e))?;
    let p: Params = serde_json::from_str(&text).map_err(|e| {
        DataError::new(DataErrorKind::Malformed, &json_path, e.to_string()).at_line(e.line() as u64)
    })?;

    let s = &p.sets;
    let (ni, nj, nk, nt, nr) = (s.areas, s.datacenters, s.query_types, s.hours, s.resources);
    let shape = Shape { file: &json_path };
    if p.dc_names.len() != nj || p.query_types.len() != nk || p.resources.len() != nr || ni != nj {
        return Err(shape.fail(
            "sets",
            "names do not match the set sizes (and areas must match data centres)".to_owned(),
        ));
    }
    for (key, v) in [
        ("h_input_tokens[k]", &p.h),
        ("f_output_tokens[k]", &p.f),
        ("tau_in_kWh_per_token[k]", &p.tau_in),
        ("tau_out_kWh_per_token[k]", &p.tau_out),
        ("rho[k]", &p.rho),
    ] {
        shape.values(key, v, nk)?;
    }
    shape.values("delta_usd_per_kgCO2[j]", &p.delta, nj)?;
    shape.values("PUE[j]", &p.pue, nj)?;
    shape.values("Z_liters", &[p.z], 1)?;
    shape.matrix("C[r][j]", &p.capacity, nr, nj)?;
    shape.matrix("alpha[k][r]", &p.alpha, nk, nr)?;
    shape.matrix("v_s_per_token[j][k]", &p.v, nj, nk)?;
    shape.matrix("Delta_s[i][k]", &p.delay_threshold, ni, nk)?;
    shape.matrix("d_s[i][j]", &p.d, ni, nj)?;
    shape.matrix("B_Mbps[i][j]", &p.bandwidth, ni, nj)?;
    for (key, m) in [
        ("c_usd_per_kWh[j][t]", &p.price),
        ("theta_kg_per_kWh[j][t]", &p.theta),
        ("P_w_kW[j][t]", &p.renewable),
        ("P_max_kW[j][t]", &p.import_max),
        ("WUE_L_per_kWh[j][t]", &p.wue),
        ("EWIF_L_per_kWh[j][t]", &p.ewif),
    ] {
        shape.matrix(key, m, nj, nt)?;
    }
    shape.cube("lambda[i][k][t]", &p.lambda, ni, nk, nt)?;
    shape.cube("beta[i][k][t]", &p.beta, ni, nk, nt)?;
    if let Some(j) = p.pue.iter().position(|&x| x < 1.0) {
        return Err(shape.fail("PUE[j]", format!("entry {j} is {}, below 1", p.pue[j])));
    }

    let classes = (0..nk)
        .map(|k| RequestClass {
            name: p.query_types[k].clone(),
            model: None,
            energy_kwh_per_input_token: Some(p.tau_in[k]),
            energy_kwh_per_output_token: Some(p.tau_out[k]),
            delay_penalty_usd_per_s: Some(p.rho[k]),
            resource_units_per_token: p.alpha[k].clone(),
        })
        .collect();
    let origins = p
        .dc_names
        .iter()
        .map(|n| Origin {
            name: n.clone(),
            latitude_deg: None,
            longitude_deg: None,
        })
        .collect();
    let datacenters = (0..nj)
        .map(|j| Datacenter {
            name: p.dc_names[j].clone(),
            latitude_deg: None,
            longitude_deg: None,
            node_pools: Vec::new(),
            facility: Facility::Pue { pue: p.pue[j] },
            carbon_tax_usd_per_kg: p.delta[j],
            grid: GridSignals {
                carbon_kg_per_kwh: p.theta[j].clone(),
                carbon_signal: CarbonSignal::Average,
                price_usd_per_kwh: p.price[j].clone(),
                water_l_per_kwh: p.ewif[j].clone(),
                onsite_wue_l_per_kwh: p.wue[j].clone(),
                renewable_kw: p.renewable[j].clone(),
                grid_import_max_kw: Some(p.import_max[j].clone()),
            },
            local_balancer: LocalBalancer::default(),
            resource_capacity: (0..nr).map(|r| p.capacity[r][j]).collect(),
            processing_s_per_token: p.v[j].clone(),
        })
        .collect();
    let mut demand = EpochDemand::zeros(ni, nk, nt, 3600.0);
    for i in 0..ni {
        for k in 0..nk {
            for t in 0..nt {
                demand.set(i, k, t, p.lambda[i][k][t], p.h[k], p.f[k]);
            }
        }
    }
    Ok(Scenario {
        parts: ScenarioParts {
            name: name.to_owned(),
            description: description.to_owned(),
            time: TimeGrid {
                start_unix_s: 1_711_238_400, // 2024-03-24T00:00:00Z
                epoch_s: 3600.0,
                epochs: nt,
            },
            gpus: Vec::new(),
            models: Vec::new(),
            classes,
            origins,
            datacenters,
            network: Network {
                round_trip_s: p.d.clone(),
                bandwidth_mbps: Some(p.bandwidth.clone()),
            },
            demand,
            requests: Vec::new(),
            demand_source: "Green-LLM's demand table (params.json)".to_owned(),
            water_treatment: WaterTreatment {
                potable_kwh_per_m3: 0.0,
                wastewater_kwh_per_m3: 0.0,
            },
            ttft_slo_s,
            green_llm: Some(GreenLlmTerms {
                water_budget_l: p.z,
                resources: p.resources.clone(),
                delay_threshold_s: p.delay_threshold.clone(),
                kb_per_token: p.beta.clone(),
            }),
            split: None,
        },
    })
}
