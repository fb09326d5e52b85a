//! Exact hypervolume, every objective minimised.
//!
//! - d = 1, 2: sort and sweep, O(n log n).
//! - d = 3: dimension sweep on the third objective over a balanced tree of the (x, y) staircase
//!   (Beume, Fonseca, Lopez-Ibanez, Paquete, Vahrenhold 2009; the sweep of HV3D+), O(n log n).
//! - d = 4: sweep on the fourth objective, adding each point's exclusive 3-D contribution to the
//!   current 3-D volume, the contribution computed by a sweep on the third objective over a
//!   staircase clipped to the point's box (the scheme of HV4D+, Guerreiro and Fonseca 2018),
//!   O(n^2); the points tied at the lowest fourth objective (many, in the limit sets of d >= 5)
//!   start it through the 3-D sweep.
//! - d >= 5: a sweep on the last objective adding exclusive (d-1)-D contributions computed
//!   through limit sets (the WFG idea, While, Bradstreet, Barone 2012), one dimension down at
//!   every level, ending in the 4-D algorithm.
//!
//! Points that do not strictly dominate the reference point in every objective contribute
//! nothing and are dropped first; dominated and duplicate points change nothing.

use std::collections::BTreeMap;

use super::order_key as key;

/// The hypervolume of `points` (n rows of `d` values, row-major) with respect to `reference`.
///
/// ```
/// use verdant::pareto::hypervolume;
///
/// // Two points in 2-D against (3, 3): boxes of 2 x 1 and 1 x 2 that share 1 x 1.
/// let points = [1.0, 2.0, 2.0, 1.0];
/// assert_eq!(hypervolume(&points, 2, &[3.0, 3.0]), 3.0);
/// ```
pub fn hypervolume(points: &[f64], d: usize, reference: &[f64]) -> f64 {
    assert_eq!(
        reference.len(),
        d,
        "reference point has {} values, points {d}",
        reference.len()
    );
    assert!(
        d > 0 && points.len() % d == 0,
        "points are not rows of {d} values"
    );
    let kept = inside(points, d, reference);
    volume(kept, d, reference)
}

/// Rows that strictly dominate the reference point.
fn inside(points: &[f64], d: usize, reference: &[f64]) -> Vec<f64> {
    let mut kept = Vec::with_capacity(points.len());
    for row in points.chunks_exact(d) {
        if row.iter().zip(reference).all(|(p, r)| p < r) {
            kept.extend_from_slice(row);
        }
    }
    kept
}

/// The volume of points that all strictly dominate `reference`.
fn volume(mut points: Vec<f64>, d: usize, reference: &[f64]) -> f64 {
    let n = points.len() / d;
    if n == 0 {
        return 0.0;
    }
    match d {
        1 => reference[0] - points.iter().copied().fold(f64::INFINITY, f64::min),
        2 => hv2(&mut points, reference),
        3 => hv3(&points, reference),
        4 => hv4(&points, reference),
        _ => sweep(points, d, reference),
    }
}

fn hv2(points: &mut [f64], r: &[f64]) -> f64 {
    let mut rows: Vec<[f64; 2]> = points.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    rows.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let mut area = 0.0;
    let mut ceiling = r[1];
    for [x, y] in rows {
        if y < ceiling {
            area += (r[0] - x) * (ceiling - y);
            ceiling = y;
        }
    }
    area
}

/// The (x, y) staircase of the 3-D sweep: non-dominated points in a balanced tree keyed by x,
/// and the area they dominate up to the reference corner.
struct TreeStaircase {
    steps: BTreeMap<u64, (f64, f64)>,
    rx: f64,
    ry: f64,
    area: f64,
}

impl TreeStaircase {
    fn new(rx: f64, ry: f64) -> Self {
        TreeStaircase {
            steps: BTreeMap::new(),
            rx,
            ry,
            area: 0.0,
        }
    }

    /// Adds (x, y); returns the area it newly dominates.
    fn insert(&mut self, x: f64, y: f64) -> f64 {
        let kx = key(x);
        let ceiling = match self.steps.range(..kx).next_back() {
            Some((_, &(_, py))) if py <= y => return 0.0,
            Some((_, &(_, py))) => py,
            None => self.ry,
        };
        if let Some((_, &(sx, sy))) = self.steps.range(kx..).next() {
            if sx == x && sy <= y {
                return 0.0;
            }
        }
        let (mut cur_x, mut cur_ceiling, mut gain) = (x, ceiling, 0.0);
        let end_x = loop {
            match self.steps.range(kx..).next() {
                Some((&k, &(sx, sy))) if sy >= y => {
                    gain += (sx - cur_x) * (cur_ceiling - y);
                    cur_x = sx;
                    cur_ceiling = sy;
                    self.steps.remove(&k);
                }
                Some((_, &(sx, _))) => break sx,
                None => break self.rx,
            }
        };
        gain += (end_x - cur_x) * (cur_ceiling - y);
        self.steps.insert(kx, (x, y));
        self.area += gain;
        gain
    }
}

fn hv3(points: &[f64], r: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..points.len() / 3).collect();
    order.sort_unstable_by(|&a, &b| points[3 * a + 2].total_cmp(&points[3 * b + 2]));
    let mut stairs = TreeStaircase::new(r[0], r[1]);
    let mut volume = 0.0;
    let mut z_prev = points[3 * order[0] + 2];
    for i in order {
        let p = &points[3 * i..3 * i + 3];
        volume += stairs.area * (p[2] - z_prev);
        z_prev = p[2];
        stairs.insert(p[0], p[1]);
    }
    volume + stairs.area * (r[2] - z_prev)
}

/// A small staircase in a vector, clipped to one point's box (the 4-D algorithm's inner sweep).
struct VecStaircase {
    steps: Vec<(f64, f64)>,
    rx: f64,
    ry: f64,
}

impl VecStaircase {
    /// Adds (x, y); returns the area it newly dominates.
    fn insert(&mut self, x: f64, y: f64) -> f64 {
        let i = self.steps.partition_point(|s| s.0 < x);
        let ceiling = if i > 0 {
            let py = self.steps[i - 1].1;
            if py <= y {
                return 0.0;
            }
            py
        } else {
            self.ry
        };
        if let Some(&(sx, sy)) = self.steps.get(i) {
            if sx == x && sy <= y {
                return 0.0;
            }
        }
        let (mut cur_x, mut cur_ceiling, mut gain) = (x, ceiling, 0.0);
        let mut j = i;
        while let Some(&(sx, sy)) = self.steps.get(j) {
            if sy < y {
                break;
            }
            gain += (sx - cur_x) * (cur_ceiling - y);
            cur_x = sx;
            cur_ceiling = sy;
            j += 1;
        }
        let end_x = self.steps.get(j).map_or(self.rx, |s| s.0);
        gain += (end_x - cur_x) * (cur_ceiling - y);
        if j == i {
            self.steps.insert(i, (x, y));
        } else {
            self.steps[i] = (x, y);
            self.steps.drain(i + 1..j);
        }
        gain
    }
}

/// The current 3-D non-dominated set of the 4-D sweep, stored twice as columns (sorted by x,
/// and sorted by z) so that the contribution passes read memory in order.
#[derive(Default)]
struct Set3 {
    by_x: [Vec<f64>; 3],
    by_z: [Vec<f64>; 3],
}

impl Set3 {
    fn insert(&mut self, q: &[f64]) {
        let at = self.by_x[0].partition_point(|&x| x < q[0]);
        for (column, &v) in self.by_x.iter_mut().zip(q) {
            column.insert(at, v);
        }
        let at = self.by_z[2].partition_point(|&z| z <= q[2]);
        for (column, &v) in self.by_z.iter_mut().zip(q) {
            column.insert(at, v);
        }
    }

    /// Removes the points at `z_positions` (ascending, positions in z order) from both orders;
    /// `positions` is scratch space.
    fn remove(&mut self, z_positions: &[usize], positions: &mut Vec<usize>) {
        if z_positions.is_empty() {
            return;
        }
        positions.clear();
        for &k in z_positions {
            let (x, y, z) = (self.by_z[0][k], self.by_z[1][k], self.by_z[2][k]);
            let mut i = self.by_x[0].partition_point(|&v| v < x);
            while self.by_x[1][i] != y || self.by_x[2][i] != z {
                i += 1;
            }
            positions.push(i);
        }
        positions.sort_unstable();
        remove_positions(&mut self.by_z, z_positions);
        remove_positions(&mut self.by_x, positions);
    }
}

/// Removes the rows at `positions` (ascending) from the three columns, keeping order.
fn remove_positions(columns: &mut [Vec<f64>; 3], positions: &[usize]) {
    for column in columns.iter_mut() {
        // Move each run between removed rows down in one copy.
        let mut kept = positions[0];
        for (w, &p) in positions.iter().enumerate() {
            let next = positions.get(w + 1).copied().unwrap_or(column.len());
            column.copy_within(p + 1..next, kept);
            kept += next - p - 1;
        }
        column.truncate(kept);
    }
}

fn hv4(points: &[f64], r: &[f64]) -> f64 {
    let mut sorted: Vec<[f64; 4]> = points
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    sorted.sort_unstable_by(|a, b| a[3].total_cmp(&b[3]));
    Hv4::default().sorted(&mut sorted, r)
}

/// The 4-D sweep's buffers, kept between calls (the d >= 5 sweep calls it once per point).
#[derive(Default)]
struct Hv4 {
    set: Set3,
    stairs: Vec<(f64, f64)>,
    dominated: Vec<usize>,
    positions: Vec<usize>,
}

impl Hv4 {
    /// The 4-D volume of `rows` (row-major, ascending in the fourth objective; the rows tied
    /// at the lowest fourth objective are reordered).
    fn sorted(&mut self, rows: &mut [[f64; 4]], r: &[f64]) -> f64 {
        let mut stairs = VecStaircase {
            steps: std::mem::take(&mut self.stairs),
            rx: r[0],
            ry: r[1],
        };
        let w_first = rows[0][3];
        let tied = rows.iter().take_while(|q| q[3] == w_first).count();
        let mut volume3 = self.start(&mut rows[..tied], r, &mut stairs);
        let (mut total, mut w_prev) = (0.0, w_first);
        // The last point found weakly dominated by the set (it stays so: a point leaves the set
        // only for one that dominates it): a row it weakly dominates adds nothing, which this
        // test finds before the full one (rows in a row are often dominated alike; 8% of the
        // time at d = 5).
        let mut cover = [f64::INFINITY; 3];
        for q in &rows[tied..] {
            total += volume3 * (q[3] - w_prev);
            w_prev = q[3];
            if cover[0] <= q[0] && cover[1] <= q[1] && cover[2] <= q[2] {
                continue;
            }
            self.dominated.clear();
            let gain = contribution3(
                q,
                &self.set,
                r,
                &mut stairs,
                &mut self.dominated,
                &mut cover,
            );
            if gain > 0.0 {
                volume3 += gain;
                self.set.remove(&self.dominated, &mut self.positions);
                self.set.insert(q);
            }
        }
        self.stairs = stairs.steps;
        total + volume3 * (r[3] - w_prev)
    }

    /// Starts the sweep with `rows`, which tie in the fourth objective: their 3-D volume by a
    /// sweep on the third objective (the 3-D algorithm), which also yields the set in z order
    /// (a row that adds area is dominated by no row before it; one dominated by a row tied
    /// with it in z may stay, which changes no volume). Reorders `rows`.
    fn start(&mut self, rows: &mut [[f64; 4]], r: &[f64], stairs: &mut VecStaircase) -> f64 {
        for column in self.set.by_x.iter_mut().chain(self.set.by_z.iter_mut()) {
            column.clear();
        }
        rows.sort_unstable_by(|a, b| a[2].total_cmp(&b[2]));
        stairs.steps.clear();
        let (mut volume, mut area) = (0.0, 0.0);
        let mut z_prev = rows[0][2];
        for q in rows.iter() {
            volume += area * (q[2] - z_prev);
            z_prev = q[2];
            let gain = stairs.insert(q[0], q[1]);
            if gain > 0.0 {
                area += gain;
                for (column, &v) in self.set.by_z.iter_mut().zip(q.iter()) {
                    column.push(v);
                }
            }
        }
        let [xs, ys, zs] = &self.set.by_z;
        self.positions.clear();
        self.positions.extend(0..xs.len());
        self.positions
            .sort_unstable_by(|&a, &b| xs[a].total_cmp(&xs[b]));
        for (column, source) in self.set.by_x.iter_mut().zip([xs, ys, zs]) {
            column.extend(self.positions.iter().map(|&i| source[i]));
        }
        volume + area * (r[2] - z_prev)
    }
}

/// The 3-D volume that `q` adds to `set`. Pushes onto `dominated` the positions (z order) of
/// points that `q` dominates among those the sweep above `q` passes (not necessarily all of
/// them: a dominated point left in the set changes no volume, it only costs time).
fn contribution3(
    q: &[f64],
    set: &Set3,
    r: &[f64],
    stairs: &mut VecStaircase,
    dominated: &mut Vec<usize>,
    cover: &mut [f64; 3],
) -> f64 {
    let (px, py, pz) = (q[0], q[1], q[2]);
    // The staircase of the points below q in z, clipped to q's box, built in x order. The
    // points left of q or level with it all clip to x = px, so of those only the lowest y
    // matters.
    stairs.steps.clear();
    let [xs, ys, zs] = &set.by_x;
    let left = xs.partition_point(|&x| x <= px);
    let lowest = lowest_y_below(&ys[..left], &zs[..left], pz);
    if lowest <= py {
        // A point weakly dominates q: one at x <= px, y = lowest, z <= pz, so it also
        // dominates (px, lowest, pz), which becomes the cover of later rows.
        *cover = [px, lowest, pz];
        return 0.0;
    }
    if lowest < f64::INFINITY {
        stairs.steps.push((px, lowest));
    }
    for ((&sx, &sy), &sz) in xs[left..].iter().zip(&ys[left..]).zip(&zs[left..]) {
        if sz > pz {
            continue;
        }
        let (x, y) = (at_least(sx, px), at_least(sy, py));
        match stairs.steps.last_mut() {
            Some(last) if last.1 <= y => {}
            Some(last) if last.0 == x => last.1 = y,
            _ => stairs.steps.push((x, y)),
        }
        if y == py {
            // The staircase has reached the bottom of q's box: points further right (larger x)
            // clip to a y no lower, so none of them adds a step.
            break;
        }
    }
    let mut covered = 0.0;
    for (k, &(x, y)) in stairs.steps.iter().enumerate() {
        let next_x = stairs.steps.get(k + 1).map_or(r[0], |s| s.0);
        covered += (next_x - x) * (r[1] - y);
    }
    let mut free = (r[0] - px) * (r[1] - py) - covered;
    if free <= 0.0 {
        return 0.0;
    }
    let mut volume = 0.0;
    let mut z_prev = pz;
    let [xs, ys, zs] = &set.by_z;
    let start = zs.partition_point(|&z| z <= pz);
    for (k, ((&sx, &sy), &sz)) in xs[start..]
        .iter()
        .zip(&ys[start..])
        .zip(&zs[start..])
        .enumerate()
    {
        if sx >= px && sy >= py {
            dominated.push(start + k);
        }
        volume += free * (sz - z_prev);
        z_prev = sz;
        free -= stairs.insert(at_least(sx, px), at_least(sy, py));
        if free <= 0.0 {
            return volume;
        }
    }
    volume + free * (r[2] - z_prev)
}

/// `v` raised to `floor` (a plain compare and select: the points hold no NaN).
#[inline]
fn at_least(v: f64, floor: f64) -> f64 {
    if v > floor {
        v
    } else {
        floor
    }
}

/// The lowest `ys[i]` among the points with `zs[i] <= z` (infinity if none): four independent
/// minima, so the loop runs without branches.
fn lowest_y_below(ys: &[f64], zs: &[f64], z: f64) -> f64 {
    let below = |y: f64, sz: f64| if sz <= z { y } else { f64::INFINITY };
    let lower = |a: f64, b: f64| if b < a { b } else { a };
    let (mut l0, mut l1, mut l2, mut l3) =
        (f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let (y4, z4) = (ys.chunks_exact(4), zs.chunks_exact(4));
    let (y_rest, z_rest) = (y4.remainder(), z4.remainder());
    for (y, sz) in y4.zip(z4) {
        l0 = lower(l0, below(y[0], sz[0]));
        l1 = lower(l1, below(y[1], sz[1]));
        l2 = lower(l2, below(y[2], sz[2]));
        l3 = lower(l3, below(y[3], sz[3]));
    }
    for (&y, &sz) in y_rest.iter().zip(z_rest) {
        l0 = lower(l0, below(y, sz));
    }
    lower(lower(l0, l1), lower(l2, l3))
}

/// d >= 5: a sweep on the last objective; each point adds to the running (d-1)-volume its
/// exclusive contribution, its box less the (d-1)-volume of the limit set (the current points
/// pushed into its box, non-dominated ones only), as in WFG (While, Bradstreet, Barone 2012)
/// but one dimension down at every level, so the recursion ends in the 4-D algorithm. At
/// d = 5 the current set is kept in order of its fourth objective; pushing the points into a
/// box keeps that order, so the 4-D sweep needs no sort.
fn sweep(points: Vec<f64>, d: usize, r: &[f64]) -> f64 {
    let n = points.len() / d;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| points[a * d + d - 1].total_cmp(&points[b * d + d - 1]));
    let e = d - 1;
    let r_low = &r[..e];
    // The current (d-1)-dimensional non-dominated set, row-major.
    let mut set: Vec<f64> = Vec::new();
    let mut limit: Vec<f64> = Vec::new();
    // At d = 5 the limit set goes to the 4-D sweep as rows of four.
    let mut limit4: Vec<[f64; 4]> = Vec::new();
    let mut hv4 = Hv4::default();
    let (mut total, mut volume_low) = (0.0, 0.0);
    let mut w_prev = points[order[0] * d + e];
    for &i in &order {
        let row = &points[i * d..(i + 1) * d];
        let (p, w) = (&row[..e], row[e]);
        total += volume_low * (w - w_prev);
        w_prev = w;
        if e == 4 {
            limit4.clear();
            limit4.extend(set.chunks_exact(4).map(|q| {
                [
                    at_least(q[0], p[0]),
                    at_least(q[1], p[1]),
                    at_least(q[2], p[2]),
                    at_least(q[3], p[3]),
                ]
            }));
        } else {
            limit.clear();
            for q in set.chunks_exact(e) {
                limit.extend(q.iter().zip(p).map(|(&a, &b)| at_least(a, b)));
            }
        }
        let boxed: f64 = p.iter().zip(r_low).map(|(a, b)| b - a).product();
        // The 4-D algorithm passes over dominated points by itself, faster than filtering them
        // first; above 4-D, filtering keeps the recursion small.
        let below = if set.is_empty() {
            0.0
        } else if e == 4 {
            hv4.sorted(&mut limit4, r_low)
        } else {
            volume(nondominated_rows(&limit, e), e, r_low)
        };
        let gain = boxed - below;
        if gain > 0.0 {
            volume_low += gain;
            let mut kept = 0;
            for k in 0..set.len() / e {
                let row = k * e..(k + 1) * e;
                let dominated = set[row.clone()].iter().zip(p).all(|(a, b)| a >= b);
                if !dominated {
                    set.copy_within(row, kept * e);
                    kept += 1;
                }
            }
            set.truncate(kept * e);
            // At d = 5, insert in order of the fourth objective; above, order does not matter.
            let at = if e == 4 {
                set.chunks_exact(e).take_while(|q| q[3] <= p[3]).count() * e
            } else {
                set.len()
            };
            set.splice(at..at, p.iter().copied());
        }
    }
    total + volume_low * (r[e] - w_prev)
}

/// The rows of `points` that no other row dominates (one copy of duplicates).
fn nondominated_rows(points: &[f64], d: usize) -> Vec<f64> {
    let keep = super::nondominated(points, d);
    let mut out = Vec::with_capacity(keep.len() * d);
    let mut last: Option<&[f64]> = None;
    for i in keep {
        let row = &points[i * d..(i + 1) * d];
        if last != Some(row) {
            out.extend_from_slice(row);
        }
        last = Some(row);
    }
    out
}

/// Each point's exclusive contribution: the volume lost if it alone were removed (0 for
/// dominated, duplicated or outside points).
pub fn contributions(points: &[f64], d: usize, reference: &[f64]) -> Vec<f64> {
    let n = points.len() / d;
    let mut out = vec![0.0; n];
    let mut limit = Vec::new();
    for (i, p) in points.chunks_exact(d).enumerate() {
        if !p.iter().zip(reference).all(|(a, b)| a < b) {
            continue;
        }
        let boxed: f64 = p.iter().zip(reference).map(|(a, b)| b - a).product();
        limit.clear();
        for (j, q) in points.chunks_exact(d).enumerate() {
            if j != i {
                limit.extend(q.iter().zip(p).map(|(&a, &b)| at_least(a, b)));
            }
        }
        out[i] = (boxed - hypervolume(&limit, d, reference)).max(0.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_the_floats() {
        let xs = [-3.5, -0.0, 0.0, 1e-300, 2.0, 7.0];
        for w in xs.windows(2) {
            assert!(key(w[0]) <= key(w[1]), "{w:?}");
        }
    }

    #[test]
    fn hand_made_fronts() {
        // Two boxes in 2-D: [1,4]x[3,4] (3) and [2,4]x[1,4] (6) overlap in [2,4]x[3,4] (2): 7.
        assert_eq!(hypervolume(&[1.0, 3.0, 2.0, 1.0], 2, &[4.0, 4.0]), 7.0);
        // The unit cube's corner point.
        assert_eq!(hypervolume(&[0.0, 0.0, 0.0], 3, &[1.0, 1.0, 1.0]), 1.0);
        assert_eq!(hypervolume(&[0.0; 4], 4, &[2.0; 4]), 16.0);
        assert_eq!(hypervolume(&[0.0; 5], 5, &[2.0; 5]), 32.0);
        // A point on the reference boundary adds nothing.
        assert_eq!(hypervolume(&[0.0, 1.0], 2, &[1.0, 1.0]), 0.0);
    }
}
