//! Green-LLM on its base case reproduces the published optima (HiGHS and Gurobi agree on them).

use verdant::config::Validate;
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant_solvers::green_llm::{GreenLlmModel, Weights};
use verdant_solvers::{SolveStatus, SolverParams};

fn base() -> Scenario {
    let path = verdant::scenario::bundled_dir().join("green-llm-base.toml");
    Scenario::load(&path, MasterSeed(0)).unwrap()
}

fn close(got: f64, want: f64) -> bool {
    ((got - want) / want).abs() <= 1e-5
}

#[test]
fn base_case_optima_reproduce() {
    let s = base();
    let model = GreenLlmModel::new(&s).unwrap();
    let options = options();
    let m1 = model.solve_weighted(Weights::M1, &options).unwrap();
    assert_eq!(m1.status, SolveStatus::Optimal);
    assert!(close(m1.f_e, 193.9357), "min F_E = {}", m1.f_e);
    let m2 = model.solve_weighted(Weights::M2, &options).unwrap();
    assert!(close(m2.f_c, 2.08966), "min F_C = {}", m2.f_c);
    let delay = model.solve_weighted(Weights::DELAY, &options).unwrap();
    assert!(close(delay.f_d, 179.823), "min F_D = {}", delay.f_d);
    let m0 = model.solve_weighted(Weights::M0, &options).unwrap();
    assert!(close(m0.objective, 130.694), "M0 = {}", m0.objective);
    assert!((m0.objective - (m0.f_e + m0.f_c + m0.f_d) / 3.0).abs() < 1e-9);
}

#[test]
fn solutions_score_the_same_in_the_shared_simulator() {
    use verdant::sim::fluid::FluidSimulator;
    use verdant::sim::SimParams;
    let s = base();
    let model = GreenLlmModel::new(&s).unwrap();
    let options = options();
    for weights in [Weights::M0, Weights::M1, Weights::M3] {
        let solution = model.solve_weighted(weights, &options).unwrap();
        let outcome = FluidSimulator::new(&s, SimParams::default())
            .score(&solution.plan)
            .unwrap();
        // Pg = max(0, PUE Pc - P_w) at these optima (prices and carbon costs are positive), which is
        // what the simulator charges.
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-9);
        assert!(
            rel(outcome.totals.energy_cost_usd, solution.f_e) < 1e-6,
            "{weights:?}: {} vs {}",
            outcome.totals.energy_cost_usd,
            solution.f_e
        );
        assert!(
            rel(outcome.totals.carbon_tax_usd, solution.f_c) < 1e-6,
            "{weights:?}"
        );
        assert!(
            rel(outcome.totals.carbon_grid_kg, solution.emissions_kg) < 1e-6,
            "{weights:?}"
        );
    }
}

#[test]
fn scenarios_without_green_llm_terms_are_refused() {
    let path = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    let geo = Scenario::load(&path, MasterSeed(0)).unwrap();
    let err = GreenLlmModel::new(&geo).err().unwrap().to_string();
    assert!(err.contains("has no Green-LLM terms"), "{err}");
}

fn options() -> verdant_solvers::SolverOptions {
    SolverParams {
        threads: Some(1),
        ..Default::default()
    }
    .validate("solver")
    .unwrap()
}

#[test]
fn lexicographic_stages_keep_earlier_optima_within_eps() {
    use verdant_solvers::green_llm::Objective;
    let s = base();
    let model = GreenLlmModel::new(&s).unwrap();
    for eps in [0.001, 0.03] {
        let lex = model.solve_lexicographic(
            [Objective::Cost, Objective::Carbon, Objective::Delay],
            eps,
            1e-6,
            &options(),
        );
        assert_eq!(lex.stages.len(), 3);
        let f_e_opt = lex.stages[0].optimum.unwrap();
        assert!(close(f_e_opt, 193.9357), "{f_e_opt}");
        let last = lex.solution().unwrap();
        assert!(last.f_e <= f_e_opt * (1.0 + eps) + 1e-6 + 1e-9);
        assert!(last.f_c <= lex.stages[1].optimum.unwrap() * (1.0 + eps) + 1e-6 + 1e-9);
        // The carbon stage cannot beat carbon's own optimum; with F_E allowed to grow, it gets
        // closer to it.
        assert!(lex.stages[1].optimum.unwrap() >= 2.08966 * (1.0 - 1e-5));
        assert!(lex
            .stages
            .iter()
            .all(|st| st.status == Some(SolveStatus::Optimal)));
    }
    // Every order is accepted.
    for order in Objective::ORDERS {
        let lex = model.solve_lexicographic(order, 0.001, 1e-6, &options());
        assert!(lex.solution().is_some(), "{order:?}");
    }
}

#[test]
fn infeasibility_is_diagnosed_by_family() {
    let mut parts = base().into_parts();
    parts.green_llm.as_mut().unwrap().water_budget_l = 1.0;
    let s = Scenario::from_parts(parts).unwrap();
    let model = GreenLlmModel::new(&s).unwrap();
    let err = model
        .solve_weighted(Weights::M1, &options())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("infeasible"), "{err}");
    assert_eq!(model.diagnose(&options()).unwrap(), vec!["water budget"]);
    let mut parts = base().into_parts();
    for row in &mut parts.green_llm.as_mut().unwrap().delay_threshold_s {
        row.iter_mut().for_each(|v| *v = 1e-4);
    }
    let s = Scenario::from_parts(parts).unwrap();
    assert_eq!(
        GreenLlmModel::new(&s)
            .unwrap()
            .diagnose(&options())
            .unwrap(),
        vec!["delay thresholds"]
    );
    assert!(GreenLlmModel::new(&base())
        .unwrap()
        .diagnose(&options())
        .unwrap()
        .is_empty());
}

#[test]
fn epsilon_front_is_non_dominated_and_spans_the_optima() {
    let s = base();
    let front = GreenLlmModel::new(&s)
        .unwrap()
        .epsilon_front(3, &options())
        .unwrap();
    assert!(front.len() >= 3, "{}", front.len());
    let v: Vec<[f64; 3]> = front.iter().map(|p| [p.f_e, p.f_c, p.f_d]).collect();
    for a in &v {
        for b in &v {
            assert!(!verdant::pareto::dominates(a, b));
        }
    }
    let min_e = v.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    assert!(close(min_e, 193.9357));
    let reference =
        verdant::pareto::ReferencePoint::WorstObserved.resolve([v.concat().as_slice()], 3);
    assert!(verdant::pareto::hypervolume(&v.concat(), 3, &reference) > 0.0);
}

#[test]
fn milp_recovers_the_lp_optimum_without_download_cost() {
    use verdant_solvers::green_llm::{MilpParams, ServerParams};
    let s = base();
    let exact = SolverParams {
        threads: Some(1),
        mip_rel_gap: Some(1e-9),
        time_limit_s: Some(30.0),
        ..Default::default()
    }
    .validate("solver")
    .unwrap();
    let lp = GreenLlmModel::new(&s)
        .unwrap()
        .solve_weighted(Weights::M0, &exact)
        .unwrap();
    let free = MilpParams {
        download_cost_usd: 0.0,
        resident: vec![],
        servers: Some(ServerParams {
            gpu_units_per_server: 500.0,
            idle_kw_per_server: 0.0,
        }),
    };
    let milp = GreenLlmModel::new(&s)
        .unwrap()
        .with_milp(free)
        .unwrap()
        .solve_weighted(Weights::M0, &exact)
        .unwrap();
    eprintln!(
        "free MILP: {:?}, build {:.2} s, solve {:.2} s",
        milp.status, milp.build_s, milp.solve_s
    );
    assert!(
        ((milp.objective - lp.objective) / lp.objective).abs() < 1e-9,
        "{} vs {}",
        milp.objective,
        lp.objective
    );

    // Downloads and idle servers cost something: the optimum cannot improve.
    let costly = MilpParams {
        download_cost_usd: 5.0,
        resident: vec![],
        servers: Some(ServerParams {
            gpu_units_per_server: 500.0,
            idle_kw_per_server: 0.5,
        }),
    };
    // Any feasible point of this MILP pays downloads on top of the LP's cost, so a time-limited
    // solve (reported as such) is enough for the comparison.
    let quick = SolverParams {
        threads: Some(1),
        mip_rel_gap: Some(0.01),
        time_limit_s: Some(5.0),
        ..Default::default()
    }
    .validate("solver")
    .unwrap();
    let milp = GreenLlmModel::new(&s)
        .unwrap()
        .with_milp(costly)
        .unwrap()
        .solve_weighted(Weights::M1, &quick)
        .unwrap();
    eprintln!(
        "costly MILP: {:?}, solve {:.2} s",
        milp.status, milp.solve_s
    );
    let lp_cost = GreenLlmModel::new(&s)
        .unwrap()
        .solve_weighted(Weights::M1, &exact)
        .unwrap();
    assert!(milp.f_e > lp_cost.f_e, "{} vs {}", milp.f_e, lp_cost.f_e);
    let bad = MilpParams {
        download_cost_usd: -1.0,
        resident: vec![],
        servers: None,
    };
    assert!(GreenLlmModel::new(&s).unwrap().with_milp(bad).is_err());
}
