//! SLIT-style evolutionary search guided by a learned surrogate of the simulator.
//!
//! Kept: an evolutionary search whose candidates are pre-screened by a cheap learned model of the
//! objective and only the promising ones are simulated; the surrogate is refit on every simulated
//! candidate. Simplified: one search per weight vector (the four single-objective emphases and
//! balanced), each minimising the weighted objectives over the even split's; the surrogate is a
//! ridge regression on compact plan features (each datacenter's share per class over the day and
//! per quarter of the day) rather than SLIT's neural model.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use verdant::allocator::{AllocError, Allocator, Problem, Proposal};
use verdant::sim::{FractionPlan, PlanError};

use super::genome::{Genome, Scalariser};

#[derive(Debug, Clone, Copy, PartialEq)]
/// SLIT-style search's settings.
pub struct SlitParams {
    /// Candidates per generation.
    pub population: usize,
    /// Generations.
    pub generations: usize,
    /// Candidates generated per simulated one (screened by the surrogate).
    pub screening: usize,
    /// Standard deviation of a mutation.
    pub mutation_sigma: f64,
    /// Ridge penalty of the surrogate's least squares.
    pub ridge: f64,
    /// Utilisation cap of the plans' projection.
    pub utilisation_cap: f64,
    /// Seed of the search's random stream.
    pub seed: u64,
}

impl Default for SlitParams {
    fn default() -> Self {
        SlitParams {
            population: 16,
            generations: 25,
            screening: 8,
            mutation_sigma: 0.5,
            ridge: 1e-3,
            utilisation_cap: 0.95,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone)]
/// SLIT-style surrogate-screened evolution, one search per weight vector.
pub struct Slit {
    /// The settings.
    pub params: SlitParams,
}

/// Weight vectors searched: each objective emphasised (0.7), and balanced.
pub const SLIT_WEIGHTS: [[f64; 4]; 5] = [
    [0.25, 0.25, 0.25, 0.25],
    [0.7, 0.1, 0.1, 0.1],
    [0.1, 0.7, 0.1, 0.1],
    [0.1, 0.1, 0.7, 0.1],
    [0.1, 0.1, 0.1, 0.7],
];

/// Compact features of a genome: per (class, datacenter) the mean softmax share over the day,
/// and per (quarter of the day, datacenter) over classes; plus a constant.
fn features(genome: &Genome, genes: &[f64]) -> Vec<f64> {
    let k = genome.planner.decision_len();
    let (nc, nd) = (genome.planner.classes, genome.planner.datacenters);
    let hours = genes.len() / k;
    let mut f = vec![0.0; nc * nd + 4 * nd + 1];
    for h in 0..hours {
        let shares = genome.planner.softmax_fractions(&genes[h * k..(h + 1) * k]);
        let quarter = (h * 4 / hours.max(1)).min(3);
        for c in 0..nc {
            for d in 0..nd {
                f[c * nd + d] += shares[c * nd + d] / hours as f64;
                f[nc * nd + quarter * nd + d] += shares[c * nd + d] / (hours * nc) as f64 * 4.0;
            }
        }
    }
    f[nc * nd + 4 * nd] = 1.0;
    f
}

/// Ridge regression by the normal equations (Gaussian elimination with partial pivoting).
fn fit(xs: &[Vec<f64>], ys: &[f64], ridge: f64) -> Vec<f64> {
    let m = xs.first().map_or(0, Vec::len);
    let mut a = vec![vec![0.0; m + 1]; m];
    for (x, y) in xs.iter().zip(ys) {
        for i in 0..m {
            for j in 0..m {
                a[i][j] += x[i] * x[j];
            }
            a[i][m] += x[i] * y;
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += ridge;
    }
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-15 {
            continue;
        }
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / d;
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= factor * p;
                }
            }
        }
    }
    (0..m)
        .map(|i| {
            if a[i][i].abs() < 1e-15 {
                0.0
            } else {
                a[i][m] / a[i][i]
            }
        })
        .collect()
}

impl Slit {
    fn search(
        &self,
        genome: &mut Genome,
        scalariser: &Scalariser,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<f64>, PlanError> {
        let p = self.params;
        let n = p.population.max(2);
        let mut xs: Vec<Vec<f64>> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        let mut population: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n);
        for k in 0..n {
            let genes = genome.initial(k, rng);
            let value = scalariser.value(&genome.evaluate(&genes)?);
            xs.push(features(genome, &genes));
            ys.push(value);
            population.push((genes, value));
        }
        for _ in 0..p.generations {
            let beta = fit(&xs, &ys, p.ridge);
            let mut candidates: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n * p.screening);
            for _ in 0..n * p.screening.max(1) {
                let a = &population[rng.gen_range(0..n)].0;
                let b = &population[rng.gen_range(0..n)].0;
                let genes: Vec<f64> = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| {
                        let mut g = if rng.gen::<bool>() { *x } else { *y };
                        if rng.gen::<f64>() < 4.0 / genome.len as f64 {
                            g += p.mutation_sigma * rng.sample::<f64, _>(StandardNormal);
                        }
                        g
                    })
                    .collect();
                let predicted: f64 = features(genome, &genes)
                    .iter()
                    .zip(&beta)
                    .map(|(f, w)| f * w)
                    .sum();
                candidates.push((genes, predicted));
            }
            candidates.sort_by(|a, b| a.1.total_cmp(&b.1));
            for (genes, _) in candidates.into_iter().take(n / 2) {
                let value = scalariser.value(&genome.evaluate(&genes)?);
                xs.push(features(genome, &genes));
                ys.push(value);
                population.push((genes, value));
            }
            population.sort_by(|a, b| a.1.total_cmp(&b.1));
            population.truncate(n);
        }
        Ok(population.swap_remove(0).0)
    }
}

impl Allocator for Slit {
    fn name(&self) -> &str {
        "slit"
    }

    /// The balanced search's plan.
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let mut genome = Genome::new(problem, self.params.utilisation_cap);
        let scalariser = Scalariser::new(problem, SLIT_WEIGHTS[0])?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
        let best = self.search(&mut genome, &scalariser, &mut rng)?;
        Ok(genome.plan(&best)?)
    }

    /// One plan per weight vector of [`SLIT_WEIGHTS`] (`weights-k`); the balanced one (k = 0)
    /// is representative.
    fn allocate_front(&mut self, problem: &Problem) -> Result<Vec<Proposal>, AllocError> {
        let mut genome = Genome::new(problem, self.params.utilisation_cap);
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
        let mut out = Vec::with_capacity(SLIT_WEIGHTS.len());
        for (k, w) in SLIT_WEIGHTS.iter().enumerate() {
            let scalariser = Scalariser::new(problem, *w)?;
            let best = self.search(&mut genome, &scalariser, &mut rng)?;
            out.push(Proposal {
                source: format!("weights-{k}"),
                plan: genome.plan(&best)?,
                representative: k == 0,
            });
        }
        Ok(out)
    }
}
