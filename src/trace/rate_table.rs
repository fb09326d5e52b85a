//! Demand as request rates per model and time window: ServeGen's language-model descriptors
//! aggregated per 10-minute window (`datasets/servegen-language-14d/`, its NOTICE.md).
//!
//! Columns (by name, any order, extra ones ignored): `model, window_start_s, rate_rps,
//! active_clients, rate_cv, mean_input_tokens, mean_output_tokens`. Every model has the same
//! windows, consecutive and equally long (the length is the step between the first two); the
//! token means may be empty (no token table for that window). Rates, CVs and token means are
//! finite and not negative, token means positive. Errors name file, line and field.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::data_error::{DataError, DataErrorKind};
use crate::parse::{parse_f64, parse_u32, trim, CsvRecords};

/// The columns of a rate table, in the order [`RateWindow`] holds them.
pub const COLUMNS: [&str; 7] = [
    "model",
    "window_start_s",
    "rate_rps",
    "active_clients",
    "rate_cv",
    "mean_input_tokens",
    "mean_output_tokens",
];

/// One model's demand in one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateWindow {
    /// Start of the window, seconds from the start of the table.
    pub start_s: f64,
    /// Mean request rate over the window, requests per second.
    pub rate_rps: f64,
    /// Clients with requests in the window.
    pub active_clients: u32,
    /// Coefficient of variation of inter-arrival times (1 for Poisson arrivals).
    pub rate_cv: f64,
    /// Mean prompt tokens, where the source has them.
    pub mean_input_tokens: Option<f64>,
    /// Mean output tokens, where the source has them.
    pub mean_output_tokens: Option<f64>,
}

/// A rate table: per model, its windows in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTable {
    /// The file it was read from.
    pub source: String,
    /// Length of a window, seconds.
    pub window_s: f64,
    /// Model names, in order of first appearance.
    pub models: Vec<String>,
    /// `windows[m]`: model m's windows.
    pub windows: Vec<Vec<RateWindow>>,
}

impl RateTable {
    /// Windows per model.
    pub fn len(&self) -> usize {
        self.windows.first().map_or(0, Vec::len)
    }

    /// Whether the table has no window.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The span of the table, seconds.
    pub fn span_s(&self) -> f64 {
        self.len() as f64 * self.window_s
    }

    /// Model `m`'s mean rate per day (whole days from the start; a last partial day is left
    /// out), requests per second.
    pub fn daily_mean_rps(&self, m: usize) -> Vec<f64> {
        let per_day = (86_400.0 / self.window_s).round().max(1.0) as usize;
        self.windows[m]
            .chunks_exact(per_day)
            .map(|day| day.iter().map(|w| w.rate_rps).sum::<f64>() / per_day as f64)
            .collect()
    }

    /// Model `m`'s highest window rate, requests per second.
    pub fn peak_rps(&self, m: usize) -> f64 {
        self.windows[m]
            .iter()
            .map(|w| w.rate_rps)
            .fold(0.0, f64::max)
    }
}

/// Whether `header` (a CSV file's first line) is a rate table's: it names every column.
pub fn is_rate_table_header(header: &[u8]) -> bool {
    let mut records = CsvRecords::new(header);
    matches!(records.next(), Ok(true)) && records.columns(&COLUMNS).is_ok()
}

/// Reads a rate table from `path`.
pub fn read_rate_table(path: &Path) -> Result<RateTable, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
    let mut records = CsvRecords::new(BufReader::new(file));
    let csv = |e: csv::Error| DataError::csv(path, &e);
    if !records.next().map_err(csv)? {
        return Err(DataError::new(
            DataErrorKind::Empty,
            path,
            "the file is empty",
        ));
    }
    let cols = records.columns(&COLUMNS).map_err(|name| {
        DataError::new(
            DataErrorKind::MissingColumn,
            path,
            format!("the header lacks the column {name:?} of a rate table"),
        )
        .at_line(1)
        .in_field(name)
    })?;
    let needed = cols.iter().max().map_or(0, |m| m + 1);
    let mut table = RateTable {
        source: path.display().to_string(),
        window_s: 0.0,
        models: Vec::new(),
        windows: Vec::new(),
    };
    while records.next().map_err(csv)? {
        let line = records.line();
        let record = records.record();
        let invalid = |field: usize, message: String| {
            DataError::new(DataErrorKind::InvalidValue, path, message)
                .at_line(line)
                .in_field(COLUMNS[field])
        };
        if record.len() < needed {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                path,
                format!("expected at least {needed} fields, found {}", record.len()),
            )
            .at_line(line));
        }
        let field = |i: usize| trim(&record[cols[i]]);
        let number = |i: usize| {
            parse_f64(field(i)).filter(|v| *v >= 0.0).ok_or_else(|| {
                invalid(
                    i,
                    format!(
                        "{:?} is not a finite number >= 0",
                        String::from_utf8_lossy(field(i))
                    ),
                )
            })
        };
        let tokens = |i: usize| -> Result<Option<f64>, DataError> {
            if field(i).is_empty() {
                return Ok(None);
            }
            match parse_f64(field(i)) {
                Some(v) if v > 0.0 => Ok(Some(v)),
                _ => Err(invalid(
                    i,
                    format!(
                        "{:?} is not empty or a finite number of tokens > 0",
                        String::from_utf8_lossy(field(i))
                    ),
                )),
            }
        };
        let model = field(0);
        if model.is_empty() {
            return Err(invalid(0, "empty model name".to_owned()));
        }
        let window = RateWindow {
            start_s: number(1)?,
            rate_rps: number(2)?,
            active_clients: parse_u32(field(3)).ok_or_else(|| {
                invalid(
                    3,
                    format!(
                        "{:?} is not a whole number of clients",
                        String::from_utf8_lossy(field(3))
                    ),
                )
            })?,
            rate_cv: number(4)?,
            mean_input_tokens: tokens(5)?,
            mean_output_tokens: tokens(6)?,
        };
        let m = match table.models.iter().position(|x| x.as_bytes() == model) {
            Some(m) => m,
            None => {
                table
                    .models
                    .push(String::from_utf8_lossy(model).into_owned());
                table.windows.push(Vec::new());
                table.models.len() - 1
            }
        };
        let windows = &mut table.windows[m];
        if let Some(last) = windows.last() {
            if table.window_s == 0.0 {
                table.window_s = window.start_s - last.start_s;
                if table.window_s <= 0.0 {
                    return Err(invalid(
                        1,
                        format!(
                            "windows must go forward in time: {} s after {} s",
                            window.start_s, last.start_s
                        ),
                    ));
                }
            }
            let expected = last.start_s + table.window_s;
            if (window.start_s - expected).abs() > 1e-6 * table.window_s {
                return Err(invalid(
                    1,
                    format!(
                        "windows of {} must be consecutive, {} s apart: expected {expected} s, found {} s",
                        table.models[m], table.window_s, window.start_s
                    ),
                ));
            }
        }
        windows.push(window);
    }
    if table.models.is_empty() {
        return Err(DataError::new(
            DataErrorKind::Empty,
            path,
            "the file has a header but no data lines",
        ));
    }
    let n = table.windows[0].len();
    if n < 2 {
        return Err(DataError::new(
            DataErrorKind::TooShort,
            path,
            "a rate table needs at least two windows per model (their step is the window length)",
        )
        .in_field(COLUMNS[1]));
    }
    for (m, w) in table.windows.iter().enumerate() {
        if w.len() != n || w[0].start_s != table.windows[0][0].start_s {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                path,
                format!(
                    "model {} has {} windows from {} s where {} has {n} from {} s: every model needs the same windows",
                    table.models[m], w.len(), w[0].start_s, table.models[0], table.windows[0][0].start_s
                ),
            )
            .in_field(COLUMNS[0]));
        }
    }
    Ok(table)
}
