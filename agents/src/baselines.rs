//! The learning frameworks MARLIN is compared with: tabular Q-learning, Double DQN and a one-step
//! actor-critic, each an [`Allocator`] over a geo scenario.
//!
//! Kept from each: its learning rule (Watkins' Q-learning over a discretised state; Double DQN's
//! online/target split of action choice and evaluation with a replay buffer; the advantage
//! actor-critic's policy gradient with a learned value baseline). Simplified, as in MARLIN's own
//! comparison: one agent decides each epoch's routing as a discrete joint action, one datacenter
//! per request class (then projected onto capacity, the core's `EpochPlanner`), rewarded by the
//! fluid simulator's score of the epoch (negative equally weighted objectives over the even
//! split's); training runs `days` passes over the problem's training days
//! ([`Problem::training`]: the problem itself where it names none) and the greedy policy's pass
//! over the problem's own days is the plan. States are MARLIN's (grid signals per datacenter,
//! demand, time of day), scaled as on the training days.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{Module, VarStore};
use tch::{Device, Kind, Tensor};
use verdant::allocator::rules::Even;
use verdant::allocator::{AllocError, Allocator, Problem};
use verdant::seed::MasterSeed;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::{FractionPlan, Outcome, PlanError};

use crate::adam::Adam;
use crate::argmax;
use crate::mlp::Mlp;
use verdant::geo::{GeoWorld, Scales};

/// The epoch-routing task the three learners share.
struct Task<'a> {
    world: GeoWorld<'a>,
    sim: FluidSimulator<'a>,
    out: Outcome,
    plan: FractionPlan,
    actions: usize,
}

impl<'a> Task<'a> {
    /// The task of `problem`'s days, its states scaled by `scales` (or by its own maxima).
    fn new(problem: &Problem<'a>, scales: Option<Scales>) -> Result<Self, PlanError> {
        let world = GeoWorld::new(problem, 0.95, 1.0, scales)?;
        let actions = world.datacenters.pow(world.classes as u32);
        Ok(Task {
            sim: problem.fluid(),
            out: Outcome::default(),
            plan: Even.plan(problem.scenario)?,
            world,
            actions,
        })
    }

    fn state(&self, e: usize) -> Vec<f32> {
        let volumes: Vec<f64> = self.world.planner.volumes.iter().map(|v| v[e]).collect();
        self.world.state(e, &volumes)
    }

    /// Routes epoch `e` by joint action `a` (digit c in base `datacenters` is class c's choice)
    /// and returns the reward.
    fn step(&mut self, e: usize, a: usize) -> Result<f64, PlanError> {
        let p = &self.world.planner;
        let nd = p.datacenters;
        let choice: Vec<usize> = (0..p.classes)
            .map(|c| {
                let d = (a / nd.pow(c as u32)) % nd;
                if p.hosts(c, d) {
                    d
                } else {
                    (0..nd).find(|&k| p.hosts(c, k)).unwrap_or(0)
                }
            })
            .collect();
        let mut f = p.one_hot(&choice);
        let volumes: Vec<f64> = p.volumes.iter().map(|v| v[e]).collect();
        p.project(e, &mut f, &volumes);
        p.write_epoch(&mut self.plan, e, &f)?;
        let o = self
            .sim
            .score_epoch(&self.plan, e, &mut self.out)?
            .compared();
        let r = self.world.reference[e];
        Ok(-(0..4).map(|k| 0.25 * o[k] / r[k]).sum::<f64>())
    }
}

/// The learning task on `problem`'s training days and the acting task on its own days (scaled
/// as the training days).
fn tasks<'a>(problem: &Problem<'a>) -> Result<(Task<'a>, Task<'a>), PlanError> {
    let learn = Task::new(&problem.training(), None)?;
    let act = Task::new(problem, Some(learn.world.scales))?;
    Ok((learn, act))
}

fn one_pass() -> usize {
    1
}

/// Q-learning's settings (`[methods.q-learning]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QLearningParams {
    /// Training passes over the training days: not a config key but set by the comparing
    /// command from the one budget rule (as many environment steps as MARLIN, decision 0011).
    #[serde(skip_deserializing, default = "one_pass")]
    pub days: usize,
    /// Step size of the Q update.
    pub learning_rate: f64,
    /// Discount factor.
    pub gamma: f64,
}

/// Tabular Q-learning over (hour of the day, UTC; demand tercile).
#[derive(Debug, Clone)]
pub struct QLearning {
    /// The settings.
    pub params: QLearningParams,
    /// Seed of the exploration stream.
    pub seed: MasterSeed,
}

impl Allocator for QLearning {
    fn name(&self) -> &str {
        "q-learning"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let (mut task, mut act) = tasks(problem)?;
        let ne = task.world.epochs;
        // Demand terciles of the training days.
        let total = task.world.scenario.demand.requests_per_epoch();
        let mut sorted = total.clone();
        sorted.sort_by(f64::total_cmp);
        let (t1, t2) = (sorted[ne / 3], sorted[2 * ne / 3]);
        let key = |task: &Task, totals: &[f64], e: usize| {
            let tercile = if totals[e] < t1 {
                0
            } else if totals[e] < t2 {
                1
            } else {
                2
            };
            task.world.scenario.time.hour_of_day(e) * 3 + tercile
        };
        let a_n = task.actions;
        let mut q = vec![0.0f64; 24 * 3 * a_n];
        let mut rng: ChaCha8Rng = self.seed.rng("baseline.q-learning");
        let days = self.params.days.max(1);
        for day in 0..days {
            let eps = (1.0 - day as f64 / days as f64).max(0.05);
            for e in 0..ne {
                let k = key(&task, &total, e);
                let row = &q[k * a_n..(k + 1) * a_n];
                let a = if rng.gen::<f64>() < eps {
                    rng.gen_range(0..a_n)
                } else {
                    argmax(row)
                };
                let r = task.step(e, a)?;
                let next = key(&task, &total, (e + 1) % ne);
                let best_next = q[next * a_n..(next + 1) * a_n]
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                let target = r + if e + 1 < ne {
                    self.params.gamma * best_next
                } else {
                    0.0
                };
                let cell = &mut q[k * a_n + a];
                *cell += self.params.learning_rate * (target - *cell);
            }
        }
        // The greedy policy on the problem's own days.
        let act_total = act.world.scenario.demand.requests_per_epoch();
        for e in 0..act.world.epochs {
            let k = key(&act, &act_total, e);
            act.step(e, argmax(&q[k * a_n..(k + 1) * a_n]))?;
        }
        Ok(act.plan)
    }
}

/// Double DQN's settings (`[methods.double-dqn]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleDqnParams {
    /// Training passes over the training days (set from the one budget rule, as
    /// [`QLearningParams::days`]).
    #[serde(skip_deserializing, default = "one_pass")]
    pub days: usize,
    /// Units per hidden layer (two layers).
    pub hidden: i64,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Transitions per update.
    pub batch: usize,
    /// Environment steps between target-network syncs.
    pub target_every: usize,
}

/// Double DQN: the online network picks the next action, the target network values it.
#[derive(Debug, Clone)]
pub struct DoubleDqn {
    /// The settings.
    pub params: DoubleDqnParams,
    /// Seed of initialisation and exploration.
    pub seed: MasterSeed,
}

impl Allocator for DoubleDqn {
    fn name(&self) -> &str {
        "double-dqn"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let (mut task, mut act) = tasks(problem)?;
        let ne = task.world.epochs;
        let dim = task.world.state_len() as i64;
        let a_n = task.actions;
        let mut init = self.seed.rng("baseline.double-dqn.init");
        let mut rng = self.seed.rng("baseline.double-dqn");
        let vs = VarStore::new(Device::Cpu);
        let mut online = Mlp::new(
            &vs.root(),
            dim,
            &[self.params.hidden, self.params.hidden],
            a_n as i64,
        );
        online.reinitialise(&mut init);
        let mut tvs = VarStore::new(Device::Cpu);
        let target = Mlp::new(
            &tvs.root(),
            dim,
            &[self.params.hidden, self.params.hidden],
            a_n as i64,
        );
        tvs.copy(&vs)
            .map_err(|e| AllocError::method("double-dqn", e))?;
        let mut adam = Adam::new(&vs, self.params.learning_rate);
        let states: Vec<Vec<f32>> = (0..ne).map(|e| task.state(e)).collect();
        let mut replay: Vec<(usize, usize, f32)> = Vec::new();
        let mut steps = 0usize;
        let greedy_action = |state: &[f32]| {
            let x = Tensor::from_slice(state).view([1, dim]);
            let q: Vec<f32> =
                Vec::try_from(tch::no_grad(|| online.forward(&x)).view([-1])).unwrap_or_default();
            argmax(&q)
        };
        let days = self.params.days.max(1);
        for day in 0..days {
            let eps = (1.0 - day as f64 / days as f64).max(0.05);
            for e in 0..ne {
                let a = if rng.gen::<f64>() < eps {
                    rng.gen_range(0..a_n)
                } else {
                    greedy_action(&states[e])
                };
                let r = task.step(e, a)?;
                replay.push((e, a, r as f32));
                steps += 1;
                if replay.len() >= self.params.batch {
                    let picks: Vec<(usize, usize, f32)> = (0..self.params.batch)
                        .map(|_| replay[rng.gen_range(0..replay.len())])
                        .collect();
                    let rows = |f: &dyn Fn(usize) -> usize| {
                        let flat: Vec<f32> = picks
                            .iter()
                            .flat_map(|p| states[f(p.0)].iter().copied())
                            .collect();
                        Tensor::from_slice(&flat).view([picks.len() as i64, dim])
                    };
                    let x = rows(&|e| e);
                    let x2 = rows(&|e| (e + 1) % ne);
                    let acts =
                        Tensor::from_slice(&picks.iter().map(|p| p.1 as i64).collect::<Vec<_>>());
                    let rew = Tensor::from_slice(&picks.iter().map(|p| p.2).collect::<Vec<_>>());
                    let not_last = Tensor::from_slice(
                        &picks
                            .iter()
                            .map(|p| if p.0 + 1 < ne { 1.0f32 } else { 0.0 })
                            .collect::<Vec<_>>(),
                    );
                    let y = tch::no_grad(|| {
                        let next_a = online.forward(&x2).argmax(-1, true);
                        let next_q = target.forward(&x2).gather(1, &next_a, false).squeeze_dim(1);
                        rew + not_last * next_q * self.params.gamma
                    });
                    let q = online
                        .forward(&x)
                        .gather(1, &acts.unsqueeze(1), false)
                        .squeeze_dim(1);
                    let loss = q.smooth_l1_loss(&y, tch::Reduction::Mean, 1.0);
                    adam.zero_grad();
                    loss.backward();
                    adam.clip_grad_norm(10.0);
                    adam.step();
                }
                if steps % self.params.target_every == 0 {
                    tvs.copy(&vs)
                        .map_err(|e| AllocError::method("double-dqn", e))?;
                }
            }
        }
        // The greedy policy on the problem's own days.
        for e in 0..act.world.epochs {
            let a = greedy_action(&act.state(e));
            act.step(e, a)?;
        }
        Ok(act.plan)
    }
}

/// The actor-critic's settings (`[methods.actor-critic]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActorCriticParams {
    /// Training passes over the training days (set from the one budget rule, as
    /// [`QLearningParams::days`]).
    #[serde(skip_deserializing, default = "one_pass")]
    pub days: usize,
    /// Units per hidden layer (two layers).
    pub hidden: i64,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Discount factor.
    pub gamma: f64,
}

/// One-step advantage actor-critic with a softmax policy over joint actions.
#[derive(Debug, Clone)]
pub struct ActorCritic {
    /// The settings.
    pub params: ActorCriticParams,
    /// Seed of initialisation and action sampling.
    pub seed: MasterSeed,
}

impl Allocator for ActorCritic {
    fn name(&self) -> &str {
        "actor-critic"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let (mut task, mut act) = tasks(problem)?;
        let ne = task.world.epochs;
        let dim = task.world.state_len() as i64;
        let a_n = task.actions;
        let mut init = self.seed.rng("baseline.actor-critic.init");
        let mut rng = self.seed.rng("baseline.actor-critic");
        let vs = VarStore::new(Device::Cpu);
        let mut actor = Mlp::new(
            &(vs.root() / "actor"),
            dim,
            &[self.params.hidden],
            a_n as i64,
        );
        let mut critic = Mlp::new(&(vs.root() / "critic"), dim, &[self.params.hidden], 1);
        actor.reinitialise(&mut init);
        critic.reinitialise(&mut init);
        let mut adam = Adam::new(&vs, self.params.learning_rate);
        let states: Vec<Tensor> = (0..ne)
            .map(|e| Tensor::from_slice(&task.state(e)).view([1, dim]))
            .collect();
        let days = self.params.days.max(1);
        for _ in 0..days {
            for e in 0..ne {
                let logits = actor.forward(&states[e]);
                let probs: Vec<f32> =
                    Vec::try_from(logits.softmax(-1, Kind::Float).detach().view([-1]))
                        .unwrap_or_default();
                let u: f32 = rng.gen();
                let mut acc = 0.0;
                let a = probs
                    .iter()
                    .position(|p| {
                        acc += p;
                        u < acc
                    })
                    .unwrap_or(a_n - 1);
                let r = task.step(e, a)?;
                let v = critic.forward(&states[e]).view([-1]);
                let next_v = if e + 1 < ne {
                    tch::no_grad(|| critic.forward(&states[e + 1]).view([-1]))
                } else {
                    Tensor::zeros([1], (Kind::Float, Device::Cpu))
                };
                let target = next_v * self.params.gamma + r;
                let advantage = (&target - &v).detach();
                let logp = logits.log_softmax(-1, Kind::Float).view([-1]).get(a as i64);
                let loss =
                    -(logp * &advantage).sum(Kind::Float) + (target - v).square().sum(Kind::Float);
                adam.zero_grad();
                loss.backward();
                adam.clip_grad_norm(1.0);
                adam.step();
            }
        }
        // The greedy policy (the most probable action) on the problem's own days.
        for e in 0..act.world.epochs {
            let x = Tensor::from_slice(&act.state(e)).view([1, dim]);
            let logits: Vec<f32> =
                Vec::try_from(tch::no_grad(|| actor.forward(&x)).view([-1])).unwrap_or_default();
            act.step(e, argmax(&logits))?;
        }
        Ok(act.plan)
    }
}
