//! Run settings. libtest-mimic rejects flags it does not know, so everything the harness
//! itself needs comes from environment variables, read here and nowhere else.

use std::path::PathBuf;

use crate::store::baselines::{UpdateMode, is_ci};

#[derive(Debug, Clone)]
pub struct Config {
    /// `PERFCASE_SCENARIOS`: folder searched for `*.toml` scenario files.
    pub scenario_root: PathBuf,
    /// `PERFCASE_OUT`: where artifacts go.
    pub out_dir: PathBuf,
    /// `PERFCASE_SUITE`: name of a suite file to apply, if any.
    pub suite: Option<String>,
    /// `PERFCASE_SUITES`: folder of suite files.
    pub suites_dir: PathBuf,
    /// `PERFCASE_BASELINES`: folder of stored baselines, `<scenario>.json` each.
    pub baselines_dir: PathBuf,
    /// `CI`: set by CI services; decides the default update mode and whether a missing
    /// baseline fails.
    pub ci: bool,
    /// `PERFCASE_UPDATE`: what a run writes of its baselines; a bad value is kept as its
    /// message, which every baseline case reports.
    pub update: Result<UpdateMode, String>,
    /// This run's id: nextest's, shared by its processes, else one of this process. What a
    /// run writes for review is told apart from what an earlier run left by it.
    pub run_id: String,
    /// `NEXTEST_RUN_ID`: set by cargo-nextest, which runs each case in a process of its own.
    pub nextest_run_id: Option<String>,
}

impl Config {
    pub fn from_env() -> Config {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let ci = is_ci(var("CI").as_deref());
        Config {
            scenario_root: var("PERFCASE_SCENARIOS")
                .unwrap_or_else(|| "scenarios".into())
                .into(),
            out_dir: var("PERFCASE_OUT")
                .unwrap_or_else(|| "target/perfcase".into())
                .into(),
            suite: var("PERFCASE_SUITE"),
            suites_dir: var("PERFCASE_SUITES")
                .unwrap_or_else(|| "suites".into())
                .into(),
            baselines_dir: var("PERFCASE_BASELINES")
                .unwrap_or_else(|| "baselines".into())
                .into(),
            ci,
            update: UpdateMode::parse(var("PERFCASE_UPDATE").as_deref(), ci)
                .map_err(|e| e.to_string()),
            run_id: var("NEXTEST_RUN_ID").unwrap_or_else(process_run_id),
            nextest_run_id: var("NEXTEST_RUN_ID"),
        }
    }
}

/// An id no other run on this machine has: the process id and the time it started.
fn process_run_id() -> String {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}", std::process::id(), since_epoch.as_nanos())
}
