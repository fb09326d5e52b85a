//! Fitting an MLP to `y = sin(x)` on `[-pi, pi]` by mean squared error with Adam.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use verdant::config::{key, ConfigError, Validate};

use crate::mlp::Mlp;
use crate::AgentError;

/// `[mlp]` parameters as written in a config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FitParams {
    /// Gradient steps.
    pub steps: u32,
    /// Units per hidden layer.
    pub hidden: Vec<i64>,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Samples per step.
    pub batch_size: u32,
}

/// Checked fitting parameters.
#[derive(Debug, Clone)]
pub struct FitSettings {
    steps: u32,
    hidden: Vec<i64>,
    learning_rate: f64,
    batch_size: u32,
}

impl FitSettings {
    /// Gradient steps.
    pub fn steps(&self) -> u32 {
        self.steps
    }
}

impl Validate for FitParams {
    type Checked = FitSettings;
    fn validate(self, prefix: &str) -> Result<FitSettings, ConfigError> {
        if self.steps == 0 {
            return Err(ConfigError::invalid(
                key(prefix, "steps"),
                "must be at least 1",
            ));
        }
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h < 1) {
            return Err(ConfigError::invalid(
                key(prefix, "hidden"),
                "must list at least one layer width, each at least 1",
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ConfigError::invalid(
                key(prefix, "learning_rate"),
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::invalid(
                key(prefix, "batch_size"),
                "must be at least 1",
            ));
        }
        Ok(FitSettings {
            steps: self.steps,
            hidden: self.hidden,
            learning_rate: self.learning_rate,
            batch_size: self.batch_size,
        })
    }
}

/// The loss before and during training.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// Mean squared error on the held-out grid before the first step.
    pub initial_loss: f64,
    /// The same after the last step.
    pub final_loss: f64,
    /// (step, held-out loss) every `steps / 20` steps and at the end.
    pub curve: Vec<(u32, f64)>,
}

/// Trains a fresh MLP on `device`; the same seed gives the same report on CPU. `on_step` is called
/// after every step with the number of steps done (for progress display).
pub fn fit_sine(
    settings: &FitSettings,
    seed: u64,
    device: Device,
    mut on_step: impl FnMut(u32),
) -> Result<FitReport, AgentError> {
    tch::manual_seed(seed as i64);
    let vs = nn::VarStore::new(device);
    let net = Mlp::new(&vs.root(), 1, &settings.hidden, 1);
    let mut opt = nn::Adam::default().build(&vs, settings.learning_rate)?;
    let eval_x = Tensor::linspace(
        -std::f64::consts::PI,
        std::f64::consts::PI,
        256,
        (Kind::Float, device),
    )
    .unsqueeze(1);
    let eval_y = eval_x.sin();
    let eval = |net: &Mlp| -> Result<f64, AgentError> {
        let loss = tch::no_grad(|| net.forward(&eval_x).mse_loss(&eval_y, tch::Reduction::Mean));
        Ok(loss.double_value(&[]))
    };
    let initial_loss = eval(&net)?;
    let every = (settings.steps / 20).max(1);
    let mut curve = Vec::new();
    let batch = i64::from(settings.batch_size);
    for step in 1..=settings.steps {
        let x =
            (Tensor::rand([batch, 1], (Kind::Float, device)) * 2.0 - 1.0) * std::f64::consts::PI;
        let loss = net.forward(&x).mse_loss(&x.sin(), tch::Reduction::Mean);
        opt.backward_step(&loss);
        on_step(step);
        if step % every == 0 || step == settings.steps {
            curve.push((step, eval(&net)?));
        }
    }
    let final_loss = curve.last().map_or(initial_loss, |c| c.1);
    Ok(FitReport {
        initial_loss,
        final_loss,
        curve,
    })
}
