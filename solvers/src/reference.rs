//! The exact reference front: the shared simulator's fluid accounting written as an LP over a
//! plan's fractions, solved by HiGHS for each objective and as an epsilon-constraint front over
//! (TTFT, carbon, water, energy cost).
//!
//! The decision space is the one every compared method uses: per epoch and request class, the
//! fractions over the datacenters that host the class (the same for every origin). In it the
//! fluid simulator's carbon, water, cost and energy of a datacenter-epoch are affine in the
//! fractions while utilisation stays below 1 and grid power is not offset by on-site renewables
//! (the geo scenarios): busy GPU-seconds are linear in the requests routed (decode batches depend
//! only on the class's tokens per request), and the accounting is affine in busy GPU-seconds. The
//! LP's coefficients are therefore read off the simulator itself ([`FluidSimulator::score_epoch`](verdant::sim::fluid::FluidSimulator::score_epoch)
//! on probe plans), so every metric stays computed in one place; a test checks that the LP's
//! objective values equal the simulator's score of the same plan.
//!
//! TTFT in the LP is network round trip plus service time ([`FluidSimulator::service_s`](verdant::sim::fluid::FluidSimulator::service_s)), without
//! the queueing terms the simulator adds (the M/G/c wait at each GPU kind's prefill utilisation
//! and the wait for a carried backlog): non-linear in the fractions, they are left out, so the
//! LP's TTFT is a lower bound of the simulator's. Utilisation is capped at `utilisation_cap`
//! (0.95), which also keeps the queueing term bounded.
//!
//! Within a datacenter the weighted round robin keeps every GPU kind equally busy, so below a
//! datacenter utilisation of 1 no kind is saturated and the accounting is affine; the coefficients
//! are read with probes that start each epoch without a backlog. (Issue 20 builds the certified
//! front on this model, with the queueing term bounded.)
//! The front is reported with the simulator's score of each LP plan.

use good_lp::{
    constraint, variable, Expression, ProblemVariables, Solution, SolverModel, Variable,
};
use verdant::allocator::Problem;
use verdant::scenario::Scenario;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{FractionPlan, Outcome, PlanError};

use crate::{SolveError, SolverOptions};

/// Objectives of the LP, in this order: TTFT (s, mean over requests), carbon (kg), water (L),
/// energy cost (USD).
pub const REFERENCE_OBJECTIVES: [&str; 4] = ["ttft_s", "carbon_kg", "water_l", "cost_usd"];

/// Why the reference LP cannot be built or solved.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("scenario {scenario}: {message}")]
    /// The scenario is outside what the LP represents.
    Scenario {
        /// The scenario's name.
        scenario: String,
        /// Why the LP cannot represent it.
        message: String,
    },
    #[error(transparent)]
    /// A plan did not fit the scenario.
    Plan(#[from] PlanError),
    #[error(transparent)]
    /// A solve failed.
    Solve(#[from] SolveError),
}

/// Adds an upper bound per objective where given, and returns the objective to minimise:
/// `sum_k weights[k] / |scales[k]| * objectives[k]` (shared by every model over plans).
pub(crate) fn scalarise(
    objectives: &[Expression],
    weights: &[f64],
    scales: &[f64],
    bounds: &[Option<f64>],
    constraints: &mut Vec<good_lp::Constraint>,
) -> Expression {
    for (f, bound) in objectives.iter().zip(bounds) {
        if let Some(b) = bound {
            constraints.push(constraint!(f.clone() <= *b));
        }
    }
    let mut objective = Expression::from(0.0);
    for ((f, &w), &scale) in objectives.iter().zip(weights).zip(scales) {
        if w != 0.0 {
            objective += (w / scale.abs().max(1e-300)) * f.clone();
        }
    }
    objective
}

/// The plan of a solved model over fractions `x`, per (epoch, class, datacenter) (index
/// `(e * classes + c) * datacenters + d`; the same for every origin of `scenario`) or per
/// (epoch, origin, class, datacenter) (index `((e * origins + o) * classes + c) * datacenters +
/// d`), told apart by `x`'s length; `None` where the class may not go. Each row is clamped to
/// [0, 1] and normalised.
pub(crate) fn plan_of_solution(
    scenario: &Scenario,
    x: &[Option<Variable>],
    solution: &impl Solution,
) -> Result<FractionPlan, PlanError> {
    let (ne, no, nc, nd) = (
        scenario.time.epochs,
        scenario.origins.len(),
        scenario.classes.len(),
        scenario.datacenters.len(),
    );
    // Shares per (epoch, class, datacenter) for every origin, or per origin too.
    let per_origin = x.len() == ne * no * nc * nd;
    let mut shares = vec![0.0; ne * no * nc * nd];
    for e in 0..ne {
        for o in 0..no {
            for c in 0..nc {
                let first = if per_origin {
                    ((e * no + o) * nc + c) * nd
                } else {
                    (e * nc + c) * nd
                };
                let mut row: Vec<f64> = (0..nd)
                    .map(|d| x[first + d].map_or(0.0, |v| solution.value(v).clamp(0.0, 1.0)))
                    .collect();
                let sum: f64 = row.iter().sum();
                if sum > 0.0 {
                    row.iter_mut().for_each(|v| *v /= sum);
                }
                let start = ((e * no + o) * nc + c) * nd;
                shares[start..start + nd].copy_from_slice(&row);
            }
        }
    }
    FractionPlan::new(ne, no, nc, nd, shares)
}

/// Affine coefficients of the LP, read off the simulator.
#[derive(Debug, Clone)]
pub struct ReferenceLp<'a> {
    scenario: &'a Scenario,
    /// Capacity, volumes and the decision space.
    pub planner: EpochPlanner,
    /// Per (epoch, datacenter): base value of each objective (carbon, water, cost, energy) and
    /// of utilisation with nothing routed there; `[e * nd + d]`.
    base: Vec<[f64; 5]>,
    /// Per (epoch, class, datacenter): the change of (carbon, water, cost, energy, utilisation)
    /// with the whole class routed there; `[(e * nc + c) * nd + d]`.
    slope: Vec<[f64; 5]>,
    /// Same index: request-seconds of TTFT (network plus service) with the whole class there.
    ttft_request_s: Vec<f64>,
    total_requests: f64,
    /// Utilisation cap of every datacenter.
    pub utilisation_cap: f64,
}

/// One solved LP: its plan and objective values (the LP's), and the status.
#[derive(Debug, Clone)]
pub struct ReferenceSolution {
    /// The plan.
    pub plan: FractionPlan,
    /// TTFT (LP: no queueing), carbon, water, cost.
    pub objectives: [f64; 4],
    /// Facility energy by the LP, kWh.
    pub energy_kwh: f64,
    /// How to read the solution.
    pub status: crate::SolveStatus,
}

impl<'a> ReferenceLp<'a> {
    /// Reads the coefficients off the fluid simulator. Needs at least three datacenters (probes
    /// route the rest elsewhere) and no on-site renewables.
    pub fn new(problem: &Problem<'a>, utilisation_cap: f64) -> Result<Self, ReferenceError> {
        let scenario = problem.scenario;
        let s = scenario;
        let fail = |message: String| ReferenceError::Scenario {
            scenario: s.name.clone(),
            message,
        };
        let (ne, nc, nd) = (s.time.epochs, s.classes.len(), s.datacenters.len());
        if nd < 3 {
            return Err(fail(format!(
                "the reference LP probes with at least 3 datacenters, this scenario has {nd}"
            )));
        }
        if s.datacenters
            .iter()
            .any(|dc| dc.grid.renewable_kw.iter().any(|&r| r > 0.0))
        {
            return Err(fail(
                "on-site renewables make grid power piecewise linear in the plan; the reference \
                 LP covers scenarios without them (Green-LLM's own LP covers green-llm-base)"
                    .to_owned(),
            ));
        }
        let planner = EpochPlanner::new(s, utilisation_cap);
        let mut sim = problem.fluid();
        let mut out = Outcome::default();
        let no = s.origins.len();
        // Probe plans: everything of epoch e to datacenter `to[c]` per class.
        let mut plan =
            FractionPlan::from_fn(ne, no, nc, nd, |_, _, _, d| if d == 0 { 1.0 } else { 0.0 })?;
        // Probes send a share PROBE of one class to the probed datacenter (small enough that it
        // does not saturate, where the accounting would cap busy time) and the rest elsewhere.
        const PROBE: f64 = 0.01;
        let mut probe = |plan: &mut FractionPlan,
                         e: usize,
                         to: &dyn Fn(usize) -> (usize, Option<usize>),
                         out: &mut Outcome|
         -> Result<Vec<[f64; 5]>, PlanError> {
            for c in 0..nc {
                let mut row = vec![0.0; nd];
                match to(c) {
                    (rest, Some(probed)) => {
                        row[rest] = 1.0 - PROBE;
                        row[probed] = PROBE;
                    }
                    (all, None) => row[all] = 1.0,
                }
                plan.set_epoch_class(e, c, &row)?;
            }
            // Each probe scores its epoch alone: no backlog carried in from another probe.
            sim.clear_backlog();
            sim.score_epoch(plan, e, out)?;
            Ok((0..nd)
                .map(|d| {
                    let x = out.dc_epoch(d, e);
                    [
                        x.carbon_kg(),
                        x.water_l(),
                        x.energy_cost_usd,
                        x.facility_kwh,
                        out.utilisation[d * ne + e],
                    ]
                })
                .collect())
        };
        let mut base = vec![[0.0; 5]; ne * nd];
        let mut slope = vec![[0.0; 5]; ne * nc * nd];
        for e in 0..ne {
            let all_to_0 = probe(&mut plan, e, &|_| (0, None), &mut out)?;
            let all_to_1 = probe(&mut plan, e, &|_| (1, None), &mut out)?;
            for d in 0..nd {
                base[e * nd + d] = if d == 0 { all_to_1[0] } else { all_to_0[d] };
            }
            for c in 0..nc {
                for d in 0..nd {
                    if !planner.hosts(c, d) {
                        continue;
                    }
                    let other = (d + 1) % nd;
                    let with = probe(
                        &mut plan,
                        e,
                        &|k| {
                            if k == c {
                                (other, Some(d))
                            } else {
                                (other, None)
                            }
                        },
                        &mut out,
                    )?;
                    let b = base[e * nd + d];
                    let v = with[d];
                    let k = (e * nc + c) * nd + d;
                    slope[k] = [0, 1, 2, 3, 4].map(|m| (v[m] - b[m]) / PROBE);
                }
            }
        }
        // TTFT: network round trip of every request plus its service time, no queueing.
        let d = &s.demand;
        let mut ttft_request_s = vec![0.0; ne * nc * nd];
        let mut total_requests = 0.0;
        for e in 0..ne {
            for c in 0..nc {
                let (mut r, mut input, mut output) = (0.0, 0.0, 0.0);
                for o in 0..no {
                    r += d.requests(o, c, e);
                    input += d.input_tokens(o, c, e);
                    output += d.output_tokens(o, c, e);
                }
                total_requests += r;
                for k in 0..nd {
                    let network: f64 = (0..no)
                        .map(|o| d.requests(o, c, e) * s.network.round_trip_s[o][k])
                        .sum();
                    let service = sim.service_s(c, k, input, output, r);
                    ttft_request_s[(e * nc + c) * nd + k] = network + r * service;
                }
            }
        }
        Ok(ReferenceLp {
            scenario,
            planner,
            base,
            slope,
            ttft_request_s,
            total_requests,
            utilisation_cap,
        })
    }

    /// The LP's objective values and energy for a plan in the decision space (row of origin 0).
    pub fn evaluate(&self, plan: &FractionPlan) -> ([f64; 4], f64) {
        let (ne, nc, nd) = (
            self.planner.epochs,
            self.planner.classes,
            self.planner.datacenters,
        );
        let mut f = [0.0; 4];
        let mut energy = 0.0;
        for e in 0..ne {
            for d in 0..nd {
                let b = self.base[e * nd + d];
                f[1] += b[0];
                f[2] += b[1];
                f[3] += b[2];
                energy += b[3];
            }
            for c in 0..nc {
                let row = plan.row(e, 0, c);
                for (d, &x) in row.iter().enumerate() {
                    let k = (e * nc + c) * nd + d;
                    let sl = self.slope[k];
                    f[1] += x * sl[0];
                    f[2] += x * sl[1];
                    f[3] += x * sl[2];
                    energy += x * sl[3];
                    if x > 0.0 {
                        f[0] += x * self.ttft_request_s[k];
                    }
                }
            }
        }
        f[0] /= self.total_requests.max(1e-300);
        (f, energy)
    }

    /// Minimises `weights . objectives / scales` subject to capacity and `bounds` (an upper
    /// bound per objective, or none).
    pub fn solve(
        &self,
        weights: [f64; 4],
        scales: [f64; 4],
        bounds: [Option<f64>; 4],
        options: &SolverOptions,
    ) -> Result<ReferenceSolution, ReferenceError> {
        let s = self.scenario;
        let (ne, nc, nd) = (
            self.planner.epochs,
            self.planner.classes,
            self.planner.datacenters,
        );
        let mut vars = ProblemVariables::new();
        let x: Vec<Option<Variable>> = (0..ne * nc * nd)
            .map(|k| {
                let (c, d) = ((k / nd) % nc, k % nd);
                self.planner
                    .hosts(c, d)
                    .then(|| vars.add(variable().min(0.0).max(1.0)))
            })
            .collect();
        let mut f: [Expression; 4] = Default::default();
        let mut constraints = Vec::new();
        let mut constant = [0.0; 4];
        for e in 0..ne {
            for d in 0..nd {
                let b = self.base[e * nd + d];
                constant[1] += b[0];
                constant[2] += b[1];
                constant[3] += b[2];
                let mut utilisation = Expression::from(b[4]);
                for c in 0..nc {
                    if let Some(v) = x[(e * nc + c) * nd + d] {
                        utilisation += self.slope[(e * nc + c) * nd + d][4] * v;
                    }
                }
                constraints.push(constraint!(utilisation <= self.utilisation_cap));
            }
            for c in 0..nc {
                let mut row = Expression::from(0.0);
                for d in 0..nd {
                    let k = (e * nc + c) * nd + d;
                    if let Some(v) = x[k] {
                        row += v;
                        let sl = self.slope[k];
                        f[0] += (self.ttft_request_s[k] / self.total_requests.max(1e-300)) * v;
                        f[1] += sl[0] * v;
                        f[2] += sl[1] * v;
                        f[3] += sl[2] * v;
                    }
                }
                constraints.push(constraint!(row == 1.0));
            }
        }
        for k in 1..4 {
            f[k] += constant[k];
        }
        let objective = scalarise(&f, &weights, &scales, &bounds, &mut constraints);
        let model = options
            .apply(vars.minimise(objective).using(good_lp::highs))
            .with_all(constraints);
        let solution = model.solve().map_err(|e| {
            SolveError::from_resolution("reference LP", e, || {
                "the epsilon bounds or the utilisation cap leave no plan".to_owned()
            })
        })?;
        let plan = plan_of_solution(s, &x, &solution)?;
        let (objectives, energy_kwh) = self.evaluate(&plan);
        Ok(ReferenceSolution {
            plan,
            objectives,
            energy_kwh,
            status: solution.status().into(),
        })
    }

    /// The reference front: each objective minimised alone (the payoff table), then cost
    /// minimised with TTFT, carbon and water bounded on a `grid`^3 lattice between each one's
    /// minimum and its value at the cost optimum. Duplicate plans are kept once.
    pub fn front(
        &self,
        grid: usize,
        options: &SolverOptions,
    ) -> Result<Vec<ReferenceSolution>, ReferenceError> {
        let mut scales = [1.0; 4];
        for k in 0..4 {
            let mut w = [0.0; 4];
            w[k] = 1.0;
            // A tiny weight on the others picks a non-dominated optimum among ties.
            for (j, wj) in w.iter_mut().enumerate() {
                if j != k {
                    *wj = 1e-6;
                }
            }
            let sol = self.solve(w, scales, [None; 4], options)?;
            scales[k] = sol.objectives[k].abs().max(1e-9);
        }
        // Re-solve the singles with the scales known, so the tie-breaking weights are balanced.
        let mut out: Vec<ReferenceSolution> = Vec::new();
        for k in 0..4 {
            let mut w = [1e-4; 4];
            w[k] = 1.0;
            out.push(self.solve(w, scales, [None; 4], options)?);
        }
        let lows: Vec<f64> = (0..4).map(|k| out[k].objectives[k]).collect();
        let at_cost_optimum = out[3].objectives;
        let levels = grid.max(2);
        let lattice = |k: usize, i: usize| {
            let lo = lows[k];
            let hi = at_cost_optimum[k].max(lo);
            lo + (hi - lo) * i as f64 / (levels - 1) as f64
        };
        for i in 0..levels {
            for j in 0..levels {
                for l in 0..levels {
                    let bounds = [
                        Some(lattice(0, i) * (1.0 + 1e-9) + 1e-9),
                        Some(lattice(1, j) * (1.0 + 1e-9) + 1e-9),
                        Some(lattice(2, l) * (1.0 + 1e-9) + 1e-9),
                        None,
                    ];
                    match self.solve([1e-4, 1e-4, 1e-4, 1.0], scales, bounds, options) {
                        Ok(sol) => out.push(sol),
                        Err(ReferenceError::Solve(SolveError::Infeasible { .. })) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let mut unique: Vec<ReferenceSolution> = Vec::new();
        for sol in out {
            if !unique.iter().any(|u| {
                u.objectives
                    .iter()
                    .zip(&sol.objectives)
                    .all(|(a, b)| (a - b).abs() <= 1e-9 * a.abs().max(1.0))
            }) {
                unique.push(sol);
            }
        }
        Ok(unique)
    }
}
