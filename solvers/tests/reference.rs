//! The reference LP: its objective values equal the simulator's score of the same plan, and its
//! single-objective optima are not beaten by other plans in its decision space.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use verdant::allocator::rules::Even;
use verdant::allocator::Problem;
use verdant::config::Validate;
use verdant::scenario::{Scaled, Scenario};
use verdant::seed::MasterSeed;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::SimParams;
use verdant_solvers::reference::ReferenceLp;
use verdant_solvers::SolverParams;

fn geo4() -> Scenario {
    let path = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    Scenario::load(&path, MasterSeed(2)).unwrap()
}

/// geo-4dc at a fifth of its demand: with a utilisation cap of 0.3 no datacenter (and, under the
/// weighted round robin, no GPU kind) saturates, the region where the accounting is affine.
fn geo4_light() -> Scenario {
    geo4().scaled(Scaled::Demand, 0.2).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn the_lp_and_the_simulator_agree_on_every_plan() {
    let s = geo4_light();
    let lp = ReferenceLp::new(&Problem::new(&s, SimParams::default()), 0.3).unwrap();
    let mut sim = FluidSimulator::new(&s, SimParams::default());
    let options = SolverParams::default().validate("solver").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // Random plans in the decision space (the same shares for every origin), light enough that
    // no datacenter saturates.
    let mut plans = vec![Even.plan(&s).unwrap()];
    for _ in 0..3 {
        let mut p = Even.plan(&s).unwrap();
        for e in 0..s.time.epochs {
            for c in 0..s.classes.len() {
                let raw: Vec<f64> = (0..4).map(|_| 1.0 + 0.3 * rng.gen::<f64>()).collect();
                let sum: f64 = raw.iter().sum();
                p.set_epoch_class(e, c, &raw.iter().map(|v| v / sum).collect::<Vec<_>>())
                    .unwrap();
            }
        }
        plans.push(p);
    }
    let min_carbon = lp
        .solve([0.0, 1.0, 0.0, 0.0], [1.0; 4], [None; 4], &options)
        .unwrap();
    plans.push(min_carbon.plan.clone());
    for plan in &plans {
        let (f, energy) = lp.evaluate(plan);
        let outcome = sim.score(plan).unwrap();
        let max_kind = outcome
            .kind_utilisation
            .iter()
            .copied()
            .fold(0.0f64, f64::max);
        assert!(max_kind <= 1.0, "no GPU kind saturates: {max_kind}");
        let o = outcome.objectives();
        assert!(
            rel(f[1], o.carbon_kg) < 1e-9,
            "carbon {} vs {}",
            f[1],
            o.carbon_kg
        );
        assert!(
            rel(f[2], o.water_l) < 1e-9,
            "water {} vs {}",
            f[2],
            o.water_l
        );
        assert!(
            rel(f[3], o.cost_usd) < 1e-9,
            "cost {} vs {}",
            f[3],
            o.cost_usd
        );
        assert!(rel(energy, o.energy_kwh) < 1e-9);
        // No queueing in the LP: its TTFT is a lower bound.
        assert!(
            f[0] <= o.ttft_s * (1.0 + 1e-9),
            "ttft {} vs {}",
            f[0],
            o.ttft_s
        );
    }
    // The LP optimum is not beaten by the other plans that respect its capacity constraint.
    for plan in &plans[..4] {
        let (f, _) = lp.evaluate(plan);
        assert!(min_carbon.objectives[1] <= f[1] * (1.0 + 1e-9));
    }
}

#[test]
fn the_front_holds_the_single_objective_optima() {
    let s = geo4();
    let lp = ReferenceLp::new(&Problem::new(&s, SimParams::default()), 0.95).unwrap();
    let options = SolverParams::default().validate("solver").unwrap();
    let front = lp.front(2, &options).unwrap();
    assert!(front.len() >= 4, "{}", front.len());
    for k in 0..4 {
        let best = front
            .iter()
            .map(|p| p.objectives[k])
            .fold(f64::INFINITY, f64::min);
        assert!(rel(best, front[k].objectives[k]) < 1e-6);
    }
}

#[test]
fn at_full_load_the_even_split_saturates_no_gpu_kind_and_the_lp_is_exact() {
    // The weighted round robin keeps every kind as busy as its datacenter, and the even split
    // keeps every datacenter at the fleet's load (95% at the peak, a little more for a kind whose
    // requests are larger that epoch than on the day's mean): no kind saturates,
    // so the affine LP equals the simulator there too.
    let s = geo4();
    let lp = ReferenceLp::new(&Problem::new(&s, SimParams::default()), 0.95).unwrap();
    let plan = Even.plan(&s).unwrap();
    let outcome = FluidSimulator::new(&s, SimParams::default())
        .score(&plan)
        .unwrap();
    let max_kind = outcome.kind_utilisation.iter().copied().fold(0.0, f64::max);
    assert!(max_kind < 1.0, "no GPU kind saturates: {max_kind}");
    let (f, _) = lp.evaluate(&plan);
    let o = outcome.objectives();
    assert!(rel(f[1], o.carbon_kg) < 1e-9, "{} vs {}", f[1], o.carbon_kg);
    assert!(rel(f[2], o.water_l) < 1e-9);
    assert!(rel(f[3], o.cost_usd) < 1e-9);
}
