//! Operations on traces: slicing, subsampling, time compression, tiling, class and origin
//! assignment. Each keeps arrival order.

use rand::Rng;

use super::{Request, Trace};

impl Trace {
    /// The requests with `start_s <= arrival_s < end_s`, shifted so that `start_s` becomes 0.
    pub fn slice_time(&self, start_s: f64, end_s: f64) -> Trace {
        // With absolute time the new origin stays on a whole second (`start_unix_s` is whole),
        // so times are shifted by the whole seconds of `start_s` only.
        let shift = if self.start_unix_s.is_some() {
            start_s.floor()
        } else {
            start_s
        };
        let requests = self
            .requests
            .iter()
            .filter(|r| r.arrival_s >= start_s && r.arrival_s < end_s)
            .map(|r| Request {
                arrival_s: r.arrival_s - shift,
                ..*r
            })
            .collect();
        Trace {
            source: format!("{} [{start_s} s, {end_s} s)", self.source),
            start_unix_s: self.start_unix_s.map(|s| s + shift as i64),
            requests,
            ..self.clone_empty()
        }
    }

    /// Requests `first..first + count` (fewer where the trace is shorter), times unchanged.
    pub fn slice_index(&self, first: usize, count: usize) -> Trace {
        let end = first.saturating_add(count).min(self.requests.len());
        let first = first.min(end);
        Trace {
            source: format!("{} requests {first}..{end}", self.source),
            requests: self.requests[first..end].to_vec(),
            ..self.clone_empty()
        }
    }

    /// Every `n`-th request, starting with request `offset` (`n >= 1`).
    pub fn every_nth(&self, n: usize, offset: usize) -> Trace {
        let n = n.max(1);
        Trace {
            source: format!("{} every {n}th from {offset}", self.source),
            requests: self
                .requests
                .iter()
                .skip(offset)
                .step_by(n)
                .copied()
                .collect(),
            ..self.clone_empty()
        }
    }

    /// Maps arrival times linearly so that the first request arrives at 0 and the last at
    /// `window_s`; order is kept. A trace of one request arrives at 0.
    pub fn compress_into(&self, window_s: f64) -> Trace {
        let first = self.requests.first().map_or(0.0, |r| r.arrival_s);
        let span = self.span_s();
        let factor = if span > 0.0 { window_s / span } else { 0.0 };
        Trace {
            source: format!("{} compressed into {window_s} s", self.source),
            start_unix_s: None,
            requests: self
                .requests
                .iter()
                .map(|r| Request {
                    arrival_s: (r.arrival_s - first) * factor,
                    ..*r
                })
                .collect(),
            ..self.clone_empty()
        }
    }

    /// Divides every arrival time by `factor` (> 1 compresses, < 1 stretches); order is kept.
    pub fn compress_by(&self, factor: f64) -> Trace {
        Trace {
            source: format!("{} compressed {factor}x", self.source),
            start_unix_s: None,
            requests: self
                .requests
                .iter()
                .map(|r| Request {
                    arrival_s: r.arrival_s / factor,
                    ..*r
                })
                .collect(),
            ..self.clone_empty()
        }
    }

    /// How many copies [`Trace::tile`] lays end to end to cover `duration_s` (at most; the last
    /// is cut at the end).
    pub fn tile_copies(&self, duration_s: f64) -> usize {
        self.tile_period(duration_s).1
    }

    /// The period of the trace's repetition and the copies that cover `duration_s`.
    fn tile_period(&self, duration_s: f64) -> (f64, usize) {
        let n = self.requests.len() as f64;
        let span = self.span_s();
        let period = if n > 1.0 {
            span * n / (n - 1.0)
        } else {
            duration_s.max(1.0)
        };
        // A trace whose requests all arrive at once has no period: it is not repeated.
        let copies = if period > 0.0 {
            (duration_s / period).ceil() as usize
        } else {
            1
        };
        (period, copies)
    }

    /// Repeats the trace back to back until `duration_s`: copy `k` is shifted by `k` periods,
    /// where a period is the span of the trace plus its mean inter-arrival gap (so the copies do
    /// not overlap and the rate is kept).
    pub fn tile(&self, duration_s: f64) -> Trace {
        let mut requests = Vec::new();
        if let Some(first) = self.requests.first() {
            let (period, copies) = self.tile_period(duration_s);
            'outer: for copy in 0..copies {
                let shift = copy as f64 * period;
                for r in &self.requests {
                    let t = r.arrival_s - first.arrival_s + shift;
                    if t >= duration_s {
                        break 'outer;
                    }
                    requests.push(Request { arrival_s: t, ..*r });
                }
            }
        }
        Trace {
            source: format!("{} tiled to {duration_s} s", self.source),
            requests,
            ..self.clone_empty()
        }
    }

    /// Draws each request's class from `weights` (one per class name; need not sum to 1).
    pub fn assign_classes(
        &mut self,
        class_names: Vec<String>,
        weights: &[f64],
        rng: &mut impl Rng,
    ) {
        let picks = Picker::new(weights);
        for r in &mut self.requests {
            r.class = picks.pick(rng);
        }
        self.class_names = class_names;
    }

    /// Draws each request's origin from `weights` (one per origin; need not sum to 1).
    pub fn assign_origins(&mut self, weights: &[f64], rng: &mut impl Rng) {
        let picks = Picker::new(weights);
        for r in &mut self.requests {
            r.origin = picks.pick(rng);
        }
    }

    /// Splits into the first `1 - tail_fraction` of the requests and the rest (for training on
    /// the head and evaluating on a held-out tail).
    pub fn split_tail(&self, tail_fraction: f64) -> (Trace, Trace) {
        let n = self.requests.len();
        let head = n - ((n as f64 * tail_fraction.clamp(0.0, 1.0)).round() as usize).min(n);
        (self.slice_index(0, head), self.slice_index(head, n - head))
    }

    fn clone_empty(&self) -> Trace {
        Trace {
            source: self.source.clone(),
            start_unix_s: self.start_unix_s,
            class_names: self.class_names.clone(),
            requests: Vec::new(),
        }
    }
}

/// Draws an index with probability proportional to its weight (cumulative table, binary search).
struct Picker {
    cumulative: Vec<f64>,
}

impl Picker {
    fn new(weights: &[f64]) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Picker { cumulative }
    }

    fn pick(&self, rng: &mut impl Rng) -> u16 {
        let total = *self.cumulative.last().unwrap_or(&0.0);
        if total <= 0.0 {
            return 0;
        }
        let x = rng.gen::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        i.min(self.cumulative.len() - 1) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::MasterSeed;

    fn trace(times: &[f64]) -> Trace {
        Trace {
            source: "t".into(),
            start_unix_s: Some(1000),
            class_names: vec!["default".into()],
            requests: times
                .iter()
                .enumerate()
                .map(|(i, &t)| Request {
                    arrival_s: t,
                    input_tokens: i as u32,
                    output_tokens: 1,
                    class: 0,
                    origin: 0,
                    shared_prefix_tokens: 0,
                })
                .collect(),
        }
    }

    fn times(t: &Trace) -> Vec<f64> {
        t.requests.iter().map(|r| r.arrival_s).collect()
    }

    #[test]
    fn slicing_subsampling_and_compression_keep_order() {
        let t = trace(&[0.0, 1.0, 2.0, 3.0, 4.0, 10.0]);
        let s = t.slice_time(1.0, 4.0);
        assert_eq!(times(&s), vec![0.0, 1.0, 2.0]);
        assert_eq!(s.start_unix_s, Some(1001));
        assert_eq!(
            times(&t.slice_time(1.5, 4.0)),
            vec![1.0, 2.0],
            "fraction kept in times"
        );
        assert_eq!(
            t.every_nth(2, 1)
                .requests
                .iter()
                .map(|r| r.input_tokens)
                .collect::<Vec<_>>(),
            vec![1, 3, 5]
        );
        assert_eq!(
            times(&t.compress_into(5.0)),
            vec![0.0, 0.5, 1.0, 1.5, 2.0, 5.0]
        );
        assert_eq!(
            times(&t.compress_by(2.0)),
            vec![0.0, 0.5, 1.0, 1.5, 2.0, 5.0]
        );
        assert_eq!(t.slice_index(4, 10).len(), 2);
        let (head, tail) = t.split_tail(1.0 / 3.0);
        assert_eq!((head.len(), tail.len()), (4, 2));
    }

    #[test]
    fn tiling_repeats_at_the_trace_rate() {
        let t = trace(&[0.0, 1.0, 2.0]);
        let tiled = t.tile(7.0);
        assert_eq!(times(&tiled), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn assignment_follows_weights() {
        let mut t = trace(&vec![0.0; 20_000]);
        let mut rng = MasterSeed(1).rng("test");
        t.assign_origins(&[1.0, 3.0, 0.0], &mut rng);
        let ones = t.requests.iter().filter(|r| r.origin == 1).count() as f64;
        assert!((ones / 20_000.0 - 0.75).abs() < 0.02);
        assert!(t.requests.iter().all(|r| r.origin != 2));
    }
}
