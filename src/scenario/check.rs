//! Checking a scenario's parts: what [`Scenario::from_parts`] requires of a world built by hand
//! or by a transform (loading from a file checks its keys on the way, with file-level names).

use super::{Scenario, ScenarioError, ScenarioParts, MAX_GPU_KINDS};

impl Scenario {
    /// The scenario of `parts`, checked: every number finite and in range, names unique, every
    /// index naming something that exists, every hourly series covering the horizon, the demand
    /// table shaped (origins, classes, epochs) with the scenario's epoch length, the network
    /// shaped origins x datacenters. Errors name the part.
    pub fn from_parts(parts: ScenarioParts) -> Result<Scenario, ScenarioError> {
        check(&parts)?;
        Ok(Scenario { parts })
    }

    /// The parts, to change and check again with [`Scenario::from_parts`].
    pub fn into_parts(self) -> ScenarioParts {
        self.parts
    }
}

fn check(p: &ScenarioParts) -> Result<(), ScenarioError> {
    let fail = |key: String, message: String| ScenarioError::Parts {
        scenario: p.name.clone(),
        key,
        message,
    };
    let finite_at_least = |key: String, v: f64, min: f64| {
        if v.is_finite() && v >= min {
            Ok(())
        } else {
            Err(fail(
                key,
                format!("must be a finite number >= {min}, got {v}"),
            ))
        }
    };
    let positive = |key: String, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(fail(key, format!("must be a finite number > 0, got {v}")))
        }
    };
    let fraction = |key: String, v: f64| {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(fail(key, format!("must be in [0, 1], got {v}")))
        }
    };
    let unique = |key: &str, names: Vec<&str>| {
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(fail(
                    format!("{key}[{i}].name"),
                    format!("duplicate name {n:?}"),
                ));
            }
        }
        Ok(())
    };
    let t = &p.time;
    positive("time.epoch_s".into(), t.epoch_s)?;
    if t.epochs == 0 {
        return Err(fail("time.epochs".into(), "must be at least 1".into()));
    }
    positive("ttft_slo_s".into(), p.ttft_slo_s)?;
    if let Some((key, message)) = p.split.and_then(|s| s.problem(t.epoch_s, t.epochs)) {
        return Err(fail(key.into(), message));
    }
    let hours = t.hours();
    if p.gpus.len() > MAX_GPU_KINDS {
        return Err(fail(
            "gpus".into(),
            format!(
                "at most {MAX_GPU_KINDS} GPU kinds are supported, got {}",
                p.gpus.len()
            ),
        ));
    }
    unique("gpus", p.gpus.iter().map(|g| g.name.as_str()).collect())?;
    for (i, g) in p.gpus.iter().enumerate() {
        positive(format!("gpus[{i}].tdp_w"), g.tdp_w)?;
        positive(format!("gpus[{i}].memory_gb"), g.memory_gb)?;
        fraction(format!("gpus[{i}].idle_tdp_fraction"), g.idle_tdp_fraction)?;
        positive(
            format!("gpus[{i}].weight_load_gb_per_s"),
            g.weight_load_gb_per_s,
        )?;
    }
    unique("models", p.models.iter().map(|m| m.name.as_str()).collect())?;
    for (i, m) in p.models.iter().enumerate() {
        positive(format!("models[{i}].weights_gb"), m.weights_gb)?;
        positive(
            format!("models[{i}].kv_cache_mb_per_token"),
            m.kv_cache_mb_per_token,
        )?;
        if m.min_gpus == 0 {
            return Err(fail(
                format!("models[{i}].min_gpus"),
                "must be at least 1".into(),
            ));
        }
        fraction(
            format!("models[{i}].prefill_tdp_fraction"),
            m.prefill_tdp_fraction,
        )?;
        fraction(
            format!("models[{i}].decode_tdp_fraction"),
            m.decode_tdp_fraction,
        )?;
        if m.speed.len() != p.gpus.len() {
            return Err(fail(
                format!("models[{i}].speed"),
                format!(
                    "one entry per GPU kind ({}), got {}",
                    p.gpus.len(),
                    m.speed.len()
                ),
            ));
        }
        for (g, s) in m.speed.iter().enumerate() {
            if let Some(s) = s {
                positive(
                    format!("models[{i}].speed[{g}].prefill_tokens_per_s"),
                    s.prefill_tokens_per_s,
                )?;
                positive(
                    format!("models[{i}].speed[{g}].decode_tokens_per_s"),
                    s.decode_tokens_per_s,
                )?;
            }
        }
    }
    if p.classes.is_empty() {
        return Err(fail("classes".into(), "needs at least one class".into()));
    }
    unique(
        "classes",
        p.classes.iter().map(|c| c.name.as_str()).collect(),
    )?;
    for (i, c) in p.classes.iter().enumerate() {
        if let Some(m) = c.model {
            if m >= p.models.len() {
                return Err(fail(
                    format!("classes[{i}].model"),
                    format!("index {m}, but there are {} models", p.models.len()),
                ));
            }
        }
        for (key, v) in [
            ("energy_kwh_per_input_token", c.energy_kwh_per_input_token),
            ("energy_kwh_per_output_token", c.energy_kwh_per_output_token),
            ("delay_penalty_usd_per_s", c.delay_penalty_usd_per_s),
        ] {
            if let Some(v) = v {
                finite_at_least(format!("classes[{i}].{key}"), v, 0.0)?;
            }
        }
    }
    if p.origins.is_empty() {
        return Err(fail("origins".into(), "needs at least one origin".into()));
    }
    unique(
        "origins",
        p.origins.iter().map(|o| o.name.as_str()).collect(),
    )?;
    if p.datacenters.is_empty() {
        return Err(fail(
            "datacenters".into(),
            "needs at least one datacenter".into(),
        ));
    }
    unique(
        "datacenters",
        p.datacenters.iter().map(|d| d.name.as_str()).collect(),
    )?;
    for (j, d) in p.datacenters.iter().enumerate() {
        let at = |f: &str| format!("datacenters[{j}].{f}");
        for (k, pool) in d.node_pools.iter().enumerate() {
            if pool.gpu >= p.gpus.len() {
                return Err(fail(
                    at(&format!("node_pools[{k}].gpu")),
                    format!(
                        "index {}, but there are {} GPU kinds",
                        pool.gpu,
                        p.gpus.len()
                    ),
                ));
            }
            if pool.gpus_per_node == 0 {
                return Err(fail(
                    at(&format!("node_pools[{k}].gpus_per_node")),
                    "must be at least 1".into(),
                ));
            }
        }
        if let Some((field, message)) = d.facility.problem() {
            return Err(fail(at(&format!("facility.{field}")), message));
        }
        finite_at_least(at("carbon_tax_usd_per_kg"), d.carbon_tax_usd_per_kg, 0.0)?;
        let g = &d.grid;
        let series: [(&str, &[f64], bool); 4] = [
            ("grid.carbon_kg_per_kwh", &g.carbon_kg_per_kwh, true),
            ("grid.water_l_per_kwh", &g.water_l_per_kwh, true),
            ("grid.renewable_kw", &g.renewable_kw, true),
            ("grid.onsite_wue_l_per_kwh", &g.onsite_wue_l_per_kwh, false),
        ];
        for (key, values, required) in series {
            if values.is_empty() && !required {
                continue;
            }
            if values.len() < hours {
                return Err(fail(
                    at(key),
                    format!("{} hours, the horizon needs {hours}", values.len()),
                ));
            }
            if let Some((h, v)) = values
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(fail(
                    at(&format!("{key}[{h}]")),
                    format!("must be a finite number >= 0, got {v}"),
                ));
            }
        }
        // Prices may be negative (wholesale markets), but not missing or non-finite.
        if g.price_usd_per_kwh.len() < hours {
            return Err(fail(
                at("grid.price_usd_per_kwh"),
                format!(
                    "{} hours, the horizon needs {hours}",
                    g.price_usd_per_kwh.len()
                ),
            ));
        }
        if let Some(h) = g.price_usd_per_kwh.iter().position(|v| !v.is_finite()) {
            return Err(fail(
                at(&format!("grid.price_usd_per_kwh[{h}]")),
                "must be finite".into(),
            ));
        }
    }
    let n = &p.network;
    if n.round_trip_s.len() != p.origins.len()
        || n.round_trip_s
            .iter()
            .any(|r| r.len() != p.datacenters.len())
    {
        return Err(fail(
            "network.round_trip_s".into(),
            format!(
                "must be {} rows (origins) of {} values (datacenters)",
                p.origins.len(),
                p.datacenters.len()
            ),
        ));
    }
    for (o, row) in n.round_trip_s.iter().enumerate() {
        for (d, &v) in row.iter().enumerate() {
            finite_at_least(format!("network.round_trip_s[{o}][{d}]"), v, 0.0)?;
        }
    }
    let dm = &p.demand;
    if (dm.origins(), dm.classes(), dm.epochs()) != (p.origins.len(), p.classes.len(), t.epochs)
        || dm.epoch_s() != t.epoch_s
    {
        return Err(fail(
            "demand".into(),
            format!(
                "shaped {} origins x {} classes x {} epochs of {} s; the scenario has {} x {} x {} of {} s",
                dm.origins(),
                dm.classes(),
                dm.epochs(),
                dm.epoch_s(),
                p.origins.len(),
                p.classes.len(),
                t.epochs,
                t.epoch_s
            ),
        ));
    }
    for e in 0..t.epochs {
        for o in 0..p.origins.len() {
            for c in 0..p.classes.len() {
                for (what, v) in [
                    ("requests", dm.requests(o, c, e)),
                    ("input_tokens", dm.input_tokens(o, c, e)),
                    ("output_tokens", dm.output_tokens(o, c, e)),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(fail(
                            format!("demand.{what}[origin {o}][class {c}][epoch {e}]"),
                            format!("must be a finite number >= 0, got {v}"),
                        ));
                    }
                }
            }
        }
    }
    finite_at_least(
        "water_treatment.potable_kwh_per_m3".into(),
        p.water_treatment.potable_kwh_per_m3,
        0.0,
    )?;
    finite_at_least(
        "water_treatment.wastewater_kwh_per_m3".into(),
        p.water_treatment.wastewater_kwh_per_m3,
        0.0,
    )?;
    Ok(())
}
