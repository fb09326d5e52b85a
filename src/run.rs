//! Run directories, atomic writes and the manifest of every run.
//!
//! Every experiment writes into its own directory `runs/<experiment>/<UTC time>-seed<N>/` (under
//! the `--out` root). The directory holds `config.resolved.toml` (the whole configuration the run
//! used), `manifest.json` (what ran: commit, versions, seed, host, solver options, status) and the
//! experiment's outputs. Every file is written to a temporary name in the same directory and renamed
//! into place, so a file that exists under its final name is complete. The manifest is written
//! first with status `running` and rewritten with `complete` (or `failed`) at the end: a directory
//! whose manifest still says `running` belongs to a run that was interrupted; resumed, its
//! manifest records the interruption (`resumptions[].after`).
//!
//! [`kill_point`] marks the places where the crash tests kill a run (`VERDANT_KILL_AT`).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// An I/O failure, with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct FileError {
    /// What was being done (`create`, `write`, `rename`, ...).
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    #[source]
    /// The operating system's error.
    pub source: io::Error,
}

impl FileError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        FileError {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// A file being written under a temporary name; [`AtomicFile::commit`] renames it into place.
/// Dropped without a commit, the temporary file is removed and the target is left untouched.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target` (its directory must exist).
    pub fn create(target: &Path) -> Result<Self, FileError> {
        let name = target
            .file_name()
            .ok_or_else(|| {
                FileError::new(
                    "write",
                    target,
                    io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
                )
            })?
            .to_string_lossy();
        let temp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp).map_err(|e| FileError::new("create", &temp, e))?;
        Ok(AtomicFile {
            target: target.to_owned(),
            temp,
            writer: Some(BufWriter::new(file)),
        })
    }

    /// Flushes, syncs and renames the file to its final name.
    pub fn commit(mut self) -> Result<(), FileError> {
        let writer = self.writer.take().expect("writer present until commit");
        let file = writer
            .into_inner()
            .map_err(|e| FileError::new("write", &self.temp, e.into_error()))?;
        file.sync_all()
            .map_err(|e| FileError::new("sync", &self.temp, e))?;
        drop(file);
        kill_point_at("write", self.target.file_name().and_then(|n| n.to_str()));
        fs::rename(&self.temp, &self.target)
            .map_err(|e| FileError::new("rename into place", &self.target, e))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("writer present").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("writer present").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .map_err(|e| FileError::new("write", path, e))?;
    file.commit()
}

/// The environment variable of the crash tests: `<point>:<n>` makes the process kill itself with
/// SIGKILL the `n`-th time it reaches [`kill_point`]`(point)`.
pub const KILL_AT_VAR: &str = "VERDANT_KILL_AT";

/// A place where a run may be killed: the crash tests (`experiments/tests/kill.rs`) set
/// [`KILL_AT_VAR`] to `<point>:<n>`, and the `n`-th time the process passes `point` it sends
/// itself SIGKILL, as `kill -9` would: no destructor, no flush, no last manifest. Points:
/// `write` (an atomic file written in full under its temporary name, before the rename; also
/// `write:<file name>` for one file), `checkpoint` (a checkpoint's tensor file in place, its
/// metadata not yet), `train-step` (one step of a trainer's loop), `sweep-run` (the sweep
/// runner about to start a run). Without the variable, a point costs one atomic load.
pub fn kill_point(point: &str) {
    kill_point_at(point, None);
}

/// [`kill_point`] `point`, also known as `<point>:<detail>`.
pub fn kill_point_at(point: &str, detail: Option<&str>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static AT: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let at = AT.get_or_init(|| {
        let value = std::env::var(KILL_AT_VAR).ok()?;
        let (name, n) = value.rsplit_once(':')?;
        Some((name.to_owned(), n.parse().ok()?))
    });
    let Some((name, n)) = at else {
        return;
    };
    let matches = name == point
        || name
            .strip_prefix(point)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|d| Some(d) == detail);
    if matches && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("sh")
            .args(["-c", &format!("kill -9 {pid}")])
            .status();
        // The signal is on its way; never return into the run.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// This process's peak resident memory so far, MiB (`VmHWM` of `/proc/self/status`; `None`
/// where there is none).
pub fn peak_resident_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The environment variable of the failure tests: `<point>:<detail>` makes
/// [`injected_failure`]`(point, detail)` fail.
pub const FAIL_AT_VAR: &str = "VERDANT_FAIL_AT";

/// A place where a test may make a part of a run fail ([`FAIL_AT_VAR`]): `method:<name>`, a
/// comparison's method. Without the variable, nothing.
pub fn injected_failure(point: &str, detail: &str) -> Result<(), String> {
    match std::env::var(FAIL_AT_VAR) {
        Ok(v) if v.split_once(':') == Some((point, detail)) => Err(format!(
            "{point} {detail} failed as {FAIL_AT_VAR}={v} asked"
        )),
        _ => Ok(()),
    }
}

/// Removes the temporary files of atomic writes that a killed process left under `dir` (names
/// starting with `.` and holding `.tmp`), recursively; returns how many.
pub fn remove_stale_temporaries(dir: &Path) -> Result<usize, FileError> {
    let mut removed = 0;
    let entries = fs::read_dir(dir).map_err(|e| FileError::new("read directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FileError::new("read directory", dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .map_err(|e| FileError::new("read directory", dir, e))?;
        if kind.is_dir() {
            removed += remove_stale_temporaries(&path)?;
        } else if name.starts_with('.') && name.contains(".tmp") {
            fs::remove_file(&path).map_err(|e| FileError::new("remove", &path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The directory of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `root/<experiment>/<UTC time>-seed<seed>/`; if that exists already (two runs in
    /// the same second), a suffix `-2`, `-3`, ... is added.
    pub fn create(
        root: &Path,
        experiment: &str,
        seed: u64,
        started: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, FileError> {
        let parent = root.join(experiment);
        fs::create_dir_all(&parent).map_err(|e| FileError::new("create directory", &parent, e))?;
        let stem = format!("{}-seed{seed}", started.format("%Y%m%dT%H%M%SZ"));
        for attempt in 1u32.. {
            let path = if attempt == 1 {
                parent.join(&stem)
            } else {
                parent.join(format!("{stem}-{attempt}"))
            };
            match fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(FileError::new("create directory", &path, e)),
            }
        }
        unreachable!("u32 attempts exhausted")
    }

    /// Creates the run directory `path` itself (a sweep names its runs' directories). A
    /// directory there from an attempt that did not complete (its manifest `running` or
    /// `failed`, or none) is emptied first, so the new attempt leaves nothing of the old one; one
    /// holding a complete run is an error.
    pub fn create_at(path: &Path) -> Result<Self, FileError> {
        if Self::status_at(path).is_some_and(RunStatus::is_finished) {
            return Err(FileError::new(
                "create run directory",
                path,
                io::Error::new(io::ErrorKind::AlreadyExists, "it holds a finished run"),
            ));
        }
        if path.exists() {
            fs::remove_dir_all(path).map_err(|e| FileError::new("empty", path, e))?;
        }
        fs::create_dir_all(path).map_err(|e| FileError::new("create directory", path, e))?;
        Ok(RunDir {
            path: path.to_owned(),
        })
    }

    /// The status the manifest in the run directory `path` records, if it has a readable one;
    /// `interrupted` for a `running` one whose process, on this host, is gone (killed: nothing
    /// wrote its last manifest).
    pub fn status_at(path: &Path) -> Option<RunStatus> {
        let bytes = fs::read(path.join(MANIFEST_FILE)).ok()?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let status: RunStatus = serde_json::from_value(manifest["status"].clone()).ok()?;
        let gone = || {
            let here = manifest["host"]["hostname"].as_str() == Some(&Host::current().hostname);
            let pid = manifest["pid"].as_u64();
            here && pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists())
        };
        Some(if status == RunStatus::Running && gone() {
            RunStatus::Interrupted
        } else {
            status
        })
    }

    /// An existing run directory (one holding a manifest), to resume or read a run.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let manifest = path.join(MANIFEST_FILE);
        if manifest.is_file() {
            Ok(RunDir {
                path: path.to_owned(),
            })
        } else {
            Err(FileError::new(
                "open run directory",
                path,
                io::Error::new(io::ErrorKind::NotFound, "it has no manifest.json"),
            ))
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `name` atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, FileError> {
        let path = self.file(name);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Starts an atomic streaming write of `name` (for large outputs such as per-request CSVs).
    pub fn create_file(&self, name: &str) -> Result<AtomicFile, FileError> {
        AtomicFile::create(&self.file(name))
    }

    /// Writes the manifest as `manifest.json`.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<PathBuf, FileError> {
        let json = serde_json::to_vec_pretty(manifest).expect("a manifest always serialises");
        self.write(MANIFEST_FILE, &json)
    }

    /// Reads `manifest.json` back.
    pub fn read_manifest(&self) -> Result<Manifest, FileError> {
        let path = self.file(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(|e| FileError::new("read", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            FileError::new(
                "parse",
                &path,
                io::Error::new(io::ErrorKind::InvalidData, e),
            )
        })
    }
}

/// The manifest's file name inside a run directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The resolved configuration's file name inside a run directory.
pub const CONFIG_FILE: &str = "config.resolved.toml";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started, not finished.
    Running,
    /// Killed while `running`: never written by the run itself, but read so from a `running`
    /// manifest whose process is gone ([`RunDir::status_at`]) and recorded so when the run is
    /// resumed ([`Resumption::after`]).
    Interrupted,
    /// Finished, but a part of it failed (a method of a comparison): the manifest's `error`
    /// says which, the outputs hold the rest.
    Partial,
    /// Finished.
    Complete,
    /// Stopped with an error.
    Failed,
}

impl RunStatus {
    /// Whether the run finished (`complete` or `partial`): resuming it or running it again
    /// gives nothing new.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Complete | RunStatus::Partial)
    }
}

/// The source revision a run was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitRevision {
    /// The commit hash, or `unknown` outside a git checkout.
    pub commit: String,
    /// Whether the work tree had uncommitted changes.
    pub dirty: bool,
}

impl GitRevision {
    /// Asks git about the checkout that contains `dir`.
    pub fn of_checkout(dir: &Path) -> Self {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        match git(&["rev-parse", "HEAD"]) {
            Some(commit) => GitRevision {
                commit,
                dirty: git(&["status", "--porcelain", "--untracked-files=no"])
                    .is_some_and(|s| !s.is_empty()),
            },
            None => GitRevision {
                commit: "unknown".to_owned(),
                dirty: false,
            },
        }
    }
}

/// The machine a run ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// The host's name.
    pub hostname: String,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Logical CPUs.
    pub logical_cpus: usize,
}

impl Host {
    /// This machine.
    pub fn current() -> Self {
        let hostname = fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| fs::read_to_string("/etc/hostname"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Host {
            hostname,
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What ran, saved as `manifest.json` in every run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The command.
    pub experiment: String,
    /// Running, complete or failed.
    pub status: RunStatus,
    /// The master seed.
    pub seed: u64,
    /// Start, UTC (RFC 3339).
    pub started_utc: String,
    /// End, UTC, once finished.
    pub finished_utc: Option<String>,
    /// The source revision.
    pub git: GitRevision,
    /// Versions of Verdant's crates and of the libraries that shape results (HiGHS, libtorch).
    pub versions: BTreeMap<String, String>,
    /// The machine.
    pub host: Host,
    /// The command line as given.
    pub command_line: Vec<String>,
    /// Solver options in force (time limits, gaps, threads), empty where no solver ran.
    pub solver: serde_json::Value,
    /// The compute device the agents used (`cpu`, `cuda:0`), where any ran.
    pub device: Option<String>,
    /// The run's headline results, written at the end.
    pub summary: serde_json::Value,
    /// Why the run failed, where it did.
    pub error: Option<String>,
    /// The process running the run, the last attempt's (on `host`, what tells a killed run from
    /// a running one; a run resumed on another machine cannot be told).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The process's peak resident memory when the run finished, MiB (Linux's `VmHWM`; in a
    /// resumed run, the last attempt's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_mib: Option<f64>,
    /// Each time the run was resumed (`--resume`), in order; `git` and `command_line` above are
    /// the first attempt's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumptions: Vec<Resumption>,
}

/// One resumption of a run: when, from which source revision, with which command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resumption {
    /// Start of the resumed attempt, UTC (RFC 3339).
    pub started_utc: String,
    /// The source revision the resumed attempt was built from.
    pub git: GitRevision,
    /// Its command line as given.
    pub command_line: Vec<String>,
    /// How the attempt before it ended: `interrupted` (killed while running), `failed`,
    /// `partial` or `complete` (a finished run extended); absent in manifests written before
    /// it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RunStatus>,
}

impl Manifest {
    /// A manifest for a run starting now, with status `running`.
    pub fn start(experiment: &str, seed: u64, started: chrono::DateTime<chrono::Utc>) -> Self {
        Manifest {
            experiment: experiment.to_owned(),
            status: RunStatus::Running,
            seed,
            started_utc: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            finished_utc: None,
            git: GitRevision::of_checkout(Path::new(".")),
            versions: BTreeMap::new(),
            host: Host::current(),
            command_line: std::env::args().collect(),
            solver: serde_json::Value::Null,
            device: None,
            summary: serde_json::Value::Null,
            error: None,
            pid: Some(std::process::id()),
            peak_memory_mib: None,
            resumptions: Vec::new(),
        }
    }

    /// Marks the run running again, resumed now by this process (recorded in `resumptions`).
    pub fn resume(&mut self, now: chrono::DateTime<chrono::Utc>) {
        let after = match self.status {
            RunStatus::Running => RunStatus::Interrupted,
            other => other,
        };
        self.status = RunStatus::Running;
        self.pid = Some(std::process::id());
        self.finished_utc = None;
        self.error = None;
        self.resumptions.push(Resumption {
            started_utc: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            git: GitRevision::of_checkout(Path::new(".")),
            command_line: std::env::args().collect(),
            after: Some(after),
        });
    }

    /// Marks the run finished with `status`.
    pub fn finish(&mut self, status: RunStatus, finished: chrono::DateTime<chrono::Utc>) {
        self.status = status;
        self.peak_memory_mib = peak_resident_mib();
        self.finished_utc = Some(finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn run_dirs_are_named_by_time_and_seed_and_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 22, 8, 30, 5)
            .unwrap();
        let a = RunDir::create(root.path(), "demo", 7, t).unwrap();
        let b = RunDir::create(root.path(), "demo", 7, t).unwrap();
        assert!(a.path().ends_with("demo/20261122T083005Z-seed7"));
        assert!(b.path().ends_with("demo/20261122T083005Z-seed7-2"));
    }

    #[test]
    fn an_uncommitted_atomic_file_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        fs::write(&target, "old\n").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half a new fi").unwrap();
            // dropped: the run was interrupted
        }
        assert_eq!(fs::read_to_string(&target).unwrap(), "old\n");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file removed"
        );
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new\n").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_resumed_manifest_records_how_the_attempt_before_it_ended() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut m = Manifest::start("x", 1, t);
        // Killed while running: nothing wrote a last manifest.
        m.resume(t);
        assert_eq!(m.resumptions[0].after, Some(RunStatus::Interrupted));
        m.finish(RunStatus::Failed, t);
        m.resume(t);
        assert_eq!(m.resumptions[1].after, Some(RunStatus::Failed));
        assert_eq!(m.status, RunStatus::Running);
    }

    #[test]
    fn a_running_manifest_whose_process_is_gone_reads_as_interrupted() {
        let root = tempfile::tempdir().unwrap();
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let run = RunDir::create(root.path(), "x", 1, t).unwrap();
        let mut m = Manifest::start("x", 1, t);
        run.write_manifest(&m).unwrap();
        // This process is alive.
        assert_eq!(RunDir::status_at(run.path()), Some(RunStatus::Running));
        // A process that has exited.
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let _ = child.wait_with_output();
        m.pid = Some(pid);
        run.write_manifest(&m).unwrap();
        assert_eq!(RunDir::status_at(run.path()), Some(RunStatus::Interrupted));
        // On another host, nothing can be told.
        m.host.hostname.push_str("-elsewhere");
        run.write_manifest(&m).unwrap();
        assert_eq!(RunDir::status_at(run.path()), Some(RunStatus::Running));
    }

    #[test]
    fn stale_temporaries_of_a_killed_write_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("agents/ppo");
        fs::create_dir_all(&nested).unwrap();
        fs::write(dir.path().join(".report.md.tmp-4242"), "half").unwrap();
        fs::write(nested.join(".agent-3.vt.tmp"), "half").unwrap();
        fs::write(nested.join("curve.csv"), "whole\n").unwrap();
        fs::write(dir.path().join(".hidden"), "kept").unwrap();
        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 2);
        assert!(nested.join("curve.csv").is_file() && dir.path().join(".hidden").is_file());
        assert!(!dir.path().join(".report.md.tmp-4242").exists());
    }

    #[test]
    fn manifest_round_trips_and_records_status() {
        let root = tempfile::tempdir().unwrap();
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let run = RunDir::create(root.path(), "x", 1, t).unwrap();
        let mut m = Manifest::start("x", 1, t);
        assert_eq!(m.started_utc, "2026-01-02T03:04:05Z");
        run.write_manifest(&m).unwrap();
        assert_eq!(run.read_manifest().unwrap().status, RunStatus::Running);
        m.finish(RunStatus::Complete, t);
        run.write_manifest(&m).unwrap();
        assert_eq!(run.read_manifest().unwrap(), m);
        // A finished run records its peak memory (on Linux, where the tests run).
        let peak = m.peak_memory_mib.expect("VmHWM on Linux");
        assert!(peak > 1.0 && peak < 1e6, "{peak}");
    }

    #[test]
    fn write_errors_name_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir/x.json"), b"{}").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/.x.json.tmp"),
            "{err}"
        );
    }
}
