//! `verdant compare`: the provably optimal allocation beside the learned ones on one world and one
//! simulator, and `verdant report`, which merges the indicators of several compare runs.
//!
//! On a geo scenario (geo-8dc by default) every method of `[compare] methods` (from the method
//! registry: the exact reference front, Green-LLM where the scenario has its terms, MARLIN's
//! schemes, the load balancer in geo mode, the rules) gives its plans; one loop scores every plan
//! with the fluid simulator (and all but MARLIN's training archive with the discrete-event one).
//! Fronts are compared by PHV with one reference point (the worst observed value per objective),
//! the PHV ratio to the exact front's, and each method's gap per objective to the best the exact
//! front reaches.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use verdant::allocator::{Allocator, Problem};
use verdant::scenario::Scenario;
use verdant::sim::{FractionPlan, Objective};
use verdant_agents::marlin::EpochLog;
use verdant_solvers::bound::{simulated_objectives, BOUND_OBJECTIVES};
use verdant_solvers::methods::ExactFront;
use verdant_solvers::SolveStatus;

use crate::certify::{self, Certification, Coverage, Stop};
use crate::cli::SharedArgs;
use crate::comparison::{defaults, scoring_sim, CompareChecked, CompareDoc};
use crate::indicators;
use crate::methods::{self, Build};
use crate::plots::{bar_chart, line_chart, projection_chart, Axis, BarGroup, Chart, Series};
use crate::reports::{objective_fields, OBJECTIVE_COLUMNS};
use crate::run::{configure, configure_from_run, within_parts, Days, Parts, Run};
use crate::scoring::{has_nodes, Point, Scored};
use crate::stats::{distinct, mean_ci};
use crate::training::lb as lb_training;
use crate::training::marlin::{self as marlin_training, Jobs};

pub fn run(full: bool, resume: Option<&Path>, shared: &SharedArgs) -> anyhow::Result<()> {
    let (config, c) = match resume {
        Some(dir) => configure_from_run::<CompareDoc>(dir, "compare")?,
        None => {
            let defaults = defaults(full)?;
            match configure::<CompareDoc>(&defaults, "compare", shared)? {
                Some(resolved) => resolved,
                None => return Ok(()),
            }
        }
    };
    if c.learn.is_some() {
        bail!("learn: a section of verdant learn, not of verdant compare");
    }
    let seed = c.marlin.seed;
    let days = Days::load(&c.marlin.scenario, seed)?;
    let sim = scoring_sim();
    // Every method allocates and is scored on the scoring days; learned methods train on the
    // training days (the same days where the scenario names no split).
    let (training, problem) = days.problems(sim)?;
    let device = c.marlin.torch.activate()?;
    let mut run = match resume {
        Some(dir) => Run::reopen(dir, shared)?,
        None => Run::start("compare", &config, seed, shared)?,
    }
    .on_device(device);
    run.manifest_mut().solver = serde_json::to_value(&c.marlin.methods.exact.solver)?;
    let problems = Problems {
        training: &training,
        scoring: &problem,
        days: &days,
    };
    let resume = resume.is_some();
    let (_, path) = within_parts(run, |run| compare(run, &c, &problems, device, resume))?;
    print!("{}", std::fs::read_to_string(path.join("report.md"))?);
    println!("{}", path.display());
    Ok(())
}

/// The plans of MARLIN's training archive (its per-day plans): scored by the fluid simulator
/// only.
fn training_archive(p: &Point) -> bool {
    p.method.starts_with("marlin-") && !p.representative
}

/// What learned methods train on and what every method is scored on.
struct Problems<'p> {
    training: &'p Problem<'p>,
    scoring: &'p Problem<'p>,
    days: &'p Days,
}

fn compare(
    run: &mut Run,
    c: &CompareChecked,
    problems: &Problems,
    device: tch::Device,
    resume: bool,
) -> anyhow::Result<Parts<serde_json::Value>> {
    let problem = problems.scoring;
    let bar = run.progress(c.methods.len() as u64, "methods");
    let mut scored = Scored::default();
    let mut notes: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut exact_s = 0.0;
    for name in &c.methods {
        let started = std::time::Instant::now();
        let (first_point, first_note) = (scored.points.len(), notes.len());
        let record = run.dir().file(&format!("{METHODS_FOLDER}/{name}.json"));
        let result = if resume && record.is_file() {
            // Finished before the run was interrupted: its plans are read back and scored
            // again (the same numbers: scoring is deterministic).
            MethodRecord::read(&record)
                .and_then(|r| r.restore(problem, &mut scored, &mut notes))
                .map(|seconds| {
                    if name == "exact" {
                        exact_s = seconds;
                    }
                })
        } else {
            run_method(run, c, problems, device, name, &mut scored, &mut notes).and_then(|()| {
                let seconds = started.elapsed().as_secs_f64();
                if name == "exact" {
                    exact_s = seconds;
                }
                MethodRecord::of(&scored, first_point, &notes[first_note..], seconds).write(&record)
            })
        };
        if name == "exact" {
            // Every indicator is relative to the exact front: without it there is no report.
            result.context("the exact front")?;
            notes.push(format!(
                "exact: {} ({} plans)",
                ExactFront::model_name(problem.scenario),
                scored.points.iter().filter(|p| p.method == "exact").count()
            ));
        } else if let Err(e) = result {
            notes.push(format!("{name}: not run: {e:#}"));
            // A method made for other worlds is a note; one that failed makes the run partial.
            let not_applicable = e.chain().any(|cause| {
                matches!(
                    cause.downcast_ref::<verdant::allocator::AllocError>(),
                    Some(verdant::allocator::AllocError::NotApplicable { .. })
                )
            });
            if !not_applicable {
                failed.push(format!("{name}: {e:#}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let certification = match c
        .marlin
        .methods
        .exact
        .certify(problem, &mut scored, "exact")
    {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            notes.push(format!("certification: not done: {e:#}"));
            failed.push(format!("certification: {e:#}"));
            None
        }
        None => None,
    };
    if c.marlin.discrete_event {
        if has_nodes(problem) {
            scored.discrete_event(problem, c.marlin.seed, |p| !training_archive(p))?;
        } else {
            notes.push("discrete-event: the scenario has no node pools; fluid scores only".into());
        }
    }
    let front: Vec<(String, FractionPlan)> = (0..scored.points.len())
        .filter(|&i| scored.points[i].method == "exact")
        .map(|i| (scored.points[i].source.clone(), scored.plan(i).clone()))
        .collect();
    let exact = ExactSummary {
        seconds: exact_s,
        min_carbon: front
            .iter()
            .find(|(source, _)| source == "min-carbon")
            .map(|(_, plan)| plan.clone()),
        front,
        certification,
    };
    let summary = write_outputs(run, c, problems.days, &scored.points, &exact, &notes)?;
    Ok(Parts { summary, failed })
}

/// The folder of a compare run where each method's plans are kept as it finishes
/// (`methods/<name>.json`), so that `--resume` runs only the methods that had not.
const METHODS_FOLDER: &str = "methods";

/// What one method of a comparison gave: its plans (each with its method, seed, source and
/// whether it represents the method), the notes it added, and its wall time.
#[derive(serde::Serialize, serde::Deserialize)]
struct MethodRecord {
    seconds: f64,
    notes: Vec<String>,
    plans: Vec<RecordedPlan>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RecordedPlan {
    method: String,
    seed: u32,
    source: String,
    representative: bool,
    shape: [usize; 4],
    shares: Vec<f64>,
}

impl MethodRecord {
    /// The plans of `scored` from point `first` on, with `notes`.
    fn of(scored: &Scored, first: usize, notes: &[String], seconds: f64) -> MethodRecord {
        let plans = (first..scored.points.len())
            .map(|i| {
                let p = &scored.points[i];
                let plan = scored.plan(i);
                RecordedPlan {
                    method: p.method.clone(),
                    seed: p.seed,
                    source: p.source.clone(),
                    representative: p.representative,
                    shape: plan.shape(),
                    shares: plan.shares().to_vec(),
                }
            })
            .collect();
        MethodRecord {
            seconds,
            notes: notes.to_vec(),
            plans,
        }
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        verdant::run::write_atomic(path, &serde_json::to_vec(self)?)?;
        Ok(())
    }

    fn read(path: &Path) -> anyhow::Result<MethodRecord> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a method record", path.display()))
    }

    /// Scores the recorded plans into `scored` (each method and seed's plans together, in
    /// their order) and adds the notes; returns the recorded wall time.
    fn restore(
        self,
        problem: &Problem,
        scored: &mut Scored,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<f64> {
        let mut plans = self.plans.into_iter().peekable();
        while let Some(first) = plans.next() {
            let (method, seed) = (first.method.clone(), first.seed);
            let mut group = vec![first];
            while let Some(next) = plans.next_if(|p| p.method == method && p.seed == seed) {
                group.push(next);
            }
            let proposals = group
                .into_iter()
                .map(|p| {
                    let [e, o, c, d] = p.shape;
                    Ok(verdant::allocator::Proposal {
                        source: p.source,
                        plan: FractionPlan::new(e, o, c, d, p.shares)?,
                        representative: p.representative,
                    })
                })
                .collect::<Result<Vec<_>, verdant::sim::PlanError>>()?;
            scored.add(problem, &method, seed, proposals)?;
        }
        notes.extend(self.notes);
        Ok(self.seconds)
    }
}

/// Runs one method of the registry and scores its plans: methods built from config allocate
/// straight away; MARLIN and the load balancer train first, then their trained policies allocate.
fn run_method(
    run: &Run,
    c: &CompareChecked,
    problems: &Problems,
    device: tch::Device,
    name: &str,
    scored: &mut Scored,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let problem = problems.scoring;
    verdant::run::injected_failure("method", name).map_err(anyhow::Error::msg)?;
    let method = methods::method(name).expect("checked against the registry");
    match (method.build, name) {
        (Build::Allocator(make), _) => {
            let seeds = if method.deterministic {
                1
            } else {
                c.marlin.seeds
            };
            // The one budget rule: learning frameworks get MARLIN's environment steps.
            let p = c.marlin.marlin.params();
            let methods = c.marlin.methods.with_marlin_budget(p.days, p.k_opt);
            for k in 0..seeds {
                let seed = marlin_training::run_seed(c.marlin.seed, k);
                let mut allocator = make(&methods, seed);
                scored.allocate(problem, name, k, allocator.as_mut())?;
            }
        }
        (Build::Trained, "marlin") => {
            let jobs = Jobs {
                master_seed: c.marlin.seed,
                schemes: &c.marlin.schemes,
                seeds: c.marlin.seeds,
                folder: "marlin",
                // A resumed comparison continues MARLIN from its checkpoints.
                resume: true,
            };
            let trained = marlin_training::train_schemes(
                run,
                &jobs,
                problems.training,
                &c.marlin.marlin,
                device,
            )?;
            // How far the training went (issue 21: nothing shows it converged yet).
            let p = c.marlin.marlin.params();
            let last: Vec<&EpochLog> = trained.iter().filter_map(|t| t.policy.log.last()).collect();
            // The range over the schemes' agents (one value where they agree).
            let range = |v: Vec<f64>, scale: f64| {
                let (lo, hi) = v
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                        (a.min(x), b.max(x))
                    });
                let (lo, hi) = (scale * lo, scale * hi);
                if lo.round() == hi.round() {
                    format!("{lo:.0}")
                } else {
                    format!("{lo:.0}-{hi:.0}")
                }
            };
            let updates = range(
                last.iter()
                    .flat_map(|l| l.updates.map(|u| u as f64))
                    .collect(),
                1.0,
            );
            let fill = range(
                last.iter()
                    .flat_map(|l| l.replay.map(|r| r[1] as f64 / p.replay_cross as f64))
                    .collect(),
                100.0,
            );
            let epochs = problems.training.scenario.time.epochs;
            notes.push(format!(
                "marlin: trained {} day(s) of {epochs} epochs at k_opt {}: {} environment steps (4 agents x k_opt explored plans per epoch; the learning frameworks get as many, one per epoch), {updates} SAC updates per agent, cross-epoch buffers at {fill}% of their {} transitions; how far this budget is from where the learning curves flatten is measured by `verdant learn`, which trains every learned method from 1 to 16 passes (the committed study, results/learn-geo-8dc-2d, README 'Learning curves'); `--set marlin.days=N` trains longer",
                p.days,
                p.k_opt,
                p.days * epochs * 4 * p.k_opt,
                p.replay_cross
            ));
            for mut t in trained {
                let name = t.policy.name().to_owned();
                scored.allocate(problem, &name, t.seed, &mut t.policy)?;
            }
        }
        (Build::Trained, "lb") => {
            // The load balancer in geo mode: its agents and the strongest baseline.
            let geo = lb_training::train_geo(run, &c.lb, problems.days, device, true)?;
            let steps = c.lb.agent.params().total_steps;
            notes.push(format!(
                "lb: the agents trained {steps} environment steps of their own environment ({:.1} passes over the {} drawn training requests: requests routed, not epochs planned, so not on MARLIN's budget scale; `--set agent.total_steps=N` trains longer); their learning curves are `verdant learn`'s (results/learn-geo-8dc-2d)",
                steps as f64 / geo.training_requests as f64,
                geo.training_requests
            ));
            for (seed, mut router) in geo.routers(|b| b == "shortest-expected-delay") {
                let name = format!("lb-{}", router.name());
                scored.allocate(problem, &name, seed, &mut router)?;
            }
        }
        (Build::Trained, other) => bail!("{other}: the registry lists no training for it"),
    }
    Ok(())
}

/// What the report says of the exact front.
struct ExactSummary {
    seconds: f64,
    /// Its min-carbon plan, for the routing plot.
    min_carbon: Option<FractionPlan>,
    /// Every plan of the front with what it is (`plans/exact-<source>.csv`).
    front: Vec<(String, FractionPlan)>,
    /// What the bound model certifies (none where `methods.exact.certify` is off or it failed).
    certification: Option<Certification>,
}

fn write_outputs(
    run: &Run,
    c: &CompareChecked,
    days: &Days,
    points: &[Point],
    exact: &ExactSummary,
    notes: &[String],
) -> anyhow::Result<serde_json::Value> {
    let scenario = &days.scoring;
    let (exact_count, exact_s) = (exact.front.len(), exact.seconds);
    let dir = run.dir();
    let certification = exact.certification.as_ref();
    let mut fronts = format!(
        "method,seed,source,representative,fidelity,{OBJECTIVE_COLUMNS},bound_coverage,{}\n",
        BOUND_OBJECTIVES.map(|o| format!("bound_{o}")).join(",")
    );
    for (i, p) in points.iter().enumerate() {
        // The bound model's bounds of an exact plan, beside its fluid scores.
        let bounds = match certification.and_then(|c| c.coverage(i)) {
            Some(cov @ Coverage::Bounded { bounds, .. }) => format!(
                "{},{}",
                cov.label(),
                // A solve stopped before HiGHS had a bound: the column is empty.
                bounds
                    .lower
                    .map(|v| if v.is_finite() {
                        v.to_string()
                    } else {
                        String::new()
                    })
                    .join(",")
            ),
            Some(other) => format!("{},,,,,", other.label()),
            None => ",,,,,".to_owned(),
        };
        for (fidelity, o) in [
            ("fluid", Some(&p.fluid)),
            ("discrete-event", p.discrete_event.as_ref()),
        ] {
            if let Some(o) = o {
                writeln!(
                    fronts,
                    "{},{},{},{},{fidelity},{},{}",
                    p.method,
                    p.seed,
                    p.source,
                    p.representative,
                    objective_fields(o),
                    if fidelity == "fluid" {
                        &bounds
                    } else {
                        ",,,,,"
                    }
                )?;
            }
        }
    }
    dir.write("fronts.csv", fronts.as_bytes())?;
    write_plans(dir, scenario, &exact.front)?;
    let outer = certification.map(|c| move |reference: &[f64]| c.outer_phv(reference));
    let ind = indicators::indicators(
        points,
        "exact",
        Some(scenario.ttft_slo_s),
        outer.as_ref().map(|f| f as indicators::OuterPhv),
    );
    let csv = indicators::to_csv(&ind);
    dir.write("indicators.csv", csv.as_bytes())?;
    let md = indicators::table(&indicators::parse(&csv, "indicators.csv")?);
    let mut report = format!(
        "# Optimal versus learned on `{}`\n\n{}\n\nEvery plan scored by the fluid simulator; the exact front has {} plans ({:.1} s for {}; {}). PHV reference: the worst observed value of each objective over all plans, TTFT's at the scenario's service level ({} s: a plan whose mean TTFT is beyond it adds no volume). Gap: a method's best value of an objective over its plans, relative to the best on the exact front (TTFT over every plan, the others over the plans within the service level; n/a: the method has none). Seeds: master {}, {} run seed(s).\n\n{md}",
        scenario.name,
        days.note(),
        exact_count,
        exact_s,
        ExactFront::model_name(scenario),
        if exact.certification.is_some() {
            "the bound model's plans and what it certifies: see Certification"
        } else {
            "not certified: `methods.exact.certify` is off or failed (Notes)"
        },
        scenario.ttft_slo_s,
        c.marlin.seed,
        c.marlin.seeds
    );
    report.push_str("\n## Representative plans, both fidelities (every plan's scores are in fronts.csv)\n\n| Method | seed | fluid TTFT (s) | carbon (kg) | water (L) | cost (USD) | discrete-event TTFT (s) | carbon (kg) |\n|---|---|---|---|---|---|---|---|\n");
    for p in points.iter().filter(|p| p.representative) {
        let (dt, dc) = p
            .discrete_event
            .map_or(("-".to_owned(), "-".to_owned()), |o| {
                (format!("{:.3}", o.ttft_s), format!("{:.0}", o.carbon_kg))
            });
        writeln!(
            report,
            "| {} | {} | {:.3} | {:.0} | {:.0} | {:.0} | {dt} | {dc} |",
            p.method, p.seed, p.fluid.ttft_s, p.fluid.carbon_kg, p.fluid.water_l, p.fluid.cost_usd
        )?;
    }
    if let Some(c) = certification {
        certification_section(&mut report, c, points, &ind)?;
        let mut csv = String::from("objective,front_bound,status\n");
        for o in Objective::ALL {
            writeln!(
                csv,
                "{},{},{:?}",
                o.column(),
                c.least[o.index()],
                c.least_status[o.index()]
            )?;
        }
        dir.write("certification.csv", csv.as_bytes())?;
    }
    if !notes.is_empty() {
        report.push_str("\n## Notes\n\n");
        for n in notes {
            writeln!(report, "- {n}")?;
        }
    }
    dir.write("report.md", report.as_bytes())?;
    plots(
        dir.path(),
        scenario,
        points,
        &ind,
        exact.min_carbon.as_ref(),
    )?;
    Ok(serde_json::json!({
        "scenario": scenario.name,
        "trained_on": days.training().name,
        "held_out": days.held_out(),
        "exact_plans": exact_count,
        "notes": notes,
        "exact_build_and_solve_s": exact_s,
        "points": points.len(),
    }))
}

/// Each plan of the exact front as `plans/exact-<source>.csv`: one row per (epoch, origin,
/// class) with its shares over the datacenters, every digit kept (to score or bound a plan
/// again, e.g. with `solvers/examples/bound_anchors.rs`).
fn write_plans(
    dir: &verdant::run::RunDir,
    scenario: &Scenario,
    plans: &[(String, FractionPlan)],
) -> anyhow::Result<()> {
    let folder = dir.file("plans");
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("create directory {}", folder.display()))?;
    for (source, plan) in plans {
        let csv = verdant::sim::plan_csv(plan, scenario);
        dir.write(&format!("plans/exact-{source}.csv"), csv.as_bytes())?;
    }
    Ok(())
}

/// The report's account of what the bound model certifies: the front's bound per objective
/// beside the front's best, every front plan's gap to its bound, the plans of any method below
/// the front's bound, and the optimal PHV's interval.
fn certification_section(
    report: &mut String,
    c: &Certification,
    points: &[Point],
    ind: &[indicators::Row],
) -> anyhow::Result<()> {
    let pct = |g: f64| format!("{:.2}%", 100.0 * g);
    let covered = c
        .plans
        .iter()
        .filter(|(_, cov)| matches!(cov, Coverage::Bounded { .. }))
        .count();
    writeln!(
        report,
        "\n## Certification (the bound model, decision 0010)\n\nThe front's bound is each objective's least value over every plan the bound model covers (its LP relaxation over plans, proven by HiGHS): no covered plan of any method can score below it. The model covers {covered} of the exact front's {} plans; the others have no bound: they spill requests between GPU kinds (spills), use a datacenter without the class's model (unhosted), or have no schedule in the model (no-schedule: HiGHS found the model infeasible at the plan, which the simulator's own schedule should rule out; a defect of the model to report, decision 0010), or were not reached within the plans' budget (out-of-time). {:.1} s for the solves over plans ({:.1} s for the four least values, side by side; {} refinement steps; stopped: {}), {:.1} s for the plans' bounds (budget `methods.exact.certify_plans_budget_s`).\n\n| Objective | front's bound | status | front's best (simulated) | gap |\n|---|---|---|---|---|",
        c.plans.len(),
        c.front_s,
        c.anchors_s,
        c.steps,
        match c.stop {
            Stop::Converged => format!(
                "a round over every TTFT cap changed the front's PHV by less than {}",
                pct(certify::CONVERGED)
            ),
            Stop::Budget => "the time budget (`methods.exact.certify_front_budget_s`) was spent".to_owned(),
            Stop::Exhausted => "every candidate weight vector was solved".to_owned(),
        },
        c.plans_s
    )?;
    let exact_points: Vec<&Point> = c.plans.iter().map(|(i, _)| &points[*i]).collect();
    for o in Objective::ALL {
        let least = c.least[o.index()];
        let best = exact_points
            .iter()
            .map(|p| p.fluid.get(o))
            .fold(f64::INFINITY, f64::min);
        writeln!(
            report,
            "| {} | {least:.6} | {:?} | {best:.6} | {} |",
            o.label(),
            c.least_status[o.index()],
            pct(certify::gap(best, least))
        )?;
    }
    report.push_str("\nEvery plan of the exact front: the simulated value's gap above the model's bound at that plan (the least over the schedules the plan allows; `time limit`: HiGHS stopped at `methods.exact.certify_plan_time_limit_s` with a proven, looser bound).\n\n| Plan | TTFT | carbon | water | energy cost | energy |\n|---|---|---|---|---|---|\n");
    let mut beyond = Vec::new();
    for (i, cov) in &c.plans {
        let p = &points[*i];
        let simulated = simulated_objectives(&p.fluid);
        let cells: Vec<String> = match cov {
            Coverage::Bounded { bounds, carries } => {
                // The objectives (index, gap) beyond their tolerance.
                let mut over = Vec::new();
                let cells = (0..5)
                    .map(|k| match bounds.lower[k] {
                        b if !b.is_finite() => "no bound in time".to_owned(),
                        b => {
                            let gap = certify::gap(simulated[k], b);
                            if gap > certify::TOLERANCE[k] {
                                over.push((k, gap));
                            }
                            if bounds.status[k] == SolveStatus::TimeLimit {
                                format!("{} (time limit)", pct(gap))
                            } else {
                                pct(gap)
                            }
                        }
                    })
                    .collect();
                if !over.is_empty() {
                    beyond.push((p.source.clone(), over, *carries, bounds.status));
                }
                cells
            }
            other => vec![format!("not covered ({})", other.label()); 5],
        };
        writeln!(report, "| {} | {} |", p.source, cells.join(" | "))?;
    }
    if beyond.is_empty() {
        report.push_str("\nEvery bounded plan is certified within 5% on TTFT and 1% on carbon, water, energy cost and energy.\n");
    } else {
        report.push_str("\nPlans certified less tightly than 5% on TTFT and 1% on carbon, water, energy cost and energy, and why (decision 0010):\n\n");
        for (source, over, carries, status) in beyond {
            let mut why = Vec::new();
            if carries {
                why.push("it carries a backlog from one epoch into the next: the model counts the carried requests' waits and the energy of the carried mix only in part (Next 2 and 3)");
            }
            if status.contains(&SolveStatus::TimeLimit) {
                why.push("solves stopped at their time limit (a looser dual bound)");
            }
            if over.iter().any(|&(k, _)| k == 0) && !carries {
                why.push("TTFT: the model's lane wait is the lossless one at the least favourable mix of classes (time lost to prefill groups and the mix's spread are left out)");
            }
            if why.is_empty() {
                why.push(
                    "the decode under-estimator and the power cap's relaxation (decision 0010)",
                );
            }
            let over: Vec<String> = over
                .iter()
                .map(|&(k, gap)| {
                    let label = Objective::ALL.get(k).map_or("energy", |o| o.label());
                    format!("{label} {}", pct(gap))
                })
                .collect();
            writeln!(
                report,
                "- {source}: {}; {}",
                over.join(", "),
                why.join("; ")
            )?;
        }
    }
    if c.below.is_empty() {
        report.push_str("\nNo plan of any method scores below the front's bound.\n");
    } else {
        report.push_str("\nPlans below the front's bound (outside the model):\n\n");
        for (i, o) in &c.below {
            let p = &points[*i];
            writeln!(
                report,
                "- {} seed {} `{}`: {} {:.6} below the bound {:.6}",
                p.method,
                p.seed,
                p.source,
                o.label(),
                p.fluid.get(*o),
                c.least[o.index()]
            )?;
        }
    }
    let value = |indicator: &str| {
        ind.iter()
            .find(|r| r.0 == "exact" && r.2 == indicator)
            .map_or(f64::NAN, |r| r.3)
    };
    let (inner, ratio) = (value("phv"), value(indicators::RATIO_TO_BOUND));
    let outer = inner / ratio;
    writeln!(
        report,
        "\nThe optimal PHV lies in [{inner:.4e}, {outer:.4e}] (below: the front's simulated plans; above: the volume of the region between the front's bound, the {} supporting half-spaces of the weighted solves and the reference point, which holds every covered plan, on a grid): the front reaches {} of the upper end. A method's PHV ratio to optimal lies between its ratio to the bound and its ratio to the exact front.",
        c.cuts.len(),
        pct(ratio)
    )?;
    Ok(())
}

fn plots(
    dir: &Path,
    scenario: &Scenario,
    points: &[Point],
    ind: &[indicators::Row],
    min_carbon: Option<&FractionPlan>,
) -> anyhow::Result<()> {
    let methods = distinct(points.iter().map(|p| p.method.clone()));
    // Every pairwise projection of the four objectives, the exact front joined as a line, TTFT
    // on a logarithmic axis.
    let axes = |o: Objective| match o {
        Objective::Ttft => (
            "ttft",
            Axis {
                label: "TTFT (s)",
                log: true,
            },
        ),
        Objective::Carbon => (
            "carbon",
            Axis {
                label: "carbon (kg)",
                log: false,
            },
        ),
        Objective::Water => (
            "water",
            Axis {
                label: "water (L)",
                log: false,
            },
        ),
        Objective::Cost => (
            "cost",
            Axis {
                label: "energy cost (USD)",
                log: false,
            },
        ),
    };
    for (i, &x) in Objective::ALL.iter().enumerate() {
        for &y in &Objective::ALL[i + 1..] {
            let ((x_name, x_axis), (y_name, y_axis)) = (axes(x), axes(y));
            let series = Series::by_name(
                &methods,
                points,
                |p| &p.method,
                |p| {
                    let (x, y) = (p.fluid.get(x), p.fluid.get(y));
                    (x.is_finite() && y.is_finite()).then_some((x, y))
                },
            );
            projection_chart(
                dir,
                &format!("front_{x_name}_{y_name}"),
                "Every method's plans (fluid simulator)",
                (&x_axis, &y_axis),
                &series,
                "exact",
            )?;
        }
    }
    let ratios: Vec<f64> = methods
        .iter()
        .map(|m| {
            mean_ci(
                &ind.iter()
                    .filter(|(mm, _, i, _)| mm == m && i == "phv_ratio_to_exact")
                    .map(|x| x.3)
                    .collect::<Vec<_>>(),
            )
            .0
        })
        .collect();
    bar_chart(
        dir,
        "phv_ratio",
        &Chart {
            title: "PHV relative to the exact front",
            x_label: "method",
            y_label: "PHV / exact PHV",
        },
        &methods,
        &[BarGroup {
            name: "PHV ratio".into(),
            values: ratios,
        }],
    )?;
    // Routing of the exact min-carbon plan per datacenter over the day, beside carbon intensity.
    let Some(min_carbon) = min_carbon else {
        return Ok(());
    };
    let hours = scenario.time.hours();
    let ne = scenario.time.epochs;
    let routing: Vec<Series> = scenario
        .datacenters
        .iter()
        .enumerate()
        .map(|(d, dc)| Series {
            name: dc.name.clone(),
            points: (0..hours)
                .map(|h| {
                    let (mut routed, mut total) = (0.0, 0.0);
                    for e in (0..ne).filter(|&e| scenario.time.hour_of_epoch(e) == h) {
                        for o in 0..scenario.origins.len() {
                            for c in 0..scenario.classes.len() {
                                let r = scenario.demand.requests(o, c, e);
                                routed += r * min_carbon.row(e, o, c)[d];
                                total += r;
                            }
                        }
                    }
                    (h as f64, if total > 0.0 { routed / total } else { 0.0 })
                })
                .collect(),
        })
        .collect();
    line_chart(
        dir,
        "routing_min_carbon",
        &Chart {
            title: "Exact min-carbon plan: share of requests per datacenter by hour",
            x_label: "hour",
            y_label: "share of requests",
        },
        &routing,
    )?;
    let series: Vec<Series> = scenario
        .datacenters
        .iter()
        .map(|dc| Series {
            name: dc.name.clone(),
            points: (0..hours)
                .map(|h| (h as f64, dc.grid.carbon_kg_per_kwh[h]))
                .collect(),
        })
        .collect();
    line_chart(
        dir,
        "carbon_intensity",
        &Chart {
            title: "Grid carbon intensity per datacenter",
            x_label: "hour",
            y_label: "kg CO2 / kWh",
        },
        &series,
    )
}

/// `verdant report RUN_DIR...`: merges the indicators of compare runs (for example the same
/// configuration with different seeds, run on different machines) into one table.
pub fn report(runs: &[PathBuf]) -> anyhow::Result<()> {
    if runs.is_empty() {
        bail!("give at least one run directory of verdant compare");
    }
    let mut rows = Vec::new();
    for (k, dir) in runs.iter().enumerate() {
        let path = dir.join("indicators.csv");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a run directory of verdant compare",
                dir.display()
            )
        })?;
        // Seeds of different runs are kept apart: run k's seed s counts as one more sample.
        for (m, s, i, v) in indicators::parse(&text, &path.display().to_string())? {
            rows.push((m, s + 1000 * k as u32, i, v));
        }
    }
    println!("# Merged indicators of {} run(s)\n", runs.len());
    print!("{}", indicators::table(&rows));
    Ok(())
}
