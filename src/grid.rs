//! Hourly grid signals from the bundled data sets.
//!
//! - `ren2022`: `location, hour_utc, carbon_kg_per_kwh, water_l_per_kwh, price_usd_per_mwh`, ten
//!   locations (Li, Yang, Wierman, Ren 2023); prices may be negative (wholesale markets).
//! - `eia2022`: one file per balancing area, `timestamp, WND, SUN, WAT, OIL, NG, COL, NUC, OTH,
//!   avg_CI` (MWh generated per fuel, gCO2/kWh); empty fields are filled by linear interpolation
//!   between the neighbouring hours and counted.
//!
//! Every series is hourly from `start_unix_s`, consecutive hours only; gaps, NaN, negative values
//! (where they are not allowed) and malformed lines are errors naming file, line and field.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::data_error::{DataError, DataErrorKind};
use crate::parse::{parse_datetime, parse_f64, trim, CsvRecords};

/// Hourly signals of one location.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlySignals {
    /// Unix time (s) of the first hour.
    pub start_unix_s: i64,
    /// Carbon intensity per hour, kg CO2 per kWh.
    pub carbon_kg_per_kwh: Vec<f64>,
    /// Water consumed per kWh drawn from the grid (L/kWh).
    pub water_l_per_kwh: Vec<f64>,
    /// Electricity price per hour, USD per kWh.
    pub price_usd_per_kwh: Vec<f64>,
}

/// The fuels of the EIA-930 files, in column order.
pub const EIA_FUELS: [&str; 8] = ["WND", "SUN", "WAT", "OIL", "NG", "COL", "NUC", "OTH"];

/// Hourly generation mix and average carbon intensity of one balancing area.
#[derive(Debug, Clone, PartialEq)]
pub struct EiaArea {
    /// Start of the first hour, Unix seconds.
    pub start_unix_s: i64,
    /// MWh generated per hour, by fuel in [`EIA_FUELS`] order.
    pub generation_mwh: [Vec<f64>; 8],
    /// Carbon intensity per hour, kg CO2 per kWh.
    pub carbon_kg_per_kwh: Vec<f64>,
    /// How many empty fields were filled by interpolation.
    pub filled_fields: usize,
}

impl EiaArea {
    /// Number of hours.
    pub fn hours(&self) -> usize {
        self.carbon_kg_per_kwh.len()
    }
}

/// The data records of a CSV file after its header.
struct Lines {
    records: CsvRecords<BufReader<File>>,
    line_no: u64,
}

impl Lines {
    /// Opens `path` and finds `columns` in its header: the reader, each column's index, and how
    /// many fields a data line needs.
    fn with_header(path: &Path, columns: &[&str]) -> Result<(Lines, Vec<usize>, usize), DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
        let mut lines = Lines {
            records: CsvRecords::new(BufReader::new(file)),
            line_no: 0,
        };
        if !lines.next(path)? {
            return Err(DataError::new(
                DataErrorKind::Empty,
                path,
                "the file is empty",
            ));
        }
        let cols = lines.records.columns(columns).map_err(|name| {
            DataError::new(
                DataErrorKind::MissingColumn,
                path,
                format!("the header lacks the column {name:?}"),
            )
            .at_line(1)
            .in_field(name)
        })?;
        let needed = cols.iter().max().map_or(0, |m| m + 1);
        Ok((lines, cols, needed))
    }

    /// Reads the next record that is not blank; false at the end of the file.
    fn next(&mut self, path: &Path) -> Result<bool, DataError> {
        let more = self.records.next().map_err(|e| DataError::csv(path, &e))?;
        self.line_no = self.records.line();
        Ok(more)
    }

    /// The fields of the current line; an error if there are fewer than `needed`.
    fn fields(&self, path: &Path, needed: usize) -> Result<&csv::ByteRecord, DataError> {
        let record = self.records.record();
        if record.len() < needed {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                path,
                format!("expected {needed} fields, found {}", record.len()),
            )
            .at_line(self.line_no));
        }
        Ok(record)
    }
}

fn invalid(path: &Path, line: u64, field: &str, message: String) -> DataError {
    DataError::new(DataErrorKind::InvalidValue, path, message)
        .at_line(line)
        .in_field(field)
}

/// Parses an hour stamp: `YYYY-MM-DD HH` (ren2022) or a full timestamp (eia2022).
fn parse_hour(raw: &[u8]) -> Option<i64> {
    if raw.len() == 13 {
        let mut full = [0u8; 19];
        full[..13].copy_from_slice(raw);
        full[13..].copy_from_slice(b":00:00");
        parse_datetime(&full).map(|(s, _)| s)
    } else {
        parse_datetime(raw)
            .filter(|(_, frac)| *frac == 0.0)
            .map(|(s, _)| s)
    }
}

/// Checks that `hour` follows `previous` by exactly one hour.
fn check_consecutive(
    path: &Path,
    line: u64,
    field: &str,
    previous: Option<i64>,
    hour: i64,
) -> Result<(), DataError> {
    match previous {
        Some(p) if hour <= p => Err(DataError::new(
            DataErrorKind::OutOfOrder,
            path,
            "hour is not after the previous one".to_owned(),
        )
        .at_line(line)
        .in_field(field)),
        Some(p) if hour != p + 3600 => Err(invalid(
            path,
            line,
            field,
            format!("{} hours missing before this line", (hour - p) / 3600 - 1),
        )),
        _ => Ok(()),
    }
}

/// Reads the hourly signals of `location` from a ren2022 file.
pub fn load_ren2022(path: &Path, location: &str) -> Result<HourlySignals, DataError> {
    const COLUMNS: [&str; 5] = [
        "location",
        "hour_utc",
        "carbon_kg_per_kwh",
        "water_l_per_kwh",
        "price_usd_per_mwh",
    ];
    let (mut lines, cols, needed) = Lines::with_header(path, &COLUMNS)?;
    let mut out = HourlySignals {
        start_unix_s: 0,
        carbon_kg_per_kwh: Vec::new(),
        water_l_per_kwh: Vec::new(),
        price_usd_per_kwh: Vec::new(),
    };
    let mut previous: Option<i64> = None;
    let mut seen_locations: Vec<String> = Vec::new();
    while lines.next(path)? {
        let line = lines.line_no;
        let f = lines.fields(path, needed)?;
        let loc = trim(&f[cols[0]]);
        if loc != location.as_bytes() {
            let name = String::from_utf8_lossy(loc);
            if !seen_locations.iter().any(|s| *s == name) {
                seen_locations.push(name.into_owned());
            }
            continue;
        }
        let hour = parse_hour(trim(&f[cols[1]])).ok_or_else(|| {
            invalid(
                path,
                line,
                COLUMNS[1],
                format!(
                    "{:?} is not an hour YYYY-MM-DD HH",
                    String::from_utf8_lossy(&f[cols[1]])
                ),
            )
        })?;
        check_consecutive(path, line, COLUMNS[1], previous, hour)?;
        if previous.is_none() {
            out.start_unix_s = hour;
        }
        previous = Some(hour);
        let number = |i: usize, allow_negative: bool| {
            let raw = trim(&f[cols[i]]);
            parse_f64(raw)
                .filter(|v| allow_negative || *v >= 0.0)
                .ok_or_else(|| {
                    let what = if allow_negative {
                        "a finite number"
                    } else {
                        "a finite number >= 0"
                    };
                    invalid(
                        path,
                        line,
                        COLUMNS[i],
                        format!("{:?} is not {what}", String::from_utf8_lossy(raw)),
                    )
                })
        };
        out.carbon_kg_per_kwh.push(number(2, false)?);
        out.water_l_per_kwh.push(number(3, false)?);
        out.price_usd_per_kwh.push(number(4, true)? / 1000.0);
    }
    if out.carbon_kg_per_kwh.is_empty() {
        return Err(DataError::new(
            DataErrorKind::InvalidValue,
            path,
            format!(
                "no rows for location {location:?}; the file has {}",
                seen_locations.join(", ")
            ),
        )
        .in_field("location"));
    }
    Ok(out)
}

/// Reads one balancing area's EIA-930 file.
pub fn load_eia2022(path: &Path) -> Result<EiaArea, DataError> {
    let mut names = vec!["timestamp"];
    names.extend(EIA_FUELS);
    names.push("avg_CI");
    let (mut lines, cols, needed) = Lines::with_header(path, &names)?;
    // Values per column (fuels then CI); NaN marks an empty field to fill.
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); 9];
    let mut empty_lines: Vec<Vec<u64>> = vec![Vec::new(); 9];
    let mut previous: Option<i64> = None;
    let mut start = 0;
    while lines.next(path)? {
        let line = lines.line_no;
        let f = lines.fields(path, needed)?;
        let hour = parse_hour(trim(&f[cols[0]])).ok_or_else(|| {
            invalid(
                path,
                line,
                "timestamp",
                format!(
                    "{:?} is not a timestamp",
                    String::from_utf8_lossy(&f[cols[0]])
                ),
            )
        })?;
        check_consecutive(path, line, "timestamp", previous, hour)?;
        if previous.is_none() {
            start = hour;
        }
        previous = Some(hour);
        for (k, column) in values.iter_mut().enumerate() {
            let raw = trim(&f[cols[k + 1]]);
            if raw.is_empty() {
                column.push(f64::NAN);
                empty_lines[k].push(line);
                continue;
            }
            let v = parse_f64(raw).filter(|v| *v >= 0.0).ok_or_else(|| {
                invalid(
                    path,
                    line,
                    names[k + 1],
                    format!(
                        "{:?} is not a finite number >= 0",
                        String::from_utf8_lossy(raw)
                    ),
                )
            })?;
            column.push(v);
        }
    }
    if previous.is_none() {
        return Err(DataError::new(
            DataErrorKind::Empty,
            path,
            "the file has a header but no data lines",
        ));
    }
    let mut filled = 0;
    for (k, column) in values.iter_mut().enumerate() {
        filled += fill_gaps(column).map_err(|()| {
            DataError::new(
                DataErrorKind::InvalidValue,
                path,
                "every value of the column is empty".to_owned(),
            )
            .at_line(empty_lines[k][0])
            .in_field(names[k + 1])
        })?;
    }
    let ci: Vec<f64> = values
        .pop()
        .expect("nine columns")
        .iter()
        .map(|g| g / 1000.0)
        .collect();
    let generation_mwh: [Vec<f64>; 8] = values.try_into().expect("eight fuel columns");
    Ok(EiaArea {
        start_unix_s: start,
        generation_mwh,
        carbon_kg_per_kwh: ci,
        filled_fields: filled,
    })
}

/// Replaces NaN runs by linear interpolation between their neighbours (the nearest value at the
/// ends); returns how many were filled, or an error if the column has no value at all.
fn fill_gaps(column: &mut [f64]) -> Result<usize, ()> {
    let known: Vec<usize> = (0..column.len()).filter(|&i| !column[i].is_nan()).collect();
    if known.is_empty() {
        return if column.is_empty() { Ok(0) } else { Err(()) };
    }
    let mut filled = 0;
    for i in 0..column.len() {
        if !column[i].is_nan() {
            continue;
        }
        let after = known.partition_point(|&k| k < i);
        column[i] = match (after.checked_sub(1).map(|b| known[b]), known.get(after)) {
            (Some(a), Some(&b)) => {
                let w = (i - a) as f64 / (b - a) as f64;
                column[a] * (1.0 - w) + column[b] * w
            }
            (Some(a), None) => column[a],
            (None, Some(&b)) => column[b],
            (None, None) => unreachable!("known is not empty"),
        };
        filled += 1;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_interpolated() {
        let mut v = [f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN];
        assert_eq!(fill_gaps(&mut v), Ok(4));
        assert_eq!(v, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(fill_gaps(&mut [f64::NAN]), Err(()));
    }
}
