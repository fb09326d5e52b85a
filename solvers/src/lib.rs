//! Verdant's optimisers: linear and mixed-integer models solved with HiGHS through `good_lp`.
//!
//! - [`options`]: the HiGHS options a run may set (time limit, MIP gap, threads), validated once and
//!   recorded in every run's manifest;
//! - [`green_llm`]: the Green-LLM LP (cost, carbon and delay objectives, water budget) built from
//!   a scenario;
//! - [`bound`]: a model of the fluid simulator whose optimum is a proven lower bound on its
//!   objectives (the certified front's outer side);
//! - [`methods`]: Green-LLM and the exact reference front as [`verdant::allocator::Allocator`]s;
//! - [`dispatch`]: minimum-cost dispatch of a demand over sites, as an LP (continuous shares) and as
//!   a MILP (whole servers with a fixed cost each): the smallest real model of the family Green-LLM
//!   belongs to, used by `verdant demo` and by the toolchain tests.
//!
//! Every solve reports its status; an infeasible model or a stage that hits its time limit is an
//! error or a flagged status, never a silently accepted answer.

#![warn(missing_docs)]

pub mod baselines;
pub mod bound;
pub mod certify;
pub mod dispatch;
pub mod green_llm;
pub mod methods;
pub mod options;
pub mod reference;

pub use options::{SolverOptions, SolverParams};

/// Why a model has no usable solution.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    /// No plan satisfies the constraints; `reason` names the binding constraint family.
    #[error("{model} is infeasible: {reason}")]
    Infeasible {
        /// The model.
        model: &'static str,
        /// The binding constraint family.
        reason: String,
    },
    /// The objective can decrease without bound (a modelling error).
    #[error("{model} is unbounded")]
    Unbounded {
        /// The model.
        model: &'static str,
    },
    /// HiGHS stopped (time limit, interrupt) before it found any feasible point, or failed.
    #[error("{model}: HiGHS returned no solution: {detail}")]
    Solver {
        /// The model.
        model: &'static str,
        /// What HiGHS reported.
        detail: String,
    },
}

impl SolveError {
    pub(crate) fn from_resolution(
        model: &'static str,
        err: good_lp::ResolutionError,
        infeasible_reason: impl FnOnce() -> String,
    ) -> Self {
        match err {
            good_lp::ResolutionError::Infeasible => SolveError::Infeasible {
                model,
                reason: infeasible_reason(),
            },
            good_lp::ResolutionError::Unbounded => SolveError::Unbounded { model },
            other => SolveError::Solver {
                model,
                detail: other.to_string(),
            },
        }
    }
}

/// How a returned solution should be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SolveStatus {
    /// Proven optimal (within HiGHS's tolerances).
    Optimal,
    /// Feasible, stopped at the configured MIP gap.
    GapLimit,
    /// Feasible, stopped by the time limit: not proven optimal.
    TimeLimit,
}

impl From<good_lp::solvers::SolutionStatus> for SolveStatus {
    fn from(status: good_lp::solvers::SolutionStatus) -> Self {
        match status {
            good_lp::solvers::SolutionStatus::Optimal => SolveStatus::Optimal,
            good_lp::solvers::SolutionStatus::GapLimit => SolveStatus::GapLimit,
            good_lp::solvers::SolutionStatus::TimeLimit => SolveStatus::TimeLimit,
        }
    }
}
