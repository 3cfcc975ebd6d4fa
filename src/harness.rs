//! The entry point `tests/perf.rs` calls: load, list or run, then report.

use std::process::ExitCode;

use libtest_mimic::Arguments;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::runner::{Runner, signals, stop_targets};

pub fn main() -> ExitCode {
    let args = Arguments::from_args();
    let config = Config::from_env();
    let catalog = Catalog::load(&config);
    let runner = Runner::new(config.clone(), catalog.redactor.clone());
    let trials = runner.trials(catalog.cases, &args);
    if args.list {
        return libtest_mimic::run(&args, trials).exit_code();
    }
    signals::install(&runner, catalog.targets.clone());
    let conclusion = libtest_mimic::run(&args, trials);
    stop_targets(&catalog.targets, &catalog.redactor);
    match runner.write_artifacts() {
        Ok(junit) => eprintln!(
            "perfcase: {} cases recorded; artifacts in {} ({})",
            runner.record_count(),
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
    conclusion.exit_code()
}
