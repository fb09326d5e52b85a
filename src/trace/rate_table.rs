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

use super::Request;
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

/// Where a rate sample's token counts come from.
#[derive(Debug, Clone, Copy)]
pub enum Sizes<'a> {
    /// Each request's (input, output) drawn uniformly from these (a trace's requests).
    Drawn(&'a [(u32, u32)]),
    /// Each request's input and output drawn from log-normals of its window's mean tokens and a
    /// coefficient of variation of 1 (the table gives means only), at least 1 token each.
    TableMeans,
}

/// One window's source of token counts.
#[derive(Clone, Copy)]
enum Pick<'a> {
    Drawn(&'a [(u32, u32)]),
    Around(f64, f64),
}

/// Coefficient of variation of the token counts drawn around a window's means.
pub const TABLE_MEANS_CV: f64 = 1.0;

impl RateTable {
    /// Whether every window with requests of the models `models` has both mean token counts.
    pub fn has_token_means(&self, models: &[usize]) -> bool {
        models.iter().all(|&m| {
            self.windows[m].iter().all(|w| {
                w.rate_rps <= 0.0
                    || (w.mean_input_tokens.is_some() && w.mean_output_tokens.is_some())
            })
        })
    }

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

impl RateTable {
    /// A sample of requests that follows the table: for each `(model, class)` of `classes`,
    /// arrivals at `scale` times the model's rate in each window (Gamma gaps restarted at each
    /// window's start), over the windows that begin before `horizon_s`; each request's tokens
    /// from `sizes` (a window without its means under [`Sizes::TableMeans`] draws none). Sorted
    /// by arrival; the same `rng` state gives the same sample.
    ///
    /// Burstiness: the window's CV is that of the service's stream. A sample thinner than the
    /// stream (`scale < 1`) keeps each request with probability `scale`, which brings the
    /// stream's squared CV `c^2` to `1 + scale (c^2 - 1)` (thinning makes any stream more like
    /// Poisson); the gaps take that CV. A denser sample (`scale >= 1`, copies of the stream
    /// superposed) keeps `c`. Drawing a thin sample with the stream's own CV would make each
    /// epoch's count swing by tens of percent where the service's swings by a few.
    pub fn sample(
        &self,
        classes: &[(usize, u16)],
        scale: f64,
        sizes: Sizes,
        horizon_s: f64,
        rng: &mut impl rand::Rng,
    ) -> Vec<Request> {
        use rand_distr::Distribution;
        let mut out = Vec::new();
        if matches!(sizes, Sizes::Drawn(s) if s.is_empty()) || scale.is_nan() || scale <= 0.0 {
            return out;
        }
        // Log-normal of mean 1 and CV `TABLE_MEANS_CV`, scaled by each window's means.
        let sigma2 = (1.0 + TABLE_MEANS_CV * TABLE_MEANS_CV).ln();
        let unit =
            rand_distr::LogNormal::new(-sigma2 / 2.0, sigma2.sqrt()).expect("finite parameters");
        for &(m, class) in classes {
            for w in self.windows[m].iter().filter(|w| w.start_s < horizon_s) {
                let rate = w.rate_rps * scale;
                if rate.is_nan() || rate <= 0.0 {
                    continue;
                }
                // Gamma gaps of mean 1 / rate and CV `rate_cv` (shape 1 / cv^2; Poisson where
                // the table has no CV).
                let cv = if w.rate_cv > 0.0 { w.rate_cv } else { 1.0 };
                let scv = 1.0 + scale.min(1.0) * (cv * cv - 1.0);
                let shape = (1.0 / scv).clamp(1e-3, 1e3);
                let Ok(gap) = rand_distr::Gamma::new(shape, 1.0 / (rate * shape)) else {
                    continue;
                };
                let end = (w.start_s + self.window_s).min(horizon_s);
                // The first arrival a uniform share of a gap after the window starts.
                let mut t = w.start_s + rng.gen::<f64>() * gap.sample(rng);
                let pick = match (sizes, w.mean_input_tokens.zip(w.mean_output_tokens)) {
                    (Sizes::Drawn(s), _) => Pick::Drawn(s),
                    (Sizes::TableMeans, Some((i, o))) => Pick::Around(i, o),
                    (Sizes::TableMeans, None) => continue,
                };
                while t < end {
                    let (input_tokens, output_tokens) = match pick {
                        Pick::Drawn(s) => s[rng.gen_range(0..s.len())],
                        Pick::Around(i, o) => {
                            let mut draw = |mean: f64| {
                                (mean * unit.sample(rng))
                                    .round()
                                    .clamp(1.0, f64::from(u32::MAX))
                                    as u32
                            };
                            (draw(i), draw(o))
                        }
                    };
                    out.push(Request {
                        arrival_s: t,
                        input_tokens,
                        output_tokens,
                        class,
                        origin: 0,
                        shared_prefix_tokens: 0,
                    });
                    t += gap.sample(rng);
                }
            }
        }
        out.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn table(rates: &[f64], cv: f64) -> RateTable {
        RateTable {
            source: "t".into(),
            window_s: 100.0,
            models: vec!["a".into()],
            windows: vec![rates
                .iter()
                .enumerate()
                .map(|(i, &rate_rps)| RateWindow {
                    start_s: 100.0 * i as f64,
                    rate_rps,
                    active_clients: 1,
                    rate_cv: cv,
                    mean_input_tokens: None,
                    mean_output_tokens: None,
                })
                .collect()],
        }
    }

    /// Coefficient of variation of the gaps between consecutive arrivals.
    fn gap_cv(sample: &[Request]) -> f64 {
        let gaps: Vec<f64> = sample
            .windows(2)
            .map(|w| w[1].arrival_s - w[0].arrival_s)
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        var.sqrt() / mean
    }

    #[test]
    fn a_sample_follows_the_rates_and_their_burstiness() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let t = table(&[10.0, 40.0, 0.0, 20.0], 1.0);
        let s = t.sample(&[(0, 3)], 5.0, Sizes::Drawn(&[(7, 8)]), 1e9, &mut rng);
        let per_window = |i: usize| {
            s.iter()
                .filter(|r| (100.0 * i as f64..100.0 * (i + 1) as f64).contains(&r.arrival_s))
                .count() as f64
        };
        // 5,000, 20,000, none and 10,000 expected; Poisson spread about 1%.
        for (i, expected) in [5_000.0, 20_000.0, 0.0, 10_000.0].into_iter().enumerate() {
            assert!(
                (per_window(i) - expected).abs() <= 0.03 * expected + 0.5,
                "{i}"
            );
        }
        assert!(s.iter().all(|r| r.class == 3 && r.input_tokens == 7));
        assert!(s.windows(2).all(|w| w[0].arrival_s <= w[1].arrival_s));
        // The horizon cuts the sample.
        assert!(t
            .sample(&[(0, 0)], 5.0, Sizes::Drawn(&[(1, 1)]), 150.0, &mut rng)
            .iter()
            .all(|r| r.arrival_s < 150.0));
        // Gaps of the window's CV (2: bursty; 0.5: smooth).
        for cv in [2.0, 0.5] {
            let s =
                table(&[100.0], cv).sample(&[(0, 0)], 10.0, Sizes::Drawn(&[(1, 1)]), 1e9, &mut rng);
            let measured = gap_cv(&s);
            assert!((measured - cv).abs() < 0.1 * cv, "{cv}: {measured}");
        }
        // A thin sample of a bursty stream is close to Poisson: CV sqrt(1 + 0.01 x 15) = 1.07.
        let s = table(&[1e6], 4.0).sample(&[(0, 0)], 0.01, Sizes::Drawn(&[(1, 1)]), 1e9, &mut rng);
        let measured = gap_cv(&s);
        assert!((measured - 1.0724).abs() < 0.05, "{measured}");
        // Token counts around each window's means, with a CV of about 1; windows without means
        // draw nothing.
        let mut t = table(&[50.0, 50.0], 1.0);
        t.windows[0][0].mean_input_tokens = Some(400.0);
        t.windows[0][0].mean_output_tokens = Some(100.0);
        assert!(t.has_token_means(&[]) && !t.has_token_means(&[0]));
        let s = t.sample(&[(0, 0)], 20.0, Sizes::TableMeans, 1e9, &mut rng);
        assert!(
            s.iter().all(|r| r.arrival_s < 100.0),
            "the second window has no means"
        );
        let n = s.len() as f64;
        let mean_in = s.iter().map(|r| f64::from(r.input_tokens)).sum::<f64>() / n;
        let mean_out = s.iter().map(|r| f64::from(r.output_tokens)).sum::<f64>() / n;
        assert!((mean_in - 400.0).abs() < 0.05 * 400.0, "{mean_in}");
        assert!((mean_out - 100.0).abs() < 0.05 * 100.0, "{mean_out}");
        let sd = (s
            .iter()
            .map(|r| (f64::from(r.input_tokens) - mean_in).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(
            (sd / mean_in - TABLE_MEANS_CV).abs() < 0.15,
            "{}",
            sd / mean_in
        );
    }
}
