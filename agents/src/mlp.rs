//! Multilayer perceptron: linear layers with ReLU between them, none after the last.

use rand::Rng;
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

impl Mlp {
    /// Re-draws every weight and bias from `rng` (see [`reinitialise_linear`]).
    pub fn reinitialise(&mut self, rng: &mut impl Rng) {
        for layer in &mut self.layers {
            reinitialise_linear(layer, rng);
        }
    }
}

/// Re-draws a linear layer's weight and bias from `rng`, uniform in +-1/sqrt(fan_in)
/// (libtorch's default range), so initialisation depends on a Verdant seed stream and not on
/// libtorch's global generator (which parallel tests and runs would race on).
pub fn reinitialise_linear(layer: &mut nn::Linear, rng: &mut impl Rng) {
    tch::no_grad(|| {
        let bound = 1.0 / (layer.ws.size()[1] as f64).sqrt();
        let mut fill = |t: &mut Tensor| {
            let values: Vec<f32> = (0..t.numel())
                .map(|_| rng.gen_range(-bound..bound) as f32)
                .collect();
            let src = Tensor::from_slice(&values)
                .view(t.size().as_slice())
                .to_device(t.device());
            t.copy_(&src);
        };
        fill(&mut layer.ws);
        if let Some(b) = layer.bs.as_mut() {
            fill(b);
        }
    });
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
