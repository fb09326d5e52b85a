//! Pareto fronts and hypervolume. Every objective is minimised internally; negate a maximised
//! one at the boundary (the CSV reader does it from the header).
//!
//! - [`dominates`], [`nondominated`] (first front), [`ranks`] (all fronts), [`crowding_distance`];
//! - [`Bounds`] for normalisation with stated bounds, [`ReferencePoint`] policies;
//! - [`hv`]: exact hypervolume in any dimension and exclusive contributions;
//! - [`indicators`]: additive epsilon and IGD+ of a set to a reference set;
//! - [`io`]: moocore's whitespace format and CSV with an objective header;
//! - [`outer`]: the most hypervolume any front can have under linear lower bounds.
//!
//! Points are `n` rows of `d` values in one row-major slice.

mod front;
pub mod hv;
pub mod indicators;
pub mod io;
pub mod outer;

use std::collections::BTreeMap;

pub use front::Front;
pub use hv::{contributions, hypervolume};
pub use indicators::{additive_epsilon, igd_plus};
pub use outer::{outer_volume, HalfSpace};

/// Whether `a` Pareto-dominates `b`: no worse in every objective, better in at least one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        better |= x < y;
    }
    better
}

/// Indices (ascending) of the rows that no other row dominates: the first front. Duplicates of
/// a front point are all kept. O(n log n) for d <= 3 (sort and sweep, with a balanced tree for
/// d = 3, after Kung, Luccio and Preparata); for d >= 4 rows are taken in order of their sum
/// (a dominating row has a smaller sum) and checked against the front found so far.
pub fn nondominated(points: &[f64], d: usize) -> Vec<usize> {
    assert!(
        d > 0 && points.len() % d == 0,
        "points are not rows of {d} values"
    );
    let n = points.len() / d;
    let row = |i: usize| &points[i * d..(i + 1) * d];
    let mut keep = match d {
        1 => {
            let best = points.iter().copied().fold(f64::INFINITY, f64::min);
            (0..n).filter(|&i| points[i] == best).collect()
        }
        2 | 3 => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_unstable_by(|&a, &b| {
                row(a)
                    .iter()
                    .zip(row(b))
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let mut keep = Vec::new();
            let mut previous: Option<(usize, bool)> = None;
            // d = 2: the lowest y so far; d = 3: the (y, z) staircase so far.
            let mut best_y = f64::INFINITY;
            let mut stairs: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
            for &i in &order {
                let p = row(i);
                if let Some((j, kept)) = previous {
                    if row(j) == p {
                        if kept {
                            keep.push(i);
                        }
                        continue;
                    }
                }
                let dominated = if d == 2 {
                    best_y <= p[1]
                } else {
                    let k = order_key(p[1]);
                    matches!(stairs.range(..=k).next_back(), Some((_, &(_, z))) if z <= p[2])
                };
                if !dominated {
                    keep.push(i);
                    if d == 2 {
                        best_y = p[1];
                    } else {
                        let k = order_key(p[1]);
                        // Remove steps with y >= p.y and z >= p.z, then add p.
                        while let Some((&sk, &(_, z))) = stairs.range(k..).next() {
                            if z >= p[2] {
                                stairs.remove(&sk);
                            } else {
                                break;
                            }
                        }
                        stairs.insert(k, (p[1], p[2]));
                    }
                }
                previous = Some((i, !dominated));
            }
            keep
        }
        _ => {
            let sums: Vec<f64> = (0..n).map(|i| row(i).iter().sum()).collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_unstable_by(|&a, &b| sums[a].total_cmp(&sums[b]));
            let mut front: Vec<usize> = Vec::new();
            for &i in &order {
                if !front.iter().any(|&j| dominates(row(j), row(i))) {
                    front.push(i);
                }
            }
            front
        }
    };
    keep.sort_unstable();
    keep
}

/// A total-order key for f64 (for balanced trees): a larger value has a larger key.
pub(crate) fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Non-dominated rank of every row (0 = first front), by peeling fronts.
pub fn ranks(points: &[f64], d: usize) -> Vec<usize> {
    let n = points.len() / d;
    let mut rank = vec![usize::MAX; n];
    let mut left: Vec<usize> = (0..n).collect();
    let mut level = 0;
    let mut buffer = Vec::with_capacity(points.len());
    while !left.is_empty() {
        buffer.clear();
        for &i in &left {
            buffer.extend_from_slice(&points[i * d..(i + 1) * d]);
        }
        let front = nondominated(&buffer, d);
        let mut in_front = vec![false; left.len()];
        for &k in &front {
            in_front[k] = true;
            rank[left[k]] = level;
        }
        left = left
            .iter()
            .zip(&in_front)
            .filter(|(_, &f)| !f)
            .map(|(&i, _)| i)
            .collect();
        level += 1;
    }
    rank
}

/// NSGA-II's crowding distance of the rows `members` (one front): per objective, the normalised
/// gap between each member's neighbours, summed; the extremes of each objective get infinity.
pub fn crowding_distance(points: &[f64], d: usize, members: &[usize]) -> Vec<f64> {
    let m = members.len();
    let mut distance = vec![0.0; m];
    if m <= 2 {
        return vec![f64::INFINITY; m];
    }
    let mut order: Vec<usize> = (0..m).collect();
    for k in 0..d {
        let value = |i: usize| points[members[i] * d + k];
        order.sort_unstable_by(|&a, &b| value(a).total_cmp(&value(b)));
        let (lo, hi) = (value(order[0]), value(order[m - 1]));
        distance[order[0]] = f64::INFINITY;
        distance[order[m - 1]] = f64::INFINITY;
        if hi > lo {
            for w in 1..m - 1 {
                distance[order[w]] += (value(order[w + 1]) - value(order[w - 1])) / (hi - lo);
            }
        }
    }
    distance
}

/// Lower and upper bounds per objective, for normalising to [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    /// The lowest value of each objective (maps to 0).
    pub lower: Vec<f64>,
    /// The highest value of each objective (maps to 1).
    pub upper: Vec<f64>,
}

impl Bounds {
    /// The column-wise minimum and maximum over several point sets.
    pub fn observed<'a>(sets: impl IntoIterator<Item = &'a [f64]>, d: usize) -> Self {
        let mut b = Bounds {
            lower: vec![f64::INFINITY; d],
            upper: vec![f64::NEG_INFINITY; d],
        };
        for set in sets {
            for row in set.chunks_exact(d) {
                for (k, &v) in row.iter().enumerate() {
                    b.lower[k] = b.lower[k].min(v);
                    b.upper[k] = b.upper[k].max(v);
                }
            }
        }
        b
    }

    /// `(v - lower) / (upper - lower)` per objective (objectives with no range map to 0).
    pub fn normalise(&self, points: &[f64]) -> Vec<f64> {
        let d = self.lower.len();
        points
            .chunks_exact(d)
            .flat_map(|row| {
                row.iter().enumerate().map(|(k, &v)| {
                    let range = self.upper[k] - self.lower[k];
                    if range > 0.0 {
                        (v - self.lower[k]) / range
                    } else {
                        0.0
                    }
                })
            })
            .collect::<Vec<f64>>()
    }
}

/// How the reference point of a hypervolume is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferencePoint {
    /// Given explicitly.
    Explicit(Vec<f64>),
    /// The worst observed value of each objective across all compared sets (the MARLIN paper's
    /// choice). A point that is the worst in some objective then lies on the reference box and
    /// adds nothing; any other single point has the volume of its box.
    WorstObserved,
    /// The worst observed value of each objective (the nadir of the union) times `factor`
    /// (for positive objectives; `1.1` puts the reference ten percent beyond the nadir).
    NadirTimes(f64),
}

impl ReferencePoint {
    /// The reference point for `sets` of `d` objectives.
    pub fn resolve<'a>(&self, sets: impl IntoIterator<Item = &'a [f64]>, d: usize) -> Vec<f64> {
        match self {
            ReferencePoint::Explicit(r) => r.clone(),
            ReferencePoint::WorstObserved => Bounds::observed(sets, d).upper,
            ReferencePoint::NadirTimes(f) => Bounds::observed(sets, d)
                .upper
                .iter()
                .map(|v| v * f)
                .collect(),
        }
    }
}
