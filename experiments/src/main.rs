//! The `verdant` binary: a thin layer over its library, `verdant_experiments`.

fn main() -> std::process::ExitCode {
    verdant_experiments::main()
}
