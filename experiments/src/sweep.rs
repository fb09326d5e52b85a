//! `verdant sweep FILE.toml` (issue 23): the runs of one command over the product of a sweep's
//! axes, each in a run directory named by the sweep and its index; `--list` prints them, `--run
//! I` executes one (what a Slurm array task does), `--local -j N` executes every run not yet
//! complete on this machine, `--report` merges the complete runs' tables into mean +- 95% CI per
//! cell of the sweep (the axes' values other than the seed).
//!
//! A run is a child process of this binary (`verdant <command> --run-dir DIR ...`): one code
//! path for a local run and a cluster's, and a run that crashes takes only itself down. A run
//! whose manifest says `complete` is skipped, so an interrupted sweep resumes where it stopped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Deserialize;
use verdant::run::{write_atomic, RunDir, RunStatus};

use crate::stats::mean_ci;

/// The commands that read a configuration and write a run directory: what a sweep may run and
/// what [`crate::check_configuration`] checks.
pub const COMMANDS: [&str; 9] = [
    "demo",
    "simulate",
    "forecast",
    "validate",
    "green-llm",
    "lb",
    "marlin",
    "compare",
    "learn",
];

/// The sweep file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: String,
    command: Vec<String>,
    #[serde(default)]
    config: Option<PathBuf>,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default = "default_out")]
    out: PathBuf,
    table: String,
    #[serde(default)]
    keys: Option<Vec<String>>,
    #[serde(default)]
    axis: Vec<Axis>,
    #[serde(default)]
    slurm: SlurmSection,
}

/// `[slurm]`: the job array's resources (each also a flag of `--slurm`, which wins).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlurmSection {
    /// Wall-clock limit per task (`--time`, e.g. "01:00:00").
    pub time: Option<String>,
    /// Memory per task (`--mem`, e.g. "4G").
    pub mem: Option<String>,
    /// CPUs per task (`--cpus-per-task`).
    pub cpus: Option<u32>,
    /// Partition (`--partition`).
    pub partition: Option<String>,
    /// Tasks running at once (the array's `%` throttle).
    pub throttle: Option<u32>,
}

impl SlurmSection {
    /// This section with the fields `flags` sets replaced.
    pub fn with(&self, flags: &SlurmSection) -> SlurmSection {
        SlurmSection {
            time: flags.time.clone().or_else(|| self.time.clone()),
            mem: flags.mem.clone().or_else(|| self.mem.clone()),
            cpus: flags.cpus.or(self.cpus),
            partition: flags.partition.clone().or_else(|| self.partition.clone()),
            throttle: flags.throttle.or(self.throttle),
        }
    }
}

fn default_out() -> PathBuf {
    PathBuf::from("sweeps")
}

/// One axis: a configuration key (or `seed`, the master seed) and its values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Axis {
    key: String,
    values: Vec<toml::Value>,
}

/// A checked sweep.
#[derive(Debug)]
pub(crate) struct Sweep {
    name: String,
    command: Vec<String>,
    config: Option<PathBuf>,
    set: Vec<String>,
    /// `<out>/<name>/`: the runs' directories, the logs and the merged table.
    root: PathBuf,
    table: String,
    /// The table's columns that identify a row (rows merged over runs share them); `None`:
    /// its text columns.
    keys: Option<Vec<String>>,
    slurm: SlurmSection,
    /// Per axis: its key and its values, each as TOML (for `--set`) and as a label (strings
    /// without their quotes, for the report).
    axes: Vec<(String, Vec<(String, String)>)>,
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SweepRun {
    pub index: usize,
    pub dir: PathBuf,
    /// (axis key, value as a label) in axis order.
    pub point: Vec<(String, String)>,
    /// The arguments after the binary's name.
    pub args: Vec<String>,
    /// The arguments that continue an interrupted attempt in `dir` (`<command> --resume DIR`),
    /// for the commands that resume.
    pub resume_args: Option<Vec<String>>,
}

/// The commands that continue a run directory with `--resume RUN_DIR` (its own resolved
/// configuration): by their words.
const RESUMABLE: [&[&str]; 5] = [
    &["learn"],
    &["validate"],
    &["compare"],
    &["marlin", "train"],
    &["lb", "train"],
];

impl SweepRun {
    /// What to execute: a resumable command's interrupted attempt (its manifest still
    /// `running`, its configuration written) is resumed, so a killed sweep continues where its
    /// runs stopped; anything else runs from the start (the directory emptied first).
    pub fn command_line(&self) -> &[String] {
        let interrupted = matches!(
            RunDir::status_at(&self.dir),
            Some(RunStatus::Running | RunStatus::Interrupted)
        ) && self.dir.join(verdant::run::CONFIG_FILE).is_file();
        match &self.resume_args {
            Some(resume) if interrupted => resume,
            _ => &self.args,
        }
    }
}

impl Sweep {
    /// Reads and checks `file`; errors name the file and the key.
    pub fn load(file: &Path) -> anyhow::Result<Sweep> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the sweep file {}", file.display()))?;
        Sweep::parse(&text, file)
    }

    /// Checks the text of the sweep file `file`; errors name the file and the key.
    pub fn parse(text: &str, file: &Path) -> anyhow::Result<Sweep> {
        let raw: SweepFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.to_string().trim_end()))?;
        let fail = |key: &str, message: String| -> anyhow::Error {
            anyhow::anyhow!("{}: {key}: {message}", file.display())
        };
        if raw.name.is_empty()
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(fail(
                "name",
                format!(
                    "{:?}: use letters, digits, - and _ only (it names a folder)",
                    raw.name
                ),
            ));
        }
        match raw.command.first() {
            Some(c) if COMMANDS.contains(&c.as_str()) => {}
            Some(c) => {
                return Err(fail(
                    "command",
                    format!(
                        "{c:?} is not a command that writes a run directory ({})",
                        COMMANDS.join(", ")
                    ),
                ))
            }
            None => {
                return Err(fail(
                    "command",
                    "empty: name the verdant command, e.g. [\"simulate\"]".into(),
                ))
            }
        }
        if raw.table.is_empty() || raw.table.contains('/') {
            return Err(fail(
                "table",
                format!(
                    "{:?}: the name of the CSV file each run writes (e.g. \"objectives.csv\")",
                    raw.table
                ),
            ));
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let config = raw.config.map(|c| base.join(c));
        if let Some(c) = &config {
            if !c.is_file() {
                return Err(fail("config", format!("no file {}", c.display())));
            }
        }
        let mut axes = Vec::new();
        for (k, axis) in raw.axis.into_iter().enumerate() {
            let key = format!("axis[{k}]");
            if axis.values.is_empty() {
                return Err(fail(&format!("{key}.values"), "at least one value".into()));
            }
            if axes
                .iter()
                .any(|(name, _): &(String, Vec<_>)| *name == axis.key)
            {
                return Err(fail(
                    &format!("{key}.key"),
                    format!("{:?} is an axis twice", axis.key),
                ));
            }
            let values: Vec<(String, String)> = axis
                .values
                .iter()
                .map(|v| {
                    let label = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (v.to_string(), label)
                })
                .collect();
            if axis.key == "seed" {
                if let Some(v) = axis
                    .values
                    .iter()
                    .find(|v| v.as_integer().is_none_or(|i| i < 0))
                {
                    return Err(fail(
                        &format!("{key}.values"),
                        format!("{v}: a seed is a whole number >= 0"),
                    ));
                }
            }
            axes.push((axis.key, values));
        }
        Ok(Sweep {
            root: raw.out.join(&raw.name),
            name: raw.name,
            command: raw.command,
            config,
            set: raw.set,
            table: raw.table,
            keys: raw.keys,
            slurm: raw.slurm,
            axes,
        })
    }

    /// Every run, in index order: the product of the axes, the last axis fastest.
    pub fn runs(&self) -> Vec<SweepRun> {
        let total: usize = self.axes.iter().map(|(_, v)| v.len()).product();
        (0..total)
            .map(|index| {
                let mut rest = index;
                // (key, TOML, label) of each axis.
                let mut point =
                    vec![(String::new(), String::new(), String::new()); self.axes.len()];
                for (slot, (key, values)) in point.iter_mut().zip(&self.axes).rev() {
                    let (toml, label) = &values[rest % values.len()];
                    *slot = (key.clone(), toml.clone(), label.clone());
                    rest /= values.len();
                }
                let dir = self.root.join(format!("run-{index:04}"));
                let mut args = self.command.clone();
                args.extend([
                    "--quiet".to_owned(),
                    "--run-dir".to_owned(),
                    dir.display().to_string(),
                ]);
                if let Some(c) = &self.config {
                    args.extend(["--config".to_owned(), c.display().to_string()]);
                }
                for s in &self.set {
                    args.extend(["--set".to_owned(), s.clone()]);
                }
                for (key, toml, _) in &point {
                    if key == "seed" {
                        args.extend(["--seed".to_owned(), toml.clone()]);
                    } else {
                        args.extend(["--set".to_owned(), format!("{key}={toml}")]);
                    }
                }
                let resume_args = RESUMABLE
                    .iter()
                    .find(|words| {
                        self.command
                            .starts_with(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
                    })
                    .map(|words| {
                        let mut a: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                        a.extend([
                            "--quiet".to_owned(),
                            "--resume".to_owned(),
                            dir.display().to_string(),
                        ]);
                        a
                    });
                SweepRun {
                    index,
                    dir,
                    point: point.into_iter().map(|(k, _, label)| (k, label)).collect(),
                    args,
                    resume_args,
                }
            })
            .collect()
    }
}

/// Whether the run directory `dir` holds a finished run (complete, or partial: a comparison
/// one of whose methods failed, which running it again would not change).
fn complete(dir: &Path) -> bool {
    RunDir::status_at(dir).is_some_and(RunStatus::is_finished)
}

/// What `verdant sweep` was asked to do.
pub(crate) enum Action {
    List,
    Run(usize),
    Local {
        jobs: usize,
    },
    Report,
    /// Write the job array's script and (unless `dry_run`) submit it; `wait` until it ends.
    Slurm {
        flags: SlurmSection,
        dry_run: bool,
        wait: bool,
    },
}

pub fn run(file: &Path, action: Action) -> anyhow::Result<()> {
    let sweep = Sweep::load(file)?;
    let runs = sweep.runs();
    match action {
        Action::List => {
            for r in &runs {
                let failed = sweep
                    .root
                    .join("logs")
                    .join(format!("run-{:04}.failed", r.index))
                    .is_file();
                let status = match RunDir::status_at(&r.dir) {
                    Some(RunStatus::Complete) => "complete",
                    Some(RunStatus::Partial) => "partial",
                    Some(RunStatus::Failed) => "failed",
                    _ if failed => "failed",
                    Some(RunStatus::Running) => "running",
                    Some(RunStatus::Interrupted) => "interrupted",
                    None => "-",
                };
                println!(
                    "{:>4}  {:<8}  {}  verdant {}",
                    r.index,
                    status,
                    r.dir.display(),
                    r.args.join(" ")
                );
            }
            Ok(())
        }
        Action::Run(i) => {
            let Some(r) = runs.get(i) else {
                bail!(
                    "{}: run {i} does not exist (the sweep has {} runs, 0..{})",
                    file.display(),
                    runs.len(),
                    runs.len()
                )
            };
            if complete(&r.dir) {
                println!("run {i} is complete ({}): nothing to do", r.dir.display());
                return Ok(());
            }
            let status = Command::new(std::env::current_exe()?)
                .args(r.command_line())
                .status()
                .context("starting the run")?;
            if !status.success() {
                bail!("run {i} ({}) failed: {status}", r.dir.display());
            }
            Ok(())
        }
        Action::Local { jobs } => local(&sweep, &runs, jobs.max(1)),
        Action::Slurm {
            flags,
            dry_run,
            wait,
        } => slurm(
            &sweep,
            file,
            &runs,
            &sweep.slurm.with(&flags),
            dry_run,
            wait,
        ),
        Action::Report => {
            let text = report(&sweep, &runs)?;
            print!("{text}");
            Ok(())
        }
    }
}

/// Executes every run not yet complete, `jobs` at once; each run's output goes to
/// `<root>/logs/run-<index>.log`. Failed runs are named at the end (and the status is an error).
fn local(sweep: &Sweep, runs: &[SweepRun], jobs: usize) -> anyhow::Result<()> {
    let logs = sweep.root.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let todo: Vec<&SweepRun> = runs.iter().filter(|r| !complete(&r.dir)).collect();
    println!(
        "sweep {}: {} runs, {} complete, {} to run, {jobs} at a time",
        sweep.name,
        runs.len(),
        runs.len() - todo.len(),
        todo.len()
    );
    let exe = std::env::current_exe()?;
    let mut queue = todo.into_iter();
    let mut running: Vec<(&SweepRun, Child, Instant, RunLog)> = Vec::new();
    let mut failed = Vec::new();
    let mut done = 0;
    loop {
        while running.len() < jobs {
            let Some(r) = queue.next() else { break };
            verdant::run::kill_point("sweep-run");
            let (log, file) = RunLog::create(&logs, r.index)?;
            let child = Command::new(&exe)
                .args(r.command_line())
                .stdin(Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .with_context(|| format!("starting run {}", r.index))?;
            running.push((r, child, Instant::now(), log));
        }
        if running.is_empty() {
            break;
        }
        let mut k = 0;
        while k < running.len() {
            if let Some(status) = running[k].1.try_wait()? {
                let (r, _, started, log) = running.swap_remove(k);
                log.finish()?;
                done += 1;
                let marker = logs.join(format!("run-{:04}.failed", r.index));
                let verdict = if status.success() && complete(&r.dir) {
                    let _ = std::fs::remove_file(&marker);
                    "complete".to_owned()
                } else {
                    // Recorded beside the log, for --list (a run can fail before its run
                    // directory exists, in its configuration).
                    write_atomic(&marker, format!("{status}\n").as_bytes())?;
                    failed.push(r.index);
                    format!(
                        "FAILED ({status}; log {})",
                        logs.join(format!("run-{:04}.log", r.index)).display()
                    )
                };
                println!(
                    "run {:>4} ({done}/{}) {verdict} in {:.1} s",
                    r.index,
                    runs.len(),
                    started.elapsed().as_secs_f64()
                );
            } else {
                k += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !failed.is_empty() {
        failed.sort_unstable();
        bail!(
            "sweep {}: {} of {} runs failed ({}); their logs are in {}; run the sweep again to retry them",
            sweep.name,
            failed.len(),
            runs.len(),
            failed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            logs.display()
        );
    }
    Ok(())
}

/// A run's log: `.run-<I>.log.partial` while the run goes, renamed to `run-<I>.log` when it
/// ends (a log under its final name is a whole one).
struct RunLog {
    partial: PathBuf,
    done: PathBuf,
}

impl RunLog {
    fn create(logs: &Path, index: usize) -> anyhow::Result<(RunLog, std::fs::File)> {
        let partial = logs.join(format!(".run-{index:04}.log.partial"));
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        let done = logs.join(format!("run-{index:04}.log"));
        Ok((RunLog { partial, done }, file))
    }

    fn finish(self) -> anyhow::Result<()> {
        std::fs::rename(&self.partial, &self.done)
            .with_context(|| format!("renaming {} into place", self.partial.display()))
    }
}

/// Writes `<root>/sweep.sbatch`, a job array of the runs not yet complete (task I runs `verdant
/// sweep FILE --run I`, its output in `<root>/logs/run-<I>.log`), and submits it with `sbatch`
/// (printing the job id), unless `dry_run`; with `wait`, returns when the array has ended.
fn slurm(
    sweep: &Sweep,
    file: &Path,
    runs: &[SweepRun],
    resources: &SlurmSection,
    dry_run: bool,
    wait: bool,
) -> anyhow::Result<()> {
    let todo: Vec<String> = runs
        .iter()
        .filter(|r| !complete(&r.dir))
        .map(|r| r.index.to_string())
        .collect();
    if todo.is_empty() {
        println!(
            "sweep {}: every run is complete; nothing to submit",
            sweep.name
        );
        return Ok(());
    }
    let absolute = |p: &Path| -> anyhow::Result<PathBuf> {
        std::path::absolute(p).with_context(|| format!("the absolute path of {}", p.display()))
    };
    let root = absolute(&sweep.root)?;
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut script = String::from("#!/bin/bash\n");
    writeln!(script, "#SBATCH --job-name=verdant-{}", sweep.name)?;
    let throttle = resources
        .throttle
        .map_or(String::new(), |t| format!("%{t}"));
    writeln!(script, "#SBATCH --array={}{throttle}", todo.join(","))?;
    writeln!(script, "#SBATCH --output={}/run-%4a.log", logs.display())?;
    if let Some(t) = &resources.time {
        writeln!(script, "#SBATCH --time={t}")?;
    }
    if let Some(m) = &resources.mem {
        writeln!(script, "#SBATCH --mem={m}")?;
    }
    if let Some(c) = resources.cpus {
        writeln!(script, "#SBATCH --cpus-per-task={c}")?;
    }
    if let Some(p) = &resources.partition {
        writeln!(script, "#SBATCH --partition={p}")?;
    }
    writeln!(script, "set -euo pipefail")?;
    writeln!(
        script,
        "cd {}",
        shell_quote(&absolute(Path::new("."))?.display().to_string())
    )?;
    writeln!(
        script,
        "exec {} sweep {} --run \"$SLURM_ARRAY_TASK_ID\"",
        shell_quote(&std::env::current_exe()?.display().to_string()),
        shell_quote(&absolute(file)?.display().to_string())
    )?;
    let path = root.join("sweep.sbatch");
    write_atomic(&path, script.as_bytes())?;
    if dry_run {
        print!("{script}");
        println!("# written to {} (not submitted: --dry-run)", path.display());
        return Ok(());
    }
    let mut sbatch = Command::new("sbatch");
    sbatch.arg("--parsable");
    if wait {
        sbatch.arg("--wait");
    }
    let out = sbatch
        .arg(&path)
        .output()
        .context("running sbatch (is Slurm installed and SLURM_CONF set?)")?;
    let job = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        bail!(
            "sbatch {} failed ({}): {}{}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            if job.is_empty() {
                String::new()
            } else {
                format!(" (job {job})")
            }
        );
    }
    println!(
        "sweep {}: submitted job {job}, {} tasks ({} of {} runs not complete); logs in {}",
        sweep.name,
        todo.len(),
        todo.len(),
        runs.len(),
        logs.display()
    );
    Ok(())
}

/// `s` quoted for bash where it needs it.
fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Merges the complete runs' tables: rows grouped by the cell (the axes but the seed) and the
/// table's text columns; per numeric column the mean and the 95% CI's half-width over the runs
/// (a column named `seed` is left out). Writes `<root>/report.csv` and returns it as text.
fn report(sweep: &Sweep, runs: &[SweepRun]) -> anyhow::Result<String> {
    let cell_keys: Vec<&str> = sweep
        .axes
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "seed")
        .collect();
    // (cell values, key column values) -> column -> values over runs.
    type Group = BTreeMap<String, Vec<f64>>;
    let mut order: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut groups: BTreeMap<(Vec<String>, Vec<String>), (Group, usize)> = BTreeMap::new();
    let mut header: Option<(Vec<String>, Vec<bool>)> = None;
    let mut missing = Vec::new();
    for r in runs {
        if !complete(&r.dir) {
            missing.push(r.index);
            continue;
        }
        let path = r.dir.join(&sweep.table);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let names: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", path.display()))?;
        // A column is a key where the sweep names it so (or, without `keys`, where it holds
        // text); the others are values: numbers, or empty where a row has none.
        let numeric: Vec<bool> = (0..names.len())
            .map(|c| match &sweep.keys {
                Some(keys) => !keys.contains(&names[c]),
                None => {
                    rows.iter()
                        .any(|row| row.get(c).is_some_and(|v| !v.is_empty()))
                        && rows.iter().all(|row| {
                            row.get(c)
                                .is_some_and(|v| v.is_empty() || v.parse::<f64>().is_ok())
                        })
                }
            })
            .collect();
        if let Some(keys) = &sweep.keys {
            if let Some(k) = keys.iter().find(|k| !names.contains(k)) {
                bail!(
                    "{}: no column {k:?}, which the sweep's `keys` names",
                    path.display()
                );
            }
        }
        match &header {
            None => header = Some((names.clone(), numeric.clone())),
            Some((h, _)) if *h != names => bail!(
                "{}: its columns ({}) are not the first run's ({})",
                path.display(),
                names.join(","),
                h.join(",")
            ),
            _ => {}
        }
        let numeric = &header.as_ref().expect("set above").1;
        let cell: Vec<String> = r
            .point
            .iter()
            .filter(|(k, _)| k != "seed")
            .map(|(_, v)| v.clone())
            .collect();
        for row in rows {
            let keys: Vec<String> = (0..names.len())
                .filter(|&c| !numeric[c] && names[c] != "seed")
                .map(|c| row[c].clone())
                .collect();
            let id = (cell.clone(), keys);
            if !groups.contains_key(&id) {
                order.push(id.clone());
            }
            let (group, n) = groups.entry(id).or_default();
            *n += 1;
            for c in (0..names.len()).filter(|&c| numeric[c] && names[c] != "seed") {
                if row[c].is_empty() {
                    continue;
                }
                let v: f64 = row[c].parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}: column {}: {:?} is not a number, as it is in the first run's table",
                        path.display(),
                        names[c],
                        row[c]
                    )
                })?;
                group.entry(names[c].clone()).or_default().push(v);
            }
        }
    }
    let Some((names, numeric)) = header else {
        bail!("sweep {}: no run is complete yet", sweep.name)
    };
    let key_columns: Vec<&str> = (0..names.len())
        .filter(|&c| !numeric[c] && names[c] != "seed")
        .map(|c| names[c].as_str())
        .collect();
    let value_columns: Vec<&str> = (0..names.len())
        .filter(|&c| numeric[c] && names[c] != "seed")
        .map(|c| names[c].as_str())
        .collect();
    let mut csv = String::new();
    let mut head: Vec<String> = cell_keys.iter().map(|k| (*k).to_owned()).collect();
    head.extend(key_columns.iter().map(|k| (*k).to_owned()));
    head.push("runs".to_owned());
    for v in &value_columns {
        head.push(format!("{v}_mean"));
        head.push(format!("{v}_ci95"));
    }
    writeln!(csv, "{}", head.join(","))?;
    for id in order {
        let (group, n) = &groups[&id];
        let mut fields: Vec<String> = id.0.iter().chain(&id.1).map(|v| csv_field(v)).collect();
        fields.push(n.to_string());
        for v in &value_columns {
            match group.get(*v) {
                Some(values) => {
                    let (mean, half) = mean_ci(values);
                    fields.push(mean.to_string());
                    fields.push(half.to_string());
                }
                None => fields.extend([String::new(), String::new()]),
            }
        }
        writeln!(csv, "{}", fields.join(","))?;
    }
    write_atomic(&sweep.root.join("report.csv"), csv.as_bytes())?;
    if !missing.is_empty() {
        eprintln!(
            "sweep {}: {} of {} runs not complete (left out): {}",
            sweep.name,
            missing.len(),
            runs.len(),
            missing
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(csv)
}

/// A CSV field, quoted where it must be.
fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}
