//! Multilayer perceptron: linear layers with ReLU between them, none after the last.

use tch::nn::{self, Module};
use tch::Tensor;

/// An MLP `input -> hidden[0] -> ... -> output`.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
}

impl Mlp {
    /// Creates the layers under `path` (named `layer0`, `layer1`, ...).
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], output: i64) -> Self {
        let sizes: Vec<i64> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(output))
            .collect();
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(path / format!("layer{i}"), w[0], w[1], Default::default()))
            .collect();
        Mlp { layers }
    }
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = xs.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if i < last {
                h = h.relu();
            }
        }
        h
    }
}
