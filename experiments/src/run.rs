//! What every experiment does around its own work: resolve the configuration, create the run
//! directory, write the manifest at the start and at the end, show progress.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use verdant::config::Layered;
use verdant::run::{Manifest, RunDir, RunStatus, CONFIG_FILE};

use crate::cli::SharedArgs;

/// Layers the experiment's built-in defaults, `--config`, `--set` and `--seed`.
fn resolve_config(
    defaults: &str,
    experiment: &str,
    shared: &SharedArgs,
) -> anyhow::Result<Layered> {
    let upper = shared.config.as_deref().map(Layered::read).transpose()?;
    Ok(layer(
        defaults,
        experiment,
        upper,
        &shared.overrides,
        shared.seed,
    )?)
}

/// Layers `defaults`, the `--config` document, the `--set` assignments and the `--seed`.
pub(crate) fn layer(
    defaults: &str,
    experiment: &str,
    config: Option<Layered>,
    overrides: &[String],
    seed: Option<u64>,
) -> Result<Layered, verdant::config::ConfigError> {
    let mut layered = Layered::parse(defaults, &format!("built-in defaults of {experiment}"))?;
    if let Some(upper) = config {
        layered.merge(upper);
    }
    for assignment in overrides {
        layered.set(assignment)?;
    }
    if let Some(seed) = seed {
        layered.set_value("seed", seed)?;
    }
    Ok(layered)
}

/// Resolves and checks an experiment's configuration. With `--print-config` it prints the
/// resolved document and returns `None`: the experiment then runs nothing.
pub fn configure<P>(
    defaults: &str,
    experiment: &str,
    shared: &SharedArgs,
) -> anyhow::Result<Option<(Layered, P::Checked)>>
where
    P: serde::de::DeserializeOwned + verdant::config::Validate,
{
    let config = resolve_config(defaults, experiment, shared)?;
    if shared.print_config {
        print!("{}", config.to_toml_string());
        return Ok(None);
    }
    let checked = config.checked::<P>()?;
    Ok(Some((config, checked)))
}

/// The resolved configuration of an earlier run of `command` in `run_dir`, checked again (to
/// resume or evaluate it).
pub fn configure_from_run<P>(
    run_dir: &std::path::Path,
    command: &str,
) -> anyhow::Result<(Layered, P::Checked)>
where
    P: serde::de::DeserializeOwned + verdant::config::Validate,
{
    let config = Layered::read(&run_dir.join(CONFIG_FILE)).with_context(|| {
        format!(
            "{} is not a run directory of verdant {command}",
            run_dir.display()
        )
    })?;
    let checked = config.checked::<P>()?;
    Ok((config, checked))
}

/// Versions recorded in every manifest: Verdant's, the compiler's, and the locked versions of the
/// libraries that shape results.
fn versions() -> std::collections::BTreeMap<String, String> {
    let mut v = std::collections::BTreeMap::new();
    v.insert("verdant".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
    v.insert("rustc".to_owned(), env!("VERDANT_RUSTC_VERSION").to_owned());
    v.insert(
        "libtorch".to_owned(),
        verdant_agents::LIBTORCH_VERSION.to_owned(),
    );
    for pair in env!("VERDANT_LOCKED_VERSIONS")
        .split(';')
        .filter(|p| !p.is_empty())
    {
        if let Some((name, version)) = pair.split_once('=') {
            v.insert(name.to_owned(), version.to_owned());
        }
    }
    v
}

/// A run in progress.
pub struct Run {
    dir: RunDir,
    manifest: Manifest,
    quiet: bool,
}

impl Run {
    /// Creates the run directory and writes `config.resolved.toml` and a `running` manifest.
    pub fn start(
        experiment: &str,
        config: &Layered,
        seed: u64,
        shared: &SharedArgs,
    ) -> anyhow::Result<Run> {
        let now = chrono::Utc::now();
        let dir = match &shared.run_dir {
            Some(path) => RunDir::create_at(path)?,
            None => RunDir::create(&shared.out, experiment, seed, now)?,
        };
        dir.write(CONFIG_FILE, config.to_toml_string().as_bytes())?;
        let mut manifest = Manifest::start(experiment, seed, now);
        manifest.versions = versions();
        let run = Run {
            dir,
            manifest,
            quiet: shared.quiet,
        };
        run.dir.write_manifest(&run.manifest)?;
        tracing::info!("run directory {}", run.dir.path().display());
        Ok(run)
    }

    /// Reopens an existing run directory to continue it: its manifest goes back to `running`
    /// (the command line of the resumption is recorded) until the run completes again.
    pub fn reopen(path: &std::path::Path, shared: &SharedArgs) -> anyhow::Result<Run> {
        let dir = RunDir::open(path)?;
        // What a killed attempt was writing when it died goes: its files under their final
        // names are whole (atomic writes), its temporary ones are not.
        let stale = verdant::run::remove_stale_temporaries(dir.path())?;
        if stale > 0 {
            tracing::info!("removed {stale} temporary file(s) of an interrupted attempt");
        }
        let mut manifest = dir.read_manifest()?;
        manifest.resume(chrono::Utc::now());
        manifest.versions = versions();
        dir.write_manifest(&manifest)?;
        Ok(Run {
            dir,
            manifest,
            quiet: shared.quiet,
        })
    }

    /// Records the compute device the agents use in the manifest.
    pub fn on_device(mut self, device: tch::Device) -> Self {
        self.manifest.device = Some(verdant_agents::device::device_name(device));
        self
    }

    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    pub fn manifest_mut(&mut self) -> &mut Manifest {
        &mut self.manifest
    }

    /// A progress bar for `len` steps, hidden with --quiet.
    pub fn progress(&self, len: u64, message: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        bar
    }

    /// Writes the final manifest with `summary` and status `complete`.
    pub fn complete(mut self, summary: impl Serialize) -> anyhow::Result<PathBuf> {
        self.manifest.summary = serde_json::to_value(summary).context("serialising the summary")?;
        self.manifest
            .finish(RunStatus::Complete, chrono::Utc::now());
        self.dir.write_manifest(&self.manifest)?;
        Ok(self.dir.path().to_owned())
    }

    /// Writes the final manifest with status `failed` and the error.
    pub fn fail(mut self, error: &anyhow::Error) {
        self.manifest.error = Some(format!("{error:#}"));
        self.manifest.finish(RunStatus::Failed, chrono::Utc::now());
        if let Err(e) = self.dir.write_manifest(&self.manifest) {
            tracing::error!("{e}");
        }
    }

    /// Writes the final manifest with `summary` and status `partial`: the run finished, but the
    /// parts `failed` (each "part: why") did not.
    pub fn partial(
        mut self,
        summary: impl Serialize,
        failed: &[String],
    ) -> anyhow::Result<PathBuf> {
        self.manifest.summary = serde_json::to_value(summary).context("serialising the summary")?;
        self.manifest.error = Some(failed.join("; "));
        self.manifest.finish(RunStatus::Partial, chrono::Utc::now());
        self.dir.write_manifest(&self.manifest)?;
        Ok(self.dir.path().to_owned())
    }
}

/// What a run's body gives back where a part of it may fail without failing the run: its
/// summary and the parts that failed ("part: why"); with any, the run is `partial`.
pub struct Parts<T> {
    pub summary: T,
    pub failed: Vec<String>,
}

/// [`within`] for a run whose parts may fail alone: `complete`, `partial` or `failed`.
pub fn within_parts<T: Serialize>(
    mut run: Run,
    body: impl FnOnce(&mut Run) -> anyhow::Result<Parts<T>>,
) -> anyhow::Result<(T, PathBuf)> {
    match body(&mut run) {
        Ok(Parts { summary, failed }) if failed.is_empty() => {
            let path = run.complete(&summary)?;
            Ok((summary, path))
        }
        Ok(Parts { summary, failed }) => {
            let path = run.partial(&summary, &failed)?;
            Ok((summary, path))
        }
        Err(e) => {
            run.fail(&e);
            Err(e)
        }
    }
}

/// Runs `body` inside a started run, marking the manifest `complete` or `failed`.
pub fn within<T: Serialize>(
    mut run: Run,
    body: impl FnOnce(&mut Run) -> anyhow::Result<T>,
) -> anyhow::Result<(T, PathBuf)> {
    match body(&mut run) {
        Ok(summary) => {
            let path = run.complete(&summary)?;
            Ok((summary, path))
        }
        Err(e) => {
            run.fail(&e);
            Err(e)
        }
    }
}

/// A scenario argument: a path to a TOML file, or the name of a bundled scenario.
pub fn resolve_scenario(arg: &str) -> anyhow::Result<PathBuf> {
    verdant::scenario::resolve(arg).map_err(anyhow::Error::msg)
}

/// A scenario's days for learning and for scoring: with a split, the training days and the
/// held-out test days; without one, the whole horizon for both (learned methods are then
/// scored on the days they trained on, and the report says so).
pub(crate) struct Days {
    /// What every method allocates and is scored on.
    pub scoring: verdant::scenario::Scenario,
    /// The split and the training days' scenario, where the scenario names a split.
    held_out: Option<(verdant::scenario::DaySplit, verdant::scenario::Scenario)>,
    name: String,
}

impl Days {
    /// The days of the scenario `arg` (a bundled name or a file), its random parts from `seed`.
    pub fn load(arg: &str, seed: u64) -> anyhow::Result<Days> {
        let scenario = verdant::scenario::Scenario::load(
            &resolve_scenario(arg)?,
            verdant::seed::MasterSeed(seed),
        )?;
        Days::of(scenario)
    }

    pub fn of(scenario: verdant::scenario::Scenario) -> anyhow::Result<Days> {
        let name = scenario.name.clone();
        Ok(match scenario.split {
            Some(split) => Days {
                scoring: scenario.days(split.test)?,
                held_out: Some((split, scenario.days(split.train)?)),
                name,
            },
            None => Days {
                scoring: scenario,
                held_out: None,
                name,
            },
        })
    }

    /// What learned methods train on.
    pub fn training(&self) -> &verdant::scenario::Scenario {
        self.held_out.as_ref().map_or(&self.scoring, |(_, t)| t)
    }

    /// The problems of the training days and of the scoring days under `sim`; the scoring
    /// problem names the training days, which methods that learn inside their allocation learn
    /// on ([`verdant::allocator::Problem::training`]). An infeasible world (either days) is an
    /// error naming its constraint and field, the same for every command and method
    /// ([`verdant::allocator::Problem::feasible`]).
    #[allow(clippy::type_complexity)]
    pub fn problems(
        &self,
        sim: verdant::sim::SimParams,
    ) -> anyhow::Result<(
        verdant::allocator::Problem<'_>,
        verdant::allocator::Problem<'_>,
    )> {
        use verdant::allocator::Problem;
        let training = Problem::new(self.training(), sim);
        let scoring = Problem::new(&self.scoring, sim).with_training(self.training());
        training.feasible()?;
        scoring.feasible()?;
        Ok((training, scoring))
    }

    /// Whether the scoring days are held out from training.
    pub fn held_out(&self) -> bool {
        self.held_out.is_some()
    }

    /// One sentence for reports: which days trained and which were scored.
    pub fn note(&self) -> String {
        match self.held_out.as_ref().map(|(s, _)| s) {
            Some(s) => format!(
                "Held-out days: learned methods trained on {} of `{}`; every method allocated and was scored on the held-out {} (`{}`), which no learned method saw.",
                s.train, self.name, s.test, self.scoring.name
            ),
            None => format!(
                "No held-out days: `{}` names no split, so learned methods are scored on the days they trained on.",
                self.name
            ),
        }
    }
}
