//! Infeasible worlds and failed methods (issue 24): a scenario file whose demand exceeds its
//! fleet, or a class whose model no datacenter hosts, is refused when it loads, by every command
//! that allocates with the same error naming the field (worlds made in code, by a transform or
//! `Scenario::from_parts`, meet `verdant::allocator::feasibility` instead: tests/scenarios.rs);
//! a comparison one of whose methods fails is `partial`, one whose method does not apply to the
//! scenario is `complete` with a note.

use std::path::Path;
use std::process::{Command, Output};

fn verdant(args: &[&str], cwd: &Path, env: Option<(&str, &str)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verdant"));
    command.args(args).current_dir(cwd);
    if let Some((k, v)) = env {
        command.env(k, v);
    }
    command.output().expect("the verdant binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The commands that allocate on a geo scenario, each pointed at `scenario`.
fn commands(scenario: &str) -> Vec<Vec<String>> {
    let set = format!("scenario={scenario}");
    let small = [
        "--set",
        "marlin.k_opt=1",
        "--set",
        "marlin.batch=16",
        "--set",
        "seeds=1",
    ];
    let mut out = Vec::new();
    for head in [
        vec!["compare"],
        vec!["learn"],
        vec!["marlin", "train"],
        vec!["marlin", "compare"],
    ] {
        let mut args: Vec<String> = head.iter().map(|s| s.to_string()).collect();
        args.extend(["--set".into(), set.clone()]);
        args.extend(small.iter().map(|s| s.to_string()));
        out.push(args);
    }
    out.push(vec![
        "lb".into(),
        "geo".into(),
        "--set".into(),
        format!("geo.scenario={scenario}"),
    ]);
    out
}

/// Runs every command of `commands(scenario)` and returns each one's error line.
fn errors_of_every_command(dir: &Path, scenario: &str) -> Vec<String> {
    commands(scenario)
        .into_iter()
        .map(|args| {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend(["--out", "out", "-q"]);
            let out = verdant(&all, dir, None);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or_else(|| panic!("{args:?}: {stderr}"))
                .to_owned()
        })
        .collect()
}

/// A scenario file over the bundled geo-4dc with `extra` laid over it.
fn over_geo_4dc(dir: &Path, extra: &str) -> String {
    let base = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    let path = dir.join("world.toml");
    std::fs::write(
        &path,
        format!("include = {:?}\n{extra}", base.display().to_string()),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn an_overloaded_world_is_refused_alike_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let world = over_geo_4dc(dir.path(), "[demand]\npeak_utilisation = 1.5\n");
    let errors = errors_of_every_command(dir.path(), &world);
    for e in &errors {
        assert!(
            e.contains("world.toml") && e.contains("demand.peak_utilisation: must be in (0, 1]"),
            "{e}"
        );
    }
    // One error, word for word, whichever command met it.
    assert!(errors.iter().all(|e| *e == errors[0]), "{errors:#?}");
    // Nothing ran: no run directory was made.
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_class_no_datacenter_hosts_is_refused_alike_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    // Every datacenter's pools of a GPU kind too small for either model.
    let world = over_geo_4dc(
        dir.path(),
        "[datacenter_defaults]\nnode_pools = [{ gpu = \"A100\", gpus_per_node = 1, nodes = 10 }]\n",
    );
    let errors = errors_of_every_command(dir.path(), &world);
    for e in &errors {
        assert!(e.contains("world.toml") && e.contains("host model"), "{e}");
    }
    assert!(errors.iter().all(|e| *e == errors[0]), "{errors:#?}");
}

#[test]
fn a_water_budget_below_the_least_water_is_refused_alike_by_green_llm_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = verdant::scenario::bundled_dir().join("../green-llm-base/params.json");
    let mut params: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundled).unwrap()).unwrap();
    params["Z_liters"] = serde_json::json!(1.0);
    std::fs::write(dir.path().join("params.json"), params.to_string()).unwrap();
    std::fs::write(
        dir.path().join("thirsty.toml"),
        "name = \"thirsty\"\nimport = { format = \"green-llm-params\", file = \"params.json\" }\n",
    )
    .unwrap();
    let scenario = dir.path().join("thirsty.toml").display().to_string();
    let set = format!("scenario={scenario}");
    let mut errors = Vec::new();
    for command in ["green-llm", "compare"] {
        let out = verdant(
            &[command, "--set", &set, "--out", "out", "-q"],
            dir.path(),
            None,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        errors.push(stderr.lines().next().unwrap_or_default().to_owned());
    }
    assert!(
        errors[0].contains("infeasible world thirsty: water budget")
            && errors[0].contains("(scenario field green_llm.water_budget_l (Green-LLM's Z))"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0], errors[1]);
}

/// `verdant compare` at test size on geo-4dc with `extra` arguments.
fn small_compare(dir: &Path, extra: &[&str], env: Option<(&str, &str)>) -> serde_json::Value {
    let mut args = vec![
        "compare",
        "--out",
        "out",
        "-q",
        "--set",
        "scenario=geo-4dc",
        "--set",
        "marlin.k_opt=1",
        "--set",
        "marlin.batch=16",
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
        "--set",
        "methods.exact.certify=false",
    ];
    args.extend(extra);
    let out = verdant(&args, dir, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs: Vec<_> = std::fs::read_dir(dir.join("out/compare"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    serde_json::from_slice(&std::fs::read(runs[0].join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn a_comparison_whose_method_failed_is_partial_and_one_not_applicable_is_complete() {
    let compared = [
        "--set",
        r#"compared=["exact","green-llm","even","nearest"]"#,
    ];
    // Green-LLM does not apply to geo-4dc (no Green-LLM terms): a note, the run complete.
    let dir = tempfile::tempdir().unwrap();
    let m = small_compare(dir.path(), &compared, None);
    assert_eq!(m["status"], "complete", "{m}");
    // The nearest rule failing: the run finishes, partial, and says which method and why.
    let dir = tempfile::tempdir().unwrap();
    let m = small_compare(
        dir.path(),
        &compared,
        Some(("VERDANT_FAIL_AT", "method:nearest")),
    );
    assert_eq!(m["status"], "partial", "{m}");
    let error = m["error"].as_str().unwrap();
    assert!(
        error.starts_with("nearest: method nearest failed"),
        "{error}"
    );
    assert!(!error.contains("green-llm"), "{error}");
}
