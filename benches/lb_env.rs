//! Load-balancer environment throughput. Target (issue 7): at least 1 million steps per second on
//! one core with a trivial policy (the published Python environment: about 4-8 thousand).
//!
//! One iteration is a whole episode of lb-nominal's training slice (15,493 requests, drained at
//! the end) or lb-highload's (4,000 requests compressed into 800 s), with round robin and with
//! shortest expected delay; the observation of every step is also written, as an agent reads it.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use verdant::lb::{baseline, LbEnv, LbEnvConfig, LbWorkload};
use verdant::scenario::lb::LbScenario;

fn lb_env(c: &mut Criterion) {
    let scenarios = verdant::scenario::bundled_dir();
    let mut group = c.benchmark_group("lb_env");
    for name in ["lb-nominal", "lb-highload"] {
        let scenario = LbScenario::load(&scenarios.join(format!("{name}.toml")), &[]).unwrap();
        let (train, _) = LbWorkload::split(&scenario);
        let steps = train.len() as u64;
        let mut env = LbEnv::new(
            std::sync::Arc::new(train),
            LbEnvConfig::from_scenario(&scenario),
        );
        let mut obs = vec![0f32; env.observation_len()];
        group.throughput(Throughput::Elements(steps));
        for policy_name in ["round-robin", "shortest-expected-delay"] {
            let mut policy = baseline(policy_name).unwrap();
            group.bench_function(format!("{name}/{policy_name}"), |b| {
                b.iter(|| {
                    env.reset(0);
                    policy.reset(0);
                    let mut total = 0.0;
                    while !env.is_done() {
                        env.observe(&mut obs);
                        let a = policy.choose(&env);
                        total += env.step(a).reward;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, lb_env);
criterion_main!(benches);
