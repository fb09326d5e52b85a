//! `verdant marlin compare|scale|ablation`: MARLIN beside the eight frameworks of its section 6
//! and simple rules (compare), across 4 to 12 datacenters (scale), and without each of its
//! components (ablation). Every plan is scored by the fluid simulator; fronts are compared by
//! exact hypervolume with the reference point at the worst observed value per objective.

use std::fmt::Write as _;

use rayon::prelude::*;
use serde::Deserialize;
use verdant::pareto::{hypervolume, ReferencePoint};
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::rules::{Even, Greedy, GreedyKey, Nearest, RoundRobin};
use verdant::sim::{Allocator, Objectives, SimParams};
use verdant_agents::baselines::{ActorCritic, DoubleDqn, QLearning};
use verdant_agents::marlin::Components;
use verdant_solvers::baselines::{
    Helix, Nsga2, Nsga2Params, PerLlm, PerLlmParams, Slit, SlitParams, Splitwise,
};

use crate::cli::SharedArgs;
use crate::inspect::resolve_scenario;
use crate::marlin::{run_seed, train_schemes, Checked, Jobs, SchemeResult, METRICS};
use crate::plots::{bar_chart, line_chart, BarGroup, Chart, Series};
use crate::run::{within, Run};
use crate::stats::{distinct, mean_ci, plus_minus};

/// `[compare]` of configs/marlin.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CompareSection {
    /// Frameworks (helix, splitwise, nsga2, perllm, slit, q-learning, double-dqn,
    /// actor-critic) and rules (round-robin, lowest-carbon, lowest-price, nearest, even).
    pub frameworks: Vec<String>,
    pub nsga2_population: usize,
    pub nsga2_generations: usize,
    pub slit_generations: usize,
    pub perllm_days: usize,
    pub rl_days: usize,
    /// Scenarios of `marlin scale`, and MARLIN's budget there.
    pub scalability_scenarios: Vec<String>,
    pub scalability_days: usize,
    pub scalability_seeds: u32,
    /// MARLIN's budget in `marlin ablation`.
    pub ablation_days: usize,
    pub ablation_seeds: u32,
}

impl Default for CompareSection {
    fn default() -> Self {
        CompareSection {
            frameworks: FRAMEWORKS
                .iter()
                .chain(RULES.iter())
                .map(|s| (*s).to_owned())
                .collect(),
            nsga2_population: 40,
            nsga2_generations: 40,
            slit_generations: 25,
            perllm_days: 5,
            rl_days: 20,
            scalability_scenarios: ["geo-4dc", "geo-6dc", "geo-8dc", "geo-10dc", "geo-12dc"]
                .map(str::to_owned)
                .to_vec(),
            scalability_days: 1,
            scalability_seeds: 1,
            ablation_days: 1,
            ablation_seeds: 1,
        }
    }
}

/// The eight frameworks of the paper's comparison.
pub const FRAMEWORKS: [&str; 8] = [
    "helix",
    "splitwise",
    "nsga2",
    "perllm",
    "slit",
    "q-learning",
    "double-dqn",
    "actor-critic",
];
/// The sanity-check rules.
pub const RULES: [&str; 5] = [
    "round-robin",
    "lowest-carbon",
    "lowest-price",
    "nearest",
    "even",
];

/// The allocator called `name`, seeded for seed `k`.
fn allocator(
    name: &str,
    c: &CompareSection,
    seed: MasterSeed,
) -> Option<Box<dyn Allocator + Send>> {
    let s64 = seed.derive(&format!("compare.{name}"));
    Some(match name {
        "helix" => Box::new(Helix::default()),
        "splitwise" => Box::new(Splitwise::default()),
        "nsga2" => Box::new(Nsga2 {
            params: Nsga2Params {
                population: c.nsga2_population,
                generations: c.nsga2_generations,
                seed: s64,
                ..Nsga2Params::default()
            },
        }),
        "perllm" => Box::new(PerLlm {
            params: PerLlmParams {
                days: c.perllm_days,
                ..PerLlmParams::default()
            },
        }),
        "slit" => Box::new(Slit {
            params: SlitParams {
                generations: c.slit_generations,
                seed: s64,
                ..SlitParams::default()
            },
        }),
        "q-learning" => Box::new(QLearning {
            days: c.rl_days * 5,
            learning_rate: 0.1,
            gamma: 0.95,
            seed,
        }),
        "double-dqn" => Box::new(DoubleDqn {
            days: c.rl_days,
            hidden: 64,
            learning_rate: 1e-3,
            gamma: 0.95,
            batch: 64,
            target_every: 200,
            seed,
        }),
        "actor-critic" => Box::new(ActorCritic {
            days: c.rl_days,
            hidden: 64,
            learning_rate: 1e-3,
            gamma: 0.95,
            seed,
        }),
        "round-robin" => Box::new(RoundRobin),
        "lowest-carbon" => Box::new(Greedy(GreedyKey::Carbon)),
        "lowest-price" => Box::new(Greedy(GreedyKey::Price)),
        "nearest" => Box::new(Nearest),
        "even" => Box::new(Even),
        _ => return None,
    })
}

/// One method's result on one seed: its representative plan's objectives and all its points.
#[derive(Debug, Clone)]
struct Scored {
    method: String,
    /// `marlin` for every MARLIN scheme (their archive is one front), else the method.
    family: String,
    seed: u32,
    objectives: Objectives,
    points: Vec<[f64; 4]>,
}

/// Scores every framework for every seed (in parallel); deterministic ones run once.
fn run_frameworks(
    scenario: &Scenario,
    c: &CompareSection,
    master: u64,
    seeds: u32,
) -> anyhow::Result<Vec<Scored>> {
    let deterministic =
        |n: &str| matches!(n, "helix" | "splitwise" | "perllm") || RULES.contains(&n);
    let jobs: Vec<(String, u32)> = c
        .frameworks
        .iter()
        .flat_map(|n| {
            let k = if deterministic(n) { 1 } else { seeds };
            (0..k).map(move |s| (n.clone(), s))
        })
        .collect();
    let results: Vec<anyhow::Result<Scored>> = jobs
        .par_iter()
        .map(|(name, k)| {
            let mut a = allocator(name, c, run_seed(master, *k)).expect("checked above");
            let plans = a.allocate_front(scenario)?;
            let mut sim = FluidSimulator::new(scenario, SimParams::default());
            let scored: Vec<Objectives> = plans
                .iter()
                .map(|p| sim.score(p).map(|o| o.objectives()))
                .collect::<Result<_, _>>()?;
            Ok(Scored {
                method: name.clone(),
                family: name.clone(),
                seed: *k,
                objectives: scored[0],
                points: scored.iter().map(Objectives::compared).collect(),
            })
        })
        .collect();
    results.into_iter().collect()
}

fn marlin_scored(results: &[SchemeResult]) -> Vec<Scored> {
    results
        .iter()
        .map(|r| Scored {
            method: format!("marlin-{}", r.scheme.name()),
            family: "marlin".to_owned(),
            seed: r.seed,
            objectives: r.fluid,
            points: r
                .archive
                .iter()
                .map(|a| a.objectives)
                .chain(std::iter::once(r.fluid.compared()))
                .collect(),
        })
        .collect()
}

/// PHV of each (family, seed) with one reference point: the worst observed value of each
/// objective over every point of every family and seed.
fn phv_by_family(scored: &[Scored]) -> Vec<(String, u32, f64)> {
    let all: Vec<f64> = scored
        .iter()
        .flat_map(|s| s.points.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .collect();
    let reference = ReferencePoint::WorstObserved.resolve([all.as_slice()], 4);
    distinct(scored.iter().map(|s| (s.family.clone(), s.seed)))
        .into_iter()
        .map(|(family, seed)| {
            let points: Vec<f64> = scored
                .iter()
                .filter(|s| s.family == family && s.seed == seed)
                .flat_map(|s| s.points.iter())
                .filter(|p| p.iter().all(|v| v.is_finite()))
                .flatten()
                .copied()
                .collect();
            let v = if points.is_empty() {
                0.0
            } else {
                hypervolume(&points, 4, &reference)
            };
            (family, seed, v)
        })
        .collect()
}

/// `verdant marlin compare`.
pub(crate) fn compare(
    c: &Checked,
    compare: &CompareSection,
    config: &verdant::config::Layered,
    shared: &SharedArgs,
) -> anyhow::Result<()> {
    let scenario = Scenario::load(&resolve_scenario(&c.scenario)?, MasterSeed(c.seed))?;
    let device = c.torch.activate()?;
    let run = Run::start("marlin-compare", config, c.seed, shared)?.on_device(device);
    let (_, path) = within(run, |run| {
        let jobs = Jobs {
            master_seed: c.seed,
            schemes: &c.schemes,
            seeds: c.seeds,
            folder: "",
            resume: false,
        };
        let marlin = train_schemes(run, &jobs, &scenario, &c.marlin, device)?;
        let mut scored = marlin_scored(&marlin);
        scored.extend(run_frameworks(&scenario, compare, c.seed, c.seeds)?);
        let phv = phv_by_family(&scored);
        let dir = run.dir();
        let mut csv = String::from(
            "method,family,seed,ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,points\n",
        );
        for s in &scored {
            let o = &s.objectives;
            writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{}",
                s.method,
                s.family,
                s.seed,
                o.ttft_s,
                o.carbon_kg,
                o.water_l,
                o.cost_usd,
                o.energy_kwh,
                s.points.len()
            )?;
        }
        dir.write("compare.csv", csv.as_bytes())?;
        let mut phv_csv = String::from("family,seed,phv\n");
        for (f, s, v) in &phv {
            writeln!(phv_csv, "{f},{s},{v}")?;
        }
        dir.write("phv.csv", phv_csv.as_bytes())?;
        let methods = distinct(scored.iter().map(|s| s.method.clone()));
        let stat = |m: &str, f: fn(&Objectives) -> f64| {
            mean_ci(
                &scored
                    .iter()
                    .filter(|s| s.method == m)
                    .map(|s| f(&s.objectives))
                    .collect::<Vec<_>>(),
            )
        };
        let mut md = format!(
            "# MARLIN against eight frameworks on `{}`\n\nFluid simulator; mean ± 95% CI over {} seed(s) (deterministic methods run once). MARLIN: {} days, k_opt {}.\n\n| Method | TTFT (s) | Carbon (kg) | Water (L) | Energy cost (USD) | Energy (kWh) |\n|---|---|---|---|---|---|\n",
            scenario.name,
            c.seeds,
            c.marlin.params().days,
            c.marlin.params().k_opt
        );
        for m in &methods {
            writeln!(
                md,
                "| {m} | {} | {} | {} | {} | {} |",
                plus_minus(stat(m, |o| o.ttft_s), 3),
                plus_minus(stat(m, |o| o.carbon_kg), 0),
                plus_minus(stat(m, |o| o.water_l), 0),
                plus_minus(stat(m, |o| o.cost_usd), 0),
                plus_minus(stat(m, |o| o.energy_kwh), 0),
            )?;
        }
        md.push_str("\n## Pareto hypervolume (reference: worst observed value of each objective over all methods)\n\n| Family | points per seed | PHV |\n|---|---|---|\n");
        let fams = distinct(scored.iter().map(|s| s.family.clone()));
        let phv_of = |f: &str| {
            mean_ci(
                &phv.iter()
                    .filter(|p| p.0 == f)
                    .map(|p| p.2)
                    .collect::<Vec<_>>(),
            )
        };
        for f in &fams {
            let n: usize = scored
                .iter()
                .filter(|s| &s.family == f && s.seed == 0)
                .map(|s| s.points.len())
                .sum();
            let (m, h) = phv_of(f);
            writeln!(md, "| {f} | {n} | {m:.4e} ± {h:.1e} |")?;
        }
        // Headline claims: best MARLIN scheme per metric against the best framework per metric.
        md.push_str("\n## The paper's headline claims against what Verdant measures\n\n| Metric | paper: MARLIN better than the best baseline by | best MARLIN scheme | best framework | Verdant: MARLIN better by |\n|---|---|---|---|---|\n");
        // The paper's claimed improvements over the best baseline, percent, in METRICS order.
        const PAPER_PCT: [f64; 4] = [18.0, 33.0, 43.0, 11.0];
        let mut summary_claims = Vec::new();
        for ((label, f), paper) in METRICS.iter().copied().zip(PAPER_PCT) {
            let best = |filter: &dyn Fn(&Scored) -> bool| {
                methods
                    .iter()
                    .filter(|m| scored.iter().any(|s| &s.method == *m && filter(s)))
                    .map(|m| (m.clone(), stat(m, f).0))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
            };
            let marlin_best = best(&|s| s.family == "marlin");
            let framework_best = best(&|s| FRAMEWORKS.contains(&s.family.as_str()));
            if let (Some((mm, mv)), Some((fm, fv))) = (marlin_best, framework_best) {
                let gain = 100.0 * (fv - mv) / fv.abs().max(1e-12);
                writeln!(
                    md,
                    "| {label} | {paper:.0}% | {mm} ({mv:.4}) | {fm} ({fv:.4}) | {gain:+.1}% |"
                )?;
                summary_claims.push(serde_json::json!({"metric": label, "paper_pct": paper, "verdant_pct": gain, "marlin": mm, "framework": fm}));
            }
        }
        let marlin_phv = phv_of("marlin").0;
        let above = FRAMEWORKS
            .iter()
            .filter(|f| fams.iter().any(|g| g == *f))
            .all(|f| phv_of(f).0 < marlin_phv);
        writeln!(
            md,
            "| PHV | above every baseline | {marlin_phv:.4e} | | {} |",
            if above {
                "above every framework"
            } else {
                "NOT above every framework"
            }
        )?;
        writeln!(
            md,
            "\nSeeds: master seed {}, run seeds 0..{} (derived streams `marlin.seed.k`).",
            c.seed, c.seeds
        )?;
        dir.write("compare.md", md.as_bytes())?;
        // Figures like the paper's 3 and 4: metrics relative to the even split, and PHV.
        let even = FluidSimulator::new(&scenario, SimParams::default())
            .score(&Even.allocate(&scenario)?)?
            .objectives();
        let groups: Vec<BarGroup> = METRICS
            .iter()
            .map(|(label, f)| BarGroup {
                name: (*label).to_owned(),
                values: methods
                    .iter()
                    .map(|m| stat(m, *f).0 / f(&even).abs().max(1e-12))
                    .collect(),
            })
            .collect();
        bar_chart(
            dir.path(),
            "compare_metrics",
            &Chart {
                title: "Objectives relative to the even split (fluid, mean over seeds)",
                x_label: "method",
                y_label: "objective / even split",
            },
            &methods,
            &groups,
        )?;
        let max_phv = fams
            .iter()
            .map(|f| phv_of(f).0)
            .fold(0.0f64, f64::max)
            .max(1e-300);
        bar_chart(
            dir.path(),
            "compare_phv",
            &Chart {
                title: "Pareto hypervolume, normalised to the largest",
                x_label: "family",
                y_label: "PHV / max",
            },
            &fams,
            &[BarGroup {
                name: "PHV".into(),
                values: fams.iter().map(|f| phv_of(f).0 / max_phv).collect(),
            }],
        )?;
        print!("{md}");
        Ok(
            serde_json::json!({"claims": summary_claims, "phv_marlin": marlin_phv, "marlin_phv_above_all": above}),
        )
    })?;
    println!("{}", path.display());
    Ok(())
}

/// `verdant marlin scale`: PHV of every family from 4 to 12 datacenters.
pub(crate) fn scale(
    c: &Checked,
    compare: &CompareSection,
    config: &verdant::config::Layered,
    shared: &SharedArgs,
) -> anyhow::Result<()> {
    let device = c.torch.activate()?;
    let run = Run::start("marlin-scale", config, c.seed, shared)?.on_device(device);
    let settings = c.marlin.with_days(compare.scalability_days);
    let (_, path) = within(run, |run| {
        let mut rows: Vec<(String, usize, String, f64, f64)> = Vec::new();
        for name in &compare.scalability_scenarios {
            let scenario = Scenario::load(&resolve_scenario(name)?, MasterSeed(c.seed))?;
            let jobs = Jobs {
                master_seed: c.seed,
                schemes: &c.schemes,
                seeds: compare.scalability_seeds,
                folder: name,
                resume: false,
            };
            let marlin = train_schemes(run, &jobs, &scenario, &settings, device)?;
            let mut scored = marlin_scored(&marlin);
            scored.extend(run_frameworks(
                &scenario,
                compare,
                c.seed,
                compare.scalability_seeds,
            )?);
            let phv = phv_by_family(&scored);
            let fams = distinct(scored.iter().map(|s| s.family.clone()));
            let best = fams
                .iter()
                .map(|f| {
                    mean_ci(
                        &phv.iter()
                            .filter(|p| &p.0 == f)
                            .map(|p| p.2)
                            .collect::<Vec<_>>(),
                    )
                    .0
                })
                .fold(0.0f64, f64::max)
                .max(1e-300);
            for f in fams {
                let (m, h) = mean_ci(
                    &phv.iter()
                        .filter(|p| p.0 == f)
                        .map(|p| p.2)
                        .collect::<Vec<_>>(),
                );
                rows.push((
                    name.clone(),
                    scenario.datacenters.len(),
                    f,
                    m / best,
                    h / best,
                ));
            }
        }
        let mut csv = String::from("scenario,datacenters,family,normalised_phv,ci95\n");
        for r in &rows {
            writeln!(csv, "{},{},{},{},{}", r.0, r.1, r.2, r.3, r.4)?;
        }
        run.dir().write("scalability.csv", csv.as_bytes())?;
        let fams = distinct(rows.iter().map(|r| r.2.clone()));
        let series: Vec<Series> = fams
            .iter()
            .map(|f| Series {
                name: f.clone(),
                points: rows
                    .iter()
                    .filter(|r| &r.2 == f)
                    .map(|r| (r.1 as f64, r.3))
                    .collect(),
            })
            .collect();
        line_chart(
            run.dir().path(),
            "scalability",
            &Chart {
                title: "PHV by number of datacenters (normalised to the best at each size)",
                x_label: "datacenters",
                y_label: "PHV / best",
            },
            &series,
        )?;
        let mut md =
            String::from("# Scalability: normalised PHV by number of datacenters\n\n| Family |");
        let sizes: Vec<usize> = {
            let mut v: Vec<usize> = rows.iter().map(|r| r.1).collect();
            v.dedup();
            v
        };
        for n in &sizes {
            write!(md, " {n} DCs |")?;
        }
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(sizes.len()));
        md.push('\n');
        for f in &fams {
            write!(md, "| {f} |")?;
            for n in &sizes {
                let v = rows
                    .iter()
                    .find(|r| &r.2 == f && r.1 == *n)
                    .map_or(f64::NAN, |r| r.3);
                write!(md, " {v:.3} |")?;
            }
            md.push('\n');
        }
        run.dir().write("scalability.md", md.as_bytes())?;
        print!("{md}");
        Ok(serde_json::json!({"rows": rows.len()}))
    })?;
    println!("{}", path.display());
    Ok(())
}

/// `verdant marlin ablation`: MARLIN without each component, PHV normalised to the full model.
pub(crate) fn ablation(
    c: &Checked,
    compare: &CompareSection,
    config: &verdant::config::Layered,
    shared: &SharedArgs,
) -> anyhow::Result<()> {
    let scenario = Scenario::load(&resolve_scenario(&c.scenario)?, MasterSeed(c.seed))?;
    let device = c.torch.activate()?;
    let run = Run::start("marlin-ablation", config, c.seed, shared)?.on_device(device);
    let full = Components::default();
    let variants: Vec<(&str, Components)> = vec![
        ("full", full),
        (
            "no-veto",
            Components {
                veto: false,
                ..full
            },
        ),
        (
            "no-blending",
            Components {
                blending: false,
                ..full
            },
        ),
        (
            "no-film",
            Components {
                film: false,
                ..full
            },
        ),
        ("no-her", Components { her: false, ..full }),
        (
            "no-capital",
            Components {
                capital: false,
                ..full
            },
        ),
        (
            "no-predictor",
            Components {
                predictor: false,
                ..full
            },
        ),
    ];
    let (_, path) = within(run, |run| {
        let mut scored = Vec::new();
        for (name, comps) in &variants {
            let settings = c
                .marlin
                .with_days(compare.ablation_days)
                .with_components(*comps);
            let jobs = Jobs {
                master_seed: c.seed,
                schemes: &c.schemes,
                seeds: compare.ablation_seeds,
                folder: name,
                resume: false,
            };
            for mut s in marlin_scored(&train_schemes(run, &jobs, &scenario, &settings, device)?) {
                s.family = (*name).to_owned();
                scored.push(s);
            }
        }
        let phv = phv_by_family(&scored);
        let of = |f: &str| {
            mean_ci(
                &phv.iter()
                    .filter(|p| p.0 == f)
                    .map(|p| p.2)
                    .collect::<Vec<_>>(),
            )
        };
        let base = of("full").0.max(1e-300);
        let mut md = String::from("# Ablation: PHV of MARLIN without each component, over the full model's\n\n| Variant | normalised PHV |\n|---|---|\n");
        let mut csv = String::from("variant,normalised_phv,ci95\n");
        for (name, _) in &variants {
            let (m, h) = of(name);
            writeln!(md, "| {name} | {:.3} ± {:.3} |", m / base, h / base)?;
            writeln!(csv, "{name},{},{}", m / base, h / base)?;
        }
        run.dir().write("ablation.md", md.as_bytes())?;
        run.dir().write("ablation.csv", csv.as_bytes())?;
        let names: Vec<String> = variants.iter().map(|v| v.0.to_owned()).collect();
        bar_chart(
            run.dir().path(),
            "ablation",
            &Chart {
                title: "Ablation: normalised PHV (full MARLIN = 1)",
                x_label: "variant",
                y_label: "PHV / full",
            },
            &names,
            &[BarGroup {
                name: "PHV".into(),
                values: variants.iter().map(|(n, _)| of(n).0 / base).collect(),
            }],
        )?;
        print!("{md}");
        Ok(serde_json::json!({"variants": names}))
    })?;
    println!("{}", path.display());
    Ok(())
}
