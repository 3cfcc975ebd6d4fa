//! Variables for interpolation: the process environment over a suite's defaults, plus
//! `PERFCASE_FREE_PORT`, a free local port chosen per scenario file, so that managed
//! servers started by parallel processes (cargo-nextest) never fight over a port.

use std::cell::OnceCell;
use std::collections::BTreeMap;

pub const FREE_PORT: &str = "PERFCASE_FREE_PORT";

pub struct Env {
    suite: BTreeMap<String, String>,
}

impl Env {
    pub fn new(suite: BTreeMap<String, String>) -> Env {
        Env { suite }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.suite.get(name).cloned())
    }

    /// The suite variables not overridden by the process environment, for child processes
    /// (which inherit the process environment anyway). An empty variable counts as unset,
    /// as it does for interpolation, so both see the suite's value.
    pub fn suite_only(&self) -> BTreeMap<String, String> {
        self.suite
            .iter()
            .filter(|(name, _)| std::env::var_os(name).is_none_or(|v| v.is_empty()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A lookup for one file: the same free port every time that file asks for it.
    pub fn for_file(&self) -> impl Fn(&str) -> Option<String> + '_ {
        let port = OnceCell::new();
        move |name: &str| {
            if name == FREE_PORT && std::env::var_os(FREE_PORT).is_none() {
                return port.get_or_init(free_port).clone();
            }
            self.get(name)
        }
    }
}

/// Asks the OS for an unused port. Another process could take it before the server binds
/// it; the window is short and the start failure would name the port.
fn free_port() -> Option<String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port().to_string())
        .ok()
}
