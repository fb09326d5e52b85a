//! The `verdant` binary's shared flags, run directories and error messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn verdant(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdant"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the verdant binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("demo"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The one run directory of `experiment` under `root/out`.
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

#[test]
fn help_documents_every_shared_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdant(&["demo", "--help"], dir.path());
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--config",
        "--set",
        "--seed",
        "--out",
        "--print-config",
        "--quiet",
        "--run-dir",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn print_config_shows_the_layers_resolved_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        "[mlp]\nsteps = 77\nbatch_size = 5\n",
    )
    .unwrap();
    let args = [
        "demo",
        "--config",
        "mine.toml",
        "--set",
        "mlp.batch_size=9",
        "--seed",
        "123",
        "--print-config",
        "--out",
        "out",
    ];
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: toml::Table = text(&out.stdout).parse().unwrap();
    assert_eq!(config["seed"].as_integer(), Some(123), "--seed wins");
    assert_eq!(
        config["mlp"]["steps"].as_integer(),
        Some(77),
        "the file overrides defaults"
    );
    assert_eq!(
        config["mlp"]["batch_size"].as_integer(),
        Some(9),
        "--set wins over the file"
    );
    assert_eq!(
        config["mlp"]["learning_rate"].as_float(),
        Some(0.005),
        "defaults fill the rest"
    );
    assert!(
        !dir.path().join("out").exists(),
        "--print-config runs nothing"
    );
}

#[test]
fn bad_configuration_is_reported_by_key_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["demo", "--set", "mlp.stepz=3"],
            "mlp.stepz: unknown field",
        ),
        (
            &["demo", "--set", "mlp.steps=0"],
            "mlp.steps: must be at least 1",
        ),
        (
            &["demo", "--set", "mlp.hidden=[8, \"wide\"]"],
            "mlp.hidden[1]:",
        ),
        (
            &["demo", "--set", "solver.mip_rel_gap=2"],
            "solver.mip_rel_gap: must be in [0, 1)",
        ),
        (
            &["demo", "--config", "missing.toml"],
            "cannot read config file missing.toml",
        ),
    ];
    for (args, expected) in cases {
        let out = verdant(&[args, &["--out", "out", "--quiet"]].concat(), dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(
        run_dirs(&dir.path().join("out")).is_empty(),
        "no run directory for a bad config"
    );
}

#[test]
fn infeasible_model_fails_the_run_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "demo",
        "--quiet",
        "--out",
        "out",
        "--set",
        "dispatch.demand_requests=1e9",
    ];
    let out = verdant(&args, dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("dispatch LP is infeasible: demand of 1000000000 requests exceeds"),
        "{stderr}"
    );
    let runs = run_dirs(&dir.path().join("out"));
    assert_eq!(runs.len(), 1);
    let manifest = manifest(&runs[0]);
    assert_eq!(manifest["status"], "failed");
    assert!(manifest["error"].as_str().unwrap().contains("infeasible"));
}

#[test]
fn a_run_writes_its_directory_and_repeats_from_its_resolved_config() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "demo",
        "--quiet",
        "--out",
        "out",
        "--seed",
        "5",
        "--set",
        "mlp.steps=40",
    ];
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("demo: dispatch LP"),
        "{}",
        text(&out.stdout)
    );
    assert!(out.stderr.is_empty(), "--quiet: {}", text(&out.stderr));

    let runs = run_dirs(&dir.path().join("out"));
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(run.to_str().unwrap().ends_with("-seed5"), "{run:?}");
    for file in [
        "config.resolved.toml",
        "manifest.json",
        "dispatch.csv",
        "mlp_curve.csv",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let manifest = manifest(run);
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["seed"], 5);
    assert_eq!(manifest["versions"]["tch"], "0.26.0");
    assert_eq!(manifest["solver"]["threads"], 1);
    assert!(manifest["summary"]["mlp_final_loss"].is_f64());

    // The resolved config alone repeats the run, number for number, on the CPU.
    let resolved = run.join("config.resolved.toml");
    let again_args = [
        "demo",
        "--quiet",
        "--out",
        "again",
        "--config",
        resolved.to_str().unwrap(),
        "--set",
        "torch.device=\"cpu\"",
    ];
    let again = verdant(&again_args, dir.path());
    assert!(again.status.success(), "{}", text(&again.stderr));
    let again_dir = run_dirs(&dir.path().join("again")).pop().unwrap();
    if manifest["device"] == "cpu" {
        for file in ["dispatch.csv", "mlp_curve.csv"] {
            assert_eq!(
                std::fs::read_to_string(run.join(file)).unwrap(),
                std::fs::read_to_string(again_dir.join(file)).unwrap(),
                "{file} differs between two runs of the same config"
            );
        }
    }
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

#[test]
fn scenario_command_checks_and_summarises_bundled_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdant(&["scenario", "geo-4dc"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("geo-4dc: 4 datacenters, 6 origins, 2 classes, 96 epochs"),
        "{stdout}"
    );
    assert!(stdout.contains("peak nominal load 0.950"), "{stdout}");
    // Day by day: one day here, fourteen in the 14-day scenario, whose busiest day peaks at 0.950.
    assert!(
        stdout.contains("demand by class: llama-7b 70.0%, llama-70b 30.0%"),
        "{stdout}"
    );
    let out = verdant(&["scenario", "geo-8dc-14d"], dir.path());
    let days = text(&out.stdout);
    let rows: Vec<&str> = days
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("day "))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 14, "{days}");
    assert!(
        rows[0].contains("2022-09-23") && rows[13].contains("2022-10-06"),
        "{days}"
    );
    // Where the demand comes from: the rates of one table, the token counts of a trace.
    assert!(
        days.contains("demand: rates of language_14d.csv (llama-70b follows m-large, llama-7b follows m-mid), token counts from AzureLLMInferenceTrace_conv.csv"),
        "{days}"
    );
    assert!(
        stdout.contains("demand: trace AzureLLMInferenceTrace_conv.csv, tiled over the horizon"),
        "{stdout}"
    );
    // Days numbered from 1 as the split names them, each marked with its part.
    assert!(
        days.contains(
            "split: learned methods train on days 1-11; comparisons score the held-out days 12-14"
        ),
        "{days}"
    );
    assert!(
        rows[0].trim_start().starts_with("1 ") && rows[0].contains(" train "),
        "{days}"
    );
    assert!(
        rows[10].contains(" train ") && rows[11].contains(" test "),
        "{days}"
    );
    assert!(
        rows[13].trim_start().starts_with("14 ") && rows[13].contains(" test "),
        "{days}"
    );
    assert!(
        stdout.contains("split: none"),
        "a one-day scenario has no split: {stdout}"
    );
    assert!(rows.iter().any(|r| r.contains(" 0.950 ")), "{days}");
    let out = verdant(
        &[
            "scenario",
            "lb-highload",
            "--set",
            "trace.first_requests=100",
        ],
        dir.path(),
    );
    assert!(
        text(&out.stdout).contains("80 training requests"),
        "{}",
        text(&out.stdout)
    );
    let out = verdant(&["scenario", "no-such-scenario"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bundled: geo-10dc, geo-12dc, geo-4dc"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "writes nothing"
    );
}

#[test]
fn trace_command_streams_and_reports_skipped_lines() {
    let dir = tempfile::tempdir().unwrap();
    let conv = repo("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
    let out = verdant(&["trace", conv.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": azure format, 19366 requests over"),
        "{}",
        text(&out.stdout)
    );

    let bad = repo("tests/fixtures/traces/azure_malformed.csv");
    let out = verdant(&["trace", bad.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("azure_malformed.csv:2: expected at least 3 fields"),
        "{}",
        text(&out.stderr)
    );
    let out = verdant(&["trace", bad.to_str().unwrap(), "--lenient"], dir.path());
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("lenient: 2 lines skipped; 1 Malformed; 1 InvalidValue"),
        "{stdout}"
    );
    assert!(
        stdout.contains("azure_malformed.csv:3: field TIMESTAMP"),
        "{stdout}"
    );

    let burst = repo("tests/fixtures/traces/burstgpt_small.csv");
    let out = verdant(
        &["trace", burst.to_str().unwrap(), "--format", "burstgpt"],
        dir.path(),
    );
    assert!(
        text(&out.stdout).contains("classes: ChatGPT, GPT-4"),
        "{}",
        text(&out.stdout)
    );
    // Told from the first line: Mooncake's JSON lines (with their shared prefixes) and a
    // Vidur CSV; a bad line names its format.
    let mooncake = repo("datasets/mooncake-fast25/conversation_trace.jsonl");
    let out = verdant(&["trace", mooncake.to_str().unwrap()], dir.path());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("mooncake format, 12031 requests")
            && stdout.contains("% of input tokens in prefix blocks an earlier request had"),
        "{stdout}"
    );
    let servegen = repo("datasets/servegen-language-14d/language_14d.csv");
    let out = verdant(&["trace", servegen.to_str().unwrap()], dir.path());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("rate table, 3 models x 2016 windows of 600 s (14.0 days)")
            && stdout.contains("m-small: mean"),
        "{stdout}"
    );
    let vidur = repo("tests/fixtures/traces/vidur_small.csv");
    let out = verdant(&["trace", vidur.to_str().unwrap()], dir.path());
    assert!(
        text(&out.stdout).contains("vidur format, 4 requests"),
        "{}",
        text(&out.stdout)
    );
    let bad = repo("tests/fixtures/traces/vidur_bad_tokens.csv");
    let out = verdant(&["trace", bad.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("vidur_bad_tokens.csv:3: field num_prefill_tokens: \"-3\" is not a non-negative whole number of tokens (vidur format)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn simulate_scores_a_rule_with_both_fidelities() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "simulate",
        "--quiet",
        "--out",
        "out",
        "--set",
        "scenario=geo-4dc",
        "--set",
        "plan=even",
        "--set",
        "sim.node_fraction=0.0003",
        "--set",
        "write_requests=true",
    ];
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("fluid:          TTFT") && stdout.contains("discrete-event: TTFT"),
        "{stdout}"
    );
    let run = single_run(dir.path(), "simulate");
    let objectives = std::fs::read_to_string(run.join("objectives.csv")).unwrap();
    assert_eq!(objectives.lines().count(), 3, "{objectives}");
    let series = std::fs::read_to_string(run.join("series_fluid.csv")).unwrap();
    assert_eq!(series.lines().count(), 1 + 4 * 96);
    let requests = std::fs::read_to_string(run.join("requests.csv")).unwrap();
    assert!(requests.starts_with("request,datacenter,node,ttft_s,e2e_s,dropped\n"));
    let m = manifest(&run);
    let served = m["summary"]["discrete_event_requests"].as_u64().unwrap();
    assert_eq!(requests.lines().count() as u64, served + 1);

    // Green-LLM's base case has no node pools: fluid only.
    let args = [
        "simulate",
        "--quiet",
        "--out",
        "out",
        "--set",
        "scenario=green-llm-base",
    ];
    let out = verdant(&args, dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("has no node pools"),
        "{}",
        text(&out.stderr)
    );
    let args = [
        "simulate",
        "--quiet",
        "--out",
        "out",
        "--set",
        "scenario=green-llm-base",
        "--set",
        "fidelity=fluid",
    ];
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn simulate_scores_a_plan_file_as_the_rule_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = verdant::scenario::bundled("geo-4dc").unwrap();
    let even = verdant::allocator::rules::Even.plan(&scenario).unwrap();
    let text_plan = verdant::sim::plan_csv(&even, &scenario);
    std::fs::write(dir.path().join("even.csv"), &text_plan).unwrap();
    let objectives = |plan: &str| {
        let args = [
            "simulate",
            "--quiet",
            "--out",
            "out",
            "--seed",
            "0",
            "--set",
            "scenario=geo-4dc",
            "--set",
            "fidelity=fluid",
            "--set",
            plan,
        ];
        let out = verdant(&args, dir.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
        let runs = dir.path().join("out/simulate");
        let newest = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .max_by_key(|p| {
                std::fs::metadata(p.join("manifest.json"))
                    .unwrap()
                    .modified()
                    .unwrap()
            })
            .unwrap();
        let csv = std::fs::read_to_string(newest.join("objectives.csv")).unwrap();
        std::fs::remove_dir_all(&newest).unwrap();
        csv
    };
    assert_eq!(objectives("plan=even"), objectives("plan=even.csv"));

    // A bad plan key, a missing file, a bad share: exit 2 naming the key or file, line, column.
    let bad_share = text_plan.replacen("\n0,0,0,", "\n0,0,0,x", 1);
    std::fs::write(dir.path().join("bad.csv"), bad_share).unwrap();
    for (plan, want) in [
        ("plan=cheapest", "plan: \"cheapest\" is not"),
        ("plan=missing.csv", "no plan file missing.csv"),
        ("plan=bad.csv", "bad.csv:2: field virginia:"),
    ] {
        let args = [
            "simulate",
            "--quiet",
            "--out",
            "out",
            "--set",
            "scenario=geo-4dc",
            "--set",
            plan,
        ];
        let out = verdant(&args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{plan}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(want),
            "{plan}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn validate_compares_the_fidelities_and_checks_theory() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "validate",
        "--quiet",
        "--out",
        "out",
        "--set",
        "scenarios=[\"geo-4dc\", \"green-llm-base\"]",
        "--set",
        "loads=[0.5, 1.1]",
        "--set",
        "plans=[\"even\", \"nearest\"]",
        "--set",
        "samples=1",
    ];
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("analytic checks pass"),
        "{}",
        text(&out.stdout)
    );
    let run = single_run(dir.path(), "validate");
    let csv = std::fs::read_to_string(run.join("fidelities.csv")).unwrap();
    // 2 scenarios x 2 loads x 2 plans x 10 metrics, and a header.
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 2 * 10, "{csv}");
    // The Green-LLM case has no nodes: fluid values, no discrete-event ones.
    let green = csv
        .lines()
        .find(|l| l.starts_with("green-llm-base,0.5,even,energy_kwh,"))
        .unwrap();
    let fields: Vec<&str> = green.split(',').collect();
    assert!(
        fields[4].parse::<f64>().unwrap() > 0.0 && fields[5] == "NaN",
        "{green}"
    );
    // geo-4dc's accounting agrees within 3% at half load.
    let geo = csv
        .lines()
        .find(|l| l.starts_with("geo-4dc,0.5,even,carbon_kg,"))
        .unwrap();
    let rel: f64 = geo.split(',').nth(7).unwrap().parse().unwrap();
    assert!(rel.abs() < 0.03, "{geo}");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("## Analytic checks (pass)"), "{report}");
    assert!(run.join("geo-4dc_mean_ttft_s.svg").exists());
    assert!(run.join("analytic.csv").exists());
    // The time lost to prefill groups: geo-4dc's six kinds of node (one- and two-GPU prefills
    // on each), none for the Green-LLM case; more lost the busier the node.
    let idle = std::fs::read_to_string(run.join("group_idle.csv")).unwrap();
    let lost = |gpus: &str, at: &str| -> f64 {
        let row = idle
            .lines()
            .find(|l| l.starts_with(&format!("geo-4dc,A100,{gpus},{at},")))
            .unwrap_or_else(|| panic!("{idle}"));
        row.rsplit(',').next().unwrap().parse().unwrap()
    };
    assert_eq!(idle.lines().count(), 1 + 6 * 9, "{idle}");
    assert!(
        lost("2", "0.5") > 0.0 && lost("2", "0.5") < lost("2", "0.9"),
        "{idle}"
    );
    assert!(lost("8", "0.9") < lost("2", "0.9"), "{idle}");
    assert!(
        report.contains("## GPU time lost to prefill groups"),
        "{report}"
    );
    // Interrupted after some discrete-event runs (one run and the outputs missing): resuming
    // runs only what is missing, with the same numbers.
    std::fs::remove_file(run.join("discrete-event/run-0.txt")).unwrap();
    std::fs::remove_file(run.join("report.md")).unwrap();
    std::fs::remove_file(run.join("fidelities.csv")).unwrap();
    let resume = ["validate", "--quiet", "--resume", run.to_str().unwrap()];
    let out = verdant(&resume, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(run.join("fidelities.csv")).unwrap(),
        csv
    );
    assert!(run.join("report.md").exists() && run.join("discrete-event/run-0.txt").exists());
    let manifest = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"complete\""), "{manifest}");
    // A damaged kept run is an error that names the file and line.
    std::fs::write(run.join("discrete-event/run-1.txt"), "0.5\nx\n").unwrap();
    let out = verdant(&resume, dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("run-1.txt, line 2"),
        "{}",
        text(&out.stderr)
    );
    // Bad input names the key.
    let out = verdant(&["validate", "--set", "loads=[0.5, -1]"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("loads"), "{}", text(&out.stderr));
}

#[test]
fn hv_and_front_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sets.txt"), "1 3\n2 1\n3 3\n\n2 2\n").unwrap();
    let out = verdant(&["hv", "sets.txt", "--ref", "4,4"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let values: Vec<f64> = text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(values, vec![7.0, 4.0]);
    // Reference at the worst observed values (3, 3): (1, 3) lies on the box and adds nothing,
    // (2, 1) adds 1 x 2; the second set's (2, 2) adds 1.
    let out = verdant(&["hv", "sets.txt"], dir.path());
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("# reference point: 3 3\n"), "{stdout}");
    let values: Vec<f64> = stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(values, vec![2.0, 1.0]);
    // Normalised with bounds [0, 4] in both objectives and reference (1, 1): 7 / 16.
    let out = verdant(
        &["hv", "sets.txt", "--normalise", "0,0,4,4", "--ref", "1,1"],
        dir.path(),
    );
    let first: f64 = text(&out.stdout)
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first, 7.0 / 16.0);
    let out = verdant(&["front", "sets.txt"], dir.path());
    assert_eq!(text(&out.stdout), "1.0 3.0\n2.0 1.0\n\n2.0 2.0\n");
    // CSV with a maximised objective.
    std::fs::write(
        dir.path().join("f.csv"),
        "ttft:s:min,quality:score:max\n1,3\n2,4\n",
    )
    .unwrap();
    let out = verdant(&["hv", "f.csv", "--ref", "3,0"], dir.path());
    let first: f64 = text(&out.stdout)
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first, 2.0 * 3.0 + 1.0 * 1.0);
    // Bad input names file, line and field.
    std::fs::write(dir.path().join("bad.txt"), "1 2\n3 x\n").unwrap();
    let out = verdant(&["hv", "bad.txt", "--ref", "4,4"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.txt:2: field column 2"),
        "{}",
        text(&out.stderr)
    );
    let out = verdant(&["hv", "sets.txt", "--ref", "4,4,4"], dir.path());
    assert!(
        text(&out.stderr).contains("--ref has 3 values"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn green_llm_reproduces_and_writes_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "green-llm",
        "--quiet",
        "--out",
        "out",
        "--set",
        "lexicographic_eps=[0.001]",
        "--set",
        "front_grid=2",
        "--set",
        "sensitivity.renewables=[0.5]",
        "--set",
        "sensitivity.carbon_intensity=[]",
        "--set",
        "sensitivity.token_energy=[]",
        "--set",
        "sensitivity.demand=[]",
        "--set",
        "sensitivity.price=[]",
        "--set",
        "sensitivity.delay_weight=[]",
        "--set",
        "sensitivity.delay_threshold=[]",
    ];
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("M1: objective 193.9357"),
        "{}",
        text(&out.stdout)
    );
    let run = single_run(dir.path(), "green-llm");
    for (file, rows) in [
        ("models.csv", 5),
        ("lexicographic.csv", 1 + 6 * 3),
        ("sensitivity.csv", 1 + 4),
        ("hourly_grid_kw.csv", 1 + 4 * 9 * 24),
    ] {
        let text = std::fs::read_to_string(run.join(file)).unwrap();
        assert_eq!(text.lines().count(), rows, "{file}");
    }
    for plot in ["hourly_grid_kw.svg", "hourly_grid_kw.png"] {
        assert!(
            std::fs::metadata(run.join(plot)).unwrap().len() > 1000,
            "{plot}"
        );
    }
    let summary = &manifest(&run)["summary"];
    assert!(summary["front_points"].as_u64().unwrap() >= 2);
    // With the worst observed values as reference, extreme points add nothing: >= 0, finite.
    assert!(summary["front_hypervolume"].as_f64().unwrap() >= 0.0);
    let out = verdant(
        &[
            "green-llm",
            "--quiet",
            "--out",
            "out",
            "--set",
            "models=[\"M9\"]",
        ],
        dir.path(),
    );
    assert!(
        text(&out.stderr).contains("models[0]: \"M9\" is not one of M0, M1, M2, M3"),
        "{}",
        text(&out.stderr)
    );
    let out = verdant(
        &[
            "green-llm",
            "--quiet",
            "--out",
            "out",
            "--set",
            "scenario=geo-4dc",
        ],
        dir.path(),
    );
    assert!(
        text(&out.stderr).contains("has no Green-LLM terms"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn green_llm_milp_models_are_written_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "green-llm",
        "--quiet",
        "--out",
        "out",
        "--set",
        "models=[\"M1\", \"0.5/0.5/0\"]",
        "--set",
        "lexicographic_eps=[]",
        "--set",
        "front_grid=2",
        "--set",
        "milp.enabled=true",
        "--set",
        "solver.time_limit_s=3",
    ];
    let studies: Vec<String> = [
        "renewables",
        "carbon_intensity",
        "token_energy",
        "demand",
        "price",
        "delay_weight",
        "delay_threshold",
    ]
    .iter()
    .map(|study| format!("sensitivity.{study}=[]"))
    .collect();
    for study in &studies {
        args.extend(["--set", study.as_str()]);
    }
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "green-llm");
    let milp = std::fs::read_to_string(run.join("models_milp.csv")).unwrap();
    let row = milp.lines().nth(1).unwrap();
    assert!(
        row.starts_with("M1,Optimal,")
            || row.starts_with("M1,GapLimit,")
            || row.starts_with("M1,TimeLimit,"),
        "{row}"
    );
    let models = std::fs::read_to_string(run.join("models.csv")).unwrap();
    assert!(
        models.lines().any(|l| l.starts_with("0.5/0.5/0,Optimal,")),
        "{models}"
    );
    let out = verdant(
        &[
            "green-llm",
            "--quiet",
            "--print-config",
            "--set",
            "milp.gpu_units_per_server=0",
            "--set",
            "milp.enabled=true",
        ],
        dir.path(),
    );
    assert!(out.status.success());
    let out = verdant(
        &[
            "green-llm",
            "--quiet",
            "--out",
            "out",
            "--set",
            "milp.gpu_units_per_server=0",
            "--set",
            "milp.enabled=true",
        ],
        dir.path(),
    );
    assert!(
        text(&out.stderr).contains("milp.gpu_units_per_server: must be a finite number > 0"),
        "{}",
        text(&out.stderr)
    );
}

/// A tiny budget for the load-balancer commands: 2 seeds, 1,024 steps per agent.
const LB_SMALL: [&str; 12] = [
    "--set",
    "agent.episode_requests=100",
    "--set",
    "agent.total_steps=1024",
    "--set",
    "lb.seeds=2",
    "--set",
    "agent.envs=4",
    "--set",
    "agent.ppo.rollout_steps=64",
    "--set",
    "agent.dqn.learning_starts=128",
];

#[test]
fn lb_table_trains_evaluates_and_compares_with_every_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["lb", "table", "--out", "out", "-q"];
    args.extend(LB_SMALL);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "lb");
    let table = std::fs::read_to_string(run.join("table.md")).unwrap();
    for agent in [
        "ppo",
        "a2c",
        "dqn",
        "round-robin",
        "least-connections",
        "least-loaded",
        "random",
        "normalised-least-loaded",
        "shortest-expected-delay",
    ] {
        assert!(table.contains(&format!("| {agent} |")), "{agent}:\n{table}");
    }
    assert!(table.contains("Against the strongest baseline"));
    assert!(text(&out.stdout).contains("| ppo |"));
    // One evaluation row per agent and seed, every request of the held-out tail counted.
    let csv = std::fs::read_to_string(run.join("evaluation.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 9 * 2);
    let requests: Vec<&str> = rows.iter().map(|r| r.split(',').nth(2).unwrap()).collect();
    assert!(requests.windows(2).all(|w| w[0] == w[1]), "{requests:?}");
    for stem in [
        "learning_curves",
        "response_time_cdf",
        "load_over_time_ppo",
        "load_over_time_shortest-expected-delay",
        "slo_violations_per_server",
    ] {
        for ext in ["svg", "png"] {
            assert!(run.join(format!("{stem}.{ext}")).is_file(), "{stem}.{ext}");
        }
    }
    for a in ["ppo", "a2c", "dqn"] {
        for k in 0..2 {
            let agent = run.join(format!("agents/{a}/seed-{k}"));
            assert!(agent.join("checkpoint.json").is_file());
            assert!(agent.join("curve.csv").is_file());
        }
    }
    let m = manifest(&run);
    assert_eq!(m["status"], "complete");
    assert_eq!(m["device"], "cpu");
    assert!(
        m["summary"]["training"]["steps_per_s"][0][1]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn lb_train_resumes_from_checkpoints_and_eval_reads_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "lb",
        "train",
        "--out",
        "out",
        "-q",
        "--set",
        r#"lb.algorithms=["ppo"]"#,
    ];
    args.extend(LB_SMALL);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "lb-train");
    let curve = |k: u32| {
        std::fs::read_to_string(run.join(format!("agents/ppo/seed-{k}/curve.csv"))).unwrap()
    };
    let before = curve(0);
    // Raise the budget in the run's own configuration, as if the run had been cut short, and
    // resume: training continues from the checkpoint instead of starting again.
    let config_path = run.join("config.resolved.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(config.contains("total_steps = 1024"));
    std::fs::write(
        &config_path,
        config.replace("total_steps = 1024", "total_steps = 2048"),
    )
    .unwrap();
    let run_arg = run.to_str().unwrap();
    let out = verdant(&["lb", "train", "--resume", run_arg, "-q"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = curve(0);
    assert!(
        after.starts_with(&before) && after.len() > before.len(),
        "the resumed curve extends the first one"
    );
    let out = verdant(&["lb", "eval", run_arg, "--out", "out", "-q"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let eval = single_run(dir.path(), "lb-eval");
    assert!(std::fs::read_to_string(eval.join("table.md"))
        .unwrap()
        .contains("| ppo |"));
    // An unfinished run is refused by eval with the way out.
    std::fs::write(
        &config_path,
        std::fs::read_to_string(&config_path)
            .unwrap()
            .replace("total_steps = 2048", "total_steps = 4096"),
    )
    .unwrap();
    let out = verdant(&["lb", "eval", run_arg, "--out", "out", "-q"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("stopped at") && err.contains("--resume"),
        "{err}"
    );
}

#[test]
fn lb_rejects_bad_agent_parameters_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdant(
        &[
            "lb",
            "table",
            "--set",
            "agent.learning_rate=-1",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("agent.learning_rate"),
        "{}",
        text(&out.stderr)
    );
    let out = verdant(
        &[
            "lb",
            "table",
            "--set",
            "agent.ppo.gae_lambda=2",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert!(text(&out.stderr).contains("agent.ppo.gae_lambda"));
}

#[test]
fn lb_geo_scores_the_routing_of_agents_and_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "lb",
        "geo",
        "--out",
        "out",
        "-q",
        "--set",
        "geo.scenario=geo-4dc",
        "--set",
        "geo.requests=5000",
        "--set",
        r#"lb.algorithms=["ppo"]"#,
    ];
    args.extend(LB_SMALL);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "lb-geo");
    let csv = std::fs::read_to_string(run.join("geo_objectives.csv")).unwrap();
    let methods: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    // 2 PPO seeds, 6 baselines x 2 seeds, even and nearest.
    assert_eq!(methods.len(), 2 + 12 + 2, "{methods:?}");
    assert!(methods.contains(&"ppo") && methods.contains(&"nearest"));
    for line in csv.lines().skip(1) {
        let carbon: f64 = line.split(',').nth(3).unwrap().parse().unwrap();
        assert!(carbon > 0.0, "{line}");
    }
    assert!(run.join("geo_servers.csv").is_file());
}

/// A tiny MARLIN run on geo-4dc: one day, one exploration per epoch, small networks.
/// MARLIN's networks and updates at test size.
const MARLIN_TINY: [&str; 8] = [
    "--set",
    "marlin.k_opt=1",
    "--set",
    "marlin.batch=16",
    "--set",
    "marlin.actor_hidden=16",
    "--set",
    "marlin.critic_hidden=16",
];

/// MARLIN on geo-4dc at test size: one seed, one day, two schemes.
fn marlin_small() -> Vec<&'static str> {
    let mut args = vec![
        "--set",
        "scenario=geo-4dc",
        "--set",
        "seeds=1",
        "--set",
        "marlin.days=1",
    ];
    args.extend(MARLIN_TINY);
    args.extend(["--set", r#"schemes=["min-carbon","balanced"]"#]);
    args
}

#[test]
fn marlin_trains_schemes_resumes_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["marlin", "train", "--out", "out", "-q"];
    args.extend(marlin_small());
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "marlin");
    let md = std::fs::read_to_string(run.join("marlin.md")).unwrap();
    assert!(
        md.contains("| min-carbon |") && md.contains("| balanced |"),
        "{md}"
    );
    assert!(md.contains("Discrete-event") && md.contains("PHV"));
    let schemes = std::fs::read_to_string(run.join("schemes.csv")).unwrap();
    assert_eq!(
        schemes.lines().count(),
        1 + 2 * 2,
        "fluid and discrete-event rows:\n{schemes}"
    );
    // One archive point per day for the consensus and each of the four agents.
    let archive = std::fs::read_to_string(run.join("archive.csv")).unwrap();
    assert_eq!(archive.lines().count(), 1 + 2 * 5);
    let front = std::fs::read_to_string(run.join("front.csv")).unwrap();
    assert!(front.starts_with("ttft_s:s:min,"));
    for stem in ["schemes_vs_even", "capital"] {
        assert!(run.join(format!("{stem}.svg")).is_file());
        assert!(run.join(format!("{stem}.png")).is_file());
    }
    let log = run.join("schemes/balanced/seed-0/epochs.csv");
    let epochs_before = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(epochs_before, 1 + 96);
    // Raise the budget to two days in the run's own configuration and resume: day 2 is added.
    let config_path = run.join("config.resolved.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, config.replace("days = 1", "days = 2")).unwrap();
    let run_arg = run.to_str().unwrap();
    let out = verdant(&["marlin", "train", "--resume", run_arg, "-q"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        1 + 2 * 96
    );
    assert_eq!(manifest(&run)["status"], "complete");
    let out = verdant(
        &["marlin", "eval", run_arg, "--out", "out", "-q"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let eval = single_run(dir.path(), "marlin-eval");
    assert!(std::fs::read_to_string(eval.join("marlin.md"))
        .unwrap()
        .contains("| balanced |"));
}

#[test]
fn marlin_rejects_bad_parameters_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdant(
        &[
            "marlin",
            "train",
            "--set",
            "marlin.veto_max=2",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("marlin.veto_max"),
        "{}",
        text(&out.stderr)
    );
    let out = verdant(
        &[
            "marlin",
            "train",
            "--set",
            r#"schemes=["fastest"]"#,
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("schemes"),
        "{}",
        text(&out.stderr)
    );
}

/// The comparison commands at a tiny budget.
const COMPARE_SMALL: [&str; 10] = [
    "--set",
    "methods.nsga2.generations=2",
    "--set",
    "methods.nsga2.population=6",
    "--set",
    "methods.slit.generations=1",
    "--set",
    "methods.perllm.days=1",
    "--set",
    r#"compare.scalability_scenarios=["geo-4dc","geo-6dc"]"#,
];

#[test]
fn marlin_compare_scale_and_ablation_write_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["marlin", "compare", "--out", "out", "-q"];
    args.extend(marlin_small());
    args.extend(COMPARE_SMALL);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "marlin-compare");
    let md = std::fs::read_to_string(run.join("compare.md")).unwrap();
    for name in [
        "helix",
        "splitwise",
        "nsga2",
        "perllm",
        "slit",
        "q-learning",
        "double-dqn",
        "actor-critic",
        "lowest-carbon",
        "marlin-balanced",
    ] {
        assert!(md.contains(&format!("| {name} |")), "{name}:\n{md}");
    }
    assert!(md.contains("headline claims") && md.contains("| carbon | 33% |"));
    let phv = std::fs::read_to_string(run.join("phv.csv")).unwrap();
    assert!(phv
        .lines()
        .skip(1)
        .all(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap() >= 0.0));
    for stem in ["compare_metrics", "compare_phv"] {
        assert!(run.join(format!("{stem}.png")).is_file());
    }

    let mut args = vec!["marlin", "scale", "--out", "out", "-q"];
    args.extend(marlin_small());
    args.extend(COMPARE_SMALL);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "marlin-scale");
    let csv = std::fs::read_to_string(run.join("scalability.csv")).unwrap();
    assert!(
        csv.contains("geo-4dc,4,marlin,") && csv.contains("geo-6dc,6,helix,"),
        "{csv}"
    );
    assert!(run.join("scalability.svg").is_file());

    let mut args = vec!["marlin", "ablation", "--out", "out", "-q"];
    args.extend(marlin_small());
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "marlin-ablation");
    let md = std::fs::read_to_string(run.join("ablation.md")).unwrap();
    assert!(md.contains("| full | 1.000 ± 0.000 |"), "{md}");
    for v in [
        "no-veto",
        "no-blending",
        "no-film",
        "no-her",
        "no-capital",
        "no-predictor",
    ] {
        assert!(md.contains(&format!("| {v} |")), "{v}");
    }
}

#[test]
fn an_unknown_framework_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "marlin",
        "compare",
        "--out",
        "out",
        "--set",
        r#"compare.frameworks=["helixx"]"#,
    ];
    args.extend(marlin_small());
    let out = verdant(&args, dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("helixx"),
        "{}",
        text(&out.stderr)
    );
}

/// `verdant compare` at test size: one small MARLIN scheme, a short load balancer, a 2^3 lattice,
/// fluid scores only.
const MAIN_COMPARE_SMALL: [&str; 12] = [
    "--set",
    "methods.exact.certify_front_budget_s=1",
    "--set",
    r#"schemes=["balanced"]"#,
    "--set",
    "agent.total_steps=256",
    "--set",
    "agent.episode_requests=64",
    "--set",
    "methods.exact.front_grid=2",
    "--set",
    "discrete_event=false",
];

/// The certification of a compare run: no plan of any method below the front's bound (read
/// from certification.csv, checked against every fluid row of fronts.csv), every bounded plan of
/// the exact front at or above its own bounds, and the report's account of it.
fn assert_certified(run: &Path, report: &str, fronts: &str) {
    assert!(
        report.contains("## Certification (the bound model, decision 0010)")
            && report.contains("No plan of any method scores below the front's bound.")
            && report.contains("The optimal PHV lies in [")
            && report.contains("| Plan | TTFT | carbon | water | energy cost | energy |"),
        "{report}"
    );
    // The plans certified less tightly than the issue's tolerances are listed, with why.
    assert!(
        report.contains("Every bounded plan is certified within 5% on TTFT and 1%")
            || report.contains("Plans certified less tightly than 5% on TTFT and 1%"),
        "{report}"
    );
    // Every plan of the exact front is kept: one row per (epoch, origin, class), shares that
    // sum to 1.
    let plan = std::fs::read_to_string(run.join("plans/exact-bound-min-ttft.csv")).unwrap();
    assert!(plan.starts_with("epoch,origin,class,"), "{plan}");
    for line in plan.lines().skip(1) {
        let sum: f64 = line
            .split(',')
            .skip(3)
            .map(|v| v.parse::<f64>().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{line}");
    }
    assert!(plan.lines().count() > 24, "{plan}");
    let certification = std::fs::read_to_string(run.join("certification.csv")).unwrap();
    let front_bound: Vec<f64> = certification
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(front_bound.len(), 4, "{certification}");
    let header = fronts.lines().next().unwrap().split(',');
    let column = |name: &str| header.clone().position(|h| h == name).unwrap();
    let (ttft, coverage) = (column("ttft_s"), column("bound_coverage"));
    let first_bound = column("bound_ttft_s");
    let mut bounded = 0;
    for line in fronts.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[4] != "fluid" {
            continue;
        }
        // TTFT, carbon, water, cost and energy, in the bound columns' order.
        for k in 0..5 {
            let v: f64 = f[ttft + k].parse().unwrap();
            if k < 4 {
                assert!(
                    v >= front_bound[k] * (1.0 - 1e-9),
                    "{line}: objective {k} below the front's bound {}",
                    front_bound[k]
                );
            }
            // A bound is empty only where its solve stopped before HiGHS had one.
            if f[coverage] == "bounded" && !f[first_bound + k].is_empty() {
                let b: f64 = f[first_bound + k].parse().unwrap();
                assert!(v >= b * (1.0 - 1e-9), "{line}: below its own bound");
            }
        }
        bounded += usize::from(f[coverage] == "bounded");
    }
    assert!(bounded >= 4, "{fronts}");
}

/// `verdant compare` at test size with `extra` settings.
fn small_compare<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["compare", "--out", "out", "-q"];
    args.extend(extra);
    args.extend(MARLIN_TINY);
    args.extend(MAIN_COMPARE_SMALL);
    args
}

#[test]
fn compare_writes_the_optimal_versus_learned_report_and_report_merges_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdant(&small_compare(&["--set", "scenario=geo-4dc"]), dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "compare");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains(
        "| Method | seeds | PHV | PHV ratio to optimal | PHV ratio to the bound | additive epsilon | IGD+ | gap TTFT |"
    ));
    for m in [
        "exact",
        "marlin-balanced",
        "lb-ppo",
        "lb-shortest-expected-delay",
        "even",
        "lowest-carbon",
    ] {
        assert!(report.contains(&format!("| {m} |")), "{m}:\n{report}");
    }
    // The exact front is its own reference: ratio 1, no distance to itself and no gap.
    assert!(
        report.contains("| exact | 1 |")
            && report.contains("| 1.000 ± 0.000 |")
            && report.contains("| 0.000 ± 0.000 | 0.000 ± 0.000 | +0.0% ± 0.0 |"),
        "{report}"
    );
    assert!(
        report.contains("No held-out days: `geo-4dc` names no split"),
        "{report}"
    );
    // The report says how far the learned methods trained, in environment steps, and where
    // the learning curves are.
    assert!(
        report
            .contains("- marlin: trained 1 day(s) of 96 epochs at k_opt 1: 384 environment steps")
            && report.contains("SAC updates per agent, cross-epoch buffers at")
            && report.contains(
                "- lb: the agents trained 256 environment steps of their own environment"
            )
            && report.contains("is measured by `verdant learn`")
            && report.contains("their learning curves are `verdant learn`'s"),
        "{report}"
    );
    let ind = std::fs::read_to_string(run.join("indicators.csv")).unwrap();
    assert!(ind.starts_with("method,seed,indicator,value\n"));
    assert!(ind.contains("marlin-balanced,0,phv_ratio_to_exact,"));
    let fronts = std::fs::read_to_string(run.join("fronts.csv")).unwrap();
    assert!(fronts.lines().filter(|l| l.starts_with("exact,")).count() >= 4);
    assert_certified(&run, &report, &fronts);
    // Every pairwise projection of the four objectives, and the other plots.
    for stem in [
        "front_ttft_carbon",
        "front_ttft_water",
        "front_ttft_cost",
        "front_carbon_water",
        "front_carbon_cost",
        "front_water_cost",
        "phv_ratio",
        "routing_min_carbon",
        "carbon_intensity",
    ] {
        assert!(run.join(format!("{stem}.png")).is_file(), "{stem}");
        assert!(run.join(format!("{stem}.svg")).is_file(), "{stem}");
    }
    // report merges two runs (here the same one twice: two samples per method).
    let run_arg = run.to_str().unwrap();
    let out = verdant(&["report", run_arg, run_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let merged = text(&out.stdout);
    assert!(merged.contains("| exact | 2 |"), "{merged}");
    // A damaged indicators file is named with its line and field.
    std::fs::write(
        run.join("indicators.csv"),
        "method,seed,indicator,value\nexact,x,phv,1\n",
    )
    .unwrap();
    let out = verdant(&["report", run_arg], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("indicators.csv:2") && err.contains("seed"),
        "{err}"
    );
}

#[test]
fn compare_on_green_llm_base_uses_green_llm_as_the_exact_front() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdant(
        &small_compare(&["--set", "scenario=green-llm-base"]),
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report =
        std::fs::read_to_string(single_run(dir.path(), "compare").join("report.md")).unwrap();
    for m in ["exact", "green-llm", "marlin-balanced", "even"] {
        assert!(report.contains(&format!("| {m} |")), "{m}:\n{report}");
    }
    assert!(report.contains("Green-LLM's epsilon front"), "{report}");
    let fronts =
        std::fs::read_to_string(single_run(dir.path(), "compare").join("fronts.csv")).unwrap();
    assert_certified(&single_run(dir.path(), "compare"), &report, &fronts);
    assert!(report.contains("lb: not run"), "{report}");
}

#[test]
fn compare_rejects_bad_configuration_by_key() {
    let dir = tempfile::tempdir().unwrap();
    for (set, key) in [
        ("methods.exact.front_grid=1", "methods.exact.front_grid"),
        (
            "methods.exact.certify_front_budget_s=0",
            "methods.exact.certify_front_budget_s",
        ),
        (
            "methods.exact.certify_plans_budget_s=-1",
            "methods.exact.certify_plans_budget_s",
        ),
        ("bogus=1", "bogus"),
        ("marlin.k_opt=0", "marlin.k_opt"),
        ("agent.gamma=2", "agent.gamma"),
    ] {
        let out = verdant(&["compare", "--out", "out", "--set", set], dir.path());
        assert!(!out.status.success(), "{set}");
        assert!(
            text(&out.stderr).contains(key),
            "{set}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        !dir.path().join("out/compare").exists(),
        "no run directory for a bad config"
    );
}

/// `verdant forecast`: the predictor on the held-out days of the 14-day scenario beside the
/// seasonal-naive forecast and the last value; on the tiled one-day scenario its learned season
/// is the trace's hour; a configured season is used as given; a bad one names the key.
#[test]
fn forecast_scores_the_predictor_on_held_out_days() {
    let forecast =
        |dir: &Path, set: &str| verdant(&["forecast", "-q", "--out", "out", "--set", set], dir);
    let dir = tempfile::tempdir().unwrap();
    let out = forecast(dir.path(), "scenario=geo-8dc-14d");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "Season learned from the training days 1-11; scored on the held-out days 12-14."
        ),
        "{stdout}"
    );
    let run = single_run(dir.path(), "forecast");
    let csv = std::fs::read_to_string(run.join("forecast.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        names,
        ["MARLIN's predictor", "seasonal naive", "last value"]
    );
    for r in &rows {
        assert_eq!(r[1], "288", "three held-out days of 96 epochs: {csv}");
        let wape: f64 = r[4].parse().unwrap();
        assert!(wape.is_finite() && wape > 0.0, "{csv}");
    }
    let series = std::fs::read_to_string(run.join("series.csv")).unwrap();
    assert_eq!(series.lines().count(), 1 + 288);
    assert!(
        series.lines().nth(1).unwrap().starts_with("1056,12,"),
        "{series}"
    );
    assert_eq!(manifest(&run)["status"], "complete");

    let dir = tempfile::tempdir().unwrap();
    let out = forecast(dir.path(), "seed=0");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("scored in-sample"), "{stdout}");
    assert!(
        stdout.contains("season 4)"),
        "the tiled hour is 4 epochs: {stdout}"
    );
    let out = forecast(dir.path(), "marlin.predictor_season=7");
    assert!(
        text(&out.stdout).contains("season 7)"),
        "{}",
        text(&out.stdout)
    );
    let out = forecast(dir.path(), "marlin.predictor_season=\"weekly\"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("predictor_season"),
        "{}",
        text(&out.stderr)
    );
}

/// On a scenario with a split, the learned methods train on the training day and every method is
/// scored on the held-out day: MARLIN's plans there are its deployed consensus and agents' plans,
/// not its training archive, and the report says which days were scored.
#[test]
fn compare_scores_held_out_days_where_the_scenario_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_arg = geo4_two_days(dir.path());
    // No time for the plans' bounds: every plan the model covers is named out-of-time.
    let args = small_compare(&[
        "--set",
        &scenario_arg,
        "--set",
        r#"compared=["exact", "marlin", "lb", "even"]"#,
        "--set",
        "methods.exact.certify_plans_budget_s=0.1",
    ]);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "compare");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("Held-out days: learned methods trained on day 1 of `geo-4dc-2d`; every method allocated and was scored on the held-out day 2 (`geo-4dc-2d day 2`)"),
        "{report}"
    );
    for m in ["exact", "marlin-balanced", "lb-ppo", "even"] {
        assert!(report.contains(&format!("| {m} |")), "{m}:\n{report}");
    }
    let fronts = std::fs::read_to_string(run.join("fronts.csv")).unwrap();
    let marlin_sources: Vec<&str> = fronts
        .lines()
        .filter(|l| l.starts_with("marlin-balanced,"))
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(
        marlin_sources,
        ["consensus", "ttft", "carbon", "water", "cost"],
        "{fronts}"
    );
    let coverage: Vec<&str> = fronts
        .lines()
        .filter(|l| l.starts_with("exact,") && l.contains(",fluid,"))
        .map(|l| l.split(',').nth(11).unwrap())
        .collect();
    assert!(coverage.contains(&"out-of-time"), "{fronts}");
    assert!(!coverage.contains(&"bounded"), "{fronts}");
    assert!(report.contains("| not covered (out-of-time) |"), "{report}");
    let manifest = manifest(&run);
    assert_eq!(manifest["summary"]["held_out"], true);
    assert_eq!(manifest["summary"]["trained_on"], "geo-4dc-2d day 1");
}

/// Every command of `verdant --help`, and every shared flag, is in the README's tables.
#[test]
fn every_command_and_flag_is_documented_in_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(&verdant(&["--help"], dir.path()).stdout);
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let section = |name: &str| -> Vec<String> {
        help.lines()
            .skip_while(|l| l.trim() != name)
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    };
    let commands = section("Commands:");
    assert!(commands.len() >= 13, "{help}");
    for c in commands.iter().filter(|c| *c != "help") {
        assert!(
            readme.contains(&format!("| `verdant {c}")),
            "README's command table lacks `verdant {c}`"
        );
    }
    for flag in section("Options:") {
        let flag = flag.trim_end_matches(',');
        if ["-h", "-V"].contains(&flag) {
            continue;
        }
        assert!(readme.contains(&format!("`{flag}")), "README lacks {flag}");
    }
}

/// A discrete-event run that would not fit in memory is refused before it starts, with what it
/// would need and what to do instead (VERDANT_MEMORY_BYTES stands in for the machine's memory).
#[test]
fn a_discrete_event_run_too_large_for_memory_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let run = |fidelity: &str| {
        Command::new(env!("CARGO_BIN_EXE_verdant"))
            .args([
                "simulate",
                "-q",
                "--out",
                "out",
                "--set",
                "scenario=geo-4dc",
                "--set",
                &format!("fidelity={fidelity:?}"),
            ])
            .env("VERDANT_MEMORY_BYTES", "100000000")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run("both");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("the discrete-event run of geo-4dc would simulate about")
            && err.contains("more than the 0.1 GB available")
            && err.contains("fidelity = \"fluid\""),
        "{err}"
    );
    let out = run("fluid");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A two-day geo-4dc (train on day 1, score day 2) in `dir`; returns the `--set scenario=` value.
fn geo4_two_days(dir: &Path) -> String {
    let scenario = dir.join("two-days.toml");
    std::fs::write(
        &scenario,
        format!(
            "include = {:?}\nname = \"geo-4dc-2d\"\n[time]\nepochs = 192\n[split]\ntrain_days = [1, 1]\ntest_days = [2, 2]\n",
            repo("datasets/scenarios/geo-4dc.toml").display().to_string()
        ),
    )
    .unwrap();
    format!("scenario={:?}", scenario.display().to_string())
}

/// cells.csv without its last column (wall time).
fn cells_without_time(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("cells.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect()
}

#[test]
fn learn_draws_learning_curves_on_held_out_days_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = geo4_two_days(dir.path());
    let mut args = vec![
        "learn",
        "--out",
        "out",
        "-q",
        "--set",
        &scenario,
        "--set",
        "seeds=2",
        "--set",
        r#"schemes=["min-carbon","balanced"]"#,
        "--set",
        r#"compared=["exact","marlin","q-learning","lb"]"#,
        "--set",
        r#"lb.algorithms=["a2c"]"#,
        "--set",
        "geo.requests=3000",
        "--set",
        "learn.passes=[1,2]",
        "--set",
        "learn.sensitivity.passes=[1]",
        "--set",
        "learn.sensitivity.variants={ small-actions = { action_scale = 1.0 }, no-veto = { components = { veto = false } } }",
        "--set",
        "learn.k_opt=[1]",
        "--set",
        "methods.exact.certify_front_budget_s=1",
        "--set",
        "methods.exact.front_grid=2",
    ];
    args.extend(MARLIN_TINY);
    let out = verdant(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = single_run(dir.path(), "learn");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("Held-out days"), "{report}");
    assert!(report.contains("the optimal PHV lies in ["), "{report}");
    for curve in [
        "marlin-min-carbon-k1",
        "marlin-balanced-k1",
        "marlin-balanced-even-init-k1",
        "q-learning",
        "lb-a2c",
        "marlin-balanced-k1-small-actions",
        "marlin-balanced-k1-no-veto",
    ] {
        assert!(
            report.contains(&format!("| {curve} | 1 |")),
            "{curve}:\n{report}"
        );
    }
    assert!(
        report.contains("## Sensitivity of balanced (k_opt 1)"),
        "{report}"
    );
    // A variant trains at one budget: no doubling to call it flat by.
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("| marlin-balanced-k1-no-veto |")
                && l.ends_with("| n/a (one trained budget) |")),
        "{report}"
    );
    assert!(
        report.contains("| no-veto | `components.veto = false` | 1 | 2 |"),
        "{report}"
    );
    assert!(
        report.contains("the load balancer's agents (a2c) in geo mode"),
        "{report}"
    );
    // Three MARLIN curves at budgets 0 (the control), 1 and 2; Q-learning at 1 and 2; the load
    // balancer at 0, 1 and 2; two variants at 0 and 1; two seeds.
    let cells = cells_without_time(&run);
    assert_eq!(cells.len(), 1 + (3 * 3 + 2 + 3 + 2 * 2) * 2, "{cells:#?}");
    let header: Vec<&str> = cells[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for row in &cells[1..] {
        let f: Vec<&str> = row.split(',').collect();
        let passes: u64 = f[col("passes")].parse().unwrap();
        let steps: u64 = f[col("env_steps")].parse().unwrap();
        if f[col("method")] == "lb" {
            // Requests routed: a pass routes the ~3,000 drawn requests once (the last update's
            // rollout may run past the budget).
            assert!(
                (passes * 2000..=passes * 4000 + 1000).contains(&steps),
                "{row}"
            );
        } else {
            // One environment step per explored plan: 4 agents x k_opt per epoch (MARLIN), as
            // many for the frameworks (one per epoch, 4 k_opt passes per unit of budget).
            assert_eq!(steps, passes * 96 * 4, "{row}");
        }
        let ratio: f64 = f[col("phv_ratio_to_exact")].parse().unwrap();
        assert!((0.0..=1.0).contains(&ratio), "{row}");
        // MARLIN's deployments count their vetoes; without vetoes there are none.
        for vetoes in [f[col("vetoes")], f[col("training_vetoes")]] {
            match f[col("method")] {
                "marlin" if f[col("curve")].ends_with("-no-veto") => {
                    assert_eq!(vetoes, "0", "{row}")
                }
                "marlin" => assert!(vetoes.parse::<u64>().is_ok(), "{row}"),
                _ => assert_eq!(vetoes, "", "{row}"),
            }
        }
    }
    // Resume after losing cells (a run stopped mid-way): the same numbers.
    for cell in [
        "marlin-balanced-k1-p2-s1.json",
        "q-learning-p1-s0.json",
        "lb-a2c-p2-s1.json",
        "marlin-balanced-k1-no-veto-p1-s0.json",
    ] {
        std::fs::remove_file(run.join("cells").join(cell)).unwrap();
    }
    let out = verdant(
        &["learn", "-q", "--resume", run.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(cells_without_time(&run), cells);
    let m = manifest(&run);
    assert_eq!(m["status"], "complete");
    // The manifest keeps the first attempt's command and records the resumption.
    assert!(m["command_line"].to_string().contains("\"--out\""), "{m}");
    let resumed = m["resumptions"].as_array().expect("resumptions");
    assert_eq!(resumed.len(), 1, "{m}");
    assert!(
        resumed[0]["command_line"]
            .to_string()
            .contains("\"--resume\""),
        "{m}"
    );
    assert!(resumed[0]["git"]["commit"].is_string(), "{m}");
    // verdant compare refuses verdant learn's section.
    let out = verdant(
        &["compare", "--print-config", "--set", "learn.jobs=1"],
        dir.path(),
    );
    assert!(out.status.success());
    let out = verdant(
        &["compare", "-q", "--out", "out", "--set", "learn.jobs=1"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("learn"), "{}", text(&out.stderr));
}

/// A sweep of `simulate` (fluid, geo-4dc) over two blowdown readings and two seeds.
const SWEEP: &str = r#"
name = "blowdown"
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
fn a_sweep_runs_locally_resumes_and_merges_over_seeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.toml"), SWEEP).unwrap();
    let list = verdant(&["sweep", "sweep.toml", "--list"], dir.path());
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listed = text(&list.stdout);
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(
        listed.contains("--run-dir sweeps/blowdown/run-0003")
            && listed.contains("--set sim.blowdown=\"paper-literal\" --seed 2"),
        "{listed}"
    );
    let out = verdant(&["sweep", "sweep.toml", "--local", "-j", "2"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("4 to run"),
        "{}",
        text(&out.stdout)
    );
    let root = dir.path().join("sweeps/blowdown");
    for i in 0..4 {
        let m = manifest(&root.join(format!("run-{i:04}")));
        assert_eq!(m["status"], "complete");
    }
    let report = verdant(&["sweep", "sweep.toml", "--report"], dir.path());
    assert!(report.status.success(), "{}", text(&report.stderr));
    let table = text(&report.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[0].starts_with("sim.blowdown,fidelity,runs,ttft_s_mean,ttft_s_ci95,"));
    assert!(
        rows[1].starts_with("blowdown-only,fluid,2,")
            && rows[2].starts_with("paper-literal,fluid,2,")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("report.csv")).unwrap(),
        table
    );
    // The merged mean is the mean of the runs' own numbers.
    let water = |run: &str| -> f64 {
        let csv = std::fs::read_to_string(root.join(run).join("objectives.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        let k = header.iter().position(|h| *h == "water_l").unwrap();
        row[k].parse().unwrap()
    };
    let header: Vec<&str> = rows[0].split(',').collect();
    let k = header.iter().position(|h| *h == "water_l_mean").unwrap();
    let merged: f64 = rows[2].split(',').nth(k).unwrap().parse().unwrap();
    assert_eq!(merged, (water("run-0002") + water("run-0003")) / 2.0);

    // An interrupted sweep: run 1 was still running, run 3 never started. Resumed, only those
    // two run, and the merged table is the same.
    let run1 = root.join("run-0001/manifest.json");
    let m = std::fs::read_to_string(&run1)
        .unwrap()
        .replace("\"complete\"", "\"running\"");
    std::fs::write(&run1, m).unwrap();
    std::fs::remove_dir_all(root.join("run-0003")).unwrap();
    let out = verdant(&["sweep", "sweep.toml", "--local"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("2 complete, 2 to run"), "{stdout}");
    assert!(
        stdout.contains("run    1") && stdout.contains("run    3") && !stdout.contains("run    0"),
        "{stdout}"
    );
    let again = verdant(&["sweep", "sweep.toml", "--report"], dir.path());
    assert_eq!(text(&again.stdout), table);

    // --run of a complete run does nothing; of a run that does not exist, an error.
    let out = verdant(&["sweep", "sweep.toml", "--run", "2"], dir.path());
    assert!(out.status.success() && text(&out.stdout).contains("nothing to do"));
    let out = verdant(&["sweep", "sweep.toml", "--run", "9"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("run 9 does not exist (the sweep has 4 runs"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_failed_sweep_run_is_named_and_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = SWEEP.replace("\"paper-literal\"]", "\"no-such-reading\"]");
    std::fs::write(dir.path().join("sweep.toml"), sweep).unwrap();
    let out = verdant(&["sweep", "sweep.toml", "--local", "-j", "2"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2 of 4 runs failed (2, 3)"), "{stderr}");
    let list = text(&verdant(&["sweep", "sweep.toml", "--list"], dir.path()).stdout);
    let statuses: Vec<&str> = list
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["complete", "complete", "failed", "failed"],
        "{list}"
    );
    let log =
        std::fs::read_to_string(dir.path().join("sweeps/blowdown/logs/run-0002.log")).unwrap();
    assert!(log.contains("sim.blowdown"), "{log}");
    // The report merges what completed and names what did not.
    let out = verdant(&["sweep", "sweep.toml", "--report"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
    assert!(text(&out.stderr).contains("2 of 4 runs not complete (left out): 2, 3"));
}

#[test]
fn bad_sweep_files_are_named_by_key() {
    let dir = tempfile::tempdir().unwrap();
    for (body, want) in [
        (
            SWEEP.replace("name = \"blowdown\"", "name = \"a/b\""),
            "name: \"a/b\"",
        ),
        (
            SWEEP.replace("[\"simulate\"]", "[\"hv\"]"),
            "command: \"hv\" is not a command",
        ),
        (
            SWEEP.replace("values = [1, 2]", "values = [-1]"),
            "axis[1].values: -1",
        ),
        (
            SWEEP.replace("values = [1, 2]", "values = []"),
            "axis[1].values: at least one",
        ),
        (
            SWEEP.replace("key = \"seed\"", "key = \"sim.blowdown\""),
            "axis[1].key: \"sim.blowdown\" is an axis twice",
        ),
        (
            SWEEP.replace("table = ", "tabel = "),
            "unknown field `tabel`",
        ),
    ] {
        std::fs::write(dir.path().join("bad.toml"), &body).unwrap();
        let out = verdant(&["sweep", "bad.toml"], dir.path());
        assert_eq!(out.status.code(), Some(2), "{want}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("bad.toml") && stderr.contains(want),
            "{want}: {stderr}"
        );
    }
}

#[test]
fn the_committed_sweep_files_list_runs_whose_configurations_resolve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(root.join("sweeps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for file in files {
        let list = verdant(&["sweep", file.to_str().unwrap(), "--list"], dir.path());
        assert!(
            list.status.success(),
            "{}: {}",
            file.display(),
            text(&list.stderr)
        );
        for line in text(&list.stdout).lines() {
            // `index  status  dir  verdant <args>`: each run's configuration resolves and checks.
            let args: Vec<&str> = line.split(" verdant ").nth(1).unwrap().split(' ').collect();
            let mut check = args.clone();
            check.push("--print-config");
            let out = verdant(&check, dir.path());
            assert!(
                out.status.success(),
                "{}: {line}: {}",
                file.display(),
                text(&out.stderr)
            );
        }
    }
}
