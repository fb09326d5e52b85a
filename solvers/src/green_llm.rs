//! Green-LLM (Cheng and Nguyen, arXiv:2507.09942): the LP of ../shared/specs/green-llm.md, built
//! from a [`Scenario`] that carries Green-LLM's terms (the `green-llm-base` scenario).
//!
//! Variables: `x[i][j][k][t]` in [0, 1], the share of type-k queries from area i served by data
//! centre j in slot t, and `Pg[j][t]` in [0, P_max], grid power bought. With `L[i][k][t]` the
//! slot's tokens (input plus output) and `E[i][k][t]` its energy at `tau` per token:
//!
//! 1. IT power `Pc[j][t] = sum_{i,k} E x`;  2. `Pd = PUE Pc`;  3. `Pd <= Pg + P_w`;  4. `Pg <= P_max`;
//! 5. water `sum_{j,t} (WUE/PUE + EWIF) Pd <= Z`;  6. capacity `sum_{i,k} alpha[k][r] L x <= C[r][j]`;
//! 7. `sum_j x = 1`;  8. delay `Dtran + Dprop + Dproc <= Delta[i][k]` per (i, k, t), with
//!    `Dtran = sum_j beta L x / max(0.001, B)`, `Dprop = sum_j d x`, `Dproc = sum_j v L x`
//!    (slot totals, as in the authors' code).
//!
//! Objectives (USD): `F_E = sum c Pg`, `F_C = sum delta theta Pg`, `F_D = sum rho (Dtran + Dprop +
//! Dproc)`. Every solution is also a [`FractionPlan`] for the shared simulator.

use good_lp::{
    constraint, variable, Expression, ProblemVariables, Solution, SolverModel, Variable,
};
use serde::Serialize;
use verdant::scenario::{Facility, Scenario};
use verdant::sim::FractionPlan;

use crate::{SolveError, SolveStatus, SolverOptions};

/// Why the model cannot be built from a scenario.
#[derive(Debug, thiserror::Error)]
pub enum GreenLlmError {
    #[error("scenario {scenario}: {what}")]
    /// The scenario has no Green-LLM terms, or terms the model cannot use.
    Scenario {
        /// The scenario's name.
        scenario: String,
        /// What it lacks.
        what: String,
    },
    #[error(transparent)]
    /// A solve failed.
    Solve(#[from] SolveError),
}

/// Weights of the three objectives in a weighted model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    /// Weight of F_E, the operational cost.
    pub cost: f64,
    /// Weight of F_C, the carbon cost.
    pub carbon: f64,
    /// Weight of F_D, the delay penalty.
    pub delay: f64,
}

impl Weights {
    /// M0, Green-LLM: (F_E + F_C + F_D) / 3.
    pub const M0: Weights = Weights {
        cost: 1.0 / 3.0,
        carbon: 1.0 / 3.0,
        delay: 1.0 / 3.0,
    };
    /// M1, Energy-LLM: F_E.
    pub const M1: Weights = Weights {
        cost: 1.0,
        carbon: 0.0,
        delay: 0.0,
    };
    /// M2, Carbon-LLM: F_C.
    pub const M2: Weights = Weights {
        cost: 0.0,
        carbon: 1.0,
        delay: 0.0,
    };
    /// M3, Hybrid: F_E / 4 + F_C / 2 + F_D / 4.
    pub const M3: Weights = Weights {
        cost: 0.25,
        carbon: 0.5,
        delay: 0.25,
    };
    /// F_D alone.
    pub const DELAY: Weights = Weights {
        cost: 0.0,
        carbon: 0.0,
        delay: 1.0,
    };
}

/// The three objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// F_E, operational (energy) cost.
    Cost,
    /// F_C, carbon cost.
    Carbon,
    /// F_D, delay penalty.
    Delay,
}

impl Objective {
    fn index(self) -> usize {
        match self {
            Objective::Cost => 0,
            Objective::Carbon => 1,
            Objective::Delay => 2,
        }
    }

    /// The six orders of the three objectives.
    pub const ORDERS: [[Objective; 3]; 6] = {
        use Objective::*;
        [
            [Cost, Carbon, Delay],
            [Cost, Delay, Carbon],
            [Carbon, Cost, Delay],
            [Carbon, Delay, Cost],
            [Delay, Cost, Carbon],
            [Delay, Carbon, Cost],
        ]
    };
}

/// Constraint families that [`GreenLlmModel::diagnose`] relaxes.
#[derive(Debug, Clone, Copy, Default)]
struct Families {
    water: bool,
    capacity: bool,
    delay: bool,
    grid_import: bool,
}

impl Families {
    fn each() -> [(&'static str, Families); 4] {
        let none = Families::default();
        [
            (
                "water budget",
                Families {
                    water: true,
                    ..none
                },
            ),
            (
                "capacity",
                Families {
                    capacity: true,
                    ..none
                },
            ),
            (
                "delay thresholds",
                Families {
                    delay: true,
                    ..none
                },
            ),
            (
                "grid import limits",
                Families {
                    grid_import: true,
                    ..none
                },
            ),
        ]
    }
}

/// What [`GreenLlmModel::build`] makes.
struct Built {
    vars: ProblemVariables,
    x: Vec<Variable>,
    pg: Vec<Variable>,
    /// F_E, F_C, F_D.
    objectives: [Expression; 3],
    emissions: Expression,
    water: Expression,
    constraints: Vec<good_lp::Constraint>,
}

/// One stage of a lexicographic optimisation.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The stage's objective.
    pub objective: Objective,
    /// The stage's status (`None` where it failed).
    pub status: Option<SolveStatus>,
    /// Its optimum, where it solved.
    pub optimum: Option<f64>,
    /// Why the stage failed (infeasible, time limit without a solution, ...).
    pub error: Option<String>,
    /// Its solution, where it solved.
    pub solution: Option<GreenLlmSolution>,
}

/// A lexicographic optimisation's stages.
#[derive(Debug, Clone)]
pub struct Lexicographic {
    /// The order of the stages.
    pub order: [Objective; 3],
    /// Relative slack each stage leaves the earlier objectives.
    pub eps: f64,
    /// The stages run (fewer than three where one failed).
    pub stages: Vec<Stage>,
}

impl Lexicographic {
    /// The last stage's solution, if every stage solved.
    pub fn solution(&self) -> Option<&GreenLlmSolution> {
        if self.stages.len() == 3 {
            self.stages[2].solution.as_ref()
        } else {
            None
        }
    }
}

/// A solved Green-LLM model.
#[derive(Debug, Clone)]
pub struct GreenLlmSolution {
    /// How to read the solution.
    pub status: SolveStatus,
    /// The weighted objective's value.
    pub objective: f64,
    /// Operational cost F_E, carbon cost F_C and delay penalty F_D, USD.
    pub f_e: f64,
    /// Carbon cost F_C, USD.
    pub f_c: f64,
    /// Delay penalty F_D, USD.
    pub f_d: f64,
    /// Physical emissions `sum theta Pg`, kg CO2, and water use, L.
    pub emissions_kg: f64,
    /// Water use, L.
    pub water_l: f64,
    /// Grid power bought, `[j * slots + t]`, kW.
    pub grid_kw: Vec<f64>,
    /// The shares as a plan for the shared simulator.
    pub plan: FractionPlan,
    /// Seconds spent building the model (expressions and constraints), and in good_lp + HiGHS
    /// (passing the model to HiGHS and solving it).
    pub build_s: f64,
    /// Seconds in good_lp and HiGHS.
    pub solve_s: f64,
}

/// The MILP extension: binary model placement with a download cost, and integer active GPU
/// servers per data centre and slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MilpParams {
    /// Cost of placing a query type's model at a data centre that does not hold it yet, USD
    /// (added to F_E, the operational cost).
    pub download_cost_usd: f64,
    /// `resident[j][k]`: data centre j holds query type k's model already (no download cost).
    /// Empty: none is resident.
    pub resident: Vec<Vec<bool>>,
    /// Active GPU servers; `None` leaves power and GPU capacity as in the LP.
    pub servers: Option<ServerParams>,
}

/// Integer active GPU servers: each serves `gpu_units_per_server` units of the GPU resource in
/// a slot and draws `idle_kw_per_server` when on, on top of the per-token energy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServerParams {
    /// GPU resource units one server serves per slot.
    pub gpu_units_per_server: f64,
    /// Power one active server draws besides the per-token energy, kW.
    pub idle_kw_per_server: f64,
}

/// The Green-LLM LP (or MILP) of one scenario; see the module documentation.
pub struct GreenLlmModel<'a> {
    scenario: &'a Scenario,
    milp: Option<MilpParams>,
    /// Index of the GPU resource (for the servers of the MILP).
    gpu_resource: Option<usize>,
}

fn scenario_error(s: &Scenario, what: impl Into<String>) -> GreenLlmError {
    GreenLlmError::Scenario {
        scenario: s.name.clone(),
        what: what.into(),
    }
}

impl<'a> GreenLlmModel<'a> {
    /// Checks that the scenario carries what the model reads.
    pub fn new(scenario: &'a Scenario) -> Result<Self, GreenLlmError> {
        let s = scenario;
        if s.green_llm.is_none() {
            return Err(scenario_error(
                s,
                "has no Green-LLM terms (water budget, delay thresholds, KB per token)",
            ));
        }
        if s.network.bandwidth_mbps.is_none() {
            return Err(scenario_error(s, "has no bandwidth matrix"));
        }
        for dc in &s.datacenters {
            if !matches!(dc.facility, Facility::Pue { .. }) {
                return Err(scenario_error(
                    s,
                    format!("datacenter {} is not in PUE mode", dc.name),
                ));
            }
            if dc.grid.grid_import_max_kw.is_none() {
                return Err(scenario_error(
                    s,
                    format!("datacenter {} has no grid import limit", dc.name),
                ));
            }
            if dc.processing_s_per_token.len() != s.classes.len() {
                return Err(scenario_error(
                    s,
                    format!("datacenter {} lacks processing seconds per token", dc.name),
                ));
            }
        }
        for c in &s.classes {
            if c.energy_kwh_per_input_token.is_none()
                || c.energy_kwh_per_output_token.is_none()
                || c.delay_penalty_usd_per_s.is_none()
            {
                return Err(scenario_error(
                    s,
                    format!("class {} lacks energy per token or a delay weight", c.name),
                ));
            }
        }
        let gpu_resource = s.green_llm.as_ref().and_then(|g| {
            g.resources
                .iter()
                .position(|r| r.eq_ignore_ascii_case("gpu"))
        });
        Ok(GreenLlmModel {
            scenario,
            milp: None,
            gpu_resource,
        })
    }

    /// Turns the model into the MILP extension.
    pub fn with_milp(mut self, milp: MilpParams) -> Result<Self, GreenLlmError> {
        let s = self.scenario;
        if !(milp.download_cost_usd.is_finite() && milp.download_cost_usd >= 0.0) {
            return Err(scenario_error(
                s,
                format!(
                    "download cost must be a finite number >= 0, got {}",
                    milp.download_cost_usd
                ),
            ));
        }
        if !milp.resident.is_empty()
            && (milp.resident.len() != s.datacenters.len()
                || milp.resident.iter().any(|r| r.len() != s.classes.len()))
        {
            return Err(scenario_error(
                s,
                "resident must be data centres x query types",
            ));
        }
        if let Some(sv) = milp.servers {
            if self.gpu_resource.is_none() {
                return Err(scenario_error(s, "servers need a resource named GPU"));
            }
            if !(sv.gpu_units_per_server.is_finite()
                && sv.gpu_units_per_server > 0.0
                && sv.idle_kw_per_server.is_finite()
                && sv.idle_kw_per_server >= 0.0)
            {
                return Err(scenario_error(
                    s,
                    "servers need GPU units per server > 0 and idle power >= 0",
                ));
            }
        }
        self.milp = Some(milp);
        Ok(self)
    }

    /// Builds the model's variables, objectives and constraints, leaving out the families in
    /// `relaxed` (for diagnosing infeasibility).
    // The model is written with the spec's indices (i, j, k, t), which index several tables each.
    #[allow(clippy::needless_range_loop)]
    fn build(&self, relaxed: Families) -> Built {
        let s = self.scenario;
        let g = s.green_llm.as_ref().expect("checked in new");
        let bandwidth = s.network.bandwidth_mbps.as_ref().expect("checked in new");
        let (ni, nj, nk, nt) = (
            s.origins.len(),
            s.datacenters.len(),
            s.classes.len(),
            s.time.epochs,
        );
        let d = &s.demand;
        let mut vars = ProblemVariables::new();
        let x: Vec<Variable> = vars.add_vector(variable().min(0.0).max(1.0), ni * nj * nk * nt);
        let xi = |i: usize, j: usize, k: usize, t: usize| x[((t * ni + i) * nk + k) * nj + j];
        let pg: Vec<Variable> = (0..nj * nt)
            .map(|jt| {
                let (j, t) = (jt / nt, jt % nt);
                let max = s.datacenters[j]
                    .grid
                    .grid_import_max_kw
                    .as_ref()
                    .expect("checked")[t];
                if relaxed.grid_import {
                    vars.add(variable().min(0.0))
                } else {
                    vars.add(variable().min(0.0).max(max))
                }
            })
            .collect();
        let mut constraints = Vec::new();

        // MILP: placement binaries z[j][k] (x <= z) and active servers n[j][t].
        let placement: Vec<Variable> = match &self.milp {
            Some(_) => (0..nj * nk)
                .map(|_| vars.add(variable().binary()))
                .collect(),
            None => Vec::new(),
        };
        let servers: Vec<Variable> = match (&self.milp, self.gpu_resource) {
            (
                Some(MilpParams {
                    servers: Some(sv), ..
                }),
                Some(r),
            ) => (0..nj * nt)
                .map(|jt| {
                    let most = (s.datacenters[jt / nt].resource_capacity[r]
                        / sv.gpu_units_per_server)
                        .ceil();
                    vars.add(variable().integer().min(0.0).max(most))
                })
                .collect(),
            _ => Vec::new(),
        };
        if !placement.is_empty() {
            for t in 0..nt {
                for i in 0..ni {
                    for k in 0..nk {
                        for j in 0..nj {
                            constraints.push(constraint!(xi(i, j, k, t) <= placement[j * nk + k]));
                        }
                    }
                }
            }
        }

        // Objectives.
        let mut f_e = Expression::from(0.0);
        if let Some(milp) = &self.milp {
            for j in 0..nj {
                for k in 0..nk {
                    let resident = milp
                        .resident
                        .get(j)
                        .and_then(|r| r.get(k))
                        .copied()
                        .unwrap_or(false);
                    if !resident {
                        f_e += milp.download_cost_usd * placement[j * nk + k];
                    }
                }
            }
        }
        let mut f_c = Expression::from(0.0);
        let mut emissions = Expression::from(0.0);
        for (j, dc) in s.datacenters.iter().enumerate() {
            for t in 0..nt {
                f_e += dc.grid.price_usd_per_kwh[t] * pg[j * nt + t];
                f_c += dc.carbon_tax_usd_per_kg * dc.grid.carbon_kg_per_kwh[t] * pg[j * nt + t];
                emissions += dc.grid.carbon_kg_per_kwh[t] * pg[j * nt + t];
            }
        }
        // F_D and the water use have a term per x column: sized once, never rehashed.
        let mut f_d = Expression::with_capacity(x.len());
        for t in 0..nt {
            for i in 0..ni {
                for (k, class) in s.classes.iter().enumerate() {
                    let tokens = d.input_tokens(i, k, t) + d.output_tokens(i, k, t);
                    let rho = class.delay_penalty_usd_per_s.expect("checked");
                    let mut delay = Expression::with_capacity(nj);
                    for (j, dc) in s.datacenters.iter().enumerate() {
                        let coef = g.kb_per_token[i][k][t] * tokens / bandwidth[i][j].max(0.001)
                            + s.network.round_trip_s[i][j]
                            + dc.processing_s_per_token[k] * tokens;
                        delay.add_mul(coef, xi(i, j, k, t));
                        f_d.add_mul(rho * coef, xi(i, j, k, t));
                    }
                    // Constraint 8: delay threshold.
                    if !relaxed.delay {
                        constraints.push(constraint!(delay <= g.delay_threshold_s[i][k]));
                    }
                    // Constraint 7: all demand served.
                    let mut served = Expression::with_capacity(nj);
                    for j in 0..nj {
                        served.add_mul(1.0, xi(i, j, k, t));
                    }
                    constraints.push(constraint!(served == 1.0));
                }
            }
        }

        // Constraints 1-5: power balance and water.
        // Rows are added slot by slot: a slot's x columns are contiguous, and HiGHS's row store
        // appends to each column of a row, so rows that share columns are best added together.
        let mut water = Expression::with_capacity(x.len() + servers.len());
        for t in 0..nt {
            for (j, dc) in s.datacenters.iter().enumerate() {
                let Facility::Pue { pue } = dc.facility else {
                    unreachable!("checked in new")
                };
                // Water per kWh of IT energy: WUE / PUE x Pd + EWIF x Pd = (WUE + EWIF PUE) Pc.
                let wue = dc.grid.onsite_wue_l_per_kwh.get(t).copied().unwrap_or(0.0);
                let water_per_it_kwh = (wue / pue + dc.grid.water_l_per_kwh[t]) * pue;
                let mut pc = Expression::with_capacity(ni * nk + 1);
                for i in 0..ni {
                    for (k, class) in s.classes.iter().enumerate() {
                        let energy = class.energy_kwh_per_input_token.expect("checked")
                            * d.input_tokens(i, k, t)
                            + class.energy_kwh_per_output_token.expect("checked")
                                * d.output_tokens(i, k, t);
                        pc.add_mul(energy, xi(i, j, k, t));
                        water.add_mul(water_per_it_kwh * energy, xi(i, j, k, t));
                    }
                }
                if let (
                    Some(MilpParams {
                        servers: Some(sv), ..
                    }),
                    false,
                ) = (&self.milp, servers.is_empty())
                {
                    pc.add_mul(sv.idle_kw_per_server, servers[j * nt + t]);
                    water.add_mul(
                        water_per_it_kwh * sv.idle_kw_per_server,
                        servers[j * nt + t],
                    );
                }
                let pd = pue * pc;
                constraints.push(constraint!(pd <= pg[j * nt + t] + dc.grid.renewable_kw[t]));
            }
        }
        if !relaxed.water {
            constraints.push(constraint!(water.clone() <= g.water_budget_l));
        }
        // Constraint 6: capacity per resource, data centre and slot.
        if !relaxed.capacity {
            for t in 0..nt {
                for (j, dc) in s.datacenters.iter().enumerate() {
                    for (r, &capacity) in dc.resource_capacity.iter().enumerate() {
                        let mut used = Expression::with_capacity(ni * nk);
                        for i in 0..ni {
                            for (k, class) in s.classes.iter().enumerate() {
                                let tokens = d.input_tokens(i, k, t) + d.output_tokens(i, k, t);
                                used.add_mul(
                                    class.resource_units_per_token[r] * tokens,
                                    xi(i, j, k, t),
                                );
                            }
                        }
                        if Some(r) == self.gpu_resource && !servers.is_empty() {
                            let per_server = self
                                .milp
                                .as_ref()
                                .and_then(|m| m.servers)
                                .expect("servers exist")
                                .gpu_units_per_server;
                            constraints.push(constraint!(
                                used.clone() <= per_server * servers[j * nt + t]
                            ));
                        }
                        constraints.push(constraint!(used <= capacity));
                    }
                }
            }
        }
        Built {
            vars,
            x,
            pg,
            objectives: [f_e, f_c, f_d],
            emissions,
            water,
            constraints,
        }
    }

    /// Minimises `objective(F_E, F_C, F_D)` subject to the model and `extra(F_E, F_C, F_D)`.
    fn solve_with(
        &self,
        options: &SolverOptions,
        relaxed: Families,
        objective: impl Fn(&[Expression; 3]) -> Expression,
        extra: impl Fn(&[Expression; 3]) -> Vec<good_lp::Constraint>,
    ) -> Result<GreenLlmSolution, GreenLlmError> {
        let s = self.scenario;
        let (ni, nj, nk, nt) = (
            s.origins.len(),
            s.datacenters.len(),
            s.classes.len(),
            s.time.epochs,
        );
        let started = std::time::Instant::now();
        let built = self.build(relaxed);
        let objective = objective(&built.objectives);
        let extra = extra(&built.objectives);
        let model = options
            .apply(built.vars.minimise(objective.clone()).using(good_lp::highs))
            .with_all(built.constraints)
            .with_all(extra);
        let build_s = started.elapsed().as_secs_f64();
        let solved = model.solve();
        let solve_s = started.elapsed().as_secs_f64() - build_s;
        let solution = solved.map_err(|e| {
            SolveError::from_resolution("Green-LLM LP", e, || "relax one constraint family at a time to find which binds (GreenLlmModel::diagnose)".to_owned())
        })?;
        // x is laid out as the plan is: slot, area, query type, then data centre fastest.
        // Renormalise each row: the solver's tolerances may leave it a hair off 1.
        let mut shares: Vec<f64> = built
            .x
            .iter()
            .map(|&v| solution.value(v).clamp(0.0, 1.0))
            .collect();
        for row in shares.chunks_exact_mut(nj) {
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
        let plan = FractionPlan::new(nt, ni, nk, nj, shares)
            .map_err(|e| scenario_error(s, format!("solution is not a plan: {e}")))?;
        let [f_e, f_c, f_d] = &built.objectives;
        Ok(GreenLlmSolution {
            status: solution.status().into(),
            objective: solution.eval(&objective),
            f_e: solution.eval(f_e),
            f_c: solution.eval(f_c),
            f_d: solution.eval(f_d),
            emissions_kg: solution.eval(&built.emissions),
            water_l: solution.eval(&built.water),
            grid_kw: built.pg.iter().map(|&v| solution.value(v)).collect(),
            plan,
            build_s,
            solve_s,
        })
    }

    /// Minimises the weighted sum of F_E, F_C and F_D.
    pub fn solve_weighted(
        &self,
        weights: Weights,
        options: &SolverOptions,
    ) -> Result<GreenLlmSolution, GreenLlmError> {
        self.solve_with(
            options,
            Families::default(),
            |[f_e, f_c, f_d]| {
                // Objectives with a zero weight are left out rather than multiplied by 0. F_D
                // has a term per x column: cloning and scaling it is much cheaper than inserting
                // its terms one by one. F_D's terms are on the x columns, F_E's and F_C's on the
                // grid (and placement) columns, so the coefficients are those of adding the three
                // in order.
                let mut objective = if weights.delay != 0.0 {
                    f_d.clone() * weights.delay
                } else {
                    Expression::from(0.0)
                };
                for (w, f) in [(weights.cost, f_e), (weights.carbon, f_c)] {
                    if w != 0.0 {
                        objective.add_mul(w, f);
                    }
                }
                objective
            },
            |_| Vec::new(),
        )
    }

    /// Lexicographic optimisation: each stage minimises its objective subject to every earlier
    /// stage's objective staying within `(1 + eps) x optimum + absolute_slack`. A stage that
    /// fails ends the sequence with its error recorded; the stages solved before it are kept.
    pub fn solve_lexicographic(
        &self,
        order: [Objective; 3],
        eps: f64,
        absolute_slack: f64,
        options: &SolverOptions,
    ) -> Lexicographic {
        let mut stages: Vec<Stage> = Vec::new();
        let mut bounds: Vec<(Objective, f64)> = Vec::new();
        for objective in order {
            let result = self.solve_with(
                options,
                Families::default(),
                |f| f[objective.index()].clone(),
                |f| {
                    bounds
                        .iter()
                        .map(|&(o, bound)| constraint!(f[o.index()].clone() <= bound))
                        .collect()
                },
            );
            match result {
                Ok(solution) => {
                    let optimum = solution.objective;
                    bounds.push((objective, optimum * (1.0 + eps) + absolute_slack));
                    stages.push(Stage {
                        objective,
                        status: Some(solution.status),
                        optimum: Some(optimum),
                        error: None,
                        solution: Some(solution),
                    });
                }
                Err(e) => {
                    stages.push(Stage {
                        objective,
                        status: None,
                        optimum: None,
                        error: Some(e.to_string()),
                        solution: None,
                    });
                    break;
                }
            }
        }
        Lexicographic { order, eps, stages }
    }

    /// Finds which constraint families make the model infeasible: each family is dropped in turn
    /// and the model re-solved (minimising F_E); the families whose removal restores feasibility
    /// are returned. Empty if the model is feasible, or if no single family explains it.
    pub fn diagnose(&self, options: &SolverOptions) -> Result<Vec<&'static str>, GreenLlmError> {
        let feasible = |relaxed: Families| match self.solve_with(
            options,
            relaxed,
            |f| f[0].clone(),
            |_| Vec::new(),
        ) {
            Ok(_) => Ok(true),
            Err(GreenLlmError::Solve(SolveError::Infeasible { .. })) => Ok(false),
            Err(e) => Err(e),
        };
        if feasible(Families::default())? {
            return Ok(Vec::new());
        }
        let mut binding = Vec::new();
        for (name, relaxed) in Families::each() {
            if feasible(relaxed)? {
                binding.push(name);
            }
        }
        Ok(binding)
    }

    /// The epsilon-constraint front: minimise F_E with F_C and F_D bounded on a `grid x grid`
    /// lattice between their individual optima and their values at the F_E optimum; infeasible
    /// cells are skipped, and only non-dominated (F_E, F_C, F_D) points are kept (to a relative
    /// tolerance of 1e-9).
    pub fn epsilon_front(
        &self,
        grid: usize,
        options: &SolverOptions,
    ) -> Result<Vec<GreenLlmSolution>, GreenLlmError> {
        let grid = grid.max(2);
        let at_cost = self.solve_weighted(Weights::M1, options)?;
        let best_carbon = self.solve_weighted(Weights::M2, options)?.f_c;
        let best_delay = self.solve_weighted(Weights::DELAY, options)?.f_d;
        let mut points = vec![at_cost.clone()];
        for a in 0..grid {
            for b in 0..grid {
                let step =
                    |lo: f64, hi: f64, k: usize| lo + (hi - lo) * k as f64 / (grid - 1) as f64;
                let carbon_bound = step(best_carbon, at_cost.f_c.max(best_carbon), a);
                let delay_bound = step(best_delay, at_cost.f_d.max(best_delay), b);
                let result = self.solve_with(
                    options,
                    Families::default(),
                    |f| f[0].clone(),
                    |f| {
                        vec![
                            constraint!(f[1].clone() <= carbon_bound * (1.0 + 1e-9) + 1e-9),
                            constraint!(f[2].clone() <= delay_bound * (1.0 + 1e-9) + 1e-9),
                        ]
                    },
                );
                match result {
                    Ok(solution) => points.push(solution),
                    Err(GreenLlmError::Solve(SolveError::Infeasible { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // Non-dominated points, with a tolerance of 1e-9 (relative) so that solver noise in the
        // last digits neither keeps a dominated point nor duplicates one.
        let tol = |v: f64| 1e-9 * (1.0 + v.abs());
        let objectives = |p: &GreenLlmSolution| [p.f_e, p.f_c, p.f_d];
        let dominated_by = |p: &[f64; 3], q: &[f64; 3]| {
            q.iter().zip(p).all(|(a, b)| *a <= b + tol(*b))
                && q.iter().zip(p).any(|(a, b)| *a < b - tol(*b))
        };
        let mut front: Vec<GreenLlmSolution> = Vec::new();
        for p in &points {
            let v = objectives(p);
            let worse = points.iter().any(|q| dominated_by(&v, &objectives(q)));
            let duplicate = front.iter().any(|q| {
                objectives(q)
                    .iter()
                    .zip(&v)
                    .all(|(a, b)| (a - b).abs() <= tol(*b))
            });
            if !worse && !duplicate {
                front.push(p.clone());
            }
        }
        Ok(front)
    }
}
