//! The command line: subcommands and the flags every subcommand shares.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Verdant: where should LLM inference run? Optimal and learned allocations of inference requests
/// across datacenters, scored by one simulator of latency, energy, cost, water and carbon.
#[derive(Debug, Parser)]
#[command(name = "verdant", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub shared: SharedArgs,
}

/// Flags every experiment accepts.
#[derive(Debug, Clone, Args)]
pub struct SharedArgs {
    /// TOML file laid over the experiment's built-in defaults (print those with --print-config).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Override one configuration key, e.g. --set mlp.steps=200 (repeatable; applied after
    /// --config, in order; the value is read as TOML, or as a string when it is not valid TOML).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,

    /// Master seed of the run (overrides the config's `seed`); every random stream derives from it.
    #[arg(long, global = true, value_name = "N")]
    pub seed: Option<u64>,

    /// Root folder for run directories: DIR/<experiment>/<UTC time>-seed<N>/.
    #[arg(long, global = true, value_name = "DIR", default_value = "runs")]
    pub out: PathBuf,

    /// Write the run into DIR itself instead of under --out (what `verdant sweep` gives each
    /// run); an earlier attempt there that did not complete is replaced, a complete run is an
    /// error.
    #[arg(long, global = true, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,

    /// Print the resolved configuration (defaults, --config, --set, --seed) as TOML and exit
    /// without running anything.
    #[arg(long, global = true)]
    pub print_config: bool,

    /// No progress bars and no log lines; only results and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the toolchain end to end on a small problem: an LP and a MILP dispatch with HiGHS and
    /// an MLP fit with libtorch, written to a run directory.
    Demo,
    /// Score a simple rule's plan (even split or nearest datacenter) or a plan file on a
    /// scenario with the fluid and discrete-event simulators; writes per datacenter-epoch series,
    /// per-request records and the objective vectors to a run directory.
    Simulate,
    /// MARLIN's workload predictor on a scenario's held-out days (its season learned from the
    /// training days where `marlin.predictor_season = "auto"`), beside the seasonal-naive
    /// forecast (the same epoch a day before) and the last value: one epoch ahead, total
    /// requests per epoch; writes forecast.csv and forecast.md (scenario and predictor settings
    /// from configs/marlin.toml, e.g. --set scenario=geo-8dc-14d).
    Forecast,
    /// The fluid and discrete-event fidelities side by side on the geo scenarios at loads from
    /// 0.2 to 1.1 of nominal, for the even, nearest and greedy plans (mean and percentile TTFT,
    /// energy, carbon, water, cost, SLO violations, dropped requests; discrete-event figures
    /// with their sampling error), and both against queueing theory on a single-lane world;
    /// writes fidelities.csv, analytic.csv, report.md and plots (configs/validate.toml).
    Validate {
        /// Continue the validation in RUN_DIR with its own resolved configuration: the
        /// discrete-event runs it finished (discrete-event/run-<n>.txt) are read back, the
        /// others run.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
    },
    /// Green-LLM on a scenario with its terms (green-llm-base by default): weighted models M0-M3,
    /// lexicographic optimisation in all six orders, the epsilon-constraint front and its
    /// hypervolume, and the paper's sensitivity sweeps; CSV tables in a run directory.
    GreenLlm,
    /// The single-agent RL load balancer (PPO, A2C, DQN) against Round Robin, Least
    /// Connections, Least Loaded, Random, capacity-normalised Least Loaded and Shortest Expected
    /// Delay on a load-balancer scenario (lb-nominal by default; configs/lb.toml).
    Lb {
        #[command(subcommand)]
        action: LbAction,
    },
    /// MARLIN's five schemes (two-phase multi-agent SAC with FiLM and hindsight replay,
    /// capital-weighted voting and vetoes) on a geo scenario (geo-8dc by default;
    /// configs/marlin.toml).
    Marlin {
        #[command(subcommand)]
        action: MarlinAction,
    },
    /// The main job: the exact reference front (the fluid accounting as an LP, solved by HiGHS)
    /// beside MARLIN's schemes, the load balancer in geo mode and the simple rules on geo-8dc;
    /// every plan scored by the fluid (and representative plans by the discrete-event)
    /// simulator; writes fronts.csv, indicators.csv (PHV, PHV ratio to the exact front, gap per
    /// objective), report.md and plots (configs/compare.toml, laid over marlin.toml and lb.toml).
    Compare {
        /// Paper-scale budgets (3 seeds, MARLIN 10 days with k_opt 8, the load balancer 200k
        /// steps, a 5^3 epsilon lattice): hours instead of minutes on a 2-core CPU.
        #[arg(long)]
        full: bool,
        /// Continue the comparison in RUN_DIR with its own resolved configuration: the methods
        /// it finished (methods/<name>.json) are read back and scored again, MARLIN and the
        /// load balancer continue from their checkpoints, the others run.
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "full")]
        resume: Option<PathBuf>,
    },
    /// Learning curves (issue 21): every learned method (MARLIN's schemes at each k_opt, with
    /// the untrained and even-split controls; Q-learning, Double DQN, Actor-Critic) trained at
    /// log-spaced budgets for several seeds and scored on the held-out days against the
    /// certified exact front; writes cells.csv, curves.csv, report.md and plots
    /// (configs/learn.toml, laid over compare's defaults). Resumable.
    Learn {
        /// Continue the study in RUN_DIR with its own resolved configuration: the cells it has
        /// are kept, MARLIN's runs continue from their checkpoints.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
        /// With --resume: write the tables, verdicts and plots from the cells the run has and
        /// train nothing (a stopped study's state, each budget with the seeds it has).
        #[arg(long, requires = "resume")]
        report_only: bool,
    },
    /// Merge the indicators of several `verdant compare` run directories (seeds run on
    /// different machines, say) into one table printed to stdout. Writes nothing.
    Report {
        /// Run directories of verdant compare.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
    },
    /// A sweep (issue 23): the runs of one command over the product of a sweep file's axes
    /// (configuration keys or the seed), each in `<out>/<name>/run-<index>/`, on this machine
    /// or as a Slurm job array. With none of the flags below, --list. Runs already complete are skipped, so a sweep resumes; failed runs
    /// are named. docs/sweeps.md.
    Sweep {
        /// The sweep file (TOML: name, command, config, set, out, table, [[axis]] key/values).
        file: PathBuf,
        /// Print every run: index, status, directory and its command line.
        #[arg(long, conflicts_with_all = ["run", "local", "report"])]
        list: bool,
        /// Execute run I (what each task of a cluster's job array does).
        #[arg(long, value_name = "I", conflicts_with_all = ["local", "report"])]
        run: Option<usize>,
        /// Execute every run not yet complete on this machine, --jobs at a time; each run's
        /// output goes to <out>/<name>/logs/.
        #[arg(long, conflicts_with = "report")]
        local: bool,
        /// Runs at once with --local.
        #[arg(long, short = 'j', default_value_t = 1, value_name = "N")]
        jobs: usize,
        /// Merge the complete runs' tables (the sweep's `table`) into mean ± 95% CI per cell of
        /// the sweep (the axes' values but the seed); prints it and writes <out>/<name>/report.csv.
        #[arg(long, conflicts_with = "slurm")]
        report: bool,
        /// Write <out>/<name>/sweep.sbatch, a Slurm job array of the runs not yet complete
        /// (task I runs `verdant sweep FILE --run I`), and submit it with sbatch, printing the
        /// job id. Resources from the sweep file's [slurm] section or the flags below.
        #[arg(long, conflicts_with_all = ["list", "run", "local"])]
        slurm: bool,
        /// With --slurm: write and print the script, submit nothing.
        #[arg(long, requires = "slurm")]
        dry_run: bool,
        /// With --slurm: return only when the job array has ended (sbatch --wait).
        #[arg(long, requires = "slurm")]
        wait: bool,
        /// With --slurm: wall-clock limit per task (e.g. 01:00:00).
        #[arg(long, requires = "slurm", value_name = "TIME")]
        time: Option<String>,
        /// With --slurm: memory per task (e.g. 4G).
        #[arg(long, requires = "slurm", value_name = "MEM")]
        mem: Option<String>,
        /// With --slurm: CPUs per task.
        #[arg(long, requires = "slurm", value_name = "N")]
        cpus: Option<u32>,
        /// With --slurm: the partition.
        #[arg(long, requires = "slurm", value_name = "NAME")]
        partition: Option<String>,
        /// With --slurm: tasks running at once (the array's % throttle).
        #[arg(long, requires = "slurm", value_name = "N")]
        throttle: Option<u32>,
    },
    /// Print the exact hypervolume of each point set of FILE (moocore's whitespace format, or
    /// CSV with a name:unit:min|max header; maximised objectives are negated).
    Hv {
        /// The point file.
        file: PathBuf,
        /// Reference point: comma-separated values, `worst` (worst observed value of each
        /// objective over all sets) or `nadir*F` (the worst observed values times F).
        #[arg(long = "ref", default_value = "worst", value_name = "REF")]
        reference: String,
        /// Normalise first: `observed` (min and max over all sets) or d lower then d upper
        /// bounds, comma-separated. The reference point applies after normalising.
        #[arg(long, value_name = "BOUNDS")]
        normalise: Option<String>,
        /// Compute each value this many times and print the time per call (for benchmarks).
        #[arg(long, default_value_t = 1, value_name = "N")]
        repeat: u32,
    },
    /// Print the non-dominated rows of each point set of FILE (moocore's format).
    Front {
        /// The point file.
        file: PathBuf,
    },
    /// Load and check a scenario (a bundled name such as geo-8dc, or a TOML file) and print a
    /// summary. Writes nothing. Uses --seed (default 0) for the random parts of trace demand, and
    /// --set for load-balancer scenarios.
    Scenario {
        /// Bundled scenario name or path to a scenario TOML file.
        scenario: String,
    },
    /// Read a trace file, streaming, and print its size, span, token means and peak per epoch.
    /// Writes nothing.
    Trace {
        /// The trace file.
        file: PathBuf,
        /// The file's format; `auto` tells it from the first line (a JSON object is Mooncake's,
        /// a CSV header the format whose columns it names).
        #[arg(long, value_enum, default_value = "auto")]
        format: TraceFormatArg,
        /// Skip malformed lines and report how many and why, instead of stopping at the first.
        #[arg(long)]
        lenient: bool,
        /// Epoch length for the peak requests per epoch, seconds.
        #[arg(long, default_value_t = 900.0, value_name = "S")]
        epoch_s: f64,
    },
}

/// What `verdant lb` does.
#[derive(Debug, Subcommand)]
pub enum LbAction {
    /// Train every configured algorithm for every seed (in parallel), with checkpoints in
    /// agents/<algorithm>/seed-<k>/ and learning curves (curve.csv, learning_curves.svg/png).
    Train {
        /// Continue the training run in RUN_DIR from its checkpoints, with its own resolved
        /// configuration (other configuration flags are ignored).
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
    },
    /// Evaluate the agents of a finished training run and the six baselines on the held-out
    /// tail (deterministic, one episode per seed); writes evaluation.csv, per_server.csv,
    /// table.md and plots into a new run directory.
    Eval {
        /// The training run directory (from `verdant lb train`).
        run: PathBuf,
    },
    /// Train and evaluate in one run directory and print the table.
    Table,
    /// Geo mode: train the agents to route a geo scenario's requests across its datacenters
    /// ([geo] in configs/lb.toml, geo-8dc by default), turn every agent's and baseline's routing
    /// into a plan and score it with the fluid simulator beside the even and nearest rules;
    /// writes geo_objectives.csv and geo.md.
    Geo,
}

/// What `verdant marlin` does.
#[derive(Debug, Subcommand)]
pub enum MarlinAction {
    /// Train every configured scheme for every seed (in parallel), checkpointing after each day
    /// into schemes/<scheme>/seed-<k>/ with the per-epoch log (epochs.csv); score the final
    /// plans (fluid and discrete-event) and write schemes.csv, archive.csv, front.csv (with its
    /// PHV in marlin.md), marlin.md and plots.
    Train {
        /// Continue the run in RUN_DIR from its checkpoints, with its own resolved configuration.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
    },
    /// Re-score the final plans of a finished training run into a new run directory.
    Eval {
        /// The training run directory (from `verdant marlin train`).
        run: PathBuf,
    },
    /// MARLIN's schemes beside the eight frameworks of its section 6 (Helix, Splitwise, NSGA-II,
    /// PerLLM, SLIT, Q-learning, Double DQN, Actor-Critic) and simple rules on the scenario:
    /// objectives with 95% CIs, PHV per framework (reference: worst observed), the paper's
    /// headline claims beside what is measured ([compare] in configs/marlin.toml).
    Compare,
    /// PHV of MARLIN and every framework on geo-4dc to geo-12dc (compare.scalability_*).
    Scale,
    /// MARLIN without each component (veto, blending, FiLM, HER, capital, predictor): PHV over
    /// the full model's (compare.ablation_*).
    Ablation,
}

/// Trace formats on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TraceFormatArg {
    /// Told from the first line.
    Auto,
    /// Azure LLM inference traces, 2023 and 2024 (TIMESTAMP, ContextTokens, GeneratedTokens).
    Azure,
    /// BurstGPT (Timestamp, Model, Request tokens, Response tokens, ...).
    Burstgpt,
    /// Vidur and Splitwise request traces (arrived_at, num_prefill_tokens, num_decode_tokens).
    Vidur,
    /// Mooncake JSON lines (timestamp in ms, input_length, output_length, hash_ids).
    Mooncake,
}

impl From<TraceFormatArg> for verdant::trace::TraceFormat {
    fn from(f: TraceFormatArg) -> Self {
        use verdant::trace::TraceFormat;
        match f {
            TraceFormatArg::Auto => TraceFormat::Auto,
            TraceFormatArg::Azure => TraceFormat::Azure,
            TraceFormatArg::Burstgpt => TraceFormat::BurstGpt,
            TraceFormatArg::Vidur => TraceFormat::Vidur,
            TraceFormatArg::Mooncake => TraceFormat::Mooncake,
        }
    }
}
