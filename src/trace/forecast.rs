//! One-epoch-ahead forecasts of demand: MARLIN's workload predictor ([`EwmaPredictor`]), its
//! season learned from training data ([`learn_season`]), and the plain forecasts it is judged
//! against on held-out days ([`Forecaster`], [`held_out`]).

use serde::{Deserialize, Serialize};

/// EWMA-weighted linear regression over a sliding window, optionally on seasonal differences:
/// the kind of regression MARLIN's paper adopts for its ~100-microsecond predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaPredictor {
    /// Epochs looked back.
    pub window: usize,
    /// Weight of an epoch `k` steps back relative to the newest: `decay^k`.
    pub decay: f64,
    /// Season length in epochs (0: none). With a season `s` the regression runs on the
    /// differences `y_t - y_(t-s)` and the forecast adds back the value one season ago.
    pub season: usize,
}

impl EwmaPredictor {
    /// Epochs of history a forecast reads: the window plus the season.
    pub fn history_len(&self) -> usize {
        self.window + self.season
    }

    /// Forecasts the value after `history` (oldest first), clamped to >= 0. Only the last
    /// [`history_len`](Self::history_len) values are read.
    pub fn predict(&self, history: &[f64]) -> f64 {
        let s = self.season;
        let history = &history[history.len().saturating_sub(self.history_len())..];
        if s == 0 || history.len() <= s {
            return self.regression_of(history.len(), |t| history[t]).max(0.0);
        }
        let n = history.len();
        // The regression of the differences, without clamping (a difference may be negative).
        let differences = |t: usize| history[s + t] - history[t];
        (history[n - s] + self.regression_of(n - s, differences)).max(0.0)
    }

    /// The weighted regression's forecast after the `len` values `value(0..len)`: the last
    /// `window` of them, newest weight 1. With one value, that value; with none, 0.
    fn regression_of(&self, len: usize, value: impl Fn(usize) -> f64) -> f64 {
        let n = len.min(self.window);
        if n == 0 {
            return 0.0;
        }
        let start = len - n;
        if n == 1 {
            return value(start);
        }
        // Weighted least squares of value on time t = 0..n-1, newest weight 1.
        let (mut sw, mut st, mut sy, mut stt, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let w = self.decay.powi((n - 1 - i) as i32);
            let y = value(start + i);
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
        held_out(series, 1, Forecaster::Ewma(*self)).accuracy()
    }
}

/// A predictor's season: a number of epochs, or learned from the training data. In a config,
/// an integer or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    /// This many epochs (0: none).
    Epochs(usize),
    /// `"auto"`: learned by [`learn_season`] from the training days.
    Learned,
}

impl Serialize for Season {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Season::Epochs(n) => s.serialize_u64(n as u64),
            Season::Learned => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Season {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Season;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of epochs (0: none) or \"auto\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Season, E> {
                usize::try_from(v)
                    .map(Season::Epochs)
                    .map_err(|_| E::custom(format!("{v} epochs is too many")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Season, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Season, E> {
                if v == "auto" {
                    Ok(Season::Learned)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Season {
    /// The season in epochs for the training series `series` (a day being `epochs_per_day`).
    pub fn resolve(
        self,
        window: usize,
        decay: f64,
        series: &[f64],
        epochs_per_day: usize,
    ) -> usize {
        match self {
            Season::Epochs(s) => s,
            Season::Learned => learn_season(series, window, decay, epochs_per_day),
        }
    }
}

/// The season with which the predictor forecasts `series` one epoch ahead best: 0 (none) or a
/// divisor of the day (`epochs_per_day`: an hour, a quarter day, the day, ...) of at most half
/// the series, each scored by its mean absolute error walking forward from the longest
/// candidate on (absolute, not percentage errors: a few epochs of near-zero demand would
/// otherwise decide). The shortest season within 1.5 times the best error is chosen: a pattern
/// repeating every `s` epochs then gives `s`, not a multiple of it whose error is lower by
/// chance (with noise, multiples' errors differ by tens of percent, other lags' by orders of
/// magnitude).
pub fn learn_season(series: &[f64], window: usize, decay: f64, epochs_per_day: usize) -> usize {
    let candidates: Vec<usize> = std::iter::once(0)
        .chain((1..=epochs_per_day).filter(|d| epochs_per_day % d == 0))
        .filter(|&s| s <= series.len() / 2)
        .collect();
    let from = candidates.last().map_or(1, |s| s + 1);
    if series.len() <= from {
        return 0;
    }
    let errors: Vec<f64> = candidates
        .iter()
        .map(|&season| {
            let p = EwmaPredictor {
                window,
                decay,
                season,
            };
            held_out(series, from, Forecaster::Ewma(p)).mae
        })
        .collect();
    let best = errors.iter().copied().fold(f64::INFINITY, f64::min);
    errors
        .iter()
        .position(|&e| e <= 1.5 * best)
        .map_or(0, |i| candidates[i])
}

/// A one-epoch-ahead forecast rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Forecaster {
    /// MARLIN's predictor.
    Ewma(EwmaPredictor),
    /// The value this many epochs ago (a day ago: the seasonal-naive forecast).
    SeasonalNaive(usize),
    /// The last value.
    LastValue,
}

impl Forecaster {
    /// The forecast after `history` (oldest first); with too little history, the last value
    /// (0 with none).
    pub fn predict(&self, history: &[f64]) -> f64 {
        match *self {
            Forecaster::Ewma(p) => p.predict(history),
            Forecaster::SeasonalNaive(lag) if lag >= 1 && history.len() >= lag => {
                history[history.len() - lag]
            }
            _ => history.last().copied().unwrap_or(0.0),
        }
    }
}

/// One-epoch-ahead errors of a forecast over part of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastError {
    /// Epochs scored (those with a value above 0).
    pub epochs: usize,
    /// Mean absolute percentage error, as a fraction.
    pub mape: f64,
    /// Mean absolute error, in the series' unit.
    pub mae: f64,
    /// Mean of the values scored.
    pub mean: f64,
}

impl ForecastError {
    /// 1 - MAPE.
    pub fn accuracy(&self) -> f64 {
        1.0 - self.mape
    }

    /// Weighted absolute percentage error: the absolute errors' sum over the values' sum
    /// (robust to the few epochs of near-zero demand that dominate MAPE).
    pub fn wape(&self) -> f64 {
        if self.mean > 0.0 {
            self.mae / self.mean
        } else {
            0.0
        }
    }
}

/// The errors of `forecaster` predicting `series[k]` from `series[..k]` for every `k >= from`
/// (the history before `from` is read, never scored; values of 0 are skipped).
pub fn held_out(series: &[f64], from: usize, forecaster: Forecaster) -> ForecastError {
    let (mut ape, mut ae, mut sum, mut n) = (0.0, 0.0, 0.0, 0usize);
    for k in from.max(1)..series.len() {
        let actual = series[k];
        if actual <= 0.0 {
            continue;
        }
        let error = (forecaster.predict(&series[..k]) - actual).abs();
        ape += error / actual;
        ae += error;
        sum += actual;
        n += 1;
    }
    let mean = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
    ForecastError {
        epochs: n,
        mape: mean(ape),
        mae: mean(ae),
        mean: mean(sum),
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

    #[test]
    fn the_season_is_learned_from_the_data() {
        // A pattern repeating every 4 epochs, with noise: the season is 4, not 8 or 12.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let noise_of: Vec<f64> = (0..1000).map(|_| rng.gen::<f64>() * 0.3).collect();
        let noise = |t: usize| noise_of[t];
        let tiled: Vec<f64> = (0..96)
            .map(|t| [10.0, 30.0, 20.0, 5.0][t % 4] + noise(t))
            .collect();
        assert_eq!(learn_season(&tiled, 8, 0.7, 96), 4);
        // A daily shape of 24 epochs with a weekly-free trend: a day.
        let daily: Vec<f64> = (0..24 * 8)
            .map(|t| {
                let phase = (t % 24) as f64 / 24.0 * std::f64::consts::TAU;
                100.0 + 60.0 * phase.sin() + 30.0 * (3.0 * phase).cos() + noise(t)
            })
            .collect();
        assert_eq!(learn_season(&daily, 8, 0.7, 24), 24);
        assert_eq!(learn_season(&daily[..10], 8, 0.7, 24), 0);
        let configured = Season::Epochs(3);
        assert_eq!(configured.resolve(8, 0.7, &daily, 24), 3);
    }

    #[test]
    fn held_out_errors_score_only_the_held_out_part() {
        let series = [1.0, 2.0, 3.0, 0.0, 4.0, 8.0];
        let last = held_out(&series, 4, Forecaster::LastValue);
        // 4 from 0 (100%), 8 from 4 (50%).
        assert_eq!(last.epochs, 2);
        assert!((last.mape - 0.75).abs() < 1e-12);
        assert!((last.mae - 4.0).abs() < 1e-12);
        let naive = held_out(&series, 4, Forecaster::SeasonalNaive(3));
        // 4 from 2 (50%), 8 from 3 (62.5%).
        assert!((naive.mape - 0.5625).abs() < 1e-12);
        assert_eq!(Forecaster::SeasonalNaive(9).predict(&series), 8.0);
    }
}
