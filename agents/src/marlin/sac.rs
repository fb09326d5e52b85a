//! Soft actor-critic for a stack of agents trained as one: the building block of MARLIN.
//!
//! A [`SacStack`] holds `n` independent agents (MARLIN's four objective agents; any number in
//! the benchmark). Each layer's weights are stacked along a leading agent axis (`[n, in, out]`)
//! and every forward and backward pass is a batched matrix product over that axis, so one update
//! of the stack is one update of each agent with a handful of large operations instead of `n`
//! times as many small ones. The agents share nothing but the operations: their losses are summed
//! (the gradient of agent `i`'s parameters is the gradient of its own loss), Adam is elementwise,
//! and each agent draws its initial weights and its noise from its own random stream, so a stack
//! of `n` agents gives the same numbers as `n` stacks of one (a test).
//!
//! Actions are tanh-squashed Gaussians `u` in [-1, 1]^A. The actor sees `[state, w]` and its first
//! hidden layer is modulated by FiLM with the conditioning vector `z` (the weight vector and the
//! datacenters' attributes). The critics see `[state, w, plan(u)]`, where `plan` maps actions to
//! fractions (differentiably), so a critic can also score a plan that no actor proposed (a blend).
//! The twin critics are one stack of `2n` networks (agent `i`'s at `2i` and `2i + 1`).
//!
//! Tensors carry the agent axis first: a state is `[n, B, state]`, a reward `[n, B]`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use serde::{Deserialize, Serialize};

use crate::adam::Adam;
use crate::checkpoint::TensorsIn;
use crate::mlp::{StackedLinear, StackedMlp};
use crate::AgentError;

/// Feature-wise linear modulation of `n` networks: `FiLM(h, z) = (1 + gamma(z)) * h + beta(z)`
/// with `gamma` and `beta` linear in `z` (no bias, zero at initialisation), so a zero
/// conditioning vector leaves `h` unchanged.
#[derive(Debug)]
pub struct Film {
    gamma: StackedLinear,
    beta: StackedLinear,
}

impl Film {
    /// `n` FiLM layers: `conditioning` inputs scale and shift `features` features.
    pub fn new(path: &nn::Path, n: i64, conditioning: i64, features: i64) -> Self {
        Film {
            gamma: StackedLinear::zeros(&(path / "gamma"), n, conditioning, features),
            beta: StackedLinear::zeros(&(path / "beta"), n, conditioning, features),
        }
    }

    /// `h` (`[n, B, features]`) scaled and shifted by the conditioning `z` (`[n, B, conditioning]`).
    pub fn forward(&self, h: &Tensor, z: &Tensor) -> Tensor {
        h * (self.gamma.forward(z) + 1.0) + self.beta.forward(z)
    }
}

/// Sizes and rates of each agent of a stack.
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
    /// Entropy temperature at the start (positive).
    pub initial_alpha: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Soft target update rate.
    pub tau: f64,
    /// FiLM on (else `z` is concatenated to the actor's input).
    pub film: bool,
}

/// A batch of transitions for every agent of a stack, as tensors on the stack's device, the
/// agent axis first (`[n, B, ..]`).
#[derive(Debug)]
pub struct Batch {
    /// States, `[n, B, state]`.
    pub state: Tensor,
    /// Reward weights.
    pub weights: Tensor,
    /// Conditionings.
    pub conditioning: Tensor,
    /// Actions.
    pub action: Tensor,
    /// Rewards, `[n, B]`.
    pub reward: Tensor,
    /// Next states.
    pub next_state: Tensor,
    /// Next conditionings.
    pub next_conditioning: Tensor,
    /// 1 where the episode ended, `[n, B]`.
    pub done: Tensor,
}

impl Batch {
    /// Agents `start..start + len` of the batch.
    pub fn narrow(&self, start: i64, len: i64) -> Batch {
        let part = |t: &Tensor| t.narrow(0, start, len);
        Batch {
            state: part(&self.state),
            weights: part(&self.weights),
            conditioning: part(&self.conditioning),
            action: part(&self.action),
            reward: part(&self.reward),
            next_state: part(&self.next_state),
            next_conditioning: part(&self.next_conditioning),
            done: part(&self.done),
        }
    }

    /// One agent's batches (each without the agent axis, `[B, ..]`) stacked along a new leading
    /// agent axis, in order.
    pub fn stack(batches: &[Batch]) -> Batch {
        let field = |f: &dyn Fn(&Batch) -> &Tensor| {
            Tensor::stack(&batches.iter().map(f).collect::<Vec<_>>(), 0)
        };
        Batch {
            state: field(&|b| &b.state),
            weights: field(&|b| &b.weights),
            conditioning: field(&|b| &b.conditioning),
            action: field(&|b| &b.action),
            reward: field(&|b| &b.reward),
            next_state: field(&|b| &b.next_state),
            next_conditioning: field(&|b| &b.next_conditioning),
            done: field(&|b| &b.done),
        }
    }
}

/// Losses of one agent's update.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SacLosses {
    /// Critic loss.
    pub critic: f64,
    /// Actor loss.
    pub actor: f64,
    /// Temperature loss.
    pub alpha: f64,
}

/// `n` SAC agents trained as one: actors, twin critics with target copies, learned
/// temperatures, each agent's parameters a slice of stacked tensors.
#[derive(Debug)]
pub struct SacStack {
    /// Sizes and step sizes (the same for every agent).
    pub config: SacConfig,
    agents: i64,
    device: Device,
    /// The actors' variables.
    pub actor_vs: VarStore,
    actor_in: StackedLinear,
    film: Option<Film>,
    actor_trunk: StackedMlp,
    /// The critics' variables.
    pub critic_vs: VarStore,
    critics: StackedMlp,
    /// The target critics' variables.
    pub target_vs: VarStore,
    targets: StackedMlp,
    /// The entropy temperatures' variable (`[n, 1]`).
    pub alpha_vs: VarStore,
    log_alpha: Tensor,
    /// The actors' optimiser.
    pub actor_opt: Adam,
    /// The critics' optimiser.
    pub critic_opt: Adam,
    /// The temperatures' optimiser.
    pub alpha_opt: Adam,
    target_entropy: f64,
}

const LOG_STD_MIN: f64 = -5.0;
const LOG_STD_MAX: f64 = 2.0;

impl SacStack {
    /// One agent per stream of `inits`, each agent's weights drawn from its own stream (actor
    /// input layer, actor trunk, first critic, second critic; FiLM starts at zero).
    pub fn new(config: SacConfig, device: Device, inits: &mut [ChaCha8Rng]) -> Self {
        let c = config;
        let n = inits.len() as i64;
        let actor_vs = VarStore::new(device);
        let a = actor_vs.root();
        let input = c.state + c.weights + if c.film { 0 } else { c.conditioning };
        let mut actor_in = StackedLinear::new(&(&a / "input"), n, input, c.actor_hidden);
        let film = c
            .film
            .then(|| Film::new(&(&a / "film"), n, c.conditioning, c.actor_hidden));
        let mut actor_trunk = StackedMlp::new(
            &(&a / "trunk"),
            n,
            c.actor_hidden,
            &[c.actor_hidden],
            2 * c.action,
        );
        let critic_vs = VarStore::new(device);
        let q_in = c.state + c.weights + c.action;
        let hidden = [c.critic_hidden, c.critic_hidden];
        let mut critics = StackedMlp::new(&(critic_vs.root() / "q"), 2 * n, q_in, &hidden, 1);
        for (i, init) in inits.iter_mut().enumerate() {
            let i = i as i64;
            actor_in.draw(i, init);
            actor_trunk.draw(i, init);
            critics.draw(2 * i, init);
            critics.draw(2 * i + 1, init);
        }
        let mut target_vs = VarStore::new(device);
        let targets = StackedMlp::new(&(target_vs.root() / "q"), 2 * n, q_in, &hidden, 1);
        target_vs.copy(&critic_vs).expect("same layout");
        target_vs.freeze();
        let alpha_vs = VarStore::new(device);
        let log_alpha =
            alpha_vs
                .root()
                .var("log_alpha", &[n, 1], nn::Init::Const(c.initial_alpha.ln()));
        let actor_opt = Adam::new(&actor_vs, c.actor_lr);
        let critic_opt = Adam::new(&critic_vs, c.critic_lr);
        let alpha_opt = Adam::new(&alpha_vs, c.alpha_lr);
        SacStack {
            config,
            agents: n,
            device,
            actor_vs,
            actor_in,
            film,
            actor_trunk,
            critic_vs,
            critics,
            target_vs,
            targets,
            alpha_vs,
            log_alpha,
            actor_opt,
            critic_opt,
            alpha_opt,
            target_entropy: -(c.action as f64),
        }
    }

    /// Zeroes every actor's output layer: each then proposes `u = 0` deterministically (through
    /// MARLIN's softmax, an even split over the datacenters that host a class) and explores with
    /// unit spread, until it learns.
    pub fn zero_actor_output(&mut self) {
        self.actor_trunk.zero_output();
    }

    /// A variable group's store and optimiser (the targets have none).
    fn group(&self, group: &str) -> (&VarStore, Option<&Adam>) {
        match group {
            "actor" => (&self.actor_vs, Some(&self.actor_opt)),
            "critic" => (&self.critic_vs, Some(&self.critic_opt)),
            "target" => (&self.target_vs, None),
            _ => (&self.alpha_vs, Some(&self.alpha_opt)),
        }
    }

    /// The optimiser of group `k` of [`GROUPS`].
    fn group_opt_mut(&mut self, k: usize) -> Option<&mut Adam> {
        match k {
            0 => Some(&mut self.actor_opt),
            1 => Some(&mut self.critic_opt),
            2 => None,
            _ => Some(&mut self.alpha_opt),
        }
    }

    /// Agents in the stack.
    pub fn agents(&self) -> usize {
        self.agents as usize
    }

    /// The device of the variables.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Updates each agent has taken.
    pub fn updates(&self) -> i64 {
        self.critic_opt.steps()
    }

    /// Mean and log-std of the pre-squash Gaussians, `[n, B, action]` each.
    fn actor_head(&self, state: &Tensor, weights: &Tensor, z: &Tensor) -> (Tensor, Tensor) {
        let x = match &self.film {
            Some(_) => Tensor::cat(&[state, weights], 2),
            None => Tensor::cat(&[state, weights, z], 2),
        };
        let mut h = self.actor_in.forward(&x);
        if let Some(f) = &self.film {
            h = f.forward(&h, z);
        }
        let out = self.actor_trunk.forward(&h.relu());
        let parts = out.chunk(2, 2);
        let log_std = parts[1].clamp(LOG_STD_MIN, LOG_STD_MAX);
        (parts[0].shallow_clone(), log_std)
    }

    /// A reparameterised sample `u = tanh(mean + std * eps)` per agent (`[n, B, action]`) and
    /// its log-probability (`[n, B]`), agent `i`'s `eps` drawn from `rngs[i]` (so sampling does
    /// not touch libtorch's global generator, and an agent's noise does not depend on the
    /// others').
    pub fn sample(
        &self,
        state: &Tensor,
        weights: &Tensor,
        z: &Tensor,
        rngs: &mut [ChaCha8Rng],
    ) -> (Tensor, Tensor) {
        let (mean, log_std) = self.actor_head(state, weights, z);
        let per_agent = mean.numel() / self.agents();
        let eps: Vec<f32> = rngs
            .iter_mut()
            .flat_map(|rng| {
                (0..per_agent)
                    .map(|_| rng.sample::<f32, _>(StandardNormal))
                    .collect::<Vec<_>>()
            })
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

    /// The deterministic actions `tanh(mean)`, `[n, B, action]`.
    pub fn act_deterministic(&self, state: &Tensor, weights: &Tensor, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.actor_head(state, weights, z).0.tanh())
    }

    /// min(Q1, Q2) of `net` (the critics or their targets) at `x` (`[n, B, in]`): `[n, B]`.
    fn twin_min(&self, net: &StackedMlp, x: &Tensor) -> Tensor {
        let q = self.twins(net, x);
        q.select(1, 0).minimum(&q.select(1, 1))
    }

    /// Both critics of every agent at `x` (`[n, B, in]`): `[n, 2, B]`.
    fn twins(&self, net: &StackedMlp, x: &Tensor) -> Tensor {
        let size = x.size();
        let (n, b, width) = (size[0], size[1], size[2]);
        let doubled = x
            .unsqueeze(1)
            .expand([n, 2, b, width], false)
            .reshape([2 * n, b, width]);
        net.forward(&doubled).view([n, 2, b])
    }

    /// Each agent's min(Q1, Q2) of `[state, weights, plan]` (the plan as fractions,
    /// `[n, B, action]`): `[n, B]`.
    pub fn q(&self, state: &Tensor, weights: &Tensor, plan: &Tensor) -> Tensor {
        self.twin_min(&self.critics, &Tensor::cat(&[state, weights, plan], 2))
    }

    /// One update of every agent's critics, actor and temperature; `to_plan` maps actions to the
    /// fractions the critics see, row by row (it is given `[n * B, action]`). Agent `i`'s noise
    /// comes from `rngs[i]`. Returns each agent's losses.
    pub fn update(
        &mut self,
        b: &Batch,
        to_plan: &dyn Fn(&Tensor) -> Tensor,
        rngs: &mut [ChaCha8Rng],
    ) -> Vec<SacLosses> {
        let c = self.config;
        let plan = |u: &Tensor| {
            let size = u.size();
            to_plan(&u.reshape([size[0] * size[1], size[2]])).view(size.as_slice())
        };
        let alpha = self.log_alpha.exp().detach();
        let target: Tensor = tch::no_grad(|| {
            let (u2, logp2) = self.sample(&b.next_state, &b.weights, &b.next_conditioning, rngs);
            let x2 = Tensor::cat(&[&b.next_state, &b.weights, &plan(&u2)], 2);
            let q_next = self.twin_min(&self.targets, &x2) - &alpha * logp2;
            &b.reward + (1.0 - &b.done) * c.gamma * q_next
        });
        let x = Tensor::cat(&[&b.state, &b.weights, &plan(&b.action)], 2);
        let critic_losses = (self.twins(&self.critics, &x) - target.unsqueeze(1))
            .square()
            .mean_dim(2, false, Kind::Float)
            .sum_dim_intlist(1, false, Kind::Float);
        self.critic_opt.zero_grad();
        critic_losses.sum(Kind::Float).backward();
        self.critic_opt.step();

        // The actor's loss reaches the actor through the critics, whose weights it does not
        // change: frozen for the pass, their weight gradients are not computed at all.
        self.critic_vs.freeze();
        let (u, logp) = self.sample(&b.state, &b.weights, &b.conditioning, rngs);
        let q = self.q(&b.state, &b.weights, &plan(&u));
        let actor_losses = (&alpha * &logp - q).mean_dim(1, false, Kind::Float);
        self.actor_opt.zero_grad();
        actor_losses.sum(Kind::Float).backward();
        self.actor_opt.step();
        self.critic_vs.unfreeze();

        let alpha_losses = -(&self.log_alpha * (logp.detach() + self.target_entropy)).mean_dim(
            1,
            false,
            Kind::Float,
        );
        self.alpha_opt.zero_grad();
        alpha_losses.sum(Kind::Float).backward();
        self.alpha_opt.step();

        tch::no_grad(|| {
            let source = self.critic_vs.variables();
            for (name, mut t) in self.target_vs.variables() {
                let s = &source[&name];
                let _ = t.lerp_(s, c.tau);
            }
        });
        let values = |t: &Tensor| -> Vec<f64> {
            Vec::try_from(t.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap_or_default()
        };
        let (critic, actor, alpha) = (
            values(&critic_losses),
            values(&actor_losses),
            values(&alpha_losses),
        );
        (0..self.agents())
            .map(|i| SacLosses {
                critic: critic[i],
                actor: actor[i],
                alpha: alpha[i],
            })
            .collect()
    }

    /// Each agent's entropy temperature.
    pub fn alpha(&self) -> Vec<f64> {
        Vec::try_from(
            self.log_alpha
                .exp()
                .flatten(0, -1)
                .to_kind(Kind::Double)
                .to_device(Device::Cpu),
        )
        .unwrap_or_default()
    }
}

/// How the agents of [`SacAgents`] run. Both ways give the same numbers (a test compares them to
/// the last bit on the CPU); they differ in speed only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Execution {
    /// Batched on CUDA, one at a time on the CPU (where batched matrix products of these sizes
    /// ran slower than one agent after another on one thread: `cargo bench --bench sac`).
    #[default]
    Auto,
    /// One [`SacStack`] of every agent: one step for all.
    Batched,
    /// A stack of one per agent, stepped in turn.
    OneAtATime,
}

impl Execution {
    /// `Batched` or `OneAtATime` on `device`.
    pub fn resolve(self, device: Device) -> Execution {
        match self {
            Execution::Auto if device.is_cuda() => Execution::Batched,
            Execution::Auto => Execution::OneAtATime,
            chosen => chosen,
        }
    }
}

/// SAC agents run by an [`Execution`]: one stack of all, or one stack per agent. Every method
/// takes and gives tensors with the agent axis first, as [`SacStack`]'s do, and a checkpoint's
/// tensors are the same either way (each variable of all agents, stacked in agent order).
#[derive(Debug)]
pub struct SacAgents {
    stacks: Vec<SacStack>,
}

/// The variable groups of a stack, by checkpoint name.
const GROUPS: [&str; 4] = ["actor", "critic", "target", "alpha"];

impl SacAgents {
    /// One agent per stream of `inits` (each drawn from its own stream, as [`SacStack::new`]).
    pub fn new(
        config: SacConfig,
        device: Device,
        inits: &mut [ChaCha8Rng],
        execution: Execution,
    ) -> Self {
        let stacks = match execution.resolve(device) {
            Execution::Batched => vec![SacStack::new(config, device, inits)],
            _ => inits
                .chunks_mut(1)
                .map(|init| SacStack::new(config, device, init))
                .collect(),
        };
        SacAgents { stacks }
    }

    /// Each stack with the first agent it holds.
    fn parts(&self) -> impl Iterator<Item = (i64, &SacStack)> {
        self.stacks.iter().scan(0i64, |start, s| {
            let at = *start;
            *start += s.agents;
            Some((at, s))
        })
    }

    /// Each stack's result of `f` on its agents' slice, concatenated along the agent axis.
    fn gather(&self, f: impl Fn(&SacStack, &dyn Fn(&Tensor) -> Tensor) -> Tensor) -> Tensor {
        if let [one] = self.stacks.as_slice() {
            return f(one, &|t: &Tensor| t.shallow_clone());
        }
        let parts: Vec<Tensor> = self
            .parts()
            .map(|(at, s)| f(s, &|t: &Tensor| t.narrow(0, at, s.agents)))
            .collect();
        Tensor::cat(&parts, 0)
    }

    /// Agents.
    pub fn agents(&self) -> usize {
        self.stacks.iter().map(SacStack::agents).sum()
    }

    /// Updates each agent has taken.
    pub fn updates(&self) -> i64 {
        self.stacks[0].updates()
    }

    /// See [`SacStack::zero_actor_output`].
    pub fn zero_actor_output(&mut self) {
        for s in &mut self.stacks {
            s.zero_actor_output();
        }
    }

    /// See [`SacStack::sample`].
    pub fn sample(
        &self,
        state: &Tensor,
        weights: &Tensor,
        z: &Tensor,
        rngs: &mut [ChaCha8Rng],
    ) -> (Tensor, Tensor) {
        let mut actions = Vec::with_capacity(self.stacks.len());
        let mut log_probs = Vec::with_capacity(self.stacks.len());
        for (at, s) in self.parts() {
            let part = |t: &Tensor| t.narrow(0, at, s.agents);
            let range = at as usize..(at + s.agents) as usize;
            let (u, lp) = s.sample(&part(state), &part(weights), &part(z), &mut rngs[range]);
            actions.push(u);
            log_probs.push(lp);
        }
        (Tensor::cat(&actions, 0), Tensor::cat(&log_probs, 0))
    }

    /// See [`SacStack::act_deterministic`].
    pub fn act_deterministic(&self, state: &Tensor, weights: &Tensor, z: &Tensor) -> Tensor {
        self.gather(|s, part| s.act_deterministic(&part(state), &part(weights), &part(z)))
    }

    /// See [`SacStack::q`].
    pub fn q(&self, state: &Tensor, weights: &Tensor, plan: &Tensor) -> Tensor {
        self.gather(|s, part| s.q(&part(state), &part(weights), &part(plan)))
    }

    /// See [`SacStack::update`].
    pub fn update(
        &mut self,
        b: &Batch,
        to_plan: &dyn Fn(&Tensor) -> Tensor,
        rngs: &mut [ChaCha8Rng],
    ) -> Vec<SacLosses> {
        let mut at = 0;
        let mut out = Vec::with_capacity(rngs.len());
        for s in &mut self.stacks {
            let n = s.agents;
            let range = at as usize..(at + n) as usize;
            out.extend(s.update(&b.narrow(at, n), to_plan, &mut rngs[range]));
            at += n;
        }
        out
    }

    /// Each agent's entropy temperature.
    pub fn alpha(&self) -> Vec<f64> {
        self.stacks.iter().flat_map(SacStack::alpha).collect()
    }

    /// Adam steps of the actors', critics' and temperatures' optimisers.
    pub fn adam_steps(&self) -> [i64; 3] {
        let s = &self.stacks[0];
        [
            s.actor_opt.steps(),
            s.critic_opt.steps(),
            s.alpha_opt.steps(),
        ]
    }

    /// Every variable and optimiser moment of every agent, named `<group>.<variable>` and
    /// `<group>.adam.m.<variable>` (groups `actor`, `critic`, `target`, `alpha`), each stacked in
    /// agent order whatever the execution: the checkpoint's form.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let named = |s: &SacStack, group: &str| -> Vec<(String, Tensor)> {
            let (vs, opt) = s.group(group);
            let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
            if let Some(opt) = opt {
                v.extend(opt.state_tensors());
            }
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let mut out = Vec::new();
        for group in GROUPS {
            let per_stack: Vec<Vec<(String, Tensor)>> =
                self.stacks.iter().map(|s| named(s, group)).collect();
            for (k, (name, _)) in per_stack[0].iter().enumerate() {
                let parts: Vec<&Tensor> = per_stack.iter().map(|v| &v[k].1).collect();
                out.push((format!("{group}.{name}"), Tensor::cat(&parts, 0)));
            }
        }
        out
    }

    /// Restores what [`tensors`](Self::tensors) gave (found in `tensors` under its names) and the
    /// optimisers' steps, checking shapes.
    pub fn restore(&mut self, tensors: &TensorsIn, adam_steps: [i64; 3]) -> Result<(), AgentError> {
        let total = self.agents() as i64;
        let mut at = 0;
        for s in &mut self.stacks {
            let n = s.agents;
            // Each saved tensor holds `rows` rows per agent (two for the twin critics).
            let mine = tensors.mapped(|_, t| {
                let rows = t.size().first().copied().unwrap_or(0) / total.max(1);
                t.narrow(0, at * rows, n * rows)
            });
            for (k, group) in GROUPS.into_iter().enumerate() {
                let (vs, _) = s.group(group);
                mine.restore_vars(vs, group)?;
                let step = match group {
                    "actor" => Some(adam_steps[0]),
                    "critic" => Some(adam_steps[1]),
                    "alpha" => Some(adam_steps[2]),
                    _ => None,
                };
                if let (Some(step), Some(opt)) = (step, s.group_opt_mut(k)) {
                    opt.restore(&mine.under(group), step)?;
                }
            }
            at += n;
        }
        Ok(())
    }
}
