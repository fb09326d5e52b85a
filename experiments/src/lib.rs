//! The `verdant` command-line tool as a library: the binary (`src/main.rs`) calls [`main`],
//! which parses the command line, sets up logging, dispatches to an experiment and turns errors
//! into a message and an exit status. [`check_configuration`] and [`check_sweep_file`] are the
//! command line's readers of configuration and sweep files without running anything (the fuzz
//! targets' entry points, `fuzz/`).

// Shared layers: the command line, runs, the method registry, training of the learned methods,
// scoring, indicators, reports, statistics and plots.
mod certify;
mod cli;
mod comparison;
mod indicators;
mod methods;
mod plots;
mod reports;
mod run;
mod scoring;
mod stats;
mod training;

// One module per command (none imports another).
mod compare;
mod demo;
mod forecast;
mod green_llm;
mod inspect;
mod lb;
mod learn;
mod marlin;
mod marlin_compare;
mod pareto_cmd;
mod simulate;
mod sweep;
mod validate;

use std::process::ExitCode;

use clap::Parser;
use verdant::config::Layered;

pub use sweep::COMMANDS as CONFIGURED_COMMANDS;

/// Resolves `verdant <command>`'s configuration as its command line would (the built-in
/// defaults, `config` as the text of a `--config` file, each of `overrides` as a `--set`) and
/// checks it into the command's typed configuration, running nothing. `command` is one of
/// [`CONFIGURED_COMMANDS`].
pub fn check_configuration(
    command: &str,
    config: Option<&str>,
    overrides: &[String],
) -> anyhow::Result<()> {
    let upper = config
        .map(|text| Layered::parse(text, "the --config document"))
        .transpose()?;
    let resolve = |defaults: &str| run::layer(defaults, command, upper.clone(), overrides, None);
    match command {
        "demo" => demo::check_config(&resolve(demo::DEFAULTS)?)?,
        "simulate" => simulate::check_config(&resolve(simulate::DEFAULTS)?)?,
        "validate" => validate::check_config(&resolve(validate::DEFAULTS)?)?,
        "green-llm" => green_llm::check_config(&resolve(green_llm::DEFAULTS)?)?,
        "lb" => drop(resolve(training::lb::DEFAULTS)?.checked::<training::lb::LbDoc>()?),
        "marlin" | "forecast" => {
            drop(resolve(training::marlin::DEFAULTS)?.checked::<training::marlin::MarlinDoc>()?)
        }
        "compare" => {
            drop(resolve(&comparison::defaults(false)?)?.checked::<comparison::CompareDoc>()?)
        }
        "learn" => {
            drop(resolve(&comparison::learn_defaults()?)?.checked::<comparison::CompareDoc>()?)
        }
        other => anyhow::bail!("{other}: not a command with a configuration"),
    }
    Ok(())
}

/// Reads and checks a sweep file's text as `verdant sweep` reads `path`, running nothing.
pub fn check_sweep_file(text: &str, path: &std::path::Path) -> anyhow::Result<()> {
    sweep::Sweep::parse(text, path).map(drop)
}

/// The `verdant` binary.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let default_level = if cli.shared.quiet { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let result = match &cli.command {
        cli::Command::Demo => demo::run(&cli.shared),
        cli::Command::Simulate => simulate::run(&cli.shared),
        cli::Command::Forecast => forecast::run(&cli.shared),
        cli::Command::Validate { resume } => validate::run(resume.as_deref(), &cli.shared),
        cli::Command::GreenLlm => green_llm::run(&cli.shared),
        cli::Command::Lb { action } => lb::run(action, &cli.shared),
        cli::Command::Compare { full, resume } => {
            compare::run(*full, resume.as_deref(), &cli.shared)
        }
        cli::Command::Report { runs } => compare::report(runs),
        cli::Command::Learn {
            resume,
            report_only,
        } => learn::run(resume.as_deref(), *report_only, &cli.shared),
        cli::Command::Marlin {
            action:
                action @ (cli::MarlinAction::Compare
                | cli::MarlinAction::Scale
                | cli::MarlinAction::Ablation),
        } => marlin_compare::run(action, &cli.shared),
        cli::Command::Marlin { action } => marlin::run(action, &cli.shared),
        cli::Command::Hv {
            file,
            reference,
            normalise,
            repeat,
        } => pareto_cmd::hv(file, reference, normalise.as_deref(), *repeat),
        cli::Command::Front { file } => pareto_cmd::front(file),
        cli::Command::Sweep {
            file,
            list: _,
            run,
            local,
            jobs,
            report,
            slurm,
            dry_run,
            wait,
            time,
            mem,
            cpus,
            partition,
            throttle,
        } => {
            let action = match (run, local, report, slurm) {
                (Some(i), ..) => sweep::Action::Run(*i),
                (None, true, ..) => sweep::Action::Local { jobs: *jobs },
                (None, false, true, _) => sweep::Action::Report,
                (None, false, false, true) => sweep::Action::Slurm {
                    flags: sweep::SlurmSection {
                        time: time.clone(),
                        mem: mem.clone(),
                        cpus: *cpus,
                        partition: partition.clone(),
                        throttle: *throttle,
                    },
                    dry_run: *dry_run,
                    wait: *wait,
                },
                (None, false, false, false) => sweep::Action::List,
            };
            sweep::run(file, action)
        }
        cli::Command::Scenario { scenario } => inspect::scenario(scenario, &cli.shared),
        cli::Command::Trace {
            file,
            format,
            lenient,
            epoch_s,
        } => inspect::trace(file, (*format).into(), *lenient, *epoch_s),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
