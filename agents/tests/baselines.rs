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
    for (mut a, mut b) in make(1).into_iter().zip(make(1)) {
        let pa = a.allocate(&problem).unwrap();
        let pb = b.allocate(&problem).unwrap();
        assert_eq!(pa, pb, "{}: same seed, same plan", a.name());
        let o = sim.score(&pa).unwrap().objectives();
        assert!(o.energy_kwh > 0.0 && o.ttft_s.is_finite(), "{}", a.name());
    }
}

/// With training days named, the learners learn on them and act greedily on the problem's own
/// (held-out) days: a plan of the held-out day, which differs from learning on that day itself.
#[test]
fn learning_baselines_learn_on_the_training_days_and_act_on_the_held_out_ones() {
    use verdant::scenario::DayRange;
    let whole = verdant::scenario::bundled("geo-8dc-14d").unwrap();
    let train = whole.days(DayRange::numbered(11, 11).unwrap()).unwrap();
    let test = whole.days(DayRange::numbered(12, 12).unwrap()).unwrap();
    let held_out = Problem::new(&test, SimParams::default()).with_training(&train);
    assert_eq!(held_out.training().scenario.name, train.name);
    let in_sample = Problem::new(&test, SimParams::default());
    assert_eq!(in_sample.training().scenario.name, test.name);
    for (mut a, mut b) in make(1).into_iter().zip(make(1)) {
        let plan = a.allocate(&held_out).unwrap();
        assert_eq!(plan.shape()[0], test.time.epochs, "{}", a.name());
        let learned_there = b.allocate(&in_sample).unwrap();
        assert_ne!(plan, learned_there, "{}: learned on another day", a.name());
    }
}

/// The three learners at test size, seeded.
fn make(seed: u64) -> Vec<Box<dyn Allocator>> {
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
}
