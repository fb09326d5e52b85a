//! `verdant marlin compare|scale|ablation`: MARLIN beside the eight frameworks of its section 6
//! and simple rules (compare), across 4 to 12 datacenters (scale), and without each of its
//! components (ablation). The frameworks and rules come from the method registry
//! (`[compare] frameworks`, settings in `[methods.<name>]`); every plan is scored by the fluid
//! simulator; fronts are compared by exact hypervolume with the reference point at the worst
//! observed value per objective.

use std::fmt::Write as _;

use rayon::prelude::*;
use verdant::allocator::rules::Even;
use verdant::allocator::{Allocator, Problem};
use verdant::config::Layered;
use verdant::sim::{Objective, ObjectiveVector, Objectives, SimParams};
use verdant_agents::marlin::{Components, MarlinSettings};

use crate::cli::{MarlinAction, SharedArgs};
use crate::indicators::phv_by_family;
use crate::methods::{self, Kind};
use crate::plots::{bar_chart, line_chart, BarGroup, Chart, Series};
use crate::run::{configure, within, Days, Run};
use crate::scoring::Scored;
use crate::stats::{distinct, mean_ci, plus_minus};
use crate::training::marlin::{
    run_seed, train_schemes, Jobs, MarlinChecked, MarlinDoc, TrainedScheme, DEFAULTS,
};

/// One method's result on one seed: its representative plan's objectives and all its points.
#[derive(Debug, Clone)]
struct MethodResult {
    method: String,
    /// `marlin` for every MARLIN scheme (their archive is one front), else the method.
    family: String,
    seed: u32,
    objectives: Objectives,
    points: Vec<ObjectiveVector>,
}

/// The results of one method's scored plans (its representative plan's objectives, every
/// plan's point).
fn result_of(method: &str, family: &str, seed: u32, scored: &Scored) -> MethodResult {
    let representative = scored
        .points
        .iter()
        .find(|p| p.representative)
        .expect("every method marks a representative plan");
    MethodResult {
        method: method.to_owned(),
        family: family.to_owned(),
        seed,
        objectives: representative.fluid,
        points: scored.points.iter().map(|p| p.fluid.compared()).collect(),
    }
}

/// Runs every configured framework and rule of the registry for every seed (in parallel);
/// deterministic ones run once. The learning frameworks train with as many environment steps as
/// MARLIN under `marlin` (the one budget rule, [`MethodsChecked::with_marlin_budget`]).
fn run_frameworks(
    problem: &Problem,
    c: &MarlinChecked,
    marlin: &MarlinSettings,
    seeds: u32,
) -> anyhow::Result<Vec<MethodResult>> {
    let p = marlin.params();
    let methods = c.methods.with_marlin_budget(p.days, p.k_opt);
    let jobs: Vec<(String, u32)> = c
        .compare
        .frameworks
        .iter()
        .flat_map(|n| {
            let deterministic = methods::method(n).is_some_and(|m| m.deterministic);
            let k = if deterministic { 1 } else { seeds };
            (0..k).map(move |s| (n.clone(), s))
        })
        .collect();
    let results: Vec<anyhow::Result<MethodResult>> = jobs
        .par_iter()
        .map(|(name, k)| {
            let mut a = methods::build(name, &methods, run_seed(c.seed, *k))
                .expect("checked against the registry");
            let mut scored = Scored::default();
            scored.allocate(problem, name, *k, a.as_mut())?;
            Ok(result_of(name, name, *k, &scored))
        })
        .collect();
    results.into_iter().collect()
}

/// MARLIN's trained schemes: the consensus plan (representative) and the archive, scored.
fn marlin_results(
    problem: &Problem,
    trained: Vec<TrainedScheme>,
) -> anyhow::Result<Vec<MethodResult>> {
    trained
        .into_iter()
        .map(|mut t| {
            let name = t.policy.name().to_owned();
            let mut scored = Scored::default();
            scored.allocate(problem, &name, t.seed, &mut t.policy)?;
            Ok(result_of(&name, "marlin", t.seed, &scored))
        })
        .collect()
}

/// PHV of each (family, seed) with one reference point over every point.
fn phv_of_results(results: &[MethodResult]) -> Vec<(String, u32, f64)> {
    let points: Vec<(String, u32, ObjectiveVector)> = results
        .iter()
        .flat_map(|r| r.points.iter().map(|p| (r.family.clone(), r.seed, *p)))
        .collect();
    phv_by_family(&points)
}

/// `verdant marlin compare|scale|ablation`.
pub fn run(action: &MarlinAction, shared: &SharedArgs) -> anyhow::Result<()> {
    let name = match action {
        MarlinAction::Compare => "marlin-compare",
        MarlinAction::Scale => "marlin-scale",
        MarlinAction::Ablation => "marlin-ablation",
        _ => unreachable!("main dispatches only compare, scale and ablation here"),
    };
    let Some((config, c)) = configure::<MarlinDoc>(DEFAULTS, name, shared)? else {
        return Ok(());
    };
    match action {
        MarlinAction::Compare => compare(&c, &config, shared),
        MarlinAction::Scale => scale(&c, &config, shared),
        _ => ablation(&c, &config, shared),
    }
}

/// `verdant marlin compare`.
fn compare(c: &MarlinChecked, config: &Layered, shared: &SharedArgs) -> anyhow::Result<()> {
    let days = Days::load(&c.scenario, c.seed)?;
    let (training, problem) = days.problems(SimParams::default())?;
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
        let marlin = train_schemes(run, &jobs, &training, &c.marlin, device)?;
        let mut scored = marlin_results(&problem, marlin)?;
        scored.extend(run_frameworks(&problem, c, &c.marlin, c.seeds)?);
        let phv = phv_of_results(&scored);
        let frameworks = methods::names(Kind::Framework);
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
        let stat = |m: &str, f: &dyn Fn(&Objectives) -> f64| {
            mean_ci(
                &scored
                    .iter()
                    .filter(|s| s.method == m)
                    .map(|s| f(&s.objectives))
                    .collect::<Vec<_>>(),
            )
        };
        let mut md = format!(
            "# MARLIN against eight frameworks on `{}`\n\n{} Q-learning, Double DQN and Actor-Critic learn on the training days and act greedily on the scored ones; PerLLM-style's bandit learns on the training days and keeps learning online through the scored ones; the searches (NSGA-II, SLIT-style) optimise on the scored days themselves, with hindsight, as the exact front does.\n\nFluid simulator; mean ± 95% CI over {} seed(s) (deterministic methods run once). MARLIN: {} days, k_opt {}.\n\n| Method | TTFT (s) | Carbon (kg) | Water (L) | Energy cost (USD) | Energy (kWh) |\n|---|---|---|---|---|---|\n",
            problem.scenario.name,
            days.note(),
            c.seeds,
            c.marlin.params().days,
            c.marlin.params().k_opt
        );
        for m in &methods {
            writeln!(
                md,
                "| {m} | {} | {} | {} | {} | {} |",
                plus_minus(stat(m, &|o| o.ttft_s), 3),
                plus_minus(stat(m, &|o| o.carbon_kg), 0),
                plus_minus(stat(m, &|o| o.water_l), 0),
                plus_minus(stat(m, &|o| o.cost_usd), 0),
                plus_minus(stat(m, &|o| o.energy_kwh), 0),
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
        // The paper's claimed improvements over the best baseline, percent, in Objective::ALL order.
        const PAPER_PCT: [f64; 4] = [18.0, 33.0, 43.0, 11.0];
        let mut summary_claims = Vec::new();
        for (objective, paper) in Objective::ALL.into_iter().zip(PAPER_PCT) {
            let label = objective.label();
            let f = |o: &Objectives| o.get(objective);
            let best = |filter: &dyn Fn(&MethodResult) -> bool| {
                methods
                    .iter()
                    .filter(|m| scored.iter().any(|s| &s.method == *m && filter(s)))
                    .map(|m| (m.clone(), stat(m, &f).0))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
            };
            let marlin_best = best(&|s| s.family == "marlin");
            let framework_best = best(&|s| frameworks.contains(&s.family.as_str()));
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
        let above = frameworks
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
        let even = problem
            .fluid()
            .score(&Even.allocate(&problem)?)?
            .objectives();
        let groups: Vec<BarGroup> = Objective::ALL
            .iter()
            .map(|&objective| BarGroup {
                name: objective.label().to_owned(),
                values: methods
                    .iter()
                    .map(|m| {
                        stat(m, &|o| o.get(objective)).0 / even.get(objective).abs().max(1e-12)
                    })
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
fn scale(c: &MarlinChecked, config: &Layered, shared: &SharedArgs) -> anyhow::Result<()> {
    let device = c.torch.activate()?;
    let run = Run::start("marlin-scale", config, c.seed, shared)?.on_device(device);
    let settings = c.marlin.with_days(c.compare.scalability_days);
    let (_, path) = within(run, |run| {
        let mut rows: Vec<(String, usize, String, f64, f64)> = Vec::new();
        for name in &c.compare.scalability_scenarios {
            let days = Days::load(name, c.seed)?;
            let (training, problem) = days.problems(SimParams::default())?;
            let jobs = Jobs {
                master_seed: c.seed,
                schemes: &c.schemes,
                seeds: c.compare.scalability_seeds,
                folder: name,
                resume: false,
            };
            let marlin = train_schemes(run, &jobs, &training, &settings, device)?;
            let mut scored = marlin_results(&problem, marlin)?;
            scored.extend(run_frameworks(
                &problem,
                c,
                &settings,
                c.compare.scalability_seeds,
            )?);
            let phv = phv_of_results(&scored);
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
                    problem.scenario.datacenters.len(),
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
        let series = Series::by_name(&fams, &rows, |r| &r.2, |r| Some((r.1 as f64, r.3)));
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
fn ablation(c: &MarlinChecked, config: &Layered, shared: &SharedArgs) -> anyhow::Result<()> {
    let days = Days::load(&c.scenario, c.seed)?;
    let (training, problem) = days.problems(SimParams::default())?;
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
                .with_days(c.compare.ablation_days)
                .with_components(*comps);
            let jobs = Jobs {
                master_seed: c.seed,
                schemes: &c.schemes,
                seeds: c.compare.ablation_seeds,
                folder: name,
                resume: false,
            };
            let trained = train_schemes(run, &jobs, &training, &settings, device)?;
            for mut s in marlin_results(&problem, trained)? {
                s.family = (*name).to_owned();
                scored.push(s);
            }
        }
        let phv = phv_of_results(&scored);
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
