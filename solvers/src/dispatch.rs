//! Minimum-cost dispatch of a demand over sites.
//!
//! `D` requests must be served by sites `j`, each with a price per request `p_j` and a capacity
//! `cap_j`:
//!
//! - **LP**: choose `x_j in [0, cap_j]` with `sum_j x_j = D`, minimising `sum_j p_j x_j`.
//! - **MILP**: additionally, serving requests needs whole servers: `n_j` integer, each serving up to
//!   `r_j` requests at a fixed cost `s_j`: `x_j <= r_j n_j`, minimising `sum_j p_j x_j + s_j n_j`.
//!
//! The LP's optimum is the merit order (cheapest sites filled first), which makes it a checkable
//! smoke test of the HiGHS toolchain; the MILP has no such shortcut and is checked by enumeration.

use good_lp::{constraint, variable, Expression, ProblemVariables, Solution, SolverModel};
use serde::{Deserialize, Serialize};
use verdant::config::{key, ConfigError, Validate};

use crate::{SolveError, SolveStatus, SolverOptions};

/// One site as written in a config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteParams {
    /// The site's name.
    pub name: String,
    /// Price per request served there, USD.
    pub price_usd_per_request: f64,
    /// Requests it can serve.
    pub capacity_requests: f64,
    /// Requests one server can serve (MILP only).
    pub requests_per_server: f64,
    /// Fixed cost of switching one server on (MILP only).
    pub server_cost_usd: f64,
}

/// A dispatch problem as written in a config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchParams {
    /// Requests to serve.
    pub demand_requests: f64,
    /// The sites.
    pub sites: Vec<SiteParams>,
}

/// A checked dispatch problem: finite non-negative numbers, at least one site, unique names.
#[derive(Debug, Clone)]
pub struct DispatchProblem {
    demand_requests: f64,
    sites: Vec<SiteParams>,
}

impl Validate for DispatchParams {
    type Checked = DispatchProblem;

    fn validate(self, prefix: &str) -> Result<DispatchProblem, ConfigError> {
        let non_negative = |k: String, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(ConfigError::invalid(
                    k,
                    format!("must be a finite number >= 0, got {v}"),
                ))
            }
        };
        non_negative(key(prefix, "demand_requests"), self.demand_requests)?;
        if self.sites.is_empty() {
            return Err(ConfigError::invalid(
                key(prefix, "sites"),
                "needs at least one site",
            ));
        }
        for (i, site) in self.sites.iter().enumerate() {
            let at = format!("{}[{i}]", key(prefix, "sites"));
            non_negative(
                key(&at, "price_usd_per_request"),
                site.price_usd_per_request,
            )?;
            non_negative(key(&at, "capacity_requests"), site.capacity_requests)?;
            non_negative(key(&at, "server_cost_usd"), site.server_cost_usd)?;
            if !(site.requests_per_server.is_finite() && site.requests_per_server > 0.0) {
                return Err(ConfigError::invalid(
                    key(&at, "requests_per_server"),
                    format!(
                        "must be a finite number > 0, got {}",
                        site.requests_per_server
                    ),
                ));
            }
            if self.sites[..i].iter().any(|s| s.name == site.name) {
                return Err(ConfigError::invalid(
                    key(&at, "name"),
                    format!("duplicate site name {:?}", site.name),
                ));
            }
        }
        Ok(DispatchProblem {
            demand_requests: self.demand_requests,
            sites: self.sites,
        })
    }
}

/// A solved dispatch.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchSolution {
    /// How to read the solution.
    pub status: SolveStatus,
    /// Requests served per site, in the order of the problem's sites.
    pub served_requests: Vec<f64>,
    /// Servers switched on per site (MILP); empty for the LP.
    pub servers: Vec<u32>,
    /// Total cost, USD.
    pub cost_usd: f64,
}

impl DispatchProblem {
    /// The sites.
    pub fn sites(&self) -> &[SiteParams] {
        &self.sites
    }

    /// Requests to serve.
    pub fn demand_requests(&self) -> f64 {
        self.demand_requests
    }

    fn infeasibility(&self) -> String {
        let capacity: f64 = self.sites.iter().map(|s| s.capacity_requests).sum();
        if self.demand_requests > capacity {
            format!(
                "demand of {} requests exceeds the total site capacity of {capacity} requests",
                self.demand_requests
            )
        } else {
            "no constraint family alone explains it (numerical trouble?)".to_owned()
        }
    }

    /// Solves the LP (continuous shares, no server costs).
    pub fn solve_lp(&self, options: &SolverOptions) -> Result<DispatchSolution, SolveError> {
        self.solve(options, false)
    }

    /// Solves the MILP (whole servers with a fixed cost each).
    pub fn solve_milp(&self, options: &SolverOptions) -> Result<DispatchSolution, SolveError> {
        self.solve(options, true)
    }

    fn solve(
        &self,
        options: &SolverOptions,
        integer_servers: bool,
    ) -> Result<DispatchSolution, SolveError> {
        let model_name = if integer_servers {
            "dispatch MILP"
        } else {
            "dispatch LP"
        };
        let mut vars = ProblemVariables::new();
        let served: Vec<_> = self
            .sites
            .iter()
            .map(|s| vars.add(variable().min(0.0).max(s.capacity_requests)))
            .collect();
        let servers: Vec<_> = if integer_servers {
            self.sites
                .iter()
                .map(|s| {
                    let most = (s.capacity_requests / s.requests_per_server).ceil();
                    vars.add(variable().integer().min(0.0).max(most))
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut cost = Expression::from(0.0);
        for (j, site) in self.sites.iter().enumerate() {
            cost += site.price_usd_per_request * served[j];
            if integer_servers {
                cost += site.server_cost_usd * servers[j];
            }
        }
        let total: Expression = served.iter().sum();
        let mut model = options
            .apply(vars.minimise(cost.clone()).using(good_lp::highs))
            .with(constraint!(total == self.demand_requests));
        for (j, site) in self.sites.iter().enumerate() {
            if integer_servers {
                model = model.with(constraint!(
                    served[j] <= site.requests_per_server * servers[j]
                ));
            }
        }
        let solution = model
            .solve()
            .map_err(|e| SolveError::from_resolution(model_name, e, || self.infeasibility()))?;
        Ok(DispatchSolution {
            status: solution.status().into(),
            served_requests: served.iter().map(|&v| solution.value(v)).collect(),
            servers: servers
                .iter()
                .map(|&v| solution.value(v).round() as u32)
                .collect(),
            cost_usd: solution.eval(&cost),
        })
    }
}
