//! Replay buffers of MARLIN's agents and hindsight relabelling.
//!
//! Each transition keeps, beside `(state, weights, conditioning, action, reward, next state)`,
//! the normalised objectives of the plan it led to and the reward parts that do not depend on
//! the weights, so HER can recompute its reward under other weights exactly.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

use super::sac::Batch;

/// One transition, in the buffer's row layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// State.
    pub state: Vec<f32>,
    /// Reward weights (relabelled by HER).
    pub weights: [f64; 4],
    /// Conditioning of the actor.
    pub conditioning: Vec<f32>,
    /// Action.
    pub action: Vec<f32>,
    /// Reward.
    pub reward: f64,
    /// Next state.
    pub next_state: Vec<f32>,
    /// Next conditioning.
    pub next_conditioning: Vec<f32>,
    /// The episode ended.
    pub done: bool,
    /// Objectives of the resulting plan over the reference's (TTFT, carbon, water, cost).
    pub normalised: [f64; 4],
    /// ECO bonus minus SLA penalty (independent of the weights).
    pub unweighted: f64,
}

impl Transition {
    /// The weighted metric term of the reward: `-sum_k w_k n_k`.
    pub fn metric_term(weights: &[f64; 4], normalised: &[f64; 4]) -> f64 {
        -weights
            .iter()
            .zip(normalised)
            .map(|(w, n)| w * n)
            .sum::<f64>()
    }

    /// This transition relabelled with other weights (the goal of hindsight replay): the weights
    /// and the conditioning's weight entries replaced, the reward recomputed from the stored
    /// objectives (the EMA term, which depends on the agent's history, is left out).
    pub fn relabelled(&self, weights: [f64; 4]) -> Transition {
        let mut t = self.clone();
        t.weights = weights;
        for (z, w) in t.conditioning.iter_mut().zip(weights) {
            *z = w as f32;
        }
        for (z, w) in t.next_conditioning.iter_mut().zip(weights) {
            *z = w as f32;
        }
        t.reward = Transition::metric_term(&weights, &self.normalised) + self.unweighted;
        t
    }
}

/// A ring buffer of transitions of fixed sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    capacity: usize,
    rows: Vec<Transition>,
    next: usize,
}

impl Replay {
    /// An empty buffer of `capacity` transitions.
    pub fn new(capacity: usize) -> Self {
        Replay {
            capacity,
            rows: Vec::with_capacity(capacity.min(4096)),
            next: 0,
        }
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No transitions.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets every transition.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.next = 0;
    }

    /// Adds `t`, overwriting the oldest when full.
    pub fn push(&mut self, t: Transition) {
        if self.rows.len() < self.capacity {
            self.rows.push(t);
        } else {
            self.rows[self.next] = t;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// The `n` most recent transitions, oldest first.
    pub fn latest(&self, n: usize) -> Vec<&Transition> {
        let len = self.rows.len();
        let n = n.min(len);
        (0..n)
            .map(|i| {
                let k = (self.next + self.capacity - n + i) % self.capacity;
                &self.rows[k % len.max(1)]
            })
            .collect()
    }

    /// The transitions held, in storage order.
    pub fn rows(&self) -> &[Transition] {
        &self.rows
    }

    /// Restores rows and write position (from a checkpoint).
    pub fn restore(&mut self, rows: Vec<Transition>, next: usize) {
        self.rows = rows;
        self.next = next % self.capacity.max(1);
    }

    /// Where the next transition goes.
    pub fn next_index(&self) -> usize {
        self.next
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Draws a batch of `size`: `cross_share` of it from `cross` (when it has rows), the rest from
/// `current`, uniformly with replacement.
pub fn sample_batch(
    current: &Replay,
    cross: &Replay,
    size: usize,
    cross_share: f64,
    rng: &mut ChaCha8Rng,
    device: Device,
) -> Batch {
    let from_cross = if cross.is_empty() {
        0
    } else {
        ((size as f64) * cross_share).round() as usize
    };
    let mut picked: Vec<&Transition> = Vec::with_capacity(size);
    for i in 0..size {
        let buffer = if i < from_cross || current.is_empty() {
            cross
        } else {
            current
        };
        picked.push(&buffer.rows[rng.gen_range(0..buffer.len())]);
    }
    let rows = |f: &dyn Fn(&Transition) -> &[f32]| {
        let width = f(picked[0]).len();
        let flat: Vec<f32> = picked.iter().flat_map(|t| f(t).iter().copied()).collect();
        Tensor::from_slice(&flat)
            .view([picked.len() as i64, width as i64])
            .to_device(device)
    };
    let weights: Vec<f32> = picked
        .iter()
        .flat_map(|t| t.weights.map(|w| w as f32))
        .collect();
    let scalars = |f: &dyn Fn(&Transition) -> f32| {
        Tensor::from_slice(&picked.iter().map(|t| f(t)).collect::<Vec<f32>>()).to_device(device)
    };
    Batch {
        state: rows(&|t| &t.state),
        weights: Tensor::from_slice(&weights)
            .view([picked.len() as i64, 4])
            .to_device(device),
        conditioning: rows(&|t| &t.conditioning),
        action: rows(&|t| &t.action),
        reward: scalars(&|t| t.reward as f32),
        next_state: rows(&|t| &t.next_state),
        next_conditioning: rows(&|t| &t.next_conditioning),
        done: scalars(&|t| if t.done { 1.0 } else { 0.0 }),
    }
}
