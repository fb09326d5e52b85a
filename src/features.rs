//! Request features for the load balancer, and a robust scaler fitted on a training slice.
//!
//! Each request gets [`FEATURE_NAMES`] values, computed from the request and the ones before it
//! (never from later ones): time of day and day of week (UTC, where the trace has absolute time),
//! token counts, the gap since the previous arrival, rolling mean and standard deviation of total
//! tokens over the previous 5, 10 and 20 requests, and the previous request's values (lag 1).

use crate::trace::Trace;

/// Names of the feature columns, in order.
pub const FEATURE_NAMES: [&str; 15] = [
    "hour_of_day",
    "day_of_week",
    "context_tokens",
    "generated_tokens",
    "total_tokens",
    "interarrival_s",
    "total_tokens_mean_5",
    "total_tokens_std_5",
    "total_tokens_mean_10",
    "total_tokens_std_10",
    "total_tokens_mean_20",
    "total_tokens_std_20",
    "lag1_context_tokens",
    "lag1_generated_tokens",
    "lag1_total_tokens",
];

const WINDOWS: [usize; 3] = [5, 10, 20];
const HISTORY: usize = 20;

/// A row-major matrix of features, one row per request.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Number of rows (requests).
    pub rows: usize,
    /// Row-major values, `rows` x [`Self::COLUMNS`].
    pub data: Vec<f64>,
}

impl FeatureMatrix {
    /// Number of features per request.
    pub const COLUMNS: usize = FEATURE_NAMES.len();

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * Self::COLUMNS..(i + 1) * Self::COLUMNS]
    }

    /// The values of column `j`, row by row.
    pub fn column(&self, j: usize) -> impl Iterator<Item = f64> + '_ {
        self.data.iter().skip(j).step_by(Self::COLUMNS).copied()
    }
}

/// Computes the features of every request of `trace`.
pub fn request_features(trace: &Trace) -> FeatureMatrix {
    let n = trace.requests.len();
    let mut data = Vec::with_capacity(n * FeatureMatrix::COLUMNS);
    let mut history = [0.0f64; HISTORY];
    let mut previous: Option<&crate::trace::Request> = None;
    for (seen, r) in trace.requests.iter().enumerate() {
        let (hour, weekday) = match trace.start_unix_s {
            Some(start) => {
                let t = start as f64 + r.arrival_s;
                let day = (t / 86_400.0).floor();
                let hour = (t - day * 86_400.0) / 3600.0;
                // 1970-01-01 was a Thursday; Monday is 0.
                (hour, (day as i64 + 3).rem_euclid(7) as f64)
            }
            None => ((r.arrival_s / 3600.0).rem_euclid(24.0), 0.0),
        };
        let total = r.total_tokens() as f64;
        data.extend_from_slice(&[
            hour,
            weekday,
            f64::from(r.input_tokens),
            f64::from(r.output_tokens),
            total,
            previous.map_or(0.0, |p| r.arrival_s - p.arrival_s),
        ]);
        for w in WINDOWS {
            let k = w.min(seen);
            let (mut sum, mut sum_sq) = (0.0, 0.0);
            for back in 1..=k {
                let v = history[(seen - back) % HISTORY];
                sum += v;
                sum_sq += v * v;
            }
            let (mean, std) = if k == 0 {
                (0.0, 0.0)
            } else {
                let mean = sum / k as f64;
                (mean, (sum_sq / k as f64 - mean * mean).max(0.0).sqrt())
            };
            data.extend_from_slice(&[mean, std]);
        }
        data.extend_from_slice(&previous.map_or([0.0; 3], |p| {
            [
                f64::from(p.input_tokens),
                f64::from(p.output_tokens),
                p.total_tokens() as f64,
            ]
        }));
        history[seen % HISTORY] = total;
        previous = Some(r);
    }
    FeatureMatrix { rows: n, data }
}

/// Centres each column on its median and divides by its interquartile range (scikit-learn's
/// RobustScaler, linear-interpolated quartiles); a column with zero IQR is only centred.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustScaler {
    /// Median of each column.
    pub median: Vec<f64>,
    /// Interquartile range of each column (1 where it is 0).
    pub scale: Vec<f64>,
}

impl RobustScaler {
    /// Fits on rows `0..training_rows` only (the training slice), so held-out rows do not leak
    /// into the statistics.
    pub fn fit(features: &FeatureMatrix, training_rows: usize) -> Self {
        let rows = training_rows.min(features.rows);
        let mut median = Vec::with_capacity(FeatureMatrix::COLUMNS);
        let mut scale = Vec::with_capacity(FeatureMatrix::COLUMNS);
        let mut column = Vec::with_capacity(rows);
        for j in 0..FeatureMatrix::COLUMNS {
            column.clear();
            column.extend(features.column(j).take(rows));
            column.sort_by(f64::total_cmp);
            let q = |p: f64| quantile_sorted(&column, p);
            median.push(q(0.5));
            let iqr = q(0.75) - q(0.25);
            scale.push(if iqr > 0.0 { iqr } else { 1.0 });
        }
        RobustScaler { median, scale }
    }

    /// Scales one row in place.
    pub fn transform_row(&self, row: &mut [f64]) {
        for ((v, m), s) in row.iter_mut().zip(&self.median).zip(&self.scale) {
            *v = (*v - m) / s;
        }
    }

    /// Scales every row in place.
    pub fn transform(&self, features: &mut FeatureMatrix) {
        for row in features.data.chunks_mut(FeatureMatrix::COLUMNS) {
            self.transform_row(row);
        }
    }
}

/// The `p`-quantile of sorted values, linear interpolation between order statistics; 0 if empty.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Request;

    fn trace() -> Trace {
        Trace {
            source: "t".into(),
            // 2023-11-16 (a Thursday) 18:00:00 UTC
            start_unix_s: Some(19_677 * 86_400 + 18 * 3600),
            class_names: vec!["default".into()],
            requests: (0..30)
                .map(|i| Request {
                    arrival_s: f64::from(i) * 60.0,
                    input_tokens: i,
                    output_tokens: 1,
                    class: 0,
                    origin: 0,
                    shared_prefix_tokens: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn features_use_only_the_past() {
        let f = request_features(&trace());
        assert_eq!(f.rows, 30);
        let r0 = f.row(0);
        assert_eq!(&r0[..6], &[18.0, 3.0, 0.0, 1.0, 1.0, 0.0]);
        assert!(
            r0[6..].iter().all(|&v| v == 0.0),
            "no history for the first request"
        );
        let r10 = f.row(10);
        assert_eq!(r10[0], 18.0 + 10.0 / 60.0);
        // previous 5 totals: requests 5..=9 have totals 6..=10 -> mean 8, std sqrt(2)
        assert!((r10[6] - 8.0).abs() < 1e-12 && (r10[7] - 2f64.sqrt()).abs() < 1e-12);
        // previous 20 (only 10 exist): totals 1..=10 -> mean 5.5
        assert!((r10[10] - 5.5).abs() < 1e-12);
        assert_eq!(&r10[12..], &[9.0, 1.0, 10.0]);
        assert_eq!(r10[5], 60.0);
    }

    #[test]
    fn robust_scaler_fits_on_the_training_rows_only() {
        let mut f = request_features(&trace());
        let scaler = RobustScaler::fit(&f, 21);
        // context tokens 0..=20: median 10, IQR 15 - 5 = 10
        assert_eq!((scaler.median[2], scaler.scale[2]), (10.0, 10.0));
        // generated tokens are constant: IQR 0, scale 1
        assert_eq!(scaler.scale[3], 1.0);
        scaler.transform(&mut f);
        assert_eq!(f.row(29)[2], (29.0 - 10.0) / 10.0);
    }
}
