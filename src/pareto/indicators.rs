//! Distance indicators of an approximation set to a reference set (both minimised, `d`
//! objectives, rows of one row-major slice), with moocore's definitions:
//!
//! - [`additive_epsilon`]: the smallest `eps` such that every reference point is weakly
//!   dominated by some approximation point moved by `-eps` in every objective,
//!   `max_r min_a max_k (a_k - r_k)` (Zitzler et al. 2003). 0 when the approximation covers the
//!   reference set; negative when it strictly dominates all of it.
//! - [`igd_plus`]: the mean over reference points of the distance to the nearest approximation
//!   point counting only the objectives where the approximation is worse,
//!   `1/|R| sum_r min_a sqrt(sum_k max(a_k - r_k, 0)^2)` (Ishibuchi et al. 2015); weakly Pareto
//!   compliant, unlike IGD.
//!
//! Both are scale dependent: compare sets in normalised objectives ([`super::Bounds`]).

/// Checks the shape every indicator needs: a non-empty set of rows of `d` values.
fn check(points: &[f64], d: usize, what: &str) {
    assert!(
        d > 0 && points.len() % d == 0 && !points.is_empty(),
        "the {what} set is not one or more rows of {d} values"
    );
}

/// Per point of `reference`, the least `distance(a, r)` over the points `a` of `approximation`.
fn nearest<'a>(
    approximation: &'a [f64],
    reference: &'a [f64],
    d: usize,
    distance: impl Fn(&[f64], &[f64]) -> f64 + 'a,
) -> impl Iterator<Item = f64> + 'a {
    check(approximation, d, "approximation");
    check(reference, d, "reference");
    reference.chunks_exact(d).map(move |r| {
        approximation
            .chunks_exact(d)
            .map(|a| distance(a, r))
            .fold(f64::INFINITY, f64::min)
    })
}

/// The additive epsilon indicator of `approximation` to `reference` (see the module's text).
///
/// # Panics
/// If either set is empty or not rows of `d` values.
pub fn additive_epsilon(approximation: &[f64], reference: &[f64], d: usize) -> f64 {
    nearest(approximation, reference, d, |a, r| {
        a.iter()
            .zip(r)
            .map(|(x, y)| x - y)
            .fold(f64::NEG_INFINITY, f64::max)
    })
    .fold(f64::NEG_INFINITY, f64::max)
}

/// The IGD+ of `approximation` to `reference` (see the module's text).
///
/// # Panics
/// If either set is empty or not rows of `d` values.
pub fn igd_plus(approximation: &[f64], reference: &[f64], d: usize) -> f64 {
    let distances = nearest(approximation, reference, d, |a, r| {
        a.iter()
            .zip(r)
            .map(|(x, y)| (x - y).max(0.0).powi(2))
            .sum::<f64>()
            .sqrt()
    });
    distances.sum::<f64>() / (reference.len() / d) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_that_covers_the_reference_has_no_distance_and_a_shifted_one_its_shift() {
        let front = [0.0, 1.0, 0.5, 0.5, 1.0, 0.0];
        assert_eq!(additive_epsilon(&front, &front, 2), 0.0);
        assert_eq!(igd_plus(&front, &front, 2), 0.0);
        let shifted: Vec<f64> = front.iter().map(|x| x + 0.25).collect();
        assert!((additive_epsilon(&shifted, &front, 2) - 0.25).abs() < 1e-15);
        // Every reference point's nearest worse-only distance is 0.25 in both objectives.
        let expected = (2.0f64 * 0.25 * 0.25).sqrt();
        assert!((igd_plus(&shifted, &front, 2) - expected).abs() < 1e-15);
        // Better than the reference everywhere: epsilon negative, IGD+ nothing.
        let better: Vec<f64> = front.iter().map(|x| x - 0.1).collect();
        assert!((additive_epsilon(&better, &front, 2) + 0.1).abs() < 1e-15);
        assert_eq!(igd_plus(&better, &front, 2), 0.0);
    }

    #[test]
    fn igd_plus_counts_only_the_objectives_where_the_approximation_is_worse() {
        // (0.2, 0.9) is better in the first objective and worse by 0.4 in the second than
        // (0.5, 0.5): IGD+ counts 0.4 where IGD would count 0.5.
        let (reference, approximation) = ([0.5, 0.5], [0.2, 0.9]);
        assert!((igd_plus(&approximation, &reference, 2) - 0.4).abs() < 1e-15);
        assert!((additive_epsilon(&approximation, &reference, 2) - 0.4).abs() < 1e-15);
    }
}
