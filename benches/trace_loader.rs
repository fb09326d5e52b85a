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

/// The hand-written splitter the trace and grid readers used until issue 19 (commas, no
/// quoting; kept here as the reference), against the csv crate reusing one `ByteRecord` (quoting,
/// CRLF, a byte order mark), which they use now: both read the Azure conversation trace and
/// count its fields, the part the choice between them changes (docs/decisions/0008).
fn csv_split(c: &mut Criterion) {
    // The splitter the readers used (`split_fields`, removed from `verdant::parse`).
    fn split<'a>(line: &'a [u8], out: &mut [&'a [u8]; 32]) -> usize {
        let (mut n, mut start) = (0, 0);
        for (i, &b) in line.iter().enumerate() {
            if b == b',' && n < 31 {
                out[n] = &line[start..i];
                n += 1;
                start = i + 1;
            }
        }
        out[n] = &line[start..];
        n + 1
    }
    use std::io::BufRead;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
    let open = || std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&path).unwrap());
    let mut group = c.benchmark_group("csv_split");
    group.throughput(Throughput::Elements(19_367));
    group.bench_function("hand_written", |b| {
        b.iter(|| {
            let mut reader = open();
            let mut line = Vec::with_capacity(256);
            let mut fields = 0usize;
            while reader.read_until(b'\n', &mut line).unwrap() > 0 {
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                let mut slots: [&[u8]; 32] = [&[]; 32];
                fields += split(&line, &mut slots);
                std::hint::black_box(&slots);
                line.clear();
            }
            fields
        })
    });
    group.bench_function("csv_crate", |b| {
        b.iter(|| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(open());
            let mut record = csv::ByteRecord::new();
            let mut fields = 0usize;
            while reader.read_byte_record(&mut record).unwrap() {
                fields += record.len();
            }
            fields
        })
    });
    group.finish();
}

criterion_group!(benches, trace_loader, csv_split);
criterion_main!(benches);
