//! Trace loading and aggregation speed on the bundled Azure conversation trace (19,366 rows),
//! and loading of the Mooncake JSON lines (12,031 rows, about 250 bytes each with their prefix
//! block ids). Criterion reports rows per second ("elements/s"); the target is at least 5 million
//! rows/s on one core for loading CSV.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use verdant::trace::{read_trace, EpochDemand, TraceFormat};

fn trace_loader(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
    let rows = read_trace(&path, TraceFormat::Azure, false)
        .unwrap()
        .trace
        .len() as u64;
    let mut group = c.benchmark_group("azure_conv_trace");
    group.throughput(Throughput::Elements(rows));
    group.bench_function("read", |b| {
        b.iter(|| {
            read_trace(&path, TraceFormat::Azure, false)
                .unwrap()
                .trace
                .len()
        })
    });
    let trace = read_trace(&path, TraceFormat::Azure, false).unwrap().trace;
    group.bench_function("aggregate_15min", |b| {
        b.iter(|| {
            EpochDemand::aggregate(&trace.requests, 1, 1, 4, 900.0)
                .unwrap()
                .total_requests()
        })
    });
    group.bench_function("read_and_aggregate", |b| {
        b.iter(|| {
            let t = read_trace(&path, TraceFormat::Azure, false).unwrap().trace;
            EpochDemand::aggregate(&t.requests, 1, 1, 4, 900.0)
                .unwrap()
                .total_requests()
        })
    });
    group.finish();

    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/mooncake-fast25/conversation_trace.jsonl");
    let rows = read_trace(&path, TraceFormat::Mooncake, false)
        .unwrap()
        .trace
        .len() as u64;
    let mut group = c.benchmark_group("mooncake_trace");
    group.throughput(Throughput::Elements(rows));
    group.bench_function("read", |b| {
        b.iter(|| {
            read_trace(&path, TraceFormat::Mooncake, false)
                .unwrap()
                .trace
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, trace_loader);
criterion_main!(benches);
