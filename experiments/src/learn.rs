//! `verdant learn`: learning curves of the learned methods against the certified optimum
//! (issue 21, decision 0011).
//!
//! Every learned method trains at log-spaced budgets (`learn.passes`, passes over the scenario's
//! training days) for `seeds` seeds, and at each budget its trained policy allocates the
//! scenario's scoring days (the held-out test days where the scenario names a split), scored by
//! the fluid simulator against one fixed reference: the exact front of the scoring days with its
//! certification (the optimal PHV's interval, decision 0010) and the simple rules.
//!
//! - MARLIN: every scheme of `schemes` at every `learn.k_opt`, from its untrained policy (0
//!   passes: the control) up; the schemes of `learn.even_init` also from the even split
//!   (`marlin.actor_init = "even"`, the second control). One run per (scheme, start, k_opt,
//!   seed) trains straight through the budgets, checkpointing each pass, and its policy at each
//!   budget is deployed on the scoring days without learning.
//! - The frameworks of MARLIN's comparison that learn (`q-learning`, `double-dqn`,
//!   `actor-critic`, those of `compared`) train at each budget from scratch with as many
//!   environment steps as MARLIN at the first `learn.k_opt` (one step per epoch: `4 k_opt`
//!   times as many passes).
//! - The load balancer's agents (`lb` in `compared`; `lb.algorithms`) in geo mode: at each
//!   budget from scratch (their schedules follow the budget), one pass routing the training
//!   days' drawn requests once; the untrained network is their control.
//! - The sensitivity study (`[learn.sensitivity]`): one scheme at the first `k_opt` under each
//!   variant's `[marlin]` values, at its own budgets, compared with the scheme's curve.
//!
//! A budget is counted in environment steps (one simulator scoring of one epoch's plan that a
//! method learns from; MARLIN: `4 k_opt` per epoch). Every (curve, budget, seed) is one cell
//! written atomically to `cells/`; a resumed run (`--resume`) skips the cells it has and
//! continues MARLIN's runs from their checkpoints. Outputs: `cells.csv`, `curves.csv`,
//! `report.md` and plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use verdant::allocator::{Allocator, Problem};
use verdant::lb::{GeoRouter, GeoRouting};
use verdant::run::write_atomic;
use verdant::sim::{Objective, Objectives};
use verdant_agents::lb::Algorithm;
use verdant_agents::marlin::{ActorInit, Marlin, Scheme, MARLIN_CHECKPOINT};

use crate::cli::SharedArgs;
use crate::comparison::{learn_defaults, scoring_sim, CompareChecked, CompareDoc, LearnChecked};
use crate::indicators::{self, gap_name, RATIO_TO_BOUND};
use crate::methods;
use crate::plots::{line_chart, Chart, Series};
use crate::run::{configure, configure_from_run, within, Days, Run};
use crate::scoring::{Point, Scored};
use crate::stats::{mean_ci, plus_minus};
use crate::training::lb::{self as lb_training, job_seed as lb_seed};
use crate::training::marlin::run_seed;

/// The widest paired 95% CI (points of the even split's value, each side) of a change that
/// counts as flat.
const FLAT_POINTS: f64 = 2.0;

/// The frameworks whose learning curves the study can draw.
const FRAMEWORKS: [&str; 3] = ["q-learning", "double-dqn", "actor-critic"];

/// The rules scored once as fixed reference plans.
const RULES: [&str; 5] = [
    "even",
    "nearest",
    "round-robin",
    "lowest-carbon",
    "lowest-price",
];

/// `verdant learn [--resume RUN_DIR]`.
pub fn run(resume: Option<&Path>, report_only: bool, shared: &SharedArgs) -> anyhow::Result<()> {
    let (config, c, run) = match resume {
        Some(dir) => {
            let (config, c) = configure_from_run::<CompareDoc>(dir, "learn")?;
            (config, c, Some(dir))
        }
        None => match configure::<CompareDoc>(&learn_defaults()?, "learn", shared)? {
            Some((config, c)) => (config, c, None),
            None => return Ok(()),
        },
    };
    let Some(learn) = c.learn.clone() else {
        bail!("the configuration has no [learn] section (verdant learn's axes)");
    };
    if let (true, Some(dir)) = (report_only, run) {
        return report_only_of(dir, &c, &learn);
    }
    let seed = c.marlin.seed;
    let days = Days::load(&c.marlin.scenario, seed)?;
    let (training, scoring) = days.problems(scoring_sim())?;
    let device = c.marlin.torch.activate()?;
    let lb = match c.methods.iter().any(|m| m == "lb") {
        true => Some(lb_training::geo_routings(&c.lb, &days)?),
        false => None,
    };
    let run = match run {
        Some(dir) => Run::reopen(dir, shared)?,
        None => Run::start("learn", &config, seed, shared)?,
    }
    .on_device(device);
    let (_, path) = within(run, |run| {
        let work = Work {
            training: &training,
            scoring: &scoring,
            days: &days,
            lb: lb.as_ref(),
            device,
        };
        study(run, &c, &learn, &work)
    })?;
    print!("{}", std::fs::read_to_string(path.join("report.md"))?);
    println!("{}", path.display());
    Ok(())
}

/// One curve's point for one seed: what the trained policy did on the scoring days.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cell {
    /// The curve: `marlin-<scheme>[-even-init]-k<k_opt>[-<variant>]`, a framework's name, or
    /// `lb-<algorithm>`.
    curve: String,
    /// `marlin`, the framework, or `lb`.
    method: String,
    /// The sensitivity study's variant (MARLIN).
    #[serde(default)]
    variant: Option<String>,
    /// MARLIN's scheme.
    scheme: Option<Scheme>,
    /// Exploration iterations per epoch and agent (MARLIN), else 1.
    k_opt: usize,
    /// The budget: passes over the training days (0: the untrained control); a framework makes
    /// `4 k_opt` passes per unit (as many environment steps as MARLIN at the first `k_opt`).
    passes: usize,
    /// Environment steps learned from (the load balancer's: requests routed).
    env_steps: u64,
    /// SAC updates per agent (MARLIN).
    updates_per_agent: Option<i64>,
    /// Vetoes cast while the policy allocated the scoring days (MARLIN; absent in cells written
    /// before it was recorded).
    #[serde(default)]
    vetoes: Option<u64>,
    /// Vetoes cast over the training epochs (MARLIN; as `vetoes`).
    #[serde(default)]
    training_vetoes: Option<u64>,
    seed: u32,
    /// The policy's plan on the scoring days, scored by the fluid simulator.
    objectives: Objectives,
    /// Wall time of the cell's training and scoring, seconds.
    wall_s: f64,
}

impl Cell {
    /// The cell of a method trained from scratch at one budget (a framework, the load
    /// balancer): no scheme, no SAC updates, no vetoes.
    fn trained_once(
        curve: String,
        method: &str,
        passes: usize,
        env_steps: u64,
        seed: u32,
        objectives: Objectives,
        started: Instant,
    ) -> Cell {
        Cell {
            curve,
            method: method.to_owned(),
            variant: None,
            scheme: None,
            k_opt: 1,
            passes,
            env_steps,
            updates_per_agent: None,
            vetoes: None,
            training_vetoes: None,
            seed,
            objectives,
            wall_s: started.elapsed().as_secs_f64(),
        }
    }
}

/// What every cell is measured against, computed once per study (`reference.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reference {
    /// The exact front's plans on the scoring days (with the certification's).
    exact: Vec<(String, Objectives)>,
    /// The rules' plans.
    rules: Vec<(String, Objectives)>,
    /// The PHV reference point: the worst value of each objective over the exact front and
    /// the rules, TTFT's at the scenario's service level.
    point: Vec<f64>,
    /// The exact front's PHV at `point`.
    exact_phv: f64,
    /// The most PHV any plans can have at `point` (the certification's upper end), where
    /// certified.
    outer_phv: Option<f64>,
    /// Wall time, seconds.
    wall_s: f64,
}

impl Reference {
    fn rule(&self, name: &str) -> Option<&Objectives> {
        self.rules.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }

    /// The points of the exact front, for indicators.
    fn exact_points(&self) -> Vec<Point> {
        self.exact
            .iter()
            .map(|(source, o)| point("exact", 0, source, *o))
            .collect()
    }
}

fn point(method: &str, seed: u32, source: &str, o: Objectives) -> Point {
    Point {
        method: method.to_owned(),
        seed,
        source: source.to_owned(),
        fluid: o,
        discrete_event: None,
        representative: true,
    }
}

/// One training run of the study: a MARLIN run through every budget, or a framework at one
/// budget.
#[derive(Debug, Clone)]
enum Job {
    Marlin {
        scheme: Scheme,
        init: ActorInit,
        k_opt: usize,
        seed: u32,
        /// The sensitivity study's variant.
        variant: Option<String>,
    },
    Framework {
        name: &'static str,
        passes: usize,
        seed: u32,
    },
    Lb {
        algorithm: Algorithm,
        passes: usize,
        seed: u32,
    },
}

impl Job {
    fn curve(&self) -> String {
        match self {
            Job::Marlin {
                scheme,
                init,
                k_opt,
                variant,
                ..
            } => {
                let curve = marlin_curve(*scheme, *init, *k_opt);
                match variant {
                    Some(v) => format!("{curve}-{v}"),
                    None => curve,
                }
            }
            Job::Framework { name, .. } => (*name).to_owned(),
            Job::Lb { algorithm, .. } => format!("lb-{}", algorithm.name()),
        }
    }
}

fn marlin_curve(scheme: Scheme, init: ActorInit, k_opt: usize) -> String {
    let start = match init {
        ActorInit::Random => "",
        ActorInit::Even => "-even-init",
    };
    format!("marlin-{}{start}-k{k_opt}", scheme.name())
}

fn cell_path(dir: &Path, curve: &str, passes: usize, seed: u32) -> PathBuf {
    dir.join("cells")
        .join(format!("{curve}-p{passes}-s{seed}.json"))
}

fn read_cell(path: &Path) -> anyhow::Result<Option<Cell>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)?;
    Ok(Some(serde_json::from_str(&text).with_context(|| {
        format!("{}: not a cell of verdant learn", path.display())
    })?))
}

fn write_cell(path: &Path, cell: &Cell) -> anyhow::Result<()> {
    write_atomic(path, serde_json::to_string_pretty(cell)?.as_bytes())?;
    Ok(())
}

/// What a study works on.
struct Work<'w> {
    training: &'w Problem<'w>,
    scoring: &'w Problem<'w>,
    days: &'w Days,
    /// Geo mode's training and scoring routings (with `lb` compared).
    lb: Option<&'w (GeoRouting, GeoRouting)>,
    device: tch::Device,
}

fn study(
    run: &mut Run,
    c: &CompareChecked,
    learn: &LearnChecked,
    work: &Work,
) -> anyhow::Result<serde_json::Value> {
    let scoring = work.scoring;
    let dir = run.dir().path().to_owned();
    std::fs::create_dir_all(dir.join("cells"))?;
    let reference = reference(&dir, c, scoring)?;
    let frameworks: Vec<&'static str> = FRAMEWORKS
        .into_iter()
        .filter(|f| c.methods.iter().any(|m| m == f))
        .collect();
    let with_marlin = c.methods.iter().any(|m| m == "marlin");
    let mut jobs = Vec::new();
    for k in 0..c.marlin.seeds {
        for (i, &k_opt) in learn.k_opt.iter().enumerate().filter(|_| with_marlin) {
            for &scheme in &c.marlin.schemes {
                if i > 0 && !learn.k_opt_schemes.contains(&scheme) {
                    continue;
                }
                for init in [ActorInit::Random, ActorInit::Even] {
                    if init == ActorInit::Even && !learn.even_init.contains(&scheme) {
                        continue;
                    }
                    jobs.push(Job::Marlin {
                        scheme,
                        init,
                        k_opt,
                        seed: k,
                        variant: None,
                    });
                }
            }
        }
        for &name in &frameworks {
            for &passes in &learn.passes {
                jobs.push(Job::Framework {
                    name,
                    passes,
                    seed: k,
                });
            }
        }
        for &algorithm in c.lb.algorithms.iter().filter(|_| work.lb.is_some()) {
            for passes in std::iter::once(0).chain(learn.passes.iter().copied()) {
                jobs.push(Job::Lb {
                    algorithm,
                    passes,
                    seed: k,
                });
            }
        }
        for s in learn.sensitivity.iter().filter(|_| with_marlin) {
            for v in &s.variants {
                jobs.push(Job::Marlin {
                    scheme: s.scheme,
                    init: ActorInit::Random,
                    k_opt: learn.k_opt[0],
                    seed: k,
                    variant: Some(v.name.clone()),
                });
            }
        }
    }
    // The main curves first (MARLIN at the first k_opt, then the frameworks and the load
    // balancer), the other k_opt values and the sensitivity study after: a study stopped early
    // has its main curves whole.
    jobs.sort_by_key(|j| match j {
        Job::Marlin {
            variant: Some(_), ..
        } => 3,
        Job::Marlin { k_opt, .. } if *k_opt == learn.k_opt[0] => 0,
        Job::Framework { .. } | Job::Lb { .. } => 1,
        Job::Marlin { .. } => 2,
    });
    let bar = run.progress(jobs.len() as u64, "learn");
    // `learn.jobs` workers take the jobs in order (rayon would split the list and start its
    // second half at once).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..learn.jobs.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if let Err(e) = run_job(&dir, c, learn, work, job) {
                    let e = e.context(format!("{} seed {}", job.curve(), job_seed(job)));
                    failures.lock().expect("no worker panicked").push(e);
                    break;
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failures
        .into_inner()
        .expect("no worker panicked")
        .into_iter()
        .next()
    {
        return Err(e);
    }
    write_outputs(&dir, c, learn, work.days, &reference, &read_cells(&dir)?)
}

/// Every cell written so far, in (curve, budget, seed) order.
fn read_cells(dir: &Path) -> anyhow::Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for entry in std::fs::read_dir(dir.join("cells"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            cells.extend(read_cell(&path)?);
        }
    }
    cells.sort_by(|a, b| (&a.curve, a.passes, a.seed).cmp(&(&b.curve, b.passes, b.seed)));
    Ok(cells)
}

/// `--report-only`: the tables, verdicts and plots of the cells `dir` has, training nothing and
/// leaving its manifest as it is (a stopped study stays marked as not complete).
fn report_only_of(dir: &Path, c: &CompareChecked, learn: &LearnChecked) -> anyhow::Result<()> {
    let path = dir.join("reference.json");
    if !path.is_file() {
        bail!(
            "{}: no reference.json, so nothing to report yet (resume without --report-only)",
            dir.display()
        );
    }
    let reference: Reference = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("{}: not a reference of verdant learn", path.display()))?;
    let days = Days::load(&c.marlin.scenario, c.marlin.seed)?;
    write_outputs(dir, c, learn, &days, &reference, &read_cells(dir)?)?;
    print!("{}", std::fs::read_to_string(dir.join("report.md"))?);
    Ok(())
}

fn job_seed(job: &Job) -> u32 {
    match job {
        Job::Marlin { seed, .. } | Job::Framework { seed, .. } | Job::Lb { seed, .. } => *seed,
    }
}

/// The exact front (certified) and the rules on the scoring days, and the reference point;
/// read back from `reference.json` where an earlier attempt wrote it.
fn reference(dir: &Path, c: &CompareChecked, scoring: &Problem) -> anyhow::Result<Reference> {
    let path = dir.join("reference.json");
    if path.is_file() {
        let text = std::fs::read_to_string(&path)?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a reference of verdant learn", path.display()));
    }
    let started = Instant::now();
    let mut scored = Scored::default();
    let seed = run_seed(c.marlin.seed, 0);
    let mut exact = methods::build("exact", &c.marlin.methods, seed).expect("registered");
    scored.allocate(scoring, "exact", 0, exact.as_mut())?;
    let certification = c
        .marlin
        .methods
        .exact
        .certify(scoring, &mut scored, "exact")
        .transpose()?;
    for name in RULES {
        let mut rule = methods::build(name, &c.marlin.methods, seed).expect("registered");
        scored.allocate(scoring, name, 0, rule.as_mut())?;
    }
    let reference = indicators::reference(&scored.points, Some(scoring.scenario.ttft_slo_s));
    let exact_phv =
        indicators::front_of(&scored.points).hypervolume(|g| g.0 == "exact", &reference);
    let outer_phv = certification.as_ref().map(|c| c.outer_phv(&reference));
    let pick = |rule: bool| -> Vec<(String, Objectives)> {
        scored
            .points
            .iter()
            .filter(|p| (p.method == "exact") != rule)
            .map(|p| {
                let name = if rule { &p.method } else { &p.source };
                (name.clone(), p.fluid)
            })
            .collect()
    };
    let r = Reference {
        exact: pick(false),
        rules: pick(true),
        point: reference,
        exact_phv,
        outer_phv,
        wall_s: started.elapsed().as_secs_f64(),
    };
    write_atomic(&path, serde_json::to_string_pretty(&r)?.as_bytes())?;
    Ok(r)
}

/// Runs one job: the cells it has not written yet.
fn run_job(
    dir: &Path,
    c: &CompareChecked,
    learn: &LearnChecked,
    work: &Work,
    job: &Job,
) -> anyhow::Result<()> {
    let (training, scoring, device) = (work.training, work.scoring, work.device);
    let curve = job.curve();
    let epochs = training.scenario.time.epochs as u64;
    match *job {
        Job::Marlin {
            scheme,
            init,
            k_opt,
            seed,
            ref variant,
        } => {
            let (base, budgets) = match variant {
                Some(name) => {
                    let s = learn
                        .sensitivity
                        .as_ref()
                        .expect("variant jobs need the study");
                    let v = s.variant(name).expect("a job's variant is the study's");
                    (&v.settings, &s.passes)
                }
                None => (&c.marlin.marlin, &learn.passes),
            };
            let last = *budgets.last().expect("checked: not empty");
            let settings = base.with_params("marlin", |p| {
                p.k_opt = k_opt;
                p.actor_init = init;
                p.days = last;
            })?;
            let checkpoints = dir.join("checkpoints").join(format!("{curve}-s{seed}"));
            std::fs::create_dir_all(&checkpoints)?;
            for passes in std::iter::once(0).chain(budgets.iter().copied()) {
                let path = cell_path(dir, &curve, passes, seed);
                if path.is_file() {
                    continue;
                }
                let started = Instant::now();
                let mut m = Marlin::new(
                    training,
                    settings.clone(),
                    scheme,
                    run_seed(c.marlin.seed, seed),
                    device,
                )?;
                // The run so far, where one has trained (every pass ends with a checkpoint).
                if checkpoints.join(MARLIN_CHECKPOINT).is_file() {
                    m.resume(&checkpoints)?;
                }
                if m.day() > passes {
                    bail!(
                        "{}: the checkpoint is past {passes} passes but that budget's cell is missing; remove the checkpoint to retrain",
                        checkpoints.display()
                    );
                }
                m.train_until(passes, Some(&checkpoints), &mut |_| {})?;
                let mut policy = m.into_policy();
                let updates = policy.log.last().map_or(0, |l| l.updates[0]);
                let training_vetoes = policy.log.iter().map(|l| u64::from(l.vetoes)).sum();
                let deployed = policy.deploy(scoring)?;
                let objectives = scoring.fluid().score(&deployed.consensus)?.objectives();
                let vetoes = deployed.log.iter().map(|l| u64::from(l.vetoes)).sum();
                write_cell(
                    &path,
                    &Cell {
                        curve: curve.clone(),
                        method: "marlin".into(),
                        variant: variant.clone(),
                        scheme: Some(scheme),
                        k_opt,
                        passes,
                        env_steps: passes as u64 * epochs * 4 * k_opt as u64,
                        updates_per_agent: Some(updates),
                        vetoes: Some(vetoes),
                        training_vetoes: Some(training_vetoes),
                        seed,
                        objectives,
                        wall_s: started.elapsed().as_secs_f64(),
                    },
                )?;
            }
        }
        Job::Framework { name, passes, seed } => {
            let path = cell_path(dir, &curve, passes, seed);
            if path.is_file() {
                return Ok(());
            }
            let started = Instant::now();
            // As many environment steps as MARLIN at the first k_opt: one per epoch.
            let k_opt = learn.k_opt[0];
            let methods = c.marlin.methods.with_marlin_budget(passes, k_opt);
            let framework_days = methods.sections.q_learning.days;
            let mut allocator =
                methods::build(name, &methods, run_seed(c.marlin.seed, seed)).expect("registered");
            let plan = allocator.allocate(scoring)?;
            let objectives = scoring.fluid().score(&plan)?.objectives();
            write_cell(
                &path,
                &Cell::trained_once(
                    curve,
                    name,
                    passes,
                    (framework_days as u64) * epochs,
                    seed,
                    objectives,
                    started,
                ),
            )?;
        }
        Job::Lb {
            algorithm,
            passes,
            seed,
        } => {
            let path = cell_path(dir, &curve, passes, seed);
            if path.is_file() {
                return Ok(());
            }
            let started = Instant::now();
            let (routing, evaluation) = work.lb.expect("lb jobs need geo mode's routings");
            // One pass routes the training requests once; every budget from scratch (the
            // schedules follow the budget), the untrained network at 0 passes.
            let steps = passes as u64 * routing.workload.len() as u64;
            let target = lb_training::geo_target(routing);
            let mut trainer =
                lb_training::new_trainer(&c.lb, &target, algorithm, seed, steps.max(1), device)?;
            if steps > 0 {
                trainer.train(None, &mut |_| {})?;
            }
            let mut router = GeoRouter::new(
                algorithm.name(),
                evaluation,
                Box::new(trainer.greedy()),
                lb_seed(c.lb.seed, seed).derive("lb.eval"),
            );
            let plan = router.allocate(scoring)?;
            let objectives = scoring.fluid().score(&plan)?.objectives();
            write_cell(
                &path,
                &Cell::trained_once(
                    curve,
                    "lb",
                    passes,
                    trainer.steps(),
                    seed,
                    objectives,
                    started,
                ),
            )?;
        }
    }
    Ok(())
}

/// A cell's score on its own objective, relative to the even split's on the scoring days
/// (lower is better): a MARLIN scheme's favoured objective; Balanced's and the frameworks' the
/// mean of the four (the frameworks' reward weighs them equally); the load balancer's TTFT (its
/// reward is the requests' response time).
fn own_score(cell: &Cell, even: &Objectives) -> f64 {
    let ratio = |o: Objective| cell.objectives.get(o) / even.get(o);
    if cell.method == "lb" {
        return ratio(Objective::Ttft);
    }
    match cell.scheme {
        Some(Scheme::MinLatency) => ratio(Objective::Ttft),
        Some(Scheme::MinCarbon) => ratio(Objective::Carbon),
        Some(Scheme::MinWater) => ratio(Objective::Water),
        Some(Scheme::MinCost) => ratio(Objective::Cost),
        _ => Objective::ALL.iter().map(|&o| ratio(o)).sum::<f64>() / 4.0,
    }
}

/// The paired change of the own score from `xa` to `xb` (per seed, in points of the even
/// split's value): mean and 95% CI half-width over the seeds both have, where at least two.
fn paired_change(xa: &[(u32, f64, f64)], xb: &[(u32, f64, f64)]) -> Option<(f64, f64)> {
    let diffs: Vec<f64> = xa
        .iter()
        .filter_map(|(seed, own, _)| {
            xb.iter()
                .find(|(s, ..)| s == seed)
                .map(|(_, other, _)| 100.0 * (other - own))
        })
        .collect();
    (diffs.len() >= 2).then(|| mean_ci(&diffs))
}

/// What a cell's plan scores on the study's indicators (PHV ratios at the fixed reference,
/// gaps to the exact front's best).
fn cell_indicators(cell: &Cell, reference: &Reference) -> BTreeMap<String, f64> {
    let mut points = reference.exact_points();
    points.push(point(&cell.curve, cell.seed, "policy", cell.objectives));
    indicators::indicators_at(&points, "exact", &reference.point, reference.outer_phv)
        .into_iter()
        .filter(|(m, ..)| m == &cell.curve)
        .map(|(_, _, name, v)| (name, v))
        .collect()
}

fn write_outputs(
    dir: &Path,
    c: &CompareChecked,
    learn: &LearnChecked,
    days: &Days,
    reference: &Reference,
    cells: &[Cell],
) -> anyhow::Result<serde_json::Value> {
    let even = *reference
        .rule("even")
        .context("the reference lacks the even split")?;
    let gap_names: Vec<String> = Objective::ALL.iter().map(|&o| gap_name(o)).collect();
    let mut csv = format!(
        "curve,method,scheme,k_opt,passes,env_steps,updates_per_agent,vetoes,training_vetoes,seed,ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,own_score,phv_ratio_to_exact,{RATIO_TO_BOUND},{},wall_s\n",
        gap_names.join(",")
    );
    // (curve) -> passes -> per-seed (own score, PHV ratio, env steps, updates).
    type PerBudget = BTreeMap<usize, Vec<(u32, f64, f64)>>;
    let mut curves: BTreeMap<String, PerBudget> = BTreeMap::new();
    let mut steps: BTreeMap<(String, usize), (u64, Option<i64>)> = BTreeMap::new();
    for cell in cells {
        let ind = cell_indicators(cell, reference);
        let get = |k: &str| ind.get(k).copied().unwrap_or(f64::NAN);
        let own = own_score(cell, &even);
        let o = &cell.objectives;
        writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.1}",
            cell.curve,
            cell.method,
            cell.scheme.map_or("", |s| s.name()),
            cell.k_opt,
            cell.passes,
            cell.env_steps,
            cell.updates_per_agent
                .map_or(String::new(), |u| u.to_string()),
            cell.vetoes.map_or(String::new(), |v| v.to_string()),
            cell.training_vetoes
                .map_or(String::new(), |v| v.to_string()),
            cell.seed,
            o.ttft_s,
            o.carbon_kg,
            o.water_l,
            o.cost_usd,
            o.energy_kwh,
            own,
            get("phv_ratio_to_exact"),
            get(RATIO_TO_BOUND),
            gap_names
                .iter()
                .map(|g| get(g).to_string())
                .collect::<Vec<_>>()
                .join(","),
            cell.wall_s
        )?;
        curves
            .entry(cell.curve.clone())
            .or_default()
            .entry(cell.passes)
            .or_default()
            .push((cell.seed, own, get("phv_ratio_to_exact")));
        steps.insert(
            (cell.curve.clone(), cell.passes),
            (cell.env_steps, cell.updates_per_agent),
        );
    }
    write_atomic(&dir.join("cells.csv"), csv.as_bytes())?;

    // Per curve and budget: mean +- 95% CI over seeds of the own score and the PHV ratio.
    let mut table = String::from(
        "| curve | passes | environment steps | SAC updates per agent | seeds | own score (/ even split) | PHV ratio to exact |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut curves_csv = String::from(
        "curve,passes,env_steps,seeds,own_score_mean,own_score_ci95,phv_ratio_mean,phv_ratio_ci95\n",
    );
    for (curve, series) in &curves {
        for (&passes, per_seed) in series {
            let own: Vec<f64> = per_seed.iter().map(|p| p.1).collect();
            let phv: Vec<f64> = per_seed.iter().map(|p| p.2).collect();
            let (own_ci, phv_ci) = (mean_ci(&own), mean_ci(&phv));
            // One seed has no interval.
            let shown = |ci: (f64, f64)| {
                if own.len() < 2 {
                    format!("{:.4} (one seed)", ci.0)
                } else {
                    plus_minus(ci, 4)
                }
            };
            let (env_steps, updates) = steps[&(curve.clone(), passes)];
            writeln!(
                curves_csv,
                "{curve},{passes},{env_steps},{},{},{},{},{}",
                own.len(),
                own_ci.0,
                own_ci.1,
                phv_ci.0,
                phv_ci.1
            )?;
            writeln!(
                table,
                "| {curve} | {passes} | {env_steps} | {} | {} | {} | {} |",
                updates.map_or("-".to_owned(), |u| u.to_string()),
                own.len(),
                shown(own_ci),
                shown(phv_ci)
            )?;
        }
    }
    write_atomic(&dir.join("curves.csv"), curves_csv.as_bytes())?;

    // Verdicts: trained against the untrained control (paired over seeds), and where each
    // curve flattens (the first budget whose next doubling's paired change has a 95% CI that
    // holds zero).
    let paired = |series: &PerBudget, a: usize, b: usize| -> Option<(f64, f64)> {
        paired_change(series.get(&a)?, series.get(&b)?)
    };
    let mut verdicts = String::from(
        "| curve | trained (largest budget) - untrained, own score, points of the even split's | beats its control | flat from (passes) |\n| --- | --- | --- | --- |\n",
    );
    let mut summary = serde_json::Map::new();
    for (curve, series) in &curves {
        let budgets: Vec<usize> = series.keys().copied().collect();
        let largest = *budgets.last().expect("a curve has a budget");
        let control = paired(series, 0, largest);
        let beats = match control {
            Some((m, h)) if m + h < 0.0 => "yes",
            Some((m, h)) if m - h > 0.0 => "no: worse",
            Some(_) => "no: within noise",
            None => "n/a",
        };
        // Flat from budget b: every later doubling changes the own score by an amount whose
        // paired 95% CI holds zero and is at most FLAT_POINTS wide each side (a change that
        // noise hides is not shown to be flat).
        let steps: Vec<(usize, Option<(f64, f64)>)> = budgets
            .windows(2)
            .filter(|w| w[0] > 0)
            .map(|w| (w[0], paired(series, w[0], w[1])))
            .collect();
        let is_flat = |d: &Option<(f64, f64)>| {
            d.is_some_and(|(m, h)| m - h <= 0.0 && m + h >= 0.0 && h <= FLAT_POINTS)
        };
        let flat = (0..steps.len())
            .find(|&i| steps[i..].iter().all(|(_, d)| is_flat(d)))
            .map(|i| steps[i].0.to_string())
            .unwrap_or_else(|| match steps.last() {
                None => "n/a (one trained budget)".to_owned(),
                Some((b, Some(d))) => format!(
                    "not shown within {largest} (last doubling, from {b}: {})",
                    plus_minus(*d, 2)
                ),
                _ => format!("not shown within {largest}"),
            });
        writeln!(
            verdicts,
            "| {curve} | {} | {beats} | {flat} |",
            control.map_or("n/a".to_owned(), |d| plus_minus(d, 2))
        )?;
        summary.insert(
            curve.clone(),
            serde_json::json!({ "beats_control": beats, "flat_from": flat }),
        );
    }

    // MARLIN's schemes together (random start) as one front per (k_opt, budget, seed), where
    // every scheme has its cell: MARLIN's PHV ratio as a multi-objective method.
    let mut groups: BTreeMap<(usize, usize), BTreeMap<u32, Vec<&Cell>>> = BTreeMap::new();
    for cell in cells
        .iter()
        .filter(|c| c.method == "marlin" && c.variant.is_none() && !c.curve.contains("-even-init"))
    {
        groups
            .entry((cell.k_opt, cell.passes))
            .or_default()
            .entry(cell.seed)
            .or_default()
            .push(cell);
    }
    let mut fronts = String::from(
        "| k_opt | passes | seeds | PHV ratio to exact | PHV ratio to the bound |\n| --- | --- | --- | --- | --- |\n",
    );
    for ((k_opt, passes), per_seed) in &groups {
        let (mut exact, mut bound) = (Vec::new(), Vec::new());
        for (seed, members) in per_seed {
            if members.len() < c.marlin.schemes.len() {
                continue;
            }
            let mut points = reference.exact_points();
            points.extend(
                members
                    .iter()
                    .map(|m| point("marlin", *seed, &m.curve, m.objectives)),
            );
            for (method, _, name, v) in
                indicators::indicators_at(&points, "exact", &reference.point, reference.outer_phv)
            {
                match name.as_str() {
                    "phv_ratio_to_exact" if method == "marlin" => exact.push(v),
                    RATIO_TO_BOUND if method == "marlin" => bound.push(v),
                    _ => {}
                }
            }
        }
        if !exact.is_empty() {
            writeln!(
                fronts,
                "| {k_opt} | {passes} | {} | {} | {} |",
                exact.len(),
                plus_minus(mean_ci(&exact), 4),
                if bound.is_empty() {
                    "n/a".to_owned()
                } else {
                    plus_minus(mean_ci(&bound), 4)
                }
            )?;
        }
    }

    // The sensitivity study: each variant against the scheme's own curve at the same budget
    // and seeds, and against its own untrained policy.
    let mut sensitivity = String::new();
    if let Some(s) = &learn.sensitivity {
        let base = marlin_curve(s.scheme, ActorInit::Random, learn.k_opt[0]);
        writeln!(
            sensitivity,
            "## Sensitivity of {} (k_opt {})\n\nEach variant changes `[marlin]` as shown and trains with the study's seeds; its own score at each budget beside the default's (`{base}`), the paired change from the default (same seeds), and from its own untrained policy, in points of the even split's value (negative: lower, better).\n\n| variant | changes | passes | seeds | own score | PHV ratio to exact | change from the default | change from untrained | vetoes in training / on the scoring days (mean per run) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            s.scheme.name(),
            learn.k_opt[0]
        )?;
        let shown = |d: Option<(f64, f64)>| d.map_or("n/a".to_owned(), |d| plus_minus(d, 2));
        // Mean vetoes per run (in training / on the scoring days) of the cells that recorded
        // them.
        let vetoes = |curve: &str, passes: usize| -> String {
            let of = |field: fn(&Cell) -> Option<u64>| {
                let v: Vec<f64> = cells
                    .iter()
                    .filter(|c| c.curve == curve && c.passes == passes)
                    .filter_map(|c| field(c).map(|v| v as f64))
                    .collect();
                if v.is_empty() {
                    "n/a".to_owned()
                } else {
                    format!("{:.1}", v.iter().sum::<f64>() / v.len() as f64)
                }
            };
            format!("{} / {}", of(|c| c.training_vetoes), of(|c| c.vetoes))
        };
        for &passes in &s.passes {
            if let Some(x) = curves.get(&base).and_then(|c| c.get(&passes)) {
                writeln!(
                    sensitivity,
                    "| (default) | | {passes} | {} | {} | {} | | {} | {} |",
                    x.len(),
                    plus_minus(mean_ci(&x.iter().map(|p| p.1).collect::<Vec<_>>()), 4),
                    plus_minus(mean_ci(&x.iter().map(|p| p.2).collect::<Vec<_>>()), 4),
                    shown(curves.get(&base).and_then(|c| paired(c, 0, passes))),
                    vetoes(&base, passes)
                )?;
            }
            for v in &s.variants {
                let Some(series) = curves.get(&format!("{base}-{}", v.name)) else {
                    continue;
                };
                let Some(x) = series.get(&passes) else {
                    continue;
                };
                let default = curves.get(&base).and_then(|c| c.get(&passes));
                let curve = format!("{base}-{}", v.name);
                writeln!(
                    sensitivity,
                    "| {} | `{}` | {passes} | {} | {} | {} | {} | {} | {} |",
                    v.name,
                    v.changes,
                    x.len(),
                    plus_minus(mean_ci(&x.iter().map(|p| p.1).collect::<Vec<_>>()), 4),
                    plus_minus(mean_ci(&x.iter().map(|p| p.2).collect::<Vec<_>>()), 4),
                    shown(default.and_then(|d| paired_change(d, x))),
                    shown(paired(series, 0, passes)),
                    vetoes(&curve, passes)
                )?;
            }
        }
        sensitivity.push('\n');
    }

    // The sensitivity study's curves (two budgets each) are left out of the plots.
    let variants: Vec<&str> = cells
        .iter()
        .filter(|c| c.variant.is_some())
        .map(|c| c.curve.as_str())
        .collect();
    let plot_series = |value: &dyn Fn(&(u32, f64, f64)) -> f64| -> Vec<Series> {
        curves
            .iter()
            .filter(|(curve, _)| !variants.contains(&curve.as_str()))
            .map(|(curve, series)| Series {
                name: curve.clone(),
                points: series
                    .iter()
                    .map(|(&passes, per_seed)| {
                        let v: Vec<f64> = per_seed.iter().map(value).collect();
                        (passes as f64, mean_ci(&v).0)
                    })
                    .collect(),
            })
            .collect()
    };
    line_chart(
        dir,
        "own_score",
        &Chart {
            title: "Own objective on the scoring days over training (mean over seeds)",
            x_label: "passes over the training days",
            y_label: "own objective / even split",
        },
        &plot_series(&|p| p.1),
    )?;
    line_chart(
        dir,
        "phv_ratio",
        &Chart {
            title: "PHV ratio to the exact front over training (mean over seeds)",
            x_label: "passes over the training days",
            y_label: "PHV / exact PHV",
        },
        &plot_series(&|p| p.2),
    )?;

    let interval = match reference.outer_phv {
        Some(outer) => format!(
            "the optimal PHV lies in [{:.4e}, {:.4e}] (the exact front's, the certification's upper end)",
            reference.exact_phv, outer
        ),
        None => format!(
            "the exact front's PHV {:.4e} (not certified: `methods.exact.certify` is off)",
            reference.exact_phv
        ),
    };
    let lb_cells: Vec<&Cell> = cells.iter().filter(|c| c.method == "lb").collect();
    let lb_note = match lb_cells.iter().find(|c| c.passes == 1) {
        Some(one) => format!(
            "; the load balancer's agents ({}) in geo mode, from scratch at each budget, untrained at 0 passes (their environment steps are requests routed, {} per pass over the drawn training requests, not epochs planned)",
            c.lb
                .algorithms
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
            one.env_steps
        ),
        None => String::new(),
    };
    let report = format!(
        "# Learning curves on `{}`\n\n{}\n\nEvery learned method trained at budgets of {:?} passes over the training days ({} seed(s), master seed {}); MARLIN's schemes at k_opt {:?} from their untrained policy (0 passes, the control){}; the frameworks with as many environment steps as MARLIN at k_opt {} (one step per epoch, so `4 x k_opt` times the passes){lb_note}. At each budget the policy allocated the scoring days without learning and the fluid simulator scored the plan. Reference point (fixed for every cell): the worst value of each objective over the exact front ({} plans) and the rules, TTFT's at the service level ({} s); {}.\n\nOwn score: the plan's value of its scheme's objective over the even split's on the scoring days (Balanced and the frameworks: the mean of the four ratios; the load balancer: TTFT); lower is better. Mean +- 95% CI over seeds.\n\n{table}\n## Verdicts\n\nPaired over seeds: the own score at the largest budget minus the untrained policy's, in points of the even split's value (negative: training helped). A curve is flat from the first budget after which every doubling changes the own score by an amount whose paired 95% CI holds zero and is at most {FLAT_POINTS} points wide each side.\n\n{verdicts}\n## MARLIN's schemes as one front\n\nThe schemes' plans of one seed (random start, the first k_opt's budgets for every scheme) together, at the same reference point.\n\n{fronts}\n{sensitivity}Plots: own_score.svg, phv_ratio.svg. Every cell: cells.csv; per curve and budget: curves.csv.\n",
        days.scoring.name,
        days.note(),
        learn.passes,
        c.marlin.seeds,
        c.marlin.seed,
        learn.k_opt,
        if learn.even_init.is_empty() {
            String::new()
        } else {
            format!(
                ", and {} also from the even split (`actor_init = \"even\"`)",
                learn
                    .even_init
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        learn.k_opt[0],
        reference.exact.len(),
        days.scoring.ttft_slo_s,
        interval
    );
    write_atomic(&dir.join("report.md"), report.as_bytes())?;
    Ok(serde_json::json!({
        "cells": cells.len(),
        "curves": summary,
        "reference_s": reference.wall_s,
    }))
}
