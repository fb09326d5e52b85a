//! Links the fuzz targets and the corpus test so that they find libtorch without
//! LD_LIBRARY_PATH (see experiments/build.rs).
include!("../experiments/torch_rpath.rs");

fn main() {
    link_libtorch_with_rpath();
}
