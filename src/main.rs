//! The same harness as `cargo test --test perf`, as a standalone binary: handy where cargo
//! is not at hand, and what the project's own tests run as a subprocess.

fn main() -> std::process::ExitCode {
    perfcase::harness::main()
}
