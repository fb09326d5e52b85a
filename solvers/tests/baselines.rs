//! The search and heuristic baselines: max-flow against a textbook network, and every baseline's
//! plan valid, feasible where the fleet has room, and scored by the simulator.

use verdant::allocator::rules::{Greedy, GreedyKey, RoundRobin};
use verdant::allocator::{Allocator, Problem};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::SimParams;
use verdant_solvers::baselines::{
    max_flow, Helix, Nsga2, Nsga2Params, PerLlm, PerLlmParams, Slit, SlitParams, Splitwise,
};

#[test]
fn dinic_finds_the_textbook_maximum_flow() {
    // CLRS figure 26.1: maximum flow 23.
    let edges = [
        (0, 1, 16.0),
        (0, 2, 13.0),
        (2, 1, 4.0),
        (1, 3, 12.0),
        (3, 2, 9.0),
        (2, 4, 14.0),
        (4, 3, 7.0),
        (3, 5, 20.0),
        (4, 5, 4.0),
    ];
    let (flow, per_edge) = max_flow(6, &edges, 0, 5);
    assert!((flow - 23.0).abs() < 1e-9);
    for (f, e) in per_edge.iter().zip(&edges) {
        assert!(*f >= -1e-9 && *f <= e.2 + 1e-9);
    }
    // Conservation at every inner node.
    for v in 1..5 {
        let inflow: f64 = edges
            .iter()
            .zip(&per_edge)
            .filter(|(e, _)| e.1 == v)
            .map(|(_, f)| f)
            .sum();
        let outflow: f64 = edges
            .iter()
            .zip(&per_edge)
            .filter(|(e, _)| e.0 == v)
            .map(|(_, f)| f)
            .sum();
        assert!((inflow - outflow).abs() < 1e-9);
    }
}

fn geo4() -> Scenario {
    let path = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    Scenario::load(&path, MasterSeed(2)).unwrap()
}

#[test]
fn every_baseline_gives_a_plan_the_simulator_scores() {
    let s = geo4();
    let planner = EpochPlanner::new(&s, 0.95);
    let mut methods: Vec<Box<dyn Allocator>> = vec![
        Box::new(Helix::default()),
        Box::new(Splitwise::default()),
        Box::new(Nsga2 {
            params: Nsga2Params {
                population: 6,
                generations: 2,
                ..Nsga2Params::default()
            },
        }),
        Box::new(PerLlm {
            params: PerLlmParams {
                days: 1,
                ..PerLlmParams::default()
            },
        }),
        Box::new(Slit {
            params: SlitParams {
                generations: 1,
                ..SlitParams::default()
            },
        }),
        Box::new(RoundRobin),
        Box::new(Greedy(GreedyKey::Carbon)),
        Box::new(Greedy(GreedyKey::Price)),
    ];
    let problem = Problem::new(&s, SimParams::default());
    let mut sim = problem.fluid();
    for m in &mut methods {
        let front = m.allocate_front(&problem).unwrap();
        assert!(!front.is_empty(), "{}", m.name());
        assert_eq!(
            front.iter().filter(|p| p.representative).count(),
            1,
            "{}: one representative plan",
            m.name()
        );
        for plan in front.iter().map(|p| &p.plan) {
            let o = sim.score(plan).unwrap().objectives();
            assert!(o.carbon_kg > 0.0 && o.ttft_s.is_finite(), "{}", m.name());
            // Capacity-respecting methods keep every datacenter under the cap where the fleet
            // has room (the planner's estimate of load).
            if m.name() != "helix" {
                for e in 0..s.time.epochs {
                    let volumes: Vec<f64> = planner.volumes.iter().map(|v| v[e]).collect();
                    let nd = planner.datacenters;
                    let f: Vec<f64> = (0..planner.classes)
                        .flat_map(|c| plan.row(e, 0, c).to_vec())
                        .collect();
                    assert_eq!(f.len(), planner.classes * nd);
                    let u = planner.utilisation(e, &f, &volumes);
                    let fleet = volumes
                        .iter()
                        .enumerate()
                        .map(|(c, v)| {
                            v * (0..nd)
                                .map(|d| planner.gpu_s_per_request(e, c, d))
                                .fold(f64::INFINITY, f64::min)
                        })
                        .sum::<f64>()
                        / planner.available_gpu_s.iter().sum::<f64>();
                    if fleet < 0.8 {
                        assert!(
                            u.iter().all(|&x| x <= 0.95 + 1e-6),
                            "{} epoch {e}: {u:?}",
                            m.name()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn greedy_carbon_prefers_the_cleanest_datacenter() {
    let s = geo4();
    let plan = Greedy(GreedyKey::Carbon).plan(&s).unwrap();
    let h = s.time.hour_of_epoch(0);
    let cleanest = (0..4)
        .min_by(|&a, &b| {
            s.datacenters[a].grid.carbon_kg_per_kwh[h]
                .total_cmp(&s.datacenters[b].grid.carbon_kg_per_kwh[h])
        })
        .unwrap();
    let row = plan.row(0, 0, 0);
    let top = (0..4).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
    assert_eq!(top, cleanest, "{row:?}");
}

/// PerLLM-style's bandit learns on the training days, then keeps learning online through the
/// held-out day, whose plan it returns: its arms' statistics from day 11 change day 12's plan.
#[test]
fn the_bandit_learns_on_the_training_days_then_plans_the_held_out_one() {
    use verdant::scenario::DayRange;
    let whole = verdant::scenario::bundled("geo-8dc-14d").unwrap();
    let train = whole.days(DayRange::numbered(11, 11).unwrap()).unwrap();
    let test = whole.days(DayRange::numbered(12, 12).unwrap()).unwrap();
    let held_out = Problem::new(&test, SimParams::default()).with_training(&train);
    let bandit = |days| PerLlm {
        params: PerLlmParams {
            days,
            ..PerLlmParams::default()
        },
    };
    let trained = bandit(3).allocate(&held_out).unwrap();
    let untrained = bandit(1).allocate(&held_out).unwrap();
    assert_eq!(trained.shape()[0], test.time.epochs);
    assert_ne!(trained, untrained);
    // One pass in all: the training days are not read.
    let alone = bandit(1)
        .allocate(&Problem::new(&test, SimParams::default()))
        .unwrap();
    assert_eq!(untrained, alone);
}
