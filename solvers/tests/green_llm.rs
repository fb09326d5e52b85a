//! Green-LLM on its base case reproduces the published optima (HiGHS and Gurobi agree on them).

use std::path::Path;

use verdant::config::Validate;
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant_solvers::green_llm::{GreenLlmModel, Weights};
use verdant_solvers::{SolveStatus, SolverParams};

fn base() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../experiments/configs/scenarios/green-llm-base.toml");
    Scenario::load(&path, MasterSeed(0)).unwrap()
}

fn close(got: f64, want: f64) -> bool {
    ((got - want) / want).abs() <= 1e-5
}

#[test]
fn base_case_optima_reproduce() {
    let s = base();
    let model = GreenLlmModel::new(&s).unwrap();
    let options = SolverParams {
        threads: Some(1),
        ..Default::default()
    }
    .validate("solver")
    .unwrap();
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
    let options = SolverParams {
        threads: Some(1),
        ..Default::default()
    }
    .validate("solver")
    .unwrap();
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
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/configs/scenarios/geo-4dc.toml");
    let geo = Scenario::load(&path, MasterSeed(0)).unwrap();
    let err = GreenLlmModel::new(&geo).err().unwrap().to_string();
    assert!(err.contains("has no Green-LLM terms"), "{err}");
}
