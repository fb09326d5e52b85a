//! scripts/setup.sh, which both README commands run first, names what is missing instead of
//! leaving it to a linker or loader error.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

fn setup_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup.sh")
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn a_missing_torch_venv_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("no-torch-here");
    let out = Command::new("bash")
        .arg(setup_script())
        .env("VERDANT_NO_INSTALL", "1")
        .env("VERDANT_TORCH_VENV", &venv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("missing system packages") {
        // This machine lacks cmake or libclang: that message is the one under test below.
        return;
    }
    assert!(!out.status.success());
    assert!(
        stderr.contains("PyTorch 2.13.0 is not installed in") && stderr.contains("no-torch-here"),
        "{stderr}"
    );
}

#[test]
fn missing_system_packages_are_named() {
    // A PATH holding only the tools the script itself needs: no cmake on it.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["python3", "dirname", "mkdir", "id"] {
        if let Some(path) = which(tool) {
            symlink(path, bin.path().join(tool)).unwrap();
        }
    }
    let out = Command::new(which("bash").expect("bash on PATH"))
        .arg(setup_script())
        .env_clear()
        .env("PATH", bin.path())
        .env("HOME", bin.path())
        .env("VERDANT_NO_INSTALL", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("missing system packages: cmake"),
        "{stderr}"
    );
    assert!(stderr.contains("apt-get install"), "{stderr}");
}

#[test]
fn missing_python_packages_are_named() {
    // A venv whose python has torch (it answers the torch check) but not the Python module's
    // pinned packages: the system's python3 stands in for everything else.
    let Some(python3) = ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        return;
    };
    let venv = tempfile::tempdir().unwrap();
    std::fs::create_dir(venv.path().join("bin")).unwrap();
    let fake = venv.path().join("bin/python");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ncase \"$*\" in *'import torch'*) exit 0;; esac\nexec {} \"$@\"\n",
            python3.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new("bash")
        .arg(setup_script())
        .env("VERDANT_NO_INSTALL", "1")
        .env("VERDANT_TORCH_VENV", venv.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("missing system packages") {
        return;
    }
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Python packages missing from") && stderr.contains("maturin=="),
        "{stderr}"
    );
}
