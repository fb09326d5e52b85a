//! The bound model's anchors on a scenario: each objective minimised alone over plans, with the
//! solve's wall time, the model's bound, the plan's simulated value and the gap between them
//! (decision 0010), after the even split's bounds at its fixed plan. `cargo run --release -p
//! verdant-solvers --example bound_anchors -- geo-4dc [time limit s] [mip gap]`; `RELAXED=1`
//! relaxes the schedule's binaries, `NO_FORCED_CARRY=1` drops forced carry, `EVEN_ONLY=1` stops after the even split,
//! `ONLY=k` solves objective k alone, `TTFT_CAP=s` bounds the model's
//! TTFT in the other objectives' solves, `PLAN=path` bounds a plan `verdant compare` wrote
//! (`plans/exact-<source>.csv`) instead.

use std::time::Instant;

use verdant::allocator::Problem;
use verdant::config::Validate;
use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::sim::SimParams;
use verdant_solvers::bound::{simulated_objectives, BoundModel, BOUND_OBJECTIVES};
use verdant_solvers::SolverParams;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("geo-4dc", String::as_str);
    let time_limit_s = args.get(1).map(|a| a.parse()).transpose()?;
    let mip_rel_gap = args.get(2).map(|a| a.parse()).transpose()?;
    let path = verdant::scenario::bundled_dir().join(format!("{name}.toml"));
    let scenario = Scenario::load(&path, MasterSeed(0))?;
    let problem = Problem::new(&scenario, SimParams::default());
    let mut model = BoundModel::new(&problem)?;
    model.relaxed = std::env::var("RELAXED").is_ok();
    model.forced_carry = std::env::var("NO_FORCED_CARRY").is_err();
    let options = SolverParams {
        threads: Some(1),
        time_limit_s,
        mip_rel_gap,
        verbose: std::env::var("VERBOSE").is_ok(),
    }
    .validate("solver")?;
    let mut sim = problem.fluid();
    if let Ok(path) = std::env::var("PLAN") {
        // A plan written by `verdant compare` (plans/exact-<source>.csv): its simulated values
        // and its bounds, with the solver options above and with one thread.
        let plan = verdant::sim::read_plan_csv(std::path::Path::new(&path), &scenario)?;
        let o = sim.score(&plan)?;
        println!(
            "{path}: simulated {:?}, spills {}, in the model's space {}",
            simulated_objectives(&o.objectives()),
            sim.spilled(),
            model.represents(&plan)
        );
        // As `verdant compare` bounds a front plan: threads left to HiGHS, 10 s per solve.
        let compare = SolverParams {
            time_limit_s: Some(10.0),
            ..Default::default()
        }
        .validate("solver")?;
        for (label, options) in [("as compare", compare), ("1 thread", options.clone())] {
            let start = Instant::now();
            let bound = model.bound_of(&plan, &options).map(|b| b.lower);
            println!(
                "bounds ({label}): {bound:?} in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        return Ok(());
    }
    // The even split's five bounds at its fixed plan (the MILP of one plan).
    let even = verdant::allocator::rules::Even.plan(&scenario)?;
    let start = Instant::now();
    let bound = model.bound_of(&even, &options)?.lower;
    let o = sim.score(&even)?;
    println!(
        "even split: bounds {bound:?} in {:.1} s; simulated {:?}",
        start.elapsed().as_secs_f64(),
        simulated_objectives(&o.objectives())
    );
    if std::env::var("EVEN_ONLY").is_ok() {
        return Ok(());
    }
    println!("| objective | solve s | status | proven lower bound | plan's model value | plan simulated | gap to the lower bound | plan's TTFT s |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let only: Option<usize> = std::env::var("ONLY").ok().map(|k| k.parse()).transpose()?;
    for (k, objective) in BOUND_OBJECTIVES.iter().enumerate() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let mut weights = [0.0; 5];
        weights[k] = 1.0;
        let start = Instant::now();
        let mut bounds = [None; 5];
        if k > 0 {
            bounds[0] = std::env::var("TTFT_CAP")
                .ok()
                .map(|t| t.parse())
                .transpose()?;
        }
        let solved = model.solve(weights, [1.0; 5], bounds, None, &options)?;
        let seconds = start.elapsed().as_secs_f64();
        let (simulated, ttft, spills) = match &solved.plan {
            Some(plan) => {
                let o = sim.score(plan)?;
                (
                    simulated_objectives(&o.objectives())[k],
                    o.latency.mean_ttft_s,
                    sim.spilled(),
                )
            }
            None => (f64::NAN, f64::NAN, false),
        };
        let value = solved.bound[k].unwrap_or(f64::NAN);
        println!(
            "| {objective} | {seconds:.1} | {:?} | {:.6} | {value:.6} | {simulated:.6} | {:.3}% | {ttft:.3} |{}",
            solved.status,
            solved.lower,
            100.0 * (simulated - solved.lower) / simulated,
            if spills { " spills" } else { "" }
        );
    }
    Ok(())
}
