//! [`Front`]: the scored points of several groups (methods, seeds, families) in one objective
//! space, with one reference point for all of them and the hypervolume of each group.

use super::{additive_epsilon, hypervolume, igd_plus, nondominated, Bounds, ReferencePoint};

/// Points of several groups in one `d`-objective space (all minimised). Points with a
/// non-finite value are kept but count neither for the reference point nor for hypervolume.
///
/// ```
/// use verdant::pareto::{Front, ReferencePoint};
///
/// let mut front = Front::new(2);
/// front.push("a", &[1.0, 3.0]);
/// front.push("a", &[3.0, 1.0]);
/// front.push("b", &[4.0, 4.0]);
/// let reference = front.reference(&ReferencePoint::WorstObserved);
/// assert_eq!(reference, vec![4.0, 4.0]);
/// assert_eq!(front.hypervolume(|g| *g == "a", &reference), 5.0);
/// assert_eq!(front.hypervolume(|g| *g == "b", &reference), 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Front<K> {
    d: usize,
    groups: Vec<K>,
    values: Vec<f64>,
}

impl<K: PartialEq + Clone> Front<K> {
    /// An empty set of `d`-objective points.
    pub fn new(d: usize) -> Self {
        Front {
            d,
            groups: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds `point` (length `d`) to `group`.
    pub fn push(&mut self, group: K, point: &[f64]) {
        assert_eq!(point.len(), self.d, "a point has one value per objective");
        self.groups.push(group);
        self.values.extend_from_slice(point);
    }

    /// Number of objectives.
    pub fn dimensions(&self) -> usize {
        self.d
    }

    /// Number of points, of every group.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// No points at all.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups in order of first appearance.
    pub fn groups(&self) -> Vec<K> {
        let mut out: Vec<K> = Vec::new();
        for g in &self.groups {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }

    /// The finite points of the groups that `select` picks, flat.
    pub fn finite_points(&self, select: impl Fn(&K) -> bool) -> Vec<f64> {
        self.groups
            .iter()
            .zip(self.values.chunks_exact(self.d))
            .filter(|(g, p)| select(g) && p.iter().all(|v| v.is_finite()))
            .flat_map(|(_, p)| p.iter().copied())
            .collect()
    }

    /// The reference point for every group: resolved over all finite points.
    pub fn reference(&self, rule: &ReferencePoint) -> Vec<f64> {
        let all = self.finite_points(|_| true);
        rule.resolve([all.as_slice()], self.d)
    }

    /// Hypervolume of the finite points of the groups that `select` picks (0 for none).
    pub fn hypervolume(&self, select: impl Fn(&K) -> bool, reference: &[f64]) -> f64 {
        let points = self.finite_points(select);
        if points.is_empty() {
            0.0
        } else {
            hypervolume(&points, self.d, reference)
        }
    }

    /// The additive epsilon indicator and IGD+ ([`super::indicators`]) of the finite points of
    /// the groups `select` picks to the non-dominated finite points of those `to` picks, in
    /// objectives normalised to [0, 1] by the lowest and highest finite value of each over
    /// every group ([`Bounds::observed`]); `None` where either set has no finite point.
    pub fn distances(
        &self,
        select: impl Fn(&K) -> bool,
        to: impl Fn(&K) -> bool,
    ) -> Option<(f64, f64)> {
        let all = self.finite_points(|_| true);
        let bounds = Bounds::observed([all.as_slice()], self.d);
        let (mine, target) = (self.finite_points(select), self.finite_points(to));
        if mine.is_empty() || target.is_empty() {
            return None;
        }
        let target = bounds.normalise(&target);
        let front: Vec<f64> = nondominated(&target, self.d)
            .into_iter()
            .flat_map(|i| target[i * self.d..(i + 1) * self.d].iter().copied())
            .collect();
        let mine = bounds.normalise(&mine);
        Some((
            additive_epsilon(&mine, &front, self.d),
            igd_plus(&mine, &front, self.d),
        ))
    }
}
