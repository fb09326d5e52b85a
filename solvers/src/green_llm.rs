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
    Scenario { scenario: String, what: String },
    #[error(transparent)]
    Solve(#[from] SolveError),
}

/// Weights of the three objectives in a weighted model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    pub cost: f64,
    pub carbon: f64,
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

/// A solved Green-LLM model.
#[derive(Debug, Clone)]
pub struct GreenLlmSolution {
    pub status: SolveStatus,
    /// The weighted objective's value.
    pub objective: f64,
    /// Operational cost F_E, carbon cost F_C and delay penalty F_D, USD.
    pub f_e: f64,
    pub f_c: f64,
    pub f_d: f64,
    /// Physical emissions `sum theta Pg`, kg CO2, and water use, L.
    pub emissions_kg: f64,
    pub water_l: f64,
    /// Grid power bought, `[j * slots + t]`, kW.
    pub grid_kw: Vec<f64>,
    /// The shares as a plan for the shared simulator.
    pub plan: FractionPlan,
}

/// The Green-LLM LP of one scenario; see the module documentation.
pub struct GreenLlmModel<'a> {
    scenario: &'a Scenario,
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
        Ok(GreenLlmModel { scenario })
    }

    /// Minimises the weighted sum of F_E, F_C and F_D.
    // The model is written with the spec's indices (i, j, k, t), which index several tables each.
    #[allow(clippy::needless_range_loop)]
    pub fn solve_weighted(
        &self,
        weights: Weights,
        options: &SolverOptions,
    ) -> Result<GreenLlmSolution, GreenLlmError> {
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
        let x: Vec<Variable> = (0..ni * nj * nk * nt)
            .map(|_| vars.add(variable().min(0.0).max(1.0)))
            .collect();
        let xi = |i: usize, j: usize, k: usize, t: usize| x[((t * ni + i) * nk + k) * nj + j];
        let pg: Vec<Variable> = (0..nj * nt)
            .map(|jt| {
                let (j, t) = (jt / nt, jt % nt);
                let max = s.datacenters[j]
                    .grid
                    .grid_import_max_kw
                    .as_ref()
                    .expect("checked")[t];
                vars.add(variable().min(0.0).max(max))
            })
            .collect();

        // Objectives.
        let mut f_e = Expression::from(0.0);
        let mut f_c = Expression::from(0.0);
        for (j, dc) in s.datacenters.iter().enumerate() {
            for t in 0..nt {
                f_e += dc.grid.price_usd_per_kwh[t] * pg[j * nt + t];
                f_c += dc.carbon_tax_usd_per_kg * dc.grid.carbon_kg_per_kwh[t] * pg[j * nt + t];
            }
        }
        let mut f_d = Expression::from(0.0);
        let mut delay_rows: Vec<Expression> = Vec::with_capacity(ni * nk * nt);
        for t in 0..nt {
            for i in 0..ni {
                for (k, class) in s.classes.iter().enumerate() {
                    let tokens = d.input_tokens(i, k, t) + d.output_tokens(i, k, t);
                    let mut delay = Expression::from(0.0);
                    for (j, dc) in s.datacenters.iter().enumerate() {
                        let coef = g.kb_per_token[i][k][t] * tokens / bandwidth[i][j].max(0.001)
                            + s.network.round_trip_s[i][j]
                            + dc.processing_s_per_token[k] * tokens;
                        delay += coef * xi(i, j, k, t);
                    }
                    f_d += class.delay_penalty_usd_per_s.expect("checked") * delay.clone();
                    delay_rows.push(delay);
                }
            }
        }
        let objective =
            weights.cost * f_e.clone() + weights.carbon * f_c.clone() + weights.delay * f_d.clone();
        let mut model = options.apply(vars.minimise(objective.clone()).using(good_lp::highs));

        // Constraints 1-5: power balance and water.
        let mut water = Expression::from(0.0);
        for (j, dc) in s.datacenters.iter().enumerate() {
            let Facility::Pue { pue } = dc.facility else {
                unreachable!("checked in new")
            };
            for t in 0..nt {
                let mut pc = Expression::from(0.0);
                for i in 0..ni {
                    for (k, class) in s.classes.iter().enumerate() {
                        let energy = class.energy_kwh_per_input_token.expect("checked")
                            * d.input_tokens(i, k, t)
                            + class.energy_kwh_per_output_token.expect("checked")
                                * d.output_tokens(i, k, t);
                        pc += energy * xi(i, j, k, t);
                    }
                }
                let pd = pue * pc;
                let wue = dc.grid.onsite_wue_l_per_kwh.get(t).copied().unwrap_or(0.0);
                water += (wue / pue + dc.grid.water_l_per_kwh[t]) * pd.clone();
                model = model.with(constraint!(pd <= pg[j * nt + t] + dc.grid.renewable_kw[t]));
            }
        }
        model = model.with(constraint!(water.clone() <= g.water_budget_l));
        // Constraint 6: capacity per resource, data centre and slot.
        for (j, dc) in s.datacenters.iter().enumerate() {
            for (r, &capacity) in dc.resource_capacity.iter().enumerate() {
                for t in 0..nt {
                    let mut used = Expression::from(0.0);
                    for i in 0..ni {
                        for (k, class) in s.classes.iter().enumerate() {
                            let tokens = d.input_tokens(i, k, t) + d.output_tokens(i, k, t);
                            used += class.resource_units_per_token[r] * tokens * xi(i, j, k, t);
                        }
                    }
                    model = model.with(constraint!(used <= capacity));
                }
            }
        }
        // Constraints 7-8: all demand served, delay thresholds.
        let mut row = 0;
        for t in 0..nt {
            for i in 0..ni {
                for k in 0..nk {
                    let served: Expression = (0..nj).map(|j| xi(i, j, k, t)).sum();
                    model = model.with(constraint!(served == 1.0));
                    let delay = std::mem::take(&mut delay_rows[row]);
                    model = model.with(constraint!(delay <= g.delay_threshold_s[i][k]));
                    row += 1;
                }
            }
        }

        let solution = model.solve().map_err(|e| {
            SolveError::from_resolution("Green-LLM LP", e, || {
                "see the infeasibility diagnosis (not yet implemented)".to_owned()
            })
        })?;
        let grid_kw: Vec<f64> = pg.iter().map(|&v| solution.value(v)).collect();
        let emissions_kg = s
            .datacenters
            .iter()
            .enumerate()
            .map(|(j, dc)| {
                (0..nt)
                    .map(|t| dc.grid.carbon_kg_per_kwh[t] * grid_kw[j * nt + t])
                    .sum::<f64>()
            })
            .sum();
        let plan = FractionPlan::from_fn(nt, ni, nk, nj, |t, i, k, j| {
            solution.value(xi(i, j, k, t)).clamp(0.0, 1.0)
        })
        .or_else(|_| {
            // Renormalise rows that the solver's tolerances left a hair off 1.
            FractionPlan::from_fn(nt, ni, nk, nj, |t, i, k, j| {
                let sum: f64 = (0..nj)
                    .map(|jj| solution.value(xi(i, jj, k, t)).clamp(0.0, 1.0))
                    .sum();
                solution.value(xi(i, j, k, t)).clamp(0.0, 1.0) / sum
            })
        })
        .map_err(|e| scenario_error(s, format!("solution is not a plan: {e}")))?;
        Ok(GreenLlmSolution {
            status: solution.status().into(),
            objective: solution.eval(&objective),
            f_e: solution.eval(&f_e),
            f_c: solution.eval(&f_c),
            f_d: solution.eval(&f_d),
            emissions_kg,
            water_l: solution.eval(&water),
            grid_kw,
            plan,
        })
    }
}
