//! ARCHITECTURE.md's invariants, checked by machine over the source tree: the core's
//! dependencies, library paths, atomic writes, `unsafe`, and the module graph of every crate
//! (no import cycle; in the `verdant` binary no command module imports another).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A file's code before its unit tests (`#[cfg(test)]`, which may use what they like), without
/// comment lines (documentation may name any module or file).
fn non_test_code(text: &str) -> String {
    let code = text.find("#[cfg(test)]").map_or(text, |i| &text[..i]);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

const LIBRARY_DIRS: [&str; 3] = ["src", "solvers/src", "agents/src"];

/// The library sources (and every crate's tests and benches, which also must not reach into
/// the binary's folder).
fn library_and_test_files() -> Vec<PathBuf> {
    let r = root();
    LIBRARY_DIRS
        .iter()
        .chain(&["tests", "benches", "solvers/tests", "agents/tests"])
        .flat_map(|d| rust_files(&r.join(d)))
        .collect()
}

#[test]
fn the_core_depends_on_no_solver_and_no_torch() {
    let manifest = read(&root().join("Cargo.toml"));
    let deps = manifest
        .split("\n[dependencies]")
        .nth(1)
        .expect("the core crate has a [dependencies] table");
    let deps = deps.split("\n[").next().unwrap();
    for forbidden in [
        "tch",
        "torch-sys",
        "good_lp",
        "highs",
        "verdant-solvers",
        "verdant-agents",
    ] {
        assert!(
            !deps
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{forbidden} "))
                    || l.trim_start().starts_with(&format!("{forbidden}."))
                    || l.trim_start().starts_with(&format!("{forbidden}="))),
            "the core crate depends on {forbidden}"
        );
    }
}

#[test]
fn no_library_path_points_into_experiments() {
    // Libraries never read the binary's folder; tests and benches may read the shipped default
    // configurations there, but scenarios come from `scenario::bundled`.
    for path in library_and_test_files() {
        if path.ends_with("tests/tidy.rs") {
            continue; // this file names the folders it checks for
        }
        let library = LIBRARY_DIRS
            .iter()
            .any(|d| path.starts_with(root().join(d)));
        let forbidden = if library {
            "experiments/"
        } else {
            "configs/scenarios"
        };
        let text = read(&path);
        for (n, line) in text.lines().enumerate() {
            // Documentation may name the binary's files; code may not point at them.
            if line.trim_start().starts_with("//") {
                continue;
            }
            assert!(
                !line.contains(forbidden),
                "{}:{}: a path into {forbidden}: {line}",
                path.display(),
                n + 1
            );
        }
    }
}

/// Calls that create a file under a name of their own.
const FILE_CREATORS: [&str; 6] = [
    "File::create(",
    "fs::write(",
    "OpenOptions::new(",
    "save_multi(",
    "SVGBackend::new(",
    "BitMapBackend::new(",
];

#[test]
fn every_output_is_written_atomically() {
    // Outside `run.rs` (AtomicFile, write_atomic), a file is only created under a temporary
    // name that the same function renames into place.
    let r = root();
    let dirs = LIBRARY_DIRS
        .iter()
        .chain(&["experiments/src", "python/src"]);
    for path in dirs.flat_map(|d| rust_files(&r.join(d))) {
        if path.ends_with("src/run.rs") {
            continue;
        }
        let text = read(&path);
        let code = text
            .find("#[cfg(test)]")
            .map_or(text.as_str(), |i| &text[..i]);
        let lines: Vec<&str> = code.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            // `AtomicFile::create(` is the way to write; it is not `File::create(`.
            let line = line.replace("AtomicFile::create(", "");
            if let Some(call) = FILE_CREATORS.iter().find(|c| line.contains(*c)) {
                let window = &lines[n..(n + 40).min(lines.len())];
                assert!(
                    window.iter().any(|l| l.contains("rename(")),
                    "{}:{}: {call} without a rename into place (use verdant::run::AtomicFile or write_atomic)",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn unsafe_code_only_where_architecture_md_allows_it() {
    let r = root();
    let allowed = r.join("src/sim/fluid.rs");
    let dirs = LIBRARY_DIRS
        .iter()
        .chain(&["experiments/src", "python/src"]);
    for path in dirs.flat_map(|d| rust_files(&r.join(d))) {
        let text = read(&path);
        let uses = text
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                !t.starts_with("//") && (t.contains("unsafe {") || t.contains("unsafe fn"))
            })
            .count();
        if path == allowed {
            assert_eq!(
                uses, 2,
                "fluid.rs: the AVX2 dispatch's call and function only"
            );
        } else {
            assert_eq!(uses, 0, "{}: unsafe code", path.display());
        }
    }
    let manifest = read(&r.join("Cargo.toml"));
    assert!(
        manifest.contains("unsafe_code = \"deny\""),
        "the workspace denies unsafe code"
    );
}

/// The top-level modules of a crate (`src/<m>.rs` or `src/<m>/`) and, for each, the top-level
/// modules its non-test code names through `crate::`, `super::` (from a submodule) or a path
/// that starts with a sibling module.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() || (name != "lib" && name != "main") {
            modules.insert(name);
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(src) {
        let rel = path.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if !modules.contains(&top) {
            continue;
        }
        // In a file nested below the top module's folder, `super::` is still inside it.
        let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
        let text = read(&path);
        let named = names_used(&non_test_code(&text), depth <= 1);
        let edges = graph.entry(top.clone()).or_default();
        for m in named {
            if m != top && modules.contains(&m) {
                edges.insert(m);
            }
        }
    }
    graph
}

/// The first path segments named after `crate::` in `code` (both `crate::a::b` and the items of
/// `crate::{a, b::{c}}`), and after `super::` where `super` is the crate root.
fn names_used(code: &str, super_is_root: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut prefixes = vec!["crate::"];
    if super_is_root {
        prefixes.push("super::");
    }
    for prefix in prefixes {
        for (i, _) in code.match_indices(prefix) {
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Items of a group, split at depth 0.
                let mut depth = 0usize;
                let mut item = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.insert(first_segment(&item));
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                out.insert(first_segment(&item));
            } else {
                out.insert(first_segment(rest));
            }
        }
    }
    out.remove("");
    out
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let r = root();
    for src in ["src", "solvers/src", "agents/src", "experiments/src"] {
        let graph = module_graph(&r.join(src));
        assert!(
            graph.values().any(|e| !e.is_empty()),
            "{src}: the scan found no edges at all"
        );
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{src}: import cycle {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn no_command_module_imports_another() {
    let graph = module_graph(&root().join("experiments/src"));
    // The shared layers; every other module of the binary is a command.
    let shared = [
        "certify",
        "cli",
        "comparison",
        "indicators",
        "methods",
        "plots",
        "reports",
        "run",
        "scoring",
        "stats",
        "training",
    ];
    let commands: Vec<&String> = graph
        .keys()
        .filter(|m| !shared.contains(&m.as_str()))
        .collect();
    assert!(commands.len() >= 8, "commands found: {commands:?}");
    for c in &commands {
        for target in &graph[*c] {
            assert!(
                !commands.contains(&target),
                "command module {c} imports command module {target}"
            );
        }
    }
}

#[test]
fn the_module_scanner_reads_paths_and_groups() {
    let code =
        "use crate::a::X;\nuse crate::{b, c::{D, E}};\nfn f() { crate::d::g(); my_crate::z(); }";
    let names: Vec<String> = names_used(code, false).into_iter().collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert!(names_used("use super::e::F;", true).contains("e"));
    assert!(names_used("use super::e::F;", false).is_empty());
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default();
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
