//! Links test and example binaries of this crate so that they find libtorch without
//! LD_LIBRARY_PATH, and keeps libtorch's CUDA part linked (see experiments/build.rs).
include!("../experiments/torch_rpath.rs");

fn main() {
    link_libtorch_with_rpath();
}
