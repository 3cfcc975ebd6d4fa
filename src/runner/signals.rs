//! Ctrl-C, a CI job's cancellation or a closed terminal must not leave a managed server
//! running or lose the results so far: on SIGINT, SIGTERM or SIGHUP the harness stops its
//! targets, writes the artifacts of the cases so far (the unfinished ones as errors), and
//! exits with 128 + the signal's number. SIGHUP is left alone when the harness started with
//! it ignored (under `nohup`). SIGKILL cannot be handled: the managed targets' watchdogs
//! stop the servers then (see `target::managed`), and no artifacts are written.

use std::io::Write;
use std::sync::Arc;

use super::{Runner, stop_targets};
use crate::target::Target;

pub fn install(runner: &Arc<Runner>, targets: Vec<Arc<Target>>) {
    let handler_runner = Arc::clone(runner);
    runner.runtime().spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        // Under `nohup` SIGHUP stays ignored: listening would install a handler over that.
        let hangup = (!ignored_at_start(libc::SIGHUP)).then(|| signal(SignalKind::hangup()));
        let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            hangup.transpose(),
        ) else {
            return;
        };
        let (name, code) = tokio::select! {
            _ = interrupt.recv() => ("interrupted", 130),
            _ = terminate.recv() => ("terminated", 143),
            Some(_) = async { hangup.as_mut()?.recv().await } => ("hung up", 129),
        };
        if !handler_runner.claim_end() {
            // The run is over: the end of `main` is stopping the targets and writing.
            return;
        }
        say(&format!(
            "\nperfcase: {name}; stopping targets (a few seconds) and writing the results so far"
        ));
        // Both wait (for servers to exit, on the disk), so a blocking thread does them, not
        // a runtime worker.
        let written = tokio::task::spawn_blocking(move || {
            stop_targets(&targets);
            handler_runner.write_artifacts()
        })
        .await;
        match written {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => say(&format!("perfcase: could not write artifacts: {e}")),
            Err(e) => say(&format!("perfcase: stopping the targets failed: {e}")),
        }
        std::process::exit(code);
    });
}

/// Where the end of `main` waits when a signal's handler has claimed the end of the run:
/// the handler exits the process, with the signal's code, once it has written.
pub fn await_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// Whether the harness started with `signal` ignored, as `nohup` starts it with SIGHUP.
fn ignored_at_start(signal: libc::c_int) -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: with a null new action, sigaction(2) only writes the current one to `current`,
    // which is read only when it succeeded.
    unsafe {
        libc::sigaction(signal, std::ptr::null(), current.as_mut_ptr()) == 0
            && current.assume_init().sa_sigaction == libc::SIG_IGN
    }
}

/// Prints to stderr, ignoring failure: after SIGHUP the terminal may be gone, and a failed
/// write (which `eprintln!` turns into a panic) must not keep the run from ending.
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
