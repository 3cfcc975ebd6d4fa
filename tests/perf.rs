//! `cargo test --test perf`: every check of every scenario file as a named test case.
//! Everything lives in the library; see the README for filters and environment variables.

fn main() -> std::process::ExitCode {
    perfcase::harness::main()
}
