//! Simulator speed. Targets (issue 4): fluid scoring of a 96-epoch x 12-datacenter plan under
//! 50 us; discrete-event scoring of a 24 h x 8-datacenter plan over the 19,366-request
//! conversation trace under 10 ms, at least 5 million request events per second.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use verdant::allocator::rules::Even;
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::des::DiscreteEventSimulator;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::{FractionPlan, Outcome, SimParams};
use verdant::trace::{read_trace, TraceFormat};

fn even_plan(s: &Scenario) -> FractionPlan {
    Even.plan(s).unwrap()
}

fn simulator(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenarios = verdant::scenario::bundled_dir();

    let geo12 = Scenario::load(&scenarios.join("geo-12dc.toml"), MasterSeed(0)).unwrap();
    let plan12 = even_plan(&geo12);
    let mut fluid = FluidSimulator::new(&geo12, SimParams::default());
    let mut out = Outcome::default();
    let mut group = c.benchmark_group("fluid");
    group.bench_function("geo-12dc_96_epochs", |b| {
        b.iter(|| {
            fluid.score_into(&plan12, &mut out).unwrap();
            out.totals.facility_kwh
        })
    });
    group.finish();

    // Per epoch: the one-day and the 14-day geo-8dc (issue 19: no worse per epoch).
    let mut group = c.benchmark_group("fluid_per_epoch");
    for name in ["geo-8dc", "geo-8dc-14d"] {
        let s = verdant::scenario::bundled(name).unwrap();
        let plan = even_plan(&s);
        let mut sim = FluidSimulator::new(&s, SimParams::default());
        let mut out = Outcome::default();
        group.throughput(Throughput::Elements(s.time.epochs as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                sim.score_into(&plan, &mut out).unwrap();
                out.totals.facility_kwh
            })
        });
    }
    group.finish();

    let geo8 = Scenario::load(&scenarios.join("geo-8dc.toml"), MasterSeed(0)).unwrap();
    let plan8 = even_plan(&geo8);
    let trace = read_trace(
        &root.join("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
        TraceFormat::Azure,
        false,
    )
    .unwrap()
    .trace
    .compress_into(geo8.time.horizon_s() - 1.0);
    let mut requests = trace.requests.clone();
    for (i, r) in requests.iter_mut().enumerate() {
        r.origin = (i % geo8.origins.len()) as u16;
        r.class = u16::from(i % 10 >= 7);
    }
    let to = plan8.assign(&requests, geo8.time.epoch_s);
    let des = DiscreteEventSimulator::new(&geo8, SimParams::default());
    let mut group = c.benchmark_group("discrete_event");
    // Two events per request: its arrival and its completion.
    group.throughput(Throughput::Elements(2 * requests.len() as u64));
    group.bench_function("geo-8dc_24h_conv_trace", |b| {
        b.iter(|| des.simulate(&requests, &to, |_| {}).unwrap().latency.served)
    });
    group.finish();
}

criterion_group!(benches, simulator);
criterion_main!(benches);
