//! `verdant sweep --slurm` on a real one-node Slurm cluster started on this machine
//! (`scripts/slurm-local.sh`: Debian's slurm-wlm and munge, installed if missing): the job
//! array's merged table equals the same sweep run with `--local`, number for number.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn verdant(args: &[&str], cwd: &Path, slurm_conf: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdant"))
        .args(args)
        .current_dir(cwd)
        .env("SLURM_CONF", slurm_conf)
        .output()
        .expect("the verdant binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A one-node cluster, stopped when dropped (also when the test fails).
struct Cluster {
    script: PathBuf,
    dir: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-local.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .env("VERDANT_SLURM_DIR", dir)
            // A port of its own, beside any cluster the machine runs.
            .env("VERDANT_SLURM_PORT", "6917")
            .output()
            .expect("bash runs");
        let stdout = text(&out.stdout);
        let conf = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export SLURM_CONF="))
            .map(str::to_owned);
        let cluster = Cluster {
            script,
            dir: dir.to_owned(),
            conf: conf.clone().unwrap_or_default(),
        };
        assert!(
            out.status.success() && conf.is_some(),
            "the one-node Slurm cluster did not start (it needs root or sudo for slurmd and apt): {}{}",
            stdout,
            text(&out.stderr)
        );
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .env("VERDANT_SLURM_DIR", &self.dir)
            .status();
    }
}

#[test]
fn a_sweep_run_as_a_slurm_job_array_merges_into_the_local_table() {
    let work = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&work.path().join("slurm"));
    let sweep = |out: &str| {
        format!(
            r#"
name = "blowdown"
command = ["simulate"]
set = ["scenario=\"geo-4dc\"", "fidelity=\"fluid\""]
table = "objectives.csv"
out = "{out}"

[[axis]]
key = "sim.blowdown"
values = ["blowdown-only", "paper-literal"]

[[axis]]
key = "seed"
values = [1, 2]

[slurm]
time = "00:05:00"
throttle = 2
"#
        )
    };
    std::fs::write(work.path().join("local.toml"), sweep("local")).unwrap();
    std::fs::write(work.path().join("array.toml"), sweep("array")).unwrap();

    let out = verdant(
        &["sweep", "local.toml", "--local", "-j", "2"],
        work.path(),
        &cluster.conf,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let local = verdant(
        &["sweep", "local.toml", "--report"],
        work.path(),
        &cluster.conf,
    );
    assert!(local.status.success(), "{}", text(&local.stderr));

    let out = verdant(
        &["sweep", "array.toml", "--slurm", "--wait"],
        work.path(),
        &cluster.conf,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("submitted job") && stdout.contains("4 tasks"),
        "{stdout}"
    );
    let script = std::fs::read_to_string(work.path().join("array/blowdown/sweep.sbatch")).unwrap();
    assert!(
        script.contains("#SBATCH --array=0,1,2,3%2") && script.contains("#SBATCH --time=00:05:00"),
        "{script}"
    );
    for i in 0..4 {
        let log = work
            .path()
            .join(format!("array/blowdown/logs/run-{i:04}.log"));
        assert!(log.is_file(), "{} missing", log.display());
    }
    let array = verdant(
        &["sweep", "array.toml", "--report"],
        work.path(),
        &cluster.conf,
    );
    assert!(array.status.success(), "{}", text(&array.stderr));
    assert_eq!(text(&array.stdout), text(&local.stdout));
    assert_eq!(text(&local.stdout).lines().count(), 3);

    // Every run complete: nothing to submit again.
    let out = verdant(
        &["sweep", "array.toml", "--slurm"],
        work.path(),
        &cluster.conf,
    );
    assert!(
        text(&out.stdout).contains("nothing to submit"),
        "{}",
        text(&out.stdout)
    );
}
