//! Run directories, atomic writes and the manifest of every run.
//!
//! Every experiment writes into its own directory `runs/<experiment>/<UTC time>-seed<N>/` (under
//! the `--out` root). The directory holds `config.resolved.toml` (the whole configuration the run
//! used), `manifest.json` (what ran: commit, versions, seed, host, solver options, status) and the
//! experiment's outputs. Every file is written to a temporary name in the same directory and renamed
//! into place, so a file that exists under its final name is complete. The manifest is written
//! first with status `running` and rewritten with `complete` (or `failed`) at the end: a directory
//! whose manifest still says `running` belongs to a run that was interrupted.

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
        if Self::status_at(path) == Some(RunStatus::Complete) {
            return Err(FileError::new(
                "create run directory",
                path,
                io::Error::new(io::ErrorKind::AlreadyExists, "it holds a complete run"),
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

    /// The status the manifest in the run directory `path` records, if it has a readable one.
    pub fn status_at(path: &Path) -> Option<RunStatus> {
        let bytes = fs::read(path.join(MANIFEST_FILE)).ok()?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        serde_json::from_value(manifest["status"].clone()).ok()
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
    /// Started, not finished (or interrupted).
    Running,
    /// Finished.
    Complete,
    /// Stopped with an error.
    Failed,
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
            resumptions: Vec::new(),
        }
    }

    /// Marks the run running again, resumed now by this process (recorded in `resumptions`).
    pub fn resume(&mut self, now: chrono::DateTime<chrono::Utc>) {
        self.status = RunStatus::Running;
        self.finished_utc = None;
        self.error = None;
        self.resumptions.push(Resumption {
            started_utc: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            git: GitRevision::of_checkout(Path::new(".")),
            command_line: std::env::args().collect(),
        });
    }

    /// Marks the run finished with `status`.
    pub fn finish(&mut self, status: RunStatus, finished: chrono::DateTime<chrono::Utc>) {
        self.status = status;
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
