//! Finding scenario files, applying a suite, and expanding every check into a named case.
//!
//! This is the one place where the file system meets the pure parser: it reads files,
//! resolves schema files next to them, and turns every failure into a `load::` case so
//! that one broken file never hides the others.

pub mod case;
pub mod env;
pub mod expand;
pub mod naming;
pub mod requires;
pub mod schema;
pub mod suite;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::scenario::diagnostic::SourceFile;
use crate::scenario::{ScenarioDoc, TargetSpec, parse_scenario};
use crate::target::{Managed, Redactor, Secret, Target};
pub use case::{Case, CaseBody, InferenceSpec, Schedule, SmokeSpec, Spec};
use env::Env;
use expand::{FileScope, expand};
pub use naming::scenario_name;
use suite::Suite;

use crate::scenario::baseline::RegressionDefaults;

pub struct Catalog {
    pub cases: Vec<Case>,
    pub targets: Vec<Arc<Target>>,
    pub redactor: Redactor,
}

impl Catalog {
    pub fn load(config: &Config) -> Catalog {
        let mut catalog = Catalog {
            cases: Vec::new(),
            targets: Vec::new(),
            redactor: Redactor::default(),
        };
        let mut secrets = Vec::new();
        let (suite, globs) = match &config.suite {
            None => (None, Vec::new()),
            Some(name) => match load_suite(config, name) {
                Ok((suite, globs)) => (Some(suite), globs),
                Err((file, message)) => {
                    catalog
                        .cases
                        .push(load_error_case(format!("suite::{name}"), file, message));
                    return catalog;
                }
            },
        };
        let env = Env::new(suite.as_ref().map(|s| s.env.clone()).unwrap_or_default());
        let files = match find_scenarios(&config.scenario_root) {
            Ok(files) => files,
            Err(message) => {
                catalog.cases.push(load_error_case(
                    "scenarios".into(),
                    config.scenario_root.clone(),
                    message,
                ));
                return catalog;
            }
        };
        let selected = files
            .into_iter()
            .filter(|relative| globs.is_empty() || globs.iter().any(|g| g.matches_path(relative)));
        for (scenario, relatives) in by_scenario_name(selected) {
            let file = config.scenario_root.join(&relatives[0]);
            if relatives.len() > 1 {
                let message = same_name_message(&config.scenario_root, &scenario, &relatives);
                catalog.cases.push(load_error_case(scenario, file, message));
                continue;
            }
            let defaults = suite.as_ref().map(|s| s.regression).unwrap_or_default();
            match load_file(config, &env, &defaults, &scenario, &file) {
                Ok(loaded) => {
                    secrets.extend(loaded.secrets);
                    catalog.targets.push(loaded.target);
                    catalog.cases.extend(
                        loaded
                            .cases
                            .into_iter()
                            .filter(|c| suite.as_ref().is_none_or(|s| s.selects_kind(c.kind()))),
                    );
                }
                Err(message) => {
                    catalog.cases.push(load_error_case(scenario, file, message));
                }
            }
        }
        // One redactor for the whole run: a secret of one scenario is masked wherever it
        // shows up, in another scenario's server log too.
        catalog.redactor = Redactor::new(&secrets);
        catalog
    }
}

/// Groups files by the scenario name they map to, in name order. `a/b.toml` and
/// `a::b.toml` map to one name, and so would give cases of the same names.
fn by_scenario_name(files: impl Iterator<Item = PathBuf>) -> BTreeMap<String, Vec<PathBuf>> {
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for relative in files {
        groups
            .entry(scenario_name(&relative))
            .or_default()
            .push(relative);
    }
    groups
}

fn same_name_message(root: &Path, scenario: &str, relatives: &[PathBuf]) -> String {
    let files: Vec<String> = relatives
        .iter()
        .map(|r| root.join(r).display().to_string())
        .collect();
    format!(
        "{} all map to the scenario name \"{scenario}\" (a folder separator and `::` both become `::`), so their cases would share names: rename all but one; none of them is run",
        files.join(" and ")
    )
}

fn load_error_case(scenario: String, file: PathBuf, message: String) -> Case {
    Case::load_error(scenario, Arc::new(SourceFile::unread(&file)), message)
}

fn load_suite(
    config: &Config,
    name: &str,
) -> Result<(Suite, Vec<glob::Pattern>), (PathBuf, String)> {
    let file = config.suites_dir.join(format!("{name}.toml"));
    let source = std::fs::read_to_string(&file).map_err(|e| {
        (
            file.clone(),
            format!(
                "{}: cannot read suite \"{name}\": {e}; PERFCASE_SUITE names a file in {} (there: {})",
                file.display(),
                config.suites_dir.display(),
                suite_names(&config.suites_dir)
            ),
        )
    })?;
    Suite::parse(&source).map_err(|message| (file.clone(), format!("{}:{message}", file.display())))
}

/// The suites a folder offers, for the error that names a missing one.
fn suite_names(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|path| path.extension().is_some_and(|x| x == "toml"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    if names.is_empty() {
        "no suites".into()
    } else {
        names.join(", ")
    }
}

/// Every `*.toml` below the root, as sorted relative paths; hidden folders are skipped.
fn find_scenarios(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(root.join(&folder)).map_err(|e| {
            format!(
                "cannot read scenario folder {}: {e}; set PERFCASE_SCENARIOS to the folder holding your *.toml files",
                root.join(&folder).display()
            )
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let relative = folder.join(&name);
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                folders.push(relative);
            } else if relative.extension().is_some_and(|ext| ext == "toml") {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What one scenario file yields.
struct LoadedFile {
    target: Arc<Target>,
    /// To be masked wherever text leaves the harness.
    secrets: Vec<Secret>,
    cases: Vec<Case>,
}

fn load_file(
    config: &Config,
    env: &Env,
    regression: &RegressionDefaults,
    scenario: &str,
    file: &Path,
) -> Result<LoadedFile, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let source = utf8(&bytes).map_err(|e| format!("{}:{e}", file.display()))?;
    let vars = env.for_file(file);
    let doc = parse_scenario(source, &vars).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|e| format!("{}:{e}", file.display()))
            .collect();
        lines.join("\n")
    })?;
    let target = build_target(config, env, scenario, &doc, &vars)
        .map_err(|e| format!("{}: target: {e}", file.display()))?;
    let mut secrets = target_secrets(&doc.target, &target.base_url, &vars);
    let target = Arc::new(target);
    let file = Arc::new(SourceFile::new(file, source));
    let scope = FileScope {
        scenario,
        file: &file,
        target: &target,
        regression,
    };
    let expanded = expand(&scope, doc)?;
    secrets.extend(expanded.secrets);
    Ok(LoadedFile {
        target,
        secrets,
        cases: expanded.cases,
    })
}

/// The text of a file, or where its first byte that is not UTF-8 is (`line:col: ...`).
fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let prefix = std::str::from_utf8(valid).expect("valid up to here");
        let (line, col) = crate::scenario::diagnostic::line_col(prefix, prefix.len());
        format!(
            "{line}:{col}: not UTF-8 (byte 0x{:02x}): save the file as UTF-8",
            bytes[e.valid_up_to()]
        )
    })
}

/// The secrets of `[target]`: header values, the credentials and credential-like query
/// parameters of `base_url`, the spawn environment's values, and the values of the
/// variables it declares secret (those unset have none to mask).
fn target_secrets(
    spec: &TargetSpec,
    base_url: &url::Url,
    vars: &impl Fn(&str) -> Option<String>,
) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = spec.headers.values().cloned().map(Secret::Header).collect();
    secrets.extend(Secret::of_url(base_url));
    if let Some(spawn) = &spec.spawn {
        secrets.extend(spawn.env.values().cloned().map(Secret::Value));
    }
    for name in &spec.secrets {
        secrets.extend(vars(name.get_ref()).map(Secret::Value));
    }
    secrets
}

fn build_target(
    config: &Config,
    env: &Env,
    scenario: &str,
    doc: &ScenarioDoc,
    vars: &impl Fn(&str) -> Option<String>,
) -> Result<Target, String> {
    let spec = &doc.target;
    let unset = spec
        .enabled_if
        .as_deref()
        .filter(|var| vars(var).is_none_or(|v| v.is_empty()));
    let disabled_reason = match unset {
        Some(var) => Some(format!(
            "target of scenario {scenario} is optional: set {var} to run"
        )),
        None => requires::missing(
            scenario,
            &spec.requires,
            std::env::var_os("PATH").as_deref(),
        ),
    };
    let base_url = url::Url::parse(spec.base_url.get_ref()).map_err(|e| e.to_string())?;
    let managed = spec.spawn.as_ref().map(|spawn| {
        let mut spawn_env: BTreeMap<String, String> = env.suite_only();
        spawn_env.extend(spawn.env.clone());
        Managed::new(
            format!("managed target of scenario {scenario}"),
            spawn.command.get_ref().clone(),
            crate::target::join(&base_url, &spawn.ready_path),
            spawn.ready_timeout.0,
            spawn_env,
            log_path(config, scenario),
        )
    });
    Target::new(scenario.to_string(), spec, disabled_reason, managed).map_err(|e| e.to_string())
}

/// Under nextest every case is a process of its own with its own server: one log each.
fn log_path(config: &Config, scenario: &str) -> PathBuf {
    let stem = scenario.replace("::", "_");
    let name = match &config.nextest_run_id {
        Some(_) => format!("{stem}-{}.log", std::process::id()),
        None => format!("{stem}.log"),
    };
    config.out_dir.join("targets").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(b"ok = 1\n", None)]
    #[case(b"a = 1\nb = \"\xff\"\n", Some("2:6: not UTF-8 (byte 0xff)"))]
    #[case(b"\xc3", Some("1:1: not UTF-8 (byte 0xc3)"))]
    #[case(b"\xc3\xa9 = 1\n\xc3\xa9\xfe", Some("2:2: not UTF-8 (byte 0xfe)"))]
    fn utf8_errors_say_where(#[case] bytes: &[u8], #[case] error: Option<&str>) {
        match (utf8(bytes), error) {
            (Ok(_), None) => {}
            (Err(e), Some(expected)) => assert!(e.starts_with(expected), "{e}"),
            (result, _) => panic!("{result:?}"),
        }
    }

    #[test]
    fn files_that_map_to_one_scenario_name_are_grouped() {
        let files = ["a/b.toml", "a::b.toml", "c.toml"].map(PathBuf::from);
        let groups = by_scenario_name(files.into_iter());
        assert_eq!(
            groups["a::b"],
            [PathBuf::from("a/b.toml"), PathBuf::from("a::b.toml")]
        );
        assert_eq!(groups["c"], [PathBuf::from("c.toml")]);
    }

    const LOCAL: &str = "http://127.0.0.1:1";

    fn vars(name: &str) -> Option<String> {
        (name == "API_KEY").then(|| "k-from-env".to_string())
    }

    #[rstest]
    #[case::headers(LOCAL, "headers = { Authorization = \"Bearer t-1\" }\n", &[Secret::Header("Bearer t-1".into())])]
    #[case::url_credentials_and_query(
        "http://u:pw-1@127.0.0.1:1/?token=t-1",
        "",
        &[
            Secret::UrlCredentials { user: "u".into(), password: Some("pw-1".into()) },
            Secret::Value("t-1".into()),
            Secret::Value("t-1".into()),
        ]
    )]
    #[case::declared_variables(LOCAL, "secrets = [\"API_KEY\", \"UNSET\"]\n", &[Secret::Value("k-from-env".into())])]
    #[case::spawn_env(
        LOCAL,
        "[target.spawn]\ncommand = \"srv\"\nenv = { HF_TOKEN = \"hf-1\" }\n",
        &[Secret::Value("hf-1".into())]
    )]
    fn the_secrets_of_a_target(
        #[case] base_url: &str,
        #[case] lines: &str,
        #[case] expected: &[Secret],
    ) {
        let text = format!("[target]\nbase_url = \"{base_url}\"\n{lines}");
        let doc = parse_scenario(&text, &vars).unwrap();
        let base_url = url::Url::parse(base_url).unwrap();
        assert_eq!(target_secrets(&doc.target, &base_url, &vars), expected);
    }
}
