//! The bound model: a linear program whose optimum is a proven lower bound on the fluid
//! simulator's objectives (docs/decisions/0010-certified-front.md).
//!
//! Decision space: per epoch, origin, class and datacenter that hosts the class's model, the
//! fraction of the origin's requests of the class sent there. For a plan `x` the model's value
//! of each objective is the least over work schedules that the simulator's own schedule satisfies,
//! so it is at most the simulator's value of that plan:
//!
//! - **Work.** Each GPU kind of each datacenter receives busy, TDP-weighted and prefill
//!   GPU-seconds linear in `x` (read off the simulator with probes of one class at a time). It
//!   does work `b` (busy), `w` (weighted) and `p` (prefill) per epoch, with backlogs `q >= 0`
//!   carried between epochs, everything done by the end, at most its GPU-seconds of prefill in
//!   an epoch, `f_min b <= w <= f_max b` (every unit of work draws between the lowest and the
//!   highest phase fraction of TDP) and `s_min b <= p <= s_max b` (every unit is a mix of the
//!   classes' prefill and decode). Work is carried only out of an epoch where some node pool had
//!   more of its own work than it serves, and the epoch serves at least what the least of such
//!   pools serves saturated (one binary per kind and datacenter-epoch).
//! - **The power cap.** The simulator caps a kind's power at TDP: work beyond its GPU-seconds
//!   (with the last epoch's drain `ot` past the horizon) draws no energy. The model splits the
//!   work done into charged (`p <= b_c <= A` before the last epoch, `ot >= b_c - A` and
//!   `b_c >= p` in it) and absorbed work, which draws nothing and is allowed only where the
//!   charged time is full (one binary per kind and datacenter-epoch); both draw between the
//!   phase fractions.
//! - **Accounting.** IT energy `sum_g tdp_g (w_c - idle_g b_c + idle_g (A_g + ot_g)) + token
//!   energy`;
//!   facility energy, water and the water share of carbon affine in it, grid energy
//!   `max(0, facility - renewables)` through an epigraph variable
//!   ([`verdant::sim::accounting::LinearAccounting`], the simulator's own coefficients).
//! - **TTFT.** Round trip and unqueued prefill per request (exact), plus per kind and
//!   datacenter-epoch a variable `z` of request-seconds of lane wait above tangent lines of a
//!   convex under-estimator of the simulator's wait at the kind's prefill utilisation
//!   ([`QueueBound`]); and the wait for a carried backlog: the requests it holds over the next
//!   epoch (Little's law), at least its prefill work over the most of one request, with the
//!   backlog draining at most at the kind's rate (tangent cuts of a convex function of it).
//!
//! Not covered by the proof (the report is to name plans that do it): sending requests to a
//! datacenter that hosts no instance of their model (they wait an epoch and draw no energy),
//! and kinds that spill requests to another kind when their queue outgrows their KV memory.

use std::collections::HashMap;

use good_lp::{
    constraint, variable, Constraint, Expression, ProblemVariables, SolverModel, Variable,
};
use highs::{HighsModelStatus, HighsSolutionStatus};
use rayon::prelude::*;
use verdant::allocator::Problem;
use verdant::scenario::Scenario;
use verdant::sim::accounting::{LinearAccounting, J_PER_KWH};
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{FractionPlan, Objectives, Outcome};

use crate::reference::{plan_of_solution, scalarise, ReferenceError};
use crate::{SolveError, SolveStatus, SolverOptions};

/// The model's objectives, in this order.
pub const BOUND_OBJECTIVES: [&str; 5] =
    ["ttft_s", "carbon_kg", "water_l", "cost_usd", "energy_kwh"];

/// Tangent lines of the backlog's mean (`h(q)` for q in (0, 1]; past 1, the last is exact).
const BACKLOG_TANGENTS: usize = 10;

/// The simulator's values of the model's objectives ([`BOUND_OBJECTIVES`]) in a scored plan's
/// objectives (`Outcome::objectives`).
pub fn simulated_objectives(o: &Objectives) -> [f64; 5] {
    [o.ttft_s, o.carbon_kg, o.water_l, o.cost_usd, o.energy_kwh]
}

/// Share of a class a probe sends to the probed datacenter (small: nothing saturates).
const PROBE: f64 = 0.01;

/// HiGHS's interior point method's optimality tolerance (its default): the relative gap between
/// its primal and dual objectives at which it stops; bounds from it without crossover allow
/// for it.
const IPM_OPTIMALITY_TOLERANCE: f64 = 1e-8;

/// A convex piecewise-linear lower bound on the request-seconds of lane wait at one kind of one
/// datacenter in one epoch, as a function of the kind's prefill utilisation `rho`: the largest
/// of its lines `slope * rho + intercept` (and 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueBound {
    /// `(slope, intercept)` of each line.
    pub lines: Vec<(f64, f64)>,
}

impl QueueBound {
    /// The bound at `rho`.
    pub fn at(&self, rho: f64) -> f64 {
        self.lines
            .iter()
            .map(|(a, b)| a * rho + b)
            .fold(0.0, f64::max)
    }

    /// The bound for the classes `classes` at one kind: each class's requests per prefill
    /// GPU-second `r` and its wait per request `m(rho)` (mean prefill seconds times the
    /// lossless wait per second of prefill), with `available` GPU-seconds. The wait the
    /// simulator gives is `rho A (sum_c theta_c r_c)(sum_c theta_c m_c(rho))`, theta the classes'
    /// shares of the prefill work; the least over the mixes (closed form for two classes, the
    /// product of the least `r` and the least `m` for more) is increasing in `rho`, and its
    /// convex under-estimator is the lower convex hull of a staircase under it, closed by a ray
    /// beyond `RHO_MAX` along which every `m_c` is linear (each curve follows its tangent past
    /// its knee, at most 0.999).
    pub fn new(classes: &[(f64, &dyn Fn(f64) -> f64)], available: f64) -> Self {
        const STEPS: usize = 600;
        const RHO_MAX: f64 = 1.5;
        if classes.is_empty() || available <= 0.0 {
            return QueueBound::default();
        }
        let least_over_mixes = |rho: f64| -> f64 {
            let m: Vec<f64> = classes.iter().map(|(_, f)| f(rho)).collect();
            match classes.len() {
                1 => classes[0].0 * m[0],
                2 => {
                    let (r1, r2, m1, m2) = (classes[0].0, classes[1].0, m[0], m[1]);
                    // (t r1 + (1 - t) r2)(t m1 + (1 - t) m2) over t in [0, 1]: least at an
                    // end, or at the stationary point when the parabola opens upwards.
                    let f = |t: f64| (t * r1 + (1.0 - t) * r2) * (t * m1 + (1.0 - t) * m2);
                    let (dr, dm) = (r1 - r2, m1 - m2);
                    let mut least = f(0.0).min(f(1.0));
                    if dr * dm > 0.0 {
                        let t = -(r2 * dm + m2 * dr) / (2.0 * dr * dm);
                        if (0.0..=1.0).contains(&t) {
                            least = least.min(f(t));
                        }
                    }
                    least.max(0.0)
                }
                _ => {
                    let r = classes.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
                    r * m.iter().copied().fold(f64::INFINITY, f64::min)
                }
            }
        };
        let g = |rho: f64| rho * available * least_over_mixes(rho);
        // The staircase (rho_{i+1}, G(rho_i)) lies under G where G increases; the suffix minimum
        // keeps it under G even where the tabulated curves dip.
        let grid: Vec<f64> = (0..=STEPS)
            .map(|i| RHO_MAX * i as f64 / STEPS as f64)
            .collect();
        let mut values: Vec<f64> = grid.iter().map(|&r| g(r)).collect();
        for i in (0..STEPS).rev() {
            values[i] = values[i].min(values[i + 1]);
        }
        let mut points: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        for i in 0..STEPS {
            points.push((grid[i + 1], values[i]));
        }
        // Beyond RHO_MAX: G(rho) >= G(RHO_MAX) + s (rho - RHO_MAX), s the least slope of
        // rho r m(rho) there over the classes (each m linear beyond the knees).
        let r_least = classes.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        let slope_least = classes
            .iter()
            .map(|(_, f)| {
                let (m0, m1) = (f(RHO_MAX), f(RHO_MAX + 1.0));
                m0 + RHO_MAX * (m1 - m0)
            })
            .fold(f64::INFINITY, f64::min);
        let ray = available * r_least * slope_least.max(0.0);
        let far = 1e6;
        points.push((far, values[STEPS] + ray * (far - RHO_MAX)));
        let hull = lower_hull(&points);
        // Each facet of the hull with its start; at most one per 0.05 of utilisation (a subset
        // of the facets is still under the hull): the model stays small, the bound loses little.
        let mut kept: Vec<(f64, f64)> = Vec::new();
        let mut last_start = f64::NEG_INFINITY;
        for w in hull.windows(2).filter(|w| w[1].0 > w[0].0) {
            let slope = (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
            let start = w[0].0;
            if slope > 0.0 && (start - last_start >= 0.05 || start >= 0.9) {
                kept.push((slope, w[0].1 - slope * start));
                last_start = start;
            }
        }
        QueueBound { lines: kept }
    }
}

/// Lower convex hull of points sorted by x (Andrew's monotone chain, lower half).
fn lower_hull(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for &p in points {
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
            if cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    hull
}

/// The least of `(u - u0) (v - v0)` over the convex hull of `points` (bilinear: its least lies on
/// a segment between two points, at an end or where the quadratic along it is stationary).
fn least_product(points: &[(f64, f64)], u0: f64, v0: f64) -> f64 {
    let mut least = f64::INFINITY;
    for (i, &(u1, v1)) in points.iter().enumerate() {
        for &(u2, v2) in &points[i..] {
            let (a, b) = (u1 - u0, v1 - v0);
            let (du, dv) = (u2 - u1, v2 - v1);
            let along = |t: f64| (a + t * du) * (b + t * dv);
            least = least.min(along(0.0)).min(along(1.0));
            if du * dv > 0.0 {
                let t = -(a * dv + b * du) / (2.0 * du * dv);
                if t > 0.0 && t < 1.0 {
                    least = least.min(along(t));
                }
            }
        }
    }
    least
}

/// The bound model of a problem's scenario.
#[derive(Debug, Clone)]
pub struct BoundModel<'a> {
    scenario: &'a Scenario,
    /// The decision space (which datacenters host which class).
    pub planner: EpochPlanner,
    kinds: usize,
    origins: usize,
    /// Per cell (epoch, origin, class, datacenter) and kind,
    /// `[(((e * no + o) * nc + c) * nd + d) * ng + g]`: busy, TDP-weighted and prefill
    /// GPU-seconds of all the cell's requests there (busy and weighted: their decode part a
    /// linear under-estimator, [`BoundModel::new`]).
    busy: Vec<f64>,
    weighted: Vec<f64>,
    prefill: Vec<f64>,
    /// Per cell (epoch, origin, class, datacenter): token energy (kWh) and request-seconds of
    /// round trip and unqueued prefill with all the cell's requests there.
    token_kwh: Vec<f64>,
    ttft_request_s: Vec<f64>,
    total_requests: f64,
    /// GPU-seconds per epoch of each kind at each datacenter, `[d * ng + g]`.
    available: Vec<f64>,
    /// Per kind: TDP (W), idle fraction, the least and the largest fraction of TDP any model
    /// draws on it.
    gpu: Vec<[f64; 4]>,
    /// Per (epoch, datacenter): the accounting's coefficients.
    linear: Vec<LinearAccounting>,
    /// Whether any datacenter-epoch has on-site renewables (grid energy needs its epigraph).
    renewables: bool,
    /// Per (epoch, datacenter, kind), `[(e * nd + d) * ng + g]`: the lane wait's lower bound.
    queue: Vec<QueueBound>,
    /// Per (datacenter, kind), `[d * ng + g]`: the kind's node pools, each its share of the
    /// kind's new prefill work and the least prefill it serves in an epoch where it is saturated,
    /// in units of the kind's GPU-seconds per epoch. Work is left over only where some pool had
    /// more of its own work (its share of the new work and its backlog) than it serves, and it
    /// then served all it could ([`verdant::sim::fluid::PoolCapacity`]).
    pools: Vec<Vec<[f64; 2]>>,
    /// Per (epoch, datacenter, kind), `[(e * nd + d) * ng + g]`: the most busy work any plan can
    /// have sent there up to the epoch (everything of every class since the first), so the most
    /// an epoch can do or carry, in units of the kind's GPU-seconds per epoch.
    carry_cap: Vec<f64>,
    /// Per (datacenter, kind), `[d * ng + g]`: the most prefill GPU-seconds of one request of any
    /// class in any epoch (a backlog of prefill work `W` holds at least `W /` this requests).
    prefill_per_request: Vec<f64>,
    /// Seconds per epoch.
    epoch_s: f64,
    /// Per (datacenter, kind), `[d * ng + g]`: the least and the largest prefill GPU-seconds per
    /// busy GPU-second of any class in any epoch (every mix of work, carried or done, lies
    /// between).
    prefill_share: Vec<[f64; 2]>,
    /// The largest relative correction `delta` of the decode under-estimator over the
    /// (epoch, class) pairs: how far mixes of origins can take decode below the linear model.
    pub decode_mix_delta: f64,
    /// Whether work is carried only out of overloaded epochs (one binary per kind and
    /// datacenter-epoch: a MILP), or wherever the schedule likes (an LP, looser).
    pub forced_carry: bool,
    /// Whether the schedule's switches (forced carry, the power cap) are relaxed to [0, 1]: an
    /// LP whose optimum is at most the MILP's, so still a lower bound on every plan it covers,
    /// looser but much faster to solve over plans.
    pub relaxed: bool,
}

/// One solve of the bound model.
#[derive(Debug, Clone)]
pub struct BoundSolution {
    /// The plan found (none where a solve stopped at its limit before finding one).
    pub plan: Option<FractionPlan>,
    /// The model's value of each objective ([`BOUND_OBJECTIVES`]) at the solution: for those
    /// the solve weighted or bounded (the model leaves out what the others alone need).
    pub bound: [Option<f64>; 5],
    /// A proven lower bound on the solve's scalarised objective (`weights . objectives /
    /// scales`) over the plans the solve allowed: HiGHS's MIP dual bound (valid when the solve
    /// stops at its time limit too), a finished LP's optimum; minus infinity where HiGHS gave
    /// none. With one weight of 1 and scale 1, a lower bound on that objective over every plan
    /// the model covers.
    pub lower: f64,
    /// How to read the solution.
    pub status: SolveStatus,
}

/// The model's lower bounds of one plan's objectives ([`BOUND_OBJECTIVES`]), each the least
/// over the schedules the plan allows, and how each solve ended: a solve stopped at its time
/// limit gives HiGHS's dual bound, valid but looser (minus infinity where it had none yet).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanBounds {
    /// The lower bound of each objective.
    pub lower: [f64; 5],
    /// How each objective's solve ended.
    pub status: [SolveStatus; 5],
}

/// The variables of one build of the model and the expressions of its objectives.
struct Built {
    vars: ProblemVariables,
    x: Vec<Option<Variable>>,
    /// TTFT in request-seconds (over all requests: the mean), the others in their units.
    objectives: [Expression; 5],
    constraints: Vec<Constraint>,
    /// The range of every variable whose range is not `[0, infinity)`.
    ranges: HashMap<Variable, (f64, f64)>,
    /// Whether any variable is binary (a MILP).
    integer: bool,
}

impl<'a> BoundModel<'a> {
    /// Reads the model's coefficients off `problem`'s fluid simulator.
    pub fn new(problem: &Problem<'a>) -> Result<Self, ReferenceError> {
        let s = problem.scenario;
        let (ne, nc, nd, ng, no) = (
            s.time.epochs,
            s.classes.len(),
            s.datacenters.len(),
            s.gpus.len(),
            s.origins.len(),
        );
        if nd < 2 {
            return Err(ReferenceError::Scenario {
                scenario: s.name.clone(),
                message: format!(
                    "the bound model probes with at least 2 datacenters, this scenario has {nd}"
                ),
            });
        }
        let planner = EpochPlanner::new(s, 1.0);
        let mut sim = problem.fluid();
        let mut out = Outcome::default();
        let mut plan =
            FractionPlan::from_fn(ne, no, nc, nd, |_, _, _, d| if d == 0 { 1.0 } else { 0.0 })?;
        // Per cell (epoch, origin, class, datacenter), `[((e * no + o) * nc + c) * nd + d]`, and
        // kind: the work of all the cell's requests there. Prefill and token energy are linear
        // in the tokens sent, so exact per origin. Decode is not: an instance's KV room is shared
        // in proportion to the cell's mean tokens per request, so the decode GPU-seconds of a
        // mix of origins are `D* f(x) / f(1)` with `f = O T / R` (output and all tokens and
        // requests sent, summed over origins), `D*` the decode of the whole class (probed).
        // `f` is not convex; with `u, v` the mix's output and all tokens per request,
        // `f(x) - grad f(1) . x = R (u - u*) (v - v*) >= -R Delta`, `Delta` the most negative
        // that product gets over mixes of the origins (a bilinear function over their convex
        // hull: its least on an edge). So `D* sum_o x_o (O_o/O* + T_o/T* - (1 + delta) R_o/R*)`
        // is a linear under-estimator, exact where every origin sends the same shares and
        // `delta = 0` (`delta = Delta / (u* v*)`).
        let cells = ne * no * nc * nd;
        let mut busy = vec![0.0; cells * ng];
        let mut weighted = vec![0.0; cells * ng];
        let mut prefill = vec![0.0; cells * ng];
        let mut token_kwh = vec![0.0; cells];
        let demand = &s.demand;
        let mut largest_delta = 0.0f64;
        // Round trip and unqueued prefill, request-seconds per cell; the class totals.
        let mut ttft_request_s = vec![0.0; cells];
        let mut total_requests = 0.0;
        let mut class_totals = vec![[0.0; 3]; ne * nc];
        for e in 0..ne {
            for c in 0..nc {
                let per_origin: Vec<[f64; 3]> = (0..no)
                    .map(|o| {
                        let (r, i, out) = (
                            demand.requests(o, c, e),
                            demand.input_tokens(o, c, e),
                            demand.output_tokens(o, c, e),
                        );
                        for d in (0..nd).filter(|&d| planner.hosts(c, d)) {
                            ttft_request_s[((e * no + o) * nc + c) * nd + d] =
                                r * s.network.round_trip_s[o][d]
                                    + r * sim.service_s(c, d, i, out, r);
                        }
                        [r, i, out]
                    })
                    .collect();
                let [r_all, i_all, o_all] = per_origin
                    .iter()
                    .fold([0.0; 3], |t, x| [t[0] + x[0], t[1] + x[1], t[2] + x[2]]);
                class_totals[e * nc + c] = [r_all, i_all, o_all];
                total_requests += r_all;
                if r_all <= 0.0 {
                    continue;
                }
                let t_all = i_all + o_all;
                let points: Vec<(f64, f64)> = per_origin
                    .iter()
                    .filter(|x| x[0] > 0.0)
                    .map(|x| (x[2] / x[0], (x[1] + x[2]) / x[0]))
                    .collect();
                let (u_star, v_star) = (o_all / r_all, t_all / r_all);
                let delta = if u_star > 0.0 && v_star > 0.0 {
                    least_product(&points, u_star, v_star).min(0.0).abs() / (u_star * v_star)
                } else {
                    0.0
                };
                largest_delta = largest_delta.max(delta);
                let class = &s.classes[c];
                let prefill_fraction = class
                    .model
                    .map_or(0.0, |m| s.models[m].prefill_tdp_fraction);
                let (kwh_in, kwh_out) = (
                    class.energy_kwh_per_input_token.unwrap_or(0.0),
                    class.energy_kwh_per_output_token.unwrap_or(0.0),
                );
                for d in 0..nd {
                    if !planner.hosts(c, d) {
                        continue;
                    }
                    // PROBE of class c to d, everything else to another datacenter.
                    let other = (d + 1) % nd;
                    for k in 0..nc {
                        let mut row = vec![0.0; nd];
                        if k == c {
                            row[other] = 1.0 - PROBE;
                            row[d] = PROBE;
                        } else {
                            row[other] = 1.0;
                        }
                        plan.set_epoch_class(e, k, &row)?;
                    }
                    sim.clear_backlog();
                    sim.score_epoch(&plan, e, &mut out)?;
                    let a = sim.logged_activity(e, d);
                    let token_all = a.token_energy_kwh / PROBE;
                    if (token_all - (kwh_in * i_all + kwh_out * o_all)).abs()
                        > 1e-9 * token_all.abs().max(1e-12)
                    {
                        return Err(ReferenceError::Scenario {
                            scenario: s.name.clone(),
                            message: format!(
                                "epoch {e}, class {c}, datacenter {d}: the simulator's token \
                                 energy is not the class's per-token energy times its tokens"
                            ),
                        });
                    }
                    // Per kind: prefill GPU-seconds per input token, and the whole class's
                    // decode busy and weighted GPU-seconds.
                    let kinds: Vec<[f64; 3]> = (0..ng)
                        .map(|g| {
                            let per_token = sim
                                .lane_terms(c, d, g)
                                .map_or(0.0, |t| t.prefill_gpu_s_per_input_token);
                            let prefill_all = per_token * i_all;
                            [
                                per_token,
                                a.busy_gpu_s[g] / PROBE - prefill_all,
                                a.tdp_weighted_gpu_s[g] / PROBE - prefill_all * prefill_fraction,
                            ]
                        })
                        .collect();
                    for (o, &[r, i, out_tokens]) in per_origin.iter().enumerate() {
                        let j = ((e * no + o) * nc + c) * nd + d;
                        if r <= 0.0 {
                            continue;
                        }
                        token_kwh[j] = kwh_in * i + kwh_out * out_tokens;
                        let decode_share = if o_all > 0.0 {
                            out_tokens / o_all + (i + out_tokens) / t_all
                                - (1.0 + delta) * r / r_all
                        } else {
                            0.0
                        };
                        for (g, &[per_token, decode_busy, decode_weighted]) in
                            kinds.iter().enumerate()
                        {
                            let p = per_token * i;
                            prefill[j * ng + g] = p;
                            busy[j * ng + g] = p + decode_busy * decode_share;
                            weighted[j * ng + g] =
                                p * prefill_fraction + decode_weighted * decode_share;
                        }
                    }
                }
            }
        }
        let accountant = sim.accountant();
        let available: Vec<f64> = (0..nd)
            .flat_map(|d| accountant.available_gpu_s(d).to_vec())
            .collect();
        let gpu: Vec<[f64; 4]> = s
            .gpus
            .iter()
            .enumerate()
            .map(|(g, kind)| {
                let fractions = s
                    .models
                    .iter()
                    .filter(|m| m.speed.get(g).is_some_and(|x| x.is_some()))
                    .flat_map(|m| [m.prefill_tdp_fraction, m.decode_tdp_fraction]);
                let (lo, hi) = fractions.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), f| {
                    (a.min(f), b.max(f))
                });
                let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
                [kind.tdp_w, kind.idle_tdp_fraction, lo, hi]
            })
            .collect();
        let linear: Vec<LinearAccounting> = (0..ne)
            .flat_map(|e| (0..nd).map(move |d| (e, d)))
            .map(|(e, d)| accountant.datacenter(d).linear(e))
            .collect();
        let renewables = linear.iter().any(|l| l.renewable_kwh > 0.0);
        // The lane wait's bound per (e, d, g).
        let mut queue = vec![QueueBound::default(); ne * nd * ng];
        for e in 0..ne {
            for d in 0..nd {
                for g in 0..ng {
                    let a = available[d * ng + g];
                    let mut terms: Vec<(f64, usize, f64)> = Vec::new();
                    for c in 0..nc {
                        let [r, input, _] = class_totals[e * nc + c];
                        let Some(t) = sim.lane_terms(c, d, g) else {
                            continue;
                        };
                        if r <= 0.0 || input <= 0.0 || !planner.hosts(c, d) {
                            continue;
                        }
                        let work_per_request = t.prefill_gpu_s_per_input_token * input / r;
                        let prefill_s = t.prefill_s_per_input_token * input / r;
                        terms.push((t.share / work_per_request, c, prefill_s));
                    }
                    let sim_ref = &sim;
                    let waits: Vec<Box<dyn Fn(f64) -> f64 + '_>> = terms
                        .iter()
                        .map(|&(_, c, prefill_s)| {
                            Box::new(move |rho: f64| {
                                prefill_s * sim_ref.lossless_lane_wait(c, d, g, rho)
                            }) as Box<dyn Fn(f64) -> f64>
                        })
                        .collect();
                    let classes: Vec<(f64, &dyn Fn(f64) -> f64)> = terms
                        .iter()
                        .zip(&waits)
                        .map(|(t, w)| (t.0, w.as_ref()))
                        .collect();
                    queue[(e * nd + d) * ng + g] = QueueBound::new(&classes, a);
                }
            }
        }
        let pools: Vec<Vec<[f64; 2]>> = (0..nd)
            .flat_map(|d| (0..ng).map(move |g| (d, g)))
            .map(|(d, g)| {
                let a = available[d * ng + g];
                if a <= 0.0 {
                    return Vec::new();
                }
                sim.pool_capacities(d, g)
                    .map(|p| [p.share, p.least_gpu_s / a])
                    .collect()
            })
            .collect();
        let mut carry_cap = vec![0.0; ne * nd * ng];
        for d in 0..nd {
            for g in 0..ng {
                let a = available[d * ng + g];
                let mut cumulative = 0.0;
                for e in 0..ne {
                    for oc in 0..no * nc {
                        cumulative += busy[((e * no * nc + oc) * nd + d) * ng + g].max(0.0);
                    }
                    carry_cap[(e * nd + d) * ng + g] = if a > 0.0 { cumulative / a } else { 0.0 };
                }
            }
        }
        let prefill_share: Vec<[f64; 2]> = (0..nd * ng)
            .map(|j| {
                let (d, g) = (j / ng, j % ng);
                let (lo, hi) = (0..ne * no * nc)
                    .map(|eoc| (eoc * nd + d) * ng + g)
                    .filter(|&k| busy[k] > 0.0)
                    .map(|k| prefill[k] / busy[k])
                    .fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
                        (lo.min(r), hi.max(r))
                    });
                if lo.is_finite() {
                    [lo, hi]
                } else {
                    [0.0, 0.0]
                }
            })
            .collect();
        let prefill_per_request: Vec<f64> = (0..nd * ng)
            .map(|j| {
                let (d, g) = (j / ng, j % ng);
                (0..ne * no * nc)
                    .map(|eoc| {
                        let (e, o, c) = (eoc / (no * nc), (eoc / nc) % no, eoc % nc);
                        let r = demand.requests(o, c, e);
                        if r > 0.0 {
                            prefill[(eoc * nd + d) * ng + g] / r
                        } else {
                            0.0
                        }
                    })
                    .fold(0.0, f64::max)
            })
            .collect();
        Ok(BoundModel {
            pools,
            prefill_share,
            prefill_per_request,
            epoch_s: s.time.epoch_s,
            carry_cap,
            decode_mix_delta: largest_delta,
            forced_carry: true,
            relaxed: false,
            scenario: s,
            planner,
            kinds: ng,
            origins: no,
            busy,
            weighted,
            prefill,
            token_kwh,
            ttft_request_s,
            total_requests,
            available,
            gpu,
            linear,
            renewables,
            queue,
        })
    }

    /// A switch of the schedule (carry, cap): binary, or in [0, 1] where `relaxed`.
    fn switch(&self) -> good_lp::VariableDefinition {
        if self.relaxed {
            variable().min(0.0).max(1.0)
        } else {
            variable().binary()
        }
    }

    /// The lane wait's bound at kind `g` of datacenter `d` in epoch `e`.
    pub fn queue_bound(&self, e: usize, d: usize, g: usize) -> &QueueBound {
        let nd = self.planner.datacenters;
        &self.queue[(e * nd + d) * self.kinds + g]
    }

    /// Builds the model: the plan's fractions (fixed to `fixed` where given), the schedule, the
    /// objectives, and only what the objectives in use need: the waits' variables and cuts where
    /// TTFT is (`waits`; without them the TTFT expression is its lower part, round trip and
    /// unqueued prefill), the schedule's switches (forced carry and the power cap, binaries that
    /// make the model a MILP) where any other objective is (`switches`; without them the
    /// schedule is freer, which only lowers the bound, and TTFT's terms do not need them).
    fn build(&self, fixed: Option<&FractionPlan>, waits: bool, switches: bool) -> Built {
        let (ne, no, nc, nd, ng) = (
            self.planner.epochs,
            self.origins,
            self.planner.classes,
            self.planner.datacenters,
            self.kinds,
        );
        let mut vars = ProblemVariables::new();
        let mut constraints = Vec::new();
        let mut switch_count = 0usize;
        // The range of every variable other than `[0, infinity)`: the plan's shares and the
        // switches ([`relax_tiny_entries`] reads them).
        let mut ranges: HashMap<Variable, (f64, f64)> = HashMap::new();
        // One share per cell (epoch, origin, class, datacenter that hosts the class's model).
        let x: Vec<Option<Variable>> = (0..ne * no * nc * nd)
            .map(|k| {
                let (e, o, c, d) = (
                    k / (no * nc * nd),
                    (k / (nc * nd)) % no,
                    (k / nd) % nc,
                    k % nd,
                );
                self.planner.hosts(c, d).then(|| {
                    let (lo, hi) = match fixed {
                        Some(plan) => {
                            let v = plan.row(e, o, c)[d].clamp(0.0, 1.0);
                            (v, v)
                        }
                        None => (0.0, 1.0),
                    };
                    let v = vars.add(variable().min(lo).max(hi));
                    ranges.insert(v, (lo, hi));
                    v
                })
            })
            .collect();
        let mut f: [Expression; 5] = Default::default();
        for eoc in 0..ne * no * nc {
            let mut row = Expression::from(0.0);
            for d in 0..nd {
                let k = eoc * nd + d;
                if let Some(v) = x[k] {
                    row += v;
                    f[0] += self.ttft_request_s[k] * v;
                }
            }
            if fixed.is_none() {
                constraints.push(constraint!(row == 1.0));
            }
        }
        // Work in units of the kind's GPU-seconds per epoch (HiGHS solves well-scaled models
        // much faster).
        let arriving = |table: &Vec<f64>, e: usize, d: usize, g: usize| -> Expression {
            let per_available = 1.0 / self.available[d * ng + g];
            let mut sum = Expression::from(0.0);
            for oc in 0..no * nc {
                let k = (e * no * nc + oc) * nd + d;
                if let Some(v) = x[k] {
                    let coef = table[k * ng + g] * per_available;
                    if coef != 0.0 {
                        sum += coef * v;
                    }
                }
            }
            sum
        };
        // IT energy per (e, d), kWh, as expressions.
        let mut it: Vec<Expression> = (0..ne * nd)
            .map(|j| {
                let (e, d) = (j / nd, j % nd);
                let mut sum = Expression::from(0.0);
                for oc in 0..no * nc {
                    let k = (e * no * nc + oc) * nd + d;
                    if let Some(v) = x[k] {
                        if self.token_kwh[k] != 0.0 {
                            sum += self.token_kwh[k] * v;
                        }
                    }
                }
                sum
            })
            .collect();
        for d in 0..nd {
            for g in 0..ng {
                let a = self.available[d * ng + g];
                if a <= 0.0 {
                    continue;
                }
                let [tdp, idle, f_lo, f_hi] = self.gpu[g];
                // kWh of one epoch of the kind at full power.
                let per_kwh = tdp * a / J_PER_KWH;
                let [share_lo, share_hi] = self.prefill_share[d * ng + g];
                let (mut q_busy, mut q_weighted, mut q_prefill) = (
                    Expression::from(0.0),
                    Expression::from(0.0),
                    Expression::from(0.0),
                );
                // At a fixed plan, no more can be carried than has arrived.
                let mut arrived = 0.0;
                // At a fixed plan with forced carry, the most prefill and busy work the kind can
                // carry out of the epoch before (a Lindley recursion: an epoch that carries
                // has a saturated pool), so whether it can carry or exceed its
                // GPU-seconds at all (no binary where it cannot) and how much (tight Ms).
                let lindley = fixed.is_some() && switches && self.forced_carry;
                let pools = &self.pools[d * ng + g];
                let least_pool = match pools.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min) {
                    least if least.is_finite() => least,
                    _ => 0.0,
                };
                let (mut carried_prefill_max, mut carried_busy_max) = (0.0f64, 0.0f64);
                for e in 0..ne {
                    // Lane wait: z >= each line of the bound at rho = prefill / A.
                    let bound = self.queue_bound(e, d, g);
                    if waits && !bound.lines.is_empty() {
                        // z: the wait's request-seconds.
                        let z = vars.add(variable().min(0.0));
                        let rho = arriving(&self.prefill, e, d, g);
                        for &(slope, intercept) in &bound.lines {
                            constraints.push(constraint!(z >= slope * rho.clone() + intercept));
                        }
                        f[0] += z;
                    }
                    let (mut arriving_prefill, mut arriving_busy) = (0.0, 0.0);
                    if let Some(plan) = fixed {
                        for oc in 0..no * nc {
                            let k = (e * no * nc + oc) * nd + d;
                            if x[k].is_some() {
                                let (o, c) = (oc / nc, oc % nc);
                                let share = plan.row(e, o, c)[d];
                                arriving_busy += self.busy[k * ng + g] / a * share;
                                arriving_prefill += self.prefill[k * ng + g] / a * share;
                            }
                        }
                        arrived += arriving_busy;
                    }
                    let (present_prefill_max, present_busy_max) = (
                        carried_prefill_max + arriving_prefill,
                        carried_busy_max + arriving_busy,
                    );
                    // What an epoch that carries serves at least: the least of the pools that
                    // can be saturated by their own work (at a fixed plan, those whose share of
                    // the new work and at most all the kind carried in can exceed what they
                    // serve saturated); none, and the kind carries nothing. (A pool left with
                    // work either had more of its own than it serves, or took work a pool that
                    // had more sent on; a pool that had more serves all it can.)
                    let headroom = if lindley {
                        pools
                            .iter()
                            .filter(|p| carried_prefill_max + p[0] * arriving_prefill > p[1])
                            .map(|p| p[1])
                            .fold(f64::INFINITY, f64::min)
                    } else {
                        least_pool
                    };
                    let can_carry = !lindley || headroom.is_finite();
                    if lindley {
                        (carried_prefill_max, carried_busy_max) = if can_carry {
                            (
                                (present_prefill_max - headroom).max(0.0),
                                (present_busy_max - headroom).max(0.0),
                            )
                        } else {
                            (0.0, 0.0)
                        };
                    }
                    let last = e + 1 == ne;
                    // The most busy work present (all that has arrived since the first epoch).
                    let cumulative = match fixed {
                        Some(_) => arrived,
                        None => self.carry_cap[(e * nd + d) * ng + g],
                    };
                    let present_busy = q_busy.clone() + arriving(&self.busy, e, d, g);
                    let present_weighted = q_weighted.clone() + arriving(&self.weighted, e, d, g);
                    let present_prefill = q_prefill.clone() + arriving(&self.prefill, e, d, g);
                    let (done_busy, done_weighted, done_prefill) = if last || !can_carry {
                        if !last {
                            constraints.push(constraint!(present_prefill.clone() <= 1.0));
                        }
                        (present_busy, present_weighted, present_prefill)
                    } else {
                        let qb = vars.add(variable().min(0.0));
                        let qw = vars.add(variable().min(0.0));
                        let qp = vars.add(variable().min(0.0));
                        let done_busy = present_busy - qb;
                        let done_weighted = present_weighted - qw;
                        let done_prefill = present_prefill - qp;
                        // What is carried draws between the least and the largest fraction,
                        // and is a mix of the classes' prefill and decode.
                        constraints.push(constraint!(qw >= f_lo * qb));
                        constraints.push(constraint!(qw <= f_hi * qb));
                        constraints.push(constraint!(qp >= share_lo * qb));
                        constraints.push(constraint!(qp <= share_hi * qb));
                        // An epoch serves at most its GPU-seconds of prefill.
                        constraints.push(constraint!(done_prefill.clone() <= 1.0));
                        // The wait for the backlog: the next epoch drains the prefill carried,
                        // `qp` (in epochs of the kind's time), at most at rate 1, so the backlog
                        // it holds has a mean of at least `h(qp)` (`qp^2 / 2` up to 1, then
                        // `qp - 1/2`), and every request in it waits: at least `A h(qp) / (most
                        // prefill per request)` requests over the epoch (Little's law), each
                        // second counted in the TTFT. `h` is convex: its tangents are cuts.
                        let most = self.prefill_per_request[d * ng + g];
                        if waits && most > 0.0 {
                            let per_unit = self.epoch_s * a / most;
                            let zb = vars.add(variable().min(0.0));
                            for i in 1..=BACKLOG_TANGENTS {
                                let q0 = i as f64 / BACKLOG_TANGENTS as f64;
                                constraints.push(constraint!(
                                    zb >= (per_unit * q0) * qp - per_unit * q0 * q0 / 2.0
                                ));
                            }
                            f[0] += zb;
                            // The wait while the backlog builds: the requests that arrive in the
                            // epoch and are not served at once are queued in it for at least
                            // half of what the kind's backlog grew by, on average over the epoch
                            // (the backlog of the epoch's own requests starts at 0 and grows
                            // ever slower, decision 0010), each one in at most `most` of prefill:
                            // at least `per_unit / 2 (qp - carried in)` request-seconds, a part
                            // of their waits the drains do not count (those are the next
                            // epoch's).
                            let zg = vars.add(variable().min(0.0));
                            constraints.push(constraint!(
                                zg >= (per_unit / 2.0) * (qp - q_prefill.clone())
                            ));
                            f[0] += zg;
                        }
                        if switches && self.forced_carry {
                            // Work is carried only by an overloaded epoch, which serves at least
                            // what its saturated pools serve (binary `over`).
                            let over = vars.add(self.switch());
                            ranges.insert(over, (0.0, 1.0));
                            switch_count += 1;
                            let most_carried = if lindley {
                                carried_busy_max
                            } else {
                                cumulative
                            };
                            constraints.push(constraint!(qb <= most_carried * over));
                            constraints.push(constraint!(done_prefill.clone() >= headroom * over));
                        }
                        (q_busy, q_weighted, q_prefill) = (qb.into(), qw.into(), qp.into());
                        (done_busy, done_weighted, done_prefill)
                    };
                    constraints.push(constraint!(done_busy.clone() >= 0.0));
                    constraints.push(constraint!(
                        done_weighted.clone() >= f_lo * done_busy.clone()
                    ));
                    constraints.push(constraint!(
                        done_weighted.clone() <= f_hi * done_busy.clone()
                    ));
                    constraints.push(constraint!(
                        done_prefill.clone() >= share_lo * done_busy.clone()
                    ));
                    constraints.push(constraint!(
                        done_prefill.clone() <= share_hi * done_busy.clone()
                    ));
                    // The power cap: work beyond the kind's GPU-seconds (with the last epoch's
                    // overtime) draws no energy, the rest draws the epoch's mean fraction of TDP.
                    // In the model: work `absorbed` at no energy, only where the charged busy
                    // time is full (binary `capped`), drawing between the phase fractions like
                    // the charged work. The charged time is at least the prefill done (the
                    // epoch serves at most its GPU-seconds of prefill, and the last epoch's
                    // overtime is at least the time its pools take to drain their prefill).
                    let most_done = if lindley {
                        present_busy_max
                    } else if share_lo > 0.0 && !last {
                        cumulative.min(1.0 / share_lo)
                    } else {
                        cumulative
                    };
                    let absorb_cap = (most_done - 1.0).max(0.0);
                    let (charged_busy, charged_weighted) = if !switches {
                        // Energy is not in use: the charged work is all the work, unbounded.
                        (done_busy.clone(), done_weighted)
                    } else if absorb_cap > 0.0 {
                        let cb = vars.add(variable().min(0.0));
                        let cw = vars.add(variable().min(0.0));
                        let capped = vars.add(self.switch());
                        ranges.insert(capped, (0.0, 1.0));
                        switch_count += 1;
                        constraints.push(constraint!(cb >= capped));
                        constraints.push(constraint!(cb >= done_prefill));
                        if !last {
                            constraints.push(constraint!(cb <= 1.0));
                        }
                        let absorbed_busy = done_busy.clone() - cb;
                        let absorbed_weighted = done_weighted.clone() - cw;
                        constraints.push(constraint!(absorbed_busy.clone() >= 0.0));
                        constraints.push(constraint!(absorbed_busy.clone() <= absorb_cap * capped));
                        constraints.push(constraint!(cw >= f_lo * cb));
                        constraints.push(constraint!(cw <= f_hi * cb));
                        constraints.push(constraint!(
                            absorbed_weighted.clone() >= f_lo * absorbed_busy.clone()
                        ));
                        constraints.push(constraint!(absorbed_weighted <= f_hi * absorbed_busy));
                        (Expression::from(cb), Expression::from(cw))
                    } else {
                        if !last {
                            constraints.push(constraint!(done_busy.clone() <= 1.0));
                        }
                        (done_busy.clone(), done_weighted)
                    };
                    let j = e * nd + d;
                    it[j] +=
                        per_kwh * (charged_weighted - idle * charged_busy.clone()) + per_kwh * idle;
                    if last {
                        let overtime = vars.add(variable().min(0.0));
                        constraints.push(constraint!(overtime >= charged_busy - 1.0));
                        it[j] += per_kwh * idle * overtime;
                    }
                }
            }
        }
        for (j, it) in it.into_iter().enumerate() {
            let l = &self.linear[j];
            let facility = l.facility_per_it() * it.clone();
            let grid: Expression = if self.renewables {
                let grid = vars.add(variable().min(0.0));
                constraints.push(constraint!(grid >= facility.clone() - l.renewable_kwh));
                grid.into()
            } else {
                facility.clone()
            };
            f[1] +=
                l.carbon_kg_per_kwh * grid.clone() + l.water_carbon_kg_per_it_kwh() * it.clone();
            f[2] += l.water_l_per_it_kwh() * it;
            f[3] += l.price_usd_per_kwh * grid;
            f[4] += facility;
        }
        Built {
            vars,
            x,
            objectives: f,
            constraints,
            ranges,
            integer: switch_count > 0 && !self.relaxed,
        }
    }

    /// The model [`BoundModel::solve`] hands HiGHS before [`relax_tiny_entries`]: its build
    /// with only what the objectives in use (`uses`, [`in_use`]) need, the scalarised objective
    /// and the bounds' rows. The model's TTFT is request-seconds (its rows' coefficients stay
    /// well above what HiGHS drops: over all requests they did not, decision 0010); the mean
    /// over the requests is only in its scale and its bound.
    fn prepare(
        &self,
        weights: [f64; 5],
        scales: [f64; 5],
        bounds: [Option<f64>; 5],
        fixed: Option<&FractionPlan>,
        uses: [bool; 5],
    ) -> (Built, Expression) {
        let mut built = self.build(fixed, uses[0], uses[1..].iter().any(|&u| u));
        let requests = self.total_requests.max(1e-300);
        let (mut scales, mut bounds) = (scales, bounds);
        scales[0] *= requests;
        bounds[0] = bounds[0].map(|b| b * requests);
        let objective = scalarise(
            &built.objectives,
            &weights,
            &scales,
            &bounds,
            &mut built.constraints,
        );
        (built, objective)
    }

    /// Minimises `weights . objectives / scales` subject to `bounds` (an upper bound per
    /// objective, or none), over plans (or at the plan `fixed`, over schedules only).
    ///
    /// An LP over plans with the schedule in it goes to HiGHS's interior point method without
    /// crossover to a vertex (the certification needs the optimum's value and a plan, not a
    /// basis: geo-8dc's least carbon 11-13 s with crossover, 6-8 s without, the values equal to
    /// 1e-9 relative); where that ends without a solution it is solved again with crossover.
    /// Scales that put the objective far from the objectives' own units slow the method down
    /// (a carbon-weighted step over its range took 34-59 s, in kg 19 s).
    pub fn solve(
        &self,
        weights: [f64; 5],
        scales: [f64; 5],
        bounds: [Option<f64>; 5],
        fixed: Option<&FractionPlan>,
        options: &SolverOptions,
    ) -> Result<BoundSolution, ReferenceError> {
        match self.solve_with(weights, scales, bounds, fixed, options, false) {
            Err(ReferenceError::Solve(SolveError::Solver { .. })) if fixed.is_none() => {
                self.solve_with(weights, scales, bounds, fixed, options, true)
            }
            solved => solved,
        }
    }

    /// [`Self::solve`], with or without crossover where it takes the interior point method.
    fn solve_with(
        &self,
        weights: [f64; 5],
        scales: [f64; 5],
        bounds: [Option<f64>; 5],
        fixed: Option<&FractionPlan>,
        options: &SolverOptions,
        crossover: bool,
    ) -> Result<BoundSolution, ReferenceError> {
        let uses = in_use(&weights, &bounds);
        let schedule = uses[1..].iter().any(|&u| u);
        let requests = self.total_requests.max(1e-300);
        let (
            Built {
                vars,
                x,
                objectives,
                constraints,
                ranges,
                integer,
            },
            objective,
        ) = self.prepare(weights, scales, bounds, fixed, uses);
        let constraints = relax_tiny_entries(constraints, &ranges);
        let order: Vec<Variable> = vars.iter_variables_with_def().map(|(v, _)| v).collect();
        // good_lp hands HiGHS the objective without its constant.
        let zeros: HashMap<Variable, f64> = order.iter().map(|&v| (v, 0.0)).collect();
        let constant = objective.eval_with(&zeros);
        let mut model = vars
            .minimise(objective)
            .using(good_lp::highs)
            .with_all(constraints)
            .try_into_inner()
            .map_err(|e| SolveError::from_resolution("bound model", e, String::new))?;
        options.configure(&mut model);
        let interior = !integer && fixed.is_none() && schedule;
        if interior {
            // An LP over plans with the schedule in it: HiGHS's interior point method solves
            // it in seconds where the dual simplex takes many minutes (geo-8dc's least carbon:
            // 12.9 s against more than 14 min, decision 0010). The TTFT-only LP is smaller and
            // faster on the simplex (0.7 s against 4.2 s).
            model.set_option("solver", "ipm");
            model.set_option("run_crossover", if crossover { "on" } else { "off" });
            model.set_option("ipm_optimality_tolerance", IPM_OPTIMALITY_TOLERANCE);
        }
        let solved = model.try_solve().map_err(|e| SolveError::Solver {
            model: "bound model",
            detail: format!("HiGHS: {e:?}"),
        })?;
        let status = match solved.status() {
            HighsModelStatus::Optimal => SolveStatus::Optimal,
            HighsModelStatus::ReachedTimeLimit
            | HighsModelStatus::ReachedIterationLimit
            | HighsModelStatus::ReachedSolutionLimit
            | HighsModelStatus::ReachedInterrupt
            | HighsModelStatus::ReachedMemoryLimit => SolveStatus::TimeLimit,
            HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => {
                return Err(SolveError::Infeasible {
                    model: "bound model",
                    reason: "the objective bounds leave no plan".to_owned(),
                }
                .into())
            }
            other => {
                return Err(SolveError::Solver {
                    model: "bound model",
                    detail: format!("HiGHS ended with {other:?}"),
                }
                .into())
            }
        };
        // HiGHS's lower bound on the objective (the MIP dual bound; a finished LP's optimum).
        // (A model without binaries is an LP, whose `mip_dual_bound` means nothing.)
        // Without crossover the interior point method stops where its primal and dual
        // objectives agree to its tolerance relative to their sizes (the optimum lies between
        // them): the optimum is at most that below the value it reports.
        let lower = match solved.double_info_value(c"mip_dual_bound") {
            Ok(b) if integer && b.is_finite() => b,
            _ if status == SolveStatus::Optimal && interior && !crossover => {
                let value = solved.objective_value();
                value - IPM_OPTIMALITY_TOLERANCE * (1.0 + 2.0 * value.abs())
            }
            _ if status == SolveStatus::Optimal => solved.objective_value(),
            _ => f64::NEG_INFINITY,
        } + constant;
        let feasible = solved.primal_solution_status() == HighsSolutionStatus::Feasible;
        let (plan, bound) = if feasible {
            let columns = solved.get_solution();
            let values: HashMap<Variable, f64> = order
                .iter()
                .zip(columns.columns())
                .map(|(&v, &c)| (v, c))
                .collect();
            let mut bound =
                [0, 1, 2, 3, 4].map(|k| uses[k].then(|| objectives[k].eval_with(&values)));
            bound[0] = bound[0].map(|request_s| request_s / requests);
            let plan = match fixed {
                Some(plan) => plan.clone(),
                None => plan_of_solution(self.scenario, &x, &values)?,
            };
            (Some(plan), bound)
        } else {
            (None, [None; 5])
        };
        Ok(BoundSolution {
            plan,
            bound,
            lower,
            status,
        })
    }

    /// The model's lower bound on each objective of `plan` (each minimised alone over the
    /// schedules the plan allows; the five solves side by side on rayon's threads, one HiGHS
    /// thread each), and how each solve ended.
    pub fn bound_of(
        &self,
        plan: &FractionPlan,
        options: &SolverOptions,
    ) -> Result<PlanBounds, ReferenceError> {
        let options = options.single_threaded();
        let solved: Vec<(f64, SolveStatus)> = (0..5)
            .into_par_iter()
            .map(|k| {
                let mut w = [0.0; 5];
                w[k] = 1.0;
                // The least over schedules: HiGHS's proven lower bound (equal to the solution's
                // value when it finished; still a bound when it stopped at its limit).
                let s = self.solve(w, [1.0; 5], [None; 5], Some(plan), &options)?;
                Ok((s.lower, s.status))
            })
            .collect::<Result<_, ReferenceError>>()?;
        Ok(PlanBounds {
            lower: [0, 1, 2, 3, 4].map(|k| solved[k].0),
            status: [0, 1, 2, 3, 4].map(|k| solved[k].1),
        })
    }

    /// Whether `plan` is in the model's space: it sends requests only to datacenters that host
    /// their class's model.
    pub fn represents(&self, plan: &FractionPlan) -> bool {
        let (ne, no, nc, nd) = (
            self.planner.epochs,
            self.origins,
            self.planner.classes,
            self.planner.datacenters,
        );
        (0..ne * no * nc).all(|eoc| {
            let (e, o, c) = (eoc / (no * nc), (eoc / nc) % no, eoc % nc);
            let row = plan.row(e, o, c);
            (0..nd).all(|d| self.planner.hosts(c, d) || row[d] <= 0.0)
        })
    }
}

/// Which objectives a solve uses: those it weighs or bounds.
fn in_use(weights: &[f64; 5], bounds: &[Option<f64>; 5]) -> [bool; 5] {
    [0, 1, 2, 3, 4].map(|k| weights[k] != 0.0 || bounds[k].is_some())
}

/// HiGHS drops matrix entries of magnitude at most this (its `small_matrix_value`) when a model
/// is passed, which can tighten a row as well as loosen it.
const TINY_ENTRY: f64 = 1e-9;

/// The rows of `constraints` without entries HiGHS would drop ([`TINY_ENTRY`]): in an inequality
/// `expression <= 0` each such term `c v` is replaced by its least value over the variable's
/// range (`ranges`, else `[0, infinity)`), which only loosens the row, so the model's optimum
/// stays a lower bound. (They are rounding residues of terms that cancel, `c` near 1e-17,
/// where the model's rows mix work and its parts.) Entries of equalities, and negative ones on
/// a variable without an upper bound, are kept (none in the model's rows).
fn relax_tiny_entries(
    constraints: Vec<Constraint>,
    ranges: &HashMap<Variable, (f64, f64)>,
) -> Vec<Constraint> {
    use good_lp::IntoAffineExpression;
    let tiny = |c: f64| c != 0.0 && c.abs() <= TINY_ENTRY;
    constraints
        .into_iter()
        .map(|row| {
            let expression = row.expression().clone();
            if row.is_equality()
                || !expression
                    .clone()
                    .linear_coefficients()
                    .any(|(_, c)| tiny(c))
            {
                return row;
            }
            let mut relaxed = Expression::from(expression.constant());
            for (v, c) in expression.linear_coefficients() {
                let (lo, hi) = ranges.get(&v).copied().unwrap_or((0.0, f64::INFINITY));
                let least = if c > 0.0 { c * lo } else { c * hi };
                if tiny(c) && least.is_finite() {
                    relaxed += least;
                } else {
                    relaxed += c * v;
                }
            }
            constraint!(relaxed <= 0.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use good_lp::IntoAffineExpression;
    use verdant::allocator::Problem;
    use verdant::scenario::Scenario;
    use verdant::seed::MasterSeed;
    use verdant::sim::SimParams;

    use super::*;

    /// The entries of `rows` HiGHS would drop.
    fn tiny_entries(rows: &[Constraint]) -> usize {
        rows.iter()
            .flat_map(|r| r.expression().clone().linear_coefficients())
            .filter(|(_, c)| *c != 0.0 && c.abs() <= TINY_ENTRY)
            .count()
    }

    #[test]
    fn tiny_entries_are_relaxed_to_their_least_value() {
        let mut vars = ProblemVariables::new();
        let x = vars.add(variable().min(0.0).max(1.0));
        let y = vars.add(variable().min(0.0));
        let ranges = HashMap::from([(x, (0.0, 1.0))]);
        let rows = vec![
            // A negative tiny entry on a bounded variable: its least value, -1e-12, moves to
            // the constant (the row loosens by it).
            constraint!(y - 1e-12 * x <= 0.5),
            // A positive one: its least value is 0.
            constraint!(y + 1e-12 * x <= 0.5),
            // On a variable without an upper bound a negative entry is kept.
            constraint!(x - 1e-12 * y <= 0.5),
            // Equalities are kept.
            constraint!(y + 1e-12 * x == 0.5),
        ];
        let relaxed = relax_tiny_entries(rows, &ranges);
        let at = |row: &Constraint, xv: f64, yv: f64| {
            row.expression()
                .eval_with(&HashMap::from([(x, xv), (y, yv)]))
        };
        // y - 1e-12 x - 0.5 <= 0 became y - 0.5 - 1e-12 <= 0.
        assert!((at(&relaxed[0], 0.3, 0.5) + 1e-12).abs() < 1e-15);
        assert!(at(&relaxed[1], 0.3, 0.5).abs() < 1e-15);
        assert_eq!(tiny_entries(&relaxed[2..]), 2);
        assert_eq!(tiny_entries(&relaxed), 2);
    }

    #[test]
    fn the_model_passes_highs_no_entry_it_would_drop() {
        for name in ["geo-4dc", "geo-8dc"] {
            let path = verdant::scenario::bundled_dir().join(format!("{name}.toml"));
            let scenario = Scenario::load(&path, MasterSeed(0)).unwrap();
            let problem = Problem::new(&scenario, SimParams::default());
            let model = BoundModel::new(&problem).unwrap();
            let even = verdant::allocator::rules::Even.plan(&scenario).unwrap();
            for fixed in [None, Some(&even)] {
                check_entries(&model, fixed);
            }
        }
    }

    /// The model's rows (every part in use: carbon minimised with TTFT bounded, as the
    /// refinement solves) hold no entry HiGHS would drop, and the only tiny entries built are
    /// rounding residues.
    fn check_entries(model: &BoundModel, fixed: Option<&FractionPlan>) {
        let weights = [0.0, 1.0, 0.0, 0.0, 0.0];
        let bounds = [Some(0.3), None, None, None, None];
        let (prepared, objective) =
            model.prepare(weights, [1.0; 5], bounds, fixed, in_use(&weights, &bounds));
        // What is relaxed are rounding residues only: genuine entries near 1e-10 were built
        // while the model's TTFT was a mean over all requests (the lane wait's rows, about
        // 16,000 entries on geo-8dc, which HiGHS dropped; then the TTFT bound's row, which lost
        // them to the relaxation and let the refinement's plans spill).
        let genuine = prepared
            .constraints
            .iter()
            .flat_map(|r| r.expression().clone().linear_coefficients())
            .filter(|(_, c)| c.abs() > 1e-14 && c.abs() <= TINY_ENTRY)
            .map(|(_, c)| c)
            .collect::<Vec<_>>();
        assert!(
            genuine.is_empty(),
            "fixed plan: {}: {genuine:?}",
            fixed.is_some()
        );
        let relaxed = relax_tiny_entries(prepared.constraints, &prepared.ranges);
        assert_eq!(tiny_entries(&relaxed), 0);
        assert!(objective
            .linear_coefficients()
            .all(|(_, c)| c == 0.0 || c.abs() > TINY_ENTRY));
    }
}
