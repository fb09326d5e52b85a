//! Indicators of scored plans: PHV per group with one shared reference point (the worst observed
//! value of each objective over every plan, TTFT's at the scenario's service level where given),
//! the PHV ratio to the exact front, and each group's gap per objective to the best the exact
//! front reaches; their CSV form and the table that aggregates them over seeds.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use verdant::pareto::{Front, ReferencePoint};
use verdant::sim::{Objective, ObjectiveVector};

use crate::scoring::Point;
use crate::stats::{distinct, mean_ci};

/// One indicator value: (method, seed, indicator, value).
pub(crate) type Row = (String, u32, String, f64);

/// The name of the gap indicator of `objective`: `gap_pct_TTFT`, `gap_pct_energy_cost`, ...
pub(crate) fn gap_name(objective: Objective) -> String {
    format!("gap_pct_{}", objective.label().replace(' ', "_"))
}

/// The indicators of a group's distance to the exact front, in normalised objectives
/// ([`Front::distances`]).
pub(crate) const EPSILON: &str = "epsilon_additive_to_exact";
pub(crate) const IGD_PLUS: &str = "igd_plus_to_exact";

/// A group's PHV over the most PHV any plan set the bound model covers can have (the optimal
/// PHV's upper end): the lower end of its PHV ratio to the optimum, beside `phv_ratio_to_exact`
/// (the upper end).
pub(crate) const RATIO_TO_BOUND: &str = "phv_ratio_to_bound";

/// The most PHV any plans can have, as a function of the reference point.
pub(crate) type OuterPhv<'a> = &'a dyn Fn(&[f64]) -> f64;

/// The compared objectives of every point, grouped by (method, seed).
pub(crate) fn front_of(points: &[Point]) -> Front<(String, u32)> {
    let mut front = Front::new(Objective::ALL.len());
    for p in points {
        front.push((p.method.clone(), p.seed), p.fluid.compared().as_slice());
    }
    front
}

/// The reference point of every PHV of `points`: the worst observed value of each objective,
/// with TTFT's at `ttft_reference_s` where given (a plan whose mean TTFT is beyond the service
/// level adds no volume; without it, plans that queue for hours would set the reference and the
/// TTFTs of every plan that meets the service level would weigh nothing, decision 0010).
pub(crate) fn reference(points: &[Point], ttft_reference_s: Option<f64>) -> Vec<f64> {
    let mut reference = front_of(points).reference(&ReferencePoint::WorstObserved);
    if let Some(t) = ttft_reference_s {
        reference[Objective::Ttft.index()] = t;
    }
    reference
}

/// Per (method, seed): PHV, PHV ratio to the exact front (`exact_method`'s points, all seeds),
/// the additive epsilon indicator and IGD+ to the exact front's non-dominated points (objectives
/// normalised to [0, 1] over every point), and the gap per objective of the group's best value
/// to the exact front's best (percent; TTFT over all plans, the others over the plans within the
/// reference point's TTFT, [`reference`]). With `outer_phv` (the most PHV at the reference
/// point any plans can have, a function of the reference point), also each group's
/// [`RATIO_TO_BOUND`].
pub(crate) fn indicators(
    points: &[Point],
    exact_method: &str,
    ttft_reference_s: Option<f64>,
    outer_phv: Option<OuterPhv>,
) -> Vec<Row> {
    let reference = reference(points, ttft_reference_s);
    let outer = outer_phv.map(|f| f(&reference));
    indicators_at(points, exact_method, &reference, outer)
}

/// [`indicators`] at a given reference point, with the most PHV any plans can have there
/// (`outer`, where known): for studies that hold one reference point across many groups of
/// plans (`verdant learn`).
pub(crate) fn indicators_at(
    points: &[Point],
    exact_method: &str,
    reference: &[f64],
    outer: Option<f64>,
) -> Vec<Row> {
    let front = front_of(points);
    let is_exact = |g: &(String, u32)| g.0 == exact_method;
    let exact_phv = front.hypervolume(is_exact, reference);
    // The best value of `o` over the points `pick` selects (TTFT: all of them; the others: those
    // within the reference's TTFT).
    let best = |pick: &dyn Fn(&Point) -> bool, o: Objective| {
        points
            .iter()
            .filter(|p| pick(p))
            .filter(|p| o == Objective::Ttft || p.fluid.ttft_s <= reference[0])
            .map(|p| p.fluid.get(o))
            .fold(f64::NAN, f64::min)
    };
    let exact_best: Vec<f64> = Objective::ALL
        .iter()
        .map(|&o| best(&|p| p.method == exact_method, o))
        .collect();
    let mut out = Vec::new();
    for group in front.groups() {
        let (method, seed) = group.clone();
        let mine = |g: &(String, u32)| *g == group;
        let phv = front.hypervolume(mine, reference);
        out.push((method.clone(), seed, "phv".to_owned(), phv));
        out.push((
            method.clone(),
            seed,
            "phv_ratio_to_exact".to_owned(),
            if exact_phv > 0.0 {
                phv / exact_phv
            } else {
                f64::NAN
            },
        ));
        if let Some(outer) = outer {
            let ratio = if outer > 0.0 { phv / outer } else { f64::NAN };
            out.push((method.clone(), seed, RATIO_TO_BOUND.to_owned(), ratio));
        }
        let (epsilon, igd) = front
            .distances(mine, is_exact)
            .unwrap_or((f64::NAN, f64::NAN));
        out.push((method.clone(), seed, EPSILON.to_owned(), epsilon));
        out.push((method.clone(), seed, IGD_PLUS.to_owned(), igd));
        for o in Objective::ALL {
            let best = best(&|p| p.method == method && p.seed == seed, o);
            let exact = exact_best[o.index()];
            let gap = 100.0 * (best - exact) / exact.abs().max(1e-12);
            out.push((method.clone(), seed, gap_name(o), gap));
        }
    }
    out
}

/// PHV of each (family, seed) with one reference point over every point of every group.
pub(crate) fn phv_by_family(points: &[(String, u32, ObjectiveVector)]) -> Vec<(String, u32, f64)> {
    let mut front = Front::new(Objective::ALL.len());
    for (family, seed, p) in points {
        front.push((family.clone(), *seed), p.as_slice());
    }
    let reference = front.reference(&ReferencePoint::WorstObserved);
    front
        .groups()
        .into_iter()
        .map(|group| {
            let v = front.hypervolume(|g| *g == group, &reference);
            (group.0, group.1, v)
        })
        .collect()
}

/// The rows as CSV (`method,seed,indicator,value`).
pub(crate) fn to_csv(rows: &[Row]) -> String {
    let mut csv = String::from("method,seed,indicator,value\n");
    for (m, s, i, v) in rows {
        let _ = writeln!(csv, "{m},{s},{i},{v}");
    }
    csv
}

/// Rows of an indicators.csv; errors name `origin` and the line.
pub(crate) fn parse(text: &str, origin: &str) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 4 {
            bail!(
                "{origin}:{}: expected 4 fields (method,seed,indicator,value), got {}",
                n + 1,
                f.len()
            );
        }
        let seed = f[1]
            .parse()
            .with_context(|| format!("{origin}:{}: field seed {:?}", n + 1, f[1]))?;
        let value = f[3]
            .parse()
            .with_context(|| format!("{origin}:{}: field value {:?}", n + 1, f[3]))?;
        out.push((f[0].to_owned(), seed, f[2].to_owned(), value));
    }
    Ok(out)
}

/// The table "method / PHV / PHV ratio to optimal / gap per objective", mean ± 95% CI over the
/// seeds present.
pub(crate) fn table(rows: &[Row]) -> String {
    let methods = distinct(rows.iter().map(|r| r.0.as_str()));
    let bounded = rows.iter().any(|r| r.2 == RATIO_TO_BOUND);
    let (bound_header, bound_rule) = if bounded {
        (" PHV ratio to the bound |", "---|")
    } else {
        ("", "")
    };
    let mut md = format!("| Method | seeds | PHV | PHV ratio to optimal |{bound_header} additive epsilon | IGD+ | gap TTFT | gap carbon | gap water | gap energy cost |\n|---|---|---|---|{bound_rule}---|---|---|---|---|---|\n");
    for m in methods {
        let of = |i: &str| {
            mean_ci(
                &rows
                    .iter()
                    .filter(|r| r.0 == m && r.2 == i)
                    .map(|r| r.3)
                    .collect::<Vec<_>>(),
            )
        };
        let seeds = distinct(rows.iter().filter(|r| r.0 == m).map(|r| r.1)).len();
        let (phv, phv_h) = of("phv");
        let (ratio, ratio_h) = of("phv_ratio_to_exact");
        let to_bound = if bounded {
            let (r, h) = of(RATIO_TO_BOUND);
            format!(" {r:.3} ± {h:.3} |")
        } else {
            String::new()
        };
        let (epsilon, epsilon_h) = of(EPSILON);
        let (igd, igd_h) = of(IGD_PLUS);
        let gaps: Vec<String> = Objective::ALL
            .iter()
            .map(|&o| {
                let (g, h) = of(&gap_name(o));
                if g.is_nan() {
                    "n/a".to_owned()
                } else {
                    format!("{g:+.1}% ± {h:.1}")
                }
            })
            .collect();
        let _ = writeln!(
            md,
            "| {m} | {seeds} | {phv:.4e} ± {phv_h:.1e} | {ratio:.3} ± {ratio_h:.3} |{to_bound} {epsilon:.3} ± {epsilon_h:.3} | {igd:.3} ± {igd_h:.3} | {} |",
            gaps.join(" | ")
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use verdant::sim::Objectives;

    use super::*;

    fn point(method: &str, seed: u32, v: [f64; 4]) -> Point {
        Point {
            method: method.to_owned(),
            seed,
            source: "plan".to_owned(),
            fluid: Objectives {
                ttft_s: v[0],
                carbon_kg: v[1],
                water_l: v[2],
                cost_usd: v[3],
                ..Objectives::default()
            },
            discrete_event: None,
            representative: true,
        }
    }

    fn value(rows: &[Row], method: &str, indicator: &str) -> f64 {
        rows.iter()
            .find(|r| r.0 == method && r.2 == indicator)
            .map(|r| r.3)
            .unwrap()
    }

    #[test]
    fn ratios_and_gaps_against_the_exact_front() {
        // Reference (worst observed): (4, 4, 4, 4). The exact front's two points dominate boxes
        // of 3*1*3*3 and 1*3*3*3 sharing 1*1*3*3: PHV 27 + 27 - 9 = 45.
        let points = vec![
            point("exact", 0, [1.0, 3.0, 1.0, 1.0]),
            point("exact", 0, [3.0, 1.0, 1.0, 1.0]),
            point("rule", 0, [2.0, 2.0, 2.0, 2.0]),
            point("bad", 0, [4.0, 4.0, 4.0, 4.0]),
        ];
        let rows = indicators(&points, "exact", None, None);
        assert_eq!(value(&rows, "exact", "phv"), 45.0);
        assert_eq!(value(&rows, "exact", "phv_ratio_to_exact"), 1.0);
        assert_eq!(value(&rows, "rule", "phv"), 16.0);
        assert_eq!(value(&rows, "rule", "phv_ratio_to_exact"), 16.0 / 45.0);
        assert_eq!(value(&rows, "rule", "gap_pct_TTFT"), 100.0);
        assert_eq!(value(&rows, "rule", "gap_pct_energy_cost"), 100.0);
        assert_eq!(value(&rows, "bad", "phv"), 0.0);
        // Normalised by (1..4) per objective: the exact front is (0, 2/3, 0, 0) and
        // (2/3, 0, 0, 0); "rule" at 1/3 everywhere is worse by at most 1/3 than either.
        assert_eq!(value(&rows, "exact", EPSILON), 0.0);
        assert_eq!(value(&rows, "exact", IGD_PLUS), 0.0);
        assert!((value(&rows, "rule", EPSILON) - 1.0 / 3.0).abs() < 1e-15);
        let igd = (3.0f64 * (1.0 / 9.0)).sqrt();
        assert!((value(&rows, "rule", IGD_PLUS) - igd).abs() < 1e-15);
        // With an upper bound on the optimal PHV (here twice the reference's box), each
        // group's PHV over it: the lower end of its ratio to the optimum.
        let outer = |r: &[f64]| 2.0 * r.iter().product::<f64>();
        let rows = indicators(&points, "exact", None, Some(&outer));
        assert_eq!(value(&rows, "rule", RATIO_TO_BOUND), 16.0 / 512.0);
        assert_eq!(value(&rows, "exact", RATIO_TO_BOUND), 45.0 / 512.0);
        // TTFT's reference at 2.5: the exact point with TTFT 3 adds nothing, the other keeps
        // 1.5 * 1 * 3 * 3; "rule" keeps 0.5 * 2 * 2 * 2. Gaps other than TTFT's are over the
        // plans within 2.5 s: "rule"'s carbon 2 against the exact front's 3 there; "bad" has
        // none (n/a), its TTFT gap is over every plan.
        let rows = indicators(&points, "exact", Some(2.5), None);
        assert_eq!(value(&rows, "exact", "phv"), 13.5);
        assert_eq!(value(&rows, "rule", "phv"), 4.0);
        assert!((value(&rows, "rule", "gap_pct_carbon") + 100.0 / 3.0).abs() < 1e-12);
        assert!(value(&rows, "bad", "gap_pct_carbon").is_nan());
        assert_eq!(value(&rows, "bad", "gap_pct_TTFT"), 300.0);
        assert!(
            table(&rows).contains("| +300.0% ± 0.0 | n/a |"),
            "{}",
            table(&rows)
        );
        // A point with a non-finite value counts for nothing but does not shift the others.
        let mut with_nan = points.clone();
        with_nan.push(point("nan", 0, [f64::NAN, 0.0, 0.0, 0.0]));
        let rows2 = indicators(&with_nan, "exact", None, None);
        assert_eq!(value(&rows2, "rule", "phv"), 16.0);
        assert_eq!(value(&rows2, "nan", "phv"), 0.0);
    }

    #[test]
    fn csv_round_trips_and_the_table_aggregates_seeds() {
        let rows = vec![
            ("a".to_owned(), 0, "phv".to_owned(), 1.0),
            ("a".to_owned(), 1, "phv".to_owned(), 3.0),
        ];
        let back = parse(&to_csv(&rows), "x.csv").unwrap();
        assert_eq!(back, rows);
        let md = table(&rows);
        assert!(md.contains("| a | 2 | 2.0000e0 ± 1.3e1 |"), "{md}");
        let err = parse("h\na,0,phv\n", "x.csv").unwrap_err().to_string();
        assert!(err.contains("x.csv:2"), "{err}");
        let err = parse("h\na,x,phv,1\n", "x.csv").unwrap_err().to_string();
        assert!(err.contains("field seed"), "{err}");
    }

    #[test]
    fn families_share_one_reference_point() {
        let pts = vec![
            ("a".to_owned(), 0, ObjectiveVector([1.0; 4])),
            ("b".to_owned(), 0, ObjectiveVector([2.0; 4])),
        ];
        let phv = phv_by_family(&pts);
        assert_eq!(
            phv,
            vec![("a".to_owned(), 0, 1.0), ("b".to_owned(), 0, 0.0)]
        );
    }
}
