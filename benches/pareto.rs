//! First-front extraction speed. Target (issue 5): 100,000 4-D points under 100 ms. Points are
//! uniform in the unit hypercube (seeded). Hypervolume against moocore: scripts/bench_hv.py.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng;
use verdant::pareto::nondominated;
use verdant::seed::MasterSeed;

fn pareto(c: &mut Criterion) {
    let mut rng = MasterSeed(1).rng("bench.pareto");
    let points: Vec<f64> = (0..100_000 * 4).map(|_| rng.gen::<f64>()).collect();
    let mut group = c.benchmark_group("first_front");
    group.sample_size(20);
    group.bench_function("uniform_100k_4d", |b| {
        b.iter(|| nondominated(&points, 4).len())
    });
    let points3: Vec<f64> = (0..100_000 * 3).map(|_| rng.gen::<f64>()).collect();
    group.bench_function("uniform_100k_3d", |b| {
        b.iter(|| nondominated(&points3, 3).len())
    });
    group.finish();
}

criterion_group!(benches, pareto);
criterion_main!(benches);
