//! Checkpoints in one place: named tensors in one file and metadata (JSON) that names it, each
//! written atomically, older tensor files pruned, and restored with shape checks.
//!
//! A save writes the tensors to `<prefix>-<label>.vt` under a temporary name and renames it
//! into place, then writes the metadata file `{"tensors_file": ..., "tensors_bytes": ...,
//! "tensors_fnv1a64": ..., "state": ...}` the same way, then removes the other `<prefix>-*.vt`
//! files. An interrupted save therefore leaves the previous checkpoint whole: its metadata still
//! names its own tensor file.
//!
//! The tensor file is Verdant's own format, read by this module alone, never handed to
//! libtorch's deserialiser: `VTENSOR1`, the tensor count (u32), then per tensor its name (u16
//! length, UTF-8), kind (u8: f32, f64, i64, i32, u8, bool), dimensions (u8 count, i64 each) and
//! data (u64 byte length, little-endian values). A load checks the file's length and FNV-1a
//! hash against the metadata, and every length against the bytes there are, before anything is
//! allocated: a damaged or truncated checkpoint is an error naming the file, never a panic, an
//! allocation of a size the file only claims, or a resume from other numbers.
//!
//! Every agent (MARLIN, the load balancer's PPO, A2C and DQN) and the optimiser ([`Adam`]) save
//! and restore through this module; its errors are [`AgentError::Checkpoint`] naming the file.
//!
//! [`Adam`]: crate::adam::Adam

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Tensor};
use verdant::run::write_atomic;

use crate::AgentError;

/// Where a kind of checkpoint lives in its directory.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The metadata file's name.
    pub meta_file: &'static str,
    /// Tensor files are `<tensors_prefix>-<label>.vt`.
    pub tensors_prefix: &'static str,
}

#[derive(Serialize)]
struct Envelope<'a, M> {
    tensors_file: &'a str,
    tensors_bytes: u64,
    tensors_fnv1a64: String,
    state: &'a M,
}

#[derive(Deserialize)]
struct EnvelopeOwned<M> {
    tensors_file: String,
    tensors_bytes: u64,
    tensors_fnv1a64: String,
    state: M,
}

/// The first bytes of a tensor file.
const MAGIC: &[u8; 8] = b"VTENSOR1";

/// The tensor kinds a checkpoint holds, by their code in the file.
const KINDS: [(u8, tch::Kind); 6] = [
    (0, tch::Kind::Float),
    (1, tch::Kind::Double),
    (2, tch::Kind::Int64),
    (3, tch::Kind::Int),
    (4, tch::Kind::Uint8),
    (5, tch::Kind::Bool),
];

/// Most dimensions of a saved tensor.
const MAX_DIMS: usize = 8;

/// FNV-1a, 64 bits, fed a byte at a time: the tensor file's fingerprint in its metadata.
#[derive(Debug, Clone, Copy)]
struct Fnv1a64(u64);

impl Fnv1a64 {
    fn new() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The fingerprint of a tensor file's bytes (FNV-1a, 64 bits, hexadecimal), as its metadata
/// records it.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h = Fnv1a64::new();
    h.update(bytes);
    h.hex()
}

/// A writer that counts and fingerprints what passes through it.
struct Fingerprinting<W> {
    inner: W,
    hash: Fnv1a64,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Fingerprinting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a tensor's values (of a kind of [`KINDS`]) as little-endian bytes: one copy of the
/// tensor at a time, not of the file.
fn write_values<W: std::io::Write>(w: &mut W, name: &str, t: &Tensor) -> Result<(), AgentError> {
    let flat = t.to_device(Device::Cpu).contiguous().flatten(0, -1);
    let bad = |e: tch::TchError| AgentError::Checkpoint(PathBuf::from(name), e.to_string());
    let io = |e: std::io::Error| AgentError::Checkpoint(PathBuf::from(name), e.to_string());
    macro_rules! write_all {
        ($t:ty) => {
            for v in Vec::<$t>::try_from(&flat).map_err(bad)? {
                w.write_all(&v.to_le_bytes()).map_err(io)?;
            }
        };
    }
    match t.kind() {
        tch::Kind::Float => write_all!(f32),
        tch::Kind::Double => write_all!(f64),
        tch::Kind::Int64 => write_all!(i64),
        tch::Kind::Int => write_all!(i32),
        tch::Kind::Uint8 => write_all!(u8),
        _ => {
            for v in Vec::<bool>::try_from(&flat).map_err(bad)? {
                w.write_all(&[u8::from(v)]).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Writes the tensor file of `named` (sorted by name) to `w`.
fn encode<W: std::io::Write>(w: &mut W, named: &[(String, Tensor)]) -> Result<(), AgentError> {
    let io =
        |e: std::io::Error| AgentError::Checkpoint(PathBuf::from("tensor file"), e.to_string());
    w.write_all(MAGIC).map_err(io)?;
    let count = u32::try_from(named.len()).expect("fewer than 2^32 tensors");
    w.write_all(&count.to_le_bytes()).map_err(io)?;
    for (name, t) in named {
        let name_len = u16::try_from(name.len()).expect("tensor names are short");
        w.write_all(&name_len.to_le_bytes()).map_err(io)?;
        w.write_all(name.as_bytes()).map_err(io)?;
        let kind = t.kind();
        let code = KINDS
            .iter()
            .find(|(_, k)| *k == kind)
            .ok_or_else(|| {
                AgentError::Checkpoint(
                    PathBuf::from(name.as_str()),
                    format!("tensors of kind {kind:?} are not saved"),
                )
            })?
            .0;
        w.write_all(&[code]).map_err(io)?;
        let dims = t.size();
        w.write_all(&[u8::try_from(dims.len()).expect("few dimensions")])
            .map_err(io)?;
        for d in &dims {
            w.write_all(&d.to_le_bytes()).map_err(io)?;
        }
        let data_len = t.numel() as u64 * kind.elt_size_in_bytes() as u64;
        w.write_all(&data_len.to_le_bytes()).map_err(io)?;
        write_values(w, name, t)?;
    }
    Ok(())
}

/// Reads a tensor file's bytes, every length checked against what is there before use.
fn decode(
    bytes: &[u8],
    path: &Path,
    device: Device,
) -> Result<HashMap<String, Tensor>, AgentError> {
    let fail = |message: String| AgentError::Checkpoint(path.to_owned(), message);
    let mut at = 0usize;
    let mut take = |n: usize, what: &str| -> Result<&[u8], AgentError> {
        let end = at
            .checked_add(n)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| fail(format!("cut short in {what} at byte {at}")))?;
        let slice = &bytes[at..end];
        at = end;
        Ok(slice)
    };
    if take(MAGIC.len(), "the header")? != MAGIC {
        return Err(fail(
            "not a Verdant tensor file (no VTENSOR1 header)".into(),
        ));
    }
    let count = u32::from_le_bytes(take(4, "the header")?.try_into().expect("4 bytes"));
    let mut map = HashMap::new();
    for i in 0..count {
        let len = u16::from_le_bytes(take(2, "a name")?.try_into().expect("2 bytes"));
        let name = std::str::from_utf8(take(usize::from(len), "a name")?)
            .map_err(|_| fail(format!("tensor {i}: its name is not UTF-8")))?
            .to_owned();
        let code = take(1, "a kind")?[0];
        let kind = KINDS
            .iter()
            .find(|(c, _)| *c == code)
            .ok_or_else(|| fail(format!("{name}: unknown kind code {code}")))?
            .1;
        let ndim = usize::from(take(1, "dimensions")?[0]);
        if ndim > MAX_DIMS {
            return Err(fail(format!(
                "{name}: {ndim} dimensions, at most {MAX_DIMS}"
            )));
        }
        let mut dims = Vec::with_capacity(ndim);
        let mut numel: u64 = 1;
        for _ in 0..ndim {
            let d = i64::from_le_bytes(take(8, "dimensions")?.try_into().expect("8 bytes"));
            let size = u64::try_from(d).map_err(|_| fail(format!("{name}: dimension {d}")))?;
            numel = numel
                .checked_mul(size)
                .ok_or_else(|| fail(format!("{name}: its dimensions overflow")))?;
            dims.push(d);
        }
        let data_len = u64::from_le_bytes(take(8, "a length")?.try_into().expect("8 bytes"));
        let expected = numel.checked_mul(kind.elt_size_in_bytes() as u64);
        if expected != Some(data_len) {
            return Err(fail(format!(
                "{name}: {data_len} bytes of data for dimensions {dims:?} of {kind:?}"
            )));
        }
        let data_len = usize::try_from(data_len).map_err(|_| fail(format!("{name}: too large")))?;
        let data = take(data_len, "data")?;
        if kind == tch::Kind::Bool && data.iter().any(|&b| b > 1) {
            return Err(fail(format!("{name}: a boolean that is neither 0 nor 1")));
        }
        let tensor = Tensor::f_from_data_size(data, &dims, kind)
            .map_err(|e| fail(format!("{name}: {e}")))?
            .to_device(device);
        if map.insert(name.clone(), tensor).is_some() {
            return Err(fail(format!("{name}: twice")));
        }
    }
    if at != bytes.len() {
        return Err(fail(format!(
            "{} bytes after the last tensor",
            bytes.len() - at
        )));
    }
    Ok(map)
}

/// Named tensors being gathered for a save.
#[derive(Debug, Default)]
pub struct TensorsOut {
    tensors: Vec<(String, Tensor)>,
}

impl TensorsOut {
    /// Adds `tensor` as `name`.
    pub fn push(&mut self, name: impl Into<String>, tensor: Tensor) {
        self.tensors.push((name.into(), tensor));
    }

    /// Adds every variable of `vs` as `<prefix>.<variable>`.
    pub fn vars(&mut self, vs: &VarStore, prefix: &str) {
        for (k, v) in vs.variables() {
            self.push(format!("{prefix}.{k}"), v);
        }
    }

    /// Adds `values` as a double tensor (bit-exact on restore).
    pub fn f64s(&mut self, name: impl Into<String>, values: &[f64]) {
        self.push(name, Tensor::from_slice(values));
    }

    /// Adds every tensor of `named`, each name prefixed by `<prefix>.`.
    pub fn extend_prefixed(&mut self, prefix: &str, named: Vec<(String, Tensor)>) {
        for (k, v) in named {
            self.push(format!("{prefix}.{k}"), v);
        }
    }

    /// Adds every tensor of `named` under its own name.
    pub fn extend(&mut self, named: Vec<(String, Tensor)>) {
        self.tensors.extend(named);
    }
}

/// Writes a checkpoint of `state` and `tensors` into `dir` (created if missing), the tensor
/// file labelled `label`; returns the metadata file's path. See the module documentation.
pub fn save<M: Serialize>(
    dir: &Path,
    layout: Layout,
    label: &str,
    state: &M,
    tensors: TensorsOut,
) -> Result<PathBuf, AgentError> {
    std::fs::create_dir_all(dir).map_err(|e| AgentError::Io(dir.to_owned(), e))?;
    let mut named = tensors.tensors;
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let tensors_file = format!("{}-{label}.vt", layout.tensors_prefix);
    // Streamed to its file, counted and fingerprinted on the way: one tensor's copy at a time.
    let mut file = verdant::run::AtomicFile::create(&dir.join(&tensors_file))?;
    let mut out = Fingerprinting {
        inner: &mut file,
        hash: Fnv1a64::new(),
        bytes: 0,
    };
    encode(&mut out, &named)?;
    let (tensors_bytes, tensors_fnv1a64) = (out.bytes, out.hash.hex());
    file.commit()?;
    verdant::run::kill_point("checkpoint");
    let json = serde_json::to_vec(&Envelope {
        tensors_file: &tensors_file,
        tensors_bytes,
        tensors_fnv1a64,
        state,
    })?;
    let meta_path = dir.join(layout.meta_file);
    write_atomic(&meta_path, &json)?;
    let prefix = format!("{}-", layout.tensors_prefix);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".vt") && name != tensors_file {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(meta_path)
}

/// Whether `dir` holds a checkpoint of `layout`.
pub fn exists(dir: &Path, layout: Layout) -> bool {
    dir.join(layout.meta_file).is_file()
}

/// Reads the checkpoint of `layout` in `dir`: its state and its tensors (on `device`). The
/// caller checks that the state belongs to its run (the tensor file may be another kind's of
/// the same layout, as MARLIN's schemes share a metadata name).
pub fn load<M: DeserializeOwned>(
    dir: &Path,
    layout: Layout,
    device: Device,
) -> Result<(M, TensorsIn), AgentError> {
    let meta_path = dir.join(layout.meta_file);
    let text = std::fs::read(&meta_path).map_err(|e| AgentError::Io(meta_path.clone(), e))?;
    let envelope: EnvelopeOwned<M> = serde_json::from_slice(&text)
        .map_err(|e| AgentError::Checkpoint(meta_path.clone(), e.to_string()))?;
    // The metadata names a tensor file beside it (never a path elsewhere).
    let file = &envelope.tensors_file;
    if !file.ends_with(".vt") || file.starts_with('.') || file.contains(['/', '\\']) {
        return Err(AgentError::Checkpoint(
            meta_path,
            format!("names tensor file {file:?}, not a tensor file beside it"),
        ));
    }
    let tensors_path = dir.join(&envelope.tensors_file);
    // Its length before its bytes: a file far longer than its metadata says is not read.
    let len = std::fs::metadata(&tensors_path)
        .map_err(|e| AgentError::Io(tensors_path.clone(), e))?
        .len();
    if len != envelope.tensors_bytes {
        return Err(AgentError::Checkpoint(
            tensors_path,
            format!(
                "{len} bytes, its metadata {} says {} (damaged, or not the file of this save)",
                meta_path.display(),
                envelope.tensors_bytes
            ),
        ));
    }
    let bytes =
        std::fs::read(&tensors_path).map_err(|e| AgentError::Io(tensors_path.clone(), e))?;
    if fingerprint(&bytes) != envelope.tensors_fnv1a64 {
        return Err(AgentError::Checkpoint(
            tensors_path,
            format!(
                "its bytes do not match the fingerprint in {} (damaged, or not the file of this save)",
                meta_path.display()
            ),
        ));
    }
    let map = decode(&bytes, &tensors_path, device)?;
    Ok((
        envelope.state,
        TensorsIn {
            path: meta_path,
            map,
        },
    ))
}

/// The tensors of a loaded checkpoint, looked up by name with shape checks.
#[derive(Debug)]
pub struct TensorsIn {
    path: PathBuf,
    map: HashMap<String, Tensor>,
}

impl TensorsIn {
    /// A checkpoint error about this checkpoint.
    pub fn error(&self, message: impl Into<String>) -> AgentError {
        AgentError::Checkpoint(self.path.clone(), message.into())
    }

    /// The tensor `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor, AgentError> {
        self.map
            .get(name)
            .ok_or_else(|| self.error(format!("lacks {name}")))
    }

    /// Copies `<prefix>.<variable>` into every variable of `vs`, checking shapes.
    pub fn restore_vars(&self, vs: &VarStore, prefix: &str) -> Result<(), AgentError> {
        tch::no_grad(|| {
            for (name, mut var) in vs.variables() {
                self.copy_into(&format!("{prefix}.{name}"), &mut var)?;
            }
            Ok(())
        })
    }

    /// Copies the tensor `name` into `target`, which must have its shape.
    pub fn copy_into(&self, name: &str, target: &mut Tensor) -> Result<(), AgentError> {
        let saved = self.get(name)?;
        if saved.size() != target.size() {
            return Err(self.error(format!(
                "{name}: checkpoint shape {:?}, model shape {:?}",
                saved.size(),
                target.size()
            )));
        }
        tch::no_grad(|| target.copy_(saved));
        Ok(())
    }

    /// The double values of `name`, exactly `len` of them.
    pub fn f64s(&self, name: &str, len: usize) -> Result<Vec<f64>, AgentError> {
        let v: Vec<f64> = Vec::try_from(self.get(name)?.to_device(Device::Cpu).flatten(0, -1))
            .map_err(|e| self.error(format!("{name}: {e}")))?;
        if v.len() != len {
            return Err(self.error(format!("{name}: {} values, expected {len}", v.len())));
        }
        Ok(v)
    }

    /// Every tensor through `f` (name, tensor), under the same names: for example the slice of
    /// each that one part of a model holds.
    pub fn mapped(&self, f: impl Fn(&str, &Tensor) -> Tensor) -> TensorsIn {
        TensorsIn {
            path: self.path.clone(),
            map: self.map.iter().map(|(k, t)| (k.clone(), f(k, t))).collect(),
        }
    }

    /// The tensors whose names start with `<prefix>.`, renamed without it.
    pub fn under(&self, prefix: &str) -> TensorsIn {
        let p = format!("{prefix}.");
        TensorsIn {
            path: self.path.clone(),
            map: self
                .map
                .iter()
                .filter_map(|(k, t)| {
                    k.strip_prefix(&p)
                        .map(|r| (r.to_owned(), t.shallow_clone()))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tch::nn;

    use super::*;

    const LAYOUT: Layout = Layout {
        meta_file: "test-checkpoint.json",
        tensors_prefix: "test",
    };

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct State {
        step: u64,
    }

    fn store(fill: f64) -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        let _ = vs.root().var("w", &[2, 3], nn::Init::Const(fill));
        vs
    }

    #[test]
    fn save_load_restores_state_tensors_and_prunes_old_files() {
        let dir = tempfile::tempdir().unwrap();
        for step in [1u64, 2] {
            let mut out = TensorsOut::default();
            out.vars(&store(step as f64), "net");
            out.f64s("plan", &[0.1, 0.2, 0.7]);
            save(dir.path(), LAYOUT, &step.to_string(), &State { step }, out).unwrap();
        }
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".vt"))
            .collect();
        assert_eq!(
            names,
            vec!["test-2.vt".to_owned()],
            "older tensor files pruned"
        );
        let (state, tensors) = load::<State>(dir.path(), LAYOUT, Device::Cpu).unwrap();
        assert_eq!(state, State { step: 2 });
        let target = store(0.0);
        tensors.restore_vars(&target, "net").unwrap();
        let w: Vec<f64> = Vec::try_from(target.variables()["w"].flatten(0, -1)).unwrap();
        assert_eq!(w, vec![2.0; 6]);
        assert_eq!(tensors.f64s("plan", 3).unwrap(), vec![0.1, 0.2, 0.7]);
        let err = tensors.f64s("plan", 4).unwrap_err().to_string();
        assert!(err.contains("plan: 3 values, expected 4"), "{err}");
        assert!(tensors
            .get("nope")
            .unwrap_err()
            .to_string()
            .contains("lacks nope"));
    }

    #[test]
    fn tensor_files_round_trip_every_kind_and_refuse_what_they_only_claim() {
        let named = vec![
            (
                "a".to_owned(),
                Tensor::from_slice(&[1.5f32, -2.0]).reshape([2, 1]),
            ),
            ("b".to_owned(), Tensor::from_slice(&[1e-300f64, 7.0, 8.0])),
            ("c".to_owned(), Tensor::from_slice(&[i64::MAX, -1])),
            ("d".to_owned(), Tensor::from_slice(&[3i32])),
            ("e".to_owned(), Tensor::from_slice(&[255u8, 0])),
            ("f".to_owned(), Tensor::from_slice(&[true, false])),
        ];
        let mut bytes = Vec::new();
        encode(&mut bytes, &named).unwrap();
        let path = Path::new("t.vt");
        let map = decode(&bytes, path, Device::Cpu).unwrap();
        for (name, t) in &named {
            assert_eq!(map[name].size(), t.size(), "{name}");
            assert_eq!(map[name].kind(), t.kind(), "{name}");
            assert!(map[name].equal(t), "{name}");
        }
        // Every cut is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut], path, Device::Cpu).is_err(),
                "cut at {cut}"
            );
        }
        // A tensor that claims 2^40 values in a few bytes is refused before any allocation.
        let mut giant = MAGIC.to_vec();
        giant.extend_from_slice(&1u32.to_le_bytes());
        giant.extend_from_slice(&1u16.to_le_bytes());
        giant.push(b'g');
        giant.push(1);
        giant.push(1);
        giant.extend_from_slice(&(1i64 << 40).to_le_bytes());
        giant.extend_from_slice(&(8u64 << 40).to_le_bytes());
        let err = decode(&giant, path, Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("cut short in data"), "{err}");
    }

    #[test]
    fn a_tensor_file_that_is_not_its_metadata_s_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = TensorsOut::default();
        out.vars(&store(1.0), "net");
        save(dir.path(), LAYOUT, "1", &State { step: 1 }, out).unwrap();
        // One bit flipped in a weight: same length, other numbers.
        let vt = dir.path().join("test-1.vt");
        let mut bytes = std::fs::read(&vt).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&vt, &bytes).unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("do not match the fingerprint"), "{err}");
    }

    #[test]
    fn shape_mismatches_and_damaged_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = TensorsOut::default();
        out.vars(&store(1.0), "net");
        save(dir.path(), LAYOUT, "1", &State { step: 1 }, out).unwrap();
        let (_, tensors) = load::<State>(dir.path(), LAYOUT, Device::Cpu).unwrap();
        let other = VarStore::new(Device::Cpu);
        let _ = other.root().var("w", &[3, 2], nn::Init::Const(0.0));
        let err = tensors.restore_vars(&other, "net").unwrap_err().to_string();
        assert!(err.contains("shape"), "{err}");
        // A truncated tensor file and damaged metadata are errors naming the file.
        let ot = dir.path().join("test-1.vt");
        let bytes = std::fs::read(&ot).unwrap();
        std::fs::write(&ot, &bytes[..bytes.len() / 2]).unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("test-1.vt"), "{err}");
        std::fs::write(dir.path().join(LAYOUT.meta_file), b"{\"tensors_file\": 3").unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("test-checkpoint.json"), "{err}");
        // Metadata may only name a tensor file of its own kind, in its own directory.
        std::fs::write(
            dir.path().join(LAYOUT.meta_file),
            br#"{"tensors_file": "../x.vt", "tensors_bytes": 0, "tensors_fnv1a64": "", "state": {"step": 1}}"#,
        )
        .unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a tensor file beside it"), "{err}");
    }
}
