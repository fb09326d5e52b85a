//! Summaries over seeds and the small list helpers the tables share.

/// Mean and sample standard deviation (0 for one value; NaN for none).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Mean and the half-width of a two-sided 95% confidence interval (Student t) of `v`.
pub fn mean_ci(v: &[f64]) -> (f64, f64) {
    let (mean, std) = mean_std(v);
    let n = v.len();
    if n < 2 {
        return (mean, if n == 1 { 0.0 } else { f64::NAN });
    }
    // Two-sided 97.5% quantiles of Student's t for 1..10 degrees of freedom, then normal.
    const T: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.96);
    (mean, t * std / (n as f64).sqrt())
}

/// `m ± h` with `digits` decimals.
pub fn plus_minus((m, h): (f64, f64), digits: usize) -> String {
    format!("{m:.digits$} ± {h:.digits$}")
}

/// The distinct items in order of first appearance.
pub fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        // t(0.975, 2) = 4.303: half-width 4.303 x 1 / sqrt(3).
        let (_, h) = mean_ci(&[1.0, 2.0, 3.0]);
        assert!((h - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_ci(&[5.0]), (5.0, 0.0));
        assert_eq!(distinct([3, 1, 3, 2, 1]), vec![3, 1, 2]);
        assert_eq!(plus_minus((1.234, 0.05), 2), "1.23 ± 0.05");
    }
}
