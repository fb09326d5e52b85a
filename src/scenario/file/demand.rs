//! A scenario's demand: the trace (read or generated), classes and origins assigned, diurnal
//! thinning, aggregation into epochs and scaling to the peak utilisation.

use std::path::Path;

use rand::Rng;

use super::build::Check;
use super::schema::{ClassSpec, DemandSpec, OriginSpec, TraceSpec};
use super::ScenarioError;
use crate::scenario::*;
use crate::seed::MasterSeed;
use crate::trace::{read_trace, EpochDemand, Request, Trace};

pub(super) fn build_demand(
    check: &Check,
    spec: &DemandSpec,
    class_specs: &[ClassSpec],
    origin_specs: &[OriginSpec],
    scenario: &Scenario,
    seed: MasterSeed,
) -> Result<(EpochDemand, Vec<Request>), ScenarioError> {
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
    let mut shares = Vec::new();
    for (i, c) in class_specs.iter().enumerate() {
        let share = c.share.ok_or_else(|| {
            check.fail(
                format!("classes[{i}].share"),
                "trace demand needs a share for every class",
            )
        })?;
        shares.push(check.non_negative(format!("classes[{i}].share"), share)?);
        if c.model.is_none() {
            return Err(check.fail(
                format!("classes[{i}].model"),
                "trace demand needs a model for every class",
            ));
        }
    }
    if shares.iter().all(|&s| s == 0.0) {
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
        };
    let class_names = class_specs.iter().map(|c| c.name.clone()).collect();
    trace.assign_classes(
        class_names,
        &shares,
        &mut seed.rng("scenario.demand.classes"),
    );
    let weights: Vec<f64> = origin_specs.iter().map(|o| o.weight).collect();
    trace.assign_origins(&weights, &mut seed.rng("scenario.demand.origins"));
    let first = trace.requests.first().map_or(0.0, |r| r.arrival_s);
    for r in &mut trace.requests {
        r.arrival_s -= first;
    }
    let time = scenario.time;
    if spec.tile {
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
    Ok((demand, trace.requests))
}
