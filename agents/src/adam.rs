//! Adam over a `VarStore`, with its moments exposed so a checkpoint can restore training exactly
//! (tch's own optimiser keeps its state inside libtorch, out of reach of a checkpoint).

use tch::nn::VarStore;
use tch::Tensor;

use crate::checkpoint::TensorsIn;
use crate::AgentError;

/// Adam (Kingma and Ba) with bias correction and optional global gradient-norm clipping.
#[derive(Debug)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    step: i64,
    /// Parameters in name order, with their first and second moments.
    params: Vec<(String, Tensor, Tensor, Tensor)>,
}

impl Adam {
    /// Adam over every trainable variable of `vs` (betas 0.9 and 0.999, eps 1e-8).
    pub fn new(vs: &VarStore, learning_rate: f64) -> Self {
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let params = named
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, t)| {
                let m = t.zeros_like().detach();
                let v = t.zeros_like().detach();
                (name, t, m, v)
            })
            .collect();
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            params,
        }
    }

    /// Updates taken so far.
    pub fn steps(&self) -> i64 {
        self.step
    }

    /// Zeroes the gradients of every variable.
    pub fn zero_grad(&mut self) {
        for (_, p, _, _) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Scales the gradients so that their global L2 norm is at most `max_norm`; returns the norm
    /// before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        tch::no_grad(|| {
            let mut sum_sq = 0.0;
            for (_, p, _, _) in &self.params {
                let g = p.grad();
                if g.defined() {
                    sum_sq += g
                        .pow_tensor_scalar(2)
                        .sum(tch::Kind::Double)
                        .double_value(&[]);
                }
            }
            let norm = sum_sq.sqrt();
            if norm > max_norm {
                let scale = max_norm / (norm + 1e-6);
                for (_, p, _, _) in &mut self.params {
                    let mut g = p.grad();
                    if g.defined() {
                        let _ = g.g_mul_scalar_(scale);
                    }
                }
            }
            norm
        })
    }

    /// One Adam update from the current gradients.
    pub fn step(&mut self) {
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let correction1 = 1.0 - b1.powi(self.step as i32);
        let correction2 = 1.0 - b2.powi(self.step as i32);
        let step_size = self.learning_rate / correction1;
        tch::no_grad(|| {
            for (_, p, m, v) in &mut self.params {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                // In place where libtorch allows (elementwise passes dominate small networks'
                // updates on a CPU): m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
                // p <- p - step_size m / (sqrt(v / correction2) + eps).
                let _ = m.lerp_(&g, 1.0 - b1);
                let _ = v.g_mul_scalar_(b2).addcmul_(&(&g * (1.0 - b2)), &g);
                let mut denom = v.sqrt();
                let _ = denom
                    .g_div_scalar_(correction2.sqrt())
                    .g_add_scalar_(self.eps);
                let _ = p.addcdiv_(&(&*m * -step_size), &denom);
            }
        });
    }

    /// The moments as named tensors (`adam.m.NAME`, `adam.v.NAME`) for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len());
        for (name, _, m, v) in &self.params {
            out.push((format!("adam.m.{name}"), m.shallow_clone()));
            out.push((format!("adam.v.{name}"), v.shallow_clone()));
        }
        out
    }

    /// Restores the moments saved by [`state_tensors`](Self::state_tensors) (found in
    /// `tensors` under their own names) and the step count, checking shapes.
    pub fn restore(&mut self, tensors: &TensorsIn, step: i64) -> Result<(), AgentError> {
        for (name, _, m, v) in &mut self.params {
            tensors.copy_into(&format!("adam.m.{name}"), m)?;
            tensors.copy_into(&format!("adam.v.{name}"), v)?;
        }
        self.step = step;
        Ok(())
    }
}
