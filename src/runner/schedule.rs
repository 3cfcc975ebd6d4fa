//! Which cases may overlap. Smoke checks run beside anything. Cases that measure timing
//! take their server's lock, so two of them never measure each other: a server that
//! serves one generation at a time (Ollama's default) would otherwise add the first
//! case's whole generation to the second case's time to first token, and even a server
//! that serves them together shares its compute between them. A target declared with
//! `measure_concurrently = true` opts out, for servers meant to be measured under load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::catalog::Schedule;
use crate::target::Target;

/// One lock per server (scheme, host and port), shared by every target that names it: two
/// scenario files pointing at one server must not measure each other either.
#[derive(Default)]
pub struct Scheduler {
    servers: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// Held while a case runs; dropping it lets the next measuring case of the server start.
pub struct Turn {
    lock: Option<Arc<Mutex<()>>>,
}

impl Scheduler {
    /// The lock a case of this schedule must hold against this target, if any.
    pub fn turn(&self, schedule: Schedule, target: &Target) -> Turn {
        let lock = match schedule {
            Schedule::Parallel => None,
            Schedule::MeasuresTarget if target.measure_concurrently => None,
            Schedule::MeasuresTarget => {
                let server = target.base_url.origin().ascii_serialization();
                let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
                Some(servers.entry(server).or_default().clone())
            }
        };
        Turn { lock }
    }
}

impl Turn {
    /// Waits for the server's lock (at once for a case that needs none).
    pub fn wait(&self) -> Option<MutexGuard<'_, ()>> {
        self.lock
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
