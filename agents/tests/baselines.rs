//! The learning baselines: valid plans scored by the simulator, and the same seed gives the same plan.

use verdant::allocator::{Allocator, Problem};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::SimParams;
use verdant_agents::baselines::{
    ActorCritic, ActorCriticParams, DoubleDqn, DoubleDqnParams, QLearning, QLearningParams,
};

fn geo4() -> Scenario {
    let path = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    Scenario::load(&path, MasterSeed(2)).unwrap()
}

#[test]
fn learning_baselines_are_deterministic_and_scored() {
    let s = geo4();
    let problem = Problem::new(&s, SimParams::default());
    let mut sim = problem.fluid();
    let make = |seed: u64| -> Vec<Box<dyn Allocator>> {
        vec![
            Box::new(QLearning {
                params: QLearningParams {
                    days: 3,
                    learning_rate: 0.1,
                    gamma: 0.95,
                },
                seed: MasterSeed(seed),
            }),
            Box::new(DoubleDqn {
                params: DoubleDqnParams {
                    days: 2,
                    hidden: 16,
                    learning_rate: 1e-3,
                    gamma: 0.95,
                    batch: 16,
                    target_every: 50,
                },
                seed: MasterSeed(seed),
            }),
            Box::new(ActorCritic {
                params: ActorCriticParams {
                    days: 2,
                    hidden: 16,
                    learning_rate: 1e-3,
                    gamma: 0.95,
                },
                seed: MasterSeed(seed),
            }),
        ]
    };
    for (mut a, mut b) in make(1).into_iter().zip(make(1)) {
        let pa = a.allocate(&problem).unwrap();
        let pb = b.allocate(&problem).unwrap();
        assert_eq!(pa, pb, "{}: same seed, same plan", a.name());
        let o = sim.score(&pa).unwrap().objectives();
        assert!(o.energy_kwh > 0.0 && o.ttft_s.is_finite(), "{}", a.name());
    }
}
