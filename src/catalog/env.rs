//! Variables for interpolation: the process environment over a suite's defaults, plus two
//! set per scenario file: `PERFCASE_FREE_PORT`, a free local port, so that managed servers
//! started by parallel processes (cargo-nextest) never fight over a port; and
//! `PERFCASE_SCENARIO_DIR`, the file's folder as an absolute path, so that a spawn command
//! finds the files shipped beside its scenario from whatever folder the harness runs in.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::Path;

pub const FREE_PORT: &str = "PERFCASE_FREE_PORT";
pub const SCENARIO_DIR: &str = "PERFCASE_SCENARIO_DIR";

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

    /// A lookup for one file: the same free port every time that file asks for it, and the
    /// file's own folder.
    pub fn for_file<'a>(&'a self, file: &Path) -> impl Fn(&str) -> Option<String> + 'a {
        let port = OnceCell::new();
        let folder = scenario_dir(file);
        move |name: &str| {
            if name == FREE_PORT && std::env::var_os(FREE_PORT).is_none() {
                return port.get_or_init(free_port).clone();
            }
            if name == SCENARIO_DIR {
                return folder.clone();
            }
            self.get(name)
        }
    }
}

/// The absolute folder of a scenario file; `None` (so `${PERFCASE_SCENARIO_DIR}` is an
/// error naming it) when the path is not valid UTF-8 or the working folder is gone.
fn scenario_dir(file: &Path) -> Option<String> {
    let folder = std::path::absolute(file).ok()?.parent()?.to_path_buf();
    folder.to_str().map(str::to_string)
}

/// Asks the OS for an unused port. Another process could take it before the server binds
/// it; the window is short and the start failure would name the port.
fn free_port() -> Option<String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port().to_string())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_folder_is_the_files_own_and_absolute() {
        let env = Env::new(BTreeMap::new());
        let vars = env.for_file(Path::new("scenarios/x.toml"));
        let folder = vars(SCENARIO_DIR).expect("a folder");
        assert!(Path::new(&folder).is_absolute(), "{folder}");
        assert!(folder.ends_with("/scenarios"), "{folder}");
    }
}
