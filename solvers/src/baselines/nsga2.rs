//! NSGA-II over plans.
//!
//! Kept: Deb et al.'s elitist genetic algorithm: non-dominated ranks and crowding distance (from
//! the core's Pareto module) for survival and binary tournaments, over the four objectives (TTFT,
//! carbon, water, cost) scored by the fluid simulator; the final first front is the method's set
//! of plans. Simplified: the genome is hourly logits per (class, datacenter) (see
//! [`super::Genome`]), variation is blend crossover plus Gaussian mutation instead of SBX
//! and polynomial mutation.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use verdant::allocator::{AllocError, Allocator, Problem, Proposal};
use verdant::pareto::{crowding_distance, ranks};
use verdant::sim::{FractionPlan, PlanError};

use super::genome::Genome;

#[derive(Debug, Clone, Copy, PartialEq)]
/// NSGA-II's settings.
pub struct Nsga2Params {
    /// Individuals per generation (at least 4).
    pub population: usize,
    /// Generations.
    pub generations: usize,
    /// Standard deviation of the Gaussian mutation of a logit.
    pub mutation_sigma: f64,
    /// Utilisation cap of the plans' projection.
    pub utilisation_cap: f64,
    /// Seed of the search's random stream.
    pub seed: u64,
}

impl Default for Nsga2Params {
    fn default() -> Self {
        Nsga2Params {
            population: 40,
            generations: 40,
            mutation_sigma: 0.5,
            utilisation_cap: 0.95,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone)]
/// NSGA-II over hourly logits: its first front is the method's front.
pub struct Nsga2 {
    /// The settings.
    pub params: Nsga2Params,
}

struct Individual {
    genes: Vec<f64>,
    objectives: [f64; 4],
}

/// Survival order: by rank, then by crowding distance (descending) within a rank.
fn select(pool: &[Individual], keep: usize) -> Vec<usize> {
    let flat: Vec<f64> = pool.iter().flat_map(|i| i.objectives).collect();
    let rank = ranks(&flat, 4);
    let mut chosen = Vec::with_capacity(keep);
    let max_rank = rank.iter().copied().max().unwrap_or(0);
    for r in 0..=max_rank {
        let members: Vec<usize> = (0..pool.len()).filter(|&i| rank[i] == r).collect();
        if chosen.len() + members.len() <= keep {
            chosen.extend(members);
        } else {
            let crowd = crowding_distance(&flat, 4, &members);
            let mut order: Vec<usize> = (0..members.len()).collect();
            order.sort_by(|&a, &b| crowd[b].total_cmp(&crowd[a]));
            chosen.extend(order.iter().take(keep - chosen.len()).map(|&k| members[k]));
        }
        if chosen.len() >= keep {
            break;
        }
    }
    chosen
}

impl Nsga2 {
    fn run<'s>(&self, problem: &Problem<'s>) -> Result<(Genome<'s>, Vec<Individual>), PlanError> {
        let p = self.params;
        let mut genome = Genome::new(problem, p.utilisation_cap);
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let n = p.population.max(4);
        let mut population = Vec::with_capacity(n);
        for k in 0..n {
            let genes = genome.initial(k, &mut rng);
            let objectives = genome.evaluate(&genes)?.compared().into();
            population.push(Individual { genes, objectives });
        }
        for _ in 0..p.generations {
            let flat: Vec<f64> = population.iter().flat_map(|i| i.objectives).collect();
            let rank = ranks(&flat, 4);
            let all: Vec<usize> = (0..population.len()).collect();
            let crowd = crowding_distance(&flat, 4, &all);
            let better = |a: usize, b: usize| {
                rank[a] < rank[b] || (rank[a] == rank[b] && crowd[a] > crowd[b])
            };
            let mut offspring = Vec::with_capacity(n);
            for _ in 0..n {
                let mut pick = || {
                    let (a, b) = (rng.gen_range(0..n), rng.gen_range(0..n));
                    if better(a, b) {
                        a
                    } else {
                        b
                    }
                };
                let (x, y) = (pick(), pick());
                let genes: Vec<f64> = population[x]
                    .genes
                    .iter()
                    .zip(&population[y].genes)
                    .map(|(a, b)| {
                        let beta: f64 = rng.gen_range(-0.25..1.25);
                        let mut g = a + beta * (b - a);
                        if rng.gen::<f64>() < 4.0 / genome.len as f64 {
                            g += p.mutation_sigma * rng.sample::<f64, _>(StandardNormal);
                        }
                        g
                    })
                    .collect();
                let objectives = genome.evaluate(&genes)?.compared().into();
                offspring.push(Individual { genes, objectives });
            }
            population.extend(offspring);
            let keep = select(&population, n);
            let mut next = Vec::with_capacity(n);
            let mut taken: Vec<Option<Individual>> = population.into_iter().map(Some).collect();
            for k in keep {
                if let Some(ind) = taken[k].take() {
                    next.push(ind);
                }
            }
            population = next;
        }
        Ok((genome, population))
    }
}

impl Allocator for Nsga2 {
    fn name(&self) -> &str {
        "nsga2"
    }

    /// The first-front plan closest to the even split's balance (lowest sum of objectives
    /// normalised by the front's ranges).
    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        let front = self.allocate_front(problem)?;
        Ok(front.into_iter().next().expect("a front has a plan").plan)
    }

    /// The first front, most balanced first (`front-0`, representative), then `front-1`, ...
    fn allocate_front(&mut self, problem: &Problem) -> Result<Vec<Proposal>, AllocError> {
        let (genome, population) = self.run(problem)?;
        let flat: Vec<f64> = population.iter().flat_map(|i| i.objectives).collect();
        let rank = ranks(&flat, 4);
        let mut front: Vec<&Individual> = population
            .iter()
            .zip(&rank)
            .filter(|(_, &r)| r == 0)
            .map(|(i, _)| i)
            .collect();
        // Most balanced first: sum of objectives over the front's ranges.
        let lo: Vec<f64> = (0..4)
            .map(|k| {
                front
                    .iter()
                    .map(|i| i.objectives[k])
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let hi: Vec<f64> = (0..4)
            .map(|k| {
                front
                    .iter()
                    .map(|i| i.objectives[k])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let balance = |i: &Individual| -> f64 {
            (0..4)
                .map(|k| (i.objectives[k] - lo[k]) / (hi[k] - lo[k]).max(1e-12))
                .sum()
        };
        front.sort_by(|a, b| balance(a).total_cmp(&balance(b)));
        let mut out = Vec::with_capacity(front.len());
        for (k, i) in front.iter().enumerate() {
            out.push(Proposal {
                source: format!("front-{k}"),
                plan: genome.plan(&i.genes)?,
                representative: k == 0,
            });
        }
        Ok(out)
    }
}
