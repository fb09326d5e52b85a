//! The workload predictor of MARLIN's phase 1: next epoch's request volume from the last `tw`
//! epochs by an exponentially weighted least-squares line (recent epochs weigh more), the kind of
//! regression the paper adopts for its ~100-microsecond predictions.

/// EWMA-weighted linear regression over a sliding window, optionally on seasonal differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaPredictor {
    /// Epochs looked back.
    pub window: usize,
    /// Weight of an epoch `k` steps back relative to the newest: `decay^k`.
    pub decay: f64,
    /// Season length in epochs (0: none). With a season `s` the regression runs on the
    /// differences `y_t - y_(t-s)` and the forecast adds back the value one season ago: a
    /// trace tiled from one hour repeats every 4 fifteen-minute epochs.
    pub season: usize,
}

impl EwmaPredictor {
    /// Forecasts the value after `history` (oldest first), clamped to >= 0.
    pub fn predict(&self, history: &[f64]) -> f64 {
        let s = self.season;
        if s == 0 || history.len() <= s {
            return self.predict_linear(history);
        }
        let differences: Vec<f64> = (s..history.len())
            .map(|t| history[t] - history[t - s])
            .collect();
        let n = history.len();
        // The regression of the differences, without clamping (a difference may be negative).
        (history[n - s] + self.regression(&differences)).max(0.0)
    }

    /// The weighted regression's forecast without a season, clamped to >= 0. With one value,
    /// that value; with none, 0.
    fn predict_linear(&self, history: &[f64]) -> f64 {
        self.regression(history).max(0.0)
    }

    fn regression(&self, history: &[f64]) -> f64 {
        let n = history.len().min(self.window);
        if n == 0 {
            return 0.0;
        }
        let recent = &history[history.len() - n..];
        if n == 1 {
            return recent[0];
        }
        // Weighted least squares of value on time t = 0..n-1, newest weight 1.
        let (mut sw, mut st, mut sy, mut stt, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, &y) in recent.iter().enumerate() {
            let w = self.decay.powi((n - 1 - i) as i32);
            let t = i as f64;
            sw += w;
            st += w * t;
            sy += w * y;
            stt += w * t * t;
            sty += w * t * y;
        }
        let denom = sw * stt - st * st;
        let slope = if denom.abs() > 1e-12 {
            (sw * sty - st * sy) / denom
        } else {
            0.0
        };
        let intercept = (sy - slope * st) / sw;
        intercept + slope * n as f64
    }

    /// Accuracy on a series: 1 - mean absolute percentage error of one-step forecasts from the
    /// second value on (values of 0 are skipped).
    pub fn accuracy(&self, series: &[f64]) -> f64 {
        let mut errors = 0.0;
        let mut n = 0usize;
        for k in 1..series.len() {
            if series[k] <= 0.0 {
                continue;
            }
            let f = self.predict(&series[..k]);
            errors += (f - series[k]).abs() / series[k];
            n += 1;
        }
        if n == 0 {
            1.0
        } else {
            1.0 - errors / n as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_extrapolated_exactly() {
        let p = EwmaPredictor {
            window: 4,
            decay: 0.7,
            season: 0,
        };
        assert!((p.predict(&[1.0, 3.0, 5.0, 7.0]) - 9.0).abs() < 1e-12);
        assert!((p.predict(&[10.0, 3.0, 5.0, 7.0, 9.0]) - 11.0).abs() < 1e-12);
        assert_eq!(p.predict(&[4.0]), 4.0);
        assert_eq!(p.predict(&[]), 0.0);
        assert!((p.accuracy(&[1.0, 2.0, 3.0, 4.0, 5.0]) - (1.0 - 0.5 / 4.0)).abs() < 1e-12);
    }

    #[test]
    fn a_seasonal_pattern_with_a_trend_is_followed() {
        let p = EwmaPredictor {
            window: 4,
            decay: 0.7,
            season: 3,
        };
        // Pattern (1, 5, 2) rising by 1 each season.
        let series: Vec<f64> = (0..12)
            .map(|t| [1.0, 5.0, 2.0][t % 3] + (t / 3) as f64)
            .collect();
        assert!((p.predict(&series) - (1.0 + 4.0)).abs() < 1e-9);
        assert!(p.accuracy(&series) < 1.0);
        let flat = EwmaPredictor { season: 0, ..p };
        assert!(p.accuracy(&series[3..]) > flat.accuracy(&series[3..]));
    }
}
