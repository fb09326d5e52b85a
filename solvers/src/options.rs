//! HiGHS options, validated once.

use good_lp::solvers::highs::HighsProblem;
use serde::{Deserialize, Serialize};
use verdant::config::{key, ConfigError, Validate};

/// Solver options as written in a config file (`[solver]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SolverParams {
    /// Wall-clock limit per solve, seconds; none means no limit.
    pub time_limit_s: Option<f64>,
    /// Relative MIP gap at which HiGHS may stop (HiGHS's default 1e-4 when absent).
    pub mip_rel_gap: Option<f64>,
    /// Threads HiGHS may use; none lets HiGHS choose.
    pub threads: Option<u32>,
    /// Print HiGHS's log.
    #[serde(default)]
    pub verbose: bool,
}

/// Checked solver options.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SolverOptions {
    time_limit_s: Option<f64>,
    mip_rel_gap: Option<f64>,
    threads: Option<u32>,
    verbose: bool,
}

impl Validate for SolverParams {
    type Checked = SolverOptions;

    fn validate(self, prefix: &str) -> Result<SolverOptions, ConfigError> {
        if let Some(t) = self.time_limit_s {
            if !(t.is_finite() && t > 0.0) {
                return Err(ConfigError::invalid(
                    key(prefix, "time_limit_s"),
                    format!("must be a positive number of seconds, got {t}"),
                ));
            }
        }
        if let Some(g) = self.mip_rel_gap {
            if !(g.is_finite() && (0.0..1.0).contains(&g)) {
                return Err(ConfigError::invalid(
                    key(prefix, "mip_rel_gap"),
                    format!("must be in [0, 1), got {g}"),
                ));
            }
        }
        if self.threads == Some(0) {
            return Err(ConfigError::invalid(
                key(prefix, "threads"),
                "must be at least 1 (leave it out to let HiGHS choose)",
            ));
        }
        Ok(SolverOptions {
            time_limit_s: self.time_limit_s,
            mip_rel_gap: self.mip_rel_gap,
            threads: self.threads,
            verbose: self.verbose,
        })
    }
}

impl SolverOptions {
    /// The options of [`Self::apply`] set on a HiGHS model directly (for solves that read what
    /// good_lp does not pass on, such as the MIP dual bound).
    pub(crate) fn configure(&self, model: &mut highs::Model) {
        model.set_option("output_flag", self.verbose);
        if let Some(t) = self.time_limit_s {
            model.set_option("time_limit", t);
        }
        if let Some(g) = self.mip_rel_gap {
            model.set_option("mip_rel_gap", g);
        }
        if let Some(n) = self.threads {
            model.set_option("threads", n as i32);
        }
    }

    /// These options with a time limit per solve of at most `limit_s` seconds.
    pub fn time_limited(&self, limit_s: f64) -> SolverOptions {
        SolverOptions {
            time_limit_s: Some(self.time_limit_s.map_or(limit_s, |t| t.min(limit_s))),
            ..self.clone()
        }
    }

    /// These options with one HiGHS thread per solve, for solves run side by side (each on a
    /// core of its own: HiGHS's simplex and interior point methods use one thread anyway, and
    /// its MIP gains little from more).
    pub fn single_threaded(&self) -> SolverOptions {
        SolverOptions {
            threads: Some(1),
            ..self.clone()
        }
    }

    /// Sets these options on a HiGHS problem. HiGHS's own log stays off unless `verbose`.
    pub fn apply(&self, mut problem: HighsProblem) -> HighsProblem {
        problem.set_verbose(self.verbose);
        problem = problem.set_option("output_flag", self.verbose);
        if let Some(t) = self.time_limit_s {
            problem = problem.set_time_limit(t);
        }
        if let Some(g) = self.mip_rel_gap {
            problem = problem.set_option("mip_rel_gap", g);
        }
        if let Some(n) = self.threads {
            problem = problem.set_threads(n);
        }
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_name_their_key() {
        let bad = SolverParams {
            mip_rel_gap: Some(1.5),
            ..Default::default()
        };
        let err = bad.validate("solver").unwrap_err().to_string();
        assert!(err.starts_with("solver.mip_rel_gap:"), "{err}");
        let bad = SolverParams {
            time_limit_s: Some(f64::NAN),
            ..Default::default()
        };
        assert!(bad
            .validate("")
            .unwrap_err()
            .to_string()
            .starts_with("time_limit_s:"));
        let bad = SolverParams {
            threads: Some(0),
            ..Default::default()
        };
        assert!(bad.validate("").is_err());
        assert!(SolverParams::default().validate("").is_ok());
    }
}
