//! Ctrl-C or a CI job's cancellation must not leave a managed server running or lose the
//! results so far: on SIGINT/SIGTERM the harness stops its targets, writes the artifacts of
//! the cases that finished, and exits.

use std::sync::Arc;

use super::{Runner, stop_targets};
use crate::target::Target;

pub fn install(runner: &Arc<Runner>, targets: Vec<Arc<Target>>) {
    let handler_runner = Arc::clone(runner);
    runner.runtime().spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let code = tokio::select! {
            _ = interrupt.recv() => 130,
            _ = terminate.recv() => 143,
        };
        eprintln!(
            "\nperfcase: interrupted; stopping targets (a few seconds) and writing the results so far"
        );
        stop_targets(&targets, handler_runner.redactor());
        if let Err(e) = handler_runner.write_artifacts() {
            eprintln!("perfcase: could not write artifacts: {e}");
        }
        std::process::exit(code);
    });
}
