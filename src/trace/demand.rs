//! Per-epoch demand: requests and tokens per origin, request class and epoch.
//!
//! This is what fluid models (the LP, the papers' equations) read: how many requests of each class
//! arrive from each origin in each epoch, and how many input and output tokens they carry.
//! Counts are `f64` because scenarios scale them (to a target utilisation, by a sensitivity
//! factor); a discrete-event run draws whole requests from them.

use super::Request;

/// The shape of a request does not fit the demand table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("request {index}: {message}")]
pub struct DemandError {
    /// The request's index.
    pub index: usize,
    /// Why it does not fit.
    pub message: String,
}

/// Requests and token sums indexed by (origin, class, epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochDemand {
    origins: usize,
    classes: usize,
    epochs: usize,
    epoch_s: f64,
    requests: Vec<f64>,
    input_tokens: Vec<f64>,
    output_tokens: Vec<f64>,
    /// Requests that arrived before the first epoch or after the last one.
    pub outside_horizon: u64,
}

impl EpochDemand {
    /// An all-zero table; `epoch_s` must be positive.
    pub fn zeros(origins: usize, classes: usize, epochs: usize, epoch_s: f64) -> Self {
        assert!(epoch_s > 0.0, "epoch length must be positive");
        let n = origins * classes * epochs;
        EpochDemand {
            origins,
            classes,
            epochs,
            epoch_s,
            requests: vec![0.0; n],
            input_tokens: vec![0.0; n],
            output_tokens: vec![0.0; n],
            outside_horizon: 0,
        }
    }

    /// Aggregates requests whose `arrival_s` counts from the start of epoch 0.
    pub fn aggregate<'a>(
        requests: impl IntoIterator<Item = &'a Request>,
        origins: usize,
        classes: usize,
        epochs: usize,
        epoch_s: f64,
    ) -> Result<Self, DemandError> {
        let mut demand = EpochDemand::zeros(origins, classes, epochs, epoch_s);
        for (index, r) in requests.into_iter().enumerate() {
            demand
                .add(r)
                .map_err(|message| DemandError { index, message })?;
        }
        Ok(demand)
    }

    /// Adds one request (no allocation).
    pub fn add(&mut self, r: &Request) -> Result<(), String> {
        let (o, c) = (usize::from(r.origin), usize::from(r.class));
        if o >= self.origins {
            return Err(format!(
                "origin {o} but the table has {} origins",
                self.origins
            ));
        }
        if c >= self.classes {
            return Err(format!(
                "class {c} but the table has {} classes",
                self.classes
            ));
        }
        let epoch = (r.arrival_s / self.epoch_s).floor();
        if !(epoch >= 0.0 && epoch < self.epochs as f64) {
            self.outside_horizon += 1;
            return Ok(());
        }
        let i = self.index(o, c, epoch as usize);
        self.requests[i] += 1.0;
        self.input_tokens[i] += f64::from(r.input_tokens);
        self.output_tokens[i] += f64::from(r.output_tokens);
        Ok(())
    }

    fn index(&self, origin: usize, class: usize, epoch: usize) -> usize {
        (origin * self.classes + class) * self.epochs + epoch
    }

    /// Number of origins.
    pub fn origins(&self) -> usize {
        self.origins
    }
    /// Number of request classes.
    pub fn classes(&self) -> usize {
        self.classes
    }
    /// Number of epochs.
    pub fn epochs(&self) -> usize {
        self.epochs
    }
    /// Length of an epoch, seconds.
    pub fn epoch_s(&self) -> f64 {
        self.epoch_s
    }

    /// Requests of `class` from `origin` in `epoch`.
    pub fn requests(&self, origin: usize, class: usize, epoch: usize) -> f64 {
        self.requests[self.index(origin, class, epoch)]
    }
    /// Input tokens summed over those requests.
    pub fn input_tokens(&self, origin: usize, class: usize, epoch: usize) -> f64 {
        self.input_tokens[self.index(origin, class, epoch)]
    }
    /// Output tokens summed over those requests.
    pub fn output_tokens(&self, origin: usize, class: usize, epoch: usize) -> f64 {
        self.output_tokens[self.index(origin, class, epoch)]
    }

    /// Sets one cell (for demand given as a table rather than a trace): `requests` requests with
    /// `input_tokens` and `output_tokens` tokens each.
    pub fn set(
        &mut self,
        origin: usize,
        class: usize,
        epoch: usize,
        requests: f64,
        input_tokens: f64,
        output_tokens: f64,
    ) {
        let i = self.index(origin, class, epoch);
        self.requests[i] = requests;
        self.input_tokens[i] = requests * input_tokens;
        self.output_tokens[i] = requests * output_tokens;
    }

    /// A table of `epochs` epochs whose epoch `e` is this table's epoch `source(e)` (which must
    /// be one of its epochs), with the same origins, classes and epoch length: a run of days cut
    /// out, or a day repeated.
    pub fn remapped(&self, epochs: usize, source: impl Fn(usize) -> usize) -> EpochDemand {
        let mut out = EpochDemand::zeros(self.origins, self.classes, epochs, self.epoch_s);
        for o in 0..self.origins {
            for c in 0..self.classes {
                for e in 0..epochs {
                    let (to, from) = (out.index(o, c, e), self.index(o, c, source(e)));
                    out.requests[to] = self.requests[from];
                    out.input_tokens[to] = self.input_tokens[from];
                    out.output_tokens[to] = self.output_tokens[from];
                }
            }
        }
        out
    }

    /// Multiplies the counts and token sums of every class from `origin` in `epoch` by `factor`.
    pub fn scale_origin_epoch(&mut self, origin: usize, epoch: usize, factor: f64) {
        for c in 0..self.classes {
            let i = self.index(origin, c, epoch);
            self.requests[i] *= factor;
            self.input_tokens[i] *= factor;
            self.output_tokens[i] *= factor;
        }
    }

    /// Multiplies every count and token sum by `factor`.
    pub fn scale(&mut self, factor: f64) {
        for v in self
            .requests
            .iter_mut()
            .chain(self.input_tokens.iter_mut())
            .chain(self.output_tokens.iter_mut())
        {
            *v *= factor;
        }
    }

    /// Requests per epoch over every origin and class (each class summed over the origins, then
    /// the classes, as [`crate::sim::planner::EpochPlanner`]'s volumes are).
    pub fn requests_per_epoch(&self) -> Vec<f64> {
        (0..self.epochs)
            .map(|e| {
                (0..self.classes)
                    .map(|c| {
                        (0..self.origins)
                            .map(|o| self.requests[self.index(o, c, e)])
                            .fold(0.0, |a, b| a + b)
                    })
                    .sum()
            })
            .collect()
    }

    /// Total requests over the table.
    pub fn total_requests(&self) -> f64 {
        self.requests.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(t: f64, origin: u16, class: u16, input: u32, output: u32) -> Request {
        Request {
            arrival_s: t,
            input_tokens: input,
            output_tokens: output,
            class,
            origin,
            shared_prefix_tokens: 0,
        }
    }

    #[test]
    fn requests_fall_into_their_epoch_cell() {
        let rs = [
            req(0.0, 0, 0, 10, 1),
            req(59.9, 0, 0, 20, 2),
            req(60.0, 1, 1, 5, 5),
            req(179.0, 1, 0, 1, 1),
            req(180.0, 0, 0, 1, 1),
            req(-1.0, 0, 0, 1, 1),
        ];
        let d = EpochDemand::aggregate(&rs, 2, 2, 3, 60.0).unwrap();
        assert_eq!(d.requests(0, 0, 0), 2.0);
        assert_eq!(d.input_tokens(0, 0, 0), 30.0);
        assert_eq!(d.output_tokens(0, 0, 0), 3.0);
        assert_eq!(d.requests(1, 1, 1), 1.0);
        assert_eq!(d.requests(1, 0, 2), 1.0);
        assert_eq!(d.outside_horizon, 2);
        assert_eq!(d.total_requests(), 4.0);
        let err = EpochDemand::aggregate(&[req(0.0, 2, 0, 1, 1)], 2, 2, 3, 60.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "request 0: origin 2 but the table has 2 origins"
        );
    }
}
