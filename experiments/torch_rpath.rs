// Shared by the build scripts of the crates that link libtorch into binaries (agents, experiments).
//
// torch-sys's link arguments do not reach downstream binaries, so each crate that builds a binary
// (including its test binaries) adds:
// - an rpath to the libtorch folder torch-sys found (its `links = "tch"` metadata, seen here as
//   DEP_TCH_LIBTORCH_LIB because torch-sys is a direct dependency), so binaries start without
//   LD_LIBRARY_PATH;
// - `--no-as-needed -ltorch`, so that libtorch_cuda stays linked and CUDA is found on GPU machines
//   although no symbol of it is referenced directly.
fn link_libtorch_with_rpath() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(lib) => {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-ltorch");
        }
        Err(_) => println!(
            "cargo:warning=torch-sys reported no libtorch folder; binaries will need LD_LIBRARY_PATH \
             (build through ./test.sh or ./run.sh, which set up PyTorch 2.13.0)"
        ),
    }
}
