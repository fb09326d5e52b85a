//! A plan as a genome of hourly logits (hour x class x datacenter), mapped to per-epoch fractions
//! by a softmax over hosting datacenters and projected onto capacity; and the scalarisation that
//! the single-objective searches use.

use rand::Rng;
use rand_distr::StandardNormal;
use verdant::allocator::rules::Even;
use verdant::allocator::Problem;
use verdant::scenario::Scenario;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{FractionPlan, Objectives, Outcome, PlanError};

/// Maps genomes to plans and scores them with the fluid simulator.
pub struct Genome<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Capacity, volumes and the projection onto the utilisation cap.
    pub planner: EpochPlanner,
    sim: FluidSimulator<'a>,
    out: Outcome,
    /// Genes: hours x classes x datacenters.
    pub len: usize,
}

impl<'a> Genome<'a> {
    /// Genomes over `problem`'s scenario, scored with its simulator settings.
    pub fn new(problem: &Problem<'a>, utilisation_cap: f64) -> Self {
        let scenario = problem.scenario;
        let planner = EpochPlanner::new(scenario, utilisation_cap);
        let len = scenario.time.hours() * planner.decision_len();
        Genome {
            scenario,
            planner,
            sim: problem.fluid(),
            out: Outcome::default(),
            len,
        }
    }

    /// Member `k` of a starting population: member 0 is the capacity-proportional split (all
    /// logits 0), the others standard normal logits from `rng`.
    pub fn initial(&self, k: usize, rng: &mut impl Rng) -> Vec<f64> {
        (0..self.len)
            .map(|_| {
                if k == 0 {
                    0.0
                } else {
                    rng.sample::<f64, _>(StandardNormal)
                }
            })
            .collect()
    }

    /// The plan of `genes`: each epoch takes its hour's logits.
    pub fn plan(&self, genes: &[f64]) -> Result<FractionPlan, PlanError> {
        let k = self.planner.decision_len();
        let decisions: Vec<Vec<f64>> = (0..self.planner.epochs)
            .map(|e| {
                let h = self.scenario.time.hour_of_epoch(e);
                let mut f = self.planner.softmax_fractions(&genes[h * k..(h + 1) * k]);
                let volumes: Vec<f64> = self.planner.volumes.iter().map(|v| v[e]).collect();
                self.planner.project(e, &mut f, &volumes);
                f
            })
            .collect();
        self.planner.plan(self.scenario, &decisions)
    }

    /// The fluid objectives of `genes`.
    pub fn evaluate(&mut self, genes: &[f64]) -> Result<Objectives, PlanError> {
        let plan = self.plan(genes)?;
        self.sim.score_into(&plan, &mut self.out)?;
        Ok(self.out.objectives())
    }
}

/// `sum_k w_k o_k / ref_k` over (TTFT, carbon, water, cost), `ref` the even split's objectives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scalariser {
    /// Weight of each objective (TTFT, carbon, water, cost).
    pub weights: [f64; 4],
    /// The even split's objectives, the scale of each.
    pub reference: [f64; 4],
}

impl Scalariser {
    /// Weights over the even split of `problem`'s scenario.
    pub fn new(problem: &Problem, weights: [f64; 4]) -> Result<Self, PlanError> {
        let o = problem
            .fluid()
            .score(&Even.plan(problem.scenario)?)?
            .objectives();
        Ok(Scalariser {
            weights,
            reference: o.compared().map(|v| v.abs().max(1e-12)).into(),
        })
    }

    /// The scalarised value of `o` (lower is better).
    pub fn value(&self, o: &Objectives) -> f64 {
        let v = o.compared();
        (0..4)
            .map(|k| self.weights[k] * v[k] / self.reference[k])
            .sum()
    }
}
