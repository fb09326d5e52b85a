//! Killed runs (issue 24): `verdant marlin train`, `verdant lb train`, `verdant compare` and the
//! sweep runner are killed with SIGKILL during training, during a checkpoint write and during
//! output writing (`VERDANT_KILL_AT`, see `verdant::run::kill_point`), then resumed. The
//! resumed run's outputs equal an uninterrupted run's byte for byte; no file under its final
//! name is half-written at the kill; the manifest records the interruption.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn verdant(args: &[&str], cwd: &Path, kill_at: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verdant"));
    command.args(args).current_dir(cwd);
    match kill_at {
        Some(at) => command.env("VERDANT_KILL_AT", at),
        None => command.env_remove("VERDANT_KILL_AT"),
    };
    command.output().expect("the verdant binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one run directory under `root/out/<experiment>`.
fn single_run(root: &Path, experiment: &str) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root.join("out").join(experiment))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.pop().unwrap()
}

fn manifest(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap()
}

/// Every file under `dir`, by its path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A temporary file of an atomic write (`.<name>.tmp-<pid>`, `.<name>.tmp`).
fn temporary(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.starts_with('.') && name.contains(".tmp")
}

/// A file's content for comparison: wall times left out (a comparison's per-method records'
/// `seconds`, CSV columns `wall_s`), every other byte as it is.
fn comparable(path: &Path, bytes: &[u8]) -> Vec<u8> {
    if path.starts_with("methods") {
        let mut record: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        record.as_object_mut().unwrap().remove("seconds");
        return serde_json::to_vec(&record).unwrap();
    }
    if path.extension().is_some_and(|e| e == "csv") {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let keep: Vec<bool> = header.iter().map(|h| *h != "wall_s").collect();
        let mut out = String::new();
        for line in text.lines() {
            let fields: Vec<&str> = line
                .split(',')
                .zip(&keep)
                .filter_map(|(f, k)| k.then_some(f))
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        return out.into_bytes();
    }
    bytes.to_vec()
}

/// What a kill left under final names is whole: every CSV ends its last line, every JSON file
/// parses (temporary files are not looked at: a resumed run removes them).
fn assert_whole(run: &Path) {
    for (path, bytes) in files(run) {
        if temporary(&path) {
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv" | "md") => assert!(
                bytes.is_empty() || bytes.ends_with(b"\n"),
                "{}: cut short",
                path.display()
            ),
            Some("json") => assert!(
                serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
                "{}: not whole JSON",
                path.display()
            ),
            _ => {}
        }
    }
}

/// Runs `args` uninterrupted, then once per kill point: killed there, checked, resumed with
/// `resume` and the run directory, checked against the uninterrupted run.
fn killed_runs_resume_to_the_same_results(
    experiment: &str,
    args: &[&str],
    resume: &[&str],
    kill_points: &[&str],
) {
    let reference_dir = tempfile::tempdir().unwrap();
    let out = verdant(args, reference_dir.path(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reference = files(&single_run(reference_dir.path(), experiment));
    for at in kill_points {
        let dir = tempfile::tempdir().unwrap();
        let out = verdant(args, dir.path(), Some(at));
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{experiment} at {at}: not killed (the point never reached?): {}",
            text(&out.stderr)
        );
        let run = single_run(dir.path(), experiment);
        // Its manifest says `running` (nothing could write more), and its process is gone:
        // read, the run is interrupted.
        assert_eq!(manifest(&run)["status"], "running", "{experiment} at {at}");
        assert_eq!(
            verdant::run::RunDir::status_at(&run),
            Some(verdant::run::RunStatus::Interrupted),
            "{experiment} at {at}"
        );
        assert_whole(&run);
        let mut resumed_args = resume.to_vec();
        let run_arg = run.to_str().unwrap();
        resumed_args.push(run_arg);
        resumed_args.push("-q");
        let out = verdant(&resumed_args, dir.path(), None);
        assert!(
            out.status.success(),
            "{experiment} at {at}: resume: {}",
            text(&out.stderr)
        );
        let m = manifest(&run);
        assert_eq!(m["status"], "complete", "{experiment} at {at}: {m}");
        assert_eq!(
            m["resumptions"][0]["after"], "interrupted",
            "{experiment} at {at}: {m}"
        );
        let resumed = files(&run);
        let left: Vec<&PathBuf> = resumed.keys().filter(|p| temporary(p)).collect();
        assert!(left.is_empty(), "{experiment} at {at}: left {left:?}");
        let names = |m: &BTreeMap<PathBuf, Vec<u8>>| -> Vec<PathBuf> {
            m.keys()
                .filter(|p| *p != Path::new("manifest.json"))
                .cloned()
                .collect()
        };
        assert_eq!(names(&resumed), names(&reference), "{experiment} at {at}");
        for (path, bytes) in &reference {
            if path == Path::new("manifest.json") {
                continue;
            }
            assert!(
                comparable(path, &resumed[path]) == comparable(path, bytes),
                "{experiment} at {at}: {} differs from the uninterrupted run's",
                path.display()
            );
        }
    }
}

/// MARLIN at test size: one scheme, one seed, two days of geo-4dc (a checkpoint after each).
const MARLIN: [&str; 20] = [
    "--set",
    "scenario=geo-4dc",
    "--set",
    "seeds=1",
    "--set",
    "marlin.days=2",
    "--set",
    r#"schemes=["balanced"]"#,
    "--set",
    "discrete_event=false",
    "--set",
    "marlin.k_opt=1",
    "--set",
    "marlin.batch=16",
    "--set",
    "marlin.actor_hidden=16",
    "--set",
    "marlin.critic_hidden=16",
    "--out",
    "out",
];

#[test]
fn a_killed_marlin_training_resumes_to_the_uninterrupted_result() {
    let mut args = vec!["marlin", "train", "-q"];
    args.extend(MARLIN);
    killed_runs_resume_to_the_same_results(
        "marlin",
        &args,
        &["marlin", "train", "--resume"],
        // Day 2's training; day 2's checkpoint between its tensors and its metadata; the
        // report.
        &["train-step:150", "checkpoint:2", "write:marlin.md:1"],
    );
}

#[test]
fn a_killed_load_balancer_training_resumes_to_the_uninterrupted_result() {
    killed_runs_resume_to_the_same_results(
        "lb-train",
        &[
            "lb",
            "train",
            "-q",
            "--out",
            "out",
            "--set",
            r#"lb.algorithms=["ppo"]"#,
            "--set",
            "lb.seeds=1",
            "--set",
            "lb.checkpoint_every_steps=256",
            "--set",
            "agent.episode_requests=100",
            "--set",
            "agent.total_steps=1024",
            "--set",
            "agent.envs=4",
            "--set",
            "agent.ppo.rollout_steps=64",
        ],
        &["lb", "train", "--resume"],
        // The third update (after the second checkpoint); the second checkpoint; the learning
        // curve.
        &["train-step:3", "checkpoint:2", "write:curve.csv:1"],
    );
}

#[test]
fn a_killed_comparison_resumes_to_the_uninterrupted_result() {
    let mut args = vec!["compare", "-q"];
    args.extend(MARLIN);
    args.extend([
        "--set",
        "agent.total_steps=256",
        "--set",
        "agent.episode_requests=64",
        "--set",
        "methods.exact.front_grid=2",
        // The certification's wall-clock budgets would make two runs differ.
        "--set",
        "methods.exact.certify=false",
        "--set",
        r#"compared=["exact","marlin","lb","even"]"#,
    ]);
    killed_runs_resume_to_the_same_results(
        "compare",
        &args,
        &["compare", "--resume"],
        // MARLIN's second day (exact's record written before); the load balancer's record;
        // the fronts.
        &["train-step:150", "write:lb.json:1", "write:fronts.csv:1"],
    );
}

/// Runs the sweep file `sweep` (written to `dir/sweep.toml`) locally, uninterrupted.
fn sweep_uninterrupted(dir: &Path, sweep: &str) {
    std::fs::write(dir.join("sweep.toml"), sweep).unwrap();
    let out = verdant(&["sweep", "sweep.toml", "--local"], dir, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The merged table of the sweep in `dir`.
fn sweep_report(dir: &Path) -> String {
    let out = verdant(&["sweep", "sweep.toml", "--report"], dir, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

const SWEEP: &str = r#"
name = "killed"
command = ["simulate"]
set = ["scenario=\"geo-4dc\"", "fidelity=\"fluid\""]
table = "objectives.csv"
[[axis]]
key = "sim.blowdown"
values = ["blowdown-only", "paper-literal"]
[[axis]]
key = "seed"
values = [1, 2]
"#;

#[test]
fn a_killed_sweep_resumes_to_the_uninterrupted_report() {
    let reference = tempfile::tempdir().unwrap();
    sweep_uninterrupted(reference.path(), SWEEP);
    let expected = sweep_report(reference.path());

    // Every run killed while writing its table: the sweep goes on, names them failed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.toml"), SWEEP).unwrap();
    let out = verdant(
        &["sweep", "sweep.toml", "--local"],
        dir.path(),
        Some("write:objectives.csv:1"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let listed = text(&verdant(&["sweep", "sweep.toml", "--list"], dir.path(), None).stdout);
    assert_eq!(listed.matches("failed").count(), 4, "{listed}");

    // The sweep runner itself killed (one run at a time) as it starts the second run, the
    // first complete.
    let out = verdant(
        &["sweep", "sweep.toml", "--local", "-j", "1"],
        dir.path(),
        Some("sweep-run:2"),
    );
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out.stderr));
    let root = dir.path().join("sweeps/killed");
    assert_eq!(manifest(&root.join("run-0000"))["status"], "complete");

    // Resumed: the runs not complete run again, and the report is the uninterrupted one.
    let out = verdant(&["sweep", "sweep.toml", "--local"], dir.path(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sweep_report(dir.path()), expected);
    for i in 0..4 {
        let run = root.join(format!("run-{i:04}"));
        assert_eq!(manifest(&run)["status"], "complete");
        let left: Vec<PathBuf> = files(&run).into_keys().filter(|p| temporary(p)).collect();
        assert!(left.is_empty(), "run {i}: {left:?}");
    }
}

const TRAINING_SWEEP: &str = r#"
name = "training"
command = ["marlin", "train"]
set = ["scenario=\"geo-4dc\"", "marlin.days=2", "schemes=[\"balanced\"]", "discrete_event=false", "marlin.k_opt=1", "marlin.batch=16", "marlin.actor_hidden=16", "marlin.critic_hidden=16", "seeds=1"]
table = "archive.csv"
[[axis]]
key = "seed"
values = [1, 2]
"#;

#[test]
fn a_killed_sweep_of_a_resumable_command_resumes_its_runs() {
    let reference = tempfile::tempdir().unwrap();
    sweep_uninterrupted(reference.path(), TRAINING_SWEEP);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.toml"), TRAINING_SWEEP).unwrap();
    // Each run killed during its second day's training, after its first checkpoint.
    let out = verdant(
        &["sweep", "sweep.toml", "--local"],
        dir.path(),
        Some("train-step:150"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = verdant(&["sweep", "sweep.toml", "--local"], dir.path(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for i in 0..2 {
        let m = manifest(&dir.path().join(format!("sweeps/training/run-{i:04}")));
        assert_eq!(m["status"], "complete", "{m}");
        // Continued from its checkpoint, not started again.
        assert_eq!(m["resumptions"][0]["after"], "interrupted", "{m}");
        assert!(
            m["resumptions"][0]["command_line"]
                .to_string()
                .contains("\"--resume\""),
            "{m}"
        );
    }
    assert_eq!(sweep_report(dir.path()), sweep_report(reference.path()));
}
