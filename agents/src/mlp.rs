//! Multilayer perceptrons, stacked: `n` networks of one shape whose layers' weights are stacked
//! along a leading axis (`[n, in, out]`), run by batched matrix products. MARLIN's agents are one
//! stack ([`SacStack`](crate::marlin::sac::SacStack)); a single network ([`Mlp`], the load
//! balancer's and the comparison frameworks') is a stack of one.

use rand::Rng;
use tch::nn::{self, Module};
use tch::Tensor;

/// Linear layers of `n` networks, stacked: weight `[n, in, out]` and bias `[n, 1, out]`.
#[derive(Debug)]
pub struct StackedLinear {
    ws: Tensor,
    bs: Option<Tensor>,
}

impl StackedLinear {
    /// Layers with a bias under `path` (variables `ws` and `bs`), drawn from libtorch's
    /// generator uniform in +-1/sqrt(fan_in) (libtorch's default; [`draw`](Self::draw) redraws
    /// them from a Verdant stream).
    pub fn new(path: &nn::Path, n: i64, input: i64, output: i64) -> Self {
        let bound = 1.0 / (input as f64).sqrt();
        let init = nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        StackedLinear {
            ws: path.var("ws", &[n, input, output], init),
            bs: Some(path.var("bs", &[n, 1, output], init)),
        }
    }

    /// Layers without a bias under `path` (variable `ws`), all zero.
    pub fn zeros(path: &nn::Path, n: i64, input: i64, output: i64) -> Self {
        StackedLinear {
            ws: path.var("ws", &[n, input, output], nn::Init::Const(0.0)),
            bs: None,
        }
    }

    /// Re-draws network `i`'s weight, then its bias, uniform in +-1/sqrt(fan_in) (libtorch's
    /// default range) from `rng`, so initialisation depends on a Verdant seed stream and not on
    /// libtorch's global generator.
    pub fn draw(&mut self, i: i64, rng: &mut impl Rng) {
        tch::no_grad(|| {
            let bound = 1.0 / (self.ws.size()[1] as f64).sqrt();
            let mut fill = |t: &Tensor| {
                let mut slot = t.get(i);
                let values: Vec<f32> = (0..slot.numel())
                    .map(|_| rng.gen_range(-bound..bound) as f32)
                    .collect();
                let src = Tensor::from_slice(&values)
                    .view(slot.size().as_slice())
                    .to_device(slot.device());
                slot.copy_(&src);
            };
            fill(&self.ws);
            if let Some(b) = &self.bs {
                fill(b);
            }
        });
    }

    /// `x W + b` for each network: `x` is `[n, B, in]`, the result `[n, B, out]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match &self.bs {
            Some(b) => b.baddbmm(x, &self.ws, 1.0, 1.0),
            None => x.bmm(&self.ws),
        }
    }
}

/// A stack of multilayer perceptrons: linear layers with ReLU between them, none after the last.
#[derive(Debug)]
pub struct StackedMlp {
    layers: Vec<StackedLinear>,
}

impl StackedMlp {
    /// `n` networks `input -> hidden[0] -> ... -> output` under `path` (`layer0`, ...).
    pub fn new(path: &nn::Path, n: i64, input: i64, hidden: &[i64], output: i64) -> Self {
        let sizes: Vec<i64> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(output))
            .collect();
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(k, w)| StackedLinear::new(&(path / format!("layer{k}")), n, w[0], w[1]))
            .collect();
        StackedMlp { layers }
    }

    /// Re-draws network `i`, layer by layer.
    pub fn draw(&mut self, i: i64, rng: &mut impl Rng) {
        for layer in &mut self.layers {
            layer.draw(i, rng);
        }
    }

    /// Zeroes the last layer of every network: each outputs zeros until it learns (its
    /// gradients still reach that layer).
    pub fn zero_output(&mut self) {
        if let Some(last) = self.layers.last_mut() {
            tch::no_grad(|| {
                let _ = last.ws.zero_();
                if let Some(b) = last.bs.as_mut() {
                    let _ = b.zero_();
                }
            });
        }
    }

    /// Network `i`'s output at `x[i]` for every `i`: `x` is `[n, B, input]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = x.shallow_clone();
        for (k, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if k < last {
                h = h.relu();
            }
        }
        h
    }
}

/// One MLP `input -> hidden[0] -> ... -> output` on rows of `input` values (`[input]`,
/// `[B, input]`, or any leading shape): a stack of one.
#[derive(Debug)]
pub struct Mlp(StackedMlp);

impl Mlp {
    /// Creates the layers under `path` (named `layer0`, `layer1`, ...).
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], output: i64) -> Self {
        Mlp(StackedMlp::new(path, 1, input, hidden, output))
    }

    /// Re-draws every weight and bias from `rng` (uniform in +-1/sqrt(fan_in)).
    pub fn reinitialise(&mut self, rng: &mut impl Rng) {
        self.0.draw(0, rng);
    }
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let mut size = xs.size();
        let width = size.pop().unwrap_or(1);
        let out = self.0.forward(&xs.reshape([1, -1, width]));
        size.push(out.size()[2]);
        out.view(size.as_slice())
    }
}
