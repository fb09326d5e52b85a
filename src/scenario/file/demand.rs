//! A scenario's demand: the trace (read or generated), classes and origins assigned, diurnal
//! thinning, aggregation into epochs and scaling to the peak utilisation.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;

use super::build::Check;
use super::schema::{ClassSpec, DemandSpec, OriginSpec, TraceSpec};
use super::ScenarioError;
use crate::scenario::*;
use crate::seed::MasterSeed;
use crate::trace::rate_table::{read_rate_table, Sizes};
use crate::trace::{read_trace, EpochDemand, Request, Trace, TraceFormat};

pub(super) fn build_demand(
    check: &Check,
    spec: &DemandSpec,
    class_specs: &[ClassSpec],
    origin_specs: &[OriginSpec],
    scenario: &Scenario,
    seed: MasterSeed,
) -> Result<(EpochDemand, Vec<Request>, String), ScenarioError> {
    let target = spec.peak_utilisation;
    if !(target.is_finite() && target > 0.0 && target <= 1.0) {
        return Err(check.fail(
            "demand.peak_utilisation",
            format!("must be in (0, 1], got {target}"),
        ));
    }
    if !(spec.diurnal_amplitude.is_finite() && (0.0..1.0).contains(&spec.diurnal_amplitude)) {
        return Err(check.fail(
            "demand.diurnal_amplitude",
            format!("must be in [0, 1), got {}", spec.diurnal_amplitude),
        ));
    }
    let rates = matches!(spec.trace, TraceSpec::Rates { .. });
    let mut shares = Vec::new();
    for (i, c) in class_specs.iter().enumerate() {
        // A rate table maps classes to its models itself; a trace is shared by `share`.
        if !rates {
            let share = c.share.ok_or_else(|| {
                check.fail(
                    format!("classes[{i}].share"),
                    "trace demand needs a share for every class",
                )
            })?;
            shares.push(check.non_negative(format!("classes[{i}].share"), share)?);
        }
        if c.model.is_none() {
            return Err(check.fail(
                format!("classes[{i}].model"),
                "trace demand needs a model for every class",
            ));
        }
    }
    if !rates && shares.iter().all(|&s| s == 0.0) {
        return Err(check.fail("classes", "at least one class needs a share > 0"));
    }
    let mut trace: Trace =
        match &spec.trace {
            TraceSpec::File { file, format } => read_trace(Path::new(file), *format, false)?.trace,
            TraceSpec::Generator(params) => {
                use crate::config::Validate;
                let generator = params.clone().validate("demand.trace").map_err(|error| {
                    ScenarioError::Config {
                        file: check.file.to_owned(),
                        error,
                    }
                })?;
                generator.generate(&mut seed.rng("scenario.demand.generator"))
            }
            TraceSpec::Rates {
                file,
                classes,
                sample_requests,
                sizes_file,
            } => rate_sample(
                check,
                (file, classes, *sample_requests, sizes_file.as_deref()),
                class_specs,
                scenario.time.horizon_s(),
                seed,
            )?,
        };
    if !rates {
        let class_names = class_specs.iter().map(|c| c.name.clone()).collect();
        trace.assign_classes(
            class_names,
            &shares,
            &mut seed.rng("scenario.demand.classes"),
        );
    }
    let weights: Vec<f64> = origin_specs.iter().map(|o| o.weight).collect();
    trace.assign_origins(&weights, &mut seed.rng("scenario.demand.origins"));
    // A trace starts at the scenario's start; a rate table's windows already do.
    let first = if rates {
        0.0
    } else {
        trace.requests.first().map_or(0.0, |r| r.arrival_s)
    };
    for r in &mut trace.requests {
        r.arrival_s -= first;
    }
    let time = scenario.time;
    if spec.tile {
        let copies = trace.tile_copies(time.horizon_s());
        let tiled = copies.saturating_mul(trace.requests.len());
        if tiled > crate::trace::MAX_TRACE_REQUESTS {
            return Err(check.fail(
                "demand.tile",
                format!(
                    "{copies} copies of {} requests over the horizon: a trace is held in memory, at most {} requests (docs/limits.md); shorten the horizon or subsample the trace",
                    trace.requests.len(),
                    crate::trace::MAX_TRACE_REQUESTS
                ),
            ));
        }
        trace = trace.tile(time.horizon_s());
    }
    if spec.diurnal_amplitude > 0.0 {
        // Thin the requests by a daily cosine on each origin's local time: a request is kept
        // with probability (1 + a cos(2 pi (h - peak) / 24)) / (1 + a).
        let mut rng = seed.rng("scenario.demand.diurnal");
        let amplitude = spec.diurnal_amplitude;
        trace.requests.retain(|r| {
            let origin = &origin_specs[usize::from(r.origin)];
            let t = time.start_unix_s as f64 + r.arrival_s;
            let local_h = (t / 3600.0 + origin.utc_offset_h).rem_euclid(24.0);
            let phase =
                2.0 * std::f64::consts::PI * (local_h - spec.diurnal_peak_hour_local) / 24.0;
            rng.gen::<f64>() < (1.0 + amplitude * phase.cos()) / (1.0 + amplitude)
        });
    }
    let mut demand = EpochDemand::aggregate(
        &trace.requests,
        origin_specs.len(),
        class_specs.len(),
        time.epochs,
        time.epoch_s,
    )
    .map_err(|e| check.fail("demand", e))?;
    let peak = (0..time.epochs)
        .map(|e| scenario.nominal_load(&demand, e))
        .fold(0.0, f64::max);
    if peak <= 0.0 {
        return Err(check.fail("demand", "the trace puts no request inside the horizon"));
    }
    if !peak.is_finite() {
        return Err(check.fail(
            "demand",
            "some class's requests do not fit any instance's memory (KV cache of a mean request exceeds what the weights leave)",
        ));
    }
    demand.scale(target / peak);
    let horizon = time.horizon_s();
    trace.requests.retain(|r| r.arrival_s < horizon);
    let name = |f: &str| {
        Path::new(f)
            .file_name()
            .map_or_else(|| f.to_owned(), |n| n.to_string_lossy().into_owned())
    };
    let mut source = match &spec.trace {
        TraceSpec::File { file, .. } => format!("trace {}", name(file)),
        TraceSpec::Generator(_) => "generated requests".to_owned(),
        TraceSpec::Rates {
            file,
            classes,
            sizes_file,
            ..
        } => format!(
            "rates of {} ({}), token counts {}",
            name(file),
            classes
                .iter()
                .map(|(class, model)| format!("{class} follows {model}"))
                .collect::<Vec<_>>()
                .join(", "),
            sizes_file.as_deref().map_or_else(
                || "around the table's window means".to_owned(),
                |f| format!("from {}", name(f))
            )
        ),
    };
    if spec.tile {
        source.push_str(", tiled over the horizon");
    }
    if spec.diurnal_amplitude > 0.0 {
        source.push_str(&format!(
            ", a daily cosine of amplitude {} on local time",
            spec.diurnal_amplitude
        ));
    }
    source.push_str(&format!("; scaled to peak nominal load {target}"));
    Ok((demand, trace.requests, source))
}

/// The requests of a `rates` demand source: `(file, classes, sample_requests, sizes_file)`;
/// without a sizes file, token counts around the table's window means.
fn rate_sample(
    check: &Check,
    (file, classes, sample_requests, sizes_file): (
        &str,
        &BTreeMap<String, String>,
        usize,
        Option<&str>,
    ),
    class_specs: &[ClassSpec],
    horizon_s: f64,
    seed: MasterSeed,
) -> Result<Trace, ScenarioError> {
    let table = read_rate_table(Path::new(file))?;
    if table.span_s() < horizon_s {
        return Err(check.fail(
            "demand.trace.file",
            format!(
                "the rate table covers {:.0} s, the horizon {horizon_s:.0} s",
                table.span_s()
            ),
        ));
    }
    let mut mapped = Vec::new();
    for (class, model) in classes {
        let key = format!("demand.trace.classes.{class}");
        let c = class_specs
            .iter()
            .position(|x| &x.name == class)
            .ok_or_else(|| {
                check.fail(&key, format!("the scenario has no class named {class:?}"))
            })?;
        let m = table
            .models
            .iter()
            .position(|x| x == model)
            .ok_or_else(|| {
                check.fail(
                    &key,
                    format!(
                        "the rate table has no model {model:?}; it has {}",
                        table.models.join(", ")
                    ),
                )
            })?;
        mapped.push((m, c as u16));
    }
    if mapped.is_empty() || sample_requests == 0 {
        return Err(check.fail(
            "demand.trace",
            "a rates source needs at least one class and sample_requests > 0",
        ));
    }
    if sample_requests > crate::trace::MAX_TRACE_REQUESTS {
        return Err(check.fail(
            "demand.trace.sample_requests",
            format!(
                "{sample_requests}: a trace is held in memory, at most {} requests (docs/limits.md)",
                crate::trace::MAX_TRACE_REQUESTS
            ),
        ));
    }
    // Requests the table puts in the horizon for the mapped models: the scale that gives the
    // sample its size.
    let total: f64 = mapped
        .iter()
        .flat_map(|&(m, _)| table.windows[m].iter())
        .filter(|w| w.start_s < horizon_s)
        .map(|w| w.rate_rps * (horizon_s - w.start_s).min(table.window_s))
        .sum();
    if total <= 0.0 {
        return Err(check.fail(
            "demand.trace.classes",
            "the mapped models have no requests inside the horizon",
        ));
    }
    let drawn: Vec<(u32, u32)> = match sizes_file {
        Some(f) => read_trace(Path::new(f), TraceFormat::Auto, false)?
            .trace
            .requests
            .iter()
            .map(|r| (r.input_tokens, r.output_tokens))
            .collect(),
        None => {
            let models: Vec<usize> = mapped.iter().map(|&(m, _)| m).collect();
            if !table.has_token_means(&models) {
                return Err(check.fail(
                    "demand.trace.sizes_file",
                    "is needed: the rate table has no mean token counts for every window of the mapped models",
                ));
            }
            Vec::new()
        }
    };
    let sizes = match sizes_file {
        Some(_) => Sizes::Drawn(&drawn),
        None => Sizes::TableMeans,
    };
    let requests = table.sample(
        &mapped,
        sample_requests as f64 / total,
        sizes,
        horizon_s,
        &mut seed.rng("scenario.demand.rates"),
    );
    Ok(Trace {
        source: table.source,
        start_unix_s: None,
        class_names: class_specs.iter().map(|c| c.name.clone()).collect(),
        requests,
    })
}
