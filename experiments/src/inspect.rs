//! `verdant scenario` and `verdant trace`: load, check and summarise inputs; they write nothing.

use std::path::Path;

use anyhow::{bail, Context};
use verdant::data_error::SkipReport;
use verdant::scenario::lb::LbScenario;
use verdant::scenario::{Scenario, DAY_S};
use verdant::seed::MasterSeed;
use verdant::trace::{TraceFormat, TraceReader};

use crate::cli::SharedArgs;
use crate::run::resolve_scenario;

pub fn scenario(arg: &str, shared: &SharedArgs) -> anyhow::Result<()> {
    let path = resolve_scenario(arg)?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("[[servers]]"))
    {
        let lb = LbScenario::load(&path, &shared.overrides)?;
        println!(
            "{}: load-balancer scenario, {} servers, queue capacity {}, SLO {} s",
            lb.name,
            lb.servers.len(),
            lb.queue_capacity,
            lb.slo_s
        );
        for s in &lb.servers {
            println!(
                "  {:<10} {:>8} tokens/s  {:>3} concurrent",
                s.name, s.tokens_per_s, s.concurrency
            );
        }
        println!(
            "  trace: {} training requests over {:.0} s, {} held out over {:.0} s",
            lb.train.len(),
            lb.train.span_s(),
            lb.eval.len(),
            lb.eval.span_s()
        );
        return Ok(());
    }
    if !shared.overrides.is_empty() {
        bail!("--set is not supported for geo scenarios yet; copy the file and edit it, or use include = \"...\"");
    }
    let seed = shared.seed.unwrap_or(0);
    let s = Scenario::load(&path, MasterSeed(seed))?;
    let (peak_epoch, peak) = (0..s.time.epochs)
        .map(|e| (e, s.nominal_load(&s.demand, e)))
        .fold((0, 0.0), |best, x| if x.1 > best.1 { x } else { best });
    println!(
        "{}: {} datacenters, {} origins, {} classes, {} epochs of {} s; demand {:.0} requests (seed {seed}){}",
        s.name,
        s.datacenters.len(),
        s.origins.len(),
        s.classes.len(),
        s.time.epochs,
        s.time.epoch_s,
        s.demand.total_requests(),
        if s.models.is_empty() { String::new() } else { format!(", peak nominal load {peak:.3} in epoch {peak_epoch}") }
    );
    println!(
        "  {:<26} {:>7} {:>12} {:>12} {:>12}",
        "datacenter", "GPUs", "kgCO2/kWh", "USD/kWh", "L/kWh"
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    for d in &s.datacenters {
        println!(
            "  {:<26} {:>7} {:>12.4} {:>12.4} {:>12.3}",
            d.name,
            d.gpu_count(),
            mean(&d.grid.carbon_kg_per_kwh),
            mean(&d.grid.price_usd_per_kwh),
            mean(&d.grid.water_l_per_kwh)
        );
    }
    if !s.models.is_empty() {
        days(&s);
    }
    Ok(())
}

pub fn trace(file: &Path, format: TraceFormat, lenient: bool, epoch_s: f64) -> anyhow::Result<()> {
    if !(epoch_s.is_finite() && epoch_s > 0.0) {
        bail!("--epoch-s must be a positive number of seconds, got {epoch_s}");
    }
    if format == TraceFormat::Auto && starts_as_rate_table(file) {
        return rate_table(file);
    }
    // Streams the file: memory does not grow with its length (the 2024 week has 27M rows).
    let mut reader = TraceReader::open(file, format)?;
    let mut skipped = SkipReport::default();
    let (mut rows, mut input, mut output, mut shared) = (0u64, 0f64, 0f64, 0f64);
    let (mut first, mut last) = (f64::NAN, f64::NAN);
    // Requests arrive in order (the readers refuse otherwise): the epochs are counted one at
    // a time, whatever the span.
    let (mut epoch_now, mut in_epoch, mut peak) = (0u64, 0u64, 0u64);
    for item in reader.by_ref() {
        let r = match item {
            Ok(r) => r,
            Err(e) if lenient && e.kind != verdant::data_error::DataErrorKind::Io => {
                skipped.record(e);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if rows == 0 {
            first = r.arrival_s;
        }
        last = r.arrival_s;
        rows += 1;
        input += f64::from(r.input_tokens);
        output += f64::from(r.output_tokens);
        shared += f64::from(r.shared_prefix_tokens);
        let epoch = ((r.arrival_s - first) / epoch_s) as u64;
        if epoch != epoch_now {
            (epoch_now, in_epoch) = (epoch, 0);
        }
        in_epoch += 1;
        peak = peak.max(in_epoch);
    }
    if rows == 0 {
        bail!(
            "{}: no valid request{}",
            file.display(),
            if skipped.skipped() > 0 {
                format!(" ({skipped})")
            } else {
                String::new()
            }
        );
    }
    let prefix = if shared > 0.0 {
        format!(
            "; {:.1}% of input tokens in prefix blocks an earlier request had",
            100.0 * shared / input
        )
    } else {
        String::new()
    };
    println!(
        "{}: {} format, {rows} requests over {:.1} s; mean {:.1} input and {:.1} output tokens{prefix}; {} epochs of {epoch_s} s, peak {peak} requests per epoch; classes: {}",
        file.display(),
        reader.format(),
        last - first,
        input / rows as f64,
        output / rows as f64,
        epoch_now + 1,
        reader.class_names().join(", ")
    );
    if skipped.skipped() > 0 {
        println!("lenient: {skipped}");
        for e in &skipped.first_errors {
            println!("  {e}");
        }
    }
    Ok(())
}

/// Whether `file`'s first line is a rate table's header (unreadable files are left to the trace
/// reader, whose error names them).
fn starts_as_rate_table(file: &Path) -> bool {
    use std::io::{BufRead, Read};
    let Ok(f) = std::fs::File::open(file) else {
        return false;
    };
    let mut first = Vec::new();
    let mut reader = std::io::BufReader::new(f.take(1 << 16));
    reader.read_until(b'\n', &mut first).is_ok()
        && verdant::trace::rate_table::is_rate_table_header(&first)
}

/// Summarises a rate table (demand as rates per model and window): per model its peak, its mean
/// and the range of its daily means.
fn rate_table(file: &Path) -> anyhow::Result<()> {
    let t = verdant::trace::rate_table::read_rate_table(file)?;
    println!(
        "{}: rate table, {} models x {} windows of {} s ({:.1} days)",
        file.display(),
        t.models.len(),
        t.len(),
        t.window_s,
        t.span_s() / DAY_S
    );
    for (m, name) in t.models.iter().enumerate() {
        let days = t.daily_mean_rps(m);
        let mean = t.windows[m].iter().map(|w| w.rate_rps).sum::<f64>() / t.len() as f64;
        let (lo, hi) = days
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(a, b), &d| (a.min(d), b.max(d)));
        println!(
            "  {name}: mean {mean:.1} requests/s, peak {:.1}; daily means {lo:.1} to {hi:.1} over {} days",
            t.peak_rps(m),
            days.len()
        );
    }
    Ok(())
}

/// Per day of the horizon (numbered from 1, as a split names them; whole days of epochs, a last
/// partial day counting as one): the part of the split it is in, requests, each class's share
/// of them, and the mean and peak nominal load; with the split and the classes' shares of the
/// whole demand.
fn days(s: &Scenario) {
    let per_day = ((DAY_S / s.time.epoch_s).round() as usize).max(1);
    match s.split {
        Some(split) => println!(
            "  split: learned methods train on {}; comparisons score the held-out {}",
            split.train, split.test
        ),
        None => println!("  split: none (learned methods train and are scored on the same days)"),
    }
    let part = |day: usize| match s.split {
        Some(split) if split.train.contains(day) => "train",
        Some(split) if split.test.contains(day) => "test",
        _ => "-",
    };
    let requests = |c: usize, e: usize| -> f64 {
        (0..s.origins.len())
            .map(|o| s.demand.requests(o, c, e))
            .sum()
    };
    let total = s.demand.total_requests().max(f64::MIN_POSITIVE);
    let shares: Vec<String> = s
        .classes
        .iter()
        .enumerate()
        .map(|(c, class)| {
            let n: f64 = (0..s.time.epochs).map(|e| requests(c, e)).sum();
            format!("{} {:.1}%", class.name, 100.0 * n / total)
        })
        .collect();
    println!("  demand: {}", s.demand_source);
    println!("  demand by class: {}", shares.join(", "));
    println!(
        "  {:<4} {:<10} {:<5} {:>14} {:>10} {:>10}  class shares",
        "day", "date", "part", "requests", "mean load", "peak load"
    );
    for (day, epochs) in (0..s.time.epochs)
        .collect::<Vec<_>>()
        .chunks(per_day)
        .enumerate()
    {
        let loads: Vec<f64> = epochs
            .iter()
            .map(|&e| s.nominal_load(&s.demand, e))
            .collect();
        let by_class: Vec<f64> = (0..s.classes.len())
            .map(|c| epochs.iter().map(|&e| requests(c, e)).sum())
            .collect();
        let n: f64 = by_class.iter().sum();
        let start = s.time.start_unix_s + (epochs[0] as f64 * s.time.epoch_s) as i64;
        let date = chrono::DateTime::from_timestamp(start, 0)
            .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
        let class_shares: Vec<String> = by_class
            .iter()
            .map(|x| format!("{:.0}%", 100.0 * x / n.max(f64::MIN_POSITIVE)))
            .collect();
        println!(
            "  {:<4} {:<10} {:<5} {:>14.0} {:>10.3} {:>10.3}  {}",
            day + 1,
            date,
            part(day),
            n,
            loads.iter().sum::<f64>() / loads.len() as f64,
            loads.iter().copied().fold(0.0, f64::max),
            class_shares.join(" / ")
        );
    }
}
