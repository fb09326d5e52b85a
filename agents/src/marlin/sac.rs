//! Soft actor-critic with a FiLM-modulated actor: the building block of MARLIN's agents.
//!
//! Actions are tanh-squashed Gaussians `u` in [-1, 1]^A. The actor sees `[state, w]` and its first
//! hidden layer is modulated by FiLM with the conditioning vector `z` (the weight vector and the
//! datacenters' attributes). The critics see `[state, w, plan(u)]`, where `plan` maps actions to
//! fractions (differentiably), so a critic can also score a plan that no actor proposed (a blend).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::mlp::{reinitialise_linear, Mlp};

/// Feature-wise linear modulation: `FiLM(h, z) = (1 + gamma(z)) * h + beta(z)` with `gamma` and
/// `beta` linear in `z` (no bias), so a zero conditioning vector leaves `h` unchanged.
#[derive(Debug)]
pub struct Film {
    gamma: nn::Linear,
    beta: nn::Linear,
}

impl Film {
    /// A FiLM layer: `conditioning` inputs scale and shift `features` features.
    pub fn new(path: &nn::Path, conditioning: i64, features: i64) -> Self {
        let config = nn::LinearConfig {
            bias: false,
            ws_init: nn::Init::Const(0.0),
            ..Default::default()
        };
        Film {
            gamma: nn::linear(path / "gamma", conditioning, features, config),
            beta: nn::linear(path / "beta", conditioning, features, config),
        }
    }

    /// `h` scaled and shifted by the conditioning `z`.
    pub fn forward(&self, h: &Tensor, z: &Tensor) -> Tensor {
        h * (self.gamma.forward(z) + 1.0) + self.beta.forward(z)
    }
}

/// Sizes and rates of one SAC agent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SacConfig {
    /// State length.
    pub state: i64,
    /// Reward weights' length.
    pub weights: i64,
    /// Conditioning length.
    pub conditioning: i64,
    /// Action length.
    pub action: i64,
    /// Units per hidden layer of the actor.
    pub actor_hidden: i64,
    /// Units per hidden layer of the critics.
    pub critic_hidden: i64,
    /// Actor's step size.
    pub actor_lr: f64,
    /// Critics' step size.
    pub critic_lr: f64,
    /// Entropy temperature's step size.
    pub alpha_lr: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Soft target update rate.
    pub tau: f64,
    /// FiLM on (else `z` is concatenated to the actor's input).
    pub film: bool,
}

/// A batch of transitions, as tensors on the agent's device.
#[derive(Debug)]
pub struct Batch {
    /// States, one row each.
    pub state: Tensor,
    /// Reward weights.
    pub weights: Tensor,
    /// Conditionings.
    pub conditioning: Tensor,
    /// Actions.
    pub action: Tensor,
    /// Rewards.
    pub reward: Tensor,
    /// Next states.
    pub next_state: Tensor,
    /// Next conditionings.
    pub next_conditioning: Tensor,
    /// 1 where the episode ended.
    pub done: Tensor,
}

/// Losses of one update.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SacLosses {
    /// Critic loss.
    pub critic: f64,
    /// Actor loss.
    pub actor: f64,
    /// Temperature loss.
    pub alpha: f64,
}

/// One SAC agent: actor, twin critics with target copies, learned temperature.
#[derive(Debug)]
pub struct Sac {
    /// Sizes and step sizes.
    pub config: SacConfig,
    device: Device,
    /// The actor's variables.
    pub actor_vs: VarStore,
    actor_in: nn::Linear,
    film: Option<Film>,
    actor_trunk: Mlp,
    /// The two critics' variables.
    pub critic_vs: VarStore,
    q1: Mlp,
    q2: Mlp,
    /// The target critics' variables.
    pub target_vs: VarStore,
    t1: Mlp,
    t2: Mlp,
    /// The entropy temperature's variable.
    pub alpha_vs: VarStore,
    log_alpha: Tensor,
    /// The actor's optimiser.
    pub actor_opt: Adam,
    /// The critics' optimiser.
    pub critic_opt: Adam,
    /// The temperature's optimiser.
    pub alpha_opt: Adam,
    target_entropy: f64,
}

const LOG_STD_MIN: f64 = -5.0;
const LOG_STD_MAX: f64 = 2.0;

impl Sac {
    /// A new agent with weights drawn from `init`.
    pub fn new(config: SacConfig, device: Device, init: &mut ChaCha8Rng) -> Self {
        let c = config;
        let actor_vs = VarStore::new(device);
        let a = actor_vs.root();
        let input = c.state + c.weights + if c.film { 0 } else { c.conditioning };
        let mut actor_in = nn::linear(&a / "input", input, c.actor_hidden, Default::default());
        reinitialise_linear(&mut actor_in, init);
        let film = c
            .film
            .then(|| Film::new(&(&a / "film"), c.conditioning, c.actor_hidden));
        let mut actor_trunk = Mlp::new(
            &(&a / "trunk"),
            c.actor_hidden,
            &[c.actor_hidden],
            2 * c.action,
        );
        actor_trunk.reinitialise(init);
        let critic_vs = VarStore::new(device);
        let q_in = c.state + c.weights + c.action;
        let hidden = [c.critic_hidden, c.critic_hidden];
        let mut q1 = Mlp::new(&(critic_vs.root() / "q1"), q_in, &hidden, 1);
        let mut q2 = Mlp::new(&(critic_vs.root() / "q2"), q_in, &hidden, 1);
        q1.reinitialise(init);
        q2.reinitialise(init);
        let mut target_vs = VarStore::new(device);
        let t1 = Mlp::new(&(target_vs.root() / "q1"), q_in, &hidden, 1);
        let t2 = Mlp::new(&(target_vs.root() / "q2"), q_in, &hidden, 1);
        target_vs.copy(&critic_vs).expect("same layout");
        target_vs.freeze();
        let alpha_vs = VarStore::new(device);
        let log_alpha = alpha_vs.root().var("log_alpha", &[1], nn::Init::Const(0.0));
        let actor_opt = Adam::new(&actor_vs, c.actor_lr);
        let critic_opt = Adam::new(&critic_vs, c.critic_lr);
        let alpha_opt = Adam::new(&alpha_vs, c.alpha_lr);
        Sac {
            config,
            device,
            actor_vs,
            actor_in,
            film,
            actor_trunk,
            critic_vs,
            q1,
            q2,
            target_vs,
            t1,
            t2,
            alpha_vs,
            log_alpha,
            actor_opt,
            critic_opt,
            alpha_opt,
            target_entropy: -(c.action as f64),
        }
    }

    /// The device of the variables.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Mean and log-std of the pre-squash Gaussian.
    fn actor_head(&self, state: &Tensor, weights: &Tensor, z: &Tensor) -> (Tensor, Tensor) {
        let x = match &self.film {
            Some(_) => Tensor::cat(&[state, weights], 1),
            None => Tensor::cat(&[state, weights, z], 1),
        };
        let mut h = self.actor_in.forward(&x);
        if let Some(f) = &self.film {
            h = f.forward(&h, z);
        }
        let out = self.actor_trunk.forward(&h.relu());
        let parts = out.chunk(2, 1);
        let log_std = parts[1].clamp(LOG_STD_MIN, LOG_STD_MAX);
        (parts[0].shallow_clone(), log_std)
    }

    /// A reparameterised sample `u = tanh(mean + std * eps)` and its log-probability, with `eps`
    /// drawn from `rng` (so sampling does not touch libtorch's global generator).
    pub fn sample(
        &self,
        state: &Tensor,
        weights: &Tensor,
        z: &Tensor,
        rng: &mut ChaCha8Rng,
    ) -> (Tensor, Tensor) {
        let (mean, log_std) = self.actor_head(state, weights, z);
        let n = mean.numel();
        let eps: Vec<f32> = (0..n)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect();
        let eps = Tensor::from_slice(&eps)
            .view(mean.size().as_slice())
            .to_device(self.device);
        let std = log_std.exp();
        let pre = &mean + &std * &eps;
        let u = pre.tanh();
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let log_prob =
            (eps.square() * -0.5 - &log_std - half_log_2pi).sum_dim_intlist(-1, false, Kind::Float)
                - (u.square() * -1.0 + (1.0 + 1e-6))
                    .log()
                    .sum_dim_intlist(-1, false, Kind::Float);
        (u, log_prob)
    }

    /// The deterministic action `tanh(mean)`.
    pub fn act_deterministic(&self, state: &Tensor, weights: &Tensor, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.actor_head(state, weights, z).0.tanh())
    }

    /// min(Q1, Q2) of `[state, weights, plan]` (the plan as fractions, any batch shape [B, A]).
    pub fn q(&self, state: &Tensor, weights: &Tensor, plan: &Tensor) -> Tensor {
        let x = Tensor::cat(&[state, weights, plan], 1);
        self.q1.forward(&x).min_other(&self.q2.forward(&x))
    }

    /// One update of critics, actor and temperature; `to_plan` maps actions to the fractions the
    /// critics see.
    pub fn update(
        &mut self,
        b: &Batch,
        to_plan: &dyn Fn(&Tensor) -> Tensor,
        rng: &mut ChaCha8Rng,
    ) -> SacLosses {
        let c = self.config;
        let alpha = self.log_alpha.exp().detach();
        let target = tch::no_grad(|| {
            let (u2, logp2) = self.sample(&b.next_state, &b.weights, &b.next_conditioning, rng);
            let x2 = Tensor::cat(&[&b.next_state, &b.weights, &to_plan(&u2)], 1);
            let q_next = self
                .t1
                .forward(&x2)
                .min_other(&self.t2.forward(&x2))
                .squeeze_dim(1)
                - &alpha * logp2;
            &b.reward + (1.0 - &b.done) * c.gamma * q_next
        });
        let x = Tensor::cat(&[&b.state, &b.weights, &to_plan(&b.action)], 1);
        let critic_loss = (self.q1.forward(&x).squeeze_dim(1) - &target)
            .square()
            .mean(Kind::Float)
            + (self.q2.forward(&x).squeeze_dim(1) - &target)
                .square()
                .mean(Kind::Float);
        self.critic_opt.zero_grad();
        critic_loss.backward();
        self.critic_opt.step();

        let (u, logp) = self.sample(&b.state, &b.weights, &b.conditioning, rng);
        let q = self.q(&b.state, &b.weights, &to_plan(&u)).squeeze_dim(1);
        let actor_loss = (&alpha * &logp - q).mean(Kind::Float);
        self.actor_opt.zero_grad();
        actor_loss.backward();
        self.actor_opt.step();
        // The critics' gradients from the actor loss are discarded at their next zero_grad.

        let alpha_loss =
            -(&self.log_alpha * (logp.detach() + self.target_entropy)).mean(Kind::Float);
        self.alpha_opt.zero_grad();
        alpha_loss.backward();
        self.alpha_opt.step();

        tch::no_grad(|| {
            let source = self.critic_vs.variables();
            for (name, mut t) in self.target_vs.variables() {
                let s = &source[&name];
                t.copy_(&(&t * (1.0 - c.tau) + s * c.tau));
            }
        });
        SacLosses {
            critic: critic_loss.double_value(&[]),
            actor: actor_loss.double_value(&[]),
            alpha: alpha_loss.double_value(&[]),
        }
    }

    /// The entropy temperature.
    pub fn alpha(&self) -> f64 {
        self.log_alpha.exp().double_value(&[0])
    }
}
