//! The entry point `tests/perf.rs` calls: load, list or run, then report.

use std::process::ExitCode;

use crate::args::Args;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::runner::{Runner, signals, stop_targets};

pub fn main() -> ExitCode {
    let args = Args::from_env();
    // libtest-mimic would wait forever for a free thread; libtest refuses it.
    if args.libtest.test_threads == Some(0) {
        eprintln!("perfcase: error: --test-threads must be at least 1");
        return ExitCode::FAILURE;
    }
    let config = Config::from_env();
    let catalog = Catalog::load(&config);
    let runner = Runner::new(config.clone(), catalog.redactor.clone());
    report_disabled_targets(&catalog.targets);
    let trials = runner.trials(catalog.cases, &args);
    if args.libtest.list {
        return libtest_mimic::run(&args.libtest, trials).exit_code();
    }
    signals::install(&runner, catalog.targets.clone());
    // libtest-mimic panics when it cannot print (stdout piped into `head`, say); the
    // targets must still be stopped and the artifacts written, with unfinished cases.
    let conclusion = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        libtest_mimic::run(&args.libtest, trials)
    }));
    // A signal's handler that came first is stopping the targets and writing; it exits.
    if !runner.claim_end() {
        signals::await_exit();
    }
    stop_targets(&catalog.targets);
    match runner.write_artifacts() {
        Ok(junit) => eprintln!(
            "perfcase: {} recorded; artifacts in {} ({})",
            plural(runner.record_count(), "case"),
            config.out_dir.display(),
            junit.display()
        ),
        Err(e) => {
            eprintln!(
                "perfcase: could not write artifacts to {}: {e}",
                config.out_dir.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let hidden = runner.hidden_load_errors();
    for error in &hidden {
        eprintln!("perfcase: error: {error}");
    }
    match conclusion {
        Ok(_) if !hidden.is_empty() => {
            eprintln!(
                "perfcase: failing the run: a file that does not load would otherwise drop its checks without a word; fix what the error says"
            );
            ExitCode::FAILURE
        }
        Ok(conclusion) => conclusion.exit_code(),
        Err(_) => ExitCode::from(101),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Statically ignored cases print a bare "ignored"; say once per target why.
fn report_disabled_targets(targets: &[std::sync::Arc<crate::target::Target>]) {
    for target in targets {
        if let Some(reason) = &target.disabled_reason {
            eprintln!(
                "perfcase: ignoring the cases of scenario {}: {reason}",
                target.scenario
            );
        }
    }
}
