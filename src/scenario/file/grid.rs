//! A datacenter's hourly grid signals, cut to the scenario's horizon.

use std::path::PathBuf;

use super::build::Check;
use super::schema::GridSpec;
use super::ScenarioError;
use crate::grid::{load_eia2022, load_ren2022, EIA_FUELS};
use crate::scenario::*;

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

pub(super) fn load_grid(
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
