//! The most hypervolume a front can have when every attainable point is known to satisfy linear
//! lower bounds: the ideal point's bound `y >= lower` and supporting half-spaces
//! `normal . y >= offset` with non-negative normals (what the minimum of a weighted sum over a
//! model's feasible set proves), each possibly only for the points whose first objective is at
//! most a cap (what the minimum proves when the first objective was bounded in the solve: an
//! epsilon constraint). Every point `z` a feasible `y` dominates satisfies the same bounds
//! (`z >= y`, a non-negative normal, and `z_0 <= cap` implies `y_0 <= cap`), so the region any
//! front can dominate up to the reference point lies in
//! `{lower <= z <= reference, z_0 > cap_k or normal_k . z >= offset_k}`, and its volume is an
//! upper bound on the optimal front's hypervolume.
//!
//! The polytope's volume is bracketed on a grid: exact along the first objective (a column's
//! length is `reference_0` minus the least first coordinate its other coordinates allow), the
//! other objectives in `cells` slices each, evaluated at each slice's upper end (an upper bound:
//! the bounds are easier to meet further up) and at its lower end (a lower bound).

/// A half-space `normal . y >= offset` every attainable point with `y_0 <= first_at_most`
/// satisfies.
#[derive(Debug, Clone, PartialEq)]
pub struct HalfSpace {
    /// Non-negative, one per objective.
    pub normal: Vec<f64>,
    /// The least value of `normal . y` over those points (or a lower bound on it).
    pub offset: f64,
    /// The cap on the first objective of the points it holds for (infinity: every point).
    pub first_at_most: f64,
}

/// The volume of `{lower <= z <= reference, cut.normal . z >= cut.offset for every cut}`,
/// bracketed: `(at most, at least)`, on a grid of `cells` slices per objective after the first.
///
/// # Panics
/// If the dimensions disagree, a normal has a negative or non-finite entry, or `cells` is 0.
pub fn outer_volume(
    lower: &[f64],
    reference: &[f64],
    cuts: &[HalfSpace],
    cells: usize,
) -> (f64, f64) {
    let d = lower.len();
    assert!(d >= 1 && reference.len() == d && cells >= 1, "dimensions");
    for c in cuts {
        assert!(
            c.normal.len() == d && c.normal.iter().all(|n| n.is_finite() && *n >= 0.0),
            "a cut's normal must have {d} non-negative entries"
        );
    }
    if (0..d).any(|k| reference[k] <= lower[k]) {
        return (0.0, 0.0);
    }
    let step: Vec<f64> = (0..d)
        .map(|k| (reference[k] - lower[k]) / cells as f64)
        .collect();
    let slab: f64 = step[1..].iter().product();
    // The column at the other coordinates `rest` (objectives 1..d): its length along the first.
    // A cut the rest does not meet asks the first coordinate for what the normal lacks or to
    // lie beyond the cap, whichever is less.
    let column = |rest: &[f64]| -> f64 {
        let mut least = lower[0];
        for c in cuts {
            let met: f64 = c.normal[1..].iter().zip(rest).map(|(n, z)| n * z).sum();
            let need = c.offset - met;
            if need <= 0.0 {
                continue;
            }
            let along = if c.normal[0] > 0.0 {
                need / c.normal[0]
            } else {
                f64::INFINITY
            };
            least = least.max(along.min(c.first_at_most));
        }
        (reference[0] - least).max(0.0)
    };
    let (mut upper, mut lower_sum) = (0.0, 0.0);
    let mut index = vec![0usize; d - 1];
    let mut top = vec![0.0; d - 1];
    let mut bottom = vec![0.0; d - 1];
    loop {
        for (j, &i) in index.iter().enumerate() {
            bottom[j] = lower[j + 1] + i as f64 * step[j + 1];
            top[j] = bottom[j] + step[j + 1];
        }
        upper += column(&top);
        lower_sum += column(&bottom);
        // The next cell (an odometer over the other objectives).
        let mut j = 0;
        while j < d - 1 {
            index[j] += 1;
            if index[j] < cells {
                break;
            }
            index[j] = 0;
            j += 1;
        }
        if j == d - 1 {
            break;
        }
    }
    (upper * slab, lower_sum * slab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_cuts_the_volume_is_the_box() {
        let (hi, lo) = outer_volume(&[1.0, 0.0, 2.0], &[3.0, 1.0, 5.0], &[], 7);
        assert!(
            (hi - 6.0).abs() < 1e-12 && (lo - 6.0).abs() < 1e-12,
            "{hi} {lo}"
        );
        assert_eq!(outer_volume(&[1.0, 0.0], &[0.5, 1.0], &[], 4), (0.0, 0.0));
    }

    #[test]
    fn a_cut_brackets_the_polytope_and_the_bracket_narrows() {
        // The unit square above the line y0 + y1 >= 1: volume 1/2.
        let cut = HalfSpace {
            normal: vec![1.0, 1.0],
            offset: 1.0,
            first_at_most: f64::INFINITY,
        };
        let mut width = f64::INFINITY;
        for cells in [4, 16, 64, 256] {
            let (hi, lo) =
                outer_volume(&[0.0, 0.0], &[1.0, 1.0], std::slice::from_ref(&cut), cells);
            assert!(lo <= 0.5 + 1e-12 && hi >= 0.5 - 1e-12, "{cells}: {lo} {hi}");
            assert!(hi - lo < width);
            width = hi - lo;
        }
        assert!(width <= 1.0 / 256.0 + 1e-12, "{width}");
        // A cut on the other objectives only (normal 0 along the first): the unit cube above
        // y1 + y2 >= 1 keeps half its volume.
        let cut = HalfSpace {
            normal: vec![0.0, 1.0, 1.0],
            offset: 1.0,
            first_at_most: f64::INFINITY,
        };
        let (hi, lo) = outer_volume(&[0.0; 3], &[1.0; 3], std::slice::from_ref(&cut), 200);
        assert!(lo <= 0.5 && hi >= 0.5 && hi - lo < 0.02, "{lo} {hi}");
        // The same cut only where the first objective is at most 0.4: below 0.4 half the
        // square is cut away, above it nothing (0.4 / 2 + 0.6 = 0.8).
        let capped = HalfSpace {
            first_at_most: 0.4,
            ..cut
        };
        let (hi, lo) = outer_volume(&[0.0; 3], &[1.0; 3], &[capped], 200);
        assert!(lo <= 0.8 && hi >= 0.8 && hi - lo < 0.02, "{lo} {hi}");
    }

    #[test]
    fn every_front_is_inside_its_bounds_volume() {
        // Points on the simplex y0 + y1 + y2 = 1 satisfy the cut; their hypervolume at (1, 1, 1)
        // is at most the polytope's (1 - 1/6 = 5/6).
        let points = [
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0,
            0.0,
            0.0,
            0.0,
            0.5,
            0.5,
        ];
        let hv = crate::pareto::hypervolume(&points, 3, &[1.0; 3]);
        let cut = HalfSpace {
            normal: vec![1.0; 3],
            offset: 1.0,
            first_at_most: f64::INFINITY,
        };
        let (hi, lo) = outer_volume(&[0.0; 3], &[1.0; 3], &[cut], 100);
        assert!(
            hv <= hi && lo <= 5.0 / 6.0 && 5.0 / 6.0 <= hi,
            "{hv} {lo} {hi}"
        );
    }
}
