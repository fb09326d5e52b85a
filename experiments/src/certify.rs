//! The exact front certified against the bound model ([`verdant_solvers::certify`]) over the
//! command's scored points: the plans the certification adds join the front (method `exact`,
//! seed 0), and its indices are the scored points'.

use anyhow::Context;
use verdant::allocator::Problem;
pub(crate) use verdant_solvers::certify::{
    gap, Certification, Coverage, Settings, Stop, CONVERGED, TOLERANCE,
};
use verdant_solvers::SolverOptions;

use crate::scoring::Scored;

/// Certifies `method`'s front in `scored` on `problem`; the added plans join `scored` as
/// `method`'s, and the certification's indices become `scored`'s.
pub(crate) fn certify(
    problem: &Problem,
    scored: &mut Scored,
    method: &str,
    solver: &SolverOptions,
    settings: &Settings,
) -> anyhow::Result<Certification> {
    let of = |scored: &Scored, front: bool| -> Vec<usize> {
        (0..scored.points.len())
            .filter(|&i| (scored.points[i].method == method) == front)
            .collect()
    };
    let front: Vec<_> = of(scored, true)
        .into_iter()
        .map(|i| (scored.plan(i).clone(), scored.points[i].fluid.compared()))
        .collect();
    let others: Vec<_> = of(scored, false)
        .into_iter()
        .map(|i| scored.points[i].fluid.compared())
        .collect();
    let certified = verdant_solvers::certify::certify(problem, &front, &others, solver, settings)
        .context("certifying the exact front")?;
    scored.add(problem, method, 0, certified.added)?;
    // Library indices: the front's plans (given, then added), then the other points.
    let index: Vec<usize> = of(scored, true)
        .into_iter()
        .chain(of(scored, false))
        .collect();
    let mut c = certified.certification;
    for (i, _) in c.plans.iter_mut() {
        *i = index[*i];
    }
    for (i, _) in c.below.iter_mut() {
        *i = index[*i];
    }
    Ok(c)
}
