//! PerLLM-style constraint satisfaction with an upper-confidence-bound choice.
//!
//! Kept: PerLLM's scheduler treats datacenters as arms of a bandit, picks by an upper confidence
//! bound on their observed reward, and only among choices that satisfy the constraints (here:
//! capacity at the utilisation cap, and the model being hosted). Simplified: arms are
//! (class, datacenter) with rewards from the fluid simulator's per-epoch score (the negative
//! weighted objectives over the even split's in the same epoch), datacenters are filled in UCB order up to
//! capacity, learning runs over `days - 1` passes of the training days and the last pass, still
//! learning, over the problem's own days is the plan.

use verdant::allocator::rules::{even_split_by_epoch, Even};
use verdant::allocator::{AllocError, Allocator, Problem};
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{FractionPlan, Outcome};

#[derive(Debug, Clone, Copy, PartialEq)]
/// PerLLM-style UCB's settings.
pub struct PerLlmParams {
    /// Passes in all: `days - 1` over the training days, the last over the scored days.
    pub days: usize,
    /// UCB exploration constant.
    pub exploration: f64,
    /// Weight of each objective in the reward (TTFT, carbon, water, cost).
    pub weights: [f64; 4],
    /// Utilisation cap of every datacenter.
    pub utilisation_cap: f64,
}

impl Default for PerLlmParams {
    fn default() -> Self {
        PerLlmParams {
            days: 5,
            exploration: 0.5,
            weights: [0.25; 4],
            utilisation_cap: 0.95,
        }
    }
}

#[derive(Debug, Clone)]
/// PerLLM-style constraint satisfaction with an upper confidence bound.
pub struct PerLlm {
    /// The settings.
    pub params: PerLlmParams,
}

impl Allocator for PerLlm {
    fn name(&self) -> &str {
        "perllm"
    }

    /// `days` passes in all: the first `days - 1` over the problem's training days
    /// ([`Problem::training`]: the problem itself where it names none), the last, still
    /// learning online, over the problem's own days, which is the plan (a bandit only reads
    /// rewards already seen).
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let training = problem.training();
        let mut arms = Arms::new(training.scenario, self.params.utilisation_cap);
        for _ in 1..self.params.days.max(1) {
            arms.pass(&training, &self.params)?;
        }
        Ok(arms.pass(problem, &self.params)?)
    }
}

/// The bandit's statistics per (class, datacenter) arm.
struct Arms {
    count: Vec<f64>,
    mean: Vec<f64>,
    t: f64,
}

impl Arms {
    fn new(scenario: &verdant::scenario::Scenario, cap: f64) -> Self {
        let planner = EpochPlanner::new(scenario, cap);
        let arms = planner.classes * planner.datacenters;
        Arms {
            count: vec![0.0; arms],
            mean: vec![0.0; arms],
            t: 0.0,
        }
    }

    /// One pass over `problem`'s epochs, choosing and learning; returns the pass's plan.
    fn pass(
        &mut self,
        problem: &Problem,
        p: &PerLlmParams,
    ) -> Result<FractionPlan, verdant::sim::PlanError> {
        let s = problem.scenario;
        let planner = EpochPlanner::new(s, p.utilisation_cap);
        // Each epoch's objectives under the even split: the scale of that epoch's reward.
        let reference = even_split_by_epoch(problem, 1e-12)?;
        let mut sim = problem.fluid();
        let mut out = Outcome::default();
        let (nc, nd) = (planner.classes, planner.datacenters);
        let mut plan = Even.plan(s)?;
        let Arms { count, mean, t } = self;
        for e in 0..planner.epochs {
            *t += 1.0;
            let volumes: Vec<f64> = planner.volumes.iter().map(|v| v[e]).collect();
            let mut f = vec![0.0; nc * nd];
            for c in 0..nc {
                let ucb = |d: usize| {
                    let k = c * nd + d;
                    if count[k] == 0.0 {
                        f64::INFINITY
                    } else {
                        mean[k] + p.exploration * (t.ln() / count[k]).sqrt()
                    }
                };
                let mut order: Vec<usize> = (0..nd).filter(|&d| planner.hosts(c, d)).collect();
                order.sort_by(|&a, &b| ucb(b).total_cmp(&ucb(a)).then(a.cmp(&b)));
                // Fill this class alone in UCB order (constraints: capacity at the cap).
                let mut only = vec![0.0; nc];
                only[c] = volumes[c];
                let filled = planner.greedy_fill(e, &order, &only);
                f[c * nd..(c + 1) * nd].copy_from_slice(&filled[c * nd..(c + 1) * nd]);
            }
            planner.project(e, &mut f, &volumes);
            planner.write_epoch(&mut plan, e, &f)?;
            let o = sim.score_epoch(&plan, e, &mut out)?;
            // The epoch's reward, against the even split's score of the same epoch.
            let v = o.compared();
            let reward: f64 = -(0..4)
                .map(|k| p.weights[k] * v[k] / reference[e][k])
                .sum::<f64>();
            for (k, &share) in f.iter().enumerate() {
                if share > 0.0 {
                    count[k] += share;
                    mean[k] += share * (reward - mean[k]) / count[k];
                }
            }
        }
        Ok(plan)
    }
}
