//! The load balancer's learning agents: exact resume, determinism, and learning a clear task.

use std::sync::Arc;

use tch::Device;
use verdant::config::Validate;
use verdant::features::FeatureMatrix;
use verdant::lb::{baseline, run_episode, EpisodeMetrics, LbEnv, LbEnvConfig, LbWorkload};
use verdant::scenario::lb::{CapacityModel, RewardParams, Server};
use verdant::seed::MasterSeed;
use verdant::trace::Request;
use verdant_agents::lb::{Algorithm, LbAgentParams, LbAgentSettings, LbTrainer};

/// A slow server (200 tokens/s, 1 slot) beside a fast one (5000 tokens/s, 5 slots); a request
/// every 0.2 s of 200..1000 tokens. Sending work to the slow server builds a long queue.
fn task(n: u32) -> (Arc<LbWorkload>, LbEnvConfig) {
    let requests: Vec<Request> = (0..n)
        .map(|i| Request {
            arrival_s: f64::from(i) * 0.2,
            input_tokens: 200 + (i * 7919) % 800,
            output_tokens: 0,
            class: 0,
            origin: 0,
            shared_prefix_tokens: 0,
        })
        .collect();
    let features = vec![0.0; requests.len() * FeatureMatrix::COLUMNS];
    let config = LbEnvConfig {
        servers: vec![
            Server {
                name: "slow".into(),
                tokens_per_s: 200.0,
                concurrency: 1,
            },
            Server {
                name: "fast".into(),
                tokens_per_s: 5000.0,
                concurrency: 5,
            },
        ],
        queue_capacity: 1000,
        slo_s: 2.0,
        capacity_model: CapacityModel::Shared,
        reward: RewardParams::default(),
        episode_requests: None,
    };
    (
        Arc::new(LbWorkload::from_parts("task".into(), requests, features)),
        config,
    )
}

fn settings(algorithm: Algorithm, total_steps: u64) -> LbAgentSettings {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../experiments/configs/lb.toml"
    ))
    .unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let agent = doc["agent"].clone();
    let mut params: LbAgentParams = agent.try_into().unwrap();
    params.algorithm = algorithm;
    params.total_steps = total_steps;
    params.envs = 2;
    params.episode_requests = Some(50);
    params.ppo.rollout_steps = 16;
    params.ppo.minibatch = 8;
    params.ppo.epochs = 2;
    params.a2c.rollout_steps = 8;
    params.dqn.learning_starts = 10;
    params.dqn.batch = 8;
    params.dqn.target_update_every = 20;
    params.hidden = vec![16, 16];
    params.validate("agent").unwrap()
}

#[test]
fn resumed_training_equals_uninterrupted_training() {
    let (workload, config) = task(120);
    for algorithm in Algorithm::ALL {
        let dir = tempfile::tempdir().unwrap();
        let seed = MasterSeed(11);
        let full = settings(algorithm, 96);
        let mut straight = LbTrainer::new(
            full.clone(),
            workload.clone(),
            config.clone(),
            seed,
            device(),
        )
        .unwrap();
        straight.train(None, &mut |_| {}).unwrap();

        let mut first = LbTrainer::new(
            full.clone(),
            workload.clone(),
            config.clone(),
            seed,
            device(),
        )
        .unwrap();
        first
            .train_until(64, Some((dir.path(), 1000)), &mut |_| {})
            .unwrap();
        drop(first);
        let mut second =
            LbTrainer::new(full, workload.clone(), config.clone(), seed, device()).unwrap();
        second.resume(dir.path()).unwrap();
        assert_eq!(second.steps(), 64, "{algorithm:?}");
        second.train(None, &mut |_| {}).unwrap();
        assert_eq!(straight.steps(), second.steps());
        assert!(
            straight.weights() == second.weights(),
            "{algorithm:?}: resumed weights differ"
        );
        assert_eq!(straight.curve(), second.curve(), "{algorithm:?}");
        // Only the newest tensor file is kept.
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".vt"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
    }
}

#[test]
fn a_checkpoint_from_another_algorithm_is_refused() {
    let (workload, config) = task(60);
    let dir = tempfile::tempdir().unwrap();
    let mut ppo = LbTrainer::new(
        settings(Algorithm::Ppo, 32),
        workload.clone(),
        config.clone(),
        MasterSeed(1),
        device(),
    )
    .unwrap();
    ppo.train(Some((dir.path(), 1000)), &mut |_| {}).unwrap();
    let mut dqn = LbTrainer::new(
        settings(Algorithm::Dqn, 32),
        workload,
        config,
        MasterSeed(1),
        device(),
    )
    .unwrap();
    let err = dqn.resume(dir.path()).unwrap_err().to_string();
    assert!(err.contains("made by ppo"), "{err}");
}

#[test]
fn ppo_learns_to_avoid_the_slow_server() {
    let (workload, config) = task(400);
    let mut s = settings(Algorithm::Ppo, 6_000);
    let mut p = s.params().clone();
    p.envs = 4;
    p.episode_requests = Some(100);
    p.ppo.rollout_steps = 64;
    p.ppo.minibatch = 64;
    p.ppo.epochs = 4;
    p.hidden = vec![32, 32];
    s = p.validate("agent").unwrap();
    let mut trainer =
        LbTrainer::new(s, workload.clone(), config.clone(), MasterSeed(5), device()).unwrap();
    trainer.train(None, &mut |_| {}).unwrap();
    let mut env = LbEnv::new(workload, config);
    let mut greedy = trainer.greedy();
    run_episode(&mut env, &mut greedy, 0);
    let learned = EpisodeMetrics::of(&env);
    let mut random = baseline("random").unwrap();
    run_episode(&mut env, random.as_mut(), 0);
    let random = EpisodeMetrics::of(&env);
    assert!(
        learned.mean_response_s < 0.5 * random.mean_response_s,
        "PPO {:.3} s vs random {:.3} s",
        learned.mean_response_s,
        random.mean_response_s
    );
    let first = trainer.curve().first().unwrap().episode_reward;
    let last = trainer.curve().last().unwrap().episode_reward;
    assert!(last > first, "episode reward {first} -> {last}");
}

/// The device these tests run on (`VERDANT_TEST_DEVICE`; scripts/gpu-check.sh sets cuda).
fn device() -> Device {
    verdant_agents::device::test_device().expect("VERDANT_TEST_DEVICE")
}
