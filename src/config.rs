//! Run settings. libtest-mimic rejects flags it does not know, so everything the harness
//! itself needs comes from environment variables, read here and nowhere else.

use std::path::PathBuf;

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
    /// `NEXTEST_RUN_ID`: set by cargo-nextest, which runs each case in a process of its own.
    pub nextest_run_id: Option<String>,
}

impl Config {
    pub fn from_env() -> Config {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
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
            nextest_run_id: var("NEXTEST_RUN_ID"),
        }
    }
}
