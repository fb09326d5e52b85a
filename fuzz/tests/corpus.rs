//! Replays every committed corpus file and crash input of each fuzz target through its entry
//! point (`verdant_fuzz::run`) on the stable toolchain: an input that once found a bug stays a
//! test, and each target's seeds still run.

use std::path::Path;

#[test]
fn every_corpus_and_crash_input_replays_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in verdant_fuzz::TARGETS {
        let mut replayed = 0;
        for folder in ["corpus", "artifacts"] {
            let dir = root.join(folder).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                assert_eq!(folder, "artifacts", "{}: missing", dir.display());
                continue;
            };
            let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files.iter().filter(|f| f.is_file()) {
                let data = std::fs::read(file).unwrap();
                let outcome = std::panic::catch_unwind(|| verdant_fuzz::run(name, &data));
                assert!(outcome.is_ok(), "{name}: {} panics", file.display());
                replayed += 1;
            }
        }
        assert!(replayed >= 5, "{name}: only {replayed} corpus files");
    }
}

#[test]
fn the_checkpoint_corpus_reaches_a_restore() {
    // Without a seed that loads and restores, the target would only ever test rejections.
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/checkpoint/seed-whole");
    let data = std::fs::read(&seed).unwrap();
    assert!(verdant_fuzz::checkpoint_restores(&data));
}

#[test]
fn every_fuzz_binary_is_a_target_with_its_entry_point() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|l| l.trim_end_matches('"'))
        .filter(|n| *n != "verdant-fuzz")
        .collect();
    let targets: Vec<&str> = verdant_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        bins, targets,
        "fuzz/Cargo.toml's [[bin]]s and verdant_fuzz::TARGETS"
    );
    for name in targets {
        let source = std::fs::read_to_string(root.join(format!("fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            source.contains(&format!("verdant_fuzz::run(\"{name}\", data)")),
            "fuzz_targets/{name}.rs does not call its entry point"
        );
    }
}
