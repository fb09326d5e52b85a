//! The solver-based methods as [`Allocator`]s: Green-LLM (its lexicographic plan, and its
//! epsilon-constraint front) and the exact reference front that every comparison measures
//! against.

use verdant::allocator::{AllocError, Allocator, Problem, Proposal};
use verdant::scenario::Scenario;
use verdant::sim::FractionPlan;

use crate::green_llm::{GreenLlmError, GreenLlmModel, GreenLlmSolution, Objective, Weights};
use crate::reference::ReferenceLp;
use crate::SolverOptions;

/// Green-LLM: the lexicographic plan (`order`, each stage within `(1 + eps)` of its optimum),
/// and as its front the epsilon-constraint front of a `front_grid` x `front_grid` lattice.
///
/// ```
/// use verdant::allocator::{Allocator, Problem};
/// use verdant::sim::SimParams;
/// use verdant_solvers::methods::GreenLlm;
/// use verdant_solvers::SolverOptions;
///
/// let scenario = verdant::scenario::bundled("green-llm-base").unwrap();
/// let problem = Problem::new(&scenario, SimParams::default());
/// // Cost, then carbon, then delay: a plan the simulator scores like any other.
/// let plan = GreenLlm::new(2, SolverOptions::default())
///     .allocate(&problem)
///     .unwrap();
/// let scored = problem.fluid().score(&plan).unwrap().objectives();
/// assert!(scored.cost_usd > 0.0);
/// ```
#[derive(Debug, Clone)]
pub struct GreenLlm {
    /// The order of the lexicographic stages.
    pub order: [Objective; 3],
    /// Each later stage keeps every earlier objective within `(1 + eps)` of its optimum ...
    pub eps: f64,
    /// ... plus this absolute slack (USD).
    pub absolute_slack: f64,
    /// The epsilon front's lattice is `front_grid` x `front_grid`.
    pub front_grid: usize,
    /// HiGHS options of every solve.
    pub solver: SolverOptions,
}

impl GreenLlm {
    /// Cost, then carbon, then delay, eps 0.001 (the paper's main order).
    pub fn new(front_grid: usize, solver: SolverOptions) -> Self {
        GreenLlm {
            order: Objective::ORDERS[0],
            eps: 0.001,
            absolute_slack: 1e-6,
            front_grid,
            solver,
        }
    }
}

/// Why Green-LLM's lexicographic sequence gave no plan.
#[derive(Debug, thiserror::Error)]
#[error("the lexicographic sequence stopped at stage {stage} ({objective:?}): {reason}")]
pub struct LexicographicStopped {
    /// The stage that failed (0-based).
    pub stage: usize,
    /// Its objective.
    pub objective: Objective,
    /// Why it failed.
    pub reason: String,
}

fn model<'a>(problem: &Problem<'a>) -> Result<GreenLlmModel<'a>, AllocError> {
    GreenLlmModel::new(problem.scenario).map_err(|e| match e {
        GreenLlmError::Scenario { scenario, what } => AllocError::NotApplicable {
            method: "green-llm".to_owned(),
            scenario,
            reason: what,
        },
        other => AllocError::method("green-llm", other),
    })
}

/// `first`, then each plan of Green-LLM's `front` as `<prefix>-k`, plan `representative` of the
/// front standing for the method (where `first` does not).
fn with_front(
    first: Proposal,
    prefix: &str,
    front: Vec<GreenLlmSolution>,
    representative: Option<usize>,
) -> Vec<Proposal> {
    let mut out = vec![first];
    out.extend(front.into_iter().enumerate().map(|(k, s)| Proposal {
        source: format!("{prefix}-{k}"),
        plan: s.plan,
        representative: representative == Some(k),
    }));
    out
}

impl Allocator for GreenLlm {
    fn name(&self) -> &str {
        "green-llm"
    }

    /// The lexicographic plan.
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let lex = model(problem)?.solve_lexicographic(
            self.order,
            self.eps,
            self.absolute_slack,
            &self.solver,
        );
        match lex.solution() {
            Some(sol) => Ok(sol.plan.clone()),
            None => {
                let stage = lex.stages.len().saturating_sub(1);
                let failed = lex.stages.last();
                Err(AllocError::method(
                    "green-llm",
                    LexicographicStopped {
                        stage,
                        objective: failed.map_or(self.order[0], |s| s.objective),
                        reason: failed
                            .and_then(|s| s.error.clone())
                            .unwrap_or_else(|| "no solution".to_owned()),
                    },
                ))
            }
        }
    }

    /// The lexicographic plan (`lexicographic`, representative), then the epsilon front
    /// (`front-k`).
    fn allocate_front(&mut self, problem: &Problem) -> Result<Vec<Proposal>, AllocError> {
        let lexicographic = self.allocate(problem)?;
        let front = model(problem)?
            .epsilon_front(self.front_grid, &self.solver)
            .map_err(|e| AllocError::method("green-llm", e))?;
        Ok(with_front(
            Proposal {
                source: "lexicographic".to_owned(),
                plan: lexicographic,
                representative: true,
            },
            "front",
            front,
            None,
        ))
    }
}

/// The exact front every comparison measures against: the reference LP's (the fluid accounting
/// as an LP) on scenarios without on-site renewables, and on a scenario with Green-LLM's terms
/// Green-LLM's own epsilon-constraint front (its LP is that scenario's accounting) with its
/// min-carbon plan.
#[derive(Debug, Clone)]
pub struct ExactFront {
    /// Utilisation cap of the reference LP.
    pub utilisation_cap: f64,
    /// The epsilon-constraint lattice has `front_grid`^3 points (reference LP) or
    /// `front_grid`^2 (Green-LLM).
    pub front_grid: usize,
    /// HiGHS options of every solve.
    pub solver: SolverOptions,
}

impl ExactFront {
    /// Which model builds the front on `scenario`.
    pub fn model_name(scenario: &Scenario) -> &'static str {
        if scenario.green_llm.is_some() {
            "Green-LLM's epsilon front"
        } else {
            "the reference LP"
        }
    }
}

impl Allocator for ExactFront {
    fn name(&self) -> &str {
        "exact"
    }

    /// The front's representative plan.
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let front = self.allocate_front(problem)?;
        Ok(front
            .into_iter()
            .find(|p| p.representative)
            .expect("the exact front marks one plan")
            .plan)
    }

    /// Reference LP: `min-ttft`, `min-carbon`, `min-water`, `min-cost` (representative), then
    /// `lattice-k`. Green-LLM: `min-carbon`, then `green-llm-front-k` (`-0`, the F_E optimum,
    /// representative).
    fn allocate_front(&mut self, problem: &Problem) -> Result<Vec<Proposal>, AllocError> {
        if problem.scenario.green_llm.is_some() {
            let model = model(problem)?;
            let fail = |e| AllocError::method("exact", e);
            let front = model
                .epsilon_front(self.front_grid, &self.solver)
                .map_err(fail)?;
            let min_carbon = model
                .solve_weighted(Weights::M2, &self.solver)
                .map_err(fail)?
                .plan;
            return Ok(with_front(
                Proposal {
                    source: "min-carbon".to_owned(),
                    plan: min_carbon,
                    representative: false,
                },
                "green-llm-front",
                front,
                Some(0),
            ));
        }
        let lp = ReferenceLp::new(problem, self.utilisation_cap)
            .map_err(|e| AllocError::method("exact", e))?;
        let front = lp
            .front(self.front_grid, &self.solver)
            .map_err(|e| AllocError::method("exact", e))?;
        Ok(front
            .into_iter()
            .enumerate()
            .map(|(i, s)| Proposal {
                source: match i {
                    0..=3 => format!("min-{}", ["ttft", "carbon", "water", "cost"][i]),
                    _ => format!("lattice-{}", i - 4),
                },
                plan: s.plan,
                representative: i == 3,
            })
            .collect())
    }
}
