//! The `tack` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    tack::cli::main()
}
