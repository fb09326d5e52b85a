//! One interface for every method: an [`Allocator`] turns a [`Problem`] (a checked scenario and
//! the simulator settings the caller chose) into plans.
//!
//! Every method implements it: the simple [`rules`], the eight frameworks of MARLIN's comparison,
//! Green-LLM, the exact reference, and the learned methods once trained (a learner is fitted
//! first with [`Fit`], then its trained policy allocates, as linfa's `Fit` turns parameters into
//! a model).
//! Methods return plans, never their own scores: the caller scores every plan with the one
//! simulator it configured. A method that needs the simulator inside its loop (a search, an RL
//! agent's reward) builds it from the problem ([`Problem::fluid`]), so the caller's
//! [`SimParams`] are the only simulator settings anywhere.
//!
//! ```
//! use verdant::allocator::{Allocator, Problem, rules::Even};
//! use verdant::scenario::bundled;
//! use verdant::sim::SimParams;
//!
//! let scenario = bundled("geo-4dc").unwrap();
//! let problem = Problem::new(&scenario, SimParams::default());
//! let plan = Even.allocate(&problem).unwrap();
//! let objectives = problem.fluid().score(&plan).unwrap().objectives();
//! assert!(objectives.carbon_kg > 0.0);
//! ```

pub mod feasibility;
pub mod rules;

use std::error::Error as StdError;
use std::path::Path;

use crate::scenario::Scenario;
use crate::sim::des::DiscreteEventSimulator;
use crate::sim::fluid::FluidSimulator;
use crate::sim::{FractionPlan, PlanError, SimParams};

/// What every method is given: the world and the simulator settings of this comparison, and
/// the days a method that learns may learn from.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// The checked world: the days every plan is for and scored on.
    pub scenario: &'a Scenario,
    /// The simulator settings the caller decided; methods that simulate use these.
    pub sim: SimParams,
    training: Option<&'a Scenario>,
}

impl<'a> Problem<'a> {
    /// The problem of `scenario` under the simulator settings `sim`; a method that learns
    /// learns on `scenario` itself.
    pub fn new(scenario: &'a Scenario, sim: SimParams) -> Self {
        Problem {
            scenario,
            sim,
            training: None,
        }
    }

    /// The same problem whose learning methods learn on `training` (a scenario's training days,
    /// where `scenario` is its held-out days) and then act on `scenario`.
    pub fn with_training(self, training: &'a Scenario) -> Self {
        Problem {
            training: Some(training),
            ..self
        }
    }

    /// The problem a method that learns learns on: the training days, or the problem itself.
    pub fn training(&self) -> Problem<'a> {
        Problem::new(self.training.unwrap_or(self.scenario), self.sim)
    }

    /// A fluid simulator of the scenario with the problem's settings.
    pub fn fluid(&self) -> FluidSimulator<'a> {
        FluidSimulator::new(self.scenario, self.sim)
    }

    /// A discrete-event simulator of the scenario with the problem's settings.
    pub fn discrete_event(&self) -> DiscreteEventSimulator<'a> {
        DiscreteEventSimulator::new(self.scenario, self.sim)
    }

    /// Whether some plan can serve the problem's world ([`feasibility::check`]): called before
    /// any method allocates, so that every method reports an infeasible world the same way.
    pub fn feasible(&self) -> Result<(), AllocError> {
        feasibility::check(self.scenario).map_err(AllocError::Infeasible)
    }
}

/// One plan a method offers, with what it is within the method (`consensus`, `min-carbon`,
/// `lattice-7`, `plan`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// What the plan is within its method.
    pub source: String,
    /// The plan.
    pub plan: FractionPlan,
    /// The plan stands for its method in per-method tables (exactly one per call of
    /// [`Allocator::allocate_front`]).
    pub representative: bool,
}

impl Proposal {
    /// A method's only plan, labelled `plan`.
    pub fn single(plan: FractionPlan) -> Self {
        Proposal {
            source: "plan".to_owned(),
            plan,
            representative: true,
        }
    }
}

/// Why a method produced no plan. The cause is kept as a source error, never flattened.
#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    /// A plan did not fit the scenario.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The method does not apply to this scenario (for example the reference LP on a scenario
    /// with on-site renewables).
    #[error("{method} does not apply to scenario {scenario}: {reason}")]
    NotApplicable {
        /// The method.
        method: String,
        /// The scenario's name.
        scenario: String,
        /// What the scenario lacks or has.
        reason: String,
    },
    /// No plan can serve the world: the constraint and the scenario field (every method
    /// reports it alike).
    #[error(transparent)]
    Infeasible(#[from] feasibility::Infeasible),
    /// The method's own machinery failed (a solver, a learning library).
    #[error("{method}: {source}")]
    Method {
        /// The method.
        method: String,
        /// The error of its solver, learning library or file.
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },
}

impl AllocError {
    /// The method `method` failed with `source`.
    pub fn method(method: &str, source: impl StdError + Send + Sync + 'static) -> Self {
        AllocError::Method {
            method: method.to_owned(),
            source: Box::new(source),
        }
    }
}

/// Where a training run keeps its work and how it reports progress.
pub struct FitSession<'s> {
    /// Checkpoints go here, if set.
    pub checkpoint_dir: Option<&'s Path>,
    /// Continue from the checkpoint in `checkpoint_dir` where there is one.
    pub resume: bool,
    /// Called with each amount of training work done (the method's unit: MARLIN's epochs), the
    /// work a resumed checkpoint had done included.
    pub progress: &'s mut dyn FnMut(u64),
}

/// A learned method before training (linfa's `Fit`): fitting it on a problem gives its trained
/// policy, which is an [`Allocator`] like every other method.
pub trait Fit {
    /// The trained policy.
    type Policy: Allocator;
    /// Trains on `problem` (its simulator settings for every reward) and returns the policy.
    fn fit(self, problem: &Problem, session: &mut FitSession) -> Result<Self::Policy, AllocError>;
}

/// A method that produces plans for a problem.
pub trait Allocator {
    /// A short name for tables and file names.
    fn name(&self) -> &str;

    /// The method's plan for `problem`.
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError>;

    /// Every plan the method offers as trade-offs (a multi-objective method's front), exactly
    /// one of them marked representative; by default the one plan of [`Allocator::allocate`].
    fn allocate_front(&mut self, problem: &Problem) -> Result<Vec<Proposal>, AllocError> {
        Ok(vec![Proposal::single(self.allocate(problem)?)])
    }
}
