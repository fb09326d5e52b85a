//! The method registry: every method Verdant compares, by name, with its kind, whether it is
//! deterministic, and its constructor from its typed config section (`[methods.<name>]`).
//!
//! Methods built here are [`Allocator`]s straight away. The learned methods with their own
//! training runs (MARLIN's schemes, the load balancer's agents) are listed too; the
//! [`crate::training`] module trains them, and their trained policies are `Allocator`s as well.

use serde::Deserialize;
use verdant::allocator::rules::{Even, Greedy, GreedyKey, Nearest, RoundRobin};
use verdant::allocator::{Allocator, Problem};
use verdant::config::{key, ConfigError, Validate};
use verdant::seed::MasterSeed;
use verdant_agents::baselines::{
    ActorCritic, ActorCriticParams, DoubleDqn, DoubleDqnParams, QLearning, QLearningParams,
};
use verdant_solvers::baselines::{
    Helix, Nsga2, Nsga2Params, PerLlm, PerLlmParams, Slit, SlitParams, Splitwise,
};
use verdant_solvers::methods::{ExactFront, GreenLlm};
use verdant_solvers::{SolverOptions, SolverParams};

use crate::scoring::Scored;

/// What a method is, for tables and for which methods a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A sanity-check rule.
    Rule,
    /// One of the eight frameworks of MARLIN's comparison (its section 6).
    Framework,
    /// An optimisation model solved by HiGHS.
    Solver,
    /// Trained in its own run ([`crate::training`]); its trained policy allocates.
    Trained,
}

/// How a method is built.
#[derive(Clone, Copy)]
pub(crate) enum Build {
    /// From its config section and a seed.
    Allocator(fn(&MethodsChecked, MasterSeed) -> Box<dyn Allocator + Send>),
    /// Trained by [`crate::training`].
    Trained,
}

/// One row of the registry.
#[derive(Clone, Copy)]
pub(crate) struct Method {
    pub name: &'static str,
    pub kind: Kind,
    /// Gives the same plans whatever the seed (run once, not once per seed).
    pub deterministic: bool,
    pub build: Build,
}

/// Every method, in the order tables list them.
pub(crate) const REGISTRY: &[Method] = &[
    Method {
        name: "exact",
        kind: Kind::Solver,
        deterministic: true,
        build: Build::Allocator(|c, _| {
            Box::new(ExactFront {
                utilisation_cap: c.exact.utilisation_cap,
                front_grid: c.exact.front_grid,
                solver: c.exact.solver.clone(),
            })
        }),
    },
    Method {
        name: "green-llm",
        kind: Kind::Solver,
        deterministic: true,
        build: Build::Allocator(|c, _| {
            Box::new(GreenLlm::new(c.exact.front_grid, c.exact.solver.clone()))
        }),
    },
    Method {
        name: "marlin",
        kind: Kind::Trained,
        deterministic: false,
        build: Build::Trained,
    },
    Method {
        name: "lb",
        kind: Kind::Trained,
        deterministic: false,
        build: Build::Trained,
    },
    Method {
        name: "helix",
        kind: Kind::Framework,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(Helix::default())),
    },
    Method {
        name: "splitwise",
        kind: Kind::Framework,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(Splitwise::default())),
    },
    Method {
        name: "nsga2",
        kind: Kind::Framework,
        deterministic: false,
        build: Build::Allocator(|c, seed| {
            Box::new(Nsga2 {
                params: Nsga2Params {
                    population: c.sections.nsga2.population,
                    generations: c.sections.nsga2.generations,
                    seed: seed.derive("compare.nsga2"),
                    ..Nsga2Params::default()
                },
            })
        }),
    },
    Method {
        name: "perllm",
        kind: Kind::Framework,
        deterministic: true,
        build: Build::Allocator(|c, _| {
            Box::new(PerLlm {
                params: PerLlmParams {
                    days: c.sections.perllm.days,
                    ..PerLlmParams::default()
                },
            })
        }),
    },
    Method {
        name: "slit",
        kind: Kind::Framework,
        deterministic: false,
        build: Build::Allocator(|c, seed| {
            Box::new(Slit {
                params: SlitParams {
                    generations: c.sections.slit.generations,
                    seed: seed.derive("compare.slit"),
                    ..SlitParams::default()
                },
            })
        }),
    },
    Method {
        name: "q-learning",
        kind: Kind::Framework,
        deterministic: false,
        build: Build::Allocator(|c, seed| {
            Box::new(QLearning {
                params: c.sections.q_learning.clone(),
                seed,
            })
        }),
    },
    Method {
        name: "double-dqn",
        kind: Kind::Framework,
        deterministic: false,
        build: Build::Allocator(|c, seed| {
            Box::new(DoubleDqn {
                params: c.sections.double_dqn.clone(),
                seed,
            })
        }),
    },
    Method {
        name: "actor-critic",
        kind: Kind::Framework,
        deterministic: false,
        build: Build::Allocator(|c, seed| {
            Box::new(ActorCritic {
                params: c.sections.actor_critic.clone(),
                seed,
            })
        }),
    },
    Method {
        name: "round-robin",
        kind: Kind::Rule,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(RoundRobin)),
    },
    Method {
        name: "lowest-carbon",
        kind: Kind::Rule,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(Greedy(GreedyKey::Carbon))),
    },
    Method {
        name: "lowest-price",
        kind: Kind::Rule,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(Greedy(GreedyKey::Price))),
    },
    Method {
        name: "nearest",
        kind: Kind::Rule,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(Nearest)),
    },
    Method {
        name: "even",
        kind: Kind::Rule,
        deterministic: true,
        build: Build::Allocator(|_, _| Box::new(Even)),
    },
];

/// The registry row of `name`.
pub(crate) fn method(name: &str) -> Option<&'static Method> {
    REGISTRY.iter().find(|m| m.name == name)
}

/// The names of the methods of `kind`, in registry order.
pub(crate) fn names(kind: Kind) -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.name)
        .collect()
}

/// Checks that `name` is a registered method that can be built from config (not one trained in
/// its own run); the error names `config_key`.
pub(crate) fn check_buildable(name: &str, config_key: &str) -> Result<(), ConfigError> {
    match method(name) {
        Some(Method {
            build: Build::Allocator(_),
            ..
        }) => Ok(()),
        _ => {
            let known: Vec<&str> = REGISTRY
                .iter()
                .filter(|m| matches!(m.build, Build::Allocator(_)))
                .map(|m| m.name)
                .collect();
            Err(ConfigError::invalid(
                config_key,
                format!("unknown method {name:?} (known: {})", known.join(", ")),
            ))
        }
    }
}

/// Builds the method `name` for run seed `seed`. `None` for an unknown name or a method
/// trained in its own run.
pub(crate) fn build(
    name: &str,
    config: &MethodsChecked,
    seed: MasterSeed,
) -> Option<Box<dyn Allocator + Send>> {
    match method(name)?.build {
        Build::Allocator(make) => Some(make(config, seed)),
        Build::Trained => None,
    }
}

/// `[methods.nsga2]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nsga2Section {
    pub population: usize,
    pub generations: usize,
}

/// `[methods.slit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlitSection {
    pub generations: usize,
}

/// `[methods.perllm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PerLlmSection {
    /// Passes over the day.
    pub days: usize,
}

/// `[methods.exact]`: the exact reference front (and Green-LLM's solver settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExactSection {
    pub utilisation_cap: f64,
    /// The epsilon-constraint lattice has `front_grid`^3 points.
    pub front_grid: usize,
    /// Certify and refine the front with the bound model (`verdant compare`, decision 0010).
    pub certify: bool,
    /// HiGHS's time limit per solve of a front plan's bound, seconds.
    pub certify_plan_time_limit_s: f64,
    /// Wall-clock budget of the bound model's solves over plans, seconds.
    pub certify_front_budget_s: f64,
    /// Wall-clock budget of the bounds of the front's plans, seconds.
    pub certify_plans_budget_s: f64,
    #[serde(default)]
    pub solver: SolverParams,
}

/// `[methods]`: one typed section per method that has settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MethodsSection {
    pub exact: ExactSection,
    pub nsga2: Nsga2Section,
    pub slit: SlitSection,
    pub perllm: PerLlmSection,
    #[serde(rename = "q-learning")]
    pub q_learning: QLearningParams,
    #[serde(rename = "double-dqn")]
    pub double_dqn: DoubleDqnParams,
    #[serde(rename = "actor-critic")]
    pub actor_critic: ActorCriticParams,
}

/// `[methods.exact]`, checked.
#[derive(Debug, Clone)]
pub(crate) struct ExactChecked {
    pub utilisation_cap: f64,
    pub front_grid: usize,
    /// None where `certify` is off.
    pub certify: Option<crate::certify::Settings>,
    pub solver: SolverOptions,
}

impl ExactChecked {
    /// Certifies `method`'s front in `scored` ([`crate::certify::certify`]) with these solver
    /// and certification settings; `None` where `certify` is off.
    pub(crate) fn certify(
        &self,
        problem: &Problem,
        scored: &mut Scored,
        method: &str,
    ) -> Option<anyhow::Result<crate::certify::Certification>> {
        self.certify.as_ref().map(|settings| {
            crate::certify::certify(problem, scored, method, &self.solver, settings)
        })
    }
}

/// `[methods]`, checked.
#[derive(Debug, Clone)]
pub(crate) struct MethodsChecked {
    pub exact: ExactChecked,
    pub sections: MethodsSection,
}

impl MethodsChecked {
    /// The one budget rule (issue 21, decision 0011): the learning frameworks (Q-learning,
    /// Double DQN, Actor-Critic; one environment step per epoch) train as many passes over the
    /// training days as give MARLIN's environment steps at `marlin_days` passes and `k_opt`
    /// (four agents, `k_opt` explored plans each per epoch): `4 k_opt marlin_days`.
    pub fn with_marlin_budget(&self, marlin_days: usize, k_opt: usize) -> MethodsChecked {
        let days = (4 * k_opt * marlin_days).max(1);
        let mut m = self.clone();
        m.sections.q_learning.days = days;
        m.sections.double_dqn.days = days;
        m.sections.actor_critic.days = days;
        m
    }
}

impl Validate for MethodsSection {
    type Checked = MethodsChecked;
    fn validate(self, prefix: &str) -> Result<MethodsChecked, ConfigError> {
        use verdant::config::{require_at_least_one, require_fraction, require_positive};
        let at = |section: &str| key(prefix, section);
        let e = &self.exact;
        if !(e.utilisation_cap > 0.0 && e.utilisation_cap <= 1.0) {
            return Err(ConfigError::invalid(
                key(&at("exact"), "utilisation_cap"),
                format!("must be in (0, 1], got {}", e.utilisation_cap),
            ));
        }
        if e.front_grid < 2 {
            return Err(ConfigError::invalid(
                key(&at("exact"), "front_grid"),
                "must be at least 2",
            ));
        }
        require_positive(
            &at("exact"),
            "certify_plan_time_limit_s",
            e.certify_plan_time_limit_s,
        )?;
        require_positive(
            &at("exact"),
            "certify_front_budget_s",
            e.certify_front_budget_s,
        )?;
        require_positive(
            &at("exact"),
            "certify_plans_budget_s",
            e.certify_plans_budget_s,
        )?;
        let count = |n: usize| n as u64;
        require_at_least_one(&at("nsga2"), "population", count(self.nsga2.population))?;
        let q = &self.q_learning;
        require_positive(&at("q-learning"), "learning_rate", q.learning_rate)?;
        require_fraction(&at("q-learning"), "gamma", q.gamma)?;
        let d = &self.double_dqn;
        require_at_least_one(&at("double-dqn"), "hidden", d.hidden.max(0) as u64)?;
        require_positive(&at("double-dqn"), "learning_rate", d.learning_rate)?;
        require_fraction(&at("double-dqn"), "gamma", d.gamma)?;
        require_at_least_one(&at("double-dqn"), "batch", count(d.batch))?;
        require_at_least_one(&at("double-dqn"), "target_every", count(d.target_every))?;
        let a = &self.actor_critic;
        require_at_least_one(&at("actor-critic"), "hidden", a.hidden.max(0) as u64)?;
        require_positive(&at("actor-critic"), "learning_rate", a.learning_rate)?;
        require_fraction(&at("actor-critic"), "gamma", a.gamma)?;
        let solver = self
            .exact
            .solver
            .clone()
            .validate(&key(&at("exact"), "solver"))?;
        Ok(MethodsChecked {
            exact: ExactChecked {
                utilisation_cap: e.utilisation_cap,
                front_grid: e.front_grid,
                certify: e.certify.then_some(crate::certify::Settings {
                    plan_time_limit_s: e.certify_plan_time_limit_s,
                    front_budget_s: e.certify_front_budget_s,
                    plans_budget_s: e.certify_plans_budget_s,
                }),
                solver,
            },
            sections: self,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_kind_is_listed() {
        for (i, m) in REGISTRY.iter().enumerate() {
            assert!(
                REGISTRY[..i].iter().all(|n| n.name != m.name),
                "{} twice",
                m.name
            );
        }
        assert_eq!(names(Kind::Framework).len(), 8);
        assert_eq!(names(Kind::Rule).len(), 5);
        assert!(check_buildable("helix", "k").is_ok());
        let err = check_buildable("marlin", "compare.frameworks").unwrap_err();
        assert!(err.to_string().contains("compare.frameworks"), "{err}");
        assert!(check_buildable("helixx", "k").is_err());
    }
}
