//! Checkpoints in one place: named tensors in one file and metadata (JSON) that names it, each
//! written atomically, older tensor files pruned, and restored with shape checks.
//!
//! A save writes the tensors to `<prefix>-<label>.ot` under a temporary name and renames it
//! into place, then writes the metadata file `{"tensors_file": ..., "state": ...}` the same way,
//! then removes the other `<prefix>-*.ot` files. An interrupted save therefore leaves the
//! previous checkpoint whole: its metadata still names its own tensor file.
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
    /// Tensor files are `<tensors_prefix>-<label>.ot`.
    pub tensors_prefix: &'static str,
}

#[derive(Serialize)]
struct Envelope<'a, M> {
    tensors_file: &'a str,
    state: &'a M,
}

#[derive(Deserialize)]
struct EnvelopeOwned<M> {
    tensors_file: String,
    state: M,
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
    let tensors_file = format!("{}-{label}.ot", layout.tensors_prefix);
    let tmp = dir.join(format!(".{tensors_file}.tmp"));
    Tensor::save_multi(&named, &tmp)?;
    std::fs::rename(&tmp, dir.join(&tensors_file))
        .map_err(|e| AgentError::Io(dir.join(&tensors_file), e))?;
    verdant::run::kill_point("checkpoint");
    let json = serde_json::to_vec(&Envelope {
        tensors_file: &tensors_file,
        state,
    })?;
    let meta_path = dir.join(layout.meta_file);
    write_atomic(&meta_path, &json)?;
    let prefix = format!("{}-", layout.tensors_prefix);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".ot") && name != tensors_file {
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
    if !file.ends_with(".ot") || file.starts_with('.') || file.contains(['/', '\\']) {
        return Err(AgentError::Checkpoint(
            meta_path,
            format!("names tensor file {file:?}, not a tensor file beside it"),
        ));
    }
    let tensors_path = dir.join(&envelope.tensors_file);
    let map = Tensor::load_multi_with_device(&tensors_path, device)
        .map_err(|e| AgentError::Checkpoint(tensors_path.clone(), e.to_string()))?
        .into_iter()
        .collect();
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
            .filter(|n| n.ends_with(".ot"))
            .collect();
        assert_eq!(
            names,
            vec!["test-2.ot".to_owned()],
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
        let ot = dir.path().join("test-1.ot");
        let bytes = std::fs::read(&ot).unwrap();
        std::fs::write(&ot, &bytes[..bytes.len() / 2]).unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("test-1.ot"), "{err}");
        std::fs::write(dir.path().join(LAYOUT.meta_file), b"{\"tensors_file\": 3").unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("test-checkpoint.json"), "{err}");
        // Metadata may only name a tensor file of its own kind, in its own directory.
        std::fs::write(
            dir.path().join(LAYOUT.meta_file),
            br#"{"tensors_file": "../x.ot", "state": {"step": 1}}"#,
        )
        .unwrap();
        let err = load::<State>(dir.path(), LAYOUT, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a tensor file beside it"), "{err}");
    }
}
