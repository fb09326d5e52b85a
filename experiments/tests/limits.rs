//! Inputs that are valid but would exhaust the machine (issue 24): a 10^9-epoch scenario, 10^5
//! datacenters, a 100 GB trace, a front of 10^8 points in eight objectives, a generator of 10^12
//! requests, a file without line ends. Each is refused early with an error that names the key or
//! file and the limit (docs/limits.md), its peak resident memory (GNU time's, from the kernel's
//! account of the process) under 1 GiB, libtorch's libraries included (about 0.5 GB of the
//! binary's own at start).

use std::io::Write as _;
use std::path::Path;
use std::process::Output;

/// `verdant args` in `cwd`, its peak resident memory checked to be under 1 GiB.
fn verdant_in_1gib(args: &[&str], cwd: &Path) -> Output {
    let peak_file = cwd.join(".peak-rss-kb");
    let started = std::time::Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&peak_file)
        .arg(env!("CARGO_BIN_EXE_verdant"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("GNU time starts (apt package time, installed by scripts/setup.sh)");
    let peak_kb: u64 = std::fs::read_to_string(&peak_file)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's peak");
    // Shown with --nocapture: the figures of docs/limits.md (no assertion on time).
    eprintln!(
        "verdant {}: {:.2} s, peak {} MiB",
        args.first().unwrap_or(&""),
        started.elapsed().as_secs_f64(),
        peak_kb / 1024
    );
    assert!(
        peak_kb < 1 << 20,
        "verdant {args:?}: peak resident memory {peak_kb} KiB, not under 1 GiB"
    );
    out
}

/// The run ended in a named error (exit status 2) whose message holds every one of `needles`.
fn assert_refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
}

/// A scenario file that includes the bundled geo-4dc and adds `extra`.
fn scenario_over_geo_4dc(dir: &Path, extra: &str) -> std::path::PathBuf {
    let base = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    let path = dir.join("big.toml");
    std::fs::write(
        &path,
        format!("include = {:?}\n{extra}", base.display().to_string()),
    )
    .unwrap();
    path
}

#[test]
fn the_baseline_runs_within_the_memory_limit() {
    // Without this, every refusal below could be the limit failing the binary at start.
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_over_geo_4dc(dir.path(), "");
    let out = verdant_in_1gib(&["scenario", path.to_str().unwrap()], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_billion_epochs_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_over_geo_4dc(dir.path(), "[time]\nepochs = 1000000000\n");
    let out = verdant_in_1gib(&["scenario", path.to_str().unwrap()], dir.path());
    assert_refused(
        &out,
        &["big.toml", "time.epochs", "1000000000", "at most 100000"],
    );
    // Within the epoch limit but not the plan's: 99,999 epochs of a 4-datacenter world with
    // many origins.
    let origins: String = (0..100)
        .map(|i| format!("[[origins]]\nname = \"o{i}\"\nlatitude_deg = 0.0\nlongitude_deg = 0.0\nweight = 1.0\n"))
        .collect();
    let path = scenario_over_geo_4dc(dir.path(), &format!("{origins}[time]\nepochs = 99999\n"));
    let out = verdant_in_1gib(&["scenario", path.to_str().unwrap()], dir.path());
    assert_refused(
        &out,
        &["time.epochs", "shares in a plan", "at most 16777216"],
    );
}

#[test]
fn a_hundred_thousand_datacenters_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let grid = verdant::scenario::bundled_dir().join("../grid-ren2022/hourly_signals.csv");
    let mut extra = String::new();
    for i in 0..100_000 {
        extra.push_str(&format!(
            "[[datacenters]]\nname = \"dc{i}\"\nlatitude_deg = 0.0\nlongitude_deg = 0.0\ngrid = {{ source = \"ren2022\", file = {:?}, location = \"Virginia\" }}\n",
            grid.display().to_string()
        ));
    }
    let path = scenario_over_geo_4dc(dir.path(), &extra);
    let out = verdant_in_1gib(&["scenario", path.to_str().unwrap()], dir.path());
    assert_refused(&out, &["datacenters", "100000", "at most 1000"]);
}

/// A file of `header` and `lines`, then zeros (a sparse hole) to `bytes`.
fn sparse_file(path: &Path, text: &str, bytes: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.set_len(bytes).unwrap();
}

#[test]
fn a_hundred_gigabyte_trace_is_refused_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("huge.csv");
    sparse_file(
        &trace,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n",
        100 << 30,
    );
    // A scenario holds its trace in memory: refused from the file's size.
    let path = scenario_over_geo_4dc(
        dir.path(),
        &format!(
            "[demand]\ntrace = {{ source = \"file\", file = {:?}, format = \"azure\" }}\n",
            trace.display().to_string()
        ),
    );
    let out = verdant_in_1gib(&["scenario", path.to_str().unwrap()], dir.path());
    assert_refused(
        &out,
        &["huge.csv", "107374182400 bytes", "at most 2147483648 bytes"],
    );
    // `verdant trace` streams a trace in constant memory; the zeros after the last line are
    // one line without an end, refused at 1 MiB rather than read into memory, also leniently.
    for lenient in [false, true] {
        let mut args = vec!["trace", trace.to_str().unwrap()];
        if lenient {
            args.push("--lenient");
        }
        let out = verdant_in_1gib(&args, dir.path());
        assert_refused(&out, &["huge.csv:3:", "a line longer than 1048576 bytes"]);
    }
}

#[test]
fn a_front_of_a_hundred_million_points_in_eight_objectives_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let front = dir.path().join("front.txt");
    // 10^8 rows of eight values take at least 1.6 GB: the first rows, then the rest's size.
    sparse_file(&front, "1 2 3 4 5 6 7 8\n2 1 3 4 5 6 7 8\n", 1_600_000_000);
    let out = verdant_in_1gib(&["hv", front.to_str().unwrap()], dir.path());
    assert_refused(
        &out,
        &["front.txt", "1600000000 bytes", "at most 268435456 bytes"],
    );
    // Under the size limit but over the values': 2^24 values and one more, one digit each.
    let mut text = String::with_capacity(36 << 20);
    for _ in 0..(1 << 21) {
        text.push_str("1 2 3 4 5 6 7 8\n");
    }
    text.push_str("9 9 9 9 9 9 9 9\n");
    std::fs::write(&front, text).unwrap();
    let out = verdant_in_1gib(&["hv", front.to_str().unwrap()], dir.path());
    assert_refused(&out, &["front.txt:2097153:", "more than 16777216 values"]);
}

#[test]
fn a_generator_of_a_trillion_requests_is_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_over_geo_4dc(
        dir.path(),
        "[demand]\ntrace = { source = \"generator\", duration_s = 86400.0, arrivals = { kind = \"poisson\", rate_per_s = 1e7 }, input_tokens = { kind = \"constant\", tokens = 100 }, output_tokens = { kind = \"constant\", tokens = 10 } }\n",
    );
    let out = verdant_in_1gib(&["scenario", path.to_str().unwrap()], dir.path());
    assert_refused(&out, &["duration_s", "at most 33554432 requests"]);
}
