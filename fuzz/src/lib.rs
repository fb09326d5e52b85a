//! The fuzz targets' entry points: one function per target, each handing arbitrary bytes to
//! Verdant's readers of user data exactly as the command line does. A reader may reject the
//! bytes (an error is the right answer to most of them); it may not panic, loop, or accept
//! something that breaks what its result promises (the checks below).
//!
//! `fuzz_targets/<name>.rs` calls [`run`]`(name, data)` under libFuzzer (`cargo fuzz run`, see
//! docs/fuzzing.md); `tests/corpus.rs` replays every file of `corpus/<name>/` and
//! `artifacts/<name>/` through the same function on the stable toolchain, in `./test.sh`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use verdant::scenario::Scenario;
use verdant::seed::MasterSeed;
use verdant::trace::reader::{TraceFormat, TraceReader};

/// A target's entry point.
pub type Entry = fn(&[u8]);

/// Every target: its name (the folder of its corpus) and its entry point.
pub const TARGETS: [(&str, Entry); 6] = [
    ("trace", trace),
    ("data_file", data_file),
    ("scenario", scenario),
    ("config", config),
    ("front", front),
    ("checkpoint", checkpoint),
];

/// Runs the target `name` on `data`.
///
/// # Panics
/// If `name` is no target (and wherever the target finds a bug).
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name}: no such fuzz target"));
    target(data);
}

/// A folder for the files a target writes, one per process.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
}

/// Writes `bytes` to `name` in the scratch folder.
fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    let mut f = std::fs::File::create(&path).expect("a scratch file");
    f.write_all(bytes).expect("writing a scratch file");
    path
}

/// The trace readers (Azure, BurstGPT, Vidur, Mooncake, and the format detected from the first
/// line), as `verdant trace` and scenario files read a trace: every line to the end, errors and
/// all (lenient reading goes on after a bad line).
pub fn trace(data: &[u8]) {
    let formats = std::iter::once(TraceFormat::Auto).chain(TraceFormat::CONCRETE);
    for format in formats {
        let Ok(reader) = TraceReader::new(data, Path::new("fuzz-input"), format) else {
            continue;
        };
        // A reader moves on by at least one record per item: it cannot yield more items
        // than the input has record ends (`\n`, and for CSV a lone `\r`), plus a last
        // record without one.
        let most = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
        let mut items = 0;
        for item in reader {
            items += 1;
            assert!(items <= most, "{format:?}: more items than lines");
            if let Ok(r) = item {
                assert!(
                    r.arrival_s.is_finite(),
                    "{format:?}: arrival {}",
                    r.arrival_s
                );
                assert!(
                    r.shared_prefix_tokens <= r.input_tokens,
                    "{format:?}: shared prefix > input"
                );
            }
        }
    }
}

/// The other data files a scenario names, chosen by the first byte: a rate table (ServeGen's),
/// a plan file (`verdant simulate`'s `plan`), the ren2022 and EIA-930 grid files, Green-LLM's
/// params.json (through a scenario that imports it).
pub fn data_file(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            let path = scratch_file("rates.csv", bytes);
            if let Ok(table) = verdant::trace::rate_table::read_rate_table(&path) {
                assert!(table.span_s().is_finite());
            }
        }
        1 => {
            static GEO: OnceLock<Scenario> = OnceLock::new();
            let scenario = GEO.get_or_init(|| {
                verdant::scenario::bundled("geo-4dc").expect("the bundled geo-4dc")
            });
            let path = scratch_file("plan.csv", bytes);
            if let Ok(plan) = verdant::sim::read_plan_csv(&path, scenario) {
                // A plan read back is one the simulator accepts.
                let sim = verdant::sim::SimParams::default();
                let mut fluid = verdant::sim::fluid::FluidSimulator::new(scenario, sim);
                fluid.score(&plan).expect("a plan read from a file scores");
            }
        }
        2 => {
            let path = scratch_file("ren2022.csv", bytes);
            let _ = verdant::grid::load_ren2022(&path, "Oregon");
        }
        3 => {
            let path = scratch_file("eia930.csv", bytes);
            let _ = verdant::grid::load_eia2022(&path);
        }
        _ => {
            scratch_file("params.json", bytes);
            let text = "name = \"fuzz\"\nimport = { format = \"green-llm-params\", file = \"params.json\" }\n";
            let path = scratch_file("import.toml", text.as_bytes());
            let _ = Scenario::load(&path, MasterSeed(1));
        }
    }
}

/// A scenario file (TOML, with `include`s of the bundled scenarios and their data paths) as
/// `Scenario::load` reads it, placed in the bundled scenarios' folder.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = verdant::scenario::bundled_dir().join("fuzz-input.toml");
    let _ = Scenario::parse(text, &path, MasterSeed(1));
}

/// A command's configuration layering: the first line names the command (or a sweep file
/// follows: `sweep`), lines `set KEY=VALUE` are `--set` overrides, every other line is the
/// `--config` document.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    if first.trim() == "sweep" {
        let path = scratch().join("sweep.toml");
        let _ = verdant_experiments::check_sweep_file(rest, &path);
        return;
    }
    let commands = verdant_experiments::CONFIGURED_COMMANDS;
    let command = commands
        .iter()
        .find(|c| **c == first.trim())
        .unwrap_or(&commands[first.len() % commands.len()]);
    let mut document = String::new();
    let mut overrides = Vec::new();
    for line in rest.lines() {
        match line.strip_prefix("set ") {
            Some(assignment) => overrides.push(assignment.to_owned()),
            None => {
                document.push_str(line);
                document.push('\n');
            }
        }
    }
    let config = (!document.trim().is_empty()).then_some(document.as_str());
    let _ = verdant_experiments::check_configuration(command, config, &overrides);
}

/// A front file, read as moocore's format and as CSV (`verdant hv`, `verdant front`); the sets
/// read get their first front and hypervolume (at most 400 points in at most 5 objectives here:
/// the fuzzer looks for wrong answers, not slow ones).
pub fn front(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz-input");
    for sets in [
        verdant::pareto::io::parse_moocore(text, path),
        verdant::pareto::io::parse_csv(text, path),
    ]
    .into_iter()
    .flatten()
    {
        let d = sets.d;
        assert!(d > 0, "a front file read with no objectives");
        let points = sets.union();
        assert_eq!(points.len() % d, 0, "ragged rows");
        assert!(points.iter().all(|v| v.is_finite()), "a non-finite value");
        if d > 5 || points.len() / d > 400 {
            continue;
        }
        let reference: Vec<f64> = (0..d)
            .map(|j| {
                points
                    .iter()
                    .skip(j)
                    .step_by(d)
                    .fold(f64::NEG_INFINITY, |a, &b| a.max(b))
                    + 1.0
            })
            .collect();
        let first = verdant::pareto::nondominated(&points, d);
        assert!(!first.is_empty(), "a non-empty set has no first front");
        let hv = verdant::pareto::hv::hypervolume(&points, d, &reference);
        let front: Vec<f64> = first
            .iter()
            .flat_map(|&i| points[i * d..(i + 1) * d].iter().copied())
            .collect();
        let hv_front = verdant::pareto::hv::hypervolume(&front, d, &reference);
        // Not negative, not NaN (zero where `max + 1` rounds to `max`: 7.2e21 + 1).
        assert!(hv >= 0.0, "hypervolume {hv}");
        // The dominated points add nothing.
        let same = if hv.is_finite() {
            (hv - hv_front).abs() <= 1e-9 * hv.abs().max(1.0)
        } else {
            hv == hv_front
        };
        assert!(
            same,
            "hypervolume {hv} of all points, {hv_front} of the first front"
        );
    }
}

/// A checkpoint (its metadata and its tensor file) as the agents read one to resume: the first
/// two bytes are the metadata's length (little-endian), then the metadata (JSON naming its
/// tensor file), then the tensor file, written as `fuzz-tensors.vt`. The tensors are restored
/// into a small network with shape checks, as a resume does.
pub fn checkpoint(data: &[u8]) {
    checkpoint_restores(data);
}

/// The layout of the checkpoints the `checkpoint` target reads.
pub const CHECKPOINT_LAYOUT: verdant_agents::checkpoint::Layout =
    verdant_agents::checkpoint::Layout {
        meta_file: "fuzz-checkpoint.json",
        tensors_prefix: "fuzz",
    };

/// The network a `checkpoint` input restores (its variables under `net.`).
pub fn checkpoint_network(vs: &tch::nn::VarStore) -> verdant_agents::mlp::Mlp {
    verdant_agents::mlp::Mlp::new(&vs.root(), 3, &[4], 2)
}

/// A `checkpoint` input of the metadata and tensor files' bytes.
pub fn checkpoint_input(meta: &[u8], tensors: &[u8]) -> Vec<u8> {
    let len = u16::try_from(meta.len()).expect("metadata under 64 KiB");
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(meta);
    out.extend_from_slice(tensors);
    out
}

/// The `checkpoint` target: whether the input restored the network.
pub fn checkpoint_restores(data: &[u8]) -> bool {
    use verdant_agents::checkpoint;
    if data.len() < 2 {
        return false;
    }
    let meta_len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let (meta, tensors) = data[2..].split_at(meta_len);
    const LAYOUT: checkpoint::Layout = CHECKPOINT_LAYOUT;
    let dir = scratch().join("checkpoint");
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    std::fs::write(dir.join(LAYOUT.meta_file), meta).expect("writing the metadata");
    std::fs::write(dir.join("fuzz-tensors.vt"), tensors).expect("writing the tensors");
    let as_is = checkpoint::load::<serde_json::Value>(&dir, LAYOUT, tch::Device::Cpu);
    // The metadata's length and fingerprint made to match the tensors, so that the fuzzer
    // reaches the tensor file's reader (a mutated file almost never keeps its fingerprint).
    let loaded = match (as_is, serde_json::from_slice::<serde_json::Value>(meta)) {
        (Ok(loaded), _) => loaded,
        (Err(_), Ok(serde_json::Value::Object(mut m))) => {
            m.insert("tensors_bytes".into(), tensors.len().into());
            m.insert(
                "tensors_fnv1a64".into(),
                checkpoint::fingerprint(tensors).into(),
            );
            let meta = serde_json::to_vec(&m).expect("JSON");
            std::fs::write(dir.join(LAYOUT.meta_file), meta).expect("writing the metadata");
            match checkpoint::load::<serde_json::Value>(&dir, LAYOUT, tch::Device::Cpu) {
                Ok(loaded) => loaded,
                Err(_) => return false,
            }
        }
        (Err(_), _) => return false,
    };
    let (_state, loaded) = loaded;
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _net = checkpoint_network(&vs);
    let restored = loaded.restore_vars(&vs, "net").is_ok();
    if restored {
        for (name, var) in vs.variables() {
            assert_eq!(
                var.size(),
                loaded.get(&format!("net.{name}")).expect("restored").size(),
                "{name}: restored with another shape"
            );
        }
    }
    let values = loaded.f64s("values", 4);
    restored && values.is_ok()
}
