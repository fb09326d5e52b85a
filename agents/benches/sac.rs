//! SAC update throughput at MARLIN's sizes on geo-8dc (issue 8): state 36, conditioning 28,
//! action 16 (2 classes x 8 datacenters), actor hidden 128, critic hidden 256, batch 256; one
//! update = twin critics, actor and temperature steps plus the soft target update. CPU, one
//! libtorch thread.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use verdant_agents::marlin::sac::{Batch, Sac, SacConfig};

fn sac(c: &mut Criterion) {
    tch::set_num_threads(1);
    let config = SacConfig {
        state: 36,
        weights: 4,
        conditioning: 28,
        action: 16,
        actor_hidden: 128,
        critic_hidden: 256,
        actor_lr: 3e-4,
        critic_lr: 1e-3,
        alpha_lr: 3e-4,
        gamma: 0.95,
        tau: 0.005,
        film: true,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut agent = Sac::new(config, Device::Cpu, &mut rng);
    let b = 256;
    let opts = (Kind::Float, Device::Cpu);
    let batch = Batch {
        state: Tensor::rand([b, 36], opts),
        weights: Tensor::rand([b, 4], opts),
        conditioning: Tensor::rand([b, 28], opts),
        action: Tensor::rand([b, 16], opts) * 2.0 - 1.0,
        reward: Tensor::rand([b], opts),
        next_state: Tensor::rand([b, 36], opts),
        next_conditioning: Tensor::rand([b, 28], opts),
        done: Tensor::zeros([b], opts),
    };
    let to_plan = |u: &Tensor| {
        (u * 3.0)
            .view([-1, 2, 8])
            .softmax(-1, Kind::Float)
            .view([-1, 16])
    };
    let mut group = c.benchmark_group("sac");
    group.throughput(Throughput::Elements(1));
    group.bench_function("update_batch256_geo8dc", |bench| {
        bench.iter(|| agent.update(&batch, &to_plan, &mut rng))
    });
    group.finish();
}

criterion_group!(benches, sac);
criterion_main!(benches);
