//! The exact front certified against the bound model (decision 0010, [`crate::bound`]): what
//! `verdant compare` and `verdant learn` report, and what the Python module's
//! `certified_front` returns.
//!
//! Three things, each a proven statement about the simulator:
//! - **the front's bound**: each compared objective minimised alone over every plan the model
//!   covers (its LP relaxation, an optimum HiGHS proves): no covered plan of any method scores
//!   below it. The plans of these solves join the exact front (`bound-min-<objective>`), so the
//!   front's TTFT end is the model's per-origin optimum rather than the reference LP's;
//! - **certified points**: every plan of the exact front that the model covers gets the model's
//!   bound of each objective at that plan (the least over the schedules the plan allows: HiGHS's
//!   dual bound, valid when a solve stops at its time limit too), beside its simulated value;
//! - **a refined front and the optimal PHV's interval**: an epsilon-constraint refinement.
//!   Weighted sums of carbon, water and cost minimised over plans with the model's TTFT at most
//!   a cap (TTFT is the objective whose simulated value the model bounds least tightly, so it
//!   is the one constrained), each giving a plan (simulated, it joins the front) and a
//!   half-space no covered plan with a TTFT within the cap is below. Steps go round the caps,
//!   lowest first, each solving its cap's candidate along which the front is furthest above the
//!   front's bound, until a round changes the front's PHV by less than [`CONVERGED`], the time
//!   budget is spent or the candidates are used up (the report says which). The optimal PHV lies between the front's PHV and the
//!   volume of the region the bounds leave ([`verdant::pareto::outer_volume`]).
//!
//! Plans the model does not cover (they send requests to a datacenter without the class's model,
//! or some kind spills requests on to another) get no bound, and are named.

use std::time::Instant;

use rayon::prelude::*;
use verdant::allocator::{Problem, Proposal};
use verdant::pareto::{hypervolume, outer_volume, Bounds, HalfSpace};
use verdant::sim::{FractionPlan, Objective, ObjectiveVector, PlanError};

use crate::bound::{BoundModel, PlanBounds, BOUND_OBJECTIVES};
use crate::reference::ReferenceError;
use crate::{SolveError, SolveStatus, SolverOptions};

/// The refinement stops when a step changes the front's PHV by less than this (relative).
pub const CONVERGED: f64 = 0.005;

/// Slices per objective of the grid on which the bounds' volume is computed (an upper bound
/// that tightens with the grid, [`outer_volume`]).
const GRID_CELLS: usize = 64;

/// Why the front's refinement stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// A round over every TTFT cap changed the front's PHV by less than [`CONVERGED`].
    Converged,
    /// The time budget was spent.
    Budget,
    /// Every candidate weight vector was solved.
    Exhausted,
}

/// How the certification runs (`verdant compare`'s `[methods.exact]` keys).
#[derive(Debug, Clone)]
pub struct Settings {
    /// HiGHS's time limit per solve of a front plan's bound, s.
    pub plan_time_limit_s: f64,
    /// Wall-clock budget of the solves over plans (anchors and refinement), s: no refinement
    /// step starts that the last one's time says would not end within it.
    pub front_budget_s: f64,
    /// Wall-clock budget of the front plans' bounds, s: each solve's time limit is at most
    /// what is left of it, and a plan reached with less than [`LEAST_PLAN_TIME_S`] left is
    /// not bounded.
    pub plans_budget_s: f64,
}

/// The least time left of the plans' budget at which a plan is still bounded, s.
pub const LEAST_PLAN_TIME_S: f64 = 0.5;

/// Where a plan stands with the bound model.
#[derive(Debug, Clone, PartialEq)]
pub enum Coverage {
    /// The model's lower bound of each of its objectives ([`BOUND_OBJECTIVES`]) at the plan,
    /// and whether the plan's simulation carries a backlog from one epoch into the next (the
    /// model's waits of carried requests are its loosest terms, decision 0010).
    Bounded {
        /// The bound of each objective at the plan.
        bounds: PlanBounds,
        /// Whether the plan's simulation carries a backlog into a later epoch.
        carries: bool,
    },
    /// Some GPU kind sends requests on to another kind of its datacenter (outside the model).
    Spills,
    /// The plan sends requests to a datacenter that does not host their class's model.
    Unhosted,
    /// HiGHS reports the model infeasible at the plan: no schedule satisfies its constraints,
    /// where the simulator's own should (a defect of the model, as the first forced-carry link
    /// was, decision 0010), so the plan is outside what the bounds are proven for.
    NoSchedule,
    /// The plans' time budget was spent before the plan's turn.
    OutOfTime,
}

impl Coverage {
    /// Its label in fronts.csv's `bound_coverage` column.
    pub fn label(&self) -> &'static str {
        match self {
            Coverage::Bounded { .. } => "bounded",
            Coverage::Spills => "spills",
            Coverage::Unhosted => "unhosted",
            Coverage::NoSchedule => "no-schedule",
            Coverage::OutOfTime => "out-of-time",
        }
    }
}

/// What the bound model certifies of one front.
#[derive(Debug, Clone)]
pub struct Certification {
    /// Per compared objective ([`Objective::ALL`]): the least value over every plan the model
    /// covers, and how its solve ended.
    pub least: [f64; 4],
    /// How each of those solves ended.
    pub least_status: [SolveStatus; 4],
    /// Per plan of the front (its index: the given plans, then the added ones in order): its
    /// coverage.
    pub plans: Vec<(usize, Coverage)>,
    /// Points whose simulated value of an objective is below the front's bound: (index,
    /// objective), the index into the front's plans (given, then added) followed by the other
    /// points. Only plans the model does not cover can be here.
    pub below: Vec<(usize, Objective)>,
    /// The supporting half-spaces of the refinement's weighted solves (objectives in their
    /// units).
    pub cuts: Vec<HalfSpace>,
    /// Refinement steps solved (infeasible caps not counted; a plan each where the solve found
    /// one), and why the refinement stopped.
    pub steps: usize,
    /// Why the refinement stopped.
    pub stop: Stop,
    /// Seconds for the solves over plans (anchors and refinement).
    pub front_s: f64,
    /// Seconds for the anchors alone.
    pub anchors_s: f64,
    /// Seconds for the plans' bounds.
    pub plans_s: f64,
}

/// Why a certification failed.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    #[error("{what}: {source}")]
    /// A solve of the bound model failed (other than a cap it finds infeasible).
    Solve {
        /// Which solve, in words.
        what: String,
        /// HiGHS's or the model's error.
        source: ReferenceError,
    },
    #[error(transparent)]
    /// A plan did not fit the scenario.
    Plan(#[from] PlanError),
}

/// The certified front: the certification, and the plans it added to the front (the anchors
/// `bound-min-<objective>` and the refinement's `bound-step-<k>`, in order) with their fluid
/// objectives.
#[derive(Debug, Clone)]
pub struct Certified {
    /// What the bound model certifies.
    pub certification: Certification,
    /// The plans added to the front, in order.
    pub added: Vec<Proposal>,
    /// Their simulated (fluid) objectives, in the same order.
    pub added_objectives: Vec<ObjectiveVector>,
}

/// The PHV of the finite points of `front` at the comparison's reference point over `points`
/// and `others` (the worst observed value of each objective, TTFT's at `ttft_reference_s`, the
/// service level), and that reference point.
pub fn front_phv(
    front: &[ObjectiveVector],
    points: &[ObjectiveVector],
    others: &[ObjectiveVector],
    ttft_reference_s: f64,
) -> (f64, Vec<f64>) {
    let mut reference =
        Bounds::observed(points.iter().chain(others).map(|o| o.as_slice()), 4).upper;
    reference[Objective::Ttft.index()] = ttft_reference_s;
    let finite: Vec<f64> = front
        .iter()
        .filter(|y| y.0.iter().all(|v| v.is_finite()))
        .flat_map(|y| y.0)
        .collect();
    (hypervolume(&finite, 4, &reference), reference)
}

/// The points whose simulated value of an objective is below the front's bound `least`:
/// (index in `points`, objective).
fn below(least: &[f64; 4], points: &[ObjectiveVector]) -> Vec<(usize, Objective)> {
    points
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            Objective::ALL
                .into_iter()
                .filter(move |&o| {
                    let l = least[o.index()];
                    p.0[o.index()] < l - 1e-9 * l.abs()
                })
                .map(move |o| (i, o))
        })
        .collect()
}

impl Certification {
    /// The coverage of point `i`, if it is a plan of the exact front.
    pub fn coverage(&self, i: usize) -> Option<&Coverage> {
        self.plans.iter().find(|(j, _)| *j == i).map(|(_, c)| c)
    }

    /// The most PHV any set of covered plans can have with `reference`: the volume of the
    /// region between the front's bound, the supporting half-spaces and the reference point
    /// (every covered plan lies in it), an upper bound from the grid.
    pub fn outer_phv(&self, reference: &[f64]) -> f64 {
        outer_volume(&self.least, reference, &self.cuts, GRID_CELLS).0
    }
}

/// The refinement's TTFT caps: a geometric ladder of this many from a tenth above the least
/// TTFT over plans to the reference point's TTFT (the service level).
const TTFT_CAPS: usize = 8;

/// One candidate step of the refinement: weights of (TTFT, carbon, water, cost), TTFT's 0, and
/// the cap on the model's TTFT, s.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    weights: [f64; 4],
    ttft_cap_s: f64,
}

/// The candidates: every cap of the ladder from `1.1 least_ttft_s` to `reference_ttft_s`
/// ([`TTFT_CAPS`] of them; one where the two meet) with every point of the simplex of carbon,
/// water and cost in thirds (10 weight vectors): 80.
fn candidates(least_ttft_s: f64, reference_ttft_s: f64) -> Vec<Candidate> {
    let low = 1.1 * least_ttft_s;
    let caps: Vec<f64> = if reference_ttft_s <= low {
        vec![reference_ttft_s]
    } else {
        let ratio = reference_ttft_s / low;
        (0..TTFT_CAPS)
            .map(|i| low * ratio.powf(i as f64 / (TTFT_CAPS - 1) as f64))
            .collect()
    };
    let mut out = Vec::new();
    for cap in caps {
        for a in 0..=3usize {
            for b in 0..=3 - a {
                out.push(Candidate {
                    weights: [0, a, b, 3 - a - b].map(|k| k as f64 / 3.0),
                    ttft_cap_s: cap,
                });
            }
        }
    }
    out
}

/// The names of the exact front's plans from the model's anchors, per compared objective.
const ANCHOR_SOURCES: [&str; 4] = [
    "bound-min-ttft",
    "bound-min-carbon",
    "bound-min-water",
    "bound-min-cost",
];

/// Certifies the front `front` (plans, each with its fluid objectives under `problem`) on
/// `problem`: solves the model's anchors and refines the front with weighted solves (their plans
/// join the front), and bounds every front plan at its fixed plan. `others` are the objectives
/// of the plans compared beside the front (other methods'): with the front's, they set the
/// reference point of the refinement's PHV (the worst observed values, TTFT's at the scenario's
/// service level), as the comparison's indicators do.
pub fn certify(
    problem: &Problem,
    front: &[(FractionPlan, ObjectiveVector)],
    others: &[ObjectiveVector],
    solver: &SolverOptions,
    settings: &Settings,
) -> Result<Certified, CertifyError> {
    let started = Instant::now();
    let solve_error = |what: String| move |source| CertifyError::Solve { what, source };
    let mut model = BoundModel::new(problem).map_err(solve_error("the bound model".into()))?;
    // The front's plans and objectives as it grows.
    let mut plans: Vec<FractionPlan> = front.iter().map(|(p, _)| p.clone()).collect();
    let mut objectives: Vec<ObjectiveVector> = front.iter().map(|(_, o)| *o).collect();
    let mut added: Vec<Proposal> = Vec::new();
    let mut fluid = problem.fluid();
    let mut add = |plans: &mut Vec<FractionPlan>,
                   objectives: &mut Vec<ObjectiveVector>,
                   added: &mut Vec<Proposal>,
                   source: String,
                   plan: FractionPlan|
     -> Result<(), CertifyError> {
        objectives.push(fluid.score(&plan)?.objectives().compared());
        plans.push(plan.clone());
        added.push(Proposal {
            source,
            plan,
            representative: false,
        });
        Ok(())
    };
    // Solves over plans relax the schedule's switches (an LP, a valid bound; the MILP does not
    // solve in minutes, decision 0010).
    model.relaxed = true;
    let mut least = [f64::NAN; 4];
    let mut least_status = [SolveStatus::Optimal; 4];
    // Solves over plans run side by side (rayon's threads), one HiGHS thread each.
    let side_by_side = solver.single_threaded();
    let solved: Vec<_> = Objective::ALL
        .par_iter()
        .map(|o| {
            let k = o.index();
            let mut weights = [0.0; 5];
            weights[k] = 1.0;
            model
                .solve(weights, [1.0; 5], [None; 5], None, &side_by_side)
                .map_err(solve_error(format!(
                    "the bound model's least {}",
                    BOUND_OBJECTIVES[k]
                )))
        })
        .collect();
    for (o, solved) in Objective::ALL.into_iter().zip(solved) {
        let (k, solved) = (o.index(), solved?);
        least[k] = solved.lower;
        least_status[k] = solved.status;
        if let Some(plan) = solved.plan {
            let source = ANCHOR_SOURCES[k].to_owned();
            add(&mut plans, &mut objectives, &mut added, source, plan)?;
        }
    }
    let anchors_s = started.elapsed().as_secs_f64();

    // Refinement. `phv(objectives, first)`: the PHV of the front's first `first` plans (all:
    // None) at the current reference point (the worst observed values can move as plans join,
    // so a round's change is measured at one reference), and that reference.
    let ttft_reference_s = problem.scenario.ttft_slo_s;
    let phv = |objectives: &[ObjectiveVector], first: Option<usize>| {
        let take = first.unwrap_or(usize::MAX).min(objectives.len());
        front_phv(&objectives[..take], objectives, others, ttft_reference_s)
    };
    let mut candidates = candidates(least[0], ttft_reference_s);
    let mut cuts = Vec::new();
    let mut steps = 0;
    let mut last_batch_s = 0.0;
    // Rounds over the caps, lowest first: each batch takes the next caps that have candidates
    // left (as many as rayon has threads, within the round) and solves, side by side, each
    // one's candidate furthest from the bound; a round that changes the front's PHV by less
    // than CONVERGED ends the refinement.
    let caps: Vec<f64> = {
        let mut caps: Vec<f64> = candidates.iter().map(|c| c.ttft_cap_s).collect();
        caps.dedup();
        caps
    };
    let batch_size = rayon::current_num_threads().max(1);
    let (mut next_cap, mut round_start) = (0, objectives.len());
    let stop = loop {
        if candidates.is_empty() {
            break Stop::Exhausted;
        }
        if next_cap == caps.len() {
            let (now, before) = (
                phv(&objectives, None).0,
                phv(&objectives, Some(round_start)).0,
            );
            if (now - before).abs() < CONVERGED * now.abs() {
                break Stop::Converged;
            }
            (next_cap, round_start) = (0, objectives.len());
        }
        if started.elapsed().as_secs_f64() + last_batch_s > settings.front_budget_s {
            break Stop::Budget;
        }
        let batch_started = Instant::now();
        let (_, reference) = phv(&objectives, None);
        let scales: Vec<f64> = (0..4)
            .map(|k| (reference[k] - least[k]).max(1e-12 * reference[k].abs().max(1.0)))
            .collect();
        // How far the front's plans within a candidate's cap are above the front's bound along
        // its weights (a cap no plan meets yet is unexplored: as far as can be).
        let distance = |c: &Candidate| {
            let along = |y: &ObjectiveVector| -> f64 {
                (1..4)
                    .map(|k| c.weights[k] * (y.0[k] - least[k]) / scales[k])
                    .sum()
            };
            objectives
                .iter()
                .filter(|y| y.0[0] <= c.ttft_cap_s)
                .map(along)
                .fold(f64::INFINITY, f64::min)
        };
        let mut batch = Vec::new();
        while batch.len() < batch_size && next_cap < caps.len() {
            let cap = caps[next_cap];
            next_cap += 1;
            let pick = (0..candidates.len())
                .filter(|&i| candidates[i].ttft_cap_s == cap)
                .max_by(|&a, &b| distance(&candidates[a]).total_cmp(&distance(&candidates[b])));
            if let Some(pick) = pick {
                batch.push(candidates.remove(pick));
            }
        }
        // The weighted sums in the objectives' units up to one common factor (their smallest
        // range): an objective of the anchors' magnitude, on which HiGHS's interior point
        // method converges as it does for them (over ranges, each solve took 1.7-3x longer).
        let unit = scales[1..].iter().copied().fold(f64::INFINITY, f64::min);
        let mut scale5 = [1.0; 5];
        for k in 0..4 {
            scale5[k] = scales[k] / unit;
        }
        let solved: Vec<_> = batch
            .par_iter()
            .map(|candidate| {
                let mut weights = [0.0; 5];
                weights[..4].copy_from_slice(&candidate.weights);
                let mut bounds = [None; 5];
                bounds[0] = Some(candidate.ttft_cap_s);
                model.solve(weights, scale5, bounds, None, &side_by_side)
            })
            .collect();
        for (candidate, solved) in batch.into_iter().zip(solved) {
            let solved = match solved {
                Ok(solved) => solved,
                // A cap below what the model allows leaves no plan: nothing to add.
                Err(ReferenceError::Solve(SolveError::Infeasible { .. })) => continue,
                Err(source) => {
                    return Err(CertifyError::Solve {
                        what: format!("the bound model's step {candidate:?}"),
                        source,
                    })
                }
            };
            steps += 1;
            if solved.lower.is_finite() {
                cuts.push(HalfSpace {
                    normal: (0..4).map(|k| candidate.weights[k] / scale5[k]).collect(),
                    offset: solved.lower,
                    first_at_most: candidate.ttft_cap_s,
                });
            }
            if let Some(plan) = solved.plan {
                let source = format!("bound-step-{steps}");
                add(&mut plans, &mut objectives, &mut added, source, plan)?;
            }
        }
        last_batch_s = batch_started.elapsed().as_secs_f64();
    };
    let front_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    model.relaxed = false;
    let deadline_s = settings.plans_budget_s;
    // The front's plans side by side (and each plan's five bounds, [`BoundModel::bound_of`]).
    let sources: Vec<String> = front
        .iter()
        .enumerate()
        .map(|(i, _)| format!("plan {i} of the given front"))
        .chain(added.iter().map(|p| p.source.clone()))
        .collect();
    let coverage = plans
        .par_iter()
        .enumerate()
        .map(|(i, plan)| -> Result<(usize, Coverage), CertifyError> {
            if !model.represents(plan) {
                return Ok((i, Coverage::Unhosted));
            }
            let mut sim = problem.fluid();
            sim.score(plan)?;
            if sim.spilled() {
                return Ok((i, Coverage::Spills));
            }
            let left_s = deadline_s - started.elapsed().as_secs_f64();
            if left_s < LEAST_PLAN_TIME_S {
                return Ok((i, Coverage::OutOfTime));
            }
            let carries = sim.carried();
            let per_plan = solver.time_limited(settings.plan_time_limit_s.min(left_s));
            let coverage = match model.bound_of(plan, &per_plan) {
                Ok(bounds) => Coverage::Bounded { bounds, carries },
                Err(ReferenceError::Solve(SolveError::Infeasible { .. })) => Coverage::NoSchedule,
                Err(source) => {
                    return Err(CertifyError::Solve {
                        what: format!("the bound of the front's {}", sources[i]),
                        source,
                    })
                }
            };
            Ok((i, coverage))
        })
        .collect::<Result<Vec<_>, CertifyError>>()?;
    let all: Vec<ObjectiveVector> = objectives.iter().chain(others).copied().collect();
    let certification = Certification {
        least,
        least_status,
        plans: coverage,
        below: below(&least, &all),
        cuts,
        steps,
        stop,
        front_s,
        anchors_s,
        plans_s: started.elapsed().as_secs_f64(),
    };
    let added_objectives = objectives[front.len()..].to_vec();
    Ok(Certified {
        certification,
        added,
        added_objectives,
    })
}

/// The largest gap a certified point's bound may leave, per bound objective
/// ([`BOUND_OBJECTIVES`]; issue 20): 5% on TTFT, 1% on carbon, water, energy cost and energy.
pub const TOLERANCE: [f64; 5] = [0.05, 0.01, 0.01, 0.01, 0.01];

/// The relative gap of a simulated value above its bound (negative where the value is below).
pub fn gap(simulated: f64, bound: f64) -> f64 {
    (simulated - bound) / simulated.abs().max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cap_ttft_and_the_outer_volume_starts_as_the_box() {
        let c = candidates(0.2, 2.0);
        assert_eq!(c.len(), 80);
        assert!(c
            .iter()
            .all(|c| c.weights[0] == 0.0 && (c.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12));
        let caps: Vec<f64> = c.iter().map(|c| c.ttft_cap_s).collect();
        assert!((caps[0] - 0.22).abs() < 1e-12 && (caps[79] - 2.0).abs() < 1e-12);
        // The service level at or below a tenth above the least TTFT: one cap, at it.
        assert!(candidates(0.2, 0.21).iter().all(|c| c.ttft_cap_s == 0.21));
        let c = Certification {
            least: [1.0, 2.0, 0.0, 5.0],
            least_status: [SolveStatus::Optimal; 4],
            plans: vec![(3, Coverage::Spills)],
            below: Vec::new(),
            cuts: Vec::new(),
            steps: 0,
            stop: Stop::Exhausted,
            front_s: 0.0,
            anchors_s: 0.0,
            plans_s: 0.0,
        };
        assert_eq!(c.outer_phv(&[2.0, 4.0, 3.0, 6.0]), 1.0 * 2.0 * 3.0 * 1.0);
        // A reference below the bound leaves nothing.
        assert_eq!(c.outer_phv(&[0.5, 4.0, 3.0, 6.0]), 0.0);
        assert_eq!(c.coverage(3), Some(&Coverage::Spills));
        assert_eq!(c.coverage(2), None);
        assert_eq!(gap(110.0, 99.0), 0.1);
    }
}
