//! Exact hypervolume and fronts against oracles: inclusion-exclusion on integer points (exact),
//! unit-cell counting on integer grids, brute-force dominance, invariances, and moocore's values
//! on fronts of thousands of points (tests/data/hv, made by scripts/make_hv_testdata.py); the
//! additive epsilon and IGD+ against moocore's on sets in d = 2..6 (tests/data/indicators, made by
//! scripts/make_indicator_testdata.py).

use std::path::Path;

use proptest::prelude::*;
use verdant::pareto::io::read_points;
use verdant::pareto::{
    additive_epsilon, contributions, dominates, hypervolume, igd_plus, nondominated, ranks,
};

/// Inclusion-exclusion over all subsets, in exact integer arithmetic.
fn inclusion_exclusion(points: &[i64], d: usize, reference: &[i64]) -> i128 {
    let n = points.len() / d;
    let mut total: i128 = 0;
    for mask in 1u32..(1 << n) {
        let mut corner = vec![i64::MIN; d];
        for i in 0..n {
            if mask & (1 << i) != 0 {
                for k in 0..d {
                    corner[k] = corner[k].max(points[i * d + k]);
                }
            }
        }
        let vol: i128 = corner
            .iter()
            .zip(reference)
            .map(|(c, r)| i128::from((r - c).max(0)))
            .product();
        total += if mask.count_ones() % 2 == 1 {
            vol
        } else {
            -vol
        };
    }
    total
}

/// Unit cells of [0, reference) dominated by some point.
fn count_cells(points: &[i64], d: usize, reference: i64) -> i64 {
    let cells = (reference as usize).pow(d as u32);
    let mut count = 0;
    let mut cell = vec![0i64; d];
    for c in 0..cells {
        let mut rest = c;
        for v in cell.iter_mut() {
            *v = (rest % reference as usize) as i64;
            rest /= reference as usize;
        }
        if points
            .chunks_exact(d)
            .any(|p| p.iter().zip(&cell).all(|(a, b)| a <= b))
        {
            count += 1;
        }
    }
    count
}

fn floats(v: &[i64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

proptest! {
    // A fixed seed: CI runs the same cases every time (failures found are kept in the
    // .proptest-regressions file beside this one).
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(2026), ..ProptestConfig::default() })]

    #[test]
    fn equals_inclusion_exclusion(d in 2usize..=6, n in 1usize..=8, seed in prop::collection::vec(0i64..10, 48)) {
        let points: Vec<i64> = seed[..n * d].to_vec();
        let reference = vec![10i64; d];
        let exact = inclusion_exclusion(&points, d, &reference);
        let got = hypervolume(&floats(&points), d, &floats(&reference));
        prop_assert_eq!(got, exact as f64);
    }

    #[test]
    fn equals_cell_counting(d in 2usize..=4, n in 1usize..=12, seed in prop::collection::vec(0i64..6, 48)) {
        let points: Vec<i64> = seed[..n * d].to_vec();
        let got = hypervolume(&floats(&points), d, &vec![6.0; d]);
        prop_assert_eq!(got, count_cells(&points, d, 6) as f64);
    }

    #[test]
    fn invariances(d in 2usize..=5, n in 2usize..=10, seed in prop::collection::vec(0.0f64..1.0, 60), scale in 0.5f64..4.0) {
        let points: Vec<f64> = seed[..n * d].to_vec();
        let reference = vec![1.0; d];
        let hv = hypervolume(&points, d, &reference);
        // Permutation (reverse the rows).
        let reversed: Vec<f64> = points.chunks_exact(d).rev().flatten().copied().collect();
        prop_assert!((hypervolume(&reversed, d, &reference) - hv).abs() <= 1e-12 * hv.max(1.0));
        // A dominated point, a duplicate, a point outside the reference box.
        let mut more = points.clone();
        more.extend(points[..d].iter().map(|v| v + (1.0 - v) / 2.0));
        more.extend_from_slice(&points[..d]);
        more.extend(std::iter::repeat_n(0.5, d - 1).chain([1.5]));
        prop_assert!((hypervolume(&more, d, &reference) - hv).abs() <= 1e-12 * hv.max(1.0));
        // Scaling one axis scales the volume.
        let mut scaled = points.clone();
        for row in scaled.chunks_exact_mut(d) { row[0] *= scale; }
        let mut scaled_ref = reference.clone();
        scaled_ref[0] *= scale;
        prop_assert!((hypervolume(&scaled, d, &scaled_ref) - scale * hv).abs() <= 1e-9 * hv.max(1e-9));
    }

    #[test]
    fn first_front_equals_brute_force(d in 1usize..=5, n in 1usize..=40, seed in prop::collection::vec(0i64..5, 200)) {
        let points = floats(&seed[..n * d]);
        let row = |i: usize| &points[i * d..(i + 1) * d];
        let brute: Vec<usize> = (0..n).filter(|&i| !(0..n).any(|j| dominates(row(j), row(i)))).collect();
        prop_assert_eq!(nondominated(&points, d), brute);
        // Ranks: no point dominates another of the same or a lower rank.
        let r = ranks(&points, d);
        for i in 0..n { for j in 0..n {
            if dominates(row(i), row(j)) { prop_assert!(r[i] < r[j]); }
        }}
    }

    #[test]
    fn contributions_are_volume_lost(d in 2usize..=4, n in 1usize..=8, seed in prop::collection::vec(0i64..8, 32)) {
        let points = floats(&seed[..n * d]);
        let reference = vec![8.0; d];
        let all = hypervolume(&points, d, &reference);
        let c = contributions(&points, d, &reference);
        for (i, &ci) in c.iter().enumerate() {
            let without: Vec<f64> = points.chunks_exact(d).enumerate().filter(|(j, _)| *j != i).flat_map(|(_, r)| r.to_vec()).collect();
            prop_assert_eq!(ci, all - hypervolume(&without, d, &reference));
        }
    }
}

#[test]
fn agrees_with_moocore_on_large_fronts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hv");
    let values: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("moocore-values.json")).unwrap())
            .unwrap();
    for (name, v) in values.as_object().unwrap() {
        let sets = read_points(&dir.join(format!("{name}.txt"))).unwrap();
        let d = v["d"].as_u64().unwrap() as usize;
        assert_eq!(sets.d, d);
        let points = sets.union();
        assert_eq!(points.len() / d, v["n"].as_u64().unwrap() as usize);
        let reference: Vec<f64> = v["reference"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let want = v["hypervolume"].as_f64().unwrap();
        let got = hypervolume(&points, d, &reference);
        assert!(
            (got - want).abs() <= 1e-12 * want,
            "{name}: {got} vs moocore {want} (relative {:e})",
            (got - want).abs() / want
        );
    }
}

#[test]
fn epsilon_and_igd_plus_agree_with_moocore() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/indicators");
    let values: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("moocore-values.json")).unwrap())
            .unwrap();
    assert_eq!(values.as_object().unwrap().len(), 5, "d = 2..6");
    for (name, v) in values.as_object().unwrap() {
        let d = v["d"].as_u64().unwrap() as usize;
        let read = |what: &str| {
            let sets = read_points(&dir.join(format!("{what}-{name}.txt"))).unwrap();
            assert_eq!(sets.d, d);
            sets.union()
        };
        let (approximation, reference) = (read("approximation"), read("reference"));
        for (indicator, got) in [
            (
                "additive_epsilon",
                additive_epsilon(&approximation, &reference, d),
            ),
            ("igd_plus", igd_plus(&approximation, &reference, d)),
        ] {
            let want = v[indicator].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1e-300),
                "{name} {indicator}: {got} vs moocore {want}"
            );
        }
    }
}
