//! The workload predictor of MARLIN's phase 1: next epoch's request volume from the last `tw`
//! epochs by an exponentially weighted least-squares line (recent epochs weigh more), the kind of
//! regression the paper adopts for its ~100-microsecond predictions.

/// EWMA-weighted linear regression over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaPredictor {
    /// Epochs looked back.
    pub window: usize,
    /// Weight of an epoch `k` steps back relative to the newest: `decay^k`.
    pub decay: f64,
}

impl EwmaPredictor {
    /// Forecasts the value after `history` (oldest first). With one value, that value; with
    /// none, 0. Negative forecasts are clamped to 0.
    pub fn predict(&self, history: &[f64]) -> f64 {
        let n = history.len().min(self.window);
        if n == 0 {
            return 0.0;
        }
        let recent = &history[history.len() - n..];
        if n == 1 {
            return recent[0].max(0.0);
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
        (intercept + slope * n as f64).max(0.0)
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
        };
        assert!((p.predict(&[1.0, 3.0, 5.0, 7.0]) - 9.0).abs() < 1e-12);
        assert!((p.predict(&[10.0, 3.0, 5.0, 7.0, 9.0]) - 11.0).abs() < 1e-12);
        assert_eq!(p.predict(&[4.0]), 4.0);
        assert_eq!(p.predict(&[]), 0.0);
        assert!((p.accuracy(&[1.0, 2.0, 3.0, 4.0, 5.0]) - (1.0 - 0.5 / 4.0)).abs() < 1e-12);
    }
}
