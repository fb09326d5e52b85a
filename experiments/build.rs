//! Build script of the `verdant` binary: libtorch rpath (see torch_rpath.rs) and build facts for
//! the run manifest (versions of the libraries that shape results, taken from Cargo.lock).
include!("torch_rpath.rs");

fn main() {
    link_libtorch_with_rpath();
    record_locked_versions();
}

/// Emits VERDANT_LOCKED_VERSIONS="name=version;..." for the crates whose versions shape results.
fn record_locked_versions() {
    const TRACKED: [&str; 5] = ["good_lp", "highs", "highs-sys", "tch", "torch-sys"];
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let mut found = Vec::new();
    let mut name: Option<&str> = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"'));
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if TRACKED.contains(&n) {
                found.push(format!("{n}={}", v.trim_matches('"')));
            }
        }
    }
    println!(
        "cargo:rustc-env=VERDANT_LOCKED_VERSIONS={}",
        found.join(";")
    );
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=VERDANT_RUSTC_VERSION={version}");
}
