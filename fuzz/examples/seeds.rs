//! Writes the seeds that need Verdant to make them: the `checkpoint` target's (a real checkpoint
//! of the agents' format, whole and damaged) and a plan file of the `data_file` target (the even
//! rule on geo-4dc). `fuzz/seed_corpora.py` writes the others.
//!
//! Usage: `cargo run --release -p verdant-fuzz --example seeds` (from the repository root).

use std::path::Path;

use verdant_agents::checkpoint::{self, TensorsOut};
use verdant_fuzz::{checkpoint_input, checkpoint_network, CHECKPOINT_LAYOUT};

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("the corpus folder");
    verdant::run::write_atomic(&dir.join(format!("seed-{name}")), data).expect("a seed");
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _net = checkpoint_network(&vs);
    let mut tensors = TensorsOut::default();
    tensors.vars(&vs, "net");
    tensors.f64s("values", &[1.0, 2.5, -3.0, 1e-300]);
    let meta_path = checkpoint::save(
        dir.path(),
        CHECKPOINT_LAYOUT,
        "tensors",
        &serde_json::json!({"step": 7}),
        tensors,
    )
    .expect("a checkpoint");
    let meta = std::fs::read(&meta_path).expect("its metadata");
    let data = std::fs::read(dir.path().join("fuzz-tensors.vt")).expect("its tensors");
    let whole = checkpoint_input(&meta, &data);
    assert!(
        verdant_fuzz::checkpoint_restores(&whole),
        "the seed restores"
    );
    write("checkpoint", "whole", &whole);
    write(
        "checkpoint",
        "truncated",
        &checkpoint_input(&meta, &data[..data.len() / 2]),
    );
    write(
        "checkpoint",
        "meta-truncated",
        &checkpoint_input(&meta[..meta.len() / 2], &data),
    );
    let mut flipped = data.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x5a;
    write("checkpoint", "flipped", &checkpoint_input(&meta, &flipped));
    write("checkpoint", "no-tensors", &checkpoint_input(&meta, &[]));
    let elsewhere = String::from_utf8(meta.clone())
        .expect("JSON")
        .replace("fuzz-tensors.vt", "../fuzz-tensors.vt");
    write(
        "checkpoint",
        "elsewhere",
        &checkpoint_input(elsewhere.as_bytes(), &data),
    );

    let geo = verdant::scenario::bundled("geo-4dc").expect("geo-4dc");
    let plan = verdant::allocator::rules::Even
        .plan(&geo)
        .expect("the even plan");
    let mut input = vec![1u8];
    input.extend_from_slice(verdant::sim::plan_csv(&plan, &geo).as_bytes());
    write("data_file", "plan-even.csv", &input);
}
