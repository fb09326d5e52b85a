//! The requests an environment replays, with their scaled features.

use crate::features::{request_features, FeatureMatrix, RobustScaler};
use crate::scenario::lb::LbScenario;
use crate::trace::{Request, Trace};

/// Requests in arrival order and their RobustScaler-normalised features (row-major, `f32`).
#[derive(Debug, Clone, PartialEq)]
pub struct LbWorkload {
    /// Where the requests come from.
    pub name: String,
    /// The requests, in arrival order.
    pub requests: Vec<Request>,
    features: Vec<f32>,
}

impl LbWorkload {
    /// The training and evaluation workloads of a scenario. Features are computed over the whole
    /// trace in order (so the first evaluation requests see their real history) and scaled with
    /// statistics fitted on the training rows only.
    pub fn split(scenario: &LbScenario) -> (LbWorkload, LbWorkload) {
        let mut all: Trace = scenario.train.clone();
        all.requests.extend_from_slice(&scenario.eval.requests);
        let mut features = request_features(&all);
        let train_rows = scenario.train.len();
        RobustScaler::fit(&features, train_rows).transform(&mut features);
        let cut = train_rows * FeatureMatrix::COLUMNS;
        let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        (
            LbWorkload {
                name: format!("{} (train)", scenario.name),
                requests: scenario.train.requests.clone(),
                features: to_f32(&features.data[..cut]),
            },
            LbWorkload {
                name: format!("{} (eval)", scenario.name),
                requests: scenario.eval.requests.clone(),
                features: to_f32(&features.data[cut..]),
            },
        )
    }

    /// A workload from requests and features already scaled (`FeatureMatrix::COLUMNS` per row).
    pub fn from_parts(name: String, requests: Vec<Request>, features: Vec<f32>) -> Self {
        assert_eq!(features.len(), requests.len() * FeatureMatrix::COLUMNS);
        LbWorkload {
            name,
            requests,
            features,
        }
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// No requests.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The scaled features of request `i`.
    pub fn features_row(&self, i: usize) -> &[f32] {
        &self.features[i * FeatureMatrix::COLUMNS..(i + 1) * FeatureMatrix::COLUMNS]
    }
}
