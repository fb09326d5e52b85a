//! The load balancer's environment against hand calculations.

use std::sync::Arc;

use proptest::prelude::*;
use verdant::features::FeatureMatrix;
use verdant::lb::{baseline, run_episode, EpisodeMetrics, LbEnv, LbEnvConfig, LbWorkload};
use verdant::scenario::lb::{CapacityModel, RewardParams, Server};
use verdant::trace::Request;

fn workload(requests: &[(f64, u32)]) -> Arc<LbWorkload> {
    let requests: Vec<Request> = requests
        .iter()
        .map(|&(arrival_s, tokens)| Request {
            arrival_s,
            input_tokens: tokens,
            output_tokens: 0,
            class: 0,
            origin: 0,
            shared_prefix_tokens: 0,
        })
        .collect();
    let features = vec![0.0; requests.len() * FeatureMatrix::COLUMNS];
    Arc::new(LbWorkload::from_parts("test".into(), requests, features))
}

fn config(servers: &[(f64, u32)], queue_capacity: usize) -> LbEnvConfig {
    LbEnvConfig {
        servers: servers
            .iter()
            .enumerate()
            .map(|(i, &(tokens_per_s, concurrency))| Server {
                name: format!("s{i}"),
                tokens_per_s,
                concurrency,
            })
            .collect(),
        queue_capacity,
        slo_s: 2.0,
        capacity_model: CapacityModel::Shared,
        reward: RewardParams::default(),
        episode_requests: None,
    }
}

fn run(env: &mut LbEnv, actions: &[usize]) -> Vec<f64> {
    env.reset(0);
    let mut rewards = Vec::new();
    for &a in actions {
        rewards.push(env.step(a).reward);
    }
    assert!(env.is_done());
    rewards
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

#[test]
fn processor_sharing_splits_the_rate_and_the_literal_reading_does_not() {
    let w = workload(&[(0.0, 100), (0.0, 100)]);
    let mut env = LbEnv::new(w.clone(), config(&[(100.0, 2)], 10));
    run(&mut env, &[0, 0]);
    let m = EpisodeMetrics::of(&env);
    // Both share 100 tokens/s: 200 tokens take 2 s, both finish at 2 s.
    assert_eq!(EpisodeMetrics::response_times_s(&env), &[2.0, 2.0]);
    assert!(close(m.duration_s, 2.0));
    assert!(close(m.per_server[0].utilisation, 1.0));

    let mut literal = config(&[(100.0, 2)], 10);
    literal.capacity_model = CapacityModel::FullRatePerRequest;
    let mut env = LbEnv::new(w, literal);
    run(&mut env, &[0, 0]);
    assert_eq!(EpisodeMetrics::response_times_s(&env), &[1.0, 1.0]);
}

#[test]
fn a_queued_request_starts_when_a_slot_frees_not_at_the_next_arrival() {
    // One slot at 100 tokens/s. A (100 tokens) at 0 runs 0..1; B arrives at 0.5, waits, runs
    // 1..2; C arrives at 10 and runs alone.
    let w = workload(&[(0.0, 100), (0.5, 100), (10.0, 50)]);
    let mut env = LbEnv::new(w, config(&[(100.0, 1)], 10));
    run(&mut env, &[0, 0, 0]);
    let m = EpisodeMetrics::of(&env);
    assert_eq!(EpisodeMetrics::response_times_s(&env), &[1.0, 1.5, 0.5]);
    assert!(close(m.mean_response_s, 1.0));
    // B waited 0.5 s over an episode of 10.5 s.
    assert!(close(m.mean_queue_length, 0.5 / 10.5));
    assert!(close(m.duration_s, 10.5));
    assert!(close(m.per_server[0].utilisation, 2.5 / 10.5));
    assert_eq!(m.served, 3);
}

#[test]
fn overflow_is_dropped_and_every_request_is_counted() {
    let w = workload(&[(0.0, 100), (0.0, 100), (0.0, 100), (0.0, 100)]);
    let mut env = LbEnv::new(w, config(&[(100.0, 1)], 2));
    run(&mut env, &[0, 0, 0, 0]);
    let m = EpisodeMetrics::of(&env);
    assert_eq!((m.requests, m.served, m.dropped), (4, 3, 1));
    assert_eq!(m.per_server[0].dropped, 1);
    // FIFO: 1, 2, 3 s; the 3 s one and the drop miss the 2 s SLO.
    assert_eq!(EpisodeMetrics::response_times_s(&env), &[1.0, 2.0, 3.0]);
    assert!(close(m.slo_violation_pct, 50.0));
}

#[test]
fn reward_terms_match_hand_calculation() {
    // Two servers (100 tokens/s, 1 slot) and (200, 1). SLO penalty 5 for this test.
    let w = workload(&[(0.0, 100), (0.0, 100), (0.0, 100), (0.0, 100)]);
    let mut c = config(&[(100.0, 1), (200.0, 1)], 1);
    c.reward.slo_violation_penalty = 5.0;
    let mut env = LbEnv::new(w, c);
    let rewards = run(&mut env, &[0, 0, 0, 1]);
    // 1: empty server 0. processing 1 s -> -0.01; admitted +1; loads (1, 0): balance 0.
    assert!(close(
        rewards[0],
        -0.01 + 1.0 + 0.1 * (1.0 - 1.0 / (1.0 + 2e-8))
    ));
    // 2: server 0 at capacity (-10), queue 0, admitted to the queue (+1); loads (2, 0): balance 0.
    assert!(close(
        rewards[1],
        -0.01 - 10.0 + 1.0 + 0.1 * (1.0 - 1.0 / (1.0 + 1e-8))
    ));
    // 3: at capacity, queue 1 -> -0.1, queue full: dropped, no bonus; balance 0.
    assert!(close(
        rewards[2],
        -0.01 - 0.1 - 10.0 + 0.1 * (1.0 - 1.0 / (1.0 + 5e-9))
    ));
    // 4: server 1 empty: processing 0.5 s; loads (2, 0.5): mean 1.25, std 0.75. Then the drain:
    // the queued request on server 0 completes at 2 s (not > 2: no penalty), nothing is late.
    let balance = 1.0 - 0.75 / (1.25 + 1e-8);
    assert!(close(rewards[3], -0.005 + 1.0 + 0.1 * balance));
    let m = EpisodeMetrics::of(&env);
    assert!(close(m.cumulative_reward, rewards.iter().sum()));
}

#[test]
fn the_slo_penalty_is_paid_when_the_late_request_completes() {
    // 400 tokens at 100 tokens/s: 4 s > 2 s SLO; it completes during the first step's advance
    // to the second arrival at 10 s.
    let w = workload(&[(0.0, 400), (10.0, 100)]);
    let mut c = config(&[(100.0, 1)], 5);
    c.reward.slo_violation_penalty = 5.0;
    let mut env = LbEnv::new(w, c);
    let rewards = run(&mut env, &[0, 0]);
    assert!(close(rewards[0], -0.04 + 1.0 + 0.1 * (1.0 - 0.0) - 5.0));
    assert!(close(rewards[1], -0.01 + 1.0 + 0.1));
}

#[test]
fn baselines_read_the_live_state() {
    let w = workload(&[(0.0, 300), (0.0, 100), (0.0, 100)]);
    let mut env = LbEnv::new(w, config(&[(100.0, 2), (100.0, 2)], 10));
    env.reset(0);
    let mut ll = baseline("least-loaded").unwrap();
    let mut lc = baseline("least-connections").unwrap();
    env.step(0);
    assert_eq!(ll.choose(&env), 1);
    env.step(1);
    // Server 0 holds 300 tokens, server 1 100: least loaded picks 1, connections tie -> 0.
    assert_eq!(ll.choose(&env), 1);
    assert_eq!(lc.choose(&env), 0);
    let mut sed = baseline("shortest-expected-delay").unwrap();
    assert_eq!(sed.choose(&env), 1);
    assert!(baseline("nope").is_none());
}

#[test]
fn state_restores_exactly() {
    let reqs: Vec<(f64, u32)> = (0..200)
        .map(|i| (f64::from(i) * 0.05, 50 + (i * 37 % 400) as u32))
        .collect();
    let w = workload(&reqs);
    let mut c = config(&[(3000.0, 3), (5000.0, 5)], 20);
    c.episode_requests = Some(120);
    let mut env = LbEnv::new(w.clone(), c.clone());
    env.reset(7);
    let mut sed = baseline("shortest-expected-delay").unwrap();
    for _ in 0..60 {
        let a = sed.choose(&env);
        env.step(a);
    }
    let snapshot = serde_json::to_string(&env.state()).unwrap();
    let mut tail_a = Vec::new();
    while !env.is_done() {
        let a = sed.choose(&env);
        tail_a.push(env.step(a).reward);
    }
    let mut other = LbEnv::new(w, c);
    other
        .restore(serde_json::from_str(&snapshot).unwrap())
        .unwrap();
    let mut tail_b = Vec::new();
    while !other.is_done() {
        let a = sed.choose(&other);
        tail_b.push(other.step(a).reward);
    }
    assert_eq!(tail_a, tail_b);
    assert_eq!(EpisodeMetrics::of(&env), EpisodeMetrics::of(&other));
}

#[test]
fn training_windows_are_drawn_from_the_seed() {
    let reqs: Vec<(f64, u32)> = (0..100).map(|i| (f64::from(i), 10)).collect();
    let mut c = config(&[(100.0, 1)], 5);
    c.episode_requests = Some(10);
    let mut env = LbEnv::new(workload(&reqs), c);
    env.reset(1);
    let a = env.now_s();
    env.reset(1);
    assert_eq!(env.now_s(), a);
    assert_eq!(env.episode_len(), 10);
    let starts: std::collections::BTreeSet<u64> = (0..20)
        .map(|s| {
            env.reset(s);
            env.now_s() as u64
        })
        .collect();
    assert!(starts.len() > 5, "starts vary with the seed: {starts:?}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(2026),
        ..ProptestConfig::default()
    })]

    /// Every request is served once or dropped; nobody finishes faster than alone on the server.
    #[test]
    fn conservation(
        gaps in proptest::collection::vec(0.0f64..0.5, 1..150),
        tokens in proptest::collection::vec(1u32..2000, 150),
        queue in 0usize..5,
        literal in any::<bool>(),
        policy in 0usize..6,
    ) {
        let mut t = 0.0;
        let reqs: Vec<(f64, u32)> = gaps.iter().zip(&tokens).map(|(g, &k)| { t += g; (t, k) }).collect();
        let mut c = config(&[(3000.0, 3), (5000.0, 5), (7000.0, 7)], queue);
        if literal { c.capacity_model = CapacityModel::FullRatePerRequest; }
        let mut env = LbEnv::new(workload(&reqs), c);
        let mut p = baseline(verdant::lb::BASELINES[policy]).unwrap();
        run_episode(&mut env, p.as_mut(), 3);
        let m = EpisodeMetrics::of(&env);
        prop_assert_eq!(m.requests as usize, reqs.len());
        prop_assert_eq!(m.served + m.dropped, reqs.len() as u64);
        prop_assert_eq!(m.per_server.iter().map(|s| s.served).sum::<u64>(), m.served);
        let fastest = 7000.0;
        let min_tokens = reqs.iter().map(|r| r.1).min().unwrap() as f64;
        for &r in EpisodeMetrics::response_times_s(&env) {
            prop_assert!(r >= min_tokens / fastest - 1e-9);
        }
        for s in &m.per_server {
            prop_assert!(s.utilisation >= -1e-12 && s.utilisation <= 1.0 + 1e-9);
        }
    }

    /// Every observation the environment writes lies within its stated bounds (what the
    /// Python module's observation space declares), under any policy and either capacity model.
    #[test]
    fn observations_stay_within_their_bounds(
        gaps in proptest::collection::vec(0.0f64..0.3, 1..150),
        tokens in proptest::collection::vec(1u32..4000, 150),
        features in proptest::collection::vec(-5.0f32..5.0, 150 * FeatureMatrix::COLUMNS),
        queue in 0usize..4,
        literal in any::<bool>(),
        policy in 0usize..6,
    ) {
        let mut t = 0.0;
        let requests: Vec<Request> = gaps.iter().zip(&tokens).map(|(g, &k)| {
            t += g;
            Request { arrival_s: t, input_tokens: k, output_tokens: k / 2, class: 0, origin: 0, shared_prefix_tokens: 0 }
        }).collect();
        let features = features[..requests.len() * FeatureMatrix::COLUMNS].to_vec();
        let workload = Arc::new(LbWorkload::from_parts("bounds".into(), requests, features));
        let mut c = config(&[(3000.0, 2), (5000.0, 3)], queue);
        if literal { c.capacity_model = CapacityModel::FullRatePerRequest; }
        let mut env = LbEnv::new(workload, c);
        let (low, high) = env.observation_bounds();
        let mut p = baseline(verdant::lb::BASELINES[policy]).unwrap();
        env.reset(0);
        p.reset(0);
        let mut obs = vec![0.0f32; env.observation_len()];
        loop {
            env.observe(&mut obs);
            for (j, v) in obs.iter().enumerate() {
                prop_assert!(low[j] <= *v && *v <= high[j], "value {} = {} outside [{}, {}]", j, v, low[j], high[j]);
            }
            if env.is_done() {
                break;
            }
            let a = p.choose(&env);
            env.step(a);
        }
    }
}

/// Geo mode's routing of `scenario`'s requests drawn at `share` of the nodes from seed 1's
/// stream `stream` (queue of 1,000, SLO 10 s).
fn geo_routing(
    scenario: &verdant::scenario::Scenario,
    share: f64,
    stream: &str,
) -> verdant::lb::GeoRouting {
    verdant::lb::GeoRouting::new(
        scenario,
        share,
        1000,
        10.0,
        RewardParams::default(),
        &mut verdant::seed::MasterSeed(1).rng(stream),
    )
    .unwrap()
}

#[test]
fn geo_mode_routes_a_geo_scenario_into_a_plan_the_simulator_scores() {
    use verdant::scenario::Scenario;
    use verdant::seed::MasterSeed;
    use verdant::sim::fluid::FluidSimulator;
    use verdant::sim::SimParams;
    let path = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    let scenario = Scenario::load(&path, MasterSeed(1)).unwrap();
    // About 20,000 of the day's 2.4 billion requests, on the same share of the nodes.
    let share = 2e4 / scenario.demand.total_requests();
    let geo = geo_routing(&scenario, share, "geo");
    assert_eq!(geo.config.servers.len(), scenario.datacenters.len());
    assert!(geo.config.servers.iter().all(|s| s.tokens_per_s > 0.0));
    // Round robin spreads the requests evenly, so each row of its plan is close to 1/4.
    let mut rr = baseline("round-robin").unwrap();
    let (plan, metrics) = geo.plan(rr.as_mut(), 0).unwrap();
    assert_eq!(metrics.requests as usize, geo.workload.len());
    let [epochs, origins, classes, dcs] = plan.shape();
    assert_eq!(
        (epochs, origins, classes, dcs),
        (
            scenario.time.epochs,
            scenario.origins.len(),
            scenario.classes.len(),
            4
        )
    );
    let mut overall = [0.0; 4];
    for e in 0..epochs {
        for o in 0..origins {
            for c in 0..classes {
                let row = plan.row(e, o, c);
                assert!(close(row.iter().sum::<f64>(), 1.0));
                for d in 0..4 {
                    overall[d] += row[d];
                }
            }
        }
    }
    let n = (epochs * origins * classes) as f64;
    for v in overall {
        assert!((v / n - 0.25).abs() < 0.05, "{overall:?}");
    }
    let outcome = FluidSimulator::new(&scenario, SimParams::default())
        .score(&plan)
        .unwrap();
    let o = outcome.objectives();
    assert!(o.energy_kwh > 0.0 && o.carbon_kg > 0.0 && o.cost_usd > 0.0);
    // Shortest expected delay sends more work to the datacenters with more capacity.
    let mut sed = baseline("shortest-expected-delay").unwrap();
    let (sed_plan, _) = geo.plan(sed.as_mut(), 0).unwrap();
    let biggest = (0..4)
        .max_by(|&a, &b| {
            geo.config.servers[a]
                .tokens_per_s
                .total_cmp(&geo.config.servers[b].tokens_per_s)
        })
        .unwrap();
    let smallest = (0..4)
        .min_by(|&a, &b| {
            geo.config.servers[a]
                .tokens_per_s
                .total_cmp(&geo.config.servers[b].tokens_per_s)
        })
        .unwrap();
    let share_of = |p: &verdant::sim::FractionPlan, d: usize| {
        let mut s = 0.0;
        for e in 0..epochs {
            for o in 0..origins {
                for c in 0..classes {
                    s += p.row(e, o, c)[d];
                }
            }
        }
        s
    };
    if geo.config.servers[biggest].tokens_per_s > 1.5 * geo.config.servers[smallest].tokens_per_s {
        assert!(share_of(&sed_plan, biggest) > share_of(&sed_plan, smallest));
    }
}

/// Geo mode on held-out days: the routing trained on day 11 of the 14-day scenario meets day
/// 12's requests with the same servers, node share and feature scaling, and routes them into a
/// plan of day 12's epochs.
#[test]
fn geo_mode_routes_held_out_days_with_the_training_servers() {
    use verdant::scenario::DayRange;
    use verdant::seed::MasterSeed;
    let whole = verdant::scenario::bundled("geo-8dc-14d").unwrap();
    let train = whole.days(DayRange::numbered(11, 11).unwrap()).unwrap();
    let test = whole.days(DayRange::numbered(12, 12).unwrap()).unwrap();
    let share = 2e4 / train.demand.total_requests();
    let geo = geo_routing(&train, share, "geo");
    let held_out = geo
        .held_out(&test, &mut MasterSeed(1).rng("held-out"))
        .unwrap();
    assert_eq!(held_out.config.servers, geo.config.servers);
    // Drawn at the training share: as many requests as day 12 has in proportion.
    let expected = share * test.demand.total_requests();
    let drawn = held_out.workload.len() as f64;
    assert!(
        (drawn - expected).abs() < 0.05 * expected,
        "{drawn} {expected}"
    );
    assert!(held_out
        .workload
        .requests
        .iter()
        .all(|r| r.arrival_s < 86_400.0));
    // The features are scaled by the training day's scaler, not refitted on day 12: the same
    // requests (same stream and share) scaled anew differ.
    let refit = geo_routing(&test, share, "held-out");
    assert_eq!(refit.workload.len(), held_out.workload.len());
    assert_ne!(
        refit.workload.features_row(0),
        held_out.workload.features_row(0)
    );
    let mut rr = baseline("round-robin").unwrap();
    let (plan, _) = held_out.plan(rr.as_mut(), 0).unwrap();
    assert_eq!(plan.shape()[0], test.time.epochs);
    // Another world's datacenters are refused.
    let geo4 = verdant::scenario::bundled("geo-4dc").unwrap();
    assert!(geo.held_out(&geo4, &mut MasterSeed(1).rng("x")).is_err());
}
