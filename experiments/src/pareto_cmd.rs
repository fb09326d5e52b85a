//! `verdant hv` and `verdant front`: hypervolume and first front of point files.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use verdant::pareto::io::{read_points, write_moocore, PointSets};
use verdant::pareto::{hypervolume, nondominated, Bounds, ReferencePoint};

/// Parses `--ref`: comma-separated numbers, or `worst` (worst observed), or `nadir*F`.
fn reference_policy(arg: &str) -> anyhow::Result<ReferencePoint> {
    if arg == "worst" {
        return Ok(ReferencePoint::WorstObserved);
    }
    if let Some(f) = arg.strip_prefix("nadir*") {
        let f: f64 = f
            .parse()
            .with_context(|| format!("--ref {arg:?}: the factor after nadir* is not a number"))?;
        return Ok(ReferencePoint::NadirTimes(f));
    }
    let values: Result<Vec<f64>, _> = arg.split(',').map(|v| v.trim().parse::<f64>()).collect();
    match values {
        Ok(v) if v.iter().all(|x| x.is_finite()) => Ok(ReferencePoint::Explicit(v)),
        _ => bail!("--ref {arg:?}: expected comma-separated numbers, `worst` or `nadir*FACTOR`"),
    }
}

fn load(file: &Path) -> anyhow::Result<PointSets> {
    Ok(read_points(file)?)
}

/// Prints the hypervolume of each set in `file`.
pub fn hv(
    file: &Path,
    reference: &str,
    normalise: Option<&str>,
    repeat: u32,
) -> anyhow::Result<()> {
    let sets = load(file)?;
    let d = sets.d;
    let bounds = match normalise {
        None => None,
        Some("observed") => Some(Bounds::observed(sets.sets.iter().map(Vec::as_slice), d)),
        Some(spec) => {
            let v: Result<Vec<f64>, _> = spec.split(',').map(|x| x.trim().parse::<f64>()).collect();
            match v {
                Ok(v) if v.len() == 2 * d => Some(Bounds { lower: v[..d].to_vec(), upper: v[d..].to_vec() }),
                _ => bail!("--normalise {spec:?}: expected `observed` or {d} lower bounds then {d} upper bounds, comma-separated"),
            }
        }
    };
    let sets_used: Vec<Vec<f64>> = match &bounds {
        Some(b) => sets.sets.iter().map(|s| b.normalise(s)).collect(),
        None => sets.sets.clone(),
    };
    let reference = reference_policy(reference)?.resolve(sets_used.iter().map(Vec::as_slice), d);
    if reference.len() != d {
        bail!(
            "--ref has {} values, the points have {d} objectives",
            reference.len()
        );
    }
    let shown: Vec<String> = reference.iter().map(|v| format!("{v}")).collect();
    println!("# reference point: {}", shown.join(" "));
    if let Some(b) = &bounds {
        let lo: Vec<String> = b.lower.iter().map(|v| format!("{v}")).collect();
        let hi: Vec<String> = b.upper.iter().map(|v| format!("{v}")).collect();
        println!(
            "# normalised with lower bounds {} and upper bounds {}",
            lo.join(" "),
            hi.join(" ")
        );
    }
    for set in &sets_used {
        let start = Instant::now();
        let mut value = 0.0;
        for _ in 0..repeat.max(1) {
            value = hypervolume(set, d, &reference);
        }
        let per_call = start.elapsed().as_secs_f64() / f64::from(repeat.max(1));
        if repeat > 1 {
            println!(
                "{value:.17e} # {:.6} ms per call over {repeat} calls",
                per_call * 1e3
            );
        } else {
            println!("{value:.17e}");
        }
    }
    Ok(())
}

/// Prints the non-dominated rows of each set, in moocore's format.
pub fn front(file: &Path) -> anyhow::Result<()> {
    let sets = load(file)?;
    let d = sets.d;
    let fronts: Vec<Vec<f64>> = sets
        .sets
        .iter()
        .map(|s| {
            nondominated(s, d)
                .into_iter()
                .flat_map(|i| s[i * d..(i + 1) * d].to_vec())
                .collect()
        })
        .collect();
    print!("{}", write_moocore(&fronts, d));
    Ok(())
}
